/* test_frontend.c — the readers and importers: JSON errors with line:column, the safetensors reader
 * against malformed files built here, weight binding resolution, llama2.c checkpoints (legacy and
 * version 1, the latter built from the legacy stories260K), Hugging Face directories (debdocs-32M
 * and small hand-made ones with one thing wrong), and model.json path rebasing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend.h"
#include "testutil.h"

/* ---- helpers ---- */

static char *path_in(const char *dir, const char *name)
{
    static char buf[8][1024];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, 1024, "%s/%s", dir, name);
    return b;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    if (n)
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

static uint8_t *read_all(const char *path, size_t *n)
{
    char *data;
    LlmcDiag d;
    ck_assert_msg(llmc_read_file(path, &data, n, &d) == LLMC_OK, "%s", d.msg);
    return (uint8_t *)data;
}

/* A safetensors file: the given header text, then data_size bytes (byte i = i & 0xff). */
static void write_st(const char *path, const char *header, size_t data_size)
{
    size_t hn = strlen(header);
    uint8_t *buf = malloc(8 + hn + data_size + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(buf + 8, header, hn);
    for (size_t i = 0; i < data_size; i++)
        buf[8 + hn + i] = (uint8_t)i;
    write_bytes(path, buf, 8 + hn + data_size);
    free(buf);
}

#define ASSERT_ERR(status, diag, ...)                                                            \
    do {                                                                                         \
        ck_assert_msg((status) == LLMC_ERR, "expected an error");                                \
        const char *subs_[] = {__VA_ARGS__};                                                     \
        for (size_t i_ = 0; i_ < sizeof subs_ / sizeof subs_[0]; i_++)                           \
            ck_assert_msg(strstr((diag).msg, subs_[i_]) != NULL, "message '%s' lacks '%s'",     \
                          (diag).msg, subs_[i_]);                                                \
    } while (0)

static const char *GOOD_HEADER =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
    "\"c\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[32,32]}}";

/* ---- JSON ---- */

START_TEST(json_syntax_error_line_col)
{
    const char *dir = tu_tmpdir();
    const char *p = path_in(dir, "bad.json");
    write_text(p, "{\n  \"a\": 1,\n  \"b\": [1, 2,, 3]\n}\n");
    cJSON *doc = (cJSON *)1;
    LlmcDiag d;
    ASSERT_ERR(llmc_json_load(p, &doc, &d), d, "bad.json:3:", "JSON syntax error near");
    ck_assert_ptr_null(doc);
    /* the column points into line 3, after "  \"b\": [1, 2," */
    int line = 0, col = 0;
    const char *m = strstr(d.msg, "bad.json:");
    ck_assert_int_eq(sscanf(m, "bad.json:%d:%d:", &line, &col), 2);
    ck_assert_int_eq(line, 3);
    ck_assert_int_ge(col, 13);
    ck_assert_int_le(col, 15);

    write_text(p, "{\"a\": [1, 2");
    ASSERT_ERR(llmc_json_load(p, &doc, &d), d, "bad.json:1:", "end of file");
    write_text(p, "{\"a\": 1} trailing");
    ASSERT_ERR(llmc_json_load(p, &doc, &d), d, "bad.json:1:10:", "trailing");
    ASSERT_ERR(llmc_json_load(path_in(dir, "missing.json"), &doc, &d), d, "missing.json");
}
END_TEST

START_TEST(json_save_roundtrip)
{
    const char *p = path_in(tu_tmpdir(), "out.json");
    cJSON *doc = cJSON_Parse("{\"x\": [1, 2, 3], \"y\": {\"z\": \"w\"}, \"e\": 1e-5}");
    LlmcDiag d;
    ck_assert_msg(llmc_json_save(p, doc, &d) == LLMC_OK, "%s", d.msg);
    size_t n;
    uint8_t *text = read_all(p, &n);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(text[n - 1], '\n');
    cJSON *back;
    ck_assert_msg(llmc_json_load(p, &back, &d) == LLMC_OK, "%s", d.msg);
    ck_assert(cJSON_Compare(doc, back, 1));
    free(text);
    cJSON_Delete(doc);
    cJSON_Delete(back);
}
END_TEST

/* ---- safetensors ---- */

START_TEST(st_good_file)
{
    const char *p = path_in(tu_tmpdir(), "good.safetensors");
    write_st(p, GOOD_HEADER, 32);
    LlmcSafetensors st;
    LlmcDiag d;
    ck_assert_msg(llmc_st_open(&st, p, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_int_eq(st.n_tensors, 3);
    const LlmcStTensor *a = llmc_st_find(&st, "a"), *b = llmc_st_find(&st, "b");
    const LlmcStTensor *c = llmc_st_find(&st, "c");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(llmc_st_find(&st, "__metadata__"));
    ck_assert_ptr_null(llmc_st_find(&st, "zz"));
    ck_assert_int_eq(a->dtype, LLMC_F32);
    ck_assert_int_eq(a->rank, 2);
    ck_assert_int_eq(a->shape[0], 2);
    ck_assert_int_eq(a->shape[1], 3);
    ck_assert_uint_eq(a->size, 24);
    ck_assert_int_eq(b->dtype, LLMC_BF16);
    ck_assert_uint_eq(b->size, 8);
    ck_assert_int_eq(b->data[0], 24); /* byte i of the data area holds i */
    ck_assert_int_eq(a->data[5], 5);
    ck_assert_int_eq(c->dtype, LLMC_F16);
    ck_assert_uint_eq(c->size, 0);
    llmc_st_close(&st);
}
END_TEST

/* Each malformed file is refused naming the file and the tensor or field. */
START_TEST(st_malformed)
{
    const char *dir = tu_tmpdir();
    LlmcSafetensors st;
    LlmcDiag d;
    const char *p;

    p = path_in(dir, "empty.safetensors");
    write_bytes(p, "", 0);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "empty.safetensors", "0 bytes");

    p = path_in(dir, "short.safetensors");
    write_bytes(p, "\x10\x00\x00", 3);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "short.safetensors", "header length");

    /* a whole good file cut short: the last tensor's bytes are missing */
    p = path_in(dir, "truncated.safetensors");
    write_st(p, GOOD_HEADER, 30);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "truncated.safetensors", "'b'", "[24, 32]",
               "past the end of the data area (30 bytes)");

    /* the header length runs past the end of the file */
    p = path_in(dir, "hlen.safetensors");
    write_bytes(p, "\xe8\x03\x00\x00\x00\x00\x00\x00{}", 10);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "hlen.safetensors", "header length 1000",
               "past the end of the file (10 bytes)");

    p = path_in(dir, "garbage.safetensors");
    write_st(p, "{this is not json}", 0);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "garbage.safetensors", "not valid JSON");

    p = path_in(dir, "random.safetensors");
    write_bytes(p, "\x93\x4e\x0a\xff\x12\x34\x56\x78garbage garbage", 23);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "random.safetensors", "header length");

    p = path_in(dir, "array.safetensors");
    write_st(p, "[1, 2]", 0);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "array.safetensors", "expected a JSON object");

    p = path_in(dir, "dtype.safetensors");
    write_st(p, "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "dtype.safetensors", "'ids'", "I64");

    p = path_in(dir, "fp8.safetensors");
    write_st(p, "{\"w\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "fp8.safetensors", "'w'", "F8_E5M2");

    p = path_in(dir, "offsets.safetensors");
    write_st(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[60],\"data_offsets\":[0,240]}}", 24);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "offsets.safetensors", "'x'", "[0, 240]",
               "past the end");

    p = path_in(dir, "backwards.safetensors");
    write_st(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 24);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "backwards.safetensors", "'x'", "begin is past end");

    p = path_in(dir, "overlap.safetensors");
    write_st(p,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[16,24]}}",
             24);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "overlap.safetensors", "'a'", "'b'", "overlap");

    p = path_in(dir, "lying.safetensors");
    write_st(p, "{\"x.weight\":{\"dtype\":\"F32\",\"shape\":[5,6],\"data_offsets\":[0,100]}}", 100);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d,
               "lying.safetensors: tensor 'x.weight': data_offsets [0, 100] hold 100 bytes, "
               "shape [5, 6] f32 needs 120");

    p = path_in(dir, "float_shape.safetensors");
    write_st(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2.5,2],\"data_offsets\":[0,20]}}", 20);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "float_shape.safetensors", "'x'", "shape[0]", "2.5");

    p = path_in(dir, "neg_shape.safetensors");
    write_st(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "neg_shape.safetensors", "'x'", "shape[0]", "-1");

    p = path_in(dir, "str_shape.safetensors");
    write_st(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":\"4\",\"data_offsets\":[0,16]}}", 16);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "str_shape.safetensors", "'x'", "shape");

    p = path_in(dir, "rank.safetensors");
    write_st(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
             4);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "rank.safetensors", "'x'", "at most 8");

    p = path_in(dir, "no_offsets.safetensors");
    write_st(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
    ASSERT_ERR(llmc_st_open(&st, p, &d), d, "no_offsets.safetensors", "'x'", "data_offsets");

    ASSERT_ERR(llmc_st_open(&st, path_in(dir, "nonexistent.safetensors"), &d), d,
               "nonexistent.safetensors");
}
END_TEST

