/* pack.c — writes the weights the graph reads, at their planned offsets, converted from the file's
 * dtype to their storage format (merged weights are their parts' rows one after another). The
 * order and bytes depend only on the graph and the files: the same inputs give the same payload.
 * The bytes come from an IR-level weight source (ir/weights.h), whatever the frontend read. */
#include <math.h>
#include <stdio.h>
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

/* Weights must be finite: the first NaN or infinity of a tensor is an error naming the tensor as
 * its checkpoint does (src.ckpt; llmc's name when it has none) and its flat index. The
 * packer checks each value as it converts it, so nothing is read twice or held in full. */
static LlmcStatus not_finite(const LlmcTensor *src, int64_t at, float v, LlmcDiag *d)
{
    return llmc_fail(d, "%s: element %lld is %s (weights must be finite; in %s)",
                     src->src.ckpt ? src->src.ckpt : src->name, (long long)at,
                     v != v ? "NaN" : v > 0 ? "+inf" : "-inf", src->src.file ? src->src.file : "?");
}

/* Converts n elements of src (the part `part` of a weight, its elements from `first` on) from its
 * file's format to `to`, failing on the first value that is not finite. */
static LlmcStatus convert_finite(const LlmcTensor *part, int64_t first, const uint8_t *data, int64_t n, void *dst,
                                 LlmcDType to, LlmcDiag *d)
{
    enum { SUB = 512 }; /* a multiple of every block */
    LlmcDType from = part->src.file_dtype;
    float f[SUB];
    for (int64_t i = 0; i < n; i += SUB) {
        int64_t m = n - i < SUB ? n - i : SUB;
        llmc_format(from)->to_f32(data + llmc_format_bytes(from, i), f, m);
        for (int64_t k = 0; k < m; k++) {
            if (!isfinite(f[k]))
                return not_finite(part, first + i + k, f[k], d);
            if (part->src.add != 0) /* the binding's "add" (Gemma's 1 + w) */
                f[k] = f[k] + (float)part->src.add;
        }
        llmc_format(to)->from_f32(f, (uint8_t *)dst + llmc_format_bytes(to, i), m);
    }
    return LLMC_OK;
}

/* Row r of weight t (through its parts) as f32, into row[K]; an error if a value is not finite. */
static LlmcStatus source_row(const LlmcGraph *g, const LlmcWeightSource *ws, const LlmcTensor *t, int64_t r,
                             float *row, LlmcDiag *d)
{
    int64_t K = t->shape.dim[1];
    const LlmcTensor *src = t;
    for (int p = 0; p < t->src.n_parts; p++) {
        src = &g->t[t->src.parts[p]];
        if (r < src->shape.dim[0])
            break;
        r -= src->shape.dim[0];
    }
    const uint8_t *data;
    if (resolve(ws, src, &data, d))
        return LLMC_ERR;
    return convert_finite(src, r * K, data + llmc_format_bytes(src->src.file_dtype, r * K), K, row, LLMC_F32, d);
}

/* The side tensors (scales, zero points) computed with the values of a quantized weight, held until
 * the packer reaches them (plan_memory puts them right after it). */
typedef struct Derived {
    int tensor;
    uint8_t *bytes;
    int64_t n;
} Derived;

/* Row q (K values of format fmt, row-major) into order `order` in out (formats.def O lines: lane8
 * moves each 4-value run of a tile to its lane's slot; a run is whole bytes: u4 2, fp8 4). */
static void order_row(int order, LlmcDType fmt, int64_t K, const uint8_t *q, uint8_t *out)
{
    int64_t T = llmc_order_tile(fmt), E = T / 8, run = llmc_format_bytes(fmt, 4);
    for (int64_t t0 = 0; t0 < K; t0 += T)
        for (int64_t c = 0; c < E / 4; c++)
            for (int64_t l = 0; l < 8; l++) {
                int64_t from = t0 + 32 * c + 4 * l, to = llmc_order_index(order, fmt, from);
                memcpy(out + llmc_format_bytes(fmt, to), q + llmc_format_bytes(fmt, from), (size_t)run);
            }
}

