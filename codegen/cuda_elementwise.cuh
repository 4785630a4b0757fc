/* cuda_elementwise.cuh — add, mul, silu, swiglu and geglu over rows, and the maps with a parameter
 * (gelu_tanh, scale, softcap) (emitter: cuda_elementwise.c). */
#ifndef LLMC_CUDA_ELEMENTWISE_CUH
#define LLMC_CUDA_ELEMENTWISE_CUH

#include "cuda_base.cuh"

/* ---- elementwise: OP 0 add, 1 mul, 2 silu, 3 swiglu(a, b), 4 geglu(a, b) over rows x D ---- */
template <int OP, int D, int SA, int SB, int SY>
DEV void eltwise(const float *x, const float *b_, float *y, int rows)
{
    const int64_t n = (int64_t)rows * D;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = e / D;
        const int c = (int)(e % D);
        const float av = x[r * SA + c];
        const float bv = OP == 2 ? 0.0f : b_[r * SB + c];
        y[r * SY + c] = OP == 0   ? av + bv
                        : OP == 1 ? av * bv
                        : OP == 2 ? silu(av)
                        : OP == 3 ? silu(av) * bv
                                  : gelu_tanh(av) * bv;
    }
}

/* ---- one-input maps with a parameter P: OP 0 gelu_tanh, 1 scale (x P), 2 softcap (P tanh(x / P)) ---- */
template <int OP, int D, int SA, int SY>
DEV void unary(const float *x, float *y, int rows, float p)
{
    const int64_t n = (int64_t)rows * D;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = e / D;
        const int c = (int)(e % D);
        const float v = x[r * SA + c];
        y[r * SY + c] = OP == 0 ? gelu_tanh(v) : OP == 1 ? v * p : p * tanhf(v / p);
    }
}

#endif
