/*
 * pass_manager.c — the table of passes, pipeline text, and running a
 * pipeline with the verifier, IR dumps and timing between passes.
 *
 * Pipeline grammar (whitespace allowed between tokens):
 *
 *   pipeline := ε | entry (',' entry)*
 *   entry    := NAME ( '(' option (',' option)* ')' )?
 *   option   := NAME '=' INTEGER
 *
 * Errors are reported against the pseudo-source "--passes" (registered
 * with the Diag, so the text is quoted with a caret under the column);
 * after an error the parser resumes at the next top-level comma so one run
 * shows every mistake, and nothing runs unless the whole text is valid.
 *
 * An option spec is a space-separated list of "name:int:min..max=default"
 * (integers are the only kind any pass needs so far).
 */
#include "pass_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The one table: `netc --help` and docs/passes.md list passes in this order. */
static const PassInfo PASSES[] = {
    {"annotations", pass_annotations_run, "",
     "turn @prune/@precision/@tome/@epitome/@pim into typed requests, checking each against its nodes "
     "(every command runs it once after loading)"},
    {"prune", pass_prune, "",
     "prune what @prune and --prune ask: channels over dependency groups (layers shrink), then "
     "element, n:m and crossbar-block masks (docs/pruning.md); runs first when either is given"},
    {"dce", pass_dce, "",
     "remove nodes whose results nobody reads, then parameters nothing refers to"},
    {"remove-identity", pass_remove_identity, "",
     "remove ops that return their input unchanged (dropout in eval mode, same-shape "
     "reshape/flatten/expand, full slices, identity permutes and transposes)"},
    {"fold-bn", pass_fold_bn, "",
     "fold a batchnorm into the conv2d or linear before it (weights and bias rewritten)"},
    {"fold-constants", pass_fold_constants, "max-bytes:int:0..1099511627776=67108864",
     "evaluate nodes that read only bound parameters into new parameters of at most max-bytes"},
    {"quantize", pass_quantize,
     "bits:int:2..16=8 act-bits:int:0..16=8 per-channel:int:0..1=1 percentile:int:5000..10000=10000 "
     "sensitivity:int:0..1=0 keep-ends:int:0..1=1 pow2:int:0..1=0",
     "(pow2=1: 8-bit fixed point, power-of-two scales as F8Net) "
     "quantize weights (per output channel) and layer inputs (calibrated with --calib) to bits / "
     "act-bits (0: weights only); percentile in basis points (10000: min-max); with "
     "--quant-budget, per-layer bits by exact allocation on sensitivity 0 (output error) or 1 "
     "(weight error), first and last layers kept unless keep-ends=0"},
    {"expand-mha", pass_expand_mha, "",
     "write each mha as in_proj linear, per-head matmuls and softmax, out_proj linear (before "
     "quantize, so both projections become int8 layers)"},
    {"integerize", pass_integerize, "",
     "after quantize: turn each conv2d/linear with a u8 input and int8 weights into qconv2d/qlinear "
     "(integer arithmetic, i32 bias, one requantization multiply; a following relu and quantize "
     "fused), for the int8 kernels"},
};

const PassInfo *pass_table(int *count)
{
    *count = (int)(sizeof PASSES / sizeof PASSES[0]);
    return PASSES;
}

const PassInfo *pass_lookup(const char *name)
{
    int n;
    const PassInfo *t = pass_table(&n);
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

/* ---- options ---- */

enum { PASS_MAX_OPTIONS = 8 };

typedef struct PassOpt {
    const char *name; /* points into the pass's spec; not terminated */
    int namelen;
    int64_t value, min, max;
    bool given; /* written in the pipeline text (printed back by pass_pipeline_text) */
} PassOpt;

struct PassArgs {
    const PassInfo *pass;
    const PassEnv *env; /* set for the duration of a run */
    int nopt;
    PassOpt opt[PASS_MAX_OPTIONS];
};

/* Fills a with p's options at their defaults. The specs are ours, so a
 * malformed one is a bug caught by the unit tests (every pass is parsed). */
static void args_init(PassArgs *a, const PassInfo *p)
{
    *a = (PassArgs){.pass = p};
    for (const char *s = p->options; *s && a->nopt < PASS_MAX_OPTIONS;) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        PassOpt *o = &a->opt[a->nopt++];
        o->name = s;
        o->namelen = (int)strcspn(s, ":");
        s += o->namelen;
        s += strncmp(s, ":int:", 5) == 0 ? 5 : strlen(s);
        char *end;
        o->min = strtoll(s, &end, 10);
        o->max = strtoll(end + 2, &end, 10);
        o->value = strtoll(end + 1, &end, 10);
        s = end;
    }
}