/* A weight the checkpoint stores quantized (src.pq; a merged one through its parts): its rows as the
 * weight source decodes them (ir/weights.h quant_rows: llmc's format, nothing requantized), a block
 * of rows at a time, each shuffled into the layout's order and written; its GROUP sides' values into
 * vals[i] (rows of ceil(K / group)), its TENSOR sides' into vals[i][0]. */
static LlmcStatus write_prequant(const LlmcGraph *g, const LlmcWeightSource *ws, const LlmcTensor *t, LlmcOutFile *o,
                                 float *const *vals, unsigned has, LlmcDiag *d)
{
    enum { BLOCK = 64 }; /* rows decoded at a time (AWQ and GPTQ pack 8 outputs a word) */
    const LlmcFormatTraits *f = llmc_format(t->dtype);
    int ns = llmc_format_n_sides(t->dtype);
    int64_t K = t->shape.dim[1], groups = (K + t->layout.group - 1) / t->layout.group;
    size_t rb = (size_t)llmc_format_bytes(t->dtype, K);
    uint8_t *q = malloc(rb * (BLOCK + 1)), *qo = q ? q + rb * BLOCK : NULL;
    if (!q)
        return llmc_fail(d, "%s: out of memory", t->name);
    LlmcStatus s = LLMC_OK;
    int64_t r = 0; /* rows of t written */
    for (int p = 0; p < (t->src.n_parts ? t->src.n_parts : 1) && !s; p++) {
        int part = t->src.n_parts ? t->src.parts[p] : (int)(t - g->t);
        int64_t rows = g->t[part].shape.dim[0];
        float tensor_side[LLMC_MAX_SIDES] = {0}; /* this part's TENSOR sides (NVFP4's tensor scale) */
        for (int64_t r0 = 0; r0 < rows && !s; r0 += BLOCK) {
            int64_t n = rows - r0 < BLOCK ? rows - r0 : BLOCK;
            float *sp[LLMC_MAX_SIDES] = {NULL};
            for (int i = 0; i < ns && !s; i++)
                if ((has >> i) & 1) {
                    if (f->side[i].shape == LLMC_SHAPE_GROUP)
                        sp[i] = vals[i] + (r + r0) * groups;
                    else if (f->side[i].shape == LLMC_SHAPE_TENSOR)
                        sp[i] = &tensor_side[i];
                    else
                        s = llmc_fail(d, "%s: imported quantized weights have group and tensor sides only", t->name);
                }
            if (s)
                break;
            s = ws->quant_rows(ws->ctx, g, part, r0, n, q, sp, d);
            /* A merged matrix has one value of a TENSOR side: its parts must agree (fuse_matmuls merges
             * only parts whose per-tensor member is one tensor). */
            for (int i = 0; i < ns && !s; i++)
                if (((has >> i) & 1) && f->side[i].shape == LLMC_SHAPE_TENSOR) {
                    if (p == 0)
                        vals[i][0] = tensor_side[i];
                    else if (vals[i][0] != tensor_side[i])
                        s = llmc_fail(d, "%s: its parts' per-tensor scales differ (%g, %g)", t->name,
                                      (double)vals[i][0], (double)tensor_side[i]);
                }
            for (int64_t k = 0; k < n && !s; k++) {
                const uint8_t *row = q + (size_t)k * rb;
                if (t->layout.order != LLMC_ORDER_ROW_MAJOR) {
                    order_row(t->layout.order, t->dtype, K, row, qo);
                    row = qo;
                }
                s = llmc_out_write(o, row, rb, d);
            }
        }
        r += rows;
    }
    free(q);
    return s;
}

/* A quantized weight (a layout with side tensors): its rows quantized by its format's quantizer
 * (formats.def `quant`, ir/quant.c), a pre-pass over the rows first when the format has one (ROW and
 * TENSOR sides: a whole-tensor statistic, streamed row by row), each row shuffled into the layout's
 * order and written; its side tensors' values held (dv) until the packer reaches them. */
