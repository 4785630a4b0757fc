/* synth.c — `llmc synth`: a Hugging Face checkpoint directory with random weights, for testing and
 * benchmarking the real shapes of models whose weights we don't have (decode speed does not depend
 * on the values).
 *
 * Output, each file written atomically: tokenizer.model (a synthetic SentencePiece BPE vocabulary of
 * exactly vocab_size pieces), model.safetensors or ~5 GB shards model-0000K-of-0000N.safetensors
 * with model.safetensors.index.json, and config.json last (a directory holding config.json is
 * complete). The config goes through the importer's own parser first, so what we write is what we
 * accept.
 *
 * Weights are reproducible byte for byte whatever the thread count: every tensor is cut into chunks
 * of 2^20 elements and chunk c of tensor t draws from its own splitmix64 stream seeded by
 * (seed, t, c). One 64-bit draw per element gives four 16-bit uniforms; their sum, centred and
 * divided by its standard deviation sqrt((65536^2 - 1) / 3), is close to a unit normal (Irwin–Hall
 * with n = 4: the tails stop at ±3.46σ, which random test weights don't need); times 0.02. An exact
 * zero (sum equal to its mean) becomes half a step, so no weight is zero. Norm weights are exactly
 * 1.0. Worker threads generate chunks into a ring of buffers; the calling thread writes them in
 * order with large fwrite()s, so the disk is the limit.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fe_internal.h"

#define CHUNK_ELEMS ((uint64_t)1 << 20)
#define SHARD_BYTES 5000000000ull
#define WEIGHT_STD 0.02

/* ---- presets ---- */

/* Each preset is the config.json of the model it is named after, as its publisher's Hugging Face
 * repository has it (the keys that shape the model; the weights are random): the same text a user
 * would give to --config. The Llama 2 stories models have no config.json of their own: theirs say
 * what llama2.c's checkpoints hold. */
typedef struct Preset {
    const char *name;
    const char *config;
} Preset;

#define LLAMA_STORIES(hidden, ffn, layers, heads, kv, hd, vocab, ctx)                                        \
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": " #hidden           \
    ", \"intermediate_size\": " #ffn ", \"num_hidden_layers\": " #layers ", \"num_attention_heads\": " #heads   \
    ", \"num_key_value_heads\": " #kv ", \"head_dim\": " #hd ", \"hidden_act\": \"silu\", "                     \
    "\"max_position_embeddings\": " #ctx ", \"initializer_range\": 0.02, \"rms_norm_eps\": 1e-05, "              \
    "\"rope_theta\": 10000, \"rope_scaling\": null, \"attention_bias\": false, \"mlp_bias\": false, "           \
    "\"tie_word_embeddings\": true, \"vocab_size\": " #vocab "}"
#define LLAMA3(hidden, ffn, layers, heads, hd, tied, factor)                                                   \
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": " #hidden           \
    ", \"intermediate_size\": " #ffn ", \"num_hidden_layers\": " #layers ", \"num_attention_heads\": " #heads \
    ", \"num_key_value_heads\": 8, \"head_dim\": " #hd ", \"hidden_act\": \"silu\", "                             \
    "\"max_position_embeddings\": 131072, \"initializer_range\": 0.02, \"rms_norm_eps\": 1e-05, "               \
    "\"rope_theta\": 500000, \"rope_scaling\": {\"factor\": " #factor ", \"low_freq_factor\": 1, "               \
    "\"high_freq_factor\": 4, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"}, "         \
    "\"attention_bias\": false, \"mlp_bias\": false, \"tie_word_embeddings\": " #tied ", \"vocab_size\": 128256}"

