#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-tma-rings.sh): validate every .tma build (partial,
# large, and an odd row pitch that takes the cp.async path), memcheck the partial shape, and bench
# .tma / .cpasync at 4096^3 (the batched GEMM at Z=8 x 2048^2, swiglu at I=4096).
# Writes $OUT/tma.txt and $OUT/tma.jsonl.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
O=${OUT:-.}
log=$O/tma.txt; J=$O/tma.jsonl; : > "$J"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$log" 2>&1
while IFS='|' read -r n s l odd; do
  for shape in partial large odd; do
    dims=$s; [ "$shape" = large ] && dims=$l; [ "$shape" = odd ] && dims=$odd
    [ -z "$dims" ] && continue
    res=$(timeout 120 $R validate "tma/$n.tma" $dims --seed 7 2>&1); rc=$?
    printf '%-24s %-8s rc=%s %s\n' "$n" "$shape" "$rc" "$(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-300)" >> "$log"
  done
  if command -v compute-sanitizer >/dev/null; then
    mc=$(timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $R run "tma/$n.tma" $s --seed 7 2>&1)
    echo "$n memcheck $(echo "$mc" | grep -m1 -E 'ERROR SUMMARY' )" >> "$log"
    mc=$(timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $R run "tma/$n.tma" $odd --seed 7 2>&1)
    [ -n "$odd" ] && echo "$n memcheck-odd $(echo "$mc" | grep -m1 -E 'ERROR SUMMARY' )" >> "$log"
  fi
  case "$n" in
    gemm_batched_bf16) D="--dim Z=8 --dim M=2048 --dim N=2048 --dim K=2048";;
    swiglu_gemm_bf16) D="--dim M=4096 --dim I=4096 --dim K=4096";;
    *) D="--dim M=4096 --dim N=4096 --dim K=4096";;
  esac
  for how in tma cpasync; do
    res=$(timeout 120 $R bench "tma/$n.$how" $D --iters 50 --warmup 10 --json "$J" 2>&1)
    echo "$n.$how bench $(echo "$res" | grep -E '^bench|error' | tail -1 | cut -c1-200)" >> "$log"
  done
done < tma/cases.txt
cat "$log"