static LlmcStatus write_quantized(const LlmcGraph *g, const LlmcWeightSource *ws, const LlmcTensor *t, LlmcOutFile *o,
                                  Derived *dv, int *n_dv, LlmcDiag *d)
{
    const LlmcFormatTraits *f = llmc_format(t->dtype);
    int ns = llmc_format_n_sides(t->dtype);
    int64_t N = t->shape.dim[0], K = t->shape.dim[1], group = t->layout.group;
    int64_t groups = (K + group - 1) / group;
    unsigned has = 0;
    int64_t count[LLMC_MAX_SIDES] = {0};   /* values of each side */
    float *vals[LLMC_MAX_SIDES] = {NULL};
    LlmcStatus s = LLMC_OK;
    for (int i = 0; i < ns; i++) {
        if (t->layout.side[i] < 0)
            continue;
        has |= 1u << i;
        int sh = f->side[i].shape;
        count[i] = sh == LLMC_SHAPE_GROUP ? N * groups : sh == LLMC_SHAPE_ROW ? N : 1;
        vals[i] = calloc((size_t)count[i], sizeof(float));
        if (!vals[i])
            s = llmc_fail(d, "%s: out of memory quantizing", t->name);
    }
    float *row = malloc((size_t)K * sizeof(float));
    size_t row_bytes = (size_t)llmc_format_bytes(t->dtype, K);
    uint8_t *q = malloc(row_bytes * 2), *qo = q ? q + row_bytes : NULL;
    if (!row || !q)
        s = llmc_fail(d, "%s: out of memory quantizing", t->name);
    if (!s && f->quant->prepass && t->src.pq.kind == LLMC_PQ_NONE) { /* an imported weight has its statistics */
        float acc[LLMC_MAX_SIDES] = {0};
        for (int64_t r = 0; r < N && !s; r++) {
            s = source_row(g, ws, t, r, row, d);
            if (s)
                break;
            f->quant->prepass(row, K, acc, has);
            for (int i = 0; i < ns; i++)
                if (((has >> i) & 1) && f->side[i].shape == LLMC_SHAPE_ROW)
                    vals[i][r] = acc[i];
        }
        f->quant->prepass(NULL, 0, acc, has);
        for (int i = 0; i < ns; i++)
            if (((has >> i) & 1) && f->side[i].shape == LLMC_SHAPE_TENSOR)
                vals[i][0] = acc[i];
    }
    if (!s && t->src.pq.kind != LLMC_PQ_NONE) /* stored quantized by the checkpoint: its values as they are */
        s = write_prequant(g, ws, t, o, vals, has, d);
    for (int64_t r = 0; r < N && !s && t->src.pq.kind == LLMC_PQ_NONE; r++) {
        s = source_row(g, ws, t, r, row, d);
        if (s)
            break;
        float *sp[LLMC_MAX_SIDES] = {NULL};
        for (int i = 0; i < ns; i++)
            if ((has >> i) & 1)
                sp[i] = vals[i] + (f->side[i].shape == LLMC_SHAPE_GROUP ? r * groups
                                   : f->side[i].shape == LLMC_SHAPE_ROW ? r
                                                                        : 0);
        llmc_quantize_row(t->dtype, K, group, row, q, sp, has);
        if (t->layout.order != LLMC_ORDER_ROW_MAJOR)
            order_row(t->layout.order, t->dtype, K, q, qo);
        s = llmc_out_write(o, t->layout.order != LLMC_ORDER_ROW_MAJOR ? qo : q, row_bytes, d);
    }
    /* The side tensors, in their formats. */
    for (int i = 0; i < ns && !s; i++) {
        if (!((has >> i) & 1))
            continue;
        const LlmcTensor *x = &g->t[t->layout.side[i]];
        int64_t bytes = llmc_format_bytes(x->dtype, count[i]);
        uint8_t *b = malloc((size_t)bytes);
        if (!b) {
            s = llmc_fail(d, "%s: out of memory", x->name);
            break;
        }
        llmc_format_convert(vals[i], LLMC_F32, b, x->dtype, count[i]);
        dv[*n_dv] = (Derived){t->layout.side[i], b, bytes};
        (*n_dv)++;
    }
    for (int i = 0; i < ns; i++)
        free(vals[i]);
    free(row);
    free(q);
    return s;
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
            if (convert_finite(src, i, data + llmc_format_bytes(src->src.file_dtype, i), m, buf, t->dtype, d) ||
                llmc_out_write(o, buf, (size_t)llmc_format_bytes(t->dtype, m), d))
                return LLMC_ERR;
        }
    }
    return LLMC_OK;
}

