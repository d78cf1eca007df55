# An option that needs a value at the end of the line.
"$NETC" check ../../examples/mlp.net -o
