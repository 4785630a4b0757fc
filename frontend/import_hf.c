/* import_hf.c — Hugging Face checkpoint directories to model.json, for the families of
 * hf_families.c (Llama, Mistral, Qwen2/2.5, Qwen3, Qwen3-MoE, Mixtral, Phi-3, Gemma 2, Gemma 3).
 *
 * Reads config.json (fe_hf_parse_config, hf_config.c), finds every tensor through model.safetensors
 * or the weight_map of model.safetensors.index.json, opens each shard with the safetensors reader
 * to learn the dtype and shape and to check them against the config, and binds each weight the
 * family's table lists (fe_hf_tensors) to its tensor by name; experts stored one tensor each become
 * a binding of parts. A tensor of the checkpoint that no weight binds is an error naming it (with
 * --allow-unused a warning): it means a part of the model the graph would not compute. HF stores
 * q/k projections for the rotate-half RoPE convention, so rope gets style "half" and no weight is
 * permuted. A checkpoint stored quantized (quantization_config: AWQ, GPTQ, ModelOpt NVFP4) binds its
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
    const char **read;                /* the checkpoint's names bound so far (in the shards' tables) */
    int n_read, cap_read;
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

/* Puts binding b (taken over) under r's weight, or in its slot among the weight's parts
 * ({"parts": [...]}, one slot a part, filled in any order). -1: out of memory. */
static int put_binding(cJSON *weights, const FeTensorRef *r, cJSON *b)
{
    if (r->add != 0 && !cJSON_AddNumberToObject(b, "add", r->add)) {
        cJSON_Delete(b);
        return -1;
    }
    if (!r->n_parts) {
        if (!cJSON_AddItemToObject(weights, r->key, b)) {
            cJSON_Delete(b);
            return -1;
        }
        return 0;
    }
    cJSON *w = cJSON_GetObjectItemCaseSensitive(weights, r->key), *parts = NULL;
    if (!w) {
        w = cJSON_CreateObject();
        parts = w ? cJSON_AddArrayToObject(w, "parts") : NULL;
        for (int i = 0; parts && i < r->n_parts; i++) {
            cJSON *nul = cJSON_CreateNull();
            if (!nul || !cJSON_AddItemToArray(parts, nul)) {
                cJSON_Delete(nul);
                parts = NULL;
            }
        }
        if (!parts || !cJSON_AddItemToObject(weights, r->key, w)) {
            cJSON_Delete(w);
            cJSON_Delete(b);
            return -1;
        }
    }
    parts = cJSON_GetObjectItemCaseSensitive(w, "parts");
    if (!cJSON_ReplaceItemInArray(parts, r->part, b)) {
        cJSON_Delete(b);
        return -1;
    }
    return 0;
}

/* Records a tensor of the checkpoint as read by some weight (check_unused). */
static LlmcStatus mark_read(HfCtx *h, const LlmcStTensor *t, const char *path, LlmcDiag *d)
{
    if (h->n_read == h->cap_read) {
        int cap = h->cap_read ? 2 * h->cap_read : 1024;
        const char **nr = realloc(h->read, sizeof *nr * (size_t)cap);
        if (!nr)
            return llmc_fail(d, "%s: out of memory", path);
        h->read = nr;
        h->cap_read = cap;
    }
    h->read[h->n_read++] = t->name;
    return LLMC_OK;
}

/* FeHfFind over the checkpoint (hf_quant.c): the tensors it binds count as read. */
static int find_has(void *ctx, const char *name) { return hf_has(ctx, name); }

static LlmcStatus find_cb(void *ctx, const char *name, const LlmcStTensor **t, const char **rel, const char **path,
                          LlmcDiag *d)
{
    const Shard *s;
    if (hf_find(ctx, name, &s, t, d) || mark_read(ctx, *t, s->st.path, d))
        return LLMC_ERR;
    *rel = s->rel;
    *path = s->st.path;
    return LLMC_OK;
}