/* ---- weight bindings ---- */

START_TEST(wf_resolve_bindings)
{
    const char *dir = tu_tmpdir();
    const char *p = path_in(dir, "w.safetensors");
    write_st(p, GOOD_HEADER, 32);
    LlmcWeightFiles *wf = llmc_wf_new();
    LlmcDiag d;
    const uint8_t *data, *again;
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s4[1] = {4};
    ck_assert_msg(llmc_wf_resolve(wf, p, "a", 0, LLMC_F32, 2, s23, &data, "model.json: weights.a",
                                  &d) == LLMC_OK, "%s", d.msg);
    ck_assert_int_eq(data[7], 7);
    ck_assert(llmc_wf_resolve(wf, p, "a", 0, LLMC_F32, 2, s23, &again, "w", &d) == LLMC_OK);
    ck_assert_ptr_eq(data, again); /* one mapping per file */
    ck_assert(llmc_wf_resolve(wf, p, "b", 0, LLMC_BF16, 1, s4, &data, "w", &d) == LLMC_OK);
    ck_assert_int_eq(data[0], 24);
    ASSERT_ERR(llmc_wf_resolve(wf, p, "a", 0, LLMC_F32, 2, s32, &data, "model.json: weights.a", &d),
               d, "model.json: weights.a", "'a'", "expected [3, 2] f32, found [2, 3] f32");
    ASSERT_ERR(llmc_wf_resolve(wf, p, "a", 0, LLMC_F16, 2, s23, &data, "weights.a", &d), d,
               "expected [2, 3] f16, found [2, 3] f32");
    ASSERT_ERR(llmc_wf_resolve(wf, p, "nope", 0, LLMC_F32, 1, s4, &data, "weights.n", &d), d,
               "weights.n", "'nope'", "not found", "w.safetensors");
    ASSERT_ERR(llmc_wf_resolve(wf, path_in(dir, "absent.safetensors"), "a", 0, LLMC_F32, 2, s23,
                               &data, "weights.z", &d), d, "weights.z", "absent.safetensors");

    /* raw: the same file read as bytes */
    size_t n;
    uint8_t *whole = read_all(p, &n);
    ck_assert(llmc_wf_resolve(wf, p, NULL, 8, LLMC_F32, 1, s4, &data, "raw", &d) == LLMC_OK);
    ck_assert_mem_eq(data, whole + 8, 16);
    int64_t big[1] = {(int64_t)n / 4};
    ASSERT_ERR(llmc_wf_resolve(wf, p, NULL, 8, LLMC_F32, 1, big, &data, "weights.raw", &d), d,
               "weights.raw", "w.safetensors", "holds");
    ASSERT_ERR(llmc_wf_resolve(wf, p, NULL, -4, LLMC_F32, 1, s4, &data, "weights.raw", &d), d,
               "offset");
    free(whole);
    llmc_wf_free(wf);
}
END_TEST

