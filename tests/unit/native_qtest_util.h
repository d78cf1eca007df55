/*
 * native_qtest_util.h — shared by the int8 kernel tests (test_native_q*.c):
 * the scalar reference of nk.h's integer semantics, random quantized data,
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

/* Output idx of the reference: requantises the exact accumulator. */
static inline void qt_requant(const NkQOut *q, int64_t acc, float mult, void *out, int64_t idx)
{
    assert_true(acc >= INT32_MIN && acc <= INT32_MAX);
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

/* A random output mode and its parameters (zx chosen by the caller). */
static inline NkQOut qt_random_out(int64_t zx)
{
    NkQOut q = {.zx = zx, .mode = nt_rand_int(0, 1)};
    if (q.mode == NK_QOUT_U8) {
        q.zy = nt_rand_int(0, 255);
        int relu = nt_rand_int(0, 2) == 0;
        q.lo = relu ? q.zy : nt_rand_int(0, 20);
        q.hi = nt_rand_int(q.lo > 235 ? q.lo : 235, 255);
    } else {
        q.act = nt_rand_int(0, 2); /* none, relu, relu6 */
    }
    return q;
}

#endif
