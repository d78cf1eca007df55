/*
 * codegen.c — a Plan as an LLVM module.
 *
 * The module is the generated glue plus the kernel library of the plan's
 * ISA (runtime/native, compiled by clang-19 to optimized assembly when netc
 * was built, one copy per ISA, embedded as nk_asm_<isa>; see nk_isa.h and
 * CMakeLists.txt) as module-level inline assembly. Emitting the module
 * assembles the kernels (tens of milliseconds) instead of optimizing and
 * code-generating them for every network (seconds); their symbols are
 * local (cmake/kernel_asm.cmake), so each object file has its own copy.
 *
 * The glue:
 *   void PREFIX_run(const void *weights, void *activations,
 *                   const float *const *inputs, float *const *outputs)
 *       one call per plan step, nk_X(&desc_i, ptr...), where desc_i is a
 *       constant global holding the step's descriptor bytes and each ptr
 *       is a base (weights, activations, inputs[k], outputs[k]) plus a
 *       constant offset;
 *   void PREFIX_set_threads(int n)   clamps n to [1, the built-for count];
 *   void PREFIX_step(int i, weights, activations, inputs, outputs)  runs
 *       step i alone (only with o->profile, for per-layer timing);
 *   const unsigned char PREFIX_weights_data[]  with --embed-weights.
 * Kernels are declared hidden (a direct call, no PLT: the definition is in
 * the same object). The JIT leaves the assembly out and links the same
 * kernels, assembled into an object file when netc was built
 * (llvm_kernel_object), beside the glue: no assembling per network. The
 * glue is straight-line calls, so no IR optimization runs; the code
 * generator's level follows -O.
 */
#include "llvm_internal.h"

#include "../../runtime/native/nk.h"

#include <llvm-c/Analysis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char nk_asm_sse2[], nk_asm_avx2[], nk_asm_avx512[], nk_asm_avx512vnni[];
extern const unsigned long nk_asm_sse2_len, nk_asm_avx2_len, nk_asm_avx512_len, nk_asm_avx512vnni_len;
extern const unsigned char nk_obj_sse2[], nk_obj_avx2[], nk_obj_avx512[], nk_obj_avx512vnni[];
extern const unsigned long nk_obj_sse2_len, nk_obj_avx2_len, nk_obj_avx512_len, nk_obj_avx512vnni_len;

typedef struct KernelAsm {
    const unsigned char *text, *obj; /* local-symbol assembly; the object (global symbols) */
    const unsigned long *len, *obj_len;
} KernelAsm;

static const KernelAsm kernel_asm[NK_ISA_COUNT] = {
    [NK_ISA_SSE2] = {nk_asm_sse2, nk_obj_sse2, &nk_asm_sse2_len, &nk_obj_sse2_len},
    [NK_ISA_AVX2] = {nk_asm_avx2, nk_obj_avx2, &nk_asm_avx2_len, &nk_obj_avx2_len},
    [NK_ISA_AVX512] = {nk_asm_avx512, nk_obj_avx512, &nk_asm_avx512_len, &nk_obj_avx512_len},
    [NK_ISA_AVX512VNNI] = {nk_asm_avx512vnni, nk_obj_avx512vnni, &nk_asm_avx512vnni_len,
                           &nk_obj_avx512vnni_len},
};

const unsigned char *llvm_kernel_object(int isa, size_t *len)
{
    if (isa < 0 || isa >= NK_ISA_COUNT)
        return NULL;
    *len = (size_t)*kernel_asm[isa].obj_len;
    return kernel_asm[isa].obj;
}

typedef struct Gen {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMTypeRef i8, i32, i64, ptr, vd;
    const Plan *p;
    LLVMValueRef weights, act, inputs, outputs;
    LLVMValueRef started; /* i32 global: the thread pool has been set up */
    const KernelAsm *kernels;
    bool inline_kernels; /* the kernels are module assembly (else linked beside) */
    Diag *d;
} Gen;

