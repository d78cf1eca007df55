#!/usr/bin/env bash
# prune_channel_test.sh — channel pruning of one example at ratios 0.3 and
# 0.5 (deterministic weights, the MANIFEST's image size), checked against
# PyTorch by tools/prune_channel_check.py:
#
#   tests/prune_channel_test.sh NETC MODEL
#
# Per ratio: netc opt --prune=channel:R (the prune pass alone) writes the
# pruned IR, weights and report; the IR verifies (netc check); netc stats
# gives its totals; netc run gives its output on the reference interpreter
# and the LLVM JIT; netc export --format=torch its state_dict. The script
# then builds the torchvision model at the exported widths, loads it
# strictly, and compares counts and outputs. Without PyTorch it checks the
# widths only and exits 77 (skipped).
set -u
netc=$1 model=$2
source "$(dirname "$0")/example_env.sh"
"$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" || exit 1
cases=()
for ratio in 0.3 0.5; do
    p=$tmp/p$ratio
    "$netc" opt "$net" "${defs[@]}" --weights "$tmp/w.safetensors" --passes= --prune=channel:$ratio \
        --prune-report "$p.json" -o "$p.ir" || { echo "FAIL $ratio: netc opt --prune"; exit 1; }
    "$netc" check "$p.ir" || { echo "FAIL $ratio: the pruned IR does not verify"; exit 1; }
    "$netc" stats "$p.ir" >"$p.stats" || exit 1
    for backend in ref llvm; do
        "$netc" run "$p.ir" --weights "$p.safetensors" --backend=$backend --input "$input" -o "$p.$backend.npy" ||
            { echo "FAIL $ratio: netc run --backend=$backend"; exit 1; }
    done
    "$netc" export "$p.ir" --weights "$p.safetensors" --format=torch -o "$p.torch.safetensors" ||
        { echo "FAIL $ratio: netc export"; exit 1; }
    cases+=(--case "$ratio" "$ratio" "$p.torch.safetensors" "$p.json" "$p.stats" "$p.ref.npy" "$p.llvm.npy")
done
/usr/bin/python3 "$root/tools/prune_channel_check.py" "$model" ${size:+--image-size $size} --input "$input" \
    --tol 1e-4 "${cases[@]}"
status=$?
case $status in
0) echo "2 passed, 0 failed" ;;
77) echo "PyTorch missing: the torch checks did not run" ;;
*) echo "FAIL: tools/prune_channel_check.py" ;;
esac
exit $status
