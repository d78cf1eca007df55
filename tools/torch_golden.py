#!/usr/bin/python3
"""torch_golden.py -- run the PyTorch twin of an examples/*.net network.

The reference interpreter is checked against PyTorch: netc writes random
weights (`netc init`), this script loads exactly those weights into the
torchvision model with the same state_dict keys, runs it in eval mode and
stores the output. Everything here uses plain json + numpy for the
safetensors format so that no extra package is needed.

Usage:
  torch_golden.py MODEL --weights W.safetensors --input X.npy --out Y.npy
                  [--image-size N] [--num-classes K]
  torch_golden.py input --shape 1,3,64,64 --seed 1 --out X.npy
  torch_golden.py compare GOT.npy EXPECTED.npy [--tol 1e-4] [--name M]

Run with /usr/bin/python3 (Debian's python3-torch 1.13, torchvision 0.14).
The model table MODELS is shared with torch_keys.py.
"""
import argparse
import json
import struct
import sys

import numpy as np


# ----------------------------------------------------------------- models
#
# Each entry builds the torch.nn.Module whose state_dict keys and shapes the
# .net example must reproduce. mlp and lenet are written here to match
# examples/mlp.net and examples/lenet.net; the others are torchvision's own.

def _mlp(num_classes=10, image_size=None):
    import torch.nn as nn

    class MLP(nn.Module):
        def __init__(self, in_features=784, hidden=64, classes=10):
            super().__init__()
            self.fc1 = nn.Linear(in_features, hidden)
            self.fc2 = nn.Linear(hidden, classes)

        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

    return MLP(classes=num_classes)


def _lenet(num_classes=10, image_size=28):
    import torch.nn as nn
    import torch.nn.functional as F

    class LeNet(nn.Module):
        # LeNet-5 layout with ReLU and max pooling (the common modern form).
        def __init__(self, classes, size):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            s = (size // 2 - 4) // 2
            self.fc1 = nn.Linear(16 * s * s, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, classes)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    return LeNet(num_classes, image_size or 28)


def _tv(name):
    def build(num_classes=1000, image_size=None):
        import torchvision
        return getattr(torchvision.models, name)(num_classes=num_classes)
    return build


def _vit(patch_size, num_layers, num_heads, hidden_dim, mlp_dim):
    def build(num_classes=1000, image_size=224):
        from torchvision.models.vision_transformer import VisionTransformer
        return VisionTransformer(image_size=image_size or 224,
                                 patch_size=patch_size, num_layers=num_layers,
                                 num_heads=num_heads, hidden_dim=hidden_dim,
                                 mlp_dim=mlp_dim, num_classes=num_classes)
    return build


# name -> (builder, default num_classes, default image_size or None)
MODELS = {
    "mlp": (_mlp, 10, None),
    "lenet": (_lenet, 10, 28),
    "resnet18": (_tv("resnet18"), 1000, 224),
    "resnet50": (_tv("resnet50"), 1000, 224),
    "mobilenet_v2": (_tv("mobilenet_v2"), 1000, 224),
    "vgg16": (_tv("vgg16"), 1000, 224),
    "vit_b_16": (_vit(16, 12, 12, 768, 3072), 1000, 224),
    "vit_ti_16": (_vit(16, 12, 3, 192, 768), 1000, 224),
    "squeezenet1_1": (_tv("squeezenet1_1"), 1000, 224),
    "shufflenet_v2_x1_0": (_tv("shufflenet_v2_x1_0"), 1000, 224),
    "efficientnet_b0": (_tv("efficientnet_b0"), 1000, 224),
    "densenet121": (_tv("densenet121"), 1000, 224),
    "convnext_tiny": (_tv("convnext_tiny"), 1000, 224),
}


def build_model(name, num_classes=None, image_size=None):
    """The torch model for examples/NAME.net with the given net parameters."""
    if name not in MODELS:
        sys.exit("torch_golden: unknown model '%s' (known: %s)"
                 % (name, ", ".join(MODELS)))
    builder, classes, size = MODELS[name]
    return builder(num_classes=num_classes or classes,
                   image_size=image_size or size)


# ----------------------------------------------------------- safetensors
#
# Layout: u64 little-endian header length, JSON header
# {key: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": ...},
# then the raw little-endian data; offsets are relative to the data start.

def _bf16_to_f32(raw):
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32)


