/*
 * target.c — the LLVM target machine netc compiles for, and small helpers
 * shared by the backend.
 *
 * By default code is built for the machine netc runs on: the host triple,
 * CPU and its full feature string. --cpu picks another CPU (with that
 * CPU's default features, plus --features if given) for bundles meant for
 * other machines. The kernel variant (AVX-512 with VNNI, AVX-512, AVX2 or
 * SSE2; nk_isa.h) follows from what that target machine can execute
 * (probe_isa; llvm_target_isa caps it at the variants codegen embeds).
 * --target may only name an x86-64 triple: the kernels embedded in netc
 * are x86-64 assembly, so another architecture would need its own kernel
 * build — refused with a message instead of producing a broken object.
 */
#include "llvm_internal.h"

#include <llvm-c/Target.h>

#include "../../runtime/native/nk.h"

#include <llvm-c/IRReader.h>

#include <ctype.h>
#include <stdio.h>
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

/*
 * Which kernel variant a target machine can run. The C API cannot list the
 * features a named CPU implies (only the host's), so this asks LLVM's code
 * generator: a probe module with one function per required feature set is
 * compiled to assembly for tm, and each function's code shows whether the
 * instructions exist:
 *   avx512  <64 x i8> add as one zmm vpaddb (AVX512BW) and <4 x i64>
 *           multiply as a ymm vpmullq (AVX512DQ + VL; F comes with both);
 *   vnni    (on top of avx512) a sum of adjacent i16 products added to an
 *           i32 vector, which is vpmaddwd + vpaddd without VNNI and one zmm
 *           vpdpwssd with AVX512_VNNI (AVX-VNNI alone, as on Alder Lake,
 *           gives a ymm {vex} vpdpwssd: not enough);
 *   avx2    <8 x i32> add as a ymm vpaddd (AVX2; AVX alone splits it) and
 *           <8 x float> llvm.fma as a ymm vfmadd (FMA).
 * The probes are plain IR, no target intrinsics, so they compile for any
 * CPU. "min-legal-vector-width"="512" keeps a CPU that prefers 256-bit
 * vectors from splitting the 512-bit probes. The vnni probe needs the
 * instruction selector's combines, which -O0 turns off, so the probe is
 * compiled by a target machine of tm's triple, CPU and features at the
 * default level, whatever -O says. Costs about a millisecond.
 */
static const char *const probe_ir =
    "define void @p_bw(ptr %p) #0 {\n"
    "  %a = load <64 x i8>, ptr %p\n  %s = add <64 x i8> %a, %a\n  store <64 x i8> %s, ptr %p\n"
    "  ret void\n}\n"
    "define void @p_dqvl(ptr %p) #0 {\n"
    "  %a = load <4 x i64>, ptr %p\n  %s = mul <4 x i64> %a, %a\n  store <4 x i64> %s, ptr %p\n"
    "  ret void\n}\n"
    "define void @p_vnni(ptr %p, ptr %q, ptr %r) #0 {\n"
    "  %a = load <32 x i16>, ptr %p\n  %b = load <32 x i16>, ptr %q\n  %c = load <16 x i32>, ptr %r\n"
    "  %ae = sext <32 x i16> %a to <32 x i32>\n  %be = sext <32 x i16> %b to <32 x i32>\n"
    "  %m = mul <32 x i32> %ae, %be\n"
    "  %ev = shufflevector <32 x i32> %m, <32 x i32> poison, <16 x i32> <i32 0, i32 2, i32 4, i32 6, i32 8,"
    " i32 10, i32 12, i32 14, i32 16, i32 18, i32 20, i32 22, i32 24, i32 26, i32 28, i32 30>\n"
    "  %od = shufflevector <32 x i32> %m, <32 x i32> poison, <16 x i32> <i32 1, i32 3, i32 5, i32 7, i32 9,"
    " i32 11, i32 13, i32 15, i32 17, i32 19, i32 21, i32 23, i32 25, i32 27, i32 29, i32 31>\n"
    "  %d = add <16 x i32> %ev, %od\n  %s = add <16 x i32> %d, %c\n  store <16 x i32> %s, ptr %r\n"
    "  ret void\n}\n"
    "define void @p_avx2(ptr %p) #0 {\n"
    "  %a = load <8 x i32>, ptr %p\n  %s = add <8 x i32> %a, %a\n  store <8 x i32> %s, ptr %p\n"
    "  ret void\n}\n"
    "define void @p_fma(ptr %p) #0 {\n"
    "  %a = load <8 x float>, ptr %p\n"
    "  %s = call <8 x float> @llvm.fma.v8f32(<8 x float> %a, <8 x float> %a, <8 x float> %a)\n"
    "  store <8 x float> %s, ptr %p\n  ret void\n}\n"
    "declare <8 x float> @llvm.fma.v8f32(<8 x float>, <8 x float>, <8 x float>)\n"
    "attributes #0 = { nounwind \"min-legal-vector-width\"=\"512\" }\n";

