# A weights file cut short: an error naming the file, never a crash.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
head -c 1000 "$TMP/w.safetensors" > "$TMP/cut.safetensors" &&
"$NETC" run ../../examples/mlp.net --weights "$TMP/cut.safetensors" --input torch/mlp.input.npy
