/*
 * test_passes.c — the pass manager and each pass (passes/) on small graphs
 * built by hand.
 *
 * Passes that must not change a number (dce, remove-identity) are checked
 * bit for bit against the reference interpreter before and after; folding
 * passes within 1e-5 relative. Every graph is verified after its pass.
 * Pipeline diagnostics are captured and checked as text, caret included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../passes/pass.h"
#include "../../runtime/init.h"
#include "../../runtime/interp.h"
#include "ir_test_util.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

static Loc at(int line) { return (Loc){"t.net", line, 1, 1}; }

static void expect_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, text);
}

static void expect_verifies(const IrGraph *g)
{
    Captured c;
    cap_open(&c);
    if (!ir_verify(g, c.d))
        fail_msg("the graph does not verify:\n%s", cap_text(&c));
    cap_close(&c);
}

/* Runs pipeline text on g with the verifier on; returns what was reported. */
static char *run_text(IrGraph *g, const char *text, bool expect_ok)
{
    Captured c;
    cap_open(&c);
    PassPipeline *p = pass_pipeline_parse(text, c.d);
    if (!p)
        fail_msg("pipeline '%s' does not parse:\n%s", text, cap_text(&c));
    PassRunOptions o = {.verify_each = true};
    bool ok = pass_pipeline_run(p, g, &o, c.d);
    pass_pipeline_free(p);
    if (ok != expect_ok)
        fail_msg("pipeline '%s' %s:\n%s", text, ok ? "succeeded" : "failed", cap_text(&c));
    if (ok)
        expect_verifies(g);
    return cap_finish(&c);
}

static void run_ok(IrGraph *g, const char *text) { free(run_text(g, text, true)); }

/* The first output of g on input x (g has one input and one output). */
static Tensor *eval(const IrGraph *g, Tensor *x)
{
    Captured c;
    cap_open(&c);
    Tensor *out = NULL;
    if (!rt_interp_run(g, &x, &out, c.d))
        fail_msg("interpreter:\n%s", cap_text(&c));
    cap_close(&c);
    return out;
}

static Tensor *ramp(Shape s)
{
    Tensor *t = tensor_new(DT_F32, &s);
    for (int64_t i = 0; i < tensor_numel(t); i++)
        ((float *)t->data)[i] = (float)sin(0.7 * (double)i + 0.3);
    return t;
}

static void bind_all(IrGraph *g)
{
    Captured c;
    cap_open(&c);
    assert_true(rt_init_weights(g, 7, c.d));
    cap_close(&c);
}

static double rel_diff(const Tensor *a, const Tensor *b)
{
    assert_true(shape_equal(&a->shape, &b->shape));
    double scale = 0, err = 0;
    for (int64_t i = 0; i < tensor_numel(a); i++) {
        scale = fmax(scale, fabs(((float *)b->data)[i]));
        err = fmax(err, fabs(((float *)a->data)[i] - ((float *)b->data)[i]));
    }
    return scale > 0 ? err / scale : err;
}

static int count_op(const IrGraph *g, OpKind op)
{
    int n = 0;
    for (int i = 0; i < g->nnodes; i++)
        n += g->nodes[i]->op == op;
    return n;
}

/* ------------------------------------------------------------ dce */

/* x -> relu -> out; sigmoid(x) -> relu dead; an unused parameter; a weight
 * whose quantization scale only metadata refers to. */
