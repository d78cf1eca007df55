# -D needs NAME=VALUE.
"$NETC" check -D image_size ../../examples/lenet.net
