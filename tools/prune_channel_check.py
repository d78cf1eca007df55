#!/usr/bin/python3
"""prune_channel_check.py -- checks a channel-pruned network against PyTorch
(docs/pruning.md, "Channels").

    /usr/bin/python3 tools/prune_channel_check.py MODEL --image-size N \\
        --input X.npy --case NAME RATIO T.safetensors REPORT.json STATS.txt \\
        Y_REF.npy Y_LLVM.npy [--case ...] [--tol 1e-4]

In each case T is `netc export --format=torch` of the pruned IR, REPORT the
prune pass's JSON, STATS `netc stats` of the pruned IR, Y_REF / Y_LLVM
`netc run` of it on X with the reference interpreter and --backend=llvm.
Checked:

  widths   every pruned group of the report keeps C - floor(RATIO*C)
           channels of its C (RATIO "R:global": all groups together keep
           ΣC - floor(R·ΣC), plus one per group the ranking emptied), its
           kept indices ascending and distinct
           A group with an mha keeps a multiple of its head_dim, and the
           mha's "heads" row keeps that many heads / head_dim.
  model    the torchvision model, with every module whose exported weights
           are smaller replaced by one of those widths (Conv2d, BatchNorm2d,
           Linear, LayerNorm and its subclasses, MultiheadAttention with
           head_dim kept; a depthwise conv stays depthwise) and smaller
           free parameters (class token, position embedding, layer scale)
           and ViT's hidden_dim set,
           loads T with load_state_dict(strict=True)
  counts   its parameters and MACs -- counted here from the modules'
           widths: conv H'W'·C_out·C_in/G·kh·kw, linear rows·in·out, mha
           3LE^2 + 2L^2E + LE^2 -- equal `netc stats` and the report's
           graph totals exactly
  output   its output on X equals Y_REF and Y_LLVM within TOL relative to
           max|Y|

Without torch it exits 77 (ctest: skipped); the widths check needs the
model's attention layers, so it is skipped too. Prints per case the params,
MACs and the largest relative differences.
"""
import argparse
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_golden  # noqa: E402

SKIPPED = 77


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def check_widths(name, ratio, report, mhas):
    """RATIO "R" (per group) or "R:global" (one ranking over all groups).
    MHAS: the model's attention modules, name -> head_dim; a group with one
    of them keeps whole heads (a multiple of head_dim), and each mha's
    "heads" row keeps width / head_dim of its heads."""
    r, _, scope = ratio.partition(":")
    r = float(r)
    rows = [row for row in report["rows"] if row["kind"] == "channel" and row["note"] is None]
    groups = [row for row in rows if not row["name"].endswith(" heads")]
    if not groups:
        fail("%s: the report has no pruned channel group" % name)
    total = kept_total = floored = 0
    heads_want = {}
    for row in groups:
        c, kept = row["width_before"], row["kept"]
        hd = max([mhas[m] for m in row["members"] if m in mhas] or [1])
        # floor(r*C), with the decimal the user wrote (0.3*10 is 3)
        want = (c - int(np.floor(r * c + 1e-9))) // hd * hd
        if len(kept) != row["width_after"] or (scope != "global" and len(kept) != want):
            fail("%s: group %s keeps %d of %d, expected %d" % (name, row["name"], len(kept), c, want))
        if kept != sorted(set(kept)) or kept[0] < 0 or kept[-1] >= c:
            fail("%s: group %s: kept indices not ascending in [0, %d)" % (name, row["name"], c))
        for m in row["members"]:
            if m in mhas:
                heads_want[m] = len(kept) // mhas[m]
        total += c
        kept_total += len(kept)
        floored += hd if len(kept) == hd else 0
    for row in rows:
        m = row["name"][:-len(" heads")]
        if row["name"].endswith(" heads") and len(row["kept"]) != heads_want.get(m):
            fail("%s: %s keeps %d heads, expected %s" % (name, m, len(row["kept"]), heads_want.get(m)))
    # global: floor(r*total) go, less what the groups it would empty keep,
    # and whole heads round down
    want = total - int(np.floor(r * total + 1e-9))
    slack = sum(max([mhas[m] for m in row["members"] if m in mhas] or [1]) for row in groups)
    if scope == "global" and not want - slack <= kept_total <= want + floored:
        fail("%s: %d of %d channels kept, expected about %d" % (name, kept_total, total, want))
    return len(rows)


