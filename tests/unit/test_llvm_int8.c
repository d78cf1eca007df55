/*
 * test_llvm_int8.c — integer graphs (quantize -> qconv2d / qlinear ->
 * dequantize, as the quantize and integerize passes leave them) through
 * the LLVM backend against the reference interpreter, bit for bit: the
 * reference's integer layers (runtime/ref_qlayers.c) and the native int8
 * kernels implement nk.h's semantics independently, so every output must
 * be the same f32 bits.
 *
 * Each graph is compiled for every kernel variant (--cpu x86-64, x86-64-v3,
 * x86-64-v4, cascadelake: SSE2, AVX2, AVX-512, AVX-512 VNNI) this CPU can
 * run; a variant the CPU cannot run is named on stderr as not checked.
 * Cases: u8 results with a fused relu and relu6, f32 results with each act,
 * padding (pixels read as the zero point), stride 2, groups, depthwise, a
 * 1×1, layout changes between NCHW graph inputs and NHWC integer layers, a
 * linear on a 3-D value, zero points 0 and 255, the fixed-point mode's
 * shift requantization, and 1 and 2 threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../backends/llvm/llvm_backend.h"
#include "../../runtime/interp.h"
#include "ir_test_util.h"
#include "test_rng.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static Loc here(void) { return (Loc){"test.net", 1, 1, 1}; }

static IrValue *bound(IrGraph *g, const char *key, DType dt, Shape s)
{
    IrValue *v = ir_add_param(g, arena_strdup(g->arena, key), dt, s, here());
    assert_non_null(v);
    ir_bind(v, tensor_new(dt, &s));
    return v;
}

static IrValue *scalar_f32(IrGraph *g, const char *key, float x)
{
    IrValue *v = bound(g, key, DT_F32, SH(1, 1));
    *(float *)v->data->data = x;
    return v;
}

/* Per-tensor unsigned 8-bit quant(scale, zero point). */
static IrQuant *act_quant(IrGraph *g, const char *key, float scale, int32_t zero)
{
    char k[128];
    IrQuant *q = arena_alloc(g->arena, sizeof *q);
    snprintf(k, sizeof k, "%s.scale", key);
    *q = (IrQuant){.bits = 8, .axis = -1, .scale = scalar_f32(g, k, scale)};
    snprintf(k, sizeof k, "%s.zero_point", key);
    q->zero_point = bound(g, k, DT_I32, SH(1, 1));
    *(int32_t *)q->zero_point->data->data = zero;
    return q;
}

static IrValue *quantize(IrGraph *g, const char *key, IrValue *x, float scale, int32_t zero)
{
    IrValue *q = add_node(g, OP_QUANTIZE, NULL, "bits=8 signed=false", 1, &x, here())->out;
    q->quant = act_quant(g, key, scale, zero);
    return q;
}

/* An integer layer: random int8 weights (quant on axis 0), i32 bias,
 * mult chosen so that the outputs spread over the u8 range (and past it);
 * bits 8 gives a u8 result with quant(scale 0.05, zero point zy). */
/* Layers built next are requantized by a rounding shift (mult = 2^-k). */
static bool shift_mode;

static IrValue *qlayer(IrGraph *g, OpKind op, const char *name, const char *attrs, IrValue *x, Shape ws,
                       int64_t fan_in, int bits, int32_t zy)
{
    char key[128], full[300];
    int64_t oc = ws.d[0];
    snprintf(key, sizeof key, "%s.weight", name);
    IrValue *w = bound(g, key, DT_I8, ws);
    for (int64_t i = 0; i < tensor_numel(w->data); i++)
        ((int8_t *)w->data->data)[i] = (int8_t)pick(-127, 127);
    w->quant = arena_alloc(g->arena, sizeof *w->quant);
    snprintf(key, sizeof key, "%s.weight.scale", name);
    *w->quant = (IrQuant){.bits = 8, .is_signed = true, .axis = 0, .scale = bound(g, key, DT_F32, SH(1, oc))};
    snprintf(key, sizeof key, "%s.bias", name);
    IrValue *b = bound(g, key, DT_I32, SH(1, oc));
    snprintf(key, sizeof key, "%s.mult", name);
    IrValue *m = bound(g, key, DT_F32, SH(1, oc));
    double acc_sd = sqrt((double)fan_in) * 127 / sqrt(3.0) * 74;
    for (int64_t o = 0; o < oc; o++) {
        ((int32_t *)b->data->data)[o] = (int32_t)pick(-(int64_t)acc_sd, (int64_t)acc_sd);
        double mult = (bits ? 90.0 : 3.0) * (1.2 + uniform()) / acc_sd;
        if (shift_mode && bits) /* the nearest 2^-k, k in [0, 31]: every exact tie of rhe gets hit */
            mult = ldexp(1.0, -(int)fmin(31, fmax(0, round(-log2(mult)))));
        ((float *)m->data->data)[o] = (float)mult;
        ((float *)w->quant->scale->data->data)[o] = 0.01f;
    }
    snprintf(full, sizeof full, "%s bias=true bits=%d requant=%s", attrs, bits,
             shift_mode && bits ? "shift" : "float");
    IrValue *in[4] = {x, w, b, m};
    IrValue *y = add_node(g, op, arena_strdup(g->arena, name), full, 4, in, here())->out;
    if (bits) {
        snprintf(key, sizeof key, "%s.out", name);
        y->quant = act_quant(g, key, 0.05f, zy);
    }
    return y;
}

