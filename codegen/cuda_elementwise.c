/* cuda_elementwise.c — CUDA emitter for add, mul, silu, swiglu, geglu, and gelu_tanh, scale and
 * softcap (grid-stride loops). */
#include "cuda_common.h"

static LlmcStatus emit_unary(LlmcEmit *e, int node)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int op = n->op == LLMC_OP_GELU_TANH ? 0 : n->op == LLMC_OP_SCALE ? 1 : 2;
    double p = op == 1 ? llmc_attr_float(n, "by", 1.0) : op == 2 ? llmc_attr_float(n, "cap", 1.0) : 0.0;
    int a = n->in[0], y = n->out[0];
    int64_t D = llmc_cols(&g->t[a].shape);
    char as[160], ys[160];
    snprintf(as, sizeof as, "%s", llmc_cuda_ptr(e, a, "const float"));
    snprintf(ys, sizeof ys, "%s", llmc_cuda_ptr(e, y, "float"));
    const char *rows = llmc_cuda_rows(e, a);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* %s%s%.9g: f32[%s,%lld]; strides a %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    unary<%d, %lld, %lld, %lld>(%s, %s, %s, %s);\n}\n",
                    llmc_op_info[n->op].name, op == 1 ? " by " : op == 2 ? " cap " : " ", p, llmc_cuda_host_rows(g, a),
                    (long long)D, (long long)llmc_row_stride(g, a), (long long)llmc_row_stride(g, y), op, (long long)D,
                    (long long)llmc_row_stride(g, a), (long long)llmc_row_stride(g, y), as, ys, rows, llmc_c_float(e, p));
    const char *name = llmc_cuda_kernel(e, llmc_op_info[n->op].name, k.s, 0);
    llmc_buf_free(&k);
    char gx[96];
    snprintf(gx, sizeof gx, "(%s * %lld + 255) / 256", llmc_cuda_host_rows(g, a), (long long)D);
    llmc_cuda_launch(e, node, NULL, name, gx, "1", "1", 256, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}

LlmcStatus llmc_cuda_emit_elementwise(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    LlmcOp nop = e->g->n[node].op;
    if (nop == LLMC_OP_GELU_TANH || nop == LLMC_OP_SCALE || nop == LLMC_OP_SOFTCAP)
        return emit_unary(e, node);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int op = n->op == LLMC_OP_ADD ? 0 : n->op == LLMC_OP_MUL ? 1 : n->op == LLMC_OP_SILU ? 2 : n->op == LLMC_OP_SWIGLU ? 3 : 4;
    int a = n->in[0], b = n->n_in > 1 ? n->in[1] : -1, y = n->out[0];
    int64_t D = llmc_cols(&g->t[a].shape);
    char as[160], bs[160], ys[160];
    snprintf(as, sizeof as, "%s", llmc_cuda_ptr(e, a, "const float"));
    snprintf(bs, sizeof bs, "%s", b >= 0 ? llmc_cuda_ptr(e, b, "const float") : "(const float *)0");
    snprintf(ys, sizeof ys, "%s", llmc_cuda_ptr(e, y, "float"));
    const char *rows = llmc_cuda_rows(e, a);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* %s: f32[%s,%lld]; strides a %lld, b %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    eltwise<%d, %lld, %lld, %lld, %lld>(%s, %s, %s, %s);\n}\n",
                    llmc_op_info[n->op].name, llmc_cuda_host_rows(g, a), (long long)D, (long long)llmc_row_stride(g, a),
                    b >= 0 ? (long long)llmc_row_stride(g, b) : 0LL, (long long)llmc_row_stride(g, y), op,
                    (long long)D, (long long)llmc_row_stride(g, a), b >= 0 ? (long long)llmc_row_stride(g, b) : 0LL,
                    (long long)llmc_row_stride(g, y), as, bs, ys, rows);
    const char *name = llmc_cuda_kernel(e, llmc_op_info[n->op].name, k.s, 0);
    llmc_buf_free(&k);
    char gx[96];
    snprintf(gx, sizeof gx, "(%s * %lld + 255) / 256", llmc_cuda_host_rows(g, a), (long long)D);
    llmc_cuda_launch(e, node, NULL, name, gx, "1", "1", 256, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
