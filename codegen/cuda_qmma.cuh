/* cuda_qmma.cuh — the tensor-core matmul of batched decode (emitter: cuda_matmul.c): y = x W^T for
 * 9..64 rows a block (more in row tiles), with the weights streamed from global memory straight
 * into registers in the order they are stored (bf16/f16 row-major, fp8 and u4 lane8: the order the
 * one-row kernels read) and decoded there into mma.sync B fragments. No weight byte goes through
 * shared memory, none is read twice, and no f16 copy of a quantized matrix is made.
 *
 * Why this works without a new layout: mma.sync m16n8k16 sums A[m][k] B[k][n] over its 16 k in an
 * order of no consequence, so the logical k of the fragments may be any bijection onto 16 stored
 * elements, as long as A uses the same one. A lane (g = lane / 4, t = lane % 4) of a warp loads 16
 * bytes of weight row n0 + g (the n8 tile's row g) a round; the 4 lanes of a row load 64
 * consecutive bytes, two rounds a whole 128-byte line. Those bytes decode into the lane's B
 * fragments for 2 (bf16/f16), 4 (fp8) or 8 (u4) mma k-steps; each step's 16 logical k are 16 stored
 * elements of the row, and the activations (f16/bf16 in shared memory, written by rows_to_half in
 * the order QmFmt::AORD names) are read in the same pairing. Per format (QmFmt):
 *   bf16/f16: round r of a 128-element chunk: elements 32 r + 8 t + 0..7; step u takes b0 = (8t+4u,
 *     +1), b1 = (+2, +3): the activations in natural order, a 16-byte load gives both steps.
 *   fp8 (lane8, tile 128 = chunk): slot q = t + 4 r; word w holds elements 32 w + 4 q + 0..3, decoded
 *     under the f16 exponent (value * 2^-8, exact): step w takes b0 = (e0, e1), b1 = (e2, e3); the
 *     activations in natural order, 8 bytes a step. The per-row f32 scale (times 2^8) multiplies
 *     the sums in the epilogue: exact, free.
 *   u4 (lane8, tile 256 = chunk): slot q = t + 4 r; word w holds chunks 2w and 2w + 1 (elements
 *     64 w + 4 q + e and 64 w + 32 + 4 q + e, nibbles e and e + 4); the lop3 decode gives f16 pairs
 *     (nibble e, nibble e + 4) minus the zeros, exact, times the groups' f16 scales (one f16
 *     rounding, as Marlin does): step 2w + u takes b0 = pair 2u, b1 = pair 2u + 1. The activations
 *     in "pair-32" order (within 64 elements, position 2 i + h holds element i + 32 h), so that a
 *     16-byte load gives a0/a2 of both steps.
 *   nvfp4 (lane8 as u4): the same pairs of E2M1 values (times 2^-14) times the chunks' E4M3 scales
 *     as f16, exact; the tensor scale on the sums in the epilogue.
 * Block: W warps side by side along N, each NJ n8 tiles (EPI 2: tile 2j the gate rows, 2j + 1 the
 * up rows of the same 8 outputs), all MI m16 tiles of the block's rows; its range of (tile, chunk)
 * units in order, the activations through an ST-stage cp.async ring (one barrier a chunk), the
 * next chunk's weights in registers (their scales with them). The first weight loads are issued
 * before pdl_wait: under programmatic dependent launch they overlap the previous kernel's tail.
 */
#ifndef LLMC_CUDA_QMMA_CUH
#define LLMC_CUDA_QMMA_CUH

#include "cuda_formats.cuh"
#include "cuda_mma.cuh"

#if LLMC_PTX /* mma.sync, cp.async: NVIDIA only (gpu_port.cuh) */

/* The engine's view of a weight format: the chunk of K an activation stage holds (KC), the rounds
 * (16-byte loads a lane and n8 tile) in a chunk (R), the activations' order (AORD: 0 natural, 1
 * pair-32; WORD gemm_wq's, cuda_wgmma_q.cuh: 2 fp8's, 3 the 4-bit formats', -1 none), the padding
 * of a stage row (PAD halves; PADF bytes for f32 rows: conflict-free fragment loads) and whether a
 * slot's scales travel with it (SP: qpar beside each weight load). */
