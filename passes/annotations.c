/*
 * annotations.c — the `annotations` pass: the known annotations of every
 * node (@prune, @precision, @tome, @epitome, @pim) become its typed
 * requests (IrNode.req), each checked against the node it lands on.
 *
 * The front end leaves an annotation on every node its statement, block or
 * call creates, marked direct (written on the node's own statement) or
 * inherited. One annotation — all its copies, found by its source location
 * — is checked once, so a block called in a loop reports a bad argument
 * once. Then:
 *
 *   - its arguments must be right (ir_req.c knows them), else an error at
 *     the annotation naming the argument;
 *   - it is applied to the nodes it can apply to and skipped on the others:
 *     @prune, @pim and @precision(weight = ...) to nodes with a weight
 *     parameter (op_param_role), @precision(act = ...) to any node (its
 *     results are the activations; positional @precision(b) asks for both,
 *     so on a node without weights it sets act only), @tome to mha,
 *     @epitome to conv2d whose weight is at least the epitome's shape;
 *   - an annotation that applies to none of its nodes is an error: for a
 *     direct one "@prune cannot apply to 'gelu' (gelu has no weights)" with
 *     a note at the node, for one on a block, call or the net "applies to
 *     none of the N nodes it covers". A statement may create several nodes
 *     (`linear(gelu(x), 10)`); its annotation must fit one of them.
 *
 * Precedence, per request (prune, weight precision, act precision, tome,
 * epitome, pim): a direct annotation wins over inherited ones; among
 * inherited ones the innermost wins (the front end lists them outermost
 * first: call site, then block definition, then nested ones), so a block's
 * own @prune refines the one on the call. Two direct annotations asking
 * for the same request of one node are an error at the second.
 *
 * Other annotations (@custom, @fuse, ...) are user annotations: kept on the
 * nodes, neither checked nor reported. The pass rebuilds every node's req
 * from its annotations, so running it again (or on parsed IR) is harmless.
 */
#include "annotations.h"
#include "pass_internal.h"
#include "../support/strmap.h"

#include <stdio.h>
#include <string.h>

/* One source annotation and what became of it across its copies. */
typedef struct Group {
    const IrAnnot *a;     /* the first copy seen */
    bool valid;
    IrRequests req;       /* what it asks, when valid */
    int nodes;            /* copies, one per node */
    bool inherited;       /* some copy is inherited */
    bool applied;         /* some node took some of its requests */
    const IrNode *first;  /* the first node, for messages */
    const char *why;      /* why the first node could not take it */
} Group;

typedef struct Ctx {
    IrGraph *g;
    Diag *d;
    Arena *arena;         /* the pass's own: keys and groups */
    StrMap *groups;       /* source location + name -> Group */
    Group **order;        /* groups in the order first seen */
    int ngroups, cap_groups;
    StrMap *reported;     /* conflicts already reported */
    bool ok;
} Ctx;

static const char *node_label(const IrNode *n) { return n->name ? n->name : op_info(n->op)->name; }

static bool has_weight(const IrNode *n)
{
    for (int k = 0; op_param_role(n, k) != PR__COUNT; k++)
        if (op_param_role(n, k) == PR_WEIGHT)
            return true;
    return false;
}

/* The slots of r that node n can take; *why says why one cannot. */
static unsigned applicable(Ctx *c, const IrNode *n, const IrRequests *r, const char **why)
{
    const char *op = op_info(n->op)->name;
    unsigned ok = REQ_ACT;
    if (has_weight(n))
        ok |= REQ_PRUNE | REQ_WEIGHT | REQ_PIM;
    else
        *why = arena_printf(c->arena, "%s has no weights", op);
    if (n->op == OP_MHA)
        ok |= REQ_TOME;
    else if (r->set & REQ_TOME)
        *why = arena_printf(c->arena, "%s is not mha", op);
    if (n->op != OP_CONV2D) {
        if (r->set & REQ_EPITOME)
            *why = arena_printf(c->arena, "%s is not conv2d", op);
        return ok & r->set;
    }
    const Shape *w = &n->in[op_data_inputs(n)]->shape;
    bool fits = w->rank == 4;
    for (int i = 0; fits && i < 4; i++)
        fits = r->epitome[i] <= w->d[i];
    if (fits)
        ok |= REQ_EPITOME;
    else if (r->set & REQ_EPITOME) {
        char ws[200];
        *why = arena_printf(c->arena, "its weight %s is smaller than the epitome [%lld, %lld, %lld, %lld]",
                            shape_str(w, ws, sizeof ws), (long long)r->epitome[0], (long long)r->epitome[1],
                            (long long)r->epitome[2], (long long)r->epitome[3]);
    }
    return ok & r->set;
}

