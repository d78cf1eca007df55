# Weights made for a narrower MLP: every size mismatch is listed together.
"$NETC" init ../../examples/mlp.net -D hidden=32 -o "$TMP/w.safetensors" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input torch/mlp.input.npy
