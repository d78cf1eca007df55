/*
 * prune_mask.c — reading and writing a weight's sparsity mask, so every
 * mask granularity composes with what an earlier prune left (as PyTorch's
 * PruningContainer: a second prune ranks only the weights still kept).
 */
#include "prune_internal.h"

#include <string.h>

/* The mask's flag for each element of w, from a mask of any kind. */
void prune_current_keep(const IrValue *w, uint8_t *keep)
{
    int64_t numel = shape_numel(&w->shape);
    const IrSparsity *sp = w->sparsity;
    if (!sp || !sp->mask || !sp->mask->data) {
        memset(keep, 1, (size_t)numel);
        return;
    }
    const uint8_t *m = sp->mask->data->data; /* u8 and bool are one byte each */
    int64_t out, k;
    ir_weight_view(&w->shape, &out, &k);
    switch (sp->kind) {
    case SP_ELEMENT:
    case SP_NM:
        for (int64_t i = 0; i < numel; i++)
            keep[i] = m[i] != 0;
        break;
    case SP_CHANNEL: {
        int64_t channels, inner;
        IrQuant layout = {.axis = sp->axis};
        ir_quant_layout(&layout, &w->shape, &channels, &inner);
        for (int64_t i = 0; i < numel; i++)
            keep[i] = m[(i / inner) % channels] != 0;
        break;
    }
    case SP_BLOCK: {
        int64_t trows, tcols;
        ir_block_grid(&w->shape, sp->block, &trows, &tcols);
        for (int64_t o = 0; o < out; o++)
            for (int64_t j = 0; j < k; j++)
                keep[o * k + j] = m[(j / sp->block[0]) * tcols + o / sp->block[1]] != 0;
        break;
    }
    default: memset(keep, 1, (size_t)numel);
    }
}

int64_t prune_count_nonzero(const IrValue *w)
{
    const float *x = pass_f32_data(w);
    int64_t numel = shape_numel(&w->shape), nz = 0;
    for (int64_t i = 0; x && i < numel; i++)
        nz += x[i] != 0.0f;
    return nz;
}

void prune_apply_mask(IrGraph *g, IrValue *w, const PruneSpec *spec, const uint8_t *keep,
                      const uint8_t *tile_keep)
{
    float *x = w->data->data;
    int64_t numel = shape_numel(&w->shape);
    for (int64_t i = 0; i < numel; i++)
        if (!keep[i])
            x[i] = 0.0f;

    /* A block mask over an earlier mask cannot say which elements of a
     * kept tile the earlier one removed: the result is an element mask. An
     * n:m mask chosen among kept weights still has at most n per group. */
    IrSparsity *old = w->sparsity;
    SparsityKind kind = spec->kind;
    if (old && kind == SP_BLOCK)
        kind = SP_ELEMENT;
    if (old && kind == SP_ELEMENT && old->kind == SP_NM)
        kind = SP_NM; /* a subset of an n:m mask is n:m */

    IrSparsity *sp = arena_alloc(g->arena, sizeof *sp);
    *sp = (IrSparsity){.kind = kind, .axis = 0};
    if (kind == SP_NM) {
        bool from_old = spec->kind != SP_NM;
        sp->n = from_old ? old->n : spec->n;
        sp->m = from_old ? old->m : spec->m;
    }
    Shape mshape = w->shape;
    if (kind == SP_BLOCK) {
        memcpy(sp->block, spec->block, sizeof sp->block);
        int64_t trows, tcols;
        ir_block_grid(&w->shape, spec->block, &trows, &tcols);
        mshape = (Shape){2, {trows, tcols}};
    }
    Tensor *t = tensor_new(DT_U8, &mshape);
    uint8_t *m = t->data;
    int64_t mnumel = shape_numel(&mshape);
    for (int64_t i = 0; i < mnumel; i++)
        m[i] = kind == SP_BLOCK ? tile_keep[i] != 0 : keep[i] != 0;

    IrValue *oldmask = old ? old->mask : NULL;
    w->sparsity = NULL; /* frees the old mask's key when it is "<key>.mask" */
    if (oldmask)
        ir_remove_param(g, oldmask);
    const char *key = pass_fresh_key(g, arena_printf(g->arena, "%s.mask", w->name));
    sp->mask = ir_add_param(g, key, DT_U8, mshape, w->loc);
    ir_bind(sp->mask, t);
    w->sparsity = sp;
}
