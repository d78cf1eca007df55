/*
 * pass_util.c — helpers shared by several passes (pass_internal.h): fresh
 * parameter keys for the tensors fold-bn and fold-constants create, and
 * access to bound f32 weights.
 */
#include "pass_internal.h"

#include <string.h>

const char *pass_fresh_key(IrGraph *g, const char *base)
{
    if (!ir_find_param(g, base))
        return arena_strdup(g->arena, base);
    for (int i = 1;; i++) {
        const char *key = arena_printf(g->arena, "%s.%d", base, i);
        if (!ir_find_param(g, key))
            return key;
    }
}

const float *pass_f32_data(const IrValue *p)
{
    return p->kind == VK_PARAM && p->data && p->data->dtype == DT_F32 ? p->data->data : NULL;
}

void pass_carry_node_meta(IrGraph *g, const IrNode *from, IrNode *to)
{
    for (int i = 0; i < from->nannot; i++)
        ir_node_add_annot(g, to, &from->annot[i]);
    to->placement = from->placement;
    to->req = from->req;
}
