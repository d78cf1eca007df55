/*
 * pool.c — nk_pool: max, average and adaptive average pooling over NHWC.
 *
 * Design:
 *   - Channels last makes every window position one contiguous run of c
 *     floats, so the kernel vectorizes along channels: a unit of work is
 *     one output pixel and one block of 16 channels (the last block a
 *     partial vector when c % 16 != 0, e.g. c = 3), and it walks the window
 *     accumulating one vector. Splitting by channel block as well as by
 *     pixel gives global pooling (one output pixel) its parallelism.
 *   - Window rules are torch's (the same as runtime/ref_kernels.c):
 *       max: padding counts as -inf, i.e. out-of-range taps are skipped;
 *            dilation spaces the taps; a NaN anywhere in the window wins;
 *       avg: the window is first clipped to the padded input (that only
 *            matters for the extra window ceil_mode adds), which gives the
 *            divisor when count_include_pad; otherwise the divisor is the
 *            number of real elements; a window with none gives 0;
 *       adaptive avg: rows [floor(i*h/oh), ceil((i+1)*h/oh)), columns
 *            alike; global average pooling is oh = ow = 1.
 *     Output sizes come in the descriptor (ceil_mode was applied by the
 *     IR's shape rule).
 *   - Averages are float sums, row by row (a global pool over 56 x 56 adds
 *     56 row sums rather than 3136 terms to one accumulator), scaled by the
 *     reciprocal of the count.
 */
#include "nk.h"
#include "nk_vec.h"

#include <math.h>

/* Input elements read per task, so that small pools stay on one thread. */
#define GRAIN_ELEMS 32768

typedef struct PoolJob {
    const NkPool *d;
    const float *in;
    float *out;
    int64_t blocks; /* channel blocks of NK_VL */
} PoolJob;

/* A window: rows [h0, h1), columns [w0, w1) with tap spacing dh, dw, and
 * the factor its sum is scaled by (avg kinds). Empty when h0 >= h1. */
typedef struct Window {
    int64_t h0, h1, w0, w1, dh, dw;
    float scale;
} Window;

/* First tap index i >= 0 with start + i*step >= 0. */
static int64_t first_tap(int64_t start, int64_t step)
{
    return start >= 0 ? 0 : (-start + step - 1) / step;
}

static Window max_window(const NkPool *d, int64_t oh, int64_t ow)
{
    int64_t hs = oh * d->sh - d->ph, ws = ow * d->sw - d->pw;
    Window win = {.dh = d->dh, .dw = d->dw, .scale = 1.0f};
    /* taps i in [first, last) with 0 <= start + i*step < size */
    int64_t i0 = first_tap(hs, d->dh), j0 = first_tap(ws, d->dw);
    int64_t i1 = hs + (d->kh - 1) * d->dh < d->h ? d->kh : (d->h - 1 - hs) / d->dh + 1;
    int64_t j1 = ws + (d->kw - 1) * d->dw < d->w ? d->kw : (d->w - 1 - ws) / d->dw + 1;
    win.h0 = hs + i0 * d->dh, win.h1 = hs + i1 * d->dh;
    win.w0 = ws + j0 * d->dw, win.w1 = ws + j1 * d->dw;
    if (i0 >= i1 || j0 >= j1 || hs >= d->h || ws >= d->w)
        win.h0 = win.h1 = 0;
    return win;
}

static Window avg_window(const NkPool *d, int64_t oh, int64_t ow)
{
    Window win = {.dh = 1, .dw = 1};
    int64_t count;
    if (d->kind == NK_POOL_ADAPTIVE_AVG) {
        win.h0 = oh * d->h / d->oh, win.h1 = ((oh + 1) * d->h + d->oh - 1) / d->oh;
        win.w0 = ow * d->w / d->ow, win.w1 = ((ow + 1) * d->w + d->ow - 1) / d->ow;
        count = (win.h1 - win.h0) * (win.w1 - win.w0);
    } else {
        int64_t h0 = oh * d->sh - d->ph, w0 = ow * d->sw - d->pw;
        int64_t h1 = h0 + d->kh, w1 = w0 + d->kw;
        h1 = h1 < d->h + d->ph ? h1 : d->h + d->ph;
        w1 = w1 < d->w + d->pw ? w1 : d->w + d->pw;
        int64_t padded = (h1 - h0) * (w1 - w0);
        win.h0 = h0 > 0 ? h0 : 0, win.w0 = w0 > 0 ? w0 : 0;
        win.h1 = h1 < d->h ? h1 : d->h, win.w1 = w1 < d->w ? w1 : d->w;
        count = d->kind == NK_POOL_AVG ? padded : (win.h1 - win.h0) * (win.w1 - win.w0);
    }
    if (win.h0 >= win.h1 || win.w0 >= win.w1) {
        win.h0 = win.h1 = 0;
        count = 1;
    }
    win.scale = 1.0f / (float)count;
    return win;
}

