"""Peer baselines for each Tessera case, measured in the same device call (scripts/gpu/run-on-gpu.sh).

usage: python3 peers.py cases.txt OUT.jsonl
cases.txt lines: `kernel M N K`. Peers by kernel family:
  *bf16* (plain)  -> torch `a @ b.T` in bf16 (cuBLAS)
  gemm_fp8*       -> torch._scaled_mm fp8 e4m3 with per-tensor scales, bf16 out (cuBLASLt); M/N/K are
                     padded up to multiples of 16 when cuBLASLt requires it (noted)
  *mxfp8*         -> Triton tl.dot_scaled e4m3 x e4m3 (MX, e8m0 scales)
  *mxfp4_fp8*     -> Triton tl.dot_scaled e4m3 x e2m1
  *mxfp4_bf16*    -> Triton tl.dot_scaled bf16 x e2m1
  *dequant_explicit* -> the same (FP4 codes with e8m0 scales per 32 along K, dequantized to bf16 in
                     the program)
For every block-scaled case also a `ref` row: cuBLAS fp8 per-tensor at the same shape (the ceiling-like
reference the issue asks for: what an unscaled fp8 GEMM of that shape costs).
Also ceiling rows: cuBLAS bf16 and fp8 at 8192^3 (the "% of measured ceiling" column) and a 1 GiB
device-to-device copy (GB/s counting read + write; the memory floor of decode shapes is bytes / this).
Timings: triton.testing.do_bench, median, L2 flushed between runs (its default)."""
import json, sys, traceback
import torch, triton, triton.language as tl
from triton.testing import do_bench

cases = [l.split() for l in open(sys.argv[1]) if l.strip()]
out = open(sys.argv[2], "w")
dev = torch.cuda.get_device_properties(0)
print(f"peers on {dev.name}, torch {torch.__version__}, triton {triton.__version__}", file=sys.stderr)

def emit(**r):
    out.write(json.dumps(r) + "\n"); out.flush()
    print(json.dumps(r), file=sys.stderr)

def up16(x):
    return (x + 15) // 16 * 16

def bf16_mm(M, N, K):
    a = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(N, K, device="cuda", dtype=torch.bfloat16)
    return do_bench(lambda: a @ b.t(), return_mode="median"), "cublas bf16 a@b.T", ""

def fp8_mm(M, N, K):
    pm, pn, pk = up16(M), up16(N), up16(K)
    note = "" if (pm, pn, pk) == (M, N, K) else f"padded to {pm}x{pn}x{pk} (cuBLASLt needs multiples of 16)"
    a = torch.randn(pm, pk, device="cuda").to(torch.float8_e4m3fn)
    b = torch.randn(pn, pk, device="cuda").to(torch.float8_e4m3fn).t()
    one = torch.tensor(1.0, device="cuda")
    f = lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    return do_bench(f, return_mode="median"), "cublas fp8 _scaled_mm", note