/* One rank's view of a weight source: a sharded weight reads as its rank's part (llmc_shard_view),
 * cut from the whole tensor's file bytes; the part is held until the next call asks for another
 * tensor (the packer uses one tensor's bytes at a time). */
typedef struct RankSource {
    const LlmcGraph *g;
    const LlmcWeightSource *ws;
    int rank;
    const LlmcTensor *held;       /* the tensor whose part `part` holds */
    uint8_t *part;
} RankSource;

static LlmcStatus rank_raw(void *ctx, const LlmcTensor *t, const uint8_t **data, LlmcDiag *d)
{
    RankSource *rs = ctx;
    if (t->src.shard == LLMC_SHARD_NONE)
        return rs->ws->raw(rs->ws->ctx, t, data, d);
    if (rs->held == t) {
        *data = rs->part;
        return LLMC_OK;
    }
    LlmcDType fd = t->src.file_dtype;
    if (llmc_format_bytes(fd, 64) != 64 * llmc_format_bytes(fd, 1))
        return llmc_fail(d, "%s: --tp cannot cut a tensor stored as %s (less than a byte a value) into ranks' parts",
                         t->src.ckpt ? t->src.ckpt : t->name, llmc_dtype_name(fd));
    LlmcShardView v = llmc_shard_view(rs->g, t, rs->rank);
    LlmcTensor whole = llmc_shard_whole(rs->g, t);
    const uint8_t *all;
    if (rs->ws->raw(rs->ws->ctx, &whole, &all, d))
        return LLMC_ERR;
    free(rs->part);
    rs->held = NULL;
    int64_t eb = llmc_format_bytes(fd, 1);
    rs->part = malloc((size_t)(v.nr * v.nc * eb) + 1);
    if (!rs->part)
        return llmc_fail(d, "%s: out of memory cutting a rank's part", t->name);
    for (int64_t r = 0; r < v.nr; r++)
        memcpy(rs->part + r * v.nc * eb, all + ((v.r0 + r) * v.cols + v.c0) * eb, (size_t)(v.nc * eb));
    rs->held = t;
    *data = rs->part;
    return LLMC_OK;
}

static LlmcStatus rank_read_f32(void *ctx, const LlmcTensor *t, int64_t first, int64_t n, float *out, LlmcDiag *d)
{
    RankSource *rs = ctx;
    if (t->src.shard == LLMC_SHARD_NONE)
        return rs->ws->read_f32(rs->ws->ctx, t, first, n, out, d);
    const uint8_t *data;
    if (rank_raw(ctx, t, &data, d))
        return LLMC_ERR;
    LlmcDType fd = t->src.file_dtype;
    llmc_format(fd)->to_f32(data + llmc_format_bytes(fd, first), out, n);
    for (int64_t i = 0; i < n && t->src.add != 0; i++)
        out[i] = out[i] + (float)t->src.add;
    return LLMC_OK;
}

static LlmcStatus rank_quant_rows(void *ctx, const LlmcGraph *g, int t, int64_t r0, int64_t n, uint8_t *q,
                                  float *const *side, LlmcDiag *d)
{
    RankSource *rs = ctx;
    if (g->t[t].src.shard != LLMC_SHARD_NONE) /* shard_tp refuses these */
        return llmc_fail(d, "%s: --tp cannot cut a matrix stored quantized by its checkpoint", g->t[t].name);
    return rs->ws->quant_rows(rs->ws->ctx, g, t, r0, n, q, side, d);
}

static LlmcStatus pack_rank(const LlmcGraph *g, const LlmcWeightSource *ws, LlmcOutFile *o, int quiet, LlmcDiag *d);

