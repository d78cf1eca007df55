/*
 * test_native_eltwise.c — the vector math of runtime/native/nk_vec.h and the
 * elementwise kernels of runtime/native/eltwise.c.
 *
 * The math functions are measured against libm in double over dense sweeps
 * and at the edges of the float range (overflow, underflow into denormals,
 * ±inf, NaN, denormal inputs), with the error bounds asserted; the measured
 * errors are printed. The kernels are compared with the reference kernels
 * (runtime/ref_kernels.c) on odd sizes and on the broadcasting patterns
 * networks produce, and each is run at 1 and at 2 threads on sizes large
 * enough to split, which must agree bit for bit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_test_util.h"
#include "../../runtime/native/nk_vec.h"

#include <float.h>

/* ---------------------------------------------------------- vector math */

enum { FN_EXP, FN_ERF, FN_TANH, FN_SIGMOID, FN_GELU, FN__COUNT };
static const char *const fn_names[] = {"exp", "erf", "tanh", "sigmoid", "gelu"};

/* y = fn(x) for n floats, 16 at a time, the tail as a partial vector. */
static void vec_apply(int fn, const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i += NK_VL) {
        int64_t m = n - i < NK_VL ? n - i : NK_VL;
        NkVec v = nk_load_part(x + i, m, 0.0f), r;
        switch (fn) {
        case FN_EXP: r = nk_exp(v); break;
        case FN_ERF: r = nk_erf(v); break;
        case FN_TANH: r = nk_tanh(v); break;
        case FN_SIGMOID: r = nk_sigmoid(v); break;
        default: r = nk_gelu(v); break;
        }
        nk_store_part(y + i, r, m);
    }
}

static double sigmoid_d(double x) { return 1 / (1 + exp(-x)); }
/* 1 + erf(x/√2) written as erfc(-x/√2), which does not cancel for x << 0. */
static double gelu_d(double x) { return 0.5 * x * erfc(-x * 0.70710678118654752440); }

static double fn_ref(int fn, double x)
{
    switch (fn) {
    case FN_EXP: return exp(x);
    case FN_ERF: return erf(x);
    case FN_TANH: return tanh(x);
    case FN_SIGMOID: return sigmoid_d(x);
    default: return gelu_d(x);
    }
}

/* A few ulps of the smallest denormal: the absolute slack for results that
 * underflow (their relative precision is gone by construction). */
#define DENORMAL_SLACK (4 * 1.401298464e-45)

/*
 * Sweeps [lo, hi] with n points and asserts |got - ref| <= rel * |ref| +
 * abs_floor for every point (the reference rounded to float first, so the
 * bound is against what a correctly rounded float function returns).
 * Prints the largest relative error among results >= FLT_MIN.
 */
static void sweep(int fn, double lo, double hi, int64_t n, double rel, double abs_floor)
{
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * (double)i / (double)(n - 1));
    vec_apply(fn, x, y, n);
    double worst_rel = 0, worst_x = 0, worst_denormal = 0;
    for (int64_t i = 0; i < n; i++) {
        double ref = (float)fn_ref(fn, x[i]), e = fabs(y[i] - ref);
        if (isinf(ref) || isnan(ref)) {
            if (!(y[i] == ref || (isnan(ref) && isnan(y[i]))))
                fail_msg("%s(%.9g) = %.9g, expected %.9g", fn_names[fn], x[i], y[i], ref);
            continue;
        }
        if (!(e <= rel * fabs(ref) + abs_floor + DENORMAL_SLACK))
            fail_msg("%s(%.9g) = %.9g, expected %.9g (error %.3g)", fn_names[fn], x[i], y[i], ref,
                     e);
        if (fabs(ref) >= FLT_MIN && e / fabs(ref) > worst_rel)
            worst_rel = e / fabs(ref), worst_x = x[i];
        if (fabs(ref) < FLT_MIN && e > worst_denormal)
            worst_denormal = e;
    }
    print_message("%-8s [%g, %g]: max relative error %.3g at %.7g", fn_names[fn], lo, hi,
                  worst_rel, worst_x);
    if (worst_denormal > 0)
        print_message(", %g ulps on denormal results", worst_denormal / 1.401298464e-45);
    print_message("\n");
    free(x);
    free(y);
}

