/*
 * qconv.c — nk_qconv2d: NHWC int8 convolution on the int8 GEMM core of
 * qgemm.h, plus a direct kernel for depthwise convolution.
 *
 * GEMM view (per group g), as conv.c's:  out[p, o] = Σ_k A[p, k] · B[k, o]
 *   p = output pixel (image, oy, ox), M = n·oh·ow; o < og = oc/groups;
 *   k = (ky·kw + kx)·cg + ci, K = kh·kw·cg: for one tap the k run is a
 *       contiguous channel run of an NHWC pixel.
 * A row is gathered per pixel (im2col_row) into the thread's row buffer,
 * padding taps filled with zx (they contribute (zx − zx)·w = 0, and the
 * GEMM's folded bias' = bias − zx·Σw needs them present). A 1×1 stride-1
 * unpadded conv reads its rows in place (nk_qrows, row stride c). All
 * groups run as one GEMM batch (channel offsets as batch strides).
 *
 * Packed weights (nk_qconv2d_pack), from PyTorch's [oc][cg][kh][kw]:
 *   GEMM path:  per group the B panels (qgemm.h), then bias' for all
 *               groups ([groups][whole panels]), then the requantization
 *               words (qgemm.h: mult, or k in shift mode) likewise;
 *   depthwise:  int32 [kh·kw][cp] (cp = c rounded up to 16, zeros past c),
 *               then the bias (not folded) and the requantization words,
 *               [cp] each.
 *
 * Depthwise (groups == c == oc) has one weight per (channel, tap): it runs
 * directly on NHWC, vectorized along channels, computing Σ over the taps
 * inside the image of (x − zx)·w in int32 (exact: the pack-time check
 * bounds every partial sum), output rows split over the threads.
 */
#include "qgemm.h"
#include "conv_geom.h"

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t round16(int64_t x) { return (x + 15) & ~(int64_t)15; }

static int is_depthwise(const NkQConv *d) { return NK_CONV_IS_DEPTHWISE(d); }
static int is_pointwise(const NkQConv *d) { return NK_CONV_IS_POINTWISE(d); }
static int64_t conv_cg(const NkQConv *d) { return NK_CONV_CG(d); }
static int64_t conv_og(const NkQConv *d) { return NK_CONV_OG(d); }
static int64_t conv_k(const NkQConv *d) { return NK_CONV_K(d); }
/* Columns of bias' (and of the requantization words) per group. */
static int64_t conv_cols(const NkQConv *d, const NkTiling *t) { return nk_qpanels(conv_og(d), t->qnr) * t->qnr; }

const char *nk_qconv2d_check(const NkQConv *d, const int32_t *bias)
{
    if (d->groups < 1 || d->c % d->groups || d->oc % d->groups)
        return "groups must divide the input and output channels";
    return nk_qcheck(&d->q, conv_k(d), d->oc, bias);
}

int64_t nk_qconv2d_packed_bytes(const NkQConv *d, const NkTiling *t)
{
    if (is_depthwise(d))
        return (d->kh * d->kw + 2) * round16(d->c) * 4;
    return d->groups * (nk_qgemm_b_bytes(conv_k(d), conv_og(d), t) + conv_cols(d, t) * 8);
}

int nk_qconv2d_pack(const NkQConv *d, const NkTiling *t, const int8_t *weight, const int32_t *bias,
                    const float *mult, void *packed)
{
    if (nk_qconv2d_check(d, bias) || nk_qmult_check(&d->q, d->oc, mult))
        return -1;
    int64_t taps = d->kh * d->kw;
    if (is_depthwise(d)) {
        int64_t cp = round16(d->c);
        int32_t *w = packed;
        for (int64_t tap = 0; tap < taps; tap++)
            for (int64_t ch = 0; ch < cp; ch++)
                w[tap * cp + ch] = ch < d->c ? weight[ch * taps + tap] : 0;
        int32_t *b = w + taps * cp;
        uint32_t *rq = (uint32_t *)(b + cp);
        for (int64_t ch = 0; ch < cp; ch++) {
            b[ch] = ch < d->c && bias ? bias[ch] : 0;
            rq[ch] = ch < d->c ? nk_qrequant_word(&d->q, mult[ch]) : 0;
        }
        return 0;
    }
    int64_t cg = conv_cg(d), og = conv_og(d), k = conv_k(d), cols = conv_cols(d, t);
    int64_t bbytes = nk_qgemm_b_bytes(k, og, t);
    uint8_t *p = packed;
    int32_t *pb = (int32_t *)(p + d->groups * bbytes);
    uint32_t *prq = (uint32_t *)(pb + d->groups * cols);
    for (int64_t g = 0; g < d->groups; g++) {
        NkQWeights w = {weight + g * og * cg * taps, cg, 1, taps, cg * taps};
        nk_qgemm_pack(&w, k, og, t, &d->q, bias ? bias + g * og : NULL, mult + g * og, p + g * bbytes,
                      pb + g * cols, prq + g * cols);
    }
    return 0;
}

int64_t nk_qconv2d_scratch(const NkQConv *d, const NkTiling *t, int threads)
{
    if (is_depthwise(d))
        return 0;
    return (int64_t)(threads < 1 ? 1 : threads) * nk_qgemm_thread_scratch(conv_k(d), t);
}

/* ------------------------------------------------------------ GEMM path */

typedef struct NkQIm2col {
    const NkQConv *d;
    const uint8_t *in;
} NkQIm2col;

