/*
 * test_ref_kernels.c — the reference kernels (runtime/ref_kernels.c).
 *
 * Each kernel is checked against values computed independently here: tiny
 * examples worked out by hand (the expected numbers are in the test), and,
 * where the index arithmetic is the risk (conv2d, pools, matmul
 * broadcasting, layout ops), a brute-force re-implementation written as the
 * textbook formula on random data over many attribute combinations. Nodes
 * are built through the IR API, so the shape rules of ir/ops.c and the
 * kernels are checked against each other as well.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../runtime/ref_kernels.h"
#include "ir_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

/* Deterministic uniform numbers in [-1, 1). */
static uint32_t rng_state = 12345;
static float frand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) / 8388608.0 - 1.0);
}

static float *fdata(const Tensor *t) { return t->data; }

/* A tensor of shape s holding vals (count must match), or random values when vals is NULL. */
static Tensor *tens(Shape s, const float *vals)
{
    Tensor *t = tensor_new(DT_F32, &s);
    assert_non_null(t);
    int64_t n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        fdata(t)[i] = vals ? vals[i] : frand();
    return t;
}

/* 0, 1, 2, ... */
static Tensor *iota(Shape s)
{
    Tensor *t = tens(s, NULL);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        fdata(t)[i] = (float)i;
    return t;
}

/* A graph value with t's shape (an input; kernels only look at the shape). */
static IrValue *val(IrGraph *g, const Tensor *t)
{
    static int k;
    char name[32];
    snprintf(name, sizeof name, "v%d", k++);
    return ir_add_input(g, name, DT_F32, t->shape, loc_none());
}

/* Builds a node of op over tensors ts (values created for them), runs the
 * kernel and returns its output. */
static Tensor *run_op(RefKernel k, OpKind op, int nin, Tensor *const *ts, const char *given)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *v[16];
    for (int i = 0; i < nin; i++)
        v[i] = val(g, ts[i]);
    IrNode *n = add_node(g, op, NULL, given, nin, v, loc_none());
    Tensor *out = tensor_new(DT_F32, &n->out->shape);
    char err[256] = "";
    if (!k(n, (const Tensor *const *)ts, out, err, sizeof err))
        fail_msg("%s kernel failed: %s", op_info(op)->name, err);
    ir_graph_free(g);
    return out;
}

static void free_all(Tensor **ts, int n)
{
    for (int i = 0; i < n; i++)
        tensor_free(ts[i]);
}

/* |got - want| <= tol * (1 + |want|) for every element; shape checked first. */
static void expect_close(const Tensor *got, Shape want_shape, const double *want, double tol)
{
    char a[128], b[128];
    if (!shape_equal(&got->shape, &want_shape))
        fail_msg("shape %s, expected %s", shape_str(&got->shape, a, sizeof a),
                 shape_str(&want_shape, b, sizeof b));
    for (int64_t i = 0; i < shape_numel(&want_shape); i++) {
        double g = fdata(got)[i];
        bool both_nan = isnan(g) && isnan(want[i]);
        if (!both_nan && !(fabs(g - want[i]) <= tol * (1 + fabs(want[i]))))
            fail_msg("element %lld: got %.9g, expected %.9g", (long long)i, g, want[i]);
    }
}

static void expect_floats(const Tensor *got, Shape want_shape, const float *want, double tol)
{
    int64_t n = shape_numel(&want_shape);
    double *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    for (int64_t i = 0; i < n; i++)
        w[i] = want[i];
    expect_close(got, want_shape, w, tol);
    free(w);
}

#define TOL 1e-5

/* ------------------------------------------------------------- conv2d */

static void test_conv2d_by_hand(void **state)
{
    /* 3x3 input 1..9, a 2x2 kernel of ones, bias 0.5: sums of each 2x2 block. */
    float xs[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, ws[] = {1, 1, 1, 1}, bs[] = {0.5f};
    Tensor *t[] = {tens(SH(4, 1, 1, 3, 3), xs), tens(SH(4, 1, 1, 2, 2), ws),
                   tens(SH(1, 1), bs)};
    Tensor *y = run_op(ref_conv2d, OP_CONV2D, 3, t, "out_channels=1 kernel_size=2");
    expect_floats(y, SH(4, 1, 1, 2, 2), (float[]){12.5f, 16.5f, 24.5f, 28.5f}, 0);
    tensor_free(y);

    /* padding 1, stride 2, no bias: corners see 2x2 of the input. */
    Tensor *t2[] = {t[0], tens(SH(4, 1, 1, 3, 3), (float[]){1, 1, 1, 1, 1, 1, 1, 1, 1})};
    y = run_op(ref_conv2d, OP_CONV2D, 2, t2,
               "out_channels=1 kernel_size=3 stride=2 padding=1 bias=false");
    expect_floats(y, SH(4, 1, 1, 2, 2),
                  (float[]){1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9}, 0);
    tensor_free(y);
    tensor_free(t2[1]);
    free_all(t, 3);
}

/* The textbook 7-loop definition, in double. */
static void conv_naive(const Tensor *x, const Tensor *w, const Tensor *b, const int64_t s[2],
                       const int64_t p[2], const int64_t d[2], int64_t groups, Shape os,
                       double *y)
{
    int64_t N = x->shape.d[0], C = x->shape.d[1], H = x->shape.d[2], W = x->shape.d[3];
    int64_t O = w->shape.d[0], Cg = w->shape.d[1], KH = w->shape.d[2], KW = w->shape.d[3];
    int64_t OH = os.d[2], OW = os.d[3], Og = O / groups;
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = b ? fdata(b)[o] : 0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < KH; i++)
                            for (int64_t j = 0; j < KW; j++) {
                                int64_t ih = oh * s[0] - p[0] + i * d[0];
                                int64_t iw = ow * s[1] - p[1] + j * d[1];
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                int64_t ci = (o / Og) * Cg + c;
                                acc += (double)fdata(x)[((n * C + ci) * H + ih) * W + iw] *
                                       fdata(w)[((o * Cg + c) * KH + i) * KW + j];
                            }
                    y[((n * O + o) * OH + oh) * OW + ow] = acc;
                }
}

