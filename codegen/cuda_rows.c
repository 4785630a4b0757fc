/* cuda_rows.c — CUDA emitters for select_rows and gather_cols. */
#include "cuda_common.h"

LlmcStatus llmc_cuda_emit_rows(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    int64_t D = llmc_cols(&g->t[x].shape);
    char xs[160];
    snprintf(xs, sizeof xs, "%s", llmc_cuda_ptr(e, x, "const float"));
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* select_rows: f32[T,%lld] -> f32[O,%lld]; strides x %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    select_row<%lld, %lld, %lld>(%s, a.out_rows, %s);\n}\n",
                    (long long)D, (long long)D, (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y),
                    (long long)D, (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y), xs,
                    llmc_cuda_ptr(e, y, "float"));
    const char *name = llmc_cuda_kernel(e, "select_rows", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, NULL, name, "O", "1", "1", 256, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}

LlmcStatus llmc_cuda_emit_gather_cols(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    int64_t K = llmc_cols(&g->t[x].shape);
    char xs[160], is[160];
    snprintf(xs, sizeof xs, "%s", llmc_cuda_ptr(e, x, "const float"));
    snprintf(is, sizeof is, "%s", llmc_cuda_ptr(e, n->in[1], "const int32_t"));
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* gather_cols: f32[%s,%lld], y[t][j] = x[t][idx[j]]; strides x %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    gather_cols<%lld, %lld, %lld>(%s, %s, %s);\n}\n",
                    llmc_cuda_host_rows(g, x), (long long)K, (long long)llmc_row_stride(g, x),
                    (long long)llmc_row_stride(g, y), (long long)K, (long long)llmc_row_stride(g, x),
                    (long long)llmc_row_stride(g, y), xs, is, llmc_cuda_ptr(e, y, "float"));
    const char *name = llmc_cuda_kernel(e, "gather_cols", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, NULL, name, llmc_cuda_host_rows(g, x), "1", "1", 256, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
