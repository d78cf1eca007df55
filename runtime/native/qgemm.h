/*
 * qgemm.h — the int8 GEMM core shared by qgemm.c (nk_qlinear) and qconv.c
 * (nk_qconv2d), and the requantising epilogue the depthwise kernel uses
 * too. Private to runtime/native; the semantics are nk.h's.
 *
 * C[m, n] = requant(A[m, k] · B[k, n] + bias'), A uint8, B int8 (requant:
 * nk_qrequant_store, float or shift by the output's mode), where
 *   - k is cut into groups of QKG (4 with VNNI, 2 otherwise: nk_isa.h), one
 *     32-bit word per (group, row) of A and per (group, column) of B;
 *   - B is packed ahead of time into panels of QNR columns, each panel
 *     [G][QNR] words (G = ceil(k/QKG)), panels one after another, zero past
 *     k and past n. A word holds QKG weights of one column in k order: 4
 *     int8 (VNNI) or 2 little-endian int16 (pmaddwd);
 *   - A is packed per micro-tile of M <= QMR rows into scratch as [M][G]
 *     words (4 uint8, or 2 uint8 widened to int16): each row a copy or
 *     one widening pass, and a step broadcasts word g of each of the M
 *     rows; past k the bytes are 0 (B is 0 there too);
 *   - bias' = bias − zx·Σ_k w (folded at pack time): Σ x·w − zx·Σ w is the
 *     contract's Σ (x − zx)·w as an integer. Accumulation wraps in 32 bits
 *     (vpdpbusd, vpaddd, unsigned C), and the final sum is within int32 by
 *     the pack-time check, so a partial sum that overflows changes nothing.
 * Integer sums are exact in any order, so the blocking and the thread
 * count cannot change a bit; only the epilogue rounds, once per output.
 * A "batch" of GEMMs sharing the shape (conv groups) runs in one parallel
 * index space, each operand with a batch stride.
 */
#ifndef NETC_NK_QGEMM_H
#define NETC_NK_QGEMM_H

#include <stdint.h>
#include <string.h>

#include "nk.h"
#include "nk_vec.h"

#include <immintrin.h>

/* This build's int8 blocking, for the sizing functions that take one. */
#define NK_QBUILD_TILING ((const NkTiling){.qmr = NK_QMR, .qnr = NK_QNR, .qkg = NK_QKG, .qmb_tiles = NK_QMB_TILES})

/* Vectors per micro-tile row. */
#define NK_QNV (NK_QNR / NK_VL)

/* The words of an A or B group: the int32 accumulator lanes' width. */
typedef uint32_t NkQVec __attribute__((vector_size(NK_VL * sizeof(uint32_t))));
typedef uint8_t NkQBytes __attribute__((vector_size(NK_VL)));

/* acc + Σ over a word's QKG products of a (broadcast word of A) and b
 * (QKG weights per lane). */
NK_INLINE NkQVec nk_qdot(NkQVec acc, uint32_t a, NkQVec b)
{
#if NK_BUILD_VNNI
    return (NkQVec)_mm512_dpbusd_epi32((__m512i)acc, _mm512_set1_epi32((int)a), (__m512i)b);
#elif NK_VL == 16
    return acc + (NkQVec)_mm512_madd_epi16(_mm512_set1_epi32((int)a), (__m512i)b);
#elif NK_VL == 8
    return acc + (NkQVec)_mm256_madd_epi16(_mm256_set1_epi32((int)a), (__m256i)b);
#else
    return acc + (NkQVec)_mm_madd_epi16(_mm_set1_epi32((int)a), (__m128i)b);
#endif
}

/* Supplies row p (k bytes) of batch item bi: a pointer into the input, or
 * tmp (kpad bytes) filled by gathering (im2col). */
typedef const uint8_t *(*NkQRow)(const void *src, int64_t bi, int64_t p, uint8_t *tmp);

/* Rows of a matrix in place, an NkQRow: row p of item bi at
 * a + bi*bstride + p*lda. */
typedef struct NkQRows {
    const uint8_t *a;
    int64_t lda, bstride;
} NkQRows;
const uint8_t *nk_qrows(const void *src, int64_t bi, int64_t p, uint8_t *tmp);

typedef struct NkQGemm {
    int64_t batch, m, n, k;
    NkQRow row;
    const void *a_src;
    const uint8_t *b;     /* panels, b_bstride bytes per batch item */
    const int32_t *bias;  /* bias', whole panels per item (bias_bstride) */
    const uint32_t *rq;   /* requantization words (nk_qrequant_word), likewise */
    void *c;              /* uint8 or float by q.mode: row stride ldc, c_bstride per item (elements) */
    int64_t b_bstride, bias_bstride, ldc, c_bstride;
    NkQOut q;
} NkQGemm;

/* Panels of width nr covering n columns, and groups of kg covering k. */
static inline int64_t nk_qpanels(int64_t n, int64_t nr) { return (n + nr - 1) / nr; }
static inline int64_t nk_qgroups(int64_t k, int64_t kg) { return (k + kg - 1) / kg; }

/* Packed B's bytes for a k × n GEMM with tiling t (one batch item). */
static inline int64_t nk_qgemm_b_bytes(int64_t k, int64_t n, const NkTiling *t)
{
    return nk_qpanels(n, t->qnr) * t->qnr * nk_qgroups(k, t->qkg) * 4;
}

/* B's element (kk, j) of the weights: kk = o·inner + i (o < k/inner) is at
 * w[o*s_outer + i*s_inner + j*s_col]: for linear inner = k, s_inner = 1;
 * for conv's k = (tap, ci), inner = cg, s_inner = kh·kw, s_outer = 1. */
