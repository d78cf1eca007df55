/*
 * test_elab.c — the elaborator's semantics: instance naming (assignments,
 * seq numbering that shifts with conditional layers, name templates,
 * nested scopes), typed block parameters that bind dimensions, lazy
 * ternaries, -D and --batch, imports, annotations kept in the IR, and
 * errors that name the right place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../frontend/elab.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Result {
    IrGraph *g;
    char *messages; /* everything the diagnostics printed */
    int errors;
} Result;

static const char *write_source(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    write_bytes(path, text, strlen(text));
    return path;
}

static Result elab_opts(const char *text, const ElabOptions *opt)
{
    Result r = {0};
    const char *path = write_source("main.net", text);
    Captured c;
    cap_open(&c);
    Arena *a = arena_new();
    r.g = elab_file(a, c.d, path, opt);
    r.errors = diag_errors(c.d);
    r.messages = cap_finish(&c);
    arena_free(a);
    return r;
}

static Result elab(const char *text) { return elab_opts(text, NULL); }

static void result_free(Result *r)
{
    ir_graph_free(r->g);
    free(r->messages);
}

static bool has_param(const IrGraph *g, const char *key, int rank, const int64_t *dims)
{
    IrValue *p = ir_find_param(g, key);
    if (!p || p->shape.rank != rank)
        return false;
    for (int i = 0; i < rank; i++)
        if (p->shape.d[i] != dims[i])
            return false;
    return true;
}

static void test_assignment_names_instances(void **state)
{
    Result r = elab("net n() {\n"
                    "  in x: f32[2, 8];\n"
                    "  fc1 = linear(x, 4);\n"
                    "  head = linear(relu(fc1), 3, bias = false);\n"
                    "  out y = head;\n"
                    "}\n");
    assert_non_null(r.g);
    assert_true(has_param(r.g, "fc1.weight", 2, (int64_t[]){4, 8}));
    assert_true(has_param(r.g, "fc1.bias", 1, (int64_t[]){4}));
    assert_true(has_param(r.g, "head.weight", 2, (int64_t[]){3, 4}));
    assert_null(ir_find_param(r.g, "head.bias"));
    assert_int_equal(r.g->nparams, 3);
    assert_int_equal(r.g->noutputs, 1);
    assert_int_equal(r.g->outputs[0].value->shape.d[1], 3);
    result_free(&r);
}

/* Every seq statement takes the next index, layers without parameters too,
 * and conditional layers shift the numbering as in nn.Sequential. */
static void test_seq_numbering(void **state)
{
    Result r = elab("block B(x: f32[N, C], expand: bool) {\n"
                    "  body = seq(x) {\n"
                    "    if expand { linear(_, C * 2); relu(_); }\n"
                    "    linear(_, C);\n"
                    "    dropout(_);\n"
                    "    linear(_, C);\n"
                    "  };\n"
                    "  return body;\n"
                    "}\n"
                    "net n() {\n"
                    "  in x: f32[1, 4];\n"
                    "  blocks = seq(x) { B(_, true); B(_, false); };\n"
                    "  out y = blocks;\n"
                    "}\n");
    assert_non_null(r.g);
    assert_true(has_param(r.g, "blocks.0.body.0.weight", 2, (int64_t[]){8, 4}));
    assert_true(has_param(r.g, "blocks.0.body.2.weight", 2, (int64_t[]){4, 8}));
    assert_true(has_param(r.g, "blocks.0.body.4.weight", 2, (int64_t[]){4, 4}));
    assert_true(has_param(r.g, "blocks.1.body.0.weight", 2, (int64_t[]){4, 4}));
    assert_true(has_param(r.g, "blocks.1.body.2.bias", 1, (int64_t[]){4}));
    assert_null(ir_find_param(r.g, "blocks.1.body.4.weight"));
    result_free(&r);
}

/* `return seq(...)` makes the block itself the Sequential: its layers are
 * numbered right under the block's instance name. */
static void test_return_seq_names_under_the_block(void **state)
{
    Result r = elab("block ConvBN(x: f32[N, C, H, W], c: int) {\n"
                    "  return seq(x) { conv2d(_, c, 3, padding = 1, bias = false); batchnorm(_); relu6(_); };\n"
                    "}\n"
                    "net n() {\n"
                    "  in x: f32[1, 3, 8, 8];\n"
                    "  features = seq(x) { ConvBN(_, 8); ConvBN(_, 4); };\n"
                    "  out y = features;\n"
                    "}\n");
    assert_non_null(r.g);
    assert_true(has_param(r.g, "features.0.0.weight", 4, (int64_t[]){8, 3, 3, 3}));
    assert_true(has_param(r.g, "features.0.1.running_var", 1, (int64_t[]){8}));
    assert_true(has_param(r.g, "features.1.0.weight", 4, (int64_t[]){4, 8, 3, 3}));
    assert_int_equal(r.g->nparams, 10);
    result_free(&r);
}

