/*
 * channel_groups.c — the dependency groups of channel pruning, one forward
 * walk over the graph in topological order (channel_groups.h).
 *
 * The rules, per op (research/passes.md §2.3's table; docs/pruning.md):
 *   conv2d, groups 1    a fresh group for its output channels (it is the
 *                       root); its input's channels are its weight columns
 *   conv2d, depthwise   groups = C_in: the output is the input's channel
 *                       space (out c reads in c; with a multiplier m =
 *                       C_out / C_in, outs c·m .. c·m+m-1 read in c)
 *   conv2d, grouped     1 < groups < C_in: fixed, both sides (every group
 *                       must keep the same width; not done)
 *   linear              a fresh group on the output's last axis; the input's
 *                       last axis is its weight columns
 *   batchnorm, layernorm over the channel axis, activations, dropout,
 *   pooling             pass-through
 *   add, sub, mul       operands of the result's shape unite; a parameter
 *                       operand whose aligned dimension is the width is
 *                       sliced with the group, one of size 1 broadcasts
 *   concat              on the channel axis: operands' segments end to end;
 *                       on another axis: the operands unite
 *   flatten             the channel axis merged with the dims after it:
 *                       each channel covers their product of positions
 *   reshape             keeping every dim up to the channel axis: pass-
 *                       through (its shape attribute is updated); merging
 *                       the dims after it into it: as flatten; else fixed
 *   permute, transpose, select, slice, expand  the axis moves; select or
 *                       slice of the channel axis itself: fixed
 *   mha                 input and output share the channel space (in_proj
 *                       columns, out_proj rows): the op ties both to E and
 *                       its attention width to E too (in_proj [3E, E]), so
 *                       pruning E removes whole heads and the group's kept
 *                       width must be a multiple of head_dim
 *   anything else       fixed (matmul, topk, quantized ops)
 * A parameter read as data gets a fresh unrooted group, which unites with
 * what it meets: on the axis an add or mul aligns with the channels
 * (ViT's position embedding, ConvNeXt's layer scale [C, 1, 1]), else on its
 * last axis (ViT's class token through expand). Net inputs and outputs are fixed.
 */
#include "channel_groups.h"

#include <stdlib.h>
#include <string.h>

int chan_find(ChanGraph *cg, int i)
{
    while (cg->grp[i].parent != i)
        i = cg->grp[i].parent = cg->grp[cg->grp[i].parent].parent;
    return i;
}

static int new_group(ChanGraph *cg, int64_t width, IrNode *root, const char *fixed)
{
    if (cg->ngrp == cg->cap) {
        cg->cap = cg->cap ? 2 * cg->cap : 64;
        cg->grp = xrealloc(cg->grp, (size_t)cg->cap * sizeof *cg->grp);
    }
    cg->grp[cg->ngrp] = (ChanGroup){.parent = cg->ngrp, .width = width, .root = root, .fixed = fixed, .multiple = 1};
    return cg->ngrp++;
}

static void fix_group(ChanGraph *cg, int i, const char *why)
{
    i = chan_find(cg, i);
    if (!cg->grp[i].fixed)
        cg->grp[i].fixed = why;
}

static int64_t lcm(int64_t a, int64_t b)
{
    int64_t x = a, y = b;
    while (y) {
        int64_t t = x % y;
        x = y, y = t;
    }
    return a / x * b; /* x is gcd(a, b) */
}

static void unite(ChanGraph *cg, int a, int b)
{
    a = chan_find(cg, a), b = chan_find(cg, b);
    if (a == b)
        return;
    if (b < a) {
        int t = a;
        a = b, b = t;
    }
    cg->grp[b].parent = a;
    cg->grp[a].multiple = lcm(cg->grp[a].multiple, cg->grp[b].multiple);
    if (!cg->grp[a].root)
        cg->grp[a].root = cg->grp[b].root;
    if (!cg->grp[a].fixed)
        cg->grp[a].fixed = cg->grp[b].fixed;
}

const ChanInfo *chan_info(const ChanGraph *cg, const IrValue *v) { return &cg->info[v->id]; }

static ChanInfo *info_of(ChanGraph *cg, const IrValue *v) { return &cg->info[v->id]; }

