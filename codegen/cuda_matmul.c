/* cuda_matmul.c — CUDA emitter for matmul and embedding.
 *
 * A matmul gets several kernels and the host picks by the step's rows: up to 8 rows (decode) the
 * skinny weight-streaming kernel (gemv, 16-byte loads); more rows tensor cores (mma.sync) when the
 * shapes allow it (K % 32 == 0, 16-byte aligned rows, bf16/f16 weights): for 9..64 rows of a
 * matrix too narrow to fill the chip a K-split kernel (gemm_tc) and a reduce, else the rows
 * converted to bf16/f16 and gemm_h; without tensor cores the skinny kernel over chunks of 8 rows.
 * A batch-invariant build (--batch-invariant, e->binv) takes no tensor cores and no gemv_b1: gemv
 * at every row count, one row included (docs/cuda.md, "Batch-invariant builds"). */
#include <assert.h>
#include <string.h>

#include "cuda_common.h"

/* The rope_kv_write node whose work for one-token steps the matmul's one-row kernel does (the
 * matmul's rope_epilogue, set by fuse_rope_epilogue: the node's output tensor), or -1. */
static int rope_epilogue(const LlmcGraph *g, const LlmcNode *m)
{
    const char *q1 = llmc_attr_str(m, "rope_epilogue", NULL);
    for (int i = 0; q1 && i < g->nn; i++)
        if (g->n[i].op == LLMC_OP_ROPE_KV_WRITE && strcmp(g->t[g->n[i].out[0]].name, q1) == 0)
            return i;
    assert(!q1); /* a rope_epilogue names a rope_kv_write */
    return -1;
}

/* The second kernel of a K-split tensor-core matmul: sums the split partials of f32[rows, N] in
 * scratch B and applies the epilogue (epi: 0 none, 1 residual, 2 SwiGLU of columns j, j + N/2). */
static void emit_reduce(LlmcEmit *e, int node, const char *cond, int split, const char *hrows, const char *rows,
                        int64_t N, int64_t SY, int64_t SR, int epi, const char *what, const char *bias,
                        const char *res, const char *ys)
{
    int64_t nout = epi == 2 || epi == 4 ? N / 2 : N;
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* split-K reduce: %d partials -> f32[%s,%lld]%s */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    gemm_reduce<%lld, %lld, %lld, %d, %d>(A(%lld), %s, %s, %s, %s);\n}\n",
                    split, hrows, (long long)nout, what, (long long)N, (long long)SY, (long long)SR, split, epi,
                    (long long)e->scratch_b, bias, res, ys, rows);
    const char *rk = llmc_cuda_kernel(e, "gemm_reduce", k.s, 0);
    llmc_buf_free(&k);
    char gxr[96];
    snprintf(gxr, sizeof gxr, "(%s * %lld + 255) / 256", hrows, (long long)nout);
    llmc_cuda_launch(e, node, cond, rk, gxr, "1", "1", 256, 0);
}

/* A quantized weight w (N rows of K, groups of G) dequantized to f16 into scratch D for the tensor
 * cores (dequant_half: a 16-byte lane8 slot a thread where the order allows, else an element), for
 * the steps `cond` selects (on the path llmc_cuda_path_cond's `path` names). */
static void emit_dequant(LlmcEmit *e, int node, const LlmcTensor *w, const char *wk, int64_t N, int64_t K, int64_t G,
                         const char *wsrc, const char *wq, const char *cond, int path)
{
    int dv = w->layout.order == LLMC_ORDER_LANE8 && w->offset % 16 == 0;
    int64_t per = dv ? llmc_cuda_ve(w->dtype) : 1, threads = (N * K / per + 255) / 256;
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* %s[%lld,%lld] (groups of %lld%s) dequantized to f16 [%lld,%lld] for the tensor cores; %s */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    dequant_half<%s, %lld, %lld, %lld, %d, %s>(%s, %s, (uint16_t *)A(%lld));\n}\n",
                    llmc_dtype_name(w->dtype), (long long)N, (long long)K, (long long)G,
                    llmc_layout_role(&w->layout, w->dtype, LLMC_ROLE_ZERO) >= 0 ? ", zero points" : "", (long long)N,
                    (long long)K, dv ? "a 16-byte lane8 slot a thread" : "an element a thread", wk, (long long)K,
                    (long long)N, (long long)G, dv, llmc_kernel_order(w->layout.order), wsrc, wq,
                    (long long)e->scratch_d);
    const char *dk = llmc_cuda_kernel(e, "dequant", k.s, 0);
    llmc_buf_free(&k);
    char gxd[32];
    snprintf(gxd, sizeof gxd, "%lld", (long long)threads);
    llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, path), dk, gxd, "1", "1", 256, 0);
}

/* The AMD path's steps of more than 8 rows (the matrix takes the tensor cores' shapes): a quantized
 * weight dequantized to f16 into scratch D, the rows (normalized with a norm prologue) to bf16/f16
 * into scratch A, then gemm_mx (cuda_mx.cuh: WMMA, MFMA or FMAs by the image) with the epilogue.
 * The conversion kernels are the NVIDIA path's own (their texts, so one kernel each). */
static void emit_amd_wide(LlmcEmit *e, int node, const char *tname, int bf, int64_t K, int64_t N, int64_t SX, int64_t SY,
                          int64_t SR, int epi, int norm, double eps, int quant, const char *wk, int64_t G,
                          const char *wsrc, const char *wq, const char *xs, const char *nws, const char *bias,
                          const char *ys, const char *res, const char *rows, const char *hrows, const char *what)
{
    const LlmcGraph *g = e->g;
    const LlmcTensor *w = &g->t[g->n[node].in[1]];
    LlmcBuf k = {0};
    char cond[64], tsrc[96];
    snprintf(cond, sizeof cond, "%s > 8", hrows);
    snprintf(tsrc, sizeof tsrc, "%s", wsrc);
    if (quant) {
        emit_dequant(e, node, w, wk, N, K, G, wsrc, wq, cond, 1);
        snprintf(tsrc, sizeof tsrc, "((const uint8_t *)A(%lld))", (long long)e->scratch_d);
    }
    llmc_buf_printf(&k,
                    "/* f32[%s,%lld] rows%s -> %s (A operand of a tensor-core matmul) */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    rows_to_half<%d, %d, %lld, %lld>(%s, %s, (uint16_t *)A(%lld), %s);\n}\n",
                    hrows, (long long)K, norm ? ", RMS-normalized," : "", tname, bf, norm, (long long)K, (long long)SX, xs,
                    nws, (long long)e->scratch_a, llmc_c_float(e, eps));
    const char *hk = llmc_cuda_kernel(e, norm ? "rmsnorm_half" : "to_half", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 1), hk, hrows, "1", "1", 256, 0);
    llmc_buf_printf(&k,
                    "/* matmul, the AMD path (gemm_mx: 64x64 tiles on 256 threads, WMMA, MFMA or FMAs by the image; %s "
                    "activations): [%s,%lld] x %s[%lld,%lld]^T -> f32[%s,%lld]%s; stride y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "#if LLMC_AMD_PATH\n"
                    "    gemm_mx<%d, %lld, %lld, %lld, %lld, %d>((const uint16_t *)%s, (const uint16_t *)A(%lld), %s, %s, %s, "
                    "%s);\n#else\n    llmc_trap();\n#endif\n}\n",
                    tname, hrows, (long long)K, tname, (long long)N, (long long)K, hrows,
                    (long long)(epi == 2 || epi == 4 ? N / 2 : N), what, (long long)SY, bf, (long long)K, (long long)N, (long long)SY,
                    (long long)SR, epi, tsrc, (long long)e->scratch_a, bias, ys, rows, res);
    const char *mk = llmc_cuda_kernel(e, "gemm_mx", k.s, 0);
    llmc_buf_free(&k);
    char gx[64], gy[32];
    snprintf(gx, sizeof gx, "(%s + 63) / 64", hrows);
    snprintf(gy, sizeof gy, "%lld", (long long)(epi == 2 || epi == 4 ? (N / 2 + 31) / 32 : (N + 63) / 64));
    llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 1), mk, gx, gy, "1", 256, 0);
}

