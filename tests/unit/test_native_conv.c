/*
 * test_native_conv.c — nk_conv2d (runtime/native/conv.c) against the NCHW
 * reference ref_conv2d: the input is generated NHWC and converted for the
 * reference, the reference output converted back; the residual and the
 * activation the kernel fuses are applied to the reference here, in
 * double. Weights are PyTorch's [oc, c/groups, kh, kw], packed with
 * nk_conv2d_pack as netc does.
 *
 * The cases walk the kernel's paths: the plain-rows GEMM (1×1 stride 1),
 * im2col with channel runs that fill whole 16-column chunks (c % 16 == 0)
 * and with runs that do not (c = 3 stem, c = 300), several K blocks (K >
 * NK_KC), partial output panels (oc = 24, 40, 1000), partial pixel tiles
 * and pixel blocks, groups, depthwise (interior and border tiles, channel
 * tails), batch > 1, and every epilogue. Scratch and output start as NaN,
 * so a read of scratch the kernel did not write, or an output it skipped,
 * shows. Every case runs at 1 and at 2 threads, which must agree bit for
 * bit; the tolerance is 1e-4 of max |ref|.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_test_util.h"

typedef struct ConvCase {
    int64_t n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups;
    int bias, residual;
    int64_t act;
} ConvCase;

static void check_conv(const ConvCase *cc, double *worst)
{
    int64_t n = cc->n, c = cc->c, h = cc->h, w = cc->w, oc = cc->oc, g = cc->groups;
    int64_t oh = (h + 2 * cc->ph - cc->dh * (cc->kh - 1) - 1) / cc->sh + 1;
    int64_t ow = (w + 2 * cc->pw - cc->dw * (cc->kw - 1) - 1) / cc->sw + 1;
    int64_t wn = oc * (c / g) * cc->kh * cc->kw, on = n * oh * ow * oc;
    float *x = nt_floats(n * h * w * c, 1), *xc = nt_floats(n * c * h * w, 0);
    float *wt = nt_floats(wn, 1.0f / sqrtf((float)(wn / oc))), *b = nt_floats(oc, 0.5f);
    nt_nhwc_to_nchw(x, xc, n, c, h * w);

    char attrs[256];
    snprintf(attrs, sizeof attrs,
             "out_channels=%lld kernel_size=[%lld,%lld] stride=[%lld,%lld] padding=[%lld,%lld] "
             "dilation=[%lld,%lld] groups=%lld bias=%s",
             (long long)oc, (long long)cc->kh, (long long)cc->kw, (long long)cc->sh,
             (long long)cc->sw, (long long)cc->ph, (long long)cc->pw, (long long)cc->dh,
             (long long)cc->dw, (long long)g, cc->bias ? "true" : "false");
    Shape shapes[3] = {SH(4, n, c, h, w), SH(4, oc, c / g, cc->kh, cc->kw), SH(1, oc)}, so;
    float *refc = nt_ref(ref_conv2d, OP_CONV2D, cc->bias ? 3 : 2, shapes,
                         (const float *const[]){xc, wt, b}, attrs, &so);
    assert_int_equal(so.d[2], oh);
    assert_int_equal(so.d[3], ow);
    float *ref = nt_floats(on, 0), *res = cc->residual ? nt_floats(on, 2) : NULL;
    nt_nchw_to_nhwc(refc, ref, n, oc, oh * ow);
    for (int64_t i = 0; i < on; i++)
        ref[i] = (float)nt_act_ref((double)ref[i] + (res ? res[i] : 0), cc->act);

    NkConv d = {.n = n, .h = h, .w = w, .c = c, .oc = oc, .oh = oh, .ow = ow,
                .kh = cc->kh, .kw = cc->kw, .sh = cc->sh, .sw = cc->sw, .ph = cc->ph,
                .pw = cc->pw, .dh = cc->dh, .dw = cc->dw, .groups = g, .act = cc->act};
    float *packed = nt_nan_floats(nk_conv2d_packed_floats(&d, nt_tiling()));
    nk_conv2d_pack(&d, nt_tiling(), wt, cc->bias ? b : NULL, packed);
    float *scratch = nt_nan_floats(nk_conv2d_scratch(&d, nt_tiling(), 2));
    float *y = nt_nan_floats(on);

    char what[320];
    snprintf(what, sizeof what, "conv [%lld, %lld, %lld, %lld] %s act %lld%s", (long long)n,
             (long long)h, (long long)w, (long long)c, attrs, (long long)cc->act,
             res ? " residual" : "");
    NT_AT_1_AND_2_THREADS(y, on, what, nk_conv2d(&d, x, packed, res, y, scratch));
    double e = nt_expect_close(y, ref, on, 1e-4, what);
    *worst = e > *worst ? e : *worst;
    free(x), free(xc), free(wt), free(b), free(refc), free(ref), free(res);
    free(packed), free(scratch), free(y);
}

static void run_cases(const ConvCase *cases, size_t count, const char *name)
{
    double worst = 0;
    for (size_t i = 0; i < count; i++)
        check_conv(&cases[i], &worst);
    print_message("%s: %zu cases, max error %.3g of max |ref|\n", name, count, worst);
}

/* n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias, residual, act */
static void test_conv_pointwise(void **state)
{
    static const ConvCase cases[] = {
        {1, 64, 14, 14, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, NK_ACT_NONE}, /* 14 whole tiles */
        {1, 32, 9, 11, 48, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, NK_ACT_RELU},  /* panel + 16 cols */
        {2, 16, 5, 7, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, NK_ACT_RELU6},  /* oc = 24 */
        {1, 64, 7, 7, 1000, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, NK_ACT_GELU}, /* 49 px, oc 1000 */
        {1, 300, 6, 5, 40, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, NK_ACT_SILU},  /* 2 K blocks, tail */
        {1, 3, 20, 20, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, NK_ACT_RELU},   /* 400 px, K = 3 */
        {1, 64, 9, 9, 32, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 0, NK_ACT_NONE},   /* strided 1×1 */
        {1, 8, 6, 6, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, NK_ACT_NONE},     /* padded 1×1 */
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "pointwise");
}

