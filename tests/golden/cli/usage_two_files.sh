# Two input files.
"$NETC" check ../../examples/mlp.net ../../examples/lenet.net
