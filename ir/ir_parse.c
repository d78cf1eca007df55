/*
 * ir_parse.c — reads the textual IR written by ir_print (format described
 * there) back into a graph.
 *
 * A hand-written lexer and recursive-descent parser; the whole grammar is
 * small enough to sit in the comments beside its functions. The text is
 * untrusted (it may be edited by hand, truncated or fuzzed), so every read
 * is bounds-checked against len (the text need not be NUL-terminated),
 * numbers are range-checked, and nodes are built through ir_add_node so the
 * shape and dtype rules validate them; the declared result types must then
 * agree with the inferred ones.
 *
 * The first error is reported as `path:line:col: error: ...` and parsing
 * stops (longjmp back to ir_parse, which frees the partial graph): later
 * messages would mostly be consequences of the first. Callers that want the
 * offending line quoted register the text with diag_add_source first.
 *
 * Metadata clauses may name parameters declared further down, so their
 * %names are resolved after the closing '}', and then each clause is
 * checked against its tensors by the rules of ir_meta.c, the error pointing
 * at the clause: the graph that comes back has metadata the verifier
 * accepts, and a mistake in a hand-edited .ir is reported in that file, not
 * at the loc(...) it carries. (So a syntax error later in the file is
 * reported before a bad metadata reference above it.)
 */
#include "ir.h"
#include "ir_text.h"
#include "../support/strmap.h"

#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_EOF, T_IDENT, T_VALUE, T_INT, T_FLOAT, T_STRING, T_PUNCT } TokKind;

typedef struct Tok {
    TokKind kind;
    int line, col;
    size_t start, end; /* byte range in the source, for messages */
    const char *s;     /* T_IDENT word, T_VALUE name, T_STRING contents (scratch arena) */
    bool numbered;     /* T_VALUE: a bare all-digit name, i.e. a node result */
    int64_t i;         /* T_INT; T_VALUE when numbered */
    double f;          /* T_FLOAT */
    char punct;        /* T_PUNCT */
} Tok;

typedef struct Parser {
    const char *path, *src;
    size_t len, pos;
    int line, col;
    Tok tok;
    Diag *d;
    Arena *scratch;  /* token texts and temporary arrays, freed after parsing */
    IrGraph *g;
    StrMap *values;  /* %name -> IrValue* for inputs and parameters */
    IrValue **results; /* %N -> the N-th node result */
    int nresults, cap_results;
    StrMap *files;   /* interned loc paths (keys live in the graph arena) */
    struct PendingRef *refs; /* metadata %names, resolved after the graph */
    int nrefs, cap_refs;
    struct PendingMeta *metas; /* metadata clauses, checked after that */
    int nmetas, cap_metas;
    jmp_buf fail;
} Parser;

/* A parameter named by a metadata field, to be stored in *slot. */
typedef struct PendingRef {
    Tok tok;
    const char *field; /* "scale", "mask", ... for messages */
    IrValue **slot;
} PendingRef;

/* A value's quant or sparsity clause, checked once its names are resolved. */
typedef struct PendingMeta {
    Tok at;          /* the clause keyword */
    const char *who; /* the value as the text names it: "%conv1.weight", "%3" */
    IrValue *v;
    bool sparsity;   /* which clause: quant or sparsity */
} PendingMeta;

static _Noreturn void __attribute__((format(printf, 4, 5)))
error_at(Parser *p, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(p->d, ((Loc){p->path, line, col, 1}), "%s", msg);
    longjmp(p->fail, 1);
}

/* ---- lexer ---- */

static int peekc(const Parser *p, size_t ahead)
{
    return p->pos + ahead < p->len ? (unsigned char)p->src[p->pos + ahead] : -1;
}

static void advance(Parser *p)
{
    if (p->src[p->pos] == '\n')
        p->line++, p->col = 1;
    else
        p->col++;
    p->pos++;
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_ident_start(int c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }

/* STRING := '"' (char | '\' ["\\ntr] | '\x' hex hex)* '"'   (no raw newlines) */
static const char *lex_string(Parser *p)
{
    int line = p->line, col = p->col;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    advance(p); /* the opening quote */
    for (;;) {
        int c = peekc(p, 0);
        if (c < 0 || c == '\n')
            error_at(p, line, col, "unterminated string");
        if (c == '"')
            break;
        if (c == '\\') {
            int e = peekc(p, 1), sline = p->line, scol = p->col;
            advance(p);
            if (e < 0)
                error_at(p, line, col, "unterminated string");
            advance(p);
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'x': {
                int v = 0;
                for (int k = 0; k < 2; k++) {
                    int h = peekc(p, 0);
                    int dv = is_digit(h)               ? h - '0'
                             : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                             : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                      : -1;
                    if (dv < 0)
                        error_at(p, sline, scol, "\\x needs two hex digits");
                    v = v * 16 + dv;
                    advance(p);
                }
                if (v == 0)
                    error_at(p, sline, scol, "strings cannot contain \\x00");
                c = v;
                break;
            }
            default: error_at(p, sline, scol, "unknown escape sequence in string");
            }
        } else {
            if (c == 0)
                error_at(p, p->line, p->col, "strings cannot contain a NUL byte");
            advance(p);
        }
        if (n + 1 >= cap) {
            size_t nc = cap ? 2 * cap : 32;
            buf = arena_grow(p->scratch, buf, cap, nc);
            cap = nc;
        }
        buf[n++] = (char)c;
    }
    advance(p); /* the closing quote */
    return buf ? buf : "";
}

