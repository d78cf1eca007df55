# A net with parameters cannot be built without weights.
"$NETC" build ../../examples/mlp.net -o "$TMP/bundle"
