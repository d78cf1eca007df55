/*
 * quant_internal.h — what the files of the quantize pass share:
 *   quantize.c        the pass: finds layers and activation points, quantizes
 *                     weights, inserts quantize/dequantize
 *   quant_calib.c     activation ranges from calibration batches (observers)
 *   quant_budget.c    the cost model, per-layer sensitivity, the allocation
 *                     under a budget (bit_alloc.c solves it exactly)
 *   quant_report.c    the report, as a table and as JSON
 */
#ifndef NETC_QUANT_INTERNAL_H
#define NETC_QUANT_INTERNAL_H

#include "../ir/quantizer.h"
#include "pass.h"

enum { QUANT_MAX_WEIGHTS = 2 };

/* A node with weights (conv2d, linear, mha): one bit width for all of them. */
typedef struct QuantLayer {
    IrNode *node;
    IrValue *weights[QUANT_MAX_WEIGHTS];
    int nweights;
    int64_t nparams;   /* weight elements */
    int64_t nscales;   /* scale elements the weights will carry */
    int64_t macs;
    int bits;          /* chosen */
    bool pinned;       /* by @precision(weight) or the keep-ends option */
    int act_bits;      /* bits of its data input, 0 while it stays float */
    double sens[IR_QUANT_MAX_BITS + 1]; /* sensitivity by bits; < 0: not computed */
} QuantLayer;

/* A float value that becomes dequantize(quantize(value)). */
typedef struct QuantPoint {
    IrValue *value;
    int bits;
    bool all_uses;     /* @precision(act): every reader; else only the layers' inputs */
    IrNode *readers[8]; /* the layers reading it (all_uses: may be none) */
    int nreaders;
    float min, max;    /* observed */
    IrMoments moments; /* of the observed elements, for pow2's fractional length */
    float *samples;    /* every observed element, for the percentile observer */
    int64_t nsamples, cap;
    float lo, hi;      /* the range chosen by the observer */
    IrQuantParams params;
    IrValue *scale, *zero_point; /* the parameters made for it */
} QuantPoint;

typedef struct QuantPlan {
    IrGraph *g;
    const PassEnv *env;
    Diag *d;
    QuantLayer *layers;
    int nlayers;
    QuantPoint *points;
    int npoints;
    int weight_bits, act_bits;
    bool per_channel;
    bool pow2;               /* fixed point: every scale 2^-fl (ir_quant_pow2), 8 bits */
    int percentile_bp;       /* basis points of the percentile observer; 10000: min-max */
    int sensitivity;         /* 0: output error on calibration data, 1: weight MSE */
    int64_t float_param_bytes; /* parameters that stay f32 (biases, norms, ...) */
    Tensor **runs;           /* calibration inputs, one per run of the graph */
    int nruns;
    Tensor **reference;      /* the float graph's first output on the first runs */
    int nreference;
} QuantPlan;

/* quantize.c: fake-quantizes a weight's f32 data in place at bits (per
 * output channel or per tensor) on the narrow grid, with min-max scales or
 * power-of-two ones (pow2); the scales go to scales (when non-NULL);
 * returns the squared error Σ (w − ŵ)². */
double quant_fake_weight(float *data, const Shape *shape, int bits, bool per_channel, bool pow2,
                         float *scales);

/* quant_calib.c: splits the calibration batches into runs of the graph's
 * input shape, then observes every point's range over all runs and keeps
 * the float outputs of the first ones (for sensitivities). */
bool quant_calibrate(QuantPlan *p);
void quant_calib_free(QuantPlan *p);

/* quant_budget.c */
/* Size in bytes of layer l's weights and scales at bits b. */
double quant_layer_bytes(const QuantLayer *l, int bits);
double quant_layer_bops(const QuantLayer *l, int bits);
/* Chooses every unpinned layer's bits under env's budget. */
bool quant_allocate(QuantPlan *p);

/* quant_report.c: the table to env->report_to, the JSON to env->quant_report. */
bool quant_report(const QuantPlan *p);

#endif
