/*
 * pass.h — the pass manager and the passes (one per file in passes/).
 *
 * A pass rewrites an IrGraph in place through the rewriting API of ir.h
 * (ir_rewrite.c), never by poking fields, so use lists stay exact and the
 * verifier can run between passes (QBE's ssacheck; on with --verify-each and
 * always in the test build). Passes that change weights (fold-bn,
 * fold-constants) need the parameters bound and say so when they are not.
 *
 * Pipelines are written as text, the way LLVM's opt takes them:
 *
 *   --passes=fold-bn,remove-identity,dce
 *   --passes='fold-constants(max-bytes=1048576),dce'
 *
 * Each pass declares its options ("name:int=default" with a range); a
 * pipeline with an unknown pass (the message lists the known ones) or an
 * option out of range is reported as `--passes:1:COL: error: ...` with the
 * text quoted and a caret, before anything runs. Every -O level has a
 * default pipeline (pass_pipeline_default).
 *
 * The table of passes (name, run function, option spec, one-line help) is
 * one array in pass_manager.c.
 */
#ifndef NETC_PASS_H
#define NETC_PASS_H

#include "../ir/ir.h"

#include <stdio.h>

/* The options one pass was given, parsed and range-checked against its
 * spec; passes read them with pass_opt_int (every option has a default). */
typedef struct PassArgs PassArgs;
int64_t pass_opt_int(const PassArgs *a, const char *name);

/* What a budget for the quantize pass limits (--quant-budget). */
typedef enum {
    QUANT_BUDGET_NONE,
    QUANT_BUDGET_MIB,      /* model size in MiB (2^20 bytes), every parameter counted */
    QUANT_BUDGET_AVG_BITS, /* mean bits per quantized weight */
    QUANT_BUDGET_BOPS,     /* Σ MACs · weight bits · activation bits of the weighted layers */
} QuantBudgetKind;

/*
 * What the prune pass does to one layer (an @prune, or the --prune default
 * for every weighted layer without one; docs/pruning.md).
 */
typedef struct PruneSpec {
    SparsityKind kind;
    double ratio;   /* fraction removed, [0, 1); nm: 1 - n/m */
    int n, m;       /* SP_NM: n kept of every m, 0 < n < m <= 16 */
    int block[2];   /* SP_BLOCK: crossbar rows (over in*kh*kw) and columns (over out) */
    bool global;    /* element, channel: one ranking over every layer the default covers */
    int norm;       /* channel, block importance: 1 (L1, the default) or 2 (L2) */
} PruneSpec;

/*
 * Inputs of passes that are not small integers: data and files the driver
 * reads from its command line (calibration batches, a budget, where a report
 * goes). Every pass of a run sees the same environment; most ignore it.
 */
typedef struct PassEnv {
    Tensor *const *calib;    /* calibration batches for the graph's input */
    const char *const *calib_files; /* where each came from, for messages */
    int ncalib;
    QuantBudgetKind budget_kind;
    double budget;
    const char *budget_text; /* as written, for messages */
    const char *quant_report; /* JSON report path, or NULL */
    FILE *report_to;          /* the report as a table, or NULL */
    bool prune_set;           /* --prune given: prune is the default spec */
    PruneSpec prune;
    const char *prune_report; /* JSON report path, or NULL */
    FILE *prune_report_to;    /* the prune report as a table, or NULL */
} PassEnv;
/* The environment of the running pass (an empty one when none was given). */
const PassEnv *pass_env(const PassArgs *a);
/* Parses a --quant-budget value: "4MiB" (also KiB), "5bits" (average),
 * "30GBOPs" (also K, M, T or none); false with a message. */
bool pass_quant_budget_parse(const char *text, PassEnv *env, char *err, size_t errlen);

/* Parses a --prune value: "element:0.5", "element:0.9:global",
 * "nm" (2:4), "nm:1:4", "channel:0.3", "channel:0.3:l2", "block:0.5",
 * "block:0.5:64x128" (rows x columns; default xbar, "RxC" text or NULL for
 * 128x128); false with a message. */
bool pass_prune_spec_parse(const char *text, const char *xbar, PruneSpec *spec, char *err,
                           size_t errlen);

typedef struct PassInfo {
    const char *name;
    /* Rewrites g; false after reporting to d (the graph may be half
     * rewritten but still verifies, or the pipeline stops). */
    bool (*run)(IrGraph *g, const PassArgs *args, Diag *d);
    const char *options; /* "name:int:min..max=default ..." or "" */
    const char *help;    /* one line for `netc --help` and docs/passes.md */
} PassInfo;

/* Every pass, in the order `netc --help` lists them. */
const PassInfo *pass_table(int *count);
const PassInfo *pass_lookup(const char *name);

typedef struct PassPipeline PassPipeline;

/* Parses a pipeline; NULL after reporting errors to d against the source
 * name "--passes" (registered with d so the text is quoted). */
PassPipeline *pass_pipeline_parse(const char *text, Diag *d);
/* The default pipeline of an -O level (0: none; 3 is 2's pipeline). */
PassPipeline *pass_pipeline_default(int opt_level);
/* An empty pipeline, and appending a pass with its default options: for
 * passes outside the table (a test's deliberately broken pass, a plugin),
 * which pipeline text cannot name. */
PassPipeline *pass_pipeline_new(void);
void pass_pipeline_append(PassPipeline *p, const PassInfo *pass);
/* The same at the front (the driver puts `prune` first when asked for). */
void pass_pipeline_prepend(PassPipeline *p, const PassInfo *pass);
/* Whether p runs the pass named name. */
bool pass_pipeline_has(const PassPipeline *p, const char *name);
void pass_pipeline_free(PassPipeline *p);
/* The pipeline as text, as pass_pipeline_parse reads it ("" when empty). */
const char *pass_pipeline_text(const PassPipeline *p);
/* How many passes it runs. */
int pass_pipeline_length(const PassPipeline *p);

typedef struct PassRunOptions {
    bool verify_each;         /* ir_verify after every pass; a failure names the pass */
    const char *print_after;  /* a pass name, "all", or NULL */
    FILE *print_to;           /* where --print-after writes the IR (stderr) */
    bool time_passes;         /* per-pass wall time table, like LLVM's -time-passes */
    FILE *time_to;
    const PassEnv *env;       /* what pass_env gives the passes; NULL: empty */
} PassRunOptions;

/* Runs p's passes in order on g; false after reporting to d. Ends with
 * ir_compact so ids are dense for the backends. */
bool pass_pipeline_run(const PassPipeline *p, IrGraph *g, const PassRunOptions *o, Diag *d);

#endif
