/*
 * test_native_gemm.c — the packed GEMM core through its two users in
 * gemm.c, nk_linear (against ref_linear) and nk_matmul (against ref_matmul
 * as bmm on contiguous copies of the strided operands), and the thread
 * pool they run on (runtime/native/threads.c).
 *
 * Linear shapes cover m = 1 (a GEMV), partial and whole micro-tiles and
 * pixel blocks, k below one 16-column chunk, with a tail, and over several
 * K blocks, n below, at and past a panel (1000); bias or none, residual
 * and every activation. Matmul covers row strides wider than k, trans_b,
 * and batch strides of 0 (a broadcast operand). Scratch and outputs start
 * as NaN; every case runs at 1 and 2 threads, which must agree bit for
 * bit; the tolerance is 1e-4 of max |ref|.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_test_util.h"

#include <time.h>

#include <stdatomic.h>

/* ------------------------------------------------------------ nk_linear */

typedef struct LinearCase {
    int64_t m, k, n;
    int bias, residual;
    int64_t act;
} LinearCase;

static void check_linear(const LinearCase *lc, double *worst)
{
    int64_t m = lc->m, k = lc->k, n = lc->n;
    float *x = nt_floats(m * k, 1), *wt = nt_floats(n * k, 1.0f / sqrtf((float)k));
    float *b = nt_floats(n, 0.5f), *res = lc->residual ? nt_floats(m * n, 2) : NULL;
    char attrs[64];
    snprintf(attrs, sizeof attrs, "out_features=%lld bias=%s", (long long)n,
             lc->bias ? "true" : "false");
    Shape shapes[3] = {SH(2, m, k), SH(2, n, k), SH(1, n)};
    float *ref = nt_ref(ref_linear, OP_LINEAR, lc->bias ? 3 : 2, shapes,
                        (const float *const[]){x, wt, b}, attrs, NULL);
    for (int64_t i = 0; i < m * n; i++)
        ref[i] = (float)nt_act_ref((double)ref[i] + (res ? res[i] : 0), lc->act);

    NkLinear d = {.m = m, .k = k, .n = n, .act = lc->act};
    float *packed = nt_nan_floats(nk_linear_packed_floats(&d, nt_tiling()));
    nk_linear_pack(&d, nt_tiling(), wt, lc->bias ? b : NULL, packed);
    float *scratch = nt_nan_floats(nk_linear_scratch(&d, nt_tiling(), 2)), *y = nt_nan_floats(m * n);
    char what[128];
    snprintf(what, sizeof what, "linear m %lld k %lld n %lld bias %d act %lld%s", (long long)m,
             (long long)k, (long long)n, lc->bias, (long long)lc->act, res ? " residual" : "");
    NT_AT_1_AND_2_THREADS(y, m * n, what, nk_linear(&d, x, packed, res, y, scratch));
    double e = nt_expect_close(y, ref, m * n, 1e-4, what);
    *worst = e > *worst ? e : *worst;
    free(x), free(wt), free(b), free(res), free(ref), free(packed), free(scratch), free(y);
}

static void test_linear(void **state)
{
    static const LinearCase cases[] = {
        {1, 2048, 1000, 1, 0, NK_ACT_NONE}, /* ResNet's classifier: a GEMV */
        {1, 3, 1, 1, 0, NK_ACT_RELU},
        {5, 33, 70, 0, 0, NK_ACT_NONE},
        {14, 64, 32, 1, 1, NK_ACT_RELU},   /* one whole tile and panel */
        {29, 300, 48, 1, 0, NK_ACT_GELU},  /* 2 K blocks with a tail chunk */
        {197, 96, 40, 1, 1, NK_ACT_GELU},  /* ViT tokens: 2 pixel blocks */
        {130, 17, 16, 0, 1, NK_ACT_RELU6}, /* n of half a panel */
        {3, 600, 7, 1, 1, NK_ACT_NONE},    /* 3 K blocks */
        {226, 1, 5, 1, 0, NK_ACT_NONE},    /* k = 1, 3 pixel blocks */
    };
    double worst = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_linear(&cases[i], &worst);
    nt_rng_state = 4242;
    for (int i = 0; i < 16; i++) {
        LinearCase lc = {nt_rand_int(1, 60), nt_rand_int(1, 300), nt_rand_int(1, 100),
                         (int)nt_rand_int(0, 1), (int)nt_rand_int(0, 1), nt_rand_int(0, 4)};
        check_linear(&lc, &worst);
    }
    print_message("linear: max error %.3g of max |ref|\n", worst);
}

