/*
 * sparse.c — nk_spconv2d and nk_splinear: sparse weights (nk_sparse.h for
 * the packed format) times a dense activation panel.
 *
 * The dense kernels vectorize over output channels (NHWC rows). With
 * unstructured zeros a run of output channels has no common nonzeros, so
 * these kernels vectorize over pixels instead, the usual SpMM for CNN
 * inference (as XNNPACK's sparse path):
 *   1. panel: PB = NK_SP_NPV·NK_VL pixels (tokens) of the im2col matrix
 *      A[p, k], transposed into T[k][PB] in scratch — VL×VL blocks
 *      transposed in registers (sp_transpose), once per pixel block;
 *   2. for each group of 4 output rows, for each entry (k_r, w_r):
 *      acc[r][v] += w_r · T[k_r][v·VL ..], 4·NPV independent chains
 *      (AVX-512: 16 zmm accumulators, 64 pixels; AVX2 and SSE2: 8, 16 or
 *      8 pixels), into a VL-row tile Y[o][PB];
 *   3. epilogue: the tile transposed back (VL×VL blocks) into the NHWC /
 *      row-major output, plus bias, residual, activation.
 * Work items are (pixel block, run of output tiles), ordered block-major,
 * so a thread's range reuses its panel; blocks are split over output runs
 * only when there are too few of them for the threads (ViT's 197 tokens
 * are 4 blocks). Each output is one chain of FMAs in the entries' order,
 * the same at any thread count.
 */
#include "nk_sparse.h"

#include "conv_geom.h"
#include "gemm.h"
#include "nk_vec.h"

#include <stdlib.h>

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t round16(int64_t x) { return (x + 15) & ~(int64_t)15; }

/* Pixel vectors per panel row: 4·4 accumulators of 32 zmm with AVX-512;
 * 4·2 of 16 registers otherwise. */
#define NK_SP_NPV (NK_VL == 16 ? 4 : 2)
#define NK_SP_PB (NK_SP_NPV * NK_VL)
/* Output rows computed together over one K block (a multiple of 16). */
#define NK_SP_CHUNK 64
/* The same for a target's tiling (nr = 2 vectors, nk_isa.h). */
static int64_t sp_pb(const NkTiling *t)
{
    int64_t vl = t->nr / 2;
    return (vl == 16 ? 4 : 2) * vl;
}

/* ------------------------------------------------------------ packing */

int64_t nk_sparse_zeros(const NkSpWeight *s)
{
    int64_t z = 0, n = s->o * s->cg * s->taps;
    for (int64_t i = 0; i < n; i++)
        z += s->w[i] == 0.0f;
    return z;
}

static int64_t sp_groups(int64_t o) { return (o + NK_SP_ROWS - 1) / NK_SP_ROWS; }
static int64_t sp_kblocks(int64_t k) { return (k + NK_SP_KB - 1) / NK_SP_KB; }
/* Words before the entries: the segment starts, then the bias. */
static int64_t sp_starts(int64_t o, int64_t k) { return round16(sp_groups(o) * sp_kblocks(k) + 1); }
static int64_t sp_header(int64_t o, int64_t k) { return sp_starts(o, k) + round16(o); }

/* Nonzeros of row o in k block b (0 past the last row). */
static int64_t row_nnz(const NkSpWeight *s, int64_t o, int64_t b)
{
    int64_t n = 0, k1 = min64(s->cg * s->taps, (b + 1) * NK_SP_KB);
    for (int64_t kk = b * NK_SP_KB; o < s->o && kk < k1; kk++)
        n += nk_sp_weight_at(s, o, kk) != 0.0f;
    return n;
}

/* Entries of segment (g, b): its longest row there. */
static int64_t segment_entries(const NkSpWeight *s, int64_t g, int64_t b)
{
    int64_t e = 0;
    for (int r = 0; r < NK_SP_ROWS; r++) {
        int64_t n = row_nnz(s, g * NK_SP_ROWS + r, b);
        e = n > e ? n : e;
    }
    return e;
}

int64_t nk_sparse_packed_floats(const NkSpWeight *s)
{
    int64_t e = 0, k = s->cg * s->taps;
    for (int64_t g = 0; g < sp_groups(s->o); g++)
        for (int64_t b = 0; b < sp_kblocks(k); b++)
            e += segment_entries(s, g, b);
    return sp_header(s->o, k) + 2 * NK_SP_ROWS * e;
}

