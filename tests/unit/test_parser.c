/*
 * test_parser.c — the lexer and parser (frontend/lexer.l, frontend/parser.y).
 *
 * Three groups: realistic snippets whose tree is checked field by field (and
 * expressions through a small S-expression printer, so precedence reads at a
 * glance); typical mistakes whose first diagnostic line is checked exactly;
 * and robustness — every prefix of a real program, mutated examples and
 * random bytes must give NULL or a tree, never a crash or a hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../frontend/ast.h"
#include "test_util.h"

/* One parse with its diagnostics captured in memory. */
typedef struct Run {
    Arena *arena;
    Captured cap; /* cap.text: the diagnostics */
    AstFile *file;
} Run;

static Run *run_bytes(const char *text, size_t len)
{
    Run *r = calloc(1, sizeof *r);
    r->arena = arena_new();
    cap_open(&r->cap);
    diag_add_source(r->cap.d, "t.net", text, len);
    r->file = ast_parse(r->arena, r->cap.d, "t.net", text, len);
    cap_text(&r->cap); /* flushes: cap.text now holds every message */
    return r;
}

static Run *run(const char *text) { return run_bytes(text, strlen(text)); }

static void run_free(Run *r)
{
    cap_close(&r->cap);
    arena_free(r->arena);
    free(r);
}

/* The first line of the diagnostics, in a static buffer. */
static const char *first_error(const Run *r)
{
    static char line[512];
    const char *m = r->cap.text ? r->cap.text : "";
    size_t n = strcspn(m, "\n");
    snprintf(line, sizeof line, "%.*s", (int)n, m);
    return line;
}

/* Parses text that must be valid, failing the test with the messages if not. */
static Run *ok(const char *text)
{
    Run *r = run(text);
    if (!r->file)
        fail_msg("unexpected parse failure:\n%s", r->cap.text);
    return r;
}

/* ---- An S-expression view of expressions ---- */

typedef struct Buf {
    char s[4096];
    size_t n;
} Buf;

static void put(Buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (b->n < sizeof b->s)
        b->n += (size_t)vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
}

static const char *op_name(AstOp op)
{
    static const char *const names[] = {"neg", "!", "+", "-", "*", "/", "%", "==", "!=",
                                        "<", "<=", ">", ">=", "&&", "||"};
    return names[op];
}

static void put_expr(Buf *b, const AstExpr *e);

static void put_args(Buf *b, AstArgs args)
{
    for (int i = 0; i < args.n; i++) {
        put(b, " ");
        if (args.items[i].key)
            put(b, "%s=", args.items[i].key);
        put_expr(b, args.items[i].value);
    }
}

static void put_expr(Buf *b, const AstExpr *e)
{
    switch (e->kind) {
    case E_INT: put(b, "%lld", e->u.ival); break;
    case E_FLOAT: put(b, "%g", e->u.fval); break;
    case E_BOOL: put(b, e->u.bval ? "true" : "false"); break;
    case E_STRING: put(b, "\"%s\"", e->u.sval); break;
    case E_NAME: put(b, "%s", e->u.name); break;
    case E_LIST:
        put(b, "[");
        for (int i = 0; i < e->u.list.n; i++) {
            put(b, i ? " " : "");
            put_expr(b, e->u.list.items[i]);
        }
        put(b, "]");
        break;
    case E_UNARY:
        put(b, "(%s ", op_name(e->u.op.op));
        put_expr(b, e->u.op.a);
        put(b, ")");
        break;
    case E_BINARY:
        put(b, "(%s ", op_name(e->u.op.op));
        put_expr(b, e->u.op.a);
        put(b, " ");
        put_expr(b, e->u.op.b);
        put(b, ")");
        break;
    case E_TERNARY:
        put(b, "(? ");
        put_expr(b, e->u.ternary.cond);
        put(b, " ");
        put_expr(b, e->u.ternary.then);
        put(b, " ");
        put_expr(b, e->u.ternary.els);
        put(b, ")");
        break;
    case E_CALL:
        put(b, "(%s", e->u.call.callee);
        put_args(b, e->u.call.args);
        put(b, ")");
        break;
    case E_SEQ:
        put(b, "(seq ");
        put_expr(b, e->u.seq.input);
        put(b, " {%d})", e->u.seq.body.n);
        break;
    case E_INDEX:
        put(b, "(index ");
        put_expr(b, e->u.index.base);
        put(b, " ");
        put_expr(b, e->u.index.index);
        put(b, ")");
        break;
    }
}

static const char *sexpr(const AstExpr *e)
{
    static Buf b;
    b.n = 0;
    b.s[0] = '\0';
    put_expr(&b, e);
    return b.s;
}