/* gemm_wt (cuda_wgmma_tma.cuh; llmc compile --wgmma auto, the default, or tma) for the wide steps `cond` selects in
 * sm_90a images, in gemm_wg's place: the same half activations in scratch A (rows_to_half, launched
 * before) and bf16/f16 weights read in place, both through TMA maps the runtime encodes at load
 * (llmc_cuda_wt_maps: the node's pair in consts, reached by one launch offset); persistent, at most
 * one block of 384 threads an SM of the tuning target (typical_sms: a GPU with fewer SMs runs the
 * extra blocks as a second wave), over 128-row tiles of the step's rows; K split into scratch B and
 * gemm_reduce as gemm_wg splits it. Its maps' addresses are written by a host copy before any launch,
 * so the producer thread acquires them (wt_maps_acquire: fence.proxy.tensormap, the CUDA
 * programming guide's rule for a map in global memory) before its first copy. On an H100:
 * kernel_check wt's 1104 checks pass, prefill 512 of the 1B 1.23x and of the 8B/3 1.27x gemm_wg's
 * (bench/NOTES.md, "Round 10"). */
static void emit_wt(LlmcEmit *e, int node, const char *cond, const LlmcWideTile *wt, int bf, const char *tname, int64_t K,
                    int64_t N, int64_t SY, int64_t SR, int epi, int64_t rows_max, const char *hrows, const char *rows,
                    const char *what, const char *bias, const char *ys, const char *res, const char *maps_at)
{
    const LlmcGraph *g = e->g;
    const LlmcTensor *w = &g->t[g->n[node].in[1]];
    int glu = epi == 2 || epi == 4, split = wt->split;
    int64_t nb = glu ? (N / 2 + wt->bn / 2 - 1) / (wt->bn / 2) : (N + wt->bn - 1) / wt->bn;
    int sms = e->target->typical_sms ? e->target->typical_sms : 100;
    char maps[48], yarg[64]; /* maps_at: the pair reserved beside gemm_ws's (one launch offset), else its own */
    snprintf(maps, sizeof maps, "%s",
             maps_at ? maps_at : llmc_cuda_int(e, llmc_cuda_wt_maps(e, w, bf, rows_max, wt->bn / 2, 128)));
    snprintf(yarg, sizeof yarg, "A(%lld)", (long long)e->scratch_b);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* matmul, tensor cores (gemm_wt: TMA maps, a producer warp and two consumer warpgroups of wgmma "
                    "m64n%dk16, 128x%d tiles, %d stages, persistent; %s activations)%s: [%s,%lld] x %s[%lld,%lld]^T -> "
                    "f32[%s,%lld]%s; stride y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(384, 1) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "#if defined(__CUDA_ARCH_FEAT_SM90_ALL)\n"
                    "    const LlmcTmap *tw = (const LlmcTmap *)(a.consts + %s), *tx = tw + 1;\n"
                    "    wt_maps_acquire(tw, tx);\n"
                    "    gemm_wt<%d, %lld, %lld, %lld, %lld, %d, %d, %d, %d>(tw, tx, %s, %s, %s, %s);\n"
                    "#else\n    __trap();\n#endif\n}\n",
                    wt->bn, wt->bn, wt->stages, tname, split > 1 ? ", K split, partials" : "", hrows, (long long)K, tname,
                    (long long)N, (long long)K, hrows, (long long)(glu ? N / 2 : N), what, (long long)SY, maps, bf,
                    (long long)K, (long long)N, (long long)(split > 1 ? 0 : SY), (long long)(split > 1 ? 0 : SR), epi,
                    split, wt->bn, wt->stages, split > 1 ? "(const float *)0" : bias, split > 1 ? yarg : ys, rows,
                    split > 1 ? "(const float *)0" : res);
    const char *name = llmc_cuda_kernel_nv(e, split > 1 ? "gemm_wt_splitk" : "gemm_wt", k.s, wt->smem);
    llmc_buf_free(&k);
    /* launched only from images with wgmma: their shared memory is asked for only there */
    e->kernels[llmc_emit_kernel_index(e, name)].flags |= 4u; /* LLMC_GPU_KERNEL_WGMMA_ONLY */
    char gx[160];
    snprintf(gx, sizeof gx, "((%s + 127) / 128 * %lld < %d ? (%s + 127) / 128 * %lld : %d)", hrows,
             (long long)(nb * split), sms, hrows, (long long)(nb * split), sms);
    llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), name, gx, "1", "1", 384, wt->smem);
    if (split > 1)
        emit_reduce(e, node, llmc_cuda_path_cond(e, cond, 0), split, hrows, rows, N, SY, SR, epi, what, bias, res, ys);
}

/* gemm_ws (cuda_wgmma_tma.cuh; llmc compile --decode-wgmma on) for 9..64 rows in sm_90a images, in
 * gemm_q's place: the rows gemm_q's conversion wrote into scratch A (bf16/f16, natural order) and
 * bf16/f16 weights read in place, both through TMA maps the runtime encodes at load (maps: the consts
 * offset of the node's pair: the weights' boxes of 64 x 64 rows, the activations' of 64 x 16); a variant a
 * token tile (16, 32, 64 rows); one block of 160 threads an SM, stream-K over (tile, 64 of K) units
 * with gemm_q's deterministic sum of shared tiles (partials in scratch B, a counter a tile in the
 * counters' region); under programmatic dependent launch, the first stages' weights requested before
 * the wait. Not yet run on a GPU (bench/kernel_check.cu mode ws checks and times it). */
