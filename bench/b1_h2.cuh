/* b1_h2.cuh — an experiment for bench/b1_lab.cu, measured in round 11 (bench/NOTES.md) and emitted since
 * for the norm's matrices as gemv_b1's H2 (cuda_gemv_b1.cuh, whose pairs and stream it now uses): the one-row matmul of symmetric u4
 * in groups of 128 (lane8 order, gemv_b1's rows) with f16x2 arithmetic, to test whether gemv_b1's
 * 4-bit rows are bound by the instructions a weight costs (bench/NOTES.md: the u4 gate/up at 65% of
 * copy where fp8, half the values a byte, reaches 90%; ncu before: 66% of issue slots busy at 48%
 * of DRAM; about 5 instructions a value in the f32 path).
 *
 * gemv_b1 decodes a u4 word into four exact f16 pairs (u4_h2: 2 lop3-pairs, a shift, 2 sub, 2 fma),
 * then converts every value to f32 (32 conversions a 16-byte slot) for f32 products with x * nw.
 * Here the pairs stay f16: each is scaled by its group's f16 scale (one mul.f16x2: the weight
 * rounded to f16 once, as an f16 checkpoint stores it) and multiplied into an f16x2 accumulator
 * with x's f16 pair at the same places (one fma.f16x2: two products); a slot's 16 pair products
 * (each half sums 16) go to f32 once. About 74 instructions a row slot of 32 values against
 * gemv_b1's 160-200 (bench/b1_isa.py). x's pairs (x * nw / rms(x) where the matmul has the norm
 * prologue: normalized before rounding, so they stay in f16's range) are made by the block itself
 * into shared memory (XP 0: 2 bytes a value of K, 28 KB for K 14336) while its first weight loads
 * are in flight, or read from global memory where a producer made them (XP 1: k_xh2 stands in for
 * the kernel before, as the norm or the SwiGLU epilogue would write them).
 *
 * Numerics: products and the 16-term sums of a slot in f16 (11 bits), the rest in f32: the result
 * differs from gemv_b1's by about 1e-3 of the sum of |terms|, far below 4-bit quantization's own
 * error (b1_lab checks it against the emitter's output with that bound). A value of |x| above
 * about 4000 times 1/max|w| would overflow a slot's f16 sum: the real checkpoints' activations
 * (RMSNorm'd inputs; SwiGLU's and attention's outputs) are orders of magnitude below that.
 *
 * Pair layout (shared and global alike): entry (w, v) (a uint4, 16 bytes) holds the four pairs of
 * word w of slot v of a row, pair e = (x[k], x[k + 32]) with k = 256 (v / 8) + 64 w + 4 (v % 8) + e
 * (u4_h2's pair e of word w: elements e and e + 4 of the word), at index w * (K / 32) + v: for a
 * fixed word the lanes of a warp read consecutive 16 bytes (no bank conflicts). */
#ifndef LLMC_BENCH_B1_H2_CUH
#define LLMC_BENCH_B1_H2_CUH

#include "../codegen/cuda_gemv_b1.cuh" /* h2_pairs_block, LLMC_B1_STREAM: gemv_b1's H2, which this became */

/* The producer's stand-in for XP 1: x's pair entries in global memory. One block of 128. */
template <int K, int NORM>
__global__ void __launch_bounds__(128) k_xh2(const float *x, const float *nw, float eps, uint4 *xp)
{
    pdl_release();
    pdl_wait();
    h2_pairs_block<K, NORM>(x, nw, eps, xp);
}

/* y = x w^T for one token, w [N][K] symmetric u4 in groups of 128, lane8 order (gemv_b1's rows and
 * scales); a unit is 2 rows (EPI 2: j and j + N/2, y[j] = silu(gate) * up), KS warps share a unit
 * (a K slice each), 4 warps a block, U 16-byte loads a row in flight a lane, the first two groups
 * of them issued before pdl_wait as gemv_b1 does. EPI 1: y = res + x w^T. */
