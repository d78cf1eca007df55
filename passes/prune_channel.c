/*
 * prune_channel.c — channel / filter pruning over dependency groups: which
 * groups the requests select, how many channels each keeps and which, and
 * the physical shrinking of every member (docs/pruning.md, "Channels").
 *
 * The groups come from channel_groups.c. A request on a layer selects the
 * group of the layer's output channels (a depthwise conv's: its input's).
 * A group with several requests takes the smallest ratio among them (its
 * report row's remark says so).
 *
 * Importance of channel c of a group: the sum over every conv2d, linear
 * and mha weight that touches c (the rows a producer writes, the columns a
 * consumer reads, H·W columns per channel after a flatten, a depthwise
 * filter, an mha's in_proj columns and out_proj rows) of that slice's
 * norm: L1 = Σ|w|, L2 = sqrt(Σw²) (spec.norm).
 * Biases, batchnorm and layernorm affines and statistics and embeddings
 * are sliced but not scored. It is computed on the weights as written:
 * prune runs first in the pipeline, before fold-bn, so BN γ does not
 * scale the filters' norms.
 *
 * Per group (local): C - floor(r·C) channels stay (prune_count), rounded
 * down to a multiple of the group's head_dim when an mha is in it; the
 * lowest scores go first, and of equal scores the higher index
 * (prune_rank_lowest), so the lower index is kept. A ratio that would
 * remove all C is an error. Global (--prune=channel:R:global): scores are
 * divided by their group's mean, one ranking over all channels of every
 * selected group removes floor(R·ΣC); a group it would empty keeps its best
 * channel (best head_dim channels), and whole heads round down.
 *
 * An mha whose embedding width E goes to E' keeps E' / head_dim whole
 * heads, the ones with the largest norms over their q, k, v rows and
 * out_proj columns (num_heads updated; head_dim and so the 1/sqrt(d)
 * scale unchanged). The op ties its attention width to E (in_proj is
 * [3E, E]), so heads go only with the residual width.
 *
 * Shrinking keeps parameter keys and slices the bound data; conv2d
 * out_channels (depthwise: groups too), linear out_features and literal
 * dims in reshape / expand shapes are updated, and every node's results
 * are re-inferred in order. Nothing is changed when any request is in
 * error.
 */
#include "channel_groups.h"
#include "prune_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ChanPlan {
    PruneJob *job;
    ChanGraph *cg;
    const PruneLayer **req; /* per group representative: the request with the smallest ratio */
    double *max_ratio;      /* ... and the largest ratio asked */
    bool *global;
    double **score;         /* selected, prunable groups: per index */
    uint8_t **keep;         /* NULL: every index kept */
    int norm;
    uint8_t **heads;        /* per node position: an mha's kept heads, NULL when all stay */
    int64_t *nheads;        /* ... of how many */
} ChanPlan;

/* Per-position sums of |w| (norm 1) or w² (norm 2) along axis of w. */
static void axis_sums(const IrValue *w, int axis, int norm, double *sum)
{
    const float *x = pass_f32_data(w);
    const Shape *s = &w->shape;
    int64_t outer = 1, len = s->d[axis], inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= s->d[d];
    for (int d = axis + 1; d < s->rank; d++)
        inner *= s->d[d];
    memset(sum, 0, (size_t)len * sizeof *sum);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t p = 0; p < len; p++)
            for (int64_t i = 0; i < inner; i++) {
                double v = x[(o * len + p) * inner + i];
                sum[p] += norm == 2 ? v * v : fabs(v);
            }
}

/* Adds to each scored group the norms of w's slices along axis, whose
 * positions are ci's channels. */
static void add_scores(ChanPlan *pl, const IrValue *w, int axis, const ChanInfo *ci, int norm)
{
    if (!pass_f32_data(w) || ci->axis < 0 || chan_info_width(ci) != w->shape.d[axis])
        return;
    double *sum = xmalloc((size_t)w->shape.d[axis] * sizeof *sum);
    axis_sums(w, axis, norm, sum);
    int64_t base = 0;
    for (int s = 0; s < ci->nseg; s++) {
        const ChanSeg *sg = &ci->seg[s];
        double *sc = pl->score[chan_find(pl->cg, sg->group)];
        for (int64_t k = 0; sc && k < sg->len; k++) {
            double acc = 0;
            for (int64_t t = 0; t < sg->inner; t++)
                acc += sum[base + k * sg->inner + t];
            sc[sg->off + k] += norm == 2 ? sqrt(acc) : acc;
        }
        base += sg->len * sg->inner;
    }
    free(sum);
}

