#!/usr/bin/env bash
# quant_test.sh — the quantize pass on ResNet-18 against PyTorch.
#
#   tests/quant_test.sh NETC NPY_COMPARE
#
# For each configuration of quant_configs.sh: netc quantizes the example
# (weights of `netc init --seed 1`, size 64) and
#   1. writes exactly the committed report (bits, scales, sizes: the choice
#      is deterministic and the goldens were made from it);
#   2. the quantized graph, run by the reference interpreter, gives
#      PyTorch's fake-quantized model's output within 1e-5 relative
#      (tools/quant_check.py, via tools/make_quant_goldens.sh).
set -u
netc=$1 compare=$2
model=resnet18
source "$(dirname "$0")/example_env.sh"
source "$(dirname "$0")/quant_configs.sh"
qgold=$root/tests/golden/quant
passed=0 failed=0
"$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" || exit 1
for config in $CONFIGS; do
    quant_flags "$config"
    ok=1
    # shellcheck disable=SC2086
    if ! "$netc" opt "$net" "${defs[@]}" --weights "$tmp/w.safetensors" \
        --calib "$qgold/resnet18.calib.npy" $FLAGS --quant-report "$tmp/$config.json" \
        -o "$tmp/$config.ir" 2> "$tmp/$config.log"; then
        echo "FAIL $config: netc opt failed"; cat "$tmp/$config.log"; ok=0
    elif ! cmp -s "$tmp/$config.json" "$qgold/resnet18.$config.report.json"; then
        echo "FAIL $config: the report differs from the golden"
        diff "$tmp/$config.json" "$qgold/resnet18.$config.report.json" | head -20; ok=0
    elif ! "$netc" run "$tmp/$config.ir" --weights "$tmp/$config.safetensors" \
        --input "$input" -o "$tmp/$config.out.npy"; then
        echo "FAIL $config: netc run failed"; ok=0
    elif ! "$compare" "$tmp/$config.out.npy" "$qgold/resnet18.$config.expected.npy" 1e-5; then
        echo "FAIL $config: output differs from PyTorch's fake-quantized model"; ok=0
    else
        echo "ok $config: $(sed -n 's/.*"average_bits": \(.*\),/average bits \1/p' "$tmp/$config.json")"
    fi
    if [ $ok -eq 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
