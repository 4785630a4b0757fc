/* gpu_port.cuh — what the kernel sources assume of the GPU, in one place, so that another vendor's
 * backend (HIP) can reuse them by replacing this header: fixed-width types under runtime
 * compilation (NVRTC has no system headers), the device-function qualifier, the warp width and
 * lane shuffles, and asynchronous global-to-shared copies (cp.async on CUDA, sm_80+).
 *
 * LLMC_WARP is a compile-time constant (32 on CUDA); kernels index lanes with
 * `& (LLMC_WARP - 1)` and warps with `>> LLMC_WARP_LOG2`.
 */
#ifndef LLMC_GPU_PORT_CUH
#define LLMC_GPU_PORT_CUH

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

#define DEV static __device__ __forceinline__

/* ---- warps ---- */
#define LLMC_WARP_LOG2 5
#define LLMC_WARP (1 << LLMC_WARP_LOG2) /* lanes a warp */
/* v of the lane whose index differs from this one's by the bits of o (all lanes take part). */
template <class T>
DEV T shfl_xor(T v, int o)
{
    return __shfl_xor_sync(0xffffffffu, v, o);
}

/* The lanes for which p holds, a bit each (lane i: bit i; all lanes take part). */
DEV uint32_t warp_ballot(int p) { return __ballot_sync(0xffffffffu, p); }

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

#endif
