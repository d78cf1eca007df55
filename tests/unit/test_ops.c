/*
 * test_ops.c — the operator table and shape/parameter/MAC rules (ir/ops.c).
 *
 * Expected sizes are PyTorch's (the comments give the torch call where the
 * number is not obvious). Each rule's error paths are exercised with the
 * exact message where the wording matters to users, and absurd nodes
 * (no inputs, rank 9, overflowing sizes) must fail cleanly. A ResNet-50
 * built through the API checks the MAC and parameter conventions against
 * the published 4.09 GMACs / 25,557,032.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../ir/ir.h"
#include "ir_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers: a graph per test, nodes from a compact attribute text ---- */

static IrGraph *G;
static char ERR[512];

static int setup(void **state)
{
    G = ir_graph_new("t");
    ERR[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    ir_graph_free(G);
    G = NULL;
    return 0;
}

static IrValue *input(Shape s)
{
    static int k;
    char name[32];
    snprintf(name, sizeof name, "x%d", k++);
    return ir_add_input(G, name, DT_F32, s, loc_none());
}

static IrValue *param(const char *key, Shape s)
{
    return ir_add_param(G, key, DT_F32, s, loc_none());
}

/* Adds a node; returns it or NULL with ERR set. */
static IrNode *node(OpKind op, const char *attrs, int nin, IrValue **in)
{
    IrAttr a[16];
    int na = make_attrs(G->arena, op, attrs, a);
    ERR[0] = '\0';
    return ir_add_node(G, op, "layer", nin, in, na, a, loc_none(), ERR, sizeof ERR);
}

static IrNode *node1(OpKind op, const char *attrs, Shape s)
{
    IrValue *x = input(s);
    return node(op, attrs, 1, &x);
}

static void assert_shape(const IrNode *n, Shape want)
{
    char a[200], b[200];
    if (!n)
        fail_msg("node failed: %s", ERR);
    if (!shape_equal(&n->out->shape, &want))
        fail_msg("got %s, want %s", shape_str(&n->out->shape, a, sizeof a),
                 shape_str(&want, b, sizeof b));
}

static void assert_error(const IrNode *n, const char *fragment)
{
    if (n)
        fail_msg("expected an error containing '%s'", fragment);
    if (!strstr(ERR, fragment))
        fail_msg("error '%s' lacks '%s'", ERR, fragment);
}

/* ---- the table and specs ---- */

static void test_lookup(void **state)
{
    assert_int_equal(op_lookup("conv2d"), OP_CONV2D);
    assert_int_equal(op_lookup("adaptive_avgpool"), OP_ADAPTIVE_AVGPOOL);
    assert_int_equal(op_lookup("dropout"), OP_DROPOUT);
    assert_int_equal(op_lookup("conv3d"), OP__COUNT);
    assert_int_equal(op_lookup(""), OP__COUNT);
    for (int k = 0; k < OP__COUNT; k++) {
        assert_int_equal(op_lookup(op_info((OpKind)k)->name), k);
        assert_non_null(op_info((OpKind)k)->shape);
    }
    /* an out-of-range kind gets a rule that fails instead of a NULL */
    const OpInfo *bad = op_info((OpKind)999);
    assert_non_null(bad);
    IrNode n = {.op = (OpKind)999};
    Shape s;
    assert_false(bad->shape(&n, &s, ERR, sizeof ERR));
    assert_non_null(strstr(ERR, "unknown operator"));
}

static void test_attr_specs(void **state)
{
    int n;
    const AttrSpec *s = op_attr_specs(OP_CONV2D, &n);
    assert_int_equal(n, 7);
    assert_string_equal(s[0].name, "out_channels");
    assert_int_equal(s[0].type, ATK_INT);
    assert_null(s[0].dflt);
    assert_string_equal(s[1].name, "kernel_size");
    assert_int_equal(s[1].type, ATK_INT2);
    assert_string_equal(s[2].name, "stride");
    assert_string_equal(s[2].dflt, "1");
    assert_string_equal(s[6].name, "bias");
    assert_int_equal(s[6].type, ATK_BOOL);
    assert_string_equal(s[6].dflt, "true");
    /* parsed once: the same table comes back */
    assert_ptr_equal(op_attr_specs(OP_CONV2D, &n), s);

    s = op_attr_specs(OP_MAXPOOL, &n);
    assert_int_equal(n, 5);
    assert_string_equal(s[1].dflt, "kernel_size");
    s = op_attr_specs(OP_BATCHNORM, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].type, ATK_FLOAT);
    assert_string_equal(s[0].dflt, "1e-5");
    s = op_attr_specs(OP_RESHAPE, &n);
    assert_int_equal(s[0].type, ATK_INTS);
    op_attr_specs(OP_RELU, &n);
    assert_int_equal(n, 0);
    assert_null(op_attr_specs((OpKind)-1, &n));
    assert_int_equal(n, 0);
}

static void test_param_suffixes(void **state)
{
    const char *sfx[8];
    IrNode *n = node1(OP_CONV2D, "out_channels=8 kernel_size=3", SH(4, 1, 3, 8, 8));
    assert_non_null(n);
    assert_int_equal(op_param_suffixes(n, sfx, 8), 2);
    assert_string_equal(sfx[0], "weight");
    assert_string_equal(sfx[1], "bias");
    n = node1(OP_CONV2D, "out_channels=8 kernel_size=3 bias=false", SH(4, 1, 3, 8, 8));
    assert_int_equal(op_param_suffixes(n, sfx, 8), 1);
    assert_string_equal(sfx[0], "weight");
    n = node1(OP_MHA, "num_heads=2", SH(3, 1, 4, 8));
    assert_int_equal(op_param_suffixes(n, sfx, 8), 4);
    assert_string_equal(sfx[2], "out_proj.weight");
    assert_string_equal(sfx[3], "out_proj.bias");
    /* max bounds what is written, not the count */
    assert_int_equal(op_param_suffixes(n, sfx, 1), 4);
    n = node1(OP_RELU, NULL, SH(1, 3));
    assert_int_equal(op_param_suffixes(n, sfx, 8), 0);
}

static void test_data_inputs(void **state)
{
    IrValue *x = input(SH(4, 1, 3, 8, 8)), *w = param("c.weight", SH(4, 8, 3, 3, 3));
    IrValue *in[] = {x, w};
    IrNode *n = node(OP_CONV2D, "out_channels=8 kernel_size=3 bias=false", 2, in);
    assert_non_null(n);
    assert_int_equal(op_data_inputs(n), 1);
    IrValue *parts[] = {x, x, x};
    n = node(OP_CONCAT, "dim=1", 3, parts);
    assert_non_null(n);
    assert_int_equal(op_data_inputs(n), 3);
}