/* The group of annotation a, checking its arguments the first time. */
static Group *group_of(Ctx *c, const IrNode *n, const IrAnnot *a)
{
    /* Copies share the source location; one without a location (built by
     * hand) is its own annotation. */
    const char *key = a->loc.file
        ? arena_printf(c->arena, "%s:%d:%d:%s", a->loc.file, a->loc.line, a->loc.col, a->name)
        : arena_printf(c->arena, "%p", (const void *)a);
    Group *gr = strmap_get(c->groups, key);
    if (gr)
        return gr;
    gr = arena_alloc(c->arena, sizeof *gr);
    *gr = (Group){.a = a, .first = n};
    char err[300];
    gr->valid = ir_req_from_annot(a, &gr->req, err, sizeof err);
    if (!gr->valid) {
        diag_error(c->d, a->loc, "%s", err);
        c->ok = false;
    }
    strmap_put(c->groups, key, gr);
    VEC_PUSH(c->arena, c->order, c->ngroups, c->cap_groups, gr);
    return gr;
}

/* Two direct annotations ask for the same request of n. */
static void conflict(Ctx *c, const IrNode *n, int slot, const IrAnnot *first, const IrAnnot *second)
{
    static const char *const slots[] = {
#define X(e, what) what,
        REQ_SLOT_LIST(X)
#undef X
    };
    const char *what = slots[slot];
    const char *key = arena_printf(c->arena, "%s:%d:%d %s:%d:%d", first->loc.file ? first->loc.file : "",
                                   first->loc.line, first->loc.col, second->loc.file ? second->loc.file : "",
                                   second->loc.line, second->loc.col);
    c->ok = false;
    if (strmap_get(c->reported, key))
        return;
    strmap_put(c->reported, key, (void *)second);
    diag_error(c->d, second->loc, "'%s' is asked for %s twice on its own statement; keep one", node_label(n),
               what);
    diag_note(c->d, first->loc, "the first @%s is here", first->name);
}

/* The requests of one node from its annotations, by the precedence above. */
static void node_requests(Ctx *c, IrNode *n)
{
    IrRequests req = {0};
    const IrAnnot *by[REQ__SLOTS] = {0}; /* which annotation set each slot */
    for (int k = 0; k < n->nannot; k++) {
        const IrAnnot *a = &n->annot[k];
        if (!ir_req_known(a->name))
            continue;
        Group *gr = group_of(c, n, a);
        gr->nodes++;
        gr->inherited |= a->inherited;
        if (!gr->valid)
            continue;
        const char *why = NULL;
        unsigned slots = applicable(c, n, &gr->req, &why);
        if (!slots) {
            if (!gr->why)
                gr->first = n, gr->why = why;
            continue;
        }
        gr->applied = true;
        for (int s = 0; s < REQ__SLOTS; s++) {
            if (!(slots & (1u << s)))
                continue;
            const IrAnnot *prev = by[s];
            if (prev && !prev->inherited && !a->inherited) {
                conflict(c, n, s, prev, a);
                slots &= ~(1u << s);
            } else if (prev && !prev->inherited) {
                slots &= ~(1u << s); /* an inherited one never beats a direct one */
            } else {
                by[s] = a;
            }
        }
        ir_req_merge(&req, &gr->req, slots);
    }
    n->req = NULL;
    if (req.set) {
        n->req = arena_alloc(c->g->arena, sizeof *n->req);
        *n->req = req;
    }
}

bool pass_annotations(IrGraph *g, Diag *d)
{
    Ctx c = {.g = g, .d = d, .arena = arena_new(), .groups = strmap_new(), .reported = strmap_new(), .ok = true};
    for (int i = 0; i < g->nnodes; i++)
        node_requests(&c, g->nodes[i]);
    for (int i = 0; i < c.ngroups; i++) {
        const Group *gr = c.order[i];
        if (!gr->valid || gr->applied)
            continue;
        c.ok = false;
        if (!gr->inherited) {
            diag_error(d, gr->a->loc, "@%s cannot apply to '%s' (%s)", gr->a->name, node_label(gr->first), gr->why);
            diag_note(d, gr->first->loc, "'%s' is created here", node_label(gr->first));
        } else {
            diag_error(d, gr->a->loc, "@%s applies to none of the %d node%s it covers (the first, '%s': %s)",
                       gr->a->name, gr->nodes, gr->nodes == 1 ? "" : "s", node_label(gr->first), gr->why);
        }
    }
    strmap_free(c.groups);
    strmap_free(c.reported);
    arena_free(c.arena);
    return c.ok;
}

/* The pass table's entry (no options). */
bool pass_annotations_run(IrGraph *g, const PassArgs *args, Diag *d)
{
    (void)args;
    return pass_annotations(g, d);
}
