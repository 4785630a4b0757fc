/* cuda_base.cuh — the base of every generated CUDA kernel: the LlmcDevArgs and LlmcKernelOffsets
 * mirrors (their layout must equal the C structs in llmc_model.h; both sides assert their sizes),
 * the operand macros the emitted kernels use (W, A, C), bf16 to f32, warp and block reductions and
 * SiLU, over the portability header (gpu_port.cuh: conversions, loads, lanes, PDL).
 *
 * Generated kernels are extern "C" __global__ functions taking LlmcDevArgs by value, with every
 * shape, stride and arena/weight offset a literal constant. Activations are float32.
 */
#ifndef LLMC_CUDA_BASE_CUH
#define LLMC_CUDA_BASE_CUH

#include "gpu_port.cuh"

struct LlmcDevArgs {
    const uint8_t *weights;
    uint8_t *arena;
    uint8_t *kv;
    const uint8_t *consts;
    const int32_t *tokens, *positions, *seq_of_token, *slots, *out_rows, *block_tables;
    float *logits;
    int32_t *out_ids;
    int32_t n_tokens, n_out, max_blocks_per_seq, reserved;
    const double *sample;
};
static_assert(sizeof(LlmcDevArgs) == 120, "LlmcDevArgs layout differs from llmc_model.h");
/* The launch's own values (operand offsets, a layer index): kernels are shared across layers. */
struct LlmcKernelOffsets {
    int64_t v[8];
};
static_assert(sizeof(LlmcKernelOffsets) == 64, "LlmcKernelOffsets layout differs from llmc_model.h");

#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
#define W(off, T) ((const T *)(a.weights + (off)))
#define A(off) ((float *)(a.arena + (off)))
#define C(off) ((const float *)(a.consts + (off)))

/* ---- scalar conversions (f16 and to bf16: gpu_port.cuh) ---- */
DEV float bf16_to_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }
/* Two 16-bit values packed in a word, to floats. */
DEV void unpack_bf16(uint32_t v, float &lo, float &hi)
{
    lo = __uint_as_float(v << 16);
    hi = __uint_as_float(v & 0xffff0000u);
}
DEV void unpack_f16(uint32_t v, float &lo, float &hi)
{
    lo = f16_to_f32((uint16_t)(v & 0xffff));
    hi = f16_to_f32((uint16_t)(v >> 16));
}

/* ---- reductions ---- */
DEV float warp_sum(float v)
{
#pragma unroll
    for (int o = LLMC_WARP / 2; o > 0; o >>= 1)
        v += shfl_xor(v, o);
    return v;
}
/* Sum over the block (blockDim.x a multiple of LLMC_WARP, <= 1024); every thread gets the result. */
DEV float block_sum(float v, float *scratch32)
{
    int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2, nw = blockDim.x >> LLMC_WARP_LOG2;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0)
        scratch32[warp] = v;
    __syncthreads();
    float t = lane < nw ? scratch32[lane] : 0.0f;
    return warp_sum(t);
}

/* Accurate expf (not __expf): a float32 build must reproduce the cpu target's greedy output. */
DEV float silu(float x) { return x * (1.0f / (1.0f + expf(-x))); }
/* GeLU, tanh approximation (transformers' gelu_pytorch_tanh), the cpu target's gelu_tanh1. */
DEV float gelu_tanh(float x)
{
    const float kb = 0.7978845608028654f, kk = 0.044715f;
    return 0.5f * x * (1.0f + tanhf(kb * (x + kk * x * x * x)));
}
/* The gated epilogues of a merged gate/up matmul: rows j and j + N/2 computed together and
 * act(gate) * up written (N/2 columns): EPI 2 SwiGLU (silu), EPI 4 GeGLU (gelu_tanh). */
static __host__ __device__ constexpr bool epi_glu(int epi) { return epi == 2 || epi == 4; }
template <int EPI>
DEV float glu_act(float g)
{
    return EPI == 4 ? gelu_tanh(g) : silu(g);
}

DEV uint32_t pack2(float lo, float hi, int bf)
{
    if (bf)
        return (uint32_t)f32_to_bf16(lo) | ((uint32_t)f32_to_bf16(hi) << 16);
    return (uint32_t)f32_to_f16(lo) | ((uint32_t)f32_to_f16(hi) << 16);
}

#endif
