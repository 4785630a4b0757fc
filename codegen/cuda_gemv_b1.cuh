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
/* The stream of a lane's NB groups of loads through two register buffers (qa/pa, qb/pb): the next
 * group issued before the current one is used. LOAD(q, p, g) issues group g, DOT(q, p, g) uses it;
 * groups 0 and 1 were issued before the loop (before pdl_wait). */
#define LLMC_B1_STREAM(LOAD, DOT)                                                                                 \
    _Pragma("unroll") for (int g = 0; g < NB; g += 2)                                                              \
    {                                                                                                              \
        if (g > 0 && g + 1 < NB)                                                                                   \
            LOAD(qb, pb, g + 1)                                                                                    \
        DOT(qa, pa, g)                                                                                             \
        if (g + 1 < NB) {                                                                                          \
            if (g + 2 < NB)                                                                                        \
                LOAD(qa, pa, g + 2)                                                                                \
            DOT(qb, pb, g + 1)                                                                                     \
        }                                                                                                          \
    }
/* Group g of a lane's loads into q (and, quantized, p: the slots' scales and zeros where they fit
 * 8 bytes; larger ones are fetched at the dot): both rows' 16-byte slots of the K slice. Names the
 * caller's U, lane, live, NV, KSL, VE, QF, w0, w1 (the rows' slice starts, bytes), wq, n0, n1, ks. */
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
    LLMC_B1_STREAM(LLMC_B1_LOAD, LLMC_B1_DOT)
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
/* ---- H2: u4 and nvfp4 rows in f16x2 arithmetic (NVIDIA-only builds; bench/b1_h2.cuh: u4) ----
 * gemv_b1_rows spends about 5 instructions a value on u4 rows (the decode, a conversion of every
 * value to f32, f32 products with x * nw), which binds the one-row matmul at about 65% of copy where
 * fp8, half the values a byte, reaches 90% (bench/NOTES.md). Here a word's four exact f16 pairs
 * (u4_h2: q - z) are scaled by their groups' f16 scales (mul.f16x2: each weight rounded to f16 once)
 * and multiplied with x's f16 pairs at the same places into an f16x2 sum (fma.f16x2: two products),
 * and a slot's sum (each half 16 products) goes to f32 once: about 2.3 instructions a value.
 * x's pairs are made by the block in shared memory (2 bytes a value of K) after pdl_wait, while the
 * first groups of weights are in flight: x * nw / rms(x) with the norm prologue (normalized before
 * rounding, so within f16's range; the sums then need no 1/rms), else x. Pair entry (w, v), 16
 * bytes at index w * (K / 32) + v, holds the four pairs of word w of slot v: pair e = (x[k],
 * x[k + 32]), k = 256 (v / 8) + 64 w + 4 (v % 8) + e (u4_h2's pair e: elements e and e + 4 of the
 * word); for a fixed word the lanes read consecutive 16 bytes. Numerics: the weights and x rounded
 * to f16, the products and a slot's 16-term sums in f16, the rest in f32: within about 1e-3 of the
 * sum of |terms| of the f32 path, far below 4-bit quantization's own error. */
/* The f16 scale pair of word w of a slot (its low chunk's group's scale, its high chunk's) */
template <int WK, int G>
DEV uint32_t h2_scale2(const QPar<WK, G> &p, int w)
{
    using L = QLane<WK, G>;
    const int gl = 2 * w / L::CS, gh = (2 * w + 1) / L::CS;
    if (gl == gh)
        return __byte_perm(p.s2[gl / 2], 0, gl % 2 ? 0x3232u : 0x1010u);
    return gl % 2 ? __byte_perm(p.s2[gl / 2], p.s2[gh / 2], 0x5432u) : p.s2[gl / 2];
}
/* Word `word` (word w of a slot) as four f16 pairs h (pair e: its elements e and e + 4) and the f16
 * pair that scales them (returned): u4 the exact q - z and the groups' scales (h2_scale2); nvfp4 the
 * E2M1 values times 2^-14 (exact) and its chunks' E4M3 scales (QPar's h2: exact in f16) */