/* Whether input 0 of n carries its channels where n's weight reads them. */
static bool reads_channels(const IrNode *n, const ChanInfo *in)
{
    if (n->op == OP_CONV2D)
        return in->axis == 1 && ir_attr_int(n, "groups") == 1;
    return n->op == OP_LINEAR && in->axis == n->in[0]->shape.rank - 1;
}

static void score_groups(ChanPlan *pl, int norm)
{
    IrGraph *g = pl->job->g;
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        const ChanInfo *in = chan_info(pl->cg, n->in[0]), *out = chan_info(pl->cg, n->out);
        if (n->op == OP_MHA) { /* in_proj's columns, out_proj's rows */
            add_scores(pl, n->in[1], 1, in, norm);
            add_scores(pl, n->in[3], 0, out, norm);
            continue;
        }
        if (n->op != OP_CONV2D && n->op != OP_LINEAR)
            continue;
        add_scores(pl, n->in[1], 0, out, norm);
        if (reads_channels(n, in))
            add_scores(pl, n->in[1], 1, in, norm);
    }
}

/* ---- which groups, at which ratio ---- */

/* Every request against its group: annotated requests on a fixed group are
 * errors, default ones become a note row (once per group). */
static bool select_groups(ChanPlan *pl)
{
    PruneJob *job = pl->job;
    ChanGraph *cg = pl->cg;
    bool ok = true;
    bool *noted = xcalloc((size_t)cg->ngrp, sizeof *noted);
    for (int i = 0; i < job->nlayers; i++) {
        const PruneLayer *l = &job->layers[i];
        if (l->spec.kind != SP_CHANNEL)
            continue;
        const ChanInfo *ci = chan_info(cg, l->node->out);
        for (int s = 0; s < ci->nseg; s++) {
            int r = chan_find(cg, ci->seg[s].group);
            const char *fixed = cg->grp[r].fixed;
            if (fixed && l->annotated) {
                diag_error(job->d, l->where,
                           "prune: channel pruning asked for on a layer whose width cannot change: %s",
                           prune_layer_name(l->node));
                diag_note(job->d, l->node->loc, "%s", fixed);
                ok = false;
            } else if (fixed && !noted[r]) {
                noted[r] = true;
                PruneEntry e = {.name = prune_layer_name(l->node), .kind = SP_CHANNEL,
                                .members = (const char *const[]){prune_layer_name(l->node)}, .nmembers = 1,
                                .width_before = cg->grp[r].width, .note = fixed};
                prune_report_add(job->report, &e);
            } else if (!fixed) {
                if (!pl->req[r] || l->spec.ratio < pl->req[r]->spec.ratio)
                    pl->req[r] = l;
                if (l->spec.ratio > pl->max_ratio[r])
                    pl->max_ratio[r] = l->spec.ratio;
            }
            if (!fixed)
                pl->global[r] = pl->global[r] || l->spec.global;
        }
    }
    free(noted);
    return ok;
}

/* The group's layer name for messages: its root's, else the request's. */
static const char *group_name(ChanPlan *pl, int r)
{
    return pl->cg->grp[r].root ? prune_layer_name(pl->cg->grp[r].root) : prune_layer_name(pl->req[r]->node);
}

/* Keep the kept highest scores of group r (the rest removed, later index
 * first among equals). */
static void keep_top(ChanPlan *pl, int r, int64_t kept)
{
    int64_t c = pl->cg->grp[r].width;
    float *sc = xmalloc((size_t)c * sizeof *sc);
    uint8_t *removed = xmalloc((size_t)c);
    for (int64_t i = 0; i < c; i++)
        sc[i] = (float)pl->score[r][i];
    prune_rank_lowest(sc, NULL, c, c - kept, removed);
    if (!pl->keep[r])
        pl->keep[r] = xmalloc((size_t)c);
    for (int64_t i = 0; i < c; i++)
        pl->keep[r][i] = !removed[i];
    free(sc);
    free(removed);
}

