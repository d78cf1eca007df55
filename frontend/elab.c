/*
 * elab.c — evaluating a net: statements, expressions, block calls, seq and
 * instance names. See elab.h for the model and elab_impl.h for the pieces.
 *
 * Naming. Each Frame has a prefix, the instance path of its scope ("" for
 * the net, "layer1.0" inside that block call). An assignment `conv1 = e`
 * hands the name prefix.conv1 to the outermost call of e (through
 * parentheses and the chosen branch of a ternary); inside `seq` every
 * expression statement hands out path.N. Anything that creates parameters
 * or a scope without being handed a name is an error.
 */
#include "elab_impl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Limits that turn runaway descriptions into errors instead of hangs. */
enum {
    MAX_CALL_DEPTH = 256,
    MAX_EXPR_DEPTH = 1000,   /* nested sub-expressions; evaluation recurses */
    MAX_WORK = 20 * 1000 * 1000,
    MAX_NODES = 250 * 1000,  /* far beyond real networks (ViT-B: 142); bounds memory */
    MAX_NOTES = 8
};

const char *val_kind_name(ValKind k)
{
    static const char *const names[] = {"<error>", "int", "float", "bool", "string", "list", "tensor"};
    return names[k];
}

const char *val_str(Arena *a, const Val *v)
{
    switch (v->kind) {
    case V_INT: return arena_printf(a, "%lld", (long long)v->i);
    case V_FLOAT: return arena_printf(a, "%g", v->f);
    case V_BOOL: return v->b ? "true" : "false";
    case V_STRING: return v->s;
    case V_LIST: {
        const char *s = "[";
        for (int i = 0; i < v->n; i++)
            s = arena_printf(a, "%s%s%s", s, i ? ", " : "", val_str(a, &v->items[i]));
        return arena_printf(a, "%s]", s);
    }
    case V_TENSOR: {
        char buf[160];
        return arena_printf(a, "%s%s", dtype_name(v->t->dtype), shape_str(&v->t->shape, buf, sizeof buf));
    }
    default: return "<error>";
    }
}

void elab_error(Ctx *c, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = arena_vprintf(c->arena, fmt, ap);
    va_end(ap);
    const char *key = arena_printf(c->arena, "%s:%d:%d: %s", loc.file ? loc.file : "", loc.line, loc.col, msg);
    if (strmap_get(c->reported, key)) {
        diag_error_silent(c->diag);
        return;
    }
    strmap_put(c->reported, key, msg);
    diag_error(c->diag, loc, "%s", msg);
    int notes = 0;
    for (Frame *f = c->frame; f && f->block && !f->block->is_net; f = f->caller) {
        if (notes++ == MAX_NOTES) {
            diag_note(c->diag, loc_none(), "(further block calls omitted)");
            break;
        }
        diag_note(c->diag, f->call_loc, "in block '%s' called from here", f->block->name);
    }
}

const char *inst_join(Ctx *c, const char *prefix, const char *name)
{
    if (!prefix || !name)
        return NULL;
    return *prefix ? arena_printf(c->arena, "%s.%s", prefix, name) : name;
}

/* ---- variables ---- */

static Val *lookup(Ctx *c, const char *name)
{
    return strmap_get(c->frame->vars, name);
}

static void bind(Ctx *c, const char *name, Val v)
{
    Val *slot = strmap_get(c->frame->vars, name);
    if (!slot) {
        slot = arena_alloc(c->arena, sizeof *slot);
        strmap_put(c->frame->vars, name, slot);
    }
    *slot = v;
}

/* ---- name templates: "encoder_layer_{i}" ---- */

static const char *expand_template(Ctx *c, const char *tmpl, Loc loc)
{
    const char *out = "";
    const char *p = tmpl;
    while (*p) {
        const char *open = strchr(p, '{');
        if (!open)
            return arena_printf(c->arena, "%s%s", out, p);
        const char *close = strchr(open, '}');
        if (!close) {
            elab_error(c, loc, "unterminated '{' in name template \"%s\"", tmpl);
            return NULL;
        }
        const char *var = arena_strndup(c->arena, open + 1, (size_t)(close - open - 1));
        Val *v = lookup(c, var);
        if (!v) {
            elab_error(c, loc, "unknown name '%s' in template \"%s\"", var, tmpl);
            return NULL;
        }
        if (v->kind == V_POISON)
            return NULL;
        if (v->kind != V_INT && v->kind != V_STRING && v->kind != V_BOOL) {
            elab_error(c, loc, "'%s' in template \"%s\" is a %s; only int, bool and string values can be spliced",
                       var, tmpl, val_kind_name(v->kind));
            return NULL;
        }
        out = arena_printf(c->arena, "%s%.*s%s", out, (int)(open - p), p, val_str(c->arena, v));
        p = close + 1;
    }
    return out;
}

/* ---- expressions ---- */

static bool is_number(const Val *v) { return v->kind == V_INT || v->kind == V_FLOAT; }
static double num(const Val *v) { return v->kind == V_INT ? (double)v->i : v->f; }

