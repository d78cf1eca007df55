/*
 * elab_impl.h — what the elaborator's files share (not for other modules).
 *
 *   loader.c     reads the main file and its imports, finds every block
 *   elab.c       statements, expressions, block calls, seq, names
 *   elab_call.c  operator calls (arguments -> attributes, parameters, node)
 *                and compile-time builtins (dim, rank, len, min, max, param)
 */
#ifndef NETC_ELAB_IMPL_H
#define NETC_ELAB_IMPL_H

#include "../support/strmap.h"
#include "elab.h"

/* ---- compile-time values ---- */

typedef enum { V_POISON, V_INT, V_FLOAT, V_BOOL, V_STRING, V_LIST, V_TENSOR } ValKind;

typedef struct Val Val;
struct Val {
    ValKind kind; /* V_POISON: an error was already reported; stay quiet */
    int64_t i;
    double f;
    bool b;
    const char *s;
    int n;
    Val *items;   /* V_LIST */
    IrValue *t;   /* V_TENSOR */
};

static inline Val val_poison(void) { return (Val){.kind = V_POISON}; }
static inline Val val_int(int64_t i) { return (Val){.kind = V_INT, .i = i}; }
static inline Val val_float(double f) { return (Val){.kind = V_FLOAT, .f = f}; }
static inline Val val_bool(bool b) { return (Val){.kind = V_BOOL, .b = b}; }
static inline Val val_tensor(IrValue *t) { return (Val){.kind = V_TENSOR, .t = t}; }
const char *val_kind_name(ValKind k);
/* Renders a value for messages and name templates ("64", "[1, 2]", "f32[1, 3]"). */
const char *val_str(Arena *a, const Val *v);

/* ---- loader.c ---- */

typedef struct Program {
    StrMap *blocks;       /* name -> AstBlock* over all loaded files */
    AstFile *main;
} Program;

/* NULL when a file cannot be read or parsed, or names clash (reported). */
Program *prog_load(Arena *a, Diag *d, const char *path);

/* ---- elab.c ---- */

typedef struct SeqCtx {
    const char *path; /* instance path of the seq; children are path.N */
    int next_index;   /* the number of the next unnamed child */
    int children;     /* children so far, named or numbered */
    Val last;         /* `_` */
} SeqCtx;

typedef struct Frame Frame;
struct Frame {
    Frame *caller;
    const AstBlock *block;
    Loc call_loc;         /* where this block was called */
    StrMap *vars;         /* name -> Val* */
    const char *prefix;   /* instance path of this scope; "" at net level,
                             NULL inside a block called without a name */
    SeqCtx *seq;          /* innermost seq being built, or NULL */
    bool returned;
    Val ret;
};

typedef struct Ctx {
    Arena *arena;
    Diag *diag;
    Program *prog;
    IrGraph *g;
    Frame *frame;
    int64_t batch;        /* --batch: first dim of every input, 0 = as declared */
    int depth;            /* nested block calls, bounded */
    int expr_depth;       /* nested expression evaluation, bounded */
    int64_t work;         /* statements executed, bounded so nothing hangs */
    bool halted;          /* a failed assert or a size limit stops elaboration */
    IrAnnot *annots;      /* annotations in force for nodes being created */
    int nannots, cap_annots;
    int direct_from;      /* annots[direct_from..] are the innermost statement's */
    StrMap *checked_annots; /* annotations already validated (by address) */
    StrMap *reported;     /* "loc: message" of errors printed, so a loop
                             repeating a mistake reports it once */
} Ctx;

/* Reports an error at loc, then a note for each block call on the stack. */
void elab_error(Ctx *c, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
Val eval_expr(Ctx *c, const AstExpr *e, const char *inst);
/* Dotted instance path prefix.name; NULL when the scope has no name. */
const char *inst_join(Ctx *c, const char *prefix, const char *name);

/* ---- elab_call.c ---- */

/* Evaluates a call of an operator or builtin; returns false (and leaves
 * *out untouched) when callee is neither. */
bool elab_call_op(Ctx *c, const AstExpr *call, const char *inst, Val *out);
/* Records annotation a (evaluated in the current frame) for new nodes;
 * returns false if it was invalid (reported). */
bool elab_push_annot(Ctx *c, const AstAnnot *a);
void elab_pop_annots(Ctx *c, int to);
/* Node creation shared by op calls and tensor arithmetic. */
Val elab_make_node(Ctx *c, OpKind op, const char *inst, int ndata, IrValue **data,
                   int nattr, IrAttr *attr, Loc loc);

#endif
