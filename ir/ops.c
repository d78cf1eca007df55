/*
 * ops.c — the operator table (ops.def) and every op's shape, parameter and
 * MAC rule.
 *
 * Shape rules reproduce PyTorch exactly (output size formulas, broadcasting,
 * dim wrapping, slice clamping), because weights and reference outputs come
 * from PyTorch and a single off-by-one would misplace every later layer.
 * The formulas they share with the kernels and backends are in geometry.c;
 * what stays here is validation and the messages.
 *
 * Every rule starts with the same validation (prelude): the op is known,
 * inputs exist and have sane ranks and sizes, the data-input count is within
 * the op's bounds and every attribute of the spec is present with the right
 * kind. After that the rule checks its own attribute ranges. So a rule never
 * crashes on a malformed node, whatever the elaborator, the IR parser or a
 * pass hands it; the verifier and the weight loader rely on that. Size
 * arithmetic is overflow-checked since attributes come from user text.
 *
 * When a node already carries its parameter inputs (nin > data inputs), the
 * shape rule also checks their shapes against the params rule, so "the
 * shapes of a graph are consistent" is one check, here.
 *
 * Attribute and parameter spec strings are parsed once, on first use, into a
 * static table (the compiler is single-threaded); malformed specs are a bug
 * in ops.def and abort.
 */
#include "ir.h"
#include "op_dtypes.h"

#include "geometry.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- the table ---- */

static bool shape_conv2d(const IrNode *, Shape *, char *, size_t);
static bool shape_linear(const IrNode *, Shape *, char *, size_t);
static bool shape_matmul(const IrNode *, Shape *, char *, size_t);
static bool shape_bmm(const IrNode *, Shape *, char *, size_t);
static bool shape_batchnorm(const IrNode *, Shape *, char *, size_t);
static bool shape_layernorm(const IrNode *, Shape *, char *, size_t);
static bool shape_same(const IrNode *, Shape *, char *, size_t);
static bool shape_softmax(const IrNode *, Shape *, char *, size_t);
static bool shape_broadcast(const IrNode *, Shape *, char *, size_t);
static bool shape_pool(const IrNode *, Shape *, char *, size_t);
static bool shape_adaptive_avgpool(const IrNode *, Shape *, char *, size_t);
static bool shape_global_avgpool(const IrNode *, Shape *, char *, size_t);
static bool shape_flatten(const IrNode *, Shape *, char *, size_t);
static bool shape_reshape(const IrNode *, Shape *, char *, size_t);
static bool shape_transpose(const IrNode *, Shape *, char *, size_t);
static bool shape_permute(const IrNode *, Shape *, char *, size_t);
static bool shape_expand(const IrNode *, Shape *, char *, size_t);
static bool shape_concat(const IrNode *, Shape *, char *, size_t);
static bool shape_slice(const IrNode *, Shape *, char *, size_t);
static bool shape_select(const IrNode *, Shape *, char *, size_t);
static bool shape_mha(const IrNode *, Shape *, char *, size_t);
static bool shape_topk(const IrNode *, Shape *, char *, size_t);
static bool shape_invalid(const IrNode *, Shape *, char *, size_t);

static int params_conv2d(const IrNode *, ParamSpec *, char *, size_t);
static int params_linear(const IrNode *, ParamSpec *, char *, size_t);
static int params_batchnorm(const IrNode *, ParamSpec *, char *, size_t);
static int params_layernorm(const IrNode *, ParamSpec *, char *, size_t);
static int params_mha(const IrNode *, ParamSpec *, char *, size_t);
static int params_qconv2d(const IrNode *, ParamSpec *, char *, size_t);
static int params_qlinear(const IrNode *, ParamSpec *, char *, size_t);

static int64_t macs_conv2d(const IrNode *);
static int64_t macs_linear(const IrNode *);
static int64_t macs_matmul(const IrNode *);
static int64_t macs_mha(const IrNode *);

static const OpInfo op_table[OP__COUNT] = {
#define OP(e, nm, mn, mx, nr, at, pa, sh, dt, pf, mc) [OP_##e] = {nm, mn, mx, nr, at, pa, sh, dt, pf, mc},
#include "ops.def"
#undef OP
};

/* What op_info answers for an out-of-range kind: a rule that always fails,
 * so a corrupted node is reported instead of crashing its caller. */
static const OpInfo op_invalid = {"<invalid op>", 0, 0, 1, "", "", shape_invalid, dtype_invalid, NULL, NULL};

const OpInfo *op_info(OpKind op)
{
    return (unsigned)op < OP__COUNT ? &op_table[op] : &op_invalid;
}

OpKind op_lookup(const char *name)
{
    for (int k = 0; name && k < OP__COUNT; k++)
        if (strcmp(op_table[k].name, name) == 0)
            return (OpKind)k;
    return OP__COUNT;
}

/* ---- parsed specs ---- */

enum { MAX_ATTRS = 12, MAX_PARAMS = 8 };

typedef struct OpSpecs {
    bool parsed;
    int nattr, nparam;
    AttrSpec attr[MAX_ATTRS];
    const char *param[MAX_PARAMS];
    bool optional[MAX_PARAMS]; /* "bias?": present only when attribute bias is true */
    ParamRole role[MAX_PARAMS];
    char buf[512];             /* the spec strings, cut into the names above */
} OpSpecs;

static OpSpecs op_specs[OP__COUNT];

static void spec_bug(OpKind op, const char *what)
{
    fprintf(stderr, "netc: internal error: ops.def entry '%s': %s\n", op_table[op].name, what);
    abort();
}