/* Whether the kernel assembly defines name (a line "name:"). */
static bool kernels_define(const KernelAsm *k, const char *name)
{
    size_t n = strlen(name);
    const char *text = (const char *)k->text, *end = text + *k->len;
    for (const char *p = text; p + n < end; p++) {
        p = memchr(p, name[0], (size_t)(end - p));
        if (!p || p + n >= end)
            return false;
        if ((p == text || p[-1] == '\n') && !memcmp(p, name, n) && p[n] == ':')
            return true;
    }
    return false;
}

/* The declaration of kernel name taking nparams pointers, added on first
 * use; NULL after reporting when the assembly lacks it or an earlier call
 * used another arity. */
static LLVMValueRef kernel_decl(Gen *g, const char *name, unsigned nparams)
{
    LLVMValueRef fn = LLVMGetNamedFunction(g->m, name);
    if (fn) {
        if (LLVMCountParams(fn) == nparams)
            return fn;
        diag_error(g->d, loc_none(), "internal error: kernel %s is called with %u and %u arguments", name,
                   LLVMCountParams(fn), nparams);
        return NULL;
    }
    if (!kernels_define(g->kernels, name)) {
        diag_error(g->d, loc_none(), "internal error: the %s kernels have no %s",
                   nk_isa_name((NkIsa)g->p->isa), name);
        return NULL;
    }
    LLVMTypeRef ps[1 + PLAN_MAX_ARGS];
    for (unsigned k = 0; k < nparams; k++)
        ps[k] = g->ptr;
    fn = LLVMAddFunction(g->m, name, LLVMFunctionType(g->vd, ps, nparams, 0));
    if (g->inline_kernels)
        LLVMSetVisibility(fn, LLVMHiddenVisibility);
    return fn;
}

/* base + byte offset, as an i8 GEP. */
static LLVMValueRef offset_ptr(Gen *g, LLVMValueRef base, int64_t bytes)
{
    if (bytes == 0)
        return base;
    LLVMValueRef idx = LLVMConstInt(g->i64, (unsigned long long)bytes, 0);
    return LLVMBuildInBoundsGEP2(g->b, g->i8, base, &idx, 1, "");
}

/* The pointer an argument names, built at the current insertion point. */
static LLVMValueRef arg_ptr(Gen *g, PlanArg a)
{
    if (a.buf < 0)
        return LLVMConstPointerNull(g->ptr);
    const PlanBuf *b = &g->p->bufs[a.buf];
    int64_t elem = a.elem * 4;
    switch (b->kind) {
    case PB_ACT:
    case PB_SCRATCH: return offset_ptr(g, g->act, b->offset + elem);
    case PB_WEIGHT: return offset_ptr(g, g->weights, b->offset + elem);
    case PB_INPUT:
    case PB_OUTPUT: {
        LLVMValueRef idx = LLVMConstInt(g->i64, (unsigned long long)b->index, 0);
        LLVMValueRef slot = LLVMBuildInBoundsGEP2(g->b, g->ptr, b->kind == PB_INPUT ? g->inputs : g->outputs,
                                                  &idx, 1, "");
        return offset_ptr(g, LLVMBuildLoad2(g->b, g->ptr, slot, ""), elem);
    }
    }
    return NULL;
}

static LLVMValueRef const_bytes(Gen *g, const char *name, const void *bytes, size_t n, unsigned align)
{
    LLVMValueRef init = LLVMConstStringInContext2(g->c, bytes, n, 1);
    LLVMValueRef gv = LLVMAddGlobal(g->m, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetAlignment(gv, align);
    return gv;
}

static bool emit_step(Gen *g, int i)
{
    const PlanStep *s = &g->p->steps[i];
    LLVMValueRef fn = kernel_decl(g, s->kernel, (unsigned)(1 + s->nargs));
    if (!fn)
        return false;
    char name[32];
    snprintf(name, sizeof name, "desc.%d", i);
    LLVMValueRef desc = LLVMGetNamedGlobal(g->m, name);
    if (!desc) {
        desc = const_bytes(g, name, s->desc, s->desc_bytes, 8);
        LLVMSetLinkage(desc, LLVMPrivateLinkage);
        LLVMSetUnnamedAddress(desc, LLVMGlobalUnnamedAddr);
    }
    LLVMValueRef args[1 + PLAN_MAX_ARGS];
    args[0] = desc;
    for (int k = 0; k < s->nargs; k++)
        args[1 + k] = arg_ptr(g, s->args[k]);
    LLVMBuildCall2(g->b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)(1 + s->nargs), "");
    return true;
}

