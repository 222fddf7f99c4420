#!/usr/bin/env bash
# Stage the per-op lowering benchmark next to the conformance bundles (run after
# scripts/gpu-conformance.sh, which creates .gpu/): per-op GEMMs at three tile shapes, compared in
# the same device call with the conformance build of gemm_bf16 and torch (cuBLAS), and memory-bound
# per-op kernels against torch. (Until session 11 these were built with `--no-schedules`, without
# which a GEMM took the GEMM mainloop; every build is per op now and the flag is ignored.)
#   device run: carry [".gpu"], command `bash .gpu/run-conformance.sh; bash .gpu/perop.sh`
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .gpu/conformance ] || { echo "run scripts/gpu-conformance.sh first" >&2; exit 2; }
cargo build -q -p tessera-cli
mkdir -p .gpu/perop .gpu/perop-src
for cfg in "64 128 64" "128 128 64" "128 128 32"; do
  set -- $cfg
  n=perop_gemm_${1}x${2}x${3}
  cat > .gpu/perop-src/$n.tsr <<TSR
// per-op path GEMM (built with): c = a @ b^T + r
kernel $n(a: bf16[M, K], b: bf16[N, K], r: bf16[M, N], c: out bf16[M, N])
    tiles(BM = $1, BN = $2, BK = $3)
    grid(cdiv(M, BM), cdiv(N, BN))
{
    let m0 = program_id(0) * BM;
    let n0 = program_id(1) * BN;
    var acc = zeros<f32>[BM, BN];
    for k0 in 0..K step BK {
        acc = dot(load(a[m0 .. +BM, k0 .. +BK]), transpose(load(b[n0 .. +BN, k0 .. +BK])), acc);
    }
    store(c[m0 .. +BM, n0 .. +BN], cast<bf16>(acc + cast<f32>(load(r[m0 .. +BM, n0 .. +BN]))));
}
TSR
  target/debug/tessera build .gpu/perop-src/$n.tsr --target sm_90a -o .gpu/perop/$n --force
done
cp scripts/gpu/perop.sh .gpu/perop.sh
echo "staged the per-op benchmark ($(du -sh .gpu | cut -f1) in .gpu)"