static void emit_ws(LlmcEmit *e, int node, const LlmcWsPlan *sp, int bf, const char *tname, int64_t K, int64_t N,
                    int64_t SY, int64_t SR, int epi, const char *hrows, const char *rows, const char *what,
                    const char *bias, const char *ys, const char *res, const char *maps)
{
    int glu = epi == 2 || epi == 4;
    for (int v = 0; v < LLMC_WS_VARIANTS; v++) {
        const LlmcWsPlan *p = &sp[v];
        LlmcBuf k = {0};
        llmc_buf_printf(&k,
                        "/* matmul, batched decode on the warpgroup tensor cores (gemm_ws: TMA maps, the weights the A "
                        "operand of wgmma m64n%dk16, %s a tile, %d stages, stream-K over %d blocks; %s activations): "
                        "[%s,%lld] x %s[%lld,%lld]^T -> f32[%s,%lld]%s */\n"
                        "extern \"C\" __global__ void __launch_bounds__(160, 1) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "#if defined(__CUDA_ARCH_FEAT_SM90_ALL)\n"
                        "    const LlmcTmap *tw = (const LlmcTmap *)(a.consts + %s), *tx = tw + 1;\n"
                        "    gemm_ws<%d, %lld, %lld, %lld, %lld, %d, %d, %d, 1>(tw, tx, %s, %s, %s, %s, A(%lld), "
                        "(int *)(a.arena + %lld));\n"
                        "#else\n    __trap();\n#endif\n}\n",
                        p->nt, glu ? "64 gate and 64 up rows" : "128 weight rows", p->st, p->blocks, tname, hrows,
                        (long long)K, tname, (long long)N, (long long)K, hrows, (long long)(glu ? N / 2 : N), what, maps,
                        bf, (long long)K, (long long)N, (long long)SY, (long long)SR, epi, p->nt, p->st, bias, ys, rows,
                        res, (long long)e->scratch_b, (long long)e->scratch_qc);
        const char *name = llmc_cuda_kernel_nv(e, "gemm_ws", k.s, p->smem);
        llmc_buf_free(&k);
        /* launched only from images with wgmma: their shared memory is asked for only there */
        e->kernels[llmc_emit_kernel_index(e, name)].flags |= 4u; /* LLMC_GPU_KERNEL_WGMMA_ONLY */
        llmc_cuda_kernel_pdl(e, name);
        char cond[128], gx[32];
        snprintf(cond, sizeof cond, "%s > %d && %s <= %d && wg", hrows, v ? 16 << (v - 1) : 8, hrows, p->nt);
        snprintf(gx, sizeof gx, "%d", p->blocks);
        llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), name, gx, "1", "1", 160, p->smem);
    }
}

