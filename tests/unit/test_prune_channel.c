/*
 * test_prune_channel.c — channel pruning (passes/prune_channel.c) and its
 * dependency groups (passes/channel_groups.c) on small graphs built by
 * hand: a residual add, a concat, a depthwise conv, flatten -> linear, an
 * MLP behind an mha; the errors for a fixed width and for a ratio that
 * empties a group.
 *
 * Each test keeps copies of the weights before pruning, computes the
 * group's L1 scores itself and checks that the shrunk weights are the
 * original rows / columns of the expected kept channels; every graph must
 * verify afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../passes/channel_groups.h"
#include "../../passes/prune_internal.h"
#include "../../runtime/init.h"
#include "ir_test_util.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Loc at(int line) { return (Loc){"t.net", line, 1, 1}; }

static IrValue *param(IrGraph *g, const char *layer, const char *suffix, Shape s)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", layer, suffix);
    return ir_add_param(g, key, DT_F32, s, at(1));
}

static IrValue *conv(IrGraph *g, const char *name, IrValue *x, int64_t cout, int64_t groups)
{
    char attrs[128];
    snprintf(attrs, sizeof attrs, "out_channels=%lld kernel_size=3 padding=1 groups=%lld", (long long)cout,
             (long long)groups);
    IrValue *in[3] = {x, param(g, name, "weight", SH(4, cout, x->shape.d[1] / groups, 3, 3)),
                      param(g, name, "bias", SH(1, cout))};
    return add_node(g, OP_CONV2D, name, attrs, 3, in, at(2))->out;
}

static IrValue *linear(IrGraph *g, const char *name, IrValue *x, int64_t out)
{
    char attrs[64];
    snprintf(attrs, sizeof attrs, "out_features=%lld", (long long)out);
    IrValue *in[3] = {x, param(g, name, "weight", SH(2, out, x->shape.d[x->shape.rank - 1])),
                      param(g, name, "bias", SH(1, out))};
    return add_node(g, OP_LINEAR, name, attrs, 3, in, at(3))->out;
}

static IrValue *bn(IrGraph *g, const char *name, IrValue *x)
{
    IrValue *in[5] = {x};
    const char *sfx[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++)
        in[k + 1] = param(g, name, sfx[k], SH(1, x->shape.d[1]));
    return add_node(g, OP_BATCHNORM, name, NULL, 5, in, at(4))->out;
}

static IrValue *unary(IrGraph *g, OpKind op, IrValue *x, const char *attrs)
{
    return add_node(g, op, NULL, attrs, 1, &x, at(5))->out;
}

static void bind_all(IrGraph *g)
{
    Captured c;
    cap_open(&c);
    assert_true(rt_init_weights(g, 7, c.d));
    cap_close(&c);
}

/* A copy of p's data. */
static Tensor *keep_copy(IrGraph *g, const char *key)
{
    const IrValue *p = ir_find_param(g, key);
    assert_non_null(p);
    Tensor *t = tensor_new(DT_F32, &p->shape);
    memcpy(t->data, p->data->data, tensor_nbytes(t));
    return t;
}

/* Adds Σ|w| of every slice along axis (positions block·i .. block·i+block-1
 * for channel i) to score. */
static void l1_along(const Tensor *w, int axis, int64_t block, double *score)
{
    int64_t outer = 1, len = w->shape.d[axis], inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= w->shape.d[d];
    for (int d = axis + 1; d < w->shape.rank; d++)
        inner *= w->shape.d[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t p = 0; p < len; p++)
            for (int64_t i = 0; i < inner; i++)
                score[p / block] += fabs(((const float *)w->data)[(o * len + p) * inner + i]);
}

/* The kept channels of n: the n - floor(r·n) highest scores, lower index
 * first among equals, ascending. */
static int top_kept(const double *score, int n, int keep, int *kept)
{
    uint8_t *taken = calloc((size_t)n, 1);
    for (int j = 0; j < keep; j++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!taken[i] && (best < 0 || score[i] > score[best]))
                best = i;
        taken[best] = 1;
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (taken[i])
            kept[m++] = i;
    free(taken);
    return m;
}

/* Slice [axis] of now equals slice kept[k]·block + t of before, for every
 * kept channel k and t < block. */