static void test_conv_spatial(void **state)
{
    static const ConvCase cases[] = {
        {1, 16, 10, 10, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, NK_ACT_RELU6}, /* 3×3 pad 1 */
        {1, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, NK_ACT_RELU},    /* K = 576: 3 blocks */
        {1, 32, 13, 13, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, NK_ACT_NONE},  /* stride 2 */
        {1, 3, 32, 32, 64, 7, 7, 2, 2, 3, 3, 1, 1, 1, 1, 0, NK_ACT_RELU},   /* ResNet stem */
        {1, 16, 12, 12, 16, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 0, NK_ACT_NONE},  /* dilation 2 */
        {1, 5, 9, 9, 7, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 1, NK_ACT_GELU},      /* dilation, c 5 */
        {2, 16, 5, 7, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, NK_ACT_GELU},    /* batch 2, 70 px */
        {1, 7, 11, 13, 9, 3, 5, 1, 2, 1, 2, 1, 1, 1, 1, 0, NK_ACT_NONE},    /* rectangular */
        {1, 4, 17, 13, 6, 5, 5, 3, 3, 2, 2, 1, 1, 1, 0, 0, NK_ACT_RELU},    /* 5×5 stride 3 */
        {1, 2, 5, 5, 3, 7, 7, 1, 1, 3, 3, 1, 1, 1, 1, 0, NK_ACT_NONE},      /* kernel > input */
        {1, 48, 7, 7, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, NK_ACT_NONE},    /* K = 432, 49 px */
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "spatial");
}

