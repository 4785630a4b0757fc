/* c_elementwise.c — C emitter for add, mul, silu and the fused swiglu. */
#include "c_common.h"

LlmcStatus llmc_c_emit_elementwise(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int op = n->op == LLMC_OP_ADD ? 0 : n->op == LLMC_OP_MUL ? 1 : n->op == LLMC_OP_SILU ? 2 : 3;
    int a = n->in[0], b = n->n_in > 1 ? n->in[1] : -1, y = n->out[0];
    int64_t D = llmc_cols(&g->t[a].shape);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* %s: f32[%s,%lld]; strides a %lld, b %lld, y %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *a, "
                    "const float *b, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    eltwise(%d, %s, %lld, a, %lld, b, %lld, y, %lld, tid, nth);\n}\n",
                    llmc_op_info[n->op].name, llmc_rows_expr(g, a), (long long)D, (long long)llmc_row_stride(g, a),
                    b >= 0 ? (long long)llmc_row_stride(g, b) : 0LL, (long long)llmc_row_stride(g, y), op,
                    llmc_c_rows(g, a), (long long)D, (long long)llmc_row_stride(g, a),
                    b >= 0 ? (long long)llmc_row_stride(g, b) : 0LL, (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, llmc_op_info[n->op].name, k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, 3, PTR(a, "const float"), b >= 0 ? PTR(b, "const float") : "0", PTR(y, "float"));
    return LLMC_OK;
}