static void test_conv2d_brute_force(void **state)
{
    static const struct {
        int N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, g, bias;
    } cases[] = {
        {1, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* 3x3 same */
        {2, 4, 9, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0},   /* stride 2, N = 2 */
        {1, 4, 10, 11, 4, 3, 2, 1, 2, 2, 0, 2, 1, 1, 1}, /* rectangular, dilation */
        {1, 6, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, 1},   /* depthwise */
        {1, 6, 9, 9, 12, 3, 3, 2, 2, 1, 1, 1, 1, 3, 0},  /* groups 3, 2 outputs each */
        {1, 8, 12, 12, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1}, /* 1x1, P > one panel */
        {1, 3, 17, 13, 9, 5, 5, 3, 2, 2, 2, 1, 1, 1, 1}, /* 5x5, uneven strides */
        {1, 2, 5, 5, 3, 7, 7, 1, 1, 3, 3, 1, 1, 1, 1},   /* kernel larger than input */
        {1, 4, 6, 6, 4, 2, 2, 1, 1, 0, 0, 3, 3, 2, 0},   /* dilation 3 with groups */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char attrs[256];
        snprintf(attrs, sizeof attrs,
                 "out_channels=%d kernel_size=%d,%d stride=%d,%d padding=%d,%d "
                 "dilation=%d,%d groups=%d bias=%s",
                 cases[c].O, cases[c].kh, cases[c].kw, cases[c].sh, cases[c].sw, cases[c].ph,
                 cases[c].pw, cases[c].dh, cases[c].dw, cases[c].g,
                 cases[c].bias ? "true" : "false");
        Tensor *t[3] = {tens(SH(4, cases[c].N, cases[c].C, cases[c].H, cases[c].W), NULL),
                        tens(SH(4, cases[c].O, cases[c].C / cases[c].g, cases[c].kh,
                                 cases[c].kw),
                             NULL),
                        cases[c].bias ? tens(SH(1, cases[c].O), NULL) : NULL};
        Tensor *y = run_op(ref_conv2d, OP_CONV2D, cases[c].bias ? 3 : 2, t, attrs);
        int64_t s[2] = {cases[c].sh, cases[c].sw}, p[2] = {cases[c].ph, cases[c].pw},
                d[2] = {cases[c].dh, cases[c].dw};
        double *want = malloc((size_t)tensor_numel(y) * sizeof *want);
        conv_naive(t[0], t[1], t[2], s, p, d, cases[c].g, y->shape, want);
        print_message("conv2d case %zu: %s\n", c, attrs);
        expect_close(y, y->shape, want, TOL);
        free(want);
        tensor_free(y);
        free_all(t, 3);
    }
}

/* ----------------------------------------------- linear, matmul, bmm */

static void test_linear(void **state)
{
    /* x [2, 3], W [2, 3], b [2]: y = x W^T + b. */
    Tensor *t[] = {tens(SH(2, 2, 3), (float[]){1, 2, 3, 4, 5, 6}),
                   tens(SH(2, 2, 3), (float[]){1, 0, -1, 0.5f, 0.5f, 0.5f}),
                   tens(SH(1, 2), (float[]){10, 20})};
    Tensor *y = run_op(ref_linear, OP_LINEAR, 3, t, "out_features=2");
    expect_floats(y, SH(2, 2, 2), (float[]){1 - 3 + 10, 3 + 20, 4 - 6 + 10, 7.5f + 20}, 0);
    tensor_free(y);
    free_all(t, 3);

    /* Rank 3, more outputs than a panel, against the formula. */
    Tensor *r[] = {tens(SH(3, 2, 5, 33), NULL), tens(SH(2, 70, 33), NULL)};
    y = run_op(ref_linear, OP_LINEAR, 2, r, "out_features=70 bias=false");
    double *want = malloc(2 * 5 * 70 * sizeof *want);
    for (int row = 0; row < 10; row++)
        for (int o = 0; o < 70; o++) {
            double acc = 0;
            for (int i = 0; i < 33; i++)
                acc += (double)fdata(r[0])[row * 33 + i] * fdata(r[1])[o * 33 + i];
            want[row * 70 + o] = acc;
        }
    expect_close(y, SH(3, 2, 5, 70), want, TOL);
    free(want);
    tensor_free(y);
    free_all(r, 2);
}

/* c[n x m] = a[n x k] b[k x m] by the definition, in double. */
static void matmul_naive(const float *a, const float *b, int64_t n, int64_t k, int64_t m,
                         double *c)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) {
            double acc = 0;
            for (int64_t q = 0; q < k; q++)
                acc += (double)a[i * k + q] * b[q * m + j];
            c[i * m + j] = acc;
        }
}

