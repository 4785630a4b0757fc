/* import_hf.c — Hugging Face checkpoint directories (LlamaForCausalLM, MistralForCausalLM) to
 * model.json.
 *
 * Reads config.json (fe_hf_parse_config, hf_config.c), finds every tensor through model.safetensors or the weight_map of
 * model.safetensors.index.json, opens each shard with the safetensors reader to learn the dtype and
 * shape and to check them against the config, and binds each weight to its tensor by name. HF
 * stores q/k projections for the rotate-half RoPE convention, so rope gets style "half" and no
 * weight is permuted. A checkpoint stored quantized (quantization_config: AWQ, GPTQ) binds its
 * quantized layers through hf_quant.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_internal.h"
#include "llama_graph.h"

/* ---- weights ---- */

/* Shards a checkpoint may have (the largest published ones have a few hundred). */
#define FE_MAX_SHARDS 4096

typedef struct Shard {
    char *name;                       /* as in the weight map, relative to the directory */
    char *rel;                        /* as the model.json will refer to it */
    LlmcSafetensors st;
} Shard;

typedef struct HfCtx {
    const char *dir;
    char *index_path;                 /* NULL: single model.safetensors */
    const cJSON *weight_map;
    Shard *shards;
    int n_shards;
    cJSON *weights;                   /* the bindings being built */
    const char *cfg_name;
    FeHfQuant quant;                  /* its quantization_config (hf_quant.c) */
} HfCtx;

static int shard_of(const HfCtx *h, const char *file)
{
    for (int i = 0; i < h->n_shards; i++)
        if (strcmp(h->shards[i].name, file) == 0)
            return i;
    return -1;
}

/* Is the tensor listed at all (in the weight map, or in the single file)? */
static int hf_has(const HfCtx *h, const char *name)
{
    if (h->weight_map)
        return cJSON_GetObjectItemCaseSensitive(h->weight_map, name) != NULL;
    return llmc_st_find(&h->shards[0].st, name) != NULL;
}

/* The shard holding tensor `name`, and the tensor in it (an error when it is missing). */
static LlmcStatus hf_find(const HfCtx *h, const char *name, const Shard **shard, const LlmcStTensor **t, LlmcDiag *d)
{
    int si = 0;
    if (h->weight_map) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(h->weight_map, name);
        if (!cJSON_IsString(f))
            return llmc_fail(d, "%s: weight_map: expected an entry for tensor '%s', found %s",
                             h->index_path, name, f ? "a non-string" : "none");
        si = shard_of(h, f->valuestring);
    }
    *shard = &h->shards[si];
    *t = llmc_st_find(&h->shards[si].st, name);
    if (!*t) {
        if (h->weight_map)
            return llmc_fail(d, "%s: tensor '%s' not found (model.safetensors.index.json places it in "
                             "this file)", (*shard)->st.path, name);
        return llmc_fail(d, "%s: tensor '%s' not found", (*shard)->st.path, name);
    }
    return LLMC_OK;
}

/* FeHfFind over the checkpoint (hf_quant.c). */
static int find_has(void *ctx, const char *name) { return hf_has(ctx, name); }

static LlmcStatus find_cb(void *ctx, const char *name, const LlmcStTensor **t, const char **rel, const char **path,
                          LlmcDiag *d)
{
    const Shard *s;
    if (hf_find(ctx, name, &s, t, d))
        return LLMC_ERR;
    *rel = s->rel;
    *path = s->st.path;
    return LLMC_OK;
}

/* Binds model.json weight `key` to HF tensor `name`, which must have the given shape; a matrix the
 * checkpoint stores quantized, to its quantized tensors (hf_quant.c). */
