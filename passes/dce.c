/*
 * dce.c — dead code elimination (`dce`).
 *
 * A node none of whose results is read (by a node or as a graph output) is
 * removed; nodes are visited back to front so a dead chain goes in one
 * sweep, and the sweep repeats until nothing changes. Then parameters
 * nothing refers to — no node input, no graph output, no metadata (a
 * quantization scale, a sparsity mask) — are removed with their data.
 * Graph inputs are part of the calling convention and always stay.
 */
#include "pass_internal.h"

bool pass_dce(IrGraph *g, const PassArgs *args, Diag *d)
{
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = g->nnodes - 1; i >= 0; i--) {
            IrNode *n = g->nodes[i];
            bool dead = true;
            for (int r = 0; r < n->nout && dead; r++)
                dead = ir_use_count(g, n->outs[r]) == 0;
            if (dead && ir_remove_node(g, n))
                changed = true;
        }
    }
    /* Removing a quantized weight frees its scale, so parameters also go to
     * a fixpoint; ir_remove_param refuses any parameter still referred to. */
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = g->nparams - 1; i >= 0; i--)
            if (i < g->nparams && ir_remove_param(g, g->params[i]))
                changed = true;
    }
    return true;
}
