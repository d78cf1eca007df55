/*
 * conv.c — nk_conv2d: NHWC convolution as an implicit GEMM on the core of
 * gemm.h, plus a direct kernel for depthwise convolution.
 *
 * GEMM view (per group g):  out[p, o] = sum_k A[p, k] · B[k, o]
 *   p = output pixel (image, oy, ox) flattened, M = n·oh·ow;
 *   o = output channel of the group, N = oc/groups;
 *   k = (ky·kw + kx)·cg + ci, K = kh·kw·cg, so for one (ky, kx) the k run
 *       is a contiguous channel run of an NHWC input pixel, and with
 *       groups == 1 and dilation 1 a whole kernel row (kx = 0..kw-1) is one
 *       contiguous run of kw·c floats (the ResNet stem, c = 3, copies 21
 *       floats per kernel row instead of 7 runs of 3).
 * A is never materialized: the GEMM core asks for MR-pixel, kc-deep tiles
 * and nk_im2col() gathers them into scratch, writing zeros for padding. A 1×1
 * stride-1 unpadded conv is a plain GEMM over the input rows
 * (nk_gemm_pack_rows, row stride c).
 *
 * Packed weights (nk_conv2d_pack), from PyTorch's [oc][cg][kh][kw]:
 *   GEMM path:  per group, ceil(og/nr) panels of [K][nr] (zero-padded
 *               columns; nr is the target ISA's panel width, NK_NR of its
 *               build), then per group the bias padded to whole panels;
 *   depthwise:  [kh·kw][cp] with cp = c rounded up to 16 (zero-padded), then
 *               the bias [cp].
 *
 * Depthwise (groups == c == oc) has one weight per (channel, tap), too
 * little work per pixel for a GEMM; it runs directly on NHWC, vectorized
 * along channels: per output row and channel vector, every pixel of the row
 * is one chain of tap FMAs (the out-of-order core overlaps the pixels), the
 * 3×3 weights held in registers, and separate loop copies for pixels with
 * and without taps outside the image. Output rows are split over the
 * threads. (Tried and slower here: register-tiling 8 pixels per weight
 * vector, whose per-call setup and spilled strides cost more than the
 * weight loads it saves.) Kernels other than 3×3 (EfficientNet's 5×5,
 * ConvNeXt's 7×7, often on 7×7..14×14 images where most pixels touch the
 * border) go pixel by pixel instead (dw_pixels): the taps inside the image
 * form a rectangle computed once per pixel, then NK_DW_VECS channel
 * vectors at a time run every tap without a bounds check. Both orders add
 * the bias and then the taps row by row, so they give the same bits.
 *
 * Other group counts run all groups in one GEMM batch (one batch item per
 * group, channel offsets as batch strides), so threads split groups,
 * pixel blocks and panels alike.
 */
#include "gemm.h"
#include "conv_geom.h"

#include "nk_vec.h"

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t round16(int64_t x) { return (x + 15) & ~(int64_t)15; }

static int is_depthwise(const NkConv *d) { return NK_CONV_IS_DEPTHWISE(d); }
static int is_pointwise(const NkConv *d) { return NK_CONV_IS_POINTWISE(d); }
static int64_t conv_cg(const NkConv *d) { return NK_CONV_CG(d); }
static int64_t conv_og(const NkConv *d) { return NK_CONV_OG(d); }
static int64_t conv_k(const NkConv *d) { return NK_CONV_K(d); }

int64_t nk_conv2d_packed_floats(const NkConv *d, const NkTiling *t)
{
    if (is_depthwise(d))
        return (d->kh * d->kw + 1) * round16(d->c);
    int64_t cols = nk_gemm_panels(conv_og(d), t->nr) * t->nr;
    return d->groups * cols * (conv_k(d) + 1);
}

