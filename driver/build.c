/*
 * build.c — `netc build net.net --weights w.safetensors -o DIR`: an
 * ahead-of-time bundle (backends/llvm/aot.c).
 */
#include "commands.h"

#include <stdio.h>
#include <string.h>

int cmd_build(Session *s)
{
    if (!s->cli->output) {
        fprintf(stderr, "netc: error: build needs -o DIR (the bundle's directory)\n");
        return EXIT_USAGE;
    }
    if (s->cli->emit && !strcmp(s->cli->emit, "json")) {
        fprintf(stderr, "netc: error: build emits obj, llvm or asm; --emit json is for pim\n");
        return EXIT_USAGE;
    }
    IrGraph *g = netc_pipeline(s, true);
    if (!g)
        return EXIT_INPUT;
    const char *emit = s->cli->emit ? s->cli->emit : "obj";
    LlvmEmit kind = !strcmp(emit, "llvm") ? LLVM_EMIT_LLVM : !strcmp(emit, "asm") ? LLVM_EMIT_ASM : LLVM_EMIT_OBJ;
    LlvmOptions o = netc_llvm_options(s->cli);
    bool ok = llvm_build(g, &o, s->cli->output, kind, s->diag);
    ir_graph_free(g);
    return ok ? EXIT_OK : EXIT_INPUT;
}
