/*
 * test_prune.c — the prune pass's mask granularities on small nets
 * elaborated from text, with hand-set weights whose answers are known:
 * the ranking's tie-break, floor counts of decimal ratios, the n:m tail
 * group, block tiles in crossbar orientation, masks composing over an
 * earlier prune, @prune overriding the --prune default, and the --prune
 * text's errors. (Agreement with a PyTorch re-implementation on real
 * networks is tests/prune_test.sh.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../frontend/elab.h"
#include "../../passes/annotations.h"
#include "../../passes/prune_internal.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Net {
    Arena *arena;
    IrGraph *g;
} Net;

/* Elaborates text, runs annotations, binds every parameter to weights
 * 1, 2, 3, ... (or fill(i) when given). */
static Net net(const char *text, float (*fill)(int64_t i))
{
    Net n = {arena_new(), NULL};
    const char *path = tmp_path("main.net");
    write_bytes(path, text, strlen(text));
    Captured c;
    cap_open(&c);
    n.g = elab_file(n.arena, c.d, path, NULL);
    bool ok = n.g && pass_annotations(n.g, c.d);
    char *msg = cap_finish(&c);
    if (!ok)
        fail_msg("elaboration failed:\n%s", msg);
    free(msg);
    for (int i = 0; i < n.g->nparams; i++) {
        IrValue *p = n.g->params[i];
        Tensor *t = tensor_new(DT_F32, &p->shape);
        float *x = t->data;
        for (int64_t k = 0; k < shape_numel(&p->shape); k++)
            x[k] = fill ? fill(k) : (float)(k + 1);
        ir_bind(p, t);
    }
    return n;
}

static void net_free(Net *n)
{
    ir_graph_free(n->g);
    arena_free(n->arena);
}

/* Runs the prune pass with default (NULL: none); returns its messages. */
static char *prune(Net *n, const char *dflt, bool expect_ok)
{
    PassEnv env = {0};
    char err[256];
    if (dflt) {
        env.prune_set = true;
        if (!pass_prune_spec_parse(dflt, NULL, &env.prune, err, sizeof err))
            fail_msg("%s: %s", dflt, err);
    }
    Captured c;
    cap_open(&c);
    PassPipeline *p = pass_pipeline_parse("prune", c.d);
    PassRunOptions o = {.verify_each = true, .env = &env};
    bool ok = pass_pipeline_run(p, n->g, &o, c.d);
    char *msg = cap_finish(&c);
    pass_pipeline_free(p);
    if (ok != expect_ok)
        fail_msg("prune %s, expected %s:\n%s", ok ? "succeeded" : "failed", expect_ok ? "success" : "failure", msg);
    return msg;
}

static const float *weights(const Net *n, const char *key)
{
    IrValue *w = ir_find_param(n->g, key);
    if (!w)
        fail_msg("no parameter '%s'", key);
    return w->data->data;
}

static int64_t zeros(const Net *n, const char *key)
{
    IrValue *w = ir_find_param(n->g, key);
    int64_t z = 0;
    for (int64_t i = 0; i < shape_numel(&w->shape); i++)
        z += weights(n, key)[i] == 0.0f;
    return z;
}

static float all_ones(int64_t i) { return (void)i, 1.0f; }
static float alternating(int64_t i) { return i % 2 ? -(float)i : (float)i; }

static void test_rank_ties_and_counts(void **state)
{
    (void)state;
    float s[6] = {1, 0.5f, 1, 0.5f, 2, 1};
    uint8_t removed[6];
    prune_rank_lowest(s, NULL, 6, 3, removed);
    /* both 0.5s, then of the three 1s the last (index 5) */
    uint8_t want[6] = {0, 1, 0, 1, 0, 1};
    assert_memory_equal(removed, want, 6);
    uint8_t eligible[6] = {1, 0, 1, 1, 1, 1};
    prune_rank_lowest(s, eligible, 6, 2, removed);
    uint8_t want2[6] = {0, 0, 0, 1, 0, 1};
    assert_memory_equal(removed, want2, 6);
    /* floor of the decimal product, not of its binary rounding */
    assert_int_equal(prune_count(0.29, 100), 29);
    assert_int_equal(prune_count(0.3, 10), 3);
    assert_int_equal(prune_count(0.5, 5), 2);
    assert_int_equal(prune_count(0.999, 10), 9);
    assert_int_equal(prune_count(0, 7), 0);
}

