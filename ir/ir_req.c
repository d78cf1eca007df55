/*
 * ir_req.c — the typed requests (IrRequests) of the known annotations: their
 * arguments read and checked, and written back out as annotations.
 *
 * This is the one place that knows what each annotation's arguments mean.
 * passes/annotations.c turns the annotations of the source into requests
 * with ir_req_from_annot and decides which node gets what; the text IR
 * prints a node's requests as `req(@prune(...) @precision(...))` with
 * ir_req_to_annots (every default written out) and reads them back with
 * ir_req_from_annot, so both directions share these rules.
 *
 *   @prune(ratio = r, granularity = "element"|"nm"|"channel"|"block",
 *          n = , m = , block = [rows, cols])
 *       ratio in [0, 1), required except for "nm", whose ratio is 1 - n/m;
 *       granularity "element" unless given; n:m 2:4 unless given, 0 < n <
 *       m <= 16, only with "nm"; block required with "block", only there.
 *   @precision(p) or @precision(weight = p, act = p)
 *       p a bit width 2..16 or "f16" / "bf16"; positional sets both.
 *   @tome(r = n)              n >= 0 tokens merged
 *   @epitome(shape = [co, ci, kh, kw])   positive dims
 *   @pim(tile = t, crossbar = c, replicas = k)   ints >= 0, all optional
 */
#include "ir.h"

#include <stdio.h>
#include <string.h>

typedef struct ReqRule {
    const char *name;
    const char *keys; /* keyword arguments taken, for the "it takes" message */
    int max_pos;      /* positional arguments taken */
} ReqRule;

static const ReqRule rules[] = {
    {"prune", "ratio, granularity, n, m, block", 0},
    {"precision", "weight, act", 1},
    {"tome", "r", 0},
    {"epitome", "shape", 0},
    {"pim", "tile, crossbar, replicas", 0},
};

static const ReqRule *rule_of(const char *name)
{
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        if (!strcmp(rules[i].name, name))
            return &rules[i];
    return NULL;
}

bool ir_req_known(const char *name) { return rule_of(name) != NULL; }

/* The keyword argument key of a, or NULL. */
static const IrAttr *arg(const IrAnnot *a, const char *key)
{
    for (int i = 0; i < a->nargs; i++)
        if (a->args[i].key && !strcmp(a->args[i].key, key))
            return &a->args[i];
    return NULL;
}

/* Every keyword is one the rule lists (as a whole word), none is given
 * twice, and at most max_pos arguments are positional. */
static bool check_keys(const IrAnnot *a, const ReqRule *r, char *err, size_t errlen)
{
    int npos = 0;
    for (int i = 0; i < a->nargs; i++) {
        const char *k = a->args[i].key;
        if (!k) {
            npos++;
            continue;
        }
        size_t n = strlen(k);
        bool found = false;
        for (const char *p = r->keys; !found && (p = strstr(p, k)); p += n)
            found = (p == r->keys || p[-1] == ' ') && (p[n] == ',' || p[n] == 0);
        if (!found) {
            snprintf(err, errlen, "@%s has no argument '%s'; it takes %s", a->name, k, r->keys);
            return false;
        }
        if (arg(a, k) != &a->args[i]) {
            snprintf(err, errlen, "@%s gives '%s' twice", a->name, k);
            return false;
        }
    }
    if (npos > r->max_pos) {
        snprintf(err, errlen, "@%s takes %s, not positional arguments", a->name, r->keys);
        return false;
    }
    return true;
}

/* An optional int argument in [lo, hi]; *out untouched when absent. */
static bool int_arg(const IrAnnot *a, const char *key, int64_t lo, int64_t hi, int *out, char *err,
                    size_t errlen)
{
    const IrAttr *x = arg(a, key);
    if (!x)
        return true;
    if (x->kind != AK_INT || x->i < lo || x->i > hi) {
        if (hi == INT32_MAX)
            snprintf(err, errlen, "@%s %s must be an int >= %lld", a->name, key, (long long)lo);
        else
            snprintf(err, errlen, "@%s %s must be an int in %lld..%lld", a->name, key, (long long)lo,
                     (long long)hi);
        return false;
    }
    *out = (int)x->i;
    return true;
}