LlmcStatus llmc_pack_weights(const LlmcGraph *g, const LlmcWeightSource *ws, LlmcOutFile *o, int quiet, LlmcDiag *d)
{
    if (g->tp <= 1)
        return pack_rank(g, ws, o, quiet, d);
    static const uint8_t zeros[64];
    int64_t stride = llmc_rank_weights_stride(g);
    LlmcStatus st = LLMC_OK;
    for (int r = 0; r < g->tp && !st; r++) {
        RankSource rs = {g, ws, r, NULL, NULL};
        LlmcWeightSource rws = {.ctx = &rs, .raw = rank_raw, .read_f32 = rank_read_f32, .quant_rows = rank_quant_rows};
        if (!quiet && g->weights_bytes >= (INT64_C(1) << 30))
            fprintf(stderr, "llmc: packing rank %d of %d\n", r, (int)g->tp);
        st = pack_rank(g, &rws, o, quiet, d);
        free(rs.part);
        for (int64_t pos = g->weights_bytes; pos < stride && !st; pos += 64)
            st = llmc_out_write(o, zeros, (size_t)(stride - pos < 64 ? stride - pos : 64), d);
    }
    return st;
}

/* One rank's weights (the whole model's when unsharded), g->weights_bytes of them. */
static LlmcStatus pack_rank(const LlmcGraph *g, const LlmcWeightSource *ws, LlmcOutFile *o, int quiet, LlmcDiag *d)
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
    Derived dv[2 * LLMC_MAX_SIDES];
    int n_dv = 0;
    for (int kk = 0; kk < n && !st; kk++) {
        const LlmcTensor *t = &g->t[order[kk]];
        while (pos < t->offset && !st) {
            int64_t pad = t->offset - pos < 64 ? t->offset - pos : 64;
            st = llmc_out_write(o, zeros, (size_t)pad, d);
            pos += pad;
        }
        if (!st && t->src.derived) {
            int k = 0;
            while (k < n_dv && dv[k].tensor != order[kk])
                k++;
            if (k == n_dv)
                st = llmc_fail(d, "%s: packed before the weight it belongs to", t->name);
            else {
                st = llmc_out_write(o, dv[k].bytes, (size_t)dv[k].n, d);
                free(dv[k].bytes);
                dv[k] = dv[--n_dv];
            }
        } else if (!st && !llmc_layout_is_plain(&t->layout)) {
            st = n_dv > LLMC_MAX_SIDES ? llmc_fail(d, "%s: the scales of earlier weights are not packed yet", t->name)
                          : write_quantized(g, ws, t, o, dv, &n_dv, d);
        }
        else if (!st)
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
    for (int k = 0; k < n_dv; k++)
        free(dv[k].bytes);
    free(order);
    free(buf);
    return st;
}

/* The first and last 256 bytes of a weight's file bytes into h (a sharded one's: the whole tensor's;
 * the graph's dump says how it is cut). */
static LlmcStatus hash_sample(const LlmcGraph *g, const LlmcWeightSource *ws, const LlmcTensor *t, uint64_t *h,
                              LlmcDiag *d)
{
    LlmcTensor whole = llmc_shard_whole(g, t);
    if (t->src.shard != LLMC_SHARD_NONE)
        t = &whole;
    const uint8_t *data;
    if (resolve(ws, t, &data, d))
        return LLMC_ERR;
    size_t bytes = (size_t)llmc_format_bytes(t->src.file_dtype, llmc_shape_numel(&t->shape, 0, 0));
    size_t s = bytes < 256 ? bytes : 256;
    *h = llmc_fnv1a(*h, data, s);
    *h = llmc_fnv1a(*h, data + bytes - s, s);
    return LLMC_OK;
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
                /* A matrix the checkpoint stores quantized: the tensors of its encoding. */
                int nm = t->src.pq.kind != LLMC_PQ_NONE ? LLMC_PQ_MEMBERS : 1;
                for (int m = 0; m < nm; m++) {
                    const LlmcTensor *x = t->src.pq.kind != LLMC_PQ_NONE ? NULL : t;
                    if (!x && t->src.pq.member[m] < 0)
                        continue;
                    if (!x)
                        x = &g->t[t->src.pq.member[m]];
                    if (hash_sample(g, ws, x, &h, d)) {
                        free(seen);
                        return LLMC_ERR;
                    }
                }
            }
        }
    free(seen);
    *hash = h;
    return LLMC_OK;
}
