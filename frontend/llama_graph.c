/* llama_graph.c — the decoder graph builder: the model.json document for a Llama-family config and
 * the families that extend it (hf_families.c: Qwen2/3, Phi-3, Gemma 2/3, Mixtral, Qwen3-MoE).
 *
 * The importers read a checkpoint's own layout and hand over a list of weight bindings (fe_bind)
 * plus the numbers in an FeLlamaSpec; fe_build_llama turns those into the one model.json graph
 * every checkpoint of those families gets (docs/model-json.md): Llama's layer, with what a family
 * adds switched on by the spec (q/k norms, Gemma's norms after attention and MLP, fused
 * projections sliced, GeLU, the mixture of experts, soft-capping). The op sequence and the weight
 * names are a contract with the fusion passes, which recognise them (q/k/v matmuls reading the same
 * normed input, gate and up matmuls followed by silu and mul), so every importer goes through this
 * single builder. Layers that differ (a sliding window on some, dense MLPs among MoE ones) are
 * groups of the graph's layers list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama_graph.h"

cJSON *fe_binding(const char *file, const char *tensor, const char *ckpt, int64_t offset, LlmcDType dtype, int rank,
                  const int64_t *shape)
{
    cJSON *b = cJSON_CreateObject();
    cJSON *sh = cJSON_CreateArray();
    if (!b || !sh) {
        cJSON_Delete(b);
        cJSON_Delete(sh);
        return NULL;
    }
    int ok = cJSON_AddStringToObject(b, "file", file) != NULL;
    if (tensor)
        ok &= cJSON_AddStringToObject(b, "tensor", tensor) != NULL;
    else
        ok &= cJSON_AddNumberToObject(b, "offset", (double)offset) != NULL;
    if (ckpt)
        ok &= cJSON_AddStringToObject(b, "checkpoint_name", ckpt) != NULL;
    ok &= cJSON_AddStringToObject(b, "dtype", llmc_dtype_name(dtype)) != NULL;
    for (int i = 0; i < rank; i++) {
        cJSON *v = cJSON_CreateNumber((double)shape[i]);
        ok &= v != NULL && cJSON_AddItemToArray(sh, v);
    }
    ok &= cJSON_AddItemToObject(b, "shape", sh);
    if (!ok) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

int fe_bind(cJSON *weights, const char *name, const char *file, const char *tensor, const char *ckpt, int64_t offset,
            LlmcDType dtype, int rank, const int64_t *shape)
{
    cJSON *b = fe_binding(file, tensor, ckpt, offset, dtype, rank, shape);
    if (!b)
        return -1;
    if (!cJSON_AddItemToObject(weights, name, b)) {
        cJSON_Delete(b);
        return -1;
    }
    return 0;
}

typedef struct Builder {
    int oom;
} Builder;

/* {"op": name, "in": [...nin strings], "out": out}, appended to list. Returns the op for attributes
 * (NULL after an allocation failure, which is remembered in bld->oom). */
static cJSON *op(Builder *bld, cJSON *list, const char *name, const char *out, int nin, ...)
{
    cJSON *o = cJSON_CreateObject(), *in = cJSON_CreateArray();
    int ok = o && in && cJSON_AddStringToObject(o, "op", name);
    va_list ap;
    va_start(ap, nin);
    for (int i = 0; i < nin; i++) {
        const char *s = va_arg(ap, const char *);
        cJSON *v = cJSON_CreateString(s);
        ok = ok && v && cJSON_AddItemToArray(in, v);
    }
    va_end(ap);
    ok = ok && cJSON_AddItemToObject(o, "in", in);
    if (!ok)
        cJSON_Delete(in);
    ok = ok && cJSON_AddStringToObject(o, "out", out);
    ok = ok && cJSON_AddItemToArray(list, o);
    if (!ok) {
        cJSON_Delete(o);
        bld->oom = 1;
        return NULL;
    }
    return o;
}

static void num(Builder *bld, cJSON *o, const char *key, double v)
{
    if (!o || !cJSON_AddNumberToObject(o, key, v))
        bld->oom = 1;
}

static void str(Builder *bld, cJSON *o, const char *key, const char *v)
{
    if (!o || !cJSON_AddStringToObject(o, key, v))
        bld->oom = 1;
}

