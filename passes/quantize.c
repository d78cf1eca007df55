/*
 * quantize.c — post-training quantization: per-layer weight bit widths and
 * activation quantization from calibration data (docs/quantization.md).
 *
 *   --passes='fold-bn,quantize(bits=8,act-bits=8)' --calib x.npy
 *
 * Weights of every conv2d, linear and mha are quantized symmetrically on
 * the narrow grid, per output channel (axis 0) unless per-channel=0, and
 * stored as their dequantized f32 values with quant(...) metadata naming
 * the scales — so every backend that runs floats runs the quantized net
 * unchanged, and the integer lowering recovers the integers exactly (the
 * verifier checks the values are on the grid).
 *
 * Activations: the data input of each weighted layer becomes
 * dequantize(quantize(x)) — per tensor, asymmetric unsigned, its range
 * observed on the calibration batches (min-max, or a percentile). Only the
 * layers read the quantized copy; a residual path keeps the float value
 * (ONNX's QDQ placement). A node with @precision(act = b) has its results
 * quantized for every reader.
 *
 * Bits: @precision(weight = b) on a node wins; then, with --quant-budget,
 * the exact allocation of quant_budget.c (the first and last layers stay at
 * `bits` unless keep-ends=0); otherwise `bits` everywhere.
 *
 * pow2=1 (8 bits only) is the fixed-point mode of F8Net: every scale is a
 * power of two 2^-fl, fl from the data's standard deviation
 * (ir_quant_pow2): weights per channel on [-127, 127]; activations per
 * tensor, u8 with zero point 0 when the observed minimum is >= 0 (after a
 * ReLU), else the signed rule with zero point 128 (so the kernels' uint8
 * containers hold [-128, 127]).
 *
 * Runs after fold-bn: the weights quantized are the ones the backend stores.
 */
#include "annotations.h"
#include "pass_internal.h"
#include "quant_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The weight parameters of n that are quantized (role weight). */
static int layer_weights(const IrNode *n, IrValue **out)
{
    int count = 0, nd = op_data_inputs(n);
    for (int k = nd; k < n->nin && count < QUANT_MAX_WEIGHTS; k++)
        if (op_param_role(n, k - nd) == PR_WEIGHT)
            out[count++] = n->in[k];
    return count;
}

static bool is_layer_op(OpKind op) { return op == OP_CONV2D || op == OP_LINEAR || op == OP_MHA; }

static const char *node_name(const IrNode *n) { return n->name ? n->name : op_info(n->op)->name; }

/* The weighted layers in graph order, with their requested bits. */
static bool find_layers(QuantPlan *p)
{
    IrGraph *g = p->g;
    p->layers = xcalloc((size_t)g->nnodes + 1, sizeof *p->layers);
    bool ok = true;
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        if (!is_layer_op(n->op))
            continue;
        QuantLayer *l = &p->layers[p->nlayers++];
        l->node = n;
        l->nweights = layer_weights(n, l->weights);
        l->macs = op_info(n->op)->macs ? op_info(n->op)->macs(n) : 0;
        l->bits = p->weight_bits;
        for (int k = 0; k < IR_QUANT_MAX_BITS + 1; k++)
            l->sens[k] = -1;
        for (int w = 0; w < l->nweights; w++) {
            IrValue *wv = l->weights[w];
            l->nparams += shape_numel(&wv->shape);
            l->nscales += p->per_channel && wv->shape.rank > 0 ? wv->shape.d[0] : 1;
            if (wv->quant) {
                diag_error(p->d, n->loc, "quantize: '%s' of %s is quantized already", wv->name,
                           node_name(n));
                ok = false;
            } else if (!pass_f32_data(wv) ||
                       shape_numel(&wv->data->shape) != shape_numel(&wv->shape)) {
                diag_error(p->d, n->loc,
                           "quantize: weight '%s' of %s has no f32 data (give --weights)", wv->name,
                           node_name(n));
                ok = false;
            }
        }
        const IrRequests *r = n->req;
        if (r && (r->set & REQ_WEIGHT)) {
            if (r->weight.is_float) {
                diag_error(p->d, n->loc,
                           "quantize: %s asks for %s weights; the quantize pass makes integer "
                           "grids only (2..16 bits)",
                           node_name(n), dtype_name(r->weight.dtype));
                ok = false;
            }
            l->bits = r->weight.bits;
            l->pinned = true;
        }
    }
    return ok;
}

