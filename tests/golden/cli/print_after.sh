# --print-after=all writes the IR after every pass of the -O2 pipeline to
# stderr (dump's own output to stdout is dropped here); remove-identity takes
# the dropout out.
cat > "$TMP/tiny.net" <<'NET'
net tiny() {
    in x: f32[1, 4];
    fc = linear(x, 3);
    out y = dropout(relu(fc), 0.5);
}
NET
"$NETC" dump "$TMP/tiny.net" -O2 --print-after=all 2>&1 > /dev/null
"$NETC" dump "$TMP/tiny.net" --passes=dce --print-after=fold-bm
