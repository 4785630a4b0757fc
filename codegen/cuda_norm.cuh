/* cuda_norm.cuh — RMSNorm, optionally after the residual add, and RMSNorm of each head (emitter:
 * cuda_norm.c). */
#ifndef LLMC_CUDA_NORM_CUH
#define LLMC_CUDA_NORM_CUH

#include "cuda_base.cuh"

/* The row in registers, 16-byte loads (rmsnorm_row when every row and pointer is 16-byte aligned):
 * each operand read once, every load of a thread in flight together, so that a decode step's row
 * (one block) costs about one memory latency a reduction instead of one a loop trip (Gemma 2's
 * post-norms at batch 1: 11.9 us a launch in Nsight Compute on an H100, D 3584, before this path).
 * Needs blockDim.x >= rmsnorm_v4_minb(D) (the emitters launch 128-512 threads, 256 or more from D
 * 2048 on). */
static __host__ __device__ constexpr int rmsnorm_v4_minb(int d) { return d >= 2048 ? 256 : 128; }
template <int ADD, int D, int SA, int SB, int SS, int SY>
DEV void rmsnorm_row_v4(const float *a_, const float *b_, float *s_, const float *w, float *y, float eps,
                        const float *wb, float pre_eps)
{
    constexpr int D4 = D / 4, MINB = rmsnorm_v4_minb(D), NV = (D4 + MINB - 1) / MINB; /* float4s a thread */
    __shared__ float red[32];
    const int r = blockIdx.x;
    const float4 *x4 = (const float4 *)(a_ + (int64_t)r * SA), *b4 = (const float4 *)(b_ + (int64_t)r * SB);
    float4 v[NV], bv[NV];
#pragma unroll
    for (int i = 0; i < NV; i++) {
        const int j = threadIdx.x + i * (int)blockDim.x;
        if (j < D4) {
            v[i] = x4[j];
            if (ADD)
                bv[i] = b4[j];
        }
    }
    float invb = 1.0f;
    if (ADD && wb) {
        float sb = 0.0f;
#pragma unroll
        for (int i = 0; i < NV; i++)
            if (threadIdx.x + i * (int)blockDim.x < D4)
                sb += bv[i].x * bv[i].x + bv[i].y * bv[i].y + bv[i].z * bv[i].z + bv[i].w * bv[i].w;
        invb = 1.0f / sqrtf(block_sum(sb, red) / (float)D + pre_eps);
    }
    float ss = 0.0f;
#pragma unroll
    for (int i = 0; i < NV; i++) {
        const int j = threadIdx.x + i * (int)blockDim.x;
        if (j < D4) {
            if (ADD) {
                float4 c = bv[i];
                if (wb) {
                    const float4 g = ((const float4 *)wb)[j];
                    c = make_float4(g.x * (c.x * invb), g.y * (c.y * invb), g.z * (c.z * invb), g.w * (c.w * invb));
                }
                v[i] = make_float4(v[i].x + c.x, v[i].y + c.y, v[i].z + c.z, v[i].w + c.w);
                ((float4 *)(s_ + (int64_t)r * SS))[j] = v[i];
            }
            ss += v[i].x * v[i].x + v[i].y * v[i].y + v[i].z * v[i].z + v[i].w * v[i].w;
        }
    }
    const float inv = 1.0f / sqrtf(block_sum(ss, red) / (float)D + eps);
#pragma unroll
    for (int i = 0; i < NV; i++) {
        const int j = threadIdx.x + i * (int)blockDim.x;
        if (j < D4) {
            const float4 g = ((const float4 *)w)[j];
            ((float4 *)(y + (int64_t)r * SY))[j] =
                make_float4(g.x * (inv * v[i].x), g.y * (inv * v[i].y), g.z * (inv * v[i].z), g.w * (inv * v[i].w));
        }
    }
}

/* ---- RMSNorm, optionally after the residual add (grid: rows) ----
 * wb (fuse_post_norm: Gemma's post-attention and post-feedforward norms): the addend b RMS-normed
 * with wb (eps pre_eps) before it is added. */
template <int ADD, int D, int SA, int SB, int SS, int SY>
DEV void rmsnorm_row(const float *a_, const float *b_, float *s_, const float *w, float *y, float eps,
                     const float *wb = 0, float pre_eps = 0.0f)
{
    /* at most 16 float4s a thread in registers (8 of the row and 8 of the addend with one) */
    if constexpr (D % 4 == 0 && D <= (ADD ? 8192 : 16384) && SA % 4 == 0 && SB % 4 == 0 && SS % 4 == 0 && SY % 4 == 0) {
        const unsigned long long al = (unsigned long long)a_ | (unsigned long long)b_ | (unsigned long long)s_ |
                                      (unsigned long long)w | (unsigned long long)y | (unsigned long long)wb;
        if ((al & 15) == 0 && (int)blockDim.x >= rmsnorm_v4_minb(D)) {
            rmsnorm_row_v4<ADD, D, SA, SB, SS, SY>(a_, b_, s_, w, y, eps, wb, pre_eps);
            return;
        }
    }
    __shared__ float red[32];
    const int r = blockIdx.x;
    const float *x = a_ + (int64_t)r * SA;
    float invb = 1.0f;
    if (ADD && wb) {
        float sb = 0.0f;
        for (int d = threadIdx.x; d < D; d += blockDim.x)
            sb += b_[(int64_t)r * SB + d] * b_[(int64_t)r * SB + d];
        invb = 1.0f / sqrtf(block_sum(sb, red) / (float)D + pre_eps);
    }
    float ss = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float v = x[d];
        if (ADD) {
            const float bv = b_[(int64_t)r * SB + d];
            v += wb ? wb[d] * (bv * invb) : bv;
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
