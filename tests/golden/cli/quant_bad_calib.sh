# Calibration data that does not fit the input, and none at all.
"$NETC" init ../../examples/digits_cnn.net -o "$TMP/w.safetensors"
"$NETC" opt ../../examples/digits_cnn.net --weights "$TMP/w.safetensors" --passes=quantize \
    --calib torch/resnet18.input.npy -o "$TMP/q.ir" || echo "exit status $?"
"$NETC" opt ../../examples/digits_cnn.net --weights "$TMP/w.safetensors" --passes=quantize \
    -o "$TMP/q.ir" || echo "exit status $?"
"$NETC" opt ../../examples/digits_cnn.net --weights "$TMP/w.safetensors" --passes=quantize \
    --calib "$TMP/missing.npy" -o "$TMP/q.ir" || echo "exit status $?"
ls "$TMP"
