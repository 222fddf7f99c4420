#!/usr/bin/env bash
# Stage the scaled-GEMM comparison for the H200: each scaled GEMM example (and the corpus kernels
# with FP4 or f32 block scales) as it builds by default (`.default`) and on the Hopper mainloop
# (`.mainloop`: `--no-packed-fp4-staging --no-async-scaled-copies`), and f32 block-scale GEMMs per op
# (`.perop`: `--no-schedules`), validated and timed at the
# shapes docs/PERFORMANCE.md records, with the Triton / cuBLAS peers in the same call.
#   device run: carry [".gpu"], command `bash .gpu/scaled.sh`
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/gpu/stage.sh
stage_runner scaled
T=target/release/tessera
for src in dsl_examples/gemm_mxfp4_bf16.tsr dsl_examples/gemm_mxfp4_fp8.tsr dsl_examples/gemm_nvfp4.tsr \
           dsl_examples/gemm_fp8_blockscale.tsr dsl_examples/gemm_mxfp8.tsr dsl_examples/gemm_dequant_explicit.tsr \
           tests/conformance/gemm_fp8_blockscale_residual.tsr; do
  n=$(basename "$src" .tsr)
  $T build "$src" --target sm_90a -o ".gpu/scaled/$n.default" --force >/dev/null
  $T build "$src" --target sm_90a --no-packed-fp4-staging --no-async-scaled-copies -o ".gpu/scaled/$n.mainloop" --force >/dev/null
  case $n in *blockscale*) $T build "$src" --target sm_90a --no-schedules -o ".gpu/scaled/$n.perop" --force >/dev/null;; esac
done
cp scripts/gpu/scaled.sh scripts/gpu/peers.py .gpu/
echo "staged the scaled-GEMM comparison ($(du -sh .gpu | cut -f1) in .gpu)"
