# Sourced by the scripts/gpu-*.sh staging scripts: `stage_runner SUBDIR...` starts a fresh .gpu/ with
# the given subdirectories, builds the release runner and CLI, and copies the stripped runner to
# .gpu/bin (the GPU machine has no Rust).
stage_runner() {
  rm -rf .gpu && mkdir -p .gpu/bin
  for d in "$@"; do mkdir -p ".gpu/$d"; done
  cargo build --release -q -p tessera-runner -p tessera-cli
  cp target/release/tessera-runner .gpu/bin/ && strip .gpu/bin/tessera-runner 2>/dev/null || true
}
