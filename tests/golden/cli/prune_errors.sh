# The prune pass's errors: --prune values it cannot read, an @prune that
# cannot apply, a weight without data, and nothing written on any of them
# (the older output stays). Without --weights an annotated net is not
# pruned unless the pipeline names the pass. Then a valid run with its
# report table.
printf 'net d() {\n    in x: f32[1, 16];\n    @prune(ratio = 0.5, granularity = "nm") fc1 = linear(x, 8);\n    out y = linear(relu(fc1), 4);\n}\n' > "$TMP/nm_ratio.net"
printf 'net d() {\n    in x: f32[1, 16];\n    @prune(ratio = 0.5)\n    fc1 = linear(x, 8);\n    out y = linear(relu(fc1), 4);\n}\n' > "$TMP/d.net"
"$NETC" init "$TMP/d.net" -o "$TMP/w.safetensors"
echo "an older result" > "$TMP/out.ir"
for spec in element element:1 element:-0.5 dense:0.5 nm:4:4 nm:2:17 block:0.5:128 channel:0.5:l3; do
    "$NETC" opt "$TMP/d.net" --weights "$TMP/w.safetensors" --prune "$spec" -o "$TMP/out.ir"
    echo "exit status of --prune $spec: $?"
done
"$NETC" opt "$TMP/nm_ratio.net" -o "$TMP/out.ir"
echo "exit status of nm with a ratio: $?"
"$NETC" opt "$TMP/d.net" --passes=prune -o "$TMP/out.ir"
echo "exit status of the prune pass without weights: $?"
cat "$TMP/out.ir"
"$NETC" init "$TMP/d.net" --prune element:0.5 -o "$TMP/w2.safetensors"
echo "exit status of init --prune: $?"
"$NETC" opt "$TMP/d.net" --weights "$TMP/w.safetensors" --prune nm --prune-report "$TMP/r.json" -o "$TMP/out.ir"
echo "exit status of a valid run: $?"
ls "$TMP"
"$NETC" stats "$TMP/out.ir" --weights "$TMP/out.safetensors"