static void test_dce_removes_dead_chains_and_params(void **state)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(2, 2, 3), at(1));
    IrValue *w = ir_add_param(g, "fc.weight", DT_F32, SH(2, 2, 3), at(2));
    IrValue *scale = ir_add_param(g, "fc.weight.scale", DT_F32, SH(1, 1), at(2));
    ir_add_param(g, "unused", DT_F32, SH(1, 4), at(3));
    IrQuant *q = arena_alloc(g->arena, sizeof *q);
    *q = (IrQuant){.bits = 8, .is_signed = true, .axis = -1, .scale = scale};
    w->quant = q;
    IrNode *fc = add_node(g, OP_LINEAR, "fc", "out_features=2 bias=false", 2, (IrValue *[]){x, w}, at(4));
    IrNode *r = add_node(g, OP_RELU, "r", NULL, 1, &fc->out, at(5));
    IrNode *s = add_node(g, OP_SIGMOID, "dead1", NULL, 1, &x, at(6));
    add_node(g, OP_RELU, "dead2", NULL, 1, &s->out, at(7));
    ir_add_output(g, "y", r->out);

    run_ok(g, "dce");
    assert_int_equal(g->nnodes, 2);
    assert_int_equal(count_op(g, OP_SIGMOID), 0);
    assert_null(ir_find_param(g, "unused"));
    assert_non_null(ir_find_param(g, "fc.weight"));
    assert_non_null(ir_find_param(g, "fc.weight.scale")); /* read only by metadata */
    assert_int_equal(g->ninputs, 1);
    ir_graph_free(g);
}

/* An input nobody reads stays: it is part of the calling convention. */
static void test_dce_keeps_inputs(void **state)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(1, 3), at(1));
    ir_add_input(g, "unused", DT_F32, SH(1, 3), at(1));
    IrNode *r = add_node(g, OP_RELU, NULL, NULL, 1, &x, at(2));
    ir_add_output(g, "y", r->out);
    run_ok(g, "dce");
    assert_int_equal(g->ninputs, 2);
    assert_int_equal(g->nnodes, 1);
    ir_graph_free(g);
}

/* ------------------------------------------------------------ remove-identity */

static void test_remove_identity_is_exact(void **state)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(3, 1, 4, 6), at(1));
    IrNode *a = add_node(g, OP_SIGMOID, "a", NULL, 1, &x, at(2));
    IrNode *dr = add_node(g, OP_DROPOUT, "drop", "p=0.1", 1, &a->out, at(3));
    IrNode *rs = add_node(g, OP_RESHAPE, "same", "shape=[1,4,6]", 1, &dr->out, at(4));
    IrNode *sl = add_node(g, OP_SLICE, "all", "dim=2 start=0 end=6", 1, &rs->out, at(5));
    IrNode *pm = add_node(g, OP_PERMUTE, "id", "dims=[0,1,-1]", 1, &sl->out, at(6));
    IrNode *half = add_node(g, OP_SLICE, "half", "dim=2 start=0 end=3", 1, &pm->out, at(7));
    IrNode *r = add_node(g, OP_RELU, "r", NULL, 1, &half->out, at(8));
    ir_add_output(g, "y", r->out);
    Tensor *in = ramp(x->shape), *before = eval(g, in);

    run_ok(g, "remove-identity");
    assert_int_equal(g->nnodes, 3); /* sigmoid, the half slice, relu */
    assert_int_equal(count_op(g, OP_DROPOUT), 0);
    Tensor *after = eval(g, in);
    assert_memory_equal(before->data, after->data, tensor_nbytes(before));
    tensor_free(in), tensor_free(before), tensor_free(after);
    ir_graph_free(g);
}

/* A dropout straight from the input to an output stays (outputs are node results). */
static void test_remove_identity_keeps_output_of_input(void **state)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(1, 3), at(1));
    IrNode *dr = add_node(g, OP_DROPOUT, NULL, NULL, 1, &x, at(2));
    ir_add_output(g, "y", dr->out);
    run_ok(g, "remove-identity");
    assert_int_equal(g->nnodes, 1);
    ir_graph_free(g);
}

/* ------------------------------------------------------------ fold-bn */

