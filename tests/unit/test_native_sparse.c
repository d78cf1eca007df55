/*
 * test_native_sparse.c — nk_spconv2d and nk_splinear (runtime/native/
 * sparse.c) against a plain NHWC convolution in double written here (a
 * linear layer is a 1×1 convolution over m pixels), on random weights with
 * a given share of exact zeros, plus the packed format's invariants.
 *
 * Densities 1 (no zeros: every group padded to nothing), 0.5, 0.1, 0.02
 * and 0 (all zero: bias only). Shapes walk the kernel's edges: pixel
 * counts below, at and past one panel (PB = 64 with AVX-512, 16
 * otherwise) and not a multiple of the vector length, output counts not a
 * multiple of the 4-row group or of the VL-row tile (o = 1, 5, 33, 1000),
 * k below one vector with a tail, im2col rows longer than one K block
 * (K > NK_KC), strided, padded, dilated and rectangular kernels, the
 * pointwise (in place) path, batch 2, residual and every activation.
 * Scratch and output start as NaN; every case runs at 1 and 2 threads,
 * which must agree bit for bit; the tolerance is 1e-4 of max |ref|.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_test_util.h"
#include "../../runtime/native/nk_sparse.h"

/* Zeros each weight with probability 1 - density. */
static void sparsify(float *w, int64_t n, double density)
{
    for (int64_t i = 0; i < n; i++)
        if ((nt_rand() + 1.0) / 2.0 >= density)
            w[i] = 0.0f;
}

/* out[p, o] = act(bias[o] + Σ w·x + res[p, o]), NHWC, groups 1, in double. */
static void plain_conv(const NkConv *d, const float *x, const float *w, const float *b,
                       const float *res, float *out)
{
    for (int64_t img = 0; img < d->n; img++)
        for (int64_t oy = 0; oy < d->oh; oy++)
            for (int64_t ox = 0; ox < d->ow; ox++)
                for (int64_t o = 0; o < d->oc; o++) {
                    double s = b ? b[o] : 0;
                    for (int64_t ci = 0; ci < d->c; ci++)
                        for (int64_t ky = 0; ky < d->kh; ky++)
                            for (int64_t kx = 0; kx < d->kw; kx++) {
                                int64_t iy = oy * d->sh - d->ph + ky * d->dh;
                                int64_t ix = ox * d->sw - d->pw + kx * d->dw;
                                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
                                    continue;
                                s += (double)w[((o * d->c + ci) * d->kh + ky) * d->kw + kx] *
                                     x[((img * d->h + iy) * d->w + ix) * d->c + ci];
                            }
                    int64_t at = ((img * d->oh + oy) * d->ow + ox) * d->oc + o;
                    out[at] = (float)nt_act_ref(s + (res ? res[at] : 0), d->act);
                }
}

typedef struct SpCase {
    int64_t n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw;
    int bias, residual;
    int64_t act;
    int linear; /* run as nk_splinear: m = n·h·w rows of c (a 1×1 conv) */
} SpCase;

static const double densities[] = {1.0, 0.5, 0.1, 0.02, 0.0};

static void check_case(const SpCase *sc, double density, double *worst)
{
    NkConv d = {.n = sc->n, .h = sc->h, .w = sc->w, .c = sc->c, .oc = sc->oc,
                .kh = sc->kh, .kw = sc->kw, .sh = sc->sh, .sw = sc->sw, .ph = sc->ph,
                .pw = sc->pw, .dh = sc->dh, .dw = sc->dw, .groups = 1, .act = sc->act};
    d.oh = (d.h + 2 * d.ph - d.dh * (d.kh - 1) - 1) / d.sh + 1;
    d.ow = (d.w + 2 * d.pw - d.dw * (d.kw - 1) - 1) / d.sw + 1;
    int64_t wn = d.oc * d.c * d.kh * d.kw, on = d.n * d.oh * d.ow * d.oc;
    float *x = nt_floats(d.n * d.h * d.w * d.c, 1);
    float *wt = nt_floats(wn, 1.0f / sqrtf((float)(d.c * d.kh * d.kw)));
    float *b = nt_floats(d.oc, 0.5f), *res = sc->residual ? nt_floats(on, 2) : NULL;
    sparsify(wt, wn, density);
    float *ref = nt_floats(on, 0);
    plain_conv(&d, x, wt, sc->bias ? b : NULL, res, ref);

    NkLinear dl = {.m = d.n * d.h * d.w, .k = d.c, .n = d.oc, .act = d.act};
    NkSpWeight sw = sc->linear ? nk_splinear_weight(&dl, wt) : nk_spconv2d_weight(&d, wt);
    assert_true(nk_spconv2d_supported(&d));
    int64_t zeros = nk_sparse_zeros(&sw), pf = nk_sparse_packed_floats(&sw);
    assert_true(pf >= 2 * (wn - zeros)); /* every nonzero has its (k, w) */
    float *packed = nt_nan_floats(pf);
    nk_sparse_pack(&sw, sc->bias ? b : NULL, packed);
    int64_t sf = sc->linear ? nk_splinear_scratch(&dl, nt_tiling(), 2)
                            : nk_spconv2d_scratch(&d, nt_tiling(), 2);
    float *scratch = nt_nan_floats(sf), *y = nt_nan_floats(on);

    char what[320];
    snprintf(what, sizeof what,
             "%s [%lld, %lld, %lld, %lld] oc %lld k %lldx%lld s %lld,%lld p %lld,%lld d %lld,%lld "
             "density %.2f (%lld zeros) act %lld%s%s",
             sc->linear ? "splinear" : "spconv2d", (long long)d.n, (long long)d.h, (long long)d.w,
             (long long)d.c, (long long)d.oc, (long long)d.kh, (long long)d.kw, (long long)d.sh,
             (long long)d.sw, (long long)d.ph, (long long)d.pw, (long long)d.dh, (long long)d.dw,
             density, (long long)zeros, (long long)d.act, res ? " residual" : "",
             sc->bias ? "" : " no bias");
    if (sc->linear)
        NT_AT_1_AND_2_THREADS(y, on, what, nk_splinear(&dl, x, packed, res, y, scratch));
    else
        NT_AT_1_AND_2_THREADS(y, on, what, nk_spconv2d(&d, x, packed, res, y, scratch));
    double e = nt_expect_close(y, ref, on, 1e-4, what);
    *worst = e > *worst ? e : *worst;
    free(x), free(wt), free(b), free(res), free(ref), free(packed), free(scratch), free(y);
}