static const char *op_spelling(AstOp op)
{
    static const char *const s[] = {"-", "!", "+", "-", "*", "/", "%", "==", "!=",
                                    "<", "<=", ">", ">=", "&&", "||"};
    return s[op];
}

static bool values_equal(const Val *a, const Val *b)
{
    if (is_number(a) && is_number(b))
        return a->kind == V_INT && b->kind == V_INT ? a->i == b->i : num(a) == num(b);
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case V_BOOL: return a->b == b->b;
    case V_STRING: return strcmp(a->s, b->s) == 0;
    case V_LIST:
        if (a->n != b->n)
            return false;
        for (int i = 0; i < a->n; i++)
            if (!values_equal(&a->items[i], &b->items[i]))
                return false;
        return true;
    case V_TENSOR: return a->t == b->t;
    default: return false;
    }
}

/* Integer arithmetic with overflow detection (a description with overflowing
 * sizes is a user error, not undefined behaviour). */
static Val int_arith(Ctx *c, AstOp op, int64_t a, int64_t b, Loc loc)
{
    int64_t r = 0;
    switch (op) {
    case TOK_OP_ADD: if (__builtin_add_overflow(a, b, &r)) goto overflow; break;
    case TOK_OP_SUB: if (__builtin_sub_overflow(a, b, &r)) goto overflow; break;
    case TOK_OP_MUL: if (__builtin_mul_overflow(a, b, &r)) goto overflow; break;
    case TOK_OP_DIV:
    case TOK_OP_MOD:
        if (b == 0) {
            elab_error(c, loc, "%s by zero", op == TOK_OP_DIV ? "division" : "remainder");
            return val_poison();
        }
        if (a == INT64_MIN && b == -1)
            goto overflow;
        r = op == TOK_OP_DIV ? a / b : a % b;
        break;
    default: break;
    }
    return val_int(r);
overflow:
    elab_error(c, loc, "integer overflow in %lld %s %lld", (long long)a, op_spelling(op), (long long)b);
    return val_poison();
}

static Val eval_binary(Ctx *c, const AstExpr *e, const char *inst)
{
    AstOp op = e->u.op.op;
    Val a = eval_expr(c, e->u.op.a, NULL);
    if (a.kind == V_POISON)
        return a;
    /* && and || short-circuit so `i > 0 && list[i - 1] == 3` is safe. */
    if (op == TOK_OP_AND || op == TOK_OP_OR) {
        if (a.kind != V_BOOL) {
            elab_error(c, e->u.op.a->loc, "operand of '%s' must be bool, not %s", op_spelling(op),
                       val_kind_name(a.kind));
            return val_poison();
        }
        if (a.b == (op == TOK_OP_OR))
            return a;
        Val b = eval_expr(c, e->u.op.b, NULL);
        if (b.kind != V_BOOL && b.kind != V_POISON) {
            elab_error(c, e->u.op.b->loc, "operand of '%s' must be bool, not %s", op_spelling(op),
                       val_kind_name(b.kind));
            return val_poison();
        }
        return b;
    }
    Val b = eval_expr(c, e->u.op.b, NULL);
    if (b.kind == V_POISON)
        return b;
    if (op == TOK_OP_EQ || op == TOK_OP_NE) {
        bool eq = values_equal(&a, &b);
        return val_bool(op == TOK_OP_EQ ? eq : !eq);
    }
    if (a.kind == V_TENSOR || b.kind == V_TENSOR) {
        OpKind k = op == TOK_OP_ADD ? OP_ADD : op == TOK_OP_SUB ? OP_SUB : op == TOK_OP_MUL ? OP_MUL : OP__COUNT;
        if (k == OP__COUNT || a.kind != V_TENSOR || b.kind != V_TENSOR) {
            elab_error(c, e->loc, "invalid operands to '%s' (%s and %s)", op_spelling(op),
                       val_kind_name(a.kind), val_kind_name(b.kind));
            return val_poison();
        }
        IrValue *in[2] = {a.t, b.t};
        return elab_make_node(c, k, inst, 2, in, 0, NULL, e->loc);
    }
    if (op == TOK_OP_ADD && a.kind == V_STRING && b.kind == V_STRING)
        return (Val){.kind = V_STRING, .s = arena_printf(c->arena, "%s%s", a.s, b.s)};
    if (!is_number(&a) || !is_number(&b)) {
        elab_error(c, e->loc, "invalid operands to '%s' (%s and %s)", op_spelling(op),
                   val_kind_name(a.kind), val_kind_name(b.kind));
        return val_poison();
    }
    if (a.kind == V_INT && b.kind == V_INT) {
        switch (op) {
        case TOK_OP_LT: return val_bool(a.i < b.i);
        case TOK_OP_LE: return val_bool(a.i <= b.i);
        case TOK_OP_GT: return val_bool(a.i > b.i);
        case TOK_OP_GE: return val_bool(a.i >= b.i);
        default: return int_arith(c, op, a.i, b.i, e->loc);
        }
    }
    double x = num(&a), y = num(&b);
    switch (op) {
    case TOK_OP_ADD: return val_float(x + y);
    case TOK_OP_SUB: return val_float(x - y);
    case TOK_OP_MUL: return val_float(x * y);
    case TOK_OP_DIV:
        if (y == 0) {
            elab_error(c, e->loc, "division by zero");
            return val_poison();
        }
        return val_float(x / y);
    case TOK_OP_MOD:
        if (y == 0) {
            elab_error(c, e->loc, "remainder by zero");
            return val_poison();
        }
        return val_float(fmod(x, y));
    case TOK_OP_LT: return val_bool(x < y);
    case TOK_OP_LE: return val_bool(x <= y);
    case TOK_OP_GT: return val_bool(x > y);
    case TOK_OP_GE: return val_bool(x >= y);
    default: return val_poison();
    }
}