static LlmcStatus hf_bind(HfCtx *h, const char *key, const char *name, int rank, int64_t d0,
                          int64_t d1, LlmcDiag *d)
{
    if (rank == 2 && h->quant.kind != LLMC_PQ_NONE) {
        FeHfFind f = {h, h->dir, find_has, find_cb};
        int bound;
        if (fe_hf_bind_quant(&h->quant, &f, h->weights, key, name, d0, d1, &bound, d))
            return LLMC_ERR;
        if (bound)
            return LLMC_OK;
    }
    const LlmcStTensor *t;
    const Shard *s;
    if (hf_find(h, name, &s, &t, d))
        return LLMC_ERR;
    int64_t want[2] = {d0, d1};
    if (t->rank != rank || t->shape[0] != d0 || (rank == 2 && t->shape[1] != d1)) {
        char ws[64], fs[200];
        fe_shape_str(rank, want, ws, sizeof ws);
        fe_shape_str(t->rank, t->shape, fs, sizeof fs);
        return llmc_fail(d, "%s: tensor '%s': expected shape %s (from %s), found %s", s->st.path,
                         name, ws, h->cfg_name, fs);
    }
    if (t->dtype != LLMC_F32 && t->dtype != LLMC_F16 && t->dtype != LLMC_BF16)
        return llmc_fail(d, "%s: tensor '%s': expected F32, F16 or BF16 values, found %s (a quantized layer without "
                         "the quantization_config that says how to read it?)", s->st.path, name,
                         t->dtype == LLMC_I32 ? "I32" : t->dtype == LLMC_U8 ? "U8" : "F8_E4M3");
    if (fe_bind(h->weights, key, s->rel, name, NULL, 0, t->dtype, rank, want))
        return llmc_fail(d, "%s: out of memory", s->st.path);
    return LLMC_OK;
}

/* Lists the shards (from the index or the single file) and opens each. */
static LlmcStatus open_shards(HfCtx *h, cJSON **index_doc, const char *base_dir, LlmcDiag *d)
{
    char *idx = llmc_path_join(h->dir, "model.safetensors.index.json");
    char *single = llmc_path_join(h->dir, "model.safetensors");
    if (!idx || !single) {
        free(idx);
        free(single);
        return llmc_fail(d, "%s: out of memory", h->dir);
    }
    const char **names = NULL;
    int n = 0;
    LlmcStatus st = LLMC_OK;
    if (fe_is_file(idx)) {
        h->index_path = idx;
        idx = NULL;
        if (llmc_json_load(h->index_path, index_doc, d)) {
            st = LLMC_ERR;
            goto out;
        }
        h->weight_map = cJSON_GetObjectItemCaseSensitive(*index_doc, "weight_map");
        if (!cJSON_IsObject(h->weight_map) || !cJSON_GetArraySize(h->weight_map)) {
            st = llmc_fail(d, "%s: weight_map: expected an object mapping tensor names to files",
                           h->index_path);
            goto out;
        }
        names = malloc((size_t)cJSON_GetArraySize(h->weight_map) * sizeof *names);
        if (!names) {
            st = llmc_fail(d, "%s: out of memory", h->index_path);
            goto out;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, h->weight_map)
        {
            /* A plain file name: no directory part, so the checkpoint cannot name a file outside
             * its directory ("../x.safetensors", "/etc/x", "sub/x"). */
            if (!cJSON_IsString(e) || !e->valuestring[0] || strchr(e->valuestring, '/') ||
                strcmp(e->valuestring, ".") == 0 || strcmp(e->valuestring, "..") == 0) {
                char r[80];
                fe_json_repr(e, r, sizeof r);
                st = llmc_fail(d, "%s: weight_map.%s: expected a file name in the directory, "
                               "found %s", h->index_path, e->string, r);
                goto out;
            }
            int seen = 0;
            for (int i = 0; i < n && !seen; i++)
                seen = strcmp(names[i], e->valuestring) == 0;
            if (!seen && n == FE_MAX_SHARDS) {
                st = llmc_fail(d, "%s: weight_map: more than %d different files", h->index_path, FE_MAX_SHARDS);
                goto out;
            }
            if (!seen)
                names[n++] = e->valuestring;
        }
    } else if (fe_is_file(single)) {
        static const char *const one[1] = {"model.safetensors"};
        names = malloc(sizeof *names);
        if (!names) {
            st = llmc_fail(d, "%s: out of memory", h->dir);
            goto out;
        }
        names[0] = one[0];
        n = 1;
    } else if (fe_is_dir(idx) || fe_is_dir(single)) {
        st = llmc_fail(d, "%s: is a directory, expected a file", fe_is_dir(idx) ? idx : single);
        goto out;
    } else {
        st = llmc_fail(d, "%s: expected model.safetensors or model.safetensors.index.json in the "
                       "directory, found neither (PyTorch .bin checkpoints are not supported)",
                       h->dir);
        goto out;
    }
    h->shards = calloc((size_t)n, sizeof *h->shards);
    if (!h->shards) {
        st = llmc_fail(d, "%s: out of memory", h->dir);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        Shard *s = &h->shards[i];
        char *path = llmc_path_join(h->dir, names[i]);
        s->name = llmc_strdup(names[i]);
        s->rel = path ? fe_rel_path(path, base_dir) : NULL;
        h->n_shards = i + 1;
        if (!path || !s->name || !s->rel) {
            free(path);
            st = llmc_fail(d, "%s: out of memory", h->dir);
            goto out;
        }
        st = llmc_st_open(&s->st, path, d);
        free(path);
        if (st)
            goto out;
    }
out:
    free(names);
    free(idx);
    free(single);
    return st;
}