static IrValue *dequantize(IrGraph *g, IrValue *q)
{
    return add_node(g, OP_DEQUANTIZE, NULL, "", 1, &q, here())->out;
}

/* The kernel variants, the CPU each is compiled for, and whether this CPU
 * runs it. */
typedef struct Variant {
    const char *cpu, *what;
    bool runs;
} Variant;

static int variants(Variant *v)
{
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    v[0] = (Variant){"x86-64", "SSE2", true};
    v[1] = (Variant){"x86-64-v3", "AVX2", __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")};
    v[2] = (Variant){"x86-64-v4", "AVX-512", avx512};
    v[3] = (Variant){"cascadelake", "AVX-512 VNNI", avx512 && __builtin_cpu_supports("avx512vnni")};
    return 4;
}

/* Random inputs in [-range, range]; the reference, then every variant this
 * CPU runs at 1 and 2 threads: the same bits. */
static void check(IrGraph *g, float range)
{
    Captured cap;
    cap_open(&cap);
    if (!ir_verify(g, cap.d))
        fail_msg("the test graph does not verify:\n%s", cap_text(&cap));
    enum { MAX_IO = 8 };
    assert_true(g->ninputs <= MAX_IO && g->noutputs <= MAX_IO);
    Tensor *in[MAX_IO] = {0}, *want[MAX_IO] = {0};
    for (int i = 0; i < g->ninputs; i++) {
        in[i] = tensor_new(DT_F32, &g->inputs[i]->shape);
        for (int64_t k = 0; k < tensor_numel(in[i]); k++)
            ((float *)in[i]->data)[k] = range * uniform();
    }
    if (!rt_interp_run(g, in, want, cap.d))
        fail_msg("reference failed:\n%s", cap_text(&cap));
    Variant v[4];
    int nv = variants(v);
    for (int k = 0; k < nv; k++) {
        if (!v[k].runs) {
            fprintf(stderr, "test_llvm_int8: %s: the %s kernels were NOT checked (this CPU cannot run them)\n",
                    g->name, v[k].what);
            continue;
        }
        for (int threads = 1; threads <= 2; threads++) {
            LlvmOptions o = {.threads = threads, .opt_level = 2, .cpu = v[k].cpu};
            LlvmJit *j = llvm_jit_compile(g, &o, cap.d);
            if (!j)
                fail_msg("%s: JIT compile for %s failed:\n%s", g->name, v[k].cpu, cap_text(&cap));
            Tensor *got[MAX_IO] = {0};
            assert_true(llvm_jit_run(j, in, got, cap.d));
            for (int i = 0; i < g->noutputs; i++) {
                const float *a = want[i]->data, *b = got[i]->data;
                for (int64_t e = 0; e < tensor_numel(want[i]); e++)
                    if (memcmp(&a[e], &b[e], sizeof *a))
                        fail_msg("%s, %s kernels, %d thread(s): output '%s' element %lld is %.9g, the reference "
                                 "says %.9g", g->name, v[k].what, threads, g->outputs[i].name, (long long)e,
                                 b[e], a[e]);
                tensor_free(got[i]);
            }
            llvm_jit_free(j);
        }
    }
    for (int i = 0; i < MAX_IO; i++)
        tensor_free(in[i]), tensor_free(want[i]);
    free(cap_finish(&cap));
    ir_graph_free(g);
}

/* x -> quantize -> qconv (u8, act) -> qconv (f32, act) -> output, and the
 * u8 middle dequantized as a second output. */
static void conv_pair(const char *act_u8, const char *act_f32, int64_t groups, int64_t per_group, int64_t k,
                      int64_t stride, int32_t zx, int32_t zy)
{
    int64_t n = pick(1, 2), c = groups * per_group, h = pick(5, 13), w = pick(5, 13), pad = k / 2;
    int64_t oc = groups > 1 ? groups * pick(1, 2) : pick(4, 37);
    char name[160], attrs[200];
    snprintf(name, sizeof name, "conv k%lld s%lld g%lld %s/%s zx %d zy %d", (long long)k, (long long)stride,
             (long long)groups, act_u8, act_f32, zx, zy);
    IrGraph *g = ir_graph_new(name);
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, n, c, h, w), here());
    IrValue *q = quantize(g, "x", x, 2.0f / 255, zx);
    snprintf(attrs, sizeof attrs, "out_channels=%lld kernel_size=%lld stride=%lld padding=%lld groups=%lld act=%s",
             (long long)oc, (long long)k, (long long)stride, (long long)pad, (long long)groups, act_u8);
    IrValue *y1 = qlayer(g, OP_QCONV2D, "c1", attrs, q, SH(4, oc, c / groups, k, k), c / groups * k * k, 8, zy);
    int64_t oc2 = pick(2, 21);
    snprintf(attrs, sizeof attrs, "out_channels=%lld kernel_size=1 act=%s", (long long)oc2, act_f32);
    IrValue *y2 = qlayer(g, OP_QCONV2D, "c2", attrs, y1, SH(4, oc2, oc, 1, 1), oc, 0, 0);
    ir_add_output(g, "y", y2);
    ir_add_output(g, "mid", dequantize(g, y1));
    check(g, 1.2f);
}