static void expect_slices(const Tensor *before, const IrValue *now, int axis, const int *kept, int nkept,
                          int64_t block)
{
    assert_int_equal(now->shape.d[axis], nkept * block);
    int64_t outer = 1, inner = 1, lb = before->shape.d[axis], ln = now->shape.d[axis];
    for (int d = 0; d < axis; d++)
        outer *= now->shape.d[d];
    for (int d = axis + 1; d < now->shape.rank; d++)
        inner *= now->shape.d[d];
    const float *a = before->data, *b = now->data->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t p = 0; p < ln; p++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t src = kept[p / block] * block + p % block;
                if (a[(o * lb + src) * inner + i] != b[(o * ln + p) * inner + i])
                    fail_msg("%s: slice %lld is not the original %lld", now->name, (long long)p, (long long)src);
            }
}

/* Runs prune_channels with one request per listed layer (ratio r, or
 * ratios[k] when given; from an annotation when annotated); returns the
 * messages, *ok the result. */
static char *prune_at(IrGraph *g, const char *const *layers, int n, double r, const double *ratios, bool annotated,
                      bool *ok)
{
    Captured c;
    cap_open(&c);
    PassEnv env = {0};
    PruneJob job = {.g = g, .d = c.d, .env = &env, .layers = calloc((size_t)n, sizeof(PruneLayer))};
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < n; k++)
            if (g->nodes[i]->name && !strcmp(g->nodes[i]->name, layers[k]))
                job.layers[job.nlayers++] = (PruneLayer){
                    .node = g->nodes[i], .weight = g->nodes[i]->in[1], .annotated = annotated,
                    .where = annotated ? (Loc){"t.net", 40 + k, 3, 6} : loc_none(),
                    .spec = {.kind = SP_CHANNEL, .ratio = ratios ? ratios[k] : r, .norm = 1}};
    assert_int_equal(job.nlayers, n);
    job.report = prune_report_new(g);
    *ok = prune_channels(&job);
    prune_report_free(job.report);
    free(job.layers);
    return cap_finish(&c);
}

static char *prune(IrGraph *g, const char *const *layers, int n, double r, bool annotated, bool *ok)
{
    return prune_at(g, layers, n, r, NULL, annotated, ok);
}

static void prune_ok(IrGraph *g, const char *const *layers, int n, double r)
{
    bool ok;
    char *msg = prune(g, layers, n, r, false, &ok);
    if (!ok)
        fail_msg("prune_channels failed:\n%s", msg);
    free(msg);
    if (!verify_quiet(g, &msg))
        fail_msg("the graph does not verify:\n%s", msg);
    free(msg);
}

/* x -> a -> bn -> relu -> b, x -> c; b + c -> relu -> pool -> flatten -> fc.
 * Groups: {a, bn} and the residual {b, c, fc's columns}. */
static void test_residual(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 3, 6, 6), at(1));
    IrValue *a = unary(g, OP_RELU, bn(g, "bn", conv(g, "a", x, 6, 1)), NULL);
    IrValue *s[2] = {conv(g, "b", a, 6, 1), conv(g, "c", x, 6, 1)};
    IrValue *h = unary(g, OP_RELU, add_node(g, OP_ADD, "res", NULL, 2, s, at(6))->out, NULL);
    IrValue *f = unary(g, OP_FLATTEN, unary(g, OP_GLOBAL_AVGPOOL, h, NULL), NULL);
    ir_add_output(g, "y", linear(g, "fc", f, 4));
    bind_all(g);
    Tensor *wa = keep_copy(g, "a.weight"), *wb = keep_copy(g, "b.weight"), *wc = keep_copy(g, "c.weight"),
           *wf = keep_copy(g, "fc.weight"), *gb = keep_copy(g, "bn.weight");
    double sa[6] = {0}, sr[6] = {0};
    l1_along(wa, 0, 1, sa), l1_along(wb, 1, 1, sa);
    l1_along(wb, 0, 1, sr), l1_along(wc, 0, 1, sr), l1_along(wf, 1, 1, sr);
    int ka[6], kr[6];
    assert_int_equal(top_kept(sa, 6, 3, ka), 3);
    assert_int_equal(top_kept(sr, 6, 3, kr), 3);

    prune_ok(g, (const char *const[]){"a", "b", "c", "fc"}, 4, 0.5);
    expect_slices(wa, ir_find_param(g, "a.weight"), 0, ka, 3, 1);
    expect_slices(gb, ir_find_param(g, "bn.weight"), 0, ka, 3, 1);
    /* b: rows of the residual group, columns of a's */
    const IrValue *b = ir_find_param(g, "b.weight");
    assert_int_equal(b->shape.d[0], 3), assert_int_equal(b->shape.d[1], 3);
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 3; i++)
            for (int t = 0; t < 9; t++)
                assert_true(((float *)b->data->data)[(o * 3 + i) * 9 + t] ==
                            ((float *)wb->data)[(kr[o] * 6 + ka[i]) * 9 + t]);
    expect_slices(wc, ir_find_param(g, "c.weight"), 0, kr, 3, 1);
    expect_slices(wf, ir_find_param(g, "fc.weight"), 1, kr, 3, 1);
    assert_int_equal(ir_find_param(g, "fc.weight")->shape.d[0], 4); /* the classes stay */
    assert_int_equal(ir_attr_int(g->nodes[0], "out_channels"), 3);
    tensor_free(wa), tensor_free(wb), tensor_free(wc), tensor_free(wf), tensor_free(gb);
    ir_graph_free(g);
}