/* The tokenizer binding: tokenizer.json when there is one (what transformers loads first: it
 * carries the added tokens, and tokenizer_config.json beside it the chat template), else
 * tokenizer.model (SentencePiece); neither: null, with a warning. */
static cJSON *hf_tokenizer(const char *dir, const char *base_dir)
{
    char *sp = llmc_path_join(dir, "tokenizer.model");
    char *tj = llmc_path_join(dir, "tokenizer.json");
    cJSON *t = NULL;
    const char *file = tj && fe_is_file(tj) ? tj : sp && fe_is_file(sp) ? sp : NULL;
    if (file) {
        char *rel = fe_rel_path(file, base_dir);
        t = cJSON_CreateObject();
        if (!rel || !t || !cJSON_AddStringToObject(t, "format", file == sp ? "sentencepiece" : "huggingface") ||
            !cJSON_AddStringToObject(t, "file", rel)) {
            cJSON_Delete(t);
            t = NULL;
        }
        free(rel);
    } else {
        fprintf(stderr, "llmc: warning: %s: no tokenizer.model or tokenizer.json; the model will have no "
                        "tokenizer\n", dir);
        t = cJSON_CreateNull();
    }
    free(sp);
    free(tj);
    return t;
}

/* Every tensor of a Llama checkpoint: our weight name, the Hugging Face name, the shape. */
typedef LlmcStatus (*BindFn)(void *ctx, const char *key, const char *hf_name, int rank, int64_t d0, int64_t d1,
                             LlmcDiag *d);

static LlmcStatus bind_all(const FeHfConfig *c, int qkv_bias, int o_bias, BindFn bind, void *ctx, LlmcDiag *d)
{
    const int64_t H = c->hidden, qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    LlmcStatus st = bind(ctx, "tok_embeddings", "model.embed_tokens.weight", 2, c->vocab, H, d);
    for (int64_t l = 0; !st && l < c->n_layers; l++) {
        struct {
            const char *key, *hf;
            int rank;
            int64_t d0, d1;
            int on;
        } const w[] = {
            {"attn_norm", "input_layernorm.weight", 1, H, 0, 1},
            {"wq", "self_attn.q_proj.weight", 2, qd, H, 1},
            {"bq", "self_attn.q_proj.bias", 1, qd, 0, qkv_bias},
            {"wk", "self_attn.k_proj.weight", 2, kvd, H, 1},
            {"bk", "self_attn.k_proj.bias", 1, kvd, 0, qkv_bias},
            {"wv", "self_attn.v_proj.weight", 2, kvd, H, 1},
            {"bv", "self_attn.v_proj.bias", 1, kvd, 0, qkv_bias},
            {"wo", "self_attn.o_proj.weight", 2, H, qd, 1},
            {"bo", "self_attn.o_proj.bias", 1, H, 0, o_bias},
            {"ffn_norm", "post_attention_layernorm.weight", 1, H, 0, 1},
            {"w1", "mlp.gate_proj.weight", 2, c->ffn, H, 1},
            {"w2", "mlp.down_proj.weight", 2, H, c->ffn, 1},
            {"w3", "mlp.up_proj.weight", 2, c->ffn, H, 1},
        };
        for (size_t i = 0; !st && i < sizeof w / sizeof w[0]; i++) {
            if (!w[i].on)
                continue;
            char key[64], name[128];
            snprintf(key, sizeof key, "layers.%lld.%s", (long long)l, w[i].key);
            snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, w[i].hf);
            st = bind(ctx, key, name, w[i].rank, w[i].d0, w[i].d1, d);
        }
    }
    if (!st)
        st = bind(ctx, "norm", "model.norm.weight", 1, H, 0, d);
    if (!st && !c->tied)
        st = bind(ctx, "output", "lm_head.weight", 2, c->vocab, H, d);
    return st;
}

