/*
 * parser.y — the grammar of docs/language.md, building the tree of ast.h.
 *
 * A pure bison parser (api.pure full) over the reentrant scanner in lexer.l;
 * all they share is the ParseCtx below. Design points:
 *  - %expect 0: a new conflict breaks the build (the CMake target also turns
 *    conflicts into errors). The one intended ambiguity, `@note (x);`, is
 *    settled by precedence: '(' after an annotation name opens its arguments.
 *  - The expression grammar is written in layers, one nonterminal per
 *    precedence level as in the spec, rather than with %left declarations;
 *    comparisons are non-associative because `cmp := add (op add)?`.
 *  - Syntax errors are reported by yyreport_syntax_error in the form
 *    `unexpected X, expected A, B or C`, using the token aliases, with the
 *    expected set exact (parse.lac full) and folded into "expression" and
 *    "statement" where it would otherwise list a dozen starters.
 *  - Recovery: `error` rules at statement level sync on ';' or a braced body,
 *    a body's '}' and the parameter list's ')', and at item level, so one run
 *    reports several errors. Any error makes ast_parse return NULL.
 *  - Nesting is bounded by YYMAXDEPTH: 100k '(' is an error, not a crash,
 *    and the tree handed to the (recursive) elaborator stays shallow.
 * Every node's Loc is its first token, or its whole extent on one line for
 * operators, lists and statements, so that the caret line underlines it.
 */

%code top {
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
/* Stack limit in parser states; each nesting level takes one to four. */
#define YYMAXDEPTH 4000
}

%code requires {
#include "ast.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* State shared by the scanner (as yyextra) and the parser actions. */
typedef struct ParseCtx {
    Arena *arena;
    Diag *diag;
    const char *path;    /* interned in the arena; every Loc points here */
    const char *text;    /* the source, for quoting tokens in messages */
    size_t pos;          /* byte offset of the scanner */
    int line, col;       /* where the scanner is, 1-based */
    int tok_line, tok_col;  /* end of the last real token (for EOF errors) */
    const char *tok_text;   /* the last real token, for "unexpected" */
    int tok_len;
    AstFile *file;
    int cap_imports, cap_blocks;
    /* Brackets not yet closed, innermost last: an error at the end of the
     * file adds a note at the one that is still open. */
    struct OpenBracket { char ch; Loc loc; } *opens;
    int nopens, cap_opens;
} ParseCtx;

/* Growable lists while parsing; converted to the ast.h {n, items} shape. */
typedef struct StmtVec { int n, cap; AstStmt **items; } StmtVec;
typedef struct ExprVec { int n, cap; AstExpr **items; } ExprVec;
typedef struct ArgVec { int n, cap; AstArg *items; bool saw_key; } ArgVec;
typedef struct AnnotVec { int n, cap; AstAnnot *items; } AnnotVec;
typedef struct ParamVec { int n, cap; AstParam *items; } ParamVec;
typedef struct PType { ParamType type; AstTensorType *tensor; } PType;
}

%code provides {
/* lexer.l: runs the scanner and yyparse over text[0..len). */
int lexer_run_parser(ParseCtx *c, const char *text, size_t len);
int netc_yylex(NETC_YYSTYPE *lval, NETC_YYLTYPE *lloc, yyscan_t scanner);
/* The Loc of a token or a span: its extent when on one line, else a caret. */
Loc parser_loc(const ParseCtx *c, NETC_YYLTYPE l);
/* Just a caret at the start of l. */
Loc parser_caret(const ParseCtx *c, NETC_YYLTYPE l);
}

%define api.prefix {netc_yy}
%define api.pure full
%define api.token.prefix {T_}
%define parse.error custom
%define parse.lac full
%locations
%lex-param {yyscan_t scanner}
%parse-param {yyscan_t scanner} {ParseCtx *ctx}
%expect 0

