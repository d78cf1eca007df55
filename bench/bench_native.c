/*
 * bench_native.c — how fast the LLVM backend's code runs the examples, and
 * how close it gets to the machine's peak.
 *
 *   bench_native [options] [MODEL...]          end-to-end latency
 *
 * A MODEL ending in .ir is that file (`netc opt`'s output, e.g. a pruned
 * net) with the weights it wrote beside it (FILE.safetensors).
 *   bench_native --profile [options] MODEL...  where the time goes, per step
 *
 * For every model (default: resnet18 resnet50 mobilenet_v2 vgg16 vit_b_16
 * vit_ti_16 squeezenet1_1 shufflenet_v2_x1_0 efficientnet_b0 densenet121
 * convnext_tiny, each at its default 224x224 input, batch 1): elaborate
 * examples/MODEL.net, bind deterministic weights (seed 1: in process with
 * rt_init_weights, or DIR/MODEL.safetensors written by `netc init --seed 1`
 * when --weights-dir is given — the same tensors either way), JIT-compile
 * once for the largest thread count, then for each thread count: warm-up
 * runs, then timed runs (CLOCK_MONOTONIC around llvm_jit_run_raw), at least
 * --runs of them and more while the --budget-ms lasts. Reported: the
 * median and fastest run, GFLOP/s = 2 * MACs / median (MACs as ir_stats
 * counts them) and that as a share of the peak FP32 FMA throughput measured
 * at the same thread count in the same process (peak.c).
 *
 * --netc PATH also times `netc build examples/resnet50.net --weights W -o
 * DIR` as a subprocess (the ahead-of-time compile a user waits for).
 * --save-io DIR writes DIR/MODEL.input.npy and DIR/MODEL.netc.npy so
 * bench/torch_infer.py can check PyTorch computes the same thing.
 * --tsv FILE writes the results as tab-separated records for bench/native.sh:
 *   model  NAME  GFLOP  COMPILE_MS
 *   run    NAME  THREADS  MEDIAN_MS  MIN_MS  RUNS  GFLOP/S  %PEAK
 *   build  MODEL  MEDIAN_MS  MIN_MS  RUNS
 *   peak   THREADS  GFLOP/S        (the higher of the start and end measurements)
 *
 * --profile compiles with per-step entry points (LlvmOptions.profile) and
 * runs each step of the plan alone, in order, timing each: a table in plan
 * order (layer, kernel, time, GFLOP/s, % of peak, share of the run) per
 * thread count, then the same summed per kernel.
 */
#include "../backends/llvm/llvm_backend.h"
#include "../frontend/elab.h"
#include "../passes/pass.h"
#include "../runtime/init.h"
#include "../runtime/npy.h"
#include "../runtime/weights.h"
#include "../support/fileio.h"
#include "peak.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { MAX_THREAD_COUNTS = 8, MAX_MODELS = 32 };

static const char *const default_models[] = {
    "resnet18",      "resnet50",           "mobilenet_v2",    "vgg16",       "vit_b_16",     "vit_ti_16",
    "squeezenet1_1", "shufflenet_v2_x1_0", "efficientnet_b0", "densenet121", "convnext_tiny"};

typedef struct Options {
    const char *examples;    /* directory of MODEL.net */
    const char *weights_dir; /* MODEL.safetensors from `netc init --seed 1`, or NULL */
    int threads[MAX_THREAD_COUNTS], nthreads;
    int min_runs, warmup;
    double budget_ms;        /* timed runs go on while this lasts (after min_runs) */
    bool profile;
    int passes;              /* --profile: timed passes over the steps */
    const char *netc;        /* time `netc build` with this binary, or NULL */
    const char *build_model;
    int build_runs;
    const char *save_io;     /* write inputs and outputs here, or NULL */
    const char *tsv;         /* machine-readable records, or NULL */
    const char *cpu;         /* --cpu for the JIT and `netc build` (NULL: this machine's) */
    const char *quantize;    /* --quantize: passes run after the default pipeline, or NULL */
    const char *models[MAX_MODELS];
    int nmodels;
} Options;

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

/* Sorts t[0..n) and returns its median (the mean of the middle two when n
 * is even). */
