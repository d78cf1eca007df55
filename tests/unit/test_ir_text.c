/*
 * test_ir_text.c — the textual IR (ir_print / ir_parse), the verifier, the
 * stats table and the Graphviz export.
 *
 * The round-trip property is the specification of the text format: graphs
 * built through the ir.h API (one with every op, awkward floats, escaped
 * strings, quoted names, annotations and locations) must print, parse and
 * print to identical text, and the parsed graph must carry the same facts.
 * Malformed texts must give a located error, never a crash: a table of
 * hand-made mistakes checks the messages, and every truncation and many
 * byte mutations of a real dump check the robustness (run under ASan in
 * the sanitizer build). The verifier is fed deliberately corrupted graphs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../ir/ir.h"
#include "ir_test_util.h"
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const Loc L1 = {"nets/small.net", 3, 5, 6};
static const Loc L2 = {"nets/small.net", 4, 9, 0};

/* ---- building graphs ---- */

/* Adds a node with its parameters, created as the elaborator would. */
/* f32, except the integer layers' i8 weight and i32 bias. */
static DType param_dtype(OpKind op, const char *suffix)
{
    if (op != OP_QCONV2D && op != OP_QLINEAR)
        return DT_F32;
    return !strcmp(suffix, "weight") ? DT_I8 : !strcmp(suffix, "bias") ? DT_I32 : DT_F32;
}

/* Per-tensor unsigned 8-bit (axis -1) or signed symmetric on axis 0. */
static IrQuant *int8_quant(IrGraph *g, const char *key, bool is_signed, int64_t channels)
{
    IrQuant *q = arena_alloc(g->arena, sizeof *q);
    *q = (IrQuant){.bits = 8, .is_signed = is_signed, .axis = is_signed ? 0 : -1,
                   .scale = ir_add_param(g, arena_printf(g->arena, "%s.scale", key), DT_F32, SH(1, channels),
                                         loc_none())};
    if (!is_signed)
        q->zero_point = ir_add_param(g, arena_printf(g->arena, "%s.zero_point", key), DT_I32, SH(1, 1),
                                     loc_none());
    return q;
}

static IrNode *add_with_params(IrGraph *g, OpKind op, const char *name, const char *attrs,
                               IrValue *x, Loc loc)
{
    IrAttr a[16];
    ParamSpec ps[8];
    char err[512];
    int na = make_attrs(g->arena, op, attrs, a);
    IrNode probe = {.op = op, .name = name, .nin = 1, .in = &x, .nattr = na, .attr = a};
    int np = op_info(op)->params(&probe, ps, err, sizeof err);
    assert_true(np >= 0);
    IrValue *in[9] = {x};
    for (int i = 0; i < np; i++) {
        char key[256];
        snprintf(key, sizeof key, "%s.%s", name, ps[i].suffix);
        in[i + 1] = ir_add_param(g, key, param_dtype(op, ps[i].suffix), ps[i].shape, loc);
        assert_non_null(in[i + 1]);
    }
    return add_node(g, op, name, attrs, np + 1, in, loc);
}

static IrAnnot *annotate(IrGraph *g, IrNode *n, const char *name, int nargs, IrAttr *args, Loc loc)
{
    IrAnnot a = {.name = name, .nargs = nargs, .args = args, .loc = loc};
    ir_node_add_annot(g, n, &a);
    return &n->annot[n->nannot - 1];
}

/* A small residual CNN with annotations, locations and a free parameter. */
static IrGraph *small_net(void)
{
    IrGraph *g = ir_graph_new("small");
    IrValue *x = ir_add_input(g, "image", DT_F32, SH(4, 1, 3, 16, 16), L1);
    IrNode *c = add_with_params(g, OP_CONV2D, "stem.0", "out_channels=8 kernel_size=3 padding=1 bias=false", x, L1);
    IrAttr prec[] = {{.kind = AK_INT, .i = 4}};
    annotate(g, c, "precision", 1, prec, L2);
    IrNode *b = add_with_params(g, OP_BATCHNORM, "stem.1", NULL, c->out, L1);
    IrNode *r = add_node(g, OP_RELU, NULL, NULL, 1, &b->out, L2);
    IrNode *c2 = add_with_params(g, OP_CONV2D, "block.conv", "out_channels=8 kernel_size=3 padding=1", r->out, L1);
    IrAttr prune[] = {{.key = "ratio", .kind = AK_FLOAT, .f = 0.5},
                      {.key = "granularity", .kind = AK_STRING, .s = "channel"}};
    annotate(g, c2, "prune", 2, prune, L2)->inherited = true;
    annotate(g, c2, "tome", 0, NULL, loc_none());
    /* typed requests of every kind, as passes/annotations.c leaves them */
    c2->req = arena_alloc(g->arena, sizeof *c2->req);
    *c2->req = (IrRequests){.set = REQ_PRUNE | REQ_WEIGHT | REQ_ACT | REQ_EPITOME | REQ_PIM,
                            .prune_ratio = 0.25, .prune_kind = SP_BLOCK, .prune_block = {4, 8},
                            .weight = {.bits = 4}, .act = {.bits = 16, .is_float = true, .dtype = DT_BF16},
                            .epitome = {4, 8, 2, 2}, .pim_tile = 3, .pim_crossbar = -1, .pim_replicas = 2};
    r->req = arena_alloc(g->arena, sizeof *r->req);
    *r->req = (IrRequests){.set = REQ_PRUNE | REQ_TOME, .prune_kind = SP_NM, .prune_n = 1, .prune_m = 8,
                           .prune_ratio = 0.875, .tome_r = 0};
    IrValue *sum_in[] = {c2->out, r->out};
    IrNode *s = add_node(g, OP_ADD, NULL, NULL, 2, sum_in, L2);
    IrValue *pos = ir_add_param(g, "pos_embed", DT_F32, SH(4, 1, 8, 16, 16), L2);
    pos->init = "zeros";
    IrValue *pe_in[] = {s->out, pos};
    IrNode *pe = add_node(g, OP_ADD, NULL, NULL, 2, pe_in, loc_none());
    IrNode *p = add_node(g, OP_GLOBAL_AVGPOOL, NULL, NULL, 1, &pe->out, L2);
    IrNode *f = add_node(g, OP_FLATTEN, NULL, NULL, 1, &p->out, L2);
    IrNode *fc = add_with_params(g, OP_LINEAR, "fc", "out_features=10", f->out, L1);
    IrNode *sm = add_node(g, OP_SOFTMAX, NULL, "dim=-1", 1, &fc->out, L2);
    ir_add_output(g, "probs", sm->out);
    ir_add_output(g, "features", f->out);
    return g;
}

