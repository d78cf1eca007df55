/*
 * ir_verify.c — checks the invariants every pass may assume (QBE's
 * ssacheck): values are defined before use and belong to the graph (so a
 * cycle, or a removed node whose result is still read, is caught), each
 * node's stored result shapes and dtypes are what its op's rules give
 * (which also checks arity, attributes and parameter shapes), every value's
 * use list is exactly the node inputs reading it, parameter keys are unique
 * and bound data matches its declaration, outputs name defined values, and
 * metadata agrees with its tensors (the rules of ir_meta.c, plus: the
 * parameters it names belong to this graph, sparsity only on parameters).
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
    Shape want[IR_MAX_RESULTS];
    DType dt[IR_MAX_RESULTS];
    if (n->nout != o->nresults) {
        report(v, n->loc, "%s: has %d results, the op defines %d", who, n->nout, o->nresults);
        return;
    }
    if (!ir_infer_results(n, want, dt, err, sizeof err)) {
        report(v, n->loc, "%s: %s", who, err);
        return;
    }
    for (int r = 0; r < n->nout; r++) {
        const IrValue *x = n->outs[r];
        if (!shape_equal(&want[r], &x->shape))
            report(v, n->loc, "%s: stored shape %s of result %d differs from the inferred %s", who,
                   shape_str(&x->shape, a, sizeof a), r + 1, shape_str(&want[r], b, sizeof b));
        if (dt[r] != x->dtype)
            report(v, n->loc, "%s: result %d is stored as %s but the op gives %s", who, r + 1,
                   dtype_name(x->dtype), dtype_name(dt[r]));
    }
}

/* x's use list names exactly the node inputs of the graph that read it:
 * every use points at a node in the graph whose input slot holds x, and
 * every such slot is listed once. node_of_id[id]: the graph's node with
 * that id. */
static void check_uses(Verifier *v, const IrValue *x, const IrNode *const *node_of_id, int nnode_ids)
{
    for (int u = 0; u < x->nuses; u++) {
        const IrUse *use = &x->uses[u];
        const IrNode *n = use->user;
        if (!n || n->id < 0 || n->id >= nnode_ids || node_of_id[n->id] != n) {
            report(v, x->loc, "value %%%d: a use names a node that is not in the graph", x->id);
            continue;
        }
        if (use->index < 0 || use->index >= n->nin || n->in[use->index] != x) {
            report(v, x->loc, "value %%%d: a use names input %d of %s, which reads another value",
                   x->id, use->index + 1, op_info(n->op)->name);
            continue;
        }
        for (int w = 0; w < u; w++)
            if (x->uses[w].user == n && x->uses[w].index == use->index)
                report(v, x->loc, "value %%%d: a use is listed twice", x->id);
    }
}

/* Each node input is in its value's use list (the other direction of
 * check_uses). */
static void check_listed(Verifier *v, const IrNode *n, const char *who)
{
    for (int k = 0; k < n->nin; k++) {
        const IrValue *x = n->in[k];
        bool found = false;
        for (int u = 0; x && u < x->nuses && !found; u++)
            found = x->uses[u].user == n && x->uses[u].index == k;
        if (x && !found)
            report(v, n->loc, "%s: input %d is missing from the use list of the value it reads",
                   who, k + 1);
    }
}

