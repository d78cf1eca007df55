/*
 * compile.c — the one compile path of the LLVM backend: lowering to a plan
 * (lower.c, memplan.c), the target machine (target.c), the module linked
 * with the kernels and optimized for it (codegen.c).
 *
 * `netc build` (aot.c) and `netc run --backend=llvm` (jit.c) both start
 * here, so they cannot drift apart: the same plan, target machine and
 * optimized module, hence the same machine code and the same bits (checked
 * by tests/native_test.sh). They differ only in what they do with the
 * result: AOT emits it to files, the JIT hands it to LLJIT.
 */
#include "llvm_internal.h"

#include <stdlib.h>

LlvmCompiled *llvm_compile(const IrGraph *g, const LlvmOptions *o, LLVMContextRef c, Diag *d)
{
    Plan *p = plan_lower(g, llvm_threads(o), d);
    if (!p)
        return NULL;
    LlvmCompiled *k = xcalloc(1, sizeof *k);
    k->plan = p;
    k->tm = llvm_target_machine(o, &k->triple, &k->cpu, &k->features, d);
    if (!k->tm) {
        llvm_compiled_free(k);
        return NULL;
    }
    k->prefix = llvm_prefix(g);
    k->module = llvm_codegen(c, p, k->prefix, k->tm, k->cpu, k->features, o, d);
    if (!k->module) {
        llvm_compiled_free(k);
        return NULL;
    }
    return k;
}

void llvm_compiled_free(LlvmCompiled *k)
{
    if (!k)
        return;
    if (k->module)
        LLVMDisposeModule(k->module);
    if (k->tm)
        LLVMDisposeTargetMachine(k->tm);
    LLVMDisposeMessage(k->triple);
    LLVMDisposeMessage(k->cpu);
    LLVMDisposeMessage(k->features);
    free(k->prefix);
    plan_free(k->plan);
    free(k);
}