static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static int max_threads(const Options *o)
{
    int m = 1;
    for (int i = 0; i < o->nthreads; i++)
        m = o->threads[i] > m ? o->threads[i] : m;
    return m;
}

/* ---- loading ---- */

/* A model ready to run: its graph (weights bound) and JIT-compiled code. */
typedef struct Model {
    const char *name;
    Arena *arena;
    Diag *diag;
    IrGraph *g;
    LlvmJit *jit;
    double gflop;      /* 2 * MACs / 1e9 */
    double compile_ms; /* the -O3 passes and llvm_jit_compile: lowering, weight packing, LLVM */
    Tensor **in, **out;
    const float **in_ptr;
    float **out_ptr;
} Model;

static void model_free(Model *m)
{
    llvm_jit_free(m->jit);
    for (int i = 0; m->g && i < m->g->ninputs; i++)
        tensor_free(m->in[i]);
    for (int i = 0; m->g && i < m->g->noutputs; i++)
        tensor_free(m->out[i]);
    free(m->in);
    free(m->out);
    free(m->in_ptr);
    free(m->out_ptr);
    ir_graph_free(m->g);
    diag_free(m->diag);
    arena_free(m->arena);
}

/* A graph from a .ir file (netc opt's output), NULL after a message. */
static IrGraph *parse_ir(Diag *d, const char *path)
{
    size_t len;
    char *text = fio_read_all(path, (size_t)1 << 31, &len, d);
    IrGraph *g = text ? ir_parse(path, text, len, d) : NULL;
    free(text);
    return g;
}

/* Elaborates path (or parses it, a .ir) and binds seed-1 weights: from
 * `weights` when given, else generated in process (the same values `netc
 * init --seed 1` writes). */
