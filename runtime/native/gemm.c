/*
 * gemm.c — the packed GEMM core (see gemm.h) and the dense kernels on top
 * of it: nk_linear (weights packed once by netc) and nk_matmul (both
 * operands are activations; B is packed into scratch on every call).
 *
 * Blocking, from the outside in (one thread's share of the work):
 *   item       = (batch item, pixel block, panel); threads get contiguous
 *                item ranges, so a thread usually owns whole pixel blocks
 *                and packs each A block once;
 *   K block    = NK_KC deep; partial sums go through C between blocks, so
 *                every output is still one fixed chain of FMAs over k, in
 *                the same order whatever the blocking of the other loops
 *                and the thread count;
 *   A block    = up to NK_MB_TILES micro-tiles of NK_MR rows, packed into
 *                scratch (L2);
 *   panel      = NK_NR columns; its K block (NK_KC × NK_NR floats) stays in
 *                L1 while all pixel tiles of the block stream past it;
 *   micro-tile = NK_MR × NK_NR accumulators in registers (14 × 2 zmm with
 *                AVX-512: 28 accumulators + 2 B vectors; A is broadcast
 *                straight from memory, which AVX-512 folds into the FMA).
 * The micro-kernel is instantiated for every row count 1..NK_MR (the last
 * tile of a layer with 49 pixels has 7), so a partial tile costs what its
 * rows cost. A packed A tile stores each row's 16-column chunk contiguously
 * ([k/16][rows][16]): the broadcasts of one k step sit at constant offsets
 * from one pointer, and packing is whole-vector copies.
 *
 * The epilogue (bias, residual, activation) runs on the last K block: the
 * bias initializes the accumulators, then residual and activation are
 * applied to the stored tile in one generic pass (nk_finish), which keeps
 * GELU out of the NK_MR specialized copies.
 */
#include "gemm.h"

#include "nk_vec.h"

#define NK_NV (NK_NR / NK_VL)

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t round16(int64_t x) { return (x + 15) & ~(int64_t)15; }

/* ------------------------------------------------------------ epilogue */

NK_INLINE void finish_loop(float *c, const float *res, int64_t n, const int64_t act)
{
    int64_t i = 0;
    for (; i + NK_VL <= n; i += NK_VL) {
        NkVec v = nk_load(c + i);
        if (res)
            v += nk_load(res + i);
        nk_store(c + i, nk_act(v, act));
    }
    if (i < n) {
        NkVec v = nk_load_part(c + i, n - i, 0.0f);
        if (res)
            v += nk_load_part(res + i, n - i, 0.0f);
        nk_store_part(c + i, nk_act(v, act), n - i);
    }
}

void nk_finish(float *c, const float *res, int64_t n, int64_t act)
{
    switch (act) {
    case NK_ACT_RELU: finish_loop(c, res, n, NK_ACT_RELU); break;
    case NK_ACT_RELU6: finish_loop(c, res, n, NK_ACT_RELU6); break;
    case NK_ACT_GELU: finish_loop(c, res, n, NK_ACT_GELU); break;
    default:
        if (res)
            finish_loop(c, res, n, NK_ACT_NONE);
        break;
    }
}

/* ------------------------------------------------------------ micro-kernel */

/* One micro-tile's arguments (everything but the row count). */
typedef struct NkTile {
    const float *a;    /* packed A tile, chunked by 16 columns */
    const float *b;    /* B panel at row k0 */
    int64_t kc;
    float *c;          /* C at (first row, first column of the panel) */
    int64_t ldc, nv;   /* nv: valid columns in the panel (<= NK_NR) */
    const float *bias; /* panel bias when first, or NULL */
    int first;         /* first K block: start from bias, else from C */
} NkTile;

/* acc[M][NK_NV] += A tile · B panel block; M is a constant after inlining. */
NK_INLINE void micro_kernel(const int M, const float *restrict a, const float *restrict b,
                            int64_t kc, NkVec acc[NK_MR][NK_NV])
{
    for (int64_t kb = 0; kb < kc; kb += 16) {
        int64_t kn = min64(16, kc - kb);
        const float *ap = a + kb * M;
        const float *bp = b + kb * NK_NR;
        for (int64_t kk = 0; kk < kn; kk++) {
            NkVec bv[NK_NV];
#pragma GCC unroll 8
            for (int v = 0; v < NK_NV; v++)
                bv[v] = nk_load(bp + kk * NK_NR + v * NK_VL);
#pragma GCC unroll 16
            for (int i = 0; i < M; i++) {
                NkVec s = nk_splat(ap[i * 16 + kk]);
#pragma GCC unroll 8
                for (int v = 0; v < NK_NV; v++)
                    acc[i][v] += s * bv[v];
            }
        }
    }
}