/* Use lists of every value of the graph. */
static void check_all_uses(Verifier *v)
{
    const IrGraph *g = v->g;
    int nnode_ids = g->next_node_id > 0 ? g->next_node_id : 1;
    /* By id, the node of the graph that has it: a removed node may share an
     * id with a live one after ir_compact, so ids alone prove nothing. */
    const IrNode **node_of_id = xcalloc((size_t)nnode_ids, sizeof *node_of_id);
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        if (!n)
            continue;
        if (n->id < 0 || n->id >= nnode_ids)
            report(v, n->loc, "node %%%d has id %d outside 0..%d", i, n->id, nnode_ids - 1);
        else if (node_of_id[n->id])
            report(v, n->loc, "node %%%d reuses node id %d", i, n->id);
        else
            node_of_id[n->id] = n;
    }
    for (int i = 0; i < g->ninputs; i++)
        if (g->inputs[i])
            check_uses(v, g->inputs[i], node_of_id, nnode_ids);
    for (int i = 0; i < g->nparams; i++)
        if (g->params[i])
            check_uses(v, g->params[i], node_of_id, nnode_ids);
    for (int i = 0; i < g->nnodes; i++)
        for (int r = 0; g->nodes[i] && g->nodes[i]->outs && r < g->nodes[i]->nout; r++)
            if (g->nodes[i]->outs[r])
                check_uses(v, g->nodes[i]->outs[r], node_of_id, nnode_ids);
    free(node_of_id);
}

/* The parameters x's metadata names are values of this graph. */
static bool refs_defined(Verifier *v, const IrValue *x, const char *who)
{
    const IrValue *refs[] = {x->quant ? x->quant->scale : NULL,
                             x->quant ? x->quant->zero_point : NULL,
                             x->sparsity ? x->sparsity->mask : NULL};
    for (size_t k = 0; k < sizeof refs / sizeof *refs; k++)
        if (refs[k] && !is_defined(v, refs[k])) {
            report(v, x->loc, "%s: metadata names '%s', which is not a value of the graph", who,
                   refs[k]->name ? refs[k]->name : "?");
            return false;
        }
    return true;
}

/* x's quant and sparsity, x named as who in messages. */
static void check_value_meta(Verifier *v, const IrValue *x, const char *who)
{
    char err[512];
    if ((!x->quant && !x->sparsity) || !refs_defined(v, x, who))
        return;
    if (x->quant && !ir_quant_check(x, err, sizeof err))
        report(v, x->loc, "%s: %s", who, err);
    if (x->sparsity && x->kind != VK_PARAM)
        report(v, x->loc, "%s: sparsity describes a weight, but this is not a parameter", who);
    else if (x->sparsity && !ir_sparsity_check(x, err, sizeof err))
        report(v, x->loc, "%s: %s", who, err);
}

/* quantize's result and dequantize's input carry the quant(...) that gives
 * their integers a meaning, agreeing with quantize's attributes. */
static bool quant_node_broken(const IrNode *n, char *err, size_t errlen)
{
    if (n->op == OP_DEQUANTIZE && n->nin >= 1 && n->in[0] && !n->in[0]->quant)
        return snprintf(err, errlen, "dequantize's input has no quant(...) metadata"), true;
    if (n->op != OP_QUANTIZE || n->nout < 1 || !n->out)
        return false;
    const IrQuant *q = n->out->quant;
    if (!q)
        return snprintf(err, errlen, "quantize's result has no quant(...) metadata"), true;
    if (q->bits != ir_attr_int(n, "bits") || q->is_signed != (ir_attr_int(n, "signed") != 0))
        return snprintf(err, errlen,
                        "quantize {bits = %lld, signed = %s} but its result is quant(bits = %d, "
                        "signed = %s)",
                        (long long)ir_attr_int(n, "bits"), ir_attr_int(n, "signed") ? "true" : "false",
                        q->bits, q->is_signed ? "true" : "false"),
               true;
    return false;
}

/* An integer layer reads a per-tensor unsigned activation and a symmetric
 * signed weight (per tensor or per output channel), and its u8 result
 * (bits > 0) carries the quant(...) of that many unsigned bits. */
