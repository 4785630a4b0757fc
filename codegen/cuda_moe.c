/* cuda_moe.c — CUDA emitter for the mixture-of-experts block (moe), cuda_moe.cuh's kernels. Steps of
 * up to 8 rows: routing with the gather, the gate/up matmul of the experts in use (SwiGLU in its
 * epilogue), their down matmul, and the weighted sum of each token's slots; the experts' matmuls are
 * gemv over one expert's rows and its grouped tokens a block, grid z over the experts the step uses:
 * a decode step reads only the selected experts' weights, in every weight format gemv reads.
 * One-token steps where the rows are 16-byte vectors take two kernels under PDL instead (moe_b1:
 * the routing and the gather in the gate/up matmul's prologue, the combine in the down matmul's
 * epilogue, gemv_b1's sums: on an H100 the same bits as gemv's in every format but u4 at g128,
 * bench/NOTES.md round 8; a batch-invariant build takes gemv's path at one row too). Wider
 * steps gather the rows with a block a row, keep gemv while the experts have 8 rows each on
 * average, and above that, where both expert matrices are bf16/f16, run the matmuls on tensor cores
 * (gemm_h over each expert's grouped rows, one launch for all the experts; on the AMD path gemm_mx,
 * moe_expert_mx, in builds of AMD-path images only) with the activations converted to bf16/f16
 * between them; other formats keep gemv there too. The
 * scratch is in region A (cuda_backend.c plan_scratch: llmc_cuda_moe_scratch). The weight formats
 * reach the kernels as the dense matmul's do (llmc_kernel_wformat, llmc_cuda_wq), an expert's share
 * of each side tensor as MoeSides (expert_mm). */
#include <stdio.h>
#include <string.h>

#include "cuda_common.h"

/* The rows up to which a step takes the gemv path with the gather in the routing kernel. */
#define MOE_SMALL_ROWS 8

/* The scratch of a moe node for steps of up to `rows` rows (cuda_moe.cuh's layout): its offsets
 * from the region's start, and its bytes. */
typedef struct {
    int64_t tkm, wts, xg, h, hh, o, bytes;
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
    l.hh = up16(l.h + 4 * l.tkm * F);
    l.o = up16(l.hh + 2 * l.tkm * F);
    l.bytes = up16(l.o + 4 * l.tkm * D);
    return l;
}

int64_t llmc_cuda_moe_scratch(const LlmcGraph *g, int node) { return layout(g, &g->n[node]).bytes; }

/* The tensor cores take an expert matrix w (N rows of K) in bf16/f16 with K whole k-tiles of 32: on
 * the NVIDIA path gemm_h (a build with images of both paths runs its experts on gemv), on the AMD
 * path gemm_mx (moe_expert_mx). */
static int tc_ok(const LlmcEmit *e, const LlmcTensor *w, int64_t K)
{
    return (e->amd_path ? !e->nv_path : e->target->has_mma_bf16) && llmc_format_n_sides(w->dtype) == 0 &&
           llmc_format(w->dtype)->bits == 16 &&
           K % 32 == 0 && w->offset % 16 == 0;
}

/* Whether an expert matrix w (K columns) goes by 16-byte vectors (gemv's VEC, and moe_b1's kernels):
 * quantized ones in lane8 order of whole tiles. */
static int expert_vec(const LlmcTensor *w, int64_t N, int64_t K)
{
    int quant = llmc_format_n_sides(w->dtype) > 0, ve = llmc_cuda_ve(w->dtype);
    int64_t eb = llmc_format_bytes(w->dtype, N * K), tq = quant ? llmc_order_tile(w->dtype) : ve;
    return K % ve == 0 && K % tq == 0 && w->offset % 16 == 0 && eb % 16 == 0 &&
           (!quant || w->layout.order == LLMC_ORDER_LANE8);
}

/* An expert's share of each side tensor of w (a row of groups a weight row; a per-tensor one,
 * nvfp4's tensor scale, is every expert's), as MoeSides{{...}} text. */
