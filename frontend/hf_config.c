/* hf_config.c — a Hugging Face config.json (LlamaForCausalLM, MistralForCausalLM) read and checked
 * into an FeHfConfig: every field the HF importer uses. The synthesizer runs what it writes
 * through the same parser, so that what it writes is exactly what the importer accepts.
 */
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

/* rope_scaling (transformers 4) or rope_parameters (transformers 5): none/default or llama3. */
static LlmcStatus rope_scaling(const cJSON *cfg, const char *file, FeHfConfig *c, LlmcDiag *d)
{
    const char *key = "rope_scaling";
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!sc || cJSON_IsNull(sc)) {
        key = "rope_parameters";
        sc = cJSON_GetObjectItemCaseSensitive(cfg, key);
    }
    if (!sc || cJSON_IsNull(sc))
        return LLMC_OK;
    char r[80];
    if (!cJSON_IsObject(sc)) {
        fe_json_repr(sc, r, sizeof r);
        return llmc_fail(d, "%s: %s: expected an object or null, found %s", file, key, r);
    }
    const char *tkey = "rope_type";
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(sc, tkey);
    if (!t || cJSON_IsNull(t)) {
        tkey = "type";
        t = cJSON_GetObjectItemCaseSensitive(sc, tkey);
    }
    if (!t || cJSON_IsNull(t) || (cJSON_IsString(t) && strcmp(t->valuestring, "default") == 0))
        return LLMC_OK;
    if (!cJSON_IsString(t) || strcmp(t->valuestring, "llama3") != 0) {
        fe_json_repr(t, r, sizeof r);
        return llmc_fail(d, "%s: %s.%s: expected \"llama3\", \"default\" or null, found %s (not "
                         "supported)", file, key, tkey, r);
    }
    char where[512];
    snprintf(where, sizeof where, "%s: %s", file, key);
    c->rope_llama3 = 1;
    if (fe_json_num(sc, "factor", where, 1, 0, 0, 1e6, &c->rope_factor, d) ||
        fe_json_num(sc, "low_freq_factor", where, 1, 0, 0, 1e6, &c->rope_low_freq, d) ||
        fe_json_num(sc, "high_freq_factor", where, 1, 0, 0, 1e6, &c->rope_high_freq, d) ||
        fe_json_int(sc, "original_max_position_embeddings", where, 1, 0, 1, 1 << 24,
                    &c->rope_orig_max_pos, d))
        return LLMC_ERR;
    if (!(c->rope_high_freq > c->rope_low_freq))
        return llmc_fail(d, "%s: high_freq_factor: expected more than low_freq_factor (%g), found %g",
                         where, c->rope_low_freq, c->rope_high_freq);
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
    if (!cJSON_IsString(a0) || (strcmp(a0->valuestring, "LlamaForCausalLM") != 0 &&
                                strcmp(a0->valuestring, "MistralForCausalLM") != 0)) {
        fe_json_repr(cJSON_IsString(a0) ? a0 : arch, r, sizeof r);
        return llmc_fail(d, "%s: architectures: expected \"LlamaForCausalLM\" or "
                         "\"MistralForCausalLM\", found %s (not supported)", file, r);
    }
    c->architecture = a0->valuestring;
    c->mistral = strcmp(a0->valuestring, "MistralForCausalLM") == 0;

    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "hidden_act");
    if (act && !cJSON_IsNull(act) && !(cJSON_IsString(act) && strcmp(act->valuestring, "silu") == 0)) {
        fe_json_repr(act, r, sizeof r);
        return llmc_fail(d, "%s: hidden_act: expected \"silu\", found %s (not supported)", file, r);
    }
    int mlp_bias;
    if (fe_json_bool(cfg, "mlp_bias", file, 0, &mlp_bias, d))
        return LLMC_ERR;
    if (mlp_bias)
        return llmc_fail(d, "%s: mlp_bias: expected false, found true (MLP biases are not supported)",
                         file);

    if (fe_json_int(cfg, "hidden_size", file, 1, 0, 1, 1 << 20, &c->hidden, d) ||
        fe_json_int(cfg, "intermediate_size", file, 1, 0, 1, 1 << 22, &c->ffn, d) ||
        fe_json_int(cfg, "num_hidden_layers", file, 1, 0, 1, 4096, &c->n_layers, d) ||
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

    /* rope_theta at the top level, or inside rope_parameters (transformers 5). */
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(cfg, "rope_parameters");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(cfg, "rope_theta");
    if ((!th || cJSON_IsNull(th)) && cJSON_IsObject(rp) &&
        cJSON_GetObjectItemCaseSensitive(rp, "rope_theta")) {
        char where[512];
        snprintf(where, sizeof where, "%s: rope_parameters", file);
        if (fe_json_num(rp, "rope_theta", where, 0, 10000.0, 0, 1e12, &c->theta, d))
            return LLMC_ERR;
    } else if (fe_json_num(cfg, "rope_theta", file, 0, 10000.0, 0, 1e12, &c->theta, d)) {
        return LLMC_ERR;
    }
    if (rope_scaling(cfg, file, c, d))
        return LLMC_ERR;
    if (fe_json_bool(cfg, "tie_word_embeddings", file, 0, &c->tied, d) ||
        fe_json_bool(cfg, "attention_bias", file, 0, &c->attention_bias, d))
        return LLMC_ERR;
    if (c->mistral && fe_json_int(cfg, "sliding_window", file, 0, 0, 0, 1 << 30, &c->window, d))
        return LLMC_ERR;
    c->eos_id = -1;
    if (token_id(cfg, "bos_token_id", file, c->vocab, &c->bos_id, d) || eos_ids(cfg, file, c, d))
        return LLMC_ERR;
    return LLMC_OK;
}
