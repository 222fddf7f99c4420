#!/usr/bin/env bash
# Stage everything the GPU machine needs into .gpu/ (gitignored), so ONE device call runs it all:
#   bash scripts/gpu.sh [KERNEL:M,N,K ...]      # here: build the runner + bundles, write .gpu/
#   a case may name its dims instead (non-GEMM kernels): KERNEL:NAME=V,NAME=V, e.g. attention_fp8:BH=4,S=1000
#   (upper-case names are symbolic dims, lower-case ones scalar parameters: attention_fp8:BH=4,S=1000,causal=0)
#   device run: carry [".gpu"], command `bash .gpu/run-on-gpu.sh`   # there: validate, bench, peers, memcheck
# Here it builds `tessera-runner` in release (no LLVM; stripped; size checked) and one bundle per
# example with `tessera build --target sm_90a`; bundles are shape-generic, each case picks its dims.
# See docs/GPU-TESTING.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# The issue's done-when list: bf16 and fp8-e4m3 GEMM, two square shapes and two partial ones; then the
# DeepSeek-style block-scaled FP8 GEMM (the second Hopper structure) when time remains.
# Ordered small to large, so that a call running out of time loses the big shapes, not the partial ones.
DEFAULT_CASES="gemm_bf16:100,704,320 gemm_fp8:100,704,320 gemm_bf16:1000,1000,1024 gemm_fp8:1000,1000,1024
gemm_bf16:4096,4096,4096 gemm_fp8:4096,4096,4096 gemm_bf16:8192,8192,8192 gemm_fp8:8192,8192,8192
gemm_fp8_blockscale:1000,1000,1024 gemm_fp8_blockscale:4096,4096,4096"
CASES=${*:-${TESSERA_GPU_CASES:-$DEFAULT_CASES}}
TARGET=${TESSERA_GPU_TARGET:-sm_90a}
MAX_RUNNER_MB=${TESSERA_MAX_RUNNER_MB:-16}

rm -rf .gpu && mkdir -p .gpu/bin .gpu/bundles

# Named-dim cases: `NAME=V,NAME=V`; upper-case names are symbolic dims (--dim), others scalar
# parameters (--scalar), e.g. attention_fp8:BH=4,S=1000,causal=0.
named_args() {
  ARGS=(); local kv d; IFS=, read -ra kv <<<"$1"
  for d in "${kv[@]}"; do
    if [[ "${d%%=*}" =~ ^[A-Z][A-Z0-9_]*$ ]]; then ARGS+=(--dim "$d"); else ARGS+=(--scalar "$d"); fi
  done
}

echo "== building tessera-runner (release, LLVM-free)"
bash scripts/check-boundaries.sh
cargo build --release -q -p tessera-runner
cp target/release/tessera-runner .gpu/bin/
strip .gpu/bin/tessera-runner 2>/dev/null || true
size_mb=$(( $(stat -c %s .gpu/bin/tessera-runner) / 1048576 ))
echo "   .gpu/bin/tessera-runner: ${size_mb} MiB (limit ${MAX_RUNNER_MB})"
if [ "$size_mb" -gt "$MAX_RUNNER_MB" ]; then
  echo "error: the runner is ${size_mb} MiB: did LLVM sneak in? (cargo tree -p tessera-runner)" >&2; exit 1
fi
if ldd .gpu/bin/tessera-runner 2>/dev/null | grep -qiE 'LLVM|MLIR'; then
  echo "error: the runner links LLVM/MLIR" >&2; exit 1
fi

echo "== building the compiler (tessera) and the bundles for $TARGET"
cargo build -q -p tessera-cli
TESSERA=target/debug/tessera
: > .gpu/cases.txt
: > .gpu/cases-named.txt
built=" "
for case in $CASES; do
  kernel=${case%%:*}; dims=${case#*:}
  IFS=, read -r M N K <<<"$dims"
  if [[ "$built" != *" $kernel "* ]]; then
    src=dsl_examples/$kernel.tsr
    [ -f "$src" ] || { echo "error: no example $src" >&2; exit 1; }
    if "$TESSERA" build "$src" --target "$TARGET" -o ".gpu/bundles/$kernel" --report > ".gpu/bundles/$kernel.build.log" 2>&1; then
      echo "   built $kernel ($(du -sh ".gpu/bundles/$kernel" | cut -f1))"
      built="$built$kernel "
    else
      echo "   FAILED to build $kernel (its cases are skipped):"; sed 's/^/     /' ".gpu/bundles/$kernel.build.log" | tail -20
      built="$built!$kernel "
    fi
  fi
  if [[ "$built" == *" $kernel "* ]]; then
    if [[ "$dims" == *=* ]]; then echo "$kernel $dims" >> .gpu/cases-named.txt; else echo "$kernel $M $N $K" >> .gpu/cases.txt; fi
  fi
done
[ -s .gpu/cases.txt ] || [ -s .gpu/cases-named.txt ] || { echo "error: no bundle built; nothing to run on the GPU" >&2; exit 1; }

echo "== checking each case's launch plan here (ABI, grid, TMA encodings; no GPU needed)"
while read -r kernel M N K; do
  if ! .gpu/bin/tessera-runner plan ".gpu/bundles/$kernel" --dim "M=$M" --dim "N=$N" --dim "K=$K" > ".gpu/bundles/$kernel.plan-$M-$N-$K.txt" 2>&1; then
    echo "error: the launch plan of $kernel M=$M N=$N K=$K fails:" >&2; cat ".gpu/bundles/$kernel.plan-$M-$N-$K.txt" >&2; exit 1
  fi
done < .gpu/cases.txt
while read -r kernel named; do
  named_args "$named"; dims=("${ARGS[@]}")
  if ! .gpu/bin/tessera-runner plan ".gpu/bundles/$kernel" "${dims[@]}" > ".gpu/bundles/$kernel.plan-${named//,/-}.txt" 2>&1; then
    echo "error: the launch plan of $kernel $named fails:" >&2; cat ".gpu/bundles/$kernel.plan-${named//,/-}.txt" >&2; exit 1
  fi
done < .gpu/cases-named.txt

cp scripts/gpu/run-on-gpu.sh scripts/gpu/peers.py scripts/gpu/table.py .gpu/
total_kb=$(du -sk .gpu | cut -f1)
echo "== staged .gpu/ ($((total_kb / 1024)) MiB of the 64 MiB carry limit): $(cat .gpu/cases.txt .gpu/cases-named.txt | wc -l) cases"
[ "$total_kb" -lt $((60 * 1024)) ] || { echo "error: .gpu/ is too big to carry" >&2; exit 1; }
sed 's/^/   /' .gpu/cases.txt .gpu/cases-named.txt
echo "next: device run with carry [\".gpu\"] and command: bash .gpu/run-on-gpu.sh"
