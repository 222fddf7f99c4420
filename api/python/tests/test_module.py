"""The Python module without a GPU and without torch: import, signatures, coded errors, bind.

Run (after building the extension; scripts/python-dev.sh does both):
    PYTHONPATH=api/python python3 api/python/tests/test_module.py BUNDLE_DIR
"""

import sys

import tessera


class FakeTensor:
    """Just enough of a torch CUDA tensor for the checks (no torch needed)."""

    def __init__(self, dtype, shape, ptr=0x1000, cuda=True, contiguous=True, device="cuda:0"):
        self.dtype, self.shape, self._ptr = f"torch.{dtype}", tuple(shape), ptr
        self.is_cuda, self._contig, self.device = cuda, contiguous, device

    def data_ptr(self):
        return self._ptr

    def is_contiguous(self):
        return self._contig


def expect(code, f):
    try:
        f()
    except tessera.TesseraError as e:
        assert e.code == code, (code, e.code, str(e))
        assert str(e).startswith(f"error[{code}]"), str(e)
        return str(e)
    raise AssertionError(f"expected {code}")


def main(bundle):
    k = tessera.load_bundle(bundle)
    names = [p["name"] for p in k.signature]
    assert names == ["x", "b", "alpha", "y"], names
    x, b, y = FakeTensor("float32", [100, 70]), FakeTensor("float32", [70]), FakeTensor("float32", [100, 70])
    plan = k.bind(x, b, 0.5, y)
    assert plan["dims"] == {"M": 100, "N": 70} and plan["grid"] == [4, 2, 1], plan
    expect("E0511", lambda: k.bind(x, b, 0.5))
    expect("E0511", lambda: k.bind(FakeTensor("bfloat16", [100, 70]), b, 0.5, y))
    expect("E0511", lambda: k.bind(FakeTensor("float32", [100, 70], cuda=False), b, 0.5, y))
    expect("E0511", lambda: k.bind(FakeTensor("float32", [100, 70], contiguous=False), b, 0.5, y))
    expect("E0502", lambda: k.bind(x, FakeTensor("float32", [71]), 0.5, y))
    expect("E0511", lambda: k.bind(x, b, x, y))
    expect("E0508", lambda: k.bind(tessera.Scaled(x, x), b, 0.5, y))
    expect("E0860", lambda: tessera.load_bundle("/nonexistent"))
    print("python module: ok", k, "compiler:", tessera.COMPILER, "cuda:", tessera.cuda_available())


if __name__ == "__main__":
    main(sys.argv[1])
