/* test_families.c — the Hugging Face model families (frontend/hf_families.c) as the importer sees
 * them: each tiny config of tests/data/families/configs, synthesized and imported, gets its
 * family's graph (ops, weights, attributes); the layouts transformers writes (rope_parameters by
 * layer type, layer_types, experts stacked in one tensor) import alike; tensors the graph does not
 * read, and config keys that change the math unimplemented, are errors naming them. The numbers
 * (the interpreter against the kernels) are test_codegen's.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../frontend/frontend.h"
#include "testutil.h"

#define ASSERT_ERR(call, d, ...)                                                                                   \
    do {                                                                                                           \
        ck_assert_msg((call) == LLMC_ERR, "expected an error from %s", #call);                                     \
        const char *want_[] = {__VA_ARGS__};                                                                       \
        for (size_t i_ = 0; i_ < sizeof want_ / sizeof want_[0]; i_++)                                             \
            ck_assert_msg(strstr((d).msg, want_[i_]), "message '%s' lacks '%s'", (d).msg, want_[i_]);              \
    } while (0)

static void write_text(const char *path, const char *s)
{
    LlmcDiag d;
    ck_assert_msg(llmc_write_file_atomic(path, s, strlen(s), &d) == LLMC_OK, "%s", d.msg);
}

static cJSON *load_config(const char *family)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/families/configs/%s.json", LLMC_SOURCE_DIR, family);
    cJSON *c;
    LlmcDiag d;
    ck_assert_msg(llmc_json_load(path, &c, &d) == LLMC_OK, "%s", d.msg);
    return c;
}

/* A synthesized checkpoint of config cfg (taken over) in a fresh directory. */
static const char *synth(cJSON *cfg)
{
    const char *dir = tu_tmpdir();
    char cpath[1024], out[1024];
    snprintf(cpath, sizeof cpath, "%s/config.in.json", dir);
    snprintf(out, sizeof out, "%s/ckpt", dir);
    char *text = cJSON_Print(cfg);
    write_text(cpath, text);
    free(text);
    cJSON_Delete(cfg);
    LlmcSynthOptions so = {.config_path = cpath, .out_dir = out, .seed = 3, .dtype = LLMC_F32, .dtype_set = 1, .quiet = 1};
    LlmcDiag d;
    ck_assert_msg(llmc_synth(&so, &d) == LLMC_OK, "%s", d.msg);
    static char ring[8][1024];
    static int next;
    char *r = ring[next++ % 8];
    snprintf(r, 1024, "%s", out);
    return r;
}

static cJSON *import(const char *dir)
{
    cJSON *m;
    LlmcDiag d;
    ck_assert_msg(llmc_import(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    return m;
}

/* Replaces (or adds) key of the config.json in dir by the JSON text v. */
static void set_key(const char *dir, const char *key, const char *v)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *c;
    LlmcDiag d;
    ck_assert_msg(llmc_json_load(path, &c, &d) == LLMC_OK, "%s", d.msg);
    cJSON_DeleteItemFromObject(c, key);
    if (v) {
        cJSON *x = cJSON_Parse(v);
        ck_assert_ptr_nonnull(x);
        cJSON_AddItemToObject(c, key, x);
    }
    char *text = cJSON_Print(c);
    write_text(path, text);
    free(text);
    cJSON_Delete(c);
}

/* The ops of layer group gi (layers: one object, or a list of groups). */
static const cJSON *group(const cJSON *m, int gi, int *count)
{
    const cJSON *l = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "graph"), "layers");
    if (!cJSON_IsArray(l)) {
        ck_assert_int_eq(gi, 0);
        *count = cJSON_GetObjectItem(l, "count")->valueint;
        return cJSON_GetObjectItem(l, "block");
    }
    const cJSON *g = cJSON_GetArrayItem(l, gi);
    ck_assert_ptr_nonnull(g);
    *count = cJSON_GetObjectItem(g, "count")->valueint;
    return cJSON_GetObjectItem(g, "block");
}

static int n_groups(const cJSON *m)
{
    const cJSON *l = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "graph"), "layers");
    return cJSON_IsArray(l) ? cJSON_GetArraySize(l) : 1;
}

