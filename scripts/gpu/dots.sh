#!/usr/bin/env bash
# On the GPU machine: the kernels of the staged conformance corpus that contain a `dot` (partial and
# large shape), memcheck on a few, and the bf16/fp8 GEMM examples built three ways (.gpu/paths:
# sched, perop, perop64) validated and benchmarked at 4096^3. Writes $OUT/dots.txt.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
log=${OUT:-.}/dots.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$log" 2>&1
while IFS='|' read -r n s l; do
  grep -q "dot" "conformance/$n/kernel.tir" || continue
  for shape in partial large; do
    dims=$s; [ "$shape" = large ] && dims=$l
    res=$(timeout 60 $R validate "conformance/$n" $dims --seed 7 2>&1); rc=$?
    printf '%-28s %-8s rc=%s %s\n' "$n" "$shape" "$rc" "$(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-300)" >> "$log"
  done
  case "$n" in gemm_residual_f16|gemm_int8|swiglu_gemm_bf16|attention_bf16_d64|gemm_kn_alpha_beta)
    mc=$(timeout 60 compute-sanitizer --tool memcheck $R run "conformance/$n" $s --seed 7 2>&1)
    printf '%-28s memcheck %s\n' "$n" "$(echo "$mc" | grep -m1 'ERROR SUMMARY')" >> "$log";;
  esac
done < conformance/cases.txt
for b in paths/*; do
  n=$(basename "$b")
  for d in "--dim M=100 --dim N=704 --dim K=320" "--dim M=4096 --dim N=4096 --dim K=4096"; do
    res=$(timeout 60 $R validate "$b" $d --seed 7 2>&1); rc=$?
    echo "$n rc=$rc $(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-250)" >> "$log"
  done
  echo "$n $(timeout 60 $R bench "$b" --dim M=4096 --dim N=4096 --dim K=4096 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-160)" >> "$log"
  case "$n" in *perop*)
    mc=$(timeout 60 compute-sanitizer --tool memcheck $R run "$b" --dim M=100 --dim N=704 --dim K=320 --seed 7 2>&1)
    echo "$n memcheck $(echo "$mc" | grep -m1 'ERROR SUMMARY')" >> "$log";;
  esac
done
cat "$log"