template <int WK>
struct QmFmt {
    enum { KC = 128, R = 4, AORD = 0, WORD = -1, PAD = 32, PADF = 16, BF = WFmt<WK>::MMA_BF, SP = 0 };
};
template <>
struct QmFmt<FMT_FP8> {
    enum { KC = 128, R = 2, AORD = 0, WORD = 2, PAD = 16, PADF = 64, BF = 0, SP = 0 };
};
template <>
struct QmFmt<FMT_U4> {
    enum { KC = 256, R = 2, AORD = 1, WORD = 3, PAD = 32, PADF = 64, BF = 0, SP = 1 };
};
template <>
struct QmFmt<FMT_U4 | WITH_ZERO> : QmFmt<FMT_U4> {};
/* nvfp4: 4-bit lane8 slots as u4 (pair-32 activations), its E4M3 scales with them */
template <>
struct QmFmt<FMT_NVFP4> : QmFmt<FMT_U4> {};

/* f16 pair (lo, hi) from two halves */
DEV uint32_t h2_pack(uint32_t lo, uint32_t hi) { return (lo & 0xffffu) | hi << 16; }
DEV uint32_t hmul2(uint32_t a, uint32_t b)
{
    uint32_t d;
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

/* The f16 scale pair of word w of a u4 slot: (scale of chunk 2w's group, of chunk 2w + 1's). */
template <int WK, int G>
DEV uint32_t qm_scale2(const QPar<WK, G> &p, int w)
{
    using L = QLane<WK, G>;
    const int ga = 2 * w / L::CS, gb = (2 * w + 1) / L::CS;
    const uint32_t a = p.s2[ga / 2] >> (16 * (ga % 2)) & 0xffffu, b = p.s2[gb / 2] >> (16 * (gb % 2)) & 0xffffu;
    return a | b << 16;
}

/* Word w of a round's 16 bytes decoded into the B fragments of the steps it holds: bf16/f16 words
 * are fragments already (no call), fp8 word w -> step w (b[0], b[1]), u4 and nvfp4 word w -> steps
 * 2w, 2w + 1 (b[0], b[1], b[2], b[3]). nvfp4: E2M1 pairs (nibble e, e + 4) under the f16 exponent
 * (value x 2^-14) times the f16 pair of the two chunks' E4M3 scales: exact (a multiple of 2^-24
 * below 0.17), the tensor scale (times 2^14) on the sums (qm_finish). */
template <int WK, int G>
DEV void qm_decode(uint32_t x, int w, const QPar<WK, G> &p, uint32_t *b)
{
    if constexpr (WK == FMT_FP8) {
        const uint32_t a = __byte_perm(x, 0, 0x1404), c = __byte_perm(x, 0, 0x3424);
        b[0] = and_or(a >> 1, 0x3f803f80u, a & 0x80008000u);
        b[1] = and_or(c >> 1, 0x3f803f80u, c & 0x80008000u);
    } else if constexpr (WK == FMT_NVFP4) {
        const uint32_t s = p.h2(w);
#pragma unroll
        for (int e = 0; e < 4; e++)
            b[e] = hmul2(e2m1_h2(x, e), s);
    } else {
        using L = QLane<WK, G>;
        const uint32_t za = p.zero((2 * w) / L::CS), zb = p.zero((2 * w + 1) / L::CS);
        const uint32_t zlo = (0x6400u + za) | (0x6400u + zb) << 16, zhi = (0xd400u + 16u * za) | (0xd400u + 16u * zb) << 16;
        const uint32_t M = 0x64006400u, S16 = 0x2c002c00u, x8 = x >> 8, s = qm_scale2<WK, G>(p, w);
        b[0] = hmul2(hsub2(and_or(x, 0x000f000fu, M), zlo), s);
        b[1] = hmul2(hfma2(and_or(x, 0x00f000f0u, M), S16, zhi), s);
        b[2] = hmul2(hsub2(and_or(x8, 0x000f000fu, M), zlo), s);
        b[3] = hmul2(hfma2(and_or(x8, 0x00f000f0u, M), S16, zhi), s);
    }
}

DEV void lds128(uint32_t (&r)[4], uint32_t addr)
{
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
DEV void lds64(uint32_t (&r)[2], uint32_t addr)
{
    asm volatile("ld.shared.v2.u32 {%0, %1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
}
DEV float ld_cg_f32(const float *p)
{
    float v;
    asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p));
    return v;
}

/* The activations' fragments of a round, from a stage row (arow: the shared address of row g of
 * m16 tile 0; LDB bytes between rows): AF 0, f16/bf16 in the format's order (QmFmt::AORD); AF 1,
 * f32 in natural order (rows 4 KC + QmFmt::PADF bytes), rounded to f16/bf16 here (the rounding
 * rows_to_half does). qm_a8: the 8 values a bf16/f16 round's two steps take (elements e0..e0+7 of
 * the chunk) as 4 pairs; qm_a4: fp8's 4 (e0..e0+3) as 2 pairs; qm_a8p: u4's (pairs of elements
 * e0 + i and e0 + 32 + i, i < 4). */
template <int BF, int AF>
DEV void qm_a8(uint32_t (&a)[4], uint32_t row, int e0)
{
    if (!AF) {
        lds128(a, row + 2 * e0);
    } else {
        float f[8];
        asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(f[0]), "=f"(f[1]), "=f"(f[2]), "=f"(f[3]) : "r"(row + 4 * e0));
        asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(f[4]), "=f"(f[5]), "=f"(f[6]), "=f"(f[7]) : "r"(row + 4 * e0 + 16));
#pragma unroll
        for (int i = 0; i < 4; i++)
            a[i] = pack2(f[2 * i], f[2 * i + 1], BF);
    }
}
template <int AF>
DEV void qm_a4(uint32_t (&a)[2], uint32_t row, int e0)
{
    if (!AF) {
        lds64(a, row + 2 * e0);
    } else {
        float f[4];
        asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(f[0]), "=f"(f[1]), "=f"(f[2]), "=f"(f[3]) : "r"(row + 4 * e0));
        a[0] = pack2(f[0], f[1], 0);
        a[1] = pack2(f[2], f[3], 0);
    }
}
template <int AF>
DEV void qm_a8p(uint32_t (&a)[4], uint32_t row, int w, int q)
{
    if (!AF) {
        lds128(a, row + 2 * (64 * w + 8 * q)); /* pair-32 order */
    } else {
        float x[4], y[4];
        asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(x[0]), "=f"(x[1]), "=f"(x[2]), "=f"(x[3]) : "r"(row + 4 * (64 * w + 4 * q)));
        asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(y[0]), "=f"(y[1]), "=f"(y[2]), "=f"(y[3]) : "r"(row + 4 * (64 * w + 32 + 4 * q)));
