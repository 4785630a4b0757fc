/* gpu_port.cuh — what the kernel sources assume of the GPU, in one place, so that the same kernel
 * headers compile for NVIDIA (NVRTC, nvcc) and AMD (clang -x hip, gpu_port_amd.cuh): fixed-width
 * types under runtime compilation (NVRTC has no system headers), the device-function qualifier, the
 * warp width and lane shuffles, 16-byte loads, f16/bf16 conversions and f16-pair arithmetic, the
 * atomics and fences the kernels use, programmatic dependent launch, and asynchronous
 * global-to-shared copies (cp.async on CUDA, sm_80+). Everything the kernels do in PTX is here.
 *
 * LLMC_WARP is a compile-time constant, 32 on every target: kernels index lanes with
 * `& (LLMC_WARP - 1)` and warps with `>> LLMC_WARP_LOG2`, and a launch's geometry (threads, warps a
 * block) is the same for every image of a build. LLMC_WAVE is the hardware's: 32 on NVIDIA and
 * RDNA, 64 on CDNA, where a wavefront holds two of the kernels' warps (their shuffles and ballots
 * stay within their 32 lanes; gpu_port_amd.cuh). Only the matrix-core kernels work on whole
 * wavefronts.
 *
 * LLMC_AMD_PATH: 1 where the kernels take the AMD path (no cp.async, no mma.sync or wgmma, no
 * PDL; matrices through gemm_mx, cuda_mx.cuh): on AMD, and in the NVIDIA images of the check target
 * that runs the AMD path's kernels on an NVIDIA GPU (docs/amd.md). LLMC_MX says which matrix
 * instructions the image has: LLMC_MX_MMA (mma.sync), LLMC_MX_WMMA (RDNA; emulated by shuffles in
 * the check target), LLMC_MX_MFMA (CDNA), LLMC_MX_NONE.
 */
#ifndef LLMC_GPU_PORT_CUH
#define LLMC_GPU_PORT_CUH

#define LLMC_MX_NONE 0
#define LLMC_MX_MMA 1
#define LLMC_MX_WMMA 2
#define LLMC_MX_MFMA 3

#define LLMC_WARP_LOG2 5
#define LLMC_WARP (1 << LLMC_WARP_LOG2) /* lanes a warp, as the kernels count them */

#if defined(__HIP__)
#include "gpu_port_amd.cuh"
#else /* NVIDIA */

#ifdef __CUDACC_RTC__ /* NVRTC has no system headers */
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
typedef unsigned short uint16_t;
#else /* nvcc, for experiments on single kernels */
#include <stdint.h>
#endif

#ifndef LLMC_AMD_PATH
#define LLMC_AMD_PATH 0
#endif
#if LLMC_AMD_PATH
#define LLMC_MX LLMC_MX_WMMA /* emulated (cuda_mx.cuh) */
#else
#define LLMC_MX LLMC_MX_MMA
#endif
#define LLMC_WAVE 32
#define LLMC_PTX 1 /* inline PTX: the NVIDIA-only kernels (mma.sync, wgmma, cp.async) compile */

#define DEV static __device__ __forceinline__

DEV void llmc_trap() { __trap(); }

/* ---- warps ---- */
/* v of the lane whose index differs from this one's by the bits of o (all lanes take part). */
template <class T>
DEV T shfl_xor(T v, int o)
{
    return __shfl_xor_sync(0xffffffffu, v, o);
}
/* v of lane `src` of this warp (all lanes take part). */
template <class T>
DEV T shfl_idx(T v, int src)
{
    return __shfl_sync(0xffffffffu, v, src);
}

/* The lanes for which p holds, a bit each (lane i: bit i; all lanes take part). */
DEV uint32_t warp_ballot(int p) { return __ballot_sync(0xffffffffu, p); }
/* The largest of v over the warp's lanes, and the smallest (all lanes take part; redux.sync, sm_80+). */
DEV uint32_t warp_max_u32(uint32_t v) { return __reduce_max_sync(0xffffffffu, v); }
DEV int warp_min_i32(int v) { return __reduce_min_sync(0xffffffffu, v); }
/* Waits for the n threads (whole warps) that wait on named barrier id (1-15: __syncthreads is 0):
 * cuda_mx.cuh's emulation of an AMD wave64 by two warps. NVIDIA only. */
DEV void bar_named(int id, int n) { asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(n) : "memory"); }

/* ---- the block's dynamic shared memory (the launch's size), 16-byte aligned ---- */
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
/* 16-byte weight load (8 bf16/f16 values or 4 f32), streamed (no L1 allocation). */
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

