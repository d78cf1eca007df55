/*
 * cli.c — parsing netc's command line; see cli.h.
 */

#include "cli.h"

#include "../passes/pass.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifndef NETC_VERSION
#define NETC_VERSION "dev"
#endif

void cli_usage(FILE *out)
{
    fputs("usage: netc <command> [options] file.net|file.ir\n"
          "\n"
          "commands:\n"
          "  check   parse and check a network; print nothing when it is correct\n"
          "  dump    print the IR as text (a .ir file is read back as well)\n"
          "  dot     print the IR as a Graphviz graph\n"
          "  stats   print per-layer and total parameters, MACs and activation memory\n"
          "  init    write deterministic weights (-o w.safetensors, --seed N)\n"
          "  run     run the network (--weights, --input, -o); the reference\n"
          "          interpreter, or native code with --backend=llvm\n"
          "  build   compile to a native bundle in directory -o: NAME.o, NAME.h,\n"
          "          NAME.weights (--weights required when the net has parameters)\n"
          "  opt     run graph passes and write the result: -o OUT.ir, and\n"
          "          OUT.safetensors beside it when the net has weights\n"
          "  export  write the (quantized) weights: -o OUT.safetensors --format=torch\n"
          "          (the source's state_dict, f32, fake-quantized weights) or\n"
          "          --format=int (quantized weights as integers plus scales)\n"
          "  pim     write the net's crossbar mapping program for a PIM accelerator:\n"
          "          -o OUT.pim (--emit json: the same as JSON); docs/pim.md\n"
          "\n"
          "options:\n"
          "  -o FILE               write the result to FILE (atomically) instead of stdout\n"
          "  -D NAME=VALUE         set a net parameter (e.g. -D image_size=64)\n"
          "  --batch N             replace the first dimension of every input with N\n"
          "  --net NAME            the net to compile when the file defines several\n"
          "  --weights FILE        .safetensors weights (strict: every key must match)\n"
          "  --seed N              seed for init (default 0)\n"
          "  --input [NAME=]FILE   an input tensor as .npy (one per net input, in order)\n"
          "  --output NAME=FILE    where run writes output NAME (default: -o for one output)\n"
          "  --max-errors N        stop printing after N errors\n"
          "  --format torch|int    what export writes: a PyTorch state_dict or integers\n"
          "graph passes (all commands but init; see docs/passes.md):\n"
          "  --passes PIPELINE     passes to run in order, e.g. fold-bn,dce or\n"
          "                        'fold-constants(max-bytes=4096)'; default: the -O\n"
          "                        level's pipeline for build, opt and run --backend=llvm,\n"
          "                        none for the other commands unless -O is given\n"
          "  --verify-each         verify the IR after every pass (default with NETC_VERIFY_EACH=1)\n"
          "  --print-after PASS|all  print the IR after that pass (or every pass) to stderr\n"
          "  --time-passes         print a table of the time each pass took to stderr\n"
          "  --calib FILE.npy      calibration batch for the quantize pass (repeatable; the\n"
          "                        first dimension may be a multiple of the input's batch)\n"
          "  --quant-budget SPEC   per-layer bits under a budget: 4MiB, 5bits, 30GBOPs\n"
          "  --quant-report FILE   what quantize chose, as JSON to FILE and a table to stderr\n"
          "  --prune SPEC          prune every weighted layer without its own @prune (docs/pruning.md):\n"
          "                        element:R[:global], nm[:N:M], channel:R[:global][:l2],\n"
          "                        block:R[:RxC][:l2] (tiles default to --xbar, else 128x128)\n"
          "  --prune-report FILE   what prune did, as JSON to FILE and a table to stderr\n",
          out);
    /* The passes' names and help come from the pass table, so this list
     * cannot go stale. */
    int npasses;
    const PassInfo *passes = pass_table(&npasses);
    for (int i = 0; i < npasses; i++)
        fprintf(out, "    %-18s  %s\n", passes[i].name, passes[i].help);
    fputs("PIM hardware (pim; docs/pim.md): --preset isaac|mnsim|neurosim (default isaac),\n"
          "  then over it --xbar RxC --cell-bits N --dac-bits N --adc-bits N --adcs-per-xbar N\n"
          "  --adc-mode ideal|fullscale|calibrated --rounding nearest|floor\n"
          "  --signed differential|offset|twos --convention im2col|whole-kernel|per-position\n"
          "  --weight-bits N --act-bits N (layers without quantization) --tiles N\n"
          "  --imas-per-tile N --xbars-per-ima N --pim-order layer|pipeline --duplicate\n"
          "  --cost: print area, latency and energy per layer and in total (docs/pim-model.md)\n"
          "native code (build, run --backend=llvm):\n"
          "  --backend ref|llvm    run with the reference interpreter (default) or LLVM\n"
          "  --threads N           most threads the code uses (default: all cores)\n"
          "  --cpu NAME            CPU to compile for (default: this machine's)\n"
          "  --features LIST       CPU features to add or remove, e.g. -avx512f\n"
          "  --target TRIPLE       x86-64 target triple (default: this machine's)\n"
          "  -O0 .. -O3            optimization level of LLVM and of the default pass\n"
          "                        pipeline (default -O3)\n"
          "  --emit obj|llvm|asm   what build writes: NAME.o, NAME.ll or NAME.s\n"
          "  --embed-weights       put the weights in the object file\n"
          "  --help, --version\n"
          "\n"
          "exit status: 0 success, 1 errors in the input (diagnostics printed),\n"
          "             2 command-line usage error\n",
          out);
}

