/*
 * llvm_internal.h — what the LLVM backend's files share: the target
 * machine, the module built for a plan, and error plumbing.
 */
#ifndef NETC_LLVM_INTERNAL_H
#define NETC_LLVM_INTERNAL_H

#include "llvm_backend.h"
#include "plan.h"

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/TargetMachine.h>

/* target.c: a target machine for o (host CPU unless overridden), or NULL
 * after reporting to d. *triple receives the triple (LLVMDisposeMessage).
 * *cpu and *features receive what was used (LLVMDisposeMessage). */
LLVMTargetMachineRef llvm_target_machine(const LlvmOptions *o, char **triple, char **cpu, char **features,
                                         Diag *d);

/* The kernel variant (an NkIsa) tm can execute, or -1 after reporting to
 * d. */
int llvm_target_isa(LLVMTargetMachineRef tm, Diag *d);

/* The C identifier netc uses as symbol and file prefix for g ("resnet50"). */
char *llvm_prefix(const IrGraph *g);

/* codegen.c: the module for p in context c — entry points PREFIX_run and
 * PREFIX_set_threads (and PREFIX_weights_data when o->embed_weights), plus
 * the kernels of p->isa as module assembly when inline_kernels; NULL after
 * reporting to d. */
LLVMModuleRef llvm_codegen(LLVMContextRef c, const Plan *p, const char *prefix, LLVMTargetMachineRef tm,
                           const LlvmOptions *o, bool inline_kernels, Diag *d);
/* The kernels of an NkIsa as an object file with global symbols, for the
 * JIT to link beside a module built without inline_kernels. */
const unsigned char *llvm_kernel_object(int isa, size_t *len);

/* timing.c: wall time per compile phase, for LlvmOptions.time_to. */
enum { LLVM_MAX_PHASES = 8 };
typedef struct LlvmTimes {
    const char *name[LLVM_MAX_PHASES];
    double ms[LLVM_MAX_PHASES];
    int n;
    double last; /* when the running phase started (ms) */
} LlvmTimes;
void llvm_times_start(LlvmTimes *t);
/* Ends the running phase as `name` and starts the next. */
void llvm_times_mark(LlvmTimes *t, const char *name);
void llvm_times_print(const LlvmTimes *t, FILE *f);

/* compile.c: what both AOT and the JIT compile from a graph — the plan,
 * the target machine, and the optimized module (in the caller's context).
 * Whoever takes a part over (LLJIT takes tm and module) sets it to NULL. */
typedef struct LlvmCompiled {
    Plan *plan;
    LLVMTargetMachineRef tm;
    char *triple, *cpu, *features; /* what tm was made with (LLVM strings) */
    char *prefix;                  /* llvm_prefix(g) */
    LLVMModuleRef module;
    LlvmTimes times;               /* phases so far; AOT and JIT add theirs */
} LlvmCompiled;

/* Lowers g (parameters bound), makes the target machine and the optimized
 * module in context c; NULL after reporting to d. */
LlvmCompiled *llvm_compile(const IrGraph *g, const LlvmOptions *o, LLVMContextRef c, bool inline_kernels,
                           Diag *d);
void llvm_compiled_free(LlvmCompiled *k);

/* Reports an LLVM error value (consuming it) as "what: message". */
void llvm_report(Diag *d, const char *what, LLVMErrorRef e);

/* The threads option resolved (0 -> host cores). */
int llvm_threads(const LlvmOptions *o);

#endif