typedef struct NkQWeights {
    const int8_t *w;
    int64_t inner, s_outer, s_inner, s_col;
} NkQWeights;

/* Packs one item's B (k × n) for tiling t into dst (nk_qgemm_b_bytes), and
 * bias'[j] = bias[j] − q->zx·Σ_k w[k, j] and the requantization word of
 * mult[j] into whole panels (0 past n). bias may be NULL. */
void nk_qgemm_pack(const NkQWeights *w, int64_t k, int64_t n, const NkTiling *t, const NkQOut *q,
                   const int32_t *bias, const float *mult, uint8_t *dst, int32_t *bias_dst,
                   uint32_t *rq_dst);

/* NULL if q is valid and no output of a layer with this k and bias can
 * leave int32 (nk.h), else why. */
const char *nk_qcheck(const NkQOut *q, int64_t k, int64_t n, const int32_t *bias);

/* What the epilogue reads per output column, one 32-bit word: the bits of
 * mult (float requantization) or, with q->shift, k of mult = 2^-k (an
 * int32; mult checked by nk_qmult_check). */
uint32_t nk_qrequant_word(const NkQOut *q, float mult);

/* Scratch bytes one thread needs for a GEMM of depth k with tiling t. */
int64_t nk_qgemm_thread_scratch(int64_t k, const NkTiling *t);
/* Runs the whole GEMM over the thread pool; scratch holds
 * nk_qgemm_thread_scratch bytes per thread. */
void nk_qgemm_parallel(const NkQGemm *g, void *scratch);

/* ---- the requantising epilogue (nk.h's semantics), one vector ---- */

/* The float result: (float)acc, rounded to nearest even, times mult. */
NK_INLINE NkVec nk_qscale(NkQVec acc, NkVec mult)
{
    return __builtin_convertvector((NkVeci)acc, NkVec) * mult;
}

/* Stores the first nv (<= NK_VL) lanes of the integers y (within [0,
 * 255]) as uint8 outputs idx.. of c. */
NK_INLINE void nk_qstore_bytes(NkVeci y, void *c, int64_t idx, int64_t nv)
{
    NkQBytes b = __builtin_convertvector(y, NkQBytes);
    uint8_t *o = (uint8_t *)c + idx;
    if (nv == NK_VL)
        memcpy(o, &b, sizeof b);
    else
        for (int64_t l = 0; l < nv; l++)
            o[l] = b[l];
}

/* Stores the first nv (<= NK_VL) lanes of r as outputs idx.. of c. */
NK_INLINE void nk_qstore(const NkQOut *q, NkVec r, void *c, int64_t idx, int64_t nv)
{
    if (q->mode == NK_QOUT_F32) {
        NkVec y = nk_act(r, q->act);
        float *o = (float *)c + idx;
        if (nv == NK_VL)
            nk_store(o, y);
        else
            nk_store_part(o, y, nv);
        return;
    }
    /* clamp to [lo − zy, hi − zy] (NaN -> lo − zy), then round half to
     * even by adding 1.5·2^23: its ulp is 1, so the sum is rint(r) + that,
     * exact, and the low bits of the float are the integer. */
    NkVec a = nk_splat((float)(q->lo - q->zy)), b = nk_splat((float)(q->hi - q->zy));
    r = nk_select(r > a, r, a);
    r = nk_select(r < b, r, b);
    const float magic = 12582912.0f;
    nk_qstore_bytes((NkVeci)(r + magic) - (NkVeci)nk_splat(magic) + (int32_t)q->zy, c, idx, nv);
}

/* rhe(acc, k) of nk.h per lane: acc / 2^k rounded half to even, k in
 * [0, 31], in integers. The tie test folds into one unsigned compare:
 * round up iff r + odd(f) > 2^(k−1) (k >= 1), and half = (mask >> 1) + 1
 * is 1 for k = 0, where r = 0 and r + odd <= 1 never rounds. No sum can
 * wrap: r + 1 <= 2^31, and f + 1 <= 2^30 when k >= 1. */
NK_INLINE NkVeci nk_qrhe(NkVeci acc, NkVeci k)
{
    NkQVec mask = (((NkQVec){0} + 1) << (NkQVec)k) - 1;
    NkVeci f = acc >> k;
    NkQVec r = (NkQVec)acc & mask, odd = (NkQVec)f & 1, half = (mask >> 1) + 1;
    return f - (NkVeci)(r + odd > half); /* a true compare is −1 */
}

/* Integer max / min per lane, branch-free. */
NK_INLINE NkVeci nk_qmax_i(NkVeci a, NkVeci b)
{
    NkVeci m = a > b;
    return (a & m) | (b & ~m);
}
NK_INLINE NkVeci nk_qmin_i(NkVeci a, NkVeci b)
{
    NkVeci m = a < b;
    return (a & m) | (b & ~m);
}

/* Requantizes one vector of accumulators with the lanes' requantization
 * words rq and stores its first nv lanes as outputs idx.. of c: shift
 * (integers only) or float, by q->shift (nk.h). */
NK_INLINE void nk_qrequant_store(const NkQOut *q, NkQVec acc, NkVeci rq, void *c, int64_t idx,
                                 int64_t nv)
{
    if (q->shift) {
        NkVeci y = nk_qrhe((NkVeci)acc, rq);
        y = nk_qmax_i(y, (NkVeci){0} + (int32_t)(q->lo - q->zy));
        y = nk_qmin_i(y, (NkVeci){0} + (int32_t)(q->hi - q->zy));
        nk_qstore_bytes(y + (int32_t)q->zy, c, idx, nv);
        return;
    }
    nk_qstore(q, nk_qscale(acc, (NkVec)rq), c, idx, nv);
}

#endif
