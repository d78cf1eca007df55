/*
 * elab_call.c — operator calls, compile-time builtins and annotations.
 *
 * An operator call `conv2d(x, 64, 3, stride = 2)` is bound against the op's
 * attribute spec in ops.def: tensors first, then attributes by position or
 * keyword, defaults filled in, each value converted to its declared kind.
 * Operators with learned parameters get them named inst.suffix, with shapes
 * from the op's params rule; the node's output shape comes from its shape
 * rule, whose message is reported at the call.
 *
 * Every node gets the annotations in force (Ctx.annots, outermost first),
 * those of the statement creating it marked direct, the rest (enclosing
 * loops, calls, block definitions, seq, the net) inherited.
 */
#include "elab_impl.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_ATTRS = 16, MAX_PARAMS = 8, MAX_DATA = 64, MAX_LIST_ATTR = 64 };

/* The largest learned tensor accepted (2^34 elements, 64 GiB of f32): far
 * beyond real layers, small enough that sizes never overflow later. */
#define MAX_PARAM_ELEMS ((int64_t)1 << 34)

static const char *attr_type_name(AttrType t)
{
    static const char *const n[] = {"int", "int or [int, int]", "list of ints", "float", "bool", "string"};
    return n[t];
}

/* Converts v to an attribute of type t; false when the kinds do not fit. */
static bool to_attr(Ctx *c, const Val *v, AttrType t, IrAttr *out)
{
    switch (t) {
    case ATK_INT:
        if (v->kind != V_INT)
            return false;
        out->kind = AK_INT, out->i = v->i;
        return true;
    case ATK_INT2:
    case ATK_INTS: {
        Val one = *v;
        const Val *items = v->items;
        int n = v->n;
        if (v->kind == V_INT && t == ATK_INT2)
            items = &one, n = 1;
        else if (v->kind != V_LIST)
            return false;
        if ((t == ATK_INT2 && n != 1 && n != 2) || n > MAX_LIST_ATTR)
            return false;
        int len = t == ATK_INT2 ? 2 : n;
        out->kind = AK_INTS, out->n = len;
        out->ints = arena_alloc(c->arena, (size_t)(len ? len : 1) * sizeof *out->ints);
        for (int i = 0; i < len; i++) {
            const Val *e = &items[n == 1 ? 0 : i];
            if (e->kind != V_INT)
                return false;
            out->ints[i] = e->i;
        }
        return true;
    }
    case ATK_FLOAT:
        if (v->kind != V_FLOAT && v->kind != V_INT)
            return false;
        out->kind = AK_FLOAT, out->f = v->kind == V_INT ? (double)v->i : v->f;
        return true;
    case ATK_BOOL:
        if (v->kind != V_BOOL)
            return false;
        out->kind = AK_BOOL, out->i = v->b;
        return true;
    case ATK_STRING:
        if (v->kind != V_STRING)
            return false;
        out->kind = AK_STRING, out->s = v->s;
        return true;
    }
    return false;
}

/* Parses a default from ops.def ("1", "1e-5", "true"); other attributes
 * named as defaults are resolved by the caller. */
static Val parse_default(const char *text, AttrType t)
{
    if (!strcmp(text, "true") || !strcmp(text, "false"))
        return val_bool(text[0] == 't');
    if (t == ATK_FLOAT)
        return val_float(strtod(text, NULL));
    if (t == ATK_STRING)
        return (Val){.kind = V_STRING, .s = text};
    return val_int(strtoll(text, NULL, 10));
}

/* Points at where a clashing parameter key was first made; when that is the
 * same place, a loop made it twice. */
static void note_first_param(Ctx *c, const char *key, Loc now)
{
    Loc first = ir_find_param(c->g, key)->loc;
    if (first.file == now.file && first.line == now.line && first.col == now.col)
        diag_note(c->diag, loc_none(), "'%s' is created again on each pass of the enclosing loop or seq; "
                  "give each instance its own name, e.g. with a name template \"name_{i}\"", key);
    else
        diag_note(c->diag, first, "'%s' was first created here", key);
}

