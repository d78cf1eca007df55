/*
 * test_annotations.c — passes/annotations.c on small nets elaborated from
 * text: which annotations the front end marks inherited, the typed
 * requests each node ends up with (defaults, what a node without weights
 * keeps, precedence between statement, block and call), the errors, and
 * that the pass gives the same requests again on its own output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../frontend/elab.h"
#include "../../passes/annotations.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Result {
    Arena *arena;  /* the elaboration's: locations point into it */
    IrGraph *g;
    bool ok;        /* the pass succeeded */
    char *messages; /* everything elaboration and the pass printed */
} Result;

/* Elaborates text as main.net, then runs the pass on it. */
static Result run(const char *text)
{
    Result r = {0};
    const char *path = tmp_path("main.net");
    write_bytes(path, text, strlen(text));
    Captured c;
    cap_open(&c);
    Arena *a = arena_new();
    r.g = elab_file(a, c.d, path, NULL);
    if (!r.g)
        fail_msg("elaboration failed:\n%s", cap_text(&c));
    r.ok = pass_annotations(r.g, c.d);
    r.messages = cap_finish(&c);
    r.arena = a;
    return r;
}

static void result_free(Result *r)
{
    ir_graph_free(r->g);
    free(r->messages);
    arena_free(r->arena);
}

static IrNode *node(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->name && !strcmp(g->nodes[i]->name, name))
            return g->nodes[i];
    fail_msg("no node '%s'", name);
    return NULL;
}

static IrNode *node_of_op(const IrGraph *g, OpKind op)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->op == op)
            return g->nodes[i];
    fail_msg("no node of op %s", op_info(op)->name);
    return NULL;
}

static const IrAnnot *annot(const IrNode *n, const char *name)
{
    for (int i = 0; i < n->nannot; i++)
        if (!strcmp(n->annot[i].name, name))
            return &n->annot[i];
    fail_msg("'%s' has no @%s", n->name, name);
    return NULL;
}

static void test_inherited_marks(void **state)
{
    Result r = run("@pim(tile = 1)\n"
                   "block B(x: tensor) {\n"
                   "  @precision(4) fc = linear(x, 8);\n"
                   "  return relu(fc);\n"
                   "}\n"
                   "@tome(r = 0)\n"
                   "net m() {\n"
                   "  in x: f32[1, 8];\n"
                   "  @prune(ratio = 0.5) b = B(gelu(x));\n"
                   "  @custom s = seq(b) { linear(_, 8); };\n"
                   "  out y = s;\n"
                   "}\n");
    IrNode *fc = node(r.g, "b.fc"), *gelu = node_of_op(r.g, OP_GELU), *s0 = node(r.g, "s.0");
    assert_false(annot(fc, "precision")->inherited); /* its own statement */
    assert_true(annot(fc, "pim")->inherited);        /* the block definition */
    assert_true(annot(fc, "prune")->inherited);      /* the call */
    assert_true(annot(fc, "tome")->inherited);       /* the net */
    assert_false(annot(gelu, "prune")->inherited);   /* an argument of the call: the call's own node */
    assert_true(annot(s0, "custom")->inherited);     /* a layer of the seq */
    result_free(&r);
}

/* The annotations.net case: @prune on a block call lands on the linears. */
static void test_block_call_prune(void **state)
{
    Result r = run("block Mlp(x: tensor) {\n"
                   "  fc1 = linear(x, 32);\n"
                   "  @precision(\"bf16\") fc2 = linear(gelu(fc1), 16);\n"
                   "  return fc2;\n"
                   "}\n"
                   "net m() {\n"
                   "  in x: f32[1, 16];\n"
                   "  @prune(ratio = 0.5, granularity = \"channel\") @custom(1) mlp = Mlp(x);\n"
                   "  out y = mlp;\n"
                   "}\n");
    assert_true(r.ok);
    assert_string_equal(r.messages, "");
    IrRequests *q1 = node(r.g, "mlp.fc1")->req, *q2 = node(r.g, "mlp.fc2")->req;
    assert_non_null(q1);
    assert_int_equal(q1->set, REQ_PRUNE);
    assert_true(q1->prune_ratio == 0.5);
    assert_int_equal(q1->prune_kind, SP_CHANNEL);
    assert_int_equal(q2->set, REQ_PRUNE | REQ_WEIGHT | REQ_ACT);
    assert_true(q2->weight.is_float && q2->weight.dtype == DT_BF16 && q2->weight.bits == 16);
    /* gelu has no weights: of all three only the activation precision */
    IrRequests *qg = node_of_op(r.g, OP_GELU)->req;
    assert_non_null(qg);
    assert_int_equal(qg->set, REQ_ACT);
    assert_int_equal(qg->act.dtype, DT_BF16);
    result_free(&r);
}

