/* cuda_moe.cuh — the mixture-of-experts block (emitter: cuda_moe.c). Steps of up to 8 rows run four
 * kernels: moe_route (one block: each token's experts and weights, the step's (token, slot) pairs
 * grouped by expert, the pairs' rows gathered expert by expert), the experts' gate/up matmul with
 * the SwiGLU epilogue and their down matmul (gemv, cuda_gemv.cuh, over one expert's rows and its
 * gathered tokens a block: grid z walks the experts the step uses, so a decode step reads the
 * selected experts' bytes only, and every token an expert has shares its read of them), and
 * moe_combine (each token's slots summed in slot order: deterministic, no atomics); one-token steps
 * where the rows are 16-byte vectors run two kernels instead (moe_up_b1 with the routing and the
 * gather in its prologue, moe_down_b1 with the combine in its epilogue; gemv_b1's sums: the same
 * bits). Wider steps
 * route without the gather, gather the rows with a block a row (moe_gather: f32, or bf16/f16 for
 * the tensor cores), and, where the experts are bf16/f16, run the matmuls as gemm_h (cuda_mma.cuh)
 * over each expert's grouped rows, grid z over the experts (moe_expert_mma: one launch for all the
 * experts, an expert's weights read once for every 64 of its rows; on the AMD path moe_expert_mx,
 * gemm_mx over the same rows), the activations converted to bf16/f16 between them (rows_to_half);
 * other formats keep gemv.
 *
 * The scratch (MoeLayout, the emitter's offsets): ints n_active, cnt[E], off[E+1], act[E] (the
 * experts the step uses, in order), ids[TK] (each pair's expert), pos[TK] (each pair's row among
 * the grouped ones), tok[TK] (each grouped row's token); floats wts[TK], then the grouped rows
 * xg[TK][D] (f32, or bf16/f16 for the tensor cores), their activations h[TK][F] (and hh[TK][F] in
 * bf16/f16), their outputs o[TK][D]; TK = the most rows a step has times top_k (one-token steps use
 * h alone: h[slot][F]). The cpu target's
 * c_prelude.h moe_* is the reference: the same routing (softmax, top_k by probability with ties to
 * the lower expert, renormalized with NORM), the same grouping.
 */
#ifndef LLMC_CUDA_MOE_CUH
#define LLMC_CUDA_MOE_CUH

#include "cuda_gemv.cuh"
#include "cuda_gemv_b1.cuh"
#include "cuda_mma.cuh"
#include "cuda_mx.cuh"

/* Gathers row xr (D values) into dst, RMS-normed with nw, eps when nw is given (else copied), by
 * NT threads (threadIdx.x % NT: a group of whole warps, NT a divisor of MOE_TPP) that all take part,
 * in the order of MOE_TPP threads: thread i of the group plays threads i, i + NT, ... of MOE_TPP and
 * holds their values d, d + MOE_TPP, ... and, for rows up to 4096, their norm weights in registers
 * (every load of the row in flight at once),
 * the sum of squares reduced as block_sum reduces 256 threads (a warp's butterfly, then the group's
 * warps in order): moe_route's gather (small steps), moe_gather (wider ones) and moe_up_b1 (one
 * token, 128 threads) give the same bits. red: MOE_TPP / LLMC_WARP floats of shared memory for the
 * group; put(d, v) stores value d. */
