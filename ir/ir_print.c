/*
 * ir_print.c — the textual IR, written so that ir_parse reads it back to the
 * same graph and printing that graph gives the same text again.
 *
 *   graph resnet18 {
 *     input %image : f32[1, 3, 224, 224] loc("resnet18.net":5:5)
 *     param %conv1.weight : f32[64, 3, 7, 7] loc("resnet18.net":7:5)
 *     param %cls_token : f32[1, 1, 768] init("zeros")
 *     %0 : f32[1, 64, 112, 112] = conv2d(%image, %conv1.weight) {out_channels = 64, ...}
 *         name("conv1") loc("resnet18.net":7:5) @precision(4) loc("resnet18.net":6:5)
 *     output logits = %42
 *   }
 *
 * (each node is one line; a node with several results lists them,
 * "%5 : f32[1, 5], %6 : i64[1, 5] = topk(...)".)
 *
 * Metadata a pass attached follows the type it describes (and a param's
 * init), before its loc: an input, param or node result may carry
 *
 *     quant(bits = 4, signed = true, axis = 0, pow2 = true,
 *           scale = %conv1.weight.scale, zero_point = %conv1.weight.zp)
 *
 * and a param (a weight) also one of
 *
 *     sparsity(kind = "element", mask = %w.mask)
 *     sparsity(kind = "nm", n = 2, m = 4, mask = %w.mask)
 *     sparsity(kind = "channel", axis = 0, mask = %w.mask)
 *     sparsity(kind = "block", block = [4, 8], mask = %w.mask)
 *
 * A node result's clauses sit between its type and the ',' or '=' that
 * ends it ("%3 : f32[1, 8] quant(...) = relu(%2)"), so each result of a
 * multi-result node has its own. A node placed on a PIM accelerator has
 * "pim(tile = 0, crossbar = 3, crossbars = 2, replicas = 1)" after its
 * name(...), before its loc. Quant fields at their defaults (axis = -1: per
 * tensor; pow2 = false; no zero_point: symmetric) are left out; every other
 * field is always written, in the order shown. The %names are parameters
 * (scales f32, zero points i32, masks u8 or bool), which may be declared
 * anywhere in the graph, before or after the value naming them: passes add
 * them after the weights they describe, and the parser resolves the names
 * once it has read every declaration.
 *
 * Inputs and parameters are
 * named by their name and state_dict key, node results by their position in
 * the list of all results, so the text does not depend on value ids. Everything a pass may rely on is kept:
 * dtypes, full shapes, attributes in their stored kinds, instance names,
 * annotations with positional (key-less) and keyword arguments, parameter
 * init and source locations (a `loc` right after an annotation is the
 * annotation's own). Bound weight data is not part of the text.
 *
 * An annotation inherited from an enclosing block, call, seq, loop or the
 * net ends with the word `inherited`; one written on the node's own
 * statement has no marker. What passes/annotations.c made of them, the
 * node's typed requests, closes the line as `req( @prune(ratio = 0.5,
 * granularity = "channel") @precision(weight = 4, act = 4) )`: the known
 * annotations again, with every default written out (ir_req.c).
 *
 * Lexical choices made for the round trip: floats always carry a '.', an
 * exponent, "inf" or "nan" and use the shortest digits that strtod reads back
 * to the identical double; names that are not plain words are quoted.
 */
#include "ir.h"
#include "ir_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ir_text_put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '\r': fputs("\\r", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\x%02x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

bool ir_text_is_ident(const char *s)
{
    if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    for (s++; *s; s++)
        if (!ir_text_is_word_char(*s) || *s == '.')
            return false;
    return true;
}

bool ir_text_is_word_char(int c)
{
    return c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* A value name can go bare after '%' when it is made of word characters and
 * is not all digits (which would read as a node number). */
static bool bare_value_name(const char *s)
{
    bool digits_only = true;
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        if (!ir_text_is_word_char((unsigned char)*p))
            return false;
        if (*p < '0' || *p > '9')
            digits_only = false;
    }
    return !digits_only;
}

static void put_name(FILE *out, const char *s)
{
    if (ir_text_is_ident(s))
        fputs(s, out);
    else
        ir_text_put_string(out, s ? s : "");
}

char *ir_text_format_double(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return buf;
    }
    if (isinf(v)) {
        snprintf(buf, size, v < 0 ? "-inf" : "inf");
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* Mark it as a float so the parser does not read an int. */
    if (!strpbrk(buf, ".e")) {
        size_t l = strlen(buf);
        if (l + 3 <= size)
            memcpy(buf + l, ".0", 3);
    }
    return buf;
}

