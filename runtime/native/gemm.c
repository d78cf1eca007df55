/*
 * gemm.c — the packed GEMM core (see gemm.h) and the dense kernels on top
 * of it: nk_linear (weights packed once by netc) and nk_matmul (both
 * operands are activations; B is packed into scratch on every call).
 *
 * Blocking, from the outside in (one thread's share of the work):
 *   item       = (batch item, pixel block, panel); threads get contiguous
 *                item ranges, so a thread usually owns whole pixel blocks
 *                and packs each A block once (see nk_gemm_run);
 *   K block    = NK_KC deep; partial sums go through C between blocks, so
 *                every output is still one fixed chain of FMAs over k, in
 *                the same order whatever the blocking of the other loops
 *                and the thread count;
 *   A block    = up to NK_MB_TILES micro-tiles of NK_MR rows, packed into
 *                scratch (L2);
 *   panel      = NK_NR columns; its K block (NK_KC × NK_NR floats) stays in
 *                L1 while all pixel tiles of the block stream past it;
 *   micro-tile = NK_MR × NK_NR accumulators in registers, NK_NR/NK_VL = 2
 *                vectors per row in every build (nk_isa.h: 14 × 2 zmm with
 *                AVX-512, 28 accumulators + 2 B vectors + 1 broadcast of
 *                A, 31 of the 32 registers; 6 × 2 ymm with AVX2, 15 of
 *                16); per k step NK_NV vector loads and NK_MR broadcasts
 *                feed NK_MR·NK_NV FMAs.
 * The micro-kernel is instantiated for every row count 1..NK_MR (the last
 * tile of a layer with 49 pixels has 7), so a partial tile costs what its
 * rows cost. A packed A tile stores each row's 16-column chunk contiguously
 * ([k/16][rows][16]): the broadcasts of one k step sit at constant offsets
 * from one pointer, and packing is whole-vector copies.
 *
 * Prefetching: while a micro-tile runs it prefetches the B block used
 * next (the next panel's, or the next K block's), two lines per k step, so
 * weights streaming from DRAM (a whole network's do not fit in L3) arrive
 * before they are needed; on a cold 7×7×512 3×3 layer this took one
 * thread from ~68% to ~92% of peak. It also prefetches its C tile (for
 * writing) and residual tile before its K loop: with K = 64 the tile's
 * compute is too short to hide their misses at the store.
 *
 * The epilogue is fused: the bias initializes the accumulators, and the
 * last K block adds the residual and clamps (relu = [0, inf], relu6 =
 * [0, 6], none = [-inf, inf]: one code path, two cheap ops) before the
 * store. GELU, too long to copy into every specialized tile, is a second
 * pass over the block's outputs while they are still in cache.
 */
#include "gemm.h"

#include "nk_vec.h"


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
    case NK_ACT_SILU: finish_loop(c, res, n, NK_ACT_SILU); break;
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
    const float *pf;   /* B block to prefetch while computing (next panel) */
    int64_t kc;
    float *c;          /* C at (first row, first column of the panel) */
    int64_t ldc, nv;   /* nv: valid columns in the panel (<= NK_NR) */
    const float *bias; /* panel bias when first, or NULL */
    const float *res;  /* residual at the tile when last, or NULL */
    int64_t ldr;
    int first;         /* first K block: start from bias, else from C */
    int last;          /* last K block: add res, clamp to [lo, hi] */
    float lo, hi;      /* relu: [0, inf], relu6: [0, 6], else [-inf, inf] */
} NkTile;

/* acc[M][NV] += A tile · B panel block (NV vectors per row: NK_NV, or 1 for a
 * half-width last panel); M and NV are constants after inlining. */