static void expert_sides(const LlmcGraph *g, const LlmcTensor *w, int64_t E, char *sides, size_t cap)
{
    snprintf(sides, cap, "MoeSides{{");
    for (int i = 0; i < 4; i++) {
        int st = i < LLMC_MAX_SIDES ? w->layout.side[i] : -1;
        int whole = st >= 0 && llmc_format(w->dtype)->side[i].shape == LLMC_SHAPE_TENSOR;
        snprintf(sides + strlen(sides), cap - strlen(sides), "%s%lld", i ? ", " : "",
                 st >= 0 && !whole ? (long long)(llmc_tensor_bytes(g, st) / E) : 0LL);
    }
    snprintf(sides + strlen(sides), cap - strlen(sides), "}}");
}

/* What the experts' gemv and gemv_b1 kernels take of a stacked expert matrix w (N rows of K an
 * expert): the experts and the node's top k, the group, an expert's bytes, the scales' pointers
 * (wq) and each side tensor's share an expert (sides). */
typedef struct {
    int64_t E, KS, G, eb;
    char wq[256], sides[160];
} ExpertW;

static ExpertW expert_w(LlmcEmit *e, const LlmcNode *n, const LlmcTensor *w, const char *wsrc, int64_t N, int64_t K)
{
    ExpertW x;
    x.E = llmc_attr_int(n, "experts", 1);
    x.KS = llmc_attr_int(n, "top_k", 1);
    x.G = llmc_format_n_sides(w->dtype) > 0 ? w->layout.group : K;
    x.eb = llmc_format_bytes(w->dtype, N * K);
    snprintf(x.wq, sizeof x.wq, "%s", llmc_cuda_wq(e, w, wsrc));
    expert_sides(e->g, w, x.E, x.sides, sizeof x.sides);
    return x;
}

/* The label (llmc_cuda_kernel_math) of an expert matmul on gemv (moe_b1's kernels, gemv_b1's sums,
 * add their own mark: not always the same bits). */
static const char *expert_math(LlmcEmit *e, const LlmcTensor *w, int64_t N, int64_t K, int epi, int vec)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], "moe gemv %s[%lld,%lld] g%d%s, %s", llmc_kernel_wformat(e, w), (long long)N,
             (long long)K, w->layout.group, epi == 2 ? ", swiglu" : "", vec ? "16-byte slots" : "scalar");
    return buf;
}

/* The label of the gather of a token's rows in f32 (moe_gather's, or moe_route's with gather). */
static const char *moe_gather_math(LlmcEmit *e, int64_t D, int norm)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], "moe_gather f32 rows of %lld%s", (long long)D, norm ? ", RMS-normed" : "");
    return buf;
}

/* The label of the routing (the gather of each routed row with it where gather is set). */
static const char *route_math(LlmcEmit *e, const LlmcNode *n, int64_t D, int gather, int norm)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], "moe_route %lld experts, top %lld%s%s%s", (long long)llmc_attr_int(n, "experts", 1),
             (long long)llmc_attr_int(n, "top_k", 1), llmc_attr_int(n, "norm_topk_prob", 0) ? ", renormalized" : "",
             gather ? ";" : "", gather ? moe_gather_math(e, D, norm) : "");
    return buf;
}

/* The label of the combine: a token's K slots summed in order, weighted, into D columns (the
 * residual added where res). */
static const char *combine_math(LlmcEmit *e, int64_t K, int64_t D, int res)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], "moe combine %lld slots in order, weighted, %lld columns%s", (long long)K,
             (long long)D, res ? ", residual" : "");
    return buf;
}

/* One of the experts' matmuls on gemv: w (rows an expert: N, K columns) over x -> y, EPI 2 (SwiGLU)
 * or 0, for the steps `cond` selects. */