void nk_conv2d_pack(const NkConv *d, const NkTiling *tl, const float *weight, const float *bias,
                    float *packed)
{
    int64_t taps = d->kh * d->kw;
    if (is_depthwise(d)) {
        int64_t cp = round16(d->c);
        for (int64_t t = 0; t <= taps; t++)
            for (int64_t ch = 0; ch < cp; ch++) {
                float v = 0.0f;
                if (ch < d->c)
                    v = t < taps ? weight[ch * taps + t] : bias ? bias[ch] : 0.0f;
                packed[t * cp + ch] = v;
            }
        return;
    }
    int64_t cg = conv_cg(d), og = conv_og(d), K = conv_k(d);
    int64_t nr = tl->nr, cols = nk_gemm_panels(og, nr) * nr;
    for (int64_t g = 0; g < d->groups; g++) {
        float *dst = packed + g * cols * K;
        for (int64_t p = 0; p * nr < og; p++) {
            /* Row k = tap·cg + ci of the panel is contiguous (stride w,
             * the panel's width); the weights of one output channel are
             * read tap after tap, so each source line serves all its taps. */
            int64_t w = nk_gemm_panel_width(og, p, nr), valid = og - p * nr < w ? og - p * nr : w;
            float *panel = dst + p * K * nr;
            const float *src = weight + (g * og + p * nr) * cg * taps;
            for (int64_t ci = 0; ci < cg; ci++)
                for (int64_t t = 0; t < taps; t++) {
                    float *row = panel + (t * cg + ci) * w;
                    for (int64_t jj = 0; jj < valid; jj++)
                        row[jj] = src[(jj * cg + ci) * taps + t];
                    for (int64_t jj = valid; jj < w; jj++)
                        row[jj] = 0.0f;
                }
        }
        float *pb = packed + d->groups * cols * K + g * cols;
        for (int64_t j = 0; j < cols; j++)
            pb[j] = bias && j < og ? bias[g * og + j] : 0.0f;
    }
}

int64_t nk_conv2d_scratch(const NkConv *d, const NkTiling *t, int threads)
{
    if (is_depthwise(d))
        return 0;
    return (int64_t)(threads < 1 ? 1 : threads) * nk_gemm_thread_scratch(t);
}

/* ------------------------------------------------------------ im2col */

/* Copies n floats to d (zeros when s is NULL) in whole vectors; may write
 * up to NK_VL - 1 floats past d + n but reads only s[0, n). Runs of a row are
 * written in increasing order, so the overshoot is overwritten later. */
static void copy_run(float *d, const float *s, int64_t n)
{
    if (!s) {
        for (int64_t i = 0; i < n; i += NK_VL)
            nk_store(d + i, nk_splat(0.0f));
    } else if (n < NK_VL) {
        memcpy(d, s, (size_t)n * sizeof(float));
    } else if (n <= 2 * NK_VL) {
        /* No loop: the compiler would turn a copy loop into a memcpy call,
         * too slow for the 21-float runs of a c = 3 stem. */
        NkVec lo = nk_load(s), hi = nk_load(s + n - NK_VL);
        nk_store(d, lo);
        nk_store(d + n - NK_VL, hi);
    } else {
        memcpy(d, s, (size_t)n * sizeof(float));
    }
}

/*
 * NkPackA for convolution (batch item = group). Each A row is walked as
 * runs that are all input data or all padding. When a group's channel
 * count is a multiple of 16, runs start and end on the 16-column chunks of
 * the tile and are copied straight in; otherwise (c = 3 in a stem) the row
 * is first assembled contiguously and then cut into chunks, so neither
 * step copies less than a vector at a time.
 */
