/*
 * quant.c — nk_quantize (f32 -> uint8, per tensor) and nk_dequantize
 * (uint8 -> f32), the boundary of an int8 region (nk.h's semantics).
 *
 * Quantize rounds once: t = x * inv_scale (a float product; this file is
 * built with -ffp-contract=off, and the clamp sits between the product and
 * the rounding add anyway), a NaN replaced by 0 (so it becomes z, the
 * reference quantizer's neutral value), clamped to [lo − z, hi − z],
 * rounded half to even with the 1.5·2^23 trick (qgemm.h's nk_qstore does
 * the same), plus z. Both loops are vectorized along the tensor, a tail
 * through a padded vector; elements are independent, so the thread split
 * cannot change them.
 */
#include "qgemm.h"

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Elements per parallel chunk: enough to amortize a task. */
#define NK_QUANT_GRAIN 16384

typedef struct NkQuantTask {
    const void *d, *in;
    void *out;
} NkQuantTask;

static void quantize_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    const NkQuantTask *t = ctx;
    const NkQuantize *d = t->d;
    const float *in = t->in;
    uint8_t *out = t->out;
    NkQOut q = {.mode = NK_QOUT_U8, .zy = d->z, .lo = d->lo, .hi = d->hi};
    for (int64_t i = begin; i < end; i += NK_VL) {
        int64_t nv = min64(NK_VL, end - i);
        NkVec x = nv == NK_VL ? nk_load(in + i) : nk_load_part(in + i, nv, 0.0f);
        NkVec t = x * d->inv_scale;
        nk_qstore(&q, nk_select(t == t, t, nk_splat(0.0f)), out, i, nv); /* NaN -> z, as ir_quantize_elem */
    }
}

void nk_quantize(const NkQuantize *d, const float *in, uint8_t *out)
{
    NkQuantTask t = {d, in, out};
    nk_parallel_for(d->n, NK_QUANT_GRAIN, quantize_range, &t);
}

static void dequantize_range(void *ctx, int64_t begin, int64_t end, int thread)
{
    const NkQuantTask *t = ctx;
    const NkDequantize *d = t->d;
    const uint8_t *in = t->in;
    float *out = t->out;
    for (int64_t i = begin; i < end; i += NK_VL) {
        int64_t nv = min64(NK_VL, end - i);
        NkQBytes b = {0};
        memcpy(&b, in + i, (size_t)nv);
        NkVeci q = __builtin_convertvector(b, NkVeci) - (int32_t)d->z;
        NkVec y = __builtin_convertvector(q, NkVec) * d->scale;
        if (nv == NK_VL)
            nk_store(out + i, y);
        else
            nk_store_part(out + i, y, nv);
    }
}

void nk_dequantize(const NkDequantize *d, const uint8_t *in, float *out)
{
    NkQuantTask t = {d, in, out};
    nk_parallel_for(d->n, NK_QUANT_GRAIN, dequantize_range, &t);
}
