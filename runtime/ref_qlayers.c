/*
 * ref_qlayers.c — reference kernels of the integer layers qconv2d and
 * qlinear: the integer semantics written down in runtime/native/nk.h,
 * implemented again from that text (no code shared with the native
 * kernels, so the two check each other; tests/unit/test_ref_qlayers.c and
 * tests/int8_test.sh compare them bit for bit).
 *
 *   acc[o] = Σ_k (x_k − zx)·w_k[o] + bias[o]   exact (int64 here; the
 *            integerize pass admitted only layers where it fits int32,
 *            and this kernel refuses one that does not)
 *   r      = (float)acc * mult[o]              two roundings to f32
 *   bits 0: y = act(r)                         relu: r < 0 ? 0 : r,
 *                                              relu6: then r > 6 ? 6 : r
 *   bits b: y = rint(clamp(r, lo − zy, hi − zy)) + zy, rint half to even,
 *           NaN → lo; [lo, hi] = [0, 2^b − 1] narrowed by act: relu
 *           lo = zy, relu6 also hi = the quantized 6 (ir_quantize_elem)
 *   requant = shift (bits b, every mult 2^-k): no float at all,
 *           y = clamp(rhe(acc, k), lo − zy, hi − zy) + zy, rhe = acc / 2^k
 *           rounded half to even in integers
 *
 * Padding pixels contribute 0 (they read as zx). The interpreter holds
 * every value as f32 — u8 activations and i8 weights exactly — but an i32
 * bias need not fit f32, so the bias is read from the bound parameter.
 */
#include "ref_kernels.h"

#include "../ir/geometry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) return (snprintf(err, errlen, __VA_ARGS__), false)

/* The requantization of one layer, from its attributes and the quant(...)
 * of its input and result. */
typedef struct Requant {
    int32_t zx;
    bool to_u8;
    int32_t zy, lo, hi;
    int act; /* 0 none, 1 relu, 2 relu6 */
    bool shift; /* requant = shift */
} Requant;

static bool requant_of(const IrNode *n, Requant *rq, char *err, size_t errlen)
{
    const IrQuant *x = n->in[0]->quant;
    if (!x)
        FAIL("%s's input has no quant(...) metadata", op_info(n->op)->name);
    const char *act = ir_attr_str(n, "act");
    *rq = (Requant){.zx = ir_quant_zero_point(x), .to_u8 = ir_attr_int(n, "bits") > 0,
                    .act = !strcmp(act, "relu") ? 1 : !strcmp(act, "relu6") ? 2 : 0,
                    .shift = !strcmp(ir_attr_str(n, "requant"), "shift")};
    if (rq->to_u8 && !ir_qlayer_clamp(n, &rq->zy, &rq->lo, &rq->hi))
        FAIL("%s's u8 result has no bound quant(...) scale", op_info(n->op)->name);
    return true;
}

/* acc / 2^k rounded half to even, in integers (k in [0, 31]). */
static int64_t shift_round(int64_t acc, int k)
{
    if (k == 0)
        return acc;
    int64_t f = acc >> k, r = acc - f * ((int64_t)1 << k), half = (int64_t)1 << (k - 1);
    return f + (r > half || (r == half && (f & 1)));
}

/* The k of mult = 2^-k, or -1 when mult is not such a power of two. */
static int shift_of(float mult)
{
    int e;
    float m = frexpf(mult, &e); /* mult = m · 2^e, m in [0.5, 1) */
    return m == 0.5f && e <= 1 && e >= -30 ? 1 - e : -1;
}

/* y for accumulator acc and multiplier mult, per the header comment. */
static float requantize(const Requant *rq, int64_t acc, float mult)
{
    if (rq->shift) { /* shift_of(mult) was checked by the caller */
        int64_t q = shift_round(acc, shift_of(mult));
        int64_t lo = rq->lo - rq->zy, hi = rq->hi - rq->zy;
        return (float)((q < lo ? lo : q > hi ? hi : q) + rq->zy);
    }
    float r = (float)(int32_t)acc;
    r = r * mult;
    if (!rq->to_u8) {
        if (rq->act >= 1 && r < 0)
            r = 0;
        if (rq->act == 2 && r > 6)
            r = 6;
        return r;
    }
    if (isnan(r))
        return (float)rq->lo;
    float lo = (float)(rq->lo - rq->zy), hi = (float)(rq->hi - rq->zy);
    r = r < lo ? lo : r > hi ? hi : r;
    return (float)((int32_t)rintf(r) + rq->zy);
}