#pragma unroll
        for (int i = 0; i < 4; i++)
            a[i] = pack2(x[i], y[i], 0);
    }
}

/* One round r of a warp: its NJ tiles' weights q[j] (with scales p[j]) against the MI m16 tiles of
 * the stage's activations (qm_a8 and kin: AF, arow, LDB). */
template <int WK, int G, int MI, int NJ, int LDB, int AF = 0>
DEV void qm_round(float (&acc)[MI][NJ][4], const u4 (&q)[NJ], const QPar<WK, G> (&p)[NJ], uint32_t arow, int r, int t)
{
    using F = QmFmt<WK>;
    if constexpr (WK == FMT_BF16 || WK == FMT_F16) {
        /* 2 steps: A at elements 32 r + 8 t .. + 7 of rows g, g + 8 */
        uint32_t a[MI][2][4];
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int h = 0; h < 2; h++)
                qm_a8<F::BF, AF>(a[i][h], arow + (16 * i + 8 * h) * LDB, 32 * r + 8 * t);
#pragma unroll
        for (int u = 0; u < 2; u++)
#pragma unroll
            for (int j = 0; j < NJ; j++) {
                const uint32_t bw[2] = {u ? q[j].z : q[j].x, u ? q[j].w : q[j].y};
#pragma unroll
                for (int i = 0; i < MI; i++) {
                    const uint32_t af[4] = {a[i][0][2 * u], a[i][1][2 * u], a[i][0][2 * u + 1], a[i][1][2 * u + 1]};
                    mma16816<F::BF>(acc[i][j], af, bw);
                }
            }
    } else if constexpr (WK == FMT_FP8) {
        /* word w = step w: A at elements 32 w + 4 (t + 4 r) .. + 3 */
#pragma unroll
        for (int w = 0; w < 4; w++) {
            uint32_t a[MI][2][2];
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int h = 0; h < 2; h++)
                    qm_a4<AF>(a[i][h], arow + (16 * i + 8 * h) * LDB, 32 * w + 4 * (t + 4 * r));
#pragma unroll
            for (int j = 0; j < NJ; j++) {
                uint32_t b[2];
                qm_decode<WK, G>(u4_at(q[j], w), w, p[j], b);
#pragma unroll
                for (int i = 0; i < MI; i++) {
                    const uint32_t af[4] = {a[i][0][0], a[i][1][0], a[i][0][1], a[i][1][1]};
                    mma16816<0>(acc[i][j], af, b);
                }
            }
        }
    } else {
        /* word w = steps 2w, 2w + 1: A pairs (64 w + 4 q + i, 64 w + 32 + 4 q + i), q = t + 4 r */
#pragma unroll
        for (int w = 0; w < 4; w++) {
            uint32_t a[MI][2][4];
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int h = 0; h < 2; h++)
                    qm_a8p<AF>(a[i][h], arow + (16 * i + 8 * h) * LDB, w, t + 4 * r);
#pragma unroll
            for (int j = 0; j < NJ; j++) {
                uint32_t b[4];
                qm_decode<WK, G>(u4_at(q[j], w), w, p[j], b);
#pragma unroll
                for (int u = 0; u < 2; u++)
#pragma unroll
                    for (int i = 0; i < MI; i++) {
                        const uint32_t af[4] = {a[i][0][2 * u], a[i][1][2 * u], a[i][0][2 * u + 1], a[i][1][2 * u + 1]};
                        mma16816<0>(acc[i][j], af, b + 2 * u);
                    }
            }
        }
    }
}

