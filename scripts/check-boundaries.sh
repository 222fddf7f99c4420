#!/usr/bin/env bash
# Fails when a crate boundary of docs/ARCHITECTURE.md is crossed, by reading `cargo tree`:
# - the front end, IR, formats, passes, interpreter, references and numerics link no LLVM/MLIR/GPU crate;
# - melior/mlir-sys appear under one crate only (tessera-lowering-mlir) and those that depend on it;
# - inkwell/llvm-sys only in target crates (and the CLI that drives them);
# - cudarc/libloading (GPU runtimes) only in runtime crates and their users;
# - the runner binary (carried to the GPU machine) links no LLVM/MLIR.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
tree() { cargo tree -q -e normal -p "$1" --prefix none 2>/dev/null | awk '{print $1}' | sort -u; }
forbid() { # crate, forbidden-regex, why
  local hits
  hits=$(tree "$1" | grep -E "^($2)$" || true)
  if [ -n "$hits" ]; then
    echo "boundary violated: $1 depends on $(echo $hits | tr '\n' ' ')-- $3" >&2
    fail=1
  fi
}
LLVM='melior|mlir-sys|inkwell|llvm-sys|tblgen|melior-macro'
GPU='cudarc|libloading'
for c in tessera-diag tessera-syntax tessera-ir tessera-check tessera-formats tessera-interp \
         tessera-reference tessera-oracle tessera-numerics tessera-passes tessera-prepack; do
  forbid "$c" "$LLVM|$GPU" "front end, IR, formats, passes and interpreter build without LLVM/MLIR/GPU"
done
forbid tessera-lowering-mlir "inkwell|llvm-sys|$GPU" "lowering produces LLVM IR text/modules; codegen is the targets' job"
for c in tessera-target-nvidia tessera-target-amd; do
  forbid "$c" "$GPU" "targets compile; they never load or launch"
done
for c in tessera-bundle tessera-cuda tessera-hip tessera-runner; do
  forbid "$c" "$LLVM" "the runtime and the runner travel to GPU machines without LLVM"
done
forbid tessera-formats "tessera-ir|tessera-interp" "formats depend on nothing of ours"
forbid tessera-interp "tessera-passes|tessera-reference|tessera-lowering-mlir" "the interpreter shares no code with passes, references or lowering"
forbid tessera-reference "tessera-interp|tessera-ir" "the plain reference shares no code with the interpreter"
forbid tessera-oracle "tessera-interp" "the reference adapter shares no code with the interpreter"
# The `tessera` library without its `compile` feature is the runtime-only build: no LLVM/MLIR.
hits=$(cargo tree -q -e normal -p tessera --no-default-features --features cuda --prefix none 2>/dev/null | awk '{print $1}' | sort -u | grep -E "^($LLVM)$" || true)
[ -z "$hits" ] || { echo "boundary violated: tessera (default-features = false) depends on $hits -- the runtime-only library loads bundles without LLVM" >&2; fail=1; }
forbid tessera-macros "$LLVM|$GPU" "the proc macro runs the front end only, inside every cargo build"
# melior may be named by one crate only.
namers=$(grep -l -E '^\s*melior' */*/Cargo.toml | grep -v '^lowering/mlir/' || true)
[ -z "$namers" ] || { echo "boundary violated: melior named outside lowering/mlir: $namers" >&2; fail=1; }
namers=$(grep -l -E '^\s*inkwell' */*/Cargo.toml | grep -v '^targets/' || true)
[ -z "$namers" ] || { echo "boundary violated: inkwell named outside targets/: $namers" >&2; fail=1; }
namers=$(grep -l -E '^\s*(cudarc|libloading)' */*/Cargo.toml | grep -v '^runtime/' || true)
[ -z "$namers" ] || { echo "boundary violated: GPU runtime crates named outside runtime/: $namers" >&2; fail=1; }
[ $fail = 0 ] && echo "boundaries: ok (front end/IR/formats/passes/interp LLVM-free; melior in lowering/mlir only; inkwell in targets only; GPU loaders in runtime only; runner LLVM-free)"
exit $fail
