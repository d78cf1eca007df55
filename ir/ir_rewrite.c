/*
 * ir_rewrite.c — the only way passes change a graph (see ir.h).
 *
 * Every function keeps the use lists exact: a value's uses are precisely
 * the (node, input slot) pairs of nodes in the graph that read it. Graph
 * outputs are not uses (ir_use_count adds them), so ir_replace_uses updates
 * them separately. Removals shift the node array; ids stay unique (new
 * nodes take next_node_id) until ir_compact renumbers them by position.
 */
#include "ir.h"
#include "../support/strmap.h"

#include <stdlib.h>
#include <string.h>

int ir_node_pos(const IrGraph *g, const IrNode *n)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i] == n)
            return i;
    return -1;
}

/* Drops the use (n, k) from v's list; order of the rest is kept so passes
 * that walk uses stay deterministic. */
static void use_remove(IrValue *v, const IrNode *n, int k)
{
    for (int u = 0; u < v->nuses; u++)
        if (v->uses[u].user == n && v->uses[u].index == k) {
            memmove(v->uses + u, v->uses + u + 1, (size_t)(v->nuses - u - 1) * sizeof *v->uses);
            v->nuses--;
            return;
        }
}

void ir_set_input(IrGraph *g, IrNode *n, int k, IrValue *v)
{
    if (n->in[k] == v)
        return;
    use_remove(n->in[k], n, k);
    n->in[k] = v;
    ir_use_add(g, n, k);
}

int ir_replace_uses_except(IrGraph *g, IrValue *from, IrValue *to, const IrNode *except)
{
    if (from == to)
        return 0;
    /* One walk: moved uses go to `to`, the excepted ones stay, in order. */
    int changed = 0, kept = 0;
    for (int u = 0; u < from->nuses; u++) {
        IrUse use = from->uses[u];
        if (use.user == except) {
            from->uses[kept++] = use;
            continue;
        }
        use.user->in[use.index] = to;
        ir_use_add(g, use.user, use.index);
        changed++;
    }
    from->nuses = kept;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i].value == from) {
            g->outputs[i].value = to;
            changed++;
        }
    return changed;
}

int ir_replace_uses(IrGraph *g, IrValue *from, IrValue *to)
{
    return ir_replace_uses_except(g, from, to, NULL);
}

bool ir_refresh_node(IrNode *n, char *err, size_t errlen)
{
    Shape shapes[IR_MAX_RESULTS];
    DType dtypes[IR_MAX_RESULTS];
    if (!ir_infer_results(n, shapes, dtypes, err, errlen))
        return false;
    for (int r = 0; r < n->nout; r++) {
        n->outs[r]->shape = shapes[r];
        n->outs[r]->dtype = dtypes[r];
    }
    return true;
}

bool ir_remove_node(IrGraph *g, IrNode *n)
{
    int pos = ir_node_pos(g, n);
    if (pos < 0)
        return false;
    for (int r = 0; r < n->nout; r++)
        if (ir_use_count(g, n->outs[r]) > 0)
            return false;
    for (int k = 0; k < n->nin; k++)
        use_remove(n->in[k], n, k);
    memmove(g->nodes + pos, g->nodes + pos + 1, (size_t)(g->nnodes - pos - 1) * sizeof *g->nodes);
    g->nnodes--;
    return true;
}

bool ir_remove_param(IrGraph *g, IrValue *p)
{
    if (p->kind != VK_PARAM || p->nuses > 0 || ir_is_output(g, p) || ir_param_in_metadata(g, p))
        return false;
    int at = -1;
    for (int i = 0; i < g->nparams; i++)
        if (g->params[i] == p)
            at = i;
    if (at < 0)
        return false;
    memmove(g->params + at, g->params + at + 1, (size_t)(g->nparams - at - 1) * sizeof *g->params);
    g->nparams--;
    strmap_put(g->param_index, p->name, NULL); /* a NULL value reads as absent */
    tensor_free(p->data);
    p->data = NULL;
    return true;
}

void ir_compact(IrGraph *g)
{
    int id = 0;
    for (int i = 0; i < g->ninputs; i++)
        g->inputs[i]->id = id++;
    for (int i = 0; i < g->nparams; i++)
        g->params[i]->id = id++;
    for (int i = 0; i < g->nnodes; i++) {
        g->nodes[i]->id = i;
        for (int r = 0; r < g->nodes[i]->nout; r++)
            g->nodes[i]->outs[r]->id = id++;
    }
    g->next_value_id = id;
    g->next_node_id = g->nnodes;
}