/* Entry i of the segment at ent, row r: (k, w). */
static void put_entry(float *ent, int64_t i, int r, int64_t k, float w)
{
    int32_t k32 = (int32_t)k;
    memcpy(ent + i * 2 * NK_SP_ROWS + r, &k32, 4);
    ent[i * 2 * NK_SP_ROWS + NK_SP_ROWS + r] = w;
}

void nk_sparse_pack(const NkSpWeight *s, const float *bias, float *packed)
{
    int64_t G = sp_groups(s->o), k = s->cg * s->taps, nkb = sp_kblocks(k);
    int32_t *start = (int32_t *)packed;
    float *b = packed + sp_starts(s->o, k);
    float *ent = packed + sp_header(s->o, k);
    memset(packed, 0, (size_t)sp_header(s->o, k) * sizeof(float));
    for (int64_t j = 0; j < s->o; j++)
        b[j] = bias ? bias[j] : 0.0f;
    int64_t e = 0;
    for (int64_t g = 0; g < G; g++)
        for (int64_t kb = 0; kb < nkb; kb++) {
            int64_t n = segment_entries(s, g, kb), k1 = min64(k, (kb + 1) * NK_SP_KB);
            start[g * nkb + kb] = (int32_t)e;
            for (int r = 0; r < NK_SP_ROWS; r++) {
                int64_t o = g * NK_SP_ROWS + r, i = 0;
                for (int64_t kk = kb * NK_SP_KB; o < s->o && kk < k1; kk++) {
                    float w = nk_sp_weight_at(s, o, kk);
                    if (w != 0.0f)
                        put_entry(ent + e * 2 * NK_SP_ROWS, i++, r, kk, w);
                }
                for (; i < n; i++)
                    put_entry(ent + e * 2 * NK_SP_ROWS, i, r, 0, 0.0f);
            }
            e += n;
        }
    start[G * nkb] = (int32_t)e;
}

NkSpWeight nk_spconv2d_weight(const NkConv *d, const float *weight)
{
    return (NkSpWeight){weight, d->oc, d->c / d->groups, d->kh * d->kw};
}

NkSpWeight nk_splinear_weight(const NkLinear *d, const float *weight)
{
    return (NkSpWeight){weight, d->n, d->k, 1};
}

int nk_spconv2d_supported(const NkConv *d) { return d->groups == 1; }

int nk_spconv2d_im2col(const NkConv *d) { return !NK_CONV_IS_POINTWISE(d); }

/* ------------------------------------------------------------ cost model */

/* See nk_sparse.h for the thresholds and where they come from. */
int nk_sparse_wins(NkIsa isa, int im2col, int64_t weights, int64_t zeros)
{
    if (weights <= 0)
        return 0;
    int wide = isa == NK_ISA_AVX512 || isa == NK_ISA_AVX512VNNI;
    double limit = wide ? (im2col ? 0.28 : 0.35) : (im2col ? 0.33 : 0.40);
    return 1.0 - (double)zeros / (double)weights < limit;
}

/* ------------------------------------------------------------ transpose */

/* Lane j of the two results of swapping the off-diagonal s×s blocks of
 * rows a and b (a row with bit s clear, b = a + s): one stage of the
 * VL×VL transpose, a lane shuffle of (a, b). */
#define SP_LO(s, j) (((j) & (s)) ? NK_VL + (j) - (s) : (j))
#define SP_HI(s, j) (((j) & (s)) ? NK_VL + (j) : (j) + (s))
#if NK_VL == 16
#define SP_LANES(F, s)                                                                         \
    F(s, 0), F(s, 1), F(s, 2), F(s, 3), F(s, 4), F(s, 5), F(s, 6), F(s, 7), F(s, 8), F(s, 9),  \
        F(s, 10), F(s, 11), F(s, 12), F(s, 13), F(s, 14), F(s, 15)
