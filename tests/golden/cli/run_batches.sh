# An input holding k batches of the net's runs it k times and concatenates
# each output along dim 0 (the digits test split: 45 batches of 8) -- only
# when every output has the batch as its first dimension.
cat > "$TMP/batched.net" <<'NET'
net batched() {
    in x: f32[8, 1, 8, 8];
    out y = relu(x);
}
NET
cat > "$TMP/flat.net" <<'NET'
net flat() {
    in x: f32[8, 1, 8, 8];
    out y = flatten(x, start_dim = 0);
}
NET
"$NETC" run "$TMP/batched.net" --input ../../examples/digits/test_x.npy
"$NETC" run "$TMP/batched.net" --input ../../examples/digits/test_x.npy --backend=llvm -o "$TMP/y.npy" && echo written
"$NETC" run "$TMP/flat.net" --input ../../examples/digits/test_x.npy -o "$TMP/f.npy"
echo "exit $?"
test -e "$TMP/f.npy" || echo "nothing written"
