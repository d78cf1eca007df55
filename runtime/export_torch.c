/*
 * export_torch.c — `netc export --format=torch`: the source network's
 * state_dict holding the values of the graph after the passes (export.h).
 *
 * The keys are the source's (a .net's parameter names are torchvision's),
 * so the passes' changes of the parameter set have to be undone or refused:
 *
 *   quantize   adds scales and zero points: they are described in
 *              __metadata__ (the weights themselves keep their keys and
 *              hold their fake-quantized values)
 *   fold-bn    removes each batchnorm after a conv and gives the conv a
 *              bias (`conv1.bias`, which torchvision's bias-free conv has no
 *              key for). The batchnorm comes back as an exact identity plus
 *              shift: weight 1, running_mean 0, running_var the f32 v with
 *              v + eps == 1.0f (so 1/sqrt(v + eps) is exactly 1), and bias
 *              the folded conv bias, which leaves the export. PyTorch's
 *              eval-mode batchnorm computes x * (weight / sqrt(var + eps)) +
 *              (bias - mean * ...) = x + bias, bit for bit.
 *
 *   prune      a mask adds "<key>.mask": it leaves the export (the weight
 *              holds its zeros, which is all a dense PyTorch model needs);
 *              channel pruning shrinks parameters: the export holds the
 *              smaller tensors under the same keys, for the model built
 *              with the smaller widths (tools/prune_check.py)
 *
 * Any other change (a parameter the passes removed or renamed, one they
 * added, a shape that changed rank or grew) has no honest inverse and is an
 * error naming the parameter. Each batchnorm also gets the `num_batches_tracked` buffer
 * torchvision's state_dict lists (i64, 0: netc does not train), so the key
 * set is exactly the module's.
 */
#include "export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct TorchMap {
    const IrGraph *g, *src;
    bool *placed;      /* by g value id: the parameter has its place in the export */
    bool *skip;        /* by src value id: not a state_dict key of its own */
    RtExport *out;
    Diag *d;
} TorchMap;

static const char *node_name(const IrNode *n) { return n->name ? n->name : op_info(n->op)->name; }

/* Marks the scales and zero points of g's quantizers and its sparsity
 * masks in mark (by value id). */
static void mark_metadata_params(const IrGraph *g, bool *mark)
{
    for (int i = 0; i < g->nparams; i++)
        if (g->params[i]->sparsity && g->params[i]->sparsity->mask)
            mark[g->params[i]->sparsity->mask->id] = true;
    int n;
    const IrValue **v = rt_export_quantized(g, &n);
    for (int i = 0; i < n; i++) {
        mark[v[i]->quant->scale->id] = true;
        if (v[i]->quant->zero_point)
            mark[v[i]->quant->zero_point->id] = true;
    }
    free(v);
}

static Tensor *filled(const Shape *s, float value)
{
    Tensor *t = tensor_new(DT_F32, s);
    float *f = t->data;
    for (int64_t i = 0; i < tensor_numel(t); i++)
        f[i] = value;
    return t;
}

/* The f32 v > 0 with v + (float)eps == 1.0f, or 0 when eps leaves none. */
static float unit_variance(double eps)
{
    float e = (float)eps, v = 1.0f - e;
    for (int step = 0; step < 64 && v > 0 && v + e != 1.0f; step++)
        v = nextafterf(v, v + e > 1.0f ? 0.0f : 2.0f);
    return v > 0 && v + e == 1.0f ? v : 0;
}

/* The bias of g's conv2d/linear that reads the weight keyed like src conv
 * c's, or NULL after reporting why the batchnorm bn cannot come back. */
static const IrValue *folded_bias(const TorchMap *m, const IrNode *bn, const IrNode *c)
{
    const IrValue *w = c ? ir_find_param(m->g, c->in[1]->name) : NULL;
    const IrNode *gc = w && w->nuses == 1 ? w->uses[0].user : NULL;
    if (gc && gc->op != c->op) {
        diag_error(m->d, bn->loc,
                   "export: batchnorm '%s' is gone after the passes, and '%s' is a %s there, not a %s: a "
                   "state_dict cannot hold it (export before the pass that made it, or use --format=int)",
                   node_name(bn), node_name(c), op_info(gc->op)->name, op_info(c->op)->name);
        return NULL;
    }
    if (!gc || gc->nin < 3) {
        diag_error(m->d, bn->loc,
                   "export: batchnorm '%s' is gone after the passes, but not folded into the %s before it, so "
                   "its parameters cannot be given back to the state_dict",
                   node_name(bn), c ? node_name(c) : "layer");
        return NULL;
    }
    const IrValue *b = gc->in[2];
    if (c->nin > 2 && strcmp(b->name, c->in[2]->name)) {
        diag_error(m->d, bn->loc, "export: the bias of '%s' is '%s' after the passes, not '%s'", node_name(c),
                   b->name, c->in[2]->name);
        return NULL;
    }
    if (!b->data || b->data->dtype != DT_F32 || !shape_equal(&b->shape, &bn->in[2]->shape)) {
        diag_error(m->d, bn->loc, "export: the folded bias '%s' of '%s' is not an f32 tensor shaped like '%s'",
                   b->name, node_name(c), bn->in[2]->name);
        return NULL;
    }
    return b;
}

/* Batchnorm bn of src, which fold-bn removed, as an identity plus the
 * folded bias (see the top of the file). */
