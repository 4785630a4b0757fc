/* hf_config.c — a Hugging Face config.json read and checked into an FeHfConfig: every field the HF
 * importer uses, for the architecture's family (hf_families.c says which keys a family reads). Both
 * spellings transformers writes are read: transformers 4 (top-level rope_theta, rope_scaling) and 5
 * (rope_parameters, per layer type for Gemma 3; layer_types lists). A key that changes the model's
 * math and that llmc does not implement is an error naming it. The synthesizer runs what it writes
 * through the same parser, so that what it writes is exactly what the importer accepts.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fe_internal.h"

static LlmcStatus token_id(const cJSON *cfg, const char *key, const char *file, int64_t vocab,
                           int64_t *out, LlmcDiag *d)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsArray(v))
        v = cJSON_GetArrayItem(v, 0); /* several ids: the first is primary */
    *out = -1;
    if (!v || cJSON_IsNull(v))
        return LLMC_OK;
    if (!fe_json_is_int(v, 0, (double)vocab - 1)) {
        char r[80];
        fe_json_repr(v, r, sizeof r);
        return llmc_fail(d, "%s: %s: expected a token id below vocab_size (%lld), found %s", file,
                         key, (long long)vocab, r);
    }
    *out = (int64_t)v->valuedouble;
    return LLMC_OK;
}

/* Adds id to the end-of-sequence ids of c (the primary one first), unless it is there already. */
static LlmcStatus add_eos(FeHfConfig *c, int64_t id, const char *file, LlmcDiag *d)
{
    if (id == c->eos_id)
        return LLMC_OK;
    for (int i = 0; i < c->n_eos_more; i++)
        if (c->eos_more[i] == id)
            return LLMC_OK;
    if (c->eos_id < 0) {
        c->eos_id = id;
        return LLMC_OK;
    }
    if (c->n_eos_more == LLMC_MAX_EOS)
        return llmc_fail(d, "%s: eos_token_id: more than %d end-of-sequence ids", file, LLMC_MAX_EOS + 1);
    c->eos_more[c->n_eos_more++] = (int32_t)id;
    return LLMC_OK;
}

/* eos_token_id: one id, or a list (Llama 3 instruct: [128001, 128008, 128009]) of which each
 * ends a sequence. */
static LlmcStatus eos_ids(const cJSON *cfg, const char *file, FeHfConfig *c, LlmcDiag *d)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "eos_token_id");
    if (!cJSON_IsArray(v)) {
        int64_t id;
        if (token_id(cfg, "eos_token_id", file, c->vocab, &id, d))
            return LLMC_ERR;
        return id >= 0 ? add_eos(c, id, file, d) : LLMC_OK;
    }
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!fe_json_is_int(e, 0, (double)c->vocab - 1)) {
            char r[80];
            fe_json_repr(e, r, sizeof r);
            return llmc_fail(d, "%s: eos_token_id[%d]: expected a token id below vocab_size (%lld), found %s",
                             file, i, (long long)c->vocab, r);
        }
        if (add_eos(c, (int64_t)e->valuedouble, file, d))
            return LLMC_ERR;
    }
    return LLMC_OK;
}

LlmcStatus fe_hf_parse_generation(const cJSON *gen, const char *file, FeHfConfig *c, LlmcDiag *d)
{
    if (!cJSON_IsObject(gen))
        return llmc_fail(d, "%s: expected a JSON object, found another JSON value", file);
    if (eos_ids(gen, file, c, d))
        return LLMC_ERR;
    if (c->bos_id < 0 && token_id(gen, "bos_token_id", file, c->vocab, &c->bos_id, d))
        return LLMC_ERR;
    int do_sample;
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(gen, "do_sample");
    if (fe_json_bool(gen, "do_sample", file, 1, &do_sample, d))
        return LLMC_ERR;
    const char *keys[3] = {"temperature", "top_k", "top_p"};
    double val[3] = {1.0, 0.0, 1.0}, hi[3] = {1000.0, 2147483647.0, 1.0};
    int any = ds && !cJSON_IsNull(ds);
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(gen, keys[i]);
        if (!v || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= hi[i]) ||
            (i == 1 && v->valuedouble != (double)(int64_t)v->valuedouble) || (i == 2 && v->valuedouble == 0)) {
            char r[80];
            fe_json_repr(v, r, sizeof r);
            return llmc_fail(d, "%s: %s: expected %s, found %s", file, keys[i],
                             i == 0 ? "a number >= 0" : i == 1 ? "an integer >= 0" : "a number in (0, 1]", r);
        }
        val[i] = v->valuedouble;
        any = 1;
    }
    if (!any)
        return LLMC_OK;
    c->sampling = (LlmcSampling){.set = 1, .temperature = do_sample ? val[0] : 0.0, .top_k = (int64_t)val[1],
                                 .top_p = val[2]};
    return LLMC_OK;
}