static void test_params_rules(void **state)
{
    ParamSpec ps[8];
    IrNode *n = node1(OP_CONV2D, "out_channels=64 kernel_size=[3,5] groups=2", SH(4, 1, 32, 9, 9));
    assert_int_equal(op_info(OP_CONV2D)->params(n, ps, ERR, sizeof ERR), 2);
    assert_true(shape_equal(&ps[0].shape, &(Shape){4, {64, 16, 3, 5}}));
    assert_true(shape_equal(&ps[1].shape, &(Shape){1, {64}}));

    n = node1(OP_LINEAR, "out_features=10 bias=false", SH(3, 2, 7, 20));
    assert_int_equal(op_info(OP_LINEAR)->params(n, ps, ERR, sizeof ERR), 1);
    assert_true(shape_equal(&ps[0].shape, &(Shape){2, {10, 20}}));

    n = node1(OP_BATCHNORM, NULL, SH(4, 2, 16, 4, 4));
    assert_int_equal(op_info(OP_BATCHNORM)->params(n, ps, ERR, sizeof ERR), 4);
    assert_string_equal(ps[3].suffix, "running_var");
    assert_true(shape_equal(&ps[3].shape, &(Shape){1, {16}}));

    n = node1(OP_LAYERNORM, NULL, SH(3, 2, 5, 12));
    assert_int_equal(op_info(OP_LAYERNORM)->params(n, ps, ERR, sizeof ERR), 2);
    assert_true(shape_equal(&ps[1].shape, &(Shape){1, {12}}));

    n = node1(OP_MHA, "num_heads=4", SH(3, 2, 10, 16));
    assert_int_equal(op_info(OP_MHA)->params(n, ps, ERR, sizeof ERR), 4);
    assert_string_equal(ps[0].suffix, "in_proj_weight");
    assert_true(shape_equal(&ps[0].shape, &(Shape){2, {48, 16}}));
    assert_true(shape_equal(&ps[1].shape, &(Shape){1, {48}}));
    assert_true(shape_equal(&ps[2].shape, &(Shape){2, {16, 16}}));
    assert_true(shape_equal(&ps[3].shape, &(Shape){1, {16}}));

    /* the params rule validates too (the elaborator calls it first) */
    IrValue *x = input(SH(3, 1, 3, 8));
    IrAttr a[8];
    int na = make_attrs(G->arena, OP_CONV2D, "out_channels=4 kernel_size=3", a);
    IrNode probe = {.op = OP_CONV2D, .nin = 1, .in = &x, .nattr = na, .attr = a};
    assert_int_equal(op_info(OP_CONV2D)->params(&probe, ps, ERR, sizeof ERR), -1);
    assert_non_null(strstr(ERR, "4-D"));
}

/* ---- conv2d ---- */

static void test_conv2d_shapes(void **state)
{
    /* torchvision resnet conv1: Conv2d(3, 64, 7, 2, 3) on 224 -> 112 */
    assert_shape(node1(OP_CONV2D, "out_channels=64 kernel_size=7 stride=2 padding=3",
                       SH(4, 1, 3, 224, 224)),
                 SH(4, 1, 64, 112, 112));
    /* Conv2d(3, 8, 3, stride=2) on 10x11 -> floor((10-3)/2)+1 = 4, floor(8/2)+1 = 5 */
    assert_shape(node1(OP_CONV2D, "out_channels=8 kernel_size=3 stride=2", SH(4, 2, 3, 10, 11)),
                 SH(4, 2, 8, 4, 5));
    /* dilation 2, kernel 3: effective 5 -> 10-5+1 = 6 */
    assert_shape(node1(OP_CONV2D, "out_channels=8 kernel_size=3 dilation=2", SH(4, 1, 3, 10, 10)),
                 SH(4, 1, 8, 6, 6));
    /* non-square everything: kernel [1,3], stride [2,1], padding [0,1] */
    assert_shape(node1(OP_CONV2D,
                       "out_channels=4 kernel_size=[1,3] stride=[2,1] padding=[0,1]",
                       SH(4, 1, 2, 7, 5)),
                 SH(4, 1, 4, 4, 5));
    /* stride 2 padding 1 kernel 3 on 5 -> 3; on 56 -> 28 */
    assert_shape(node1(OP_CONV2D, "out_channels=1 kernel_size=3 stride=2 padding=1",
                       SH(4, 1, 1, 5, 56)),
                 SH(4, 1, 1, 3, 28));
    /* depthwise */
    assert_shape(node1(OP_CONV2D, "out_channels=32 kernel_size=3 padding=1 groups=32",
                       SH(4, 1, 32, 14, 14)),
                 SH(4, 1, 32, 14, 14));
    /* kernel exactly the padded input: 1x1 output */
    assert_shape(node1(OP_CONV2D, "out_channels=1 kernel_size=5 padding=1", SH(4, 1, 1, 3, 3)),
                 SH(4, 1, 1, 1, 1));
}

static void test_conv2d_params_checked(void **state)
{
    IrValue *x = input(SH(4, 1, 3, 8, 8));
    IrValue *w6 = param("a.weight", SH(4, 16, 6, 3, 3));
    IrValue *w = param("b.weight", SH(4, 16, 3, 3, 3));
    IrValue *b = param("b.bias", SH(1, 16));
    IrValue *bad_b = param("c.bias", SH(1, 15));
    IrValue *wk = param("d.weight", SH(4, 16, 3, 5, 5));
    IrValue *wo = param("e.weight", SH(4, 8, 3, 3, 3));

    IrValue *ok[] = {x, w, b};
    assert_shape(node(OP_CONV2D, "out_channels=16 kernel_size=3", 3, ok), SH(4, 1, 16, 6, 6));

    IrValue *in1[] = {x, w6};
    assert_error(node(OP_CONV2D, "out_channels=16 kernel_size=3 bias=false", 2, in1),
                 "conv2d: input has 3 channels but weight expects 6 (groups = 1)");
    IrValue *in2[] = {x, w, bad_b};
    assert_error(node(OP_CONV2D, "out_channels=16 kernel_size=3", 3, in2),
                 "conv2d: bias has shape [15] but input [1, 3, 8, 8] needs [16]");
    IrValue *in3[] = {x, wk};
    assert_error(node(OP_CONV2D, "out_channels=16 kernel_size=3 bias=false", 2, in3),
                 "weight has shape [16, 3, 5, 5] but input [1, 3, 8, 8] needs [16, 3, 3, 3]");
    IrValue *in4[] = {x, wo};
    assert_error(node(OP_CONV2D, "out_channels=16 kernel_size=3 bias=false", 2, in4),
                 "weight has 8 output channels but out_channels = 16");
    /* bias=true but only the weight given */
    IrValue *in5[] = {x, w};
    assert_error(node(OP_CONV2D, "out_channels=16 kernel_size=3", 2, in5),
                 "expects 2 parameters (weight, bias), got 1");
    /* bias=false but a bias given */
    assert_error(node(OP_CONV2D, "out_channels=16 kernel_size=3 bias=false", 3, ok),
                 "expects 1 parameter (weight), got 2");
}

