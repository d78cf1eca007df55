/*
 * quant_budget.c — choosing each layer's weight bits under a budget.
 *
 * Cost model (research notes §3.3): a layer's size is n·b bits plus 32 bits
 * per scale; BOPs are MACs · b_w · b_a (b_a 32 for a float input); the
 * average is Σ n·b / Σ n over the quantized weights. Parameters that stay
 * float and pinned layers are a fixed part of the total, subtracted from
 * the budget before the choice.
 *
 * Sensitivity Ω_l(b), data-driven and training-free: with only layer l's
 * weights quantized to b bits (activations float), the relative squared
 * error of the net's first output on the calibration runs,
 * Σ (y − y_float)² / Σ y_float² (sensitivity=0); or, without data, the
 * squared weight error ‖W − Q_b(W)‖² (sensitivity=1: HAWQ-V3's Ω with a
 * unit Hessian).
 *
 * The choice minimises Σ Ω_l(b_l) subject to the budget, exactly: a
 * multiple-choice knapsack solved by dynamic programming over the Pareto
 * frontier (bit_alloc.c).
 */
#include "../runtime/interp.h"
#include "bit_alloc.h"
#include "quant_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bit widths a free layer may get. */
static const int CHOICES[] = {2, 3, 4, 5, 6, 8};
enum { NCHOICES = sizeof CHOICES / sizeof *CHOICES };

double quant_layer_bytes(const QuantLayer *l, int bits)
{
    return (double)l->nparams * bits / 8.0 + (double)l->nscales * 4.0;
}

double quant_layer_bops(const QuantLayer *l, int bits)
{
    return (double)l->macs * bits * (l->act_bits ? l->act_bits : 32);
}

/* Layer l's cost at bits in the budget's unit. */
static double layer_cost(QuantBudgetKind kind, const QuantLayer *l, int bits)
{
    switch (kind) {
    case QUANT_BUDGET_MIB: return quant_layer_bytes(l, bits);
    case QUANT_BUDGET_AVG_BITS: return (double)l->nparams * bits;
    case QUANT_BUDGET_BOPS: return quant_layer_bops(l, bits);
    case QUANT_BUDGET_NONE: break;
    }
    return 0;
}

/* The budget in the cost unit, and the part of it that nothing chooses. */
static void budget_units(const QuantPlan *p, double *limit, double *fixed)
{
    const PassEnv *env = p->env;
    double total_n = 0;
    *fixed = env->budget_kind == QUANT_BUDGET_MIB ? (double)p->float_param_bytes : 0;
    for (int i = 0; i < p->nlayers; i++) {
        total_n += (double)p->layers[i].nparams;
        if (p->layers[i].pinned)
            *fixed += layer_cost(env->budget_kind, &p->layers[i], p->layers[i].bits);
    }
    *limit = env->budget_kind == QUANT_BUDGET_MIB        ? env->budget * 1048576.0
             : env->budget_kind == QUANT_BUDGET_AVG_BITS ? env->budget * total_n
                                                         : env->budget;
}

/* A cost in the budget's own words ("3.52 MiB", "4.31 bits", "12.1 GBOPs"). */
static const char *cost_text(const QuantPlan *p, double cost, char *buf, size_t size)
{
    double total_n = 0;
    for (int i = 0; i < p->nlayers; i++)
        total_n += (double)p->layers[i].nparams;
    switch (p->env->budget_kind) {
    case QUANT_BUDGET_MIB: snprintf(buf, size, "%.4g MiB", cost / 1048576.0); break;
    case QUANT_BUDGET_AVG_BITS: snprintf(buf, size, "%.4g bits", total_n ? cost / total_n : 0); break;
    default: snprintf(buf, size, "%.4g GBOPs", cost / 1e9); break;
    }
    return buf;
}

/* Relative output error with the current (partly quantized) weights. */
static bool output_error(QuantPlan *p, double *err)
{
    IrGraph *g = p->g;
    Tensor **outs = xcalloc((size_t)g->noutputs + 1, sizeof *outs);
    double num = 0, den = 0;
    bool ok = true;
    for (int r = 0; ok && r < p->nreference; r++) {
        ok = rt_interp_run(g, &p->runs[r], outs, p->d);
        if (ok) {
            const float *y = outs[0]->data, *y0 = p->reference[r]->data;
            for (int64_t i = 0; i < tensor_numel(outs[0]); i++) {
                double dlt = (double)y[i] - y0[i];
                num += dlt * dlt;
                den += (double)y0[i] * y0[i];
            }
        }
        for (int k = 0; k < g->noutputs; k++)
            tensor_free(outs[k]), outs[k] = NULL;
    }
    free(outs);
    *err = den > 0 ? num / den : num;
    return ok;
}

/* Ω_l(b) for every choice of every free layer: the weights are quantized
 * in place and restored from a copy after each measurement. */
