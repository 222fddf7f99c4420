"""`import tessera` on torch tensors (the runtime-only extension; bundles built by scripts/gpu-embed.sh).

Elementwise kernels against torch, gemm_bf16 against torch.matmul, gemm_fp8 against torch._scaled_mm,
the error paths (CPU tensor, wrong dtype, non-contiguous, shape mismatch), a non-default stream, and
the torch.library custom op under torch.compile.
"""
import sys

import torch

import tessera

fails = 0


def check(name, ok, detail=""):
    global fails
    print(("PASS " if ok else "FAIL ") + name, detail)
    fails += 0 if ok else 1


def code_of(f):
    try:
        f()
    except tessera.TesseraError as e:
        return e.code
    return None


dev = torch.device("cuda:0")
torch.manual_seed(0)
print("tessera:", "compiler" if tessera.COMPILER else "runtime-only", "| cuda:", tessera.cuda_available(), "|", torch.cuda.get_device_name(0))

sa = tessera.load_bundle("bundles/scale_add")
print(sa)
for (m, n) in [(100, 200), (1000, 4099), (1, 1)]:
    x, b = torch.randn(m, n, device=dev), torch.randn(n, device=dev)
    y = torch.empty(m, n, device=dev)
    sa(x, b, 0.75, y)
    torch.cuda.synchronize()
    err = (y - (x * 0.75 + b)).abs().max().item()
    check(f"scale_add {m}x{n} vs torch", err < 1e-5, f"max|err| {err:.2e}")

ax = tessera.load_bundle("bundles/axpy")
x, y = torch.randn(12345, device=dev), torch.randn(12345, device=dev)
z = torch.empty_like(x)
s = torch.cuda.Stream()
with torch.cuda.stream(s):  # torch's current stream is the one used
    ax(x, y, -1.5, z)
s.synchronize()
check("axpy on a side stream vs torch", torch.allclose(z, -1.5 * x + y, atol=1e-6))

# errors, all before any launch
x = torch.randn(64, 64, device=dev)
b = torch.randn(64, device=dev)
y = torch.empty(64, 64, device=dev)
check("CPU tensor -> E0511", code_of(lambda: sa(x.cpu(), b, 1.0, y)) == "E0511")
check("wrong dtype -> E0511", code_of(lambda: sa(x.half(), b, 1.0, y)) == "E0511")
check("non-contiguous -> E0511", code_of(lambda: sa(x.t(), b, 1.0, y)) == "E0511")
check("N mismatch -> E0502", code_of(lambda: sa(x, torch.randn(65, device=dev), 1.0, y)) == "E0502")
check("arity -> E0511", code_of(lambda: sa(x, b, 1.0)) == "E0511")

# GEMMs on the Hopper path
M, N, K = 1000, 1000, 1024
gb = tessera.load_bundle("bundles/gemm_bf16")
a = torch.randn(M, K, device=dev, dtype=torch.bfloat16)
w = torch.randn(N, K, device=dev, dtype=torch.bfloat16)
c = torch.empty(M, N, device=dev, dtype=torch.bfloat16)
try:
    gb(a, w, c)
    torch.cuda.synchronize()
    ref = a.float() @ w.float().t()
    rel = ((c.float() - ref).norm() / ref.norm()).item()
    check("gemm_bf16 1000x1000x1024 vs torch.matmul", rel < 1e-2, f"rel L2 {rel:.2e}")
except Exception as e:  # noqa: BLE001
    check("gemm_bf16", False, repr(e))

g8 = tessera.load_bundle("bundles/gemm_fp8")
print(g8)
M, N, K = 256, 512, 384
a8 = (torch.randn(M, K, device=dev) * 0.5).to(torch.float8_e4m3fn)
w8 = (torch.randn(N, K, device=dev) * 0.5).to(torch.float8_e4m3fn)
c8 = torch.empty(M, N, device=dev, dtype=torch.bfloat16)
try:
    g8(a8, w8, 0.5, 2.0, c8)
    torch.cuda.synchronize()
    one = torch.tensor(1.0, device=dev)
    ref = torch._scaled_mm(a8, w8.t(), scale_a=one * 0.5, scale_b=one * 2.0, out_dtype=torch.bfloat16)
    rel = ((c8.float() - ref.float()).norm() / ref.float().norm()).item()
    check("gemm_fp8 vs torch._scaled_mm", rel < 2e-2, f"rel L2 {rel:.2e}")
except Exception as e:  # noqa: BLE001
    check("gemm_fp8", False, repr(e))

# torch.library custom op, eager and under torch.compile
try:
    op = tessera.register_op(sa, "scale_add")
    x, b = torch.randn(128, 256, device=dev), torch.randn(256, device=dev)
    y = torch.empty_like(x)
    op(x, b, 2.0, y)
    torch.cuda.synchronize()
    check("custom op tessera::scale_add (eager)", torch.allclose(y, 2.0 * x + b, atol=1e-5))

    def f(x, b):
        y = torch.empty_like(x)
        torch.ops.tessera.scale_add(x, b, 2.0, y)
        return y.relu()

    yc = torch.compile(f)(x, b)
    torch.cuda.synchronize()
    check("custom op under torch.compile", torch.allclose(yc, (2.0 * x + b).relu(), atol=1e-5))
except Exception as e:  # noqa: BLE001
    check("custom op", False, repr(e))

print("failed:", fails)
sys.exit(1 if fails else 0)
