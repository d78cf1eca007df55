# Bit widths out of range, in the pipeline and in an annotation.
"$NETC" opt ../../examples/digits_cnn.net --passes='quantize(bits=1)' -o "$TMP/q.ir" || echo "exit status $?"
"$NETC" opt ../../examples/digits_cnn.net --passes='quantize(act-bits=17)' -o "$TMP/q.ir" || echo "exit status $?"
printf 'net t() {\n    in x: f32[1, 4];\n    @precision(weight = 1)\n    fc = linear(x, 2);\n    out y = fc;\n}\n' > "$TMP/t.net"
"$NETC" check "$TMP/t.net" || echo "exit status $?"
ls "$TMP"
