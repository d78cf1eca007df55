/*
 * test_ir_meta.c — typed metadata (quantization, sparsity, PIM placement):
 * its text form, the parser's checks, the verifier's rules and what it
 * protects (a parameter metadata names cannot be removed).
 *
 * meta_net has every kind of metadata on every kind of value, with the
 * scale and mask parameters declared after the weights that name them, as
 * a pass adds them; it must round-trip like any graph (test_ir_text.c) and
 * survive truncation and mutation. The verifier is fed deliberately broken
 * metadata, with and without bound data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../ir/ir.h"
#include "ir_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const Loc L1 = {"nets/m.net", 3, 5, 6};
static const Loc L2 = {"nets/m.net", 7, 9, 0};

/* ---- building metadata ---- */

static IrValue *param(IrGraph *g, const char *key, DType dt, Shape s)
{
    IrValue *p = ir_add_param(g, key, dt, s, loc_none());
    assert_non_null(p);
    return p;
}

static IrQuant *quantize(IrGraph *g, IrValue *v, int bits, bool is_signed, int axis,
                         IrValue *scale, IrValue *zero_point)
{
    IrQuant *q = arena_alloc(g->arena, sizeof *q);
    *q = (IrQuant){bits, is_signed, axis, false, scale, zero_point};
    v->quant = q;
    return q;
}

static IrSparsity *sparsify(IrGraph *g, IrValue *w, SparsityKind kind, IrValue *mask)
{
    IrSparsity *sp = arena_alloc(g->arena, sizeof *sp);
    *sp = (IrSparsity){.kind = kind, .mask = mask};
    w->sparsity = sp;
    return sp;
}

static IrPlacement *place(IrGraph *g, IrNode *n, int tile, int crossbar, int crossbars, int replicas)
{
    IrPlacement *pl = arena_alloc(g->arena, sizeof *pl);
    *pl = (IrPlacement){tile, crossbar, crossbars, replicas};
    n->placement = pl;
    return pl;
}

/*
 * input x (quantized u8 with a zero point) -> conv (weight: 4-bit per
 * channel pow2, 2:4 sparse, placed) -> relu (result quantized) -> conv2
 * (channel-pruned) -> pool -> flatten -> fc (per-tensor 4-bit weight, block
 * sparse, placed twice) -> topk (each result its own quant).
 */