static void test_matmul(void **state)
{
    /* 2x2 by hand. */
    Tensor *t[] = {tens(SH(2, 2, 2), (float[]){1, 2, 3, 4}),
                   tens(SH(2, 2, 2), (float[]){5, 6, 7, 8})};
    Tensor *y = run_op(ref_matmul, OP_MATMUL, 2, t, "");
    expect_floats(y, SH(2, 2, 2), (float[]){19, 22, 43, 50}, 0);
    tensor_free(y);
    free_all(t, 2);

    /* 1-D x 1-D: a dot product, rank 0. */
    Tensor *v[] = {tens(SH(1, 3), (float[]){1, 2, 3}), tens(SH(1, 3), (float[]){4, 5, 6})};
    y = run_op(ref_matmul, OP_MATMUL, 2, v, "");
    expect_floats(y, SH(0), (float[]){32}, 0);
    tensor_free(y);

    /* 1-D x 2-D: a row vector, the row dim dropped. 2-D x 1-D: a column. */
    Tensor *m23 = tens(SH(2, 3, 2), (float[]){1, 2, 3, 4, 5, 6});
    Tensor *vm[] = {v[0], m23};
    y = run_op(ref_matmul, OP_MATMUL, 2, vm, "");
    expect_floats(y, SH(1, 2), (float[]){1 + 6 + 15, 2 + 8 + 18}, 0);
    tensor_free(y);
    Tensor *m32 = tens(SH(2, 2, 3), (float[]){1, 2, 3, 4, 5, 6});
    Tensor *mv[] = {m32, v[1]};
    y = run_op(ref_matmul, OP_MATMUL, 2, mv, "");
    expect_floats(y, SH(1, 2), (float[]){4 + 10 + 18, 16 + 25 + 36}, 0);
    tensor_free(y);
    free_all(v, 2);
    tensor_free(m23);
    tensor_free(m32);

    /* Batch broadcasting: [2, 1, 3, 4] x [3, 4, 5] -> [2, 3, 3, 5]. */
    Tensor *bb[] = {tens(SH(4, 2, 1, 3, 4), NULL), tens(SH(3, 3, 4, 5), NULL)};
    y = run_op(ref_matmul, OP_MATMUL, 2, bb, "");
    double want[2 * 3 * 3 * 5];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            matmul_naive(fdata(bb[0]) + i * 12, fdata(bb[1]) + j * 20, 3, 4, 5,
                         want + (i * 3 + j) * 15);
    expect_close(y, SH(4, 2, 3, 3, 5), want, TOL);
    tensor_free(y);
    free_all(bb, 2);

    /* 1-D against a batch: [4] x [2, 4, 3] -> [2, 3]. */
    Tensor *vb[] = {tens(SH(1, 4), NULL), tens(SH(3, 2, 4, 3), NULL)};
    y = run_op(ref_matmul, OP_MATMUL, 2, vb, "");
    double want2[6];
    for (int i = 0; i < 2; i++)
        matmul_naive(fdata(vb[0]), fdata(vb[1]) + i * 12, 1, 4, 3, want2 + i * 3);
    expect_close(y, SH(2, 2, 3), want2, TOL);
    tensor_free(y);
    free_all(vb, 2);
}

static void test_bmm(void **state)
{
    Tensor *t[] = {tens(SH(3, 3, 5, 70), NULL), tens(SH(3, 3, 70, 67), NULL)};
    Tensor *y = run_op(ref_matmul, OP_BMM, 2, t, "");
    double *want = malloc(3 * 5 * 67 * sizeof *want);
    for (int b = 0; b < 3; b++)
        matmul_naive(fdata(t[0]) + b * 350, fdata(t[1]) + b * 70 * 67, 5, 70, 67,
                     want + b * 5 * 67);
    expect_close(y, SH(3, 3, 5, 67), want, TOL);
    free(want);
    tensor_free(y);
    free_all(t, 2);
}

/* ------------------------------------------------------ normalization */

static void test_batchnorm(void **state)
{
    /* x [1, 2, 2]: channel 0 with mean 1, var 4 (eps 0), weight 2, bias 1:
     * (x - 1) / 2 * 2 + 1 = x; channel 1 mean 0 var 1 weight 3 bias -1. */
    Tensor *t[] = {tens(SH(3, 1, 2, 2), (float[]){3, 5, 1, -2}),
                   tens(SH(1, 2), (float[]){2, 3}), tens(SH(1, 2), (float[]){1, -1}),
                   tens(SH(1, 2), (float[]){1, 0}), tens(SH(1, 2), (float[]){4, 1})};
    Tensor *y = run_op(ref_batchnorm, OP_BATCHNORM, 5, t, "eps=0");
    expect_floats(y, SH(3, 1, 2, 2), (float[]){3, 5, 2, -7}, 1e-7);
    tensor_free(y);
    tensor_free(t[0]);

    /* Rank 2 [N, C] with the default eps 1e-5. */
    t[0] = tens(SH(2, 2, 2), (float[]){1, 2, 3, 4});
    y = run_op(ref_batchnorm, OP_BATCHNORM, 5, t, "");
    double want[4];
    for (int i = 0; i < 4; i++) {
        int c = i % 2;
        double w = c ? 3 : 2, b = c ? -1 : 1, m = c ? 0 : 1, v = c ? 1 : 4;
        want[i] = (fdata(t[0])[i] - m) / sqrt(v + 1e-5) * w + b;
    }
    expect_close(y, SH(2, 2, 2), want, 1e-6);
    tensor_free(y);
    free_all(t, 5);
}

