# Without -o, run prints each output's shape and largest entries.
"$NETC" init ../../examples/mlp.net --seed 1 -o "$TMP/w.safetensors" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input torch/mlp.input.npy