%union {
    long long ival;
    double fval;
    const char *str;
    int flag;
    AstExpr *expr;
    AstStmt *stmt;
    AstTensorType *ttype;
    PType ptype;
    StmtVec stmts;
    ExprVec exprs;
    ArgVec args;
    AstArg arg;
    AnnotVec annots;
    AstAnnot annot;
    ParamVec params;
    AstParam param;
}

/* Aliases are what syntax errors print: unexpected ";", expected "]". */
%token END 0 "end of file"
%token <str> IDENT "identifier" STRING "string literal"
%token <ival> INT "integer literal"
%token <fval> FLOAT "float literal"
%token IMPORT "import" BLOCK "block" NET "net" IN "in" OUT "out"
       RETURN "return" FOR "for" IF "if" ELSE "else" ASSERT "assert"
       SEQ "seq" TRUE "true" FALSE "false"
       KW_INT "int" KW_FLOAT "float" KW_BOOL "bool" KW_STRING "string"
       KW_TENSOR "tensor"
/* Separators before closers, so lists read `expected "," or ")"`. */
%token COMMA "," SEMI ";" COLON ":" ASSIGN "=" DOT "." DOTDOT ".."
       LPAREN "(" RPAREN ")" LBRACK "[" RBRACK "]" LBRACE "{" RBRACE "}"
       QUESTION "?" AT "@"
       PLUS "+" MINUS "-" STAR "*" SLASH "/" PERCENT "%"
       EQ "==" NE "!=" LT "<" LE "<=" GT ">" GE ">=" ANDAND "&&" OROR "||"
       BANG "!"

%type <flag> block_kw
%type <params> params_opt params
%type <param> param
%type <ptype> ptype
%type <ttype> tensor_type
%type <stmts> body stmts
%type <stmt> stmt simple if_stmt more_targets
%type <annots> annots
%type <annot> annotation
%type <expr> expr ternary or_expr and_expr cmp_expr add_expr mul_expr unary postfix primary
%type <exprs> exprs
%type <args> args
%type <arg> arg

/* `@note` followed by '(' takes it as its argument list (see annotation). */
%precedence BARE_ANNOTATION
%precedence "("

%code {
static AstExpr *new_expr(ParseCtx *c, ExprKind kind, Loc loc)
{
    AstExpr *e = arena_alloc(c->arena, sizeof *e);
    e->kind = kind;
    e->loc = loc;
    return e;
}

static AstExpr *new_binary(ParseCtx *c, AstOp op, AstExpr *a, AstExpr *b, NETC_YYLTYPE l)
{
    AstExpr *e = new_expr(c, E_BINARY, parser_loc(c, l));
    e->u.op.op = op;
    e->u.op.a = a;
    e->u.op.b = b;
    return e;
}

static AstStmt *new_stmt(ParseCtx *c, StmtKind kind, Loc loc)
{
    AstStmt *s = arena_alloc(c->arena, sizeof *s);
    s->kind = kind;
    s->loc = loc;
    return s;
}

/* The span from the start of a to the end of b. */
static NETC_YYLTYPE span(NETC_YYLTYPE a, NETC_YYLTYPE b)
{
    a.last_line = b.last_line;
    a.last_column = b.last_column;
    return a;
}

static AstStmts stmts_of(StmtVec v) { return (AstStmts){v.n, v.items}; }
static AstArgs args_of(ArgVec v) { return (AstArgs){v.n, v.items}; }

static void yyerror(NETC_YYLTYPE *loc, yyscan_t scanner, ParseCtx *c, const char *msg);
}

%%

/* file := item* — items are appended to ctx->file as they are parsed. */
file:
  %empty
| file item
;

item:
  "import" STRING ";"
    {
        AstImport imp = {$2, parser_loc(ctx, @2)};
        VEC_PUSH(ctx->arena, ctx->file->imports, ctx->file->nimports, ctx->cap_imports, imp);
    }