static void test_layernorm(void **state)
{
    /* Row [1, 2, 3, 4]: mean 2.5, biased variance 1.25. */
    Tensor *t[] = {tens(SH(2, 2, 4), (float[]){1, 2, 3, 4, 2, 2, 2, 2}),
                   tens(SH(1, 4), (float[]){1, 2, 1, 1}), tens(SH(1, 4), (float[]){0, 0, 0, 1})};
    Tensor *y = run_op(ref_layernorm, OP_LAYERNORM, 3, t, "eps=1e-3");
    double s = 1 / sqrt(1.25 + 1e-3);
    double want[] = {-1.5 * s, -0.5 * s * 2, 0.5 * s, 1.5 * s + 1, 0, 0, 0, 1};
    expect_close(y, SH(2, 2, 4), want, 1e-6);
    tensor_free(y);
    free_all(t, 3);
}

/* dim = 1 (torchvision's LayerNorm2d): each column x[n, :, w] is
 * normalized on its own, with the per-channel weight and bias. */
static void test_layernorm_over_channels(void **state)
{
    float x[] = {1, 5, 2, 5, 6, 5, /* n = 0: columns [1, 2, 6] and [5, 5, 5] */
                 0, -1, 3, 0, 0, 8}; /* n = 1: columns [0, 3, 0] and [-1, 0, 8] */
    float w[] = {1, 2, 3}, b[] = {0, 1, -1};
    Tensor *t[] = {tens(SH(3, 2, 3, 2), x), tens(SH(1, 3), w), tens(SH(1, 3), b)};
    Tensor *y = run_op(ref_layernorm, OP_LAYERNORM, 3, t, "eps=1e-3 dim=1");
    double want[12];
    for (int n = 0; n < 2; n++)
        for (int col = 0; col < 2; col++) {
            double mean = 0, var = 0;
            for (int c = 0; c < 3; c++)
                mean += x[(n * 3 + c) * 2 + col] / 3.0;
            for (int c = 0; c < 3; c++)
                var += pow(x[(n * 3 + c) * 2 + col] - mean, 2) / 3.0;
            for (int c = 0; c < 3; c++) {
                int i = (n * 3 + c) * 2 + col;
                want[i] = (x[i] - mean) / sqrt(var + 1e-3) * w[c] + b[c];
            }
        }
    expect_close(y, SH(3, 2, 3, 2), want, 1e-6);
    tensor_free(y);
    free_all(t, 3);
}

/* -------------------------------------------------------- activations */

static void test_activations(void **state)
{
    float xs[] = {-4, -3, -1, 0, 0.5f, 1, 2, 3, 7, NAN};
    Shape s = SH(1, 10);
    Tensor *t[] = {tens(s, xs)};
    static const struct {
        RefKernel k;
        OpKind op;
        double want[10];
    } cases[] = {
        {ref_relu, OP_RELU, {0, 0, 0, 0, 0.5, 1, 2, 3, 7, NAN}},
        {ref_relu6, OP_RELU6, {0, 0, 0, 0, 0.5, 1, 2, 3, 6, NAN}},
        /* 0.5 x (1 + erf(x / sqrt 2)), computed with mpmath at 30 digits */
        {ref_gelu, OP_GELU, {-1.2668496733247969e-04, -4.0496940948902836e-03,
                             -0.15865525393145705, 0, 0.34573123063700655, 0.84134474606854295,
                             1.9544997361036416, 2.9959503059051097, 6.9999999999910413, NAN}},
        {ref_sigmoid, OP_SIGMOID, {0.01798620996209156, 0.04742587317756678, 0.2689414213699951,
                                   0.5, 0.6224593312018546, 0.7310585786300049,
                                   0.8807970779778823, 0.9525741268224334, 0.9990889488055994,
                                   NAN}},
        {ref_silu, OP_SILU, {-0.07194483984836624, -0.14227761953270035, -0.2689414213699951, 0,
                             0.3112296656009273, 0.7310585786300049, 1.7615941559557646,
                             2.8577223804673, 6.993622641639196, NAN}},
        /* x * relu6(x + 3) / 6 */
        {ref_hardswish, OP_HARDSWISH, {0, 0, -1.0 / 3, 0, 0.5 * 3.5 / 6, 4.0 / 6, 2 * 5.0 / 6, 3,
                                       7, NAN}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        print_message("%s\n", op_info(cases[c].op)->name);
        Tensor *y = run_op(cases[c].k, cases[c].op, 1, t, "");
        expect_close(y, s, cases[c].want, 1e-6);
        tensor_free(y);
    }
    tensor_free(t[0]);
}

static void test_softmax(void **state)
{
    /* Known values; huge inputs must not overflow (the max is subtracted). */
    Tensor *t[] = {tens(SH(2, 2, 3), (float[]){1, 2, 3, 1000, 1000, 1001})};
    Tensor *y = run_op(ref_softmax, OP_SOFTMAX, 1, t, "");
    double e = exp(1.0), z = 1 + e + e * e;
    double want[] = {1 / z, e / z, e * e / z, 1 / (2 + e), 1 / (2 + e), e / (2 + e)};
    expect_close(y, SH(2, 2, 3), want, 1e-6);
    tensor_free(y);
    tensor_free(t[0]);

    /* dim = 1 of a rank-3 tensor: every column sums to 1 and matches the formula. */
    t[0] = tens(SH(3, 2, 5, 3), NULL);
    y = run_op(ref_softmax, OP_SOFTMAX, 1, t, "dim=1");
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 3; c++) {
            double sum = 0, den = 0;
            for (int b = 0; b < 5; b++)
                den += exp(fdata(t[0])[(a * 5 + b) * 3 + c]);
            for (int b = 0; b < 5; b++) {
                float got = fdata(y)[(a * 5 + b) * 3 + c];
                sum += got;
                assert_true(fabs(got - exp(fdata(t[0])[(a * 5 + b) * 3 + c]) / den) < 1e-6);
            }
            assert_true(fabs(sum - 1) < 1e-6);
        }
    tensor_free(y);
    tensor_free(t[0]);
}

