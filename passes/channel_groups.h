/*
 * channel_groups.h — which channels of a graph must be removed together
 * (DepGraph-style dependency groups, research/passes.md §2.3), the analysis
 * prune_channel.c ranks and shrinks.
 *
 * Every value that carries channels has one channel axis, seen as a run of
 * segments, each a contiguous range of one group's index space: a conv's
 * output is one segment of a fresh group, a concat on the channel axis
 * lays its operands' segments end to end, a flatten of N×C×H×W gives each
 * channel H·W consecutive positions (inner). Ops that keep the channel
 * index (batchnorm, activations, pooling, dropout, depthwise convs,
 * layernorm over it, reshape/permute that keep the axis whole) pass the
 * segments through; a residual add (or a concat on another axis) unites
 * its operands' groups, so all of them and the result share one index
 * space; so does an mha, whose input and output widths are its embedding
 * width E (its heads are removed whole, so E keeps a multiple of
 * head_dim). Whatever cannot change width (net inputs and outputs, a
 * grouped conv, an op the analysis does not know) marks its groups fixed,
 * with the reason.
 */
#ifndef NETC_CHANNEL_GROUPS_H
#define NETC_CHANNEL_GROUPS_H

#include "../ir/ir.h"

typedef struct ChanSeg {
    int group;     /* a group index; resolve with chan_find */
    int64_t off;   /* first index of the group's space covered */
    int64_t len;   /* indices covered */
    int64_t inner; /* positions of the axis per channel (flatten: H·W) */
} ChanSeg;

typedef struct ChanInfo {
    int axis; /* the channel axis of the value, -1 when it carries none */
    int nseg;
    ChanSeg *seg;
} ChanInfo;

typedef struct ChanGroup {
    int parent;        /* union-find */
    int64_t width;
    const char *fixed; /* why its width cannot change; NULL when it can */
    IrNode *root;      /* the first layer whose output channels are this space */
    int64_t multiple;  /* the kept width must be a multiple of it (an mha's head_dim) */
} ChanGroup;

typedef struct ChanGraph {
    IrGraph *g;
    Arena *arena;
    ChanInfo *info; /* by value id (g->next_value_id entries) */
    ChanGroup *grp;
    int ngrp, cap;
} ChanGraph;

/* Analyses g (ids must be below g->next_value_id); free with chan_graph_free. */
ChanGraph *chan_graph_build(IrGraph *g);
void chan_graph_free(ChanGraph *cg);
/* The representative of group i. */
int chan_find(ChanGraph *cg, int i);
/* The info of v (axis -1 when none). */
const ChanInfo *chan_info(const ChanGraph *cg, const IrValue *v);
/* The axis length v's info describes: Σ len·inner. */
int64_t chan_info_width(const ChanInfo *ci);
/*
 * The positions of v's channel axis that remain when each group keeps the
 * indices with keep[chan_find(group)][index] != 0, ascending, into pos
 * (room for chan_info_width); returns how many.
 */
int64_t chan_kept_positions(ChanGraph *cg, const ChanInfo *ci, uint8_t *const *keep, int64_t *pos);

#endif
