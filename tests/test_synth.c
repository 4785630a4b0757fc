/* test_synth.c — the random-weight checkpoint synthesizer: reproducible bytes, the weight
 * statistics it promises (normal-ish, std 0.02, never zero; norms exactly 1.0), a well-formed
 * SentencePiece tokenizer.model (decoded here with a small protobuf reader), and directories the
 * Hugging Face importer accepts, from a preset or from a config.json.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "testutil.h"

static char *path_in(const char *dir, const char *name)
{
    static char buf[8][1024];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, 1024, "%s/%s", dir, name);
    return b;
}

static uint8_t *read_all(const char *path, size_t *n)
{
    char *data;
    LlmcDiag d;
    ck_assert_msg(llmc_read_file(path, &data, n, &d) == LLMC_OK, "%s", d.msg);
    return (uint8_t *)data;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *x = read_all(a, &na), *y = read_all(b, &nb);
    int same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void synth(const char *preset, const char *config, const char *dir, uint64_t seed,
                  LlmcDType dt)
{
    LlmcSynthOptions o = {.preset = preset, .config_path = config, .out_dir = dir, .seed = seed,
                          .dtype = dt, .dtype_set = 1, .quiet = 1};
    LlmcDiag d;
    ck_assert_msg(llmc_synth(&o, &d) == LLMC_OK, "%s", d.msg);
}

static float elem(const LlmcStTensor *t, uint64_t i)
{
    const uint8_t *p = t->data;
    if (t->dtype == LLMC_F32) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
    return t->dtype == LLMC_F16 ? llmc_f16_to_f32(h) : llmc_bf16_to_f32(h);
}

/* Every weight non-zero with mean ~0 and std ~0.02 overall; every norm exactly 1.0. (Plain ifs in
 * the loops: each Check assertion talks to the parent process.) */
static void check_stats(const char *st_path, LlmcDType want)
{
    LlmcSafetensors st;
    LlmcDiag d;
    ck_assert_msg(llmc_st_open(&st, st_path, &d) == LLMC_OK, "%s", d.msg);
    double sum = 0, sq = 0, n = 0, maxabs = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const LlmcStTensor *t = &st.tensors[i];
        ck_assert_int_eq(t->dtype, want);
        uint64_t ne = t->size / llmc_dtype_size(t->dtype);
        int is_norm = strstr(t->name, "norm") != NULL;
        for (uint64_t k = 0; k < ne; k++) {
            float v = elem(t, k);
            if (is_norm) {
                if (v != 1.0f)
                    ck_abort_msg("%s[%llu] = %g", t->name, (unsigned long long)k, v);
                continue;
            }
            if (v == 0.0f || !isfinite(v))
                ck_abort_msg("%s[%llu] = %g", t->name, (unsigned long long)k, v);
            sum += v;
            sq += (double)v * v;
            n++;
            if (fabs(v) > maxabs)
                maxabs = fabs(v);
        }
    }
    double mean = sum / n, sd = sqrt(sq / n - mean * mean);
    ck_assert_msg(fabs(mean) < 0.0005, "mean %g", mean);
    ck_assert_msg(fabs(sd - 0.02) < 0.0005, "std %g", sd);
    ck_assert_msg(maxabs < 0.02 * 3.5, "max |w| %g", maxabs); /* Irwin-Hall(4) tails stop at 3.46 sd */
    llmc_st_close(&st);
}

/* ---- a small protobuf reader for tokenizer.model ---- */

typedef struct Pb {
    const uint8_t *p, *end;
} Pb;

static uint64_t rd_varint(Pb *b)
{
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        if (b->p >= b->end)
            ck_abort_msg("truncated varint");
        uint8_t c = *b->p++;
        v |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80))
            return v;
    }
    ck_abort_msg("varint too long");
    return 0;
}

/* Next field: returns its number (0 at the end), wire type in *wire, the varint value or the
 * bytes (sub) of a length-delimited field. */
