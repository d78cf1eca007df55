# An input file that is not .npy.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input ../../examples/mlp.net
