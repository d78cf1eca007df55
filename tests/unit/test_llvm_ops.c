/*
 * test_llvm_ops.c — every operator through the LLVM backend (JIT) against
 * the reference interpreter.
 *
 * Each case builds a small graph with randomized shapes (a fixed-seed
 * generator, so failures reproduce), random weights (batchnorm variances
 * kept positive) and random inputs, runs it with rt_interp_run and with
 * llvm_jit_run, and requires every output to agree within 1e-4 of the
 * reference's largest magnitude. The graphs are chosen to exercise the
 * lowering as well as the kernels: fusion chains (conv -> batchnorm -> add
 * -> relu, linear -> gelu, linear -> add), NHWC values read by strided ops
 * (transpose, slice, concat, broadcasting add), layout conversions at the
 * graph boundary, and views (flatten, reshape, dropout) that alias.
 * Bad input is covered too: an unsupported operand dtype is refused with
 * the layer's name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../backends/llvm/llvm_backend.h"
#include "../../runtime/init.h"
#include "../../runtime/interp.h"
#include "ir_test_util.h"
#include "test_rng.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static Loc here(void) { return (Loc){"test.net", 1, 1, 1}; }

static IrValue *input(IrGraph *g, const char *name, Shape s) { return ir_add_input(g, name, DT_F32, s, here()); }

static IrValue *param(IrGraph *g, const char *layer, const char *suffix, Shape s)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", layer, suffix);
    IrValue *v = ir_add_param(g, arena_strdup(g->arena, key), DT_F32, s, here());
    assert_non_null(v);
    return v;
}

/* op(x, params...) with attributes from text. */
static IrValue *node(IrGraph *g, OpKind op, const char *name, const char *attrs, int nin, IrValue **in)
{
    return add_node(g, op, name ? arena_strdup(g->arena, name) : NULL, attrs, nin, in, here())->out;
}

static IrValue *unary(IrGraph *g, OpKind op, const char *attrs, IrValue *x) { return node(g, op, NULL, attrs, 1, &x); }

static IrValue *binary(IrGraph *g, OpKind op, IrValue *a, IrValue *b)
{
    IrValue *in[2] = {a, b};
    return node(g, op, NULL, "", 2, in);
}

static IrValue *conv(IrGraph *g, const char *name, IrValue *x, int64_t oc, int64_t k, int64_t stride, int64_t pad,
                     int64_t dil, int64_t groups, bool bias)
{
    char attrs[200];
    snprintf(attrs, sizeof attrs, "out_channels=%lld kernel_size=%lld stride=%lld padding=%lld dilation=%lld "
             "groups=%lld bias=%s", (long long)oc, (long long)k, (long long)stride, (long long)pad, (long long)dil,
             (long long)groups, bias ? "true" : "false");
    IrValue *in[3] = {x, param(g, name, "weight", SH(4, oc, x->shape.d[1] / groups, k, k)),
                      bias ? param(g, name, "bias", SH(1, oc)) : NULL};
    return node(g, OP_CONV2D, name, attrs, bias ? 3 : 2, in);
}

static IrValue *batchnorm(IrGraph *g, const char *name, IrValue *x)
{
    int64_t c = x->shape.d[1];
    IrValue *in[5] = {x, param(g, name, "weight", SH(1, c)), param(g, name, "bias", SH(1, c)),
                      param(g, name, "running_mean", SH(1, c)), param(g, name, "running_var", SH(1, c))};
    return node(g, OP_BATCHNORM, name, "", 5, in);
}

static IrValue *linear(IrGraph *g, const char *name, IrValue *x, int64_t out, bool bias)
{
    char attrs[80];
    snprintf(attrs, sizeof attrs, "out_features=%lld bias=%s", (long long)out, bias ? "true" : "false");
    IrValue *in[3] = {x, param(g, name, "weight", SH(2, out, x->shape.d[x->shape.rank - 1])),
                      bias ? param(g, name, "bias", SH(1, out)) : NULL};
    return node(g, OP_LINEAR, name, attrs, bias ? 3 : 2, in);
}