/* A present, non-null member. */
static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* A RoPE scaling object (rope_scaling, or rope_parameters when it names a type) into r; `where` names
 * it ("config.json: rope_scaling"). */
static LlmcStatus rope_scaling(const cJSON *sc, const char *where, const cJSON *cfg, const FeHfConfig *c, FeRope *r,
                               LlmcDiag *d)
{
    char rr[80];
    const char *tkey = member(sc, "rope_type") ? "rope_type" : "type";
    const cJSON *t = member(sc, tkey);
    if (!t || (cJSON_IsString(t) && strcmp(t->valuestring, "default") == 0))
        return LLMC_OK;
    static const char *const types[] = {"llama3", "linear", "dynamic", "yarn", "longrope", "su"};
    const char *type = NULL;
    for (size_t i = 0; cJSON_IsString(t) && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t->valuestring, types[i]) == 0)
            type = i == 5 ? "longrope" : types[i]; /* "su": Phi-3's first name for LongRoPE */
    if (!type) {
        fe_json_repr(t, rr, sizeof rr);
        return llmc_fail(d, "%s.%s: expected \"default\", \"linear\", \"dynamic\", \"yarn\", \"longrope\" or "
                         "\"llama3\", found %s (not supported)", where, tkey, rr);
    }
    r->type = type;
    int64_t top_orig = 0;
    if (fe_json_int(cfg, "original_max_position_embeddings", "config.json", 0, 0, 1, 1 << 24, &top_orig, d))
        return LLMC_ERR;
    if (strcmp(type, "llama3") == 0) {
        if (fe_json_num(sc, "factor", where, 1, 0, 0, 1e6, &r->factor, d) ||
            fe_json_num(sc, "low_freq_factor", where, 1, 0, 0, 1e6, &r->low_freq, d) ||
            fe_json_num(sc, "high_freq_factor", where, 1, 0, 0, 1e6, &r->high_freq, d) ||
            fe_json_int(sc, "original_max_position_embeddings", where, 1, 0, 1, 1 << 24, &r->orig_max_pos, d))
            return LLMC_ERR;
        if (!(r->high_freq > r->low_freq))
            return llmc_fail(d, "%s: high_freq_factor: expected more than low_freq_factor (%g), found %g", where,
                             r->low_freq, r->high_freq);
        return LLMC_OK;
    }
    if (strcmp(type, "linear") == 0)
        return fe_json_num(sc, "factor", where, 1, 0, 0, 1e6, &r->factor, d);
    if (strcmp(type, "dynamic") == 0) { /* transformers scales past max_position_embeddings */
        r->orig_max_pos = c->max_pos;
        return fe_json_num(sc, "factor", where, 1, 0, 0, 1e6, &r->factor, d);
    }
    /* yarn and longrope: the pretrained length, and the factor by default max_position_embeddings
     * over it. */
    if (fe_json_int(sc, "original_max_position_embeddings", where, 0, top_orig ? top_orig : c->max_pos, 1, 1 << 24,
                    &r->orig_max_pos, d) ||
        fe_json_num(sc, "factor", where, 0, (double)c->max_pos / (double)r->orig_max_pos, 0, 1e6, &r->factor, d))
        return LLMC_ERR;
    double f = r->factor, af = 0;
    if (fe_json_num(sc, "attention_factor", where, 0, 0, 0, 1e3, &af, d))
        return LLMC_ERR;
    if (strcmp(type, "yarn") == 0) {
        double ms = 0, msa = 0;
        int trunc;
        if (fe_json_num(sc, "beta_fast", where, 0, 32, 0, 1e6, &r->beta_fast, d) ||
            fe_json_num(sc, "beta_slow", where, 0, 1, 0, 1e6, &r->beta_slow, d) ||
            fe_json_num(sc, "mscale", where, 0, 0, -1, 1e6, &ms, d) ||
            fe_json_num(sc, "mscale_all_dim", where, 0, 0, -1, 1e6, &msa, d) ||
            fe_json_bool(sc, "truncate", where, 1, &trunc, d))
            return LLMC_ERR;
        r->truncate = trunc;
        /* transformers: 0.1 m ln(factor) + 1 (1 for factors up to 1), as the ratio of mscale's over
         * mscale_all_dim's when both are given */
#define YARN_MSCALE(m) (f <= 1 ? 1.0 : 0.1 * (m) * log(f) + 1.0)
        if (!af)
            af = ms != 0 && msa != 0 ? YARN_MSCALE(ms) / YARN_MSCALE(msa) : YARN_MSCALE(1.0);
#undef YARN_MSCALE
        r->attn_factor = af;
        return LLMC_OK;
    }
    r->attn_factor = af ? af : f <= 1 ? 1.0 : sqrt(1 + log(f) / log((double)r->orig_max_pos));
    const char *lists[2] = {"short_factor", "long_factor"};
    const cJSON **out[2] = {&r->short_factor, &r->long_factor};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = member(sc, lists[i]);
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != c->head_dim / 2)
            return llmc_fail(d, "%s.%s: expected a list of head_dim / 2 = %lld numbers, found %s", where, lists[i],
                             (long long)(c->head_dim / 2),
                             !v ? "none" : cJSON_IsArray(v) ? "another length" : "another JSON value");
        int k = 0;
        for (const cJSON *e = v->child; e; e = e->next, k++)
            if (!cJSON_IsNumber(e) || !(e->valuedouble > 0) || !isfinite(e->valuedouble)) {
                fe_json_repr(e, rr, sizeof rr);
                return llmc_fail(d, "%s.%s[%d]: expected a number > 0, found %s", where, lists[i], k, rr);
            }
        *out[i] = v;
    }
    return LLMC_OK;
}