/* Binds the tensor r names (shape checked against the config) to its weight, or to its slot among
 * the weight's parts; records the name as read. A matrix the checkpoint stores quantized binds to
 * its quantized tensors (hf_quant.c). */
static LlmcStatus hf_bind(void *ctx, const FeTensorRef *r, LlmcDiag *d)
{
    HfCtx *h = ctx;
    if (r->rank == 2 && h->quant.kind != LLMC_PQ_NONE) {
        FeHfFind f = {h, h->dir, find_has, find_cb};
        int bound;
        if (r->n_parts) { /* an expert of its own: not imported quantized */
            size_t n = strlen(r->hf);
            char q[600];
            snprintf(q, sizeof q, "%.*s.qweight", n > 7 ? (int)(n - 7) : (int)n, r->hf);
            if (hf_has(h, q))
                return llmc_fail(d, "%s: %s: quantized experts are not supported (from %s)", h->dir, q,
                                 h->quant.where);
        } else if (fe_hf_bind_quant(&h->quant, &f, h->weights, r->key, r->hf, r->shape[0], r->shape[1], &bound, d)) {
            return LLMC_ERR;
        } else if (bound) {
            return LLMC_OK;
        }
    }
    const Shard *s;
    const LlmcStTensor *t;
    if (hf_find(h, r->hf, &s, &t, d))
        return LLMC_ERR;
    int same = t->rank == r->rank;
    for (int i = 0; same && i < r->rank; i++)
        same = t->shape[i] == r->shape[i];
    if (!same) {
        char ws[64], fs[200];
        fe_shape_str(r->rank, r->shape, ws, sizeof ws);
        fe_shape_str(t->rank, t->shape, fs, sizeof fs);
        return llmc_fail(d, "%s: tensor '%s': expected shape %s (from %s), found %s", s->st.path, r->hf, ws,
                         h->cfg_name, fs);
    }
    if (t->dtype != LLMC_F32 && t->dtype != LLMC_F16 && t->dtype != LLMC_BF16)
        return llmc_fail(d, "%s: tensor '%s': expected F32, F16 or BF16 values, found %s (a quantized layer without "
                         "the quantization_config that says how to read it?)", s->st.path, r->hf,
                         t->dtype == LLMC_I32 ? "I32" : t->dtype == LLMC_U8 ? "U8" : "F8_E4M3");
    cJSON *b = fe_binding(s->rel, r->hf, NULL, 0, t->dtype, r->rank, r->shape);
    if (!b)
        return llmc_fail(d, "%s: out of memory", s->st.path);
    if (mark_read(h, t, s->st.path, d)) {
        cJSON_Delete(b);
        return LLMC_ERR;
    }
    if (put_binding(h->weights, r, b))
        return llmc_fail(d, "%s: out of memory", s->st.path);
    return LLMC_OK;
}

/* ModelOpt's KV-cache scales (k_scale, v_scale: its FP8 KV cache) are not read: llmc's KV cache has
 * a format of its own (--kv). They count as read, so that they are no unused tensors. */
static LlmcStatus skip_kv_scales(HfCtx *h, LlmcDiag *d)
{
    if (h->quant.kind != LLMC_PQ_NVFP4)
        return LLMC_OK;
    for (int i = 0; i < h->n_shards; i++)
        for (int k = 0; k < h->shards[i].st.n_tensors; k++) {
            const LlmcStTensor *t = &h->shards[i].st.tensors[k];
            size_t n = strlen(t->name);
            if (n > 8 && (strcmp(t->name + n - 8, ".k_scale") == 0 || strcmp(t->name + n - 8, ".v_scale") == 0) &&
                mark_read(h, t, h->shards[i].st.path, d))
                return LLMC_ERR;
        }
    return LLMC_OK;
}