/* One node of every op, floats that are hard to print, names that need quotes. */
static IrGraph *every_op(void)
{
    IrGraph *g = ir_graph_new("every op \"quoted\"");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(4, 2, 4, 8, 8), loc_none());
    IrValue *seq = ir_add_input(g, "tokens", DT_F16, SH(3, 2, 6, 8), L1);
    IrValue *scalar = ir_add_input(g, "s", DT_F32, SH(0), loc_none());
    IrValue *odd = ir_add_param(g, "0", DT_F32, SH(1, 8), loc_none()); /* all digits */
    IrValue *odd2 = ir_add_param(g, "we\"ird key\n", DT_BF16, SH(1, 8), L2);
    odd2->init = "no\\rmal";

    IrNode *n = add_with_params(g, OP_CONV2D, "conv", "out_channels=8 kernel_size=[3,1] stride=[2,1] padding=[1,0] dilation=1 groups=4", x, L1);
    IrValue *h = n->out;
    IrValue *m = add_node(g, OP_MAXPOOL, NULL, "kernel_size=2 ceil_mode=true", 1, &h, L2)->out;
    add_node(g, OP_AVGPOOL, NULL, "kernel_size=3 stride=1 padding=1 count_include_pad=false", 1, &m, L2);
    add_node(g, OP_ADAPTIVE_AVGPOOL, NULL, "output_size=[2,1]", 1, &m, L2);
    IrValue *bn = add_with_params(g, OP_BATCHNORM, "bn", NULL, h, L1)->out;
    assert_true(ir_attr(bn->def, "eps")->f == 1e-5);
    static const OpKind acts[] = {OP_RELU, OP_RELU6, OP_GELU, OP_SILU, OP_SIGMOID, OP_HARDSWISH};
    IrValue *a = bn;
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++)
        a = add_node(g, acts[i], NULL, NULL, 1, &a, loc_none())->out;
    IrValue *gp = add_node(g, OP_GLOBAL_AVGPOOL, NULL, NULL, 1, &a, loc_none())->out;
    IrValue *fl = add_node(g, OP_FLATTEN, NULL, "start_dim=1 end_dim=-1", 1, &gp, loc_none())->out;
    IrValue *pair[] = {fl, odd};
    IrValue *sum = add_node(g, OP_ADD, NULL, NULL, 2, pair, loc_none())->out;
    IrValue *diff = add_node(g, OP_SUB, NULL, NULL, 2, pair, loc_none())->out;
    IrValue *b16 = add_node(g, OP_RELU, NULL, NULL, 1, &odd2, loc_none())->out; /* a bf16 result */
    add_node(g, OP_TOPK, "top", "k=3 dim=0 largest=false", 1, &b16, loc_none()); /* two results */
    pair[0] = sum, pair[1] = diff;
    IrValue *prod = add_node(g, OP_MUL, "mul \"x\"", NULL, 2, pair, loc_none())->out;
    pair[0] = prod, pair[1] = scalar;
    prod = add_node(g, OP_MUL, NULL, NULL, 2, pair, loc_none())->out;
    IrValue *lin = add_with_params(g, OP_LINEAR, "head.fc", "out_features=6 bias=false", prod, L1)->out;
    IrValue *dr = add_node(g, OP_DROPOUT, NULL, "p=0.1", 1, &lin, loc_none())->out;
    IrValue *q = add_node(g, OP_QUANTIZE, NULL, "bits=5 signed=true", 1, &dr, loc_none())->out;
    q->quant = arena_alloc(g->arena, sizeof *q->quant);
    *q->quant = (IrQuant){.bits = 5, .is_signed = true, .axis = 1,
                          .scale = ir_add_param(g, "q.scale", DT_F32, SH(1, 6), loc_none())};
    add_node(g, OP_DEQUANTIZE, NULL, NULL, 1, &q, loc_none());
    IrValue *qx = ir_add_input(g, "qx", DT_U8, SH(4, 2, 4, 8, 8), loc_none());
    qx->quant = int8_quant(g, "qx", false, 1);
    IrNode *qc = add_with_params(g, OP_QCONV2D, "qc", "out_channels=4 kernel_size=3 padding=1 bits=8 act=relu",
                                 qx, L1);
    assert_non_null(qc);
    qc->in[1]->quant = int8_quant(g, "qc.weight", true, 4);
    qc->out->quant = int8_quant(g, "qc.out", false, 1);
    IrNode *ql = add_with_params(g, OP_QLINEAR, "ql", "out_features=3 bias=false", qc->out, L1);
    ql->in[1]->quant = int8_quant(g, "ql.weight", true, 3);

    IrValue *ln = add_with_params(g, OP_LAYERNORM, "enc.ln", "eps=1e-6", seq, L1)->out;
    IrNode *att = add_with_params(g, OP_MHA, "enc.attn", "num_heads=2", ln, L1);
    IrValue *at = att->out;
    IrValue *t = add_node(g, OP_TRANSPOSE, NULL, "dim0=1 dim1=-1", 1, &at, loc_none())->out;
    pair[0] = at, pair[1] = t;
    IrValue *mm = add_node(g, OP_MATMUL, NULL, NULL, 2, pair, loc_none())->out;
    IrValue *bm = add_node(g, OP_BMM, NULL, NULL, 2, pair, loc_none())->out;
    IrValue *sm = add_node(g, OP_SOFTMAX, NULL, "dim=2", 1, &bm, loc_none())->out;
    IrValue *pm = add_node(g, OP_PERMUTE, NULL, "dims=[2,0,1]", 1, &sm, loc_none())->out;
    IrValue *rs = add_node(g, OP_RESHAPE, NULL, "shape=[-1,12]", 1, &pm, loc_none())->out;
    IrValue *ex = add_node(g, OP_EXPAND, NULL, "shape=[3,-1,12]", 1, &rs, loc_none())->out;
    IrValue *sl = add_node(g, OP_SLICE, NULL, "dim=1 start=-100 end=5 step=2", 1, &ex, loc_none())->out;
    IrValue *se = add_node(g, OP_SELECT, NULL, "dim=0 index=-1", 1, &sl, loc_none())->out;
    IrValue *three[] = {se, se, mm};
    IrValue *cat = add_node(g, OP_CONCAT, NULL, "dim=0", 2, three, loc_none())->out;
    (void)cat;

    /* annotation arguments of every kind and awkward values */
    IrAttr args[] = {
        {.kind = AK_FLOAT, .f = 0.1},
        {.key = "third", .kind = AK_FLOAT, .f = 1.0 / 3},
        {.key = "tiny", .kind = AK_FLOAT, .f = 5e-324},
        {.key = "big", .kind = AK_FLOAT, .f = DBL_MAX},
        {.key = "negzero", .kind = AK_FLOAT, .f = -0.0},
        {.key = "whole", .kind = AK_FLOAT, .f = 3.0},
        {.key = "e", .kind = AK_FLOAT, .f = 1e22},
        {.key = "inf", .kind = AK_FLOAT, .f = -INFINITY},
        {.key = "nan", .kind = AK_FLOAT, .f = NAN},
        {.key = "min", .kind = AK_INT, .i = INT64_MIN},
        {.key = "max", .kind = AK_INT, .i = INT64_MAX},
        {.key = "flag", .kind = AK_BOOL, .i = 0},
        {.key = "text", .kind = AK_STRING, .s = "tab\there \"q\" back\\slash\nnl \x01 caf\xc3\xa9"},
        {.key = "empty", .kind = AK_STRING, .s = ""},
        {.key = "list", .kind = AK_INTS, .n = 3, .ints = (int64_t[]){-1, 0, 7}},
        {.key = "none", .kind = AK_INTS, .n = 0, .ints = NULL},
        {.kind = AK_STRING, .s = "positional"},
    };
    annotate(g, att, "epitome", sizeof args / sizeof *args, args, L2);
    annotate(g, att, "weird name!", 0, NULL, L1);
    ir_add_output(g, "out", dr);
    ir_add_output(g, "2nd output", se);
    ir_add_output(g, "param", odd2);
    return g;
}

