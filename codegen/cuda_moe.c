/* cuda_moe.c — CUDA emitter for the mixture-of-experts block (moe): four kernels a step
 * (cuda_moe.cuh): routing and grouping, the gate/up matmul of the experts in use (SwiGLU in its
 * epilogue), their down matmul, and the weighted sum of each token's slots. The experts' matmuls are
 * gemv over one expert's rows and its grouped tokens a block, grid z over the experts the step uses:
 * a decode step reads only the selected experts' weights, in every weight format gemv reads. Its
 * scratch is in region A (cuda_backend.c plan_scratch: llmc_cuda_moe_scratch). */
#include <stdio.h>
#include <string.h>

#include "cuda_common.h"

/* The scratch of a moe node for steps of up to `rows` rows (cuda_moe.cuh's layout): its offsets
 * from the region's start, and its bytes. */
typedef struct {
    int64_t tkm, wts, xg, h, o, bytes;
} MoeLayout;

static int64_t up16(int64_t b) { return (b + 15) / 16 * 16; }

static MoeLayout layout(const LlmcGraph *g, const LlmcNode *n)
{
    int64_t E = llmc_attr_int(n, "experts", 1), K = llmc_attr_int(n, "top_k", 1);
    int64_t D = llmc_cols(&g->t[n->in[0]].shape), F = g->t[n->in[3]].shape.dim[1];
    int64_t rows = g->max_tokens > g->max_outputs ? g->max_tokens : g->max_outputs;
    MoeLayout l;
    l.tkm = rows * K;
    l.wts = up16(4 * (1 + E + E + 1 + E + 3 * l.tkm));
    l.xg = up16(l.wts + 4 * l.tkm);
    l.h = up16(l.xg + 4 * l.tkm * D);
    l.o = up16(l.h + 4 * l.tkm * F);
    l.bytes = up16(l.o + 4 * l.tkm * D);
    return l;
}

int64_t llmc_cuda_moe_scratch(const LlmcGraph *g, int node) { return layout(g, &g->n[node]).bytes; }

/* One of the experts' matmuls: w (rows an expert: N, K columns) over x -> y, EPI 2 (SwiGLU) or 0. */
static void expert_mm(LlmcEmit *e, int node, const LlmcTensor *w, int wt, int64_t N, int64_t K, int epi,
                      int64_t base, const MoeLayout *l, int64_t xoff, int64_t yoff)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int64_t E = llmc_attr_int(n, "experts", 1), KS = llmc_attr_int(n, "top_k", 1);
    int wk = llmc_cuda_wk(w), quant = wk >= 3, ve = llmc_cuda_ve(wk);
    int64_t G = quant ? w->layout.group : K, groups = (K + G - 1) / G;
    int64_t eb = llmc_format_bytes(w->dtype, N * K);
    int64_t sb = quant ? llmc_format_bytes(g->t[w->layout.scale].dtype, N * groups) : 0, zb = quant ? 2 * N * groups : 0;
    int vec = K % ve == 0 && w->offset % 16 == 0 && eb % 16 == 0 && (!quant || w->layout.order == LLMC_ORDER_LANE8);
    char wsrc[96], wq[256];
    snprintf(wsrc, sizeof wsrc, "%s", llmc_cuda_ptr(e, wt, "const uint8_t"));
    snprintf(wq, sizeof wq, "%s", llmc_cuda_wq(e, w, wsrc));
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* moe experts' %s: grouped rows f32[%lld] x %s[%lld experts][%lld,%lld]^T%s, the experts of the "
                    "step (grid z), 8 rows a block (grid y); %s loads */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128, %d) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    moe_expert_mm<%d, %lld, %lld, %d, %d, %lld, %d, %lld, %lld, %lldLL, %lldLL, %lldLL>((const int *)A(%lld), "
                    "%s, %s, A(%lld), A(%lld));\n}\n",
                    epi == 2 ? "gate/up" : "down", (long long)K, llmc_dtype_name(w->dtype), (long long)E, (long long)N,
                    (long long)K, epi == 2 ? ", SwiGLU of rows j, j + N/2" : "", vec ? "16-byte" : "scalar", quant ? 3 : 4,
                    wk, (long long)K, (long long)N, vec, epi, (long long)G,
                    quant && w->layout.order == LLMC_ORDER_LANE8 ? 1 : 0, (long long)E, (long long)l->tkm, (long long)eb,
                    (long long)sb, (long long)zb, (long long)base, wsrc, wq, (long long)(base + xoff),
                    (long long)(base + yoff));
    const char *name = llmc_cuda_kernel(e, epi == 2 ? "moe_gate_up" : "moe_down", k.s, 0);
    llmc_buf_free(&k);
    int64_t units = epi == 2 ? N / 2 : (N + 1) / 2;
    char gx[64], gy[64], gz[96];
    const char *rows = llmc_cuda_host_rows(g, n->in[0]);
    snprintf(gx, sizeof gx, "%lld", (long long)((units + 3) / 4));
    snprintf(gy, sizeof gy, "(%s + 7) / 8", rows);
    snprintf(gz, sizeof gz, "(%s * %lld < %lld ? %s * %lld : %lld)", rows, (long long)KS, (long long)E, rows,
             (long long)KS, (long long)E);
    llmc_cuda_launch(e, node, NULL, name, gx, gy, gz, 128, 0);
}

