/*
 * test_native_topk.c — topk, the two-result operator: the reference kernel
 * (runtime/ref_topk.c) against a brute-force sort written independently
 * here (every row sorted whole with qsort, ties by index), and nk_topk
 * (runtime/native/topk.c) against the reference bit for bit, at 1 and 2
 * threads, along every axis position, with ties, NaN and k = 0 or len.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_test_util.h"

typedef struct Entry {
    float v;
    int64_t i;
    int largest;
} Entry;

/* qsort order: NaN largest, then value, then lower index first. */
static int cmp_entry(const void *pa, const void *pb)
{
    const Entry *a = pa, *b = pb;
    int na = isnan(a->v), nb = isnan(b->v), s = a->largest ? -1 : 1;
    if (na != nb)
        return na ? s : -s;
    if (!na && a->v != b->v)
        return a->v < b->v ? -s : s;
    return a->i < b->i ? -1 : 1;
}

/* Runs ref_topk on x viewed as [outer, len, inner] along the middle axis. */
static void run_ref(const float *x, int64_t outer, int64_t len, int64_t inner, int64_t k, bool largest,
                    float *vals, float *idx)
{
    IrGraph *g = ir_graph_new("t");
    Shape s = SH(3, outer, len, inner);
    IrValue *in = ir_add_input(g, "x", DT_F32, s, loc_none());
    char attrs[64];
    snprintf(attrs, sizeof attrs, "k=%lld dim=1 largest=%s", (long long)k, largest ? "true" : "false");
    IrNode *n = add_node(g, OP_TOPK, NULL, attrs, 1, &in, loc_none());
    assert_int_equal(n->nout, 2);
    assert_int_equal(n->outs[1]->dtype, DT_I64);
    Tensor *t = tensor_new(DT_F32, &s), *out[2];
    memcpy(t->data, x, tensor_nbytes(t));
    for (int r = 0; r < 2; r++)
        out[r] = tensor_new(DT_F32, &n->outs[r]->shape);
    char err[256] = "";
    if (!ref_kernel_for(OP_TOPK).many(n, (const Tensor *const *)&t, out, err, sizeof err))
        fail_msg("ref_topk: %s", err);
    memcpy(vals, out[0]->data, tensor_nbytes(out[0]));
    memcpy(idx, out[1]->data, tensor_nbytes(out[1]));
    tensor_free(out[0]);
    tensor_free(out[1]);
    tensor_free(t);
    ir_graph_free(g);
}

static void check(int64_t outer, int64_t len, int64_t inner, int64_t k, bool largest, bool ties)
{
    int64_t n = outer * len * inner, nk = outer * k * inner;
    float *x = nt_floats(n, 4);
    for (int64_t i = 0; i < n; i++) {
        if (ties)
            x[i] = (float)(int)(x[i]); /* few distinct values: many ties */
        if (i % 97 == 13)
            x[i] = NAN;
    }
    float *rv = nt_floats(nk, 0), *ri = nt_floats(nk, 0);
    run_ref(x, outer, len, inner, k, largest, rv, ri);

    /* the reference against a whole-row sort */
    Entry *row = malloc((size_t)len * sizeof *row);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            for (int64_t i = 0; i < len; i++)
                row[i] = (Entry){x[(o * len + i) * inner + j], i, largest};
            qsort(row, (size_t)len, sizeof *row, cmp_entry);
            for (int64_t m = 0; m < k; m++) {
                int64_t at = (o * k + m) * inner + j;
                if ((float)row[m].i != ri[at] ||
                    !(row[m].v == rv[at] || (isnan(row[m].v) && isnan(rv[at]))))
                    fail_msg("ref topk [%lld,%lld,%lld] k=%lld: rank %lld is x[%g]=%g, sort says x[%lld]=%g",
                             (long long)outer, (long long)len, (long long)inner, (long long)k,
                             (long long)m, ri[at], rv[at], (long long)row[m].i, row[m].v);
            }
        }
    free(row);

    /* the native kernel against the reference, bit for bit */
    char what[96];
    snprintf(what, sizeof what, "nk_topk [%lld, %lld, %lld] k=%lld largest=%d", (long long)outer,
             (long long)len, (long long)inner, (long long)k, largest);
    NkTopk d = {outer, len, inner, k, largest};
    float *scratch = nt_floats(nk_topk_scratch(&d, 2), 0), *nv = nt_floats(nk, 0);
    float *ni = nt_nan_floats(nk);
    NT_AT_1_AND_2_THREADS(nv, nk, what, nk_topk(&d, x, nv, ni, scratch));
    nt_expect_same(nv, rv, nk, what);
    nt_expect_same(ni, ri, nk, what);
    free(scratch);
    free(nv);
    free(ni);
    free(rv);
    free(ri);
    free(x);
}

static void test_topk(void **state)
{
    static const struct {
        int64_t outer, len, inner, k;
    } cases[] = {{1, 1000, 1, 5}, {4, 10, 1, 10}, {2, 7, 3, 0}, {3, 33, 5, 4}, {1, 1, 1, 1}, {8, 64, 2, 63}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int largest = 0; largest < 2; largest++)
            for (int ties = 0; ties < 2; ties++)
                check(cases[c].outer, cases[c].len, cases[c].inner, cases[c].k, largest, ties);
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_topk)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
