#!/usr/bin/env bash
# On the GPU machine (staged by scripts/gpu-embed.sh): the Rust example, the runner on .npy files,
# the Python module on torch tensors. Exit status: the number of failed parts.
cd "$(dirname "$0")"
export TESSERA_KERNEL_TIMEOUT_S=30
fail=0
echo "== 1. Rust: tessera-example (kernel! + build.rs embedded bundles, runtime-only binary)"
./bin/tessera-example 100 200 || fail=$((fail+1))
./bin/tessera-example 1000 4099 || fail=$((fail+1))
echo "== 2. runner on your data: --arg NAME=FILE.npy, --out NAME=FILE.npy"
python3 npy_check.py || fail=$((fail+1))
echo "== 3. Python: import tessera on torch tensors"
PYTHONPATH=py python3 py/test_module.py bundles/scale_add || fail=$((fail+1))
PYTHONPATH=py python3 test_torch.py || fail=$((fail+1))
echo "== failed parts: $fail"
exit $fail
