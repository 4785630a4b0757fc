/* import.c — what both importers share, and llmc_import, which picks one by the kind of SRC.
 *
 * The importers read a checkpoint's own layout and hand over a list of weight bindings plus the
 * numbers in an FeLlamaSpec; fe_build_llama turns those into the one model.json graph every Llama
 * checkpoint gets (docs/model-json.md). The op sequence and the weight names are a contract with the
 * fusion passes, which recognise them (q/k/v matmuls reading the same normed input, gate and up
 * matmuls followed by silu and mul), so both importers go through this single builder.
 *
 * Paths: a model.json refers to files relative to its own directory, base_dir. fe_rel_path computes
 * that form with realpath so `llmc import ../ckpt -o out/model.json` works from any working
 * directory; files with nothing but "/" in common with base_dir keep an absolute path.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_internal.h"

/* ---- paths ---- */

int fe_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int fe_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

char *fe_base_name(const char *path, int strip_ext)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    size_t e = n;
    if (strip_ext) {
        for (size_t i = n; i > b + 1; i--)
            if (path[i - 1] == '.') {
                e = i - 1;
                break;
            }
    }
    char *r = malloc(e - b + 1);
    if (r) {
        memcpy(r, path + b, e - b);
        r[e - b] = 0;
    }
    return r;
}

/* An absolute form of path: realpath when it resolves, else joined onto the working directory. */
static char *abs_path(const char *path)
{
    char *r = realpath(path, NULL);
    if (r)
        return r;
    if (path[0] == '/')
        return llmc_strdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return llmc_strdup(path);
    return llmc_path_join(cwd, path);
}

/* realpath of a directory that may not exist yet (`-o out/model.json` before out/ is made): the
 * nearest existing ancestor resolved, the rest appended. */
static char *real_dir(const char *dir)
{
    char *cur = llmc_strdup(dir), *tail = llmc_strdup("");
    char *r = NULL;
    while (cur && tail) {
        r = realpath(cur, NULL);
        if (r || strcmp(cur, ".") == 0 || strcmp(cur, "/") == 0)
            break;
        char *last = fe_base_name(cur, 0), *up = llmc_path_dir(cur);
        size_t n = (last ? strlen(last) : 0) + strlen(tail) + 2;
        char *nt = last ? malloc(n) : NULL;
        if (nt)
            snprintf(nt, n, "%s%s%s", last, tail[0] ? "/" : "", tail);
        free(last);
        free(tail);
        free(cur);
        tail = nt;
        cur = up;
    }
    char *out = NULL;
    if (r && tail)
        out = tail[0] ? llmc_path_join(r, tail) : llmc_strdup(r);
    free(r);
    free(cur);
    free(tail);
    return out;
}

char *fe_rel_path(const char *file, const char *base_dir)
{
    char *f = abs_path(file);
    char *b = real_dir(base_dir && base_dir[0] ? base_dir : ".");
    if (!f || !b) {
        free(b);
        return f;
    }
    /* Length of the common directory prefix (whole components). */
    size_t common = 0;
    for (size_t i = 1;; i++) {
        int fend = f[i] == 0 || f[i] == '/', bend = b[i] == 0 || b[i] == '/';
        if (fend && bend) {
            common = i;
            if (!f[i] || !b[i])
                break;
            continue;
        }
        if (f[i] != b[i] || !f[i] || !b[i])
            break;
    }
    /* b == "/" shares only the root with everything. */
    if (common <= 1 || strcmp(b, "/") == 0) {
        free(b);
        return f;
    }
    int ups = 0;
    for (const char *p = b + common; *p; p++)
        if (*p == '/')
            ups++;
    const char *rest = f + common;
    while (*rest == '/')
        rest++;
    size_t n = (size_t)ups * 3 + strlen(rest) + 2;
    char *r = malloc(n);
    if (r) {
        r[0] = 0;
        for (int i = 0; i < ups; i++)
            strcat(r, "../");
        strcat(r, rest);
        size_t len = strlen(r);
        if (len == 0)
            strcpy(r, ".");
        else if (r[len - 1] == '/')
            r[len - 1] = 0;
    }
    free(b);
    free(f);
    return r;
}