void nk_im2col(const void *src, int64_t g, int64_t p0, int64_t m, int64_t k0, int64_t kc,
               float *dst)
{
    const NkIm2col *s = src;
    const NkConv *d = s->d;
    int64_t cg = conv_cg(d), kend = k0 + kc;
    /* Kernel-row runs span several taps when the taps of a row are
     * adjacent input pixels holding only this group's channels. */
    int merge = d->groups == 1 && d->dw == 1;
    int direct = cg % 16 == 0 && k0 % 16 == 0;
    /* Rows assembled for the scatter into chunks; all m rows first, so the
     * scatter does not read a vector back while its parts are still in the
     * store buffer (a forwarding stall per vector). Room for the overshoot. */
    float rows[NK_MR][NK_KC + NK_VL];
    /* Divisions only here: the walk below steps its indices. */
    int64_t tap0 = k0 / cg, ci0 = k0 % cg, ky0 = tap0 / d->kw, kx0 = tap0 % d->kw;
    int64_t ox = p0 % d->ow, oy = (p0 / d->ow) % d->oh, img = p0 / (d->ow * d->oh);
    for (int64_t i = 0; i < m; i++) {
        int64_t iy0 = oy * d->sh - d->ph, ix0 = ox * d->sw - d->pw;
        const float *base = s->in + img * d->h * d->w * d->c + g * cg;
        int64_t ky = ky0, kx = kx0, ci = ci0;
        int inside = !direct && merge && k0 == 0 && kend == d->kh * d->kw * cg && iy0 >= 0 &&
                     ix0 >= 0 && iy0 + (d->kh - 1) * d->dh < d->h && ix0 + d->kw - 1 < d->w;
        if (inside) {
            /* The pixel's window lies inside the image: one run per kernel
             * row (the stem's common case). */
            int64_t len = d->kw * cg;
            for (int64_t r = 0; r < d->kh; r++)
                copy_run(rows[i] + r * len, base + ((iy0 + r * d->dh) * d->w + ix0) * d->c, len);
        }
        for (int64_t k = k0; !inside && k < kend;) {
            int64_t iy = iy0 + ky * d->dh, ix = ix0 + kx * d->dw;
            int64_t taps; /* taps from (ky, kx) on that are all data or all padding */
            const float *from = NULL;
            if (iy < 0 || iy >= d->h || ix >= d->w) {
                taps = d->kw - kx; /* the rest of this kernel row */
            } else if (ix < 0) {
                taps = min64((-ix + d->dw - 1) / d->dw, d->kw - kx);
            } else {
                taps = merge ? min64(d->kw - kx, d->w - ix) : 1;
                from = base + (iy * d->w + ix) * d->c + ci;
            }
            int64_t run = min64(taps * cg - ci, kend - k);
            if (direct) {
                for (int64_t j = 0; j < run; j += 16) /* whole chunks */
                    nk_copy16(dst + (k - k0 + j) * m + i * 16, from ? from + j : NULL);
            } else {
                copy_run(rows[i] + (k - k0), from, run);
            }
            k += run;
            ci = 0;
            kx += taps;
            if (kx == d->kw)
                kx = 0, ky++;
        }
        if (++ox == d->ow) {
            ox = 0;
            if (++oy == d->oh)
                oy = 0, img++;
        }
    }
    if (!direct) /* the last chunk is whole in dst as well, its tail unread */
        for (int64_t i = 0; i < m; i++)
            for (int64_t kb = 0; kb < kc; kb += 16)
                nk_copy16(dst + kb * m + i * 16, rows[i] + kb);
}

/* ------------------------------------------------------------ depthwise */

typedef struct NkDwTask {
    const NkConv *d;
    const float *in, *w, *res;
    float *out;
    float lo, hi; /* the clamp of relu / relu6 (GELU: a pass afterwards) */
} NkDwTask;

/* The local state of one output row and channel vector (see dw_row). */
typedef struct NkDwRow {
    const float *in;    /* the image at channel c0 */
    const float *w;     /* the packed weights at c0 */
    int64_t C, cp, cn, h, w_, sw, pw, dh, dw, iy0, ky0, ky1;
} NkDwRow;

/* acc + tap (ky, kx) of output column ox, when it is inside the image
 * (checks only where CX / CY say the window can cross the border). */
