/* cuda_mma.cuh — the mma.sync (m16n8k16, sm_80+) matmuls of prefill and wide steps (emitter:
 * cuda_matmul.c): gemm_tc (f32 activations converted on their way to shared memory) and gemm_h
 * (bf16/f16 activations a norm or conversion kernel wrote), one tile implementation under both: its
 * geometry (MmaTile), the warp's position and accumulators, the warp's k-tile of mma tiles and the
 * epilogue walk over its fragments.
 */
#ifndef LLMC_CUDA_MMA_CUH
#define LLMC_CUDA_MMA_CUH

#include "cuda_epilogue.cuh"

#if LLMC_PTX /* ldmatrix, mma.sync, cp.async: NVIDIA only (gpu_port.cuh) */

/* ---- the tile of both mma.sync matmuls ----
 * A block tile BM x BN x BK on WM x WN warps, each warp a (BM/WM) x (BN/WN) tile of MI x NJ
 * m16n8k16 mma tiles with f32 accumulators; both operands K-major in shared memory, rows LD = BK + 8
 * halves apart (conflict-free ldmatrix). gemm_tc and gemm_h differ only in how the operands reach
 * shared memory and in their pipelines. */

DEV void ldm_x4(uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(smem_addr(p)));
}
DEV void ldm_x4_t(uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(smem_addr(p)));
}
template <int BF>
DEV void mma16816(float *c, const uint32_t *a, const uint32_t *b)
{
    if (BF)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/* The geometry of the tile: threads, mma tiles a warp, the shared-memory row stride. */
template <int BM, int BN, int BK, int WM, int WN>
struct MmaTile {
    enum { NT = LLMC_WARP * WM * WN, MI = BM / WM / 16, NJ = BN / WN / 8, LD = BK + 8 };
};
/* The warp's offsets wm, wn in the block tile. */
template <int BM, int BN, int WM, int WN>
DEV void mma_warp_pos(int warp, int &wm, int &wn)
{
    wm = (warp / WN) * (BM / WM);
    wn = (warp % WN) * (BN / WN);
}
/* The warp's accumulators, zeroed. */
template <int MI, int NJ>
DEV void mma_zero(float (&acc)[MI][NJ][4])
{
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int q = 0; q < 4; q++)
                acc[i][j][q] = 0.0f;
}

/* One k-tile of a warp's MI x NJ mma tiles from a shared-memory stage (A: BM rows, B: BN rows, both
 * K-major with row stride LD halves); wm, wn: the warp's offsets in the block tile. */
template <int BF, int MI, int NJ, int BK, int LD>
DEV void gemm_mma_stage(float (&acc)[MI][NJ][4], const uint16_t (*A)[LD], const uint16_t (*B)[LD], int wm, int wn,
                        int lane)
{
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
        uint32_t af[MI][4], bfr[NJ][2];
#pragma unroll
        for (int i = 0; i < MI; i++)
            ldm_x4(af[i][0], af[i][1], af[i][2], af[i][3], &A[wm + i * 16 + (lane & 15)][kk + (lane >> 4) * 8]);
#pragma unroll
        for (int j = 0; j < NJ; j += 2)
            ldm_x4(bfr[j][0], bfr[j][1], bfr[j + 1][0], bfr[j + 1][1],
                   &B[wn + j * 8 + (lane & 7) + ((lane >> 4) << 3)][kk + ((lane >> 3) & 1) * 8]);
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int j = 0; j < NJ; j++)
                mma16816<BF>(acc[i][j], af[i], bfr[j]);
    }
}

/* The epilogue over the warp's fragments: acc[i][j][2h + e] is row m0 + wm + 16i + lane/4 + 8h,
 * tile column wn + 8j + 2(lane%4) + e; rows past T are skipped. EPI 2 without a split: the tile
 * interleaves gate and up rows by 8, so fragment j + 1 holds the up sums of fragment j's outputs. */
template <int N, int SY, int SR, int EPI, int SPLIT, int MI, int NJ>
DEV void mma_store(const float (&acc)[MI][NJ][4], float *y, const float *b, const float *res, int T, int m0, int n0,
                   int wm, int wn, int lane)
{
    const int g = lane >> 2, c2 = (lane & 3) * 2;
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            if (epi_glu(EPI) && SPLIT == 1 && (j & 1)) /* the up sums, taken with the gate sums of j - 1 */
                continue;
            const int jj = epi_glu(EPI) && SPLIT == 1 ? j + 1 : j;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int m = m0 + wm + i * 16 + g + h * 8;
                if (m < T)
                    gemm_store2<N, SY, SR, EPI, SPLIT>(y, b, res, m, n0, wn + j * 8 + c2, acc[i][j][2 * h],
                                                      acc[i][j][2 * h + 1], acc[i][jj][2 * h], acc[i][jj][2 * h + 1]);
            }
        }
}