/*
 * NUMBER := '-'? digits ('.' digits?)? ([eE] [+-]? digits)?  |  '-'? '.' digits ...
 *         | '-inf'
 * A '.' or an exponent makes a float.
 */
static void lex_number(Parser *p, Tok *t)
{
    size_t start = p->pos;
    bool is_float = false;
    if (peekc(p, 0) == '-')
        advance(p);
    if (peekc(p, 0) == 'i') { /* "-inf"; the lexer only comes here when it matched */
        for (int k = 0; k < 3; k++)
            advance(p);
        t->kind = T_FLOAT;
        t->f = -(double)INFINITY;
        return;
    }
    while (is_digit(peekc(p, 0)))
        advance(p);
    if (peekc(p, 0) == '.') {
        is_float = true;
        advance(p);
        while (is_digit(peekc(p, 0)))
            advance(p);
    }
    if (peekc(p, 0) == 'e' || peekc(p, 0) == 'E') {
        int k = 1;
        if (peekc(p, 1) == '+' || peekc(p, 1) == '-')
            k = 2;
        if (is_digit(peekc(p, (size_t)k))) {
            is_float = true;
            while (k--)
                advance(p);
            while (is_digit(peekc(p, 0)))
                advance(p);
        }
    }
    if (is_ident_char(peekc(p, 0)) || peekc(p, 0) == '.')
        error_at(p, t->line, t->col, "malformed number");
    size_t n = p->pos - start;
    const char *s = p->src + start;
    if (is_float) {
        char buf[400];
        if (n >= sizeof buf)
            error_at(p, t->line, t->col, "number is too long");
        memcpy(buf, s, n);
        buf[n] = '\0';
        t->kind = T_FLOAT;
        t->f = strtod(buf, NULL);
        return;
    }
    bool neg = *s == '-';
    uint64_t mag = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (size_t k = neg; k < n; k++) {
        unsigned dgt = (unsigned)(s[k] - '0');
        if (mag > (limit - dgt) / 10)
            error_at(p, t->line, t->col, "integer out of range");
        mag = mag * 10 + dgt;
    }
    t->kind = T_INT;
    t->i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
}

/* Reads the next token into p->tok, skipping blanks and '#' comments. */
static void next(Parser *p)
{
    for (;;) {
        int c = peekc(p, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            advance(p);
        } else if (c == '#') {
            while (peekc(p, 0) >= 0 && peekc(p, 0) != '\n')
                advance(p);
        } else {
            break;
        }
    }
    Tok *t = &p->tok;
    *t = (Tok){.line = p->line, .col = p->col, .start = p->pos};
    int c = peekc(p, 0), c1 = peekc(p, 1);
    if (c < 0) {
        t->kind = T_EOF;
    } else if (is_ident_start(c)) {
        size_t start = p->pos;
        while (is_ident_char(peekc(p, 0)))
            advance(p);
        t->kind = T_IDENT;
        t->s = arena_strndup(p->scratch, p->src + start, p->pos - start);
    } else if (is_digit(c) || (c == '.' && is_digit(c1)) ||
               (c == '-' && (is_digit(c1) || (c1 == '.' && is_digit(peekc(p, 2))))) ||
               (c == '-' && c1 == 'i' && peekc(p, 2) == 'n' && peekc(p, 3) == 'f' &&
                !is_ident_char(peekc(p, 4)))) {
        lex_number(p, t);
    } else if (c == '"') {
        t->kind = T_STRING;
        t->s = lex_string(p);
    } else if (c == '%') {
        advance(p);
        t->kind = T_VALUE;
        if (peekc(p, 0) == '"') {
            t->s = lex_string(p);
        } else {
            size_t start = p->pos;
            bool digits = true;
            while (peekc(p, 0) >= 0 && ir_text_is_word_char(peekc(p, 0))) {
                digits = digits && is_digit(peekc(p, 0));
                advance(p);
            }
            if (p->pos == start)
                error_at(p, t->line, t->col, "expected a value name after '%%'");
            t->s = arena_strndup(p->scratch, p->src + start, p->pos - start);
            if (digits) {
                t->numbered = true;
                t->i = p->pos - start > 9 ? INT64_MAX : atoll(t->s);
            }
        }
    } else if (strchr("{}()[],:=@", c) && c != 0) {
        t->kind = T_PUNCT;
        t->punct = (char)c;
        advance(p);
    } else if (c >= 0x20 && c < 0x7f) {
        error_at(p, t->line, t->col, "unexpected character '%c'", c);
    } else {
        error_at(p, t->line, t->col, "unexpected byte 0x%02x", c);
    }
    t->end = p->pos;
}