/* ---- round trips ---- */

static void test_print_format(void **state)
{
    IrGraph *g = ir_graph_new("mlp");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(2, 1, 4), L1);
    IrNode *fc = add_with_params(g, OP_LINEAR, "fc", "out_features=2", x, L2);
    IrAttr p[] = {{.kind = AK_INT, .i = 8}};
    annotate(g, fc, "precision", 1, p, L1);
    IrNode *d = add_node(g, OP_DROPOUT, NULL, NULL, 1, &fc->out, loc_none());
    ir_add_output(g, "y", d->out);
    char *text = print_text(g, NULL);
    assert_string_equal(text,
        "graph mlp {\n"
        "  input %x : f32[1, 4] loc(\"nets/small.net\":3:5:6)\n"
        "  param %fc.weight : f32[2, 4] loc(\"nets/small.net\":4:9)\n"
        "  param %fc.bias : f32[2] loc(\"nets/small.net\":4:9)\n"
        "  %0 : f32[1, 2] = linear(%x, %fc.weight, %fc.bias) {out_features = 2, bias = true} "
        "name(\"fc\") loc(\"nets/small.net\":4:9) @precision(8) loc(\"nets/small.net\":3:5:6)\n"
        "  %1 : f32[1, 2] = dropout(%0) {p = 0.5}\n"
        "  output y = %1\n"
        "}\n");
    free(text);
    ir_graph_free(g);
}