/* matmul and matmul_fused (norm prologue, residual or SwiGLU epilogue, bias). */
LlmcStatus llmc_cuda_emit_matmul(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[1]];
    int fused = n->op == LLMC_OP_MATMUL_FUSED;
    int ni = fused ? (int)llmc_attr_int(n, "norm", -1) : -1, ri = fused ? (int)llmc_attr_int(n, "residual", -1) : -1;
    int bi = fused ? (int)llmc_attr_int(n, "bias", -1) : (n->n_in == 3 ? 2 : -1);
    /* swiglu: the gated epilogue of a merged gate/up matmul (fuse_swiglu_epilogue), 1 SwiGLU (EPI 2),
     * 2 GeGLU (EPI 4: gelu_tanh of the gate) */
    int swiglu = fused ? (int)llmc_attr_int(n, "swiglu", 0) : 0;
    int epi = swiglu == 2 ? 4 : swiglu ? 2 : ri > 0 ? 1 : 0;
    double eps = llmc_attr_float(n, "eps", 1e-5);
    int x = n->in[0], y = n->out[0];
    int64_t K = w->shape.dim[1], N = w->shape.dim[0], SX = llmc_row_stride(g, x), SY = llmc_row_stride(g, y);
    int64_t SR = ri > 0 ? llmc_row_stride(g, n->in[ri]) : 0;
    /* wk: the weight's format as the kernels name it; quantized: a format with side tensors (copied:
     * the ring of expression buffers it comes from turns over before the last kernel text uses it) */
    char wk[64];
    snprintf(wk, sizeof wk, "%s", llmc_kernel_wformat(e, w));
    int quant = llmc_format_n_sides(w->dtype) > 0, ve = llmc_cuda_ve(w->dtype);
    int64_t G = quant ? w->layout.group : K;
    int64_t xoff = g->t[x].offset;
    int x_aligned = SX % 4 == 0 && xoff % 16 == 0;
    int norm_aligned = ni <= 0 || g->t[n->in[ni]].offset % 16 == 0;
    /* quantized rows go by 16-byte slots only in lane8 order (whole tiles of tq elements) */
    int64_t tq = quant ? llmc_order_tile(w->dtype) : ve;
    int vec = x_aligned && norm_aligned && K % ve == 0 && w->offset % 16 == 0 &&
              (!quant || w->layout.order == LLMC_ORDER_LANE8);
    /* the rows' slot first (o.v[0]): a kernel that reads only some of the node's operands (gemm_q
     * without the norm its conversion applied) is the same over T rows and over O rows, whatever
     * operands the two nodes have */
    char rows[32]; /* (the ring's string would not outlive the calls below) */
    snprintf(rows, sizeof rows, "%s", llmc_cuda_rows(e, x));
    char bias[160], ys[160], xs[160], wsrc[96], nws[160], res[160];
    snprintf(bias, sizeof bias, "%s", bi > 0 ? llmc_cuda_ptr(e, n->in[bi], "const float") : "(const float *)0");
    snprintf(ys, sizeof ys, "%s", llmc_cuda_ptr(e, y, "float"));
    snprintf(xs, sizeof xs, "%s", llmc_cuda_ptr(e, x, "const float"));
    snprintf(wsrc, sizeof wsrc, "%s", llmc_cuda_ptr(e, n->in[1], "const uint8_t"));
    char wq[256], gq[32] = "";   /* quantized: the scales and zeros, the group as a template argument */
    snprintf(wq, sizeof wq, "%s", llmc_cuda_wq(e, w, wsrc));
    if (quant)
        snprintf(gq, sizeof gq, ", %lld", (long long)G);
    char gqo[64];   /* and gemv's storage order */
    snprintf(gqo, sizeof gqo, "%s%s%s", gq, quant ? ", " : "", quant ? llmc_kernel_order(w->layout.order) : "");
    snprintf(nws, sizeof nws, "%s", ni > 0 ? llmc_cuda_ptr(e, n->in[ni], "const float") : "(const float *)0");
    snprintf(res, sizeof res, "%s", ri > 0 ? llmc_cuda_ptr(e, n->in[ri], "const float") : "(const float *)0");
    const char *hrows = llmc_cuda_host_rows(g, x);
    char what[160];
    snprintf(what, sizeof what, "%s%s%s%s", ni > 0 ? ", RMSNorm prologue" : "", epi == 1 ? ", residual epilogue" : "",
             epi == 2 ? ", SwiGLU epilogue (rows j, j + N/2)" : epi == 4 ? ", GeGLU epilogue (rows j, j + N/2)" : "",
             bi > 0 ? ", bias" : "");
    /* Row pairs (or gate/up pairs) are the work units, 4 warps a block. Too few blocks to fill the
     * chip: 2 or 4 warps share a pair, each summing a slice of K. Rows of up to 4 KB (a 1B's
     * hidden size) split until the grid has 32 blocks an SM, and their one-row kernel keeps one load
     * of each row in flight (a lane's next group is issued early all the same): many short-lived
     * blocks with few registers; longer rows split until 5 blocks an SM and keep two loads of each
     * row in flight. Measured in whole decode steps on an H200 (bench/NOTES.md, rounds 33-35): the
     * 1B 1007.5 -> 1080 tok/s, the 8B slower with either change. Quantized rows (lane8 slots) split
     * until 7 blocks an SM and keep one load of each row in flight: on the 8B's
     * four matrices (bench/b1_lab.cu, an H100, round 5), the variants held to 64 registers (8 blocks
     * an SM resident; NVRTC gives these kernels 54-64 registers, the down matrix 63-72, with no bound)
     * ran qkv 9.5 -> 8.9 us, o 5.1 -> 4.9, gate/up 30.7 -> 30.0 and down 16.4-18.1 -> 14.5 in u4, and
     * alike in nvfp4 and fp8, against 32 (the down matrix: 5) blocks an SM and two loads a row for the
     * down matrix (87 registers there: 1.55 waves). In whole decode steps (an H100, bench/NOTES.md
     * round 7) the rule for every quantized row, the 1B's K 2048 too, took the 1B in w4a16 from 1131
     * to 1289 tok/s at batch 1 (the 8B's rows all have K >= 4096; the 8B and the 1B in fp8 and nvfp4
     * not yet measured end to end). A bound of 8 blocks an SM spills
     * (4-28 bytes) on sm_80 and sm_90a, so none is set. gemv (2..8 rows) and gemv_b1 (one row) split
     * alike but do not always sum alike: on an H100 (bench/NOTES.md, round 8) gemv_b1 differed from
     * gemv's rows for some bf16 matrices with a bias, fp8 at K 8192 and u4 at g128, so a
     * batch-invariant build runs gemv for one row too. */
    int64_t units = swiglu ? N / 2 : (N + 1) / 2, ksplit = 1;
    int sms = e->target->typical_sms ? e->target->typical_sms : 100;
    int short_rows = llmc_format_bytes(w->dtype, K) <= 4096, qrows = quant && vec;
    int per_sm = qrows ? 7 : short_rows ? 32 : 5, b1_loads = short_rows || qrows ? 1 : 2;
    while (vec && ksplit < 4 && (units * ksplit + 3) / 4 < per_sm * sms && K % (2 * ksplit * tq) == 0)
        ksplit *= 2;
    /* A batch-invariant build (--batch-invariant) runs gemv at every row count (no gemv_b1, no
     * tensor cores), its grid with the chunks of 8 rows fastest (TX 1): the blocks that read the same
     * weight rows run together, so a wide step reads each weight about once from memory (the default
     * grid, weight units fastest, reads the matrix once a chunk). The same sums either way. */
    int64_t wblocks = (units + 4 / ksplit - 1) / (4 / ksplit);
    int tx = e->binv && wblocks <= 65535;
    char txa[96] = "";
    if (tx && quant) /* G and ORD: gqo's */
        snprintf(txa, sizeof txa, ", 1");
    else if (tx)
        snprintf(txa, sizeof txa, ", %lld, ORDER_ROW_MAJOR, 1", (long long)K);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* matmul, skinny (<= 8 rows a block, 2 weight rows a warp, K split in %lld%s): f32[%s,%lld] x %s[%lld,%lld]^T -> f32[%s,%lld]%s; "
                    "strides x %lld, y %lld; %s loads; %s */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128, %d) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    gemv<%s, %lld, %lld, %lld, %lld, %d, %d, %d, %lld, 2, %lld%s%s>(%s, %s, %s, %s, %s, %s, %s, %s%s%s);\n}\n",
                    (long long)ksplit, tx ? ", chunks of rows fastest in the grid" : "", hrows, (long long)K, llmc_dtype_name(w->dtype), (long long)N, (long long)K, hrows,
                    (long long)(swiglu ? N / 2 : N), what, (long long)SX, (long long)SY, vec ? "16-byte" : "scalar",
                    quant ? "at least 3 blocks an SM: the quantized path's 8 rows of sums spill on sm_80 under 128 "
                            "registers"
                          : "at least 4 blocks an SM: ptxas otherwise picks 64 registers and spills on sm_80 for some shapes",
                    quant ? 3 : 4, wk,
                    (long long)K, (long long)N, (long long)SX, (long long)SY, vec, ni > 0, epi, (long long)SR,
                    (long long)ksplit, gqo, txa, wsrc, xs, bias, ys, rows, nws, llmc_c_float(e, eps), res,
                    quant ? ", " : "", quant ? wq : "");
    const char *gemv = llmc_cuda_kernel(e, "gemv", k.s, 0);
    llmc_buf_free(&k);
    /* gemv's sums of this matrix (qdot's, or gemv's k order, K slices summed in order), whatever the
     * rows and the grid; gemv_b1's are marked apart (not always the same bits) */
    char mm[256];
    snprintf(mm, sizeof mm, "gemv %s[%lld,%lld] g%lld%s%s, K split in %lld, %s", wk, (long long)N, (long long)K,
             (long long)G, ni > 0 ? ", norm" : "", epi == 1 ? ", residual" : epi == 2 ? ", swiglu" : epi == 4 ? ", geglu" : "",
             (long long)ksplit, vec ? "16-byte slots" : "scalar");
    llmc_cuda_kernel_math(e, gemv, "%s", mm);
    /* The tensor cores read bf16/f16 weights, or a quantized weight dequantized to f16 in scratch D
     * (tk: the format they read, tsrc: where) for steps of more than 8 rows, as the unquantized
     * formats switch. On an H200 (bench/NOTES.md) the 8B in w4a16 made 591 tok/s at batch 16 with
     * the skinny kernel up to 32 rows (two chunks of 8: 27 ms a step), where dequantizing a whole
     * step costs about 6 ms (512-token prefill: 24.4 ms against bf16's 18.6) and bf16's 16-row
     * step 9.5 ms. */
    int tk = llmc_cuda_mma_format(w), bf = tk == LLMC_BF16; /* bf: bf16 tensor cores, else f16 */
    int wide = tk >= 0 && K % 32 == 0 && x_aligned && norm_aligned && w->offset % 16 == 0;
    /* the NVIDIA path's tensor cores (e->target is an NVIDIA one when the build has that path), the
     * AMD path's gemm_mx (cuda_mx.cuh): the same shapes */
    int tc = wide && (!e->nv_path || e->target->has_mma_bf16) && !e->binv;
    char tsrc[96];
    const char *tname = tk >= 0 ? llmc_dtype_name((LlmcDType)tk) : "";
    snprintf(tsrc, sizeof tsrc, "%s", wsrc);
    if (quant)
        snprintf(tsrc, sizeof tsrc, "((const uint8_t *)A(%lld))", (long long)e->scratch_d);
    char gx[64], gy[64], cond[128];
    snprintf(gx, sizeof gx, "%lld", (long long)wblocks);
    snprintf(gy, sizeof gy, "(%s + 7) / 8", hrows);
    char gxv[64], gyv[64]; /* gemv's grid (TX: swapped) */
    snprintf(gxv, sizeof gxv, "%s", tx ? gy : gx);
    snprintf(gyv, sizeof gyv, "%s", tx ? gx : gy);
    assert((vec && epi == 0) || !llmc_attr(n, "rope_epilogue")); /* fuse_rope_epilogue's conditions */
    int one_row = vec && !e->binv; /* gemv_b1 for one row (a batch-invariant build: gemv, and the
                                      rope_kv_write kernel at every row count: cuda_rope.c) */
    if (one_row) {
        /* One row (batch-1 decode): gemv_b1, a group of loads of each row in flight a lane and the
         * next group issued before the first is used (1.1-1.7x gemv on every matrix of the 1B and
         * 8B, bench/decode_lab.cu on an H200). */
        /* A merged Q/K/V projection: RoPE and the KV write in the epilogue (the rope_kv_write node
         * then runs only for wider steps: one launch a layer fewer). */
        int rn = rope_epilogue(g, n);
        /* u4 and nvfp4 rows with the RMSNorm prologue in f16x2 arithmetic (gemv_b1's H2,
         * cuda_gemv_b1.cuh): NVIDIA-only builds (the AMD port has no f16x2 fma here), K slices of
         * whole 256-value tiles, x's pairs in at most 32 KB of shared memory (K <= 16384). On an
         * H100 (bench/NOTES.md, fifteenth session; bench/b1_lab.cu, the 8B's u4 matrices) H2 took
         * qkv 11.5 -> 7.9 us and gate/up 31.5 -> 24.1 (the f32 path's x * nw products were most of
         * their cost), but o and down, with no norm, 6.0 -> 5.5 and 17.0 -> 17.5 (the block's pairs
         * cost as much as the products save); the 1B in w4a16 at batch 1: 1291 -> 1426 tok/s with
         * H2 on the norm's matrices, 1274 with it on every u4 matrix. */
        int h2 = quant && ni > 0 && (w->dtype == LLMC_U4 || w->dtype == LLMC_NVFP4) && !e->amd_path &&
                 K % (256 * ksplit) == 0 && K <= 16384;
        char h2a[8] = "";
        if (h2)
            snprintf(h2a, sizeof h2a, ", 1");
        char rope[1024] = "";
        if (rn >= 0) {
            const LlmcNode *r = &g->n[rn];
            int64_t hd = llmc_attr_int(r, "head_dim", 0), hq = llmc_cols(&g->t[r->in[0]].shape) / hd;
            int64_t table = llmc_emit_rope_table(e, r, hd);
            char q1[160];
            snprintf(q1, sizeof q1, "%s", llmc_cuda_ptr(e, r->out[0], "float"));
            snprintf(rope, sizeof rope, ", %d, %lld, %d, %lld, %d, %d, %s%s%s>(%s, %s, %s, %s, %s, %s, %s, "
                     "RopeOut{a.positions, a.slots, C(%lld), %s, a.kv, %s}%s%s);\n}\n",
                     strcmp(llmc_attr_str(r, "style", "half"), "interleaved") == 0, (long long)hq, g->kv_heads,
                     (long long)hd, g->kv_layers, g->kv_block_size, llmc_kernel_format(e->kv[0]), gq, h2a, wsrc, xs, bias, ys,
                     nws, llmc_c_float(e, eps),
                     res, (long long)table, q1, llmc_cuda_int(e, llmc_attr_int(r, "layer", 0)), quant ? ", " : "",
                     quant ? wq : "");
        }
        llmc_buf_printf(&k,
                        "/* matmul, one row (2 weight rows a warp, K split in %d, %d load%s a row in flight%s): "
                        "f32[1,%lld] x %s[%lld,%lld]^T -> f32[1,%lld]%s%s */\n"
                        "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    gemv_b1<%s, %lld, %lld, %d, %d, %d, %d",
                        (int)ksplit, b1_loads, b1_loads > 1 ? "s" : "",
                        h2 ? "; f16x2 products, x's f16 pairs in shared memory" : "", (long long)K,
                        llmc_dtype_name(w->dtype), (long long)N, (long long)K,
                        (long long)(swiglu ? N / 2 : N), what,
                        rn >= 0 ? ", RoPE of q and k and the KV write in the epilogue" : "", wk,
                        (long long)K, (long long)N, ni > 0, rn >= 0 ? 3 : epi, (int)ksplit, b1_loads);
        if (rn >= 0)
            llmc_buf_printf(&k, "%s", rope);
        else if (quant)
            llmc_buf_printf(&k, ", 0, 1, 1, 2, 1, 1, %s%s%s>(%s, %s, %s, %s, %s, %s, %s, RopeOut{}, %s);\n}\n",
                            llmc_kernel_format(e->kv[0]), gq, h2a, wsrc, xs, bias, ys, nws, llmc_c_float(e, eps), res, wq);
        else
            llmc_buf_printf(&k, ">(%s, %s, %s, %s, %s, %s, %s);\n}\n", wsrc, xs, bias, ys, nws, llmc_c_float(e, eps),
                            res);
        const char *b1 = llmc_cuda_kernel(e, "gemv_b1", k.s, 0);
        llmc_buf_free(&k);
        if (rn >= 0) {
            const LlmcNode *r = &g->n[rn];
            int64_t hd = llmc_attr_int(r, "head_dim", 0);
            llmc_cuda_kernel_math(e, b1, "b1%s %s;%s", h2 ? " h2" : "", mm,
                                  llmc_cuda_rope_math(e, strcmp(llmc_attr_str(r, "style", "half"), "interleaved") == 0,
                                                      llmc_cols(&g->t[r->in[0]].shape) / hd,
                                                      llmc_cols(&g->t[r->in[1]].shape) / hd, hd,
                                                      llmc_emit_rope_table(e, r, hd)));
        } else
            llmc_cuda_kernel_math(e, b1, "b1%s %s", h2 ? " h2" : "", mm);
        llmc_cuda_kernel_pdl(e, b1);
        snprintf(cond, sizeof cond, "%s == 1", hrows);
        llmc_cuda_launch(e, node, cond, b1, gx, "1", "1", 128, 0); /* gemv's grid: the same units and split */
    }
    if (!tc) {
        snprintf(cond, sizeof cond, "%s > 1", hrows);
        llmc_cuda_launch(e, node, one_row ? cond : NULL, gemv, gxv, gyv, "1", 128, 0);
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
    snprintf(cond, sizeof cond, vec ? "%s > 1 && %s <= 8" : "%s <= 8", hrows, hrows);
    llmc_cuda_launch(e, node, cond, gemv, gx, gy, "1", 128, 0);
    if (e->amd_path)
        emit_amd_wide(e, node, tname, bf, K, N, SX, SY, SR, epi, ni > 0, eps, quant, wk, G, wsrc, wq, xs, nws, bias, ys,
                      res, rows, hrows, what);
    if (!e->nv_path) {
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
    /* gemm_wq: a quantized matrix it takes runs on it above wq_lo rows in sm_90a images (forward()
     * picks by the loaded image: wg), the rows converted once in its order (rows_to_half ORD 2 or 3)
     * into scratch A; the paths below only where it does not run (nowg). No f16 copy of the matrix.
     * wq_lo: 8 with --qmma wg; by default (--qmma auto) 32 for the 4-bit formats (an H100, 8B's
     * shapes: +12% at 64 rows, +7% in w4a16 prefill, but 3-13% slower than gemm_q at 16 rows,
     * bench/NOTES.md round 8), none for fp8 (not measured). */
    int wq_lo = llmc_cuda_wq_rows(e, w);
    LlmcWqPlan wp[LLMC_WQ_VARIANTS];
    int use_wq = wq_lo > 0 && x_aligned && norm_aligned && w->offset % 16 == 0;
    for (int v = 0; v < LLMC_WQ_VARIANTS; v++) {
        wp[v] = llmc_cuda_wq_plan(e->target, w, v);
        use_wq = use_wq && wp[v].ok;
    }
    char nowg[64] = "";
    if (use_wq && wq_lo == 8)
        snprintf(nowg, sizeof nowg, " && !wg");
    else if (use_wq)
        snprintf(nowg, sizeof nowg, " && !(wg && %s > %d)", hrows, wq_lo);
    if (use_wq) {
        snprintf(cond, sizeof cond, "%s > %d && wg", hrows, wq_lo);
        llmc_buf_printf(&k,
                        "/* f32[%s,%lld] rows%s -> f16 in gemm_wq's %s order (B operand of gemm_wq) */\n"
                        "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    rows_to_half<0, %d, %lld, %lld, %d>(%s, %s, (uint16_t *)A(%lld), %s);\n}\n",
                        hrows, (long long)K, ni > 0 ? ", RMS-normalized," : "", wp[0].word == 2 ? "fp8" : "4-bit", ni > 0,
                        (long long)K, (long long)SX, wp[0].word, xs, nws, (long long)e->scratch_a, llmc_c_float(e, eps));
        const char *hk = llmc_cuda_kernel(e, ni > 0 ? "rmsnorm_half" : "to_half", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), hk, hrows, "1", "1", 256, 0);
        /* token tiles of 16, 32, 64 and 128 rows; above 128 rows tiles of 128 without a K split (one
         * variant with the one before when that has none either) */
        int nv = wp[3].split == 1 ? 4 : 5;
        for (int v = 0; v < nv; v++) {
            const LlmcWqPlan *p = &wp[v];
            int hi = v == nv - 1 ? 0 : p->hi, lo = p->lo > wq_lo ? p->lo : wq_lo;
            if (hi && hi <= wq_lo)
                continue; /* a token tile of the rows gemm_q keeps */
            char yarg[160];
            snprintf(yarg, sizeof yarg, "A(%lld)", (long long)e->scratch_b);
            llmc_buf_printf(&k,
                            "/* matmul, warpgroup tensor cores with the weights decoded in registers (gemm_wq: wgmma "
                            "m64n%dk16, 64 weight rows and %d rows a block, %d cp.async stages, %d chunk%s of weights in "
                            "flight, K split in %d): "
                            "f16[%s,%lld] x %s[%lld,%lld]^T -> f32[%s,%lld]%s */\n"
                            "extern \"C\" __global__ void __launch_bounds__(128, %d) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                            "#if defined(__CUDA_ARCH_FEAT_SM90_ALL)\n"
                            "    gemm_wq<%s, %lld, %lld, %lld, %d, %d, %d, %d, %lld, %lld, %d>(%s, %s, (const uint16_t *)A(%lld), "
                            "%s, %s, %s, %s);\n#else\n    __trap();\n#endif\n}\n",
                            p->nt, p->nt, p->st, p->pd, p->pd > 1 ? "s" : "", p->split, hrows, (long long)K, llmc_dtype_name(w->dtype), (long long)N,
                            (long long)K, hrows, (long long)(swiglu ? N / 2 : N), p->split > 1 ? " (partials)" : what,
                            p->per_sm, wk, (long long)K, (long long)N, (long long)G, p->nt, p->st, epi, p->split,
                            (long long)SY, (long long)SR, p->pd, wsrc, wq, (long long)e->scratch_a,
                            p->split > 1 ? "(const float *)0" : bias, p->split > 1 ? yarg : ys, rows,
                            p->split > 1 ? "(const float *)0" : res);
            const char *wk_ = llmc_cuda_kernel_nv(e, "gemm_wq", k.s, p->smem);
            llmc_buf_free(&k);
            llmc_cuda_kernel_pdl(e, wk_);
            char gxw[64], gyw[32], gzw[32];
            if (hi)
                snprintf(cond, sizeof cond, "%s > %d && %s <= %d && wg", hrows, lo, hrows, hi);
            else
                snprintf(cond, sizeof cond, "%s > %d && wg", hrows, lo);
            snprintf(gxw, sizeof gxw, "(%s + %d) / %d", hrows, p->nt - 1, p->nt);
            snprintf(gyw, sizeof gyw, "%lld", (long long)(N / 64));
            snprintf(gzw, sizeof gzw, "%d", p->split);
            llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), wk_, gxw, gyw, gzw, 128, p->smem);
            if (p->split > 1)
                emit_reduce(e, node, llmc_cuda_path_cond(e, cond, 0), p->split, hrows, rows, N, SY, SR, epi, what, bias,
                            res, ys);
        }
    }
    /* 9..64 rows: gemm_q where it takes the matrix: the rows (normalized if the node has a norm)
     * converted to f16/bf16 in the order the format pairs them, then the weights decoded in
     * registers (bench/qmma_lab.cu) */
    LlmcQmmaPlan qp[3];
    for (int v = 0; v < 3; v++)
        qp[v] = llmc_cuda_qmma_plan(e->target, w, swiglu, 1 << v, e->qmma_units);
    int qm = qp[0].ok && x_aligned && norm_aligned && w->offset % 16 == 0;
    int64_t qmax = qm ? 64 : 8; /* the rows the wide paths start above */
    /* gemm_ws (--decode-wgmma on): a bf16/f16 matrix gemm_q takes runs on it in sm_90a images
     * (forward() picks by the loaded image: wg), on the rows gemm_q's conversion writes (natural
     * order); its two maps reached by one launch offset (where the node has one left) */
    LlmcWsPlan sp[LLMC_WS_VARIANTS];
    int use_ws = e->decode_wgmma && qm && !quant && e->n_offs < 8;
    for (int v = 0; v < LLMC_WS_VARIANTS; v++) {
        sp[v] = llmc_cuda_ws_plan(e->target, w, swiglu, v, e->qmma_units);
        use_ws = use_ws && sp[v].ok;
    }
    char qno[64]; /* gemm_q's conditions: not where gemm_wq or gemm_ws runs */
    snprintf(qno, sizeof qno, "%s", use_ws ? " && !wg" : nowg);
    /* gemm_ws's maps, and gemm_wt's beside them where the wide steps will take gemm_wt (below): one
     * launch offset reaches both pairs (a node may have only one left) */
    int64_t rows_max = g->max_tokens > g->max_outputs ? g->max_tokens : g->max_outputs;
    char ws_maps[48] = "", wt_maps[48] = "";
    if (use_ws) {
        const char *slot = llmc_cuda_int(e, llmc_cuda_wt_maps(e, w, bf, rows_max, 64, 16));
        snprintf(ws_maps, sizeof ws_maps, "%s", slot);
        if (e->wgmma_tma && K % 64 == 0) { /* (not quantized: use_ws) */
            LlmcWideTile wt = llmc_cuda_wt_tile(e->target, N, K, rows_max);
            llmc_cuda_wt_maps(e, w, bf, rows_max, wt.bn / 2, 128); /* 256 bytes on: the pair after */
            snprintf(wt_maps, sizeof wt_maps, "%s + 256", slot);
        }
    }
    if (qm) {
        snprintf(cond, sizeof cond, "%s > 8 && %s <= 64%s", hrows, hrows, nowg);
        llmc_buf_printf(&k,
                        "/* f32[%s,%lld] rows%s -> %s in %s order (A operand of gemm_q) */\n"
                        "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    rows_to_half<%d, %d, %lld, %lld, %d>(%s, %s, (uint16_t *)A(%lld), %s);\n}\n",
                        hrows, (long long)K, ni > 0 ? ", RMS-normalized," : "", qp[0].bf ? "bf16" : "f16",
                        qp[0].aord ? "pair-32" : "natural", qp[0].bf, ni > 0, (long long)K, (long long)SX,
                        qp[0].aord, xs, nws, (long long)e->scratch_a, llmc_c_float(e, eps));
        const char *hk = llmc_cuda_kernel(e, ni > 0 ? "rmsnorm_half" : "to_half", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), hk, hrows, "1", "1", 256, 0);
        /* 16 rows a block up to 16 rows, 32 up to 32, 64 above */
        for (int v = 0; v < 3; v++) {
            const LlmcQmmaPlan *p = &qp[v];
            llmc_buf_printf(&k,
                            "/* matmul, tensor cores with the weights decoded in registers (gemm_q: %d rows and %d "
                            "weight rows a block, %d blocks over the chunks of K): %s[%s,%lld] x %s[%lld,%lld]^T -> "
                            "f32[%s,%lld]%s */\n"
                            "extern \"C\" __global__ void __launch_bounds__(%d, %d) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                            "    gemm_q<%s, %lld, %lld, %lld, %d, %d, %d, %d, %d, %lld, %lld>(%s, %s, "
                            "(const uint16_t *)A(%lld), %s, %s, %s, %s, A(%lld), (int *)(a.arena + %lld));\n}\n",
                            16 * p->mi, p->tpb, p->blocks, p->bf ? "bf16" : "f16", hrows, (long long)K,
                            llmc_dtype_name(w->dtype), (long long)N, (long long)K, hrows,
                            (long long)(swiglu ? N / 2 : N), what, 32 * p->w, p->per_sm, wk, (long long)K, (long long)N,
                            (long long)G, p->mi, p->nj, p->w, p->st, epi, (long long)SY, (long long)SR, wsrc, wq,
                            (long long)e->scratch_a, bias, ys, rows, res, (long long)e->scratch_b,
                            (long long)e->scratch_qc);
            const char *qk = llmc_cuda_kernel_nv(e, "gemm_q", k.s, p->smem);
            llmc_buf_free(&k);
            llmc_cuda_kernel_pdl(e, qk);
            char gxq[64], gyq[32];
            snprintf(cond, sizeof cond, "%s > %d && %s <= %d%s", hrows, v ? 16 << (v - 1) : 8, hrows, 16 << v, qno);
            snprintf(gxq, sizeof gxq, "(%s + %d) / %d", hrows, 16 * p->mi - 1, 16 * p->mi);
            snprintf(gyq, sizeof gyq, "%d", p->blocks);
            llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), qk, gxq, gyq, "1", 32 * p->w, p->smem);
        }
    }
    if (use_ws)
        emit_ws(e, node, sp, bf, tname, K, N, SY, SR, epi, hrows, rows, what, bias, ys, res, ws_maps);
    if (quant) { /* wider steps: the weight dequantized to f16 into scratch D, once a step */
        snprintf(cond, sizeof cond, "%s > %lld%s", hrows, (long long)qmax, nowg);
        emit_dequant(e, node, w, wk, N, K, G, wsrc, wq, cond, 0);
    }
    int split = qm ? 1 : llmc_cuda_split_k(e->target, N, K);
    if (split > 1) {
        /* 9..64 rows: 64 x 64 tiles with K split over blockIdx.z (f32 activations converted in
         * registers; a norm prologue first runs into scratch A), partials in scratch B, then the
         * reduce with the epilogue. */
        snprintf(cond, sizeof cond, "%s > 8 && %s <= 64%s", hrows, hrows, nowg);
        char gin[160];
        snprintf(gin, sizeof gin, "%s", xs);
        int64_t gsx = SX;
        if (ni > 0) {
            llmc_buf_printf(&k,
                            "/* RMSNorm of the rows into scratch (prologue of a split-K tensor-core matmul): f32[%s,%lld] */\n"
                            "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                            "    rmsnorm_row<0, %lld, %lld, 0, 0, %lld>(%s, (const float *)0, (float *)0, %s, A(%lld), %s);\n}\n",
                            hrows, (long long)K, (long long)K, (long long)SX, (long long)K, xs, nws,
                            (long long)e->scratch_a, llmc_c_float(e, eps));
            const char *nk = llmc_cuda_kernel(e, "rmsnorm", k.s, 0);
            llmc_buf_free(&k);
            llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), nk, hrows, "1", "1", 256, 0);
            snprintf(gin, sizeof gin, "A(%lld)", (long long)e->scratch_a);
            gsx = K;
        }
        llmc_buf_printf(&k,
                        "/* matmul, tensor cores, K split in %d (skinny steps): partials of f32[%s,%lld] x %s[%lld,%lld]^T */\n"
                        "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    gemm_tc<%d, %lld, %lld, %lld, %lld, 0, %d>((const uint16_t *)%s, %s, (const float *)0, A(%lld), %s);\n}\n",
                        split, hrows, (long long)K, tname,
                        (long long)N, (long long)K, bf, (long long)K, (long long)N, (long long)gsx, (long long)N,
                        split, tsrc, gin,
                        (long long)e->scratch_b, rows);
        const char *sk = llmc_cuda_kernel_nv(e, "gemm_splitk", k.s, 0);
        llmc_buf_free(&k);
        char gxs[32], gys[64], gzs[32];
        snprintf(gxs, sizeof gxs, "%lld", (long long)((N + 63) / 64));
        snprintf(gys, sizeof gys, "(%s + 63) / 64", hrows);
        snprintf(gzs, sizeof gzs, "%d", split);
        llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), sk, gxs, gys, gzs, 128, 0);
        emit_reduce(e, node, llmc_cuda_path_cond(e, cond, 0), split, hrows, rows, N, SY, SR, epi, what, bias, res, ys);
    }
    /* Wider steps: the rows (normalized if the node has a norm) converted to bf16/f16 into scratch A,
     * then gemm_h (cp.async stages of both operands) with the epilogue in place, or K split into
     * scratch B and the reduce. */
    snprintf(cond, sizeof cond, "%s > %d%s", hrows, split > 1 || qm ? 64 : 8, nowg);
    llmc_buf_printf(&k,
                    "/* f32[%s,%lld] rows%s -> %s (A operand of a tensor-core matmul) */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    rows_to_half<%d, %d, %lld, %lld>(%s, %s, (uint16_t *)A(%lld), %s);\n}\n",
                    hrows, (long long)K, ni > 0 ? ", RMS-normalized," : "", tname, bf, ni > 0,
                    (long long)K, (long long)SX, xs, nws, (long long)e->scratch_a, llmc_c_float(e, eps));
    const char *hk = llmc_cuda_kernel(e, ni > 0 ? "rmsnorm_half" : "to_half", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, cond, 0), hk, hrows, "1", "1", 256, 0);
    /* v 0: gemm_h (mma.sync), v 1: gemm_wg (wgmma) when the build has an sm_90a image; forward()
     * picks by the loaded image (wg). By default (--wgmma auto or tma) gemm_wt replaces gemm_wg for bf16/f16 weights
     * (a quantized matrix's f16 copy in scratch D keeps gemm_wg) where the node has a launch offset
     * left for the maps (8 a node: a Q/K/V matmul with a bias, a norm and the RoPE epilogue has none). */
    int variants = e->wgmma && K % 64 == 0 ? 2 : 1;
    assert(!use_wq || variants == 2); /* gemm_wq: K whole chunks of 128 or 256 */
    for (int v = 0; v < variants - use_wq; v++) { /* gemm_wq replaces gemm_wg */
        int use_wt = v && e->wgmma_tma && !quant && (wt_maps[0] || e->n_offs < 8);
        LlmcWideTile wt = use_wt ? llmc_cuda_wt_tile(e->target, N, K, rows_max)
                          : v    ? llmc_cuda_wg_tile(e->target, N, K, rows_max)
                                 : llmc_cuda_wide_tile(e->target, N, K, rows_max);
        char vcond[160], gxs[64], gys[32], gzs[32], hsrc[64], targs[96], call[64], tile[96];
        if (variants == 2 && !use_wq) /* (with gemm_wq cond has its !wg already) */
            snprintf(vcond, sizeof vcond, "%s && %swg", cond, v ? "" : "!");
        else
            snprintf(vcond, sizeof vcond, "%s", cond);
        if (use_wt) {
            emit_wt(e, node, vcond, &wt, bf, tname, K, N, SY, SR, epi, rows_max, hrows, rows, what, bias, ys, res,
                    wt_maps[0] ? wt_maps : NULL);
            continue;
        }
        snprintf(gxs, sizeof gxs, "(%s + %d) / %d", hrows, wt.bm - 1, wt.bm);
        snprintf(gys, sizeof gys, "%lld", (long long)((N + wt.bn - 1) / wt.bn));
        snprintf(gzs, sizeof gzs, "%d", wt.split);
        snprintf(hsrc, sizeof hsrc, "(const uint16_t *)A(%lld)", (long long)e->scratch_a);
        if (v) {
            snprintf(call, sizeof call, "gemm_wg");
            snprintf(targs, sizeof targs, "%d, %d", wt.bm / 64, wt.stages); /* MH, ST */
            snprintf(tile, sizeof tile, "wgmma m64n128k16, %dx128x64 tiles on a warpgroup, %d cp.async stages",
                     wt.bm, wt.stages);
        } else {
            snprintf(call, sizeof call, "gemm_h");
            snprintf(targs, sizeof targs, "%d, %d, 2, 2, %d", wt.bm, wt.bn, wt.stages); /* BM, BN, WM, WN, ST */
            snprintf(tile, sizeof tile, "mma.sync m16n8k16, %dx%dx32 tiles on 4 warps, %d cp.async stages", wt.bm,
                     wt.bn, wt.stages);
        }
        /* the wgmma kernel exists only in sm_90a images: elsewhere its body is a trap forward()
         * never reaches */
        const char *pre = v ? "#if defined(__CUDA_ARCH_FEAT_SM90_ALL)\n" : "";
        const char *post = v ? "#else\n    __trap();\n#endif\n" : "";
        if (wt.split > 1) {
            llmc_buf_printf(&k,
                            "/* matmul, tensor cores (%s, %s activations), K split in %d: partials of [%s,%lld] x "
                            "%s[%lld,%lld]^T%s */\n"
                            "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                            "%s    %s<%d, %lld, %lld, %lld, 0, 0, %d, %d, %s>((const uint16_t *)%s, %s, (const float *)0, "
                            "A(%lld), %s, (const float *)0);\n%s}\n",
                            tile, tname, wt.split, hrows, (long long)K, tname,
                            (long long)N, (long long)K, epi == 2 || epi == 4 ? " (gate/up interleaved by 8)" : "", pre, call,
                            bf, (long long)K, (long long)N, (long long)K, epi, wt.split, targs, tsrc, hsrc,
                            (long long)e->scratch_b, rows, post);
            const char *bk = llmc_cuda_kernel_nv(e, v ? "gemm_wg_splitk" : "gemm_wide_splitk", k.s, wt.smem);
            llmc_buf_free(&k);
            llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, vcond, 0), bk, gxs, gys, gzs, 128, wt.smem);
            emit_reduce(e, node, llmc_cuda_path_cond(e, vcond, 0), wt.split, hrows, rows, N, SY, SR, epi, what, bias, res, ys);
            continue;
        }
        llmc_buf_printf(&k,
                        "/* matmul, tensor cores (%s, %s activations): [%s,%lld] x %s[%lld,%lld]^T -> f32[%s,%lld]%s; "
                        "stride y %lld */\n"
                        "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "%s    %s<%d, %lld, %lld, %lld, %lld, %lld, %d, 1, %s>((const uint16_t *)%s, %s, %s, %s, %s, %s);\n%s}\n",
                        tile, tname, hrows, (long long)K, tname, (long long)N,
                        (long long)K, hrows, (long long)(swiglu ? N / 2 : N), what, (long long)SY, pre, call, bf,
                        (long long)K, (long long)N, (long long)K, (long long)SY, (long long)SR, epi, targs, tsrc, hsrc,
                        bias, ys, rows, res, post);
        const char *gk = llmc_cuda_kernel_nv(e, v ? "gemm_wg" : "gemm_wide", k.s, wt.smem);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, llmc_cuda_path_cond(e, vcond, 0), gk, gxs, gys, "1", 128, wt.smem);
    }
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}