static const Preset presets[] = {
    {"stories260K", LLAMA_STORIES(64, 172, 5, 8, 4, 8, 512, 512)},
    {"stories15M", LLAMA_STORIES(288, 768, 6, 6, 6, 48, 32000, 256)},
    {"llama3.2-1b", LLAMA3(2048, 8192, 16, 32, 64, true, 32)},
    {"llama3.1-8b", LLAMA3(4096, 14336, 32, 32, 128, false, 8)},
    /* meta-llama/Llama-3.1-70B (140 GB in bf16: the shapes of --tp; issue 15) */
    {"llama3.1-70b", LLAMA3(8192, 28672, 80, 64, 128, false, 8)},
    /* Qwen/Qwen2.5-7B-Instruct */
    {"qwen2.5-7b",
     "{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"hidden_size\": 3584, "
     "\"intermediate_size\": 18944, \"num_hidden_layers\": 28, \"num_attention_heads\": 28, "
     "\"num_key_value_heads\": 4, \"hidden_act\": \"silu\", \"max_position_embeddings\": 32768, "
     "\"initializer_range\": 0.02, \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"rope_scaling\": null, "
     "\"sliding_window\": 131072, \"use_sliding_window\": false, \"max_window_layers\": 28, "
     "\"tie_word_embeddings\": false, \"vocab_size\": 152064, \"bos_token_id\": 151643, "
     "\"eos_token_id\": 151645, \"torch_dtype\": \"bfloat16\"}"},
    /* Qwen/Qwen3-8B */
    {"qwen3-8b",
     "{\"architectures\": [\"Qwen3ForCausalLM\"], \"model_type\": \"qwen3\", \"hidden_size\": 4096, "
     "\"intermediate_size\": 12288, \"num_hidden_layers\": 36, \"num_attention_heads\": 32, "
     "\"num_key_value_heads\": 8, \"head_dim\": 128, \"hidden_act\": \"silu\", "
     "\"max_position_embeddings\": 40960, \"initializer_range\": 0.02, \"rms_norm_eps\": 1e-06, "
     "\"rope_theta\": 1000000, \"rope_scaling\": null, \"attention_bias\": false, \"sliding_window\": null, "
     "\"use_sliding_window\": false, \"max_window_layers\": 36, \"tie_word_embeddings\": false, "
     "\"vocab_size\": 151936, \"bos_token_id\": 151643, \"eos_token_id\": 151645, \"torch_dtype\": \"bfloat16\"}"},
    /* google/gemma-2-9b */
    {"gemma-2-9b",
     "{\"architectures\": [\"Gemma2ForCausalLM\"], \"model_type\": \"gemma2\", \"hidden_size\": 3584, "
     "\"intermediate_size\": 14336, \"num_hidden_layers\": 42, \"num_attention_heads\": 16, "
     "\"num_key_value_heads\": 8, \"head_dim\": 256, \"hidden_act\": \"gelu_pytorch_tanh\", "
     "\"hidden_activation\": \"gelu_pytorch_tanh\", \"max_position_embeddings\": 8192, "
     "\"initializer_range\": 0.02, \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0, "
     "\"query_pre_attn_scalar\": 256, \"sliding_window\": 4096, \"attn_logit_softcapping\": 50.0, "
     "\"final_logit_softcapping\": 30.0, \"attention_bias\": false, \"tie_word_embeddings\": true, "
     "\"vocab_size\": 256000, \"bos_token_id\": 2, \"eos_token_id\": 1, \"pad_token_id\": 0, "
     "\"torch_dtype\": \"bfloat16\"}"},
    /* microsoft/Phi-3-mini-4k-instruct */
    {"phi-3-mini",
     "{\"architectures\": [\"Phi3ForCausalLM\"], \"model_type\": \"phi3\", \"hidden_size\": 3072, "
     "\"intermediate_size\": 8192, \"num_hidden_layers\": 32, \"num_attention_heads\": 32, "
     "\"num_key_value_heads\": 32, \"hidden_act\": \"silu\", \"max_position_embeddings\": 4096, "
     "\"original_max_position_embeddings\": 4096, \"initializer_range\": 0.02, \"rms_norm_eps\": 1e-05, "
     "\"rope_theta\": 10000.0, \"rope_scaling\": null, \"sliding_window\": 2047, \"attention_bias\": false, "
     "\"tie_word_embeddings\": false, \"vocab_size\": 32064, \"bos_token_id\": 1, \"eos_token_id\": 32000, "
     "\"pad_token_id\": 32000, \"torch_dtype\": \"bfloat16\"}"},
    /* mistralai/Mixtral-8x7B-v0.1 */
    {"mixtral-8x7b",
     "{\"architectures\": [\"MixtralForCausalLM\"], \"model_type\": \"mixtral\", \"hidden_size\": 4096, "
     "\"intermediate_size\": 14336, \"num_hidden_layers\": 32, \"num_attention_heads\": 32, "
     "\"num_key_value_heads\": 8, \"hidden_act\": \"silu\", \"max_position_embeddings\": 32768, "
     "\"initializer_range\": 0.02, \"rms_norm_eps\": 1e-05, \"rope_theta\": 1000000.0, "
     "\"sliding_window\": null, \"num_local_experts\": 8, \"num_experts_per_tok\": 2, "
     "\"tie_word_embeddings\": false, \"vocab_size\": 32000, \"bos_token_id\": 1, \"eos_token_id\": 2, "
     "\"torch_dtype\": \"bfloat16\"}"},
    /* Qwen/Qwen3-30B-A3B */
    {"qwen3-30b-a3b",
     "{\"architectures\": [\"Qwen3MoeForCausalLM\"], \"model_type\": \"qwen3_moe\", \"hidden_size\": 2048, "
     "\"intermediate_size\": 6144, \"moe_intermediate_size\": 768, \"num_hidden_layers\": 48, "
     "\"num_attention_heads\": 32, \"num_key_value_heads\": 4, \"head_dim\": 128, \"hidden_act\": \"silu\", "
     "\"max_position_embeddings\": 40960, \"initializer_range\": 0.02, \"rms_norm_eps\": 1e-06, "
     "\"rope_theta\": 1000000.0, \"rope_scaling\": null, \"attention_bias\": false, \"sliding_window\": null, "
     "\"use_sliding_window\": false, \"max_window_layers\": 48, \"num_experts\": 128, "
     "\"num_experts_per_tok\": 8, \"norm_topk_prob\": true, \"decoder_sparse_step\": 1, "
     "\"mlp_only_layers\": [], \"tie_word_embeddings\": false, \"vocab_size\": 151936, "
     "\"bos_token_id\": 151643, \"eos_token_id\": 151645, \"torch_dtype\": \"bfloat16\"}"},
};
#define N_PRESETS (sizeof presets / sizeof presets[0])