/* generation_config.json beside config.json, when there is one (fe_hf_parse_generation). */
static LlmcStatus read_generation_config(const char *dir, FeHfConfig *c, LlmcDiag *d)
{
    char *path = llmc_path_join(dir, "generation_config.json");
    if (!path)
        return llmc_fail(d, "%s: out of memory", dir);
    cJSON *doc = NULL;
    LlmcStatus st = LLMC_OK;
    if (fe_is_file(path)) {
        st = llmc_json_load(path, &doc, d);
        if (!st)
            st = fe_hf_parse_generation(doc, path, c, d);
    }
    cJSON_Delete(doc);
    free(path);
    return st;
}

static FeLlamaSpec spec_of(const FeHfConfig *c, const char *name, int qkv_bias, int o_bias)
{
    FeLlamaSpec s = {
        .name = name,
        .source = "huggingface",
        .architecture = c->architecture,
        .dim = c->hidden,
        .ffn_dim = c->ffn,
        .n_layers = c->n_layers,
        .n_heads = c->n_heads,
        .n_kv_heads = c->n_kv_heads,
        .head_dim = c->head_dim,
        .vocab = c->vocab,
        .max_seq_len = c->max_pos,
        .bos_id = c->bos_id,
        .eos_id = c->eos_id,
        .eos_more = c->eos_more,
        .n_eos_more = c->n_eos_more,
        .sampling = c->sampling,
        .norm_eps = c->eps,
        .rope_theta = c->theta,
        .rope_style = "half",
        .rope_llama3 = c->rope_llama3,
        .rope_factor = c->rope_factor,
        .rope_low_freq = c->rope_low_freq,
        .rope_high_freq = c->rope_high_freq,
        .rope_orig_max_pos = c->rope_orig_max_pos,
        .window = c->window,
        .tied = c->tied,
        .qkv_bias = qkv_bias,
        .o_bias = o_bias,
    };
    return s;
}

static LlmcStatus hf_bind_cb(void *ctx, const char *key, const char *name, int rank, int64_t d0, int64_t d1,
                             LlmcDiag *d)
{
    return hf_bind(ctx, key, name, rank, d0, d1, d);
}

LlmcStatus llmc_import_hf(const char *dir, const char *base_dir, cJSON **model, LlmcDiag *d)
{
    return fe_import_hf(dir, NULL, base_dir, model, d);
}

