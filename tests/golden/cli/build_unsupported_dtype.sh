# An integer input reaches a layer the native kernels cannot run: the error
# names the layer and its source line.
printf 'net ints() {\n    in x: i32[2, 3];\n    out y = relu(x);\n}\n' > "$TMP/ints.net"
"$NETC" build "$TMP/ints.net" -o "$TMP/bundle"