static const char *const preset_names[N_PRESETS + 1] = {
    "stories260K", "stories15M", "llama3.2-1b", "llama3.1-8b", "llama3.1-70b", "qwen2.5-7b",
    "qwen3-8b", "gemma-2-9b", "phi-3-mini", "mixtral-8x7b", "qwen3-30b-a3b", NULL};

const char *const *llmc_synth_presets(void) { return preset_names; }

static const Preset *preset_find(const char *name)
{
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

/* ---- random numbers ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* splitmix64: state += golden gamma, output = mix(state). */
static uint64_t next64(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    return mix64(*s);
}

static uint64_t chunk_seed(uint64_t seed, uint64_t tensor, uint64_t chunk)
{
    uint64_t z = mix64(seed + 0x9e3779b97f4a7c15ull);
    z = mix64(z ^ (tensor + 1) * 0xd1b54a32d192ed03ull);
    return mix64(z ^ (chunk + 1) * 0x8cb92ba72f3d8dd7ull);
}

/* NULL for an unknown name (or no memory); the texts are checked by test_synth. */
cJSON *llmc_synth_preset_config(const char *preset)
{
    const Preset *p = preset_find(preset);
    return p ? cJSON_Parse(p->config) : NULL;
}

/* ---- the tensor list ---- */

typedef struct SynthTensor {
    char name[128];
    int rank;
    int64_t shape[3];
    uint64_t nelem, bytes, first_chunk, n_chunks;
    int is_norm;
    int shard;
    uint64_t offset;                  /* in the shard's data area */
} SynthTensor;

typedef struct Synth {
    const LlmcSynthOptions *opt;
    FeHfConfig cfg;
    LlmcDType dtype;                  /* of the weights written: --dtype, else the config's */
    size_t es;                        /* element size */
    SynthTensor *t;
    int n, cap;
    int n_shards;
    uint64_t total_bytes, total_chunks;
} Synth;

static LlmcStatus add_tensor(void *ctx, const FeTensorRef *r, LlmcDiag *d)
{
    Synth *s = ctx;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        SynthTensor *nt = realloc(s->t, (size_t)cap * sizeof *nt);
        if (!nt)
            return llmc_fail(d, "synth: out of memory");
        s->t = nt;
        s->cap = cap;
    }
    SynthTensor *t = &s->t[s->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", r->hf);
    t->rank = r->rank;
    t->nelem = 1;
    for (int i = 0; i < r->rank; i++) {
        t->shape[i] = r->shape[i];
        t->nelem *= (uint64_t)r->shape[i];
    }
    t->bytes = t->nelem * s->es;
    t->is_norm = r->is_norm;
    return LLMC_OK;
}

/* Hugging Face names and shapes, in the order the file holds them: the family table's
 * (hf_families.c), experts one tensor each as the published checkpoints store them. */
static LlmcStatus list_tensors(Synth *s, LlmcDiag *d)
{
    if (fe_hf_tensors(&s->cfg, add_tensor, s, d))
        return LLMC_ERR;
    /* Shards of at most ~5 GB (a bigger tensor gets a shard of its own), chunks numbered globally. */
    uint64_t in_shard = 0;
    for (int i = 0; i < s->n; i++) {
        SynthTensor *t = &s->t[i];
        if (in_shard > 0 && in_shard + t->bytes > SHARD_BYTES) {
            s->n_shards++;
            in_shard = 0;
        }
        t->shard = s->n_shards;
        t->offset = in_shard;
        in_shard += t->bytes;
        t->first_chunk = s->total_chunks;
        t->n_chunks = (t->nelem + CHUNK_ELEMS - 1) / CHUNK_ELEMS;
        s->total_chunks += t->n_chunks;
        s->total_bytes += t->bytes;
    }
    s->n_shards++;
    return LLMC_OK;
}

/* bf16 with round-to-nearest-even (our values are finite: no NaN case), inlined: this runs once
 * per weight. */
static inline uint16_t to_bf16(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* Fills chunk c of tensor ti (n elements) in the output dtype, 256 values at a time. */
static void gen_chunk(const Synth *s, int ti, uint64_t c, uint64_t n, uint8_t *out)
{
    const SynthTensor *t = &s->t[ti];
    const LlmcDType dt = s->dtype;
    const float scale = (float)(WEIGHT_STD / sqrt((65536.0 * 65536.0 - 1.0) / 3.0));
    uint64_t st = chunk_seed(s->opt->seed, (uint64_t)ti, c);
    float v[256];
    for (uint64_t base = 0; base < n; base += 256) {
        size_t m = n - base < 256 ? (size_t)(n - base) : 256;
        for (size_t i = 0; i < m; i++) {
            if (t->is_norm) {
                v[i] = 1.0f;
                continue;
            }
            uint64_t r = next64(&st);
            int32_t sum = (int32_t)(r & 0xffff) + (int32_t)(r >> 16 & 0xffff) +
                          (int32_t)(r >> 32 & 0xffff) + (int32_t)(r >> 48);
            int32_t dv = sum - 131070; /* 4 * 65535 / 2 */
            v[i] = dv ? (float)dv * scale : 0.5f * scale;
        }
        uint8_t *o = out + base * s->es;
        if (dt == LLMC_F32) {
            for (size_t i = 0; i < m; i++) {
                uint32_t u;
                memcpy(&u, &v[i], 4);
                o[4 * i] = (uint8_t)u;
                o[4 * i + 1] = (uint8_t)(u >> 8);
                o[4 * i + 2] = (uint8_t)(u >> 16);
                o[4 * i + 3] = (uint8_t)(u >> 24);
            }
        } else {
            for (size_t i = 0; i < m; i++) {
                uint16_t h = dt == LLMC_F16 ? llmc_f32_to_f16(v[i]) : to_bf16(v[i]);
                o[2 * i] = (uint8_t)h;
                o[2 * i + 1] = (uint8_t)(h >> 8);
            }
        }
    }
}

/* ---- the pipeline: workers generate chunks into a ring, the caller writes them in order ---- */

typedef struct Ring {
    const Synth *s;
    int n_slots;
    uint8_t **buf;
    int64_t *ready;                   /* chunk held by each slot, -1 none */
    int64_t next_claim, written;
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv_ready, cv_space;
} Ring;

/* Global chunk k → tensor index (binary search on first_chunk). */
static int tensor_of_chunk(const Synth *s, uint64_t k)
{
    int lo = 0, hi = s->n - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (s->t[mid].first_chunk <= k)
            lo = mid;
        else
            hi = mid - 1;
    }
    /* tensors with zero chunks share first_chunk with the next one: skip to the one holding k */
    while (s->t[lo].n_chunks == 0 || k >= s->t[lo].first_chunk + s->t[lo].n_chunks)
        lo++;
    return lo;
}

static void *worker(void *arg)
{
    Ring *r = arg;
    const Synth *s = r->s;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int64_t k = r->next_claim;
        if (r->stop || (uint64_t)k >= s->total_chunks) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        r->next_claim++;
        while (!r->stop && k - r->written >= r->n_slots)
            pthread_cond_wait(&r->cv_space, &r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            return NULL;
        int ti = tensor_of_chunk(s, (uint64_t)k);
        const SynthTensor *t = &s->t[ti];
        uint64_t c = (uint64_t)k - t->first_chunk;
        uint64_t n = t->nelem - c * CHUNK_ELEMS < CHUNK_ELEMS ? t->nelem - c * CHUNK_ELEMS : CHUNK_ELEMS;
        gen_chunk(s, ti, c, n, r->buf[k % r->n_slots]);
        pthread_mutex_lock(&r->mu);
        r->ready[k % r->n_slots] = k;
        pthread_cond_broadcast(&r->cv_ready);
        pthread_mutex_unlock(&r->mu);
    }
}

/* "1.25 GB" or "31.4 MB" */
static void fmt_size(char *buf, size_t n, uint64_t bytes)
{
    if (bytes >= 1000000000ull)
        snprintf(buf, n, "%.2f GB", (double)bytes / 1e9);
    else
        snprintf(buf, n, "%.1f MB", (double)bytes / 1e6);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- small string builder for the safetensors header and the index ---- */

typedef struct Str {
    char *p;
    size_t n, cap;
    int oom;
} Str;

static void sputf(Str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sputf(Str *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->n + (size_t)k)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

static const char *st_dtype(LlmcDType t)
{
    return t == LLMC_F32 ? "F32" : t == LLMC_F16 ? "F16" : "BF16";
}

/* The 8-byte length and JSON header of shard `sh`, padded with spaces to a multiple of 8. */
static int shard_header(const Synth *s, int sh, Str *b)
{
    sputf(b, "%8s", ""); /* length placeholder */
    sputf(b, "{\"__metadata__\":{\"format\":\"pt\",\"llmc_synth_seed\":\"%llu\"}",
          (unsigned long long)s->opt->seed);
    for (int i = 0; i < s->n; i++) {
        const SynthTensor *t = &s->t[i];
        if (t->shard != sh)
            continue;
        sputf(b, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld", t->name, st_dtype(s->dtype),
              (long long)t->shape[0]);
        for (int k = 1; k < t->rank; k++)
            sputf(b, ",%lld", (long long)t->shape[k]);
        sputf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)t->offset,
              (unsigned long long)(t->offset + t->bytes));
    }
    sputf(b, "}");
    while (!b->oom && b->n % 8)
        sputf(b, " ");
    if (b->oom)
        return -1;
    uint64_t len = b->n - 8;
    for (int i = 0; i < 8; i++)
        b->p[i] = (char)(len >> (8 * i) & 0xff);
    return 0;
}

static void shard_name(const Synth *s, int sh, char *buf, size_t n)
{
    if (s->n_shards == 1)
        snprintf(buf, n, "model.safetensors");
    else
        snprintf(buf, n, "model-%05d-of-%05d.safetensors", sh + 1, s->n_shards);
}

/* Writes every shard; the caller's thread does the I/O, `threads` workers generate. */
static LlmcStatus write_weights(const Synth *s, const char *dir, int threads, LlmcDiag *d)
{
    Ring r = {.s = s};
    r.n_slots = 2 * threads + 2;
    r.buf = calloc((size_t)r.n_slots, sizeof *r.buf);
    r.ready = malloc((size_t)r.n_slots * sizeof *r.ready);
    int alloc_ok = r.buf && r.ready;
    for (int i = 0; alloc_ok && i < r.n_slots; i++) {
        r.buf[i] = malloc(CHUNK_ELEMS * s->es);
        alloc_ok = r.buf[i] != NULL;
        r.ready[i] = -1;
    }
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    if (!alloc_ok || !tid) {
        for (int i = 0; r.buf && i < r.n_slots; i++)
            free(r.buf[i]);
        free(r.buf);
        free(r.ready);
        free(tid);
        return llmc_fail(d, "%s: out of memory for the generation buffers", dir);
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv_ready, NULL);
    pthread_cond_init(&r.cv_space, NULL);
    int started = 0;
    LlmcStatus st = LLMC_OK;
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, worker, &r) != 0)
            break;
    if (!started)
        st = llmc_fail(d, "%s: cannot start generator threads", dir);

    LlmcOutFile out = {0};
    int open_shard = -1;
    uint64_t done = 0;
    double t0 = now_s(), last = t0;
    for (int ti = 0; !st && ti < s->n; ti++) {
        const SynthTensor *t = &s->t[ti];
        if (t->shard != open_shard) {
            char name[64];
            shard_name(s, t->shard, name, sizeof name);
            char *path = llmc_path_join(dir, name);
            Str h = {0};
            if (!path || shard_header(s, t->shard, &h)) {
                st = llmc_fail(d, "%s: out of memory", dir);
            } else if (!(st = llmc_out_open(&out, path, d))) {
                open_shard = t->shard;
                st = llmc_out_write(&out, h.p, h.n, d);
            }
            free(path);
            free(h.p);
        }
        for (uint64_t c = 0; !st && c < t->n_chunks; c++) {
            int64_t k = (int64_t)(t->first_chunk + c);
            int slot = (int)(k % r.n_slots);
            pthread_mutex_lock(&r.mu);
            while (r.ready[slot] != k)
                pthread_cond_wait(&r.cv_ready, &r.mu);
            pthread_mutex_unlock(&r.mu);
            uint64_t n = t->nelem - c * CHUNK_ELEMS < CHUNK_ELEMS ? t->nelem - c * CHUNK_ELEMS
                                                                   : CHUNK_ELEMS;
            st = llmc_out_write(&out, r.buf[slot], n * s->es, d);
            done += n * s->es;
            pthread_mutex_lock(&r.mu);
            r.ready[slot] = -1;
            r.written = k + 1;
            pthread_cond_broadcast(&r.cv_space);
            pthread_mutex_unlock(&r.mu);
            double tn = now_s();
            if (!s->opt->quiet && tn - last >= 0.5) {
                last = tn;
                char a[32], b[32];
                fmt_size(a, sizeof a, done);
                fmt_size(b, sizeof b, s->total_bytes);
                fprintf(stderr, "\rllmc synth: %s / %s written, %.0f MB/s   ", a, b,
                        (double)done / 1e6 / (tn - t0));
            }
        }
        int last_of_shard = ti + 1 == s->n || s->t[ti + 1].shard != t->shard;
        if (!st && last_of_shard) {
            st = llmc_out_commit(&out, 0, d);
            open_shard = -1;
        }
    }
    if (open_shard >= 0 || out.f)
        llmc_out_abort(&out);

    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_cond_broadcast(&r.cv_space);
    pthread_mutex_unlock(&r.mu);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    pthread_cond_destroy(&r.cv_space);
    pthread_cond_destroy(&r.cv_ready);
    pthread_mutex_destroy(&r.mu);
    for (int i = 0; i < r.n_slots; i++)
        free(r.buf[i]);
    free(r.buf);
    free(r.ready);
    free(tid);
    if (!st && !s->opt->quiet) {
        double dt = now_s() - t0;
        char a[32];
        fmt_size(a, sizeof a, s->total_bytes);
        fprintf(stderr, "\rllmc synth: %s of weights in %.1f s (%.0f MB/s), %d generator thread%s   \n",
                a, dt, dt > 0 ? (double)s->total_bytes / 1e6 / dt : 0.0, threads,
                threads == 1 ? "" : "s");
    }
    return st;
}

