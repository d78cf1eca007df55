/*
 * bench_frontend.c — how long the front end and the graph passes take on
 * each example.
 *
 *   bench_frontend [RUNS] [EXAMPLES_DIR] [PASS_RUNS]
 *
 * For every example:
 *   - parse + elaboration (shape inference included) and the IR verifier,
 *     RUNS times (default 51) after one warm-up: median, fastest and
 *     slowest run in milliseconds, plus graph sizes;
 *   - the -O2 default pass pipeline, PASS_RUNS times (default 7) on a fresh
 *     graph with seed-1 weights bound (fold-bn and fold-constants rewrite
 *     weights): the median of the pass manager's --time-passes table, per
 *     pass and in total. Weights are initialized once and copied per run,
 *     so the runs time the passes, not the initializer.
 * The second table is markdown; bench/run.sh adds PyTorch's time to
 * construct the same torchvision model to each row, when PyTorch is
 * installed.
 */
#include "../frontend/elab.h"
#include "../passes/pass.h"
#include "../runtime/init.h"
#include "../runtime/weights.h"

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

/* Sorts x in place. */
static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return x[n / 2];
}

enum { MAX_PASSES = 32 };

/* One run of pipeline p on a fresh graph of path bound to copies of w's
 * tensors; reads the --time-passes table back: ms[i] for the i-th pass
 * run, *total. Returns the number of rows, or -1. */
static int time_pipeline(const char *path, const IrGraph *w, const PassPipeline *p, char names[][64],
                         double *ms, double *total)
{
    Arena *a = arena_new();
    Diag *d = diag_new(stderr);
    IrGraph *g = elab_file(a, d, path, NULL);
    TensorList l = {0};
    for (int i = 0; g && i < w->nparams; i++)
        rt_tlist_add(&l, w->params[i]->name, tensor_to_f32(w->params[i]->data));
    char *table = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&table, &len);
    PassRunOptions o = {.time_passes = true, .time_to = f};
    bool ok = g && rt_weights_bind(g, &l, "seed-1 weights", true, d) && pass_pipeline_run(p, g, &o, d);
    fclose(f);
    int n = 0;
    *total = -1;
    /* Rows are "  WALL_MS  PCT%  NODES  NAME"; the last is named "total". */
    for (char *line = strtok(table, "\n"); ok && line; line = strtok(NULL, "\n")) {
        double t;
        const char *name = strrchr(line, ' ');
        if (sscanf(line, " %lf", &t) != 1 || !name)
            continue;
        if (!strcmp(name + 1, "total"))
            *total = t;
        else if (n < MAX_PASSES) {
            snprintf(names[n], 64, "%s", name + 1);
            ms[n++] = t;
        }
    }
    free(table);
    rt_tlist_free(&l);
    ir_graph_free(g);
    diag_free(d);
    arena_free(a);
    return ok && *total >= 0 ? n : -1;
}

/* The pass table of every example: median per pass and in total. */
static int bench_passes(const char *dir, const char *const *models, size_t nmodels, int runs)
{
    PassPipeline *p = pass_pipeline_default(2);
    char names[MAX_PASSES][64];
    double *t = malloc((size_t)runs * (MAX_PASSES + 1) * sizeof *t), ms[MAX_PASSES];
    printf("\n-O2 pipeline: %s (median of %d runs, ms)\n\n", pass_pipeline_text(p), runs);
    for (size_t m = 0; m < nmodels; m++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.net", dir, models[m]);
        Arena *a = arena_new();
        Diag *d = diag_new(stderr);
        IrGraph *w = elab_file(a, d, path, NULL);
        int n = -1;
        if (w && rt_init_weights(w, 1, d)) {
            for (int r = -1; r < runs; r++) {
                double total;
                n = time_pipeline(path, w, p, names, ms, &total);
                if (n < 0)
                    break;
                if (r < 0)
                    continue; /* warm-up */
                for (int i = 0; i < n; i++)
                    t[(size_t)i * runs + r] = ms[i];
                t[(size_t)n * runs + r] = total;
            }
        }
        ir_graph_free(w);
        diag_free(d);
        arena_free(a);
        if (n < 0) {
            fprintf(stderr, "bench_frontend: the -O2 pipeline failed on %s\n", path);
            return 1;
        }
        if (m == 0) {
            printf("| model | passes total |");
            for (int i = 0; i < n; i++)
                printf(" %s |", names[i]);
            printf("\n|---|---:|");
            for (int i = 0; i < n; i++)
                printf("---:|");
            printf("\n");
        }
        printf("| %s |", models[m]);
        printf(" %.3f |", median(t + (size_t)n * runs, runs));
        for (int i = 0; i < n; i++)
            printf(" %.3f |", median(t + (size_t)i * runs, runs));
        printf("\n");
    }
    free(t);
    pass_pipeline_free(p);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 51;
    const char *dir = argc > 2 ? argv[2] : "examples";
    int pass_runs = argc > 3 ? atoi(argv[3]) : 7;
    static const char *const models[] = {
        "mlp",           "lenet",     "resnet18",      "resnet50",           "mobilenet_v2",
        "vgg16",         "vit_b_16",  "vit_ti_16",     "squeezenet1_1",      "shufflenet_v2_x1_0",
        "efficientnet_b0", "densenet121", "convnext_tiny"};
    if (runs < 1)
        runs = 1;
    double *t = malloc((size_t)runs * sizeof *t);
    printf("%-18s %7s %7s %11s %10s %10s %10s\n", "model", "nodes", "params", "param elems", "median ms",
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
        printf("%-18s %7d %7d %11lld %10.3f %10.3f %10.3f\n", models[m], nodes, nparams, (long long)elems,
               t[runs / 2], t[0], t[runs - 1]);
    }
    free(t);
    return bench_passes(dir, models, sizeof models / sizeof *models, pass_runs < 1 ? 1 : pass_runs);
}