/* ---------------------------------------------------- add, sub, mul */

static void test_binary_broadcast(void **state)
{
    Tensor *t[] = {tens(SH(2, 2, 3), (float[]){1, 2, 3, 4, 5, 6}),
                   tens(SH(1, 3), (float[]){10, 20, 30})};
    Tensor *y = run_op(ref_add, OP_ADD, 2, t, "");
    expect_floats(y, SH(2, 2, 3), (float[]){11, 22, 33, 14, 25, 36}, 0);
    tensor_free(y);
    y = run_op(ref_sub, OP_SUB, 2, t, "");
    expect_floats(y, SH(2, 2, 3), (float[]){-9, -18, -27, -6, -15, -24}, 0);
    tensor_free(y);
    free_all(t, 2);

    /* [2, 1, 3] * [4, 1] -> [2, 4, 3], both operands stretched. */
    Tensor *u[] = {tens(SH(3, 2, 1, 3), NULL), tens(SH(2, 4, 1), NULL)};
    y = run_op(ref_mul, OP_MUL, 2, u, "");
    double want[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++)
                want[(i * 4 + j) * 3 + k] = (double)fdata(u[0])[i * 3 + k] * fdata(u[1])[j];
    expect_close(y, SH(3, 2, 4, 3), want, 1e-7);
    tensor_free(y);
    /* Scalar-like [1] operand on the left. */
    Tensor *v[] = {tens(SH(1, 1), (float[]){2}), u[0]};
    y = run_op(ref_sub, OP_SUB, 2, v, "");
    for (int i = 0; i < 6; i++)
        assert_true(fdata(y)[i] == 2 - fdata(u[0])[i]);
    tensor_free(y);
    tensor_free(v[0]);
    free_all(u, 2);
}

/* --------------------------------------------------------------- pools */

static void test_maxpool(void **state)
{
    /* 5x5 of 0..24, kernel 2, stride 2, ceil_mode: the last row/column of
     * windows hangs over the edge and sees only the input. */
    Tensor *t[] = {iota(SH(4, 1, 1, 5, 5))};
    Tensor *y = run_op(ref_maxpool, OP_MAXPOOL, 1, t, "kernel_size=2 ceil_mode=true");
    expect_floats(y, SH(4, 1, 1, 3, 3), (float[]){6, 8, 9, 16, 18, 19, 21, 23, 24}, 0);
    tensor_free(y);
    y = run_op(ref_maxpool, OP_MAXPOOL, 1, t, "kernel_size=2");
    expect_floats(y, SH(4, 1, 1, 2, 2), (float[]){6, 8, 16, 18}, 0);
    tensor_free(y);
    /* Padding is -inf: with all-negative input the border max is still a real
     * value, the top-left element of the window part inside the input. */
    for (int i = 0; i < 25; i++)
        fdata(t[0])[i] = -1 - (float)i;
    y = run_op(ref_maxpool, OP_MAXPOOL, 1, t, "kernel_size=3 stride=2 padding=1");
    expect_floats(y, SH(4, 1, 1, 3, 3), (float[]){-1, -2, -4, -6, -7, -9, -16, -17, -19}, 0);
    tensor_free(y);
    tensor_free(t[0]);

    /* Brute force with dilation and ceil_mode on random data. */
    t[0] = tens(SH(4, 2, 3, 11, 10), NULL);
    y = run_op(ref_maxpool, OP_MAXPOOL, 1, t,
               "kernel_size=3,2 stride=2,3 padding=1,1 dilation=2,1 ceil_mode=true");
    int64_t OH = y->shape.d[2], OW = y->shape.d[3];
    assert_int_equal(OH, 5); /* floor((11+2-4-1+1)/2)+1 = 5; (5-1)*2 = 8 < 12 */
    assert_int_equal(OW, 4); /* floor((10+2-1-1+2)/3)+1 = 5; (5-1)*3 = 12 >= 11: 4 */
    double *want = malloc((size_t)tensor_numel(y) * sizeof *want);
    for (int pl = 0; pl < 6; pl++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double m = -INFINITY;
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 2; j++) {
                        int ih = oh * 2 - 1 + i * 2, iw = ow * 3 - 1 + j;
                        if (ih >= 0 && ih < 11 && iw >= 0 && iw < 10)
                            m = fmax(m, fdata(t[0])[(pl * 11 + ih) * 10 + iw]);
                    }
                want[(pl * OH + oh) * OW + ow] = m;
            }
    expect_close(y, y->shape, want, 0);
    free(want);
    tensor_free(y);
    tensor_free(t[0]);
}