static void output(IrGraph *g, const char *name, IrValue *v) { ir_add_output(g, arena_strdup(g->arena, name), v); }

/* Random weights everywhere (variances positive), then both backends on
 * random inputs; outputs must agree. */
static void check(IrGraph *g, int threads)
{
    Captured cap;
    cap_open(&cap);
    assert_true(ir_verify(g, cap.d));
    assert_true(rt_init_weights(g, 1, cap.d));
    for (int i = 0; i < g->nparams; i++) {
        Tensor *t = g->params[i]->data;
        float *p = t->data;
        bool var = strstr(g->params[i]->name, "running_var") != NULL;
        for (int64_t k = 0; k < tensor_numel(t); k++)
            p[k] = var ? 0.5f + fabsf(uniform()) : 0.5f * uniform();
    }
    enum { MAX_IO = 32 };
    assert_true(g->ninputs <= MAX_IO && g->noutputs <= MAX_IO);
    Tensor *in[MAX_IO] = {0}, *want[MAX_IO] = {0}, *got[MAX_IO] = {0};
    for (int i = 0; i < g->ninputs; i++) {
        in[i] = tensor_new(DT_F32, &g->inputs[i]->shape);
        float *p = in[i]->data, range = strcmp(g->inputs[i]->name, "wide") ? 1.0f : 10.0f;
        for (int64_t k = 0; k < tensor_numel(in[i]); k++)
            p[k] = range * uniform();
    }
    assert_true(rt_interp_run(g, in, want, cap.d));
    LlvmOptions o = {.threads = threads, .opt_level = 2};
    LlvmJit *j = llvm_jit_compile(g, &o, cap.d);
    if (!j)
        fail_msg("JIT compile failed:\n%s", cap_text(&cap));
    assert_true(llvm_jit_run(j, in, got, cap.d));
    for (int i = 0; i < g->noutputs; i++) {
        const float *a = want[i]->data, *b = got[i]->data;
        double scale = 0, err = 0;
        int64_t at = 0;
        for (int64_t k = 0; k < tensor_numel(want[i]); k++) {
            scale = fmax(scale, fabs(a[k]));
            if (!(fabs(a[k] - b[k]) <= err)) { /* NaN counts as an error */
                err = isnan(b[k]) ? INFINITY : fabs(a[k] - b[k]);
                at = k;
            }
        }
        if (err > 1e-4 * fmax(scale, 1e-6))
            fail_msg("output '%s': element %lld is %g, the reference says %g (max error %g, scale %g)",
                     g->outputs[i].name, (long long)at, b[at], a[at], err, scale);
    }
    for (int i = 0; i < MAX_IO; i++) {
        tensor_free(in[i]);
        tensor_free(want[i]);
        tensor_free(got[i]);
    }
    llvm_jit_free(j);
    free(cap_finish(&cap));
    ir_graph_free(g);
}

/* ---- cases ---- */

/* Convolutions of every kind with and without fused epilogues. */
static void test_conv_variants(void **state)
{
    for (int round = 0; round < 2; round++) {
        IrGraph *g = ir_graph_new("convs");
        int64_t c = pick(1, 20), h = pick(5, 17), w = pick(5, 17);
        IrValue *x = input(g, "x", SH(4, 1, c, h, w));
        output(g, "plain3x3", conv(g, "a", x, pick(1, 40), 3, 1, 1, 1, 1, true));
        output(g, "strided", conv(g, "b", x, pick(1, 40), 3, 2, 1, 1, 1, false));
        output(g, "stem", conv(g, "c", x, 16, 7, 2, 3, 1, 1, false));
        output(g, "dilated", conv(g, "d", x, 24, 3, 1, 2, 2, 1, true));
        output(g, "pointwise", conv(g, "e", x, pick(1, 70), 1, 1, 0, 1, 1, true));
        IrValue *x2 = input(g, "x2", SH(4, 1, 2 * c, h, w));
        output(g, "grouped", conv(g, "f", x2, 4, 3, 1, 1, 1, 2, true));
        output(g, "depthwise", conv(g, "dw", x2, 2 * c, 3, 1 + round, 1, 1, 2 * c, false));
        check(g, 1 + round);
    }
}

