#!/usr/bin/env bash
# Stage the default-build speed check for one device call (after scripts/gpu-conformance.sh, which
# builds the runner into .gpu/bin): every GEMM example and the corpus GEMMs with a recorded ratio,
# as they build by default (`.default`, per op), timed at docs/PERFORMANCE.md's shapes with the peers
# (cuBLAS, Triton) in the same call. (Until session 11 a GEMM whose default build was the GEMM
# mainloop also got a `.perop` build, `--no-schedules`; with the mainloop removed every default is
# per op.)
#   device run: carry [".gpu"], command `bash .gpu/defaults.sh`
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .gpu/bin/tessera-runner ] || { echo "run scripts/gpu-conformance.sh first" >&2; exit 2; }
cargo build --release -q -p tessera-cli
T=target/release/tessera
rm -rf .gpu/defaults && mkdir -p .gpu/defaults
for src in dsl_examples/gemm_bf16.tsr dsl_examples/gemm_fp8.tsr dsl_examples/gemm_mxfp8.tsr \
  dsl_examples/gemm_mxfp4_fp8.tsr dsl_examples/gemm_mxfp4_bf16.tsr dsl_examples/gemm_nvfp4.tsr \
  dsl_examples/gemm_dequant_explicit.tsr dsl_examples/gemm_fp8_blockscale.tsr \
  tests/conformance/gemm_fp8_blockscale_residual.tsr tests/conformance/gemm_bias_gelu_bf16.tsr \
  tests/conformance/gemm_fp8_rowcol_scale.tsr tests/conformance/gemm_mxfp8_silu.tsr \
  tests/conformance/gemm_dequant_fp4_blocks.tsr; do
  n=$(basename "$src" .tsr)
  $T build "$src" --target sm_90a -o ".gpu/defaults/$n.default" --report > ".gpu/defaults/$n.default.log" 2>&1
done
cp scripts/gpu/defaults.sh scripts/gpu/peers.py .gpu/
echo "staged $(ls -d .gpu/defaults/*/ | wc -l) bundles ($(du -sh .gpu | cut -f1) in .gpu)"
