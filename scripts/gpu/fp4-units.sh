#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-fp4-units.sh). Writes $OUT/fp4-units.txt.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
out=${OUT:-.}/fp4-units.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out" 2>&1
d() { echo "--dim M=$1 --dim N=$2 --dim K=$3"; }
for k in gemm_mxfp4_bf16 gemm_mxfp4_fp8 gemm_nvfp4 gemm_dequant_explicit gemm_dequant_fp4_blocks \
         lang_gemm_mxfp4_fp8 gemm_nvfp4_residual; do
  for s in "70 96 256" "130 136 96" "70 96 208" "3000 2048 1024"; do
    res=$(timeout 120 $R validate "u/$k.new" $(d $s) --seed 23 2>&1); rc=$?
    echo "$k.new validate $s rc=$rc $(echo "$res" | grep -E '^validate \||error' | tail -1 | cut -c1-240)" >> "$out"
  done
  mc=$(timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $R run "u/$k.new" $(d 130 136 96) --seed 23 2>&1)
  echo "$k.new memcheck $(echo "$mc" | grep -m1 -E 'ERROR SUMMARY|error\[')" >> "$out"
done
for s in "16 8192 8192" "64 8192 8192" "4096 4096 4096" "8192 8192 8192" "100 704 320"; do
  b=gemm_mxfp4_bf16.new
  echo "$b $s $(timeout 120 $R bench "u/$b" $(d $s) 2>&1 | tail -1 | cut -c1-160)" >> "$out"
done
for s in "16 8192 8192" "4096 4096 4096"; do
  for b in gemm_mxfp4_fp8.new gemm_nvfp4.new gemm_dequant_explicit.new; do
    echo "$b $s $(timeout 120 $R bench "u/$b" $(d $s) 2>&1 | tail -1 | cut -c1-160)" >> "$out"
  done
done
cat "$out"
