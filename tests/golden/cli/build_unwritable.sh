# The bundle directory cannot be created: the error names it.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" build ../../examples/mlp.net --weights "$TMP/w.safetensors" -o /proc/netc-bundle