/* PREFIX_set_threads(n): nk_set_threads(clamp(n, 1, p->threads)), and
 * marks the pool started so an explicit call before the first run wins over
 * the default. */
static LLVMValueRef emit_set_threads(Gen *g, const char *prefix)
{
    char name[256];
    snprintf(name, sizeof name, "%s_set_threads", prefix);
    LLVMTypeRef ty = LLVMFunctionType(g->vd, &g->i32, 1, 0);
    LLVMValueRef fn = LLVMAddFunction(g->m, name, ty);
    g->started = LLVMAddGlobal(g->m, g->i32, "netc.started");
    LLVMSetInitializer(g->started, LLVMConstInt(g->i32, 0, 0));
    LLVMSetLinkage(g->started, LLVMInternalLinkage);
    LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->c, fn, "entry"));
    LLVMValueRef n = LLVMGetParam(fn, 0), one = LLVMConstInt(g->i32, 1, 0),
                 most = LLVMConstInt(g->i32, (unsigned long long)g->p->threads, 0);
    n = LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, n, one, ""), one, n, "");
    n = LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSGT, n, most, ""), most, n, "");
    LLVMValueRef set = LLVMGetNamedFunction(g->m, "nk_set_threads");
    if (!set) {
        set = LLVMAddFunction(g->m, "nk_set_threads", LLVMFunctionType(g->vd, &g->i32, 1, 0));
        if (g->inline_kernels)
            LLVMSetVisibility(set, LLVMHiddenVisibility);
    }
    LLVMBuildCall2(g->b, LLVMGlobalGetValueType(set), set, &n, 1, "");
    LLVMBuildStore(g->b, one, g->started);
    LLVMBuildRetVoid(g->b);
    return fn;
}

/* PREFIX_run: starts the built-for thread count on first use, then the
 * steps in order. */
static bool emit_run(Gen *g, const char *prefix, LLVMValueRef set_threads, LLVMValueRef embedded)
{
    char name[256];
    snprintf(name, sizeof name, "%s_run", prefix);
    LLVMTypeRef ps[4] = {g->ptr, g->ptr, g->ptr, g->ptr};
    LLVMValueRef fn = LLVMAddFunction(g->m, name, LLVMFunctionType(g->vd, ps, 4, 0));
    for (unsigned k = 0; k < 4; k++)
        LLVMAddAttributeAtIndex(fn, k + 1, LLVMCreateEnumAttribute(g->c, LLVMGetEnumAttributeKindForName("noalias", 7), 0));
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(g->c, fn, "entry"),
                      start = LLVMAppendBasicBlockInContext(g->c, fn, "start"),
                      body = LLVMAppendBasicBlockInContext(g->c, fn, "body");
    LLVMPositionBuilderAtEnd(g->b, entry);
    LLVMValueRef flag = LLVMBuildLoad2(g->b, g->i32, g->started, "");
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, flag, LLVMConstInt(g->i32, 0, 0), ""), start, body);
    LLVMPositionBuilderAtEnd(g->b, start);
    LLVMValueRef nt = LLVMConstInt(g->i32, (unsigned long long)g->p->threads, 0);
    LLVMBuildCall2(g->b, LLVMGlobalGetValueType(set_threads), set_threads, &nt, 1, "");
    LLVMBuildBr(g->b, body);
    LLVMPositionBuilderAtEnd(g->b, body);
    g->weights = embedded ? embedded : LLVMGetParam(fn, 0);
    g->act = LLVMGetParam(fn, 1);
    g->inputs = LLVMGetParam(fn, 2);
    g->outputs = LLVMGetParam(fn, 3);
    for (int i = 0; i < g->p->nsteps; i++)
        if (!emit_step(g, i))
            return false;
    LLVMBuildRetVoid(g->b);
    return true;
}