NK_INLINE NkVec dw_tap(const int K3, const int CX, const int CY, const int part,
                       const NkDwRow *s, const NkVec *w3, NkVec acc, int64_t kw, int64_t ky,
                       int64_t kx, int64_t ox)
{
    if (CY && (ky < s->ky0 || ky >= s->ky1))
        return acc;
    int64_t ix = ox * s->sw - s->pw + kx * s->dw;
    if (CX && (ix < 0 || ix >= s->w_))
        return acc;
    const float *p = s->in + ((s->iy0 + ky * s->dh) * s->w_ + ix) * s->C;
    NkVec x = part ? nk_load_part(p, s->cn, 0.0f) : nk_load(p);
    return acc + x * (K3 ? w3[ky * 3 + kx] : nk_load(s->w + (ky * kw + kx) * s->cp));
}

/* The bias plus the taps of output column ox: kernel rows [ky0, ky1) when
 * CY (else all), columns inside the image when CX (else all). K3: the
 * kernel is 3×3, its weights are w3 and the taps unroll; otherwise plain
 * loops (unrolling a runtime count would only bloat the code). Constant
 * flags: each combination is its own loop without the other checks. */
NK_INLINE NkVec dw_acc(const int K3, const int CX, const int CY, const int part,
                       const NkDwRow *s, const NkVec *w3, NkVec bias, int64_t kh, int64_t kw,
                       int64_t ox)
{
    NkVec acc = bias;
    if (K3) {
        NK_UNROLL
        for (int ky = 0; ky < 3; ky++) {
            NK_UNROLL
            for (int kx = 0; kx < 3; kx++)
                acc = dw_tap(1, CX, CY, part, s, w3, acc, 3, ky, kx, ox);
        }
    } else {
        for (int64_t ky = 0; ky < kh; ky++)
            for (int64_t kx = 0; kx < kw; kx++)
                acc = dw_tap(0, CX, CY, part, s, w3, acc, kw, ky, kx, ox);
    }
    return acc;
}

/*
 * One output row r, NK_VL channels at c0 (cn <= NK_VL of them valid), every
 * output pixel of the row: acc = bias + the taps inside the image, then
 * residual, clamp, store. The pixels of a row are independent, so the
 * out-of-order core overlaps their FMA chains. The columns whose windows
 * lie inside the image, [x_lo, x_hi), skip the column checks, and a row
 * whose window rows all lie inside skips the row checks. K3: a 3×3 kernel
 * whose nine weight vectors stay in registers (the taps unroll);
 * otherwise the weights are loaded per tap (L1 hits).
 */
NK_INLINE void dw_row(const int K3, const int part, const NkDwTask *task, int64_t r, int64_t c0,
                      int64_t cn, int64_t x_lo, int64_t x_hi)
{
    /* Locals: the stores below (memcpy) may alias anything, so fields read
     * through pointers would be reloaded after each of them. */
    const NkConv *d = task->d;
    const float *res = task->res;
    float *out = task->out;
    int64_t C = d->c, ow = d->ow, kh = K3 ? 3 : d->kh, kw = K3 ? 3 : d->kw;
    int64_t img = r / d->oh, oy = r % d->oh;
    NkDwRow s = {.in = task->in + img * d->h * d->w * C + c0, .w = task->w + c0,
                 .C = C, .cp = round16(C), .cn = cn, .h = d->h, .w_ = d->w, .sw = d->sw,
                 .pw = d->pw, .dh = d->dh, .dw = d->dw, .iy0 = oy * d->sh - d->ph,
                 .ky0 = 0, .ky1 = kh};
    while (s.ky0 < s.ky1 && s.iy0 + s.ky0 * s.dh < 0)
        s.ky0++;
    while (s.ky1 > s.ky0 && s.iy0 + (s.ky1 - 1) * s.dh >= s.h)
        s.ky1--;
    int inside = s.ky0 == 0 && s.ky1 == kh;
    NkVec w3[9];
    if (K3) {
        NK_UNROLL
        for (int k = 0; k < 9; k++)
            w3[k] = nk_load(s.w + k * s.cp);
    }
    NkVec bias = nk_load(s.w + kh * kw * s.cp);
    NkVec lo = nk_splat(task->lo), hi = nk_splat(task->hi);
    for (int64_t ox = 0; ox < ow; ox++) {
        NkVec acc;
        if (ox < x_lo || ox >= x_hi)
            acc = dw_acc(K3, 1, 1, part, &s, w3, bias, kh, kw, ox);
        else if (!inside)
            acc = dw_acc(K3, 0, 1, part, &s, w3, bias, kh, kw, ox);
        else
            acc = dw_acc(K3, 0, 0, part, &s, w3, bias, kh, kw, ox);
        int64_t off = (r * ow + ox) * C + c0;
        if (res)
            acc += part ? nk_load_part(res + off, cn, 0.0f) : nk_load(res + off);
        acc = nk_min(nk_max(acc, lo), hi);
        if (part)
            nk_store_part(out + off, acc, cn);
        else
            nk_store(out + off, acc);
    }
}

