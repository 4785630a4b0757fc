/* gpu_port_amd.cuh — gpu_port.cuh for AMD GPUs: the kernel headers compiled as HIP by clang's AMDGPU
 * backend with no HIP headers and no device libraries (clang -x hip -nogpuinc -nogpulib; no ROCm
 * install). It supplies what CUDA's compiler and headers would: the qualifiers, thread and block
 * indices, barriers, the vector types, the intrinsics the kernels name (__ldg, __byte_perm, __popc,
 * atomicAdd, ...) and the math (LLVM expands exp, exp2, log and sqrt; tanh is llmc's own,
 * gpu_math.h), then the same primitives as the NVIDIA section of gpu_port.cuh, in clang builtins.
 *
 * Lanes: the kernels' warps are 32 lanes (LLMC_WARP). On RDNA (wave32) a warp is a wavefront; on
 * CDNA (wave64, LLMC_WAVE 64) a wavefront holds two warps, lanes 0-31 and 32-63: shfl_xor with
 * o < 32 stays in its half (ds_bpermute addresses the lane), warp_ballot returns its half's bits.
 * Both halves of a wavefront execute together, so code that is correct for independent 32-lane
 * warps stays correct.
 *
 * Included only through gpu_port.cuh, and only when clang compiles HIP (__HIP__).
 */
#ifndef LLMC_GPU_PORT_AMD_CUH
#define LLMC_GPU_PORT_AMD_CUH
#if defined(__HIP__)

typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
typedef unsigned short uint16_t;

#define LLMC_AMD_PATH 1
#define LLMC_PTX 0
#define LLMC_WAVE __AMDGCN_WAVEFRONT_SIZE
#if defined(__gfx940__) || defined(__gfx941__) || defined(__gfx942__)
#define LLMC_MX LLMC_MX_MFMA
#elif defined(__gfx1100__) || defined(__gfx1101__) || defined(__gfx1102__) || defined(__gfx1150__) || \
    defined(__gfx1151__)
#define LLMC_MX LLMC_MX_WMMA
#else
#define LLMC_MX LLMC_MX_NONE
#endif

/* ---- what CUDA's compiler and headers provide ---- */
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __forceinline__ inline __attribute__((always_inline))
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict
/* the most threads a block; CUDA's second argument (blocks an SM, a register budget) has no AMD
 * equivalent that means the same: left to the compiler */
#define __launch_bounds__(n, ...) __attribute__((amdgpu_flat_work_group_size(1, n)))

#define DEV static __device__ __forceinline__

struct LlmcDim3 {
    uint32_t x, y, z;
};
DEV LlmcDim3 llmc_thread_idx()
{
    return {__builtin_amdgcn_workitem_id_x(), __builtin_amdgcn_workitem_id_y(), __builtin_amdgcn_workitem_id_z()};
}
DEV LlmcDim3 llmc_block_idx()
{
    return {__builtin_amdgcn_workgroup_id_x(), __builtin_amdgcn_workgroup_id_y(), __builtin_amdgcn_workgroup_id_z()};
}
DEV LlmcDim3 llmc_block_dim()
{
    return {__builtin_amdgcn_workgroup_size_x(), __builtin_amdgcn_workgroup_size_y(),
            __builtin_amdgcn_workgroup_size_z()};
}
/* the grid in blocks: every launch's grid is whole blocks */
DEV LlmcDim3 llmc_grid_dim()
{
    return {__builtin_amdgcn_grid_size_x() / __builtin_amdgcn_workgroup_size_x(),
            __builtin_amdgcn_grid_size_y() / __builtin_amdgcn_workgroup_size_y(),
            __builtin_amdgcn_grid_size_z() / __builtin_amdgcn_workgroup_size_z()};
}
#define threadIdx (llmc_thread_idx())
#define blockIdx (llmc_block_idx())
#define blockDim (llmc_block_dim())
#define gridDim (llmc_grid_dim())