| annots block_kw IDENT "(" params_opt ")" body
    {
        AstBlock *b = arena_alloc(ctx->arena, sizeof *b);
        b->name = $3;
        b->is_net = $2;
        b->nparams = $5.n;
        b->params = $5.items;
        b->body = stmts_of($7);
        b->annots = (AstAnnots){$1.n, $1.items};
        b->loc = parser_loc(ctx, @3);
        b->file = ctx->path;
        VEC_PUSH(ctx->arena, ctx->file->blocks, ctx->file->nblocks, ctx->cap_blocks, b);
    }
  /* Recovery: skip to the end of an import or over a whole braced body. */
| error ";"
| error body
;

block_kw:
  "block"  { $$ = 0; }
| "net"    { $$ = 1; }
;

params_opt:
  %empty            { $$ = (ParamVec){0}; }
| params
| error             { $$ = (ParamVec){0}; }  /* recovery: resume at ')' */
;

params:
  param             { $$ = (ParamVec){0}; VEC_PUSH(ctx->arena, $$.items, $$.n, $$.cap, $1); }
| params "," param  { $$ = $1; VEC_PUSH(ctx->arena, $$.items, $$.n, $$.cap, $3); }
;

/* param := IDENT ':' ptype ('=' expr)? */
param:
  IDENT ":" ptype
    { $$ = (AstParam){$1, $3.type, $3.tensor, NULL, parser_loc(ctx, @1)}; }
| IDENT ":" ptype "=" expr
    { $$ = (AstParam){$1, $3.type, $3.tensor, $5, parser_loc(ctx, @1)}; }
;

ptype:
  "int"        { $$ = (PType){PT_INT, NULL}; }
| "float"      { $$ = (PType){PT_FLOAT, NULL}; }
| "bool"       { $$ = (PType){PT_BOOL, NULL}; }
| "string"     { $$ = (PType){PT_STRING, NULL}; }
| "tensor"     { $$ = (PType){PT_TENSOR, NULL}; }
| tensor_type  { $$ = (PType){PT_TENSOR, $1}; }
;

/* tensortype := DTYPE '[' dim (',' dim)* ']' — the dtype is lexed as IDENT. */
tensor_type:
  IDENT "[" exprs "]"
    {
        $$ = arena_alloc(ctx->arena, sizeof *$$);
        if (!dtype_from_name($1, &$$->dtype)) {
            diag_error(ctx->diag, parser_loc(ctx, @1), "unknown dtype '%s'", $1);
            $$->dtype = DT_F32;
        }
        $$->rank = $3.n;
        $$->dims = $3.items;
        $$->loc = parser_loc(ctx, @$);
    }
;

/* A braced statement list; an error inside resumes at the closing brace. */
body:
  "{" stmts "}"        { $$ = $2; }
| "{" stmts error "}"  { $$ = $2; }
;

stmts:
  %empty      { $$ = (StmtVec){0}; }
| stmts stmt  { $$ = $1; if ($2) VEC_PUSH(ctx->arena, $$.items, $$.n, $$.cap, $2); }
;

stmt:
  annots simple  { $$ = $2; $$->annots = (AstAnnots){$1.n, $1.items}; }
  /* Recovery: drop the statement up to its ';' or over a braced body. */
| error ";"      { $$ = NULL; }
| error body     { $$ = NULL; }
;

simple:
  "in" IDENT ":" tensor_type ";"
    {
        $$ = new_stmt(ctx, S_IN, parser_loc(ctx, span(@1, @4)));
        $$->u.in.name = $2;
        $$->u.in.name_loc = parser_loc(ctx, @2);
        $$->u.in.type = *$4;
    }
| "out" IDENT "=" expr ";"
    {
        $$ = new_stmt(ctx, S_OUT, parser_loc(ctx, span(@1, @4)));
        $$->u.out.name = $2;
        $$->u.out.name_loc = parser_loc(ctx, @2);
        $$->u.out.value = $4;
    }