/* k = 0: the output is the bias (and residual, activation). */
static void test_linear_empty_k(void **state)
{
    NkLinear d = {.m = 3, .k = 0, .n = 20, .act = NK_ACT_RELU};
    float b[20], res[60], y[60];
    for (int i = 0; i < 20; i++)
        b[i] = (float)(i - 10);
    for (int i = 0; i < 60; i++)
        res[i] = 0.5f;
    float *packed = nt_nan_floats(nk_linear_packed_floats(&d, nt_tiling()));
    nk_linear_pack(&d, nt_tiling(), NULL, b, packed);
    float *scratch = nt_nan_floats(nk_linear_scratch(&d, nt_tiling(), 1));
    nk_linear(&d, NULL, packed, res, y, scratch);
    for (int i = 0; i < 60; i++)
        assert_float_equal(y[i], nt_act_ref(b[i % 20] + 0.5, NK_ACT_RELU), 0);
    free(packed);
    free(scratch);
}

/* ------------------------------------------------------------ nk_matmul */

static void check_matmul(const NkMatmul *d, double *worst)
{
    int64_t B = d->batch, m = d->m, k = d->k, n = d->n;
    int64_t asz = (d->a_bstride ? (B - 1) * d->a_bstride : 0) + (m - 1) * d->lda + k;
    int64_t brows = d->trans_b ? n : k, bcols = d->trans_b ? k : n;
    int64_t bsz = (d->b_bstride ? (B - 1) * d->b_bstride : 0) + (brows - 1) * d->ldb + bcols;
    float *a = nt_floats(asz, 1), *b = nt_floats(bsz, 1);
    /* Contiguous copies for the reference: A [B, m, k], B [B, k, n]. */
    float *ac = nt_floats(B * m * k, 0), *bc = nt_floats(B * k * n, 0);
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t q = 0; q < k; q++)
                ac[(bi * m + i) * k + q] = a[bi * d->a_bstride + i * d->lda + q];
    for (int64_t bi = 0; bi < B; bi++)
        for (int64_t q = 0; q < k; q++)
            for (int64_t j = 0; j < n; j++)
                bc[(bi * k + q) * n + j] = d->trans_b ? b[bi * d->b_bstride + j * d->ldb + q]
                                                      : b[bi * d->b_bstride + q * d->ldb + j];
    Shape shapes[2] = {SH(3, B, m, k), SH(3, B, k, n)};
    float *ref = nt_ref(ref_matmul, OP_BMM, 2, shapes, (const float *const[]){ac, bc}, "", NULL);
    float *scratch = nt_nan_floats(nk_matmul_scratch(d, nt_tiling(), 2)), *y = nt_nan_floats(B * m * n);
    char what[160];
    snprintf(what, sizeof what, "matmul %lld x [%lld, %lld] x [%lld, %lld] lda %lld ldb %lld "
             "strides %lld %lld trans_b %lld", (long long)B, (long long)m, (long long)k,
             (long long)k, (long long)n, (long long)d->lda, (long long)d->ldb,
             (long long)d->a_bstride, (long long)d->b_bstride, (long long)d->trans_b);
    NT_AT_1_AND_2_THREADS(y, B * m * n, what, nk_matmul(d, a, b, y, scratch));
    double e = nt_expect_close(y, ref, B * m * n, 1e-4, what);
    *worst = e > *worst ? e : *worst;
    free(a), free(b), free(ac), free(bc), free(ref), free(scratch), free(y);
}

