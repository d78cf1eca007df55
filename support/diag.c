/*
 * diag.c — printing diagnostics with the offending source line; see diag.h.
 */
#include "diag.h"
#include "arena.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct Source {
    const char *path, *text;
    size_t len;
} Source;

struct Diag {
    FILE *out;
    Source *src;
    int nsrc, cap;
    int nerrors, limit;
};

Diag *diag_new(FILE *out)
{
    Diag *d = xcalloc(1, sizeof *d);
    d->out = out;
    return d;
}

void diag_free(Diag *d)
{
    if (d && d->limit && d->nerrors > d->limit)
        fprintf(d->out, "netc: note: %d more error%s not shown (--max-errors %d)\n", d->nerrors - d->limit,
                d->nerrors - d->limit == 1 ? "" : "s", d->limit);
    if (d)
        free(d->src);
    free(d);
}

void diag_add_source(Diag *d, const char *path, const char *text, size_t len)
{
    if (d->nsrc == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 8;
        d->src = xrealloc(d->src, (size_t)d->cap * sizeof *d->src);
    }
    d->src[d->nsrc++] = (Source){path, text, len};
}

int diag_errors(const Diag *d) { return d->nerrors; }
void diag_error_silent(Diag *d) { d->nerrors++; }
void diag_set_limit(Diag *d, int max_errors) { d->limit = max_errors; }

static const Source *find_source(const Diag *d, const char *path)
{
    for (int i = d->nsrc - 1; i >= 0; i--)
        if (d->src[i].path == path || strcmp(d->src[i].path, path) == 0)
            return &d->src[i];
    return NULL;
}

/* Prints line `line` of the source and a marker under columns col..col+len. */
static void quote_line(FILE *out, const Source *s, int line, int col, int len)
{
    const char *p = s->text, *end = s->text + s->len;
    for (int l = 1; l < line && p < end; p++)
        if (*p == '\n')
            l++;
    if (p >= end && line > 1)
        return;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
        eol = end;
    int width = (int)(eol - p);
    fprintf(out, "%5d | %.*s\n      | ", line, width, p);
    /* Keep tabs so the caret lines up under the quoted text. */
    for (int i = 0; i < col - 1 && i < width; i++)
        fputc(p[i] == '\t' ? '\t' : ' ', out);
    fputc('^', out);
    for (int i = 1; i < len && col - 1 + i < width; i++)
        fputc('~', out);
    fputc('\n', out);
}

void diag_report(Diag *d, Severity sev, Loc loc, const char *fmt, ...)
{
    static const char *const label[] = {"error", "warning", "note"};
    if (sev == SEV_ERROR)
        d->nerrors++;
    if (d->limit && d->nerrors > d->limit)
        return;
    if (loc.file && loc.line > 0)
        fprintf(d->out, "%s:%d:%d: %s: ", loc.file, loc.line, loc.col, label[sev]);
    else if (loc.file)
        fprintf(d->out, "%s: %s: ", loc.file, label[sev]);
    else
        fprintf(d->out, "netc: %s: ", label[sev]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
    const Source *s = loc.file && loc.line > 0 ? find_source(d, loc.file) : NULL;
    if (s)
        quote_line(d->out, s, loc.line, loc.col, loc.len);
}

void diag_file_error(Diag *d, const char *path, const char *fmt, ...)
{
    d->nerrors++;
    if (d->limit && d->nerrors > d->limit)
        return;
    fprintf(d->out, "%s: error: ", path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
}