/* Loads or stores the tile through a buffer, for panels with nv < NK_NR. */
static void tile_in_partial(const NkTile *t, int64_t m, float buf[NK_MR][NK_NR])
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < NK_NR; j++)
            buf[i][j] = t->first ? (t->bias ? t->bias[j] : 0.0f)
                                 : (j < t->nv ? t->c[i * t->ldc + j] : 0.0f);
}

static void tile_out_partial(const NkTile *t, int64_t m, float buf[NK_MR][NK_NR])
{
    for (int64_t i = 0; i < m; i++)
        memcpy(t->c + i * t->ldc, buf[i], (size_t)t->nv * sizeof(float));
}

NK_INLINE void tile(const int M, const NkTile *t)
{
    NkVec acc[NK_MR][NK_NV];
    float buf[NK_MR][NK_NR];
    int full = t->nv == NK_NR;
    if (!full) {
        tile_in_partial(t, M, buf);
        for (int i = 0; i < M; i++)
            for (int v = 0; v < NK_NV; v++)
                acc[i][v] = nk_load(buf[i] + v * NK_VL);
    } else if (t->first) {
        for (int v = 0; v < NK_NV; v++) {
            NkVec b0 = t->bias ? nk_load(t->bias + v * NK_VL) : nk_splat(0.0f);
            for (int i = 0; i < M; i++)
                acc[i][v] = b0;
        }
    } else {
        for (int i = 0; i < M; i++)
            for (int v = 0; v < NK_NV; v++)
                acc[i][v] = nk_load(t->c + i * t->ldc + v * NK_VL);
    }
    micro_kernel(M, t->a, t->b, t->kc, acc);
    if (full) {
        float *c = t->c; /* locals: the stores could alias *t */
        int64_t ldc = t->ldc;
        for (int i = 0; i < M; i++)
            for (int v = 0; v < NK_NV; v++)
                nk_store(c + i * ldc + v * NK_VL, acc[i][v]);
    } else {
        for (int i = 0; i < M; i++)
            for (int v = 0; v < NK_NV; v++)
                nk_store(buf[i] + v * NK_VL, acc[i][v]);
        tile_out_partial(t, M, buf);
    }
}

/* One specialized copy of tile() per row count. */
static void tile_dispatch(int64_t m, const NkTile *t)
{
#define NK_TILE_CASE(M)                                                                        \
    case M: tile(M, t); break;
    switch (m) {
        NK_TILE_CASE(1)
        NK_TILE_CASE(2)
        NK_TILE_CASE(3)
        NK_TILE_CASE(4)
        NK_TILE_CASE(5)
        NK_TILE_CASE(6)
#if NK_MR > 6
        NK_TILE_CASE(7)
        NK_TILE_CASE(8)
#endif
#if NK_MR > 8
        NK_TILE_CASE(9)
        NK_TILE_CASE(10)
#endif
#if NK_MR > 10
        NK_TILE_CASE(11)
        NK_TILE_CASE(12)
#endif
#if NK_MR > 12
        NK_TILE_CASE(13)
        NK_TILE_CASE(14)
#endif
#if NK_MR > 14
#error "tile_dispatch: add cases for NK_MR > 14"
#endif
    default: break;
    }
#undef NK_TILE_CASE
}

/* ------------------------------------------------------------ packing */

void nk_gemm_pack_rows(const void *src, int64_t bi, int64_t p0, int64_t m, int64_t k0,
                       int64_t kc, float *dst)
{
    const NkRows *r = src;
    for (int64_t i = 0; i < m; i++) {
        const float *row = r->a + bi * r->bstride + (p0 + i) * r->lda + k0;
        int64_t kb = 0;
        for (; kb + 16 <= kc; kb += 16)
            nk_store(dst + kb * m + i * 16, nk_load(row + kb));
        if (kb < kc)
            memcpy(dst + kb * m + i * 16, row + kb, (size_t)(kc - kb) * sizeof(float));
    }
}

void nk_gemm_pack_b(const float *b, int64_t k, int64_t n, int64_t sk, int64_t sn, float *dst)
{
    for (int64_t j0 = 0; j0 < n; j0 += NK_NR) {
        int64_t nv = min64(NK_NR, n - j0);
        for (int64_t kk = 0; kk < k; kk++) {
            float *d = dst + kk * NK_NR;
            for (int64_t j = 0; j < nv; j++)
                d[j] = b[kk * sk + (j0 + j) * sn];
            for (int64_t j = nv; j < NK_NR; j++)
                d[j] = 0.0f;
        }
        dst += k * NK_NR;
    }
}

