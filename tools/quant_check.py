#!/usr/bin/env python3
"""quant_check.py — a PyTorch re-implementation of netc's quantize pass, to
check a quantized net against (docs/quantization.md).

    /usr/bin/python3 tools/quant_check.py MODEL --weights W.safetensors \\
        --report R.json --input X.npy --out EXPECTED.npy [--calib C.npy]

From the float weights, independently of netc: BatchNorm is folded into the
convolutions (torch.fx's fuse, as netc's fold-bn pass does), every Conv2d /
Linear / MultiheadAttention weight is fake-quantized per output channel on
the narrow symmetric grid with scales from torch.ao's
PerChannelMinMaxObserver (quant_min = -(2^(b-1) - 1)), at the bits the
report gives the layer. Each layer's input is fake-quantized with
torch.fake_quantize_per_tensor_affine at the scale and zero point of the
report — netc's own activation scales, because they come from min/max of
activations that PyTorch computes with different rounding, and a scale that
differs in the last bit moves values across rounding boundaries. With
--calib the script also computes those ranges itself (MinMaxObserver over
the same runs) and prints how far netc's scales are from PyTorch's.

A report with "pow2": true is the fixed-point mode (F8Net: Jin et al.,
"F8Net: Fixed-Point 8-bit Only Multiplication for Network Quantization",
ICLR 2022): every scale is 2^-fl with the fractional length from the
standard deviation s of the data, fl = floor(log2(40 / s)) for signed data
and floor(log2(70 / s)) for unsigned, clamped here to [0, 15] (netc's
range; F8Net's own [0, 7] / [0, 8] assumes its training-time rescaling).
This script applies that rule itself: per output channel to the weights
(grid [-127, 127]), and per point to the layer inputs over the --calib
runs (zero point 0 when the observed minimum is >= 0, else 128 on [0,
255]); it then requires netc's activation scales and zero points to be
the same powers of two, and quantizes with its own.

Writes the fake-quantized model's output on X to EXPECTED.npy.
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.fx
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver
from torch.fx.experimental.optimization import fuse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_golden  # noqa: E402


def fake_quant_weight(w, bits):
    top = (1 << (bits - 1)) - 1
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                   quant_min=-top, quant_max=top)
    obs(w)
    scale, zp = obs.calculate_qparams()
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return torch.fake_quantize_per_channel_affine(w, scale.float(), zp.to(torch.int32), 0, lo, hi)


# The fixed-point mode's fractional lengths: F8Net's rule from the standard
# deviation, and the range netc clamps it to.
POW2_COEFF = {True: 40.0, False: 70.0}
POW2_MAX_FL = 15


def pow2_fraclen(std, signed):
    """floor(log2(c / std)) clamped to [0, POW2_MAX_FL], elementwise on a
    float64 tensor of standard deviations (0 gives the largest)."""
    fl = torch.floor(torch.log2(POW2_COEFF[signed] / std))
    return torch.nan_to_num(fl, nan=POW2_MAX_FL, posinf=POW2_MAX_FL).clamp(0, POW2_MAX_FL)


def fake_quant_weight_pow2(w):
    std = w.detach().double().flatten(1).std(dim=1)  # per output channel, n - 1
    scale = torch.pow(2.0, -pow2_fraclen(std, True)).float()
    zp = torch.zeros(w.shape[0], dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale, zp, 0, -127, 127)


def quantize_weights(model, layers, pow2):
    fq = (lambda w, bits: fake_quant_weight_pow2(w)) if pow2 else fake_quant_weight
    for name, mod in model.named_modules():
        if name not in layers:
            continue
        bits = layers[name]["bits"]
        with torch.no_grad():
            if isinstance(mod, torch.nn.MultiheadAttention):
                mod.in_proj_weight.copy_(fq(mod.in_proj_weight, bits))
                mod.out_proj.weight.copy_(fq(mod.out_proj.weight, bits))
            else:
                mod.weight.copy_(fq(mod.weight, bits))


FLIPS = {"elements": 0, "flips": 0}
# How close to a rounding boundary (relative to the value in grid steps) an
# element must be for netc's and PyTorch's last-bit differences to round it
# differently.
TIE_WINDOW = 1e-5


def force(x, y, p, q_netc):
    """netc's quantized values where they differ from PyTorch's only by a
    boundary flip: every difference must be one grid step at an element
    within TIE_WINDOW of a .5 tie; anything else is a real disagreement."""
    scale = np.float32(p["scale"])
    y_netc = (torch.from_numpy(q_netc.astype(np.float32)) - p["zero_point"]) * float(scale)
    if y_netc.shape != y.shape:
        sys.exit("quant_check: netc's %s has shape %s, PyTorch's %s"
                 % (p["scale_param"], tuple(y_netc.shape), tuple(y.shape)))
    r = x * torch.tensor(1.0 / scale, dtype=torch.float32)
    near = (r - torch.floor(r) - 0.5).abs() < TIE_WINDOW * r.abs().clamp(min=1)
    diff = y_netc != y
    one_step = ((y_netc - y).abs() - float(scale)).abs() <= 1e-6 * float(scale)
    bad = diff & ~(near & one_step)
    if bool(bad.any()):
        i = int(bad.flatten().nonzero()[0])
        sys.exit("quant_check: at %s element %d netc has %.9g, PyTorch %.9g (input %.9g): not a "
                 "boundary flip" % (p["scale_param"], i, float(y_netc.flatten()[i]),
                                    float(y.flatten()[i]), float(x.flatten()[i])))
    FLIPS["elements"] += y.numel()
    FLIPS["flips"] += int(diff.sum())
    return y_netc


def input_hooks(model, points, observers=None, forced=None):
    """Fake-quantizes each layer's input with the report's parameters (and
    feeds an observer per point when observers is a dict)."""
    by_reader = {}
    for p in points:
        for r in p["readers"]:
            by_reader[r] = p
    handles = []
    for name, mod in model.named_modules():
        p = by_reader.get(name)
        if p is None:
            continue

        def hook(mod, args, p=p):
            x = args[0]
            if observers is not None:
                key = p["scale_param"]
                if key not in observers:
                    observers[key] = MinMaxObserver(dtype=torch.quint8, quant_min=0,
                                                    quant_max=(1 << p["bits"]) - 1)
                    observers[key].seen = set()
                if id(x) not in observers[key].seen:
                    observers[key](x)
                return None
            scale = float(np.float32(p["scale"]))
            y = torch.fake_quantize_per_tensor_affine(x, scale, int(p["zero_point"]), 0,
                                                      (1 << p["bits"]) - 1)
            if forced is not None:
                y = force(x, y, p, forced[p["scale_param"]])
            return (y,) + tuple(args[1:])

        handles.append(mod.register_forward_pre_hook(hook))
    return handles


def compare_scales(model, points, calib, batch):
    observers = {}
    handles = input_hooks(model, points, observers)
    with torch.no_grad():
        for i in range(0, calib.shape[0], batch):
            model(calib[i:i + batch])
    for h in handles:
        h.remove()
    worst = 0.0
    for p in points:
        obs = observers.get(p["scale_param"])
        if obs is None:
            continue
        scale, _ = obs.calculate_qparams()
        rel = abs(float(scale) - p["scale"]) / p["scale"]
        worst = max(worst, rel)
    print("quant_check: netc's activation scales vs PyTorch's MinMaxObserver: worst relative "
          "difference %.3g over %d points" % (worst, len(observers)))


def pow2_activation_params(model, points, calib, batch):
    """Each point's fixed-point scale and zero point from its elements over
    the calibration runs (a value read by two layers counted once per run),
    checked against netc's: both are exact powers of two, so they must be
    equal, not merely close."""
    seen = {}
    handles = []
    by_reader = {r: p for p in points for r in p["readers"]}
    run = [0]
    for name, mod in model.named_modules():
        p = by_reader.get(name)
        if p is None:
            continue

        def hook(mod, args, p=p):
            key = p["scale_param"]
            runs = seen.setdefault(key, {})
            if run[0] not in runs:
                runs[run[0]] = args[0].detach().double().flatten()

        handles.append(mod.register_forward_pre_hook(hook))
    with torch.no_grad():
        for i in range(0, calib.shape[0], batch):
            model(calib[i:i + batch])
            run[0] += 1
    for h in handles:
        h.remove()
    for p in points:
        x = torch.cat(list(seen[p["scale_param"]].values()))
        signed = bool(x.min() < 0)
        scale = float(2.0 ** -float(pow2_fraclen(x.std().reshape(1), signed)[0]))
        zp = 128 if signed else 0
        if scale != p["scale"] or zp != p["zero_point"]:
            sys.exit("quant_check: %s: PyTorch's fixed-point scale %.9g zero point %d (std %.9g), "
                     "netc's %.9g and %d" % (p["scale_param"], scale, zp, float(x.std()), p["scale"],
                                             p["zero_point"]))
        p["scale"], p["zero_point"] = scale, zp
    print("quant_check: the fixed-point scales and zero points of all %d points are PyTorch's"
          % len(points))


QUANTIZE_LINE = re.compile(r'^\s*%(\d+) : .* quant\(.*scale = %"?([^",)]+)"?.*= quantize\(')


def netc_activations(netc, ir_path, input_path):
    """Every quantize result of the .ir, as netc's reference interpreter
    computes it on the input: the .ir gets one more output per quantize
    (its weights file loses the hash that ties it to the unedited text)."""
    with open(ir_path) as f:
        lines = f.read().split("\n")
    found = [(m.group(1), m.group(2)) for m in map(QUANTIZE_LINE.match, lines) if m]
    end = max(i for i, line in enumerate(lines) if line.strip() == "}")
    outs = [re.match(r"\s*output (\S+) = ", line).group(1) for line in lines
            if line.lstrip().startswith("output ")]
    extra = ["  output qp%d = %%%s" % (k, vid) for k, (vid, _) in enumerate(found)]
    tmp = tempfile.mkdtemp()
    try:
        dump_ir = os.path.join(tmp, "dump.ir")
        with open(dump_ir, "w") as f:
            f.write("\n".join(lines[:end] + extra + lines[end:]))
        with open(ir_path[:-3] + ".safetensors", "rb") as f:
            data = f.read()
        (hlen,) = struct.unpack("<Q", data[:8])
        header = data[8:8 + hlen].replace(b'"netc.ir_hash"', b'"netc.ir_hasX"', 1)
        with open(os.path.join(tmp, "dump.safetensors"), "wb") as f:
            f.write(data[:8] + header + data[8 + hlen:])
        cmd = [netc, "run", dump_ir, "--weights", os.path.join(tmp, "dump.safetensors"),
               "--input", input_path]
        for name in outs:
            cmd += ["--output", "%s=%s/%s.npy" % (name, tmp, name)]
        for k in range(len(found)):
            cmd += ["--output", "qp%d=%s/qp%d.npy" % (k, tmp, k)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return {sp: np.load(os.path.join(tmp, "qp%d.npy" % k)) for k, (_, sp) in enumerate(found)}
    finally:
        shutil.rmtree(tmp)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--calib")
    ap.add_argument("--image-size", type=int)
    ap.add_argument("--num-classes", type=int)
    ap.add_argument("--netc", help="netc binary: run the quantized IR to compare activations")
    ap.add_argument("--netc-ir", help="the quantized .ir (its .safetensors beside it)")
    ap.add_argument("--fold-bn", action="store_true",
                    help="fold BatchNorm first (when netc ran fold-bn before quantize)")
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    model = torch_golden.build_model(a.model, a.num_classes, a.image_size)
    torch_golden.load_weights(model, torch_golden.read_safetensors(a.weights))
    model.eval()
    if a.fold_bn:
        model = fuse(torch.fx.symbolic_trace(model))
    with open(a.report) as f:
        report = json.load(f)
    layers = {l["name"]: l for l in report["layers"]}
    missing = [n for n in layers if n not in dict(model.named_modules())]
    if missing:
        sys.exit("quant_check: layers of the report that the model lacks: %s" % ", ".join(missing))
    points = [p for p in report["activations"] if not p["all_uses"]]
    if len(points) != len(report["activations"]):
        sys.exit("quant_check: @precision(act) points are not re-implemented here")
    x = torch.from_numpy(np.load(a.input).astype(np.float32))
    pow2 = report.get("pow2", False)
    calib = torch.from_numpy(np.load(a.calib).astype(np.float32)) if a.calib else None
    if pow2:
        if calib is None:
            sys.exit("quant_check: the fixed-point mode needs --calib (its scales come from it)")
        pow2_activation_params(model, points, calib, x.shape[0])
    elif calib is not None and report["percentile"] >= 100:  # MinMaxObserver is min-max
        compare_scales(model, points, calib, x.shape[0])
    forced = netc_activations(a.netc, a.netc_ir, a.input) if a.netc else None
    quantize_weights(model, layers, pow2)
    input_hooks(model, points, forced=forced)
    with torch.no_grad():
        y = model(x)
    np.save(a.out, y.numpy().astype(np.float32))
    if forced is not None:
        print("quant_check: %d of %d quantized activations differ from netc's, each by one grid "
              "step at a rounding tie; netc's were used from there on"
              % (FLIPS["flips"], FLIPS["elements"]))


if __name__ == "__main__":
    main(sys.argv[1:])