/* The value of `x = <expr>;`, the only statement of `net t() { ... }`. */
static const char *parse_expr(const char *expr)
{
    static char out[4096];
    char src[1024];
    snprintf(src, sizeof src, "net t() { x = %s; }", expr);
    Run *r = ok(src);
    AstStmt *s = r->file->blocks[0]->body.items[0];
    assert_int_equal(s->kind, S_ASSIGN);
    snprintf(out, sizeof out, "%s", sexpr(s->u.assign.value));
    run_free(r);
    return out;
}

/* ---- Trees of realistic programs ---- */

static void test_mlp_net(void **state)
{
    Run *r = ok("# A two-layer perceptron.\n"
                "net mlp(hidden: int = 64, classes: int = 10, scale: float = 0.5,\n"
                "        relu6: bool = false, tag: string = \"m\", w: tensor) {\n"
                "    in x: f32[1, 784];\n"
                "    fc1 = linear(x, hidden);\n"
                "    fc2 = linear(relu(fc1), classes);\n"
                "    out logits = fc2;\n"
                "    out probs: f32[1, classes] = softmax(fc2, dim = -1);\n"
                "}\n");
    AstFile *f = r->file;
    assert_string_equal(f->path, "t.net");
    assert_int_equal(f->nimports, 0);
    assert_int_equal(f->nblocks, 1);
    AstBlock *b = f->blocks[0];
    assert_string_equal(b->name, "mlp");
    assert_true(b->is_net);
    assert_string_equal(b->file, "t.net");
    assert_int_equal(b->loc.line, 2);
    assert_int_equal(b->loc.col, 5);
    assert_int_equal(b->loc.len, 3);

    assert_int_equal(b->nparams, 6);
    assert_string_equal(b->params[0].name, "hidden");
    assert_int_equal(b->params[0].type, PT_INT);
    assert_string_equal(sexpr(b->params[0].dflt), "64");
    assert_int_equal(b->params[2].type, PT_FLOAT);
    assert_string_equal(sexpr(b->params[2].dflt), "0.5");
    assert_int_equal(b->params[3].type, PT_BOOL);
    assert_string_equal(sexpr(b->params[3].dflt), "false");
    assert_int_equal(b->params[4].type, PT_STRING);
    assert_string_equal(sexpr(b->params[4].dflt), "\"m\"");
    assert_int_equal(b->params[5].type, PT_TENSOR);
    assert_null(b->params[5].tensor_type);
    assert_null(b->params[5].dflt);
    assert_int_equal(b->params[5].loc.line, 3);
    assert_int_equal(b->params[5].loc.col, 49);

    assert_int_equal(b->body.n, 5);
    AstStmt *in = b->body.items[0];
    assert_int_equal(in->kind, S_IN);
    assert_string_equal(in->u.in.name, "x");
    assert_int_equal(in->u.in.type.dtype, DT_F32);
    assert_int_equal(in->u.in.type.rank, 2);
    assert_string_equal(sexpr(in->u.in.type.dims[1]), "784");
    assert_int_equal(in->u.in.name_loc.line, 4);
    assert_int_equal(in->u.in.name_loc.col, 8);

    AstStmt *fc2 = b->body.items[2];
    assert_int_equal(fc2->kind, S_ASSIGN);
    assert_string_equal(fc2->u.assign.target, "fc2");
    assert_false(fc2->u.assign.is_template);
    assert_string_equal(sexpr(fc2->u.assign.value), "(linear (relu fc1) classes)");

    AstStmt *o1 = b->body.items[3];
    assert_int_equal(o1->kind, S_OUT);
    assert_string_equal(o1->u.out.name, "logits");
    assert_null(o1->u.out.type);
    assert_string_equal(sexpr(o1->u.out.value), "fc2");

    AstStmt *o2 = b->body.items[4];
    assert_int_equal(o2->kind, S_OUT);
    assert_non_null(o2->u.out.type);
    assert_int_equal(o2->u.out.type->rank, 2);
    assert_string_equal(sexpr(o2->u.out.type->dims[1]), "classes");
    assert_string_equal(sexpr(o2->u.out.value), "(softmax fc2 dim=(neg 1))");
    run_free(r);
}

