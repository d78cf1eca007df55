/*
 * lower.c — IrGraph -> Plan: one native-kernel call per operation, after
 * choosing layouts and fusing.
 *
 * Layouts. Spatial ops (conv2d, pools, 4-D batchnorm) read and write NHWC,
 * which lets the conv kernel vectorize over output channels and pack a
 * 1×1 conv's input rows without a copy; so does layernorm over a 4-D
 * value's channels, which are NHWC's contiguous rows. Every other op sees
 * the logical (IR, row-major "NCHW") order. Values remember the layout they
 * are stored in; ops that index by strides (binary ops, transpose, permute,
 * slice, select, expand, concat) read either layout in place, and a
 * conversion (nk_copy) is emitted, once per value, only for ops that need
 * contiguous logical order (flatten/reshape views, linear, matmul, softmax,
 * last-dim layernorm, attention, graph outputs). A 4-D value with H·W = 1
 * or C = 1 is the same bytes in both layouts.
 *
 * Fusion. A conv2d whose result has a single use absorbs the chain
 *   add(residual)? -> relu|relu6?
 * (the add and activation done by the kernel's epilogue); a linear absorbs
 * add(residual)? then relu|relu6|gelu?. The fused call is emitted where the
 * chain ends, when the residual operand is ready. Graph cleanups are the
 * passes' job (passes/): fold-bn folds batchnorm into the conv before it
 * and remove-identity drops dropout, so a batchnorm still here (-O0)
 * becomes a per-channel scale/shift and a dropout an alias of its input,
 * which fusion does not step over.
 *
 * Weights are packed at compile time into the blob (nk_*_pack, run natively
 * from netc_native) in the layout of the target ISA's kernels (its
 * NkTiling), each region 64-byte aligned.
 */
#include "plan.h"

#include "../../ir/geometry.h"
#include "../../runtime/native/nk.h"
#include "../../runtime/native/nk_sparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { LAY_LOGICAL, LAY_NHWC } Layout;

typedef struct LVal {
    bool done;
    PlanArg at;     /* where the value is stored */
    Layout layout;
    bool has_logical; /* a logical-order copy exists (NHWC values) */
    PlanArg logical;
} LVal;

typedef struct Chain Chain;

typedef struct Lower {
    const IrGraph *g;
    Plan *p;
    Diag *d;
    LVal *vals;            /* by value id */
    Chain **chain;         /* by node position: the fused chain ending here */
    const IrNode **chain_head; /* by node position: that chain's first node */
    bool *absorbed;        /* by node position: part of a chain emitted elsewhere */
    int *pos;              /* by node id: position in g->nodes */
    const NkTiling *tiling; /* the target kernels' blocking (packing, scratch) */
    bool ok;
} Lower;

/* ---- plan building ---- */

static int add_buf(Plan *p, PlanBufKind kind, int64_t bytes)
{
    if (p->nbufs == p->cap_bufs) {
        p->cap_bufs = p->cap_bufs ? 2 * p->cap_bufs : 64;
        p->bufs = xrealloc(p->bufs, (size_t)p->cap_bufs * sizeof *p->bufs);
    }
    p->bufs[p->nbufs] = (PlanBuf){.kind = kind, .bytes = bytes, .first = -1, .last = -1};
    return p->nbufs++;
}

/* Appends a call; args are pointer arguments after the descriptor. */
static void add_step(Lower *L, const char *kernel, const void *desc, size_t desc_bytes,
                     const IrNode *node, int nargs, const PlanArg *args)
{
    Plan *p = L->p;
    if (p->nsteps == p->cap_steps) {
        p->cap_steps = p->cap_steps ? 2 * p->cap_steps : 64;
        p->steps = xrealloc(p->steps, (size_t)p->cap_steps * sizeof *p->steps);
    }
    PlanStep *s = &p->steps[p->nsteps];
    *s = (PlanStep){.kernel = kernel, .desc_bytes = desc_bytes, .nargs = nargs, .node = node};
    s->desc = xmalloc(desc_bytes);
    memcpy(s->desc, desc, desc_bytes);
    for (int i = 0; i < nargs; i++) {
        s->args[i] = args[i];
        if (args[i].buf >= 0 && p->bufs[args[i].buf].kind == PB_WEIGHT)
            s->weight_bytes += p->bufs[args[i].buf].bytes;
        if (args[i].buf < 0 || p->bufs[args[i].buf].kind != PB_ACT)
            continue;
        PlanBuf *b = &p->bufs[args[i].buf];
        if (b->first < 0)
            b->first = p->nsteps;
        b->last = p->nsteps;
    }
    p->nsteps++;
}

#define STEP(L, kernel, desc, node, ...)                                                       \
    add_step(L, kernel, &(desc), sizeof(desc), node,                                           \
             (int)(sizeof((PlanArg[]){__VA_ARGS__}) / sizeof(PlanArg)), (PlanArg[]){__VA_ARGS__})

static const PlanArg NO_ARG = {.buf = -1};

/* Records the work of the step just added: 2 × the MACs of the op (the
 * chain's head) it implements. */
static void count_flops(Lower *L, const IrNode *head)
{
    int64_t (*macs)(const IrNode *) = op_info(head->op)->macs;
    L->p->steps[L->p->nsteps - 1].flops = macs ? 2 * macs(head) : 0;
}

/* Copies n floats into the weight blob (64-byte aligned); returns its arg. */
static PlanArg blob_reserve(Lower *L, int64_t nfloats)
{
    Plan *p = L->p;
    int64_t off = (p->weight_bytes + 63) & ~(int64_t)63, bytes = nfloats * 4;
    /* Pages, not malloc: growing moves mappings instead of copying the
     * blob, and the JIT runs from it in place (page-aligned). */
    if (!pagebuf_reserve(&p->weight_mem, (size_t)(off + bytes))) {
        fprintf(stderr, "netc: out of memory for %lld bytes of packed weights\n", (long long)(off + bytes));
        abort();
    }
    p->weights = p->weight_mem.data;
    p->weight_bytes = off + bytes;
    int b = add_buf(p, PB_WEIGHT, bytes);
    p->bufs[b].offset = off;
    return (PlanArg){.buf = b};
}

static float *blob_ptr(Lower *L, PlanArg a) { return (float *)(L->p->weights + L->p->bufs[a.buf].offset); }

static void need_scratch(Lower *L, int64_t floats)
{
    if (floats * 4 > L->p->scratch_bytes)
        L->p->scratch_bytes = floats * 4;
}

static PlanArg scratch(Lower *L) { return (PlanArg){.buf = L->p->scratch_buf}; }

/* ---- values ---- */

static int64_t numel(const IrValue *v) { return shape_numel(&v->shape); }

static bool trivially_logical(const IrValue *v)
{
    const Shape *s = &v->shape;
    return s->rank != 4 || s->d[2] * s->d[3] == 1 || s->d[1] == 1;
}

/* v's lowered form. A parameter read as data (a ViT's class token and
 * position embedding) is copied into the weight blob on first use. */
