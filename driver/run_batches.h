/*
 * run_batches.h — running a net over several batches of input (see
 * run_batches.c).
 */
#ifndef NETC_RUN_BATCHES_H
#define NETC_RUN_BATCHES_H

#include "../ir/ir.h"

/* How many batches the inputs hold: k >= 2 when every input is k of the
 * net's (same dtype, first dimension k times, the others equal), else 1. */
int netc_batches_in(const IrGraph *g, Tensor *const *in);

/* Runs the net once on in (one batch each), writing new tensors to out. */
typedef bool (*BatchRunner)(void *ctx, Tensor **in, Tensor **out);

/* Runs k batches and concatenates each output along dim 0 into out
 * (new tensors); false after reporting to d. */
bool netc_run_batches(const IrGraph *g, Tensor *const *in, int k, Tensor **out, BatchRunner run, void *ctx,
                      Diag *d);

#endif
