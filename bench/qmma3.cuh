/* qmma3.cuh — an experiment on gemm_q (codegen/cuda_qmma.cuh), kept in bench/ until it is measured:
 * the weights, their scales and zeros come through the same cp.async shared-memory ring as the
 * activations, ST units deep, instead of one unit ahead in registers.
 *
 * Why: on an H100 gemm_q reads u4 at 45% of the copy bandwidth, fp8 70%, bf16 83-90%
 * (bench/NOTES.md, 2026-12-05): a warp holds only its next unit's weights in flight while a unit's
 * decode and mma chains take less than the memory latency, and u4 has twice the work a byte of
 * fp8. In a ring the bytes in flight are (ST - 1) units a block whatever the registers (u4, 16
 * rows: 3 blocks an SM x 3 units x 8 KB), and the registers the ring no longer holds leave room.
 *
 * Layout of a stage: the activations [16 MI][KC + PAD] halves as in gemm_q; the weights [TPB rows]
 * [CB bytes], 16-byte granule x of row n stored at granule x ^ ((n & 1) << 2) (the 8 lanes of a
 * quarter-warp read 4 granules of two rows: without the swizzle both rows fall on the same banks);
 * u4: the scales [TPB][SB] (SB = 2 KC / G bytes: the groups of a chunk, 4..16 bytes, one cp.async
 * a row) and, with zero points, the zeros likewise. Needs G <= KC (u4: groups of 32, 64, 128).
 * Everything else (work split, fixup, epilogue, fragment pairing) is gemm_q's.
 */
#ifndef LLMC_BENCH_QMMA3_CUH
#define LLMC_BENCH_QMMA3_CUH

#include "../codegen/cuda_qmma.cuh"

DEV void cp_async_ca(uint32_t dst, const void *src, int size) /* 4, 8 or 16 bytes, through L1 */
{
    if (size == 16)
        asm volatile("cp.async.ca.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src));
    else if (size == 8)
        asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(dst), "l"(src));
    else
        asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(dst), "l"(src));
}

template <int WK, int G, int TPB>
struct Q3Stage {
    enum {
        KC = QmFmt<WK>::KC,
        CB = 16 * 4 * QmFmt<WK>::R,           /* weight bytes a chunk of a row */
        SB = FMT_OF(WK) == FMT_U4 ? 2 * (KC / G) : 0,      /* scale (zero) bytes a chunk of a row */
        WB = TPB * CB,                        /* weight bytes a stage */
        QB = WK == (FMT_U4 | WITH_ZERO) ? 2 * TPB * SB : TPB * SB /* scale and zero bytes a stage */
    };
};

/* bytes between activation rows of a stage: f16/bf16 (AF 0) or f32 (AF 1) */
template <int WK, int AF>
__host__ __device__ constexpr int q3_ldb()
{
    return AF ? 4 * QmFmt<WK>::KC + QmFmt<WK>::PADF : 2 * (QmFmt<WK>::KC + QmFmt<WK>::PAD);
}
template <int WK, int G, int MI, int TPB, int ST, int AF = 0>
constexpr int gemm_q3_smem()
{
    return ST * (16 * MI * q3_ldb<WK, AF>() + Q3Stage<WK, G, TPB>::WB + Q3Stage<WK, G, TPB>::QB);
}

/* A slot's scales and zeros (QPar) from a stage's row of SB bytes. */
template <int WK, int G>
DEV void q3_par(uint32_t sa, uint32_t za, QPar<WK, G> &p)
{
    using L = QLane<WK, G>;
    static_assert(L::NS * 2 == 2 * (256 / G), "q3_par: a slot holds the chunk's groups");
#pragma unroll
    for (int i = 0; i < (L::NS + 1) / 2; i++)
        asm volatile("ld.shared.u32 %0, [%1];" : "=r"(p.s2[i]) : "r"(sa + 4 * i));
    if (WFmt<WK>::ZP) {
        p.z = 0;
#pragma unroll
        for (int i = 0; i < L::NS; i++) {
            uint16_t h;
            asm volatile("ld.shared.u16 %0, [%1];" : "=h"(h) : "r"(za + 2 * i));
            p.z |= (uint32_t)f16_to_f32(h) << (4 * i);
        }
    }
}

