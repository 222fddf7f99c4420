"""tessera-runner run/validate on .npy inputs made with torch; outputs compared with torch."""
import os
import subprocess
import sys

import numpy as np
import torch

R = "./bin/tessera-runner"
T = "npy_tmp"
os.makedirs(T, exist_ok=True)
fails = 0


def sh(*args):
    p = subprocess.run([R, *args], capture_output=True, text=True)
    print("$", R, " ".join(args))
    print((p.stdout + p.stderr).strip())
    return p.returncode


def check(name, ok, detail=""):
    global fails
    print(("PASS " if ok else "FAIL ") + name, detail)
    fails += 0 if ok else 1


torch.manual_seed(0)
# scale_add: y = x * alpha + b
x = torch.randn(100, 200)
b = torch.randn(200)
np.save(f"{T}/x.npy", x.numpy())
np.save(f"{T}/b.npy", b.numpy())
rc = sh("run", "bundles/scale_add", "--arg", f"x={T}/x.npy", "--arg", f"b={T}/b.npy", "--arg", "alpha=0.5", "--out", f"y={T}/y.npy")
y = torch.from_numpy(np.load(f"{T}/y.npy"))
err = (y - (x * 0.5 + b)).abs().max().item() if rc == 0 else float("inf")
check("runner run scale_add --arg .npy", rc == 0 and err < 1e-5, f"max|err| {err:.2e}")
rc = sh("validate", "bundles/scale_add", "--arg", f"x={T}/x.npy", "--arg", f"b={T}/b.npy", "--arg", "alpha=0.5")
check("runner validate scale_add on .npy inputs", rc == 0)
# gemm_fp8 on fp8 codes (uint8 .npy), checked against torch._scaled_mm
M, N, K = 256, 512, 384
a = (torch.randn(M, K) * 0.5).to(torch.float8_e4m3fn)
w = (torch.randn(N, K) * 0.5).to(torch.float8_e4m3fn)
np.save(f"{T}/a.npy", a.view(torch.uint8).numpy())
np.save(f"{T}/w.npy", w.view(torch.uint8).numpy())
rc = sh("run", "bundles/gemm_fp8", "--arg", f"a={T}/a.npy", "--arg", f"b={T}/w.npy", "--arg", "scale_a=0.5", "--arg", "scale_b=2", "--out", f"c={T}/c.npy")
if rc == 0:
    # bf16 outputs are stored as their bits ('<u2')
    c = torch.from_numpy(np.load(f"{T}/c.npy").view(np.int16)).view(torch.bfloat16).float()
    ref = (a.float() @ w.float().t()) * (0.5 * 2.0)
    rel = ((c - ref).norm() / ref.norm()).item()
    check("runner run gemm_fp8 --arg .npy vs fp32 matmul", rel < 1e-2, f"rel L2 {rel:.2e}")
else:
    check("runner run gemm_fp8 --arg .npy", False)
rc = sh("validate", "bundles/gemm_fp8", "--arg", f"a={T}/a.npy", "--arg", f"b={T}/w.npy", "--arg", "scale_a=0.5", "--arg", "scale_b=2")
check("runner validate gemm_fp8 on .npy inputs", rc == 0)
# F11 on the GPU machine too: an out parameter given as input is refused (exit 2, E0511)
p = subprocess.run([R, "run", "bundles/scale_add", "--arg", f"x={T}/x.npy", "--arg", f"b={T}/b.npy", "--arg", "alpha=1", "--arg", f"y={T}/x.npy"], capture_output=True, text=True)
check("runner refuses --arg for an out parameter", p.returncode == 2 and "E0511" in p.stderr, p.stderr.strip()[:200])
sys.exit(1 if fails else 0)
