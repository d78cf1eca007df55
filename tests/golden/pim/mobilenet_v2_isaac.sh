# The mobilenet_v2 mapping program on the isaac preset, as .pim text (its JSON twin is 2 MB more).
$NETC pim ../../examples/mobilenet_v2.net --preset isaac -o $TMP/p.pim && cat $TMP/p.pim