/* Bounds: a couple of float ulps (2^-23 = 1.19e-7) relative; erf and gelu
 * also an absolute term where they approach ±1 and ±0 by cancellation. */
static void test_math_sweeps(void **state)
{
    sweep(FN_EXP, -1, 1, 200001, 2.5e-7, 0);
    sweep(FN_EXP, -87.3, 88.7, 200001, 2.5e-7, 0);
    sweep(FN_EXP, -104, -87.3, 20001, 2.5e-7, 0); /* results in the denormals */
    sweep(FN_ERF, -0.01, 0.01, 20001, 2.5e-7, 0);
    sweep(FN_ERF, -5, 5, 200001, 2.5e-7, 0);
    sweep(FN_TANH, -1, 1, 200001, 2.5e-7, 0);
    sweep(FN_TANH, -12, 12, 200001, 2.5e-7, 0);
    sweep(FN_SIGMOID, -30, 30, 200001, 2.5e-7, 0);
    sweep(FN_SIGMOID, -104, 104, 200001, 2.5e-7, 0);
    sweep(FN_GELU, -3, 3, 200001, 1.2e-6, 0);
    sweep(FN_GELU, -13, 13, 200001, 1.2e-6, 0);
}

/* Special inputs: each result must be what libm gives, rounded to float,
 * within 2.5e-7 relative plus denormal slack, infinities and NaN exactly. */
static void test_math_extremes(void **state)
{
    static const float xs[] = {
        0.0f, -0.0f, 1e-40f, -1e-40f, 1.401298464e-45f, -1.401298464e-45f, FLT_MIN, -FLT_MIN,
        1e-8f, -1e-8f, 88.0f, -88.0f, 88.72f, 88.73f, -87.33f, -103.9f, 89.0f, -89.0f,
        -104.0f, -200.0f, 1e4f, -1e4f, FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN, 3.9f, 4.0f,
        -4.1f, 0.625f, -0.6249999f, 1.0f, -0.99999994f,
    };
    int64_t n = (int64_t)(sizeof xs / sizeof xs[0]);
    float y[sizeof xs / sizeof xs[0]];
    for (int fn = 0; fn < FN__COUNT; fn++) {
        vec_apply(fn, xs, y, n);
        for (int64_t i = 0; i < n; i++) {
            double ref = (float)fn_ref(fn, xs[i]);
            bool ok = isnan(ref)   ? isnan(y[i])
                      : isinf(ref) ? y[i] == ref
                                   : fabs(y[i] - ref) <= 2.5e-7 * fabs(ref) + DENORMAL_SLACK;
            if (!ok)
                fail_msg("%s(%.9g) = %.9g, expected %.9g", fn_names[fn], xs[i], y[i], ref);
        }
    }
    /* the exact values that matter: no spurious inf below the overflow
     * threshold, saturation above, signs */
    float e[2];
    vec_apply(FN_EXP, (const float[]){88.72f, 88.73f}, e, 2);
    assert_true(isfinite(e[0]));
    assert_true(isinf(e[1]));
    vec_apply(FN_ERF, (const float[]){-0.0f, 1e4f}, e, 2);
    assert_true(e[0] == 0 && signbit(e[0]));
    assert_true(e[1] == 1.0f);
    vec_apply(FN_SIGMOID, (const float[]){-1e4f, 1e4f}, e, 2);
    assert_true(e[0] == 0.0f && e[1] == 1.0f);
}

/* nk_act: each code against the scalar definition, 16 values whatever
 * the vector length. */
static void test_act(void **state)
{
    float x[16] = {-7, -6, -3, -1, -0.5f, -0.0f, 0, 0.25f, 1, 3, 5.5f, 6, 6.5f, 100, NAN, -INFINITY};
    float r[16];
    for (int64_t act = NK_ACT_NONE; act <= NK_ACT_GELU; act++) {
        for (int i = 0; i < 16; i += NK_VL)
            nk_store(r + i, nk_act(nk_load(x + i), act));
        for (int i = 0; i < 16; i++) {
            double want = act == NK_ACT_NONE    ? x[i]
                          : act == NK_ACT_RELU  ? (x[i] < 0 ? 0 : x[i])
                          : act == NK_ACT_RELU6 ? (x[i] < 0 ? 0 : x[i] > 6 ? 6 : x[i])
                                                : (float)gelu_d(x[i]);
            if (isnan(want) ? !isnan(r[i]) : fabs(r[i] - want) > 2.5e-7 * fabs(want))
                fail_msg("act %lld of %g = %g, expected %g", (long long)act, x[i], r[i], want);
        }
    }
}