static int rd_field(Pb *b, int *wire, uint64_t *v, Pb *sub)
{
    if (b->p >= b->end)
        return 0;
    uint64_t key = rd_varint(b);
    *wire = (int)(key & 7);
    if (*wire == 0) {
        *v = rd_varint(b);
    } else if (*wire == 2) {
        uint64_t n = rd_varint(b);
        if (n > (uint64_t)(b->end - b->p))
            ck_abort_msg("field of %llu bytes runs past the message", (unsigned long long)n);
        sub->p = b->p;
        sub->end = b->p + n;
        b->p += n;
    } else if (*wire == 5) {
        if (b->end - b->p < 4)
            ck_abort_msg("truncated fixed32");
        uint32_t u = (uint32_t)(b->p[0] | b->p[1] << 8 | b->p[2] << 16 | (uint32_t)b->p[3] << 24);
        *v = u;
        b->p += 4;
    } else {
        ck_abort_msg("unexpected wire type %d", *wire);
    }
    return (int)(key >> 3);
}

static void check_tokenizer(const char *path, int vocab)
{
    size_t n;
    uint8_t *data = read_all(path, &n);
    Pb b = {data, data + n}, sub;
    int wire, f, pieces = 0, unk = -1, saw_trainer = 0, saw_norm = 0;
    uint64_t v;
    char prev_piece[64] = "";
    float prev_score = 1e30f;
    int types[8] = {0};
    while ((f = rd_field(&b, &wire, &v, &sub))) {
        if (f == 1) { /* SentencePiece */
            ck_assert_int_eq(wire, 2);
            char piece[64] = "";
            int type = 1, g;
            float score = 0;
            Pb s2;
            while ((g = rd_field(&sub, &wire, &v, &s2))) {
                if (g == 1) {
                    size_t len = (size_t)(s2.end - s2.p);
                    if (len == 0 || len >= sizeof piece)
                        ck_abort_msg("piece %d: length %zu", pieces, len);
                    memcpy(piece, s2.p, len);
                    piece[len] = 0;
                } else if (g == 2) {
                    uint32_t u = (uint32_t)v;
                    memcpy(&score, &u, 4);
                } else if (g == 3) {
                    type = (int)v;
                }
            }
            if (type < 1 || type > 6)
                ck_abort_msg("piece %d: type %d", pieces, type);
            types[type]++;
            if (pieces == 0) {
                ck_assert_str_eq(piece, "<unk>");
                unk = type;
            }
            if (pieces == 1)
                ck_assert_str_eq(piece, "<s>");
            if (pieces == 2)
                ck_assert_str_eq(piece, "</s>");
            if (pieces == 3)
                ck_assert_str_eq(piece, "<0x00>");
            if (pieces == 258)
                ck_assert_str_eq(piece, "<0xFF>");
            if (pieces == 259)
                ck_assert_str_eq(piece, "\xe2\x96\x81");
            if (type == 1) { /* normal pieces: strictly decreasing scores, no repeats */
                if (!(score < prev_score) || strcmp(piece, prev_piece) == 0)
                    ck_abort_msg("%s (%g) after %s (%g)", piece, score, prev_piece, prev_score);
                prev_score = score;
                snprintf(prev_piece, sizeof prev_piece, "%s", piece);
            }
            pieces++;
        } else if (f == 2) { /* TrainerSpec */
            saw_trainer = 1;
            int g;
            Pb s2;
            while ((g = rd_field(&sub, &wire, &v, &s2))) {
                if (g == 3)
                    ck_assert_uint_eq(v, 2); /* BPE */
                if (g == 4)
                    ck_assert_uint_eq(v, (uint64_t)vocab);
                if (g == 35)
                    ck_assert_uint_eq(v, 1); /* byte_fallback */
                if (g == 41)
                    ck_assert_uint_eq(v, 1);
                if (g == 42)
                    ck_assert_uint_eq(v, 2);
                if (g == 43)
                    ck_assert_uint_eq(v, UINT64_MAX); /* -1 */
            }
        } else if (f == 3) { /* NormalizerSpec */
            saw_norm = 1;
            int g;
            Pb s2;
            while ((g = rd_field(&sub, &wire, &v, &s2))) {
                if (g == 1)
                    ck_assert(s2.end - s2.p == 8 && memcmp(s2.p, "identity", 8) == 0);
                if (g == 3)
                    ck_assert_uint_eq(v, 1);
                if (g == 4)
                    ck_assert_uint_eq(v, 0);
            }
        }
    }
    ck_assert_int_eq(pieces, vocab);
    ck_assert_int_eq(unk, 2);     /* UNKNOWN */
    ck_assert_int_eq(types[3], 2); /* CONTROL: <s> </s> */
    ck_assert_int_eq(types[6], 256);
    ck_assert_int_eq(types[1], vocab - 259);
    ck_assert(saw_trainer && saw_norm);
    free(data);
}

