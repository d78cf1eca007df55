/*
 * quant_report.c — what the quantize pass chose, per layer and in total
 * against the budget: a table (--quant-report prints it to stderr) and the
 * same facts as JSON (written atomically to the --quant-report file), with
 * every activation point's range and parameters, which is what a PyTorch
 * re-implementation needs to fake-quantize the same places with the same
 * scales (tools/quant_check.py).
 *
 * Sizes: weights at n·b/8 bytes plus 4 bytes per scale; every other
 * parameter at its own dtype; the float model at 4 bytes per weight.
 */
#include "quant_internal.h"

#include "../support/fileio.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Totals {
    double weights, params, bytes, float_bytes, bops, float_bops, bits_sum;
} Totals;

static Totals totals(const QuantPlan *p)
{
    Totals t = {0};
    for (int i = 0; i < p->nlayers; i++) {
        const QuantLayer *l = &p->layers[i];
        t.weights += (double)l->nparams;
        t.bits_sum += (double)l->nparams * l->bits;
        t.bytes += quant_layer_bytes(l, l->bits);
        t.float_bytes += (double)l->nparams * 4;
        t.bops += quant_layer_bops(l, l->bits);
        t.float_bops += (double)l->macs * 32 * 32;
    }
    t.bytes += (double)p->float_param_bytes;
    t.float_bytes += (double)p->float_param_bytes;
    return t;
}

static const char *budget_kind_name(QuantBudgetKind k)
{
    return k == QUANT_BUDGET_MIB        ? "size_mib"
           : k == QUANT_BUDGET_AVG_BITS ? "average_bits"
           : k == QUANT_BUDGET_BOPS     ? "bops"
                                        : "none";
}

static void print_table(const QuantPlan *p, FILE *out)
{
    Totals t = totals(p);
    fprintf(out, "quantize: %d layers, %d activation points\n", p->nlayers, p->npoints);
    fprintf(out, "  %-32s %-6s %10s %4s %4s %12s %14s %12s\n", "layer", "op", "weights", "W",
            "A", "bytes", "GBOPs", "sensitivity");
    for (int i = 0; i < p->nlayers; i++) {
        const QuantLayer *l = &p->layers[i];
        char sens[32] = "-";
        if (l->sens[l->bits] >= 0)
            snprintf(sens, sizeof sens, "%.4g", l->sens[l->bits]);
        char act[8] = "f32";
        if (l->act_bits)
            snprintf(act, sizeof act, "%d", l->act_bits);
        fprintf(out, "  %-32s %-6s %10lld %4d %4s %12.0f %14.6f %12s%s\n",
                l->node->name ? l->node->name : "?", op_info(l->node->op)->name,
                (long long)l->nparams, l->bits, act, quant_layer_bytes(l, l->bits),
                quant_layer_bops(l, l->bits) / 1e9, sens, l->pinned ? "  pinned" : "");
    }
    fprintf(out, "  model size %.0f bytes (%.4f MiB; f32 %.4f MiB, %.2fx smaller), average %.3f "
                 "weight bits, %.6g GBOPs (f32 %.6g)\n",
            t.bytes, t.bytes / 1048576.0, t.float_bytes / 1048576.0,
            t.bytes > 0 ? t.float_bytes / t.bytes : 0, t.weights ? t.bits_sum / t.weights : 0,
            t.bops / 1e9, t.float_bops / 1e9);
    if (p->env->budget_kind != QUANT_BUDGET_NONE)
        fprintf(out, "  budget %s (%s)\n", p->env->budget_text ? p->env->budget_text : "?",
                budget_kind_name(p->env->budget_kind));
}

static json_t *layer_json(const QuantLayer *l)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(l->node->name ? l->node->name : ""));
    json_object_set_new(o, "op", json_string(op_info(l->node->op)->name));
    json_object_set_new(o, "weights", json_integer(l->nparams));
    json_object_set_new(o, "bits", json_integer(l->bits));
    json_object_set_new(o, "act_bits", json_integer(l->act_bits));
    json_object_set_new(o, "pinned", json_boolean(l->pinned));
    json_object_set_new(o, "bytes", json_real(quant_layer_bytes(l, l->bits)));
    json_object_set_new(o, "macs", json_integer(l->macs));
    json_object_set_new(o, "bops", json_real(quant_layer_bops(l, l->bits)));
    json_t *sens = json_object();
    for (int b = 0; b <= IR_QUANT_MAX_BITS; b++)
        if (l->sens[b] >= 0) {
            char key[8];
            snprintf(key, sizeof key, "%d", b);
            json_object_set_new(sens, key, json_real(l->sens[b]));
        }
    json_object_set_new(o, "sensitivity", sens);
    json_t *w = json_array();
    for (int k = 0; k < l->nweights; k++)
        json_array_append_new(w, json_string(l->weights[k]->name));
    json_object_set_new(o, "parameters", w);
    return o;
}