/* A precision value: a bit width 2..16 or a float dtype name. */
static bool precision_value(const IrAnnot *a, const IrAttr *x, IrPrecisionReq *out, char *err, size_t errlen)
{
    const char *what = x->key ? x->key : "bits";
    if (x->kind == AK_INT && x->i >= 2 && x->i <= 16) {
        *out = (IrPrecisionReq){.bits = (int)x->i, .dtype = DT_F32};
        return true;
    }
    if (x->kind == AK_STRING && (!strcmp(x->s, "f16") || !strcmp(x->s, "bf16"))) {
        *out = (IrPrecisionReq){.bits = 16, .is_float = true, .dtype = !strcmp(x->s, "f16") ? DT_F16 : DT_BF16};
        return true;
    }
    snprintf(err, errlen, "@%s %s must be a bit width 2..16 or \"f16\" or \"bf16\"", a->name, what);
    return false;
}

static bool prune_from(const IrAnnot *a, IrRequests *r, char *err, size_t errlen)
{
    r->set |= REQ_PRUNE;
    r->prune_kind = SP_ELEMENT;
    const IrAttr *g = arg(a, "granularity");
    if (g) {
        static const char *const names[] = {
#define X(e, name) name,
            SPARSITY_LIST(X)
#undef X
        };
        int k = SP__COUNT;
        for (int i = 0; g->kind == AK_STRING && i < SP__COUNT; i++)
            if (!strcmp(g->s, names[i]))
                k = i;
        if (k == SP__COUNT) {
            char known[200] = "";
            for (int i = 0; i < SP__COUNT; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s\"%s\"",
                         i == 0 ? "" : i == SP__COUNT - 1 ? " or " : ", ", names[i]);
            snprintf(err, errlen, "@prune granularity must be %s", known);
            return false;
        }
        r->prune_kind = (SparsityKind)k;
    }
    bool nm = r->prune_kind == SP_NM, block = r->prune_kind == SP_BLOCK;
    static const char *const nm_keys[] = {"n", "m"};
    for (int i = 0; i < 2; i++)
        if (!nm && arg(a, nm_keys[i])) {
            snprintf(err, errlen, "@prune %s goes with granularity = \"nm\"", nm_keys[i]);
            return false;
        }
    const IrAttr *b = arg(a, "block");
    if (!block && b) {
        snprintf(err, errlen, "@prune block goes with granularity = \"block\"");
        return false;
    }
    const IrAttr *ratio = arg(a, "ratio");
    if (nm) {
        r->prune_n = 2, r->prune_m = 4;
        if (!int_arg(a, "n", 1, 15, &r->prune_n, err, errlen) || !int_arg(a, "m", 2, 16, &r->prune_m, err, errlen))
            return false;
        if (r->prune_n >= r->prune_m) {
            snprintf(err, errlen, "@prune n must be less than m (n:m keeps n of every m weights)");
            return false;
        }
        if (ratio) {
            snprintf(err, errlen, "@prune ratio is 1 - n/m for granularity = \"nm\"; give n and m instead");
            return false;
        }
        r->prune_ratio = 1.0 - (double)r->prune_n / r->prune_m;
        return true;
    }
    if (block) {
        if (!b || b->kind != AK_INTS || b->n != 2 || b->ints[0] <= 0 || b->ints[1] <= 0 ||
            b->ints[0] > INT32_MAX || b->ints[1] > INT32_MAX) {
            snprintf(err, errlen, "@prune granularity = \"block\" needs block = [rows, cols] of ints > 0");
            return false;
        }
        r->prune_block[0] = (int)b->ints[0], r->prune_block[1] = (int)b->ints[1];
    }
    double v = !ratio ? -1 : ratio->kind == AK_FLOAT ? ratio->f : ratio->kind == AK_INT ? (double)ratio->i : -1;
    if (!(v >= 0 && v < 1)) {
        snprintf(err, errlen, ratio ? "@prune ratio must be a number in [0, 1)"
                                    : "@prune needs ratio = r, the fraction of weights removed, in [0, 1)");
        return false;
    }
    r->prune_ratio = v;
    return true;
}