int64_t chan_info_width(const ChanInfo *ci)
{
    int64_t w = 0;
    for (int s = 0; s < ci->nseg; s++)
        w += ci->seg[s].len * ci->seg[s].inner;
    return w;
}

static void fix_info(ChanGraph *cg, const ChanInfo *ci, const char *why)
{
    for (int s = 0; s < ci->nseg; s++)
        fix_group(cg, ci->seg[s].group, why);
}

/* v's channels are one fresh group on axis. */
static void set_fresh(ChanGraph *cg, IrValue *v, int axis, IrNode *root, const char *fixed)
{
    ChanInfo *ci = info_of(cg, v);
    ci->axis = axis;
    ci->nseg = 1;
    ci->seg = arena_alloc(cg->arena, sizeof *ci->seg);
    ci->seg[0] = (ChanSeg){.group = new_group(cg, v->shape.d[axis], root, fixed), .off = 0,
                           .len = v->shape.d[axis], .inner = 1};
}

/* out carries in's segments on axis. */
static void set_same(ChanGraph *cg, IrValue *out, const ChanInfo *in, int axis)
{
    ChanInfo *ci = info_of(cg, out);
    *ci = *in;
    ci->axis = axis;
}

static const char *why(ChanGraph *cg, const char *fmt, const IrNode *n)
{
    return arena_printf(cg->arena, fmt, n->name ? n->name : op_info(n->op)->name, op_info(n->op)->name);
}

/* Every input's groups fixed, and every result a fresh fixed group on the
 * axis a reader would take for channels: 1 of a 4-D result, else the last. */
static void opaque(ChanGraph *cg, IrNode *n, const char *reason)
{
    for (int k = 0; k < n->nin; k++)
        fix_info(cg, info_of(cg, n->in[k]), reason);
    for (int r = 0; r < n->nout; r++) {
        int rank = n->outs[r]->shape.rank;
        if (rank >= 1)
            set_fresh(cg, n->outs[r], rank == 4 ? 1 : rank - 1, NULL, reason);
    }
}

/* A parameter read as data: a fresh unrooted group on axis (-1: its last,
 * when the reader does not say which). */
static const ChanInfo *param_info(ChanGraph *cg, IrValue *p, int axis)
{
    ChanInfo *ci = info_of(cg, p);
    if (ci->axis < 0 && p->kind == VK_PARAM && p->shape.rank >= 1) {
        set_fresh(cg, p, axis >= 0 ? axis : p->shape.rank - 1, NULL, NULL);
        if (p->nuses > 1 || p->quant || p->sparsity)
            fix_info(cg, ci, why(cg, "%s reads a parameter that is shared or carries metadata", p->uses[0].user));
    }
    return ci;
}

/* Two infos describing the same positions unite segment by segment; false
 * when their segments do not line up (then the caller fixes both). */
static bool unite_infos(ChanGraph *cg, const ChanInfo *a, const ChanInfo *b)
{
    if (a->nseg != b->nseg)
        return false;
    for (int s = 0; s < a->nseg; s++) {
        const ChanSeg *x = &a->seg[s], *y = &b->seg[s];
        int gx = chan_find(cg, x->group), gy = chan_find(cg, y->group);
        if (x->len != y->len || x->inner != y->inner || x->off != y->off ||
            cg->grp[gx].width != cg->grp[gy].width || (gx != gy && (x->off || x->len != cg->grp[gx].width)))
            return false;
    }
    for (int s = 0; s < a->nseg; s++)
        unite(cg, a->seg[s].group, b->seg[s].group);
    return true;
}

/* The inputs of n listed in ins share the result's channel space on axis
 * (aligned from the right); the first one with channels gives the result's
 * segments. A parameter operand of size 1 there broadcasts. */
