#!/usr/bin/env bash
# digits_test.sh — one of the digits models trained by tools/train_digits.py
# (examples/digits/) on its 360 held-back test images.
#
#   tests/digits_test.sh NETC NPY_COMPARE NPY_TOP1 MODEL
#
# 1. numbers: `netc run` (the reference interpreter) with the trained
#    weights reproduces PyTorch's logits (MODEL.logits.npy) within 1e-4
#    relative to their scale; loading is strict, so this also checks that
#    the parameter names are the PyTorch model's state_dict keys;
# 2. accuracy: netc's top-1 on the test split is the count PyTorch got,
#    as accuracy.json records it.
set -u
netc=$1 compare=$2 top1=$3 model=$4
root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/examples/digits
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

if "$netc" run "$root/examples/$model.net" -D batch=360 --weights "$data/$model.safetensors" \
       --input "$data/test_x.npy" -o "$tmp/logits.npy"; then
    "$compare" "$tmp/logits.npy" "$data/$model.logits.npy" 1e-4 || fail=1
    # accuracy.json: "MODEL": { "correct": C, ... } (written with indent, one key a line)
    want=$(awk -v m="\"$model\":" '$1 == m { f = 1 } f && $1 == "\"correct\":" { sub(",", "", $2); print $2; exit }' \
           "$data/accuracy.json")
    got=$("$top1" "$tmp/logits.npy" "$data/test_y.npy") || fail=1
    if [ -n "$want" ] && [ "$got" = "$want/360" ]; then
        echo "ok accuracy: netc's top-1 is $got, as PyTorch's"
    else
        echo "FAIL accuracy: netc's top-1 is $got, PyTorch's '$want/360' (accuracy.json)"; fail=1
    fi
else
    echo "FAIL numbers: netc run failed"; fail=1
fi
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
