/*
 * remove_identity.c — removes ops that return their input unchanged
 * (`remove-identity`): every reader of the result reads the input instead,
 * and the node goes.
 *
 * Identities: dropout (netc runs networks in eval mode, where dropout
 * passes values through), flatten / reshape / expand whose result has the
 * input's shape, a slice with step 1 keeping the whole dimension, a permute
 * by the identity, a transpose of a dimension with itself, a concat of one
 * tensor. Values are bit for bit the same, so the pass never changes a
 * number.
 *
 * Left alone: a result carrying quantization metadata (it would be lost),
 * and a graph output whose input is itself a graph output, an input or a
 * parameter — outputs stay distinct node results, which the backends rely
 * on when they give each output its own buffer.
 */
#include "pass_internal.h"

/* dims[i] == i for every i (negative dims counted from the end). */
static bool is_identity_perm(const IrNode *n, int rank)
{
    int cnt;
    const int64_t *dims = ir_attr_ints(n, "dims", &cnt);
    if (cnt != rank)
        return false;
    for (int i = 0; i < cnt; i++)
        if ((dims[i] < 0 ? dims[i] + rank : dims[i]) != i)
            return false;
    return true;
}

static bool is_identity(const IrNode *n)
{
    const IrValue *in = n->in[0], *out = n->out;
    if (n->nout != 1 || in->dtype != out->dtype || !shape_equal(&in->shape, &out->shape))
        return false;
    int rank = in->shape.rank;
    switch (n->op) {
    case OP_DROPOUT:
    case OP_FLATTEN:
    case OP_RESHAPE:
    case OP_EXPAND: return true;
    case OP_SLICE: return ir_attr_int(n, "step") == 1;
    case OP_PERMUTE: return is_identity_perm(n, rank);
    case OP_TRANSPOSE: {
        int64_t a = ir_attr_int(n, "dim0"), b = ir_attr_int(n, "dim1");
        return (a < 0 ? a + rank : a) == (b < 0 ? b + rank : b);
    }
    case OP_CONCAT: return n->nin == 1;
    default: return false;
    }
}

static bool removable(const IrGraph *g, const IrNode *n)
{
    if (!is_identity(n) || n->out->quant)
        return false;
    const IrValue *in = n->in[0];
    return !ir_is_output(g, n->out) || (in->kind == VK_NODE && !ir_is_output(g, in));
}

bool pass_remove_identity(IrGraph *g, const PassArgs *args, Diag *d)
{
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        if (!removable(g, n))
            continue;
        ir_replace_uses(g, n->out, n->in[0]);
        if (ir_remove_node(g, n))
            i--;
    }
    return true;
}
