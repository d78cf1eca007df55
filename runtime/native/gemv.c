/*
 * gemv.c — nk_linear with a single input row (batch-1 classifiers: a
 * matrix-vector product), a separate path from the GEMM core.
 *
 * With one row there is nothing to reuse a weight for: every packed weight
 * is read once and used by one FMA, so the layer is bound by memory
 * bandwidth, and what matters is streaming the panels at full speed. The
 * GEMM core would instead run a 1-row micro-tile per K block (its partial
 * sums going through C between blocks) with two accumulator chains, whose
 * FMA latency then shows. Here each panel is one pass over the whole K
 * with NK_GEMV_CHAINS independent accumulator sets (k interleaved across
 * them, summed in a fixed order at the end), the input row staying in L1,
 * and the next panel prefetched a fixed distance ahead. Panels are split
 * over the threads; each output column is computed by one thread in the
 * same order whatever the thread count.
 */
#include "gemm.h"

#include "nk_vec.h"

/* Independent accumulator sets: covers the FMA latency (about 4 cycles,
 * 2 per cycle) with the panel's NK_NV vectors each. */
#define NK_GEMV_CHAINS 4
/* Prefetch distance in floats of the weight stream (8 KiB ahead; the
 * panels are contiguous, so it runs on into the next one). */
#define NK_GEMV_PREFETCH 2048

typedef struct NkGemvTask {
    const NkLinear *d;
    const float *x, *packed, *bias, *res;
    float *out;
} NkGemvTask;

/* One panel of width W = NV vectors: out[cols] = act(x · panel + bias + res). */
NK_INLINE void gemv_panel(const int NV, const NkGemvTask *t, int64_t j)
{
    const NkLinear *d = t->d;
    const int W = NV * NK_VL;
    const float *b = t->packed + j * d->k * NK_NR;
    NkVec acc[NK_GEMV_CHAINS][NK_NV] = {{{0}}};
    int64_t k = 0;
    for (; k + NK_GEMV_CHAINS <= d->k; k += NK_GEMV_CHAINS) {
        for (int l = 0; l < NK_GEMV_CHAINS * W; l += 16) /* every line of this step, ahead */
            __builtin_prefetch(b + k * W + NK_GEMV_PREFETCH + l, 0, 0);
        NK_UNROLL
        for (int c = 0; c < NK_GEMV_CHAINS; c++) {
            NkVec s = nk_splat(t->x[k + c]);
            NK_UNROLL
            for (int v = 0; v < NV; v++)
                acc[c][v] += s * nk_load(b + (k + c) * W + v * NK_VL);
        }
    }
    for (; k < d->k; k++) {
        NkVec s = nk_splat(t->x[k]);
        NK_UNROLL
        for (int v = 0; v < NV; v++)
            acc[0][v] += s * nk_load(b + k * W + v * NK_VL);
    }
    float lo, hi;
    nk_act_clamp(d->act, &lo, &hi);
    int64_t c0 = j * NK_NR, nv = d->n - c0 < W ? d->n - c0 : W;
    float row[NK_NR];
    NK_UNROLL
    for (int v = 0; v < NV; v++) {
        NkVec sum = acc[0][v]; /* the chains in a fixed order */
        NK_UNROLL
        for (int c = 1; c < NK_GEMV_CHAINS; c++)
            sum += acc[c][v];
        nk_store(row + v * NK_VL, sum + nk_load(t->bias + c0 + v * NK_VL));
    }
    for (int64_t i = 0; i < nv; i++) {
        float y = row[i] + (t->res ? t->res[c0 + i] : 0.0f);
        y = y < lo ? lo : y; /* NaN stays NaN, as in nk_max/nk_min */
        t->out[c0 + i] = y > hi ? hi : y;
    }
}

static void gemv_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const NkGemvTask *t = ctx;
    for (int64_t j = begin; j < end; j++) {
        if (nk_gemm_panel_width(t->d->n, j, NK_NR) == NK_NR)
            gemv_panel(NK_NV, t, j);
        else
            gemv_panel(1, t, j);
    }
    if (nk_act_is_math(t->d->act)) {
        int64_t c0 = begin * NK_NR, c1 = end * NK_NR < t->d->n ? end * NK_NR : t->d->n;
        nk_finish(t->out + c0, NULL, c1 - c0, t->d->act);
    }
}

void nk_gemv_linear(const NkLinear *d, const float *x, const float *packed, const float *residual,
                    float *out)
{
    int64_t np = nk_gemm_panels(d->n, NK_NR);
    NkGemvTask t = {d, x, packed, packed + np * NK_NR * d->k, residual, out};
    /* About 64 KiB of weights per claim: fine enough to balance, coarse
     * enough that claiming costs nothing. */
    int64_t panel_bytes = d->k * NK_NR * (int64_t)sizeof(float);
    nk_parallel_for(np, panel_bytes >= 65536 ? 1 : 65536 / (panel_bytes + 1) + 1, gemv_task, &t);
}
