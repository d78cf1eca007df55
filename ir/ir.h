/*
 * ir.h — the typed tensor graph every phase after the front end works on.
 *
 * A graph is a list of nodes in topological order. Each node applies one
 * operator (ops.def) to input values and defines one or more result values
 * (most ops one; topk two). Values are graph inputs, learned parameters
 * (named by their state_dict key, optionally bound to weight data) or node
 * results; every value carries its dtype, its full shape and the list of
 * node inputs that read it (its uses). Nodes keep their attributes with
 * defaults filled in, their instance name (the dotted path, e.g.
 * "layer1.0.conv1"), the annotations written in the source (@precision(4),
 * ...) and the source location they came from.
 *
 * Passes rewrite graphs only through the functions of ir_rewrite.c (set an
 * input, replace all uses, insert and remove nodes and parameters, compact),
 * which keep every use list exact; ir_verify checks that they did. What
 * passes learn about a value or node (quantization, sparsity, PIM placement)
 * is typed metadata (IrQuant, IrSparsity, IrPlacement), printed and parsed
 * by the text form; its tensors (scales, masks) are parameters of the graph,
 * so they are saved and loaded with the weights.
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
    /* Written on an enclosing block definition, block call, seq, loop or
     * the net rather than on the statement that created the node. False
     * (direct) is the zero value, so annotations built by hand are direct. */
    bool inherited;
} IrAnnot;

typedef enum { VK_INPUT, VK_PARAM, VK_NODE } ValueKind;

typedef struct IrNode IrNode;
typedef struct IrValue IrValue;

/* One reading of a value: input slot `index` of node `user`. */
typedef struct IrUse {
    IrNode *user;
    int index;
} IrUse;

/*
 * Quantization of a value (a weight or an activation): real = scale *
 * (q - zero_point), q an integer of `bits` bits, signed or not. Per tensor
 * (axis -1: scale has shape [1]) or per channel along `axis` (scale has
 * shape [dim(axis)]). zero_point NULL means symmetric (0); pow2 means every
 * scale is a power of two (fixed point, F8Net style).
 */
typedef struct IrQuant {
    int bits;            /* 2..16 */
    bool is_signed;
    int axis;            /* -1: per tensor */
    bool pow2;
    IrValue *scale;      /* f32 parameter */
    IrValue *zero_point; /* i32 parameter shaped like scale, or NULL */
} IrQuant;

/* X(enum suffix, name in the text IR) */
#define SPARSITY_LIST(X) X(ELEMENT, "element") X(NM, "nm") X(CHANNEL, "channel") X(BLOCK, "block")
typedef enum {
#define X(e, name) SP_##e,
    SPARSITY_LIST(X)
#undef X
    SP__COUNT
} SparsityKind;

/*
 * Sparsity of a weight. element, nm: mask has the value's shape (1 kept, 0
 * removed); nm: at most n nonzeros in every m consecutive elements along the
 * reduction dimension of the weight viewed as [out, in*kh*kw]; channel:
 * along `axis`, mask shaped [dim(axis)]; block: the weight seen as a
 * crossbar sees it, rows = in*kh*kw (word lines), columns = out (bit
 * lines), cut into block[0] x block[1] tiles; the mask is the tile grid
 * [ceil(in*kh*kw / block[0]), ceil(out / block[1])] (ir_block_grid).
 */
typedef struct IrSparsity {
    SparsityKind kind;
    int n, m;       /* SP_NM */
    int axis;       /* SP_CHANNEL */
    int block[2];   /* SP_BLOCK: rows (over in*kh*kw), cols (over out) */
    IrValue *mask;  /* u8 / bool parameter */
} IrSparsity;

/* Where a node's weights live on a PIM accelerator (backends/pim). */
typedef struct IrPlacement {
    int tile, crossbar;  /* first tile and crossbar index used */
    int crossbars;       /* how many crossbars the weights span */
    int replicas;        /* copies for throughput (1: none) */
} IrPlacement;

/* Which requests of an IrRequests are present (IrRequests.set).
 * X(enum suffix, what it asks for, for messages) */
#define REQ_SLOT_LIST(X)                                                                        \
    X(PRUNE, "pruning") X(WEIGHT, "a weight precision") X(ACT, "an activation precision")      \
    X(TOME, "token merging") X(EPITOME, "an epitome") X(PIM, "a PIM placement")
enum {
#define X(e, what) REQ_##e##_BIT,
    REQ_SLOT_LIST(X)
#undef X
    REQ__SLOTS
};
enum {
#define X(e, what) REQ_##e = 1u << REQ_##e##_BIT,
    REQ_SLOT_LIST(X)
#undef X
};