/* A number array attribute (LongRoPE's factors): a copy of the config's list. */
static void list(Builder *bld, cJSON *o, const char *key, const cJSON *v)
{
    cJSON *c = v ? cJSON_Duplicate(v, 1) : NULL;
    if (!o || !c || !cJSON_AddItemToObject(o, key, c)) {
        cJSON_Delete(c);
        bld->oom = 1;
    }
}

static void rope_attrs(Builder *bld, const FeLlamaSpec *s, const FeRope *r, cJSON *o)
{
    num(bld, o, "head_dim", (double)s->head_dim);
    num(bld, o, "theta", r->theta);
    str(bld, o, "style", s->rope_style);
    if (!r->type || !o)
        return;
    cJSON *sc = cJSON_AddObjectToObject(o, "scaling");
    if (!sc) {
        bld->oom = 1;
        return;
    }
    str(bld, sc, "type", r->type);
    num(bld, sc, "factor", r->factor);
    if (strcmp(r->type, "llama3") == 0) {
        num(bld, sc, "low_freq_factor", r->low_freq);
        num(bld, sc, "high_freq_factor", r->high_freq);
    }
    if (strcmp(r->type, "linear") != 0)
        num(bld, sc, "original_max_position_embeddings", (double)r->orig_max_pos);
    if (strcmp(r->type, "yarn") == 0) {
        num(bld, sc, "beta_fast", r->beta_fast);
        num(bld, sc, "beta_slow", r->beta_slow);
        num(bld, sc, "truncate", r->truncate);
    }
    if (strcmp(r->type, "yarn") == 0 || strcmp(r->type, "longrope") == 0)
        num(bld, sc, "attention_factor", r->attn_factor);
    if (strcmp(r->type, "longrope") == 0) {
        list(bld, sc, "short_factor", r->short_factor);
        list(bld, sc, "long_factor", r->long_factor);
    }
}

/* h = rmsnorm(x, @layers.{i}.NAME), the eps of the model. */
static void norm(Builder *bld, const FeLlamaSpec *s, cJSON *b, const char *out, const char *in, const char *w)
{
    char wn[64];
    snprintf(wn, sizeof wn, "@layers.{i}.%s", w);
    num(bld, op(bld, b, "rmsnorm", out, 2, in, wn), "eps", s->norm_eps);
}

/* out = matmul(h, @layers.{i}.W [, @layers.{i}.B]) */
static void proj(Builder *bld, cJSON *b, const char *out, const char *in, const char *w, const char *bias)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "@layers.{i}.%s", w);
    snprintf(bn, sizeof bn, "@layers.{i}.%s", bias ? bias : "");
    if (bias)
        op(bld, b, "matmul", out, 3, in, wn, bn);
    else
        op(bld, b, "matmul", out, 2, in, wn);
}

static void slice(Builder *bld, cJSON *b, const char *out, const char *in, int64_t start, int64_t n)
{
    cJSON *o = op(bld, b, "slice", out, 1, in);
    num(bld, o, "start", (double)start);
    num(bld, o, "n", (double)n);
}

