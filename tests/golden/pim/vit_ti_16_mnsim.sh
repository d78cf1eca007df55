# The vit_ti_16 mapping program on the mnsim preset, as .pim text and as JSON.
$NETC pim ../../examples/vit_ti_16.net --passes=expand-mha --preset mnsim -o $TMP/p.pim && cat $TMP/p.pim
$NETC pim ../../examples/vit_ti_16.net --passes=expand-mha --preset mnsim --emit json -o $TMP/p.json && cat $TMP/p.json
