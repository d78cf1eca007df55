# init writes the source's parameters, so it refuses passes (and -O).
"$NETC" init ../../examples/mlp.net --passes=dce -o "$TMP/w.safetensors"
echo "exit status with --passes: $?"
"$NETC" init ../../examples/mlp.net -O2 -o "$TMP/w.safetensors"
echo "exit status with -O2: $?"
ls "$TMP"
