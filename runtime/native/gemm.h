/*
 * gemm.h — the packed GEMM core shared by gemm.c (linear, matmul) and
 * conv.c (implicit-GEMM convolution). Private to runtime/native.
 *
 * C[m, n] = A[m, k] · B[k, n] (+ bias, + residual, activation), where
 *   - B is packed ahead of time into panels of NK_NR columns, each panel
 *     [k][NK_NR] row-major and zero-padded past n, panels one after another
 *     ([ceil(n/NK_NR)][k][NK_NR]); the micro-kernel reads one panel row as
 *     NK_NR/NK_VL vectors; a last panel of at most NK_NR/2 columns is
 *     [k][NK_NR/2] (nk_gemm_panel_width);
 *   - A is never read in place: a pack callback copies an MR-row, kc-column
 *     block of it into scratch (plain rows for linear/matmul, im2col for
 *     convolution) in the layout the micro-kernel wants.
 * A "batch" of independent GEMMs sharing the shape (conv groups, matmul
 * batches) runs in one parallel index space; each operand has a batch
 * stride.
 *
 * The tile sizes differ per ISA build (nk_isa.h). The packed B layout and
 * the scratch sizes depend on them, so the functions netc calls at build
 * time (packing, sizing) take an NkTiling — the target's — while the
 * kernels use their own build's constants.
 */
#ifndef NETC_NK_GEMM_H
#define NETC_NK_GEMM_H

#include <math.h>
#include <stdint.h>

#include "nk.h"

/* The blocking (NK_MR × NK_NR micro-tile, NK_KC, NK_MB_TILES) is the
 * build's row of nk_isa.h. */
#include "nk_isa.h"

/* Vectors per micro-tile row (2 in every build, nk_isa.h). */
#define NK_NV (NK_NR / NK_VL)

/* This build's blocking as the NkTiling its own sizing functions take. */
#define NK_BUILD_TILING                                                                    \
    ((const NkTiling){NK_MR, NK_NR, NK_KC, NK_MB_TILES, NK_QMR, NK_QNR, NK_QKG, NK_QMB_TILES})


/* Copies A[p0 .. p0+m, k0 .. k0+kc) of batch item bi into dst, laid out as
 * chunks of 16 columns: element (i, k) at dst[(k/16)*m*16 + i*16 + k%16]
 * (m <= NK_MR). The last chunk may be partial; its tail is not read. */
typedef void (*NkPackA)(const void *src, int64_t bi, int64_t p0, int64_t m, int64_t k0,
                        int64_t kc, float *dst);

typedef struct NkGemm {
    int64_t batch, m, n, k;
    NkPackA pack_a;
    const void *a_src;
    const float *b;         /* panels, b_bstride floats per batch item */
    const float *bias;      /* ceil(n/NK_NR)*NK_NR floats per item, or NULL */
    float *c;               /* row stride ldc, c_bstride per item */
    const float *res;       /* residual (row stride ldr), or NULL */
    int64_t b_bstride, bias_bstride, ldc, c_bstride, ldr, res_bstride;
    int64_t act;
} NkGemm;

/* A source of plain rows for nk_gemm_pack_rows: row i of item bi at
 * a + bi*bstride + i*lda. */
typedef struct NkRows {
    const float *a;
    int64_t lda, bstride;
} NkRows;
void nk_gemm_pack_rows(const void *src, int64_t bi, int64_t p0, int64_t m, int64_t k0,
                       int64_t kc, float *dst);

/* The NkPackA of a convolution (conv.c), batch item = group: im2col rows
 * of d's input, zeros for padding. With m = 1 the row is contiguous
 * (dst[k - k0]); kc <= NK_KC, and it writes whole 16-float chunks, up
 * to dst + round16(kc). The sparse kernels (sparse.c) gather rows with it too. */
typedef struct NkIm2col {
    const NkConv *d;
    const float *in;
} NkIm2col;
void nk_im2col(const void *src, int64_t g, int64_t p0, int64_t m, int64_t k0, int64_t kc,
               float *dst);

/* Panels of width nr covering n columns. */
static inline int64_t nk_gemm_panels(int64_t n, int64_t nr) { return (n + nr - 1) / nr; }

/* The row stride of panel j: nr, except a last panel whose columns fit in
 * half of it, which is stored (and computed) nr/2 wide, so a layer with
 * 16 output channels does not run 32-wide AVX-512 tiles half empty. It
 * still starts at j·k·nr and the allocation is unchanged. */
static inline int64_t nk_gemm_panel_width(int64_t n, int64_t j, int64_t nr)
{
    return n - j * nr <= nr / 2 ? nr / 2 : nr;
}

/* Packs B[k, n], element (kk, j) at b[kk*sk + j*sn], into panels of width
 * nr (with the zero padding) at dst: nk_gemm_panels(n, nr) * nr * k floats. */
void nk_gemm_pack_b(const float *b, int64_t k, int64_t n, int64_t sk, int64_t sn, int64_t nr,
                    float *dst);

/* Scratch floats one thread needs for nk_gemm_run with tiling t. */
int64_t nk_gemm_thread_scratch(const NkTiling *t);
/* The parallel index space: batch × pixel blocks × panels. */
int64_t nk_gemm_items(const NkGemm *g);
/* Computes items [begin, end) with this thread's scratch. */
void nk_gemm_run(const NkGemm *g, int64_t begin, int64_t end, float *scratch);
/* Runs the whole GEMM over the thread pool; scratch holds
 * nk_gemm_thread_scratch() floats per thread. */
void nk_gemm_parallel(const NkGemm *g, float *scratch);

/* The part of act an epilogue applies as a clamp to [lo, hi], two cheap
 * ops in every copy of a kernel: relu [0, inf], relu6 [0, 6], none (and
 * GELU, which follows as a separate nk_finish pass) [-inf, inf]. */
static inline void nk_act_clamp(int64_t act, float *lo, float *hi)
{
    *lo = act == NK_ACT_RELU || act == NK_ACT_RELU6 ? 0.0f : -INFINITY;
    *hi = act == NK_ACT_RELU6 ? 6.0f : INFINITY;
}

/* nk_linear for d->m == 1 (gemv.c): the same packed weights, streamed. */
void nk_gemv_linear(const NkLinear *d, const float *x, const float *packed, const float *residual,
                    float *out);

/* c[i] = act(c[i] + res[i]) over n floats (res may be NULL). */
void nk_finish(float *c, const float *res, int64_t n, int64_t act);

#endif