static void expert_mm(LlmcEmit *e, int node, const char *cond, const LlmcTensor *w, const char *wsrc, int64_t N,
                      int64_t K, int epi, int64_t base, int64_t xoff, int64_t yoff)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int quant = llmc_format_n_sides(w->dtype) > 0;
    int vec = expert_vec(w, N, K);
    ExpertW x = expert_w(e, n, w, wsrc, N, K);
    int64_t E = x.E, KS = x.KS, G = x.G, eb = x.eb;
    const char *wq = x.wq, *sides = x.sides;
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* moe experts' %s: grouped rows f32[%lld] x %s[%lld experts][%lld,%lld]^T%s, the experts of the "
                    "step (grid z), 8 rows a block (grid y); %s loads */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128, %d) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    moe_expert_mm<%s, %lld, %lld, %d, %d, %lld, %s, %lld, %lldLL>((const int *)A(%lld), %s, %s, %s, "
                    "A(%lld), A(%lld));\n}\n",
                    epi == 2 ? "gate/up" : "down", (long long)K, llmc_dtype_name(w->dtype), (long long)E, (long long)N,
                    (long long)K, epi == 2 ? ", SwiGLU of rows j, j + N/2" : "", vec ? "16-byte" : "scalar", quant ? 3 : 4,
                    llmc_kernel_wformat(e, w), (long long)K, (long long)N, vec, epi, (long long)G,
                    llmc_kernel_order(quant ? w->layout.order : LLMC_ORDER_ROW_MAJOR), (long long)E, (long long)eb,
                    (long long)base, wsrc, wq, sides, (long long)(base + xoff), (long long)(base + yoff));
    const char *name = llmc_cuda_kernel(e, epi == 2 ? "moe_gate_up" : "moe_down", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_kernel_math(e, name, "%s", expert_math(e, w, N, K, epi, vec));
    int64_t units = epi == 2 ? N / 2 : (N + 1) / 2;
    char gx[64], gy[64], gz[96];
    const char *rows = llmc_cuda_host_rows(g, n->in[0]);
    snprintf(gx, sizeof gx, "%lld", (long long)((units + 3) / 4));
    snprintf(gy, sizeof gy, "(%s + 7) / 8", rows);
    snprintf(gz, sizeof gz, "(%s * %lld < %lld ? %s * %lld : %lld)", rows, (long long)KS, (long long)E, rows,
             (long long)KS, (long long)E);
    llmc_cuda_launch(e, node, cond, name, gx, gy, gz, 128, 0);
}

/* One-token steps (both expert matrices as expert_vec takes them; top_k at most a warp's lanes): the
 * block in two kernels under PDL (cuda_moe.cuh moe_up_b1, moe_down_b1). The gate/up kernel routes
 * and gathers the token's row (RMS-normed with nw, eps where the layer's norm is fused: nw "0")
 * in its prologue, grid x 4 units (row pairs) a block, z the token's K slots, 1 or 2 loads of each
 * weight row a lane in flight (rows over 4 KB: 2) as the dense one-row matmul; the down kernel has
 * K UB warps a block (UB units: 4 warps at least where K < 4), routes again, and sums its columns
 * over the slots into y, adding res where the residual add is fused. */
