/* test_prequant.c — importing checkpoints stored quantized (AWQ, GPTQ v1 and v2, act-order): the
 * values llmc packs dequantize to exactly the checkpoint's (q - z) s, and a compiled model's logits
 * match the same weights dequantized in f32 (the reference interpreter); malformed configs and
 * tensors are refused naming the file and tensor.
 *
 * The checkpoints are written here: a tiny Llama whose projections are random 4-bit values, zero
 * points and f16 scales, packed the way AutoAWQ's WQLinear_GEMM.from_linear and AutoGPTQ's
 * QuantLinear.pack pack them (written from docs/formats.md, independently of frontend/prequant.c:
 * packing here, unpacking there), the oracle being the generator's own (q - z) s. Words worked by
 * hand from those packers pin the nibble orders.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/codegen.h"
#include "../frontend/fe_internal.h"
#include "../frontend/model_json.h"
#include "../ir/interp.h"
#include "../passes/passes.h"
#include "testutil.h"

/* ---- a safetensors writer ---- */

typedef struct Ten {
    char name[128];
    const char *dtype; /* "I32", "F16", "F32" */
    int rank;
    int64_t shape[2];
    uint8_t *data;
    size_t bytes;
} Ten;

typedef struct St {
    Ten t[128];
    int n;
} St;

static void st_add(St *s, const char *name, const char *dtype, int rank, int64_t d0, int64_t d1, void *data,
                   size_t bytes)
{
    ck_assert_int_lt(s->n, 128);
    Ten *t = &s->t[s->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->rank = rank;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->data = data;
    t->bytes = bytes;
}

static void st_write(St *s, const char *path)
{
    char *h = malloc(1 << 16);
    size_t n = 0, off = 0;
    n += (size_t)snprintf(h + n, (1 << 16) - n, "{");
    for (int i = 0; i < s->n; i++) {
        const Ten *t = &s->t[i];
        n += (size_t)snprintf(h + n, (1 << 16) - n, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t->name,
                              t->dtype);
        if (t->rank >= 1)
            n += (size_t)snprintf(h + n, (1 << 16) - n, "%lld", (long long)t->shape[0]);
        if (t->rank == 2)
            n += (size_t)snprintf(h + n, (1 << 16) - n, ",%lld", (long long)t->shape[1]);
        n += (size_t)snprintf(h + n, (1 << 16) - n, "],\"data_offsets\":[%zu,%zu]}", off, off + t->bytes);
        off += t->bytes;
    }
    n += (size_t)snprintf(h + n, (1 << 16) - n, "}");
    while (n % 8) /* the data area 8-byte aligned, as safetensors writes it */
        h[n++] = ' ';
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t len = n;
    fwrite(&len, 8, 1, f);
    fwrite(h, 1, n, f);
    for (int i = 0; i < s->n; i++) {
        fwrite(s->t[i].data, 1, s->t[i].bytes, f);
        free(s->t[i].data);
    }
    fclose(f);
    free(h);
    s->n = 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* ---- the fixture: a tiny Llama, its projections quantized ---- */

enum { H = 64, F = 128, L = 2, NH = 4, NKV = 2, HD = 16, V = 96, MAXW = 14 };

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }

enum { FAULT_NONE, FAULT_QZEROS_SHAPE, FAULT_NO_SCALES, FAULT_GIDX, FAULT_ZERO, FAULT_SCALE_F32 };

typedef struct Fx {
    const char *name;
    int kind;                 /* LLMC_PQ_* */
    int group;                /* the config's group_size (-1: a row) */
    int asym;                 /* zero points of their own (AWQ; GPTQ sym false) */
    int act_order;
    uint64_t seed;
    int fault;                /* FAULT_*: one thing wrong in layer 0's q_proj */
    int sharded;              /* two shards: each layer's scales and g_idx apart from its qweight */
    const char *qc;           /* a quantization_config replacing the one derived from the above */
    /* The quantized matrices: llmc's name and the oracle W[N][K] (original K order). */
    char key[MAXW][64];
    int64_t n[MAXW], k[MAXW];
    float *w[MAXW];
    int nw;
} Fx;

static const float *oracle(const Fx *fx, const char *key)
{
    for (int i = 0; i < fx->nw; i++)
        if (strcmp(fx->key[i], key) == 0)
            return fx->w[i];
    return NULL;
}

static uint16_t *f16_vec(uint64_t *rs, int64_t n, double lo, double hi)
{
    uint16_t *v = malloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++)
        v[i] = llmc_f32_to_f16((float)(lo + (hi - lo) * rng_unit(rs)));
    return v;
}

