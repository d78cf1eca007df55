/*
 * commands.h — what netc's command implementations share.
 *
 *   main.c     dispatch, loading (.net or .ir), check/dump/dot/stats
 *   weights.c  init and run (commands that touch tensors)
 *   build.c    build (an AOT bundle through the LLVM backend)
 */
#ifndef NETC_COMMANDS_H
#define NETC_COMMANDS_H

#include "../backends/llvm/llvm_backend.h"
#include "../ir/ir.h"
#include "cli.h"

typedef struct Session {
    Cli *cli;
    Arena *arena;
    Diag *diag;
} Session;

/* The verified graph of the input file, or NULL after reporting errors. */
IrGraph *netc_load(Session *s);
/* Writes print(g) to -o (atomically) or stdout. */
bool netc_emit(Session *s, const IrGraph *g, void (*print)(const IrGraph *, FILE *));

/* Binds --weights to g; without it, fails if g has parameters. */
bool netc_bind_weights(Session *s, IrGraph *g);
/* The LLVM backend's options from the command line. */
LlvmOptions netc_llvm_options(const Cli *cli);

int cmd_init(Session *s);
int cmd_build(Session *s);
int cmd_run(Session *s);

#endif