static void test_conv2d_errors(void **state)
{
    Shape x = SH(4, 1, 6, 8, 8);
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=3", SH(3, 6, 8, 8)),
                 "conv2d: input must be 4-D [N, C, H, W], got [6, 8, 8]");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=3 groups=4", x),
                 "groups = 4 does not divide the 6 input channels");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=3 groups=3", x),
                 "groups = 3 does not divide out_channels = 4");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=9", x),
                 "kernel 9x9 (dilation 1x1) does not fit input [1, 6, 8, 8] with padding 0x0");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=3 dilation=4", x),
                 "does not fit");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=3 stride=0", x),
                 "stride must be positive, got [0, 0]");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=[3,-1]", x),
                 "kernel_size must be positive, got [3, -1]");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=3 padding=-1", x),
                 "padding must be non-negative");
    assert_error(node1(OP_CONV2D, "out_channels=0 kernel_size=3", x),
                 "out_channels must be positive, got 0");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=3 groups=0", x),
                 "groups must be positive");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=3 dilation=9223372036854775807", x),
                 "too large");
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=3 padding=9223372036854775807", x),
                 "too large");
    /* a huge but representable output overflows the element count */
    assert_error(node1(OP_CONV2D, "out_channels=4 kernel_size=1 padding=2000000000",
                       SH(4, 1, 6, 8, 8)),
                 "too large");
}

/* ---- attribute and input validation shared by every rule ---- */

static void test_malformed_nodes(void **state)
{
    IrValue *x = input(SH(4, 1, 3, 8, 8));
    IrAttr a[8];
    int na = make_attrs(G->arena, OP_CONV2D, "out_channels=4 kernel_size=3", a);

    /* no inputs at all */
    assert_null(ir_add_node(G, OP_CONV2D, NULL, 0, NULL, na, a, loc_none(), ERR, sizeof ERR));
    assert_string_equal(ERR, "conv2d: expects 1 input, got 0");
    /* a NULL input pointer */
    IrValue *nul = NULL;
    assert_null(ir_add_node(G, OP_RELU, NULL, 1, &nul, 0, NULL, loc_none(), ERR, sizeof ERR));
    assert_string_equal(ERR, "relu: input 1 is missing");
    /* too many data inputs for an op without parameters */
    IrValue *three[] = {x, x, x};
    assert_null(ir_add_node(G, OP_ADD, NULL, 3, three, 0, NULL, loc_none(), ERR, sizeof ERR));
    assert_string_equal(ERR, "add: expects 2 inputs, got 3");
    assert_null(ir_add_node(G, OP_CONCAT, NULL, 0, NULL, 0, NULL, loc_none(), ERR, sizeof ERR));
    assert_non_null(strstr(ERR, "expects at least 1 input"));

    /* rank 9 and negative dims */
    IrValue *r9 = input(SH(1, 1));
    r9->shape.rank = 9;
    assert_null(ir_add_node(G, OP_RELU, NULL, 1, &r9, 0, NULL, loc_none(), ERR, sizeof ERR));
    assert_non_null(strstr(ERR, "rank 9"));
    IrValue *neg = input(SH(2, 3, -2));
    assert_null(ir_add_node(G, OP_RELU, NULL, 1, &neg, 0, NULL, loc_none(), ERR, sizeof ERR));
    assert_non_null(strstr(ERR, "negative dimension"));
    IrValue *huge = input(SH(3, 1LL << 40, 1LL << 40, 1LL << 40));
    assert_null(ir_add_node(G, OP_RELU, NULL, 1, &huge, 0, NULL, loc_none(), ERR, sizeof ERR));
    assert_non_null(strstr(ERR, "too large"));

    /* attribute problems: missing, wrong kind, unknown, duplicate */
    assert_null(ir_add_node(G, OP_CONV2D, NULL, 1, &x, na - 1, a, loc_none(), ERR, sizeof ERR));
    assert_string_equal(ERR, "conv2d: missing attribute 'bias'");
    IrAttr wrong[8];
    memcpy(wrong, a, sizeof a);
    wrong[1] = (IrAttr){.key = "kernel_size", .kind = AK_INT, .i = 3};
    assert_null(ir_add_node(G, OP_CONV2D, NULL, 1, &x, na, wrong, loc_none(), ERR, sizeof ERR));
    assert_string_equal(ERR, "conv2d: attribute 'kernel_size' must be a list of two ints");
    wrong[1] = a[1];
    wrong[6] = (IrAttr){.key = "bias", .kind = AK_INT, .i = 1};
    assert_null(ir_add_node(G, OP_CONV2D, NULL, 1, &x, na, wrong, loc_none(), ERR, sizeof ERR));
    assert_string_equal(ERR, "conv2d: attribute 'bias' must be a bool");
    wrong[6] = (IrAttr){.key = "colour", .kind = AK_INT, .i = 1};
    assert_null(ir_add_node(G, OP_CONV2D, NULL, 1, &x, na, wrong, loc_none(), ERR, sizeof ERR));
    assert_string_equal(ERR, "conv2d: unknown attribute 'colour'");
    wrong[6] = a[5];
    assert_null(ir_add_node(G, OP_CONV2D, NULL, 1, &x, na, wrong, loc_none(), ERR, sizeof ERR));
    assert_string_equal(ERR, "conv2d: duplicate attribute 'groups'");
    IrAttr noname = {.kind = AK_INT};
    assert_null(ir_add_node(G, OP_RELU, NULL, 1, &x, 1, &noname, loc_none(), ERR, sizeof ERR));
    assert_non_null(strstr(ERR, "has no name"));
    /* an int where a float is expected is accepted (eps = 0) */
    IrAttr eps = {.key = "eps", .kind = AK_INT, .i = 0};
    IrValue *bn = input(SH(2, 2, 3));
    assert_non_null(ir_add_node(G, OP_BATCHNORM, NULL, 1, &bn, 1, &eps, loc_none(), ERR,
                                sizeof ERR));
    /* the error buffer may be tiny */
    char tiny[4];
    assert_null(ir_add_node(G, OP_CONV2D, NULL, 0, NULL, na, a, loc_none(), tiny, sizeof tiny));
    assert_string_equal(tiny, "con");
}

/* ---- linear, matmul, bmm ---- */

static void test_linear(void **state)
{
    assert_shape(node1(OP_LINEAR, "out_features=10", SH(2, 4, 20)), SH(2, 4, 10));
    assert_shape(node1(OP_LINEAR, "out_features=3", SH(1, 5)), SH(1, 3));
    assert_shape(node1(OP_LINEAR, "out_features=3", SH(4, 2, 3, 4, 5)), SH(4, 2, 3, 4, 3));
    assert_error(node1(OP_LINEAR, "out_features=3", SH(0)),
                 "linear: input must have at least one dimension, got []");
    assert_error(node1(OP_LINEAR, "out_features=-3", SH(1, 5)),
                 "out_features must be positive, got -3");
    IrValue *x = input(SH(2, 4, 30)), *w = param("fc.weight", SH(2, 10, 20));
    IrValue *in[] = {x, w};
    assert_error(node(OP_LINEAR, "out_features=10 bias=false", 2, in),
                 "linear: input has 30 features but weight expects 20");
    IrValue *w2 = param("fc2.weight", SH(2, 11, 30));
    IrValue *in2[] = {x, w2};
    assert_error(node(OP_LINEAR, "out_features=10 bias=false", 2, in2),
                 "weight has 11 output features but out_features = 10");
    IrValue *w3 = param("fc3.weight", SH(3, 10, 30, 1));
    IrValue *in3[] = {x, w3};
    assert_error(node(OP_LINEAR, "out_features=10 bias=false", 2, in3),
                 "weight has shape [10, 30, 1] but input [4, 30] needs [10, 30]");
}

