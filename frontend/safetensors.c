/* safetensors.c — the safetensors reader: the file is mapped read-only and checked whole before any
 * tensor is handed out.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON (an object: tensor name →
 * {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional "__metadata__" object), then the
 * data area; offsets are relative to the start of the data area. We accept F32, F16, BF16, I32, U8
 * and F8_E4M3 only (the compiler converts weights itself; the integer and fp8 tensors hold the
 * packed values and scales of quantized checkpoints, which only their encodings read:
 * frontend/prequant.c; other dtypes would need a meaning we don't guess). Everything a damaged or hostile file could do wrong is refused with the file, the tensor
 * and what was expected: a header running past the end, a header too large to be sane, a shape that
 * disagrees with the byte range, ranges past the data area or overlapping one another.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_internal.h"

#define ST_MAX_HEADER (100u * 1000u * 1000u)

static int by_begin(const void *a, const void *b)
{
    const LlmcStTensor *x = *(const LlmcStTensor *const *)a, *y = *(const LlmcStTensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data ? 1 : 0;
}

static int by_name(const void *a, const void *b)
{
    const LlmcStTensor *x = *(const LlmcStTensor *const *)a, *y = *(const LlmcStTensor *const *)b;
    return strcmp(x->name, y->name);
}

/* Parses one tensor entry into t; data points into the data area `base` of `dsize` bytes. */
static LlmcStatus st_tensor(const char *path, const cJSON *e, const uint8_t *base, uint64_t dsize,
                            LlmcStTensor *t, LlmcDiag *d)
{
    const char *name = e->string;
    char r[80];
    if (!cJSON_IsObject(e)) {
        fe_json_repr(e, r, sizeof r);
        return llmc_fail(d, "%s: tensor '%s': expected an object with dtype, shape and data_offsets, "
                         "found %s", path, name, r);
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt)) {
        fe_json_repr(dt, r, sizeof r);
        return llmc_fail(d, "%s: tensor '%s': dtype: expected a string, found %s", path, name, r);
    }
    if (strcmp(dt->valuestring, "F32") == 0)
        t->dtype = LLMC_F32;
    else if (strcmp(dt->valuestring, "F16") == 0)
        t->dtype = LLMC_F16;
    else if (strcmp(dt->valuestring, "BF16") == 0)
        t->dtype = LLMC_BF16;
    else if (strcmp(dt->valuestring, "I32") == 0)
        t->dtype = LLMC_I32;
    else if (strcmp(dt->valuestring, "U8") == 0)
        t->dtype = LLMC_U8;
    else if (strcmp(dt->valuestring, "F8_E4M3") == 0)
        t->dtype = LLMC_E4M3;
    else
        return llmc_fail(d, "%s: tensor '%s': dtype: expected F32, F16, BF16, I32, U8 or F8_E4M3, found '%.40s' "
                         "(not supported)", path, name, dt->valuestring);

    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(sh)) {
        fe_json_repr(sh, r, sizeof r);
        return llmc_fail(d, "%s: tensor '%s': shape: expected an array, found %s", path, name, r);
    }
    int rank = cJSON_GetArraySize(sh);
    if (rank > LLMC_ST_MAX_RANK)
        return llmc_fail(d, "%s: tensor '%s': shape: expected at most %d dimensions, found %d", path,
                         name, LLMC_ST_MAX_RANK, rank);
    t->rank = rank;
    uint64_t elems = 1;
    int overflow = 0;
    for (int i = 0; i < rank; i++) {
        const cJSON *v = cJSON_GetArrayItem(sh, i);
        if (!fe_json_is_int(v, 0, 9007199254740992.0)) {
            fe_json_repr(v, r, sizeof r);
            return llmc_fail(d, "%s: tensor '%s': shape[%d]: expected a non-negative integer, found %s",
                             path, name, i, r);
        }
        t->shape[i] = (int64_t)v->valuedouble;
        uint64_t n = (uint64_t)t->shape[i];
        if (n && elems > UINT64_MAX / 8 / n)
            overflow = 1;
        else
            elems *= n;
    }
    char shs[160];
    fe_shape_str(rank, t->shape, shs, sizeof shs);

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        !fe_json_is_int(cJSON_GetArrayItem(off, 0), 0, 18446744073709549568.0) ||
        !fe_json_is_int(cJSON_GetArrayItem(off, 1), 0, 18446744073709549568.0)) {
        fe_json_repr(off, r, sizeof r);
        return llmc_fail(d, "%s: tensor '%s': data_offsets: expected [begin, end] (non-negative "
                         "integers), found %s", path, name, r);
    }
    uint64_t b = (uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble;
    uint64_t en = (uint64_t)cJSON_GetArrayItem(off, 1)->valuedouble;
    if (b > en)
        return llmc_fail(d, "%s: tensor '%s': data_offsets [%llu, %llu]: begin is past end", path,
                         name, (unsigned long long)b, (unsigned long long)en);
    if (en > dsize)
        return llmc_fail(d, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the data "
                         "area (%llu bytes)", path, name, (unsigned long long)b,
                         (unsigned long long)en, (unsigned long long)dsize);
    size_t es = llmc_dtype_size(t->dtype);
    if (overflow || en - b != elems * es) {
        if (overflow)
            return llmc_fail(d, "%s: tensor '%s': shape %s is too large", path, name, shs);
        return llmc_fail(d, "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, shape %s "
                         "%s needs %llu", path, name, (unsigned long long)b, (unsigned long long)en,
                         (unsigned long long)(en - b), shs, llmc_dtype_name(t->dtype),
                         (unsigned long long)(elems * es));
    }
    t->size = en - b;
    t->data = base + b;
    t->name = llmc_strdup(name);
    if (!t->name)
        return llmc_fail(d, "%s: out of memory", path);
    return LLMC_OK;
}

