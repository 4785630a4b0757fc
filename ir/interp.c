/* interp.c — the plain-C reference interpreter (see interp.h). One function per op, scalar loops,
 * double accumulation for every sum. Values are dense [rows][cols] float arrays (views are copied). */
#include "interp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv_formats.h"
#include "moe_route.h"

struct LlmcInterp {
    const LlmcGraph *g;
    float **val;          /* per tensor: values (weights: set by the caller) */
    int64_t *rows;        /* per tensor: rows in the last step */
    int max_seqs;
    int rank;             /* of a sharded graph (llmc_interp_read_weights): which rows its tables hold */
    /* Unlowered attention: per attention node (in order), K and V history [seq][pos][cols]. */
    int n_att;
    int *att_index;       /* node -> attention ordinal or -1 */
    float **hist_k, **hist_v;
};

LlmcInterp *llmc_interp_new(const LlmcGraph *g, int max_seqs)
{
    LlmcInterp *it = calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->g = g;
    it->max_seqs = max_seqs;
    it->val = calloc((size_t)g->nt, sizeof *it->val);
    it->rows = calloc((size_t)g->nt, sizeof *it->rows);
    it->att_index = malloc((size_t)g->nn * sizeof *it->att_index + 1);
    if (!it->val || !it->rows || !it->att_index) {
        llmc_interp_free(it);
        return NULL;
    }
    for (int i = 0; i < g->nn; i++)
        it->att_index[i] = g->n[i].op == LLMC_OP_ATTENTION ? it->n_att++ : -1;
    it->hist_k = calloc((size_t)it->n_att + 1, sizeof *it->hist_k);
    it->hist_v = calloc((size_t)it->n_att + 1, sizeof *it->hist_v);
    if (!it->hist_k || !it->hist_v) {
        llmc_interp_free(it);
        return NULL;
    }
    for (int i = 0; i < g->nn; i++) {
        int a = it->att_index[i];
        if (a < 0)
            continue;
        int64_t cols = llmc_cols(&g->t[g->n[i].in[1]].shape);
        size_t n = (size_t)max_seqs * (size_t)g->max_seq_len * (size_t)cols;
        it->hist_k[a] = calloc(n, sizeof(float));
        it->hist_v[a] = calloc(n, sizeof(float));
        if (!it->hist_k[a] || !it->hist_v[a]) {
            llmc_interp_free(it);
            return NULL;
        }
    }
    return it;
}

void llmc_interp_free(LlmcInterp *it)
{
    if (!it)
        return;
    if (it->val)
        for (int i = 0; i < it->g->nt; i++)
            free(it->val[i]);
    for (int a = 0; a < it->n_att && it->hist_k; a++) {
        free(it->hist_k[a]);
        free(it->hist_v[a]);
    }
    free(it->hist_k);
    free(it->hist_v);
    free(it->val);
    free(it->rows);
    free(it->att_index);
    free(it);
}

void llmc_interp_set_weight(LlmcInterp *it, int t, const float *data)
{
    size_t n = (size_t)llmc_shape_numel(&it->g->t[t].shape, 0, 0);
    free(it->val[t]);
    it->val[t] = malloc(n * sizeof(float));
    if (it->val[t])
        memcpy(it->val[t], data, n * sizeof(float));
}

const float *llmc_interp_value(const LlmcInterp *it, int t, int64_t *rows, int64_t *cols)
{
    *rows = it->rows[t];
    *cols = llmc_cols(&it->g->t[t].shape);
    return it->val[t];
}

/* ---- helpers ---- */

static float *out_buf(LlmcInterp *it, int t, int64_t rows)
{
    int64_t cols = llmc_cols(&it->g->t[t].shape);
    free(it->val[t]);
    it->val[t] = calloc((size_t)(rows * cols) + 1, sizeof(float));
    it->rows[t] = rows;
    return it->val[t];
}

static double silu(double x) { return x / (1.0 + exp(-x)); }

/* transformers' gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). */
static double gelu_tanh(double x) { return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }

/* RMSNorm of n values (x and y may be the same). */
static void rms(const float *x, const float *w, int64_t n, double eps, float *y)
{
    double ss = 0;
    for (int64_t c = 0; c < n; c++)
        ss += (double)x[c] * x[c];
    double inv = 1.0 / sqrt(ss / (double)n + eps);
    for (int64_t c = 0; c < n; c++)
        y[c] = (float)(w[c] * (x[c] * inv));
}