/* ---- token helpers ---- */

static const char *describe(Parser *p, const Tok *t)
{
    if (t->kind == T_EOF)
        return "end of input";
    size_t n = t->end - t->start;
    if (n > 24)
        return arena_printf(p->scratch, "'%.24s...'", p->src + t->start);
    return arena_printf(p->scratch, "'%.*s'", (int)n, p->src + t->start);
}

static _Noreturn void expected(Parser *p, const char *what)
{
    error_at(p, p->tok.line, p->tok.col, "expected %s, found %s", what, describe(p, &p->tok));
}

static bool is_punct(const Parser *p, char c) { return p->tok.kind == T_PUNCT && p->tok.punct == c; }
static bool is_word(const Parser *p, const char *w)
{
    return p->tok.kind == T_IDENT && strcmp(p->tok.s, w) == 0;
}

static bool accept(Parser *p, char c)
{
    if (!is_punct(p, c))
        return false;
    next(p);
    return true;
}

static void expect(Parser *p, char c)
{
    if (!accept(p, c)) {
        char what[8] = {'\'', c, '\'', 0};
        expected(p, what);
    }
}

/* NAME := IDENT | STRING */
static const char *parse_name(Parser *p, const char *what)
{
    if (p->tok.kind != T_IDENT && p->tok.kind != T_STRING)
        expected(p, what);
    const char *s = p->tok.s;
    next(p);
    return s;
}

static int64_t parse_int(Parser *p, const char *what, int64_t lo, int64_t hi)
{
    if (p->tok.kind != T_INT)
        expected(p, what);
    if (p->tok.i < lo || p->tok.i > hi)
        error_at(p, p->tok.line, p->tok.col, "%s must be between %lld and %lld", what,
                 (long long)lo, (long long)hi);
    int64_t v = p->tok.i;
    next(p);
    return v;
}

/* ---- grammar ---- */

/* TYPE := DTYPE '[' (INT (',' INT)*)? ']' */
static void parse_type(Parser *p, DType *dt, Shape *s)
{
    if (p->tok.kind != T_IDENT)
        expected(p, "a dtype such as f32");
    if (!dtype_from_name(p->tok.s, dt))
        error_at(p, p->tok.line, p->tok.col, "unknown dtype '%s'", p->tok.s);
    next(p);
    expect(p, '[');
    *s = (Shape){0};
    if (!is_punct(p, ']')) {
        do {
            if (s->rank == SHAPE_MAX_RANK)
                error_at(p, p->tok.line, p->tok.col, "more than %d dimensions", SHAPE_MAX_RANK);
            s->d[s->rank++] = parse_int(p, "a dimension size", 0, INT64_MAX);
        } while (accept(p, ','));
    }
    expect(p, ']');
}

/* LOC := 'loc' '(' STRING (':' INT ':' INT (':' INT)?)? ')'   (optional) */
static Loc parse_loc_opt(Parser *p)
{
    Loc loc = {0};
    if (!is_word(p, "loc"))
        return loc;
    next(p);
    expect(p, '(');
    if (p->tok.kind != T_STRING)
        expected(p, "a file name string");
    const char *file = strmap_get(p->files, p->tok.s);
    if (!file) {
        char *k = arena_strdup(p->g->arena, p->tok.s);
        strmap_put(p->files, k, k);
        file = k;
    }
    loc.file = file;
    next(p);
    if (accept(p, ':')) {
        loc.line = (int)parse_int(p, "a line number", 1, INT_MAX);
        expect(p, ':');
        loc.col = (int)parse_int(p, "a column number", 0, INT_MAX);
        if (accept(p, ':'))
            loc.len = (int)parse_int(p, "a length", 0, INT_MAX);
    }
    expect(p, ')');
    return loc;
}

/* ('kw' '(' STRING ')')?  The string, or NULL when the clause is absent;
 * what names the string for the "expected" message. */
