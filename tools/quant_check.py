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

Writes the fake-quantized model's output on X to EXPECTED.npy.
"""
import argparse
import json
import os
import sys

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


def quantize_weights(model, layers):
    for name, mod in model.named_modules():
        if name not in layers:
            continue
        bits = layers[name]["bits"]
        with torch.no_grad():
            if isinstance(mod, torch.nn.MultiheadAttention):
                mod.in_proj_weight.copy_(fake_quant_weight(mod.in_proj_weight, bits))
                mod.out_proj.weight.copy_(fake_quant_weight(mod.out_proj.weight, bits))
            else:
                mod.weight.copy_(fake_quant_weight(mod.weight, bits))


def input_hooks(model, points, observers=None):
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
            y = torch.fake_quantize_per_tensor_affine(x, float(np.float32(p["scale"])),
                                                      int(p["zero_point"]), 0, (1 << p["bits"]) - 1)
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
    if a.calib:
        compare_scales(model, points, torch.from_numpy(np.load(a.calib).astype(np.float32)),
                       x.shape[0])
    quantize_weights(model, layers)
    input_hooks(model, points)
    with torch.no_grad():
        y = model(x)
    np.save(a.out, y.numpy().astype(np.float32))


if __name__ == "__main__":
    main(sys.argv[1:])
