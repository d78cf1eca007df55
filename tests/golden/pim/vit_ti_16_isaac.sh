# The vit_ti_16 mapping program on the isaac preset, as .pim text and as JSON.
$NETC pim ../../examples/vit_ti_16.net --passes=expand-mha --preset isaac -o $TMP/p.pim && cat $TMP/p.pim
$NETC pim ../../examples/vit_ti_16.net --passes=expand-mha --preset isaac --emit json -o $TMP/p.json && cat $TMP/p.json