template <int WK, int G>
DEV uint32_t h2_word(uint32_t word, const QPar<WK, G> &p, int w, uint32_t (&h)[4])
{
    using L = QLane<WK, G>;
    if constexpr (WFmt<WK>::SF32 == 2) {
#pragma unroll
        for (int e = 0; e < 4; e++)
            h[e] = e2m1_h2(word, e);
        return p.h2(w);
    } else {
        const uint32_t zl = p.zero(2 * w / L::CS), zh = p.zero((2 * w + 1) / L::CS);
        u4_h2(word, (0x6400u + zl) | (0x6400u + zh) << 16, (0xd400u + 16u * zl) | (0xd400u + 16u * zh) << 16, h);
        return h2_scale2(p, w);
    }
}
/* x (times nw / rms(x) when NORM) as the block's pair entries in xs (all 128 threads; ends synced) */
template <int K, int NORM>
DEV void h2_pairs_block(const float *__restrict__ x, const float *__restrict__ nw, float eps, uint4 *xs)
{
    constexpr int NVT = K / 32;
    float inv = 1.0f;
    if (NORM) { /* 1/rms(x), block-wide */
        __shared__ float red[4];
        float ss = 0.0f;
        for (int k = threadIdx.x * 4; k < K; k += 512) {
            const float4 a = *(const float4 *)(x + k);
            ss += a.x * a.x + a.y * a.y + a.z * a.z + a.w * a.w;
        }
        ss = warp_sum(ss);
        if ((threadIdx.x & (LLMC_WARP - 1)) == 0)
            red[threadIdx.x >> LLMC_WARP_LOG2] = ss;
        __syncthreads();
        inv = 1.0f / sqrtf((red[0] + red[1] + red[2] + red[3]) / (float)K + eps);
    }
    for (int i = threadIdx.x; i < 4 * NVT; i += 128) {
        const int w = i / NVT, v = i % NVT, k = 256 * (v / 8) + 64 * w + 4 * (v % 8);
        float4 a = *(const float4 *)(x + k), b = *(const float4 *)(x + k + 32);
        if (NORM) {
            const float4 na = __ldg((const float4 *)(nw + k)), nb = __ldg((const float4 *)(nw + k + 32));
            a = make_float4(a.x * na.x * inv, a.y * na.y * inv, a.z * na.z * inv, a.w * na.w * inv);
            b = make_float4(b.x * nb.x * inv, b.y * nb.y * inv, b.z * nb.z * inv, b.w * nb.w * inv);
        }
        xs[i] = make_uint4(pack2(a.x, b.x, 0), pack2(a.y, b.y, 0), pack2(a.z, b.z, 0), pack2(a.w, b.w, 0));
    }
    __syncthreads();
}
/* gemv_b1_rows for u4 rows (with or without zero points) and nvfp4 rows in f16x2 arithmetic: the sums of weight rows
 * n0 and n1 over x (times nw / rms(x) when NORM), K slice ks of KS; every lane gets both. All 128
 * threads of the block call it (the pairs' barriers). */