/* Two requests in one residual group: the smaller ratio applies (8 - 2). */
static void test_smallest_ratio(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 5, 5), at(1));
    IrValue *a = conv(g, "a", x, 8, 1);
    IrValue *s[2] = {conv(g, "b", a, 8, 1), a};
    ir_add_output(g, "y", conv(g, "c", add_node(g, OP_ADD, "res", NULL, 2, s, at(6))->out, 3, 1));
    bind_all(g);
    bool ok;
    char *msg = prune_at(g, (const char *const[]){"a", "b"}, 2, 0, (const double[]){0.5, 0.25}, true, &ok);
    if (!ok)
        fail_msg("%s", msg);
    free(msg);
    assert_int_equal(ir_find_param(g, "a.weight")->shape.d[0], 6);
    assert_int_equal(ir_find_param(g, "b.weight")->shape.d[0], 6);
    assert_int_equal(ir_find_param(g, "b.weight")->shape.d[1], 6);
    assert_int_equal(ir_find_param(g, "c.weight")->shape.d[1], 6);
    ir_graph_free(g);
}

/* concat([a (4), b (2)]) -> c: c's columns are a's kept, then 4 + b's. */
static void test_concat(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 5, 5), at(1));
    IrValue *parts[2] = {conv(g, "a", x, 4, 1), conv(g, "b", x, 2, 1)};
    IrValue *cat = add_node(g, OP_CONCAT, "cat", "dim=1", 2, parts, at(6))->out;
    ir_add_output(g, "y", conv(g, "c", cat, 3, 1));
    bind_all(g);
    Tensor *wa = keep_copy(g, "a.weight"), *wb = keep_copy(g, "b.weight"), *wc = keep_copy(g, "c.weight");
    double sa[4] = {0}, sb[2] = {0}, sc[6] = {0};
    l1_along(wa, 0, 1, sa), l1_along(wb, 0, 1, sb), l1_along(wc, 1, 1, sc);
    for (int i = 0; i < 4; i++)
        sa[i] += sc[i];
    sb[0] += sc[4], sb[1] += sc[5];
    int ka[4], kb[2], kc[3];
    top_kept(sa, 4, 2, ka), top_kept(sb, 2, 1, kb);
    kc[0] = ka[0], kc[1] = ka[1], kc[2] = 4 + kb[0];

    prune_ok(g, (const char *const[]){"a", "b"}, 2, 0.5);
    expect_slices(wa, ir_find_param(g, "a.weight"), 0, ka, 2, 1);
    expect_slices(wb, ir_find_param(g, "b.weight"), 0, kb, 1, 1);
    expect_slices(wc, ir_find_param(g, "c.weight"), 1, kc, 3, 1);
    assert_int_equal(g->nodes[2]->out->shape.d[1], 3);
    tensor_free(wa), tensor_free(wb), tensor_free(wc);
    ir_graph_free(g);
}

/* a (4) -> depthwise (groups 4) -> bn -> b: one group, groups becomes 2. */
static void test_depthwise(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 5, 5), at(1));
    IrValue *d = bn(g, "bn", conv(g, "dw", conv(g, "a", x, 4, 1), 4, 4));
    ir_add_output(g, "y", conv(g, "b", unary(g, OP_RELU6, d, NULL), 3, 1));
    bind_all(g);
    Tensor *wa = keep_copy(g, "a.weight"), *wd = keep_copy(g, "dw.weight"), *wb = keep_copy(g, "b.weight");
    double s[4] = {0};
    l1_along(wa, 0, 1, s), l1_along(wd, 0, 1, s), l1_along(wb, 1, 1, s);
    int k[4];
    top_kept(s, 4, 2, k);

    prune_ok(g, (const char *const[]){"a", "dw"}, 2, 0.5);
    expect_slices(wd, ir_find_param(g, "dw.weight"), 0, k, 2, 1);
    expect_slices(wb, ir_find_param(g, "b.weight"), 1, k, 2, 1);
    assert_int_equal(ir_attr_int(g->nodes[1], "groups"), 2);
    assert_int_equal(ir_attr_int(g->nodes[1], "out_channels"), 2);
    tensor_free(wa), tensor_free(wd), tensor_free(wb);
    ir_graph_free(g);
}