NK_INLINE void micro_kernel(const int M, const int NV, const float *restrict a, const float *restrict b,
                            const float *pf, int64_t kc, NkVec acc[NK_MR][NK_NV])
{
    const int W = NV * NK_VL; /* the panel's row stride */
    for (int64_t kb = 0; kb < kc; kb += 16) {
        int64_t kn = min64(16, kc - kb);
        const float *ap = a + kb * M;
        const float *bp = b + kb * W;
        const float *pp = pf + kb * W;
        for (int64_t kk = 0; kk < kn; kk++) {
            for (int l = 0; l < W; l += 16) /* one line per 16 floats */
                __builtin_prefetch(pp + kk * W + l, 0, 3);
            NkVec bv[NK_NV];
            NK_UNROLL
            for (int v = 0; v < NV; v++)
                bv[v] = nk_load(bp + kk * W + v * NK_VL);
            NK_UNROLL
            for (int i = 0; i < M; i++) {
                NkVec s = nk_splat(ap[i * 16 + kk]);
                NK_UNROLL
                for (int v = 0; v < NV; v++)
                    acc[i][v] += s * bv[v];
            }
        }
    }
}

/* The initial accumulators and the epilogue of a panel with nv < NK_NR,
 * through a buffer: generic code, one copy for all row counts. */
static void tile_in_partial(const NkTile *t, int64_t m, float buf[NK_MR][NK_NR])
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < NK_NR; j++)
            buf[i][j] = t->first ? (t->bias ? t->bias[j] : 0.0f)
                                 : (j < t->nv ? t->c[i * t->ldc + j] : 0.0f);
}

static void tile_out_partial(const NkTile *t, int64_t m, float buf[NK_MR][NK_NR])
{
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; t->last && j < t->nv; j++) {
            float x = buf[i][j] + (t->res ? t->res[i * t->ldr + j] : 0.0f);
            x = x < t->lo ? t->lo : x; /* NaN stays NaN, as in nk_max/nk_min */
            buf[i][j] = x > t->hi ? t->hi : x;
        }
        memcpy(t->c + i * t->ldc, buf[i], (size_t)t->nv * sizeof(float));
    }
}

/*
 * One micro-tile: accumulators from the bias (first K block) or from the
 * partial sums in C, the K block, then on the last block residual and clamp
 * fused into the store (GELU follows as a separate pass, see run_block).
 */
NK_INLINE void tile(const int M, const int NV, const NkTile *t)
{
    NkVec acc[NK_MR][NK_NV];
    float buf[NK_MR][NK_NR];
    float *c = t->c; /* locals: the stores could alias *t */
    int64_t ldc = t->ldc;
    int full = t->nv == NV * NK_VL;
    if (!full) {
        tile_in_partial(t, M, buf);
        NK_UNROLL
        for (int i = 0; i < M; i++)
            NK_UNROLL
            for (int v = 0; v < NV; v++)
                acc[i][v] = nk_load(buf[i] + v * NK_VL);
    } else if (t->first) {
        NK_UNROLL
        for (int v = 0; v < NV; v++) {
            NkVec b0 = t->bias ? nk_load(t->bias + v * NK_VL) : nk_splat(0.0f);
            NK_UNROLL
            for (int i = 0; i < M; i++)
                acc[i][v] = b0;
        }
    } else {
        NK_UNROLL
        for (int i = 0; i < M; i++)
            NK_UNROLL
            for (int v = 0; v < NV; v++)
                acc[i][v] = nk_load(c + i * ldc + v * NK_VL);
    }
    /* The tile's C and residual lines are fetched while the K loop runs:
     * in a memory-bound layer (K = 64) they would stall the store. */
    if (t->first) {
        NK_UNROLL
        for (int i = 0; i < M; i++)
            for (int v = 0; v < NV; v++)
                __builtin_prefetch(c + i * ldc + v * NK_VL, 1, 3);
    }
    if (t->res) {
        NK_UNROLL
        for (int i = 0; i < M; i++)
            for (int v = 0; v < NV; v++)
                __builtin_prefetch(t->res + i * t->ldr + v * NK_VL, 0, 3);
    }
    micro_kernel(M, NV, t->a, t->b, t->pf, t->kc, acc);
    if (!full) {
        NK_UNROLL
        for (int i = 0; i < M; i++)
            NK_UNROLL
            for (int v = 0; v < NV; v++)
                nk_store(buf[i] + v * NK_VL, acc[i][v]);
        tile_out_partial(t, M, buf);
        return;
    }
    if (t->last) {
        const float *res = t->res;
        int64_t ldr = t->ldr;
        NkVec lo = nk_splat(t->lo), hi = nk_splat(t->hi);
        NK_UNROLL
        for (int i = 0; i < M; i++)
            NK_UNROLL
            for (int v = 0; v < NV; v++) {
                NkVec x = acc[i][v];
                if (res)
                    x += nk_load(res + i * ldr + v * NK_VL);
                acc[i][v] = nk_min(nk_max(x, lo), hi);
            }
    }
    NK_UNROLL
    for (int i = 0; i < M; i++)
        NK_UNROLL
        for (int v = 0; v < NV; v++)
            nk_store(c + i * ldc + v * NK_VL, acc[i][v]);
}

