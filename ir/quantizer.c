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

int ir_quant_pow2_fraclen(double sigma, bool is_signed)
{
    double c = is_signed ? 40.0 : 70.0;
    if (!(sigma > 0)) /* 0 or NaN */
        return IR_QUANT_POW2_MAX_FL;
    double fl = floor(log2(c / sigma));
    return fl < 0 ? 0 : fl > IR_QUANT_POW2_MAX_FL ? IR_QUANT_POW2_MAX_FL : (int)fl;
}

IrQuantParams ir_quant_pow2(double sigma, bool is_signed)
{
    IrQuantParams p = {ldexpf(1.0f, -ir_quant_pow2_fraclen(sigma, is_signed)), 0};
    return p;
}

void ir_moments_add(IrMoments *m, const float *x, int64_t n)
{
    double cnt = 0, sum = 0, m2 = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            cnt++, sum += x[i];
    if (cnt == 0)
        return;
    double mean = sum / cnt;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            m2 += ((double)x[i] - mean) * ((double)x[i] - mean);
    double total = m->n + cnt, delta = mean - m->mean;
    m->m2 += m2 + delta * delta * m->n * cnt / total;
    m->mean += delta * cnt / total;
    m->n = total;
}

double ir_moments_stddev(const IrMoments *m)
{
    return m->n < 2 ? NAN : sqrt(m->m2 / (m->n - 1));
}
