/* fe_internal.h — the helpers the frontend's files share and nobody else needs: typed JSON field
 * readers with error messages, paths relative to the model.json directory, the Hugging Face config
 * parser (importer and synthesizer), and a protobuf writer. The Llama graph builder has its own
 * header (llama_graph.h), included by the importers alone.
 */
#ifndef LLMC_FE_INTERNAL_H
#define LLMC_FE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "frontend.h"

/* ---- JSON fields (json_util.c) ----
 * `file` names the document in messages ("config.json"), `key` the field. A missing or null field
 * gives `def` unless `required`. Values outside [lo, hi] are refused naming the field, the range
 * and the value found. */
LlmcStatus fe_json_int(const cJSON *obj, const char *key, const char *file, int required,
                       int64_t def, int64_t lo, int64_t hi, int64_t *out, LlmcDiag *d);
/* Numbers in the open-closed range (lo, hi]. */
LlmcStatus fe_json_num(const cJSON *obj, const char *key, const char *file, int required,
                       double def, double lo, double hi, double *out, LlmcDiag *d);
LlmcStatus fe_json_bool(const cJSON *obj, const char *key, const char *file, int def, int *out,
                        LlmcDiag *d);
/* A short printable rendering of a JSON value for messages ("2.5", "\"abc\"", "missing"). */
void fe_json_repr(const cJSON *v, char *buf, size_t n);
/* Is v a number holding an integer in [lo, hi]? */
int fe_json_is_int(const cJSON *v, double lo, double hi);
/* "[4096, 1024]" */
void fe_shape_str(int rank, const int64_t *shape, char *buf, size_t n);

/* ---- paths (paths.c) ---- */

/* `file` expressed for a model.json living in base_dir (NULL = "."): relative when both resolve
 * (realpath) and share a directory below "/", otherwise the absolute path. malloc'd. */
char *fe_rel_path(const char *file, const char *base_dir);
/* Last path component without a trailing extension ("stories260K" for "a/stories260K.bin"). */
char *fe_base_name(const char *path, int strip_ext);
int fe_is_dir(const char *path);
int fe_is_file(const char *path);

/* ---- Hugging Face config.json (hf_config.c) and the families (hf_families.c) ---- */

#define FE_MAX_LAYERS 4096

/* One RoPE frequency setup: the base and transformers' scaling (rope_scaling / rope_parameters),
 * with the defaults transformers fills in already applied (ir/rope.c says what each type does). */
typedef struct FeRope {
    double theta;
    const char *type;                 /* NULL: none; "llama3", "linear", "dynamic", "yarn", "longrope" */
    double factor, low_freq, high_freq, beta_fast, beta_slow, attn_factor;
    int64_t orig_max_pos;
    int truncate;                     /* yarn: the correction range rounded outwards */
    const cJSON *short_factor, *long_factor; /* longrope: arrays of head_dim / 2 numbers (the config's) */
} FeRope;

enum { FE_ACT_SILU = 0, FE_ACT_GELU_TANH };

typedef struct FeFamily FeFamily;

typedef struct FeHfConfig {
    const FeFamily *fam;              /* the architecture's row of the family table */
    const char *architecture;         /* points into the cJSON tree */
    int64_t hidden, ffn, n_layers, n_heads, n_kv_heads, head_dim, vocab, max_pos;
    int64_t bos_id, eos_id, window;   /* window: of the layers that have one (0: none) */
    int32_t eos_more[LLMC_MAX_EOS];   /* more end-of-sequence ids (eos_token_id lists) */
    int n_eos_more;
    LlmcSampling sampling;            /* generation_config.json's sampling defaults */
    double eps;
    FeRope rope;                      /* global (full-attention) layers */
    FeRope rope_local;                /* sliding-window layers (Gemma 3: a base of its own; else = rope) */
    int tied, attention_bias;
    int qkv_bias, o_bias;             /* the checkpoint's q/k/v and o projections have biases */
    int act;                          /* FE_ACT_*: the MLP's gate activation */
    double attn_scale;                /* 0: 1/sqrt(head_dim) (Gemma: query_pre_attn_scalar^-1/2) */
    double attn_softcap, final_softcap; /* 0: none */
    double emb_scale;                 /* 0: none (Gemma: sqrt(hidden)) */
    int64_t n_experts, top_k, moe_ffn;
    int norm_topk;                    /* renormalize the top-k routing weights */
    int moe_stacked;                  /* the checkpoint stacks each layer's experts in one tensor a
                                         projection (transformers 5), else one tensor an expert */
    uint8_t sliding[FE_MAX_LAYERS];   /* 1: layer l attends through the sliding window */
    uint8_t moe[FE_MAX_LAYERS];       /* 1: layer l's MLP is the mixture of experts */
} FeHfConfig;

