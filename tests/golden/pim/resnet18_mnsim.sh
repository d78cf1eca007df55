# The resnet18 mapping program on the mnsim preset, as .pim text and as JSON.
$NETC pim ../../examples/resnet18.net --preset mnsim -o $TMP/p.pim && cat $TMP/p.pim
$NETC pim ../../examples/resnet18.net --preset mnsim --emit json -o $TMP/p.json && cat $TMP/p.json
