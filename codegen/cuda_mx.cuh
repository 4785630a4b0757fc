/* cuda_mx.cuh — the matmul of the AMD path's wide steps (prefill, batched decode of more than 8
 * rows; emitter: cuda_matmul.c): gemm_mx, y = x w^T over bf16/f16 operands (x: rows a conversion or
 * norm kernel wrote, rows_to_half; w: the weights, or a quantized matrix dequant_half wrote), on the
 * image's matrix instructions (MX, by default gpu_port.cuh's LLMC_MX):
 *   LLMC_MX_WMMA  RDNA 3/3.5 v_wmma_f32_16x16x16_{f16,bf16} (wave32): a wave's 16 x 16 tile of sums,
 *                 K in steps of 16; lane l holds A row l % 16 and B column l % 16 (all 16 k each;
 *                 lanes 16-31 repeat 0-15) and sums (2 i + l / 16, l % 16), i < 8.
 *   LLMC_MX_MFMA  CDNA 3 v_mfma_f32_16x16x16_{f16,bf16} (wave64): lane l holds A row l % 16 and B
 *                 column l % 16 at k 4 (l / 16) + 0..3, sums (4 (l / 16) + i, l % 16), i < 4.
 *   LLMC_MX_NONE  plain FMAs from LDS (a target without matrix instructions).
 * (Fragment layouts as AMD documents them for these instructions, and as llama.cpp's HIP tiles use
 * them (ggml-cuda/mma.cuh: RDNA3 sums at rows 2 l + lane / 16, CDNA3's at 4 (lane / 16) + l); no AMD
 * GPU has run them here.)
 * On NVIDIA (the check target, amd-on-sm_90, and bench/amd_check.cu) both matrix steps are
 * emulated with the same fragments: WMMA by lane shuffles within a warp, MFMA's 64-lane wave by two
 * warps exchanging their fragments through shared memory; the products summed in f32 in k order.
 * So the tile logic an AMD image runs (which lane loads what, where each sum lands) is checked on
 * NVIDIA hardware; the instructions themselves are not.
 *
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

DEV float mx_half(uint16_t h, int bf) { return bf ? bf16_to_f32(h) : f16_to_f32(h); }

/* c += A B for a wave32 lane's fragments: a = its row's 16 values of A, b = its column's 16 of B
 * (bf16 when BF, else f16, as 16-bit words), c its 8 sums. */
template <int BF>
DEV void mx_wmma(float (&c)[8], const uint16_t (&a)[16], const uint16_t (&b)[16])
{
#if defined(__HIP__) && LLMC_MX == LLMC_MX_WMMA
    typedef _Float16 v16h __attribute__((ext_vector_type(16)));
    typedef short v16s __attribute__((ext_vector_type(16)));
    typedef float v8f __attribute__((ext_vector_type(8)));
    v8f acc;
#pragma unroll
    for (int i = 0; i < 8; i++)
        acc[i] = c[i];
    if constexpr (BF)
        acc = __builtin_amdgcn_wmma_f32_16x16x16_bf16_w32(__builtin_bit_cast(v16s, a), __builtin_bit_cast(v16s, b), acc);
    else
        acc = __builtin_amdgcn_wmma_f32_16x16x16_f16_w32(__builtin_bit_cast(v16h, a), __builtin_bit_cast(v16h, b), acc);
#pragma unroll
    for (int i = 0; i < 8; i++)
        c[i] = acc[i];
#elif defined(__HIP__)
    (void)c, (void)a, (void)b;
    llmc_trap(); /* no WMMA on this arch: never instantiated with this MX */
#else
    const int l = threadIdx.x & 31;
    float bv[16];
#pragma unroll
    for (int k = 0; k < 16; k++)
        bv[k] = mx_half(b[k], BF);
#pragma unroll
    for (int i = 0; i < 8; i++) {
        const int r = 2 * i + (l >> 4); /* the row of A sum i needs: lane r holds it */
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < 16; k++)
            s += mx_half((uint16_t)shfl_idx((uint32_t)a[k], r), BF) * bv[k];
        c[i] += s;
    }
#endif
}

/* c += A B for a wave64 lane's fragments: a = its row's 4 values of A at k 4 (l / 16) + 0..3, b =
 * its column's 4 of B at the same k, c its 4 sums. */
