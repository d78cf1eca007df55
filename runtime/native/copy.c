/*
 * copy.c — nk_copy, the one strided copy behind transpose, permute,
 * expand, slice, select, layout changes and concat inputs.
 *
 * Design:
 *   - The index space is first put in the output's memory order (dims
 *     sorted by decreasing output stride, so the descriptor may list dims
 *     in any order) and simplified (size-1 dims dropped, dims merged where
 *     input and output are both contiguous across them): a slice of rows or
 *     a concat input becomes a few long rows, and NCHW -> NHWC becomes the
 *     3-D transpose [n, hw, c] <- [n, c, hw].
 *   - Then one of three shapes of work:
 *       rows: the innermost dim is contiguous on both sides: memcpy of runs
 *             (split into chunks, so a single huge run still parallelizes);
 *       tiles: the output's contiguous dim q and the input's contiguous dim
 *             p differ (a transpose): 16 x 16 tiles through a small buffer,
 *             reading whole input runs and writing whole output runs, so
 *             both sides stream through cache lines instead of one side
 *             touching a new line per element (C = 3 or C = 768 alike);
 *             units of work are tiles, so [3, hw] <-> [hw, 3] still spreads
 *             over threads;
 *       strided: anything else (an expand along the innermost dim, steps),
 *             element by element along the innermost dim.
 *   - Parallel over rows / tiles / chunks; every output element is
 *     written by exactly one thread.
 */
#include "nk.h"
#include "nk_vec.h"

/* Floats per task (rows and strided) and per memcpy chunk. */
#define GRAIN_ELEMS 32768
#define TILE NK_VL

typedef struct CopyJob {
    NkIter it;      /* operands: in, out */
    int64_t chunks; /* rows: chunks per row */
    const float *in;
    float *out;
} CopyJob;

/* Units: chunk c of row r (unit r*chunks + c). */
static void rows_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const CopyJob *j = ctx;
    NkIter it = j->it;
    int outer = it.rank - 1;
    int64_t len = it.dims[outer];
    nk_iter_seek(&it, outer, begin / j->chunks);
    for (int64_t u = begin; u < end;) {
        int64_t c = u % j->chunks, stop = c + (end - u) < j->chunks ? c + (end - u) : j->chunks;
        int64_t from = c * GRAIN_ELEMS, to = stop * GRAIN_ELEMS < len ? stop * GRAIN_ELEMS : len;
        memcpy(j->out + it.off[1] + from, j->in + it.off[0] + from,
               (size_t)(to - from) * sizeof(float));
        u += stop - c;
        if (stop == j->chunks)
            nk_iter_next(&it, outer);
    }
}

/* Units: rows of the innermost dim. */
static void strided_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const CopyJob *j = ctx;
    NkIter it = j->it;
    int outer = it.rank - 1;
    int64_t len = it.dims[outer], si = it.strides[0][outer], so = it.strides[1][outer];
    nk_iter_seek(&it, outer, begin);
    for (int64_t r = begin; r < end; r++) {
        const float *src = j->in + it.off[0];
        float *dst = j->out + it.off[1];
        for (int64_t i = 0; i < len; i++)
            dst[i * so] = src[i * si];
        nk_iter_next(&it, outer);
    }
}

/*
 * One tile: np x nq elements, input contiguous along p (stride 1, q stride
 * sq), output contiguous along q (stride 1, p stride op_). Reads np-long
 * input runs into buf, writes nq-long output runs.
 */
static void copy_tile(const float *in, int64_t sq, float *out, int64_t op_, int64_t np,
                      int64_t nq)
{
    float buf[TILE][TILE];
    for (int64_t q = 0; q < nq; q++)
        memcpy(buf[q], in + q * sq, (size_t)np * sizeof(float));
    for (int64_t p = 0; p < np; p++)
        for (int64_t q = 0; q < nq; q++)
            out[p * op_ + q] = buf[q][p];
}

/*
 * The space is reordered so that dims [0, rank-2) are outer, dim rank-2 is
 * p (input-contiguous) and rank-1 is q (output-contiguous). Units are
 * tiles, row-major over (outer index, p block, q block).
 */