static PassOpt *args_find(const PassArgs *a, const char *name, size_t len)
{
    for (int i = 0; i < a->nopt; i++)
        if ((size_t)a->opt[i].namelen == len && strncmp(a->opt[i].name, name, len) == 0)
            return (PassOpt *)&a->opt[i];
    return NULL;
}

const PassEnv *pass_env(const PassArgs *a)
{
    static const PassEnv none;
    return a->env ? a->env : &none;
}

int64_t pass_opt_int(const PassArgs *a, const char *name)
{
    const PassOpt *o = args_find(a, name, strlen(name));
    if (!o) { /* a pass asking for an option its spec does not declare */
        fprintf(stderr, "netc: internal error: pass '%s' has no option '%s'\n", a->pass->name, name);
        abort();
    }
    return o->value;
}

/* ---- pipelines ---- */

struct PassPipeline {
    int n, cap;
    PassArgs *passes;
    char *text;
};

static PassPipeline *pipeline_new(void) { return xcalloc(1, sizeof(PassPipeline)); }

static PassArgs *pipeline_push(PassPipeline *p, const PassInfo *info)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->passes = xrealloc(p->passes, (size_t)p->cap * sizeof *p->passes);
    }
    args_init(&p->passes[p->n], info);
    return &p->passes[p->n++];
}

/* Re-renders p->text from the entries: names, and the options written. */
static void pipeline_render(PassPipeline *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (int i = 0; i < p->n; i++) {
        const PassArgs *a = &p->passes[i];
        fprintf(f, "%s%s", i ? "," : "", a->pass->name);
        int shown = 0;
        for (int k = 0; k < a->nopt; k++)
            if (a->opt[k].given)
                fprintf(f, "%s%.*s=%" PRId64, shown++ ? "," : "(", a->opt[k].namelen, a->opt[k].name,
                        a->opt[k].value);
        if (shown)
            fputc(')', f);
    }
    fclose(f);
    free(p->text);
    p->text = buf;
}

PassPipeline *pass_pipeline_new(void)
{
    PassPipeline *p = pipeline_new();
    pipeline_render(p);
    return p;
}

void pass_pipeline_append(PassPipeline *p, const PassInfo *pass)
{
    pipeline_push(p, pass);
    pipeline_render(p);
}

void pass_pipeline_prepend(PassPipeline *p, const PassInfo *pass)
{
    pipeline_push(p, pass);
    PassArgs last = p->passes[p->n - 1];
    memmove(&p->passes[1], &p->passes[0], (size_t)(p->n - 1) * sizeof *p->passes);
    p->passes[0] = last;
    pipeline_render(p);
}

bool pass_pipeline_has(const PassPipeline *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->passes[i].pass->name, name))
            return true;
    return false;
}

void pass_pipeline_free(PassPipeline *p)
{
    if (!p)
        return;
    free(p->passes);
    free(p->text);
    free(p);
}

const char *pass_pipeline_text(const PassPipeline *p) { return p->text; }

int pass_pipeline_length(const PassPipeline *p) { return p->n; }

/* ---- parsing ---- */

typedef struct Parser {
    const char *text;
    size_t len, pos;
    Diag *d;
} Parser;

