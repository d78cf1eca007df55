/*
 * test_bit_alloc.c — passes/bit_alloc.c, the exact bit allocator, against
 * an exhaustive search on hundreds of random small instances (the same
 * error, cost and, where the sums are exact, the same tie-broken choice),
 * its frontier against the Pareto set of all assignments, the statuses for
 * infeasible, bad and oversized input, and a realistic 60-layer instance
 * between Lagrangian lower and upper bounds.
 *
 * The descending marginal-ratio greedy lives here, not in the library: it
 * has no use but to show that an instance it gets wrong is solved exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../passes/bit_alloc.h"
#include "test_util.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 64
#define MAX_CHOICES 6

/* An instance owning its arrays; instance_link() points groups at them. */
typedef struct Instance {
    int ngroups;
    int nchoices[MAX_GROUPS];
    int bits[MAX_GROUPS][MAX_CHOICES];
    double cost[MAX_GROUPS][MAX_CHOICES];
    double err[MAX_GROUPS][MAX_CHOICES];
    BitAllocGroup groups[MAX_GROUPS];
} Instance;

static void instance_link(Instance *in)
{
    for (int l = 0; l < in->ngroups; l++)
        in->groups[l] = (BitAllocGroup){in->nchoices[l], in->bits[l], in->cost[l], in->err[l]};
}

/* Two equal groups of two choices each: the smallest instance with a tie
 * between groups. */
static void twin_groups(Instance *in, const int bits[2], const double cost[2], const double err[2])
{
    in->ngroups = 2;
    for (int l = 0; l < 2; l++) {
        in->nchoices[l] = 2;
        for (int j = 0; j < 2; j++)
            in->bits[l][j] = bits[j], in->cost[l][j] = cost[j], in->err[l][j] = err[j];
    }
    instance_link(in);
}

/* The same instances on every machine and run. */
static uint64_t rng_state = 88172645463325252u;

static uint64_t rng_next(void) { return test_xorshift64(&rng_state); }

/* Uniform in [lo, hi]. */
static int rng_int(int lo, int hi) { return lo + (int)(rng_next() % (uint64_t)(hi - lo + 1)); }

/* Uniform in [0, 1). */
static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }

/* A small random instance: 1..7 groups of 1..5 choices, bits 2..8
 * (repeats allowed, to reach the index tie-break), integer costs; when
 * int_err costs 0..6 and errors 0..4, so sums are exact and ties common,
 * else costs 0..20 and errors random doubles. */
static void random_instance(Instance *in, bool int_err)
{
    in->ngroups = rng_int(1, 7);
    for (int l = 0; l < in->ngroups; l++) {
        in->nchoices[l] = rng_int(1, 5);
        for (int j = 0; j < in->nchoices[l]; j++) {
            in->bits[l][j] = rng_int(2, 8);
            in->cost[l][j] = rng_int(0, int_err ? 6 : 20);
            in->err[l][j] = int_err ? rng_int(0, 4) : 10 * rng_unit();
        }
    }
    instance_link(in);
}

/* ---- the exhaustive reference ---- */

/* Every assignment's totals (bit_alloc_total, so sums compare exactly),
 * assignment k decoded by decode(). */
typedef struct All {
    int n;
    double *cost, *err;
} All;

static void decode(const Instance *in, int k, int *choice)
{
    for (int l = 0; l < in->ngroups; l++) {
        choice[l] = k % in->nchoices[l];
        k /= in->nchoices[l];
    }
}

static All enumerate(const Instance *in)
{
    All a = {1, NULL, NULL};
    for (int l = 0; l < in->ngroups; l++)
        a.n *= in->nchoices[l];
    a.cost = malloc((size_t)a.n * sizeof(double));
    a.err = malloc((size_t)a.n * sizeof(double));
    assert_non_null(a.cost);
    assert_non_null(a.err);
    int choice[MAX_GROUPS];
    for (int k = 0; k < a.n; k++) {
        decode(in, k, choice);
        bit_alloc_total(in->groups, in->ngroups, choice, &a.cost[k], &a.err[k]);
    }
    return a;
}