/* The RoPE of the full-attention layers (sliding = 0) or of the sliding-window ones: transformers 5's
 * rope_parameters (one object, or one per layer type: Gemma 3), else transformers 4's rope_theta
 * and rope_scaling (Gemma 3's sliding layers: rope_local_base_freq, unscaled). */
static LlmcStatus rope_of(const cJSON *cfg, const char *file, const FeHfConfig *c, int sliding, FeRope *r,
                          LlmcDiag *d)
{
    memset(r, 0, sizeof *r);
    int gemma3 = (fe_hf_family_flags(c->fam) & FF_GEMMA3) != 0;
    const cJSON *rp = member(cfg, "rope_parameters"), *sub = NULL;
    char where[512];
    if (rp && !cJSON_IsObject(rp)) {
        char rr[80];
        fe_json_repr(rp, rr, sizeof rr);
        return llmc_fail(d, "%s: rope_parameters: expected an object or null, found %s", file, rr);
    }
    if (member(rp, "full_attention") || member(rp, "sliding_attention")) {
        const char *lt = sliding ? "sliding_attention" : "full_attention";
        sub = member(rp, lt);
        snprintf(where, sizeof where, "%s: rope_parameters.%s", file, lt);
    } else if (rp && !(sliding && gemma3)) {
        sub = rp;
        snprintf(where, sizeof where, "%s: rope_parameters", file);
    }
    if (sub && !cJSON_IsObject(sub)) {
        char rr[80];
        fe_json_repr(sub, rr, sizeof rr);
        return llmc_fail(d, "%s: expected an object, found %s", where, rr);
    }
    if (member(sub, "rope_theta")) {
        if (fe_json_num(sub, "rope_theta", where, 0, 10000.0, 0, 1e12, &r->theta, d))
            return LLMC_ERR;
    } else if (sliding && gemma3) {
        if (fe_json_num(cfg, "rope_local_base_freq", file, 0, 10000.0, 0, 1e12, &r->theta, d))
            return LLMC_ERR;
    } else if (fe_json_num(cfg, "rope_theta", file, 0, 10000.0, 0, 1e12, &r->theta, d)) {
        return LLMC_ERR;
    }
    double prf = 1.0;
    if ((sub && fe_json_num(sub, "partial_rotary_factor", where, 0, 1.0, 0, 1, &prf, d)) || prf != 1.0)
        return llmc_fail(d, "%s: partial_rotary_factor: expected 1 (RoPE over part of a head is not supported), "
                         "found %g", where, prf);
    const cJSON *sc = NULL;
    if (sub && (member(sub, "rope_type") || member(sub, "type")))
        sc = sub;
    else if (!(sliding && gemma3) && (sc = member(cfg, "rope_scaling")) != NULL)
        snprintf(where, sizeof where, "%s: rope_scaling", file);
    if (sc && !cJSON_IsObject(sc)) {
        char rr[80];
        fe_json_repr(sc, rr, sizeof rr);
        return llmc_fail(d, "%s: expected an object or null, found %s", where, rr);
    }
    return sc ? rope_scaling(sc, where, cfg, c, r, d) : LLMC_OK;
}

