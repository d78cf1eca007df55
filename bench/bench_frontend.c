/*
 * bench_frontend.c — how long the front end takes on each example.
 *
 *   bench_frontend [RUNS] [EXAMPLES_DIR]
 *
 * For every example, runs parse + elaboration (shape inference included)
 * and the IR verifier RUNS times (default 51) after one warm-up and prints
 * the median and the fastest/slowest run in milliseconds, plus graph sizes.
 * bench/run.sh puts PyTorch's time to construct the same torchvision model
 * beside it as the baseline, when PyTorch is installed.
 */
#include "../frontend/elab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 51;
    const char *dir = argc > 2 ? argv[2] : "examples";
    static const char *const models[] = {"mlp", "lenet", "resnet18", "resnet50", "mobilenet_v2",
                                         "vgg16", "vit_b_16", "vit_ti_16"};
    if (runs < 1)
        runs = 1;
    double *t = malloc((size_t)runs * sizeof *t);
    printf("%-14s %7s %7s %11s %10s %10s %10s\n", "model", "nodes", "params", "param elems", "median ms",
           "min ms", "max ms");
    for (size_t m = 0; m < sizeof models / sizeof *models; m++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.net", dir, models[m]);
        int nodes = 0, nparams = 0;
        int64_t elems = 0;
        for (int r = -1; r < runs; r++) {
            double t0 = now_ms();
            Arena *a = arena_new();
            Diag *d = diag_new(stderr);
            IrGraph *g = elab_file(a, d, path, NULL);
            if (!g || !ir_verify(g, d)) {
                fprintf(stderr, "bench_frontend: %s failed\n", path);
                return 1;
            }
            nodes = g->nnodes, nparams = g->nparams, elems = 0;
            for (int i = 0; i < g->nparams; i++)
                elems += shape_numel(&g->params[i]->shape);
            ir_graph_free(g);
            diag_free(d);
            arena_free(a);
            if (r >= 0)
                t[r] = now_ms() - t0;
        }
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        printf("%-14s %7d %7d %11lld %10.3f %10.3f %10.3f\n", models[m], nodes, nparams, (long long)elems,
               t[runs / 2], t[0], t[runs - 1]);
    }
    free(t);
    return 0;
}