static Val eval_unary(Ctx *c, const AstExpr *e)
{
    Val a = eval_expr(c, e->u.op.a, NULL);
    if (a.kind == V_POISON)
        return a;
    if (e->u.op.op == TOK_OP_NOT) {
        if (a.kind == V_BOOL)
            return val_bool(!a.b);
    } else if (a.kind == V_INT) {
        if (a.i == INT64_MIN) {
            elab_error(c, e->loc, "integer overflow in negation");
            return val_poison();
        }
        return val_int(-a.i);
    } else if (a.kind == V_FLOAT)
        return val_float(-a.f);
    elab_error(c, e->loc, "invalid operand to unary '%s' (%s)", op_spelling(e->u.op.op),
               val_kind_name(a.kind));
    return val_poison();
}

static Val eval_index(Ctx *c, const AstExpr *e)
{
    Val base = eval_expr(c, e->u.index.base, NULL);
    Val idx = eval_expr(c, e->u.index.index, NULL);
    if (base.kind == V_POISON || idx.kind == V_POISON)
        return val_poison();
    if (base.kind != V_LIST) {
        elab_error(c, e->u.index.base->loc, "only lists can be indexed, not %s%s",
                   val_kind_name(base.kind), base.kind == V_TENSOR ? " (use select or slice)" : "");
        return val_poison();
    }
    if (idx.kind != V_INT) {
        elab_error(c, e->u.index.index->loc, "list index must be int, not %s", val_kind_name(idx.kind));
        return val_poison();
    }
    int64_t i = idx.i < 0 ? idx.i + base.n : idx.i;
    if (i < 0 || i >= base.n) {
        elab_error(c, e->u.index.index->loc, "index %lld out of range for a list of %d", (long long)idx.i, base.n);
        return val_poison();
    }
    return base.items[i];
}

static Val call_block(Ctx *c, const AstBlock *b, const AstExpr *call, const char *inst);
static void exec_stmts(Ctx *c, const AstStmts *body);

/* seq(x) { ... }: a scope whose expression statements are numbered children. */
static Val eval_seq(Ctx *c, const AstExpr *e, const char *inst)
{
    Val input = eval_expr(c, e->u.seq.input, NULL);
    if (!inst) {
        elab_error(c, e->loc, "seq needs an instance name (bind it: name = seq(...) { ... })");
        return val_poison();
    }
    SeqCtx seq = {.path = inst, .last = input};
    SeqCtx *outer = c->frame->seq;
    c->frame->seq = &seq;
    exec_stmts(c, &e->u.seq.body);
    c->frame->seq = outer;
    if (seq.children == 0 && input.kind != V_POISON)
        diag_warning(c->diag, e->loc, "seq '%s' has no layers", inst);
    return seq.last;
}

static Val eval_call(Ctx *c, const AstExpr *e, const char *inst)
{
    Val v;
    if (elab_call_op(c, e, inst, &v))
        return v;
    const AstBlock *b = strmap_get(c->prog->blocks, e->u.call.callee);
    if (b) {
        if (b->is_net) {
            elab_error(c, e->u.call.callee_loc, "'%s' is a net, not a block; nets cannot be called",
                       b->name);
            diag_note(c->diag, b->loc, "'%s' is defined here", b->name);
            return val_poison();
        }
        return call_block(c, b, e, inst);
    }
    elab_error(c, e->u.call.callee_loc, "unknown operator or block '%s'", e->u.call.callee);
    return val_poison();
}

static Val eval_expr_kind(Ctx *c, const AstExpr *e, const char *inst);

/* Long operator chains (1+1+...+1) nest deeply although the parser's stack
 * stays flat, so the evaluator bounds its own recursion. */
Val eval_expr(Ctx *c, const AstExpr *e, const char *inst)
{
    if (c->expr_depth >= MAX_EXPR_DEPTH) {
        elab_error(c, e->loc, "expression nested more than %d deep", MAX_EXPR_DEPTH);
        return val_poison();
    }
    if (c->halted)
        return val_poison();
    if (c->g && c->g->nnodes >= MAX_NODES) {
        elab_error(c, e->loc, "network too large: more than %d operators", MAX_NODES);
        c->halted = true;
        return val_poison();
    }
    c->expr_depth++;
    Val v = eval_expr_kind(c, e, inst);
    c->expr_depth--;
    return v;
}

