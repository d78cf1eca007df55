# The output directory does not exist: an error, nothing written.
"$NETC" init ../../examples/mlp.net -o "$TMP/missing/dir/w.safetensors"
