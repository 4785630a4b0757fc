/* cuda_base.cuh — the base of every generated CUDA kernel: the LlmcDevArgs and LlmcKernelOffsets
 * mirrors (their layout must equal the C structs in llmc_model.h; both sides assert their sizes),
 * the operand macros the emitted kernels use (W, A, C), scalar conversions between f32 and
 * bf16/f16, 16-byte loads, warp and block reductions, SiLU and programmatic dependent launch.
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

/* ---- scalar conversions ---- */
DEV float bf16_to_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }
DEV float f16_to_f32(uint16_t h)
{
    float f;
    asm("{ .reg .f16 t; mov.b16 t, %1; cvt.f32.f16 %0, t; }" : "=f"(f) : "h"(h));
    return f;
}
DEV uint16_t f32_to_f16(float f)
{
    uint16_t h;
    asm("{ .reg .f16 t; cvt.rn.f16.f32 t, %1; mov.b16 %0, t; }" : "=h"(h) : "f"(f));
    return h;
}
DEV uint16_t f32_to_bf16(float f)
{
    uint16_t h;
    asm("{ cvt.rn.bf16.f32 %0, %1; }" : "=h"(h) : "f"(f));
    return h;
}

/* 16-byte weight load (8 bf16/f16 values or 4 f32), streamed (no L1 allocation). */
struct u4 {
    uint32_t x, y, z, w;
};
DEV u4 ld16_stream(const void *p)
{
    u4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
    return r;
}
/* 16-byte load through L2 only: data another kernel may have written while this one ran (PDL). */
DEV u4 ld16_cg(const void *p)
{
    u4 r;
    asm volatile("ld.global.cg.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
    return r;
}
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

/* ---- programmatic dependent launch (sm_90+; elsewhere no-ops) ----
 * pdl_release: the next kernel of the stream may start (its blocks take slots as ours leave);
 * pdl_wait: block until the previous kernel has finished and its writes are visible. A kernel launched
 * with the programmatic attribute must wait before it reads anything the previous one writes (or
 * writes anything the previous one reads). */
DEV void pdl_release()
{
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
DEV void pdl_wait()
{
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

DEV uint32_t pack2(float lo, float hi, int bf)
{
    if (bf)
        return (uint32_t)f32_to_bf16(lo) | ((uint32_t)f32_to_bf16(hi) << 16);
    return (uint32_t)f32_to_f16(lo) | ((uint32_t)f32_to_f16(hi) << 16);
}

#endif
