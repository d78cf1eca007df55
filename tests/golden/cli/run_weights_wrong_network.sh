# LeNet weights given to the MLP: missing and unexpected keys, all at once.
"$NETC" init ../../examples/lenet.net -o "$TMP/w.safetensors" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input torch/mlp.input.npy