/* One specialized copy of tile() per row count and panel width (NV
 * vectors per row). */
_Static_assert(NK_MR >= 6 && NK_MR <= 14 && NK_NR % NK_VL == 0 && NK_NV == 2, "tile_dispatch's cases");
#define NK_TILE_CASES(NV)                                                                      \
    NK_TILE_CASE(1, NV) NK_TILE_CASE(2, NV) NK_TILE_CASE(3, NV) NK_TILE_CASE(4, NV)              \
    NK_TILE_CASE(5, NV) NK_TILE_CASE(6, NV) NK_TILE_MORE_8(NV) NK_TILE_MORE_10(NV)               \
    NK_TILE_MORE_12(NV) NK_TILE_MORE_14(NV)
#define NK_TILE_CASE(M, NV) case M: tile(M, NV, t); break;
#if NK_MR > 6
#define NK_TILE_MORE_8(NV) NK_TILE_CASE(7, NV) NK_TILE_CASE(8, NV)
#else
#define NK_TILE_MORE_8(NV)
#endif
#if NK_MR > 8
#define NK_TILE_MORE_10(NV) NK_TILE_CASE(9, NV) NK_TILE_CASE(10, NV)
#else
#define NK_TILE_MORE_10(NV)
#endif
#if NK_MR > 10
#define NK_TILE_MORE_12(NV) NK_TILE_CASE(11, NV) NK_TILE_CASE(12, NV)
#else
#define NK_TILE_MORE_12(NV)
#endif
#if NK_MR > 12
#define NK_TILE_MORE_14(NV) NK_TILE_CASE(13, NV) NK_TILE_CASE(14, NV)
#else
#define NK_TILE_MORE_14(NV)
#endif

static void tile_dispatch(int64_t m, const NkTile *t)
{
    switch (m) {
        NK_TILE_CASES(NK_NV)
    default: break;
    }
}

static void tile_dispatch_half(int64_t m, const NkTile *t)
{
    switch (m) {
        NK_TILE_CASES(1)
    default: break;
    }
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
            nk_copy16(dst + kb * m + i * 16, row + kb);
        if (kb < kc)
            memcpy(dst + kb * m + i * 16, row + kb, (size_t)(kc - kb) * sizeof(float));
    }
}