/* Output rows [begin, end), channel vector by channel vector. */
static void dw_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const NkDwTask *t = ctx;
    const NkConv *d = t->d;
    int k3 = d->kh == 3 && d->kw == 3;
    /* Output columns whose windows lie inside the image along x. */
    int64_t x_lo = min64((d->pw + d->sw - 1) / d->sw, d->ow);
    int64_t right = d->w - 1 + d->pw - (d->kw - 1) * d->dw; /* last window start */
    int64_t x_hi = right < 0 ? 0 : min64(right / d->sw + 1, d->ow);
    if (x_hi < x_lo)
        x_hi = x_lo;
    for (int64_t r = begin; r < end; r++) {
        int64_t c0 = 0;
        for (; c0 + NK_VL <= d->c; c0 += NK_VL) {
            if (k3)
                dw_row(1, 0, t, r, c0, NK_VL, x_lo, x_hi);
            else
                dw_row(0, 0, t, r, c0, NK_VL, x_lo, x_hi);
        }
        if (c0 < d->c) /* a channel tail */
            dw_row(0, 1, t, r, c0, d->c - c0, x_lo, x_hi);
        if (nk_act_is_math(d->act)) /* the residual is in already */
            nk_finish(t->out + r * d->ow * d->c, NULL, d->ow * d->c, d->act);
    }
}

/* Channel vectors a pixel's accumulators hold at once (dw_pixels). */
#define NK_DW_VECS 4

/* The taps k in [0, n) with 0 <= i0 + k·step < size: [*k0, *k1). */
static void valid_taps(int64_t i0, int64_t step, int64_t n, int64_t size, int64_t *k0, int64_t *k1)
{
    int64_t a = i0 >= 0 ? 0 : (-i0 + step - 1) / step;
    int64_t b = size - 1 - i0 < 0 ? 0 : (size - 1 - i0) / step + 1;
    *k0 = min64(a, n);
    *k1 = b < *k0 ? *k0 : min64(b, n);
}

/* One pixel's channels [c0, c0 + V·NK_VL) (the last vector cn < NK_VL
 * lanes wide when part) over the taps [ky0, ky1) × [kx0, kx1). */
NK_INLINE void dw_pixel_block(const int V, const int part, const NkDwTask *t, const float *in, int64_t iy0,
                              int64_t ix0, int64_t ky0, int64_t ky1, int64_t kx0, int64_t kx1, int64_t off,
                              int64_t c0, int64_t cn)
{
    const NkConv *d = t->d;
    int64_t C = d->c, cp = round16(C), W = d->w;
    const float *w = t->w + c0;
    NkVec acc[NK_DW_VECS];
    NK_UNROLL
    for (int v = 0; v < V; v++)
        acc[v] = nk_load(w + d->kh * d->kw * cp + v * NK_VL); /* the bias */
    for (int64_t ky = ky0; ky < ky1; ky++)
        for (int64_t kx = kx0; kx < kx1; kx++) {
            const float *x = in + ((iy0 + ky * d->dh) * W + ix0 + kx * d->dw) * C + c0;
            const float *wt = w + (ky * d->kw + kx) * cp;
            NK_UNROLL
            for (int v = 0; v < V; v++)
                acc[v] += (part ? nk_load_part(x, cn, 0.0f) : nk_load(x + v * NK_VL)) * nk_load(wt + v * NK_VL);
        }
    NkVec lo = nk_splat(t->lo), hi = nk_splat(t->hi);
    NK_UNROLL
    for (int v = 0; v < V; v++) {
        float *o = t->out + off + c0 + v * NK_VL;
        NkVec a = acc[v];
        if (t->res)
            a += part ? nk_load_part(t->res + off + c0, cn, 0.0f) : nk_load(t->res + off + c0 + v * NK_VL);
        a = nk_min(nk_max(a, lo), hi);
        if (part)
            nk_store_part(o, a, cn);
        else
            nk_store(o, a);
    }
}

