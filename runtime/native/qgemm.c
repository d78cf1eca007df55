/*
 * qgemm.c — the int8 GEMM core (see qgemm.h) and nk_qlinear on top of it.
 *
 * Blocking, from the outside in (one thread's share):
 *   item       = (batch item, pixel block, panel), block-major (panel
 *                fastest): a thread's contiguous range is mostly whole
 *                blocks, and it packs A again only when the block changes;
 *   A block    = up to QMB_TILES micro-tiles of QMR rows, all of k, packed
 *                into this thread's scratch;
 *   panel      = QNR columns, all of k: G·QNR words (for k = 576 and the
 *                VNNI 32 columns, 18 KiB) streamed from L1/L2 by every tile
 *                of the block;
 *   micro-tile = QMR × QNR int32 accumulators in registers, NK_QNV = 2
 *                vectors per row in every build; per group step NK_QNV
 *                vector loads and QMR broadcasts of A feed QMR·NK_QNV dot
 *                instructions (nk_qdot).
 * There is no K blocking: the float core passes partial sums through C
 * between K blocks, but C here is uint8 or float, and a whole-K tile does
 * enough work per load (VNNI: 64 multiply-adds per vpdpbusd, 2 B loads per
 * 28 of them) to run from L2.
 * The micro-kernel is instantiated per row count 1..QMR (the last tile of
 * 49 pixels has 7 rows); columns past n are computed (B is zero there) and
 * not stored. The epilogue (qgemm.h: convert, multiply, clamp and round or
 * activate; or, in shift mode, shift, round and clamp in integers) runs on
 * the accumulators before the store.
 */
#include "qgemm.h"


#include <limits.h>

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

_Static_assert(NK_QNV == 2 && NK_QNR % NK_VL == 0, "qtile's vectors per row");
_Static_assert(NK_QMR == 6 || NK_QMR == 12 || NK_QMR == 14, "qtile_dispatch's cases");

/* ------------------------------------------------------------ packing (build time) */

const char *nk_qcheck(const NkQOut *q, int64_t k, int64_t n, const int32_t *bias)
{
    if (q->zx < 0 || q->zx > 255)
        return "the input zero point is not in [0, 255]";
    if (q->mode == NK_QOUT_U8) {
        if (q->zy < 0 || q->zy > 255 || q->lo < 0 || q->lo > q->hi || q->hi > 255)
            return "the output zero point and clamp are not 0 <= lo <= hi <= 255, zy in [0, 255]";
    } else if (q->mode == NK_QOUT_F32) {
        if (q->act != NK_ACT_NONE && q->act != NK_ACT_RELU && q->act != NK_ACT_RELU6)
            return "a float output fuses only relu or relu6";
    } else {
        return "unknown output mode";
    }
    if (q->shift != 0 && q->shift != 1)
        return "shift is 0 (float requantization) or 1 (shift requantization)";
    if (q->shift && q->mode != NK_QOUT_U8)
        return "shift requantization gives uint8 outputs only (a float output multiplies by mult)";
    if (k < 0 || n < 0)
        return "negative size";
    /* |Σ (x − zx)·w| <= k·255·127: with the bias it must fit int32 */
    int64_t most = INT32_MAX;
    if (k > most / (255 * 127))
        return "the reduction is too deep: k·255·127 exceeds int32";
    for (int64_t j = 0; bias && j < n; j++)
        if (k * 255 * 127 + (bias[j] < 0 ? -(int64_t)bias[j] : bias[j]) > most)
            return "k·255·127 + |bias| exceeds int32";
    return NULL;
}

/* k when mult is exactly 2^-k with k an integer in [0, 31], else -1:
 * read from the float's bits (positive, no mantissa bits, biased exponent
 * 127 − k), so no libm and no rounding. */
static int shift_of(float mult)
{
    uint32_t b;
    memcpy(&b, &mult, sizeof b);
    int k = 127 - (int)(b >> 23);
    return (b & 0x807fffffu) == 0 && k >= 0 && k <= 31 ? k : -1;
}

const char *nk_qmult_check(const NkQOut *q, int64_t n, const float *mult)
{
    for (int64_t j = 0; q->shift && j < n; j++)
        if (shift_of(mult[j]) < 0)
            return "shift requantization needs every mult to be exactly 2^-k, k an integer in [0, 31]";
    return NULL;
}

uint32_t nk_qrequant_word(const NkQOut *q, float mult)
{
    uint32_t w;
    if (q->shift)
        return (uint32_t)shift_of(mult);
    memcpy(&w, &mult, sizeof w);
    return w;
}

