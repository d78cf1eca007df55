# @precision on a weight (pinned at 4 bits) and on a result (all its readers
# get 4-bit activations); the other layer input at act-bits 8. Prints the
# quantized IR's quantize, dequantize and weight lines, then the IR of a
# second quantize pass over it (refused: the weights are quantized already).
printf 'net p() {\n    in x: f32[8, 1, 8, 8];\n    @precision(weight = 4)\n    fc1 = linear(flatten(x), 16);\n    @precision(act = 4)\n    h = relu(fc1);\n    fc2 = linear(h, 4);\n    out y = fc2;\n}\n' > "$TMP/p.net"
"$NETC" init "$TMP/p.net" -o "$TMP/w.safetensors"
"$NETC" opt "$TMP/p.net" --weights "$TMP/w.safetensors" --passes=quantize \
    --calib ../../examples/digits/calib_x.npy -o "$TMP/q.ir" || echo "exit status $?"
grep -E 'quantize|param %fc[12].weight ' "$TMP/q.ir" | sed 's/ loc(.*//'
"$NETC" stats "$TMP/q.ir"
"$NETC" opt "$TMP/q.ir" --weights "$TMP/q.safetensors" --passes=quantize \
    --calib ../../examples/digits/calib_x.npy -o "$TMP/q2.ir" || echo "exit status $?"