static int by_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Every tensor of the checkpoint (the index's, else the file's) is read by some weight; those that
 * are not are named: an error, or with allow_unused a warning. */
static LlmcStatus check_unused(HfCtx *h, const FeHfConfig *c, int allow_unused, LlmcDiag *d)
{
    qsort(h->read, (size_t)h->n_read, sizeof *h->read, by_name);
    int n = h->weight_map ? cJSON_GetArraySize(h->weight_map) : h->shards[0].st.n_tensors, unused = 0;
    const cJSON *e = h->weight_map ? h->weight_map->child : NULL;
    char list[1024] = "";
    for (int i = 0; i < n; i++) {
        const char *name = h->weight_map ? e->string : h->shards[0].st.tensors[i].name;
        if (h->weight_map)
            e = e->next;
        if (bsearch(&name, h->read, (size_t)h->n_read, sizeof *h->read, by_name))
            continue;
        if (unused++ < 6)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", unused > 1 ? ", " : "", name);
    }
    if (!unused)
        return LLMC_OK;
    char more[64] = "";
    if (unused > 6)
        snprintf(more, sizeof more, " and %d more", unused - 6);
    const char *where = h->index_path ? h->index_path : h->shards[0].st.path;
    if (allow_unused) {
        fprintf(stderr, "llmc: warning: %s: %d tensor%s of the checkpoint that the %s graph does not read: %s%s "
                        "(ignored: --allow-unused)\n", where, unused, unused == 1 ? "" : "s", c->architecture, list, more);
        return LLMC_OK;
    }
    return llmc_fail(d, "%s: %d tensor%s of the checkpoint that the %s graph does not read: %s%s (a config.json "
                     "that does not describe these weights? --allow-unused compiles without them)", where, unused,
                     unused == 1 ? "" : "s", c->architecture, list, more);
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

static FeLlamaSpec spec_of(const FeHfConfig *c, const char *name)
{
    unsigned ff = fe_hf_family_flags(c->fam);
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
        .rope_style = "half",
        .rope = c->rope,
        .rope_local = &c->rope_local,
        .window = c->window,
        .sliding = c->sliding,
        .tied = c->tied,
        .qkv_bias = c->qkv_bias,
        .o_bias = c->o_bias,
        .qk_norm = (ff & FF_QK_NORM) != 0,
        .gemma = (ff & FF_GEMMA) != 0,
        .fused = (ff & FF_FUSED) != 0,
        .act = c->act,
        .attn_scale = c->attn_scale,
        .attn_softcap = c->attn_softcap,
        .final_softcap = c->final_softcap,
        .emb_scale = c->emb_scale,
        .moe = c->n_experts ? c->moe : NULL,
        .n_experts = c->n_experts,
        .top_k = c->top_k,
        .norm_topk = c->norm_topk,
    };
    return s;
}

LlmcStatus llmc_import_hf(const char *dir, const char *base_dir, cJSON **model, LlmcDiag *d)
{
    return fe_import_hf(dir, NULL, base_dir, model, d);
}

/* The layout of the checkpoint where the config leaves it open: biases where the family has them
 * when the checkpoint holds them; experts stacked (transformers 5) or one tensor each. */
static void probe(const HfCtx *h, FeHfConfig *c)
{
    if (fe_hf_family_flags(c->fam) & FF_BIAS_PROBE) {
        c->qkv_bias |= hf_has(h, "model.layers.0.self_attn.q_proj.bias");
        c->o_bias |= hf_has(h, "model.layers.0.self_attn.o_proj.bias");
    }
    for (int64_t l = 0; l < c->n_layers && c->n_experts; l++)
        if (c->moe[l]) {
            char name[128];
            snprintf(name, sizeof name, "model.layers.%lld.mlp.experts.gate_up_proj", (long long)l);
            c->moe_stacked = hf_has(h, name);
            break;
        }
}

