/*
 * native_test_util.h — shared by the native-kernel tests (test_native_*.c):
 * random data, running a reference kernel (runtime/ref_kernels.c) on plain
 * float arrays, NCHW <-> NHWC conversion for the channels-last kernels, the
 * error check, running a kernel at 1 and at 2 threads, and the ISA guard.
 *
 * Every test_native_*.c is built once per kernel variant (tests/
 * CMakeLists.txt: test_native_X for SSE2, test_native_X_avx2,
 * test_native_X_avx512), each compiled and linked with that variant's
 * kernels; NT_REQUIRE_ISA() at the top of main exits with ctest's skip
 * code, saying why, when the CPU cannot run the variant.
 *
 * The comparison rule: max |got - ref| <= tol * max |ref| over the tensor
 * (NaN must meet NaN, an infinity the same infinity). Static inline, like
 * ir_test_util.h; include after cmocka.h.
 */
#ifndef NETC_NATIVE_TEST_UTIL_H
#define NETC_NATIVE_TEST_UTIL_H

#include "../../runtime/native/nk.h"
#include "../../runtime/ref_kernels.h"
#include "ir_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The blocking of the kernels this test is linked with, for packing. */
static inline const NkTiling *nt_tiling(void) { return nk_tiling(nk_kernel_isa()); }

/* ctest's SKIP_RETURN_CODE for the native tests. */
#define NT_SKIP 77
#define NT_REQUIRE_ISA()                                                                          \
    do {                                                                                          \
        if (!nk_isa_runs_here(nk_kernel_isa())) {                                                 \
            printf("SKIP: this CPU cannot run the %s kernels\n", nk_isa_name(nk_kernel_isa()));  \
            return NT_SKIP;                                                                       \
        }                                                                                         \
        printf("kernels: %s\n", nk_isa_name(nk_kernel_isa()));                                    \
    } while (0)

/* The same check before main: a test file compiled for AVX-512 may use
 * AVX-512 instructions in main itself before NT_REQUIRE_ISA runs (its
 * test tables are stored with 512-bit moves), which an AVX2-only CPU
 * answers with SIGILL instead of a skip. A constructor has no such code. */
__attribute__((constructor)) static void nt_require_isa_early(void)
{
    if (!nk_isa_runs_here(nk_kernel_isa())) {
        printf("SKIP: this CPU cannot run the %s kernels\n", nk_isa_name(nk_kernel_isa()));
        exit(NT_SKIP);
    }
}

/* Deterministic uniform numbers in [-1, 1). */
static uint32_t nt_rng_state = 12345;
static inline float nt_rand(void)
{
    nt_rng_state = nt_rng_state * 1664525u + 1013904223u;
    return (float)((nt_rng_state >> 8) / 8388608.0 - 1.0);
}

/* Uniform integer in [lo, hi]. */
static inline int64_t nt_rand_int(int64_t lo, int64_t hi)
{
    nt_rng_state = nt_rng_state * 1664525u + 1013904223u;
    return lo + (int64_t)((nt_rng_state >> 8) % (uint32_t)(hi - lo + 1));
}

/* A malloc'd array of n floats, uniform in [-scale, scale). */
static inline float *nt_floats(int64_t n, float scale)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = nt_rand() * scale;
    return p;
}

/* n floats set to NaN, so output a kernel never writes (or scratch it
 * reads before writing) shows up in the comparison. */
