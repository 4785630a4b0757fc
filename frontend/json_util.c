/* json_util.c — JSON files in and out, and typed field readers whose errors name the field.
 *
 * Loading goes through cJSON; on a syntax error cJSON tells where it stopped (return_parse_end), from
 * which we compute a 1-based line and column (in bytes) and quote the text there, so the user sees
 * "model.json:12:7: JSON syntax error near '}, "dtype"...'". Saving pretty-prints and writes
 * atomically (nothing half-written under the final name).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_internal.h"

LlmcStatus llmc_json_load(const char *path, cJSON **out, LlmcDiag *d)
{
    char *buf;
    size_t size;
    *out = NULL;
    if (llmc_read_file(path, &buf, &size, d))
        return LLMC_ERR;
    const char *end = NULL;
    size_t nul = strlen(buf);
    cJSON *doc = nul == size ? cJSON_ParseWithOpts(buf, &end, 1) : NULL;
    if (!doc) {
        /* Where the parser stopped (an embedded NUL byte stops everything at that byte). */
        size_t at = nul < size ? nul : (end && end >= buf && end <= buf + size ? (size_t)(end - buf) : 0);
        int line = 1, col = 1;
        for (size_t i = 0; i < at; i++) {
            if (buf[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        char near[48];
        size_t k = 0;
        for (size_t i = at; i < size && k < 24; i++) {
            unsigned char c = (unsigned char)buf[i];
            if (c == '\n' || c == '\r' || c == '\t')
                c = ' ';
            if (c < 32 || c == 127)
                c = '?';
            near[k++] = (char)c;
        }
        near[k] = 0;
        LlmcStatus s;
        if (nul < size)
            s = llmc_fail(d, "%s:%d:%d: JSON syntax error: NUL byte in the file", path, line, col);
        else if (k == 0)
            s = llmc_fail(d, "%s:%d:%d: JSON syntax error near end of file (unterminated value?)",
                          path, line, col);
        else
            s = llmc_fail(d, "%s:%d:%d: JSON syntax error near '%s'", path, line, col, near);
        free(buf);
        return s;
    }
    free(buf);
    *out = doc;
    return LLMC_OK;
}

LlmcStatus llmc_json_save(const char *path, const cJSON *doc, LlmcDiag *d)
{
    char *text = cJSON_Print(doc);
    if (!text)
        return llmc_fail(d, "%s: out of memory while formatting JSON", path);
    size_t n = strlen(text);
    char *buf = malloc(n + 2);
    if (!buf) {
        cJSON_free(text);
        return llmc_fail(d, "%s: out of memory", path);
    }
    memcpy(buf, text, n);
    buf[n] = '\n';
    cJSON_free(text);
    LlmcStatus s = llmc_write_file_atomic(path, buf, n + 1, d);
    free(buf);
    return s;
}

void fe_json_repr(const cJSON *v, char *buf, size_t n)
{
    if (!v) {
        snprintf(buf, n, "missing");
        return;
    }
    char *t = cJSON_PrintUnformatted(v);
    if (!t) {
        snprintf(buf, n, "?");
        return;
    }
    if (strlen(t) > 60)
        snprintf(buf, n, "%.57s...", t);
    else
        snprintf(buf, n, "%s", t);
    cJSON_free(t);
}

int fe_json_is_int(const cJSON *v, double lo, double hi)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double x = v->valuedouble;
    return isfinite(x) && x == floor(x) && x >= lo && x <= hi;
}

void fe_shape_str(int rank, const int64_t *shape, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

LlmcStatus fe_json_int(const cJSON *obj, const char *key, const char *file, int required,
                       int64_t def, int64_t lo, int64_t hi, int64_t *out, LlmcDiag *d)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return llmc_fail(d, "%s: %s: expected an integer, found nothing (the field is required)",
                             file, key);
        *out = def;
        return LLMC_OK;
    }
    if (!fe_json_is_int(v, (double)lo, (double)hi)) {
        char r[80];
        fe_json_repr(v, r, sizeof r);
        return llmc_fail(d, "%s: %s: expected an integer in [%lld, %lld], found %s", file, key,
                         (long long)lo, (long long)hi, r);
    }
    *out = (int64_t)v->valuedouble;
    return LLMC_OK;
}

LlmcStatus fe_json_num(const cJSON *obj, const char *key, const char *file, int required,
                       double def, double lo, double hi, double *out, LlmcDiag *d)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return llmc_fail(d, "%s: %s: expected a number, found nothing (the field is required)",
                             file, key);
        *out = def;
        return LLMC_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || !(v->valuedouble > lo) ||
        !(v->valuedouble <= hi)) {
        char r[80];
        fe_json_repr(v, r, sizeof r);
        return llmc_fail(d, "%s: %s: expected a number in (%g, %g], found %s", file, key, lo, hi, r);
    }
    *out = v->valuedouble;
    return LLMC_OK;
}

LlmcStatus fe_json_bool(const cJSON *obj, const char *key, const char *file, int def, int *out,
                        LlmcDiag *d)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return LLMC_OK;
    }
    if (!cJSON_IsBool(v)) {
        char r[80];
        fe_json_repr(v, r, sizeof r);
        return llmc_fail(d, "%s: %s: expected true or false, found %s", file, key, r);
    }
    *out = cJSON_IsTrue(v);
    return LLMC_OK;
}

const char *fe_json_kind(const cJSON *v)
{
    if (!v)
        return "nothing";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsBool(v))
        return "a boolean";
    return "null";
}