static void put_value(FILE *out, const IrAttr *a)
{
    char buf[48];
    switch (a->kind) {
    case AK_INT: fprintf(out, "%lld", (long long)a->i); break;
    case AK_BOOL: fputs(a->i ? "true" : "false", out); break;
    case AK_FLOAT: fputs(ir_text_format_double(a->f, buf, sizeof buf), out); break;
    case AK_STRING: ir_text_put_string(out, a->s ? a->s : ""); break;
    case AK_INTS:
        fputc('[', out);
        for (int i = 0; i < a->n; i++)
            fprintf(out, "%s%lld", i ? ", " : "", (long long)a->ints[i]);
        fputc(']', out);
        break;
    }
}

static void put_attr(FILE *out, const IrAttr *a)
{
    if (a->key) {
        put_name(out, a->key);
        fputs(" = ", out);
    }
    put_value(out, a);
}

/* Node attributes or annotation arguments, comma-separated between open
 * and close; nothing at all when there are none. */
static void put_attr_list(FILE *out, const char *open, char close, const IrAttr *a, int n)
{
    if (n <= 0)
        return;
    fputs(open, out);
    for (int k = 0; k < n; k++) {
        if (k)
            fputs(", ", out);
        put_attr(out, &a[k]);
    }
    fputc(close, out);
}

static void put_type(FILE *out, DType dt, const Shape *s)
{
    char buf[200];
    fprintf(out, "%s%s", dtype_name(dt), shape_str(s, buf, sizeof buf));
}

static void put_loc(FILE *out, Loc loc)
{
    if (!loc.file)
        return;
    fputs(" loc(", out);
    ir_text_put_string(out, loc.file);
    if (loc.line > 0) {
        fprintf(out, ":%d:%d", loc.line, loc.col);
        if (loc.len > 1)
            fprintf(out, ":%d", loc.len);
    }
    fputc(')', out);
}

/* ANNOT := '@' NAME ('(' ATTR, ... ')')? LOC? 'inherited'? */
static void put_annot(FILE *out, const IrAnnot *a)
{
    fputs(" @", out);
    put_name(out, a->name);
    put_attr_list(out, "(", ')', a->args, a->nargs);
    put_loc(out, a->loc);
    if (a->inherited)
        fputs(" inherited", out);
}

/* REQ := 'req' '(' ANNOT+ ')': the typed requests with defaults written out. */
static void put_requests(FILE *out, const IrRequests *r)
{
    Arena *arena = arena_new();
    IrAnnot a[8];
    int n = ir_req_to_annots(arena, r, a);
    fputs(" req(", out);
    for (int k = 0; k < n; k++)
        put_annot(out, &a[k]);
    fputs(" )", out);
    arena_free(arena);
}

/* Node results are numbered by position; index maps a value id to it. */
static void put_ref(FILE *out, const IrValue *v, const int *index, int nids)
{
    if (!v) {
        fputs("%?", out);
    } else if (v->kind != VK_NODE) {
        fputc('%', out);
        if (v->name && bare_value_name(v->name))
            fputs(v->name, out);
        else
            ir_text_put_string(out, v->name ? v->name : "");
    } else if (v->id >= 0 && v->id < nids && index[v->id] >= 0) {
        fprintf(out, "%%%d", index[v->id]);
    } else {
        fputs("%?", out); /* a result of a node not in the graph: unparseable */
    }
}

/* "  input %x : f32[...]" or "  param ...": a graph input or parameter up to
 * its optional clauses. */
static void put_decl(FILE *out, const char *keyword, const IrValue *v, const int *index, int nids)
{
    fprintf(out, "  %s ", keyword);
    put_ref(out, v, index, nids);
    fputs(" : ", out);
    put_type(out, v->dtype, &v->shape);
}

/* " kw("string")", or nothing when s is NULL: init(...) and name(...). */
static void put_string_clause(FILE *out, const char *kw, const char *s)
{
    if (!s)
        return;
    fprintf(out, " %s(", kw);
    ir_text_put_string(out, s);
    fputc(')', out);
}

/* "(" before a clause's first field, ", " between fields, then "key = ". */
static void put_field(FILE *out, bool *first, const char *key)
{
    fputs(*first ? "(" : ", ", out);
    fprintf(out, "%s = ", key);
    *first = false;
}