static void test_defaults(void **state)
{
    Result r = run("net m() {\n"
                   "  in x: f32[1, 3, 8, 8];\n"
                   "  @prune(ratio = 0.25) a = conv2d(x, 8, 3, padding = 1);\n"
                   "  @prune(granularity = \"nm\") b = conv2d(a, 8, 3, padding = 1);\n"
                   "  @prune(granularity = \"nm\", n = 1, m = 8) c = conv2d(b, 8, 3, padding = 1);\n"
                   "  @prune(ratio = 0.5, granularity = \"block\", block = [4, 2]) d = conv2d(c, 8, 3);\n"
                   "  @epitome(shape = [4, 8, 2, 2]) @pim e = conv2d(d, 8, 3);\n"
                   "  @pim(crossbar = 3, replicas = 2) f = conv2d(e, 8, 1);\n"
                   "  out y = f;\n"
                   "}\n");
    assert_true(r.ok);
    IrRequests *a = node(r.g, "a")->req, *b = node(r.g, "b")->req, *c = node(r.g, "c")->req;
    IrRequests *d = node(r.g, "d")->req, *e = node(r.g, "e")->req, *f = node(r.g, "f")->req;
    assert_int_equal(a->prune_kind, SP_ELEMENT);
    assert_true(a->prune_ratio == 0.25);
    assert_int_equal(b->prune_kind, SP_NM);
    assert_int_equal(b->prune_n, 2);
    assert_int_equal(b->prune_m, 4);
    assert_true(b->prune_ratio == 0.5);
    assert_true(c->prune_ratio == 0.875);
    assert_int_equal(d->prune_block[0], 4);
    assert_int_equal(d->prune_block[1], 2);
    assert_int_equal(e->set, REQ_EPITOME | REQ_PIM);
    assert_int_equal(e->epitome[0], 4);
    assert_int_equal(e->epitome[3], 2);
    assert_int_equal(e->pim_tile, -1);
    assert_int_equal(e->pim_crossbar, -1);
    assert_int_equal(e->pim_replicas, 0);
    assert_int_equal(f->pim_crossbar, 3);
    assert_int_equal(f->pim_replicas, 2);
    result_free(&r);
}

/* Statement over block definition over call site; precision by field. */
static void test_precedence(void **state)
{
    Result r = run("@prune(ratio = 0.5)\n"
                   "block B(x: tensor) {\n"
                   "  a = linear(x, 8);\n"
                   "  @prune(ratio = 0.75) @precision(weight = 4) b = linear(a, 8);\n"
                   "  return b;\n"
                   "}\n"
                   "net m() {\n"
                   "  in x: f32[1, 8];\n"
                   "  @prune(ratio = 0.25) @precision(8) blk = B(x);\n"
                   "  @prune(ratio = 0.1) for i in 0..1 { \"c{i}\" = linear(blk, 8); }\n"
                   "  out y = blk;\n"
                   "}\n");
    assert_true(r.ok);
    IrRequests *a = node(r.g, "blk.a")->req, *b = node(r.g, "blk.b")->req, *c = node(r.g, "c0")->req;
    assert_true(a->prune_ratio == 0.5);   /* the block's own beats the call's */
    assert_true(b->prune_ratio == 0.75);  /* the statement's beats both */
    assert_int_equal(b->weight.bits, 4);  /* direct weight precision ... */
    assert_int_equal(b->act.bits, 8);     /* ... the call's activation precision stays */
    assert_int_equal(a->weight.bits, 8);
    assert_true(c->prune_ratio == 0.1);   /* from the loop, inherited */
    result_free(&r);
}