static LlmcStatus write_index(const Synth *s, const char *dir, LlmcDiag *d)
{
    char *idx = llmc_path_join(dir, "model.safetensors.index.json");
    char *single = llmc_path_join(dir, "model.safetensors");
    if (!idx || !single) {
        free(idx);
        free(single);
        return llmc_fail(d, "%s: out of memory", dir);
    }
    LlmcStatus st = LLMC_OK;
    /* A file left by an earlier run under the other layout would be picked up by importers. */
    const char *stale = s->n_shards == 1 ? idx : single;
    if (unlink(stale) != 0 && errno != ENOENT)
        st = llmc_fail(d, "%s: cannot remove the stale file: %s", stale, strerror(errno));
    if (!st && s->n_shards > 1) {
        cJSON *doc = cJSON_CreateObject();
        cJSON *meta = cJSON_AddObjectToObject(doc, "metadata");
        cJSON *map = cJSON_AddObjectToObject(doc, "weight_map");
        int ok = meta && map &&
                 cJSON_AddNumberToObject(meta, "total_size", (double)s->total_bytes) != NULL;
        for (int i = 0; ok && i < s->n; i++) {
            char name[64];
            shard_name(s, s->t[i].shard, name, sizeof name);
            ok = cJSON_AddStringToObject(map, s->t[i].name, name) != NULL;
        }
        st = ok ? llmc_json_save(idx, doc, d) : llmc_fail(d, "%s: out of memory", idx);
        cJSON_Delete(doc);
    }
    free(idx);
    free(single);
    return st;
}

