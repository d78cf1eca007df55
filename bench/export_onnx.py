#!/usr/bin/python3
"""ONNX export for the ONNX Runtime baseline (bench/ort_infer.js): the
torchvision twin of an example, with the weights netc used, as a .onnx file.

The model and weights come exactly as for bench/torch_infer.py: the model
table and strict loader of tools/torch_golden.py and the .safetensors that
`netc init --seed 1` wrote, in eval() mode. It is exported with
torch.onnx.export at opset 14 with static shapes (no dynamic_axes), batch 1,
the input's shape taken from the .npy bench_native saved (--input: 1 x 3
x 224 x 224 for the six default examples, whatever examples/MODEL.net
declares for the others) so ONNX Runtime compiles the very shapes netc did.

Static shapes matter: ONNX Runtime plans memory and picks kernels per shape
at session creation, as netc specialises its code per shape, so both sides
compile the same fixed-shape problem.

Export runs with autograd on and the parameters requiring grad (not under
no_grad): in eval mode torch 1.13's MultiheadAttention otherwise takes its
fused fast path, _native_multi_head_attention, which has no ONNX symbolic
(ViT-B/16's 12 heads qualify; ViT-Ti/16's 3 do not: odd head counts never
take it). "grad is enabled and ... requires_grad" is one of the conditions
that keep the decomposed path (in-projection, softmax(QK^T)V,
out-projection), which exports to plain MatMul/Softmax nodes. The values are
the same; only the traced ops differ. Should an export still fail, the
reason is reported instead of a file.

Output: one tab-separated record on stdout
  onnx      MODEL  PATH  OPSET  EXPORT_MS
  onnxfail  MODEL  REASON                   (and exit status 1)
and a human-readable line on stderr.

Usage: export_onnx.py MODEL --weights W.safetensors --input X.npy
                      --out MODEL.onnx [--opset 14]
Run with /usr/bin/python3 (Debian's python3-torch 1.13, torchvision 0.14).
"""
import argparse
import os
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--weights", required=True, help="safetensors from netc init --seed 1")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument("--input", required=True,
                   help=".npy input (bench_native --save-io): its shape is exported")
    p.add_argument("--opset", type=int, default=14)
    return p.parse_args(argv)


def fail(model, reason):
    """The onnxfail record: one line, tabs and newlines flattened, so
    bench/native.sh can print the reason in its table footer."""
    reason = " ".join(str(reason).split())[:300] or "unknown error"
    print("onnxfail\t%s\t%s" % (model, reason), flush=True)
    print("%-14s ONNX export failed: %s" % (model, reason), file=sys.stderr)
    sys.exit(1)


def main(argv):
    args = parse_args(argv)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from torch_golden import build_model, load_weights, read_safetensors
    import warnings

    import numpy as np
    import torch

    torch.manual_seed(0)
    model = build_model(args.model)
    load_weights(model, read_safetensors(args.weights))
    model.eval()
    x = torch.from_numpy(np.load(args.input).astype(np.float32))

    t0 = time.perf_counter()
    try:
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), args.out, opset_version=args.opset,
                              input_names=["input"], output_names=["output"],
                              do_constant_folding=True)
    except Exception as e:  # any exporter error: report it, do not crash the benchmark
        fail(args.model, "%s: %s" % (type(e).__name__, e))
    export_ms = (time.perf_counter() - t0) * 1e3

    # A structural check when the onnx package is there (python3-onnx); the
    # numerical check is ort_infer.js's, against netc's output.
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            onnx.checker.check_model(args.out)
        except Exception as e:
            fail(args.model, "onnx.checker: %s" % e)

    print("onnx\t%s\t%s\t%d\t%.1f" % (args.model, args.out, args.opset, export_ms), flush=True)
    print("%-14s exported %s (opset %d, input %s) in %.0f ms"
          % (args.model, args.out, args.opset, "x".join(map(str, x.shape)), export_ms),
          file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
