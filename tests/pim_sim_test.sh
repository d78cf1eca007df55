#!/usr/bin/env bash
# pim_sim_test.sh — `netc pim-sim`, the functional crossbar simulator, on
# quantized nets (netc opt ...,quantize,integerize), against the reference
# interpreter running the same integer graph:
#
#   tests/pim_sim_test.sh NETC NPY_COMPARE NPY_TOP1
#
# 1. bit-exact (tolerance 0) at a lossless ADC on three presets, i.e. three
#    signed schemes and three row-packing conventions: digits_cnn (trained,
#    360 test images in batches of 8), and ResNet-18 (64x64, seeded) on ISAAC;
# 2. below the bound the simulator is not exact, and on the trained digits
#    CNN top-1 falls as the ADC loses bits (the PIM-QAT observation that a
#    conventionally quantized net fails at low ADC precision); the table of
#    top-1 against ADC bits is printed;
# 3. errors: a float net's program, weights of another graph, options that
#    change the mapping.
set -u
netc=$1 compare=$2 top1=$3
root=$(cd "$(dirname "$0")/.." && pwd)
digits=$root/examples/digits
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL $*"; fail=1; }
int8=fold-bn,remove-identity,quantize,integerize,dce

"$netc" opt "$root/examples/digits_cnn.net" -D batch=8 --weights "$digits/digits_cnn.safetensors" \
    --calib "$digits/calib_x.npy" --passes=$int8 -o "$tmp/d.ir" 2> /dev/null || { echo "FAIL digits opt"; exit 1; }
"$netc" run "$tmp/d.ir" --weights "$tmp/d.safetensors" --input "$digits/test_x.npy" -o "$tmp/dref.npy" || exit 1
ref_top1=$("$top1" "$tmp/dref.npy" "$digits/test_y.npy")

