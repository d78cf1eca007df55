/*
 * integerize.c — turns fake-quantized layers into integer layers
 * (`integerize`; run after `quantize`).
 *
 * The quantize pass leaves every quantized layer in float: its input is
 * dequantize(q) of a u8 tensor q, its weight f32 values on an int8 grid.
 * Here such a conv2d or linear becomes qconv2d / qlinear (ops.def), which
 * reads q itself and computes in integers (the semantics in
 * runtime/native/nk.h, implemented by runtime/ref_qlayers.c and by the
 * native int8 kernels):
 *
 *   weight  i8, the grid integers of the f32 weight (same key; checked to
 *           dequantize back to exactly the f32 values)
 *   bias    i32 `<bias>.int32` = rint(b[o] / (sx · sw[o])), computed in double
 *   mult    f32 `<layer>.mult` = sx · sw[o] / sy (u8 result) or sx · sw[o]
 *           (f32 result), in double, rounded once
 *
 * The result: when the layer's value reaches a quantize through at most a
 * relu or relu6, each the sole reader of what it reads, the layer writes
 * that quantize's u8 result directly (bits = its bits; the act becomes the
 * clamp) — the requantization the issue calls fused. Otherwise it writes
 * f32, absorbing a relu or relu6 that alone reads it; a residual add stays
 * a float op.
 *
 * What stays float, with a note saying why: a layer whose input is not a
 * dequantized per-tensor unsigned value of at most 8 bits (act-bits=0, the
 * first layer of a net quantized weights-only), whose weight is not
 * symmetric signed int8 per tensor or per output channel, whose weight or
 * bias another node also reads, or whose accumulator could leave int32
 * (K · 255 · 127 + |bias| > 2^31 − 1, the kernels' contract). Attention
 * (mha) is not integerized. Dequantize nodes nothing reads any more are
 * removed, and parameters with them.
 *
 * In the fixed-point mode (quantize(pow2=1)), every u8 result is
 * requantized by a rounding shift (requant = shift, see shift_requant).
 *
 * The integer model is a model of its own: rounding the bias and the
 * single requantization multiply differ from the fake-quantized float
 * graph by about one quantization step on a few elements; tests/int8_test.sh
 * measures how far the logits move.
 */
#include "pass_internal.h"

#include "../ir/quantizer.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One layer to rewrite and what it becomes. */
typedef struct IntLayer {
    IrNode *layer;       /* conv2d or linear */
    IrNode *dequant;     /* its input's definition */
    IrNode *act;         /* relu / relu6 absorbed, or NULL */
    IrNode *requant;     /* quantize absorbed (u8 result), or NULL */
} IntLayer;

static const char *layer_name(const IrNode *n) { return n->name ? n->name : op_info(n->op)->name; }

static float scalar(const IrValue *p) { return ((const float *)p->data->data)[0]; }

/* The node that alone reads v and is of kind op (or relu6 too when op is
 * relu), else NULL. */
static IrNode *sole_reader(const IrGraph *g, const IrValue *v, OpKind op)
{
    IrNode *u = ir_sole_user(g, v);
    return u && (u->op == op || (op == OP_RELU && u->op == OP_RELU6)) ? u : NULL;
}

/* A per-tensor unsigned quant of at most 8 bits with bound data. */
static bool activation_quant_ok(const IrQuant *q)
{
    return q && !q->is_signed && q->axis < 0 && q->bits <= 8 && q->scale && q->scale->data &&
           q->scale->data->dtype == DT_F32 && (!q->zero_point || q->zero_point->data);
}

/* Whether conv2d/linear n becomes an integer layer: NULL when n is not
 * quantized at all (nothing to say), "" when it qualifies (L filled in),
 * else why it stays float (a static string). */