static void test_round_trip_small(void **state)
{
    IrGraph *g = small_net();
    assert_true(verify_quiet(g, NULL));
    IrGraph *h = round_trip(g);
    assert_true(verify_quiet(h, NULL));
    assert_int_equal(h->nnodes, g->nnodes);
    assert_int_equal(h->nparams, g->nparams);
    assert_int_equal(h->noutputs, 2);
    /* facts survive: names, attributes, annotations, init, locations */
    IrNode *c2 = h->nodes[3];
    assert_string_equal(c2->name, "block.conv");
    assert_int_equal(c2->nannot, 2);
    assert_string_equal(c2->annot[0].name, "prune");
    assert_string_equal(c2->annot[0].args[1].key, "granularity");
    assert_string_equal(c2->annot[0].args[1].s, "channel");
    assert_true(c2->annot[0].args[0].f == 0.5);
    assert_int_equal(c2->annot[0].loc.line, 4);
    assert_null(c2->annot[1].loc.file);
    assert_true(c2->annot[0].inherited);
    assert_false(c2->annot[1].inherited);
    /* typed requests survive with every field */
    assert_non_null(c2->req);
    assert_int_equal(c2->req->set, REQ_PRUNE | REQ_WEIGHT | REQ_ACT | REQ_EPITOME | REQ_PIM);
    assert_int_equal(c2->req->prune_kind, SP_BLOCK);
    assert_true(c2->req->prune_ratio == 0.25);
    assert_int_equal(c2->req->prune_block[1], 8);
    assert_int_equal(c2->req->weight.bits, 4);
    assert_false(c2->req->weight.is_float);
    assert_true(c2->req->act.is_float);
    assert_int_equal(c2->req->act.dtype, DT_BF16);
    assert_int_equal(c2->req->epitome[3], 2);
    assert_int_equal(c2->req->pim_tile, 3);
    assert_int_equal(c2->req->pim_crossbar, -1);
    assert_int_equal(c2->req->pim_replicas, 2);
    IrRequests *rq = h->nodes[2]->req;
    assert_non_null(rq);
    assert_int_equal(rq->set, REQ_PRUNE | REQ_TOME);
    assert_int_equal(rq->prune_n, 1);
    assert_int_equal(rq->prune_m, 8);
    assert_int_equal(rq->tome_r, 0);
    assert_null(h->nodes[0]->req);
    assert_null(h->nodes[0]->annot[0].args[0].key);
    assert_int_equal(h->nodes[0]->annot[0].args[0].i, 4);
    assert_string_equal(h->nodes[0]->loc.file, "nets/small.net");
    assert_int_equal(h->nodes[0]->loc.len, 6);
    assert_ptr_equal(h->nodes[0]->loc.file, h->inputs[0]->loc.file); /* interned */
    assert_string_equal(ir_find_param(h, "pos_embed")->init, "zeros");
    assert_null(ir_find_param(h, "stem.0.weight")->init);
    assert_ptr_equal(h->outputs[1].value, h->nodes[h->nnodes - 3]->out);
    assert_ptr_equal(h->nodes[5]->in[1], ir_find_param(h, "pos_embed"));
    /* bound data is not part of the text */
    ir_bind(ir_find_param(g, "fc.bias"), tensor_new(DT_F32, &(Shape){1, {10}}));
    char *t1 = print_text(g, NULL), *t2 = print_text(h, NULL);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    ir_graph_free(h);
    ir_graph_free(g);
}

static void test_round_trip_every_op(void **state)
{
    IrGraph *g = every_op();
    char *msg = NULL;
    if (!verify_quiet(g, &msg))
        fail_msg("%s", msg);
    free(msg);
    IrGraph *h = round_trip(g);
    assert_true(verify_quiet(h, NULL));
    char *text = print_text(h, NULL);
    for (int k = 0; k < OP__COUNT; k++) {
        char call[64];
        snprintf(call, sizeof call, "= %s(", op_info((OpKind)k)->name);
        if (!strstr(text, call))
            fail_msg("op %s missing from the dump", op_info((OpKind)k)->name);
    }
    assert_non_null(strstr(text, "graph \"every op \\\"quoted\\\"\" {"));
    assert_non_null(strstr(text, "param %\"0\" : f32[8]"));
    assert_non_null(strstr(text, "init(\"no\\\\rmal\")"));
    assert_non_null(strstr(text, "output \"2nd output\" = "));
    assert_non_null(strstr(text, "= mul(%"));
    assert_non_null(strstr(text, "name(\"mul \\\"x\\\"\")"));
    assert_non_null(strstr(text, "eps = 1e-06"));
    assert_non_null(strstr(text, "@epitome(0.1, third = 0.3333333333333333, tiny = 5e-324, "
                                 "big = 1.7976931348623157e+308, negzero = -0.0, whole = 3.0, "
                                 "e = 1e+22, inf = -inf, nan = nan, min = -9223372036854775808, "
                                 "max = 9223372036854775807, flag = false, "
                                 "text = \"tab\\there \\\"q\\\" back\\\\slash\\nnl \\x01 caf\xc3\xa9\", "
                                 "empty = \"\", list = [-1, 0, 7], none = [], \"positional\")"));
    assert_non_null(strstr(text, "@\"weird name!\""));
    free(text);

    /* the values themselves are identical, not just their text */
    IrNode *att = NULL;
    for (int i = 0; i < h->nnodes; i++)
        if (h->nodes[i]->op == OP_MHA)
            att = h->nodes[i];
    assert_non_null(att);
    const IrAttr *a = att->annot[0].args;
    assert_true(a[1].f == 1.0 / 3);
    assert_true(a[2].f == 5e-324);
    assert_true(a[3].f == DBL_MAX);
    assert_true(a[4].f == 0 && signbit(a[4].f));
    assert_int_equal(a[5].kind, AK_FLOAT);
    assert_true(isinf(a[7].f) && a[7].f < 0);
    assert_true(isnan(a[8].f));
    assert_int_equal(a[9].i, INT64_MIN);
    assert_int_equal(a[11].kind, AK_BOOL);
    assert_string_equal(a[12].s, "tab\there \"q\" back\\slash\nnl \x01 caf\xc3\xa9");
    assert_int_equal(a[15].kind, AK_INTS);
    assert_int_equal(a[15].n, 0);
    assert_null(a[16].key);
    assert_string_equal(ir_find_param(h, "we\"ird key\n")->init, "no\\rmal");
    assert_int_equal(ir_find_param(h, "we\"ird key\n")->dtype, DT_BF16);
    assert_int_equal(h->inputs[1]->dtype, DT_F16);
    assert_int_equal(h->inputs[2]->shape.rank, 0);
    ir_graph_free(h);
    ir_graph_free(g);
}

