/*
 * bit_alloc.h — the exact bit allocator for mixed-precision quantization:
 * one choice (a bit width) per layer minimising the total error (a
 * sensitivity) under a budget on the total cost (bits of storage, BOPs).
 * This is a multiple-choice knapsack; it is solved exactly by dynamic
 * programming over the Pareto frontier of (cost, error) totals, with no
 * discretisation of the costs. A pure library: no IR, no diagnostics, so a
 * pass or a report can call it with numbers from anywhere.
 *
 * Arithmetic. Totals are sums of doubles taken in one fixed order, from the
 * last group to the first (bit_alloc_total computes them the same way), and
 * compared exactly, with no tolerance: with integer costs below 2^53 (sizes
 * n·b, BOPs) every sum is exact, and with other costs the allocator is still
 * exact for the sums as computed, because rounding is monotone. The budget
 * is met as computed: cost <= budget. The budget may be +inf.
 *
 * Ties. Among the assignments of least error the cheapest wins; among those
 * with equal cost too, the one with higher bits in earlier groups
 * (compared group 0 first; two choices of one group with equal bits are
 * ordered by lower index). First layers are usually the sensitive ones, so
 * a tie keeps precision there. The rule holds exactly when the sums are
 * exact (integer costs and errors, or none tied).
 */
#ifndef NETC_PASS_BIT_ALLOC_H
#define NETC_PASS_BIT_ALLOC_H

/* One layer's choices. The arrays have nchoices entries; cost and err must
 * be finite and >= 0. bits only breaks ties. */
typedef struct BitAllocGroup {
    int nchoices;
    const int *bits;
    const double *cost;
    const double *err;
} BitAllocGroup;

typedef struct BitAllocResult {
    double cost;     /* of the chosen assignment, <= budget */
    double err;
    double min_cost; /* the cheapest total any assignment reaches */
} BitAllocResult;

typedef enum BitAllocStatus {
    BIT_ALLOC_OK,
    BIT_ALLOC_INFEASIBLE, /* budget < min_cost: only res->min_cost is set */
    BIT_ALLOC_TOO_LARGE,  /* a frontier passed BIT_ALLOC_MAX_POINTS, or all
                             of them together BIT_ALLOC_MAX_STORED */
    BIT_ALLOC_NOMEM,
    BIT_ALLOC_BAD_INPUT,  /* ngroups < 0, nchoices < 1, a NULL array, a cost
                             or error negative or not finite, a NaN budget */
} BitAllocStatus;

/* The bounds on memory: points on one frontier (16 bytes each, two
 * frontiers live at once) and back-pointers kept over all groups (8 bytes
 * each), so a pathological instance fails instead of eating the machine. */
#define BIT_ALLOC_MAX_POINTS 2000000
#define BIT_ALLOC_MAX_STORED 16000000

/* The optimum for budget: choice[l] (ngroups entries; may be NULL when
 * only the totals are wanted) is the index chosen in group l, res its
 * totals. ngroups == 0 is allowed: cost and error 0. choice and res are
 * left alone unless the status is OK (res->min_cost also on INFEASIBLE). */
BitAllocStatus bit_alloc_solve(const BitAllocGroup *groups, int ngroups, double budget, int *choice,
                               BitAllocResult *res);

/* The whole trade-off curve: the Pareto frontier of all assignments whose
 * cost is <= budget (+inf for all of them), cheapest first, the error
 * strictly falling from each point to the next; for reports, or to answer
 * many budgets from one solve. The last point is bit_alloc_solve's
 * answer. */
typedef struct BitAllocFrontier BitAllocFrontier;
BitAllocStatus bit_alloc_frontier(const BitAllocGroup *groups, int ngroups, double budget,
                                  BitAllocFrontier **out);
int bit_alloc_frontier_size(const BitAllocFrontier *f);
/* Point i's totals, 0 <= i < bit_alloc_frontier_size(f). */
void bit_alloc_frontier_point(const BitAllocFrontier *f, int i, double *cost, double *err);
/* Point i's assignment, one index per group into choice. */
void bit_alloc_frontier_choice(const BitAllocFrontier *f, int i, int *choice);
void bit_alloc_frontier_free(BitAllocFrontier *f);

/* The totals of an assignment, summed in the allocator's order, so they
 * compare exactly with its results (an exhaustive search, a caller's own
 * assignment). */
void bit_alloc_total(const BitAllocGroup *groups, int ngroups, const int *choice, double *cost,
                     double *err);

#endif
