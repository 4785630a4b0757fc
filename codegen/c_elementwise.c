/* c_elementwise.c — C emitter for add, mul, silu, the fused swiglu and geglu, and the maps with a
 * parameter (gelu_tanh, scale, softcap). */
#include "c_common.h"

static LlmcStatus emit_unary(LlmcEmit *e, int node)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int op = n->op == LLMC_OP_GELU_TANH ? 0 : n->op == LLMC_OP_SCALE ? 1 : 2;
    double p = op == 1 ? llmc_attr_float(n, "by", 1.0) : op == 2 ? llmc_attr_float(n, "cap", 1.0) : 0.0;
    int a = n->in[0], y = n->out[0];
    int64_t D = llmc_cols(&g->t[a].shape);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* %s%s%.9g: f32[%s,%lld]; strides a %lld, y %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *a, "
                    "float *y)\n{\n"
                    "    (void)ex;\n"
                    "    unary_rows(%d, %s, %lld, a, %lld, y, %lld, %s, tid, nth);\n}\n",
                    llmc_op_info[n->op].name, op == 1 ? " by " : op == 2 ? " cap " : " ", p, "rows",
                    (long long)D, (long long)llmc_row_stride(g, a), (long long)llmc_row_stride(g, y), op,
                    "nrows", (long long)D, (long long)llmc_row_stride(g, a), (long long)llmc_row_stride(g, y),
                    llmc_c_float(e, p));
    const char *name = llmc_emit_kernel(e, llmc_op_info[n->op].name, k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, a, 2, PTR(a, "const float"), PTR(y, "float"));
    return LLMC_OK;
}

LlmcStatus llmc_c_emit_elementwise(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    LlmcOp nop = e->g->n[node].op;
    if (nop == LLMC_OP_GELU_TANH || nop == LLMC_OP_SCALE || nop == LLMC_OP_SOFTCAP)
        return emit_unary(e, node);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int op = n->op == LLMC_OP_ADD ? 0 : n->op == LLMC_OP_MUL ? 1 : n->op == LLMC_OP_SILU ? 2 : n->op == LLMC_OP_SWIGLU ? 3 : 4;
    int a = n->in[0], b = n->n_in > 1 ? n->in[1] : -1, y = n->out[0];
    int64_t D = llmc_cols(&g->t[a].shape);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* %s: f32[%s,%lld]; strides a %lld, b %lld, y %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *a, "
                    "const float *b, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    eltwise(%d, %s, %lld, a, %lld, b, %lld, y, %lld, tid, nth);\n}\n",
                    llmc_op_info[n->op].name, "rows", (long long)D, (long long)llmc_row_stride(g, a),
                    b >= 0 ? (long long)llmc_row_stride(g, b) : 0LL, (long long)llmc_row_stride(g, y), op,
                    "nrows", (long long)D, (long long)llmc_row_stride(g, a),
                    b >= 0 ? (long long)llmc_row_stride(g, b) : 0LL, (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, llmc_op_info[n->op].name, k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, a, 3, PTR(a, "const float"), b >= 0 ? PTR(b, "const float") : "0", PTR(y, "float"));
    return LLMC_OK;
}
