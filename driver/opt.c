/*
 * opt.c — `netc opt FILE.net|FILE.ir [--weights W] --passes=... -o OUT.ir`:
 * the graph after the pass pipeline, saved so that any command can load it
 * again and compute the same bits as the in-memory pipeline:
 *
 *   OUT.ir           the IR text (ir_print)
 *   OUT.safetensors  every bound parameter, when the graph has weights;
 *                    metadata netc.ir = "OUT.ir" and netc.ir_hash = the
 *                    hash of OUT.ir's text, checked when the pair is
 *                    loaded again (pipeline.c)
 *
 * The two files are one result, so neither replaces an old file until both
 * are complete: each is written to a temporary file first, then the IR is
 * committed (flush, fsync, rename: the step that can fail) and the weights
 * renamed after it. Should that last rename fail, the hash check refuses the
 * mismatched pair instead of computing with it.
 */
#include "../runtime/safetensors.h"
#include "../runtime/weights.h"
#include "../support/fileio.h"
#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool has_weights(const IrGraph *g)
{
    for (int i = 0; i < g->nparams; i++)
        if (g->params[i]->data)
            return true;
    return false;
}

/* Writes g as ir_path and, with weights, the .safetensors of the same stem. */
static bool write_pair(Session *s, const IrGraph *g, const char *ir_path)
{
    size_t len;
    char *text = netc_print(s, g, ir_print, &len);
    if (!text)
        return false;

    size_t stem = strlen(ir_path) - strlen(".ir");
    char *st_path = xmalloc(stem + 64), *st_tmp = xmalloc(stem + 64);
    snprintf(st_path, stem + 64, "%.*s.safetensors", (int)stem, ir_path);
    snprintf(st_tmp, stem + 64, "%s.tmp%ld", st_path, (long)getpid());
    bool weights = has_weights(g), ok;
    FioAtomic ir;
    if ((ok = fio_atomic_open(&ir, ir_path, s->diag))) {
        fio_atomic_write(&ir, text, len);
        if (weights) {
            TensorList w = {0};
            char hash[NETC_IR_HASH_LEN + 1];
            netc_ir_hash(text, len, hash);
            const char *base = strrchr(ir_path, '/');
            ok = rt_weights_export(g, &w, s->diag);
            rt_tlist_set_meta(&w, "netc.ir", base ? base + 1 : ir_path);
            rt_tlist_set_meta(&w, "netc.ir_hash", hash);
            if (g->name)
                rt_tlist_set_meta(&w, "netc.net", g->name);
            ok = ok && rt_safetensors_write(st_tmp, &w, s->diag);
            rt_tlist_free(&w);
        }
        if (ok)
            ok = fio_atomic_commit(&ir, s->diag);
        else
            fio_atomic_abort(&ir);
        if (ok && weights && rename(st_tmp, st_path) != 0) {
            diag_file_error(s->diag, st_path, "cannot rename %s into place: %s (%s was written without it)",
                            st_tmp, strerror(errno), ir_path);
            ok = false;
        }
        if (weights && !ok)
            unlink(st_tmp);
    }
    free(st_path);
    free(st_tmp);
    free(text);
    return ok;
}

int cmd_opt(Session *s)
{
    const char *out = s->cli->output;
    if (!out || !netc_has_suffix(out, ".ir") || !strcmp(out, ".ir") || netc_has_suffix(out, "/.ir")) {
        if (out)
            fprintf(stderr, "netc: error: opt writes IR text: -o must name a FILE.ir, not '%s'\n", out);
        else
            fprintf(stderr, "netc: error: opt needs -o OUT.ir (the weights go to OUT.safetensors beside it)\n");
        return EXIT_USAGE;
    }
    IrGraph *g = netc_pipeline(s, false);
    if (!g)
        return EXIT_INPUT;
    bool ok = write_pair(s, g, out);
    ir_graph_free(g);
    return ok ? EXIT_OK : EXIT_INPUT;
}
