#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-defaults.sh): time every staged build at
# docs/PERFORMANCE.md's shapes, then the peers at the same shapes in the same call. Writes
# $OUT/defaults.txt and $OUT/defaults-peers.jsonl.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
out=${OUT:-.}/defaults.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out" 2>&1
d() { echo "--dim M=$1 --dim N=$2 --dim K=$3"; }
shapes() { case $1 in
  *mxfp4*|*dequant*) echo "100 704 320|4096 4096 4096|8192 8192 8192|16 8192 8192";;
  *blockscale*) echo "100 704 384|4096 4096 4096";;
  gemm_bf16|gemm_fp8) echo "100 704 320|1000 1000 1024|4096 4096 4096|8192 8192 8192";;
  *) echo "100 704 320|4096 4096 4096";;
esac; }
: > cases.txt
for b in defaults/*/; do
  b=${b%/}; n=$(basename "$b"); k=${n%.*}
  IFS='|' read -ra ss <<<"$(shapes "$k")"
  for s in "${ss[@]}"; do
    echo "$n $s $(timeout 120 $R bench "$b" $(d $s) --iters 50 --warmup 10 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-200)" >> "$out"
    case $b in *.default) echo "$k $s" >> cases.txt;; esac
  done
done
timeout 300 python3 peers.py cases.txt ${OUT:-.}/defaults-peers.jsonl >> "$out" 2>&1
cat "$out"; cat ${OUT:-.}/defaults-peers.jsonl