/* A precision asked for weights or activations: an integer format of bits
 * bits, or the float format dtype (DT_F16 / DT_BF16, bits 16). */
typedef struct IrPrecisionReq {
    int bits;      /* 2..16 */
    bool is_float;
    DType dtype;   /* is_float only */
} IrPrecisionReq;

/*
 * What the source annotations (@prune, @precision, @tome, @epitome, @pim)
 * ask the compression passes to do with one node, checked against the node
 * by passes/annotations.c; a field is meaningful only when its slot is in
 * set. Prints as `req(prune(...), precision(...), ...)` (ir_req.c).
 */
typedef struct IrRequests {
    unsigned set;              /* REQ_* bits */
    double prune_ratio;        /* REQ_PRUNE: fraction removed, [0, 1) */
    SparsityKind prune_kind;   /* REQ_PRUNE: SP_ELEMENT unless asked */
    int prune_n, prune_m;      /* SP_NM: 0 < n < m <= 16, 2:4 unless asked */
    int prune_block[2];        /* SP_BLOCK: tile rows, cols > 0 */
    IrPrecisionReq weight;     /* REQ_WEIGHT */
    IrPrecisionReq act;        /* REQ_ACT: the node's results */
    int tome_r;                /* REQ_TOME: tokens merged, >= 0 */
    int64_t epitome[4];        /* REQ_EPITOME: epitome shape co, ci, kh, kw */
    int pim_tile, pim_crossbar; /* REQ_PIM: first tile / crossbar, -1: any */
    int pim_replicas;          /* REQ_PIM: copies, 0: the mapper decides */
} IrRequests;

struct IrValue {
    int id;            /* unique within the graph; node results print as %id */
    ValueKind kind;
    const char *name;  /* input name or parameter key; NULL for node results */
    DType dtype;
    Shape shape;
    IrNode *def;       /* VK_NODE: the defining node */
    int result;        /* VK_NODE: which of def's results this is */
    IrUse *uses;       /* node inputs that read this value (kept by the API) */
    int nuses, cap_uses;
    Tensor *data;      /* VK_PARAM: bound weights (owned by the graph) or NULL */
    const char *init;  /* VK_PARAM from param(): "normal", "zeros", "ones"; else NULL */
    IrQuant *quant;    /* NULL: not quantized */
    IrSparsity *sparsity; /* NULL: dense */
    Loc loc;
};

