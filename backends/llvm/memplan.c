/*
 * memplan.c — places activation buffers in one arena so buffers whose live
 * ranges do not overlap share memory.
 *
 * A buffer is live from the first step that touches it to the last (a step
 * that reads one buffer and writes another keeps both live, so no kernel
 * ever reads and writes the same bytes). Placement is greedy by size,
 * largest first, each at the lowest 64-byte aligned offset that collides
 * with no already placed buffer live at the same time — the heuristic TVM
 * and Glow use; on ResNet-50 it keeps the arena near the largest live set.
 * The kernels' shared scratch region goes after the buffers.
 */
#include "plan.h"

#include <stdlib.h>

static const Plan *sort_plan;

static int by_size_desc(const void *a, const void *b)
{
    const PlanBuf *x = &sort_plan->bufs[*(const int *)a], *y = &sort_plan->bufs[*(const int *)b];
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    return *(const int *)a - *(const int *)b;
}

static bool overlaps(const PlanBuf *a, const PlanBuf *b)
{
    return a->first <= b->last && b->first <= a->last;
}

void plan_place_activations(Plan *p)
{
    int *order = xmalloc(((size_t)p->nbufs + 1) * sizeof *order), n = 0;
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i].kind == PB_ACT && p->bufs[i].first >= 0)
            order[n++] = i;
    sort_plan = p;
    qsort(order, (size_t)n, sizeof *order, by_size_desc);
    int64_t top = 0;
    for (int k = 0; k < n; k++) {
        PlanBuf *b = &p->bufs[order[k]];
        /* Try offset 0, then just past each conflicting placed buffer,
         * keeping the lowest that fits. */
        int64_t best = -1;
        for (int c = -1; c < k; c++) {
            int64_t at = c < 0 ? 0 : p->bufs[order[c]].offset + p->bufs[order[c]].bytes;
            at = (at + 63) & ~(int64_t)63;
            if (best >= 0 && at >= best)
                continue;
            bool fits = true;
            for (int j = 0; j < k && fits; j++) {
                const PlanBuf *o = &p->bufs[order[j]];
                fits = !overlaps(b, o) || at + b->bytes <= o->offset || o->offset + o->bytes <= at;
            }
            if (fits)
                best = at;
        }
        b->offset = best;
        if (best + b->bytes > top)
            top = best + b->bytes;
    }
    free(order);
    top = (top + 63) & ~(int64_t)63;
    p->bufs[p->scratch_buf].offset = top;
    p->act_bytes = top + ((p->scratch_bytes + 63) & ~(int64_t)63);
}
