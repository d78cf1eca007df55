#!/usr/bin/env bash
# pim_test.sh — `netc pim` on every example under every row-packing
# convention and several crossbar sizes and bit settings, each program
# checked by tools/pim_check.py against closed forms computed from the
# layer shapes; the totals of ../shared/research/pim.md §6 for ResNet-18/50,
# VGG-16 and MobileNetV2; and the errors (a net that does not fit, bad
# options) exit non-zero and write nothing.
#
#   tests/pim_test.sh NETC
set -u
netc=$1
root=$(cd "$(dirname "$0")/.." && pwd)
check="python3 $root/tools/pim_check.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL $*"; fail=1; }

# map NET EXPECT ARGS...: the JSON program of NET, checked (EXPECT "-": no total asserted).
map() {
    local net=$1 expect=$2
    shift 2
    local passes=()
    case $net in *vit*) passes=(--passes=expand-mha) ;; esac
    if ! "$netc" pim "$root/examples/$net.net" "${passes[@]}" --tiles 100000 "$@" --emit json -o "$tmp/p.json"; then
        bad "$net $*: netc pim failed"
        return
    fi
    local e=()
    [ "$expect" != - ] && e=(--expect "$expect")
    $check "$tmp/p.json" "${e[@]}" > /dev/null || bad "$net $*: closed forms do not hold"
}

# Every convention and three settings on the nets with every kind of layer
# (grouped, depthwise, residual, concat, attention); the large plain ones
# below get their totals checked.
nets=(lenet mlp digits_cnn digits_vit resnet18 mobilenet_v2 vit_ti_16 squeezenet1_1
      shufflenet_v2_x1_0 efficientnet_b0 densenet121)
for net in resnet50 vgg16 convnext_tiny vit_b_16; do
    map "$net" -
done
# The two other settings on one net per kind of layer (depthwise, concat,
# attention, grouped + split), to keep the suite short.
for net in "${nets[@]}"; do
    for conv in im2col whole-kernel per-position; do
        map "$net" - --convention $conv
        case $net in mobilenet_v2 | densenet121 | digits_vit | shufflenet_v2_x1_0) ;; *) continue ;; esac
        map "$net" - --convention $conv --xbar 256x256 --cell-bits 1 --weight-bits 3 --signed differential
        map "$net" - --convention $conv --xbar 64x128 --cell-bits 4 --weight-bits 8 --signed twos
    done
done

# Published and derived totals (pim.md §6 items 2-3).
map resnet18 5724
map resnet50 12504
map vgg16 67576
map resnet18 5724 --preset neurosim --convention im2col
map resnet18 3392 --preset mnsim
map resnet50 6944 --preset mnsim
map vgg16 34160 --preset mnsim
for n in resnet18:2159:558 resnet50:4706:1213 vgg16:25356:6347; do
    IFS=: read -r net x128 x256 <<< "$n"
    map "$net" "$x128" --weight-bits 3 --cell-bits 1
    map "$net" "$x256" --weight-bits 3 --cell-bits 1 --xbar 256x256
done
map mobilenet_v2 816 --weight-bits 2 --cell-bits 2
map mobilenet_v2 1311 --weight-bits 3 --cell-bits 1
map mobilenet_v2 2526
map mobilenet_v2 513 --weight-bits 3 --cell-bits 1 --xbar 256x256

# The checker itself fails on a program whose blocks lose a row.
"$netc" pim "$root/examples/lenet.net" --emit json -o "$tmp/l.json" || bad "lenet: netc pim failed"
python3 - "$tmp/l.json" "$tmp/broken.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["layers"][0]["blocks"][0]["rows"][1] -= 1
json.dump(p, open(sys.argv[2], "w"))
PY
$check "$tmp/broken.json" > /dev/null 2>&1 && bad "pim_check accepted a block that lost a row"
$check "$tmp/l.json" --expect 1 > /dev/null 2>&1 && bad "pim_check accepted a wrong total"

# ISAAC (168 tiles) cannot hold VGG-16 at 16 bits: an error that says by
# how much and which --tiles fits, and nothing written.
"$netc" pim "$root/examples/vgg16.net" -o "$tmp/v.pim" 2> "$tmp/err"
rc=$?
[ $rc -eq 1 ] || bad "vgg16 on isaac: exit $rc, expected 1"
[ -e "$tmp/v.pim" ] && bad "vgg16 on isaac: wrote a program although it does not fit"
grep -q "51456 too few; --tiles 704 would fit it" "$tmp/err" || bad "vgg16 on isaac: message: $(cat "$tmp/err")"
"$netc" pim "$root/examples/vgg16.net" --tiles 704 -o "$tmp/v.pim" || bad "vgg16 with --tiles 704 does not fit"

# Bad options: usage errors (exit 2), nothing written.
for opt in "--xbar 0x128" "--xbar 128" "--cell-bits 9" "--preset puma" "--signed none" "--convention rows" \
           "--adc-mode exact" "--weight-bits 1" "--emit asm"; do
    # shellcheck disable=SC2086
    "$netc" pim "$root/examples/lenet.net" $opt -o "$tmp/o.pim" 2> "$tmp/err"
    rc=$?
    [ $rc -eq 2 ] || bad "$opt: exit $rc, expected 2"
    [ -e "$tmp/o.pim" ] && bad "$opt: wrote a program"
    grep -q "error" "$tmp/err" || bad "$opt: no error message"
