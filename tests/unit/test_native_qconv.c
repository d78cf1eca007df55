/*
 * test_native_qconv.c — nk_qconv2d (runtime/native/qconv.c) against a
 * scalar NHWC implementation of nk.h's integer semantics, bit for bit, in
 * every kernel variant: padding pixels read as zx; the GEMM path (im2col,
 * 1×1 stride-1 in place, groups) and the depthwise kernel; stride 2,
 * dilation, padding, odd channel counts (tails of every vector width),
 * zero points 0/128/255, both output modes, a fused ReLU, relu/relu6, the
 * all-255 × ±127 saturation case; float and shift requantization (the
 * GEMM epilogue and the depthwise one); at 2 and 1 threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_qtest_util.h"

typedef struct QConvCase {
    int64_t n, h, w, c, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups, zx;
    int fill; /* 0 random, 1 x = 255 and w = ±127 */
} QConvCase;

static void check_qconv(const QConvCase *cc, NkQOut q)
{
    NkQConv d = {cc->n, cc->h, cc->w, cc->c, cc->oc, 0, 0, cc->kh, cc->kw, cc->sh, cc->sw,
                 cc->ph, cc->pw, cc->dh, cc->dw, cc->groups, q};
    d.q.zx = cc->zx;
    d.oh = (d.h + 2 * d.ph - d.dh * (d.kh - 1) - 1) / d.sh + 1;
    d.ow = (d.w + 2 * d.pw - d.dw * (d.kw - 1) - 1) / d.sw + 1;
    int64_t cg = d.c / d.groups, og = d.oc / d.groups, taps = d.kh * d.kw;
    int64_t nin = d.n * d.h * d.w * d.c, nw = d.oc * cg * taps, nout = d.n * d.oh * d.ow * d.oc;
    uint8_t *x = cc->fill ? qt_u8(nin, 255, 255) : qt_u8(nin, 0, 255);
    int8_t *w = qt_s8(nw, -127, 127);
    for (int64_t i = 0; cc->fill && i < nw; i++)
        w[i] = (int8_t)(i / (cg * taps) % 2 ? -127 : 127);
    int32_t *bias = malloc((size_t)d.oc * sizeof *bias);
    for (int64_t o = 0; o < d.oc; o++)
        bias[o] = (int32_t)nt_rand_int(-50000, 50000);
    double span = 60.0 * sqrt((double)(cg * taps)) * 127 + (cc->fill ? 255.0 * 127 * cg * taps : 0);
    float *mult = d.q.shift ? qt_shift_mults(d.oc, span)
                            : qt_mults(d.oc, span * (d.q.mode == NK_QOUT_F32 ? 16 : 1), 1);

    void *want = qt_marked(nout * (int64_t)qt_elem(&d.q));
    for (int64_t b = 0; b < d.n; b++)
        for (int64_t oy = 0; oy < d.oh; oy++)
            for (int64_t ox = 0; ox < d.ow; ox++)
                for (int64_t o = 0; o < d.oc; o++) {
                    int64_t g = o / og, acc = bias[o];
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t ky = 0; ky < d.kh; ky++)
                            for (int64_t kx = 0; kx < d.kw; kx++) {
                                int64_t iy = oy * d.sh - d.ph + ky * d.dh, ix = ox * d.sw - d.pw + kx * d.dw;
                                int64_t xv = iy >= 0 && iy < d.h && ix >= 0 && ix < d.w
                                                 ? x[((b * d.h + iy) * d.w + ix) * d.c + g * cg + ci]
                                                 : d.q.zx;
                                acc += (xv - d.q.zx) * w[((o * cg + ci) * d.kh + ky) * d.kw + kx];
                            }
                    qt_requant(&d.q, acc, mult[o], want, ((b * d.oh + oy) * d.ow + ox) * d.oc + o);
                }

    assert_null(nk_qconv2d_check(&d, bias));
    void *packed = qt_marked(nk_qconv2d_packed_bytes(&d, nt_tiling()));
    assert_int_equal(nk_qconv2d_pack(&d, nt_tiling(), w, bias, mult, packed), 0);
    void *scratch = qt_marked(nk_qconv2d_scratch(&d, nt_tiling(), 2));
    void *y = qt_marked(nout * (int64_t)qt_elem(&d.q));
    char what[200];
    snprintf(what, sizeof what,
             "qconv n %lld %lldx%lldx%lld -> %lld k %lldx%lld s %lld,%lld p %lld,%lld d %lld,%lld g %lld zx %lld "
             "fill %d mode %lld shift %lld [%lld, %lld] act %lld",
             (long long)d.n, (long long)d.h, (long long)d.w, (long long)d.c, (long long)d.oc, (long long)d.kh,
             (long long)d.kw, (long long)d.sh, (long long)d.sw, (long long)d.ph, (long long)d.pw,
             (long long)d.dh, (long long)d.dw, (long long)d.groups, (long long)d.q.zx, cc->fill,
             (long long)d.q.mode, (long long)d.q.shift, (long long)d.q.lo, (long long)d.q.hi, (long long)d.q.act);
    QT_AT_1_AND_2_THREADS(y, nout, &d.q, want, what, nk_qconv2d(&d, x, packed, y, scratch));
    free(x), free(w), free(bias), free(mult), free(want), free(packed), free(scratch), free(y);
}

