#!/usr/bin/env bash
# bench/pim.sh — the PIM mapper per example and preset: the time `netc pim`
# takes (median of RUNS, the whole command: load, elaborate, map, write),
# the crossbars it used beside the closed form recomputed from the shapes
# by tools/pim_check.py (the baseline every count is checked against), the
# blocks, and whether the net fits the preset's chip. A markdown table.
#
#   bench/pim.sh [MODEL...]     (default: every example with a torchvision twin)
#
# Environment: NETC (default build/netc), RUNS (default 5).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
netc=${NETC:-$root/build/netc}
runs=${RUNS:-5}
if [ $# -gt 0 ]; then models=("$@"); else models=(lenet resnet18 resnet50 mobilenet_v2 vgg16 vit_ti_16 vit_b_16); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; flags: $(grep -m1 -o 'avx512[a-z_]*\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo
echo "| model | preset | map ms (median of $runs) | crossbars | closed form | blocks | chip crossbars | fits |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
for m in "${models[@]}"; do
    passes=()
    case $m in *vit*) passes=(--passes=expand-mha) ;; esac
    for preset in isaac mnsim neurosim; do
        # Large chips so that every net maps; `fits` is against the preset's own chip.
        times=()
        for _ in $(seq "$runs"); do
            t0=$(date +%s%N)
            "$netc" pim "$root/examples/$m.net" "${passes[@]}" --preset $preset --tiles 1000000 -o "$tmp/p.pim"
            t1=$(date +%s%N)
            times+=($(( (t1 - t0) / 1000 )))
        done
        med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
        "$netc" pim "$root/examples/$m.net" "${passes[@]}" --preset $preset --tiles 1000000 --emit json -o "$tmp/p.json"
        closed=$(python3 "$root/tools/pim_check.py" "$tmp/p.json" | sed -n 's/.* \([0-9]*\) crossbars: closed forms hold/\1/p')
        read -r xbars blocks <<< "$(sed -n 's/^summary .* blocks \([0-9]*\) xbars \([0-9]*\) .*/\2 \1/p' "$tmp/p.pim")"
        fits=yes
        "$netc" pim "$root/examples/$m.net" "${passes[@]}" --preset $preset -o "$tmp/q.pim" 2> /dev/null || fits=no
        chip=$("$netc" pim "$root/examples/lenet.net" --preset $preset -o "$tmp/l.pim" && sed -n 's/.* chip-xbars \([0-9]*\) .*/\1/p' "$tmp/l.pim")
        printf '| %s | %s | %.1f | %s | %s | %s | %s | %s |\n' "$m" "$preset" "$(echo "$med / 1000" | bc -l)" \
            "$xbars" "${closed:-MISMATCH}" "$blocks" "$chip" "$fits"
    done
done
