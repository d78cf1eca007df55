/*
 * pim_sim.c — a mapped net run with its crossbar layers simulated; see
 * pim_sim.h. The interpreter's kernel hook (rt_interp_run_hooked) hands
 * each qconv2d / qlinear of the program to the crossbar simulator; the
 * integers the interpreter holds as f32 (u8 activations, i8 weights) are
 * converted back exactly, and the layer's accumulators go through the same
 * epilogue as the reference kernel's.
 */
#include "pim_sim.h"

#include "../../runtime/interp.h"
#include "../../runtime/ref_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define FAIL(...) return (snprintf(err, errlen, __VA_ARGS__), false)

typedef struct SimRun {
    const PimProgram *p;
    const PimSimOptions *opt;
    PimSimReport *rep;
    int *layer_of; /* by node id: index into p->layers, or -1 */
    int nids;
} SimRun;

/* f32 values that must be integers in [lo, hi] into a byte array. */
static bool to_bytes(const Tensor *t, int lo, int hi, void *dst, const char *what, const char *layer, char *err,
                     size_t errlen)
{
    const float *v = t->data;
    int64_t n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        float f = v[i];
        if (!(f >= (float)lo && f <= (float)hi) || f != rintf(f))
            FAIL("layer '%s': %s element %lld is %g, not an integer in [%d, %d]", layer, what, (long long)i,
                 (double)f, lo, hi);
        if (lo < 0)
            ((int8_t *)dst)[i] = (int8_t)f;
        else
            ((uint8_t *)dst)[i] = (uint8_t)f;
    }
    return true;
}

static void stats_add(PimSimStats *into, const PimSimStats *s)
{
    into->xbar_evals += s->xbar_evals;
    into->adc_conversions += s->adc_conversions;
    into->adc_clipped += s->adc_clipped;
    if (s->psum_max > into->psum_max)
        into->psum_max = s->psum_max;
    into->exact_checked |= s->exact_checked;
    if (s->max_abs_err > into->max_abs_err)
        into->max_abs_err = s->max_abs_err;
}

/* One crossbar layer: accumulators from the crossbars, then the reference
 * epilogue; optionally the reference kernel beside it for the report. */
static bool run_layer(SimRun *r, int li, const IrNode *n, const Tensor *const *in, Tensor *out, char *err,
                      size_t errlen)
{
    const PimLayer *L = &r->p->layers[li];
    const PimSimOptions *opt = r->opt;
    if (n->op == OP_CONV2D || n->op == OP_LINEAR)
        FAIL("crossbar layer '%s' is not quantized: run the quantize and integerize passes first", L->name);
    if (n->op != OP_QCONV2D && n->op != OP_QLINEAR)
        FAIL("crossbar layer '%s' is a %s, not a qconv2d or qlinear", L->name, op_info(n->op)->name);
    if (!n->in[0]->quant)
        FAIL("crossbar layer '%s': its input has no quant(...) metadata", L->name);
    int64_t nx = tensor_numel(in[0]), nw = tensor_numel(in[1]);
    bool conv = n->op == OP_QCONV2D;
    int64_t want_x = conv ? L->batch * L->cin * in[0]->shape.d[2] * in[0]->shape.d[3] : L->batch * L->pixels * L->cin;
    if (nx != want_x || nw != L->cout * (L->cin / L->groups) * L->kh * L->kw)
        FAIL("crossbar layer '%s': its input or weight does not have the mapped layer's size", L->name);
    uint8_t *x = xmalloc((size_t)nx + 1);
    int8_t *w = xmalloc((size_t)nw + 1);
    int64_t *acc = xmalloc(((size_t)tensor_numel(out) + 1) * sizeof *acc);
    PimXbarOptions xo = {.adc_step = opt && opt->adc_steps ? opt->adc_steps[li] : 0,
                         .check_exact = opt && opt->check_exact};
    PimSimStats st;
    bool ok = to_bytes(in[0], 0, 255, x, "input", L->name, err, errlen) &&
              to_bytes(in[1], -128, 127, w, "weight", L->name, err, errlen) &&
              pim_xbar_layer(&r->p->hw, L, w, x, ir_quant_zero_point(n->in[0]->quant), &xo, acc, &st, err, errlen) &&
              ref_qlayer_epilogue(n, acc, out, err, errlen);
    free(x);
    free(w);
    free(acc);
    if (!ok)
        return false;
    PimLayerReport *lr = r->rep ? &r->rep->layers[li] : NULL;
    if (lr) {
        lr->runs++;
        stats_add(&lr->stats, &st);
        stats_add(&r->rep->total, &st);
    }
    if (lr && opt && opt->check_output) {
        Tensor *ref = tensor_new(DT_F32, &out->shape);
        if (!ref)
            FAIL("crossbar layer '%s': cannot allocate the reference output", L->name);
        if (!ref_kernel_for(n->op).one(n, in, ref, err, errlen)) {
            tensor_free(ref);
            return false;
        }
        const float *a = out->data, *b = ref->data;
        for (int64_t i = 0; i < tensor_numel(out); i++) {
            double e = fabs((double)a[i] - (double)b[i]);
            if (e > lr->out_max_abs_err || isnan(e))
                lr->out_max_abs_err = isnan(e) ? INFINITY : e;
        }
        lr->output_checked = true;
        tensor_free(ref);
    }
    return true;
}

