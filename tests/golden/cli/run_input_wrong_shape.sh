# An input of the wrong shape (LeNet image into the MLP).
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input torch/lenet.input.npy
