/* cuda_epilogue.cuh — the epilogues shared by the tensor-core matmuls (gemm_tc, gemm_h, gemm_wg;
 * emitter: cuda_matmul.c): the SwiGLU tile interleave of weight rows, the store of one pair of sums
 * (bias, residual, SwiGLU or raw split-K partials) and the split-K reduction.
 */
#ifndef LLMC_CUDA_EPILOGUE_CUH
#define LLMC_CUDA_EPILOGUE_CUH

#include "cuda_base.cuh"

/* Weight row of tile column c of the tile at n0: c itself, or with swz (a SwiGLU tile) gate and up
 * rows interleaved by 8 (N when past the matrix). */
template <int N>
DEV int gemm_wrow(int n0, int c, int swz)
{
    if (!swz)
        return n0 + c;
    const int j = n0 / 2 + (c >> 4) * 8 + (c & 7);
    return j < N / 2 ? j + ((c & 8) ? N / 2 : 0) : N;
}

/* The epilogue of the tensor-core matmuls for one pair of sums v0, v1: row m (< T), tile columns c
 * and c + 1 (c even) of the tile at n0. SPLIT > 1: raw partials [T][N] at their weight rows (gemm_reduce
 * finishes them); EPI 2: v0, v1 are gate sums and u0, u1 the up sums of the same outputs (interleaved
 * tile), y is N/2 wide; else y = v (+ bias) (+ the residual, EPI 1). */
template <int N, int SY, int SR, int EPI, int SPLIT>
DEV void gemm_store2(float *__restrict__ y, const float *__restrict__ b, const float *__restrict__ res, int m, int n0,
                     int c, float v0, float v1, float u0, float u1)
{
    if (SPLIT > 1) {
        const int na = gemm_wrow<N>(n0, c, epi_glu(EPI)), nb = gemm_wrow<N>(n0, c + 1, epi_glu(EPI));
        if (na < N)
            y[(int64_t)m * N + na] = v0;
        if (nb < N)
            y[(int64_t)m * N + nb] = v1;
    } else if (epi_glu(EPI)) {
        const int o = n0 / 2 + (c >> 4) * 8 + (c & 7); /* output column */
        if (o < N / 2)
            y[(int64_t)m * SY + o] = glu_act<EPI>(v0 + (b ? b[o] : 0.0f)) * (u0 + (b ? b[o + N / 2] : 0.0f));
        if (o + 1 < N / 2)
            y[(int64_t)m * SY + o + 1] = glu_act<EPI>(v1 + (b ? b[o + 1] : 0.0f)) * (u1 + (b ? b[o + 1 + N / 2] : 0.0f));
    } else {
        const int n = n0 + c;
        if (n < N)
            y[(int64_t)m * SY + n] = v0 + (b ? b[n] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n] : 0.0f);
        if (n + 1 < N)
            y[(int64_t)m * SY + n + 1] = v1 + (b ? b[n + 1] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n + 1] : 0.0f);
    }
}

/* Sums SPLIT partial products [z][T][N] in order z = 0.. (deterministic), then the epilogue: bias,
 * residual (EPI 1) or SwiGLU of columns j and j + N/2 (EPI 2, output N/2 wide). Grid-stride. */
template <int N, int SY, int SR, int SPLIT, int EPI>
DEV void gemm_reduce(const float *__restrict__ part, const float *__restrict__ b, const float *__restrict__ res,
                     float *__restrict__ y, int T)
{
    constexpr int NO = epi_glu(EPI) ? N / 2 : N;
    const int64_t total = (int64_t)T * NO, plane = (int64_t)T * N;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = e / NO;
        const int n = (int)(e % NO);
        float v0 = 0.0f, v1 = 0.0f;
#pragma unroll
        for (int z = 0; z < SPLIT; z++) {
            v0 += part[z * plane + t * N + n];
            if (epi_glu(EPI))
                v1 += part[z * plane + t * N + n + N / 2];
        }
        if (b) {
            v0 += b[n];
            if (epi_glu(EPI))
                v1 += b[n + N / 2];
        }
        y[t * SY + n] = epi_glu(EPI) ? glu_act<EPI>(v0) * v1 : v0 + (EPI == 1 ? res[t * SR + n] : 0.0f);
    }
}

#endif
