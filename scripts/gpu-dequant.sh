#!/usr/bin/env bash
# Stage the explicit-dequant fold check (async_copy `Deferred::explicit`) for the H200: the GEMMs
# that write `dequant(codes, scales)` out, built per op with the fold (`.new`, the default build) and
# per op with codes and scales through registers (`.old`, `--no-packed-fp4-staging`), with
# gemm_mxfp4_bf16 per op beside them, validated and benchmarked in one call. (Until session 11 it also
# staged `.default` builds, then the GEMM mainloop's; with the mainloop removed they would repeat
# `.new`.)
#   device run: carry [".gpu"], command `bash .gpu/dequant.sh`
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/gpu/stage.sh
stage_runner dq
T=target/release/tessera
for src in dsl_examples/gemm_dequant_explicit.tsr tests/conformance/gemm_dequant_fp4_blocks.tsr \
           dsl_examples/gemm_mxfp4_bf16.tsr; do
  n=$(basename "$src" .tsr)
  $T build "$src" --target sm_90a -o ".gpu/dq/$n.new" --force >/dev/null
  $T build "$src" --target sm_90a --no-packed-fp4-staging -o ".gpu/dq/$n.old" --force >/dev/null
done
cp scripts/gpu/dequant.sh .gpu/
echo "staged the explicit-dequant check ($(du -sh .gpu | cut -f1) in .gpu)"
