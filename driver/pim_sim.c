/*
 * pim_sim.c — `netc pim-sim PROGRAM.pim --weights W --input X [-o Y.npy]
 * [--adc-bits N] [--adc-mode M] [--rounding R]`: the mapping program run
 * on the functional crossbar simulator (backends/pim/pim_sim.h): bit-sliced
 * weights, bit-serial inputs and the ADC model on every integer crossbar
 * layer, the reference kernels everywhere else. Prints a per-layer table
 * (crossbar reads, ADC conversions, clipped conversions, the largest error
 * of the accumulators against the exact integer sums and of each layer's
 * output against its reference kernel) and writes the outputs like `run`.
 *
 * The program fixes the mapping; the ADC options may change only how
 * partial sums are converted, so one program serves a sweep of ADC bits.
 * --adc-mode calibrated first runs the same input with an ideal ADC to see
 * each layer's largest partial sum, then sets each layer's step so that
 * nothing seen clips (pim_adc_calibrated_step). Later layers then see the
 * inputs the earlier layers' ADC errors produce, which may clip.
 *
 * Weights: the program's graph (quantized and integerized: `netc opt ...
 * --passes=...,quantize,integerize -o q.ir` writes q.ir and its weights,
 * then `netc pim q.ir -o q.pim`), bound strictly by name; when the weights
 * record netc.ir_hash, it must be the hash of the program's graph text.
 */
#include "../backends/pim/pim_sim.h"
#include "../runtime/safetensors.h"
#include "../runtime/weights.h"
#include "commands.h"
#include "run_batches.h"

#include <stdlib.h>
#include <string.h>

/* --adc-bits / --adc-mode / --rounding over the program's hardware. */
static bool adc_options(const Cli *cli, PimHardware *hw)
{
    for (int i = 0; i < cli->npim; i++) {
        const char *name = cli->pim[i].name, *val = cli->pim[i].path;
        if (!strcmp(name, "adc-bits")) {
            char *end;
            long v = strtol(val, &end, 10);
            if (!*val || *end || v < 1 || v > 32) {
                fprintf(stderr, "netc: error: --adc-bits needs an integer from 1 to 32, not '%s'\n", val);
                return false;
            }
            hw->adc_bits = (int)v;
        } else if (!strcmp(name, "adc-mode")) {
            if (!pim_adc_mode_lookup(val, &hw->adc_mode)) {
                fprintf(stderr, "netc: error: --adc-mode needs ideal, fullscale or calibrated, not '%s'\n", val);
                return false;
            }
        } else if (!strcmp(name, "rounding")) {
            if (strcmp(val, "nearest") && strcmp(val, "floor")) {
                fprintf(stderr, "netc: error: --rounding needs nearest or floor, not '%s'\n", val);
                return false;
            }
            hw->rounding = val[0] == 'f' ? PIM_ROUND_FLOOR : PIM_ROUND_NEAREST;
        } else {
            fprintf(stderr, "netc: error: pim-sim takes only the ADC options (--adc-bits, --adc-mode, "
                            "--rounding); --%s changes the mapping: run netc pim again\n", name);
            return false;
        }
    }
    return true;
}

/* --weights bound to the program's graph, its ir hash checked. */
static bool bind_weights(Session *s, IrGraph *g)
{
    const char *path = s->cli->weights;
    if (!path) {
        diag_error(s->diag, loc_none(), "pim-sim needs the program's weights: --weights FILE.safetensors");
        return false;
    }
    TensorList w = {0};
    bool ok = rt_safetensors_read(path, &w, false, s->diag);
    const char *want = ok ? rt_tlist_get_meta(&w, "netc.ir_hash") : NULL;
    if (ok && want) {
        size_t len;
        char *text = netc_print(s, g, ir_print, &len), got[NETC_IR_HASH_LEN + 1];
        if (text) {
            netc_ir_hash(text, len, got);
            if (strcmp(want, got)) {
                diag_file_error(s->diag, path,
                                "these weights were written for another graph (netc.ir_hash %s) than the one in "
                                "%s (%s)", want, s->cli->file, got);
                ok = false;
            }
            free(text);
        }
    }
    ok = ok && rt_weights_bind(g, &w, path, true, s->diag);
    rt_tlist_free(&w);
    return ok;
}

static void print_report(const PimProgram *p, const PimSimReport *rep)
{
    printf("PIM simulation: %s, %d-bit ADC (%s, %s rounding), %s weights\n", p->hw.preset, p->hw.adc_bits,
           pim_adc_mode_name(p->hw.adc_mode), p->hw.rounding == PIM_ROUND_FLOOR ? "floor" : "nearest",
           pim_signed_name(p->hw.sign));
    printf("%-44s %5s %12s %14s %12s %12s %10s\n", "layer", "w/a", "xbar reads", "conversions", "clipped",
           "acc err", "out err");
    for (int i = 0; i < rep->nlayers; i++) {
        const PimLayerReport *r = &rep->layers[i];
        const PimLayer *L = &p->layers[i];
        char bits[16], out[32];
        snprintf(bits, sizeof bits, "%d/%d", L->weight_bits, L->act_bits);
        snprintf(out, sizeof out, r->output_checked ? "%.6g" : "-", r->out_max_abs_err);
        printf("%-44.44s %5s %12lld %14lld %12lld %12lld %10s\n", r->name ? r->name : "", bits,
               (long long)r->stats.xbar_evals, (long long)r->stats.adc_conversions,
               (long long)r->stats.adc_clipped, (long long)r->stats.max_abs_err, out);
    }
    printf("total: %lld crossbar reads, %lld conversions, %lld clipped; largest accumulator error %lld\n",
           (long long)rep->total.xbar_evals, (long long)rep->total.adc_conversions,
           (long long)rep->total.adc_clipped, (long long)rep->total.max_abs_err);
}