done
# A fused mha is named as the layer that cannot be mapped.
"$netc" pim "$root/examples/vit_ti_16.net" -o "$tmp/o.pim" 2> "$tmp/err" && bad "vit_ti_16 without expand-mha mapped"
grep -q "encoder.layers.encoder_layer_0.self_attention.*expand-mha" "$tmp/err" || bad "mha message: $(head -2 "$tmp/err")"

# Read back: every program (text) re-reads to the same bytes and to the
# same JSON; a changed, truncated or inconsistent program is refused at its
# line with exit 1 and nothing written.
for net in lenet resnet18 mobilenet_v2 vit_ti_16 densenet121; do
    passes=()
    case $net in *vit*) passes=(--passes=expand-mha) ;; esac
    presets=(isaac mnsim neurosim)
    case $net in resnet18 | densenet121) presets=(isaac) ;; esac # the large ones once
    for preset in "${presets[@]}"; do
        "$netc" pim "$root/examples/$net.net" "${passes[@]}" --preset $preset --tiles 100000 -o "$tmp/a.pim" &&
        "$netc" pim "$root/examples/$net.net" "${passes[@]}" --preset $preset --tiles 100000 --emit json -o "$tmp/a.json" &&
        "$netc" pim "$tmp/a.pim" -o "$tmp/b.pim" && "$netc" pim "$tmp/a.pim" --emit json -o "$tmp/b.json" &&
        cmp -s "$tmp/a.pim" "$tmp/b.pim" && cmp -s "$tmp/a.json" "$tmp/b.json" || bad "$net $preset: no round trip"
    done
done
"$netc" pim "$root/examples/resnet18.net" -o "$tmp/r.pim"
refuse() { # refuse NAME LINE-PATTERN: the edited program is refused at a line matching it
    rm -f "$tmp/o.pim"
    "$netc" pim "$tmp/$1.pim" -o "$tmp/o.pim" 2> "$tmp/err"
    local rc=$?
    [ $rc -eq 1 ] || bad "$1: exit $rc, expected 1"
    [ -e "$tmp/o.pim" ] && bad "$1: wrote a program"
    grep -Eq "$2" "$tmp/err" || bad "$1: message: $(head -1 "$tmp/err")"
}
sed 's/rows 128..147 cols 0..128/rows 128..146 cols 0..128/' "$tmp/r.pim" > "$tmp/edited.pim"
refuse edited "edited.pim:[0-9]+:1: error: this line is not the mapping"
head -c 30000 "$tmp/r.pim" > "$tmp/truncated.pim"
refuse truncated "truncated.pim:[0-9]+:1: error: no 'graph begin'"
sed 's/^  cell-bits 2$/  cell-bits 1/' "$tmp/r.pim" > "$tmp/rehw.pim"
refuse rehw "rehw.pim:22:1: error: this line is not the mapping.*blocks 11444"
sed 's/^  tiles 168$/  tiles 0/' "$tmp/r.pim" > "$tmp/zero.pim"
refuse zero "zero.pim:16:9: error: tiles needs an integer from 1 to 1048576, not '0'"
sed '/^  adc-bits/d' "$tmp/r.pim" > "$tmp/missing.pim"
refuse missing "missing.pim:3:1: error: the hardware section must give all 17 keys"
sed 's/%layer1.0.conv1.weight : f32\[64, 64, 3, 3\]/%layer1.0.conv1.weight : f32[64, 64, 3, 1]/' "$tmp/r.pim" > "$tmp/graph.pim"
refuse graph "graph.pim:[0-9]+:[0-9]+: error"
printf 'pim 2\n' > "$tmp/version.pim"
refuse version "version.pim:1:1: error: expected 'pim 1'"
: > "$tmp/empty.pim"
refuse empty "empty.pim:1:1: error: expected 'pim 1'"
head -c 20000 /dev/urandom > "$tmp/noise.pim"
refuse noise "noise.pim:[0-9]+:1: error"

# --plot: two SVG files that parse as XML, one rectangle per crossbar of
# the tiles in use (plus one frame per tile) and three bars per layer.
"$netc" pim "$root/examples/resnet18.net" --plot "$tmp/plot" -o "$tmp/r.pim" || bad "--plot failed"
python3 - "$tmp/plot" <<'PY' || bad "--plot: the pictures are not what the program says"
import sys, xml.etree.ElementTree as E
d = sys.argv[1]
ns = "{http://www.w3.org/2000/svg}"
chip = E.parse(d + "/chip.svg").getroot().findall(ns + "rect")
layers = E.parse(d + "/layers.svg").getroot().findall(ns + "rect")
tiles = -(-5740 // 96)  # resnet18 on isaac spans 5740 crossbars, 96 per tile
assert len(chip) == tiles * 96 + tiles, len(chip)
assert len(layers) == 3 * 21, len(layers)
PY

[ $fail -eq 0 ] && echo "pim: every program holds its closed forms"
exit $fail
