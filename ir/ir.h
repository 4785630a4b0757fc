/* ir.h — llmc's intermediate representation.
 *
 * A graph is a list of nodes in execution order over a table of tensors. Nodes refer to tensors by
 * index, tensors to their producing node by index. Everything a graph allocates (strings, the
 * tensor and node tables) belongs to it and is freed at once by llmc_graph_free.
 *
 * Tensors are inputs of the forward step (token ids, positions, output rows, KV slots), weights
 * (bound to bytes in a file, or a row-concatenation of other weights made by fusion) or values
 * (activations). Shapes have at most 4 dims; a dim is either a constant or symbolic: T (tokens in
 * the step, at most max_tokens) or O (logit rows in the step, at most max_outputs). Values are
 * row-major with the last dim contiguous; a SLICE view shares its source's rows (row stride = the
 * source's last dim).
 *
 * Storage: a tensor's format is its dtype (a row of ir/formats.def) and its layout says how the
 * elements are arranged beyond that: groups sharing a scale, the side tensors its format needs
 * (scales, zero points: formats.def `sides`), an element order (a pre-shuffle for a kernel). Only
 * quantized weights have other than the plain layout (row-major, no groups); the dump prints a
 * layout only when it is not plain. The KV cache has a format and a layout too, for its keys and
 * for its values each (LlmcGraph.kv_format[2], kv_layout[2]), chosen by lower_paged_kv.
 *
 * The stable text form (llmc_graph_dump) is used for --dump-after, errors and golden tests.
 */
#ifndef LLMC_IR_H
#define LLMC_IR_H

#include <stdint.h>
#include <stdio.h>

#include "base.h"

enum {
    OPF_USER = 1,
    OPF_ROWWISE = 2,
    OPF_FUSED = 4,
    OPF_LOWERED = 8,
    OPF_VIEW = 16,
};

typedef enum {
#define X(id, name, min_in, max_in, n_out, flags, attrs) LLMC_OP_##id,
#include "ops.def"
#undef X
    LLMC_OP_COUNT
} LlmcOp;

typedef struct LlmcOpInfo {
    const char *name;
    int min_in, max_in, n_out, flags;
    const char *attrs;            /* attribute keys model.json may give */
} LlmcOpInfo;

extern const LlmcOpInfo llmc_op_info[LLMC_OP_COUNT];
int llmc_op_from_name(const char *name, LlmcOp *op);   /* 0 on success */

#define LLMC_MAX_RANK 4
#define LLMC_MAX_IN 8
#define LLMC_MAX_OUT 2
#define LLMC_MAX_ATTR 24
#define LLMC_MAX_PARTS 4             /* members of a matmul group fuse_matmuls merges */

typedef enum { LLMC_DIM_CONST = 0, LLMC_DIM_T, LLMC_DIM_O } LlmcDimSym;

typedef struct LlmcShape {
    int rank;
    int64_t dim[LLMC_MAX_RANK];   /* constant size; for symbolic dims: 0 */
    uint8_t sym[LLMC_MAX_RANK];   /* LlmcDimSym */
} LlmcShape;

typedef enum { LLMC_T_INPUT = 0, LLMC_T_WEIGHT, LLMC_T_VALUE } LlmcTensorKind;

/* A matrix the checkpoint stores already quantized (docs/formats.md, "Importing quantized
 * checkpoints"): it keeps exactly that quantization, never requantized. Its values come from the
 * tensors of the checkpoint's encoding (members: unread weights bound to them), decoded by the
 * weight source (ir/weights.h, quant_rows) into llmc's format. */
enum {
    LLMC_PQ_NONE = 0,
    LLMC_PQ_AWQ,                  /* AutoAWQ, GEMM version */
    LLMC_PQ_GPTQ,                 /* AutoGPTQ / GPTQModel "gptq" (v1: zero points stored minus one) */
    LLMC_PQ_GPTQ_V2,              /* GPTQModel "gptq_v2" (zero points stored as they are) */
    LLMC_PQ_NVFP4,                /* NVIDIA ModelOpt's NVFP4 (weight, weight_scale, weight_scale_2) */
    LLMC_PQ_COUNT
};
#define LLMC_PQ_MEMBERS 4
/* The encoding's name ("awq", "gptq", "gptq_v2", "modelopt_nvfp4": model.json, the dump); "?" out of
 * range. */