DEV void __syncthreads()
{
    __builtin_amdgcn_fence(__ATOMIC_RELEASE, "workgroup");
    __builtin_amdgcn_s_barrier();
    __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "workgroup");
}
DEV void __threadfence() { __builtin_amdgcn_fence(__ATOMIC_SEQ_CST, "agent"); }
DEV void llmc_trap() { __builtin_trap(); }

struct __align__(16) float4 {
    float x, y, z, w;
};
struct __align__(8) float2 {
    float x, y;
};
struct __align__(16) uint4 {
    uint32_t x, y, z, w;
};
struct __align__(8) uint2 {
    uint32_t x, y;
};
DEV float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
DEV float2 make_float2(float x, float y) { return {x, y}; }
DEV uint4 make_uint4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) { return {x, y, z, w}; }
DEV uint2 make_uint2(uint32_t x, uint32_t y) { return {x, y}; }

DEV float __int_as_float(int v) { return __builtin_bit_cast(float, v); }
DEV float __uint_as_float(uint32_t v) { return __builtin_bit_cast(float, v); }
DEV uint32_t __float_as_uint(float v) { return __builtin_bit_cast(uint32_t, v); }
DEV int __float_as_int(float v) { return __builtin_bit_cast(int, v); }
DEV int __popc(uint32_t v) { return __builtin_popcount(v); }
DEV int __popcll(uint64_t v) { return __builtin_popcountll(v); }
/* bytes of the pair (y:x, x the low word) chosen by the selector's nibbles (their low 3 bits) */
DEV uint32_t __byte_perm(uint32_t x, uint32_t y, uint32_t s)
{
    const uint64_t v = (uint64_t)y << 32 | x;
    uint32_t r = 0;
    for (int i = 0; i < 4; i++)
        r |= (uint32_t)(v >> (8 * (s >> (4 * i) & 7)) & 0xffu) << (8 * i);
    return r;
}
/* The read-only path and L2-only loads are plain loads here: no PDL, and the kernels that read
 * other blocks' writes do so after an acquire (atomic_add_acq_rel), which invalidates the caches. */
template <class T>
DEV T __ldg(const T *p)
{
    return *p;
}
template <class T>
DEV T __ldcg(const T *p)
{
    return *p;
}

template <class T>
DEV T atomicAdd(T *p, T v)
{
    return __hip_atomic_fetch_add(p, v, __ATOMIC_RELAXED, __HIP_MEMORY_SCOPE_AGENT);
}