/*
 * Reduces the window over `lanes` channels starting at img (a channel
 * block of one image; lanes < NK_VL for the partial last block) into dst. The max update takes the new value when
 * it is greater or NaN, so a NaN sticks (torch's `val > max || isnan(val)`).
 */
NK_INLINE void pool_block(const NkPool *d, const float *img, float *dst, const Window *win,
                          int64_t lanes, int is_max)
{
    NkVec acc = nk_splat(is_max ? -INFINITY : 0.0f);
    for (int64_t ih = win->h0; ih < win->h1; ih += win->dh) {
        NkVec row = acc; /* max: running; avg: this row's sum, added below */
        if (!is_max)
            row = nk_splat(0.0f);
        for (int64_t iw = win->w0; iw < win->w1; iw += win->dw) {
            const float *p = img + (ih * d->w + iw) * d->c;
            NkVec v = lanes == NK_VL ? nk_load(p) : nk_load_part(p, lanes, 0.0f);
            if (is_max)
                row = nk_select((v > row) | (v != v), v, row);
            else
                row += v;
        }
        acc = is_max ? row : acc + row;
    }
    if (!is_max)
        acc *= win->scale;
    if (lanes == NK_VL)
        nk_store(dst, acc);
    else
        nk_store_part(dst, acc, lanes);
}

/* Units [begin, end): the window is worked out once per output pixel and
 * reused for the pixel's channel blocks in the range. */
NK_INLINE void pool_units(const PoolJob *j, int64_t begin, int64_t end, int is_max)
{
    const NkPool *d = j->d;
    for (int64_t u = begin; u < end;) {
        int64_t pix = u / j->blocks, b0 = u % j->blocks;
        int64_t b1 = j->blocks - b0 < end - u ? j->blocks : b0 + (end - u);
        int64_t ow = pix % d->ow, oh = pix / d->ow % d->oh, n = pix / (d->ow * d->oh);
        Window win = is_max ? max_window(d, oh, ow) : avg_window(d, oh, ow);
        const float *img = j->in + n * d->h * d->w * d->c;
        for (int64_t blk = b0; blk < b1; blk++) {
            int64_t ch = blk * NK_VL;
            if (d->c - ch >= NK_VL) /* a copy of the loop with whole vectors */
                pool_block(d, img + ch, j->out + pix * d->c + ch, &win, NK_VL, is_max);
            else
                pool_block(d, img + ch, j->out + pix * d->c + ch, &win, d->c - ch, is_max);
        }
        u += b1 - b0;
    }
}

static void pool_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const PoolJob *j = ctx;
    if (j->d->kind == NK_POOL_MAX)
        pool_units(j, begin, end, 1);
    else
        pool_units(j, begin, end, 0);
}

void nk_pool(const NkPool *d, const float *in, float *out)
{
    PoolJob j = {d, in, out, (d->c + NK_VL - 1) / NK_VL};
    int64_t units = d->n * d->oh * d->ow * j.blocks;
    if (units <= 0)
        return;
    /* input elements one unit reads: its window (a whole adaptive bin) x 16 */
    int64_t taps = d->kind == NK_POOL_ADAPTIVE_AVG
                       ? (d->h / d->oh + 1) * (d->w / d->ow + 1)
                       : d->kh * d->kw;
    int64_t work = taps * NK_VL, grain = work >= GRAIN_ELEMS ? 1 : GRAIN_ELEMS / work;
    nk_parallel_for(units, grain, pool_task, &j);
}