static void all_free(All *a)
{
    free(a->cost);
    free(a->err);
}

/* bit_alloc.h's tie rule between two assignments of equal totals: higher
 * bits in the first group that differs, then the lower index. */
static bool lex_preferred(const Instance *in, int ka, int kb)
{
    int a[MAX_GROUPS], b[MAX_GROUPS];
    decode(in, ka, a);
    decode(in, kb, b);
    for (int l = 0; l < in->ngroups; l++) {
        if (a[l] == b[l])
            continue;
        int ba = in->bits[l][a[l]], bb = in->bits[l][b[l]];
        return ba > bb || (ba == bb && a[l] < b[l]);
    }
    return false;
}

/* The optimum within budget by the documented rule (least error, then
 * least cost, then lex_preferred); -1 when none fits. */
static int exhaustive(const Instance *in, const All *a, double budget)
{
    int best = -1;
    for (int k = 0; k < a->n; k++) {
        if (a->cost[k] > budget)
            continue;
        if (best < 0 || a->err[k] < a->err[best] ||
            (a->err[k] == a->err[best] &&
             (a->cost[k] < a->cost[best] || (a->cost[k] == a->cost[best] && lex_preferred(in, k, best)))))
            best = k;
    }
    return best;
}

/* The sum over groups of the cheapest (most false) or dearest cost. */
static double cost_bound(const Instance *in, bool most)
{
    double total = 0;
    for (int l = in->ngroups - 1; l >= 0; l--) {
        double pick = in->cost[l][0];
        for (int j = 1; j < in->nchoices[l]; j++)
            pick = most ? fmax(pick, in->cost[l][j]) : fmin(pick, in->cost[l][j]);
        total += pick;
    }
    return total;
}

/* Solves and checks what holds for any OK answer: within budget, and the
 * choices reproduce the reported totals exactly. */
static BitAllocResult solve_ok(const Instance *in, double budget, int *choice)
{
    BitAllocResult r;
    assert_int_equal(bit_alloc_solve(in->groups, in->ngroups, budget, choice, &r), BIT_ALLOC_OK);
    assert_true(r.cost <= budget);
    for (int l = 0; l < in->ngroups; l++)
        assert_true(choice[l] >= 0 && choice[l] < in->nchoices[l]);
    double c, e;
    bit_alloc_total(in->groups, in->ngroups, choice, &c, &e);
    assert_true(c == r.cost);
    assert_true(e == r.err);
    assert_true(r.min_cost == cost_bound(in, false));
    return r;
}

/* The descending marginal-ratio greedy: every group at its costliest
 * choice, then, until the total fits, move the group whose next cheaper
 * choice loses the least error per unit of cost saved (first group on a
 * tie). Stops, over budget, when nothing is cheaper. */
static void greedy(const Instance *in, double budget, int *choice)
{
    for (int l = 0; l < in->ngroups; l++) {
        choice[l] = 0;
        for (int j = 1; j < in->nchoices[l]; j++)
            if (in->cost[l][j] > in->cost[l][choice[l]])
                choice[l] = j;
    }
    for (;;) {
        double c, e;
        bit_alloc_total(in->groups, in->ngroups, choice, &c, &e);
        if (c <= budget)
            return;
        int move = -1, to = -1;
        double best_ratio = 0;
        for (int l = 0; l < in->ngroups; l++) {
            const double *cost = in->cost[l], *err = in->err[l];
            int cur = choice[l], next = -1;
            for (int j = 0; j < in->nchoices[l]; j++)
                if (cost[j] < cost[cur] && (next < 0 || cost[j] > cost[next]))
                    next = j;
            if (next < 0)
                continue;
            double ratio = (err[next] - err[cur]) / (cost[cur] - cost[next]);
            if (move < 0 || ratio < best_ratio)
                move = l, to = next, best_ratio = ratio;
        }
        if (move < 0)
            return;
        choice[move] = to;
    }
}

/* ---- tests ---- */

