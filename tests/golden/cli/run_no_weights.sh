# A net with parameters run without --weights.
"$NETC" run ../../examples/mlp.net --input torch/mlp.input.npy