static bool precision_from(const IrAnnot *a, IrRequests *r, char *err, size_t errlen)
{
    const IrAttr *w = arg(a, "weight"), *act = arg(a, "act");
    if (a->nargs == 0) {
        snprintf(err, errlen, "@precision needs a bit width: @precision(4) or @precision(weight = 4, act = 8)");
        return false;
    }
    const IrAttr *pos = NULL;
    for (int i = 0; i < a->nargs; i++)
        if (!a->args[i].key)
            pos = &a->args[i];
    if (pos) {
        if (a->nargs > 1) {
            snprintf(err, errlen, "@precision takes one bit width, or weight = and act =, not both");
            return false;
        }
        if (!precision_value(a, pos, &r->weight, err, errlen))
            return false;
        r->act = r->weight;
        r->set |= REQ_WEIGHT | REQ_ACT;
        return true;
    }
    if (w && !precision_value(a, w, &r->weight, err, errlen))
        return false;
    if (act && !precision_value(a, act, &r->act, err, errlen))
        return false;
    r->set |= (w ? REQ_WEIGHT : 0) | (act ? REQ_ACT : 0);
    return true;
}

static bool epitome_from(const IrAnnot *a, IrRequests *r, char *err, size_t errlen)
{
    const IrAttr *s = arg(a, "shape");
    bool ok = s && s->kind == AK_INTS && s->n == 4;
    for (int i = 0; ok && i < 4; i++)
        ok = s->ints[i] > 0 && s->ints[i] <= INT32_MAX;
    if (!ok) {
        snprintf(err, errlen, "@epitome needs shape = [co, ci, kh, kw], four ints > 0");
        return false;
    }
    memcpy(r->epitome, s->ints, sizeof r->epitome);
    r->set |= REQ_EPITOME;
    return true;
}

bool ir_req_from_annot(const IrAnnot *a, IrRequests *out, char *err, size_t errlen)
{
    *out = (IrRequests){0};
    const ReqRule *rule = rule_of(a->name);
    if (!rule) {
        snprintf(err, errlen, "@%s is not an annotation netc knows", a->name);
        return false;
    }
    if (!check_keys(a, rule, err, errlen))
        return false;
    if (!strcmp(a->name, "prune"))
        return prune_from(a, out, err, errlen);
    if (!strcmp(a->name, "precision"))
        return precision_from(a, out, err, errlen);
    if (!strcmp(a->name, "epitome"))
        return epitome_from(a, out, err, errlen);
    if (!strcmp(a->name, "tome")) {
        out->tome_r = -1;
        if (!int_arg(a, "r", 0, INT32_MAX, &out->tome_r, err, errlen))
            return false;
        if (out->tome_r < 0) {
            snprintf(err, errlen, "@tome needs r = n, the tokens merged per layer");
            return false;
        }
        out->set |= REQ_TOME;
        return true;
    }
    out->pim_tile = out->pim_crossbar = -1;
    if (!int_arg(a, "tile", 0, INT32_MAX, &out->pim_tile, err, errlen) ||
        !int_arg(a, "crossbar", 0, INT32_MAX, &out->pim_crossbar, err, errlen) ||
        !int_arg(a, "replicas", 0, INT32_MAX, &out->pim_replicas, err, errlen))
        return false;
    out->set |= REQ_PIM;
    return true;
}

