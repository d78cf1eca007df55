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

/*
 * A node ends a residual branch when its output has exactly one use in the
 * whole graph (node inputs and graph outputs counted) and that use is an
 * input of an add. Such a batchnorm gets a small weight so that the sum
 * x + branch(x) does not double the signal at every block.
 */
static bool is_residual_end(const IrGraph *g, const IrNode *n)
{
    const IrNode *user = ir_sole_user(g, n->out);
    return user && user->op == OP_ADD;
}

/* The init role of a parameter slot: its ParamRole, told apart by the op
 * for the norms (batchnorm and layernorm initialize their affine pair the
 * same way today, but they are separate roles in docs/init.md). */
static InitRole slot_role(const IrGraph *g, const IrNode *n, ParamRole r)
{
    bool bn = n->op == OP_BATCHNORM;
    switch (r) {
    case PR_WEIGHT: return INIT_ROLE_FAN_IN;
    case PR_BIAS: return INIT_ROLE_BIAS;
    case PR_SCALE:
        if (!bn)
            return INIT_ROLE_LN_WEIGHT;
        return is_residual_end(g, n) ? INIT_ROLE_BN_WEIGHT_RESIDUAL : INIT_ROLE_BN_WEIGHT;
    case PR_SHIFT: return bn ? INIT_ROLE_BN_BIAS : INIT_ROLE_LN_BIAS;
    case PR_MEAN: return INIT_ROLE_BN_MEAN;
    case PR_VAR: return INIT_ROLE_BN_VAR;
    default: return INIT_ROLE__COUNT;
    }
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
    /* The first node (in graph order) reading p as a parameter decides. */
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = g->nodes[i];
        int nd = op_data_inputs(n);
        for (int j = nd; j < n->nin; j++) {
            if (n->in[j] != p)
                continue;
            InitRole r = slot_role(g, n, op_param_role(n, j - nd));
            if (r != INIT_ROLE__COUNT)
                return r;
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
