/*
 * weights.c — the commands that move tensors: `init` writes deterministic
 * weights for a network, `run` reads inputs and executes the reference
 * interpreter or, with --backend=llvm, JIT-compiled native code on the
 * graph netc_pipeline bound and optimized.
 */
#include "../backends/llvm/llvm_backend.h"
#include "../runtime/init.h"
#include "../runtime/interp.h"
#include "../runtime/npy.h"
#include "../runtime/safetensors.h"
#include "../runtime/weights.h"
#include "commands.h"
#include "run_batches.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_init(Session *s)
{
    if (!s->cli->output) {
        fprintf(stderr, "netc: error: init needs -o FILE.safetensors\n");
        return EXIT_USAGE;
    }
    if (s->cli->passes || s->cli->opt_level_given || s->cli->prune) {
        fprintf(stderr, "netc: error: init writes the source's parameters; it runs no passes "
                        "(--passes, -O, --prune): optimize with 'netc opt'\n");
        return EXIT_USAGE;
    }
    IrGraph *g = netc_pipeline(s, false);
    if (!g)
        return EXIT_INPUT;
    bool ok = rt_init_weights(g, s->cli->seed, s->diag);
    if (ok) {
        TensorList w = {0};
        ok = rt_weights_export(g, &w, s->diag);
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->cli->seed);
        rt_tlist_set_meta(&w, "netc.net", g->name);
        rt_tlist_set_meta(&w, "netc.seed", seed);
        ok = ok && rt_safetensors_write(s->cli->output, &w, s->diag);
        rt_tlist_free(&w);
    }
    ir_graph_free(g);
    return ok ? EXIT_OK : EXIT_INPUT;
}

/* Reads one .npy per graph input: --input NAME=FILE by name, plain --input
 * FILE in the order the inputs are declared. */
bool netc_read_inputs(Session *s, const IrGraph *g, Tensor **in)
{
    const Cli *cli = s->cli;
    int positional = 0;
    bool ok = true;
    for (int k = 0; k < cli->ninputs; k++) {
        const CliNamedPath *p = &cli->inputs[k];
        int slot = -1;
        if (p->name) {
            for (int i = 0; i < g->ninputs; i++)
                if (!strcmp(g->inputs[i]->name, p->name))
                    slot = i;
            if (slot < 0) {
                diag_error(s->diag, loc_none(), "--input %s=%s: the net has no input '%s'", p->name, p->path, p->name);
                ok = false;
                continue;
            }
        } else {
            slot = positional++;
            if (slot >= g->ninputs) {
                diag_error(s->diag, loc_none(), "--input %s: the net has only %d input%s", p->path, g->ninputs,
                           g->ninputs == 1 ? "" : "s");
                ok = false;
                continue;
            }
        }
        if (in[slot]) {
            diag_error(s->diag, loc_none(), "input '%s' given twice", g->inputs[slot]->name);
            ok = false;
            continue;
        }
        in[slot] = rt_npy_read(p->path, s->diag);
        ok &= in[slot] != NULL;
    }
    for (int i = 0; i < g->ninputs && ok; i++)
        if (!in[i]) {
            diag_error(s->diag, loc_none(), "no tensor for input '%s' (give --input %s=FILE.npy)", g->inputs[i]->name,
                       g->inputs[i]->name);
            ok = false;
        }
    return ok;
}

/* Without an output file, shows the output's shape and largest entries. */
static void summarize(const char *name, const Tensor *t)
{
    char buf[160];
    printf("%s: %s%s", name, dtype_name(t->dtype), shape_str(&t->shape, buf, sizeof buf));
    const float *x = t->data;
    int64_t n = tensor_numel(t);
    int top[5], ntop = 0;
    for (int k = 0; k < 5 && k < n; k++) {
        int best = -1;
        for (int64_t i = 0; i < n; i++) {
            bool taken = false;
            for (int j = 0; j < ntop; j++)
                taken |= top[j] == i;
            if (!taken && (best < 0 || x[i] > x[best]))
                best = (int)i;
        }
        top[ntop++] = best;
    }
    printf("  top-%d:", ntop);
    for (int k = 0; k < ntop; k++)
        printf(" [%d]=%.6g", top[k], x[top[k]]);
    printf("\n");
}

bool netc_write_outputs(Session *s, const IrGraph *g, Tensor **out)
{
    const Cli *cli = s->cli;
    if (cli->output && g->noutputs > 1) {
        diag_error(s->diag, loc_none(), "the net has %d outputs; name a file for each with --output NAME=FILE",
                   g->noutputs);
        return false;
    }
    bool ok = true;
    for (int k = 0; k < cli->noutputs; k++) {
        bool known = false;
        for (int i = 0; i < g->noutputs; i++)
            known |= !strcmp(g->outputs[i].name, cli->outputs[k].name);
        if (!known) {
            diag_error(s->diag, loc_none(), "--output %s: the net has no output '%s'", cli->outputs[k].name,
                       cli->outputs[k].name);
            ok = false;
        }
    }
    for (int i = 0; i < g->noutputs && ok; i++) {
        const char *path = g->noutputs == 1 ? cli->output : NULL;
        for (int k = 0; k < cli->noutputs; k++)
            if (!strcmp(cli->outputs[k].name, g->outputs[i].name))
                path = cli->outputs[k].path;
        if (path)
            ok = rt_npy_write(path, out[i], s->diag);
        else
            summarize(g->outputs[i].name, out[i]);
    }
    return ok;
}

LlvmOptions netc_llvm_options(const Cli *cli)
{
    return (LlvmOptions){.cpu = cli->cpu, .features = cli->features, .triple = cli->target,
                         .threads = cli->threads, .opt_level = cli->opt_level,
                         .embed_weights = cli->embed_weights, .time_to = cli->time_passes ? stderr : NULL};
}

/* One batch through the reference interpreter or compiled code. */
typedef struct Runner {
    const IrGraph *g;
    LlvmJit *jit; /* NULL: the reference interpreter */
    Diag *d;
} Runner;

static bool run_once(void *ctx, Tensor **in, Tensor **out)
{
    Runner *r = ctx;
    return r->jit ? llvm_jit_run(r->jit, in, out, r->d) : rt_interp_run(r->g, in, out, r->d);
}

int cmd_run(Session *s)
{
    IrGraph *g = netc_pipeline(s, true);
    if (!g)
        return EXIT_INPUT;
    bool native = s->cli->backend && !strcmp(s->cli->backend, "llvm");
    Tensor **in = xcalloc((size_t)g->ninputs + 1, sizeof *in);
    Tensor **out = xcalloc((size_t)g->noutputs + 1, sizeof *out);
    Runner r = {.g = g, .d = s->diag};
    bool ok = netc_read_inputs(s, g, in);
    if (ok && native) {
        LlvmOptions o = netc_llvm_options(s->cli);
        ok = (r.jit = llvm_jit_compile(g, &o, s->diag)) != NULL;
    }
    int batches = ok ? netc_batches_in(g, in) : 1;
    if (ok)
        ok = batches > 1 ? netc_run_batches(g, in, batches, out, run_once, &r, s->diag) : run_once(&r, in, out);
    ok = ok && netc_write_outputs(s, g, out);
    llvm_jit_free(r.jit);
    for (int i = 0; i < g->ninputs; i++)
        tensor_free(in[i]);
    for (int i = 0; i < g->noutputs; i++)
        tensor_free(out[i]);
    free(in);
    free(out);
    ir_graph_free(g);
    return ok ? EXIT_OK : EXIT_INPUT;
}
