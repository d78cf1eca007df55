/*
 * weight_file.c — what a bundle's NAME.weights holds and how
 * NAME_load_weights turns it back into the packed blob (nk.h, "a bundle's
 * weights file"): the blob's bytes, run by run, except each compact region
 * (lower.c: an integer layer with weights below 8 bits), which is stored
 * in its file form and repacked at load time.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

/* The compact entry of weight buffer b, or NULL. */
static const PlanCompact *compact_of(const Plan *p, int b)
{
    for (int i = 0; i < p->ncompact; i++)
        if (p->compact[i].buf == b)
            return &p->compact[i];
    return NULL;
}

NkWeightFile *plan_weight_file(const Plan *p, unsigned char **file)
{
    NkWeightFile *t = xcalloc(1, sizeof *t + (size_t)(2 * p->ncompact + 1) * sizeof(NkWeightRegion));
    t->blob_bytes = p->weight_bytes;
    /* Weight buffers are laid out in creation order (lower.c appends), so
     * the blob is raw runs between the compact regions. */
    int64_t raw_from = 0;
    for (int b = 0; b <= p->nbufs; b++) {
        const PlanCompact *c = b < p->nbufs && p->bufs[b].kind == PB_WEIGHT ? compact_of(p, b) : NULL;
        if (b < p->nbufs && !c)
            continue;
        int64_t until = c ? p->bufs[b].offset : p->weight_bytes;
        if (until > raw_from)
            t->region[t->nregions++] = (NkWeightRegion){.file_offset = t->file_bytes, .blob_offset = raw_from,
                                                        .blob_bytes = until - raw_from};
        t->file_bytes += until - raw_from;
        if (!c)
            break;
        t->region[t->nregions++] = (NkWeightRegion){.file_offset = t->file_bytes, .blob_offset = until,
                                                    .blob_bytes = p->bufs[b].bytes, .compact = 1, .q = c->layer};
        t->file_bytes += c->nbytes;
        raw_from = until + p->bufs[b].bytes;
    }
    if (file) {
        *file = xmalloc((size_t)t->file_bytes + 1);
        for (int64_t i = 0; i < t->nregions; i++) {
            const NkWeightRegion *r = &t->region[i];
            const void *src = p->weights + r->blob_offset;
            for (int k = 0; r->compact && k < p->ncompact; k++)
                if (p->bufs[p->compact[k].buf].offset == r->blob_offset)
                    src = p->compact[k].bytes;
            memcpy(*file + r->file_offset, src, (size_t)(r->compact ? nk_qlayer_file_bytes(&r->q) : r->blob_bytes));
        }
    }
    return t;
}
