/*
 * pass_check.c — the passes on one example network, without the driver.
 *
 *   pass_check ROOT MODEL [--size N] [--golden [--update]]
 *
 * Elaborates ROOT/examples/MODEL.net at the size tests/golden/torch/MANIFEST
 * gives it, or -D image_size=N (small images keep the interpreter quick
 * under ASan; the input is then random, not PyTorch's), binds the
 * deterministic weights of `netc init --seed 1` and feeds the PyTorch
 * golden input. Then it applies the -O2 pipeline one pass at a time, with
 * the verifier after each, and runs the reference interpreter after every
 * pass that changed the IR text:
 *   - dce and remove-identity must give the previous outputs bit for bit;
 *   - fold-bn and fold-constants within 1e-5 of the previous outputs and of
 *     the unoptimized graph's, relative to the output's scale (max|ref|);
 *   - the LLVM JIT on the final graph within 1e-4 of the unoptimized
 *     reference, as tests/native_test.sh asks of the backend.
 * With --golden the IR text after each pass ("; after pass 'X'", or
 * "...: unchanged") is compared with tests/golden/passes/MODEL.ir; --update
 * rewrites that file instead (review the diff). Weights are not part of it.
 */
#include "../backends/llvm/llvm_backend.h"
#include "../frontend/elab.h"
#include "../passes/pass.h"
#include "../runtime/init.h"
#include "../runtime/interp.h"
#include "../runtime/npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures, checks;
static const char *model; /* named in every line printed */

static void check(bool ok, const char *fmt, const char *what, double err, double limit)
{
    checks++;
    failures += !ok;
    printf("%s %s: ", ok ? "ok" : "FAIL", model);
    printf(fmt, what, err, limit);
    putchar('\n');
}

/* The image size MANIFEST lists for model, or NULL ("-": no such define). */
static char *manifest_size(const char *model)
{
    FILE *f = fopen("tests/golden/torch/MANIFEST", "r");
    char line[256], name[128], size[64];
    char *found = NULL;
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%127s %63s", name, size) == 2 && strcmp(name, model) == 0 &&
            strcmp(size, "-") != 0)
            found = strdup(size);
    if (f)
        fclose(f);
    return found;
}

static char *ir_text(const IrGraph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_print(g, f);
    fclose(f);
    return buf;
}

/* uniform(-1, 1) in v's shape, from a fixed splitmix64 stream. */
static Tensor *uniform_input(const IrValue *v)
{
    Tensor *t = tensor_new(DT_F32, &v->shape);
    uint64_t state = 1;
    for (int64_t i = 0; i < tensor_numel(t); i++)
        ((float *)t->data)[i] = 2 * rt_init_u01(rt_splitmix64(&state)) - 1;
    return t;
}

typedef struct Outputs {
    int n;
    Tensor **t;
} Outputs;

static Outputs interp(const IrGraph *g, Tensor *input, Diag *d)
{
    Outputs o = {g->noutputs, calloc((size_t)g->noutputs, sizeof(Tensor *))};
    if (!rt_interp_run(g, &input, o.t, d)) {
        fprintf(stderr, "pass_check: the interpreter failed\n");
        exit(1);
    }
    return o;
}

static void outputs_free(Outputs o)
{
    for (int i = 0; i < o.n; i++)
        tensor_free(o.t[i]);
    free(o.t);
}

/* max |a - b| / max |b| over every output; INFINITY on a shape mismatch,
 * 0 only when the bits are equal or differ by signed zeros. */
static double rel_error(Outputs a, Outputs b, bool *identical)
{
    double worst = 0;
    *identical = a.n == b.n;
    for (int i = 0; i < a.n && i < b.n; i++) {
        if (!shape_equal(&a.t[i]->shape, &b.t[i]->shape))
            return INFINITY;
        const float *x = a.t[i]->data, *y = b.t[i]->data;
        int64_t n = tensor_numel(a.t[i]);
        double scale = 0, err = 0;
        for (int64_t k = 0; k < n; k++) {
            scale = fmax(scale, fabs(y[k]));
            err = fmax(err, fabs((double)x[k] - y[k]));
        }
        *identical &= memcmp(x, y, (size_t)n * sizeof *x) == 0;
        worst = fmax(worst, scale > 0 ? err / scale : err);
    }
    return worst;
}

static bool run_pass(IrGraph *g, const char *name, Diag *d)
{
    PassPipeline *p = pass_pipeline_parse(name, d);
    PassRunOptions o = {.verify_each = true};
    bool ok = p && pass_pipeline_run(p, g, &o, d);
    pass_pipeline_free(p);
    return ok;
}