static void test_resnet_basic_block(void **state)
{
    Run *r = ok("block BasicBlock(x: f32[N, C, H, W], planes: int, stride: int = 1) {\n"
                "    conv1 = conv2d(x, planes, 3, stride = stride, padding = 1, bias = false);\n"
                "    bn1 = batchnorm(conv1);\n"
                "    project = stride != 1 || C != planes;\n"
                "    if project {\n"
                "        downsample = seq(x) {\n"
                "            conv2d(_, planes, 1, stride = stride, bias = false);\n"
                "            batchnorm(_);\n"
                "        };\n"
                "    }\n"
                "    for i in 0..2 { assert i >= 0; }\n"
                "    return relu(bn1 + (project ? downsample : x));\n"
                "}\n");
    AstBlock *b = r->file->blocks[0];
    assert_false(b->is_net);
    assert_string_equal(b->name, "BasicBlock");
    assert_int_equal(b->nparams, 3);

    AstParam *x = &b->params[0];
    assert_int_equal(x->type, PT_TENSOR);
    assert_non_null(x->tensor_type);
    assert_int_equal(x->tensor_type->dtype, DT_F32);
    assert_int_equal(x->tensor_type->rank, 4);
    assert_string_equal(sexpr(x->tensor_type->dims[0]), "N");
    assert_string_equal(sexpr(x->tensor_type->dims[3]), "W");
    assert_null(b->params[1].dflt);

    assert_int_equal(b->body.n, 6);
    assert_string_equal(sexpr(b->body.items[0]->u.assign.value),
                        "(conv2d x planes 3 stride=stride padding=1 bias=false)");
    assert_string_equal(sexpr(b->body.items[2]->u.assign.value),
                        "(|| (!= stride 1) (!= C planes))");

    AstStmt *iff = b->body.items[3];
    assert_int_equal(iff->kind, S_IF);
    assert_string_equal(sexpr(iff->u.if_.cond), "project");
    assert_int_equal(iff->u.if_.els.n, 0);
    assert_int_equal(iff->u.if_.then.n, 1);
    AstExpr *seq = iff->u.if_.then.items[0]->u.assign.value;
    assert_int_equal(seq->kind, E_SEQ);
    assert_string_equal(sexpr(seq->u.seq.input), "x");
    assert_int_equal(seq->u.seq.body.n, 2);
    AstStmt *s0 = seq->u.seq.body.items[0];
    assert_int_equal(s0->kind, S_EXPR);
    assert_string_equal(sexpr(s0->u.expr.value), "(conv2d _ planes 1 stride=stride bias=false)");
    assert_string_equal(sexpr(seq->u.seq.body.items[1]->u.expr.value), "(batchnorm _)");

    AstStmt *loop = b->body.items[4];
    assert_int_equal(loop->kind, S_FOR);
    assert_string_equal(loop->u.for_.var, "i");
    assert_string_equal(sexpr(loop->u.for_.lo), "0");
    assert_string_equal(sexpr(loop->u.for_.hi), "2");
    assert_int_equal(loop->u.for_.body.n, 1);
    AstStmt *as = loop->u.for_.body.items[0];
    assert_int_equal(as->kind, S_ASSERT);
    assert_null(as->u.assert_.message);

    AstStmt *ret = b->body.items[5];
    assert_int_equal(ret->kind, S_RETURN);
    assert_string_equal(sexpr(ret->u.expr.value), "(relu (+ bn1 (? project downsample x)))");
    run_free(r);
}

static void test_imports_and_annotations(void **state)
{
    Run *r = ok("import \"resnet_blocks.net\";\n"
                "import \"lib/vit.net\";\n"
                "@precision(8) @pim(tile = 128)\n"
                "net n() {\n"
                "    in x: bf16[1, 3];\n"
                "    @prune(ratio = 0.5, granularity = \"channel\")\n"
                "    a = linear(x, 4);\n"
                "    @epitome @tome(r = 2) b = relu(a);\n"
                "    @note (a) c = a;\n"
                "    out y = c;\n"
                "}\n");
    AstFile *f = r->file;
    assert_int_equal(f->nimports, 2);
    assert_string_equal(f->imports[0].path, "resnet_blocks.net");
    assert_string_equal(f->imports[1].path, "lib/vit.net");
    assert_int_equal(f->imports[1].loc.line, 2);
    assert_int_equal(f->imports[1].loc.col, 8);

    AstBlock *b = f->blocks[0];
    assert_int_equal(b->annots.n, 2);
    assert_string_equal(b->annots.items[0].name, "precision");
    assert_int_equal(b->annots.items[0].args.n, 1);
    assert_null(b->annots.items[0].args.items[0].key);
    assert_string_equal(sexpr(b->annots.items[0].args.items[0].value), "8");
    assert_string_equal(b->annots.items[1].name, "pim");
    assert_string_equal(b->annots.items[1].args.items[0].key, "tile");

    assert_int_equal(b->body.items[0]->u.in.type.dtype, DT_BF16);
    assert_int_equal(b->body.items[0]->annots.n, 0);
    AstStmt *a = b->body.items[1];
    assert_int_equal(a->annots.n, 1);
    assert_string_equal(a->annots.items[0].name, "prune");
    assert_int_equal(a->annots.items[0].args.n, 2);
    assert_string_equal(a->annots.items[0].args.items[1].key, "granularity");
    assert_string_equal(sexpr(a->annots.items[0].args.items[1].value), "\"channel\"");
    assert_int_equal(a->annots.items[0].loc.line, 6);
    assert_int_equal(a->annots.items[0].loc.col, 5);
    assert_int_equal(a->annots.items[0].loc.len, 6); /* "@prune" */

    AstStmt *bs = b->body.items[2];
    assert_int_equal(bs->annots.n, 2);
    assert_string_equal(bs->annots.items[0].name, "epitome");
    assert_int_equal(bs->annots.items[0].args.n, 0);
    assert_string_equal(bs->annots.items[1].name, "tome");
    /* '(' right after an annotation name always opens its arguments. */
    AstStmt *cs = b->body.items[3];
    assert_int_equal(cs->kind, S_ASSIGN);
    assert_string_equal(cs->annots.items[0].name, "note");
    assert_string_equal(sexpr(cs->annots.items[0].args.items[0].value), "a");
    run_free(r);
}