/* The DP against the exhaustive optimum on random instances and budgets
 * (below the cheapest, inside the range, unbounded): the same error and
 * cost always, and with integer errors, where every sum is exact and ties
 * abound, the same choices by the tie rule. */
static void test_matches_exhaustive(void **state)
{
    int ties_seen = 0;
    for (int t = 0; t < 600; t++) {
        Instance in;
        bool int_err = t % 2 == 0;
        random_instance(&in, int_err);
        All a = enumerate(&in);
        for (int b = 0; b < 5; b++) {
            double budget = b == 4 ? INFINITY : rng_int(-2, (int)cost_bound(&in, true) + 2);
            int want = exhaustive(&in, &a, budget);
            int choice[MAX_GROUPS];
            BitAllocResult r;
            BitAllocStatus s = bit_alloc_solve(in.groups, in.ngroups, budget, choice, &r);
            if (want < 0) {
                assert_int_equal(s, BIT_ALLOC_INFEASIBLE);
                assert_true(r.min_cost == cost_bound(&in, false));
                assert_true(budget < r.min_cost);
                continue;
            }
            r = solve_ok(&in, budget, choice);
            assert_true(r.err == a.err[want]);
            assert_true(r.cost == a.cost[want]);
            if (int_err) {
                int expect[MAX_GROUPS];
                decode(&in, want, expect);
                assert_memory_equal(choice, expect, (size_t)in.ngroups * sizeof(int));
                bool tie = false;
                for (int k = 0; k < a.n; k++)
                    tie |= k != want && a.err[k] == a.err[want] && a.cost[k] == a.cost[want];
                ties_seen += tie;
            }
        }
        all_free(&a);
    }
    /* The tie rule was exercised, not just vacuously true. */
    assert_true(ties_seen > 100);
}

/* The unbounded frontier is exactly the Pareto set of all assignments:
 * cost rising and error falling strictly, each point the optimum at its
 * own cost, every assignment weakly dominated by a point; each point's
 * choices give its totals; a budget cuts the frontier to a prefix. */
static void test_frontier_is_pareto_set(void **state)
{
    for (int t = 0; t < 300; t++) {
        Instance in;
        random_instance(&in, t % 2 == 0);
        All a = enumerate(&in);
        BitAllocFrontier *f;
        assert_int_equal(bit_alloc_frontier(in.groups, in.ngroups, INFINITY, &f), BIT_ALLOC_OK);
        int n = bit_alloc_frontier_size(f);
        assert_true(n >= 1);
        double pc = -1, pe = INFINITY;
        for (int i = 0; i < n; i++) {
            double c, e, tc, te;
            bit_alloc_frontier_point(f, i, &c, &e);
            assert_true(c > pc && e < pe);
            pc = c, pe = e;
            int want = exhaustive(&in, &a, c);
            assert_true(a.cost[want] == c && a.err[want] == e);
            int choice[MAX_GROUPS];
            bit_alloc_frontier_choice(f, i, choice);
            bit_alloc_total(in.groups, in.ngroups, choice, &tc, &te);
            assert_true(tc == c && te == e);
        }
        for (int k = 0; k < a.n; k++) {
            bool dominated = false;
            for (int i = 0; i < n && !dominated; i++) {
                double c, e;
                bit_alloc_frontier_point(f, i, &c, &e);
                dominated = c <= a.cost[k] && e <= a.err[k];
            }
            assert_true(dominated);
        }
        double budget = rng_int(0, (int)cost_bound(&in, true));
        BitAllocFrontier *g;
        if (bit_alloc_frontier(in.groups, in.ngroups, budget, &g) == BIT_ALLOC_OK) {
            int m = bit_alloc_frontier_size(g);
            for (int i = 0; i < n; i++) {
                double c, e, gc, ge;
                bit_alloc_frontier_point(f, i, &c, &e);
                if (i >= m) {
                    assert_true(c > budget);
                    continue;
                }
                bit_alloc_frontier_point(g, i, &gc, &ge);
                assert_true(gc == c && ge == e);
            }
            bit_alloc_frontier_free(g);
        } else {
            assert_null(g);
        }
        bit_alloc_frontier_free(f);
        all_free(&a);
    }
}