static void test_avgpool(void **state)
{
    /* 5x5 of 0..24, kernel 2, ceil_mode: the edge windows are clipped to the
     * input and divide by what they cover (no padding to count). */
    Tensor *t[] = {iota(SH(4, 1, 1, 5, 5))};
    Tensor *y = run_op(ref_avgpool, OP_AVGPOOL, 1, t, "kernel_size=2 ceil_mode=true");
    expect_floats(y, SH(4, 1, 1, 3, 3),
                  (float[]){3, 5, 6.5f, 13, 15, 16.5f, 20.5f, 22.5f, 24}, 1e-7);
    tensor_free(y);
    tensor_free(t[0]);

    /* 4x4 of 0..15, kernel 3, stride 2, padding 1, ceil_mode: 3x3 windows.
     * Window rows: [-1, 2), [1, 4), [3, 5) (clipped to input + padding), so the
     * padded divisor of the last row/column is 2, not 3. */
    t[0] = iota(SH(4, 1, 1, 4, 4));
    y = run_op(ref_avgpool, OP_AVGPOOL, 1, t, "kernel_size=3 stride=2 padding=1 ceil_mode=true");
    /* count_include_pad: sums over real elements / padded window size */
    float s00 = 0 + 1 + 4 + 5, s01 = 1 + 2 + 3 + 5 + 6 + 7, s02 = 3 + 7;
    float s10 = 4 + 5 + 8 + 9 + 12 + 13, s11 = 5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15,
          s12 = 7 + 11 + 15;
    float s20 = 12 + 13, s21 = 13 + 14 + 15, s22 = 15;
    expect_floats(y, SH(4, 1, 1, 3, 3),
                  (float[]){s00 / 9, s01 / 9, s02 / 6, s10 / 9, s11 / 9, s12 / 6, s20 / 6,
                            s21 / 6, s22 / 4},
                  1e-6);
    tensor_free(y);
    y = run_op(ref_avgpool, OP_AVGPOOL, 1, t,
               "kernel_size=3 stride=2 padding=1 ceil_mode=true count_include_pad=false");
    expect_floats(y, SH(4, 1, 1, 3, 3),
                  (float[]){s00 / 4, s01 / 6, s02 / 2, s10 / 6, s11 / 9, s12 / 3, s20 / 2,
                            s21 / 3, s22 / 1},
                  1e-6);
    tensor_free(y);
    tensor_free(t[0]);
}

static void test_adaptive_avgpool(void **state)
{
    /* H = 7 -> 3 bins [0,3) [2,5) [4,7); W = 5 -> 2 bins [0,3) [2,5). */
    Tensor *t[] = {tens(SH(4, 2, 1, 7, 5), NULL)};
    Tensor *y = run_op(ref_adaptive_avgpool, OP_ADAPTIVE_AVGPOOL, 1, t, "output_size=3,2");
    static const int hb[3][2] = {{0, 3}, {2, 5}, {4, 7}}, wb[2][2] = {{0, 3}, {2, 5}};
    double want[2 * 3 * 2];
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++) {
                double s = 0;
                for (int h = hb[i][0]; h < hb[i][1]; h++)
                    for (int w = wb[j][0]; w < wb[j][1]; w++)
                        s += fdata(t[0])[(n * 7 + h) * 5 + w];
                want[(n * 3 + i) * 2 + j] = s / ((hb[i][1] - hb[i][0]) * (wb[j][1] - wb[j][0]));
            }
    expect_close(y, SH(4, 2, 1, 3, 2), want, 1e-6);
    tensor_free(y);
    /* Output larger than the input: 2 -> 3 repeats [0,1) [0,2) [1,2). */
    tensor_free(t[0]);
    t[0] = tens(SH(4, 1, 1, 1, 2), (float[]){2, 4});
    y = run_op(ref_adaptive_avgpool, OP_ADAPTIVE_AVGPOOL, 1, t, "output_size=1,3");
    expect_floats(y, SH(4, 1, 1, 1, 3), (float[]){2, 3, 4}, 0);
    tensor_free(y);
    tensor_free(t[0]);
}

static void test_global_avgpool(void **state)
{
    Tensor *t[] = {iota(SH(4, 1, 2, 2, 3))};
    Tensor *y = run_op(ref_global_avgpool, OP_GLOBAL_AVGPOOL, 1, t, "");
    expect_floats(y, SH(4, 1, 2, 1, 1), (float[]){2.5f, 8.5f}, 0);
    tensor_free(y);
    tensor_free(t[0]);
}

/* ------------------------------------------------- layout and indexing */

static void test_copy_ops(void **state)
{
    Tensor *t[] = {iota(SH(4, 2, 3, 2, 2))};
    Tensor *y = run_op(ref_copy, OP_FLATTEN, 1, t, "");
    assert_true(shape_equal(&y->shape, &(Shape){2, {2, 12}}));
    assert_memory_equal(fdata(y), fdata(t[0]), 24 * sizeof(float));
    tensor_free(y);
    y = run_op(ref_copy, OP_RESHAPE, 1, t, "shape=4,-1");
    assert_true(shape_equal(&y->shape, &(Shape){2, {4, 6}}));
    assert_memory_equal(fdata(y), fdata(t[0]), 24 * sizeof(float));
    tensor_free(y);
    y = run_op(ref_copy, OP_DROPOUT, 1, t, "p=0.9");
    assert_memory_equal(fdata(y), fdata(t[0]), 24 * sizeof(float));
    tensor_free(y);
    tensor_free(t[0]);
}