/* The point quantizing v, made on first sight. */
static QuantPoint *point_of(QuantPlan *p, IrValue *v, int bits)
{
    for (int i = 0; i < p->npoints; i++)
        if (p->points[i].value == v)
            return &p->points[i];
    QuantPoint *q = &p->points[p->npoints++];
    *q = (QuantPoint){.value = v, .bits = bits, .min = INFINITY, .max = -INFINITY};
    return q;
}

/* Layer inputs (at act-bits, when not 0), then @precision(act) results. */
static bool find_points(QuantPlan *p)
{
    IrGraph *g = p->g;
    int most = p->nlayers;
    for (int i = 0; i < g->nnodes; i++)
        most += g->nodes[i]->nout;
    p->points = xcalloc((size_t)most + 1, sizeof *p->points);
    bool ok = true;
    for (int i = 0; i < p->nlayers && p->act_bits > 0; i++) {
        QuantLayer *l = &p->layers[i];
        QuantPoint *q = point_of(p, l->node->in[0], p->act_bits);
        if (q->nreaders < (int)(sizeof q->readers / sizeof *q->readers))
            q->readers[q->nreaders++] = l->node;
        else
            q->all_uses = true; /* a value read by very many layers: quantize it for all */
    }
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        if (!n->req || !(n->req->set & REQ_ACT))
            continue;
        if (n->req->act.is_float) {
            diag_error(p->d, n->loc,
                       "quantize: %s asks for %s activations; the quantize pass makes integer "
                       "grids only (2..16 bits)",
                       node_name(n), dtype_name(n->req->act.dtype));
            ok = false;
            continue;
        }
        for (int r = 0; r < n->nout; r++)
            if (dtype_is_float(n->outs[r]->dtype)) {
                QuantPoint *q = point_of(p, n->outs[r], n->req->act.bits);
                q->bits = n->req->act.bits;
                q->all_uses = true;
            }
    }
    for (int i = 0; i < p->nlayers; i++)
        for (int k = 0; k < p->npoints; k++)
            if (p->points[k].value == p->layers[i].node->in[0])
                p->layers[i].act_bits = p->points[k].bits;
    return ok;
}

/* pow2=1 is F8Net's fixed-point mode: 8-bit weights and activations with
 * power-of-two scales, so the integer kernels requantize by shifts. Other
 * bit widths have no fixed-point kernels, and a budget, a percentile or a
 * request for other bits would silently be overridden: all are refused. */
static bool check_pow2(QuantPlan *p)
{
    const char *why = NULL;
    if (p->weight_bits != IR_QUANT_POW2_BITS)
        why = "bits=8";
    else if (p->act_bits != 0 && p->act_bits != IR_QUANT_POW2_BITS)
        why = "act-bits=8 (or 0, weights only)";
    else if (p->env->budget_kind != QUANT_BUDGET_NONE)
        why = "one bit width, not --quant-budget";
    else if (p->percentile_bp < 10000)
        why = "no percentile (its fractional lengths come from the standard deviation)";
    if (why) {
        diag_error(p->d, loc_none(), "quantize: pow2=1 is the 8-bit fixed-point mode; it needs %s",
                   why);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < p->nlayers; i++)
        if (p->layers[i].bits != IR_QUANT_POW2_BITS) {
            diag_error(p->d, p->layers[i].node->loc,
                       "quantize: %s asks for %d-bit weights, but pow2=1 is the 8-bit fixed-point "
                       "mode",
                       node_name(p->layers[i].node), p->layers[i].bits);
            ok = false;
        }
    /* layer inputs are at act-bits (checked above): other bits come from
     * @precision(act) on a node */
    for (int i = 0; i < p->npoints; i++)
        if (p->points[i].bits != IR_QUANT_POW2_BITS && p->points[i].value->kind == VK_NODE) {
            const IrNode *n = p->points[i].value->def;
            diag_error(p->d, n->loc,
                       "quantize: %s asks for %d-bit activations, but pow2=1 is the 8-bit "
                       "fixed-point mode",
                       node_name(n), p->points[i].bits);
            ok = false;
        }
    return ok;
}