/* a (4) -> depthwise with multiplier 2 (groups 4, 8 out) -> b: input c
 * owns outputs 2c, 2c+1; halving a keeps 2 groups of 2 filters. */
static void test_depth_multiplier(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 5, 5), at(1));
    ir_add_output(g, "y", conv(g, "b", conv(g, "dw", conv(g, "a", x, 4, 1), 8, 4), 3, 1));
    bind_all(g);
    Tensor *wa = keep_copy(g, "a.weight"), *wd = keep_copy(g, "dw.weight"), *wb = keep_copy(g, "b.weight");
    double s[4] = {0};
    l1_along(wa, 0, 1, s), l1_along(wd, 0, 2, s), l1_along(wb, 1, 2, s);
    int k[4];
    top_kept(s, 4, 2, k);
    prune_ok(g, (const char *const[]){"a"}, 1, 0.5);
    expect_slices(wd, ir_find_param(g, "dw.weight"), 0, k, 2, 2);
    expect_slices(wb, ir_find_param(g, "b.weight"), 1, k, 2, 2);
    assert_int_equal(ir_attr_int(g->nodes[1], "groups"), 2);
    assert_int_equal(ir_attr_int(g->nodes[1], "out_channels"), 4);
    tensor_free(wa), tensor_free(wd), tensor_free(wb);
    ir_graph_free(g);
}

/* a (4 channels of 3x3) -> flatten -> fc: channel c is columns 9c .. 9c+8. */
static void test_flatten_linear(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 3, 3), at(1));
    IrValue *f = unary(g, OP_FLATTEN, conv(g, "a", x, 4, 1), NULL);
    ir_add_output(g, "y", linear(g, "fc", f, 5));
    bind_all(g);
    Tensor *wa = keep_copy(g, "a.weight"), *wf = keep_copy(g, "fc.weight");
    double s[4] = {0};
    l1_along(wa, 0, 1, s), l1_along(wf, 1, 9, s);
    int k[4];
    top_kept(s, 4, 3, k); /* floor(0.3 · 4) = 1 removed */

    prune_ok(g, (const char *const[]){"a"}, 1, 0.3);
    expect_slices(wa, ir_find_param(g, "a.weight"), 0, k, 3, 1);
    expect_slices(wf, ir_find_param(g, "fc.weight"), 1, k, 3, 9);
    assert_int_equal(g->nodes[1]->out->shape.d[1], 27);
    tensor_free(wa), tensor_free(wf);
    ir_graph_free(g);
}

/* ConvNeXt's layer scale: mul(param [C, 1, 1], x) is sliced with x's
 * channels along its dim 0 (aligned from the right with x's axis 1). */
static void test_layer_scale(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 5, 5), at(1));
    IrValue *m[2] = {ir_add_param(g, "scale", DT_F32, SH(3, 4, 1, 1), at(1)), conv(g, "a", x, 4, 1)};
    ir_add_output(g, "y", conv(g, "b", add_node(g, OP_MUL, "ls", NULL, 2, m, at(6))->out, 3, 1));
    bind_all(g);
    Tensor *wa = keep_copy(g, "a.weight"), *wb = keep_copy(g, "b.weight"), *sc = keep_copy(g, "scale");
    double sa[4] = {0};
    l1_along(wa, 0, 1, sa), l1_along(wb, 1, 1, sa);
    int k[4];
    top_kept(sa, 4, 2, k);
    prune_ok(g, (const char *const[]){"a"}, 1, 0.5);
    expect_slices(sc, ir_find_param(g, "scale"), 0, k, 2, 1);
    expect_slices(wb, ir_find_param(g, "b.weight"), 1, k, 2, 1);
    tensor_free(wa), tensor_free(wb), tensor_free(sc);
    ir_graph_free(g);
}

