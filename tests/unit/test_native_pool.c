/*
 * test_native_pool.c — nk_pool (runtime/native/pool.c) against the NCHW
 * reference kernels (ref_maxpool, ref_avgpool, ref_adaptive_avgpool,
 * ref_global_avgpool): the input is generated NHWC, converted for the
 * reference, and the reference output converted back. The IR node's shape
 * rule gives the output size (ceil_mode included), as in the backend.
 * Channel counts cover a partial vector only (3), full vectors (16, 64) and
 * a tail (24, 1000); spatial sizes are odd and even (7, 13, 14, 56), with
 * padding, dilation and ceil_mode windows that hang past the input. Every
 * case runs at 1 and at 2 threads, which must agree bit for bit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "native_test_util.h"

#include <inttypes.h>

typedef struct PoolCase {
    int64_t kind, n, c, h, w;
    const char *attrs; /* the IR attributes (kernel_size, stride, ...) */
} PoolCase;

/* Reads an int2 attribute "key=a" or "key=[a,b]" out of the attribute text
 * (default def when absent). */
static void attr2(const char *attrs, const char *key, int64_t def, int64_t v[2])
{
    char pat[32];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = strstr(attrs, pat);
    v[0] = v[1] = def;
    if (!p)
        return;
    p += strlen(pat);
    if (*p == '[')
        sscanf(p, "[%" SCNd64 ",%" SCNd64 "]", &v[0], &v[1]);
    else
        v[0] = v[1] = strtoll(p, NULL, 10);
}

static void check_pool(const PoolCase *pc, double *worst)
{
    static const struct {
        OpKind op;
        RefKernel ref;
    } refs[] = {[NK_POOL_MAX] = {OP_MAXPOOL, ref_maxpool},
                [NK_POOL_AVG] = {OP_AVGPOOL, ref_avgpool},
                [NK_POOL_AVG_EXCLUDE_PAD] = {OP_AVGPOOL, ref_avgpool},
                [NK_POOL_ADAPTIVE_AVG] = {OP_ADAPTIVE_AVGPOOL, ref_adaptive_avgpool}};
    int64_t n = pc->n, c = pc->c, h = pc->h, w = pc->w;
    float *x = nt_floats(n * h * w * c, 2), *xc = nt_floats(n * c * h * w, 0);
    nt_nhwc_to_nchw(x, xc, n, c, h * w);
    char attrs[160];
    snprintf(attrs, sizeof attrs, "%s%s", pc->attrs,
             pc->kind == NK_POOL_AVG_EXCLUDE_PAD ? " count_include_pad=false" : "");
    Shape sx = SH(4, n, c, h, w), so;
    bool global = pc->kind == NK_POOL_ADAPTIVE_AVG && strcmp(pc->attrs, "global") == 0;
    float *refc = global ? nt_ref(ref_global_avgpool, OP_GLOBAL_AVGPOOL, 1, &sx,
                                  (const float *const[]){xc}, "", &so)
                         : nt_ref(refs[pc->kind].ref, refs[pc->kind].op, 1, &sx,
                                  (const float *const[]){xc}, attrs, &so);
    int64_t oh = global ? 1 : so.d[2], ow = global ? 1 : so.d[3], on = n * oh * ow * c;
    float *ref = nt_floats(on, 0), *y = nt_floats(on, 0);
    nt_nchw_to_nhwc(refc, ref, n, c, oh * ow);
    NkPool d = {.kind = pc->kind, .n = n, .h = h, .w = w, .c = c, .oh = oh, .ow = ow};
    if (pc->kind != NK_POOL_ADAPTIVE_AVG) {
        int64_t v[2];
        attr2(pc->attrs, "kernel_size", 1, v), d.kh = v[0], d.kw = v[1];
        attr2(pc->attrs, "stride", 0, v), d.sh = v[0] ? v[0] : d.kh, d.sw = v[1] ? v[1] : d.kw;
        attr2(pc->attrs, "padding", 0, v), d.ph = v[0], d.pw = v[1];
        attr2(pc->attrs, "dilation", 1, v), d.dh = v[0], d.dw = v[1];
    }
    char what[224];
    snprintf(what, sizeof what, "pool kind %lld [%lld, %lld, %lld, %lld] %s -> %lldx%lld",
             (long long)pc->kind, (long long)n, (long long)h, (long long)w, (long long)c,
             attrs, (long long)oh, (long long)ow);
    NT_AT_1_AND_2_THREADS(y, on, what, nk_pool(&d, x, y));
    double e = nt_expect_close(y, ref, on, pc->kind == NK_POOL_MAX ? 0 : 1e-6, what);
    *worst = e > *worst ? e : *worst;
    free(x);
    free(xc);
    free(refc);
    free(ref);
    free(y);
}

static void run_cases(const PoolCase *cases, size_t count, const char *name)
{
    double worst = 0;
    for (size_t i = 0; i < count; i++)
        check_pool(&cases[i], &worst);
    print_message("%s: max error %.3g of max |ref|\n", name, worst);
}

