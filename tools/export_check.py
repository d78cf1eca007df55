#!/usr/bin/python3
"""export_check.py -- checks the two files of `netc export` against each
other and against PyTorch (docs/quantization.md, "Exporting").

    /usr/bin/python3 tools/export_check.py MODEL --input X.npy \\
        --case NAME T.safetensors I.safetensors Y.npy [--case ...] \\
        [--image-size N] [--tol 1e-5]

In each case T and I are the same quantized graph exported as
--format=torch and --format=int; Y is `netc run` of that graph on X.
Checked:

  int    every quantized weight (a `netc.quant.NAME` entry whose NAME is a
         tensor) is stored as I8 (bits <= 8) or I16 and lies on its grid;
         (q - zero_point) * scale, in f32 along the entry's axis, equals
         T's NAME bit for bit; T's inline scales equal I's scale tensors
  torch  T's keys are exactly MODEL's state_dict (num_batches_tracked
         included, as int64), all other tensors f32; T loads with
         load_state_dict(strict=True), unchanged; every batchnorm that
         T gives as weight 1 / mean 0 has var + eps == 1 exactly in f32
         and computes x + bias bit for bit; the model's output on X is Y
         within TOL relative to max|Y| (netc's scale, as npy_compare)

The int checks need only numpy. Without torch the script runs them, says
that the PyTorch half was not run, and exits 77 (ctest: skipped), so a
missing torch never passes silently.

Prints the figures the docs quote: tensors and bytes per file, and the
largest relative difference of the logits.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_golden  # noqa: E402

SKIPPED = 77


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def quantizers(meta):
    """name -> the JSON description of every netc.quant.NAME entry."""
    p = "netc.quant."
    return {k[len(p):]: json.loads(v) for k, v in meta.items() if k.startswith(p)}


def along(values, axis, rank):
    """A per-channel vector shaped to broadcast along AXIS of a RANK tensor."""
    v = np.asarray(values)
    if axis < 0:
        return v.reshape([1] * rank) if v.size == 1 else v
    shape = [1] * rank
    shape[axis] = v.size
    return v.reshape(shape)


def check_int(ints, imeta, floats, tmeta):
    """The integer export against the torch export; returns the weight count."""
    iq, tq = quantizers(imeta), quantizers(tmeta)
    weights = [n for n in iq if n in ints]
    if not weights:
        fail("int: no quantized weights described in __metadata__")
    for name in weights:
        q, desc = ints[name], iq[name]
        bits, signed = desc["bits"], desc["signed"]
        want = ("i1" if signed else "u1") if bits <= 8 else ("i2" if signed else "u2")
        if q.dtype != np.dtype(want):
            fail("int: %s is %s, expected %s for %d bits" % (name, q.dtype, np.dtype(want), bits))
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if q.min() < lo or q.max() > hi:
            fail("int: %s has values in [%d, %d], outside the %d-bit grid [%d, %d]"
                 % (name, q.min(), q.max(), bits, lo, hi))
        scale = ints[desc["scale"]]
        if scale.dtype != np.float32:
            fail("int: scale %s is %s, not f32" % (desc["scale"], scale.dtype))
        zp = ints[desc["zero_point"]] if "zero_point" in desc else np.zeros(scale.shape, np.int32)
        if zp.dtype != np.int32:
            fail("int: zero point %s is %s, not i32" % (desc["zero_point"], zp.dtype))
        axis = desc["axis"]
        deq = (q.astype(np.int32) - along(zp, axis, q.ndim)).astype(np.float32) * along(scale, axis, q.ndim)
        if name not in floats:
            fail("int: %s has no tensor in the torch export" % name)
        if deq.dtype != np.float32 or not np.array_equal(deq.view(np.uint32), floats[name].view(np.uint32)):
            bad = int(np.argmax(deq.reshape(-1) != floats[name].reshape(-1)))
            fail("int: %s dequantized differs from the torch export at element %d: %r vs %r"
                 % (name, bad, deq.reshape(-1)[bad], floats[name].reshape(-1)[bad]))
        inline = np.asarray(tq[name]["scale"] if name in tq else [], dtype=np.float32)
        if not np.array_equal(inline.view(np.uint32), scale.reshape(-1).view(np.uint32)):
            fail("torch: the __metadata__ scales of %s differ from the int export's %s" % (name, desc["scale"]))
    return len(weights)


def check_torch(model_name, image_size, floats, x, netc_out, tol):
    """The torch export in the torchvision model; returns (max rel diff, restored batchnorms)."""
    import torch
    model = torch_golden.build_model(model_name, image_size=image_size)
    ref = model.state_dict()
    if set(floats) != set(ref):
        fail("torch: keys differ from %s's state_dict: extra %s, missing %s"
             % (model_name, sorted(set(floats) - set(ref))[:5], sorted(set(ref) - set(floats))[:5]))
    for k, v in floats.items():
        want = np.int64 if k.endswith("num_batches_tracked") else np.float32
        if v.dtype != want:
            fail("torch: %s is %s, expected %s" % (k, v.dtype, np.dtype(want)))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in floats.items()}, strict=True)
    model.eval()
    restored = 0
    gen = torch.Generator().manual_seed(0)
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.BatchNorm2d):
            continue
        if not (torch.all(mod.weight == 1) and torch.all(mod.running_mean == 0)):
            continue
        restored += 1
        if not torch.all(mod.running_var + mod.eps == 1.0):
            fail("torch: %s: running_var + eps is not exactly 1 in f32" % name)
        probe = torch.randn(2, mod.num_features, 5, 5, generator=gen) * 100
        with torch.no_grad():
            if not torch.equal(mod(probe), probe + mod.bias.view(1, -1, 1, 1)):
                fail("torch: %s is not exactly x + bias" % name)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    if y.shape != netc_out.shape:
        fail("torch: output shape %s, netc's %s" % (list(y.shape), list(netc_out.shape)))
    rel = float(np.abs(y.astype(np.float64) - netc_out).max() / np.abs(netc_out).max())
    if not rel <= tol:
        fail("torch: logits differ from netc's by %.3g relative (tolerance %g)" % (rel, tol))
    return rel, restored


def describe(path, tensors):
    size = os.path.getsize(path)
    return "%d tensors, %d bytes (%.2f MiB) in %s" % (len(tensors), size, size / 2**20, os.path.basename(path))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--case", nargs=4, action="append", required=True,
                    metavar=("NAME", "TORCH", "INT", "NETC_OUT"),
                    help="the --format=torch and --format=int exports of one quantized graph and "
                         "netc run's output of it on --input (repeatable: PyTorch is loaded once)")
    ap.add_argument("--input", required=True, help=".npy input")
    ap.add_argument("--image-size", type=int, default=None)
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    cases = []
    for name, tpath, ipath, out in a.case:
        tmeta, imeta = {}, {}
        floats = torch_golden.read_safetensors(tpath, tmeta)
        ints = torch_golden.read_safetensors(ipath, imeta)
        for path, meta, fmt in ((tpath, tmeta, "torch"), (ipath, imeta, "int")):
            if meta.get("netc.format") != fmt:
                fail("%s: netc.format is %r, expected %r" % (path, meta.get("netc.format"), fmt))
        n = check_int(ints, imeta, floats, tmeta)
        print("ok %s int: %d quantized weights in range, dequantized bit-exact to the torch export" % (name, n))
        print("   " + describe(ipath, ints))
        print("   " + describe(tpath, floats))
        cases.append((name, floats, out))
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError as e:
        print("SKIPPED torch: %s cannot import PyTorch (%s); install python3-torch python3-torchvision"
              % (sys.executable, e))
        sys.exit(SKIPPED)
    x = np.load(a.input).astype(np.float32)
    for name, floats, out in cases:
        rel, restored = check_torch(a.model, a.image_size, floats, x, np.load(out), a.tol)
        print("ok %s torch: strict load_state_dict, %d batchnorms restored exactly, logits within %.3g "
              "relative of netc's" % (name, restored, rel))


if __name__ == "__main__":
    main()