static void test_qconv(void **state)
{
    static const QConvCase cases[] = {
        /* n  h   w   c   oc  kh kw sh sw ph pw dh dw  g   zx fill */
        {1, 9, 9, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 128, 0},    /* 3x3 pad 1 */
        {2, 7, 6, 13, 21, 3, 3, 2, 2, 1, 1, 1, 1, 1, 255, 0},    /* stride 2, odd channels */
        {1, 8, 8, 64, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0},      /* 1x1: rows in place */
        {1, 8, 8, 30, 17, 1, 1, 2, 2, 0, 0, 1, 1, 1, 77, 0},     /* 1x1 stride 2: gathered */
        {1, 11, 11, 3, 10, 7, 7, 2, 2, 3, 3, 1, 1, 1, 128, 0},   /* a stem, k = 147 */
        {1, 9, 9, 12, 18, 3, 3, 1, 1, 2, 2, 2, 2, 3, 0, 0},      /* groups 3, dilation 2 */
        {2, 6, 6, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 4, 255, 0},     /* groups 4, og 4 */
        {1, 10, 10, 40, 40, 3, 3, 1, 1, 1, 1, 1, 1, 40, 128, 0}, /* depthwise */
        {2, 9, 7, 19, 19, 3, 3, 2, 2, 1, 1, 1, 1, 19, 0, 0},     /* depthwise stride 2, tail */
        {1, 8, 8, 33, 33, 5, 5, 1, 1, 2, 2, 1, 1, 33, 255, 0},   /* depthwise 5x5 */
        {1, 6, 6, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1, 20, 0, 1},     /* depthwise saturation */
        {1, 6, 6, 64, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 1},      /* GEMM saturation, k = 576 */
        {1, 5, 5, 7, 6, 2, 2, 1, 1, 0, 0, 1, 1, 1, 128, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int mode = 0; mode < 6; mode++) {
            /* U8, U8 with a ReLU, two F32, then the U8 ones in shift mode */
            int u8 = mode < 2 || mode >= 4, relu = mode == 1 || mode == 5;
            NkQOut q = {.mode = u8 ? NK_QOUT_U8 : NK_QOUT_F32, .zy = 90, .lo = relu ? 90 : 3,
                        .hi = relu ? 250 : 255, .act = mode == 2 ? NK_ACT_RELU6 : i % 2 ? NK_ACT_RELU : NK_ACT_NONE,
                        .shift = mode >= 4};
            if (u8)
                q.act = NK_ACT_NONE;
            check_qconv(&cases[i], q);
        }
    nt_rng_state = 99;
    for (int i = 0; i < 48; i++) { /* float, then shift requantization */
        int64_t g = nt_rand_int(1, 3), k = nt_rand_int(1, 3), s = nt_rand_int(1, 2);
        int dw = i % 4 == 0;
        int64_t c = dw ? nt_rand_int(2, 40) : g * nt_rand_int(1, 12);
        QConvCase cc = {nt_rand_int(1, 2), nt_rand_int(k, 10), nt_rand_int(k, 10), c,
                        dw ? c : g * nt_rand_int(1, 20), k, k, s, s, nt_rand_int(0, k / 2 + 1),
                        nt_rand_int(0, k / 2), 1, 1, dw ? c : g, nt_rand_int(0, 255), 0};
        check_qconv(&cc, i < 24 ? qt_random_out(0) : qt_random_shift_out(0));
    }
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_qconv)};
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    nk_set_threads(1);
    return r;
}