| "out" IDENT ":" tensor_type "=" expr ";"
    {
        $$ = new_stmt(ctx, S_OUT, parser_loc(ctx, span(@1, @6)));
        $$->u.out.name = $2;
        $$->u.out.name_loc = parser_loc(ctx, @2);
        $$->u.out.type = $4;
        $$->u.out.value = $6;
    }
  /* target '=' expr: '=' never follows an expression, so IDENT/STRING here is LALR(1). */
| IDENT "=" expr ";"
    {
        $$ = new_stmt(ctx, S_ASSIGN, parser_loc(ctx, span(@1, @3)));
        $$->u.assign.target = $1;
        $$->u.assign.target_loc = parser_loc(ctx, @1);
        $$->u.assign.value = $3;
    }
| IDENT more_targets "=" expr ";"  /* values, indices = topk(x, 5); */
    {
        $$ = $2;
        $$->loc = parser_loc(ctx, span(@1, @4));
        $$->u.assign.target = $1;
        $$->u.assign.target_loc = parser_loc(ctx, @1);
        $$->u.assign.value = $4;
    }
| STRING "=" expr ";"  /* a name template: "layer{i}" = ... */
    {
        $$ = new_stmt(ctx, S_ASSIGN, parser_loc(ctx, span(@1, @3)));
        $$->u.assign.target = $1;
        $$->u.assign.is_template = 1;
        $$->u.assign.target_loc = parser_loc(ctx, @1);
        $$->u.assign.value = $3;
    }
| expr ";"
    {
        $$ = new_stmt(ctx, S_EXPR, $1->loc);
        $$->u.expr.value = $1;
    }
| "return" expr ";"
    {
        $$ = new_stmt(ctx, S_RETURN, parser_loc(ctx, span(@1, @2)));
        $$->u.expr.value = $2;
    }
| "for" IDENT "in" expr ".." expr body
    {
        $$ = new_stmt(ctx, S_FOR, parser_loc(ctx, span(@1, @6)));
        $$->u.for_.var = $2;
        $$->u.for_.var_loc = parser_loc(ctx, @2);
        $$->u.for_.lo = $4;
        $$->u.for_.hi = $6;
        $$->u.for_.body = stmts_of($7);
    }
| if_stmt
| "assert" expr ";"
    {
        $$ = new_stmt(ctx, S_ASSERT, parser_loc(ctx, span(@1, @2)));
        $$->u.assert_.cond = $2;
    }
| "assert" expr "," STRING ";"
    {
        $$ = new_stmt(ctx, S_ASSERT, parser_loc(ctx, span(@1, @4)));
        $$->u.assert_.cond = $2;
        $$->u.assert_.message = $4;
    }
;

/* `else if` nests the second if as the only statement of the else branch. */
/* more_targets := (',' IDENT)+ — collected into an S_ASSIGN shell. */
more_targets:
  "," IDENT
    {
        $$ = new_stmt(ctx, S_ASSIGN, parser_loc(ctx, @2));
        $$->u.assign.more[0] = $2;
        $$->u.assign.more_loc[0] = parser_loc(ctx, @2);
        $$->u.assign.nmore = 1;
    }
| more_targets "," IDENT
    {
        $$ = $1;
        if ($$->u.assign.nmore == AST_MAX_MORE_TARGETS) {
            diag_error(ctx->diag, parser_loc(ctx, @3), "at most %d targets can be assigned at once",
                       AST_MAX_MORE_TARGETS + 1);
        } else {
            $$->u.assign.more[$$->u.assign.nmore] = $3;
            $$->u.assign.more_loc[$$->u.assign.nmore++] = parser_loc(ctx, @3);
        }
    }
;

if_stmt:
  "if" expr body
    {
        $$ = new_stmt(ctx, S_IF, parser_loc(ctx, span(@1, @2)));
        $$->u.if_.cond = $2;
        $$->u.if_.then = stmts_of($3);
    }
| "if" expr body "else" body
    {
        $$ = new_stmt(ctx, S_IF, parser_loc(ctx, span(@1, @2)));
        $$->u.if_.cond = $2;
        $$->u.if_.then = stmts_of($3);
        $$->u.if_.els = stmts_of($5);
    }
