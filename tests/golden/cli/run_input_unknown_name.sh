# --input NAME=FILE with a name the net does not have.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input image=torch/mlp.input.npy