/* x -> conv(bias?) -> batchnorm -> relu -> y, weights from rt_init_weights. */
static IrGraph *conv_bn(bool bias, bool bind)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 5, 5), at(1));
    IrValue *w = ir_add_param(g, "conv.weight", DT_F32, SH(4, 3, 2, 3, 3), at(2));
    IrValue *in[3] = {x, w};
    if (bias)
        in[2] = ir_add_param(g, "conv.bias", DT_F32, SH(1, 3), at(2));
    IrNode *c = add_node(g, OP_CONV2D, "conv", bias ? "out_channels=3 kernel_size=3 padding=1"
                                                    : "out_channels=3 kernel_size=3 padding=1 bias=false",
                         bias ? 3 : 2, in, at(2));
    IrValue *bn_in[5] = {c->out};
    const char *keys[4] = {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};
    for (int k = 0; k < 4; k++)
        bn_in[k + 1] = ir_add_param(g, keys[k], DT_F32, SH(1, 3), at(3));
    IrNode *bn = add_node(g, OP_BATCHNORM, "bn", NULL, 5, bn_in, at(3));
    IrNode *r = add_node(g, OP_RELU, "relu", NULL, 1, &bn->out, at(4));
    ir_add_output(g, "y", r->out);
    if (bind)
        bind_all(g);
    return g;
}

static void check_fold(IrGraph *g)
{
    Tensor *in = ramp(g->inputs[0]->shape), *before = eval(g, in);
    run_ok(g, "fold-bn,dce");
    assert_int_equal(count_op(g, OP_BATCHNORM), 0);
    assert_null(ir_find_param(g, "bn.running_var"));
    Tensor *after = eval(g, in);
    double e = rel_diff(after, before);
    if (e > 1e-5)
        fail_msg("folded graph differs by %g relative", e);
    tensor_free(in), tensor_free(before), tensor_free(after);
}

static void test_fold_bn_conv(void **state)
{
    for (int bias = 0; bias < 2; bias++) {
        IrGraph *g = conv_bn(bias, true);
        check_fold(g);
        assert_int_equal(g->nnodes, 2);
        const IrNode *c = g->nodes[0];
        assert_int_equal(c->op, OP_CONV2D);
        assert_true(ir_attr_int(c, "bias"));
        assert_string_equal(c->name, "conv");
        assert_ptr_equal(c->in[2], ir_find_param(g, "conv.bias")); /* new key when it had none */
        ir_graph_free(g);
    }
}

/* BatchNorm1d after a linear on a 2-D result. */
static void test_fold_bn_linear(void **state)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(2, 2, 5), at(1));
    IrValue *w = ir_add_param(g, "fc.weight", DT_F32, SH(2, 4, 5), at(2));
    IrValue *b = ir_add_param(g, "fc.bias", DT_F32, SH(1, 4), at(2));
    IrNode *fc = add_node(g, OP_LINEAR, "fc", "out_features=4", 3, (IrValue *[]){x, w, b}, at(2));
    IrValue *bn_in[5] = {fc->out};
    for (int k = 0; k < 4; k++)
        bn_in[k + 1] = ir_add_param(g, (const char *[]){"bn.w", "bn.b", "bn.m", "bn.v"}[k], DT_F32, SH(1, 4), at(3));
    IrNode *bn = add_node(g, OP_BATCHNORM, "bn", NULL, 5, bn_in, at(3));
    ir_add_output(g, "y", bn->out);
    bind_all(g);
    check_fold(g);
    assert_int_equal(g->nnodes, 1);
    ir_graph_free(g);
}

static void test_fold_bn_refuses_unbound(void **state)
{
    IrGraph *g = conv_bn(false, false);
    char *msg = run_text(g, "fold-bn", false);
    expect_contains(msg, "cannot fold batchnorm 'bn' into conv2d 'conv': parameter 'conv.weight' has no data bound");
    free(msg);
    assert_int_equal(count_op(g, OP_BATCHNORM), 1); /* nothing rewritten */
    ir_graph_free(g);
}