/* keep-ends: the first and last layers keep `bits` under a budget (common
 * practice: HAQ, HAWQ-V3), unless a request pinned them already. */
static void pin_ends(QuantPlan *p)
{
    for (int k = 0; k < 2 && p->nlayers > 0; k++) {
        QuantLayer *l = &p->layers[k == 0 ? 0 : p->nlayers - 1];
        if (!l->pinned)
            l->bits = p->weight_bits, l->pinned = true;
    }
}

/* Parameter bytes that are not layer weights: they stay f32 (or their
 * dtype) and count in the size budget. */
static int64_t other_param_bytes(const IrGraph *g, const QuantPlan *p)
{
    int64_t bytes = 0;
    for (int i = 0; i < g->nparams; i++) {
        const IrValue *v = g->params[i];
        bool weight = false;
        for (int l = 0; l < p->nlayers && !weight; l++)
            for (int w = 0; w < p->layers[l].nweights; w++)
                weight |= p->layers[l].weights[w] == v;
        if (!weight)
            bytes += (int64_t)dtype_nbytes(v->dtype, (uint64_t)shape_numel(&v->shape));
    }
    return bytes;
}

static IrQuant *new_quant(const QuantPlan *p, int bits, bool is_signed, int axis, IrValue *scale,
                          IrValue *zero_point)
{
    IrQuant *q = arena_alloc(p->g->arena, sizeof *q);
    *q = (IrQuant){.bits = bits, .is_signed = is_signed, .axis = axis, .pow2 = p->pow2,
                   .scale = scale, .zero_point = zero_point};
    return q;
}

double quant_fake_weight(float *data, const Shape *shape, int bits, bool per_channel, bool pow2,
                         float *scales)
{
    int64_t numel = shape_numel(shape);
    int64_t channels = per_channel && shape->rank > 0 ? shape->d[0] : 1;
    int64_t inner = channels ? numel / channels : 0;
    int32_t lo, hi;
    ir_quant_range(bits, true, &lo, &hi);
    lo = -hi; /* the narrow grid: min-max never reaches -2^(b-1), a pow2 scale clamps there */
    double err = 0;
    for (int64_t c = 0; c < channels; c++) {
        IrQuantParams qp;
        if (pow2) {
            IrMoments m = {0};
            ir_moments_add(&m, data + c * inner, inner);
            qp = ir_quant_pow2(ir_moments_stddev(&m), true);
        } else {
            float mn = INFINITY, mx = -INFINITY;
            for (int64_t i = 0; i < inner; i++)
                mn = fminf(mn, data[c * inner + i]), mx = fmaxf(mx, data[c * inner + i]);
            qp = ir_quant_symmetric(inner ? mn : 0, inner ? mx : 0, bits, true);
        }
        err += ir_fake_quant(data + c * inner, inner, qp, lo, hi);
        if (scales)
            scales[c] = qp.scale;
    }
    return err;
}

/* Fake-quantizes w in place and attaches its scales as a new parameter
 * `<key>.scale`. */
static void quantize_weight(QuantPlan *p, IrValue *w, int bits, Loc loc)
{
    IrGraph *g = p->g;
    Shape ss = {1, {p->per_channel && w->shape.rank > 0 ? w->shape.d[0] : 1}};
    IrValue *scale = ir_add_param(g, pass_fresh_key(g, arena_printf(g->arena, "%s.scale", w->name)),
                                  DT_F32, ss, loc);
    Tensor *st = tensor_new(DT_F32, &ss);
    quant_fake_weight(w->data->data, &w->shape, bits, p->per_channel, p->pow2, st->data);
    ir_bind(scale, st);
    w->quant = new_quant(p, bits, true, p->per_channel ? 0 : -1, scale, NULL);
}

/* The key base of a point's parameters: the node it follows, or the first
 * layer reading it. */
static const char *point_key(const QuantPlan *p, const QuantPoint *q)
{
    IrGraph *g = p->g;
    if (q->all_uses && q->value->kind == VK_NODE && q->value->def->name)
        return arena_printf(g->arena, "%s.act", q->value->def->name);
    if (q->nreaders > 0 && q->readers[0]->name)
        return arena_printf(g->arena, "%s.input", q->readers[0]->name);
    if (q->value->kind == VK_INPUT)
        return arena_printf(g->arena, "%s.input", q->value->name);
    return arena_printf(g->arena, "act%d", q->value->id);
}