LlmcStatus fe_import_hf(const char *dir, const char *tokenizer, const char *base_dir, cJSON **model, LlmcDiag *d)
{
    *model = NULL;
    if (!fe_is_dir(dir))
        return llmc_fail(d, "%s: expected a Hugging Face checkpoint directory, found no directory",
                         dir);
    char *cfg_path = llmc_path_join(dir, "config.json");
    if (!cfg_path)
        return llmc_fail(d, "%s: out of memory", dir);
    if (!fe_is_file(cfg_path) && !fe_is_dir(cfg_path)) {
        free(cfg_path);
        return llmc_fail(d, "%s: is a directory without a config.json: expected a Hugging Face checkpoint "
                         "directory, a model.json file or a llama2.c checkpoint file", dir);
    }
    cJSON *cfg_doc = NULL, *index_doc = NULL;
    FeHfConfig c = {0};
    HfCtx h = {.dir = dir, .cfg_name = cfg_path};
    LlmcStatus st = llmc_json_load(cfg_path, &cfg_doc, d);
    if (!st)
        st = fe_hf_parse_config(cfg_doc, cfg_path, &c, d);
    if (!st)
        st = read_generation_config(dir, &c, d);
    if (!st)
        st = fe_hf_quant_config(cfg_doc, dir, cfg_path, &h.quant, d);
    if (!st)
        st = open_shards(&h, &index_doc, base_dir, d);
    h.weights = st ? NULL : cJSON_CreateObject();
    if (!st && !h.weights)
        st = llmc_fail(d, "%s: out of memory", dir);

    int qkv_bias = 0, o_bias = 0;
    if (!st) {
        qkv_bias = c.attention_bias || hf_has(&h, "model.layers.0.self_attn.q_proj.bias");
        o_bias = hf_has(&h, "model.layers.0.self_attn.o_proj.bias");
        st = bind_all(&c, qkv_bias, o_bias, hf_bind_cb, &h, d);
    }

    char *real = st ? NULL : realpath(dir, NULL);
    char *name = st ? NULL : fe_base_name(real ? real : dir, 0);
    if (!st) {
        cJSON *tok = tokenizer ? cJSON_CreateNull() : hf_tokenizer(dir, base_dir);
        FeLlamaSpec s = spec_of(&c, name ? name : "model", qkv_bias, o_bias);
        st = fe_build_llama(&s, h.weights, tok, model, d);
        h.weights = NULL;
        if (!st && tokenizer && (st = llmc_set_tokenizer(*model, tokenizer, base_dir, d))) {
            cJSON_Delete(*model);
            *model = NULL;
        }
    }
    free(real);
    free(name);
    cJSON_Delete(h.weights);
    for (int i = 0; i < h.n_shards; i++) {
        llmc_st_close(&h.shards[i].st);
        free(h.shards[i].name);
        free(h.shards[i].rel);
    }
    free(h.shards);
    fe_hf_quant_free(&h.quant);
    free(h.index_path);
    cJSON_Delete(index_doc);
    cJSON_Delete(cfg_doc);
    free(cfg_path);
    return st;
}

/* Binding to model.safetensors as `llmc synth` writes it, unchecked. */
typedef struct ShapeCtx {
    cJSON *weights;
    LlmcDType dtype;
} ShapeCtx;

static LlmcStatus shape_bind(void *ctx, const char *key, const char *name, int rank, int64_t d0, int64_t d1,
                             LlmcDiag *d)
{
    ShapeCtx *s = ctx;
    int64_t shape[2] = {d0, d1};
    if (fe_bind(s->weights, key, "model.safetensors", name, NULL, 0, rank == 1 ? LLMC_F32 : s->dtype, rank, shape))
        return llmc_fail(d, "out of memory");
    return LLMC_OK;
}

LlmcStatus llmc_hf_config_model(const cJSON *config, const char *name, LlmcDType dtype, cJSON **model, LlmcDiag *d)
{
    FeHfConfig c = {0};
    *model = NULL;
    if (fe_hf_parse_config(config, "config.json", &c, d))
        return LLMC_ERR;
    ShapeCtx s = {cJSON_CreateObject(), dtype};
    if (!s.weights)
        return llmc_fail(d, "out of memory");
    if (bind_all(&c, c.attention_bias, 0, shape_bind, &s, d)) {
        cJSON_Delete(s.weights);
        return LLMC_ERR;
    }
    FeLlamaSpec spec = spec_of(&c, name, c.attention_bias, 0);
    return fe_build_llama(&spec, s.weights, cJSON_CreateNull(), model, d);
}
