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

/* ---- gemv_b1's R and XF options (quantized rows; bench/b1_lab.cu measures them, issue 10) ----
 * R rows a lane (R/2 of each half of a unit: rows n0 .. n0 + R/2 - 1 and n1 .. n1 + R/2 - 1), so a
 * chunk of x (and nw) read from L1 serves R rows' 16-byte loads, not 2; the activation in form XF
 * (xchunk): 0 x f32 times nw in the products (gemv_b1's), 1 x * nw made beforehand (b1_prenorm, f32:
 * the same products) with 1/rms read from rinv, 2 f16 (b1_prenorm: x * nw / rms rounded once, or x;
 * f32 products and sums). Each row's sums are gemv_b1_rows's (the same slots a lane in the same
 * order, qdot_rows's arithmetic): bit for bit with XF 0 and 1. ROLL: the groups of loads in a loop
 * (gemv_b1_rows: unrolled, and ptxas issues later groups early, 150-255 registers unbounded for the
 * 8B's matrices at R 4 and 8, spilling under bounds), so that only two groups are in flight. */
template <int WK, int K, int NORM, int KS, int U, int G, int R, int XF, int ROLL>
DEV void gemv_b1_rows_r(const void *__restrict__ wv, const void *x, const float *__restrict__ nw,
                        const WQ &wq, int n0, int n1, int ks, int live, float (&a)[R])
{
    constexpr int VE = WFmt<WK>::VE, H = R / 2, XB = XF == 2 ? 2 : 4; /* elements a load; bytes a value of x */
    using QL = QLane<WK, G>;
    static_assert(WFmt<WK>::Q && R >= 2 && R % 2 == 0, "gemv_b1's R rows: quantized formats, an even R");
    static_assert((K / KS) % QL::T == 0, "a quantized row's K slice must be whole lane8 tiles");
    constexpr int KSL = K / KS, NV = KSL / VE;
    constexpr int NB = (NV + LLMC_WARP * U - 1) / (LLMC_WARP * U);
    constexpr int64_t RB = (int64_t)K / VE * 16; /* bytes a row */
    const int lane = threadIdx.x & (LLMC_WARP - 1);
    const char *w0 = (const char *)wv + WFmt<WK>::off((int64_t)n0 * K + ks * KSL);
    const char *w1 = (const char *)wv + WFmt<WK>::off((int64_t)n1 * K + ks * KSL);
    u4 qa[U][R], qb[U][R];
    QPar<WK, G> pa[U][R], pb[U][R];
    float ac[R];
#pragma unroll
    for (int r = 0; r < R; r++)
        ac[r] = 0.0f;
#define LLMC_B1R_ROW(r) ((r) < H ? n0 + (r) : n1 + (r) - H)
#define LLMC_B1R_LOAD(q, pp, g)                                                                                   \
    _Pragma("unroll") for (int u = 0; u < U; u++)                                                                  \
    {                                                                                                              \
        const int v = ((g) * U + u) * LLMC_WARP + lane;                                                            \
        if (live && v < NV) {                                                                                      \
            _Pragma("unroll") for (int r = 0; r < R; r++)                                                          \
            {                                                                                                      \
                q[u][r] = ld16_stream((r < H ? w0 + r * RB : w1 + (r - H) * RB) + (int64_t)v * 16);              \
                if constexpr (sizeof(QPar<WK, G>) <= 8)                                                            \
                    qpar<WK, K, G>(wq, LLMC_B1R_ROW(r), ks * (KSL / VE) + v, pp[u][r]);                            \
            }                                                                                                      \
        }                                                                                                          \
    }
#define LLMC_B1R_DOT(q, pp, g)                                                                                    \
    _Pragma("unroll") for (int u = 0; u < U; u++)                                                                  \
    {                                                                                                              \
        const int v = ((g) * U + u) * LLMC_WARP + lane;                                                            \
        if (live && v < NV) {                                                                                      \
            if constexpr (sizeof(QPar<WK, G>) > 8) {                                                               \
                _Pragma("unroll") for (int r = 0; r < R; r++)                                                      \
                    qpar<WK, K, G>(wq, LLMC_B1R_ROW(r), ks * (KSL / VE) + v, pp[u][r]);                            \
            }                                                                                                      \
            const int kq = ks * KSL + v / 8 * QL::T + 4 * (v % 8);                                                 \
            qdot_rows<WK, G, R, XF, NORM>(q[u], pp[u], (const char *)x + (int64_t)kq * XB, nw + kq, ac);           \
        }                                                                                                          \
    }
#define LLMC_B1R_STEP                                                                                             \
    {                                                                                                              \
        if (g > 0 && g + 1 < NB)                                                                                   \
            LLMC_B1R_LOAD(qb, pb, g + 1)                                                                           \
        LLMC_B1R_DOT(qa, pa, g)                                                                                    \
        if (g + 1 < NB) {                                                                                          \
            if (g + 2 < NB)                                                                                        \
                LLMC_B1R_LOAD(qa, pa, g + 2)                                                                       \
            LLMC_B1R_DOT(qb, pb, g + 1)                                                                            \
        }                                                                                                          \
    }
    LLMC_B1R_LOAD(qa, pa, 0)
    if (NB > 1)
        LLMC_B1R_LOAD(qb, pb, 1)
    pdl_wait();
    if constexpr (ROLL) { /* a loop: no more than the two groups' loads in flight (registers) */
#pragma unroll 1
        for (int g = 0; g < NB; g += 2)
            LLMC_B1R_STEP
    } else { /* unrolled: ptxas may issue later groups' loads early */
#pragma unroll
        for (int g = 0; g < NB; g += 2)
            LLMC_B1R_STEP
    }
#undef LLMC_B1R_STEP
#undef LLMC_B1R_ROW
#undef LLMC_B1R_LOAD
#undef LLMC_B1R_DOT
#pragma unroll
    for (int r = 0; r < R; r++) {
        a[r] = ac[r];
        if constexpr (WFmt<WK>::TS)
            a[r] *= WFmt<WK>::tscale(wq);
        a[r] = warp_sum(a[r]);
    }
}
/* gemv_b1 with the R and XF options (EPI 0, 1, 2, 4; no RoPE epilogue): a unit is R rows (EPI 2, 4:
 * gate rows R/2 u .. R/2 u + R/2 - 1 and their up rows; else rows R u .. R u + R - 1); xa the
 * activation in form XF (XF 1, 2; x is then unused but where NORM and XF 0), rinv 1/rms(x) where
 * NORM and XF 1 (b1_prenorm's), yh: where set, y also as f16 (the next matmul's XF 2 activation).
 * No __restrict__ on the activations: with it nvcc 13 read x, xa and res through ld.global.nc,
 * which under PDL the previous kernel writes while this one runs (gemv_b1's loads are plain). */