/* Keys that change the model's math and that llmc implements for no family: refused unless they
 * hold their neutral value. */
static LlmcStatus unsupported_keys(const cJSON *cfg, const char *file, LlmcDiag *d)
{
    double prf;
    if (fe_json_num(cfg, "partial_rotary_factor", file, 0, 1.0, 0, 1, &prf, d))
        return LLMC_ERR;
    if (prf != 1.0)
        return llmc_fail(d, "%s: partial_rotary_factor: expected 1, found %g (RoPE over part of a head is not "
                         "supported)", file, prf);
    int flag;
    if (fe_json_bool(cfg, "mlp_bias", file, 0, &flag, d))
        return LLMC_ERR;
    if (flag)
        return llmc_fail(d, "%s: mlp_bias: expected false, found true (MLP biases are not supported)", file);
    if (fe_json_bool(cfg, "use_bidirectional_attention", file, 0, &flag, d))
        return LLMC_ERR;
    if (flag)
        return llmc_fail(d, "%s: use_bidirectional_attention: expected false, found true (llmc compiles causal "
                         "language models)", file);
    /* quantization_config: the importer reads it (hf_quant.c: AWQ, GPTQ, ModelOpt NVFP4 imported as
     * they are; other methods refused there). */
    return LLMC_OK;
}

/* Which layers attend through the sliding window: layer_types when given, else the family's rule. */
static LlmcStatus sliding_layers(const cJSON *cfg, const char *file, FeHfConfig *c, LlmcDiag *d)
{
    unsigned ff = fe_hf_family_flags(c->fam);
    if (fe_json_int(cfg, "sliding_window", file, 0, 0, 0, 1 << 30, &c->window, d))
        return LLMC_ERR;
    const cJSON *lt = member(cfg, "layer_types");
    char r[80];
    if (lt) {
        if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != c->n_layers) {
            fe_json_repr(lt, r, sizeof r);
            return llmc_fail(d, "%s: layer_types: expected a list of num_hidden_layers (%lld) layer types, found %s",
                             file, (long long)c->n_layers, r);
        }
        int l = 0;
        for (const cJSON *e = lt->child; e; e = e->next, l++) {
            int full = cJSON_IsString(e) && strcmp(e->valuestring, "full_attention") == 0;
            int slid = cJSON_IsString(e) && strcmp(e->valuestring, "sliding_attention") == 0;
            if (!full && !slid) {
                fe_json_repr(e, r, sizeof r);
                return llmc_fail(d, "%s: layer_types[%d]: expected \"full_attention\" or \"sliding_attention\", "
                                 "found %s (not supported)", file, l, r);
            }
            c->sliding[l] = (uint8_t)slid;
        }
        return LLMC_OK;
    }
    int use = 1;
    int64_t from = 0, pattern = 6;
    if ((ff & FF_WINDOW_QWEN) && (fe_json_bool(cfg, "use_sliding_window", file, 0, &use, d) ||
                                 fe_json_int(cfg, "max_window_layers", file, 0, 28, 0, 1 << 20, &from, d)))
        return LLMC_ERR;
    if ((ff & FF_GEMMA3) && fe_json_int(cfg, "sliding_window_pattern", file, 0, 6, 1, 1 << 20, &pattern, d))
        return LLMC_ERR;
    for (int64_t l = 0; l < c->n_layers; l++)
        c->sliding[l] = (uint8_t)((ff & FF_WINDOW_ALL) || ((ff & FF_WINDOW_QWEN) && use && l >= from) ||
                                  ((ff & FF_WINDOW_ALT) && l % 2 == 0) || ((ff & FF_GEMMA3) && (l + 1) % pattern != 0));
    return LLMC_OK;
}

/* The mixture of experts: Mixtral's in every layer, Qwen3-MoE's where decoder_sparse_step and
 * mlp_only_layers put it. */
