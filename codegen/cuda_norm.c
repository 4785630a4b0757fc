/* cuda_norm.c — CUDA emitter for rmsnorm and add_rmsnorm (one block per row) and head_rmsnorm (a
 * block a row, a warp a head). */
#include "cuda_common.h"

static LlmcStatus emit_head_norm(LlmcEmit *e, int node)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], w = n->in[1], y = n->out[0];
    int64_t hd = llmc_attr_int(n, "head_dim", 1), H = llmc_cols(&g->t[x].shape) / hd;
    double eps = llmc_attr_float(n, "eps", 1e-5);
    char xs[160], ws[160];
    snprintf(xs, sizeof xs, "%s", llmc_cuda_ptr(e, x, "const float"));
    snprintf(ws, sizeof ws, "%s", llmc_cuda_ptr(e, w, "const float"));
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* head_rmsnorm: f32[%s,%lld] = %lld heads of %lld, eps %.9g; strides x %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    head_rmsnorm_row<%lld, %lld, %lld, %lld>(%s, %s, %s, %s);\n}\n",
                    llmc_cuda_host_rows(g, x), (long long)(H * hd), (long long)H, (long long)hd, eps,
                    (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y), (long long)H, (long long)hd,
                    (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y), xs, ws,
                    llmc_cuda_ptr(e, y, "float"), llmc_c_float(e, eps));
    const char *name = llmc_cuda_kernel(e, "head_rmsnorm", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, NULL, name, llmc_cuda_host_rows(g, x), "1", "1", 128, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}

LlmcStatus llmc_cuda_emit_norm(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    if (e->g->n[node].op == LLMC_OP_HEAD_RMSNORM)
        return emit_head_norm(e, node);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int add = n->op == LLMC_OP_ADD_RMSNORM;
    int a = n->in[0], b = add ? n->in[1] : -1, w = n->in[add ? 2 : 1];
    int s = add ? n->out[0] : -1, y = n->out[add ? 1 : 0];
    int64_t D = llmc_cols(&g->t[a].shape);
    int threads = D >= 2048 ? 512 : D >= 512 ? 256 : 128;
    char as[160], bs[160], ss[160], ws[160];
    snprintf(as, sizeof as, "%s", llmc_cuda_ptr(e, a, "const float"));
    snprintf(bs, sizeof bs, "%s", add ? llmc_cuda_ptr(e, b, "const float") : "(const float *)0");
    snprintf(ss, sizeof ss, "%s", add ? llmc_cuda_ptr(e, s, "float") : "(float *)0");
    snprintf(ws, sizeof ws, "%s", llmc_cuda_ptr(e, w, "const float"));
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* %s: f32[%s,%lld], eps %.9g; strides a %lld, b %lld, s %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(%d) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    rmsnorm_row<%d, %lld, %lld, %lld, %lld, %lld>(%s, %s, %s, %s, %s, %s);\n}\n",
                    add ? "add_rmsnorm" : "rmsnorm", llmc_cuda_host_rows(g, a), (long long)D,
                    llmc_attr_float(n, "eps", 1e-5), (long long)llmc_row_stride(g, a),
                    add ? (long long)llmc_row_stride(g, b) : 0LL, add ? (long long)llmc_row_stride(g, s) : 0LL,
                    (long long)llmc_row_stride(g, y), threads, add, (long long)D, (long long)llmc_row_stride(g, a),
                    add ? (long long)llmc_row_stride(g, b) : 0LL, add ? (long long)llmc_row_stride(g, s) : 0LL,
                    (long long)llmc_row_stride(g, y), as, bs, ss, ws, llmc_cuda_ptr(e, y, "float"),
                    llmc_c_float(e, llmc_attr_float(n, "eps", 1e-5)));
    const char *name = llmc_cuda_kernel(e, add ? "add_rmsnorm" : "rmsnorm", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, NULL, name, llmc_cuda_host_rows(g, a), "1", "1", threads, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
