/*
 * nk_vec.h — what the native kernels share internally: the portable vector
 * type and vectorizable math.
 *
 * NkVec is one machine vector of floats through the GNU vector extension
 * (gcc and clang both accept it): NK_VL = 16 lanes (a zmm register) in the
 * AVX-512 build, 8 (ymm) in the AVX2 build, 4 (xmm) in the SSE2 build
 * (nk_isa.h). Code that must not depend on the width loops over NK_VL; the
 * packed layouts use 16-float chunks in every build (nk_copy16). Loads and
 * stores go through memcpy so unaligned pointers are fine.
 *
 * Everything here is static inline (NkVec functions always_inline, see
 * NK_INLINE): each kernel file gets its own copy, inlined into the loops.
 *
 * C (unlike C++ and OpenCL) has no vector `?:` in either compiler, so lane
 * selection is a bit blend on the comparison mask (all ones / all zeros per
 * lane); LLVM folds the and/or pattern back into a select (vblendmps,
 * vmaxps, ...). Comparisons are ordered so that NaN lanes pass through the
 * way PyTorch lets them.
 *
 * The math functions (nk_exp, nk_erf, nk_tanh, nk_sigmoid, nk_gelu) are
 * branch-free polynomial approximations over the whole float range, no
 * libm. Measured against libm in double, rounded to float (see
 * tests/unit/test_native_eltwise.c): exp and tanh 1 ulp (1.2e-7 relative),
 * erf and sigmoid 2 ulps (2.4e-7), gelu 9.3e-7 relative at worst (near
 * x = -1.41; 1 + erf cancels there), all with and without FMA
 * contraction; 1 ulp on denormal results. Out-of-range inputs give what
 * the exact function rounds to: exp overflows to inf only above
 * log(FLT_MAX) (as expf), sigmoid and tanh saturate without inf/inf, NaN
 * propagates.
 *
 * The last section is the strided index walker nk_binary and nk_copy
 * share.
 */
#ifndef NETC_NK_VEC_H
#define NETC_NK_VEC_H

#include <stdint.h>
#include <string.h>

#include "nk.h"
#include "nk_isa.h"

/* Every function taking or returning NkVec is forced inline, even at -O0:
 * an out-of-line copy would pass a 64-byte vector, whose calling convention
 * differs with and without AVX-512 (gcc's -Wpsabi error). For the same
 * reason kernel files must not pass NkVec to their own non-inline
 * functions, nor take the address of these. */
#define NK_INLINE static inline __attribute__((always_inline))
/* Both compilers still warn (gcc at the definitions, clang at every call
 * site in the including file), hence the pragma for the rest of the file.
 * gcc also prints a "64-byte alignment ABI changed in GCC 4.6" note that
 * only -Wno-psabi on the command line silences; it is not a warning. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* Put before every loop over an array of vector accumulators: unrolled
 * completely, the array lives in registers; otherwise it stays in memory and
 * the kernel stores it on every step. */
#define NK_PRAGMA(x) _Pragma(#x)
#define NK_UNROLL NK_PRAGMA(GCC unroll 16)

typedef float NkVec __attribute__((vector_size(NK_VL * sizeof(float))));
typedef int32_t NkVeci __attribute__((vector_size(NK_VL * sizeof(int32_t))));

NK_INLINE NkVec nk_load(const float *p)
{
    NkVec v;
    memcpy(&v, p, sizeof v);
    return v;
}

NK_INLINE void nk_store(float *p, NkVec v) { memcpy(p, &v, sizeof v); }

/* x - 0 rather than 0 + x: the two differ for x = -0, so 0 + x costs a real
 * add before every broadcast (and blocks folding it into an FMA operand),
 * while x - 0 == x always and folds away. */
NK_INLINE NkVec nk_splat(float x) { return x - (NkVec){0}; }

/* Lane-wise mask ? a : b, mask from a vector comparison (-1 or 0 per lane). */
NK_INLINE NkVec nk_select(NkVeci mask, NkVec a, NkVec b)
{
    return (NkVec)((mask & (NkVeci)a) | (~mask & (NkVeci)b));
}