/* PREFIX_load_weights(file, weights): nk_load_weights with the plan's
 * weights-file table (weight_file.c) as a constant; returns its int. */
static bool emit_load_weights(Gen *g, const char *prefix)
{
    char name[256];
    snprintf(name, sizeof name, "%s_load_weights", prefix);
    if (!kernels_define(g->kernels, "nk_load_weights") && g->inline_kernels) {
        diag_error(g->d, loc_none(), "internal error: the %s kernels lack nk_load_weights",
                   nk_isa_name((NkIsa)g->p->isa));
        return false;
    }
    NkWeightFile *t = plan_weight_file(g->p, NULL);
    LLVMValueRef table = const_bytes(g, "netc.weight_file", t,
                                     sizeof *t + (size_t)t->nregions * sizeof t->region[0], 8);
    LLVMSetLinkage(table, LLVMPrivateLinkage);
    free(t);
    LLVMTypeRef ps[3] = {g->ptr, g->ptr, g->ptr};
    LLVMTypeRef load_ty = LLVMFunctionType(g->i32, ps, 3, 0);
    LLVMValueRef load = LLVMGetNamedFunction(g->m, "nk_load_weights");
    if (!load) {
        load = LLVMAddFunction(g->m, "nk_load_weights", load_ty);
        if (g->inline_kernels)
            LLVMSetVisibility(load, LLVMHiddenVisibility);
    }
    LLVMValueRef fn = LLVMAddFunction(g->m, name, LLVMFunctionType(g->i32, ps, 2, 0));
    LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->c, fn, "entry"));
    LLVMValueRef args[3] = {table, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1)};
    LLVMBuildRet(g->b, LLVMBuildCall2(g->b, load_ty, load, args, 3, ""));
    return true;
}

/* PREFIX_step(i, ...): a switch with one case per step. */
static bool emit_step_function(Gen *g, const char *prefix)
{
    char name[256];
    snprintf(name, sizeof name, "%s_step", prefix);
    LLVMTypeRef ps[5] = {g->i32, g->ptr, g->ptr, g->ptr, g->ptr};
    LLVMValueRef fn = LLVMAddFunction(g->m, name, LLVMFunctionType(g->vd, ps, 5, 0));
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(g->c, fn, "entry"),
                      done = LLVMAppendBasicBlockInContext(g->c, fn, "done");
    LLVMPositionBuilderAtEnd(g->b, done);
    LLVMBuildRetVoid(g->b);
    LLVMPositionBuilderAtEnd(g->b, entry);
    LLVMValueRef sw = LLVMBuildSwitch(g->b, LLVMGetParam(fn, 0), done, (unsigned)g->p->nsteps);
    g->weights = LLVMGetParam(fn, 1);
    g->act = LLVMGetParam(fn, 2);
    g->inputs = LLVMGetParam(fn, 3);
    g->outputs = LLVMGetParam(fn, 4);
    for (int i = 0; i < g->p->nsteps; i++) {
        LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(g->c, fn, "");
        LLVMAddCase(sw, LLVMConstInt(g->i32, (unsigned long long)i, 0), bb);
        LLVMPositionBuilderAtEnd(g->b, bb);
        if (!emit_step(g, i))
            return false;
        LLVMBuildBr(g->b, done);
    }
    return true;
}

static bool is_entry(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    return !strncmp(name, prefix, n) && (!strcmp(name + n, "_run") || !strcmp(name + n, "_set_threads") ||
                                         !strcmp(name + n, "_weights_data") || !strcmp(name + n, "_step") ||
                                         !strcmp(name + n, "_load_weights"));
}