template <int WK, int K, int NORM, int KS, int U, int G>
DEV void gemv_b1_rows_h2(const void *__restrict__ wv, const float *__restrict__ x, const float *__restrict__ nw,
                         float eps, const WQ &wq, int n0, int n1, int ks, int live, float &a0, float &a1)
{
    using QL = QLane<WK, G>;
    static_assert(WFmt<WK>::VE == 32 && WFmt<WK>::Q && WFmt<WK>::SF32 != 1, "gemv_b1's H2: u4 or nvfp4 rows");
    constexpr int VE = 32, QF = 1, KSL = K / KS, NVT = K / VE, NV = KSL / VE; /* LLMC_B1_LOAD's names */
    constexpr int NB = (NV + LLMC_WARP * U - 1) / (LLMC_WARP * U);
    static_assert(K % 256 == 0 && KSL % QL::T == 0, "gemv_b1's H2: K slices of whole lane8 tiles");
    const int lane = threadIdx.x & (LLMC_WARP - 1);
    const char *w0 = (const char *)wv + WFmt<WK>::off((int64_t)n0 * K + ks * KSL);
    const char *w1 = (const char *)wv + WFmt<WK>::off((int64_t)n1 * K + ks * KSL);
    u4 qa[U][2], qb[U][2];
    QPar<WK, G> pa[U][2], pb[U][2];
    /* pair e of word w of both rows (h0, h1: q - z) times their scales, times x's pair, into the sums */
#define LLMC_H2_FMA(e, c)                                                                                         \
    c0 = hfma2(hmul2_(h0[e], t0), xw.c, c0);                                                                       \
    c1 = hfma2(hmul2_(h1[e], t1), xw.c, c1);
#define LLMC_H2_DOT(q, pp, g)                                                                                     \
    _Pragma("unroll") for (int u = 0; u < U; u++)                                                                  \
    {                                                                                                              \
        const int v = ((g) * U + u) * LLMC_WARP + lane;                                                            \
        if (live && v < NV) {                                                                                      \
            if constexpr (sizeof(QPar<WK, G>) > 8) {                                                              \
                qpar<WK, K, G>(wq, n0, ks * NV + v, pp[u][0]);                                                     \
                qpar<WK, K, G>(wq, n1, ks * NV + v, pp[u][1]);                                                     \
            }                                                                                                      \
            uint32_t c0 = 0u, c1 = 0u;                                                                             \
            _Pragma("unroll") for (int w = 0; w < 4; w++)                                                          \
            {                                                                                                      \
                const uint4 xw = xs[w * NVT + ks * NV + v];                                                        \
                uint32_t h0[4], h1[4];                                                                             \
                const uint32_t t0 = h2_word<WK, G>(u4_at(q[u][0], w), pp[u][0], w, h0);                            \
                const uint32_t t1 = h2_word<WK, G>(u4_at(q[u][1], w), pp[u][1], w, h1);                            \
                LLMC_H2_FMA(0, x)                                                                                  \
                LLMC_H2_FMA(1, y)                                                                                  \
                LLMC_H2_FMA(2, z)                                                                                  \
                LLMC_H2_FMA(3, w)                                                                                  \
            }                                                                                                      \
            float l, h;                                                                                            \
            h2_to_f32(c0, l, h);                                                                                   \
            a0 += l + h;                                                                                           \
            h2_to_f32(c1, l, h);                                                                                   \
            a1 += l + h;                                                                                           \
        }                                                                                                          \
    }
    LLMC_B1_LOAD(qa, pa, 0) /* both buffers' groups on their way before the wait and the pairs */
    if (NB > 1)
        LLMC_B1_LOAD(qb, pb, 1)
    pdl_wait();
    __shared__ uint4 xs[4 * NVT];
    h2_pairs_block<K, NORM>(x, nw, eps, xs);
    a0 = 0.0f;
    a1 = 0.0f;
    LLMC_B1_STREAM(LLMC_B1_LOAD, LLMC_H2_DOT)
#undef LLMC_H2_FMA
#undef LLMC_H2_DOT
    if constexpr (WFmt<WK>::TS) { /* nvfp4: its tensor scale (times 2^14) on each lane's sums, as gemv_b1_rows */
        const float ts = WFmt<WK>::tscale(wq);
        a0 *= ts;
        a1 *= ts;
    }
    a0 = warp_sum(a0);
    a1 = warp_sum(a1);
}

template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int INTER = 0, int HQ = 1, int HKV = 1,
          int HD = 2, int L = 1, int BS = 1, int KV = FMT_F16, int G = K, int H2 = 0>
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
    if constexpr (H2) /* x's pairs carry nw / rms(x): no 1/rms on the sums */
        gemv_b1_rows_h2<WK, K, NORM, KS, U, G>(wv, x, nw, eps, wq, n0, n1, ks, live, a0, a1);
    else
        gemv_b1_rows<WK, K, NORM, KS, U, G>(wv, x, nw, wq, n0, n1, ks, live, a0, a1);
    constexpr int RMS = NORM && !H2;
    float inv = 1.0f;
    __shared__ float red[4];
    if (RMS) { /* 1/rms(x), block-wide, in gemv's order */
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
    if (RMS || KS > 1)
        __syncthreads();
    if (RMS)
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
