/*
 * main.c — netc's commands. Each command gets its graph from
 * netc_pipeline (pipeline.c: load -> verify -> bind -> passes -> verify),
 * then acts and writes its output atomically. Errors are printed as
 * diagnostics by the module that found them; main only maps "had errors"
 * to the exit code.
 */
#include "../ir/ir.h"
#include "../support/fileio.h"
#include "cli.h"
#include "commands.h"

#include <stdlib.h>
#include <string.h>

char *netc_print(Session *s, const IrGraph *g, void (*print)(const IrGraph *, FILE *), size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) {
        diag_file_error(s->diag, "<memory>", "cannot open an output buffer");
        return NULL;
    }
    print(g, f);
    fclose(f);
    return buf;
}

/* Runs print(g, f) into memory, then writes it to -o atomically or stdout. */
bool netc_emit(Session *s, const IrGraph *g, void (*print)(const IrGraph *, FILE *))
{
    size_t len;
    char *buf = netc_print(s, g, print, &len);
    if (!buf)
        return false;
    bool ok = true;
    if (s->cli->output)
        ok = fio_write_file(s->cli->output, buf, len, s->diag);
    else
        ok = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0;
    free(buf);
    return ok;
}

static void print_stats(const IrGraph *g, FILE *out) { ir_stats(g, out); }

static int cmd_check(Session *s)
{
    IrGraph *g = netc_pipeline(s, false);
    ir_graph_free(g);
    return g ? EXIT_OK : EXIT_INPUT;
}

static int cmd_print(Session *s, void (*print)(const IrGraph *, FILE *))
{
    IrGraph *g = netc_pipeline(s, false);
    if (!g)
        return EXIT_INPUT;
    bool ok = netc_emit(s, g, print);
    ir_graph_free(g);
    return ok ? EXIT_OK : EXIT_INPUT;
}

static const struct {
    const char *name;
    int (*run)(Session *s);
    void (*print)(const IrGraph *, FILE *);
} commands[] = {
    {"check", cmd_check, NULL},
    {"dump", NULL, ir_print},
    {"dot", NULL, ir_print_dot},
    {"stats", NULL, print_stats},
    {"init", cmd_init, NULL},
    {"run", cmd_run, NULL},
    {"build", cmd_build, NULL},
    {"opt", cmd_opt, NULL},
    {"export", cmd_export, NULL},
    {"pim", cmd_pim, NULL},
    {"pim-sim", cmd_pim_sim, NULL},
};

int main(int argc, char **argv)
{
    Cli cli;
    int code;
    if (!cli_parse(argc, argv, &cli, &code))
        return code;
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(cli.command, commands[i].name))
            continue;
        Session s = {.cli = &cli, .arena = arena_new(), .diag = diag_new(stderr)};
        diag_set_limit(s.diag, cli.max_errors);
        code = commands[i].run ? commands[i].run(&s) : cmd_print(&s, commands[i].print);
        if (code == EXIT_OK && diag_errors(s.diag) > 0)
            code = EXIT_INPUT;
        diag_free(s.diag);
        arena_free(s.arena);
        cli_free(&cli);
        return code;
    }
    fprintf(stderr, "netc: error: unknown command '%s' (run 'netc --help' for usage)\n", cli.command);
    cli_free(&cli);
    return EXIT_USAGE;
}
