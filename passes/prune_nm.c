/*
 * prune_nm.c — n:m semi-structured sparsity (research/passes.md §2.4).
 *
 * The weight is viewed as [out, in·kh·kw] in its own row-major order
 * (conv2d [O, C, kh, kw]: column c·kh·kw + i·kw + j), and every row is cut
 * into groups of m consecutive columns from column 0. In every group the n
 * largest |w| among the weights still kept stay, the rest go (among equal
 * |w| the earlier weight stays). When in·kh·kw is not a multiple of m, the
 * last group of each row has L < m columns and keeps at most n of them
 * (all of it when L <= n), so the verifier's rule "at most n in every group
 * of m" holds everywhere and a tail is never emptied.
 *
 * This grouping is NVIDIA apex's for a linear layer. For a conv, apex
 * groups along C for each (i, j) instead; with the flattened order here a
 * 3x3 conv's groups mix the taps of one input channel. The verifier, the
 * native sparse kernels and tools/prune_check.py all use this order.
 */
#include "prune_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the n largest |x| among keep[0..len) (earlier first on ties). */
static void keep_largest(const float *x, uint8_t *keep, int len, int n)
{
    uint8_t chosen[IR_NM_MAX_M] = {0};
    for (int taken = 0; taken < n; taken++) {
        int best = -1;
        for (int i = 0; i < len; i++)
            if (keep[i] && !chosen[i] && (best < 0 || fabsf(x[i]) > fabsf(x[best])))
                best = i;
        if (best < 0)
            break;
        chosen[best] = 1;
    }
    for (int i = 0; i < len; i++)
        keep[i] = chosen[i];
}

bool prune_nm(PruneJob *job)
{
    for (int li = 0; li < job->nlayers; li++) {
        PruneLayer *l = &job->layers[li];
        if (l->spec.kind != SP_NM)
            continue;
        IrValue *w = l->weight;
        int64_t numel = shape_numel(&w->shape), out, cols;
        ir_weight_view(&w->shape, &out, &cols);
        const float *x = pass_f32_data(w);
        int64_t nz_before = prune_count_nonzero(w);
        uint8_t *keep = malloc((size_t)numel);
        prune_current_keep(w, keep);
        int m = l->spec.m;
        for (int64_t r = 0; r < out; r++)
            for (int64_t c0 = 0; c0 < cols; c0 += m) {
                int len = (int)(cols - c0 < m ? cols - c0 : m);
                keep_largest(x + r * cols + c0, keep + r * cols + c0, len, l->spec.n);
            }
        prune_apply_mask(job->g, w, &l->spec, keep, NULL);
        free(keep);
        prune_report_masked(job, l, nz_before);
    }
    return true;
}