static Val eval_expr_kind(Ctx *c, const AstExpr *e, const char *inst)
{
    switch (e->kind) {
    case E_INT: return val_int(e->u.ival);
    case E_FLOAT: return val_float(e->u.fval);
    case E_BOOL: return val_bool(e->u.bval);
    case E_STRING: return (Val){.kind = V_STRING, .s = e->u.sval};
    case E_NAME: {
        if (strcmp(e->u.name, "_") == 0) {
            if (!c->frame->seq) {
                elab_error(c, e->loc, "'_' (the previous layer) is only defined inside seq");
                return val_poison();
            }
            return c->frame->seq->last;
        }
        Val *v = lookup(c, e->u.name);
        if (!v) {
            elab_error(c, e->loc, "unknown name '%s'", e->u.name);
            bind(c, e->u.name, val_poison()); /* report once */
            return val_poison();
        }
        return *v;
    }
    case E_LIST: {
        Val l = {.kind = V_LIST, .n = e->u.list.n};
        l.items = arena_alloc(c->arena, (size_t)(l.n ? l.n : 1) * sizeof *l.items);
        for (int i = 0; i < l.n; i++) {
            l.items[i] = eval_expr(c, e->u.list.items[i], NULL);
            if (l.items[i].kind == V_POISON)
                return val_poison();
        }
        return l;
    }
    case E_UNARY: return eval_unary(c, e);
    case E_BINARY: return eval_binary(c, e, inst);
    case E_TERNARY: {
        Val cond = eval_expr(c, e->u.ternary.cond, NULL);
        if (cond.kind == V_POISON)
            return cond;
        if (cond.kind != V_BOOL) {
            elab_error(c, e->u.ternary.cond->loc, "condition must be bool, not %s", val_kind_name(cond.kind));
            return val_poison();
        }
        return eval_expr(c, cond.b ? e->u.ternary.then : e->u.ternary.els, inst);
    }
    case E_CALL: return eval_call(c, e, inst);
    case E_SEQ: return eval_seq(c, e, inst);
    case E_INDEX: return eval_index(c, e);
    }
    return val_poison();
}

/* ---- block calls ---- */

/* Checks a tensor argument against a declared type such as f32[N, C, H, W],
 * binding dimension names that are not yet bound in the callee's frame. */
static bool match_tensor_type(Ctx *c, const AstParam *p, const Val *arg, Loc arg_loc)
{
    const AstTensorType *ty = p->tensor_type;
    const IrValue *t = arg->t;
    char got[160];
    shape_str(&t->shape, got, sizeof got);
    Frame *callee = c->frame;
    if (t->dtype != ty->dtype || t->shape.rank != ty->rank) {
        c->frame = callee->caller; /* report at the call, not in the callee */
        elab_error(c, arg_loc, "argument '%s' is %s%s, but the block expects dtype %s and rank %d",
                   p->name, dtype_name(t->dtype), got, dtype_name(ty->dtype), ty->rank);
        c->frame = callee;
        diag_note(c->diag, p->loc, "parameter '%s' is declared here", p->name);
        return false;
    }
    for (int i = 0; i < ty->rank; i++) {
        const AstExpr *de = ty->dims[i];
        if (de->kind == E_NAME && !lookup(c, de->u.name)) {
            bind(c, de->u.name, val_int(t->shape.d[i]));
            continue;
        }
        Val dv = eval_expr(c, de, NULL);
        if (dv.kind == V_POISON)
            return false;
        if (dv.kind != V_INT) {
            elab_error(c, de->loc, "dimension must be an int, not %s", val_kind_name(dv.kind));
            return false;
        }
        if (dv.i != t->shape.d[i]) {
            c->frame = callee->caller;
            elab_error(c, arg_loc, "argument '%s' has shape %s, but dimension %d must be %lld",
                       p->name, got, i, (long long)dv.i);
            c->frame = callee;
            diag_note(c->diag, de->loc, "required by the type of parameter '%s'", p->name);
            return false;
        }
    }
    return true;
}

/* Checks (and widens int to float) a value for parameter p; is_default says
 * whether it came from the declaration rather than a call. */
static bool check_param_type(Ctx *c, const AstParam *p, Val *v, Loc loc, bool is_default)
{
    ValKind want = p->type == PT_INT ? V_INT : p->type == PT_FLOAT ? V_FLOAT
                 : p->type == PT_BOOL ? V_BOOL : p->type == PT_STRING ? V_STRING : V_TENSOR;
    if (v->kind == V_POISON)
        return false;
    if (want == V_FLOAT && v->kind == V_INT)
        *v = val_float((double)v->i);
    if (v->kind != want) {
        elab_error(c, loc, "%s '%s' must be %s, not %s", is_default ? "the default of parameter" : "argument",
                   p->name, val_kind_name(want), val_kind_name(v->kind));
        if (!is_default)
            diag_note(c->diag, p->loc, "parameter '%s' is declared here", p->name);
        return false;
    }
    return true;
}

/* Binds call arguments to parameters: positional first, then by keyword,
 * then defaults (evaluated in the callee so they may use earlier params). */