/* One layer of the block: sliding (the window applies) and moe (the MLP is the mixture of experts). */
static void llama_block(Builder *bld, const FeLlamaSpec *s, cJSON *b, int sliding, int moe)
{
    cJSON *o;
    int64_t qd = s->n_heads * s->head_dim, kvd = s->n_kv_heads * s->head_dim;
    norm(bld, s, b, "h", "x", "attn_norm");
    if (s->fused) { /* Phi-3: q, k and v rows of one matrix */
        proj(bld, b, "qkv", "h", "wqkv", NULL);
        slice(bld, b, "q", "qkv", 0, qd);
        slice(bld, b, "k", "qkv", qd, kvd);
        slice(bld, b, "v", "qkv", qd + kvd, kvd);
    } else {
        proj(bld, b, "q", "h", "wq", s->qkv_bias ? "bq" : NULL);
        proj(bld, b, "k", "h", "wk", s->qkv_bias ? "bk" : NULL);
        proj(bld, b, "v", "h", "wv", s->qkv_bias ? "bv" : NULL);
    }
    if (s->qk_norm) {
        o = op(bld, b, "head_rmsnorm", "q", 2, "q", "@layers.{i}.q_norm");
        num(bld, o, "eps", s->norm_eps);
        num(bld, o, "head_dim", (double)s->head_dim);
        o = op(bld, b, "head_rmsnorm", "k", 2, "k", "@layers.{i}.k_norm");
        num(bld, o, "eps", s->norm_eps);
        num(bld, o, "head_dim", (double)s->head_dim);
    }
    const FeRope *r = sliding && s->rope_local ? s->rope_local : &s->rope;
    rope_attrs(bld, s, r, op(bld, b, "rope", "q", 2, "q", "positions"));
    rope_attrs(bld, s, r, op(bld, b, "rope", "k", 2, "k", "positions"));
    o = op(bld, b, "attention", "a", 3, "q", "k", "v");
    num(bld, o, "head_dim", (double)s->head_dim);
    if (sliding && s->window > 0)
        num(bld, o, "window", (double)s->window);
    if (s->attn_scale > 0)
        num(bld, o, "scale", s->attn_scale);
    if (s->attn_softcap > 0)
        num(bld, o, "softcap", s->attn_softcap);
    proj(bld, b, "o", "a", "wo", s->o_bias ? "bo" : NULL);
    if (s->gemma)
        norm(bld, s, b, "o", "o", "post_attn_norm");
    op(bld, b, "add", "x", 2, "x", "o");
    norm(bld, s, b, "h", "x", "ffn_norm");
    const char *act = s->act == FE_ACT_GELU_TANH ? "gelu_tanh" : "silu";
    if (moe) {
        proj(bld, b, "r", "h", "router", NULL);
        o = op(bld, b, "moe", "d", 4, "h", "r", "@layers.{i}.experts_gate_up", "@layers.{i}.experts_down");
        num(bld, o, "experts", (double)s->n_experts);
        num(bld, o, "top_k", (double)s->top_k);
        num(bld, o, "norm_topk_prob", s->norm_topk);
        str(bld, o, "act", act);
    } else {
        if (s->fused) { /* Phi-3: gate rows, then up rows */
            proj(bld, b, "gu", "h", "w13", NULL);
            slice(bld, b, "g", "gu", 0, s->ffn_dim);
            slice(bld, b, "u", "gu", s->ffn_dim, s->ffn_dim);
        } else {
            proj(bld, b, "g", "h", "w1", NULL);
            proj(bld, b, "u", "h", "w3", NULL);
        }
        op(bld, b, act, "g", 1, "g");
        op(bld, b, "mul", "f", 2, "g", "u");
        proj(bld, b, "d", "f", "w2", NULL);
    }
    if (s->gemma)
        norm(bld, s, b, "d", "d", "post_ffn_norm");
    op(bld, b, "add", "x", 2, "x", "d");
}

/* What sets layer l's block apart: 1 its sliding window, 2 its mixture of experts. */
static int layer_kind(const FeLlamaSpec *s, int64_t l)
{
    return (s->window > 0 && (!s->sliding || s->sliding[l]) ? 1 : 0) | (s->moe && s->moe[l] ? 2 : 0);
}