/* max/min return the first operand when the comparison fails, so a NaN in
 * a propagates (relu(NaN) = NaN as in torch). */
NK_INLINE NkVec nk_max(NkVec a, NkVec b) { return nk_select(a < b, b, a); }
NK_INLINE NkVec nk_min(NkVec a, NkVec b) { return nk_select(a > b, b, a); }

NK_INLINE NkVec nk_abs(NkVec x) { return (NkVec)((NkVeci)x & 0x7fffffff); }

/* x with the sign bit of s. */
NK_INLINE NkVec nk_copysign(NkVec x, NkVec s)
{
    return (NkVec)(((NkVeci)x & 0x7fffffff) | ((NkVeci)s & (int32_t)0x80000000));
}

NK_INLINE float nk_hsum(NkVec v)
{
    float s = 0;
    for (int i = 0; i < NK_VL; i++)
        s += v[i];
    return s;
}

NK_INLINE float nk_hmax(NkVec v)
{
    float m = v[0];
    for (int i = 1; i < NK_VL; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* 16 floats from s to d, or 16 zeros when s is NULL: one chunk of the
 * packed A layout (gemm.h), whatever NK_VL is. */
NK_INLINE void nk_copy16(float *d, const float *s)
{
    for (int i = 0; i < 16; i += NK_VL)
        nk_store(d + i, s ? nk_load(s + i) : (NkVec){0});
}

/* Loads n < NK_VL floats, the other lanes set to fill (a tail). */
NK_INLINE NkVec nk_load_part(const float *p, int64_t n, float fill)
{
    NkVec v = nk_splat(fill);
    for (int64_t i = 0; i < n; i++)
        v[i] = p[i];
    return v;
}

NK_INLINE void nk_store_part(float *p, NkVec v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = v[i];
}

/*
 * e^x = 2^n · e^r with n = round(x / ln 2) and |r| <= ln2 / 2; e^r is the
 * Cephes expf polynomial (1 + r + r²·P(r), P of degree 5, ~1 ulp).
 * x is clamped to [-104, 89] first (e^-104 rounds to 0, e^89 overflows),
 * which keeps n in [-150, 129]; 2^n is applied as two factors 2^(n/2) and
 * 2^(n - n/2), both normal floats, so results in the denormal range are
 * rounded once and results above FLT_MAX become inf. The rounding uses the
 * 1.5·2^23 trick rather than a float->int conversion, which is undefined
 * for NaN: a NaN input propagates through r.
 */
NK_INLINE NkVec nk_exp(NkVec x)
{
    x = nk_select(x < -104.0f, nk_splat(-104.0f), x);
    x = nk_select(x > 89.0f, nk_splat(89.0f), x);
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    NkVec t = x * 1.44269504088896341f + magic;
    NkVeci n = (NkVeci)t - (NkVeci)nk_splat(magic);
    NkVec nf = t - magic;
    NkVec r = x - nf * 0.693359375f; /* ln 2 split: hi part exact in 9 bits */
    r = r - nf * -2.12194440e-4f;
    NkVec p = nk_splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    NkVeci n1 = n >> 1, n2 = n - n1;
    NkVec s1 = (NkVec)((n1 + 127) << 23), s2 = (NkVec)((n2 + 127) << 23);
    return p * s1 * s2;
}

/*
 * erf and the complementary tail GELU needs, from two fits (least squares,
 * Lawson-reweighted toward minimax, in long double):
 *   erf(a)  = a · P(a²)              for 0 <= a < 1,   P to 1.2e-9;
 *   erfc(a) = e^-a² · R(1/a) / a     for 1 <= a <= 10.5, R(t) = a·e^a²·erfc(a)
 *                                    in t - 0.5475 to 2.1e-8 (4e-8 relative).
 * Past 10.5, e^-a² rounds to 0 in float, so a is clamped there.
 */
NK_INLINE NkVec erf_small(NkVec a)
{
    NkVec z = a * a;
    NkVec p = nk_splat(7.889477650e-05f);
    p = p * z + -8.020957009e-04f;
    p = p * z + 5.189549701e-03f;
    p = p * z + -2.685445313e-02f;
    p = p * z + 1.128360042e-01f;
    p = p * z + -3.761262717e-01f;
    p = p * z + 1.128379166e+00f;
    return a * p;
}

/* erfc(a) given e = e^-a² (a >= 1; other lanes give garbage, not traps). */
NK_INLINE NkVec erfc_large(NkVec a, NkVec e)
{
    NkVec t = 1.0f / a, s = t - 0.5475f;
    NkVec r = nk_splat(-6.066644065e-02f);
    r = r * s + -2.757997367e-02f;
    r = r * s + 1.125137346e-01f;
    r = r * s + -7.628750625e-02f;
    r = r * s + 9.898693401e-03f;
    r = r * s + 5.092373008e-02f;
    r = r * s + -9.747686400e-02f;
    r = r * s + 9.928567235e-02f;
    r = r * s + -2.110845905e-02f;
    r = r * s + -1.699309893e-01f;
    r = r * s + 5.027783933e-01f;
    return e * t * r;
}

/* Error ≲ 1.5 ulp of the result, plus 6e-8 absolute next to ±1. */
NK_INLINE NkVec nk_erf(NkVec x)
{
    NkVec a = nk_min(nk_abs(x), nk_splat(10.5f));
    NkVec big = 1.0f - erfc_large(a, nk_exp(-(a * a)));
    return nk_copysign(nk_select(a < 1.0f, erf_small(a), big), x);
}

/*
 * 1 / (1 + e^-x) computed from e = e^-|x| <= 1: s = 1 / (1 + e) for x >= 0
 * and e·s = e^x / (1 + e^x) for x < 0, so neither side overflows and tiny
 * results keep their relative accuracy.
 */
NK_INLINE NkVec nk_sigmoid(NkVec x)
{
    NkVec e = nk_exp(-nk_abs(x));
    NkVec s = 1.0f / (1.0f + e);
    return nk_select(x < 0.0f, e * s, s);
}

/*
 * tanh on |x|, sign restored at the end: below 0.625, x · P(x²) with P a
 * fit of tanh(x)/x (to 4e-9); above, 1 - 2e/(1 + e) with e = e^-2|x|,
 * where the subtraction loses less than a bit. Large |x| gives e = 0, ±1.
 */
NK_INLINE NkVec nk_tanh(NkVec x)
{
    NkVec ax = nk_abs(x);
    NkVec e = nk_exp(-2.0f * ax);
    NkVec big = 1.0f - 2.0f * e / (1.0f + e);
    NkVec z = ax * ax;
    NkVec p = nk_splat(-5.672771957e-03f);
    p = p * z + 2.060352094e-02f;
    p = p * z + -5.372537637e-02f;
    p = p * z + 1.333118821e-01f;
    p = p * z + -3.333326355e-01f;
    p = p * z + 9.999999963e-01f;
    return nk_copysign(nk_select(ax < 0.625f, ax * p, big), x);
}

/*
 * Exact GELU, torch's default: x/2 · (1 + erf(x/√2)). For x <= -√2 the sum
 * 1 + erf cancels, so it is computed as erfc(|x|/√2) directly, keeping the
 * relative accuracy down the negative tail. That needs e^-(x²/2) with x²
 * exact: x = hi + lo with hi's low 12 mantissa bits cleared, so hi² is a
 * float, and e^-(x²/2) = e^-(hi²/2) · e^-d with d = lo·(x + hi)/2 < 0.06,
 * e^-d from its Taylor series to 4e-9. (No Veltkamp split and no fma:
 * both would be broken or unportable under -ffp-contract=fast.)
 */
NK_INLINE NkVec nk_gelu(NkVec x)
{
    NkVec ax = nk_min(nk_abs(x), nk_splat(14.8f)); /* 14.8/√2 = 10.47 */
    NkVec a = ax * 0.707106781186547524f;
    NkVec hi = (NkVec)((NkVeci)ax & (int32_t)0xfffff000), d = (ax - hi) * (ax + hi) * 0.5f;
    NkVec ed = 1.0f - d * (1.0f - d * (0.5f - d * (0.16666667f - d * 0.041666668f)));
    NkVec tail = erfc_large(a, nk_exp(-(hi * hi * 0.5f)) * ed);
    NkVec small = erf_small(a);
    NkVec lower = nk_select(a < 1.0f, 1.0f - small, tail);                  /* 1 + erf(-a) */
    NkVec upper = 1.0f + nk_select(a < 1.0f, small, 1.0f - tail);            /* 1 + erf(a) */
    return 0.5f * x * nk_select(x < 0.0f, lower, upper);
}

/* The fused activation of nk.h (NK_ACT_*); act is a compile-time constant
 * after inlining, so the switch folds away. */
NK_INLINE NkVec nk_act(NkVec v, int64_t act)
{
    switch (act) {
    case NK_ACT_RELU:
        return nk_max(v, nk_splat(0.0f));
    case NK_ACT_RELU6:
        return nk_min(nk_max(v, nk_splat(0.0f)), nk_splat(6.0f));
    case NK_ACT_GELU:
        return nk_gelu(v);
    case NK_ACT_SILU:
        return v * nk_sigmoid(v);
    default:
        return v;
    }
}

/* ---- strided index spaces (nk_binary, nk_copy) ---- */

/*
 * Up to NK_ITER_OPS operands walked over one index space of up to 8 dims,
 * each with its own element strides. Kernels first simplify the space with
 * nk_iter_coalesce, keep the innermost dim (or two) for their vector loop
 * and walk the outer dims with nk_iter_seek / nk_iter_next, so a range of
 * rows handed out by nk_parallel_for starts anywhere with one seek.
 */
#define NK_ITER_OPS 3
typedef struct NkIter {
    int rank, nops;
    int64_t dims[8];
    int64_t strides[NK_ITER_OPS][8];
    int64_t idx[8];
    int64_t off[NK_ITER_OPS];
} NkIter;

/*
 * Drops dims of size 1 and merges each dim into the next when every
 * operand steps across both as one (stride[i] == stride[i+1] * dims[i+1]),
 * keeping the order. Returns the number of elements (0: nothing to do);
 * the space keeps at least one dim.
 */
static inline int64_t nk_iter_coalesce(NkIter *it)
{
    int r = 0;
    int64_t total = 1;
    for (int i = 0; i < it->rank; i++) {
        total *= it->dims[i];
        if (it->dims[i] == 1)
            continue;
        int merge = r > 0;
        for (int k = 0; merge && k < it->nops; k++)
            merge = it->strides[k][r - 1] == it->strides[k][i] * it->dims[i];
        if (merge) {
            it->dims[r - 1] *= it->dims[i];
            for (int k = 0; k < it->nops; k++)
                it->strides[k][r - 1] = it->strides[k][i];
            continue;
        }
        it->dims[r] = it->dims[i];
        for (int k = 0; k < it->nops; k++)
            it->strides[k][r] = it->strides[k][i];
        r++;
    }
    if (r == 0) {
        it->dims[0] = 1;
        for (int k = 0; k < it->nops; k++)
            it->strides[k][0] = 0;
        r = 1;
    }
    it->rank = r;
    return total;
}

/* Positions the walk over dims [0, outer) at row-major index u. */
static inline void nk_iter_seek(NkIter *it, int outer, int64_t u)
{
    for (int k = 0; k < it->nops; k++)
        it->off[k] = 0;
    for (int i = outer - 1; i >= 0; i--) {
        it->idx[i] = u % it->dims[i];
        u /= it->dims[i];
        for (int k = 0; k < it->nops; k++)
            it->off[k] += it->idx[i] * it->strides[k][i];
    }
}

/* Steps the walk over dims [0, outer) to the next index (an odometer). */
static inline void nk_iter_next(NkIter *it, int outer)
{
    for (int i = outer - 1; i >= 0; i--) {
        for (int k = 0; k < it->nops; k++)
            it->off[k] += it->strides[k][i];
        if (++it->idx[i] < it->dims[i])
            return;
        for (int k = 0; k < it->nops; k++)
            it->off[k] -= it->idx[i] * it->strides[k][i];
        it->idx[i] = 0;
    }
}

#endif
