/*
 * commands.h — what netc's command implementations share.
 *
 *   main.c      dispatch, check/dump/dot/stats
 *   pipeline.c  what every command does first: load, verify, bind, passes
 *   weights.c   init and run (commands that touch tensors)
 *   build.c     build (an AOT bundle through the LLVM backend)
 *   opt.c       opt (optimized IR and its weights, written as a pair)
 *   export.c    export (weights as a PyTorch state_dict or as integers)
 *   pim.c       pim (a crossbar mapping program, backends/pim)
 *   pim_sim.c   pim-sim (a mapping program run on the crossbar simulator)
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
    const char *ir_text; /* the input's text when it is a .ir file (in arena) */
    size_t ir_len;
} Session;

/*
 * The input file loaded (.net or .ir) and verified, --weights bound
 * (required when want_weights and the net has parameters), the pass
 * pipeline run (--passes, else the default of the command's -O level) and
 * verified again; NULL after reporting errors.
 */
IrGraph *netc_pipeline(Session *s, bool want_weights);
/* After netc_pipeline: the input file's graph again, as written (no
 * weights, no passes), for a command that maps the passes' result back to
 * the source's parameters (export); NULL after reporting. */
IrGraph *netc_source_graph(Session *s);

enum { NETC_IR_HASH_LEN = 16 };
/* The hash of IR text that ties a .safetensors file to the .ir written with
 * it (metadata netc.ir_hash): XXH3-64 as 16 hex digits. */
void netc_ir_hash(const char *text, size_t len, char out[NETC_IR_HASH_LEN + 1]);
bool netc_has_suffix(const char *s, const char *suffix);
/* print(g) into a malloc'd buffer of *len bytes; NULL after reporting. */
char *netc_print(Session *s, const IrGraph *g, void (*print)(const IrGraph *, FILE *), size_t *len);
/* Writes print(g) to -o (atomically) or stdout. */
bool netc_emit(Session *s, const IrGraph *g, void (*print)(const IrGraph *, FILE *));

/* One .npy per graph input from --input (by name or in order) into in[];
 * false after reporting (weights.c). */
bool netc_read_inputs(Session *s, const IrGraph *g, Tensor **in);
/* The outputs to -o / --output NAME=FILE (.npy, atomically), or a summary
 * on stdout without a file; false after reporting. */
bool netc_write_outputs(Session *s, const IrGraph *g, Tensor **out);

/* The LLVM backend's options from the command line. */
LlvmOptions netc_llvm_options(const Cli *cli);

int cmd_init(Session *s);
int cmd_build(Session *s);
int cmd_run(Session *s);
int cmd_opt(Session *s);
int cmd_export(Session *s);
int cmd_pim(Session *s);
int cmd_pim_sim(Session *s);

/* The PIM hardware of the command line: --preset (default isaac) with the
 * other hardware options applied in order; false after a usage message. */
struct PimHardware;
bool netc_pim_hardware(const Cli *cli, struct PimHardware *hw);

#endif