LlmcStatus fe_build_llama(const FeLlamaSpec *s, cJSON *weights, cJSON *tokenizer, cJSON **out,
                          LlmcDiag *d)
{
    *out = NULL;
    Builder bld = {0};
    cJSON *doc = cJSON_CreateObject();
    if (!doc || !tokenizer || !weights) {
        cJSON_Delete(doc);
        cJSON_Delete(tokenizer);
        cJSON_Delete(weights);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    num(&bld, doc, "llmc_model", 1);
    str(&bld, doc, "name", s->name);

    cJSON *cfg = cJSON_AddObjectToObject(doc, "config");
    if (!cfg)
        bld.oom = 1;
    num(&bld, cfg, "max_seq_len", (double)s->max_seq_len);
    num(&bld, cfg, "bos_id", (double)s->bos_id);
    if (s->n_eos_more) {
        cJSON *eos = cJSON_AddArrayToObject(cfg, "eos_id");
        for (int i = -1; eos && i < s->n_eos_more; i++) {
            cJSON *id = cJSON_CreateNumber(i < 0 ? (double)s->eos_id : (double)s->eos_more[i]);
            if (!id || !cJSON_AddItemToArray(eos, id)) {
                cJSON_Delete(id);
                bld.oom = 1;
            }
        }
        if (!eos)
            bld.oom = 1;
    } else {
        num(&bld, cfg, "eos_id", (double)s->eos_id);
    }
    if (s->sampling.set) {
        cJSON *sm = cJSON_AddObjectToObject(cfg, "sampling");
        num(&bld, sm, "temperature", s->sampling.temperature);
        num(&bld, sm, "top_k", (double)s->sampling.top_k);
        num(&bld, sm, "top_p", s->sampling.top_p);
        if (!sm)
            bld.oom = 1;
    }
    num(&bld, cfg, "dim", (double)s->dim);
    num(&bld, cfg, "n_layers", (double)s->n_layers);
    num(&bld, cfg, "n_heads", (double)s->n_heads);
    num(&bld, cfg, "n_kv_heads", (double)s->n_kv_heads);
    num(&bld, cfg, "head_dim", (double)s->head_dim);
    num(&bld, cfg, "ffn_dim", (double)s->ffn_dim);
    num(&bld, cfg, "vocab_size", (double)s->vocab);
    num(&bld, cfg, "norm_eps", s->norm_eps);
    num(&bld, cfg, "rope_theta", s->rope.theta);
    str(&bld, cfg, "source", s->source);
    str(&bld, cfg, "architecture", s->architecture);
    if (cfg && !cJSON_AddBoolToObject(cfg, "tied_embeddings", s->tied))
        bld.oom = 1;

    if (!cJSON_AddItemToObject(doc, "tokenizer", tokenizer)) {
        cJSON_Delete(tokenizer);
        bld.oom = 1;
    }
    if (!cJSON_AddItemToObject(doc, "weights", weights)) {
        cJSON_Delete(weights);
        bld.oom = 1;
    }

    cJSON *g = cJSON_AddObjectToObject(doc, "graph");
    cJSON *pro = g ? cJSON_AddArrayToObject(g, "prologue") : NULL;
    int alike = 1;
    for (int64_t l = 1; l < s->n_layers; l++)
        alike &= layer_kind(s, l) == layer_kind(s, 0);
    cJSON *layers = g && alike ? cJSON_AddObjectToObject(g, "layers") : NULL;
    if (!pro || (alike && !layers)) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    op(&bld, pro, "embedding", "x", 2, "@tok_embeddings", "tokens");
    if (s->emb_scale > 0) /* Gemma: embeddings times sqrt(hidden), rounded to f32 as transformers does */
        num(&bld, op(&bld, pro, "scale", "x", 1, "x"), "by", (double)(float)s->emb_scale);
    /* Runs of layers alike (the window, the MLP) share a block: one group {count, block} when all are,
     * else a list of groups. */
    int groups = 0;
    for (int64_t l = 0; l < s->n_layers; l++)
        groups += l == 0 || layer_kind(s, l) != layer_kind(s, l - 1);
    cJSON *list_of = groups > 1 ? cJSON_AddArrayToObject(g, "layers") : NULL;
    for (int64_t l = 0; l < s->n_layers || (l == 0 && groups == 0);) {
        int64_t e = l + 1;
        while (e < s->n_layers && layer_kind(s, e) == layer_kind(s, l))
            e++;
        cJSON *grp = layers;
        if (list_of) {
            grp = cJSON_CreateObject();
            if (!grp || !cJSON_AddItemToArray(list_of, grp)) {
                cJSON_Delete(grp);
                bld.oom = 1;
                break;
            }
        }
        num(&bld, grp, "count", (double)(s->n_layers ? e - l : 0));
        cJSON *block = cJSON_AddArrayToObject(grp, "block");
        if (!block) {
            bld.oom = 1;
            break;
        }
        int kind = s->n_layers ? layer_kind(s, l) : 0;
        llama_block(&bld, s, block, kind & 1, (kind & 2) != 0);
        l = e;
    }
    cJSON *epi = cJSON_AddArrayToObject(g, "epilogue");
    if (!epi) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    cJSON *o = op(&bld, epi, "rmsnorm", "h", 2, "x", "@norm");
    num(&bld, o, "eps", s->norm_eps);
    op(&bld, epi, "matmul", "logits", 2, "h", s->tied ? "@tok_embeddings" : "@output");
    if (s->final_softcap > 0) /* Gemma 2: cap * tanh(logits / cap) */
        num(&bld, op(&bld, epi, "softcap", "logits", 1, "logits"), "cap", s->final_softcap);
    if (bld.oom) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    *out = doc;
    return LLMC_OK;
}