static void test_maxpool(void **state)
{
    static const PoolCase cases[] = {
        {NK_POOL_MAX, 1, 64, 56, 56, "kernel_size=3 stride=2 padding=1"}, /* ResNet stem */
        {NK_POOL_MAX, 2, 3, 13, 13, "kernel_size=3 stride=2 ceil_mode=true"},
        {NK_POOL_MAX, 1, 24, 14, 14, "kernel_size=2 stride=2"},
        {NK_POOL_MAX, 2, 24, 7, 7, "kernel_size=2 stride=2 ceil_mode=true"},
        {NK_POOL_MAX, 1, 17, 13, 14, "kernel_size=3 stride=1 padding=1 dilation=2"},
        {NK_POOL_MAX, 1, 3, 14, 13, "kernel_size=[3,2] stride=[2,1] padding=[1,0] dilation=[1,3]"},
        {NK_POOL_MAX, 1, 1000, 7, 7, "kernel_size=7"},
        {NK_POOL_MAX, 1, 5, 7, 7, "kernel_size=3 stride=3 padding=1 ceil_mode=true"},
        {NK_POOL_MAX, 1, 16, 13, 13, "kernel_size=5 stride=2 padding=2 dilation=2 ceil_mode=true"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "maxpool");
}

/* NaN wins wherever it lands in a window, as in torch; -inf inputs are
 * values, not padding. */
static void test_maxpool_nan(void **state)
{
    int64_t h = 5, w = 5, c = 18;
    float *x = nt_floats(h * w * c, 1);
    x[(2 * w + 2) * c + 1] = NAN;            /* the centre, channel 1 */
    x[(0 * w + 0) * c + 17] = NAN;           /* a corner, the tail lane */
    x[(4 * w + 4) * c + 16] = -INFINITY;
    float y[9 * 18];
    NkPool d = {.kind = NK_POOL_MAX, .n = 1, .h = h, .w = w, .c = c, .oh = 3, .ow = 3,
                .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    nk_pool(&d, x, y);
    for (int64_t p = 0; p < 9; p++) {
        int64_t oh = p / 3, ow = p % 3;
        bool centre = oh == 1 && ow == 1; /* the one window holding (2, 2) */
        assert_true(isnan(y[p * c + 1]) == centre);
        assert_true(isnan(y[p * c + 17]) == (p == 0));
    }
    free(x);
}

static void test_avgpool(void **state)
{
    static const PoolCase cases[] = {
        {NK_POOL_AVG, 1, 64, 56, 56, "kernel_size=3 stride=1 padding=1"}, /* Inception */
        {NK_POOL_AVG_EXCLUDE_PAD, 1, 64, 56, 56, "kernel_size=3 stride=1 padding=1"},
        {NK_POOL_AVG, 2, 3, 13, 13, "kernel_size=3 stride=2 padding=1 ceil_mode=true"},
        {NK_POOL_AVG_EXCLUDE_PAD, 2, 3, 13, 13, "kernel_size=3 stride=2 padding=1 ceil_mode=true"},
        {NK_POOL_AVG, 1, 24, 14, 14, "kernel_size=2 stride=2"},
        {NK_POOL_AVG, 1, 24, 7, 7, "kernel_size=2 stride=2 ceil_mode=true"},
        {NK_POOL_AVG_EXCLUDE_PAD, 1, 24, 7, 7, "kernel_size=2 stride=2 ceil_mode=true"},
        {NK_POOL_AVG, 1, 1000, 7, 7, "kernel_size=7"},
        {NK_POOL_AVG, 1, 17, 13, 14, "kernel_size=[3,5] stride=[2,3] padding=[1,2] ceil_mode=true"},
        {NK_POOL_AVG_EXCLUDE_PAD, 1, 17, 13, 14,
         "kernel_size=[3,5] stride=[2,3] padding=[1,2] ceil_mode=true"},
        {NK_POOL_AVG, 1, 5, 6, 6, "kernel_size=4 stride=3 padding=2 ceil_mode=true"},
        {NK_POOL_AVG_EXCLUDE_PAD, 1, 5, 6, 6, "kernel_size=4 stride=3 padding=2 ceil_mode=true"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "avgpool");
}

static void test_adaptive_avgpool(void **state)
{
    static const PoolCase cases[] = {
        {NK_POOL_ADAPTIVE_AVG, 1, 2048, 7, 7, "global"},
        {NK_POOL_ADAPTIVE_AVG, 2, 24, 56, 56, "global"},
        {NK_POOL_ADAPTIVE_AVG, 1, 1000, 13, 13, "output_size=1"},
        {NK_POOL_ADAPTIVE_AVG, 1, 3, 7, 7, "output_size=[3,5]"},
        {NK_POOL_ADAPTIVE_AVG, 2, 24, 14, 14, "output_size=4"},
        {NK_POOL_ADAPTIVE_AVG, 1, 17, 13, 13, "output_size=[5,7]"},
        {NK_POOL_ADAPTIVE_AVG, 1, 16, 5, 6, "output_size=[7,9]"}, /* bins overlap */
        {NK_POOL_ADAPTIVE_AVG, 1, 64, 56, 56, "output_size=7"},
    };
    run_cases(cases, sizeof cases / sizeof cases[0], "adaptive avgpool");
}

int main(void)
{
    NT_REQUIRE_ISA();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_maxpool_nan),
        cmocka_unit_test(test_avgpool),
        cmocka_unit_test(test_adaptive_avgpool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
