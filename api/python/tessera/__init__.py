"""Tessera kernels on torch tensors.

    import tessera, torch
    k = tessera.load_bundle("out/axpy")               # a `tessera build` bundle (no compiler needed)
    k(x, y, 2.0, z)                                     # torch CUDA tensors + Python scalars, in order
    # scaled tensors: tessera.Scaled(codes_uint8_or_fp8, scales, global_scale=None)

Every tensor is checked against the kernel's signature (device, contiguity, dtype, rank, the dims
it binds, scales) before the launch, which goes on torch's current stream of the tensors' device.
Errors are `tessera.TesseraError` with `.code` (`tessera explain CODE`).
"""

from __future__ import annotations

from ._tessera import COMPILER, Kernel as _RawKernel, TesseraError, cuda_available  # noqa: F401
from . import _tessera

__all__ = ["load_bundle", "compile", "Kernel", "Scaled", "TesseraError", "cuda_available", "register_op"]

# The torch dtypes a Tessera dtype may come in. Sub-byte and scale formats travel as uint8 codes
# (fp4: two per byte along the packed axis; fp6: one code per byte; e8m0/ue4m3 scales: one per byte).
_TORCH_NAMES = {
    "f32": ("float32",),
    "f16": ("float16",),
    "bf16": ("bfloat16",),
    "i32": ("int32",),
    "i8": ("int8",),
    "f8e4m3": ("float8_e4m3fn", "uint8"),
    "f8e4m3fnuz": ("float8_e4m3fnuz", "uint8"),
    "f8e5m2": ("float8_e5m2", "uint8"),
    "f6e2m3": ("uint8",),
    "f6e3m2": ("uint8",),
    "f4e2m1": ("uint8", "float4_e2m1fn_x2"),
    "e8m0": ("uint8", "float8_e8m0fnu"),
    "ue4m3": ("uint8", "float8_e4m3fn"),
}


def _error(code: str, msg: str) -> TesseraError:
    e = TesseraError(f"error[{code}]: {msg}")
    e.code = code
    return e


class Scaled:
    """A block-scaled tensor: its codes, its scales (row-major `ceil(dim / block)`, or the flat
    prepacked buffer for a swizzled layout) and, for NVFP4, its per-tensor f32 scale."""

    def __init__(self, codes, scales, global_scale: float | None = None):
        self.codes, self.scales, self.global_scale = codes, scales, global_scale


def _torch_name(t) -> str:
    return str(t.dtype).replace("torch.", "")


def _check_tensor(p: dict, t, what: str, dtype: str, device):
    if not hasattr(t, "data_ptr"):
        raise _error("E0511", f"`{p['name']}`{what} must be a torch tensor, got {type(t).__name__}")
    if not t.is_cuda:
        raise _error("E0511", f"`{p['name']}`{what} is on {t.device}; Tessera kernels take CUDA tensors")
    if device is not None and t.device != device:
        raise _error("E0511", f"`{p['name']}`{what} is on {t.device} but other arguments are on {device}")
    if not t.is_contiguous():
        raise _error("E0511", f"`{p['name']}`{what} is not contiguous (call .contiguous())")
    ok = _TORCH_NAMES.get(dtype, ())
    if _torch_name(t) not in ok:
        raise _error(
            "E0511",
            f"`{p['name']}`{what} is {dtype} in the kernel; pass a torch {' or '.join(ok) or '?'} tensor, "
            f"not {_torch_name(t)}",
        )


def _logical_shape(p: dict, t) -> list[int]:
    shape = list(t.shape)
    ax = p.get("packed_axis")
    if p["dtype"] == "f4e2m1" and ax is not None and _torch_name(t) == "uint8":
        shape[ax] *= 2  # two FP4 codes per byte along the packed axis
    return shape


class Kernel:
    """A loaded Tessera kernel; call it with the arguments in the signature's order."""

    def __init__(self, raw: _RawKernel):
        self._k = raw
        self.signature = raw.signature()
        self.name = raw.name
        self.target = raw.target

    def __repr__(self):
        return f"<tessera.Kernel {self._k.signature_text()} for {self.target}>"

    def _pack(self, args):
        if len(args) != len(self.signature):
            raise _error(
                "E0511",
                f"{len(args)} arguments for {len(self.signature)} parameters of {self._k.signature_text()}",
            )
        packed, device = [], None
        for p, a in zip(self.signature, args):
            if p["kind"] == "scalar":
                if hasattr(a, "data_ptr"):
                    raise _error("E0511", f"`{p['name']}` is a scalar {p['dtype']}; pass a Python number")
                packed.append(("s", float(a)))
                continue
            scaled = isinstance(a, Scaled)
            if p["scale"] is not None and not scaled:
                raise _error("E0508", f"`{p['name']}` is block-scaled: pass tessera.Scaled(codes, scales)")
            if p["scale"] is None and scaled:
                raise _error("E0508", f"`{p['name']}` has no scale contract; pass a plain tensor")
            codes = a.codes if scaled else a
            _check_tensor(p, codes, "", p["dtype"], device)
            device = codes.device
            sp = ss = g = None
            if scaled:
                _check_tensor(p, a.scales, " scales", p["scale"]["dtype"], device)
                sp, ss, g = a.scales.data_ptr(), list(a.scales.shape), a.global_scale
            packed.append(("t", codes.data_ptr(), p["dtype"], _logical_shape(p, codes), sp, ss, g))
        return packed, device

    def bind(self, *args):
        """Check the arguments and plan the launch without launching: {"dims", "grid", "block"}."""
        packed, _ = self._pack(args)
        return self._k.bind(packed)

    def __call__(self, *args):
        import torch

        packed, device = self._pack(args)
        if device is None:
            raise _error("E0511", "no tensor arguments: cannot tell the device")
        stream = torch.cuda.current_stream(device)
        self._k.launch(packed, stream.cuda_stream, device.index or 0)


def load_bundle(path) -> Kernel:
    """Load a bundle directory (`tessera build FILE.tsr --target sm_90a -o DIR`)."""
    return Kernel(_tessera.load_bundle(str(path)))


def compile(source: str, kernel: str | None = None, target: str = "sm_90a") -> Kernel:
    """Compile a kernel (through the on-disk cache). A runtime-only build (no `compile` feature) can
    only load what a compiling build of the same source left in the cache."""
    return Kernel(_tessera.compile(source, kernel, target))


def register_op(k: Kernel, name: str | None = None):
    """Register `k` as the torch custom op `tessera::<name>` (torch.library.custom_op): it mutates its
    `out` tensors and returns nothing, so it also works under torch.compile. Returns the op."""
    import torch

    outs = tuple(p["name"] for p in k.signature if p["kind"] == "tensor" and p.get("out"))
    params = [p for p in k.signature]
    if any(p.get("scale") is not None for p in params):
        raise _error("E0511", "register_op takes kernels without scaled tensors (pass codes and scales directly)")
    def ann(p):
        if p["kind"] == "tensor":
            return "torch.Tensor"
        return "float" if p["dtype"] in ("f32", "f16", "bf16") else "int"

    sig = ", ".join(f"{p['name']}: {ann(p)}" for p in params)
    src = f"def _op({sig}) -> None:\n    _k(" + ", ".join(p["name"] for p in params) + ")\n"
    env = {"torch": torch, "_k": k}
    exec(src, env)  # a real signature, so torch.library can infer the schema
    op = torch.library.custom_op(f"tessera::{name or k.name}", mutates_args=outs)(env["_op"])

    def _fake(*_args, **_kwargs):
        return None  # outputs are mutated in place: nothing to allocate under FakeTensor tracing

    op.register_fake(_fake)
    return op
