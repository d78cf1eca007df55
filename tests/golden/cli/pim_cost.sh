# netc pim --cost: the cost table of ResNet-18 on ISAAC (layer order, and a
# duplicated pipeline) and of LeNet on MNSIM.
"$NETC" pim ../../examples/resnet18.net --cost -o "$TMP/r.pim"
"$NETC" pim ../../examples/resnet18.net --cost --pim-order pipeline --duplicate -o "$TMP/r.pim"
"$NETC" pim ../../examples/lenet.net --preset mnsim --cost -o "$TMP/l.pim"
