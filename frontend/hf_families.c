/* hf_families.c — THE table of the Hugging Face model families llmc imports: for each architecture
 * (config.json architectures[0]) its facts (FF_*: which ops its graph has, which config keys it
 * reads; hf_config.c parses by them, llama_graph.c builds by them) and the tensors of a layer, with
 * llmc's weight name, the checkpoint's name and the shape in terms of the config.
 *
 * fe_hf_tensors walks a config through its family's rows: the importer binds each tensor it lists
 * (and refuses a checkpoint tensor it does not list), the synthesizer writes them. A new family is
 * a row of kFamilies (and a tensor list when no existing one fits); a new op it needs goes to
 * ir/ops.def and the builder.
 */
#include <stdio.h>
#include <string.h>

#include "fe_internal.h"

/* Shape dims of the table, from the config. */
enum {
    D_NONE = 0,
    D_H,      /* hidden */
    D_Q,      /* heads * head_dim */
    D_KV,     /* kv_heads * head_dim */
    D_QKV,    /* D_Q + 2 D_KV */
    D_F,      /* intermediate_size */
    D_2F,
    D_HD,     /* head_dim */
    D_E,      /* experts */
    D_FE,     /* an expert's intermediate size */
    D_2FE,
    D_V,      /* vocabulary */
};

/* When a row applies (all bits must hold for the layer). */
enum {
    W_QKV_BIAS = 1 << 0,
    W_O_BIAS = 1 << 1,
    W_QK_NORM = 1 << 2,
    W_DENSE = 1 << 3,         /* the layer's MLP is dense */
    W_MOE_SPLIT = 1 << 4,     /* MoE, one tensor an expert (%d: the expert) */
    W_MOE_STACKED = 1 << 5,   /* MoE, the experts stacked in one tensor a projection */
    W_MOE = 1 << 6,           /* MoE either way */
};

typedef struct FeTensorSpec {
    const char *key;          /* llmc's name under layers.N. */
    const char *hf;           /* the checkpoint's under model.layers.N. */
    uint8_t d[3];             /* D_*; rank = dims given */
    uint8_t when;             /* W_* */
    uint8_t part, n_parts;    /* W_MOE_SPLIT: the tensor is part `part` of n_parts of each expert */
    uint8_t plus1;            /* a Gemma norm: 1 + w */
    uint8_t norm;
} FeTensorSpec;

#define ATTN_QKV                                                                                              \
    {"wq", "self_attn.q_proj.weight", {D_Q, D_H}, 0, 0, 0, 0, 0},                                              \
        {"bq", "self_attn.q_proj.bias", {D_Q}, W_QKV_BIAS, 0, 0, 0, 0},                                        \
        {"wk", "self_attn.k_proj.weight", {D_KV, D_H}, 0, 0, 0, 0, 0},                                         \
        {"bk", "self_attn.k_proj.bias", {D_KV}, W_QKV_BIAS, 0, 0, 0, 0},                                       \
        {"wv", "self_attn.v_proj.weight", {D_KV, D_H}, 0, 0, 0, 0, 0},                                         \
        {"bv", "self_attn.v_proj.bias", {D_KV}, W_QKV_BIAS, 0, 0, 0, 0}
#define ATTN_O                                                                                                \
    {"wo", "self_attn.o_proj.weight", {D_H, D_Q}, 0, 0, 0, 0, 0},                                              \
        {"bo", "self_attn.o_proj.bias", {D_H}, W_O_BIAS, 0, 0, 0, 0}
#define MLP_DENSE                                                                                             \
    {"w1", "mlp.gate_proj.weight", {D_F, D_H}, W_DENSE, 0, 0, 0, 0},                                           \
        {"w3", "mlp.up_proj.weight", {D_F, D_H}, W_DENSE, 0, 0, 0, 0},                                         \
        {"w2", "mlp.down_proj.weight", {D_H, D_F}, W_DENSE, 0, 0, 0, 0}
/* transformers 5 keeps each layer's experts stacked: gate and up rows of an expert one after the
 * other in gate_up_proj [E, 2F, H], down_proj [E, H, F]. */
#define MOE_STACKED                                                                                           \
    {"router", "mlp.gate.weight", {D_E, D_H}, W_MOE_STACKED, 0, 0, 0, 0},                                      \
        {"experts_gate_up", "mlp.experts.gate_up_proj", {D_E, D_2FE, D_H}, W_MOE_STACKED, 0, 0, 0, 0},         \
        {"experts_down", "mlp.experts.down_proj", {D_E, D_H, D_FE}, W_MOE_STACKED, 0, 0, 0, 0}

