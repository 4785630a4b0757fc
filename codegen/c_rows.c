/* c_rows.c — C emitters that move values: select_rows (the rows whose logits the step asks for) and
 * gather_cols (an act-order matmul's input in its weight's column order). */
#include "c_common.h"

LlmcStatus llmc_c_emit_rows(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    int64_t D = llmc_cols(&g->t[x].shape);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* select_rows: f32[T,%lld] -> f32[O,%lld]; strides x %lld, y %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *x, "
                    "const int32_t *rows, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    select_rows(st->n_out, %lld, x, %lld, rows, y, %lld, tid, nth);\n}\n",
                    (long long)D, (long long)D, (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y),
                    (long long)D, (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "select_rows", k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, -1, 3, PTR(x, "const float"), PTR(n->in[1], "const int32_t"), PTR(y, "float"));
    return LLMC_OK;
}

LlmcStatus llmc_c_emit_gather_cols(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    int64_t K = llmc_cols(&g->t[x].shape);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* gather_cols: f32[T,%lld] -> f32[T,%lld], y[t][j] = x[t][idx[j]]; strides x %lld, y %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, "
                    "const int32_t *idx, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    gather_cols(%s, %lld, x, %lld, idx, y, %lld, tid, nth);\n}\n",
                    (long long)K, (long long)K, (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y),
                    "nrows", (long long)K, (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "gather_cols", k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, x, 3, PTR(x, "const float"), PTR(n->in[1], "const int32_t"), PTR(y, "float"));
    return LLMC_OK;
}
