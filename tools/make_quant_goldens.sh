#!/bin/sh
# make_quant_goldens.sh -- regenerate the goldens of tests/quant_test.sh.
#
# For each configuration of CONFIGS below: netc quantizes examples/resnet18.net
# (size 64, weights of `netc init --seed 1`, calibrated on
# tests/golden/quant/resnet18.calib.npy) and writes its report; then
# tools/quant_check.py, PyTorch's re-implementation, quantizes the
# torchvision model from the same float weights with the report's bits and
# activation scales and writes its output on the example's input, checking
# on the way that every quantized activation equals netc's or differs by one
# grid step at a rounding tie (then netc's is used: a flip caused by the
# last bits of float arithmetic would otherwise move the logits by far more
# than 1e-5; docs/quantization.md). The test
# checks netc reproduces the report exactly and PyTorch's output within
# 1e-5.
#
# Usage: tools/make_quant_goldens.sh   (NETC, PYTHON as in make_torch_goldens.sh)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
NETC=${NETC:-$root/build/netc}
PYTHON=${PYTHON:-/usr/bin/python3}
gold=$root/tests/golden/quant
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
. "$root/tests/quant_configs.sh"

"$PYTHON" -c "import numpy as np; np.save('$gold/resnet18.calib.npy', \
np.random.default_rng(7).standard_normal((4, 3, 64, 64)).astype(np.float32))"
"$NETC" init "$root/examples/resnet18.net" -D image_size=64 --seed 1 -o "$tmp/w.safetensors"
for config in $CONFIGS; do
    quant_flags "$config"
    # shellcheck disable=SC2086  # the flags are words
    "$NETC" opt "$root/examples/resnet18.net" -D image_size=64 --weights "$tmp/w.safetensors" \
        --calib "$gold/resnet18.calib.npy" $FLAGS --quant-report "$gold/resnet18.$config.report.json" \
        -o "$tmp/q.ir" 2> /dev/null
    "$PYTHON" "$root/tools/quant_check.py" resnet18 --weights "$tmp/w.safetensors" \
        --report "$gold/resnet18.$config.report.json" --calib "$gold/resnet18.calib.npy" \
        --netc "$NETC" --netc-ir "$tmp/q.ir" \
        --input "$root/tests/golden/torch/resnet18.input.npy" --out "$gold/resnet18.$config.expected.npy"
    echo "make_quant_goldens: resnet18.$config"
done
