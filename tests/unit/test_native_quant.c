/*
 * test_native_quant.c — nk_quantize and nk_dequantize (runtime/native/
 * quant.c) against scalar code of nk.h's formulas, bit for bit: ties of
 * rint (x·inv_scale exactly k + 0.5 round to even), values far outside
 * the range (no overflow), ±inf, NaN (to z, clamped), −0, zero points 0/128/255,
 * narrowed clamps, lengths with vector tails, at 2 and 1 threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_qtest_util.h"

static uint8_t quantize_ref(float x, const NkQuantize *d)
{
    float t = x * d->inv_scale;
    if (isnan(t)) /* z, clamped (a narrowed clamp may exclude it) */
        return (uint8_t)(d->z < d->lo ? d->lo : d->z > d->hi ? d->hi : d->z);
    float r = rintf(t); /* then + z, clamped: in double, no overflow */
    double y = (double)r + (double)d->z;
    return (uint8_t)(y < d->lo ? d->lo : y > d->hi ? d->hi : y);
}

static void test_quantize(void **state)
{
    static const int64_t lens[] = {1, 3, 16, 17, 100, 40000};
    static const int64_t zs[] = {0, 128, 255, 3};
    NkQOut u8 = {.mode = NK_QOUT_U8};
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++)
        for (size_t zi = 0; zi < sizeof zs / sizeof *zs; zi++) {
            int64_t n = lens[li];
            NkQuantize d = {n, zs[zi], zi == 3 ? 10 : 0, zi == 3 ? 200 : 255, 1.0f / 0.05f};
            float *x = nt_floats(n, 8);
            static const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.025f, 0.075f, -0.025f,
                                            1e30f, -1e30f, 0.125f, 6.3f, -6.3f};
            for (int64_t i = 0; i < n; i++)
                if (i % 5 == 0)
                    x[i] = special[(i / 5) % (sizeof special / sizeof *special)];
                else if (i % 5 == 1) /* exact ties of x·inv_scale: k + 0.5 */
                    x[i] = (float)(nt_rand_int(-300, 300) + 0.5) / d.inv_scale;
            uint8_t *want = qt_marked(n);
            for (int64_t i = 0; i < n; i++)
                want[i] = quantize_ref(x[i], &d);
            uint8_t *y = qt_marked(n);
            QT_AT_1_AND_2_THREADS(y, n, &u8, want, "quantize", nk_quantize(&d, x, y));
            free(x), free(want), free(y);
        }
}

static void test_dequantize(void **state)
{
    NkQOut f32 = {.mode = NK_QOUT_F32};
    static const int64_t lens[] = {1, 7, 16, 33, 40001};
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++)
        for (int64_t z = 0; z <= 255; z += 85) {
            int64_t n = lens[li];
            NkDequantize d = {n, z, 0.0371f};
            uint8_t *q = qt_u8(n, 0, 255);
            float *want = qt_marked(n * 4);
            for (int64_t i = 0; i < n; i++)
                want[i] = (float)(q[i] - z) * d.scale;
            float *y = qt_marked(n * 4);
            QT_AT_1_AND_2_THREADS(y, n, &f32, want, "dequantize", nk_dequantize(&d, q, y));
            free(q), free(want), free(y);
        }
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_dequantize),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    nk_set_threads(1);
    return r;
}