static inline float *nt_nan_floats(int64_t n)
{
    float *p = nt_floats(n, 0);
    for (int64_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

/* The fused epilogue's activation (NK_ACT_*) in double, as torch defines it. */
static inline double nt_act_ref(double x, int64_t act)
{
    switch (act) {
    case NK_ACT_RELU: return x > 0 ? x : 0;
    case NK_ACT_RELU6: return x < 0 ? 0 : x > 6 ? 6 : x;
    case NK_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case NK_ACT_SILU: return x / (1 + exp(-x));
    default: return x;
    }
}

/* Runs reference kernel k of op on inputs of the given shapes and data
 * (attributes as in ir_test_util.h's make_attrs). Returns a malloc'd copy
 * of the output; its shape goes to *out_shape when non-NULL. */
static inline float *nt_ref(RefKernel k, OpKind op, int nin, const Shape *shapes,
                            const float *const *data, const char *attrs, Shape *out_shape)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *v[16];
    Tensor *t[16];
    for (int i = 0; i < nin; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        v[i] = ir_add_input(g, name, DT_F32, shapes[i], loc_none());
        t[i] = tensor_new(DT_F32, &shapes[i]);
        assert_non_null(t[i]);
        memcpy(t[i]->data, data[i], tensor_nbytes(t[i]));
    }
    IrNode *n = add_node(g, op, NULL, attrs, nin, v, loc_none());
    Tensor *out = tensor_new(DT_F32, &n->out->shape);
    assert_non_null(out);
    char err[256] = "";
    if (!k(n, (const Tensor *const *)t, out, err, sizeof err))
        fail_msg("%s reference failed: %s", op_info(op)->name, err);
    if (out_shape)
        *out_shape = out->shape;
    size_t bytes = tensor_nbytes(out);
    float *res = malloc(bytes ? bytes : 1);
    assert_non_null(res);
    memcpy(res, out->data, bytes);
    tensor_free(out);
    for (int i = 0; i < nin; i++)
        tensor_free(t[i]);
    ir_graph_free(g);
    return res;
}

/* [n, c, hw] -> [n, hw, c] and back (hw = h * w). */
static inline void nt_nchw_to_nhwc(const float *src, float *dst, int64_t n, int64_t c,
                                   int64_t hw)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++)
                dst[(b * hw + p) * c + ch] = src[(b * c + ch) * hw + p];
}

static inline void nt_nhwc_to_nchw(const float *src, float *dst, int64_t n, int64_t c,
                                   int64_t hw)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++)
                dst[(b * c + ch) * hw + p] = src[(b * hw + p) * c + ch];
}

/* The comparison rule above; what names the case in the failure message.
 * Returns the measured max |got - ref| / max |ref|. */
static inline double nt_expect_close(const float *got, const float *ref, int64_t n, double tol,
                                     const char *what)
{
    double max_ref = 0, max_err = 0;
    int64_t worst = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > max_ref)
            max_ref = fabs(ref[i]);
    for (int64_t i = 0; i < n; i++) {
        if (isnan(ref[i]) || isinf(ref[i])) {
            bool same = isnan(ref[i]) ? isnan(got[i]) : got[i] == ref[i];
            if (!same)
                fail_msg("%s: element %lld is %g, expected %g", what, (long long)i, got[i],
                         ref[i]);
            continue;
        }
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= max_err)) { /* also catches a NaN in got */
            max_err = isnan(e) ? INFINITY : e;
            worst = i;
        }
    }
    double rel = max_ref > 0 ? max_err / max_ref : max_err;
    if (!(rel <= tol))
        fail_msg("%s: element %lld is %.9g, expected %.9g (error %.3g of max |ref| %.3g, "
                 "allowed %.3g)",
                 what, (long long)worst, got[worst], ref[worst], rel, max_ref, tol);
    return rel;
}

/* Bitwise equality: the same kernel at different thread counts. */
static inline void nt_expect_same(const float *a, const float *b, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            fail_msg("%s: element %lld differs between 1 and 2 threads (%.9g vs %.9g)", what,
                     (long long)i, a[i], b[i]);
}

/*
 * Runs the statement given last (it may contain commas), writing n floats through the pointer variable
 * `buf`, first at 2 threads into a scratch buffer (buf rebound to it inside
 * the macro), then at 1 thread into buf itself, and checks that the two
 * agree bit for bit. buf must be a plain variable name.
 */
#define NT_AT_1_AND_2_THREADS(buf, n, what, ...)                                            \
    do {                                                                                     \
        float *nt_two_ = malloc((size_t)((n) > 0 ? (n) : 1) * sizeof(float));                \
        assert_non_null(nt_two_);                                                            \
        nk_set_threads(2);                                                                   \
        {                                                                                    \
            float *buf = nt_two_;                                                            \
            __VA_ARGS__;                                                                     \
        }                                                                                    \
        nk_set_threads(1);                                                                   \
        __VA_ARGS__;                                                                         \
        nt_expect_same(buf, nt_two_, (n), (what));                                           \
        free(nt_two_);                                                                       \
    } while (0)

#endif