/* RoPE of the heads of one row x[cols] at position pos into y (x and y may be the same). */
static void rope_row(const LlmcNode *n, int hd, int inter, int64_t cols, int64_t pos, const float *x, float *y,
                     double *inv)
{
    double ms;
    llmc_rope_freqs(n, hd, pos, inv, &ms);
    for (int64_t h = 0; h < cols / hd; h++)
        for (int i2 = 0; i2 < hd / 2; i2++) {
            int i0 = inter ? 2 * i2 : i2, i1 = inter ? 2 * i2 + 1 : i2 + hd / 2;
            double ang = (double)pos * inv[i2], c = cos(ang) * ms, s = sin(ang) * ms;
            double x0 = x[h * hd + i0], x1 = x[h * hd + i1];
            y[h * hd + i0] = (float)(x0 * c - x1 * s);
            y[h * hd + i1] = (float)(x0 * s + x1 * c);
        }
}

/* Causal attention of one query row over n key/value rows (given by pointer arrays). */
static void attend(const float *q, const float *const *k, const float *const *v, int n, int hd, double scale,
                   double softcap, float *out)
{
    double *s = malloc(((size_t)n + 1) * sizeof *s);
    double mx = -INFINITY, sum = 0;
    for (int p = 0; p < n; p++) {
        double dot = 0;
        for (int d = 0; d < hd; d++)
            dot += (double)q[d] * k[p][d];
        s[p] = dot * scale;
        if (softcap > 0) /* Gemma 2: scores capped to (-softcap, softcap) */
            s[p] = softcap * tanh(s[p] / softcap);
        mx = s[p] > mx ? s[p] : mx;
    }
    for (int p = 0; p < n; p++) {
        s[p] = exp(s[p] - mx);
        sum += s[p];
    }
    for (int d = 0; d < hd; d++) {
        double acc = 0;
        for (int p = 0; p < n; p++)
            acc += s[p] / sum * v[p][d];
        out[d] = (float)acc;
    }
    free(s);
}

/* moe: y[r] = sum over the token's experts e of w_e down_e(act(gate_e x) * up_e x); experts have F
 * rows of gate and of up (gu: [E][2F][D]) and D rows of down (dn: [E][D][F]). The GPU fusions'
 * inputs: nw (x RMS-normed with it first, eps: as matmul_fused's prologue), res (added to y). */
static LlmcStatus moe(const LlmcNode *n, const float *x, int64_t D, int64_t F, const float *logits, const float *gu,
                      const float *dn, const float *nw, const float *res, int64_t rows, float *y, LlmcDiag *d)
{
    int E = (int)llmc_attr_int(n, "experts", 1), K = (int)llmc_attr_int(n, "top_k", 1);
    int norm = (int)llmc_attr_int(n, "norm_topk_prob", 0), gelu = strcmp(llmc_attr_str(n, "act", "silu"), "gelu_tanh") == 0;
    int ids[4096];
    double w[4096];
    double eps = llmc_attr_float(n, "eps", 1e-5);
    double *h = malloc(sizeof(double) * (size_t)(F + D) + 1), *acc = h + F;
    float *xn = malloc(sizeof(float) * (size_t)D + 1);
    if (!h || !xn) {
        free(h);
        free(xn);
        return llmc_fail(d, "interp: out of memory");
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        if (nw) {
            double ss = 0;
            for (int64_t c = 0; c < D; c++)
                ss += (double)xr[c] * xr[c];
            double inv = 1.0 / sqrt(ss / (double)D + eps);
            for (int64_t c = 0; c < D; c++)
                xn[c] = (float)(nw[c] * (xr[c] * inv));
            xr = xn;
        }
        llmc_moe_route(logits + r * E, E, K, norm, ids, w);
        for (int64_t c = 0; c < D; c++)
            acc[c] = 0;
        for (int k = 0; k < K; k++) {
            const float *g0 = gu + (int64_t)ids[k] * 2 * F * D, *u0 = g0 + F * D, *d0 = dn + (int64_t)ids[k] * D * F;
            for (int64_t f = 0; f < F; f++) {
                double gs = 0, us = 0;
                for (int64_t c = 0; c < D; c++) {
                    gs += (double)xr[c] * g0[f * D + c];
                    us += (double)xr[c] * u0[f * D + c];
                }
                h[f] = (double)(float)((gelu ? gelu_tanh((float)gs) : silu((float)gs)) * (float)us);
            }
            for (int64_t c = 0; c < D; c++) {
                double s = 0;
                for (int64_t f = 0; f < F; f++)
                    s += h[f] * d0[c * F + f];
                acc[c] += w[k] * (float)s;
            }
        }
        for (int64_t c = 0; c < D; c++)
            y[r * D + c] = (float)(acc[c] + (res ? res[r * D + c] : 0));
    }
    free(h);
    free(xn);
    return LLMC_OK;
}