#elif NK_VL == 8
#define SP_LANES(F, s) F(s, 0), F(s, 1), F(s, 2), F(s, 3), F(s, 4), F(s, 5), F(s, 6), F(s, 7)
#else
#define SP_LANES(F, s) F(s, 0), F(s, 1), F(s, 2), F(s, 3)
#endif
#define SP_STAGE(r, s)                                                                         \
    do {                                                                                       \
        NK_UNROLL                                                                              \
        for (int i = 0; i < NK_VL; i++)                                                        \
            if (!(i & (s))) {                                                                  \
                NkVec a_ = r[i], b_ = r[i + (s)];                                              \
                r[i] = __builtin_shufflevector(a_, b_, SP_LANES(SP_LO, s));                    \
                r[i + (s)] = __builtin_shufflevector(a_, b_, SP_LANES(SP_HI, s));              \
            }                                                                                  \
    } while (0)

/* r[i][j] -> r[j][i]: log2(VL) stages of block swaps. */
NK_INLINE void sp_transpose(NkVec r[NK_VL])
{
    SP_STAGE(r, 1);
    SP_STAGE(r, 2);
#if NK_VL >= 8
    SP_STAGE(r, 4);
#endif
#if NK_VL >= 16
    SP_STAGE(r, 8);
#endif
}

/* ------------------------------------------------------------ the kernel */

/* One call's shape, for both layer kinds. */
typedef struct SpJob {
    int64_t m, k, o;      /* pixels, reduction depth, outputs */
    const float *in;      /* rows: in + p·lda (linear, 1×1 convs), or im2col */
    int64_t lda;
    const NkIm2col *ic;   /* im2col source, or NULL */
    const float *packed, *res;
    float *out;           /* row stride o, residual too */
    int64_t act;
    float *scratch;
    int64_t thread_floats;
    int64_t runs, run_tiles; /* output tiles of VL rows: runs of run_tiles */
} SpJob;

/* Per-thread scratch: panel [round16(k)][PB] | tile [NK_SP_CHUNK][PB] |
 * rows [VL][round16(k) + 16] (im2col) | a zero row of round16(k) + 16. */
static int64_t sp_thread_floats(int64_t k, int64_t pb, int64_t vl)
{
    int64_t kp = round16(k) + 16;
    return round16(k) * pb + NK_SP_CHUNK * pb + vl * kp + kp;
}

/* Transposes pixels [p0, p0 + PB) of A into the panel. */
static void build_panel(const SpJob *j, int64_t p0, float *panel, float *rowbuf, const float *zero)
{
    int64_t kp = round16(j->k) + 16;
    for (int64_t g = 0; g < NK_SP_PB; g += NK_VL) {
        const float *row[NK_VL];
        for (int i = 0; i < NK_VL; i++) {
            int64_t p = p0 + g + i;
            if (p >= j->m) {
                row[i] = zero;
            } else if (!j->ic) {
                row[i] = j->in + p * j->lda;
            } else {
                float *dst = rowbuf + i * kp;
                for (int64_t k0 = 0; k0 < j->k; k0 += NK_KC)
                    nk_im2col(j->ic, 0, p, 1, k0, min64(NK_KC, j->k - k0), dst + k0);
                row[i] = dst;
            }
        }
        int64_t k = 0;
        for (; k + NK_VL <= j->k; k += NK_VL) {
            NkVec r[NK_VL];
            NK_UNROLL
            for (int i = 0; i < NK_VL; i++)
                r[i] = nk_load(row[i] + k);
            sp_transpose(r);
            NK_UNROLL
            for (int i = 0; i < NK_VL; i++)
                nk_store(panel + (k + i) * NK_SP_PB + g, r[i]);
        }
        if (k < j->k) {
            NkVec r[NK_VL];
            NK_UNROLL
            for (int i = 0; i < NK_VL; i++)
                r[i] = nk_load_part(row[i] + k, j->k - k, 0.0f);
            sp_transpose(r);
            NK_UNROLL
            for (int i = 0; i < NK_VL; i++)
                nk_store(panel + (k + i) * NK_SP_PB + g, r[i]);
        }
    }
}

/* Four tile rows (PB pixels each) += one segment's n entries; first:
 * start from zero instead of the tile. */