/* The first op named `op` in ops, NULL if none; *count how many. */
static const cJSON *find_op(const cJSON *ops, const char *op, int *count)
{
    const cJSON *first = NULL, *o;
    *count = 0;
    cJSON_ArrayForEach(o, ops)
    {
        if (strcmp(cJSON_GetObjectItem(o, "op")->valuestring, op) == 0) {
            if (!first)
                first = o;
            (*count)++;
        }
    }
    return first;
}

static const cJSON *weight(const cJSON *m, const char *name)
{
    const cJSON *w = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"), name);
    ck_assert_msg(w != NULL, "no weight %s", name);
    return w;
}

START_TEST(qwen2_biases_and_window)
{
    cJSON *m = import(synth(load_config("qwen2")));
    /* layer 0 full attention, 1 and 2 sliding (max_window_layers 1): two groups */
    ck_assert_int_eq(n_groups(m), 2);
    int cnt, k;
    const cJSON *b0 = group(m, 0, &cnt);
    ck_assert_int_eq(cnt, 1);
    ck_assert_ptr_null(cJSON_GetObjectItem(find_op(b0, "attention", &k), "window"));
    const cJSON *b1 = group(m, 1, &cnt);
    ck_assert_int_eq(cnt, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(find_op(b1, "attention", &k), "window")->valueint, 8);
    weight(m, "layers.2.bq");
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"), "layers.0.bo"));
    const cJSON *mm = find_op(b0, "matmul", &k);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(mm, "in")), 3);
    cJSON_Delete(m);
}
END_TEST

START_TEST(qwen3_qk_norm_yarn)
{
    cJSON *m = import(synth(load_config("qwen3")));
    int cnt, k;
    const cJSON *b = group(m, 0, &cnt);
    ck_assert_int_eq(cnt, 2);
    const cJSON *hn = find_op(b, "head_rmsnorm", &k);
    ck_assert_int_eq(k, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(hn, "head_dim")->valueint, 32);
    const cJSON *sc = cJSON_GetObjectItem(find_op(b, "rope", &k), "scaling");
    ck_assert_str_eq(cJSON_GetObjectItem(sc, "type")->valuestring, "yarn");
    ck_assert_int_eq(cJSON_GetObjectItem(sc, "original_max_position_embeddings")->valueint, 32);
    /* transformers' default: 0.1 ln(4) + 1 */
    ck_assert_double_eq_tol(cJSON_GetObjectItem(sc, "attention_factor")->valuedouble, 0.1 * log(4.0) + 1, 1e-12);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(weight(m, "layers.1.q_norm"), "shape")), 1);
    cJSON_Delete(m);
}
END_TEST

START_TEST(phi3_fused_longrope)
{
    cJSON *m = import(synth(load_config("phi3")));
    int cnt, k;
    const cJSON *b = group(m, 0, &cnt);
    find_op(b, "slice", &k);
    ck_assert_int_eq(k, 5); /* q, k, v; gate, up */
    const cJSON *sc = cJSON_GetObjectItem(find_op(b, "rope", &k), "scaling");
    ck_assert_str_eq(cJSON_GetObjectItem(sc, "type")->valuestring, "longrope");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(sc, "long_factor")), 8);
    /* factor 96 / 48: sqrt(1 + ln 2 / ln 48) */
    ck_assert_double_eq_tol(cJSON_GetObjectItem(sc, "attention_factor")->valuedouble,
                            sqrt(1 + log(2.0) / log(48.0)), 1e-12);
    ck_assert_int_eq(cJSON_GetObjectItem(find_op(b, "attention", &k), "window")->valueint, 16);
    weight(m, "layers.1.wqkv");
    weight(m, "layers.1.w13");
    cJSON_Delete(m);
}
END_TEST