/* A conv whose weight another conv also reads is left alone. */
static void test_fold_bn_leaves_shared_weight(void **state)
{
    IrGraph *g = conv_bn(false, false);
    IrValue *w = ir_find_param(g, "conv.weight");
    IrNode *other = add_node(g, OP_CONV2D, "other", "out_channels=3 kernel_size=3 padding=1 bias=false", 2,
                             (IrValue *[]){g->inputs[0], w}, at(5));
    ir_add_output(g, "z", other->out);
    run_ok(g, "fold-bn"); /* unbound, but not a candidate: no error either */
    assert_int_equal(count_op(g, OP_BATCHNORM), 1);
    ir_graph_free(g);
}

/* ------------------------------------------------------------ fold-constants */

/* y = x + expand(token, [1, 3, 4]) with token bound. */
static IrGraph *expand_net(void)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(3, 1, 3, 4), at(1));
    IrValue *tok = ir_add_param(g, "token", DT_F32, SH(3, 1, 1, 4), at(2));
    IrNode *e = add_node(g, OP_EXPAND, "tokens", "shape=[1,3,-1]", 1, &tok, at(3));
    IrNode *s = add_node(g, OP_ADD, NULL, NULL, 2, (IrValue *[]){x, e->out}, at(4));
    ir_add_output(g, "y", s->out);
    bind_all(g);
    return g;
}

static void test_fold_constants_expand(void **state)
{
    IrGraph *g = expand_net();
    Tensor *in = ramp(g->inputs[0]->shape), *before = eval(g, in);
    run_ok(g, "fold-constants,dce");
    assert_int_equal(g->nnodes, 1);
    IrValue *p = ir_find_param(g, "tokens");
    assert_non_null(p);
    assert_ptr_equal(g->nodes[0]->in[1], p);
    assert_null(ir_find_param(g, "token")); /* dce removed what the expand read */
    Tensor *after = eval(g, in);
    assert_true(rel_diff(after, before) <= 1e-5);
    tensor_free(in), tensor_free(before), tensor_free(after);
    ir_graph_free(g);
}

static void test_fold_constants_max_bytes(void **state)
{
    IrGraph *g = expand_net(); /* the expand's result is 48 bytes */
    run_ok(g, "fold-constants(max-bytes=47)");
    assert_int_equal(count_op(g, OP_EXPAND), 1);
    run_ok(g, "fold-constants(max-bytes=48)");
    assert_int_equal(count_op(g, OP_EXPAND), 0);
    ir_graph_free(g);
}

/* ------------------------------------------------------------ the pass manager */

static char *parse_errors(const char *text)
{
    Captured c;
    cap_open(&c);
    PassPipeline *p = pass_pipeline_parse(text, c.d);
    if (p)
        fail_msg("'%s' parsed", text);
    return cap_finish(&c);
}

static void test_parse_unknown_pass(void **state)
{
    char *msg = parse_errors("dce,bogus,fold-bn");
    expect_contains(msg, "--passes:1:5: error: unknown pass 'bogus' (known passes: annotations, prune, dce, remove-identity, "
                         "fold-bn, fold-constants, quantize, expand-mha, integerize)");
    expect_contains(msg, "dce,bogus,fold-bn\n");
    expect_contains(msg, "    ^~~~~");
    free(msg);
}

static void test_parse_option_errors(void **state)
{
    char *msg = parse_errors("fold-constants(max-bytes=-1),fold-constants(size=3),fold-constants(max-bytes=1k)");
    expect_contains(msg, "--passes:1:26: error: option 'max-bytes' out of range: -1 is not in 0..1099511627776");
    expect_contains(msg, "--passes:1:45: error: pass 'fold-constants' has no option 'size' (it takes max-bytes)");
    expect_contains(msg, "error: option 'max-bytes' of pass 'fold-constants' takes an integer, not '1k'");
    free(msg);
    msg = parse_errors("dce(x=1)");
    expect_contains(msg, "pass 'dce' has no option 'x' (it takes none)");
    free(msg);
    msg = parse_errors("dce,");
    expect_contains(msg, "expected a pass name after ','");
    free(msg);
}