/* Resolves every binding of an imported model; returns how many there were. */
static int resolve_all(const cJSON *model, const char *base_dir)
{
    LlmcWeightFiles *wf = llmc_wf_new();
    const cJSON *w = cJSON_GetObjectItem(model, "weights"), *b;
    int n = 0;
    cJSON_ArrayForEach(b, w)
    {
        const char *file = cJSON_GetObjectItem(b, "file")->valuestring;
        const cJSON *tensor = cJSON_GetObjectItem(b, "tensor");
        const cJSON *off = cJSON_GetObjectItem(b, "offset");
        LlmcDType dt;
        ck_assert_int_eq(llmc_dtype_from_name(cJSON_GetObjectItem(b, "dtype")->valuestring, &dt), 0);
        const cJSON *sh = cJSON_GetObjectItem(b, "shape");
        int64_t shape[8];
        int rank = cJSON_GetArraySize(sh);
        for (int i = 0; i < rank; i++)
            shape[i] = (int64_t)cJSON_GetArrayItem(sh, i)->valuedouble;
        char *path = llmc_path_join(base_dir, file);
        const uint8_t *data;
        LlmcDiag d;
        ck_assert_msg(llmc_wf_resolve(wf, path, tensor ? tensor->valuestring : NULL,
                                      off ? (int64_t)off->valuedouble : 0, dt, rank, shape, &data,
                                      b->string, &d) == LLMC_OK, "%s", d.msg);
        free(path);
        n++;
    }
    llmc_wf_free(wf);
    return n;
}

static double cfg_num(const cJSON *model, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(model, "config"), key);
    ck_assert_msg(cJSON_IsNumber(v), "config.%s missing", key);
    return v->valuedouble;
}

static const cJSON *block_op(const cJSON *model, int i)
{
    const cJSON *g = cJSON_GetObjectItem(model, "graph");
    return cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "layers"), "block"), i);
}

static const char *op_in(const cJSON *op, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(op, "in"), i)->valuestring;
}

/* ---- llama2.c ---- */

#define S260 "stories260K/stories260K.bin"

START_TEST(llama2c_stories260K)
{
    if (tu_need_shared(S260))
        return;
    const char *bin = tu_shared(S260);
    const char *base = tu_tmpdir();
    cJSON *m;
    LlmcDiag d;
    ck_assert_msg(llmc_import_llama2c(bin, NULL, base, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_int_eq(cfg_num(m, "dim"), 64);
    ck_assert_int_eq(cfg_num(m, "ffn_dim"), 172);
    ck_assert_int_eq(cfg_num(m, "n_layers"), 5);
    ck_assert_int_eq(cfg_num(m, "n_heads"), 8);
    ck_assert_int_eq(cfg_num(m, "n_kv_heads"), 4);
    ck_assert_int_eq(cfg_num(m, "head_dim"), 8);
    ck_assert_int_eq(cfg_num(m, "vocab_size"), 512);
    ck_assert_int_eq(cfg_num(m, "max_seq_len"), 512);
    ck_assert_int_eq(cfg_num(m, "bos_id"), 1);
    ck_assert_int_eq(cfg_num(m, "eos_id"), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(m, "name")->valuestring, "stories260K");
    const cJSON *tok = cJSON_GetObjectItem(m, "tokenizer");
    ck_assert_str_eq(cJSON_GetObjectItem(tok, "format")->valuestring, "llama2c");
    const char *tf = cJSON_GetObjectItem(tok, "file")->valuestring;
    ck_assert_msg(strstr(tf, "tok512.bin") != NULL, "tokenizer %s", tf);

    const cJSON *w = cJSON_GetObjectItem(m, "weights");
    ck_assert_int_eq(cJSON_GetArraySize(w), 1 + 5 * 9 + 1); /* tied: no output */
    ck_assert_ptr_null(cJSON_GetObjectItem(w, "output"));
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "tok_embeddings"), "offset")->valueint,
                     28);
    /* final norm right before the freq_cis arrays (2 * 512 * 4 floats) at the end of the file */
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "norm"), "offset")->valueint,
                     1056540 - 4096 * 4 - 64 * 4);
    ck_assert_int_eq(resolve_all(m, base), 47);

    const cJSON *rope = block_op(m, 4);
    ck_assert_str_eq(cJSON_GetObjectItem(rope, "op")->valuestring, "rope");
    ck_assert_str_eq(cJSON_GetObjectItem(rope, "style")->valuestring, "interleaved");
    ck_assert_int_eq(cJSON_GetObjectItem(rope, "theta")->valuedouble, 10000);
    const cJSON *epi = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "graph"), "epilogue");
    ck_assert_str_eq(op_in(cJSON_GetArrayItem(epi, 1), 1), "@tok_embeddings");
    ck_assert_str_eq(op_in(block_op(m, 1), 1), "@layers.{i}.wq");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(
                         cJSON_GetObjectItem(m, "graph"), "layers"), "block")), 16);
    cJSON_Delete(m);
}
END_TEST

/* The checkpoint copied beside a model.json: relative paths; no tokenizer found, or given. */
START_TEST(llama2c_relative_and_tokenizer)
{
    if (tu_need_shared(S260))
        return;
    const char *dir = tu_tmpdir();
    size_t n;
    uint8_t *bytes = read_all(tu_shared(S260), &n);
    const char *bin = path_in(dir, "m.bin");
    write_bytes(bin, bytes, n);
    free(bytes);
    cJSON *m;
    LlmcDiag d;
    ck_assert_msg(llmc_import_llama2c(bin, NULL, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(m, "tokenizer")));
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"),
                                                             "norm"), "file")->valuestring, "m.bin");
    cJSON_Delete(m);

    /* tok512.bin beside it is found */
    bytes = read_all(tu_shared("stories260K/tok512.bin"), &n);
    write_bytes(path_in(dir, "tok512.bin"), bytes, n);
    free(bytes);
    ck_assert_msg(llmc_import_llama2c(bin, NULL, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "tokenizer"), "file")->valuestring,
                     "tok512.bin");
    cJSON_Delete(m);

    /* an explicit tokenizer wins; base_dir one level up gives "sub/..." paths */
    char *up = llmc_path_dir(dir);
    ck_assert_msg(llmc_import_llama2c(bin, tu_shared("stories260K/tok512.bin"), up, &m, &d) ==
                  LLMC_OK, "%s", d.msg);
    const char *f = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"),
                                                            "norm"), "file")->valuestring;
    char want[256];
    snprintf(want, sizeof want, "%s/m.bin", strrchr(dir, '/') + 1);
    ck_assert_str_eq(f, want);
    ck_assert_int_eq(resolve_all(m, up), 47);
    cJSON_Delete(m);
    ASSERT_ERR(llmc_import_llama2c(bin, path_in(dir, "nope.bin"), dir, &m, &d), d, "nope.bin");
    free(up);
}
END_TEST

