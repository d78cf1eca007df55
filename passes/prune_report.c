/*
 * prune_report.c — what the prune pass did: one row per pruned weight
 * (masks) or channel group, and the whole graph's parameters and MACs
 * before and after, as a table (--prune-report prints it to stderr) and as
 * JSON written atomically to the --prune-report file. The JSON holds what
 * a PyTorch re-implementation needs to check the pass: every member and the
 * kept channel indices of each group, and the counts per weight
 * (tools/prune_check.py).
 */
#include "prune_internal.h"

#include "../support/fileio.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct PruneReport {
    Arena *arena;
    PruneEntry *e;
    int n, cap;
    IrStats before;
};

PruneReport *prune_report_new(IrGraph *g)
{
    PruneReport *r = xcalloc(1, sizeof *r);
    r->arena = arena_new();
    r->before = ir_stats(g, NULL);
    return r;
}

void prune_report_free(PruneReport *r)
{
    if (!r)
        return;
    arena_free(r->arena);
    free(r->e);
    free(r);
}

void prune_report_add(PruneReport *r, const PruneEntry *e)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 32;
        r->e = xrealloc(r->e, (size_t)r->cap * sizeof *r->e);
    }
    PruneEntry *c = &r->e[r->n++];
    *c = *e;
    c->name = arena_strdup(r->arena, e->name);
    const char **members = arena_alloc(r->arena, (size_t)(e->nmembers + 1) * sizeof *members);
    for (int i = 0; i < e->nmembers; i++)
        members[i] = arena_strdup(r->arena, e->members[i]);
    c->members = members;
    if (e->kept) {
        int64_t *kept = arena_alloc(r->arena, (size_t)(e->nkept + 1) * sizeof *kept);
        memcpy(kept, e->kept, (size_t)e->nkept * sizeof *kept);
        c->kept = kept;
    }
    c->note = e->note ? arena_strdup(r->arena, e->note) : NULL;
    c->remark = e->remark ? arena_strdup(r->arena, e->remark) : NULL;
}

PruneEntry *prune_report_masked(PruneJob *job, const PruneLayer *l, int64_t nz_before)
{
    int64_t numel = shape_numel(&l->weight->shape), nz = prune_count_nonzero(l->weight);
    int64_t macs = prune_weight_macs(l->node, l->weight);
    PruneEntry e = {.name = prune_layer_name(l->node), .kind = l->spec.kind, .members = &l->weight->name,
                    .nmembers = 1, .weights = numel, .nonzeros_before = nz_before, .nonzeros_after = nz,
                    .params_before = nz_before, .params_after = nz,
                    .macs_before = numel ? (int64_t)llround((double)macs * (double)nz_before / (double)numel) : 0,
                    .macs_after = numel ? (int64_t)llround((double)macs * (double)nz / (double)numel) : 0};
    prune_report_add(job->report, &e);
    return &job->report->e[job->report->n - 1];
}

static double pct(int64_t part, int64_t whole) { return whole ? 100.0 * (double)part / (double)whole : 0; }

static void print_table(const PruneReport *r, const IrStats *after, FILE *out)
{
    fprintf(out, "prune: %d rows\n", r->n);
    fprintf(out, "  %-36s %-7s %12s %12s %8s %14s %14s %11s  %s\n", "layer or group", "kind", "params",
            "-> after", "removed", "MACs", "-> after", "tiles", "kept / note");
    for (int i = 0; i < r->n; i++) {
        const PruneEntry *e = &r->e[i];
        char tiles[40] = "-", kept[64] = "";
        if (e->kind == SP_BLOCK)
            snprintf(tiles, sizeof tiles, "%lld->%lld", (long long)e->xbars_before, (long long)e->xbars_after);
        if (e->kind == SP_CHANNEL && !e->note)
            snprintf(kept, sizeof kept, "%lld of %lld channels, %d members", (long long)e->nkept,
                     (long long)e->width_before, e->nmembers);
        const char *last = e->note ? e->note : kept;
        fprintf(out, "  %-36s %-7s %12lld %12lld %7.2f%% %14lld %14lld %11s%s%s%s%s\n", e->name,
                ir_sparsity_name(e->kind), (long long)e->params_before, (long long)e->params_after,
                pct(e->params_before - e->params_after, e->params_before), (long long)e->macs_before,
                (long long)e->macs_after, tiles, *last ? "  " : "", last, e->remark ? "; " : "",
                e->remark ? e->remark : "");
    }
    int64_t pb = 0, pa = 0, mb = 0, ma = 0;
    for (int i = 0; i < r->n; i++)
        pb += r->e[i].params_before, pa += r->e[i].params_after, mb += r->e[i].macs_before,
            ma += r->e[i].macs_after;
    fprintf(out, "  pruned rows: params %lld -> %lld (%.2f%% removed), MACs %lld -> %lld (%.2f%% removed)\n",
            (long long)pb, (long long)pa, pct(pb - pa, pb), (long long)mb, (long long)ma, pct(mb - ma, mb));
    fprintf(out, "  graph (dense shapes): params %lld -> %lld, MACs %lld -> %lld\n", (long long)r->before.params,
            (long long)after->params, (long long)r->before.macs, (long long)after->macs);
}