/* ---- tests ---- */

START_TEST(synth_reproducible)
{
    const char *a = tu_tmpdir(), *b = tu_tmpdir(), *c = tu_tmpdir();
    synth("stories260K", NULL, a, 7, LLMC_BF16);
    synth("stories260K", NULL, b, 7, LLMC_BF16);
    synth("stories260K", NULL, c, 8, LLMC_BF16);
    const char *files[] = {"model.safetensors", "tokenizer.model", "config.json"};
    for (int i = 0; i < 3; i++) {
        char pa[1024];
        snprintf(pa, sizeof pa, "%s", path_in(a, files[i]));
        ck_assert_msg(same_file(pa, path_in(b, files[i])), "%s differs between equal seeds", files[i]);
    }
    ck_assert(!same_file(path_in(a, "model.safetensors"), path_in(c, "model.safetensors")));
    ck_assert(same_file(path_in(a, "tokenizer.model"), path_in(c, "tokenizer.model")));
    /* a second run into the same directory replaces the files */
    synth("stories260K", NULL, a, 8, LLMC_BF16);
    ck_assert(same_file(path_in(a, "model.safetensors"), path_in(c, "model.safetensors")));
}
END_TEST

START_TEST(synth_stories260K_imports)
{
    const char *dir = tu_tmpdir();
    synth("stories260K", NULL, dir, 1, LLMC_BF16);
    check_stats(path_in(dir, "model.safetensors"), LLMC_BF16);
    check_tokenizer(path_in(dir, "tokenizer.model"), 512);

    cJSON *m;
    LlmcDiag d;
    ck_assert_msg(llmc_import_hf(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    const cJSON *cfg = cJSON_GetObjectItem(m, "config");
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "dim")->valueint, 64);
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "ffn_dim")->valueint, 172);
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "n_layers")->valueint, 5);
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "n_heads")->valueint, 8);
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "n_kv_heads")->valueint, 4);
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "vocab_size")->valueint, 512);
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "max_seq_len")->valueint, 512);
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "bos_id")->valueint, 1);
    ck_assert_int_eq(cJSON_GetObjectItem(cfg, "eos_id")->valueint, 2);
    const cJSON *w = cJSON_GetObjectItem(m, "weights");
    ck_assert_int_eq(cJSON_GetArraySize(w), 47);
    ck_assert_ptr_null(cJSON_GetObjectItem(w, "output")); /* tied */
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "layers.2.wk"), "dtype")->valuestring,
                     "bf16");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "tokenizer"), "format")->valuestring,
                     "sentencepiece");
    cJSON_Delete(m);
}
END_TEST

/* Tensors larger than one generation chunk (2^20 elements), a 32000-piece vocabulary, f16. */
START_TEST(synth_stories15M_f16)
{
    const char *dir = tu_tmpdir();
    synth("stories15M", NULL, dir, 3, LLMC_F16);
    check_stats(path_in(dir, "model.safetensors"), LLMC_F16);
    check_tokenizer(path_in(dir, "tokenizer.model"), 32000);
    cJSON *m;
    LlmcDiag d;
    ck_assert_msg(llmc_import_hf(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    const cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"), "tok_embeddings");
    ck_assert_str_eq(cJSON_GetObjectItem(e, "dtype")->valuestring, "f16");
    ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "shape"), 0)->valueint, 32000);
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "config"), "head_dim")->valueint, 48);
    cJSON_Delete(m);
}
END_TEST