static IrNode *node2(OpKind op, Shape a, Shape b)
{
    IrValue *in[] = {input(a), input(b)};
    return node(op, NULL, 2, in);
}

static void test_matmul(void **state)
{
    /* torch.matmul cases */
    assert_shape(node2(OP_MATMUL, SH(1, 3), SH(1, 3)), SH(0));
    assert_shape(node2(OP_MATMUL, SH(1, 3), SH(2, 3, 4)), SH(1, 4));
    assert_shape(node2(OP_MATMUL, SH(2, 2, 3), SH(1, 3)), SH(1, 2));
    assert_shape(node2(OP_MATMUL, SH(2, 2, 3), SH(2, 3, 4)), SH(2, 2, 4));
    assert_shape(node2(OP_MATMUL, SH(3, 10, 2, 3), SH(1, 3)), SH(2, 10, 2));
    assert_shape(node2(OP_MATMUL, SH(1, 3), SH(3, 10, 3, 4)), SH(2, 10, 4));
    assert_shape(node2(OP_MATMUL, SH(4, 5, 1, 2, 3), SH(3, 4, 3, 6)), SH(4, 5, 4, 2, 6));
    assert_shape(node2(OP_MATMUL, SH(3, 7, 2, 3), SH(2, 3, 4)), SH(3, 7, 2, 4));

    assert_error(node2(OP_MATMUL, SH(0), SH(1, 3)),
                 "matmul: both arguments need at least one dimension, got [] and [3]");
    assert_error(node2(OP_MATMUL, SH(2, 2, 3), SH(2, 4, 5)),
                 "matmul: cannot multiply [2, 3] by [4, 5]: inner dimensions 3 and 4 differ");
    assert_error(node2(OP_MATMUL, SH(1, 3), SH(1, 4)), "inner dimensions 3 and 4 differ");
    assert_error(node2(OP_MATMUL, SH(3, 2, 2, 3), SH(3, 3, 3, 4)),
                 "batch dimensions of [2, 2, 3] and [3, 3, 4] cannot broadcast");
}

static void test_bmm(void **state)
{
    assert_shape(node2(OP_BMM, SH(3, 4, 2, 3), SH(3, 4, 3, 5)), SH(3, 4, 2, 5));
    assert_error(node2(OP_BMM, SH(2, 2, 3), SH(3, 4, 3, 5)),
                 "bmm: both arguments must be 3-D [B, n, k] and [B, k, m], got [2, 3] and [4, 3, 5]");
    assert_error(node2(OP_BMM, SH(3, 4, 2, 3), SH(3, 1, 3, 5)), "batch sizes differ");
    assert_error(node2(OP_BMM, SH(3, 4, 2, 3), SH(3, 4, 2, 5)),
                 "inner dimensions 3 and 2 differ");
}

/* ---- normalization, elementwise, softmax, dropout ---- */

static void test_norms(void **state)
{
    assert_shape(node1(OP_BATCHNORM, NULL, SH(4, 2, 16, 4, 4)), SH(4, 2, 16, 4, 4));
    assert_shape(node1(OP_BATCHNORM, NULL, SH(2, 8, 16)), SH(2, 8, 16));
    assert_error(node1(OP_BATCHNORM, NULL, SH(1, 16)),
                 "batchnorm: input must have a channel dimension [N, C, ...], got [16]");
    IrValue *x = input(SH(4, 1, 16, 2, 2));
    IrValue *p[4];
    const char *names[] = {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};
    for (int i = 0; i < 4; i++)
        p[i] = param(names[i], SH(1, i == 2 ? 8 : 16));
    IrValue *in[] = {x, p[0], p[1], p[2], p[3]};
    assert_error(node(OP_BATCHNORM, NULL, 5, in),
                 "batchnorm: running_mean has shape [8] but input [1, 16, 2, 2] needs [16]");
    in[3] = param("bn2.running_mean", SH(1, 16));
    assert_shape(node(OP_BATCHNORM, NULL, 5, in), SH(4, 1, 16, 2, 2));
    assert_error(node(OP_BATCHNORM, NULL, 4, in), "expects 4 parameters");

    assert_shape(node1(OP_LAYERNORM, NULL, SH(3, 2, 5, 12)), SH(3, 2, 5, 12));
    assert_error(node1(OP_LAYERNORM, NULL, SH(0)), "at least one dimension");
    IrValue *y = input(SH(2, 5, 12)), *lw = param("ln.weight", SH(1, 12)),
            *lb = param("ln.bias", SH(1, 5));
    IrValue *lin[] = {y, lw, lb};
    assert_error(node(OP_LAYERNORM, NULL, 3, lin),
                 "layernorm: bias has shape [5] but input [5, 12] needs [12]");
    /* dim = 1: over the channels of NCHW (LayerNorm2d); the vectors follow it. */
    IrValue *z = input(SH(4, 2, 5, 3, 3)), *cw = param("ln2d.weight", SH(1, 5)),
            *cb = param("ln2d.bias", SH(1, 5));
    IrValue *cin[] = {z, cw, cb};
    assert_shape(node(OP_LAYERNORM, "dim=1", 3, cin), SH(4, 2, 5, 3, 3));
    assert_error(node(OP_LAYERNORM, "dim=-1", 3, cin),
                 "layernorm: weight has shape [5] but input [2, 5, 3, 3] needs [3]");
    assert_error(node1(OP_LAYERNORM, "dim=4", SH(4, 2, 5, 3, 3)),
                 "layernorm: dim 4 is out of range for [2, 5, 3, 3] (expected -4..3)");
}

static void test_elementwise(void **state)
{
    static const OpKind same[] = {OP_RELU, OP_RELU6, OP_GELU, OP_SILU, OP_SIGMOID, OP_HARDSWISH,
                                  OP_DROPOUT};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        assert_shape(node1(same[i], NULL, SH(3, 2, 3, 4)), SH(3, 2, 3, 4));
        assert_shape(node1(same[i], NULL, SH(0)), SH(0));
    }
    assert_error(node1(OP_DROPOUT, "p=1.5", SH(1, 3)),
                 "dropout: probability p must be between 0 and 1, got 1.5");
    assert_error(node1(OP_DROPOUT, "p=-0.1", SH(1, 3)), "between 0 and 1");
    assert_shape(node1(OP_DROPOUT, "p=1", SH(1, 3)), SH(1, 3));

    assert_shape(node1(OP_SOFTMAX, NULL, SH(2, 3, 4)), SH(2, 3, 4));
    assert_shape(node1(OP_SOFTMAX, "dim=-2", SH(2, 3, 4)), SH(2, 3, 4));
    assert_shape(node1(OP_SOFTMAX, "dim=0", SH(0)), SH(0));
    assert_error(node1(OP_SOFTMAX, "dim=2", SH(2, 3, 4)),
                 "softmax: dim 2 is out of range for [3, 4] (expected -2..1)");
    assert_error(node1(OP_SOFTMAX, "dim=-3", SH(2, 3, 4)), "dim -3 is out of range");
}