static void test_transpose_permute(void **state)
{
    Tensor *t[] = {iota(SH(2, 2, 3))};
    Tensor *y = run_op(ref_transpose, OP_TRANSPOSE, 1, t, "dim0=0 dim1=-1");
    expect_floats(y, SH(2, 3, 2), (float[]){0, 3, 1, 4, 2, 5}, 0);
    tensor_free(y);
    tensor_free(t[0]);

    /* permute [2, 3, 4, 5] by (2, 0, 3, 1): out[a,b,c,d] = x[b,d,a,c]. */
    t[0] = iota(SH(4, 2, 3, 4, 5));
    y = run_op(ref_permute, OP_PERMUTE, 1, t, "dims=2,0,-1,1");
    double want[120];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 5; c++)
                for (int d = 0; d < 3; d++)
                    want[((a * 2 + b) * 5 + c) * 3 + d] = ((b * 3 + d) * 4 + a) * 5 + c;
    expect_close(y, SH(4, 4, 2, 5, 3), want, 0);
    tensor_free(y);
    /* transpose of the middle dims. */
    y = run_op(ref_transpose, OP_TRANSPOSE, 1, t, "dim0=1 dim1=2");
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 3; c++)
                for (int d = 0; d < 5; d++)
                    want[((a * 4 + b) * 3 + c) * 5 + d] = ((a * 3 + c) * 4 + b) * 5 + d;
    expect_close(y, SH(4, 2, 4, 3, 5), want, 0);
    tensor_free(y);
    tensor_free(t[0]);
}

static void test_expand(void **state)
{
    Tensor *t[] = {tens(SH(2, 3, 1), (float[]){1, 2, 3})};
    Tensor *y = run_op(ref_expand, OP_EXPAND, 1, t, "shape=2,-1,2");
    expect_floats(y, SH(3, 2, 3, 2), (float[]){1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}, 0);
    tensor_free(y);
    tensor_free(t[0]);
}

static void test_concat(void **state)
{
    Tensor *t[] = {iota(SH(3, 2, 1, 2)),
                   tens(SH(3, 2, 2, 2), (float[]){10, 11, 12, 13, 14, 15, 16, 17})};
    Tensor *y = run_op(ref_concat, OP_CONCAT, 2, t, "dim=-2");
    expect_floats(y, SH(3, 2, 3, 2), (float[]){0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17}, 0);
    tensor_free(y);
    Tensor *u[] = {t[1], t[1], t[1]};
    y = run_op(ref_concat, OP_CONCAT, 3, u, "dim=0");
    assert_true(shape_equal(&y->shape, &(Shape){3, {6, 2, 2}}));
    for (int i = 0; i < 24; i++)
        assert_true(fdata(y)[i] == 10 + i % 8);
    tensor_free(y);
    free_all(t, 2);
}

static void test_slice_select(void **state)
{
    Tensor *t[] = {iota(SH(2, 3, 7))};
    /* Negative start, an end past the size (clamped), step 2. */
    Tensor *y = run_op(ref_slice, OP_SLICE, 1, t, "dim=1 start=-6 end=100 step=2");
    expect_floats(y, SH(2, 3, 3), (float[]){1, 3, 5, 8, 10, 12, 15, 17, 19}, 0);
    tensor_free(y);
    /* Negative end; dim 0. */
    y = run_op(ref_slice, OP_SLICE, 1, t, "dim=0 start=1 end=-1");
    expect_floats(y, SH(2, 1, 7), (float[]){7, 8, 9, 10, 11, 12, 13}, 0);
    tensor_free(y);
    /* start >= end: empty. */
    y = run_op(ref_slice, OP_SLICE, 1, t, "dim=1 start=5 end=2");
    assert_true(shape_equal(&y->shape, &(Shape){2, {3, 0}}));
    tensor_free(y);

    y = run_op(ref_select, OP_SELECT, 1, t, "dim=1 index=-1");
    expect_floats(y, SH(1, 3), (float[]){6, 13, 20}, 0);
    tensor_free(y);
    y = run_op(ref_select, OP_SELECT, 1, t, "dim=0 index=1");
    expect_floats(y, SH(1, 7), (float[]){7, 8, 9, 10, 11, 12, 13}, 0);
    tensor_free(y);
    tensor_free(t[0]);
}

/* ----------------------------------------------------------------- mha */

/* x W^T + b for one row. */
static void proj(const float *x, const float *W, const float *b, int in, int out, double *y)
{
    for (int o = 0; o < out; o++) {
        y[o] = b[o];
        for (int i = 0; i < in; i++)
            y[o] += (double)x[i] * W[o * in + i];
    }
}

