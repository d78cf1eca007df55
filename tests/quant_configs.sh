# quant_configs.sh -- the quantization configurations tests/quant_test.sh
# checks and tools/make_quant_goldens.sh makes goldens for (sourced by both).
#   w8a8     8-bit per-channel weights, 8-bit per-tensor activations (min-max)
#   mixed5   per-layer bits from {2..6, 8} averaging at most 5 (weight-error
#            sensitivity; first and last layers at 8)
#   w4pct    4-bit weights, activations clipped at the 99.9th percentile
#   w8pow2   the fixed-point mode: 8 bits, power-of-two scales (F8Net's
#            fractional lengths from the standard deviation)
CONFIGS="w8a8 mixed5 w4pct w8pow2"
quant_flags() {
    case $1 in
    w8a8) FLAGS="--passes=quantize" ;;
    mixed5) FLAGS="--passes=quantize(sensitivity=1) --quant-budget=5bits" ;;
    w4pct) FLAGS="--passes=quantize(bits=4,percentile=9990)" ;;
    w8pow2) FLAGS="--passes=quantize(pow2=1)" ;;
    esac
}