static const char *parse_string_clause_opt(Parser *p, const char *kw, const char *what)
{
    if (!is_word(p, kw))
        return NULL;
    next(p);
    expect(p, '(');
    if (p->tok.kind != T_STRING)
        expected(p, what);
    const char *s = p->tok.s;
    next(p);
    expect(p, ')');
    return s;
}

/* VALUE := INT | FLOAT | 'true' | 'false' | 'inf' | 'nan' | STRING | '[' (INT (',' INT)*)? ']' */
static void parse_attr_value(Parser *p, IrAttr *a)
{
    Tok *t = &p->tok;
    if (t->kind == T_INT) {
        a->kind = AK_INT, a->i = t->i;
    } else if (t->kind == T_FLOAT) {
        a->kind = AK_FLOAT, a->f = t->f;
    } else if (t->kind == T_STRING) {
        a->kind = AK_STRING, a->s = t->s;
    } else if (is_word(p, "true") || is_word(p, "false")) {
        a->kind = AK_BOOL, a->i = is_word(p, "true");
    } else if (is_word(p, "inf") || is_word(p, "nan")) {
        a->kind = AK_FLOAT, a->f = is_word(p, "inf") ? (double)INFINITY : (double)NAN;
    } else if (is_punct(p, '[')) {
        next(p);
        int cap = 0;
        a->kind = AK_INTS;
        a->n = 0;
        if (!is_punct(p, ']')) {
            do {
                if (p->tok.kind == T_FLOAT)
                    error_at(p, t->line, t->col, "only lists of ints are supported");
                VEC_PUSH(p->scratch, a->ints, a->n, cap,
                         parse_int(p, "an integer", INT64_MIN, INT64_MAX));
            } while (accept(p, ','));
        }
        expect(p, ']');
        return;
    } else {
        expected(p, "a value");
    }
    next(p);
}

/* ATTR := (NAME '=')? VALUE   (the name is required in a node's attributes) */
static void parse_attr(Parser *p, IrAttr *a, bool keyed)
{
    *a = (IrAttr){0};
    bool has_key = false;
    if (p->tok.kind == T_IDENT || p->tok.kind == T_STRING) {
        /* a key ("inf = ...", "\"odd key\" = ...") or a value ("inf", "text"):
         * the '=' that follows decides */
        Parser save = *p;
        next(p);
        has_key = is_punct(p, '=');
        *p = save;
    }
    if (has_key || keyed) {
        a->key = parse_name(p, "an attribute name");
        expect(p, '=');
    }
    parse_attr_value(p, a);
}

/* A %name that must denote an input or parameter defined earlier. */
static IrValue *parse_ref(Parser *p)
{
    Tok t = p->tok;
    if (t.kind != T_VALUE)
        expected(p, "a value such as %x or %3");
    IrValue *v = NULL;
    if (t.numbered) {
        if (t.i < p->nresults)
            v = p->results[t.i];
    } else {
        v = strmap_get(p->values, t.s);
    }
    if (!v)
        error_at(p, t.line, t.col, "use of undefined value %s", describe(p, &t));
    next(p);
    return v;
}

/* A fresh %name for an input or parameter. */
static const char *parse_def_name(Parser *p)
{
    Tok t = p->tok;
    if (t.kind != T_VALUE)
        expected(p, "a value name such as %x");
    if (t.numbered)
        error_at(p, t.line, t.col, "%s is a node number; inputs and parameters need names",
                 describe(p, &t));
    if (strmap_get(p->values, t.s))
        error_at(p, t.line, t.col, "redefinition of %s", describe(p, &t));
    next(p);
    return t.s;
}

/* ---- metadata clauses ---- */

typedef enum { MF_INT, MF_BOOL, MF_STRING, MF_REF, MF_PAIR } FieldType;

/* One field of a metadata clause: what it takes, and what was read. */
typedef struct Field {
    const char *name;
    FieldType type;
    int64_t lo, hi; /* MF_INT, MF_PAIR: the accepted range */
    bool seen;
    Tok at;         /* the field name, for messages */
    int64_t i[2];   /* MF_INT, MF_BOOL (0/1), MF_PAIR */
    const char *s;  /* MF_STRING */
} Field;

/*
 * FIELDS := '(' FIELD (',' FIELD)* ')'
 * FIELD  := IDENT '=' (INT | 'true' | 'false' | STRING | %NAME | '[' INT ',' INT ']')
 * Fills f[] by name (each at most once); a %NAME becomes a pending
 * reference to be stored in *refs[k] for field k.
 */
