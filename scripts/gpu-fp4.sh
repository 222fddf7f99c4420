#!/usr/bin/env bash
# Stage the packed-FP4 operand check (general/packed.rs) for the H200: every FP4 GEMM built per op
# with packed staging (`.new`, the default build) and per op with codes through registers (`.old`,
# `--no-packed-fp4-staging`), validated and benchmarked in one call. (Until session 11 it also staged
# `.default` and `.mainloop`, the GEMM mainloop's builds; with the mainloop removed they would repeat
# `.new` and `.old`.)
#   device run: carry [".gpu"], command `bash .gpu/fp4.sh`
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/gpu/stage.sh
stage_runner fp4
T=target/release/tessera
for src in dsl_examples/gemm_mxfp4_bf16.tsr dsl_examples/gemm_mxfp4_fp8.tsr dsl_examples/gemm_nvfp4.tsr \
           tests/conformance/lang_gemm_mxfp4_fp8.tsr tests/conformance/gemm_nvfp4_residual.tsr; do
  n=$(basename "$src" .tsr)
  $T build "$src" --target sm_90a -o ".gpu/fp4/$n.new" --force >/dev/null
  $T build "$src" --target sm_90a --no-packed-fp4-staging -o ".gpu/fp4/$n.old" --force >/dev/null
done
cp scripts/gpu/fp4.sh scripts/gpu/fp4-bf16.sh .gpu/
echo "staged the FP4 check ($(du -sh .gpu | cut -f1) in .gpu)"
