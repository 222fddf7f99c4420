#!/usr/bin/env bash
# The whole test suite: crate boundaries, then every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/check-boundaries.sh
cargo test --workspace --no-fail-fast "$@"
