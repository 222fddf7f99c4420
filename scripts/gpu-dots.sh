#!/usr/bin/env bash
# Stage the per-op dot check for one short device call (see docs/GPU-TESTING.md):
#   bash scripts/gpu-dots.sh        # here: runner, every corpus kernel whose dot is lowered per op,
#                                   # gemm_bf16 / gemm_fp8 three ways
#   device run: carry [".gpu"], command `bash .gpu/dots.sh`  -> $OUT/dots.txt, $OUT/peers.jsonl
# Builds under .gpu/paths: <example>.perop (per op, the ring of the automatic depth: the default
# build), .perop-s4 (ring depth 4) and .perop-regs (per op, operands staged from registers,
# `--no-async-copies`), so the ring is judged, and its depth chosen, from numbers measured in one
# call, next to cuBLAS. (Until session 11 a GEMM `.sched` build, the GEMM mainloop, was staged too.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu/stage.sh
stage_runner conformance paths
T=target/release/tessera
source scripts/gpu/shapes.sh
: > .gpu/conformance/cases.txt
for f in tests/conformance/*.tsr dsl_examples/*.tsr tests/fidelity/*.tsr; do
  n=$(basename "$f" .tsr)
  d=".gpu/conformance/$n"
  "$T" build "$f" --target sm_90a -o "$d" > /dev/null 2>&1 || { rm -rf "$d"; continue; }
  # Only kernels whose dot the per-op lowering emits (its report names the operand path).
  grep -q "operands:" "$d/report.txt" || { rm -rf "$d"; continue; }
  case_line "$n" "$d" >> .gpu/conformance/cases.txt
done
for e in gemm_bf16 gemm_fp8; do
  "$T" build "dsl_examples/$e.tsr" -o ".gpu/paths/$e.perop" > /dev/null
  "$T" build "dsl_examples/$e.tsr" --stages 4 -o ".gpu/paths/$e.perop-s4" > /dev/null
  "$T" build "dsl_examples/$e.tsr" --no-async-copies -o ".gpu/paths/$e.perop-regs" > /dev/null
done
# MMA-first layouts (the experimental `assign-layouts-mma` pass): the FP8 attention per op with and
# without it, and every corpus kernel whose layouts it changes, built with it.
OLD=canonicalize,fuse-dequant,assign-scale-layout,assign-layouts
MMA=canonicalize,fuse-dequant,assign-scale-layout,assign-layouts-mma
"$T" build dsl_examples/attention_fp8.tsr --passes $OLD -o .gpu/paths/attention_fp8.perop-regs > /dev/null
"$T" build dsl_examples/attention_fp8.tsr --passes $MMA -o .gpu/paths/attention_fp8.perop-mma > /dev/null
mkdir -p .gpu/mma
: > .gpu/mma/cases.txt
for f in tests/conformance/*.tsr dsl_examples/*.tsr tests/fidelity/*.tsr; do
  n=$(basename "$f" .tsr)
  a=$("$T" build "$f" --no-ptxas --passes $OLD --print-after assign-layouts -o /tmp/tessera-mma-a --force 2>&1 | grep -c convert_layout || true)
  b=$("$T" build "$f" --no-ptxas --passes $MMA --print-after assign-layouts-mma -o /tmp/tessera-mma-b --force 2>&1 | grep -c convert_layout || true)
  [ "$a" = "$b" ] && continue
  "$T" build "$f" --passes $MMA -o ".gpu/mma/$n" > /dev/null 2>&1 || continue
  case_line "$n" ".gpu/mma/$n" >> .gpu/mma/cases.txt
done
rm -rf /tmp/tessera-mma-a /tmp/tessera-mma-b
cp scripts/gpu/dots.sh scripts/gpu/peers.py .gpu/
echo "staged $(wc -l < .gpu/conformance/cases.txt) per-op dot kernels, $(wc -l < .gpu/mma/cases.txt) MMA-first builds, $(ls .gpu/paths | wc -l) path builds ($(du -sh .gpu | cut -f1))"
