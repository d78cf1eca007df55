# init writes a weights file, so it needs -o.
"$NETC" init ../../examples/mlp.net