static void test_round_trip_empty_and_dtypes(void **state)
{
    IrGraph *g = ir_graph_new("empty");
    ir_graph_free(round_trip(g));
    ir_graph_free(g);

    /* result dtypes follow the op's dtype rule and the text keeps them */
    g = ir_graph_new("q");
    IrValue *x = ir_add_input(g, "x", DT_BF16, SH(1, 3), loc_none());
    IrNode *r = add_node(g, OP_RELU, NULL, NULL, 1, &x, loc_none());
    assert_int_equal(r->out->dtype, DT_BF16);
    IrValue *topk = add_node(g, OP_TOPK, NULL, "k=2", 1, &r->out, loc_none())->outs[1];
    assert_int_equal(topk->dtype, DT_I64);
    ir_add_output(g, "y", topk);
    IrGraph *h = round_trip(g);
    assert_int_equal(h->nodes[0]->out->dtype, DT_BF16);
    assert_int_equal(h->nodes[1]->nout, 2);
    assert_int_equal(h->outputs[0].value, h->nodes[1]->outs[1]);
    ir_graph_free(h);
    ir_graph_free(g);
}

static void test_parse_hand_written(void **state)
{
    /* comments, blank lines, other spacing, @a() with empty args, int for a float */
    const char *text = "# a comment\n"
                       "graph g{input %x:f32[2,3]#trailing\n\n"
                       "  %0:f32[2,3]=dropout(%x){p=1}@a() @b(k=-1.5e3)\n"
                       "output  y=%0}";
    Parsed p = parse_ok(text);
    assert_int_equal(p.g->nodes[0]->attr[0].kind, AK_INT);
    assert_true(ir_attr_float(p.g->nodes[0], "p") == 1.0);
    assert_int_equal(p.g->nodes[0]->nannot, 2);
    assert_int_equal(p.g->nodes[0]->annot[0].nargs, 0);
    assert_true(p.g->nodes[0]->annot[1].args[0].f == -1500.0);
    parsed_free(&p);
}

/* ---- parse errors ---- */

static void test_parse_errors(void **state)
{
    static const ParseCase cases[] = {
        {"", "t.ir:1:1: error: expected 'graph', found end of input"},
        {"net g {}", "t.ir:1:1: error: expected 'graph', found 'net'"},
        {"graph {", "t.ir:1:7: error: expected a graph name, found '{'"},
        {"graph g {", "t.ir:1:10: error: expected 'input', 'param', a node, 'output' or '}', found end of input"},
        {"graph g {\n  input %x : f33[1]\n}", "t.ir:2:14: error: unknown dtype 'f33'"},
        {"graph g { input %x : f32[1, -2] }", "1:29: error: a dimension size must be between 0 and"},
        {"graph g { input %x : f32[1,1,1,1,1,1,1,1,1] }", "1:42: error: more than 8 dimensions"},
        {"graph g { input %x : f32[1 }", "expected ']', found '}'"},
        {"graph g { input %0 : f32[1] }", "1:17: error: '%0' is a node number; inputs and parameters need names"},
        {"graph g { input %x : f32[1] input %x : f32[2] }", "1:35: error: redefinition of '%x'"},
        {"graph g { input %x : f32[1] param %x : f32[2] }", "redefinition of '%x'"},
        {"graph g { %0 : f32[1] = relu(%x) }", "1:30: error: use of undefined value '%x'"},
        {"graph g { input %x : f32[1]\n %1 : f32[1] = relu(%x) }", "2:2: error: expected %0 here (results are numbered in order), found '%1'"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relux(%x) }", "1:43: error: unknown operator 'relux'"},
        {"graph g { input %x : f32[1] %0 : f32[2] = relu(%x) }", "1:29: error: %0 is declared f32[2] but relu gives f32[1]"},
        {"graph g { input %x : f32[3] %0 : i8[3] = relu(%x) }", "1:29: error: %0 is declared i8[3] but relu gives f32[3]"},
        {"graph g { input %x : i8[3] %0 : i8[3] = relu(%x) }", "relu takes floating-point tensors, input 1 is i8"},
        {"graph g { input %x : f32[3] input %y : f16[3] %0 : f32[3] = add(%x, %y) }", "input 2 is f16 but input 1 is f32"},
        {"graph g { input %x : f32[3] %0 : f32[2] = topk(%x) {k = 2, dim = 0, largest = true, sorted = true} }", "topk has 2 results, 1 declared"},
        {"graph g { input %x : f32[3] %0 : f32[2], %2 : i64[2] = topk(%x) {k = 2, dim = 0, largest = true, sorted = true} }", "expected %1 here (results are numbered in order), found '%2'"},
        {"graph g { input %x : f32[1] %0 : f32[1] = conv2d(%x) }", "1:43: error: conv2d: missing attribute 'out_channels'"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) {p = 1} }", "relu: unknown attribute 'p'"},
        {"graph g { input %x : f32[1] %0 : f32[1] = add(%x) }", "add: expects 2 inputs, got 1"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x, %0) }", "use of undefined value '%0'"},
        {"graph g { input %x : f32[1] %0 : f32[1] = dropout(%x) {p = [1.5]} }", "only lists of ints are supported"},
        {"graph g { input %x : f32[1] %0 : f32[1] = dropout(%x) {p = } }", "expected a value, found '}'"},
        {"graph g { input %x : f32[1] %0 : f32[1] = dropout(%x) {0.5} }", "expected an attribute name, found '0.5'"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) @p(\"x) }", "1:55: error: unterminated string"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) req( @custom ) }", "1:57: error: req: @custom makes no request"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) req( @tome(r = -1) ) }", "1:57: error: req: @tome r must be an int >= 0"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) req( @tome(r = 1) }", "expected ')', found '}'"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) @p(\"\\q\") }", "1:56: error: unknown escape sequence in string"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) @p(\"\\x0\") }", "\\x needs two hex digits"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) @p(\"\\x00\") }", "strings cannot contain \\x00"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) @p(99999999999999999999) }", "1:55: error: integer out of range"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) @p(-9223372036854775809) }", "integer out of range"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) @p(1.2.3) }", "malformed number"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) @p(12abc) }", "malformed number"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) @p(-) }", "unexpected character '-'"},
        {"graph g { input %x : f32[1] loc(\"f\":0:1) }", "a line number must be between 1 and"},
        {"graph g { input %x : f32[1] loc(\"f\":1) }", "expected ':', found ')'"},
        {"graph g { input %x : f32[1] loc(f) }", "expected a file name string, found 'f'"},
        {"graph g { param %p : f32[1] init(zeros) }", "expected an init name string, found 'zeros'"},
        {"graph g { input %x : f32[1] output y = %z }", "1:40: error: use of undefined value '%z'"},
        {"graph g { output = %z }", "expected an output name, found '='"},
        {"graph g { input % : f32[1] }", "expected a value name after '%'"},
        {"graph g { input %x : f32[1] $ }", "1:29: error: unexpected character '$'"},
        {"graph g { } extra", "1:13: error: expected end of input after the graph, found 'extra'"},
        {"graph g { input %x : f32[1] %0 : f32[1] = relu(%x) name(x) }", "expected an instance name string, found 'x'"},
        {"graph g { input %x : f32[2, 3] %0 : f32[2, 3] = softmax(%x) {dim = 2} }", "softmax: dim 2 is out of range for [2, 3] (expected -2..1)"},
    };
    check_parse_errors(cases, sizeof cases / sizeof *cases);
}

