/*
 * target.c — the LLVM target machine netc compiles for, and small helpers
 * shared by the backend.
 *
 * By default code is built for the machine netc runs on: the host triple,
 * CPU (znver4 here) and its full feature string, so the kernels get
 * AVX-512. --cpu picks another CPU (with that CPU's default features, plus
 * --features if given) for bundles meant for other machines. --target may
 * only name an x86-64 triple: the kernel bitcode embedded in netc is
 * compiled for x86-64 (its data layout and calling conventions), so another
 * architecture would need its own kernel build — refused with a message
 * instead of producing a broken object.
 */
#include "llvm_internal.h"

#include <llvm-c/Target.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int llvm_host_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int llvm_threads(const LlvmOptions *o)
{
    return o->threads > 0 ? o->threads : llvm_host_threads();
}

void llvm_report(Diag *d, const char *what, LLVMErrorRef e)
{
    char *m = LLVMGetErrorMessage(e);
    diag_error(d, loc_none(), "%s: %s", what, m);
    LLVMDisposeErrorMessage(m);
}

char *llvm_prefix(const IrGraph *g)
{
    const char *name = g->name && *g->name ? g->name : "net";
    char *p = xmalloc(strlen(name) + 2), *q = p;
    if (isdigit((unsigned char)*name))
        *q++ = '_';
    for (; *name; name++)
        *q++ = isalnum((unsigned char)*name) ? *name : '_';
    *q = 0;
    return p;
}

LLVMTargetMachineRef llvm_target_machine(const LlvmOptions *o, char **triple, char **cpu, char **features,
                                         Diag *d)
{
    static bool initialized;
    if (!initialized) {
        LLVMInitializeNativeTarget();
        LLVMInitializeNativeAsmPrinter();
        LLVMInitializeNativeAsmParser();
        initialized = true;
    }
    char *t = o->triple ? LLVMNormalizeTargetTriple(o->triple) : LLVMGetDefaultTargetTriple();
    if (strncmp(t, "x86_64", 6) != 0) {
        diag_error(d, loc_none(), "--target %s: the llvm backend's kernels are built for x86-64 only", o->triple);
        LLVMDisposeMessage(t);
        return NULL;
    }
    char *err = NULL;
    LLVMTargetRef target;
    if (LLVMGetTargetFromTriple(t, &target, &err)) {
        diag_error(d, loc_none(), "target '%s': %s", t, err);
        LLVMDisposeMessage(err);
        LLVMDisposeMessage(t);
        return NULL;
    }
    /* Every string handed back is LLVM-allocated (LLVMCreateMessage), so the
     * caller frees all three with LLVMDisposeMessage. */
    bool host = !o->cpu || !strcmp(o->cpu, "native");
    char *c = host ? LLVMGetHostCPUName() : LLVMCreateMessage(o->cpu);
    char *f;
    if (host) {
        char *hf = LLVMGetHostCPUFeatures();
        if (o->features) {
            char *both = xmalloc(strlen(hf) + strlen(o->features) + 2);
            sprintf(both, "%s,%s", hf, o->features);
            f = LLVMCreateMessage(both);
            free(both);
            LLVMDisposeMessage(hf);
        } else {
            f = hf;
        }
    } else {
        f = LLVMCreateMessage(o->features ? o->features : "");
    }
    LLVMTargetMachineOptionsRef to = LLVMCreateTargetMachineOptions();
    LLVMTargetMachineOptionsSetCPU(to, c);
    LLVMTargetMachineOptionsSetFeatures(to, f);
    LLVMTargetMachineOptionsSetCodeGenOptLevel(to, o->opt_level == 0 ? LLVMCodeGenLevelNone
                                                                      : LLVMCodeGenLevelAggressive);
    LLVMTargetMachineOptionsSetRelocMode(to, LLVMRelocPIC);
    LLVMTargetMachineRef tm = LLVMCreateTargetMachineWithOptions(target, t, to);
    LLVMDisposeTargetMachineOptions(to);
    if (!tm) {
        diag_error(d, loc_none(), "cannot create a target machine for %s (cpu %s)", t, c);
        LLVMDisposeMessage(t);
        LLVMDisposeMessage(c);
        LLVMDisposeMessage(f);
        return NULL;
    }
    *triple = t, *cpu = c, *features = f;
    return tm;
}
