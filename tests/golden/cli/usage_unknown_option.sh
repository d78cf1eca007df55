# An unknown option.
"$NETC" check --frobnicate ../../examples/mlp.net
