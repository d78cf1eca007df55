/*
 * ref_kernels.c — the reference kernels; see ref_kernels.h for the contract.
 *
 * Layout of this file: helpers (errors, attributes, shapes, a strided gather
 * and one GEMM), then the kernels in ops.def order. Every kernel first checks
 * what it is given against what the attributes imply, so a disagreement
 * between a shape rule and a kernel shows up as an error, not as a wrong
 * number or a crash. Output sizes, dim wrapping, broadcasting and strides
 * come from ir/geometry.h, the formulas the shape rules use.
 *
 * Numerics: PyTorch 1.13, eval mode. Sums (dot products, means, variances,
 * softmax denominators) are accumulated in double and rounded to f32 once,
 * so this oracle is at least as accurate as the framework it imitates.
 *
 * Speed: convolution is im2col + GEMM done one tile of output pixels at a
 * time (the im2col tile is written straight into the GEMM's packed panel, so
 * memory stays small); linear, matmul and attention use the same GEMM. The
 * GEMM's inner loop runs over a fixed-width panel so the compiler vectorises
 * it at -O2.
 */
#include "ref_kernels.h"

#include "../ir/geometry.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static bool fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}

/* Every kernel names its error buffer err/errlen, so FAIL reads like return. */
#define FAIL(...) return fail(err, errlen, __VA_ARGS__)

/* A shape as text for messages; each call site passes its own buffer. */
typedef struct ShapeText {
    char s[160];
} ShapeText;
static const char *shape_text(const Shape *s, ShapeText *buf)
{
    return shape_str(s, buf->s, sizeof buf->s);
}

/*
 * Attribute getters: the shape rules guarantee the attributes, but a kernel
 * must not trust that, so a missing or mistyped one is an error. The result
 * is always written (0 on failure).
 */
static bool get_int(const IrNode *n, const char *key, int64_t *v, char *err, size_t errlen)
{
    const IrAttr *a = ir_attr(n, key);
    *v = 0;
    if (!a || (a->kind != AK_INT && a->kind != AK_BOOL))
        FAIL("attribute '%s' is missing or not an int", key);
    *v = a->i;
    return true;
}

/* int2 attributes are stored as two ints; a single int is accepted too. */
static bool get_int2(const IrNode *n, const char *key, int64_t v[2], char *err, size_t errlen)
{
    if (geom_attr_int2(n, key, v))
        return true;
    FAIL("attribute '%s' is missing or not a pair of ints", key);
}

static bool get_ints(const IrNode *n, const char *key, const int64_t **v, int *count, char *err,
                     size_t errlen)
{
    const IrAttr *a = ir_attr(n, key);
    *v = NULL;
    *count = 0;
    if (!a || a->kind != AK_INTS)
        FAIL("attribute '%s' is missing or not a list of ints", key);
    *v = a->ints;
    *count = a->n;
    return true;
}

static bool get_float(const IrNode *n, const char *key, double *v, char *err, size_t errlen)
{
    const IrAttr *a = ir_attr(n, key);
    *v = 0;
    if (a && a->kind == AK_FLOAT)
        return *v = a->f, true;
    if (a && a->kind == AK_INT)
        return *v = (double)a->i, true;
    FAIL("attribute '%s' is missing or not a float", key);
}

/*
 * Checks the parts of the contract every kernel relies on: between lo and hi
 * inputs, all present and f32, and an f32 output whose element count fits its
 * shape.
 */
static bool check_io(const IrNode *n, const Tensor *const *in, const Tensor *out, int lo, int hi,
                     char *err, size_t errlen)
{
    if (n->nin < lo || (hi >= 0 && n->nin > hi))
        FAIL("expected %d..%d inputs, got %d", lo, hi, n->nin);
    for (int i = 0; i < n->nin; i++) {
        if (!in[i] || !in[i]->data)
            FAIL("input %d is missing", i);
        if (in[i]->dtype != DT_F32)
            FAIL("input %d is %s, kernels take f32", i, dtype_name(in[i]->dtype));
        if (shape_numel(&in[i]->shape) < 0)
            FAIL("input %d has an invalid shape", i);
    }
    if (!out || !out->data || out->dtype != DT_F32 || shape_numel(&out->shape) < 0)
        FAIL("the output tensor is missing or not f32");
    return true;
}

static bool check_out_shape(const Tensor *out, const Shape *want, char *err, size_t errlen)
{
    ShapeText a, b;
    if (!shape_equal(&out->shape, want))
        FAIL("output shape %s disagrees with %s computed from the inputs",
             shape_text(&out->shape, &a), shape_text(want, &b));
    return true;
}

/* Checks that t is the 1-D vector [len] (a per-channel parameter). */
static bool check_vector(const Tensor *t, int64_t len, const char *what, char *err, size_t errlen)
{
    ShapeText a;
    if (t->shape.rank != 1 || t->shape.d[0] != len)
        FAIL("%s has shape %s, expected [%lld]", what, shape_text(&t->shape, &a), (long long)len);
    return true;
}

/* malloc for count floats (at least one, so a zero count is not a failure). */
static float *alloc_floats(int64_t count)
{
    return malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
}

/*
 * dst[i] = src[sum_k idx_k(i) * stride[k]] for every index i of dims
 * d[0..rank) in row-major order: the one routine behind transpose, permute,
 * expand, slice, select and broadcasting.
 */
static void gather(float *dst, const float *src, const int64_t *d, int rank,
                   const int64_t *stride)
{
    if (rank == 0) {
        dst[0] = src[0];
        return;
    }
    if (geom_dims_product(d, 0, rank) == 0)
        return;
    int64_t inner = d[rank - 1], inner_stride = stride[rank - 1];
    int64_t outer = geom_dims_product(d, 0, rank - 1);
    int64_t idx[SHAPE_MAX_RANK] = {0}, off = 0;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++)
            dst[j] = src[off + j * inner_stride];
        dst += inner;
        for (int k = rank - 2; k >= 0; k--) { /* advance the odometer */
            off += stride[k];
            if (++idx[k] < d[k])
                break;
            off -= idx[k] * stride[k];
            idx[k] = 0;
        }
    }
}

