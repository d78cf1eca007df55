# A failing run leaves an existing output file untouched (atomic writes).
printf "previous result\n" > "$TMP/y.npy"
"$NETC" run ../../examples/mlp.net --weights "$TMP/none.safetensors" --input torch/mlp.input.npy -o "$TMP/y.npy"
status=$?
cat "$TMP/y.npy"
exit $status