#define MOE_TPP 256
template <int D, int NT = MOE_TPP, class Put>
DEV void moe_row_gather(const float *__restrict__ xr, bool live, const float *__restrict__ nw, float eps,
                        float *red, Put put)
{
    constexpr int V = (D + MOE_TPP - 1) / MOE_TPP, NWG = MOE_TPP / LLMC_WARP, R = MOE_TPP / NT;
    static_assert(MOE_TPP % NT == 0 && NT % LLMC_WARP == 0, "moe: a gather's group is whole warps dividing MOE_TPP");
    static_assert(V <= 32, "moe: rows of at most 8192 values (32 registers a thread of MOE_TPP)");
    const int i = threadIdx.x % NT, lane = threadIdx.x & (LLMC_WARP - 1);
    constexpr int PRE = V <= 16; /* the norm weights loaded with the values (one memory latency), rows up to 4096 */
    float v[R][V], g[R][PRE ? V : 1], ss[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        ss[r] = 0.0f;
#pragma unroll
        for (int j = 0; j < V; j++) {
            const int d = i + r * NT + j * MOE_TPP;
            v[r][j] = live && d < D ? xr[d] : 0.0f;
            if (PRE)
                g[r][PRE ? j : 0] = nw && live && d < D ? nw[d] : 0.0f;
            ss[r] += v[r][j] * v[r][j];
        }
    }
    float inv = 1.0f;
    if (nw) {
#pragma unroll
        for (int r = 0; r < R; r++) {
            const float s = warp_sum(ss[r]);
            if (lane == 0)
                red[(i + r * NT) >> LLMC_WARP_LOG2] = s;
        }
        __syncthreads();
        inv = 1.0f / sqrtf(warp_sum(lane < NWG ? red[lane] : 0.0f) / (float)D + eps);
        __syncthreads(); /* red is read by every lane before the next row's writes */
    }
    if (!live)
        return;
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int j = 0; j < V; j++) {
            const int d = i + r * NT + j * MOE_TPP;
            if (d < D)
                put(d, nw ? (PRE ? g[r][PRE ? j : 0] : nw[d]) * (v[r][j] * inv) : v[r][j]);
        }
}

/* A token's routing by one warp (all lanes take part), in two steps so that a kernel can issue
 * other loads between them: moe_logits loads its E router logits lr (lane + LLMC_WARP j: v[j],
 * -inf past E; CG: through L2 only, for logits another kernel may have written while this one
 * ran), moe_topk takes their softmax and the top K by probability (ties to the lower expert; NaN
 * logits last, yet valid), renormalized with NORM: lane k < K gets slot k's expert se and weight
 * sw. A round of the top K is the lane's best untaken candidate, then the warp's largest
 * probability and the lowest expert offering it (two reductions: redux.sync on NVIDIA). moe_route
 * and the one-token kernels route with these: the same bits. */
static __host__ __device__ constexpr int moe_pe(int E) { return (E + LLMC_WARP - 1) / LLMC_WARP; } /* experts a lane */
template <int E, int CG = 0>
DEV void moe_logits(const float *__restrict__ lr, int lane, float (&v)[moe_pe(E)])
{
#pragma unroll
    for (int j = 0; j < moe_pe(E); j++) {
        const int e = lane + LLMC_WARP * j;
        v[j] = e >= E ? -INFINITY : CG ? __uint_as_float(ld4_cg(lr + e)) : lr[e];
    }
}
/* A float's bits as an unsigned key of the same order (-0 below +0; no NaN), and back. */
DEV uint32_t moe_fkey(float f)
{
    const uint32_t u = __float_as_uint(f);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}
DEV float moe_fval(uint32_t k) { return __uint_as_float(k & 0x80000000u ? k & 0x7fffffffu : ~k); }
template <int E, int K, int NORM>
DEV void moe_topk(const float (&v)[moe_pe(E)], int lane, int &se, float &sw)
{
    constexpr int PE = moe_pe(E);
    static_assert(E <= 1024 && K <= LLMC_WARP, "moe: at most 1024 experts, top k at most a warp's lanes");
    float mx = -INFINITY;
#pragma unroll
    for (int j = 0; j < PE; j++)
        mx = fmaxf(mx, v[j]);
#pragma unroll
    for (int o = LLMC_WARP / 2; o > 0; o >>= 1)
        mx = fmaxf(mx, shfl_xor(mx, o));
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < PE; j++)
        sum += lane + LLMC_WARP * j < E ? expf(v[j] - mx) : 0.0f;
    sum = warp_sum(sum);
    float p[PE];
#pragma unroll
    for (int j = 0; j < PE; j++) {
        const float q = expf(v[j] - mx) / sum;
        p[j] = q == q ? q : -1.0f; /* NaN logits: last, yet valid */
    }
    uint32_t taken = 0;
    float tot = 0.0f;
    se = E;
    sw = 0.0f;
    for (int k = 0; k < K; k++) {
        float bp = -2.0f; /* below any candidate: a lane with none left offers (-2, E) */
        int be = E;
#pragma unroll
        for (int j = 0; j < PE; j++) {
            const int e = lane + LLMC_WARP * j;
            if (e < E && !(taken >> j & 1u) && p[j] > bp) {
                bp = p[j];
                be = e;
            }
        }
        const uint32_t mk = warp_max_u32(moe_fkey(bp));
        be = warp_min_i32(moe_fkey(bp) == mk ? be : E);
        bp = moe_fval(mk);
        if ((be & (LLMC_WARP - 1)) == lane)
            taken |= 1u << (be / LLMC_WARP);
        if (lane == k) {
            se = be;
            sw = bp;
        }
        tot += bp;
    }
    if (NORM && lane < K)
        sw /= tot;
}