/* ------------------------------------------------------------------ GEMM */

/*
 * C = A·B (+ bias) with f32 operands and double accumulators.
 *
 * B is consumed in panels of GEMM_NB columns packed into a contiguous,
 * zero-padded buffer, so the inner loop has a fixed trip count (vectorised
 * at -O2) and streams through memory. Rows of A are taken GEMM_MR at a time
 * so each panel row is loaded once for several outputs.
 */
enum { GEMM_NB = 64, GEMM_MR = 4 };

/*
 * C[0..M) x [0..nb) = A[M x K] · P[K x GEMM_NB] for one packed panel P, plus
 * bias_m[row] and bias_n[col] when given. lda/ldc are row strides.
 */
static void gemm_panel(int64_t M, int64_t K, const float *A, int64_t lda, const float *P,
                       int64_t nb, float *C, int64_t ldc, const float *bias_m, const float *bias_n)
{
    double acc[GEMM_MR][GEMM_NB];
    for (int64_t m0 = 0; m0 < M; m0 += GEMM_MR) {
        int mr = M - m0 < GEMM_MR ? (int)(M - m0) : GEMM_MR;
        for (int r = 0; r < mr; r++)
            for (int j = 0; j < GEMM_NB; j++)
                acc[r][j] = (bias_m ? bias_m[m0 + r] : 0.0) + (bias_n && j < nb ? bias_n[j] : 0.0);
        for (int64_t k = 0; k < K; k++) {
            const float *p = P + k * GEMM_NB;
            for (int r = 0; r < mr; r++) {
                double a = A[(m0 + r) * lda + k];
                double *acc_r = acc[r];
                for (int j = 0; j < GEMM_NB; j++)
                    acc_r[j] += a * p[j];
            }
        }
        for (int r = 0; r < mr; r++)
            for (int64_t j = 0; j < nb; j++)
                C[(m0 + r) * ldc + j] = (float)acc[r][j];
    }
}

/* C[M x N] = A[M x K] · B[K x N] (+ bias_m per row, bias_n per column). */
static bool gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                 int64_t ldb, float *C, int64_t ldc, const float *bias_m, const float *bias_n,
                 char *err, size_t errlen)
{
    float *panel = alloc_floats(K * GEMM_NB);
    if (!panel)
        FAIL("out of memory for a %lld x %d GEMM panel", (long long)K, GEMM_NB);
    for (int64_t n0 = 0; n0 < N; n0 += GEMM_NB) {
        int64_t nb = N - n0 < GEMM_NB ? N - n0 : GEMM_NB;
        for (int64_t k = 0; k < K; k++) {
            float *row = panel + k * GEMM_NB;
            for (int64_t j = 0; j < nb; j++)
                row[j] = B[k * ldb + n0 + j];
            for (int64_t j = nb; j < GEMM_NB; j++)
                row[j] = 0;
        }
        gemm_panel(M, K, A, lda, panel, nb, C + n0, ldc, bias_m, bias_n ? bias_n + n0 : NULL);
    }
    free(panel);
    return true;
}

/* y[R x O] = x[R x I] · W[O x I]^T + b: the linear layer over rows. */
static bool linear_rows(const float *x, int64_t R, int64_t I, const float *W, const float *b,
                        int64_t O, float *y, char *err, size_t errlen)
{
    float *wt = alloc_floats(I * O);
    if (!wt)
        FAIL("out of memory transposing a [%lld, %lld] weight", (long long)O, (long long)I);
    int64_t dims[2] = {I, O}, strides[2] = {1, I};
    gather(wt, W, dims, 2, strides);
    bool ok = gemm(R, O, I, x, I, wt, O, y, O, NULL, b, err, errlen);
    free(wt);
    return ok;
}

/* y[i*stride] = softmax over i < len of x[i*stride], max-subtracted, summed in double. */
static void softmax_strided(const float *x, float *y, int64_t len, int64_t stride)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < len; i++)
        if (x[i * stride] > mx || isnan(x[i * stride]))
            mx = x[i * stride];
    double sum = 0;
    for (int64_t i = 0; i < len; i++)
        sum += exp((double)x[i * stride] - mx);
    for (int64_t i = 0; i < len; i++)
        y[i * stride] = (float)(exp((double)x[i * stride] - mx) / sum);
}

/* -------------------------------------------------------------- conv2d */

/*
 * Writes the im2col rows of output pixels p0..p0+nb (row-major over oh x ow)
 * of one group's input x into the packed panel: row (c, i, j) holds
 * x[c, oh*sh-ph+i*dh, ow*sw-pw+j*dw] or 0 in the padding. Row order matches
 * the weight layout [O, C/groups, kh, kw].
 */
static void im2col_panel(const float *x, const GeomConv2d *g, int64_t p0, int64_t nb,
                         float *panel)
{
    float *row = panel;
    for (int64_t c = 0; c < g->c / g->groups; c++)
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++, row += GEMM_NB) {
                const float *plane = x + c * g->h * g->w;
                int64_t oh = p0 / g->ow, ow = p0 % g->ow;
                for (int64_t t = 0; t < nb; t++) {
                    int64_t ih = oh * g->sh - g->ph + i * g->dh;
                    int64_t iw = ow * g->sw - g->pw + j * g->dw;
                    row[t] = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w ? plane[ih * g->w + iw]
                                                                          : 0.0f;
                    if (++ow == g->ow)
                        ow = 0, oh++;
                }
                for (int64_t t = nb; t < GEMM_NB; t++)
                    row[t] = 0;
            }
}

/*
 * out[n, o] = sum over c in o's group, i, j of w[o, c, i, j] * x_padded[...]
 * (+ bias[o]): im2col one panel of output pixels per (image, group), then
 * GEMM against the group's weights.
 */