static int8_t weight_at(const NkQWeights *w, int64_t kk, int64_t j)
{
    return w->w[kk / w->inner * w->s_outer + kk % w->inner * w->s_inner + j * w->s_col];
}

void nk_qgemm_pack(const NkQWeights *w, int64_t k, int64_t n, const NkTiling *t, const NkQOut *q,
                   const int32_t *bias, const float *mult, uint8_t *dst, int32_t *bias_dst,
                   uint32_t *rq_dst)
{
    int64_t nr = t->qnr, kg = t->qkg, groups = nk_qgroups(k, kg), panels = nk_qpanels(n, nr);
    for (int64_t p = 0; p < panels; p++)
        for (int64_t g = 0; g < groups; g++)
            for (int64_t jj = 0; jj < nr; jj++) {
                uint8_t *word = dst + ((p * groups + g) * nr + jj) * 4;
                int64_t j = p * nr + jj;
                for (int64_t e = 0; e < kg; e++) {
                    int64_t kk = g * kg + e;
                    int8_t v = kk < k && j < n ? weight_at(w, kk, j) : 0;
                    if (kg == 4) {
                        word[e] = (uint8_t)v;
                    } else { /* int16, little-endian */
                        word[2 * e] = (uint8_t)v;
                        word[2 * e + 1] = v < 0 ? 0xff : 0;
                    }
                }
            }
    for (int64_t j = 0; j < panels * nr; j++) {
        int64_t sum = 0;
        for (int64_t kk = 0; j < n && kk < k; kk++)
            sum += weight_at(w, kk, j);
        /* within int32 by nk_qcheck: |bias| + 255·127·k */
        bias_dst[j] = j < n ? (int32_t)((bias ? bias[j] : 0) - q->zx * sum) : 0;
        rq_dst[j] = j < n ? nk_qrequant_word(q, mult[j]) : 0;
    }
}

/* ------------------------------------------------------------ packing A (run time) */

/* The A words of a tile of m rows (pointers to their k bytes): [m][G]
 * words, each row its k bytes (VNNI) or its k bytes widened to int16, 0
 * past k. Row-major, so packing a row is a copy or one widening pass
 * (16 bytes per step), not a word-by-word transpose. */
static void pack_a_tile(const uint8_t *const *rows, int64_t m, int64_t k, uint32_t *dst)
{
    int64_t groups = nk_qgroups(k, NK_QKG);
    for (int64_t i = 0; i < m; i++) {
        const uint8_t *r = rows[i];
        uint8_t *d = (uint8_t *)(dst + i * groups);
#if NK_QKG == 4
        memcpy(d, r, (size_t)k);
        memset(d + k, 0, (size_t)(groups * 4 - k));
#else
        typedef uint8_t U8x16 __attribute__((vector_size(16)));
        typedef uint16_t U16x16 __attribute__((vector_size(32)));
        int64_t kk = 0;
        for (; kk + 16 <= k; kk += 16) {
            U8x16 b;
            memcpy(&b, r + kk, sizeof b);
            U16x16 w = __builtin_convertvector(b, U16x16);
            memcpy(d + 2 * kk, &w, sizeof w);
        }
        for (; kk < 2 * groups; kk++) { /* the tail, and a zero past an odd k */
            uint16_t w = kk < k ? r[kk] : 0;
            memcpy(d + 2 * kk, &w, 2);
        }
#endif
    }
}

/* ------------------------------------------------------------ micro-kernel */

typedef struct NkQTile {
    const uint32_t *a;   /* packed A tile, [G][M] words */
    const uint8_t *b;    /* B panel, [G][QNR] words */
    int64_t groups;
    const int32_t *bias; /* the panel's bias' and requantization words */
    const uint32_t *rq;
    void *c;             /* C (uint8 or float) */
    int64_t c0, ldc, nv; /* element offset of the tile's first output; valid columns */
    const NkQOut *q;
} NkQTile;

NK_INLINE NkQVec qload(const void *p)
{
    NkQVec v;
    memcpy(&v, p, sizeof v);
    return v;
}

