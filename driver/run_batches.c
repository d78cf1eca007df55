/*
 * run_batches.c — `netc run` over a data set: when every input file holds
 * k >= 2 batches of the net's input (first dimension k times the input's,
 * the others equal), the net runs k times, on consecutive slices, and each
 * output is the k results concatenated along dim 0. A net built for batch
 * 8 thus classifies 360 test images in one command, with the native code
 * compiled once. Every output's first dimension must then be the batch
 * (it is for classifiers); otherwise the concatenation would mean nothing,
 * and the run is refused.
 */
#include "run_batches.h"

#include <stdlib.h>
#include <string.h>

int netc_batches_in(const IrGraph *g, Tensor *const *in)
{
    int k = 0;
    for (int i = 0; i < g->ninputs; i++) {
        const Shape *want = &g->inputs[i]->shape, *got = &in[i]->shape;
        if (want->rank < 1 || got->rank != want->rank || want->d[0] < 1 || got->d[0] % want->d[0] ||
            in[i]->dtype != g->inputs[i]->dtype)
            return 1;
        for (int d = 1; d < want->rank; d++)
            if (got->d[d] != want->d[d])
                return 1;
        int64_t ki = got->d[0] / want->d[0];
        if ((k && ki != k) || ki < 2 || ki > 1 << 30)
            return 1;
        k = (int)ki;
    }
    return k ? k : 1;
}

/* Rows [j·b, (j+1)·b) of t, b = rows per batch: a new tensor. */
static Tensor *slice_rows(const Tensor *t, int64_t b, int j)
{
    Shape s = t->shape;
    s.d[0] = b;
    Tensor *x = tensor_new(t->dtype, &s);
    size_t bytes = (size_t)tensor_numel(x) * dtype_size(t->dtype);
    memcpy(x->data, (const char *)t->data + (size_t)j * bytes, bytes);
    return x;
}

bool netc_run_batches(const IrGraph *g, Tensor *const *in, int k, Tensor **out, BatchRunner run, void *ctx, Diag *d)
{
    Tensor **part_in = xcalloc((size_t)g->ninputs + 1, sizeof *part_in);
    Tensor **part_out = xcalloc((size_t)g->noutputs + 1, sizeof *part_out);
    int64_t batch = g->inputs[0]->shape.d[0];
    bool ok = true;
    for (int i = 0; i < g->noutputs && ok; i++) {
        const Shape *s = &g->outputs[i].value->shape;
        if (s->rank < 1 || s->d[0] != batch) {
            diag_error(d, g->outputs[i].value->loc,
                       "the input holds %d batches, but output '%s' does not have the batch as its first "
                       "dimension, so the %d results cannot be concatenated (give one batch)",
                       k, g->outputs[i].name, k);
            ok = false;
        }
    }
    for (int j = 0; j < k && ok; j++) {
        for (int i = 0; i < g->ninputs; i++)
            part_in[i] = slice_rows(in[i], g->inputs[i]->shape.d[0], j);
        ok = run(ctx, part_in, part_out);
        for (int i = 0; i < g->noutputs && ok; i++) {
            if (!out[i]) {
                Shape s = part_out[i]->shape;
                s.d[0] *= k;
                out[i] = tensor_new(part_out[i]->dtype, &s);
            }
            size_t bytes = (size_t)tensor_numel(part_out[i]) * dtype_size(part_out[i]->dtype);
            memcpy((char *)out[i]->data + (size_t)j * bytes, part_out[i]->data, bytes);
        }
        for (int i = 0; i < g->ninputs; i++)
            tensor_free(part_in[i]), part_in[i] = NULL;
        for (int i = 0; i < g->noutputs; i++)
            tensor_free(part_out[i]), part_out[i] = NULL;
    }
    free(part_in);
    free(part_out);
    return ok;
}
