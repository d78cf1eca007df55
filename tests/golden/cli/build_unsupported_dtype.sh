# A half-precision input reaches a layer the native kernels (f32 only)
# cannot run: the error names the layer and its source line.
printf 'net halves() {\n    in x: f16[2, 3];\n    out y = relu(x);\n}\n' > "$TMP/halves.net"
"$NETC" build "$TMP/halves.net" -o "$TMP/bundle"