static void test_seq_templates_and_else_if(void **state)
{
    Run *r = ok("block Encoder(x: tensor, num_layers: int, mode: string = \"a\") {\n"
                "    layers = seq(x) {\n"
                "        for i in 0..num_layers {\n"
                "            \"encoder_layer_{i}\" = EncoderBlock(_, 12);\n"
                "        }\n"
                "        relu(_);\n"
                "    };\n"
                "    if mode == \"a\" { y = 1; } else if mode == \"b\" { y = 2; } else { y = 3; }\n"
                "    assert num_layers > 0, \"need layers, got {num_layers}\";\n"
                "    return layers;\n"
                "}\n");
    AstBlock *b = r->file->blocks[0];
    AstExpr *seq = b->body.items[0]->u.assign.value;
    assert_int_equal(seq->kind, E_SEQ);
    assert_int_equal(seq->loc.line, 2);
    assert_int_equal(seq->loc.col, 14);
    assert_int_equal(seq->loc.len, 6); /* "seq(x)" */
    AstStmt *loop = seq->u.seq.body.items[0];
    assert_int_equal(loop->kind, S_FOR);
    assert_string_equal(sexpr(loop->u.for_.hi), "num_layers");
    AstStmt *t = loop->u.for_.body.items[0];
    assert_int_equal(t->kind, S_ASSIGN);
    assert_true(t->u.assign.is_template);
    assert_string_equal(t->u.assign.target, "encoder_layer_{i}");
    assert_int_equal(t->u.assign.target_loc.col, 13);
    assert_int_equal(t->u.assign.target_loc.len, 19);
    assert_string_equal(sexpr(t->u.assign.value), "(EncoderBlock _ 12)");

    AstStmt *iff = b->body.items[1];
    assert_int_equal(iff->kind, S_IF);
    assert_string_equal(sexpr(iff->u.if_.cond), "(== mode \"a\")");
    assert_int_equal(iff->u.if_.els.n, 1);
    AstStmt *elif = iff->u.if_.els.items[0];
    assert_int_equal(elif->kind, S_IF);
    assert_string_equal(sexpr(elif->u.if_.cond), "(== mode \"b\")");
    assert_int_equal(elif->u.if_.then.n, 1);
    assert_int_equal(elif->u.if_.els.n, 1);
    assert_int_equal(elif->u.if_.els.items[0]->kind, S_ASSIGN);

    AstStmt *as = b->body.items[2];
    assert_int_equal(as->kind, S_ASSERT);
    assert_string_equal(sexpr(as->u.assert_.cond), "(> num_layers 0)");
    assert_string_equal(as->u.assert_.message, "need layers, got {num_layers}");
    run_free(r);
}

/* `block` is a keyword only where a block is defined (file level):
 * torchvision names the body of MBConv and CNBlock `block`, so inside a
 * body it is a name that is assigned and read like any other. */
static void test_block_as_name(void **state)
{
    Run *r = ok("block MBConv(x: tensor) {\n"
                "    block = seq(x) { relu(_); };\n"
                "    return x + block;\n"
                "}\n");
    AstBlock *b = r->file->blocks[0];
    assert_string_equal(b->name, "MBConv");
    assert_int_equal(b->body.items[0]->kind, S_ASSIGN);
    assert_string_equal(b->body.items[0]->u.assign.target, "block");
    assert_int_equal(b->body.items[1]->kind, S_RETURN);
    assert_string_equal(sexpr(b->body.items[1]->u.expr.value), "(+ x block)");
    run_free(r);
    assert_string_equal(parse_expr("block * 2"), "(* block 2)");
}

