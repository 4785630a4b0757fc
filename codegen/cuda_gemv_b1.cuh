/* cuda_gemv_b1.cuh — the one-row matmul of batch-1 decode steps (emitter: cuda_matmul.c), with
 * its fused epilogues, EPI 3 among them: RoPE and the KV write of a merged Q/K/V projection, when
 * fuse_rope_epilogue gave the matmul the rope_kv_write node's work for one-token steps.
 */
#ifndef LLMC_CUDA_GEMV_B1_CUH
#define LLMC_CUDA_GEMV_B1_CUH

#include "cuda_formats.cuh"
#include "cuda_rope.cuh"

/* ---- matmul, one row (batch-1 decode): y[n] = sum_k x[k] w[n, k] (+ b[n]) ----
 * A unit is a pair of weight rows (EPI 2: j and j + N/2, written as silu(row j) * row (j + N/2));
 * KS warps share a unit, each streaming a K slice; 4 warps a block. Each lane keeps U 16-byte loads
 * of both rows in flight and issues the next group before it multiplies the current one (two
 * register buffers). The first two groups are issued before pdl_wait (the whole slice where it is
 * two groups, as for a 1B's matrices): weights do not depend on the previous kernel, so under PDL
 * (the runtime launches this kernel early, LLMC_GPU_KERNEL_PDL) they stream while it drains (two
 * groups there rather than one: 1B 1107 -> 1130 tok/s, 8B 226 -> 230 on an H200). A bulk L2
 * prefetch of the rows there cost more than it gave (of every row of the 8B's matrices 225 -> 191
 * tok/s, of the 1B's matrices up to 16 MB 1080 -> 1055). NORM: x * nw in the products and
 * 1/rms(x) applied to the sums (block-wide, after the stream). EPI 1: y = res + x w^T.
 * Needs 16-byte aligned rows and K % (KS * 16 bytes of weights) == 0; WK: cuda_formats.cuh. Quantized
 * formats (WFmt<WK>::Q): rows in lane8 order, K slices of whole tiles, groups of G along K (QLane); each
 * slot's scales (and zeros) are fetched with it (more than 8 bytes of them: at its dot) and the
 * sums are qdot's, times the format's tensor scale (tscale: nvfp4's) before the reductions. */
/* The partial sum of one 16-byte load q of a row at element k: the dot with x (gemv's order). */
template <int WK>
DEV void gemv_b1_dot(const u4 &q, const float *__restrict__ x, const float *__restrict__ nw, int k, int norm,
                     float &acc)
{
    float f[WFmt<WK>::VE];
    unpack16<WK>(q, f);
    acc += wdot<0>(f, x + k, nw + k, norm);
}
/* EPI 3: the rows are a merged Q/K/V projection feeding rope_kv_write; its work is done here too
 * (the one token's position and slot): q rotated to ro.q1, k rotated and v to the cache (f16 keys
 * and values: fuse_rope_epilogue fuses only those), and the plain rows to y. A unit is then a RoPE pair of a q or k head
 * (i, i + HD/2, or 2i, 2i + 1 interleaved) or two v columns. */
struct RopeOut {
    const int32_t *pos, *slots;
    const float *cs; /* cs[p][i] = (cos, sin) */
    float *q1;
    uint8_t *kv;
    int layer;
};
/* The sums of weight rows n0 and n1 over x (a unit: live, else no loads), K slice ks of KS: each
 * lane's U 16-byte loads of both rows in flight, the first two groups issued before pdl_wait, the
 * rest as described above; every lane gets both sums (the warp's butterfly). gemv_b1's core, also
 * the MoE block's one-token kernels' (cuda_moe.cuh), so that both sum a row in the same order. */