static void test_broadcast(void **state)
{
    assert_shape(node2(OP_ADD, SH(2, 3, 1), SH(1, 4)), SH(2, 3, 4));
    assert_shape(node2(OP_MUL, SH(4, 1, 64, 56, 56), SH(4, 1, 64, 1, 1)), SH(4, 1, 64, 56, 56));
    assert_shape(node2(OP_SUB, SH(0), SH(2, 2, 3)), SH(2, 2, 3));
    assert_shape(node2(OP_ADD, SH(3, 5, 1, 7), SH(2, 3, 1)), SH(3, 5, 3, 7));
    assert_shape(node2(OP_ADD, SH(1, 0), SH(1, 1)), SH(1, 0));
    assert_shape(node2(OP_ADD, SH(2, 1, 1), SH(1, 0)), SH(2, 1, 0));
    assert_error(node2(OP_ADD, SH(4, 1, 64, 56, 56), SH(4, 1, 128, 56, 56)),
                 "add: cannot broadcast [1, 64, 56, 56] with [1, 128, 56, 56]");
    assert_error(node2(OP_MUL, SH(1, 3), SH(1, 4)), "mul: cannot broadcast [3] with [4]");
    assert_error(node2(OP_SUB, SH(1, 0), SH(1, 2)), "cannot broadcast [0] with [2]");
}

/* ---- pooling ---- */

static void test_pool_shapes(void **state)
{
    /* resnet stem: MaxPool2d(3, 2, 1) on 112 -> 56 */
    assert_shape(node1(OP_MAXPOOL, "kernel_size=3 stride=2 padding=1", SH(4, 1, 64, 112, 112)),
                 SH(4, 1, 64, 56, 56));
    /* stride defaults to kernel_size */
    assert_shape(node1(OP_MAXPOOL, "kernel_size=2", SH(4, 1, 1, 7, 8)), SH(4, 1, 1, 3, 4));
    assert_shape(node1(OP_AVGPOOL, "kernel_size=[2,4]", SH(4, 1, 1, 8, 8)), SH(4, 1, 1, 4, 2));
    /* dilated max pooling: MaxPool2d(3, 1, dilation=2) on 10 -> 6 */
    assert_shape(node1(OP_MAXPOOL, "kernel_size=3 stride=1 dilation=2", SH(4, 1, 1, 10, 10)),
                 SH(4, 1, 1, 6, 6));
}

static void test_pool_ceil_mode(void **state)
{
    /* MaxPool2d(2, 2, ceil_mode=True) on 7 -> 4 (floor mode: 3) */
    assert_shape(node1(OP_MAXPOOL, "kernel_size=2 ceil_mode=true", SH(4, 1, 1, 7, 7)),
                 SH(4, 1, 1, 4, 4));
    assert_shape(node1(OP_MAXPOOL, "kernel_size=2", SH(4, 1, 1, 7, 7)), SH(4, 1, 1, 3, 3));
    /* exact division: ceil changes nothing. 6 -> 3 */
    assert_shape(node1(OP_AVGPOOL, "kernel_size=2 ceil_mode=true", SH(4, 1, 1, 6, 6)),
                 SH(4, 1, 1, 3, 3));
    /* MaxPool2d(3, 2, padding=1, ceil_mode=True): on 5, ceil(4/2)+1 = 3; on 6,
     * ceil(5/2)+1 = 4 and the 4th window starts at 6 < 6+1, inside: kept. */
    assert_shape(node1(OP_MAXPOOL, "kernel_size=3 stride=2 padding=1 ceil_mode=true",
                       SH(4, 1, 1, 5, 6)),
                 SH(4, 1, 1, 3, 4));
    /* MaxPool2d(2, 2, padding=1, ceil_mode=True) on 4: ceil((4+2-2)/2)+1 = 3, the
     * third window starts at 4 < 4+1: kept -> 3. On 5: ceil((5+2-2)/2)+1 = 4, the
     * fourth window would start at 6 >= 5+1: dropped -> 3 (torch gives 3). */
    assert_shape(node1(OP_MAXPOOL, "kernel_size=2 padding=1 ceil_mode=true", SH(4, 1, 1, 4, 5)),
                 SH(4, 1, 1, 3, 3));
    /* AvgPool2d(3, 3, ceil_mode=True) on 7: ceil(4/3)+1 = 3; window 3 starts at 6 < 7 */
    assert_shape(node1(OP_AVGPOOL, "kernel_size=3 ceil_mode=true", SH(4, 1, 1, 7, 7)),
                 SH(4, 1, 1, 3, 3));
    /* googlenet: MaxPool2d(3, 2, ceil_mode=True) on 112 -> 56, on 56 -> 28, on 14 -> 7 */
    assert_shape(node1(OP_MAXPOOL, "kernel_size=3 stride=2 ceil_mode=true", SH(4, 1, 1, 112, 14)),
                 SH(4, 1, 1, 56, 7));
    assert_shape(node1(OP_MAXPOOL, "kernel_size=3 stride=2", SH(4, 1, 1, 112, 14)),
                 SH(4, 1, 1, 55, 6));
}

static void test_pool_errors(void **state)
{
    assert_error(node1(OP_MAXPOOL, "kernel_size=3 padding=2", SH(4, 1, 1, 8, 8)),
                 "maxpool: padding [2, 2] must be at most half of kernel_size [3, 3]");
    assert_error(node1(OP_AVGPOOL, "kernel_size=[4,2] padding=[2,2]", SH(4, 1, 1, 8, 8)),
                 "padding [2, 2] must be at most half of kernel_size [4, 2]");
    assert_error(node1(OP_MAXPOOL, "kernel_size=3", SH(4, 1, 1, 2, 8)),
                 "maxpool: output size 0x2 is too small: input [1, 1, 2, 8], kernel_size [3, 3], "
                 "padding [0, 0]");
    assert_error(node1(OP_MAXPOOL, "kernel_size=2 stride=0", SH(4, 1, 1, 8, 8)),
                 "stride must be positive");
    assert_error(node1(OP_MAXPOOL, "kernel_size=2 dilation=0", SH(4, 1, 1, 8, 8)),
                 "dilation must be positive");
    assert_error(node1(OP_AVGPOOL, "kernel_size=0", SH(4, 1, 1, 8, 8)),
                 "kernel_size must be positive");
    assert_error(node1(OP_MAXPOOL, "kernel_size=2", SH(3, 1, 8, 8)),
                 "maxpool: input must be 4-D [N, C, H, W], got [1, 8, 8]");
    assert_error(node1(OP_MAXPOOL, "kernel_size=2 dilation=9223372036854775807",
                       SH(4, 1, 1, 8, 8)),
                 "too large");
    assert_error(node1(OP_MAXPOOL, "kernel_size=2 stride=9223372036854775807 ceil_mode=true",
                       SH(4, 1, 1, 8, 8)),
                 "too large");
}

