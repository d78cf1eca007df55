/*
 * test_interp.c — the reference interpreter (runtime/interp.c).
 *
 * A small graph run end to end with values worked out by hand (a value read
 * by several nodes, a dead node, an input and an intermediate that are also
 * outputs, f16 input and weights converted to f32), and the errors a user
 * can cause: an input of the wrong shape or dtype, unbound parameters (every
 * key listed), and a failing kernel reported with the node's name and source
 * location. Diagnostics are captured with open_memstream and checked as text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../runtime/interp.h"
#include "ir_test_util.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

static Tensor *tens(DType dt, Shape s, const float *vals)
{
    Tensor *t = tensor_new(dt, &s);
    assert_non_null(t);
    for (int64_t i = 0; i < tensor_numel(t); i++) {
        if (dt == DT_F32)
            ((float *)t->data)[i] = vals[i];
        else if (dt == DT_F16)
            ((uint16_t *)t->data)[i] = f32_to_f16(vals[i]);
        else if (dt == DT_I32)
            ((int32_t *)t->data)[i] = (int32_t)vals[i];
        else
            fail_msg("test bug: dtype %s", dtype_name(dt));
    }
    return t;
}

static Loc at(int line, int col) { return (Loc){"net.net", line, col, 1}; }

static void expect_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, text);
}

/*
 * The test network:
 *   in x: IN_DT[2, 3];
 *   fc = linear(x, 2);        # W = [[1, 0, -1], [0, 1, 0]], b = [0, 1]
 *   r = relu(fc);
 *   dead = sigmoid(x);        # nobody reads it
 *   out y = r * r;
 *   out r; out x;
 * With x = [[1, 2, 3], [-1, 0, 4]]: fc = [[-2, 3], [-5, 1]], r = [[0, 3], [0, 1]],
 * y = [[0, 9], [0, 1]].
 */
typedef struct Net {
    IrGraph *g;
    IrNode *fc;
    IrValue *weight, *bias;
} Net;

static Net build(DType in_dt, bool bind_weight, bool bind_bias, DType weight_dt)
{
    Net t = {.g = ir_graph_new("net")};
    IrValue *x = ir_add_input(t.g, "x", in_dt, (Shape){2, {2, 3}}, at(2, 5));
    t.weight = ir_add_param(t.g, "fc.weight", DT_F32, (Shape){2, {2, 3}}, at(3, 5));
    t.bias = ir_add_param(t.g, "fc.bias", DT_F32, (Shape){1, {2}}, at(3, 5));
    if (bind_weight)
        ir_bind(t.weight, tens(weight_dt, (Shape){2, {2, 3}}, (float[]){1, 0, -1, 0, 1, 0}));
    if (bind_bias)
        ir_bind(t.bias, tens(DT_F32, (Shape){1, {2}}, (float[]){0, 1}));

    IrValue *fc_in[] = {x, t.weight, t.bias};
    t.fc = add_node(t.g, OP_LINEAR, "fc", "out_features=2 bias=true", 3, fc_in, at(3, 5));
    IrNode *r = add_node(t.g, OP_RELU, NULL, NULL, 1, &t.fc->out, at(4, 5));
    add_node(t.g, OP_SIGMOID, NULL, NULL, 1, &x, at(5, 5)); /* dead */
    IrValue *rr[] = {r->out, r->out};
    IrNode *y = add_node(t.g, OP_MUL, NULL, NULL, 2, rr, at(6, 5));
    ir_add_output(t.g, "y", y->out);
    ir_add_output(t.g, "r", r->out);
    ir_add_output(t.g, "x", x);
    return t;
}

static const float x_vals[] = {1, 2, 3, -1, 0, 4};

static void expect_values(const Tensor *t, Shape s, const float *want)
{
    assert_non_null(t);
    assert_int_equal(t->dtype, DT_F32);
    assert_true(shape_equal(&t->shape, &s));
    for (int64_t i = 0; i < shape_numel(&s); i++)
        if (((const float *)t->data)[i] != want[i])
            fail_msg("element %lld: got %g, expected %g", (long long)i,
                     ((const float *)t->data)[i], want[i]);
}

/* -------------------------------------------------------------- tests */

