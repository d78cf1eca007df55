#!/usr/bin/python3
"""sparsify.py -- zeros the smallest-magnitude weights of every conv2d and
linear weight in a .safetensors file (for the sparse kernels' tests and
benchmark; the pruning passes in passes/ are the real tool).

Usage:
  sparsify.py IN.safetensors OUT.safetensors --ratio 0.9

A weight is a tensor whose key ends in "weight" (".weight", mha's
"in_proj_weight") with 2 or 4 dimensions: linear [out, in], conv [out, in,
kh, kw]. Per tensor, the floor(ratio * size) entries of smallest |w| are
set to 0 (ties broken by position, so the count is exact); everything else
is copied unchanged. Run with /usr/bin/python3 (numpy).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_golden import read_safetensors, write_safetensors  # noqa: E402


def sparsify(w, ratio):
    flat = w.astype(np.float32).ravel().copy()
    n = int(np.floor(ratio * flat.size))
    if n > 0:
        flat[np.argsort(np.abs(flat), kind="stable")[:n]] = 0.0
    return flat.reshape(w.shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--ratio", type=float, required=True)
    a = ap.parse_args()
    tensors = read_safetensors(a.input)
    zeros = total = 0
    for key, w in tensors.items():
        if key.endswith("weight") and w.ndim in (2, 4):
            tensors[key] = sparsify(w, a.ratio)
            zeros += int((tensors[key] == 0).sum())
            total += w.size
    write_safetensors(a.output, tensors)
    print("sparsify: %d of %d conv/linear weights zero (%.1f%%)"
          % (zeros, total, 100.0 * zeros / max(total, 1)))


if __name__ == "__main__":
    main()