void nk_gemm_pack_b(const float *b, int64_t k, int64_t n, int64_t sk, int64_t sn, int64_t nr,
                    float *dst)
{
    for (int64_t j0 = 0; j0 < n; j0 += nr) {
        int64_t nv = min64(nr, n - j0), w = nk_gemm_panel_width(n, j0 / nr, nr);
        for (int64_t kk = 0; kk < k; kk++) {
            float *d = dst + kk * w;
            for (int64_t j = 0; j < nv; j++)
                d[j] = b[kk * sk + (j0 + j) * sn];
            for (int64_t j = nv; j < w; j++)
                d[j] = 0.0f;
        }
        dst += k * nr;
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
    bl.panels = nk_gemm_panels(g->n, NK_NR);
    bl.kblocks = g->k > 0 ? (g->k + NK_KC - 1) / NK_KC : 1;
    bl.kc = bl.kblocks > 1 ? round16((g->k + bl.kblocks - 1) / bl.kblocks) : g->k;
    return bl;
}

int64_t nk_gemm_thread_scratch(const NkTiling *t) { return t->mb_tiles * t->mr * t->kc; }

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
    const float *b = g->b + bi * g->b_bstride;
    const float *bias = g->bias ? g->bias + bi * g->bias_bstride : NULL;
    const float *res = g->res ? g->res + bi * g->res_bstride : NULL;
    float *c = g->c + bi * g->c_bstride;
    float lo, hi;
    nk_act_clamp(g->act, &lo, &hi);
    for (int64_t k0 = 0, kbi = 0; kbi < bl->kblocks; kbi++, k0 += bl->kc) {
        int64_t kc = min64(bl->kc, g->k - k0);
        int64_t tstride = NK_MR * round16(kc);
        for (int64_t t = t0; t < t1; t++) {
            int64_t pt = t * NK_MR;
            g->pack_a(g->a_src, bi, pt, min64(NK_MR, g->m - pt), k0, kc,
                      scratch + (t - t0) * tstride);
        }
        for (int64_t j = j0; j < j1; j++) {
            /* The B block used next: the next panel's, or the first panel's
             * in the next K block. */
            int64_t w = nk_gemm_panel_width(g->n, j, NK_NR);
            const float *next = j + 1 < j1 ? b + (j + 1) * g->k * NK_NR + k0 * nk_gemm_panel_width(g->n, j + 1, NK_NR)
                                : kbi + 1 < bl->kblocks ? b + j0 * g->k * NK_NR + (k0 + bl->kc) * nk_gemm_panel_width(g->n, j0, NK_NR)
                                                        : b + j * g->k * NK_NR + k0 * w;
            NkTile tl = {
                .b = b + j * g->k * NK_NR + k0 * w,
                .pf = next,
                .kc = kc,
                .ldc = g->ldc,
                .nv = min64(NK_NR, g->n - j * NK_NR),
                .bias = bias ? bias + j * NK_NR : NULL,
                .ldr = g->ldr,
                .first = kbi == 0,
                .last = kbi == bl->kblocks - 1,
                .lo = lo,
                .hi = hi,
            };
            for (int64_t t = t0; t < t1; t++) {
                int64_t pt = t * NK_MR, mt = min64(NK_MR, g->m - pt);
                tl.a = scratch + (t - t0) * tstride;
                tl.c = c + pt * g->ldc + j * NK_NR;
                tl.res = res && tl.last ? res + pt * g->ldr + j * NK_NR : NULL;

                if (w == NK_NR)
                    tile_dispatch(mt, &tl);
                else
                    tile_dispatch_half(mt, &tl);
            }
        }
    }
    if (nk_act_is_math(g->act)) { /* the residual is in already */
        int64_t col0 = j0 * NK_NR, ncol = min64(g->n, j1 * NK_NR) - col0;
        for (int64_t p = t0 * NK_MR; p < min64(g->m, t1 * NK_MR); p++)
            nk_finish(c + p * g->ldc + col0, NULL, ncol, g->act);
    }
}

/*
 * Items [begin, end). Within a batch item, items are ordered block-major
 * (panel fastest) when there are many pixel blocks: a thread's range is
 * then mostly whole blocks, each packed once. With few blocks (fewer than
 * NK_PANEL_MAJOR) that would hand the threads blocks of unequal size (197
 * ViT tokens are blocks of 8 and 7 tiles, the last of one row), so items
 * are ordered panel-major (block fastest): a thread's range is a panel
 * range over every block, equal work at the price of each thread packing
 * every block. The order changes which thread computes an output, never
 * how.
 */