/* The output of one pair of sums (v0, v1: columns c, c + 1 of weight rows n, n + 1; EPI 2: the gate
 * sums, u0, u1 the up sums of outputs o, o + 1) for row m. */
template <int N, int SY, int SR, int EPI>
DEV void qm_store(float *__restrict__ y, const float *__restrict__ b, const float *__restrict__ res, int m, int n,
                  float v0, float v1, float u0, float u1)
{
    if (epi_glu(EPI)) { /* n: the output column (gate row) */
        const float g0 = v0 + (b ? b[n] : 0.0f), g1 = v1 + (b ? b[n + 1] : 0.0f);
        const float w0 = u0 + (b ? b[n + N / 2] : 0.0f), w1 = u1 + (b ? b[n + 1 + N / 2] : 0.0f);
        *(float2 *)(y + (int64_t)m * SY + n) = make_float2(glu_act<EPI>(g0) * w0, glu_act<EPI>(g1) * w1);
    } else {
        float2 o = make_float2(v0 + (b ? b[n] : 0.0f), v1 + (b ? b[n + 1] : 0.0f));
        if (EPI == 1) {
            const float2 rv = *(const float2 *)(res + (int64_t)m * SR + n);
            o.x += rv.x;
            o.y += rv.y;
        }
        *(float2 *)(y + (int64_t)m * SY + n) = o;
    }
}