static void moe_b1(LlmcEmit *e, int node, const char *cond, int64_t base, const MoeLayout *l, const char *lgs,
                   const char *xs, const char *nw, const char *eps, const char *gus, const char *dns, const char *ys,
                   const char *res)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *gu = &g->t[n->in[2]], *dn = &g->t[n->in[3]];
    int64_t D = llmc_cols(&g->t[n->in[0]].shape), F = dn->shape.dim[1];
    int norm = (int)llmc_attr_int(n, "norm_topk_prob", 0);
    ExpertW xu = expert_w(e, n, gu, gus, 2 * F, D), xd = expert_w(e, n, dn, dns, D, F);
    int64_t E = xu.E, K = xu.KS, ub = K < 4 ? (4 + K - 1) / K : 1;
    int uu = llmc_format_bytes(gu->dtype, D) <= 4096 ? 1 : 2, ud = llmc_format_bytes(dn->dtype, F) <= 4096 ? 1 : 2;
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* moe, one-token steps: the routing (f32[1,%lld] router logits, top %lld%s) and the row "
                    "f32[%lld]%s in the prologue, then the experts' gate/up %s[%lld experts][%lld,%lld]^T with SwiGLU "
                    "of rows j, j + N/2 for the token's slots (grid z), %d load%s of each weight row a lane in flight */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    moe_up_b1<%s, %lld, %lld, %d, %lld, %lld, %d, %lld, %lldLL>(%s, %s, %s, %s, %s, %s, %s, A(%lld));\n}\n",
                    (long long)E, (long long)K, norm ? ", renormalized" : "", (long long)D,
                    strcmp(nw, "0") ? " RMS-normed" : "", llmc_dtype_name(gu->dtype), (long long)E, (long long)(2 * F),
                    (long long)D, uu, uu > 1 ? "s" : "", llmc_kernel_wformat(e, gu), (long long)E, (long long)K, norm,
                    (long long)D, (long long)(2 * F), uu, (long long)xu.G, (long long)xu.eb, lgs, xs,
                    strcmp(nw, "0") ? nw : "(const float *)0", eps, gus, xu.wq, xu.sides, (long long)(base + l->h));
    const char *up = llmc_cuda_kernel(e, "moe_gate_up_b1", k.s, 0);
    llmc_buf_free(&k);
    /* moe_route's routing and gather at 2..8 rows; gemv_b1's sums of gemv's gate/up */
    llmc_cuda_kernel_math(e, up, "%s;b1 %s", route_math(e, n, D, 1, strcmp(nw, "0") != 0), expert_math(e, gu, 2 * F, D, 2, 1));
    llmc_cuda_kernel_pdl(e, up);
    char gx[64], gz[32];
    snprintf(gx, sizeof gx, "%lld", (long long)((F + 3) / 4));
    snprintf(gz, sizeof gz, "%lld", (long long)K);
    llmc_cuda_launch(e, node, cond, up, gx, "1", gz, 128, 0);
    llmc_buf_printf(&k,
                    "/* moe, one-token steps: the experts' down %s[%lld experts][%lld,%lld]^T over their activations "
                    "f32[%lld,%lld], a warp a slot and unit (%lld unit%s a block), routed again; the slots summed in "
                    "order, weighted%s -> f32[1,%lld], %d load%s of each weight row a lane in flight */\n"
                    "extern \"C\" __global__ void __launch_bounds__(%lld) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    moe_down_b1<%s, %lld, %lld, %d, %lld, %lld, %d, %lld, %lldLL, %lld>(%s, %s, %s, %s, A(%lld), %s, "
                    "%s);\n}\n",
                    llmc_dtype_name(dn->dtype), (long long)E, (long long)D, (long long)F, (long long)K, (long long)F,
                    (long long)ub, ub > 1 ? "s" : "", res[0] ? ", the residual added" : "", (long long)D, ud,
                    ud > 1 ? "s" : "", (long long)(32 * K * ub), llmc_kernel_wformat(e, dn), (long long)E, (long long)K,
                    norm, (long long)F, (long long)D, ud, (long long)xd.G, (long long)xd.eb, (long long)ub, lgs, dns,
                    xd.wq, xd.sides, (long long)(base + l->h), ys, res[0] ? res : "(const float *)0");
    const char *down = llmc_cuda_kernel(e, "moe_down_b1", k.s, 0);
    llmc_buf_free(&k);
    /* gemv_b1's sums of gemv's down matmul, then moe_combine's sum */
    llmc_cuda_kernel_math(e, down, "b1 %s;%s", expert_math(e, dn, D, F, 0, 1), combine_math(e, K, D, res[0] != 0));
    llmc_cuda_kernel_pdl(e, down);
    snprintf(gx, sizeof gx, "%lld", (long long)(((D + 1) / 2 + ub - 1) / ub));
    llmc_cuda_launch(e, node, cond, down, gx, "1", "1", (int)(32 * K * ub), 0);
}