/* Llama, Mistral, Qwen2, Qwen3, Qwen3-MoE. */
static const FeTensorSpec kLlama[] = {
    {"attn_norm", "input_layernorm.weight", {D_H}, 0, 0, 0, 0, 1},
    ATTN_QKV,
    {"q_norm", "self_attn.q_norm.weight", {D_HD}, W_QK_NORM, 0, 0, 0, 1},
    {"k_norm", "self_attn.k_norm.weight", {D_HD}, W_QK_NORM, 0, 0, 0, 1},
    ATTN_O,
    {"ffn_norm", "post_attention_layernorm.weight", {D_H}, 0, 0, 0, 0, 1},
    MLP_DENSE,
    {"router", "mlp.gate.weight", {D_E, D_H}, W_MOE_SPLIT, 0, 0, 0, 0},
    {"experts_gate_up", "mlp.experts.%d.gate_proj.weight", {D_FE, D_H}, W_MOE_SPLIT, 0, 2, 0, 0},
    {"experts_gate_up", "mlp.experts.%d.up_proj.weight", {D_FE, D_H}, W_MOE_SPLIT, 1, 2, 0, 0},
    {"experts_down", "mlp.experts.%d.down_proj.weight", {D_H, D_FE}, W_MOE_SPLIT, 0, 1, 0, 0},
    MOE_STACKED,
};

/* Mixtral: the router and experts under block_sparse_moe (w1 gate, w3 up, w2 down). */
static const FeTensorSpec kMixtral[] = {
    {"attn_norm", "input_layernorm.weight", {D_H}, 0, 0, 0, 0, 1},
    ATTN_QKV,
    ATTN_O,
    {"ffn_norm", "post_attention_layernorm.weight", {D_H}, 0, 0, 0, 0, 1},
    {"router", "block_sparse_moe.gate.weight", {D_E, D_H}, W_MOE_SPLIT, 0, 0, 0, 0},
    {"experts_gate_up", "block_sparse_moe.experts.%d.w1.weight", {D_FE, D_H}, W_MOE_SPLIT, 0, 2, 0, 0},
    {"experts_gate_up", "block_sparse_moe.experts.%d.w3.weight", {D_FE, D_H}, W_MOE_SPLIT, 1, 2, 0, 0},
    {"experts_down", "block_sparse_moe.experts.%d.w2.weight", {D_H, D_FE}, W_MOE_SPLIT, 0, 1, 0, 0},
    MOE_STACKED,
};

/* Phi-3: q, k and v in one matrix, gate and up in another. */
static const FeTensorSpec kPhi3[] = {
    {"attn_norm", "input_layernorm.weight", {D_H}, 0, 0, 0, 0, 1},
    {"wqkv", "self_attn.qkv_proj.weight", {D_QKV, D_H}, 0, 0, 0, 0, 0},
    {"wo", "self_attn.o_proj.weight", {D_H, D_Q}, 0, 0, 0, 0, 0},
    {"ffn_norm", "post_attention_layernorm.weight", {D_H}, 0, 0, 0, 0, 1},
    {"w13", "mlp.gate_up_proj.weight", {D_2F, D_H}, 0, 0, 0, 0, 0},
    {"w2", "mlp.down_proj.weight", {D_H, D_F}, 0, 0, 0, 0, 0},
};

/* Gemma 2 and 3: norms before and after attention and MLP, all x * (1 + w). */
static const FeTensorSpec kGemma[] = {
    {"attn_norm", "input_layernorm.weight", {D_H}, 0, 0, 0, 1, 1},
    ATTN_QKV,
    {"q_norm", "self_attn.q_norm.weight", {D_HD}, W_QK_NORM, 0, 0, 1, 1},
    {"k_norm", "self_attn.k_norm.weight", {D_HD}, W_QK_NORM, 0, 0, 1, 1},
    ATTN_O,
    {"post_attn_norm", "post_attention_layernorm.weight", {D_H}, 0, 0, 0, 1, 1},
    {"ffn_norm", "pre_feedforward_layernorm.weight", {D_H}, 0, 0, 0, 1, 1},
    {"post_ffn_norm", "post_feedforward_layernorm.weight", {D_H}, 0, 0, 0, 1, 1},
    MLP_DENSE,
};

struct FeFamily {
    const char *arch;         /* config.json architectures[0] */
    const char *act_key;      /* the MLP activation's key */
    unsigned flags;           /* FF_* */
    const FeTensorSpec *layer;
    int n_layer;
};

#define ROWS(t) t, (int)(sizeof t / sizeof t[0])
static const FeFamily kFamilies[] = {
    {"LlamaForCausalLM", "hidden_act", FF_BIAS_PROBE, ROWS(kLlama)},
    {"MistralForCausalLM", "hidden_act", FF_BIAS_PROBE | FF_WINDOW_ALL, ROWS(kLlama)},
    {"Qwen2ForCausalLM", "hidden_act", FF_QKV_BIAS | FF_WINDOW_QWEN, ROWS(kLlama)},
    {"Qwen3ForCausalLM", "hidden_act", FF_BIAS_PROBE | FF_QK_NORM | FF_WINDOW_QWEN, ROWS(kLlama)},
    {"Qwen3MoeForCausalLM", "hidden_act", FF_BIAS_PROBE | FF_QK_NORM | FF_WINDOW_QWEN | FF_MOE_QWEN, ROWS(kLlama)},
    {"MixtralForCausalLM", "hidden_act", FF_BIAS_PROBE | FF_WINDOW_ALL | FF_MOE_MIXTRAL, ROWS(kMixtral)},
    {"Phi3ForCausalLM", "hidden_act", FF_FUSED | FF_WINDOW_ALL, ROWS(kPhi3)},
    {"Gemma2ForCausalLM", "hidden_activation", FF_BIAS_PROBE | FF_GEMMA | FF_WINDOW_ALT | FF_TIED_DEFAULT, ROWS(kGemma)},
    {"Gemma3ForCausalLM", "hidden_activation", FF_BIAS_PROBE | FF_GEMMA | FF_GEMMA3 | FF_QK_NORM | FF_TIED_DEFAULT,
     ROWS(kGemma)},
};

