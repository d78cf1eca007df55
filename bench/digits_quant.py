#!/usr/bin/env python3
"""digits_quant.py — top-1 on scikit-learn's digits (the 360 held-back test
images, examples/digits/) of the two trained models in float and quantized
by netc's quantize pass, calibrated on the 64 training images of
calib_x.npy. The quantized nets are built at batch 8 (the calibration file
is 8 runs of 8) and run by netc's reference interpreter on the test split
in 45 batches of 8.

    /usr/bin/python3 bench/digits_quant.py [NETC]     (numpy only)
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "netc")
D = os.path.join(ROOT, "examples", "digits")
CONFIGS = [
    ("float", None, []),
    ("W8A8", "quantize", []),
    ("W8A8 fixed point (pow2)", "quantize(pow2=1)", []),
    ("W4A8", "quantize(bits=4)", []),
    ("W8A8 percentile 99.99", "quantize(percentile=9999)", []),
    ("mixed, 4 bits average", "quantize", ["--quant-budget=4bits"]),
    ("mixed, 3 bits average", "quantize", ["--quant-budget=3bits"]),
    ("W2A8", "quantize(bits=2)", []),
]


def run(args):
    r = subprocess.run([NETC] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        sys.exit("digits_quant: netc %s failed:\n%s" % (" ".join(args), r.stderr))
    return r.stderr


def main():
    x = np.load(os.path.join(D, "test_x.npy"))
    y = np.load(os.path.join(D, "test_y.npy"))
    print("| model | configuration | weight bits (average) | model size KiB | top-1 |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("digits_cnn", "digits_vit"):
            net = os.path.join(ROOT, "examples", model + ".net")
            weights = os.path.join(D, model + ".safetensors")
            for label, passes, extra in CONFIGS:
                ir, w = net, weights
                avg, kib = "32", os.path.getsize(weights) / 1024
                if passes:
                    ir = os.path.join(tmp, "q.ir")
                    report = os.path.join(tmp, "r.json")
                    run(["opt", net, "-D", "batch=8", "--weights", weights, "--passes", passes,
                         "--calib", os.path.join(D, "calib_x.npy"), "--quant-report", report,
                         "-o", ir] + extra)
                    w = ir[:-3] + ".safetensors"
                    import json
                    with open(report) as f:
                        t = json.load(f)["totals"]
                    avg, kib = "%.2f" % t["average_bits"], t["bytes"] / 1024
                correct = 0
                for b in range(0, x.shape[0], 8):
                    xi = os.path.join(tmp, "x.npy")
                    np.save(xi, x[b:b + 8])
                    run(["run", ir, "-D", "batch=8", "--weights", w, "--input", xi,
                         "-o", os.path.join(tmp, "y.npy")])
                    logits = np.load(os.path.join(tmp, "y.npy"))
                    correct += int((logits.argmax(1) == y[b:b + 8]).sum())
                print("| %s | %s | %s | %.1f | %d/%d = %.2f %% |" % (
                    model, label, avg, kib, correct, x.shape[0], 100.0 * correct / x.shape[0]))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
