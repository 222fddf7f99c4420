#!/usr/bin/env bash
# Stage the scaled-GEMM check for the H200: each scaled GEMM example (and the corpus kernel with f32
# block scales) as it builds by default (`.default`, per op), validated and timed at the shapes
# docs/PERFORMANCE.md records, with the Triton / cuBLAS peers in the same call. (Until session 11 it
# also staged `.mainloop` and `.perop` builds to compare with the GEMM mainloop, since removed; both
# would now repeat a per-op build.)
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
done
cp scripts/gpu/scaled.sh scripts/gpu/peers.py .gpu/
echo "staged the scaled-GEMM check ($(du -sh .gpu | cut -f1) in .gpu)"