template <int WK, int K, int NORM, int KS, int U, int G = K>
DEV void gemv_b1_rows(const void *__restrict__ wv, const float *__restrict__ x, const float *__restrict__ nw,
                      const WQ &wq, int n0, int n1, int ks, int live, float &a0, float &a1)
{
    constexpr int VE = WFmt<WK>::VE, QF = WFmt<WK>::Q; /* elements a load; quantized */
    using QL = QLane<WK, G>;
    static_assert(!QF || (K / KS) % QL::T == 0, "a quantized row's K slice must be whole lane8 tiles");
    constexpr int KSL = K / KS, NV = KSL / VE;      /* the slice, its 16-byte vectors */
    constexpr int NB = (NV + LLMC_WARP * U - 1) / (LLMC_WARP * U); /* groups of U loads a lane */
    static_assert(K % (KS * VE) == 0, "K slice not a whole number of 16-byte vectors");
    const int lane = threadIdx.x & (LLMC_WARP - 1);
    const char *w0 = (const char *)wv + WFmt<WK>::off((int64_t)n0 * K + ks * KSL);
    const char *w1 = (const char *)wv + WFmt<WK>::off((int64_t)n1 * K + ks * KSL);
    u4 qa[U][2], qb[U][2];
    QPar<WK, G> pa[U][2], pb[U][2]; /* quantized: the slots' scales and zeros */
    float ac[2][1] = {{0.0f}, {0.0f}}; /* quantized: the rows' sums (qdot's) */
#define LLMC_B1_LOAD(q, pp, g)                                                                                    \
    _Pragma("unroll") for (int u = 0; u < U; u++)                                                                  \
    {                                                                                                              \
        const int v = ((g) * U + u) * LLMC_WARP + lane;                                                            \
        if (live && v < NV) {                                                                                      \
            q[u][0] = ld16_stream(w0 + (int64_t)v * 16);                                                           \
            q[u][1] = ld16_stream(w1 + (int64_t)v * 16);                                                           \
            if constexpr (QF && sizeof(QPar<WK, G>) <= 8) { /* larger: fetched at the dot (registers) */       \
                qpar<WK, K, G>(wq, n0, ks * (KSL / VE) + v, pp[u][0]);                                             \
                qpar<WK, K, G>(wq, n1, ks * (KSL / VE) + v, pp[u][1]);                                             \
            }                                                                                                      \
        }                                                                                                          \
    }
#define LLMC_B1_DOT(q, pp, g)                                                                                     \
    _Pragma("unroll") for (int u = 0; u < U; u++)                                                                  \
    {                                                                                                              \
        const int v = ((g) * U + u) * LLMC_WARP + lane;                                                            \
        if (live && v < NV) {                                                                                      \
            if constexpr (QF) {                                                                                    \
                if constexpr (sizeof(QPar<WK, G>) > 8) {                                                           \
                    qpar<WK, K, G>(wq, n0, ks * (KSL / VE) + v, pp[u][0]);                                         \
                    qpar<WK, K, G>(wq, n1, ks * (KSL / VE) + v, pp[u][1]);                                         \
                }                                                                                                  \
                const int kq = ks * KSL + v / 8 * QL::T + 4 * (v % 8);                                             \
                qdot<WK, G, 2, 1, 0, NORM>(q[u], pp[u], x + kq, 0, 1, nw + kq, ac);                                \
            } else {                                                                                               \
                gemv_b1_dot<WK>(q[u][0], x, nw, ks * KSL + v * VE, NORM, a0);                                      \
                gemv_b1_dot<WK>(q[u][1], x, nw, ks * KSL + v * VE, NORM, a1);                                      \
            }                                                                                                      \
        }                                                                                                          \
    }
    LLMC_B1_LOAD(qa, pa, 0) /* both buffers' groups on their way before the wait */
    if (NB > 1)
        LLMC_B1_LOAD(qb, pb, 1)
    pdl_wait();
    a0 = 0.0f;
    a1 = 0.0f;
#pragma unroll
    for (int g = 0; g < NB; g += 2) {
        if (g > 0 && g + 1 < NB)
            LLMC_B1_LOAD(qb, pb, g + 1)
        LLMC_B1_DOT(qa, pa, g)
        if (g + 1 < NB) {
            if (g + 2 < NB)
                LLMC_B1_LOAD(qa, pa, g + 2)
            LLMC_B1_DOT(qb, pb, g + 1)
        }
    }
#undef LLMC_B1_LOAD
#undef LLMC_B1_DOT
    if constexpr (QF) {
        a0 = ac[0][0];
        a1 = ac[1][0];
        if constexpr (WFmt<WK>::TS) { /* nvfp4: its tensor scale on each lane's sums, as gemv does */
            const float ts = WFmt<WK>::tscale(wq);
            a0 *= ts;
            a1 *= ts;
        }
    }
    a0 = warp_sum(a0);
    a1 = warp_sum(a1);
}

/* The one-row matmul: a unit is two rows (EPI 2, 4: a gate row and its up row; EPI 3: a RoPE pair or
 * two v columns), KS warps a unit, each summing a K slice (gemv_b1_rows), 4 warps a block. */
template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int INTER = 0, int HQ = 1, int HKV = 1,
          int HD = 2, int L = 1, int BS = 1, int KV = FMT_F16, int G = K>
