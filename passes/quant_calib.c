/*
 * quant_calib.c — activation ranges from calibration data.
 *
 * The float graph runs once per calibration run in the reference
 * interpreter, which shows every value as it is computed (rt_interp_run_
 * observed); each quantization point keeps its min and max (and, for the
 * percentile observer, every element). A batch file whose first dimension
 * is a multiple of the input's is split into runs of the input's shape, so
 * a [64, 1, 8, 8] file calibrates a batch-1 net with 64 runs.
 *
 * Ranges: min-max, or the percentile observer — lo and hi are the elements
 * of ranks ceil((1 − p)·n) and ceil(p·n) (1-based, nearest rank) of all
 * observed elements; then PyTorch's asymmetric rule (ir_quant_asymmetric).
 * With pow2 the standard deviation of all observed elements gives a
 * power-of-two scale instead (ir_quant_pow2): zero point 0 when the minimum
 * is >= 0, else 128 with the signed rule.
 */
#include "../runtime/interp.h"
#include "quant_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The runs of one calibration tensor, appended to p->runs; false with a
 * message naming the file when its shape fits no run of the input. */
static bool split_runs(QuantPlan *p, const Tensor *t, const char *file)
{
    const IrValue *x = p->g->inputs[0];
    const Shape *want = &x->shape;
    char a[200], b[200];
    bool same_tail = t->shape.rank == want->rank && want->rank > 0;
    for (int k = 1; same_tail && k < want->rank; k++)
        same_tail = t->shape.d[k] == want->d[k];
    if (!same_tail || want->d[0] <= 0 || t->shape.d[0] % want->d[0] != 0) {
        diag_file_error(p->d, file,
                        "calibration data is %s, but input '%s' is %s (the file's first dimension "
                        "must be a multiple of %lld and the others equal)",
                        shape_str(&t->shape, a, sizeof a), x->name, shape_str(want, b, sizeof b),
                        (long long)(want->rank > 0 ? want->d[0] : 1));
        return false;
    }
    Tensor *f = tensor_to_f32(t);
    if (!f) {
        diag_file_error(p->d, file, "calibration data of dtype %s cannot be read as f32",
                        dtype_name(t->dtype));
        return false;
    }
    int64_t per = shape_numel(want), n = t->shape.d[0] / want->d[0];
    p->runs = xrealloc(p->runs, (size_t)(p->nruns + n) * sizeof *p->runs);
    for (int64_t r = 0; r < n; r++) {
        Tensor *run = tensor_new(DT_F32, want);
        memcpy(run->data, (const float *)f->data + r * per, (size_t)per * sizeof(float));
        p->runs[p->nruns++] = run;
    }
    tensor_free(f);
    return true;
}

typedef struct Observe {
    QuantPlan *p;
    int *point_of; /* by value id: index into p->points, or -1 */
} Observe;

static void observe(const IrValue *v, const Tensor *t, void *ctx)
{
    Observe *o = ctx;
    int k = o->point_of[v->id];
    if (k < 0)
        return;
    QuantPoint *q = &o->p->points[k];
    const float *x = t->data;
    int64_t n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            q->min = fminf(q->min, x[i]), q->max = fmaxf(q->max, x[i]);
    if (o->p->pow2)
        ir_moments_add(&q->moments, x, n);
    if (o->p->percentile_bp < 10000) {
        if (q->nsamples + n > q->cap) {
            q->cap = (q->nsamples + n) * 2;
            q->samples = xrealloc(q->samples, (size_t)q->cap * sizeof *q->samples);
        }
        for (int64_t i = 0; i < n; i++)
            if (isfinite(x[i]))
                q->samples[q->nsamples++] = x[i];
    }
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted s[0..n): rank ceil(f·n), 1-based. */
static float nearest_rank(const float *s, int64_t n, double f)
{
    int64_t rank = (int64_t)ceil(f * (double)n);
    rank = rank < 1 ? 1 : rank > n ? n : rank;
    return s[rank - 1];
}

static void choose_range(QuantPlan *p, QuantPoint *q)
{
    q->lo = q->min <= q->max ? q->min : 0;
    q->hi = q->min <= q->max ? q->max : 0;
    if (p->percentile_bp < 10000 && q->nsamples > 0) {
        double f = p->percentile_bp / 10000.0;
        qsort(q->samples, (size_t)q->nsamples, sizeof *q->samples, cmp_float);
        q->lo = nearest_rank(q->samples, q->nsamples, 1.0 - f);
        q->hi = nearest_rank(q->samples, q->nsamples, f);
    }
    if (p->pow2) { /* fixed point: unsigned after a ReLU, else signed around 128 */
        bool is_signed = q->lo < 0;
        q->params = ir_quant_pow2(ir_moments_stddev(&q->moments), is_signed);
        q->params.zero_point = is_signed ? 128 : 0;
        return;
    }
    q->params = ir_quant_asymmetric(q->lo, q->hi, q->bits);
}

/* How many float outputs are kept for the sensitivity runs. */
enum { QUANT_SENS_RUNS = 8 };

bool quant_calibrate(QuantPlan *p)
{
    const PassEnv *env = p->env;
    IrGraph *g = p->g;
    if (env->ncalib == 0) {
        diag_error(p->d, loc_none(),
                   "quantize: activation ranges and sensitivities need calibration data: give "
                   "--calib FILE.npy (or act-bits=0 for weights only)");
        return false;
    }
    if (g->ninputs != 1) {
        diag_error(p->d, loc_none(),
                   "quantize: calibration feeds one input, but the graph has %d", g->ninputs);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < env->ncalib; i++)
        ok = split_runs(p, env->calib[i], env->calib_files ? env->calib_files[i] : "--calib") && ok;
    if (!ok)
        return false;
    Observe o = {p, xcalloc((size_t)g->next_value_id + 1, sizeof(int))};
    for (int i = 0; i <= g->next_value_id; i++)
        o.point_of[i] = -1;
    for (int k = 0; k < p->npoints; k++)
        o.point_of[p->points[k].value->id] = k;
    p->nreference = p->nruns < QUANT_SENS_RUNS ? p->nruns : QUANT_SENS_RUNS;
    p->reference = xcalloc((size_t)p->nreference + 1, sizeof *p->reference);
    Tensor **outs = xcalloc((size_t)g->noutputs + 1, sizeof *outs);
    for (int r = 0; ok && r < p->nruns; r++) {
        ok = rt_interp_run_observed(g, &p->runs[r], outs, observe, &o, p->d);
        for (int k = 0; ok && k < g->noutputs; k++) {
            if (k == 0 && r < p->nreference)
                p->reference[r] = outs[k];
            else
                tensor_free(outs[k]);
        }
    }
    free(outs);
    free(o.point_of);
    for (int k = 0; ok && k < p->npoints; k++)
        choose_range(p, &p->points[k]);
    return ok;
}

void quant_calib_free(QuantPlan *p)
{
    for (int r = 0; r < p->nruns; r++)
        tensor_free(p->runs[r]);
    free(p->runs);
    for (int r = 0; r < p->nreference; r++)
        tensor_free(p->reference[r]);
    free(p->reference);
    p->runs = p->reference = NULL;
    p->nruns = p->nreference = 0;
}