/* Whether the assembly of function fn (from its label to the next
 * function's) contains both needles. */
static bool probe_has(const char *text, const char *fn, const char *a, const char *b)
{
    char label[32];
    snprintf(label, sizeof label, "\n%s:", fn);
    const char *start = strstr(text, label);
    if (!start)
        return false;
    const char *end = strstr(start + 1, ".Lfunc_end");
    size_t n = end ? (size_t)(end - start) : strlen(start);
    char *body = xmalloc(n + 1);
    memcpy(body, start, n);
    body[n] = 0;
    bool yes = strstr(body, a) && strstr(body, b);
    free(body);
    return yes;
}

/* The best variant tm can execute, VNNI included; -1 after reporting. */
static int probe_isa(LLVMTargetMachineRef user_tm, Diag *d)
{
    char *triple = LLVMGetTargetMachineTriple(user_tm);
    char *cpu = LLVMGetTargetMachineCPU(user_tm), *features = LLVMGetTargetMachineFeatureString(user_tm);
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(LLVMGetTargetMachineTarget(user_tm), triple, cpu, features,
                                                      LLVMCodeGenLevelDefault, LLVMRelocDefault,
                                                      LLVMCodeModelDefault);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    if (!tm) {
        diag_error(d, loc_none(), "internal error: no target machine for the ISA probe (%s)", triple);
        LLVMDisposeMessage(triple);
        return -1;
    }
    LLVMContextRef c = LLVMContextCreate();
    LLVMMemoryBufferRef src = LLVMCreateMemoryBufferWithMemoryRangeCopy(probe_ir, strlen(probe_ir), "probe");
    LLVMModuleRef m = NULL;
    char *err = NULL;
    int isa = -1;
    if (LLVMParseIRInContext(c, src, &m, &err)) { /* consumes src */
        diag_error(d, loc_none(), "internal error: the ISA probe does not parse: %s", err);
        LLVMDisposeMessage(err);
        LLVMContextDispose(c);
        LLVMDisposeTargetMachine(tm);
        LLVMDisposeMessage(triple);
        return -1;
    }
    LLVMSetTarget(m, triple);
    LLVMDisposeMessage(triple);
    LLVMMemoryBufferRef out = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, m, LLVMAssemblyFile, &err, &out)) {
        diag_error(d, loc_none(), "internal error: compiling the ISA probe: %s", err);
        LLVMDisposeMessage(err);
    } else {
        size_t n = LLVMGetBufferSize(out);
        char *text = xmalloc(n + 1);
        memcpy(text, LLVMGetBufferStart(out), n);
        text[n] = 0;
        if (probe_has(text, "p_bw", "vpaddb", "%zmm") && probe_has(text, "p_dqvl", "vpmullq", "%ymm"))
            isa = probe_has(text, "p_vnni", "vpdpwssd", "%zmm") ? NK_ISA_AVX512VNNI : NK_ISA_AVX512;
        else if (probe_has(text, "p_avx2", "vpaddd", "%ymm") && probe_has(text, "p_fma", "vfmadd", "%ymm"))
            isa = NK_ISA_AVX2;
        else
            isa = NK_ISA_SSE2;
        free(text);
        LLVMDisposeMemoryBuffer(out);
    }
    LLVMDisposeModule(m);
    LLVMContextDispose(c);
    LLVMDisposeTargetMachine(tm);
    return isa;
}

/* The best variant code generation embeds kernels for (codegen.c's
 * kernel table lists every NkIsa). */
#define LLVM_EMBEDDED_ISA_MAX NK_ISA_AVX512VNNI

int llvm_target_isa(LLVMTargetMachineRef tm, Diag *d)
{
    int isa = probe_isa(tm, d);
    return isa > LLVM_EMBEDDED_ISA_MAX ? LLVM_EMBEDDED_ISA_MAX : isa;
}

/* f applied to the target machine of o. */
static int isa_for_options(const LlvmOptions *o, Diag *d, int (*f)(LLVMTargetMachineRef, Diag *))
{
    char *triple = NULL, *cpu = NULL, *features = NULL;
    LLVMTargetMachineRef tm = llvm_target_machine(o, &triple, &cpu, &features, d);
    if (!tm)
        return -1;
    int isa = f(tm, d);
    LLVMDisposeTargetMachine(tm);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    return isa;
}

int llvm_kernel_isa(const LlvmOptions *o, Diag *d) { return isa_for_options(o, d, llvm_target_isa); }

int llvm_cpu_isa(const LlvmOptions *o, Diag *d) { return isa_for_options(o, d, probe_isa); }