static void test_qconv(void **state)
{
    /*        u8 act  f32 act  groups per-group k stride zx  zy */
    conv_pair("relu", "none", 1, pick(3, 19), 3, 1, 128, 0);
    conv_pair("relu6", "relu", 1, pick(3, 19), 3, 2, 0, 40);
    conv_pair("none", "relu6", 1, pick(3, 19), 1, 1, 255, 128);
    conv_pair("relu", "none", 1, 3, 7, 2, 100, 7);
    conv_pair("relu6", "none", 8, 1, 3, 1, 128, 3); /* depthwise */
    conv_pair("none", "relu", 2, 3, 3, 2, 30, 200); /* grouped */
}


/* [B, L, K] -> quantize -> qlinear (u8) -> qlinear (f32). */
static void linear_pair(const char *act_u8, const char *act_f32, int32_t zx, int32_t zy)
{
    int64_t b = pick(1, 3), l = pick(1, 9), k = pick(5, 70), n1 = pick(3, 40), n2 = pick(2, 30);
    char name[160], attrs[120];
    snprintf(name, sizeof name, "linear %s/%s zx %d zy %d", act_u8, act_f32, zx, zy);
    IrGraph *g = ir_graph_new(name);
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(3, b, l, k), here());
    IrValue *q = quantize(g, "x", x, 2.0f / 255, zx);
    snprintf(attrs, sizeof attrs, "out_features=%lld act=%s", (long long)n1, act_u8);
    IrValue *y1 = qlayer(g, OP_QLINEAR, "fc1", attrs, q, SH(2, n1, k), k, 8, zy);
    snprintf(attrs, sizeof attrs, "out_features=%lld act=%s", (long long)n2, act_f32);
    IrValue *y2 = qlayer(g, OP_QLINEAR, "fc2", attrs, y1, SH(2, n2, n1), n1, 0, 0);
    ir_add_output(g, "y", y2);
    check(g, 1.0f);
}

static void test_qlinear(void **state)
{
    linear_pair("relu", "none", 128, 0);
    linear_pair("none", "relu", 0, 128);
    linear_pair("relu6", "relu6", 255, 17);
}

/* The fixed-point mode's shift requantization on the u8 results. */
static void test_shift_requant(void **state)
{
    shift_mode = true;
    conv_pair("relu", "none", 1, pick(3, 19), 3, 1, 128, 0);
    conv_pair("relu6", "relu", 1, 3, 7, 2, 0, 40);
    conv_pair("none", "none", 8, 1, 3, 1, 128, 3); /* depthwise */
    linear_pair("relu", "none", 128, 0);
    linear_pair("none", "relu", 0, 128);
    shift_mode = false;
}

/* An f32 value stored NHWC (a float conv's result) quantized for a qconv
 * and for a qlinear after flatten: quantize writes each reader's layout. */
static void test_layouts(void **state)
{
    IrGraph *g = ir_graph_new("layouts");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 5, 6, 6), here());
    IrValue *q = quantize(g, "x", x, 2.0f / 255, 128);
    IrValue *c = qlayer(g, OP_QCONV2D, "c", "out_channels=6 kernel_size=3 padding=1 act=none", q,
                        SH(4, 6, 5, 3, 3), 45, 0, 0);
    IrValue *r = add_node(g, OP_RELU, NULL, "", 1, &c, here())->out;
    IrValue *q2 = quantize(g, "r", r, 0.1f, 0);
    IrValue *c2 = qlayer(g, OP_QCONV2D, "c2", "out_channels=4 kernel_size=3 act=relu", q2, SH(4, 4, 6, 3, 3), 54,
                         0, 0);
    IrValue *f = add_node(g, OP_FLATTEN, NULL, "start_dim=1 end_dim=-1", 1, &r, here())->out;
    IrValue *q3 = quantize(g, "f", f, 0.1f, 0);
    IrValue *l = qlayer(g, OP_QLINEAR, "fc", "out_features=7 act=none", q3, SH(2, 7, 216), 216, 0, 0);
    ir_add_output(g, "conv", c2);
    ir_add_output(g, "fc", l);
    check(g, 1.0f);
}

int main(void)
{
    test_rng_state = 0x243F6A8885A308D3ull;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qconv),
        cmocka_unit_test(test_qlinear),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_shift_requant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
