/*
 * bench_qgemm.c — int8 GEMM (nk_qlinear, uint8 output) against the float
 * GEMM (nk_linear) on the same shapes, in the kernel variant this binary
 * is linked with (bench/CMakeLists.txt builds one per ISA:
 * bench_qgemm_avx2, _avx512, _avx512vnni; each refuses to run where the
 * CPU cannot).
 *
 *   bench_qgemm [--runs N] [--threads 1,2]
 *
 * Shapes: ResNet-50's 1×1 and 3×3 convolutions as GEMMs at 56×56 (m =
 * 3136; k = 64 or 576 = 3·3·64; n = 64 or 256) and 28×28, and ViT-B/16's
 * linears (m = 197 tokens, k = 768 -> n = 2304 qkv, 768 out, 3072 MLP;
 * 3072 -> 768). Per shape and thread count: warm-up, then at least --runs
 * timed runs (more while 0.3 s lasts), the median; GOP/s = 2·m·k·n /
 * median for both, and for the int8 GEMM with shift requantization (nk.h:
 * mult = 2^-13). Prints the CPU (model name, whether avx512_vnni and avx2
 * are in its flags) and the variant.
 */
#include "../runtime/native/nk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"

typedef struct Run {
    NkLinear fd;
    NkQLinear qd, sd; /* float and shift requantization */
    float *x, *fpacked, *y, *fscratch;
    uint8_t *qx, *qy;
    void *qpacked, *spacked, *qscratch;
} Run;

static void run_float(void *ctx)
{
    Run *r = ctx;
    nk_linear(&r->fd, r->x, r->fpacked, NULL, r->y, r->fscratch);
}

static void run_int8(void *ctx)
{
    Run *r = ctx;
    nk_qlinear(&r->qd, r->qx, r->qpacked, r->qy, r->qscratch);
}

static void run_int8_shift(void *ctx)
{
    Run *r = ctx;
    nk_qlinear(&r->sd, r->qx, r->spacked, r->qy, r->qscratch);
}

static void *xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bench_qgemm: out of memory\n");
        exit(1);
    }
    memset(p, 0, n);
    return p;
}

static void print_cpu(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096], model[256] = "?";
    int vnni = 0, avx2 = 0, flags = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10) && strchr(line, ':'))
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
        if (!flags && !strncmp(line, "flags", 5)) {
            flags = 1;
            vnni = strstr(line, " avx512_vnni") != NULL;
            avx2 = strstr(line, " avx2") != NULL;
        }
    }
    if (f)
        fclose(f);
    model[strcspn(model, "\n")] = 0;
    printf("cpu: %s; avx512_vnni %s, avx2 %s\n", model, vnni ? "yes" : "no", avx2 ? "yes" : "no");
}

