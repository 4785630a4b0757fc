/* cuda_rows.c — CUDA emitters for select_rows and gather_cols.
 *
 * select_rows in place (llmc_rows_in_place: plan_memory_gpu gave its output its input's buffer, the
 * input read by nothing after it): a step whose O rows are its T rows in order (forward()'s
 * `same_rows`: every decode step and every CUDA graph's step, llmc_gpu_graph_bucket) has its rows
 * where the next nodes read them already, and forward() launches nothing; another step's rows are
 * gathered into scratch A, then copied over the buffer's first O rows (in place, a row gathered by
 * one block could be overwritten by another's before it is read). At batch 1 this saves the decode
 * step the two select_rows launches of a Llama's last layer (2.4 us each on an H100, bench/NOTES.md
 * round 13); a prefill step pays one launch more for each. */
#include "cuda_common.h"

/* The condition on forward()'s steps under which an in-place select_rows copies rows. */
#define ROWS_MOVE "!same_rows"

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
    if (llmc_rows_in_place(g, node)) {
        int64_t SX = llmc_row_stride(g, x);
        LlmcBuf k = {0};
        llmc_buf_printf(&k,
                        "/* select_rows, in place: f32[T,%lld] -> its first O rows (stride %lld); the rows to scratch A "
                        "*/\n"
                        "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    select_row<%lld, %lld, %lld>(%s, a.out_rows, A(%lld));\n}\n",
                        (long long)D, (long long)SX, (long long)D, (long long)SX, (long long)D, xs,
                        (long long)e->scratch_a);
        const char *gather = llmc_cuda_kernel(e, "select_rows_gather", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, ROWS_MOVE, gather, "O", "1", "1", 256, 0);
        llmc_cuda_node_begin(e);
        llmc_buf_printf(&k,
                        "/* select_rows, in place: scratch A's O rows -> f32[O,%lld] (stride %lld) */\n"
                        "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    select_row<%lld, %lld, %lld>(A(%lld), nullptr, %s);\n}\n",
                        (long long)D, (long long)SX, (long long)D, (long long)D, (long long)SX, (long long)e->scratch_a,
                        llmc_cuda_ptr(e, y, "float"));
        const char *back = llmc_cuda_kernel(e, "select_rows_back", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, ROWS_MOVE, back, "O", "1", "1", 256, 0);
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
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