NK_INLINE void segment_rows(const float *panel, const float *ent, int64_t n, int first, float *tile)
{
    NkVec acc[NK_SP_ROWS][NK_SP_NPV];
    NK_UNROLL
    for (int r = 0; r < NK_SP_ROWS; r++)
        NK_UNROLL
        for (int v = 0; v < NK_SP_NPV; v++)
            acc[r][v] = first ? nk_splat(0.0f) : nk_load(tile + r * NK_SP_PB + v * NK_VL);
    for (int64_t e = 0; e < n; e++, ent += 2 * NK_SP_ROWS) {
        int32_t kk[NK_SP_ROWS];
        memcpy(kk, ent, sizeof kk);
        NK_UNROLL
        for (int r = 0; r < NK_SP_ROWS; r++) {
            const float *x = panel + (int64_t)kk[r] * NK_SP_PB;
            NkVec w = nk_splat(ent[NK_SP_ROWS + r]);
            NK_UNROLL
            for (int v = 0; v < NK_SP_NPV; v++)
                acc[r][v] += w * nk_load(x + v * NK_VL);
        }
    }
    NK_UNROLL
    for (int r = 0; r < NK_SP_ROWS; r++)
        NK_UNROLL
        for (int v = 0; v < NK_SP_NPV; v++)
            nk_store(tile + r * NK_SP_PB + v * NK_VL, acc[r][v]);
}

/* The tile (output rows o0.., PB pixels from p0) into the output. */
NK_INLINE void store_tile(const int64_t act, const SpJob *j, const float *tile, int64_t p0,
                          int64_t o0)
{
    const float *bias = j->packed + sp_starts(j->o, j->k) + o0;
    int64_t on = min64(NK_VL, j->o - o0);
    NkVec b = on == NK_VL ? nk_load(bias) : nk_load_part(bias, on, 0.0f);
    float lo, hi;
    nk_act_clamp(j->act, &lo, &hi);
    NkVec vlo = nk_splat(lo), vhi = nk_splat(hi);
    for (int64_t g = 0; g < NK_SP_PB && p0 + g < j->m; g += NK_VL) {
        NkVec r[NK_VL];
        NK_UNROLL
        for (int i = 0; i < NK_VL; i++)
            r[i] = nk_load(tile + i * NK_SP_PB + g);
        sp_transpose(r);
        int64_t pn = min64(NK_VL, j->m - p0 - g);
        for (int i = 0; i < pn; i++) {
            int64_t off = (p0 + g + i) * j->o + o0;
            NkVec y = r[i] + b;
            if (j->res)
                y += on == NK_VL ? nk_load(j->res + off) : nk_load_part(j->res + off, on, 0.0f);
            y = nk_act_is_math(act) ? nk_act(y, act) : nk_min(nk_max(y, vlo), vhi);
            if (on == NK_VL)
                nk_store(j->out + off, y);
            else
                nk_store_part(j->out + off, y, on);
        }
    }
}

static void store_tile_act(const SpJob *j, const float *tile, int64_t p0, int64_t o0)
{
    switch (j->act) {
    case NK_ACT_GELU: store_tile(NK_ACT_GELU, j, tile, p0, o0); break;
    case NK_ACT_SILU: store_tile(NK_ACT_SILU, j, tile, p0, o0); break;
    default: store_tile(NK_ACT_NONE, j, tile, p0, o0); break; /* clamps from nk_act_clamp */
    }
}

/* The output and residual lines of rows [c0, c1) of the block at p0,
 * fetched while the chunk computes: with a short k (a 1×1 conv over 64
 * channels) the epilogue would otherwise wait on them (the dense GEMM
 * does the same per tile). */
static void prefetch_chunk(const SpJob *j, int64_t p0, int64_t c0, int64_t c1)
{
    for (int64_t p = p0; p < min64(j->m, p0 + NK_SP_PB); p++)
        for (int64_t o = c0; o < c1; o += 16) {
            __builtin_prefetch(j->out + p * j->o + o, 1, 3);
            if (j->res)
                __builtin_prefetch(j->res + p * j->o + o, 0, 3);
        }
}

/*
 * Items [begin, end): (pixel block, run of output tiles). A run is done in
 * chunks of NK_SP_CHUNK rows, K block by K block, so one K block of the
 * panel (NK_SP_KB·PB floats, 32 KiB with AVX-512) stays in L1 while every
 * group of the chunk reads it, the chunk's partial sums going through the
 * tile (CHUNK·PB floats) between blocks.
 */