/* Below the cheapest total: INFEASIBLE with min_cost = the sum of each
 * group's cheapest choice; at exactly that total: OK at that cost. */
static void test_infeasible(void **state)
{
    for (int t = 0; t < 200; t++) {
        Instance in;
        random_instance(&in, true);
        double least = cost_bound(&in, false);
        BitAllocResult r;
        int choice[MAX_GROUPS];
        assert_int_equal(bit_alloc_solve(in.groups, in.ngroups, least - 1, choice, &r), BIT_ALLOC_INFEASIBLE);
        assert_true(r.min_cost == least);
        BitAllocFrontier *f = (BitAllocFrontier *)&r; /* any non-NULL: must come back NULL */
        assert_int_equal(bit_alloc_frontier(in.groups, in.ngroups, least - 1, &f), BIT_ALLOC_INFEASIBLE);
        assert_null(f);
        r = solve_ok(&in, least, choice);
        assert_true(r.cost == least);
    }
}

/* More budget never costs error: the optimum is non-increasing over every
 * integer budget from the cheapest total to the dearest, and at the
 * dearest it is the sum of each group's least error. */
static void test_monotone_in_budget(void **state)
{
    for (int t = 0; t < 100; t++) {
        Instance in;
        random_instance(&in, t % 2 == 0);
        double least_err = 0;
        for (int l = in.ngroups - 1; l >= 0; l--) {
            double e = in.err[l][0];
            for (int j = 1; j < in.nchoices[l]; j++)
                e = fmin(e, in.err[l][j]);
            least_err += e;
        }
        double prev = INFINITY;
        int choice[MAX_GROUPS];
        for (double budget = cost_bound(&in, false); budget <= cost_bound(&in, true); budget++) {
            BitAllocResult r = solve_ok(&in, budget, choice);
            assert_true(r.err <= prev);
            prev = r.err;
        }
        assert_true(prev == least_err);
    }
}

/* An instance the greedy gets wrong. Budget 10, costs (10, 0) with errors
 * (0, 10) in group 0 and (10, 5, 0) with (0, 1, 12) in group 1. The greedy
 * first takes group 1 to cost 5 (ratio 1/5), then group 0 to 0 (ratio 1
 * against 11/5): error 11. The optimum keeps group 1 at 10 and drops group
 * 0: error 10. */
static void test_greedy_not_exact(void **state)
{
    Instance in = {.ngroups = 2,
                   .nchoices = {2, 3},
                   .bits = {{8, 0}, {8, 4, 0}},
                   .cost = {{10, 0}, {10, 5, 0}},
                   .err = {{0, 10}, {0, 1, 12}}};
    instance_link(&in);
    int g[2], d[2];
    greedy(&in, 10, g);
    assert_int_equal(g[0], 1);
    assert_int_equal(g[1], 1);
    double gc, ge;
    bit_alloc_total(in.groups, 2, g, &gc, &ge);
    BitAllocResult r = solve_ok(&in, 10, d);
    assert_int_equal(d[0], 1);
    assert_int_equal(d[1], 0);
    assert_true(gc <= 10);
    assert_true(ge == 11 && r.err == 10);
    assert_true(ge > r.err);

    /* On random instances the greedy, when it fits, is never better, and
     * sometimes strictly worse. */
    int worse = 0;
    for (int t = 0; t < 300; t++) {
        Instance ri;
        random_instance(&ri, false);
        int gch[MAX_GROUPS], dch[MAX_GROUPS];
        double budget = rng_int(0, (int)cost_bound(&ri, true));
        greedy(&ri, budget, gch);
        bit_alloc_total(ri.groups, ri.ngroups, gch, &gc, &ge);
        if (gc > budget)
            continue;
        r = solve_ok(&ri, budget, dch);
        assert_true(r.err <= ge);
        worse += r.err < ge;
    }
    assert_true(worse > 0);
}

