/*
 * bench_sparse.c — the sparse kernels (nk_spconv2d, nk_splinear) against
 * the dense ones (nk_conv2d, nk_linear) on ResNet-50's and ViT-B/16's
 * layer shapes, in the kernel variant this binary is linked with
 * (bench_sparse_avx2, _avx512): the data behind the per-layer cost model
 * (nk_sparse_wins, docs/native.md "Sparse weights").
 *
 *   bench_sparse [--runs N] [--threads N]
 *
 * Per shape: the dense time, then for densities 0.5, 0.3, 0.2, 0.1, 0.05
 * (random zeros) the sparse time and dense/sparse, medians (bench_time.h),
 * and what nk_sparse_wins picks ('*').
 */
#include "../runtime/native/nk.h"
#include "../runtime/native/nk_sparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_time.h"

typedef struct Shape {
    const char *name;
    int linear;
    NkConv c; /* linear: m = n, k = c, n = oc */
} Shape;

#define CONV(nm, hw, ci, co, k, s) {nm, 0, {1, hw, hw, ci, co, ((hw) + 2 * ((k) / 2) - (k)) / (s) + 1, ((hw) + 2 * ((k) / 2) - (k)) / (s) + 1, k, k, s, s, (k) / 2, (k) / 2, 1, 1, 1, NK_ACT_RELU}}
#define LIN(nm, rows, depth, outs) {nm, 1, {.n = rows, .c = depth, .oc = outs}}
static const Shape shapes[] = {
    CONV("rn50 56 1x1 64-64", 56, 64, 64, 1, 1),
    CONV("rn50 56 3x3 64-64", 56, 64, 64, 3, 1),
    CONV("rn50 56 1x1 64-256", 56, 64, 256, 1, 1),
    CONV("rn50 56 1x1 256-64", 56, 256, 64, 1, 1),
    CONV("rn50 28 3x3 128-128", 28, 128, 128, 3, 1),
    CONV("rn50 28 1x1 512-128", 28, 512, 128, 1, 1),
    CONV("rn50 14 3x3 256-256", 14, 256, 256, 3, 1),
    CONV("rn50 14 1x1 256-1024", 14, 256, 1024, 1, 1),
    CONV("rn50 7 3x3 512-512", 7, 512, 512, 3, 1),
    CONV("rn50 7 1x1 2048-512", 7, 2048, 512, 1, 1),
    CONV("rn50 stem 7x7 s2", 224, 3, 64, 7, 2),
    LIN("vit qkv 768-2304", 197, 768, 2304),
    LIN("vit proj 768-768", 197, 768, 768),
    LIN("vit mlp 768-3072", 197, 768, 3072),
    LIN("vit mlp 3072-768", 197, 3072, 768),
};

static const double densities[] = {0.5, 0.3, 0.2, 0.1, 0.05};

typedef struct Run {
    const Shape *s;
    NkLinear l;
    float *x, *packed, *res, *y, *scratch;
    int sparse;
} Run;

static void run(void *ctx)
{
    Run *r = ctx;
    if (r->s->linear)
        (r->sparse ? nk_splinear : nk_linear)(&r->l, r->x, r->packed, NULL, r->y, r->scratch);
    else
        (r->sparse ? nk_spconv2d : nk_conv2d)(&r->s->c, r->x, r->packed, NULL, r->y, r->scratch);
}

static float *randoms(int64_t n, double density)
{
    float *p = malloc((size_t)n * sizeof *p);
    uint32_t st = 12345;
    for (int64_t i = 0; i < n; i++) {
        st = st * 1664525u + 1013904223u;
        double u = (st >> 8) / 16777216.0;
        st = st * 1664525u + 1013904223u;
        p[i] = u < density ? (float)((st >> 8) / 8388608.0 - 1.0) : 0.0f;
    }
    return p;
}

int main(int argc, char **argv)
{
    int runs = 5, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
    }
    NkIsa isa = nk_kernel_isa();
    if (!nk_isa_runs_here(isa)) {
        printf("this CPU cannot run the %s kernels\n", nk_isa_name(isa));
        return 77;
    }
    nk_set_threads(threads);
    const NkTiling *t = nk_tiling(isa);
    printf("kernels %s, %d thread(s); ms, dense/sparse, * = nk_sparse_wins picks sparse\n\n",
           nk_isa_name(isa), threads);
    printf("| shape | m | k | o | dense ms |");
    for (size_t i = 0; i < sizeof densities / sizeof *densities; i++)
        printf(" %.0f%% nz |", densities[i] * 100);
    printf("\n|---|---|---|---|---|");
    for (size_t i = 0; i < sizeof densities / sizeof *densities; i++)
        printf("---|");
    printf("\n");
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const Shape *s = &shapes[si];
        const NkConv *c = &s->c;
        Run r = {.s = s};
        int64_t m = s->linear ? c->n : c->oh * c->ow, k = s->linear ? c->c : c->kh * c->kw * c->c;
        r.l = (NkLinear){.m = c->n, .k = c->c, .n = c->oc};
        int64_t in = s->linear ? m * k : c->h * c->w * c->c, wn = k * c->oc;
        r.x = randoms(in, 1.0);
        r.y = malloc((size_t)(m * c->oc) * sizeof(float));
        float *w = randoms(wn, 1.0);
        int64_t pf = s->linear ? nk_linear_packed_floats(&r.l, t) : nk_conv2d_packed_floats(c, t);
        int64_t sc = s->linear ? nk_linear_scratch(&r.l, t, threads) : nk_conv2d_scratch(c, t, threads);
        r.packed = malloc((size_t)pf * sizeof(float));
        r.scratch = malloc((size_t)(sc > 0 ? sc : 1) * sizeof(float));
        if (s->linear)
            nk_linear_pack(&r.l, t, w, NULL, r.packed);
        else
            nk_conv2d_pack(c, t, w, NULL, r.packed);
        double dense = median_s(run, &r, runs);
        printf("| %s | %lld | %lld | %lld | %.3f |", s->name, (long long)m, (long long)k,
               (long long)c->oc, dense * 1e3);
        free(r.packed), free(r.scratch), free(w);
        for (size_t di = 0; di < sizeof densities / sizeof *densities; di++) {
            w = randoms(wn, densities[di]);
            NkSpWeight sw = s->linear ? nk_splinear_weight(&r.l, w) : nk_spconv2d_weight(c, w);
            r.packed = malloc((size_t)nk_sparse_packed_floats(&sw) * sizeof(float));
            nk_sparse_pack(&sw, NULL, r.packed);
            sc = s->linear ? nk_splinear_scratch(&r.l, t, threads) : nk_spconv2d_scratch(c, t, threads);
            r.scratch = malloc((size_t)sc * sizeof(float));
            r.sparse = 1;
            double sp = median_s(run, &r, runs);
            r.sparse = 0;
            int im2col = !s->linear && nk_spconv2d_im2col(c);
            int pick = nk_sparse_wins(isa, im2col, wn, nk_sparse_zeros(&sw));
            printf(" %.3f %.2fx%s |", sp * 1e3, dense / sp, pick ? "*" : "");
            free(r.packed), free(r.scratch), free(w);
        }
        printf("\n");
        free(r.x), free(r.y);
    }
    return 0;
}