static void sp_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const SpJob *j = ctx;
    float *panel = j->scratch + thread * j->thread_floats;
    float *tile = panel + round16(j->k) * NK_SP_PB;
    float *rowbuf = tile + NK_SP_CHUNK * NK_SP_PB;
    float *zero = rowbuf + NK_VL * (round16(j->k) + 16);
    memset(zero, 0, (size_t)(round16(j->k) + 16) * sizeof(float));
    const int32_t *start = (const int32_t *)j->packed;
    const float *ent = j->packed + sp_header(j->o, j->k);
    int64_t tiles = (j->o + NK_VL - 1) / NK_VL, nkb = sp_kblocks(j->k), built = -1;
    for (int64_t it = begin; it < end; it++) {
        int64_t pb = it / j->runs, run = it % j->runs, p0 = pb * NK_SP_PB;
        if (pb != built)
            build_panel(j, p0, panel, rowbuf, zero), built = pb;
        int64_t r0 = run * j->run_tiles * NK_VL, r1 = min64(j->o, min64(tiles, (run + 1) * j->run_tiles) * NK_VL);
        for (int64_t c0 = r0; c0 < r1; c0 += NK_SP_CHUNK) {
            int64_t c1 = min64(r1, c0 + NK_SP_CHUNK);
            prefetch_chunk(j, p0, c0, c1);
            for (int64_t b = 0; b < nkb; b++)
                for (int64_t o = c0; o < c1; o += NK_SP_ROWS) {
                    const int32_t *sg = start + (o / NK_SP_ROWS) * nkb + b;
                    segment_rows(panel, ent + (int64_t)sg[0] * 2 * NK_SP_ROWS, sg[1] - sg[0], b == 0,
                                 tile + (o - c0) * NK_SP_PB);
                }
            for (int64_t o0 = c0; o0 < c1; o0 += NK_VL)
                store_tile_act(j, tile + (o0 - c0) * NK_SP_PB, p0, o0);
        }
    }
}

static void sp_run(SpJob *j)
{
    if (j->m <= 0 || j->o <= 0)
        return;
    int64_t blocks = (j->m + NK_SP_PB - 1) / NK_SP_PB, tiles = (j->o + NK_VL - 1) / NK_VL;
    /* Enough items for ~4 per thread; a block's output runs as long as
     * that allows (each run rebuilds nothing when a thread has the whole
     * block, one panel per thread and block otherwise). */
    int64_t want = 4 * (int64_t)nk_get_threads(), runs = (want + blocks - 1) / blocks;
    runs = runs < 1 ? 1 : runs > tiles ? tiles : runs;
    j->run_tiles = (tiles + runs - 1) / runs;
    j->runs = (tiles + j->run_tiles - 1) / j->run_tiles;
    j->thread_floats = sp_thread_floats(j->k, NK_SP_PB, NK_VL);
    nk_parallel_for(blocks * j->runs, 1, sp_task, j);
}

int64_t nk_spconv2d_scratch(const NkConv *d, const NkTiling *t, int threads)
{
    int64_t k = d->kh * d->kw * d->c / d->groups;
    return (int64_t)(threads < 1 ? 1 : threads) * sp_thread_floats(k, sp_pb(t), t->nr / 2);
}

int64_t nk_splinear_scratch(const NkLinear *d, const NkTiling *t, int threads)
{
    return (int64_t)(threads < 1 ? 1 : threads) * sp_thread_floats(d->k, sp_pb(t), t->nr / 2);
}

void nk_spconv2d(const NkConv *d, const float *in, const float *packed, const float *residual,
                 float *out, float *scratch)
{
    NkIm2col ic = {d, in};
    SpJob j = {.m = d->n * d->oh * d->ow, .k = d->kh * d->kw * d->c, .o = d->oc,
               .in = in, .lda = d->c, .ic = nk_spconv2d_im2col(d) ? &ic : NULL,
               .packed = packed, .res = residual, .out = out, .act = d->act, .scratch = scratch};
    sp_run(&j);
}

void nk_splinear(const NkLinear *d, const float *in, const float *packed, const float *residual,
                 float *out, float *scratch)
{
    SpJob j = {.m = d->m, .k = d->k, .o = d->n, .in = in, .lda = d->k, .ic = NULL,
               .packed = packed, .res = residual, .out = out, .act = d->act, .scratch = scratch};
    sp_run(&j);
}