/* A random permutation of 0..K-1 (Fisher-Yates). */
static void random_perm(uint64_t *rs, int64_t K, int32_t *p)
{
    for (int64_t i = 0; i < K; i++)
        p[i] = (int32_t)i;
    for (int64_t i = K - 1; i > 0; i--) {
        int64_t j = (int64_t)(rng_next(rs) % (uint64_t)(i + 1));
        int32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* One quantized layer: random q [N][K] (0..15), zero points z [G][N] (asym: 0..15, GPTQ v1 1..16;
 * else 8), f16 scales s [G][N], groups g_idx [K] (act-order: the inputs of a permutation P taken g
 * at a time; else k / g); packed as the encoding packs them; the oracle (q - z) s into fx. */
static void add_layer(Fx *fx, St *st, const char *key, const char *prefix, int64_t N, int64_t K, const int32_t *perm,
                      uint64_t *rs)
{
    int64_t g = fx->group == -1 ? K : fx->group, G = (K + g - 1) / g;
    uint8_t *q = malloc((size_t)(N * K));
    int *z = malloc(sizeof(int) * (size_t)(G * N));
    uint16_t *s = f16_vec(rs, G * N, 0.002, 0.03);
    int32_t *gi = malloc(sizeof(int32_t) * (size_t)K);
    for (int64_t i = 0; i < N * K; i++)
        q[i] = (uint8_t)(rng_next(rs) % 16);
    for (int64_t i = 0; i < G * N; i++)
        z[i] = !fx->asym ? 8 : fx->kind == LLMC_PQ_GPTQ ? 1 + (int)(rng_next(rs) % 16) : (int)(rng_next(rs) % 16);
    for (int64_t j = 0; j < K; j++) /* input perm[j] (or j) is the j-th of the quantization order */
        gi[perm ? perm[j] : j] = (int32_t)(j / g);
    int fault = strstr(prefix, "layers.0.self_attn.q_proj") ? fx->fault : FAULT_NONE;
    if (fault == FAULT_GIDX)
        gi[K - 1] = 0; /* group 0 one input too many, the last one too few */
    if (fault == FAULT_ZERO)
        z[3 * N + 5] = 6; /* group 3, column 5 */
    float *w = malloc(sizeof(float) * (size_t)(N * K));
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int64_t i = gi[k];
            w[n * K + k] = (float)(((double)q[n * K + k] - z[i * N + n]) * (double)llmc_f16_to_f32(s[i * N + n]));
        }
    int i = fx->nw++;
    snprintf(fx->key[i], sizeof fx->key[i], "%s", key);
    fx->n[i] = N;
    fx->k[i] = K;
    fx->w[i] = w;
    char name[160];
    if (fx->kind == LLMC_PQ_AWQ) {
        /* WQLinear_GEMM.from_linear: qweight[k][c] |= q(n = 8c + order[j])[k] << 4j, qzeros alike. */
        static const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
        uint32_t *qw = calloc((size_t)(K * N / 8), 4), *qz = calloc((size_t)(G * N / 8), 4);
        for (int64_t k = 0; k < K; k++)
            for (int64_t c = 0; c < N / 8; c++)
                for (int j = 0; j < 8; j++)
                    qw[k * (N / 8) + c] |= (uint32_t)q[(8 * c + order[j]) * K + k] << (4 * j);
        for (int64_t gg = 0; gg < G; gg++)
            for (int64_t c = 0; c < N / 8; c++)
                for (int j = 0; j < 8; j++)
                    qz[gg * (N / 8) + c] |= (uint32_t)z[gg * N + 8 * c + order[j]] << (4 * j);
        snprintf(name, sizeof name, "%s.qweight", prefix);
        st_add(st, name, "I32", 2, K, N / 8, qw, (size_t)(K * N / 8) * 4);
        snprintf(name, sizeof name, "%s.qzeros", prefix);
        st_add(st, name, "I32", 2, fault == FAULT_QZEROS_SHAPE ? G - 1 : G, N / 8, qz,
               (size_t)((fault == FAULT_QZEROS_SHAPE ? G - 1 : G) * N / 8) * 4);
    } else {
        /* QuantLinear.pack: qweight[r][n] |= q[n][8r + j] << 4j; qzeros[g][c] |= stored z of column
         * 8c + j << 4j, stored z - 1 in v1 (gptq), z in v2. */
        uint32_t *qw = calloc((size_t)(K / 8 * N), 4), *qz = calloc((size_t)(G * N / 8), 4);
        for (int64_t r = 0; r < K / 8; r++)
            for (int64_t n = 0; n < N; n++)
                for (int j = 0; j < 8; j++)
                    qw[r * N + n] |= (uint32_t)q[n * K + 8 * r + j] << (4 * j);
        for (int64_t gg = 0; gg < G; gg++)
            for (int64_t c = 0; c < N / 8; c++)
                for (int j = 0; j < 8; j++) {
                    int zs = z[gg * N + 8 * c + j] - (fx->kind == LLMC_PQ_GPTQ);
                    qz[gg * (N / 8) + c] |= (uint32_t)zs << (4 * j);
                }
        snprintf(name, sizeof name, "%s.qweight", prefix);
        st_add(st, name, "I32", 2, K / 8, N, qw, (size_t)(K / 8 * N) * 4);
        snprintf(name, sizeof name, "%s.qzeros", prefix);
        st_add(st, name, "I32", 2, G, N / 8, qz, (size_t)(G * N / 8) * 4);
        snprintf(name, sizeof name, "%s.g_idx", prefix);
        st_add(st, name, "I32", 1, K, 0, gi, (size_t)K * 4);
        gi = NULL;
    }
    snprintf(name, sizeof name, "%s.scales", prefix);
    if (fault == FAULT_SCALE_F32) { /* f32 scales, element [1, 2] 0.1: not an f16 */
        float *s32 = malloc(sizeof(float) * (size_t)(G * N));
        for (int64_t i = 0; i < G * N; i++)
            s32[i] = i == N + 2 ? 0.1f : llmc_f16_to_f32(s[i]);
        st_add(st, name, "F32", 2, G, N, s32, (size_t)(G * N) * 4);
        free(s);
    } else if (fault != FAULT_NO_SCALES) {
        st_add(st, name, "F16", 2, G, N, s, (size_t)(G * N) * 2);
    } else {
        free(s);
    }
    free(gi);
    free(q);
    free(z);
}

/* E2M1 and E4M3 by their definitions (docs/formats.md), for the oracle. */
static double e2m1(int c)
{
    static const double v[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    return c & 8 ? -v[c & 7] : v[c & 7];
}
static double e4m3(int c)
{
    int e = c >> 3 & 15, m = c & 7;
    double v = e ? ldexp(1 + m / 8.0, e - 7) : ldexp(m / 8.0, -6);
    return c & 0x80 ? -v : v;
}

/* One NVFP4 layer as ModelOpt exports it: weight [N, K/2] uint8 (random E2M1 codes, even column in
 * the low nibble), weight_scale [N, K/16] float8_e4m3fn (random scales from 2^-4 to 8), weight_scale_2
 * (the scalar t, [] float32), input_scale ([] float32, unused by llmc); the oracle (e2m1 s) t. */
static void add_layer_nvfp4(Fx *fx, St *st, const char *key, const char *prefix, int64_t N, int64_t K, float t,
                            uint64_t *rs)
{
    int64_t G = K / 16;
    uint8_t *w = malloc((size_t)(N * K / 2)), *sc = malloc((size_t)(N * G));
    for (int64_t i = 0; i < N * K / 2; i++)
        w[i] = (uint8_t)rng_next(rs);
    for (int64_t i = 0; i < N * G; i++)
        sc[i] = (uint8_t)(0x18 + rng_next(rs) % 0x38); /* 2^-4 .. 2^3 * 1.875 */
    float *o = malloc(sizeof(float) * (size_t)(N * K));
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int c = w[n * K / 2 + k / 2] >> (4 * (k % 2)) & 15;
            o[n * K + k] = (float)(e2m1(c) * e4m3(sc[n * G + k / 16]) * (double)t);
        }
    int i = fx->nw++;
    snprintf(fx->key[i], sizeof fx->key[i], "%s", key);
    fx->n[i] = N;
    fx->k[i] = K;
    fx->w[i] = o;
    char name[160];
    float *ts = malloc(4), *is = malloc(4);
    *ts = t;
    *is = (float)(0.01 + rng_unit(rs));
    snprintf(name, sizeof name, "%s.weight", prefix);
    st_add(st, name, "U8", 2, N, K / 2, w, (size_t)(N * K / 2));
    snprintf(name, sizeof name, "%s.weight_scale", prefix);
    st_add(st, name, "F8_E4M3", 2, N, G, sc, (size_t)(N * G));
    snprintf(name, sizeof name, "%s.weight_scale_2", prefix);
    st_add(st, name, "F32", 0, 0, 0, ts, 4);
    snprintf(name, sizeof name, "%s.input_scale", prefix);
    st_add(st, name, "F32", 0, 0, 0, is, 4);
}

static void add_f16(St *st, const char *name, int rank, int64_t d0, int64_t d1, double scale, uint64_t *rs)
{
    int64_t n = d0 * (rank == 2 ? d1 : 1);
    uint16_t *v = malloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++)
        v[i] = llmc_f32_to_f16((float)(rank == 1 ? 1.0 + 0.1 * (rng_unit(rs) - 0.5) : scale * (2 * rng_unit(rs) - 1)));
    st_add(st, name, "F16", rank, d0, d1, v, (size_t)n * 2);
}

