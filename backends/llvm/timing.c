/*
 * timing.c — where the LLVM backend's compile time goes: wall time per
 * phase (target, lowering and weight packing, glue, object emission or JIT
 * linking, files), printed like the pass manager's --time-passes table.
 */
#include "llvm_internal.h"

#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void llvm_times_start(LlvmTimes *t)
{
    t->n = 0;
    t->last = now_ms();
}

void llvm_times_mark(LlvmTimes *t, const char *name)
{
    double now = now_ms();
    if (t->n < LLVM_MAX_PHASES) {
        t->name[t->n] = name;
        t->ms[t->n++] = now - t->last;
    }
    t->last = now;
}

void llvm_times_print(const LlvmTimes *t, FILE *f)
{
    double total = 0;
    for (int i = 0; i < t->n; i++)
        total += t->ms[i];
    fprintf(f, "===- llvm backend timing report -===\n");
    fprintf(f, "  %10s  %7s  %s\n", "wall ms", "% total", "phase");
    for (int i = 0; i < t->n; i++)
        fprintf(f, "  %10.3f  %6.1f%%  %s\n", t->ms[i], total > 0 ? 100.0 * t->ms[i] / total : 0.0, t->name[i]);
    fprintf(f, "  %10.3f  %6.1f%%  %s\n", total, 100.0, "total");
}
