/* to_llama2c — bench tool: writes a float32 Hugging Face Llama checkpoint (as `llmc synth --dtype f32`
 * makes) in llama2.c's legacy format, plus a tokenizer.bin of the same vocabulary size, so that
 * llama2.c's run.c can run the very weights llmc compiles.
 *
 *   to_llama2c HF_DIR OUT_DIR        -> OUT_DIR/model.bin, OUT_DIR/tokenizer.bin
 *
 * HF's q/k projections use the rotate-half RoPE pairing; llama2.c pairs (2i, 2i+1). Rows are
 * permuted back as llama2.c's own export does, so both programs compute the same function (the
 * decode speed does not depend on it, but greedy outputs can then be compared too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../frontend/frontend.h"

static int get(const cJSON *c, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, k);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

static const LlmcStTensor *need(const LlmcSafetensors *st, const char *name)
{
    const LlmcStTensor *t = llmc_st_find(st, name);
    if (!t || t->dtype != LLMC_F32) {
        fprintf(stderr, "to_llama2c: %s missing or not f32 (synthesize with --dtype f32)\n", name);
        exit(1);
    }
    return t;
}

static void put(FILE *f, const void *p, size_t n)
{
    if (fwrite(p, 1, n, f) != n) {
        perror("to_llama2c: write");
        exit(1);
    }
}

/* HF rows of head h: [first half pairs..., second half...] -> llama2.c interleaved rows. */
static void put_permuted(FILE *f, const LlmcStTensor *t, int heads, int hd, int cols)
{
    float *row = malloc(sizeof(float) * (size_t)cols);
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < hd; i++) {
            int src = h * hd + (i % 2 ? hd / 2 + i / 2 : i / 2);
            memcpy(row, t->data + (size_t)src * cols * 4, sizeof(float) * (size_t)cols);
            put(f, row, sizeof(float) * (size_t)cols);
        }
    free(row);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: to_llama2c HF_DIR OUT_DIR\n");
        return 2;
    }
    LlmcDiag d;
    char path[4096];
    cJSON *cfg;
    snprintf(path, sizeof path, "%s/config.json", argv[1]);
    if (llmc_json_load(path, &cfg, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    int dim = get(cfg, "hidden_size"), hidden = get(cfg, "intermediate_size"), L = get(cfg, "num_hidden_layers");
    int H = get(cfg, "num_attention_heads"), KV = get(cfg, "num_key_value_heads"), V = get(cfg, "vocab_size");
    int seq = get(cfg, "max_position_embeddings");
    int tied = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "tie_word_embeddings"));
    int hd = dim / H;
    LlmcSafetensors st;
    snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
    if (llmc_st_open(&st, path, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/model.bin", argv[2]);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    int hdr[7] = {dim, hidden, L, H, KV, tied ? V : -V, seq};
    put(f, hdr, sizeof hdr);
    const LlmcStTensor *t = need(&st, "model.embed_tokens.weight");
    put(f, t->data, t->size);
    const char *per_layer[] = {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                               "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.down_proj",
                               "mlp.up_proj"};
    for (int k = 0; k < 9; k++)
        for (int l = 0; l < L; l++) {
            char name[256];
            snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, per_layer[k]);
            t = need(&st, name);
            if (k == 1)
                put_permuted(f, t, H, hd, dim);
            else if (k == 2)
                put_permuted(f, t, KV, hd, dim);
            else
                put(f, t->data, t->size);
        }
    t = need(&st, "model.norm.weight");
    put(f, t->data, t->size);
    float *freq = calloc((size_t)seq * hd, sizeof(float)); /* freq_cis_real/imag: unused by run.c */
    put(f, freq, sizeof(float) * (size_t)seq * hd);
    free(freq);
    if (!tied) {
        t = need(&st, "lm_head.weight");
        put(f, t->data, t->size);
    }
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    /* tokenizer.bin: <unk>, <s>, </s>, the 256 byte pieces, then filler words. */
    snprintf(path, sizeof path, "%s/tokenizer.bin", argv[2]);
    f = fopen(path, "wb");
    int maxlen = 16;
    put(f, &maxlen, 4);
    for (int i = 0; i < V; i++) {
        char piece[32];
        if (i == 0)
            snprintf(piece, sizeof piece, "<unk>");
        else if (i == 1)
            snprintf(piece, sizeof piece, "\n<s>\n");
        else if (i == 2)
            snprintf(piece, sizeof piece, "\n</s>\n");
        else if (i < 259)
            snprintf(piece, sizeof piece, "<0x%02X>", i - 3);
        else
            snprintf(piece, sizeof piece, " w%d", i);
        float score = i < 259 ? 0.0f : -(float)i;
        int len = (int)strlen(piece);
        put(f, &score, 4);
        put(f, &len, 4);
        put(f, piece, (size_t)len);
    }
    if (fclose(f) != 0)
        return 1;
    llmc_st_close(&st);
    cJSON_Delete(cfg);
    return 0;
}
