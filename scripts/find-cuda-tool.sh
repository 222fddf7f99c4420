#!/usr/bin/env bash
# Print the path of a CUDA tool (ptxas, nvlink, fatbinary) from the pinned nvidia-cuda-nvcc wheel,
# found through Python's package metadata (no machine paths). $TESSERA_<TOOL> overrides.
set -euo pipefail
tool=${1:?usage: find-cuda-tool.sh ptxas|nvlink|fatbinary}
var="TESSERA_$(echo "$tool" | tr '[:lower:]' '[:upper:]')"
if [ -n "${!var:-}" ]; then echo "${!var}"; exit 0; fi
"${PYTHON:-python3}" - "$tool" <<'PY'
import sys, importlib.metadata as m, pathlib
tool = sys.argv[1]
dist = m.distribution("nvidia-cuda-nvcc")
for f in dist.files or []:
    if f.name == tool and f.parent.name == "bin":
        print(pathlib.Path(dist.locate_file(f)).resolve())
        sys.exit(0)
sys.exit(1)
PY