bool ref_conv2d(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    if (!check_io(n, in, out, 2, 3, err, errlen))
        return false;
    const Tensor *x = in[0], *w = in[1], *b = n->nin > 2 ? in[2] : NULL;
    int64_t stride[2], pad[2], dil[2], groups;
    if (!get_int2(n, "stride", stride, err, errlen) || !get_int2(n, "padding", pad, err, errlen) ||
        !get_int2(n, "dilation", dil, err, errlen) || !get_int(n, "groups", &groups, err, errlen))
        return false;
    ShapeText ta, tb;
    if (x->shape.rank != 4 || w->shape.rank != 4)
        FAIL("conv2d takes x [N, C, H, W] and weight [O, C/groups, kh, kw], got %s and %s",
             shape_text(&x->shape, &ta), shape_text(&w->shape, &tb));
    if (stride[0] < 1 || stride[1] < 1 || dil[0] < 1 || dil[1] < 1 || pad[0] < 0 || pad[1] < 0 ||
        groups < 1)
        FAIL("conv2d needs stride >= 1, dilation >= 1, padding >= 0 and groups >= 1");
    /* The kernel size and channels come from the weight, not the attributes. */
    GeomConv2d g = {.n = x->shape.d[0], .c = x->shape.d[1], .h = x->shape.d[2],
                    .w = x->shape.d[3], .oc = w->shape.d[0], .kh = w->shape.d[2],
                    .kw = w->shape.d[3], .sh = stride[0], .sw = stride[1], .ph = pad[0],
                    .pw = pad[1], .dh = dil[0], .dw = dil[1], .groups = groups};
    int64_t N = g.n, O = g.oc, Cg = w->shape.d[1];
    if (Cg * groups != g.c || O % groups != 0)
        FAIL("weight %s does not fit input %s with groups=%lld", shape_text(&w->shape, &tb),
             shape_text(&x->shape, &ta), (long long)groups);
    if (b && !check_vector(b, O, "bias", err, errlen))
        return false;
    if (!geom_conv2d_output(&g)) {
        if (g.oh < 0 || g.ow < 0)
            FAIL("weight %s has an empty kernel or sizes that overflow on input %s",
                 shape_text(&w->shape, &tb), shape_text(&x->shape, &ta));
        FAIL("the kernel is larger than the padded input %s", shape_text(&x->shape, &ta));
    }
    Shape want = {4, {N, O, g.oh, g.ow}};
    if (!check_out_shape(out, &want, err, errlen))
        return false;

    int64_t P = g.oh * g.ow, K = Cg * g.kh * g.kw, Og = O / groups;
    float *panel = alloc_floats(K * GEMM_NB);
    if (!panel)
        FAIL("out of memory for the im2col panel");
    const float *xd = x->data, *wd = w->data, *bd = b ? b->data : NULL;
    float *od = out->data;
    for (int64_t img = 0; img < N; img++)
        for (int64_t grp = 0; grp < groups; grp++) {
            const float *xg = xd + (img * g.c + grp * Cg) * g.h * g.w;
            float *og = od + (img * O + grp * Og) * P;
            for (int64_t p0 = 0; p0 < P; p0 += GEMM_NB) {
                int64_t nb = P - p0 < GEMM_NB ? P - p0 : GEMM_NB;
                im2col_panel(xg, &g, p0, nb, panel);
                gemm_panel(Og, K, wd + grp * Og * K, K, panel, nb, og + p0, P,
                           bd ? bd + grp * Og : NULL, NULL);
            }
        }
    free(panel);
    return true;
}

/* -------------------------------------------------- linear, matmul, bmm */

/* y = x W^T + b over the last dim of x. */
bool ref_linear(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    if (!check_io(n, in, out, 2, 3, err, errlen))
        return false;
    const Tensor *x = in[0], *w = in[1], *b = n->nin > 2 ? in[2] : NULL;
    ShapeText ta, tb;
    if (x->shape.rank < 1 || w->shape.rank != 2 || w->shape.d[1] != x->shape.d[x->shape.rank - 1])
        FAIL("linear takes x [..., I] and weight [O, I], got %s and %s",
             shape_text(&x->shape, &ta), shape_text(&w->shape, &tb));
    int64_t I = w->shape.d[1], O = w->shape.d[0];
    if (b && !check_vector(b, O, "bias", err, errlen))
        return false;
    Shape want = x->shape;
    want.d[want.rank - 1] = O;
    if (!check_out_shape(out, &want, err, errlen))
        return false;
    int64_t R = geom_dims_product(x->shape.d, 0, x->shape.rank - 1);
    return linear_rows(x->data, R, I, w->data, b ? b->data : NULL, O, out->data, err, errlen);
}

/*
 * torch.matmul: a 1-D left operand is a row [1, k] and a 1-D right operand a
 * column [k, 1] (the added dim is dropped from the result); dims before the
 * last two are batch dims and broadcast. bmm is the rank-3 case.
 */
bool ref_matmul(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    if (!check_io(n, in, out, 2, 2, err, errlen))
        return false;
    const Shape *sa = &in[0]->shape, *sb = &in[1]->shape;
    ShapeText ta, tb;
    if (sa->rank < 1 || sb->rank < 1)
        FAIL("matmul operands must have rank >= 1, got %s and %s", shape_text(sa, &ta),
             shape_text(sb, &tb));
    int64_t rows = sa->rank >= 2 ? sa->d[sa->rank - 2] : 1, k = sa->d[sa->rank - 1];
    int64_t kb = sb->rank >= 2 ? sb->d[sb->rank - 2] : sb->d[0];
    int64_t cols = sb->rank >= 2 ? sb->d[sb->rank - 1] : 1;
    if (k != kb)
        FAIL("matmul inner dims differ: %s x %s", shape_text(sa, &ta), shape_text(sb, &tb));

    /* Broadcast the batch dims (everything before the matrix dims). */
    Shape batch_a = shape_make(sa->rank > 2 ? sa->rank - 2 : 0, sa->d);
    Shape batch_b = shape_make(sb->rank > 2 ? sb->rank - 2 : 0, sb->d);
    Shape batch;
    if (!geom_broadcast_shape(&batch_a, &batch_b, &batch))
        FAIL("matmul batch dims do not broadcast: %s x %s", shape_text(sa, &ta),
             shape_text(sb, &tb));
    int rbat = batch.rank;
    const int64_t *bat = batch.d;
    Shape want = {0};
    for (int i = 0; i < rbat; i++)
        want.d[want.rank++] = bat[i];
    if (sa->rank >= 2)
        want.d[want.rank++] = rows;
    if (sb->rank >= 2)
        want.d[want.rank++] = cols;
    if (!check_out_shape(out, &want, err, errlen))
        return false;

    /* A batch dim's stride in the operand is its contiguous stride in the
     * whole operand: the batch dims come first. */
    int64_t own[SHAPE_MAX_RANK], stra[SHAPE_MAX_RANK], strb[SHAPE_MAX_RANK];
    geom_contiguous_strides(sa, own);
    geom_broadcast_strides(&batch_a, own, &batch, stra);
    geom_contiguous_strides(sb, own);
    geom_broadcast_strides(&batch_b, own, &batch, strb);
    const float *a = in[0]->data, *b = in[1]->data;
    float *c = out->data;
    int64_t nbat = geom_dims_product(bat, 0, rbat);
    for (int64_t bi = 0; bi < nbat; bi++) {
        int64_t offa = 0, offb = 0, rest = bi;
        for (int i = rbat - 1; i >= 0; i--) {
            int64_t idx = rest % bat[i];
            rest /= bat[i];
            offa += idx * stra[i];
            offb += idx * strb[i];
        }
        if (!gemm(rows, cols, k, a + offa, k, b + offb, cols, c + bi * rows * cols, cols, NULL,
                  NULL, err, errlen))
            return false;
    }
    return true;
}

