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
        v = cJSON_GetArrayItem(v, 0); /* several ids (Llama 3 instruct eos): the first is primary */
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
    if (token_id(cfg, "bos_token_id", file, c->vocab, &c->bos_id, d) ||
        token_id(cfg, "eos_token_id", file, c->vocab, &c->eos_id, d))
        return LLMC_ERR;
    return LLMC_OK;
}
