/* cuda_collective.c — CUDA emitters for the collectives of a sharded graph (all_reduce, all_gather:
 * ir/ops.def, passes/shard_tp.c). A collective is no kernel of the model's: forward() calls the
 * runtime (llmc_gpu_all_reduce / llmc_gpu_all_gather in llmc_model.h: runtime/gpu_ranks.c), which
 * enqueues NCCL's collective on the rank's stream between the launches, so a decode step's CUDA
 * graph holds it in its place. The values are f32 in the arena (the graph's activations are f32
 * whatever the weights' format): NCCL sums f32 in f32.
 *
 * all_gather: NCCL gathers each rank's dense block one after another ([N][rows][n], into scratch
 * region A past the arena); a kernel (all_gather_place, cuda_rows.cuh) then puts block r at
 * columns [r n, (r+1) n) of each row of y, as the graph's all_gather lays them out. */
#include "cuda_common.h"

int64_t llmc_cuda_gather_scratch(const LlmcGraph *g, int node)
{
    const LlmcNode *n = &g->n[node];
    int64_t rows = g->max_tokens > g->max_outputs ? g->max_tokens : g->max_outputs;
    return rows * llmc_cols(&g->t[n->in[0]].shape) * llmc_attr_int(n, "ranks", 1) * 4;
}

LlmcStatus llmc_cuda_emit_collective(LlmcEmit *e, int node, LlmcDiag *d)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    int64_t C = llmc_cols(&g->t[x].shape), ranks = llmc_attr_int(n, "ranks", 1);
    int64_t sx = llmc_row_stride(g, x), sy = llmc_row_stride(g, y);
    const char *rows = llmc_cuda_host_rows(g, x);
    if (g->t[x].kind == LLMC_T_WEIGHT || x == g->logits || (n->op == LLMC_OP_ALL_REDUCE && y == g->logits))
        return llmc_fail(d, "internal error: node %d (%s): a collective's operands must be activations in the arena",
                         node, llmc_op_info[n->op].name);
    llmc_cuda_node_begin(e);
    llmc_emit_node_comment(e, node, "");
    if (n->op == LLMC_OP_ALL_REDUCE) {
        llmc_buf_printf(&e->body,
                        "    /* f32[%s,%lld] summed over %lld ranks by NCCL (f32), on the rank's stream */\n"
                        "    llmc_gpu_all_reduce(gpu, %s, %lld, %lld, %lld, %lld, %lld);\n",
                        rows, (long long)C, (long long)ranks, rows, (long long)C, (long long)g->t[x].offset,
                        (long long)sx, (long long)g->t[y].offset, (long long)sy);
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
    if (sx != C)
        return llmc_fail(d, "internal error: node %d (all_gather): its input's rows are %lld apart, not dense (%lld)",
                         node, (long long)sx, (long long)C);
    llmc_buf_printf(&e->body,
                    "    /* f32[%s,%lld] of %lld ranks gathered by NCCL into [%lld][%s][%lld] (scratch), then put in "
                    "place */\n"
                    "    llmc_gpu_all_gather(gpu, %s, %lld, %lld, %lld);\n",
                    rows, (long long)C, (long long)ranks, (long long)ranks, rows, (long long)C, rows, (long long)C,
                    (long long)g->t[x].offset, (long long)e->scratch_a);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* all_gather: the ranks' blocks f32[%lld][R,%lld] -> f32[R,%lld] (row stride %lld) */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    all_gather_place<%lld, %lld, %lld>((const float *)(a.arena + %lld), %s, %s);\n}\n",
                    (long long)ranks, (long long)C, (long long)(C * ranks), (long long)sy, (long long)C,
                    (long long)ranks, (long long)sy, (long long)e->scratch_a, llmc_cuda_ptr(e, y, "float"),
                    llmc_cuda_rows(g, x));
    const char *name = llmc_cuda_kernel(e, "all_gather", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, -1, NULL, name, rows, "1", "1", 256, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