START_TEST(gemma2_norms_softcaps)
{
    cJSON *m = import(synth(load_config("gemma2")));
    ck_assert_int_eq(n_groups(m), 4); /* sliding, full, sliding, full */
    int cnt, k;
    const cJSON *b0 = group(m, 0, &cnt), *b1 = group(m, 1, &cnt);
    const cJSON *att = find_op(b0, "attention", &k);
    ck_assert_int_eq(cJSON_GetObjectItem(att, "window")->valueint, 8);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(att, "scale")->valuedouble, 1 / sqrt(24.0), 1e-12);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(att, "softcap")->valuedouble, 5.0, 1e-12);
    ck_assert_ptr_null(cJSON_GetObjectItem(find_op(b1, "attention", &k), "window"));
    find_op(b0, "rmsnorm", &k);
    ck_assert_int_eq(k, 4); /* before and after attention and MLP */
    find_op(b0, "gelu_tanh", &k);
    ck_assert_int_eq(k, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(weight(m, "layers.0.post_ffn_norm"), "add")->valueint, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(weight(m, "norm"), "add")->valueint, 1);
    ck_assert_ptr_null(cJSON_GetObjectItem(weight(m, "layers.0.wq"), "add"));
    const cJSON *g = cJSON_GetObjectItem(m, "graph");
    const cJSON *sc = find_op(cJSON_GetObjectItem(g, "prologue"), "scale", &k);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(sc, "by")->valuedouble, (float)sqrt(64.0), 1e-12);
    const cJSON *cap = find_op(cJSON_GetObjectItem(g, "epilogue"), "softcap", &k);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(cap, "cap")->valuedouble, 3.0, 1e-12);
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"), "output")); /* tied by default */
    cJSON_Delete(m);
}
END_TEST

/* Gemma 3 in both spellings: transformers 4's rope_theta / rope_scaling / rope_local_base_freq, and
 * transformers 5's rope_parameters by layer type. */
START_TEST(gemma3_local_global_rope)
{
    for (int v5 = 0; v5 < 2; v5++) {
        const char *dir = synth(load_config("gemma3"));
        if (v5) {
            set_key(dir, "rope_theta", NULL);
            set_key(dir, "rope_scaling", NULL);
            set_key(dir, "rope_local_base_freq", NULL);
            set_key(dir, "rope_parameters",
                    "{\"full_attention\": {\"rope_type\": \"linear\", \"factor\": 8.0, \"rope_theta\": 1000000.0},"
                    " \"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}}");
        }
        cJSON *m = import(dir);
        ck_assert_int_eq(n_groups(m), 2);
        int cnt, k;
        const cJSON *loc = find_op(group(m, 0, &cnt), "rope", &k);
        ck_assert_int_eq(cnt, 3);
        const cJSON *glo = find_op(group(m, 1, &cnt), "rope", &k);
        ck_assert_int_eq(cnt, 1);
        ck_assert_int_eq(cJSON_GetObjectItem(loc, "theta")->valueint, 10000);
        ck_assert_ptr_null(cJSON_GetObjectItem(loc, "scaling"));
        ck_assert_int_eq(cJSON_GetObjectItem(glo, "theta")->valuedouble, 1000000);
        const cJSON *sc = cJSON_GetObjectItem(glo, "scaling");
        ck_assert_str_eq(cJSON_GetObjectItem(sc, "type")->valuestring, "linear");
        ck_assert_int_eq(cJSON_GetObjectItem(sc, "factor")->valueint, 8);
        find_op(group(m, 0, &cnt), "head_rmsnorm", &k);
        ck_assert_int_eq(k, 2);
        ck_assert_int_eq(cJSON_GetObjectItem(weight(m, "layers.3.k_norm"), "add")->valueint, 1);
        cJSON_Delete(m);
    }
}
END_TEST

