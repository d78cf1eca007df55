# opt ties OUT.safetensors to OUT.ir by the hash of its text: after the .ir
# is edited, binding the weights to it is an error naming both files.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors" &&
"$NETC" opt ../../examples/mlp.net --weights "$TMP/w.safetensors" -O2 -o "$TMP/mlp.ir" &&
ls "$TMP" &&
"$NETC" check "$TMP/mlp.ir" --weights "$TMP/mlp.safetensors" &&
echo "the pair binds" &&
sed -i 's/graph mlp {/graph mlp {  # edited/' "$TMP/mlp.ir" &&
"$NETC" check "$TMP/mlp.ir" --weights "$TMP/mlp.safetensors"