static void put_i32(uint8_t *p, int32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)((uint32_t)v >> (8 * i));
}

/* Rewrites stories260K as a version 1 file and as an untied legacy file; both import to the
 * same bytes for every weight as the original. */
START_TEST(llama2c_v1_and_untied)
{
    if (tu_need_shared(S260))
        return;
    const char *dir = tu_tmpdir();
    size_t n;
    uint8_t *leg = read_all(tu_shared(S260), &n);
    const size_t dim = 64, hid = 172, L = 5, kv = 32, V = 512;
    const size_t emb = V * dim, att = L * dim, q = L * dim * dim, k = L * kv * dim, ff = L * hid * dim;
    /* legacy float offsets (after the 28-byte header) */
    size_t o = 0, o_emb = o; o += emb;
    size_t o_att = o; o += att;
    size_t o_q = o; o += q;
    size_t o_k = o; o += k;
    size_t o_v = o; o += k;
    size_t o_o = o; o += q;
    size_t o_ffn = o; o += att;
    size_t o_1 = o; o += ff;
    size_t o_2 = o; o += ff;
    size_t o_3 = o; o += ff;
    size_t o_fin = o; o += dim;
    ck_assert_uint_eq(28 + 4 * (o + 512 * 8), n);

    const float *w = (const float *)(leg + 28);
    size_t total = o;
    uint8_t *v1 = calloc(1, 256 + 4 * total + 1); /* + 1: the trailing-byte case below */
    put_i32(v1, 0x616b3432);
    put_i32(v1 + 4, 1);
    memcpy(v1 + 8, leg, 28);
    v1[36] = 1;
    float *dst = (float *)(v1 + 256);
    struct { size_t off, len; } order[] = {{o_att, att}, {o_ffn, att}, {o_fin, dim}, {o_emb, emb},
        {o_q, q}, {o_k, k}, {o_v, k}, {o_o, q}, {o_1, ff}, {o_2, ff}, {o_3, ff}};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        memcpy(dst, w + order[i].off, order[i].len * 4);
        dst += order[i].len;
    }
    const char *p1 = path_in(dir, "v1.bin");
    write_bytes(p1, v1, 256 + 4 * total);

    cJSON *m0, *m1;
    LlmcDiag d;
    ck_assert_msg(llmc_import_llama2c(tu_shared(S260), NULL, dir, &m0, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(llmc_import_llama2c(p1, NULL, dir, &m1, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m1, "weights")), 47);
    /* every weight holds the same bytes in both files */
    const cJSON *b0, *w1 = cJSON_GetObjectItem(m1, "weights");
    cJSON_ArrayForEach(b0, cJSON_GetObjectItem(m0, "weights"))
    {
        const cJSON *b1 = cJSON_GetObjectItem(w1, b0->string);
        ck_assert_ptr_nonnull(b1);
        ck_assert(cJSON_Compare(cJSON_GetObjectItem(b0, "shape"), cJSON_GetObjectItem(b1, "shape"), 1));
        size_t bytes = 4;
        const cJSON *dd;
        cJSON_ArrayForEach(dd, cJSON_GetObjectItem(b0, "shape")) bytes *= (size_t)dd->valuedouble;
        size_t off0 = (size_t)cJSON_GetObjectItem(b0, "offset")->valuedouble;
        size_t off1 = (size_t)cJSON_GetObjectItem(b1, "offset")->valuedouble;
        ck_assert_msg(memcmp(leg + off0, v1 + off1, bytes) == 0, "weight %s differs", b0->string);
    }
    cJSON_Delete(m1);

    /* v1: the size must be exact */
    write_bytes(p1, v1, 256 + 4 * total - 4);
    ASSERT_ERR(llmc_import_llama2c(p1, NULL, dir, &m1, &d), d, "v1.bin", "file size", "expected",
               "found");
    write_bytes(p1, v1, 256 + 4 * total + 1);
    ASSERT_ERR(llmc_import_llama2c(p1, NULL, dir, &m1, &d), d, "v1.bin", "trailing");
    /* version 2 (int8) refused */
    put_i32(v1 + 4, 2);
    write_bytes(p1, v1, 256 + 4 * total);
    ASSERT_ERR(llmc_import_llama2c(p1, NULL, dir, &m1, &d), d, "v1.bin", "version 2",
               "not supported");

    /* legacy, untied: negative vocab, wcls after freq_cis */
    uint8_t *un = malloc(n + 4 * emb);
    memcpy(un, leg, n);
    put_i32(un + 20, -512);
    memcpy(un + n, leg + 28, 4 * emb); /* classifier = a copy of the embedding */
    const char *pu = path_in(dir, "untied.bin");
    write_bytes(pu, un, n + 4 * emb);
    ck_assert_msg(llmc_import_llama2c(pu, NULL, dir, &m1, &d) == LLMC_OK, "%s", d.msg);
    const cJSON *out = cJSON_GetObjectItem(cJSON_GetObjectItem(m1, "weights"), "output");
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(cJSON_GetObjectItem(out, "offset")->valueint, (int)n);
    const cJSON *epi = cJSON_GetObjectItem(cJSON_GetObjectItem(m1, "graph"), "epilogue");
    ck_assert_str_eq(op_in(cJSON_GetArrayItem(epi, 1), 1), "@output");
    ck_assert_int_eq(resolve_all(m1, dir), 48);
    cJSON_Delete(m1);
    /* untied but the classifier is missing */
    write_bytes(pu, un, n + 100);
    ASSERT_ERR(llmc_import_llama2c(pu, NULL, dir, &m1, &d), d, "untied.bin", "separate",
               "truncated");

    cJSON_Delete(m0);
    free(un);
    free(v1);
    free(leg);
}
END_TEST

