#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-dots.sh), most important first so that a call cut short
# still reports: gemm_bf16 / gemm_fp8 built per op with cp.async rings (automatic depth and 4) validated at a partial and
# at 4096^3 and benchmarked next to the register-staged build, cuBLAS at the same shapes (peers.py), then
# every corpus kernel whose dot is lowered per op (ring kernels at a partial and a large shape,
# memcheck on two; the rest at the partial shape), the FP8 attention per op with MMA-first layouts
# next to SDPA, and every corpus kernel whose layouts MMA-first propagation
# changes, built with it. Writes $OUT/dots.txt and $OUT/peers.jsonl.
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
for b in paths/gemm_*.perop paths/gemm_*.perop-s4; do
  n=$(basename "$b")
  val "$n" "$b" partial --dim M=100 --dim N=704 --dim K=320
  val "$n" "$b" large $BIG
done
for b in paths/gemm_*; do
  echo "$(basename "$b") $(timeout 60 $R bench "$b" $BIG 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-160)" >> "$log"
done
# The FP8 attention per op with MMA-first layouts (validated), next to the build with the default
# passes, non-causal and causal, and SDPA.
A="--dim BH=16 --dim S=4096"
val attention_fp8.perop-mma paths/attention_fp8.perop-mma partial --dim BH=2 --dim S=200 --scalar causal=0
val attention_fp8.perop-mma paths/attention_fp8.perop-mma large $A --scalar causal=0
val attention_fp8.perop-mma paths/attention_fp8.perop-mma causal $A --scalar causal=1
for b in paths/attention_fp8.*; do
  for c in 0 1; do
    echo "$(basename "$b") causal=$c $(timeout 60 $R bench "$b" $A --scalar causal=$c 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-160)" >> "$log"
  done
done
printf 'gemm_bf16 4096 4096 4096\ngemm_fp8 4096 4096 4096\n' > peer-cases.txt
timeout 90 python3 peers.py peer-cases.txt "$O/peers.jsonl" > /dev/null 2>&1 || echo "peers rc $?" >> "$log"
timeout 60 python3 - >> "$log" 2>&1 <<'PY'
import torch
from triton.testing import do_bench
for causal in (False, True):
    q, k, v = (torch.randn(16, 1, 4096, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    ms = do_bench(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal), return_mode="median")
    print(f"peer sdpa bf16 16x4096x128 causal={causal}: {ms*1e3:.1f} us")
PY
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
# Every corpus kernel whose layouts MMA-first propagation changes, built with it.
while IFS='|' read -r n s l; do
  val "$n.mma" "mma/$n" partial $s
  val "$n.mma" "mma/$n" large $l
done < mma/cases.txt
for n in attention_bf16_d64 reduce_cols; do
  [ -d "mma/$n" ] || continue
  s=$(grep "^$n|" mma/cases.txt | cut -d'|' -f2)
  mc=$(timeout 60 compute-sanitizer --tool memcheck $R run "mma/$n" $s --seed 7 2>&1)
  printf '%-28s memcheck %s\n' "$n.mma" "$(echo "$mc" | grep -m1 'ERROR SUMMARY')" >> "$log"
done
echo "done" >> "$log"
cat "$log"
