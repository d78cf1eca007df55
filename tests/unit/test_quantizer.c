/*
 * test_quantizer.c — ir/quantizer.c against PyTorch, bit for bit, and its
 * algebraic properties.
 *
 * Goldens: tests/golden/quant, written by tools/quant_goldens.py with
 * torch.fake_quantize_per_tensor_affine / _per_channel_affine (exact .5
 * ties and values past the clamp included) and torch.ao's MinMaxObserver /
 * PerChannelMinMaxObserver (the scales netc's observers must equal).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../ir/ir.h"
#include "../../ir/quantizer.h"
#include "../../runtime/npy.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Tensor *golden(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/golden/quant/%s", NETC_SOURCE_DIR, name);
    Diag *d = diag_new(stderr);
    Tensor *t = rt_npy_read(path, d);
    diag_free(d);
    if (!t)
        fail_msg("cannot read golden %s", path);
    return t;
}

/* Channel of element i for an axis of shape s (-1: per tensor). */
static int64_t channel_of(const Shape *s, int axis, int64_t i)
{
    if (axis < 0)
        return 0;
    int64_t inner = 1;
    for (int d = axis + 1; d < s->rank; d++)
        inner *= s->d[d];
    return (i / inner) % s->d[axis];
}

static void test_fake_quant_equals_pytorch(void **state)
{
    (void)state;
    for (int k = 0; k < 6; k++) {
        char name[64];
#define LOAD(var, part) snprintf(name, sizeof name, "case%d." part ".npy", k); Tensor *var = golden(name)
        LOAD(x, "x");
        LOAD(scale, "scale");
        LOAD(zp, "zp");
        LOAD(meta, "meta");
        LOAD(y, "y");
#undef LOAD
        const int32_t *m = meta->data, *z = zp->data;
        const float *xs = x->data, *ys = y->data, *s = scale->data;
        int64_t n = tensor_numel(x), ties = 0, clamped = 0, wrong = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t c = channel_of(&x->shape, m[0], i);
            float inv = 1.0f / s[c];
            int32_t q = ir_quantize_elem(xs[i], inv, z[c], m[1], m[2]);
            float r = xs[i] * inv;
            ties += r - floorf(r) == 0.5f;
            clamped += q == m[1] || q == m[2];
            if (ir_dequantize_elem(q, s[c], z[c]) != ys[i] && wrong++ < 5)
                print_error("case %d element %lld: x %.9g -> %.9g, torch %.9g\n", k, (long long)i,
                            (double)xs[i], (double)ir_dequantize_elem(q, s[c], z[c]),
                            (double)ys[i]);
        }
        assert_int_equal(wrong, 0);
        /* The goldens exercise what they claim to. */
        assert_true(ties > n / 10);
        assert_true(clamped > 0);
        tensor_free(x), tensor_free(scale), tensor_free(zp), tensor_free(meta), tensor_free(y);
    }
}

static void test_observers_equal_pytorch(void **state)
{
    (void)state;
    for (int k = 0; k < 6; k++) {
        char name[64];
        snprintf(name, sizeof name, "obs%d.x.npy", k);
        Tensor *x = golden(name);
        snprintf(name, sizeof name, "obs%d.meta.npy", k);
        Tensor *meta = golden(name);
        snprintf(name, sizeof name, "obs%d.scale.npy", k);
        Tensor *scale = golden(name);
        snprintf(name, sizeof name, "obs%d.zp.npy", k);
        Tensor *zp = golden(name);
        const int32_t *m = meta->data;
        int bits = m[0], kind = m[1], axis = m[2];
        const float *xs = x->data;
        int64_t rows = x->shape.d[0], cols = x->shape.d[1];
        int64_t channels = kind == 0 ? 1 : rows;
        assert_int_equal(tensor_numel(scale), channels);
        for (int64_t c = 0; c < channels; c++) {
            float lo = INFINITY, hi = -INFINITY;
            for (int64_t i = 0; i < rows * cols; i++)
                if (kind == 0 || i / cols == c)
                    lo = fminf(lo, xs[i]), hi = fmaxf(hi, xs[i]);
            IrQuantParams p = kind == 0 ? ir_quant_asymmetric(lo, hi, bits)
                                        : ir_quant_symmetric(lo, hi, bits, true);
            assert_true(axis <= 0);
            if (p.scale != ((const float *)scale->data)[c] ||
                p.zero_point != ((const int32_t *)zp->data)[c])
                fail_msg("observer %d channel %lld: netc scale %.9g zp %d, torch %.9g zp %d", k,
                         (long long)c, (double)p.scale, p.zero_point,
                         (double)((const float *)scale->data)[c],
                         ((const int32_t *)zp->data)[c]);
        }
        tensor_free(x), tensor_free(meta), tensor_free(scale), tensor_free(zp);
    }
}

/* Q(Q(w)) = Q(w); |w − Q(w)| <= s/2 inside the range; the largest
 * magnitude maps to ±(2^(b−1) − 1) on the narrow grid. */