/* C - floor(r·C) kept, rounded down to the group's multiple (whole heads). */
static bool local_keep(ChanPlan *pl, int r)
{
    const PruneLayer *l = pl->req[r];
    int64_t c = pl->cg->grp[r].width, m = pl->cg->grp[r].multiple;
    int64_t kept = (c - prune_count(l->spec.ratio, c)) / m * m;
    if (kept <= 0) {
        diag_error(pl->job->d, l->annotated ? l->where : l->node->loc,
                   "prune: channel ratio %.15g would remove every channel of %s (%lld of %lld%s, in the group of %s)",
                   l->spec.ratio, prune_layer_name(l->node), (long long)prune_count(l->spec.ratio, c), (long long)c,
                   m > 1 ? arena_printf(pl->cg->arena, "; whole heads of %lld", (long long)m) : "",
                   group_name(pl, r));
        return false;
    }
    keep_top(pl, r, kept);
    return true;
}

/* One ranking over the mean-normalised scores of every global group. */
static void global_keep(ChanPlan *pl)
{
    ChanGraph *cg = pl->cg;
    int64_t total = 0;
    double ratio = 0;
    for (int r = 0; r < cg->ngrp; r++)
        if (pl->score[r] && pl->global[r])
            total += cg->grp[r].width, ratio = pl->req[r]->spec.ratio;
    if (!total)
        return;
    float *sc = xmalloc((size_t)total * sizeof *sc);
    uint8_t *removed = xmalloc((size_t)total);
    int64_t at = 0;
    for (int r = 0; r < cg->ngrp; r++) {
        if (!pl->score[r] || !pl->global[r])
            continue;
        double mean = 0;
        for (int64_t i = 0; i < cg->grp[r].width; i++)
            mean += pl->score[r][i];
        mean /= (double)cg->grp[r].width;
        for (int64_t i = 0; i < cg->grp[r].width; i++)
            sc[at++] = (float)(mean > 0 ? pl->score[r][i] / mean : pl->score[r][i]);
    }
    prune_rank_lowest(sc, NULL, total, prune_count(ratio, total), removed);
    at = 0;
    for (int r = 0; r < cg->ngrp; r++) {
        if (!pl->score[r] || !pl->global[r])
            continue;
        int64_t c = cg->grp[r].width, m = cg->grp[r].multiple, kept = 0;
        for (int64_t i = 0; i < c; i++)
            kept += !removed[at + i];
        /* never empty, and whole heads: the group's best of what it keeps */
        kept = kept < m ? m : kept / m * m;
        keep_top(pl, r, kept);
        at += c;
    }
    free(sc);
    free(removed);
}

/* ---- shrinking ---- */

/* p keeps the positions pos[0..n) of its axis (data gathered, shape cut). */
static void slice_param(IrValue *p, int axis, const int64_t *pos, int64_t n)
{
    if (axis < 0 || axis >= p->shape.rank || n == p->shape.d[axis])
        return;
    Shape s = p->shape;
    s.d[axis] = n;
    if (p->data) {
        size_t es = dtype_size(p->data->dtype);
        int64_t outer = 1, inner = 1, len = p->shape.d[axis];
        for (int d = 0; d < axis; d++)
            outer *= s.d[d];
        for (int d = axis + 1; d < s.rank; d++)
            inner *= s.d[d];
        Tensor *t = tensor_new(p->data->dtype, &s);
        const char *src = p->data->data;
        char *dst = t->data;
        size_t row = (size_t)inner * es;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t k = 0; k < n; k++)
                memcpy(dst + (size_t)(o * n + k) * row, src + (size_t)(o * len + pos[k]) * row, row);
        ir_bind(p, t);
    }
    p->shape = s;
}

static IrAttr *attr_mut(IrNode *n, const char *key)
{
    for (int i = 0; i < n->nattr; i++)
        if (!strcmp(n->attr[i].key, key))
            return &n->attr[i];
    return NULL;
}

