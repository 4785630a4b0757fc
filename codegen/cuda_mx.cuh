/* cuda_mx.cuh — the matmul of the AMD path's wide steps (prefill, batched decode of more than 8
 * rows; emitter: cuda_matmul.c): gemm_mx, y = x w^T over bf16/f16 operands (x: rows a conversion or
 * norm kernel wrote, rows_to_half; w: the weights, or a quantized matrix dequant_half wrote), on the
 * image's matrix instructions (gpu_port.cuh LLMC_MX):
 *   LLMC_MX_WMMA  RDNA 3/3.5 v_wmma_f32_16x16x16_{f16,bf16} (wave32): a wave's 16 x 16 tile of sums,
 *                 K in steps of 16; lane l holds A row l % 16 and B column l % 16 (all 16 k each;
 *                 lanes 16-31 repeat 0-15) and sums (2 i + l / 16, l % 16), i < 8. In the NVIDIA check
 *                 target the same fragments go through mx_wmma's emulation (shuffles, f32 sums).
 *   LLMC_MX_MFMA  CDNA 3 v_mfma_f32_16x16x16_{f16,bf16} (wave64): lane l holds A row l % 16 and B
 *                 column l % 16 at k 4 (l / 16) + 0..3, sums (4 (l / 16) + i, l % 16), i < 4.
 *   LLMC_MX_NONE  plain FMAs from LDS (a target without matrix instructions).
 * A block of 256 threads computes a BM x BN = 64 x 64 tile of sums: K in slices of 32 through LDS
 * (one 16-byte load of x and of w a thread a slice; no asynchronous copies on AMD), the 16 x 16
 * subtiles dealt to the waves (8 waves of 32 two each, or 4 of 64 four each), the sums staged in
 * LDS, then the epilogue by all threads: bias, residual (EPI 1) or SwiGLU (EPI 2: the tile's first
 * BN/2 weight rows are gate rows j0.., its last BN/2 the up rows N/2 + j0..). K % 32 == 0.
 */
#ifndef LLMC_CUDA_MX_CUH
#define LLMC_CUDA_MX_CUH

#include "cuda_epilogue.cuh"

/* ---- one wave's 16 x 16 x 16 step ---- */

#if LLMC_MX == LLMC_MX_WMMA
#if defined(__HIP__)
typedef _Float16 llmc_v16h __attribute__((ext_vector_type(16)));
typedef short llmc_v16s __attribute__((ext_vector_type(16)));
typedef float llmc_v8f __attribute__((ext_vector_type(8)));
#endif
/* c += A B for a lane's fragments: a = its row's 16 values of A, b = its column's 16 of B (bf16
 * when BF, else f16, as 16-bit words), c its 8 sums. */
template <int BF>
DEV void mx_wmma(float (&c)[8], const uint16_t (&a)[16], const uint16_t (&b)[16])
{
#if defined(__HIP__)
    llmc_v8f acc;
#pragma unroll
    for (int i = 0; i < 8; i++)
        acc[i] = c[i];
    if constexpr (BF)
        acc = __builtin_amdgcn_wmma_f32_16x16x16_bf16_w32(__builtin_bit_cast(llmc_v16s, a), __builtin_bit_cast(llmc_v16s, b),
                                                          acc);
    else
        acc = __builtin_amdgcn_wmma_f32_16x16x16_f16_w32(__builtin_bit_cast(llmc_v16h, a), __builtin_bit_cast(llmc_v16h, b),
                                                         acc);
#pragma unroll
    for (int i = 0; i < 8; i++)
        c[i] = acc[i];
#else /* the NVIDIA check target: the same fragments, the products summed in f32 in k order */
    const int l = threadIdx.x & (LLMC_WARP - 1);
    float bf[16];
#pragma unroll
    for (int k = 0; k < 16; k++)
        bf[k] = BF ? bf16_to_f32(b[k]) : f16_to_f32(b[k]);
#pragma unroll
    for (int i = 0; i < 8; i++) {
        const int r = 2 * i + (l >> 4); /* the row of A this lane's sum i needs: lane r holds it */
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < 16; k++) {
            const uint32_t ak = shfl_idx((uint32_t)a[k], r);
            s += (BF ? bf16_to_f32((uint16_t)ak) : f16_to_f32((uint16_t)ak)) * bf[k];
        }
        c[i] += s;
    }