/* An error at text[at..at+len), a caret when len <= 1. */
static void perr(Parser *ps, size_t at, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void perr(Parser *ps, size_t at, size_t len, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    Loc loc = {"--passes", 1, (int)at + 1, len > 1 ? (int)len : 1};
    diag_error(ps->d, loc, "%s", msg);
}

static void skip_ws(Parser *ps)
{
    while (ps->pos < ps->len && (ps->text[ps->pos] == ' ' || ps->text[ps->pos] == '\t'))
        ps->pos++;
}

static char peek(const Parser *ps) { return ps->pos < ps->len ? ps->text[ps->pos] : '\0'; }

/* A NAME: letters, digits, '-', '_' and '.'; returns its length (0: none). */
static size_t take_name(Parser *ps)
{
    size_t start = ps->pos;
    while (ps->pos < ps->len) {
        char c = ps->text[ps->pos];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            break;
        ps->pos++;
    }
    return ps->pos - start;
}

/* Appends the first slen bytes of s to the list in buf, after ", " unless first. */
static void join(char *buf, size_t cap, const char *s, int slen)
{
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s%.*s", len ? ", " : "", slen, s);
}

/* option := NAME '=' INTEGER, checked against a's spec. */
static bool parse_option(Parser *ps, PassArgs *a)
{
    skip_ws(ps);
    size_t at = ps->pos, n = take_name(ps);
    char *name = strndup(ps->text + at, n);
    bool ok = false;
    PassOpt *o = args_find(a, name, n);
    if (n == 0) {
        perr(ps, at, 1, "expected an option name");
    } else if (!o) {
        char names[256] = "";
        for (int i = 0; i < a->nopt; i++)
            join(names, sizeof names, a->opt[i].name, a->opt[i].namelen);
        perr(ps, at, n, "pass '%s' has no option '%s' (it takes %s)", a->pass->name, name,
             a->nopt ? names : "none");
    } else {
        skip_ws(ps);
        if (peek(ps) != '=') {
            perr(ps, ps->pos, 1, "expected '=' after option '%s'", name);
        } else {
            ps->pos++;
            skip_ws(ps);
            size_t vat = ps->pos;
            while (ps->pos < ps->len && !strchr(",) \t", ps->text[ps->pos]))
                ps->pos++;
            char *val = strndup(ps->text + vat, ps->pos - vat), *end;
            errno = 0;
            long long v = strtoll(val, &end, 10);
            if (!*val || *end) {
                perr(ps, vat, ps->pos - vat, "option '%s' of pass '%s' takes an integer, not '%s'", name,
                     a->pass->name, val);
            } else if (errno == ERANGE || v < o->min || v > o->max) {
                char range[64];
                snprintf(range, sizeof range, "%" PRId64 "..%" PRId64, o->min, o->max);
                perr(ps, vat, ps->pos - vat, "option '%s' out of range: %s is not in %s", name, val, range);
            } else {
                o->value = v;
                o->given = true;
                ok = true;
            }
            free(val);
        }
    }
    free(name);
    return ok;
}

/* entry := NAME ( '(' option (',' option)* ')' )? */
static bool parse_entry(Parser *ps, PassPipeline *p)
{
    skip_ws(ps);
    size_t at = ps->pos, n = take_name(ps);
    if (n == 0) {
        perr(ps, at, 1, "expected a pass name");
        return false;
    }
    char *name = strndup(ps->text + at, n);
    const PassInfo *info = pass_lookup(name);
    if (!info) {
        int count;
        const PassInfo *t = pass_table(&count);
        char known[512] = "";
        for (int i = 0; i < count; i++)
            join(known, sizeof known, t[i].name, (int)strlen(t[i].name));
        perr(ps, at, n, "unknown pass '%s' (known passes: %s)", name, known);
        free(name);
        return false;
    }
    free(name);
    PassArgs *a = pipeline_push(p, info);
    skip_ws(ps);
    if (peek(ps) != '(')
        return true;
    ps->pos++;
    for (;;) {
        if (!parse_option(ps, a))
            return false;
        skip_ws(ps);
        if (peek(ps) == ',') {
            ps->pos++;
            continue;
        }
        if (peek(ps) == ')') {
            ps->pos++;
            return true;
        }
        perr(ps, ps->pos, 1, "expected ',' or ')' in the options of pass '%s'", info->name);
        return false;
    }
}

/* After an error: the next comma outside parentheses, from the entry's start. */
static void recover(Parser *ps, size_t entry_start)
{
    int depth = 0;
    for (size_t i = entry_start; i < ps->len; i++) {
        char c = ps->text[i];
        depth += (c == '(') - (c == ')');
        if (c == ',' && depth <= 0 && i >= ps->pos) {
            ps->pos = i;
            return;
        }
    }
    ps->pos = ps->len;
}

PassPipeline *pass_pipeline_parse(const char *text, Diag *d)
{
    Parser ps = {text, strlen(text), 0, d};
    diag_add_source(d, "--passes", text, ps.len);
    PassPipeline *p = pipeline_new();
    bool ok = true;
    skip_ws(&ps);
    while (ps.pos < ps.len) {
        size_t start = ps.pos;
        if (!parse_entry(&ps, p)) {
            ok = false;
            recover(&ps, start);
        }
        skip_ws(&ps);
        if (ps.pos >= ps.len)
            break;
        if (peek(&ps) != ',') {
            perr(&ps, ps.pos, 1, "expected ',' between passes");
            ok = false;
            recover(&ps, ps.pos);
            if (ps.pos >= ps.len)
                break;
        }
        ps.pos++; /* the ',' */
        skip_ws(&ps);
        if (ps.pos >= ps.len) {
            perr(&ps, ps.pos, 1, "expected a pass name after ','");
            ok = false;
        }
    }
    if (!ok) {
        pass_pipeline_free(p);
        return NULL;
    }
    pipeline_render(p);
    return p;
}

/*
 * The -O defaults. Order matters at -O2:
 *   fold-constants first, so parameter-only subgraphs (ViT's expanded class
 *     token) are parameters before anything else looks at them;
 *   remove-identity before fold-bn, so a dropout or a same-shape reshape
 *     between a conv and its batchnorm does not hide the pair;
 *   fold-bn then sees conv -> batchnorm directly;
 *   dce last, sweeping what the others left unread (the folded nodes'
 *     parameters, a batchnorm's statistics, dead branches).
 * -O1 keeps every weight as written (no folding, so weights files saved
 * from the graph keep their keys) and only drops what cannot matter.
 */
PassPipeline *pass_pipeline_default(int opt_level)
{
    static const char *const by_level[] = {
        "",
        "remove-identity,dce",
        "fold-constants,remove-identity,fold-bn,dce",
    };
    int level = opt_level < 0 ? 0 : opt_level > 2 ? 2 : opt_level;
    PassPipeline *p = pipeline_new();
    const char *s = by_level[level];
    while (*s) {
        size_t n = strcspn(s, ",");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)n, s);
        pipeline_push(p, pass_lookup(name));
        s += n + (s[n] == ',');
    }
    pipeline_render(p);
    return p;
}