static IrGraph *load_graph(Arena *a, Diag *d, const char *path, const char *weights)
{
    size_t n = strlen(path);
    IrGraph *g = n > 3 && !strcmp(path + n - 3, ".ir") ? parse_ir(d, path) : elab_file(a, d, path, NULL);
    if (!g)
        return NULL;
    if (!ir_verify(g, d) || !(weights ? rt_weights_load(g, weights, true, d) : rt_init_weights(g, 1, d))) {
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

/* Deterministic inputs, roughly N(0, 1) like a normalised image: the sum of
 * 12 uniforms minus 6, from one splitmix64 stream per input. */
static void fill_input(Tensor *t, uint64_t seed)
{
    float *x = t->data;
    uint64_t s = seed;
    for (int64_t i = 0; i < tensor_numel(t); i++) {
        float v = -6.0f;
        for (int k = 0; k < 12; k++)
            v += rt_init_u01(rt_splitmix64(&s));
        x[i] = v;
    }
}

/* Runs the --quantize pipeline (e.g. quantize,integerize,dce) with the
 * model's own input as the calibration batch, so the activation ranges
 * are those of the data it is timed on. */
static bool quantize_model(Model *m, const char *pipeline)
{
    PassPipeline *p = pass_pipeline_parse(pipeline, m->diag);
    if (!p)
        return false;
    const char *from = "bench input";
    PassEnv env = {.calib = m->in, .calib_files = &from, .ncalib = 1};
    PassRunOptions po = {.env = &env};
    bool ok = pass_pipeline_run(p, m->g, &po, m->diag);
    pass_pipeline_free(p);
    return ok;
}

static bool model_load(Model *m, const char *name, const Options *o, bool profile)
{
    char path[1024], wpath[1024];
    *m = (Model){.name = name, .arena = arena_new(), .diag = diag_new(stderr)};
    snprintf(path, sizeof path, "%s/%s.net", o->examples, name);
    if (o->weights_dir)
        snprintf(wpath, sizeof wpath, "%s/%s.safetensors", o->weights_dir, name);
    size_t n = strlen(name);
    bool is_ir = n > 3 && !strcmp(name + n - 3, ".ir");
    if (is_ir) {
        /* a graph netc opt wrote (a pruned net, say), with its weights beside it */
        snprintf(path, sizeof path, "%s", name);
        snprintf(wpath, sizeof wpath, "%.*s.safetensors", (int)(n - 3), name);
        const char *slash = strrchr(name, '/');
        m->name = slash ? slash + 1 : name; /* in tables and --save-io file names */
    }
    m->g = load_graph(m->arena, m->diag, path, o->weights_dir || is_ir ? wpath : NULL);
    if (!m->g)
        return false;
    IrGraph *g = m->g;
    m->gflop = 2.0 * (double)ir_stats(g, NULL).macs / 1e9;
    m->in = xcalloc((size_t)g->ninputs + 1, sizeof *m->in);
    m->out = xcalloc((size_t)g->noutputs + 1, sizeof *m->out);
    m->in_ptr = xcalloc((size_t)g->ninputs + 1, sizeof *m->in_ptr);
    m->out_ptr = xcalloc((size_t)g->noutputs + 1, sizeof *m->out_ptr);
    for (int i = 0; i < g->ninputs; i++) {
        m->in[i] = tensor_new(DT_F32, &g->inputs[i]->shape);
        if (!m->in[i])
            return false;
        fill_input(m->in[i], 1000 + (uint64_t)i);
        m->in_ptr[i] = m->in[i]->data;
    }
    for (int i = 0; i < g->noutputs; i++) {
        m->out[i] = tensor_new(DT_F32, &g->outputs[i].value->shape);
        if (!m->out[i])
            return false;
        m->out_ptr[i] = m->out[i]->data;
    }
    LlvmOptions lo = {.threads = max_threads(o), .opt_level = 3, .profile = profile, .cpu = o->cpu};
    double t0 = now_ms();
    /* What `netc run --backend=llvm` does at its default -O3: the graph
     * passes (batchnorm folding, ...) first, then the backend. */
    PassPipeline *passes = pass_pipeline_default(3);
    PassRunOptions po = {0};
    bool folded = pass_pipeline_run(passes, g, &po, m->diag);
    pass_pipeline_free(passes);
    if (!folded || (o->quantize && !quantize_model(m, o->quantize)))
        return false;
    m->jit = llvm_jit_compile(g, &lo, m->diag);
    m->compile_ms = now_ms() - t0;
    return m->jit != NULL;
}

/* ---- end-to-end timing ---- */

typedef struct Timing {
    double median_ms, min_ms;
    int runs;
} Timing;

/* Warm-up, then at least o->min_runs timed runs and more while the budget
 * lasts (at most 1000). */
static Timing time_runs(Model *m, const Options *o)
{
    for (int r = 0; r < o->warmup; r++)
        llvm_jit_run_raw(m->jit, m->in_ptr, m->out_ptr);
    double probe = now_ms();
    llvm_jit_run_raw(m->jit, m->in_ptr, m->out_ptr);
    probe = now_ms() - probe;
    int runs = probe > 0 ? (int)(o->budget_ms / probe) : 1000;
    runs = runs < o->min_runs ? o->min_runs : runs > 1000 ? 1000 : runs;
    double *t = xcalloc((size_t)runs, sizeof *t);
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        llvm_jit_run_raw(m->jit, m->in_ptr, m->out_ptr);
        t[r] = now_ms() - t0;
    }
    Timing tm = {.median_ms = median(t, runs), .min_ms = t[0], .runs = runs};
    free(t);
    return tm;
}

/* Copies of the outputs, to check every thread count computes the same. */
static float **outputs_copy(const Model *m)
{
    float **c = xcalloc((size_t)m->g->noutputs + 1, sizeof *c);
    for (int i = 0; i < m->g->noutputs; i++) {
        c[i] = xmalloc(tensor_nbytes(m->out[i]));
        memcpy(c[i], m->out[i]->data, tensor_nbytes(m->out[i]));
    }
    return c;
}

/* Largest |a - b| over the outputs, relative to max |a|; NaN anywhere
 * gives NaN. */
static double outputs_rel_diff(const Model *m, float *const *ref)
{
    double diff = 0, scale = 0;
    for (int i = 0; i < m->g->noutputs; i++) {
        const float *x = m->out[i]->data;
        for (int64_t k = 0; k < tensor_numel(m->out[i]); k++) {
            if (isnan(x[k]) || isnan(ref[i][k]))
                return NAN;
            diff = fmax(diff, fabs((double)x[k] - ref[i][k]));
            scale = fmax(scale, fabs((double)ref[i][k]));
        }
    }
    return scale > 0 ? diff / scale : diff;
}

/* Writes DIR/MODEL.input.npy and DIR/MODEL.netc.npy (the examples have one
 * input and one output; further ones get their index: MODEL.input1.npy). */
static bool save_io(const Model *m, const char *dir)
{
    char path[1024], idx[16];
    bool ok = true;
    for (int i = 0; i < m->g->ninputs && ok; i++) {
        snprintf(idx, sizeof idx, i ? "%d" : "", i);
        snprintf(path, sizeof path, "%s/%s.input%s.npy", dir, m->name, idx);
        ok = rt_npy_write(path, m->in[i], m->diag);
    }
    for (int i = 0; i < m->g->noutputs && ok; i++) {
        snprintf(idx, sizeof idx, i ? "%d" : "", i);
        snprintf(path, sizeof path, "%s/%s.netc%s.npy", dir, m->name, idx);
        ok = rt_npy_write(path, m->out[i], m->diag);
    }
    return ok;
}

static int bench_models(const Options *o, const double *peak, FILE *tsv)
{
    int failed = 0;
    printf("%-18s %7s %10s %7s %10s %10s %5s %8s %7s\n", "model", "GFLOP", "compile s", "threads", "median ms",
           "min ms", "runs", "GFLOP/s", "% peak");
    for (int k = 0; k < o->nmodels; k++) {
        Model m;
        if (!model_load(&m, o->models[k], o, false)) {
            fprintf(stderr, "bench_native: %s: cannot load or compile\n", o->models[k]);
            model_free(&m);
            failed++;
            continue;
        }
        if (tsv)
            fprintf(tsv, "model\t%s\t%.4f\t%.1f\n", m.name, m.gflop, m.compile_ms);
        float **first = NULL;
        for (int t = 0; t < o->nthreads; t++) {
            llvm_jit_set_threads(m.jit, o->threads[t]);
            Timing tm = time_runs(&m, o);
            double gfs = m.gflop / (tm.median_ms / 1e3);
            double pct = peak[t] > 0 ? 100 * gfs / peak[t] : 0;
            printf("%-18s %7.3f %10.2f %7d %10.2f %10.2f %5d %8.1f %7.1f\n", t ? "" : m.name, m.gflop,
                   m.compile_ms / 1e3, o->threads[t], tm.median_ms, tm.min_ms, tm.runs, gfs, pct);
            fflush(stdout);
            if (tsv) {
                fprintf(tsv, "run\t%s\t%d\t%.4f\t%.4f\t%d\t%.2f\t%.2f\n", m.name, o->threads[t], tm.median_ms,
                        tm.min_ms, tm.runs, gfs, pct);
                fflush(tsv);
            }
            if (!first) {
                first = outputs_copy(&m);
                if (o->save_io && !save_io(&m, o->save_io))
                    failed++;
                continue;
            }
            double rel = outputs_rel_diff(&m, first);
            if (!(rel == 0))
                fprintf(stderr, "bench_native: %s: %d threads differ from %d threads (max rel diff %.3g)\n",
                        m.name, o->threads[t], o->threads[0], rel);
        }
        for (int i = 0; first && i < m.g->noutputs; i++)
            free(first[i]);
        free(first);
        model_free(&m);
    }
    return failed;
}

/* ---- per-step profile ---- */

/* One thread count's cells of a profile row: ms, GFLOP/s, % of peak and %
 * of the run's time (total_ms; 0 leaves the cell empty). Steps that only
 * move data (no FLOPs) show "-" for rate and peak. */
static void print_cells(double ms, int64_t flops, double peak, double total_ms)
{
    printf(" | %7.3f", ms);
    if (flops > 0 && ms > 0) {
        double gfs = flops / (ms / 1e3) / 1e9;
        printf(" %8.1f %6.1f", gfs, peak > 0 ? 100 * gfs / peak : 0);
    } else {
        printf(" %8s %6s", "-", "-");
    }
    if (total_ms > 0)
        printf(" %6.1f", 100 * ms / total_ms);
    else
        printf(" %6s", "");
}

static int profile_model(const Options *o, const char *name, const double *peak)
{
    Model m;
    if (!model_load(&m, name, o, true)) {
        fprintf(stderr, "bench_native: %s: cannot load or compile\n", name);
        model_free(&m);
        return 1;
    }
    int n = llvm_jit_steps(m.jit), nt = o->nthreads, passes = o->passes;
    if (n == 0) {
        fprintf(stderr, "bench_native: %s: the JIT has no step entry points\n", name);
        model_free(&m);
        return 1;
    }
    /* step_ms[t * n + i]: median of step i at thread count t; whole[t]: a full run. */
    double *step_ms = xcalloc((size_t)n * nt, sizeof *step_ms);
    double *whole = xcalloc((size_t)nt, sizeof *whole);
    double *t = xcalloc((size_t)n * passes, sizeof *t);
    double *tw = xcalloc((size_t)passes, sizeof *tw);
    for (int ti = 0; ti < nt; ti++) {
        llvm_jit_set_threads(m.jit, o->threads[ti]);
        for (int p = -o->warmup; p < passes; p++) {
            for (int i = 0; i < n; i++) {
                double t0 = now_ms();
                llvm_jit_run_step(m.jit, i, m.in_ptr, m.out_ptr);
                if (p >= 0)
                    t[(size_t)i * passes + p] = now_ms() - t0;
            }
            double t0 = now_ms();
            llvm_jit_run_raw(m.jit, m.in_ptr, m.out_ptr);
            if (p >= 0)
                tw[p] = now_ms() - t0;
        }
        for (int i = 0; i < n; i++)
            step_ms[(size_t)ti * n + i] = median(t + (size_t)i * passes, passes);
        whole[ti] = median(tw, passes);
    }
    free(t);
    free(tw);

    int wl = 5, wk = 6;
    for (int i = 0; i < n; i++) {
        LlvmStepInfo s = llvm_jit_step_info(m.jit, i);
        wl = (int)strlen(s.layer) > wl ? (int)strlen(s.layer) : wl;
        wk = (int)strlen(s.kernel) > wk ? (int)strlen(s.kernel) : wk;
    }
    double *sum = xcalloc((size_t)nt, sizeof *sum);
    for (int ti = 0; ti < nt; ti++)
        for (int i = 0; i < n; i++)
            sum[ti] += step_ms[(size_t)ti * n + i];

    printf("\n== %s: %d steps, %.3f GFLOP, compiled in %.2f s; median of %d passes, each step run alone\n", name, n,
           m.gflop, m.compile_ms / 1e3, passes);
    printf("%4s %-*s %-*s %9s", "step", wl, "layer", wk, "kernel", "MFLOP");
    for (int ti = 0; ti < nt; ti++)
        printf(" | %3dT ms %8s %6s %6s", o->threads[ti], "GFLOP/s", "%peak", "%time");
    printf("\n");
    int64_t total_flops = 0;
    for (int i = 0; i < n; i++) {
        LlvmStepInfo s = llvm_jit_step_info(m.jit, i);
        total_flops += s.flops;
        printf("%4d %-*s %-*s %9.2f", i, wl, s.layer, wk, s.kernel, s.flops / 1e6);
        for (int ti = 0; ti < nt; ti++)
            print_cells(step_ms[(size_t)ti * n + i], s.flops, peak[ti], sum[ti]);
        printf("\n");
    }
    printf("%4s %-*s %-*s %9.2f", "", wl, "sum of steps", wk, "", total_flops / 1e6);
    for (int ti = 0; ti < nt; ti++)
        print_cells(sum[ti], total_flops, peak[ti], sum[ti]);
    printf("\n%4s %-*s %-*s %9s", "", wl, "whole run", wk, "", "");
    for (int ti = 0; ti < nt; ti++)
        print_cells(whole[ti], total_flops, peak[ti], 0);
    printf("\n");

    /* Steps bound by reading their weights (at most one FLOP per byte:
     * batch-1 linear layers), as bandwidth, to set beside the measured
     * memory bandwidth printed at the start. */
    bool header = false;
    for (int i = 0; i < n; i++) {
        LlvmStepInfo s = llvm_jit_step_info(m.jit, i);
        if (s.weight_bytes < (1 << 20) || s.weight_bytes < s.flops)
            continue;
        if (!header)
            printf("\nweight-streaming steps (weights read once): GB/s of weights\n"), header = true;
        printf("%4d %-*s %-*s %7.1f MB", i, wl, s.layer, wk, s.kernel, s.weight_bytes / 1e6);
        for (int ti = 0; ti < nt; ti++)
            printf(" | %dT %7.1f GB/s", o->threads[ti], s.weight_bytes / (step_ms[(size_t)ti * n + i] / 1e3) / 1e9);
        printf("\n");
    }

    /* The same time summed per kernel, in order of first appearance. */
    printf("\n%-*s %5s %9s", wk, "kernel", "steps", "MFLOP");
    for (int ti = 0; ti < nt; ti++)
        printf(" | %3dT ms %8s %6s %6s", o->threads[ti], "GFLOP/s", "%peak", "%time");
    printf("\n");
    for (int i = 0; i < n; i++) {
        const char *k = llvm_jit_step_info(m.jit, i).kernel;
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(llvm_jit_step_info(m.jit, j).kernel, k);
        if (seen)
            continue;
        int count = 0;
        int64_t flops = 0;
        double ms[MAX_THREAD_COUNTS] = {0};
        for (int j = i; j < n; j++) {
            LlvmStepInfo s = llvm_jit_step_info(m.jit, j);
            if (strcmp(s.kernel, k))
                continue;
            count++, flops += s.flops;
            for (int ti = 0; ti < nt; ti++)
                ms[ti] += step_ms[(size_t)ti * n + j];
        }
        printf("%-*s %5d %9.2f", wk, k, count, flops / 1e6);
        for (int ti = 0; ti < nt; ti++)
            print_cells(ms[ti], flops, peak[ti], sum[ti]);
        printf("\n");
    }
    fflush(stdout);
    free(sum);
    free(step_ms);
    free(whole);
    model_free(&m);
    return 0;
}

/* ---- `netc build` ---- */

/* rm -r dir: a bundle directory and the temporary one around it. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[2048];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (!lstat(path, &st) && S_ISDIR(st.st_mode))
                remove_tree(path);
            else
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Runs argv with stdout sent to /dev/null; returns its wall time in ms, or
 * a negative number when it could not run or failed. */
static double run_timed(char *const *argv)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = now_ms();
    int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        fprintf(stderr, "bench_native: cannot run %s: %s\n", argv[0], strerror(err));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    double t = now_ms() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "bench_native: %s build failed\n", argv[0]);
        return -1;
    }
    return t;
}

