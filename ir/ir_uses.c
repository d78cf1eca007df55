/*
 * ir_uses.c — the use and liveness analysis shared by the interpreter, the
 * statistics, the LLVM lowering, weight init and the passes, so "who reads
 * this value, and until when" has one answer.
 */
#include "ir.h"

#include <stdlib.h>

bool ir_is_output(const IrGraph *g, const IrValue *v)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i].value == v)
            return true;
    return false;
}

int ir_use_count(const IrGraph *g, const IrValue *v)
{
    int n = v->nuses;
    for (int i = 0; i < g->noutputs; i++)
        n += g->outputs[i].value == v;
    return n;
}

IrNode *ir_sole_user(const IrGraph *g, const IrValue *v)
{
    return v->nuses == 1 && !ir_is_output(g, v) ? v->uses[0].user : NULL;
}

static bool quant_refers(const IrQuant *q, const IrValue *p)
{
    return q && (q->scale == p || q->zero_point == p);
}

bool ir_param_in_metadata(const IrGraph *g, const IrValue *p)
{
    for (int i = 0; i < g->nparams; i++) {
        const IrValue *v = g->params[i];
        if (quant_refers(v->quant, p) || (v->sparsity && v->sparsity->mask == p))
            return true;
    }
    for (int i = 0; i < g->ninputs; i++)
        if (quant_refers(g->inputs[i]->quant, p))
            return true;
    for (int i = 0; i < g->nnodes; i++)
        for (int r = 0; r < g->nodes[i]->nout; r++)
            if (quant_refers(g->nodes[i]->outs[r]->quant, p))
                return true;
    return false;
}

int *ir_last_uses(const IrGraph *g)
{
    int nv = g->next_value_id > 0 ? g->next_value_id : 1;
    int *last = xmalloc((size_t)nv * sizeof *last);
    for (int i = 0; i < nv; i++)
        last[i] = -1;
    for (int ni = 0; ni < g->nnodes; ni++) {
        const IrNode *n = g->nodes[ni];
        for (int k = 0; k < n->nin; k++)
            last[n->in[k]->id] = ni;
    }
    for (int i = 0; i < g->noutputs; i++)
        last[g->outputs[i].value->id] = g->nnodes;
    return last;
}