/* The pool's keys are stored in g->kv_format[0], its values in [1], written and read a position at a
 * time through the functions the cpu target's kernels use (kv_formats.h, kv_layout.h): a position's
 * rows into its block (and a ring's f16 rows, KIVI), a group sealed when its last position comes, a
 * row read as a query at pe reads it. The arguments they share: */
#define KV_GEOM_ARGS(g) (int)(g)->kv_format[0], (int)(g)->kv_format[1], (g)->kv_layers, (g)->kv_block_size, \
                        (g)->kv_heads, (g)->kv_head_dim
static const int32_t *kv_table(const LlmcStep *st, int64_t r)
{
    return st->block_tables ? st->block_tables + (size_t)st->seq_of_token[r] * st->max_blocks_per_seq : NULL;
}
/* Token r's K and V rows (k, v: its values) of one layer. */
static void kv_store(const LlmcGraph *g, const LlmcStep *st, void *kv, int layer, int64_t r, const int32_t *slots,
                     const float *k, const float *v)
{
    kv_store_pos(KV_GEOM_ARGS(g), (uint8_t *)kv, kv_table(st, r), st->max_blocks_per_seq, layer, st->positions[r],
                 slots[r] / g->kv_block_size, slots[r] % g->kv_block_size, k, v, g->kv_scales);
}

static const int32_t *step_input(const LlmcGraph *g, const LlmcStep *st, int t)
{
    if (t == g->in_tokens)
        return st->tokens;
    if (t == g->in_positions)
        return st->positions;
    if (t == g->in_slots)
        return st->slots;
    if (t == g->in_out_rows)
        return st->out_rows;
    return NULL;
}

