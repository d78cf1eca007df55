/*
 * quantizer.h — the arithmetic of uniform quantization, the one definition
 * that the reference kernels, the verifier's grid check, the quantize pass
 * and the native backend's weight packing share.
 *
 * Conventions (docs/quantization.md), chosen to equal PyTorch's
 * fake_quantize_per_tensor_affine / _per_channel_affine bit for bit (checked
 * by tests/unit/test_quantizer.c against goldens of tools/quant_goldens.py):
 *   q = clamp(rint(x * inv_scale) + zero_point, lo, hi),  inv_scale = 1.0f / scale
 *   x̂ = (float)(q - zero_point) * scale
 * with rint rounding half to even (the default FP mode) and every operation
 * in f32. PyTorch multiplies by the reciprocal rather than dividing; on
 * exact .5 ties the two differ, so the reciprocal is part of the definition.
 */
#ifndef NETC_IR_QUANTIZER_H
#define NETC_IR_QUANTIZER_H

#include <stdbool.h>
#include <stdint.h>

/* One element, as above. A NaN maps to zero_point (PyTorch's cast of NaN is
 * undefined; netc picks the neutral value) and ±inf to the clamp bounds. */
int32_t ir_quantize_elem(float x, float inv_scale, int32_t zero_point, int32_t lo, int32_t hi);
static inline float ir_dequantize_elem(int32_t q, float scale, int32_t zero_point)
{
    return (float)(q - zero_point) * scale;
}

/* A quantizer's parameters for one channel (or the whole tensor). */
typedef struct IrQuantParams {
    float scale;
    int32_t zero_point;
} IrQuantParams;

/*
 * Symmetric: scale = max(|lo_val|, |hi_val|) / (2^(bits-1) - 1), zero point
 * 0 — the narrow grid [-(2^(bits-1) - 1), 2^(bits-1) - 1], so that a
 * weight's largest magnitude maps to ±127 at 8 bits (HAWQ/HAQ; equal to
 * PyTorch's per_channel_symmetric observer with quant_min = -127). For
 * unsigned bits (a tensor known to be >= 0) the grid is [0, 2^bits - 1].
 * Asymmetric (unsigned grid [0, 2^bits - 1], PyTorch's MinMaxObserver for
 * quint8): the range is widened to contain 0, scale = (max - min) /
 * (2^bits - 1), zero_point = clamp(-rint(min / scale), 0, 2^bits - 1).
 * Both clamp scale to >= FLT_EPSILON as PyTorch does (an all-zero tensor
 * gets a tiny scale, never a zero one).
 */
IrQuantParams ir_quant_symmetric(float min_val, float max_val, int bits, bool is_signed);
IrQuantParams ir_quant_asymmetric(float min_val, float max_val, int bits);

/* x fake-quantized in place over n elements with one set of parameters on
 * the grid [lo, hi]; returns the sum of squared changes (in double). */
double ir_fake_quant(float *x, int64_t n, IrQuantParams p, int32_t lo, int32_t hi);

#endif
