/*
 * interp.c — the reference interpreter; see interp.h.
 *
 * Values are numbered by IrValue.id, so the interpreter keeps one slot per id:
 * the f32 tensor currently holding the value and, separately, the tensor it
 * owns (computed results and converted copies; caller inputs and bound
 * weights that are already f32 are borrowed). Before running, the index of
 * the last node reading each value is computed (ir_last_uses); after each
 * node the values whose last reader it was are freed. Graph outputs are never freed inside the
 * loop: ownership passes to the caller at the end.
 */
#include "interp.h"
#include "ref_kernels.h"

#include <stdlib.h>

typedef struct Interp {
    const IrGraph *g;
    Diag *d;
    const Tensor **val; /* by value id: the f32 tensor holding it, or NULL */
    Tensor **owned;     /* by value id: what the interpreter must free */
    int *last_use;      /* by value id: index of the last node reading it; -1 none */
    RtObserver observe; /* or NULL */
    void *observe_ctx;
    RtKernelHook hook;  /* or NULL */
    void *hook_ctx;
} Interp;

/* Makes t the f32 tensor of value v, converting (and owning) it when needed. */
static bool bind_value(Interp *in, const IrValue *v, const Tensor *t)
{
    if (t->dtype == DT_F32) {
        in->val[v->id] = t;
        return true;
    }
    Tensor *c = tensor_to_f32(t);
    if (!c)
        return false;
    in->val[v->id] = in->owned[v->id] = c;
    return true;
}

static void release(Interp *in, int id)
{
    tensor_free(in->owned[id]);
    in->owned[id] = NULL;
    in->val[id] = NULL;
}

/* "layer1.0.conv1 (conv2d)" or, for an unnamed node, "relu #7". */
static const char *node_label(const IrNode *n, char *buf, size_t size)
{
    if (n->name)
        snprintf(buf, size, "%s (%s)", n->name, op_info(n->op)->name);
    else
        snprintf(buf, size, "%s #%d", op_info(n->op)->name, n->id);
    return buf;
}

static bool bind_inputs(Interp *in, Tensor *const *inputs)
{
    bool ok = true;
    for (int i = 0; i < in->g->ninputs; i++) {
        const IrValue *v = in->g->inputs[i];
        const Tensor *t = inputs[i];
        char want[160], got[160];
        if (!t) {
            diag_error(in->d, v->loc, "input '%s' was not given", v->name);
            ok = false;
        } else if (t->dtype != v->dtype || !shape_equal(&t->shape, &v->shape)) {
            diag_error(in->d, v->loc, "input '%s' expects %s%s, got %s%s", v->name,
                       dtype_name(v->dtype), shape_str(&v->shape, want, sizeof want),
                       dtype_name(t->dtype), shape_str(&t->shape, got, sizeof got));
            ok = false;
        } else if (!bind_value(in, v, t)) {
            diag_error(in->d, v->loc, "input '%s': cannot convert %s to f32", v->name,
                       dtype_name(t->dtype));
            ok = false;
        }
    }
    return ok;
}

/* Binds every parameter some node reads; each unbound one is an error. */
static bool bind_params(Interp *in)
{
    bool ok = true;
    for (int i = 0; i < in->g->nparams; i++) {
        const IrValue *p = in->g->params[i];
        if (in->last_use[p->id] < 0)
            continue;
        char want[160], got[160];
        if (!p->data) {
            diag_error(in->d, p->loc, "parameter '%s' has no data bound", p->name);
            ok = false;
        } else if (!shape_equal(&p->data->shape, &p->shape)) {
            diag_error(in->d, p->loc, "parameter '%s' expects shape %s, bound data has %s",
                       p->name, shape_str(&p->shape, want, sizeof want),
                       shape_str(&p->data->shape, got, sizeof got));
            ok = false;
        } else if (!bind_value(in, p, p->data)) {
            diag_error(in->d, p->loc, "parameter '%s': cannot convert %s to f32", p->name,
                       dtype_name(p->data->dtype));
            ok = false;
        }
    }
    return ok;
}