/* ---- the tokenizer ---- */

enum { SP_NORMAL = 1, SP_UNKNOWN = 2, SP_CONTROL = 3, SP_BYTE = 6 };

static void sp_piece(FePb *model, FePb *sub, const char *piece, float score, int type)
{
    sub->n = 0;
    fe_pb_string_field(sub, 1, piece);
    fe_pb_float_field(sub, 2, score);
    fe_pb_varint_field(sub, 3, (uint64_t)type);
    fe_pb_message_field(model, 1, sub);
}

/* Exactly `vocab` pieces: <unk> <s> </s>, the 256 byte pieces, "▁" and printable ASCII, then
 * lowercase merges that BPE can reach one character at a time, level by level: "▁a".."▁z",
 * "aa".."zz", "▁aa".."▁zz", "aaa".."zzz", "▁aaa".., and so on, with decreasing scores. */
static LlmcStatus write_tokenizer(const char *dir, int64_t vocab, LlmcDiag *d)
{
    if (vocab < 259)
        return llmc_fail(d, "vocab_size: expected at least 259 for the synthetic tokenizer "
                         "(3 special pieces and 256 byte pieces), found %lld", (long long)vocab);
    FePb m = {0}, sub = {0};
    int64_t n = 0;
    char piece[64];
    sp_piece(&m, &sub, "<unk>", 0.0f, SP_UNKNOWN);
    sp_piece(&m, &sub, "<s>", 0.0f, SP_CONTROL);
    sp_piece(&m, &sub, "</s>", 0.0f, SP_CONTROL);
    n = 3;
    for (int b = 0; b < 256; b++, n++) {
        snprintf(piece, sizeof piece, "<0x%02X>", b);
        sp_piece(&m, &sub, piece, 0.0f, SP_BYTE);
    }
    float score = 0.0f;
    static const char sp[] = "\xe2\x96\x81"; /* U+2581, SentencePiece's space */
    if (n < vocab) {
        sp_piece(&m, &sub, sp, score, SP_NORMAL);
        score -= 1.0f;
        n++;
    }
    for (int ch = 0x21; ch < 0x7f && n < vocab; ch++, n++) {
        piece[0] = (char)ch;
        piece[1] = 0;
        sp_piece(&m, &sub, piece, score, SP_NORMAL);
        score -= 1.0f;
    }
    /* Level (len, with_space): (1, yes), (2, no), (2, yes), (3, no), (3, yes), ... */
    for (int len = 1, space = 1; n < vocab && len <= 8;) {
        int idx[8] = {0};
        for (;;) {
            size_t k = 0;
            if (space) {
                memcpy(piece, sp, 3);
                k = 3;
            }
            for (int i = 0; i < len; i++)
                piece[k++] = (char)('a' + idx[i]);
            piece[k] = 0;
            sp_piece(&m, &sub, piece, score, SP_NORMAL);
            score -= 1.0f;
            if (++n >= vocab)
                break;
            int i = len - 1; /* odometer */
            while (i >= 0 && ++idx[i] == 26)
                idx[i--] = 0;
            if (i < 0)
                break;
        }
        if (space) {
            len++;
            space = 0;
        } else {
            space = 1;
        }
    }

    FePb ts = {0}, ns = {0};
    fe_pb_varint_field(&ts, 3, 2);                  /* model_type = BPE */
    fe_pb_int32_field(&ts, 4, (int32_t)vocab);      /* vocab_size */
    fe_pb_varint_field(&ts, 35, 1);                 /* byte_fallback */
    fe_pb_int32_field(&ts, 40, 0);                  /* unk_id */
    fe_pb_int32_field(&ts, 41, 1);                  /* bos_id */
    fe_pb_int32_field(&ts, 42, 2);                  /* eos_id */
    fe_pb_int32_field(&ts, 43, -1);                 /* pad_id: none */
    fe_pb_string_field(&ns, 1, "identity");         /* name */
    fe_pb_varint_field(&ns, 3, 1);                  /* add_dummy_prefix */
    fe_pb_varint_field(&ns, 4, 0);                  /* remove_extra_whitespaces */
    fe_pb_varint_field(&ns, 5, 1);                  /* escape_whitespaces */
    fe_pb_message_field(&m, 2, &ts);
    fe_pb_message_field(&m, 3, &ns);
    LlmcStatus st;
    char *path = llmc_path_join(dir, "tokenizer.model");
    if (m.oom || sub.oom || !path)
        st = llmc_fail(d, "%s: out of memory building tokenizer.model", dir);
    else
        st = llmc_write_file_atomic(path, m.p, m.n, d);
    free(path);
    fe_pb_free(&m);
    fe_pb_free(&sub);
    fe_pb_free(&ts);
    fe_pb_free(&ns);
    return st;
}

