/*
 * interp.h — the reference interpreter: runs an IrGraph node by node with the
 * reference kernels (ref_kernels.h), in f32, as the oracle that compiled code
 * and passes are compared against.
 */
#ifndef NETC_INTERP_H
#define NETC_INTERP_H

#include "../ir/ir.h"

/*
 * Runs g. inputs[i] feeds g->inputs[i] and must have exactly its dtype and
 * shape (it is converted to f32 internally and never modified or freed).
 * Every parameter a node uses must be bound (IrValue.data, any dtype).
 *
 * On success stores a new f32 tensor for each g->outputs[i] in outputs[i]
 * (the caller frees them) and returns true. Otherwise reports every problem
 * found to d — naming the input, parameter key or node and its source
 * location — leaves outputs[] NULL and returns false.
 *
 * Intermediates are freed right after their last use, so peak memory is the
 * live set, not the sum of all activations.
 */
bool rt_interp_run(const IrGraph *g, Tensor *const *inputs, Tensor **outputs, Diag *d);

/*
 * rt_interp_run with a look at every value as it is computed: observe(v, t,
 * ctx) is called once for each graph input and each node result, with the
 * f32 tensor holding it (valid only during the call). Calibration uses it to
 * see activation ranges without making them graph outputs.
 */
typedef void (*RtObserver)(const IrValue *v, const Tensor *t, void *ctx);
bool rt_interp_run_observed(const IrGraph *g, Tensor *const *inputs, Tensor **outputs,
                            RtObserver observe, void *ctx, Diag *d);

/*
 * rt_interp_run with some kernels replaced: before running node n, hook(n,
 * in, out, &handled, ctx, err, errlen) is called with the node's f32 inputs
 * and its zero-filled f32 results (out[r] for each result r). When it sets
 * *handled it has computed out itself and the reference kernel is not run;
 * otherwise (handled left false) the reference kernel runs as usual.
 * Returning false is a failure of the node: err says why, and the
 * interpreter reports it with the node's name and location. The PIM
 * simulator runs its crossbar layers this way.
 */
typedef bool (*RtKernelHook)(const IrNode *n, const Tensor *const *in, Tensor *const *out, bool *handled,
                             void *ctx, char *err, size_t errlen);
bool rt_interp_run_hooked(const IrGraph *g, Tensor *const *inputs, Tensor **outputs, RtKernelHook hook,
                          void *ctx, Diag *d);

#endif