/* ------------------------------------------------- batchnorm, layernorm */

/*
 * What batchnorm and layernorm check alike: x and one vector per name in
 * params, each as long as x's dim `dim` (counted from the end when
 * negative), the eps attribute and an output shaped like x. usage names the
 * op and the layout of x for the message when x has too few dims.
 */
static bool norm_check(const IrNode *n, const Tensor *const *in, const Tensor *out,
                       const char *usage, int dim, const char *const *params, int nparams,
                       double *eps, int64_t *len, char *err, size_t errlen)
{
    if (!check_io(n, in, out, 1 + nparams, 1 + nparams, err, errlen))
        return false;
    if (!get_float(n, "eps", eps, err, errlen))
        return false;
    const Shape *s = &in[0]->shape;
    if (s->rank < (dim < 0 ? -dim : dim + 1)) {
        ShapeText t;
        FAIL("%s, got %s", usage, shape_text(s, &t));
    }
    *len = s->d[dim < 0 ? s->rank + dim : dim];
    for (int i = 0; i < nparams; i++)
        if (!check_vector(in[1 + i], *len, params[i], err, errlen))
            return false;
    return check_out_shape(out, s, err, errlen);
}

/* y = (x - mean) / sqrt(var + eps) * weight + bias, channel dim 1. */
bool ref_batchnorm(const IrNode *n, const Tensor *const *in, Tensor *out, char *err,
                   size_t errlen)
{
    static const char *const params[] = {"weight", "bias", "running_mean", "running_var"};
    double eps;
    int64_t C = 0; /* set by norm_check; initialized for -O3 -Werror */
    if (!norm_check(n, in, out, "batchnorm takes x [N, C, ...]", 1, params, 4, &eps, &C, err,
                    errlen))
        return false;
    const Shape *s = &in[0]->shape;
    const float *x = in[0]->data, *w = in[1]->data, *b = in[2]->data, *mean = in[3]->data,
                *var = in[4]->data;
    float *y = out->data;
    int64_t N = s->d[0], inner = geom_dims_product(s->d, 2, s->rank);
    for (int64_t i = 0; i < N; i++)
        for (int64_t c = 0; c < C; c++) {
            double scale = w[c] / sqrt((double)var[c] + eps);
            int64_t base = (i * C + c) * inner;
            for (int64_t j = 0; j < inner; j++)
                y[base + j] = (float)(((double)x[base + j] - mean[c]) * scale + b[c]);
        }
    return true;
}

/* Normalises over dim `dim` (the last by default) with the biased variance,
 * then scales and shifts. x is viewed as [outer, D, inner]: each of the
 * outer * inner vectors of D elements, inner apart, is one normalization. */
bool ref_layernorm(const IrNode *n, const Tensor *const *in, Tensor *out, char *err,
                   size_t errlen)
{
    static const char *const params[] = {"weight", "bias"};
    double eps;
    int64_t D = 0, dim_attr;
    int dim;
    if (!check_io(n, in, out, 3, 3, err, errlen) || !get_int(n, "dim", &dim_attr, err, errlen))
        return false;
    const Shape *s = &in[0]->shape;
    if (!geom_wrap_dim(dim_attr, s->rank, &dim))
        FAIL("layernorm takes x [..., D] with dim %lld in range, got %d-D", (long long)dim_attr, s->rank);
    if (!norm_check(n, in, out, "layernorm takes x [..., D]", dim, params, 2, &eps, &D, err, errlen))
        return false;
    const float *x = in[0]->data, *w = in[1]->data, *b = in[2]->data;
    float *y = out->data;
    int64_t outer = geom_dims_product(s->d, 0, dim), inner = geom_dims_product(s->d, dim + 1, s->rank);
    for (int64_t o = 0; o < outer && D > 0; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xr = x + o * D * inner + i;
            float *yr = y + o * D * inner + i;
            double mean = 0, var = 0;
            for (int64_t j = 0; j < D; j++)
                mean += xr[j * inner];
            mean /= (double)D;
            for (int64_t j = 0; j < D; j++)
                var += ((double)xr[j * inner] - mean) * ((double)xr[j * inner] - mean);
            var /= (double)D;
            double inv = 1.0 / sqrt(var + eps);
            for (int64_t j = 0; j < D; j++)
                yr[j * inner] = (float)(((double)xr[j * inner] - mean) * inv * w[j] + b[j]);
        }
    return true;
}

/* ---------------------------------------------------------- activations */

