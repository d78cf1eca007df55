#!/usr/bin/python3
"""prune_check.py -- checks netc's mask pruning (element, n:m, block)
against a PyTorch re-implementation written from the algorithms'
descriptions (docs/pruning.md, research/passes.md §2.1, §2.4, §2.5).

    /usr/bin/python3 tools/prune_check.py MODEL --weights W.safetensors \\
        --input X.npy [--image-size N] \\
        --case SPEC PRUNED.safetensors REPORT.json Y.npy [Y2.npy ...] [--case ...]

W holds the weights before pruning (`netc init`), PRUNED the state_dict
`netc export --format=torch --prune SPEC` wrote, REPORT the
--prune-report JSON, Y... `netc run` outputs of the pruned net (reference
interpreter, LLVM backend). For every case:

  mask    the weights PyTorch would prune are recomputed from W alone:
          element:R  per layer, floor(R·n) smallest |w| of each weight,
                     ties: the later index goes first
          element:R:global  one ranking over all weights, floor(R·Σn)
          nm:N:M     the weight as [out, in·kh·kw], runs of M from column 0,
                     the N largest |w| of each run kept (earlier on ties)
          block:R[:RxC][:l2]  the [in·kh·kw, out] matrix in RxC tiles,
                     floor(R·T) tiles of least L1 (L2) norm removed
                     (ties: the later tile in row-major order first)
          PRUNED must equal W times that mask exactly, for every weight
  counts  the report's nonzeros per weight equal the mask's
  output  the dense torchvision model with PRUNED loaded strictly gives
          every Y within 1e-4 relative to max|Y|

Exit 0 when all hold, 1 on a failure, 77 when torch is missing.
"""
import argparse
import json
import math
import os
import sys
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_golden  # noqa: E402

SKIPPED = 77


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def count(ratio, n):
    """floor(ratio * n) for the ratio as written in decimal."""
    return math.floor(Fraction(ratio) * n)


def lowest(scores, k):
    """Boolean removal of the k lowest scores; on ties the higher index first."""
    scores = np.asarray(scores, dtype=np.float32).ravel()
    removed = np.zeros(scores.size, dtype=bool)
    if k <= 0:
        return removed
    idx = np.arange(scores.size)
    order = np.lexsort((-idx, scores))  # scores ascending, then index descending
    removed[order[:k]] = True
    return removed


def matrix(w):
    """The weight as [out, in*kh*kw]."""
    return w.reshape(w.shape[0], -1)


def element_masks(weights, ratio, scope_global):
    if not scope_global:
        return {k: ~lowest(np.abs(w), count(ratio, w.size)).reshape(w.shape) for k, w in weights.items()}
    keys = list(weights)
    flat = np.concatenate([np.abs(weights[k]).ravel() for k in keys])
    removed = lowest(flat, count(ratio, flat.size))
    out, off = {}, 0
    for k in keys:
        n = weights[k].size
        out[k] = ~removed[off:off + n].reshape(weights[k].shape)
        off += n
    return out


def nm_mask(w, n, m):
    mat = np.abs(matrix(w))
    keep = np.zeros(mat.shape, dtype=bool)
    for c0 in range(0, mat.shape[1], m):
        run = mat[:, c0:c0 + m]
        # stable sort of -|w|: the earlier of equal weights first
        order = np.argsort(-run, axis=1, kind="stable")[:, :n]
        rows = np.arange(mat.shape[0])[:, None]
        keep[rows, c0 + order] = True
    return keep.reshape(w.shape)


