/* c_collective.c — C emitters for the collectives of a sharded graph (all_reduce, all_gather:
 * ir/ops.def, passes/shard_tp.c). The kernels only call the runtime (llmc_all_reduce,
 * llmc_all_gather in llmc_model.h: runtime/ranks.c), which meets the other ranks' threads and
 * combines their values in rank order. */
#include "c_common.h"

LlmcStatus llmc_c_emit_collective(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    int64_t C = llmc_cols(&g->t[x].shape), ranks = llmc_attr_int(n, "ranks", 1);
    int reduce = n->op == LLMC_OP_ALL_REDUCE;
    LlmcBuf k = {0};
    if (reduce)
        llmc_buf_printf(&k, "/* all_reduce: f32[%s,%lld] summed over %lld ranks (rank order, in double); ",
                        "rows", (long long)C, (long long)ranks);
    else
        llmc_buf_printf(&k, "/* all_gather: f32[%s,%lld] of %lld ranks -> f32[%s,%lld]; ", "rows",
                        (long long)C, (long long)ranks, "rows", (long long)(C * ranks));
    llmc_buf_printf(&k,
                    "strides x %lld, y %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, "
                    "float *y)\n{\n"
                    "    llmc_all_%s(ex, %s, %lld, x, %lld, y, %lld, tid, nth);\n}\n",
                    (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y), reduce ? "reduce" : "gather",
                    "nrows", (long long)C, (long long)llmc_row_stride(g, x),
                    (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, reduce ? "all_reduce" : "all_gather", k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, x, 2, PTR(x, "const float"), PTR(y, "float"));
    return LLMC_OK;
}