static bool hook(const IrNode *n, const Tensor *const *in, Tensor *const *out, bool *handled, void *ctx, char *err,
                 size_t errlen)
{
    SimRun *r = ctx;
    int li = n->id >= 0 && n->id < r->nids ? r->layer_of[n->id] : -1;
    if (li < 0)
        return true; /* not a crossbar layer: the reference kernel */
    *handled = true;
    return run_layer(r, li, n, in, out[0], err, errlen);
}

bool pim_sim_run(const PimProgram *p, Tensor *const *inputs, Tensor **outputs, const PimSimOptions *opt,
                 PimSimReport *rep, Diag *d)
{
    const IrGraph *g = p->graph;
    SimRun r = {.p = p, .opt = opt, .rep = rep};
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->id + 1 > r.nids)
            r.nids = g->nodes[i]->id + 1;
    r.layer_of = xmalloc(((size_t)r.nids + 1) * sizeof *r.layer_of);
    for (int i = 0; i < r.nids; i++)
        r.layer_of[i] = -1;
    if (rep) {
        *rep = (PimSimReport){.nlayers = p->nlayers, .layers = xcalloc((size_t)p->nlayers + 1, sizeof *rep->layers)};
        for (int li = 0; li < p->nlayers; li++)
            rep->layers[li].name = p->layers[li].name;
    }
    bool ok = true;
    for (int li = 0; li < p->nlayers; li++) {
        const PimLayer *L = &p->layers[li];
        int id = L->node ? L->node->id : L->node_id;
        if (id < 0 || id >= r.nids) {
            diag_error(d, L->node ? L->node->loc : (Loc){0}, "crossbar layer '%s' is not a node of the graph",
                       L->name ? L->name : "?");
            ok = false;
        } else
            r.layer_of[id] = li;
        if (ok && p->hw.adc_mode == PIM_ADC_CALIBRATED && !(opt && opt->adc_steps)) {
            diag_error(d, L->node ? L->node->loc : (Loc){0},
                       "a calibrated ADC needs each layer's step (PimSimOptions.adc_steps)");
            ok = false;
        }
    }
    if (ok)
        ok = rt_interp_run_hooked(g, inputs, outputs, hook, &r, d);
    else
        for (int i = 0; i < g->noutputs; i++)
            outputs[i] = NULL;
    free(r.layer_of);
    return ok;
}

void pim_sim_report_free(PimSimReport *rep)
{
    if (!rep)
        return;
    free(rep->layers);
    rep->layers = NULL;
    rep->nlayers = 0;
}