/* Writes the checkpoint DIR/NAME (config.json with its quantization_config, model.safetensors). The
 * GPTQ act-order fixtures give Q/K/V and gate/up of layer 0 one permutation each; in layer 1 V has
 * its own (so Q/K merge and V does not) and O the plain grouping. AWQ leaves layer 1's down_proj
 * in f16 (modules_to_not_convert). */
static char *write_fixture(Fx *fx, const char *base)
{
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", base, fx->name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    ck_assert_int_eq(tu_run(cmd, NULL), 0);
    uint64_t rs = fx->seed;
    St *st = calloc(1, sizeof *st);
    add_f16(st, "model.embed_tokens.weight", 2, V, H, 0.5, &rs);
    int32_t perm[6][F];
    for (int l = 0; l < L; l++) {
        char key[64], pre[128];
        float tsc[6];
        for (int p = 0; p < 6; p++) {
            random_perm(&rs, p == 5 ? F : H, perm[p]); /* qkv, v of layer 1, o, gate/up, ., down */
            tsc[p] = (float)(0.001 + 0.01 * rng_unit(&rs)); /* NVFP4: the tensor scales, shared alike */
        }
        struct {
            const char *key, *hf;
            int64_t N, K;
            int p; /* its permutation (act-order), -1: k / group */
        } m[] = {{"wq", "self_attn.q_proj", NH * HD, H, 0},         {"wk", "self_attn.k_proj", NKV * HD, H, 0},
                 {"wv", "self_attn.v_proj", NKV * HD, H, l ? 1 : 0}, {"wo", "self_attn.o_proj", H, NH * HD, l ? -1 : 2},
                 {"w1", "mlp.gate_proj", F, H, 3},                   {"w3", "mlp.up_proj", F, H, 3},
                 {"w2", "mlp.down_proj", H, F, 5}};
        snprintf(pre, sizeof pre, "model.layers.%d.input_layernorm.weight", l);
        add_f16(st, pre, 1, H, 0, 0, &rs);
        snprintf(pre, sizeof pre, "model.layers.%d.post_attention_layernorm.weight", l);
        add_f16(st, pre, 1, H, 0, 0, &rs);
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
            snprintf(key, sizeof key, "layers.%d.%s", l, m[i].key);
            snprintf(pre, sizeof pre, "model.layers.%d.%s", l, m[i].hf);
            if (fx->kind == LLMC_PQ_AWQ && l == 1 && strcmp(m[i].key, "w2") == 0) {
                char wn[160];
                snprintf(wn, sizeof wn, "%s.weight", pre);
                add_f16(st, wn, 2, m[i].N, m[i].K, 0.05, &rs);
                continue;
            }
            if (fx->kind == LLMC_PQ_NVFP4)
                add_layer_nvfp4(fx, st, key, pre, m[i].N, m[i].K, tsc[m[i].p >= 0 ? m[i].p : 4], &rs);
            else
                add_layer(fx, st, key, pre, m[i].N, m[i].K, fx->act_order && m[i].p >= 0 ? perm[m[i].p] : NULL, &rs);
        }
    }
    add_f16(st, "model.norm.weight", 1, H, 0, 0, &rs);
    add_f16(st, "lm_head.weight", 2, V, H, 0.5, &rs);
    char path[1200];
    if (fx->sharded) {
        /* Two shards and an index: the scales (and g_idx) apart from their qweight and qzeros. */
        St *s2 = calloc(1, sizeof *s2);
        char *index = malloc(1 << 16);
        size_t n = (size_t)snprintf(index, 1 << 16, "{\"metadata\": {}, \"weight_map\": {");
        int k = 0;
        for (int i = 0; i < st->n; i++) {
            int second = strstr(st->t[i].name, ".scales") || strstr(st->t[i].name, ".g_idx");
            n += (size_t)snprintf(index + n, (1 << 16) - n, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", i ? ", " : "",
                                  st->t[i].name, second ? 2 : 1);
            if (second)
                s2->t[s2->n++] = st->t[i];
            else
                st->t[k++] = st->t[i];
        }
        st->n = k;
        snprintf(index + n, (1 << 16) - n, "}}");
        snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
        st_write(st, path);
        snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
        st_write(s2, path);
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        write_text(path, index);
        free(index);
        free(s2);
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        st_write(st, path);
    }
    free(st);
    char qc[400];
    if (fx->kind == LLMC_PQ_NVFP4) { /* ModelOpt's own file, config.json without quantization_config */
        snprintf(path, sizeof path, "%s/hf_quant_config.json", dir);
        write_text(path, "{\"producer\": {\"name\": \"modelopt\", \"version\": \"0.29.0\"}, \"quantization\": "
                         "{\"quant_algo\": \"NVFP4\", \"kv_cache_quant_algo\": null, \"group_size\": 16, "
                         "\"exclude_modules\": [\"lm_head\"]}}");
    }
    if (fx->kind == LLMC_PQ_AWQ)
        snprintf(qc, sizeof qc, "{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": %d, \"zero_point\": true, "
                 "\"version\": \"gemm\", \"modules_to_not_convert\": [\"model.layers.1.mlp.down_proj\"]}", fx->group);
    else
        snprintf(qc, sizeof qc, "{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": %d, \"sym\": %s, "
                 "\"desc_act\": %s, \"checkpoint_format\": \"%s\"}", fx->group, fx->asym ? "false" : "true",
                 fx->act_order ? "true" : "false", fx->kind == LLMC_PQ_GPTQ ? "gptq" : "gptq_v2");
    if (fx->qc)
        snprintf(qc, sizeof qc, "%s", fx->qc);
    char cfg[1200];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": %d, \"intermediate_size\": %d, "
             "\"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d, "
             "\"vocab_size\": %d, \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-5, "
             "\"tie_word_embeddings\": false, \"bos_token_id\": 1, \"eos_token_id\": 2, \"torch_dtype\": \"float16\"%s%s}",
             H, F, L, NH, NKV, V, fx->kind == LLMC_PQ_NVFP4 && !fx->qc ? "" : ", \"quantization_config\": ",
             fx->kind == LLMC_PQ_NVFP4 && !fx->qc ? "" : qc);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, cfg);
    return dir;
}