/* ShuffleNet's channel shuffle: reshape [1, 2, 2, H, W], transpose,
 * reshape back. The shuffle fixes a's channels and with them the depthwise
 * conv that reads them (its output is its input's); b's stay prunable. */
static void test_shuffle_fixed(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 5, 5), at(1));
    IrValue *a = conv(g, "a", x, 4, 1);
    IrValue *s = add_node(g, OP_RESHAPE, NULL, "shape=[1,2,2,5,5]", 1, &a, at(6))->out;
    s = add_node(g, OP_TRANSPOSE, NULL, "dim0=1 dim1=2", 1, &s, at(6))->out;
    s = add_node(g, OP_RESHAPE, NULL, "shape=[1,4,5,5]", 1, &s, at(6))->out;
    ir_add_output(g, "y", conv(g, "c", conv(g, "b", conv(g, "dw", s, 4, 4), 6, 1), 3, 1));
    bind_all(g);
    prune_ok(g, (const char *const[]){"a", "dw", "b"}, 3, 0.5);
    assert_int_equal(ir_find_param(g, "a.weight")->shape.d[0], 4);
    assert_int_equal(ir_find_param(g, "dw.weight")->shape.d[0], 4);
    assert_int_equal(ir_find_param(g, "b.weight")->shape.d[0], 3);
    assert_int_equal(ir_find_param(g, "c.weight")->shape.d[1], 3);
    ir_graph_free(g);
}

/* mha -> fc1 (16) -> gelu -> fc2 (8): the hidden units are one group; the
 * mha reads the net input, so its width is fixed, and so is the output. */
static IrGraph *mha_mlp(void)
{
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(3, 1, 5, 8), at(1));
    IrValue *in[5] = {x, param(g, "att", "in_proj_weight", SH(2, 24, 8)), param(g, "att", "in_proj_bias", SH(1, 24)),
                      param(g, "att", "out_proj.weight", SH(2, 8, 8)), param(g, "att", "out_proj.bias", SH(1, 8))};
    IrValue *a = add_node(g, OP_MHA, "att", "num_heads=2", 5, in, at(7))->out;
    IrValue *h = unary(g, OP_GELU, linear(g, "fc1", a, 16), NULL);
    ir_add_output(g, "y", linear(g, "fc2", h, 8));
    bind_all(g);
    return g;
}

static void test_mlp_hidden(void **state)
{
    (void)state;
    IrGraph *g = mha_mlp();
    Tensor *w1 = keep_copy(g, "fc1.weight"), *w2 = keep_copy(g, "fc2.weight");
    double s[16] = {0};
    l1_along(w1, 0, 1, s), l1_along(w2, 1, 1, s);
    int k[16];
    top_kept(s, 16, 8, k);
    /* the --prune default on every layer: mha and fc2 left alone (notes) */
    prune_ok(g, (const char *const[]){"att", "fc1", "fc2"}, 3, 0.5);
    expect_slices(w1, ir_find_param(g, "fc1.weight"), 0, k, 8, 1);
    expect_slices(w2, ir_find_param(g, "fc2.weight"), 1, k, 8, 1);
    assert_int_equal(ir_find_param(g, "att.in_proj_weight")->shape.d[0], 24);
    assert_int_equal(ir_find_param(g, "fc2.weight")->shape.d[0], 8);
    tensor_free(w1), tensor_free(w2);
    ir_graph_free(g);
}

/* emb (8) -> mha (2 heads of 4) -> + emb -> fc: the residual width is one
 * group with the mha's in_proj columns and out_proj rows; halving it
 * leaves one whole head, the one with the larger norm over its q, k, v
 * rows and out_proj columns. */
