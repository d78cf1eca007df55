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

/* The C identifier netc uses as symbol and file prefix for g ("resnet50"). */
char *llvm_prefix(const IrGraph *g);

/* codegen.c: the optimized module for p in context c, with entry points
 * PREFIX_run and PREFIX_set_threads (and PREFIX_weights_data when
 * o->embed_weights); NULL after reporting to d. */
LLVMModuleRef llvm_codegen(LLVMContextRef c, const Plan *p, const char *prefix, LLVMTargetMachineRef tm,
                           const char *cpu, const char *features, const LlvmOptions *o, Diag *d);

/* Reports an LLVM error value (consuming it) as "what: message". */
void llvm_report(Diag *d, const char *what, LLVMErrorRef e);

/* The threads option resolved (0 -> host cores). */
int llvm_threads(const LlvmOptions *o);

#endif