/* The AMD path's expert_mma: moe_expert_mx (gemm_mx over each expert's grouped rows, 256 threads). */
static void expert_mx(LlmcEmit *e, int node, const char *cond, const LlmcTensor *w, const char *wsrc, int64_t N,
                      int64_t K, int epi, int64_t base, int64_t xoff, int64_t yoff)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int64_t E = llmc_attr_int(n, "experts", 1), KS = llmc_attr_int(n, "top_k", 1);
    int bf = w->dtype == LLMC_BF16;
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* moe experts' %s on the matrix cores (the AMD path: gemm_mx, 64x64 tiles on 256 threads, WMMA, "
                    "MFMA or FMAs by the image): grouped rows %s[%lld] x %s[%lld experts][%lld,%lld]^T%s, the experts "
                    "of the step (grid z) */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "#if LLMC_AMD_PATH\n"
                    "    moe_expert_mx<%d, %lld, %lld, %d, %lld>((const int *)A(%lld), (const uint16_t *)%s, "
                    "(const uint16_t *)A(%lld), A(%lld));\n#else\n    llmc_trap();\n#endif\n}\n",
                    epi == 2 ? "gate/up" : "down", bf ? "bf16" : "f16", (long long)K, llmc_dtype_name(w->dtype),
                    (long long)E, (long long)N, (long long)K, epi == 2 ? ", SwiGLU of rows j, j + N/2" : "", bf,
                    (long long)K, (long long)N, epi, (long long)E, (long long)base, wsrc, (long long)(base + xoff),
                    (long long)(base + yoff));
    const char *name = llmc_cuda_kernel(e, epi == 2 ? "moe_gate_up_mx" : "moe_down_mx", k.s, 0);
    llmc_buf_free(&k);
    char gx[64], gy[32], gz[96];
    const char *rows = llmc_cuda_host_rows(g, n->in[0]);
    snprintf(gx, sizeof gx, "(%s + 63) / 64", rows); /* an expert has at most a row a token */
    snprintf(gy, sizeof gy, "%lld", (long long)(epi == 2 ? (N / 2 + 31) / 32 : (N + 63) / 64));
    snprintf(gz, sizeof gz, "(%s * %lld < %lld ? %s * %lld : %lld)", rows, (long long)KS, (long long)E, rows,
             (long long)KS, (long long)E);
    llmc_cuda_launch(e, node, cond, name, gx, gy, gz, 256, 0);
}

/* One of the experts' matmuls on tensor cores (wider steps): w (bf16/f16, N rows of K an expert)
 * over the bf16/f16 rows at xoff -> y (f32) at yoff, EPI 2 (SwiGLU) or 0 (the AMD path: expert_mx). */
static void expert_mma(LlmcEmit *e, int node, const char *cond, const LlmcTensor *w, const char *wsrc, int64_t N,
                       int64_t K, int epi, int64_t base, int64_t xoff, int64_t yoff)
{
    if (e->amd_path) {
        expert_mx(e, node, cond, w, wsrc, N, K, epi, base, xoff, yoff);
        return;
    }
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int64_t E = llmc_attr_int(n, "experts", 1), KS = llmc_attr_int(n, "top_k", 1);
    int bf = w->dtype == LLMC_BF16, bm = 64, bn = 128, st = e->target->smem_per_sm >= 160 * 1024 ? 4 : 3;
    uint32_t smem = (uint32_t)(st * (bm + bn) * 40 * 2);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* moe experts' %s on tensor cores (gemm_h, mma.sync m16n8k16, %dx%dx32 tiles on 4 warps, %d "
                    "cp.async stages): grouped rows %s[%lld] x %s[%lld experts][%lld,%lld]^T%s, the experts of the "
                    "step (grid z) */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    moe_expert_mma<%d, %lld, %lld, %d, %d, %d, %d, %lld>((const int *)A(%lld), (const uint16_t *)%s, "
                    "(const uint16_t *)A(%lld), A(%lld));\n}\n",
                    epi == 2 ? "gate/up" : "down", bm, bn, st, bf ? "bf16" : "f16", (long long)K,
                    llmc_dtype_name(w->dtype), (long long)E, (long long)N, (long long)K,
                    epi == 2 ? ", SwiGLU of rows j, j + N/2" : "", bf, (long long)K, (long long)N, epi, bm, bn, st,
                    (long long)E, (long long)base, wsrc, (long long)(base + xoff),
                    (long long)(base + yoff));
    const char *name = llmc_cuda_kernel(e, epi == 2 ? "moe_gate_up_tc" : "moe_down_tc", k.s, smem);
    llmc_buf_free(&k);
    char gx[64], gy[32], gz[96];
    const char *rows = llmc_cuda_host_rows(g, n->in[0]);
    snprintf(gx, sizeof gx, "(%s + %d) / %d", rows, bm - 1, bm); /* an expert has at most a row a token */
    snprintf(gy, sizeof gy, "%lld", (long long)((N + bn - 1) / bn));
    snprintf(gz, sizeof gz, "(%s * %lld < %lld ? %s * %lld : %lld)", rows, (long long)KS, (long long)E, rows,
             (long long)KS, (long long)E);
    llmc_cuda_launch(e, node, cond, name, gx, gy, gz, 128, smem);
}

