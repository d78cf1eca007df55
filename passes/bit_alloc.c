/*
 * bit_alloc.c — the exact multiple-choice knapsack behind mixed-precision
 * bit allocation (bit_alloc.h).
 *
 * The DP runs over the groups from the last to the first. Stage s holds the
 * Pareto frontier of the partial assignments of the groups already seen:
 * points sorted by cost, each with strictly less error than every cheaper
 * one. A point off the frontier can be dropped for good, because the rest
 * of the sum is the same for both points and adding the same number never
 * reverses an order (rounding is monotone), so whatever completes the
 * dominated point completes the dominating one at least as well. The next
 * stage is a k-way merge of the frontier shifted by each choice of the next
 * group, swept once; points over the budget go at once (costs are >= 0, so
 * they can only grow).
 *
 * Each point keeps a back-pointer (its parent on the previous frontier and
 * the choice that extended it) in one pool for all stages, so the optimal
 * assignment is read back from its last point. Walking the groups last to
 * first makes group 0 the final stage, whose tie is decided first: that is
 * what makes the tie rule "higher bits in earlier groups" (bit_alloc.h).
 */
#include "bit_alloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct Point {
    double cost, err;
} Point;

typedef struct Back {
    int32_t parent; /* index on the previous stage's frontier */
    int32_t choice; /* index in the stage's group */
} Back;

struct BitAllocFrontier {
    int ngroups;
    Point *points; /* the final frontier */
    int npoints;
    Back *back;    /* stage s's back-pointers at back[stage[s]..stage[s+1]) */
    size_t *stage; /* ngroups + 1 offsets; stage s covers group ngroups-1-s */
};

/* The DP's working state for one solve. */
typedef struct Dp {
    const BitAllocGroup *groups;
    int ngroups;
    double budget;
    Point *cur, *next; /* the last frontier and the one being built */
    size_t ncur, nnext, cap_cur, cap_next;
    Back *back;
    size_t nback, cap_back;
    size_t *stage;
} Dp;

/* Checks every group and the budget; *min_cost is the cheapest total,
 * summed in the DP's order (the cheapest choice of each group, last group
 * first), which is exactly the cost of the DP's cheapest final point. */
static BitAllocStatus validate(const BitAllocGroup *groups, int ngroups, double budget,
                               double *min_cost)
{
    if (ngroups < 0 || (ngroups > 0 && !groups) || isnan(budget))
        return BIT_ALLOC_BAD_INPUT;
    double total = 0;
    for (int l = ngroups - 1; l >= 0; l--) {
        const BitAllocGroup *g = &groups[l];
        if (g->nchoices < 1 || !g->bits || !g->cost || !g->err)
            return BIT_ALLOC_BAD_INPUT;
        double least = INFINITY;
        for (int j = 0; j < g->nchoices; j++) {
            if (!isfinite(g->cost[j]) || g->cost[j] < 0 || !isfinite(g->err[j]) || g->err[j] < 0)
                return BIT_ALLOC_BAD_INPUT;
            if (g->cost[j] < least)
                least = g->cost[j];
        }
        total += least;
    }
    *min_cost = total;
    return budget < total ? BIT_ALLOC_INFEASIBLE : BIT_ALLOC_OK;
}

/* Makes room for one more element in *buf (n used of *cap), doubling but
 * never past max elements: a full buffer at max is TOO_LARGE, a failed
 * realloc NOMEM (the old buffer stays valid and owned by the caller). */
static BitAllocStatus reserve(void **buf, size_t *cap, size_t n, size_t elem, size_t max)
{
    if (n < *cap)
        return BIT_ALLOC_OK;
    if (n >= max)
        return BIT_ALLOC_TOO_LARGE;
    size_t want = *cap ? 2 * *cap : 64;
    if (want > max)
        want = max;
    void *p = realloc(*buf, want * elem);
    if (!p)
        return BIT_ALLOC_NOMEM;
    *buf = p;
    *cap = want;
    return BIT_ALLOC_OK;
}