static void test_name_templates_and_loops(void **state)
{
    Result r = elab("net n(layers: int = 3) {\n"
                    "  in x: f32[1, 2, 6];\n"
                    "  enc = seq(x) {\n"
                    "    for i in 0..layers { \"layer_{i}\" = layernorm(_); }\n"
                    "  };\n"
                    "  cls = param([1, 1, 6], init = \"zeros\");\n"
                    "  out y = concat([cls, enc], dim = 1);\n"
                    "}\n");
    assert_non_null(r.g);
    assert_true(has_param(r.g, "enc.layer_0.weight", 1, (int64_t[]){6}));
    assert_true(has_param(r.g, "enc.layer_2.bias", 1, (int64_t[]){6}));
    assert_null(ir_find_param(r.g, "enc.layer_3.weight"));
    IrValue *cls = ir_find_param(r.g, "cls");
    assert_non_null(cls);
    assert_string_equal(cls->init, "zeros");
    assert_int_equal(r.g->outputs[0].value->shape.d[1], 3);
    result_free(&r);
}

static void test_typed_params_bind_dims(void **state)
{
    Result r = elab("block Widen(x: f32[N, C, H, W], factor: int = 2) {\n"
                    "  assert H == W, \"square inputs only\";\n"
                    "  conv = conv2d(x, C * factor, 1);\n"
                    "  return conv;\n"
                    "}\n"
                    "net n() {\n"
                    "  in x: f32[1, 3, 5, 5];\n"
                    "  a = Widen(x);\n"
                    "  b = Widen(a, factor = 3);\n"
                    "  out y = b;\n"
                    "}\n");
    assert_non_null(r.g);
    assert_true(has_param(r.g, "a.conv.weight", 4, (int64_t[]){6, 3, 1, 1}));
    assert_true(has_param(r.g, "b.conv.weight", 4, (int64_t[]){18, 6, 1, 1}));
    result_free(&r);
}

/* Only the chosen branch of a ternary is evaluated, so the other may use
 * names that do not exist or build nodes that would not fit. */
static void test_ternary_is_lazy(void **state)
{
    Result r = elab("net n(deep: bool = false) {\n"
                    "  in x: f32[1, 4];\n"
                    "  h = deep ? linear(nonexistent, 4) : linear(x, 2);\n"
                    "  out y = h;\n"
                    "}\n");
    assert_non_null(r.g);
    assert_int_equal(r.errors, 0);
    assert_true(has_param(r.g, "h.weight", 2, (int64_t[]){2, 4}));
    result_free(&r);
}

static void test_defines_and_batch(void **state)
{
    ElabDefine defs[] = {{"size", "16"}, {"wide", "true"}};
    ElabOptions opt = {.ndefines = 2, .defines = defs, .batch = 5};
    Result r = elab_opts("net n(size: int = 8, wide: bool = false) {\n"
                         "  in x: f32[1, size];\n"
                         "  h = linear(x, wide ? 32 : 4);\n"
                         "  out y = h;\n"
                         "}\n",
                         &opt);
    assert_non_null(r.g);
    assert_int_equal(r.g->inputs[0]->shape.d[0], 5);
    assert_int_equal(r.g->inputs[0]->shape.d[1], 16);
    assert_true(has_param(r.g, "h.weight", 2, (int64_t[]){32, 16}));
    assert_int_equal(r.g->outputs[0].value->shape.d[0], 5);
    result_free(&r);
}

static void test_imports_and_annotations(void **state)
{
    write_source("lib.net", "@pim(tile = 128)\n"
                            "block Head(x: tensor, n: int) {\n"
                            "  @precision(4) fc = linear(x, n);\n"
                            "  return fc;\n"
                            "}\n");
    Result r = elab("import \"lib.net\";\n"
                    "net n() {\n"
                    "  in x: f32[1, 4];\n"
                    "  @prune(ratio = 0.5, granularity = \"channel\") head = Head(x, 2);\n"
                    "  out y = relu(head);\n"
                    "}\n");
    assert_non_null(r.g);
    assert_true(has_param(r.g, "head.fc.weight", 2, (int64_t[]){2, 4}));
    const IrNode *fc = r.g->nodes[0];
    assert_int_equal(fc->op, OP_LINEAR);
    assert_string_equal(fc->name, "head.fc");
    assert_int_equal(fc->nannot, 3); /* @prune from the call, @pim from the block, @precision */
    assert_string_equal(fc->annot[0].name, "prune");
    assert_string_equal(fc->annot[1].name, "pim");
    assert_string_equal(fc->annot[2].name, "precision");
    assert_int_equal(fc->annot[2].args[0].i, 4);
    assert_int_equal(r.g->nodes[1]->nannot, 0); /* relu is outside all three */
    result_free(&r);
}