/* Node i of the graph on one instance (every op but the collectives). */
static LlmcStatus run_node(LlmcInterp *it, int i, const LlmcStep *st, void *kv, LlmcDiag *d)
{
    const LlmcGraph *g = it->g;
    int64_t T = st->n_tokens, O = st->n_out;
    const LlmcNode *n = &g->n[i];
    const LlmcTensor *t0 = &g->t[n->in[0]];
    int64_t rows = n->n_out ? (g->t[n->out[0]].shape.sym[0] == LLMC_DIM_O ? O : T) : T;
    int64_t cols = n->n_out ? llmc_cols(&g->t[n->out[0]].shape) : 0;
    const float *a = it->val[n->in[0]];
    const float *b = n->n_in > 1 ? it->val[n->in[1]] : NULL;
    int64_t ca = t0->kind == LLMC_T_INPUT ? 1 : llmc_cols(&t0->shape);
    for (int j = 0; j < n->n_in; j++) {
        const LlmcTensor *tj = &g->t[n->in[j]];
        if (tj->kind != LLMC_T_INPUT && !it->val[n->in[j]])
            return llmc_fail(d, "interp: node %d (%s) reads %s%s which has no value", i, llmc_op_info[n->op].name,
                             tj->kind == LLMC_T_WEIGHT ? "@" : "%", tj->name);
    }
    float *y = n->n_out ? out_buf(it, n->out[0], rows) : NULL;
    switch (n->op) {
    case LLMC_OP_EMBEDDING: { /* a table sharded by rows (shard_tp): the rank's rows, zeros for other tokens */
        const int32_t *tok = step_input(g, st, n->in[1]);
        int64_t n_rows = t0->shape.dim[0], first = t0->src.shard == LLMC_SHARD_ROWS ? llmc_shard_view(g, t0, it->rank).r0 : 0;
        for (int64_t r = 0; r < rows; r++)
            if (tok[r] >= first && tok[r] < first + n_rows)
                memcpy(y + r * cols, a + (tok[r] - first) * cols, (size_t)cols * sizeof(float));
        break;
    }
    case LLMC_OP_RMSNORM:
    case LLMC_OP_ADD_RMSNORM: {
        int add = n->op == LLMC_OP_ADD_RMSNORM;
        const float *w = it->val[n->in[add ? 2 : 1]];
        float *s = NULL, *yy = y;
        if (add) {
            s = y;
            yy = out_buf(it, n->out[1], rows);
        }
        double eps = llmc_attr_float(n, "eps", 1e-5), pre_eps = llmc_attr_float(n, "pre_eps", 1e-5);
        const float *wb = add && n->n_in == 4 ? it->val[n->in[3]] : NULL; /* b normed first (fuse_post_norm) */
        for (int64_t r = 0; r < rows; r++) {
            const float *x = a + r * cols;
            if (add) {
                double invb = 1.0;
                if (wb) {
                    double sb = 0;
                    for (int64_t c = 0; c < cols; c++)
                        sb += (double)b[r * cols + c] * b[r * cols + c];
                    invb = 1.0 / sqrt(sb / (double)cols + pre_eps);
                }
                for (int64_t c = 0; c < cols; c++)
                    s[r * cols + c] = x[c] + (wb ? (float)(wb[c] * (b[r * cols + c] * invb)) : b[r * cols + c]);
                x = s + r * cols;
            }
            double ss = 0;
            for (int64_t c = 0; c < cols; c++)
                ss += (double)x[c] * x[c];
            double inv = 1.0 / sqrt(ss / (double)cols + eps);
            for (int64_t c = 0; c < cols; c++)
                yy[r * cols + c] = (float)(w[c] * (x[c] * inv));
        }
        break;
    }
    case LLMC_OP_MATMUL: {
        const float *bias = n->n_in == 3 ? it->val[n->in[2]] : NULL;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) {
                double acc = 0;
                for (int64_t k = 0; k < ca; k++)
                    acc += (double)a[r * ca + k] * b[c * ca + k];
                y[r * cols + c] = (float)(acc + (bias ? bias[c] : 0));
            }
        break;
    }
    case LLMC_OP_ADD:
    case LLMC_OP_MUL:
    case LLMC_OP_SILU:
    case LLMC_OP_SWIGLU:
    case LLMC_OP_GELU_TANH:
    case LLMC_OP_GEGLU:
    case LLMC_OP_SCALE:
    case LLMC_OP_SOFTCAP: {
        double by = llmc_attr_float(n, "by", 1.0), cap = llmc_attr_float(n, "cap", 1.0);
        for (int64_t e = 0; e < rows * cols; e++) {
            double v = n->op == LLMC_OP_ADD         ? (double)a[e] + b[e]
                       : n->op == LLMC_OP_MUL       ? (double)a[e] * b[e]
                       : n->op == LLMC_OP_SILU      ? silu(a[e])
                       : n->op == LLMC_OP_SWIGLU    ? silu(a[e]) * b[e]
                       : n->op == LLMC_OP_GELU_TANH ? gelu_tanh(a[e])
                       : n->op == LLMC_OP_GEGLU     ? gelu_tanh(a[e]) * b[e]
                       : n->op == LLMC_OP_SCALE     ? a[e] * (double)(float)by
                                                    : cap * tanh(a[e] / cap);
            y[e] = (float)v;
        }
        break;
    }
    case LLMC_OP_HEAD_RMSNORM: {
        int64_t hd = llmc_attr_int(n, "head_dim", 1);
        double eps = llmc_attr_float(n, "eps", 1e-5);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t h = 0; h < cols / hd; h++)
                rms(a + r * ca + h * hd, b, hd, eps, y + r * cols + h * hd);
        break;
    }
    case LLMC_OP_MOE: {
        int64_t ni = llmc_attr_int(n, "norm", -1), ri = llmc_attr_int(n, "residual", -1);
        if (moe(n, a, ca, llmc_cols(&g->t[n->in[3]].shape), b, it->val[n->in[2]], it->val[n->in[3]],
                ni > 0 ? it->val[n->in[ni]] : NULL, ri > 0 ? it->val[n->in[ri]] : NULL, rows, y, d))
            return LLMC_ERR;
        break;
    }
    case LLMC_OP_ROPE: {
        const int32_t *pos = step_input(g, st, n->in[1]);
        int hd = (int)llmc_attr_int(n, "head_dim", 0);
        int inter = strcmp(llmc_attr_str(n, "style", "half"), "interleaved") == 0;
        double inv[1024];
        if (hd / 2 > 1024)
            return llmc_fail(d, "interp: head_dim %d too large", hd);
        for (int64_t r = 0; r < rows; r++)
            rope_row(n, hd, inter, cols, pos[r], a + r * cols, y + r * cols, inv);
        break;
    }
    case LLMC_OP_ATTENTION: {
        int ai = it->att_index[i];
        int hd = (int)llmc_attr_int(n, "head_dim", 0);
        int64_t kc = llmc_cols(&g->t[n->in[1]].shape);
        int hq = (int)(cols / hd), hk = (int)(kc / hd);
        double scale = llmc_attr_float(n, "scale", 1.0 / sqrt((double)hd));
        int window = (int)llmc_attr_int(n, "window", 0);
        double softcap = llmc_attr_float(n, "softcap", 0.0);
        const float *kk = b, *vv = it->val[n->in[2]];
        for (int64_t r = 0; r < T; r++) { /* the step's K/V first: a query sees its own step */
            int s = st->seq_of_token[r], p = st->positions[r];
            if (s < 0 || s >= it->max_seqs || p < 0 || p >= g->max_seq_len)
                return llmc_fail(d, "interp: sequence %d position %d out of range", s, p);
            size_t base = ((size_t)s * g->max_seq_len + (size_t)p) * (size_t)kc;
            memcpy(it->hist_k[ai] + base, kk + r * kc, (size_t)kc * sizeof(float));
            memcpy(it->hist_v[ai] + base, vv + r * kc, (size_t)kc * sizeof(float));
        }
        const float **kp = malloc(sizeof *kp * (size_t)g->max_seq_len);
        const float **vp = malloc(sizeof *vp * (size_t)g->max_seq_len);
        for (int64_t r = 0; r < T; r++) {
            int s = st->seq_of_token[r], pe = st->positions[r];
            int p0 = window > 0 && pe - window + 1 > 0 ? pe - window + 1 : 0;
            for (int h = 0; h < hq; h++) {
                int kh = h / (hq / hk);
                for (int p = p0; p <= pe; p++) {
                    size_t base = ((size_t)s * g->max_seq_len + (size_t)p) * (size_t)kc + (size_t)kh * hd;
                    kp[p - p0] = it->hist_k[ai] + base;
                    vp[p - p0] = it->hist_v[ai] + base;
                }
                attend(a + r * cols + h * hd, kp, vp, pe - p0 + 1, hd, scale, softcap, y + r * cols + h * hd);
            }
        }
        free(kp);
        free(vp);
        break;
    }
    case LLMC_OP_SLICE: {
        int64_t start = llmc_attr_int(n, "start", 0);
        for (int64_t r = 0; r < rows; r++)
            memcpy(y + r * cols, a + r * ca + start, (size_t)cols * sizeof(float));
        break;
    }
    case LLMC_OP_SELECT_ROWS: {
        const int32_t *sel = step_input(g, st, n->in[1]);
        for (int64_t r = 0; r < rows; r++)
            memcpy(y + r * cols, a + (int64_t)sel[r] * cols, (size_t)cols * sizeof(float));
        break;
    }
    case LLMC_OP_GATHER_COLS: /* b: the column indices, as floats (exact: K < 2^24) */
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < cols; j++)
                y[r * cols + j] = a[r * ca + (int64_t)b[j]];
        break;
    case LLMC_OP_KV_WRITE: {
        const int32_t *slots = step_input(g, st, n->in[2]);
        int layer = (int)llmc_attr_int(n, "layer", 0);
        int64_t kc = llmc_cols(&t0->shape);
        if (!kv)
            return llmc_fail(d, "interp: kv_write needs a KV pool");
        for (int64_t r = 0; r < T; r++)
            kv_store(g, st, kv, layer, r, slots, a + r * kc, b + r * kc);
        break;
    }
    case LLMC_OP_PAGED_ATTENTION: {
        int layer = (int)llmc_attr_int(n, "layer", 0), hd = g->kv_head_dim;
        int hq = (int)(cols / hd), hk = g->kv_heads, window = (int)llmc_attr_int(n, "window", 0);
        double scale = llmc_attr_float(n, "scale", 1.0 / sqrt((double)hd));
        double softcap = llmc_attr_float(n, "softcap", 0.0);
        if (!kv)
            return llmc_fail(d, "interp: paged_attention needs a KV pool");
        const float **kp = malloc(sizeof *kp * (size_t)g->max_seq_len);
        const float **vp = malloc(sizeof *vp * (size_t)g->max_seq_len);
        /* The positions' K and V heads decoded from the pool's format. */
        float *kf = malloc(sizeof *kf * (size_t)g->max_seq_len * (size_t)hd);
        float *vf = malloc(sizeof *vf * (size_t)g->max_seq_len * (size_t)hd);
        /* KIVI: the groups the step's positions complete, sealed first (no query of the step
         * reads them quantized: kv_layout.h) */
        for (int64_t r = 0; r < T && kv_has_ring((int)g->kv_format[0], (int)g->kv_format[1]); r++)
            if ((st->positions[r] + 1) % KV_KIVI_G == 0)
                kv_seal_group(KV_GEOM_ARGS(g), (uint8_t *)kv, kv_table(st, r), st->max_blocks_per_seq, layer,
                              st->positions[r]);
        for (int64_t r = 0; r < T; r++) {
            const int32_t *table = kv_table(st, r);
            int pe = st->positions[r], p0 = window > 0 && pe - window + 1 > 0 ? pe - window + 1 : 0;
            for (int h = 0; h < hq; h++) {
                int kh = h / (hq / hk);
                for (int p = p0; p <= pe; p++) {
                    float *kd = kf + (size_t)(p - p0) * hd, *vd = vf + (size_t)(p - p0) * hd;
                    kp[p - p0] = kv_read(KV_GEOM_ARGS(g), (uint8_t *)kv, table, st->max_blocks_per_seq, layer, 0, p, pe,
                                         kh, kd, g->kv_scales);
                    vp[p - p0] = kv_read(KV_GEOM_ARGS(g), (uint8_t *)kv, table, st->max_blocks_per_seq, layer, 1, p, pe,
                                         kh, vd, g->kv_scales);
                }
                attend(a + r * cols + h * hd, kp, vp, pe - p0 + 1, hd, scale, softcap, y + r * cols + h * hd);
            }
        }
        free(kp);
        free(vp);
        free(kf);
        free(vf);
        break;
    }
    case LLMC_OP_MATMUL_FUSED: {
        int64_t ni = llmc_attr_int(n, "norm", -1), ri = llmc_attr_int(n, "residual", -1);
        int64_t bi = llmc_attr_int(n, "bias", -1), N = g->t[n->in[1]].shape.dim[0];
        int sw = (int)llmc_attr_int(n, "swiglu", 0);
        double eps = llmc_attr_float(n, "eps", 1e-5);
        double *xr = malloc(sizeof(double) * (size_t)ca), *acc = malloc(sizeof(double) * (size_t)N);
        for (int64_t r = 0; r < rows; r++) {
            double inv = 1.0;
            if (ni > 0) {
                double ss = 0;
                for (int64_t k = 0; k < ca; k++)
                    ss += (double)a[r * ca + k] * a[r * ca + k];
                inv = 1.0 / sqrt(ss / (double)ca + eps);
            }
            for (int64_t k = 0; k < ca; k++)
                xr[k] = ni > 0 ? (double)(float)(it->val[n->in[ni]][k] * (a[r * ca + k] * inv)) : a[r * ca + k];
            for (int64_t c = 0; c < N; c++) {
                double s = 0;
                for (int64_t k = 0; k < ca; k++)
                    s += xr[k] * b[c * ca + k];
                acc[c] = s + (bi > 0 ? it->val[n->in[bi]][c] : 0);
            }
            for (int64_t c = 0; c < cols; c++) {
                double v = sw == 2 ? gelu_tanh((float)acc[c]) * (float)acc[c + cols] /* GeGLU */
                         : sw ? silu((float)acc[c]) * (float)acc[c + cols] : acc[c];
                y[r * cols + c] = (float)(v + (ri > 0 ? it->val[n->in[ri]][r * cols + c] : 0));
            }
        }
        free(xr);
        free(acc);
        break;
    }
    case LLMC_OP_ROPE_KV_WRITE: {
        const int32_t *pos = step_input(g, st, n->in[3]), *slots = step_input(g, st, n->in[4]);
        int hd = (int)llmc_attr_int(n, "head_dim", 0), layer = (int)llmc_attr_int(n, "layer", 0);
        int inter = strcmp(llmc_attr_str(n, "style", "half"), "interleaved") == 0;
        int64_t kc = llmc_cols(&g->t[n->in[1]].shape);
        int64_t sq = llmc_cols(&t0->shape), sk = llmc_cols(&g->t[n->in[1]].shape);
        double eps = llmc_attr_float(n, "eps", 1e-5), inv[1024];
        const float *qn = n->n_in > 5 ? it->val[n->in[5]] : NULL, *kn = n->n_in > 6 ? it->val[n->in[6]] : NULL;
        if (hd / 2 > 1024 || !kv)
            return llmc_fail(d, "interp: rope_kv_write needs a KV pool and head_dim <= 2048");
        const float *kk = b, *vv = it->val[n->in[2]];
        float *krot = malloc(sizeof(float) * (size_t)(kc + cols) + 1), *qtmp = krot + kc;
        for (int64_t r = 0; r < T; r++) {
            /* q and k: each head normed (qk_norm), then rotated */
            memcpy(qtmp, a + r * sq, sizeof(float) * (size_t)cols);
            memcpy(krot, kk + r * sk, sizeof(float) * (size_t)kc);
            for (int64_t h = 0; qn && h < cols / hd; h++)
                rms(qtmp + h * hd, qn, hd, eps, qtmp + h * hd);
            for (int64_t h = 0; kn && h < kc / hd; h++)
                rms(krot + h * hd, kn, hd, eps, krot + h * hd);
            rope_row(n, hd, inter, cols, pos[r], qtmp, y + r * cols, inv);
            rope_row(n, hd, inter, kc, pos[r], krot, krot, inv);
            kv_store(g, st, kv, layer, r, slots, krot, vv + r * kc);
        }
        free(krot);
        break;
    }
    case LLMC_OP_ALL_REDUCE: /* collectives: llmc_interp_step_ranks runs them over every rank */
    case LLMC_OP_ALL_GATHER:
    case LLMC_OP_COUNT:
        return llmc_fail(d, "interp: bad op");
    }
    return LLMC_OK;
}

