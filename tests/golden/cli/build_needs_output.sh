# build writes a directory: without -o it is a usage error.
"$NETC" build ../../examples/mlp.net