/* Times `netc build MODEL.net --weights W -o DIR`: one warm-up (page cache),
 * then o->build_runs runs. Weights come from --weights-dir or, when it has
 * none for the model, are written to a temporary directory first. */
static int bench_build(const Options *o, FILE *tsv)
{
    const char *tmp_root = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tmp[1024], net[1024], weights[1100], out[1100];
    snprintf(tmp, sizeof tmp, "%s/bench_native.XXXXXX", tmp_root);
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "bench_native: cannot create a directory in %s\n", tmp_root);
        return 1;
    }
    snprintf(net, sizeof net, "%s/%s.net", o->examples, o->build_model);
    snprintf(out, sizeof out, "%s/bundle", tmp);
    int failed = 0;
    if (o->weights_dir)
        snprintf(weights, sizeof weights, "%s/%s.safetensors", o->weights_dir, o->build_model);
    if (!o->weights_dir || access(weights, R_OK)) {
        snprintf(weights, sizeof weights, "%s/w.safetensors", tmp);
        Arena *a = arena_new();
        Diag *d = diag_new(stderr);
        IrGraph *g = load_graph(a, d, net, NULL);
        failed = !g || !rt_weights_save(g, weights, d);
        ir_graph_free(g);
        diag_free(d);
        arena_free(a);
    }
    char *argv[] = {(char *)o->netc, "build", net, "--weights", weights, "-o", out,
                    o->cpu ? "--cpu" : NULL, (char *)o->cpu, NULL};
    double *t = xcalloc((size_t)o->build_runs, sizeof *t);
    for (int r = -1; r < o->build_runs && !failed; r++) {
        double ms = run_timed(argv);
        failed = ms < 0;
        if (r >= 0)
            t[r] = ms;
        remove_tree(out);
    }
    if (!failed) {
        double med = median(t, o->build_runs);
        printf("\nnetc build %s (%s): median %.0f ms, min %.0f ms over %d runs\n", o->build_model, o->netc, med, t[0],
               o->build_runs);
        if (tsv)
            fprintf(tsv, "build\t%s\t%.1f\t%.1f\t%d\n", o->build_model, med, t[0], o->build_runs);
    }
    free(t);
    remove_tree(tmp);
    return failed;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_native [options] [MODEL...]\n"
               "  --examples DIR     where MODEL.net is (default: examples)\n"
               "  --weights-dir DIR  load DIR/MODEL.safetensors (netc init --seed 1);\n"
               "                     default: the same weights generated in process\n"
               "  --threads LIST     thread counts, e.g. 1,2 (default 1,2)\n"
               "  --runs N           least timed runs per setting (default 20)\n"
               "  --warmup N         warm-up runs per setting (default 3)\n"
               "  --budget-ms MS     more timed runs while this lasts (default 2000)\n"
               "  --profile          per-step profile instead of end-to-end timing\n"
               "  --passes N         --profile: timed passes (default 10)\n"
               "  --netc PATH        also time `PATH build` of --build-model (default resnet50)\n"
               "  --build-runs N     timed `netc build` runs (default 5)\n"
               "  --save-io DIR      write MODEL.input.npy and MODEL.netc.npy there\n"
               "  --tsv FILE         write tab-separated records there\n"
               "  --cpu NAME         compile for this CPU (its kernels: e.g. x86-64-v3 = AVX2)\n"
               "  --quantize PASSES  after the default passes, run PASSES calibrated on the input\n"
               "                     (e.g. quantize,integerize,dce: the int8 kernels)\n"
               "models: resnet18 resnet50 mobilenet_v2 vgg16 vit_b_16 vit_ti_16 squeezenet1_1\n"
               "        shufflenet_v2_x1_0 efficientnet_b0 densenet121 convnext_tiny (default), mlp, lenet\n");
}