/* Inclusive scans of a and b over the warp's lanes (lane i: the sums over lanes 0..i; all take part). */
DEV void moe_warp_scan2(int &a, int &b, int lane)
{
#pragma unroll
    for (int o = 1; o < LLMC_WARP; o <<= 1) {
        const int src = lane >= o ? lane - o : lane;
        const int pa = shfl_idx(a, src), pb = shfl_idx(b, src);
        if (lane >= o) {
            a += pa;
            b += pb;
        }
    }
}

/* Routing and grouping (grid 1, blockDim a multiple of the warp): lg [T][SL] router logits, x
 * [T][SX] the block's input (RMS-normed with nw, eps as it is gathered when nw is given: the
 * fusion of the norm before the block); E experts, K a token. GATHER: the grouped rows to xg here
 * (else moe_gather does it). */
template <int E, int K, int NORM, int D, int SX, int SL, int TKM, int GATHER = 1>
DEV void moe_route(const float *__restrict__ lg, const float *__restrict__ x, int T, int *__restrict__ meta,
                   float *__restrict__ wts, float *__restrict__ xg, const float *__restrict__ nw = 0,
                   float eps = 0.0f)
{
    static_assert(E <= 1024, "moe_route: at most 1024 experts (a thread an expert; launched with 1024 threads)");
    __shared__ int scnt[E], soff[E], wsc[LLMC_WARP], wsf[LLMC_WARP];
    __shared__ float red[1024 / LLMC_WARP];
    int *cnt = meta + 1, *off = cnt + E, *act = off + E + 1, *ids = act + E, *pos = ids + TKM, *tok = pos + TKM;
    const int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2;
    const int warps = blockDim.x >> LLMC_WARP_LOG2, TK = T * K;
    /* 1. a warp a token: softmax, then top K (moe_topk) */
    for (int t = warp; t < T; t += warps) {
        float v[moe_pe(E)];
        moe_logits<E>(lg + (int64_t)t * SL, lane, v);
        int se;
        float sw;
        moe_topk<E, K, NORM>(v, lane, se, sw);
        if (lane < K) {
            ids[t * K + lane] = se;
            wts[t * K + lane] = sw;
        }
    }
    __syncthreads();
    /* 2. a warp an expert: its pairs counted */
    for (int e = warp; e < E; e += warps) {
        int c = 0;
        for (int j0 = 0; j0 < TK; j0 += LLMC_WARP)
            c += __popc(warp_ballot(j0 + lane < TK && ids[j0 + lane] == e));
        if (lane == 0)
            scnt[e] = c;
    }
    __syncthreads();
    /* 3. offsets and the experts in use: exclusive scans of the counts and of their non-zero flags
     * over the block (a thread an expert; serial on one thread this was most of the kernel: a
     * dependent global load an expert) */
    {
        const int e = threadIdx.x, c = e < E ? scnt[e] : 0, f = c > 0;
        int ic = c, jf = f;
        moe_warp_scan2(ic, jf, lane); /* inclusive within the warp */
        if (lane == LLMC_WARP - 1) {
            wsc[warp] = ic;
            wsf[warp] = jf;
        }
        __syncthreads();
        if (warp == 0) { /* the warps' totals, inclusive */
            int a = lane < warps ? wsc[lane] : 0, b = lane < warps ? wsf[lane] : 0;
            moe_warp_scan2(a, b, lane);
            wsc[lane] = a;
            wsf[lane] = b;
        }
        __syncthreads();
        const int xc = (warp ? wsc[warp - 1] : 0) + ic - c, xf = (warp ? wsf[warp - 1] : 0) + jf - f;
        if (e < E) {
            soff[e] = xc;
            cnt[e] = c;
            off[e] = xc;
            if (f)
                act[xf] = e;
        }
        if (e == E - 1) {
            off[E] = xc + c;
            meta[0] = xf + f;
        }
    }
    __syncthreads();
    /* 4. a warp an expert: its pairs' rows, in pair order */
    for (int e = warp; e < E; e += warps) {
        int base = soff[e];
        for (int j0 = 0; j0 < TK; j0 += LLMC_WARP) {
            const int j = j0 + lane, m = j < TK && ids[j] == e;
            const uint32_t b = warp_ballot(m);
            if (m) {
                const int p = base + __popc(b & ((1u << lane) - 1u));
                pos[j] = p;
                tok[p] = j / K;
            }
            base += __popc(b);
        }
    }
    if (!GATHER)
        return;
    __syncthreads();
    /* 5. the grouped rows gathered, MOE_TPP threads a row (blockDim.x / MOE_TPP rows at once) */
    const int rpp = blockDim.x / MOE_TPP, r = threadIdx.x / MOE_TPP;
    for (int p0 = 0; p0 < TK; p0 += rpp) {
        const int p = p0 + r, live = p < TK;
        float *dst = xg + (int64_t)(live ? p : 0) * D;
        moe_row_gather<D>(x + (int64_t)(live ? tok[p] : 0) * SX, live, nw, eps, red + r * (MOE_TPP / LLMC_WARP),
                          [&](int d, float v) { dst[d] = v; });
    }
}