static void test_tome_on_encoder_block(void **state)
{
    Result r = run("@tome(r = 8)\n"
                   "block Enc(x: tensor) {\n"
                   "  ln1 = layernorm(x);\n"
                   "  att = mha(ln1, 3);\n"
                   "  h = x + att;\n"
                   "  ln2 = layernorm(h);\n"
                   "  fc1 = linear(ln2, 48);\n"
                   "  fc2 = linear(gelu(fc1), 12);\n"
                   "  return h + fc2;\n"
                   "}\n"
                   "net m() {\n"
                   "  in x: f32[1, 5, 12];\n"
                   "  e = Enc(x);\n"
                   "  out y = e;\n"
                   "}\n");
    assert_true(r.ok);
    for (int i = 0; i < r.g->nnodes; i++) {
        IrNode *n = r.g->nodes[i];
        if (n->op == OP_MHA) {
            assert_non_null(n->req);
            assert_int_equal(n->req->tome_r, 8);
        } else {
            assert_null(n->req);
        }
    }
    result_free(&r);
}

static void test_errors(void **state)
{
    Result r = run("net m() {\n"
                   "  in x: f32[1, 4, 8];\n"
                   "  @prune(ratio = 0.5) g = gelu(x);\n"
                   "  @precision(1) a = linear(g, 8);\n"
                   "  @tome(r = 1) @tome(r = 2) t = mha(a, 2);\n"
                   "  out y = t;\n"
                   "}\n");
    assert_false(r.ok);
    assert_non_null(strstr(r.messages, "main.net:3:3: error: @prune cannot apply to 'g' (gelu has no weights)"));
    assert_non_null(strstr(r.messages, "main.net:3:27: note: 'g' is created here"));
    assert_non_null(strstr(r.messages, "main.net:4:3: error: @precision bits must be a bit width 2..16"));
    assert_non_null(strstr(r.messages, "main.net:5:16: error: 't' is asked for token merging twice"));
    result_free(&r);
}

/* A bad argument of a block called in a loop is reported once. */
static void test_reported_once(void **state)
{
    Result r = run("@prune(ratio = 1.5)\n"
                   "block L(x: tensor) { return linear(x, 8); }\n"
                   "net m() {\n"
                   "  in x: f32[1, 8];\n"
                   "  h = x;\n"
                   "  for i in 0..3 { \"l{i}\" = L(h); }\n"
                   "  out y = h;\n"
                   "}\n");
    assert_false(r.ok);
    const char *first = strstr(r.messages, "error: @prune ratio");
    assert_non_null(first);
    assert_null(strstr(first + 1, "error:"));
    result_free(&r);
}

/* The pass rebuilds requests from the annotations: again on its own
 * output, and on the text IR read back, it gives the same. */
static void test_idempotent_and_text(void **state)
{
    Result r = run("@pim(tile = 2)\n"
                   "block B(x: tensor) { @precision(act = 6) fc = linear(x, 8); return relu(fc); }\n"
                   "net m() {\n"
                   "  in x: f32[1, 8];\n"
                   "  @prune(granularity = \"nm\", n = 1, m = 4) b = B(x);\n"
                   "  out y = b;\n"
                   "}\n");
    assert_true(r.ok);
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *f = open_memstream(&t1, &n1);
    ir_print(r.g, f);
    fclose(f);
    assert_non_null(strstr(t1, "req( @prune(granularity = \"nm\", n = 1, m = 4) @precision(act = 6) @pim(tile = 2) )"));
    Captured c;
    cap_open(&c);
    IrGraph *h = ir_parse("t.ir", t1, n1, c.d);
    assert_non_null(h);
    if (!pass_annotations(h, c.d) || !pass_annotations(h, c.d))
        fail_msg("%s\n--- on:\n%s", cap_text(&c), t1);
    cap_close(&c);
    f = open_memstream(&t2, &n2);
    ir_print(h, f);
    fclose(f);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    ir_graph_free(h);
    result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inherited_marks),
        cmocka_unit_test(test_block_call_prune),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_tome_on_encoder_block),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_reported_once),
        cmocka_unit_test(test_idempotent_and_text),
    };
    return cmocka_run_group_tests(tests, test_dir_setup, test_dir_teardown);
}