static void test_element_per_layer_and_ties(void **state)
{
    (void)state;
    Net n = net("net m() {\n  in x: f32[1, 8];\n  a = linear(x, 4, bias = false);\n"
                "  out y = linear(a, 2, bias = false);\n}\n", all_ones);
    free(prune(&n, "element:0.3", true));
    /* 32 equal weights: floor(9.6) = 9 go, the last nine */
    IrValue *a = n.g->nodes[0]->in[1];
    const float *aw = a->data->data;
    for (int i = 0; i < 32; i++)
        assert_true(aw[i] == (i < 23 ? 1.0f : 0.0f));
    assert_non_null(a->sparsity);
    assert_int_equal(a->sparsity->kind, SP_ELEMENT);
    const uint8_t *m = a->sparsity->mask->data->data;
    for (int i = 0; i < 32; i++)
        assert_int_equal(m[i], i < 23);
    IrValue *b = n.g->nodes[1]->in[1];
    assert_int_equal(zeros(&n, b->name), 2); /* floor(0.3 · 8) */
    net_free(&n);
}

static void test_global_ranks_across_layers(void **state)
{
    (void)state;
    /* Layer a holds 1..32, layer b 1..8: globally the 20 smallest of the 40
     * are 1..8 of both layers, then 9..12 of a. */
    Net n = net("net m() {\n  in x: f32[1, 8];\n  a = linear(x, 4, bias = false);\n"
                "  out y = linear(a, 2, bias = false);\n}\n", NULL);
    free(prune(&n, "element:0.5:global", true));
    IrValue *a = n.g->nodes[0]->in[1], *b = n.g->nodes[1]->in[1];
    assert_int_equal(zeros(&n, b->name), 8);
    assert_int_equal(zeros(&n, a->name), 12);
    const float *aw = a->data->data;
    for (int i = 0; i < 32; i++)
        assert_true((aw[i] == 0.0f) == (i < 12));
    net_free(&n);
}

static void test_nm_groups_and_tail(void **state)
{
    (void)state;
    /* rows of 10 columns: groups [0..3], [4..7] and the tail [8, 9] */
    Net n = net("net m() {\n  in x: f32[1, 10];\n  out y = linear(x, 2, bias = false);\n}\n", alternating);
    free(prune(&n, "nm:1:4", true));
    IrValue *w = n.g->nodes[0]->in[1];
    const float *x = w->data->data;
    /* |w| = index: the largest of each group is its last; the tail keeps 1 of 2 */
    for (int i = 0; i < 20; i++) {
        int c = i % 10;
        bool kept = c == 3 || c == 7 || c == 9;
        assert_true((x[i] != 0.0f) == kept);
    }
    assert_int_equal(w->sparsity->kind, SP_NM);
    assert_int_equal(w->sparsity->n, 1);
    assert_int_equal(w->sparsity->m, 4);
    net_free(&n);
}

static void test_block_tiles_in_crossbar_orientation(void **state)
{
    (void)state;
    /* [out 4, in 6] seen as a crossbar: 6 rows x 4 columns, tiles of 3x2: a
     * 2x2 grid. Weights 1..24 row-major in [out, in]: the tile over rows
     * 0..2 and columns (outputs) 0..1 has the smallest sum. */
    Net n = net("net m() {\n  in x: f32[1, 6];\n  @prune(ratio = 0.25, granularity = \"block\", block = [3, 2])\n"
                "  out y = linear(x, 4, bias = false);\n}\n", NULL);
    char *msg = prune(&n, NULL, true);
    free(msg);
    IrValue *w = n.g->nodes[0]->in[1];
    const float *x = w->data->data;
    for (int o = 0; o < 4; o++)
        for (int k = 0; k < 6; k++)
            assert_true((x[o * 6 + k] == 0.0f) == (o < 2 && k < 3));
    assert_int_equal(w->sparsity->kind, SP_BLOCK);
    assert_int_equal(w->sparsity->mask->shape.d[0], 2);
    assert_int_equal(w->sparsity->mask->shape.d[1], 2);
    const uint8_t *m = w->sparsity->mask->data->data;
    assert_int_equal(m[0], 0);
    assert_int_equal(m[1] + m[2] + m[3], 3);
    net_free(&n);
}