/* A value's quant(...) and sparsity(...) clauses, each only when present. */
static void put_value_meta(FILE *out, const IrValue *v, const int *index, int nids)
{
    bool first = true;
    const IrQuant *q = v->quant;
    if (q) {
        fputs(" quant", out);
        put_field(out, &first, "bits");
        fprintf(out, "%d", q->bits);
        put_field(out, &first, "signed");
        fputs(q->is_signed ? "true" : "false", out);
        if (q->axis != -1) {
            put_field(out, &first, "axis");
            fprintf(out, "%d", q->axis);
        }
        if (q->pow2) {
            put_field(out, &first, "pow2");
            fputs("true", out);
        }
        put_field(out, &first, "scale");
        put_ref(out, q->scale, index, nids);
        if (q->zero_point) {
            put_field(out, &first, "zero_point");
            put_ref(out, q->zero_point, index, nids);
        }
        fputc(')', out);
    }
    const IrSparsity *sp = v->sparsity;
    if (sp) {
        first = true;
        fputs(" sparsity", out);
        put_field(out, &first, "kind");
        ir_text_put_string(out, ir_sparsity_name(sp->kind));
        if (sp->kind == SP_NM) {
            put_field(out, &first, "n");
            fprintf(out, "%d", sp->n);
            put_field(out, &first, "m");
            fprintf(out, "%d", sp->m);
        } else if (sp->kind == SP_CHANNEL) {
            put_field(out, &first, "axis");
            fprintf(out, "%d", sp->axis);
        } else if (sp->kind == SP_BLOCK) {
            put_field(out, &first, "block");
            fprintf(out, "[%d, %d]", sp->block[0], sp->block[1]);
        }
        put_field(out, &first, "mask");
        put_ref(out, sp->mask, index, nids);
        fputc(')', out);
    }
}

static void put_placement(FILE *out, const IrPlacement *pl)
{
    if (pl)
        fprintf(out, " pim(tile = %d, crossbar = %d, crossbars = %d, replicas = %d)", pl->tile,
                pl->crossbar, pl->crossbars, pl->replicas);
}

void ir_print(const IrGraph *g, FILE *out)
{
    int nids = g->next_value_id > 0 ? g->next_value_id : 1;
    int *index = xmalloc((size_t)nids * sizeof *index);
    for (int i = 0; i < nids; i++)
        index[i] = -1;
    /* Node results are numbered in order: a node's results take the next
     * numbers, so for single-result ops %N is node N. */
    int nresults = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int r = 0; r < g->nodes[i]->nout; r++) {
            const IrValue *v = g->nodes[i]->outs[r];
            if (v && v->id >= 0 && v->id < nids)
                index[v->id] = nresults;
            nresults++;
        }

    fputs("graph ", out);
    put_name(out, g->name);
    fputs(" {\n", out);
    for (int i = 0; i < g->ninputs; i++) {
        const IrValue *v = g->inputs[i];
        put_decl(out, "input", v, index, nids);
        put_value_meta(out, v, index, nids);
        put_loc(out, v->loc);
        fputc('\n', out);
    }
    for (int i = 0; i < g->nparams; i++) {
        const IrValue *v = g->params[i];
        put_decl(out, "param", v, index, nids);
        put_string_clause(out, "init", v->init);
        put_value_meta(out, v, index, nids);
        put_loc(out, v->loc);
        fputc('\n', out);
    }
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        fputs("  ", out);
        for (int r = 0; r < n->nout; r++) {
            fputs(r ? ", " : "", out);
            put_ref(out, n->outs[r], index, nids);
            fputs(" : ", out);
            put_type(out, n->outs[r]->dtype, &n->outs[r]->shape);
            put_value_meta(out, n->outs[r], index, nids);
        }
        fprintf(out, " = %s(", op_info(n->op)->name);
        for (int k = 0; k < n->nin; k++) {
            if (k)
                fputs(", ", out);
            put_ref(out, n->in[k], index, nids);
        }
        fputc(')', out);
        put_attr_list(out, " {", '}', n->attr, n->nattr);
        put_string_clause(out, "name", n->name);
        put_placement(out, n->placement);
        put_loc(out, n->loc);
        for (int k = 0; k < n->nannot; k++)
            put_annot(out, &n->annot[k]);
        if (n->req)
            put_requests(out, n->req);
        fputc('\n', out);
    }
    for (int i = 0; i < g->noutputs; i++) {
        fputs("  output ", out);
        put_name(out, g->outputs[i].name);
        fputs(" = ", out);
        put_ref(out, g->outputs[i].value, index, nids);
        fputc('\n', out);
    }
    fputs("}\n", out);
    free(index);
}
