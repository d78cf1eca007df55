# Channel pruning's errors, each at the @prune that asked, nothing written
# (the older output stays): the classifier, whose width is the net's
# output; a ratio whose floor(r·C) is every channel (prune_count reads
# 0.99999999999 · 8 as 8). Then the --prune default on the net without the
# annotation, which leaves the classifier alone with a note in the report.
printf 'net d() {\n    in x: f32[1, 3, 8, 8];\n    c1 = conv2d(x, 8, 3, padding = 1);\n    @prune(ratio = 0.5, granularity = "channel")\n    fc = linear(flatten(relu(c1)), 4);\n    out y = fc;\n}\n' > "$TMP/fixed.net"
printf 'net d() {\n    in x: f32[1, 3, 8, 8];\n    @prune(ratio = 0.99999999999, granularity = "channel") c1 = conv2d(x, 8, 3, padding = 1);\n    out y = linear(flatten(relu(c1)), 4);\n}\n' > "$TMP/empty.net"
for net in fixed empty; do
    "$NETC" init "$TMP/$net.net" -o "$TMP/$net.safetensors"
    echo "an older result" > "$TMP/out.ir"
    "$NETC" opt "$TMP/$net.net" --weights "$TMP/$net.safetensors" -o "$TMP/out.ir"
    echo "exit status of $net: $?"
    cat "$TMP/out.ir"
done
grep -v '@prune' "$TMP/fixed.net" > "$TMP/plain.net"
"$NETC" opt "$TMP/plain.net" --passes= --weights "$TMP/fixed.safetensors" --prune channel:0.5 --prune-report "$TMP/r.json" -o "$TMP/out.ir"
echo "exit status of --prune channel:0.5: $?"
# Two requests in one residual group: the smaller ratio applies, and the
# report says so.
printf 'net d() {\n    in x: f32[1, 3, 8, 8];\n    @prune(ratio = 0.5, granularity = "channel") c1 = conv2d(x, 8, 3, padding = 1);\n    @prune(ratio = 0.25, granularity = "channel") c2 = conv2d(relu(c1), 8, 3, padding = 1);\n    out y = linear(flatten(relu(c1 + c2)), 4);\n}\n' > "$TMP/mixed.net"
"$NETC" init "$TMP/mixed.net" -o "$TMP/mixed.safetensors"
"$NETC" opt "$TMP/mixed.net" --weights "$TMP/mixed.safetensors" --prune-report "$TMP/r.json" -o "$TMP/out.ir"
echo "exit status of mixed: $?"
grep -o '"remark": "[^"]*"' "$TMP/r.json"
