#!/usr/bin/env python3
"""quant_goldens.py — PyTorch's fake quantization and observers on random
tensors, the goldens tests/unit/test_quantizer.c compares netc's quantizer
(ir/quantizer.c) against bit for bit.

    /usr/bin/python3 tools/quant_goldens.py tests/golden/quant

Each case k writes caseK.x.npy (f32 input), caseK.scale.npy (f32),
caseK.zp.npy (i32), caseK.meta.npy (i32 [axis, quant_min, quant_max]) and
caseK.y.npy (torch.fake_quantize_per_*_affine's output). The inputs mix
normal values, exact .5 ties of the grid (x = (k + 0.5)·scale, where
multiplying by the reciprocal and dividing disagree) and values far past the
clamp. Observer cases obsK.x.npy / obsK.meta.npy ([bits, kind, axis]: kind 0
asymmetric per-tensor MinMaxObserver quint8-style, 1 symmetric per-channel
narrow) / obsK.scale.npy / obsK.zp.npy hold what torch.ao's observers choose.
Deterministic: rerunning gives identical files.
"""
import os
import sys

import numpy as np
import torch
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver


def save(d, name, a):
    np.save(os.path.join(d, name), a, allow_pickle=False)


def mixed(shape, scale_of_channel, levels, gen):
    """Normal values, ties and clamp-breaking values, in equal thirds (in
    units of the grid step, spread over `levels` steps)."""
    n = int(np.prod(shape))
    base = torch.randn(n, generator=gen) * levels / 6
    ties = torch.randint(-levels, levels, (n,), generator=gen).float() + 0.5
    far = torch.randn(n, generator=gen) * levels * 4
    pick = torch.randint(0, 3, (n,), generator=gen)
    units = torch.where(pick == 0, base, torch.where(pick == 1, ties, far)).reshape(shape)
    return (units * scale_of_channel).float()


def fake_quant_cases(d, gen):
    cases = [
        # shape, axis, quant_min, quant_max
        ((4096,), -1, 0, 255),
        ((64, 32), -1, -8, 7),
        ((16, 3, 3, 3), 0, -128, 127),
        ((2, 8, 5, 5), 1, -2, 1),
        ((512,), -1, 0, 65535),
        ((12, 40), 0, -127, 127),
    ]
    for k, (shape, axis, qmin, qmax) in enumerate(cases):
        channels = 1 if axis < 0 else shape[axis]
        scale = (torch.rand(channels, generator=gen) * 0.2 + 1e-3).float()
        zp = torch.randint(qmin, qmax + 1, (channels,), generator=gen, dtype=torch.int32)
        if qmin < 0 and k % 2:
            zp.zero_()
        view = [1] * len(shape)
        if axis >= 0:
            view[axis] = channels
        x = mixed(shape, scale.reshape(view), qmax - qmin + 1, gen)
        if axis < 0:
            y = torch.fake_quantize_per_tensor_affine(x, float(scale[0]), int(zp[0]), qmin, qmax)
        else:
            y = torch.fake_quantize_per_channel_affine(x, scale, zp, axis, qmin, qmax)
        save(d, f"case{k}.x.npy", x.numpy())
        save(d, f"case{k}.scale.npy", scale.numpy())
        save(d, f"case{k}.zp.npy", zp.numpy())
        save(d, f"case{k}.meta.npy", np.array([axis, qmin, qmax], dtype=np.int32))
        save(d, f"case{k}.y.npy", y.numpy())


def observer_cases(d, gen):
    cases = [(8, 0, -1), (4, 0, -1), (8, 1, 0), (4, 1, 0), (2, 1, 0), (8, 0, -1)]
    for k, (bits, kind, axis) in enumerate(cases):
        x = (torch.randn(24, 50, generator=gen) * (k + 1) + (k - 2)).float()
        if k == 5:
            x = x.abs()  # all positive: the range is widened to contain 0
        if kind == 0:
            obs = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine,
                                 quant_min=0, quant_max=(1 << bits) - 1)
        else:
            top = (1 << (bits - 1)) - 1
            obs = PerChannelMinMaxObserver(ch_axis=axis, dtype=torch.qint8,
                                           qscheme=torch.per_channel_symmetric,
                                           quant_min=-top, quant_max=top)
        obs(x)
        scale, zp = obs.calculate_qparams()
        save(d, f"obs{k}.x.npy", x.numpy())
        save(d, f"obs{k}.meta.npy", np.array([bits, kind, axis], dtype=np.int32))
        save(d, f"obs{k}.scale.npy", scale.float().numpy().reshape(-1))
        save(d, f"obs{k}.zp.npy", zp.to(torch.int32).numpy().reshape(-1))


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/quant"
    os.makedirs(d, exist_ok=True)
    gen = torch.Generator().manual_seed(20261202)
    fake_quant_cases(d, gen)
    observer_cases(d, gen)


if __name__ == "__main__":
    main()