| "if" expr body "else" if_stmt
    {
        $$ = new_stmt(ctx, S_IF, parser_loc(ctx, span(@1, @2)));
        $$->u.if_.cond = $2;
        $$->u.if_.then = stmts_of($3);
        $$->u.if_.els.n = 1;
        $$->u.if_.els.items = arena_alloc(ctx->arena, sizeof(AstStmt *));
        $$->u.if_.els.items[0] = $5;
    }
;

annots:
  %empty             { $$ = (AnnotVec){0}; }
| annots annotation  { $$ = $1; VEC_PUSH(ctx->arena, $$.items, $$.n, $$.cap, $2); }
;

/* annotation := '@' IDENT ('(' args? ')')? */
annotation:
  "@" IDENT %prec BARE_ANNOTATION
    { $$ = (AstAnnot){$2, {0, NULL}, parser_loc(ctx, span(@1, @2))}; }
| "@" IDENT "(" ")"
    { $$ = (AstAnnot){$2, {0, NULL}, parser_loc(ctx, span(@1, @2))}; }
| "@" IDENT "(" args ")"
    { $$ = (AstAnnot){$2, args_of($4), parser_loc(ctx, span(@1, @2))}; }
;

expr: ternary ;

/* ternary := or ('?' expr ':' ternary)? — right-associative */
ternary:
  or_expr
| or_expr "?" expr ":" ternary
    {
        $$ = new_expr(ctx, E_TERNARY, parser_loc(ctx, @$));
        $$->u.ternary.cond = $1;
        $$->u.ternary.then = $3;
        $$->u.ternary.els = $5;
    }
;

or_expr:
  and_expr
| or_expr "||" and_expr  { $$ = new_binary(ctx, TOK_OP_OR, $1, $3, @$); }
;

and_expr:
  cmp_expr
| and_expr "&&" cmp_expr  { $$ = new_binary(ctx, TOK_OP_AND, $1, $3, @$); }
;

/* Comparisons do not chain: `a < b < c` is a syntax error. */
cmp_expr:
  add_expr
| add_expr "==" add_expr  { $$ = new_binary(ctx, TOK_OP_EQ, $1, $3, @$); }
| add_expr "!=" add_expr  { $$ = new_binary(ctx, TOK_OP_NE, $1, $3, @$); }
| add_expr "<" add_expr   { $$ = new_binary(ctx, TOK_OP_LT, $1, $3, @$); }
| add_expr "<=" add_expr  { $$ = new_binary(ctx, TOK_OP_LE, $1, $3, @$); }
| add_expr ">" add_expr   { $$ = new_binary(ctx, TOK_OP_GT, $1, $3, @$); }
| add_expr ">=" add_expr  { $$ = new_binary(ctx, TOK_OP_GE, $1, $3, @$); }
;

add_expr:
  mul_expr
| add_expr "+" mul_expr  { $$ = new_binary(ctx, TOK_OP_ADD, $1, $3, @$); }
| add_expr "-" mul_expr  { $$ = new_binary(ctx, TOK_OP_SUB, $1, $3, @$); }
;

mul_expr:
  unary
| mul_expr "*" unary  { $$ = new_binary(ctx, TOK_OP_MUL, $1, $3, @$); }
| mul_expr "/" unary  { $$ = new_binary(ctx, TOK_OP_DIV, $1, $3, @$); }
| mul_expr "%" unary  { $$ = new_binary(ctx, TOK_OP_MOD, $1, $3, @$); }
;

/* `-1` is NEG applied to INT 1; elab folds it. */
unary:
  postfix
| "-" unary
    {
        $$ = new_expr(ctx, E_UNARY, parser_loc(ctx, @$));
        $$->u.op.op = TOK_OP_NEG;
        $$->u.op.a = $2;
    }
