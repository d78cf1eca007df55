# The output directory does not exist: an error naming the .ir, and neither
# file (nor a temporary) is left behind.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" opt ../../examples/mlp.net --weights "$TMP/w.safetensors" -O2 -o "$TMP/missing/out.ir"
echo "exit status of opt: $?"
ls "$TMP"