START_TEST(moe_experts)
{
    /* Qwen3-MoE: layer 1 dense (mlp_only_layers), the others the mixture */
    cJSON *m = import(synth(load_config("qwen3_moe")));
    ck_assert_int_eq(n_groups(m), 3);
    int cnt, k;
    const cJSON *moe = find_op(group(m, 0, &cnt), "moe", &k);
    ck_assert_int_eq(k, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(moe, "experts")->valueint, 8);
    ck_assert_int_eq(cJSON_GetObjectItem(moe, "top_k")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(moe, "norm_topk_prob")->valueint, 1);
    find_op(group(m, 1, &cnt), "moe", &k);
    ck_assert_int_eq(k, 0);
    const cJSON *parts = cJSON_GetObjectItem(weight(m, "layers.2.experts_gate_up"), "parts");
    ck_assert_int_eq(cJSON_GetArraySize(parts), 16);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(parts, 3), "tensor")->valuestring,
                     "model.layers.2.mlp.experts.1.up_proj.weight");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(weight(m, "layers.0.experts_down"), "parts")), 8);
    weight(m, "layers.1.w2");
    cJSON_Delete(m);
    /* Mixtral: every layer, block_sparse_moe names, weights renormalized */
    m = import(synth(load_config("mixtral")));
    ck_assert_int_eq(n_groups(m), 1);
    moe = find_op(group(m, 0, &cnt), "moe", &k);
    ck_assert_int_eq(cJSON_GetObjectItem(moe, "norm_topk_prob")->valueint, 1);
    ck_assert_str_eq(cJSON_GetObjectItem(weight(m, "layers.1.router"), "tensor")->valuestring,
                     "model.layers.1.block_sparse_moe.gate.weight");
    parts = cJSON_GetObjectItem(weight(m, "layers.1.experts_gate_up"), "parts");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(parts, 1), "tensor")->valuestring,
                     "model.layers.1.block_sparse_moe.experts.0.w3.weight");
    cJSON_Delete(m);
}
END_TEST

/* transformers 5 keeps a layer's experts stacked: gate_up_proj [E, 2F, H], down_proj [E, H, F]. */
START_TEST(moe_stacked)
{
    const char *dir = tu_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, "{\"architectures\": [\"Qwen3MoeForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
                     " \"moe_intermediate_size\": 4, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
                     " \"num_key_value_heads\": 1, \"head_dim\": 4, \"vocab_size\": 300, \"max_position_embeddings\": 64,"
                     " \"num_experts\": 3, \"num_experts_per_tok\": 2, \"tie_word_embeddings\": true}");
    struct { const char *name; int rank; int64_t d[3]; } t[] = {
        {"model.embed_tokens.weight", 2, {300, 8}},
        {"model.layers.0.input_layernorm.weight", 1, {8}},
        {"model.layers.0.self_attn.q_proj.weight", 2, {8, 8}},
        {"model.layers.0.self_attn.k_proj.weight", 2, {4, 8}},
        {"model.layers.0.self_attn.v_proj.weight", 2, {4, 8}},
        {"model.layers.0.self_attn.q_norm.weight", 1, {4}},
        {"model.layers.0.self_attn.k_norm.weight", 1, {4}},
        {"model.layers.0.self_attn.o_proj.weight", 2, {8, 8}},
        {"model.layers.0.post_attention_layernorm.weight", 1, {8}},
        {"model.layers.0.mlp.gate.weight", 2, {3, 8}},
        {"model.layers.0.mlp.experts.gate_up_proj", 3, {3, 8, 8}},
        {"model.layers.0.mlp.experts.down_proj", 3, {3, 8, 4}},
        {"model.norm.weight", 1, {8}},
    };
    char header[4096];
    size_t k = (size_t)snprintf(header, sizeof header, "{");
    uint64_t off = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t n = 1;
        k += (size_t)snprintf(header + k, sizeof header - k, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "",
                              t[i].name);
        for (int r = 0; r < t[i].rank; r++) {
            k += (size_t)snprintf(header + k, sizeof header - k, "%s%lld", r ? "," : "", (long long)t[i].d[r]);
            n *= (uint64_t)t[i].d[r];
        }
        k += (size_t)snprintf(header + k, sizeof header - k, "],\"data_offsets\":[%llu,%llu]}",
                              (unsigned long long)off, (unsigned long long)(off + 4 * n));
        off += 4 * n;
    }
    snprintf(header + k, sizeof header - k, "}");
    size_t hn = strlen(header);
    uint8_t *buf = calloc(8 + hn + off, 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(buf + 8, header, hn);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    LlmcDiag d;
    ck_assert(llmc_write_file_atomic(path, buf, 8 + hn + off, &d) == LLMC_OK);
    free(buf);
    cJSON *m = import(dir);
    const cJSON *gu = weight(m, "layers.0.experts_gate_up");
    ck_assert_str_eq(cJSON_GetObjectItem(gu, "tensor")->valuestring, "model.layers.0.mlp.experts.gate_up_proj");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(gu, "shape")), 3);
    ck_assert_str_eq(cJSON_GetObjectItem(weight(m, "layers.0.router"), "tensor")->valuestring,
                     "model.layers.0.mlp.gate.weight");
    cJSON_Delete(m);
}
END_TEST