/* The bound i32 bias (NULL without one) and f32 mult of layer n, whose
 * parameters follow the one data input: weight, bias?, mult. */
static bool layer_params(const IrNode *n, int64_t out_channels, const int32_t **bias, const float **mult,
                         char *err, size_t errlen)
{
    const IrValue *b = n->nin > 3 ? n->in[2] : NULL, *m = n->in[n->nin - 1];
    *bias = NULL;
    if (b) {
        if (!b->data || b->data->dtype != DT_I32 || tensor_numel(b->data) != out_channels)
            FAIL("bias '%s' is not bound to i32[%lld]", b->name ? b->name : "?", (long long)out_channels);
        *bias = b->data->data;
    }
    if (!m->data || m->data->dtype != DT_F32 || tensor_numel(m->data) != out_channels)
        FAIL("mult '%s' is not bound to f32[%lld]", m->name ? m->name : "?", (long long)out_channels);
    *mult = m->data->data;
    for (int64_t o = 0; o < out_channels && !strcmp(ir_attr_str(n, "requant"), "shift"); o++)
        if (shift_of((*mult)[o]) < 0)
            FAIL("requant = shift, but mult[%lld] = %g is not 2^-k for an integer k in [0, 31]", (long long)o,
                 (double)(*mult)[o]);
    return true;
}

static bool fits_int32(int64_t acc) { return acc >= INT32_MIN && acc <= INT32_MAX; }

#define ACC_OVERFLOW(name) FAIL("%s: an accumulator overflows int32 (the integerize pass should have refused it)", name)

/* x, weight, bias?, mult: 3 or 4 inputs, all present. */
static bool inputs_ok(const IrNode *n, const Tensor *const *in, char *err, size_t errlen)
{
    if (n->nin < 3 || n->nin > 4)
        FAIL("%s takes x, weight, bias? and mult, got %d inputs", op_info(n->op)->name, n->nin);
    for (int i = 0; i < n->nin; i++)
        if (!in[i])
            FAIL("%s: input %d is missing", op_info(n->op)->name, i + 1);
    return true;
}

/*
 * The accumulators of n are done; the rest is per output channel o (on
 * axis 1 of qconv2d's result, the last axis of qlinear's):
 * y = requantize(acc + bias[o]).
 */
bool ref_qlayer_epilogue(const IrNode *n, const int64_t *acc, Tensor *out, char *err, size_t errlen)
{
    const char *name = op_info(n->op)->name;
    const Shape *s = &out->shape;
    bool conv = n->op == OP_QCONV2D;
    if (!conv && n->op != OP_QLINEAR)
        FAIL("%s is not an integer layer", name);
    if (conv ? s->rank != 4 : s->rank < 1)
        FAIL("%s: the result has rank %d", name, s->rank);
    int64_t channels = conv ? s->d[1] : s->d[s->rank - 1], inner = conv ? s->d[2] * s->d[3] : 1;
    Requant rq;
    const int32_t *bias;
    const float *mult;
    if (!requant_of(n, &rq, err, errlen) || !layer_params(n, channels, &bias, &mult, err, errlen))
        return false;
    float *y = out->data;
    int64_t total = tensor_numel(out);
    for (int64_t i = 0; i < total; i++) {
        int64_t o = inner && channels ? i / inner % channels : 0;
        int64_t a = acc[i] + (bias ? bias[o] : 0);
        if (!fits_int32(a))
            ACC_OVERFLOW(name);
        y[i] = requantize(&rq, a, mult[o]);
    }
    return true;
}