/* ---------------------------------------------------------------- unary */

static const struct {
    int64_t op;
    OpKind ir;
    RefKernel ref;
} unary_ops[] = {
    {NK_UNARY_RELU, OP_RELU, ref_relu},       {NK_UNARY_RELU6, OP_RELU6, ref_relu6},
    {NK_UNARY_GELU, OP_GELU, ref_gelu},       {NK_UNARY_SILU, OP_SILU, ref_silu},
    {NK_UNARY_SIGMOID, OP_SIGMOID, ref_sigmoid}, {NK_UNARY_HARDSWISH, OP_HARDSWISH, ref_hardswish},
};

/* Every op on random data in [-8, 8] of odd lengths (one past the 2-thread
 * split), then on the special values elementwise. */
static void test_unary(void **state)
{
    static const int64_t lens[] = {1, 15, 17, 1000, 3 * 8192 + 13, 2 * 32768 + 5};
    for (size_t o = 0; o < sizeof unary_ops / sizeof unary_ops[0]; o++)
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            int64_t n = lens[l];
            float *x = nt_floats(n, 8.0f), *y = nt_floats(n, 0);
            Shape s = SH(1, n);
            float *ref = nt_ref(unary_ops[o].ref, unary_ops[o].ir, 1, &s,
                                (const float *const[]){x}, "", NULL);
            NkUnary d = {n, unary_ops[o].op};
            NT_AT_1_AND_2_THREADS(y, n, op_info(unary_ops[o].ir)->name, nk_unary(&d, x, y));
            char what[64];
            snprintf(what, sizeof what, "%s n=%lld", op_info(unary_ops[o].ir)->name,
                     (long long)n);
            nt_expect_close(y, ref, n, 5e-7, what);
            /* in place gives the same */
            nk_unary(&d, x, x);
            nt_expect_same(x, y, n, what);
            free(x);
            free(y);
            free(ref);
        }
    /* copy */
    float *x = nt_floats(1001, 1), *y = nt_floats(1001, 0);
    nk_unary(&(NkUnary){1001, NK_UNARY_COPY}, x, y);
    nt_expect_same(x, y, 1001, "copy");
    free(x);
    free(y);
}

static void test_unary_extremes(void **state)
{
    static const float xs[] = {0.0f, -0.0f, 1e-40f, -1e-40f, -3.0f, 3.0f, -2.9999998f, 6.0f,
                               6.0000005f, 88.0f, -88.0f, 89.0f, -89.0f, 1e4f, -1e4f, FLT_MAX,
                               -FLT_MAX, INFINITY, -INFINITY, NAN};
    int64_t n = (int64_t)(sizeof xs / sizeof xs[0]);
    Shape s = SH(1, n);
    for (size_t o = 0; o < sizeof unary_ops / sizeof unary_ops[0]; o++) {
        float y[sizeof xs / sizeof xs[0]];
        float *ref = nt_ref(unary_ops[o].ref, unary_ops[o].ir, 1, &s,
                            (const float *const[]){xs}, "", NULL);
        nk_unary(&(NkUnary){n, unary_ops[o].op}, xs, y);
        for (int64_t i = 0; i < n; i++) {
            bool ok = isnan(ref[i])   ? isnan(y[i])
                      : isinf(ref[i]) ? y[i] == ref[i]
                                      : fabs(y[i] - ref[i]) <= 2.5e-7 * fabs(ref[i]) +
                                                                    DENORMAL_SLACK;
            if (!ok)
                fail_msg("%s(%.9g) = %.9g, expected %.9g", op_info(unary_ops[o].ir)->name,
                         xs[i], y[i], ref[i]);
        }
        free(ref);
    }
}

/* --------------------------------------------------------------- binary */

/* Strides at which a tensor of shape in is read at the indices of out
 * (NumPy broadcasting, right-aligned; 0 where stretched or missing). */