static void test_pipeline_text_and_defaults(void **state)
{
    Captured c;
    cap_open(&c);
    PassPipeline *p = pass_pipeline_parse(" dce , fold-constants( max-bytes = 5 ) ", c.d);
    assert_non_null(p);
    assert_string_equal(pass_pipeline_text(p), "dce,fold-constants(max-bytes=5)");
    pass_pipeline_free(p);
    p = pass_pipeline_parse("", c.d);
    assert_int_equal(pass_pipeline_length(p), 0);
    pass_pipeline_free(p);
    cap_close(&c);
    const char *want[] = {"", "remove-identity,dce", "fold-constants,remove-identity,fold-bn,dce",
                          "fold-constants,remove-identity,fold-bn,dce"};
    for (int level = 0; level < 4; level++) {
        p = pass_pipeline_default(level);
        assert_string_equal(pass_pipeline_text(p), want[level]);
        pass_pipeline_free(p);
    }
    /* every pass of the table parses with its default options */
    int n;
    const PassInfo *t = pass_table(&n);
    for (int i = 0; i < n; i++) {
        assert_ptr_equal(pass_lookup(t[i].name), &t[i]);
        IrGraph *g = expand_net();
        run_ok(g, t[i].name);
        ir_graph_free(g);
    }
}

/* A pass that breaks an invariant behind the rewriting API's back. */
static bool break_shapes(IrGraph *g, const PassArgs *args, Diag *d)
{
    g->nodes[0]->out->shape.d[0] = 7;
    return true;
}

static void test_verify_each_names_the_pass(void **state)
{
    IrGraph *g = expand_net();
    PassPipeline *p = pass_pipeline_new();
    PassInfo broken = {"break-shapes", break_shapes, "", "test only"};
    pass_pipeline_append(p, pass_lookup("dce"));
    pass_pipeline_append(p, &broken);
    assert_string_equal(pass_pipeline_text(p), "dce,break-shapes");
    Captured c;
    cap_open(&c);
    PassRunOptions o = {.verify_each = true};
    assert_false(pass_pipeline_run(p, g, &o, c.d));
    expect_contains(cap_text(&c), "error: after pass 'break-shapes': the graph no longer verifies");
    cap_close(&c);
    pass_pipeline_free(p);
    ir_graph_free(g);
}

static void test_time_and_print_after(void **state)
{
    IrGraph *g = expand_net();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    Captured c;
    cap_open(&c);
    PassPipeline *p = pass_pipeline_parse("fold-constants,remove-identity,dce", c.d);
    PassRunOptions o = {.print_after = "dce", .print_to = f, .time_passes = true, .time_to = f};
    assert_true(pass_pipeline_run(p, g, &o, c.d));
    cap_close(&c);
    fclose(f);
    expect_contains(buf, "; after pass 'dce'\ngraph t {");
    assert_null(strstr(buf, "; after pass 'fold-constants'"));
    expect_contains(buf, "2 -> 1  fold-constants\n");
    expect_contains(buf, "1 -> 1  remove-identity\n");
    expect_contains(buf, "1 -> 1  dce\n");
    expect_contains(buf, "100.0%");
    free(buf);
    pass_pipeline_free(p);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dce_removes_dead_chains_and_params),
        cmocka_unit_test(test_dce_keeps_inputs),
        cmocka_unit_test(test_remove_identity_is_exact),
        cmocka_unit_test(test_remove_identity_keeps_output_of_input),
        cmocka_unit_test(test_fold_bn_conv),
        cmocka_unit_test(test_fold_bn_linear),
        cmocka_unit_test(test_fold_bn_refuses_unbound),
        cmocka_unit_test(test_fold_bn_leaves_shared_weight),
        cmocka_unit_test(test_fold_constants_expand),
        cmocka_unit_test(test_fold_constants_max_bytes),
        cmocka_unit_test(test_parse_unknown_pass),
        cmocka_unit_test(test_parse_option_errors),
        cmocka_unit_test(test_pipeline_text_and_defaults),
        cmocka_unit_test(test_verify_each_names_the_pass),
        cmocka_unit_test(test_time_and_print_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