/* The tie rule, by hand: equal error goes to the cheaper choice even at
 * fewer bits; equal error and cost to higher bits in the earlier group;
 * equal bits to the lower index. */
static void test_ties(void **state)
{
    int choice[2];
    Instance cheaper = {.ngroups = 1, .nchoices = {2}, .bits = {{8, 4}}, .cost = {{8, 4}}, .err = {{1, 1}}};
    instance_link(&cheaper);
    solve_ok(&cheaper, INFINITY, choice);
    assert_int_equal(choice[0], 1);

    Instance earlier;
    twin_groups(&earlier, (int[]){4, 8}, (double[]){4, 8}, (double[]){1, 0});
    BitAllocResult r = solve_ok(&earlier, 12, choice);
    assert_true(r.err == 1 && r.cost == 12);
    assert_int_equal(choice[0], 1); /* 8 bits */
    assert_int_equal(choice[1], 0);

    Instance index = {.ngroups = 1, .nchoices = {3}, .bits = {{4, 6, 6}}, .cost = {{3, 3, 3}}, .err = {{2, 2, 2}}};
    instance_link(&index);
    solve_ok(&index, INFINITY, choice);
    assert_int_equal(choice[0], 1);
}

/* Each malformed input is BAD_INPUT and touches nothing; no groups at all
 * is a valid problem whose answer costs 0. */
static void test_bad_input(void **state)
{
    Instance in;
    twin_groups(&in, (int[]){8, 4}, (double[]){8, 4}, (double[]){0, 1});
    int choice[2] = {-7, -7};
    BitAllocResult r = {-7, -7, -7};
    BitAllocFrontier *f;
    /* A fresh copy per case, spoiled one way: nchoices 0 and negative, a
     * NaN error, a negative and an infinite cost, a NaN budget, a negative
     * group count, a NULL array. */
    for (int c = 0; c < 8; c++) {
        Instance b = in;
        instance_link(&b);
        double budget = 100;
        int ngroups = 2;
        switch (c) {
        case 0: b.groups[1].nchoices = 0; break;
        case 1: b.groups[0].nchoices = -1; break;
        case 2: b.err[1][1] = NAN; break;
        case 3: b.cost[0][1] = -1; break;
        case 4: b.cost[1][0] = INFINITY; break;
        case 5: budget = NAN; break;
        case 6: ngroups = -1; break;
        case 7: b.groups[0].bits = NULL; break;
        }
        assert_int_equal(bit_alloc_solve(b.groups, ngroups, budget, choice, &r), BIT_ALLOC_BAD_INPUT);
        assert_int_equal(bit_alloc_frontier(b.groups, ngroups, budget, &f), BIT_ALLOC_BAD_INPUT);
        assert_null(f);
    }
    assert_int_equal(choice[0], -7);
    assert_true(r.cost == -7 && r.min_cost == -7);
    assert_int_equal(bit_alloc_solve(NULL, 1, 100, choice, &r), BIT_ALLOC_BAD_INPUT);

    assert_int_equal(bit_alloc_solve(NULL, 0, 0, NULL, &r), BIT_ALLOC_OK);
    assert_true(r.cost == 0 && r.err == 0 && r.min_cost == 0);
    assert_int_equal(bit_alloc_solve(NULL, 0, -1, NULL, &r), BIT_ALLOC_INFEASIBLE);
    assert_int_equal(bit_alloc_frontier(NULL, 0, INFINITY, &f), BIT_ALLOC_OK);
    assert_int_equal(bit_alloc_frontier_size(f), 1);
    bit_alloc_frontier_free(f);
    bit_alloc_frontier_free(NULL);
}

/* 21 groups of (cost 0, error 2^l) or (cost 2^l, error 0): every one of the
 * 2^21 subsets has its own cost and error falling with it, so all are
 * Pareto-optimal and the last frontier passes BIT_ALLOC_MAX_POINTS. With
 * a budget that cuts it to half, the same instance solves. */
