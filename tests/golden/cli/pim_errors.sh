# netc pim's errors: options, a net that does not fit, an unmappable layer,
# a .pim input with options; nothing is written.
"$NETC" pim ../../examples/lenet.net --xbar 128 -o "$TMP/p.pim"
"$NETC" pim ../../examples/lenet.net --preset puma -o "$TMP/p.pim"
"$NETC" pim ../../examples/lenet.net --signed sign-magnitude -o "$TMP/p.pim"
"$NETC" pim ../../examples/lenet.net
"$NETC" pim ../../examples/vgg16.net -o "$TMP/p.pim"
"$NETC" pim ../../examples/vit_ti_16.net --max-errors 1 -o "$TMP/p.pim"
"$NETC" pim ../../examples/lenet.net -o "$TMP/p.pim" && "$NETC" pim "$TMP/p.pim" --preset mnsim -o "$TMP/q.pim"
ls "$TMP"