static void free_fixture(Fx *fx)
{
    for (int i = 0; i < fx->nw; i++)
        free(fx->w[i]);
    fx->nw = 0;
}

/* ---- loading through the library ---- */

typedef struct Model {
    LlmcGraph *g;
    LlmcWeightFiles *wf;
    LlmcWeightSource ws;
    cJSON *doc;
} Model;

/* Imports dir and runs the pipeline for the cpu target up to stop_after (NULL: all of it). */
static LlmcStatus load(Model *m, const char *dir, const char *stop_after, const LlmcPassOptions *extra, LlmcDiag *d)
{
    memset(m, 0, sizeof *m);
    m->g = llmc_graph_new();
    m->wf = llmc_wf_new();
    m->ws = llmc_wf_source(m->wf);
    if (llmc_import(dir, dir, &m->doc, d) || llmc_model_from_json(m->doc, dir, dir, m->g, d) ||
        llmc_model_check_weights(m->g, m->wf, d))
        return LLMC_ERR;
    LlmcPassOptions o;
    if (extra)
        o = *extra;
    else
        memset(&o, 0, sizeof o);
    o.target = llmc_target_find("cpu");
    o.max_tokens = 16;
    o.max_outputs = 4;
    o.kv_block_size = 16;
    for (const LlmcPass *p = llmc_passes(); p->name; p++) {
        if (p->fn(m->g, &o, d))
            return LLMC_ERR;
        ck_assert_msg(llmc_graph_verify(m->g, d) == LLMC_OK, "after %s: %s", p->name, d->msg);
        if (stop_after && strcmp(p->name, stop_after) == 0)
            break;
    }
    return LLMC_OK;
}

static void unload(Model *m)
{
    llmc_graph_free(m->g);
    llmc_wf_free(m->wf);
    cJSON_Delete(m->doc);
}

/* ---- the checks ---- */

/* Every quantized matrix as packed (values, f16 scales, zero points; merged ones part by part, the
 * act-order permutation from the gather's packed indices) dequantizes to the oracle exactly.
 * Returns the number of gather_cols nodes. */