/* A tensor no weight reads: an error naming it (a Qwen3 checkpoint labelled Llama has q/k norms), a
 * warning with --allow-unused. */
START_TEST(unused_tensors)
{
    const char *dir = synth(load_config("qwen3"));
    set_key(dir, "architectures", "[\"LlamaForCausalLM\"]");
    cJSON *m;
    LlmcDiag d;
    ASSERT_ERR(llmc_import(dir, dir, &m, &d), d, "4 tensors of the checkpoint that the LlamaForCausalLM graph does not read",
               "'model.layers.0.self_attn.q_norm.weight'", "--allow-unused");
    LlmcImportOptions io = {.allow_unused = 1};
    ck_assert_msg(llmc_import_opts(dir, &io, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    cJSON_Delete(m);
}
END_TEST

/* Keys that change the math and are not implemented: refused, naming the key. */
START_TEST(unsupported_keys)
{
    const char *dir = synth(load_config("qwen2"));
    cJSON *m;
    LlmcDiag d;
    set_key(dir, "partial_rotary_factor", "0.5");
    ASSERT_ERR(llmc_import(dir, dir, &m, &d), d, "config.json: partial_rotary_factor", "0.5");
    set_key(dir, "partial_rotary_factor", NULL);
    set_key(dir, "quantization_config", "{\"quant_method\": \"bitsandbytes\"}"); /* awq, gptq: test_prequant */
    ASSERT_ERR(llmc_import(dir, dir, &m, &d), d, "config.json: quantization_config", "bitsandbytes");
    set_key(dir, "quantization_config", NULL);
    set_key(dir, "hidden_act", "\"relu\"");
    ASSERT_ERR(llmc_import(dir, dir, &m, &d), d, "config.json: hidden_act", "relu");
    set_key(dir, "hidden_act", "\"silu\"");
    set_key(dir, "layer_types", "[\"full_attention\", \"chunked_attention\", \"full_attention\"]");
    ASSERT_ERR(llmc_import(dir, dir, &m, &d), d, "config.json: layer_types[1]", "chunked_attention");
    set_key(dir, "layer_types", "[\"full_attention\"]");
    ASSERT_ERR(llmc_import(dir, dir, &m, &d), d, "config.json: layer_types", "num_hidden_layers (3)");
    set_key(dir, "layer_types", NULL);
    set_key(dir, "rope_scaling", "{\"rope_type\": \"longrope\", \"short_factor\": [1, 2]}");
    ASSERT_ERR(llmc_import(dir, dir, &m, &d), d, "rope_scaling.short_factor", "head_dim / 2 = 8");
    set_key(dir, "rope_scaling", NULL);
    set_key(dir, "rope_parameters", "{\"rope_type\": \"yarn\", \"factor\": 2.0, \"partial_rotary_factor\": 0.25}");
    ASSERT_ERR(llmc_import(dir, dir, &m, &d), d, "rope_parameters: partial_rotary_factor");
    set_key(dir, "rope_parameters", NULL);
    ck_assert_msg(llmc_import(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    cJSON_Delete(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("families");
    TCase *tc = tcase_create("import");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, qwen2_biases_and_window);
    tcase_add_test(tc, qwen3_qk_norm_yarn);
    tcase_add_test(tc, phi3_fused_longrope);
    tcase_add_test(tc, gemma2_norms_softcaps);
    tcase_add_test(tc, gemma3_local_global_rope);
    tcase_add_test(tc, moe_experts);
    tcase_add_test(tc, moe_stacked);
    tcase_add_test(tc, unused_tensors);
    tcase_add_test(tc, unsupported_keys);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