LlmcStatus fe_import_hf(const char *dir, const LlmcImportOptions *opt, const char *base_dir, cJSON **model,
                        LlmcDiag *d)
{
    static const LlmcImportOptions none;
    opt = opt ? opt : &none;
    const char *tokenizer = opt->tokenizer;
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
    FeHfConfig *c = calloc(1, sizeof *c);
    HfCtx h = {.dir = dir, .cfg_name = cfg_path};
    LlmcStatus st = c ? llmc_json_load(cfg_path, &cfg_doc, d) : llmc_fail(d, "%s: out of memory", dir);
    if (!st)
        st = fe_hf_parse_config(cfg_doc, cfg_path, c, d);
    if (!st)
        st = read_generation_config(dir, c, d);
    if (!st)
        st = fe_hf_quant_config(cfg_doc, dir, cfg_path, &h.quant, d);
    if (!st)
        st = open_shards(&h, &index_doc, base_dir, d);
    h.weights = st ? NULL : cJSON_CreateObject();
    if (!st && !h.weights)
        st = llmc_fail(d, "%s: out of memory", dir);
    if (!st) {
        probe(&h, c);
        st = fe_hf_tensors(c, hf_bind, &h, d);
    }
    if (!st && h.quant.kind != LLMC_PQ_NONE && !h.quant.n_bound)
        fprintf(stderr, "llmc: warning: %s says the checkpoint is quantized (%s), but no layer is stored quantized: "
                        "imported as it is\n", h.quant.where, llmc_pq_name(h.quant.kind));
    if (!st)
        st = skip_kv_scales(&h, d);
    if (!st)
        st = check_unused(&h, c, opt->allow_unused, d);

    char *real = st ? NULL : realpath(dir, NULL);
    char *name = st ? NULL : fe_base_name(real ? real : dir, 0);
    if (!st) {
        cJSON *tok = tokenizer ? cJSON_CreateNull() : hf_tokenizer(dir, base_dir);
        FeLlamaSpec s = spec_of(c, name ? name : "model");
        st = fe_build_llama(&s, h.weights, tok, model, d);
        h.weights = NULL;
        if (!st && tokenizer && (st = llmc_set_tokenizer(*model, tokenizer, base_dir, d))) {
            cJSON_Delete(*model);
            *model = NULL;
        }
    }
    free(real);
    free(name);
    free(h.read);
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
    free(c);
    return st;
}

/* Binding to model.safetensors as `llmc synth` writes it, unchecked. */
typedef struct ShapeCtx {
    cJSON *weights;
    LlmcDType dtype;
} ShapeCtx;

static LlmcStatus shape_bind(void *ctx, const FeTensorRef *r, LlmcDiag *d)
{
    ShapeCtx *s = ctx;
    cJSON *b = fe_binding("model.safetensors", r->hf, NULL, 0, r->rank == 1 ? LLMC_F32 : s->dtype, r->rank, r->shape);
    if (!b || put_binding(s->weights, r, b))
        return llmc_fail(d, "out of memory");
    return LLMC_OK;
}

LlmcStatus llmc_hf_config_model(const cJSON *config, const char *name, LlmcDType dtype, cJSON **model, LlmcDiag *d)
{
    *model = NULL;
    FeHfConfig *c = calloc(1, sizeof *c);
    if (!c)
        return llmc_fail(d, "out of memory");
    ShapeCtx s = {NULL, dtype};
    LlmcStatus st = fe_hf_parse_config(config, "config.json", c, d);
    if (!st && !(s.weights = cJSON_CreateObject()))
        st = llmc_fail(d, "out of memory");
    if (!st)
        st = fe_hf_tensors(c, shape_bind, &s, d);
    if (!st) {
        FeLlamaSpec spec = spec_of(c, name);
        st = fe_build_llama(&spec, s.weights, cJSON_CreateNull(), model, d);
        s.weights = NULL;
    }
    cJSON_Delete(s.weights);
    free(c);
    return st;
}