static int check_exact(Fx *fx, const char *dir, int *merged)
{
    Model m;
    LlmcDiag d;
    ck_assert_msg(load(&m, dir, NULL, NULL, &d) == LLMC_OK, "%s: %s", fx->name, d.msg);
    const LlmcGraph *g = m.g;
    char path[1200];
    snprintf(path, sizeof path, "%s/payload", dir);
    LlmcOutFile o;
    ck_assert(llmc_out_open(&o, path, &d) == LLMC_OK);
    ck_assert_msg(llmc_pack_weights(g, &m.ws, &o, 1, &d) == LLMC_OK, "%s: %s", fx->name, d.msg);
    ck_assert(llmc_out_commit(&o, 0, &d) == LLMC_OK);
    char *pay;
    size_t size;
    ck_assert(llmc_read_file(path, &pay, &size, &d) == LLMC_OK);
    ck_assert_int_eq((int64_t)size, g->weights_bytes);
    int gathers = 0, checked = 0;
    *merged = 0;
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        gathers += n->op == LLMC_OP_GATHER_COLS;
        if (n->op != LLMC_OP_MATMUL || g->t[n->in[1]].src.pq.kind == LLMC_PQ_NONE)
            continue;
        const LlmcTensor *w = &g->t[n->in[1]];
        LlmcDType fmt = fe_pq_format(fx->kind);
        ck_assert_int_eq(w->dtype, fmt);
        ck_assert_int_eq(w->src.pq.kind, fx->kind);
        *merged += w->src.n_parts > 0;
        int64_t K = w->shape.dim[1], G = (K + w->layout.group - 1) / w->layout.group;
        ck_assert_int_eq(w->layout.group, fx->group == -1 ? K : fx->group);
        if (fmt == LLMC_U4)
            ck_assert_int_eq(w->layout.side[1] >= 0, fx->asym);
        /* The input's column order: the gather's indices, or 0..K-1. */
        int32_t *idx = malloc(sizeof(int32_t) * (size_t)K);
        const LlmcTensor *x = &g->t[n->in[0]];
        if (x->producer >= 0 && g->n[x->producer].op == LLMC_OP_GATHER_COLS)
            memcpy(idx, pay + g->t[g->n[x->producer].in[1]].offset, (size_t)K * 4);
        else
            for (int64_t k = 0; k < K; k++)
                idx[k] = (int32_t)k;
        const uint8_t *vals = (const uint8_t *)pay + w->offset;
        /* The sides as floats, through their formats: GROUP ones [N][G], TENSOR ones one value. */
        float *sides_all[LLMC_MAX_SIDES] = {NULL};
        unsigned has = 0;
        for (int k = 0; k < llmc_format_n_sides(fmt); k++) {
            const LlmcTensor *x = w->layout.side[k] >= 0 ? &g->t[w->layout.side[k]] : NULL;
            if (!x)
                continue;
            int64_t cnt = llmc_shape_numel(&x->shape, 0, 0);
            sides_all[k] = malloc(sizeof(float) * (size_t)cnt);
            llmc_format(x->dtype)->to_f32(pay + x->offset, sides_all[k], cnt);
            has |= 1u << k;
        }
        float *row = malloc(sizeof(float) * (size_t)K);
        int64_t r = 0;
        for (int p = 0; p < (w->src.n_parts ? w->src.n_parts : 1); p++) {
            const LlmcTensor *part = w->src.n_parts ? &g->t[w->src.parts[p]] : w;
            const float *want = oracle(fx, part->name);
            ck_assert_msg(want != NULL, "%s: no oracle for %s", fx->name, part->name);
            for (int64_t pr = 0; pr < part->shape.dim[0]; pr++, r++) {
                const float *sides[LLMC_MAX_SIDES] = {NULL};
                for (int k = 0; k < LLMC_MAX_SIDES; k++)
                    if (sides_all[k])
                        sides[k] = llmc_format(fmt)->side[k].shape == LLMC_SHAPE_GROUP ? sides_all[k] + r * G
                                                                                         : sides_all[k];
                llmc_dequantize_row(fmt, K, w->layout.group, vals + r * (K / 2), sides, has, row);
                for (int64_t j = 0; j < K; j++)
                    ck_assert_msg(row[j] == want[pr * K + idx[j]], "%s: %s[%lld][%d] packed as %g, the checkpoint "
                                  "holds %g", fx->name, part->name, (long long)pr, idx[j], (double)row[j],
                                  (double)want[pr * K + idx[j]]);
                checked++;
            }
        }
        free(row);
        for (int k = 0; k < LLMC_MAX_SIDES; k++)
            free(sides_all[k]);
        free(idx);
    }
    ck_assert_int_gt(checked, 0);
    free(pay);
    unload(&m);
    return gathers;
}

/* The compiled model's logits at the last of a few prompt tokens against the reference interpreter
 * on the graph as imported, its quantized matrices given the oracle's values (the same weights
 * dequantized in f32). */
static void check_logits(Fx *fx, const char *dir)
{
    static const int32_t toks[5] = {1, 17, 42, 5, 77};
    Model m;
    LlmcDiag d;
    ck_assert_msg(load(&m, dir, "infer_shapes", NULL, &d) == LLMC_OK, "%s: %s", fx->name, d.msg);
    const LlmcGraph *g = m.g;
    LlmcInterp *it = llmc_interp_new(g, 1);
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_in; j++) {
            const LlmcTensor *w = &g->t[g->n[i].in[j]];
            if (w->kind != LLMC_T_WEIGHT)
                continue;
            int64_t n = llmc_shape_numel(&w->shape, 0, 0);
            float *buf = malloc(sizeof(float) * (size_t)n);
            if (w->src.pq.kind != LLMC_PQ_NONE)
                memcpy(buf, oracle(fx, w->name), sizeof(float) * (size_t)n);
            else
                ck_assert_msg(m.ws.read_f32(m.ws.ctx, w, 0, n, buf, &d) == LLMC_OK, "%s", d.msg);
            llmc_interp_set_weight(it, g->n[i].in[j], buf);
            free(buf);
        }
    int32_t pos[5] = {0, 1, 2, 3, 4}, seq[5] = {0}, out = 4;
    float want[V];
    LlmcStep st = {.n_tokens = 5, .tokens = toks, .positions = pos, .seq_of_token = seq, .n_out = 1,
                   .out_rows = &out, .logits = want};
    ck_assert_msg(llmc_interp_step(it, &st, NULL, &d) == LLMC_OK, "%s", d.msg);
    llmc_interp_free(it);
    unload(&m);

    char cmd[3000], *text = NULL;
    snprintf(cmd, sizeof cmd, "'%s' compile '%s' -o '%s/model' -q 2>&1 && '%s/model' --ids '1 17 42 5 77' "
             "--top-logits %d 2>&1", tu_llmc(), dir, dir, dir, V);
    int rc = tu_run(cmd, &text);
    ck_assert_msg(rc == 0, "%s: %s", fx->name, text ? text : "");
    float got[V];
    int seen = 0;
    for (const char *p = strstr(text, "logits at position"); p && (p = strchr(p, '\n'));) {
        int id;
        float v;
        if (sscanf(++p, "%d %f", &id, &v) != 2)
            break;
        ck_assert(id >= 0 && id < V);
        got[id] = v;
        seen++;
    }
    ck_assert_msg(seen == V, "%s: %d logits in: %s", fx->name, seen, text);
    double err = 0, mag = 0;
    for (int i = 0; i < V; i++) {
        err = fmax(err, fabs((double)got[i] - want[i]));
        mag = fmax(mag, fabs((double)want[i]));
    }
    ck_assert_msg(err <= 2e-5 * (mag > 1 ? mag : 1), "%s: logits differ from the dequantized reference by %g (of %g)",
                  fx->name, err, mag);
    free(text);
}

