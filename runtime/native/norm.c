/*
 * norm.c — nk_layernorm and nk_softmax.
 *
 * Design:
 *   - LayerNorm makes two passes over a row held in cache: the mean, then
 *     the biased variance (torch's definition) as the mean of squared
 *     deviations — the one-pass E[x²] - E[x]² cancels badly when |mean| >>
 *     std — with the deviations also summed to correct the float mean
 *     (the corrected two-pass algorithm; the correction is subtracted
 *     separately, as the float sum would round), then one pass writing
 *     (x - mean) · rstd · gamma + beta. Sums are 16-lane float vectors,
 *     each lane a short sum.
 *   - Softmax subtracts the row maximum before exp (no overflow; the
 *     largest term is exactly 1) and multiplies by the reciprocal of the
 *     sum. With inner == 1 (the last dim, attention scores) a row is
 *     contiguous and vectorized along itself; otherwise 16 neighbouring
 *     rows are processed side by side, one vector per index along dim, so
 *     every load is contiguous. NaN or +inf in a row makes the whole row
 *     NaN, as in torch.
 *   - Parallel over rows (or blocks of 16 rows), each computed entirely by
 *     one thread in a fixed order: results do not depend on the thread
 *     count.
 */
#include "nk.h"
#include "nk_vec.h"

#include <math.h>

/* Elements per task, so that small tensors stay on the calling thread. */
#define GRAIN 16384

static int64_t grain_rows(int64_t row_elems)
{
    return row_elems >= GRAIN ? 1 : GRAIN / (row_elems > 0 ? row_elems : 1);
}

/* ------------------------------------------------------------ layernorm */

typedef struct LayerNormJob {
    const NkLayerNorm *d;
    const float *in, *gamma, *beta;
    float *out;
} LayerNormJob;

static void layernorm_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const LayerNormJob *j = ctx;
    int64_t n = j->d->cols;
    for (int64_t r = begin; r < end; r++) {
        const float *x = j->in + r * n;
        float *y = j->out + r * n;
        NkVec acc = nk_splat(0.0f);
        int64_t i = 0;
        for (; i + NK_VL <= n; i += NK_VL)
            acc += nk_load(x + i);
        if (i < n)
            acc += nk_load_part(x + i, n - i, 0.0f);
        float mean = nk_hsum(acc) / (float)n;
        NkVec vmean = nk_splat(mean), dsum = nk_splat(0.0f), sq = nk_splat(0.0f);
        for (i = 0; i + NK_VL <= n; i += NK_VL) {
            NkVec dv = nk_load(x + i) - vmean;
            dsum += dv;
            sq += dv * dv;
        }
        if (i < n) { /* the fill makes the padding lanes' deviation 0 */
            NkVec dv = nk_load_part(x + i, n - i, mean) - vmean;
            dsum += dv;
            sq += dv * dv;
        }
        /* the corrected two-pass formula: the mean is mean + c, var =
         * E[dv²] - c²; c stays apart, as float(mean + c) would round */
        float c = nk_hsum(dsum) / (float)n;
        NkVec vc = nk_splat(c);
        NkVec rstd = nk_splat(1.0f / sqrtf(nk_hsum(sq) / (float)n - c * c + j->d->eps));
        for (i = 0; i + NK_VL <= n; i += NK_VL)
            nk_store(y + i, (nk_load(x + i) - vmean - vc) * rstd * nk_load(j->gamma + i) +
                                nk_load(j->beta + i));
        if (i < n) {
            int64_t t = n - i;
            NkVec v = (nk_load_part(x + i, t, 0.0f) - vmean - vc) * rstd *
                          nk_load_part(j->gamma + i, t, 0.0f) +
                      nk_load_part(j->beta + i, t, 0.0f);
            nk_store_part(y + i, v, t);
        }
    }
}

void nk_layernorm(const NkLayerNorm *d, const float *in, const float *gamma, const float *beta,
                  float *out)
{
    LayerNormJob j = {d, in, gamma, beta, out};
    if (d->rows > 0 && d->cols > 0)
        nk_parallel_for(d->rows, grain_rows(d->cols), layernorm_task, &j);
}