/* Internal linkage for every definition but the entry points; the target's
 * CPU and features on every function body. */
static void finish_symbols(Gen *g, const char *prefix, const char *cpu, const char *features)
{
    for (LLVMValueRef f = LLVMGetFirstFunction(g->m); f; f = LLVMGetNextFunction(f)) {
        if (LLVMIsDeclaration(f))
            continue;
        size_t len;
        if (!is_entry(LLVMGetValueName2(f, &len), prefix))
            LLVMSetLinkage(f, LLVMInternalLinkage);
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                LLVMCreateStringAttribute(g->c, "target-cpu", 10, cpu, (unsigned)strlen(cpu)));
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                LLVMCreateStringAttribute(g->c, "target-features", 15, features,
                                                          (unsigned)strlen(features)));
    }
    for (LLVMValueRef v = LLVMGetFirstGlobal(g->m); v; v = LLVMGetNextGlobal(v)) {
        size_t len;
        if (!LLVMIsDeclaration(v) && !is_entry(LLVMGetValueName2(v, &len), prefix) &&
            LLVMGetLinkage(v) != LLVMPrivateLinkage)
            LLVMSetLinkage(v, LLVMInternalLinkage);
    }
}

LLVMModuleRef llvm_codegen(LLVMContextRef c, const Plan *p, const char *prefix, LLVMTargetMachineRef tm,
                           const LlvmOptions *o, bool inline_kernels, Diag *d)
{
    if (p->isa < 0 || p->isa >= NK_ISA_COUNT) {
        diag_error(d, loc_none(), "internal error: a plan for an unknown ISA %d", p->isa);
        return NULL;
    }
    char *triple = LLVMGetTargetMachineTriple(tm);
    char *cpu = LLVMGetTargetMachineCPU(tm);
    char *features = LLVMGetTargetMachineFeatureString(tm);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    char *layout = LLVMCopyStringRepOfTargetData(dl);
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext(prefix, c);
    LLVMSetTarget(m, triple);
    LLVMSetDataLayout(m, layout);
    const KernelAsm *ka = &kernel_asm[p->isa];
    if (inline_kernels)
        LLVMSetModuleInlineAsm2(m, (const char *)ka->text, (size_t)*ka->len);
    Gen g = {.c = c, .m = m, .b = LLVMCreateBuilderInContext(c), .p = p, .d = d, .kernels = ka,
             .inline_kernels = inline_kernels,
             .i8 = LLVMInt8TypeInContext(c), .i32 = LLVMInt32TypeInContext(c), .i64 = LLVMInt64TypeInContext(c),
             .ptr = LLVMPointerTypeInContext(c, 0), .vd = LLVMVoidTypeInContext(c)};
    LLVMValueRef embedded = NULL;
    if (o->embed_weights) {
        char name[256];
        snprintf(name, sizeof name, "%s_weights_data", prefix);
        embedded = const_bytes(&g, name, p->weights, (size_t)p->weight_bytes, 64);
    }
    LLVMValueRef set_threads = emit_set_threads(&g, prefix);
    bool ok = emit_run(&g, prefix, set_threads, embedded);
    if (ok && o->profile)
        ok = emit_step_function(&g, prefix);
    if (ok && !o->embed_weights)
        ok = emit_load_weights(&g, prefix);
    LLVMDisposeBuilder(g.b);
    if (ok) {
        finish_symbols(&g, prefix, cpu, features);
        char *msg = NULL;
        if (LLVMVerifyModule(m, LLVMReturnStatusAction, &msg)) {
            diag_error(d, loc_none(), "internal error: the generated module does not verify: %s", msg);
            ok = false;
        }
        LLVMDisposeMessage(msg);
    }
    if (!ok) {
        LLVMDisposeModule(m);
        m = NULL;
    }
    LLVMDisposeMessage(layout);
    LLVMDisposeTargetData(dl);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    return m;
}
