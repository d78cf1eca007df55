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

/* What one quantizer needs per element: its parameters by channel, read
 * from the bound scale and zero point (checked against their declaration;
 * the verifier has checked the declaration against the value). */
typedef struct QuantView {
    const float *scale;
    const int32_t *zero_point; /* NULL: symmetric */
    int64_t channels, inner;
} QuantView;

static bool quant_view(const IrQuant *q, const Shape *shape, QuantView *v, char *err,
                       size_t errlen)
{
    const Tensor *s = q->scale ? q->scale->data : NULL;
    if (!s || s->dtype != DT_F32 || !shape_equal(&s->shape, &q->scale->shape))
        FAIL("quant scale '%s' is not bound to f32 data of its declared shape",
             q->scale && q->scale->name ? q->scale->name : "?");
    v->scale = s->data;
    v->zero_point = NULL;
    if (q->zero_point) {
        const Tensor *z = q->zero_point->data;
        if (!z || z->dtype != DT_I32 || !shape_equal(&z->shape, &q->zero_point->shape))
            FAIL("quant zero_point '%s' is not bound to i32 data of its declared shape",
                 q->zero_point->name ? q->zero_point->name : "?");
        v->zero_point = z->data;
    }
    ir_quant_layout(q, shape, &v->channels, &v->inner);
    return true;
}

bool ref_quantize(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    const IrQuant *q = n->out->quant;
    QuantView v;
    if (!q)
        FAIL("quantize's result has no quant(...) metadata");
    if (!quant_view(q, &in[0]->shape, &v, err, errlen))
        return false;
    int32_t lo, hi;
    ir_quant_range(q->bits, q->is_signed, &lo, &hi);
    const float *x = in[0]->data;
    float *y = out->data;
    int64_t numel = tensor_numel(in[0]);
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = (i / v.inner) % v.channels;
        int32_t z = v.zero_point ? v.zero_point[c] : 0;
        y[i] = (float)ir_quantize_elem(x[i], 1.0f / v.scale[c], z, lo, hi);
    }
    return true;
}

bool ref_dequantize(const IrNode *n, const Tensor *const *in, Tensor *out, char *err,
                    size_t errlen)
{
    const IrQuant *q = n->in[0]->quant;
    QuantView v;
    if (!q)
        FAIL("dequantize's input has no quant(...) metadata");
    if (!quant_view(q, &in[0]->shape, &v, err, errlen))
        return false;
    const float *x = in[0]->data;
    float *y = out->data;
    int64_t numel = tensor_numel(in[0]);
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = (i / v.inner) % v.channels;
        y[i] = ir_dequantize_elem((int32_t)x[i], v.scale[c], v.zero_point ? v.zero_point[c] : 0);
    }
    return true;
}
