#!/usr/bin/env bash
# Stage the packed-FP4 staging check after session 9's changes (several chunks of a row per thread
# with one block scale, bf16x2 multiplies): every FP4 GEMM per op (`.new`), validated and benchmarked
# in one call. (The session-9 run in docs/perf/fp4-units-2026-12-03-session9.txt also timed the GEMM
# mainloop's builds, `.mainloop`, removed in session 11, and gemm_mxfp4_bf16 with two warpgroups,
# `.w8`, built with a temporary patch raising assign-layouts' warps; neither is staged here.)
#   device run: carry [".gpu"], command `bash .gpu/fp4-units.sh`
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/gpu/stage.sh
stage_runner u
T=target/release/tessera
for src in dsl_examples/gemm_mxfp4_bf16.tsr dsl_examples/gemm_mxfp4_fp8.tsr dsl_examples/gemm_nvfp4.tsr \
           dsl_examples/gemm_dequant_explicit.tsr tests/conformance/gemm_dequant_fp4_blocks.tsr \
           tests/conformance/lang_gemm_mxfp4_fp8.tsr tests/conformance/gemm_nvfp4_residual.tsr; do
  n=$(basename "$src" .tsr)
  $T build "$src" --target sm_90a -o ".gpu/u/$n.new" --force >/dev/null 2>&1
done
cp scripts/gpu/fp4-units.sh .gpu/
echo "staged ($(du -sh .gpu | cut -f1) in .gpu)"