NK_INLINE void qtile(const int M, const NkQTile *t)
{
    NkQVec acc[NK_QMR][NK_QNV];
    NK_UNROLL
    for (int v = 0; v < NK_QNV; v++) {
        NkQVec b0 = qload(t->bias + v * NK_VL);
        NK_UNROLL
        for (int i = 0; i < M; i++)
            acc[i][v] = b0;
    }
    const uint32_t *restrict a = t->a;
    const uint8_t *restrict b = t->b;
    for (int64_t g = 0; g < t->groups; g++) {
        NkQVec bv[NK_QNV];
        NK_UNROLL
        for (int v = 0; v < NK_QNV; v++)
            bv[v] = qload(b + (g * NK_QNR + v * NK_VL) * 4);
        NK_UNROLL
        for (int i = 0; i < M; i++) {
            uint32_t av;
            memcpy(&av, a + i * t->groups + g, 4);
            NK_UNROLL
            for (int v = 0; v < NK_QNV; v++)
                acc[i][v] = nk_qdot(acc[i][v], av, bv[v]);
        }
    }
    /* A local copy: the uint8 stores could alias *t->q, which would
     * reload and reconvert the clamp bounds for every vector. */
    const NkQOut q = *t->q;
    void *c = t->c;
    int64_t c0 = t->c0, ldc = t->ldc;
    NK_UNROLL
    for (int v = 0; v < NK_QNV; v++) {
        int64_t nv = min64(NK_VL, t->nv - v * NK_VL);
        if (nv <= 0)
            break;
        NkVeci rq = (NkVeci)qload(t->rq + v * NK_VL);
        NK_UNROLL
        for (int i = 0; i < M; i++)
            nk_qrequant_store(&q, acc[i][v], rq, c, c0 + i * ldc + v * NK_VL, nv);
    }
}

#define NK_QTILE_CASE(M) case M: qtile(M, t); break;

static void qtile_dispatch(int64_t m, const NkQTile *t)
{
    switch (m) {
        NK_QTILE_CASE(1) NK_QTILE_CASE(2) NK_QTILE_CASE(3) NK_QTILE_CASE(4) NK_QTILE_CASE(5)
        NK_QTILE_CASE(6)
#if NK_QMR >= 12
        NK_QTILE_CASE(7) NK_QTILE_CASE(8) NK_QTILE_CASE(9) NK_QTILE_CASE(10) NK_QTILE_CASE(11)
        NK_QTILE_CASE(12)
#endif
#if NK_QMR >= 14
        NK_QTILE_CASE(13) NK_QTILE_CASE(14)
#endif
    default: break;
    }
}

/* ------------------------------------------------------------ driver */

typedef struct NkQBlocking {
    int64_t tiles, blocks, tiles_per_block, panels, groups;
} NkQBlocking;

static NkQBlocking qblocking(const NkQGemm *g)
{
    NkQBlocking bl;
    bl.tiles = (g->m + NK_QMR - 1) / NK_QMR;
    bl.blocks = (bl.tiles + NK_QMB_TILES - 1) / NK_QMB_TILES;
    bl.tiles_per_block = bl.blocks ? (bl.tiles + bl.blocks - 1) / bl.blocks : 0;
    bl.panels = nk_qpanels(g->n, NK_QNR);
    bl.groups = nk_qgroups(g->k, NK_QKG);
    return bl;
}

/* Packed A block, then the row buffer the row source may gather into. */
int64_t nk_qgemm_thread_scratch(int64_t k, const NkTiling *t)
{
    int64_t groups = nk_qgroups(k, t->qkg);
    return t->qmb_tiles * t->qmr * groups * 4 + (groups * 4 + 64) * t->qmr;
}

/* Packs the tiles [t0, t1) of item bi into a. */
static void pack_a_block(const NkQGemm *g, const NkQBlocking *bl, int64_t bi, int64_t t0, int64_t t1,
                         uint32_t *a, uint8_t *tmp)
{
    int64_t rowbytes = bl->groups * 4 + 64;
    for (int64_t t = t0; t < t1; t++) {
        int64_t p0 = t * NK_QMR, m = min64(NK_QMR, g->m - p0);
        const uint8_t *rows[NK_QMR];
        for (int64_t i = 0; i < m; i++)
            rows[i] = g->row(g->a_src, bi, p0 + i, tmp + i * rowbytes);
        pack_a_tile(rows, m, g->k, a + (t - t0) * NK_QMR * bl->groups);
    }
}

