/*
 * test_geometry.c — the tensor geometry of ir/geometry.c against PyTorch.
 *
 * Every expected number was printed by PyTorch 1.13 (Debian's
 * python3-torch, /usr/bin/python3); each table names the torch expression
 * that produced its column. Where torch raises, the comment says so and the
 * test checks what our function promises instead (a result below 1, or
 * false). Invalid and overflowing arguments must be reported, never
 * computed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../ir/geometry.h"
#include "ir_test_util.h"

#include <stdio.h>

/* P(...): the functions take shapes by pointer, SH gives a value; a
 * compound literal wrapping it gives the value an address. */
#define P(...) (&(struct { Shape s; }){SH(__VA_ARGS__)}.s)

static void test_floor_div(void **state)
{
    /* Python: -7 // 2, 7 // -2, 7 // 2, -8 // 2, 0 // 3, -1 // 5 */
    assert_int_equal(geom_floor_div(-7, 2), -4);
    assert_int_equal(geom_floor_div(7, -2), -4);
    assert_int_equal(geom_floor_div(7, 2), 3);
    assert_int_equal(geom_floor_div(-8, 2), -4);
    assert_int_equal(geom_floor_div(0, 3), 0);
    assert_int_equal(geom_floor_div(-1, 5), -1);
}

static void test_wrap_dim(void **state)
{
    /* torch.zeros(2, 3, 4).size(d) for d = -1, -3, 0, 2 reads dims 2, 0, 0, 2;
     * d = 3 and d = -4 raise "Dimension out of range (expected to be in range
     * of [-3, 2] ...)". */
    int d = -7;
    assert_true(geom_wrap_dim(-1, 3, &d));
    assert_int_equal(d, 2);
    assert_true(geom_wrap_dim(-3, 3, &d));
    assert_int_equal(d, 0);
    assert_true(geom_wrap_dim(0, 3, &d));
    assert_int_equal(d, 0);
    assert_true(geom_wrap_dim(2, 3, &d));
    assert_int_equal(d, 2);
    d = -7;
    assert_false(geom_wrap_dim(3, 3, &d));
    assert_false(geom_wrap_dim(-4, 3, &d));
    assert_int_equal(d, -7); /* untouched on failure */
    /* A scalar: torch.zeros(()).softmax(0) and .softmax(-1) work, .softmax(1)
     * raises "expected to be in range of [-1, 0]". */
    assert_true(geom_wrap_dim(0, 0, &d));
    assert_int_equal(d, 0);
    assert_true(geom_wrap_dim(-1, 0, &d));
    assert_int_equal(d, 0);
    assert_false(geom_wrap_dim(1, 0, &d));
    assert_false(geom_wrap_dim(INT64_MIN, 3, &d));
}

