/*
 * ir.h — the typed tensor graph every phase after the front end works on.
 *
 * A graph is a list of nodes in topological order. Each node applies one
 * operator (ops.def) to input values and defines one output value. Values
 * are graph inputs, learned parameters (named by their state_dict key,
 * optionally bound to weight data) or node results; every value carries its
 * dtype and full shape. Nodes keep their attributes with defaults filled in,
 * their instance name (the dotted path, e.g. "layer1.0.conv1"), the
 * annotations written in the source (@precision(4), ...) and the source
 * location they came from.
 *
 * Room for later work: passes add ops to ops.def and attributes to nodes;
 * quantization parameters, sparsity masks and PIM placement will be new
 * fields of IrValue / IrNode, printed and parsed by ir_print/ir_parse.
 *
 * Memory: the graph owns an Arena for nodes, values and strings, and owns
 * the Tensors bound to parameters (freed by ir_graph_free).
 */
#ifndef NETC_IR_H
#define NETC_IR_H

#include "../support/arena.h"
#include "../support/diag.h"
#include "tensor.h"

typedef enum {
#define OP(e, name, ...) OP_##e,
#include "ops.def"
#undef OP
    OP__COUNT
} OpKind;

typedef enum { AK_INT, AK_FLOAT, AK_BOOL, AK_STRING, AK_INTS } AttrKind;

typedef struct IrAttr {
    const char *key; /* NULL for a positional annotation argument */
    AttrKind kind;
    int64_t i;   /* AK_INT, AK_BOOL */
    double f;    /* AK_FLOAT */
    const char *s; /* AK_STRING */
    int n;       /* AK_INTS */
    int64_t *ints;
} IrAttr;

typedef struct IrAnnot {
    const char *name; /* without the '@' */
    int nargs;
    IrAttr *args;
    Loc loc;
} IrAnnot;

typedef enum { VK_INPUT, VK_PARAM, VK_NODE } ValueKind;

typedef struct IrNode IrNode;

typedef struct IrValue {
    int id;            /* unique within the graph; node results print as %id */
    ValueKind kind;
    const char *name;  /* input name or parameter key; NULL for node results */
    DType dtype;
    Shape shape;
    IrNode *def;       /* VK_NODE: the defining node */
    Tensor *data;      /* VK_PARAM: bound weights (owned by the graph) or NULL */
    const char *init;  /* VK_PARAM from param(): "normal", "zeros", "ones"; else NULL */
    Loc loc;
} IrValue;

struct IrNode {
    int id;
    OpKind op;
    const char *name; /* instance path, or NULL */
    int nin;
    IrValue **in;     /* data inputs first, then parameters in ops.def order */
    IrValue *out;
    int nattr;
    IrAttr *attr;     /* every attribute of the op, defaults filled in, spec order */
    int nannot;
    IrAnnot *annot;
    Loc loc;
};

typedef struct IrOutput {
    const char *name;
    IrValue *value;
} IrOutput;

typedef struct IrGraph {
    Arena *arena;
    const char *name;
    IrNode **nodes;
    int nnodes, cap_nodes;
    IrValue **inputs;
    int ninputs, cap_inputs;
    IrValue **params;  /* in creation order */
    int nparams, cap_params;
    IrOutput *outputs;
    int noutputs, cap_outputs;
    int next_value_id;
    struct StrMap *param_index; /* key -> IrValue* */
} IrGraph;

/* ---- ops.c: the operator table ---- */

typedef enum { ATK_INT, ATK_INT2, ATK_INTS, ATK_FLOAT, ATK_BOOL, ATK_STRING } AttrType;

typedef struct AttrSpec {
    const char *name;
    AttrType type;
    const char *dflt; /* textual default, or NULL when required */
} AttrSpec;

typedef struct ParamSpec {
    const char *suffix;
    Shape shape;
} ParamSpec;