static void test_adaptive_global(void **state)
{
    assert_shape(node1(OP_ADAPTIVE_AVGPOOL, "output_size=1", SH(4, 2, 512, 7, 7)),
                 SH(4, 2, 512, 1, 1));
    assert_shape(node1(OP_ADAPTIVE_AVGPOOL, "output_size=[6,7]", SH(4, 1, 3, 13, 3)),
                 SH(4, 1, 3, 6, 7));
    assert_error(node1(OP_ADAPTIVE_AVGPOOL, "output_size=0", SH(4, 1, 3, 13, 3)),
                 "output_size must be positive");
    assert_error(node1(OP_ADAPTIVE_AVGPOOL, "output_size=2", SH(4, 1, 3, 0, 3)),
                 "has an empty spatial dimension");
    assert_error(node1(OP_ADAPTIVE_AVGPOOL, "output_size=2", SH(2, 1, 3)), "4-D");
    assert_shape(node1(OP_GLOBAL_AVGPOOL, NULL, SH(4, 8, 2048, 7, 7)), SH(4, 8, 2048, 1, 1));
    assert_error(node1(OP_GLOBAL_AVGPOOL, NULL, SH(2, 8, 2048)),
                 "global_avgpool: input must be 4-D");
}

/* ---- layout ops ---- */

static void test_flatten_reshape(void **state)
{
    assert_shape(node1(OP_FLATTEN, NULL, SH(4, 2, 512, 1, 1)), SH(2, 2, 512));
    assert_shape(node1(OP_FLATTEN, "start_dim=0", SH(3, 2, 3, 4)), SH(1, 24));
    assert_shape(node1(OP_FLATTEN, "start_dim=-3 end_dim=-2", SH(4, 2, 3, 4, 5)),
                 SH(3, 2, 12, 5));
    assert_shape(node1(OP_FLATTEN, "start_dim=1 end_dim=1", SH(3, 2, 3, 4)), SH(3, 2, 3, 4));
    assert_shape(node1(OP_FLATTEN, "start_dim=0", SH(0)), SH(1, 1));
    assert_error(node1(OP_FLATTEN, "start_dim=2 end_dim=1", SH(3, 2, 3, 4)),
                 "flatten: start_dim 2 comes after end_dim 1");
    assert_error(node1(OP_FLATTEN, "start_dim=3", SH(3, 2, 3, 4)),
                 "start_dim 3 is out of range for [2, 3, 4] (expected -3..2)");
    assert_error(node1(OP_FLATTEN, "end_dim=-4", SH(3, 2, 3, 4)), "end_dim -4 is out of range");
    assert_error(node1(OP_FLATTEN, NULL, SH(3, 0, 1LL << 40, 1LL << 40)), "too large");

    assert_shape(node1(OP_RESHAPE, "shape=[2,-1]", SH(3, 2, 3, 4)), SH(2, 2, 12));
    assert_shape(node1(OP_RESHAPE, "shape=[-1]", SH(3, 2, 3, 4)), SH(1, 24));
    assert_shape(node1(OP_RESHAPE, "shape=[4,0]", SH(2, 0, 5)), SH(2, 4, 0));
    assert_shape(node1(OP_RESHAPE, "shape=[]", SH(2, 1, 1)), SH(0));
    assert_error(node1(OP_RESHAPE, "shape=[-1,-1]", SH(1, 4)),
                 "reshape: only one dimension can be -1 in [-1, -1]");
    assert_error(node1(OP_RESHAPE, "shape=[5,-1]", SH(1, 24)),
                 "reshape: cannot reshape [24] into [5, -1]");
    assert_error(node1(OP_RESHAPE, "shape=[5,5]", SH(1, 24)),
                 "reshape: cannot reshape [24] (24 elements) into [5, 5] (25 elements)");
    assert_error(node1(OP_RESHAPE, "shape=[0,-1]", SH(1, 0)), "cannot reshape [0] into [0, -1]");
    assert_error(node1(OP_RESHAPE, "shape=[2,-3]", SH(1, 6)), "invalid size -3 in [2, -3]");
    assert_error(node1(OP_RESHAPE, "shape=[1,1,1,1,1,1,1,1,1]", SH(1, 1)),
                 "target shape has 9 dimensions; at most 8 are supported");
    assert_error(node1(OP_RESHAPE, "shape=[4294967296,4294967296]", SH(1, 1)), "too large");
}

static void test_transpose_permute_expand(void **state)
{
    assert_shape(node1(OP_TRANSPOSE, "dim0=1 dim1=2", SH(3, 2, 3, 4)), SH(3, 2, 4, 3));
    assert_shape(node1(OP_TRANSPOSE, "dim0=-1 dim1=0", SH(3, 2, 3, 4)), SH(3, 4, 3, 2));
    assert_shape(node1(OP_TRANSPOSE, "dim0=0 dim1=-1", SH(0)), SH(0));
    assert_error(node1(OP_TRANSPOSE, "dim0=0 dim1=3", SH(3, 2, 3, 4)),
                 "transpose: dim1 3 is out of range");

    assert_shape(node1(OP_PERMUTE, "dims=[0,2,3,1]", SH(4, 1, 3, 5, 7)), SH(4, 1, 5, 7, 3));
    assert_shape(node1(OP_PERMUTE, "dims=[-1,0]", SH(2, 3, 4)), SH(2, 4, 3));
    assert_error(node1(OP_PERMUTE, "dims=[0,1]", SH(3, 2, 3, 4)),
                 "permute: dims [0, 1] do not match the 3 dimensions of [2, 3, 4]");
    assert_error(node1(OP_PERMUTE, "dims=[0,0,1]", SH(3, 2, 3, 4)),
                 "dims [0, 0, 1] repeat dim 0");
    assert_error(node1(OP_PERMUTE, "dims=[0,-3,1]", SH(3, 2, 3, 4)), "repeat dim 0");
    assert_error(node1(OP_PERMUTE, "dims=[0,1,5]", SH(3, 2, 3, 4)), "dim 5 is out of range");

    assert_shape(node1(OP_EXPAND, "shape=[2,3,4]", SH(2, 3, 1)), SH(3, 2, 3, 4));
    assert_shape(node1(OP_EXPAND, "shape=[-1,5]", SH(2, 3, 1)), SH(2, 3, 5));
    assert_shape(node1(OP_EXPAND, "shape=[3,-1]", SH(2, 1, 4)), SH(2, 3, 4));
    assert_shape(node1(OP_EXPAND, "shape=[0,4]", SH(2, 1, 4)), SH(2, 0, 4));
    assert_error(node1(OP_EXPAND, "shape=[-1,3,4]", SH(2, 3, 1)),
                 "expand: -1 is not allowed for the new leading dimension 0 in [-1, 3, 4]");
    assert_error(node1(OP_EXPAND, "shape=[4,4]", SH(2, 3, 1)),
                 "expand: cannot expand [3, 1] to [4, 4]: dim 0 has size 3 (only size-1 dims "
                 "expand)");
    assert_error(node1(OP_EXPAND, "shape=[4]", SH(2, 3, 1)),
                 "target shape [4] has fewer dimensions than input [3, 1]");
    assert_error(node1(OP_EXPAND, "shape=[3,-2]", SH(2, 3, 1)), "invalid size -2");
    assert_error(node1(OP_EXPAND, "shape=[4294967296,4294967296]", SH(2, 1, 1)), "too large");
}