_DTYPES = {
    "F32": lambda raw: np.frombuffer(raw, dtype="<f4"),
    "F16": lambda raw: np.frombuffer(raw, dtype="<f2").astype(np.float32),
    "BF16": _bf16_to_f32,
    "I64": lambda raw: np.frombuffer(raw, dtype="<i8"),
    "I32": lambda raw: np.frombuffer(raw, dtype="<i4"),
    "I16": lambda raw: np.frombuffer(raw, dtype="<i2"),
    "U16": lambda raw: np.frombuffer(raw, dtype="<u2"),
    "I8": lambda raw: np.frombuffer(raw, dtype="i1"),
    "U8": lambda raw: np.frombuffer(raw, dtype="u1"),
}


def read_safetensors(path, meta=None):
    """Returns an ordered dict key -> numpy array (F16/BF16 widened to f32,
    integers as stored); fills the dict META with __metadata__ if given."""
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            if meta is not None:
                meta.update(info)
            continue
        dtype = info["dtype"]
        if dtype not in _DTYPES:
            sys.exit("torch_golden: %s: tensor '%s' has unsupported dtype %s"
                     % (path, key, dtype))
        begin, end = info["data_offsets"]
        arr = _DTYPES[dtype](data[base + begin:base + end])
        out[key] = arr.reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    """Writes TENSORS (key -> float32 numpy array) as F32, laid out as
    netc's own writer does: keys sorted by byte value, the data contiguous
    in that order, the header padded with spaces to a multiple of 8 bytes.
    The same tensors always give the same bytes."""
    keys = sorted(tensors, key=lambda k: k.encode("utf-8"))
    header, blobs, offset = {}, [], 0
    for key in keys:
        arr = np.ascontiguousarray(tensors[key], dtype="<f4")
        raw = arr.tobytes()
        header[key] = {"dtype": "F32", "shape": list(arr.shape),
                       "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


# --------------------------------------------------------------- running

def load_weights(model, tensors):
    """Strictly loads TENSORS into MODEL. netc has no num_batches_tracked
    (an eval-mode counter, not a weight), so missing ones are zero-filled."""
    import torch
    sd = {k: torch.from_numpy(v) for k, v in tensors.items()}
    for key, ref in model.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in sd:
            sd[key] = torch.zeros_like(ref)
    model.load_state_dict(sd, strict=True)


def run(args):
    import torch
    torch.manual_seed(0)
    model = build_model(args.model, args.num_classes, args.image_size)
    load_weights(model, read_safetensors(args.weights))
    model.eval()
    x = torch.from_numpy(np.load(args.input).astype(np.float32))
    with torch.no_grad():
        y = model(x)
    np.save(args.out, y.numpy().astype(np.float32))


def make_input(args):
    shape = [int(s) for s in args.shape.split(",")]
    x = np.random.RandomState(args.seed).standard_normal(shape)
    np.save(args.out, x.astype(np.float32))


def compare(args):
    """Exit status 1 unless GOT matches EXPECTED in shape and within
    tol * max(1, max|EXPECTED|) elementwise (float32 summation order differs
    between netc and PyTorch, so exact equality is not expected)."""
    got, want = np.load(args.got), np.load(args.expected)
    name = args.name or args.got
    if got.shape != want.shape:
        print("%s: shape %s, expected %s" % (name, list(got.shape), list(want.shape)))
        sys.exit(1)
    diff = float(np.abs(got.astype(np.float64) - want).max()) if want.size else 0.0
    scale = max(1.0, float(np.abs(want).max()) if want.size else 0.0)
    ok = diff <= args.tol * scale and not np.isnan(got).any()
    print("%-14s %s  max |diff| %.3g (scale %.3g)" % (name, "ok" if ok else "MISMATCH", diff, scale))
    sys.exit(0 if ok else 1)


def main(argv):
    if argv and argv[0] == "compare":
        p = argparse.ArgumentParser(prog="torch_golden.py compare",
                                    description="compare two .npy outputs")
        p.add_argument("got")
        p.add_argument("expected")
        p.add_argument("--tol", type=float, default=1e-4)
        p.add_argument("--name", default=None)
        compare(p.parse_args(argv[1:]))
        return
    if argv and argv[0] == "input":
        p = argparse.ArgumentParser(prog="torch_golden.py input",
                                    description="write a deterministic input")
        p.add_argument("--shape", required=True, help="e.g. 1,3,64,64")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--out", required=True)
        make_input(p.parse_args(argv[1:]))
        return
    p = argparse.ArgumentParser(prog="torch_golden.py",
                                description="run the torch twin of an example")
    p.add_argument("model", help=" | ".join(MODELS))
    p.add_argument("--weights", required=True, help="safetensors from netc init")
    p.add_argument("--input", required=True, help=".npy input")
    p.add_argument("--out", required=True, help=".npy output (float32)")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--num-classes", type=int, default=None)
    run(p.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
