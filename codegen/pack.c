/* pack.c — writes the weights the graph reads, at their planned offsets, converted from the file's
 * dtype to their storage format (merged weights are their parts' rows one after another). The
 * order and bytes depend only on the graph and the files: the same inputs give the same payload.
 * The bytes come from an IR-level weight source (ir/weights.h), whatever the frontend read. */
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

#define CHUNK (1 << 20) /* elements converted at a time */

static LlmcStatus resolve(const LlmcWeightSource *ws, const LlmcTensor *t, const uint8_t **data, LlmcDiag *d)
{
    return ws->raw(ws->ctx, t, data, d);
}

static int by_offset(const void *a, const void *b, void *g)
{
    const LlmcGraph *gg = g;
    int64_t x = gg->t[*(const int *)a].offset, y = gg->t[*(const int *)b].offset;
    return (x > y) - (x < y);
}

static LlmcStatus write_tensor(const LlmcGraph *g, const LlmcWeightSource *ws, const LlmcTensor *t, LlmcOutFile *o,
                               uint8_t *buf, LlmcDiag *d)
{
    int n_parts = t->src.n_parts ? t->src.n_parts : 1;
    for (int p = 0; p < n_parts; p++) {
        const LlmcTensor *src = t->src.n_parts ? &g->t[t->src.parts[p]] : t;
        const uint8_t *data;
        if (resolve(ws, src, &data, d))
            return LLMC_ERR;
        int64_t n = llmc_shape_numel(&src->shape, 0, 0);
        for (int64_t i = 0; i < n; i += CHUNK) {
            int64_t m = n - i < CHUNK ? n - i : CHUNK;
            llmc_format_convert(data + llmc_format_bytes(src->src.file_dtype, i), src->src.file_dtype, buf, t->dtype, m);
            if (llmc_out_write(o, buf, (size_t)llmc_format_bytes(t->dtype, m), d))
                return LLMC_ERR;
        }
    }
    return LLMC_OK;
}

LlmcStatus llmc_pack_weights(const LlmcGraph *g, const LlmcWeightSource *ws, LlmcOutFile *o, int quiet, LlmcDiag *d)
{
    int *order = malloc(((size_t)g->nt + 1) * sizeof *order);
    uint8_t *buf = malloc((size_t)CHUNK * 4);
    static const uint8_t zeros[64];
    if (!order || !buf) {
        free(order);
        free(buf);
        return llmc_fail(d, "packing weights: out of memory");
    }
    int n = 0;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].kind == LLMC_T_WEIGHT && g->t[i].offset >= 0)
            order[n++] = i;
    qsort_r(order, (size_t)n, sizeof *order, by_offset, (void *)g);
    int64_t pos = 0, next_report = INT64_C(1) << 30;
    LlmcStatus st = LLMC_OK;
    for (int k = 0; k < n && !st; k++) {
        const LlmcTensor *t = &g->t[order[k]];
        while (pos < t->offset && !st) {
            int64_t pad = t->offset - pos < 64 ? t->offset - pos : 64;
            st = llmc_out_write(o, zeros, (size_t)pad, d);
            pos += pad;
        }
        if (!st)
            st = write_tensor(g, ws, t, o, buf, d);
        pos += t->bytes;
        if (!quiet && pos >= next_report) {
            fprintf(stderr, "llmc: packed %.1f of %.1f GB of weights\n", (double)pos / 1e9, (double)g->weights_bytes / 1e9);
            next_report += INT64_C(1) << 30;
        }
    }
    while (!st && pos < g->weights_bytes) {
        int64_t pad = g->weights_bytes - pos < 64 ? g->weights_bytes - pos : 64;
        st = llmc_out_write(o, zeros, (size_t)pad, d);
        pos += pad;
    }
    free(order);
    free(buf);
    return st;
}

LlmcStatus llmc_model_hash(const LlmcGraph *g, const LlmcTarget *tg, const LlmcWeightSource *ws, const void *tok,
                           size_t tok_size, uint64_t *hash, LlmcDiag *d)
{
    uint64_t h = LLMC_FNV_INIT;
    char *dump = llmc_graph_dump_str(g);
    if (!dump)
        return llmc_fail(d, "hashing the model: out of memory");
    h = llmc_fnv1a(h, dump, strlen(dump));
    free(dump);
    h = llmc_fnv1a(h, tg->name, strlen(tg->name));
    h = llmc_fnv1a(h, LLMC_VERSION, strlen(LLMC_VERSION));
    if (tok)
        h = llmc_fnv1a(h, tok, tok_size);
    /* Samples of every weight the graph reads, in order of first use (independent of the order of
     * the bindings in model.json), merged weights through their parts. */
    uint8_t *seen = calloc((size_t)g->nt + 1, 1);
    if (!seen)
        return llmc_fail(d, "hashing the model: out of memory");
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_in; j++) {
            const LlmcTensor *w = &g->t[g->n[i].in[j]];
            if (w->kind != LLMC_T_WEIGHT || seen[g->n[i].in[j]])
                continue;
            seen[g->n[i].in[j]] = 1;
            int parts = w->src.n_parts ? w->src.n_parts : 1;
            for (int p = 0; p < parts; p++) {
                const LlmcTensor *t = w->src.n_parts ? &g->t[w->src.parts[p]] : w;
                const uint8_t *data;
                if (resolve(ws, t, &data, d)) {
                    free(seen);
                    return LLMC_ERR;
                }
                size_t bytes = (size_t)llmc_format_bytes(t->src.file_dtype, llmc_shape_numel(&t->shape, 0, 0));
                size_t s = bytes < 256 ? bytes : 256;
                h = llmc_fnv1a(h, data, s);
                h = llmc_fnv1a(h, data + bytes - s, s);
            }
        }
    free(seen);
    *hash = h;
    return LLMC_OK;
}