/* Splits s (in place) at spaces; returns the number of words stored in w. */
static int split_words(char *s, char **w, int max, OpKind op)
{
    int n = 0;
    for (char *p = s; *p;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        if (n == max)
            spec_bug(op, "too many entries");
        w[n++] = p;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

static const OpSpecs *specs_of(OpKind op)
{
    OpSpecs *s = &op_specs[op];
    if (s->parsed)
        return s;
    const OpInfo *o = &op_table[op];
    size_t la = strlen(o->attr_spec), lp = strlen(o->param_spec);
    if (la + lp + 2 > sizeof s->buf)
        spec_bug(op, "spec too long");
    char *abuf = s->buf, *pbuf = s->buf + la + 1;
    memcpy(abuf, o->attr_spec, la + 1);
    memcpy(pbuf, o->param_spec, lp + 1);

    char *w[MAX_ATTRS];
    s->nattr = split_words(abuf, w, MAX_ATTRS, op);
    for (int i = 0; i < s->nattr; i++) {
        static const struct {
            const char *name;
            AttrType type;
        } kinds[] = {{"int", ATK_INT},     {"int2", ATK_INT2}, {"ints", ATK_INTS},
                     {"float", ATK_FLOAT}, {"bool", ATK_BOOL}, {"string", ATK_STRING}};
        char *colon = strchr(w[i], ':');
        if (!colon)
            spec_bug(op, "attribute without a kind");
        *colon = '\0';
        char *kind = colon + 1, *eq = strchr(kind, '=');
        if (eq)
            *eq = '\0';
        size_t k = 0;
        while (k < sizeof kinds / sizeof kinds[0] && strcmp(kinds[k].name, kind) != 0)
            k++;
        if (k == sizeof kinds / sizeof kinds[0])
            spec_bug(op, "unknown attribute kind");
        s->attr[i] = (AttrSpec){w[i], kinds[k].type, eq ? eq + 1 : NULL};
    }
    char *pw[MAX_PARAMS];
    s->nparam = split_words(pbuf, pw, MAX_PARAMS, op);
    for (int i = 0; i < s->nparam; i++) {
        char *colon = strchr(pw[i], ':');
        if (!colon)
            spec_bug(op, "parameter without a role");
        *colon = '\0';
        s->role[i] = PR__COUNT;
        for (int r = 0; r < PR__COUNT; r++)
            if (strcmp(param_role_name((ParamRole)r), colon + 1) == 0)
                s->role[i] = (ParamRole)r;
        if (s->role[i] == PR__COUNT)
            spec_bug(op, "unknown parameter role");
        size_t l = strlen(pw[i]);
        s->optional[i] = l > 1 && pw[i][l - 1] == '?';
        if (s->optional[i])
            pw[i][l - 1] = '\0';
        s->param[i] = pw[i];
    }
    s->parsed = true;
    return s;
}

const AttrSpec *op_attr_specs(OpKind op, int *n)
{
    if ((unsigned)op >= OP__COUNT) {
        *n = 0;
        return NULL;
    }
    const OpSpecs *s = specs_of(op);
    *n = s->nattr;
    return s->attr;
}

/* The bias flag that decides whether "bias?" parameters exist; a missing or
 * mistyped attribute falls back to the spec default so this never fails. */
static bool node_has_bias(const IrNode *n, const OpSpecs *s)
{
    const IrAttr *a = ir_attr(n, "bias");
    if (a && (a->kind == AK_BOOL || a->kind == AK_INT))
        return a->i != 0;
    for (int i = 0; i < s->nattr; i++)
        if (strcmp(s->attr[i].name, "bias") == 0)
            return s->attr[i].dflt && strcmp(s->attr[i].dflt, "true") == 0;
    return false;
}

int op_param_suffixes(const IrNode *n, const char **out, int max)
{
    if ((unsigned)n->op >= OP__COUNT)
        return 0;
    const OpSpecs *s = specs_of(n->op);
    int k = 0;
    for (int i = 0; i < s->nparam; i++) {
        if (s->optional[i] && !node_has_bias(n, s))
            continue;
        if (k < max)
            out[k] = s->param[i];
        k++;
    }
    return k;
}

ParamRole op_param_role(const IrNode *n, int k)
{
    if ((unsigned)n->op >= OP__COUNT || k < 0)
        return PR__COUNT;
    const OpSpecs *s = specs_of(n->op);
    for (int i = 0; i < s->nparam; i++) {
        if (s->optional[i] && !node_has_bias(n, s))
            continue;
        if (k-- == 0)
            return s->role[i];
    }
    return PR__COUNT;
}

static const char *const role_names[PR__COUNT] = {
#define X(e, name) [PR_##e] = name,
    PARAM_ROLE_LIST(X)
#undef X
};

const char *param_role_name(ParamRole r) { return (unsigned)r < PR__COUNT ? role_names[r] : "?"; }
bool param_role_is_buffer(ParamRole r) { return r == PR_MEAN || r == PR_VAR; }

ParamRole ir_param_role(const IrValue *p)
{
    for (int u = 0; u < p->nuses; u++) {
        const IrNode *n = p->uses[u].user;
        int nd = op_data_inputs(n);
        if (p->uses[u].index >= nd)
            return op_param_role(n, p->uses[u].index - nd);
    }
    return PR__COUNT;
}

int op_data_inputs(const IrNode *n)
{
    const OpInfo *o = op_info(n->op);
    int nin = n->nin > 0 ? n->nin : 0;
    /* Only ops with a fixed data arity have parameters (ops.def). */
    if (!o->params || o->max_in < 0)
        return nin;
    return nin < o->max_in ? nin : o->max_in;
}

/* ---- messages and arithmetic ---- */

typedef struct SBuf {
    char s[200];
} SBuf;

static const char *sstr(const Shape *s, SBuf *b) { return shape_str(s, b->s, sizeof b->s); }

static const char *ints_str(const int64_t *v, int n, SBuf *b)
{
    size_t k = 0, size = sizeof b->s;
    k += (size_t)snprintf(b->s, size, "[");
    for (int i = 0; i < n && k < size; i++)
        k += (size_t)snprintf(b->s + k, size - k, "%s%lld", i ? ", " : "", (long long)v[i]);
    if (k < size)
        snprintf(b->s + k, size - k, "]");
    return b->s;
}

/* Writes "op: message" to err; returns false so rules can `return fail(...)`. */
static bool __attribute__((format(printf, 4, 5)))
fail(const IrNode *n, char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return false;
    int k = snprintf(err, errlen, "%s: ", op_info(n->op)->name);
    if (k < 0 || (size_t)k >= errlen)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return false;
}

#define FAIL(...) return fail(n, err, errlen, __VA_ARGS__)
#define FAILP(...) return (fail(n, err, errlen, __VA_ARGS__), -1)
#define LL(x) ((long long)(x))

static bool mul64(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static bool add64(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }

/* Saturating product for MAC counts, which may exceed int64 only for absurd
 * graphs; a saturated count is obviously wrong rather than silently wrapped. */
static int64_t smul(int64_t a, int64_t b)
{
    int64_t r;
    if (a < 0 || b < 0)
        return 0;
    return mul64(a, b, &r) ? r : INT64_MAX;
}

static bool dim_range_fail(const IrNode *n, char *err, size_t errlen, const char *what,
                           int64_t d, const Shape *s)
{
    SBuf b;
    int r = s->rank > 0 ? s->rank : 1;
    FAIL("%s %lld is out of range for %s (expected %d..%d)", what, LL(d), sstr(s, &b), -r, r - 1);
}

/* ---- attributes ---- */

static const char *attr_type_desc(AttrType t)
{
    switch (t) {
    case ATK_INT: return "an int";
    case ATK_INT2: return "a list of two ints";
    case ATK_INTS: return "a list of ints";
    case ATK_FLOAT: return "a float";
    case ATK_BOOL: return "a bool";
    case ATK_STRING: return "a string";
    }
    return "?";
}

/* Whether an attribute value has the representation its spec kind stores:
 * int2 is always two ints; an int is accepted where a float is expected,
 * as in the language and ir_attr_float. */
static bool attr_kind_ok(AttrType t, const IrAttr *a)
{
    switch (t) {
    case ATK_INT: return a->kind == AK_INT;
    case ATK_INT2: return a->kind == AK_INTS && a->n == 2 && a->ints;
    case ATK_INTS: return a->kind == AK_INTS && a->n >= 0 && (a->n == 0 || a->ints);
    case ATK_FLOAT: return a->kind == AK_FLOAT || a->kind == AK_INT;
    case ATK_BOOL: return a->kind == AK_BOOL;
    case ATK_STRING: return a->kind == AK_STRING && a->s;
    }
    return false;
}

bool op_check_attrs(const IrNode *n, char *err, size_t errlen)
{
    int ns;
    const AttrSpec *spec = op_attr_specs(n->op, &ns);
    if (n->nattr < 0 || (n->nattr > 0 && !n->attr))
        FAIL("malformed attribute list");
    for (int i = 0; i < n->nattr; i++) {
        const IrAttr *a = &n->attr[i];
        if (!a->key)
            FAIL("attribute %d has no name", i + 1);
        int k = 0;
        while (k < ns && strcmp(spec[k].name, a->key) != 0)
            k++;
        if (k == ns)
            FAIL("unknown attribute '%s'", a->key);
        for (int j = 0; j < i; j++)
            if (n->attr[j].key && strcmp(n->attr[j].key, a->key) == 0)
                FAIL("duplicate attribute '%s'", a->key);
        if (!attr_kind_ok(spec[k].type, a))
            FAIL("attribute '%s' must be %s", a->key, attr_type_desc(spec[k].type));
    }
    for (int k = 0; k < ns; k++)
        if (!ir_attr(n, spec[k].name))
            FAIL("missing attribute '%s'", spec[k].name);
    return true;
}

/* Rules read attributes with ir_attr_int/_float/_ints: op_check_attrs ran
 * first, so each exists with the right representation. */

/* Reads an int2 attribute and checks every element is >= lo. */
static bool apair(const IrNode *n, const char *key, int64_t lo, int64_t v[2], char *err,
                  size_t errlen)
{
    geom_attr_int2(n, key, v);
    if (v[0] < lo || v[1] < lo) {
        SBuf b;
        FAIL("%s must be %s, got %s", key, lo > 0 ? "positive" : "non-negative",
             ints_str(v, 2, &b));
    }
    return true;
}

/* Reads the dim attribute `key` and wraps it for x's rank. */
static bool attr_dim(const IrNode *n, const char *key, const Shape *x, int *d, char *err,
                     size_t errlen)
{
    if (geom_wrap_dim(ir_attr_int(n, key), x->rank, d))
        return true;
    return dim_range_fail(n, err, errlen, key, ir_attr_int(n, key), x);
}

/* ---- common validation ---- */

/*
 * Checks what every rule needs before looking at sizes: a known op, input
 * values that exist with ranks 0..8, non-negative dims and a representable
 * element count, a data-input count within the op's bounds, and the
 * attributes. Parameter inputs are counted by check_params.
 */
static bool prelude(const IrNode *n, char *err, size_t errlen)
{
    const OpInfo *o = op_info(n->op);
    if (n->nin < 0 || (n->nin > 0 && !n->in))
        FAIL("malformed input list");
    for (int i = 0; i < n->nin; i++) {
        const IrValue *v = n->in[i];
        SBuf b;
        if (!v)
            FAIL("input %d is missing", i + 1);
        if (v->shape.rank < 0 || v->shape.rank > SHAPE_MAX_RANK)
            FAIL("input %d has rank %d; at most %d dimensions are supported", i + 1,
                 v->shape.rank, SHAPE_MAX_RANK);
        for (int k = 0; k < v->shape.rank; k++)
            if (v->shape.d[k] < 0)
                FAIL("input %d has a negative dimension: %s", i + 1, sstr(&v->shape, &b));
        if (shape_numel(&v->shape) < 0)
            FAIL("input %d is too large: %s", i + 1, sstr(&v->shape, &b));
    }
    int nd = op_data_inputs(n);
    if (nd < o->min_in || (o->max_in >= 0 && nd > o->max_in)) {
        if (o->max_in < 0)
            FAIL("expects at least %d input%s, got %d", o->min_in, o->min_in == 1 ? "" : "s",
                 nd);
        if (o->min_in == o->max_in)
            FAIL("expects %d input%s, got %d", o->min_in, o->min_in == 1 ? "" : "s", nd);
        FAIL("expects %d to %d inputs, got %d", o->min_in, o->max_in, nd);
    }
    return op_check_attrs(n, err, errlen);
}

/*
 * When the node carries parameter inputs, checks their number and shapes
 * against the op's params rule. Rules with a more telling message for the
 * common mistakes (conv2d channels, linear features) check those first.
 */
static bool check_params(const IrNode *n, char *err, size_t errlen)
{
    int nd = op_data_inputs(n), have = n->nin - nd;
    const OpInfo *o = op_info(n->op);
    if (have == 0)
        return true;
    if (!o->params)
        FAIL("takes no parameters, got %d extra input%s", have, have == 1 ? "" : "s");
    ParamSpec ps[MAX_PARAMS];
    int np = o->params(n, ps, err, errlen);
    if (np < 0)
        return false;
    if (have != np) {
        char names[160] = "";
        size_t k = 0;
        for (int i = 0; i < np && k < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "",
                                  ps[i].suffix);
        FAIL("expects %d parameter%s (%s), got %d", np, np == 1 ? "" : "s", names, have);
    }
    for (int i = 0; i < np; i++) {
        const Shape *got = &n->in[nd + i]->shape;
        if (!shape_equal(got, &ps[i].shape)) {
            SBuf a, b, c;
            FAIL("%s has shape %s but input %s needs %s", ps[i].suffix, sstr(got, &a),
                 sstr(&n->in[0]->shape, &b), sstr(&ps[i].shape, &c));
        }
    }
    return true;
}

/* The prelude, then input 0 must have min_rank..max_rank dims; need ends
 * the message "input must ..." ("be 4-D [N, C, H, W]"). Input 0's shape, or
 * NULL with err set. */
static const Shape *prelude_rank(const IrNode *n, int min_rank, int max_rank, const char *need,
                                 char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return NULL;
    const Shape *x = &n->in[0]->shape;
    if (x->rank < min_rank || x->rank > max_rank) {
        SBuf b;
        fail(n, err, errlen, "input must %s, got %s", need, sstr(x, &b));
        return NULL;
    }
    return x;
}

/* The weight parameter input when the node carries one of the given rank,
 * for rules that name a mismatch better than check_params can; else NULL. */
static const Shape *given_weight(const IrNode *n, int rank)
{
    int nd = op_data_inputs(n);
    if (n->nin > nd && n->in[nd]->shape.rank == rank)
        return &n->in[nd]->shape;
    return NULL;
}

/* Fails when the computed output shape has more elements than int64 holds. */
static bool output_fits(const IrNode *n, const Shape *out, char *err, size_t errlen)
{
    if (shape_numel(out) >= 0)
        return true;
    SBuf b;
    FAIL("output %s is too large", sstr(out, &b));
}

/* Shape rule of the ops whose params rule validates the node and whose
 * output has the input's shape: batchnorm, layernorm, mha. */
static bool shape_of_input_with_params(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    ParamSpec ps[MAX_PARAMS];
    if (op_info(n->op)->params(n, ps, err, errlen) < 0 || !check_params(n, err, errlen))
        return false;
    *out = n->in[0]->shape;
    return true;
}

static bool shape_invalid(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    FAIL("unknown operator kind %d", (int)n->op);
}

/* ---- conv2d ---- */

/*
 * The convolution's geometry (geom_conv2d_from_node), or the first thing
 * wrong with it as the message: the checks run in the order a user fixes
 * them, attributes before how they fit the input.
 */
static bool conv_geom(const IrNode *n, GeomConv2d *c, char *err, size_t errlen)
{
    const Shape *x = prelude_rank(n, 4, 4, "be 4-D [N, C, H, W]", err, errlen);
    if (!x)
        return false;
    if (geom_conv2d_from_node(n, c))
        return true;
    int64_t v[2];
    if (c->oc <= 0)
        FAIL("out_channels must be positive, got %lld", LL(c->oc));
    if (c->groups <= 0)
        FAIL("groups must be positive, got %lld", LL(c->groups));
    if (!apair(n, "kernel_size", 1, v, err, errlen) || !apair(n, "stride", 1, v, err, errlen) ||
        !apair(n, "padding", 0, v, err, errlen) || !apair(n, "dilation", 1, v, err, errlen))
        return false;
    if (c->c % c->groups)
        FAIL("groups = %lld does not divide the %lld input channels", LL(c->groups), LL(c->c));
    if (c->oc % c->groups)
        FAIL("groups = %lld does not divide out_channels = %lld", LL(c->groups), LL(c->oc));
    if (c->oh < 0 || c->ow < 0)
        FAIL("kernel, padding or dilation too large");
    SBuf b;
    FAIL("kernel %lldx%lld (dilation %lldx%lld) does not fit input %s with padding "
         "%lldx%lld",
         LL(c->kh), LL(c->kw), LL(c->dh), LL(c->dw), sstr(x, &b), LL(c->ph), LL(c->pw));
}

static int params_conv2d(const IrNode *n, ParamSpec *out, char *err, size_t errlen)
{
    GeomConv2d c;
    if (!conv_geom(n, &c, err, errlen))
        return -1;
    int np = 0;
    out[np++] = (ParamSpec){"weight", {4, {c.oc, c.c / c.groups, c.kh, c.kw}}};
    if (ir_attr_int(n, "bias"))
        out[np++] = (ParamSpec){"bias", {1, {c.oc}}};
    return np;
}

static bool shape_conv2d(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    GeomConv2d c;
    if (!conv_geom(n, &c, err, errlen))
        return false;
    const Shape *w = given_weight(n, 4);
    if (w) {
        int64_t expects;
        if (w->d[0] != c.oc)
            FAIL("weight has %lld output channels but out_channels = %lld", LL(w->d[0]),
                 LL(c.oc));
        if (mul64(w->d[1], c.groups, &expects) && expects != c.c)
            FAIL("input has %lld channels but weight expects %lld (groups = %lld)", LL(c.c),
                 LL(expects), LL(c.groups));
    }
    if (!check_params(n, err, errlen))
        return false;
    *out = (Shape){4, {c.n, c.oc, c.oh, c.ow}};
    return output_fits(n, out, err, errlen);
}

static int64_t macs_conv2d(const IrNode *n)
{
    if (!n->out || n->nin < 1 || n->in[0]->shape.rank != 4 || n->out->shape.rank != 4)
        return 0;
    const IrAttr *k = ir_attr(n, "kernel_size"), *g = ir_attr(n, "groups");
    if (!k || k->kind != AK_INTS || k->n != 2 || !g || g->i <= 0)
        return 0;
    int64_t per_out = smul(smul(n->in[0]->shape.d[1] / g->i, k->ints[0]), k->ints[1]);
    return smul(shape_numel(&n->out->shape), per_out);
}

/* ---- linear ---- */

static bool linear_check(const IrNode *n, char *err, size_t errlen)
{
    if (!prelude_rank(n, 1, SHAPE_MAX_RANK, "have at least one dimension", err, errlen))
        return false;
    if (ir_attr_int(n, "out_features") <= 0)
        FAIL("out_features must be positive, got %lld", LL(ir_attr_int(n, "out_features")));
    return true;
}

static int params_linear(const IrNode *n, ParamSpec *out, char *err, size_t errlen)
{
    if (!linear_check(n, err, errlen))
        return -1;
    const Shape *x = &n->in[0]->shape;
    int64_t O = ir_attr_int(n, "out_features");
    int np = 0;
    out[np++] = (ParamSpec){"weight", {2, {O, x->d[x->rank - 1]}}};
    if (ir_attr_int(n, "bias"))
        out[np++] = (ParamSpec){"bias", {1, {O}}};
    return np;
}

static bool shape_linear(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!linear_check(n, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    int64_t I = x->d[x->rank - 1], O = ir_attr_int(n, "out_features");
    const Shape *w = given_weight(n, 2);
    if (w) {
        if (w->d[1] != I)
            FAIL("input has %lld features but weight expects %lld", LL(I), LL(w->d[1]));
        if (w->d[0] != O)
            FAIL("weight has %lld output features but out_features = %lld", LL(w->d[0]),
                 LL(O));
    }
    if (!check_params(n, err, errlen))
        return false;
    *out = *x;
    out->d[x->rank - 1] = O;
    return output_fits(n, out, err, errlen);
}

static int64_t macs_linear(const IrNode *n)
{
    if (!n->out || n->nin < 1 || n->in[0]->shape.rank < 1)
        return 0;
    const Shape *x = &n->in[0]->shape;
    return smul(shape_numel(&n->out->shape), x->d[x->rank - 1]);
}

/* ---- integer layers: the float layer's parameters, then mult[out] ---- */

static int with_mult(int np, ParamSpec *out)
{
    if (np > 0)
        out[np++] = (ParamSpec){"mult", {1, {out[0].shape.d[0]}}};
    return np;
}

static int params_qconv2d(const IrNode *n, ParamSpec *out, char *err, size_t errlen)
{
    return with_mult(params_conv2d(n, out, err, errlen), out);
}

static int params_qlinear(const IrNode *n, ParamSpec *out, char *err, size_t errlen)
{
    return with_mult(params_linear(n, out, err, errlen), out);
}

/* ---- broadcasting and matmul ---- */

static bool shape_broadcast(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *a = &n->in[0]->shape, *b = &n->in[1]->shape;
    if (!geom_broadcast_shape(a, b, out)) {
        SBuf x, y;
        FAIL("cannot broadcast %s with %s", sstr(a, &x), sstr(b, &y));
    }
    return true;
}

/*
 * torch.matmul of a and b, each with at least one dim: 1-D operands are
 * promoted (a to [1, k], b to [k, 1]) and the added dim removed from the
 * result; dims before the last two broadcast. bmm is the 3-D case.
 */
static bool matmul_result(const IrNode *n, const Shape *a, const Shape *b, Shape *out, char *err,
                          size_t errlen)
{
    SBuf x, y;
    Shape A = *a, B = *b;
    if (a->rank == 1)
        A = (Shape){2, {1, a->d[0]}};
    if (b->rank == 1)
        B = (Shape){2, {b->d[0], 1}};
    int64_t ka = A.d[A.rank - 1], kb = B.d[B.rank - 2];
    if (ka != kb)
        FAIL("cannot multiply %s by %s: inner dimensions %lld and %lld differ", sstr(a, &x),
             sstr(b, &y), LL(ka), LL(kb));
    Shape ba = {A.rank - 2, {0}}, bb = {B.rank - 2, {0}}, o;
    memcpy(ba.d, A.d, sizeof(int64_t) * (size_t)ba.rank);
    memcpy(bb.d, B.d, sizeof(int64_t) * (size_t)bb.rank);
    if (!geom_broadcast_shape(&ba, &bb, &o))
        FAIL("batch dimensions of %s and %s cannot broadcast", sstr(a, &x), sstr(b, &y));
    if (a->rank > 1)
        o.d[o.rank++] = A.d[A.rank - 2];
    if (b->rank > 1)
        o.d[o.rank++] = B.d[B.rank - 1];
    if (shape_numel(&o) < 0)
        FAIL("result of %s by %s is too large", sstr(a, &x), sstr(b, &y));
    *out = o;
    return true;
}

static bool shape_matmul(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *a = &n->in[0]->shape, *b = &n->in[1]->shape;
    SBuf x, y;
    if (a->rank < 1 || b->rank < 1)
        FAIL("both arguments need at least one dimension, got %s and %s", sstr(a, &x),
             sstr(b, &y));
    return matmul_result(n, a, b, out, err, errlen);
}

static bool shape_bmm(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *a = &n->in[0]->shape, *b = &n->in[1]->shape;
    SBuf x, y;
    if (a->rank != 3 || b->rank != 3)
        FAIL("both arguments must be 3-D [B, n, k] and [B, k, m], got %s and %s", sstr(a, &x),
             sstr(b, &y));
    if (a->d[0] != b->d[0])
        FAIL("batch sizes differ: %s and %s", sstr(a, &x), sstr(b, &y));
    return matmul_result(n, a, b, out, err, errlen);
}

/* matmul and bmm: every output element is a dot product over a's last dim. */
static int64_t macs_matmul(const IrNode *n)
{
    if (!n->out || n->nin < 1 || n->in[0]->shape.rank < 1)
        return 0;
    const Shape *a = &n->in[0]->shape;
    return smul(shape_numel(&n->out->shape), a->d[a->rank - 1]);
}

/* ---- normalization ---- */

static int params_batchnorm(const IrNode *n, ParamSpec *out, char *err, size_t errlen)
{
    const Shape *x =
        prelude_rank(n, 2, SHAPE_MAX_RANK, "have a channel dimension [N, C, ...]", err, errlen);
    if (!x)
        return -1;
    const char *const names[] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++)
        out[i] = (ParamSpec){names[i], {1, {x->d[1]}}};
    return 4;
}

static bool shape_batchnorm(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    return shape_of_input_with_params(n, out, err, errlen);
}

/* layernorm normalizes over one dim, the last unless `dim` says otherwise
 * (dim = 1 is torchvision's LayerNorm2d: over the channels of NCHW). */
static int params_layernorm(const IrNode *n, ParamSpec *out, char *err, size_t errlen)
{
    const Shape *x = prelude_rank(n, 1, SHAPE_MAX_RANK, "have at least one dimension", err, errlen);
    int d;
    if (!x || !attr_dim(n, "dim", x, &d, err, errlen))
        return -1;
    out[0] = (ParamSpec){"weight", {1, {x->d[d]}}};
    out[1] = (ParamSpec){"bias", {1, {x->d[d]}}};
    return 2;
}

static bool shape_layernorm(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    return shape_of_input_with_params(n, out, err, errlen);
}

/* ---- elementwise ---- */

static bool shape_same(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    /* dropout is the one shape-preserving op with an attribute to range-check;
     * torch rejects p outside [0, 1] at construction. */
    if (n->op == OP_DROPOUT) {
        double p = ir_attr_float(n, "p");
        if (!(p >= 0 && p <= 1))
            FAIL("probability p must be between 0 and 1, got %g", p);
    }
    *out = n->in[0]->shape;
    return true;
}

static bool shape_softmax(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    int d;
    if (!prelude(n, err, errlen) || !attr_dim(n, "dim", &n->in[0]->shape, &d, err, errlen))
        return false;
    *out = n->in[0]->shape;
    return true;
}

/* ---- pooling ---- */

static bool shape_pool(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    const Shape *x = prelude_rank(n, 4, 4, "be 4-D [N, C, H, W]", err, errlen);
    if (!x)
        return false;
    int64_t k[2], s[2], p[2], d[2] = {1, 1}, o[2];
    if (!apair(n, "kernel_size", 1, k, err, errlen) || !apair(n, "stride", 1, s, err, errlen) ||
        !apair(n, "padding", 0, p, err, errlen))
        return false;
    if (ir_attr(n, "dilation") && !apair(n, "dilation", 1, d, err, errlen))
        return false;
    bool ceil = ir_attr_int(n, "ceil_mode") != 0;
    SBuf a, b, c;
    if (p[0] > k[0] / 2 || p[1] > k[1] / 2)
        FAIL("padding %s must be at most half of kernel_size %s", ints_str(p, 2, &a),
             ints_str(k, 2, &b));
    for (int i = 0; i < 2; i++)
        if (!geom_pool_out_size(x->d[2 + i], k[i], s[i], p[i], d[i], ceil, &o[i]))
            FAIL("kernel, padding or dilation too large");
    if (o[0] < 1 || o[1] < 1)
        FAIL("output size %lldx%lld is too small: input %s, kernel_size %s, padding %s",
             LL(o[0]), LL(o[1]), sstr(x, &a), ints_str(k, 2, &b), ints_str(p, 2, &c));
    *out = (Shape){4, {x->d[0], x->d[1], o[0], o[1]}};
    return output_fits(n, out, err, errlen);
}

static bool shape_adaptive_avgpool(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    const Shape *x = prelude_rank(n, 4, 4, "be 4-D [N, C, H, W]", err, errlen);
    if (!x)
        return false;
    int64_t o[2];
    if (!apair(n, "output_size", 1, o, err, errlen))
        return false;
    if (x->d[2] == 0 || x->d[3] == 0) {
        SBuf b;
        FAIL("input %s has an empty spatial dimension", sstr(x, &b));
    }
    *out = (Shape){4, {x->d[0], x->d[1], o[0], o[1]}};
    return output_fits(n, out, err, errlen);
}

static bool shape_global_avgpool(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    const Shape *x = prelude_rank(n, 4, 4, "be 4-D [N, C, H, W]", err, errlen);
    if (!x)
        return false;
    *out = (Shape){4, {x->d[0], x->d[1], 1, 1}};
    return true;
}

/* ---- layout ---- */

static bool shape_flatten(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    int s, e;
    if (!attr_dim(n, "start_dim", x, &s, err, errlen) ||
        !attr_dim(n, "end_dim", x, &e, err, errlen))
        return false;
    if (s > e)
        FAIL("start_dim %lld comes after end_dim %lld", LL(ir_attr_int(n, "start_dim")),
             LL(ir_attr_int(n, "end_dim")));
    if (x->rank == 0) { /* torch flattens a 0-d tensor to [1] */
        *out = (Shape){1, {1}};
        return true;
    }
    Shape o = {0};
    for (int i = 0; i < s; i++)
        o.d[o.rank++] = x->d[i];
    int64_t p = 1;
    for (int i = s; i <= e; i++)
        if (!mul64(p, x->d[i], &p)) /* possible when another dim is 0 */
            FAIL("flattened size is too large");
    o.d[o.rank++] = p;
    for (int i = e + 1; i < x->rank; i++)
        o.d[o.rank++] = x->d[i];
    *out = o;
    return true;
}

/* The prelude, then the "shape" attribute of reshape and expand, at most
 * SHAPE_MAX_RANK long. */
static bool prelude_target_shape(const IrNode *n, const int64_t **t, int *c, char *err,
                                 size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    *t = ir_attr_ints(n, "shape", c);
    if (*c > SHAPE_MAX_RANK)
        FAIL("target shape has %d dimensions; at most %d are supported", *c, SHAPE_MAX_RANK);
    return true;
}

static bool shape_reshape(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    int c;
    const int64_t *t;
    if (!prelude_target_shape(n, &t, &c, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    SBuf a, b;
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < c; i++) {
        if (t[i] == -1) {
            if (infer >= 0)
                FAIL("only one dimension can be -1 in %s", ints_str(t, c, &a));
            infer = i;
        } else if (t[i] < 0) {
            FAIL("invalid size %lld in %s", LL(t[i]), ints_str(t, c, &a));
        } else if (!mul64(known, t[i], &known)) {
            FAIL("target shape %s is too large", ints_str(t, c, &a));
        }
    }
    int64_t numel = shape_numel(x);
    Shape o = shape_make(c, t);
    if (infer >= 0) {
        if (known == 0 || numel % known)
            FAIL("cannot reshape %s into %s", sstr(x, &a), ints_str(t, c, &b));
        o.d[infer] = numel / known;
    } else if (known != numel) {
        FAIL("cannot reshape %s (%lld elements) into %s (%lld elements)", sstr(x, &a),
             LL(numel), ints_str(t, c, &b), LL(known));
    }
    *out = o;
    return true;
}

static bool shape_transpose(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    int d0, d1;
    if (!attr_dim(n, "dim0", x, &d0, err, errlen) || !attr_dim(n, "dim1", x, &d1, err, errlen))
        return false;
    *out = *x;
    if (x->rank > 0) {
        out->d[d0] = x->d[d1];
        out->d[d1] = x->d[d0];
    }
    return true;
}

static bool shape_permute(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    int c;
    const int64_t *dims = ir_attr_ints(n, "dims", &c);
    SBuf a, b;
    if (c != x->rank)
        FAIL("dims %s do not match the %d dimensions of %s", ints_str(dims, c, &a), x->rank,
             sstr(x, &b));
    bool seen[SHAPE_MAX_RANK] = {false};
    Shape o = {.rank = x->rank};
    for (int i = 0; i < c; i++) {
        int d;
        if (!geom_wrap_dim(dims[i], x->rank, &d))
            return dim_range_fail(n, err, errlen, "dim", dims[i], x);
        if (seen[d])
            FAIL("dims %s repeat dim %d", ints_str(dims, c, &a), d);
        seen[d] = true;
        o.d[i] = x->d[d];
    }
    *out = o;
    return true;
}

/* torch expand: -1 keeps a size, only size-1 dims grow, new dims may be
 * added in front (but not as -1). */
static bool shape_expand(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    int c;
    const int64_t *t;
    if (!prelude_target_shape(n, &t, &c, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    SBuf a, b;
    if (c < x->rank)
        FAIL("target shape %s has fewer dimensions than input %s", ints_str(t, c, &a),
             sstr(x, &b));
    Shape o = {.rank = c};
    int lead = c - x->rank;
    for (int i = 0; i < c; i++) {
        if (t[i] < -1)
            FAIL("invalid size %lld in %s", LL(t[i]), ints_str(t, c, &a));
        if (i < lead) {
            if (t[i] == -1)
                FAIL("-1 is not allowed for the new leading dimension %d in %s", i,
                     ints_str(t, c, &a));
            o.d[i] = t[i];
            continue;
        }
        int64_t have = x->d[i - lead];
        if (t[i] == -1 || t[i] == have)
            o.d[i] = have;
        else if (have == 1)
            o.d[i] = t[i];
        else
            FAIL("cannot expand %s to %s: dim %d has size %lld (only size-1 dims expand)",
                 sstr(x, &b), ints_str(t, c, &a), i - lead, LL(have));
    }
    if (shape_numel(&o) < 0)
        FAIL("expanded shape %s is too large", sstr(&o, &a));
    *out = o;
    return true;
}

static bool shape_concat(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    SBuf a, b;
    if (x->rank == 0)
        FAIL("zero-dimensional tensors cannot be concatenated");
    int d;
    if (!attr_dim(n, "dim", x, &d, err, errlen))
        return false;
    Shape o = *x;
    for (int i = 1; i < n->nin; i++) {
        const Shape *y = &n->in[i]->shape;
        bool ok = y->rank == x->rank;
        for (int k = 0; ok && k < x->rank; k++)
            ok = k == d || y->d[k] == x->d[k];
        if (!ok)
            FAIL("cannot concatenate %s and %s along dim %d", sstr(x, &a), sstr(y, &b), d);
        if (!add64(o.d[d], y->d[d], &o.d[d]))
            FAIL("result is too large");
    }
    if (shape_numel(&o) < 0)
        FAIL("result %s is too large", sstr(&o, &a));
    *out = o;
    return true;
}

/* Python slice bounds: negative counts from the end, then clamp to [0, len]. */
static int64_t clamp_index(int64_t i, int64_t len)
{
    if (i < 0)
        i += len; /* i >= INT64_MIN, len >= 0: no overflow */
    return i < 0 ? 0 : i > len ? len : i;
}

static bool shape_slice(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    if (x->rank == 0)
        FAIL("cannot slice a zero-dimensional tensor");
    int d;
    if (!attr_dim(n, "dim", x, &d, err, errlen))
        return false;
    int64_t step = ir_attr_int(n, "step");
    if (step <= 0)
        FAIL("step must be positive, got %lld", LL(step));
    int64_t len = x->d[d];
    int64_t s = clamp_index(ir_attr_int(n, "start"), len), e = clamp_index(ir_attr_int(n, "end"), len);
    *out = *x;
    out->d[d] = e > s ? (e - s - 1) / step + 1 : 0;
    return true;
}

static bool shape_select(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    SBuf a;
    if (x->rank == 0)
        FAIL("cannot select from a zero-dimensional tensor");
    int d;
    if (!attr_dim(n, "dim", x, &d, err, errlen))
        return false;
    int64_t idx = ir_attr_int(n, "index"), len = x->d[d];
    if (idx < -len || idx >= len)
        FAIL("index %lld is out of range for dim %d of %s", LL(idx), d, sstr(x, &a));
    Shape o = {.rank = x->rank - 1};
    for (int i = 0, k = 0; i < x->rank; i++)
        if (i != d)
            o.d[k++] = x->d[i];
    *out = o;
    return true;
}

/* torch.topk: values and indices, both the input's shape with dim cut to k. */
static bool shape_topk(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    if (!prelude(n, err, errlen))
        return false;
    const Shape *x = &n->in[0]->shape;
    SBuf a;
    if (x->rank == 0)
        FAIL("topk needs at least one dimension");
    int d;
    if (!attr_dim(n, "dim", x, &d, err, errlen))
        return false;
    int64_t k = ir_attr_int(n, "k");
    if (k < 0 || k > x->d[d])
        FAIL("k = %lld is out of range for dim %d of %s", LL(k), d, sstr(x, &a));
    out[0] = *x;
    out[0].d[d] = k;
    out[1] = out[0];
    return true;
}

/* ---- multi-head attention ---- */

static bool mha_check(const IrNode *n, char *err, size_t errlen)
{
    const Shape *x = prelude_rank(n, 3, 3, "be 3-D [N, L, E]", err, errlen);
    if (!x)
        return false;
    int64_t h = ir_attr_int(n, "num_heads"), E = x->d[2], e3;
    if (h <= 0)
        FAIL("num_heads must be positive, got %lld", LL(h));
    if (E % h)
        FAIL("embedding dim %lld is not divisible by num_heads = %lld", LL(E), LL(h));
    if (!mul64(E, 3, &e3) || !mul64(e3, E, &e3))
        FAIL("embedding dim %lld is too large", LL(E));
    return true;
}

static int params_mha(const IrNode *n, ParamSpec *out, char *err, size_t errlen)
{
    if (!mha_check(n, err, errlen))
        return -1;
    int64_t E = n->in[0]->shape.d[2];
    out[0] = (ParamSpec){"in_proj_weight", {2, {3 * E, E}}};
    out[1] = (ParamSpec){"in_proj_bias", {1, {3 * E}}};
    out[2] = (ParamSpec){"out_proj.weight", {2, {E, E}}};
    out[3] = (ParamSpec){"out_proj.bias", {1, {E}}};
    return 4;
}

static bool shape_mha(const IrNode *n, Shape *out, char *err, size_t errlen)
{
    return shape_of_input_with_params(n, out, err, errlen);
}

/* In-projection 3LE^2, scores QK^T L^2E, attention x V L^2E, out-projection
 * LE^2, all per batch element. */
static int64_t macs_mha(const IrNode *n)
{
    if (n->nin < 1 || n->in[0]->shape.rank != 3)
        return 0;
    const Shape *x = &n->in[0]->shape;
    int64_t N = x->d[0], L = x->d[1], E = x->d[2];
    int64_t le2 = smul(smul(L, E), E), l2e = smul(smul(L, L), E);
    int64_t per = 0, t;
    int64_t parts[] = {smul(3, le2), l2e, l2e, le2};
    for (int i = 0; i < 4; i++)
        per = add64(per, parts[i], &t) ? t : INT64_MAX;
    return smul(N, per);
}
