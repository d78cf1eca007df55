# An unknown command.
"$NETC" compile ../../examples/mlp.net
