/*
 * plan.h — a network lowered to a straight-line list of native-kernel calls
 * (runtime/native/nk.h), with every buffer placed: the target-independent
 * half of the LLVM backend.
 *
 *   lower.c    IrGraph -> Plan: layouts (NHWC for spatial ops), fusion
 *              (batchnorm folded into conv, residual add and activation into
 *              the conv/linear epilogue), packed weights in one blob
 *   memplan.c  activation offsets from liveness, so dead buffers are reused
 *   codegen.c  Plan -> LLVM module (calls with constant descriptors)
 *
 * A Plan owns everything it points to (plan_free), except the IrNodes it
 * names for messages, which belong to the graph.
 */
#ifndef NETC_LLVM_PLAN_H
#define NETC_LLVM_PLAN_H

#include "../../ir/ir.h"
#include "../../runtime/native/nk.h"
#include "../../support/pagebuf.h"

/* Where a buffer lives at run time. */
typedef enum {
    PB_ACT,     /* a region of the activation arena (offset by memplan) */
    PB_WEIGHT,  /* a region of the weight blob */
    PB_INPUT,   /* the caller's input tensor `index` (NCHW, read-only) */
    PB_OUTPUT,  /* the caller's output tensor `index` */
    PB_SCRATCH, /* the shared kernel scratch region (in the arena) */
} PlanBufKind;

typedef struct PlanBuf {
    PlanBufKind kind;
    int index;      /* PB_INPUT/PB_OUTPUT */
    int64_t bytes;
    int64_t offset; /* PB_ACT/PB_WEIGHT: byte offset in the arena/blob */
    int first, last; /* PB_ACT: steps that define and last read it */
} PlanBuf;

/* A pointer argument: buffer + element offset, or NULL (buf < 0). */
typedef struct PlanArg {
    int buf;
    int64_t elem;
} PlanArg;

enum { PLAN_MAX_ARGS = 6 };

typedef struct PlanStep {
    const char *kernel;   /* nk_* function name */
    void *desc;           /* descriptor bytes (one of the Nk* structs), owned */
    size_t desc_bytes;
    int nargs;            /* pointer arguments after the descriptor */
    PlanArg args[PLAN_MAX_ARGS];
    const IrNode *node;   /* the IR node this step implements (a chain's head) */
    int64_t flops;        /* 2 * MACs, for profiles */
    int64_t weight_bytes; /* packed weights it reads, for bandwidth in profiles */
} PlanStep;

/* A weight region stored compactly in a bundle's weights file: an integer
 * layer with weights below 8 bits (nk.h, "a bundle's weights file"). */
typedef struct PlanCompact {
    int buf;              /* the PB_WEIGHT region it rebuilds */
    NkQLayerFile layer;
    unsigned char *bytes; /* its file form, owned */
    int64_t nbytes;
} PlanCompact;

typedef struct Plan {
    PlanStep *steps;
    int nsteps, cap_steps;
    PlanBuf *bufs;
    int nbufs, cap_bufs;
    unsigned char *weights; /* the packed weight blob: weight_mem.data, page-aligned */
    int64_t weight_bytes;
    PageBuf weight_mem;
    int64_t act_bytes;      /* activation arena size, scratch included */
    int64_t scratch_bytes;
    int scratch_buf;
    int threads;            /* scratch is sized for this many threads */
    int isa;                /* the NkIsa of the kernels the weights are packed for */
    PlanCompact *compact;   /* compact regions, in blob order */
    int ncompact, cap_compact;
} Plan;

/*
 * Lowers g (every parameter bound) for up to `threads` threads and the
 * kernels of one instruction set (an NkIsa: weights are packed and scratch
 * sized for its tiling). Reports
 * anything the backend cannot do to d, naming the layer and its source
 * location, and returns NULL.
 */
Plan *plan_lower(const IrGraph *g, int threads, int isa, Diag *d);
void plan_free(Plan *p);
/* Whether lower.c has a lowering for op (its dispatch table has an entry). */
bool llvm_lowers_op(OpKind op);

/* memplan.c: assigns PB_ACT offsets and act_bytes from the live ranges. */
void plan_place_activations(Plan *p);

/* weight_file.c: the layout of the bundle's weights file — the blob's
 * bytes with the compact regions replaced by their file form. Returns the
 * region table (free) and, when file is not NULL, the file's bytes (free). */
NkWeightFile *plan_weight_file(const Plan *p, unsigned char **file);

#endif