DEV void gemv_b1(const void *__restrict__ wv, const float *__restrict__ x, const float *__restrict__ b,
                 float *__restrict__ y, const float *__restrict__ nw, float eps, const float *__restrict__ res,
                 RopeOut ro = RopeOut{}, WQ wq = WQ{})
{
    constexpr int UNITS = epi_glu(EPI) ? N / 2 : (N + 1) / 2;
    pdl_release();
    const int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2, ks = warp % KS;
    const int unit = blockIdx.x * (4 / KS) + warp / KS;
    const int live = unit < UNITS;
    constexpr int QKP = (HQ + HKV) * HD / 2; /* EPI 3: units that are RoPE pairs */
    int n0, n1;
    if (EPI == 3) {
        const int hh = unit / (HD / 2), i = unit % (HD / 2);
        n0 = !live ? 0 : unit < QKP ? hh * HD + (INTER ? 2 * i : i) : 2 * QKP + 2 * (unit - QKP);
        n1 = !live ? 0 : unit < QKP ? n0 + (INTER ? 1 : HD / 2) : n0 + 1;
    } else {
        n0 = !live ? 0 : epi_glu(EPI) ? unit : 2 * unit;
        n1 = !live ? 0 : epi_glu(EPI) ? unit + N / 2 : (2 * unit + 1 < N ? 2 * unit + 1 : 2 * unit);
    }
    float a0, a1;
    gemv_b1_rows<WK, K, NORM, KS, U, G>(wv, x, nw, wq, n0, n1, ks, live, a0, a1);
    float inv = 1.0f;
    __shared__ float red[4];
    if (NORM) { /* 1/rms(x), block-wide, in gemv's order */
        float ss = 0.0f;
        for (int k = threadIdx.x; k < K; k += 128) {
            const float v = x[k];
            ss += v * v;
        }
        ss = warp_sum(ss);
        if (lane == 0)
            red[warp] = ss;
    }
    __shared__ float ksum[4][2];
    if (KS > 1 && lane == 0) {
        ksum[warp][0] = a0;
        ksum[warp][1] = a1;
    }
    if (NORM || KS > 1)
        __syncthreads();
    if (NORM)
        inv = 1.0f / sqrtf((red[0] + red[1] + red[2] + red[3]) / (float)K + eps);
    if (KS > 1) {
        if (ks != 0)
            return;
        a0 = 0.0f;
        a1 = 0.0f;
#pragma unroll
        for (int j = 0; j < KS; j++) { /* the slices in order */
            a0 += ksum[warp + j][0];
            a1 += ksum[warp + j][1];
        }
    }
    if (!live || lane != 0)
        return;
    const float v0 = a0 * inv + (b ? b[n0] : 0.0f), v1 = a1 * inv + (b ? b[n1] : 0.0f);
    if (epi_glu(EPI)) {
        y[n0] = glu_act<EPI>(v0) * v1;
    } else if constexpr (EPI == 3) {
        y[n0] = v0;
        y[n1] = v1;
        static_assert(KV == FMT_F16, "gemv_b1's KV write: an f16 cache (fuse_rope_epilogue fuses no other)");
        const int slot = ro.slots[0];
        const int64_t ph = (int64_t)(slot % BS) * HKV; /* the position's row of head 0 */
        uint16_t *kd = (uint16_t *)kv_sec<KV, KV, L, BS, HKV, HD>(ro.kv, slot / BS, ro.layer, 0) + ph * HD;
        uint16_t *vd = (uint16_t *)kv_sec<KV, KV, L, BS, HKV, HD>(ro.kv, slot / BS, ro.layer, 1) + ph * HD;
        if (unit >= QKP) { /* v columns */
            const int c = n0 - 2 * QKP;
            vd[c] = f32_to_f16(v0);
            vd[c + 1] = f32_to_f16(v1);
            return;
        }
        const int hh = unit / (HD / 2), i = unit % (HD / 2), i0 = n0 - hh * HD, i1 = n1 - hh * HD;
        const float *c = ro.cs + (int64_t)ro.pos[0] * HD;
        float r0, r1;
        rope_pair(v0, v1, c[2 * i], c[2 * i + 1], r0, r1);
        if (hh < HQ) {
            ro.q1[hh * HD + i0] = r0;
            ro.q1[hh * HD + i1] = r1;
        } else {
            kd[(hh - HQ) * HD + i0] = f32_to_f16(r0);
            kd[(hh - HQ) * HD + i1] = f32_to_f16(r1);
        }
    } else {
        y[n0] = (EPI == 1 ? res[n0] : 0.0f) + v0;
        if (n1 != n0)
            y[n1] = (EPI == 1 ? res[n1] : 0.0f) + v1;
    }
}

#endif