/* ---- building the document ---- */

int fe_bind(cJSON *weights, const char *name, const char *file, const char *tensor, int64_t offset,
            LlmcDType dtype, int rank, const int64_t *shape)
{
    cJSON *b = cJSON_CreateObject();
    cJSON *sh = cJSON_CreateArray();
    if (!b || !sh) {
        cJSON_Delete(b);
        cJSON_Delete(sh);
        return -1;
    }
    int ok = cJSON_AddStringToObject(b, "file", file) != NULL;
    if (tensor)
        ok &= cJSON_AddStringToObject(b, "tensor", tensor) != NULL;
    else
        ok &= cJSON_AddNumberToObject(b, "offset", (double)offset) != NULL;
    ok &= cJSON_AddStringToObject(b, "dtype", llmc_dtype_name(dtype)) != NULL;
    for (int i = 0; i < rank; i++) {
        cJSON *v = cJSON_CreateNumber((double)shape[i]);
        ok &= v != NULL && cJSON_AddItemToArray(sh, v);
    }
    ok &= cJSON_AddItemToObject(b, "shape", sh);
    if (!ok) {
        cJSON_Delete(b);
        return -1;
    }
    if (!cJSON_AddItemToObject(weights, name, b)) {
        cJSON_Delete(b);
        return -1;
    }
    return 0;
}

typedef struct Builder {
    int oom;
} Builder;

/* {"op": name, "in": [...nin strings], "out": out}, appended to list. Returns the op for attributes
 * (NULL after an allocation failure, which is remembered in bld->oom). */
static cJSON *op(Builder *bld, cJSON *list, const char *name, const char *out, int nin, ...)
{
    cJSON *o = cJSON_CreateObject(), *in = cJSON_CreateArray();
    int ok = o && in && cJSON_AddStringToObject(o, "op", name);
    va_list ap;
    va_start(ap, nin);
    for (int i = 0; i < nin; i++) {
        const char *s = va_arg(ap, const char *);
        cJSON *v = cJSON_CreateString(s);
        ok = ok && v && cJSON_AddItemToArray(in, v);
    }
    va_end(ap);
    ok = ok && cJSON_AddItemToObject(o, "in", in);
    if (!ok)
        cJSON_Delete(in);
    ok = ok && cJSON_AddStringToObject(o, "out", out);
    ok = ok && cJSON_AddItemToArray(list, o);
    if (!ok) {
        cJSON_Delete(o);
        bld->oom = 1;
        return NULL;
    }
    return o;
}

static void num(Builder *bld, cJSON *o, const char *key, double v)
{
    if (!o || !cJSON_AddNumberToObject(o, key, v))
        bld->oom = 1;
}

static void str(Builder *bld, cJSON *o, const char *key, const char *v)
{
    if (!o || !cJSON_AddStringToObject(o, key, v))
        bld->oom = 1;
}

static void rope_attrs(Builder *bld, const FeLlamaSpec *s, cJSON *o)
{
    num(bld, o, "head_dim", (double)s->head_dim);
    num(bld, o, "theta", s->rope_theta);
    str(bld, o, "style", s->rope_style);
    if (s->rope_llama3 && o) {
        cJSON *sc = cJSON_AddObjectToObject(o, "scaling");
        if (!sc) {
            bld->oom = 1;
            return;
        }
        str(bld, sc, "type", "llama3");
        num(bld, sc, "factor", s->rope_factor);
        num(bld, sc, "low_freq_factor", s->rope_low_freq);
        num(bld, sc, "high_freq_factor", s->rope_high_freq);
        num(bld, sc, "original_max_position_embeddings", (double)s->rope_orig_max_pos);
    }
}

