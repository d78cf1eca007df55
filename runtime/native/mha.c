/*
 * mha.c — nk_mha: torch.nn.MultiheadAttention (batch_first, self-attention,
 * no mask, eval) composed from the other kernels, in ref_mha's order:
 *
 *   qkv    = x · in_proj^T + in_bias            nk_linear, [b*l, 3e]
 *   q     /= sqrt(head_dim)                     in place, as torch scales q
 *   for each batch item:
 *     S_h  = q_h · k_h^T                         nk_matmul, batch = heads
 *     P_h  = softmax(S_h) along the last dim     nk_softmax
 *     O_h  = P_h · v_h                           nk_matmul, batch = heads
 *     attn[:, h*hd:(h+1)*hd] = O_h               nk_copy (concat of heads)
 *   out    = attn · out_proj^T + out_bias        nk_linear, [b*l, e]
 *
 * Heads read q, k and v in place inside the qkv rows (row stride 3e, head h
 * at column offset h*hd; k^T is the matmul's trans_b), so nothing is
 * re-laid out before the products. nk_matmul writes each head's [l, hd]
 * result contiguously, hence the one copy into the concatenated layout.
 * Every step parallelizes inside its own kernel and is independent of the
 * thread count, so the whole is too.
 *
 * nk_spmha (nk_sparse.h) is the same with either projection on the
 * sparse kernels (nk_splinear), packed by nk_sparse_pack.
 *
 * Scratch, each region rounded to 16 floats (whole cache lines):
 *   qkv [b*l, 3e] | attn [b*l, e] | scores [heads, l, l] | heads' outputs
 *   [heads, l, hd] | the largest scratch any of the inner kernels asks for.
 */
#include "nk.h"
#include "nk_sparse.h"
#include "nk_vec.h"

#include <math.h>

static int64_t round16(int64_t x) { return (x + 15) & ~(int64_t)15; }

/* The descriptors of the inner kernels; one place, for sizing and running. */
typedef struct MhaPlan {
    NkLinear in_proj, out_proj;
    NkMatmul scores, values;
    NkSoftmax softmax;
    NkCopy concat;
    int64_t hd;
} MhaPlan;

static MhaPlan mha_plan(const NkMha *d)
{
    int64_t e = d->e, l = d->l, h = d->heads, hd = e / h;
    MhaPlan p = {
        .in_proj = {.m = d->b * l, .k = e, .n = 3 * e, .act = NK_ACT_NONE},
        .out_proj = {.m = d->b * l, .k = e, .n = e, .act = NK_ACT_NONE},
        /* S_h[i, j] = sum_c q[i, h*hd + c] · k[j, h*hd + c] */
        .scores = {.batch = h, .m = l, .k = hd, .n = l, .lda = 3 * e, .a_bstride = hd,
                   .ldb = 3 * e, .b_bstride = hd, .trans_b = 1},
        /* O_h[i, c] = sum_j P_h[i, j] · v[j, h*hd + c] */
        .values = {.batch = h, .m = l, .k = l, .n = hd, .lda = l, .a_bstride = l * l,
                   .ldb = 3 * e, .b_bstride = hd, .trans_b = 0},
        .softmax = {.outer = h * l, .dim = l, .inner = 1},
        /* [heads, l, hd] -> [l, heads, hd] */
        .concat = {.rank = 3, .dims = {h, l, hd}, .strides = {l * hd, hd, 1},
                   .out_strides = {hd, e, 1}},
        .hd = hd,
    };
    return p;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Floats before the inner kernels' scratch. */
static int64_t mha_regions(const NkMha *d, int64_t *attn, int64_t *scores, int64_t *heads,
                           int64_t *inner)
{
    int64_t rows = d->b * d->l;
    *attn = round16(rows * 3 * d->e);
    *scores = *attn + round16(rows * d->e);
    *heads = *scores + round16(d->heads * d->l * d->l);
    *inner = *heads + round16(d->l * d->e);
    return *inner;
}

/* The scratch of a projection on the dense or the sparse kernels. */
static int64_t proj_scratch(const NkLinear *d, const NkTiling *t, int threads, int64_t sparse)
{
    return sparse ? nk_splinear_scratch(d, t, threads) : nk_linear_scratch(d, t, threads);
}

static int64_t mha_scratch(const NkMha *d, const NkTiling *t, int threads, int64_t sp_in,
                           int64_t sp_out)
{
    MhaPlan p = mha_plan(d);
    int64_t attn, scores, heads, inner;
    mha_regions(d, &attn, &scores, &heads, &inner);
    int64_t s = max64(max64(proj_scratch(&p.in_proj, t, threads, sp_in),
                            proj_scratch(&p.out_proj, t, threads, sp_out)),
                      max64(nk_matmul_scratch(&p.scores, t, threads),
                            nk_matmul_scratch(&p.values, t, threads)));
    return inner + s;
}

int64_t nk_mha_scratch(const NkMha *d, const NkTiling *t, int threads)
{
    return mha_scratch(d, t, threads, 0, 0);
}

int64_t nk_spmha_scratch(const NkSpMha *d, const NkTiling *t, int threads)
{
    return mha_scratch(&d->mha, t, threads, d->sparse_in, d->sparse_out);
}

typedef struct ScaleJob {
    float *qkv;
    int64_t e;
    float div;
} ScaleJob;

/* q /= sqrt(head_dim) in rows [begin, end) (a division, as torch does). */
static void scale_q_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    const ScaleJob *j = ctx;
    NkVec div = nk_splat(j->div);
    for (int64_t r = begin; r < end; r++) {
        float *q = j->qkv + r * 3 * j->e;
        int64_t i = 0;
        for (; i + NK_VL <= j->e; i += NK_VL)
            nk_store(q + i, nk_load(q + i) / div);
        if (i < j->e)
            nk_store_part(q + i, nk_load_part(q + i, j->e - i, 0.0f) / div, j->e - i);
    }
}

