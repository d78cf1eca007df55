/*
 * test_native_copy.c — nk_copy (runtime/native/copy.c) against the layout
 * reference kernels: permute (NCHW <-> NHWC with C = 3, 24, 768 and HW =
 * 49, 196, 50176; an 8-D permutation), transpose, slice (with steps),
 * select, expand (including along the innermost dim), concat (each input
 * copied into its place in the result) and a plain contiguous copy long
 * enough to be split. Descriptors are built the way the backend builds
 * them, once with dims in output order and once (for permutes) in input
 * order. A copy moves bits, so the results must be identical, and they are
 * checked at 1 and at 2 threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_test_util.h"

/* Row-major strides of dims. */
static void contiguous(const int64_t *dims, int rank, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

/* Runs d over in (n input floats) into a zeroed buffer of out_n floats at
 * 1 and 2 threads and compares with ref exactly. */
static void check_copy(const NkCopy *d, const float *in, int64_t out_n, const float *ref,
                       const char *what)
{
    float *y = nt_floats(out_n, 0);
    NT_AT_1_AND_2_THREADS(y, out_n, what, (memset(y, 0, (size_t)out_n * sizeof *y), nk_copy(d, in, y)));
    nt_expect_close(y, ref, out_n, 0, what);
    free(y);
}

/* permute of a tensor of dims by perm, against ref_permute; both ways of
 * writing the descriptor. */
static void check_permute(int rank, const int64_t *dims, const int *perm)
{
    Shape s = shape_make(rank, dims);
    int64_t n = shape_numel(&s), in_st[8], out_dims[8], out_st[8];
    float *x = nt_floats(n, 1);
    char attrs[64] = "dims=[", what[128], ts[96];
    for (int i = 0; i < rank; i++)
        snprintf(attrs + strlen(attrs), sizeof attrs - strlen(attrs), "%s%d", i ? "," : "",
                 perm[i]);
    strcat(attrs, "]");
    snprintf(what, sizeof what, "permute %s %s", shape_str(&s, ts, sizeof ts), attrs);
    float *ref = nt_ref(ref_permute, OP_PERMUTE, 1, &s, (const float *const[]){x}, attrs, NULL);
    contiguous(dims, rank, in_st);
    for (int i = 0; i < rank; i++)
        out_dims[i] = dims[perm[i]];
    contiguous(out_dims, rank, out_st);
    NkCopy d = {.rank = rank};
    for (int i = 0; i < rank; i++) { /* output order */
        d.dims[i] = out_dims[i];
        d.strides[i] = in_st[perm[i]];
        d.out_strides[i] = out_st[i];
    }
    check_copy(&d, x, n, ref, what);
    for (int i = 0; i < rank; i++) { /* input order: output dim i lands at perm[i] */
        d.dims[perm[i]] = out_dims[i];
        d.strides[perm[i]] = in_st[perm[i]];
        d.out_strides[perm[i]] = out_st[i];
    }
    check_copy(&d, x, n, ref, what);
    free(x);
    free(ref);
}

static void test_permute(void **state)
{
    static const int to_nhwc[] = {0, 2, 3, 1}, to_nchw[] = {0, 3, 1, 2};
    static const int64_t nchw[][4] = {{1, 3, 224, 224}, {2, 3, 13, 14}, {1, 768, 14, 14},
                                      {2, 24, 7, 7},    {1, 1000, 1, 1}, {3, 17, 5, 9}};
    for (size_t i = 0; i < sizeof nchw / sizeof nchw[0]; i++) {
        check_permute(4, nchw[i], to_nhwc);
        int64_t nhwc[4] = {nchw[i][0], nchw[i][2], nchw[i][3], nchw[i][1]};
        check_permute(4, nhwc, to_nchw);
    }
    static const int rev[] = {2, 1, 0}, p8[] = {7, 2, 5, 0, 3, 6, 1, 4}, p3[] = {1, 0, 2};
    check_permute(3, (const int64_t[]){4, 33, 17}, rev);
    check_permute(3, (const int64_t[]){5, 6, 7}, p3);
    check_permute(8, (const int64_t[]){2, 3, 1, 2, 3, 2, 1, 5}, p8);
}

static void test_transpose(void **state)
{
    static const int64_t shapes[][3] = {{2, 197, 64}, {12, 197, 197}, {1, 3, 1000}, {4, 17, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t *dm = shapes[i];
        Shape s = SH(3, dm[0], dm[1], dm[2]);
        float *x = nt_floats(shape_numel(&s), 1);
        float *ref = nt_ref(ref_transpose, OP_TRANSPOSE, 1, &s, (const float *const[]){x},
                            "dim0=1 dim1=2", NULL);
        NkCopy d = {.rank = 3,
                    .dims = {dm[0], dm[2], dm[1]},
                    .strides = {dm[1] * dm[2], 1, dm[2]},
                    .out_strides = {dm[1] * dm[2], dm[1], 1}};
        check_copy(&d, x, shape_numel(&s), ref, "transpose(1, 2)");
        free(x);
        free(ref);
    }
}

static void test_slice_select(void **state)
{
    /* x[:, 2:30:step, :] of [2, 50, 17] */
    for (int64_t step = 1; step <= 3; step++) {
        Shape s = SH(3, 2, 50, 17);
        float *x = nt_floats(shape_numel(&s), 1);
        char attrs[64];
        snprintf(attrs, sizeof attrs, "dim=1 start=2 end=30 step=%lld", (long long)step);
        Shape so;
        float *ref = nt_ref(ref_slice, OP_SLICE, 1, &s, (const float *const[]){x}, attrs, &so);
        NkCopy d = {.rank = 3, .offset = 2 * 17, .dims = {2, so.d[1], 17},
                    .strides = {50 * 17, 17 * step, 1}, .out_strides = {so.d[1] * 17, 17, 1}};
        check_copy(&d, x, shape_numel(&so), ref, attrs);
        free(x);
        free(ref);
    }
    /* x[..., 1:14:2] of [3, 5, 15]: the innermost dim strided */
    {
        Shape s = SH(3, 3, 5, 15), so;
        float *x = nt_floats(shape_numel(&s), 1);
        float *ref = nt_ref(ref_slice, OP_SLICE, 1, &s, (const float *const[]){x},
                            "dim=2 start=1 end=14 step=2", &so);
        NkCopy d = {.rank = 3, .offset = 1, .dims = {3, 5, 7}, .strides = {75, 15, 2},
                    .out_strides = {35, 7, 1}};
        check_copy(&d, x, shape_numel(&so), ref, "slice innermost step 2");
        free(x);
        free(ref);
    }
    /* x[:, 0] of [2, 197, 768]: ViT's class token */
    {
        Shape s = SH(3, 2, 197, 768);
        float *x = nt_floats(shape_numel(&s), 1);
        float *ref = nt_ref(ref_select, OP_SELECT, 1, &s, (const float *const[]){x},
                            "dim=1 index=0", NULL);
        NkCopy d = {.rank = 2, .dims = {2, 768}, .strides = {197 * 768, 1},
                    .out_strides = {768, 1}};
        check_copy(&d, x, 2 * 768, ref, "select dim 1");
        free(x);
        free(ref);
    }
}

static void test_expand(void **state)
{
    static const struct {
        Shape in, out;
        const char *attrs;
    } cases[] = {
        {{2, {1, 768}}, {3, {2, 4, 768}}, "shape=[2,4,768]"},
        {{2, {3, 1}}, {2, {3, 1000}}, "shape=[3,1000]"},       /* along the innermost dim */
        {{3, {5, 1, 7}}, {3, {5, 6, 7}}, "shape=[5,6,7]"},
        {{1, {1}}, {2, {40, 1000}}, "shape=[40,1000]"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Shape si = cases[c].in, so = cases[c].out;
        float *x = nt_floats(shape_numel(&si), 1);
        float *ref =
            nt_ref(ref_expand, OP_EXPAND, 1, &si, (const float *const[]){x}, cases[c].attrs, NULL);
        NkCopy d = {.rank = so.rank};
        int64_t s = 1;
        for (int i = so.rank - 1; i >= 0; i--) {
            int j = i - (so.rank - si.rank);
            d.dims[i] = so.d[i];
            d.strides[i] = j < 0 || si.d[j] == 1 ? 0 : s;
            s *= j < 0 ? 1 : si.d[j];
        }
        contiguous(so.d, so.rank, d.out_strides);
        check_copy(&d, x, shape_numel(&so), ref, cases[c].attrs);
        free(x);
        free(ref);
    }
}

/* concat: each input is one nk_copy into the result at its offset along
 * dim, with the result's strides. */
static void check_concat(Shape a, Shape b, int dim)
{
    float *xa = nt_floats(shape_numel(&a), 1), *xb = nt_floats(shape_numel(&b), 1);
    char attrs[16];
    snprintf(attrs, sizeof attrs, "dim=%d", dim);
    Shape so;
    float *ref = nt_ref(ref_concat, OP_CONCAT, 2, (Shape[]){a, b},
                        (const float *const[]){xa, xb}, attrs, &so);
    int64_t n = shape_numel(&so), ost[8];
    contiguous(so.d, so.rank, ost);
    float *y = nt_floats(n, 0);
    const Shape *parts[2] = {&a, &b};
    const float *src[2] = {xa, xb};
    NT_AT_1_AND_2_THREADS(y, n, attrs, {
        int64_t at = 0;
        for (int k = 0; k < 2; k++) {
            NkCopy d = {.rank = so.rank};
            contiguous(parts[k]->d, parts[k]->rank, d.strides);
            for (int i = 0; i < so.rank; i++)
                d.dims[i] = parts[k]->d[i], d.out_strides[i] = ost[i];
            nk_copy(&d, src[k], y + at * ost[dim]);
            at += parts[k]->d[dim];
        }
    });
    nt_expect_close(y, ref, n, 0, attrs);
    free(xa);
    free(xb);
    free(y);
    free(ref);
}

static void test_concat(void **state)
{
    check_concat(SH(4, 2, 3, 5, 7), SH(4, 2, 4, 5, 7), 1);
    check_concat(SH(4, 2, 7, 7, 24), SH(4, 2, 7, 7, 40), 3); /* NHWC channel concat */
    check_concat(SH(3, 2, 1, 768), SH(3, 2, 196, 768), 1);   /* ViT: class token + patches */
    check_concat(SH(2, 3, 5), SH(2, 4, 5), 0);
}

static void test_contiguous(void **state)
{
    int64_t n = 3 * 50000 + 7;
    Shape s = SH(2, 1, n);
    float *x = nt_floats(n, 1);
    float *ref = nt_ref(ref_copy, OP_FLATTEN, 1, &s, (const float *const[]){x}, "", NULL);
    NkCopy d = {.rank = 2, .dims = {1, n}, .strides = {n, 1}, .out_strides = {n, 1}};
    check_copy(&d, x, n, ref, "contiguous");
    NkCopy rows = {.rank = 3, .dims = {7, 3, 1001}, .strides = {3003, 1001, 1},
                   .out_strides = {3003, 1001, 1}};
    check_copy(&rows, x, 7 * 3003, ref, "contiguous rows");
    /* an empty copy touches nothing */
    float y = 42;
    nk_copy(&(NkCopy){.rank = 2, .dims = {0, 5}, .strides = {5, 1}, .out_strides = {5, 1}}, x,
            &y);
    assert_true(y == 42);
    free(x);
    free(ref);
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permute),      cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_slice_select), cmocka_unit_test(test_expand),
        cmocka_unit_test(test_concat),       cmocka_unit_test(test_contiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
