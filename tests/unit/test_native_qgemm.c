/*
 * test_native_qgemm.c — nk_qlinear (runtime/native/qgemm.c: the int8 GEMM
 * core) against a scalar implementation of nk.h's integer semantics,
 * bit for bit, in every kernel variant.
 *
 * Shapes cover m = 1, partial and whole micro-tiles and A blocks, k of 1,
 * below, at and off the 4-value groups (k % 4 = 1, 2, 3), deep k, n below,
 * at and past a panel; zero points 0, 128, 255 and random ones; both output
 * modes (U8 with and without a fused ReLU, F32 with none/relu/relu6); no
 * bias, and biases close to the int32 bound. The saturation cases: all-255
 * activations against all +127, all -127 and alternating weights (sums a
 * u8×s8 pair instruction would saturate). Every case runs at 2 and at 1
 * threads, both must equal the reference. The pack-time check refuses
 * layers whose sums could leave int32. Shift requantization (nk.h) runs
 * the same cases and random ones, plus accumulators aimed at every exact
 * tie (positive and negative) for k = 0..31 and past the clamp, and the
 * refusal of a multiplier that is not 2^-k.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_qtest_util.h"

typedef struct QLinearCase {
    int64_t m, k, n, zx;
    int bias;  /* 0 none, 1 random, 2 near the bound */
    int fill;  /* 0 random, 1 x = 255 and w = +127, 2 w = -127, 3 w = ±127 alternating */
} QLinearCase;

static void check_qlinear(const QLinearCase *c, NkQOut q)
{
    int64_t m = c->m, k = c->k, n = c->n;
    q.zx = c->zx;
    uint8_t *x = c->fill ? qt_u8(m * k, 255, 255) : qt_u8(m * k, 0, 255);
    int8_t *w = qt_s8(n * k, -127, 127);
    for (int64_t i = 0; c->fill && i < n * k; i++)
        w[i] = (int8_t)(c->fill == 1 ? 127 : c->fill == 2 ? -127 : (i % k + i / k) % 2 ? 127 : -127);
    int32_t *bias = NULL;
    if (c->bias) {
        bias = malloc((size_t)n * sizeof *bias);
        int64_t room = INT32_MAX - k * 255 * 127;
        for (int64_t j = 0; j < n; j++)
            bias[j] = (int32_t)(c->bias == 2 ? (j % 2 ? room : -room) : nt_rand_int(-100000, 100000));
    }
    double span = 60.0 * sqrt((double)k) * 127 + (c->fill ? 255.0 * 127 * k : 0);
    float *mult = q.shift ? qt_shift_mults(n, span) : qt_mults(n, span * (q.mode == NK_QOUT_F32 ? 16 : 1), 1);

    /* the reference */
    void *want = qt_marked(m * n * (int64_t)qt_elem(&q));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t acc = bias ? bias[j] : 0;
            for (int64_t kk = 0; kk < k; kk++)
                acc += (x[i * k + kk] - q.zx) * w[j * k + kk];
            qt_requant(&q, acc, mult[j], want, i * n + j);
        }

    NkQLinear d = {.m = m, .k = k, .n = n, .q = q};
    assert_null(nk_qlinear_check(&d, bias));
    void *packed = qt_marked(nk_qlinear_packed_bytes(&d, nt_tiling()));
    assert_int_equal(nk_qlinear_pack(&d, nt_tiling(), w, bias, mult, packed), 0);
    void *scratch = qt_marked(nk_qlinear_scratch(&d, nt_tiling(), 2));
    void *y = qt_marked(m * n * (int64_t)qt_elem(&q));
    char what[160];
    snprintf(what, sizeof what,
             "qlinear m %lld k %lld n %lld zx %lld bias %d fill %d mode %lld shift %lld zy %lld [%lld, %lld] act %lld",
             (long long)m, (long long)k, (long long)n, (long long)q.zx, c->bias, c->fill, (long long)q.mode,
             (long long)q.shift, (long long)q.zy, (long long)q.lo, (long long)q.hi, (long long)q.act);
    QT_AT_1_AND_2_THREADS(y, m * n, &q, want, what, nk_qlinear(&d, x, packed, y, scratch));
    free(x), free(w), free(bias), free(mult), free(want), free(packed), free(scratch), free(y);
}