/* The kept positions of v's channels into pos; returns the count, or -1
 * when v carries none. */
static int64_t kept_of(ChanPlan *pl, const IrValue *v, int64_t *pos)
{
    const ChanInfo *ci = chan_info(pl->cg, v);
    return ci->axis < 0 ? -1 : chan_kept_positions(pl->cg, ci, pl->keep, pos);
}

/* The largest dimension of any value a node reads or defines: room for
 * the kept positions of any channel axis. */
static int64_t max_width(const IrGraph *g)
{
    int64_t m = 1;
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        for (int k = 0; k < n->nin + n->nout; k++) {
            const Shape *s = k < n->nin ? &n->in[k]->shape : &n->outs[k - n->nin]->shape;
            for (int d = 0; d < s->rank; d++)
                m = s->d[d] > m ? s->d[d] : m;
        }
    }
    return m;
}

/*
 * An mha whose embedding width E goes to E' keeps E' / head_dim whole
 * heads: those with the largest norms over their q, k, v rows of in_proj
 * and their out_proj columns, later index first among equals. Slices
 * those rows and columns and sets num_heads; the embedding's own columns
 * and rows are the caller's.
 */
static void keep_heads(ChanPlan *pl, IrNode *n, int64_t kept_width, uint8_t **kept_heads, int64_t *nheads)
{
    int64_t e = n->in[0]->shape.d[n->in[0]->shape.rank - 1], h = ir_attr_int(n, "num_heads"), d = e / h;
    int64_t hk = kept_width / d;
    if (hk >= h)
        return;
    double *rows = xmalloc((size_t)(3 * e) * sizeof *rows), *cols = xmalloc((size_t)e * sizeof *cols);
    axis_sums(n->in[1], 0, pl->norm, rows);
    axis_sums(n->in[3], 1, pl->norm, cols);
    float *score = xcalloc((size_t)h, sizeof *score);
    for (int64_t j = 0; j < h; j++) {
        double part[4] = {0};
        for (int64_t t = 0; t < d; t++) {
            for (int q = 0; q < 3; q++)
                part[q] += rows[q * e + j * d + t];
            part[3] += cols[j * d + t];
        }
        for (int q = 0; q < 4; q++)
            score[j] += (float)(pl->norm == 2 ? sqrt(part[q]) : part[q]);
    }
    uint8_t *removed = xmalloc((size_t)h);
    prune_rank_lowest(score, NULL, h, h - hk, removed);
    int64_t *rpos = xmalloc((size_t)(3 * e) * sizeof *rpos), nr = 0, nc = 0;
    for (int q = 0; q < 3; q++)
        for (int64_t j = 0; j < h; j++)
            for (int64_t t = 0; !removed[j] && t < d; t++)
                rpos[nr++] = q * e + j * d + t;
    slice_param(n->in[1], 0, rpos, nr);
    slice_param(n->in[2], 0, rpos, nr);
    for (int64_t j = 0; j < h; j++)
        for (int64_t t = 0; !removed[j] && t < d; t++)
            rpos[nc++] = j * d + t;
    slice_param(n->in[3], 1, rpos, nc);
    attr_mut(n, "num_heads")->i = hk;
    *kept_heads = xmalloc((size_t)h);
    *nheads = h;
    for (int64_t j = 0; j < h; j++)
        (*kept_heads)[j] = !removed[j];
    free(rows), free(cols), free(score), free(removed), free(rpos);
}