template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int G, int R, int XF, int ROLL>
DEV void gemv_b1x(const void *wv, const float *x, const void *xa, const float *b, float *y, uint16_t *yh,
                  const float *nw, const float *rinv, float eps, const float *res, const WQ &wq)
{
    constexpr int H = R / 2, UNITS = epi_glu(EPI) ? N / 2 / H : N / R;
    static_assert(EPI != 3, "gemv_b1's R and XF options: no RoPE epilogue");
    static_assert(epi_glu(EPI) ? (N / 2) % H == 0 : N % R == 0, "gemv_b1's R rows: whole units");
    static_assert(XF == 0 || XF == 2 || NORM, "XF 1 is x * nw: a matmul with the norm prologue");
    pdl_release();
    const int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2, ks = warp % KS;
    const int unit = blockIdx.x * (4 / KS) + warp / KS;
    const int live = unit < UNITS;
    const int n0 = !live ? 0 : epi_glu(EPI) ? unit * H : unit * R;
    const int n1 = !live ? 0 : epi_glu(EPI) ? unit * H + N / 2 : unit * R + H;
    float a[R];
    gemv_b1_rows_r<WK, K, NORM, KS, U, G, R, XF, ROLL>(wv, XF ? xa : (const void *)x, nw, wq, n0, n1, ks, live, a);
    float inv = 1.0f;
    __shared__ float red[4];
    if (NORM && XF == 0) { /* 1/rms(x), block-wide, in gemv's order */
        float ss = 0.0f;
        for (int k = threadIdx.x; k < K; k += 128) {
            const float v = x[k];
            ss += v * v;
        }
        ss = warp_sum(ss);
        if (lane == 0)
            red[warp] = ss;
    }
    __shared__ float ksum[4][R];
    if (KS > 1 && lane == 0) {
#pragma unroll
        for (int r = 0; r < R; r++)
            ksum[warp][r] = a[r];
    }
    if ((NORM && XF == 0) || KS > 1)
        __syncthreads();
    if (NORM && XF == 0)
        inv = 1.0f / sqrtf((red[0] + red[1] + red[2] + red[3]) / (float)K + eps);
    if (NORM && XF == 1)
        inv = rinv[0];
    if (KS > 1) {
        if (ks != 0)
            return;
#pragma unroll
        for (int r = 0; r < R; r++) {
            a[r] = 0.0f;
#pragma unroll
            for (int j = 0; j < KS; j++) /* the slices in order */
                a[r] += ksum[warp + j][r];
        }
    }
    if (!live || lane != 0)
        return;
#pragma unroll
    for (int i = 0; i < (epi_glu(EPI) ? H : R); i++) {
        const int n = i < H ? n0 + i : n1 + i - H;
        const float v = a[i] * inv + (b ? b[n] : 0.0f);
        float o;
        if constexpr (epi_glu(EPI)) {
            const int m = n1 + i;
            o = glu_act<EPI>(v) * (a[H + i] * inv + (b ? b[m] : 0.0f));
        } else {
            o = (EPI == 1 ? res[n] : 0.0f) + v;
        }
        y[n] = o;
        if (yh)
            yh[n] = f32_to_f16(o);
    }
}
/* A one-row matmul's activation in form XF for gemv_b1x (bench/b1_lab.cu launches it before the
 * matmul; an emitter taking XF 1 or 2 would have the producer write it): XF 1 xa = x * nw (f32, the
 * products gemv_b1 makes) and rinv[0] = 1/rms(x) where NORM; XF 2 xa = f16(x * nw * 1/rms(x)) where
 * NORM, else f16(x). Blocks of 128 threads, a slice of K each (grid-stride); each block's 1/rms in
 * gemv_b1's order (the same bits). */