/* The family of a config.json architecture (architectures[0]), NULL if none. */
const FeFamily *fe_hf_family(const char *arch);
/* "LlamaForCausalLM, MistralForCausalLM, ...": the architectures the table holds. */
void fe_hf_family_names(char *buf, size_t n);
/* Family facts the config parser and the graph builder read. */
enum {
    FF_BIAS_PROBE = 1 << 0,           /* q/k/v and o biases when attention_bias or the checkpoint has them */
    FF_QKV_BIAS = 1 << 1,             /* q/k/v always biased, o never (Qwen2) */
    FF_QK_NORM = 1 << 2,              /* per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3) */
    FF_GEMMA = 1 << 3,                /* norms x * (1 + w) before and after attention and MLP, embeddings
                                         times sqrt(hidden), query_pre_attn_scalar, soft-capping */
    FF_GEMMA3 = 1 << 4,               /* a local RoPE base for sliding layers, sliding_window_pattern */
    FF_FUSED = 1 << 5,                /* qkv_proj and gate_up_proj (Phi-3) */
    FF_WINDOW_ALL = 1 << 6,           /* sliding_window applies to every layer (Mistral, Mixtral, Phi-3) */
    FF_WINDOW_QWEN = 1 << 7,          /* use_sliding_window, layers from max_window_layers on */
    FF_WINDOW_ALT = 1 << 8,           /* Gemma 2: every other layer, the first included */
    FF_MOE_MIXTRAL = 1 << 9,          /* num_local_experts in every layer, weights always renormalized */
    FF_MOE_QWEN = 1 << 10,            /* num_experts, decoder_sparse_step, mlp_only_layers, norm_topk_prob */
    FF_TIED_DEFAULT = 1 << 11,        /* tie_word_embeddings defaults to true */
};
unsigned fe_hf_family_flags(const FeFamily *f);
const char *fe_hf_family_act_key(const FeFamily *f);

/* One tensor of a checkpoint of config c, as fe_hf_tensors lists it: llmc's weight name, the
 * checkpoint's name and shape (rank 1 to 3), and for the parts of a weight stored as several tensors
 * (one an expert) the part's index among n_parts. */
typedef struct FeTensorRef {
    const char *key;                  /* "layers.3.wq" */
    const char *hf;                   /* "model.layers.3.self_attn.q_proj.weight" */
    int rank;
    int64_t shape[3];
    int part, n_parts;                /* n_parts 0: the whole weight */
    double add;                       /* the value added to every element (Gemma's norms: 1) */
    int is_norm;                      /* a norm's weight (the synthesizer writes 1.0) */
} FeTensorRef;
typedef LlmcStatus (*FeTensorFn)(void *ctx, const FeTensorRef *t, LlmcDiag *d);
/* Every tensor the graph of config c reads, in the order a checkpoint holds them (the synthesizer
 * writes this order). */
LlmcStatus fe_hf_tensors(const FeHfConfig *c, FeTensorFn fn, void *ctx, LlmcDiag *d);

/* llmc_import_hf with the import options (NULL: none). */
LlmcStatus fe_import_hf(const char *dir, const LlmcImportOptions *opt, const char *base_dir, cJSON **model,
                        LlmcDiag *d);

/* Reads and checks every field the importer uses; `file` names config.json in messages. */
LlmcStatus fe_hf_parse_config(const cJSON *cfg, const char *file, FeHfConfig *c, LlmcDiag *d);
/* generation_config.json (beside config.json), after fe_hf_parse_config: its eos_token_id (one or
 * a list) adds to config.json's, its bos_token_id fills a missing one, and its sampling fields
 * become the model's defaults: do_sample false is greedy; else temperature (default 1), top_k
 * (default off) and top_p (default off), the fields it has. No sampling field: no defaults. */
LlmcStatus fe_hf_parse_generation(const cJSON *gen, const char *file, FeHfConfig *c, LlmcDiag *d);

/* ---- matrices stored quantized by the checkpoint (prequant.c; docs/formats.md) ---- */

/* "awq", "gptq", "gptq_v2", "modelopt_nvfp4" -> LLMC_PQ_*, -1 unknown. */
int fe_pq_kind_from_name(const char *s);
/* The llmc format an encoding's values are: u4 (AWQ, GPTQ), nvfp4. */
LlmcDType fe_pq_format(int kind);

/* Member i of encoding `kind` (LlmcPrequant.member order) for a matrix [N, K] in groups of `group`:
 * its name (the checkpoint's suffix and model.json's "tensors" key), whether it is required, its
 * shape (a scalar: [1]), and the dtypes it takes. 0 past the list. */
typedef struct FePqMember {
    const char *role;
    int required;
    int rank;
    int64_t shape[2];
    const char *what;                 /* the shape and dtype rule, for messages: "[K, N / 8] int32" */
    unsigned dtypes;                  /* bit t: LlmcDType t is accepted */
} FePqMember;
int fe_pq_member(int kind, int i, int64_t N, int64_t K, int64_t group, FePqMember *m);
/* NULL when an encoding can hold a matrix [N, K] in groups of `group`, else what is wrong (in buf). */
const char *fe_pq_check_dims(int kind, int64_t N, int64_t K, int64_t group, char *buf, size_t n);

