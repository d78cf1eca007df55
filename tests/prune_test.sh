#!/usr/bin/env bash
# prune_test.sh — the mask granularities of the prune pass on one example,
# checked by tools/prune_check.py against a PyTorch re-implementation:
#
#   tests/prune_test.sh NETC MODEL SPEC...
#
# For every SPEC (a --prune value): `netc export --format=torch` writes the
# pruned weights as the torchvision state_dict, `--prune-report` the
# report, and `netc run` the pruned net's output with the reference
# interpreter and with the LLVM backend (whose -O2 pipeline folds the
# batchnorms into the pruned convs). The checker recomputes every mask from
# the unpruned weights, requires the exported weights to equal them times
# that mask bit for bit and the report's counts to match, and runs the dense
# PyTorch model on the pruned weights: both netc outputs within 1e-4.
# Without PyTorch it exits 77 (skipped) and says so.
set -u
netc=$1 model=$2
shift 2
source "$(dirname "$0")/example_env.sh"
"$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" || exit 1
cases=()
i=0
for spec in "$@"; do
    i=$((i + 1))
    p=(--weights "$tmp/w.safetensors" "--prune=$spec")
    "$netc" export "$net" "${defs[@]}" "${p[@]}" --format=torch --prune-report "$tmp/$i.json" \
        -o "$tmp/$i.safetensors" 2>"$tmp/$i.table" || { cat "$tmp/$i.table"; echo "FAIL $spec: export"; exit 1; }
    "$netc" run "$net" "${defs[@]}" "${p[@]}" --input "$input" -o "$tmp/$i.ref.npy" ||
        { echo "FAIL $spec: netc run"; exit 1; }
    "$netc" run "$net" "${defs[@]}" "${p[@]}" --backend=llvm --input "$input" -o "$tmp/$i.llvm.npy" ||
        { echo "FAIL $spec: netc run --backend=llvm"; exit 1; }
    cases+=(--case "$spec" "$tmp/$i.safetensors" "$tmp/$i.json" "$tmp/$i.ref.npy" "$tmp/$i.llvm.npy")
done
args=()
[ -n "$size" ] && [ "$size" != "-" ] && args=(--image-size "$size")
/usr/bin/python3 "$root/tools/prune_check.py" "$model" --weights "$tmp/w.safetensors" --input "$input" \
    "${args[@]}" "${cases[@]}"
status=$?
case $status in
0) echo "$# passed, 0 failed" ;;
77) echo "PyTorch missing: the pruning checks did not run" ;;
*) echo "FAIL: tools/prune_check.py" ;;
esac
exit $status
