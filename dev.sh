#!/usr/bin/env bash
# Tessera's two entry points (see README Quick start). Both run the idempotent setup first.
#   ./dev.sh demo   compile a real example, run it on the interpreter (and a CUDA GPU when present)
#   ./dev.sh test   the whole test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
case "${1:-}" in
  demo) shift; cargo run -q -p tessera-cli --bin tessera -- demo "$@" ;;
  test) shift; bash scripts/test.sh "$@" ;;
  *) echo "usage: ./dev.sh demo | ./dev.sh test" >&2; exit 2 ;;
esac