/* The end of a block's part of tile `tile` (units u0..u1 of U dealt to gridDim.y blocks; NCT a
 * tile): fp8's row scales (times 2^8) or nvfp4's tensor scale (times 2^14) on the sums; for a tile shared with other blocks the partial
 * (part: [row tiles][gridDim.y][2][16 MI][TPB], a block's first and last tile) and, in the last of
 * them to arrive (cnt: an int a tile, left at 0; last: a shared int), their sum in block order; then
 * the epilogue. wrow(tile, j): this lane's weight row of n8 tile j. acc is zeroed after. */
template <int WK, int N, int MI, int NJ, int W, int U, int NCT, int SY, int SR, int EPI, class Row>
DEV void qm_finish(float (&acc)[MI][NJ][4], Row wrow, int tile, int u0, int u1, const WQ &wq,
                   const float *__restrict__ b, float *__restrict__ y, int T, const float *__restrict__ res,
                   float *__restrict__ part, int *__restrict__ cnt, int &last)
{
    constexpr int MP = 16 * MI, TPB = W * NJ * 8, TILES = U / NCT;
    const int tid = threadIdx.x, lane = tid & (LLMC_WARP - 1), warp = tid >> LLMC_WARP_LOG2;
    const int g = lane >> 2, t = lane & 3, m0 = blockIdx.x * MP, P = gridDim.y, bk = blockIdx.y;
    const int ts = tile * NCT, te = ts + NCT;
    if constexpr (WK == FMT_FP8) {
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            const int n = wrow(tile, j) - g + 2 * t;
            const float s0 = __ldg((const float *)wq.side[0] + n) * 256.0f;
            const float s1 = __ldg((const float *)wq.side[0] + n + 1) * 256.0f;
#pragma unroll
            for (int i = 0; i < MI; i++) {
                acc[i][j][0] *= s0;
                acc[i][j][1] *= s1;
                acc[i][j][2] *= s0;
                acc[i][j][3] *= s1;
            }
        }
    } else if constexpr (WK == FMT_NVFP4) {
        const float ts = WFmt<WK>::tscale(wq);
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int c = 0; c < 4; c++)
                    acc[i][j][c] *= ts;
    }
    bool out = true;
    if (ts < u0 || te > u1) { /* shared: the partial, and the sum if this block is the last */
        auto ustart = [&](int bb) { return (int)((int64_t)bb * U / P); };
        auto owner = [&](int v) { return (int)(((int64_t)(v + 1) * P + U - 1) / U) - 1; };
        float *pr = part + (int64_t)blockIdx.x * P * 2 * MP * TPB;
        float *pz = pr + (bk * 2 + (tile == u0 / NCT ? 0 : 1)) * MP * TPB;
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int hh = 0; hh < 2; hh++)
#pragma unroll
                for (int j = 0; j < NJ; j++)
                    *(float2 *)(pz + (16 * i + g + 8 * hh) * TPB + (warp * NJ + j) * 8 + 2 * t) =
                        make_float2(acc[i][j][2 * hh], acc[i][j][2 * hh + 1]);
        __threadfence();
        __syncthreads();
        const int bf = owner(ts), bl = owner(te - 1);
        if (tid == 0)
            last = atomicAdd(cnt + blockIdx.x * TILES + tile, 1) == bl - bf;
        __syncthreads();
        out = last;
        if (out) {
            __threadfence();
            mma_zero(acc);
            for (int bb = bf; bb <= bl; bb++) {
                const float *pb = pr + (bb * 2 + (tile == ustart(bb) / NCT ? 0 : 1)) * MP * TPB;
#pragma unroll
                for (int i = 0; i < MI; i++)
#pragma unroll
                    for (int hh = 0; hh < 2; hh++)
#pragma unroll
                        for (int j = 0; j < NJ; j++) {
                            const float *pv = pb + (16 * i + g + 8 * hh) * TPB + (warp * NJ + j) * 8 + 2 * t;
                            acc[i][j][2 * hh] += ld_cg_f32(pv);
                            acc[i][j][2 * hh + 1] += ld_cg_f32(pv + 1);
                        }
            }
            if (tid == 0)
                cnt[blockIdx.x * TILES + tile] = 0;
        }
    }
    if (out)
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                const int m = m0 + 16 * i + g + 8 * hh;
                if (m >= T)
                    continue;
