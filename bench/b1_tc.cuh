/* b1_tc.cuh — an experiment for bench/b1_lab.cu (not emitted; on an H100 it checked and lost: 935 us
 * for the 8B/3's matmuls against 645 us for gemv_b1's best, bench/NOTES.md round 6): the one-row matmul on tensor cores
 * for symmetric u4 in groups of 128 (lane8 order, K a multiple of 256), the design of bench/NOTES.md
 * round 5. mma.sync m16n8k16 (f16 in, f32 accumulators): B = 8 weight rows (row n of the warp's
 * unit for each 4 lanes: lane / 4), A = the token (lanes 0-3; the other rows zero), k permuted the
 * same way in both: lane t = lane % 4 loads slots t and t + 4 of each 256-value tile of its row, and
 * a u4 word w of slot q gives the f16 pairs (q - 8) of elements (64w + 4q + e, 64w + 32 + 4q + e),
 * e = 0..3, exact; an mma step takes two of them (b0b1, b2b3) and the x pairs at the same places
 * (a0a1, a4a5). x comes in as two f16 halves (hi, and lo = x - hi rounded), two mma a step, so the
 * products keep about 22 bits of x and the sums are f32. Words 0-1 of a slot are the tile's first
 * group of 128, words 2-3 its second: each group sums into its own accumulators, scaled in f32
 * after the tile (exact up to f32 rounding, as gemv_b1). x's pairs come from k_xpairs (in the
 * decode step the kernel before would write them): x * nw / rms(x) for an RMSNorm prologue. */
#ifndef LLMC_BENCH_B1_TC_CUH
#define LLMC_BENCH_B1_TC_CUH

#include "../codegen/cuda_formats.cuh"
#include "../codegen/cuda_mma.cuh"

/* x (times nw / rms(x) when NORM) as f16 pairs in the order of k_tc1: pair p = 128 tile + 16 q +
 * 4 w + e holds elements (256 tile + 64 w + 4 q + e, that + 32); xp[2p] its hi halves, xp[2p + 1]
 * the rest (x - hi) rounded to f16. One block of 512 threads. */
template <int K, int NORM>
__global__ void __launch_bounds__(512) k_xpairs(const float *x, const float *nw, float eps, uint32_t *xp)
{
    pdl_release();
    pdl_wait();
    __shared__ float red[16];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float inv = 1.0f;
    if (NORM) {
        float ss = 0.0f;
        for (int k = threadIdx.x; k < K; k += 512)
            ss += x[k] * x[k];
        ss = warp_sum(ss);
        if (lane == 0)
            red[warp] = ss;
        __syncthreads();
        float s = 0.0f;
        for (int i = 0; i < 16; i++)
            s += red[i];
        inv = 1.0f / sqrtf(s / (float)K + eps);
    }
    for (int p = threadIdx.x; p < K / 2; p += 512) {
        const int tile = p >> 7, q = (p >> 4) & 7, w = (p >> 2) & 3, e = p & 3;
        const int k0 = tile * 256 + 64 * w + 4 * q + e, k1 = k0 + 32;
        float a = x[k0], b = x[k1];
        if (NORM) {
            a = a * nw[k0] * inv;
            b = b * nw[k1] * inv;
        }
        const uint32_t hi = pack2(a, b, 0);
        xp[2 * p] = hi;
        xp[2 * p + 1] = pack2(a - f16_to_f32((uint16_t)(hi & 0xffffu)), b - f16_to_f32((uint16_t)(hi >> 16)), 0);
    }
}

/* y = x w^T for one token, w [N][K] symmetric u4 in groups of 128, lane8 order; a unit is 8 weight
 * rows (EPI 2: gate rows 4u..4u+3 and their up rows), KS warps share a unit (a K slice each), 4
 * warps a block. EPI 1: y = res + x w^T; EPI 2: y[j] = silu(gate j) * up j. */