static LlmcStatus experts(const cJSON *cfg, const char *file, FeHfConfig *c, LlmcDiag *d)
{
    unsigned ff = fe_hf_family_flags(c->fam);
    if (!(ff & (FF_MOE_MIXTRAL | FF_MOE_QWEN)))
        return LLMC_OK;
    int mixtral = (ff & FF_MOE_MIXTRAL) != 0;
    int64_t step = 1;
    /* Qwen3-MoE's count is num_experts in its published configs and in transformers 4; transformers 5
     * saves it as num_local_experts (its attribute map), as Mixtral's */
    const char *count = mixtral || !cJSON_GetObjectItemCaseSensitive(cfg, "num_experts") ? "num_local_experts"
                                                                                         : "num_experts";
    if (!mixtral && !cJSON_GetObjectItemCaseSensitive(cfg, "num_experts") &&
        !cJSON_GetObjectItemCaseSensitive(cfg, "num_local_experts"))
        count = "num_experts"; /* the message names the usual key */
    if (fe_json_int(cfg, count, file, 1, 0, 1, 4096, &c->n_experts, d) ||
        fe_json_int(cfg, "num_experts_per_tok", file, 0, mixtral ? 2 : 8, 1, 4096, &c->top_k, d))
        return LLMC_ERR;
    if (c->top_k > c->n_experts)
        return llmc_fail(d, "%s: num_experts_per_tok: expected at most the %lld experts, found %lld", file,
                         (long long)c->n_experts, (long long)c->top_k);
    if (mixtral) {
        c->moe_ffn = c->ffn;
        c->norm_topk = 1;
        memset(c->moe, 1, (size_t)c->n_layers);
        return LLMC_OK;
    }
    if (fe_json_int(cfg, "moe_intermediate_size", file, 1, 0, 1, 1 << 22, &c->moe_ffn, d) ||
        fe_json_bool(cfg, "norm_topk_prob", file, 0, &c->norm_topk, d) ||
        fe_json_int(cfg, "decoder_sparse_step", file, 0, 1, 1, 1 << 20, &step, d))
        return LLMC_ERR;
    for (int64_t l = 0; l < c->n_layers; l++)
        c->moe[l] = (uint8_t)((l + 1) % step == 0);
    const cJSON *only = member(cfg, "mlp_only_layers");
    if (only && !cJSON_IsArray(only)) {
        char r[80];
        fe_json_repr(only, r, sizeof r);
        return llmc_fail(d, "%s: mlp_only_layers: expected a list of layer indices, found %s", file, r);
    }
    int i = 0;
    for (const cJSON *e = only ? only->child : NULL; e; e = e->next, i++) {
        if (!fe_json_is_int(e, 0, (double)c->n_layers - 1)) {
            char r[80];
            fe_json_repr(e, r, sizeof r);
            return llmc_fail(d, "%s: mlp_only_layers[%d]: expected a layer index below %lld, found %s", file, i,
                             (long long)c->n_layers, r);
        }
        c->moe[(int64_t)e->valuedouble] = 0;
    }
    return LLMC_OK;
}