static void test_too_large(void **state)
{
    enum { N = 21 };
    static int bits[N][2];
    static double cost[N][2], err[N][2];
    BitAllocGroup g[N];
    for (int l = 0; l < N; l++) {
        bits[l][0] = 0, bits[l][1] = 8;
        cost[l][0] = 0, cost[l][1] = ldexp(1, l);
        err[l][0] = ldexp(1, l), err[l][1] = 0;
        g[l] = (BitAllocGroup){2, bits[l], cost[l], err[l]};
    }
    assert_true((1 << N) > BIT_ALLOC_MAX_POINTS);
    BitAllocResult r = {0};
    int choice[N];
    assert_int_equal(bit_alloc_solve(g, N, INFINITY, choice, &r), BIT_ALLOC_TOO_LARGE);
    BitAllocFrontier *f;
    assert_int_equal(bit_alloc_frontier(g, N, INFINITY, &f), BIT_ALLOC_TOO_LARGE);
    assert_null(f);
    assert_int_equal(bit_alloc_solve(g, N, (1 << 20) - 1, choice, &r), BIT_ALLOC_OK);
    assert_true(r.cost == (1 << 20) - 1 && r.err == (1 << 21) - (1 << 20));
    assert_int_equal(choice[N - 1], 0);
}

/* A network-sized instance: 60 layers of cin·cout·k² weights (channels 32
 * to 512, k 1 or 3: up to 2.36M), bits {2,3,4,5,6,8}, cost n·b (bits of
 * storage, exact integers), error trace·n·4^-b (the quantization noise of
 * a b-bit uniform quantizer, weighted by a random Hessian trace), budget 4
 * bits a weight on average. The answer must lie between the Lagrangian
 * lower bound max_μ Σ_l min_b (err + μ·cost) − μ·budget and every
 * Lagrangian assignment that fits, and be no worse than the greedy. */
static void test_large_instance(void **state)
{
    static const int widths[] = {2, 3, 4, 5, 6, 8};
    static const int channels[] = {32, 64, 128, 256, 512};
    static Instance in;
    in.ngroups = 60;
    double weights = 0;
    for (int l = 0; l < in.ngroups; l++) {
        double n = (double)channels[rng_int(0, 4)] * channels[rng_int(0, 4)] * (rng_int(0, 1) ? 9 : 1);
        double trace = exp(4 * rng_unit() - 2);
        weights += n;
        in.nchoices[l] = 6;
        for (int j = 0; j < 6; j++) {
            in.bits[l][j] = widths[j];
            in.cost[l][j] = n * widths[j];
            in.err[l][j] = trace * n * ldexp(1, -2 * widths[j]);
        }
    }
    instance_link(&in);
    double budget = 4 * weights;
    int choice[MAX_GROUPS];
    BitAllocResult r = solve_ok(&in, budget, choice);

    double lower = 0;
    for (double mu = 1e-12; mu < 1e2; mu *= 1.05) {
        double dual = -mu * budget;
        int lag[MAX_GROUPS];
        for (int l = 0; l < in.ngroups; l++) {
            lag[l] = 0;
            for (int j = 1; j < 6; j++)
                if (in.err[l][j] + mu * in.cost[l][j] < in.err[l][lag[l]] + mu * in.cost[l][lag[l]])
                    lag[l] = j;
            dual += in.err[l][lag[l]] + mu * in.cost[l][lag[l]];
        }
        lower = fmax(lower, dual);
        double c, e;
        bit_alloc_total(in.groups, in.ngroups, lag, &c, &e);
        if (c <= budget)
            assert_true(r.err <= e);
    }
    assert_true(lower > 0);
    assert_true(lower <= r.err * (1 + 1e-9));
    int g[MAX_GROUPS];
    greedy(&in, budget, g);
    double gc, ge;
    bit_alloc_total(in.groups, in.ngroups, g, &gc, &ge);
    assert_true(gc <= budget);
    assert_true(r.err <= ge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_exhaustive),
        cmocka_unit_test(test_frontier_is_pareto_set),
        cmocka_unit_test(test_infeasible),
        cmocka_unit_test(test_monotone_in_budget),
        cmocka_unit_test(test_greedy_not_exact),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_large_instance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