static void test_parse_binary_junk(void **state)
{
    /* an embedded NUL, a stray high byte, a NULL text, and text that is not
     * NUL-terminated where len ends */
    static const char nul[] = "graph g { input %x : f32[1] \0 }";
    Parsed p = parse_text(nul, sizeof nul - 1);
    assert_null(p.g);
    assert_non_null(strstr(p.messages, "1:29: error: unexpected byte 0x00"));
    parsed_free(&p);
    p = parse_text("graph \xff", 7);
    assert_non_null(strstr(p.messages, "unexpected byte 0xff"));
    parsed_free(&p);
    p = parse_text(NULL, 5);
    assert_null(p.g);
    assert_int_equal(p.errors, 1);
    parsed_free(&p);
    char buf[] = {'g', 'r', 'a', 'p', 'h', ' ', 'g', ' ', '{', '}', '"'};
    p = parse_text(buf, 10);
    assert_non_null(p.g);
    parsed_free(&p);
    p = parse_text(buf, 11);
    assert_non_null(strstr(p.messages, "unterminated string"));
    parsed_free(&p);
}

static void test_parse_truncated_and_mutated(void **state)
{
    IrGraph *g = every_op();
    check_truncated_and_mutated(g);
    ir_graph_free(g);
}

/* ---- verifier ---- */

