#!/usr/bin/env bash
# Stage the check of the attention kernels for one device call (docs/GPU-TESTING.md): every corpus
# kernel whose build has a loop-invariant operand staged once (the attention kernels' Q tiles),
# validated at a partial and a large shape, causal and not, memcheck at the partial shape; the FP8
# and bf16 attentions timed against SDPA in the same call (until session 12 also the FA attention
# schedule, since deleted); MoE with and without MXFP8 async code copies (--no-async-scaled-copies).
#   bash scripts/gpu-attention.sh   # here
#   device run: carry [".gpu"], command `bash .gpu/attention.sh`  -> $OUT/attention.txt
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu/stage.sh
stage_runner x
T=target/release/tessera
source scripts/gpu/shapes.sh
: > .gpu/x/cases.txt
for f in tests/conformance/*.tsr dsl_examples/*.tsr tests/fidelity/*.tsr; do
  n=$(basename "$f" .tsr)
  grep -q "dot(" "$f" || continue
  "$T" build "$f" -o ".gpu/x/$n" --report 2>/dev/null | grep -q "loop-invariant" || { rm -rf ".gpu/x/$n"; continue; }
  case_line "$n" ".gpu/x/$n" >> .gpu/x/cases.txt
done
for n in moe_mxfp8; do
  "$T" build "dsl_examples/$n.tsr" --no-async-scaled-copies -o ".gpu/x/$n.base" > /dev/null
  "$T" build "dsl_examples/$n.tsr" -o ".gpu/x/$n.async" > /dev/null
done
cp scripts/gpu/attention.sh .gpu/
echo "staged $(wc -l < .gpu/x/cases.txt) kernels ($(du -sh .gpu | cut -f1))"
