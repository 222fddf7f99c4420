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
# Dims: small values that leave partial tiles, and large ones; per-name values keep 3-D/4-D
# tensors and attention sequence lengths realistic.
small() { case "$1" in N) echo 96;; K) echo 256;; S) echo 80;; BH|B|H) echo 2;; E) echo 4;; *) echo 70;; esac; }
large() { case "$1" in M|T|P|R|G) echo 3000;; N) echo 2048;; K) echo 1024;; S) echo 1000;; BH) echo 16;; B|H) echo 4;; E) echo 8;; D) echo 128;; Z) echo 8;; *) echo 512;; esac; }
# Kernels whose contract bounds a dim by a tile (one row per tile of BN columns): their large shape
# keeps the dim at that tile, since columns past it are, by design, never written.
large_of() { case "$1:$2" in
  softmax_rows:N|layernorm_bf16:N|rmsnorm_quant_mxfp8:N|rmsnorm_fake_quant_mxfp8:N) echo 128;;
  rmsnorm_bf16:N) echo 256;;
  *) large "$2";; esac; }
for f in tests/conformance/*.tsr dsl_examples/*.tsr tests/fidelity/*.tsr; do
  n=$(basename "$f" .tsr)
  [ -d ".gpu/conformance/$n" ] && continue
  if log=$("$T" build "$f" --target sm_90a -o ".gpu/conformance/$n" 2>&1); then
    syms=$(sed -n 's/^  syms \[\(.*\)\]$/\1/p' ".gpu/conformance/$n/kernel.tir" | head -1 | tr -d ' ')
    s=""; l=""
    IFS=, read -ra names <<<"$syms"
    for d in "${names[@]}"; do [ "$d" = E1 ] && continue; [ -n "$d" ] && s="$s --dim $d=$(small "$d")" && l="$l --dim $d=$(large_of "$n" "$d")"; done
    echo "$n|$s|$l" >> .gpu/conformance/cases.txt
  else
    echo "$n: $(echo "$log" | grep -m1 -E 'error' | cut -c1-200)" >> .gpu/conformance/refused.txt
  fi
done
cp scripts/gpu/run-conformance.sh .gpu/
echo "staged $(wc -l < .gpu/conformance/cases.txt) kernels ($(du -sh .gpu | cut -f1)); refused: $(wc -l < .gpu/conformance/refused.txt)"
