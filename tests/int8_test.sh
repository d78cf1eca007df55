#!/usr/bin/env bash
# int8_test.sh — the integer path end to end: quantize + integerize, then
# the native int8 kernels against the reference interpreter.
#
#   tests/int8_test.sh NETC NPY_COMPARE NPY_TOP1 CC
#
# 1. ResNet-18 (seed-1 weights, size 64, calibrated on the quant goldens'
#    batch): integerize leaves no float conv2d or linear; the native code of
#    every kernel variant this CPU runs (--cpu x86-64, x86-64-v3, x86-64-v4,
#    cascadelake: SSE2, AVX2, AVX-512, VNNI) gives the reference
#    interpreter's logits bit for bit (every float op between the integer
#    layers is exact: add, relu, maxpool, quantize; the average pool before
#    the classifier is summed in the same order); and the integer model
#    stays within 2e-2 of the fake-quantized float model it came from
#    (measured 9.5e-3: the i32 bias and the single requantization multiply
#    move a few elements by one quantization step).
#    Bundles: at 8 and 4 bits, `netc build` for each variant, linked with
#    tests/aot_runner.c (NAME_load_weights, then NAME_run), give the same
#    bits; the weights file is the compact form, 1 byte per weight at 8
#    bits and half a byte at 4 (checked against the parameter count).
# 2. digits_cnn (trained, examples/digits): the same bit-exactness on the
#    360 test images (run in 45 batches of 8), and the integer model's
#    top-1 within one image of the fake-quantized model's.
# 3. digits_vit through expand-mha (both attention projections int8): top-1
#    within two images of the fake-quantized model's, and the native top-1
#    equal to the reference's with logits within 1e-2 (layernorm, softmax
#    and GELU are float kernels, accurate but not bit-identical).
# 4. digits_cnn in the fixed-point mode: shift requantization, bit-exact on
#    every variant, top-1 within one image of the fake-quantized model's.
set -u
netc=$1 compare=$2 top1=$3 cc=$4
model=resnet18
source "$(dirname "$0")/example_env.sh"
digits=$root/examples/digits
passed=0 failed=0
pass() { echo "ok $1"; passed=$((passed + 1)); }
flunk() { echo "FAIL $1"; failed=$((failed + 1)); }

# Variants this CPU can run, by its flags, as "cpu:name".
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
variants="x86-64:SSE2"
has avx2 && has fma && variants="$variants x86-64-v3:AVX2"
avx512=0
has avx512f && has avx512bw && has avx512dq && has avx512vl && avx512=1
[ $avx512 -eq 1 ] && variants="$variants x86-64-v4:AVX-512"
[ $avx512 -eq 1 ] && has avx512_vnni && variants="$variants cascadelake:AVX-512-VNNI"
for v in x86-64-v3:AVX2 x86-64-v4:AVX-512 cascadelake:AVX-512-VNNI; do
    case " $variants " in *" $v "*) ;; *) echo "note: ${v#*:} kernels NOT checked: this CPU cannot run them" ;; esac
done

# quantize NET DEFS... -- PASSES OUT: netc opt with the given calibration.
opt() {
    local out=$1 calib=$2 passes=$3; shift 3
    "$netc" opt "$@" --calib "$calib" --passes="$passes" -o "$out" 2> "$out.log" || { cat "$out.log"; return 1; }
}
fake=fold-bn,remove-identity,expand-mha,quantize,dce
int8=fold-bn,remove-identity,expand-mha,quantize,integerize,dce

