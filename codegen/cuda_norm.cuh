/* cuda_norm.cuh — RMSNorm, optionally after the residual add (emitter: cuda_norm.c). */
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

#endif
