/*
 * compile.c — the one compile path of the LLVM backend: the target machine
 * and its kernel variant (target.c), lowering to a plan for those kernels
 * (lower.c, memplan.c), the module of glue plus kernels (codegen.c).
 *
 * `netc build` (aot.c) and `netc run --backend=llvm` (jit.c) both start
 * here, so they cannot drift apart: the same plan, target machine and
 * optimized module, hence the same machine code and the same bits (checked
 * by tests/native_test.sh). They differ only in what they do with the
 * result: AOT emits it to files, the JIT hands it to LLJIT. (The kernels
 * reach the machine code two ways — module assembly for AOT, the same
 * assembly pre-assembled for the JIT — with the same bytes.)
 */
#include "llvm_internal.h"

#include <stdlib.h>

LlvmCompiled *llvm_compile(const IrGraph *g, const LlvmOptions *o, LLVMContextRef c, bool inline_kernels,
                           Diag *d)
{
    LlvmCompiled *k = xcalloc(1, sizeof *k);
    llvm_times_start(&k->times);
    k->tm = llvm_target_machine(o, &k->triple, &k->cpu, &k->features, d);
    int isa = k->tm ? llvm_target_isa(k->tm, d) : -1;
    llvm_times_mark(&k->times, "target machine, kernel ISA");
    /* The target's kernels decide the weight layout, so lowering follows. */
    k->plan = isa >= 0 ? plan_lower(g, llvm_threads(o), isa, d) : NULL;
    llvm_times_mark(&k->times, "lowering, weight packing, memory plan");
    if (!k->plan) {
        llvm_compiled_free(k);
        return NULL;
    }
    k->prefix = llvm_prefix(g);
    k->module = llvm_codegen(c, k->plan, k->prefix, k->tm, o, inline_kernels, d);
    llvm_times_mark(&k->times, "glue module");
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