| "!" unary
    {
        $$ = new_expr(ctx, E_UNARY, parser_loc(ctx, @$));
        $$->u.op.op = TOK_OP_NOT;
        $$->u.op.a = $2;
    }
;

postfix:
  primary
| postfix "[" expr "]"
    {
        $$ = new_expr(ctx, E_INDEX, parser_loc(ctx, @$));
        $$->u.index.base = $1;
        $$->u.index.index = $3;
    }
;

primary:
  INT     { $$ = new_expr(ctx, E_INT, parser_loc(ctx, @1)); $$->u.ival = $1; }
| FLOAT   { $$ = new_expr(ctx, E_FLOAT, parser_loc(ctx, @1)); $$->u.fval = $1; }
| STRING  { $$ = new_expr(ctx, E_STRING, parser_loc(ctx, @1)); $$->u.sval = $1; }
| "true"  { $$ = new_expr(ctx, E_BOOL, parser_loc(ctx, @1)); $$->u.bval = 1; }
| "false" { $$ = new_expr(ctx, E_BOOL, parser_loc(ctx, @1)); $$->u.bval = 0; }
| IDENT   { $$ = new_expr(ctx, E_NAME, parser_loc(ctx, @1)); $$->u.name = $1; }
  /* `block` read as a value: torchvision names the body of MBConv and
   * CNBlock `block`, so a block may bind it (`block = seq(x) {...}`, which
   * the lexer already turns into a name) and then use it. Blocks are
   * defined only at file level, so here the word can only be a name. */
| "block" { $$ = new_expr(ctx, E_NAME, parser_loc(ctx, @1)); $$->u.name = "block"; }
  /* An op or block call; the node's Loc is the callee name. */
| IDENT "(" ")"
    {
        $$ = new_expr(ctx, E_CALL, parser_loc(ctx, @1));
        $$->u.call.callee = $1;
        $$->u.call.callee_loc = $$->loc;
    }
| IDENT "(" args ")"
    {
        $$ = new_expr(ctx, E_CALL, parser_loc(ctx, @1));
        $$->u.call.callee = $1;
        $$->u.call.callee_loc = $$->loc;
        $$->u.call.args = args_of($3);
    }
  /* seq(input) { stmts } — the Loc spans `seq(input)`. */
| "seq" "(" expr ")" body
    {
        $$ = new_expr(ctx, E_SEQ, parser_loc(ctx, span(@1, @4)));
        $$->u.seq.input = $3;
        $$->u.seq.body = stmts_of($5);
    }
| "[" "]"
    { $$ = new_expr(ctx, E_LIST, parser_loc(ctx, @$)); }
| "[" exprs "]"
    {
        $$ = new_expr(ctx, E_LIST, parser_loc(ctx, @$));
        $$->u.list.n = $2.n;
        $$->u.list.items = $2.items;
    }
| "(" expr ")"  { $$ = $2; }
;

exprs:
  expr            { $$ = (ExprVec){0}; VEC_PUSH(ctx->arena, $$.items, $$.n, $$.cap, $1); }
| exprs "," expr  { $$ = $1; VEC_PUSH(ctx->arena, $$.items, $$.n, $$.cap, $3); }
;

/* Positional arguments come first; the order is checked here, not in the grammar. */
args:
  arg
    {
        $$ = (ArgVec){0};
        $$.saw_key = $1.key != NULL;
        VEC_PUSH(ctx->arena, $$.items, $$.n, $$.cap, $1);
    }
| args "," arg
    {
        $$ = $1;
        if (!$3.key && $$.saw_key)
            diag_error(ctx->diag, $3.loc, "positional argument after keyword argument");
        $$.saw_key |= $3.key != NULL;
        VEC_PUSH(ctx->arena, $$.items, $$.n, $$.cap, $3);
    }
;

/* arg := expr | IDENT '=' expr — the '=' decides, as for statement targets. */
arg:
  expr              { $$ = (AstArg){NULL, $1, $1->loc}; }
