/*
 * expand_mha.c — writes each mha as the graph of its parts (`expand-mha`),
 * so later passes see its two projections as ordinary linear layers: the
 * quantize pass then calibrates the attention output that feeds out_proj,
 * and integerize turns both projections into int8 qlinear layers.
 *
 * For x [B, L, E] (or [L, E]), H heads of D = E / H, the same computation as
 * the mha reference kernel (runtime/ref_kernels.c) and PyTorch's
 * nn.MultiheadAttention in eval mode:
 *
 *   qkv = linear(x, in_proj_weight, in_proj_bias)          <name>.in_proj
 *   q, k, v = slices of qkv's last dim, each [B, L, E]
 *   q = q * (1 / sqrt(D))                                   <name>.q_scale [1]
 *   q, k, v -> reshape [B, L, H, D] -> permute -> [B, H, L, D]
 *   a = softmax(matmul(q, transpose(k, -2, -1)), dim = -1)  [B, H, L, L]
 *   o = matmul(a, v) -> permute -> [B, L, H, D] -> reshape [B, L, E]
 *   y = linear(o, out_proj.weight, out_proj.bias)          <name>.out_proj
 *
 * The one numerical difference: the reference divides q by sqrt(D), this
 * multiplies by its f32 reciprocal — the same bits when D is a power of
 * four (ViT's 64: 1/8), within an ulp otherwise. The float backend runs the
 * fused mha faster than the parts, so this pass is for quantization
 * pipelines, not part of -O2.
 */
#include "pass_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Builder {
    IrGraph *g;
    int pos;          /* where the next node goes */
    Loc loc;
    const char *name; /* the mha's name, prefix of the projections' */
    Diag *d;
    bool ok;
} Builder;

static IrValue *emit(Builder *b, OpKind op, const char *name, int nin, IrValue **in, int nattr, IrAttr *attr)
{
    if (!b->ok)
        return NULL;
    char err[512];
    IrNode *n = ir_insert_node(b->g, b->pos, op, name, nin, in, nattr, attr, b->loc, err, sizeof err);
    if (!n) {
        diag_error(b->d, b->loc, "expand-mha: internal error expanding '%s': %s", b->name, err);
        b->ok = false;
        return NULL;
    }
    b->pos++;
    return n->out;
}

static IrAttr int_attr(const char *key, int64_t v) { return (IrAttr){.key = key, .kind = AK_INT, .i = v}; }

static IrAttr ints_attr(Builder *b, const char *key, int n, const int64_t *v)
{
    int64_t *copy = arena_alloc(b->g->arena, (size_t)n * sizeof *copy);
    memcpy(copy, v, (size_t)n * sizeof *copy);
    return (IrAttr){.key = key, .kind = AK_INTS, .n = n, .ints = copy};
}

static IrValue *linear(Builder *b, const char *suffix, IrValue *x, IrValue *w, IrValue *bias)
{
    IrValue *in[3] = {x, w, bias};
    IrAttr a[2] = {int_attr("out_features", w->shape.d[0]), {.key = "bias", .kind = AK_BOOL, .i = 1}};
    return emit(b, OP_LINEAR, arena_printf(b->g->arena, "%s.%s", b->name, suffix), 3, in, 2, a);
}

static IrValue *slice_last(Builder *b, IrValue *x, int64_t start, int64_t end)
{
    IrAttr a[4] = {int_attr("dim", -1), int_attr("start", start), int_attr("end", end), int_attr("step", 1)};
    return emit(b, OP_SLICE, NULL, 1, &x, 4, a);
}

static IrValue *reshape(Builder *b, IrValue *x, int rank, const int64_t *dims)
{
    IrAttr a = ints_attr(b, "shape", rank, dims);
    return emit(b, OP_RESHAPE, NULL, 1, &x, 1, &a);
}