static LVal *val(Lower *L, const IrValue *v)
{
    LVal *lv = &L->vals[v->id];
    if (!lv->done && v->kind == VK_PARAM && v->data && v->data->dtype == DT_F32) {
        PlanArg at = blob_reserve(L, numel(v));
        memcpy(blob_ptr(L, at), v->data->data, (size_t)numel(v) * 4);
        lv = &L->vals[v->id];
        *lv = (LVal){.done = true, .at = at, .layout = LAY_LOGICAL};
    }
    return lv;
}

/* Bytes of one element: u8 values (the int8 kernels' activations) take
 * one, every other value is stored as f32. */
static int64_t elem_bytes(const IrValue *v) { return v->dtype == DT_U8 ? 1 : 4; }

/* A new activation buffer for v stored in layout. */
static PlanArg define(Lower *L, const IrValue *v, Layout layout)
{
    int b = add_buf(L->p, PB_ACT, (numel(v) * elem_bytes(v) + 63) & ~(int64_t)63);
    LVal *lv = &L->vals[v->id];
    *lv = (LVal){.done = true, .at = {.buf = b}, .layout = trivially_logical(v) ? LAY_LOGICAL : layout};
    return lv->at;
}

static void alias(Lower *L, const IrValue *v, const IrValue *of)
{
    L->vals[v->id] = *val(L, of);
}

/* Element strides of v's logical dims as it is stored. */
static void logical_strides(Lower *L, const IrValue *v, int64_t *st)
{
    const Shape *s = &v->shape;
    geom_contiguous_strides(s, st);
    if (val(L, v)->layout == LAY_NHWC) {
        int64_t c = s->d[1], h = s->d[2], w = s->d[3];
        st[0] = h * w * c, st[1] = 1, st[2] = w * c, st[3] = c;
    }
}

static void u8_layout_unsupported(Lower *L, const IrNode *user);

/* v in logical order, contiguous: converts an NHWC value once. */
static PlanArg as_logical(Lower *L, const IrValue *v, const IrNode *user)
{
    LVal *lv = val(L, v);
    if (lv->layout == LAY_LOGICAL)
        return lv->at;
    if (lv->has_logical)
        return lv->logical;
    if (v->dtype != DT_F32)
        return (void)u8_layout_unsupported(L, user), lv->at;
    NkCopy c = {.rank = 4};
    for (int i = 0; i < 4; i++)
        c.dims[i] = v->shape.d[i];
    logical_strides(L, v, c.strides);
    geom_contiguous_strides(&v->shape, c.out_strides);
    int b = add_buf(L->p, PB_ACT, (numel(v) * 4 + 63) & ~(int64_t)63);
    PlanArg out = {.buf = b};
    STEP(L, "nk_copy", c, user, lv->at, out);
    lv = &L->vals[v->id];
    lv->has_logical = true;
    lv->logical = out;
    return out;
}

/* v in NHWC (4-D): converts a logical value (a graph input) with a copy. */
static PlanArg as_nhwc(Lower *L, const IrValue *v, const IrNode *user)
{
    LVal *lv = val(L, v);
    if (lv->layout == LAY_NHWC || trivially_logical(v))
        return lv->at;
    if (v->dtype != DT_F32)
        return (void)u8_layout_unsupported(L, user), lv->at;
    const Shape *s = &v->shape;
    int64_t n = s->d[0], c = s->d[1], h = s->d[2], w = s->d[3];
    NkCopy k = {.rank = 4, .dims = {n, h, w, c}, .strides = {c * h * w, w, 1, h * w}};
    geom_contiguous_strides(&(Shape){4, {n, h, w, c}}, k.out_strides);
    int b = add_buf(L->p, PB_ACT, (numel(v) * 4 + 63) & ~(int64_t)63);
    PlanArg out = {.buf = b};
    STEP(L, "nk_copy", k, user, lv->at, out);
    /* Remember the NHWC copy as the value's home; the logical original
     * stays reachable for logical readers. */
    lv = &L->vals[v->id];
    PlanArg orig = lv->at;
    lv->at = out;
    lv->layout = LAY_NHWC;
    lv->has_logical = true;
    lv->logical = orig;
    return out;
}

/* ---- errors ---- */

static bool unsupported(Lower *L, const IrNode *n, const char *what)
{
    diag_error(L->d, n->loc, "layer '%s' (%s): %s is not supported by the llvm backend",
               n->name ? n->name : "?", op_info(n->op)->name, what);
    L->ok = false;
    return false;
}

/* Layout copies move floats; a u8 value is written in the layout its
 * readers need (lower_quantize), so needing a copy of one is a graph this
 * backend does not handle (a u8 value read both as NHWC and in order). */
static void u8_layout_unsupported(Lower *L, const IrNode *user)
{
    if (user)
        unsupported(L, user, "a u8 tensor in a layout its producer did not write");
    else
        L->ok = false;
}

/* Bound f32 data of parameter input k of n. */
static const float *param(Lower *L, const IrNode *n, int k)
{
    const IrValue *v = n->in[k];
    if (!v->data || v->data->dtype != DT_F32) {
        diag_error(L->d, n->loc, "layer '%s': parameter '%s' has no f32 weights bound", n->name ? n->name : "?",
                   v->name ? v->name : "?");
        L->ok = false;
        return NULL;
    }
    return v->data->data;
}

/* ---- fusion chains ---- */

/* The node that alone reads v (which is not a graph output), or NULL. */
static const IrNode *sole_user(const Lower *L, const IrValue *v)
{
    return ir_sole_user(L->g, v);
}

struct Chain {
    const IrValue *residual;
    int64_t act;
    const IrNode *last;     /* where the fused call goes */
};

static bool claimed(const Lower *L, const IrNode *n)
{
    return L->absorbed[L->pos[n->id]] || L->chain[L->pos[n->id]];
}

/* The next fusable node: the one reading v alone, unless already claimed. */
static const IrNode *follow(const Lower *L, const IrValue *v)
{
    const IrNode *x = sole_user(L, v);
    return x && !claimed(L, x) ? x : NULL;
}

/* Whether n is an activation head's epilogue applies: relu and relu6
 * always; gelu after linear, silu after conv2d and linear. */
static bool is_act(const IrNode *n, const IrNode *head)
{
    bool dense = head->op == OP_CONV2D || head->op == OP_LINEAR;
    return n && (n->op == OP_RELU || n->op == OP_RELU6 || (head->op == OP_LINEAR && n->op == OP_GELU) ||
                 (dense && n->op == OP_SILU));
}

static int64_t act_code(const IrNode *n)
{
    return n->op == OP_RELU ? NK_ACT_RELU : n->op == OP_RELU6 ? NK_ACT_RELU6 : n->op == OP_SILU ? NK_ACT_SILU
                                                                                        : NK_ACT_GELU;
}

/* What head absorbs. conv2d and linear: add? then relu|relu6|silu (linear
 * also gelu); batchnorm and binary ops: relu|relu6?. */