/* Collective node i over the n instances of ranks 0..n-1 (one graph, each rank's weights), in rank
 * order: all_reduce sums the ranks' inputs (in double, ranks 0, 1, ... in turn, then rounded once),
 * all_gather puts rank r's input at columns [r c, (r+1) c); every rank gets the same result. */
static LlmcStatus collective(LlmcInterp *const *its, int nr, int i, LlmcDiag *d)
{
    const LlmcGraph *g = its[0]->g;
    const LlmcNode *n = &g->n[i];
    int64_t ranks = llmc_attr_int(n, "ranks", 1);
    if (ranks != nr)
        return llmc_fail(d, "interp: node %d (%s) combines %lld ranks; %d instances run the graph%s", i,
                         llmc_op_info[n->op].name, (long long)ranks, nr,
                         nr == 1 ? " (run a sharded graph with llmc_interp_step_ranks)" : "");
    int64_t rows = its[0]->rows[n->in[0]], c = llmc_cols(&g->t[n->in[0]].shape);
    for (int r = 0; r < nr; r++)
        if (!its[r]->val[n->in[0]] || its[r]->rows[n->in[0]] != rows)
            return llmc_fail(d, "interp: node %d (%s): rank %d has no value of %%%s of %lld rows", i,
                             llmc_op_info[n->op].name, r, g->t[n->in[0]].name, (long long)rows);
    for (int r = 0; r < nr; r++) {
        float *y = out_buf(its[r], n->out[0], rows);
        if (!y)
            return llmc_fail(d, "interp: out of memory");
        for (int64_t e = 0; e < rows * c; e++) {
            if (n->op == LLMC_OP_ALL_REDUCE) {
                double acc = 0;
                for (int q = 0; q < nr; q++)
                    acc += its[q]->val[n->in[0]][e];
                y[e] = (float)acc;
            } else {
                for (int q = 0; q < nr; q++)
                    y[(e / c) * c * nr + q * c + e % c] = its[q]->val[n->in[0]][e];
            }
        }
    }
    return LLMC_OK;
}

