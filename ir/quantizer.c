/*
 * quantizer.c — uniform quantization arithmetic (quantizer.h).
 *
 * Scale arithmetic is done in f32 in the same order as torch.ao's observers
 * (_calculate_qparams), so a PyTorch script fed the same min/max gets the
 * same scales bit for bit.
 */
#include "quantizer.h"

#include <float.h>
#include <math.h>

int32_t ir_quantize_elem(float x, float inv_scale, int32_t zero_point, int32_t lo, int32_t hi)
{
    float r = x * inv_scale;
    if (isnan(r))
        return zero_point < lo ? lo : zero_point > hi ? hi : zero_point;
    /* Clamp before converting so huge values cannot overflow the integer;
     * with integer bounds this equals clamping after rounding. */
    float flo = (float)lo - (float)zero_point, fhi = (float)hi - (float)zero_point;
    r = rintf(r);
    if (r < flo)
        r = flo;
    if (r > fhi)
        r = fhi;
    return (int32_t)r + zero_point;
}

IrQuantParams ir_quant_symmetric(float min_val, float max_val, int bits, bool is_signed)
{
    float amax = fmaxf(fabsf(min_val), fabsf(max_val));
    float levels = is_signed ? (float)((1 << (bits - 1)) - 1) : (float)((1 << bits) - 1);
    IrQuantParams p = {amax / levels, 0};
    if (!(p.scale >= FLT_EPSILON)) /* also NaN */
        p.scale = FLT_EPSILON;
    return p;
}

IrQuantParams ir_quant_asymmetric(float min_val, float max_val, int bits)
{
    float lo = fminf(min_val, 0.0f), hi = fmaxf(max_val, 0.0f);
    int32_t qmax = (1 << bits) - 1;
    IrQuantParams p = {(hi - lo) / (float)qmax, 0};
    if (!(p.scale >= FLT_EPSILON))
        p.scale = FLT_EPSILON;
    float z = -rintf(lo / p.scale);
    p.zero_point = z < 0 ? 0 : z > (float)qmax ? qmax : (int32_t)z;
    return p;
}

double ir_fake_quant(float *x, int64_t n, IrQuantParams p, int32_t lo, int32_t hi)
{
    float inv = 1.0f / p.scale;
    double err = 0;
    for (int64_t i = 0; i < n; i++) {
        float y = ir_dequantize_elem(ir_quantize_elem(x[i], inv, p.zero_point, lo, hi), p.scale,
                                     p.zero_point);
        double dlt = (double)y - (double)x[i];
        err += dlt * dlt;
        x[i] = y;
    }
    return err;
}
