# W8A8: --format=torch still writes the state_dict, but warns that PyTorch
# computes the quantized activations in float; both formats describe every
# quantizer in __metadata__ (the keys listed here), and --format=int also
# writes the activation scales and zero points as tensors.
"$NETC" export ../../examples/digits_cnn.net --weights ../../examples/digits/digits_cnn.safetensors \
    --passes=fold-bn,quantize --calib ../../examples/digits/calib_x.npy --format=torch -o "$TMP/t.safetensors"
echo "exit status of --format=torch: $?"
"$NETC" export ../../examples/digits_cnn.net --weights ../../examples/digits/digits_cnn.safetensors \
    --passes=fold-bn,quantize --calib ../../examples/digits/calib_x.npy --format=int -o "$TMP/i.safetensors"
echo "exit status of --format=int: $?"
for f in t i; do
    echo "$f.safetensors:"
    # Each tensor's key, dtype and shape, from the JSON header (keys sorted).
    head -c 100000 "$TMP/$f.safetensors" |
        grep -ao '"[a-z0-9_.]*":{"data_offsets":\[[0-9,]*\],"dtype":"[A-Z0-9]*","shape":\[[0-9,]*\]' |
        sed 's/":{"data_offsets":\[[0-9,]*\],"dtype":"/ /; s/","shape":/ /; s/^"//'
    head -c 100000 "$TMP/$f.safetensors" | grep -ao '"netc\.[a-z_.0-9]*"' | tr -d '"'
done
# Two descriptions in full: an activation point's in the torch export
# (values inline), a weight's in the int export (the keys of its tensors).
head -c 100000 "$TMP/t.safetensors" | grep -ao '"netc\.quant\.fc2\.input":"[^}]*}"'
head -c 100000 "$TMP/i.safetensors" | grep -ao '"netc\.quant\.conv1\.weight":"[^}]*}"'
