/*
 * export.c — what the torch and int exports share (export.h): the
 * __metadata__ description of each quantizer, and the bookkeeping of the
 * tensors an export creates.
 *
 * The description is JSON inside a metadata string because safetensors
 * metadata is a flat string-to-string map; one compact object per
 * quantizer keeps a reader to one json.loads per tensor. Scales are printed
 * with 9 significant digits, which round-trips every f32 exactly.
 */
#include "export.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rt_export_add_made(RtExport *e, const char *name, Tensor *t)
{
    e->tensors.borrowed = true;
    rt_tlist_add(&e->tensors, name, t);
    rt_tlist_add(&e->made, name, t);
}

void rt_export_free(RtExport *e)
{
    rt_tlist_free(&e->tensors);
    rt_tlist_free(&e->made);
}

/* The name a quantizer is described under: a parameter's key, or for a node
 * result (an activation point) the stem its parameters share. */
static const char *quant_stem(const IrValue *v, char *buf, size_t size)
{
    if (v->kind == VK_PARAM)
        return v->name;
    const char *s = v->quant->scale->name;
    size_t n = strlen(s);
    static const char *const suffixes[] = {"_scale", ".scale"};
    for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes; k++) {
        size_t m = strlen(suffixes[k]);
        if (n > m && !strcmp(s + n - m, suffixes[k])) {
            snprintf(buf, size, "%.*s", (int)(n - m), s);
            return buf;
        }
    }
    return s;
}

/* A parameter for the description: its values (f32 or i32) inline, or its key. */
static json_t *param_json(const IrValue *p, bool inline_values)
{
    if (!inline_values)
        return json_string(p->name);
    json_t *a = json_array();
    int64_t n = tensor_numel(p->data);
    for (int64_t i = 0; i < n; i++)
        json_array_append_new(a, p->data->dtype == DT_F32 ? json_real(((const float *)p->data->data)[i])
                                                          : json_integer(((const int32_t *)p->data->data)[i]));
    return a;
}

static void describe(const IrValue *v, TensorList *l, bool inline_values)
{
    const IrQuant *q = v->quant;
    json_t *o = json_object();
    json_object_set_new(o, "bits", json_integer(q->bits));
    json_object_set_new(o, "signed", json_boolean(q->is_signed));
    json_object_set_new(o, "axis", json_integer(q->axis));
    json_object_set_new(o, "scale", param_json(q->scale, inline_values));
    if (q->zero_point)
        json_object_set_new(o, "zero_point", param_json(q->zero_point, inline_values));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    char stem[512], key[600];
    snprintf(key, sizeof key, "netc.quant.%s", quant_stem(v, stem, sizeof stem));
    rt_tlist_set_meta(l, key, text);
    free(text);
    json_decref(o);
}

const IrValue **rt_export_quantized(const IrGraph *g, int *n)
{
    const IrValue **v = xmalloc((size_t)(g->next_value_id + 1) * sizeof *v);
    *n = 0;
    for (int i = 0; i < g->nparams; i++)
        if (g->params[i]->quant)
            v[(*n)++] = g->params[i];
    for (int i = 0; i < g->nnodes; i++)
        for (int r = 0; r < g->nodes[i]->nout; r++)
            if (g->nodes[i]->outs[r]->quant)
                v[(*n)++] = g->nodes[i]->outs[r];
    return v;
}

int rt_export_quant_meta(const IrGraph *g, TensorList *l, bool inline_values)
{
    int n, activations = 0;
    const IrValue **v = rt_export_quantized(g, &n);
    for (int i = 0; i < n; i++) {
        describe(v[i], l, inline_values);
        activations += v[i]->kind != VK_PARAM;
    }
    free(v);
    return activations;
}