static void run_and_check(DType in_dt, DType weight_dt)
{
    Net t = build(in_dt, true, true, weight_dt);
    Tensor *x = tens(in_dt, (Shape){2, {2, 3}}, x_vals);
    Tensor *outs[3] = {NULL, NULL, NULL};
    Captured c;
    cap_open(&c);
    bool ok = rt_interp_run(t.g, (Tensor *const[]){x}, outs, c.d);
    if (!ok)
        fail_msg("run failed:\n%s", cap_text(&c));
    assert_int_equal(diag_errors(c.d), 0);
    expect_values(outs[0], (Shape){2, {2, 2}}, (float[]){0, 9, 0, 1});
    expect_values(outs[1], (Shape){2, {2, 2}}, (float[]){0, 3, 0, 1});
    expect_values(outs[2], (Shape){2, {2, 3}}, x_vals);
    /* The caller's input is untouched and not handed back as an output. */
    assert_ptr_not_equal(outs[2], x);
    assert_int_equal(x->dtype, in_dt);
    for (int i = 0; i < 3; i++)
        tensor_free(outs[i]);
    tensor_free(x);
    cap_close(&c);
    ir_graph_free(t.g);
}

static void test_end_to_end(void **state) { run_and_check(DT_F32, DT_F32); }

/* f16 input and weights are converted to f32; results are f32. */
static void test_f16_converted(void **state) { run_and_check(DT_F16, DT_F16); }

/* The same value may be an output twice; each output gets its own tensor. */
static void test_output_twice(void **state)
{
    IrGraph *g = ir_graph_new("net");
    IrValue *x = ir_add_input(g, "x", DT_F32, (Shape){1, {3}}, at(1, 1));
    IrNode *r = add_node(g, OP_RELU, NULL, NULL, 1, &x, at(2, 1));
    ir_add_output(g, "a", r->out);
    ir_add_output(g, "b", r->out);
    Tensor *in = tens(DT_F32, (Shape){1, {3}}, (float[]){-1, 0, 2});
    Tensor *outs[2];
    Captured c;
    cap_open(&c);
    assert_true(rt_interp_run(g, (Tensor *const[]){in}, outs, c.d));
    assert_ptr_not_equal(outs[0], outs[1]);
    expect_values(outs[0], (Shape){1, {3}}, (float[]){0, 0, 2});
    expect_values(outs[1], (Shape){1, {3}}, (float[]){0, 0, 2});
    tensor_free(outs[0]);
    tensor_free(outs[1]);
    tensor_free(in);
    cap_close(&c);
    ir_graph_free(g);
}

/*
 * Values that stay live across several nodes (x until the last node, a
 * across two) must survive until their last reader: under ASan an early
 * free would be a use-after-free. y = (relu(x) + sigmoid(relu(x))) * x.
 */
static void test_long_lived_values(void **state)
{
    IrGraph *g = ir_graph_new("net");
    IrValue *x = ir_add_input(g, "x", DT_F32, (Shape){1, {4}}, at(1, 1));
    IrNode *a = add_node(g, OP_RELU, NULL, NULL, 1, &x, at(2, 1));
    IrNode *b = add_node(g, OP_SIGMOID, NULL, NULL, 1, &a->out, at(3, 1));
    IrValue *ab[] = {a->out, b->out};
    IrNode *c = add_node(g, OP_ADD, NULL, NULL, 2, ab, at(4, 1));
    IrValue *cx[] = {c->out, x};
    IrNode *y = add_node(g, OP_MUL, NULL, NULL, 2, cx, at(5, 1));
    ir_add_output(g, "y", y->out);
    float xs[] = {-2, 0, 1, 3};
    Tensor *in = tens(DT_F32, (Shape){1, {4}}, xs);
    Tensor *outs[1];
    Captured cap;
    cap_open(&cap);
    assert_true(rt_interp_run(g, (Tensor *const[]){in}, outs, cap.d));
    for (int i = 0; i < 4; i++) {
        double r = xs[i] > 0 ? xs[i] : 0, want = (r + 1 / (1 + exp(-r))) * xs[i];
        assert_true(fabs(((float *)outs[0]->data)[i] - want) < 1e-6);
    }
    tensor_free(outs[0]);
    tensor_free(in);
    cap_close(&cap);
    ir_graph_free(g);
}

/*
 * Runs g on x (NULL: no input given), which must fail with `errors` errors,
 * print every message of the NULL-terminated list want and set each of the
 * nout outputs to NULL. Frees x and g.
 */