| IDENT "=" expr    { $$ = (AstArg){$1, $3, parser_loc(ctx, @1)}; }
;

%%

Loc parser_loc(const ParseCtx *c, NETC_YYLTYPE l)
{
    Loc r = {c->path, l.first_line, l.first_column, 1};
    if (l.last_line == l.first_line && l.last_column > l.first_column)
        r.len = l.last_column - l.first_column;
    return r;
}

Loc parser_caret(const ParseCtx *c, NETC_YYLTYPE l)
{
    return (Loc){c->path, l.first_line, l.first_column, 1};
}

/* Called by bison only when the stack would pass YYMAXDEPTH. */
static void yyerror(NETC_YYLTYPE *loc, yyscan_t scanner, ParseCtx *c, const char *msg)
{
    if (strcmp(msg, "memory exhausted") == 0)
        diag_error(c->diag, parser_loc(c, *loc), "nesting too deep for the parser");
    else
        diag_error(c->diag, parser_loc(c, *loc), "%s", msg);
}

/* Token classes folded together in the "expected ..." list. */
static bool starts_expr(yysymbol_kind_t s)
{
    switch (s) {
    case YYSYMBOL_INT: case YYSYMBOL_FLOAT: case YYSYMBOL_STRING: case YYSYMBOL_IDENT:
    case YYSYMBOL_TRUE: case YYSYMBOL_FALSE: case YYSYMBOL_SEQ: case YYSYMBOL_LPAREN:
    case YYSYMBOL_LBRACK: case YYSYMBOL_MINUS: case YYSYMBOL_BANG: case YYSYMBOL_BLOCK:
        return true;
    default:
        return false;
    }
}

static bool starts_stmt(yysymbol_kind_t s)
{
    switch (s) {
    case YYSYMBOL_IN: case YYSYMBOL_OUT: case YYSYMBOL_RETURN: case YYSYMBOL_FOR:
    case YYSYMBOL_IF: case YYSYMBOL_ASSERT: case YYSYMBOL_AT:
        return true;
    default:
        return starts_expr(s);
    }
}

/* Tokens that continue an expression; leaving them out of "expected" keeps
 * a missing ';' reading `expected ";"` instead of twenty operators. */
static bool continues_expr(yysymbol_kind_t s)
{
    switch (s) {
    case YYSYMBOL_PLUS: case YYSYMBOL_MINUS: case YYSYMBOL_STAR: case YYSYMBOL_SLASH:
    case YYSYMBOL_PERCENT: case YYSYMBOL_EQ: case YYSYMBOL_NE: case YYSYMBOL_LT:
    case YYSYMBOL_LE: case YYSYMBOL_GT: case YYSYMBOL_GE: case YYSYMBOL_ANDAND:
    case YYSYMBOL_OROR: case YYSYMBOL_QUESTION: case YYSYMBOL_LBRACK: case YYSYMBOL_LPAREN:
        return true;
    default:
        return false;
    }
}

/* How a token reads in a message: keywords and punctuation in double quotes
 * (`"=="`), classes of tokens plain (`identifier`). */
static const char *token_name(ParseCtx *c, yysymbol_kind_t s)
{
    switch (s) {
    case YYSYMBOL_YYEOF: return "end of file";
    case YYSYMBOL_YYUNDEF: return "invalid token";
    case YYSYMBOL_IDENT: return "identifier";
    case YYSYMBOL_STRING: return "string literal";
    case YYSYMBOL_INT: return "integer literal";
    case YYSYMBOL_FLOAT: return "float literal";
    default: return arena_printf(c->arena, "\"%s\"", yysymbol_name(s));
    }
}

enum { MAX_EXPECTED = 5 };

/*
 * `syntax error: unexpected X, expected A, B or C`. The expected list is
 * exact thanks to LAC; it is shortened by folding the tokens that start an
 * expression (or a statement) into one word and dropping operators that
 * would merely continue the expression before the error. With more than
 * MAX_EXPECTED choices left it is omitted.
 */
