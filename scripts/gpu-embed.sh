#!/usr/bin/env bash
# Stage the "using Tessera from programs" checks (issue 11) into .gpu/embed/, so ONE device call runs
# them on a machine with CUDA 13, Python 3.12 and torch but no Rust/LLVM:
#   bash scripts/gpu-embed.sh                      # here: build, stage .gpu/embed (other .gpu/ content is kept)
#   device run: carry [".gpu"], command `bash .gpu/embed/run.sh`   (timeout 600)
# There it runs, each printing PASS/FAIL lines:
#  1. bin/tessera-example: the Rust example (tessera::kernel! + build.rs-embedded kernels, runtime-only
#     build) on data it makes, checked against the CPU;
#  2. tessera-runner run/validate with --arg NAME=FILE.npy and --out on .npy files made with torch;
#  3. py/test_torch.py: `import tessera` (runtime-only extension) on torch tensors: elementwise kernels vs
#     torch, gemm_bf16 vs torch.matmul, gemm_fp8 vs torch._scaled_mm, the error paths, a torch.library
#     custom op under torch.compile.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.gpu/embed
MAX_MB=${TESSERA_MAX_EMBED_MB:-48}
rm -rf "$OUT" && mkdir -p "$OUT/bin" "$OUT/bundles" "$OUT/py/tessera"

echo "== building (dev profile; the carried binaries are LLVM-free)"
bash scripts/check-boundaries.sh
# One package per cargo call: features unify across the packages of one call, and the CLI turns on
# the library's `compile` feature, which the carried binaries must not have.
cargo build -q -p tessera-cli
cargo build -q -p tessera-runner
cargo build -q -p tessera-python
cargo build -q -p tessera-examples --no-default-features
cp target/debug/tessera-runner target/debug/tessera-example "$OUT/bin/"
cp target/debug/lib_tessera.so "$OUT/py/tessera/_tessera.abi3.so"
cp api/python/tessera/__init__.py "$OUT/py/tessera/"
strip "$OUT/bin/"* "$OUT/py/tessera/_tessera.abi3.so" 2>/dev/null || true
for b in "$OUT/bin/tessera-runner" "$OUT/bin/tessera-example" "$OUT/py/tessera/_tessera.abi3.so"; do
  if nm -D "$b" 2>/dev/null | grep -qiE 'LLVM|mlir'; then echo "error: $b links LLVM/MLIR" >&2; exit 1; fi
done

echo "== bundles (sm_90a)"
build() { target/debug/tessera build "$1" --target sm_90a -o "$OUT/bundles/$2" 2>&1 | tail -1; }
build api/examples/kernels/scale_add.tsr scale_add
build api/examples/kernels/axpy.tsr axpy
build dsl_examples/gemm_bf16.tsr gemm_bf16
build dsl_examples/gemm_fp8.tsr gemm_fp8

echo "== launch plans (no GPU): every bundle plans with its dims"
target/debug/tessera-runner plan "$OUT/bundles/gemm_fp8" --dim M=256 --dim N=512 --dim K=384 --scalar scale_a=0.5 --scalar scale_b=2 | head -3
target/debug/tessera-runner plan "$OUT/bundles/scale_add" --dim M=100 --dim N=200 --scalar alpha=0.5 | head -3

cp scripts/gpu-embed/run.sh scripts/gpu-embed/test_torch.py scripts/gpu-embed/npy_check.py "$OUT/"
cp api/python/tests/test_module.py "$OUT/py/"
size_mb=$(( $(du -sb "$OUT" | cut -f1) / 1048576 ))
echo "   $OUT: ${size_mb} MiB (limit ${MAX_MB}; the carry limit is 64 MiB)"
[ "$size_mb" -le "$MAX_MB" ] || { echo "error: $OUT is too big to carry" >&2; exit 1; }
echo "next: device run with carry [\".gpu\"] and command: bash .gpu/embed/run.sh"
