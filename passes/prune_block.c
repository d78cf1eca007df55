/*
 * prune_block.c — crossbar-block pruning (research/passes.md §2.5): whole
 * R×C tiles of a layer's weight matrix go, so a PIM mapping can leave
 * their crossbars out.
 *
 * The matrix is the one an im2col crossbar mapping programs: rows =
 * in·kh·kw (word lines, in the weight's own order c·kh·kw + i·kw + j),
 * columns = out (bit lines), cut into tiles of block[0] rows × block[1]
 * columns from the top left (--xbar RxC, default 128x128; the last tiles
 * of a row or column may be smaller). The columns are logical weights:
 * with b-bit weights on c-bit cells a crossbar of C cells holds C/⌈b/c⌉ of
 * them, so a C-column tile is ⌈b/c⌉ crossbars side by side and zeroing it
 * empties each of them.
 *
 * A tile's score is the L1 norm (norm 2: the L2 norm) of the weights it
 * still keeps; of the T tiles that keep any weight, floor(r·T) with the
 * lowest scores go (among equal scores the later tile in row-major grid
 * order goes first). The report counts tiles that hold a nonzero weight
 * before and after.
 */
#include "prune_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tiles holding at least one nonzero weight of x. */
static int64_t nonempty_tiles(const float *x, int64_t out, int64_t k, const int block[2], int64_t tcols,
                              int64_t ntiles)
{
    uint8_t *any = calloc((size_t)ntiles, 1);
    for (int64_t o = 0; o < out; o++)
        for (int64_t j = 0; j < k; j++)
            if (x[o * k + j] != 0.0f)
                any[(j / block[0]) * tcols + o / block[1]] = 1;
    int64_t count = 0;
    for (int64_t t = 0; t < ntiles; t++)
        count += any[t];
    free(any);
    return count;
}

static void prune_one(PruneJob *job, PruneLayer *l)
{
    IrValue *w = l->weight;
    const int *block = l->spec.block;
    int64_t numel = shape_numel(&w->shape), out, k, trows, tcols;
    ir_weight_view(&w->shape, &out, &k);
    ir_block_grid(&w->shape, block, &trows, &tcols);
    int64_t ntiles = trows * tcols;
    const float *x = pass_f32_data(w);
    int64_t nz_before = prune_count_nonzero(w);
    int64_t xbars_before = nonempty_tiles(x, out, k, block, tcols, ntiles);

    uint8_t *keep = malloc((size_t)numel);
    prune_current_keep(w, keep);
    double *sum = calloc((size_t)ntiles, sizeof *sum);
    uint8_t *live = calloc((size_t)ntiles, 1);
    for (int64_t o = 0; o < out; o++)
        for (int64_t j = 0; j < k; j++) {
            int64_t i = o * k + j, t = (j / block[0]) * tcols + o / block[1];
            if (!keep[i])
                continue;
            live[t] = 1;
            sum[t] += l->spec.norm == 2 ? (double)x[i] * x[i] : fabs((double)x[i]);
        }
    float *score = malloc((size_t)ntiles * sizeof *score);
    int64_t nlive = 0;
    for (int64_t t = 0; t < ntiles; t++) {
        score[t] = (float)(l->spec.norm == 2 ? sqrt(sum[t]) : sum[t]);
        nlive += live[t];
    }
    uint8_t *removed = malloc((size_t)ntiles);
    prune_rank_lowest(score, live, ntiles, prune_count(l->spec.ratio, nlive), removed);
    for (int64_t t = 0; t < ntiles; t++)
        live[t] = live[t] && !removed[t]; /* now: the tile mask */
    for (int64_t o = 0; o < out; o++)
        for (int64_t j = 0; j < k; j++)
            keep[o * k + j] = keep[o * k + j] && live[(j / block[0]) * tcols + o / block[1]];
    prune_apply_mask(job->g, w, &l->spec, keep, live);

    PruneEntry *e = prune_report_masked(job, l, nz_before);
    e->xbars_before = xbars_before;
    e->xbars_after = nonempty_tiles(pass_f32_data(w), out, k, block, tcols, ntiles);
    free(keep), free(sum), free(live), free(score), free(removed);
}

bool prune_blocks(PruneJob *job)
{
    for (int i = 0; i < job->nlayers; i++)
        if (job->layers[i].spec.kind == SP_BLOCK)
            prune_one(job, &job->layers[i]);
    return true;
}