/* value -> dequantize(quantize(value)) for its readers. */
static bool insert_point(QuantPlan *p, QuantPoint *q)
{
    IrGraph *g = p->g;
    char err[512];
    const char *base = point_key(p, q);
    Shape one = {1, {1}};
    Loc loc = q->value->loc;
    q->scale = ir_add_param(g, pass_fresh_key(g, arena_printf(g->arena, "%s_scale", base)), DT_F32,
                            one, loc);
    q->zero_point = ir_add_param(
        g, pass_fresh_key(g, arena_printf(g->arena, "%s_zero_point", base)), DT_I32, one, loc);
    Tensor *st = tensor_new(DT_F32, &one), *zt = tensor_new(DT_I32, &one);
    *(float *)st->data = q->params.scale;
    *(int32_t *)zt->data = q->params.zero_point;
    ir_bind(q->scale, st);
    ir_bind(q->zero_point, zt);

    int pos = q->value->kind == VK_NODE ? ir_node_pos(g, q->value->def) + 1 : 0;
    IrAttr attr[] = {{.key = "bits", .kind = AK_INT, .i = q->bits},
                     {.key = "signed", .kind = AK_BOOL, .i = 0}};
    IrNode *qn = ir_insert_node(g, pos, OP_QUANTIZE, NULL, 1, &q->value, 2, attr, loc, err,
                                sizeof err);
    if (!qn) {
        diag_error(p->d, loc, "quantize: %s", err);
        return false;
    }
    qn->out->quant = new_quant(p, q->bits, false, -1, q->scale, q->zero_point);
    IrNode *dq = ir_insert_node(g, pos + 1, OP_DEQUANTIZE, NULL, 1, &qn->out, 0, NULL, loc, err,
                                sizeof err);
    if (!dq) {
        diag_error(p->d, loc, "quantize: %s", err);
        return false;
    }
    if (q->all_uses) {
        ir_replace_uses_except(g, q->value, dq->out, qn);
        return true;
    }
    for (int r = 0; r < q->nreaders; r++)
        for (int k = 0; k < op_data_inputs(q->readers[r]); k++)
            if (q->readers[r]->in[k] == q->value)
                ir_set_input(g, q->readers[r], k, dq->out);
    return true;
}

static void plan_free(QuantPlan *p)
{
    quant_calib_free(p);
    for (int i = 0; i < p->npoints; i++)
        free(p->points[i].samples);
    free(p->points);
    free(p->layers);
}

bool pass_quantize(IrGraph *g, const PassArgs *args, Diag *d)
{
    QuantPlan p = {.g = g, .env = pass_env(args), .d = d,
                   .weight_bits = (int)pass_opt_int(args, "bits"),
                   .act_bits = (int)pass_opt_int(args, "act-bits"),
                   .per_channel = pass_opt_int(args, "per-channel") != 0,
                   .percentile_bp = (int)pass_opt_int(args, "percentile"),
                   .sensitivity = (int)pass_opt_int(args, "sensitivity"),
                   .pow2 = pass_opt_int(args, "pow2") != 0};
    bool ok = find_layers(&p) && find_points(&p) && (!p.pow2 || check_pow2(&p));
    if (ok && p.env->budget_kind != QUANT_BUDGET_NONE && pass_opt_int(args, "keep-ends"))
        pin_ends(&p);
    p.float_param_bytes = other_param_bytes(g, &p);
    if (ok && (p.npoints > 0 || (p.env->budget_kind != QUANT_BUDGET_NONE && p.sensitivity == 0)))
        ok = quant_calibrate(&p);
    if (ok && p.env->budget_kind != QUANT_BUDGET_NONE)
        ok = quant_allocate(&p);
    for (int i = 0; ok && i < p.nlayers; i++)
        for (int w = 0; w < p.layers[i].nweights; w++)
            quantize_weight(&p, p.layers[i].weights[w], p.layers[i].bits, p.layers[i].node->loc);
    for (int i = 0; ok && i < p.npoints; i++)
        ok = insert_point(&p, &p.points[i]);
    if (ok)
        ok = quant_report(&p);
    plan_free(&p);
    return ok;
}
