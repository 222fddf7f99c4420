"""Shared argument parsing for the conformance input scripts (see README.md)."""
import sys


def parse():
    """(out_dir, {dim: n}) from `OUT_DIR --dim NAME=N ...`."""
    out, dims, args = sys.argv[1], {}, sys.argv[2:]
    for i, a in enumerate(args):
        if a == "--dim":
            name, n = args[i + 1].split("=")
            dims[name] = int(n)
    return out, dims