static json_t *point_json(const QuantPoint *q)
{
    json_t *o = json_object();
    const IrValue *v = q->value;
    json_object_set_new(o, "value", json_string(v->kind == VK_INPUT ? v->name
                                                : v->def->name    ? v->def->name
                                                                  : op_info(v->def->op)->name));
    json_object_set_new(o, "kind", json_string(v->kind == VK_INPUT ? "input" : "result"));
    json_object_set_new(o, "all_uses", json_boolean(q->all_uses));
    json_t *readers = json_array();
    for (int r = 0; r < q->nreaders; r++)
        json_array_append_new(readers, json_string(q->readers[r]->name ? q->readers[r]->name : ""));
    json_object_set_new(o, "readers", readers);
    json_object_set_new(o, "bits", json_integer(q->bits));
    json_object_set_new(o, "min", json_real(q->min <= q->max ? q->min : 0));
    json_object_set_new(o, "max", json_real(q->min <= q->max ? q->max : 0));
    json_object_set_new(o, "lo", json_real(q->lo));
    json_object_set_new(o, "hi", json_real(q->hi));
    json_object_set_new(o, "scale", json_real(q->params.scale));
    json_object_set_new(o, "zero_point", json_integer(q->params.zero_point));
    json_object_set_new(o, "scale_param", json_string(q->scale ? q->scale->name : ""));
    json_object_set_new(o, "zero_point_param", json_string(q->zero_point ? q->zero_point->name : ""));
    return o;
}

static bool write_json(const QuantPlan *p, const char *path)
{
    Totals t = totals(p);
    json_t *root = json_object();
    json_t *layers = json_array(), *points = json_array();
    for (int i = 0; i < p->nlayers; i++)
        json_array_append_new(layers, layer_json(&p->layers[i]));
    for (int i = 0; i < p->npoints; i++)
        json_array_append_new(points, point_json(&p->points[i]));
    json_object_set_new(root, "layers", layers);
    json_object_set_new(root, "activations", points);
    json_t *tot = json_object();
    json_object_set_new(tot, "bytes", json_real(t.bytes));
    json_object_set_new(tot, "mib", json_real(t.bytes / 1048576.0));
    json_object_set_new(tot, "float_bytes", json_real(t.float_bytes));
    json_object_set_new(tot, "other_param_bytes", json_integer(p->float_param_bytes));
    json_object_set_new(tot, "average_bits", json_real(t.weights ? t.bits_sum / t.weights : 0));
    json_object_set_new(tot, "bops", json_real(t.bops));
    json_object_set_new(tot, "float_bops", json_real(t.float_bops));
    json_object_set_new(root, "totals", tot);
    json_t *budget = json_object();
    json_object_set_new(budget, "kind", json_string(budget_kind_name(p->env->budget_kind)));
    json_object_set_new(budget, "value", json_real(p->env->budget));
    json_object_set_new(budget, "text", json_string(p->env->budget_text ? p->env->budget_text : ""));
    json_object_set_new(root, "budget", budget);
    json_object_set_new(root, "per_channel", json_boolean(p->per_channel));
    json_object_set_new(root, "percentile",
                        json_real(p->percentile_bp >= 10000 ? 100.0 : p->percentile_bp / 100.0));
    json_object_set_new(root, "pow2", json_boolean(p->pow2));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text)
        return diag_error(p->d, loc_none(), "quantize: cannot format the report"), false;
    bool ok = fio_write_file(path, text, strlen(text), p->d);
    free(text);
    return ok;
}

bool quant_report(const QuantPlan *p)
{
    if (p->env->report_to)
        print_table(p, p->env->report_to);
    return !p->env->quant_report || write_json(p, p->env->quant_report);
}
