/*
 * cli.h — the command line of netc, parsed GCC-style.
 *
 *   netc <command> [options] file.net|file.ir
 *
 * Options may come before or after the file; `-o out`, `-oout`, `--seed 3`
 * and `--seed=3` are all accepted; `--` ends the options.
 */
#ifndef NETC_CLI_H
#define NETC_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../frontend/elab.h"

/* Exit codes (documented in README.md and `netc --help`). */
enum {
    EXIT_OK = 0,
    EXIT_INPUT = 1, /* the input (network, weights, tensors) has errors; diagnostics printed */
    EXIT_USAGE = 2, /* the command line is wrong */
};

enum { CLI_MAX_LIST = 64 };

typedef struct CliNamedPath {
    const char *name; /* NULL when given without NAME= */
    const char *path;
} CliNamedPath;

typedef struct Cli {
    const char *command;
    const char *file;
    const char *output;     /* -o */
    const char *weights;    /* --weights */
    uint64_t seed;          /* --seed */
    int max_errors;         /* --max-errors (0 = all) */
    ElabOptions elab;       /* --net, -D, --batch */
    ElabDefine defines[CLI_MAX_LIST];
    CliNamedPath inputs[CLI_MAX_LIST]; /* --input [NAME=]x.npy */
    int ninputs;
    CliNamedPath outputs[CLI_MAX_LIST]; /* --output NAME=y.npy */
    int noutputs;
    /* Native code (build, run --backend=llvm) */
    const char *backend;    /* --backend: "ref" (default) or "llvm" */
    const char *cpu;        /* --cpu (default: the host's) */
    const char *target;     /* --target triple (default: the host's) */
    const char *features;   /* --features "+avx2,-avx512f" */
    const char *emit;       /* --emit: obj (default), llvm, asm */
    int threads;            /* --threads (0: the host's cores) */
    int opt_level;          /* -O0..-O3 (default 3): LLVM's level, and the default pass pipeline */
    bool opt_level_given;   /* -O was on the command line (driver/pipeline.c's defaults) */
    /* Graph passes (passes/pass.h) */
    const char *passes;     /* --passes PIPELINE; NULL: the default pipeline */
    bool verify_each;       /* --verify-each, or NETC_VERIFY_EACH=1 in the environment */
    const char *print_after; /* --print-after PASS|all: the IR after it, to stderr */
    bool time_passes;       /* --time-passes: a per-pass time table on stderr */
    bool embed_weights;     /* --embed-weights */
    /* Quantization (passes/quantize.c) */
    const char *calib[CLI_MAX_LIST]; /* --calib FILE.npy, repeatable */
    int ncalib;
    const char *quant_budget; /* --quant-budget SPEC (checked by the pass manager's parser) */
    const char *quant_report; /* --quant-report FILE.json */
    const char *prune;        /* --prune SPEC: the prune pass's default for every layer */
    const char *prune_report; /* --prune-report FILE.json */
    const char *format;     /* --format: what export writes, "torch" or "int" */
    /* PIM backend (driver/pim.c): hardware options in command-line order,
     * name without "--" (preset, xbar, cell-bits, ...), applied over the
     * preset */
    CliNamedPath pim[CLI_MAX_LIST];
    int npim;
    bool pim_duplicate;     /* --duplicate: copy slow layers of a pipeline */
    bool pim_cost;          /* --cost: the cost table on stdout */
    const char *plot_dir;   /* --plot DIR */
} Cli;

/* Fills cli from argv; on a usage error prints it and returns false. Handles
 * --help and --version itself (returns false with *exit_code = 0). */
bool cli_parse(int argc, char **argv, Cli *cli, int *exit_code);
void cli_usage(FILE *out);
void cli_free(Cli *cli);
/* The last value given to the PIM hardware option --NAME, or NULL. */
const char *cli_pim_option(const Cli *cli, const char *name);

#endif
