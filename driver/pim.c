/*
 * pim.c — `netc pim FILE.net|FILE.ir [--weights W] [--preset P] [hardware
 * options] [--emit json] -o OUT.pim`: the net's crossbar mapping program
 * (backends/pim, docs/pim.md).
 *
 * The hardware is the preset (--preset, default isaac) with the options
 * applied over it in command-line order. Like every command the graph
 * comes from netc_pipeline: no passes unless --passes or -O is given (a
 * ViT needs --passes=expand-mha, a quantized program
 * --passes=fold-bn,expand-mha,quantize,integerize,dce with --weights and
 * --calib). A net that does not fit the chip is an error and nothing is
 * written.
 */
#include "../backends/pim/pim.h"
#include "../backends/pim/pim_cost.h"
#include "../support/fileio.h"
#include "commands.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool bad_value(const char *name, const char *val, const char *want)
{
    fprintf(stderr, "netc: error: --%s needs %s, not '%s'\n", name, want, val);
    return false;
}

/* An integer option value in [lo, hi]. */
static bool int_value(const char *name, const char *val, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(val, &end, 10);
    if (!*val || *end || v < lo || v > hi) {
        char want[64];
        snprintf(want, sizeof want, "an integer from %d to %d", lo, hi);
        return bad_value(name, val, want);
    }
    *out = (int)v;
    return true;
}

/* One hardware option over hw; false after a usage message. */
static bool apply_option(PimHardware *hw, const char *name, const char *val)
{
    if (!strcmp(name, "preset"))
        return true; /* applied first */
    if (!strcmp(name, "xbar")) {
        int r, c, n = 0;
        if (sscanf(val, "%dx%d%n", &r, &c, &n) != 2 || val[n] || r < 1 || c < 1 || r > 4096 || c > 4096)
            return bad_value(name, val, "ROWSxCOLS with both from 1 to 4096 (e.g. 128x128)");
        hw->xbar_rows = r, hw->xbar_cols = c;
        return true;
    }
    static const struct {
        const char *name;
        size_t offset;
        int lo, hi;
    } ints[] = {
        {"cell-bits", offsetof(PimHardware, cell_bits), 1, 8},
        {"dac-bits", offsetof(PimHardware, dac_bits), 1, 8},
        {"adc-bits", offsetof(PimHardware, adc_bits), 1, 32},
        {"weight-bits", offsetof(PimHardware, weight_bits), 2, 16},
        {"act-bits", offsetof(PimHardware, act_bits), 1, 16},
        {"adcs-per-xbar", offsetof(PimHardware, adcs_per_xbar), 1, 4096},
        {"tiles", offsetof(PimHardware, tiles), 1, 1 << 20},
        {"imas-per-tile", offsetof(PimHardware, imas_per_tile), 1, 1024},
        {"xbars-per-ima", offsetof(PimHardware, xbars_per_ima), 1, 1024},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (!strcmp(name, ints[i].name))
            return int_value(name, val, ints[i].lo, ints[i].hi, (int *)((char *)hw + ints[i].offset));
    if (!strcmp(name, "adc-mode"))
        return pim_adc_mode_lookup(val, &hw->adc_mode) || bad_value(name, val, "ideal, fullscale or calibrated");
    if (!strcmp(name, "signed"))
        return pim_signed_lookup(val, &hw->sign) || bad_value(name, val, "differential, offset or twos");
    if (!strcmp(name, "convention"))
        return pim_convention_lookup(val, &hw->convention) ||
               bad_value(name, val, "im2col, whole-kernel or per-position");
    if (!strcmp(name, "rounding")) {
        if (strcmp(val, "nearest") && strcmp(val, "floor"))
            return bad_value(name, val, "nearest or floor");
        hw->rounding = val[0] == 'f' ? PIM_ROUND_FLOOR : PIM_ROUND_NEAREST;
        return true;
    }
    if (!strcmp(name, "pim-order")) {
        if (strcmp(val, "layer") && strcmp(val, "pipeline"))
            return bad_value(name, val, "layer or pipeline");
        hw->order = val[0] == 'p' ? PIM_ORDER_PIPELINE : PIM_ORDER_LAYER;
        return true;
    }
    return bad_value(name, val, "a value (unknown PIM option)");
}

bool netc_pim_hardware(const Cli *cli, PimHardware *hw)
{
    const char *preset = cli_pim_option(cli, "preset");
    preset = preset ? preset : "isaac";
    if (!pim_hardware_preset(preset, hw))
        return bad_value("preset", preset, "isaac, mnsim or neurosim");
    for (int i = 0; i < cli->npim; i++)
        if (!apply_option(hw, cli->pim[i].name, cli->pim[i].path))
            return false;
    hw->duplicate = cli->pim_duplicate;
    if ((int64_t)hw->tiles * hw->imas_per_tile * hw->xbars_per_ima > INT_MAX) {
        fprintf(stderr, "netc: error: --tiles x --imas-per-tile x --xbars-per-ima is more than %d crossbars\n",
                INT_MAX);
        return false;
    }
    return true;
}

/* The program to -o, atomically. */
static bool emit(Session *s, const PimProgram *prog, bool json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        diag_file_error(s->diag, "<memory>", "cannot open an output buffer");
        return false;
    }
    (json ? pim_print_json : pim_print)(prog, f);
    fclose(f);
    bool ok = fio_write_file(s->cli->output, buf, len, s->diag);
    free(buf);
    return ok;
}

