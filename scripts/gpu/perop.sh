#!/usr/bin/env bash
# Per-op lowering speed on the H200 in one call: per-op GEMMs (vectorised loads/stores, vector
# shared-memory staging) vs the default gemm_bf16 build and torch (cuBLAS) at 4096^3, and
# memory-bound per-op kernels vs torch. Results: $OUT/perop.jsonl (runner), $OUT/perop-torch.txt.
set -u
cd "$(dirname "$0")"  # .gpu/ on the device
R=bin/tessera-runner
J=${OUT:-.}/perop.jsonl
D="--dim M=4096 --dim N=4096 --dim K=4096"
$R bench conformance/gemm_bf16 $D --json $J 2>&1 | tail -1
for b in perop/*; do $R bench $b $D --json $J 2>&1 | tail -1; done
$R bench conformance/swiglu_gemm_bf16 --dim M=4096 --dim I=4096 --dim K=4096 --json $J 2>&1 | tail -1
$R bench conformance/vector_add --dim N=67108864 --json $J 2>&1 | tail -1
$R bench conformance/softmax_rows --dim M=262144 --dim N=128 --json $J 2>&1 | tail -1
$R bench conformance/rmsnorm_bf16 --dim M=65536 --dim N=256 --scalar eps=0.000001 --json $J 2>&1 | tail -1
python3 - <<'PY' > ${OUT:-.}/perop-torch.txt 2>&1
import torch, time
def t(f, it=50):
    for _ in range(10): f()
    torch.cuda.synchronize(); ev=[torch.cuda.Event(enable_timing=True) for _ in range(2)]
    ts=[]
    for _ in range(it):
        ev[0].record(); f(); ev[1].record(); torch.cuda.synchronize(); ts.append(ev[0].elapsed_time(ev[1]))
    ts.sort(); return ts[len(ts)//2]
n=4096
a=torch.randn(n,n,device='cuda',dtype=torch.bfloat16); b=torch.randn(n,n,device='cuda',dtype=torch.bfloat16); r=torch.randn(n,n,device='cuda',dtype=torch.bfloat16)
ms=t(lambda: torch.addmm(r, a, b.t())); print(f"torch addmm bf16 4096^3: {ms:.3f} ms {2*n**3/ms/1e9:.1f} TFLOP/s")
ms=t(lambda: a@b.t()); print(f"torch matmul bf16 4096^3: {ms:.3f} ms {2*n**3/ms/1e9:.1f} TFLOP/s")
x=torch.randn(1<<26,device='cuda'); y=torch.randn(1<<26,device='cuda')
ms=t(lambda: x+y); print(f"torch add f32 2^26: {ms:.3f} ms {3*4*(1<<26)/ms/1e6:.1f} GB/s")
s=torch.randn(262144,128,device='cuda')
ms=t(lambda: torch.softmax(s,1)); print(f"torch softmax f32 262144x128: {ms:.3f} ms {2*4*s.numel()/ms/1e6:.1f} GB/s")
h=torch.randn(65536,256,device='cuda',dtype=torch.bfloat16); w=torch.randn(256,device='cuda',dtype=torch.bfloat16)
ms=t(lambda: torch.nn.functional.rms_norm(h,(256,),w,1e-6)); print(f"torch rms_norm bf16 65536x256: {ms:.3f} ms {2*2*h.numel()/ms/1e6:.1f} GB/s")
PY
cat ${OUT:-.}/perop-torch.txt
