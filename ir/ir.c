/*
 * ir.c — creating graphs, values and nodes; attribute access. See ir.h.
 */
#include "ir.h"
#include "../support/strmap.h"

#include <stdlib.h>
#include <string.h>

IrGraph *ir_graph_new(const char *name)
{
    Arena *a = arena_new();
    IrGraph *g = arena_alloc(a, sizeof *g);
    g->arena = a;
    g->name = arena_strdup(a, name ? name : "net");
    g->param_index = strmap_new();
    return g;
}

void ir_graph_free(IrGraph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nparams; i++)
        tensor_free(g->params[i]->data);
    strmap_free(g->param_index);
    arena_free(g->arena);
}

static IrValue *new_value(IrGraph *g, ValueKind kind, const char *name, DType dt, Shape shape,
                          Loc loc)
{
    IrValue *v = arena_alloc(g->arena, sizeof *v);
    v->id = g->next_value_id++;
    v->kind = kind;
    v->name = name ? arena_strdup(g->arena, name) : NULL;
    v->dtype = dt;
    v->shape = shape;
    v->loc = loc;
    return v;
}

IrValue *ir_add_input(IrGraph *g, const char *name, DType dt, Shape shape, Loc loc)
{
    IrValue *v = new_value(g, VK_INPUT, name, dt, shape, loc);
    VEC_PUSH(g->arena, g->inputs, g->ninputs, g->cap_inputs, v);
    return v;
}

IrValue *ir_add_param(IrGraph *g, const char *key, DType dt, Shape shape, Loc loc)
{
    if (strmap_get(g->param_index, key))
        return NULL;
    IrValue *v = new_value(g, VK_PARAM, key, dt, shape, loc);
    VEC_PUSH(g->arena, g->params, g->nparams, g->cap_params, v);
    strmap_put(g->param_index, v->name, v);
    return v;
}

IrValue *ir_find_param(const IrGraph *g, const char *key)
{
    return strmap_get(g->param_index, key);
}

IrValue *ir_find_input(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->ninputs; i++)
        if (strcmp(g->inputs[i]->name, name) == 0)
            return g->inputs[i];
    return NULL;
}

static IrAttr copy_attr(Arena *a, const IrAttr *src)
{
    IrAttr r = *src;
    if (src->key)
        r.key = arena_strdup(a, src->key);
    if (src->kind == AK_STRING && src->s)
        r.s = arena_strdup(a, src->s);
    if (src->kind == AK_INTS) {
        r.ints = arena_alloc(a, (size_t)(src->n ? src->n : 1) * sizeof *r.ints);
        if (src->n)
            memcpy(r.ints, src->ints, (size_t)src->n * sizeof *r.ints);
    }
    return r;
}

/* Records that input k of n reads v (ir_rewrite.c removes uses). */
void ir_use_add(IrGraph *g, IrNode *n, int k)
{
    IrValue *v = n->in[k];
    IrUse u = {n, k};
    VEC_PUSH(g->arena, v->uses, v->nuses, v->cap_uses, u);
}

/* Runs n's shape and dtype rules into the arrays given (op's result count). */
bool ir_infer_results(const IrNode *n, Shape *shapes, DType *dtypes, char *err, size_t errlen)
{
    const OpInfo *o = op_info(n->op);
    /* Shape first: its prelude checks arity and attributes for both. */
    return o->shape(n, shapes, err, errlen) && o->dtype(n, dtypes, err, errlen);
}