static void broadcast_strides(Shape in, Shape out, int64_t *strides)
{
    int64_t s = 1;
    for (int i = out.rank - 1; i >= 0; i--) {
        int j = i - (out.rank - in.rank);
        strides[i] = j < 0 || in.d[j] == 1 ? 0 : s;
        if (j >= 0)
            s *= in.d[j];
    }
}

static const struct {
    int64_t op;
    OpKind ir;
    RefKernel ref;
} binary_ops[] = {
    {NK_BINARY_ADD, OP_ADD, ref_add},
    {NK_BINARY_SUB, OP_SUB, ref_sub},
    {NK_BINARY_MUL, OP_MUL, ref_mul},
};

/* The reference of the fused activation, applied in place. */
static void ref_act_inplace(float *y, Shape s, int64_t act)
{
    static const struct {
        OpKind op;
        RefKernel ref;
    } acts[] = {{OP_RELU, NULL}, {OP_RELU, ref_relu}, {OP_RELU6, ref_relu6}, {OP_GELU, ref_gelu}};
    if (act == NK_ACT_NONE)
        return;
    float *r = nt_ref(acts[act].ref, acts[act].op, 1, &s, (const float *const[]){y}, "", NULL);
    memcpy(y, r, (size_t)shape_numel(&s) * sizeof *y);
    free(r);
}

/* a op b with act against ref_add/sub/mul then the act's reference. */
static void check_binary(Shape sa, Shape sb, int64_t op, int64_t act)
{
    float *a = nt_floats(shape_numel(&sa), 4), *b = nt_floats(shape_numel(&sb), 4);
    Shape shapes[2] = {sa, sb}, so;
    float *ref = nt_ref(binary_ops[op].ref, binary_ops[op].ir, 2, shapes,
                        (const float *const[]){a, b}, "", &so);
    ref_act_inplace(ref, so, act);
    NkBinary d = {.op = binary_ops[op].op, .act = act, .rank = so.rank};
    for (int i = 0; i < so.rank; i++)
        d.dims[i] = so.d[i];
    broadcast_strides(sa, so, d.a_strides);
    broadcast_strides(sb, so, d.b_strides);
    int64_t n = shape_numel(&so);
    float *y = nt_floats(n, 0);
    char what[160], ta[64], tb[64];
    snprintf(what, sizeof what, "%s %s %s act %lld", shape_str(&sa, ta, sizeof ta),
             op_info(binary_ops[op].ir)->name, shape_str(&sb, tb, sizeof tb), (long long)act);
    NT_AT_1_AND_2_THREADS(y, n, what, nk_binary(&d, a, b, y));
    nt_expect_close(y, ref, n, 1e-6, what);
    free(a);
    free(b);
    free(y);
    free(ref);
}

static void test_binary_broadcast(void **state)
{
    static const struct {
        Shape a, b;
        bool all; /* every op x act, or a sample (large cases) */
    } cases[] = {
        {{4, {2, 3, 13, 14}}, {4, {2, 3, 13, 14}}, true}, /* same shape */
        {{4, {2, 24, 7, 7}}, {3, {24, 1, 1}}, true},      /* NCHW per channel */
        {{3, {24, 1, 1}}, {4, {2, 24, 7, 7}}, true},      /* ... on the left */
        {{3, {2, 5, 768}}, {1, {768}}, true},             /* [b, l, e] + [e] */
        {{1, {1000}}, {3, {3, 1, 1000}}, true},
        {{4, {2, 7, 7, 24}}, {1, {24}}, true},            /* NHWC per channel */
        {{3, {4, 1, 5}}, {3, {1, 3, 1}}, true},           /* both stretched */
        {{2, {5, 1}}, {2, {1, 6}}, true},                 /* an outer product */
        {{3, {3, 1, 7}}, {3, {3, 7, 1}}, true},
        {{1, {1}}, {1, {13}}, true},                      /* a scalar */
        {{0, {0}}, {2, {3, 17}}, true},                   /* a rank-0 scalar */
        {{2, {1, 1}}, {2, {1, 1}}, true},
        {{4, {1, 3, 56, 56}}, {3, {3, 1, 1}}, false},
        {{4, {2, 64, 28, 28}}, {4, {2, 64, 28, 28}}, false}, /* split over threads */
        {{4, {2, 28, 28, 64}}, {1, {64}}, false},
        {{3, {2, 197, 768}}, {1, {768}}, false},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int64_t op = 0; op < 3; op++)
            for (int64_t act = NK_ACT_NONE; act <= NK_ACT_GELU; act++)
                if (cases[c].all || (op == act % 3 && act != NK_ACT_RELU6))
                    check_binary(cases[c].a, cases[c].b, op, act);
}

