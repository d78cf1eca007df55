# The kernels are built for x86-64; another architecture is refused.
printf 'net act() {\n    in x: f32[2, 3];\n    out y = relu(x);\n}\n' > "$TMP/act.net"
"$NETC" build "$TMP/act.net" --target aarch64-linux-gnu -o "$TMP/bundle"
