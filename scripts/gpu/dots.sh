#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-dots.sh), most important first so that a call cut short
# still reports: gemm_bf16 / gemm_fp8 built per op with --async-copies (ring depth 4 and 3) validated at a partial and
# at 4096^3 and benchmarked next to the fast schedule, cuBLAS at the same shapes (peers.py), then
# every corpus kernel whose dot is lowered per op (ring kernels at a partial and a large shape,
# memcheck on two; the rest at the partial shape). Writes $OUT/dots.txt and $OUT/peers.jsonl.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
O=${OUT:-.}
log=$O/dots.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$log" 2>&1
val() { # name bundle shape-label dims...
  local n=$1 b=$2 l=$3; shift 3
  res=$(timeout 30 $R validate "$b" "$@" --seed 7 2>&1); rc=$?
  printf '%-28s %-8s rc=%s %s\n' "$n" "$l" "$rc" "$(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-300)" >> "$log"
}
BIG="--dim M=4096 --dim N=4096 --dim K=4096"
for b in paths/*.perop paths/*.perop-s3; do
  n=$(basename "$b")
  val "$n" "$b" partial --dim M=100 --dim N=704 --dim K=320
  val "$n" "$b" large $BIG
done
for b in paths/*; do
  echo "$(basename "$b") $(timeout 60 $R bench "$b" $BIG 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-160)" >> "$log"
done
printf 'gemm_bf16 4096 4096 4096\ngemm_fp8 4096 4096 4096\n' > peer-cases.txt
timeout 90 python3 peers.py peer-cases.txt "$O/peers.jsonl" > /dev/null 2>&1 || echo "peers rc $?" >> "$log"
ring=$(grep -l "cp.async ring" conformance/*/report.txt | xargs -n1 dirname | xargs -n1 basename)
while IFS='|' read -r n s l; do
  echo "$ring" | grep -qx "$n" || continue
  val "$n" "conformance/$n" partial $s
  val "$n" "conformance/$n" large $l
done < conformance/cases.txt
for n in gemm_residual_f16 gemm_int8; do
  s=$(grep "^$n|" conformance/cases.txt | cut -d'|' -f2)
  mc=$(timeout 60 compute-sanitizer --tool memcheck $R run "conformance/$n" $s --seed 7 2>&1)
  printf '%-28s memcheck %s\n' "$n" "$(echo "$mc" | grep -m1 'ERROR SUMMARY')" >> "$log"
done
while IFS='|' read -r n s l; do
  echo "$ring" | grep -qx "$n" && continue
  val "$n" "conformance/$n" partial $s
done < conformance/cases.txt
echo "done" >> "$log"
cat "$log"
