/*
 * diag.h — compiler diagnostics: `file:line:col: error: message`, the source
 * line, a caret/underline under the span, and `note:` lines.
 *
 * Errors are counted, not fatal: a phase reports all it finds and the driver
 * stops at the phase boundary when diag_errors() > 0 (jq, not chibicc).
 * Source texts are registered so a diagnostic can quote its line. A Loc with
 * line 0 names only the file (used for binary inputs such as .safetensors,
 * where the message itself says the byte offset).
 */
#ifndef NETC_DIAG_H
#define NETC_DIAG_H

#include <stdbool.h>
#include <stdio.h>

typedef struct Loc {
    const char *file; /* interned path as given by the user; NULL = no place */
    int line, col;    /* 1-based; line 0 = the whole file */
    int len;          /* bytes to underline; 0 or 1 = a caret */
} Loc;

typedef enum { SEV_ERROR, SEV_WARNING, SEV_NOTE } Severity;

typedef struct Diag Diag;

Diag *diag_new(FILE *out);
/* Says how many errors the limit hid, then frees d. */
void diag_free(Diag *d);
/* Registers the text of a source file so diagnostics can quote it. The text is
 * not copied and must outlive the Diag. */
void diag_add_source(Diag *d, const char *path, const char *text, size_t len);
void diag_report(Diag *d, Severity sev, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define diag_error(d, loc, ...) diag_report((d), SEV_ERROR, (loc), __VA_ARGS__)
#define diag_warning(d, loc, ...) diag_report((d), SEV_WARNING, (loc), __VA_ARGS__)
#define diag_note(d, loc, ...) diag_report((d), SEV_NOTE, (loc), __VA_ARGS__)
/* An error about a file as a whole, e.g. `w.safetensors: error: ...`. */
void diag_file_error(Diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int diag_errors(const Diag *d);
/* Counts an error without printing it (a repeat of one already shown). */
void diag_error_silent(Diag *d);
/* Stop printing after this many errors (0 = no limit); counting goes on. */
void diag_set_limit(Diag *d, int max_errors);

static inline Loc loc_none(void) { return (Loc){0}; }

#endif