static void parse_fields(Parser *p, const char *clause, Field *f, int nf, IrValue ***refs)
{
    expect(p, '(');
    do {
        Tok name = p->tok;
        if (name.kind != T_IDENT)
            expected(p, "a field name");
        int k = 0;
        while (k < nf && strcmp(f[k].name, name.s) != 0)
            k++;
        if (k == nf)
            error_at(p, name.line, name.col, "unknown field '%s' in %s(...)", name.s, clause);
        if (f[k].seen)
            error_at(p, name.line, name.col, "field '%s' is given twice", name.s);
        next(p);
        expect(p, '=');
        f[k].seen = true;
        f[k].at = name;
        switch (f[k].type) {
        case MF_INT: f[k].i[0] = parse_int(p, f[k].name, f[k].lo, f[k].hi); break;
        case MF_BOOL:
            if (!is_word(p, "true") && !is_word(p, "false"))
                expected(p, "true or false");
            f[k].i[0] = is_word(p, "true");
            next(p);
            break;
        case MF_STRING:
            if (p->tok.kind != T_STRING)
                expected(p, "a string");
            f[k].s = p->tok.s;
            next(p);
            break;
        case MF_REF: {
            if (p->tok.kind != T_VALUE)
                expected(p, "a parameter such as %w.scale");
            PendingRef r = {p->tok, f[k].name, refs[k]};
            VEC_PUSH(p->scratch, p->refs, p->nrefs, p->cap_refs, r);
            next(p);
            break;
        }
        case MF_PAIR:
            expect(p, '[');
            f[k].i[0] = parse_int(p, "a block size", f[k].lo, f[k].hi);
            expect(p, ',');
            f[k].i[1] = parse_int(p, "a block size", f[k].lo, f[k].hi);
            expect(p, ']');
            break;
        }
    } while (accept(p, ','));
    expect(p, ')');
}

static void require(Parser *p, const Tok *clause, const Field *f)
{
    if (!f->seen)
        error_at(p, clause->line, clause->col, "%s(...) is missing the field '%s'", clause->s, f->name);
}

/* QUANT := 'quant' FIELDS   (bits, signed, scale required; axis, pow2, zero_point) */
static IrQuant *parse_quant(Parser *p)
{
    IrQuant *q = arena_alloc(p->g->arena, sizeof *q);
    Tok clause = p->tok;
    Field f[] = {
        {.name = "bits", .type = MF_INT, .lo = IR_QUANT_MIN_BITS, .hi = IR_QUANT_MAX_BITS},
        {.name = "signed", .type = MF_BOOL},
        {.name = "axis", .type = MF_INT, .lo = -1, .hi = SHAPE_MAX_RANK - 1},
        {.name = "pow2", .type = MF_BOOL},
        {.name = "scale", .type = MF_REF},
        {.name = "zero_point", .type = MF_REF},
    };
    IrValue **refs[] = {NULL, NULL, NULL, NULL, &q->scale, &q->zero_point};
    next(p);
    parse_fields(p, "quant", f, 6, refs);
    require(p, &clause, &f[0]);
    require(p, &clause, &f[1]);
    require(p, &clause, &f[4]);
    q->bits = (int)f[0].i[0];
    q->is_signed = f[1].i[0];
    q->axis = f[2].seen ? (int)f[2].i[0] : -1;
    q->pow2 = f[3].i[0];
    return q;
}

/* The fields of a sparsity kind: element none, nm n and m, channel axis,
 * block block; bit k stands for field k of parse_sparsity's table. */
static const unsigned sparsity_fields[SP__COUNT] = {
    [SP_ELEMENT] = 0, [SP_NM] = 1u << 2 | 1u << 3, [SP_CHANNEL] = 1u << 4, [SP_BLOCK] = 1u << 5};