#define NK_PANEL_MAJOR 4

void nk_gemm_run(const NkGemm *g, int64_t begin, int64_t end, float *scratch)
{
    NkBlocking bl = blocking(g);
    int64_t per_item = bl.blocks * bl.panels;
    if (bl.blocks < NK_PANEL_MAJOR) {
        for (int64_t bi = begin / per_item; bi * per_item < end; bi++) {
            int64_t r0 = begin - bi * per_item, r1 = end - bi * per_item; /* item = j·blocks + pb */
            r0 = r0 < 0 ? 0 : r0;
            r1 = min64(r1, per_item);
            for (int64_t pb = 0; pb < bl.blocks; pb++) {
                int64_t j0 = r0 > pb ? (r0 - pb + bl.blocks - 1) / bl.blocks : 0;
                int64_t j1 = r1 > pb ? (r1 - pb + bl.blocks - 1) / bl.blocks : 0;
                if (j0 < j1)
                    run_block(g, &bl, bi, pb, j0, j1, scratch);
            }
        }
        return;
    }
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
    nk_gemm_run(t->g, begin, end, t->scratch + thread * nk_gemm_thread_scratch(&NK_BUILD_TILING));
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
int64_t nk_linear_packed_floats(const NkLinear *d, const NkTiling *t)
{
    return nk_gemm_panels(d->n, t->nr) * t->nr * (d->k + 1);
}

void nk_linear_pack(const NkLinear *d, const NkTiling *t, const float *weight, const float *bias,
                    float *packed)
{
    int64_t cols = nk_gemm_panels(d->n, t->nr) * t->nr;
    nk_gemm_pack_b(weight, d->k, d->n, 1, d->k, t->nr, packed);
    float *pb = packed + cols * d->k;
    for (int64_t j = 0; j < cols; j++)
        pb[j] = bias && j < d->n ? bias[j] : 0.0f;
}

int64_t nk_linear_scratch(const NkLinear *d, const NkTiling *t, int threads)
{
    (void)d;
    return (int64_t)(threads < 1 ? 1 : threads) * nk_gemm_thread_scratch(t);
}

void nk_linear(const NkLinear *d, const float *in, const float *packed, const float *residual,
               float *out, float *scratch)
{
    if (d->m == 1 && d->n > 0) { /* a matrix-vector product: bandwidth-bound (gemv.c) */
        nk_gemv_linear(d, in, packed, residual, out);
        return;
    }
    int64_t np = nk_gemm_panels(d->n, NK_NR);
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

int64_t nk_matmul_scratch(const NkMatmul *d, const NkTiling *t, int threads)
{
    return matmul_b_items(d) * nk_gemm_panels(d->n, t->nr) * t->nr * d->k +
           (int64_t)(threads < 1 ? 1 : threads) * nk_gemm_thread_scratch(t);
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
    int64_t np = nk_gemm_panels(d->n, NK_NR);
    int64_t sk = d->trans_b ? 1 : d->ldb, sn = d->trans_b ? d->ldb : 1;
    for (int64_t it = begin; it < end; it++) {
        int64_t bi = it / np, j = it % np;
        nk_gemm_pack_b(t->b + bi * d->b_bstride + j * NK_NR * sn, d->k,
                       min64(NK_NR, d->n - j * NK_NR), sk, sn, NK_NR,
                       t->dst + (bi * np + j) * NK_NR * d->k);
    }
}

void nk_matmul(const NkMatmul *d, const float *a, const float *b, float *out, float *scratch)
{
    if (d->batch <= 0 || d->m <= 0 || d->n <= 0)
        return;
    int64_t np = nk_gemm_panels(d->n, NK_NR);
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
