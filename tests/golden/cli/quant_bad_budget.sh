# A --quant-budget that is no budget, and one below the smallest achievable
# (the message says what that is); nothing is written.
"$NETC" init ../../examples/digits_cnn.net -o "$TMP/w.safetensors"
"$NETC" opt ../../examples/digits_cnn.net --weights "$TMP/w.safetensors" --passes=quantize \
    --calib ../../examples/digits/calib_x.npy --quant-budget=4 -o "$TMP/q.ir" || echo "exit status $?"
"$NETC" opt ../../examples/digits_cnn.net --weights "$TMP/w.safetensors" --passes=quantize \
    --calib ../../examples/digits/calib_x.npy --quant-budget=0.01MiB -o "$TMP/q.ir" || echo "exit status $?"
"$NETC" opt ../../examples/digits_cnn.net --weights "$TMP/w.safetensors" \
    --passes='quantize(sensitivity=1)' --calib ../../examples/digits/calib_x.npy \
    --quant-budget=1bits -o "$TMP/q.ir" || echo "exit status $?"
ls "$TMP"
