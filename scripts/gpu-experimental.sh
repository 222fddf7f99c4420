#!/usr/bin/env bash
# Stage the check of the experimental per-op options for one short device call (docs/GPU-TESTING.md):
#   --nvfp4-wgmma          NVFP4 dots on bf16 wgmma (the per-tensor scales applied to each partial)
#   --async-scaled-copies  MXFP8 code operands copied by the dot (rings), e8m0 scales read into tables
#   bash scripts/gpu-experimental.sh   # here: runner + every corpus kernel whose code either changes
#   device run: carry [".gpu"], command `bash .gpu/experimental.sh`  -> $OUT/experimental.txt
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu && mkdir -p .gpu/bin .gpu/x
cargo build --release -q -p tessera-runner -p tessera-cli
cp target/release/tessera-runner .gpu/bin/ && strip .gpu/bin/tessera-runner 2>/dev/null || true
T=target/release/tessera
source scripts/gpu/shapes.sh
: > .gpu/x/cases.txt
for f in tests/conformance/*.tsr dsl_examples/*.tsr; do
  n=$(basename "$f" .tsr)
  grep -q "dot(" "$f" || continue
  for opt in nvfp4-wgmma async-scaled-copies; do
    "$T" build "$f" --no-schedules -o ".gpu/x/$n.base" --force > /dev/null 2>&1 || continue
    "$T" build "$f" --no-schedules "--$opt" -o ".gpu/x/$n.$opt" > /dev/null 2>&1 || continue
    if cmp -s ".gpu/x/$n.base/kernel.ptx" ".gpu/x/$n.$opt/kernel.ptx"; then
      rm -rf ".gpu/x/$n.$opt"
    else
      case_line "$n.$opt" ".gpu/x/$n.$opt" | sed "s/^$n.$opt|/$n|$opt|/" >> .gpu/x/cases.txt
    fi
  done
done
# Only the examples' baselines are timed; the other kernels' are not carried.
find .gpu/x -maxdepth 1 -name '*.base' ! -name 'gemm_nvfp4.base' ! -name 'gemm_mxfp8.base' -exec rm -rf {} +
# The mainloop builds of the examples, to time the per-op builds against.
for e in gemm_nvfp4 gemm_mxfp8; do "$T" build "dsl_examples/$e.tsr" -o ".gpu/x/$e.sched" > /dev/null; done
cp scripts/gpu/experimental.sh .gpu/
echo "staged $(wc -l < .gpu/x/cases.txt) changed builds ($(du -sh .gpu | cut -f1))"