LlmcStatus fe_hf_parse_config(const cJSON *cfg, const char *file, FeHfConfig *c, LlmcDiag *d)
{
    memset(c, 0, sizeof *c);
    char r[80];
    if (!cJSON_IsObject(cfg))
        return llmc_fail(d, "%s: expected a JSON object, found another JSON value", file);
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    const cJSON *a0 = cJSON_IsArray(arch) ? cJSON_GetArrayItem(arch, 0) : NULL;
    c->fam = cJSON_IsString(a0) ? fe_hf_family(a0->valuestring) : NULL;
    if (!c->fam) {
        char names[600];
        fe_hf_family_names(names, sizeof names);
        fe_json_repr(cJSON_IsString(a0) ? a0 : arch, r, sizeof r);
        return llmc_fail(d, "%s: architectures: expected one of %s, found %s (not supported)", file, names, r);
    }
    c->architecture = a0->valuestring;
    unsigned ff = fe_hf_family_flags(c->fam);
    if (unsupported_keys(cfg, file, d))
        return LLMC_ERR;

    /* the MLP's activation (Gemma: hidden_activation) */
    const char *act_key = fe_hf_family_act_key(c->fam);
    const cJSON *act = member(cfg, act_key);
    const char *an = cJSON_IsString(act) ? act->valuestring : (ff & FF_GEMMA) ? "gelu_pytorch_tanh" : "silu";
    if (act && !cJSON_IsString(act))
        an = "";
    if (strcmp(an, "silu") == 0 || strcmp(an, "swish") == 0)
        c->act = FE_ACT_SILU;
    else if (strcmp(an, "gelu_pytorch_tanh") == 0 || strcmp(an, "gelu_new") == 0)
        c->act = FE_ACT_GELU_TANH;
    else {
        fe_json_repr(act, r, sizeof r);
        return llmc_fail(d, "%s: %s: expected \"silu\" or \"gelu_pytorch_tanh\", found %s (not supported)", file,
                         act_key, r);
    }

    if (fe_json_int(cfg, "hidden_size", file, 1, 0, 1, 1 << 20, &c->hidden, d) ||
        fe_json_int(cfg, "intermediate_size", file, 1, 0, 1, 1 << 22, &c->ffn, d) ||
        fe_json_int(cfg, "num_hidden_layers", file, 1, 0, 1, FE_MAX_LAYERS, &c->n_layers, d) ||
        fe_json_int(cfg, "num_attention_heads", file, 1, 0, 1, 4096, &c->n_heads, d) ||
        fe_json_int(cfg, "num_key_value_heads", file, 0, c->n_heads, 1, 4096, &c->n_kv_heads, d) ||
        fe_json_int(cfg, "vocab_size", file, 1, 0, 1, 1 << 24, &c->vocab, d) ||
        fe_json_int(cfg, "max_position_embeddings", file, 1, 0, 1, 1 << 24, &c->max_pos, d))
        return LLMC_ERR;
    if (c->n_heads % c->n_kv_heads)
        return llmc_fail(d, "%s: num_key_value_heads: expected a divisor of num_attention_heads "
                         "(%lld), found %lld", file, (long long)c->n_heads, (long long)c->n_kv_heads);
    const cJSON *hdv = cJSON_GetObjectItemCaseSensitive(cfg, "head_dim");
    if (!hdv || cJSON_IsNull(hdv)) {
        if (c->hidden % c->n_heads)
            return llmc_fail(d, "%s: hidden_size: expected a multiple of num_attention_heads (%lld) "
                             "when head_dim is not given, found %lld", file,
                             (long long)c->n_heads, (long long)c->hidden);
        c->head_dim = c->hidden / c->n_heads;
    } else if (fe_json_int(cfg, "head_dim", file, 1, 0, 2, 4096, &c->head_dim, d)) {
        return LLMC_ERR;
    }
    if (c->head_dim % 2)
        return llmc_fail(d, "%s: head_dim: expected an even number (RoPE rotates pairs), found %lld",
                         file, (long long)c->head_dim);
    if (fe_json_num(cfg, "rms_norm_eps", file, 0, 1e-6, 0, 1, &c->eps, d))
        return LLMC_ERR;
    if (rope_of(cfg, file, c, 0, &c->rope, d) || rope_of(cfg, file, c, 1, &c->rope_local, d))
        return LLMC_ERR;
    if (fe_json_bool(cfg, "tie_word_embeddings", file, (ff & FF_TIED_DEFAULT) != 0, &c->tied, d) ||
        fe_json_bool(cfg, "attention_bias", file, 0, &c->attention_bias, d))
        return LLMC_ERR;
    c->qkv_bias = (ff & FF_QKV_BIAS) || ((ff & FF_BIAS_PROBE) && c->attention_bias);
    c->o_bias = (ff & FF_BIAS_PROBE) && c->attention_bias;
    if (sliding_layers(cfg, file, c, d) || experts(cfg, file, c, d))
        return LLMC_ERR;
    if (ff & FF_GEMMA) {
        double qs;
        if (fe_json_num(cfg, "query_pre_attn_scalar", file, 0, 256, 0, 1e9, &qs, d) ||
            fe_json_num(cfg, "attn_logit_softcapping", file, 0, 0, 0, 1e9, &c->attn_softcap, d) ||
            fe_json_num(cfg, "final_logit_softcapping", file, 0, 0, 0, 1e9, &c->final_softcap, d))
            return LLMC_ERR;
        c->attn_scale = 1.0 / sqrt(qs);
        c->emb_scale = sqrt((double)c->hidden);
    }
    c->eos_id = -1;
    if (token_id(cfg, "bos_token_id", file, c->vocab, &c->bos_id, d) || eos_ids(cfg, file, c, d))
        return LLMC_ERR;
    return LLMC_OK;
}
