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

/* One hardware option over hw; false after a usage message. */
static bool apply_option(PimHardware *hw, const char *name, const char *val)
{
    if (!strcmp(name, "preset"))
        return true; /* applied first */
    char err[200];
    /* --pim-order on the command line (-O is the optimization level) is the
     * program's `order`. */
    const char *key = strcmp(name, "pim-order") ? name : "order";
    if (pim_hardware_set(hw, key, val, err, sizeof err))
        return true;
    if (key == name)
        fprintf(stderr, "netc: error: --%s\n", err); /* the message starts with the key */
    else
        fprintf(stderr, "netc: error: --%s: %s\n", name, err);
    return false;
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