/* ---- the whole ---- */

static LlmcStatus mkdir_p(const char *dir, LlmcDiag *d)
{
    char *p = llmc_strdup(dir);
    if (!p)
        return llmc_fail(d, "%s: out of memory", dir);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                LlmcStatus st = llmc_fail(d, "%s: cannot create directory: %s", p, strerror(errno));
                free(p);
                return st;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    if (!fe_is_dir(dir))
        return llmc_fail(d, "%s: expected a directory, found a file", dir);
    return LLMC_OK;
}

/* Creates OUT.tmp.PID (and OUT's parents); *stage gets its name. */
static LlmcStatus stage_dir(const char *out, char **stage, LlmcDiag *d)
{
    if (fe_is_dir(out) == 0 && access(out, F_OK) == 0)
        return llmc_fail(d, "%s: expected a directory, found a file", out);
    char *parent = llmc_path_dir(out);
    if (!parent)
        return llmc_fail(d, "%s: out of memory", out);
    LlmcStatus st = mkdir_p(parent, d);
    free(parent);
    if (st)
        return st;
    size_t n = strlen(out) + 32;
    *stage = malloc(n);
    if (!*stage)
        return llmc_fail(d, "%s: out of memory", out);
    snprintf(*stage, n, "%s.tmp.%ld", out, (long)getpid());
    if (mkdir(*stage, 0755) != 0) {
        st = llmc_fail(d, "%s: cannot create: %s", *stage, strerror(errno));
        free(*stage);
        *stage = NULL;
    }
    return st;
}

