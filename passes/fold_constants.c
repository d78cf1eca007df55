/*
 * fold_constants.c — evaluates parameter-only subgraphs at compile time
 * (`fold-constants(max-bytes=N)`).
 *
 * A node all of whose inputs are parameters with bound data (ViT's
 * expand(class_token), a reshape of a weight) computes the same tensor on
 * every run. It is evaluated once with the reference kernel of its op — the
 * interpreter's own arithmetic, so folding never changes a number beyond
 * what running it would — and each of its results that something reads
 * becomes a new parameter (key: the node's name, else "<op>.<id>.folded";
 * results after the first get ".<r>"; a taken key gets a numeric suffix).
 * Walking in topological order folds whole parameter-only chains in one
 * sweep, since a folded node's readers then see parameters.
 *
 * A node is left alone when its used results together exceed max-bytes
 * (default 64 MiB: an expand can turn a small weight into a large one),
 * when a result is not f32 (the reference kernels compute in f32) or is a
 * graph output. The parameters it read stay until dce removes them.
 */
#include "pass_internal.h"

#include "../runtime/ref_kernels.h"

#include <stdlib.h>

static bool reads_only_bound_params(const IrNode *n)
{
    for (int k = 0; k < n->nin; k++)
        if (n->in[k]->kind != VK_PARAM || !n->in[k]->data)
            return false;
    return n->nin > 0;
}

/* Bytes of n's used results; -1 when n cannot be folded (see the header). */
static int64_t folded_bytes(const IrGraph *g, const IrNode *n)
{
    int64_t bytes = 0;
    for (int r = 0; r < n->nout; r++) {
        const IrValue *v = n->outs[r];
        if (v->dtype != DT_F32 || ir_is_output(g, v))
            return -1;
        if (v->nuses > 0)
            bytes += (int64_t)dtype_nbytes(v->dtype, (uint64_t)shape_numel(&v->shape));
    }
    return bytes;
}

/* Runs n's reference kernel on its parameters into out[0..nout). */
static bool evaluate(const IrNode *n, RefKernelEntry k, Tensor **out, Diag *d)
{
    const Tensor **in = xcalloc((size_t)n->nin, sizeof *in);
    Tensor **owned = xcalloc((size_t)n->nin, sizeof *owned);
    for (int i = 0; i < n->nin; i++) {
        const Tensor *t = n->in[i]->data;
        in[i] = t->dtype == DT_F32 ? t : (owned[i] = tensor_to_f32(t));
    }
    for (int r = 0; r < n->nout; r++)
        out[r] = tensor_new(DT_F32, &n->outs[r]->shape);
    char err[512] = "";
    bool ok = k.one ? k.one(n, in, out[0], err, sizeof err) : k.many(n, in, out, err, sizeof err);
    if (!ok)
        diag_error(d, n->loc, "fold-constants: evaluating %s '%s' failed: %s", op_info(n->op)->name,
                   n->name ? n->name : "(unnamed)", err);
    for (int i = 0; i < n->nin; i++)
        tensor_free(owned[i]);
    free(owned);
    free(in);
    return ok;
}

/* Turns the used results of n (evaluated into out[]) into parameters. */
static void replace_by_params(IrGraph *g, IrNode *n, Tensor **out)
{
    const char *base = n->name ? n->name : arena_printf(g->arena, "%s.%d.folded", op_info(n->op)->name, n->id);
    for (int r = 0; r < n->nout; r++) {
        IrValue *v = n->outs[r];
        if (v->nuses == 0)
            continue;
        const char *key = pass_fresh_key(g, r == 0 ? base : arena_printf(g->arena, "%s.%d", base, r));
        IrValue *p = ir_add_param(g, key, DT_F32, v->shape, n->loc);
        ir_bind(p, out[r]);
        out[r] = NULL;
        ir_replace_uses(g, v, p);
    }
}

bool pass_fold_constants(IrGraph *g, const PassArgs *args, Diag *d)
{
    int64_t max_bytes = pass_opt_int(args, "max-bytes");
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        RefKernelEntry k = ref_kernel_for(n->op);
        if (!reads_only_bound_params(n) || (!k.one && !k.many))
            continue;
        int64_t bytes = folded_bytes(g, n);
        if (bytes <= 0 || bytes > max_bytes)
            continue;
        Tensor *out[IR_MAX_RESULTS] = {0};
        bool ok = evaluate(n, k, out, d);
        if (ok) {
            replace_by_params(g, n, out);
            if (ir_remove_node(g, n))
                i--;
        }
        for (int r = 0; r < n->nout; r++)
            tensor_free(out[r]);
        if (!ok)
            return false;
    }
    return true;
}