static void run_cases(const SpCase *cases, size_t count, const char *name)
{
    double worst = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < sizeof densities / sizeof densities[0]; k++)
            check_case(&cases[i], densities[k], &worst);
    print_message("%s: %zu cases x %zu densities, max error %.3g of max |ref|\n", name, count,
                  sizeof densities / sizeof densities[0], worst);
}

/* n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, bias, residual, act, linear */
static void test_sparse_linear(void **state)
{
    (void)state;
    static const SpCase cases[] = {
        {1, 768, 197, 1, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, NK_ACT_NONE, 1},  /* ViT tokens */
        {1, 64, 64, 1, 48, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, NK_ACT_GELU, 1},    /* one panel */
        {1, 5, 3, 1, 5, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, NK_ACT_RELU, 1},       /* k, o < VL */
        {2, 37, 33, 1, 1000, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, NK_ACT_SILU, 1},  /* 66 rows */
        {1, 300, 17, 1, 33, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, NK_ACT_RELU6, 1},  /* k tail */
        {1, 16, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, NK_ACT_NONE, 1},      /* one row, o 1 */
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "linear");
}

static void test_sparse_conv(void **state)
{
    (void)state;
    static const SpCase cases[] = {
        {1, 64, 14, 14, 64, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, NK_ACT_RELU, 0},   /* pointwise */
        {1, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, NK_ACT_RELU, 0},     /* K 576 > KC */
        {1, 32, 13, 13, 40, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, NK_ACT_NONE, 0},   /* stride 2 */
        {1, 3, 32, 32, 64, 7, 7, 2, 2, 3, 3, 1, 1, 1, 0, NK_ACT_RELU, 0},    /* stem, c 3 */
        {1, 16, 12, 12, 16, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0, NK_ACT_NONE, 0},   /* dilation 2 */
        {2, 16, 5, 7, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, NK_ACT_GELU, 0},     /* batch 2 */
        {1, 7, 11, 13, 9, 3, 5, 1, 2, 1, 2, 1, 1, 1, 0, NK_ACT_RELU6, 0},    /* rectangular */
        {1, 64, 9, 9, 32, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0, NK_ACT_NONE, 0},     /* strided 1×1 */
        {1, 48, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, NK_ACT_SILU, 0},      /* o 5, 49 px */
        {1, 3, 32, 32, 33, 16, 16, 16, 16, 0, 0, 1, 1, 1, 0, NK_ACT_NONE, 0}, /* ViT patches */
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "conv");
}

/* The packed format: segment starts ascend, every nonzero is stored once
 * under its row and K block, padding entries are (0, 0). */
static void test_sparse_pack(void **state)
{
    (void)state;
    enum { O = 11, K = 300 };
    static float w[O * K];
    for (int i = 0; i < O * K; i++)
        w[i] = (i * 7) % 5 == 0 ? (float)(i + 1) : 0.0f;
    NkLinear dl = {.m = 1, .k = K, .n = O};
    NkSpWeight sw = nk_splinear_weight(&dl, w);
    int64_t pf = nk_sparse_packed_floats(&sw);
    float *p = nt_nan_floats(pf);
    nk_sparse_pack(&sw, NULL, p);
    const int32_t *start = (const int32_t *)p;
    int64_t G = (O + 3) / 4, nkb = (K + NK_SP_KB - 1) / NK_SP_KB, nnz = 0;
    int64_t starts = (G * nkb + 1 + 15) & ~15;
    const float *ent = p + starts + ((O + 15) & ~15);
    for (int64_t s = 0; s < G * nkb; s++) {
        assert_true(start[s] <= start[s + 1]);
        for (int32_t e = start[s]; e < start[s + 1]; e++)
            for (int r = 0; r < 4; r++) {
                int32_t k;
                memcpy(&k, ent + e * 8 + r, 4);
                float v = ent[e * 8 + 4 + r];
                int64_t o = s / nkb * 4 + r, b = s % nkb;
                if (v != 0.0f) {
                    assert_true(o < O && k >= b * NK_SP_KB && k < (b + 1) * NK_SP_KB && k < K);
                    assert_true(w[o * K + k] == v);
                    nnz++;
                } else {
                    assert_int_equal(k, 0);
                }
            }
    }
    assert_int_equal(nnz, O * K - nk_sparse_zeros(&sw));
    assert_int_equal(pf, starts + ((O + 15) & ~15) + 8 * start[G * nkb]);
    free(p);
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparse_pack),
        cmocka_unit_test(test_sparse_linear),
        cmocka_unit_test(test_sparse_conv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
