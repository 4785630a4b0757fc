/* cuda_norm.cuh — RMSNorm, optionally after the residual add, and RMSNorm of each head (emitter:
 * cuda_norm.c). */
#ifndef LLMC_CUDA_NORM_CUH
#define LLMC_CUDA_NORM_CUH

#include "cuda_base.cuh"

/* ---- RMSNorm, optionally after the residual add (grid: rows) ---- */
template <int ADD, int D, int SA, int SB, int SS, int SY>
DEV void rmsnorm_row(const float *a_, const float *b_, float *s_, const float *w, float *y, float eps)
{
    __shared__ float red[32];
    const int r = blockIdx.x;
    const float *x = a_ + (int64_t)r * SA;
    float ss = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float v = x[d];
        if (ADD) {
            v += b_[(int64_t)r * SB + d];
            s_[(int64_t)r * SS + d] = v;
        }
        ss += v * v;
    }
    ss = block_sum(ss, red);
    const float inv = 1.0f / sqrtf(ss / (float)D + eps);
    const float *xs = ADD ? s_ + (int64_t)r * SS : x; /* each thread rereads what it wrote */
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        y[(int64_t)r * SY + d] = w[d] * (inv * xs[d]);
}

/* ---- RMSNorm of each head (grid: rows; a warp a head) ---- */
template <int H, int HD, int SX, int SY>
DEV void head_rmsnorm_row(const float *x, const float *w, float *y, float eps)
{
    const int r = blockIdx.x, lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2;
    for (int h = warp; h < H; h += blockDim.x >> LLMC_WARP_LOG2) {
        const float *xh = x + (int64_t)r * SX + h * HD;
        float ss = 0.0f;
        for (int d = lane; d < HD; d += LLMC_WARP)
            ss += xh[d] * xh[d];
        const float inv = 1.0f / sqrtf(warp_sum(ss) / (float)HD + eps);
        for (int d = lane; d < HD; d += LLMC_WARP)
            y[(int64_t)r * SY + h * HD + d] = w[d] * (inv * xh[d]);
    }
}

#endif