static bool unary(const IrNode *n, const Tensor *const *in, Tensor *out, float (*f)(float),
                  char *err, size_t errlen)
{
    if (!check_io(n, in, out, 1, 1, err, errlen) ||
        !check_out_shape(out, &in[0]->shape, err, errlen))
        return false;
    const float *x = in[0]->data;
    float *y = out->data;
    int64_t len = tensor_numel(out);
    for (int64_t i = 0; i < len; i++)
        y[i] = f(x[i]);
    return true;
}

/* The comparisons are written so that NaN passes through, as in PyTorch. */
static float relu_f(float x) { return x < 0 ? 0.0f : x; }
static float relu6_f(float x) { return x < 0 ? 0.0f : x > 6 ? 6.0f : x; }
static float gelu_f(float x)
{
    return (float)(0.5 * x * (1.0 + erf(x * 0.70710678118654752440))); /* x / sqrt(2) */
}
static float sigmoid_f(float x) { return (float)(1.0 / (1.0 + exp(-(double)x))); }
static float silu_f(float x) { return (float)(x / (1.0 + exp(-(double)x))); }
/* Exactly torch's formula and float arithmetic: x * min(max(x + 3, 0), 6) / 6. */
static float hardswish_f(float x) { return x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f; }

#define UNARY_KERNEL(name)                                                                   \
    bool ref_##name(const IrNode *n, const Tensor *const *in, Tensor *out, char *err,       \
                    size_t errlen)                                                           \
    {                                                                                        \
        return unary(n, in, out, name##_f, err, errlen);                                     \
    }
UNARY_KERNEL(relu)
UNARY_KERNEL(relu6)
UNARY_KERNEL(gelu)
UNARY_KERNEL(silu)
UNARY_KERNEL(sigmoid)
UNARY_KERNEL(hardswish)
#undef UNARY_KERNEL

bool ref_softmax(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    if (!check_io(n, in, out, 1, 1, err, errlen) ||
        !check_out_shape(out, &in[0]->shape, err, errlen))
        return false;
    int64_t dim_attr;
    int dim;
    const Shape *s = &in[0]->shape;
    if (!get_int(n, "dim", &dim_attr, err, errlen))
        return false;
    if (s->rank == 0) { /* softmax of a scalar is 1 */
        ((float *)out->data)[0] = 1.0f;
        return true;
    }
    if (!geom_wrap_dim(dim_attr, s->rank, &dim))
        FAIL("softmax dim %lld is out of range for rank %d", (long long)dim_attr, s->rank);
    int64_t outer = geom_dims_product(s->d, 0, dim), len = s->d[dim], inner = geom_dims_product(s->d, dim + 1, s->rank);
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            softmax_strided(x + o * len * inner + i, y + o * len * inner + i, len, inner);
    return true;
}

/* ------------------------------------------------------- add, sub, mul */

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL } BinOp;

/*
 * NumPy broadcasting: operands whose shape differs from the output's are
 * first expanded to it (gather with stride 0), then combined element-wise.
 */
static bool binary(const IrNode *n, const Tensor *const *in, Tensor *out, BinOp op, char *err,
                   size_t errlen)
{
    if (!check_io(n, in, out, 2, 2, err, errlen))
        return false;
    Shape want;
    ShapeText ta, tb;
    if (!geom_broadcast_shape(&in[0]->shape, &in[1]->shape, &want))
        FAIL("shapes %s and %s do not broadcast", shape_text(&in[0]->shape, &ta),
             shape_text(&in[1]->shape, &tb));
    if (!check_out_shape(out, &want, err, errlen))
        return false;
    int64_t len = shape_numel(&want);
    const float *src[2];
    float *tmp[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        src[k] = in[k]->data;
        if (shape_equal(&in[k]->shape, &want))
            continue;
        int64_t st[SHAPE_MAX_RANK];
        geom_broadcast_strides(&in[k]->shape, NULL, &want, st);
        tmp[k] = alloc_floats(len);
        if (!tmp[k]) {
            free(tmp[0]);
            FAIL("out of memory broadcasting an operand");
        }
        gather(tmp[k], in[k]->data, want.d, want.rank, st);
        src[k] = tmp[k];
    }
    const float *a = src[0], *b = src[1];
    float *y = out->data;
    switch (op) {
    case BIN_ADD:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i] + b[i];
        break;
    case BIN_SUB:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i] - b[i];
        break;
    case BIN_MUL:
        for (int64_t i = 0; i < len; i++)
            y[i] = a[i] * b[i];
        break;
    }
    free(tmp[0]);
    free(tmp[1]);
    return true;
}

bool ref_add(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    return binary(n, in, out, BIN_ADD, err, errlen);
}
bool ref_sub(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    return binary(n, in, out, BIN_SUB, err, errlen);
}
bool ref_mul(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    return binary(n, in, out, BIN_MUL, err, errlen);
}

/* ---------------------------------------------------------------- pools */

typedef struct PoolGeom {
    int64_t planes, H, W, OH, OW; /* planes: every dim before the last two */
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    bool ceil_mode;
} PoolGeom;

/* Reads and checks the attributes of maxpool/avgpool on x [..., H, W]. */
static bool pool_geom(const IrNode *n, const Tensor *const *in, const Tensor *out,
                      bool has_dilation, PoolGeom *g, char *err, size_t errlen)
{
    if (!check_io(n, in, out, 1, 1, err, errlen))
        return false;
    int64_t k[2], s[2], p[2], d[2] = {1, 1}, ceil_mode;
    if (!get_int2(n, "kernel_size", k, err, errlen) || !get_int2(n, "stride", s, err, errlen) ||
        !get_int2(n, "padding", p, err, errlen) ||
        (has_dilation && !get_int2(n, "dilation", d, err, errlen)) ||
        !get_int(n, "ceil_mode", &ceil_mode, err, errlen))
        return false;
    const Shape *sx = &in[0]->shape;
    ShapeText t;
    if (sx->rank != 3 && sx->rank != 4)
        FAIL("pooling takes x [N, C, H, W] or [C, H, W], got %s", shape_text(sx, &t));
    if (k[0] < 1 || k[1] < 1 || s[0] < 1 || s[1] < 1 || d[0] < 1 || d[1] < 1)
        FAIL("pooling needs kernel_size, stride and dilation >= 1");
    if (p[0] < 0 || p[1] < 0 || p[0] > k[0] / 2 || p[1] > k[1] / 2)
        FAIL("pooling padding must be between 0 and half the kernel size");
    *g = (PoolGeom){.planes = geom_dims_product(sx->d, 0, sx->rank - 2), .H = sx->d[sx->rank - 2],
                    .W = sx->d[sx->rank - 1], .kh = k[0], .kw = k[1], .sh = s[0], .sw = s[1],
                    .ph = p[0], .pw = p[1], .dh = d[0], .dw = d[1], .ceil_mode = ceil_mode != 0};
    /* A size that overflows comes from a window far larger than the input. */
    if (!geom_pool_out_size(g->H, g->kh, g->sh, g->ph, g->dh, g->ceil_mode, &g->OH) ||
        !geom_pool_out_size(g->W, g->kw, g->sw, g->pw, g->dw, g->ceil_mode, &g->OW) ||
        g->OH < 1 || g->OW < 1)
        FAIL("the pooling window is larger than the padded input %s", shape_text(sx, &t));
    Shape want = *sx;
    want.d[want.rank - 2] = g->OH;
    want.d[want.rank - 1] = g->OW;
    return check_out_shape(out, &want, err, errlen);
}