static bool integer_layer_broken(const IrNode *n, char *err, size_t errlen)
{
    if ((n->op != OP_QCONV2D && n->op != OP_QLINEAR) || n->nin < 2 || !n->in[0] || !n->in[1] || !n->out)
        return false;
    const IrQuant *x = n->in[0]->quant, *w = n->in[1]->quant, *y = n->out->quant;
    int64_t bits = ir_attr_int(n, "bits");
    if (!x || x->is_signed || x->axis >= 0)
        return snprintf(err, errlen, "input 1 needs per-tensor unsigned quant(...) metadata"), true;
    if (!w || !w->is_signed || w->zero_point || w->bits > 8 || (w->axis != -1 && w->axis != 0))
        return snprintf(err, errlen, "the weight needs symmetric signed quant(...) of at most 8 bits, "
                                     "per tensor or on axis 0"), true;
    if (bits == 0 && y)
        return snprintf(err, errlen, "an f32 result (bits = 0) carries quant(...)"), true;
    if (bits > 0 && (!y || y->bits != bits || y->is_signed || y->axis >= 0))
        return snprintf(err, errlen, "bits = %lld but the result is not quant(bits = %lld, signed = false) "
                                     "per tensor", (long long)bits, (long long)bits), true;
    const char *act = ir_attr_str(n, "act"), *rq = ir_attr_str(n, "requant");
    if (!act || (strcmp(act, "none") && strcmp(act, "relu") && strcmp(act, "relu6")))
        return snprintf(err, errlen, "act is '%s'; it must be none, relu or relu6", act ? act : "?"), true;
    if (!rq || (strcmp(rq, "float") && strcmp(rq, "shift")))
        return snprintf(err, errlen, "requant is '%s'; it must be float or shift", rq ? rq : "?"), true;
    if (!strcmp(rq, "shift") && bits == 0)
        return snprintf(err, errlen, "requant = shift needs a u8 result (bits > 0)"), true;
    return false;
}

/* Metadata of every value and node, once all values are defined. */
static void check_all_meta(Verifier *v)
{
    const IrGraph *g = v->g;
    char who[400], err[512];
    for (int i = 0; i < g->ninputs; i++)
        if (g->inputs[i] && g->inputs[i]->name) {
            snprintf(who, sizeof who, "input '%s'", g->inputs[i]->name);
            check_value_meta(v, g->inputs[i], who);
        }
    for (int i = 0; i < g->nparams; i++)
        if (g->params[i] && g->params[i]->name) {
            snprintf(who, sizeof who, "parameter '%s'", g->params[i]->name);
            check_value_meta(v, g->params[i], who);
        }
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        char label[300];
        if (!n || !n->outs || (unsigned)n->op >= OP__COUNT)
            continue; /* reported by the node checks */
        node_label(n, i, label, sizeof label);
        for (int r = 0; r < n->nout && r < IR_MAX_RESULTS; r++)
            if (n->outs[r]) {
                snprintf(who, sizeof who, "%s: result %d", label, r + 1);
                check_value_meta(v, n->outs[r], who);
            }
        if (n->placement && !ir_placement_check(n, err, sizeof err))
            report(v, n->loc, "%s: %s", label, err);
        if (quant_node_broken(n, err, sizeof err))
            report(v, n->loc, "%s: %s", label, err);
        if (integer_layer_broken(n, err, sizeof err))
            report(v, n->loc, "%s: %s", label, err);
    }
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
        bool results_ok = n->out && n->nout >= 1 && n->nout <= IR_MAX_RESULTS && n->outs &&
                          n->outs[0] == n->out;
        for (int r = 0; results_ok && r < n->nout; r++)
            results_ok = n->outs[r] != NULL;
        if (!results_ok) {
            report(&v, n->loc, "node %%%d has no well-formed result list", i);
            continue;
        }
        node_label(n, i, who, sizeof who);
        if ((unsigned)n->op >= OP__COUNT)
            report(&v, n->loc, "node %%%d has invalid operator kind %d", i, (int)n->op);
        else
            check_node(&v, n, i);
        check_listed(&v, n, who);
        for (int r = 0; r < n->nout; r++) {
            const IrValue *x = n->outs[r];
            if (x->kind != VK_NODE || x->def != n || x->result != r)
                report(&v, n->loc, "%s: result %d does not point back to its node", who, r + 1);
            define(&v, x, "node result");
        }
    }
    check_all_uses(&v);
    check_all_meta(&v);
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