static bool parse_int(const char *s, int lo, int *out)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || v < lo || v > 1000000)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_threads(const char *s, Options *o)
{
    o->nthreads = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s ? s : "");
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (o->nthreads == MAX_THREAD_COUNTS || !parse_int(tok, 1, &o->threads[o->nthreads++]))
            return false;
    return o->nthreads > 0;
}

static bool parse_args(int argc, char **argv, Options *o)
{
    *o = (Options){.examples = "examples", .threads = {1, 2}, .nthreads = 2, .min_runs = 20, .warmup = 3,
                   .budget_ms = 2000, .passes = 10, .build_model = "resnet50", .build_runs = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int budget;
        bool ok = true, takes = true;
        if (!strcmp(a, "--examples"))
            o->examples = v, ok = v;
        else if (!strcmp(a, "--weights-dir"))
            o->weights_dir = v, ok = v;
        else if (!strcmp(a, "--threads"))
            ok = parse_threads(v, o);
        else if (!strcmp(a, "--runs"))
            ok = parse_int(v, 1, &o->min_runs);
        else if (!strcmp(a, "--warmup"))
            ok = parse_int(v, 0, &o->warmup);
        else if (!strcmp(a, "--budget-ms"))
            ok = parse_int(v, 0, &budget), o->budget_ms = budget;
        else if (!strcmp(a, "--passes"))
            ok = parse_int(v, 1, &o->passes);
        else if (!strcmp(a, "--netc"))
            o->netc = v, ok = v;
        else if (!strcmp(a, "--build-model"))
            o->build_model = v, ok = v;
        else if (!strcmp(a, "--build-runs"))
            ok = parse_int(v, 1, &o->build_runs);
        else if (!strcmp(a, "--save-io"))
            o->save_io = v, ok = v;
        else if (!strcmp(a, "--tsv"))
            o->tsv = v, ok = v;
        else if (!strcmp(a, "--cpu"))
            o->cpu = v, ok = v;
        else if (!strcmp(a, "--quantize"))
            o->quantize = v, ok = v;
        else if (!strcmp(a, "--profile"))
            o->profile = true, takes = false;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout), exit(0), false;
        else if (a[0] == '-')
            return fprintf(stderr, "bench_native: unknown option %s\n", a), usage(stderr), false;
        else if (o->nmodels < MAX_MODELS)
            o->models[o->nmodels++] = a, takes = false;
        else
            ok = false, takes = false;
        if (!ok)
            return fprintf(stderr, "bench_native: bad or missing value for %s\n", a), false;
        i += takes;
    }
    if (o->nmodels == 0)
        for (size_t k = 0; k < sizeof default_models / sizeof *default_models; k++)
            o->models[o->nmodels++] = default_models[k];
    return true;
}