static bool bind_args(Ctx *c, const AstBlock *b, const AstArgs *args, Frame *callee, Loc call_loc)
{
    const AstExpr **given = arena_alloc(c->arena, (size_t)(b->nparams + 1) * sizeof *given);
    Loc *given_loc = arena_alloc(c->arena, (size_t)(b->nparams + 1) * sizeof *given_loc);
    bool ok = true;
    int npos = 0;
    for (int i = 0; i < args->n; i++) {
        const AstArg *a = &args->items[i];
        int k = -1;
        if (!a->key) {
            k = npos++;
            if (k >= b->nparams) {
                elab_error(c, a->loc, "too many arguments to block '%s' (it takes %d)", b->name, b->nparams);
                diag_note(c->diag, b->loc, "'%s' is defined here", b->name);
                return false;
            }
        } else {
            for (int j = 0; j < b->nparams; j++)
                if (strcmp(b->params[j].name, a->key) == 0)
                    k = j;
            if (k < 0) {
                elab_error(c, a->loc, "block '%s' has no parameter '%s'", b->name, a->key);
                diag_note(c->diag, b->loc, "'%s' is defined here", b->name);
                ok = false;
                continue;
            }
        }
        if (given[k]) {
            elab_error(c, a->loc, "parameter '%s' of '%s' given twice", b->params[k].name, b->name);
            ok = false;
            continue;
        }
        given[k] = a->value;
        given_loc[k] = a->loc;
    }
    if (!ok)
        return false;
    /* Arguments are evaluated in the caller's frame, in parameter order. */
    Val *vals = arena_alloc(c->arena, (size_t)(b->nparams + 1) * sizeof *vals);
    for (int k = 0; k < b->nparams; k++) {
        if (given[k]) {
            vals[k] = eval_expr(c, given[k], NULL);
            if (!check_param_type(c, &b->params[k], &vals[k], given_loc[k], false))
                ok = false;
        }
    }
    if (!ok)
        return false;
    c->frame = callee;
    for (int k = 0; k < b->nparams && ok; k++) {
        const AstParam *p = &b->params[k];
        if (!given[k]) {
            if (!p->dflt) {
                c->frame = callee->caller;
                elab_error(c, call_loc, "missing argument '%s' in call of '%s'", p->name, b->name);
                diag_note(c->diag, p->loc, "parameter '%s' is declared here", p->name);
                c->frame = callee;
                ok = false;
                break;
            }
            vals[k] = eval_expr(c, p->dflt, NULL);
            if (!check_param_type(c, p, &vals[k], p->dflt->loc, true)) {
                ok = false;
                break;
            }
        } else if (p->tensor_type && !match_tensor_type(c, p, &vals[k], given_loc[k])) {
            ok = false;
            break;
        }
        bind(c, p->name, vals[k]);
    }
    c->frame = callee->caller;
    return ok;
}

static Val call_block(Ctx *c, const AstBlock *b, const AstExpr *call, const char *inst)
{
    for (Frame *f = c->frame; f; f = f->caller)
        if (f->block == b) {
            elab_error(c, call->u.call.callee_loc, "recursive call of block '%s'", b->name);
            diag_note(c->diag, b->loc, "'%s' is defined here", b->name);
            return val_poison();
        }
    if (!inst) {
        elab_error(c, call->u.call.callee_loc, "call of block '%s' needs an instance name "
                   "(bind it: name = %s(...))", b->name, b->name);
        return val_poison();
    }
    if (c->depth >= MAX_CALL_DEPTH) {
        elab_error(c, call->loc, "blocks nested more than %d deep", MAX_CALL_DEPTH);
        return val_poison();
    }
    Frame callee = {.caller = c->frame, .block = b, .call_loc = call->u.call.callee_loc,
                    .vars = strmap_new(), .prefix = inst};
    Val result = val_poison();
    if (bind_args(c, b, &call->u.call.args, &callee, call->loc)) {
        int mark = c->nannots, direct_from = c->direct_from;
        c->frame = &callee;
        c->depth++;
        for (int i = 0; i < b->annots.n; i++)
            elab_push_annot(c, &b->annots.items[i]);
        c->direct_from = c->nannots; /* the call's and block's own: inherited */
        exec_stmts(c, &b->body);
        c->direct_from = direct_from;
        elab_pop_annots(c, mark);
        if (!callee.returned && !c->halted)
            elab_error(c, b->loc, "block '%s' ends without 'return'", b->name);
        c->depth--;
        c->frame = callee.caller;
        if (callee.returned)
            result = callee.ret;
    }
    strmap_free(callee.vars);
    return result;
}

/* ---- statements ---- */

static bool want_bool(Ctx *c, const AstExpr *e, bool *out)
{
    Val v = eval_expr(c, e, NULL);
    if (v.kind == V_POISON)
        return false;
    if (v.kind != V_BOOL) {
        elab_error(c, e->loc, "condition must be bool, not %s", val_kind_name(v.kind));
        return false;
    }
    *out = v.b;
    return true;
}

static bool want_int(Ctx *c, const AstExpr *e, int64_t *out)
{
    Val v = eval_expr(c, e, NULL);
    if (v.kind == V_POISON)
        return false;
    if (v.kind != V_INT) {
        elab_error(c, e->loc, "expected an int, not %s", val_kind_name(v.kind));
        return false;
    }
    *out = v.i;
    return true;
}

