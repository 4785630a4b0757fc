/* import.c — llmc_import: the dispatcher. It tells the kind of SRC apart and hands it to the
 * importer for it: a directory is a Hugging Face checkpoint (import_hf.c), a .json file a
 * model.json (re-rooted here: its relative files are rewritten for the new base directory) or a
 * Hugging Face config.json naming its directory, anything else a llama2.c checkpoint
 * (import_llama2c.c). The importers build their document with the Llama graph builder
 * (llama_graph.c) and know nothing of this file or of each other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fe_internal.h"

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

static LlmcStatus import_model_json(const char *src, const LlmcImportOptions *opt, const char *base_dir,
                                    cJSON **model, LlmcDiag *d)
{
    const char *tokenizer = opt->tokenizer;
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
        LlmcStatus s = fe_import_hf(hf, opt, base_dir, model, d);
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
    if (!s && tokenizer)
        s = llmc_set_tokenizer(doc, tokenizer, base_dir, d);
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

/* ---- --tokenizer FILE ---- */

/* The tokenizer formats a model.json names, told apart by the file's name, else by its first
 * bytes. A new format is one line (and its model.json name in model_json.c). */
static const struct {
    const char *format;               /* model.json tokenizer.format; NULL: not read yet */
    const char *suffix;               /* file name ending */
    int first_byte;                   /* the file's first byte, -1: any */
    const char *what;
} kTokFiles[] = {
    {"sentencepiece", ".model", 0x0a, "a SentencePiece tokenizer.model"},
    {NULL, ".json", '{', "a tokenizer.json"},
    {"llama2c", ".bin", -1, "a llama2.c tokenizer.bin"},
};

LlmcStatus llmc_set_tokenizer(cJSON *model, const char *file, const char *base_dir, LlmcDiag *d)
{
    if (!cJSON_IsObject(model))
        return LLMC_OK;                 /* the model.json reader says what is wrong with it */
    struct stat sb;
    if (stat(file, &sb) != 0)
        return llmc_fail(d, "--tokenizer %s: cannot open: %s", file, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return llmc_fail(d, "--tokenizer %s: is a directory; expected a tokenizer file (tokenizer.model, "
                         "tokenizer.bin)", file);
    int first = -1;
    FILE *f = fopen(file, "rb");
    if (f) {
        first = fgetc(f);
        fclose(f);
    }
    size_t n = sizeof kTokFiles / sizeof kTokFiles[0], k = n;
    for (size_t i = 0; i < n && k == n; i++)
        if (ends_with(file, kTokFiles[i].suffix))
            k = i;
    for (size_t i = 0; i < n && k == n; i++)
        if (kTokFiles[i].first_byte < 0 || kTokFiles[i].first_byte == first)
            k = i;
    if (!kTokFiles[k].format)
        return llmc_fail(d, "--tokenizer %s: %s is not supported yet (SentencePiece tokenizer.model and "
                         "llama2.c tokenizer.bin are)", file, kTokFiles[k].what);
    char *rel = fe_rel_path(file, base_dir);
    cJSON *t = cJSON_CreateObject();
    if (!rel || !t || !cJSON_AddStringToObject(t, "format", kTokFiles[k].format) ||
        !cJSON_AddStringToObject(t, "file", rel)) {
        free(rel);
        cJSON_Delete(t);
        return llmc_fail(d, "--tokenizer %s: out of memory", file);
    }
    free(rel);
    cJSON_DeleteItemFromObjectCaseSensitive(model, "tokenizer");
    if (!cJSON_AddItemToObject(model, "tokenizer", t)) {
        cJSON_Delete(t);
        return llmc_fail(d, "--tokenizer %s: out of memory", file);
    }
    return LLMC_OK;
}

LlmcStatus llmc_import(const char *src, const char *base_dir, cJSON **model, LlmcDiag *d)
{
    return llmc_import_tok(src, NULL, base_dir, model, d);
}

LlmcStatus llmc_import_tok(const char *src, const char *tokenizer, const char *base_dir, cJSON **model,
                           LlmcDiag *d)
{
    LlmcImportOptions o = {.tokenizer = tokenizer};
    return llmc_import_opts(src, &o, base_dir, model, d);
}

LlmcStatus llmc_import_opts(const char *src, const LlmcImportOptions *opt, const char *base_dir, cJSON **model,
                            LlmcDiag *d)
{
    const char *tokenizer = opt->tokenizer;
    *model = NULL;
    struct stat sb;
    if (stat(src, &sb) != 0)
        return llmc_fail(d, "%s: cannot open: %s", src, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return fe_import_hf(src, opt, base_dir, model, d);
    if (ends_with(src, ".json"))
        return import_model_json(src, opt, base_dir, model, d);
    return llmc_import_llama2c(src, tokenizer, base_dir, model, d);
}