/* Whether choice a of g wins a tie against choice b: higher bits, then the
 * lower index (bit_alloc.h's rule, applied one stage at a time). */
static bool preferred(const BitAllocGroup *g, int a, int b)
{
    return g->bits[a] > g->bits[b] || (g->bits[a] == g->bits[b] && a < b);
}

/* Offers the next candidate of the merge, which come in non-decreasing
 * cost (but, when rounding makes costs equal, not always by error). The
 * sweep keeps the frontier invariant on next: it appends a point with less
 * error than the last one, replaces the last one when the cost is the same
 * and the error less, or the tie rule says so on an exact tie, and drops
 * the rest, which some kept point dominates. */
static BitAllocStatus offer(Dp *dp, const BitAllocGroup *g, Point p, int parent, int choice)
{
    if (dp->nnext > 0) {
        Point *last = &dp->next[dp->nnext - 1];
        Back *lastb = &dp->back[dp->nback - 1];
        bool same_cost = p.cost == last->cost;
        if ((same_cost && p.err < last->err) ||
            (same_cost && p.err == last->err && preferred(g, choice, lastb->choice))) {
            *last = p;
            *lastb = (Back){parent, choice};
            return BIT_ALLOC_OK;
        }
        if (p.err >= last->err)
            return BIT_ALLOC_OK;
    }
    BitAllocStatus s = reserve((void **)&dp->next, &dp->cap_next, dp->nnext, sizeof(Point),
                               BIT_ALLOC_MAX_POINTS);
    if (s == BIT_ALLOC_OK)
        s = reserve((void **)&dp->back, &dp->cap_back, dp->nback, sizeof(Back), BIT_ALLOC_MAX_STORED);
    if (s != BIT_ALLOC_OK)
        return s;
    dp->next[dp->nnext++] = p;
    dp->back[dp->nback++] = (Back){parent, choice};
    return BIT_ALLOC_OK;
}

/* One stage: the frontier dp->cur extended by every choice of g into
 * dp->next. at[j] walks dp->cur for choice j; each step takes the cheapest
 * head (less error first on equal cost), so the candidates reach the sweep
 * in cost order, and a head over the budget ends its choice's list. */
static BitAllocStatus extend(Dp *dp, const BitAllocGroup *g, size_t *at)
{
    dp->nnext = 0;
    for (int j = 0; j < g->nchoices; j++)
        at[j] = 0;
    for (;;) {
        int best = -1;
        Point bp = {0, 0};
        for (int j = 0; j < g->nchoices; j++) {
            if (at[j] >= dp->ncur)
                continue;
            Point p = {dp->cur[at[j]].cost + g->cost[j], dp->cur[at[j]].err + g->err[j]};
            if (p.cost > dp->budget) {
                at[j] = dp->ncur;
                continue;
            }
            if (best < 0 || p.cost < bp.cost || (p.cost == bp.cost && p.err < bp.err))
                best = j, bp = p;
        }
        if (best < 0)
            return BIT_ALLOC_OK;
        BitAllocStatus s = offer(dp, g, bp, (int)at[best]++, best);
        if (s != BIT_ALLOC_OK)
            return s;
    }
}

/* Runs every stage from the single empty assignment (0, 0). On OK the
 * last frontier is in dp->cur; on failure the buffers are still dp's to
 * free. */
