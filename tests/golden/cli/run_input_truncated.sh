# An .npy input cut short.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
head -c 300 torch/mlp.input.npy > "$TMP/x.npy" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input "$TMP/x.npy"