static void test_expression_precedence(void **state)
{
    assert_string_equal(parse_expr("a + b * c - d"), "(- (+ a (* b c)) d)");
    assert_string_equal(parse_expr("a / b % c * d"), "(* (% (/ a b) c) d)");
    assert_string_equal(parse_expr("(a + b) * c"), "(* (+ a b) c)");
    assert_string_equal(parse_expr("-x[0][1]"), "(neg (index (index x 0) 1))");
    assert_string_equal(parse_expr("!a && b || c && !d"), "(|| (&& (! a) b) (&& c (! d)))");
    assert_string_equal(parse_expr("a + 1 == b * 2 && c < d"), "(&& (== (+ a 1) (* b 2)) (< c d))");
    assert_string_equal(parse_expr("a <= b || c >= d"), "(|| (<= a b) (>= c d))");
    assert_string_equal(parse_expr("c ? a : d ? e : f"), "(? c a (? d e f))");
    assert_string_equal(parse_expr("c ? x ? 1 : 2 : 3"), "(? c (? x 1 2) 3)");
    assert_string_equal(parse_expr("a || b ? 1 + 2 : 3"), "(? (|| a b) (+ 1 2) 3)");
    assert_string_equal(parse_expr("--1"), "(neg (neg 1))");
    assert_string_equal(parse_expr("[1, 2.5, [\"s\"], []]"), "[1 2.5 [\"s\"] []]");
    assert_string_equal(parse_expr("[1, 2][i + 1]"), "(index [1 2] (+ i 1))");
    assert_string_equal(parse_expr("f()"), "(f)");
    assert_string_equal(parse_expr("f(g(1), k = [2, 3], j = h(k = 4))"),
                        "(f (g 1) k=[2 3] j=(h k=4))");
    assert_string_equal(parse_expr("seq(x) { relu(_); }[0]"), "(index (seq x {1}) 0)");
    assert_string_equal(parse_expr("true != false"), "(!= true false)");
}

static void test_literals(void **state)
{
    assert_string_equal(parse_expr("\"a\\\"b\\\\c\\nd\\te\""), "\"a\"b\\c\nd\te\"");
    assert_string_equal(parse_expr(".5 + 1e-6 + 2.5E3 + 1.25e+2"), "(+ (+ (+ 0.5 1e-06) 2500) 125)");
    assert_string_equal(parse_expr("9223372036854775807"), "9223372036854775807");
    assert_string_equal(parse_expr("0"), "0");
    /* `0..3` is INT ".." INT, not a float `0.` */
    Run *r = ok("net t() { for i in 0..3 { } for j in n..2*n { } }");
    AstStmt *l = r->file->blocks[0]->body.items[0];
    assert_string_equal(sexpr(l->u.for_.lo), "0");
    assert_string_equal(sexpr(l->u.for_.hi), "3");
    assert_int_equal(l->u.for_.body.n, 0);
    l = r->file->blocks[0]->body.items[1];
    assert_string_equal(sexpr(l->u.for_.hi), "(* 2 n)");
    run_free(r);
    /* Dtype names are identifiers outside type position. */
    assert_string_equal(parse_expr("f32 + i8"), "(+ f32 i8)");
    assert_string_equal(parse_expr("f(x)#comment ) ( ;\n"), "(f x)");
}

static void test_locations(void **state)
{
    Run *r = ok("net t() {\n"
                "\ty = conv2d(x, 8, 3) + bias_add(x);\n"
                "}\n");
    AstStmt *s = r->file->blocks[0]->body.items[0];
    assert_int_equal(s->u.assign.target_loc.line, 2);
    assert_int_equal(s->u.assign.target_loc.col, 2); /* columns count bytes; a tab is one */
    assert_int_equal(s->u.assign.target_loc.len, 1);
    AstExpr *add = s->u.assign.value;
    assert_int_equal(add->kind, E_BINARY);
    assert_int_equal(add->loc.col, 6);
    assert_int_equal(add->loc.len, (int)strlen("conv2d(x, 8, 3) + bias_add(x)"));
    AstExpr *conv = add->u.op.a;
    assert_int_equal(conv->loc.col, 6);
    assert_int_equal(conv->loc.len, 6);
    assert_int_equal(conv->u.call.callee_loc.len, 6);
    AstExpr *ba = add->u.op.b;
    assert_int_equal(ba->loc.col, 24);
    assert_int_equal(ba->loc.len, 8);
    assert_int_equal(ba->u.call.args.items[0].value->loc.col, 33);
    assert_string_equal(ba->loc.file, "t.net");
    run_free(r);
}