/* 2-, 4- and 8-byte loads, streamed or through L2 only, as the two above (a quantized KV row's lane). */
DEV uint32_t ld2_stream(const void *p)
{
    unsigned short h;
    asm volatile("ld.global.nc.L1::no_allocate.u16 %0, [%1];" : "=h"(h) : "l"(p));
    return h;
}
DEV uint32_t ld2_cg(const void *p)
{
    unsigned short h;
    asm volatile("ld.global.cg.u16 %0, [%1];" : "=h"(h) : "l"(p));
    return h;
}
DEV uint32_t ld4_stream(const void *p)
{
    uint32_t r;
    asm volatile("ld.global.nc.L1::no_allocate.u32 %0, [%1];" : "=r"(r) : "l"(p));
    return r;
}
DEV uint32_t ld4_cg(const void *p)
{
    uint32_t r;
    asm volatile("ld.global.cg.u32 %0, [%1];" : "=r"(r) : "l"(p));
    return r;
}
DEV void ld8_stream(const void *p, uint32_t &a, uint32_t &b)
{
    asm volatile("ld.global.nc.L1::no_allocate.v2.u32 {%0, %1}, [%2];" : "=r"(a), "=r"(b) : "l"(p));
}
DEV void ld8_cg(const void *p, uint32_t &a, uint32_t &b)
{
    asm volatile("ld.global.cg.v2.u32 {%0, %1}, [%2];" : "=r"(a), "=r"(b) : "l"(p));
}

/* ---- scalar conversions (round to nearest even) ---- */
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

/* ---- f16 pairs in a word (element 0 in the low half) ---- */
DEV uint32_t and_or(uint32_t a, uint32_t b, uint32_t c) /* (a & b) | c, one lop3 */
{
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, 0xea;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}
DEV uint32_t hsub2(uint32_t a, uint32_t b)
{
    uint32_t d;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}
DEV uint32_t hfma2(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t d;
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}
DEV uint32_t hmul2_(uint32_t a, uint32_t b)
{
    uint32_t d;
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}
DEV void h2_to_f32(uint32_t h, float &lo, float &hi)
{
    asm("{ .reg .f16 l, h; mov.b32 {l, h}, %2; cvt.f32.f16 %0, l; cvt.f32.f16 %1, h; }"
        : "=f"(lo), "=f"(hi)
        : "r"(h));
}

/* ---- atomics ---- */
/* *p += v at device scope with acquire-release ordering; the old value. */
DEV int atomic_add_acq_rel(int *p, int v)
{
    int old;
    asm volatile("atom.acq_rel.gpu.global.add.s32 %0, [%1], %2;" : "=r"(old) : "l"(p), "r"(v) : "memory");
    return old;
}

/* A block's writes made visible to other blocks before one of its threads signals them (an atomic
 * with release), and other blocks' writes to all of this block's threads after one of them saw the
 * signal (an atomic with acquire), around the barriers in between: nothing on NVIDIA, where the
 * barrier and the signalling thread's release and acquire order them at device scope. */
DEV void grid_release() {}
DEV void grid_acquire() {}

/* ---- programmatic dependent launch (sm_90+; elsewhere, and on the AMD path, no-ops) ----
 * pdl_release: the next kernel of the stream may start (its blocks take slots as ours leave);
 * pdl_wait: block until the previous kernel has finished and its writes are visible. A kernel launched
 * with the programmatic attribute must wait before it reads anything the previous one writes (or
 * writes anything the previous one reads). The runtime never launches an AMD-path image so. */
DEV void pdl_release()
{
#if __CUDA_ARCH__ >= 900 && !LLMC_AMD_PATH
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
DEV void pdl_wait()
{
#if __CUDA_ARCH__ >= 900 && !LLMC_AMD_PATH
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

/* ---- asynchronous copies, global to shared (16 bytes; zero-filled past `bytes`) ---- */
DEV uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
/* to the shared-memory address dst (smem_addr) */
DEV void cp_async16_sa(uint32_t dst, const void *src, int bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(bytes));
}
DEV void cp_async16(void *dst, const void *src, int bytes) { cp_async16_sa(smem_addr(dst), src, bytes); }
DEV void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
DEV void cp_async_wait1() { asm volatile("cp.async.wait_group 1;" ::: "memory"); }
DEV void cp_async_wait0() { asm volatile("cp.async.wait_group 0;" ::: "memory"); }
/* wait until at most NW of this thread's committed groups are still in flight */
template <int NW>
DEV void cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(NW) : "memory"); }

#endif /* NVIDIA */
#endif