static json_t *ints_json(const int64_t *v, int64_t n)
{
    json_t *a = json_array();
    for (int64_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *entry_json(const PruneEntry *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(e->name));
    json_object_set_new(o, "kind", json_string(ir_sparsity_name(e->kind)));
    json_t *m = json_array();
    for (int i = 0; i < e->nmembers; i++)
        json_array_append_new(m, json_string(e->members[i]));
    json_object_set_new(o, "members", m);
    if (e->kind == SP_CHANNEL) {
        json_object_set_new(o, "width_before", json_integer(e->width_before));
        json_object_set_new(o, "width_after", json_integer(e->note ? e->width_before : e->nkept));
        json_object_set_new(o, "kept", e->kept ? ints_json(e->kept, e->nkept) : json_null());
    } else {
        json_object_set_new(o, "weights", json_integer(e->weights));
        json_object_set_new(o, "nonzeros_before", json_integer(e->nonzeros_before));
        json_object_set_new(o, "nonzeros_after", json_integer(e->nonzeros_after));
        json_object_set_new(o, "sparsity", json_real(e->weights ? 1.0 - (double)e->nonzeros_after / (double)e->weights : 0));
    }
    if (e->kind == SP_BLOCK) {
        json_object_set_new(o, "tiles_before", json_integer(e->xbars_before));
        json_object_set_new(o, "tiles_after", json_integer(e->xbars_after));
    }
    json_object_set_new(o, "params_before", json_integer(e->params_before));
    json_object_set_new(o, "params_after", json_integer(e->params_after));
    json_object_set_new(o, "macs_before", json_integer(e->macs_before));
    json_object_set_new(o, "macs_after", json_integer(e->macs_after));
    json_object_set_new(o, "note", e->note ? json_string(e->note) : json_null());
    json_object_set_new(o, "remark", e->remark ? json_string(e->remark) : json_null());
    return o;
}

static bool write_json(const PruneReport *r, const IrStats *after, const char *path, Diag *d)
{
    json_t *root = json_object(), *rows = json_array();
    for (int i = 0; i < r->n; i++)
        json_array_append_new(rows, entry_json(&r->e[i]));
    json_object_set_new(root, "pass", json_string("prune"));
    json_object_set_new(root, "rows", rows);
    json_t *g = json_object();
    json_object_set_new(g, "params_before", json_integer(r->before.params));
    json_object_set_new(g, "params_after", json_integer(after->params));
    json_object_set_new(g, "macs_before", json_integer(r->before.macs));
    json_object_set_new(g, "macs_after", json_integer(after->macs));
    json_object_set_new(root, "graph", g);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text)
        return diag_error(d, loc_none(), "prune: cannot format the report"), false;
    bool ok = fio_write_file(path, text, strlen(text), d);
    free(text);
    return ok;
}

bool prune_report_emit(const PruneReport *r, const IrGraph *g, FILE *out, const char *path, Diag *d)
{
    IrStats after = ir_stats(g, NULL);
    if (out)
        print_table(r, &after, out);
    return !path || write_json(r, &after, path, d);
}