template <int BF>
DEV void mx_mfma(float (&c)[4], const uint16_t (&a)[4], const uint16_t (&b)[4])
{
#if defined(__HIP__) && LLMC_MX == LLMC_MX_MFMA
    typedef short v4s __attribute__((ext_vector_type(4)));
    typedef _Float16 v4h __attribute__((ext_vector_type(4)));
    typedef float v4f __attribute__((ext_vector_type(4)));
    v4f acc = {c[0], c[1], c[2], c[3]};
    if constexpr (BF)
        acc = __builtin_amdgcn_mfma_f32_16x16x16bf16_1k(__builtin_bit_cast(v4s, a), __builtin_bit_cast(v4s, b), acc, 0, 0, 0);
    else
        acc = __builtin_amdgcn_mfma_f32_16x16x16f16(__builtin_bit_cast(v4h, a), __builtin_bit_cast(v4h, b), acc, 0, 0, 0);
#pragma unroll
    for (int i = 0; i < 4; i++)
        c[i] = acc[i];
#elif defined(__HIP__)
    (void)c, (void)a, (void)b;
    llmc_trap(); /* no MFMA on this arch: never instantiated with this MX */
#else
    /* the wave: threads 64 w .. 64 w + 63, two warps; their fragments through shared memory, the
     * wave's own barrier (named barrier 1 + w: __syncthreads keeps 0) around the reads */
    __shared__ uint16_t fa[4][64][4], fb[4][64][4];
    const int w = threadIdx.x >> 6, l = threadIdx.x & 63;
#pragma unroll
    for (int k = 0; k < 4; k++) {
        fa[w][l][k] = a[k];
        fb[w][l][k] = b[k];
    }
    bar_named(1 + w, 64);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int r = 4 * (l >> 4) + i, col = l & 15;
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < 16; k++) /* A[r][k] is lane r + 16 (k / 4)'s item k % 4; B[k][col] likewise */
            s += mx_half(fa[w][r + 16 * (k >> 2)][k & 3], BF) * mx_half(fb[w][col + 16 * (k >> 2)][k & 3], BF);
        c[i] += s;
    }
    bar_named(1 + w, 64);
#endif
}

/* ---- a wave's fragments, whichever the flavour (flash_mx, cuda_attn_prefill.cuh) ----
 * MxFrag<MX>: WV lanes a wave; a lane gives KPL values of k of its A row and of its B column (l % 16),
 * from k k0(l); it holds NC sums of the 16 x 16 tile, those of its column l % 16 at rows row(l, i). */
template <int MX>
struct MxFrag;
template <>
struct MxFrag<LLMC_MX_WMMA> {
    enum { WV = 32, KPL = 16, NC = 8 };
    DEV int k0(int) { return 0; }
    DEV int row(int l, int i) { return 2 * i + (l >> 4); }
};
template <>
struct MxFrag<LLMC_MX_MFMA> {
    enum { WV = 64, KPL = 4, NC = 4 };
    DEV int k0(int l) { return 4 * (l >> 4); }
    DEV int row(int l, int i) { return 4 * (l >> 4) + i; }
};

/* c += A B, a wave's 16 x 16 x 16 step in flavour MX (bf16 operands when BF, else f16). */
template <int MX, int BF>
DEV void mx_step(float (&c)[MxFrag<MX>::NC], const uint16_t (&a)[MxFrag<MX>::KPL], const uint16_t (&b)[MxFrag<MX>::KPL])
{
    if constexpr (MX == LLMC_MX_WMMA)
        mx_wmma<BF>(c, a, b);
    else
        mx_mfma<BF>(c, a, b);
}

/* v combined (the maximum when MAX, else the sum) over the lanes of a wave that hold sums of the same
 * column of a tile (l % 16): lanes l and l ^ 16 (WMMA), l % 16 + 16 j (MFMA: across the halves of the
 * wave too: ds_bpermute over its 64 lanes on AMD, the two warps through shared memory on NVIDIA).
 * Every lane of the wave takes part and gets the same bits (both operations commute). */
template <int MX, int MAX>
DEV float mx_col_reduce(float v)
{
    v = MAX ? fmaxf(v, shfl_xor(v, 16)) : v + shfl_xor(v, 16);
    if constexpr (MX == LLMC_MX_MFMA) {
#if defined(__HIP__)
        const float o = __builtin_bit_cast(float, __builtin_amdgcn_ds_bpermute((llmc_wave_lane() ^ 32) << 2,
                                                                               __builtin_bit_cast(int, v)));
#else
        __shared__ float fx[4][64];
        const int w = threadIdx.x >> 6, l = threadIdx.x & 63;
        fx[w][l] = v;
        bar_named(1 + w, 64);
        const float o = fx[w][l ^ 32];
        bar_named(1 + w, 64);
#endif
        v = MAX ? fmaxf(v, o) : v + o;
    }
    return v;
}

/* A lane's sums of a tile (rows: the k of the next step), rounded to f16, as its B operand of the
 * next step: the values of its column at k k0(l) .. + KPL - 1. MFMA: its own sums (rows 4 (l / 16) +
 * i); WMMA: its rows 2 i + l / 16 and those of lane l ^ 16, exchanged as f16 pairs. */
