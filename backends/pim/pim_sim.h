/*
 * pim_sim.h — a mapped net run end to end with its crossbar layers
 * simulated (the engine of `netc pim-sim`): the reference interpreter runs
 * the graph, and every integer crossbar layer (qconv2d, qlinear) is
 * computed by pim_xbar_layer instead of its reference kernel, then given
 * the reference's own bias and requantization epilogue
 * (ref_qlayer_epilogue), so the only difference from rt_interp_run is what
 * the crossbars and ADCs do to the accumulators. Everything else (pooling,
 * additions, quantize / dequantize, matmuls of two activations) runs its
 * reference kernel, as the tiles' digital units would compute it exactly.
 */
#ifndef NETC_PIM_SIM_H
#define NETC_PIM_SIM_H

#include "pim.h"
#include "pim_xbar_sim.h"

typedef struct PimSimOptions {
    bool check_exact;         /* per layer: acc against the exact integer sum (stats.max_abs_err) */
    bool check_output;        /* per layer: its output against the reference kernel's on the same input */
    const int64_t *adc_steps; /* calibrated ADC: the step of each layer, by index into p->layers
                               * (see pim_adc_calibrated_step); required in that mode */
} PimSimOptions;

typedef struct PimLayerReport {
    const char *name;         /* the layer's */
    int runs;                 /* times the graph ran it (0: not reached) */
    PimSimStats stats;        /* counts summed over runs, maxima over runs */
    bool output_checked;
    double out_max_abs_err;   /* max |y − y_ref| of its f32 output (u8 codes or f32 values) */
} PimLayerReport;

typedef struct PimSimReport {
    int nlayers;
    PimLayerReport *layers;   /* by index into p->layers */
    PimSimStats total;        /* over every layer: counts summed, maxima taken */
} PimSimReport;

/*
 * Runs p->graph on inputs (as rt_interp_run: exactly the graph inputs'
 * dtypes and shapes; outputs[i] a new f32 tensor for each graph output,
 * which the caller frees) with every crossbar layer simulated on p->hw.
 * opt may be NULL (no checks). rep may be NULL; otherwise it is filled
 * (free with pim_sim_report_free, also after a failure). A crossbar layer
 * that is a float conv2d / linear is an error naming it: the simulator
 * needs the integer layers of the quantize and integerize passes. Errors
 * go to d; false then, with outputs[] NULL.
 */
bool pim_sim_run(const PimProgram *p, Tensor *const *inputs, Tensor **outputs, const PimSimOptions *opt,
                 PimSimReport *rep, Diag *d);
void pim_sim_report_free(PimSimReport *rep);

#endif
