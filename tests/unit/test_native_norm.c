/*
 * test_native_norm.c — nk_layernorm and nk_softmax (runtime/native/norm.c)
 * against ref_layernorm and ref_softmax, on odd row lengths (tails of the
 * 16-lane vectors), rows far from zero mean (the variance must not cancel),
 * softmax over every axis position (inner == 1 and inner > 1, partial
 * column blocks) and inputs that would overflow a naive exp. Every case runs
 * at 1 and at 2 threads, which must agree bit for bit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_test_util.h"

#include <float.h>

static double worst_layernorm, worst_softmax; /* measured error / max |ref| */

static void check_layernorm(int64_t rows, int64_t cols, float offset, float eps)
{
    int64_t n = rows * cols;
    float *x = nt_floats(n, 3), *g = nt_floats(cols, 1), *b = nt_floats(cols, 1);
    for (int64_t i = 0; i < n; i++)
        x[i] += offset;
    float *y = nt_floats(n, 0);
    char attrs[32], what[96];
    snprintf(attrs, sizeof attrs, "eps=%g", eps);
    snprintf(what, sizeof what, "layernorm [%lld, %lld] offset %g eps %g", (long long)rows,
             (long long)cols, offset, eps);
    Shape sx = SH(2, rows, cols), sc = SH(1, cols);
    float *ref = nt_ref(ref_layernorm, OP_LAYERNORM, 3, (Shape[]){sx, sc, sc},
                        (const float *const[]){x, g, b}, attrs, NULL);
    NkLayerNorm d = {rows, cols, eps};
    NT_AT_1_AND_2_THREADS(y, n, what, nk_layernorm(&d, x, g, b, y));
    double e = nt_expect_close(y, ref, n, 1e-6, what);
    worst_layernorm = e > worst_layernorm ? e : worst_layernorm;
    free(x);
    free(g);
    free(b);
    free(y);
    free(ref);
}

static void test_layernorm(void **state)
{
    static const struct {
        int64_t rows, cols;
    } cases[] = {{1, 1}, {3, 7}, {2, 16}, {5, 24}, {4, 1000}, {197, 768}, {50, 3}, {7, 17}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        check_layernorm(cases[c].rows, cases[c].cols, 0, 1e-5f);
        check_layernorm(cases[c].rows, cases[c].cols, 100, 1e-6f);
    }
    /* a constant row: variance 0, output = beta */
    float x[24], g[24], b[24], y[24];
    for (int i = 0; i < 24; i++)
        x[i] = 5, g[i] = 2, b[i] = (float)i;
    nk_layernorm(&(NkLayerNorm){1, 24, 1e-5f}, x, g, b, y);
    for (int i = 0; i < 24; i++)
        assert_true(y[i] == b[i]);
    print_message("layernorm: max error %.3g of max |ref|\n", worst_layernorm);
}

/* softmax over dim 1 of [outer, dim, inner]; scale widens the inputs. */
static void check_softmax(int64_t outer, int64_t dim, int64_t inner, float scale)
{
    int64_t n = outer * dim * inner;
    float *x = nt_floats(n, scale), *y = nt_floats(n, 0);
    char what[96];
    snprintf(what, sizeof what, "softmax [%lld, %lld, %lld] scale %g", (long long)outer,
             (long long)dim, (long long)inner, scale);
    Shape s = SH(3, outer, dim, inner);
    float *ref = nt_ref(ref_softmax, OP_SOFTMAX, 1, &s, (const float *const[]){x}, "dim=1", NULL);
    NkSoftmax d = {outer, dim, inner};
    NT_AT_1_AND_2_THREADS(y, n, what, nk_softmax(&d, x, y));
    double e = nt_expect_close(y, ref, n, 2e-6, what);
    worst_softmax = e > worst_softmax ? e : worst_softmax;
    free(x);
    free(y);
    free(ref);
}

static void test_softmax(void **state)
{
    static const struct {
        int64_t outer, dim, inner;
    } cases[] = {
        {1, 1, 1},      {12 * 5, 197, 1}, {2, 1000, 1}, {3, 16, 1},   {5, 17, 1},
        {2, 10, 3},     {3, 7, 13},       {1, 5, 3136}, {4, 24, 16},  {2, 3, 33},
        {1, 1, 40},     {64, 64, 1},      {2, 197, 17}, {300, 100, 1}, {3, 24, 1000},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        check_softmax(cases[c].outer, cases[c].dim, cases[c].inner, 4);
        check_softmax(cases[c].outer, cases[c].dim, cases[c].inner, 1000); /* exp would overflow */
    }
    print_message("softmax: max error %.3g of max |ref|\n", worst_softmax);
}

/* Rows with -inf (masked) entries, huge values, and a NaN row. */
static void test_softmax_special(void **state)
{
    float x[4][5] = {{-INFINITY, 0, 1, -INFINITY, 2},
                     {1e4f, -1e4f, 1e4f, 0, FLT_MAX},
                     {-1e30f, -1e30f, -1e30f, -1e30f, -1e30f},
                     {1, NAN, 2, 3, 4}};
    float y[4][5];
    Shape s = SH(2, 4, 5);
    float *ref =
        nt_ref(ref_softmax, OP_SOFTMAX, 1, &s, (const float *const[]){&x[0][0]}, "", NULL);
    nk_softmax(&(NkSoftmax){4, 5, 1}, &x[0][0], &y[0][0]);
    for (int i = 0; i < 20; i++) {
        float got = (&y[0][0])[i], want = ref[i];
        if (isnan(want) ? !isnan(got) : fabsf(got - want) > 1e-6f)
            fail_msg("element %d: got %g, expected %g", i, got, want);
    }
    free(ref);
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_softmax_special),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