LlmcStatus llmc_cuda_emit_embedding(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[0]];
    int y = n->out[0];
    int64_t D = w->shape.dim[1];
    char wtab[160], wq[256], gq[32] = "";
    snprintf(wtab, sizeof wtab, "%s", llmc_cuda_ptr(e, n->in[0], "const uint8_t"));
    const char *wk = llmc_kernel_wformat(e, w);
    int quant = llmc_format_n_sides(w->dtype) > 0;
    snprintf(wq, sizeof wq, "%s", llmc_cuda_wq(e, w, wtab));
    if (quant)
        snprintf(gq, sizeof gq, ", %lld", (long long)w->layout.group);
    /* A table sharded by rows (--tp): this rank's rows start at its part's first row, which
     * forward() computes from ex->rank (llmc_shard_view: part rank / shard_rep); other tokens
     * give zeros. */
    char part[96] = "", first[64] = "";
    if (w->src.shard == LLMC_SHARD_ROWS) {
        snprintf(part, sizeof part, "_part<%s, %lld, %lld, %lld", wk, (long long)D, (long long)llmc_row_stride(g, y),
                 (long long)w->shape.dim[0]);
        snprintf(first, sizeof first, ", %s", llmc_cuda_rank_first(e, w->shape.dim[0], w->src.shard_rep));
    }
    char yp[160];
    snprintf(yp, sizeof yp, "%s", llmc_cuda_ptr(e, y, "float"));
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* embedding: %s[%lld,%lld]%s rows gathered by the tokens -> f32[T,%lld] */\n"
                    "extern \"C\" __global__ void __launch_bounds__(256) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n",
                    llmc_dtype_name(w->dtype), (long long)w->shape.dim[0], (long long)D,
                    part[0] ? ", one rank's rows," : "", (long long)D);
    if (part[0])
        llmc_buf_printf(&k, "    embed%s%s>(%s, a.tokens, %s%s%s%s);\n}\n", part, gq, wtab, yp, first,
                        quant ? ", " : "", quant ? wq : "");
    else
        llmc_buf_printf(&k, "    embed<%s, %lld, %lld%s>(%s, a.tokens, %s%s%s);\n}\n", wk, (long long)D,
                        (long long)llmc_row_stride(g, y), gq, wtab, yp, quant ? ", " : "", quant ? wq : "");
    const char *name = llmc_cuda_kernel(e, "embedding", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, NULL, name, "T", "1", "1", 256, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