static const char *qualifies(const IrGraph *g, const IrNode *n, IntLayer *L)
{
    const IrValue *x = n->in[0], *w = n->in[1], *b = n->nin > 2 ? n->in[2] : NULL;
    if (x->kind != VK_NODE || x->def->op != OP_DEQUANTIZE)
        return NULL; /* not quantized at all: nothing to say */
    const IrValue *q = x->def->in[0];
    if (q->dtype != DT_U8 || !activation_quant_ok(q->quant))
        return "its input is not a per-tensor unsigned quantization of at most 8 bits";
    const IrQuant *wq = w->quant;
    if (!wq || !wq->is_signed || wq->zero_point || wq->bits > 8 || (wq->axis != -1 && wq->axis != 0))
        return "its weight is not symmetric signed quantized to at most 8 bits per tensor or output channel";
    if (w->nuses != 1 || (b && b->nuses != 1))
        return "another node also reads its weight or bias";
    if (!pass_f32_data(w) || (b && !pass_f32_data(b)) || !wq->scale->data)
        return "its weight or bias is not bound to f32 data";
    *L = (IntLayer){.layer = (IrNode *)n, .dequant = x->def};
    const IrValue *v = n->out;
    L->act = sole_reader(g, v, OP_RELU);
    if (L->act)
        v = L->act->out;
    IrNode *qn = sole_reader(g, v, OP_QUANTIZE);
    if (qn && qn->out->dtype == DT_U8 && activation_quant_ok(qn->out->quant))
        L->requant = qn;
    return "";
}

/* Per-output-channel weight scale sw[o] of layer n. */
static float weight_scale(const IrNode *n, int64_t o)
{
    const IrQuant *wq = n->in[1]->quant;
    const float *s = wq->scale->data->data;
    return s[wq->axis < 0 ? 0 : o];
}

/* The i8 weights, i32 bias and f32 mult of L, or a reason (static string)
 * why the layer stays float. Nothing in the graph changes here. */
static const char *integer_params(const IntLayer *L, int8_t *wq, int32_t *bias, float *mult)
{
    const IrNode *n = L->layer;
    const IrValue *w = n->in[1], *b = n->nin > 2 ? n->in[2] : NULL;
    const IrQuant *xq = L->dequant->in[0]->quant;
    double sx = scalar(xq->scale);
    double sy = L->requant ? scalar(L->requant->out->quant->scale) : 1.0;
    int64_t oc = w->shape.d[0], per = shape_numel(&w->shape) / oc;
    const float *wf = pass_f32_data(w), *bf = b ? pass_f32_data(b) : NULL;
    for (int64_t o = 0; o < oc; o++) {
        float s = weight_scale(n, o);
        for (int64_t i = 0; i < per; i++) {
            float x = wf[o * per + i];
            int32_t q = ir_quantize_elem(x, 1.0f / s, 0, -127, 127);
            if (ir_dequantize_elem(q, s, 0) != x)
                return "a weight is not on its int8 grid in [-127, 127]";
            wq[o * per + i] = (int8_t)q;
        }
        double acc_scale = sx * s;
        double bq = bf ? rint(bf[o] / acc_scale) : 0.0;
        if (!(fabs(bq) + (double)per * 255 * 127 <= INT32_MAX))
            return "an accumulator could exceed int32 (K·255·127 + |bias| > 2^31 − 1)";
        bias[o] = (int32_t)bq;
        mult[o] = (float)(acc_scale / sy);
        if (!isfinite(mult[o]) || mult[o] == 0)
            return "a requantization factor is zero or not finite";
    }
    return NULL;
}

/* The fixed-point mode (quantize(pow2=1)): a u8 result whose quantizers
 * all have power-of-two scales, so every mult is an exact 2^-k, is
 * requantized by a rounding shift in integers (requant = shift) — no float
 * between the integer layers' accumulators and their u8 results. */
static bool shift_requant(const IntLayer *L, const float *mult, int64_t oc)
{
    const IrQuant *x = L->dequant->in[0]->quant, *w = L->layer->in[1]->quant;
    if (!L->requant || !x->pow2 || !w->pow2 || !L->requant->out->quant->pow2)
        return false;
    for (int64_t o = 0; o < oc; o++) {
        int e;
        if (frexpf(mult[o], &e) != 0.5f || e > 1 || e < -30) /* 2^-k, k in [0, 31] */
            return false;
    }
    return true;
}

static IrValue *new_param(IrGraph *g, const char *key, Tensor *t, Loc loc)
{
    IrValue *p = ir_add_param(g, pass_fresh_key(g, key), t->dtype, t->shape, loc);
    ir_bind(p, t);
    return p;
}