# ---- 1. ResNet-18
"$netc" init "$net" "${defs[@]}" --seed 1 -o "$tmp/w.safetensors" || exit 1
calib=$root/tests/golden/quant/resnet18.calib.npy
if opt "$tmp/fake.ir" "$calib" "$fake" "$net" "${defs[@]}" --weights "$tmp/w.safetensors" &&
   opt "$tmp/int8.ir" "$calib" "$int8" "$net" "${defs[@]}" --weights "$tmp/w.safetensors" &&
   "$netc" run "$tmp/fake.ir" --weights "$tmp/fake.safetensors" --input "$input" -o "$tmp/fake.npy" &&
   "$netc" run "$tmp/int8.ir" --weights "$tmp/int8.safetensors" --input "$input" -o "$tmp/ref.npy"; then
    left=$(grep -cE '= (conv2d|linear)\(' "$tmp/int8.ir")
    [ "$left" -eq 0 ] && pass "resnet18: every conv2d and linear is integer" ||
        flunk "resnet18: $left float conv2d/linear left: $(grep 'stays float' "$tmp/int8.ir.log" | head -3)"
    "$compare" "$tmp/ref.npy" "$tmp/fake.npy" 2e-2 && pass "resnet18: integer model vs fake-quantized" ||
        flunk "resnet18: the integer model is too far from the fake-quantized one"
    for v in $variants; do
        if "$netc" run "$tmp/int8.ir" --weights "$tmp/int8.safetensors" --input "$input" --backend=llvm \
               --cpu "${v%%:*}" -o "$tmp/native.npy" && cmp -s "$tmp/native.npy" "$tmp/ref.npy"; then
            pass "resnet18: ${v#*:} kernels = reference, bit for bit"
        else
            flunk "resnet18: ${v#*:} kernels differ from the reference"
            "$compare" "$tmp/native.npy" "$tmp/ref.npy" 0
        fi
    done
else
    flunk "resnet18: quantizing or running failed"
fi

# Bundles at 8 and 4 bits: the weights file holds ~bits/8 bytes per weight.
nweights=$("$netc" stats "$net" "${defs[@]}" | sed -n 's/^total parameters: *\([0-9,]*\).*/\1/p' | tr -d ,)
for bits in 8 4; do
    q=$tmp/w$bits
    if ! opt "$q.ir" "$calib" "fold-bn,remove-identity,quantize(bits=$bits),integerize,dce" "$net" "${defs[@]}" \
           --weights "$tmp/w.safetensors" ||
       ! "$netc" run "$q.ir" --weights "$q.safetensors" --input "$input" -o "$q.ref.npy"; then
        flunk "resnet18 W$bits: quantizing failed"; continue
    fi
    for v in $variants; do
        cpu=${v%%:*} b=$tmp/bundle_${bits}_${v%%:*}
        if "$netc" build "$q.ir" --weights "$q.safetensors" --cpu "$cpu" -o "$b" &&
           "$cc" -O1 -std=c11 -include "$b/resnet18.h" -DNET=resnet18 -DNETU=RESNET18 "$root/tests/aot_runner.c" \
               "$b/resnet18.o" -o "$b/runner" -lm -lpthread &&
           "$b/runner" "$b/resnet18.weights" "$input" "$b/out.npy" &&
           "$compare" "$b/out.npy" "$q.ref.npy" 0 > /dev/null; then
            size=$(stat -c %s "$b/resnet18.weights")
            # the weights at bits/8 bytes, plus int32 bias and float mult per output channel (< 2 %)
            if awk -v s="$size" -v n="$nweights" -v b="$bits" 'BEGIN { exit !(s >= n * b / 8 && s < n * b / 8 * 1.02) }'; then
                pass "resnet18 W$bits bundle, ${v#*:} kernels: = reference bit for bit, weights file $size bytes"
            else
                flunk "resnet18 W$bits bundle, ${v#*:}: weights file $size bytes for $nweights weights"
            fi
        else
            flunk "resnet18 W$bits bundle, ${v#*:} kernels: build, link or run failed, or differs from the reference"
        fi
    done
done

