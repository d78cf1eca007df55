/*
 * init.h — deterministic random weights for a graph.
 *
 * Numerical tests compare netc against PyTorch on networks for which no
 * trained weights are at hand. rt_init_weights fills every parameter from a
 * seed by an algorithm written down in docs/init.md, exactly enough for a
 * Python script to produce the same bits: one random stream per tensor,
 * seeded by XXH64 of its state_dict key, splitmix64, float32 arithmetic in
 * a fixed order. The distribution of each tensor follows its role (which op
 * consumes it, in which parameter slot), chosen so ResNet-50, VGG-16,
 * MobileNetV2 and ViT-B/16 keep activations O(1) with BatchNorm in eval
 * mode. docs/init.md gives the rules and the reasons.
 */
#ifndef NETC_RT_INIT_H
#define NETC_RT_INIT_H

#include <stdint.h>
#include <stdio.h>

#include "../ir/ir.h"

/* X(enum suffix, name, kind, lo, hi): the rule for each parameter role. */
#define INIT_ROLE_LIST(X)                                          \
    X(FAN_IN, "fan_in", INIT_FAN_IN, 0.0f, 0.0f)                   \
    X(BIAS, "bias", INIT_UNIFORM, -0.1f, 0.1f)                     \
    X(BN_WEIGHT, "bn_weight", INIT_UNIFORM, 0.5f, 1.5f)            \
    X(BN_WEIGHT_RESIDUAL, "bn_weight_residual", INIT_UNIFORM, 0.0f, 0.5f) \
    X(BN_BIAS, "bn_bias", INIT_UNIFORM, -0.1f, 0.1f)               \
    X(BN_MEAN, "bn_running_mean", INIT_UNIFORM, -0.1f, 0.1f)       \
    X(BN_VAR, "bn_running_var", INIT_UNIFORM, 0.5f, 1.5f)          \
    X(LN_WEIGHT, "ln_weight", INIT_UNIFORM, 0.8f, 1.2f)            \
    X(LN_BIAS, "ln_bias", INIT_UNIFORM, -0.1f, 0.1f)               \
    X(NORMAL, "normal", INIT_NORMAL, 0.0f, 0.0f)                   \
    X(ZEROS, "zeros", INIT_CONST, 0.0f, 0.0f)                      \
    X(ONES, "ones", INIT_CONST, 1.0f, 1.0f)

typedef enum {
#define X(e, name, kind, lo, hi) INIT_ROLE_##e,
    INIT_ROLE_LIST(X)
#undef X
    INIT_ROLE__COUNT
} InitRole;

typedef enum {
    INIT_FAN_IN,  /* uniform(-b, b), b = sqrt(6 / fan_in) */
    INIT_UNIFORM, /* uniform(lo, hi) */
    INIT_NORMAL,  /* 0.02 * (sum of 12 uniforms - 6) */
    INIT_CONST,   /* lo everywhere */
} InitKind;

const char *rt_init_role_name(InitRole r);

/*
 * The role of parameter p in g: from its `init` if it was declared with
 * param(), else from the first node that takes it as a parameter (op and
 * slot). *known is set false when no rule covers it (it then gets
 * INIT_ROLE_NORMAL); known may be NULL.
 */
InitRole rt_init_role(const IrGraph *g, const IrValue *p, bool *known);

/* The 64-bit seed of a tensor's stream: XXH64(key bytes, strlen(key), seed). */
uint64_t rt_init_stream_seed(const char *key, uint64_t seed);
/* splitmix64: advances *state and returns the next output. */
uint64_t rt_splitmix64(uint64_t *state);
/* A uniform float in [0, 1) from the top 24 bits of x. */
float rt_init_u01(uint64_t x);

/* Fills out[0..n) by role r for a tensor named key of the given shape. */
void rt_init_fill(float *out, InitRole r, const char *key, const Shape *shape, uint64_t seed);

/*
 * Binds a fresh f32 tensor to every parameter of g (replacing what was
 * bound). Warns about parameters no rule covers. Returns false after
 * reporting to d (only when a tensor cannot be allocated).
 */
bool rt_init_weights(IrGraph *g, uint64_t seed, Diag *d);

/* Prints one line per parameter, "key<TAB>role<TAB>shape", in graph order:
 * the input a reimplementation of docs/init.md needs. */
void rt_init_print_plan(const IrGraph *g, FILE *out);

#endif
