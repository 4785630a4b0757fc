/* cuda_matmul.c — CUDA emitter for matmul and embedding.
 *
 * A matmul gets two kernels and the host picks by the step's rows: up to 8 rows (decode) the skinny
 * weight-streaming kernel (gemv, 16-byte loads); more rows the tensor-core kernel (gemm_tc,
 * mma.sync) when the shapes allow it (K % 32 == 0, 16-byte aligned rows, bf16/f16 weights), else the
 * skinny kernel over chunks of 8 rows. */
#include "cuda_common.h"

static int wkind(LlmcDType dt) { return dt == LLMC_BF16 ? 1 : dt == LLMC_F16 ? 2 : 0; }

LlmcStatus llmc_cuda_emit_matmul(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[1]];
    int x = n->in[0], y = n->out[0];
    int64_t K = w->shape.dim[1], N = w->shape.dim[0], SX = llmc_row_stride(g, x), SY = llmc_row_stride(g, y);
    int wk = wkind(w->dtype);
    int64_t xoff = g->t[x].offset;
    int x_aligned = SX % 4 == 0 && xoff % 16 == 0;
    int vec = x_aligned && K % (wk == 0 ? 4 : 8) == 0 && w->offset % 16 == 0;
    const char *bias = n->n_in == 3 ? llmc_cuda_ptr(e, n->in[2], "const float") : "(const float *)0";
    char bias_s[160];
    snprintf(bias_s, sizeof bias_s, "%s", bias);
    char ys[160], xs[160], wsrc[160];
    snprintf(ys, sizeof ys, "%s", llmc_cuda_ptr(e, y, "float"));
    snprintf(xs, sizeof xs, "%s", llmc_cuda_ptr(e, x, "const float"));
    snprintf(wsrc, sizeof wsrc, "(a.weights + %lld)", (long long)w->offset);
    const char *rows = llmc_cuda_rows(g, x), *hrows = llmc_cuda_host_rows(g, x);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* matmul, skinny (<= 8 rows a block): f32[%s,%lld] x %s[%lld,%lld]^T%s -> f32[%s,%lld]; "
                    "strides x %lld, y %lld; %s loads */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a)\n{\n"
                    "    gemv<%d, %lld, %lld, %lld, %lld, %d>(%s, %s, %s, %s, %s);\n}\n",
                    hrows, (long long)K, llmc_dtype_name(w->dtype), (long long)N, (long long)K,
                    n->n_in == 3 ? " + b" : "", hrows, (long long)N, (long long)SX, (long long)SY,
                    vec ? "16-byte" : "scalar", wk, (long long)K, (long long)N, (long long)SX, (long long)SY, vec,
                    wsrc, xs, bias_s, ys, rows);
    const char *gemv = llmc_cuda_kernel(e, "gemv", k.s, 0);
    llmc_buf_free(&k);
    int tc = e->target->has_mma_bf16 && wk != 0 && K % 32 == 0 && x_aligned && w->offset % 16 == 0;
    char gx[64], gy[64];
    snprintf(gx, sizeof gx, "%lld", (long long)((N + 7) / 8));
    snprintf(gy, sizeof gy, "(%s + 7) / 8", hrows);
    if (!tc) {
        llmc_cuda_launch(e, node, NULL, gemv, gx, gy, "1", 128, 0);
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
    llmc_buf_printf(&k,
                    "/* matmul, tensor cores (mma.sync m16n8k16, %s): f32[%s,%lld] x %s[%lld,%lld]^T%s -> "
                    "f32[%s,%lld]; tiles 64x64x32; strides x %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a)\n{\n"
                    "    gemm_tc<%d, %lld, %lld, %lld, %lld>((const uint16_t *)%s, %s, %s, %s, %s);\n}\n",
                    wk == 1 ? "bf16" : "f16", hrows, (long long)K, llmc_dtype_name(w->dtype), (long long)N,
                    (long long)K, n->n_in == 3 ? " + b" : "", hrows, (long long)N, (long long)SX, (long long)SY,
                    wk == 1, (long long)K, (long long)N, (long long)SX, (long long)SY, wsrc, xs, bias_s, ys, rows);
    const char *gemm = llmc_cuda_kernel(e, "gemm", k.s, 0);
    llmc_buf_free(&k);
    char cond[64], gx2[64], gy2[64];
    snprintf(cond, sizeof cond, "%s <= 8", hrows);
    llmc_cuda_launch(e, node, cond, gemv, gx, gy, "1", 128, 0);
    snprintf(cond, sizeof cond, "%s > 8", hrows);
    snprintf(gx2, sizeof gx2, "%lld", (long long)((N + 63) / 64));
    snprintf(gy2, sizeof gy2, "(%s + 63) / 64", hrows);
    llmc_cuda_launch(e, node, cond, gemm, gx2, gy2, "1", 128, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}

LlmcStatus llmc_cuda_emit_embedding(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[0]];
    int y = n->out[0];
    int64_t D = w->shape.dim[1];
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* embedding: %s[%lld,%lld] rows gathered by the tokens -> f32[T,%lld] */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a)\n{\n"
                    "    embed<%d, %lld, %lld>(a.weights + %lld, a.tokens, %s);\n}\n",
                    llmc_dtype_name(w->dtype), (long long)w->shape.dim[0], (long long)D, (long long)D, wkind(w->dtype),
                    (long long)D, (long long)llmc_row_stride(g, y), (long long)w->offset, llmc_cuda_ptr(e, y, "float"));
    const char *name = llmc_cuda_kernel(e, "embedding", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, NULL, name, "T", "1", "1", 256, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
