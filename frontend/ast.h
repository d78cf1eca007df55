/*
 * ast.h — the syntax tree of a .net file, as built by parser.y.
 *
 * Every node carries the Loc of its first token (with len covering the
 * token, or the whole construct where that reads better in a diagnostic).
 * All nodes, lists and strings live in the compilation's Arena. Lists are
 * arrays with a count. The tree is a faithful image of the source: no
 * evaluation or name resolution happens here (that is elab.c).
 */
#ifndef NETC_AST_H
#define NETC_AST_H

#include "../support/arena.h"
#include "../support/diag.h"
#include "../ir/tensor.h"

typedef struct AstExpr AstExpr;
typedef struct AstStmt AstStmt;

typedef enum {
    E_INT, E_FLOAT, E_BOOL, E_STRING, E_NAME, E_LIST,
    E_UNARY, E_BINARY, E_TERNARY, E_CALL, E_SEQ, E_INDEX
} ExprKind;

typedef enum {
    TOK_OP_NEG, TOK_OP_NOT,                                 /* unary */
    TOK_OP_ADD, TOK_OP_SUB, TOK_OP_MUL, TOK_OP_DIV, TOK_OP_MOD,
    TOK_OP_EQ, TOK_OP_NE, TOK_OP_LT, TOK_OP_LE, TOK_OP_GT, TOK_OP_GE,
    TOK_OP_AND, TOK_OP_OR
} AstOp;

typedef struct AstArg {
    const char *key; /* NULL for a positional argument */
    AstExpr *value;
    Loc loc;
} AstArg;

typedef struct AstArgs {
    int n;
    AstArg *items;
} AstArgs;

typedef struct AstStmts {
    int n;
    AstStmt **items;
} AstStmts;

struct AstExpr {
    ExprKind kind;
    Loc loc;
    union {
        long long ival;           /* E_INT */
        double fval;              /* E_FLOAT */
        int bval;                 /* E_BOOL */
        const char *sval;         /* E_STRING: escapes already decoded */
        const char *name;         /* E_NAME (may be "_") */
        struct { int n; AstExpr **items; } list;                /* E_LIST */
        struct { AstOp op; AstExpr *a, *b; } op;                 /* E_UNARY (b NULL), E_BINARY */
        struct { AstExpr *cond, *then, *els; } ternary;          /* E_TERNARY */
        struct { const char *callee; Loc callee_loc; AstArgs args; } call; /* E_CALL */
        struct { AstExpr *input; AstStmts body; } seq;           /* E_SEQ */
        struct { AstExpr *base, *index; } index;                 /* E_INDEX */
    } u;
};

typedef struct AstAnnot {
    const char *name; /* without '@' */
    AstArgs args;
    Loc loc;
} AstAnnot;

typedef struct AstAnnots {
    int n;
    AstAnnot *items;
} AstAnnots;

/* A tensor type as written: dtype and one expression per dimension. */
typedef struct AstTensorType {
    DType dtype;
    int rank;
    AstExpr **dims;
    Loc loc;
} AstTensorType;

/* Targets after the first of `a, b = op(...)` (ops have at most 4 results). */
#define AST_MAX_MORE_TARGETS 3

typedef enum {
    S_IN, S_OUT, S_ASSIGN, S_EXPR, S_RETURN, S_FOR, S_IF, S_ASSERT
} StmtKind;

struct AstStmt {
    StmtKind kind;
    Loc loc;
    AstAnnots annots;
    union {
        struct { const char *name; Loc name_loc; AstTensorType type; } in;     /* S_IN */
        struct { const char *name; Loc name_loc; AstTensorType *type; AstExpr *value; } out; /* S_OUT (type may be NULL) */
        /* S_ASSIGN: target is an identifier, or a name template when is_template;
         * `values, indices = topk(x, 5);` binds the further results of a
         * multi-result op to more[0..nmore) */
        struct {
            const char *target; int is_template; Loc target_loc; AstExpr *value;
            const char *more[AST_MAX_MORE_TARGETS]; Loc more_loc[AST_MAX_MORE_TARGETS]; int nmore;
        } assign;
        struct { AstExpr *value; } expr;                              /* S_EXPR, S_RETURN */
        struct { const char *var; Loc var_loc; AstExpr *lo, *hi; AstStmts body; } for_;
        /* S_IF: els may hold a single nested S_IF for `else if` */
        struct { AstExpr *cond; AstStmts then, els; } if_;
        struct { AstExpr *cond; const char *message; /* NULL if none */ } assert_;
    } u;
};

typedef enum { PT_INT, PT_FLOAT, PT_BOOL, PT_STRING, PT_TENSOR } ParamType;

typedef struct AstParam {
    const char *name;
    ParamType type;
    AstTensorType *tensor_type; /* PT_TENSOR with a written type, else NULL */
    AstExpr *dflt;              /* NULL when required */
    Loc loc;
} AstParam;

typedef struct AstBlock {
    const char *name;
    int is_net;
    int nparams;
    AstParam *params;
    AstStmts body;
    AstAnnots annots;
    Loc loc;      /* the name */
    const char *file;
} AstBlock;

typedef struct AstImport {
    const char *path; /* as written */
    Loc loc;
} AstImport;

typedef struct AstFile {
    const char *path;
    int nimports;
    AstImport *imports;
    int nblocks;
    AstBlock **blocks;
} AstFile;

/*
 * parser.y: parses text (registered with d for quoting) into an AstFile.
 * Syntax errors are reported to d as `path:line:col: error: ...` with the
 * expected tokens; returns NULL if there was any.
 */
AstFile *ast_parse(Arena *a, Diag *d, const char *path, const char *text, size_t len);

#endif
