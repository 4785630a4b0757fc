/* shape.c — the shape and dtype rule of every op, in one place.
 *
 * llmc_infer_node is used by the infer_shapes pass (to assign shapes) and by the verifier (to check
 * them after every later pass). Rows of activations are symbolic (T tokens, or O output rows after
 * select_rows); all inputs of a row-wise op must agree on their row dim. Errors name the op's
 * place in model.json (node->where).
 */
#include <string.h>

#include "ir.h"

typedef struct Ctx {
    const LlmcGraph *g;
    const LlmcNode *n;
    LlmcDiag *d;
} Ctx;

static const LlmcTensor *in_t(const Ctx *c, int i) { return &c->g->t[c->n->in[i]]; }

static LlmcStatus bad_in(const Ctx *c, int i, const char *expected)
{
    char sb[96];
    const LlmcTensor *t = in_t(c, i);
    return llmc_fail(c->d, "%s (%s): input %d (%s%s) is %s%s, expected %s", c->n->where,
                     llmc_op_info[c->n->op].name, i, t->kind == LLMC_T_WEIGHT ? "@" : "", t->name,
                     llmc_dtype_name(t->dtype), llmc_shape_str(&t->shape, sb, sizeof sb), expected);
}

/* An activation: rank 2, float32, symbolic rows. */
static LlmcStatus need_act(const Ctx *c, int i)
{
    const LlmcTensor *t = in_t(c, i);
    if (t->kind == LLMC_T_WEIGHT || t->shape.rank != 2 || t->shape.sym[0] == LLMC_DIM_CONST ||
        t->shape.sym[1] != LLMC_DIM_CONST || t->dtype != LLMC_F32)
        return bad_in(c, i, "an f32 activation [T, n]");
    return LLMC_OK;
}

/* Per-token int32 input [T] (or [O]). */
static LlmcStatus need_rows_i32(const Ctx *c, int i, uint8_t rows)
{
    const LlmcTensor *t = in_t(c, i);
    if (t->dtype != LLMC_I32 || t->shape.rank != 1 || t->shape.sym[0] != rows)
        return bad_in(c, i, rows == LLMC_DIM_T ? "i32[T] (e.g. tokens or positions)" : "i32[O]");
    return LLMC_OK;
}

static LlmcStatus need_weight(const Ctx *c, int i, int rank)
{
    const LlmcTensor *t = in_t(c, i);
    if (t->kind != LLMC_T_WEIGHT || t->shape.rank != rank)
        return bad_in(c, i, rank == 1 ? "a weight vector (\"@name\")" : "a weight matrix (\"@name\")");
    return LLMC_OK;
}

static LlmcStatus same_rows(const Ctx *c, int a, int b)
{
    if (in_t(c, a)->shape.sym[0] != in_t(c, b)->shape.sym[0])
        return bad_in(c, b, "the same rows (T or O) as input 0");
    return LLMC_OK;
}

static LlmcStatus need_int_attr(const Ctx *c, const char *key, int64_t lo, int64_t *v)
{
    const LlmcAttr *a = llmc_attr(c->n, key);
    if (!a || a->kind == LLMC_ATTR_STR || (a->kind == LLMC_ATTR_FLOAT && a->f != (double)a->i))
        return llmc_fail(c->d, "%s (%s): attribute \"%s\" must be an integer", c->n->where,
                         llmc_op_info[c->n->op].name, key);
    if (a->i < lo)
        return llmc_fail(c->d, "%s (%s): attribute \"%s\" must be >= %lld, found %lld", c->n->where,
                         llmc_op_info[c->n->op].name, key, (long long)lo, (long long)a->i);
    *v = a->i;
    return LLMC_OK;
}

/* A float attribute (default dflt when absent) that must lie in (0, max]: eps, theta, scales. */
static LlmcStatus need_pos_attr(const Ctx *c, const char *key, double dflt, double max)
{
    double v = llmc_attr_float(c->n, key, dflt);
    if (!(v > 0 && v <= max))
        return llmc_fail(c->d, "%s (%s): %s must be > 0 and at most %g, found %g", c->n->where,
                         llmc_op_info[c->n->op].name, key, max, v);
    return LLMC_OK;
}

