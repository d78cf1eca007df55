#!/usr/bin/env bash
# example_test.sh — checks one example network end to end against PyTorch.
#
#   tests/example_test.sh NETC NPY_COMPARE MODEL
#
# 0. the IR dump of the example parses back to identical text;
# 1. names: the parameters netc creates for examples/MODEL.net are exactly
#    the state_dict of the torchvision model (tests/golden/torch/MODEL.keys,
#    written by tools/torch_keys.py; num_batches_tracked buffers aside),
#    with the same shapes;
# 2. count: `netc stats` reports torchvision's parameter count (MODEL.count);
# 3. numbers: netc's reference interpreter, with weights from `netc init
#    --seed 1` at the size listed in MANIFEST, reproduces PyTorch's output
#    (MODEL.expected.npy, made by tools/make_torch_goldens.sh) within 1e-4
#    relative to the output's scale.
set -u
netc=$1 compare=$2 model=$3
source "$(dirname "$0")/example_env.sh"

"$netc" dump "$net" > "$tmp/dump.ir" || exit 1
if "$netc" dump "$tmp/dump.ir" | cmp -s - "$tmp/dump.ir"; then
    echo "ok round-trip: the IR dump parses back to the same text"
else
    echo "FAIL round-trip: netc dump of the dump differs"; fail=1
fi
sed -n 's/^  param %\([^ ]*\) : f32\(\[[^]]*\]\).*/\1 \2/p' "$tmp/dump.ir" | sort > "$tmp/netc.keys"
grep -v 'num_batches_tracked' "$gold/$model.keys" | sort > "$tmp/torch.keys"
if diff "$tmp/torch.keys" "$tmp/netc.keys" > "$tmp/keys.diff"; then
    echo "ok names: $(wc -l < "$tmp/netc.keys") parameters match torchvision's state_dict"
else
    echo "FAIL names (< torchvision, > netc):"; head -20 "$tmp/keys.diff"; fail=1
fi

want=$(cat "$gold/$model.count")
got=$("$netc" stats "$net" | sed -n 's/^total parameters: *\([0-9,]*\).*/\1/p' | tr -d ,)
if [ "$got" = "$want" ]; then
    echo "ok count: $got parameters"
else
    echo "FAIL count: netc stats says '$got', torchvision counts $want"; fail=1
fi

if "$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" &&
   "$netc" run "$net" "${defs[@]}" --weights "$tmp/w.safetensors" \
       --input "$gold/$model.input.npy" -o "$tmp/out.npy"; then
    "$compare" "$tmp/out.npy" "$gold/$model.expected.npy" 1e-4 || fail=1
else
    echo "FAIL numbers: netc init/run failed"; fail=1
fi
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
