/* cuda_collective.c — CUDA emitters for the collectives of a sharded graph (all_reduce, all_gather:
 * ir/ops.def, passes/shard_tp.c). forward() calls the runtime (llmc_gpu_all_gather,
 * llmc_gpu_all_to_all in llmc_model.h: runtime/gpu_ranks.c), which enqueues NCCL's calls on the
 * rank's stream between the launches, so a decode step's CUDA graph holds them in their place;
 * kernels of the model's then combine what they brought. The values are f32 in the arena (the
 * graph's activations are f32 whatever the weights' format).
 *
 * all_gather: NCCL gathers each rank's rows one block after another into scratch region A past the
 * arena ([N][rows][n]); a kernel (all_gather_place, cuda_rows.cuh) puts block r at columns
 * [r n, (r+1) n) of each row of y, as the graph's all_gather lays them out.
 *
 * all_reduce, rank-ordered: each element of y is the sum of its N values in rank order 0..N-1, in
 * double from 0, rounded once to f32: the cpu target's order and rounding (llmc_all_reduce,
 * runtime/ranks.c, its plain-C reference), so the sum is exact by construction, the same bits on
 * every rank and whatever the batch, not NCCL's ring or tree order. Two ways to it, the same bits:
 *  - the gather (few rows): NCCL gathers every rank's rows into scratch A ([N][part], part = (rows -
 *    1) x the row stride + the columns: the rows as they lie in the rank's arena), then
 *    all_reduce_ordered sums them on every rank. One NCCL call, but N - 1 x the rows' bytes into
 *    each rank where NCCL's ring all-reduce moves 2 (N - 1) / N x: the same at 2 ranks, 2 x at 4.
 *  - the exchange (rows from exchange_rows on, 3 ranks or more): each rank sends rank q its q-th
 *    1/N of the dense values and receives every rank's share of its own (ncclSend / ncclRecv into
 *    scratch A, [N][chunk]), all_reduce_chunk sums its chunk, and an all-gather brings the ranks'
 *    sums into y: 2 (N - 1) / N x the bytes, as the ring, in two NCCL calls.
 * docs/tp.md says what each costs. */
#include "cuda_common.h"

#include <math.h>

int64_t llmc_cuda_gather_scratch(const LlmcGraph *g, int node)
{
    const LlmcNode *n = &g->n[node];
    int x = n->in[0];
    int64_t rows = g->max_tokens > g->max_outputs ? g->max_tokens : g->max_outputs;
    return rows * llmc_row_stride(g, x) * llmc_attr_int(n, "ranks", 1) * 4;
}

/* The rows from which an all_reduce of C dense columns over N ranks takes the exchange: where the
 * bytes the gather adds to the ring's, (N - 1)(N - 2) / N x the rows', take longer than one more
 * NCCL call. An estimate from two assumed figures, not a measurement (nothing here ran on GPUs):
 * 5 us a call, 350 GB/s into a GPU (H100 SXM's NVLink). 0: never (2 ranks: the gather moves no
 * more; columns N does not divide; rows not dense). */
static int64_t exchange_rows(int64_t N, int64_t C, int dense)
{
    if (N <= 2 || C % N != 0 || !dense)
        return 0;
    const double call_bytes = 5e-6 * 350e9;
    double rows = ceil(call_bytes * (double)N / ((double)(N - 1) * (double)(N - 2) * (double)C * 4.0));
    return rows < 2 ? 2 : (int64_t)rows;
}