const FeFamily *fe_hf_family(const char *arch)
{
    for (size_t i = 0; arch && i < sizeof kFamilies / sizeof kFamilies[0]; i++)
        if (strcmp(kFamilies[i].arch, arch) == 0)
            return &kFamilies[i];
    return NULL;
}

void fe_hf_family_names(char *buf, size_t n)
{
    buf[0] = 0;
    for (size_t i = 0; i < sizeof kFamilies / sizeof kFamilies[0]; i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s\"%s\"", i ? ", " : "", kFamilies[i].arch);
}

unsigned fe_hf_family_flags(const FeFamily *f) { return f->flags; }

const char *fe_hf_family_act_key(const FeFamily *f) { return f->act_key; }

static int64_t dim(const FeHfConfig *c, int d)
{
    int64_t q = c->n_heads * c->head_dim, kv = c->n_kv_heads * c->head_dim;
    switch (d) {
    case D_H: return c->hidden;
    case D_Q: return q;
    case D_KV: return kv;
    case D_QKV: return q + 2 * kv;
    case D_F: return c->ffn;
    case D_2F: return 2 * c->ffn;
    case D_HD: return c->head_dim;
    case D_E: return c->n_experts;
    case D_FE: return c->moe_ffn;
    case D_2FE: return 2 * c->moe_ffn;
    case D_V: return c->vocab;
    default: return 0;
    }
}

static LlmcStatus top(const FeHfConfig *c, const char *key, const char *hf, int rows, int norm, FeTensorFn fn,
                      void *ctx, LlmcDiag *d)
{
    FeTensorRef r = {.key = key, .hf = hf, .rank = rows ? 2 : 1, .shape = {rows ? c->vocab : c->hidden, c->hidden},
                     .is_norm = norm, .add = norm && (c->fam->flags & FF_GEMMA) ? 1.0 : 0.0};
    return fn(ctx, &r, d);
}

LlmcStatus fe_hf_tensors(const FeHfConfig *c, FeTensorFn fn, void *ctx, LlmcDiag *d)
{
    const FeFamily *f = c->fam;
    LlmcStatus st = top(c, "tok_embeddings", "model.embed_tokens.weight", 1, 0, fn, ctx, d);
    for (int64_t l = 0; l < c->n_layers && !st; l++) {
        unsigned have = (c->qkv_bias ? W_QKV_BIAS : 0) | (c->o_bias ? W_O_BIAS : 0) |
                        ((f->flags & FF_QK_NORM) ? W_QK_NORM : 0) |
                        (c->moe[l] ? W_MOE | (c->moe_stacked ? W_MOE_STACKED : W_MOE_SPLIT) : W_DENSE);
        for (int i = 0; i < f->n_layer && !st; i++) {
            const FeTensorSpec *t = &f->layer[i];
            if ((t->when & have) != t->when)
                continue;
            char key[96], hf[160], sub[96];
            FeTensorRef r = {.key = key, .hf = hf, .add = t->plus1 ? 1.0 : 0.0, .is_norm = t->norm};
            while (r.rank < 3 && t->d[r.rank])
                r.rank++;
            for (int k = 0; k < r.rank; k++)
                r.shape[k] = dim(c, t->d[k]);
            snprintf(key, sizeof key, "layers.%lld.%s", (long long)l, t->key);
            int experts = t->n_parts ? (int)c->n_experts : 1;
            for (int e = 0; e < experts && !st; e++) {
                const char *at = strstr(t->hf, "%d"); /* the expert */
                if (at)
                    snprintf(sub, sizeof sub, "%.*s%d%s", (int)(at - t->hf), t->hf, e, at + 2);
                else
                    snprintf(sub, sizeof sub, "%s", t->hf);
                snprintf(hf, sizeof hf, "model.layers.%lld.%s", (long long)l, sub);
                r.part = e * t->n_parts + t->part;
                r.n_parts = t->n_parts ? (int)c->n_experts * t->n_parts : 0;
                st = fn(ctx, &r, d);
            }
        }
    }
    if (!st)
        st = top(c, "norm", "model.norm.weight", 0, 1, fn, ctx, d);
    if (!st && !c->tied)
        st = top(c, "output", "lm_head.weight", 1, 0, fn, ctx, d);
    return st;
}