/* ------------------------------------------------------------ driver */

/* How the rows are cut: tiles of NK_MR rows, grouped into pixel blocks of
 * at most NK_MB_TILES tiles, balanced so blocks are about the same size. */
typedef struct NkBlocking {
    int64_t tiles, blocks, tiles_per_block, panels;
    int64_t kblocks, kc;
} NkBlocking;

static NkBlocking blocking(const NkGemm *g)
{
    NkBlocking bl;
    bl.tiles = (g->m + NK_MR - 1) / NK_MR;
    bl.blocks = (bl.tiles + NK_MB_TILES - 1) / NK_MB_TILES;
    bl.tiles_per_block = bl.blocks ? (bl.tiles + bl.blocks - 1) / bl.blocks : 0;
    bl.panels = nk_gemm_panels(g->n);
    bl.kblocks = g->k > 0 ? (g->k + NK_KC - 1) / NK_KC : 1;
    bl.kc = bl.kblocks > 1 ? round16((g->k + bl.kblocks - 1) / bl.kblocks) : g->k;
    return bl;
}

int64_t nk_gemm_thread_scratch(void) { return (int64_t)NK_MB_TILES * NK_MR * NK_KC; }

int64_t nk_gemm_items(const NkGemm *g)
{
    NkBlocking bl = blocking(g);
    return g->batch * bl.blocks * bl.panels;
}

/* Panels [j0, j1) of pixel block pb of batch item bi. */
static void run_block(const NkGemm *g, const NkBlocking *bl, int64_t bi, int64_t pb,
                      int64_t j0, int64_t j1, float *scratch)
{
    int64_t t0 = pb * bl->tiles_per_block, t1 = min64(bl->tiles, t0 + bl->tiles_per_block);
    int64_t p0 = t0 * NK_MR;
    const float *b = g->b + bi * g->b_bstride;
    const float *bias = g->bias ? g->bias + bi * g->bias_bstride : NULL;
    float *c = g->c + bi * g->c_bstride;
    for (int64_t k0 = 0, kbi = 0; kbi < bl->kblocks; kbi++, k0 += bl->kc) {
        int64_t kc = min64(bl->kc, g->k - k0);
        int64_t tstride = NK_MR * round16(kc);
        for (int64_t t = t0; t < t1; t++) {
            int64_t pt = t * NK_MR;
            g->pack_a(g->a_src, bi, pt, min64(NK_MR, g->m - pt), k0, kc,
                      scratch + (t - t0) * tstride);
        }
        for (int64_t j = j0; j < j1; j++) {
            NkTile tl = {
                .b = b + j * g->k * NK_NR + k0 * NK_NR,
                .kc = kc,
                .ldc = g->ldc,
                .nv = min64(NK_NR, g->n - j * NK_NR),
                .bias = bias ? bias + j * NK_NR : NULL,
                .first = kbi == 0,
            };
            for (int64_t t = t0; t < t1; t++) {
                int64_t pt = t * NK_MR, mt = min64(NK_MR, g->m - pt);
                tl.a = scratch + (t - t0) * tstride;
                tl.c = c + pt * g->ldc + j * NK_NR;
                tile_dispatch(mt, &tl);
            }
        }
    }
    if (g->res || g->act != NK_ACT_NONE) {
        int64_t pend = min64(g->m, t1 * NK_MR);
        int64_t col0 = j0 * NK_NR, ncol = min64(g->n, j1 * NK_NR) - col0;
        const float *res = g->res ? g->res + bi * g->res_bstride : NULL;
        for (int64_t p = p0; p < pend; p++)
            nk_finish(c + p * g->ldc + col0, res ? res + p * g->ldr + col0 : NULL, ncol, g->act);
    }
}

void nk_gemm_run(const NkGemm *g, int64_t begin, int64_t end, float *scratch)
{
    NkBlocking bl = blocking(g);
    int64_t per_item = bl.blocks * bl.panels;
    for (int64_t it = begin; it < end;) {
        int64_t bi = it / per_item, r = it % per_item;
        int64_t pb = r / bl.panels, j = r % bl.panels;
        int64_t j1 = min64(bl.panels, j + (end - it));
        run_block(g, &bl, bi, pb, j, j1, scratch);
        it += j1 - j;
    }
}