LlmcStatus llmc_cuda_emit_collective(LlmcEmit *e, int node, LlmcDiag *d)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    int reduce = n->op == LLMC_OP_ALL_REDUCE;
    int64_t C = llmc_cols(&g->t[x].shape), ranks = llmc_attr_int(n, "ranks", 1);
    int64_t sx = llmc_row_stride(g, x), sy = llmc_row_stride(g, y);
    const char *rows = llmc_cuda_host_rows(g, x);
    if (g->t[x].kind == LLMC_T_WEIGHT || x == g->logits || (reduce && y == g->logits))
        return llmc_fail(d, "internal error: node %d (%s): a collective's operands must be activations in the arena",
                         node, llmc_op_info[n->op].name);
    if (!reduce && sx != C)
        return llmc_fail(d, "internal error: node %d (all_gather): its input's rows are %lld apart, not dense (%lld)",
                         node, (long long)sx, (long long)C);
    int64_t max_rows = g->t[x].shape.sym[0] == LLMC_DIM_O ? g->max_outputs : g->max_tokens;
    int64_t from = reduce ? exchange_rows(ranks, C, sx == C && sy == C) : 0;
    if (from > max_rows)
        from = 0;
    char few[64] = "", many[64] = "";
    if (from) {
        snprintf(few, sizeof few, "%s < %lld", rows, (long long)from);
        snprintf(many, sizeof many, "%s >= %lld", rows, (long long)from);
    }
    llmc_cuda_node_begin(e);
    llmc_emit_node_comment(e, node, "");
    llmc_buf_printf(&e->body,
                    "    /* f32[%s,%lld] (row stride %lld) of %lld ranks gathered by NCCL into [%lld][part] (scratch), "
                    "then %s%s */\n",
                    rows, (long long)C, (long long)sx, (long long)ranks, (long long)ranks,
                    reduce ? "summed in rank order" : "put in place", from ? " (few rows)" : "");
    if (from)
        llmc_buf_printf(&e->body, "    if (%s)\n    ", few);
    llmc_buf_printf(&e->body, "    llmc_gpu_all_gather(gpu, %s, %lld, %lld, %lld, %lld);\n", rows, (long long)C,
                    (long long)g->t[x].offset, (long long)sx, (long long)e->scratch_a);
    char ys[160];
    snprintf(ys, sizeof ys, "%s", llmc_cuda_ptr(e, y, "float"));
    const char *krows = llmc_cuda_rows(e, x);
    LlmcBuf k = {0};
    if (reduce)
        llmc_buf_printf(&k,
                        "/* all_reduce: the ranks' blocks f32[%lld][R,%lld] (row stride %lld) summed in rank order, "
                        "in double, rounded once -> f32[R,%lld] (row stride %lld) */\n"
                        "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n"
                        "{\n"
                        "    all_reduce_ordered<%lld, %lld, %lld, %lld>((const float *)(a.arena + %lld), %s, %s);\n}\n",
                        (long long)ranks, (long long)C, (long long)sx, (long long)C, (long long)sy, (long long)C,
                        (long long)ranks, (long long)sx, (long long)sy, (long long)e->scratch_a,
                        ys, krows);
    else
        llmc_buf_printf(&k,
                        "/* all_gather: the ranks' blocks f32[%lld][R,%lld] -> f32[R,%lld] (row stride %lld) */\n"
                        "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n"
                        "{\n"
                        "    all_gather_place<%lld, %lld, %lld>((const float *)(a.arena + %lld), %s, %s);\n}\n",
                        (long long)ranks, (long long)C, (long long)(C * ranks), (long long)sy, (long long)C,
                        (long long)ranks, (long long)sy, (long long)e->scratch_a, ys, krows);
    const char *name = llmc_cuda_kernel(e, reduce ? "all_reduce" : "all_gather", k.s, 0);
    llmc_buf_free(&k);
    char gy[32];
    snprintf(gy, sizeof gy, "%lld", reduce ? (long long)((C + 1023) / 1024) : 1LL); /* 1024 columns a block */
    llmc_cuda_launch(e, -1, from ? few : NULL, name, rows, gy, "1", 256, 0);
    if (from) {
        /* the exchange: chunks of C / N columns a row, rank r's [r chunk, (r+1) chunk) of the dense values */
        int64_t cq = C / ranks;
        llmc_buf_printf(&e->body,
                        "    /* many rows: each rank gets every rank's 1/%lld of the values ([%lld][%s x %lld], scratch), "
                        "sums its share in rank order, and NCCL gathers the sums into y */\n"
                        "    if (%s)\n        llmc_gpu_all_to_all(gpu, (int64_t)%s * %lld, %lld, %lld);\n",
                        (long long)ranks, (long long)ranks, rows, (long long)cq, many, rows, (long long)cq,
                        (long long)g->t[x].offset, (long long)e->scratch_a);
        llmc_cuda_node_begin(e);
        LlmcBuf kc = {0};
        llmc_buf_printf(&kc,
                        "/* all_reduce, many rows: this rank's chunk of f32[R,%lld] from %lld ranks ([%lld][R x %lld]) "
                        "summed in rank order, in double, rounded once, after them */\n"
                        "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n"
                        "{\n"
                        "    all_reduce_chunk<%lld, %lld>((float *)(a.arena + %lld), %s);\n}\n",
                        (long long)C, (long long)ranks, (long long)ranks, (long long)cq, (long long)C,
                        (long long)ranks, (long long)e->scratch_a, llmc_cuda_rows(e, x));
        const char *chunk = llmc_cuda_kernel(e, "all_reduce_chunk", kc.s, 0);
        llmc_buf_free(&kc);
        char gx[64];
        snprintf(gx, sizeof gx, "((uint32_t)%s * %lld + 1023) / 1024", rows, (long long)cq);
        llmc_cuda_launch(e, -1, many, chunk, gx, "1", "1", 256, 0);
        llmc_buf_printf(&e->body,
                        "    if (%s)\n        llmc_gpu_all_gather(gpu, 1, (int64_t)%s * %lld, %lld + (int64_t)%s * %lld, "
                        "(int64_t)%s * %lld, %lld);\n",
                        many, rows, (long long)cq, (long long)e->scratch_a, rows, (long long)(C * 4), rows,
                        (long long)cq, (long long)g->t[y].offset);
    }
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
