#!/usr/bin/env bash
# export_test.sh — `netc export` of quantized ResNet-18 (size 64, seeded
# weights) in both formats, checked by tools/export_check.py:
#
#   tests/export_test.sh NETC NPY_COMPARE
#
# For W8 and W4 (weights only: act-bits=0, so PyTorch needs no activation
# fake-quant) after fold-bn:
#   1. netc itself loads the torch export into the source network and
#      computes the quantized graph's output (within 1e-5);
#   2. --format=int holds integers on their grid that, times their scales,
#      are the torch export's floats bit for bit;
#   3. --format=torch loads into torchvision's resnet18 with strict=True and
#      gives `netc run` of the same quantized graph within 1e-5 relative;
#      its folded batchnorms are exact identity-plus-shift.
# One python run checks both configurations (PyTorch loads once). Without
# PyTorch it checks what numpy can and exits 77 (skipped).
set -u
netc=$1 compare=$2
model=resnet18
source "$(dirname "$0")/example_env.sh"
"$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" || exit 1
cases=()
for config in w8:8 w4:4; do
    name=${config%%:*} bits=${config#*:}
    passes="--passes=fold-bn,quantize(bits=$bits,act-bits=0)"
    for format in torch int; do
        "$netc" export "$net" "${defs[@]}" --weights "$tmp/w.safetensors" "$passes" --format=$format \
            -o "$tmp/$name.$format.safetensors" || { echo "FAIL $name: export --format=$format failed"; exit 1; }
    done
    "$netc" run "$net" "${defs[@]}" --weights "$tmp/w.safetensors" "$passes" --input "$input" \
        -o "$tmp/$name.netc.npy" || { echo "FAIL $name: netc run failed"; exit 1; }
    "$netc" run "$net" "${defs[@]}" --weights "$tmp/$name.torch.safetensors" --input "$input" \
        -o "$tmp/$name.reload.npy" && "$compare" "$tmp/$name.reload.npy" "$tmp/$name.netc.npy" 1e-5 ||
        { echo "FAIL $name: netc on its own torch export"; exit 1; }
    cases+=(--case "$name" "$tmp/$name.torch.safetensors" "$tmp/$name.int.safetensors" "$tmp/$name.netc.npy")
done
/usr/bin/python3 "$root/tools/export_check.py" "$model" --image-size "$size" --input "$input" --tol 1e-5 "${cases[@]}"
status=$?
case $status in
0) echo "2 passed, 0 failed" ;;
77) echo "PyTorch missing: the torch checks did not run" ;;
*) echo "FAIL: tools/export_check.py" ;;
esac
exit $status