/* SPARSITY := 'sparsity' FIELDS   (kind, mask; and the kind's own fields) */
static IrSparsity *parse_sparsity(Parser *p)
{
    IrSparsity *sp = arena_alloc(p->g->arena, sizeof *sp);
    Tok clause = p->tok;
    Field f[] = {
        {.name = "kind", .type = MF_STRING},
        {.name = "mask", .type = MF_REF},
        {.name = "n", .type = MF_INT, .lo = 1, .hi = IR_NM_MAX_M - 1},
        {.name = "m", .type = MF_INT, .lo = 2, .hi = IR_NM_MAX_M},
        {.name = "axis", .type = MF_INT, .lo = 0, .hi = SHAPE_MAX_RANK - 1},
        {.name = "block", .type = MF_PAIR, .lo = 1, .hi = INT_MAX},
    };
    IrValue **refs[] = {NULL, &sp->mask, NULL, NULL, NULL, NULL};
    next(p);
    parse_fields(p, "sparsity", f, 6, refs);
    require(p, &clause, &f[0]);
    sp->kind = ir_sparsity_lookup(f[0].s);
    if (sp->kind == SP__COUNT) {
        char kinds[128] = "";
        for (int k = 0; k < SP__COUNT; k++)
            snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s\"%s\"",
                     k == 0 ? "" : k == SP__COUNT - 1 ? " or " : ", ", ir_sparsity_name((SparsityKind)k));
        error_at(p, f[0].at.line, f[0].at.col, "unknown sparsity kind \"%s\" (expected %s)", f[0].s,
                 kinds);
    }
    for (int k = 2; k < 6; k++) {
        bool wanted = sparsity_fields[sp->kind] >> k & 1;
        if (f[k].seen && !wanted)
            error_at(p, f[k].at.line, f[k].at.col, "field '%s' does not apply to sparsity kind \"%s\"",
                     f[k].name, f[0].s);
        if (wanted)
            require(p, &clause, &f[k]);
    }
    require(p, &clause, &f[1]);
    if (sp->kind == SP_NM && f[2].i[0] >= f[3].i[0])
        error_at(p, f[2].at.line, f[2].at.col, "n must be less than m (n:m is %lld:%lld)",
                 (long long)f[2].i[0], (long long)f[3].i[0]);
    sp->n = (int)f[2].i[0];
    sp->m = (int)f[3].i[0];
    sp->axis = (int)f[4].i[0];
    sp->block[0] = (int)f[5].i[0];
    sp->block[1] = (int)f[5].i[1];
    return sp;
}

/* PIM := 'pim' FIELDS   (tile, crossbar, crossbars, replicas, all required) */
static IrPlacement *parse_placement_opt(Parser *p)
{
    if (!is_word(p, "pim"))
        return NULL;
    IrPlacement *pl = arena_alloc(p->g->arena, sizeof *pl);
    Tok clause = p->tok;
    Field f[] = {
        {.name = "tile", .type = MF_INT, .lo = 0, .hi = INT_MAX},
        {.name = "crossbar", .type = MF_INT, .lo = 0, .hi = INT_MAX},
        {.name = "crossbars", .type = MF_INT, .lo = 1, .hi = INT_MAX},
        {.name = "replicas", .type = MF_INT, .lo = 1, .hi = INT_MAX},
    };
    next(p);
    parse_fields(p, "pim", f, 4, NULL);
    for (int k = 0; k < 4; k++)
        require(p, &clause, &f[k]);
    pl->tile = (int)f[0].i[0];
    pl->crossbar = (int)f[1].i[0];
    pl->crossbars = (int)f[2].i[0];
    pl->replicas = (int)f[3].i[0];
    return pl;
}

/* A value's metadata as read, attached once the value exists. */
typedef struct ValueMeta {
    IrQuant *quant;
    IrSparsity *sparsity;
    Tok quant_at, sparsity_at;
} ValueMeta;

/* META := (QUANT | SPARSITY)*   (each at most once; sparsity on parameters only) */
static ValueMeta parse_value_meta(Parser *p, bool param)
{
    ValueMeta m = {0};
    for (;;) {
        Tok t = p->tok;
        if (is_word(p, "quant")) {
            if (m.quant)
                error_at(p, t.line, t.col, "a second quant(...) clause");
            m.quant_at = t;
            m.quant = parse_quant(p);
        } else if (is_word(p, "sparsity")) {
            if (!param)
                error_at(p, t.line, t.col, "sparsity(...) describes a weight; only parameters have it");
            if (m.sparsity)
                error_at(p, t.line, t.col, "a second sparsity(...) clause");
            m.sparsity_at = t;
            m.sparsity = parse_sparsity(p);
        } else {
            return m;
        }
    }
}

/* Gives v the metadata read for it; name is its token (for messages). */
static void attach_meta(Parser *p, IrValue *v, const ValueMeta *m, const Tok *name)
{
    const char *who = arena_strndup(p->scratch, p->src + name->start, name->end - name->start);
    v->quant = m->quant;
    v->sparsity = m->sparsity;
    if (m->quant) {
        PendingMeta pm = {m->quant_at, who, v, false};
        VEC_PUSH(p->scratch, p->metas, p->nmetas, p->cap_metas, pm);
    }
    if (m->sparsity) {
        PendingMeta pm = {m->sparsity_at, who, v, true};
        VEC_PUSH(p->scratch, p->metas, p->nmetas, p->cap_metas, pm);
    }
}

/* After the whole graph: every metadata name denotes a parameter, and each
 * clause agrees with its tensors. */