static BitAllocStatus run(Dp *dp)
{
    int maxc = 1;
    for (int l = 0; l < dp->ngroups; l++)
        if (dp->groups[l].nchoices > maxc)
            maxc = dp->groups[l].nchoices;
    size_t *at = malloc((size_t)maxc * sizeof *at);
    dp->cur = malloc(sizeof(Point));
    dp->cap_cur = 1;
    dp->stage = malloc(((size_t)dp->ngroups + 1) * sizeof *dp->stage);
    if (!at || !dp->cur || !dp->stage) {
        free(at);
        return BIT_ALLOC_NOMEM;
    }
    dp->cur[0] = (Point){0, 0};
    dp->ncur = 1;
    dp->stage[0] = 0;
    BitAllocStatus s = BIT_ALLOC_OK;
    for (int st = 0; st < dp->ngroups && s == BIT_ALLOC_OK; st++) {
        s = extend(dp, &dp->groups[dp->ngroups - 1 - st], at);
        dp->stage[st + 1] = dp->nback;
        Point *t = dp->cur;
        dp->cur = dp->next, dp->next = t;
        size_t tc = dp->cap_cur;
        dp->cap_cur = dp->cap_next, dp->cap_next = tc;
        dp->ncur = dp->nnext;
    }
    free(at);
    return s;
}

BitAllocStatus bit_alloc_frontier(const BitAllocGroup *groups, int ngroups, double budget,
                                  BitAllocFrontier **out)
{
    *out = NULL;
    double min_cost;
    BitAllocStatus s = validate(groups, ngroups, budget, &min_cost);
    if (s != BIT_ALLOC_OK)
        return s;
    Dp dp = {.groups = groups, .ngroups = ngroups, .budget = budget};
    BitAllocFrontier *f = malloc(sizeof *f);
    s = f ? run(&dp) : BIT_ALLOC_NOMEM;
    free(dp.next);
    if (s != BIT_ALLOC_OK) {
        free(dp.cur);
        free(dp.back);
        free(dp.stage);
        free(f);
        return s;
    }
    /* budget >= min_cost, so the cheapest chain survives every stage. */
    *f = (BitAllocFrontier){ngroups, dp.cur, (int)dp.ncur, dp.back, dp.stage};
    *out = f;
    return BIT_ALLOC_OK;
}

int bit_alloc_frontier_size(const BitAllocFrontier *f) { return f->npoints; }

void bit_alloc_frontier_point(const BitAllocFrontier *f, int i, double *cost, double *err)
{
    *cost = f->points[i].cost;
    *err = f->points[i].err;
}

/* Follows the back-pointers from the last stage (group 0) to the first
 * (the last group). */
void bit_alloc_frontier_choice(const BitAllocFrontier *f, int i, int *choice)
{
    for (int st = f->ngroups - 1; st >= 0; st--) {
        Back b = f->back[f->stage[st] + (size_t)i];
        choice[f->ngroups - 1 - st] = b.choice;
        i = b.parent;
    }
}

void bit_alloc_frontier_free(BitAllocFrontier *f)
{
    if (!f)
        return;
    free(f->points);
    free(f->back);
    free(f->stage);
    free(f);
}

/* The frontier pruned at the budget ends at the optimum: every point is
 * within budget and the last has the least error (and is the cheapest
 * with it, being the first point at that error). */
BitAllocStatus bit_alloc_solve(const BitAllocGroup *groups, int ngroups, double budget, int *choice,
                               BitAllocResult *res)
{
    double min_cost;
    BitAllocStatus s = validate(groups, ngroups, budget, &min_cost);
    if (s == BIT_ALLOC_INFEASIBLE)
        res->min_cost = min_cost;
    if (s != BIT_ALLOC_OK)
        return s;
    BitAllocFrontier *f;
    s = bit_alloc_frontier(groups, ngroups, budget, &f);
    if (s != BIT_ALLOC_OK)
        return s;
    int last = f->npoints - 1;
    res->cost = f->points[last].cost;
    res->err = f->points[last].err;
    res->min_cost = min_cost;
    if (choice)
        bit_alloc_frontier_choice(f, last, choice);
    bit_alloc_frontier_free(f);
    return BIT_ALLOC_OK;
}

void bit_alloc_total(const BitAllocGroup *groups, int ngroups, const int *choice, double *cost,
                     double *err)
{
    double c = 0, e = 0;
    for (int l = ngroups - 1; l >= 0; l--) {
        c += groups[l].cost[choice[l]];
        e += groups[l].err[choice[l]];
    }
    *cost = c;
    *err = e;
}