/* conv -> batchnorm -> add(residual) -> relu, ResNet's block ending, and
 * conv -> batchnorm -> relu6, MobileNet's. */
static void test_conv_fusion(void **state)
{
    for (int round = 0; round < 2; round++) {
        IrGraph *g = ir_graph_new("fused");
        int64_t c = pick(8, 40), hw = pick(6, 15);
        IrValue *x = input(g, "x", SH(4, 1, c, hw, hw));
        IrValue *y = batchnorm(g, "bn1", conv(g, "conv1", x, c, 3, 1, 1, 1, 1, false));
        y = unary(g, OP_RELU, "", binary(g, OP_ADD, y, x));
        IrValue *z = unary(g, OP_RELU6, "", batchnorm(g, "bn2", conv(g, "conv2", y, 32, 1, 1, 0, 1, 1, false)));
        IrValue *ds = batchnorm(g, "bn3", conv(g, "conv3", y, 32, 1, 1, 0, 1, 1, false));
        output(g, "block", unary(g, OP_RELU, "", binary(g, OP_ADD, ds, z)));
        check(g, 2);
    }
}

static void test_linear(void **state)
{
    for (int round = 0; round < 2; round++) {
        IrGraph *g = ir_graph_new("dense");
        int64_t l = pick(1, 20), e = pick(1, 70);
        IrValue *x = input(g, "x", SH(3, 2, l, e));
        IrValue *h = unary(g, OP_GELU, "", linear(g, "fc1", x, pick(1, 100), true));
        IrValue *y = unary(g, OP_DROPOUT, "p=0.1", linear(g, "fc2", h, e, round == 0));
        output(g, "mlp", binary(g, OP_ADD, x, y));
        IrValue *v = input(g, "v", SH(2, 3, e));
        output(g, "relu", unary(g, OP_RELU, "", linear(g, "fc3", v, 1000, true)));
        check(g, 2);
    }
}

static void test_matmul(void **state)
{
    for (int round = 0; round < 2; round++) {
        IrGraph *g = ir_graph_new("mm");
        int64_t m = pick(1, 40), k = pick(1, 40), n = pick(1, 40);
        IrValue *a = input(g, "a", SH(3, 3, m, k)), *b = input(g, "b", SH(3, 3, k, n));
        IrValue *b2 = input(g, "b2", SH(2, k, n));
        output(g, "bmm", node(g, OP_BMM, NULL, "", 2, (IrValue *[]){a, b}));
        output(g, "broadcast", binary(g, OP_MATMUL, a, b2));
        check(g, 1 + round);
    }
}

static void test_attention(void **state)
{
    for (int round = 0; round < 2; round++) {
        IrGraph *g = ir_graph_new("attn");
        int64_t heads = pick(1, 4), e = heads * pick(1, 12), l = pick(1, 30);
        IrValue *x = input(g, "x", SH(3, 2, l, e));
        IrValue *ln = node(g, OP_LAYERNORM, "ln", "eps=1e-6", 3,
                           (IrValue *[]){x, param(g, "ln", "weight", SH(1, e)), param(g, "ln", "bias", SH(1, e))});
        char attrs[32];
        snprintf(attrs, sizeof attrs, "num_heads=%lld", (long long)heads);
        IrValue *in[5] = {ln, param(g, "attn", "in_proj_weight", SH(2, 3 * e, e)),
                          param(g, "attn", "in_proj_bias", SH(1, 3 * e)),
                          param(g, "attn", "out_proj.weight", SH(2, e, e)),
                          param(g, "attn", "out_proj.bias", SH(1, e))};
        output(g, "mha", binary(g, OP_ADD, x, node(g, OP_MHA, "attn", attrs, 5, in)));
        /* Parameters read as data, as a ViT's position embedding. */
        output(g, "pos", binary(g, OP_ADD, x, param(g, "pos", "embedding", SH(3, 1, l, e))));
        output(g, "softmax_last", unary(g, OP_SOFTMAX, "dim=-1", x));
        output(g, "softmax_mid", unary(g, OP_SOFTMAX, "dim=1", x));
        check(g, 2);
    }
}