static void test_verify_corruptions(void **state)
{
    IrGraph *g = small_net();
    char *msg = NULL;
    assert_true(verify_quiet(g, &msg));
    assert_string_equal(msg, "");
    free(msg);

    /* a stored shape that disagrees with the rule, reported at the node */
    g->nodes[3]->out->shape.d[1] = 7;
    expect_verify_error(g, "nets/small.net:3:5: error: ir: 'block.conv' (conv2d): stored shape "
                           "[1, 7, 16, 16] of result 1 differs from the inferred [1, 8, 16, 16]");
    g->nodes[3]->out->shape.d[1] = 8;
    assert_true(verify_quiet(g, NULL));

    /* a result stored with a dtype its op does not give */
    g->nodes[1]->out->dtype = DT_I8;
    expect_verify_error(g, "'stem.1' (batchnorm): result 1 is stored as i8 but the op gives f32");
    g->nodes[1]->out->dtype = DT_F32;

    /* a rewrite that bypassed the API: the input changed, the use lists did not */
    IrValue *was = g->nodes[2]->in[0];
    g->nodes[2]->in[0] = g->inputs[0];
    expect_verify_error(g, "(relu): input 1 is missing from the use list of the value it reads");
    expect_verify_error(g, "a use names input 1 of relu, which reads another value");
    g->nodes[2]->in[0] = was;

    /* a removed node still read: its result is no longer defined */
    IrNode *removed = g->nodes[1];
    memmove(g->nodes + 1, g->nodes + 2, (size_t)(g->nnodes - 2) * sizeof *g->nodes);
    g->nnodes--;
    expect_verify_error(g, "input 1 is not defined before this node");
    expect_verify_error(g, "a use names a node that is not in the graph");
    g->nnodes++;
    memmove(g->nodes + 2, g->nodes + 1, (size_t)(g->nnodes - 2) * sizeof *g->nodes);
    g->nodes[1] = removed;
    assert_true(verify_quiet(g, NULL));

    /* a cycle: node 1 reads node 2's result, which reads node 1's (made
     * through the API, so only the order is wrong) */
    IrValue *first = g->nodes[1]->in[0];
    ir_set_input(g, g->nodes[1], 0, g->nodes[2]->out);
    expect_verify_error(g, "'stem.1' (batchnorm): input 1 is not defined before this node");
    ir_set_input(g, g->nodes[1], 0, first);
    assert_true(verify_quiet(g, NULL));

    /* splicing a node in through the API: its readers are rerouted, it
     * keeps reading the original, and the graph verifies */
    IrValue *src = g->nodes[1]->out;
    int readers = src->nuses;
    IrNode *spliced = ir_insert_node(g, 2, OP_RELU, NULL, 1, &src, 0, NULL, loc_none(), NULL, 0);
    assert_non_null(spliced);
    assert_int_equal(ir_replace_uses_except(g, src, spliced->out, spliced), readers);
    assert_int_equal(src->nuses, 1);
    assert_ptr_equal(src->uses[0].user, spliced);
    assert_int_equal(spliced->out->nuses, readers);
    assert_true(verify_quiet(g, NULL));
    assert_int_equal(ir_replace_uses(g, spliced->out, src), readers);
    assert_true(ir_remove_node(g, spliced));
    assert_true(verify_quiet(g, NULL));

    /* a use left pointing at a removed node is caught even when compaction
     * gave its id to a live node */
    IrNode *gone = ir_insert_node(g, g->nnodes, OP_RELU, NULL, 1, &src, 0, NULL, loc_none(), NULL, 0);
    assert_true(ir_remove_node(g, gone));
    ir_compact(g);
    gone->id = g->nodes[0]->id;
    ir_use_add(g, gone, 0);
    expect_verify_error(g, "a use names a node that is not in the graph");
    src->nuses--;
    assert_true(verify_quiet(g, NULL));

    /* use before definition: swap two dependent nodes */
    IrNode *t = g->nodes[1];
    g->nodes[1] = g->nodes[2], g->nodes[2] = t;
    expect_verify_error(g, "%1 (relu): input 1 is not defined before this node");
    g->nodes[2] = g->nodes[1], g->nodes[1] = t;

    /* an attribute of the wrong kind, and a missing one */
    IrAttr saved = g->nodes[0]->attr[0];
    g->nodes[0]->attr[0].kind = AK_FLOAT;
    expect_verify_error(g, "'stem.0' (conv2d): conv2d: attribute 'out_channels' must be an int");
    g->nodes[0]->attr[0] = saved;
    g->nodes[0]->nattr--;
    expect_verify_error(g, "conv2d: missing attribute 'bias'");
    g->nodes[0]->nattr++;

    /* a parameter input of the wrong shape */
    IrValue *w = g->nodes[0]->in[1];
    w->shape.d[0] = 9;
    expect_verify_error(g, "conv2d: weight has 9 output channels but out_channels = 8");
    w->shape.d[0] = 8;

    /* duplicate parameter keys */
    const char *key = g->params[1]->name;
    g->params[1]->name = g->params[0]->name;
    expect_verify_error(g, "parameter key 'stem.0.weight' is not unique");
    g->params[1]->name = key;

    /* bound data that does not match its declaration */
    IrValue *bias = ir_find_param(g, "fc.bias");
    ir_bind(bias, tensor_new(DT_F32, &(Shape){1, {11}}));
    expect_verify_error(g, "parameter 'fc.bias' is f32[10] but bound to f32[11] data");
    ir_bind(bias, tensor_new(DT_F32, &(Shape){1, {10}}));

    /* an output naming a value of another graph; a node using one */
    IrGraph *other = ir_graph_new("other");
    IrValue *foreign = ir_add_input(other, "z", DT_F32, SH(1, 1), loc_none());
    IrValue *keep = g->outputs[0].value;
    g->outputs[0].value = foreign;
    expect_verify_error(g, "output 'probs' names a value that is not defined in the graph");
    g->outputs[0].value = keep;
    IrValue *in0 = g->nodes[2]->in[0];
    g->nodes[2]->in[0] = foreign;
    expect_verify_error(g, "%2 (relu): input 1 is not defined before this node");
    g->nodes[2]->in[0] = in0;

    /* a result that does not point back, and an unknown op kind */
    g->nodes[4]->out->def = g->nodes[5];
    expect_verify_error(g, "%4 (add): result 1 does not point back to its node");
    g->nodes[4]->out->def = g->nodes[4];
    OpKind op = g->nodes[2]->op;
    g->nodes[2]->op = (OpKind)77;
    expect_verify_error(g, "node %2 has invalid operator kind 77");
    g->nodes[2]->op = op;

    /* several problems are all reported */
    g->nodes[3]->out->shape.d[1] = 7;
    g->params[1]->name = g->params[0]->name;
    Captured c;
    cap_open(&c);
    assert_false(ir_verify(g, c.d));
    assert_true(diag_errors(c.d) >= 2);
    cap_close(&c);
    g->nodes[3]->out->shape.d[1] = 8;
    g->params[1]->name = key;
    assert_true(verify_quiet(g, NULL));

    ir_graph_free(other);
    ir_graph_free(g);
}

/* ---- stats ---- */

