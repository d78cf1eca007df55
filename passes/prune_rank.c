/*
 * prune_rank.c — choosing the k lowest scores, the step every pruning
 * granularity shares, with one deterministic tie-break.
 *
 * Each eligible entry becomes a 64-bit key: the score's IEEE bits (for a
 * score >= 0 they order as the floats do) above the complement of its
 * index, so keys are distinct and, among equal scores, a higher index
 * sorts first. A quickselect finds the k-th key in linear expected time
 * (a global ranking of VGG-16 covers 138 M weights; sorting them would be
 * the slowest part of the pass).
 */
#include "prune_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t key_of(float score, int64_t i)
{
    uint32_t bits;
    memcpy(&bits, &score, sizeof bits);
    return (uint64_t)bits << 32 | (uint32_t)(UINT32_MAX - (uint32_t)i);
}

static void swap(uint64_t *a, uint64_t *b)
{
    uint64_t t = *a;
    *a = *b;
    *b = t;
}

/* The value that would be at position k of keys[0..n) sorted ascending
 * (keys are distinct); keys is reordered. */
static uint64_t select_kth(uint64_t *keys, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        /* median of three as the pivot, moved to hi */
        if (keys[mid] < keys[lo])
            swap(&keys[mid], &keys[lo]);
        if (keys[hi] < keys[lo])
            swap(&keys[hi], &keys[lo]);
        if (keys[mid] < keys[hi])
            swap(&keys[mid], &keys[hi]);
        uint64_t pivot = keys[hi];
        int64_t store = lo;
        for (int64_t i = lo; i < hi; i++)
            if (keys[i] < pivot)
                swap(&keys[i], &keys[store++]);
        swap(&keys[store], &keys[hi]);
        if (store == k)
            return keys[k];
        if (store < k)
            lo = store + 1;
        else
            hi = store - 1;
    }
    return keys[k];
}

void prune_rank_lowest(const float *score, const uint8_t *eligible, int64_t n, int64_t k, uint8_t *removed)
{
    memset(removed, 0, (size_t)n);
    if (k <= 0)
        return;
    uint64_t *keys = malloc((size_t)n * sizeof *keys);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!eligible || eligible[i])
            keys[m++] = key_of(score[i], i);
    if (k >= m) {
        for (int64_t i = 0; i < n; i++)
            removed[i] = !eligible || eligible[i];
    } else {
        uint64_t kth = select_kth(keys, m, k); /* the first key kept */
        for (int64_t i = 0; i < n; i++)
            removed[i] = (!eligible || eligible[i]) && key_of(score[i], i) < kth;
    }
    free(keys);
}

int64_t prune_count(double ratio, int64_t n)
{
    double x = ratio * (double)n;
    double k = floor(x);
    /* 0.29 · 100 is 28.999999999999996 in binary: the decimal product
     * is what the user wrote. */
    if (x - k > 1.0 - 1e-9)
        k += 1;
    return k > (double)n ? n : (int64_t)k;
}

int64_t prune_weight_macs(const IrNode *n, const IrValue *w)
{
    int64_t uses = 0;
    const Shape *o = &n->out->shape;
    switch (n->op) {
    case OP_CONV2D: uses = o->rank == 4 && o->d[1] ? shape_numel(o) / o->d[1] : 0; break;
    case OP_LINEAR: uses = o->rank && o->d[o->rank - 1] ? shape_numel(o) / o->d[o->rank - 1] : 0; break;
    case OP_MHA: {
        const Shape *q = &n->in[0]->shape;
        uses = q->rank && q->d[q->rank - 1] ? shape_numel(q) / q->d[q->rank - 1] : 0;
        break;
    }
    default: break;
    }
    return uses * shape_numel(&w->shape);
}
