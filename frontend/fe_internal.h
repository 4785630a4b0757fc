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

/* ---- Hugging Face config.json (hf_config.c) ---- */

typedef struct FeHfConfig {
    const char *architecture;         /* points into the cJSON tree */
    int mistral;
    int64_t hidden, ffn, n_layers, n_heads, n_kv_heads, head_dim, vocab, max_pos;
    int64_t bos_id, eos_id, window;
    int32_t eos_more[LLMC_MAX_EOS];   /* more end-of-sequence ids (eos_token_id lists) */
    int n_eos_more;
    LlmcSampling sampling;            /* generation_config.json's sampling defaults */
    double eps, theta;
    int rope_llama3;
    double rope_factor, rope_low_freq, rope_high_freq;
    int64_t rope_orig_max_pos;
    int tied, attention_bias;
} FeHfConfig;

/* llmc_import_hf with --tokenizer FILE (NULL: the directory's own tokenizer). */
LlmcStatus fe_import_hf(const char *dir, const char *tokenizer, const char *base_dir, cJSON **model, LlmcDiag *d);

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