def block_mask(w, ratio, rows, cols, norm):
    mat = matrix(w).T  # [in*kh*kw, out]: a crossbar's rows and columns
    tr, tc = -(-mat.shape[0] // rows), -(-mat.shape[1] // cols)
    score = np.zeros((tr, tc), dtype=np.float64)
    for i in range(tr):
        for j in range(tc):
            t = mat[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols].astype(np.float64)
            score[i, j] = np.sqrt((t * t).sum()) if norm == 2 else np.abs(t).sum()
    removed = lowest(score.astype(np.float32), count(ratio, tr * tc)).reshape(tr, tc)
    keep = np.ones(mat.shape, dtype=bool)
    for i in range(tr):
        for j in range(tc):
            if removed[i, j]:
                keep[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols] = False
    return keep.T.reshape(w.shape)


def parse_spec(spec):
    f = spec.split(":")
    kind = f[0]
    if kind == "nm":
        n, m = (int(f[1]), int(f[2])) if len(f) == 3 else (2, 4)
        return {"kind": kind, "n": n, "m": m}
    s = {"kind": kind, "ratio": f[1], "global": False, "norm": 1, "block": (128, 128)}
    for x in f[2:]:
        if x == "global":
            s["global"] = True
        elif x in ("l1", "l2"):
            s["norm"] = int(x[1])
        elif "x" in x:
            r, c = x.split("x")
            s["block"] = (int(r), int(c))
        else:
            fail("unknown spec setting " + x)
    return s


def pruned_weight_keys(model, torch):
    """The state_dict keys netc prunes: every conv2d / linear weight and
    each multi-head attention's in_proj_weight (its out_proj is a Linear)."""
    keys = []
    for name, mod in model.named_modules():
        prefix = name + "." if name else ""
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            keys.append(prefix + "weight")
        elif isinstance(mod, torch.nn.MultiheadAttention):
            keys.append(prefix + "in_proj_weight")
    return keys


def check_case(args, model_name, torch, base, case):
    spec_text, pruned_path, report_path = case[0], case[1], case[2]
    outputs = case[3:]
    spec = parse_spec(spec_text)
    model = torch_golden.build_model(model_name, image_size=args.image_size).eval()
    keys = pruned_weight_keys(model, torch)
    weights = {k: base[k] for k in keys}
    if spec["kind"] == "element":
        masks = element_masks(weights, spec["ratio"], spec["global"])
    elif spec["kind"] == "nm":
        masks = {k: nm_mask(w, spec["n"], spec["m"]) for k, w in weights.items()}
    elif spec["kind"] == "block":
        masks = {k: block_mask(w, spec["ratio"], *spec["block"], spec["norm"])
                 for k, w in weights.items()}
    else:
        fail("prune_check.py checks element, nm and block masks, not " + spec["kind"])

    pruned = torch_golden.read_safetensors(pruned_path)
    removed = total = 0
    for k in keys:
        want = np.where(masks[k], base[k], np.float32(0))
        got = pruned[k]
        if got.shape != want.shape:
            fail("%s %s: shape %s, expected %s" % (spec_text, k, got.shape, want.shape))
        bad = np.flatnonzero((got != want).ravel())
        if bad.size:
            i = bad[0]
            fail("%s %s: %d of %d weights differ from the re-implementation, first at %d (got %r, expected %r)"
                 % (spec_text, k, bad.size, got.size, i, got.ravel()[i], want.ravel()[i]))
        removed += int((~masks[k]).sum())
        total += masks[k].size
    for k in pruned:
        if k not in keys and k in base and not np.array_equal(pruned[k], base[k]):
            fail("%s %s: a parameter that is not pruned changed" % (spec_text, k))

    report = json.load(open(report_path))
    by_member = {r["members"][0]: r for r in report["rows"]}
    for k in keys:
        r = by_member.get(k)
        if r is None:
            fail("%s: the report has no row for %s" % (spec_text, k))
        if r["nonzeros_after"] != int(np.count_nonzero(np.where(masks[k], base[k], 0))):
            fail("%s %s: the report says %d nonzeros, the mask keeps %d"
                 % (spec_text, k, r["nonzeros_after"], int(masks[k].sum())))

    torch_golden.load_weights(model, pruned)  # strict=True
    x = torch.from_numpy(np.load(args.input))
    with torch.no_grad():
        y = model(x).numpy()
    worst = 0.0
    for path in outputs:
        got = np.load(path)
        scale = max(float(np.abs(got).max()), 1e-30)
        err = float(np.abs(got - y).max()) / scale
        worst = max(worst, err)
        if not err <= args.tol:
            fail("%s: %s differs from PyTorch's dense model with the pruned weights by %.3g relative (tol %g)"
                 % (spec_text, os.path.basename(path), err, args.tol))
    print("ok %s %s: %d weights in %d tensors, %d removed (%.2f%%), masks equal the re-implementation; "
          "output max rel diff %.3g over %d runs"
          % (model_name, spec_text, total, len(keys), removed, 100.0 * removed / total, worst, len(outputs)))


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--image-size", type=int, default=None)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--case", nargs="+", action="append", required=True)
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: the pruning checks did not run")
        return SKIPPED
    torch.set_num_threads(1)
    base = torch_golden.read_safetensors(args.weights)
    for case in args.case:
        if len(case) < 4:
            fail("--case needs SPEC PRUNED REPORT Y...")
        check_case(args, args.model, torch, base, case)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