Val elab_make_node(Ctx *c, OpKind op, const char *inst, int ndata, IrValue **data, int nattr,
                   IrAttr *attr, Loc loc)
{
    const OpInfo *info = op_info(op);
    IrValue *in[MAX_DATA + MAX_PARAMS];
    memcpy(in, data, (size_t)ndata * sizeof *in);
    int nin = ndata;
    if (info->params) {
        IrNode probe = {.op = op, .name = inst, .nin = ndata, .in = data, .nattr = nattr, .attr = attr, .loc = loc};
        ParamSpec ps[MAX_PARAMS];
        char err[512] = "";
        int np = info->params(&probe, ps, err, sizeof err);
        if (np < 0) {
            elab_error(c, loc, "%s", err);
            return val_poison();
        }
        if (np > 0 && !inst) {
            elab_error(c, loc, "%s has learned parameters and needs an instance name "
                       "(bind it: name = %s(...))", info->name, info->name);
            return val_poison();
        }
        for (int i = 0; i < np; i++) {
            const char *key = arena_printf(c->arena, "%s.%s", inst, ps[i].suffix);
            int64_t numel = shape_numel(&ps[i].shape);
            if (numel < 0 || numel > MAX_PARAM_ELEMS) {
                char buf[200];
                elab_error(c, loc, "%s: parameter '%s' would have shape %s, more than 2^34 elements", info->name,
                           key, shape_str(&ps[i].shape, buf, sizeof buf));
                return val_poison();
            }
            IrValue *p = ir_add_param(c->g, key, DT_F32, ps[i].shape, loc);
            if (!p) {
                elab_error(c, loc, "duplicate parameter name '%s'", key);
                note_first_param(c, key, loc);
                return val_poison();
            }
            in[nin++] = p;
        }
    }
    char err[512] = "";
    IrNode *n = ir_add_node(c->g, op, inst, nin, in, nattr, attr, loc, err, sizeof err);
    if (!n) {
        elab_error(c, loc, "%s", err);
        return val_poison();
    }
    for (int i = 0; i < c->nannots; i++) {
        IrAnnot a = c->annots[i];
        a.inherited = i < c->direct_from;
        ir_node_add_annot(c->g, n, &a);
    }
    return val_tensor(n->out);
}

/* Evaluated arguments of a call, positional then keyword. */
typedef struct Args {
    int n;
    Val *v;
    const AstArg *ast;
} Args;

static bool eval_args(Ctx *c, const AstArgs *args, Args *out)
{
    out->n = args->n;
    out->ast = args->items;
    out->v = arena_alloc(c->arena, (size_t)(args->n ? args->n : 1) * sizeof *out->v);
    bool ok = true;
    for (int i = 0; i < args->n; i++) {
        out->v[i] = eval_expr(c, args->items[i].value, NULL);
        ok &= out->v[i].kind != V_POISON;
    }
    return ok;
}