static void resolve_meta(Parser *p)
{
    for (int i = 0; i < p->nrefs; i++) {
        PendingRef *r = &p->refs[i];
        IrValue *v = r->tok.numbered ? (r->tok.i < p->nresults ? p->results[r->tok.i] : NULL)
                                     : strmap_get(p->values, r->tok.s);
        if (!v)
            error_at(p, r->tok.line, r->tok.col, "use of undefined value %s", describe(p, &r->tok));
        if (v->kind != VK_PARAM)
            error_at(p, r->tok.line, r->tok.col, "%s must name a parameter, and %s is %s", r->field,
                     describe(p, &r->tok), v->kind == VK_INPUT ? "a graph input" : "a node result");
        *r->slot = v;
    }
    for (int i = 0; i < p->nmetas; i++) {
        const PendingMeta *m = &p->metas[i];
        char err[512];
        if (!(m->sparsity ? ir_sparsity_check : ir_quant_check)(m->v, err, sizeof err))
            error_at(p, m->at.line, m->at.col, "%s: %s", m->who, err);
    }
}

/*
 * INPUT := 'input' %NAME ':' TYPE META LOC?
 * PARAM := 'param' %NAME ':' TYPE ('init' '(' STRING ')')? META LOC?
 */
static void parse_decl(Parser *p, bool param)
{
    next(p);
    Tok name_tok = p->tok;
    const char *name = parse_def_name(p);
    DType dt;
    Shape s;
    expect(p, ':');
    parse_type(p, &dt, &s);
    const char *init = param ? parse_string_clause_opt(p, "init", "an init name string") : NULL;
    ValueMeta meta = parse_value_meta(p, param);
    Loc loc = parse_loc_opt(p);
    IrValue *v = param ? ir_add_param(p->g, name, dt, s, loc)
                       : ir_add_input(p->g, name, dt, s, loc);
    if (init)
        v->init = arena_strdup(p->g->arena, init);
    attach_meta(p, v, &meta, &name_tok);
    strmap_put(p->values, v->name, v);
}

/* ANNOT := '@' NAME ('(' (ATTR (',' ATTR)*)? ')')? LOC? 'inherited'? */
static IrAnnot parse_annot(Parser *p)
{
    IrAnnot a = {0};
    int cap_args = 0;
    next(p);
    a.name = parse_name(p, "an annotation name");
    if (accept(p, '(')) {
        if (!is_punct(p, ')')) {
            do {
                IrAttr arg;
                parse_attr(p, &arg, false);
                VEC_PUSH(p->scratch, a.args, a.nargs, cap_args, arg);
            } while (accept(p, ','));
        }
        expect(p, ')');
    }
    a.loc = parse_loc_opt(p);
    if (is_word(p, "inherited")) {
        a.inherited = true;
        next(p);
    }
    return a;
}

/* REQ := 'req' '(' ANNOT* ')', each a known annotation checked by ir_req.c;
 * NULL when the clause is absent. */
static IrRequests *parse_requests_opt(Parser *p)
{
    if (!is_word(p, "req"))
        return NULL;
    next(p);
    expect(p, '(');
    IrRequests *r = arena_alloc(p->scratch, sizeof *r);
    *r = (IrRequests){0};
    while (is_punct(p, '@')) {
        Tok at = p->tok;
        IrAnnot a = parse_annot(p);
        IrRequests one;
        char err[300];
        if (!ir_req_known(a.name))
            error_at(p, at.line, at.col, "req: @%s makes no request", a.name);
        if (!ir_req_from_annot(&a, &one, err, sizeof err))
            error_at(p, at.line, at.col, "req: %s", err);
        ir_req_merge(r, &one, one.set);
    }
    expect(p, ')');
    return r;
}

/*
 * NODE   := RESULT (',' RESULT)* '=' OP '(' (REF (',' REF)*)? ')' ('{' (ATTR (',' ATTR)*)? '}')?
 *           ('name' '(' STRING ')')? PIM? LOC? ANNOT* REQ?
 * RESULT := %N ':' TYPE META
 */
