/*
 * jit.c — running a network in process through ORC LLJIT.
 *
 * The module is the glue AOT builds (codegen.c) for the same target
 * machine; LLJIT is given a target machine builder made from it so the
 * machine code is the same too. The kernels are not assembled here: the
 * ISA's prebuilt object file (the same assembly, assembled when netc was
 * built) is linked beside the glue, one private copy per JIT instance.
 * The code runs from the plan's page-aligned weight blob in place (no
 * copy) and an activation arena of fresh zero pages; runs only call the
 * entry point.
 */
#include "llvm_internal.h"

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include <stdlib.h>
#include <string.h>

struct LlvmJit {
    LLVMOrcLLJITRef jit;
    Plan *plan;
    const IrGraph *g;
    void *weights;  /* the plan's blob, used in place */
    PageBuf act;    /* the activation arena */
    void (*run)(const void *, void *, const float *const *, float *const *);
    void (*set_threads)(int);
    void (*step)(int, const void *, void *, const float *const *, float *const *);
};

LlvmJit *llvm_jit_compile(const IrGraph *g, const LlvmOptions *o, Diag *d)
{
    LlvmOptions opt = *o;
    opt.embed_weights = false;
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LlvmCompiled *k = llvm_compile(g, &opt, LLVMOrcThreadSafeContextGetContext(tsc), false, d);
    LlvmJit *j = NULL;
    if (!k)
        goto out;
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(k->module, tsc);
    k->module = NULL;
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    /* The builder takes the target machine; our handle is gone. */
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder,
                                                  LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(k->tm));
    k->tm = NULL;
    LLVMOrcLLJITRef jit;
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&jit, builder);
    if (e) {
        llvm_report(d, "creating the JIT", e);
        LLVMOrcDisposeThreadSafeModule(tsm);
        goto out;
    }
    size_t obj_len = 0;
    const unsigned char *obj = llvm_kernel_object(k->plan->isa, &obj_len);
    e = LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit),
                                  LLVMCreateMemoryBufferWithMemoryRange((const char *)obj, obj_len, "nk.o", 0));
    if (!e)
        e = LLVMOrcLLJITAddLLVMIRModule(jit, LLVMOrcLLJITGetMainJITDylib(jit), tsm);
    else
        LLVMOrcDisposeThreadSafeModule(tsm);
    char name[256];
    LLVMOrcExecutorAddress run = 0, set = 0;
    if (!e) {
        snprintf(name, sizeof name, "%s_run", k->prefix);
        e = LLVMOrcLLJITLookup(jit, &run, name);
    }
    if (!e) {
        snprintf(name, sizeof name, "%s_set_threads", k->prefix);
        e = LLVMOrcLLJITLookup(jit, &set, name);
    }
    LLVMOrcExecutorAddress step = 0;
    if (!e && opt.profile) {
        snprintf(name, sizeof name, "%s_step", k->prefix);
        e = LLVMOrcLLJITLookup(jit, &step, name);
    }
    if (e) {
        llvm_report(d, "JIT compilation", e);
        LLVMConsumeError(LLVMOrcDisposeLLJIT(jit));
        goto out;
    }
    llvm_times_mark(&k->times, "JIT: glue machine code, kernels linked");
    Plan *p = k->plan;
    k->plan = NULL;
    j = xcalloc(1, sizeof *j);
    j->jit = jit;
    j->plan = p;
    j->g = g;
    j->run = (void (*)(const void *, void *, const float *const *, float *const *))run;
    j->set_threads = (void (*)(int))set;
    j->step = (void (*)(int, const void *, void *, const float *const *, float *const *))step;
    j->weights = p->weights;
    if (!pagebuf_reserve(&j->act, (size_t)(p->act_bytes ? p->act_bytes : 1))) {
        diag_error(d, loc_none(), "out of memory for %lld bytes of weights and %lld of activations",
                   (long long)p->weight_bytes, (long long)p->act_bytes);
        llvm_jit_free(j);
        j = NULL;
    }
    llvm_times_mark(&k->times, "JIT: activation arena");
    if (o->time_to)
        llvm_times_print(&k->times, o->time_to);
out:
    llvm_compiled_free(k); /* before the context its module (if still ours) lives in */
    LLVMOrcDisposeThreadSafeContext(tsc);
    return j;
}

void llvm_jit_run_raw(LlvmJit *j, const float *const *inputs, float *const *outputs)
{
    j->run(j->weights, j->act.data, inputs, outputs);
}

void llvm_jit_set_threads(LlvmJit *j, int n) { j->set_threads(n); }

int llvm_jit_steps(const LlvmJit *j) { return j->step ? j->plan->nsteps : 0; }

LlvmStepInfo llvm_jit_step_info(const LlvmJit *j, int i)
{
    const PlanStep *s = &j->plan->steps[i];
    const char *layer = s->node && s->node->name ? s->node->name : s->node ? op_info(s->node->op)->name : "output";
    return (LlvmStepInfo){.layer = layer, .kernel = s->kernel, .flops = s->flops, .weight_bytes = s->weight_bytes};
}

void llvm_jit_run_step(LlvmJit *j, int i, const float *const *inputs, float *const *outputs)
{
    j->step(i, j->weights, j->act.data, inputs, outputs);
}

bool llvm_jit_run(LlvmJit *j, Tensor *const *inputs, Tensor **outputs, Diag *d)
{
    const IrGraph *g = j->g;
    bool ok = true;
    Tensor **conv = xcalloc((size_t)g->ninputs + 1, sizeof *conv);
    const float **in = xcalloc((size_t)g->ninputs + 1, sizeof *in);
    float **out = xcalloc((size_t)g->noutputs + 1, sizeof *out);
    for (int i = 0; i < g->ninputs && ok; i++) {
        const IrValue *v = g->inputs[i];
        if (!shape_equal(&inputs[i]->shape, &v->shape)) {
            char a[160], b[160];
            diag_error(d, loc_none(), "input '%s' has shape %s, the net takes %s", v->name,
                       shape_str(&inputs[i]->shape, a, sizeof a), shape_str(&v->shape, b, sizeof b));
            ok = false;
            break;
        }
        if (inputs[i]->dtype == DT_F32) {
            in[i] = inputs[i]->data;
        } else {
            conv[i] = tensor_to_f32(inputs[i]);
            ok = conv[i] != NULL;
            in[i] = ok ? conv[i]->data : NULL;
        }
    }
    for (int i = 0; i < g->noutputs && ok; i++) {
        outputs[i] = tensor_new(DT_F32, &g->outputs[i].value->shape);
        ok = outputs[i] != NULL;
        out[i] = ok ? outputs[i]->data : NULL;
    }
    if (ok)
        llvm_jit_run_raw(j, in, out);
    for (int i = 0; i < g->ninputs; i++)
        tensor_free(conv[i]);
    for (int i = 0; i < g->noutputs && !ok; i++) {
        tensor_free(outputs[i]);
        outputs[i] = NULL;
    }
    free(conv);
    free(in);
    free(out);
    return ok;
}

void llvm_jit_free(LlvmJit *j)
{
    if (!j)
        return;
    if (j->set_threads)
        j->set_threads(1); /* stop the module's workers before its code goes */
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
    if (e)
        LLVMConsumeError(e);
    plan_free(j->plan); /* the weights with it */
    pagebuf_free(&j->act);
    free(j);
}