# presetname:lossless-bits (ISAAC 128 rows, 2-bit cells: 9; MNSIM 256 rows,
# 1-bit cells: 9; NeuroSim 128 rows, 1-bit cells: 8)
for p in isaac:9 mnsim:9 neurosim:8; do
    preset=${p%:*} lossless=${p#*:}
    "$netc" pim "$tmp/d.ir" --preset $preset -o "$tmp/d.$preset.pim" || { bad "digits $preset: pim"; continue; }
    "$netc" pim-sim "$tmp/d.$preset.pim" --weights "$tmp/d.safetensors" --input "$digits/test_x.npy" \
        --adc-bits $lossless -o "$tmp/d.npy" > "$tmp/report" || { bad "digits $preset: pim-sim"; continue; }
    "$compare" "$tmp/d.npy" "$tmp/dref.npy" 0 > /dev/null || bad "digits $preset: not bit-exact at $lossless ADC bits"
    grep -q "largest accumulator error 0$" "$tmp/report" || bad "digits $preset: accumulators not exact"
    "$netc" pim-sim "$tmp/d.$preset.pim" --weights "$tmp/d.safetensors" --input "$digits/test_x.npy" \
        --adc-bits $((lossless - 1)) -o "$tmp/d1.npy" > /dev/null || bad "digits $preset: pim-sim below the bound"
    "$compare" "$tmp/d1.npy" "$tmp/dref.npy" 0 > /dev/null 2>&1 && bad "digits $preset: exact one bit below the bound"
done

echo "digits_cnn top-1 against ADC bits (isaac preset: 8-bit weights and inputs, 2-bit cells, fullscale ADC);"
echo "the integer reference: $ref_top1"
declare -A acc
for b in 9 8 7 6 5 4 3; do
    "$netc" pim-sim "$tmp/d.isaac.pim" --weights "$tmp/d.safetensors" --input "$digits/test_x.npy" --adc-bits $b \
        -o "$tmp/d$b.npy" > "$tmp/report" || { bad "digits: pim-sim at $b bits"; continue; }
    acc[$b]=$("$top1" "$tmp/d$b.npy" "$digits/test_y.npy")
    echo "  ADC $b bits: top-1 ${acc[$b]}, $(sed -n 's/^total: .*; //p' "$tmp/report")"
done
[ "${acc[9]}" = "$ref_top1" ] || bad "digits: top-1 at the lossless ADC ${acc[9]}, reference $ref_top1"
[ "${acc[3]%/*}" -lt $(( ${ref_top1%/*} / 2 )) ] || bad "digits: top-1 at 3 ADC bits ${acc[3]} does not collapse"
[ "${acc[6]%/*}" -lt "${acc[8]%/*}" ] || [ "${acc[6]%/*}" -lt "${ref_top1%/*}" ] ||
    bad "digits: 6 ADC bits lose nothing (${acc[6]})"

# ResNet-18 at 64x64 with seeded weights bit-exact on ISAAC (digits_cnn
# above covers all three presets; one large net once keeps the suite short).
net=$root/examples/resnet18.net
"$netc" init "$net" -D image_size=64 --seed 1 -o "$tmp/w.safetensors" || exit 1
calib=$root/tests/golden/quant/resnet18.calib.npy
"$netc" opt "$net" -D image_size=64 --weights "$tmp/w.safetensors" --calib "$calib" --passes=$int8 \
    -o "$tmp/r.ir" 2> /dev/null || bad "resnet18 opt"
"$netc" run "$tmp/r.ir" --weights "$tmp/r.safetensors" --input "$calib" -o "$tmp/rref.npy" || bad "resnet18 run"
for p in isaac:9; do
    preset=${p%:*} lossless=${p#*:}
    "$netc" pim "$tmp/r.ir" --preset $preset --tiles 100000 -o "$tmp/r.pim" &&
    "$netc" pim-sim "$tmp/r.pim" --weights "$tmp/r.safetensors" --input "$calib" --adc-bits $lossless \
        -o "$tmp/r.npy" > /dev/null &&
    "$compare" "$tmp/r.npy" "$tmp/rref.npy" 0 > /dev/null || bad "resnet18 $preset: not bit-exact at $lossless bits"
done

# Crossbar-block pruning flows through: digits_cnn with half of its
# 32x32 tiles pruned maps to fewer crossbars (the empty blocks are left
# out), is still bit-exact at the lossless ADC, and its program refuses the
# unpruned weights (a skipped block whose weights are not zero).
"$netc" opt "$root/examples/digits_cnn.net" -D batch=8 --weights "$digits/digits_cnn.safetensors" \
    --calib "$digits/calib_x.npy" --prune block:0.5:32x32 --passes=prune,$int8 -o "$tmp/p.ir" 2> /dev/null ||
    bad "digits block-pruned opt"
"$netc" run "$tmp/p.ir" --weights "$tmp/p.safetensors" --input "$digits/test_x.npy" -o "$tmp/pref.npy" ||
    bad "digits block-pruned run"
"$netc" pim "$tmp/p.ir" --weights "$tmp/p.safetensors" --xbar 32x32 --cell-bits 8 -o "$tmp/p.pim" &&
    "$netc" pim "$tmp/d.ir" --xbar 32x32 --cell-bits 8 -o "$tmp/dense.pim" || bad "digits block-pruned pim"
dense=$(sed -n 's/^summary .* xbars \([0-9]*\) .*/\1/p' "$tmp/dense.pim")
pruned=$(sed -n 's/^summary .* xbars \([0-9]*\) .*/\1/p' "$tmp/p.pim")
skipped=$(grep -c ' skipped$' "$tmp/p.pim")
[ -n "$pruned" ] && [ "$skipped" -gt 0 ] && [ $((dense - pruned)) -eq "$skipped" ] ||
    bad "digits block-pruned: $dense crossbars dense, $pruned pruned, $skipped blocks skipped"
echo "digits_cnn, 32x32 crossbars of 8-bit cells: $dense crossbars dense, $pruned after block:0.5 ($skipped skipped)"
"$netc" pim-sim "$tmp/p.pim" --weights "$tmp/p.safetensors" --input "$digits/test_x.npy" --adc-bits 13 \
    -o "$tmp/p.npy" > /dev/null && "$compare" "$tmp/p.npy" "$tmp/pref.npy" 0 > /dev/null ||
    bad "digits block-pruned: not bit-exact at the lossless ADC"
python3 - "$tmp/p.safetensors" "$tmp/q.safetensors" <<'PY' # every crossbar weight 1, header kept
import json, struct, sys
raw = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
for key, t in header.items():
    if key != "__metadata__" and key.endswith(".weight") and t["dtype"] == "I8":
        a, b = t["data_offsets"]
        raw[8 + n + a:8 + n + b] = b"\x01" * (b - a)
open(sys.argv[2], "wb").write(raw)
PY
"$netc" pim-sim "$tmp/p.pim" --weights "$tmp/q.safetensors" --input "$digits/test_x.npy" -o "$tmp/q.npy" 2> "$tmp/err"
[ $? -eq 1 ] && [ ! -e "$tmp/q.npy" ] && grep -q "is skipped by the program" "$tmp/err" ||
    bad "block-pruned program with unpruned weights: $(head -2 "$tmp/err")"

# Errors: exit 1 (input) or 2 (usage), nothing written.
"$netc" pim "$root/examples/digits_cnn.net" -D batch=8 -o "$tmp/float.pim" || bad "digits float pim"
"$netc" pim-sim "$tmp/float.pim" --weights "$digits/digits_cnn.safetensors" --input "$digits/test_x.npy" \
    -o "$tmp/o.npy" 2> "$tmp/err"
[ $? -eq 1 ] && [ ! -e "$tmp/o.npy" ] && grep -q "crossbar layer '.*' is not quantized: run the quantize" "$tmp/err" ||
    bad "float program: $(head -2 "$tmp/err")"
"$netc" pim-sim "$tmp/d.isaac.pim" --weights "$tmp/r.safetensors" --input "$digits/test_x.npy" -o "$tmp/o.npy" \
    2> "$tmp/err"
[ $? -eq 1 ] && [ ! -e "$tmp/o.npy" ] && grep -q "written for another graph" "$tmp/err" ||
    bad "weights of another graph: $(head -2 "$tmp/err")"
"$netc" pim-sim "$tmp/d.isaac.pim" --weights "$tmp/d.safetensors" --input "$digits/test_x.npy" --xbar 64x64 \
    -o "$tmp/o.npy" 2> "$tmp/err"
[ $? -eq 2 ] && [ ! -e "$tmp/o.npy" ] && grep -q "changes the mapping" "$tmp/err" || bad "--xbar: $(head -2 "$tmp/err")"

[ $fail -eq 0 ] && echo "pim-sim: bit-exact at lossless ADCs on every preset; accuracy falls with ADC bits"
exit $fail