/* ---- running ---- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

typedef struct PassTiming {
    const char *name;
    double ms;
    int nodes_before, nodes_after;
} PassTiming;

/* The -time-passes table: one row per pass run, then the total. */
static void print_timing(FILE *out, const PassTiming *t, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += t[i].ms;
    fprintf(out, "===- pass execution timing report -===\n");
    fprintf(out, "  %10s  %7s  %15s  %s\n", "wall ms", "% total", "nodes", "pass");
    for (int i = 0; i < n; i++) {
        char nodes[32];
        snprintf(nodes, sizeof nodes, "%d -> %d", t[i].nodes_before, t[i].nodes_after);
        fprintf(out, "  %10.3f  %6.1f%%  %15s  %s\n", t[i].ms, total > 0 ? 100.0 * t[i].ms / total : 0.0,
                nodes, t[i].name);
    }
    fprintf(out, "  %10.3f  %6.1f%%  %15s  %s\n", total, 100.0, "", "total");
}

/* True when ir_verify accepts g; the report is thrown away (the caller
 * reruns the verifier into the user's Diag after its own headline). */
static bool verifies_quietly(const IrGraph *g)
{
    FILE *null = fopen("/dev/null", "w");
    Diag *q = diag_new(null ? null : stderr);
    diag_set_limit(q, 1);
    bool ok = ir_verify(g, q);
    diag_free(q);
    if (null)
        fclose(null);
    return ok;
}

bool pass_pipeline_run(const PassPipeline *p, IrGraph *g, const PassRunOptions *o, Diag *d)
{
    PassRunOptions none = {0};
    if (!o)
        o = &none;
    FILE *print_to = o->print_to ? o->print_to : stderr, *time_to = o->time_to ? o->time_to : stderr;
    PassTiming *timing = xcalloc((size_t)(p->n ? p->n : 1), sizeof *timing);
    int ran = 0;
    bool ok = true;
    for (int i = 0; i < p->n && ok; i++) {
        PassArgs with_env = p->passes[i];
        with_env.env = o->env;
        const PassArgs *a = &with_env;
        const char *name = a->pass->name;
        PassTiming *t = &timing[ran++];
        *t = (PassTiming){.name = name, .nodes_before = g->nnodes};
        double start = now_ms();
        ok = a->pass->run(g, a, d);
        t->ms = now_ms() - start;
        t->nodes_after = g->nnodes;
        if (!ok)
            break;
        if (o->verify_each && !verifies_quietly(g)) {
            diag_error(d, loc_none(), "after pass '%s': the graph no longer verifies", name);
            ir_verify(g, d);
            ok = false;
            break;
        }
        if (o->print_after && (strcmp(o->print_after, "all") == 0 || strcmp(o->print_after, name) == 0)) {
            fprintf(print_to, "; after pass '%s'\n", name);
            ir_print(g, print_to);
        }
    }
    if (o->time_passes)
        print_timing(time_to, timing, ran);
    free(timing);
    ir_compact(g);
    return ok;
}