/* ---- matmul, tensor cores (prefill, batched decode) ----
 * mma.sync m16n8k16 with f32 accumulators. Block tile 64 tokens x 64 outputs x 32 k, 4 warps of
 * 32 x 32; A (f32 activations) is converted to bf16/f16 on its way to shared memory, B (weights)
 * comes by cp.async; two shared-memory stages. Needs K % 32 == 0 and 16-byte aligned rows. */

template <int BF, int K, int N, int SX, int SY, int SR = 0, int SPLIT = 1, int BM = 64, int BN = 64, int WM = 2,
          int WN = 2>
DEV void gemm_tc(const uint16_t *w, const float *x, const float *b, float *y, int T, const float *res = 0)
{
    /* SPLIT > 1: block z computes the K slice z of SPLIT and writes raw partial sums to
     * y + z * T * N ([z][T][N], no bias or residual): gemm_reduce finishes them. */
    constexpr int BK = 32;
    typedef MmaTile<BM, BN, BK, WM, WN> Tile;
    constexpr int NT = Tile::NT, MI = Tile::MI, NJ = Tile::NJ, LD = Tile::LD;
    constexpr int AV = BM * BK / 4 / NT, BV = BN * BK * 2 / 16 / NT; /* float4 / 16-byte loads per thread */
    __shared__ __align__(16) uint16_t As[2][BM][LD];
    __shared__ __align__(16) uint16_t Bs[2][BN][LD];
    const int tid = threadIdx.x, lane = tid & (LLMC_WARP - 1), warp = tid >> LLMC_WARP_LOG2;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    int wm, wn;
    mma_warp_pos<BM, BN, WM, WN>(warp, wm, wn);
    float acc[MI][NJ][4];
    mma_zero(acc);
    float4 ra[AV];
    auto load_a = [&](int kt) {
#pragma unroll
        for (int i = 0; i < AV; i++) {
            const int idx = tid + i * NT, r = idx >> 3, c = (idx & 7) * 4;
            const int m = m0 + r;
            ra[i] = m < T ? __ldg((const float4 *)(x + (int64_t)m * SX + kt * BK + c)) : make_float4(0, 0, 0, 0);
        }
    };
    auto store_a = [&](int s) {
#pragma unroll
        for (int i = 0; i < AV; i++) {
            const int idx = tid + i * NT, r = idx >> 3, c = (idx & 7) * 4;
            uint2 v = make_uint2(pack2(ra[i].x, ra[i].y, BF), pack2(ra[i].z, ra[i].w, BF));
            *(uint2 *)&As[s][r][c] = v;
        }
    };
    auto load_b = [&](int kt, int s) {
#pragma unroll
        for (int i = 0; i < BV; i++) {
            const int idx = tid + i * NT, r = idx >> 2, c = (idx & 3) * 8;
            const int n = n0 + r;
            const uint16_t *src = w + (int64_t)(n < N ? n : 0) * K + kt * BK + c;
            cp_async16(&Bs[s][r][c], src, n < N ? 16 : 0);
        }
    };
    constexpr int KT = K / BK / SPLIT;
    const int kt0 = SPLIT > 1 ? (int)blockIdx.z * KT : 0;
    if (SPLIT > 1)
        y += (int64_t)blockIdx.z * T * N;
    x += kt0 * BK;
    w += kt0 * BK;
    load_a(0);
    load_b(0, 0);
    cp_async_commit();
    store_a(0);
    for (int kt = 0; kt < KT; kt++) {
        const int s = kt & 1;
        if (kt + 1 < KT) {
            load_a(kt + 1);
            load_b(kt + 1, s ^ 1);
        }
        cp_async_commit();
        cp_async_wait1();
        __syncthreads();
        gemm_mma_stage<BF, MI, NJ, BK, LD>(acc, As[s], Bs[s], wm, wn, lane);
        __syncthreads();
        if (kt + 1 < KT)
            store_a(s ^ 1);
    }
    cp_async_wait0();
    mma_store<N, SY, SR, SR ? 1 : 0, SPLIT>(acc, y, b, res, T, m0, n0, wm, wn, lane);
}

/* ---- matmul, tensor cores, half activations (prefill and wide steps) ----
 * x: bf16/f16 rows [T][SX] that a norm or a conversion kernel wrote (scratch); w: weights [N][K].
 * Block tile BM x BN x BK on WM x WN warps (grid: row tiles x column tiles); ST cp.async stages of
 * both operands in dynamic shared memory (ST * (BM + BN) * (BK + 8) halves), one barrier a k-tile. Epilogues: EPI 0 y = acc (+ b); 1 y =
 * res + acc (+ b); 2 SwiGLU: the tile's columns interleave gate and up rows by 8 (tile column c reads
 * weight row n0/2 + (c/16)*8 + c%8, plus N/2 for the up half when c%16 >= 8), so a thread holds the
 * gate and up sums of one output in acc[i][j] and acc[i][j+1] and y is N/2 wide.
 * SPLIT > 1: block z sums the K slice z and writes raw partials to y + z*T*N in weight-row order
 * (gemm_reduce applies the epilogue). Needs K % (BK * SPLIT) == 0, 16-byte aligned rows. */