static Chain find_chain(const Lower *L, const IrNode *head)
{
    Chain c = {.last = head};
    const IrValue *v = head->out;
    const IrNode *next = follow(L, v);
    bool dense = head->op == OP_CONV2D || head->op == OP_LINEAR;
    if (dense && next && next->op == OP_ADD && shape_equal(&next->in[0]->shape, &next->in[1]->shape) &&
        next->in[0] != next->in[1]) {
        c.residual = next->in[0] == v ? next->in[1] : next->in[0];
        c.last = next;
        next = follow(L, next->out);
    }
    if (is_act(next, head)) {
        c.act = act_code(next);
        c.last = next;
    }
    return c;
}

/* Marks the nodes after head up to c->last as absorbed and files the chain
 * under c->last, where it is emitted. */
static void claim_chain(Lower *L, const IrNode *head, const Chain *c)
{
    for (const IrNode *x = head; x != c->last;) {
        x = sole_user(L, x->out);
        L->absorbed[L->pos[x->id]] = x != c->last;
    }
    int at = L->pos[c->last->id];
    L->chain[at] = xmalloc(sizeof *L->chain[at]);
    *L->chain[at] = *c;
    L->chain_head[at] = head;
}

/* ---- per-op lowering ---- */

/*
 * Whether a conv2d or linear layer runs on the sparse kernels: the
 * weights' exact zeros are counted here, so the choice follows the data,
 * whatever pass or tool made the zeros (IR sparsity metadata is not
 * consulted). im2col: a conv that is not 1x1 stride 1 (nk_sparse_wins).
 * NETC_SPARSE overrides the cost model: "off" keeps every layer dense,
 * "on" makes every layer the sparse kernels can run sparse (for tests and
 * benchmarks); unset, "auto" or anything else uses the model.
 */
static bool use_sparse(Lower *L, bool im2col, const NkSpWeight *sw)
{
    const char *mode = getenv("NETC_SPARSE");
    if (mode && !strcmp(mode, "off"))
        return false;
    int64_t weights = sw->o * sw->cg * sw->taps;
    if (mode && !strcmp(mode, "on"))
        return weights > 0;
    return nk_sparse_wins((NkIsa)L->p->isa, im2col, weights, nk_sparse_zeros(sw));
}

static void lower_conv(Lower *L, const IrNode *n, const Chain *c)
{
    /* The shape rule accepted the node, so only a malformed input fails. */
    GeomConv2d g;
    if (!geom_conv2d_from_node(n, &g))
        return (void)unsupported(L, n, "a conv2d input that is not 4-D");
    NkConv d = {.n = g.n, .c = g.c, .h = g.h, .w = g.w, .oc = g.oc, .oh = g.oh, .ow = g.ow,
                .kh = g.kh, .kw = g.kw, .sh = g.sh, .sw = g.sw, .ph = g.ph, .pw = g.pw,
                .dh = g.dh, .dw = g.dw, .groups = g.groups, .act = c->act};
    const float *w = param(L, n, 1), *b = n->nin > 2 ? param(L, n, 2) : NULL;
    if (!w || (n->nin > 2 && !b))
        return;
    NkSpWeight sw = nk_spconv2d_weight(&d, w);
    bool sparse = nk_spconv2d_supported(&d) && use_sparse(L, nk_spconv2d_im2col(&d), &sw);
    PlanArg packed = blob_reserve(L, sparse ? nk_sparse_packed_floats(&sw) : nk_conv2d_packed_floats(&d, L->tiling));
    if (sparse)
        nk_sparse_pack(&sw, b, blob_ptr(L, packed));
    else
        nk_conv2d_pack(&d, L->tiling, w, b, blob_ptr(L, packed));
    need_scratch(L, sparse ? nk_spconv2d_scratch(&d, L->tiling, L->p->threads)
                           : nk_conv2d_scratch(&d, L->tiling, L->p->threads));
    PlanArg in = as_nhwc(L, n->in[0], n);
    PlanArg res = c->residual ? as_nhwc(L, c->residual, c->last) : NO_ARG;
    PlanArg out = define(L, c->last->out, LAY_NHWC);
    STEP(L, sparse ? "nk_spconv2d" : "nk_conv2d", d, n, in, packed, res, out, scratch(L));
    count_flops(L, n);
}

/* Packs a linear layer's (or an mha projection's) weights for the dense
 * or, when use_sparse says so, the sparse kernels (*sparse). */
static PlanArg pack_linear(Lower *L, const NkLinear *d, const float *w, const float *b, bool *sparse)
{
    NkSpWeight sw = nk_splinear_weight(d, w);
    *sparse = use_sparse(L, false, &sw);
    PlanArg packed = blob_reserve(L, *sparse ? nk_sparse_packed_floats(&sw) : nk_linear_packed_floats(d, L->tiling));
    if (*sparse)
        nk_sparse_pack(&sw, b, blob_ptr(L, packed));
    else
        nk_linear_pack(d, L->tiling, w, b, blob_ptr(L, packed));
    return packed;
}

static void lower_linear(Lower *L, const IrNode *n, const Chain *c)
{
    const IrValue *wv = n->in[1];
    NkLinear d = {.k = wv->shape.d[1], .n = wv->shape.d[0], .act = c->act};
    d.m = numel(n->in[0]) / d.k;
    const float *w = param(L, n, 1), *b = n->nin > 2 ? param(L, n, 2) : NULL;
    if (!w || (n->nin > 2 && !b))
        return;
    bool sparse;
    PlanArg packed = pack_linear(L, &d, w, b, &sparse);
    need_scratch(L, sparse ? nk_splinear_scratch(&d, L->tiling, L->p->threads)
                           : nk_linear_scratch(&d, L->tiling, L->p->threads));
    PlanArg in = as_logical(L, n->in[0], n);
    PlanArg res = c->residual ? as_logical(L, c->residual, c->last) : NO_ARG;
    PlanArg out = define(L, c->last->out, LAY_LOGICAL);
    STEP(L, sparse ? "nk_splinear" : "nk_linear", d, n, in, packed, res, out, scratch(L));
    count_flops(L, n);
}

/* Standalone batchnorm: per-channel scale and shift, channel axis 1. */
static void lower_batchnorm(Lower *L, const IrNode *n, const Chain *c)
{
    const Shape *s = &n->in[0]->shape;
    if (s->rank < 2)
        return (void)unsupported(L, n, "a batchnorm input with fewer than 2 dimensions");
    int64_t ch = s->d[1];
    const float *g = param(L, n, 1), *beta = param(L, n, 2), *mean = param(L, n, 3), *var = param(L, n, 4);
    if (!g || !beta || !mean || !var)
        return;
    double eps = ir_attr_float(n, "eps");
    PlanArg ss = blob_reserve(L, 2 * ch);
    float *p = blob_ptr(L, ss);
    for (int64_t i = 0; i < ch; i++) {
        double scale = g[i] / sqrt((double)var[i] + eps);
        p[i] = (float)scale;
        p[ch + i] = (float)(beta[i] - mean[i] * scale);
    }
    NkScaleShift d = {.outer = s->d[0], .c = ch, .inner = numel(n->in[0]) / (s->d[0] * ch), .act = c->act};
    PlanArg in;
    Layout lay = LAY_LOGICAL;
    if (s->rank == 4 && !trivially_logical(n->in[0])) {
        in = as_nhwc(L, n->in[0], n);
        d.outer = s->d[0] * s->d[2] * s->d[3], d.inner = 1, lay = LAY_NHWC;
    } else {
        in = as_logical(L, n->in[0], n);
    }
    PlanArg out = define(L, c->last->out, lay);
    STEP(L, "nk_scale_shift", d, n, in, ss, out);
}