static IrValue *permute(Builder *b, IrValue *x, int rank, const int64_t *dims)
{
    IrAttr a = ints_attr(b, "dims", rank, dims);
    return emit(b, OP_PERMUTE, NULL, 1, &x, 1, &a);
}

static IrValue *binary(Builder *b, OpKind op, IrValue *x, IrValue *y)
{
    IrValue *in[2] = {x, y};
    return emit(b, op, NULL, 2, in, 0, NULL);
}

/* [B, L, E] -> [B, H, L, D] (no B for a 2-D x). */
static IrValue *split_heads(Builder *b, IrValue *x, int64_t heads)
{
    bool batched = x->shape.rank == 3;
    int64_t L = x->shape.d[x->shape.rank - 2], E = x->shape.d[x->shape.rank - 1];
    int64_t dims4[4] = {x->shape.d[0], L, heads, E / heads}, dims3[3] = {L, heads, E / heads};
    static const int64_t swap4[4] = {0, 2, 1, 3}, swap3[3] = {1, 0, 2};
    IrValue *r = batched ? reshape(b, x, 4, dims4) : reshape(b, x, 3, dims3);
    return batched ? permute(b, r, 4, swap4) : permute(b, r, 3, swap3);
}

static void expand(IrGraph *g, IrNode *n, Diag *d)
{
    Builder b = {.g = g, .pos = ir_node_pos(g, n), .loc = n->loc, .d = d, .ok = true,
                 .name = n->name ? n->name : arena_printf(g->arena, "mha.%d", n->id)};
    IrValue *x = n->in[0];
    int64_t heads = ir_attr_int(n, "num_heads"), E = x->shape.d[x->shape.rank - 1];
    Shape one = {1, {1}};
    IrValue *scale = ir_add_param(g, pass_fresh_key(g, arena_printf(g->arena, "%s.q_scale", b.name)), DT_F32,
                                  one, n->loc);
    Tensor *st = tensor_new(DT_F32, &one);
    *(float *)st->data = (float)(1.0 / sqrt((double)(E / heads)));
    ir_bind(scale, st);

    IrValue *qkv = linear(&b, "in_proj", x, n->in[1], n->in[2]);
    IrValue *q = slice_last(&b, qkv, 0, E), *k = slice_last(&b, qkv, E, 2 * E);
    IrValue *v = slice_last(&b, qkv, 2 * E, 3 * E);
    q = split_heads(&b, binary(&b, OP_MUL, q, scale), heads);
    k = split_heads(&b, k, heads);
    v = split_heads(&b, v, heads);
    IrAttr tr[2] = {int_attr("dim0", -2), int_attr("dim1", -1)}, sm = int_attr("dim", -1);
    IrValue *kt = emit(&b, OP_TRANSPOSE, NULL, 1, &k, 2, tr);
    IrValue *scores = binary(&b, OP_MATMUL, q, kt);
    IrValue *attn = emit(&b, OP_SOFTMAX, NULL, 1, &scores, 1, &sm);
    IrValue *o = binary(&b, OP_MATMUL, attn, v);
    bool batched = x->shape.rank == 3;
    static const int64_t swap4[4] = {0, 2, 1, 3}, swap3[3] = {1, 0, 2};
    o = batched ? permute(&b, o, 4, swap4) : permute(&b, o, 3, swap3);
    o = b.ok ? reshape(&b, o, x->shape.rank, x->shape.d) : NULL;
    IrValue *y = linear(&b, "out_proj", o, n->in[3], n->in[4]);
    if (!b.ok)
        return;
    ir_replace_uses(g, n->out, y);
    ir_remove_node(g, n);
}

bool pass_expand_mha(IrGraph *g, const PassArgs *args, Diag *d)
{
    (void)args;
    int before = diag_errors(d);
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = g->nodes[i];
        if (n->op != OP_MHA)
            continue;
        expand(g, n, d); /* its parts now sit at i..; none is an mha */
    }
    return diag_errors(d) == before;
}
