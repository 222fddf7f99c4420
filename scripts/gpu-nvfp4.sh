#!/usr/bin/env bash
# Stage the check of `--nvfp4-wgmma` (experimental: per-op NVFP4 dots on bf16 wgmma) for one short
# device call (see docs/GPU-TESTING.md):
#   bash scripts/gpu-nvfp4.sh       # here: runner + gemm_nvfp4 and gemm_nvfp4_residual built with
#                                   # and without it, and gemm_nvfp4 on the mainloop
#   device run: carry [".gpu"], command `bash .gpu/nvfp4.sh`  -> $OUT/nvfp4.txt
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu && mkdir -p .gpu/bin .gpu/nv
cargo build --release -q -p tessera-runner -p tessera-cli
cp target/release/tessera-runner .gpu/bin/ && strip .gpu/bin/tessera-runner 2>/dev/null || true
T=target/release/tessera
"$T" build dsl_examples/gemm_nvfp4.tsr -o .gpu/nv/gemm_nvfp4.sched > /dev/null
"$T" build dsl_examples/gemm_nvfp4.tsr --no-schedules --nvfp4-wgmma -o .gpu/nv/gemm_nvfp4.wgmma > /dev/null
"$T" build tests/conformance/gemm_nvfp4_residual.tsr -o .gpu/nv/gemm_nvfp4_residual.fma > /dev/null
"$T" build tests/conformance/gemm_nvfp4_residual.tsr --nvfp4-wgmma -o .gpu/nv/gemm_nvfp4_residual.wgmma > /dev/null
cp scripts/gpu/nvfp4.sh .gpu/
echo "staged $(ls .gpu/nv | wc -l) bundles ($(du -sh .gpu | cut -f1))"
