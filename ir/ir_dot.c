/*
 * ir_dot.c — the graph as Graphviz `digraph`, for looking at a network.
 *
 * One box per node labelled op, instance name and output type; inputs are
 * green "invhouse" shapes, outputs blue "house" shapes, so data flows from
 * the top of the page to the bottom. Parameters are not drawn as nodes —
 * a ResNet-50 has ~160 of them and they would drown the structure — but
 * listed compactly (key suffix and shape, equal shapes sharing a line) in
 * the label of the node using them. Metadata shows as one short line of
 * words: "w4" (weights quantized to 4 bits), "a8" (the result), the weight
 * sparsity ("nm2:4", "sparse", "chan", "blk4x8") and the PIM placement
 * ("pim t0 c3..4", " r2" with replicas). Labels are escaped for DOT
 * double-quoted strings.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

/* Writes s escaped for a DOT "..." string ('"' and '\' escaped, newlines as
 * \n, other control bytes dropped). */
static void dot_escaped(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", out);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, out);
    }
}

static void dot_type(FILE *out, const IrValue *v)
{
    char buf[200];
    fprintf(out, "%s%s", dtype_name(v->dtype), shape_str(&v->shape, buf, sizeof buf));
}

/* The DOT id of the value's producer, in<i> or n<i> by position (pos maps
 * value ids to positions); parameters have none. */
static bool dot_source(const IrValue *v, const int *pos, int nids, char *buf, size_t size)
{
    if (!v || v->kind == VK_PARAM || v->id < 0 || v->id >= nids || pos[v->id] < 0)
        return false;
    snprintf(buf, size, "%s%d", v->kind == VK_INPUT ? "in" : "n", pos[v->id]);
    return true;
}

/* "conv1.weight" used by node "conv1" shows as "weight". */
static const char *param_label(const IrNode *n, const IrValue *p)
{
    size_t l = n->name ? strlen(n->name) : 0;
    if (l && strncmp(p->name, n->name, l) == 0 && p->name[l] == '.')
        return p->name + l + 1;
    return p->name;
}

/* One word of the metadata line: a label line break before the first, a
 * space between the others. */
static void dot_word(FILE *out, bool *first, const char *fmt, int a, int b)
{
    fputs(*first ? "\\n" : " ", out);
    fprintf(out, fmt, a, b);
    *first = false;
}

/* The metadata line of n's label (nothing when n has none). */
static void dot_meta(FILE *out, const IrNode *n)
{
    bool first = true;
    for (int k = 0; k < n->nin; k++) {
        const IrValue *p = n->in[k];
        if (p->kind != VK_PARAM)
            continue;
        if (p->quant)
            dot_word(out, &first, "w%d", p->quant->bits, 0);
        const IrSparsity *sp = p->sparsity;
        if (sp && sp->kind == SP_NM)
            dot_word(out, &first, "nm%d:%d", sp->n, sp->m);
        else if (sp && sp->kind == SP_BLOCK)
            dot_word(out, &first, "blk%dx%d", sp->block[0], sp->block[1]);
        else if (sp)
            dot_word(out, &first, sp->kind == SP_CHANNEL ? "chan" : "sparse", 0, 0);
    }
    for (int r = 0; r < n->nout; r++)
        if (n->outs[r]->quant)
            dot_word(out, &first, "a%d", n->outs[r]->quant->bits, 0);
    const IrPlacement *pl = n->placement;
    if (pl) {
        dot_word(out, &first, "pim t%d c%d", pl->tile, pl->crossbar);
        if (pl->crossbars > 1)
            fprintf(out, "..%d", pl->crossbar + pl->crossbars - 1);
        if (pl->replicas > 1)
            fprintf(out, " r%d", pl->replicas);
    }
}

void ir_print_dot(const IrGraph *g, FILE *out)
{
    int nids = g->next_value_id > 0 ? g->next_value_id : 1;
    int *pos = xmalloc((size_t)nids * sizeof *pos);
    for (int i = 0; i < nids; i++)
        pos[i] = -1;
    for (int i = 0; i < g->ninputs; i++)
        pos[g->inputs[i]->id] = i;
    for (int i = 0; i < g->nnodes; i++)
        pos[g->nodes[i]->out->id] = i;

    fputs("digraph \"", out);
    dot_escaped(out, g->name);
    fputs("\" {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", "
          "fillcolor=white, fontname=\"Helvetica\", fontsize=10];\n",
          out);
    for (int i = 0; i < g->ninputs; i++) {
        const IrValue *v = g->inputs[i];
        fprintf(out, "  in%d [shape=invhouse, fillcolor=\"#d9f2d9\", label=\"input ", i);
        dot_escaped(out, v->name);
        fputs("\\n", out);
        dot_type(out, v);
        fputs("\"];\n", out);
    }
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        char src[32];
        fprintf(out, "  n%d [label=\"%s", i, op_info(n->op)->name);
        if (n->name) {
            fputc(' ', out);
            dot_escaped(out, n->name);
        }
        fputs("\\n", out);
        dot_type(out, n->out);
        /* one line per run of parameters with equal shapes: batchnorm's four
         * become "weight, bias, running_mean, running_var [64]" */
        const IrValue *run = NULL;
        for (int k = 0; k <= n->nin; k++) {
            const IrValue *p = k < n->nin ? n->in[k] : NULL;
            if (p && p->kind != VK_PARAM)
                continue;
            char buf[200];
            if (run && (!p || !shape_equal(&p->shape, &run->shape)))
                fprintf(out, " %s", shape_str(&run->shape, buf, sizeof buf));
            if (!p)
                break;
            fputs(run && shape_equal(&p->shape, &run->shape) ? ", " : "\\n", out);
            dot_escaped(out, param_label(n, p));
            run = p;
        }
        dot_meta(out, n);
        for (int k = 0; k < n->nannot; k++) {
            fputs("\\n@", out);
            dot_escaped(out, n->annot[k].name);
        }
        fputs("\"];\n", out);
        for (int k = 0; k < n->nin; k++)
            if (dot_source(n->in[k], pos, nids, src, sizeof src))
                fprintf(out, "  %s -> n%d;\n", src, i);
    }
    for (int i = 0; i < g->noutputs; i++) {
        const IrOutput *o = &g->outputs[i];
        char src[32];
        fprintf(out, "  out%d [shape=house, fillcolor=\"#d9e6f2\", label=\"output ", i);
        dot_escaped(out, o->name);
        fputs("\"];\n", out);
        if (dot_source(o->value, pos, nids, src, sizeof src))
            fprintf(out, "  %s -> out%d;\n", src, i);
    }
    fputs("}\n", out);
    free(pos);
}