static void lower_unary(Lower *L, const IrNode *n)
{
    static const struct { OpKind op; int64_t code; } map[] = {
        {OP_RELU, NK_UNARY_RELU}, {OP_RELU6, NK_UNARY_RELU6}, {OP_GELU, NK_UNARY_GELU},
        {OP_SILU, NK_UNARY_SILU}, {OP_SIGMOID, NK_UNARY_SIGMOID}, {OP_HARDSWISH, NK_UNARY_HARDSWISH},
    };
    NkUnary d = {.n = numel(n->out)};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (map[i].op == n->op)
            d.op = map[i].code;
    LVal src = *val(L, n->in[0]);
    PlanArg out = define(L, n->out, src.layout);
    STEP(L, "nk_unary", d, n, src.at, out);
}

/* Strides of v's logical dims, as stored, broadcast against out (0 where
 * v has size 1 or no dimension). The shape rule checked that v broadcasts. */
static void broadcast_strides(Lower *L, const IrValue *v, const Shape *out, int64_t *st)
{
    int64_t own[SHAPE_MAX_RANK];
    logical_strides(L, v, own);
    geom_broadcast_strides(&v->shape, own, out, st);
}

/* Where a broadcasting binary op stores its result: NHWC when an operand
 * is an NHWC 4-D value (a squeeze-excitation gate [N, C, 1, 1] times a conv
 * result, a layer scale [C, 1, 1] times a block): the walk then follows
 * that operand's bytes, rows of C contiguous, and the spatial op after it
 * reads the result without a conversion. */
static Layout binary_layout(const IrNode *n, const LVal *la, const LVal *lb)
{
    bool nhwc_operand = la->layout == LAY_NHWC || lb->layout == LAY_NHWC;
    return n->out->shape.rank == 4 && !trivially_logical(n->out) && nhwc_operand ? LAY_NHWC : LAY_LOGICAL;
}

/* Reorders d's logical [N, C, H, W] index space as [N, H, W, C], so that
 * nk_binary's contiguous output is the NHWC result. */
static void binary_in_nhwc_order(NkBinary *d)
{
    static const int order[4] = {0, 2, 3, 1};
    int64_t dims[4], as[4], bs[4];
    for (int i = 0; i < 4; i++)
        dims[i] = d->dims[order[i]], as[i] = d->a_strides[order[i]], bs[i] = d->b_strides[order[i]];
    memcpy(d->dims, dims, sizeof dims);
    memcpy(d->a_strides, as, sizeof as);
    memcpy(d->b_strides, bs, sizeof bs);
}

static void lower_binary(Lower *L, const IrNode *n, const IrNode *last, int64_t act)
{
    NkBinary d = {.op = n->op == OP_ADD ? NK_BINARY_ADD : n->op == OP_SUB ? NK_BINARY_SUB : NK_BINARY_MUL,
                  .act = act};
    const IrValue *a = n->in[0], *b = n->in[1];
    LVal la = *val(L, a), lb = *val(L, b);
    if (shape_equal(&a->shape, &b->shape) && la.layout == lb.layout) {
        d.rank = 1, d.dims[0] = numel(n->out), d.a_strides[0] = d.b_strides[0] = 1;
        PlanArg out = define(L, last->out, la.layout);
        STEP(L, "nk_binary", d, n, la.at, lb.at, out);
        return;
    }
    const Shape *so = &n->out->shape;
    d.rank = so->rank ? so->rank : 1;
    d.dims[0] = 1;
    for (int i = 0; i < so->rank; i++)
        d.dims[i] = so->d[i];
    broadcast_strides(L, a, so, d.a_strides);
    broadcast_strides(L, b, so, d.b_strides);
    Layout lay = binary_layout(n, &la, &lb);
    if (lay == LAY_NHWC)
        binary_in_nhwc_order(&d);
    PlanArg out = define(L, last->out, lay);
    STEP(L, "nk_binary", d, n, la.at, lb.at, out);
}

static void lower_matmul(Lower *L, const IrNode *n)
{
    const Shape *sa = &n->in[0]->shape, *sb = &n->in[1]->shape, *so = &n->out->shape;
    if (sa->rank < 2 || sb->rank < 2)
        return (void)unsupported(L, n, "matmul with a 1-D operand");
    int64_t m = sa->d[sa->rank - 2], k = sa->d[sa->rank - 1], nn = sb->d[sb->rank - 1];
    int64_t batch = shape_numel(so) / (m * nn);
    int64_t abatch = numel(n->in[0]) / (m * k), bbatch = numel(n->in[1]) / (k * nn);
    if ((abatch != batch && abatch != 1) || (bbatch != batch && bbatch != 1))
        return (void)unsupported(L, n, "matmul broadcasting both operands' batch dimensions");
    NkMatmul d = {.batch = batch, .m = m, .k = k, .n = nn, .lda = k, .a_bstride = abatch == 1 ? 0 : m * k,
                  .ldb = nn, .b_bstride = bbatch == 1 ? 0 : k * nn};
    need_scratch(L, nk_matmul_scratch(&d, L->tiling, L->p->threads));
    PlanArg a = as_logical(L, n->in[0], n), b = as_logical(L, n->in[1], n);
    PlanArg out = define(L, n->out, LAY_LOGICAL);
    STEP(L, "nk_matmul", d, n, a, b, out, scratch(L));
    count_flops(L, n);
}

static void lower_mha(Lower *L, const IrNode *n)
{
    const Shape *s = &n->in[0]->shape;
    NkMha d = {.b = s->rank == 3 ? s->d[0] : 1, .l = s->d[s->rank - 2], .e = s->d[s->rank - 1],
               .heads = ir_attr_int(n, "num_heads")};
    if (d.heads < 1 || d.e % d.heads)
        return (void)unsupported(L, n, "an embedding size not divisible by num_heads");
    const float *wi = param(L, n, 1), *bi = param(L, n, 2), *wo = param(L, n, 3), *bo = param(L, n, 4);
    if (!wi || !bi || !wo || !bo)
        return;
    NkLinear pin = {.m = d.b * d.l, .k = d.e, .n = 3 * d.e}, pout = {.m = d.b * d.l, .k = d.e, .n = d.e};
    bool sp_in, sp_out;
    PlanArg in_proj = pack_linear(L, &pin, wi, bi, &sp_in);
    PlanArg out_proj = pack_linear(L, &pout, wo, bo, &sp_out);
    PlanArg x = as_logical(L, n->in[0], n);
    PlanArg out = define(L, n->out, LAY_LOGICAL);
    if (sp_in || sp_out) {
        NkSpMha sd = {.mha = d, .sparse_in = sp_in, .sparse_out = sp_out};
        need_scratch(L, nk_spmha_scratch(&sd, L->tiling, L->p->threads));
        STEP(L, "nk_spmha", sd, n, x, in_proj, out_proj, out, scratch(L));
    } else {
        need_scratch(L, nk_mha_scratch(&d, L->tiling, L->p->threads));
        STEP(L, "nk_mha", d, n, x, in_proj, out_proj, out, scratch(L));
    }
    count_flops(L, n);
}