/* Each side tensor's bytes an expert (a quantized weight's scales, zeros: WQ's order), so that
 * expert e's sides start e times further. */
struct MoeSides {
    int64_t b[4];
};

/* Expert e's side tensors (its scales and zeros): each of wq's, ss.b[i] bytes further an expert. */
DEV WQ moe_expert_sides(const WQ &wq, const MoeSides &ss, int e)
{
    WQ we;
#pragma unroll
    for (int i = 0; i < 4; i++)
        we.side[i] = wq.side[i] ? (const void *)((const char *)wq.side[i] + e * ss.b[i]) : wq.side[i];
    return we;
}

/* The experts' matmul (gate/up with the SwiGLU epilogue: EPI 2, N = 2F; down: EPI 0, N = D) over
 * expert act[blockIdx.z]'s rows of w (EB bytes an expert; its side tensors ss further an expert)
 * for its grouped rows x[off..off+cnt) -> y (same rows). */
template <int WK, int K, int N, int VEC, int EPI, int G, int ORD, int E, int64_t EB>
DEV void moe_expert_mm(const int *__restrict__ meta, const void *__restrict__ w, WQ wq, MoeSides ss,
                       const float *__restrict__ x, float *__restrict__ y)
{
    const int *cnt = meta + 1, *off = cnt + E, *act = off + E + 1;
    if ((int)blockIdx.z >= meta[0])
        return;
    const int e = act[blockIdx.z], c = cnt[e], o = off[e];
    if ((int)blockIdx.y * 8 >= c)
        return;
    constexpr int NO = epi_glu(EPI) ? N / 2 : N;
    const WQ we = moe_expert_sides(wq, ss, e);
    gemv<WK, K, N, K, NO, VEC, 0, EPI, 0, 2, 1, G, ORD>((const char *)w + e * EB, x + (int64_t)o * K, 0,
                                                         y + (int64_t)o * NO, c, 0, 0.0f, 0, we);
}

/* ---- one-token steps (where the expert matrices go by 16-byte vectors): two kernels ----
 * moe_up_b1: every block routes the token itself (moe_topk: each warp, the logits from L2) and
 * gathers its row into shared memory (moe_row_gather, RMS-normed where the layer's norm is fused:
 * 128 threads in the order of 256, so the bits of moe_route's gather), then runs gemv_b1's gate/up
 * matmul with the SwiGLU epilogue (grid x: 4 units a block, as gemv_b1; grid z: the token's K slots)
 * over its slot's expert, writing h[slot][F]. No routing kernel, no gathered rows in memory.
 * moe_down_b1: a block's warps are its units' K slots (warp w: slot w % K of unit w / K, UB units a
 * block); each routes the token again, streams its expert's two rows of the down matrix
 * (gemv_b1_rows: the same sums as gemv_b1 and gemv), and the block sums its columns over the slots
 * in slot order, weighted, the residual added: moe_combine's arithmetic in its epilogue, no atomics.
 * So a one-token step gives the bits of moe_route + gemv + moe_combine at one row.
 * Both are launched under PDL (LLMC_GPU_KERNEL_PDL). moe_up_b1 waits first (the router's logits and
 * the block's input are the kernels' before), then lets moe_down_b1 start: every one of its blocks
 * has then passed its wait, so the router kernel is complete and moe_down_b1 may route from the
 * logits (through L2) before its own wait and have its expert's first weight loads in flight while
 * moe_up_b1 drains; it waits (in gemv_b1_rows) before it reads h, and writes only after. */