int main(int argc, char **argv)
{
    Options o;
    if (!parse_args(argc, argv, &o))
        return 2;
    FILE *tsv = o.tsv ? fopen(o.tsv, "w") : NULL;
    if (o.tsv && !tsv) {
        fprintf(stderr, "bench_native: cannot write %s: %s\n", o.tsv, strerror(errno));
        return 1;
    }
    /* The ceiling first, while nothing else of ours runs; again at the end,
     * keeping the higher: another process on the machine can only lower a
     * measurement, and the tables would then show more than 100%. */
    /* The peak of the instructions the kernels in use issue: the ISA the
     * models will be compiled for (this machine's, or --cpu's). */
    static const char *const isa_names[] = {"SSE2", "AVX2", "AVX-512", "AVX-512 VNNI"};
    Diag *isa_diag = diag_new(stderr);
    LlvmOptions isa_opts = {.cpu = o.cpu};
    int isa = llvm_kernel_isa(&isa_opts, isa_diag);
    diag_free(isa_diag);
    if (isa < 0)
        return 1;
    double peak[MAX_THREAD_COUNTS];
    for (int t = 0; t < o.nthreads; t++) {
        peak[t] = peak_gflops(isa, o.threads[t], 1.0);
        printf("peak FP32 FMA, %d thread%s: %.1f GFLOP/s (%s kernels' vectors)\n", o.threads[t],
               o.threads[t] == 1 ? "" : "s", peak[t], isa_names[isa]);
    }
    for (int t = 0; t < o.nthreads; t++) {
        double bw = bandwidth_gbs(o.threads[t]);
        printf("memory read bandwidth, %d thread%s: %.1f GB/s\n", o.threads[t], o.threads[t] == 1 ? "" : "s", bw);
        if (tsv)
            fprintf(tsv, "bandwidth\t%d\t%.2f\n", o.threads[t], bw);
    }
    if (tsv)
        fprintf(tsv, "isa\t%s\n", isa_names[isa]);
    printf("\n");
    fflush(stdout);
    int failed = 0;
    if (o.profile) {
        for (int k = 0; k < o.nmodels; k++)
            failed += profile_model(&o, o.models[k], peak);
    } else {
        failed += bench_models(&o, peak, tsv);
        if (o.netc)
            failed += bench_build(&o, tsv);
    }
    for (int t = 0; t < o.nthreads; t++) {
        double again = peak_gflops(isa, o.threads[t], 1.0);
        if (again > 1.05 * peak[t])
            printf("note: peak at %d thread%s measured again: %.1f GFLOP/s, %.0f%% above the first measurement "
                   "(the machine was busy); %% peak above used the first\n",
                   o.threads[t], o.threads[t] == 1 ? "" : "s", again, 100 * (again / peak[t] - 1));
        peak[t] = again > peak[t] ? again : peak[t];
        if (tsv)
            fprintf(tsv, "peak\t%d\t%.2f\n", o.threads[t], peak[t]);
    }
    if (tsv)
        fclose(tsv);
    return failed ? 1 : 0;
}