static void tiles_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const CopyJob *j = ctx;
    NkIter it = j->it;
    int outer = it.rank - 2;
    int64_t dp = it.dims[outer], dq = it.dims[outer + 1];
    int64_t sq = it.strides[0][outer + 1], op_ = it.strides[1][outer];
    int64_t qblocks = (dq + TILE - 1) / TILE, per_outer = (dp + TILE - 1) / TILE * qblocks;
    int64_t o = begin / per_outer;
    nk_iter_seek(&it, outer, o);
    for (int64_t u = begin; u < end; u++) {
        if (u / per_outer != o) {
            o++;
            nk_iter_next(&it, outer);
        }
        int64_t p0 = u % per_outer / qblocks * TILE, q0 = u % qblocks * TILE;
        copy_tile(j->in + it.off[0] + p0 + q0 * sq, sq, j->out + it.off[1] + p0 * op_ + q0, op_,
                  dp - p0 < TILE ? dp - p0 : TILE, dq - q0 < TILE ? dq - q0 : TILE);
    }
}

static void swap_dims(NkIter *it, int a, int b)
{
    int64_t t = it->dims[a];
    it->dims[a] = it->dims[b], it->dims[b] = t;
    for (int k = 0; k < it->nops; k++) {
        t = it->strides[k][a];
        it->strides[k][a] = it->strides[k][b], it->strides[k][b] = t;
    }
}

/* Orders dims by decreasing output stride (a stable insertion sort), so
 * the walk writes the output in memory order whatever order the descriptor
 * lists dims in. */
static void sort_by_output(NkIter *it)
{
    for (int i = 1; i < it->rank; i++)
        for (int k = i; k > 0 && it->strides[1][k - 1] < it->strides[1][k]; k--)
            swap_dims(it, k - 1, k);
}

void nk_copy(const NkCopy *d, const float *in, float *out)
{
    CopyJob j = {.in = in + d->offset, .out = out};
    j.it.rank = (int)d->rank;
    j.it.nops = 2;
    for (int i = 0; i < d->rank; i++) {
        j.it.dims[i] = d->dims[i];
        j.it.strides[0][i] = d->strides[i];
        j.it.strides[1][i] = d->out_strides[i];
    }
    sort_by_output(&j.it);
    int64_t total = nk_iter_coalesce(&j.it);
    if (total == 0)
        return;
    int r = j.it.rank - 1;
    if (j.it.strides[0][r] == 1 && j.it.strides[1][r] == 1) {
        j.chunks = (j.it.dims[r] + GRAIN_ELEMS - 1) / GRAIN_ELEMS;
        int64_t rows = total / j.it.dims[r];
        int64_t grain = j.chunks > 1 ? 1 : GRAIN_ELEMS / j.it.dims[r];
        nk_parallel_for(rows * j.chunks, grain, rows_task, &j);
        return;
    }
    /* a transpose: an outer dim contiguous in the input, the innermost
     * contiguous in the output */
    int p = -1;
    for (int i = 0; i < r; i++)
        if (j.it.strides[0][i] == 1 && j.it.strides[1][i] != 0)
            p = i;
    if (j.it.strides[1][r] == 1 && j.it.strides[0][r] != 0 && p >= 0) {
        for (; p < r - 1; p++) /* p next to q, the outer dims keeping their order */
            swap_dims(&j.it, p, p + 1);
        int64_t dp = j.it.dims[r - 1], dq = j.it.dims[r];
        int64_t tiles = total / dp / dq * ((dp + TILE - 1) / TILE) * ((dq + TILE - 1) / TILE);
        nk_parallel_for(tiles, GRAIN_ELEMS / (TILE * TILE), tiles_task, &j);
        return;
    }
    int64_t rows = total / j.it.dims[r];
    nk_parallel_for(rows, j.it.dims[r] >= GRAIN_ELEMS ? 1 : GRAIN_ELEMS / j.it.dims[r],
                    strided_task, &j);
}
