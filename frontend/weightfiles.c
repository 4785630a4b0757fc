/* weightfiles.c — resolves model.json weight bindings to bytes.
 *
 * A binding names a file and either a safetensors tensor or a raw byte offset. Files are mapped once
 * (read-only) and kept in a small cache owned by the LlmcWeightFiles handle, so a model whose 291
 * bindings point into four shards maps four files. The same path may be used both ways (raw and
 * safetensors); each use has its own entry. llmc_wf_source() offers the files to the later layers as
 * an IR-level weight source (ir/weights.h).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_internal.h"

typedef struct WfEntry {
    char *path;
    int is_st;
    LlmcSafetensors st;               /* is_st */
    uint8_t *map;                     /* raw */
    size_t size;
} WfEntry;

/* An act-order permutation computed from a g_idx tensor (prequant.c), kept while the files are. */
typedef struct WfPerm {
    char *file, *tensor;
    int64_t K, group;
    int32_t *perm;
} WfPerm;

struct LlmcWeightFiles {
    WfEntry *e;
    int n, cap;
    WfPerm *perm;
    int n_perm, cap_perm;
};

LlmcWeightFiles *llmc_wf_new(void) { return calloc(1, sizeof(LlmcWeightFiles)); }

void llmc_wf_free(LlmcWeightFiles *wf)
{
    if (!wf)
        return;
    for (int i = 0; i < wf->n; i++) {
        if (wf->e[i].is_st)
            llmc_st_close(&wf->e[i].st);
        else if (wf->e[i].map)
            munmap(wf->e[i].map, wf->e[i].size);
        free(wf->e[i].path);
    }
    for (int i = 0; i < wf->n_perm; i++) {
        free(wf->perm[i].file);
        free(wf->perm[i].tensor);
        free(wf->perm[i].perm);
    }
    free(wf->perm);
    free(wf->e);
    free(wf);
}

static LlmcStatus map_raw(WfEntry *e, const char *path, LlmcDiag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return llmc_fail(d, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb = {0};
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return llmc_fail(d, "%s: is %s, expected a file", path, llmc_file_kind(sb.st_mode));
    }
    e->size = (size_t)sb.st_size;
    e->map = NULL;
    if (e->size) {
        void *m = mmap(NULL, e->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            LlmcStatus s = llmc_fail(d, "%s: cannot map: %s", path, strerror(errno));
            close(fd);
            return s;
        }
        e->map = m;
    }
    close(fd);
    return LLMC_OK;
}

static LlmcStatus wf_get(LlmcWeightFiles *wf, const char *path, int is_st, WfEntry **out,
                         LlmcDiag *d)
{
    for (int i = 0; i < wf->n; i++)
        if (wf->e[i].is_st == is_st && strcmp(wf->e[i].path, path) == 0) {
            *out = &wf->e[i];
            return LLMC_OK;
        }
    if (wf->n == wf->cap) {
        int cap = wf->cap ? wf->cap * 2 : 8;
        WfEntry *ne = realloc(wf->e, (size_t)cap * sizeof *ne);
        if (!ne)
            return llmc_fail(d, "%s: out of memory", path);
        wf->e = ne;
        wf->cap = cap;
    }
    WfEntry e = {0};
    e.is_st = is_st;
    e.path = llmc_strdup(path);
    if (!e.path)
        return llmc_fail(d, "%s: out of memory", path);
    LlmcStatus s = is_st ? llmc_st_open(&e.st, path, d) : map_raw(&e, path, d);
    if (s) {
        free(e.path);
        return s;
    }
    wf->e[wf->n] = e;
    *out = &wf->e[wf->n++];
    return LLMC_OK;
}

