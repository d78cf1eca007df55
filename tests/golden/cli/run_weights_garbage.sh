# A weights file that is not safetensors at all.
printf "this is not a safetensors file, just text\n" > "$TMP/w.safetensors"
"$NETC" run ../../examples/mlp.net --weights "$TMP/w.safetensors" --input torch/mlp.input.npy