static void unify_operands(ChanGraph *cg, IrNode *n, int nins)
{
    IrValue *out = n->out;
    const ChanInfo *first = NULL;
    int axis = -1;
    for (int k = 0; k < nins && !first; k++) {
        const ChanInfo *ci = info_of(cg, n->in[k]);
        if (n->in[k]->kind != VK_PARAM && ci->axis >= 0)
            first = ci, axis = ci->axis + out->shape.rank - n->in[k]->shape.rank;
    }
    if (!first) {
        opaque(cg, n, why(cg, "%s (%s) combines values whose channels are not tracked", n));
        return;
    }
    bool ok = true;
    for (int k = 0; k < nins; k++) {
        IrValue *v = n->in[k];
        int ax = axis - (out->shape.rank - v->shape.rank);
        if (ax < 0 || v->shape.d[ax] == 1) {
            if (v->kind != VK_PARAM)
                ok = false; /* a broadcast activation: not a residual */
            continue;
        }
        const ChanInfo *ci = v->kind == VK_PARAM ? param_info(cg, v, ax) : info_of(cg, v);
        if (ci == first)
            continue;
        if (ci->axis != ax || !unite_infos(cg, first, ci))
            ok = false;
    }
    if (!ok) {
        const char *r = why(cg, "%s (%s) combines channel spaces that do not line up", n);
        for (int k = 0; k < nins; k++)
            fix_info(cg, info_of(cg, n->in[k]), r);
    }
    set_same(cg, out, first, axis);
}

/* conv2d: a root (groups 1), pass-through (depthwise) or fixed (grouped). */
static void conv_rule(ChanGraph *cg, IrNode *n, const ChanInfo *in)
{
    int64_t groups = ir_attr_int(n, "groups"), cin = n->in[0]->shape.d[1], cout = n->out->shape.d[1];
    if (in->axis != 1) {
        const char *r = why(cg, "%s (%s) reads channels off its channel axis", n);
        fix_info(cg, in, r);
        set_fresh(cg, n->out, 1, n, groups == 1 ? NULL : r); /* a grouped conv's output is tied to its input */
    } else if (groups == 1) {
        set_fresh(cg, n->out, 1, n, NULL);
    } else if (groups == cin && cout % cin == 0) {
        /* depthwise, with multiplier m = cout / cin: output c·m .. c·m+m-1
         * reads input c, so each input channel covers m output positions */
        ChanInfo *ci = info_of(cg, n->out);
        *ci = *in;
        ci->seg = arena_alloc(cg->arena, (size_t)in->nseg * sizeof *ci->seg);
        for (int k = 0; k < in->nseg; k++)
            ci->seg[k] = in->seg[k], ci->seg[k].inner *= cout / cin;
    } else {
        const char *r = why(cg, "%s is a grouped conv2d (every group must keep one width; not done)", n);
        fix_info(cg, in, r);
        set_fresh(cg, n->out, 1, n, r);
    }
}

/* flatten of dims [start, end] of a value with channels on axis. */
static void merge_rule(ChanGraph *cg, IrNode *n, const ChanInfo *in, int start, int end)
{
    const Shape *s = &n->in[0]->shape;
    int axis = in->axis;
    if (axis < start || axis > end) {
        set_same(cg, n->out, in, axis < start ? axis : axis - (end - start));
        return;
    }
    int64_t inner = 1;
    bool ok = true;
    for (int d = start; d < axis; d++)
        ok = ok && s->d[d] == 1;
    for (int d = axis + 1; d <= end; d++)
        inner *= s->d[d];
    if (!ok) {
        opaque(cg, n, why(cg, "%s (%s) merges the channel axis into an outer dimension", n));
        return;
    }
    ChanInfo *ci = info_of(cg, n->out);
    ci->axis = start;
    ci->nseg = in->nseg;
    ci->seg = arena_alloc(cg->arena, (size_t)in->nseg * sizeof *ci->seg);
    for (int k = 0; k < in->nseg; k++)
        ci->seg[k] = in->seg[k], ci->seg[k].inner *= inner;
}

static int norm_dim(int64_t d, int rank) { return (int)(d < 0 ? d + rank : d); }