template <int K, int N, int EPI, int KS>
__global__ void __launch_bounds__(128) k_tc1(const void *wv, const uint32_t *xp, float *y, const float *res, WQ wq)
{
    constexpr int KSL = K / KS, TL = KSL / 256, NG = K / 128, UNITS = N / 8;
    static_assert(KSL % 256 == 0 && N % 8 == 0, "k_tc1: K slices of whole tiles, units of 8 rows");
    constexpr bool GLU = EPI == 2;
    pdl_release();
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, ks = warp % KS, g = lane >> 2, t = lane & 3;
    const int unit = blockIdx.x * (4 / KS) + warp / KS;
    const bool live = unit < UNITS;
    auto row = [&](int c) -> int64_t {
        return !live ? 0 : GLU ? (c < 4 ? (int64_t)unit * 4 + c : N / 2 + (int64_t)unit * 4 + c - 4) : (int64_t)unit * 8 + c;
    };
    const uint8_t *wrow = (const uint8_t *)wv + row(g) * (K / 2) + (int64_t)ks * (KSL / 2);
    const int64_t r0 = row(2 * t), r1 = row(2 * t + 1); /* the rows of this lane's D columns */
    const uint16_t *sc = (const uint16_t *)wq.side[0];
    u4 qa[2] = {}, qb[2] = {};
    if (live) {
        qa[0] = ld16_stream(wrow + t * 16);
        qa[1] = ld16_stream(wrow + (t + 4) * 16);
    }
    pdl_wait();
    const uint32_t *xs = xp + (int64_t)ks * KSL; /* the slice's pairs: KSL / 2 of them, 2 entries each */
    float acc0 = 0.0f, acc1 = 0.0f;                /* lanes 0-3: the token's sums of rows r0, r1 */
    for (int tl = 0; tl < TL; tl++) {
        if (live && tl + 1 < TL) {
            qb[0] = ld16_stream(wrow + ((tl + 1) * 8 + t) * 16);
            qb[1] = ld16_stream(wrow + ((tl + 1) * 8 + t + 4) * 16);
        }
        float d[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}}; /* the tile's two groups */
#pragma unroll
        for (int s = 0; s < 2; s++) {
            const uint32_t *xq = xs + ((int64_t)tl * 128 + (t + 4 * s) * 16) * 2;
#pragma unroll
            for (int w = 0; w < 4; w++) {
                const uint32_t word = u4_at(qa[s], w);
                uint32_t h[4];
                u4_h2(word, 0x64086408u, 0xd480d480u, h); /* symmetric: zero 8 in both halves */
                uint4 x0 = make_uint4(0, 0, 0, 0), x1 = make_uint4(0, 0, 0, 0);
                if (g == 0) { /* pairs e0..e3 of the word: (hi, lo) each */
                    x0 = *(const uint4 *)(xq + w * 8);
                    x1 = *(const uint4 *)(xq + w * 8 + 4);
                }
                uint32_t a[4] = {x0.x, 0u, x0.z, 0u}, b[2] = {h[0], h[1]};
                mma16816<0>(d[w >> 1], a, b);
                a[0] = x0.y;
                a[2] = x0.w;
                mma16816<0>(d[w >> 1], a, b);
                b[0] = h[2];
                b[1] = h[3];
                a[0] = x1.x;
                a[2] = x1.z;
                mma16816<0>(d[w >> 1], a, b);
                a[0] = x1.y;
                a[2] = x1.w;
                mma16816<0>(d[w >> 1], a, b);
            }
        }
        if (live && g == 0) { /* the groups' f16 scales, adjacent: one 4-byte load a row */
            const int gi = (ks * TL + tl) * 2;
            const uint32_t s0 = *(const uint32_t *)(sc + r0 * NG + gi), s1 = *(const uint32_t *)(sc + r1 * NG + gi);
            acc0 += d[0][0] * f16_to_f32((uint16_t)(s0 & 0xffffu)) + d[1][0] * f16_to_f32((uint16_t)(s0 >> 16));
            acc1 += d[0][1] * f16_to_f32((uint16_t)(s1 & 0xffffu)) + d[1][1] * f16_to_f32((uint16_t)(s1 >> 16));
        }
        qa[0] = qb[0];
        qa[1] = qb[1];
    }
    __shared__ float ksum[4][8];
    if (KS > 1) {
        if (g == 0) {
            ksum[warp][2 * t] = acc0;
            ksum[warp][2 * t + 1] = acc1;
        }
        __syncthreads();
        if (ks != 0)
            return;
        acc0 = 0.0f;
        acc1 = 0.0f;
#pragma unroll
        for (int j = 0; j < KS; j++) {
            acc0 += ksum[warp + j][2 * (t & 3)];
            acc1 += ksum[warp + j][2 * (t & 3) + 1];
        }
    }
    if (GLU) { /* lanes 0, 1 hold gate rows 2t, 2t + 1; lanes 2, 3 the up rows of the same outputs */
        const float u0 = __shfl_down_sync(0xffffffffu, acc0, 2), u1 = __shfl_down_sync(0xffffffffu, acc1, 2);
        if (live && g == 0 && t < 2) {
            y[unit * 4 + 2 * t] = silu(acc0) * u0;
            y[unit * 4 + 2 * t + 1] = silu(acc1) * u1;
        }
    } else if (live && g == 0) {
        y[r0] = (EPI == 1 ? res[r0] : 0.0f) + acc0;
        y[r1] = (EPI == 1 ? res[r1] : 0.0f) + acc1;
    }
}

#endif