bool ref_qconv2d(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    if (!inputs_ok(n, in, err, errlen))
        return false;
    GeomConv2d g;
    if (!geom_conv2d_from_node(n, &g) || in[0]->shape.rank != 4 || in[1]->shape.rank != 4)
        FAIL("qconv2d takes x [N, C, H, W] and weight [O, C/groups, kh, kw]");
    if (in[1]->shape.d[0] != g.oc || in[1]->shape.d[1] * g.groups != g.c || in[1]->shape.d[2] != g.kh ||
        in[1]->shape.d[3] != g.kw || in[0]->shape.d[0] != g.n || in[0]->shape.d[1] != g.c ||
        in[0]->shape.d[2] != g.h || in[0]->shape.d[3] != g.w ||
        tensor_numel(out) != g.n * g.oc * g.oh * g.ow || out->shape.rank != 4)
        FAIL("qconv2d: weight, input and result shapes disagree");
    const IrQuant *xq = n->in[0]->quant;
    if (!xq)
        FAIL("qconv2d's input has no quant(...) metadata");
    int64_t zx = ir_quant_zero_point(xq);
    const float *x = in[0]->data, *w = in[1]->data;
    int64_t *acc = xmalloc((size_t)(g.n * g.oc * g.oh * g.ow + 1) * sizeof *acc);
    int64_t cg = g.c / g.groups, og = g.oc / g.groups;
    for (int64_t img = 0; img < g.n; img++)
        for (int64_t o = 0; o < g.oc; o++) {
            int64_t grp = o / og;
            for (int64_t oy = 0; oy < g.oh; oy++)
                for (int64_t ox = 0; ox < g.ow; ox++) {
                    int64_t a = 0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t i = 0; i < g.kh; i++) {
                            int64_t iy = oy * g.sh - g.ph + i * g.dh;
                            if (iy < 0 || iy >= g.h)
                                continue;
                            for (int64_t j = 0; j < g.kw; j++) {
                                int64_t ix = ox * g.sw - g.pw + j * g.dw;
                                if (ix < 0 || ix >= g.w)
                                    continue;
                                int64_t xv = (int64_t)x[((img * g.c + grp * cg + c) * g.h + iy) * g.w + ix];
                                int64_t wv = (int64_t)w[((o * cg + c) * g.kh + i) * g.kw + j];
                                a += (xv - zx) * wv;
                            }
                        }
                    acc[((img * g.oc + o) * g.oh + oy) * g.ow + ox] = a;
                }
        }
    bool ok = ref_qlayer_epilogue(n, acc, out, err, errlen);
    free(acc);
    return ok;
}

bool ref_qlinear(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    if (!inputs_ok(n, in, err, errlen))
        return false;
    const Shape *ws = &in[1]->shape;
    if (ws->rank != 2 || in[0]->shape.rank < 1 || in[0]->shape.d[in[0]->shape.rank - 1] != ws->d[1])
        FAIL("qlinear takes x [..., K] and weight [N, K]");
    int64_t N = ws->d[0], K = ws->d[1], M = K ? tensor_numel(in[0]) / K : 0;
    if (tensor_numel(out) != M * N || out->shape.rank < 1 || out->shape.d[out->shape.rank - 1] != N)
        FAIL("qlinear: the result does not hold [..., %lld]", (long long)N);
    const IrQuant *xq = n->in[0]->quant;
    if (!xq)
        FAIL("qlinear's input has no quant(...) metadata");
    int64_t zx = ir_quant_zero_point(xq);
    const float *x = in[0]->data, *w = in[1]->data;
    int64_t *acc = xmalloc((size_t)(M * N + 1) * sizeof *acc);
    for (int64_t m = 0; m < M; m++)
        for (int64_t o = 0; o < N; o++) {
            int64_t a = 0;
            for (int64_t k = 0; k < K; k++)
                a += ((int64_t)x[m * K + k] - zx) * (int64_t)w[o * K + k];
            acc[m * N + o] = a;
        }
    bool ok = ref_qlayer_epilogue(n, acc, out, err, errlen);
    free(acc);
    return ok;
}