static void test_elementwise(void **state)
{
    IrGraph *g = ir_graph_new("eltwise");
    int64_t c = pick(2, 30), h = pick(2, 9);
    IrValue *x = input(g, "x", SH(4, 2, c, h, h + 1));
    IrValue *wide = input(g, "wide", SH(3, c, h, 7)); /* values past relu6's and hardswish's knees */
    static const OpKind ops[] = {OP_RELU, OP_RELU6, OP_GELU, OP_SILU, OP_SIGMOID, OP_HARDSWISH};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        output(g, op_info(ops[i])->name, unary(g, ops[i], "", wide));
    IrValue *row = input(g, "row", SH(1, h + 1)), *col = input(g, "col", SH(3, c, 1, 1));
    output(g, "add_row", binary(g, OP_ADD, x, row));
    output(g, "sub_col", binary(g, OP_SUB, col, x));
    /* NHWC operands: conv results added, then multiplied by a graph input. */
    IrValue *y = conv(g, "p", x, c, 1, 1, 0, 1, 1, true), *z = conv(g, "q", x, c, 3, 1, 1, 1, 1, true);
    output(g, "nhwc_add_relu", unary(g, OP_RELU, "", binary(g, OP_ADD, y, z)));
    output(g, "nhwc_mul_logical", binary(g, OP_MUL, y, x));
    check(g, 2);
}

static void test_pools(void **state)
{
    for (int round = 0; round < 2; round++) {
        IrGraph *g = ir_graph_new("pools");
        int64_t c = pick(1, 40), h = pick(5, 20), w = pick(5, 20);
        IrValue *x = input(g, "x", SH(4, 1, c, h, w));
        output(g, "max", unary(g, OP_MAXPOOL, "kernel_size=3 stride=2 padding=1", x));
        output(g, "max_ceil", unary(g, OP_MAXPOOL, "kernel_size=2 stride=2 ceil_mode=true", x));
        output(g, "max_dilated", unary(g, OP_MAXPOOL, "kernel_size=2 stride=1 dilation=2", x));
        output(g, "avg", unary(g, OP_AVGPOOL, "kernel_size=3 stride=2 padding=1", x));
        output(g, "avg_exclude", unary(g, OP_AVGPOOL, "kernel_size=3 stride=2 padding=1 count_include_pad=false "
                                                      "ceil_mode=true", x));
        output(g, "adaptive", unary(g, OP_ADAPTIVE_AVGPOOL, "output_size=[3,4]", x));
        IrValue *y = conv(g, "k", x, 8, 3, 1, 1, 1, 1, true);
        output(g, "global", unary(g, OP_FLATTEN, "", unary(g, OP_GLOBAL_AVGPOOL, "", y)));
        check(g, 1 + round);
    }
}

static void test_batchnorm_standalone(void **state)
{
    IrGraph *g = ir_graph_new("bn");
    IrValue *x = input(g, "x", SH(4, 2, 5, 6, 7)), *v = input(g, "v", SH(2, 3, 9));
    output(g, "bn4d", unary(g, OP_RELU, "", batchnorm(g, "a", x)));
    output(g, "bn2d", batchnorm(g, "b", v));
    check(g, 2);
}

/* Views and copies, reading both a graph input (logical order) and a conv
 * result (NHWC). */