static void test_matmul(void **state)
{
    double worst = 0;
    /* batch, m, k, n, lda, a_bstride, ldb, b_bstride, trans_b */
    static const NkMatmul cases[] = {
        {1, 5, 7, 3, 7, 0, 3, 0, 0},
        {12, 20, 64, 20, 192, 64, 192, 64, 1},   /* attention scores: q·kᵀ, heads by stride */
        {12, 20, 20, 64, 20, 400, 192, 64, 0},   /* attention · v */
        {3, 29, 300, 40, 310, 29 * 310, 45, 0, 0}, /* B broadcast, 2 K blocks */
        {4, 1, 33, 17, 33, 0, 33, 33 * 17, 1},   /* A broadcast, m = 1 */
        {2, 130, 16, 70, 16, 130 * 16, 70, 16 * 70, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_matmul(&cases[i], &worst);
    nt_rng_state = 99;
    for (int i = 0; i < 12; i++) {
        NkMatmul d = {.batch = nt_rand_int(1, 3), .m = nt_rand_int(1, 40),
                      .k = nt_rand_int(1, 80), .n = nt_rand_int(1, 50),
                      .trans_b = nt_rand_int(0, 1)};
        d.lda = d.k + nt_rand_int(0, 3);
        d.ldb = (d.trans_b ? d.k : d.n) + nt_rand_int(0, 3);
        d.a_bstride = nt_rand_int(0, 3) ? d.m * d.lda : 0;
        d.b_bstride = nt_rand_int(0, 3) ? (d.trans_b ? d.n : d.k) * d.ldb : 0;
        check_matmul(&d, &worst);
    }
    print_message("matmul: max error %.3g of max |ref|\n", worst);
}

/* ------------------------------------------------------------ threads */

typedef struct Cover {
    int64_t n, grain;
    atomic_int hits[1000];
    atomic_int bad; /* a range not on a grain boundary, or a bad thread */
    atomic_int threads_seen;
} Cover;

static void cover_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    Cover *c = ctx;
    if (begin % c->grain != 0 || (end % c->grain != 0 && end != c->n) || begin >= end ||
        thread < 0 || thread >= nk_get_threads())
        atomic_fetch_add(&c->bad, 1);
    atomic_fetch_or(&c->threads_seen, 1 << thread);
    for (int64_t i = begin; i < end; i++)
        atomic_fetch_add(&c->hits[i], 1);
}

/* Every index covered once, in grain-aligned ranges, by threads below
 * most_threads (which ones is the schedule's choice: chunks go to whoever
 * claims them first). */
static void check_cover(int64_t n, int64_t grain, int most_threads)
{
    static Cover c;
    memset(&c, 0, sizeof c);
    c.n = n, c.grain = grain;
    nk_parallel_for(n, grain, cover_task, &c);
    for (int64_t i = 0; i < n; i++)
        if (atomic_load(&c.hits[i]) != 1)
            fail_msg("n %lld grain %lld: index %lld covered %d times", (long long)n,
                     (long long)grain, (long long)i, atomic_load(&c.hits[i]));
    assert_int_equal(atomic_load(&c.bad), 0);
    assert_int_equal(atomic_load(&c.threads_seen) & ~((1 << most_threads) - 1), 0);
}

/* A thread stuck in one chunk (as if descheduled) holds up only that
 * chunk: the other threads take the rest instead of waiting for a static
 * share to come round. */
typedef struct Stall {
    atomic_int chunks_by[NK_MAX_THREADS];
} Stall;

static void stall_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    Stall *s = ctx;
    atomic_fetch_add(&s->chunks_by[thread], 1);
    if (thread != 0) {
        struct timespec ts = {0, 30 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void test_stalled_worker(void **state)
{
    nk_set_threads(2);
    for (int rep = 0; rep < 3; rep++) {
        static Stall s;
        memset(&s, 0, sizeof s);
        nk_parallel_for(8, 1, stall_task, &s); /* 8 chunks: a static split gives each thread 4 */
        int w = atomic_load(&s.chunks_by[1]);
        assert_int_equal(atomic_load(&s.chunks_by[0]) + w, 8);
        if (w > 2)
            fail_msg("the sleeping worker ran %d of 8 chunks; the caller should have taken them", w);
    }
    nk_set_threads(1);
}

/* A task that calls nk_parallel_for runs the inner loop on its own thread. */
static void nested_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    Cover *c = ctx;
    for (int64_t i = begin; i < end; i++) {
        static _Thread_local Cover inner;
        memset(&inner, 0, sizeof inner);
        inner.n = 10, inner.grain = 1;
        nk_parallel_for(10, 1, cover_task, &inner);
        int ok = atomic_load(&inner.bad) == 0 && atomic_load(&inner.threads_seen) == 1;
        for (int j = 0; j < 10; j++)
            ok = ok && atomic_load(&inner.hits[j]) == 1;
        atomic_fetch_add(&c->hits[i], ok);
    }
}

static void test_threads(void **state)
{
    assert_int_equal(nk_get_threads(), 1); /* the default */
    check_cover(100, 7, 1);
    nk_set_threads(0);
    assert_int_equal(nk_get_threads(), 1);
    nk_set_threads(NK_MAX_THREADS + 5);
    assert_int_equal(nk_get_threads(), NK_MAX_THREADS);
    nk_set_threads(3);
    assert_int_equal(nk_get_threads(), 3);
    check_cover(1000, 1, 3);
    check_cover(1000, 64, 3);
    check_cover(2, 1, 2);   /* fewer chunks than threads */
    check_cover(5, 10, 1);  /* one chunk */
    check_cover(0, 1, 0);   /* nothing */
    for (int rep = 0; rep < 200; rep++) /* back to back: spinning workers */
        check_cover(97, 3, 3);
    nk_set_threads(2);
    check_cover(999, 4, 2);
    static Cover outer;
    memset(&outer, 0, sizeof outer);
    nk_parallel_for(6, 1, nested_task, &outer);
    for (int i = 0; i < 6; i++)
        assert_int_equal(atomic_load(&outer.hits[i]), 1);
    nk_set_threads(1);
    check_cover(50, 5, 1);
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_stalled_worker),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_linear_empty_k),
        cmocka_unit_test(test_matmul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
