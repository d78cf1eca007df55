#!/usr/bin/env bash
# quant_sizes.sh — model size of examples at 8 bits, under a 5-bit average
# budget (exact allocation on weight-error sensitivity, first and last
# layers at 8) and at 4 bits, as netc's quantize pass reports it (weights
# n·b/8 bytes plus 4 bytes per per-channel scale; every other parameter
# f32), against the f32 model. Weights of `netc init` (sizes do not depend
# on their values). Usage: bench/quant_sizes.sh [NETC] [model ...]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
netc=${1:-$root/build/netc}
shift || true
models=${*:-resnet18 resnet50 mobilenet_v2 vit_b_16 vit_ti_16 convnext_tiny}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mib() { /usr/bin/python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['totals']; print('%.2f %.2f %.3f' % (t['float_bytes']/2**20, t['mib'], t['average_bits']))" "$1"; }
echo "| model | f32 MiB | W8 MiB | mixed (5 bits avg) MiB | W4 MiB |"
echo "|---|---|---|---|---|"
for m in $models; do
    net=$root/examples/$m.net
    "$netc" init "$net" -D image_size=64 -o "$tmp/w.safetensors" 2>/dev/null
    row="| $m"
    for cfg in "quantize(act-bits=0)" "quantize(act-bits=0,sensitivity=1) --quant-budget=5bits" "quantize(act-bits=0,bits=4)"; do
        # shellcheck disable=SC2086
        "$netc" opt "$net" -D image_size=64 --weights "$tmp/w.safetensors" --passes=$cfg \
            --quant-report "$tmp/r.json" -o "$tmp/q.ir" 2>/dev/null
        read -r f q avg < <(mib "$tmp/r.json")
        [ "$row" = "| $m" ] && row="$row | $f"
        row="$row | $q ($avg b)"
    done
    echo "$row |"
done