static void test_stats(void **state)
{
    /* x[1,4] -> fc1 -> relu -> fc2, fc2 again (shared weights) -> add */
    IrGraph *g = ir_graph_new("s");
    IrValue *x = ir_add_input(g, "x", DT_F32, SH(2, 1, 4), loc_none());
    IrNode *h = add_with_params(g, OP_LINEAR, "fc1", "out_features=8", x, loc_none());
    IrNode *r = add_node(g, OP_RELU, NULL, NULL, 1, &h->out, loc_none());
    IrNode *a = add_with_params(g, OP_LINEAR, "fc2", "out_features=2", r->out, loc_none());
    IrValue *shared[] = {r->out, ir_find_param(g, "fc2.weight"), ir_find_param(g, "fc2.bias")};
    IrNode *b = add_node(g, OP_LINEAR, "fc2_again", "out_features=2", 3, shared, loc_none());
    IrValue *ab[] = {a->out, b->out};
    IrNode *s = add_node(g, OP_ADD, NULL, NULL, 2, ab, loc_none());
    ir_add_output(g, "y", s->out);

    IrStats st = ir_stats(g, NULL);
    assert_int_equal(st.params, 32 + 8 + 16 + 2);
    assert_int_equal(st.macs, 32 + 16 + 16);
    assert_int_equal(st.activation_bytes, 32 + 32 + 8 + 8 + 8);
    /* live: x 16; +fc1 48 (x freed: 32); +relu 64 (fc1 freed: 32); +fc2 40;
     * +fc2_again 48 (relu freed: 16); +add 24 */
    assert_int_equal(st.peak_activation_bytes, 64);
    assert_int_equal(st.model_bytes, 58 * 4);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ir_stats(g, f);
    fclose(f);
    assert_string_equal(text,
        "layer      op      output     params  W bits  MACs  activation bytes\n"
        "--------------------------------------------------------------------\n"
        "fc1        linear  f32[1, 8]      40     f32    32                32\n"
        "relu#1     relu    f32[1, 8]       -       -     -                32\n"
        "fc2        linear  f32[1, 2]      18     f32    16                 8\n"
        "fc2_again  linear  f32[1, 2]       -     f32    16                 8\n"
        "add#4      add     f32[1, 2]       -       -     -                 8\n"
        "\n"
        "total parameters:       58\n"
        "model size:             232 bytes (0.00 MiB)\n"
        "total MACs:             64 (0.00 GMACs)\n"
        "activation bytes:       88 (0.00 MiB)\n"
        "peak activation memory: 64 (0.00 MiB)\n");
    free(text);

    /* an unused input is live only at the start; dead results are freed at once */
    IrGraph *g2 = ir_graph_new("d");
    IrValue *big = ir_add_input(g2, "big", DT_F32, SH(1, 100), loc_none());
    IrValue *y = ir_add_input(g2, "y", DT_F16, SH(1, 10), loc_none());
    add_node(g2, OP_RELU, NULL, NULL, 1, &y, loc_none());
    IrNode *z = add_node(g2, OP_RELU, NULL, NULL, 1, &y, loc_none());
    ir_add_output(g2, "z", z->out);
    (void)big;
    st = ir_stats(g2, NULL);
    assert_int_equal(st.peak_activation_bytes, 420); /* big 400 + y 20 at the start */
    assert_int_equal(st.activation_bytes, 40);        /* two f16[1, 10] results */
    assert_int_equal(st.params, 0);
    ir_graph_free(g2);
    ir_graph_free(g);
}

/* ---- dot ---- */

static void test_dot(void **state)
{
    IrGraph *g = small_net();
    g->name = "sm\"all";
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ir_print_dot(g, f);
    fclose(f);
    assert_true(strncmp(text, "digraph \"sm\\\"all\" {\n", 20) == 0);
    assert_non_null(strstr(text, "in0 [shape=invhouse"));
    assert_non_null(strstr(text, "label=\"input image\\nf32[1, 3, 16, 16]\"]"));
    assert_non_null(strstr(text, "n0 [label=\"conv2d stem.0\\nf32[1, 8, 16, 16]\\nweight [8, 3, 3, 3]\\n@precision\"];"));
    assert_non_null(strstr(text, "\\nweight [10, 8]\\nbias [10]"));
    assert_non_null(strstr(text, "n1 [label=\"batchnorm stem.1\\nf32[1, 8, 16, 16]\\n"
                                 "weight, bias, running_mean, running_var [8]\"];"));
    /* a free parameter keeps its full key; params are not nodes or edges */
    assert_non_null(strstr(text, "\\npos_embed [1, 8, 16, 16]"));
    assert_non_null(strstr(text, "in0 -> n0;"));
    assert_non_null(strstr(text, "n3 -> n4;"));
    assert_non_null(strstr(text, "n2 -> n4;"));
    assert_non_null(strstr(text, "out0 [shape=house"));
    assert_non_null(strstr(text, "n9 -> out0;"));
    assert_non_null(strstr(text, "n7 -> out1;"));
    int arrows = 0;
    for (const char *p = text; (p = strstr(p, "->")); p++)
        arrows++;
    assert_int_equal(arrows, 13); /* 11 data edges + 2 outputs */
    assert_true(text[len - 2] == '}');
    free(text);
    ir_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_format),
        cmocka_unit_test(test_round_trip_small),
        cmocka_unit_test(test_round_trip_every_op),
        cmocka_unit_test(test_round_trip_empty_and_dtypes),
        cmocka_unit_test(test_parse_hand_written),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_binary_junk),
        cmocka_unit_test(test_parse_truncated_and_mutated),
        cmocka_unit_test(test_verify_corruptions),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_dot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