static int yyreport_syntax_error(const yypcontext_t *yc, yyscan_t scanner, ParseCtx *c)
{
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(yc, exp, YYNTOKENS);
    if (n < 0)
        return n;
    bool want_stmt = false, want_expr = false;
    for (int i = 0; i < n; i++) {
        want_stmt |= exp[i] == YYSYMBOL_RETURN;
        want_expr |= exp[i] == YYSYMBOL_INT;
    }
    const char *names[YYNTOKENS + 2];
    int k = 0;
    bool want_eof = false;
    if (want_stmt)
        names[k++] = "statement";
    else if (want_expr)
        names[k++] = "expression";
    for (int i = 0; i < n; i++) {
        yysymbol_kind_t s = exp[i];
        if ((want_stmt && starts_stmt(s)) || (want_expr && starts_expr(s)) || continues_expr(s))
            continue;
        if (s == YYSYMBOL_YYEOF)
            want_eof = true;
        else
            names[k++] = token_name(c, s);
    }
    if (want_eof)
        names[k++] = "end of file";

    char msg[512];
    size_t len = 0;
#define APPEND(...) \
    (len += (size_t)snprintf(msg + len, len < sizeof msg ? sizeof msg - len : 0, __VA_ARGS__))
    yysymbol_kind_t tok = yypcontext_token(yc);
    APPEND("syntax error");
    if (tok != YYSYMBOL_YYEMPTY) {
        APPEND(": unexpected %s", token_name(c, tok));
        /* Quote the text of identifiers and numbers: unexpected identifier 'y'. */
        if ((tok == YYSYMBOL_IDENT || tok == YYSYMBOL_INT || tok == YYSYMBOL_FLOAT) &&
            c->tok_text && c->tok_len <= 40)
            APPEND(" '%.*s'", c->tok_len, c->tok_text);
    }
    bool is_cmp = tok == YYSYMBOL_EQ || tok == YYSYMBOL_NE || tok == YYSYMBOL_LT ||
                  tok == YYSYMBOL_LE || tok == YYSYMBOL_GT || tok == YYSYMBOL_GE;
    if (is_cmp && !want_expr)
        APPEND(" (comparisons do not chain; use &&)");
    else if (k > 0 && k <= MAX_EXPECTED) {
        APPEND(", expected ");
        for (int i = 0; i < k; i++)
            APPEND("%s%s", i == 0 ? "" : i == k - 1 ? " or " : ", ", names[i]);
    }
#undef APPEND
    diag_error(c->diag, parser_loc(c, *yypcontext_location(yc)), "%s", msg);
    if (tok == YYSYMBOL_YYEOF && c->nopens > 0) {
        struct OpenBracket *o = &c->opens[c->nopens - 1];
        diag_note(c->diag, o->loc, "to match this \"%c\"", o->ch);
    }
    return 0;
}

/*
 * See ast.h. text need not be NUL-terminated and may contain NUL bytes (they
 * are reported as stray); flex scans its own copy. Success is judged by the
 * error count, so lexical errors, semantic checks made while parsing
 * (dtype names, argument order) and syntax errors all give NULL.
 */
AstFile *ast_parse(Arena *a, Diag *d, const char *path, const char *text, size_t len)
{
    int errors_before = diag_errors(d);
    ParseCtx c = {.arena = a, .diag = d, .text = text, .line = 1, .col = 1,
                  .tok_line = 1, .tok_col = 1};
    c.path = arena_strdup(a, path); /* the caller registers text with d for quoting */
    c.file = arena_alloc(a, sizeof *c.file);
    c.file->path = c.path;
    if (len > (size_t)(1 << 30)) {
        diag_file_error(d, c.path, "file too large to parse (%zu bytes)", len);
        return NULL;
    }
    int rc = lexer_run_parser(&c, text, len);
    if (rc != 0 || diag_errors(d) > errors_before)
        return NULL;
    return c.file;
}
