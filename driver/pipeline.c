/*
 * pipeline.c — what every command does before it acts, in one place, in
 * the order it happens:
 *
 *   load     a .net through the front end, or IR text (.ir, as ir_print
 *            writes it and `netc opt` saves it)
 *   verify
 *   annotate the source's @prune/@precision/... become typed requests on the
 *            nodes they apply to (passes/annotations.c), always: a bad
 *            annotation is an error of the file, whatever the pipeline
 *   bind     --weights (required by the commands that compute numbers)
 *   passes   --passes, else the default pipeline of the -O level
 *   verify
 *
 * The commands (main.c, weights.c, build.c, opt.c) then only act on the
 * graph: print it, count it, initialize, interpret, JIT or build it.
 */
#include "../passes/annotations.h"
#include "../passes/pass.h"
#include "../runtime/npy.h"
#include "../runtime/safetensors.h"
#include "../runtime/weights.h"
#include "../support/fileio.h"
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

bool netc_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void netc_ir_hash(const char *text, size_t len, char out[NETC_IR_HASH_LEN + 1])
{
    snprintf(out, NETC_IR_HASH_LEN + 1, "%016llx", (unsigned long long)XXH3_64bits(text, len));
}

/* The input's graph as written, its messages to d. */
static IrGraph *source_graph(Session *s, Diag *d)
{
    if (!s->ir_text)
        return elab_file(s->arena, d, s->cli->file, &s->cli->elab);
    return ir_parse(s->cli->file, s->ir_text, s->ir_len, d);
}

/* The second load of a file the first one accepted: its warnings were
 * printed then, so this one's go nowhere (quoting a place in the file still
 * works: s->diag has its text from the first load). */
IrGraph *netc_source_graph(Session *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *sink = open_memstream(&text, &len);
    Diag *quiet = sink ? diag_new(sink) : NULL;
    IrGraph *g = quiet ? source_graph(s, quiet) : NULL;
    if (!g)
        diag_error(s->diag, loc_none(), "cannot load %s a second time", s->cli->file);
    diag_free(quiet);
    if (sink)
        fclose(sink);
    free(text);
    return g;
}

/* Builds the graph from a .net file, or parses IR text from a .ir file
 * (kept in s->ir_text for the weights' hash check). */
static IrGraph *load(Session *s)
{
    if (netc_has_suffix(s->cli->file, ".ir")) {
        size_t len;
        char *text = fio_read_all(s->cli->file, 1u << 30, &len, s->diag);
        if (!text)
            return NULL;
        char *kept = arena_strndup(s->arena, text, len);
        free(text);
        diag_add_source(s->diag, s->cli->file, kept, len);
        s->ir_text = kept;
        s->ir_len = len;
    }
    return source_graph(s, s->diag);
}

/* Weights that `netc opt` wrote carry the hash of the IR text written with
 * them. Binding them to other text is an error, not a warning: the keys
 * may still match (a pass changed values, not names) and the numbers would
 * be silently wrong. Weights without the key (from `netc init`, PyTorch)
 * bind to any IR whose keys match. */
static bool check_ir_hash(Session *s, const TensorList *w)
{
    const char *want = rt_tlist_get_meta(w, "netc.ir_hash");
    if (!s->ir_text || !want)
        return true;
    char got[NETC_IR_HASH_LEN + 1];
    netc_ir_hash(s->ir_text, s->ir_len, got);
    if (!strcmp(want, got))
        return true;
    const char *ir = rt_tlist_get_meta(w, "netc.ir");
    diag_file_error(s->diag, s->cli->weights,
                    "these weights were written for %s (netc.ir_hash %s), but %s hashes to %s: the IR changed "
                    "since 'netc opt' wrote them", ir ? ir : "another IR", want, s->cli->file, got);
    diag_note(s->diag, loc_none(),
              "regenerate both files with 'netc opt', or delete netc.ir_hash from the __metadata__ of %s to bind "
              "it anyway", s->cli->weights);
    return false;
}

/* Binds --weights to g; without it, fails only if required and g has
 * parameters. */
static bool bind(Session *s, IrGraph *g, bool required)
{
    const char *path = s->cli->weights;
    if (!path) {
        if (!required || g->nparams == 0)
            return true;
        diag_error(s->diag, loc_none(), "the net has %d learned parameters; give them with --weights "
                   "FILE.safetensors (or create some with 'netc init')", g->nparams);
        return false;
    }
    TensorList w = {0};
    bool ok = rt_safetensors_read(path, &w, true, s->diag) && check_ir_hash(s, &w) &&
              rt_weights_bind(g, &w, path, true, s->diag);
    rt_tlist_free(&w);
    return ok;
}

/*
 * The -O level whose default pipeline runs when --passes is not given.
 * An explicit -O always picks it. Otherwise only the commands that compile
 * native code optimize (at the LLVM default, -O3): the reference
 * interpreter is the oracle every backend and pass is tested against, so
 * `run` computes the graph as written; check/dump/dot/stats describe the
 * file as written; init must see the source's parameters (a folded graph
 * has other ones). `opt` exists to optimize, so it behaves like build.
 */