#pragma unroll
                for (int j = 0; j < NJ; j += (epi_glu(EPI) ? 2 : 1)) {
                    const int n = wrow(tile, j) - g + 2 * t;
                    if (epi_glu(EPI))
                        qm_store<N, SY, SR, EPI>(y, b, res, m, n, acc[i][j][2 * hh], acc[i][j][2 * hh + 1],
                                                 acc[i][j + 1][2 * hh], acc[i][j + 1][2 * hh + 1]);
                    else
                        qm_store<N, SY, SR, EPI>(y, b, res, m, n, acc[i][j][2 * hh], acc[i][j][2 * hh + 1], 0.0f,
                                                 0.0f);
                }
            }
    mma_zero(acc);
}

/* y[T][..] = epilogue(x W^T): w [N][K] in format WK (groups of G, scales and zeros wq; fp8: a scale
 * a row, G = K), xh [T][K] f16/bf16 in QmFmt<WK>::AORD order, rows blockIdx.x * 16 MI .. (+16 MI).
 * The work is U = TILES x NCT units (a tile: W x NJ n8 tiles of weight rows, EPI 2 the gate and up
 * rows of TPB / 2 outputs; a unit: one chunk of K of a tile), dealt to the gridDim.y blocks in equal
 * contiguous ranges (stream-K: every SM streams the same number of bytes, whatever the shapes, in
 * one wave of resident blocks). A tile whose K a block holds whole is finished there; a tile shared
 * by several blocks is summed by the last of them to arrive (cnt: an int a tile, left at 0) from
 * their partials (part: [row tiles][gridDim.y][2][16 MI][TPB] f32, a block's first and last tile),
 * in the order of the blocks: deterministic. */
template <int WK, int K, int N, int G, int MI, int NJ, int W, int ST, int EPI, int SY, int SR>
DEV void gemm_q(const uint8_t *__restrict__ w, WQ wq, const uint16_t *__restrict__ xh, const float *__restrict__ b,
                float *__restrict__ y, int T, const float *__restrict__ res, float *__restrict__ part,
                int *__restrict__ cnt)
{
    using F = QmFmt<WK>;
    constexpr int KC = F::KC, R = F::R, LD = KC + F::PAD, LDB = 2 * LD, NCT = K / KC;
    constexpr int NT = W * LLMC_WARP, MP = 16 * MI, GR = KC / 8; /* 16-byte granules a stage row */
    constexpr int CB = 16 * 4 * R;                                /* weight bytes a chunk of a row */
    constexpr int64_t RB = (int64_t)CB * NCT;                     /* weight bytes a row */
    constexpr int TPB = W * NJ * 8, TILES = N / TPB, U = TILES * NCT;
    static_assert(K % KC == 0 && N % TPB == 0, "gemm_q: whole chunks and tiles");
    static_assert(!epi_glu(EPI) || NJ % 2 == 0, "gemm_q: SwiGLU takes gate and up tiles in pairs");
    static_assert((MP * GR) % NT == 0, "gemm_q: stage copies");
    extern __shared__ __align__(16) uint16_t qsm[];
    __shared__ int last;
    const int tid = threadIdx.x, lane = tid & (LLMC_WARP - 1), warp = tid >> LLMC_WARP_LOG2;
    const int g = lane >> 2, t = lane & 3;
    const int m0 = blockIdx.x * MP, P = gridDim.y, bk = blockIdx.y;
    const int u0 = (int)((int64_t)bk * U / P), u1 = (int)((int64_t)(bk + 1) * U / P);
    if (u0 >= u1)
        return;

    /* weight row of n8 tile j of tile `tile` for this lane (EPI 2: n8 tile 2i the gate rows and 2i + 1
     * the up rows of the tile's outputs 8i .. 8i + 7) */
    auto wrow = [&](int tile, int j) {
        if (epi_glu(EPI)) {
            const int o = tile * (TPB / 2) + (warp * NJ / 2 + j / 2) * 8 + g;
            return (j & 1) ? o + N / 2 : o;
        }
        return tile * TPB + (warp * NJ + j) * 8 + g;
    };
    /* the weights and scales of one unit's rounds in flight */
    u4 q[R][NJ];
    QPar<WK, G> p[R][NJ];
    auto wload = [&](int u, int r) {
        const int tile = u / NCT, c = u % NCT;
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            const int n = wrow(tile, j);
            q[r][j] = ld16_stream(w + n * RB + c * CB + 64 * r + 16 * t);
            if constexpr (QmFmt<WK>::SP)
                qpar<WK, K, G>(wq, n, (int64_t)c * 8 + t + 4 * r, p[r][j]);
        }
    };