static Val call_op(Ctx *c, OpKind op, const AstExpr *call, const char *inst)
{
    const OpInfo *info = op_info(op);
    int nspec;
    const AttrSpec *spec = op_attr_specs(op, &nspec);
    Args a;
    if (!eval_args(c, &call->u.call.args, &a))
        return val_poison();
    Loc at = call->u.call.callee_loc;

    /* Tensor inputs: leading positionals, or one list for variadic ops. */
    IrValue *data[MAX_DATA];
    int ndata = 0, next = 0;
    if (info->max_in < 0) {
        if (a.n == 0 || a.ast[0].key || a.v[0].kind != V_LIST) {
            elab_error(c, at, "%s takes a list of tensors as its first argument", info->name);
            return val_poison();
        }
        if (a.v[0].n < info->min_in || a.v[0].n > MAX_DATA) {
            elab_error(c, a.ast[0].loc, "%s takes 1 to %d tensors, not %d", info->name, MAX_DATA, a.v[0].n);
            return val_poison();
        }
        for (int i = 0; i < a.v[0].n; i++) {
            if (a.v[0].items[i].kind != V_TENSOR) {
                elab_error(c, a.ast[0].loc, "element %d of the list is %s, not a tensor", i,
                           val_kind_name(a.v[0].items[i].kind));
                return val_poison();
            }
            data[ndata++] = a.v[0].items[i].t;
        }
        next = 1;
    } else {
        for (; next < a.n && next < info->max_in && !a.ast[next].key && a.v[next].kind == V_TENSOR; next++)
            data[ndata++] = a.v[next].t;
        if (ndata < info->min_in) {
            Loc l = next < a.n ? a.ast[next].loc : at;
            elab_error(c, l, "%s takes %d tensor input%s; argument %d is %s", info->name, info->min_in,
                       info->min_in == 1 ? "" : "s", next + 1,
                       next < a.n ? val_kind_name(a.v[next].kind) : "missing");
            return val_poison();
        }
    }

    /* Attributes: remaining positionals in spec order, then keywords. */
    const Val *given[MAX_ATTRS] = {0};
    Loc given_loc[MAX_ATTRS];
    bool ok = true;
    for (int i = next, k = 0; i < a.n; i++) {
        int slot = -1;
        if (!a.ast[i].key) {
            if (k >= nspec) {
                elab_error(c, a.ast[i].loc, "too many arguments to %s", info->name);
                return val_poison();
            }
            slot = k++;
        } else {
            for (int j = 0; j < nspec; j++)
                if (!strcmp(spec[j].name, a.ast[i].key))
                    slot = j;
            if (slot < 0) {
                const char *valid = "";
                for (int j = 0; j < nspec; j++)
                    valid = arena_printf(c->arena, "%s%s%s", valid, j ? ", " : "", spec[j].name);
                elab_error(c, a.ast[i].loc, "%s has no argument '%s'%s%s", info->name, a.ast[i].key,
                           nspec ? "; it takes " : "", valid);
                ok = false;
                continue;
            }
        }
        if (given[slot]) {
            elab_error(c, a.ast[i].loc, "argument '%s' of %s given twice", spec[slot].name, info->name);
            ok = false;
            continue;
        }
        given[slot] = &a.v[i];
        given_loc[slot] = a.ast[i].loc;
    }
    IrAttr attr[MAX_ATTRS];
    for (int j = 0; j < nspec && ok; j++) {
        attr[j] = (IrAttr){.key = spec[j].name};
        if (given[j]) {
            if (!to_attr(c, given[j], spec[j].type, &attr[j])) {
                elab_error(c, given_loc[j], "argument '%s' of %s must be %s, not %s%s%s", spec[j].name,
                           info->name, attr_type_name(spec[j].type), val_kind_name(given[j]->kind),
                           given[j]->kind == V_LIST ? " " : "",
                           given[j]->kind == V_LIST ? val_str(c->arena, given[j]) : "");
                ok = false;
            }
            continue;
        }
        if (!spec[j].dflt) {
            elab_error(c, at, "missing argument '%s' in call of %s", spec[j].name, info->name);
            ok = false;
            continue;
        }
        int same = -1;
        for (int k = 0; k < j; k++)
            if (!strcmp(spec[k].name, spec[j].dflt))
                same = k;
        if (same >= 0) {
            attr[j] = attr[same];
            attr[j].key = spec[j].name;
        } else {
            Val dv = parse_default(spec[j].dflt, spec[j].type);
            to_attr(c, &dv, spec[j].type, &attr[j]);
        }
    }
    if (!ok)
        return val_poison();
    return elab_make_node(c, op, inst, ndata, data, nspec, attr, call->loc);
}

/* ---- compile-time builtins ---- */