static void parse_node(Parser *p)
{
    Tok res[IR_MAX_RESULTS];
    DType dt[IR_MAX_RESULTS];
    Shape declared[IR_MAX_RESULTS];
    ValueMeta meta[IR_MAX_RESULTS];
    int nres = 0;
    do {
        Tok t = p->tok;
        if (nres == IR_MAX_RESULTS)
            error_at(p, t.line, t.col, "a node has at most %d results", IR_MAX_RESULTS);
        if (!t.numbered || t.i != p->nresults + nres)
            error_at(p, t.line, t.col, "expected %%%d here (results are numbered in order), found %s",
                     p->nresults + nres, describe(p, &t));
        res[nres] = t;
        next(p);
        expect(p, ':');
        parse_type(p, &dt[nres], &declared[nres]);
        meta[nres] = parse_value_meta(p, false);
        nres++;
    } while (accept(p, ','));
    expect(p, '=');
    Tok optok = p->tok;
    if (optok.kind != T_IDENT)
        expected(p, "an operator name");
    OpKind op = op_lookup(optok.s);
    if (op == OP__COUNT)
        error_at(p, optok.line, optok.col, "unknown operator '%s'", optok.s);
    next(p);

    IrValue **in = NULL;
    int nin = 0, cap_in = 0;
    expect(p, '(');
    if (!is_punct(p, ')')) {
        do
            VEC_PUSH(p->scratch, in, nin, cap_in, parse_ref(p));
        while (accept(p, ','));
    }
    expect(p, ')');

    IrAttr *attr = NULL;
    int nattr = 0, cap_attr = 0;
    if (accept(p, '{')) {
        if (!is_punct(p, '}')) {
            do {
                IrAttr a;
                parse_attr(p, &a, true);
                VEC_PUSH(p->scratch, attr, nattr, cap_attr, a);
            } while (accept(p, ','));
        }
        expect(p, '}');
    }
    const char *name = parse_string_clause_opt(p, "name", "an instance name string");
    IrPlacement *placement = parse_placement_opt(p);
    Loc loc = parse_loc_opt(p);

    IrAnnot *annot = NULL;
    int nannot = 0, cap_annot = 0;
    while (is_punct(p, '@'))
        VEC_PUSH(p->scratch, annot, nannot, cap_annot, parse_annot(p));
    IrRequests *req = parse_requests_opt(p);

    char err[512];
    IrNode *n = ir_add_node(p->g, op, name, nin, in, nattr, attr, loc, err, sizeof err);
    if (!n)
        error_at(p, optok.line, optok.col, "%s", err);
    if (n->nout != nres)
        error_at(p, res[0].line, res[0].col, "%s has %d result%s, %d declared", optok.s, n->nout,
                 n->nout == 1 ? "" : "s", nres);
    for (int r = 0; r < nres; r++) {
        const IrValue *v = n->outs[r];
        if (!shape_equal(&v->shape, &declared[r]) || v->dtype != dt[r]) {
            char a[200], b[200];
            error_at(p, res[r].line, res[r].col, "%%%d is declared %s%s but %s gives %s%s",
                     p->nresults + r, dtype_name(dt[r]), shape_str(&declared[r], a, sizeof a),
                     optok.s, dtype_name(v->dtype), shape_str(&v->shape, b, sizeof b));
        }
        attach_meta(p, n->outs[r], &meta[r], &res[r]);
        VEC_PUSH(p->scratch, p->results, p->nresults, p->cap_results, n->outs[r]);
    }
    n->placement = placement;
    for (int i = 0; i < nannot; i++)
        ir_node_add_annot(p->g, n, &annot[i]);
    if (req) {
        n->req = arena_alloc(p->g->arena, sizeof *n->req);
        *n->req = *req;
    }
}

/* OUTPUT := 'output' NAME '=' REF */
static void parse_output(Parser *p)
{
    next(p);
    const char *name = parse_name(p, "an output name");
    expect(p, '=');
    ir_add_output(p->g, name, parse_ref(p));
}

/* GRAPH := 'graph' NAME '{' (INPUT | PARAM | NODE | OUTPUT)* '}' EOF */
static void parse_graph(Parser *p)
{
    next(p);
    if (!is_word(p, "graph"))
        expected(p, "'graph'");
    next(p);
    const char *name = parse_name(p, "a graph name");
    p->g = ir_graph_new(name);
    expect(p, '{');
    for (;;) {
        if (is_word(p, "input"))
            parse_decl(p, false);
        else if (is_word(p, "param"))
            parse_decl(p, true);
        else if (is_word(p, "output"))
            parse_output(p);
        else if (p->tok.kind == T_VALUE)
            parse_node(p);
        else if (accept(p, '}'))
            break;
        else
            expected(p, "'input', 'param', a node, 'output' or '}'");
    }
    if (p->tok.kind != T_EOF)
        expected(p, "end of input after the graph");
    resolve_meta(p);
}

IrGraph *ir_parse(const char *path, const char *text, size_t len, Diag *d)
{
    /* On the heap: the parser state changes between setjmp and longjmp. */
    Parser *p = xcalloc(1, sizeof *p);
    p->path = path ? path : "<ir>";
    p->src = text ? text : "";
    p->len = text ? len : 0;
    p->line = p->col = 1;
    p->d = d;
    p->scratch = arena_new();
    p->values = strmap_new();
    p->files = strmap_new();
    IrGraph *g = NULL;
    if (setjmp(p->fail) == 0) {
        parse_graph(p);
        g = p->g;
    } else {
        ir_graph_free(p->g);
    }
    strmap_free(p->values);
    strmap_free(p->files);
    arena_free(p->scratch);
    free(p);
    return g;
}