static void test_properties(void **state)
{
    (void)state;
    uint32_t seed = 12345;
    for (int bits = 2; bits <= 16; bits++) {
        enum { N = 997 };
        float w[N], once[N];
        float amax = 0;
        for (int i = 0; i < N; i++) {
            seed = seed * 1664525u + 1013904223u;
            w[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 3.0f;
            amax = fmaxf(amax, fabsf(w[i]));
        }
        IrQuantParams p = ir_quant_symmetric(-amax, amax, bits, true);
        int32_t lo, hi;
        ir_quant_range(bits, true, &lo, &hi);
        memcpy(once, w, sizeof w);
        ir_fake_quant(once, N, p, lo, hi);
        int32_t top = 0;
        for (int i = 0; i < N; i++) {
            /* s/2, plus the rounding of the product s·q */
            if (!(fabsf(once[i] - w[i]) <= p.scale / 2 + 2 * FLT_EPSILON * fabsf(w[i])))
                fail_msg("%d bits: w %.9g -> %.9g, scale %.9g", bits, (double)w[i], (double)once[i],
                         (double)p.scale);
            int32_t q = ir_quantize_elem(w[i], 1.0f / p.scale, 0, lo, hi);
            top = abs(q) > top ? abs(q) : top;
            assert_true(q >= -((1 << (bits - 1)) - 1));
        }
        assert_int_equal(top, (1 << (bits - 1)) - 1);
        float twice[N];
        memcpy(twice, once, sizeof once);
        assert_true(ir_fake_quant(twice, N, p, lo, hi) == 0.0);
        assert_memory_equal(twice, once, sizeof once);
    }
}

/* Non-finite inputs and degenerate ranges never crash or give a zero scale. */
static void test_edges(void **state)
{
    (void)state;
    assert_int_equal(ir_quantize_elem(NAN, 10.0f, 3, 0, 255), 3);
    assert_int_equal(ir_quantize_elem(INFINITY, 10.0f, 3, 0, 255), 255);
    assert_int_equal(ir_quantize_elem(-INFINITY, 10.0f, 3, 0, 255), 0);
    assert_int_equal(ir_quantize_elem(1e30f, 1e30f, 0, -8, 7), 7);
    assert_true(ir_quant_symmetric(0, 0, 8, true).scale == FLT_EPSILON);
    IrQuantParams a = ir_quant_asymmetric(0, 0, 8);
    assert_true(a.scale == FLT_EPSILON && a.zero_point == 0);
    int32_t lo, hi;
    ir_quant_range(4, false, &lo, &hi);
    assert_true(lo == 0 && hi == 15);
    ir_quant_range(16, true, &lo, &hi);
    assert_true(lo == -32768 && hi == 32767);
    assert_int_equal(ir_quant_container(3, true), DT_I8);
    assert_int_equal(ir_quant_container(12, false), DT_U16);
}

/* The fixed-point rule (quantizer.h): fl = floor(log2(c / σ)), c = 40
 * signed, 70 unsigned, clamped to [0, 15]; exact powers of two at the
 * boundaries; σ 0 or NaN takes the finest grid. */
static void test_pow2_fraclen(void **state)
{
    assert_int_equal(ir_quant_pow2_fraclen(1.0, true), 5);   /* log2 40 = 5.32 */
    assert_int_equal(ir_quant_pow2_fraclen(1.0, false), 6);  /* log2 70 = 6.13 */
    assert_int_equal(ir_quant_pow2_fraclen(5.0, true), 3);   /* 40 / 5 = 8 exactly */
    assert_int_equal(ir_quant_pow2_fraclen(5.000001, true), 2);
    assert_int_equal(ir_quant_pow2_fraclen(40.0, true), 0);
    assert_int_equal(ir_quant_pow2_fraclen(400.0, true), 0); /* clamped: -4 */
    assert_int_equal(ir_quant_pow2_fraclen(1e-6, false), IR_QUANT_POW2_MAX_FL);
    assert_int_equal(ir_quant_pow2_fraclen(0.0, true), IR_QUANT_POW2_MAX_FL);
    assert_int_equal(ir_quant_pow2_fraclen(NAN, true), IR_QUANT_POW2_MAX_FL);
    IrQuantParams p = ir_quant_pow2(0.1, true); /* 400 -> fl 8 */
    assert_true(p.scale == 0x1p-8f && p.zero_point == 0);
}

/* Moments merged batch by batch equal one pass over everything, and skip
 * non-finite elements. */
static void test_moments(void **state)
{
    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (float)(sin(i * 0.37) * 3 + 7 + (i % 13) * 0.01);
    IrMoments all = {0}, parts = {0};
    ir_moments_add(&all, x, 1000);
    ir_moments_add(&parts, x, 1);
    ir_moments_add(&parts, x + 1, 300);
    ir_moments_add(&parts, x + 301, 699);
    double mean = 0, ss = 0;
    for (int i = 0; i < 1000; i++)
        mean += x[i];
    mean /= 1000;
    for (int i = 0; i < 1000; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    double want = sqrt(ss / 999);
    assert_true(fabs(ir_moments_stddev(&all) - want) < 1e-12 * want);
    assert_true(fabs(ir_moments_stddev(&parts) - want) < 1e-12 * want);
    float odd[4] = {1.0f, INFINITY, 3.0f, NAN};
    IrMoments m = {0};
    ir_moments_add(&m, odd, 4);
    assert_true(m.n == 2 && fabs(ir_moments_stddev(&m) - sqrt(2.0)) < 1e-15);
    IrMoments one = {0};
    ir_moments_add(&one, odd, 1);
    assert_true(isnan(ir_moments_stddev(&one)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_quant_equals_pytorch),
        cmocka_unit_test(test_observers_equal_pytorch),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_pow2_fraclen),
        cmocka_unit_test(test_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