static void test_data_movement(void **state)
{
    IrGraph *g = ir_graph_new("moves");
    int64_t c = pick(2, 12), h = pick(3, 8), w = pick(3, 8);
    IrValue *x = input(g, "x", SH(4, 2, c, h, w));
    IrValue *y = conv(g, "k", x, c, 3, 1, 1, 1, 1, true);
    IrValue *srcs[2] = {x, y};
    for (int i = 0; i < 2; i++) {
        IrValue *s = srcs[i];
        char name[64];
#define OUT(what, v) (snprintf(name, sizeof name, "%s_%d", what, i), output(g, name, v))
        OUT("flatten", unary(g, OP_FLATTEN, "", s));
        OUT("reshape", unary(g, OP_RESHAPE, "shape=[2,-1]", s));
        OUT("transpose", unary(g, OP_TRANSPOSE, "dim0=1 dim1=3", s));
        OUT("permute", unary(g, OP_PERMUTE, "dims=[0,2,3,1]", s));
        OUT("slice", unary(g, OP_SLICE, "dim=1 start=1 end=-1 step=2", s));
        OUT("select", unary(g, OP_SELECT, "dim=2 index=-1", s));
        OUT("concat", node(g, OP_CONCAT, NULL, "dim=1", 2, (IrValue *[]){s, x}));
#undef OUT
    }
    IrValue *t = input(g, "t", SH(3, 1, 1, w));
    output(g, "expand", unary(g, OP_EXPAND, "shape=[3,4,-1]", t));
    output(g, "identity", x);
    /* topk on the input (exact values, so the order cannot differ by rounding):
     * both results, along the channel and the last axis */
    IrNode *top = add_node(g, OP_TOPK, "top", "k=2 dim=1", 1, &x, here());
    output(g, "top_values", top->outs[0]);
    output(g, "top_indices", top->outs[1]);
    top = add_node(g, OP_TOPK, "low", "k=3 dim=-1 largest=false", 1, &x, here());
    output(g, "low_indices", top->outs[1]);
    check(g, 2);
}

/* Concats that spatial ops read, stored NHWC by the lowering: DenseNet's
 * growing channel concat (a conv result and the logical input, into
 * batchnorm -> relu -> conv and into the next concat), SqueezeNet's
 * concat into a max pool, and a concat along H into a conv; one of them is
 * also a graph output, converted back to logical order. */
static void test_concat_into_spatial_ops(void **state)
{
    for (int round = 0; round < 2; round++) {
        IrGraph *g = ir_graph_new("concat_nhwc");
        int64_t c = pick(1, 12), growth = pick(1, 9), h = pick(2, 8);
        IrValue *x = input(g, "x", SH(4, 2, c, h, h + 1));
        IrValue *cat = x;
        for (int layer = 0; layer < 3; layer++) {
            char bn[16], cv[16];
            snprintf(bn, sizeof bn, "norm%d", layer);
            snprintf(cv, sizeof cv, "conv%d", layer);
            IrValue *act = unary(g, OP_RELU, "", batchnorm(g, bn, cat));
            IrValue *grown = conv(g, cv, act, growth, 3, 1, 1, 1, 1, false);
            cat = node(g, OP_CONCAT, NULL, "dim=1", 2, (IrValue *[]){cat, grown});
        }
        output(g, "dense", cat);
        output(g, "pooled", unary(g, OP_MAXPOOL, "kernel_size=2 stride=2 ceil_mode=true", cat));
        IrValue *mixed = conv(g, "mix", cat, cat->shape.d[1], 1, 1, 0, 1, 1, true);
        IrValue *rows = node(g, OP_CONCAT, NULL, "dim=2", 2, (IrValue *[]){cat, mixed});
        output(g, "rows", conv(g, "rows_conv", rows, 3, 1, 1, 0, 1, 1, true));
        check(g, 1 + round);
    }
}

/* layernorm over dim `dim` of x, with its weight and bias. */
static IrValue *layernorm(IrGraph *g, const char *name, IrValue *x, int dim)
{
    char attrs[40];
    snprintf(attrs, sizeof attrs, "eps=1e-6 dim=%d", dim);
    int64_t d = x->shape.d[dim < 0 ? x->shape.rank + dim : dim];
    IrValue *in[3] = {x, param(g, name, "weight", SH(1, d)), param(g, name, "bias", SH(1, d))};
    return node(g, OP_LAYERNORM, name, attrs, 3, in);
}