static void reshape_rule(ChanGraph *cg, IrNode *n, const ChanInfo *in)
{
    const Shape *s = &n->in[0]->shape, *o = &n->out->shape;
    int axis = in->axis;
    bool prefix = o->rank > axis;
    for (int d = 0; prefix && d <= axis; d++)
        prefix = s->d[d] == o->d[d];
    if (prefix) {
        set_same(cg, n->out, in, axis);
        return;
    }
    /* [N, C, H, W] -> [N, C·H·W]: the flatten torch.flatten(x, 1) is */
    bool flat = o->rank == axis + 1;
    for (int d = 0; flat && d < axis; d++)
        flat = s->d[d] == o->d[d];
    if (flat) {
        merge_rule(cg, n, in, axis, s->rank - 1);
        return;
    }
    opaque(cg, n, why(cg, "%s (%s) fixes the channel dimension in its shape", n));
}

static void node_rule(ChanGraph *cg, IrNode *n)
{
    const ChanInfo *in = n->nin ? info_of(cg, n->in[0]) : NULL;
    if (in && in->axis < 0 && n->in[0]->kind == VK_PARAM && n->op != OP_ADD && n->op != OP_SUB &&
        n->op != OP_MUL && n->op != OP_CONCAT)
        in = param_info(cg, n->in[0], -1);
    int rank = n->out->shape.rank;
    switch (n->op) {
    case OP_CONV2D: conv_rule(cg, n, in); return;
    case OP_LINEAR:
        if (in->axis != n->in[0]->shape.rank - 1)
            fix_info(cg, in, why(cg, "%s (%s) reads channels off its last axis", n));
        set_fresh(cg, n->out, rank - 1, n, NULL);
        return;
    case OP_MHA:
        if (in->axis != rank - 1 || in->nseg != 1) {
            opaque(cg, n, why(cg, "%s (%s) reads channels off its last axis", n));
        } else {
            int r = chan_find(cg, in->seg[0].group);
            cg->grp[r].multiple = lcm(cg->grp[r].multiple, n->in[0]->shape.d[rank - 1] / ir_attr_int(n, "num_heads"));
            set_same(cg, n->out, in, in->axis);
        }
        return;
    case OP_BATCHNORM:
    case OP_MAXPOOL:
    case OP_AVGPOOL:
    case OP_ADAPTIVE_AVGPOOL:
    case OP_GLOBAL_AVGPOOL:
        if (in->axis == 1)
            set_same(cg, n->out, in, 1);
        else
            opaque(cg, n, why(cg, "%s (%s) reads channels off axis 1", n));
        return;
    case OP_RELU:
    case OP_RELU6:
    case OP_GELU:
    case OP_SILU:
    case OP_SIGMOID:
    case OP_HARDSWISH:
    case OP_DROPOUT:
    case OP_LAYERNORM: set_same(cg, n->out, in, in->axis); return;
    case OP_SOFTMAX:
        if (in->axis == norm_dim(ir_attr_int(n, "dim"), rank))
            opaque(cg, n, why(cg, "%s (%s) normalises over the channels", n));
        else
            set_same(cg, n->out, in, in->axis);
        return;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL: unify_operands(cg, n, 2); return;
    case OP_CONCAT: {
        int dim = norm_dim(ir_attr_int(n, "dim"), rank);
        for (int k = 0; k < n->nin; k++)
            if (n->in[k]->kind == VK_PARAM)
                param_info(cg, n->in[k], -1);
        if (in->axis != dim) {
            unify_operands(cg, n, n->nin);
            return;
        }
        ChanInfo *ci = info_of(cg, n->out);
        ci->axis = dim;
        for (int k = 0; k < n->nin; k++) {
            const ChanInfo *a = info_of(cg, n->in[k]);
            if (a->axis != dim) {
                opaque(cg, n, why(cg, "%s (%s) concatenates values whose channels are not tracked", n));
                return;
            }
            ci->nseg += a->nseg;
        }
        ci->seg = arena_alloc(cg->arena, (size_t)ci->nseg * sizeof *ci->seg);
        int s = 0;
        for (int k = 0; k < n->nin; k++) {
            const ChanInfo *a = info_of(cg, n->in[k]);
            memcpy(&ci->seg[s], a->seg, (size_t)a->nseg * sizeof *a->seg);
            s += a->nseg;
        }
        return;
    }
    case OP_FLATTEN: {
        int r = n->in[0]->shape.rank;
        merge_rule(cg, n, in, norm_dim(ir_attr_int(n, "start_dim"), r), norm_dim(ir_attr_int(n, "end_dim"), r));
        return;
    }
    case OP_RESHAPE: reshape_rule(cg, n, in); return;
    case OP_EXPAND: set_same(cg, n->out, in, in->axis + rank - n->in[0]->shape.rank); return;
    case OP_PERMUTE: {
        int cnt;
        const int64_t *dims = ir_attr_ints(n, "dims", &cnt);
        for (int j = 0; j < cnt; j++)
            if (norm_dim(dims[j], rank) == in->axis)
                set_same(cg, n->out, in, j);
        return;
    }
    case OP_TRANSPOSE: {
        int a = norm_dim(ir_attr_int(n, "dim0"), rank), b = norm_dim(ir_attr_int(n, "dim1"), rank);
        set_same(cg, n->out, in, in->axis == a ? b : in->axis == b ? a : in->axis);
        return;
    }
    case OP_SELECT:
    case OP_SLICE: {
        int dim = norm_dim(ir_attr_int(n, "dim"), n->in[0]->shape.rank);
        if (dim == in->axis)
            opaque(cg, n, why(cg, "%s (%s) picks part of the channels", n));
        else
            set_same(cg, n->out, in, n->op == OP_SELECT && in->axis > dim ? in->axis - 1 : in->axis);
        return;
    }
    default: opaque(cg, n, why(cg, "%s (%s) is not an op channel pruning passes through", n)); return;
    }
}