static void test_conv_groups(void **state)
{
    static const ConvCase cases[] = {
        {1, 32, 9, 9, 48, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 0, NK_ACT_RELU},  /* groups 2 */
        {1, 12, 8, 8, 20, 3, 3, 2, 2, 1, 1, 1, 1, 4, 1, 1, NK_ACT_NONE},  /* cg 3, og 5 */
        {1, 64, 6, 6, 64, 1, 1, 1, 1, 0, 0, 1, 1, 2, 0, 0, NK_ACT_NONE},  /* grouped 1×1 */
        {1, 8, 7, 7, 16, 3, 3, 1, 1, 1, 1, 1, 1, 8, 1, 0, NK_ACT_RELU6},  /* multiplier 2 */
        {1, 6, 8, 8, 6, 2, 2, 1, 1, 0, 0, 3, 3, 2, 0, 0, NK_ACT_NONE},    /* dilation 3 */
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "groups");
}

static void test_conv_depthwise(void **state)
{
    static const ConvCase cases[] = {
        {1, 32, 15, 15, 32, 3, 3, 1, 1, 1, 1, 1, 1, 32, 1, 0, NK_ACT_RELU6}, /* MobileNet */
        {1, 24, 13, 13, 24, 3, 3, 2, 2, 1, 1, 1, 1, 24, 1, 1, NK_ACT_NONE},  /* tail, stride 2 */
        {2, 3, 9, 10, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3, 0, 0, NK_ACT_GELU},      /* c < 16 */
        {1, 16, 20, 21, 16, 5, 5, 1, 1, 4, 4, 2, 2, 16, 1, 0, NK_ACT_RELU},  /* dilation 2 */
        {1, 40, 7, 7, 40, 7, 7, 1, 1, 3, 3, 1, 1, 40, 1, 1, NK_ACT_RELU},    /* 7×7 */
        {1, 16, 4, 20, 16, 3, 1, 1, 3, 0, 0, 1, 1, 16, 1, 0, NK_ACT_NONE},   /* 3×1, stride 3 */
        {1, 48, 9, 9, 48, 5, 5, 2, 2, 2, 2, 1, 1, 48, 1, 1, NK_ACT_SILU},    /* EfficientNet 5×5 */
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "depthwise");
}

/* Random shapes, seeded: sizes, kernel, stride, padding, dilation, groups. */
static void test_conv_random(void **state)
{
    enum { N = 24 };
    ConvCase cases[N];
    nt_rng_state = 777;
    for (int i = 0; i < N; i++) {
        ConvCase *cc = &cases[i];
        int64_t groups[] = {1, 1, 1, 2, 3};
        cc->groups = groups[nt_rand_int(0, 4)];
        int dw = nt_rand_int(0, 5) == 0;
        cc->c = cc->groups * nt_rand_int(1, 20);
        cc->oc = dw ? cc->c : cc->groups * nt_rand_int(1, 40);
        if (dw)
            cc->groups = cc->c;
        cc->n = nt_rand_int(1, 2);
        cc->kh = nt_rand_int(1, 5), cc->kw = nt_rand_int(1, 5);
        cc->sh = nt_rand_int(1, 3), cc->sw = nt_rand_int(1, 3);
        cc->dh = nt_rand_int(1, 2), cc->dw = nt_rand_int(1, 2);
        cc->ph = nt_rand_int(0, cc->kh), cc->pw = nt_rand_int(0, cc->kw);
        cc->h = nt_rand_int(cc->dh * (cc->kh - 1) + 1, 16);
        cc->w = nt_rand_int(cc->dw * (cc->kw - 1) + 1, 16);
        cc->bias = nt_rand_int(0, 1);
        cc->residual = nt_rand_int(0, 1);
        cc->act = nt_rand_int(0, 4);
    }
    run_cases(cases, N, "random");
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_pointwise),
        cmocka_unit_test(test_conv_spatial),
        cmocka_unit_test(test_conv_groups),
        cmocka_unit_test(test_conv_depthwise),
        cmocka_unit_test(test_conv_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
