#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-nvfp4.sh): validate the NVFP4 dots on bf16 wgmma at
# partial and large shapes (outputs poisoned), memcheck, and time them next to the f32 FMA build
# and the TMA mainloop. Writes $OUT/nvfp4.txt.
set -u
cd "$(dirname "$0")"
R=bin/tessera-runner
log=${OUT:-.}/nvfp4.txt
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$log" 2>&1
BIG="--dim M=4096 --dim N=4096 --dim K=4096"
for d in "--dim M=70 --dim K=256 --dim N=96" "--dim M=3000 --dim K=1024 --dim N=2048" "$BIG"; do
  for b in gemm_nvfp4.wgmma gemm_nvfp4_residual.wgmma; do
    echo "$b $(timeout 90 $R validate nv/$b $d --seed 19 2>&1 | grep -E '^validate|error' | tail -1 | cut -c1-300)" >> "$log"
  done
done
for b in gemm_nvfp4.wgmma gemm_nvfp4_residual.wgmma; do
  echo "$b memcheck $(timeout 90 compute-sanitizer --tool memcheck $R run nv/$b --dim M=70 --dim K=256 --dim N=96 --seed 19 2>&1 | grep -m1 'ERROR SUMMARY')" >> "$log"
done
for b in gemm_nvfp4.wgmma gemm_nvfp4.sched gemm_nvfp4_residual.wgmma gemm_nvfp4_residual.fma; do
  echo "$b $(timeout 90 $R bench nv/$b $BIG 2>&1 | grep -E '^bench|error' | tail -1 | cut -c1-160)" >> "$log"
done
echo done >> "$log"
cat "$log"
