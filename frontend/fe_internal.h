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
