# --seed must be a non-negative integer.
"$NETC" init ../../examples/mlp.net --seed -3 -o "$TMP/w.safetensors"