/* Strides no broadcast produces: a read transposed (a [w, h] buffer seen as
 * [h, w]) and b with a step of 2; the reference permutes a first. */
static void test_binary_strided(void **state)
{
    int64_t h = 13, w = 17;
    float *at = nt_floats(w * h, 2), *b2 = nt_floats(h * w * 2, 2);
    float *a = malloc((size_t)(h * w) * sizeof *a), *b = malloc((size_t)(h * w) * sizeof *b);
    for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++) {
            a[i * w + j] = at[j * h + i];
            b[i * w + j] = b2[(i * w + j) * 2];
        }
    Shape s = SH(2, h, w);
    float *ref =
        nt_ref(ref_mul, OP_MUL, 2, (Shape[]){s, s}, (const float *const[]){a, b}, "", NULL);
    ref_act_inplace(ref, s, NK_ACT_RELU);
    NkBinary d = {.op = NK_BINARY_MUL, .act = NK_ACT_RELU, .rank = 2, .dims = {h, w},
                  .a_strides = {1, h}, .b_strides = {2 * w, 2}};
    float y[13 * 17];
    nk_binary(&d, at, b2, y);
    nt_expect_close(y, ref, h * w, 1e-7, "strided mul");
    free(at);
    free(b2);
    free(a);
    free(b);
    free(ref);
}

/* ---------------------------------------------------------- scale_shift */

/* Against ref_batchnorm with mean 0, variance 1, eps 0: x * w + b. */
static void test_scale_shift(void **state)
{
    static const struct {
        int64_t outer, c, inner;
    } cases[] = {
        {2, 24, 49},       /* NCHW */
        {2 * 49, 24, 1},   /* NHWC */
        {13, 3, 1},        /* c = 3, channels last */
        {3, 1000, 1},
        {1, 3, 14 * 14},
        {1, 1, 1},
        {4, 64, 56 * 56},  /* split over threads */
        {4 * 56 * 56, 64, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int64_t act = NK_ACT_NONE; act <= NK_ACT_GELU; act++) {
            int64_t outer = cases[k].outer, c = cases[k].c, inner = cases[k].inner;
            int64_t n = outer * c * inner;
            float *x = nt_floats(n, 4), *ss = nt_floats(2 * c, 2), *y = nt_floats(n, 0);
            float *mean = nt_floats(c, 0), *var = nt_floats(c, 0);
            for (int64_t i = 0; i < c; i++)
                var[i] = 1;
            Shape sx = inner == 1 ? SH(2, outer, c) : SH(3, outer, c, inner), sc = SH(1, c);
            float *ref = nt_ref(ref_batchnorm, OP_BATCHNORM, 5, (Shape[]){sx, sc, sc, sc, sc},
                                (const float *const[]){x, ss, ss + c, mean, var}, "eps=0", NULL);
            ref_act_inplace(ref, sx, act);
            NkScaleShift d = {outer, c, inner, act};
            char what[96];
            snprintf(what, sizeof what, "scale_shift [%lld, %lld, %lld] act %lld",
                     (long long)outer, (long long)c, (long long)inner, (long long)act);
            NT_AT_1_AND_2_THREADS(y, n, what, nk_scale_shift(&d, x, ss, y));
            nt_expect_close(y, ref, n, 1e-6, what);
            free(x);
            free(ss);
            free(y);
            free(mean);
            free(var);
            free(ref);
        }
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_math_sweeps),    cmocka_unit_test(test_math_extremes),
        cmocka_unit_test(test_act),            cmocka_unit_test(test_unary),
        cmocka_unit_test(test_unary_extremes), cmocka_unit_test(test_binary_broadcast),
        cmocka_unit_test(test_binary_strided), cmocka_unit_test(test_scale_shift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