/* Output rows [begin, end) of a depthwise conv with a kernel other than
 * 3×3, pixel by pixel (see the header comment). */
static void dw_pixels(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const NkDwTask *t = ctx;
    const NkConv *d = t->d;
    int64_t C = d->c;
    for (int64_t r = begin; r < end; r++) {
        int64_t img = r / d->oh, oy = r % d->oh, iy0 = oy * d->sh - d->ph, ky0, ky1;
        valid_taps(iy0, d->dh, d->kh, d->h, &ky0, &ky1);
        const float *in = t->in + img * d->h * d->w * C;
        for (int64_t ox = 0; ox < d->ow; ox++) {
            int64_t ix0 = ox * d->sw - d->pw, kx0, kx1, off = (r * d->ow + ox) * C, c0 = 0;
            valid_taps(ix0, d->dw, d->kw, d->w, &kx0, &kx1);
            for (; c0 + NK_DW_VECS * NK_VL <= C; c0 += NK_DW_VECS * NK_VL)
                dw_pixel_block(NK_DW_VECS, 0, t, in, iy0, ix0, ky0, ky1, kx0, kx1, off, c0, NK_VL);
            for (; c0 + NK_VL <= C; c0 += NK_VL)
                dw_pixel_block(1, 0, t, in, iy0, ix0, ky0, ky1, kx0, kx1, off, c0, NK_VL);
            if (c0 < C)
                dw_pixel_block(1, 1, t, in, iy0, ix0, ky0, ky1, kx0, kx1, off, c0, C - c0);
        }
        if (nk_act_is_math(d->act)) /* the residual is in already */
            nk_finish(t->out + r * d->ow * C, NULL, d->ow * C, d->act);
    }
}

/* ------------------------------------------------------------ nk_conv2d */

void nk_conv2d(const NkConv *d, const float *in, const float *packed, const float *residual,
               float *out, float *scratch)
{
    int64_t M = d->n * d->oh * d->ow;
    if (M <= 0 || d->oc <= 0)
        return;
    if (is_depthwise(d)) {
        NkDwTask t = {d, in, packed, residual, out, 0.0f, 0.0f};
        nk_act_clamp(d->act, &t.lo, &t.hi);
        nk_parallel_for(d->n * d->oh, 1, d->kh == 3 && d->kw == 3 ? dw_rows : dw_pixels, &t);
        return;
    }
    int64_t cg = conv_cg(d), og = conv_og(d), K = conv_k(d);
    int64_t cols = nk_gemm_panels(og, NK_NR) * NK_NR;
    NkIm2col ic = {d, in};
    NkRows rows = {in, d->c, cg};
    int pw = is_pointwise(d);
    NkGemm g = {
        .batch = d->groups, .m = M, .n = og, .k = K,
        .pack_a = pw ? nk_gemm_pack_rows : nk_im2col,
        .a_src = pw ? (const void *)&rows : (const void *)&ic,
        .b = packed, .b_bstride = cols * K,
        .bias = packed + d->groups * cols * K, .bias_bstride = cols,
        .c = out, .ldc = d->oc, .c_bstride = og,
        .res = residual, .ldr = d->oc, .res_bstride = og,
        .act = d->act,
    };
    nk_gemm_parallel(&g, scratch);
}