START_TEST(synth_from_config)
{
    const char *dir = tu_tmpdir(), *out = tu_tmpdir();
    const char *cfg = path_in(dir, "config.json");
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 32,"
          " \"intermediate_size\": 48, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
          " \"num_key_value_heads\": 2, \"vocab_size\": 400, \"max_position_embeddings\": 128,"
          " \"sliding_window\": 64, \"attention_bias\": true, \"tie_word_embeddings\": false,"
          " \"bos_token_id\": 9, \"eos_token_id\": [10, 11], \"rms_norm_eps\": 1e-6}\n", f);
    fclose(f);
    synth(NULL, cfg, out, 5, LLMC_F32);
    check_stats(path_in(out, "model.safetensors"), LLMC_F32);
    check_tokenizer(path_in(out, "tokenizer.model"), 400);
    cJSON *m;
    LlmcDiag d;
    ck_assert_msg(llmc_import_hf(out, out, &m, &d) == LLMC_OK, "%s", d.msg);
    const cJSON *c = cJSON_GetObjectItem(m, "config");
    ck_assert_int_eq(cJSON_GetObjectItem(c, "bos_id")->valueint, 9); /* the config's, kept */
    const cJSON *ids = cJSON_GetObjectItem(c, "eos_id"); /* the config's list, kept whole */
    ck_assert(cJSON_IsArray(ids) && cJSON_GetArraySize(ids) == 2);
    ck_assert_int_eq(cJSON_GetArrayItem(ids, 0)->valueint, 10);
    ck_assert_int_eq(cJSON_GetArrayItem(ids, 1)->valueint, 11);
    ck_assert_str_eq(cJSON_GetObjectItem(c, "architecture")->valuestring, "MistralForCausalLM");
    const cJSON *w = cJSON_GetObjectItem(m, "weights");
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(w, "output"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(w, "layers.1.bq"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(w, "layers.1.bv"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(w, "layers.1.bo"));
    const cJSON *block = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "graph"),
                                                                 "layers"), "block");
    const cJSON *q = cJSON_GetArrayItem(block, 1);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(q, "in")), 3);
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(q, "in"), 2)->valuestring,
                     "@layers.{i}.bq");
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(block, 6), "window")->valueint, 64);
    cJSON_Delete(m);

    cJSON *written;
    ck_assert(llmc_json_load(path_in(out, "config.json"), &written, &d) == LLMC_OK);
    ck_assert_str_eq(cJSON_GetObjectItem(written, "torch_dtype")->valuestring, "float32");
    ck_assert_int_eq(cJSON_GetObjectItem(written, "sliding_window")->valueint, 64);
    ck_assert_int_eq(cJSON_GetObjectItem(written, "bos_token_id")->valueint, 9);
    const cJSON *eos = cJSON_GetObjectItem(written, "eos_token_id");   /* a list stays a list */
    ck_assert(cJSON_IsArray(eos) && cJSON_GetArraySize(eos) == 2 && cJSON_GetArrayItem(eos, 1)->valueint == 11);
    cJSON_Delete(written);
}
END_TEST

/* The config's torch_dtype (or dtype) sets the weights' format unless --dtype is given; a --dtype
 * that differs replaces it; one that names no format we write is refused without --dtype. Absent
 * bos/eos ids get the synthetic tokenizer's. */