/* One batch through the simulator, its report merged into the total. */
typedef struct SimRunner {
    const PimProgram *p;
    const PimSimOptions *opt;
    PimSimReport total;
    Diag *d;
} SimRunner;

static void merge_stats(PimSimStats *into, const PimSimStats *s)
{
    into->xbar_evals += s->xbar_evals;
    into->adc_conversions += s->adc_conversions;
    into->adc_clipped += s->adc_clipped;
    into->psum_max = s->psum_max > into->psum_max ? s->psum_max : into->psum_max;
    into->max_abs_err = s->max_abs_err > into->max_abs_err ? s->max_abs_err : into->max_abs_err;
    into->exact_checked |= s->exact_checked;
}

static bool run_batch(void *ctx, Tensor **in, Tensor **out)
{
    SimRunner *r = ctx;
    PimSimReport rep = {0};
    bool ok = pim_sim_run(r->p, in, out, r->opt, &rep, r->d);
    if (ok && !r->total.layers) {
        r->total.nlayers = rep.nlayers;
        r->total.layers = xcalloc((size_t)rep.nlayers + 1, sizeof *r->total.layers);
        for (int i = 0; i < rep.nlayers; i++)
            r->total.layers[i].name = rep.layers[i].name;
    }
    for (int i = 0; ok && i < rep.nlayers; i++) {
        PimLayerReport *t = &r->total.layers[i];
        merge_stats(&t->stats, &rep.layers[i].stats);
        t->runs += rep.layers[i].runs;
        t->output_checked |= rep.layers[i].output_checked;
        if (rep.layers[i].out_max_abs_err > t->out_max_abs_err)
            t->out_max_abs_err = rep.layers[i].out_max_abs_err;
    }
    if (ok)
        merge_stats(&r->total.total, &rep.total);
    pim_sim_report_free(&rep);
    return ok;
}

/* The whole input (batches of the program's batch when it holds several). */
static bool simulate(const PimProgram *p, const IrGraph *g, Tensor **in, Tensor **out, const PimSimOptions *opt,
                     SimRunner *r, Diag *d)
{
    *r = (SimRunner){.p = p, .opt = opt, .d = d};
    int batches = netc_batches_in(g, in);
    return batches > 1 ? netc_run_batches(g, in, batches, out, run_batch, r, d) : run_batch(r, in, out);
}

static void free_runner(SimRunner *r) { free(r->total.layers); }

int cmd_pim_sim(Session *s)
{
    const Cli *cli = s->cli;
    if (!netc_has_suffix(cli->file, ".pim")) {
        fprintf(stderr, "netc: error: pim-sim runs a mapping program (FILE.pim, written by netc pim), not '%s'\n",
                cli->file);
        return EXIT_USAGE;
    }
    PimProgram prog;
    IrGraph *g = NULL;
    bool ok = pim_read_file(cli->file, &prog, &g, s->diag);
    if (!ok)
        return EXIT_INPUT;
    if (!adc_options(cli, &prog.hw)) {
        pim_program_free(&prog);
        ir_graph_free(g);
        return EXIT_USAGE;
    }
    Tensor **in = xcalloc((size_t)g->ninputs + 1, sizeof *in);
    Tensor **out = xcalloc((size_t)g->noutputs + 1, sizeof *out);
    SimRunner run = {0};
    int64_t *steps = NULL;
    ok = bind_weights(s, g) && netc_read_inputs(s, g, in);
    if (ok && prog.hw.adc_mode == PIM_ADC_CALIBRATED) {
        /* The calibration run: an ideal ADC, to see each layer's largest sum. */
        PimProgram ideal = prog;
        ideal.hw.adc_mode = PIM_ADC_IDEAL;
        ok = simulate(&ideal, g, in, out, NULL, &run, s->diag);
        steps = xcalloc((size_t)prog.nlayers + 1, sizeof *steps);
        for (int i = 0; ok && i < prog.nlayers; i++)
            steps[i] = pim_adc_calibrated_step(&prog.hw, run.total.layers[i].stats.psum_max);
        for (int i = 0; i < g->noutputs; i++)
            tensor_free(out[i]), out[i] = NULL;
        free_runner(&run);
    }
    PimSimOptions opt = {.check_exact = true, .check_output = true, .adc_steps = steps};
    ok = ok && simulate(&prog, g, in, out, &opt, &run, s->diag);
    if (ok)
        print_report(&prog, &run.total);
    ok = ok && netc_write_outputs(s, g, out);
    free_runner(&run);
    for (int i = 0; i < g->ninputs; i++)
        tensor_free(in[i]);
    for (int i = 0; i < g->noutputs; i++)
        tensor_free(out[i]);
    free(in);
    free(out);
    free(steps);
    pim_program_free(&prog);
    ir_graph_free(g);
    return ok ? EXIT_OK : EXIT_INPUT;
}
