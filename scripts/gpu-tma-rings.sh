#!/usr/bin/env bash
# Stage the per-op TMA ring check for one device call (run after scripts/gpu-conformance.sh, which
# builds the runner into .gpu/bin): the GEMMs whose per-op dot streams through a ring, each built
#   <name>.tma      the default build: per op, the ring filled by TMA
#   <name>.cpasync  `--no-tma-rings`: the same ring filled by cp.async
# (Until session 11 a `.sched` default build was staged too, the GEMM mainloop where it took the
# kernel; with the mainloop removed it would repeat `.tma`.)
# The .tma builds are validated at a partial-tile shape, a large shape and (bf16/fp8 without
# block scales) a K whose row pitch is not a multiple of 16 bytes, where the runtime passes null
# maps and the kernel must take its cp.async path; both builds are benchmarked in the call.
#   device run: carry [".gpu"], command `bash .gpu/tma-rings.sh`
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .gpu/bin/tessera-runner ] || { echo "run scripts/gpu-conformance.sh first" >&2; exit 2; }
cargo build --release -q -p tessera-cli
T=target/release/tessera
source scripts/gpu/shapes.sh
rm -rf .gpu/tma .gpu/tma-src && mkdir -p .gpu/tma .gpu/tma-src
# The batched GEMM at BM = 64, so that its rank-3 A tile is one TMA box (at BM = 32 the stage
# repeats its rows and the ring stays on cp.async).
sed 's/BM = 32/BM = 64/' tests/conformance/gemm_batched_bf16.tsr > .gpu/tma-src/gemm_batched_bf16.tsr
: > .gpu/tma/cases.txt
for f in tests/conformance/gemm_bias_gelu_bf16.tsr tests/conformance/gemm_fp8_rowcol_scale.tsr \
  tests/conformance/swiglu_gemm_bf16.tsr tests/conformance/gemm_residual_f16.tsr \
  tests/conformance/gemm_int8.tsr tests/conformance/gemm_kn_alpha_beta.tsr \
  .gpu/tma-src/gemm_batched_bf16.tsr dsl_examples/gemm_bf16.tsr dsl_examples/gemm_fp8.tsr \
  dsl_examples/gemm_fp8_blockscale.tsr dsl_examples/gemm_mxfp8.tsr; do
  n=$(basename "$f" .tsr)
  b() { $T build "$f" --target sm_90a -o ".gpu/tma/$n.$1" --report "${@:2}" > ".gpu/tma/$n.$1.log" 2>&1 || echo "$n.$1: build failed"; }
  b tma
  b cpasync --no-tma-rings
  (grep -h "operands:" ".gpu/tma/$n.tma.log" || true) | sed "s/^/$n: /" | sed "s/.*operands:/$n: operands:/" | cut -c1-120
  line=$(case_line "$n" ".gpu/tma/$n.tma")
  odd=""
  case "$n" in gemm_fp8_blockscale|gemm_mxfp8) ;; *) odd=$(echo "$line" | cut -d'|' -f2 | sed 's/K=[0-9]*/K=1004/');; esac
  echo "$line|$odd" >> .gpu/tma/cases.txt
done
cp scripts/gpu/tma-rings.sh .gpu/
echo "staged $(ls -d .gpu/tma/*/ | wc -l) bundles ($(du -sh .gpu | cut -f1) in .gpu)"