/* head_dim must divide the columns of input i (and be even for rope). */
static LlmcStatus heads_of(const Ctx *c, int i, int64_t hd, int64_t *heads)
{
    int64_t cols = llmc_cols(&in_t(c, i)->shape);
    *heads = 0;
    if (cols % hd != 0) {
        char e[96];
        snprintf(e, sizeof e, "columns divisible by head_dim %lld", (long long)hd);
        return bad_in(c, i, e);
    }
    *heads = cols / hd;
    return LLMC_OK;
}

/* The RoPE frequency scaling of a rope (or rope_kv_write) node: its type and the attributes that type
 * reads (docs/model-json.md). */
static LlmcStatus rope_scaling_ok(const Ctx *c, int64_t hd)
{
    const LlmcNode *n = c->n;
    const char *st = llmc_attr_str(n, "scaling.type", NULL);
    int kind = llmc_rope_kind(n);
    if (st && kind == LLMC_ROPE_NONE)
        return llmc_fail(c->d, "%s (rope): scaling.type must be \"llama3\", \"linear\", \"dynamic\", \"yarn\" or "
                         "\"longrope\", found \"%s\"", n->where, st);
    if (need_pos_attr(c, "scaling.factor", 1.0, 1e6) || need_pos_attr(c, "scaling.low_freq_factor", 1.0, 1e6) ||
        need_pos_attr(c, "scaling.high_freq_factor", 4.0, 1e6) ||
        need_pos_attr(c, "scaling.original_max_position_embeddings", 8192.0, 1e9) ||
        need_pos_attr(c, "scaling.beta_fast", 32.0, 1e6) || need_pos_attr(c, "scaling.beta_slow", 1.0, 1e6) ||
        need_pos_attr(c, "scaling.attention_factor", 1.0, 1e3))
        return LLMC_ERR;
    if (kind == LLMC_ROPE_LLAMA3 &&
        !(llmc_attr_float(n, "scaling.high_freq_factor", 4.0) > llmc_attr_float(n, "scaling.low_freq_factor", 1.0)))
        return llmc_fail(c->d, "%s (rope): scaling.high_freq_factor must be greater than scaling.low_freq_factor",
                         n->where);
    static const char *const lists[2] = {"scaling.short_factor", "scaling.long_factor"};
    for (int i = 0; i < 2; i++) {
        const LlmcAttr *a = llmc_attr(n, lists[i]);
        int64_t cnt = 0;
        const double *v = llmc_attr_floats(n, lists[i], &cnt);
        if (kind != LLMC_ROPE_LONGROPE) {
            if (a)
                return llmc_fail(c->d, "%s (rope): %s is for scaling.type \"longrope\"", n->where, lists[i]);
            continue;
        }
        if (!v || cnt != hd / 2)
            return llmc_fail(c->d, "%s (rope): %s must be a list of head_dim / 2 = %lld numbers, found %s%lld",
                             n->where, lists[i], (long long)(hd / 2), v ? "" : "none: ", (long long)cnt);
        for (int64_t k = 0; k < cnt; k++)
            if (!(v[k] > 0 && v[k] <= 1e9))
                return llmc_fail(c->d, "%s (rope): %s[%lld] must be > 0, found %g", n->where, lists[i], (long long)k,
                                 v[k]);
    }
    return LLMC_OK;
}