struct IrNode {
    int id;           /* unique within the graph (positions after ir_compact) */
    OpKind op;
    const char *name; /* instance path, or NULL */
    int nin;
    IrValue **in;     /* data inputs first, then parameters in ops.def order */
    int nout;
    IrValue **outs;   /* the results, ops.def's count */
    IrValue *out;     /* outs[0], the result of every single-result op */
    int nattr;
    IrAttr *attr;     /* every attribute of the op, defaults filled in, spec order */
    int nannot;
    IrAnnot *annot;
    IrPlacement *placement; /* NULL: not placed */
    IrRequests *req;  /* NULL: no annotation asks anything of this node */
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
    int next_value_id, next_node_id;
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

/* What a parameter slot is for (the role in ops.def's parameter spec). */
#define PARAM_ROLE_LIST(X) \
    X(WEIGHT, "weight") X(BIAS, "bias") X(SCALE, "scale") X(SHIFT, "shift") X(MEAN, "mean") X(VAR, "var")
typedef enum {
#define X(e, name) PR_##e,
    PARAM_ROLE_LIST(X)
#undef X
    PR__COUNT
} ParamRole;

typedef struct OpInfo {
    const char *name;
    int min_in, max_in;
    int nresults;
    const char *attr_spec, *param_spec;
    /* Result shapes (out[0..nresults)) from n->in[*]->shape and attributes.
     * On error writes a message naming both shapes to err and returns false. */
    bool (*shape)(const IrNode *n, Shape *out, char *err, size_t errlen);
    /* Result dtypes (out[0..nresults)) from the inputs' dtypes; false with a
     * message when an input has a dtype the op does not take. */
    bool (*dtype)(const IrNode *n, DType *out, char *err, size_t errlen);
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
/* The role of parameter input k of n (k counted from the first parameter),
 * PR__COUNT when n has no such parameter. */
ParamRole op_param_role(const IrNode *n, int k);
/* The role of parameter value p, from the first node reading it;
 * PR__COUNT when no node reads it as a parameter. */
ParamRole ir_param_role(const IrValue *p);
/* Buffers (running statistics) are state, not learned parameters. */
bool param_role_is_buffer(ParamRole r);
const char *param_role_name(ParamRole r);
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
 * Appends a node, infers its results with the op's shape and dtype rules,
 * records its uses and returns it. The attribute array is copied. On a shape
 * or dtype error returns NULL with the message in err and leaves the graph
 * unchanged.
 */
IrNode *ir_add_node(IrGraph *g, OpKind op, const char *name, int nin, IrValue **in,
                    int nattr, const IrAttr *attr, Loc loc, char *err, size_t errlen);
/* The most results any op has (ops.def). */
enum { IR_MAX_RESULTS = 4 };
/* Runs n's shape then dtype rule into arrays of the op's result count. */
bool ir_infer_results(const IrNode *n, Shape *shapes, DType *dtypes, char *err, size_t errlen);
/* Records that input k of n reads n->in[k] (for code building nodes by hand,
 * like the IR parser; everyone else uses ir_add_node and ir_rewrite.c). */
void ir_use_add(IrGraph *g, IrNode *n, int k);
/* The same, inserted at position pos of g->nodes (0..nnodes). */
IrNode *ir_insert_node(IrGraph *g, int pos, OpKind op, const char *name, int nin, IrValue **in,
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

/* ---- ir_rewrite.c: changing graphs, every use list kept exact ---- */

/* Position of n in g->nodes, -1 when it is not there. */
int ir_node_pos(const IrGraph *g, const IrNode *n);
/* Makes input k of n read v (updating both values' use lists). */
void ir_set_input(IrGraph *g, IrNode *n, int k, IrValue *v);
/* Every node input and graph output reading from now reads to; returns how
 * many were changed. */
int ir_replace_uses(IrGraph *g, IrValue *from, IrValue *to);
/* The same, leaving the inputs of `except` alone: after inserting
 * q = op(v), ir_replace_uses_except(g, v, q, q->def) reroutes v's readers
 * through q without making q read itself. */
int ir_replace_uses_except(IrGraph *g, IrValue *from, IrValue *to, const IrNode *except);
/* Re-runs n's shape and dtype rules after its inputs or attributes changed,
 * updating its results; false with a message (results left as they were). */
bool ir_refresh_node(IrNode *n, char *err, size_t errlen);
/* Removes n from g; its results must be unused (false otherwise, nothing
 * changed). Its inputs lose the uses. */
bool ir_remove_node(IrGraph *g, IrNode *n);
/* Removes parameter p (and frees its data); false when a node or metadata
 * still refers to it. */
bool ir_remove_param(IrGraph *g, IrValue *p);
/* Renumbers nodes by position and values densely (inputs, parameters, node
 * results in order), so ids index arrays of next_value_id entries without
 * holes after removals. */
void ir_compact(IrGraph *g);

/* ---- ir_uses.c: the use analysis every phase shares ---- */

/* Times v is read: node inputs plus graph outputs naming it. */
int ir_use_count(const IrGraph *g, const IrValue *v);
bool ir_is_output(const IrGraph *g, const IrValue *v);
/* The node that alone reads v when v is read exactly once by a node and is
 * not a graph output; NULL otherwise. */
IrNode *ir_sole_user(const IrGraph *g, const IrValue *v);
/* True when some value's metadata refers to p (a scale, a mask). */
bool ir_param_in_metadata(const IrGraph *g, const IrValue *p);
/*
 * Liveness by position: a new array of g->next_value_id ints, for each value
 * id the position of the last node reading it, g->nnodes for graph outputs
 * (live to the end), -1 for values nobody reads. The caller frees it.
 */
int *ir_last_uses(const IrGraph *g);

/* ---- ir_meta.c: what metadata must satisfy (the verifier and the IR parser) ---- */

enum { IR_QUANT_MIN_BITS = 2, IR_QUANT_MAX_BITS = 16, IR_NM_MAX_M = 16 };
/* The integer grid of a quant(bits, signed): [-2^(bits-1), 2^(bits-1) - 1]
 * or [0, 2^bits - 1] (the full range; a narrow signed quantizer simply never
 * reaches the lowest value). */
void ir_quant_range(int bits, bool is_signed, int32_t *lo, int32_t *hi);
/* How q's channels lie in a tensor of shape s: element i belongs to channel
 * (i / inner) % channels (per tensor: one channel). */
void ir_quant_layout(const IrQuant *q, const Shape *s, int64_t *channels, int64_t *inner);
/* The integers an f32 quantized parameter v (v->quant, v and its scale and
 * zero point bound as declared) stands for: q[i] = quantize(w[i]) in its
 * channel, written to q unless NULL. Returns -1 when every q[i] dequantizes
 * back to w[i] bit for bit, else the first element that does not (q is
 * then filled only up to it). The one home of "which integer is this
 * weight": the verifier's grid check and `netc export` both ask it. */
int64_t ir_quant_integers(const IrValue *v, int32_t *q);
/* The smallest integer dtype that holds that grid: i8/u8 up to 8 bits,
 * i16/u16 up to 16 (what quantize produces). */
DType ir_quant_container(int64_t bits, bool is_signed);
/* The first zero point of q (0 when q is symmetric or its zero point is
 * not bound to i32 data). */
int32_t ir_quant_zero_point(const IrQuant *q);
/* The integer output of qconv2d/qlinear n with bits > 0: its result's zero
 * point and the clamp [lo, hi], the grid of bits narrowed by the fused act
 * (relu: lo = zy; relu6: also hi = the quantized 6.0). False when the
 * result's scale is not bound. One definition for the reference kernel and
 * the native lowering. */
bool ir_qlayer_clamp(const IrNode *n, int32_t *zy, int32_t *lo, int32_t *hi);
/* The kind's name in the text IR ("nm"), and back (SP__COUNT when unknown). */
const char *ir_sparsity_name(SparsityKind k);
SparsityKind ir_sparsity_lookup(const char *name);
/* A weight seen as the 2-D matrix sparsity speaks of: [out, in*kh*kw], i.e.
 * rows = dim 0 (1 for a scalar), cols = the other dimensions' product. */
void ir_weight_view(const Shape *s, int64_t *rows, int64_t *cols);
/* The tile grid of a block mask on a weight of shape s: tile_rows over
 * in*kh*kw (block[0] each), tile_cols over out (block[1] each). Weight
 * element [o, k] of the view lies in tile (k / block[0], o / block[1]). */
void ir_block_grid(const Shape *s, const int block[2], int64_t *tile_rows, int64_t *tile_cols);
/* v->quant, v->sparsity, n->placement (non-NULL) agree with v or n and the
 * parameters they name: field ranges, the parameters' dtypes and shapes,
 * and rules on bound data (pow2 scales, n:m masks). False with a message
 * that does not name v or n (the caller does). */
bool ir_quant_check(const IrValue *v, char *err, size_t errlen);
bool ir_sparsity_check(const IrValue *v, char *err, size_t errlen);
bool ir_placement_check(const IrNode *n, char *err, size_t errlen);

/* ---- ir_verify.c ---- */
/* Checks the invariants (topological order, shapes and dtypes agree with the
 * op rules, use lists exact, metadata consistent with its tensors,
 * parameters unique, outputs defined); reports each violation to d. */
bool ir_verify(const IrGraph *g, Diag *d);

/* ---- ir_print.c / ir_parse.c: the textual form, which round-trips ---- */
void ir_print(const IrGraph *g, FILE *out);
/* Parses the text produced by ir_print; errors go to d with line:col. */
IrGraph *ir_parse(const char *path, const char *text, size_t len, Diag *d);

/* ---- ir_req.c: typed requests from annotation arguments, and back ---- */

/* True for the annotations that make requests (prune precision tome
 * epitome pim); others are user annotations no pass reads. */
bool ir_req_known(const char *name);
/* The requests annotation a makes, written into *out (only out->set slots);
 * false with a message naming the argument when an argument is unknown,
 * of the wrong type or out of range. Positional @precision(b) sets both
 * REQ_WEIGHT and REQ_ACT. a must be known. */
bool ir_req_from_annot(const IrAnnot *a, IrRequests *out, char *err, size_t errlen);
/* Copies the slots of src named in slots into dst. */
void ir_req_merge(IrRequests *dst, const IrRequests *src, unsigned slots);
/* r as annotations with every default written out, the form the text IR
 * prints inside req(...); returns how many (<= 5), arguments in arena. */
int ir_req_to_annots(Arena *arena, const IrRequests *r, IrAnnot *out);

/* ---- ir_dot.c ---- */
void ir_print_dot(const IrGraph *g, FILE *out);

/* ---- ir_stats.c ---- */
typedef struct IrStats {
    int64_t params;  /* learnable elements, as torchvision counts parameters */
    int64_t buffers; /* state: batchnorm running statistics, metadata tensors (scales, masks) */
    int64_t macs, activation_bytes, peak_activation_bytes;
    int64_t model_bytes; /* parameters stored: quantized weights at their bits, packed */
    int64_t sparse_weights, sparse_nonzeros; /* weights with a sparsity mask: elements, nonzeros */
    int64_t macs_kept;   /* MACs with masked weights' zeros skipped (= macs when dense) */
} IrStats;
/* Totals; when out is non-NULL also prints the per-layer table. */
IrStats ir_stats(const IrGraph *g, FILE *out);

#endif
