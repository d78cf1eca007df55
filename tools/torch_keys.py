#!/usr/bin/python3
"""torch_keys.py -- write the state_dict keys of every example's torch twin.

For each model in torch_golden.MODELS (default net parameters) writes
  tests/golden/torch/<model>.keys   one line per state_dict entry,
                                    `key [d0, d1, ...]`, in state_dict order
                                    (buffers such as bn running stats and
                                    num_batches_tracked included; `[]` is a
                                    scalar)
  tests/golden/torch/<model>.count  sum of numel over model.parameters()
                                    (learned parameters only, the usual
                                    torchvision count)
These files are generated, never edited by hand. netc's parameter list is
compared against them (num_batches_tracked has no netc counterpart).

Usage: torch_keys.py [--out DIR] [MODEL ...]      (/usr/bin/python3)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_golden import MODELS, build_model  # noqa: E402


def keys_text(model):
    return "".join("%s [%s]\n" % (k, ", ".join(str(d) for d in v.shape))
                   for k, v in model.state_dict().items())


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(root, "tests/golden/torch"))
    p.add_argument("models", nargs="*", default=list(MODELS))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import torch
    torch.manual_seed(0)
    for name in args.models:
        model = build_model(name)
        count = sum(p.numel() for p in model.parameters())
        with open(os.path.join(args.out, name + ".keys"), "w") as f:
            f.write(keys_text(model))
        with open(os.path.join(args.out, name + ".count"), "w") as f:
            f.write("%d\n" % count)
        print("%-14s %12d parameters" % (name, count))


if __name__ == "__main__":
    main()