#endif
}
#endif

#if LLMC_MX == LLMC_MX_MFMA
typedef short llmc_v4s __attribute__((ext_vector_type(4)));
typedef _Float16 llmc_v4h __attribute__((ext_vector_type(4)));
typedef float llmc_v4f __attribute__((ext_vector_type(4)));
/* c += A B for a lane's fragments: a = its row's 4 values of A at k 4 (l / 16) + 0..3, b = its
 * column's 4 of B at the same k, c its 4 sums. */
template <int BF>
DEV void mx_mfma(float (&c)[4], const uint16_t (&a)[4], const uint16_t (&b)[4])
{
    llmc_v4f acc = {c[0], c[1], c[2], c[3]};
    if constexpr (BF)
        acc = __builtin_amdgcn_mfma_f32_16x16x16bf16_1k(__builtin_bit_cast(llmc_v4s, a), __builtin_bit_cast(llmc_v4s, b), acc,
                                                        0, 0, 0);
    else
        acc = __builtin_amdgcn_mfma_f32_16x16x16f16(__builtin_bit_cast(llmc_v4h, a), __builtin_bit_cast(llmc_v4h, b), acc, 0,
                                                    0, 0);
#pragma unroll
    for (int i = 0; i < 4; i++)
        c[i] = acc[i];
}
#endif

/* ---- the block ---- */