static IrQuant *copy_quant(IrGraph *g, const IrQuant *q)
{
    IrQuant *c = arena_alloc(g->arena, sizeof *c);
    *c = *q;
    return c;
}

/* Replaces L's chain by one integer layer. */
static bool rewrite(IrGraph *g, const IntLayer *L, Diag *d)
{
    IrNode *n = L->layer;
    IrValue *w = n->in[1], *b = n->nin > 2 ? n->in[2] : NULL;
    int64_t oc = w->shape.d[0];
    Shape os = {1, {oc}};
    Tensor *wt = tensor_new(DT_I8, &w->shape), *bt = tensor_new(DT_I32, &os), *mt = tensor_new(DT_F32, &os);
    const char *why = integer_params(L, wt->data, bt->data, mt->data);
    if (why) {
        diag_note(d, n->loc, "integerize: '%s' stays float: %s", layer_name(n), why);
        tensor_free(wt), tensor_free(bt), tensor_free(mt);
        return true;
    }
    w->dtype = DT_I8;
    ir_bind(w, wt);
    const char *base = n->name ? n->name : arena_printf(g->arena, "%s.%d", op_info(n->op)->name, n->id);
    IrValue *in[4] = {L->dequant->in[0], w}, *bias = NULL;
    int nin = 2;
    if (b) {
        bias = new_param(g, arena_printf(g->arena, "%s.int32", b->name), bt, b->loc);
        in[nin++] = bias;
    } else {
        tensor_free(bt);
    }
    in[nin++] = new_param(g, arena_printf(g->arena, "%s.mult", base), mt, n->loc);

    IrAttr *attr = arena_alloc(g->arena, (size_t)(n->nattr + 3) * sizeof *attr);
    memcpy(attr, n->attr, (size_t)n->nattr * sizeof *attr);
    const char *act = !L->act ? "none" : L->act->op == OP_RELU ? "relu" : "relu6";
    int64_t bits = L->requant ? L->requant->out->quant->bits : 0;
    attr[n->nattr] = (IrAttr){.key = "bits", .kind = AK_INT, .i = bits};
    attr[n->nattr + 1] = (IrAttr){.key = "act", .kind = AK_STRING, .s = act};
    attr[n->nattr + 2] = (IrAttr){.key = "requant", .kind = AK_STRING,
                                  .s = shift_requant(L, mt->data, oc) ? "shift" : "float"};
    char err[512];
    OpKind op = n->op == OP_CONV2D ? OP_QCONV2D : OP_QLINEAR;
    IrNode *qn = ir_insert_node(g, ir_node_pos(g, n), op, n->name, nin, in, n->nattr + 3, attr, n->loc, err,
                                sizeof err);
    if (!qn) {
        diag_error(d, n->loc, "integerize: internal error rewriting '%s': %s", layer_name(n), err);
        return false;
    }
    pass_carry_node_meta(g, n, qn);
    IrNode *last = L->requant ? L->requant : L->act ? L->act : n;
    if (L->requant)
        qn->out->quant = copy_quant(g, L->requant->out->quant);
    ir_replace_uses(g, last->out, qn->out);
    IrNode *chain[3] = {L->requant, L->act, n};
    for (int i = 0; i < 3; i++)
        if (chain[i])
            ir_remove_node(g, chain[i]);
    if (b)
        ir_remove_param(g, b);
    if (L->dequant->out->nuses == 0)
        ir_remove_node(g, L->dequant);
    return true;
}

bool pass_integerize(IrGraph *g, const PassArgs *args, Diag *d)
{
    (void)args;
    IntLayer *layers = xmalloc((size_t)(g->nnodes ? g->nnodes : 1) * sizeof *layers);
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *x = g->nodes[i];
        if (x->op != OP_CONV2D && x->op != OP_LINEAR)
            continue;
        const char *why = qualifies(g, x, &layers[n]);
        if (why && *why)
            diag_note(d, x->loc, "integerize: '%s' stays float: %s", layer_name(x), why);
        else if (why)
            n++;
    }
    bool ok = true;
    for (int i = 0; i < n && ok; i++)
        ok = rewrite(g, &layers[i], d);
    free(layers);
    return ok;
}