LlmcStatus llmc_infer_node(const LlmcGraph *g, const LlmcNode *n, LlmcShape *out, LlmcDType *dt,
                           LlmcDiag *d)
{
    Ctx c = {g, n, d};
    const LlmcOpInfo *info = &llmc_op_info[n->op];
    char e[160];
    if (n->n_in < info->min_in || n->n_in > info->max_in)
        return llmc_fail(d, "%s (%s): takes %d to %d inputs, found %d", n->where, info->name,
                         info->min_in, info->max_in, n->n_in);
    for (int i = 0; i < info->n_out; i++)
        dt[i] = LLMC_F32;
    const LlmcShape *s0 = &in_t(&c, 0)->shape;
    switch (n->op) {
    case LLMC_OP_EMBEDDING:
        if (need_weight(&c, 0, 2) || need_rows_i32(&c, 1, LLMC_DIM_T))
            return LLMC_ERR;
        out[0] = llmc_shape2(LLMC_T, s0->dim[1]);
        return LLMC_OK;
    case LLMC_OP_RMSNORM:
        if (need_act(&c, 0) || need_weight(&c, 1, 1))
            return LLMC_ERR;
        if (in_t(&c, 1)->shape.dim[0] != llmc_cols(s0)) {
            snprintf(e, sizeof e, "[%lld] to match the input's columns", (long long)llmc_cols(s0));
            return bad_in(&c, 1, e);
        }
        if (need_pos_attr(&c, "eps", 1e-5, 1.0))
            return LLMC_ERR;
        out[0] = *s0;
        return LLMC_OK;
    case LLMC_OP_MATMUL: {
        if (need_act(&c, 0) || need_weight(&c, 1, 2))
            return LLMC_ERR;
        const LlmcShape *w = &in_t(&c, 1)->shape;
        if (w->dim[1] != llmc_cols(s0)) {
            snprintf(e, sizeof e, "[N, %lld] to match the input's %lld columns", (long long)llmc_cols(s0),
                     (long long)llmc_cols(s0));
            return bad_in(&c, 1, e);
        }
        if (n->n_in == 3) {
            if (need_weight(&c, 2, 1))
                return LLMC_ERR;
            if (in_t(&c, 2)->shape.dim[0] != w->dim[0]) {
                snprintf(e, sizeof e, "a bias of [%lld]", (long long)w->dim[0]);
                return bad_in(&c, 2, e);
            }
        }
        out[0] = *s0;
        out[0].dim[1] = w->dim[0];
        return LLMC_OK;
    }
    case LLMC_OP_ADD:
    case LLMC_OP_MUL:
    case LLMC_OP_SWIGLU:
    case LLMC_OP_GEGLU:
        if (need_act(&c, 0) || need_act(&c, 1))
            return LLMC_ERR;
        if (!llmc_shape_eq(s0, &in_t(&c, 1)->shape))
            return bad_in(&c, 1, "the same shape as input 0");
        out[0] = *s0;
        return LLMC_OK;
    case LLMC_OP_SILU:
    case LLMC_OP_GELU_TANH:
        if (need_act(&c, 0))
            return LLMC_ERR;
        out[0] = *s0;
        return LLMC_OK;
    case LLMC_OP_SCALE:
    case LLMC_OP_SOFTCAP: {
        const char *key = n->op == LLMC_OP_SCALE ? "by" : "cap";
        const LlmcAttr *a = llmc_attr(n, key);
        if (need_act(&c, 0))
            return LLMC_ERR;
        if (!a || (a->kind != LLMC_ATTR_INT && a->kind != LLMC_ATTR_FLOAT) || !(a->f > 0 && a->f <= 1e9))
            return llmc_fail(d, "%s (%s): attribute \"%s\" must be a number > 0 and at most 1e9", n->where,
                             info->name, key);
        out[0] = *s0;
        return LLMC_OK;
    }
    case LLMC_OP_HEAD_RMSNORM: {
        int64_t hd, heads;
        if (need_act(&c, 0) || need_weight(&c, 1, 1) || need_int_attr(&c, "head_dim", 1, &hd) ||
            heads_of(&c, 0, hd, &heads) || need_pos_attr(&c, "eps", 1e-5, 1.0))
            return LLMC_ERR;
        if (in_t(&c, 1)->shape.dim[0] != hd) {
            snprintf(e, sizeof e, "[%lld] (head_dim)", (long long)hd);
            return bad_in(&c, 1, e);
        }
        out[0] = *s0;
        return LLMC_OK;
    }
    case LLMC_OP_MOE: {
        /* experts E; the gate and up rows of expert e are rows [e 2F, e 2F + F) and [e 2F + F, (e + 1) 2F)
         * of input 2; its down rows are rows [e D, (e + 1) D) of input 3. */
        int64_t E, K;
        if (need_act(&c, 0) || need_act(&c, 1) || need_weight(&c, 2, 2) || need_weight(&c, 3, 2) ||
            same_rows(&c, 0, 1) || need_int_attr(&c, "experts", 1, &E) || need_int_attr(&c, "top_k", 1, &K))
            return LLMC_ERR;
        const LlmcShape *gu = &in_t(&c, 2)->shape, *dn = &in_t(&c, 3)->shape;
        int64_t D = llmc_cols(s0);
        if (K > E || E > 4096)
            return llmc_fail(d, "%s (moe): top_k %lld must be at most experts %lld (at most 4096)", n->where,
                             (long long)K, (long long)E);
        if (llmc_cols(&in_t(&c, 1)->shape) != E) {
            snprintf(e, sizeof e, "[T, %lld] router logits (one a expert)", (long long)E);
            return bad_in(&c, 1, e);
        }
        if (gu->dim[1] != D || gu->dim[0] % (2 * E) != 0) {
            snprintf(e, sizeof e, "[%lld * 2F, %lld] (the experts' gate and up rows)", (long long)E, (long long)D);
            return bad_in(&c, 2, e);
        }
        if (dn->dim[0] != E * D || dn->dim[1] != gu->dim[0] / (2 * E)) {
            snprintf(e, sizeof e, "[%lld, %lld] (the experts' down rows)", (long long)(E * D),
                     (long long)(gu->dim[0] / (2 * E)));
            return bad_in(&c, 3, e);
        }
        const char *act = llmc_attr_str(n, "act", "silu");
        if (strcmp(act, "silu") != 0 && strcmp(act, "gelu_tanh") != 0)
            return llmc_fail(d, "%s (moe): act must be \"silu\" or \"gelu_tanh\", found \"%s\"", n->where, act);
        /* the GPU fusions' inputs, named by attributes: norm (x is RMS-normed with it first, eps),
         * residual (added to the result) */
        int64_t ni = llmc_attr_int(n, "norm", -1), ri = llmc_attr_int(n, "residual", -1);
        if (ni >= n->n_in || ri >= n->n_in || (ni >= 0 && ni < 4) || (ri >= 0 && ri < 4) || (ni > 0 && ni == ri) ||
            4 + (ni > 0) + (ri > 0) != n->n_in)
            return llmc_fail(d, "%s (moe): inputs and the norm/residual attributes disagree", n->where);
        if (ni > 0 && (need_weight(&c, (int)ni, 1) || in_t(&c, (int)ni)->shape.dim[0] != D))
            return bad_in(&c, (int)ni, "a norm weight matching the input's columns");
        out[0] = *s0;
        if (ri > 0 && (need_act(&c, (int)ri) || !llmc_shape_eq(&in_t(&c, (int)ri)->shape, &out[0])))
            return bad_in(&c, (int)ri, "a residual of the output's shape");
        return LLMC_OK;
    }
    case LLMC_OP_ROPE: {
        int64_t hd, heads;
        if (need_act(&c, 0) || need_rows_i32(&c, 1, s0->sym[0]) || need_int_attr(&c, "head_dim", 2, &hd) ||
            heads_of(&c, 0, hd, &heads))
            return LLMC_ERR;
        if (hd % 2)
            return llmc_fail(d, "%s (rope): head_dim must be even, found %lld", n->where, (long long)hd);
        const char *style = llmc_attr_str(n, "style", NULL);
        if (!style || (strcmp(style, "interleaved") != 0 && strcmp(style, "half") != 0))
            return llmc_fail(d, "%s (rope): style must be \"interleaved\" or \"half\", found %s%s%s",
                             n->where, style ? "\"" : "", style ? style : "nothing", style ? "\"" : "");
        if (need_pos_attr(&c, "theta", 10000.0, 1e12) || rope_scaling_ok(&c, hd))
            return LLMC_ERR;
        out[0] = *s0;
        return LLMC_OK;
    }
    case LLMC_OP_ATTENTION: {
        int64_t hd, hq, hk, hv;
        if (need_act(&c, 0) || need_act(&c, 1) || need_act(&c, 2) || need_int_attr(&c, "head_dim", 1, &hd) ||
            heads_of(&c, 0, hd, &hq) || heads_of(&c, 1, hd, &hk) || heads_of(&c, 2, hd, &hv))
            return LLMC_ERR;
        for (int i = 0; i < 3; i++)
            if (in_t(&c, i)->shape.sym[0] != LLMC_DIM_T)
                return bad_in(&c, i, "rows of every token of the step [T, n]");
        if (hv != hk)
            return bad_in(&c, 2, "as many heads as k");
        if (hq % hk != 0) {
            snprintf(e, sizeof e, "a number of heads dividing q's %lld", (long long)hq);
            return bad_in(&c, 1, e);
        }
        if (llmc_attr_int(n, "window", 0) < 0)
            return llmc_fail(d, "%s (attention): window must be >= 0", n->where);
        if ((llmc_attr(n, "scale") && need_pos_attr(&c, "scale", 1.0, 1e6)) ||
            (llmc_attr(n, "softcap") && need_pos_attr(&c, "softcap", 1.0, 1e9)))
            return LLMC_ERR;
        out[0] = *s0;
        return LLMC_OK;
    }
    case LLMC_OP_ADD_RMSNORM:
        if (need_act(&c, 0) || need_act(&c, 1) || need_weight(&c, 2, 1))
            return LLMC_ERR;
        if (!llmc_shape_eq(s0, &in_t(&c, 1)->shape))
            return bad_in(&c, 1, "the same shape as input 0");
        if (in_t(&c, 2)->shape.dim[0] != llmc_cols(s0))
            return bad_in(&c, 2, "a norm weight matching the columns");
        if (n->n_in == 4 && (need_weight(&c, 3, 1) || in_t(&c, 3)->shape.dim[0] != llmc_cols(s0)))
            return bad_in(&c, 3, "a norm weight of input 1 matching the columns");
        out[0] = out[1] = *s0;
        dt[1] = LLMC_F32;
        return LLMC_OK;
    case LLMC_OP_SLICE: {
        int64_t start, cols;
        if (need_act(&c, 0) || need_int_attr(&c, "start", 0, &start) || need_int_attr(&c, "n", 1, &cols))
            return LLMC_ERR;
        if (start + cols > llmc_cols(s0))
            return bad_in(&c, 0, "at least start + n columns");
        out[0] = *s0;
        out[0].dim[1] = cols;
        return LLMC_OK;
    }
    case LLMC_OP_SELECT_ROWS:
        if (need_act(&c, 0) || need_rows_i32(&c, 1, LLMC_DIM_O))
            return LLMC_ERR;
        if (s0->sym[0] != LLMC_DIM_T)
            return bad_in(&c, 0, "[T, n]");
        out[0] = llmc_shape2(LLMC_O, llmc_cols(s0));
        return LLMC_OK;
    case LLMC_OP_GATHER_COLS:
        if (need_act(&c, 0) || need_weight(&c, 1, 1))
            return LLMC_ERR;
        if (in_t(&c, 1)->dtype != LLMC_I32 || in_t(&c, 1)->shape.dim[0] != llmc_cols(s0))
            return bad_in(&c, 1, "an i32 index vector, one index per input column");
        out[0] = *s0;
        return LLMC_OK;
    case LLMC_OP_KV_WRITE: {
        int64_t hd, hk, hv, layer;
        if (need_act(&c, 0) || need_act(&c, 1) || need_rows_i32(&c, 2, LLMC_DIM_T) ||
            need_int_attr(&c, "head_dim", 1, &hd) || need_int_attr(&c, "layer", 0, &layer) ||
            heads_of(&c, 0, hd, &hk) || heads_of(&c, 1, hd, &hv) || same_rows(&c, 0, 1))
            return LLMC_ERR;
        if (hk != hv)
            return bad_in(&c, 1, "as many heads as k");
        return LLMC_OK;
    }
    case LLMC_OP_PAGED_ATTENTION: {
        int64_t hd, hq, hk, layer;
        if (need_act(&c, 0) || need_rows_i32(&c, 1, LLMC_DIM_T) || need_int_attr(&c, "head_dim", 1, &hd) ||
            need_int_attr(&c, "layer", 0, &layer) || need_int_attr(&c, "n_kv_heads", 1, &hk) ||
            heads_of(&c, 0, hd, &hq))
            return LLMC_ERR;
        if (hq % hk)
            return llmc_fail(d, "%s (paged_attention): n_kv_heads %lld does not divide %lld query heads",
                             n->where, (long long)hk, (long long)hq);
        out[0] = *s0;
        return LLMC_OK;
    }
    case LLMC_OP_MATMUL_FUSED: {
        /* attrs name the optional inputs: norm (prologue RMSNorm weight, eps), residual (added after),
         * bias; swiglu=1 pairs output columns j and j + N/2 into silu(a) * b. */
        if (need_act(&c, 0) || need_weight(&c, 1, 2))
            return LLMC_ERR;
        const LlmcShape *w = &in_t(&c, 1)->shape;
        int64_t K = llmc_cols(s0), N = w->dim[0], cols = llmc_attr_int(n, "swiglu", 0) ? N / 2 : N;
        if (w->dim[1] != K)
            return bad_in(&c, 1, "[N, K] matching the input's columns");
        if (llmc_attr_int(n, "swiglu", 0) && N % 2)
            return bad_in(&c, 1, "an even number of rows for the swiglu epilogue");
        int64_t ni = llmc_attr_int(n, "norm", -1), ri = llmc_attr_int(n, "residual", -1), bi = llmc_attr_int(n, "bias", -1);
        if (ni >= n->n_in || ri >= n->n_in || bi >= n->n_in || ni == 0 || ni == 1 || ri == 0 || ri == 1 || bi == 0 ||
            bi == 1 || 2 + (ni > 0) + (ri > 0) + (bi > 0) != n->n_in)
            return llmc_fail(d, "%s (matmul_fused): inputs and the norm/residual/bias attributes disagree", n->where);
        if (ni > 0 && (need_weight(&c, (int)ni, 1) || in_t(&c, (int)ni)->shape.dim[0] != K))
            return bad_in(&c, (int)ni, "a norm weight matching the input's columns");
        if (bi > 0 && (need_weight(&c, (int)bi, 1) || in_t(&c, (int)bi)->shape.dim[0] != N))
            return bad_in(&c, (int)bi, "a bias of one value per weight row");
        out[0] = *s0;
        out[0].dim[1] = cols;
        if (ri > 0 && (need_act(&c, (int)ri) || !llmc_shape_eq(&in_t(&c, (int)ri)->shape, &out[0])))
            return bad_in(&c, (int)ri, "a residual of the output's shape");
        return LLMC_OK;
    }
    case LLMC_OP_ROPE_KV_WRITE: {
        int64_t hd, hq, hk, hv, layer;
        if (need_act(&c, 0) || need_act(&c, 1) || need_act(&c, 2) || need_rows_i32(&c, 3, LLMC_DIM_T) ||
            need_rows_i32(&c, 4, LLMC_DIM_T) || need_int_attr(&c, "head_dim", 2, &hd) ||
            need_int_attr(&c, "layer", 0, &layer) || heads_of(&c, 0, hd, &hq) || heads_of(&c, 1, hd, &hk) ||
            heads_of(&c, 2, hd, &hv))
            return LLMC_ERR;
        if (hk != hv || hq % hk)
            return bad_in(&c, 1, "K/V heads dividing the query heads");
        for (int i = 5; i < n->n_in; i++) /* the per-head norms of q and k */
            if (need_weight(&c, i, 1) || in_t(&c, i)->shape.dim[0] != hd)
                return bad_in(&c, i, "a per-head norm weight [head_dim]");
        if (n->n_in == 6)
            return llmc_fail(d, "%s (rope_kv_write): takes both norm weights or neither", n->where);
        out[0] = *s0;
        return LLMC_OK;
    }
    case LLMC_OP_ALL_REDUCE:
    case LLMC_OP_ALL_GATHER: {
        int64_t ranks;
        if (need_act(&c, 0) || need_int_attr(&c, "ranks", 1, &ranks))
            return LLMC_ERR;
        out[0] = *s0;
        if (n->op == LLMC_OP_ALL_GATHER)
            out[0].dim[1] *= ranks;
        return LLMC_OK;
    }
    case LLMC_OP_COUNT:
        break;
    }
    return llmc_fail(d, "%s: unknown op %d", n->where, (int)n->op);
}