/* Evaluates a tensor type such as f32[1, 3, size, size]; every dim must be known. */
static bool eval_tensor_type(Ctx *c, const AstTensorType *ty, Shape *out)
{
    if (ty->rank > SHAPE_MAX_RANK) {
        elab_error(c, ty->loc, "rank %d exceeds the maximum of %d", ty->rank, SHAPE_MAX_RANK);
        return false;
    }
    out->rank = ty->rank;
    for (int i = 0; i < ty->rank; i++) {
        int64_t d;
        if (!want_int(c, ty->dims[i], &d))
            return false;
        if (d <= 0) {
            elab_error(c, ty->dims[i]->loc, "dimension %d is %lld; dimensions must be positive", i, (long long)d);
            return false;
        }
        out->d[i] = d;
    }
    if (shape_numel(out) < 0 || shape_numel(out) > ((int64_t)1 << 40)) {
        elab_error(c, ty->loc, "tensor type is too large");
        return false;
    }
    return true;
}

static void exec_stmt(Ctx *c, const AstStmt *s);

static void exec_stmts(Ctx *c, const AstStmts *body)
{
    for (int i = 0; i < body->n && !c->frame->returned && !c->halted; i++) {
        if (++c->work > MAX_WORK) {
            elab_error(c, body->items[i]->loc, "network too large: more than %d statements executed", MAX_WORK);
            c->halted = true;
            return;
        }
        exec_stmt(c, body->items[i]);
    }
}

static bool in_net(const Ctx *c) { return c->frame->block->is_net; }

static void exec_in(Ctx *c, const AstStmt *s)
{
    if (!in_net(c) || c->frame->seq) {
        elab_error(c, s->loc, "'in' declarations belong at the top level of a net");
        bind(c, s->u.in.name, val_poison());
        return;
    }
    Shape shape;
    if (!eval_tensor_type(c, &s->u.in.type, &shape)) {
        bind(c, s->u.in.name, val_poison()); /* later uses stay quiet */
        return;
    }
    if (c->batch > 0 && shape.rank > 0)
        shape.d[0] = c->batch;
    if (lookup(c, s->u.in.name) || ir_find_input(c->g, s->u.in.name)) {
        elab_error(c, s->u.in.name_loc, "redefinition of '%s'", s->u.in.name);
        bind(c, s->u.in.name, val_poison());
        return;
    }
    IrValue *v = ir_add_input(c->g, s->u.in.name, s->u.in.type.dtype, shape, s->u.in.name_loc);
    bind(c, s->u.in.name, val_tensor(v));
}

static void exec_out(Ctx *c, const AstStmt *s)
{
    if (!in_net(c) || c->frame->seq) {
        elab_error(c, s->loc, "'out' declarations belong at the top level of a net");
        return;
    }
    Val v = eval_expr(c, s->u.out.value, inst_join(c, c->frame->prefix, s->u.out.name));
    if (v.kind == V_POISON)
        return;
    if (v.kind != V_TENSOR) {
        elab_error(c, s->u.out.value->loc, "output '%s' must be a tensor, not %s", s->u.out.name,
                   val_kind_name(v.kind));
        return;
    }
    for (int i = 0; i < c->g->noutputs; i++)
        if (strcmp(c->g->outputs[i].name, s->u.out.name) == 0) {
            elab_error(c, s->u.out.name_loc, "output '%s' declared twice", s->u.out.name);
            return;
        }
    if (s->u.out.type) {
        Shape want;
        if (!eval_tensor_type(c, s->u.out.type, &want))
            return;
        if (!shape_equal(&want, &v.t->shape) || v.t->dtype != s->u.out.type->dtype) {
            char a[160], b[160];
            elab_error(c, s->u.out.value->loc, "output '%s' is %s%s, but is declared %s%s", s->u.out.name,
                       dtype_name(v.t->dtype), shape_str(&v.t->shape, a, sizeof a),
                       dtype_name(s->u.out.type->dtype), shape_str(&want, b, sizeof b));
            return;
        }
    }
    ir_add_output(c->g, s->u.out.name, v.t);
}

/*
 * `a, b = op(...)`: v is the first result of a node with several (topk's
 * values and indices); the other targets get the node's other results. The
 * node keeps the first target's instance name.
 */
static void bind_more_results(Ctx *c, const AstStmt *s, Val v)
{
    int want = 1 + s->u.assign.nmore;
    if (v.kind == V_POISON)
        goto poison;
    const IrNode *n = v.kind == V_TENSOR && v.t->kind == VK_NODE ? v.t->def : NULL;
    if (!n || v.t->result != 0 || n->nout != want) {
        int have = n && v.t->result == 0 ? n->nout : 1;
        elab_error(c, s->u.assign.value->loc, "%d targets are assigned but %s gives %d result%s", want,
                   n ? op_info(n->op)->name : "this expression", have, have == 1 ? "" : "s");
        goto poison;
    }
    for (int k = 0; k < s->u.assign.nmore; k++)
        bind(c, s->u.assign.more[k], val_tensor(n->outs[k + 1]));
    return;
poison:
    for (int k = 0; k < s->u.assign.nmore; k++)
        bind(c, s->u.assign.more[k], val_poison());
}