static IrGraph *meta_net(void)
{
    IrGraph *g = ir_graph_new("meta");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 1, 4, 8, 8), L1);
    IrValue *w = ir_add_param(g, "conv.weight", DT_F32, SH(4, 8, 4, 3, 3), L1);
    IrValue *in[] = {x, w};
    IrNode *conv = add_node(g, OP_CONV2D, "conv", "out_channels=8 kernel_size=3 padding=1 bias=false",
                            2, in, L1);
    place(g, conv, 0, 3, 2, 1);
    IrNode *relu = add_node(g, OP_RELU, NULL, NULL, 1, &conv->out, L2);
    IrValue *w2 = ir_add_param(g, "conv2.weight", DT_F32, SH(4, 8, 8, 1, 1), L2);
    in[0] = relu->out, in[1] = w2;
    IrNode *conv2 = add_node(g, OP_CONV2D, "conv2", "out_channels=8 kernel_size=1 bias=false", 2, in, L2);
    IrNode *pool = add_node(g, OP_GLOBAL_AVGPOOL, NULL, NULL, 1, &conv2->out, L2);
    IrNode *flat = add_node(g, OP_FLATTEN, NULL, NULL, 1, &pool->out, L2);
    IrValue *fw = ir_add_param(g, "fc.weight", DT_F32, SH(2, 6, 8), L2);
    in[0] = flat->out, in[1] = fw;
    IrNode *fc = add_node(g, OP_LINEAR, "fc", "out_features=6 bias=false", 2, in, L2);
    place(g, fc, 1, 0, 1, 2);
    IrNode *top = add_node(g, OP_TOPK, "top", "k=2 dim=1", 1, &fc->out, L2);
    ir_add_output(g, "values", top->outs[0]);
    ir_add_output(g, "indices", top->outs[1]);

    /* metadata parameters come after the weights, as a pass adds them */
    quantize(g, x, 8, false, -1, param(g, "x.scale", DT_F32, SH(1, 1)),
             param(g, "x.zero_point", DT_I32, SH(1, 1)));
    quantize(g, w, 4, true, 0, param(g, "conv.weight.scale", DT_F32, SH(1, 8)), NULL)->pow2 = true;
    IrSparsity *nm = sparsify(g, w, SP_NM, param(g, "conv.weight.mask", DT_U8, SH(4, 8, 4, 3, 3)));
    nm->n = 2, nm->m = 4;
    quantize(g, relu->out, 8, false, -1, param(g, "act.scale", DT_F32, SH(1, 1)),
             param(g, "act.zero_point", DT_I32, SH(1, 1)));
    sparsify(g, w2, SP_CHANNEL, param(g, "conv2.weight.mask", DT_BOOL, SH(1, 8)))->axis = 0;
    quantize(g, fw, 4, true, -1, param(g, "fc.weight.scale", DT_F32, SH(1, 1)), NULL);
    IrSparsity *blk = sparsify(g, fw, SP_BLOCK, param(g, "fc.weight.mask", DT_U8, SH(2, 3, 2)));
    blk->block[0] = 3, blk->block[1] = 3; /* 8 rows (in) x 6 columns (out): a 3x2 grid */
    quantize(g, top->outs[0], 16, true, 1, param(g, "top.scale", DT_F32, SH(1, 2)), NULL);
    quantize(g, top->outs[1], 2, false, -1, param(g, "top.index_scale", DT_F32, SH(1, 1)), NULL);
    return g;
}

static void assert_verifies(const IrGraph *g)
{
    char *msg = NULL;
    if (!verify_quiet(g, &msg))
        fail_msg("%s", msg);
    free(msg);
}

static IrNode *find_node(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->name && strcmp(g->nodes[i]->name, name) == 0)
            return g->nodes[i];
    fail_msg("no node %s", name);
    return NULL;
}

/* ---- text form ---- */

