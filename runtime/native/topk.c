/*
 * topk.c — nk_topk: torch.topk along the middle axis of [outer, len, inner].
 *
 * Same order as the reference kernel (runtime/ref_topk.c), so results are
 * bit-identical: larger (or smaller) first, NaN counted as the largest,
 * equal values by lower index. Each row keeps its k best indices sorted in
 * scratch by insertion; topk in networks has small k (top-5 of 1000 logits),
 * where this beats a heap or a partial sort. Rows are spread over threads
 * and each row is done by one thread, so the thread count does not change
 * results.
 */
#include "nk.h"

static int ranks_before(float a, int64_t ia, float b, int64_t ib, int64_t largest)
{
    int na = a != a, nb = b != b;
    if (na != nb)
        return largest ? na : nb;
    if (!na && a != b)
        return largest ? a > b : a < b;
    return ia < ib;
}

int64_t nk_topk_scratch(const NkTopk *d, int threads) { return d->k * (threads > 0 ? threads : 1); }

typedef struct TopkJob {
    const NkTopk *d;
    const float *in;
    float *values, *indices;
    int32_t *scratch;
} TopkJob;

static void topk_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const TopkJob *j = ctx;
    const NkTopk *d = j->d;
    int64_t k = d->k, len = d->len, inner = d->inner;
    int32_t *best = j->scratch + thread * k;
    for (int64_t row = begin; row < end; row++) {
        int64_t o = row / inner, in_i = row % inner;
        const float *x = j->in + o * len * inner + in_i;
        int64_t have = 0;
        for (int64_t i = 0; i < len; i++) {
            float v = x[i * inner];
            int64_t at = have;
            while (at > 0 && ranks_before(v, i, x[best[at - 1] * inner], best[at - 1], d->largest))
                at--;
            if (at >= k)
                continue;
            for (int64_t m = have < k ? have : k - 1; m > at; m--)
                best[m] = best[m - 1];
            best[at] = (int32_t)i;
            have += have < k;
        }
        for (int64_t m = 0; m < k; m++) {
            int64_t out = (o * k + m) * inner + in_i;
            j->values[out] = x[best[m] * inner];
            j->indices[out] = (float)best[m];
        }
    }
}

void nk_topk(const NkTopk *d, const float *in, float *values, float *indices, float *scratch)
{
    if (d->k == 0)
        return;
    TopkJob j = {d, in, values, indices, (int32_t *)scratch};
    int64_t work = d->len * d->k;
    nk_parallel_for(d->outer * d->inner, work >= 4096 ? 1 : 4096 / (work ? work : 1), topk_task, &j);
}