template <int BF, int K, int N, int SY, int SR, int EPI, int BM = 64, int BN = 64>
DEV void gemm_mx(const uint16_t *__restrict__ w, const uint16_t *__restrict__ x, const float *__restrict__ b,
                 float *__restrict__ y, int T, const float *__restrict__ res)
{
    static_assert(K % 32 == 0 && BM == 64 && BN == 64, "gemm_mx: K a multiple of 32, 64 x 64 tiles");
    constexpr int BK = 32, LD = BK + 8; /* LDS rows padded by 16 bytes */
    __shared__ __align__(16) uint16_t As[BM][LD];
    __shared__ __align__(16) uint16_t Bs[BN][LD];
    __shared__ float Cs[BM][BN + 1];
    const int tid = threadIdx.x, m0 = blockIdx.x * BM;
    /* tile row r of B: weight row n0 + r, or (SwiGLU) gate row j0 + r / up row N/2 + j0 + r - BN/2 */
    const int n0 = blockIdx.y * (EPI == 2 ? BN / 2 : BN);
    auto wrow = [&](int r) {
        if (EPI != 2)
            return n0 + r < N ? n0 + r : -1;
        const int j = n0 + (r % (BN / 2));
        return j < N / 2 ? j + (r >= BN / 2 ? N / 2 : 0) : -1;
    };
    /* this thread's 16-byte piece of each slice: row tid / 4, halves 8 (tid % 4) .. + 7 */
    const int lr = tid / 4, lc = 8 * (tid % 4), wn = wrow(lr);
    const uint16_t *xp = m0 + lr < T ? x + (int64_t)(m0 + lr) * K + lc : 0;
    const uint16_t *wp = wn >= 0 ? w + (int64_t)wn * K + lc : 0;

#if LLMC_MX == LLMC_MX_WMMA
    const int wave = tid / 32, l = tid & 31;
    float acc[2][8] = {};
#elif LLMC_MX == LLMC_MX_MFMA
    const int wave = tid / 64, l = tid & 63;
    float acc[4][4] = {};
#else
    const int tm = (tid / 16) * 4, tn = (tid % 16) * 4;
    float acc[4][4] = {};
#endif
    for (int k0 = 0; k0 < K; k0 += BK) {
        uint4 xa = make_uint4(0, 0, 0, 0), wb = make_uint4(0, 0, 0, 0);
        if (xp)
            xa = *(const uint4 *)(xp + k0);
        if (wp)
            wb = *(const uint4 *)(wp + k0);
        __syncthreads(); /* the previous slice is consumed */
        *(uint4 *)&As[lr][lc] = xa;
        *(uint4 *)&Bs[lr][lc] = wb;
        __syncthreads();
#if LLMC_MX == LLMC_MX_WMMA
#pragma unroll
        for (int s = 0; s < 2; s++) {
            const int st = 2 * wave + s, sm = st / 4, sn = st % 4;
#pragma unroll
            for (int kk = 0; kk < BK; kk += 16) {
                uint16_t a[16], bb[16];
#pragma unroll
                for (int k = 0; k < 16; k++) {
                    a[k] = As[16 * sm + (l & 15)][kk + k];
                    bb[k] = Bs[16 * sn + (l & 15)][kk + k];
                }
                mx_wmma<BF>(acc[s], a, bb);
            }
        }
#elif LLMC_MX == LLMC_MX_MFMA
#pragma unroll
        for (int s = 0; s < 4; s++) {
            const int st = 4 * wave + s, sm = st / 4, sn = st % 4;
#pragma unroll
            for (int kk = 0; kk < BK; kk += 16) {
                uint16_t a[4], bb[4];
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    a[k] = As[16 * sm + (l & 15)][kk + 4 * (l >> 4) + k];
                    bb[k] = Bs[16 * sn + (l & 15)][kk + 4 * (l >> 4) + k];
                }
                mx_mfma<BF>(acc[s], a, bb);
            }
        }
#else
#pragma unroll 4
        for (int k = 0; k < BK; k++) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                av[i] = BF ? bf16_to_f32(As[tm + i][k]) : f16_to_f32(As[tm + i][k]);
                bv[i] = BF ? bf16_to_f32(Bs[tn + i][k]) : f16_to_f32(Bs[tn + i][k]);
            }
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    acc[i][j] += av[i] * bv[j];
        }
#endif
    }
    /* the sums into LDS, tile coordinates */
#if LLMC_MX == LLMC_MX_WMMA
#pragma unroll
    for (int s = 0; s < 2; s++) {
        const int st = 2 * wave + s, sm = st / 4, sn = st % 4;
#pragma unroll
        for (int i = 0; i < 8; i++)
            Cs[16 * sm + 2 * i + (l >> 4)][16 * sn + (l & 15)] = acc[s][i];
    }
#elif LLMC_MX == LLMC_MX_MFMA
#pragma unroll
    for (int s = 0; s < 4; s++) {
        const int st = 4 * wave + s, sm = st / 4, sn = st % 4;
#pragma unroll
        for (int i = 0; i < 4; i++)
            Cs[16 * sm + 4 * (l >> 4) + i][16 * sn + (l & 15)] = acc[s][i];
    }
#else
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
            Cs[tm + i][tn + j] = acc[i][j];
#endif
    __syncthreads();
    constexpr int NO = EPI == 2 ? BN / 2 : BN;
    for (int e = tid; e < BM * NO; e += blockDim.x) {
        const int r = e / NO, c = e % NO, m = m0 + r;
        if (m >= T)
            continue;
        if (EPI == 2) {
            const int o = n0 + c;
            if (o < N / 2)
                y[(int64_t)m * SY + o] = silu(Cs[r][c] + (b ? b[o] : 0.0f)) * (Cs[r][c + BN / 2] + (b ? b[o + N / 2] : 0.0f));
        } else {
            const int n = n0 + c;
            if (n < N)
                y[(int64_t)m * SY + n] = Cs[r][c] + (b ? b[n] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n] : 0.0f);
        }
    }
}

#endif