static int is_collective(LlmcOp op) { return op == LLMC_OP_ALL_REDUCE || op == LLMC_OP_ALL_GATHER; }

/* The step's logits from the graph's output (one instance). */
static LlmcStatus write_logits(const LlmcInterp *it, const LlmcStep *st, LlmcDiag *d)
{
    const LlmcGraph *g = it->g;
    int64_t O = st->n_out;
    const float *lg = it->val[g->logits];
    int64_t lrows = it->rows[g->logits], v = llmc_cols(&g->t[g->logits].shape);
    if (!lg)
        return llmc_fail(d, "interp: the output was not computed");
    if (g->t[g->logits].shape.sym[0] == LLMC_DIM_O) {
        memcpy(st->logits, lg, (size_t)(lrows * v) * sizeof(float));
    } else { /* before select_rows: pick the asked-for rows */
        for (int64_t o = 0; o < O; o++)
            memcpy(st->logits + o * v, lg + (int64_t)st->out_rows[o] * v, (size_t)v * sizeof(float));
    }
    return LLMC_OK;
}

LlmcStatus llmc_interp_step(LlmcInterp *it, const LlmcStep *st, void *kv, LlmcDiag *d)
{
    return llmc_interp_step_ranks(&it, 1, st, &kv, d);
}

LlmcStatus llmc_interp_step_ranks(LlmcInterp *const *ranks, int n, const LlmcStep *st, void *const *kv, LlmcDiag *d)
{
    const LlmcGraph *g = ranks[0]->g;
    for (int r = 1; r < n; r++)
        if (ranks[r]->g != g)
            return llmc_fail(d, "interp: the ranks run different graphs");
    for (int i = 0; i < g->nn; i++) {
        if (is_collective(g->n[i].op)) {
            if (collective(ranks, n, i, d))
                return LLMC_ERR;
            continue;
        }
        for (int r = 0; r < n; r++)
            if (run_node(ranks[r], i, st, kv[r], d))
                return LLMC_ERR;
    }
    return write_logits(ranks[0], st, d);
}

