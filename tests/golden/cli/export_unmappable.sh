# --format=torch writes the source's state_dict: a parameter the passes
# removed (dce drops the unused layer) cannot be given back, so each one is
# an error at its layer and the existing output is left as it was. The same
# graph exports as --format=int only once it has quantized weights.
printf 'net d() {\n    in x: f32[1, 16];\n    fc1 = linear(x, 8);\n    unused = linear(x, 4);\n    out y = fc1;\n}\n' > "$TMP/d.net"
"$NETC" init "$TMP/d.net" -o "$TMP/w.safetensors"
echo "an older export" > "$TMP/out.safetensors"
"$NETC" export "$TMP/d.net" --weights "$TMP/w.safetensors" --passes=dce --format=torch -o "$TMP/out.safetensors"
echo "exit status of --format=torch after dce: $?"
"$NETC" export "$TMP/d.net" --weights "$TMP/w.safetensors" --passes=dce --format=int -o "$TMP/out.safetensors"
echo "exit status of --format=int without quantize: $?"
cat "$TMP/out.safetensors"
"$NETC" export "$TMP/d.net" --weights "$TMP/w.safetensors" --passes='dce,quantize(act-bits=0)' --format=int \
    -o "$TMP/out.safetensors"
echo "exit status of --format=int after quantize: $?"
ls "$TMP"