typedef struct OpInfo {
    const char *name;
    int min_in, max_in;
    const char *attr_spec, *param_spec;
    /* Output shape from n->in[*]->shape and attributes. On error writes a
     * message naming both shapes to err and returns false. */
    bool (*shape)(const IrNode *n, Shape *out, char *err, size_t errlen);
    /* Parameter shapes given the data inputs (n->in[0..ndata)); returns the
     * number written to out (<= 8), or -1 with a message. */
    int (*params)(const IrNode *n, ParamSpec *out, char *err, size_t errlen);
    int64_t (*macs)(const IrNode *n);
} OpInfo;

const OpInfo *op_info(OpKind op);
/* OP__COUNT when the name is unknown. */
OpKind op_lookup(const char *name);
/* The parsed attribute spec of op; *n receives the count. */
const AttrSpec *op_attr_specs(OpKind op, int *n);
/* Parameter suffixes this node has (honours "bias?"); returns the count. */
int op_param_suffixes(const IrNode *n, const char **out, int max);
/* Number of data (non-parameter) inputs of node n. */
int op_data_inputs(const IrNode *n);
/* Every attribute of the op's spec present once with the representation its
 * kind stores (int2 = two ints), and no others; false with a message. */
bool op_check_attrs(const IrNode *n, char *err, size_t errlen);

/* ---- ir.c: building graphs ---- */

IrGraph *ir_graph_new(const char *name);
void ir_graph_free(IrGraph *g);
IrValue *ir_add_input(IrGraph *g, const char *name, DType dt, Shape shape, Loc loc);
/* NULL when a parameter with that key exists already. */
IrValue *ir_add_param(IrGraph *g, const char *key, DType dt, Shape shape, Loc loc);
IrValue *ir_find_param(const IrGraph *g, const char *key);
IrValue *ir_find_input(const IrGraph *g, const char *name);
/*
 * Appends a node, infers its output with the op's shape rule and returns it.
 * The attribute array is copied. On a shape error returns NULL with the
 * message in err and leaves the graph unchanged.
 */
IrNode *ir_add_node(IrGraph *g, OpKind op, const char *name, int nin, IrValue **in,
                    int nattr, const IrAttr *attr, Loc loc, char *err, size_t errlen);
void ir_node_add_annot(IrGraph *g, IrNode *n, const IrAnnot *a);
void ir_add_output(IrGraph *g, const char *name, IrValue *v);
/* Binds data to a parameter, freeing what was bound before; takes ownership. */
void ir_bind(IrValue *param, Tensor *data);

const IrAttr *ir_attr(const IrNode *n, const char *key);
int64_t ir_attr_int(const IrNode *n, const char *key);      /* also bool */
double ir_attr_float(const IrNode *n, const char *key);
const int64_t *ir_attr_ints(const IrNode *n, const char *key, int *count);
const char *ir_attr_str(const IrNode *n, const char *key);

/* ---- ir_verify.c ---- */
/* Checks the invariants (topological order, shapes agree with the shape rules,
 * parameters unique, outputs defined); reports each violation to d. */
bool ir_verify(const IrGraph *g, Diag *d);

/* ---- ir_print.c / ir_parse.c: the textual form, which round-trips ---- */
void ir_print(const IrGraph *g, FILE *out);
/* Parses the text produced by ir_print; errors go to d with line:col. */
IrGraph *ir_parse(const char *path, const char *text, size_t len, Diag *d);

/* ---- ir_dot.c ---- */
void ir_print_dot(const IrGraph *g, FILE *out);

/* ---- ir_stats.c ---- */
typedef struct IrStats {
    int64_t params;  /* learnable elements, as torchvision counts parameters */
    int64_t buffers; /* state such as batchnorm running statistics */
    int64_t macs, activation_bytes, peak_activation_bytes;
} IrStats;
/* Totals; when out is non-NULL also prints the per-layer table. */
IrStats ir_stats(const IrGraph *g, FILE *out);

#endif