/* moe_route, with the gather (small steps; norm: ", nw, eps" when the block's input is normed in
 * it, else "") or without it; krows: the rows in the kernel (llmc_cuda_rows). One block of 1024
 * threads, bounded so (1024, 1): with the thread count alone ptxas holds the kernel to 32 registers
 * (room for two such blocks an SM) and the normed gather of qwen3-30b-a3b's rows (D 2048: 16 values
 * and 16 norm weights a thread) spilled 16 bytes on sm_90a; with the bound, 40 registers, none. */
static void route(LlmcEmit *e, int node, const char *cond, int gather, int64_t base, const MoeLayout *l, const char *xs,
                  const char *lgs, const char *norm, const char *krows)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], lg = n->in[1];
    int64_t E = llmc_attr_int(n, "experts", 1), K = llmc_attr_int(n, "top_k", 1), D = llmc_cols(&g->t[x].shape);
    const char *rows = llmc_cuda_host_rows(g, x);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* moe routing: f32[%s,%lld] router logits of %lld experts (stride %lld), top %lld%s; the step's "
                    "(token, slot) pairs grouped by expert%s%s */\n"
                    "extern \"C\" __global__ void __launch_bounds__(1024, 1) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    moe_route<%lld, %lld, %d, %lld, %lld, %lld, %lld, %d>(%s, %s, %s, (int *)A(%lld), A(%lld), "
                    "A(%lld)%s);\n}\n",
                    rows, (long long)E, (long long)E, (long long)llmc_row_stride(g, lg), (long long)K,
                    llmc_attr_int(n, "norm_topk_prob", 0) ? ", renormalized" : "",
                    gather ? ", their rows gathered" : "", gather && norm[0] ? " (RMS-normed)" : "", (long long)E,
                    (long long)K, (int)llmc_attr_int(n, "norm_topk_prob", 0), (long long)D,
                    (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, lg), (long long)l->tkm, gather, lgs,
                    xs, krows, (long long)base, (long long)(base + l->wts), (long long)(base + l->xg),
                    gather ? norm : "");
    const char *name = llmc_cuda_kernel(e, "moe_route", k.s, 0);
    llmc_buf_free(&k);
    /* the routing is the same either way, and so is the gather of a row here and in moe_gather */
    llmc_cuda_kernel_math(e, name, "%s", route_math(e, n, D, gather, norm[0] != 0));
    llmc_cuda_launch(e, node, cond, name, "1", "1", "1", 1024, 0);
}