static void llama_block(Builder *bld, const FeLlamaSpec *s, cJSON *b)
{
    cJSON *o;
    o = op(bld, b, "rmsnorm", "h", 2, "x", "@layers.{i}.attn_norm");
    num(bld, o, "eps", s->norm_eps);
    if (s->qkv_bias) {
        op(bld, b, "matmul", "q", 3, "h", "@layers.{i}.wq", "@layers.{i}.bq");
        op(bld, b, "matmul", "k", 3, "h", "@layers.{i}.wk", "@layers.{i}.bk");
        op(bld, b, "matmul", "v", 3, "h", "@layers.{i}.wv", "@layers.{i}.bv");
    } else {
        op(bld, b, "matmul", "q", 2, "h", "@layers.{i}.wq");
        op(bld, b, "matmul", "k", 2, "h", "@layers.{i}.wk");
        op(bld, b, "matmul", "v", 2, "h", "@layers.{i}.wv");
    }
    rope_attrs(bld, s, op(bld, b, "rope", "q", 2, "q", "positions"));
    rope_attrs(bld, s, op(bld, b, "rope", "k", 2, "k", "positions"));
    o = op(bld, b, "attention", "a", 3, "q", "k", "v");
    num(bld, o, "head_dim", (double)s->head_dim);
    if (s->window > 0)
        num(bld, o, "window", (double)s->window);
    if (s->o_bias)
        op(bld, b, "matmul", "o", 3, "a", "@layers.{i}.wo", "@layers.{i}.bo");
    else
        op(bld, b, "matmul", "o", 2, "a", "@layers.{i}.wo");
    op(bld, b, "add", "x", 2, "x", "o");
    o = op(bld, b, "rmsnorm", "h", 2, "x", "@layers.{i}.ffn_norm");
    num(bld, o, "eps", s->norm_eps);
    op(bld, b, "matmul", "g", 2, "h", "@layers.{i}.w1");
    op(bld, b, "matmul", "u", 2, "h", "@layers.{i}.w3");
    op(bld, b, "silu", "g", 1, "g");
    op(bld, b, "mul", "f", 2, "g", "u");
    op(bld, b, "matmul", "d", 2, "f", "@layers.{i}.w2");
    op(bld, b, "add", "x", 2, "x", "d");
}

LlmcStatus fe_build_llama(const FeLlamaSpec *s, cJSON *weights, cJSON *tokenizer, cJSON **out,
                          LlmcDiag *d)
{
    *out = NULL;
    Builder bld = {0};
    cJSON *doc = cJSON_CreateObject();
    if (!doc || !tokenizer || !weights) {
        cJSON_Delete(doc);
        cJSON_Delete(tokenizer);
        cJSON_Delete(weights);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    num(&bld, doc, "llmc_model", 1);
    str(&bld, doc, "name", s->name);

    cJSON *cfg = cJSON_AddObjectToObject(doc, "config");
    if (!cfg)
        bld.oom = 1;
    num(&bld, cfg, "max_seq_len", (double)s->max_seq_len);
    num(&bld, cfg, "bos_id", (double)s->bos_id);
    num(&bld, cfg, "eos_id", (double)s->eos_id);
    num(&bld, cfg, "dim", (double)s->dim);
    num(&bld, cfg, "n_layers", (double)s->n_layers);
    num(&bld, cfg, "n_heads", (double)s->n_heads);
    num(&bld, cfg, "n_kv_heads", (double)s->n_kv_heads);
    num(&bld, cfg, "head_dim", (double)s->head_dim);
    num(&bld, cfg, "ffn_dim", (double)s->ffn_dim);
    num(&bld, cfg, "vocab_size", (double)s->vocab);
    num(&bld, cfg, "norm_eps", s->norm_eps);
    num(&bld, cfg, "rope_theta", s->rope_theta);
    str(&bld, cfg, "source", s->source);
    str(&bld, cfg, "architecture", s->architecture);
    if (cfg && !cJSON_AddBoolToObject(cfg, "tied_embeddings", s->tied))
        bld.oom = 1;

    if (!cJSON_AddItemToObject(doc, "tokenizer", tokenizer)) {
        cJSON_Delete(tokenizer);
        bld.oom = 1;
    }
    if (!cJSON_AddItemToObject(doc, "weights", weights)) {
        cJSON_Delete(weights);
        bld.oom = 1;
    }

    cJSON *g = cJSON_AddObjectToObject(doc, "graph");
    cJSON *pro = g ? cJSON_AddArrayToObject(g, "prologue") : NULL;
    cJSON *layers = g ? cJSON_AddObjectToObject(g, "layers") : NULL;
    if (!pro || !layers) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    op(&bld, pro, "embedding", "x", 2, "@tok_embeddings", "tokens");
    num(&bld, layers, "count", (double)s->n_layers);
    cJSON *block = cJSON_AddArrayToObject(layers, "block");
    cJSON *epi = cJSON_AddArrayToObject(g, "epilogue");
    if (!block || !epi) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    llama_block(&bld, s, block);
    cJSON *o = op(&bld, epi, "rmsnorm", "h", 2, "x", "@norm");
    num(&bld, o, "eps", s->norm_eps);
    op(&bld, epi, "matmul", "logits", 2, "h", s->tied ? "@tok_embeddings" : "@output");
    if (bld.oom) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", s->name);
    }
    *out = doc;
    return LLMC_OK;
}