def shrink_model(model, tensors):
    """Replaces every module (and free parameter) whose exported tensors are
    smaller by one of the exported widths; returns how many were replaced."""
    import torch
    import torch.nn as nn
    replaced = 0
    for mname, mod in list(model.named_modules()):
        if isinstance(mod, nn.MultiheadAttention):
            w = tensors[mname + ".in_proj_weight"]
            if tuple(w.shape) == tuple(mod.in_proj_weight.shape):
                continue
            # whole heads go: head_dim stays, embed_dim = heads * head_dim
            new = nn.MultiheadAttention(w.shape[1], w.shape[1] // mod.head_dim, dropout=mod.dropout,
                                        batch_first=mod.batch_first)
        else:
            w = tensors.get(mname + ".weight")
            if w is None or not isinstance(getattr(mod, "weight", None), torch.Tensor):
                continue
            if isinstance(mod, nn.BatchNorm2d):
                same = tuple(w.shape) == tuple(mod.weight.shape)
                new = None if same else nn.BatchNorm2d(w.shape[0], eps=mod.eps, momentum=mod.momentum)
            elif tuple(w.shape) == tuple(mod.weight.shape):
                continue
            elif isinstance(mod, nn.Conv2d):
                depthwise = mod.groups > 1 and mod.groups == mod.in_channels == mod.out_channels
                groups = w.shape[0] if depthwise else mod.groups
                new = nn.Conv2d(w.shape[1] * groups, w.shape[0], mod.kernel_size, stride=mod.stride,
                                padding=mod.padding, dilation=mod.dilation, groups=groups,
                                bias=mod.bias is not None)
            elif isinstance(mod, nn.Linear):
                new = nn.Linear(w.shape[1], w.shape[0], bias=mod.bias is not None)
            elif isinstance(mod, nn.LayerNorm):  # also torchvision's LayerNorm2d
                new = type(mod)(w.shape[0], eps=mod.eps)
            else:
                fail("no rule to shrink %s (%s) to %s" % (mname, type(mod).__name__, list(w.shape)))
            if new is None:
                continue
        parent, _, leaf = mname.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, leaf, new)
        replaced += 1
    # free parameters (ViT's class token, position embedding)
    for pname, p in list(model.named_parameters()):
        if pname in tensors and tuple(tensors[pname].shape) != tuple(p.shape):
            parent, _, leaf = pname.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, leaf,
                    nn.Parameter(torch.zeros(tensors[pname].shape)))
            replaced += 1
    # torchvision's ViT reshapes the patches with its hidden_dim
    if hasattr(model, "hidden_dim") and hasattr(model, "conv_proj"):
        model.hidden_dim = model.conv_proj.out_channels
    return replaced


def count(model, x):
    """Parameters and MACs of MODEL on X, from the modules' widths."""
    import torch
    import torch.nn as nn
    macs = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            macs[0] += out.numel() * (mod.in_channels // mod.groups) * kh * kw
        elif isinstance(mod, nn.Linear):
            macs[0] += out.numel() // mod.out_features * mod.in_features * mod.out_features
        elif isinstance(mod, nn.MultiheadAttention):
            q = out[0]  # torchvision passes query, key, value by keyword
            e = mod.embed_dim
            n, l = (q.shape[0], q.shape[1]) if mod.batch_first else (q.shape[1], q.shape[0])
            macs[0] += n * (3 * l * e * e + 2 * l * l * e + l * e * e)

    hooks = [m.register_forward_hook(hook) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear, nn.MultiheadAttention))]
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    # nn.MultiheadAttention applies out_proj through F.linear, not the
    # module, so no Linear hook counts its LE^2 twice.
    params = sum(p.numel() for p in model.parameters())
    return params, macs[0], y


def stats_totals(path):
    text = open(path).read()
    p = re.search(r"total parameters:\s+([\d,]+)", text)
    m = re.search(r"total MACs:\s+([\d,]+)", text)
    if not p or not m:
        fail("%s: no totals in netc stats" % path)
    return int(p.group(1).replace(",", "")), int(m.group(1).replace(",", ""))


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--image-size", type=int)
    ap.add_argument("--input", required=True)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--case", nargs=7, action="append", required=True,
                    metavar=("NAME", "RATIO", "T", "REPORT", "STATS", "Y_REF", "Y_LLVM"))
    args = ap.parse_args(argv)
    try:
        import torch
        import torch.nn as nn
    except ImportError:
        print("PyTorch missing: the checks did not run")
        return SKIPPED
    mhas = {n: m.head_dim for n, m in torch_golden.build_model(args.model, image_size=args.image_size).named_modules()
            if isinstance(m, nn.MultiheadAttention)}
    for c in args.case:
        check_widths(c[0], c[1], json.load(open(c[3])), mhas)
    x = torch.from_numpy(np.load(args.input))
    for name, ratio, tpath, rpath, spath, yref, yllvm in args.case:
        report = json.load(open(rpath))
        model = torch_golden.build_model(args.model, image_size=args.image_size)
        tensors = torch_golden.read_safetensors(tpath)
        replaced = shrink_model(model, tensors)
        torch_golden.load_weights(model, tensors)
        model.eval()
        params, macs, y = count(model, x)
        sp, sm = stats_totals(spath)
        g = report["graph"]
        if (params, macs) != (sp, sm) or (params, macs) != (g["params_after"], g["macs_after"]):
            fail("%s: PyTorch counts params %d MACs %d; netc stats %d %d; report %d %d"
                 % (name, params, macs, sp, sm, g["params_after"], g["macs_after"]))
        y = y.numpy()
        er, el = rel(y, np.load(yref)), rel(y, np.load(yllvm))
        print("%s %s: %d modules shrunk, params %d -> %d, MACs %d -> %d, max rel diff ref %.3g llvm %.3g"
              % (args.model, name, replaced, g["params_before"], params, g["macs_before"], macs, er, el))
        if er > args.tol or el > args.tol:
            fail("%s: output differs from netc by %.3g (ref) / %.3g (llvm), tolerance %g"
                 % (name, er, el, args.tol))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