/* AF 0: xa is the f16/bf16 rows of rows_to_half ([T][K], the format's order); AF 1: the f32 rows
 * themselves ([T][SX]), rounded to f16/bf16 as the fragments are read: no conversion kernel. */
template <int WK, int K, int N, int G, int MI, int NJ, int W, int ST, int EPI, int SY, int SR, int AF = 0, int SX = K>
DEV void gemm_q3(const uint8_t *__restrict__ w, WQ wq, const void *__restrict__ xa, const float *__restrict__ b,
                 float *__restrict__ y, int T, const float *__restrict__ res, float *__restrict__ part,
                 int *__restrict__ cnt)
{
    using F = QmFmt<WK>;
    constexpr int TPB = W * NJ * 8;
    using S = Q3Stage<WK, G, TPB>;
    constexpr int KC = F::KC, R = F::R, LDB = q3_ldb<WK, AF>(), NCT = K / KC, CB = S::CB, SB = S::SB;
    constexpr int NT = W * LLMC_WARP, MP = 16 * MI, GR = AF ? KC / 4 : KC / 8; /* 16-byte granules a row */
    constexpr int64_t RB = (int64_t)CB * NCT;
    constexpr int TILES = N / TPB, U = TILES * NCT, NG = (K + G - 1) / G;
    constexpr int AB = MP * LDB, STB = AB + S::WB + S::QB; /* bytes: activations, a whole stage */
    static_assert(K % KC == 0 && N % TPB == 0, "gemm_q3: whole chunks and tiles");
    static_assert(EPI != 2 || NJ % 2 == 0, "gemm_q3: SwiGLU takes gate and up tiles in pairs");
    static_assert((MP * GR) % NT == 0 && (TPB * CB / 16) % NT == 0, "gemm_q3: stage copies");
    static_assert(FMT_OF(WK) != FMT_U4 || (G <= KC && KC % G == 0 && G >= 32), "gemm_q3: u4 groups of 32, 64 or 128");
    extern __shared__ __align__(16) uint8_t q3sm[];
    __shared__ int last;
    const int tid = threadIdx.x, lane = tid & (LLMC_WARP - 1), warp = tid >> LLMC_WARP_LOG2;
    const int g = lane >> 2, t = lane & 3;
    const int m0 = blockIdx.x * MP, P = gridDim.y, bk = blockIdx.y;
    const int u0 = (int)((int64_t)bk * U / P), u1 = (int)((int64_t)(bk + 1) * U / P);
    if (u0 >= u1)
        return;
    const uint32_t sbase = smem_addr(q3sm);

    /* weight row of n8 tile j (block-relative row rr) of tile `tile` */
    auto trow = [&](int j) { return (warp * NJ + j) * 8 + g; };
    auto wrow = [&](int tile, int rr) {
        if (EPI == 2) { /* block rows: pairs of 8 gate rows, 8 up rows */
            const int o = tile * (TPB / 2) + (rr / 16) * 8 + rr % 8;
            return (rr & 8) ? o + N / 2 : o;
        }
        return tile * TPB + rr;
    };
    /* a unit's copies into stage s: activations; weights, scales (and zeros) */
    auto loada = [&](int u, int s) {
        const int c = u % NCT;
        const uint32_t st = sbase + s * STB;
#pragma unroll
        for (int i = 0; i < MP * GR / NT; i++) {
            const int idx = tid + i * NT, rr = idx / GR, cc = idx % GR, m = m0 + rr;
            const void *src = AF ? (const void *)((const float *)xa + (int64_t)(m < T ? m : 0) * SX + c * KC + cc * 4)
                                 : (const void *)((const uint16_t *)xa + (int64_t)(m < T ? m : 0) * K + c * KC + cc * 8);
            cp_async16_sa(st + rr * LDB + cc * 16, src, m < T ? 16 : 0);
        }
    };
    auto loadw = [&](int u, int s) {
        const int tile = u / NCT, c = u % NCT;
        const uint32_t st = sbase + s * STB;
#pragma unroll
        for (int i = 0; i < TPB * CB / 16 / NT; i++) {
            const int idx = tid + i * NT, rr = idx / (CB / 16), x = idx % (CB / 16);
            cp_async16_sa(st + AB + rr * CB + 16 * (x ^ ((rr & 1) << 2)), w + wrow(tile, rr) * RB + c * CB + 16 * x, 16);
        }
        if constexpr (FMT_OF(WK) == FMT_U4) {
            const int gi = c * (KC / G);
            for (int rr = tid; rr < TPB * (WK == (FMT_U4 | WITH_ZERO) ? 2 : 1); rr += NT) {
                const int zr = rr >= TPB, r2 = rr - zr * TPB;
                const uint16_t *src = (const uint16_t *)(zr ? wq.side[1] : wq.side[0]) + (int64_t)wrow(tile, r2) * NG + gi;
                cp_async_ca(st + AB + S::WB + zr * TPB * SB + r2 * SB, src, SB);
            }
        }
    };

    /* the first units' weights before pdl_wait (under programmatic dependent launch they overlap
     * the previous kernel's tail; the first group waits for all of them) */
#pragma unroll
    for (int s = 0; s < ST - 1; s++)
        if (u0 + s < u1)
            loadw(u0 + s, s);
    pdl_wait(); /* the activations (and the partials and counters) come from earlier kernels */
#pragma unroll
    for (int s = 0; s < ST - 1; s++) {
        if (u0 + s < u1)
            loada(u0 + s, s);
        cp_async_commit();
    }

    float acc[MI][NJ][4];
    mma_zero(acc);
    for (int u = u0; u < u1; u++) {
        cp_async_wait<ST - 2>();
        __syncthreads(); /* unit u's stage landed for everyone; the one before is free */
        if (u + ST - 1 < u1) {
            loadw(u + ST - 1, (u - u0 + ST - 1) % ST);
            loada(u + ST - 1, (u - u0 + ST - 1) % ST);
        }
        cp_async_commit();
        const uint32_t st = sbase + ((u - u0) % ST) * STB, arow = st + g * LDB;
        QPar<WK, G> pp[NJ];
        if constexpr (FMT_OF(WK) == FMT_U4)
#pragma unroll
            for (int j = 0; j < NJ; j++)
                q3_par<WK, G>(st + AB + S::WB + trow(j) * SB, st + AB + S::WB + TPB * SB + trow(j) * SB, pp[j]);
#pragma unroll
        for (int r = 0; r < R; r++) {
            u4 qq[NJ];
#pragma unroll
            for (int j = 0; j < NJ; j++) {
                const int rr = trow(j), x = 4 * r + t;
                asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];"
                             : "=r"(qq[j].x), "=r"(qq[j].y), "=r"(qq[j].z), "=r"(qq[j].w)
                             : "r"(st + AB + rr * CB + 16 * (x ^ ((rr & 1) << 2))));
            }
            qm_round<WK, G, MI, NJ, LDB, AF>(acc, qq, pp, arow, r, t);
        }
        if ((u + 1) % NCT != 0 && u + 1 != u1)
            continue;
        qm_finish<WK, N, MI, NJ, W, U, NCT, SY, SR, EPI>(acc, [&](int tl, int j) { return wrow(tl, trow(j)); },
                                                        u / NCT, u0, u1, wq, b, y, T, res, part, cnt, last);
    }
    cp_async_wait<0>();
    pdl_release();
}

#endif