static void test_empty_and_odd_inputs(void **state)
{
    Run *r = ok("");
    assert_int_equal(r->file->nblocks, 0);
    run_free(r);
    r = ok("# nothing but a comment");
    assert_int_equal(r->file->nblocks, 0);
    run_free(r);
    r = ok("\n\n   \t\r\n# c\n");
    run_free(r);
    /* Not NUL-terminated: the parser must stop at len. */
    const char text[] = "net t() { }XXXX";
    r = run_bytes(text, strlen("net t() { }"));
    assert_non_null(r->file);
    assert_int_equal(r->file->nblocks, 1);
    run_free(r);
    /* The same text with a NUL byte inside is an error, not a truncation. */
    r = run_bytes("net t() { }\0net", 15);
    assert_null(r->file);
    assert_string_equal(first_error(r), "t.net:1:12: error: stray '\\x00' in program");
    run_free(r);
    r = run_bytes("net t() { x = \"a\0b\"; }", 22);
    assert_null(r->file);
    assert_string_equal(first_error(r), "t.net:1:17: error: NUL byte in string literal");
    run_free(r);
}

/* ---- Diagnostics ---- */

/* Parses src, which must fail, and compares the first diagnostic line. */
static void expect_error(const char *src, const char *first)
{
    Run *r = run(src);
    if (r->file)
        fail_msg("parsed without error: %s", src);
    if (strcmp(first_error(r), first) != 0)
        fail_msg("for:\n%s\nexpected: %s\n     got: %s\nall:\n%s", src, first, first_error(r),
                 r->cap.text);
    run_free(r);
}

static void test_error_messages(void **state)
{
    expect_error("net a() {\n    x = relu(y)\n    z = 1;\n}\n",
                 "t.net:3:5: error: syntax error: unexpected identifier 'z', expected \";\"");
    expect_error("net a() { x = \"abc;\n}\n", "t.net:1:15: error: unterminated string literal");
    /* An escaped quote does not close the string; the newline ends it. */
    expect_error("net a() {\n  x = \"ab\\\"\n;\n}", "t.net:2:7: error: unterminated string literal");
    expect_error("net a() { x = 1 $ 2; }", "t.net:1:17: error: stray '$' in program");
    expect_error("net a() { x = \x01; }", "t.net:1:15: error: stray '\\x01' in program");
    expect_error("net a() { x = \xe2\x80\x9cq\xe2\x80\x9d; }",
                 "t.net:1:15: error: stray '\\xe2\\x80\\x9c' in program");
    expect_error("net a() {\n  in x: f31[1, 2];\n}", "t.net:2:9: error: unknown dtype 'f31'");
    expect_error("block B(x: i3[N]) { return x; }", "t.net:1:12: error: unknown dtype 'i3'");
    expect_error("net a() { x = conv2d(a, k = 3, 4); }",
                 "t.net:1:32: error: positional argument after keyword argument");
    expect_error("net a() { x = 1;\n",
                 "t.net:1:17: error: syntax error: unexpected end of file, "
                 "expected statement or \"}\"");
    expect_error("net a() { x = 1; }\n}\n",
                 "t.net:2:1: error: syntax error: unexpected \"}\", expected \"import\", "
                 "\"block\", \"net\", \"@\" or end of file");
    expect_error("net a() { x = (1 + 2; }",
                 "t.net:1:21: error: syntax error: unexpected \";\", expected \")\"");
    expect_error("net a() { x = f(1 2); }",
                 "t.net:1:19: error: syntax error: unexpected integer literal '2', "
                 "expected \",\" or \")\"");
    expect_error("net a() { x = ; }",
                 "t.net:1:15: error: syntax error: unexpected \";\", expected expression");
    expect_error("net a(n: int = ) { }",
                 "t.net:1:16: error: syntax error: unexpected \")\", expected expression");
    expect_error("net a(n) { }",
                 "t.net:1:8: error: syntax error: unexpected \")\", expected \":\"");
    expect_error("net a() { x = 1 < 2 < 3; }",
                 "t.net:1:21: error: syntax error: unexpected \"<\" "
                 "(comparisons do not chain; use &&)");
    expect_error("net a() { x = \"a\\qb\"; }",
                 "t.net:1:17: error: unknown escape sequence '\\q' in string");
    expect_error("net a() { x = 99999999999999999999; }",
                 "t.net:1:15: error: integer literal '99999999999999999999' is too large "
                 "(max 9223372036854775807)");
    expect_error("net a() { x = 1e999; }",
                 "t.net:1:15: error: float literal '1e999' is out of range");
    expect_error("net a() { k = 3x3; }", "t.net:1:15: error: invalid number '3x3'");
    expect_error("x = 1;",
                 "t.net:1:1: error: syntax error: unexpected identifier 'x', expected \"import\", "
                 "\"block\", \"net\", \"@\" or end of file");
    expect_error("net", "t.net:1:4: error: syntax error: unexpected end of file, expected identifier");
    expect_error("import foo;",
                 "t.net:1:8: error: syntax error: unexpected identifier 'foo', "
                 "expected string literal");
    expect_error("net a() { a.b = 1; }",
                 "t.net:1:12: error: syntax error: unexpected \".\", expected \",\", \";\" or \"=\"");
}