static void test_mha(void **state)
{
    enum { B = 2, L = 3, E = 4, H = 2, D = E / H };
    Tensor *t[] = {tens(SH(3, B, L, E), NULL), tens(SH(2, 3 * E, E), NULL),
                   tens(SH(1, 3 * E), NULL), tens(SH(2, E, E), NULL), tens(SH(1, E), NULL)};
    Tensor *y = run_op(ref_mha, OP_MHA, 5, t, "num_heads=2");

    /* The explicit computation: project, then per batch and head scaled dot
     * products, softmax over keys, weighted values, concat, out projection. */
    double qkv[B][L][3 * E], cat[B][L][E], want[B * L * E];
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            proj(fdata(t[0]) + (b * L + l) * E, fdata(t[1]), fdata(t[2]), E, 3 * E, qkv[b][l]);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < L; i++) {
                double s[L], mx = -INFINITY, den = 0;
                for (int j = 0; j < L; j++) {
                    s[j] = 0;
                    for (int d = 0; d < D; d++)
                        s[j] += qkv[b][i][h * D + d] * qkv[b][j][E + h * D + d];
                    s[j] /= sqrt((double)D);
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < L; j++)
                    den += s[j] = exp(s[j] - mx);
                for (int d = 0; d < D; d++) {
                    cat[b][i][h * D + d] = 0;
                    for (int j = 0; j < L; j++)
                        cat[b][i][h * D + d] += s[j] / den * qkv[b][j][2 * E + h * D + d];
                }
            }
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++) {
            float row[E];
            for (int e = 0; e < E; e++)
                row[e] = (float)cat[b][l][e];
            proj(row, fdata(t[3]), fdata(t[4]), E, E, want + (b * L + l) * E);
        }
    expect_close(y, SH(3, B, L, E), want, 1e-5);
    tensor_free(y);
    free_all(t, 5);
}

/* A single-token sequence attends only to itself: output = out_proj(v). */
static void test_mha_one_token(void **state)
{
    Tensor *t[] = {tens(SH(3, 1, 1, 6), NULL), tens(SH(2, 18, 6), NULL), tens(SH(1, 18), NULL),
                   tens(SH(2, 6, 6), NULL), tens(SH(1, 6), NULL)};
    Tensor *y = run_op(ref_mha, OP_MHA, 5, t, "num_heads=3");
    double v[18], want[6];
    proj(fdata(t[0]), fdata(t[1]), fdata(t[2]), 6, 18, v);
    float vf[6];
    for (int i = 0; i < 6; i++)
        vf[i] = (float)v[12 + i];
    proj(vf, fdata(t[3]), fdata(t[4]), 6, 6, want);
    expect_close(y, SH(3, 1, 1, 6), want, 1e-5);
    tensor_free(y);
    free_all(t, 5);
}

/* -------------------------------------------------------------- errors */

/* A kernel handed tensors that disagree with its node fails with a message. */
static void test_kernel_errors(void **state)
{
    IrGraph *g = ir_graph_new("t");
    Tensor *x = tens(SH(4, 1, 3, 8, 8), NULL), *w = tens(SH(4, 4, 3, 3, 3), NULL);
    IrValue *v[] = {val(g, x), val(g, w)};
    IrNode *n = add_node(g, OP_CONV2D, NULL, "out_channels=4 kernel_size=3 bias=false", 2, v, loc_none());
    char err[256] = "";

    /* Wrong output shape. */
    Tensor *bad_out = tensor_new(DT_F32, &(Shape){4, {1, 4, 8, 8}});
    const Tensor *ins[] = {x, w};
    assert_false(ref_conv2d(n, ins, bad_out, err, sizeof err));
    assert_non_null(strstr(err, "[1, 4, 8, 8]"));
    tensor_free(bad_out);

    /* Wrong weight shape (input channels). */
    Tensor *out = tensor_new(DT_F32, &n->out->shape), *w2 = tens(SH(4, 4, 2, 3, 3), NULL);
    const Tensor *ins2[] = {x, w2};
    assert_false(ref_conv2d(n, ins2, out, err, sizeof err));
    assert_non_null(strstr(err, "groups"));

    /* A missing input tensor and a non-f32 one. */
    const Tensor *ins3[] = {x, NULL};
    assert_false(ref_conv2d(n, ins3, out, err, sizeof err));
    Tensor *xi = tensor_new(DT_I32, &x->shape);
    const Tensor *ins4[] = {xi, w};
    assert_false(ref_conv2d(n, ins4, out, err, sizeof err));
    assert_non_null(strstr(err, "i32"));

    /* A node without its attributes. */
    IrNode bare = *n;
    bare.nattr = 0;
    assert_false(ref_conv2d(&bare, ins, out, err, sizeof err));
    assert_non_null(strstr(err, "stride"));

    /* Every op has a reference kernel, and every kernel refuses a node
     * without attributes whose output cannot be what the kernel would
     * compute, instead of crashing. */
    IrNode one = *n;
    one.nin = 1;
    one.nattr = 0;
    const Tensor *ins1[] = {x};
    Tensor *outs[2] = {out, out};
    for (int op = 0; op < OP__COUNT; op++) {
        RefKernelEntry k = ref_kernel_for((OpKind)op);
        const char *name = op_info((OpKind)op)->name;
        if (!k.one == !k.many)
            fail_msg("op %s needs exactly one reference kernel", name);
        err[0] = 0;
        one.op = (OpKind)op;
        if (k.one ? k.one(&one, ins1, out, err, sizeof err) : k.many(&one, ins1, outs, err, sizeof err))
            fail_msg("%s accepted a bad node", name);
        assert_true(err[0] != 0);
    }
    tensor_free(xi);
    tensor_free(w2);
    tensor_free(out);
    tensor_free(x);
    tensor_free(w);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_by_hand),
        cmocka_unit_test(test_conv2d_brute_force),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_bmm),
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_layernorm_over_channels),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_binary_broadcast),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_avgpool),
        cmocka_unit_test(test_adaptive_avgpool),
        cmocka_unit_test(test_global_avgpool),
        cmocka_unit_test(test_copy_ops),
        cmocka_unit_test(test_transpose_permute),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_slice_select),
        cmocka_unit_test(test_mha),
        cmocka_unit_test(test_mha_one_token),
        cmocka_unit_test(test_kernel_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
