# Option values are checked before anything is read.
"$NETC" build ../../examples/mlp.net --emit=exe -o "$TMP/b"
"$NETC" build ../../examples/mlp.net --emit=json -o "$TMP/b"
"$NETC" run ../../examples/mlp.net --backend=gpu
"$NETC" build ../../examples/mlp.net --threads 0 -o "$TMP/b"
"$NETC" build ../../examples/mlp.net -O4 -o "$TMP/b"