static bool usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "netc: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(run 'netc --help' for usage)\n");
    return false;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (!*s || *end || errno || *s == '-')
        return false;
    *out = v;
    return true;
}

static bool add_named(CliNamedPath *list, int *n, const char *arg, bool need_name)
{
    if (*n == CLI_MAX_LIST)
        return usage_error("too many --input/--output options (max 64) at '%s'", arg);
    const char *eq = strchr(arg, '=');
    if (need_name && (!eq || eq == arg))
        return usage_error("expected NAME=FILE, got '%s'", arg);
    CliNamedPath p = {NULL, arg};
    if (eq && eq != arg) {
        p.name = strndup(arg, (size_t)(eq - arg));
        p.path = eq + 1;
    }
    list[(*n)++] = p;
    return true;
}

bool cli_parse(int argc, char **argv, Cli *cli, int *exit_code)
{
    memset(cli, 0, sizeof *cli);
    cli->elab.defines = cli->defines;
    *exit_code = EXIT_USAGE;
    static const char *const with_value[] = {"-o", "-D", "--batch", "--net", "--weights", "--seed",
                                             "--input", "--output", "--max-errors", "--backend",
                                             "--cpu", "--target", "--features", "--emit", "--threads",
                                             "-O", "--passes", "--print-after", "--calib",
                                             "--quant-budget", "--quant-report", "--prune", "--prune-report", "--format",
                                             /* PIM hardware (driver/pim.c checks the values) */
                                             "--preset", "--xbar", "--cell-bits", "--dac-bits", "--adc-bits",
                                             "--adc-mode", "--rounding", "--signed", "--convention", "--tiles",
                                             "--imas-per-tile", "--xbars-per-ima", "--adcs-per-xbar",
                                             "--weight-bits", "--act-bits", "--pim-order", "--plot"};
    /* Options without a value: they set a bool in cli. */
    static const struct {
        const char *name;
        size_t offset;
    } flags[] = {{"--embed-weights", offsetof(Cli, embed_weights)},
                 {"--verify-each", offsetof(Cli, verify_each)},
                 {"--time-passes", offsetof(Cli, time_passes)},
                 {"--duplicate", offsetof(Cli, pim_duplicate)},
                 {"--cost", offsetof(Cli, pim_cost)}};
    cli->opt_level = 3;
    /* The test build sets this so every pass is verified in every test. */
    const char *ve = getenv("NETC_VERIFY_EACH");
    cli->verify_each = ve && !strcmp(ve, "1");
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || !a[1]) {
            if (!cli->command)
                cli->command = a;
            else if (!cli->file)
                cli->file = a;
            else
                return usage_error("unexpected argument '%s' (one input file per run)", a);
            continue;
        }
        if (!strcmp(a, "--")) {
            options_done = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_usage(stdout);
            *exit_code = EXIT_OK;
            return false;
        }
        if (!strcmp(a, "--version")) {
            printf("netc %s\n", NETC_VERSION);
            *exit_code = EXIT_OK;
            return false;
        }
        bool *flag = NULL;
        for (size_t k = 0; k < sizeof flags / sizeof *flags; k++)
            if (!strcmp(a, flags[k].name))
                flag = (bool *)((char *)cli + flags[k].offset);
        if (flag) {
            *flag = true;
            continue;
        }
        /* Split "--opt=value", "-ovalue" and "-DNAME=V" from their values. */
        const char *opt = a, *val = NULL;
        char buf[32];
        const char *eq = strchr(a, '=');
        if (a[1] == '-' && eq) {
            size_t n = (size_t)(eq - a);
            if (n >= sizeof buf)
                return usage_error("unknown option '%s'", a);
            memcpy(buf, a, n);
            buf[n] = 0;
            opt = buf;
            val = eq + 1;
        } else if (a[1] != '-' && a[2]) {
            buf[0] = '-', buf[1] = a[1], buf[2] = 0;
            opt = buf;
            val = a + 2;
        }
        bool takes = false;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            takes |= !strcmp(opt, with_value[k]);
        if (!takes)
            return usage_error("unknown option '%s'", a);
        if (!val) {
            if (i + 1 >= argc)
                return usage_error("option '%s' needs a value", a);
            val = argv[++i];
        }
        if (!strcmp(opt, "-o"))
            cli->output = val;
        else if (!strcmp(opt, "--weights"))
            cli->weights = val;
        else if (!strcmp(opt, "--net"))
            cli->elab.net = val;
        else if (!strcmp(opt, "--input")) {
            if (!add_named(cli->inputs, &cli->ninputs, val, false))
                return false;
        } else if (!strcmp(opt, "--output")) {
            if (!add_named(cli->outputs, &cli->noutputs, val, true))
                return false;
        } else if (!strcmp(opt, "--seed")) {
            if (!parse_u64(val, &cli->seed))
                return usage_error("--seed needs a non-negative integer, not '%s'", val);
        } else if (!strcmp(opt, "--batch") || !strcmp(opt, "--max-errors")) {
            uint64_t v;
            if (!parse_u64(val, &v) || v > (1u << 30) || (v == 0 && opt[2] == 'b'))
                return usage_error(opt[2] == 'b' ? "--batch needs a positive integer, not '%s'"
                                                 : "--max-errors needs a non-negative integer, not '%s'", val);
            if (opt[2] == 'b')
                cli->elab.batch = (int64_t)v;
            else
                cli->max_errors = (int)v;
        } else if (!strcmp(opt, "--backend")) {
            if (strcmp(val, "ref") && strcmp(val, "llvm"))
                return usage_error("--backend is 'ref' or 'llvm', not '%s'", val);
            cli->backend = val;
        } else if (!strcmp(opt, "--emit")) {
            if (strcmp(val, "obj") && strcmp(val, "llvm") && strcmp(val, "asm") && strcmp(val, "json"))
                return usage_error("--emit is 'obj', 'llvm' or 'asm' (build) or 'json' (pim), not '%s'", val);
            cli->emit = val;
        } else if (!strcmp(opt, "--format")) {
            if (strcmp(val, "torch") && strcmp(val, "int"))
                return usage_error("--format is 'torch' or 'int', not '%s'", val);
            cli->format = val;
        } else if (!strcmp(opt, "--cpu")) {
            cli->cpu = val;
        } else if (!strcmp(opt, "--target")) {
            cli->target = val;
        } else if (!strcmp(opt, "--features")) {
            cli->features = val;
        } else if (!strcmp(opt, "--threads")) {
            uint64_t v;
            if (!parse_u64(val, &v) || v < 1 || v > 64)
                return usage_error("--threads needs an integer from 1 to 64, not '%s'", val);
            cli->threads = (int)v;
        } else if (!strcmp(opt, "-O")) {
            if (strlen(val) != 1 || val[0] < '0' || val[0] > '3')
                return usage_error("-O takes a level from 0 to 3, not '%s'", val);
            cli->opt_level = val[0] - '0';
            cli->opt_level_given = true;
        } else if (!strcmp(opt, "--passes")) {
            cli->passes = val; /* parsed (with column diagnostics) by the pass manager */
        } else if (!strcmp(opt, "--print-after")) {
            cli->print_after = val;
        } else if (!strcmp(opt, "--calib")) {
            if (cli->ncalib == CLI_MAX_LIST)
                return usage_error("too many --calib files at '%s'", val);
            cli->calib[cli->ncalib++] = val;
        } else if (!strcmp(opt, "--quant-budget")) {
            cli->quant_budget = val;
        } else if (!strcmp(opt, "--quant-report")) {
            cli->quant_report = val;
        } else if (!strcmp(opt, "--prune")) {
            cli->prune = val; /* parsed by the pass library, errors against "--prune" */
        } else if (!strcmp(opt, "--prune-report")) {
            cli->prune_report = val;
        } else if (!strcmp(opt, "--plot")) {
            cli->plot_dir = val;
        } else if (!strncmp(opt, "--", 2) && cli->npim < CLI_MAX_LIST &&
                   (!strcmp(opt, "--preset") || !strcmp(opt, "--xbar") || strstr(opt, "-bits") ||
                    !strcmp(opt, "--adc-mode") || !strcmp(opt, "--rounding") || !strcmp(opt, "--signed") ||
                    !strcmp(opt, "--convention") || !strcmp(opt, "--tiles") || !strcmp(opt, "--imas-per-tile") ||
                    !strcmp(opt, "--xbars-per-ima") || !strcmp(opt, "--adcs-per-xbar") ||
                    !strcmp(opt, "--pim-order"))) {
            cli->pim[cli->npim++] = (CliNamedPath){strdup(opt + 2), val};
        } else if (!strcmp(opt, "-D")) {
            const char *deq = strchr(val, '=');
            if (!deq || deq == val)
                return usage_error("-D needs NAME=VALUE, not '%s'", val);
            if (cli->elab.ndefines == CLI_MAX_LIST)
                return usage_error("too many -D options at '%s'", val);
            cli->defines[cli->elab.ndefines++] = (ElabDefine){strndup(val, (size_t)(deq - val)), deq + 1};
        }
    }
    if (!cli->command) {
        cli_usage(stderr);
        return false;
    }
    if (!cli->file)
        return usage_error("no input file (usage: netc %s [options] file.net)", cli->command);
    return true;
}

void cli_free(Cli *cli)
{
    for (int i = 0; i < cli->elab.ndefines; i++)
        free((char *)cli->defines[i].name);
    for (int i = 0; i < cli->ninputs; i++)
        free((char *)cli->inputs[i].name);
    for (int i = 0; i < cli->noutputs; i++)
        free((char *)cli->outputs[i].name);
    for (int i = 0; i < cli->npim; i++)
        free((char *)cli->pim[i].name);
}

const char *cli_pim_option(const Cli *cli, const char *name)
{
    const char *val = NULL;
    for (int i = 0; i < cli->npim; i++)
        if (!strcmp(cli->pim[i].name, name))
            val = cli->pim[i].path;
    return val;
}