static void shrink_node(ChanPlan *pl, IrNode *n, int64_t *ipos, int64_t *opos, uint8_t **kept_heads,
                        int64_t *nheads)
{
    const ChanInfo *in = n->nin ? chan_info(pl->cg, n->in[0]) : NULL;
    int64_t ni = n->nin ? kept_of(pl, n->in[0], ipos) : -1, no = kept_of(pl, n->out, opos);
    switch (n->op) {
    case OP_CONV2D:
    case OP_LINEAR: {
        bool conv = n->op == OP_CONV2D;
        slice_param(n->in[1], 0, opos, no);
        if (reads_channels(n, in))
            slice_param(n->in[1], 1, ipos, ni);
        if (n->nin > 2)
            slice_param(n->in[2], 0, opos, no);
        attr_mut(n, conv ? "out_channels" : "out_features")->i = no;
        int64_t groups = conv ? ir_attr_int(n, "groups") : 1;
        if (groups > 1 && groups == n->in[0]->shape.d[1] && ni >= 0) /* depthwise: one group per input channel */
            attr_mut(n, "groups")->i = ni;
        break;
    }
    case OP_MHA:
        keep_heads(pl, n, no, kept_heads, nheads);
        slice_param(n->in[1], 1, ipos, ni);
        slice_param(n->in[3], 0, opos, no);
        slice_param(n->in[4], 0, opos, no);
        break;
    case OP_BATCHNORM:
        for (int k = 1; k < n->nin; k++)
            slice_param(n->in[k], 0, ipos, ni);
        break;
    case OP_LAYERNORM:
        if (ir_attr_int(n, "dim") + (ir_attr_int(n, "dim") < 0 ? n->in[0]->shape.rank : 0) == in->axis)
            for (int k = 1; k < n->nin; k++)
                slice_param(n->in[k], 0, ipos, ni);
        break;
    case OP_RESHAPE:
    case OP_EXPAND: {
        IrAttr *a = attr_mut(n, "shape");
        int ax = chan_info(pl->cg, n->out)->axis;
        if (no >= 0 && ax < a->n && a->ints[ax] > 0)
            a->ints[ax] = no;
        break;
    }
    default: break;
    }
}

/* Parameters and MACs of n as ir_stats counts them (buffers left out). */
static void node_cost(const IrNode *n, int64_t *params, int64_t *macs)
{
    int nd = op_data_inputs(n);
    *params = 0;
    for (int k = 0; k < n->nin; k++)
        if (n->in[k]->kind == VK_PARAM && (k < nd || !param_role_is_buffer(op_param_role(n, k - nd))))
            *params += shape_numel(&n->in[k]->shape);
    *macs = op_info(n->op)->macs ? op_info(n->op)->macs(n) : 0;
}

/* Whether n reads or writes channels of group r. */
static bool touches(ChanPlan *pl, const IrNode *n, int r)
{
    for (int k = 0; k <= n->nin; k++) {
        const ChanInfo *ci = chan_info(pl->cg, k < n->nin ? n->in[k] : n->out);
        for (int s = 0; s < ci->nseg; s++)
            if (chan_find(pl->cg, ci->seg[s].group) == r)
                return true;
    }
    return false;
}

static void report_groups(ChanPlan *pl, const int64_t *before)
{
    IrGraph *g = pl->job->g;
    ChanGraph *cg = pl->cg;
    const char **members = xmalloc((size_t)(g->nnodes + g->nparams) * sizeof *members);
    int64_t *kept = xmalloc((size_t)max_width(g) * sizeof *kept);
    for (int r = 0; r < cg->ngrp; r++) {
        if (!pl->keep[r])
            continue;
        PruneEntry e = {.name = group_name(pl, r), .kind = SP_CHANNEL, .members = members,
                        .kept = kept, .width_before = cg->grp[r].width};
        if (pl->max_ratio[r] > pl->req[r]->spec.ratio)
            e.remark = arena_printf(cg->arena, "its requests ask %g to %g, the smallest applies",
                                    pl->req[r]->spec.ratio, pl->max_ratio[r]);
        for (int64_t i = 0; i < cg->grp[r].width; i++)
            if (pl->keep[r][i])
                kept[e.nkept++] = i;
        for (int i = 0; i < g->nnodes; i++) {
            IrNode *n = g->nodes[i];
            int64_t p, m;
            node_cost(n, &p, &m);
            if ((!p && !m) || !touches(pl, n, r))
                continue;
            members[e.nmembers++] = n->name ? n->name : op_info(n->op)->name;
            e.params_before += before[2 * i], e.macs_before += before[2 * i + 1];
            e.params_after += p, e.macs_after += m;
        }
        prune_report_add(pl->job->report, &e);
    }
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        if (!pl->heads[i])
            continue;
        const char *keys[2] = {n->in[1]->name, n->in[3]->name};
        PruneEntry e = {.name = arena_printf(cg->arena, "%s heads", prune_layer_name(n)), .kind = SP_CHANNEL,
                        .members = keys, .nmembers = 2, .kept = kept,
                        .width_before = pl->nheads[i], .params_before = before[2 * i],
                        .macs_before = before[2 * i + 1]};
        node_cost(n, &e.params_after, &e.macs_after);
        for (int64_t j = 0; j < pl->nheads[i]; j++)
            if (pl->heads[i][j])
                kept[e.nkept++] = j;
        prune_report_add(pl->job->report, &e);
    }
    free(members);
    free(kept);
}