int main(int argc, char **argv)
{
    int min_runs = 5, threads[8] = {1, 2}, nthreads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            min_runs = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = 0;
            for (char *s = strtok(argv[++i], ","); s && nthreads < 8; s = strtok(NULL, ","))
                threads[nthreads++] = atoi(s);
        } else {
            fprintf(stderr, "usage: bench_qgemm [--runs N] [--threads 1,2]\n");
            return 2;
        }
    }
    NkIsa isa = nk_kernel_isa();
    print_cpu();
    if (!nk_isa_runs_here(isa)) {
        printf("this CPU cannot run the %s kernels\n", nk_isa_name(isa));
        return 77;
    }
    const NkTiling *t = nk_tiling(isa);
    printf("kernels: %s (int8 micro-tile %lldx%lld, %lld k per word)\n", nk_isa_name(isa), (long long)t->qmr,
           (long long)t->qnr, (long long)t->qkg);
    static const struct { const char *name; int64_t m, k, n; } shapes[] = {
        {"rn50 56² 1x1 64->64", 3136, 64, 64},
        {"rn50 56² 1x1 64->256", 3136, 64, 256},
        {"rn50 56² 1x1 256->64", 3136, 256, 64},
        {"rn50 56² 3x3 64->64", 3136, 576, 64},
        {"rn50 28² 3x3 128->128", 784, 1152, 128},
        {"vit-b qkv 768->2304", 197, 768, 2304},
        {"vit-b proj 768->768", 197, 768, 768},
        {"vit-b mlp 768->3072", 197, 768, 3072},
        {"vit-b mlp 3072->768", 197, 3072, 768},
    };
    printf("\n%-24s %7s %10s %10s %7s %12s\n", "shape (m = pixels/tokens)", "threads", "f32 GOP/s", "i8 GOP/s", "i8/f32",
           "i8 shift GOP/s");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t m = shapes[s].m, k = shapes[s].k, n = shapes[s].n;
        int maxt = 1;
        for (int i = 0; i < nthreads; i++)
            maxt = threads[i] > maxt ? threads[i] : maxt;
        Run r = {.fd = {m, k, n, NK_ACT_NONE},
                 .qd = {m, k, n, {.zx = 128, .mode = NK_QOUT_U8, .zy = 0, .lo = 0, .hi = 255}}};
        r.sd = r.qd;
        r.sd.q.shift = 1;
        float *w = xmalloc((size_t)(n * k) * 4);
        int8_t *qw = xmalloc((size_t)(n * k));
        float *mult = xmalloc((size_t)n * 4), *shift_mult = xmalloc((size_t)n * 4);
        r.x = xmalloc((size_t)(m * k) * 4);
        r.qx = xmalloc((size_t)(m * k));
        for (int64_t i = 0; i < n * k; i++)
            w[i] = (float)(qw[i] = (int8_t)(i * 7 % 255 - 127)) / 127;
        for (int64_t i = 0; i < m * k; i++)
            r.x[i] = (float)(r.qx[i] = (uint8_t)(i * 13 % 256)) / 255;
        for (int64_t j = 0; j < n; j++)
            mult[j] = 1e-4f, shift_mult[j] = 0x1p-13f; /* 1.2e-4 */
        r.fpacked = xmalloc((size_t)nk_linear_packed_floats(&r.fd, t) * 4);
        nk_linear_pack(&r.fd, t, w, NULL, r.fpacked);
        r.fscratch = xmalloc((size_t)nk_linear_scratch(&r.fd, t, maxt) * 4);
        r.y = xmalloc((size_t)(m * n) * 4);
        r.qpacked = xmalloc((size_t)nk_qlinear_packed_bytes(&r.qd, t));
        r.spacked = xmalloc((size_t)nk_qlinear_packed_bytes(&r.sd, t));
        if (nk_qlinear_pack(&r.qd, t, qw, NULL, mult, r.qpacked) ||
            nk_qlinear_pack(&r.sd, t, qw, NULL, shift_mult, r.spacked)) {
            fprintf(stderr, "bench_qgemm: %s refused\n", shapes[s].name);
            return 1;
        }
        r.qscratch = xmalloc((size_t)nk_qlinear_scratch(&r.qd, t, maxt));
        r.qy = xmalloc((size_t)(m * n));
        for (int i = 0; i < nthreads; i++) {
            nk_set_threads(threads[i]);
            double ops = 2.0 * m * k * n;
            double tf = median_s(run_float, &r, min_runs), tq = median_s(run_int8, &r, min_runs);
            double ts = median_s(run_int8_shift, &r, min_runs);
            printf("%-24s %7d %10.1f %10.1f %6.2fx %12.1f\n", shapes[s].name, threads[i], ops / tf / 1e9,
                   ops / tq / 1e9, tf / tq, ops / ts / 1e9);
        }
        free(w), free(qw), free(mult), free(shift_mult), free(r.spacked), free(r.x), free(r.qx), free(r.fpacked), free(r.fscratch), free(r.y);
        free(r.qpacked), free(r.qscratch), free(r.qy);
    }
    nk_set_threads(1);
    return 0;
}
