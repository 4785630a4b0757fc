/* pack.c — writes the weights the graph reads, at their planned offsets, converted from the file's
 * dtype to their storage format (merged weights are their parts' rows one after another). The
 * order and bytes depend only on the graph and the files: the same inputs give the same payload.
 * The bytes come from an IR-level weight source (ir/weights.h), whatever the frontend read. */
#include <float.h>
#include <math.h>
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

/* Quantizes one row of K values in groups (formats.def: fp8, u4): q gets the packed values, sc and
 * zp (NULL: symmetric) the group's scale and zero point as stored (rounded to their format first,
 * so that the values are quantized against exactly what the kernels will read). Round to nearest;
 * u4 follows GPTQ's convention (symmetric: scale 2 amax / 15, zero 8; asymmetric: the range widened
 * to hold 0, scale (max - min) / 15, zero round(-min / scale)).
 * Every scale is finite and positive: a group of zeros gets 1; a scale that would underflow its
 * format becomes its smallest (f32: the smallest normal, so a group of subnormal values does not get
 * a scale of 0; f16: the smallest subnormal) and one that would overflow its largest finite value.
 * Values past the grid saturate to its end with their sign (the encoders clamp before any integer
 * conversion). The packer refuses NaN and infinities before this; were they here, infinities would
 * count as the largest finite value (and saturate) and NaN as 0. */
void llmc_quantize_row(LlmcDType fmt, int64_t K, int64_t group, const float *row, float *vals, uint8_t *q, float *sc,
                       float *zp, LlmcDType scale_fmt)
{
    for (int64_t g0 = 0, gi = 0; g0 < K; g0 += group, gi++) {
        int64_t n = K - g0 < group ? K - g0 : group;
        float lo = 0, hi = 0;
        for (int64_t i = 0; i < n; i++) {
            float v = row[g0 + i];
            v = v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        float amax = -lo > hi ? -lo : hi;
        float s, z = 8;
        if (fmt == LLMC_FP8)
            s = amax > 0 ? amax / 448.0f : 1.0f;
        else if (!zp)
            s = amax > 0 ? 2.0f * amax / 15.0f : 1.0f;
        else {
            s = hi - lo > 0 ? (hi - lo) / 15.0f : 1.0f;
        }
        /* The scale as its tensor stores it, finite and positive. */
        int capped = 0;   /* the largest scale of its format: the grid cannot cover the group */
        if (scale_fmt == LLMC_F16) {
            s = llmc_f16_to_f32(llmc_f32_to_f16(s));
            if (!(s > 0) || isinf(s)) {   /* underflowed to 0 or overflowed: the smallest / largest f16 */
                capped = amax > 1;
                s = capped ? 65504.0f : 5.96046448e-08f;
            }
        } else if (!(s >= FLT_MIN) || isinf(s)) {
            capped = amax > 1;
            s = capped ? FLT_MAX : FLT_MIN;
        }
        if (zp) {
            z = rintf(-lo / s);
            if (capped) {   /* the zero where it splits the range, both signs keeping codes of their own */
                z = (float)rint(15 * (-(double)lo / ((double)hi - lo)));
                z = z < (lo < 0) ? (lo < 0) : z > 15 - (hi > 0) ? 15 - (hi > 0) : z;
            }
            z = z >= 0 ? (z <= 15 ? z : 15) : 0;
            zp[gi] = z;
        }
        sc[gi] = s;
        for (int64_t i = 0; i < n; i++) {
            float x = row[g0 + i], v = x == x ? x / s : 0;
            vals[g0 + i] = fmt == LLMC_FP8 ? v : rintf(v) + z;
        }
    }
    llmc_format_convert(vals, LLMC_F32, q, fmt, K);
}

/* Scales and zero points computed with the values of a quantized weight, held until the packer
 * reaches their tensors (plan_memory puts them right after it). */
typedef struct Derived {
    int tensor;
    uint8_t *bytes;
    int64_t n;
} Derived;

/* Row q (K values of format fmt, row-major) into order `order` in out (ir.h: lane8 moves each
 * 4-value run of a tile to its lane's slot). */
static void order_row(int order, LlmcDType fmt, int64_t K, const uint8_t *q, uint8_t *out)
{
    int64_t T = llmc_order_tile(fmt), E = T / 8;
    for (int64_t t0 = 0; t0 < K; t0 += T)
        for (int64_t c = 0; c < E / 4; c++)
            for (int64_t l = 0; l < 8; l++) {
                int64_t from = t0 + 32 * c + 4 * l, to = llmc_order_index(order, fmt, from);
                if (fmt == LLMC_U4) /* 4 values: 2 bytes, both runs start on a byte */
                    memcpy(out + to / 2, q + from / 2, 2);
                else
                    memcpy(out + to, q + from, 4);
            }
}

static LlmcStatus write_quantized(const LlmcGraph *g, const LlmcWeightSource *ws, const LlmcTensor *t, LlmcOutFile *o,
                                  Derived *dv, int *n_dv, LlmcDiag *d)
{
    int64_t N = t->shape.dim[0], K = t->shape.dim[1], group = t->layout.group;
    int64_t groups = (K + group - 1) / group;
    const LlmcTensor *st = &g->t[t->layout.scale];
    int has_zero = t->layout.zero >= 0;
    float *row = malloc((size_t)K * 2 * sizeof(float)), *sc = malloc((size_t)(N * groups) * sizeof(float));
    float *zp = has_zero ? malloc((size_t)(N * groups) * sizeof(float)) : NULL;
    size_t row_bytes = (size_t)llmc_format_bytes(t->dtype, K);
    uint8_t *q = malloc(row_bytes * 2), *qo = q + row_bytes;
    LlmcStatus s = LLMC_OK;
    if (!row || !sc || !q || (has_zero && !zp))
        s = llmc_fail(d, "%s: out of memory quantizing", t->name);
    for (int64_t r = 0; r < N && !s; r++) {
        s = source_row(g, ws, t, r, row, d);
        if (!s) {
            llmc_quantize_row(t->dtype, K, group, row, row + K, q, sc + r * groups, zp ? zp + r * groups : NULL, st->dtype);
            if (t->layout.order != LLMC_ORDER_ROW_MAJOR)
                order_row(t->layout.order, t->dtype, K, q, qo);
            s = llmc_out_write(o, t->layout.order != LLMC_ORDER_ROW_MAJOR ? qo : q, row_bytes, d);
        }
    }
    /* The side tensors, in their formats. */
    int side[2] = {t->layout.scale, t->layout.zero};
    float *vals[2] = {sc, zp};
    for (int k = 0; k < 2 && !s; k++) {
        if (side[k] < 0)
            continue;
        const LlmcTensor *x = &g->t[side[k]];
        int64_t bytes = llmc_format_bytes(x->dtype, N * groups);
        uint8_t *b = malloc((size_t)bytes);
        if (!b) {
            s = llmc_fail(d, "%s: out of memory", x->name);
            break;
        }
        llmc_format_convert(vals[k], LLMC_F32, b, x->dtype, N * groups);
        dv[*n_dv] = (Derived){side[k], b, bytes};
        (*n_dv)++;
    }
    free(row);
    free(sc);
    free(zp);
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
    Derived dv[4];
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
            st = n_dv > 2 ? llmc_fail(d, "%s: the scales of earlier weights are not packed yet", t->name)
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