START_TEST(llama2c_refused)
{
    const char *dir = tu_tmpdir();
    cJSON *m;
    LlmcDiag d;
    const char *p = path_in(dir, "tiny.bin");
    write_bytes(p, "abc", 3);
    ASSERT_ERR(llmc_import_llama2c(p, NULL, dir, &m, &d), d, "tiny.bin", "too small");

    p = path_in(dir, "garbage.bin");
    write_text(p, "This is certainly not a checkpoint, just some text that is long enough.");
    ASSERT_ERR(llmc_import_llama2c(p, NULL, dir, &m, &d), d, "garbage.bin", "header field");

    uint8_t h[28 + 64];
    memset(h, 0, sizeof h);
    int32_t bad_heads[7] = {64, 172, 5, 7, 7, 512, 512};
    for (int i = 0; i < 7; i++)
        put_i32(h + 4 * i, bad_heads[i]);
    p = path_in(dir, "heads.bin");
    write_bytes(p, h, sizeof h);
    ASSERT_ERR(llmc_import_llama2c(p, NULL, dir, &m, &d), d, "heads.bin", "n_heads",
               "divisor of dim (64)");
    put_i32(h + 12, 8);
    put_i32(h + 16, 3);
    write_bytes(p, h, sizeof h);
    ASSERT_ERR(llmc_import_llama2c(p, NULL, dir, &m, &d), d, "n_kv_heads", "divisor of n_heads (8)");
    put_i32(h + 16, 4);
    put_i32(h, 0);
    write_bytes(p, h, sizeof h);
    ASSERT_ERR(llmc_import_llama2c(p, NULL, dir, &m, &d), d, "header field dim", "found 0");
    put_i32(h, 64);
    put_i32(h + 4, 2000000000);
    write_bytes(p, h, sizeof h);
    ASSERT_ERR(llmc_import_llama2c(p, NULL, dir, &m, &d), d, "hidden_dim", "2000000000");
    put_i32(h + 4, 172);
    write_bytes(p, h, sizeof h); /* a valid header, but no weights */
    ASSERT_ERR(llmc_import_llama2c(p, NULL, dir, &m, &d), d, "heads.bin", "file size",
               "1056540", "found 92");

    if (!tu_shared(S260))
        return;
    size_t n;
    uint8_t *leg = read_all(tu_shared(S260), &n);
    p = path_in(dir, "truncated.bin");
    write_bytes(p, leg, 500000);
    ASSERT_ERR(llmc_import_llama2c(p, NULL, dir, &m, &d), d, "truncated.bin",
               "expected at least 1056540", "found 500000");
    free(leg);
    ASSERT_ERR(llmc_import_llama2c(path_in(dir, "none.bin"), NULL, dir, &m, &d), d, "none.bin",
               "cannot open");
}
END_TEST

/* Directories where files are expected: refused as such, by every reader of the frontend. */
START_TEST(directories_refused_as_such)
{
    const char *dir = tu_tmpdir();
    char sub[1024], hf[1024], hf2[1024];
    snprintf(sub, sizeof sub, "%s/sub.json", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    LlmcDiag d;
    char *text;
    size_t n;
    cJSON *m;
    ASSERT_ERR(llmc_read_file(sub, &text, &n, &d), d, "sub.json: is a directory, expected a file");
    ASSERT_ERR(llmc_json_load(sub, &m, &d), d, "sub.json: is a directory, expected a file");
    LlmcSafetensors st;
    ASSERT_ERR(llmc_st_open(&st, sub, &d), d, "sub.json: is a directory, expected a file");
    ASSERT_ERR(llmc_import_llama2c(sub, NULL, dir, &m, &d), d, "sub.json: is a directory, expected a llama2.c");
    LlmcWeightFiles *wf = llmc_wf_new();
    const uint8_t *data;
    int64_t s4[1] = {4};
    ASSERT_ERR(llmc_wf_resolve(wf, sub, NULL, 0, LLMC_F32, 1, s4, &data, "weights.w", &d), d, "weights.w",
               "sub.json: is a directory, expected a file");
    ASSERT_ERR(llmc_wf_resolve(wf, sub, "w", 0, LLMC_F32, 1, s4, &data, "weights.w", &d), d,
               "sub.json: is a directory, expected a file");
    llmc_wf_free(wf);
    /* A directory without config.json; one whose config.json or model.safetensors is a directory. */
    ASSERT_ERR(llmc_import_hf(sub, dir, &m, &d), d, "sub.json: is a directory without a config.json");
    snprintf(hf, sizeof hf, "%s/hf", dir);
    snprintf(hf2, sizeof hf2, "%s/hf/config.json", dir);
    ck_assert(mkdir(hf, 0755) == 0 && mkdir(hf2, 0755) == 0);
    ASSERT_ERR(llmc_import_hf(hf, dir, &m, &d), d, "config.json: is a directory, expected a file");
    rmdir(hf2);
    write_text(hf2, "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 32, \"intermediate_size\": 48,"
                    " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"vocab_size\": 300,"
                    " \"max_position_embeddings\": 64}");
    snprintf(hf2, sizeof hf2, "%s/hf/model.safetensors", dir);
    ck_assert_int_eq(mkdir(hf2, 0755), 0);
    ASSERT_ERR(llmc_import_hf(hf, dir, &m, &d), d, "model.safetensors: is a directory, expected a file");
    if (!tu_shared(S260))
        return;
    ASSERT_ERR(llmc_import_llama2c(tu_shared(S260), sub, dir, &m, &d), d, "sub.json: tokenizer",
               "found a directory");
}
END_TEST

/* ---- Hugging Face ---- */

#define DEBDOCS "debdocs-32M"

START_TEST(hf_debdocs)
{
    if (tu_need_shared(DEBDOCS "/config.json"))
        return;
    const char *src = tu_shared(DEBDOCS);
    const char *base = tu_tmpdir();
    cJSON *m;
    LlmcDiag d;
    ck_assert_msg(llmc_import_hf(src, base, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_int_eq(cfg_num(m, "n_layers"), 20);
    ck_assert_int_eq(cfg_num(m, "head_dim"), 64);
    ck_assert_int_eq(cfg_num(m, "n_heads"), 4);
    ck_assert_int_eq(cfg_num(m, "n_kv_heads"), 2);
    ck_assert_int_eq(cfg_num(m, "dim"), 256);
    ck_assert_int_eq(cfg_num(m, "ffn_dim"), 768);
    ck_assert_int_eq(cfg_num(m, "vocab_size"), 32000);
    ck_assert_int_eq(cfg_num(m, "max_seq_len"), 1024);
    ck_assert_int_eq(cfg_num(m, "bos_id"), 1);
    ck_assert_int_eq(cfg_num(m, "eos_id"), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(m, "name")->valuestring, "debdocs-32M");
    const cJSON *tok = cJSON_GetObjectItem(m, "tokenizer");
    ck_assert_str_eq(cJSON_GetObjectItem(tok, "format")->valuestring, "sentencepiece");
    ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(tok, "file")->valuestring, "tokenizer.model"));
    const cJSON *w = cJSON_GetObjectItem(m, "weights");
    const cJSON *out = cJSON_GetObjectItem(w, "output");
    ck_assert_ptr_nonnull(out); /* untied */
    ck_assert_str_eq(cJSON_GetObjectItem(out, "tensor")->valuestring, "lm_head.weight");
    ck_assert_str_eq(cJSON_GetObjectItem(out, "dtype")->valuestring, "f16");
    /* shard resolution: the index places layer 0 in shard 2 and lm_head in shard 4 */
    ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "layers.0.wq"),
                                                     "file")->valuestring, "model-00002-of-00004"));
    ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(out, "file")->valuestring, "model-00004-of-00004"));
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "layers.7.w2"), "tensor")->valuestring,
                     "model.layers.7.mlp.down_proj.weight");
    const cJSON *wk = cJSON_GetObjectItem(cJSON_GetObjectItem(w, "layers.3.wk"), "shape");
    ck_assert_int_eq(cJSON_GetArrayItem(wk, 0)->valueint, 128);
    ck_assert_int_eq(cJSON_GetArrayItem(wk, 1)->valueint, 256);
    ck_assert_int_eq(resolve_all(m, base), 1 + 20 * 9 + 2);
    const cJSON *rope = block_op(m, 4);
    ck_assert_str_eq(cJSON_GetObjectItem(rope, "style")->valuestring, "half");
    ck_assert_ptr_null(cJSON_GetObjectItem(rope, "scaling"));
    ck_assert_ptr_null(cJSON_GetObjectItem(block_op(m, 6), "window"));
    const cJSON *epi = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "graph"), "epilogue");
    ck_assert_str_eq(op_in(cJSON_GetArrayItem(epi, 1), 1), "@output");
    cJSON_Delete(m);

    /* llmc_import picks the HF importer for a directory */
    ck_assert_msg(llmc_import(src, base, &m, &d) == LLMC_OK, "%s", d.msg);
    cJSON_Delete(m);
}
END_TEST

