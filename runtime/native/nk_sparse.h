/*
 * nk_sparse.h — sparse-weight kernels (sparse.c): conv2d and linear layers
 * whose weights are mostly exact zeros, computed from the nonzeros only.
 * Same calls as nk_conv2d / nk_linear (descriptor, input, packed weights,
 * residual, output, scratch; same fused epilogue), different packing, so
 * the backend picks per layer (backends/llvm/lower.c, nk_sparse_wins).
 *
 * Packed weights (nk_sparse_pack; the same bytes for every ISA): the
 * weight matrix W[o, k] in the dense kernels' k order (conv: k = tap·c +
 * ci) is cut into groups of NK_SP_ROWS = 4 output rows and K blocks of
 * NK_SP_KB = 128. A segment (group g, K block b) holds, for each i below
 * its count (the largest nonzero count of its rows in the block), one
 * entry: the k of row r's i-th nonzero in the block for r = 0..3 (int32),
 * then the four weights (float); a row with fewer nonzeros is padded with
 * (k = 0, w = 0) entries. Layout, in 32-bit words, nkb = ceil(k / 128):
 *   start[G·nkb + 1]  (int32) first entry of segment (g, b) at g·nkb + b,
 *                     padded to 16 words
 *   bias[round16(o)]
 *   entries[E][8]     (k0 k1 k2 k3 w0 w1 w2 w3), segments in (g, b) order
 * with G = ceil(o/4). The padding makes the four rows one loop, so each
 * step feeds four independent accumulator chains; at 90 % sparsity it
 * costs ~25 % more entries than nonzeros.
 *
 * Only groups == 1 convolutions (nk_spconv2d_supported); others stay
 * dense. A zero weight is skipped, so 0·inf does not give the NaN the
 * dense kernel's multiply would.
 */
#ifndef NETC_NK_SPARSE_H
#define NETC_NK_SPARSE_H

#include "nk.h"

#include <stdint.h>

#define NK_SP_ROWS 4
#define NK_SP_KB 128

/* Where W[o][kk] sits in a PyTorch weight: conv [oc][cg][kh·kw] with kk =
 * tap·cg + ci (taps = kh·kw), linear [n][k] (taps = 1, cg = k). */
typedef struct NkSpWeight {
    const float *w;
    int64_t o, cg, taps;
} NkSpWeight;

static inline float nk_sp_weight_at(const NkSpWeight *s, int64_t o, int64_t kk)
{
    int64_t tap = kk / s->cg, ci = kk % s->cg;
    return s->w[(o * s->cg + ci) * s->taps + tap];
}

/* The exact zeros among W's o·cg·taps weights. */
int64_t nk_sparse_zeros(const NkSpWeight *s);
/* Packed size in floats (depends on where the zeros are). */
int64_t nk_sparse_packed_floats(const NkSpWeight *s);
/* bias may be NULL (zeros). */
void nk_sparse_pack(const NkSpWeight *s, const float *bias, float *packed);

/* The weight views of the two layer kinds. */
NkSpWeight nk_spconv2d_weight(const NkConv *d, const float *weight);
NkSpWeight nk_splinear_weight(const NkLinear *d, const float *weight);

/* Whether nk_spconv2d computes d (groups == 1), and whether it gathers
 * im2col rows for it (every conv but 1x1 stride 1 unpadded, whose input
 * rows are read in place). */
int nk_spconv2d_supported(const NkConv *d);
int nk_spconv2d_im2col(const NkConv *d);

/* Scratch floats, like nk_conv2d_scratch / nk_linear_scratch (t: the
 * target's tiling, whose vector length sets the pixel panel). */
int64_t nk_spconv2d_scratch(const NkConv *d, const NkTiling *t, int threads);
int64_t nk_splinear_scratch(const NkLinear *d, const NkTiling *t, int threads);

void nk_spconv2d(const NkConv *d, const float *in, const float *packed, const float *residual,
                 float *out, float *scratch);
void nk_splinear(const NkLinear *d, const float *in, const float *packed, const float *residual,
                 float *out, float *scratch);

/* nk_mha (nk.h) with either projection sparse: in_proj / out_proj packed
 * by nk_sparse_pack when sparse_in / sparse_out, else by nk_linear_pack. */
typedef struct NkSpMha {
    NkMha mha;
    int64_t sparse_in, sparse_out;
} NkSpMha;
int64_t nk_spmha_scratch(const NkSpMha *d, const NkTiling *t, int threads);
void nk_spmha(const NkSpMha *d, const float *x, const float *in_proj, const float *out_proj,
              float *out, float *scratch);

/*
 * The per-layer choice, a cost model calibrated on ResNet-50's and
 * ViT-B/16's layers through the JIT (docs/native.md "Sparse weights"):
 * sparse when the share of nonzero weights is below a threshold per ISA
 * and kind of input panel,
 *                     rows (linear, 1x1 stride-1 conv)   im2col (other convs)
 *   AVX-512 (+VNNI)   0.35                               0.28
 *   AVX2, SSE2        0.40                               0.33
 * (im2col rows cost more to gather and transpose than rows read in place,
 * and the dense AVX-512 GEMM is closer to peak than the AVX2 one). Below
 * the threshold every measured layer ran faster sparse; at 0.5 every
 * layer is slower, so a 50 % sparse net stays dense.
 */
int nk_sparse_wins(NkIsa isa, int im2col, int64_t weights, int64_t zeros);

#endif