ChanGraph *chan_graph_build(IrGraph *g)
{
    ChanGraph *cg = xcalloc(1, sizeof *cg);
    cg->g = g;
    cg->arena = arena_new();
    cg->info = xcalloc((size_t)(g->next_value_id > 0 ? g->next_value_id : 1), sizeof *cg->info);
    for (int i = 0; i < g->next_value_id; i++)
        cg->info[i].axis = -1;
    for (int i = 0; i < g->ninputs; i++) {
        IrValue *x = g->inputs[i];
        if (x->shape.rank >= 2)
            set_fresh(cg, x, x->shape.rank == 4 ? 1 : x->shape.rank - 1, NULL,
                      arena_printf(cg->arena, "the net input %s keeps its width", x->name));
    }
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        const ChanInfo *in = n->nin ? info_of(cg, n->in[0]) : NULL;
        bool untracked = !in || (in->axis < 0 && n->in[0]->kind != VK_PARAM);
        if (n->nout != 1 || (untracked && n->op != OP_CONCAT && n->op != OP_ADD && n->op != OP_SUB &&
                             n->op != OP_MUL))
            opaque(cg, n, why(cg, "%s (%s) is not an op channel pruning passes through", n));
        else
            node_rule(cg, n);
        /* a layer's weights must be dense f32 and its own to be sliced */
        for (int k = op_data_inputs(n); k < n->nin; k++) {
            IrValue *p = n->in[k];
            if (p->nuses > 1 || p->quant || p->sparsity) {
                const char *r = why(cg, "%s (%s) has a weight that is shared or carries metadata", n);
                fix_info(cg, info_of(cg, n->in[0]), r);
                fix_info(cg, info_of(cg, n->out), r);
            }
        }
    }
    for (int i = 0; i < g->noutputs; i++)
        fix_info(cg, info_of(cg, g->outputs[i].value),
                 arena_printf(cg->arena, "the net output %s keeps its width", g->outputs[i].name));
    return cg;
}

void chan_graph_free(ChanGraph *cg)
{
    if (!cg)
        return;
    arena_free(cg->arena);
    free(cg->info);
    free(cg->grp);
    free(cg);
}

int64_t chan_kept_positions(ChanGraph *cg, const ChanInfo *ci, uint8_t *const *keep, int64_t *pos)
{
    int64_t base = 0, n = 0;
    for (int s = 0; s < ci->nseg; s++) {
        const ChanSeg *sg = &ci->seg[s];
        const uint8_t *kp = keep[chan_find(cg, sg->group)];
        for (int64_t k = 0; k < sg->len; k++)
            if (!kp || kp[sg->off + k])
                for (int64_t t = 0; t < sg->inner; t++)
                    pos[n++] = base + k * sg->inner + t;
        base += sg->len * sg->inner;
    }
    return n;
}