LlmcStatus llmc_interp_read_weights(LlmcInterp *it, const LlmcWeightSource *ws, int rank, LlmcDiag *d)
{
    const LlmcGraph *g = it->g;
    LlmcStatus st = LLMC_OK;
    it->rank = rank;
    for (int i = 0; i < g->nn && !st; i++)
        for (int j = 0; j < g->n[i].n_in && !st; j++) {
            int t = g->n[i].in[j];
            const LlmcTensor *w = &g->t[t];
            if (w->kind != LLMC_T_WEIGHT || it->val[t])
                continue;
            float *buf = malloc(sizeof(float) * (size_t)llmc_shape_numel(&w->shape, 0, 0) + 1), *whole = NULL;
            int64_t done = 0;
            for (int p = 0; p < (w->src.n_parts ? w->src.n_parts : 1) && buf && !st; p++) {
                const LlmcTensor *part = w->src.n_parts ? &g->t[w->src.parts[p]] : w;
                if (part->src.pq.kind != LLMC_PQ_NONE || part->src.perm_group > 0 || part->src.derived) {
                    st = llmc_fail(d, "interp: weight %s is stored quantized by its checkpoint (not read here)",
                                   part->name);
                    break;
                }
                LlmcShardView v = llmc_shard_view(g, part, rank);
                LlmcTensor all = llmc_shard_whole(g, part);
                free(whole);
                whole = malloc(sizeof(float) * (size_t)(v.rows * v.cols) + 1);
                if (!whole)
                    break;
                if (ws->read_f32(ws->ctx, &all, 0, v.rows * v.cols, whole, d)) {
                    st = LLMC_ERR;
                    break;
                }
                llmc_shard_extract(&v, whole, buf + done);
                done += v.nr * v.nc;
            }
            if (!st && (!buf || !whole))
                st = llmc_fail(d, "interp: out of memory reading %s", w->name);
            if (!st)
                llmc_interp_set_weight(it, t, buf);
            free(buf);
            free(whole);
        }
    return st;
}