static LlmcStatus st_parse(LlmcSafetensors *st, const char *path, LlmcDiag *d)
{
    if (st->map_size < 8)
        return llmc_fail(d, "%s: not a safetensors file: %zu bytes, too small for the 8-byte header "
                         "length", path, st->map_size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | st->map[i];
    if (hlen > st->map_size - 8)
        return llmc_fail(d, "%s: not a safetensors file (or truncated): header length %llu runs past "
                         "the end of the file (%zu bytes)", path, (unsigned long long)hlen,
                         st->map_size);
    if (hlen >= ST_MAX_HEADER)
        return llmc_fail(d, "%s: header length %llu is not sane (expected under %u bytes)", path,
                         (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen < 2)
        return llmc_fail(d, "%s: header length %llu is too small for a JSON object", path,
                         (unsigned long long)hlen);
    const char *h = (const char *)st->map + 8;
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, 0);
    if (!doc) {
        size_t at = end && end >= h && end <= h + hlen ? (size_t)(end - h) : 0;
        return llmc_fail(d, "%s: header is not valid JSON (error at byte %zu of %llu)", path, at,
                         (unsigned long long)hlen);
    }
    /* Only padding may follow the JSON value. */
    for (const char *p = end; p && p < h + hlen; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t' && *p != 0) {
            cJSON_Delete(doc);
            return llmc_fail(d, "%s: header: unexpected bytes after the JSON object (at byte %zu)",
                             path, (size_t)(p - h));
        }
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: header: expected a JSON object, found another JSON value", path);
    }
    const uint8_t *base = st->map + 8 + hlen;
    uint64_t dsize = st->map_size - 8 - hlen;
    int n = cJSON_GetArraySize(doc);
    st->tensors = calloc(n ? (size_t)n : 1, sizeof *st->tensors);
    if (!st->tensors) {
        cJSON_Delete(doc);
        return llmc_fail(d, "%s: out of memory", path);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, doc)
    {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) {
                cJSON_Delete(doc);
                return llmc_fail(d, "%s: __metadata__: expected an object", path);
            }
            continue;
        }
        if (st_tensor(path, e, base, dsize, &st->tensors[st->n_tensors], d)) {
            cJSON_Delete(doc);
            return LLMC_ERR;
        }
        st->n_tensors++;
    }
    cJSON_Delete(doc);

    /* Names unique, byte ranges disjoint. */
    LlmcStTensor **ix = malloc((st->n_tensors ? (size_t)st->n_tensors : 1) * sizeof *ix);
    if (!ix)
        return llmc_fail(d, "%s: out of memory", path);
    for (int i = 0; i < st->n_tensors; i++)
        ix[i] = &st->tensors[i];
    qsort(ix, (size_t)st->n_tensors, sizeof *ix, by_name);
    for (int i = 1; i < st->n_tensors; i++)
        if (strcmp(ix[i - 1]->name, ix[i]->name) == 0) {
            LlmcStatus s = llmc_fail(d, "%s: tensor '%s' appears twice in the header", path,
                                     ix[i]->name);
            free(ix);
            return s;
        }
    qsort(ix, (size_t)st->n_tensors, sizeof *ix, by_begin);
    const LlmcStTensor *last = NULL; /* the non-empty tensor reaching furthest so far */
    for (int i = 0; i < st->n_tensors; i++) {
        const LlmcStTensor *t = ix[i];
        if (t->size == 0)
            continue;
        if (last && last->data + last->size > t->data) {
            LlmcStatus s = llmc_fail(
                d, "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap", path, last->name,
                (unsigned long long)(last->data - base),
                (unsigned long long)(last->data - base + last->size), t->name,
                (unsigned long long)(t->data - base), (unsigned long long)(t->data - base + t->size));
            free(ix);
            return s;
        }
        if (!last || t->data + t->size > last->data + last->size)
            last = t;
    }
    free(ix);
    return LLMC_OK;
}

LlmcStatus llmc_st_open(LlmcSafetensors *st, const char *path, LlmcDiag *d)
{
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return llmc_fail(d, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb = {0};
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return llmc_fail(d, "%s: is %s, expected a file", path, llmc_file_kind(sb.st_mode));
    }
    st->path = llmc_strdup(path);
    st->map_size = (size_t)sb.st_size;
    if (st->map_size > 0) {
        void *m = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            LlmcStatus s = llmc_fail(d, "%s: cannot map: %s", path, strerror(errno));
            close(fd);
            llmc_st_close(st);
            return s;
        }
        st->map = m;
    }
    close(fd);
    if (!st->path) {
        llmc_st_close(st);
        return llmc_fail(d, "%s: out of memory", path);
    }
    if (st_parse(st, path, d)) {
        llmc_st_close(st);
        return LLMC_ERR;
    }
    return LLMC_OK;
}

const LlmcStTensor *llmc_st_find(const LlmcSafetensors *st, const char *name)
{
    for (int i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

void llmc_st_close(LlmcSafetensors *st)
{
    if (st->tensors) {
        for (int i = 0; i < st->n_tensors; i++)
            free(st->tensors[i].name);
        free(st->tensors);
    }
    if (st->map)
        munmap(st->map, st->map_size);
    free(st->path);
    memset(st, 0, sizeof *st);
}