template <int WK, int E, int K, int NORM, int D, int N, int U, int G, int64_t EB>
DEV void moe_up_b1(const float *__restrict__ lg, const float *__restrict__ x, const float *__restrict__ nw, float eps,
                   const void *__restrict__ w, WQ wq, MoeSides ss, float *__restrict__ h)
{
    __shared__ __align__(16) float xs[D];
    __shared__ float red[MOE_TPP / LLMC_WARP];
    const int lane = threadIdx.x & (LLMC_WARP - 1);
    pdl_wait();    /* the router's logits, the block's input */
    pdl_release(); /* past the wait: moe_down_b1 may route from the logits (see above) */
    float v[moe_pe(E)];
    moe_logits<E, 1>(lg, lane, v); /* in flight with the row's loads */
    moe_row_gather<D, 128>(x, true, nw, eps, red, [&](int d, float y) { xs[d] = y; }); /* 128 threads */
    __syncthreads();
    int se;
    float sw;
    moe_topk<E, K, NORM>(v, lane, se, sw);
    const int e = shfl_idx(se, (int)blockIdx.z);
    gemv_b1<WK, D, N, 0, 2, 1, U, 0, 1, 1, 2, 1, 1, FMT_F16, G>((const char *)w + e * EB, xs, (const float *)0,
                                                                h + (int64_t)blockIdx.z * (N / 2), (const float *)0,
                                                                0.0f, (const float *)0, RopeOut{},
                                                                moe_expert_sides(wq, ss, e));
}
/* y[c] = sum over the slots k of wts[k] (expert k's down row c . h[k]) (+ res[c]); launched with
 * K UB warps a block, grid ceil(ceil(D / 2) / UB). */
template <int WK, int E, int K, int NORM, int F, int D, int U, int G, int64_t EB, int UB>
DEV void moe_down_b1(const float *__restrict__ lg, const void *__restrict__ w, WQ wq, MoeSides ss,
                     const float *__restrict__ h, float *__restrict__ y, const float *__restrict__ res)
{
    constexpr int UNITS = (D + 1) / 2;
    __shared__ float os[K][2 * UB];
    pdl_release(); /* the next kernel may start loading its weights */
    const int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2, s = warp % K,
              ub = warp / K, unit = blockIdx.x * UB + ub, live = unit < UNITS;
    float v[moe_pe(E)];
    moe_logits<E, 1>(lg, lane, v); /* before the wait: see above */
    int se;
    float sw;
    moe_topk<E, K, NORM>(v, lane, se, sw);
    const int e = shfl_idx(se, s);
    const int n0 = live ? 2 * unit : 0, n1 = live ? (2 * unit + 1 < D ? 2 * unit + 1 : 2 * unit) : 0;
    float a0, a1;
    gemv_b1_rows<WK, F, 0, 1, U, G>((const char *)w + e * EB, h + (int64_t)s * F, (const float *)0,
                                    moe_expert_sides(wq, ss, e), n0, n1, 0, live, a0, a1); /* waits */
    if (lane == 0) { /* gemv_b1's EPI 0 values: 0 + (a 1 + 0) */
        os[s][2 * ub] = 0.0f + (a0 * 1.0f + 0.0f);
        os[s][2 * ub + 1] = 0.0f + (a1 * 1.0f + 0.0f);
    }
    __syncthreads();
    if (warp != 0)
        return;
    const int c = lane < 2 * UB ? lane : 0, col = blockIdx.x * UB * 2 + c;
    float acc = 0.0f;
#pragma unroll
    for (int k = 0; k < K; k++) /* moe_combine's sum, in slot order */
        acc += shfl_idx(sw, k) * os[k][c];
    if (lane < 2 * UB && col < D)
        y[col] = res ? acc + res[col] : acc;
}

/* The grouped rows gathered after moe_route (wider steps; grid: the T K grouped rows): row p of xg
 * is x's row tok[p] (RMS-normed with nw, eps when given), f32 (HALF 0) or converted to bf16 (HALF 1)
 * or f16 (HALF 2). */