# ---- 2, 3. the digits models: top-1 on the test split, in batches of 8
for m in digits_cnn digits_vit; do
    w=$digits/$m.safetensors
    if ! { opt "$tmp/$m.fake.ir" "$digits/calib_x.npy" "$fake" "$root/examples/$m.net" -D batch=8 --weights "$w" &&
           opt "$tmp/$m.int8.ir" "$digits/calib_x.npy" "$int8" "$root/examples/$m.net" -D batch=8 --weights "$w" &&
           "$netc" run "$tmp/$m.fake.ir" --weights "$tmp/$m.fake.safetensors" --input "$digits/test_x.npy" \
               -o "$tmp/$m.fake.npy" &&
           "$netc" run "$tmp/$m.int8.ir" --weights "$tmp/$m.int8.safetensors" --input "$digits/test_x.npy" \
               -o "$tmp/$m.ref.npy" &&
           "$netc" run "$tmp/$m.int8.ir" --weights "$tmp/$m.int8.safetensors" --input "$digits/test_x.npy" \
               --backend=llvm -o "$tmp/$m.native.npy"; }; then
        flunk "$m: quantizing or running failed"
        continue
    fi
    f=$("$top1" "$tmp/$m.fake.npy" "$digits/test_y.npy") r=$("$top1" "$tmp/$m.ref.npy" "$digits/test_y.npy")
    n=$("$top1" "$tmp/$m.native.npy" "$digits/test_y.npy")
    slack=1
    [ $m = digits_vit ] && slack=2
    d=$(( ${f%/*} - ${r%/*} ))
    [ ${d#-} -le $slack ] && pass "$m: int8 top-1 $r, fake-quantized $f" ||
        flunk "$m: int8 top-1 $r is more than $slack images from the fake-quantized $f"
    if [ $m = digits_cnn ]; then
        cmp -s "$tmp/$m.native.npy" "$tmp/$m.ref.npy" && pass "$m: native = reference, bit for bit" ||
            flunk "$m: native int8 differs from the reference"
    else
        [ "$n" = "$r" ] && "$compare" "$tmp/$m.native.npy" "$tmp/$m.ref.npy" 1e-2 &&
            pass "$m: native top-1 $n = reference's, logits within 1e-2" || flunk "$m: native $n vs reference $r"
    fi
done
# ---- 4. the fixed-point mode (quantize(pow2=1)) on digits_cnn: u8 results
# requantized by shifts, native = reference bit for bit, top-1 within one
# image of the fake-quantized fixed-point model's.
m=digits_cnn w=$digits/$m.safetensors
fxq="fold-bn,remove-identity,quantize(pow2=1),dce" fxi="fold-bn,remove-identity,quantize(pow2=1),integerize,dce"
if opt "$tmp/fx.fake.ir" "$digits/calib_x.npy" "$fxq" "$root/examples/$m.net" -D batch=8 --weights "$w" &&
   opt "$tmp/fx.ir" "$digits/calib_x.npy" "$fxi" "$root/examples/$m.net" -D batch=8 --weights "$w" &&
   "$netc" run "$tmp/fx.fake.ir" --weights "$tmp/fx.fake.safetensors" --input "$digits/test_x.npy" -o "$tmp/fx.fake.npy" &&
   "$netc" run "$tmp/fx.ir" --weights "$tmp/fx.safetensors" --input "$digits/test_x.npy" -o "$tmp/fx.ref.npy"; then
    shifts=$(grep -c 'requant = "shift"' "$tmp/fx.ir")
    [ "$shifts" -ge 2 ] && pass "$m fixed point: $shifts layers requantize by shifts" ||
        flunk "$m fixed point: $shifts layers requantize by shifts (expected conv1 and fc1)"
    f=$("$top1" "$tmp/fx.fake.npy" "$digits/test_y.npy") r=$("$top1" "$tmp/fx.ref.npy" "$digits/test_y.npy")
    d=$(( ${f%/*} - ${r%/*} ))
    [ ${d#-} -le 1 ] && pass "$m fixed point: integer top-1 $r, fake-quantized $f" ||
        flunk "$m fixed point: integer top-1 $r vs fake-quantized $f"
    for v in $variants; do
        "$netc" run "$tmp/fx.ir" --weights "$tmp/fx.safetensors" --input "$digits/test_x.npy" --backend=llvm \
            --cpu "${v%%:*}" -o "$tmp/fx.native.npy" && "$compare" "$tmp/fx.native.npy" "$tmp/fx.ref.npy" 0 > /dev/null &&
            pass "$m fixed point: ${v#*:} kernels = reference, bit for bit" ||
            flunk "$m fixed point: ${v#*:} kernels differ from the reference"
    done
else
    flunk "$m fixed point: quantizing or running failed"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