template <int K, int NORM, int XF>
DEV void b1_prenorm(const float *x, const float *nw, float eps, void *xa, float *rinv)
{
    pdl_release();
    pdl_wait();
    float inv = 1.0f;
    if (NORM) {
        __shared__ float red[4];
        const int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2;
        float ss = 0.0f;
        for (int k = threadIdx.x; k < K; k += 128) {
            const float v = x[k];
            ss += v * v;
        }
        ss = warp_sum(ss);
        if (lane == 0)
            red[warp] = ss;
        __syncthreads();
        inv = 1.0f / sqrtf((red[0] + red[1] + red[2] + red[3]) / (float)K + eps);
        if (XF == 1 && blockIdx.x == 0 && threadIdx.x == 0)
            *rinv = inv;
    }
    for (int k = blockIdx.x * 128 + threadIdx.x; k < K; k += gridDim.x * 128) {
        float v = x[k];
        if (NORM)
            v *= nw[k];
        if (XF == 1)
            ((float *)xa)[k] = v;
        else
            ((uint16_t *)xa)[k] = f32_to_f16(NORM ? v * inv : v);
    }
}

/* gemv_b1 as emitted: two rows a unit (the options' default) */
template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int INTER, int HQ, int HKV, int HD, int L, int BS,
          int KV, int G>
DEV void gemv_b1_2(const void *__restrict__ wv, const float *__restrict__ x, const float *__restrict__ b,
                   float *__restrict__ y, const float *__restrict__ nw, float eps, const float *__restrict__ res,
                   RopeOut ro, WQ wq)
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

/* The one-row matmul. R, XF and ROLL (default 2, 0 and 0: the emitter's kernel, gemv_b1_2) are
 * gemv_b1x's options, for quantized rows without the RoPE epilogue; xa, rinv and yh are its arguments. */
template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int INTER = 0, int HQ = 1, int HKV = 1,
          int HD = 2, int L = 1, int BS = 1, int KV = FMT_F16, int G = K, int R = 2, int XF = 0, int ROLL = 0>
DEV void gemv_b1(const void *__restrict__ wv, const float *__restrict__ x, const float *__restrict__ b,
                 float *__restrict__ y, const float *__restrict__ nw, float eps, const float *__restrict__ res,
                 RopeOut ro = RopeOut{}, WQ wq = WQ{}, const void *xa = nullptr, const float *rinv = nullptr,
                 uint16_t *yh = nullptr)
{
    if constexpr (R != 2 || XF != 0 || ROLL != 0) {
        gemv_b1x<WK, K, N, NORM, EPI, KS, U, G, R, XF, ROLL>(wv, x, xa, b, y, yh, nw, rinv, eps, res, wq);
        (void)ro;
    } else {
        gemv_b1_2<WK, K, N, NORM, EPI, KS, U, INTER, HQ, HKV, HD, L, BS, KV, G>(wv, x, b, y, nw, eps, res, ro, wq);
        (void)xa, (void)rinv, (void)yh;
    }
}

#endif