static bool restore_folded(TorchMap *m, const IrNode *bn)
{
    const IrValue *x = bn->in[0];
    const IrNode *c = x->kind == VK_NODE && (x->def->op == OP_CONV2D || x->def->op == OP_LINEAR) ? x->def : NULL;
    const IrValue *b = folded_bias(m, bn, c);
    float var = unit_variance(ir_attr_float(bn, "eps"));
    if (!b)
        return false;
    if (var == 0) {
        diag_error(m->d, bn->loc, "export: batchnorm '%s' has eps %g: no variance makes var + eps exactly 1",
                   node_name(bn), ir_attr_float(bn, "eps"));
        return false;
    }
    const Shape *s = &bn->in[1]->shape;
    Tensor *shift = filled(s, 0.0f);
    if (c->nin < 3) {
        /* The bias the fold gave the conv: its values move to the batchnorm. */
        memcpy(shift->data, b->data->data, tensor_nbytes(shift));
        m->placed[b->id] = true;
    }
    rt_export_add_made(m->out, bn->in[1]->name, filled(s, 1.0f));
    rt_export_add_made(m->out, bn->in[2]->name, shift);
    rt_export_add_made(m->out, bn->in[3]->name, filled(s, 0.0f));
    rt_export_add_made(m->out, bn->in[4]->name, filled(s, var));
    for (int k = 1; k <= 4; k++)
        m->skip[bn->in[k]->id] = true;
    return true;
}

/* torchvision's `<bn>.num_batches_tracked`, keyed beside running_mean. */
static void add_batches_tracked(TorchMap *m, const IrNode *bn)
{
    const char *mean = bn->in[3]->name, *dot = strrchr(mean, '.');
    char key[600];
    snprintf(key, sizeof key, "%.*snum_batches_tracked", dot ? (int)(dot - mean + 1) : 0, mean);
    Shape scalar = {0, {0}};
    rt_export_add_made(m->out, key, tensor_new(DT_I64, &scalar));
}

/* Each batchnorm of src: kept by the passes (its keys go through the
 * parameter loop), folded (restored here), or half gone (an error). */
static bool batchnorms(TorchMap *m)
{
    bool ok = true;
    for (int i = 0; i < m->src->nnodes; i++) {
        const IrNode *bn = m->src->nodes[i];
        if (bn->op != OP_BATCHNORM)
            continue;
        int kept = 0;
        for (int k = 1; k <= 4; k++)
            kept += ir_find_param(m->g, bn->in[k]->name) != NULL;
        if (kept == 0)
            ok = restore_folded(m, bn) && ok;
        else if (kept < 4) {
            diag_error(m->d, bn->loc, "export: only %d of the 4 parameters of batchnorm '%s' survive the passes",
                       kept, node_name(bn));
            ok = false;
        }
        add_batches_tracked(m, bn);
    }
    return ok;
}

/* Whether s is t or t with some dimensions made smaller (channel pruning). */
static bool shrunk_or_equal(const Shape *s, const Shape *t)
{
    if (s->rank != t->rank)
        return false;
    for (int i = 0; i < s->rank; i++)
        if (s->d[i] > t->d[i] || (s->d[i] == 0) != (t->d[i] == 0))
            return false;
    return true;
}

/* Every remaining key of src, with g's value under the same key. */
static bool same_keys(TorchMap *m)
{
    bool ok = true;
    char a[200], b[200];
    for (int i = 0; i < m->src->nparams; i++) {
        const IrValue *p = m->src->params[i];
        if (m->skip[p->id])
            continue;
        const IrValue *v = ir_find_param(m->g, p->name);
        if (!v)
            diag_error(m->d, p->loc, "export: parameter '%s' of the source is gone after the passes, so the "
                       "state_dict cannot have it (leave the pass that removed it out of --passes, or use "
                       "--format=int, which writes the graph's own parameters)", p->name);
        else if (!shrunk_or_equal(&v->shape, &p->shape))
            diag_error(m->d, p->loc, "export: parameter '%s' is %s after the passes, but %s in the source",
                       p->name, shape_str(&v->shape, a, sizeof a), shape_str(&p->shape, b, sizeof b));
        else if (!v->data || v->data->dtype != DT_F32)
            diag_error(m->d, p->loc, "export: parameter '%s' holds %s after the passes; the state_dict is f32",
                       p->name, v->data ? dtype_name(v->data->dtype) : "no data");
        else {
            rt_tlist_add(&m->out->tensors, p->name, v->data);
            m->placed[v->id] = true;
            continue;
        }
        ok = false;
    }
    return ok;
}

/* Every parameter of g has its place, or it is reported. */
static bool all_placed(const TorchMap *m)
{
    bool ok = true;
    for (int i = 0; i < m->g->nparams; i++) {
        const IrValue *v = m->g->params[i];
        if (m->placed[v->id])
            continue;
        diag_error(m->d, v->loc, "export: parameter '%s' of the graph after the passes has no key in the "
                   "source's state_dict (a pass added it); --format=int writes the graph's own parameters",
                   v->name);
        ok = false;
    }
    return ok;
}

bool rt_export_torch(const IrGraph *g, const IrGraph *src, RtExport *out, Diag *d)
{
    TorchMap m = {g, src, xcalloc((size_t)g->next_value_id + 1, sizeof(bool)),
                  xcalloc((size_t)src->next_value_id + 1, sizeof(bool)), out, d};
    out->tensors.borrowed = true;
    mark_metadata_params(g, m.placed);
    mark_metadata_params(src, m.skip); /* a .ir input may be quantized already */
    bool ok = batchnorms(&m);
    ok = same_keys(&m) && ok;
    ok = ok && all_placed(&m);
    free(m.placed);
    free(m.skip);
    if (!ok)
        return false;
    int activations = rt_export_quant_meta(g, &out->tensors, true);
    if (activations > 0)
        diag_warning(d, loc_none(),
                     "export: the graph quantizes %d activations; they are described in __metadata__, but a "
                     "PyTorch model loading this state_dict computes them in float (act-bits=0 quantizes "
                     "weights only)", activations);
    return true;
}