START_TEST(awq_gemm)
{
    Fx fx = {.name = "awq", .kind = LLMC_PQ_AWQ, .group = 32, .asym = 1, .seed = 11};
    const char *dir = write_fixture(&fx, tu_tmpdir());
    int merged;
    ck_assert_int_eq(check_exact(&fx, dir, &merged), 0);
    ck_assert_int_eq(merged, 4); /* Q/K/V and gate/up of both layers */
    check_logits(&fx, dir);
    free_fixture(&fx);
}
END_TEST

START_TEST(gptq_act_order)
{
    Fx fx = {.name = "gptq", .kind = LLMC_PQ_GPTQ, .group = 16, .asym = 0, .act_order = 1, .seed = 12};
    const char *dir = write_fixture(&fx, tu_tmpdir());
    /* Layer 0: Q/K/V, O, gate/up, down; layer 1: Q/K, V, gate/up, down (O has the plain grouping). */
    int merged;
    ck_assert_int_eq(check_exact(&fx, dir, &merged), 8);
    ck_assert_int_eq(merged, 4); /* Q/K/V and gate/up of layer 0, Q/K and gate/up of layer 1 */
    check_logits(&fx, dir);
    free_fixture(&fx);
}
END_TEST

/* GPTQ v1 with zero points (act-order) and v2 with a group of a whole row, both in two shards whose
 * index places each layer's scales and g_idx apart from its qweight. */
START_TEST(gptq_v1_asym_and_v2)
{
    Fx a = {.name = "gptq_v1_asym", .kind = LLMC_PQ_GPTQ, .group = 32, .asym = 1, .act_order = 1, .seed = 13,
            .sharded = 1};
    int merged;
    ck_assert_int_eq(check_exact(&a, write_fixture(&a, tu_tmpdir()), &merged), 8);
    free_fixture(&a);
    Fx b = {.name = "gptq_v2", .kind = LLMC_PQ_GPTQ_V2, .group = -1, .asym = 1, .seed = 14, .sharded = 1};
    ck_assert_int_eq(check_exact(&b, write_fixture(&b, tu_tmpdir()), &merged), 0);
    free_fixture(&b);
}
END_TEST

/* ModelOpt NVFP4 (hf_quant_config.json): layer 0's Q/K/V share a tensor scale and merge, layer 1's V
 * has its own and stays apart; the lm_head is excluded (f16). */
START_TEST(modelopt_nvfp4)
{
    Fx fx = {.name = "nvfp4", .kind = LLMC_PQ_NVFP4, .group = 16, .seed = 15};
    const char *dir = write_fixture(&fx, tu_tmpdir());
    int merged;
    ck_assert_int_eq(check_exact(&fx, dir, &merged), 0);
    ck_assert_int_eq(merged, 4);
    check_logits(&fx, dir);
    free_fixture(&fx);
}
END_TEST

/* Words worked by hand from the packers: AWQ's interleaved nibbles along N, GPTQ's in order along
 * K, v1 zero points stored minus one. */