IrNode *ir_insert_node(IrGraph *g, int pos, OpKind op, const char *name, int nin, IrValue **in,
                       int nattr, const IrAttr *attr, Loc loc, char *err, size_t errlen)
{
    IrNode *n = arena_alloc(g->arena, sizeof *n);
    n->op = op;
    n->name = name ? arena_strdup(g->arena, name) : NULL;
    n->nin = nin;
    n->in = arena_alloc(g->arena, (size_t)(nin ? nin : 1) * sizeof *n->in);
    if (nin)
        memcpy(n->in, in, (size_t)nin * sizeof *in);
    n->nattr = nattr;
    n->attr = arena_alloc(g->arena, (size_t)(nattr ? nattr : 1) * sizeof *n->attr);
    for (int i = 0; i < nattr; i++)
        n->attr[i] = copy_attr(g->arena, &attr[i]);
    n->loc = loc;
    Shape shapes[IR_MAX_RESULTS];
    DType dtypes[IR_MAX_RESULTS];
    if (!ir_infer_results(n, shapes, dtypes, err, errlen))
        return NULL; /* the arena keeps the bytes; the graph is unchanged */
    n->id = g->next_node_id++;
    n->nout = op_info(op)->nresults;
    n->outs = arena_alloc(g->arena, (size_t)n->nout * sizeof *n->outs);
    for (int r = 0; r < n->nout; r++) {
        IrValue *v = new_value(g, VK_NODE, NULL, dtypes[r], shapes[r], loc);
        v->def = n;
        v->result = r;
        n->outs[r] = v;
    }
    n->out = n->outs[0];
    for (int k = 0; k < nin; k++)
        ir_use_add(g, n, k);
    if (pos < 0 || pos > g->nnodes)
        pos = g->nnodes;
    VEC_PUSH(g->arena, g->nodes, g->nnodes, g->cap_nodes, n);
    memmove(g->nodes + pos + 1, g->nodes + pos, (size_t)(g->nnodes - 1 - pos) * sizeof *g->nodes);
    g->nodes[pos] = n;
    return n;
}

IrNode *ir_add_node(IrGraph *g, OpKind op, const char *name, int nin, IrValue **in, int nattr,
                    const IrAttr *attr, Loc loc, char *err, size_t errlen)
{
    return ir_insert_node(g, g->nnodes, op, name, nin, in, nattr, attr, loc, err, errlen);
}

void ir_node_add_annot(IrGraph *g, IrNode *n, const IrAnnot *a)
{
    IrAnnot *arr = arena_grow(g->arena, n->annot, (size_t)n->nannot * sizeof *arr,
                              (size_t)(n->nannot + 1) * sizeof *arr);
    IrAnnot c = *a;
    c.name = arena_strdup(g->arena, a->name);
    c.args = arena_alloc(g->arena, (size_t)(a->nargs ? a->nargs : 1) * sizeof *c.args);
    for (int i = 0; i < a->nargs; i++)
        c.args[i] = copy_attr(g->arena, &a->args[i]);
    arr[n->nannot++] = c;
    n->annot = arr;
}

void ir_add_output(IrGraph *g, const char *name, IrValue *v)
{
    IrOutput o = {arena_strdup(g->arena, name), v};
    VEC_PUSH(g->arena, g->outputs, g->noutputs, g->cap_outputs, o);
}

void ir_bind(IrValue *param, Tensor *data)
{
    if (param->data != data)
        tensor_free(param->data);
    param->data = data;
}

const IrAttr *ir_attr(const IrNode *n, const char *key)
{
    for (int i = 0; i < n->nattr; i++)
        if (n->attr[i].key && strcmp(n->attr[i].key, key) == 0)
            return &n->attr[i];
    return NULL;
}

/* The op tables guarantee every attribute is present after elaboration or
 * parsing, so a missing one is a programming error: fail loudly. */
static const IrAttr *must_attr(const IrNode *n, const char *key)
{
    const IrAttr *a = ir_attr(n, key);
    if (!a) {
        fprintf(stderr, "netc: internal error: node %s lacks attribute '%s'\n",
                op_info(n->op)->name, key);
        abort();
    }
    return a;
}

int64_t ir_attr_int(const IrNode *n, const char *key) { return must_attr(n, key)->i; }
double ir_attr_float(const IrNode *n, const char *key)
{
    const IrAttr *a = must_attr(n, key);
    return a->kind == AK_FLOAT ? a->f : (double)a->i;
}
const int64_t *ir_attr_ints(const IrNode *n, const char *key, int *count)
{
    const IrAttr *a = must_attr(n, key);
    *count = a->n;
    return a->ints;
}
const char *ir_attr_str(const IrNode *n, const char *key) { return must_attr(n, key)->s; }