START_TEST(synth_config_dtype)
{
    static const struct {
        const char *field;           /* the dtype field of the config, "" for none */
        int dtype_set;
        LlmcDType dtype, want;
        const char *key, *written;   /* the field written */
    } cases[] = {
        {"\"torch_dtype\": \"float16\"", 0, LLMC_BF16, LLMC_F16, "torch_dtype", "float16"},
        {"\"dtype\": \"float32\"", 0, LLMC_BF16, LLMC_F32, "dtype", "float32"},
        {"", 0, LLMC_F32, LLMC_BF16, "torch_dtype", "bfloat16"},
        {"\"torch_dtype\": \"float16\"", 1, LLMC_F32, LLMC_F32, "torch_dtype", "float32"},
        {"\"torch_dtype\": \"int8\"", 1, LLMC_F16, LLMC_F16, "torch_dtype", "float16"},
        {"\"torch_dtype\": \"int8\"", 0, LLMC_F16, LLMC_I32, NULL, "torch_dtype: expected \"float32\", \"float16\" or \"bfloat16\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *dir = tu_tmpdir();
        char out[1024];
        snprintf(out, sizeof out, "%s/m", tu_tmpdir());
        const char *cfg = path_in(dir, "config.json");
        FILE *f = fopen(cfg, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 32, \"intermediate_size\": 48,"
                   " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"vocab_size\": 300,"
                   " \"max_position_embeddings\": 64%s%s}\n", cases[i].field[0] ? ", " : "", cases[i].field);
        fclose(f);
        LlmcSynthOptions o = {.config_path = cfg, .out_dir = out, .seed = 1, .dtype = cases[i].dtype,
                              .dtype_set = cases[i].dtype_set, .quiet = 1};
        LlmcDiag d;
        if (!cases[i].key) {
            ck_assert_int_eq(llmc_synth(&o, &d), LLMC_ERR);
            ck_assert_msg(strstr(d.msg, cases[i].written), "case %zu: %s", i, d.msg);
            continue;
        }
        ck_assert_msg(llmc_synth(&o, &d) == LLMC_OK, "case %zu: %s", i, d.msg);
        check_stats(path_in(out, "model.safetensors"), cases[i].want);
        cJSON *written;
        ck_assert(llmc_json_load(path_in(out, "config.json"), &written, &d) == LLMC_OK);
        ck_assert_str_eq(cJSON_GetObjectItem(written, cases[i].key)->valuestring, cases[i].written);
        ck_assert_int_eq(cJSON_GetObjectItem(written, "bos_token_id")->valueint, 1);
        ck_assert_int_eq(cJSON_GetObjectItem(written, "eos_token_id")->valueint, 2);
        cJSON_Delete(written);
    }
}
END_TEST

START_TEST(synth_refused)
{
    const char *dir = tu_tmpdir();
    LlmcDiag d;
    LlmcSynthOptions o = {.preset = "llama9-1t", .out_dir = dir, .dtype = LLMC_BF16, .dtype_set = 1, .quiet = 1};
    ck_assert_int_eq(llmc_synth(&o, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "llama9-1t") && strstr(d.msg, "stories260K"), "%s", d.msg);
    o.preset = NULL;
    ck_assert_int_eq(llmc_synth(&o, &d), LLMC_ERR);
    o.config_path = path_in(dir, "missing.json");
    ck_assert_int_eq(llmc_synth(&o, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "missing.json"), "%s", d.msg);
    const char *cfg = path_in(dir, "config.json");
    FILE *f = fopen(cfg, "w");
    fputs("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 32,"
          " \"intermediate_size\": 48, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
          " \"num_key_value_heads\": 3, \"vocab_size\": 400, \"max_position_embeddings\": 128}", f);
    fclose(f);
    o.config_path = cfg;
    ck_assert_int_eq(llmc_synth(&o, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "config.json: num_key_value_heads"), "%s", d.msg);
    f = fopen(cfg, "w");
    fputs("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 32,"
          " \"intermediate_size\": 48, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
          " \"vocab_size\": 100, \"max_position_embeddings\": 128}", f);
    fclose(f);
    ck_assert_int_eq(llmc_synth(&o, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "vocab_size") && strstr(d.msg, "259"), "%s", d.msg);
    o.config_path = NULL;
    o.preset = "stories260K";
    o.dtype = LLMC_I32;
    ck_assert_int_eq(llmc_synth(&o, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "dtype"), "%s", d.msg);
    o.dtype = LLMC_BF16;
    o.out_dir = cfg; /* a file, not a directory */
    ck_assert_int_eq(llmc_synth(&o, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "config.json"), "%s", d.msg);

    const char *const *names = llmc_synth_presets();
    int n = 0;
    while (names[n])
        n++;
    ck_assert_int_eq(n, 11);
}
END_TEST

/* Every preset's config.json text parses and its family's importer takes it: the model it names,
 * with the shapes of its publisher's config (a few spot checks). */
START_TEST(synth_presets_import)
{
    const char *const *names = llmc_synth_presets();
    for (int i = 0; names[i]; i++) {
        cJSON *cfg = llmc_synth_preset_config(names[i]), *doc = NULL;
        ck_assert_msg(cfg != NULL, "preset %s: its config.json text does not parse", names[i]);
        LlmcDiag d;
        ck_assert_msg(llmc_hf_config_model(cfg, names[i], LLMC_BF16, &doc, &d) == LLMC_OK, "preset %s: %s", names[i],
                      d.msg);
        cJSON_Delete(doc);
        cJSON_Delete(cfg);
    }
    ck_assert_ptr_null(llmc_synth_preset_config("llama-7b"));
    struct {
        const char *name, *key;
        double v;
    } spot[] = {{"qwen3-30b-a3b", "num_experts", 128},   {"qwen3-30b-a3b", "moe_intermediate_size", 768},
                {"mixtral-8x7b", "num_local_experts", 8}, {"gemma-2-9b", "head_dim", 256},
                {"phi-3-mini", "vocab_size", 32064},      {"qwen2.5-7b", "intermediate_size", 18944},
                {"qwen3-8b", "num_hidden_layers", 36},    {"llama3.1-8b", "intermediate_size", 14336}};
    for (size_t i = 0; i < sizeof spot / sizeof spot[0]; i++) {
        cJSON *cfg = llmc_synth_preset_config(spot[i].name);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, spot[i].key);
        ck_assert_msg(cJSON_IsNumber(v) && v->valuedouble == spot[i].v, "%s: %s", spot[i].name, spot[i].key);
        cJSON_Delete(cfg);
    }
}
END_TEST

