/* c_norm.c — C emitter for rmsnorm, the fused add_rmsnorm (residual add, then norm of the sum) and
 * head_rmsnorm (each head of a row normed on its own: Qwen3's and Gemma 3's q and k). */
#include "c_common.h"

static LlmcStatus emit_head_norm(LlmcEmit *e, int node)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], w = n->in[1], y = n->out[0];
    int64_t hd = llmc_attr_int(n, "head_dim", 1), H = llmc_cols(&g->t[x].shape) / hd;
    double eps = llmc_attr_float(n, "eps", 1e-5);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* head_rmsnorm: f32[%s,%lld] = %lld heads of %lld, eps %.9g; strides x %lld, y %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, "
                    "const float *w, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    head_rmsnorm_rows(%s, %lld, %lld, x, %lld, w, y, %lld, %s, tid, nth);\n}\n",
                    "rows", (long long)(H * hd), (long long)H, (long long)hd, eps,
                    (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y), "nrows", (long long)H,
                    (long long)hd, (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y),
                    llmc_c_float(e, eps));
    const char *name = llmc_emit_kernel(e, "head_rmsnorm", k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, x, 3, PTR(x, "const float"), PTR(w, "const float"), PTR(y, "float"));
    return LLMC_OK;
}

LlmcStatus llmc_c_emit_norm(LlmcEmit *e, int node, LlmcDiag *d)
{
    if (e->g->n[node].op == LLMC_OP_HEAD_RMSNORM)
        return emit_head_norm(e, node);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    if (n->n_in == 4) /* fuse_post_norm's: the cpu target runs the common pipeline only */
        return llmc_fail(d, "internal error: %s: add_rmsnorm with a pre-norm on the C backend", n->where);
    int add = n->op == LLMC_OP_ADD_RMSNORM;
    int a = n->in[0], b = add ? n->in[1] : -1, w = n->in[add ? 2 : 1];
    int s = add ? n->out[0] : -1, y = n->out[add ? 1 : 0];
    int64_t D = llmc_cols(&g->t[a].shape);
    double eps = llmc_attr_float(n, "eps", 1e-5);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* %s: f32[%s,%lld]%s, eps %.9g; strides a %lld, b %lld, s %lld, y %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *a, "
                    "const float *b, float *s, const float *w, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    rmsnorm_rows(%d, %s, %lld, a, %lld, b, %lld, s, %lld, w, y, %lld, %s, tid, nth);\n}\n",
                    add ? "add_rmsnorm" : "rmsnorm", "rows", (long long)D, add ? " + f32[same]" : "",
                    eps, (long long)llmc_row_stride(g, a), add ? (long long)llmc_row_stride(g, b) : 0LL,
                    add ? (long long)llmc_row_stride(g, s) : 0LL, (long long)llmc_row_stride(g, y), add,
                    "nrows", (long long)D, (long long)llmc_row_stride(g, a),
                    add ? (long long)llmc_row_stride(g, b) : 0LL, add ? (long long)llmc_row_stride(g, s) : 0LL,
                    (long long)llmc_row_stride(g, y), llmc_c_float(e, eps));
    const char *name = llmc_emit_kernel(e, add ? "add_rmsnorm" : "rmsnorm", k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, a, 5, PTR(a, "const float"), add ? PTR(b, "const float") : "0",
                add ? PTR(s, "float") : "0", PTR(w, "const float"), PTR(y, "float"));
    return LLMC_OK;
}
