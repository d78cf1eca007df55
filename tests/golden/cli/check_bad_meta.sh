# Metadata that does not fit its tensors (a per-channel scale one element
# short) is reported at the quant clause in the .ir file, not at the .net
# location the weight carries, and check fails.
cat > "$TMP/bad_meta.ir" <<'IR'
graph g {
  input %x : f32[1, 4]
  param %fc.weight : f32[3, 4] quant(bits = 4, signed = true, axis = 0, scale = %fc.weight.scale) loc("g.net":3:5)
  param %fc.weight.scale : f32[2]
  %0 : f32[1, 3] = linear(%x, %fc.weight) {out_features = 3, bias = false} name("fc") loc("g.net":3:5)
  output y = %0
}
IR
"$NETC" check "$TMP/bad_meta.ir"
