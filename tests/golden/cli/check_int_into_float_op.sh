# Operators have dtype rules: an integer tensor reaching relu is an error at
# the call, not a silent conversion.
printf 'net ints() {\n    in x: i32[2, 3];\n    out y = relu(x);\n}\n' > "$TMP/ints.net"
"$NETC" check "$TMP/ints.net"
