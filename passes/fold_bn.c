/*
 * fold_bn.c — folds a batchnorm into the conv2d (or linear) before it
 * (`fold-bn`).
 *
 * In eval mode batchnorm is y = (x - mean) * s + beta per channel, with
 * s = gamma / sqrt(var + eps). When x is a conv's (or a linear's) result
 * that nothing else reads, the conv can compute y directly:
 *
 *   W'[o, ...] = W[o, ...] * s[o]      b'[o] = (b[o] - mean[o]) * s[o] + beta[o]
 *
 * computed in double and rounded once to f32. The conv keeps its weight
 * key with the new data; a conv without a bias gets one (`<name>.bias`, or a
 * fresh key when that is taken), which means a new conv node with
 * bias=true takes the old one's place. The batchnorm goes, and its four
 * parameters with it once nothing reads them.
 *
 * A linear qualifies only on a 2-D result, where batchnorm's channel axis 1
 * is the linear's output feature (BatchNorm1d after nn.Linear). Left alone:
 * a conv whose weight or bias another node also reads (folding would change
 * that node too), and quantized weights or results (their scales were
 * chosen for the unfolded values). The weights must be bound as f32; an
 * unbound one is an error naming the layer, reported for every pair before
 * anything is rewritten.
 */
#include "pass_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The conv2d or linear bn can be folded into, or NULL. */
static IrNode *fold_target(const IrGraph *g, const IrNode *bn)
{
    const IrValue *x = bn->in[0];
    if (bn->op != OP_BATCHNORM || x->kind != VK_NODE || ir_sole_user(g, x) != bn)
        return NULL;
    IrNode *c = x->def;
    if (!(c->op == OP_CONV2D || (c->op == OP_LINEAR && x->shape.rank == 2)))
        return NULL;
    if (c->in[1]->nuses != 1 || (c->nin > 2 && c->in[2]->nuses != 1))
        return NULL;
    if (c->in[1]->quant || x->quant || bn->out->quant)
        return NULL;
    return c;
}

static const char *layer_name(const IrNode *n) { return n->name ? n->name : op_info(n->op)->name; }

/* Every parameter the fold reads must hold f32 data; reports each one that does not. */
static bool check_bound(const IrNode *c, const IrNode *bn, Diag *d)
{
    const IrValue *need[6];
    int n = 0;
    for (int k = 1; k < c->nin; k++)
        need[n++] = c->in[k];
    for (int k = 1; k < bn->nin; k++)
        need[n++] = bn->in[k];
    bool ok = true;
    for (int i = 0; i < n; i++)
        if (!pass_f32_data(need[i])) {
            diag_error(d, bn->loc,
                       "fold-bn: cannot fold batchnorm '%s' into %s '%s': parameter '%s' %s "
                       "(bind weights first, or leave fold-bn out of the pipeline)",
                       layer_name(bn), op_info(c->op)->name, layer_name(c), need[i]->name,
                       need[i]->data ? "holds data that is not f32" : "has no data bound");
            ok = false;
        }
    return ok;
}

/* Replaces c (which has no bias) by the same node with bias=true reading b. */
static IrNode *with_bias(IrGraph *g, IrNode *c, IrValue *b, Diag *d)
{
    IrAttr *attr = arena_alloc(g->arena, (size_t)c->nattr * sizeof *attr);
    memcpy(attr, c->attr, (size_t)c->nattr * sizeof *attr);
    for (int i = 0; i < c->nattr; i++)
        if (strcmp(attr[i].key, "bias") == 0)
            attr[i].i = 1;
    IrValue *in[3] = {c->in[0], c->in[1], b};
    char err[256];
    IrNode *nc = ir_insert_node(g, ir_node_pos(g, c), c->op, c->name, 3, in, c->nattr, attr, c->loc, err,
                                sizeof err);
    if (!nc) {
        diag_error(d, c->loc, "fold-bn: internal error adding a bias to '%s': %s", layer_name(c), err);
        return NULL;
    }
    pass_carry_node_meta(g, c, nc);
    ir_replace_uses(g, c->out, nc->out);
    ir_remove_node(g, c);
    return nc;
}

static bool fold(IrGraph *g, IrNode *c, IrNode *bn, Diag *d)
{
    IrValue *w = c->in[1], *b = c->nin > 2 ? c->in[2] : NULL;
    /* In place: the conv is the weight's and bias's only user (fold_target)
     * and a parameter owns its tensor, so nobody else sees the old values,
     * and a ResNet-50 costs no second copy of its weights. */
    float *fw = (float *)pass_f32_data(w), *bd = b ? (float *)pass_f32_data(b) : NULL;
    const float *gamma = pass_f32_data(bn->in[1]), *beta = pass_f32_data(bn->in[2]);
    const float *mean = pass_f32_data(bn->in[3]), *var = pass_f32_data(bn->in[4]);
    double eps = ir_attr_float(bn, "eps");
    int64_t oc = w->shape.d[0], per = shape_numel(&w->shape) / oc;
    Shape bs = {1, {oc}};
    Tensor *nb = b ? NULL : tensor_new(DT_F32, &bs);
    float *fb = b ? bd : nb->data;
    for (int64_t o = 0; o < oc; o++) {
        double s = gamma[o] / sqrt((double)var[o] + eps);
        for (int64_t i = 0; i < per; i++)
            fw[o * per + i] = (float)(fw[o * per + i] * s);
        fb[o] = (float)(((bd ? bd[o] : 0.0) - mean[o]) * s + beta[o]);
    }
    if (!b) {
        const char *base = c->name ? arena_printf(g->arena, "%s.bias", c->name)
                                   : arena_printf(g->arena, "%s.%d.bias", op_info(c->op)->name, c->id);
        b = ir_add_param(g, pass_fresh_key(g, base), DT_F32, bs, c->loc);
        ir_bind(b, nb);
        if (!(c = with_bias(g, c, b, d)))
            return false;
    }
    IrValue *stats[4] = {bn->in[1], bn->in[2], bn->in[3], bn->in[4]};
    ir_replace_uses(g, bn->out, c->out);
    ir_remove_node(g, bn);
    for (int k = 0; k < 4; k++)
        ir_remove_param(g, stats[k]); /* refused while another node reads it */
    return true;
}

bool pass_fold_bn(IrGraph *g, const PassArgs *args, Diag *d)
{
    IrNode **bns = xmalloc((size_t)(g->nnodes ? g->nnodes : 1) * sizeof *bns);
    int n = 0;
    bool ok = true;
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *c = fold_target(g, g->nodes[i]);
        if (c) {
            ok &= check_bound(c, g->nodes[i], d);
            bns[n++] = g->nodes[i];
        }
    }
    for (int i = 0; i < n && ok; i++)
        ok = fold(g, fold_target(g, bns[i]), bns[i], d);
    free(bns);
    return ok;
}
