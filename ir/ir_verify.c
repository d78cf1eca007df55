/*
 * ir_verify.c — checks the invariants every pass may assume (QBE's
 * ssacheck): values are defined before use and belong to the graph, each
 * node's stored output shape is what its op's shape rule gives (which also
 * checks arity, attributes and parameter shapes), parameter keys are unique
 * and bound data matches its declaration, outputs name defined values.
 *
 * Run between passes, it turns a pass bug into a message at the node that
 * broke, not a wrong number three passes later. It reads the graph through
 * pointers that might be corrupted by such a bug, so it checks for NULL and
 * out-of-range ids before following anything. Every violation is reported;
 * a broken node still defines its result so one mistake is reported once.
 */
#include "ir.h"
#include "../support/strmap.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct Verifier {
    const IrGraph *g;
    Diag *d;
    int errors;
    const IrValue **defined; /* by value id: the value once its definition was seen */
    int nids;
} Verifier;

/* How a node is named in messages: its instance path, else %index. */
static const char *node_label(const IrNode *n, int index, char *buf, size_t size)
{
    if (n->name)
        snprintf(buf, size, "'%s' (%s)", n->name, op_info(n->op)->name);
    else
        snprintf(buf, size, "%%%d (%s)", index, op_info(n->op)->name);
    return buf;
}

static void __attribute__((format(printf, 3, 4)))
report(Verifier *v, Loc loc, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(v->d, loc, "ir: %s", msg);
    v->errors++;
}

static bool id_ok(const Verifier *v, const IrValue *x) { return x->id >= 0 && x->id < v->nids; }

/* Records the definition of x; false (reported) when it cannot be tracked. */
static bool define(Verifier *v, const IrValue *x, const char *what)
{
    if (!id_ok(v, x)) {
        report(v, x->loc, "%s has id %d outside 0..%d", what, x->id, v->nids - 1);
        return false;
    }
    if (v->defined[x->id]) {
        report(v, x->loc, "%s reuses value id %d", what, x->id);
        return false;
    }
    v->defined[x->id] = x;
    return true;
}

static bool is_defined(const Verifier *v, const IrValue *x)
{
    return x && id_ok(v, x) && v->defined[x->id] == x;
}

static void check_inputs(Verifier *v)
{
    for (int i = 0; i < v->g->ninputs; i++) {
        const IrValue *x = v->g->inputs[i];
        if (!x) {
            report(v, loc_none(), "input %d is missing", i + 1);
            continue;
        }
        if (x->kind != VK_INPUT || !x->name)
            report(v, x->loc, "input %d is not a named graph input", i + 1);
        for (int j = 0; j < i && x->name; j++)
            if (v->g->inputs[j] && v->g->inputs[j]->name &&
                strcmp(v->g->inputs[j]->name, x->name) == 0)
                report(v, x->loc, "input '%s' is declared twice", x->name);
        define(v, x, "input");
    }
}

static void check_params(Verifier *v)
{
    StrMap *keys = strmap_new();
    for (int i = 0; i < v->g->nparams; i++) {
        const IrValue *x = v->g->params[i];
        char a[200], b[200];
        if (!x) {
            report(v, loc_none(), "parameter %d is missing", i + 1);
            continue;
        }
        if (x->kind != VK_PARAM || !x->name) {
            report(v, x->loc, "parameter %d is not a named parameter", i + 1);
        } else {
            if (strmap_get(keys, x->name))
                report(v, x->loc, "parameter key '%s' is not unique", x->name);
            strmap_put(keys, x->name, (void *)x);
            if (ir_find_param(v->g, x->name) != x)
                report(v, x->loc, "parameter '%s' is missing from the key index", x->name);
        }
        if (x->data && (x->data->dtype != x->dtype || !shape_equal(&x->data->shape, &x->shape)))
            report(v, x->loc, "parameter '%s' is %s%s but bound to %s%s data",
                   x->name ? x->name : "?", dtype_name(x->dtype),
                   shape_str(&x->shape, a, sizeof a), dtype_name(x->data->dtype),
                   shape_str(&x->data->shape, b, sizeof b));
        define(v, x, "parameter");
    }
    strmap_free(keys);
}

static void check_node(Verifier *v, const IrNode *n, int index)
{
    char who[300], err[512], a[200], b[200];
    node_label(n, index, who, sizeof who);
    bool inputs_ok = n->nin >= 0 && (n->nin == 0 || n->in);
    for (int k = 0; inputs_ok && k < n->nin; k++) {
        const IrValue *x = n->in[k];
        if (!x) {
            report(v, n->loc, "%s: input %d is missing", who, k + 1);
            inputs_ok = false;
        } else if (!is_defined(v, x)) {
            report(v, n->loc, "%s: input %d is not defined before this node", who, k + 1);
            inputs_ok = false;
        }
    }
    if (!inputs_ok)
        return; /* the shape rule would read values we cannot trust */

    const OpInfo *o = op_info(n->op);
    int nd = op_data_inputs(n);
    if (nd < o->min_in || (o->max_in >= 0 && nd > o->max_in))
        report(v, n->loc, "%s: has %d data inputs, the op takes %d..%d", who, nd, o->min_in,
               o->max_in);
    if (!op_check_attrs(n, err, sizeof err)) {
        report(v, n->loc, "%s: %s", who, err);
        return;
    }
    Shape want;
    if (!o->shape(n, &want, err, sizeof err))
        report(v, n->loc, "%s: %s", who, err);
    else if (!shape_equal(&want, &n->out->shape))
        report(v, n->loc, "%s: stored output shape %s differs from the inferred %s", who,
               shape_str(&n->out->shape, a, sizeof a), shape_str(&want, b, sizeof b));
}

bool ir_verify(const IrGraph *g, Diag *d)
{
    Verifier v = {g, d, 0, NULL, g->next_value_id > 0 ? g->next_value_id : 1};
    v.defined = xcalloc((size_t)v.nids, sizeof *v.defined);
    check_inputs(&v);
    check_params(&v);
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        char who[300];
        if (!n) {
            report(&v, loc_none(), "node %d is missing", i);
            continue;
        }
        if (!n->out) {
            report(&v, n->loc, "node %%%d has no result value", i);
            continue;
        }
        node_label(n, i, who, sizeof who);
        if ((unsigned)n->op >= OP__COUNT)
            report(&v, n->loc, "node %%%d has invalid operator kind %d", i, (int)n->op);
        else
            check_node(&v, n, i);
        if (n->out->kind != VK_NODE || n->out->def != n)
            report(&v, n->loc, "%s: result value does not point back to its node", who);
        define(&v, n->out, "node result");
    }
    for (int i = 0; i < g->noutputs; i++) {
        const IrOutput *o = &g->outputs[i];
        if (!o->name)
            report(&v, loc_none(), "output %d has no name", i + 1);
        else
            for (int j = 0; j < i; j++)
                if (g->outputs[j].name && strcmp(g->outputs[j].name, o->name) == 0)
                    report(&v, loc_none(), "output '%s' is declared twice", o->name);
        if (!is_defined(&v, o->value))
            report(&v, o->value ? o->value->loc : loc_none(),
                   "output '%s' names a value that is not defined in the graph",
                   o->name ? o->name : "?");
    }
    free(v.defined);
    return v.errors == 0;
}
