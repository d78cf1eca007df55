/*
 * native_qtest_util.h — shared by the int8 kernel tests (test_native_q*.c):
 * the scalar reference of nk.h's integer semantics (float and shift
 * requantization), random quantized data,
 * and running a kernel at 2 and at 1 threads with a bytewise comparison
 * against the reference. Built with -ffp-contract=off (tests/
 * CMakeLists.txt), so every float operation below rounds on its own, as
 * the contract says. Include after native_test_util.h.
 */
#ifndef NETC_NATIVE_QTEST_UTIL_H
#define NETC_NATIVE_QTEST_UTIL_H

#include "native_test_util.h"

#include <math.h>
#include <stdint.h>

/* Output element size of a mode. */
static inline size_t qt_elem(const NkQOut *q) { return q->mode == NK_QOUT_F32 ? sizeof(float) : 1; }

/* acc / 2^k rounded half to even, by exact integer division (written
 * apart from the kernels' shift and mask): twice the remainder against
 * the divisor. */
static inline int64_t qt_rhe(int64_t acc, int k)
{
    int64_t d = (int64_t)1 << k;
    int64_t f = acc >= 0 ? acc / d : -((-acc + d - 1) / d); /* floor */
    int64_t twice_rem = 2 * (acc - f * d);
    return f + (twice_rem > d || (twice_rem == d && f % 2 != 0));
}

/* k of mult = 2^-k (the tests give shift mode only such mults). */
static inline int qt_shift_k(float mult)
{
    int e;
    assert_true(frexpf(mult, &e) == 0.5f);
    return 1 - e;
}

/* Output idx of the reference: requantises the exact accumulator. */
static inline void qt_requant(const NkQOut *q, int64_t acc, float mult, void *out, int64_t idx)
{
    assert_true(acc >= INT32_MIN && acc <= INT32_MAX);
    if (q->shift) {
        int64_t y = qt_rhe(acc, qt_shift_k(mult)) + q->zy;
        ((uint8_t *)out)[idx] = (uint8_t)(y < q->lo ? q->lo : y > q->hi ? q->hi : y);
        return;
    }
    float r = (float)(int32_t)acc;
    r = r * mult;
    if (q->mode == NK_QOUT_F32) {
        if (q->act == NK_ACT_RELU || q->act == NK_ACT_RELU6)
            r = r < 0 ? 0.0f : r;
        if (q->act == NK_ACT_RELU6)
            r = r > 6 ? 6.0f : r;
        ((float *)out)[idx] = r;
        return;
    }
    float a = (float)(q->lo - q->zy), b = (float)(q->hi - q->zy);
    r = r > a ? r : a;
    r = r < b ? r : b;
    ((uint8_t *)out)[idx] = (uint8_t)((int64_t)rintf(r) + q->zy);
}

static inline uint8_t *qt_u8(int64_t n, int lo, int hi)
{
    uint8_t *p = malloc((size_t)(n > 0 ? n : 1));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = (uint8_t)nt_rand_int(lo, hi);
    return p;
}

static inline int8_t *qt_s8(int64_t n, int lo, int hi)
{
    int8_t *p = malloc((size_t)(n > 0 ? n : 1));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = (int8_t)nt_rand_int(lo, hi);
    return p;
}

/* Per-channel multipliers that put sums of about `span` into the output's
 * range (half of them negative when sign). */
static inline float *qt_mults(int64_t n, double span, int sign)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) {
        double m = (0.5 + (nt_rand() + 1) * 0.75) * 128.0 / (span > 1 ? span : 1);
        p[i] = (float)(sign && nt_rand() < 0 ? -m : m);
    }
    return p;
}

/* Shift-mode multipliers 2^-k: half the channels put sums of about
 * `span` into the output's range, a quarter take k in [0, 4] (frequent
 * exact ties, many values past the clamp), a quarter any k in [0, 31]. */
static inline float *qt_shift_mults(int64_t n, double span)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    int fit = (int)floor(log2(span > 128 ? span / 128 : 1));
    for (int64_t i = 0; i < n; i++) {
        int64_t pick = nt_rand_int(0, 3);
        int64_t k = pick < 2 ? fit + nt_rand_int(-1, 1) : pick == 2 ? nt_rand_int(0, 4) : nt_rand_int(0, 31);
        p[i] = ldexpf(1.0f, -(int)(k < 0 ? 0 : k > 31 ? 31 : k));
    }
    return p;
}

/* A buffer of n bytes filled with a marker, so unwritten outputs differ
 * from the reference (most of the time). */
static inline void *qt_marked(int64_t n)
{
    void *p = malloc((size_t)(n > 0 ? n : 1));
    assert_non_null(p);
    memset(p, 0xA5, (size_t)(n > 0 ? n : 1));
    return p;
}

/* got against want, bytewise; names the first differing element. */
static inline void qt_expect_bytes(const void *got, const void *want, int64_t elems, const NkQOut *q,
                                   const char *what)
{
    size_t es = qt_elem(q);
    for (int64_t i = 0; i < elems; i++) {
        if (!memcmp((const char *)got + i * es, (const char *)want + i * es, es))
            continue;
        if (es == 1)
            fail_msg("%s: element %lld is %u, expected %u", what, (long long)i, ((const uint8_t *)got)[i],
                     ((const uint8_t *)want)[i]);
        fail_msg("%s: element %lld is %.9g, expected %.9g", what, (long long)i, ((const float *)got)[i],
                 ((const float *)want)[i]);
    }
}

/* Runs the statement given last, which writes through `buf`, at 2 threads
 * into a second buffer (buf rebound inside) and then at 1 thread into buf:
 * both must equal want (elems outputs of q's mode). */
#define QT_AT_1_AND_2_THREADS(buf, elems, q, want, what, ...)                                      \
    do {                                                                                          \
        void *qt_two_ = qt_marked((int64_t)((elems) * qt_elem(q)));                                \
        nk_set_threads(2);                                                                        \
        {                                                                                         \
            void *buf = qt_two_;                                                                  \
            __VA_ARGS__;                                                                          \
        }                                                                                         \
        nk_set_threads(1);                                                                        \
        __VA_ARGS__;                                                                              \
        qt_expect_bytes(buf, want, elems, q, what);                                               \
        qt_expect_bytes(qt_two_, want, elems, q, what);                                           \
        free(qt_two_);                                                                            \
    } while (0)

/* A random uint8 output zero point and clamp (a third of them a fused
 * ReLU). */
static inline void qt_random_u8_clamp(NkQOut *q)
{
    q->zy = nt_rand_int(0, 255);
    int relu = nt_rand_int(0, 2) == 0;
    q->lo = relu ? q->zy : nt_rand_int(0, 20);
    q->hi = nt_rand_int(q->lo > 235 ? q->lo : 235, 255);
}

/* A random output mode and its parameters (zx chosen by the caller). */
static inline NkQOut qt_random_out(int64_t zx)
{
    NkQOut q = {.zx = zx, .mode = nt_rand_int(0, 1)};
    if (q.mode == NK_QOUT_U8) {
        qt_random_u8_clamp(&q);
    } else {
        q.act = nt_rand_int(0, 2); /* none, relu, relu6 */
    }
    return q;
}

/* A random shift-mode output (U8 only; zx chosen by the caller). */
static inline NkQOut qt_random_shift_out(int64_t zx)
{
    NkQOut q = {.zx = zx, .mode = NK_QOUT_U8, .shift = 1};
    qt_random_u8_clamp(&q);
    return q;
}

#endif
