/*
 * init.c — deterministic random weights; see init.h and docs/init.md.
 *
 * Bit-for-bit reproducibility constrains the code: every value is computed
 * in float32 with one IEEE operation at a time, in the order docs/init.md
 * states. The compiler must not fuse a multiply and an add into an FMA
 * (which rounds once instead of twice), hence the pragmas below, and float
 * expressions must not be evaluated in a wider type (FLT_EVAL_METHOD 0, as
 * on x86-64 and AArch64). The only libm call is sqrtf, which IEEE 754
 * requires to be correctly rounded.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "init.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <xxhash.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "rt_init needs float expressions evaluated in float (FLT_EVAL_METHOD == 0)"
#endif

static const struct {
    const char *name;
    InitKind kind;
    float lo, hi;
} role_info[] = {
#define X(e, name, kind, lo, hi) [INIT_ROLE_##e] = {name, kind, lo, hi},
    INIT_ROLE_LIST(X)
#undef X
};

const char *rt_init_role_name(InitRole r) { return r < INIT_ROLE__COUNT ? role_info[r].name : "?"; }

/* Which role each parameter slot of each op has. A batchnorm weight is
 * refined by is_residual_end below. */
static const struct {
    OpKind op;
    const char *suffix;
    InitRole role;
} slot_roles[] = {
    {OP_CONV2D, "weight", INIT_ROLE_FAN_IN},
    {OP_CONV2D, "bias", INIT_ROLE_BIAS},
    {OP_LINEAR, "weight", INIT_ROLE_FAN_IN},
    {OP_LINEAR, "bias", INIT_ROLE_BIAS},
    {OP_MHA, "in_proj_weight", INIT_ROLE_FAN_IN},
    {OP_MHA, "in_proj_bias", INIT_ROLE_BIAS},
    {OP_MHA, "out_proj.weight", INIT_ROLE_FAN_IN},
    {OP_MHA, "out_proj.bias", INIT_ROLE_BIAS},
    {OP_BATCHNORM, "weight", INIT_ROLE_BN_WEIGHT},
    {OP_BATCHNORM, "bias", INIT_ROLE_BN_BIAS},
    {OP_BATCHNORM, "running_mean", INIT_ROLE_BN_MEAN},
    {OP_BATCHNORM, "running_var", INIT_ROLE_BN_VAR},
    {OP_LAYERNORM, "weight", INIT_ROLE_LN_WEIGHT},
    {OP_LAYERNORM, "bias", INIT_ROLE_LN_BIAS},
};

/*
 * A node ends a residual branch when its output has exactly one use in the
 * whole graph (node inputs and graph outputs counted) and that use is an
 * input of an add. Such a batchnorm gets a small weight so that the sum
 * x + branch(x) does not double the signal at every block.
 */
static bool is_residual_end(const IrGraph *g, const IrNode *n)
{
    int uses = 0;
    bool into_add = false;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->nin; j++)
            if (g->nodes[i]->in[j] == n->out) {
                uses++;
                into_add = g->nodes[i]->op == OP_ADD;
            }
    for (int i = 0; i < g->noutputs; i++)
        uses += g->outputs[i].value == n->out;
    return uses == 1 && into_add;
}

InitRole rt_init_role(const IrGraph *g, const IrValue *p, bool *known)
{
    bool dummy;
    if (!known)
        known = &dummy;
    *known = true;
    if (p->init) {
        if (strcmp(p->init, "zeros") == 0)
            return INIT_ROLE_ZEROS;
        if (strcmp(p->init, "ones") == 0)
            return INIT_ROLE_ONES;
        if (strcmp(p->init, "normal") == 0)
            return INIT_ROLE_NORMAL;
        *known = false;
        return INIT_ROLE_NORMAL;
    }
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        int nd = op_data_inputs(n);
        for (int j = nd; j < n->nin; j++) {
            if (n->in[j] != p)
                continue;
            const char *sfx[8];
            int ns = op_param_suffixes(n, sfx, 8);
            if (j - nd >= ns || j - nd >= 8)
                break;
            for (size_t k = 0; k < sizeof slot_roles / sizeof *slot_roles; k++)
                if (slot_roles[k].op == n->op && strcmp(slot_roles[k].suffix, sfx[j - nd]) == 0) {
                    InitRole r = slot_roles[k].role;
                    if (r == INIT_ROLE_BN_WEIGHT && is_residual_end(g, n))
                        r = INIT_ROLE_BN_WEIGHT_RESIDUAL;
                    return r;
                }
            break;
        }
    }
    *known = false;
    return INIT_ROLE_NORMAL;
}

uint64_t rt_init_stream_seed(const char *key, uint64_t seed)
{
    return (uint64_t)XXH64(key, strlen(key), (XXH64_hash_t)seed);
}

uint64_t rt_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float rt_init_u01(uint64_t x) { return (float)(x >> 40) * 0x1p-24f; }

void rt_init_fill(float *out, InitRole r, const char *key, const Shape *shape, uint64_t seed)
{
    int64_t n = shape_numel(shape);
    if (n <= 0 || r >= INIT_ROLE__COUNT)
        return;
    InitKind kind = role_info[r].kind;
    float lo = role_info[r].lo, hi = role_info[r].hi;
    if (kind == INIT_CONST) {
        for (int64_t i = 0; i < n; i++)
            out[i] = lo;
        return;
    }
    uint64_t state = rt_init_stream_seed(key, seed);
    if (kind == INIT_NORMAL) {
        for (int64_t i = 0; i < n; i++) {
            float s = 0.0f;
            for (int k = 0; k < 12; k++)
                s = s + rt_init_u01(rt_splitmix64(&state));
            float c = s - 6.0f;
            out[i] = 0.02f * c;
        }
        return;
    }
    if (kind == INIT_FAN_IN) {
        int64_t fan_in = shape->rank >= 2 ? n / shape->d[0] : n;
        float q = 6.0f / (float)fan_in;
        hi = sqrtf(q);
        lo = -hi;
    }
    float w = hi - lo;
    for (int64_t i = 0; i < n; i++) {
        float u = rt_init_u01(rt_splitmix64(&state));
        float t = w * u;
        out[i] = lo + t;
    }
}

bool rt_init_weights(IrGraph *g, uint64_t seed, Diag *d)
{
    bool ok = true;
    for (int i = 0; i < g->nparams; i++) {
        IrValue *p = g->params[i];
        bool known;
        InitRole r = rt_init_role(g, p, &known);
        if (!known)
            diag_warning(d, p->loc, "no initialisation rule for parameter '%s'%s%s%s; using %s",
                         p->name, p->init ? " (init \"" : "", p->init ? p->init : "",
                         p->init ? "\")" : "", rt_init_role_name(r));
        Tensor *t = tensor_new(DT_F32, &p->shape);
        if (!t) {
            char s[160];
            diag_error(d, p->loc, "cannot allocate parameter '%s' of shape %s", p->name,
                       shape_str(&p->shape, s, sizeof s));
            ok = false;
            continue;
        }
        rt_init_fill(t->data, r, p->name, &p->shape, seed);
        ir_bind(p, t);
    }
    return ok;
}

void rt_init_print_plan(const IrGraph *g, FILE *out)
{
    for (int i = 0; i < g->nparams; i++) {
        const IrValue *p = g->params[i];
        char s[160];
        fprintf(out, "%s\t%s\t%s\n", p->name, rt_init_role_name(rt_init_role(g, p, NULL)),
                shape_str(&p->shape, s, sizeof s));
    }
}