static void test_masks_compose_and_annotations_override(void **state)
{
    (void)state;
    Net n = net("net m() {\n  in x: f32[1, 8];\n  a = linear(x, 4, bias = false);\n"
                "  @prune(ratio = 0) out y = linear(a, 2, bias = false);\n}\n", NULL);
    free(prune(&n, "element:0.5", true));
    free(prune(&n, "element:0.5", true));
    IrValue *a = n.g->nodes[0]->in[1], *b = n.g->nodes[1]->in[1];
    /* the second prune ranks the 16 kept: 8 more, 24 of 32 in all */
    assert_int_equal(zeros(&n, a->name), 24);
    assert_null(b->sparsity); /* ratio 0 on the layer: left alone */
    assert_int_equal(zeros(&n, b->name), 0);
    assert_string_equal(a->sparsity->mask->name, "a.weight.mask");
    int masks = 0;
    for (int i = 0; i < n.g->nparams; i++)
        masks += strstr(n.g->params[i]->name, ".mask") != NULL;
    assert_int_equal(masks, 1); /* the first mask was replaced, not kept beside */
    /* n:m after element keeps the n:m kind on a subset */
    free(prune(&n, "nm:1:4", true));
    assert_int_equal(a->sparsity->kind, SP_NM);
    net_free(&n);
}

static void test_spec_errors(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *msg;
    } cases[] = {
        {"element", "'element' needs a ratio: element:R with R in [0, 1)"},
        {"element:1", "the ratio '1' must be a number in [0, 1)"},
        {"element:-0.1", "the ratio '-0.1' must be a number in [0, 1)"},
        {"element:0.5x", "the ratio '0.5x' must be a number"},
        {"dense:0.5", "unknown granularity 'dense' (expected element, nm, channel or block)"},
        {"nm:4:4", "N must be less than M"},
        {"nm:2:17", "N and M must be integers with 0 < N < M <= 16"},
        {"nm:2", "n:m pruning is written nm or nm:N:M"},
        {"element:0.5:l2", "unknown setting 'l2' for element pruning (global)"},
        {"block:0.5:0x4", "unknown setting '0x4' for block pruning"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        PruneSpec s;
        char err[256] = "";
        if (pass_prune_spec_parse(cases[i].spec, NULL, &s, err, sizeof err))
            fail_msg("'%s' was accepted", cases[i].spec);
        if (!strstr(err, cases[i].msg))
            fail_msg("'%s': expected \"%s\" in \"%s\"", cases[i].spec, cases[i].msg, err);
    }
    PruneSpec s;
    char err[256];
    assert_true(pass_prune_spec_parse("block:0.25", "64x32", &s, err, sizeof err));
    assert_int_equal(s.block[0], 64);
    assert_int_equal(s.block[1], 32);
    assert_true(pass_prune_spec_parse("block:0.25:16x8:l2", "64x32", &s, err, sizeof err));
    assert_int_equal(s.block[0], 16);
    assert_int_equal(s.norm, 2);
    assert_true(pass_prune_spec_parse("nm", NULL, &s, err, sizeof err));
    assert_int_equal(s.n, 2);
    assert_int_equal(s.m, 4);
    assert_true(s.ratio == 0.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank_ties_and_counts),
        cmocka_unit_test(test_element_per_layer_and_ties),
        cmocka_unit_test(test_global_ranks_across_layers),
        cmocka_unit_test(test_nm_groups_and_tail),
        cmocka_unit_test(test_block_tiles_in_crossbar_orientation),
        cmocka_unit_test(test_masks_compose_and_annotations_override),
        cmocka_unit_test(test_spec_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