/* The model must fit the free space of the filesystem it goes to, with 1% and 64 MB to spare. */
static LlmcStatus check_space(const char *stage, uint64_t bytes, const char *out, LlmcDiag *d)
{
    struct statvfs v;
    if (statvfs(stage, &v) != 0)
        return LLMC_OK;   /* nothing to check against */
    uint64_t avail = (uint64_t)v.f_bavail * (uint64_t)v.f_frsize, need = bytes + bytes / 100 + (64u << 20);
    if (need > avail) {
        char a[32], b[32];
        fmt_size(a, sizeof a, bytes);
        fmt_size(b, sizeof b, avail);
        return llmc_fail(d, "%s: the model needs %s, the filesystem has %s free: nothing was written", out, a, b);
    }
    return LLMC_OK;
}

/* Moves the staged files into out: the whole directory when out does not exist yet, else file by
 * file (each replaces its namesake). */
static LlmcStatus commit_dir(const char *stage, const char *out, LlmcDiag *d)
{
    if (rename(stage, out) == 0)
        return LLMC_OK;
    if (!fe_is_dir(out))
        return llmc_fail(d, "%s: cannot move %s into place: %s", out, stage, strerror(errno));
    DIR *dp = opendir(stage);
    if (!dp)
        return llmc_fail(d, "%s: cannot read: %s", stage, strerror(errno));
    LlmcStatus st = LLMC_OK;
    for (struct dirent *e; !st && (e = readdir(dp)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *from = llmc_path_join(stage, e->d_name), *to = llmc_path_join(out, e->d_name);
        if (!from || !to)
            st = llmc_fail(d, "%s: out of memory", out);
        else if (rename(from, to) != 0)
            st = llmc_fail(d, "%s: cannot move into place: %s", to, strerror(errno));
        free(from);
        free(to);
    }
    closedir(dp);
    return st;
}

static const char *torch_dtype(LlmcDType t)
{
    return t == LLMC_F32 ? "float32" : t == LLMC_F16 ? "float16" : "bfloat16";
}

/* The config's fields the synthesized checkpoint depends on, kept as the user wrote them: bos and
 * eos ids (the defaults, 1 and 2, are the synthetic tokenizer's) and the stored dtype (torch_dtype,
 * or transformers' newer "dtype"), which sets the weights' format unless --dtype is given; a
 * --dtype that differs replaces it (the config must say what the files hold), with a note. */
static LlmcStatus config_fields(const LlmcSynthOptions *opt, cJSON *cfg, const char *cfg_name, LlmcDType *dtype,
                                LlmcDiag *d)
{
    *dtype = opt->dtype_set ? opt->dtype : LLMC_BF16;
    const char *key = !cJSON_GetObjectItemCaseSensitive(cfg, "torch_dtype") && cJSON_GetObjectItemCaseSensitive(cfg, "dtype")
                          ? "dtype" : "torch_dtype";
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (v && !cJSON_IsNull(v)) {
        LlmcDType own = LLMC_I32;
        static const LlmcDType kinds[] = {LLMC_F32, LLMC_F16, LLMC_BF16};
        for (int i = 0; i < 3; i++)
            if (cJSON_IsString(v) && strcmp(v->valuestring, torch_dtype(kinds[i])) == 0)
                own = kinds[i];
        if (own == LLMC_I32 && !opt->dtype_set)
            return llmc_fail(d, "%s: %s: expected \"float32\", \"float16\" or \"bfloat16\" for the weights to "
                             "write (or --dtype), found %s", cfg_name, key,
                             cJSON_IsString(v) ? v->valuestring : "a non-string");
        if (!opt->dtype_set)
            *dtype = own;
        else if (own != *dtype) {
            if (!opt->quiet)
                fprintf(stderr, "llmc synth: %s: %s %s replaced by %s (--dtype)\n", cfg_name, key,
                        cJSON_IsString(v) ? v->valuestring : "?", torch_dtype(*dtype));
            cJSON_DeleteItemFromObjectCaseSensitive(cfg, key);
            v = NULL;
        }
    } else
        v = NULL;
    if ((!v && !cJSON_AddStringToObject(cfg, key, torch_dtype(*dtype))) ||
        (!cJSON_GetObjectItemCaseSensitive(cfg, "bos_token_id") && !cJSON_AddNumberToObject(cfg, "bos_token_id", 1)) ||
        (!cJSON_GetObjectItemCaseSensitive(cfg, "eos_token_id") && !cJSON_AddNumberToObject(cfg, "eos_token_id", 2)))
        return llmc_fail(d, "synth: out of memory");
    return LLMC_OK;
}

LlmcStatus llmc_synth(const LlmcSynthOptions *opt, LlmcDiag *d)
{
    if (!opt->out_dir || !opt->out_dir[0])
        return llmc_fail(d, "synth: expected an output directory, found none");
    if (!opt->preset == !opt->config_path)
        return llmc_fail(d, "synth: expected either a preset or a config.json, found %s",
                         opt->preset ? "both" : "neither");
    if (opt->dtype_set && opt->dtype != LLMC_F32 && opt->dtype != LLMC_F16 && opt->dtype != LLMC_BF16)
        return llmc_fail(d, "synth: dtype: expected f32, f16 or bf16, found %s",
                         llmc_dtype_name(opt->dtype));

    cJSON *cfg = NULL;
    const char *cfg_name;
    if (opt->preset) {
        const Preset *p = preset_find(opt->preset);
        if (!p) {
            char names[512] = "";
            for (size_t i = 0; i < N_PRESETS; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", presets[i].name);
            return llmc_fail(d, "synth: preset: expected one of %s, found '%s'", names, opt->preset);
        }
        cfg = cJSON_Parse(p->config);
        if (!cfg)
            return llmc_fail(d, "synth: out of memory");
        cfg_name = opt->preset;
    } else {
        if (llmc_json_load(opt->config_path, &cfg, d))
            return LLMC_ERR;
        if (!cJSON_IsObject(cfg)) {
            cJSON_Delete(cfg);
            return llmc_fail(d, "%s: expected a JSON object (a Hugging Face config.json)",
                             opt->config_path);
        }
        cfg_name = opt->config_path;
    }
    LlmcDType dtype;
    if (config_fields(opt, cfg, cfg_name, &dtype, d)) {
        cJSON_Delete(cfg);
        return LLMC_ERR;
    }

    Synth s = {.opt = opt, .dtype = dtype, .es = llmc_dtype_size(dtype)};
    LlmcStatus st = fe_hf_parse_config(cfg, cfg_name, &s.cfg, d);
    if (!st && s.cfg.vocab < 259)
        st = llmc_fail(d, "%s: vocab_size: expected at least 259 for the synthetic tokenizer, "
                       "found %lld", cfg_name, (long long)s.cfg.vocab);
    if (!st)
        st = list_tensors(&s, d);
    /* Everything is written into DIR.tmp.PID, then moved into DIR: a failure (a full disk) or an
     * interrupt (the driver removes DIR.tmp.PID) leaves no partial directory. */
    char *stage = NULL;
    if (!st)
        st = stage_dir(opt->out_dir, &stage, d);
    if (!st)
        st = check_space(stage, s.total_bytes, opt->out_dir, d);
    if (!st)
        st = write_tokenizer(stage, s.cfg.vocab, d);
    if (!st) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        int threads = n < 2 ? 2 : n > 8 ? 8 : (int)n;
        if (!opt->quiet) {
            char a[32];
            fmt_size(a, sizeof a, s.total_bytes);
            fprintf(stderr, "llmc synth: %s: %d tensors, %s %s in %d file%s -> %s\n", cfg_name, s.n,
                    a, llmc_dtype_name(dtype), s.n_shards, s.n_shards == 1 ? "" : "s",
                    opt->out_dir);
        }
        st = write_weights(&s, stage, threads, d);
    }
    if (!st)
        st = write_index(&s, stage, d);
    if (!st) {
        char *path = llmc_path_join(stage, "config.json");
        st = path ? llmc_json_save(path, cfg, d) : llmc_fail(d, "synth: out of memory");
        free(path);
    }
    if (!st)
        st = commit_dir(stage, opt->out_dir, d);
    if (stage)
        llmc_remove_tree(stage);
    free(stage);
    free(s.t);
    cJSON_Delete(cfg);
    return st;
}