/* The caret line underlines the offending token. */
static void test_error_caret(void **state)
{
    Run *r = run("net a() {\n    y = conv2d(x, 3 3);\n}\n");
    assert_null(r->file);
    assert_string_equal(r->cap.text,
                        "t.net:2:21: error: syntax error: unexpected integer literal '3', "
                        "expected \",\" or \")\"\n"
                        "    2 |     y = conv2d(x, 3 3);\n"
                        "      |                     ^\n");
    run_free(r);
    r = run("net a() { x: f32[1] = 2; in y: float16[1]; }");
    assert_string_equal(strstr(r->cap.text, "unknown dtype"),
                        "unknown dtype 'float16'\n"
                        "    1 | net a() { x: f32[1] = 2; in y: float16[1]; }\n"
                        "      |                                ^~~~~~~\n");
    run_free(r);
}

/* At the end of the file, a note points at the bracket still open. */
static void test_unclosed_bracket_note(void **state)
{
    Run *r = run("net a() {\n    if x {\n        y = 2;\n\n");
    assert_null(r->file);
    assert_string_equal(r->cap.text,
                        "t.net:3:15: error: syntax error: unexpected end of file, "
                        "expected statement or \"}\"\n"
                        "    3 |         y = 2;\n"
                        "      |               ^\n"
                        "t.net:2:10: note: to match this \"{\"\n"
                        "    2 |     if x {\n"
                        "      |          ^\n");
    run_free(r);
    r = run("net a() { x = [1, f(2, 3]; }");
    assert_string_equal(first_error(r),
                        "t.net:1:25: error: syntax error: unexpected \"]\", expected \",\" or \")\"");
    run_free(r);
}

static int count_errors(const char *msgs)
{
    int n = 0;
    for (const char *p = msgs; (p = strstr(p, ": error: ")); p++)
        n++;
    return n;
}

/* Statement-level recovery: one run reports every independent mistake. */
static void test_several_errors(void **state)
{
    Run *r = run("net a(n: int = ) {\n"          /* 1: bad default */
                 "    x = relu(y)\n"              /* 2: missing ';' ... */
                 "    z = 1;\n"                   /* 3: ... reported here */
                 "    for i in 0.. { w = 1; }\n"  /* 4: missing bound */
                 "    v = f(k = 1, 2);\n"         /* 5: positional after keyword */
                 "    if x { u = ; }\n"           /* 6: missing expression */
                 "}\n"
                 "blok B() { t = 1; }\n"          /* 8: misspelt keyword */
                 "net c() { in q: f33[1]; }\n");  /* 9: unknown dtype */
    assert_null(r->file);
    assert_int_equal(diag_errors(r->cap.d), 7);
    assert_int_equal(count_errors(r->cap.text), 7);
    const char *lines[] = {"t.net:1:16:", "t.net:3:5:", "t.net:4:18:", "t.net:5:18:",
                           "t.net:6:16:", "t.net:8:1:", "t.net:9:17:"};
    const char *p = r->cap.text;
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        p = strstr(p, lines[i]);
        if (!p)
            fail_msg("missing %s in:\n%s", lines[i], r->cap.text);
    }
    run_free(r);
}

static void test_nesting_limit(void **state)
{
    enum { DEPTH = 100000 };
    char *src = malloc(2 * DEPTH + 64);
    char *p = src + sprintf(src, "net a() { x = ");
    memset(p, '(', DEPTH);
    p += DEPTH;
    *p++ = '1';
    memset(p, ')', DEPTH);
    strcpy(p + DEPTH, "; }");
    Run *r = run(src);
    assert_null(r->file);
    assert_non_null(strstr(first_error(r), "error: nesting too deep for the parser"));
    run_free(r);

    /* Realistic nesting is far below the limit. */
    p = src + sprintf(src, "net a() { x = ");
    memset(p, '(', 500);
    p[500] = '-';
    p[501] = '1';
    memset(p + 502, ')', 500);
    strcpy(p + 1002, "; }");
    r = ok(src);
    run_free(r);
    free(src);
}

/* ---- Robustness ---- */

static const char *const valid_program =
    "import \"blocks.net\";\n"
    "# ResNet-ish\n"
    "@precision(8)\n"
    "block B(x: f32[N, C, H, W], planes: int, stride: int = 1) {\n"
    "    c = conv2d(x, planes, 3, stride = stride, padding = 1);\n"
    "    p = stride != 1 || C != planes;\n"
    "    if p { d = seq(x) { conv2d(_, planes, 1); batchnorm(_); }; }\n"
    "    else if C > 2 { d = x; } else { d = -x; }\n"
    "    for i in 0..3 { \"l{i}\" = relu(_); }\n"
    "    assert planes % 2 == 0, \"odd \\\"{planes}\\\"\";\n"
    "    return relu(c + (p ? d : x)) * [1.5, .5e-2][0];\n"
    "}\n"
    "net n(k: int = 2, s: string = \"x\") {\n"
    "    in x: f32[1, 3, 8, 8];\n"
    "    @prune(ratio = 0.5) y = B(x, 4, stride = k);\n"
    "    out z: f32[1, 4, 4, 4] = y;\n"
    "}\n";