/* The 70B preset (issue 15's --tp shapes): its config.json has Llama 3.1 70B's shapes, and the importer
 * takes it (the config only: its 140 GB of weights are never synthesized in a test). */
START_TEST(synth_preset_llama70b)
{
    cJSON *cfg = llmc_synth_preset_config("llama3.1-70b"), *doc = NULL;
    ck_assert_ptr_nonnull(cfg);
    struct {
        const char *key;
        double v;
    } want[] = {{"hidden_size", 8192},        {"num_hidden_layers", 80},   {"num_attention_heads", 64},
                {"num_key_value_heads", 8},   {"intermediate_size", 28672}, {"vocab_size", 128256},
                {"head_dim", 128},            {"rope_theta", 500000}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, want[i].key);
        ck_assert_msg(cJSON_IsNumber(v) && v->valuedouble == want[i].v, "llama3.1-70b: %s", want[i].key);
    }
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cfg, "tie_word_embeddings")));
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(cfg, "rope_scaling");
    ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rs, "rope_type")));
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(rs, "rope_type")->valuestring, "llama3");
    ck_assert(cJSON_GetObjectItemCaseSensitive(rs, "factor")->valuedouble == 8);
    LlmcDiag d;
    ck_assert_msg(llmc_hf_config_model(cfg, "llama3.1-70b", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    char *text = cJSON_PrintUnformatted(doc);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "28672") && strstr(text, "128256"), "the model.json lacks the 70B's shapes");
    free(text);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("synth");
    TCase *t = tcase_create("synth");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, synth_reproducible);
    tcase_add_test(t, synth_stories260K_imports);
    tcase_add_test(t, synth_stories15M_f16);
    tcase_add_test(t, synth_from_config);
    tcase_add_test(t, synth_config_dtype);
    tcase_add_test(t, synth_refused);
    tcase_add_test(t, synth_presets_import);
    tcase_add_test(t, synth_preset_llama70b);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_main(suite()); }
