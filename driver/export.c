/*
 * export.c — `netc export FILE.net|FILE.ir --weights W [--passes=...]
 * --format=torch|int -o OUT.safetensors`: the graph's weights after the
 * passes, for use outside netc (runtime/export.h, docs/quantization.md):
 *
 *   torch  the source's state_dict with the fake-quantized values, which
 *          PyTorch's load_state_dict(strict=True) takes unchanged
 *   int    the quantized weights as integers beside their scales
 *
 * Like every command it gets its graph from netc_pipeline (no passes
 * unless --passes or -O is given: export writes what it is asked for). The
 * file is written atomically, and only once everything mapped: on any
 * error nothing is written.
 */
#include "../runtime/export.h"
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -o and --format as export needs them; false after a usage message. */
static bool check_usage(const Cli *cli)
{
    const char *out = cli->output;
    if (!out) {
        fprintf(stderr, "netc: error: export needs -o OUT.safetensors\n");
        return false;
    }
    if (!netc_has_suffix(out, ".safetensors") || !strcmp(out, ".safetensors") ||
        netc_has_suffix(out, "/.safetensors")) {
        fprintf(stderr, "netc: error: export writes safetensors: -o must name a FILE.safetensors, not '%s'\n",
                out);
        return false;
    }
    if (!cli->format) {
        fprintf(stderr, "netc: error: export needs --format=torch (a PyTorch state_dict) or --format=int "
                        "(integers plus scales)\n");
        return false;
    }
    return true;
}

/* The export of g in the requested format, metadata set; false after reporting. */
static bool make_export(Session *s, const IrGraph *g, RtExport *e)
{
    bool ok;
    if (!strcmp(s->cli->format, "torch")) {
        IrGraph *src = netc_source_graph(s);
        ok = src && rt_export_torch(g, src, e, s->diag);
        ir_graph_free(src);
    } else {
        ok = rt_export_int(g, e, s->diag);
    }
    rt_tlist_set_meta(&e->tensors, "netc.format", s->cli->format);
    if (g->name)
        rt_tlist_set_meta(&e->tensors, "netc.net", g->name);
    return ok;
}

int cmd_export(Session *s)
{
    if (!check_usage(s->cli))
        return EXIT_USAGE;
    IrGraph *g = netc_pipeline(s, true);
    if (!g)
        return EXIT_INPUT;
    RtExport e = {0};
    bool ok = make_export(s, g, &e) && rt_safetensors_write(s->cli->output, &e.tensors, s->diag);
    rt_export_free(&e);
    ir_graph_free(g);
    return ok ? EXIT_OK : EXIT_INPUT;
}