template <int BF, int K, int N, int SX, int SY, int SR, int EPI, int SPLIT, int BM, int BN, int WM, int WN, int ST,
          int BK = 32>
DEV void gemm_h(const uint16_t *__restrict__ w, const uint16_t *__restrict__ x, const float *__restrict__ b,
                float *__restrict__ y, int T, const float *__restrict__ res)
{
    typedef MmaTile<BM, BN, BK, WM, WN> Tile;
    constexpr int NT = Tile::NT, MI = Tile::MI, NJ = Tile::NJ, LD = Tile::LD;
    constexpr int CPR = BK / 8; /* 16-byte chunks a row */
    constexpr int AV = BM * BK / 8 / NT, BV = BN * BK / 8 / NT; /* 16-byte copies a thread per stage */
    constexpr int SWZ = epi_glu(EPI);
    static_assert(AV * NT == BM * BK / 8 && BV * NT == BN * BK / 8, "tile not a multiple of the block");
    static_assert(NJ % 2 == 0 && K % BK == 0 && (K / BK) % SPLIT == 0, "tile shape");
    extern __shared__ __align__(16) uint16_t gsm[];
    uint16_t(*As)[BM][LD] = (uint16_t(*)[BM][LD])gsm;
    uint16_t(*Bs)[BN][LD] = (uint16_t(*)[BN][LD])(gsm + ST * BM * LD);
    const int tid = threadIdx.x, lane = tid & (LLMC_WARP - 1), warp = tid >> LLMC_WARP_LOG2;
    /* Row tiles vary fastest (blockIdx.x): the blocks that share a weight tile run together, so
     * each weight is read from memory about once while the activations stay in L2. */
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    int wm, wn;
    mma_warp_pos<BM, BN, WM, WN>(warp, wm, wn);
    constexpr int KT = K / BK / SPLIT;
    const int kt0 = SPLIT > 1 ? (int)blockIdx.z * KT : 0;
    /* Source rows of this thread's copies (fixed over k): clamped to row 0 and zero-filled outside. */
    const uint16_t *ap[AV], *bp[BV];
    int ab[AV], bb[BV];
#pragma unroll
    for (int i = 0; i < AV; i++) {
        const int idx = tid + i * NT, r = idx / CPR, c = (idx % CPR) * 8, m = m0 + r;
        ap[i] = x + (int64_t)(m < T ? m : 0) * SX + kt0 * BK + c;
        ab[i] = m < T ? 16 : 0;
    }
#pragma unroll
    for (int i = 0; i < BV; i++) {
        const int idx = tid + i * NT, r = idx / CPR, c = (idx % CPR) * 8, n = gemm_wrow<N>(n0, r, SWZ);
        bp[i] = w + (int64_t)(n < N ? n : 0) * K + kt0 * BK + c;
        bb[i] = n < N ? 16 : 0;
    }
    auto load = [&](int kt, int s) {
#pragma unroll
        for (int i = 0; i < AV; i++) {
            const int idx = tid + i * NT;
            cp_async16(&As[s][idx / CPR][(idx % CPR) * 8], ap[i] + kt * BK, ab[i]);
        }
#pragma unroll
        for (int i = 0; i < BV; i++) {
            const int idx = tid + i * NT;
            cp_async16(&Bs[s][idx / CPR][(idx % CPR) * 8], bp[i] + kt * BK, bb[i]);
        }
    };
    float acc[MI][NJ][4];
    mma_zero(acc);
#pragma unroll
    for (int s = 0; s < ST - 1; s++) {
        if (s < KT)
            load(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < KT; kt++) {
        cp_async_wait<ST - 2>();
        __syncthreads(); /* stage kt landed for everyone; stage kt - 1 is free */
        if (kt + ST - 1 < KT)
            load(kt + ST - 1, (kt + ST - 1) % ST);
        cp_async_commit();
        gemm_mma_stage<BF, MI, NJ, BK, LD>(acc, As[kt % ST], Bs[kt % ST], wm, wn, lane);
    }
    cp_async_wait<0>();
    if (SPLIT > 1)
        y += (int64_t)blockIdx.z * T * N;
    mma_store<N, SY, SR, EPI, SPLIT>(acc, y, b, res, T, m0, n0, wm, wn, lane);
}

#endif /* LLMC_PTX */

#endif
