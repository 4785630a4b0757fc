/* llama_graph.h — the Llama graph builder (llama_graph.c), what every importer hands its
 * checkpoint to: the numbers of a Llama-family config and the weight bindings in, the model.json
 * document out. The importers include this and fe_internal.h, nothing of each other or of the
 * dispatcher (import.c).
 */
#ifndef LLMC_LLAMA_GRAPH_H
#define LLMC_LLAMA_GRAPH_H

#include <stdint.h>

#include "frontend.h"

typedef struct FeLlamaSpec {
    const char *name, *source, *architecture;
    int64_t dim, ffn_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab, max_seq_len;
    int64_t bos_id, eos_id;           /* -1: none */
    const int32_t *eos_more;          /* [n_eos_more] more end-of-sequence ids */
    int n_eos_more;
    LlmcSampling sampling;            /* the model's sampling defaults (set 0: none) */
    double norm_eps, rope_theta;
    const char *rope_style;           /* "interleaved" or "half" */
    int rope_llama3;                  /* llama3 frequency scaling */
    double rope_factor, rope_low_freq, rope_high_freq;
    int64_t rope_orig_max_pos;
    int64_t window;                   /* sliding window, 0 = none */
    int tied;                         /* no `output` weight: the classifier is tok_embeddings */
    int qkv_bias, o_bias;             /* layers.N.bq/bk/bv, layers.N.bo */
} FeLlamaSpec;

/* Assembles the model.json document. `weights` and `tokenizer` (cJSON null for none) are taken
 * over (freed on failure too). */
LlmcStatus fe_build_llama(const FeLlamaSpec *s, cJSON *weights, cJSON *tokenizer, cJSON **out,
                          LlmcDiag *d);
/* Adds a raw binding {"file","offset","dtype","shape"} or a safetensors one {"file","tensor",
 * "dtype","shape"} (tensor != NULL) to `weights`, with "checkpoint_name" when ckpt != NULL (the
 * tensor's name in a checkpoint whose file holds no names: llama2.c's). 0 on success, -1 out of
 * memory. */
int fe_bind(cJSON *weights, const char *name, const char *file, const char *tensor, const char *ckpt, int64_t offset,
            LlmcDType dtype, int rank, const int64_t *shape);

#endif