@triton.jit
def dot_scaled_kernel(a_ptr, as_ptr, b_ptr, bs_ptr, c_ptr, M, N, K,
                      BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, BFMT: tl.constexpr, BPACK: tl.constexpr,
                      AFMT: tl.constexpr):
    # fp8 operands travel as uint8 codes and are bitcast after the masked load: Triton cannot cast the
    # integer `other` of a masked load to fp8.
    pm = tl.program_id(0); pn = tl.program_id(1)
    om = pm * BM + tl.arange(0, BM); on = pn * BN + tl.arange(0, BN)
    oka = tl.arange(0, BK); okb = tl.arange(0, BK // BPACK); oks = tl.arange(0, BK // 32)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, K // BK):
        a = tl.load(a_ptr + om[:, None] * K + (k * BK + oka)[None, :], mask=om[:, None] < M, other=0)
        b = tl.load(b_ptr + (k * (BK // BPACK) + okb)[:, None] + on[None, :] * (K // BPACK), mask=on[None, :] < N, other=0)
        sb = tl.load(bs_ptr + on[:, None] * (K // 32) + (k * (BK // 32) + oks)[None, :], mask=on[:, None] < N, other=127)
        if BFMT == "e4m3":
            b = b.to(tl.float8e4nv, bitcast=True)
        if AFMT == "bf16":
            acc = tl.dot_scaled(a, None, "bf16", b, sb, BFMT, acc)
        else:
            sa = tl.load(as_ptr + om[:, None] * (K // 32) + (k * (BK // 32) + oks)[None, :], mask=om[:, None] < M, other=127)
            acc = tl.dot_scaled(a.to(tl.float8e4nv, bitcast=True), sa, AFMT, b, sb, BFMT, acc)
    tl.store(c_ptr + om[:, None] * N + on[None, :], acc.to(tl.bfloat16), mask=(om[:, None] < M) & (on[None, :] < N))

def dot_scaled(M, N, K, bfmt, afmt="e4m3"):
    if K % 128:
        raise ValueError("the Triton peer kernel needs K % 128 == 0")
    pack = 2 if bfmt == "e2m1" else 1
    a = (torch.randn(M, K, device="cuda", dtype=torch.bfloat16) if afmt == "bf16"
         else torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn).view(torch.uint8))
    sa = torch.randint(120, 130, (M, K // 32), device="cuda", dtype=torch.uint8)
    b = (torch.randint(0, 256, (N, K // 2), device="cuda", dtype=torch.uint8) if pack == 2
         else torch.randn(N, K, device="cuda").to(torch.float8_e4m3fn).view(torch.uint8))
    sb = torch.randint(120, 130, (N, K // 32), device="cuda", dtype=torch.uint8)
    c = torch.empty(M, N, device="cuda", dtype=torch.bfloat16)
    BM = 128 if M >= 128 else 64
    grid = (triton.cdiv(M, BM), triton.cdiv(N, 128))
    f = lambda: dot_scaled_kernel[grid](a, sa, b, sb, c, M, N, K, BM=BM, BN=128, BK=128, BFMT=bfmt, BPACK=pack, AFMT=afmt, num_warps=8, num_stages=3)
    f(); torch.cuda.synchronize()
    return do_bench(f, return_mode="median"), f"triton dot_scaled {afmt} x {bfmt}", ""

def peer_for(kernel):
    if "mxfp4_bf16" in kernel or "dequant_explicit" in kernel:
        return lambda M, N, K: dot_scaled(M, N, K, "e2m1", "bf16")
    if "mxfp4_fp8" in kernel: return lambda M, N, K: dot_scaled(M, N, K, "e2m1")
    if "mxfp8" in kernel: return lambda M, N, K: dot_scaled(M, N, K, "e4m3")
    if "fp8" in kernel and "blockscale" not in kernel: return fp8_mm
    if "bf16" in kernel and "mx" not in kernel: return bf16_mm
    return None

for kind, f in (("bf16", bf16_mm), ("fp8", fp8_mm)):
    try:
        ms, name, _ = f(8192, 8192, 8192)
        emit(ceiling=kind, peer=name, us=ms * 1e3, tflops=2 * 8192**3 / ms / 1e9)
    except Exception as e:
        print(f"ceiling {kind} failed: {type(e).__name__}: {e}", file=sys.stderr)

try:
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
    ms = do_bench(lambda: y.copy_(x), return_mode="median")
    emit(ceiling="copy", peer="torch d2d copy 1 GiB", us=ms * 1e3, gbps=2 * (1 << 30) / ms / 1e6)
    del x, y
except Exception as e:
    print(f"ceiling copy failed: {type(e).__name__}: {e}", file=sys.stderr)

SCALED = ("mxfp8", "mxfp4", "nvfp4", "blockscale", "dequant")
for kernel, M, N, K in cases:
    if any(t in kernel for t in SCALED):
        try:
            ms, name, note = fp8_mm(int(M), int(N), int(K))
            emit(ref=kernel, M=int(M), N=int(N), K=int(K), peer=name, us=ms * 1e3,
                 tflops=2 * int(M) * int(N) * int(K) / ms / 1e9, note=note)
        except Exception as e:
            print(f"ref {kernel} failed: {type(e).__name__}: {e}", file=sys.stderr)

for kernel, M, N, K in cases:
    M, N, K = int(M), int(N), int(K)
    f = peer_for(kernel)
    if f is None:
        emit(kernel=kernel, M=M, N=N, K=K, peer=None, note="no peer for this kernel family"); continue
    try:
        ms, name, note = f(M, N, K)
        emit(kernel=kernel, M=M, N=N, K=K, peer=name, us=ms * 1e3, tflops=2 * M * N * K / ms / 1e9, note=note)
    except Exception as e:
        traceback.print_exc()
        emit(kernel=kernel, M=M, N=N, K=K, peer=None, note=f"{type(e).__name__}: {str(e)[:200]}")