static void test_qlinear(void **state)
{
    static const QLinearCase cases[] = {
        {1, 768, 1000, 128, 1, 0},  /* a GEMV */
        {1, 1, 1, 0, 0, 0},
        {5, 33, 70, 255, 0, 0},     /* k % 4 = 1 */
        {14, 64, 32, 128, 1, 0},    /* one whole VNNI tile and panel */
        {29, 302, 48, 0, 1, 0},     /* k % 4 = 2 */
        {197, 96, 40, 17, 1, 0},    /* ViT tokens: 2 A blocks */
        {130, 19, 16, 128, 0, 0},   /* k % 4 = 3 */
        {3, 4608, 7, 200, 1, 0},    /* deep k (3x3x512) */
        {226, 1, 5, 255, 1, 0},     /* k = 1 */
        {37, 300, 33, 0, 0, 1},     /* saturation: 255 x +127 */
        {37, 301, 33, 0, 0, 2},     /* 255 x -127 */
        {37, 299, 33, 0, 0, 3},     /* 255 x ±127 */
        {20, 4608, 9, 0, 2, 1},     /* all of that with biases at the bound */
        {20, 4607, 9, 255, 2, 2},
        {40, 1000, 65, 128, 2, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int mode = 0; mode < 6; mode++) {
            /* U8 plain, U8 with a fused ReLU, F32 relu, F32 relu6 / none,
             * then the two U8 ones with shift requantization */
            int u8 = mode < 2 || mode >= 4, relu = mode == 1 || mode == 5;
            NkQOut q = {.mode = u8 ? NK_QOUT_U8 : NK_QOUT_F32, .zy = 100, .lo = relu ? 100 : 0, .hi = 255,
                        .act = mode == 2 ? NK_ACT_RELU : i % 2 ? NK_ACT_RELU6 : NK_ACT_NONE, .shift = mode >= 4};
            if (u8)
                q.act = NK_ACT_NONE;
            check_qlinear(&cases[i], q);
        }
    nt_rng_state = 777;
    static const int64_t zps[] = {0, 128, 255};
    for (int i = 0; i < 40; i++) {
        QLinearCase c = {nt_rand_int(1, 60), nt_rand_int(1, 300), nt_rand_int(1, 100),
                         i % 4 == 3 ? nt_rand_int(0, 255) : zps[i % 3], (int)nt_rand_int(0, 2), 0};
        check_qlinear(&c, qt_random_out(0));
    }
    nt_rng_state = 4242;
    for (int i = 0; i < 40; i++) {
        QLinearCase c = {nt_rand_int(1, 60), nt_rand_int(1, 300), nt_rand_int(1, 100),
                         i % 4 == 3 ? nt_rand_int(0, 255) : zps[i % 3], (int)nt_rand_int(0, 2), 0};
        check_qlinear(&c, qt_random_shift_out(0));
    }
}

/* One column per (acc, k): with k = 1 and x = zx, acc is exactly the
 * column's bias, so every tie and bound of nk.h's rhe can be aimed at,
 * through the GEMM's tiles (3 rows, columns past a panel). The outputs
 * must be rhe + zy clamped, as the reference and as written in nk.h. */
typedef struct ShiftCase {
    int64_t acc;
    int k;
    int64_t rhe; /* as nk.h's examples say (before zy and the clamp) */
} ShiftCase;

static void test_qlinear_shift_ties(void **state)
{
    const int64_t most = INT32_MAX - 255 * 127; /* the largest |bias| with k = 1 */
    static const ShiftCase fixed[] = {
        {5, 1, 2},   {7, 1, 4},   {-5, 1, -2}, {-7, 1, -4}, {-3, 1, -2}, {-1, 1, 0},
        {1, 1, 0},   {3, 1, 2},   {-6, 2, -2}, {6, 2, 2},   {-10, 2, -2}, {10, 2, 2},
        {-2, 2, 0},  {2, 2, 0},   {-9, 3, -1}, {-12, 3, -2}, {12, 3, 2}, {-20, 3, -2},
        {1 << 30, 31, 0}, {-(1 << 30), 31, 0}, {(1 << 30) + 1, 31, 1}, {-(1 << 30) - 1, 31, -1},
        {0, 31, 0},  {-1, 31, 0}, {1, 31, 0}, {0, 0, 0}, {-128, 0, -128}, {127, 0, 127},
        {3 << 20, 21, 2}, {-(3 << 20), 21, -2}, {5 << 20, 21, 2}, {-(5 << 20), 21, -2},
        {(5 << 20) + 1, 21, 3}, {-(5 << 20) - 1, 21, -3},
    };
    enum { NFIXED = sizeof fixed / sizeof fixed[0], N = NFIXED + 3 * 32 + 6 };
    int64_t acc[N];
    int ks[N];
    int n = 0;
    for (; n < NFIXED; n++)
        acc[n] = fixed[n].acc, ks[n] = fixed[n].k;
    for (int k = 0; k < 32; k++) { /* the ties ±(2j + 1)·2^(k−1) at every k, and one more */
        int64_t half = k ? (int64_t)1 << (k - 1) : 1;
        int64_t j = nt_rand_int(0, k < 24 ? 50 : 0);
        acc[n] = (2 * j + 1) * half, ks[n++] = k;
        acc[n] = -(2 * j + 1) * half, ks[n++] = k;
        acc[n] = -(2 * j + 1) * half - 1, ks[n++] = k;
    }
    /* past the clamp both ways, and the int32 bound */
    const int64_t past[][2] = {{1000, 0}, {-1000, 0}, {most, 0}, {-most, 0}, {most, 31}, {-most, 31}};
    for (int i = 0; i < 6; i++)
        acc[n] = past[i][0], ks[n++] = (int)past[i][1];
    assert_int_equal(n, N);

    NkQLinear d = {.m = 3, .k = 1, .n = N, .q = {.zx = 77, .mode = NK_QOUT_U8, .zy = 128, .lo = 0, .hi = 255, .shift = 1}};
    uint8_t x[3] = {77, 77, 77};
    int8_t w[N];
    int32_t bias[N];
    float mult[N];
    uint8_t want[3 * N];
    for (int j = 0; j < N; j++) {
        w[j] = (int8_t)nt_rand_int(-127, 127);
        bias[j] = (int32_t)acc[j];
        mult[j] = ldexpf(1.0f, -ks[j]);
        for (int i = 0; i < 3; i++)
            qt_requant(&d.q, acc[j], mult[j], want, i * N + j);
    }
    for (int j = 0; j < NFIXED; j++) { /* the reference agrees with nk.h's examples */
        int64_t y = fixed[j].rhe + 128;
        assert_int_equal(want[j], y < 0 ? 0 : y > 255 ? 255 : y);
    }
    assert_int_equal(want[NFIXED + 3 * 32 + 0], 255);
    assert_int_equal(want[NFIXED + 3 * 32 + 1], 0);
    assert_int_equal(want[NFIXED + 3 * 32 + 5], 127); /* rhe(−most, 31) = −1 */
    assert_null(nk_qlinear_check(&d, bias));
    assert_null(nk_qmult_check(&d.q, N, mult));
    void *packed = qt_marked(nk_qlinear_packed_bytes(&d, nt_tiling()));
    assert_int_equal(nk_qlinear_pack(&d, nt_tiling(), w, bias, mult, packed), 0);
    void *scratch = qt_marked(nk_qlinear_scratch(&d, nt_tiling(), 2));
    void *out = qt_marked(3 * N);
    QT_AT_1_AND_2_THREADS(out, 3 * N, &d.q, want, "shift ties", nk_qlinear(&d, x, packed, out, scratch));
    free(packed), free(scratch), free(out);
}

/* Shift requantization takes only mult = 2^-k, k in [0, 31], and only
 * with a uint8 output. */
static void test_qlinear_shift_check(void **state)
{
    NkQLinear d = {.m = 1, .k = 4, .n = 1, .q = {.zx = 0, .mode = NK_QOUT_U8, .hi = 255, .shift = 1}};
    int8_t w[4] = {1, 2, 3, 4};
    char packed[4096];
    static const float good[] = {1.0f, 0.5f, 0.25f, 0x1p-17f, 0x1p-31f};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_null(nk_qmult_check(&d.q, 1, &good[i]));
        assert_int_equal(nk_qlinear_pack(&d, nt_tiling(), w, NULL, &good[i], packed), 0);
    }
    const float bad[] = {0.3f, 3.0f, 0.75f, 2.0f, 0x1p-32f, 0.0f, -0.0f, -0.5f, INFINITY, NAN, 0x1.000002p-3f};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = nk_qmult_check(&d.q, 1, &bad[i]);
        assert_non_null(why);
        assert_non_null(strstr(why, "2^-k"));
        assert_int_equal(nk_qlinear_pack(&d, nt_tiling(), w, NULL, &bad[i], packed), -1);
    }
    NkQOut fl = d.q; /* float requantization takes any mult */
    fl.shift = 0;
    assert_null(nk_qmult_check(&fl, 1, &bad[0]));
    NkQLinear f32 = d;
    f32.q.mode = NK_QOUT_F32;
    assert_non_null(nk_qlinear_check(&f32, NULL));
    assert_int_equal(nk_qlinear_pack(&f32, nt_tiling(), w, NULL, &good[0], packed), -1);
    NkQLinear two = d;
    two.q.shift = 2;
    assert_non_null(nk_qlinear_check(&two, NULL));
}

