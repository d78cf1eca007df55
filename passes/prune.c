/*
 * prune.c — the prune pass: which weights of which layers to prune, and in
 * what order the granularities run (docs/pruning.md).
 *
 *   netc opt net.net --weights w.safetensors --prune=channel:0.3 -o p.ir
 *   @prune(ratio = 0.9) fc = linear(x, 1000);
 *
 * Every conv2d, linear and mha with a weight is a layer. Its request is the
 * node's @prune (the annotations pass resolved direct over inherited, inner
 * over outer), else the --prune default (PassEnv.prune), else none: a
 * layer with neither is left alone, and so is one whose @prune asks for a
 * ratio of 0. The job goes to the granularities in this order: channels
 * (they change shapes, so every mask is cut from the matrix that remains),
 * then element, n:m and block masks (research/passes.md §2.5). One report
 * covers all of them: a table to PassEnv.prune_report_to and JSON to
 * PassEnv.prune_report.
 *
 * Weights must be bound f32: a request on an unbound or non-f32 weight is
 * an error naming the layer, and nothing is rewritten.
 */
#include "prune_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *prune_layer_name(const IrNode *n) { return n->name ? n->name : op_info(n->op)->name; }

static bool is_layer(const IrNode *n) { return n->op == OP_CONV2D || n->op == OP_LINEAR || n->op == OP_MHA; }

/* Where the @prune that gave n its request was written: the direct one if
 * there is one, else the first inherited. */
static Loc request_loc(const IrNode *n)
{
    Loc inherited = loc_none();
    bool found = false;
    for (int i = 0; i < n->nannot; i++) {
        const IrAnnot *a = &n->annot[i];
        if (strcmp(a->name, "prune"))
            continue;
        if (!a->inherited)
            return a->loc;
        if (!found)
            inherited = a->loc, found = true;
    }
    return inherited;
}

static PruneSpec spec_of_request(const IrRequests *r, const PruneSpec *dflt)
{
    PruneSpec s = {.kind = r->prune_kind, .ratio = r->prune_ratio, .n = r->prune_n, .m = r->prune_m,
                   .norm = dflt ? dflt->norm : 1};
    memcpy(s.block, r->prune_block, sizeof s.block);
    return s;
}

static bool wants_pruning(const PruneSpec *s) { return s->kind == SP_NM || s->ratio > 0; }

/* Appends a layer for every weight of n the request covers. */
static bool add_layer(PruneJob *job, IrNode *n, const PruneSpec *spec, bool annotated, Loc where, int *cap)
{
    bool ok = true;
    int nd = op_data_inputs(n);
    for (int k = nd; k < n->nin; k++) {
        if (op_param_role(n, k - nd) != PR_WEIGHT)
            continue;
        IrValue *w = n->in[k];
        if (!pass_f32_data(w)) {
            diag_error(job->d, annotated ? where : n->loc,
                       "prune: the weight '%s' of %s %s; pruning needs bound f32 weights (--weights)", w->name,
                       prune_layer_name(n), w->data ? "is not f32" : "has no data");
            ok = false;
            continue;
        }
        if (job->nlayers == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            job->layers = realloc(job->layers, (size_t)*cap * sizeof *job->layers);
        }
        job->layers[job->nlayers++] =
            (PruneLayer){.node = n, .weight = w, .spec = *spec, .where = where, .annotated = annotated};
        /* Channel pruning acts on the node, once, not on each weight. */
        if (spec->kind == SP_CHANNEL)
            break;
    }
    return ok;
}

static bool collect(PruneJob *job)
{
    const PassEnv *env = job->env;
    bool ok = true;
    int cap = 0;
    for (int i = 0; i < job->g->nnodes; i++) {
        IrNode *n = job->g->nodes[i];
        if (!is_layer(n))
            continue;
        if (n->req && (n->req->set & REQ_PRUNE)) {
            PruneSpec s = spec_of_request(n->req, env->prune_set ? &env->prune : NULL);
            if (wants_pruning(&s))
                ok = add_layer(job, n, &s, true, request_loc(n), &cap) && ok;
        } else if (env->prune_set && wants_pruning(&env->prune)) {
            ok = add_layer(job, n, &env->prune, false, loc_none(), &cap) && ok;
        }
    }
    return ok;
}

/* A pruned node's @prune is done: dropped from its annotations and
 * requests, so the pruned graph read back (netc opt's .ir) is not pruned a
 * second time. */
static void consume_request(IrNode *n)
{
    int kept = 0;
    for (int i = 0; i < n->nannot; i++)
        if (strcmp(n->annot[i].name, "prune"))
            n->annot[kept++] = n->annot[i];
    n->nannot = kept;
    if (n->req)
        n->req->set &= ~(unsigned)REQ_PRUNE;
    if (n->req && !n->req->set)
        n->req = NULL;
}

