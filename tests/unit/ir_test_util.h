/*
 * ir_test_util.h — shared by the IR unit tests: compact shapes, node
 * attributes written as text with the op's defaults filled in the way the
 * elaborator fills them, nodes added from such text, and the text form's
 * harness (print, parse with captured messages, round trip, quiet verify).
 * Static inline, so a test that does not use a helper gets no warning for
 * it. Include after cmocka.h and ir.h.
 */
#ifndef NETC_IR_TEST_UTIL_H
#define NETC_IR_TEST_UTIL_H

#include "test_util.h"

#include <stdlib.h>
#include <string.h>

/* SH(rank, dims...): SH(2, 3, 4) is [3, 4], SH(0) is a scalar. */
static inline Shape shape_of(const int64_t *v) { return shape_make((int)v[0], v + 1); }
#define SH(...) shape_of((const int64_t[]){__VA_ARGS__})

/* Parses one attribute value as the spec kind t: "3", "[1, 2]", "true", "0.5". */
static inline IrAttr value_of(Arena *arena, const char *key, AttrType t, const char *text)
{
    IrAttr a = {.key = key};
    switch (t) {
    case ATK_INT: a.kind = AK_INT, a.i = strtoll(text, NULL, 10); break;
    case ATK_FLOAT: a.kind = AK_FLOAT, a.f = strtod(text, NULL); break;
    case ATK_BOOL: a.kind = AK_BOOL, a.i = strcmp(text, "true") == 0; break;
    case ATK_STRING: a.kind = AK_STRING, a.s = text; break;
    case ATK_INT2:
    case ATK_INTS: {
        a.kind = AK_INTS;
        a.ints = arena_alloc(arena, 16 * sizeof *a.ints);
        const char *p = text + (*text == '[');
        while (*p && *p != ']' && a.n < 16) {
            char *end;
            a.ints[a.n++] = strtoll(p, &end, 10);
            p = end;
            while (*p == ',' || *p == ' ')
                p++;
        }
        if (t == ATK_INT2 && a.n == 1)
            a.ints[a.n++] = a.ints[0];
        break;
    }
    }
    return a;
}

/*
 * Attributes for op from "key=value key=value" (lists without spaces), the
 * rest from the spec defaults, in spec order — what the elaborator does.
 * Strings and lists are allocated in arena.
 */
static inline int make_attrs(Arena *arena, OpKind op, const char *text, IrAttr *out)
{
    int ns;
    const AttrSpec *spec = op_attr_specs(op, &ns);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text ? text : "");
    const char *given[16] = {0};
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        int k = 0;
        while (k < ns && strcmp(spec[k].name, tok) != 0)
            k++;
        assert_true(k < ns);
        given[k] = arena_strdup(arena, eq + 1);
    }
    for (int k = 0; k < ns; k++) {
        const char *v = given[k] ? given[k] : spec[k].dflt;
        assert_non_null(v); /* a required attribute the test forgot */
        int j = 0;
        while (j < k && strcmp(spec[j].name, v) != 0)
            j++;
        if (j < k) /* a default naming another attribute (stride=kernel_size) */
            out[k] = out[j], out[k].key = spec[k].name;
        else
            out[k] = value_of(arena, spec[k].name, spec[k].type, v);
    }
    return ns;
}

/* Adds a node with attributes from text (see make_attrs); fails the test
 * when ir_add_node refuses it. */
static inline IrNode *add_node(IrGraph *g, OpKind op, const char *name, const char *attrs,
                               int nin, IrValue **in, Loc loc)
{
    IrAttr a[16];
    char err[512];
    int na = make_attrs(g->arena, op, attrs, a);
    IrNode *n = ir_add_node(g, op, name, nin, in, na, a, loc, err, sizeof err);
    if (!n)
        fail_msg("%s %s (attributes '%s'): %s", op_info(op)->name, name ? name : "(unnamed)",
                 attrs ? attrs : "", err);
    return n;
}

/* ---- the text form and the verifier ---- */

static inline char *print_text(const IrGraph *g, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    ir_print(g, f);
    fclose(f);
    if (len)
        *len = n;
    return text;
}

typedef struct Parsed {
    IrGraph *g;
    char *messages;
    int errors;
} Parsed;

