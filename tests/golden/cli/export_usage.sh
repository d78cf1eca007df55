# export writes one FILE.safetensors in a named format: -o and --format are
# required, -o must end in .safetensors, the format is torch or int; all
# are usage errors (exit 2), checked before anything is loaded.
"$NETC" init ../../examples/mlp.net -o "$TMP/w.safetensors"
"$NETC" export ../../examples/mlp.net --weights "$TMP/w.safetensors" --format=torch
echo "exit status without -o: $?"
"$NETC" export ../../examples/mlp.net --weights "$TMP/w.safetensors" --format=torch -o "$TMP/out.ir"
echo "exit status with -o out.ir: $?"
"$NETC" export ../../examples/mlp.net --weights "$TMP/w.safetensors" -o "$TMP/out.safetensors"
echo "exit status without --format: $?"
"$NETC" export ../../examples/mlp.net --weights "$TMP/w.safetensors" --format=onnx -o "$TMP/out.safetensors"
echo "exit status with --format=onnx: $?"
"$NETC" export ../../examples/mlp.net --format=torch -o "$TMP/out.safetensors"
echo "exit status without --weights: $?"
ls "$TMP"