static void test_every_prefix(void **state)
{
    size_t n = strlen(valid_program);
    Run *whole = ok(valid_program);
    assert_int_equal(whole->file->nblocks, 2);
    run_free(whole);
    for (size_t i = 0; i <= n; i++) {
        /* A private copy without a terminator after the prefix, for ASan. */
        char *copy = malloc(i ? i : 1);
        memcpy(copy, valid_program, i);
        Run *r = run_bytes(copy, i);
        assert_true(r->file != NULL || diag_errors(r->cap.d) > 0);
        run_free(r);
        free(copy);
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(void)
{
    return (uint32_t)(test_xorshift64(&rng_state) >> 11);
}

/* Parses len bytes from a heap copy; any outcome but a crash is fine. */
static void survive(const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    Run *r = run_bytes(copy, len);
    assert_true(r->file != NULL || diag_errors(r->cap.d) > 0);
    run_free(r);
    free(copy);
}

static void test_random_inputs(void **state)
{
    static const char *const pieces[] = {
        "net", "block", "import", "in", "out", "return", "for", "if", "else", "assert",
        "seq", "true", "false", "int", "float", "tensor", "f32", "x", "_", "1", "2.5", ".5",
        "1e3", "\"s\"", "\"{i}\"", "(", ")", "[", "]", "{", "}", ",", ";", ":", "=", ".",
        "..", "?", "@", "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&",
        "||", "!", " ", "\n", "#c\n", "\"", "\\", "\0", "\xff"};
    char buf[512];
    for (int it = 0; it < 3000; it++) {
        size_t len = 0;
        int ntok = (int)(rng() % 60);
        for (int t = 0; t < ntok; t++) {
            const char *piece = pieces[rng() % (sizeof pieces / sizeof *pieces)];
            size_t pl = piece[0] ? strlen(piece) : 1;
            if (len + pl + 1 > sizeof buf)
                break;
            memcpy(buf + len, piece, pl);
            len += pl;
            if (rng() % 2)
                buf[len++] = ' ';
        }
        survive(buf, len);
    }
    for (int it = 0; it < 2000; it++) {
        size_t len = rng() % 256;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)rng();
        survive(buf, len);
    }
}

static void test_mutated_programs(void **state)
{
    size_t n = strlen(valid_program);
    char *buf = malloc(n + 16);
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, valid_program, n);
        size_t len = n;
        int edits = 1 + (int)(rng() % 6);
        for (int e = 0; e < edits && len > 0; e++) {
            size_t pos = rng() % len;
            switch (rng() % 4) {
            case 0: buf[pos] = (char)rng(); break;                        /* flip a byte */
            case 1: memmove(buf + pos, buf + pos + 1, len - pos - 1); len--; break; /* drop */
            case 2: buf[pos] = valid_program[rng() % n]; break;           /* copy a byte */
            case 3: len = pos; break;                                     /* truncate */
            }
        }
        survive(buf, len);
    }
    free(buf);
}

/* Every shipped example parses: each .net file in examples/, so a new one is
 * covered without being listed here. */
static void test_examples_parse(void **state)
{
    char dirpath[1024];
    snprintf(dirpath, sizeof dirpath, "%s/examples", NETC_SOURCE_DIR);
    DIR *dir = opendir(dirpath);
    assert_non_null(dir);
    int parsed = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".net") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
        size_t len;
        char *text = (char *)read_bytes(path, &len);
        Run *r = run_bytes(text, len);
        if (!r->file)
            fail_msg("%s does not parse:\n%s", path, r->cap.text);
        assert_true(r->file->nblocks > 0);
        run_free(r);
        free(text);
        parsed++;
    }
    closedir(dir);
    assert_true(parsed >= 10); /* the directory really was the examples */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_net),
        cmocka_unit_test(test_resnet_basic_block),
        cmocka_unit_test(test_imports_and_annotations),
        cmocka_unit_test(test_seq_templates_and_else_if),
        cmocka_unit_test(test_block_as_name),
        cmocka_unit_test(test_expression_precedence),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_empty_and_odd_inputs),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_error_caret),
        cmocka_unit_test(test_unclosed_bracket_note),
        cmocka_unit_test(test_several_errors),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_random_inputs),
        cmocka_unit_test(test_mutated_programs),
        cmocka_unit_test(test_examples_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