/* A dim attribute wrapped for rank; the shape rule range-checked it. */
static int norm_dim(int64_t dim, int rank)
{
    int d = 0;
    geom_wrap_dim(dim, rank, &d);
    return d;
}

static void lower_softmax(Lower *L, const IrNode *n)
{
    const Shape *s = &n->in[0]->shape;
    int dim = norm_dim(ir_attr_int(n, "dim"), s->rank);
    NkSoftmax d = {.outer = geom_dims_product(s->d, 0, dim), .dim = s->rank ? s->d[dim] : 1,
                   .inner = geom_dims_product(s->d, dim + 1, s->rank)};
    PlanArg in = as_logical(L, n->in[0], n), out = define(L, n->out, LAY_LOGICAL);
    STEP(L, "nk_softmax", d, n, in, out);
}

/* topk's two results (values, indices as floats) in logical order. */
static void lower_topk(Lower *L, const IrNode *n)
{
    const Shape *s = &n->in[0]->shape;
    int dim = norm_dim(ir_attr_int(n, "dim"), s->rank);
    NkTopk d = {.outer = geom_dims_product(s->d, 0, dim), .len = s->d[dim],
                .inner = geom_dims_product(s->d, dim + 1, s->rank), .k = ir_attr_int(n, "k"),
                .largest = ir_attr_int(n, "largest")};
    need_scratch(L, nk_topk_scratch(&d, L->p->threads));
    PlanArg in = as_logical(L, n->in[0], n);
    PlanArg values = define(L, n->outs[0], LAY_LOGICAL), indices = define(L, n->outs[1], LAY_LOGICAL);
    STEP(L, "nk_topk", d, n, in, values, indices, scratch(L));
}

/* True when layernorm n normalizes the channels of a 4-D value (dim 1,
 * torchvision's LayerNorm2d): in NHWC those are the last, contiguous dim,
 * so nk_layernorm runs on the stored rows and no transposing copy is made. */
static bool layernorm_over_nhwc_channels(const IrNode *n)
{
    const Shape *s = &n->in[0]->shape;
    return s->rank == 4 && norm_dim(ir_attr_int(n, "dim"), s->rank) == 1;
}

static void lower_layernorm(Lower *L, const IrNode *n)
{
    const Shape *s = &n->in[0]->shape;
    bool nhwc = layernorm_over_nhwc_channels(n);
    if (!nhwc && geom_dims_product(s->d, norm_dim(ir_attr_int(n, "dim"), s->rank) + 1, s->rank) != 1)
        return (void)unsupported(L, n, "layernorm over a dim other than the last or a 4-D value's channels");
    int64_t cols = numel(n->in[1]);
    NkLayerNorm d = {.rows = cols ? numel(n->in[0]) / cols : 0, .cols = cols,
                     .eps = (float)ir_attr_float(n, "eps")};
    const float *g = param(L, n, 1), *b = param(L, n, 2);
    if (!g || !b)
        return;
    PlanArg gb = blob_reserve(L, 2 * cols);
    memcpy(blob_ptr(L, gb), g, (size_t)cols * 4);
    memcpy(blob_ptr(L, gb) + cols, b, (size_t)cols * 4);
    PlanArg beta = {.buf = gb.buf, .elem = cols};
    PlanArg in = nhwc ? as_nhwc(L, n->in[0], n) : as_logical(L, n->in[0], n);
    PlanArg out = define(L, n->out, nhwc ? LAY_NHWC : LAY_LOGICAL);
    STEP(L, "nk_layernorm", d, n, in, gb, beta, out);
}

static void lower_pool(Lower *L, const IrNode *n)
{
    const Shape *si = &n->in[0]->shape, *so = &n->out->shape;
    if (si->rank != 4)
        return (void)unsupported(L, n, "pooling over an input that is not 4-D");
    NkPool d = {.n = si->d[0], .c = si->d[1], .h = si->d[2], .w = si->d[3], .oh = so->d[2], .ow = so->d[3],
                .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1};
    int64_t k[2], st[2], pad[2], dil[2];
    if (n->op == OP_MAXPOOL || n->op == OP_AVGPOOL) {
        geom_attr_int2(n, "kernel_size", k);
        geom_attr_int2(n, "stride", st);
        geom_attr_int2(n, "padding", pad);
        d.kh = k[0], d.kw = k[1], d.sh = st[0], d.sw = st[1], d.ph = pad[0], d.pw = pad[1];
    }
    if (n->op == OP_MAXPOOL) {
        d.kind = NK_POOL_MAX;
        geom_attr_int2(n, "dilation", dil);
        d.dh = dil[0], d.dw = dil[1];
    } else if (n->op == OP_AVGPOOL) {
        d.kind = ir_attr_int(n, "count_include_pad") ? NK_POOL_AVG : NK_POOL_AVG_EXCLUDE_PAD;
    } else {
        d.kind = NK_POOL_ADAPTIVE_AVG;
    }
    PlanArg in = as_nhwc(L, n->in[0], n), out = define(L, n->out, LAY_NHWC);
    STEP(L, "nk_pool", d, n, in, out);
}

/* transpose, permute, expand, slice, select: one strided copy from the
 * input as stored into a contiguous logical result. */
static void lower_view_copy(Lower *L, const IrNode *n)
{
    const IrValue *x = n->in[0];
    const Shape *si = &x->shape, *so = &n->out->shape;
    int64_t st[SHAPE_MAX_RANK];
    logical_strides(L, x, st);
    NkCopy d = {.rank = so->rank};
    for (int i = 0; i < so->rank; i++)
        d.dims[i] = so->d[i];
    switch (n->op) {
    case OP_TRANSPOSE: {
        int a = norm_dim(ir_attr_int(n, "dim0"), si->rank), b = norm_dim(ir_attr_int(n, "dim1"), si->rank);
        memcpy(d.strides, st, sizeof(int64_t) * (size_t)si->rank);
        d.strides[a] = st[b], d.strides[b] = st[a];
        break;
    }
    case OP_PERMUTE: {
        int cnt;
        const int64_t *dims = ir_attr_ints(n, "dims", &cnt);
        for (int i = 0; i < cnt; i++)
            d.strides[i] = st[norm_dim(dims[i], si->rank)];
        break;
    }
    case OP_EXPAND:
        broadcast_strides(L, x, so, d.strides);
        break;
    case OP_SLICE: {
        int dim = norm_dim(ir_attr_int(n, "dim"), si->rank);
        int64_t size = si->d[dim], start = ir_attr_int(n, "start"), step = ir_attr_int(n, "step");
        if (start < 0)
            start += size;
        start = start < 0 ? 0 : start > size ? size : start;
        memcpy(d.strides, st, sizeof(int64_t) * (size_t)si->rank);
        d.offset = start * st[dim];
        d.strides[dim] = st[dim] * step;
        break;
    }
    case OP_SELECT: {
        int dim = norm_dim(ir_attr_int(n, "dim"), si->rank);
        int64_t index = ir_attr_int(n, "index");
        if (index < 0)
            index += si->d[dim];
        d.offset = index * st[dim];
        for (int i = 0, j = 0; i < si->rank; i++)
            if (i != dim)
                d.strides[j++] = st[i];
        break;
    }
    default:
        break;
    }
    if (d.rank == 0)
        d.rank = 1, d.dims[0] = 1, d.strides[0] = 0;
    Shape os = {.rank = (int)d.rank};
    memcpy(os.d, d.dims, sizeof(int64_t) * (size_t)d.rank);
    geom_contiguous_strides(&os, d.out_strides);
    PlanArg out = define(L, n->out, LAY_LOGICAL);
    STEP(L, "nk_copy", d, n, val(L, x)->at, out);
}

