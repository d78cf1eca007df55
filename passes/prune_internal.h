/*
 * prune_internal.h — what the files of the prune pass share (docs/pruning.md).
 *
 * passes/prune.c is the pass: it collects, in graph order, every weighted
 * layer (conv2d, linear, mha) that @prune or the --prune default asks to
 * prune, checks each request against its layer, and hands the job to one
 * file per granularity, channels first (they change shapes, and the masks
 * are cut from the shrunk matrices, research/passes.md §2.5):
 *
 *   prune_channel.c    physical channel / filter removal over dependency groups
 *   prune_magnitude.c  unstructured: the floor(r·n) smallest |w|, per layer or global
 *   prune_nm.c         n:m along the reduction dimension
 *   prune_block.c      whole crossbar tiles of the [in·kh·kw, out] matrix
 *
 * Every one of them adds what it did to the report (prune_report.c), which
 * prints a table and writes JSON. Masks go through prune_mask.c, so masks
 * compose: pruning an already-masked weight ranks only what is still kept.
 */
#ifndef NETC_PRUNE_INTERNAL_H
#define NETC_PRUNE_INTERNAL_H

#include "pass_internal.h"

#include <stdint.h>
#include <stdio.h>

/* One weight of one layer that a request asks to prune. */
typedef struct PruneLayer {
    IrNode *node;
    IrValue *weight;      /* the weight parameter (mha: in_proj, then out_proj) */
    PruneSpec spec;       /* what to do: the annotation's, else the --prune default */
    Loc where;            /* the @prune that asked (loc_none() for the --prune default) */
    bool annotated;       /* spec came from an annotation on the node or its blocks */
} PruneLayer;

typedef struct PruneReport PruneReport;

typedef struct PruneJob {
    IrGraph *g;
    Diag *d;
    const PassEnv *env;
    PruneLayer *layers;   /* every request, graph order; a granularity reads its own kind */
    int nlayers;
    PruneReport *report;
} PruneJob;

/* Each returns false after reporting an error to job->d; on an error in a
 * request nothing of the graph has been changed by that granularity. */
bool prune_channels(PruneJob *job);   /* prune_channel.c: spec.kind == SP_CHANNEL */
bool prune_magnitude(PruneJob *job);  /* prune_magnitude.c: SP_ELEMENT */
bool prune_nm(PruneJob *job);         /* prune_nm.c: SP_NM */
bool prune_blocks(PruneJob *job);     /* prune_block.c: SP_BLOCK */

/* The layer's name for messages and the report (its instance path, else the op). */
const char *prune_layer_name(const IrNode *n);

/* ---- prune_rank.c ---- */

/*
 * Marks in removed[n] the k lowest scores among the entries with
 * eligible[i] (NULL: all), the one ranking every granularity uses: scores
 * ascending, and among equal scores the higher index goes first, so of two
 * equal weights the earlier one is kept. Scores must be >= 0 and k at most
 * the eligible count; n below 2^32.
 */
void prune_rank_lowest(const float *score, const uint8_t *eligible, int64_t n, int64_t k, uint8_t *removed);
/* floor(ratio · n), exact for ratios written with few decimals (0.3 · 10
 * is 3, not 2): the count every granularity removes. */
int64_t prune_count(double ratio, int64_t n);
/* MACs that weight w of layer n takes part in: each element of w is used
 * once per output position (conv2d) or per row of the input (linear, mha). */
int64_t prune_weight_macs(const IrNode *n, const IrValue *w);

/* ---- prune_mask.c ---- */

/* The keep mask now in force on w (its sparsity mask's data, 1 = kept),
 * expanded to one byte per element of w, into keep[numel(w)]; all ones when
 * w is dense. For a block or channel mask each element gets its tile's or
 * channel's flag. */
void prune_current_keep(const IrValue *w, uint8_t *keep);
/*
 * Applies keep[numel(w)] to w: zeroes the removed weights in its data and
 * sets w->sparsity to kind (with nm or block from spec) and a u8 mask
 * parameter "<key>.mask" (a fresh key if taken; an existing mask of w is
 * replaced and removed). For SP_BLOCK, tile_keep is the tile grid's flags
 * (the mask stored); keep is still per element. The combined kind of a
 * weight masked twice is the later one's only when the earlier mask is
 * implied by it, else "element" (the verifier's rules must hold).
 */
void prune_apply_mask(IrGraph *g, IrValue *w, const PruneSpec *spec, const uint8_t *keep,
                      const uint8_t *tile_keep);
/* Nonzero weights of w's bound data (f32), and its element count. */
int64_t prune_count_nonzero(const IrValue *w);

/* ---- prune_report.c ---- */

/* One row of the report: a layer (masks) or a group (channels). */
typedef struct PruneEntry {
    const char *name;          /* layer, or the group's first producer */
    SparsityKind kind;
    const char *const *members; /* channels: every layer / parameter in the group */
    int nmembers;
    const int64_t *kept;       /* channels: kept indices (of width_before), ascending */
    int64_t nkept, width_before;
    int64_t weights, nonzeros_before, nonzeros_after; /* masks: of this weight */
    int64_t params_before, params_after;   /* of the members (channels) or the layer */
    int64_t macs_before, macs_after;       /* masks: MACs × nonzero fraction */
    int64_t xbars_before, xbars_after;     /* block: crossbar tiles, nonempty */
    const char *note;          /* left alone, and why; NULL when pruned */
    const char *remark;        /* pruned, with a caveat (channels: the requests' ratios differed), or NULL */
} PruneEntry;

PruneReport *prune_report_new(IrGraph *g);
/* Copies e (and its arrays) into the report. */
void prune_report_add(PruneReport *r, const PruneEntry *e);
/* Adds the row of a masked weight l->weight that had nz_before nonzeros:
 * params are nonzeros, MACs the layer's share scaled by the nonzero
 * fraction (crossbar columns are left to the caller). Returns the row. */
PruneEntry *prune_report_masked(PruneJob *job, const PruneLayer *l, int64_t nz_before);
/* The table to out and, with path, the JSON written atomically; false after
 * reporting a write error to d. */
bool prune_report_emit(const PruneReport *r, const IrGraph *g, FILE *out, const char *path, Diag *d);
void prune_report_free(PruneReport *r);

#endif