/* Max over each window; padding counts as -inf; NaN propagates. */
bool ref_maxpool(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    PoolGeom g;
    if (!pool_geom(n, in, out, true, &g, err, errlen))
        return false;
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t pl = 0; pl < g.planes; pl++)
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                float m = -INFINITY;
                for (int64_t i = 0; i < g.kh; i++) {
                    int64_t ih = oh * g.sh - g.ph + i * g.dh;
                    if (ih < 0 || ih >= g.H)
                        continue;
                    for (int64_t j = 0; j < g.kw; j++) {
                        int64_t iw = ow * g.sw - g.pw + j * g.dw;
                        if (iw < 0 || iw >= g.W)
                            continue;
                        float v = x[(pl * g.H + ih) * g.W + iw];
                        if (v > m || isnan(v))
                            m = v;
                    }
                }
                y[(pl * g.OH + oh) * g.OW + ow] = m;
            }
    return true;
}

/*
 * Mean over each window, torch's divisor rule: the window is first clipped
 * to the padded input (this only bites when ceil_mode adds a window hanging
 * past it), which gives the divisor when count_include_pad; otherwise the
 * divisor is the number of real input elements in the window.
 */
bool ref_avgpool(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    PoolGeom g;
    int64_t include_pad;
    if (!pool_geom(n, in, out, false, &g, err, errlen) ||
        !get_int(n, "count_include_pad", &include_pad, err, errlen))
        return false;
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t pl = 0; pl < g.planes; pl++)
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
                int64_t h1 = h0 + g.kh, w1 = w0 + g.kw;
                if (h1 > g.H + g.ph)
                    h1 = g.H + g.ph;
                if (w1 > g.W + g.pw)
                    w1 = g.W + g.pw;
                int64_t padded_count = (h1 - h0) * (w1 - w0);
                h0 = h0 < 0 ? 0 : h0, w0 = w0 < 0 ? 0 : w0;
                h1 = h1 > g.H ? g.H : h1, w1 = w1 > g.W ? g.W : w1;
                if (h0 >= h1 || w0 >= w1)
                    continue; /* no real element: torch leaves 0 */
                double sum = 0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++)
                        sum += x[(pl * g.H + ih) * g.W + iw];
                int64_t count = include_pad ? padded_count : (h1 - h0) * (w1 - w0);
                y[(pl * g.OH + oh) * g.OW + ow] = (float)(sum / (double)count);
            }
    return true;
}

/* Bin i of n over a length L covers [floor(i*L/n), ceil((i+1)*L/n)). */
bool ref_adaptive_avgpool(const IrNode *n, const Tensor *const *in, Tensor *out, char *err,
                          size_t errlen)
{
    if (!check_io(n, in, out, 1, 1, err, errlen))
        return false;
    int64_t os[2];
    if (!get_int2(n, "output_size", os, err, errlen))
        return false;
    const Shape *sx = &in[0]->shape;
    ShapeText t;
    if (sx->rank != 3 && sx->rank != 4)
        FAIL("adaptive_avgpool takes x [N, C, H, W] or [C, H, W], got %s", shape_text(sx, &t));
    if (os[0] < 1 || os[1] < 1)
        FAIL("adaptive_avgpool output_size must be positive");
    Shape want = *sx;
    want.d[want.rank - 2] = os[0];
    want.d[want.rank - 1] = os[1];
    if (!check_out_shape(out, &want, err, errlen))
        return false;
    int64_t planes = geom_dims_product(sx->d, 0, sx->rank - 2), H = sx->d[sx->rank - 2], W = sx->d[sx->rank - 1];
    int64_t OH = os[0], OW = os[1];
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
                int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
                double sum = 0;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++)
                        sum += x[(pl * H + ih) * W + iw];
                int64_t count = (h1 - h0) * (w1 - w0);
                y[(pl * OH + oh) * OW + ow] = count ? (float)(sum / (double)count) : 0.0f;
            }
    return true;
}

/* The mean over every dim after the first two, whatever rank the output keeps. */
bool ref_global_avgpool(const IrNode *n, const Tensor *const *in, Tensor *out, char *err,
                        size_t errlen)
{
    if (!check_io(n, in, out, 1, 1, err, errlen))
        return false;
    const Shape *sx = &in[0]->shape;
    ShapeText ta, tb;
    if (sx->rank < 3)
        FAIL("global_avgpool takes x [N, C, ...], got %s", shape_text(sx, &ta));
    int64_t planes = sx->d[0] * sx->d[1], S = geom_dims_product(sx->d, 2, sx->rank);
    const Shape *so = &out->shape;
    if (so->rank < 2 || so->d[0] != sx->d[0] || so->d[1] != sx->d[1] ||
        shape_numel(so) != planes)
        FAIL("output %s does not match global_avgpool of %s", shape_text(so, &tb),
             shape_text(sx, &ta));
    const float *x = in[0]->data;
    float *y = out->data;
    for (int64_t pl = 0; pl < planes; pl++) {
        double sum = 0;
        for (int64_t i = 0; i < S; i++)
            sum += x[pl * S + i];
        y[pl] = S ? (float)(sum / (double)S) : 0.0f;
    }
    return true;
}

