#!/usr/bin/env bash
# Idempotent setup for Tessera on Debian 12 (x86_64): installs exactly the missing Debian packages
# (LLVM/MLIR 22 and what a static link of them needs) and the pinned PyPI wheel that provides ptxas,
# nvlink and fatbinary. Installs nothing when all is present. Downloads nothing else.
set -euo pipefail

# --- pins (change here, nowhere else) -------------------------------------------------------------
LLVM_VERSION=22
DEBIAN_PACKAGES=(
  "llvm-${LLVM_VERSION}-dev" "libmlir-${LLVM_VERSION}-dev" "mlir-${LLVM_VERSION}-tools"
  "lld-${LLVM_VERSION}" "clang-${LLVM_VERSION}" "libclang-${LLVM_VERSION}-dev" "libpolly-${LLVM_VERSION}-dev"
  libzstd-dev libz3-dev libxml2-dev python3-pip
)
NVCC_WHEEL=nvidia-cuda-nvcc
NVCC_WHEEL_VERSION=13.5.37
PYTHON=${PYTHON:-python3}
# --------------------------------------------------------------------------------------------------

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  # python3-pip is only needed when python3 has no pip module.
  if [ "$p" = python3-pip ] && "$PYTHON" -m pip --version >/dev/null 2>&1; then continue; fi
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
    || die "apt-get update failed; cannot install: ${missing[*]}"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/tessera-apt.log 2>&1; then
    tail -n 20 /tmp/tessera-apt.log >&2
    still=()
    for p in "${missing[@]}"; do
      [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || still+=("$p")
    done
    die "could not install Debian packages: ${still[*]} (log: /tmp/tessera-apt.log)"
  fi
fi

have_wheel=$("$PYTHON" - "$NVCC_WHEEL" <<'PY' 2>/dev/null || true
import sys, importlib.metadata as m
try:
    print(m.version(sys.argv[1]))
except m.PackageNotFoundError:
    pass
PY
)
if [ "$have_wheel" != "$NVCC_WHEEL_VERSION" ]; then
  say "installing PyPI wheel ${NVCC_WHEEL}==${NVCC_WHEEL_VERSION} (ptxas, nvlink, fatbinary)"
  "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
      "${NVCC_WHEEL}==${NVCC_WHEEL_VERSION}" >/tmp/tessera-pip.log 2>&1 \
    || { tail -n 20 /tmp/tessera-pip.log >&2; die "could not install ${NVCC_WHEEL}==${NVCC_WHEEL_VERSION} (log: /tmp/tessera-pip.log)"; }
fi

# Sanity: the tools the build needs are where the pins say.
[ -x "/usr/lib/llvm-${LLVM_VERSION}/bin/llvm-config" ] || die "llvm-config-${LLVM_VERSION} missing after install"
ptxas=$(bash "$(dirname "$0")/find-cuda-tool.sh" ptxas) || die "ptxas not found in the ${NVCC_WHEEL} wheel"
[ -x "$ptxas" ] || die "ptxas at $ptxas is not executable"