bool pass_prune(IrGraph *g, const PassArgs *args, Diag *d)
{
    PruneJob job = {.g = g, .d = d, .env = pass_env(args)};
    bool ok = collect(&job);
    if (ok && job.nlayers == 0) {
        free(job.layers);
        return true;
    }
    job.report = prune_report_new(g);
    ok = ok && prune_channels(&job) && prune_magnitude(&job) && prune_nm(&job) && prune_blocks(&job);
    ok = ok && prune_report_emit(job.report, g, job.env->prune_report_to, job.env->prune_report, d);
    for (int i = 0; ok && i < job.nlayers; i++)
        consume_request(job.layers[i].node);
    prune_report_free(job.report);
    free(job.layers);
    return ok;
}

/* "0.5" as a ratio in [0, 1); false with a message. */
static bool parse_ratio(const char *s, double *r, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= 0 && v < 1)) {
        snprintf(err, errlen, "the ratio '%s' must be a number in [0, 1), the fraction removed", s);
        return false;
    }
    *r = v;
    return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* "128x64" -> rows 128, cols 64. */
static bool parse_xbar(const char *s, int block[2])
{
    char a[32], b[32];
    const char *x = strchr(s, 'x');
    if (!x || x - s >= (ptrdiff_t)sizeof a || strlen(x + 1) >= sizeof b)
        return false;
    memcpy(a, s, (size_t)(x - s));
    a[x - s] = '\0';
    strcpy(b, x + 1);
    return parse_int(a, 1, 1 << 20, &block[0]) && parse_int(b, 1, 1 << 20, &block[1]);
}

bool pass_prune_spec_parse(const char *text, const char *xbar, PruneSpec *spec, char *err, size_t errlen)
{
    char buf[256];
    if (strlen(text) >= sizeof buf) {
        snprintf(err, errlen, "'%.40s...' is too long", text);
        return false;
    }
    strcpy(buf, text);
    char *field[5];
    int nf = 0;
    for (char *p = buf, *tok; nf < 5 && (tok = strsep(&p, ":"));)
        field[nf++] = tok;
    *spec = (PruneSpec){.norm = 1, .block = {128, 128}};
    spec->kind = ir_sparsity_lookup(field[0]);
    if (spec->kind == SP__COUNT) {
        snprintf(err, errlen, "unknown granularity '%s' (expected element, nm, channel or block)", field[0]);
        return false;
    }
    if (xbar && !parse_xbar(xbar, spec->block)) {
        snprintf(err, errlen, "--xbar '%s' is not ROWSxCOLS", xbar);
        return false;
    }
    if (spec->kind == SP_NM) {
        spec->n = 2, spec->m = 4;
        if (nf == 2 || nf > 3) {
            snprintf(err, errlen, "'%s': n:m pruning is written nm or nm:N:M", text);
            return false;
        }
        if (nf == 3 && (!parse_int(field[1], 1, 15, &spec->n) || !parse_int(field[2], 2, IR_NM_MAX_M, &spec->m))) {
            snprintf(err, errlen, "'%s': N and M must be integers with 0 < N < M <= %d", text, IR_NM_MAX_M);
            return false;
        }
        if (spec->n >= spec->m) {
            snprintf(err, errlen, "'%s': N must be less than M (N:M keeps N of every M weights)", text);
            return false;
        }
        spec->ratio = 1.0 - (double)spec->n / spec->m;
        return true;
    }
    if (nf < 2) {
        snprintf(err, errlen, "'%s' needs a ratio: %s:R with R in [0, 1)", text, field[0]);
        return false;
    }
    if (!parse_ratio(field[1], &spec->ratio, err, errlen))
        return false;
    for (int i = 2; i < nf; i++) {
        const char *f = field[i];
        if (!strcmp(f, "global") && (spec->kind == SP_ELEMENT || spec->kind == SP_CHANNEL))
            spec->global = true;
        else if ((!strcmp(f, "l1") || !strcmp(f, "l2")) && (spec->kind == SP_CHANNEL || spec->kind == SP_BLOCK))
            spec->norm = f[1] - '0';
        else if (spec->kind == SP_BLOCK && parse_xbar(f, spec->block))
            ;
        else {
            snprintf(err, errlen, "'%s': unknown setting '%s' for %s pruning (%s)", text, f, field[0],
                     spec->kind == SP_ELEMENT   ? "global"
                     : spec->kind == SP_CHANNEL ? "global, l1 or l2"
                                                : "l1, l2 or ROWSxCOLS");
            return false;
        }
    }
    return true;
}
