/*
 * elab.h — elaboration: from parsed .net files to an IR graph.
 *
 * Elaboration runs the network description as a compile-time program: it
 * loads imports, evaluates integer/float/bool/string/list expressions,
 * unrolls loops, chooses conditional branches, expands block calls with
 * their own scopes, names every instance by its dotted path, creates the
 * learned parameters and builds IR nodes, inferring every shape on the way
 * (the shape rules live in ir/ops.c). All errors of the phase are reported
 * with the source line and notes for the chain of block calls that led
 * there; a failed expression yields a poison value so one mistake does not
 * cascade into many messages.
 */
#ifndef NETC_ELAB_H
#define NETC_ELAB_H

#include "../ir/ir.h"
#include "ast.h"

typedef struct ElabDefine {
    const char *name, *value; /* -D name=value, value as written */
} ElabDefine;

typedef struct ElabOptions {
    const char *net;    /* entry net name; NULL = the only net of the main file */
    int ndefines;
    const ElabDefine *defines;
    int64_t batch;      /* > 0: replaces the first dimension of every input */
} ElabOptions;

/* Parses path and its imports and elaborates the entry net. Returns NULL
 * when any error was reported to d. Source texts are kept in a (which must
 * outlive d's use). */
IrGraph *elab_file(Arena *a, Diag *d, const char *path, const ElabOptions *opt);

#endif
