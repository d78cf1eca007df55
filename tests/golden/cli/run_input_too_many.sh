# More --input files than the net has inputs.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input torch/mlp.input.npy --input torch/mlp.input.npy
