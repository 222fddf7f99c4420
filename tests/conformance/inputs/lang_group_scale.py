"""group_scale: offs are sorted cut points from 0 to R (each row in exactly one group; empty groups
allowed), as the kernel's contract requires."""
import numpy as np
from common import parse

out, dims = parse()
rng = np.random.default_rng(29)
rows, g1 = dims["R"], dims["G1"]
cuts = np.sort(rng.integers(0, rows + 1, size=max(g1 - 2, 0)))
offs = np.concatenate([[0], cuts, [rows]]).astype(np.int32)
np.save(f"{out}/offs.npy", offs)
print(f"--arg offs={out}/offs.npy")