START_TEST(hand_words)
{
    /* AWQ, N = 8, K = 2, group 2: from_linear packs column n's value v at nibble j where
     * order[j] = n: values 1..8 of columns 0..7 give 0x86427531; zeros 0, 1, ..., 7 give 0x75316420. */
    uint32_t qw[2] = {0x86427531u, 0x86427531u}, qz[1] = {0x75316420u};
    uint16_t sc[8];
    for (int n = 0; n < 8; n++)
        sc[n] = llmc_f32_to_f16(0.5f);
    FePqData m = {.kind = LLMC_PQ_AWQ, .N = 8, .K = 2, .group = 2, .zeros = 1};
    m.data[0] = (const uint8_t *)qw;
    m.data[1] = (const uint8_t *)qz;
    m.data[2] = (const uint8_t *)sc;
    m.dtype[2] = LLMC_F16;
    uint8_t q[8];
    float s[8], z[8], *side[2] = {s, z};
    LlmcDiag d;
    ck_assert_msg(fe_pq_rows(&m, 0, 8, q, side, &d) == LLMC_OK, "%s", d.msg);
    for (int n = 0; n < 8; n++) {
        ck_assert_int_eq(q[n], (n + 1) | (n + 1) << 4); /* both k hold n + 1 */
        ck_assert(z[n] == (float)n && s[n] == 0.5f);
    }
    /* GPTQ v1, N = 8, K = 8, group 8: qweight row 0, column n packs k = 0..7 as nibbles 0..7:
     * 0x87654321 is values 1..8; zeros stored 7 (0x77777777) are 8. */
    uint32_t gw[8], gz[1] = {0x77777777u};
    for (int n = 0; n < 8; n++)
        gw[n] = 0x87654321u;
    FePqData g = {.kind = LLMC_PQ_GPTQ, .N = 8, .K = 8, .group = 8, .zeros = 0};
    g.data[0] = (const uint8_t *)gw;
    g.data[1] = (const uint8_t *)gz;
    g.data[2] = (const uint8_t *)sc;
    g.dtype[2] = LLMC_F16;
    uint8_t gq[8 * 4];
    ck_assert_msg(fe_pq_rows(&g, 0, 8, gq, side, &d) == LLMC_OK, "%s", d.msg);
    for (int n = 0; n < 8; n++)
        for (int k = 0; k < 8; k += 2)
            ck_assert_int_eq(gq[n * 4 + k / 2], (k + 1) | (k + 2) << 4);
    /* Symmetric, but a zero point stored 6 (v1: 7): refused naming the tensor. */
    gz[0] = 0x77767777u;
    g.name[1] = "model.layers.0.mlp.up_proj.qzeros";
    g.file[1] = "model.safetensors";
    ck_assert(fe_pq_rows(&g, 0, 8, gq, side, &d) == LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "up_proj.qzeros: group 0, column 4: zero point 7 (stored 6), expected 8"), "%s", d.msg);
    /* v1 with zero points: stored 15 reads 16 (no wrap), as AutoGPTQ's kernels read it. */
    g.zeros = 1;
    gz[0] = 0xF0000000u;
    ck_assert(fe_pq_rows(&g, 0, 8, gq, side, &d) == LLMC_OK);
    ck_assert(z[7] == 16.0f && z[0] == 1.0f);
}
END_TEST

/* The checkpoint fx (one fault in it) fails: at import (stage 0), in the passes with opt (1), or
 * when its weights are packed (2), with a message holding each of want[]. */
static void expect_error(Fx *fx, int stage, const LlmcPassOptions *opt, const char *const *want)
{
    const char *dir = write_fixture(fx, tu_tmpdir());
    Model m;
    LlmcDiag d;
    LlmcStatus st = load(&m, dir, NULL, opt, &d);
    if (stage == 2 && st == LLMC_OK) {
        char path[1200];
        snprintf(path, sizeof path, "%s/payload", dir);
        LlmcOutFile o;
        ck_assert(llmc_out_open(&o, path, &d) == LLMC_OK);
        st = llmc_pack_weights(m.g, &m.ws, &o, 1, &d);
        llmc_out_abort(&o);
    } else if (st == LLMC_ERR) {
        /* which stage failed: an import error has no graph yet, a pass error has one */
        ck_assert_msg(stage < 2, "%s: failed before packing: %s", fx->name, d.msg);
        ck_assert_msg((stage == 0) == (m.g->nt == 0), "%s: failed at the wrong stage: %s", fx->name, d.msg);
    }
    ck_assert_msg(st == LLMC_ERR, "%s: accepted", fx->name);
    for (int i = 0; want[i]; i++)
        ck_assert_msg(strstr(d.msg, want[i]), "%s: \"%s\" not in: %s", fx->name, want[i], d.msg);
    unload(&m);
    free_fixture(fx);
}