static void test_print_format(void **state)
{
    IrGraph *g = meta_net();
    assert_verifies(g);
    char *text = print_text(g, NULL);
    static const char *const lines[] = {
        "  input %x : f32[1, 4, 8, 8] quant(bits = 8, signed = false, scale = %x.scale, "
        "zero_point = %x.zero_point) loc(\"nets/m.net\":3:5:6)\n",
        "  param %conv.weight : f32[8, 4, 3, 3] quant(bits = 4, signed = true, axis = 0, pow2 = true, "
        "scale = %conv.weight.scale) sparsity(kind = \"nm\", n = 2, m = 4, mask = %conv.weight.mask) "
        "loc(\"nets/m.net\":3:5:6)\n",
        "  param %conv2.weight : f32[8, 8, 1, 1] sparsity(kind = \"channel\", axis = 0, "
        "mask = %conv2.weight.mask) loc(\"nets/m.net\":7:9)\n",
        "  param %fc.weight : f32[6, 8] quant(bits = 4, signed = true, scale = %fc.weight.scale) "
        "sparsity(kind = \"block\", block = [3, 3], mask = %fc.weight.mask) loc(\"nets/m.net\":7:9)\n",
        "  param %conv.weight.mask : u8[8, 4, 3, 3]\n",
        "  param %conv2.weight.mask : bool[8]\n",
        "name(\"conv\") pim(tile = 0, crossbar = 3, crossbars = 2, replicas = 1) loc(\"nets/m.net\":3:5:6)\n",
        "  %1 : f32[1, 8, 8, 8] quant(bits = 8, signed = false, scale = %act.scale, "
        "zero_point = %act.zero_point) = relu(%0) loc(\"nets/m.net\":7:9)\n",
        "name(\"fc\") pim(tile = 1, crossbar = 0, crossbars = 1, replicas = 2) loc(",
        "  %6 : f32[1, 2] quant(bits = 16, signed = true, axis = 1, scale = %top.scale), "
        "%7 : i64[1, 2] quant(bits = 2, signed = false, scale = %top.index_scale) = topk(%5) {",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        if (!strstr(text, lines[i]))
            fail_msg("missing from the dump:\n%s\n--- dump:\n%s", lines[i], text);
    free(text);
    ir_graph_free(g);
}

static void test_round_trip(void **state)
{
    IrGraph *g = meta_net();
    IrGraph *h = round_trip(g);
    assert_verifies(h);
    /* the parsed metadata names the parsed graph's parameters */
    IrValue *w = ir_find_param(h, "conv.weight");
    assert_int_equal(w->quant->bits, 4);
    assert_true(w->quant->is_signed && w->quant->pow2);
    assert_int_equal(w->quant->axis, 0);
    assert_ptr_equal(w->quant->scale, ir_find_param(h, "conv.weight.scale"));
    assert_null(w->quant->zero_point);
    assert_int_equal(w->sparsity->kind, SP_NM);
    assert_int_equal(w->sparsity->n, 2);
    assert_int_equal(w->sparsity->m, 4);
    assert_ptr_equal(w->sparsity->mask, ir_find_param(h, "conv.weight.mask"));
    assert_ptr_equal(h->inputs[0]->quant->zero_point, ir_find_param(h, "x.zero_point"));
    assert_int_equal(ir_find_param(h, "conv2.weight")->sparsity->kind, SP_CHANNEL);
    const IrSparsity *blk = ir_find_param(h, "fc.weight")->sparsity;
    assert_int_equal(blk->kind, SP_BLOCK);
    assert_int_equal(blk->block[0], 3);
    assert_int_equal(blk->block[1], 3);
    assert_null(ir_find_param(h, "fc.weight.scale")->quant);
    /* each result of the two-result node has its own */
    IrNode *top = find_node(h, "top");
    assert_int_equal(top->outs[0]->quant->bits, 16);
    assert_int_equal(top->outs[1]->quant->bits, 2);
    assert_ptr_equal(top->outs[1]->quant->scale, ir_find_param(h, "top.index_scale"));
    const IrPlacement *pl = find_node(h, "fc")->placement;
    assert_non_null(pl);
    assert_int_equal(pl->tile, 1);
    assert_int_equal(pl->replicas, 2);
    assert_null(top->placement);
    ir_graph_free(h);
    ir_graph_free(g);
}

static void test_truncated_and_mutated(void **state)
{
    IrGraph *g = meta_net();
    check_truncated_and_mutated(g);
    ir_graph_free(g);
}

/* Scales named before their declaration, fields in any order. */
static void test_parse_hand_written(void **state)
{
    const char *text = "graph g {\n"
                       "  param %w : f32[4, 2] sparsity(mask = %m, m = 4, n = 1, kind = \"nm\")"
                       " quant(scale = %s, signed = false, bits = 3)\n"
                       "  param %m : bool[4, 2]\n"
                       "  param %s : f32[1]\n"
                       "}\n";
    Parsed p = parse_ok(text);
    IrValue *w = ir_find_param(p.g, "w");
    assert_ptr_equal(w->sparsity->mask, ir_find_param(p.g, "m"));
    assert_ptr_equal(w->quant->scale, ir_find_param(p.g, "s"));
    assert_int_equal(w->quant->axis, -1);
    char *again = print_text(p.g, NULL);
    assert_non_null(strstr(again, "param %w : f32[4, 2] quant(bits = 3, signed = false, scale = %s) "
                                  "sparsity(kind = \"nm\", n = 1, m = 4, mask = %m)\n"));
    free(again);
    parsed_free(&p);
}

static void test_parse_errors(void **state)
{
#define W "graph g {\n  param %w : f32[8, 4] "
#define S "\n  param %s : f32[1]\n  param %m : u8[8, 4]\n}"
    static const ParseCase cases[] = {
        {W "quant(bits = 4, signed = true, scale = %s, zp = %s)" S,
         "t.ir:2:67: error: unknown field 'zp' in quant(...)"},
        {W "quant(bits = 4, bits = 4)" S, "t.ir:2:40: error: field 'bits' is given twice"},
        {W "quant(signed = true, scale = %s)" S, "t.ir:2:24: error: quant(...) is missing the field 'bits'"},
        {W "quant(bits = 4, scale = %s)" S, "t.ir:2:24: error: quant(...) is missing the field 'signed'"},
        {W "quant(bits = 4, signed = true)" S, "t.ir:2:24: error: quant(...) is missing the field 'scale'"},
        {W "quant(bits = 1, signed = true, scale = %s)" S, "t.ir:2:37: error: bits must be between 2 and 16"},
        {W "quant(bits = 17, signed = true, scale = %s)" S, "t.ir:2:37: error: bits must be between 2 and 16"},
        {W "quant(bits = 4, signed = 1, scale = %s)" S, "t.ir:2:49: error: expected true or false, found '1'"},
        {W "quant(bits = 4, signed = true, scale = s)" S, "t.ir:2:63: error: expected a parameter such as %w.scale, found 's'"},
        {W "quant(bits = 4, signed = true, scale = %s) quant(bits = 4, signed = true, scale = %s)" S,
         "t.ir:2:67: error: a second quant(...) clause"},
        {W "quant(bits = 4, signed = true, axis = 1, scale = %s)" S,
         "t.ir:2:24: error: %w: quant scale 's' is f32[1], expected f32[4]"},
        {W "quant(bits = 4, signed = true, axis = 2, scale = %s)" S,
         "t.ir:2:24: error: %w: quant axis 2 is out of range for [8, 4] (expected -1..1)"},
        {W "quant(bits = 4, signed = true, scale = %s, zero_point = %s)" S,
         "t.ir:2:24: error: %w: quant zero_point 's' is f32[1], expected i32[1]"},
        {W "quant(bits = 4, signed = true, scale = %t)" S, "t.ir:2:63: error: use of undefined value '%t'"},
        {"graph g {\n  input %x : f32[2]\n  param %w : f32[2] quant(bits = 4, signed = true, scale = %x)\n}",
         "t.ir:3:60: error: scale must name a parameter, and '%x' is a graph input"},
        {"graph g {\n  input %x : f32[1]\n  %0 : f32[1] quant(bits = 4, signed = true, scale = %0) = relu(%x)\n}",
         "t.ir:3:54: error: scale must name a parameter, and '%0' is a node result"},
        {W "sparsity(kind = \"diagonal\", mask = %m)" S,
         "t.ir:2:33: error: unknown sparsity kind \"diagonal\" (expected \"element\", \"nm\", \"channel\" or \"block\")"},
        {W "sparsity(mask = %m)" S, "t.ir:2:24: error: sparsity(...) is missing the field 'kind'"},
        {W "sparsity(kind = \"element\")" S, "t.ir:2:24: error: sparsity(...) is missing the field 'mask'"},
        {W "sparsity(kind = \"nm\", n = 2, mask = %m)" S, "t.ir:2:24: error: sparsity(...) is missing the field 'm'"},
        {W "sparsity(kind = \"nm\", n = 4, m = 4, mask = %m)" S, "t.ir:2:46: error: n must be less than m (n:m is 4:4)"},
        {W "sparsity(kind = \"nm\", n = 2, m = 17, mask = %m)" S, "t.ir:2:57: error: m must be between 2 and 16"},
        {W "sparsity(kind = \"nm\", n = 0, m = 4, mask = %m)" S, "t.ir:2:50: error: n must be between 1 and 15"},
        {W "sparsity(kind = \"block\", block = [2, 0], mask = %m)" S, "t.ir:2:61: error: a block size must be between 1 and"},
        {W "sparsity(kind = \"channel\", n = 2, mask = %m)" S,
         "t.ir:2:51: error: field 'n' does not apply to sparsity kind \"channel\""},
        {W "sparsity(kind = \"channel\", axis = 0, mask = %m)" S,
         "t.ir:2:24: error: %w: sparsity mask 'm' is u8[8, 4], expected u8 or bool[8]"},
        {W "sparsity(kind = \"block\", block = [3, 3], mask = %m)" S,
         "t.ir:2:24: error: %w: sparsity mask 'm' is u8[8, 4], expected u8 or bool[2, 3]"},
        {W "sparsity(kind = \"element\", mask = %s)" S,
         "t.ir:2:24: error: %w: sparsity mask 's' is f32[1], expected u8 or bool[8, 4]"},
        {"graph g {\n  input %x : f32[1] sparsity(kind = \"element\", mask = %x)\n}",
         "t.ir:2:21: error: sparsity(...) describes a weight; only parameters have it"},
        {"graph g {\n  input %x : f32[1]\n  %0 : f32[1] = relu(%x) pim(tile = 0, crossbar = 1, crossbars = 1)\n}",
         "t.ir:3:26: error: pim(...) is missing the field 'replicas'"},
        {"graph g {\n  input %x : f32[1]\n  %0 : f32[1] = relu(%x) pim(tile = -1, crossbar = 1, crossbars = 1, replicas = 1)\n}",
         "t.ir:3:37: error: tile must be between 0 and 2147483647"},
        {"graph g {\n  input %x : f32[1]\n  %0 : f32[1] = relu(%x) pim(tile = 0, crossbar = 1, crossbars = 1, replicas = 0)\n}",
         "t.ir:3:80: error: replicas must be between 1 and 2147483647"},
        {"graph g {\n  input %x : f32[1]\n  %0 : f32[1] = relu(%x) pim(tile = 0, crossbar = 0, crossbars = 0, replicas = 1)\n}",
         "t.ir:3:66: error: crossbars must be between 1 and 2147483647"},
    };
#undef W
#undef S
    check_parse_errors(cases, sizeof cases / sizeof *cases);
}

/* ---- verifier ---- */

/* A tensor of p's declaration with every element set by fill(i). */
static void bind_filled(IrValue *p, double (*fill)(int64_t i))
{
    Tensor *t = tensor_new(p->dtype, &p->shape);
    for (int64_t i = 0; i < tensor_numel(t); i++) {
        if (p->dtype == DT_F32)
            ((float *)t->data)[i] = (float)fill(i);
        else
            ((uint8_t *)t->data)[i] = (uint8_t)fill(i);
    }
    ir_bind(p, t);
}

static double pow2_scales(int64_t i) { return ldexp(1.0, (int)i - 4); }
static double two_of_four(int64_t i) { return i % 4 < 2; }

static void test_verify_bound_data(void **state)
{
    IrGraph *g = meta_net();
    IrValue *w = ir_find_param(g, "conv.weight");
    bind_filled(w->quant->scale, pow2_scales);
    bind_filled(w->sparsity->mask, two_of_four);
    assert_verifies(g);

    /* one scale that is not a power of two */
    ((float *)w->quant->scale->data->data)[5] = 0.3f;
    expect_verify_error(g, "nets/m.net:3:5: error: ir: parameter 'conv.weight': quant scale "
                           "'conv.weight.scale' element 5 is 0.3, not a power of two (pow2 = true)");
    w->quant->pow2 = false; /* without pow2 any scale will do */
    assert_verifies(g);

    /* a 2:4 mask keeping three of the four at row 2, columns 8..11 */
    ((uint8_t *)w->sparsity->mask->data->data)[2 * 36 + 10] = 1;
    expect_verify_error(g, "nets/m.net:3:5: error: ir: parameter 'conv.weight': sparsity mask "
                           "'conv.weight.mask' keeps 3 of the 4 elements at row 2, columns 8.. (n:m is 2:4)");
    w->sparsity->m = 8; /* groups of 8 keep 4 (5 in row 2) */
    expect_verify_error(g, "keeps 4 of the 8 elements at row 0, columns 0.. (n:m is 2:8)");
    w->sparsity->n = 5;
    assert_verifies(g);
    ir_graph_free(g);
}

static void test_verify_broken_meta(void **state)
{
    IrGraph *g = meta_net();
    IrValue *w = ir_find_param(g, "conv.weight");
    IrQuant *q = w->quant;

    IrValue *scale = q->scale;
    q->scale = param(g, "wrong.scale", DT_F32, SH(1, 7));
    expect_verify_error(g, "nets/m.net:3:5: error: ir: parameter 'conv.weight': quant scale "
                           "'wrong.scale' is f32[7], expected f32[8]");
    q->axis = -1; /* per tensor wants [1] */
    expect_verify_error(g, "quant scale 'wrong.scale' is f32[7], expected f32[1]");
    q->scale = scale, q->axis = 0;
    assert_verifies(g);

    q->axis = 4;
    expect_verify_error(g, "parameter 'conv.weight': quant axis 4 is out of range for [8, 4, 3, 3] "
                           "(expected -1..3)");
    q->axis = 0;
    q->bits = 1;
    expect_verify_error(g, "parameter 'conv.weight': quant bits 1 is outside 2..16");
    q->bits = 4;
    q->zero_point = param(g, "conv.weight.zp", DT_U8, SH(1, 8));
    expect_verify_error(g, "quant zero_point 'conv.weight.zp' is u8[8], expected i32[8]");
    q->zero_point = NULL;

    IrSparsity *sp = w->sparsity;
    IrValue *mask = sp->mask;
    sp->mask = param(g, "wrong.mask", DT_U8, SH(2, 8, 36));
    expect_verify_error(g, "parameter 'conv.weight': sparsity mask 'wrong.mask' is u8[8, 36], "
                           "expected u8 or bool[8, 4, 3, 3]");
    sp->mask = mask;
    sp->n = 4;
    expect_verify_error(g, "sparsity n:m 4:4 needs 1 <= n < m <= 16");
    sp->n = 2;
    IrSparsity *ch = ir_find_param(g, "conv2.weight")->sparsity;
    ch->axis = 4;
    expect_verify_error(g, "parameter 'conv2.weight': sparsity axis 4 is out of range for [8, 8, 1, 1] "
                           "(expected 0..3)");
    ch->axis = 1; /* [8] is also dim 1 of [8, 8, 1, 1] */
    assert_verifies(g);
    ch->axis = 2;
    expect_verify_error(g, "sparsity mask 'conv2.weight.mask' is bool[8], expected u8 or bool[1]");
    ch->axis = 0;
    IrSparsity *blk = ir_find_param(g, "fc.weight")->sparsity;
    blk->block[1] = 2; /* [6, 8] is 8 rows x 6 columns: in 3x2 tiles a 3x3 grid */
    expect_verify_error(g, "parameter 'fc.weight': sparsity mask 'fc.weight.mask' is u8[3, 2], "
                           "expected u8 or bool[3, 3]");
    blk->block[1] = 0;
    expect_verify_error(g, "sparsity block 3x0 must be at least 1x1");
    blk->block[1] = 3;
    assert_verifies(g);

    /* metadata naming what is not a parameter of this graph */
    IrNode *top = find_node(g, "top");
    IrValue *ts = top->outs[0]->quant->scale;
    top->outs[0]->quant->scale = top->outs[1];
    expect_verify_error(g, "'top' (topk): result 1: quant scale must be a parameter, not a node result");
    IrGraph *other = ir_graph_new("other");
    top->outs[0]->quant->scale = param(other, "top.scale", DT_F32, SH(1, 2));
    expect_verify_error(g, "'top' (topk): result 1: metadata names 'top.scale', which is not a value "
                           "of the graph");
    ir_graph_free(other);
    top->outs[0]->quant->scale = ts;
    IrValue *relu = find_node(g, "conv2")->in[0];
    relu->sparsity = w->sparsity;
    expect_verify_error(g, "%1 (relu): result 1: sparsity describes a weight, but this is not a parameter");
    relu->sparsity = NULL;

    IrPlacement *pl = find_node(g, "conv")->placement;
    pl->replicas = 0;
    expect_verify_error(g, "nets/m.net:3:5: error: ir: 'conv' (conv2d): placement tile 0, crossbar 3, "
                           "crossbars 2, replicas 0: tile and crossbar must be >= 0, crossbars and "
                           "replicas >= 1");
    pl->replicas = 1;
    pl->tile = -1;
    expect_verify_error(g, "placement tile -1");
    pl->tile = 0;
    assert_verifies(g);
    ir_graph_free(g);
}

/* The verifier's verdict on parsed text comes with the parser's location. */
static void test_parsed_meta_verifies(void **state)
{
    IrGraph *g = meta_net();
    char *printed = print_text(g, NULL), *text = strdup(printed);
    free(printed);
    /* the per-channel scale declared one element short */
    char *decl = strstr(text, "param %conv.weight.scale : f32[8]");
    assert_non_null(decl);
    decl[strlen("param %conv.weight.scale : f32[")] = '7';
    Parsed p = parse_text(text, strlen(text));
    assert_null(p.g);
    assert_non_null(strstr(p.messages, "t.ir:3:40: error: %conv.weight: quant scale "
                                       "'conv.weight.scale' is f32[7], expected f32[8]"));
    parsed_free(&p);
    free(text);
    ir_graph_free(g);
}

static void test_remove_param_in_metadata(void **state)
{
    IrGraph *g = meta_net();
    const char *refs[] = {"x.scale", "x.zero_point", "conv.weight.scale", "conv.weight.mask",
                          "act.zero_point", "top.index_scale"};
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++) {
        IrValue *p = ir_find_param(g, refs[i]);
        assert_true(ir_param_in_metadata(g, p));
        assert_false(ir_remove_param(g, p));
        assert_ptr_equal(ir_find_param(g, refs[i]), p);
    }
    /* once nothing names it, it goes */
    IrValue *w = ir_find_param(g, "conv.weight"), *mask = w->sparsity->mask;
    w->sparsity = NULL;
    assert_false(ir_param_in_metadata(g, mask));
    assert_true(ir_remove_param(g, mask));
    assert_null(ir_find_param(g, "conv.weight.mask"));
    assert_verifies(g);
    ir_graph_free(g);
}