static void test_concat(void **state)
{
    IrValue *a = input(SH(4, 1, 64, 8, 8)), *b = input(SH(4, 1, 32, 8, 8)),
            *c = input(SH(4, 1, 64, 4, 8));
    IrValue *ab[] = {a, b, a};
    assert_shape(node(OP_CONCAT, "dim=1", 3, ab), SH(4, 1, 160, 8, 8));
    IrValue *ac[] = {a, c};
    assert_shape(node(OP_CONCAT, "dim=-2", 2, ac), SH(4, 1, 64, 12, 8));
    assert_shape(node(OP_CONCAT, "dim=0", 1, &a), SH(4, 1, 64, 8, 8));
    assert_error(node(OP_CONCAT, "dim=1", 2, ac),
                 "concat: cannot concatenate [1, 64, 8, 8] and [1, 64, 4, 8] along dim 1");
    IrValue *r = input(SH(3, 1, 64, 8)), *ar[] = {a, r};
    assert_error(node(OP_CONCAT, "dim=1", 2, ar), "cannot concatenate");
    assert_error(node(OP_CONCAT, "dim=4", 2, ab), "concat: dim 4 is out of range");
    IrValue *s = input(SH(0));
    assert_error(node(OP_CONCAT, NULL, 1, &s), "zero-dimensional");
}

static void test_slice_select(void **state)
{
    Shape x = SH(3, 2, 10, 4);
    assert_shape(node1(OP_SLICE, "dim=1 start=1 end=8 step=2", x), SH(3, 2, 4, 4));
    assert_shape(node1(OP_SLICE, "dim=1 start=0 end=10", x), SH(3, 2, 10, 4));
    assert_shape(node1(OP_SLICE, "dim=1 start=-3 end=100", x), SH(3, 2, 3, 4));
    assert_shape(node1(OP_SLICE, "dim=-2 start=-100 end=-8", x), SH(3, 2, 2, 4));
    assert_shape(node1(OP_SLICE, "dim=1 start=7 end=3", x), SH(3, 2, 0, 4));
    assert_shape(node1(OP_SLICE, "dim=1 start=20 end=30", x), SH(3, 2, 0, 4));
    assert_shape(node1(OP_SLICE, "dim=1 start=0 end=10 step=3", x), SH(3, 2, 4, 4));
    assert_shape(node1(OP_SLICE, "dim=1 start=-9223372036854775807 end=9223372036854775807 "
                                  "step=9223372036854775807",
                       x),
                 SH(3, 2, 1, 4));
    assert_error(node1(OP_SLICE, "dim=1 start=0 end=4 step=0", x),
                 "slice: step must be positive, got 0");
    assert_error(node1(OP_SLICE, "dim=1 start=0 end=4 step=-1", x), "step must be positive");
    assert_error(node1(OP_SLICE, "dim=3 start=0 end=4", x), "slice: dim 3 is out of range");
    assert_error(node1(OP_SLICE, "dim=0 start=0 end=4", SH(0)), "zero-dimensional");

    assert_shape(node1(OP_SELECT, "dim=1 index=3", x), SH(2, 2, 4));
    assert_shape(node1(OP_SELECT, "dim=0 index=-2", x), SH(2, 10, 4));
    assert_shape(node1(OP_SELECT, "dim=0 index=0", SH(1, 5)), SH(0));
    assert_error(node1(OP_SELECT, "dim=1 index=10", x),
                 "select: index 10 is out of range for dim 1 of [2, 10, 4]");
    assert_error(node1(OP_SELECT, "dim=1 index=-11", x), "index -11 is out of range");
    assert_error(node1(OP_SELECT, "dim=-4 index=0", x), "dim -4 is out of range");
}

static void test_mha(void **state)
{
    assert_shape(node1(OP_MHA, "num_heads=12", SH(3, 1, 197, 768)), SH(3, 1, 197, 768));
    assert_error(node1(OP_MHA, "num_heads=3", SH(3, 1, 5, 10)),
                 "mha: embedding dim 10 is not divisible by num_heads = 3");
    assert_error(node1(OP_MHA, "num_heads=0", SH(3, 1, 5, 10)), "num_heads must be positive");
    assert_error(node1(OP_MHA, "num_heads=2", SH(2, 5, 10)),
                 "mha: input must be 3-D [N, L, E], got [5, 10]");
    assert_error(node1(OP_MHA, "num_heads=1", SH(3, 1, 1, 1LL << 40)), "too large");

    IrValue *x = input(SH(3, 2, 5, 8));
    IrValue *in[] = {x, param("a.in_proj_weight", SH(2, 24, 8)), param("a.in_proj_bias", SH(1, 24)),
                     param("a.out_proj.weight", SH(2, 8, 8)), param("a.out_proj.bias", SH(1, 8))};
    assert_shape(node(OP_MHA, "num_heads=2", 5, in), SH(3, 2, 5, 8));
    in[1] = param("b.in_proj_weight", SH(2, 8, 24));
    assert_error(node(OP_MHA, "num_heads=2", 5, in),
                 "mha: in_proj_weight has shape [8, 24] but input [2, 5, 8] needs [24, 8]");
}

/* ---- MACs ---- */

static int64_t macs(const IrNode *n)
{
    assert_non_null(n);
    const OpInfo *o = op_info(n->op);
    return o->macs ? o->macs(n) : 0;
}