static void expect_run_fails(IrGraph *g, Tensor *x, int nout, int errors, const char *const *want)
{
    Tensor *outs[3] = {(Tensor *)1, (Tensor *)1, (Tensor *)1};
    assert_true(nout <= 3);
    Captured c;
    cap_open(&c);
    assert_false(rt_interp_run(g, (Tensor *const[]){x}, outs, c.d));
    const char *msg = cap_text(&c);
    for (int i = 0; want[i]; i++)
        expect_contains(msg, want[i]);
    assert_int_equal(diag_errors(c.d), errors);
    for (int i = 0; i < nout; i++)
        assert_null(outs[i]);
    tensor_free(x);
    cap_close(&c);
    ir_graph_free(g);
}

#define MESSAGES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_input_shape_mismatch(void **state)
{
    Net t = build(DT_F32, true, true, DT_F32);
    expect_run_fails(t.g, tens(DT_F32, (Shape){2, {3, 2}}, x_vals), 3, 1,
                     MESSAGES("net.net:2:5: error: input 'x' expects f32[2, 3], got f32[3, 2]"));
}

static void test_input_dtype_mismatch(void **state)
{
    Net t = build(DT_F32, true, true, DT_F32);
    expect_run_fails(t.g, tens(DT_I32, (Shape){2, {2, 3}}, x_vals), 3, 1,
                     MESSAGES("input 'x' expects f32[2, 3], got i32[2, 3]"));
}

static void test_missing_input(void **state)
{
    Net t = build(DT_F32, true, true, DT_F32);
    expect_run_fails(t.g, NULL, 3, 1, MESSAGES("input 'x' was not given"));
}

/* Every unbound parameter is reported by key, in one run. */
static void test_unbound_params(void **state)
{
    Net t = build(DT_F32, false, false, DT_F32);
    expect_run_fails(t.g, tens(DT_F32, (Shape){2, {2, 3}}, x_vals), 3, 2,
                     MESSAGES("net.net:3:5: error: parameter 'fc.weight' has no data bound",
                              "parameter 'fc.bias' has no data bound"));
}

static void test_param_wrong_shape(void **state)
{
    Net t = build(DT_F32, true, false, DT_F32);
    ir_bind(t.bias, tens(DT_F32, (Shape){1, {3}}, (float[]){0, 1, 2}));
    expect_run_fails(t.g, tens(DT_F32, (Shape){2, {2, 3}}, x_vals), 3, 1,
                     MESSAGES("parameter 'fc.bias' expects shape [2], bound data has [3]"));
}

/* A kernel failure names the node and points at its source location. */
static void test_kernel_error_names_node(void **state)
{
    Net t = build(DT_F32, true, true, DT_F32);
    t.fc->out->shape.d[1] = 5; /* corrupt the graph behind the shape rule's back */
    expect_run_fails(t.g, tens(DT_F32, (Shape){2, {2, 3}}, x_vals), 3, 1,
                     MESSAGES("net.net:3:5: error: fc (linear): output shape [2, 5] disagrees"));
}

/* An unnamed node is called by its op and id. */
static void test_kernel_error_unnamed_node(void **state)
{
    IrGraph *g = ir_graph_new("net");
    IrValue *x = ir_add_input(g, "x", DT_F32, (Shape){1, {3}}, at(1, 1));
    IrNode *r = add_node(g, OP_RELU, NULL, NULL, 1, &x, at(7, 9));
    r->out->shape.d[0] = 4;
    ir_add_output(g, "y", r->out);
    expect_run_fails(g, tens(DT_F32, (Shape){1, {3}}, (float[]){1, 2, 3}), 1, 1,
                     MESSAGES("net.net:7:9: error: relu #0: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end_to_end),
        cmocka_unit_test(test_f16_converted),
        cmocka_unit_test(test_output_twice),
        cmocka_unit_test(test_long_lived_values),
        cmocka_unit_test(test_input_shape_mismatch),
        cmocka_unit_test(test_input_dtype_mismatch),
        cmocka_unit_test(test_missing_input),
        cmocka_unit_test(test_unbound_params),
        cmocka_unit_test(test_param_wrong_shape),
        cmocka_unit_test(test_kernel_error_names_node),
        cmocka_unit_test(test_kernel_error_unnamed_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