const char *llmc_pq_name(int kind);
/* The member of encoding `kind` that holds a per-tensor value (NVFP4's weight_scale_2), -1: none.
 * Matrices merge only when theirs is one tensor (a merged matrix has one per-tensor scale). */
int llmc_pq_tensor_member(int kind);

typedef struct LlmcPrequant {
    int kind;                     /* LLMC_PQ_*; NONE: the matrix is not stored quantized */
    LlmcDType format;             /* the llmc format its values are exactly (u4, nvfp4) */
    int32_t group;                /* values along K sharing a scale and zero point */
    int zeros;                    /* 1: zero points of its own (an optional ZERO side); 0: symmetric */
    int act_order;                /* 1: K is stored permuted (GPTQ act-order: the groups' columns made
                                     contiguous); the matmul reads its input gathered the same way */
    int member[LLMC_PQ_MEMBERS];  /* the encoding's tensors (AWQ/GPTQ: qweight, qzeros, scales, g_idx;
                                     NVFP4: weight, weight_scale, weight_scale_2, input_scale), -1:
                                     absent */
} LlmcPrequant;

/* Where a weight's bytes come from. */
typedef struct LlmcWeightSrc {
    const char *file;             /* path (already joined with the model.json directory) */
    const char *tensor;           /* safetensors tensor name, or NULL for a raw array */
    const char *ckpt;             /* the tensor's name in its checkpoint, for --keep and messages
                                     (model.json "checkpoint_name", else `tensor`); NULL: none */
    int64_t offset;               /* raw arrays: byte offset */
    LlmcDType file_dtype;         /* how the file stores it */
    const char *where;            /* JSON path of the binding, for errors */
    int n_parts;                  /* > 0: concatenation of these weights along dim 0 (fused Q/K/V, stacked
                                     experts stored one tensor each) */
    int *parts;                   /* [n_parts] tensor ids, in the graph's arena */
    int64_t stack;                /* > 0: the file holds [stack, rows / stack, cols] (experts stacked in
                                     one tensor), read as the matrix [rows, cols] */
    double add;                   /* added to every value as read (Gemma's norms scale by 1 + w) */
    int derived;                  /* 1: the scales or zero points of weight derived_from (whose
                                     layout names this tensor), computed by the packer; no file */
    int derived_from;
    LlmcPrequant pq;              /* a matrix stored quantized by the checkpoint (kind != NONE; a
                                     merged one: its parts are, alike); file_dtype is pq.format */
    int32_t perm_group;           /* > 0: an i32 vector whose values are the act-order permutation
                                     of the g_idx tensor bound here (file, tensor), groups of this
                                     size: the weight source computes it (ir/weights.h) */
    int shard;                    /* LLMC_SHARD_*: one rank's part of the tensor bound here (a graph
                                     sharded over g->tp ranks, passes/shard_tp.c): its shape is the
                                     part's; llmc_shard_view says which rows or columns rank r reads */
    int32_t shard_rep;            /* > 1: ranks that read the same part (KV heads fewer than ranks:
                                     g->tp / shard_rep parts, rank r reading part r / shard_rep) */
} LlmcWeightSrc;

/* How a weight of a sharded graph is cut among the g->tp ranks: not at all (every rank reads the
 * whole tensor), or dim 0 (ROWS: a matrix's rows, a vector's elements) or dim 1 (COLS: a matrix's
 * columns) in g->tp equal ranges, rank r reading range r (with src.shard_rep > 1: in g->tp /
 * shard_rep ranges, rank r reading range r / shard_rep). */
enum { LLMC_SHARD_NONE = 0, LLMC_SHARD_ROWS, LLMC_SHARD_COLS };
const char *llmc_shard_name(int shard);       /* "none", "rows", "cols" */

/* Element orders (pre-shuffles) of a layout: formats.def's O lines (ROW_MAJOR, LANE8: what they are). */
enum {
#define O(id, name) LLMC_ORDER_##id,
#include "formats.def"
    LLMC_ORDER_COUNT
};
const char *llmc_order_name(int order);
/* LANE8's tile (elements) for format fmt; the storage position of element k of a row in an order. */
int64_t llmc_order_tile(LlmcDType fmt);
int64_t llmc_order_index(int order, LlmcDType fmt, int64_t k);