template <int K, int N, int NORM, int EPI, int KS, int U, int XP, int FOLD = 1>
__global__ void __launch_bounds__(128) k_h2(const void *wv, const float *x, const uint4 *xpg, float *y, const float *nw,
                                            float eps, const float *res, WQ wq)
{
    constexpr int NVT = K / 32, NV = NVT / KS, NB = (NV + 32 * U - 1) / (32 * U), NG2 = K / 256;
    constexpr int UNITS = EPI == 2 ? N / 2 : (N + 1) / 2;
    static_assert(K % 256 == 0 && NV % 8 == 0, "k_h2: K slices of whole 256-value tiles");
    pdl_release();
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, ks = warp % KS;
    const int unit = blockIdx.x * (4 / KS) + warp / KS;
    const int live = unit < UNITS;
    const int n0 = !live ? 0 : EPI == 2 ? unit : 2 * unit;
    const int n1 = !live ? 0 : EPI == 2 ? unit + N / 2 : (2 * unit + 1 < N ? 2 * unit + 1 : 2 * unit);
    const u4 *w0 = (const u4 *)wv + (int64_t)n0 * NVT + ks * NV, *w1 = (const u4 *)wv + (int64_t)n1 * NVT + ks * NV;
    /* a tile's two f16 scales (groups 2t, 2t + 1) are adjacent: one word a row a tile */
    const uint32_t *s0 = (const uint32_t *)wq.side[0] + (int64_t)n0 * NG2 + ks * (NV / 8);
    const uint32_t *s1 = (const uint32_t *)wq.side[0] + (int64_t)n1 * NG2 + ks * (NV / 8);
    u4 qa[U][2], qb[U][2];
    uint32_t pa[U][2], pb[U][2]; /* the rows' tile scale pairs */
#define H2_LOAD(q, s, g)                                                                                          \
    _Pragma("unroll") for (int u = 0; u < U; u++)                                                                  \
    {                                                                                                              \
        const int v = ((g) * U + u) * 32 + lane;                                                                   \
        if (live && v < NV) {                                                                                      \
            q[u][0] = ld16_stream(w0 + v);                                                                         \
            q[u][1] = ld16_stream(w1 + v);                                                                         \
            s[u][0] = __ldg(s0 + v / 8);                                                                           \
            s[u][1] = __ldg(s1 + v / 8);                                                                           \
        }                                                                                                          \
    }
    H2_LOAD(qa, pa, 0)
    if (NB > 1)
        H2_LOAD(qb, pb, 1)
    pdl_wait();
    __shared__ uint4 xs[XP ? 1 : 4 * NVT];
    if (!XP)
        h2_pairs_block<K, NORM>(x, nw, eps, xs);
    const uint4 *xsrc = XP ? xpg : xs;
    float a0 = 0.0f, a1 = 0.0f;
/* pair e of word w of both rows into their sums: FOLD, the pair times its scale first (f16 weights,
 * one sum a slot); else the unscaled pair (q - 8), a sum a group (d: words 0-1, c: words 2-3) */
#define H2_FMA(unused, e, c)                                                                                      \
    if (FOLD) {                                                                                                    \
        c0 = hfma2(hmul2_(h0[e], t0), xw.c, c0);                                                                   \
        c1 = hfma2(hmul2_(h1[e], t1), xw.c, c1);                                                                   \
    } else if (w < 2) {                                                                                            \
        d0 = hfma2(h0[e], xw.c, d0);                                                                               \
        d1 = hfma2(h1[e], xw.c, d1);                                                                               \
    } else {                                                                                                       \
        c0 = hfma2(h0[e], xw.c, c0);                                                                               \
        c1 = hfma2(h1[e], xw.c, c1);                                                                               \
    }
#define H2_DOT(q, s, g)                                                                                           \
    _Pragma("unroll") for (int u = 0; u < U; u++)                                                                  \
    {                                                                                                              \
        const int v = ((g) * U + u) * 32 + lane;                                                                   \
        if (live && v < NV) {                                                                                      \
            uint32_t c0 = 0u, c1 = 0u, d0 = 0u, d1 = 0u; /* rows n0, n1: the slot's (FOLD 0: words 0-1's) sums */  \
            _Pragma("unroll") for (int w = 0; w < 4; w++)                                                          \
            {                                                                                                      \
                const uint4 xw = xsrc[w * NVT + ks * NV + v];                                                      \
                const uint32_t sel = w < 2 ? 0x1010u : 0x3232u; /* the group's scale in both halves */             \
                const uint32_t t0 = __byte_perm(s[u][0], 0, sel), t1 = __byte_perm(s[u][1], 0, sel);               \
                const uint32_t wd0 = u4_at(q[u][0], w);                                                            \
                const uint32_t wd1 = u4_at(q[u][1], w);                                                            \
                uint32_t h0[4], h1[4];                                                                             \
                u4_h2(wd0, 0x64086408u, 0xd480d480u, h0); /* q - 8, exact */                                      \
                u4_h2(wd1, 0x64086408u, 0xd480d480u, h1);                                                          \
                H2_FMA(0, 0, x);                                                                                   \
                H2_FMA(0, 1, y);                                                                                   \
                H2_FMA(0, 2, z);                                                                                   \
                H2_FMA(0, 3, w);                                                                                   \
            }                                                                                                      \
            float l, h;                                                                                            \
            if (FOLD) {                                                                                            \
                h2_to_f32(c0, l, h);                                                                               \
                a0 += l + h;                                                                                       \
                h2_to_f32(c1, l, h);                                                                               \
                a1 += l + h;                                                                                       \
            } else { /* each group's sum times its scale, in f32 */                                                \
                h2_to_f32(d0, l, h);                                                                               \
                a0 += (l + h) * f16_to_f32((uint16_t)(s[u][0] & 0xffffu));                                         \
                h2_to_f32(c0, l, h);                                                                               \
                a0 += (l + h) * f16_to_f32((uint16_t)(s[u][0] >> 16));                                             \
                h2_to_f32(d1, l, h);                                                                               \
                a1 += (l + h) * f16_to_f32((uint16_t)(s[u][1] & 0xffffu));                                         \
                h2_to_f32(c1, l, h);                                                                               \
                a1 += (l + h) * f16_to_f32((uint16_t)(s[u][1] >> 16));                                             \
            }                                                                                                      \
        }                                                                                                          \
    }
    LLMC_B1_STREAM(H2_LOAD, H2_DOT)
#undef H2_LOAD
#undef H2_DOT
#undef H2_FMA
    a0 = warp_sum(a0);
    a1 = warp_sum(a1);
    __shared__ float ksum[4][2];
    if (KS > 1) {
        if (lane == 0) {
            ksum[warp][0] = a0;
            ksum[warp][1] = a1;
        }
        __syncthreads();
        if (ks != 0)
            return;
        a0 = 0.0f;
        a1 = 0.0f;
#pragma unroll
        for (int j = 0; j < KS; j++) {
            a0 += ksum[warp + j][0];
            a1 += ksum[warp + j][1];
        }
    }
    if (!live || lane != 0)
        return;
    if (EPI == 2) {
        y[n0] = silu(a0) * a1;
    } else {
        y[n0] = (EPI == 1 ? res[n0] : 0.0f) + a0;
        if (n1 != n0)
            y[n1] = (EPI == 1 ? res[n1] : 0.0f) + a1;
    }
}

#endif