static void exec_assign(Ctx *c, const AstStmt *s)
{
    const char *name = s->u.assign.target;
    if (s->u.assign.is_template) {
        name = expand_template(c, name, s->u.assign.target_loc);
        if (!name)
            return;
    }
    SeqCtx *seq = c->frame->seq;
    const char *inst = inst_join(c, seq ? seq->path : c->frame->prefix, name);
    Val v = eval_expr(c, s->u.assign.value, inst);
    if (s->u.assign.nmore > 0) {
        bind_more_results(c, s, v);
        if (v.kind != V_TENSOR)
            v = val_poison(); /* already reported; the first target stays quiet */
    }
    if (!s->u.assign.is_template)
        bind(c, name, v);
    if (seq && v.kind == V_TENSOR)
        seq->last = v;
    if (seq && (v.kind == V_TENSOR || v.kind == V_POISON))
        seq->children++;
}

static void exec_expr_stmt(Ctx *c, const AstStmt *s)
{
    SeqCtx *seq = c->frame->seq;
    if (!seq) {
        Val v = eval_expr(c, s->u.expr.value, NULL);
        if (v.kind != V_POISON)
            diag_warning(c->diag, s->loc, "value of this expression is unused");
        return;
    }
    const char *inst = arena_printf(c->arena, "%s.%d", seq->path, seq->next_index++);
    seq->children++;
    Val v = eval_expr(c, s->u.expr.value, inst);
    if (v.kind == V_POISON) {
        seq->last = v;
        return;
    }
    if (v.kind != V_TENSOR) {
        elab_error(c, s->u.expr.value->loc, "a layer of seq must produce a tensor, not %s", val_kind_name(v.kind));
        seq->last = val_poison();
        return;
    }
    seq->last = v;
}

static void exec_for(Ctx *c, const AstStmt *s)
{
    int64_t lo, hi;
    if (!want_int(c, s->u.for_.lo, &lo) | !want_int(c, s->u.for_.hi, &hi))
        return;
    for (int64_t i = lo; i < hi && !c->frame->returned && !c->halted; i++) {
        bind(c, s->u.for_.var, val_int(i));
        exec_stmts(c, &s->u.for_.body);
    }
}

static void exec_assert(Ctx *c, const AstStmt *s)
{
    bool ok;
    if (!want_bool(c, s->u.assert_.cond, &ok) || ok)
        return;
    const char *msg = s->u.assert_.message ? expand_template(c, s->u.assert_.message, s->loc) : NULL;
    if (s->u.assert_.message && !msg)
        return;
    elab_error(c, s->u.assert_.cond->loc, "assertion failed%s%s", msg ? ": " : "", msg ? msg : "");
    c->halted = true; /* what follows relied on the assertion */
}

static void exec_stmt(Ctx *c, const AstStmt *s)
{
    int mark = c->nannots, direct_from = c->direct_from;
    /* A bad annotation is reported and dropped; the statement still runs so
     * the names it defines exist and later lines report nothing spurious. */
    for (int i = 0; i < s->annots.n; i++)
        elab_push_annot(c, &s->annots.items[i]);
    /* Direct for the nodes this statement creates; a statement nested in it
     * (a loop or if body, a seq) moves the mark past these again. */
    c->direct_from = mark;
    switch (s->kind) {
    case S_IN: exec_in(c, s); break;
    case S_OUT: exec_out(c, s); break;
    case S_ASSIGN: exec_assign(c, s); break;
    case S_EXPR: exec_expr_stmt(c, s); break;
    case S_RETURN:
        if (in_net(c)) {
            elab_error(c, s->loc, "'return' is for blocks; a net declares its results with 'out'");
            break;
        }
        if (c->frame->seq) {
            elab_error(c, s->loc, "'return' inside seq");
            break;
        }
        /* The returned expression is the block instance itself, so
         * `return seq(x) { ... }` numbers its layers right under the
         * block's name, as a module that is an nn.Sequential. */
        c->frame->ret = eval_expr(c, s->u.expr.value, c->frame->prefix);
        c->frame->returned = true;
        break;
    case S_FOR: exec_for(c, s); break;
    case S_IF: {
        bool cond;
        if (want_bool(c, s->u.if_.cond, &cond))
            exec_stmts(c, cond ? &s->u.if_.then : &s->u.if_.els);
        break;
    }
    case S_ASSERT: exec_assert(c, s); break;
    }
    c->direct_from = direct_from;
    elab_pop_annots(c, mark);
}

/* ---- the entry net ---- */

