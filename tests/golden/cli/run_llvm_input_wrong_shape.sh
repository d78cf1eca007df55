# The JIT path checks inputs like the interpreter: LeNet's input given to the MLP.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" run ../../examples/mlp.net --backend=llvm --weights "$TMP/w.safetensors" --input torch/lenet.input.npy