static void test_mha_heads(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(3, 1, 5, 6), at(1));
    IrValue *e = linear(g, "emb", x, 8);
    IrValue *in[5] = {e, param(g, "att", "in_proj_weight", SH(2, 24, 8)), param(g, "att", "in_proj_bias", SH(1, 24)),
                      param(g, "att", "out_proj.weight", SH(2, 8, 8)), param(g, "att", "out_proj.bias", SH(1, 8))};
    IrValue *r[2] = {e, add_node(g, OP_MHA, "att", "num_heads=2", 5, in, at(7))->out};
    ir_add_output(g, "y", linear(g, "fc", add_node(g, OP_ADD, "res", NULL, 2, r, at(8))->out, 3));
    bind_all(g);
    Tensor *wi = keep_copy(g, "att.in_proj_weight"), *wo = keep_copy(g, "att.out_proj.weight"),
           *we = keep_copy(g, "emb.weight");
    double rows[24] = {0}, cols[8] = {0}, head[2] = {0};
    l1_along(wi, 0, 1, rows), l1_along(wo, 1, 1, cols);
    for (int j = 0; j < 2; j++)
        for (int t = 0; t < 4; t++)
            head[j] += rows[j * 4 + t] + rows[8 + j * 4 + t] + rows[16 + j * 4 + t] + cols[j * 4 + t];
    int kh = head[1] > head[0];

    prune_ok(g, (const char *const[]){"emb", "att", "fc"}, 3, 0.5);
    IrNode *att = g->nodes[1];
    assert_int_equal(ir_attr_int(att, "num_heads"), 1);
    assert_int_equal(att->in[1]->shape.d[0], 12), assert_int_equal(att->in[1]->shape.d[1], 4);
    assert_int_equal(att->in[3]->shape.d[0], 4), assert_int_equal(att->in[3]->shape.d[1], 4);
    assert_int_equal(ir_find_param(g, "emb.weight")->shape.d[0], 4);
    assert_int_equal(ir_find_param(g, "fc.weight")->shape.d[1], 4);
    /* the kept embedding channels, found by emb's rows; then in_proj is
     * the kept head's q, k, v rows at those columns */
    const IrValue *emb = ir_find_param(g, "emb.weight");
    int kept[4];
    for (int i = 0; i < 4; i++) {
        kept[i] = -1;
        for (int o = 0; o < 8; o++)
            if (!memcmp((float *)emb->data->data + i * 6, (float *)we->data + o * 6, 6 * sizeof(float)))
                kept[i] = o;
        assert_true(kept[i] >= 0);
    }
    for (int q = 0; q < 3; q++)
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 4; i++)
                assert_true(((float *)att->in[1]->data->data)[(q * 4 + t) * 4 + i] ==
                            ((float *)wi->data)[(q * 8 + kh * 4 + t) * 8 + kept[i]]);
    tensor_free(wi), tensor_free(wo), tensor_free(we);
    ir_graph_free(g);
}

/* Annotated requests on layers that must fail with every fragment in the
 * messages, leaving the weight key unchanged in its dim 0 (d0). */
static void expect_prune_error(IrGraph *g, const char *const *layers, int n, double r, const char *const *fragments,
                               const char *key, int64_t d0)
{
    bool ok;
    char *msg = prune(g, layers, n, r, true, &ok);
    assert_false(ok);
    for (int i = 0; fragments[i]; i++)
        if (!strstr(msg, fragments[i]))
            fail_msg("expected \"%s\" in:\n%s", fragments[i], msg);
    assert_int_equal(ir_find_param(g, key)->shape.d[0], d0);
    free(msg);
    ir_graph_free(g);
}

/* An annotated request on a width that cannot change is an error at the
 * annotation, and nothing changes. */
static void test_fixed_width_error(void **state)
{
    (void)state;
    expect_prune_error(mha_mlp(), (const char *const[]){"att", "fc1"}, 2, 0.5,
                       (const char *const[]){"t.net:40:3: error: prune: channel pruning asked for on a layer whose "
                                             "width cannot change: att",
                                             "note: the net input x keeps its width", NULL},
                       "fc1.weight", 16);
}

/* prune_count reads 0.99999999999 · 4 as 4: every channel would go. */
static void test_empty_group_error(void **state)
{
    (void)state;
    IrGraph *g = ir_graph_new("t");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 2, 5, 5), at(1));
    ir_add_output(g, "y", conv(g, "b", conv(g, "a", x, 4, 1), 3, 1));
    bind_all(g);
    expect_prune_error(g, (const char *const[]){"a"}, 1, 0.99999999999,
                       (const char *const[]){"t.net:40:3: error: prune: channel ratio 0.99999999999 would remove "
                                             "every channel of a (4 of 4", NULL},
                       "a.weight", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_residual),         cmocka_unit_test(test_smallest_ratio),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_depthwise),        cmocka_unit_test(test_depth_multiplier),
        cmocka_unit_test(test_flatten_linear),
        cmocka_unit_test(test_layer_scale),      cmocka_unit_test(test_shuffle_fixed),
        cmocka_unit_test(test_mlp_hidden),
        cmocka_unit_test(test_mha_heads),
        cmocka_unit_test(test_fixed_width_error),
        cmocka_unit_test(test_empty_group_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