static const AstBlock *find_net(Ctx *c, const char *path, const char *want)
{
    const AstFile *f = c->prog->main;
    const AstBlock *found = NULL;
    int nnets = 0;
    for (int i = 0; i < f->nblocks; i++)
        if (f->blocks[i]->is_net) {
            nnets++;
            if (!want || strcmp(f->blocks[i]->name, want) == 0)
                found = f->blocks[i];
        }
    const char *names = "";
    for (int i = 0; i < f->nblocks; i++)
        if (f->blocks[i]->is_net)
            names = arena_printf(c->arena, "%s%s'%s'", names, *names ? ", " : "", f->blocks[i]->name);
    if (want && !found) {
        const AstBlock *b = strmap_get(c->prog->blocks, want);
        if (b && b->is_net)
            return b;
        diag_file_error(c->diag, path, "no net named '%s'%s%s", want, nnets ? "; it defines " : "", names);
        return NULL;
    }
    if (!found)
        diag_file_error(c->diag, path, "defines no net (a file to compile needs 'net name(...) { ... }')");
    else if (nnets > 1 && !want) {
        diag_file_error(c->diag, path, "defines %d nets (%s); choose one with --net NAME", nnets, names);
        return NULL;
    }
    return found;
}

/* Parses a -D value according to the parameter's declared type. */
static bool parse_define(Ctx *c, const AstParam *p, const char *text, Val *out)
{
    char *end;
    switch (p->type) {
    case PT_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (*text && !*end && errno == 0)
            return *out = val_int(v), true;
        break;
    }
    case PT_FLOAT: {
        double v = strtod(text, &end);
        if (*text && !*end)
            return *out = val_float(v), true;
        break;
    }
    case PT_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "false"))
            return *out = val_bool(text[0] == 't'), true;
        break;
    case PT_STRING: return *out = (Val){.kind = V_STRING, .s = arena_strdup(c->arena, text)}, true;
    case PT_TENSOR: break;
    }
    diag_error(c->diag, loc_none(), "-D %s=%s: not a valid %s", p->name, text,
               p->type == PT_INT ? "int" : p->type == PT_FLOAT ? "float" : p->type == PT_BOOL ? "bool" : "value");
    return false;
}

static void elab_net(Ctx *c, const AstBlock *net, const ElabOptions *opt)
{
    Frame top = {.block = net, .vars = strmap_new(), .prefix = ""};
    c->frame = &top;
    bool ok = true;
    for (int k = 0; k < opt->ndefines; k++) {
        int found = -1;
        for (int j = 0; j < net->nparams; j++)
            if (strcmp(net->params[j].name, opt->defines[k].name) == 0)
                found = j;
        if (found < 0) {
            const char *names = "";
            for (int j = 0; j < net->nparams; j++)
                names = arena_printf(c->arena, "%s%s%s", names, j ? ", " : "", net->params[j].name);
            diag_error(c->diag, loc_none(), "-D %s: net '%s' has no parameter '%s'", opt->defines[k].name,
                       net->name, opt->defines[k].name);
            if (net->nparams)
                diag_note(c->diag, net->loc, "net '%s' has the parameters %s", net->name, names);
            else
                diag_note(c->diag, net->loc, "net '%s' has no parameters", net->name);
            ok = false;
        }
    }
    for (int j = 0; j < net->nparams && ok; j++) {
        const AstParam *p = &net->params[j];
        Val v = val_poison();
        const char *given = NULL;
        for (int k = 0; k < opt->ndefines; k++)
            if (strcmp(opt->defines[k].name, p->name) == 0)
                given = opt->defines[k].value;
        if (p->type == PT_TENSOR) {
            elab_error(c, p->loc, "net parameters are compile-time settings; declare tensors with 'in'");
            ok = false;
        } else if (given) {
            ok = parse_define(c, p, given, &v);
        } else if (!p->dflt) {
            elab_error(c, p->loc, "net parameter '%s' has no default; give it with -D %s=VALUE", p->name, p->name);
            ok = false;
        } else {
            v = eval_expr(c, p->dflt, NULL);
            ok = check_param_type(c, p, &v, p->dflt->loc, true);
        }
        bind(c, p->name, v);
    }
    if (ok) {
        for (int i = 0; i < net->annots.n; i++)
            elab_push_annot(c, &net->annots.items[i]);
        c->direct_from = c->nannots; /* the net's own annotations: inherited */
        exec_stmts(c, &net->body);
        if (diag_errors(c->diag) == 0 && c->g->noutputs == 0)
            diag_error(c->diag, net->loc, "net '%s' declares no outputs ('out name = value;')", net->name);
    }
    strmap_free(top.vars);
    c->frame = NULL;
}

IrGraph *elab_file(Arena *a, Diag *d, const char *path, const ElabOptions *opt)
{
    static const ElabOptions none;
    if (!opt)
        opt = &none;
    Program *prog = prog_load(a, d, path);
    if (!prog)
        return NULL;
    Ctx c = {.arena = a, .diag = d, .prog = prog, .batch = opt->batch, .checked_annots = strmap_new(),
             .reported = strmap_new()};
    const AstBlock *net = find_net(&c, path, opt->net);
    if (net) {
        c.g = ir_graph_new(net->name);
        elab_net(&c, net, opt);
    }
    strmap_free(c.checked_annots);
    strmap_free(c.reported);
    strmap_free(prog->blocks);
    if (diag_errors(d) > 0) {
        ir_graph_free(c.g);
        return NULL;
    }
    return c.g;
}
