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
These files are generated, never edited by hand.

With --check, instead compares `netc dump examples/<model>.net` (its
`param %key : f32[...]` lines, default net parameters) against the .keys
files: same keys, same order, same shapes. num_batches_tracked is skipped
(an eval-mode counter that netc does not model), and the parameter count
(keys other than bn running_mean / running_var) must equal the .count.

Usage: torch_keys.py [--out DIR] [MODEL ...]                 (/usr/bin/python3)
       torch_keys.py --check [--netc build/netc] [MODEL ...]
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_golden import MODELS, build_model  # noqa: E402


def keys_text(model):
    return "".join("%s [%s]\n" % (k, ", ".join(str(d) for d in v.shape))
                   for k, v in model.state_dict().items())


_DUMP_PARAM = re.compile(r"^\s*param\s+%(\S+)\s*:\s*\w+\[([^\]]*)\]")
_BUFFERS = ("running_mean", "running_var")


def _dims(text):
    return [int(d) for d in text.replace(" ", "").split(",") if d]


def parse_keys(text):
    """[(key, [dims])] from the lines `key [d0, d1]` of a .keys file."""
    out = []
    for line in text.splitlines():
        key, _, dims = line.strip().partition(" ")
        if key:
            out.append((key, _dims(dims.strip()[1:-1])))
    return out


def parse_dump(text):
    """[(key, [dims])] from the `param %key : f32[...]` lines of netc dump."""
    return [(m.group(1), _dims(m.group(2)))
            for m in map(_DUMP_PARAM.match, text.splitlines()) if m]


def check(name, root, gold, netc):
    """Compares netc's parameters of examples/NAME.net with NAME.keys;
    returns a list of problems (empty when they match)."""
    want = [kv for kv in parse_keys(open(os.path.join(gold, name + ".keys")).read())
            if not kv[0].endswith("num_batches_tracked")]
    count = int(open(os.path.join(gold, name + ".count")).read())
    r = subprocess.run([netc, "dump", os.path.join(root, "examples", name + ".net")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return ["netc dump failed (%d):\n%s" % (r.returncode, r.stderr)]
    got = parse_dump(r.stdout)
    problems = []
    gk, wk = dict(got), dict(want)
    for k, d in want:
        if k not in gk:
            problems.append("missing  %s %s" % (k, d))
        elif gk[k] != d:
            problems.append("shape    %s: netc %s, torch %s" % (k, gk[k], d))
    for k, d in got:
        if k not in wk:
            problems.append("extra    %s %s" % (k, d))
    if not problems and [k for k, _ in got] != [k for k, _ in want]:
        for i, ((a, _), (b, _)) in enumerate(zip(got, want)):
            if a != b:
                problems.append("order    first difference at #%d: netc %s, torch %s"
                                % (i, a, b))
                break
    n = 0
    for k, d in got:
        if not k.endswith(_BUFFERS):
            size = 1
            for x in d:
                size *= x
            n += size
    if n != count:
        problems.append("count    netc %d, torch %d" % (n, count))
    return problems


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(root, "tests/golden/torch"))
    p.add_argument("--check", action="store_true",
                   help="compare netc dump against the .keys instead of writing them")
    p.add_argument("--netc", default=os.environ.get("NETC", os.path.join(root, "build/netc")))
    p.add_argument("models", nargs="*", default=list(MODELS))
    args = p.parse_args()
    if args.check:
        failed = 0
        for name in args.models:
            problems = check(name, root, args.out, args.netc)
            print("%-14s %s" % (name, "ok" if not problems else "MISMATCH"))
            for msg in problems[:20]:
                print("    " + msg)
            failed += bool(problems)
        print("%d/%d match" % (len(args.models) - failed, len(args.models)))
        sys.exit(1 if failed else 0)
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