/* The K bytes of pixel p's row for group g, padding taps as zx. */
static const uint8_t *im2col_row(const void *src, int64_t g, int64_t p, uint8_t *tmp)
{
    const NkQIm2col *s = src;
    const NkQConv *d = s->d;
    int64_t cg = conv_cg(d), hw = d->oh * d->ow;
    int64_t b = p / hw, oy = p % hw / d->ow, ox = p % d->ow;
    int64_t ix0 = ox * d->sw - d->pw, ix1 = ix0 + (d->kw - 1) * d->dw;
    /* A kernel row inside the image, undilated, all channels: its taps are
     * kw·c contiguous bytes of NHWC, one copy (the stem's 7×7 over 3
     * channels would otherwise be 49 copies of 3 bytes per pixel). */
    int whole_rows = d->groups == 1 && d->dw == 1 && ix0 >= 0 && ix1 < d->w;
    for (int64_t ky = 0; ky < d->kh; ky++) {
        int64_t iy = oy * d->sh - d->ph + ky * d->dh;
        uint8_t *dst = tmp + ky * d->kw * cg;
        const uint8_t *row = s->in + (b * d->h + iy) * d->w * d->c;
        if (iy < 0 || iy >= d->h) {
            memset(dst, (int)d->q.zx, (size_t)(d->kw * cg));
        } else if (whole_rows) {
            memcpy(dst, row + ix0 * d->c, (size_t)(d->kw * cg));
        } else {
            for (int64_t kx = 0; kx < d->kw; kx++) {
                int64_t ix = ix0 + kx * d->dw;
                if (ix >= 0 && ix < d->w)
                    memcpy(dst + kx * cg, row + ix * d->c + g * cg, (size_t)cg);
                else
                    memset(dst + kx * cg, (int)d->q.zx, (size_t)cg);
            }
        }
    }
    return tmp;
}

/* ------------------------------------------------------------ depthwise */

typedef struct NkQDw {
    const NkQConv *d;
    const uint8_t *in;
    const int32_t *w, *bias;
    const uint32_t *rq;
    void *out;
} NkQDw;

/* Output rows [begin, end) of all images (row = image·oh + oy). */
static void dw_rows(void *ctx, int64_t begin, int64_t end, int thread)
{
    const NkQDw *s = ctx;
    const NkQConv *d = s->d;
    const NkQOut q = d->q; /* not reloaded after every uint8 store */
    int64_t c = d->c, cp = round16(c);
    for (int64_t row = begin; row < end; row++) {
        int64_t b = row / d->oh, oy = row % d->oh;
        for (int64_t ox = 0; ox < d->ow; ox++) {
            for (int64_t ch = 0; ch < c; ch += NK_VL) {
                int64_t nv = min64(NK_VL, c - ch);
                NkVeci acc;
                memcpy(&acc, s->bias + ch, sizeof acc);
                for (int64_t ky = 0; ky < d->kh; ky++) {
                    int64_t iy = oy * d->sh - d->ph + ky * d->dh;
                    if (iy < 0 || iy >= d->h)
                        continue;
                    for (int64_t kx = 0; kx < d->kw; kx++) {
                        int64_t ix = ox * d->sw - d->pw + kx * d->dw;
                        if (ix < 0 || ix >= d->w)
                            continue;
                        NkQBytes xb = {0};
                        memcpy(&xb, s->in + ((b * d->h + iy) * d->w + ix) * c + ch, (size_t)nv);
                        NkVeci x = __builtin_convertvector(xb, NkVeci) - (int32_t)q.zx, w;
                        memcpy(&w, s->w + (ky * d->kw + kx) * cp + ch, sizeof w);
                        acc += x * w;
                    }
                }
                NkVeci rq;
                memcpy(&rq, s->rq + ch, sizeof rq);
                nk_qrequant_store(&q, (NkQVec)acc, rq, s->out, ((b * d->oh + oy) * d->ow + ox) * c + ch, nv);
            }
        }
    }
}

void nk_qconv2d(const NkQConv *d, const uint8_t *in, const void *packed, void *out, void *scratch)
{
    if (d->n <= 0 || d->oh <= 0 || d->ow <= 0 || d->oc <= 0)
        return;
    const NkTiling *t = &NK_QBUILD_TILING;
    if (is_depthwise(d)) {
        int64_t taps = d->kh * d->kw, cp = round16(d->c);
        const int32_t *w = packed;
        NkQDw s = {d, in, w, w + taps * cp, (const uint32_t *)(w + (taps + 1) * cp), out};
        nk_parallel_for(d->n * d->oh, 1, dw_rows, &s);
        return;
    }
    int64_t k = conv_k(d), og = conv_og(d), cols = conv_cols(d, t);
    int64_t bbytes = nk_qgemm_b_bytes(k, og, t);
    const uint8_t *p = packed;
    const int32_t *bias = (const int32_t *)(p + d->groups * bbytes);
    NkQRows rows = {in, d->c, conv_cg(d)};
    NkQIm2col im = {d, in};
    int pw = is_pointwise(d);
    NkQGemm g = {
        .batch = d->groups, .m = d->n * d->oh * d->ow, .n = og, .k = k,
        .row = pw ? nk_qrows : im2col_row, .a_src = pw ? (const void *)&rows : (const void *)&im,
        .b = p, .b_bstride = bbytes,
        .bias = bias, .rq = (const uint32_t *)(bias + d->groups * cols), .bias_bstride = cols,
        .c = out, .ldc = d->oc, .c_bstride = og,
        .q = d->q,
    };
    nk_qgemm_parallel(&g, scratch);
}