template <int MX>
DEV void mx_sums_to_b(const float (&c)[MxFrag<MX>::NC], uint16_t (&b)[MxFrag<MX>::KPL])
{
    if constexpr (MX == LLMC_MX_MFMA) {
#pragma unroll
        for (int i = 0; i < 4; i++)
            b[i] = f32_to_f16(c[i]);
    } else {
        const int h = (threadIdx.x >> 4) & 1;
#pragma unroll
        for (int i = 0; i < 8; i += 2) {
            const uint32_t own = (uint32_t)f32_to_f16(c[i]) | (uint32_t)f32_to_f16(c[i + 1]) << 16;
            const uint32_t oth = shfl_xor(own, 16);
            const uint32_t ev = h ? oth : own, od = h ? own : oth; /* rows 2 i, 2 i + 2; 2 i + 1, 2 i + 3 */
            b[2 * i] = (uint16_t)ev;
            b[2 * i + 1] = (uint16_t)od;
            b[2 * i + 2] = (uint16_t)(ev >> 16);
            b[2 * i + 3] = (uint16_t)(od >> 16);
        }
    }
}

/* ---- the block ---- */

template <int BF, int K, int N, int SY, int SR, int EPI, int MX = LLMC_MX, int BM = 64, int BN = 64>
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
    const int n0 = blockIdx.y * (epi_glu(EPI) ? BN / 2 : BN);
    auto wrow = [&](int r) {
        if (!epi_glu(EPI))
            return n0 + r < N ? n0 + r : -1;
        const int j = n0 + (r % (BN / 2));
        return j < N / 2 ? j + (r >= BN / 2 ? N / 2 : 0) : -1;
    };
    /* this thread's 16-byte piece of each slice: row tid / 4, halves 8 (tid % 4) .. + 7 */
    const int lr = tid / 4, lc = 8 * (tid % 4), wn = wrow(lr);
    const uint16_t *xp = m0 + lr < T ? x + (int64_t)(m0 + lr) * K + lc : 0;
    const uint16_t *wp = wn >= 0 ? w + (int64_t)wn * K + lc : 0;
    /* WMMA: 8 waves of 32, 2 subtiles each; MFMA: 4 waves of 64, 4 each; FMA: 4 x 4 sums a thread */
    constexpr int WV = MX == LLMC_MX_MFMA ? 64 : 32, NS = MX == LLMC_MX_MFMA ? 4 : 2, NC = MX == LLMC_MX_MFMA ? 4 : 8;
    const int wave = tid / WV, l = tid % WV;
    const int tm = (tid / 16) * 4, tn = (tid % 16) * 4;
    float acc[MX == LLMC_MX_WMMA || MX == LLMC_MX_MFMA ? NS : 4][MX == LLMC_MX_WMMA || MX == LLMC_MX_MFMA ? NC : 4] = {};
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
        if constexpr (MX == LLMC_MX_WMMA) {
#pragma unroll
            for (int s = 0; s < NS; s++) {
                const int st = NS * wave + s, sm = st / 4, sn = st % 4;
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
        } else if constexpr (MX == LLMC_MX_MFMA) {
#pragma unroll
            for (int s = 0; s < NS; s++) {
                const int st = NS * wave + s, sm = st / 4, sn = st % 4;
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
        } else {
#pragma unroll 4
            for (int k = 0; k < BK; k++) {
                float av[4], bv[4];
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    av[i] = mx_half(As[tm + i][k], BF);
                    bv[i] = mx_half(Bs[tn + i][k], BF);
                }
#pragma unroll
                for (int i = 0; i < 4; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++)
                        acc[i][j] += av[i] * bv[j];
            }
        }
    }
    /* the sums into LDS, tile coordinates */
    if constexpr (MX == LLMC_MX_WMMA || MX == LLMC_MX_MFMA) {
#pragma unroll
        for (int s = 0; s < NS; s++) {
            const int st = NS * wave + s, sm = st / 4, sn = st % 4;
#pragma unroll
            for (int i = 0; i < NC; i++)
                Cs[16 * sm + (MX == LLMC_MX_WMMA ? 2 * i + (l >> 4) : 4 * (l >> 4) + i)][16 * sn + (l & 15)] = acc[s][i];
        }
    } else {
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++)
                Cs[tm + i][tn + j] = acc[i][j];
    }
    __syncthreads();
    constexpr int NO = epi_glu(EPI) ? BN / 2 : BN;
    for (int e = tid; e < BM * NO; e += blockDim.x) {
        const int r = e / NO, c = e % NO, m = m0 + r;
        if (m >= T)
            continue;
        if (epi_glu(EPI)) {
            const int o = n0 + c;
            if (o < N / 2)
                y[(int64_t)m * SY + o] = glu_act<EPI>(Cs[r][c] + (b ? b[o] : 0.0f)) * (Cs[r][c + BN / 2] + (b ? b[o + N / 2] : 0.0f));
        } else {
            const int n = n0 + c;
            if (n < N)
                y[(int64_t)m * SY + n] = Cs[r][c] + (b ? b[n] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n] : 0.0f);
        }
    }
}

#endif
