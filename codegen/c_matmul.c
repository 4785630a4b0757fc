/* c_matmul.c — C emitter for matmul (y = x w^T + b) and embedding lookups, both over stored weights
 * in any storage format (f32, bf16, f16: converted to f32 in registers; fp8 and u4 with their
 * layout's scales and zero points: mm_q / embed_q, dequantized in registers). */
#include "c_common.h"

#define SCALE(w) llmc_layout_role(&(w)->layout, (w)->dtype, LLMC_ROLE_SCALE)
#define ZERO(w) llmc_layout_role(&(w)->layout, (w)->dtype, LLMC_ROLE_ZERO)

/* "Q_FP8" or "Q_U4" for a quantized weight (its layout names scales), else NULL. */
static const char *q_kind(const LlmcTensor *w)
{
    if (llmc_layout_is_plain(&w->layout))
        return NULL;
    if (w->layout.order == LLMC_ORDER_LANE8)
        return w->dtype == LLMC_FP8 ? "Q_FP8_LANE8" : "Q_U4_LANE8";
    return w->dtype == LLMC_FP8 ? "Q_FP8" : "Q_U4";
}

static LlmcStatus emit_matmul_q(LlmcEmit *e, int node, const char *qk)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[1]];
    int x = n->in[0], y = n->out[0];
    int64_t K = w->shape.dim[1], N = w->shape.dim[0];
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* matmul: f32[%s,%lld] x %s[%lld,%lld]^T (groups of %d)%s -> f32[%s,%lld] */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *x, "
                    "const uint8_t *w, const void *scale, const uint16_t *zero, const float *b, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    mm_q(%s, %s, %lld, %lld, %d, x, %lld, w, scale, zero, b, y, %lld, tid, nth);\n}\n",
                    llmc_rows_expr(g, x), (long long)K, llmc_dtype_name(w->dtype), (long long)N, (long long)K,
                    w->layout.group, n->n_in == 3 ? " + b" : "", llmc_rows_expr(g, y), (long long)N, qk,
                    llmc_c_rows(g, x), (long long)K, (long long)N, w->layout.group, (long long)llmc_row_stride(g, x),
                    (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "matmul", k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, 6, PTR(x, "const float"), PTR(n->in[1], "const uint8_t"),
                PTR(SCALE(w), "const void"), ZERO(w) >= 0 ? PTR(ZERO(w), "const uint16_t") : "0",
                n->n_in == 3 ? PTR(n->in[2], "const float") : "0", PTR(y, "float"));
    return LLMC_OK;
}

LlmcStatus llmc_c_emit_matmul(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[1]];
    if (q_kind(w))
        return emit_matmul_q(e, node, q_kind(w));
    int x = n->in[0], y = n->out[0];
    int64_t K = w->shape.dim[1], N = w->shape.dim[0];
    const char *wt = llmc_c_wtype(w->dtype), *suf = llmc_c_wsuffix(w->dtype);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* matmul: f32[%s,%lld] x %s[%lld,%lld]^T%s -> f32[%s,%lld]; x row stride %lld, y row stride %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *x, "
                    "const %s *w, const float *b, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    mm_%s(%s, %lld, %lld, x, %lld, w, b, y, %lld, tid, nth);\n}\n",
                    llmc_rows_expr(g, x), (long long)K, llmc_dtype_name(w->dtype), (long long)N, (long long)K,
                    n->n_in == 3 ? " + b" : "", llmc_rows_expr(g, y), (long long)N, (long long)llmc_row_stride(g, x),
                    (long long)llmc_row_stride(g, y), wt, suf, llmc_c_rows(g, x), (long long)K, (long long)N,
                    (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "matmul", k.s);
    llmc_buf_free(&k);
    char cw[64];
    snprintf(cw, sizeof cw, "const %s", wt);
    llmc_c_call(e, node, name, 4, PTR(x, "const float"), PTR(n->in[1], cw),
                n->n_in == 3 ? PTR(n->in[2], "const float") : "0", PTR(y, "float"));
    return LLMC_OK;
}

LlmcStatus llmc_c_emit_embedding(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[0]];
    int y = n->out[0];
    int64_t D = w->shape.dim[1];
    if (q_kind(w)) {
        LlmcBuf k = {0};
        llmc_buf_printf(&k,
                        "/* embedding: %s[%lld,%lld] (groups of %d) rows gathered by i32[T] -> f32[T,%lld] */\n"
                        "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const uint8_t *table, "
                        "const void *scale, const uint16_t *zero, const int32_t *tok, float *y)\n{\n"
                        "    (void)ex;\n"
                        "    embed_q(%s, st->n_tokens, %lld, %d, table, scale, zero, tok, y, %lld, tid, nth);\n}\n",
                        llmc_dtype_name(w->dtype), (long long)w->shape.dim[0], (long long)D, w->layout.group,
                        (long long)D, q_kind(w), (long long)D, w->layout.group, (long long)llmc_row_stride(g, y));
        const char *name = llmc_emit_kernel(e, "embedding", k.s);
        llmc_buf_free(&k);
        llmc_c_call(e, node, name, 5, PTR(n->in[0], "const uint8_t"), PTR(SCALE(w), "const void"),
                    ZERO(w) >= 0 ? PTR(ZERO(w), "const uint16_t") : "0", PTR(n->in[1], "const int32_t"),
                    PTR(y, "float"));
        return LLMC_OK;
    }
    const char *wt = llmc_c_wtype(w->dtype);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* embedding: %s[%lld,%lld] rows gathered by i32[T] -> f32[T,%lld] */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const %s *table, "
                    "const int32_t *tok, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    embed_%s(st->n_tokens, %lld, table, tok, y, %lld, tid, nth);\n}\n",
                    llmc_dtype_name(w->dtype), (long long)w->shape.dim[0], (long long)D, (long long)D, wt,
                    llmc_c_wsuffix(w->dtype), (long long)D, (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "embedding", k.s);
    llmc_buf_free(&k);
    char cw[64];
    snprintf(cw, sizeof cw, "const %s", wt);
    llmc_c_call(e, node, name, 3, PTR(n->in[0], cw), PTR(n->in[1], "const int32_t"), PTR(y, "float"));
    return LLMC_OK;
}