/* A projection: nk_linear or nk_splinear. */
typedef void (*MhaProj)(const NkLinear *d, const float *in, const float *packed,
                        const float *residual, float *out, float *scratch);

static void mha_run(const NkMha *d, const float *x, const float *in_proj, const float *out_proj,
                    float *out, float *scratch, MhaProj in_fn, MhaProj out_fn)
{
    if (d->b <= 0 || d->l <= 0 || d->e <= 0)
        return;
    MhaPlan p = mha_plan(d);
    int64_t attn_at, scores_at, heads_at, inner_at;
    mha_regions(d, &attn_at, &scores_at, &heads_at, &inner_at);
    float *qkv = scratch, *attn = scratch + attn_at, *scores = scratch + scores_at;
    float *heads = scratch + heads_at, *inner = scratch + inner_at;
    int64_t e = d->e, l = d->l;

    in_fn(&p.in_proj, x, in_proj, NULL, qkv, inner);
    ScaleJob sj = {qkv, e, sqrtf((float)p.hd)};
    nk_parallel_for(d->b * l, 16384 / (3 * e) + 1, scale_q_task, &sj);
    for (int64_t b = 0; b < d->b; b++) {
        const float *q = qkv + b * l * 3 * e;
        nk_matmul(&p.scores, q, q + e, scores, inner);
        nk_softmax(&p.softmax, scores, scores);
        nk_matmul(&p.values, scores, q + 2 * e, heads, inner);
        nk_copy(&p.concat, heads, attn + b * l * e);
    }
    out_fn(&p.out_proj, attn, out_proj, NULL, out, inner);
}

void nk_mha(const NkMha *d, const float *x, const float *in_proj, const float *out_proj, float *out,
            float *scratch)
{
    mha_run(d, x, in_proj, out_proj, out, scratch, nk_linear, nk_linear);
}

void nk_spmha(const NkSpMha *d, const float *x, const float *in_proj, const float *out_proj,
              float *out, float *scratch)
{
    mha_run(&d->mha, x, in_proj, out_proj, out, scratch, d->sparse_in ? nk_splinear : nk_linear,
            d->sparse_out ? nk_splinear : nk_linear);
}
