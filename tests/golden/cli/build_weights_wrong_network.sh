# LeNet weights given to the MLP: every mismatch named, no bundle written.
"$NETC" init ../../examples/lenet.net -o "$TMP/w.safetensors" &&
"$NETC" build ../../examples/mlp.net --weights "$TMP/w.safetensors" -o "$TMP/bundle" --max-errors 3
echo "exit status of build: $?"
ls "$TMP/bundle"