typedef struct NkGemmTask {
    const NkGemm *g;
    float *scratch;
} NkGemmTask;

static void gemm_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const NkGemmTask *t = ctx;
    nk_gemm_run(t->g, begin, end, t->scratch + thread * nk_gemm_thread_scratch());
}

void nk_gemm_parallel(const NkGemm *g, float *scratch)
{
    if (g->m <= 0 || g->n <= 0 || g->batch <= 0)
        return;
    NkGemmTask t = {g, scratch};
    nk_parallel_for(nk_gemm_items(g), 1, gemm_task, &t);
}

/* ------------------------------------------------------------ nk_linear */

/* Packed: the weight panels, then the bias padded to whole panels. */
int64_t nk_linear_packed_floats(const NkLinear *d)
{
    return nk_gemm_panels(d->n) * NK_NR * (d->k + 1);
}

void nk_linear_pack(const NkLinear *d, const float *weight, const float *bias, float *packed)
{
    int64_t np = nk_gemm_panels(d->n);
    nk_gemm_pack_b(weight, d->k, d->n, 1, d->k, packed);
    float *pb = packed + np * NK_NR * d->k;
    for (int64_t j = 0; j < np * NK_NR; j++)
        pb[j] = bias && j < d->n ? bias[j] : 0.0f;
}

int64_t nk_linear_scratch(const NkLinear *d, int threads)
{
    (void)d;
    return (int64_t)(threads < 1 ? 1 : threads) * nk_gemm_thread_scratch();
}

void nk_linear(const NkLinear *d, const float *in, const float *packed, const float *residual,
               float *out, float *scratch)
{
    int64_t np = nk_gemm_panels(d->n);
    NkRows rows = {in, d->k, 0};
    NkGemm g = {
        .batch = 1, .m = d->m, .n = d->n, .k = d->k,
        .pack_a = nk_gemm_pack_rows, .a_src = &rows,
        .b = packed, .bias = packed + np * NK_NR * d->k,
        .c = out, .ldc = d->n,
        .res = residual, .ldr = d->n,
        .act = d->act,
    };
    nk_gemm_parallel(&g, scratch);
}

/* ------------------------------------------------------------ nk_matmul */

/* B is packed into scratch, one copy per distinct batch item (a batch
 * stride of 0 packs once), in parallel over (item, panel); then one GEMM
 * over the whole batch. */
static int64_t matmul_b_items(const NkMatmul *d) { return d->b_bstride ? d->batch : 1; }

int64_t nk_matmul_scratch(const NkMatmul *d, int threads)
{
    return matmul_b_items(d) * nk_gemm_panels(d->n) * NK_NR * d->k +
           (int64_t)(threads < 1 ? 1 : threads) * nk_gemm_thread_scratch();
}

typedef struct NkPackBTask {
    const NkMatmul *d;
    const float *b;
    float *dst;
} NkPackBTask;

static void pack_b_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const NkPackBTask *t = ctx;
    const NkMatmul *d = t->d;
    int64_t np = nk_gemm_panels(d->n);
    int64_t sk = d->trans_b ? 1 : d->ldb, sn = d->trans_b ? d->ldb : 1;
    for (int64_t it = begin; it < end; it++) {
        int64_t bi = it / np, j = it % np;
        nk_gemm_pack_b(t->b + bi * d->b_bstride + j * NK_NR * sn, d->k,
                       min64(NK_NR, d->n - j * NK_NR), sk, sn,
                       t->dst + (bi * np + j) * NK_NR * d->k);
    }
}

void nk_matmul(const NkMatmul *d, const float *a, const float *b, float *out, float *scratch)
{
    if (d->batch <= 0 || d->m <= 0 || d->n <= 0)
        return;
    int64_t np = nk_gemm_panels(d->n);
    float *bp = scratch;
    NkPackBTask pt = {d, b, bp};
    nk_parallel_for(matmul_b_items(d) * np, 1, pack_b_task, &pt);
    NkRows rows = {a, d->lda, d->a_bstride};
    NkGemm g = {
        .batch = d->batch, .m = d->m, .n = d->n, .k = d->k,
        .pack_a = nk_gemm_pack_rows, .a_src = &rows,
        .b = bp, .b_bstride = d->b_bstride ? np * NK_NR * d->k : 0,
        .c = out, .ldc = d->n, .c_bstride = d->m * d->n,
        .act = NK_ACT_NONE,
    };
    nk_gemm_parallel(&g, bp + matmul_b_items(d) * np * NK_NR * d->k);
}
