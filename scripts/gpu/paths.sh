#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-paths.sh): validate the per-op builds of every
# dsl_example, bench every build at 4096^3 (attention: 16 x 4096, non-causal and causal), and the
# peers in the same call. Writes $OUT/paths.txt, $OUT/paths.jsonl, $OUT/peers.jsonl.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
O=${OUT:-.}
J=$O/paths.jsonl; : > "$J"
log=$O/paths.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$log" 2>&1
dims_of() { # name shape -> runner args
  case "$1:$2" in
    attention_fp8:partial) echo "--dim BH=2 --dim S=200 --scalar causal=0";;
    attention_fp8:large) echo "--dim BH=16 --dim S=4096 --scalar causal=0";;
    attention_fp8:causal) echo "--dim BH=16 --dim S=4096 --scalar causal=1";;
    gemm_fp8_blockscale:partial) echo "--dim M=100 --dim N=704 --dim K=384";;
    *:partial) echo "--dim M=100 --dim N=704 --dim K=320";;
    *) echo "--dim M=4096 --dim N=4096 --dim K=4096";;
  esac
}
for b in paths/*/; do
  b=${b%/}; n=$(basename "$b"); k=${n%.*}; how=${n##*.}
  if [ "$how" != sched ]; then
    for shape in partial large; do
      res=$(timeout 120 $R validate "$b" $(dims_of "$k" "$shape") --seed 7 2>&1); rc=$?
      echo "$n $shape rc=$rc $(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-330)" >> "$log"
    done
  fi
  shapes="large"; [ "$k" = attention_fp8 ] && shapes="large causal"
  for shape in $shapes; do
    res=$(timeout 120 $R bench "$b" $(dims_of "$k" "$shape") --iters 50 --warmup 10 --json "$J" 2>&1)
    echo "$n $shape $(echo "$res" | grep -E '^bench|error' | tail -1 | cut -c1-200)" >> "$log"
  done
done
printf 'gemm_bf16 4096 4096 4096\ngemm_fp8 4096 4096 4096\ngemm_mxfp8 4096 4096 4096\ngemm_mxfp4_fp8 4096 4096 4096\ngemm_mxfp4_bf16 4096 4096 4096\n' > peer-cases.txt
timeout 200 python3 peers.py peer-cases.txt "$O/peers.jsonl" > /dev/null 2>&1 || echo "peers rc $?" >> "$log"
python3 - >> "$log" 2>&1 <<'PY'
import torch
from triton.testing import do_bench
for causal in (False, True):
    q, k, v = (torch.randn(16, 1, 4096, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    ms = do_bench(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal), return_mode="median")
    print(f"peer sdpa bf16 16x4096x128 causal={causal}: {ms*1e3:.1f} us")
PY
cat "$log"
