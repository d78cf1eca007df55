# The fixed-point mode (pow2=1) is 8 bits with one rule for its scales: other
# bits, a budget, a percentile and a request for other bits are refused, each
# with exit 1 and nothing written; a correct run marks every quantizer pow2.
printf 'net p() {\n    in x: f32[8, 1, 8, 8];\n    @precision(weight = 4)\n    fc1 = linear(flatten(x), 16);\n    @precision(act = 6)\n    h = relu(fc1);\n    fc2 = linear(h, 4);\n    out y = fc2;\n}\n' > "$TMP/p.net"
"$NETC" init "$TMP/p.net" -o "$TMP/w.safetensors"
calib=../../examples/digits/calib_x.npy
for passes in 'quantize(pow2=1,bits=4)' 'quantize(pow2=1,act-bits=4)' 'quantize(pow2=1,percentile=9999)'; do
    "$NETC" opt "$TMP/p.net" --weights "$TMP/w.safetensors" --passes="$passes" --calib $calib \
        -o "$TMP/q.ir" || echo "exit status $?"
done
"$NETC" opt "$TMP/p.net" --weights "$TMP/w.safetensors" --passes='quantize(pow2=1)' --calib $calib \
    --quant-budget=5bits -o "$TMP/q.ir" || echo "exit status $?"
"$NETC" opt "$TMP/p.net" --weights "$TMP/w.safetensors" --passes='quantize(pow2=1)' --calib $calib \
    -o "$TMP/q.ir" || echo "exit status $?"
sed 's/@precision([^)]*)//' "$TMP/p.net" > "$TMP/f.net"
"$NETC" opt "$TMP/f.net" --weights "$TMP/w.safetensors" --passes='quantize(pow2=1)' --calib $calib \
    -o "$TMP/q.ir" 2> /dev/null || echo "exit status $?"
grep -E 'quant\(' "$TMP/q.ir" | sed 's/ loc(.*//'
ls "$TMP"