template <int HALF, int D, int SX, int E, int TKM>
DEV void moe_gather(const int *__restrict__ meta, const float *__restrict__ x, void *__restrict__ xg,
                    const float *__restrict__ nw = 0, float eps = 0.0f)
{
    __shared__ float red[MOE_TPP / LLMC_WARP];
    const int *tok = meta + 1 + E + E + 1 + E + 2 * TKM;
    const int64_t p = blockIdx.x; /* launched with MOE_TPP threads */
    moe_row_gather<D>(x + (int64_t)tok[p] * SX, true, nw, eps, red, [&](int d, float v) {
        if (HALF)
            ((uint16_t *)xg)[p * D + d] = HALF == 1 ? f32_to_bf16(v) : f32_to_f16(v);
        else
            ((float *)xg)[p * D + d] = v;
    });
}

#if LLMC_PTX /* gemm_h: NVIDIA only */
/* The experts' matmul on tensor cores (wider steps, bf16/f16 weights; BF: bf16): gemm_h over
 * expert act[blockIdx.z]'s rows of w (N rows of K an expert) for its grouped rows xh[off..off+cnt)
 * (bf16/f16) -> y, f32 (EPI 2: gate/up with the SwiGLU epilogue, y N/2 wide; EPI 0: down). Grid:
 * (row tiles of BM of the most rows an expert may have, column tiles of BN, the step's experts);
 * dynamic shared memory ST (BM + BN) 40 halves. */
template <int BF, int K, int N, int EPI, int BM, int BN, int ST, int E>
DEV void moe_expert_mma(const int *__restrict__ meta, const uint16_t *__restrict__ w, const uint16_t *__restrict__ xh,
                        float *__restrict__ y)
{
    const int *cnt = meta + 1, *off = cnt + E, *act = off + E + 1;
    if ((int)blockIdx.z >= meta[0])
        return;
    const int e = act[blockIdx.z], c = cnt[e], o = off[e];
    if ((int)blockIdx.x * BM >= c)
        return;
    constexpr int NO = epi_glu(EPI) ? N / 2 : N;
    gemm_h<BF, K, N, K, NO, 0, EPI, 1, BM, BN, 2, 2, ST>(w + (int64_t)e * N * K, xh + (int64_t)o * K, 0,
                                                         y + (int64_t)o * NO, c, 0);
}
#endif

/* The same on the AMD path's matrix cores: gemm_mx (cuda_mx.cuh: WMMA, MFMA or FMAs by the image;
 * 64x64 tiles on 256 threads) over expert act[blockIdx.z]'s rows of w for its grouped rows. Grid:
 * (row tiles of 64 of the most rows an expert may have, gemm_mx's column tiles, the step's experts). */
template <int BF, int K, int N, int EPI, int E, int MX = LLMC_MX>
DEV void moe_expert_mx(const int *__restrict__ meta, const uint16_t *__restrict__ w, const uint16_t *__restrict__ xh,
                       float *__restrict__ y)
{
    const int *cnt = meta + 1, *off = cnt + E, *act = off + E + 1;
    if ((int)blockIdx.z >= meta[0])
        return;
    const int e = act[blockIdx.z], c = cnt[e], o = off[e];
    if ((int)blockIdx.x * 64 >= c)
        return;
    constexpr int NO = EPI == 2 ? N / 2 : N;
    gemm_mx<BF, K, N, NO, 0, EPI, MX>(w + (int64_t)e * N * K, xh + (int64_t)o * K, 0, y + (int64_t)o * NO, c, 0);
}

/* y[t] = sum over k of wts[t][k] o[pos[t][k]] (+ res[t], the residual add's fusion; grid: the
 * tokens, and the columns in gridDim.y slices: a decode step's one token spread over as many blocks,
 * each thread's K loads in flight at once). */
template <int E, int K, int D, int SY, int TKM, int SR = 0>
DEV void moe_combine(const int *__restrict__ meta, const float *__restrict__ wts, const float *__restrict__ o,
                     float *__restrict__ y, const float *__restrict__ res = 0)
{
    const int *pos = meta + 1 + E + E + 1 + E + TKM;
    const int t = blockIdx.x;
    for (int c = blockIdx.y * blockDim.x + threadIdx.x; c < D; c += blockDim.x * gridDim.y) {
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < K; k++)
            acc += wts[t * K + k] * o[(int64_t)pos[t * K + k] * D + c];
        y[(int64_t)t * SY + c] = res ? acc + res[(int64_t)t * SR + c] : acc;
    }
}

#endif
