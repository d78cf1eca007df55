# --weights names a file that does not exist.
"$NETC" run ../../examples/mlp.net --weights "$TMP/nothing.safetensors" --input torch/mlp.input.npy