static inline Parsed parse_text(const char *text, size_t len)
{
    Parsed r = {0};
    Captured c;
    cap_open(&c);
    r.g = ir_parse("t.ir", text, len, c.d);
    r.errors = diag_errors(c.d);
    r.messages = cap_finish(&c);
    return r;
}

static inline void parsed_free(Parsed *p)
{
    ir_graph_free(p->g);
    free(p->messages);
}

/* text and the one error its parse must report (a fragment of it). */
typedef struct ParseCase {
    const char *text, *message;
} ParseCase;

/* Each case fails to parse with exactly one error containing its message. */
static inline void check_parse_errors(const ParseCase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Parsed p = parse_text(cases[i].text, strlen(cases[i].text));
        if (p.g)
            fail_msg("case %zu parsed: %s", i, cases[i].text);
        if (p.errors != 1 || !strstr(p.messages, cases[i].message))
            fail_msg("case %zu: %s\n  got: %s  want: %s", i, cases[i].text, p.messages,
                     cases[i].message);
        parsed_free(&p);
    }
}

/* Parses text that must be accepted. */
static inline Parsed parse_ok(const char *text)
{
    Parsed p = parse_text(text, strlen(text));
    if (!p.g)
        fail_msg("%s", p.messages);
    return p;
}

/* print -> parse -> print is the identity; returns the parsed graph. */
static inline IrGraph *round_trip(const IrGraph *g)
{
    size_t len;
    char *t1 = print_text(g, &len);
    Parsed p = parse_text(t1, len);
    if (!p.g)
        fail_msg("parse failed:\n%s\n--- text:\n%s", p.messages, t1);
    assert_int_equal(p.errors, 0);
    char *t2 = print_text(p.g, NULL);
    if (strcmp(t1, t2) != 0)
        fail_msg("texts differ:\n%s\n--- reprinted:\n%s", t1, t2);
    free(t1);
    free(t2);
    free(p.messages);
    return p.g;
}

static inline bool verify_quiet(const IrGraph *g, char **messages)
{
    Captured c;
    cap_open(&c);
    bool ok = ir_verify(g, c.d);
    char *buf = cap_finish(&c);
    if (messages)
        *messages = buf;
    else
        free(buf);
    return ok;
}

static inline void expect_verify_error(IrGraph *g, const char *fragment)
{
    char *msg = NULL;
    if (verify_quiet(g, &msg))
        fail_msg("verifier accepted a graph; wanted '%s'", fragment);
    if (!strstr(msg, fragment))
        fail_msg("verifier said:\n%s\nwanted '%s'", msg, fragment);
    free(msg);
}

/* Every prefix of g's dump is rejected (except those that end in
 * trailing blanks), and mutated dumps never crash; a mutation that still
 * parses must round-trip. */
static inline void check_truncated_and_mutated(const IrGraph *g)
{
    size_t len;
    char *text = print_text(g, &len);
    size_t end = len;
    while (end > 0 && text[end - 1] == '\n')
        end--;
    for (size_t k = 0; k < len; k++) {
        Parsed p = parse_text(text, k);
        if (k < end)
            assert_null(p.g);
        else
            assert_non_null(p.g);
        assert_int_equal(p.errors, p.g ? 0 : 1);
        parsed_free(&p);
    }
    static const char subst[] = {'"', '%', '[', ']', '9', '-', '\0', '}', '{', '@', 'x', '\\', '.', ':', ' '};
    char *copy = malloc(len);
    unsigned seed = 12345;
    int accepted = 0;
    for (size_t k = 0; k < len; k += 1 + (seed = seed * 1103515245 + 12345) % 3) {
        for (size_t s = 0; s < sizeof subst; s++) {
            memcpy(copy, text, len);
            copy[k] = subst[s];
            Parsed p = parse_text(copy, len);
            if (p.g) {
                accepted++;
                IrGraph *h = round_trip(p.g);
                ir_graph_free(h);
            } else {
                assert_non_null(strstr(p.messages, "t.ir:"));
            }
            parsed_free(&p);
        }
    }
    assert_true(accepted > 0); /* some mutations are harmless (a digit in a loc) */
    free(copy);
    free(text);
}

#endif