LlmcStatus llmc_wf_resolve(LlmcWeightFiles *wf, const char *path, const char *tensor, int64_t offset,
                           LlmcDType dtype, int rank, const int64_t *shape, const uint8_t **data,
                           const char *where, LlmcDiag *d)
{
    *data = NULL;
    char want[200];
    if (rank < 0 || rank > LLMC_ST_MAX_RANK)
        return llmc_fail(d, "%s: expected at most %d dimensions, found %d", where, LLMC_ST_MAX_RANK,
                         rank);
    if (dtype != LLMC_F32 && dtype != LLMC_F16 && dtype != LLMC_BF16 && dtype != LLMC_I32 && dtype != LLMC_U8 &&
        dtype != LLMC_E4M3)
        return llmc_fail(d, "%s: dtype: expected f32, f16, bf16, i32, u8 or e4m3, found %s", where,
                         llmc_dtype_name(dtype));
    fe_shape_str(rank, shape, want, sizeof want);
    uint64_t bytes = llmc_dtype_size(dtype);
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return llmc_fail(d, "%s: shape %s: dimensions must be non-negative", where, want);
        if (shape[i] && bytes > UINT64_MAX / 2 / (uint64_t)shape[i])
            return llmc_fail(d, "%s: shape %s is too large", where, want);
        bytes *= (uint64_t)shape[i];
    }
    WfEntry *e = NULL;
    LlmcDiag sub;
    if (wf_get(wf, path, tensor != NULL, &e, &sub))
        return llmc_fail(d, "%s: %s", where, sub.msg);

    if (tensor) {
        const LlmcStTensor *t = llmc_st_find(&e->st, tensor);
        if (!t)
            return llmc_fail(d, "%s: tensor '%s' not found in %s", where, tensor, path);
        int same = t->dtype == dtype && t->rank == rank;
        for (int i = 0; same && i < rank; i++)
            same = t->shape[i] == shape[i];
        if (t->dtype == dtype && t->rank == 0 && rank == 1 && shape[0] == 1)
            same = 1; /* a scalar binds as [1] */
        if (!same) {
            char found[200];
            fe_shape_str(t->rank, t->shape, found, sizeof found);
            return llmc_fail(d, "%s: tensor '%s' in %s: expected %s %s, found %s %s", where, tensor,
                             path, want, llmc_dtype_name(dtype), found, llmc_dtype_name(t->dtype));
        }
        *data = t->data;
        return LLMC_OK;
    }
    if (offset < 0)
        return llmc_fail(d, "%s: offset: expected a non-negative byte offset, found %lld", where,
                         (long long)offset);
    if ((uint64_t)offset > e->size || bytes > e->size - (uint64_t)offset)
        return llmc_fail(d, "%s: %s %s at offset %lld needs bytes [%lld, %llu) but %s holds %zu bytes",
                         where, want, llmc_dtype_name(dtype), (long long)offset, (long long)offset,
                         (unsigned long long)((uint64_t)offset + bytes), path, e->size);
    *data = e->map ? e->map + offset : (const uint8_t *)"";
    return LLMC_OK;
}

/* ---- the IR-level weight source (ir/weights.h) over these files ---- */

/* The shape of t as its file stores it: stacked experts are [stack, rows / stack, cols]. */
static int file_shape(const LlmcTensor *t, int64_t *shape)
{
    if (t->src.stack > 0) {
        shape[0] = t->src.stack;
        shape[1] = t->shape.dim[0] / t->src.stack;
        shape[2] = t->shape.dim[1];
        return 3;
    }
    for (int i = 0; i < t->shape.rank; i++)
        shape[i] = t->shape.dim[i];
    return t->shape.rank;
}

LlmcStatus llmc_wf_resolve_tensor(LlmcWeightFiles *wf, const LlmcTensor *t, const uint8_t **data, LlmcDiag *d)
{
    assert(t->kind == LLMC_T_WEIGHT && t->src.n_parts == 0);
    int64_t shape[LLMC_MAX_RANK];
    int rank = file_shape(t, shape);
    return llmc_wf_resolve(wf, t->src.file, t->src.tensor, t->src.offset, t->src.file_dtype, rank, shape, data,
                           t->src.where, d);
}

/* The act-order permutation of the g_idx tensor bound by t (file, tensor; K elements), in groups
 * of `group`: computed once, then kept. */
