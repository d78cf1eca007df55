/*
 * llvm_backend.h — native code for a network through LLVM 19: ahead of time
 * (an object file, a C header and a weights file: `netc build`) or in
 * process through ORC LLJIT (`netc run --backend=llvm`). Both paths compile
 * the same module, so they compute the same numbers.
 *
 *   plan.h     lowering to native-kernel calls and memory planning
 *   target.c   the target machine (host CPU, or --cpu/--target)
 *   codegen.c  the LLVM module: kernel bitcode linked in, entry points,
 *              internalized and optimized for the target
 *   compile.c  plan + target machine + optimized module: the one compile
 *              path both of these use
 *   aot.c      writing a bundle          jit.c   running in process
 *
 * The generated API (see docs/native.md): PREFIX_run(weights, activations,
 * inputs, outputs) and PREFIX_set_threads(n), PREFIX being the net's name.
 */
#ifndef NETC_LLVM_BACKEND_H
#define NETC_LLVM_BACKEND_H

#include "../../ir/ir.h"
#include <stdio.h>

typedef struct LlvmOptions {
    const char *cpu;      /* NULL or "native": the host's CPU and features */
    const char *features; /* extra/overriding features, "+avx2,-avx512f"; NULL */
    const char *triple;   /* NULL: the host's */
    int threads;          /* most threads the code may use; 0: the host's cores */
    int opt_level;        /* LLVM -O level, 0..3 (the command line's default is 3) */
    bool embed_weights;   /* put the weights in the object file */
    bool profile;         /* JIT: also PREFIX_step(i, ...) running one step */
    FILE *time_to;        /* a table of where compile time went, or NULL */
} LlvmOptions;

typedef enum { LLVM_EMIT_OBJ, LLVM_EMIT_LLVM, LLVM_EMIT_ASM } LlvmEmit;

/* Compiles g (parameters bound) into dir/NAME.{o|ll|s}, dir/NAME.h and,
 * unless embedded, dir/NAME.weights; creates dir. Files are written
 * atomically. Returns false after reporting to d. */
bool llvm_build(const IrGraph *g, const LlvmOptions *o, const char *dir, LlvmEmit emit, Diag *d);

typedef struct LlvmJit LlvmJit;

/* JIT-compiles g (parameters bound); NULL after reporting to d. */
LlvmJit *llvm_jit_compile(const IrGraph *g, const LlvmOptions *o, Diag *d);
/* Runs on tensors of the graph's input shapes (any dtype, converted to
 * f32); stores new f32 tensors in outputs[]. */
bool llvm_jit_run(LlvmJit *j, Tensor *const *inputs, Tensor **outputs, Diag *d);
/* The raw entry point on caller buffers (for benchmarks): inputs and
 * outputs are contiguous f32 in the graph's shapes. */
void llvm_jit_run_raw(LlvmJit *j, const float *const *inputs, float *const *outputs);
void llvm_jit_set_threads(LlvmJit *j, int n);

/* Per-step profiling (compiled with o->profile): the plan's steps, each one
 * kernel call, runnable alone in order. */
typedef struct LlvmStepInfo {
    const char *layer;  /* the IR node's name, or its op */
    const char *kernel; /* nk_conv2d, ... */
    int64_t flops;
    int64_t weight_bytes; /* packed weights the step reads */
} LlvmStepInfo;
int llvm_jit_steps(const LlvmJit *j);
LlvmStepInfo llvm_jit_step_info(const LlvmJit *j, int i);
void llvm_jit_run_step(LlvmJit *j, int i, const float *const *inputs, float *const *outputs);
void llvm_jit_free(LlvmJit *j);

/* The kernel variant (an NkIsa) code built with o runs, from its target
 * CPU and features; -1 after reporting to d. */
int llvm_kernel_isa(const LlvmOptions *o, Diag *d);
/* The best variant that CPU can run, which is llvm_kernel_isa's except
 * for AVX-512 VNNI: the backend does not embed those kernels yet (the int8
 * kernels are not lowered to), so code for a VNNI CPU uses AVX-512's. */
int llvm_cpu_isa(const LlvmOptions *o, Diag *d);

/* The host's number of online CPUs (the default thread count). */
int llvm_host_threads(void);

#endif
