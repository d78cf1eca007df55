/*
 * pim_parse.c — reads a .pim mapping program back (untrusted input).
 *
 * A program is determined by its hardware section and its graph: the
 * mapping in between is what pim_map derives from those two. So the reader
 * parses the hardware (every key once, every value checked) and the graph
 * (netc IR text, by ir_parse, whose messages keep the .pim's line numbers),
 * maps the graph again, and requires every other line to be the line that
 * mapping prints. A program edited by hand, truncated, or written for
 * other weights or another hardware is refused at its first differing line
 * with what was expected there; nothing is guessed. Comment lines (#) and
 * blank lines are ignored.
 */
#include "pim.h"

#include "../../support/fileio.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct Reader {
    const char *path, *text;
    size_t len, pos;
    int line; /* of the line at pos, 1-based */
    Diag *d;
} Reader;

/* The next line that is not blank or a comment: [*s, *s + *n), its number
 * in *line. False at the end of the text. */
static bool next_line(Reader *r, const char **s, size_t *n, int *line)
{
    while (r->pos < r->len) {
        const char *b = r->text + r->pos;
        const char *e = memchr(b, '\n', r->len - r->pos);
        size_t len = e ? (size_t)(e - b) : r->len - r->pos;
        r->pos += len + (e != NULL);
        *line = r->line++;
        size_t k = 0;
        while (k < len && (b[k] == ' ' || b[k] == '\t'))
            k++;
        if (k == len || b[k] == '#')
            continue;
        *s = b, *n = len;
        return true;
    }
    return false;
}

static bool fail(Reader *r, int line, int col, const char *msg, const char *arg)
{
    diag_error(r->d, ((Loc){.file = r->path, .line = line, .col = col}), msg, arg);
    return false;
}

static bool line_is(const char *s, size_t n, const char *want) { return strlen(want) == n && !memcmp(s, want, n); }

/* "  key value" of the hardware section into hw. */
static bool hardware_line(Reader *r, const char *s, size_t n, int line, PimHardware *hw, unsigned *seen)
{
    char key[32], val[64];
    size_t k = 0;
    while (k < n && s[k] == ' ')
        k++;
    int col = (int)k + 1;
    size_t ks = k;
    while (k < n && s[k] != ' ')
        k++;
    size_t vs = k + 1;
    if (k - ks >= sizeof key || k >= n || n - vs >= sizeof val || vs >= n || memchr(s + vs, ' ', n - vs))
        return fail(r, line, col, "expected '  KEY VALUE' in the hardware section%s", "");
    memcpy(key, s + ks, k - ks), key[k - ks] = 0;
    memcpy(val, s + vs, n - vs), val[n - vs] = 0;
    static const char *const keys[] = {"preset", "xbar", "cell-bits", "dac-bits", "adc-bits", "adc-mode",
                                       "rounding", "adcs-per-xbar", "weight-bits", "act-bits", "signed",
                                       "convention", "tiles", "imas-per-tile", "xbars-per-ima", "order",
                                       "duplicate"};
    int idx = -1;
    for (int i = 0; i < (int)(sizeof keys / sizeof *keys); i++)
        if (!strcmp(key, keys[i]))
            idx = i;
    if (idx < 0)
        return fail(r, line, col, "unknown hardware key '%s'", key);
    if (*seen & (1u << idx))
        return fail(r, line, col, "hardware key '%s' given twice", key);
    *seen |= 1u << idx;
    int vcol = (int)vs + 1;
    if (!strcmp(key, "preset")) {
        PimHardware base;
        if (!pim_hardware_preset(val, &base))
            return fail(r, line, vcol, "unknown preset '%s' (isaac, mnsim or neurosim)", val);
        PimHardware keep = *hw;
        *hw = base;
        /* The preset gives the cost figures; the structure is the file's. */
        PimCostParams cost = hw->cost;
        *hw = keep, hw->cost = cost, hw->preset = base.preset;
        return true;
    }
    char err[200];
    return pim_hardware_set(hw, key, val, err, sizeof err) || fail(r, line, vcol, "%s", err);
}