static LlmcStatus wf_perm(LlmcWeightFiles *wf, const LlmcTensor *t, int64_t group, const int32_t **perm,
                          LlmcDiag *d)
{
    int64_t K = t->shape.dim[0];
    for (int i = 0; i < wf->n_perm; i++) {
        const WfPerm *p = &wf->perm[i];
        if (p->K == K && p->group == group && strcmp(p->file, t->src.file) == 0 &&
            strcmp(p->tensor, t->src.tensor ? t->src.tensor : "") == 0) {
            *perm = p->perm;
            return LLMC_OK;
        }
    }
    const uint8_t *g_idx;
    if (llmc_wf_resolve_tensor(wf, t, &g_idx, d))
        return LLMC_ERR;
    if (wf->n_perm == wf->cap_perm) {
        int cap = wf->cap_perm ? 2 * wf->cap_perm : 16;
        WfPerm *np = realloc(wf->perm, (size_t)cap * sizeof *np);
        if (!np)
            return llmc_fail(d, "%s: out of memory", t->src.where);
        wf->perm = np;
        wf->cap_perm = cap;
    }
    WfPerm p = {llmc_strdup(t->src.file), llmc_strdup(t->src.tensor ? t->src.tensor : ""), K, group,
                malloc((size_t)K * sizeof(int32_t))};
    char what[600];
    snprintf(what, sizeof what, "%s: %s", t->src.file, t->src.tensor ? t->src.tensor : "g_idx");
    if (!p.file || !p.tensor || !p.perm || fe_pq_perm(g_idx, K, group, p.perm, what, d)) {
        LlmcStatus s = !p.file || !p.tensor || !p.perm ? llmc_fail(d, "%s: out of memory", t->src.where) : LLMC_ERR;
        free(p.file);
        free(p.tensor);
        free(p.perm);
        return s;
    }
    wf->perm[wf->n_perm++] = p;
    *perm = p.perm;
    return LLMC_OK;
}

static LlmcStatus source_raw(void *ctx, const LlmcTensor *t, const uint8_t **data, LlmcDiag *d)
{
    assert(t->kind == LLMC_T_WEIGHT && t->src.n_parts == 0 && t->src.pq.kind == LLMC_PQ_NONE);
    if (t->src.perm_group > 0) {
        const int32_t *perm;
        if (wf_perm(ctx, t, t->src.perm_group, &perm, d))
            return LLMC_ERR;
        *data = (const uint8_t *)perm;
        return LLMC_OK;
    }
    return llmc_wf_resolve_tensor(ctx, t, data, d);
}

static LlmcStatus source_read_f32(void *ctx, const LlmcTensor *t, int64_t first, int64_t n, float *out, LlmcDiag *d)
{
    const uint8_t *data;
    if (source_raw(ctx, t, &data, d))
        return LLMC_ERR;
    assert(first >= 0 && n >= 0 && first + n <= llmc_shape_numel(&t->shape, 0, 0));
    LlmcDType dt = t->src.file_dtype;
    llmc_format(dt)->to_f32(data + llmc_format_bytes(dt, first), out, n);
    if (t->src.add != 0)
        for (int64_t i = 0; i < n; i++)
            out[i] = out[i] + (float)t->src.add;
    return LLMC_OK;
}

static LlmcStatus source_quant_rows(void *ctx, const LlmcGraph *g, int t, int64_t r0, int64_t n, uint8_t *q,
                                    float *const *side, LlmcDiag *d)
{
    const LlmcTensor *w = &g->t[t];
    const LlmcPrequant *pq = &w->src.pq;
    assert(pq->kind != LLMC_PQ_NONE && w->src.n_parts == 0);
    FePqData m = {.kind = pq->kind, .N = w->shape.dim[0], .K = w->shape.dim[1], .group = pq->group,
                  .zeros = pq->zeros};
    for (int i = 0; i < LLMC_PQ_MEMBERS; i++) {
        if (pq->member[i] < 0)
            continue;
        const LlmcTensor *x = &g->t[pq->member[i]];
        if (llmc_wf_resolve_tensor(ctx, x, &m.data[i], d))
            return LLMC_ERR;
        m.dtype[i] = x->src.file_dtype;
        m.name[i] = x->src.tensor ? x->src.tensor : x->name;
        m.file[i] = x->src.file;
    }
    /* GPTQ's g_idx: an act-order permutation, or checked to be the plain grouping k / group. */
    if ((pq->kind == LLMC_PQ_GPTQ || pq->kind == LLMC_PQ_GPTQ_V2) && pq->member[3] >= 0) {
        const int32_t *perm;
        if (wf_perm(ctx, &g->t[pq->member[3]], pq->group, &perm, d))
            return LLMC_ERR;
        int plain = fe_pq_perm_is_identity(perm, m.K);
        if (!pq->act_order && !plain)
            return llmc_fail(d, "%s: %s: the groups are not k / %d (act-order) but the binding says act_order "
                             "false (in %s)", w->src.where, m.name[3], (int)pq->group, m.file[3]);
        m.perm = plain ? NULL : perm;
    }
    return fe_pq_rows(&m, r0, n, q, side, d);
}

LlmcWeightSource llmc_wf_source(LlmcWeightFiles *wf)
{
    return (LlmcWeightSource){.ctx = wf, .raw = source_raw, .read_f32 = source_read_f32,
                              .quant_rows = source_quant_rows};
}
