"""adam_step: the second moment v is never negative (it is a running mean of g^2); typical step-1
hyper-parameters with their bias corrections."""
import numpy as np
from common import parse

out, dims = parse()
rng = np.random.default_rng(23)
n = dims["N"]
np.save(f"{out}/v.npy", (rng.standard_normal(n) ** 2).astype(np.float32))
scalars = dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, bc1=0.1, bc2=0.001)
print(f"--arg v={out}/v.npy " + " ".join(f"--arg {k}={v}" for k, v in scalars.items()))