/* A tiny HF directory written here: hidden 8, 1 layer, 2 heads of 4, 1 KV head, ffn 16, vocab 300. */
static const char *TINY_CONFIG =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
    " \"vocab_size\": 300, \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-6,"
    " \"rope_theta\": 500000.0, \"tie_word_embeddings\": false, \"bos_token_id\": 1,"
    " \"eos_token_id\": [2, 5] %s}";

/* Writes model.safetensors with the tiny model's tensors (F32), leaving out `skip`, with `wrong`
 * given a transposed shape. */
static void write_tiny_weights(const char *path, const char *skip, const char *wrong)
{
    struct { const char *name; int64_t d0, d1; } t[] = {
        {"model.embed_tokens.weight", 300, 8},
        {"model.layers.0.input_layernorm.weight", 8, 0},
        {"model.layers.0.self_attn.q_proj.weight", 8, 8},
        {"model.layers.0.self_attn.k_proj.weight", 4, 8},
        {"model.layers.0.self_attn.v_proj.weight", 4, 8},
        {"model.layers.0.self_attn.o_proj.weight", 8, 8},
        {"model.layers.0.post_attention_layernorm.weight", 8, 0},
        {"model.layers.0.mlp.gate_proj.weight", 16, 8},
        {"model.layers.0.mlp.up_proj.weight", 16, 8},
        {"model.layers.0.mlp.down_proj.weight", 8, 16},
        {"model.norm.weight", 8, 0},
        {"lm_head.weight", 300, 8},
    };
    char header[4096];
    size_t k = (size_t)snprintf(header, sizeof header, "{");
    uint64_t off = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (skip && strcmp(skip, t[i].name) == 0)
            continue;
        int64_t d0 = t[i].d0, d1 = t[i].d1;
        if (wrong && strcmp(wrong, t[i].name) == 0) {
            int64_t x = d0;
            d0 = d1;
            d1 = x;
        }
        uint64_t bytes = 4 * (uint64_t)d0 * (uint64_t)(d1 ? d1 : 1);
        if (d1)
            k += (size_t)snprintf(header + k, sizeof header - k,
                                  "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],\"data_offsets\":[%llu,%llu]}",
                                  off ? "," : "", t[i].name, (long long)d0, (long long)d1,
                                  (unsigned long long)off, (unsigned long long)(off + bytes));
        else
            k += (size_t)snprintf(header + k, sizeof header - k,
                                  "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],\"data_offsets\":[%llu,%llu]}",
                                  off ? "," : "", t[i].name, (long long)d0, (unsigned long long)off,
                                  (unsigned long long)(off + bytes));
        off += bytes;
    }
    snprintf(header + k, sizeof header - k, "}");
    write_st(path, header, off);
}

static const char *tiny_dir(const char *extra_config, const char *skip, const char *wrong)
{
    const char *dir = tu_tmpdir();
    char cfg[2048];
    snprintf(cfg, sizeof cfg, TINY_CONFIG, extra_config);
    write_text(path_in(dir, "config.json"), cfg);
    write_tiny_weights(path_in(dir, "model.safetensors"), skip, wrong);
    return dir;
}

/* config.eos_id of an imported model: the list ids[n] (one id: a number). */
static void expect_eos(const cJSON *model, const int *ids, int n)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(model, "config"), "eos_id");
    if (n == 1) {
        ck_assert(cJSON_IsNumber(v) && v->valuedouble == ids[0]);
        return;
    }
    ck_assert_msg(cJSON_IsArray(v) && cJSON_GetArraySize(v) == n, "config.eos_id is not a list of %d", n);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(cJSON_GetArrayItem(v, i)->valuedouble, ids[i]);
}

/* generation_config.json beside config.json: more eos ids (a list or one), the sampling defaults,
 * do_sample false as greedy; bad values named. */