/* The permutes between NCHW and channels-last (ConvNeXt's blocks, and
 * LayerNorm2d written by hand) move no bytes when the value is stored
 * NHWC: permute [0, 2, 3, 1] of an NHWC [N, C, H, W] is the logical
 * [N, H, W, C], and permute [0, 3, 1, 2] of a logical [N, H, W, C] is an
 * NHWC [N, C, H, W]. Those become aliases; other permutes copy. */
static void lower_permute(Lower *L, const IrNode *n)
{
    const IrValue *x = n->in[0];
    int cnt, p[4] = {0};
    const int64_t *dims = ir_attr_ints(n, "dims", &cnt);
    for (int i = 0; i < cnt && cnt == 4; i++)
        p[i] = norm_dim(dims[i], 4);
    LVal src = *val(L, x);
    bool x_nhwc_bytes = src.layout == LAY_NHWC || trivially_logical(x);
    if (cnt == 4 && x_nhwc_bytes && p[0] == 0 && p[1] == 2 && p[2] == 3 && p[3] == 1) {
        L->vals[n->out->id] = (LVal){.done = true, .at = src.at, .layout = LAY_LOGICAL};
        return;
    }
    if (cnt == 4 && src.layout == LAY_LOGICAL && p[0] == 0 && p[1] == 3 && p[2] == 1 && p[3] == 2) {
        Layout lay = trivially_logical(n->out) ? LAY_LOGICAL : LAY_NHWC;
        L->vals[n->out->id] = (LVal){.done = true, .at = src.at, .layout = lay};
        return;
    }
    lower_view_copy(L, n);
}

/* True when some user of v reads it in NHWC (conv2d, pools, batchnorm,
 * layernorm over channels), and would convert a logical v first. */