/* The contract's bound: k·255·127 + |bias| must fit int32. */
static void test_qlinear_check(void **state)
{
    NkQLinear ok = {.m = 1, .k = 66311, .n = 2, .q = {.zx = 0, .mode = NK_QOUT_U8, .hi = 255}};
    assert_null(nk_qlinear_check(&ok, NULL));
    NkQLinear deep = ok;
    deep.k = 66312; /* 66312 · 32385 > 2^31 - 1 */
    assert_non_null(nk_qlinear_check(&deep, NULL));
    int32_t bias[2] = {0, (int32_t)(INT32_MAX - 1000 * 255 * 127 + 1)};
    NkQLinear b = {.m = 1, .k = 1000, .n = 2, .q = ok.q};
    assert_non_null(nk_qlinear_check(&b, bias));
    bias[1] = -bias[1];
    assert_non_null(nk_qlinear_check(&b, bias));
    bias[1] = (int32_t)(INT32_MAX - 1000 * 255 * 127);
    assert_null(nk_qlinear_check(&b, bias));
    NkQLinear bad = ok;
    bad.q.zx = 256;
    assert_non_null(nk_qlinear_check(&bad, NULL));
    bad = ok, bad.q.lo = 10, bad.q.hi = 9;
    assert_non_null(nk_qlinear_check(&bad, NULL));
    bad = ok, bad.q.mode = NK_QOUT_F32, bad.q.act = NK_ACT_GELU;
    assert_non_null(nk_qlinear_check(&bad, NULL));
    int8_t w[2] = {1, 1};
    float mult[2] = {1, 1};
    char packed[4096];
    assert_int_equal(nk_qlinear_pack(&deep, nt_tiling(), w, NULL, mult, packed), -1);
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qlinear),
        cmocka_unit_test(test_qlinear_check),
        cmocka_unit_test(test_qlinear_shift_ties),
        cmocka_unit_test(test_qlinear_shift_check),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    nk_set_threads(1);
    return r;
}