static bool measure_sensitivities(QuantPlan *p)
{
    for (int i = 0; i < p->nlayers; i++) {
        QuantLayer *l = &p->layers[i];
        if (l->pinned)
            continue;
        float *saved[QUANT_MAX_WEIGHTS];
        size_t bytes[QUANT_MAX_WEIGHTS];
        for (int w = 0; w < l->nweights; w++) {
            bytes[w] = (size_t)shape_numel(&l->weights[w]->shape) * sizeof(float);
            saved[w] = xmalloc(bytes[w]);
            memcpy(saved[w], l->weights[w]->data->data, bytes[w]);
        }
        bool ok = true;
        for (int c = 0; c < NCHOICES && ok; c++) {
            double werr = 0;
            for (int w = 0; w < l->nweights; w++)
                werr += quant_fake_weight(l->weights[w]->data->data, &l->weights[w]->shape,
                                          CHOICES[c], p->per_channel, p->pow2, NULL);
            if (p->sensitivity == 0)
                ok = output_error(p, &l->sens[CHOICES[c]]);
            else
                l->sens[CHOICES[c]] = werr;
            for (int w = 0; w < l->nweights; w++)
                memcpy(l->weights[w]->data->data, saved[w], bytes[w]);
        }
        for (int w = 0; w < l->nweights; w++)
            free(saved[w]);
        if (!ok)
            return false;
    }
    return true;
}

bool quant_allocate(QuantPlan *p)
{
    if (!measure_sensitivities(p))
        return false;
    QuantBudgetKind kind = p->env->budget_kind;
    int nfree = 0;
    for (int i = 0; i < p->nlayers; i++)
        nfree += !p->layers[i].pinned;
    BitAllocGroup *groups = xcalloc((size_t)nfree + 1, sizeof *groups);
    double *cost = xcalloc((size_t)nfree * NCHOICES + 1, sizeof *cost);
    double *err = xcalloc((size_t)nfree * NCHOICES + 1, sizeof *err);
    int *choice = xcalloc((size_t)nfree + 1, sizeof *choice);
    for (int i = 0, k = 0; i < p->nlayers; i++) {
        const QuantLayer *l = &p->layers[i];
        if (l->pinned)
            continue;
        for (int c = 0; c < NCHOICES; c++) {
            cost[k * NCHOICES + c] = layer_cost(kind, l, CHOICES[c]);
            err[k * NCHOICES + c] = l->sens[CHOICES[c]];
        }
        groups[k] = (BitAllocGroup){NCHOICES, CHOICES, cost + k * NCHOICES, err + k * NCHOICES};
        k++;
    }
    double limit, fixed;
    budget_units(p, &limit, &fixed);
    BitAllocResult res;
    BitAllocStatus st = bit_alloc_solve(groups, nfree, limit - fixed, choice, &res);
    bool ok = st == BIT_ALLOC_OK;
    char a[64];
    if (st == BIT_ALLOC_INFEASIBLE)
        diag_error(p->d, loc_none(),
                   "quantize: --quant-budget=%s is below the smallest achievable, %s (every free "
                   "layer at %d bits%s)",
                   p->env->budget_text ? p->env->budget_text : "?",
                   cost_text(p, res.min_cost + fixed, a, sizeof a), CHOICES[0],
                   fixed > 0 ? ", pinned layers and float parameters as they are" : "");
    else if (!ok)
        diag_error(p->d, loc_none(), "quantize: the bit allocation failed (%s)",
                   st == BIT_ALLOC_TOO_LARGE ? "too many Pareto points"
                   : st == BIT_ALLOC_NOMEM   ? "out of memory"
                                             : "a sensitivity is not a number");
    for (int i = 0, k = 0; ok && i < p->nlayers; i++)
        if (!p->layers[i].pinned)
            p->layers[i].bits = CHOICES[choice[k++]];
    free(groups);
    free(cost);
    free(err);
    free(choice);
    return ok;
}

/* "4MiB", "512KiB", "5bits", "5.5bits", "30GBOPs", "2e9BOPs". */
bool pass_quant_budget_parse(const char *text, PassEnv *env, char *err, size_t errlen)
{
    char *end;
    double v = strtod(text, &end);
    static const struct {
        const char *suffix;
        QuantBudgetKind kind;
        double scale;
    } units[] = {
        {"MiB", QUANT_BUDGET_MIB, 1},          {"KiB", QUANT_BUDGET_MIB, 1.0 / 1024},
        {"bits", QUANT_BUDGET_AVG_BITS, 1},    {"BOPs", QUANT_BUDGET_BOPS, 1},
        {"KBOPs", QUANT_BUDGET_BOPS, 1e3},     {"MBOPs", QUANT_BUDGET_BOPS, 1e6},
        {"GBOPs", QUANT_BUDGET_BOPS, 1e9},     {"TBOPs", QUANT_BUDGET_BOPS, 1e12},
    };
    for (size_t i = 0; end != text && i < sizeof units / sizeof *units; i++)
        if (!strcmp(end, units[i].suffix)) {
            if (!(v > 0) || !isfinite(v)) {
                snprintf(err, errlen, "the budget '%s' must be a positive number", text);
                return false;
            }
            env->budget_kind = units[i].kind;
            env->budget = v * units[i].scale;
            env->budget_text = text;
            return true;
        }
    snprintf(err, errlen,
             "cannot read the budget '%s': expected a model size (4MiB, 512KiB), an average "
             "weight width (5bits) or a count of bit operations (30GBOPs, 2e9BOPs)",
             text);
    return false;
}