/* -------------------------------------------------------------- softmax */

typedef struct SoftmaxJob {
    const NkSoftmax *d;
    const float *in;
    float *out;
} SoftmaxJob;

/* One contiguous row of n elements (inner == 1). */
static void softmax_row(const float *x, float *y, int64_t n)
{
    NkVec m = nk_splat(-INFINITY);
    int64_t i = 0;
    for (; i + NK_VL <= n; i += NK_VL)
        m = nk_max(m, nk_load(x + i));
    if (i < n)
        m = nk_max(m, nk_load_part(x + i, n - i, -INFINITY));
    NkVec mx = nk_splat(nk_hmax(m)), sum = nk_splat(0.0f);
    for (i = 0; i + NK_VL <= n; i += NK_VL) {
        NkVec e = nk_exp(nk_load(x + i) - mx);
        sum += e;
        nk_store(y + i, e);
    }
    if (i < n) { /* padding lanes: exp(-inf - mx) = 0 */
        NkVec e = nk_exp(nk_load_part(x + i, n - i, -INFINITY) - mx);
        sum += e;
        nk_store_part(y + i, e, n - i);
    }
    NkVec inv = nk_splat(1.0f / nk_hsum(sum));
    for (i = 0; i + NK_VL <= n; i += NK_VL)
        nk_store(y + i, nk_load(y + i) * inv);
    if (i < n)
        nk_store_part(y + i, nk_load_part(y + i, n - i, 0.0f) * inv, n - i);
}

/*
 * w <= 16 neighbouring rows along inner, side by side: lane l walks
 * x[k*inner + l] for k < n. Lanes past w are computed on zeros and never
 * stored.
 */
static void softmax_columns(const float *x, float *y, int64_t n, int64_t inner, int64_t w)
{
    NkVec m = nk_splat(-INFINITY);
    for (int64_t k = 0; k < n; k++)
        m = nk_max(m, w == NK_VL ? nk_load(x + k * inner) : nk_load_part(x + k * inner, w, 0));
    NkVec sum = nk_splat(0.0f);
    for (int64_t k = 0; k < n; k++) {
        NkVec v = w == NK_VL ? nk_load(x + k * inner) : nk_load_part(x + k * inner, w, 0);
        NkVec e = nk_exp(v - m);
        sum += e;
        if (w == NK_VL)
            nk_store(y + k * inner, e);
        else
            nk_store_part(y + k * inner, e, w);
    }
    NkVec inv = 1.0f / sum;
    for (int64_t k = 0; k < n; k++) {
        if (w == NK_VL)
            nk_store(y + k * inner, nk_load(y + k * inner) * inv);
        else
            nk_store_part(y + k * inner, nk_load_part(y + k * inner, w, 0) * inv, w);
    }
}

/* Units are rows (inner == 1) or blocks of 16 columns of one outer slice. */
static void softmax_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const SoftmaxJob *j = ctx;
    int64_t n = j->d->dim, inner = j->d->inner;
    if (inner == 1) {
        for (int64_t r = begin; r < end; r++)
            softmax_row(j->in + r * n, j->out + r * n, n);
        return;
    }
    int64_t blocks = (inner + NK_VL - 1) / NK_VL;
    for (int64_t u = begin; u < end; u++) {
        int64_t o = u / blocks, c = u % blocks * NK_VL;
        int64_t w = inner - c < NK_VL ? inner - c : NK_VL;
        int64_t base = o * n * inner + c;
        softmax_columns(j->in + base, j->out + base, n, inner, w);
    }
}

void nk_softmax(const NkSoftmax *d, const float *in, float *out)
{
    SoftmaxJob j = {d, in, out};
    if (d->outer <= 0 || d->dim <= 0 || d->inner <= 0)
        return;
    if (d->inner == 1)
        nk_parallel_for(d->outer, grain_rows(d->dim), softmax_task, &j);
    else
        nk_parallel_for(d->outer * ((d->inner + NK_VL - 1) / NK_VL), grain_rows(d->dim * NK_VL),
                        softmax_task, &j);
}
