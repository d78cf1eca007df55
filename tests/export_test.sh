#!/usr/bin/env bash
# export_test.sh — `netc export` of quantized ResNet-18 (size 64, seeded
# weights) in both formats, checked by tools/export_check.py:
#
#   tests/export_test.sh NETC NPY_COMPARE
#
# For W8 and W4 (weights only: act-bits=0, so PyTorch needs no activation
# fake-quant) after fold-bn:
#   1. --format=torch loads into torchvision's resnet18 with strict=True and
#      gives `netc run` of the same quantized graph within 1e-5 relative;
#      its folded batchnorms are exact identity-plus-shift;
#   2. --format=int holds integers on their grid that, times their scales,
#      are the torch export's floats bit for bit;
#   3. netc itself loads the torch export into the source network and
#      computes the quantized graph's output (within 1e-5).
# Without PyTorch the script checks what numpy can and exits 77 (skipped).
set -u
netc=$1 compare=$2
model=resnet18
source "$(dirname "$0")/example_env.sh"
python=/usr/bin/python3
"$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" || exit 1
passed=0 failed=0 skipped=0
for config in w8:8 w4:4; do
    name=${config%%:*} bits=${config#*:}
    passes="--passes=fold-bn,quantize(bits=$bits,act-bits=0)"
    ok=1
    for format in torch int; do
        "$netc" export "$net" "${defs[@]}" --weights "$tmp/w.safetensors" "$passes" --format=$format \
            -o "$tmp/$name.$format.safetensors" || { echo "FAIL $name: export --format=$format failed"; ok=0; }
    done
    "$netc" run "$net" "${defs[@]}" --weights "$tmp/w.safetensors" "$passes" --input "$input" \
        -o "$tmp/$name.netc.npy" || { echo "FAIL $name: netc run failed"; ok=0; }
    if [ $ok -eq 1 ]; then
        "$netc" run "$net" "${defs[@]}" --weights "$tmp/$name.torch.safetensors" --input "$input" \
            -o "$tmp/$name.reload.npy" && "$compare" "$tmp/$name.reload.npy" "$tmp/$name.netc.npy" 1e-5 ||
            { echo "FAIL $name: netc on its own torch export"; ok=0; }
    fi
    if [ $ok -eq 1 ]; then
        echo "$name:"
        "$python" "$root/tools/export_check.py" "$model" --image-size "$size" \
            --torch "$tmp/$name.torch.safetensors" --int "$tmp/$name.int.safetensors" \
            --input "$input" --netc-out "$tmp/$name.netc.npy" --tol 1e-5
        case $? in
        0) ;;
        77) skipped=$((skipped + 1)) ;;
        *) ok=0 ;;
        esac
    fi
    if [ $ok -eq 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed ($skipped without PyTorch), $failed failed"
[ $failed -eq 0 ] || exit 1
[ $skipped -eq 0 ] || exit 77