START_TEST(hf_generation_config)
{
    const char *dir = tiny_dir("", NULL, NULL);
    cJSON *m;
    LlmcDiag d;
    write_text(path_in(dir, "generation_config.json"),
               "{\"eos_token_id\": [2, 7, 5], \"do_sample\": true, \"temperature\": 0.6, \"top_p\": 0.9}");
    ck_assert_msg(llmc_import_hf(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    expect_eos(m, (const int[]){2, 5, 7}, 3);
    const cJSON *sm = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "config"), "sampling");
    ck_assert_double_eq_tol(cJSON_GetObjectItem(sm, "temperature")->valuedouble, 0.6, 1e-12);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(sm, "top_p")->valuedouble, 0.9, 1e-12);
    ck_assert_int_eq(cJSON_GetObjectItem(sm, "top_k")->valuedouble, 0);
    cJSON_Delete(m);
    write_text(path_in(dir, "generation_config.json"), "{\"eos_token_id\": 9, \"do_sample\": false, \"top_k\": 50}");
    ck_assert_msg(llmc_import_hf(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    expect_eos(m, (const int[]){2, 5, 9}, 3);
    sm = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "config"), "sampling");
    ck_assert_int_eq(cJSON_GetObjectItem(sm, "temperature")->valuedouble, 0);   /* greedy */
    cJSON_Delete(m);
    write_text(path_in(dir, "generation_config.json"), "{\"bos_token_id\": 1}");
    ck_assert_msg(llmc_import_hf(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "config"), "sampling"));
    cJSON_Delete(m);
    write_text(path_in(dir, "generation_config.json"), "{\"top_p\": 1.5}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "generation_config.json: top_p", "1.5");
    write_text(path_in(dir, "generation_config.json"), "{\"eos_token_id\": [2, 300]}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "generation_config.json: eos_token_id[1]", "300");
    write_text(path_in(dir, "generation_config.json"), "[1]");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "generation_config.json", "expected a JSON object");
}
END_TEST

START_TEST(hf_tiny_ok)
{
    const char *dir = tiny_dir(", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                               "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                               "\"original_max_position_embeddings\": 32}",
                               NULL, NULL);
    write_text(path_in(dir, "tokenizer.json"), "{}");
    cJSON *m;
    LlmcDiag d;
    ck_assert_msg(llmc_import_hf(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    /* tokenizer.json is bound (and converted, or refused, when compiled), before a tokenizer.model */
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "tokenizer"), "format")->valuestring, "huggingface");
    write_text(path_in(dir, "tokenizer.model"), "x");
    cJSON *m2;
    ck_assert_msg(llmc_import_hf(dir, dir, &m2, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m2, "tokenizer"), "file")->valuestring, "tokenizer.json");
    cJSON_Delete(m2);
    remove(path_in(dir, "tokenizer.model"));
    expect_eos(m, (const int[]){2, 5}, 2);
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "config"), "sampling"));
    ck_assert_int_eq(cfg_num(m, "head_dim"), 4);
    ck_assert_int_eq(cfg_num(m, "rope_theta"), 500000);
    const cJSON *sc = cJSON_GetObjectItem(block_op(m, 4), "scaling");
    ck_assert_ptr_nonnull(sc);
    ck_assert_str_eq(cJSON_GetObjectItem(sc, "type")->valuestring, "llama3");
    ck_assert_int_eq(cJSON_GetObjectItem(sc, "factor")->valuedouble, 8);
    ck_assert_int_eq(cJSON_GetObjectItem(sc, "original_max_position_embeddings")->valueint, 32);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"),
                                                             "layers.0.w1"), "file")->valuestring,
                     "model.safetensors");
    ck_assert_int_eq(resolve_all(m, dir), 12);
    cJSON_Delete(m);

    /* transformers 5 spelling: rope_parameters with rope_theta inside; Mistral sliding window */
    const char *dir2 = tu_tmpdir();
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
             " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
             " \"vocab_size\": 300, \"max_position_embeddings\": 64, \"sliding_window\": 16,"
             " \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1234.0}}");
    write_text(path_in(dir2, "config.json"), cfg);
    write_tiny_weights(path_in(dir2, "model.safetensors"), NULL, NULL);
    write_text(path_in(dir2, "tokenizer.model"), "x");
    ck_assert_msg(llmc_import(dir2, dir2, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_int_eq(cfg_num(m, "rope_theta"), 1234);
    ck_assert_int_eq(cfg_num(m, "bos_id"), -1);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "tokenizer"), "file")->valuestring,
                     "tokenizer.model");
    ck_assert_int_eq(cJSON_GetObjectItem(block_op(m, 6), "window")->valueint, 16);
    ck_assert_ptr_null(cJSON_GetObjectItem(block_op(m, 4), "scaling"));
    cJSON_Delete(m);
}
END_TEST