/* Metadata tensors are state, not learned weights: stats counts them as
 * buffers, so the parameter count stays what the network learns. */
static void test_stats_counts_metadata_as_buffers(void **state)
{
    IrGraph *g = meta_net();
    IrStats st = ir_stats(g, NULL);
    assert_int_equal(st.params, 8 * 4 * 3 * 3 + 8 * 8 + 6 * 8); /* conv, conv2, fc weights */
    /* scales and zero points 1+1+8+1+1+1+2+1, masks 288+8+6 */
    assert_int_equal(st.buffers, 16 + 288 + 8 + 6);
    ir_graph_free(g);
}

static void test_dot(void **state)
{
    IrGraph *g = meta_net();
    char *dot = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&dot, &n);
    ir_print_dot(g, f);
    fclose(f);
    assert_non_null(strstr(dot, "label=\"conv2d conv\\nf32[1, 8, 8, 8]\\nweight [8, 4, 3, 3]\\n"
                                "w4 nm2:4 pim t0 c3..4\""));
    assert_non_null(strstr(dot, "label=\"relu\\nf32[1, 8, 8, 8]\\na8\""));
    assert_non_null(strstr(dot, "\\nchan\""));
    assert_non_null(strstr(dot, "\\nw4 blk3x3 pim t1 c0 r2\""));
    assert_non_null(strstr(dot, "\\na16 a2\""));
    free(dot);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_format),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_mutated),
        cmocka_unit_test(test_parse_hand_written),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_verify_bound_data),
        cmocka_unit_test(test_verify_broken_meta),
        cmocka_unit_test(test_parsed_meta_verifies),
        cmocka_unit_test(test_remove_param_in_metadata),
        cmocka_unit_test(test_stats_counts_metadata_as_buffers),
        cmocka_unit_test(test_dot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