static void test_macs(void **state)
{
    /* resnet conv1: 64*112*112 outputs x 3*7*7 = 118,013,952 (fvcore) */
    assert_int_equal(macs(node1(OP_CONV2D, "out_channels=64 kernel_size=7 stride=2 padding=3",
                                SH(4, 1, 3, 224, 224))),
                     118013952);
    /* batch and groups: N*O*oh*ow*(C/g)*kh*kw = 2*32*14*14*1*9 */
    assert_int_equal(macs(node1(OP_CONV2D, "out_channels=32 kernel_size=3 padding=1 groups=32",
                                SH(4, 2, 32, 14, 14))),
                     2 * 32 * 14 * 14 * 9);
    assert_int_equal(macs(node1(OP_LINEAR, "out_features=1000", SH(2, 1, 2048))), 2048000);
    assert_int_equal(macs(node1(OP_LINEAR, "out_features=10", SH(3, 2, 7, 20))), 2 * 7 * 10 * 20);
    assert_int_equal(macs(node2(OP_MATMUL, SH(3, 4, 2, 3), SH(2, 3, 5))), 4 * 2 * 5 * 3);
    assert_int_equal(macs(node2(OP_MATMUL, SH(1, 6), SH(1, 6))), 6);
    assert_int_equal(macs(node2(OP_BMM, SH(3, 4, 2, 3), SH(3, 4, 3, 5))), 4 * 2 * 5 * 3);
    /* ViT-B/16 encoder attention: N=1 L=197 E=768:
     * 3LE^2 + 2L^2E + LE^2 = 4*197*768^2 + 2*197^2*768 */
    assert_int_equal(macs(node1(OP_MHA, "num_heads=12", SH(3, 1, 197, 768))),
                     4LL * 197 * 768 * 768 + 2LL * 197 * 197 * 768);
    assert_int_equal(macs(node1(OP_MHA, "num_heads=2", SH(3, 3, 5, 8))),
                     3 * (4 * 5 * 8 * 8 + 2 * 5 * 5 * 8));
    assert_int_equal(macs(node1(OP_RELU, NULL, SH(2, 100, 100))), 0);
    assert_int_equal(macs(node1(OP_BATCHNORM, NULL, SH(2, 100, 100))), 0);
}

/* ---- ResNet-50 through the API: the published totals ---- */

static IrValue *conv(const char *name, IrValue *x, int64_t out, int64_t k, int64_t stride)
{
    char attrs[128], key[128];
    snprintf(attrs, sizeof attrs, "out_channels=%lld kernel_size=%lld stride=%lld padding=%lld bias=false",
             (long long)out, (long long)k, (long long)stride, (long long)(k / 2));
    IrValue *in[2] = {x};
    snprintf(key, sizeof key, "%s.weight", name);
    in[1] = param(key, SH(4, out, x->shape.d[1], k, k));
    IrNode *n = node(OP_CONV2D, attrs, 2, in);
    if (!n)
        fail_msg("%s: %s", name, ERR);
    return n->out;
}

static IrValue *bn(const char *name, IrValue *x)
{
    static const char *const sfx[] = {"weight", "bias", "running_mean", "running_var"};
    IrValue *in[5] = {x};
    for (int i = 0; i < 4; i++) {
        char key[128];
        snprintf(key, sizeof key, "%s.%s", name, sfx[i]);
        in[i + 1] = param(key, SH(1, x->shape.d[1]));
    }
    IrNode *n = node(OP_BATCHNORM, NULL, 5, in);
    assert_non_null(n);
    return n->out;
}

static IrValue *relu(IrValue *x) { return node(OP_RELU, NULL, 1, &x)->out; }

static IrValue *bottleneck(const char *p, IrValue *x, int64_t width, int64_t stride, bool down)
{
    char a[64], b[64];
    IrValue *idt = x;
#define NM(buf, fmt) (snprintf(buf, sizeof buf, fmt, p), buf)
    IrValue *y = relu(bn(NM(b, "%s.bn1"), conv(NM(a, "%s.conv1"), x, width, 1, 1)));
    y = relu(bn(NM(b, "%s.bn2"), conv(NM(a, "%s.conv2"), y, width, 3, stride)));
    y = bn(NM(b, "%s.bn3"), conv(NM(a, "%s.conv3"), y, width * 4, 1, 1));
    if (down)
        idt = bn(NM(b, "%s.downsample.1"), conv(NM(a, "%s.downsample.0"), x, width * 4, 1, stride));
#undef NM
    IrValue *in[] = {y, idt};
    return relu(node(OP_ADD, NULL, 2, in)->out);
}

static void test_resnet50_totals(void **state)
{
    IrValue *x = ir_add_input(G, "image", DT_F32, SH(4, 1, 3, 224, 224), loc_none());
    x = relu(bn("bn1", conv("conv1", x, 64, 7, 2)));
    x = node(OP_MAXPOOL, "kernel_size=3 stride=2 padding=1", 1, &x)->out;
    static const int blocks[] = {3, 4, 6, 3};
    for (int l = 0; l < 4; l++)
        for (int b = 0; b < blocks[l]; b++) {
            char p[32];
            snprintf(p, sizeof p, "layer%d.%d", l + 1, b);
            x = bottleneck(p, x, 64 << l, b == 0 && l > 0 ? 2 : 1, b == 0);
        }
    x = node(OP_ADAPTIVE_AVGPOOL, "output_size=1", 1, &x)->out;
    x = node(OP_FLATTEN, NULL, 1, &x)->out;
    IrValue *in[] = {x, param("fc.weight", SH(2, 1000, 2048)), param("fc.bias", SH(1, 1000))};
    IrNode *fc = node(OP_LINEAR, "out_features=1000", 3, in);
    assert_shape(fc, SH(2, 1, 1000));
    ir_add_output(G, "logits", fc->out);

    IrStats st = ir_stats(G, NULL);
    print_message("resnet50: %lld MACs, %lld parameters\n", (long long)st.macs,
                  (long long)st.params);
    /* fvcore: 4,089,184,256 (the "4.09 GFLOPs" of torchvision), conv and linear only */
    assert_int_equal(st.macs, 4089184256LL);
    /* every conv and the fc, summed exactly by the rule */
    int64_t sum = 0;
    for (int i = 0; i < G->nnodes; i++)
        sum += macs(G->nodes[i]);
    assert_int_equal(st.macs, sum);
    /* torchvision's 25,557,032 parameters; the 53,120 batchnorm running
     * statistics are state_dict buffers, which the IR keeps as parameters */
    assert_int_equal(st.params, 25557032);
    assert_int_equal(st.buffers, 53120);

    /* the printed summary says the same in readable form */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    IrStats again = ir_stats(G, f);
    fclose(f);
    assert_memory_equal(&again, &st, sizeof st);
    assert_non_null(strstr(text, "total MACs:             4,089,184,256 (4.09 GMACs)"));
    assert_non_null(strstr(text, "total parameters:       25,557,032 (plus 53,120 in batchnorm running statistics)"));
    assert_non_null(strstr(text, "f32[1, 1000]"));
    assert_non_null(strstr(text, "2,049,000")); /* fc: 1000 x 2048 + 1000 params */
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_lookup),          T(test_attr_specs),
        T(test_param_suffixes),  T(test_data_inputs),
        T(test_params_rules),    T(test_conv2d_shapes),
        T(test_conv2d_params_checked), T(test_conv2d_errors),
        T(test_malformed_nodes), T(test_linear),
        T(test_matmul),          T(test_bmm),
        T(test_norms),           T(test_elementwise),
        T(test_broadcast),       T(test_pool_shapes),
        T(test_pool_ceil_mode),  T(test_pool_errors),
        T(test_adaptive_global), T(test_flatten_reshape),
        T(test_transpose_permute_expand), T(test_concat),
        T(test_slice_select),    T(test_mha),
        T(test_macs),            T(test_resnet50_totals),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