/* ------------------------------------------------- layout and indexing */

/* flatten, reshape, dropout (eval): the elements in the same order. */
bool ref_copy(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    if (!check_io(n, in, out, 1, 1, err, errlen))
        return false;
    ShapeText ta, tb;
    if (shape_numel(&in[0]->shape) != shape_numel(&out->shape))
        FAIL("cannot copy %s into %s: element counts differ", shape_text(&in[0]->shape, &ta),
             shape_text(&out->shape, &tb));
    memcpy(out->data, in[0]->data, (size_t)shape_numel(&out->shape) * sizeof(float));
    return true;
}

/* out[i0, i1, ...] = x[..., i_k at dim perm[k], ...]. perm must be a permutation. */
static bool permute_into(const Tensor *x, const int *perm, Tensor *out, char *err, size_t errlen)
{
    const Shape *sx = &x->shape;
    int64_t st[SHAPE_MAX_RANK], pst[SHAPE_MAX_RANK];
    Shape want = {.rank = sx->rank};
    geom_contiguous_strides(sx, st);
    for (int i = 0; i < sx->rank; i++) {
        want.d[i] = sx->d[perm[i]];
        pst[i] = st[perm[i]];
    }
    if (!check_out_shape(out, &want, err, errlen))
        return false;
    gather(out->data, x->data, want.d, want.rank, pst);
    return true;
}

bool ref_transpose(const IrNode *n, const Tensor *const *in, Tensor *out, char *err,
                   size_t errlen)
{
    int64_t d0, d1;
    if (!check_io(n, in, out, 1, 1, err, errlen) || !get_int(n, "dim0", &d0, err, errlen) ||
        !get_int(n, "dim1", &d1, err, errlen))
        return false;
    /* geom_wrap_dim lets a scalar through with dims 0 and -1, as torch does:
     * perm[0] = 0 then copies its one element. */
    int rank = in[0]->shape.rank, a, b, perm[SHAPE_MAX_RANK] = {0};
    if (!geom_wrap_dim(d0, rank, &a) || !geom_wrap_dim(d1, rank, &b))
        FAIL("transpose dims %lld, %lld are out of range for rank %d", (long long)d0,
             (long long)d1, rank);
    for (int i = 0; i < rank; i++)
        perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return permute_into(in[0], perm, out, err, errlen);
}

bool ref_permute(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    const int64_t *dims;
    int count;
    if (!check_io(n, in, out, 1, 1, err, errlen) ||
        !get_ints(n, "dims", &dims, &count, err, errlen))
        return false;
    int rank = in[0]->shape.rank, perm[SHAPE_MAX_RANK];
    bool seen[SHAPE_MAX_RANK] = {false};
    if (count != rank)
        FAIL("permute needs %d dims, got %d", rank, count);
    for (int i = 0; i < rank; i++) {
        if (!geom_wrap_dim(dims[i], rank, &perm[i]) || seen[perm[i]])
            FAIL("permute dims are not a permutation of 0..%d", rank - 1);
        seen[perm[i]] = true;
    }
    return permute_into(in[0], perm, out, err, errlen);
}

/* Broadcasts x to the output shape (NumPy rules; new dims may be added in front). */
bool ref_expand(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    if (!check_io(n, in, out, 1, 1, err, errlen))
        return false;
    const Shape *sx = &in[0]->shape, *so = &out->shape;
    int64_t st[SHAPE_MAX_RANK];
    ShapeText ta, tb;
    if (!geom_broadcast_strides(sx, NULL, so, st))
        FAIL("cannot expand %s to %s", shape_text(sx, &ta), shape_text(so, &tb));
    gather(out->data, in[0]->data, so->d, so->rank, st);
    return true;
}

bool ref_concat(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    int64_t dim_attr;
    int dim;
    if (!check_io(n, in, out, 1, -1, err, errlen) || !get_int(n, "dim", &dim_attr, err, errlen))
        return false;
    const Shape *s0 = &in[0]->shape;
    if (s0->rank == 0 || !geom_wrap_dim(dim_attr, s0->rank, &dim))
        FAIL("concat dim %lld is out of range for rank %d", (long long)dim_attr, s0->rank);
    Shape want = *s0;
    want.d[dim] = 0;
    for (int k = 0; k < n->nin; k++) {
        const Shape *sk = &in[k]->shape;
        bool ok = sk->rank == s0->rank;
        for (int i = 0; ok && i < s0->rank; i++)
            ok = i == dim || sk->d[i] == s0->d[i];
        ShapeText ta, tb;
        if (!ok)
            FAIL("concat input %d %s does not match input 0 %s outside dim %d", k,
                 shape_text(sk, &ta), shape_text(s0, &tb), dim);
        want.d[dim] += sk->d[dim];
    }
    if (!check_out_shape(out, &want, err, errlen))
        return false;
    int64_t outer = geom_dims_product(s0->d, 0, dim), inner = geom_dims_product(s0->d, dim + 1, s0->rank);
    float *y = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n->nin; k++) {
            int64_t chunk = in[k]->shape.d[dim] * inner;
            memcpy(y, (const float *)in[k]->data + o * chunk, (size_t)chunk * sizeof(float));
            y += chunk;
        }
    return true;
}

