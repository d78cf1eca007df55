/*
 * ir_test_util.h — shared by the IR unit tests: compact shapes, node
 * attributes written as text with the op's defaults filled in the way the
 * elaborator fills them, and nodes added from such text. Static inline, so
 * a test that does not use a helper gets no warning for it. Include after
 * cmocka.h and ir.h.
 */
#ifndef NETC_IR_TEST_UTIL_H
#define NETC_IR_TEST_UTIL_H

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

#endif
