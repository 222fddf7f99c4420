#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-attention.sh): see there. Writes $OUT/attention.txt.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
log=${OUT:-.}/attention.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$log" 2>&1
val() { # label bundle dims...
  local n=$1 b=$2; shift 2
  res=$(timeout 90 $R validate "$b" "$@" --seed 31 2>&1); rc=$?
  echo "$n rc=$rc $(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-300)" >> "$log"
}
A="--dim BH=16 --dim S=4096"
for c in 0 1; do
  echo "attention_fp8 causal=$c $(timeout 60 $R bench x/attention_fp8 $A --scalar causal=$c 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-160)" >> "$log"
done
timeout 60 python3 - >> "$log" 2>&1 <<'PY'
import torch
from triton.testing import do_bench
for d in (128, 64):
    for causal in (False, True):
        q, k, v = (torch.randn(16, 1, 4096, d, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        ms = do_bench(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal), return_mode="median")
        print(f"peer sdpa bf16 16x4096x{d} causal={causal}: {ms*1e3:.1f} us")
PY
for c in 0 1; do
  echo "attention_bf16_d64 causal=$c $(timeout 60 $R bench x/attention_bf16_d64 $A --scalar causal=$c 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-160)" >> "$log"
  echo "attention_bf16_d128_4d causal=$c $(timeout 60 $R bench x/attention_bf16_d128_4d --dim B=4 --dim H=4 --dim S=4096 --scalar causal=$c 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-160)" >> "$log"
done
M="--dim T=3000 --dim K=1024 --dim E=8 --dim I=512 --dim P=3000"
for b in x/moe_mxfp8.base x/moe_mxfp8.async; do
  echo "$(basename "$b") $(timeout 60 $R bench "$b" $M 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-160)" >> "$log"
done
while IFS='|' read -r n s l; do
  for c in 0 1; do
    val "$n partial causal=$c" "x/$n" $s --scalar causal=$c
    val "$n large causal=$c" "x/$n" $l --scalar causal=$c
  done
  mc=$(timeout 90 compute-sanitizer --tool memcheck $R run "x/$n" $s --scalar causal=1 --seed 31 2>&1)
  echo "$n memcheck $(echo "$mc" | grep -m1 -E 'ERROR SUMMARY|error')" >> "$log"
done < x/cases.txt
echo done >> "$log"
cat "$log"