START_TEST(hf_refused)
{
    cJSON *m;
    LlmcDiag d;
    const char *dir;

    dir = tiny_dir("", "model.layers.0.mlp.up_proj.weight", NULL);
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "model.safetensors",
               "'model.layers.0.mlp.up_proj.weight' not found");

    dir = tiny_dir("", NULL, "model.layers.0.self_attn.k_proj.weight");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "'model.layers.0.self_attn.k_proj.weight'",
               "expected shape [4, 8]", "found [8, 4]");

    dir = tiny_dir("", NULL, NULL);
    write_text(path_in(dir, "config.json"),
               "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
               " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 3,"
               " \"vocab_size\": 300, \"max_position_embeddings\": 64}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "config.json: num_key_value_heads",
               "expected a divisor of num_attention_heads (2), found 3");
    write_text(path_in(dir, "config.json"),
               "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
               " \"num_hidden_layers\": 1, \"num_attention_heads\": 32, \"num_key_value_heads\": 5,"
               " \"head_dim\": 4, \"vocab_size\": 300, \"max_position_embeddings\": 64}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d,
               "config.json: num_key_value_heads: expected a divisor of num_attention_heads (32), "
               "found 5");
    write_text(path_in(dir, "config.json"),
               "{\"architectures\": [\"GPT2LMHeadModel\"], \"hidden_size\": 8}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "config.json: architectures", "GPT2LMHeadModel");
    write_text(path_in(dir, "config.json"),
               "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": \"8\"}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "config.json: hidden_size", "\"8\"");
    write_text(path_in(dir, "config.json"),
               "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
               " \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
               " \"vocab_size\": 300, \"max_position_embeddings\": 64,"
               " \"rope_scaling\": {\"rope_type\": \"mrope\", \"factor\": 4.0}}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "config.json: rope_scaling.rope_type", "mrope");
    write_text(path_in(dir, "config.json"),
               "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
               " \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
               " \"vocab_size\": 300, \"max_position_embeddings\": 64, \"eos_token_id\": 300}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "config.json: eos_token_id", "300");
    write_text(path_in(dir, "config.json"), "{\"architectures\": [\"LlamaForCausalLM\"],\n oops}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "config.json:2:", "JSON syntax error");

    /* the index names a shard that lacks the tensor */
    dir = tiny_dir("", NULL, NULL);
    char *single = llmc_strdup(path_in(dir, "model.safetensors"));
    ck_assert_int_eq(rename(single, path_in(dir, "a.safetensors")), 0);
    write_tiny_weights(path_in(dir, "b.safetensors"), "lm_head.weight", NULL);
    write_text(path_in(dir, "model.safetensors.index.json"),
               "{\"metadata\": {}, \"weight_map\": {\"model.embed_tokens.weight\": \"a.safetensors\","
               " \"lm_head.weight\": \"b.safetensors\"}}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "model.safetensors.index.json", "weight_map",
               "model.layers.0.input_layernorm.weight");
    write_text(path_in(dir, "model.safetensors.index.json"), "{\"weight_map\": {}}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "weight_map");
    /* all layer tensors from a.safetensors, lm_head from b (where it is missing) */
    char idx[4096];
    size_t k = (size_t)snprintf(idx, sizeof idx, "{\"weight_map\": {\"lm_head.weight\": \"b.safetensors\"");
    const char *names[] = {"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
        "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
        "model.layers.0.post_attention_layernorm.weight", "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        "model.norm.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        k += (size_t)snprintf(idx + k, sizeof idx - k, ", \"%s\": \"a.safetensors\"", names[i]);
    snprintf(idx + k, sizeof idx - k, "}}");
    write_text(path_in(dir, "model.safetensors.index.json"), idx);
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "b.safetensors", "'lm_head.weight' not found",
               "index");
    /* and when b.safetensors holds it, the import goes through with two shards */
    write_tiny_weights(path_in(dir, "b.safetensors"), NULL, NULL);
    ck_assert_msg(llmc_import_hf(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"),
                                                             "output"), "file")->valuestring,
                     "b.safetensors");
    ck_assert_int_eq(resolve_all(m, dir), 12);
    cJSON_Delete(m);
    free(single);

    /* no weights at all; not a directory */
    dir = tu_tmpdir();
    write_text(path_in(dir, "config.json"), "{}");
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "architectures");
    char cfg[2048];
    snprintf(cfg, sizeof cfg, TINY_CONFIG, "");
    write_text(path_in(dir, "config.json"), cfg);
    ASSERT_ERR(llmc_import_hf(dir, dir, &m, &d), d, "model.safetensors", "found neither");
    ASSERT_ERR(llmc_import_hf(path_in(dir, "config.json"), dir, &m, &d), d, "config.json",
               "directory");
}
END_TEST

/* A model.json imported from another directory keeps pointing at the same files. */
START_TEST(import_model_json_rebased)
{
    const char *a = tu_tmpdir();
    char *sub = llmc_strdup(path_in(a, "sub"));
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    const char *dir = tiny_dir("", NULL, NULL);
    cJSON *m;
    LlmcDiag d;
    ck_assert_msg(llmc_import_hf(dir, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    cJSON_ReplaceItemInObject(m, "tokenizer", cJSON_Parse("{\"format\": \"sentencepiece\", \"file\": \"tok.model\"}"));
    const char *mj = path_in(dir, "model.json");
    ck_assert_msg(llmc_json_save(mj, m, &d) == LLMC_OK, "%s", d.msg);
    cJSON_Delete(m);
    ck_assert_msg(llmc_import(mj, sub, &m, &d) == LLMC_OK, "%s", d.msg);
    const char *f = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"),
                                                            "norm"), "file")->valuestring;
    ck_assert_msg(strncmp(f, "../../", 6) == 0, "rebased to %s", f);
    ck_assert_int_eq(resolve_all(m, sub), 12);
    const char *tf = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "tokenizer"), "file")->valuestring;
    ck_assert_msg(strstr(tf, "tok.model") && strncmp(tf, "../../", 6) == 0, "%s", tf);
    cJSON_Delete(m);
    /* into its own directory: unchanged */
    ck_assert_msg(llmc_import(mj, dir, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"),
                                                             "norm"), "file")->valuestring,
                     "model.safetensors");
    cJSON_Delete(m);
    /* a config.json given by its file imports its directory */
    ck_assert_msg(llmc_import(path_in(dir, "config.json"), dir, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "config"), "source")->valuestring,
                     "huggingface");
    cJSON_Delete(m);
    /* a base_dir that does not exist yet still gets relative paths */
    char *deep = llmc_strdup(path_in(dir, "new/deeper"));
    ck_assert_msg(llmc_import(dir, deep, &m, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "weights"),
                                                             "norm"), "file")->valuestring,
                     "../../model.safetensors");
    cJSON_Delete(m);
    free(deep);
    write_text(mj, "[1, 2]");
    ASSERT_ERR(llmc_import(mj, dir, &m, &d), d, "model.json", "expected a JSON object");
    ASSERT_ERR(llmc_import(path_in(dir, "nothing.bin"), dir, &m, &d), d, "nothing.bin");
    free(sub);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("frontend");
    TCase *t = tcase_create("json");
    tcase_add_test(t, json_syntax_error_line_col);
    tcase_add_test(t, json_save_roundtrip);
    suite_add_tcase(s, t);
    t = tcase_create("safetensors");
    tcase_add_test(t, st_good_file);
    tcase_add_test(t, st_malformed);
    tcase_add_test(t, wf_resolve_bindings);
    suite_add_tcase(s, t);
    t = tcase_create("llama2c");
    tcase_add_test(t, llama2c_stories260K);
    tcase_add_test(t, llama2c_relative_and_tokenizer);
    tcase_add_test(t, llama2c_v1_and_untied);
    tcase_add_test(t, llama2c_refused);
    tcase_add_test(t, directories_refused_as_such);
    suite_add_tcase(s, t);
    t = tcase_create("huggingface");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, hf_debdocs);
    tcase_add_test(t, hf_tiny_ok);
    tcase_add_test(t, hf_generation_config);
    tcase_add_test(t, hf_refused);
    tcase_add_test(t, import_model_json_rebased);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_main(suite()); }
