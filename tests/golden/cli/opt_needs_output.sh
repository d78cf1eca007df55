# opt writes a FILE.ir (and FILE.safetensors beside it): -o is required and
# must end in .ir; both are usage errors.
"$NETC" opt ../../examples/mlp.net --passes=dce
echo "exit status without -o: $?"
"$NETC" opt ../../examples/mlp.net --passes=dce -o "$TMP/out.safetensors"
echo "exit status with -o out.safetensors: $?"
ls "$TMP"
