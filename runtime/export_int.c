/*
 * export_int.c — `netc export --format=int`: the graph's parameters with
 * every quantized weight as the integers it stands for (export.h).
 *
 * The integers come from ir_quant_integers, the same arithmetic the
 * verifier's grid check uses, and are kept only if each one dequantizes
 * back to the weight's f32 value bit for bit: a file whose integers do not
 * reproduce the graph that netc ran would be a different model. Scales,
 * zero points and the activation quantizers' parameters are parameters of
 * the graph already, so they are written under their own keys like every
 * other parameter (biases, and everything not quantized, stay f32).
 */
#include "export.h"

#include <stdlib.h>
#include <string.h>

/* v's integers in its container dtype, or NULL after reporting. */
static Tensor *integers(const IrValue *v, Diag *d)
{
    const IrQuant *q = v->quant;
    if (!q->scale->data || (q->zero_point && !q->zero_point->data)) {
        diag_error(d, v->loc, "export: the quantizer of '%s' has no %s bound", v->name,
                   q->scale->data ? "zero point" : "scale");
        return NULL;
    }
    int64_t n = shape_numel(&v->shape);
    int32_t *ints = xmalloc((size_t)(n ? n : 1) * sizeof *ints);
    int64_t bad = ir_quant_integers(v, ints);
    Tensor *t = NULL;
    if (bad >= 0) {
        diag_error(d, v->loc,
                   "export: element %lld of '%s' (%.9g) is not on its %d-bit grid: its integer would not "
                   "dequantize to the value netc computes with",
                   (long long)bad, v->name, (double)((const float *)v->data->data)[bad], q->bits);
    } else {
        t = tensor_new(ir_quant_container(q->bits, q->is_signed), &v->shape);
        for (int64_t i = 0; i < n; i++)
            switch (t->dtype) {
            case DT_I8: ((int8_t *)t->data)[i] = (int8_t)ints[i]; break;
            case DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)ints[i]; break;
            case DT_I16: ((int16_t *)t->data)[i] = (int16_t)ints[i]; break;
            default: ((uint16_t *)t->data)[i] = (uint16_t)ints[i]; break;
            }
    }
    free(ints);
    return t;
}

bool rt_export_int(const IrGraph *g, RtExport *out, Diag *d)
{
    out->tensors.borrowed = true;
    bool ok = true;
    int quantized = 0;
    for (int i = 0; i < g->nparams; i++) {
        const IrValue *v = g->params[i];
        if (!v->data) {
            diag_error(d, v->loc, "export: parameter '%s' has no weights bound", v->name);
            ok = false;
        } else if (v->quant && v->data->dtype == DT_F32) {
            Tensor *t = integers(v, d);
            if (t)
                rt_export_add_made(out, v->name, t);
            ok = ok && t;
            quantized++;
        } else {
            /* Integers already (a pass stored them so), or not quantized. */
            rt_tlist_add(&out->tensors, v->name, v->data);
            quantized += v->quant != NULL;
        }
    }
    if (ok && quantized == 0) {
        diag_error(d, loc_none(),
                   "export: the graph has no quantized weights, so --format=int has no integers to write: "
                   "run the quantize pass (e.g. --passes=quantize(act-bits=0)), or use --format=torch");
        ok = false;
    }
    if (ok)
        rt_export_quant_meta(g, &out->tensors, false);
    return ok;
}