LlmcStatus llmc_cuda_emit_moe(LlmcEmit *e, int node, LlmcDiag *d)
{
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    const LlmcTensor *gu = &g->t[n->in[2]], *dn = &g->t[n->in[3]];
    int64_t E = llmc_attr_int(n, "experts", 1), K = llmc_attr_int(n, "top_k", 1);
    int64_t D = llmc_cols(&g->t[x].shape), F = dn->shape.dim[1];
    if (strcmp(llmc_attr_str(n, "act", "silu"), "silu") != 0 || E > 1024 || K > 32)
        return llmc_fail(d, "%s: moe with %s, %lld experts, top %lld: CUDA targets implement silu experts, at most "
                         "1024 of them, top k at most 32", n->where, llmc_attr_str(n, "act", "silu"), (long long)E,
                         (long long)K);
    MoeLayout l = layout(g, n);
    int64_t base = e->scratch_a;
    /* the operands, a launch-offset slot each, shared by the node's kernels */
    char xs[160], lgs[160], gus[160], dns[160], ys[160];
    snprintf(xs, sizeof xs, "%s", llmc_cuda_ptr(e, x, "const float"));
    snprintf(lgs, sizeof lgs, "%s", llmc_cuda_ptr(e, n->in[1], "const float"));
    snprintf(gus, sizeof gus, "%s", llmc_cuda_ptr(e, n->in[2], "const uint8_t"));
    snprintf(dns, sizeof dns, "%s", llmc_cuda_ptr(e, n->in[3], "const uint8_t"));
    snprintf(ys, sizeof ys, "%s", llmc_cuda_ptr(e, y, "float"));
    /* the GPU fusions' inputs: the norm before the block (its gathers norm the rows), the residual
     * add after it (its combine adds it) */
    int64_t ni = llmc_attr_int(n, "norm", -1), ri = llmc_attr_int(n, "residual", -1);
    char norm[256] = "", res[200] = "", nws[160] = "0", eps[64] = "0.0f";
    if (ni > 0) {
        snprintf(nws, sizeof nws, "%s", llmc_cuda_ptr(e, n->in[ni], "const float"));
        snprintf(eps, sizeof eps, "%s", llmc_c_float(e, llmc_attr_float(n, "eps", 1e-5)));
        snprintf(norm, sizeof norm, ", %s, %s", nws, eps);
    }
    if (ri > 0)
        snprintf(res, sizeof res, ", %s", llmc_cuda_ptr(e, n->in[ri], "const float"));
    const char *rows = llmc_cuda_host_rows(g, x);
    char krows[32];
    snprintf(krows, sizeof krows, "%s", llmc_cuda_rows(e, x));
    /* Steps of up to 8 rows: the gather in the routing kernel, gemv. Wider steps: the rows gathered
     * a block a row, then gemv while the experts have 8 rows each on average (its blocks take 8
     * rows: an expert's weights read about once), the tensor cores above where both matrices are
     * bf16/f16 (64-row tiles, the activations rounded to bf16/f16 as the dense matmuls' are). */
    int tc = tc_ok(e, gu, D) && tc_ok(e, dn, F) && F % 4 == 0 && !e->binv; /* batch-invariant: gemv at every row count */
    char small[64], wide[64], mid[128], big[96];
    snprintf(small, sizeof small, "%s <= %d", rows, MOE_SMALL_ROWS);
    snprintf(wide, sizeof wide, "%s > %d", rows, MOE_SMALL_ROWS);
    if (tc)
        snprintf(mid, sizeof mid, "%s > %d && %s * %lld <= %lld", rows, MOE_SMALL_ROWS, rows, (long long)K,
                 (long long)(MOE_SMALL_ROWS * E));
    else
        snprintf(mid, sizeof mid, "%s", wide);
    snprintf(big, sizeof big, "%s * %lld > %lld", rows, (long long)K, (long long)(MOE_SMALL_ROWS * E));
    /* one-token steps: moe_b1's two kernels, the combine in the second (b1: the launches below skip
     * them); not in a batch-invariant build (gemv_b1's sums) */
    int b1 = !e->binv && expert_vec(gu, 2 * F, D) && expert_vec(dn, D, F) && D <= 8192;
    char one[48], few[96], multi[48];
    snprintf(one, sizeof one, "%s == 1", rows);
    snprintf(few, sizeof few, "%s > 1 && %s <= %d", rows, rows, MOE_SMALL_ROWS);
    snprintf(multi, sizeof multi, "%s > 1", rows);
    if (b1) {
        moe_b1(e, node, one, base, &l, lgs, xs, nws, eps, gus, dns, ys, res[0] ? res + 2 : "");
        route(e, node, few, 1, base, &l, xs, lgs, norm, krows);
        expert_mm(e, node, few, gu, gus, 2 * F, D, 2, base, l.xg, l.h);
        expert_mm(e, node, few, dn, dns, D, F, 0, base, l.h, l.o);
    } else {
        route(e, node, small, 1, base, &l, xs, lgs, norm, krows);
        expert_mm(e, node, small, gu, gus, 2 * F, D, 2, base, l.xg, l.h);
        expert_mm(e, node, small, dn, dns, D, F, 0, base, l.h, l.o);
    }
    route(e, node, wide, 0, base, &l, xs, lgs, norm, krows);
    char pairs[64];
    snprintf(pairs, sizeof pairs, "%s * %lld", rows, (long long)K);
    LlmcBuf k = {0};
    for (int half = 0; half <= (tc ? 1 : 0); half++) {
        int h = half ? (gu->dtype == LLMC_BF16 ? 1 : 2) : 0;
        llmc_buf_printf(&k,
                        "/* moe: the grouped rows gathered, f32[%s,%lld] (stride %lld)%s -> %s */\n"
                        "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    moe_gather<%d, %lld, %lld, %lld, %lld>((const int *)A(%lld), %s, A(%lld)%s);\n}\n",
                        rows, (long long)D, (long long)llmc_row_stride(g, x), norm[0] ? ", RMS-normed" : "",
                        h == 1 ? "bf16" : h ? "f16" : "f32", h, (long long)D, (long long)llmc_row_stride(g, x),
                        (long long)E, (long long)l.tkm, (long long)base, xs, (long long)(base + l.xg), norm);
        const char *gat = llmc_cuda_kernel(e, "moe_gather", k.s, 0);
        llmc_buf_free(&k);
        if (!h)
            llmc_cuda_kernel_math(e, gat, "%s", moe_gather_math(e, D, norm[0] != 0));
        llmc_cuda_launch(e, node, half ? big : mid, gat, pairs, "1", "1", 256, 0); /* MOE_TPP threads */
    }
    expert_mm(e, node, mid, gu, gus, 2 * F, D, 2, base, l.xg, l.h);
    expert_mm(e, node, mid, dn, dns, D, F, 0, base, l.h, l.o);
    if (tc) {
        int dbf = dn->dtype == LLMC_BF16;
        expert_mma(e, node, big, gu, gus, 2 * F, D, 2, base, l.xg, l.h);
        llmc_buf_printf(&k,
                        "/* moe: the experts' activations f32[%s * %lld,%lld] -> %s (the down matmul's operand) */\n"
                        "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    rows_to_half<%d, 0, %lld, %lld>(A(%lld), (const float *)0, (uint16_t *)A(%lld), 0.0f);\n}\n",
                        rows, (long long)K, (long long)F, dbf ? "bf16" : "f16", dbf, (long long)F, (long long)F,
                        (long long)(base + l.h), (long long)(base + l.hh));
        const char *th = llmc_cuda_kernel(e, "moe_to_half", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, big, th, pairs, "1", "1", 256, 0);
        expert_mma(e, node, big, dn, dns, D, F, 0, base, l.hh, l.o);
    }
    llmc_buf_printf(&k,
                    "/* moe combine: each token's %lld slots summed in order, weighted%s -> f32[%s,%lld] (stride %lld) */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    moe_combine<%lld, %lld, %lld, %lld, %lld, %lld>((const int *)A(%lld), A(%lld), A(%lld), %s%s);\n}\n",
                    (long long)K, res[0] ? ", the residual added" : "", rows, (long long)D,
                    (long long)llmc_row_stride(g, y), (long long)E, (long long)K, (long long)D,
                    (long long)llmc_row_stride(g, y), (long long)l.tkm, ri > 0 ? (long long)llmc_row_stride(g, n->in[ri]) : 0LL,
                    (long long)base, (long long)(base + l.wts), (long long)(base + l.o), ys, res);
    const char *comb = llmc_cuda_kernel(e, "moe_combine", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_kernel_math(e, comb, "%s", combine_math(e, K, D, res[0] != 0));
    char cy[32]; /* the columns in slices of 256: a decode step's token over several blocks */
    snprintf(cy, sizeof cy, "%lld", (long long)((D + 255) / 256));
    llmc_cuda_launch(e, node, b1 ? multi : NULL, comb, rows, cy, "1", 256, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