typedef struct LlmcLayout {
    int32_t group;                /* elements along the last dim sharing one value of a GROUP side; 0: no groups */
    int order;                    /* LLMC_ORDER_*: element order / pre-shuffle */
    int side[LLMC_MAX_SIDES];     /* tensor ids of the format's side tensors (formats.def `sides`, in
                                     that order: side[i] is side i, shaped by its rule and stored in
                                     its format), -1: absent (an optional side left out, or past the
                                     format's list) */
} LlmcLayout;

/* Row-major, no groups, no side tensors: every tensor but the quantized weights. */
static inline LlmcLayout llmc_layout_plain(void)
{
    LlmcLayout l = {0, LLMC_ORDER_ROW_MAJOR, {0}};
    for (int i = 0; i < LLMC_MAX_SIDES; i++)
        l.side[i] = -1;
    return l;
}
static inline int llmc_layout_is_plain(const LlmcLayout *l)
{
    for (int i = 0; i < LLMC_MAX_SIDES; i++)
        if (l->side[i] >= 0)
            return 0;
    return l->group == 0 && l->order == LLMC_ORDER_ROW_MAJOR;
}
/* The tensor of the side of `fmt` with role `role` in layout l (llmc_format_side_index), -1 if absent. */
static inline int llmc_layout_role(const LlmcLayout *l, LlmcDType fmt, int role)
{
    int i = llmc_format_side_index(fmt, role);
    return i < 0 ? -1 : l->side[i];
}

typedef struct LlmcTensor {
    const char *name;             /* unique in the graph */
    LlmcTensorKind kind;
    LlmcDType dtype;              /* storage format (formats.def); weights: the one the target packs */
    LlmcLayout layout;            /* plain unless weight_format chose a grouped / shuffled one */
    LlmcShape shape;
    int producer;                 /* node index, -1 for inputs, weights and unproduced */
    LlmcWeightSrc src;            /* weights only */
    int view_of;                  /* SLICE outputs: source tensor, else -1 */
    int64_t view_col;             /* first column in the source */
    int64_t offset;               /* after planning: arena offset (values), payload offset (weights) */
    int64_t bytes;                /* after planning: bytes reserved */
} LlmcTensor;

typedef enum { LLMC_ATTR_INT, LLMC_ATTR_FLOAT, LLMC_ATTR_STR, LLMC_ATTR_FLOATS } LlmcAttrKind;

typedef struct LlmcAttr {
    const char *key;
    LlmcAttrKind kind;
    int64_t i;
    double f;
    const char *s;
    const double *v;              /* LLMC_ATTR_FLOATS: i values (RoPE frequency factors) */
} LlmcAttr;

typedef struct LlmcNode {
    LlmcOp op;
    int n_in, n_out, n_attr;
    int in[LLMC_MAX_IN];
    int out[LLMC_MAX_OUT];
    LlmcAttr attr[LLMC_MAX_ATTR];
    int layer;                    /* layer index for block nodes, -1 elsewhere */
    const char *where;            /* JSON path of the op in model.json, for errors */
} LlmcNode;

typedef struct LlmcArenaChunk LlmcArenaChunk;

/* End-of-sequence ids a model may have besides its first (config.json's eos_token_id list and
 * generation_config.json's, e.g. Llama 3 instruct's 128001, 128008, 128009). */
#define LLMC_MAX_EOS 16

/* The model's own sampling defaults (model.json config.sampling, from generation_config.json):
 * the executable uses them unless its command line says otherwise. */
typedef struct LlmcSampling {
    int set;                      /* 0: none (the executable samples greedily) */
    double temperature;           /* 0: greedy */
    int64_t top_k;                /* 0: off */
    double top_p;                 /* 1: off */
} LlmcSampling;

