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

/*
 * Power-of-two scales (fixed point, F8Net: Jin et al., ICLR 2022), 8 bits
 * only: scale = 2^-fl with the fractional length fl chosen from the
 * standard deviation sigma of the data (the sample one, n − 1), the
 * paper's semi-empirical rule
 *   fl = floor(log2(40 / sigma))   signed grid [-127, 127], or
 *   fl = floor(log2(70 / sigma))   unsigned grid [0, 255],
 * so the grid ends near 3.2σ–6.4σ (signed) or 3.6σ–7.3σ (unsigned).
 * F8Net clamps fl to [0, 7] / [0, 8] because its training rescales every
 * tensor into that range; netc quantizes trained floats as they are, so fl
 * is clamped to [0, IR_QUANT_POW2_MAX_FL] instead: small enough that any
 * layer's requantizing shift fl_w + fl_x − fl_y stays within the integer
 * kernels' [0, 31] from above. sigma 0 (or NaN: fewer than 2 elements)
 * gives the largest fl. Zero point 0; callers add 128 for a signed
 * activation in a uint8 container.
 */
enum { IR_QUANT_POW2_BITS = 8, IR_QUANT_POW2_MAX_FL = 15 };
int ir_quant_pow2_fraclen(double sigma, bool is_signed);
IrQuantParams ir_quant_pow2(double sigma, bool is_signed);

/* Running count, mean and sum of squared deviations, in double: each
 * batch of elements is added with two passes over it (its own mean first)
 * and merged exactly by Chan et al.'s pairwise update, so calibration can
 * stream without keeping its elements. Non-finite elements are skipped
 * (as the min-max observer does). */
typedef struct IrMoments {
    double n, mean, m2;
} IrMoments;
void ir_moments_add(IrMoments *m, const float *x, int64_t n);
/* The sample standard deviation (n − 1); NaN with fewer than 2 elements. */
double ir_moments_stddev(const IrMoments *m);

/* x fake-quantized in place over n elements with one set of parameters on
 * the grid [lo, hi]; returns the sum of squared changes (in double). */
double ir_fake_quant(float *x, int64_t n, IrQuantParams p, int32_t lo, int32_t hi);

#endif
