# --output names an output the net does not have.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input torch/mlp.input.npy --output probs="$TMP/y.npy"