/* Graph-wide facts. Dims and limits are set by the frontend and the driver's options. */
typedef struct LlmcGraph {
    LlmcArenaChunk *arena;
    LlmcTensor *t;
    int nt, cap_t;
    LlmcNode *n;
    int nn, cap_n;

    const char *name;
    const char *source;           /* the model.json (or checkpoint) the graph came from */
    int32_t max_seq_len, bos_id, eos_id;
    int32_t eos_more[LLMC_MAX_EOS];   /* more end-of-sequence ids, besides eos_id */
    int n_eos_more;
    LlmcSampling sampling;
    int32_t vocab_size;           /* from the logits shape, set by infer_shapes */
    int32_t max_tokens, max_outputs, kv_block_size;
    int tok_kind;                 /* LLMC_TOK_* */
    const char *tok_file;

    /* Step inputs (tensor ids; -1 until created). */
    int in_tokens, in_positions, in_out_rows, in_slots;
    int logits;                   /* the output tensor */

    /* After paged-KV lowering: the KV pool's shape, and the storage format and layout of its keys
     * ([0]) and its values ([1]) (--kv K,V). kv_default: both are the target's default (the dump
     * names the formats only when they are not). kv_scales: the LAYER_HEAD scales of a format that
     * has them (fp8), [kv_layers][2][kv_heads] (K then V of each layer), NULL when no format has
     * them; kv_calibrated: they come from --kv-calib (else 1). */
    int kv_layers, kv_heads, kv_head_dim;
    LlmcDType kv_format[2];
    LlmcLayout kv_layout[2];
    int kv_default;
    float *kv_scales;
    int kv_calibrated;
    /* After memory planning. */
    int64_t arena_bytes, weights_bytes;
    /* shard_tp: the ranks the graph is sharded over (each runs this graph on its part of the
     * weights, src.shard); 0 or 1: not sharded. */
    int32_t tp;
} LlmcGraph;

LlmcGraph *llmc_graph_new(void);
void llmc_graph_free(LlmcGraph *g);