START_TEST(errors)
{
    static const struct {
        const char *qc, *want[3];
    } cfgs[] = {
        {"{\"quant_method\": \"gptq\", \"bits\": 3, \"group_size\": 32}", {"quantization_config.bits: expected 4, found 3", NULL}},
        {"{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 32, \"version\": \"GEMV\"}",
         {"quantization_config.version: expected \"gemm\", found \"gemv\"", NULL}},
        {"{\"quant_method\": \"awq\", \"bits\": 4, \"group_size\": 32, \"zero_point\": false}", {"zero_point: expected true", NULL}},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32, \"checkpoint_format\": \"marlin\"}",
         {"checkpoint_format: expected \"gptq\" or \"gptq_v2\", found \"marlin\"", NULL}},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 7}", {"group_size: expected -1", "found 7", NULL}},
        {"{\"quant_method\": \"bitsandbytes\"}", {"quant_method: expected \"awq\", \"gptq\" or \"modelopt\", found \"bitsandbytes\"", NULL}},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 32, \"dynamic\": {\"-:.*\": {}}}", {"dynamic: expected none", NULL}},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        Fx fx = {.name = "cfg", .kind = LLMC_PQ_GPTQ, .group = 32, .seed = 20, .qc = cfgs[i].qc};
        expect_error(&fx, 0, NULL, cfgs[i].want);
    }
    {   /* ModelOpt: another algorithm is refused; NVFP4 in config.json's form is read too */
        Fx fx = {.name = "fp8", .kind = LLMC_PQ_NVFP4, .group = 16, .seed = 27,
                 .qc = "{\"quant_method\": \"modelopt\", \"quant_algo\": \"FP8\"}"};
        expect_error(&fx, 0, NULL, (const char *const[]){"quantization_config.quant_algo: expected \"NVFP4\" or "
                     "\"W4A16_NVFP4\", found \"fp8\"", NULL});
        Fx ok = {.name = "nvfp4_cfg", .kind = LLMC_PQ_NVFP4, .group = 16, .seed = 27,
                 .qc = "{\"quant_method\": \"modelopt\", \"quant_algo\": \"NVFP4\", \"group_size\": 16, "
                       "\"ignore\": [\"lm_head\"]}"};
        Model m;
        LlmcDiag d;
        ck_assert_msg(load(&m, write_fixture(&ok, tu_tmpdir()), NULL, NULL, &d) == LLMC_OK, "%s", d.msg);
        unload(&m);
        free_fixture(&ok);
    }
    {
        Fx fx = {.name = "qzeros", .kind = LLMC_PQ_AWQ, .group = 32, .asym = 1, .seed = 21, .fault = FAULT_QZEROS_SHAPE};
        expect_error(&fx, 0, NULL, (const char *const[]){"model.safetensors: tensor 'model.layers.0.self_attn.q_proj.qzeros': "
                     "expected [2, 8] ([groups, N / 8] int32, for the layer's [N, K] = [64, 64] and group 32",
                     "found I32 [1, 8]", NULL});
    }
    {
        Fx fx = {.name = "scales", .kind = LLMC_PQ_AWQ, .group = 32, .asym = 1, .seed = 22, .fault = FAULT_NO_SCALES};
        expect_error(&fx, 0, NULL, (const char *const[]){"tensor 'model.layers.0.self_attn.q_proj.scales' not found", NULL});
    }
    {
        Fx fx = {.name = "g_idx", .kind = LLMC_PQ_GPTQ, .group = 16, .act_order = 1, .seed = 23, .fault = FAULT_GIDX};
        expect_error(&fx, 0, NULL, (const char *const[]){"tensor 'model.layers.0.self_attn.q_proj.g_idx': group 0 has 17 "
                     "inputs, expected 16", NULL});
    }
    {
        Fx fx = {.name = "sym", .kind = LLMC_PQ_GPTQ, .group = 16, .seed = 24, .fault = FAULT_ZERO};
        expect_error(&fx, 2, NULL, (const char *const[]){"model.layers.0.self_attn.q_proj.qzeros: group 3, column 5: zero "
                     "point 6 (stored 5), expected 8", "sym", NULL});
    }
    {
        Fx fx = {.name = "f32scale", .kind = LLMC_PQ_GPTQ_V2, .group = 32, .asym = 1, .seed = 25, .fault = FAULT_SCALE_F32};
        expect_error(&fx, 2, NULL, (const char *const[]){"model.layers.0.self_attn.q_proj.scales: element [1, 2] is 0.1: "
                     "expected a finite value that f16 holds exactly", NULL});
    }
    {   /* An act-order matrix read as an embedding table (a hand-edited model.json): refused. */
        Fx fx = {.name = "embed", .kind = LLMC_PQ_GPTQ, .group = 16, .act_order = 1, .seed = 28};
        const char *dir = write_fixture(&fx, tu_tmpdir());
        cJSON *doc = NULL;
        LlmcDiag d;
        ck_assert_msg(llmc_import(dir, dir, &doc, &d) == LLMC_OK, "%s", d.msg);
        cJSON *pro = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "graph"), "prologue");
        cJSON *in = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pro, 0), "in");
        ck_assert(cJSON_ReplaceItemInArray(in, 0, cJSON_CreateString("@layers.0.wq")));
        LlmcGraph *g = llmc_graph_new();
        ck_assert_msg(llmc_model_from_json(doc, dir, dir, g, &d) == LLMC_OK, "%s", d.msg);
        LlmcPassOptions o;
        memset(&o, 0, sizeof o);
        o.target = llmc_target_find("cpu");
        o.max_tokens = 16;
        o.max_outputs = 4;
        o.kv_block_size = 16;
        ck_assert(pass_infer_shapes(g, &o, &d) == LLMC_OK);
        ck_assert(pass_act_order(g, &o, &d) == LLMC_ERR);
        ck_assert_msg(strstr(d.msg, "(embedding): input 0, @layers.0.wq, is an act-order matrix"), "%s", d.msg);
        llmc_graph_free(g);
        cJSON_Delete(doc);
        free_fixture(&fx);
    }
    {   /* --keep may not requantize an imported matrix; --weights leaves them as they are */
        Fx fx = {.name = "keep", .kind = LLMC_PQ_AWQ, .group = 32, .asym = 1, .seed = 26};
        static const char *const keep[] = {"model.layers.0.self_attn.*=bf16"};
        LlmcPassOptions o;
        memset(&o, 0, sizeof o);
        o.keep = keep;
        o.n_keep = 1;
        expect_error(&fx, 1, &o, (const char *const[]){"--keep model.layers.0.self_attn.*=bf16: "
                     "model.layers.0.self_attn.q_proj (layers.0.wq) is stored quantized by the checkpoint (awq: u4, "
                     "group 32, zero points); llmc imports it as it is and never requantizes it", NULL});
        Fx ok = {.name = "weights", .kind = LLMC_PQ_AWQ, .group = 32, .asym = 1, .seed = 26};
        const char *dir = write_fixture(&ok, tu_tmpdir());
        memset(&o, 0, sizeof o);
        o.weights = LLMC_U4;
        o.weights_set = 1;
        o.group = 64;
        Model m;
        LlmcDiag d;
        ck_assert_msg(load(&m, dir, NULL, &o, &d) == LLMC_OK, "%s", d.msg);
        int imported = 0;
        for (int t = 0; t < m.g->nt; t++) {
            const LlmcTensor *w = &m.g->t[t];
            if (w->kind == LLMC_T_WEIGHT && w->src.pq.kind == LLMC_PQ_AWQ && w->offset >= 0) {
                ck_assert_int_eq(w->layout.group, 32); /* the checkpoint's, not --group 64 */
                imported++;
            }
            if (w->kind == LLMC_T_WEIGHT && strcmp(w->name, "layers.1.w2") == 0) /* its f16 layer: --weights */
                ck_assert(w->dtype == LLMC_U4 && w->layout.group == 64);
        }
        ck_assert_int_gt(imported, 0);
        unload(&m);
        free_fixture(&ok);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prequant");
    TCase *tc = tcase_create("import");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, hand_words);
    tcase_add_test(tc, awq_gemm);
    tcase_add_test(tc, gptq_act_order);
    tcase_add_test(tc, gptq_v1_asym_and_v2);
    tcase_add_test(tc, modelopt_nvfp4);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