static void test_pool_out_size(void **state)
{
    /* want = F.max_pool2d(torch.zeros(1, 1, 1, in), (1, k), (1, stride),
     *                     (0, pad), (1, dilation), ceil_mode=ceil).shape[-1] */
    static const struct {
        int64_t in, k, stride, pad, dilation;
        bool ceil;
        int64_t want;
    } cases[] = {
        {112, 3, 2, 1, 1, false, 56}, /* resnet stem */
        {112, 3, 2, 1, 1, true, 57},
        {7, 2, 2, 0, 1, false, 3},
        {7, 2, 2, 0, 1, true, 4},
        {14, 3, 2, 0, 1, true, 7}, /* googlenet */
        {6, 3, 2, 1, 1, true, 4},
        {4, 2, 2, 1, 1, true, 3}, /* last window starts at 4 < 4 + 1: kept */
        /* ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the 4th would start at
         * 6 >= 5 + 1, in the right padding: dropped. */
        {5, 2, 2, 1, 1, true, 3},
        /* ceil((6 + 2 - 2) / 4) + 1 = 3; the 3rd would start at 8 >= 6 + 1 */
        {6, 2, 4, 1, 1, true, 2},
        {2, 3, 2, 1, 1, true, 2},
        {1, 1, 2, 0, 1, true, 1},
        {8, 4, 3, 2, 1, true, 4},
        {11, 2, 3, 1, 1, true, 4},
        {11, 2, 3, 1, 1, false, 4},
        {10, 3, 1, 0, 2, false, 6}, /* dilated */
        {10, 3, 3, 1, 2, true, 4},
        {9, 3, 2, 1, 2, true, 4},
        {9, 3, 2, 1, 2, false, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t o = -99;
        print_message("pool case %zu\n", i);
        assert_true(geom_pool_out_size(cases[i].in, cases[i].k, cases[i].stride, cases[i].pad,
                                       cases[i].dilation, cases[i].ceil, &o));
        assert_int_equal(o, cases[i].want);
    }
    /* in 2, k 3: torch raises "Calculated output size: (1x1x0)"; the size is
     * reported as 0 for the caller to reject. */
    int64_t o = -99;
    assert_true(geom_pool_out_size(2, 3, 1, 0, 1, false, &o));
    assert_int_equal(o, 0);
    /* Invalid arguments and overflow: false, *out untouched. */
    o = -99;
    assert_false(geom_pool_out_size(8, 2, 0, 0, 1, false, &o));
    assert_false(geom_pool_out_size(8, 0, 1, 0, 1, false, &o));
    assert_false(geom_pool_out_size(8, 2, 1, -1, 1, false, &o));
    assert_false(geom_pool_out_size(8, 2, 1, 0, 0, false, &o));
    assert_false(geom_pool_out_size(-1, 2, 1, 0, 1, false, &o));
    assert_false(geom_pool_out_size(8, 2, 1, 0, INT64_MAX, false, &o));
    assert_false(geom_pool_out_size(8, 2, INT64_MAX, 0, 1, true, &o));
    assert_false(geom_pool_out_size(8, 2, 1, INT64_MAX / 2 + 1, 1, false, &o));
    assert_int_equal(o, -99);
}

static void test_conv_out_size(void **state)
{
    /* want = F.conv2d(torch.zeros(1, 1, 1, in), torch.zeros(1, 1, 1, k),
     *                 stride=(1, stride), padding=(0, pad),
     *                 dilation=(1, dilation)).shape[-1] */
    static const struct {
        int64_t in, k, stride, pad, dilation, want;
    } cases[] = {
        {224, 7, 2, 3, 1, 112}, /* resnet conv1 */
        {56, 3, 1, 1, 1, 56},
        {7, 3, 2, 0, 1, 3},
        {10, 3, 1, 2, 2, 10},
        {10, 3, 2, 0, 3, 2},
        {65, 3, 2, 4, 4, 33},
        {7, 3, 1, 0, 3, 1}, /* the dilated kernel spans exactly 7 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t o = -99;
        print_message("conv case %zu\n", i);
        assert_true(geom_conv_out_size(cases[i].in, cases[i].k, cases[i].stride, cases[i].pad,
                                       cases[i].dilation, &o));
        assert_int_equal(o, cases[i].want);
    }
    /* in 8, k 9: torch raises "Kernel size can't be greater than actual
     * input size"; reported as 0. */
    int64_t o = -99;
    assert_true(geom_conv_out_size(8, 9, 1, 0, 1, &o));
    assert_int_equal(o, 0);
    o = -99;
    assert_false(geom_conv_out_size(8, 3, 0, 0, 1, &o));
    assert_false(geom_conv_out_size(8, 0, 1, 0, 1, &o));
    assert_false(geom_conv_out_size(8, 3, 1, -1, 1, &o));
    assert_false(geom_conv_out_size(8, 3, 1, 0, 0, &o));
    assert_false(geom_conv_out_size(8, 3, 1, 0, INT64_MAX, &o));
    assert_false(geom_conv_out_size(8, 3, 1, INT64_MAX, 1, &o));
    assert_int_equal(o, -99);
}

/* A conv2d node over an input of shape x with attributes from text (the
 * spec's defaults filled in), not added to any graph, so invalid ones can
 * be built too. */
typedef struct ConvNode {
    Arena *arena;
    IrValue x;
    IrValue *in[1];
    IrAttr attr[16];
    IrNode n;
} ConvNode;

static void conv_node(ConvNode *c, Shape x, const char *attrs)
{
    c->arena = arena_new();
    c->x = (IrValue){.kind = VK_INPUT, .dtype = DT_F32, .shape = x};
    c->in[0] = &c->x;
    int na = make_attrs(c->arena, OP_CONV2D, attrs, c->attr);
    c->n = (IrNode){.op = OP_CONV2D, .nin = 1, .in = c->in, .nattr = na, .attr = c->attr};
}

static void test_conv2d_from_node(void **state)
{
    ConvNode c;
    GeomConv2d g;
    /* nn.Conv2d(3, 64, 7, 2, 3)(torch.zeros(1, 3, 224, 224)).shape
     * == [1, 64, 112, 112] */
    conv_node(&c, SH(4, 1, 3, 224, 224), "out_channels=64 kernel_size=7 stride=2 padding=3");
    assert_true(geom_conv2d_from_node(&c.n, &g));
    GeomConv2d want = {.n = 1, .c = 3, .h = 224, .w = 224, .oc = 64, .oh = 112, .ow = 112,
                       .kh = 7, .kw = 7, .sh = 2, .sw = 2, .ph = 3, .pw = 3, .dh = 1, .dw = 1,
                       .groups = 1};
    assert_memory_equal(&g, &want, sizeof g);
    arena_free(c.arena);

    /* nn.Conv2d(6, 4, 3, stride=(2, 1), padding=(1, 2), dilation=(2, 1),
     * groups=2)(torch.zeros(2, 6, 9, 10)).shape == [2, 4, 4, 12] */
    conv_node(&c, SH(4, 2, 6, 9, 10),
              "out_channels=4 kernel_size=3 stride=[2,1] padding=[1,2] dilation=[2,1] groups=2");
    assert_true(geom_conv2d_from_node(&c.n, &g));
    want = (GeomConv2d){.n = 2, .c = 6, .h = 9, .w = 10, .oc = 4, .oh = 4, .ow = 12, .kh = 3,
                        .kw = 3, .sh = 2, .sw = 1, .ph = 1, .pw = 2, .dh = 2, .dw = 1,
                        .groups = 2};
    assert_memory_equal(&g, &want, sizeof g);
    arena_free(c.arena);

    /* What torch rejects is false, with the fields still filled for the
     * caller's message. groups 4 does not divide 6 input channels: */
    conv_node(&c, SH(4, 1, 6, 8, 8), "out_channels=4 kernel_size=3 groups=4");
    assert_false(geom_conv2d_from_node(&c.n, &g));
    assert_int_equal(g.c, 6);
    assert_int_equal(g.groups, 4);
    assert_int_equal(g.oh, 6);
    arena_free(c.arena);
    /* groups 3 does not divide out_channels 4 */
    conv_node(&c, SH(4, 1, 6, 8, 8), "out_channels=4 kernel_size=3 groups=3");
    assert_false(geom_conv2d_from_node(&c.n, &g));
    arena_free(c.arena);
    /* a 9x9 kernel on 8x8: oh = ow = 0 */
    conv_node(&c, SH(4, 1, 6, 8, 8), "out_channels=4 kernel_size=9");
    assert_false(geom_conv2d_from_node(&c.n, &g));
    assert_int_equal(g.oh, 0);
    assert_int_equal(g.ow, 0);
    arena_free(c.arena);
    /* stride 0 and an overflowing dilation: not computable, -1 */
    conv_node(&c, SH(4, 1, 6, 8, 8), "out_channels=4 kernel_size=3 stride=[0,1]");
    assert_false(geom_conv2d_from_node(&c.n, &g));
    assert_int_equal(g.oh, -1);
    assert_int_equal(g.ow, 6);
    arena_free(c.arena);
    conv_node(&c, SH(4, 1, 6, 8, 8), "out_channels=4 kernel_size=3 dilation=9223372036854775807");
    assert_false(geom_conv2d_from_node(&c.n, &g));
    assert_int_equal(g.oh, -1);
    arena_free(c.arena);
    conv_node(&c, SH(4, 1, 6, 8, 8), "out_channels=0 kernel_size=3");
    assert_false(geom_conv2d_from_node(&c.n, &g));
    arena_free(c.arena);
    /* not 4-D; and a node that lacks its attributes */
    conv_node(&c, SH(3, 6, 8, 8), "out_channels=4 kernel_size=3");
    assert_false(geom_conv2d_from_node(&c.n, &g));
    c.n.nattr = 0;
    assert_false(geom_conv2d_from_node(&c.n, &g));
    arena_free(c.arena);
}

static void test_attr_int2(void **state)
{
    int64_t pair[2] = {5, 6}, one = 7, three[3] = {1, 2, 3};
    IrAttr a[] = {{.key = "p", .kind = AK_INTS, .n = 2, .ints = pair},
                  {.key = "i", .kind = AK_INT, .i = 3},
                  {.key = "l", .kind = AK_INTS, .n = 1, .ints = &one},
                  {.key = "t", .kind = AK_INTS, .n = 3, .ints = three},
                  {.key = "f", .kind = AK_FLOAT, .f = 1.0}};
    IrNode n = {.op = OP_MAXPOOL, .nattr = 5, .attr = a};
    int64_t v[2];
    assert_true(geom_attr_int2(&n, "p", v));
    assert_int_equal(v[0], 5);
    assert_int_equal(v[1], 6);
    assert_true(geom_attr_int2(&n, "i", v)); /* one int stands for both */
    assert_int_equal(v[0], 3);
    assert_int_equal(v[1], 3);
    const char *bad[] = {"l", "t", "f", "missing"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v[0] = v[1] = 9;
        assert_false(geom_attr_int2(&n, bad[i], v));
        assert_int_equal(v[0], 0);
        assert_int_equal(v[1], 0);
    }
}

static void assert_shape_eq(Shape got, Shape want)
{
    char a[200], b[200];
    if (!shape_equal(&got, &want))
        fail_msg("got %s, want %s", shape_str(&got, a, sizeof a), shape_str(&want, b, sizeof b));
}

static void test_broadcast_shape(void **state)
{
    Shape o;
    /* torch.broadcast_shapes((3, 1, 5), (4, 5)) == (3, 4, 5) */
    assert_true(geom_broadcast_shape(P(3, 3, 1, 5), P(2, 4, 5), &o));
    assert_shape_eq(o, SH(3, 3, 4, 5));
    assert_true(geom_broadcast_shape(P(2, 4, 5), P(3, 3, 1, 5), &o));
    assert_shape_eq(o, SH(3, 3, 4, 5));
    /* torch.broadcast_shapes((), (2, 3)) and ((1,), (2, 3)) == (2, 3) */
    assert_true(geom_broadcast_shape(P(0), P(2, 2, 3), &o));
    assert_shape_eq(o, SH(2, 2, 3));
    assert_true(geom_broadcast_shape(P(1, 1), P(2, 2, 3), &o));
    assert_shape_eq(o, SH(2, 2, 3));
    /* torch.broadcast_shapes((2, 0), (1,)) == (2, 0): 1 stretches to 0 */
    assert_true(geom_broadcast_shape(P(2, 2, 0), P(1, 1), &o));
    assert_shape_eq(o, SH(2, 2, 0));
    /* out may be an operand */
    Shape a = SH(2, 4, 1);
    assert_true(geom_broadcast_shape(&a, P(3, 2, 1, 6), &a));
    assert_shape_eq(a, SH(3, 2, 4, 6));
    /* torch.broadcast_shapes((2, 3), (4, 3)) raises "Shape mismatch" */
    o = SH(1, 42);
    assert_false(geom_broadcast_shape(P(2, 2, 3), P(2, 4, 3), &o));
    assert_false(geom_broadcast_shape(P(1, 2), P(1, 3), &o));
    assert_shape_eq(o, SH(1, 42)); /* untouched on failure */
}

static void assert_strides(const int64_t *got, int rank, const int64_t *want)
{
    for (int i = 0; i < rank; i++)
        if (got[i] != want[i])
            fail_msg("stride %d: got %lld, want %lld", i, (long long)got[i], (long long)want[i]);
}

static void test_strides(void **state)
{
    int64_t st[SHAPE_MAX_RANK];
    /* torch.zeros(2, 3, 4).stride() == (12, 4, 1) */
    geom_contiguous_strides(P(3, 2, 3, 4), st);
    assert_strides(st, 3, (int64_t[]){12, 4, 1});
    geom_contiguous_strides(P(1, 7), st);
    assert_strides(st, 1, (int64_t[]){1});

    /* torch.zeros(3, 1, 5).expand(3, 4, 5).stride() == (5, 0, 1) */
    assert_true(geom_broadcast_strides(P(3, 3, 1, 5), NULL, P(3, 3, 4, 5), st));
    assert_strides(st, 3, (int64_t[]){5, 0, 1});
    /* torch.zeros(4, 5).expand(3, 4, 5).stride() == (0, 5, 1) */
    assert_true(geom_broadcast_strides(P(2, 4, 5), NULL, P(3, 3, 4, 5), st));
    assert_strides(st, 3, (int64_t[]){0, 5, 1});
    /* A stored layout: torch.zeros(5, 3).t() is [3, 5] with strides (1, 3);
     * .expand(2, 3, 5).stride() == (0, 1, 3). */
    assert_true(geom_broadcast_strides(P(2, 3, 5), (int64_t[]){1, 3}, P(3, 2, 3, 5), st));
    assert_strides(st, 3, (int64_t[]){0, 1, 3});
    /* torch.zeros(5, 1).t() is [1, 5], strides (1, 1);
     * .expand(2, 4, 5).stride() == (0, 0, 1) */
    assert_true(geom_broadcast_strides(P(2, 1, 5), (int64_t[]){1, 1}, P(3, 2, 4, 5), st));
    assert_strides(st, 3, (int64_t[]){0, 0, 1});
    /* A scalar read everywhere. */
    assert_true(geom_broadcast_strides(P(0), NULL, P(2, 2, 3), st));
    assert_strides(st, 2, (int64_t[]){0, 0});
    /* torch.zeros(2, 3).expand(4, 3) and torch.zeros(1, 2, 3).expand(2, 3)
     * raise. */
    assert_false(geom_broadcast_strides(P(2, 2, 3), NULL, P(2, 4, 3), st));
    assert_false(geom_broadcast_strides(P(3, 1, 2, 3), NULL, P(2, 2, 3), st));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floor_div),
        cmocka_unit_test(test_wrap_dim),
        cmocka_unit_test(test_pool_out_size),
        cmocka_unit_test(test_conv_out_size),
        cmocka_unit_test(test_conv2d_from_node),
        cmocka_unit_test(test_attr_int2),
        cmocka_unit_test(test_broadcast_shape),
        cmocka_unit_test(test_strides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