#pragma unroll
    for (int r = 0; r < R; r++)
        wload(u0, r);

    pdl_wait(); /* the activations (and the partials and counters) come from earlier kernels */

    /* activations: stage s holds rows m0 .. m0 + MP of a unit's chunk (zero rows past T; written out
     * here: through a shared helper ptxas spilled the u4 asym g32 variant on sm_80) */
    auto aload = [&](int u, int s) {
        const int c = u % NCT;
#pragma unroll
        for (int i = 0; i < MP * GR / NT; i++) {
            const int idx = tid + i * NT, rr = idx / GR, cc = idx % GR, m = m0 + rr;
            cp_async16(qsm + (s * MP + rr) * LD + cc * 8, xh + (int64_t)(m < T ? m : 0) * K + (int64_t)c * KC + cc * 8,
                       m < T ? 16 : 0);
        }
    };
#pragma unroll
    for (int s = 0; s < ST - 1; s++) {
        if (u0 + s < u1)
            aload(u0 + s, s);
        cp_async_commit();
    }

    float acc[MI][NJ][4];
    mma_zero(acc);
    const uint32_t abase = smem_addr(qsm) + g * LDB;
    for (int u = u0; u < u1; u++) {
        cp_async_wait<ST - 2>();
        __syncthreads(); /* unit u's stage landed for everyone; the one before is free */
        if (u + ST - 1 < u1)
            aload(u + ST - 1, (u - u0 + ST - 1) % ST);
        cp_async_commit();
        const uint32_t arow = abase + ((u - u0) % ST) * MP * LDB;
#pragma unroll
        for (int r = 0; r < R; r++) {
            u4 qq[NJ];
            QPar<WK, G> pp[NJ];
#pragma unroll
            for (int j = 0; j < NJ; j++) {
                qq[j] = q[r][j];
                pp[j] = p[r][j];
            }
            if (u + 1 < u1)
                wload(u + 1, r);
            qm_round<WK, G, MI, NJ, LDB>(acc, qq, pp, arow, r, t);
        }
        if ((u + 1) % NCT != 0 && u + 1 != u1)
            continue;
        qm_finish<WK, N, MI, NJ, W, U, NCT, SY, SR, EPI>(acc, wrow, u / NCT, u0, u1, wq, b, y, T, res, part, cnt, last);
    }
    cp_async_wait<0>();
    pdl_release();
}

/* Shared memory of gemm_q: ST stages of 16 MI rows of a chunk (padded), and the partials' floats
 * a block (gridDim.y of them a row tile). */
template <int WK, int MI, int ST>
constexpr int gemm_q_smem()
{
    return ST * 16 * MI * (QmFmt<WK>::KC + QmFmt<WK>::PAD) * 2;
}
template <int MI, int NJ, int W>
constexpr int gemm_q_part() { return 2 * 16 * MI * W * NJ * 8; }

#endif /* LLMC_PTX */

#endif