void ir_req_merge(IrRequests *dst, const IrRequests *src, unsigned slots)
{
    slots &= src->set;
    if (slots & REQ_PRUNE) {
        dst->prune_ratio = src->prune_ratio, dst->prune_kind = src->prune_kind;
        dst->prune_n = src->prune_n, dst->prune_m = src->prune_m;
        memcpy(dst->prune_block, src->prune_block, sizeof dst->prune_block);
    }
    if (slots & REQ_WEIGHT)
        dst->weight = src->weight;
    if (slots & REQ_ACT)
        dst->act = src->act;
    if (slots & REQ_TOME)
        dst->tome_r = src->tome_r;
    if (slots & REQ_EPITOME)
        memcpy(dst->epitome, src->epitome, sizeof dst->epitome);
    if (slots & REQ_PIM)
        dst->pim_tile = src->pim_tile, dst->pim_crossbar = src->pim_crossbar, dst->pim_replicas = src->pim_replicas;
    dst->set |= slots;
}

/* ---- back to annotations, for the text IR ---- */

typedef struct Out {
    Arena *arena;
    IrAnnot *a; /* the annotation being written */
} Out;

static IrAttr *put(Out *o, const char *key, AttrKind kind)
{
    IrAttr *x = &o->a->args[o->a->nargs++];
    *x = (IrAttr){.key = key, .kind = kind};
    return x;
}

static void put_int(Out *o, const char *key, int64_t v) { put(o, key, AK_INT)->i = v; }

static void put_ints(Out *o, const char *key, const int64_t *v, int n)
{
    IrAttr *x = put(o, key, AK_INTS);
    x->n = n;
    x->ints = arena_alloc(o->arena, (size_t)n * sizeof *x->ints);
    memcpy(x->ints, v, (size_t)n * sizeof *v);
}

static void put_precision(Out *o, const char *key, const IrPrecisionReq *p)
{
    if (p->is_float)
        put(o, key, AK_STRING)->s = dtype_name(p->dtype);
    else
        put_int(o, key, p->bits);
}

static void begin(Out *o, IrAnnot *a, const char *name)
{
    enum { MAX_ARGS = 5 };
    *a = (IrAnnot){.name = name, .args = arena_alloc(o->arena, MAX_ARGS * sizeof *a->args)};
    o->a = a;
}

int ir_req_to_annots(Arena *arena, const IrRequests *r, IrAnnot *out)
{
    static const char *const kinds[] = {
#define X(e, name) name,
        SPARSITY_LIST(X)
#undef X
    };
    Out o = {.arena = arena};
    int n = 0;
    if (r->set & REQ_PRUNE) {
        begin(&o, &out[n++], "prune");
        if (r->prune_kind != SP_NM)
            put(&o, "ratio", AK_FLOAT)->f = r->prune_ratio;
        put(&o, "granularity", AK_STRING)->s = kinds[r->prune_kind];
        if (r->prune_kind == SP_NM) {
            put_int(&o, "n", r->prune_n);
            put_int(&o, "m", r->prune_m);
        }
        if (r->prune_kind == SP_BLOCK)
            put_ints(&o, "block", (int64_t[]){r->prune_block[0], r->prune_block[1]}, 2);
    }
    if (r->set & (REQ_WEIGHT | REQ_ACT)) {
        begin(&o, &out[n++], "precision");
        if (r->set & REQ_WEIGHT)
            put_precision(&o, "weight", &r->weight);
        if (r->set & REQ_ACT)
            put_precision(&o, "act", &r->act);
    }
    if (r->set & REQ_TOME) {
        begin(&o, &out[n++], "tome");
        put_int(&o, "r", r->tome_r);
    }
    if (r->set & REQ_EPITOME) {
        begin(&o, &out[n++], "epitome");
        put_ints(&o, "shape", r->epitome, 4);
    }
    if (r->set & REQ_PIM) {
        begin(&o, &out[n++], "pim");
        if (r->pim_tile >= 0)
            put_int(&o, "tile", r->pim_tile);
        if (r->pim_crossbar >= 0)
            put_int(&o, "crossbar", r->pim_crossbar);
        if (r->pim_replicas > 0)
            put_int(&o, "replicas", r->pim_replicas);
    }
    return n;
}
