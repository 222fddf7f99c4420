#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-fp4.sh): the FP4 GEMMs staged as bf16 (MXFP4 x bf16,
# NVFP4) per op, timed at the decode and large shapes docs/PERFORMANCE.md records after validating
# them (partial tiles, a partial K tile, NVFP4's K = 208, large; memcheck). (Until session 11 it also
# timed the GEMM mainloop's builds, since removed.) Writes $OUT/fp4-bf16.txt.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
out=${OUT:-.}/fp4-bf16.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out" 2>&1
d() { echo "--dim M=$1 --dim N=$2 --dim K=$3"; }
for k in gemm_mxfp4_bf16 gemm_nvfp4 gemm_nvfp4_residual; do
  for s in "70 96 256" "130 136 96" "70 96 208" "3000 2048 1024"; do
    res=$(timeout 120 $R validate "fp4/$k.new" $(d $s) --seed 17 2>&1); rc=$?
    echo "$k.new validate $s rc=$rc $(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-300)" >> "$out"
  done
  mc=$(timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $R run "fp4/$k.new" $(d 130 136 96) --seed 17 2>&1)
  echo "$k.new memcheck $(echo "$mc" | grep -m1 -E 'ERROR SUMMARY|error\[')" >> "$out"
done
for s in "16 8192 8192" "64 8192 8192" "4096 4096 4096" "8192 8192 8192"; do
  b=gemm_mxfp4_bf16.new
  echo "$b $s $(timeout 120 $R bench "fp4/$b" $(d $s) 2>&1 | tail -1 | cut -c1-200)" >> "$out"
done
b=gemm_nvfp4.new
echo "$b 4096 $(timeout 120 $R bench "fp4/$b" $(d 4096 4096 4096) 2>&1 | tail -1 | cut -c1-200)" >> "$out"
cat "$out"
