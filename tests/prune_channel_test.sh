#!/usr/bin/env bash
# prune_channel_test.sh — channel pruning of one example at a few ratios
# (deterministic weights, the MANIFEST's image size), checked against
# PyTorch by tools/prune_channel_check.py:
#
#   tests/prune_channel_test.sh NETC MODEL [SPEC...]
#
# SPEC is what follows --prune=channel: (default: 0.3 0.5; also e.g.
# 0.5:global:l2). Per SPEC: netc opt (the prune pass alone) writes the
# pruned IR, weights and report; the IR verifies (netc check); netc stats
# gives its totals; netc run gives its output on the reference interpreter
# and the LLVM JIT; netc export --format=torch its state_dict. The script
# then builds the torchvision model at the exported widths, loads it
# strictly, and compares counts and outputs. Without PyTorch it checks the
# widths only and exits 77 (skipped).
set -u
netc=$1 model=$2
shift 2
specs=("$@")
[ ${#specs[@]} -eq 0 ] && specs=(0.3 0.5)
source "$(dirname "$0")/example_env.sh"
"$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" || exit 1
cases=()
for spec in "${specs[@]}"; do
    p=$tmp/p$spec ratio=${spec%:l[12]}
    "$netc" opt "$net" "${defs[@]}" --weights "$tmp/w.safetensors" --passes= --prune=channel:$spec \
        --prune-report "$p.json" -o "$p.ir" || { echo "FAIL $spec: netc opt --prune"; exit 1; }
    "$netc" check "$p.ir" || { echo "FAIL $spec: the pruned IR does not verify"; exit 1; }
    "$netc" stats "$p.ir" >"$p.stats" || exit 1
    for backend in ref llvm; do
        "$netc" run "$p.ir" --weights "$p.safetensors" --backend=$backend --input "$input" -o "$p.$backend.npy" ||
            { echo "FAIL $spec: netc run --backend=$backend"; exit 1; }
    done
    "$netc" export "$p.ir" --weights "$p.safetensors" --format=torch -o "$p.torch.safetensors" ||
        { echo "FAIL $spec: netc export"; exit 1; }
    cases+=(--case "$spec" "$ratio" "$p.torch.safetensors" "$p.json" "$p.stats" "$p.ref.npy" "$p.llvm.npy")
done
/usr/bin/python3 "$root/tools/prune_channel_check.py" "$model" ${defs[@]:+--image-size $size} --input "$input" \
    --tol 1e-4 "${cases[@]}"
status=$?
case $status in
0) echo "${#specs[@]} passed, 0 failed" ;;
77) echo "PyTorch missing: the torch checks did not run" ;;
*) echo "FAIL: tools/prune_channel_check.py" ;;
esac
exit $status