bool pim_parse(const char *path, const char *text, size_t len, PimProgram *prog, IrGraph **graph, Diag *d)
{
    *graph = NULL;
    memset(prog, 0, sizeof *prog);
    diag_add_source(d, path, text, len);
    Reader r = {.path = path, .text = text, .len = len, .line = 1, .d = d};
    const char *s;
    size_t n;
    int line;
    if (!next_line(&r, &s, &n, &line) || !line_is(s, n, "pim 1"))
        return fail(&r, r.line > 1 ? line : 1, 1, "expected 'pim 1' (the format and its version) first%s", "");
    if (!next_line(&r, &s, &n, &line) || !line_is(s, n, "hardware {"))
        return fail(&r, line, 1, "expected 'hardware {'%s", "");
    PimHardware hw;
    pim_hardware_preset("isaac", &hw);
    unsigned seen = 0;
    int hw_line = line;
    for (;;) {
        if (!next_line(&r, &s, &n, &line))
            return fail(&r, r.line - 1, 1, "the file ends inside the hardware section%s", "");
        if (line_is(s, n, "}"))
            break;
        if (!hardware_line(&r, s, n, line, &hw, &seen))
            return false;
    }
    if (seen != (1u << 17) - 1)
        return fail(&r, hw_line, 1, "the hardware section must give all 17 keys (docs/pim.md)%s", "");
    if ((int64_t)hw.tiles * hw.imas_per_tile * hw.xbars_per_ima > INT_MAX)
        return fail(&r, hw_line, 1, "the chip has more than INT_MAX crossbars%s", "");
    /* The body, up to "graph begin", is compared after mapping. */
    size_t body = r.pos;
    int body_line = r.line;
    const char *graph_text = NULL;
    int graph_line = 0;
    /* Blocks the program says it left out (their weights are zero, which
     * the graph without data cannot show): given to the mapping, which
     * then prints those lines back only if they are blocks it could skip. */
    int64_t (*skipped)[2] = NULL, nskipped = 0, cap_skipped = 0, layer = -1, block = 0;
    while (next_line(&r, &s, &n, &line)) {
        if (line_is(s, n, "graph begin")) {
            graph_text = r.text + r.pos, graph_line = r.line;
            break;
        }
        if (n > 6 && !memcmp(s, "layer ", 6))
            layer++, block = 0;
        else if (n > 8 && !memcmp(s, "  block ", 8)) {
            if (n > 8 && !memcmp(s + n - 8, " skipped", 8) && layer >= 0) {
                if (nskipped == cap_skipped) {
                    cap_skipped = cap_skipped ? 2 * cap_skipped : 64;
                    skipped = xrealloc(skipped, (size_t)cap_skipped * sizeof *skipped);
                }
                skipped[nskipped][0] = layer, skipped[nskipped][1] = block;
                nskipped++;
            }
            block++;
        }
    }
    if (!graph_text)
        return free(skipped), fail(&r, r.line - 1, 1, "no 'graph begin' line: the program has no graph%s", "");
    size_t graph_end = 0;
    bool ended = false;
    while (next_line(&r, &s, &n, &line))
        if (line_is(s, n, "graph end")) {
            graph_end = (size_t)(s - r.text);
            ended = true;
            break;
        }
    if (!ended)
        return free(skipped), fail(&r, r.line - 1, 1, "the graph has no 'graph end' line (truncated?)%s", "");
    if (next_line(&r, &s, &n, &line))
        return free(skipped), fail(&r, line, 1, "nothing may follow 'graph end'%s", "");
    /* ir_parse sees the graph at its own line numbers in the .pim. */
    size_t glen = graph_end - (size_t)(graph_text - text), pad = (size_t)graph_line - 1;
    char *padded = malloc(pad + glen + 1);
    if (!padded)
        return free(skipped), fail(&r, graph_line, 1, "out of memory reading the graph%s", "");
    memset(padded, '\n', pad);
    memcpy(padded + pad, graph_text, glen);
    padded[pad + glen] = 0;
    IrGraph *g = ir_parse(path, padded, pad + glen, d);
    free(padded);
    if (!g || !ir_verify(g, d)) {
        ir_graph_free(g);
        free(skipped);
        return false;
    }
    PimSkips skips = {.at = (const int64_t(*)[2])skipped, .n = nskipped};
    bool mapped = pim_map(g, &hw, &skips, prog, d);
    free(skipped);
    if (!mapped) {
        ir_graph_free(g);
        return false;
    }
    /* Every body line must be the one the mapping prints. */
    char *want = NULL;
    size_t wlen = 0;
    FILE *f = open_memstream(&want, &wlen);
    bool ok = f != NULL;
    if (f) {
        pim_print(prog, f);
        fclose(f);
        Reader w = {.path = path, .text = want, .len = wlen, .line = 1, .d = d};
        const char *ws;
        size_t wn;
        int wl;
        while (next_line(&w, &ws, &wn, &wl) && !line_is(ws, wn, "}") ) /* skip to after the hardware */
            ;
        r.pos = body, r.line = body_line;
        for (;;) {
            bool have_w = next_line(&w, &ws, &wn, &wl), have_r = next_line(&r, &s, &n, &line);
            if (have_w && line_is(ws, wn, "graph begin"))
                break;
            if (!have_r || !have_w || wn != n || memcmp(ws, s, n)) {
                char exp[200];
                snprintf(exp, sizeof exp, "%.*s", have_w ? (int)(wn < 150 ? wn : 150) : 0, have_w ? ws : "");
                diag_error(d, ((Loc){.file = path, .line = have_r ? line : r.line - 1, .col = 1}),
                           "this line is not the mapping of the program's graph on its hardware: expected '%s'",
                           exp);
                ok = false;
                break;
            }
        }
    }
    free(want);
    if (!ok) {
        pim_program_free(prog);
        ir_graph_free(g);
        return false;
    }
    *graph = g;
    return true;
}

bool pim_read_file(const char *path, PimProgram *prog, IrGraph **graph, Diag *d)
{
    size_t len;
    char *text = fio_read_all(path, (size_t)1 << 31, &len, d);
    *graph = NULL;
    if (!text)
        return false;
    bool ok = pim_parse(path, text, len, prog, graph, d);
    free(text);
    return ok;
}