static bool want_args(Ctx *c, const AstExpr *call, const Args *a, int n, const ValKind *kinds)
{
    const char *name = call->u.call.callee;
    if (a->n != n) {
        elab_error(c, call->u.call.callee_loc, "%s takes %d argument%s, not %d", name, n, n == 1 ? "" : "s", a->n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (a->ast[i].key) {
            elab_error(c, a->ast[i].loc, "%s takes no keyword arguments", name);
            return false;
        }
        bool fits = a->v[i].kind == kinds[i] || (kinds[i] == V_FLOAT && a->v[i].kind == V_INT);
        if (!fits) {
            elab_error(c, a->ast[i].loc, "argument %d of %s must be %s, not %s", i + 1, name,
                       kinds[i] == V_FLOAT ? "a number" : val_kind_name(kinds[i]), val_kind_name(a->v[i].kind));
            return false;
        }
    }
    return true;
}

static Val builtin_dim(Ctx *c, const AstExpr *call, const Args *a)
{
    if (!want_args(c, call, a, 2, (ValKind[]){V_TENSOR, V_INT}))
        return val_poison();
    const Shape *s = &a->v[0].t->shape;
    int64_t i = a->v[1].i < 0 ? a->v[1].i + s->rank : a->v[1].i;
    if (i < 0 || i >= s->rank) {
        char buf[160];
        elab_error(c, a->ast[1].loc, "dimension %lld out of range for a tensor of shape %s",
                   (long long)a->v[1].i, shape_str(s, buf, sizeof buf));
        return val_poison();
    }
    return val_int(s->d[i]);
}

static Val builtin_minmax(Ctx *c, const AstExpr *call, const Args *a, bool is_max)
{
    if (!want_args(c, call, a, 2, (ValKind[]){V_FLOAT, V_FLOAT}))
        return val_poison();
    const Val *x = &a->v[0], *y = &a->v[1];
    if (x->kind == V_INT && y->kind == V_INT)
        return val_int(is_max ? (x->i > y->i ? x->i : y->i) : (x->i < y->i ? x->i : y->i));
    double p = x->kind == V_INT ? (double)x->i : x->f, q = y->kind == V_INT ? (double)y->i : y->f;
    return val_float(is_max ? (p > q ? p : q) : (p < q ? p : q));
}

/* param(shape, init = "normal"): a free learned tensor named by its binding. */
static Val builtin_param(Ctx *c, const AstExpr *call, const Args *a, const char *inst)
{
    Loc at = call->u.call.callee_loc;
    const char *init = "normal";
    int npos = 0;
    const Val *shape = NULL;
    for (int i = 0; i < a->n; i++) {
        if (!a->ast[i].key && npos++ == 0)
            shape = &a->v[i];
        else if (a->ast[i].key && !strcmp(a->ast[i].key, "init") && a->v[i].kind == V_STRING)
            init = a->v[i].s;
        else {
            elab_error(c, a->ast[i].loc, "param takes a shape and init = \"normal\" | \"zeros\" | \"ones\"");
            return val_poison();
        }
    }
    if (strcmp(init, "normal") && strcmp(init, "zeros") && strcmp(init, "ones")) {
        elab_error(c, at, "unknown init \"%s\" (expected \"normal\", \"zeros\" or \"ones\")", init);
        return val_poison();
    }
    IrAttr dims;
    if (!shape || !to_attr(c, shape, ATK_INTS, &dims) || dims.n == 0) {
        elab_error(c, at, "param needs a shape: a list of 1 to %d ints", SHAPE_MAX_RANK);
        return val_poison();
    }
    Shape s = shape_make(dims.n, dims.ints);
    int64_t numel = shape_numel(&s);
    for (int i = 0; i < s.rank; i++)
        if (s.d[i] <= 0)
            numel = -1;
    if (numel <= 0 || numel > ((int64_t)1 << 34)) {
        char buf[160];
        elab_error(c, at, "invalid parameter shape %s", shape_str(&s, buf, sizeof buf));
        return val_poison();
    }
    if (!inst) {
        elab_error(c, at, "param needs an instance name (bind it: name = param(...))");
        return val_poison();
    }
    IrValue *p = ir_add_param(c->g, inst, DT_F32, s, call->loc);
    if (!p) {
        elab_error(c, at, "duplicate parameter name '%s'", inst);
        note_first_param(c, inst, call->loc);
        return val_poison();
    }
    p->init = arena_strdup(c->g->arena, init);
    return val_tensor(p);
}

bool elab_call_op(Ctx *c, const AstExpr *call, const char *inst, Val *out)
{
    const char *name = call->u.call.callee;
    static const char *const builtins[] = {"dim", "rank", "len", "min", "max", "param"};
    bool is_builtin = false;
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        is_builtin |= !strcmp(name, builtins[i]);
    OpKind op = op_lookup(name);
    if (!is_builtin && op == OP__COUNT)
        return false;
    if (op == OP_QUANTIZE || op == OP_DEQUANTIZE) {
        /* Their integers mean nothing without the quant(...) metadata that
         * only the quantize pass attaches. */
        elab_error(c, call->loc, "%s is inserted by the quantize pass and cannot be written; "
                   "ask for a precision with @precision(bits)", name);
        *out = val_poison();
        return true;
    }
    if (op == OP_QCONV2D || op == OP_QLINEAR) {
        elab_error(c, call->loc, "%s is inserted by the integerize pass and cannot be written; "
                   "write the float layer and run --passes=...,quantize,integerize", name);
        *out = val_poison();
        return true;
    }
    if (op != OP__COUNT) {
        *out = call_op(c, op, call, inst);
        return true;
    }
    Args a;
    if (!eval_args(c, &call->u.call.args, &a)) {
        *out = val_poison();
        return true;
    }
    if (!strcmp(name, "dim"))
        *out = builtin_dim(c, call, &a);
    else if (!strcmp(name, "rank"))
        *out = want_args(c, call, &a, 1, (ValKind[]){V_TENSOR}) ? val_int(a.v[0].t->shape.rank) : val_poison();
    else if (!strcmp(name, "len"))
        *out = want_args(c, call, &a, 1, (ValKind[]){V_LIST}) ? val_int(a.v[0].n) : val_poison();
    else if (!strcmp(name, "param"))
        *out = builtin_param(c, call, &a, inst);
    else
        *out = builtin_minmax(c, call, &a, !strcmp(name, "max"));
    return true;
}

/* ---- annotations ---- */

/* Only evaluates the arguments to constants: what they mean, and whether
 * they fit the node, is checked by passes/annotations.c on the IR, where
 * text IR is checked the same way. */
bool elab_push_annot(Ctx *c, const AstAnnot *a)
{
    const char *key = arena_printf(c->arena, "%p", (const void *)a);
    bool report = !strmap_get(c->checked_annots, key);
    strmap_put(c->checked_annots, key, (void *)a);
    IrAnnot an = {.name = a->name, .nargs = a->args.n, .loc = a->loc};
    an.args = arena_alloc(c->arena, (size_t)(a->args.n ? a->args.n : 1) * sizeof *an.args);
    Args v;
    if (!eval_args(c, &a->args, &v))
        return false;
    bool ok = true;
    for (int i = 0; i < v.n; i++) {
        an.args[i].key = v.ast[i].key;
        AttrType t = v.v[i].kind == V_INT ? ATK_INT : v.v[i].kind == V_FLOAT ? ATK_FLOAT
                   : v.v[i].kind == V_BOOL ? ATK_BOOL : v.v[i].kind == V_STRING ? ATK_STRING : ATK_INTS;
        if (!to_attr(c, &v.v[i], t, &an.args[i])) {
            if (report)
                elab_error(c, v.ast[i].loc, "annotation arguments must be numbers, bools, strings or lists of ints");
            ok = false;
        }
    }
    if (ok)
        VEC_PUSH(c->arena, c->annots, c->nannots, c->cap_annots, an);
    return ok;
}

void elab_pop_annots(Ctx *c, int to)
{
    c->nannots = to;
}
