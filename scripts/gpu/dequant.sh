#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-dequant.sh): the explicit-dequant GEMMs per op with the
# fold validated (partial tiles, a partial K tile, K not a multiple of 32, large; memcheck), then
# benchmarked (with and without the fold) at the shapes docs/PERFORMANCE.md records for the FP4
# GEMMs. Writes $OUT/dequant.txt.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
out=${OUT:-.}/dequant.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out" 2>&1
d() { echo "--dim M=$1 --dim N=$2 --dim K=$3"; }
for k in gemm_dequant_explicit gemm_dequant_fp4_blocks; do
  for s in "70 96 256" "130 136 96" "70 96 208" "3000 2048 1024"; do
    res=$(timeout 120 $R validate "dq/$k.new" $(d $s) --seed 17 2>&1); rc=$?
    echo "$k.new validate $s rc=$rc $(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-300)" >> "$out"
  done
  for s in "130 136 96" "70 96 208"; do
    mc=$(timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $R run "dq/$k.new" $(d $s) --seed 17 2>&1)
    echo "$k.new memcheck $s $(echo "$mc" | grep -m1 -E 'ERROR SUMMARY|error\[')" >> "$out"
  done
done
for s in "100 704 320" "4096 4096 4096" "16 8192 8192" "64 8192 8192" "8192 8192 8192"; do
  for b in gemm_dequant_explicit.new gemm_dequant_explicit.old gemm_mxfp4_bf16.new; do
    echo "$b $s $(timeout 120 $R bench "dq/$b" $(d $s) 2>&1 | tail -1 | cut -c1-200)" >> "$out"
  done
done
for b in gemm_dequant_fp4_blocks.new gemm_dequant_fp4_blocks.old; do
  echo "$b 4096 $(timeout 120 $R bench "dq/$b" $(d 4096 4096 4096) 2>&1 | tail -1 | cut -c1-200)" >> "$out"
done
cat "$out"