static bool shrink(ChanPlan *pl)
{
    IrGraph *g = pl->job->g;
    int64_t w = max_width(g);
    int64_t *ipos = xmalloc((size_t)w * sizeof *ipos), *opos = xmalloc((size_t)w * sizeof *opos);
    int64_t *before = xmalloc((size_t)(2 * g->nnodes + 1) * sizeof *before);
    for (int i = 0; i < g->nnodes; i++)
        node_cost(g->nodes[i], &before[2 * i], &before[2 * i + 1]);
    for (int i = 0; i < g->nparams; i++) {
        const ChanInfo *ci = chan_info(pl->cg, g->params[i]);
        if (ci->axis >= 0)
            slice_param(g->params[i], ci->axis, ipos, chan_kept_positions(pl->cg, ci, pl->keep, ipos));
    }
    pl->heads = xcalloc((size_t)g->nnodes, sizeof *pl->heads);
    pl->nheads = xcalloc((size_t)g->nnodes, sizeof *pl->nheads);
    for (int i = 0; i < g->nnodes; i++)
        shrink_node(pl, g->nodes[i], ipos, opos, &pl->heads[i], &pl->nheads[i]);
    bool ok = true;
    for (int i = 0; i < g->nnodes && ok; i++) {
        char err[512];
        if (!ir_refresh_node(g->nodes[i], err, sizeof err)) {
            diag_error(pl->job->d, g->nodes[i]->loc, "prune: internal error: %s no longer checks after channel pruning: %s",
                       prune_layer_name(g->nodes[i]), err);
            ok = false;
        }
    }
    if (ok)
        report_groups(pl, before);
    for (int i = 0; i < g->nnodes; i++)
        free(pl->heads[i]);
    free(pl->heads);
    free(pl->nheads);
    free(ipos);
    free(opos);
    free(before);
    return ok;
}

bool prune_channels(PruneJob *job)
{
    bool any = false;
    for (int i = 0; i < job->nlayers && !any; i++)
        any = job->layers[i].spec.kind == SP_CHANNEL;
    if (!any)
        return true;
    ChanPlan pl = {.job = job, .cg = chan_graph_build(job->g)};
    int ng = pl.cg->ngrp;
    pl.req = xcalloc((size_t)ng, sizeof *pl.req);
    pl.max_ratio = xcalloc((size_t)ng, sizeof *pl.max_ratio);
    pl.global = xcalloc((size_t)ng, sizeof *pl.global);
    pl.score = xcalloc((size_t)ng, sizeof *pl.score);
    pl.keep = xcalloc((size_t)ng, sizeof *pl.keep);
    bool ok = select_groups(&pl);
    pl.norm = 1;
    for (int r = 0; r < ng; r++)
        if (pl.req[r]) {
            pl.score[r] = xcalloc((size_t)pl.cg->grp[r].width, sizeof **pl.score);
            pl.norm = pl.req[r]->spec.norm;
        }
    score_groups(&pl, pl.norm);
    for (int r = 0; r < ng; r++)
        if (pl.req[r] && !pl.global[r])
            ok = local_keep(&pl, r) && ok;
    if (ok) {
        global_keep(&pl);
        ok = shrink(&pl);
    }
    for (int r = 0; r < ng; r++)
        free(pl.score[r]), free(pl.keep[r]);
    free(pl.req), free(pl.max_ratio), free(pl.global), free(pl.score), free(pl.keep);
    chan_graph_free(pl.cg);
    return ok;
}