static int default_level(const Cli *cli)
{
    if (cli->opt_level_given)
        return cli->opt_level;
    bool native = !strcmp(cli->command, "build") || !strcmp(cli->command, "opt") ||
                  (!strcmp(cli->command, "run") && cli->backend && !strcmp(cli->backend, "llvm"));
    return native ? cli->opt_level : 0;
}

/* The pipeline to run, or NULL after reporting a bad --passes or
 * --print-after. */
static PassPipeline *pipeline(Session *s)
{
    const Cli *cli = s->cli;
    if (cli->print_after && strcmp(cli->print_after, "all") && !pass_lookup(cli->print_after)) {
        diag_error(s->diag, loc_none(), "--print-after %s: there is no pass named '%s'", cli->print_after,
                   cli->print_after);
        return NULL;
    }
    return cli->passes ? pass_pipeline_parse(cli->passes, s->diag) : pass_pipeline_default(default_level(cli));
}

/* The passes' environment from the command line: calibration batches read
 * (each file named in its errors), the budget parsed; false after
 * reporting. */
static bool pass_env_from_cli(Session *s, PassEnv *env, Tensor **calib)
{
    const Cli *cli = s->cli;
    bool ok = true;
    for (int i = 0; i < cli->ncalib; i++)
        ok = (calib[i] = rt_npy_read(cli->calib[i], s->diag)) && ok;
    *env = (PassEnv){.calib = calib, .calib_files = cli->calib, .ncalib = cli->ncalib,
                     .quant_report = cli->quant_report,
                     .report_to = cli->quant_report ? stderr : NULL};
    char err[512];
    if (cli->quant_budget && !pass_quant_budget_parse(cli->quant_budget, env, err, sizeof err)) {
        diag_error(s->diag, loc_none(), "--quant-budget: %s", err);
        ok = false;
    }
    env->prune_report = cli->prune_report;
    env->prune_report_to = cli->prune_report ? stderr : NULL;
    if (cli->prune) {
        env->prune_set = true;
        if (!pass_prune_spec_parse(cli->prune, cli_pim_option(cli, "xbar"), &env->prune, err, sizeof err)) {
            diag_error(s->diag, loc_none(), "--prune %s: %s", cli->prune, err);
            ok = false;
        }
    }
    return ok;
}

/* Whether some node of g carries an @prune request. */
static bool asks_pruning(const IrGraph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->req && (g->nodes[i]->req->set & REQ_PRUNE))
            return true;
    return false;
}

static bool run_passes(Session *s, PassPipeline *p, IrGraph *g)
{
    /* --prune, and @prune once there are weights to prune, mean pruning
     * without spelling the pass out: it runs first, on the weights as
     * written (before fold-bn changes them), unless the pipeline places
     * it. Without --weights an annotated net is checked, dumped and
     * counted dense, its requests kept (init writes the dense weights). */
    bool auto_prune = s->cli->prune || (asks_pruning(g) && s->cli->weights);
    if (auto_prune && strcmp(s->cli->command, "init") && !pass_pipeline_has(p, "prune"))
        pass_pipeline_prepend(p, pass_lookup("prune"));
    const Cli *cli = s->cli;
    Tensor *calib[CLI_MAX_LIST] = {0};
    PassEnv env;
    bool ok = pass_env_from_cli(s, &env, calib);
    PassRunOptions o = {.verify_each = cli->verify_each, .print_after = cli->print_after, .print_to = stderr,
                        .time_passes = cli->time_passes, .time_to = stderr, .env = &env};
    ok = ok && pass_pipeline_run(p, g, &o, s->diag);
    for (int i = 0; i < cli->ncalib; i++)
        tensor_free(calib[i]);
    return ok;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

IrGraph *netc_pipeline(Session *s, bool want_weights)
{
    PassPipeline *p = pipeline(s); /* first: a typo in --passes costs no loading */
    if (!p)
        return NULL;
    double t0 = now_ms();
    IrGraph *g = load(s);
    bool ok = g && ir_verify(g, s->diag) && pass_annotations(g, s->diag);
    double t1 = now_ms();
    ok = ok && bind(s, g, want_weights);
    double t2 = now_ms();
    if (ok && s->cli->time_passes)
        fprintf(stderr, "===- front end timing report -===\n  %10s  %s\n  %10.3f  %s\n  %10.3f  %s\n", "wall ms",
                "phase", t1 - t0, "parse, elaborate, verify, annotations", t2 - t1, "weights read and bound");
    ok = ok && run_passes(s, p, g) && ir_verify(g, s->diag);
    pass_pipeline_free(p);
    if (!ok) {
        ir_graph_free(g);
        return NULL;
    }
    return g;
}
