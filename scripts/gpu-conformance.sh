#!/usr/bin/env bash
# Stage the conformance corpus for one device call (see docs/GPU-TESTING.md):
#   bash scripts/gpu-conformance.sh          # here: build the runner + one sm_90a bundle per kernel that builds
#   device run: carry [".gpu"], command `bash .gpu/run-conformance.sh`
# Each kernel is validated against the interpreter (and the plain reference where the kernel names
# one) at a partial-tile shape and at a large shape, outputs poisoned first; the partial shape also
# runs under compute-sanitizer memcheck. Kernels that do not build here are listed with their
# coded refusal in .gpu/conformance/refused.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu && mkdir -p .gpu/bin .gpu/conformance
cargo build --release -q -p tessera-runner
cp target/release/tessera-runner .gpu/bin/ && strip .gpu/bin/tessera-runner 2>/dev/null || true
cargo build -q -p tessera-cli
T=target/debug/tessera
: > .gpu/conformance/cases.txt
: > .gpu/conformance/refused.txt
source scripts/gpu/shapes.sh
for f in tests/conformance/*.tsr dsl_examples/*.tsr tests/fidelity/*.tsr; do
  n=$(basename "$f" .tsr)
  [ -d ".gpu/conformance/$n" ] && continue
  if log=$("$T" build "$f" --target sm_90a -o ".gpu/conformance/$n" 2>&1); then
    case_line "$n" ".gpu/conformance/$n" >> .gpu/conformance/cases.txt
  else
    echo "$n: $(echo "$log" | grep -m1 -E 'error' | cut -c1-200)" >> .gpu/conformance/refused.txt
  fi
done
cp scripts/gpu/run-conformance.sh .gpu/
cp -r tests/conformance/inputs .gpu/conformance/inputs
echo "staged $(wc -l < .gpu/conformance/cases.txt) kernels ($(du -sh .gpu | cut -f1)); refused: $(wc -l < .gpu/conformance/refused.txt)"