/* Runs node number ni: gathers its inputs, calls its kernel, frees dead values. */
static bool run_node(Interp *in, int ni, const Tensor **args)
{
    const IrNode *n = in->g->nodes[ni];
    char label[256], err[512];
    node_label(n, label, sizeof label);
    RefKernelEntry kernel = ref_kernel_for(n->op);
    if (!kernel.one && !kernel.many && !in->hook) {
        diag_error(in->d, n->loc, "%s: no reference kernel for this op", label);
        return false;
    }
    for (int i = 0; i < n->nin; i++) {
        args[i] = in->val[n->in[i]->id];
        if (!args[i]) { /* ir_verify rules this out; still handled */
            diag_error(in->d, n->loc, "%s: input %d (%%%d) has no value here", label, i,
                       n->in[i]->id);
            return false;
        }
    }
    Tensor *out[IR_MAX_RESULTS] = {0};
    bool ok = true;
    for (int r = 0; r < n->nout && ok; r++) {
        out[r] = tensor_new(DT_F32, &n->outs[r]->shape);
        if (!out[r]) {
            char s[160];
            diag_error(in->d, n->loc, "%s: cannot allocate the result %s", label,
                       shape_str(&n->outs[r]->shape, s, sizeof s));
            ok = false;
        }
    }
    err[0] = 0;
    bool handled = false;
    if (ok && in->hook && !in->hook(n, args, out, &handled, in->hook_ctx, err, sizeof err)) {
        diag_error(in->d, n->loc, "%s: %s", label, err[0] ? err : "kernel hook failed");
        ok = false;
    }
    if (ok && !handled && !kernel.one && !kernel.many) {
        diag_error(in->d, n->loc, "%s: no reference kernel for this op", label);
        ok = false;
    } else if (ok && !handled &&
               !(kernel.one ? kernel.one(n, args, out[0], err, sizeof err)
                            : kernel.many(n, args, out, err, sizeof err))) {
        diag_error(in->d, n->loc, "%s: %s", label, err[0] ? err : "kernel failed");
        ok = false;
    }
    if (!ok) {
        for (int r = 0; r < n->nout; r++)
            tensor_free(out[r]);
        return false;
    }
    for (int r = 0; r < n->nout; r++) {
        int id = n->outs[r]->id;
        in->val[id] = in->owned[id] = out[r];
        if (in->observe)
            in->observe(n->outs[r], out[r], in->observe_ctx);
    }
    for (int i = 0; i < n->nin; i++)
        if (in->last_use[n->in[i]->id] == ni)
            release(in, n->in[i]->id);
    for (int r = 0; r < n->nout; r++)
        if (in->last_use[n->outs[r]->id] < 0) /* a result nobody reads */
            release(in, n->outs[r]->id);
    return true;
}

/* The one interpreter loop behind the three entry points. */
static bool interp_run(const IrGraph *g, Tensor *const *inputs, Tensor **outputs, RtObserver observe,
                       void *ctx, RtKernelHook hook, void *hook_ctx, Diag *d);

bool rt_interp_run(const IrGraph *g, Tensor *const *inputs, Tensor **outputs, Diag *d)
{
    return interp_run(g, inputs, outputs, NULL, NULL, NULL, NULL, d);
}

bool rt_interp_run_observed(const IrGraph *g, Tensor *const *inputs, Tensor **outputs,
                            RtObserver observe, void *ctx, Diag *d)
{
    return interp_run(g, inputs, outputs, observe, ctx, NULL, NULL, d);
}

bool rt_interp_run_hooked(const IrGraph *g, Tensor *const *inputs, Tensor **outputs, RtKernelHook hook,
                          void *ctx, Diag *d)
{
    return interp_run(g, inputs, outputs, NULL, NULL, hook, ctx, d);
}

static bool interp_run(const IrGraph *g, Tensor *const *inputs, Tensor **outputs, RtObserver observe,
                       void *ctx, RtKernelHook hook, void *hook_ctx, Diag *d)
{
    int nv = g->next_value_id, max_in = 1;
    Interp in = {g,        d,   xcalloc((size_t)nv + 1, sizeof *in.val), xcalloc((size_t)nv + 1, sizeof *in.owned),
                 ir_last_uses(g), observe, ctx, hook, hook_ctx};
    for (int ni = 0; ni < g->nnodes; ni++)
        if (g->nodes[ni]->nin > max_in)
            max_in = g->nodes[ni]->nin;
    for (int i = 0; i < g->noutputs; i++)
        outputs[i] = NULL;

    bool ok = bind_inputs(&in, inputs);
    ok = bind_params(&in) && ok;
    for (int i = 0; ok && observe && i < g->ninputs; i++)
        observe(g->inputs[i], in.val[g->inputs[i]->id], ctx);
    const Tensor **args = xcalloc((size_t)max_in, sizeof *args);
    for (int ni = 0; ok && ni < g->nnodes; ni++)
        ok = run_node(&in, ni, args);
    free(args);

    /* Hand over the outputs: move what we own, copy what we borrowed (or
     * already handed over, when a value is output twice). */
    for (int i = 0; ok && i < g->noutputs; i++) {
        int id = g->outputs[i].value->id;
        if (in.owned[id]) {
            outputs[i] = in.owned[id];
            in.owned[id] = NULL;
        } else if (in.val[id]) {
            outputs[i] = tensor_to_f32(in.val[id]);
        }
        if (!outputs[i]) {
            diag_error(d, g->outputs[i].value->loc, "output '%s' could not be produced",
                       g->outputs[i].name);
            ok = false;
        }
    }
    if (!ok)
        for (int i = 0; i < g->noutputs; i++) {
            tensor_free(outputs[i]);
            outputs[i] = NULL;
        }
    for (int i = 0; i < nv; i++)
        tensor_free(in.owned[i]);
    free(in.val);
    free(in.owned);
    free(in.last_use);
    return ok;
}