LlmcStatus llmc_cuda_emit_moe(LlmcEmit *e, int node, LlmcDiag *d)
{
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], lg = n->in[1], y = n->out[0];
    const LlmcTensor *gu = &g->t[n->in[2]], *dn = &g->t[n->in[3]];
    int64_t E = llmc_attr_int(n, "experts", 1), K = llmc_attr_int(n, "top_k", 1);
    int64_t D = llmc_cols(&g->t[x].shape), F = dn->shape.dim[1];
    if (strcmp(llmc_attr_str(n, "act", "silu"), "silu") != 0 || E > 1024)
        return llmc_fail(d, "%s: moe with %s and %lld experts: CUDA targets implement silu experts, at most 1024 of "
                         "them", n->where, llmc_attr_str(n, "act", "silu"), (long long)E);
    MoeLayout l = layout(g, n);
    int64_t base = e->scratch_a;
    const char *rows = llmc_cuda_host_rows(g, x);
    char xs[160];
    snprintf(xs, sizeof xs, "%s", llmc_cuda_ptr(e, x, "const float"));
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* moe routing: f32[%s,%lld] router logits of %lld experts (stride %lld), top %lld%s; the step's "
                    "(token, slot) pairs grouped by expert, their rows (stride %lld) gathered */\n"
                    "extern \"C\" __global__ void __launch_bounds__(1024) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    moe_route<%lld, %lld, %d, %lld, %lld, %lld, %lld>(%s, %s, %s, (int *)A(%lld), A(%lld), "
                    "A(%lld));\n}\n",
                    rows, (long long)E, (long long)E, (long long)llmc_row_stride(g, lg), (long long)K,
                    llmc_attr_int(n, "norm_topk_prob", 0) ? ", renormalized" : "", (long long)llmc_row_stride(g, x),
                    (long long)E, (long long)K, (int)llmc_attr_int(n, "norm_topk_prob", 0), (long long)D,
                    (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, lg), (long long)l.tkm,
                    llmc_cuda_ptr(e, lg, "const float"), xs, llmc_cuda_rows(g, x), (long long)base,
                    (long long)(base + l.wts), (long long)(base + l.xg));
    const char *route = llmc_cuda_kernel(e, "moe_route", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, NULL, route, "1", "1", "1", 1024, 0);
    expert_mm(e, node, gu, n->in[2], 2 * F, D, 2, base, &l, l.xg, l.h);
    expert_mm(e, node, dn, n->in[3], D, F, 0, base, &l, l.h, l.o);
    llmc_buf_printf(&k,
                    "/* moe combine: each token's %lld slots summed in order, weighted -> f32[%s,%lld] (stride %lld) */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    moe_combine<%lld, %lld, %lld, %lld, %lld>((const int *)A(%lld), A(%lld), A(%lld), %s);\n}\n",
                    (long long)K, rows, (long long)D, (long long)llmc_row_stride(g, y), (long long)E, (long long)K,
                    (long long)D, (long long)llmc_row_stride(g, y), (long long)l.tkm, (long long)base,
                    (long long)(base + l.wts), (long long)(base + l.o), llmc_cuda_ptr(e, y, "float"));
    const char *comb = llmc_cuda_kernel(e, "moe_combine", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, NULL, comb, rows, "1", "1", 256, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
