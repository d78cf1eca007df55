/*
 * ref_quant.c — reference kernels of quantize and dequantize.
 *
 * The interpreter holds every value as f32, integer tensors included (their
 * values are exact: at most 16 bits). The quantizer parameters are not node
 * inputs but the quant(...) metadata of the integer value — quantize's
 * result, dequantize's input — whose scale and zero point are bound
 * parameters; the arithmetic is ir/quantizer.h's.
 */
#include "ref_kernels.h"

#include "../ir/quantizer.h"

#include <stdio.h>

#define FAIL(...) return (snprintf(err, errlen, __VA_ARGS__), false)

/* The scale and zero point arrays of q, checked against their declaration
 * (the verifier has checked the declaration against the value). */
static bool quant_arrays(const IrQuant *q, const float **scale, const int32_t **zp, char *err,
                         size_t errlen)
{
    const Tensor *s = q->scale ? q->scale->data : NULL;
    if (!s || s->dtype != DT_F32 || !shape_equal(&s->shape, &q->scale->shape))
        FAIL("quant scale '%s' is not bound to f32 data of its declared shape",
             q->scale && q->scale->name ? q->scale->name : "?");
    *scale = s->data;
    *zp = NULL;
    if (q->zero_point) {
        const Tensor *z = q->zero_point->data;
        if (!z || z->dtype != DT_I32 || !shape_equal(&z->shape, &q->zero_point->shape))
            FAIL("quant zero_point '%s' is not bound to i32 data of its declared shape",
                 q->zero_point->name ? q->zero_point->name : "?");
        *zp = z->data;
    }
    return true;
}

/* Elements per channel step along q's axis of shape s: element i belongs to
 * channel (i / inner) % channels. */
static void channel_layout(const IrQuant *q, const Shape *s, int64_t *channels, int64_t *inner)
{
    *channels = q->axis < 0 ? 1 : s->d[q->axis];
    *inner = 1;
    for (int d = q->axis + 1; q->axis >= 0 && d < s->rank; d++)
        *inner *= s->d[d];
}

bool ref_quantize(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    const IrQuant *q = n->out->quant;
    const float *scale;
    const int32_t *zp;
    if (!q)
        FAIL("quantize's result has no quant(...) metadata");
    if (!quant_arrays(q, &scale, &zp, err, errlen))
        return false;
    int32_t lo, hi;
    ir_quant_range(q->bits, q->is_signed, &lo, &hi);
    int64_t channels, inner, numel = tensor_numel(in[0]);
    channel_layout(q, &in[0]->shape, &channels, &inner);
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = (i / inner) % channels;
        y[i] = (float)ir_quantize_elem(x[i], 1.0f / scale[c], zp ? zp[c] : 0, lo, hi);
    }
    return true;
}

bool ref_dequantize(const IrNode *n, const Tensor *const *in, Tensor *out, char *err,
                    size_t errlen)
{
    const IrQuant *q = n->in[0]->quant;
    const float *scale;
    const int32_t *zp;
    if (!q)
        FAIL("dequantize's input has no quant(...) metadata");
    if (!quant_arrays(q, &scale, &zp, err, errlen))
        return false;
    int64_t channels, inner, numel = tensor_numel(in[0]);
    channel_layout(q, &in[0]->shape, &channels, &inner);
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = (i / inner) % channels;
        y[i] = ir_dequantize_elem((int32_t)x[i], scale[c], zp ? zp[c] : 0);
    }
    return true;
}