/* x[..., start:end:step, ...] with Python's clamping of start and end. */
bool ref_slice(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    int64_t dim_attr, start, end, step;
    int dim;
    if (!check_io(n, in, out, 1, 1, err, errlen) || !get_int(n, "dim", &dim_attr, err, errlen) ||
        !get_int(n, "start", &start, err, errlen) || !get_int(n, "end", &end, err, errlen) ||
        !get_int(n, "step", &step, err, errlen))
        return false;
    const Shape *sx = &in[0]->shape;
    if (sx->rank == 0 || !geom_wrap_dim(dim_attr, sx->rank, &dim))
        FAIL("slice dim %lld is out of range for rank %d", (long long)dim_attr, sx->rank);
    if (step < 1)
        FAIL("slice step must be positive, got %lld", (long long)step);
    int64_t size = sx->d[dim];
    if (start < 0)
        start += size;
    if (end < 0)
        end += size;
    start = start < 0 ? 0 : start > size ? size : start;
    end = end < start ? start : end > size ? size : end;
    int64_t st[SHAPE_MAX_RANK];
    geom_contiguous_strides(sx, st);
    Shape want = *sx;
    want.d[dim] = (end - start + step - 1) / step;
    if (!check_out_shape(out, &want, err, errlen))
        return false;
    int64_t base = start * st[dim];
    st[dim] *= step;
    gather(out->data, (const float *)in[0]->data + base, want.d, want.rank, st);
    return true;
}

/* x[..., index, ...]: the dim is dropped; a negative index counts from the end. */
bool ref_select(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    int64_t dim_attr, index;
    int dim;
    if (!check_io(n, in, out, 1, 1, err, errlen) || !get_int(n, "dim", &dim_attr, err, errlen) ||
        !get_int(n, "index", &index, err, errlen))
        return false;
    const Shape *sx = &in[0]->shape;
    if (sx->rank == 0 || !geom_wrap_dim(dim_attr, sx->rank, &dim))
        FAIL("select dim %lld is out of range for rank %d", (long long)dim_attr, sx->rank);
    int64_t size = sx->d[dim];
    if (index < -size || index >= size)
        FAIL("select index %lld is out of range for size %lld", (long long)index, (long long)size);
    if (index < 0)
        index += size;
    int64_t st[SHAPE_MAX_RANK], sel_st[SHAPE_MAX_RANK];
    geom_contiguous_strides(sx, st);
    Shape want = {.rank = sx->rank - 1};
    for (int i = 0, j = 0; i < sx->rank; i++)
        if (i != dim) {
            want.d[j] = sx->d[i];
            sel_st[j++] = st[i];
        }
    if (!check_out_shape(out, &want, err, errlen))
        return false;
    gather(out->data, (const float *)in[0]->data + index * st[dim], want.d, want.rank, sel_st);
    return true;
}

/* ------------------------------------------------------------------ mha */

/*
 * nn.MultiheadAttention(batch_first=True) self-attention in eval mode:
 *   [q k v] = x · in_proj_weight^T + in_proj_bias   (q, k, v rows in that order)
 *   per head h: o_h = softmax((q_h / sqrt(head_dim)) · k_h^T) · v_h
 *   y = concat_h(o_h) · out_proj.weight^T + out_proj.bias
 * x is [B, L, E], or [L, E] unbatched.
 */
bool ref_mha(const IrNode *n, const Tensor *const *in, Tensor *out, char *err, size_t errlen)
{
    int64_t heads;
    if (!check_io(n, in, out, 5, 5, err, errlen) || !get_int(n, "num_heads", &heads, err, errlen))
        return false;
    const Shape *sx = &in[0]->shape;
    ShapeText ta, tb;
    if (sx->rank != 2 && sx->rank != 3)
        FAIL("mha takes x [B, L, E] or [L, E], got %s", shape_text(sx, &ta));
    int64_t B = sx->rank == 3 ? sx->d[0] : 1, L = sx->d[sx->rank - 2], E = sx->d[sx->rank - 1];
    if (heads < 1 || E % heads != 0)
        FAIL("embedding dim %lld is not divisible by num_heads %lld", (long long)E,
             (long long)heads);
    const Shape *sw = &in[1]->shape, *sow = &in[3]->shape;
    if (sw->rank != 2 || sw->d[0] != 3 * E || sw->d[1] != E)
        FAIL("in_proj_weight has shape %s, expected [%lld, %lld]", shape_text(sw, &ta),
             (long long)(3 * E), (long long)E);
    if (sow->rank != 2 || sow->d[0] != E || sow->d[1] != E)
        FAIL("out_proj.weight has shape %s, expected [%lld, %lld]", shape_text(sow, &tb),
             (long long)E, (long long)E);
    if (!check_vector(in[2], 3 * E, "in_proj_bias", err, errlen) ||
        !check_vector(in[4], E, "out_proj.bias", err, errlen) ||
        !check_out_shape(out, sx, err, errlen))
        return false;

    int64_t hd = E / heads, R = B * L, E3 = 3 * E;
    float *qkv = alloc_floats(R * E3);
    float *kt = alloc_floats(hd * L);
    float *scores = alloc_floats(L * L);
    float *attn = alloc_floats(R * E);
    bool ok = qkv && kt && scores && attn;
    if (!ok)
        fail(err, errlen, "out of memory in attention over %lld tokens", (long long)L);
    if (ok)
        ok = linear_rows(in[0]->data, R, E, in[1]->data, in[2]->data, E3, qkv, err, errlen);
    float scale = sqrtf((float)hd); /* torch divides q by math.sqrt(head_dim) */
    for (int64_t r = 0; ok && r < R; r++)
        for (int64_t j = 0; j < E; j++)
            qkv[r * E3 + j] /= scale;
    for (int64_t b = 0; ok && b < B; b++)
        for (int64_t h = 0; ok && h < heads; h++) {
            const float *q = qkv + b * L * E3 + h * hd, *k = q + E, *v = q + 2 * E;
            int64_t dims[2] = {hd, L}, strides[2] = {1, E3};
            gather(kt, k, dims, 2, strides); /* k_h^T: [hd, L] */
            ok = gemm(L, L, hd, q, E3, kt, L, scores, L, NULL, NULL, err, errlen);
            for (int64_t i = 0; ok && i < L; i++)
                softmax_strided(scores + i * L, scores + i * L, L, 1);
            ok = ok && gemm(L, hd, L, scores, L, v, E3, attn + b * L * E + h * hd, E, NULL, NULL,
                            err, errlen);
        }
    if (ok)
        ok = linear_rows(attn, R, E, in[3]->data, in[4]->data, E, out->data, err, errlen);
    free(qkv);
    free(kt);
    free(scores);
    free(attn);
    return ok;
}