DEV int max(int a, int b) { return a > b ? a : b; }
DEV int min(int a, int b) { return a < b ? a : b; }
DEV int64_t max(int64_t a, int64_t b) { return a > b ? a : b; }
DEV int64_t min(int64_t a, int64_t b) { return a < b ? a : b; }
DEV uint32_t max(uint32_t a, uint32_t b) { return a > b ? a : b; }
DEV uint32_t min(uint32_t a, uint32_t b) { return a < b ? a : b; }
DEV float expf(float x) { return __builtin_expf(x); }
DEV float __expf(float x) { return __builtin_expf(x); }
DEV float exp2f(float x) { return __builtin_exp2f(x); }
DEV float logf(float x) { return __builtin_logf(x); }
DEV float sqrtf(float x) { return __builtin_sqrtf(x); }
DEV float rsqrtf(float x) { return 1.0f / __builtin_sqrtf(x); }
DEV float fabsf(float x) { return __builtin_fabsf(x); }
DEV float fmaf(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
DEV float rintf(float x) { return __builtin_rintf(x); }
/* CUDA's rounded operations that are never fused into an fma (the KV quantizers and RoPE compute
 * the host's bits): contraction off in each, so no fmul/fadd of theirs carries the contract flag. */
DEV float __fmul_rn(float a, float b)
{
#pragma clang fp contract(off)
    return a * b;
}
DEV float __fadd_rn(float a, float b)
{
#pragma clang fp contract(off)
    return a + b;
}
DEV float __fsub_rn(float a, float b)
{
#pragma clang fp contract(off)
    return a - b;
}
DEV float __fdiv_rn(float a, float b)
{
#pragma clang fp contract(off)
    return a / b;
}
DEV float fmaxf(float a, float b) { return __builtin_fmaxf(a, b); }
DEV float fminf(float a, float b) { return __builtin_fminf(a, b); }
DEV float floorf(float x) { return __builtin_floorf(x); }
#define LLMC_MATH_FN DEV
#define LLMC_MATH_EXPF __builtin_expf
#include "gpu_math.h"
DEV float tanhf(float x) { return llmc_tanhf(x); }
#ifndef INFINITY
#define INFINITY __builtin_inff()
#endif

/* ---- warps (32 lanes; see the top) ---- */
DEV int llmc_wave_lane() { return (int)(threadIdx.x & (LLMC_WAVE - 1)); }
template <class T>
DEV T shfl_xor(T v, int o)
{
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "shfl_xor: 4- or 8-byte values");
    const int addr = (llmc_wave_lane() ^ o) << 2;
    if constexpr (sizeof(T) == 4) {
        return __builtin_bit_cast(T, __builtin_amdgcn_ds_bpermute(addr, __builtin_bit_cast(int, v)));
    } else {
        const uint64_t u = __builtin_bit_cast(uint64_t, v);
        const uint32_t lo = (uint32_t)__builtin_amdgcn_ds_bpermute(addr, (int)(uint32_t)u),
                       hi = (uint32_t)__builtin_amdgcn_ds_bpermute(addr, (int)(uint32_t)(u >> 32));
        return __builtin_bit_cast(T, (uint64_t)hi << 32 | lo);
    }
}
/* v of lane `src` (0..31) of this warp */
template <class T>
DEV T shfl_idx(T v, int src)
{
    static_assert(sizeof(T) == 4, "shfl_idx: 4-byte values");
    const int addr = ((llmc_wave_lane() & ~(LLMC_WARP - 1)) | src) << 2;
    return __builtin_bit_cast(T, __builtin_amdgcn_ds_bpermute(addr, __builtin_bit_cast(int, v)));
}
DEV uint32_t warp_ballot(int p)
{
#if LLMC_WAVE == 64
    return (uint32_t)(__builtin_amdgcn_ballot_w64(p != 0) >> (threadIdx.x & 32));
#else
    return __builtin_amdgcn_ballot_w32(p != 0);
#endif
}
/* The largest of v over the warp's 32 lanes, and the smallest (a butterfly; all lanes take part). */
DEV uint32_t warp_max_u32(uint32_t v)
{
#pragma unroll
    for (int o = LLMC_WARP / 2; o > 0; o >>= 1)
        v = max(v, shfl_xor(v, o));
    return v;
}
DEV int warp_min_i32(int v)
{
#pragma unroll
    for (int o = LLMC_WARP / 2; o > 0; o >>= 1)
        v = min(v, shfl_xor(v, o));
    return v;
}

/* ---- the block's dynamic shared memory (LDS: the launch's size), 16-byte aligned ---- */
DEV uint8_t *dyn_smem()
{
    extern __shared__ __align__(16) uint8_t llmc_dyn_smem[];
    return llmc_dyn_smem;
}

/* ---- 16-byte loads ---- */
struct u4 {
    uint32_t x, y, z, w;
};
/* word i (0..3) of q */
DEV uint32_t u4_at(const u4 &q, int i) { return i == 0 ? q.x : i == 1 ? q.y : i == 2 ? q.z : q.w; }
typedef uint32_t llmc_v4u __attribute__((ext_vector_type(4)));
/* weights, read once: non-temporal */
DEV u4 ld16_stream(const void *p)
{
    const llmc_v4u v = __builtin_nontemporal_load((const llmc_v4u *)p);
    return {v.x, v.y, v.z, v.w};
}
DEV u4 ld16_cg(const void *p)
{
    const llmc_v4u v = *(const llmc_v4u *)p;
    return {v.x, v.y, v.z, v.w};
}