/* Arena allocation (zeroed) and string copies owned by the graph. */
void *llmc_galloc(LlmcGraph *g, size_t n);
const char *llmc_gstr(LlmcGraph *g, const char *s);
const char *llmc_gprintf(LlmcGraph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int llmc_tensor_new(LlmcGraph *g, const char *name, LlmcTensorKind kind, LlmcDType dtype,
                    const LlmcShape *shape);
/* Appends a node (copied); sets the producer of its outputs. Returns its index. */
int llmc_node_add(LlmcGraph *g, const LlmcNode *n);
/* A node with op, inputs and outputs filled and no attributes. */
LlmcNode llmc_node_make(LlmcOp op, int n_in, const int *in, int n_out, const int *out);

/* Attributes. */
void llmc_attr_set_int(LlmcGraph *g, LlmcNode *n, const char *key, int64_t v);
void llmc_attr_set_float(LlmcGraph *g, LlmcNode *n, const char *key, double v);
void llmc_attr_set_str(LlmcGraph *g, LlmcNode *n, const char *key, const char *v);
void llmc_attr_set_floats(LlmcGraph *g, LlmcNode *n, const char *key, const double *v, int64_t count);
/* Copies attribute a (of any node) onto n. */
void llmc_attr_copy(LlmcGraph *g, LlmcNode *n, const LlmcAttr *a);
/* The values of a LLMC_ATTR_FLOATS attribute (NULL when absent or of another kind), *count set. */
const double *llmc_attr_floats(const LlmcNode *n, const char *key, int64_t *count);
const LlmcAttr *llmc_attr(const LlmcNode *n, const char *key);
int64_t llmc_attr_int(const LlmcNode *n, const char *key, int64_t dflt);
double llmc_attr_float(const LlmcNode *n, const char *key, double dflt);
const char *llmc_attr_str(const LlmcNode *n, const char *key, const char *dflt);

/* RoPE frequency scaling (a rope node's scaling.type): none, Llama 3.1's, linear (positions / factor),
 * dynamic NTK, YaRN, LongRoPE. */
enum { LLMC_ROPE_NONE = 0, LLMC_ROPE_LLAMA3, LLMC_ROPE_LINEAR, LLMC_ROPE_DYNAMIC, LLMC_ROPE_YARN, LLMC_ROPE_LONGROPE };
int llmc_rope_kind(const LlmcNode *n);
/* The reference frequencies of a rope node at position pos: inv[i] for i < hd/2 (radians a position)
 * and the factor both cos and sin are multiplied by (YaRN's and LongRoPE's attention factor), in
 * double. The kernels (codegen/c_prelude.h rope_table) compute the same in float32. */
void llmc_rope_freqs(const LlmcNode *n, int hd, int64_t pos, double *inv, double *mscale);
/* Whether two rope nodes rotate alike (head_dim, theta, style, every scaling attribute). */
int llmc_rope_same(const LlmcNode *a, const LlmcNode *b);

/* Shapes. */
/* Shapes from dims; LLMC_T and LLMC_O stand for the symbolic dims. */
#define LLMC_T (-1)
#define LLMC_O (-2)
LlmcShape llmc_shape1(int64_t a);
LlmcShape llmc_shape2(int64_t a, int64_t b);
int llmc_shape_eq(const LlmcShape *a, const LlmcShape *b);
int64_t llmc_shape_numel(const LlmcShape *s, int64_t t, int64_t o); /* with T = t, O = o */
const char *llmc_shape_str(const LlmcShape *s, char *buf, size_t n); /* "[T,64]" */
static inline int64_t llmc_cols(const LlmcShape *s) { return s->dim[s->rank - 1]; }

/* Storage. */
/* Bytes tensor t takes (at max_tokens / max_outputs rows for activations), from its format and layout. */
int64_t llmc_tensor_bytes(const LlmcGraph *g, int t);
/* Whether select_rows node `node` writes its O rows over its input's first rows, in the input's own
 * buffer (the GPU stage's plan_memory_gpu gives the output its input's offset where nothing reads
 * the input after it): a step whose out_rows are 0..T-1 then has nothing to copy. */
int llmc_rows_in_place(const LlmcGraph *g, int node);
/* Bytes of one KV block (all layers, K and V) with the pool stored in format fmt. */
/* Bytes of one block of the KV pool with keys in kf and values in vf (ir/kv_layout.h). */
int64_t llmc_graph_kv_block_bytes(const LlmcGraph *g, LlmcDType kf, LlmcDType vf);
/* 1 when KV format f has a scale per layer and KV head (LAYER_HEAD: fp8). */
int llmc_kv_has_layer_scale(LlmcDType f);
/* "f16", or "int8,int4" when keys and values differ: the KV formats as --kv names them. */
const char *llmc_kv_formats_str(const LlmcDType fmt[2], char *buf, size_t n);

/* The part of its checkpoint tensor that weight t (a tensor with a binding of its own: not a merged
 * weight) holds on rank `rank` of a sharded graph: the whole tensor is [rows, cols] (a vector:
 * [n, 1]), the rank reads rows [r0, r0 + nr) and columns [c0, c0 + nc). An unsharded weight: all of
 * it on every rank. */
typedef struct LlmcShardView {
    int64_t rows, cols;           /* the checkpoint tensor's shape */
    int64_t r0, nr, c0, nc;       /* the rank's part */
} LlmcShardView;
LlmcShardView llmc_shard_view(const LlmcGraph *g, const LlmcTensor *t, int rank);
/* t with the checkpoint tensor's shape and no shard: what a weight source reads the whole of. */
LlmcTensor llmc_shard_whole(const LlmcGraph *g, const LlmcTensor *t);
/* The rank's part (v) of the whole tensor's values `whole` ([rows][cols] floats) into part[nr][nc]. */
void llmc_shard_extract(const LlmcShardView *v, const float *whole, float *part);

/* Graph edits used by passes. */
/* Recomputes every tensor's producer from the node list. */
void llmc_graph_reindex(LlmcGraph *g);
/* Number of nodes reading tensor t (through views too when `through_views`). */
int llmc_tensor_uses(const LlmcGraph *g, int t);
/* Replaces every read of tensor `from` with `to` in nodes [start, nn). */
void llmc_replace_uses(LlmcGraph *g, int from, int to, int start);
/* Removes nodes marked by keep[i] == 0, preserving order. */
void llmc_graph_compact(LlmcGraph *g, const uint8_t *keep);

/* Shape rules of every op: computes the output shapes and dtypes of node `n` from its inputs'
 * shapes, or returns LLMC_ERR with a message naming n->where. */
LlmcStatus llmc_infer_node(const LlmcGraph *g, const LlmcNode *n, LlmcShape *out_shape,
                           LlmcDType *out_dtype, LlmcDiag *d);

/* Structural and shape consistency of the whole graph; an error here is a compiler bug (or, before
 * infer_shapes has run, a user error in model.json). */
LlmcStatus llmc_graph_verify(const LlmcGraph *g, LlmcDiag *d);

/* Stable text form. */
void llmc_graph_dump(const LlmcGraph *g, FILE *f);
char *llmc_graph_dump_str(const LlmcGraph *g);     /* malloc'd */

#endif