/* Compares (or with update, writes) the golden IR text of model. */
static void golden(const char *text, bool update)
{
    char path[256];
    snprintf(path, sizeof path, "tests/golden/passes/%s.ir", model);
    if (update) {
        FILE *f = fopen(path, "w");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "pass_check: cannot write %s\n", path);
            exit(1);
        }
        printf("updated %s\n", path);
        return;
    }
    FILE *f = fopen(path, "r");
    char *want = NULL;
    size_t len = 0;
    if (f) {
        FILE *m = open_memstream(&want, &len);
        int c;
        while ((c = fgetc(f)) != EOF)
            fputc(c, m);
        fclose(m);
        fclose(f);
    }
    checks++;
    if (want && strcmp(want, text) == 0) {
        printf("ok golden: the IR after each pass matches %s\n", path);
    } else {
        failures++;
        printf("FAIL golden: the IR after the passes differs from %s (pass_check ROOT %s --golden --update "
               "rewrites it; review the diff)\n", path, model);
    }
    free(want);
}

int main(int argc, char **argv)
{
    if (argc < 3 || chdir(argv[1]) != 0) {
        fprintf(stderr, "usage: pass_check ROOT MODEL [--size N] [--golden [--update]]\n");
        return 2;
    }
    model = argv[2];
    bool want_golden = false, update = false, size_given = false;
    char *size = manifest_size(model);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--golden") == 0)
            want_golden = true;
        else if (strcmp(argv[i], "--update") == 0)
            update = true;
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            free(size), size = strdup(argv[++i]), size_given = true;
    }
    Arena *arena = arena_new();
    Diag *d = diag_new(stderr);
    char net[256], input_path[256];
    snprintf(net, sizeof net, "examples/%s.net", model);
    snprintf(input_path, sizeof input_path, "tests/golden/torch/%s.input.npy", model);
    ElabDefine def = {"image_size", size};
    ElabOptions eo = {.ndefines = size ? 1 : 0, .defines = &def};
    IrGraph *g = elab_file(arena, d, net, &eo);
    if (!g || g->ninputs != 1 || !rt_init_weights(g, 1, d))
        return 1;
    Tensor *input = size_given ? uniform_input(g->inputs[0]) : rt_npy_read(input_path, d);
    if (!input)
        return 1;

    Outputs ref = interp(g, input, d), prev = {0};
    char *text = ir_text(g), *log = NULL;
    size_t loglen = 0;
    FILE *logf = open_memstream(&log, &loglen);
    PassPipeline *o2 = pass_pipeline_default(2);
    char *names = strdup(pass_pipeline_text(o2));
    for (char *name = strtok(names, ","); name; name = strtok(NULL, ",")) {
        if (!run_pass(g, name, d)) {
            printf("FAIL %s: pass '%s' failed\n", model, name);
            return 1;
        }
        char *after = ir_text(g);
        if (strcmp(after, text) == 0) {
            fprintf(logf, "; after pass '%s': unchanged\n", name);
            printf("ok %s: pass '%s' changed nothing\n", model, name);
            free(after);
            continue;
        }
        fprintf(logf, "; after pass '%s'\n%s", name, after);
        free(text);
        text = after;
        Outputs out = interp(g, input, d);
        bool same, same_ref;
        double e_prev = rel_error(out, prev.t ? prev : ref, &same), e_ref = rel_error(out, ref, &same_ref);
        if (strcmp(name, "dce") == 0 || strcmp(name, "remove-identity") == 0)
            check(same, "%s: outputs bit-identical to the previous stage's (relative error %.3g, limit %g)",
                  name, e_prev, 0);
        else
            check(e_prev <= 1e-5 && e_ref <= 1e-5, "%s: max relative error %.3g (limit %g)", name,
                  fmax(e_prev, e_ref), 1e-5);
        outputs_free(prev);
        prev = out;
    }
    fclose(logf);

    /* LLVM -O0: the kernels' bitcode is already optimized; skipping the module
     * pipeline saves seconds of compile time per example under ASan. */
    LlvmOptions lo = {.threads = 2, .opt_level = 0};
    LlvmJit *j = llvm_jit_compile(g, &lo, d);
    Outputs jit = {g->noutputs, calloc((size_t)g->noutputs, sizeof(Tensor *))};
    if (!j || !llvm_jit_run(j, &input, jit.t, d)) {
        printf("FAIL %s: the LLVM JIT failed on the optimized graph\n", model);
        return 1;
    }
    bool same;
    check(rel_error(jit, ref, &same) <= 1e-4, "%s: max relative error %.3g against the unoptimized reference "
          "(limit %g)", "llvm jit after -O2", rel_error(jit, ref, &same), 1e-4);
    if (want_golden)
        golden(log, update);

    llvm_jit_free(j);
    outputs_free(jit);
    outputs_free(prev);
    outputs_free(ref);
    pass_pipeline_free(o2);
    free(names);
    free(text);
    free(log);
    free(size);
    tensor_free(input);
    ir_graph_free(g);
    diag_free(d);
    arena_free(arena);
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
