/* llama_graph.h — the decoder graph builder (llama_graph.c), what every importer hands its
 * checkpoint to: the numbers of a config (Llama's, and the features of the families past it) and the
 * weight bindings in, the model.json document out. The importers include this and fe_internal.h,
 * nothing of each other or of the dispatcher (import.c).
 */
#ifndef LLMC_LLAMA_GRAPH_H
#define LLMC_LLAMA_GRAPH_H

#include <stdint.h>

#include "fe_internal.h"

typedef struct FeLlamaSpec {
    const char *name, *source, *architecture;
    int64_t dim, ffn_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab, max_seq_len;
    int64_t bos_id, eos_id;           /* -1: none */
    const int32_t *eos_more;          /* [n_eos_more] more end-of-sequence ids */
    int n_eos_more;
    LlmcSampling sampling;            /* the model's sampling defaults (set 0: none) */
    double norm_eps;
    const char *rope_style;           /* "interleaved" or "half" */
    FeRope rope;                      /* RoPE of the (full-attention) layers */
    const FeRope *rope_local;         /* of the sliding-window layers; NULL: rope */
    int64_t window;                   /* sliding window, 0 = none */
    const uint8_t *sliding;           /* [n_layers] 1: the layer has the window; NULL: every layer */
    int tied;                         /* no `output` weight: the classifier is tok_embeddings */
    int qkv_bias, o_bias;             /* layers.N.bq/bk/bv, layers.N.bo */
    /* The families past Llama (hf_families.c): */
    int qk_norm;                      /* layers.N.q_norm/k_norm: head_rmsnorm of q and k before RoPE */
    int gemma;                        /* layers.N.post_attn_norm/post_ffn_norm after attention and MLP */
    int fused;                        /* layers.N.wqkv and w13 (gate rows, then up rows), sliced */
    int act;                          /* FE_ACT_*: the gate's activation */
    double attn_scale, attn_softcap, final_softcap, emb_scale; /* 0: default / none */
    const uint8_t *moe;               /* [n_layers] 1: layers.N.router, experts_gate_up, experts_down; NULL: none */
    int64_t n_experts, top_k;
    int norm_topk;
} FeLlamaSpec;

/* Assembles the model.json document. `weights` and `tokenizer` (cJSON null for none) are taken
 * over (freed on failure too). */
LlmcStatus fe_build_llama(const FeLlamaSpec *s, cJSON *weights, cJSON *tokenizer, cJSON **out,
                          LlmcDiag *d);
/* Adds a raw binding {"file","offset","dtype","shape"} or a safetensors one {"file","tensor",
 * "dtype","shape"} (tensor != NULL) to `weights`, with "checkpoint_name" when ckpt != NULL (the
 * tensor's name in a checkpoint whose file holds no names: llama2.c's). 0 on success, -1 out of
 * memory. */
/* The binding object alone (NULL: out of memory). */
cJSON *fe_binding(const char *file, const char *tensor, const char *ckpt, int64_t offset, LlmcDType dtype, int rank,
                  const int64_t *shape);
int fe_bind(cJSON *weights, const char *name, const char *file, const char *tensor, const char *ckpt, int64_t offset,
            LlmcDType dtype, int rank, const int64_t *shape);

#endif