/* ConvNeXt's norms: layernorm over the channels of a 4-D value (LayerNorm2d,
 * which the backend runs on NHWC rows) after a depthwise conv, on a graph
 * input (converted to NHWC first) and on [N, C, 1, 1] (the same bytes in
 * either layout), and the block's permute -> last-dim layernorm -> linear
 * -> permute back (both permutes aliases of NHWC bytes) -> layer scale ->
 * residual; and EfficientNet's broadcast gate on an NHWC conv result.
 * Outputs leave in logical order. */
static void test_channels_last_blocks(void **state)
{
    for (int round = 0; round < 2; round++) {
        IrGraph *g = ir_graph_new("ln2d");
        int64_t c = pick(1, 40), h = pick(1, 9);
        IrValue *x = input(g, "x", SH(4, 2, c, h, h + 1));
        IrValue *dw = conv(g, "dw", x, c, 7, 1, 3, 1, c, true);
        output(g, "conv_ln", layernorm(g, "ln_conv", dw, 1));
        output(g, "input_ln", layernorm(g, "ln_input", x, -3));
        IrValue *pooled = unary(g, OP_GLOBAL_AVGPOOL, "", dw);
        output(g, "pooled_ln", layernorm(g, "ln_pooled", pooled, 1));
        IrValue *nhwc = unary(g, OP_PERMUTE, "dims=[0,-2,-1,1]", dw);
        IrValue *mlp = linear(g, "fc", layernorm(g, "ln_last", nhwc, -1), c, true);
        IrValue *back = unary(g, OP_PERMUTE, "dims=[0,3,1,2]", mlp);
        output(g, "block", back);
        /* ConvNeXt's residual: the input plus a layer scale [C, 1, 1] times
         * the block, then the next block's depthwise conv. */
        IrValue *scaled = binary(g, OP_MUL, param(g, "ls", "layer_scale", SH(3, c, 1, 1)), back);
        output(g, "next", conv(g, "dw2", binary(g, OP_ADD, dw, scaled), c, 7, 1, 3, 1, c, true));
        /* A squeeze-excitation gate times a conv result (EfficientNet). */
        IrValue *gate = unary(g, OP_SIGMOID, "", conv(g, "se", pooled, c, 1, 1, 0, 1, 1, true));
        output(g, "gated", conv(g, "proj", binary(g, OP_MUL, dw, gate), c, 1, 1, 0, 1, 1, false));
        check(g, 1 + round);
    }
}

/* An integer tensor: refused, naming the layer. */
static void test_unsupported_dtype(void **state)
{
    IrGraph *g = ir_graph_new("halves");
    IrValue *x = ir_add_input(g, "x", DT_F16, SH(2, 2, 3), here());
    IrValue *r = add_node(g, OP_RELU, "act", "", 1, &x, here())->out;
    ir_add_output(g, "y", r);
    Captured cap;
    cap_open(&cap);
    LlvmOptions o = {.threads = 1, .opt_level = 2};
    assert_null(llvm_jit_compile(g, &o, cap.d));
    const char *text = cap_text(&cap);
    if (!strstr(text, "layer 'act' (relu)") || !strstr(text, "not supported by the llvm backend"))
        fail_msg("unexpected diagnostics:\n%s", text);
    free(cap_finish(&cap));
    ir_graph_free(g);
}

int main(void)
{
    test_rng_state = 0x9E3779B97F4A7C15ull;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_variants), cmocka_unit_test(test_conv_fusion),
        cmocka_unit_test(test_linear),        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_attention),     cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_pools),         cmocka_unit_test(test_batchnorm_standalone),
        cmocka_unit_test(test_data_movement), cmocka_unit_test(test_concat_into_spatial_ops),
        cmocka_unit_test(test_channels_last_blocks),
        cmocka_unit_test(test_unsupported_dtype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