/* `netc pim PROGRAM.pim -o OUT`: the program read back (checked against
 * its hardware and graph) and written again, as text or JSON. */
static int reread(Session *s, bool json)
{
    const Cli *cli = s->cli;
    if (cli->npim || cli->weights || cli->passes) {
        fprintf(stderr, "netc: error: a .pim input is written back as it is: no hardware options, --weights "
                        "or --passes\n");
        return EXIT_USAGE;
    }
    PimProgram prog;
    IrGraph *g;
    bool ok = pim_read_file(cli->file, &prog, &g, s->diag);
    if (ok) {
        ok = emit(s, &prog, json);
        pim_program_free(&prog);
        ir_graph_free(g);
    }
    return ok ? EXIT_OK : EXIT_INPUT;
}

/* One picture to DIR/name, atomically. */
static bool write_svg(Session *s, const char *name, const PimProgram *prog, const PimCost *cost)
{
    char *buf = NULL, path[4096];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", s->cli->plot_dir, name);
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return false;
    if (cost)
        pim_plot_layers(prog, cost, f);
    else
        pim_plot_chip(prog, f);
    fclose(f);
    bool ok = fio_write_file(path, buf, len, s->diag);
    free(buf);
    return ok;
}

/* --plot DIR: DIR/chip.svg and DIR/layers.svg (DIR is created). */
static bool plot(Session *s, const PimProgram *prog, const PimCost *cost)
{
    if (mkdir(s->cli->plot_dir, 0777) != 0 && errno != EEXIST) {
        diag_file_error(s->diag, s->cli->plot_dir, "cannot create the --plot directory: %s", strerror(errno));
        return false;
    }
    return write_svg(s, "chip.svg", prog, NULL) && write_svg(s, "layers.svg", prog, cost);
}

int cmd_pim(Session *s)
{
    const Cli *cli = s->cli;
    if (!cli->output) {
        fprintf(stderr, "netc: error: pim needs -o OUT.pim (or OUT.json with --emit json)\n");
        return EXIT_USAGE;
    }
    bool json = cli->emit && !strcmp(cli->emit, "json");
    if (cli->emit && !json) {
        fprintf(stderr, "netc: error: pim writes --emit json or the .pim text (no --emit), not '%s'\n", cli->emit);
        return EXIT_USAGE;
    }
    if (netc_has_suffix(cli->file, ".pim"))
        return reread(s, json);
    PimHardware hw;
    if (!netc_pim_hardware(cli, &hw))
        return EXIT_USAGE;
    IrGraph *g = netc_pipeline(s, cli->weights != NULL);
    if (!g)
        return EXIT_INPUT;
    PimProgram prog;
    bool ok = pim_map(g, &hw, NULL, &prog, s->diag) && pim_report_fit(&prog, cli->file, s->diag);
    ok = ok && emit(s, &prog, json);
    if (ok && (cli->pim_cost || cli->plot_dir)) {
        PimCost cost;
        if (pim_cost(&prog, &cost)) {
            if (cli->pim_cost)
                pim_cost_print(&prog, &cost, stdout);
            if (cli->plot_dir)
                ok = plot(s, &prog, &cost);
            pim_cost_free(&cost);
        } else {
            diag_file_error(s->diag, cli->file, "the cost model cannot evaluate this program (a layer or the "
                                                "hardware has no size or no read time)");
            ok = false;
        }
    }
    pim_program_free(&prog);
    ir_graph_free(g);
    return ok ? EXIT_OK : EXIT_INPUT;
}
