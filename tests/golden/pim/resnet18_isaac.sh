# The resnet18 mapping program on the isaac preset, as .pim text and as JSON.
$NETC pim ../../examples/resnet18.net --preset isaac -o $TMP/p.pim && cat $TMP/p.pim
$NETC pim ../../examples/resnet18.net --preset isaac --emit json -o $TMP/p.json && cat $TMP/p.json