/* Items [begin, end) of the index space batch × blocks × panels. */
static void qgemm_run(const NkQGemm *g, int64_t begin, int64_t end, uint8_t *scratch)
{
    NkQBlocking bl = qblocking(g);
    uint32_t *a = (uint32_t *)scratch;
    uint8_t *tmp = scratch + NK_QMB_TILES * NK_QMR * bl.groups * 4;
    int64_t packed = -1; /* the (item, block) in a */
    for (int64_t it = begin; it < end; it++) {
        int64_t bb = it / bl.panels, j = it % bl.panels; /* bb = bi·blocks + pb */
        int64_t bi = bb / bl.blocks, pb = bb % bl.blocks;
        int64_t t0 = pb * bl.tiles_per_block, t1 = min64(bl.tiles, t0 + bl.tiles_per_block);
        if (packed != bb) {
            pack_a_block(g, &bl, bi, t0, t1, a, tmp);
            packed = bb;
        }
        int64_t col = j * NK_QNR;
        NkQTile tl = {
            .b = g->b + bi * g->b_bstride + j * bl.groups * NK_QNR * 4,
            .groups = bl.groups,
            .bias = g->bias + bi * g->bias_bstride + col,
            .rq = g->rq + bi * g->bias_bstride + col,
            .c = g->c,
            .ldc = g->ldc,
            .nv = min64(NK_QNR, g->n - col),
            .q = &g->q,
        };
        for (int64_t t = t0; t < t1; t++) {
            int64_t p0 = t * NK_QMR;
            tl.a = a + (t - t0) * NK_QMR * bl.groups;
            tl.c0 = bi * g->c_bstride + p0 * g->ldc + col;
            qtile_dispatch(min64(NK_QMR, g->m - p0), &tl);
        }
    }
}

typedef struct NkQGemmTask {
    const NkQGemm *g;
    uint8_t *scratch;
} NkQGemmTask;

static void qgemm_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const NkQGemmTask *t = ctx;
    qgemm_run(t->g, begin, end, t->scratch + thread * nk_qgemm_thread_scratch(t->g->k, &NK_QBUILD_TILING));
}

void nk_qgemm_parallel(const NkQGemm *g, void *scratch)
{
    if (g->m <= 0 || g->n <= 0 || g->batch <= 0)
        return;
    NkQBlocking bl = qblocking(g);
    NkQGemmTask t = {g, scratch};
    nk_parallel_for(g->batch * bl.blocks * bl.panels, 1, qgemm_task, &t);
}

/* ------------------------------------------------------------ nk_qlinear */

/* Packed: the weight panels, then bias' and the requantization words over
 * whole panels. */
static int64_t qlinear_cols(const NkQLinear *d, const NkTiling *t) { return nk_qpanels(d->n, t->qnr) * t->qnr; }

const char *nk_qlinear_check(const NkQLinear *d, const int32_t *bias)
{
    return d->m < 0 ? "negative size" : nk_qcheck(&d->q, d->k, d->n, bias);
}

int64_t nk_qlinear_packed_bytes(const NkQLinear *d, const NkTiling *t)
{
    return nk_qgemm_b_bytes(d->k, d->n, t) + qlinear_cols(d, t) * 8;
}

int nk_qlinear_pack(const NkQLinear *d, const NkTiling *t, const int8_t *weight, const int32_t *bias,
                    const float *mult, void *packed)
{
    if (nk_qlinear_check(d, bias) || nk_qmult_check(&d->q, d->n, mult))
        return -1;
    uint8_t *p = packed;
    int32_t *pb = (int32_t *)(p + nk_qgemm_b_bytes(d->k, d->n, t));
    NkQWeights w = {weight, d->k > 0 ? d->k : 1, 0, 1, d->k};
    nk_qgemm_pack(&w, d->k, d->n, t, &d->q, bias, mult, p, pb, (uint32_t *)(pb + qlinear_cols(d, t)));
    return 0;
}

int64_t nk_qlinear_scratch(const NkQLinear *d, const NkTiling *t, int threads)
{
    return (int64_t)(threads < 1 ? 1 : threads) * nk_qgemm_thread_scratch(d->k, t);
}

const uint8_t *nk_qrows(const void *src, int64_t bi, int64_t p, uint8_t *tmp)
{
    const NkQRows *r = src;
    return r->a + bi * r->bstride + p * r->lda;
}

void nk_qlinear(const NkQLinear *d, const uint8_t *in, const void *packed, void *out, void *scratch)
{
    const uint8_t *p = packed;
    const int32_t *bias = (const int32_t *)(p + nk_qgemm_b_bytes(d->k, d->n, &NK_QBUILD_TILING));
    int64_t cols = qlinear_cols(d, &NK_QBUILD_TILING);
    NkQRows rows = {in, d->k, 0};
    NkQGemm g = {
        .batch = 1, .m = d->m, .n = d->n, .k = d->k,
        .row = nk_qrows, .a_src = &rows,
        .b = p, .bias = bias, .rq = (const uint32_t *)(bias + cols),
        .c = out, .ldc = d->n,
        .q = d->q,
    };
    nk_qgemm_parallel(&g, scratch);
}