DEV uint32_t ld2_stream(const void *p) { return __builtin_nontemporal_load((const uint16_t *)p); }
DEV uint32_t ld2_cg(const void *p) { return *(const uint16_t *)p; }
DEV uint32_t ld4_stream(const void *p) { return __builtin_nontemporal_load((const uint32_t *)p); }
DEV uint32_t ld4_cg(const void *p) { return *(const uint32_t *)p; }
DEV void ld8_stream(const void *p, uint32_t &a, uint32_t &b)
{
    a = __builtin_nontemporal_load((const uint32_t *)p);
    b = __builtin_nontemporal_load((const uint32_t *)p + 1);
}
DEV void ld8_cg(const void *p, uint32_t &a, uint32_t &b)
{
    a = ((const uint32_t *)p)[0];
    b = ((const uint32_t *)p)[1];
}

/* ---- scalar conversions (round to nearest even) ---- */
typedef _Float16 llmc_h2 __attribute__((ext_vector_type(2)));
DEV float f16_to_f32(uint16_t h) { return (float)__builtin_bit_cast(_Float16, h); }
DEV uint16_t f32_to_f16(float f) { return __builtin_bit_cast(uint16_t, (_Float16)f); }
DEV uint16_t f32_to_bf16(float f)
{
    const uint32_t u = __builtin_bit_cast(uint32_t, f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)(u >> 16 | 0x40u); /* NaN stays a (quiet) NaN */
    return (uint16_t)((u + 0x7fffu + (u >> 16 & 1u)) >> 16);
}

/* ---- f16 pairs in a word (element 0 in the low half) ---- */
DEV uint32_t and_or(uint32_t a, uint32_t b, uint32_t c) { return (a & b) | c; }
DEV uint32_t hsub2(uint32_t a, uint32_t b)
{
    return __builtin_bit_cast(uint32_t, __builtin_bit_cast(llmc_h2, a) - __builtin_bit_cast(llmc_h2, b));
}
DEV uint32_t hfma2(uint32_t a, uint32_t b, uint32_t c)
{
    return __builtin_bit_cast(uint32_t, __builtin_elementwise_fma(__builtin_bit_cast(llmc_h2, a),
                                                                  __builtin_bit_cast(llmc_h2, b),
                                                                  __builtin_bit_cast(llmc_h2, c)));
}
DEV uint32_t hmul2_(uint32_t a, uint32_t b)
{
    return __builtin_bit_cast(uint32_t, __builtin_bit_cast(llmc_h2, a) * __builtin_bit_cast(llmc_h2, b));
}
DEV void h2_to_f32(uint32_t h, float &lo, float &hi)
{
    const llmc_h2 v = __builtin_bit_cast(llmc_h2, h);
    lo = (float)v.x;
    hi = (float)v.y;
}

/* ---- atomics ---- */
DEV int atomic_add_acq_rel(int *p, int v)
{
    return __hip_atomic_fetch_add(p, v, __ATOMIC_ACQ_REL, __HIP_MEMORY_SCOPE_AGENT);
}

/* Every thread's fences at device (agent) scope: a workgroup barrier is a workgroup-scope fence on
 * AMD, which neither waits for other waves' stores to reach L2 nor invalidates the caches of the
 * other CU of a WGP (RDNA) before they read what another block wrote. */
DEV void grid_release() { __builtin_amdgcn_fence(__ATOMIC_RELEASE, "agent"); }
DEV void grid_acquire() { __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "agent"); }

/* ---- programmatic dependent launch: none on AMD ---- */
DEV void pdl_release() {}
DEV void pdl_wait() {}

/* ---- copies global to shared: synchronous (16 bytes; zero-filled past `bytes`) ----
 * No AMD target here copies 16 bytes into LDS asynchronously, so the cp.async calls are a load and
 * a store, and the waits have nothing to wait for (the barrier after them orders the stores). */
DEV void cp_async16(void *dst, const void *src, int bytes)
{
    u4 v = {0, 0, 0, 0};
    if (bytes >= 16)
        v = ld16_cg(src);
    else
        for (int i = 0; i < bytes; i++)
            ((uint8_t *)&v)[i] = ((const uint8_t *)src)[i];
    *(u4 *)dst = v;
}
DEV void cp_async_commit() {}
DEV void cp_async_wait1() {}
DEV void cp_async_wait0() {}
template <int NW>
DEV void cp_async_wait() {}

#endif /* __HIP__ */
#endif