/* The act-order permutation of g_idx[K] (int32, little-endian, as the file holds it): perm[j] = the
 * input stored at column j, inputs sorted by group, stably. An error (naming `what`) unless every
 * group index is in range and each group holds exactly `group` inputs (the last K - group (G - 1)). */
LlmcStatus fe_pq_perm(const uint8_t *g_idx, int64_t K, int64_t group, int32_t *perm, const char *what,
                      LlmcDiag *d);
int fe_pq_perm_is_identity(const int32_t *perm, int64_t K);

/* One quantized matrix as its members' bytes, for decoding. */
typedef struct FePqData {
    int kind;                         /* LLMC_PQ_* */
    int64_t N, K, group;
    int zeros;                        /* keep zero points (else they must all be 8: symmetric) */
    const int32_t *perm;              /* act-order permutation [K], NULL: K in order */
    const uint8_t *data[LLMC_PQ_MEMBERS];
    LlmcDType dtype[LLMC_PQ_MEMBERS];
    const char *name[LLMC_PQ_MEMBERS]; /* the checkpoint's tensor names and files, for messages */
    const char *file[LLMC_PQ_MEMBERS];
} FePqData;
/* Rows [r0, r0 + n) in llmc's format (ir/weights.h quant_rows): values into q; u4: scales into
 * side[0], zero points into side[1] (m->zeros); nvfp4: block scales into side[0], the tensor scale
 * into side[1][0]. Exact: an error, naming the tensor and element, for a u4 scale f16 does not hold
 * exactly, when symmetric a zero point other than 8, an NVFP4 scale that is NaN. */
LlmcStatus fe_pq_rows(const FePqData *m, int64_t r0, int64_t n, uint8_t *q, float *const *side, LlmcDiag *d);

/* ---- Hugging Face checkpoints stored quantized (hf_quant.c) ---- */

#define FE_HF_GIDX 16
typedef struct FeHfGidx {             /* a tensor bound before that equal ones share (hf_quant.c) */
    char *rel, *name;
    const uint8_t *data;
    size_t bytes;
} FeHfGidx;

typedef struct FeHfQuant {
    int kind;                         /* LLMC_PQ_*; NONE: no quantization_config */
    int64_t group;                    /* -1: a whole row */
    int zeros;                        /* zero points (AWQ; GPTQ without sym) */
    char where[600];                  /* "DIR/config.json: quantization_config", for messages */
    FeHfGidx gidx[FE_HF_GIDX];        /* the last act-order g_idx and NVFP4 tensor scales bound */
    int n_gidx, next_gidx;
    int n_bound;                      /* layers bound quantized */
} FeHfQuant;

/* The importer's tensors: has (listed in the checkpoint?) and find (the tensor, the model.json path
 * of its file and its path; an error naming the file when it is missing). */
typedef struct FeHfFind {
    void *ctx;
    const char *dir;
    int (*has)(void *ctx, const char *name);
    LlmcStatus (*find)(void *ctx, const char *name, const LlmcStTensor **t, const char **rel, const char **path,
                       LlmcDiag *d);
} FeHfFind;

/* config.json's quantization_config (else quantize_config.json, else ModelOpt's hf_quant_config.json in
 * dir), checked: AWQ (GEMM), GPTQ (v1, v2) at 4 bits, ModelOpt NVFP4; anything else is refused naming
 * the field. No config: kind NONE. */
LlmcStatus fe_hf_quant_config(const cJSON *cfg, const char *dir, const char *cfg_path, FeHfQuant *q, LlmcDiag *d);
/* Matrix `key` [N, K], the checkpoint's `name` (PREFIX.weight): when the checkpoint stores it
 * quantized (PREFIX.qweight; NVFP4: PREFIX.weight_scale), binds it as weights[key] and sets *bound;
 * otherwise leaves it. */
LlmcStatus fe_hf_bind_quant(FeHfQuant *q, const FeHfFind *f, cJSON *weights, const char *key, const char *name,
                            int64_t N, int64_t K, int *bound, LlmcDiag *d);
void fe_hf_quant_free(FeHfQuant *q);

/* ---- protobuf wire format writer (protobuf_write.c) ---- */

typedef struct FePb {
    uint8_t *p;
    size_t n, cap;
    int oom;                          /* sticky: an allocation failed */
} FePb;

void fe_pb_free(FePb *b);
void fe_pb_varint_field(FePb *b, int field, uint64_t v);  /* wire type 0 (uint, bool, enum) */
void fe_pb_int32_field(FePb *b, int field, int32_t v);    /* negative: 10-byte sign extension */
void fe_pb_float_field(FePb *b, int field, float v);      /* wire type 5 */
void fe_pb_bytes_field(FePb *b, int field, const void *data, size_t n); /* wire type 2 */
void fe_pb_string_field(FePb *b, int field, const char *s);
void fe_pb_message_field(FePb *b, int field, const FePb *sub);

#endif