/* ---- model.json as a source ---- */

/* Rewrites a relative "file" of obj (a binding or the tokenizer) from src_dir to base_dir. */
static LlmcStatus rebase_file(cJSON *obj, const char *src_dir, const char *base_dir,
                              const char *src, const char *where, LlmcDiag *d)
{
    if (!cJSON_IsObject(obj))
        return LLMC_OK; /* the model.json checker reports malformed bindings */
    cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, "file");
    if (!cJSON_IsString(f) || f->valuestring[0] == '/')
        return LLMC_OK;
    char *joined = llmc_path_join(src_dir, f->valuestring);
    char *rel = joined ? fe_rel_path(joined, base_dir) : NULL;
    free(joined);
    if (!rel || !cJSON_ReplaceItemInObjectCaseSensitive(obj, "file", cJSON_CreateString(rel))) {
        free(rel);
        return llmc_fail(d, "%s: %s.file: out of memory", src, where);
    }
    free(rel);
    return LLMC_OK;
}

static LlmcStatus import_model_json(const char *src, const char *base_dir, cJSON **model,
                                    LlmcDiag *d)
{
    cJSON *doc;
    if (llmc_json_load(src, &doc, d))
        return LLMC_ERR;
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: expected a JSON object (a model.json), found another JSON value",
                         src);
    }
    /* A Hugging Face config.json given by its file: import its directory. */
    if (!cJSON_GetObjectItemCaseSensitive(doc, "llmc_model") &&
        cJSON_GetObjectItemCaseSensitive(doc, "architectures")) {
        cJSON_Delete(doc);
        char *hf = llmc_path_dir(src);
        if (!hf)
            return llmc_fail(d, "%s: out of memory", src);
        LlmcStatus s = llmc_import_hf(hf, base_dir, model, d);
        free(hf);
        return s;
    }
    char *dir = llmc_path_dir(src);
    if (!dir) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", src);
    }
    LlmcStatus s = LLMC_OK;
    cJSON *w = cJSON_GetObjectItemCaseSensitive(doc, "weights");
    if (cJSON_IsObject(w)) {
        cJSON *b;
        cJSON_ArrayForEach(b, w)
        {
            char where[512];
            snprintf(where, sizeof where, "weights.%s", b->string);
            if ((s = rebase_file(b, dir, base_dir, src, where, d)))
                break;
        }
    }
    if (!s)
        s = rebase_file(cJSON_GetObjectItemCaseSensitive(doc, "tokenizer"), dir, base_dir, src,
                        "tokenizer", d);
    free(dir);
    if (s) {
        cJSON_Delete(doc);
        return s;
    }
    *model = doc;
    return LLMC_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

LlmcStatus llmc_import(const char *src, const char *base_dir, cJSON **model, LlmcDiag *d)
{
    *model = NULL;
    struct stat sb;
    if (stat(src, &sb) != 0)
        return llmc_fail(d, "%s: cannot open: %s", src, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return llmc_import_hf(src, base_dir, model, d);
    if (ends_with(src, ".json"))
        return import_model_json(src, base_dir, model, d);
    return llmc_import_llama2c(src, NULL, base_dir, model, d);
}