static bool read_as_nhwc(const IrValue *v)
{
    for (int i = 0; i < v->nuses; i++) {
        const IrNode *u = v->uses[i].user;
        switch (u->op) {
        case OP_CONV2D: case OP_MAXPOOL: case OP_AVGPOOL: case OP_ADAPTIVE_AVGPOOL: case OP_GLOBAL_AVGPOOL:
        case OP_BATCHNORM:
            return true;
        case OP_LAYERNORM:
            if (layernorm_over_nhwc_channels(u))
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

/* Each input is one strided copy into its place in the result. A 4-D
 * result that a spatial op reads is stored NHWC (DenseNet's and
 * SqueezeNet's channel concats feed batchnorm and conv): the copies write
 * it in that layout directly instead of a logical result converted later. */
static void lower_concat(Lower *L, const IrNode *n)
{
    const Shape *so = &n->out->shape;
    int dim = norm_dim(ir_attr_int(n, "dim"), so->rank);
    int64_t ost[SHAPE_MAX_RANK];
    PlanArg out = define(L, n->out, so->rank == 4 && read_as_nhwc(n->out) ? LAY_NHWC : LAY_LOGICAL);
    logical_strides(L, n->out, ost);
    int64_t at = 0;
    for (int k = 0; k < n->nin; k++) {
        const IrValue *x = n->in[k];
        NkCopy d = {.rank = x->shape.rank};
        for (int i = 0; i < x->shape.rank; i++)
            d.dims[i] = x->shape.d[i];
        logical_strides(L, x, d.strides);
        memcpy(d.out_strides, ost, sizeof ost);
        PlanArg dst = {.buf = out.buf, .elem = at * ost[dim]};
        STEP(L, "nk_copy", d, n, val(L, x)->at, dst);
        at += x->shape.d[dim];
    }
}

/* Emits a fused chain: head's op with c's epilogue, at c->last. */
static void lower_chain(Lower *L, const IrNode *head, const Chain *c)
{
    switch (head->op) {
    case OP_CONV2D: return lower_conv(L, head, c);
    case OP_LINEAR: return lower_linear(L, head, c);
    case OP_BATCHNORM: return lower_batchnorm(L, head, c);
    default: return lower_binary(L, head, c->last, c->act);
    }
}

/* conv2d, linear, batchnorm, add, sub, mul: n heads a fusion chain. A
 * chain that reaches past n is filed under its last node and emitted when
 * the loop gets there. */
static void lower_fusable(Lower *L, const IrNode *n)
{
    Chain c = find_chain(L, n);
    if (c.last != n)
        return claim_chain(L, n, &c);
    lower_chain(L, n, &c);
}

/* dropout, the identity in eval mode: the result is the input. */
static void lower_identity(Lower *L, const IrNode *n) { alias(L, n->out, n->in[0]); }

/* flatten, reshape: a view of the input's bytes in logical order. */
static void lower_reshape(Lower *L, const IrNode *n)
{
    PlanArg src = as_logical(L, n->in[0], n);
    L->vals[n->out->id] = (LVal){.done = true, .at = src, .layout = LAY_LOGICAL};
}

/* ---- integer layers (nk.h's int8 semantics; docs/quantization.md) ---- */

/* Bytes as whole floats, for the float-counted blob and scratch. */
static int64_t floats_for(int64_t bytes) { return (bytes + 3) / 4; }

/* The per-tensor scale and zero point of quantized value v. */
static bool quant_scalars(Lower *L, const IrNode *n, const IrValue *v, float *scale, int64_t *zero)
{
    const IrQuant *q = v->quant;
    const Tensor *s = q && q->scale ? q->scale->data : NULL;
    if (!q || q->axis >= 0 || q->is_signed || q->bits > 8 || !s || s->dtype != DT_F32)
        return unsupported(L, n, "a u8 tensor without per-tensor unsigned quant(...) of at most 8 bits");
    *scale = ((const float *)s->data)[0];
    *zero = ir_quant_zero_point(q);
    return true;
}

/* Whether some reader of v is a qconv2d (which reads u8 NHWC). */
static bool read_by_qconv(const IrValue *v)
{
    for (int i = 0; i < v->nuses; i++)
        if (v->uses[i].user->op == OP_QCONV2D)
            return true;
    return false;
}

/* f32 -> u8, in the layout the readers need: NHWC for a qconv2d, logical
 * order otherwise (u8 values are never converted afterwards). */
static void lower_quantize(Lower *L, const IrNode *n)
{
    float scale;
    int64_t z;
    if (!quant_scalars(L, n, n->out, &scale, &z))
        return;
    int32_t lo, hi;
    ir_quant_range(n->out->quant->bits, false, &lo, &hi);
    NkQuantize d = {.n = numel(n->out), .z = z, .lo = lo, .hi = hi, .inv_scale = 1.0f / scale};
    bool nhwc = read_by_qconv(n->out) && !trivially_logical(n->out);
    PlanArg in = nhwc ? as_nhwc(L, n->in[0], n) : as_logical(L, n->in[0], n);
    PlanArg out = define(L, n->out, nhwc ? LAY_NHWC : LAY_LOGICAL);
    STEP(L, "nk_quantize", d, n, in, out);
}

/* u8 -> f32 in the layout the u8 value is stored in. */
static void lower_dequantize(Lower *L, const IrNode *n)
{
    float scale;
    int64_t z;
    if (!quant_scalars(L, n, n->in[0], &scale, &z))
        return;
    NkDequantize d = {.n = numel(n->out), .z = z, .scale = scale};
    LVal src = *val(L, n->in[0]);
    PlanArg out = define(L, n->out, src.layout);
    STEP(L, "nk_dequantize", d, n, src.at, out);
}

/* The NkQOut of integer layer n: u8 with its result's clamp (bits > 0) or
 * f32 with the fused act. */
static bool qout_of(Lower *L, const IrNode *n, NkQOut *q)
{
    float sx;
    if (!quant_scalars(L, n, n->in[0], &sx, &q->zx))
        return false;
    const char *act = ir_attr_str(n, "act");
    if (ir_attr_int(n, "bits") == 0) {
        q->mode = NK_QOUT_F32;
        q->act = !strcmp(act, "relu") ? NK_ACT_RELU : !strcmp(act, "relu6") ? NK_ACT_RELU6 : NK_ACT_NONE;
        return true;
    }
    int32_t zy, lo, hi;
    if (!ir_qlayer_clamp(n, &zy, &lo, &hi))
        return unsupported(L, n, "a u8 result without a bound scale");
    *q = (NkQOut){.zx = q->zx, .mode = NK_QOUT_U8, .zy = zy, .lo = lo, .hi = hi,
                  .shift = !strcmp(ir_attr_str(n, "requant"), "shift")};
    return true;
}

/* Weight (i8), bias (i32, or NULL) and mult (f32) of integer layer n. */
static bool qparams(Lower *L, const IrNode *n, const int8_t **w, const int32_t **b, const float **mult)
{
    const IrValue *wv = n->in[1], *bv = n->nin > 3 ? n->in[2] : NULL, *mv = n->in[n->nin - 1];
    bool ok = wv->data && wv->data->dtype == DT_I8 && (!bv || (bv->data && bv->data->dtype == DT_I32)) &&
              mv->data && mv->data->dtype == DT_F32;
    if (!ok)
        return unsupported(L, n, "integer parameters not bound as i8 weight, i32 bias and f32 mult");
    *w = wv->data->data, *b = bv ? bv->data->data : NULL, *mult = mv->data->data;
    return true;
}

/* An integer layer is stored compactly in a bundle's weights file
 * (weight_file.c) when that is smaller than its packed region: weights
 * below 8 bits, and the int16 panels (and depthwise int32 taps) of the
 * variants without VNNI even at 8 bits. */
static void add_compact(Lower *L, PlanArg packed, NkQLayerFile f, const IrValue *wv, const int8_t *w,
                        const int32_t *b, const float *mult)
{
    f.bits = wv->quant ? wv->quant->bits : 8;
    f.nweights = numel(wv), f.oc = wv->shape.d[0], f.has_bias = b != NULL;
    if (nk_qlayer_file_bytes(&f) >= L->p->bufs[packed.buf].bytes)
        return;
    unsigned char *bytes = xmalloc((size_t)nk_qlayer_file_bytes(&f));
    if (nk_qlayer_file_encode(&f, w, b, mult, bytes) != 0)
        return free(bytes);
    Plan *p = L->p;
    if (p->ncompact == p->cap_compact) {
        p->cap_compact = p->cap_compact ? 2 * p->cap_compact : 16;
        p->compact = xrealloc(p->compact, (size_t)p->cap_compact * sizeof *p->compact);
    }
    p->compact[p->ncompact++] = (PlanCompact){.buf = packed.buf, .layer = f, .bytes = bytes,
                                              .nbytes = nk_qlayer_file_bytes(&f)};
}

static void lower_qconv(Lower *L, const IrNode *n)
{
    GeomConv2d g;
    if (!geom_conv2d_from_node(n, &g))
        return (void)unsupported(L, n, "a qconv2d input that is not 4-D");
    NkQConv d = {.n = g.n, .c = g.c, .h = g.h, .w = g.w, .oc = g.oc, .oh = g.oh, .ow = g.ow,
                 .kh = g.kh, .kw = g.kw, .sh = g.sh, .sw = g.sw, .ph = g.ph, .pw = g.pw,
                 .dh = g.dh, .dw = g.dw, .groups = g.groups};
    const int8_t *w;
    const int32_t *b;
    const float *mult;
    if (!qout_of(L, n, &d.q) || !qparams(L, n, &w, &b, &mult))
        return;
    const char *why = nk_qconv2d_check(&d, b);
    why = why ? why : nk_qmult_check(&d.q, d.oc, mult);
    if (why)
        return (void)unsupported(L, n, why);
    PlanArg packed = blob_reserve(L, floats_for(nk_qconv2d_packed_bytes(&d, L->tiling)));
    nk_qconv2d_pack(&d, L->tiling, w, b, mult, blob_ptr(L, packed));
    add_compact(L, packed, (NkQLayerFile){.is_conv = 1, .conv = d}, n->in[1], w, b, mult);
    need_scratch(L, floats_for(nk_qconv2d_scratch(&d, L->tiling, L->p->threads)));
    PlanArg in = as_nhwc(L, n->in[0], n);
    PlanArg out = define(L, n->out, LAY_NHWC);
    STEP(L, "nk_qconv2d", d, n, in, packed, out, scratch(L));
    count_flops(L, n);
}

static void lower_qlinear(Lower *L, const IrNode *n)
{
    const IrValue *wv = n->in[1];
    NkQLinear d = {.k = wv->shape.d[1], .n = wv->shape.d[0]};
    d.m = numel(n->in[0]) / d.k;
    const int8_t *w;
    const int32_t *b;
    const float *mult;
    if (!qout_of(L, n, &d.q) || !qparams(L, n, &w, &b, &mult))
        return;
    const char *why = nk_qlinear_check(&d, b);
    why = why ? why : nk_qmult_check(&d.q, d.n, mult);
    if (why)
        return (void)unsupported(L, n, why);
    PlanArg packed = blob_reserve(L, floats_for(nk_qlinear_packed_bytes(&d, L->tiling)));
    nk_qlinear_pack(&d, L->tiling, w, b, mult, blob_ptr(L, packed));
    add_compact(L, packed, (NkQLayerFile){.linear = d}, wv, w, b, mult);
    need_scratch(L, floats_for(nk_qlinear_scratch(&d, L->tiling, L->p->threads)));
    PlanArg in = as_logical(L, n->in[0], n);
    PlanArg out = define(L, n->out, LAY_LOGICAL);
    STEP(L, "nk_qlinear", d, n, in, packed, out, scratch(L));
    count_flops(L, n);
}

typedef void (*LowerFn)(Lower *L, const IrNode *n);

/* How each operator is lowered. ops.def holds only IR facts; this is the
 * backend's half, and tests/unit/test_llvm_dispatch.c requires an entry
 * for every op. */
static const LowerFn lower_fns[OP__COUNT] = {
    [OP_CONV2D] = lower_fusable,
    [OP_LINEAR] = lower_fusable,
    [OP_MATMUL] = lower_matmul,
    [OP_BMM] = lower_matmul,
    [OP_BATCHNORM] = lower_fusable,
    [OP_LAYERNORM] = lower_layernorm,
    [OP_RELU] = lower_unary,
    [OP_RELU6] = lower_unary,
    [OP_GELU] = lower_unary,
    [OP_SILU] = lower_unary,
    [OP_SIGMOID] = lower_unary,
    [OP_HARDSWISH] = lower_unary,
    [OP_SOFTMAX] = lower_softmax,
    [OP_ADD] = lower_fusable,
    [OP_SUB] = lower_fusable,
    [OP_MUL] = lower_fusable,
    [OP_MAXPOOL] = lower_pool,
    [OP_AVGPOOL] = lower_pool,
    [OP_ADAPTIVE_AVGPOOL] = lower_pool,
    [OP_GLOBAL_AVGPOOL] = lower_pool,
    [OP_FLATTEN] = lower_reshape,
    [OP_RESHAPE] = lower_reshape,
    [OP_TRANSPOSE] = lower_view_copy,
    [OP_PERMUTE] = lower_permute,
    [OP_EXPAND] = lower_view_copy,
    [OP_CONCAT] = lower_concat,
    [OP_SLICE] = lower_view_copy,
    [OP_SELECT] = lower_view_copy,
    [OP_MHA] = lower_mha,
    [OP_DROPOUT] = lower_identity,
    [OP_TOPK] = lower_topk,
    [OP_QUANTIZE] = lower_quantize,
    [OP_DEQUANTIZE] = lower_dequantize,
    [OP_QCONV2D] = lower_qconv,
    [OP_QLINEAR] = lower_qlinear,
};

bool llvm_lowers_op(OpKind op) { return (unsigned)op < OP__COUNT && lower_fns[op]; }

/* The ops that read or write u8 values; every other op works on f32. */
static bool integer_op(OpKind op)
{
    return op == OP_QUANTIZE || op == OP_DEQUANTIZE || op == OP_QCONV2D || op == OP_QLINEAR;
}

/* Lowers the node at position i (or the chain that ends there). */
static void lower_node(Lower *L, int i)
{
    const IrNode *n = L->g->nodes[i];
    if (L->absorbed[i])
        return;
    if (L->chain[i])
        return lower_chain(L, L->chain_head[i], L->chain[i]);
    if (!integer_op(n->op)) {
        if (n->out->dtype != DT_F32)
            return (void)unsupported(L, n, dtype_name(n->out->dtype));
        for (int k = 0; k < n->nin; k++)
            if (n->in[k]->dtype != DT_F32)
                return (void)unsupported(L, n, "a non-f32 operand");
    } else if (n->out->dtype != DT_F32 && n->out->dtype != DT_U8) {
        return (void)unsupported(L, n, dtype_name(n->out->dtype));
    }
    if (!llvm_lowers_op(n->op))
        return (void)unsupported(L, n, "this operator");
    lower_fns[n->op](L, n);
}

/* pos[id]: where each node sits in g->nodes. */
static void number_positions(Lower *L)
{
    const IrGraph *g = L->g;
    int maxid = 0;
    for (int i = 0; i < g->nnodes; i++)
        maxid = g->nodes[i]->id > maxid ? g->nodes[i]->id : maxid;
    L->pos = xcalloc((size_t)maxid + 1, sizeof *L->pos);
    for (int i = 0; i < g->nnodes; i++)
        L->pos[g->nodes[i]->id] = i;
}

Plan *plan_lower(const IrGraph *g, int threads, int isa, Diag *d)
{
    Plan *p = xcalloc(1, sizeof *p);
    p->threads = threads;
    p->isa = isa;
    int nv = g->next_value_id + 1;
    Lower L = {.g = g, .p = p, .d = d, .ok = true,
               .vals = xcalloc((size_t)nv, sizeof *L.vals),
               .chain = xcalloc((size_t)g->nnodes + 1, sizeof *L.chain),
               .chain_head = xcalloc((size_t)g->nnodes + 1, sizeof *L.chain_head),
               .absorbed = xcalloc((size_t)g->nnodes + 1, sizeof *L.absorbed),
               .tiling = nk_tiling((NkIsa)isa)};
    p->scratch_buf = add_buf(p, PB_SCRATCH, 0);
    number_positions(&L);
    for (int i = 0; i < g->ninputs; i++) {
        int b = add_buf(p, PB_INPUT, numel(g->inputs[i]) * 4);
        p->bufs[b].index = i;
        L.vals[g->inputs[i]->id] = (LVal){.done = true, .at = {.buf = b}, .layout = LAY_LOGICAL};
    }
    for (int i = 0; i < g->nnodes && L.ok; i++)
        lower_node(&L, i);
    for (int i = 0; i < g->noutputs && L.ok; i++) {
        const IrValue *v = g->outputs[i].value;
        if (v->dtype == DT_U8) {
            diag_error(d, v->loc, "graph output '%s' is %s; the llvm backend's outputs are f32 (dequantize it)",
                       g->outputs[i].name ? g->outputs[i].name : "?", dtype_name(v->dtype));
            L.ok = false;
            break;
        }
        PlanArg src = as_logical(&L, v, NULL);
        int b = add_buf(p, PB_OUTPUT, numel(v) * 4);
        p->bufs[b].index = i;
        NkCopy c = {.rank = 1, .dims = {numel(v)}, .strides = {1}, .out_strides = {1}};
        STEP(&L, "nk_copy", c, v->def, src, (PlanArg){.buf = b});
    }
    p->bufs[p->scratch_buf].bytes = p->scratch_bytes;
    free(L.vals);
    for (int i = 0; i < g->nnodes; i++)
        free(L.chain[i]);
    free(L.chain);
    free(L.chain_head);
    free(L.absorbed);
    free(L.pos);
    if (!L.ok) {
        plan_free(p);
        return NULL;
    }
    plan_place_activations(p);
    return p;
}

void plan_free(Plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nsteps; i++)
        free(p->steps[i].desc);
    free(p->steps);
    free(p->bufs);
    pagebuf_free(&p->weight_mem);
    for (int i = 0; i < p->ncompact; i++)
        free(p->compact[i].bytes);
    free(p->compact);
    free(p);
}
