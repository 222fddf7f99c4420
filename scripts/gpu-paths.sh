#!/usr/bin/env bash
# Stage the per-op path comparison for one device call (run after scripts/gpu-conformance.sh, which
# builds the runner into .gpu/bin): every dsl_example built for sm_90a as
#   <name>.perop    the default build: lowered per op from the distributed level (until session 11
#                   a `.sched` build on the GEMM mainloop was staged too, and until session 12 one
#                   of attention_fp8 on the FA attention schedule; both were removed)
#   <name>.perop64  the same with BM = 64 where the example says BM = 128 (more CTAs per SM)
#   <name>.regs     `--no-async-copies`: per op, dot operands staged from registers
# The per-op builds are validated (partial and large shape) and all are benchmarked with the
# peers (cuBLAS, Triton, SDPA) in the same call.
#   device run: carry [".gpu"], command `bash .gpu/paths.sh`
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .gpu/bin/tessera-runner ] || { echo "run scripts/gpu-conformance.sh first" >&2; exit 2; }
cargo build -q -p tessera-cli
T=target/debug/tessera
rm -rf .gpu/paths && mkdir -p .gpu/paths .gpu/paths-src
for f in dsl_examples/*.tsr; do
  n=$(basename "$f" .tsr)
  [ "$n" = moe_mxfp8 ] && continue # no square-GEMM shape; it is in the conformance run
  sed 's/BM = 128/BM = 64/' "$f" > ".gpu/paths-src/$n.tsr"
  b() { $T build "$1" --target sm_90a -o ".gpu/paths/$n.$2" --report "${@:3}" > ".gpu/paths/$n.$2.log" 2>&1 || echo "$n.$2: build failed"; }
  b "$f" perop
  b ".gpu/paths-src/$n.tsr" perop64
  b "$f" regs --no-async-copies
done
grep -H "^ptxas" .gpu/paths/*.log | sed 's|.gpu/paths/||' > .gpu/paths/ptxas.txt
cp scripts/gpu/paths.sh scripts/gpu/peers.py .gpu/
echo "staged $(ls -d .gpu/paths/*/ | wc -l) bundles ($(du -sh .gpu | cut -f1) in .gpu)"
