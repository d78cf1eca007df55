# The output directory does not exist: an error naming the file, nothing
# (not even a temporary) left behind.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" export ../../examples/mlp.net --weights "$TMP/w.safetensors" --format=torch -o "$TMP/missing/out.safetensors"
echo "exit status of export: $?"
ls "$TMP"
