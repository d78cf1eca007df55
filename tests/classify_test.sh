#!/usr/bin/env bash
# classify_test.sh — the AOT example program (examples/classify) on the
# ResNet-18 golden input: it runs, prints five classes, and its logits
# match the reference interpreter's within 1e-4.
#
#   tests/classify_test.sh CLASSIFY NETC NPY_COMPARE BUNDLE_DIR WEIGHTS
set -u
classify=$1 netc=$2 compare=$3 bundle=$4 weights=$5
root=$(cd "$(dirname "$0")/.." && pwd)
input=$root/tests/golden/torch/resnet18.input.npy
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$classify" "$bundle/resnet18.weights" "$input" "$tmp/aot.npy" > "$tmp/top5.txt" || exit 1
cat "$tmp/top5.txt"
[ "$(grep -c '^class' "$tmp/top5.txt")" -eq 5 ] || { echo "FAIL: expected five classes"; exit 1; }
"$netc" run "$root/examples/resnet18.net" -D image_size=64 --weights "$weights" --input "$input" \
    -o "$tmp/ref.npy" || exit 1
"$compare" "$tmp/aot.npy" "$tmp/ref.npy" 1e-4