static void test_errors_are_collected_and_located(void **state)
{
    Result r = elab("net n() {\n"
                    "  in x: f32[1, 4];\n"
                    "  a = linear(x, 3);\n"
                    "  b = a + x;\n"
                    "  c = relu(linear(x, 2));\n"
                    "  d = undefined_thing(x);\n"
                    "  out y = a;\n"
                    "}\n");
    assert_null(r.g);
    assert_int_equal(r.errors, 3);
    assert_non_null(strstr(r.messages, "main.net:4:7: error: add: cannot broadcast [1, 3] with [1, 4]"));
    assert_non_null(strstr(r.messages, "main.net:5:12: error: linear has learned parameters and needs an instance name"));
    assert_non_null(strstr(r.messages, "main.net:6:7: error: unknown operator or block 'undefined_thing'"));
    result_free(&r);
}

static void test_duplicate_params_and_recursion(void **state)
{
    Result r = elab("block R(x: tensor) { r = R(x); return r; }\n"
                    "net n() {\n"
                    "  in x: f32[1, 4];\n"
                    "  fc = linear(x, 4);\n"
                    "  fc = linear(fc, 4);\n"
                    "  z = R(x);\n"
                    "  out y = fc;\n"
                    "}\n");
    assert_null(r.g);
    assert_non_null(strstr(r.messages, "error: duplicate parameter name 'fc.weight'"));
    assert_non_null(strstr(r.messages, "note: 'fc.weight' was first created here"));
    assert_non_null(strstr(r.messages, "error: recursive call of block 'R'"));
    result_free(&r);
}

/* A loop that would run for ages is cut off with an error, not a hang. */
static void test_runaway_loop_is_an_error(void **state)
{
    Result r = elab("net n() {\n"
                    "  in x: f32[1, 4];\n"
                    "  k = 0;\n"
                    "  for i in 0..4000000000 { k = k + 1; }\n"
                    "  out y = relu(x);\n"
                    "}\n");
    assert_null(r.g);
    assert_non_null(strstr(r.messages, "network too large"));
    result_free(&r);
}

/* 20,000 chained additions nest 20,000 deep although the parser's stack
 * stays flat: an error, not a stack overflow. */
static void test_deep_expression_is_an_error(void **state)
{
    size_t n = 20000, len = 0;
    char *text = malloc(4 * n + 200);
    len += (size_t)sprintf(text, "net n() {\n  in x: f32[1, 4];\n  k = ");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "1+");
    sprintf(text + len, "1;\n  out y = relu(x);\n}\n");
    Result r = elab(text);
    free(text);
    assert_null(r.g);
    assert_non_null(strstr(r.messages, "main.net:3:7: error: expression nested more than 1000 deep"));
    result_free(&r);
}

static void test_absurd_layer_size_is_an_error(void **state)
{
    Result r = elab("net n() {\n"
                    "  in x: f32[1, 3, 8, 8];\n"
                    "  c = conv2d(x, 1099511627776, 3);\n"
                    "  out y = c;\n"
                    "}\n");
    assert_null(r.g);
    assert_non_null(strstr(r.messages, "parameter 'c.weight' would have shape [1099511627776, 3, 3, 3]"));
    result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assignment_names_instances),
        cmocka_unit_test(test_seq_numbering),
        cmocka_unit_test(test_return_seq_names_under_the_block),
        cmocka_unit_test(test_name_templates_and_loops),
        cmocka_unit_test(test_typed_params_bind_dims),
        cmocka_unit_test(test_ternary_is_lazy),
        cmocka_unit_test(test_defines_and_batch),
        cmocka_unit_test(test_imports_and_annotations),
        cmocka_unit_test(test_errors_are_collected_and_located),
        cmocka_unit_test(test_duplicate_params_and_recursion),
        cmocka_unit_test(test_runaway_loop_is_an_error),
        cmocka_unit_test(test_deep_expression_is_an_error),
        cmocka_unit_test(test_absurd_layer_size_is_an_error),
    };
    return cmocka_run_group_tests(tests, test_dir_setup, test_dir_teardown);
}
