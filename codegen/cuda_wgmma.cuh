/* cuda_wgmma.cuh — the warpgroup (wgmma.mma_async, sm_90a) matmul gemm_wg (emitter:
 * cuda_matmul.c), with gemm_h's contract; compiled only for architectures that have wgmma.
 */
#ifndef LLMC_CUDA_WGMMA_CUH
#define LLMC_CUDA_WGMMA_CUH

#include "cuda_epilogue.cuh"

#if LLMC_PTX /* wgmma, cp.async: NVIDIA only (gpu_port.cuh) */

/* ---- matmul, warpgroup tensor cores (sm_90a: wgmma.mma_async) ----
 * The same contract as gemm_h (half activations in scratch, the same epilogues, SwiGLU interleave
 * and K split), for targets with wgmma. One warpgroup (128 threads) a block; block tile (64 * MH) x
 * 128 x 64; both operands K-major in shared memory with the 128-byte swizzle (16-byte chunk c of
 * row r stored at chunk c ^ (r % 8); tiles 1024-byte aligned), filled by cp.async in ST stages and
 * read by wgmma m64n128k16 through matrix descriptors. Dynamic shared memory: ST * (64 * MH + 128)
 * * 128 bytes + 1024 (alignment). */
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
DEV uint64_t wg_desc(uint32_t saddr) /* K-major, 128-byte swizzle, 8-row groups 1024 bytes apart */
{
    return (uint64_t)((saddr & 0x3ffff) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}
DEV void wg_mma_bf16(float *d, uint64_t da, uint64_t db)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "l"(da), "l"(db));
}
DEV void wg_mma_f16(float *d, uint64_t da, uint64_t db)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "l"(da), "l"(db));
}
DEV void wg_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
DEV void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
DEV void wg_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory"); }
DEV void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }

template <int BF, int K, int N, int SX, int SY, int SR, int EPI, int SPLIT, int MH, int ST>
DEV void gemm_wg(const uint16_t *__restrict__ w, const uint16_t *__restrict__ x, const float *__restrict__ b,
                 float *__restrict__ y, int T, const float *__restrict__ res)
{
    constexpr int BM = 64 * MH, BN = 128, BK = 64, NT = 128;
    constexpr int AV = BM * 8 / NT, BV = BN * 8 / NT; /* 16-byte chunks a thread per stage */
    constexpr int SWZ = epi_glu(EPI), STAGE = (BM + BN) * 128;
    static_assert(K % BK == 0 && (K / BK) % SPLIT == 0, "tile shape");
    extern __shared__ __align__(16) uint8_t wsm[];
    const uint32_t base = (smem_addr(wsm) + 1023u) & ~1023u;
    const int tid = threadIdx.x, lane = tid & (LLMC_WARP - 1), warp = tid >> LLMC_WARP_LOG2;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    constexpr int KT = K / BK / SPLIT;
    const int kt0 = SPLIT > 1 ? (int)blockIdx.z * KT : 0;
    const uint16_t *ap[AV], *bp[BV];
    int ab[AV], bb[BV];
    uint32_t ao[AV], bo[BV]; /* swizzled offsets within a stage */
#pragma unroll
    for (int i = 0; i < AV; i++) {
        const int idx = tid + i * NT, r = idx >> 3, c = idx & 7, m = m0 + r;
        ap[i] = x + (int64_t)(m < T ? m : 0) * SX + kt0 * BK + c * 8;
        ab[i] = m < T ? 16 : 0;
        ao[i] = r * 128 + ((c ^ (r & 7)) << 4);
    }
#pragma unroll
    for (int i = 0; i < BV; i++) {
        const int idx = tid + i * NT, r = idx >> 3, c = idx & 7, n = gemm_wrow<N>(n0, r, SWZ);
        bp[i] = w + (int64_t)(n < N ? n : 0) * K + kt0 * BK + c * 8;
        bb[i] = n < N ? 16 : 0;
        bo[i] = BM * 128 + r * 128 + ((c ^ (r & 7)) << 4);
    }
    auto load = [&](int kt, int s) {
        const uint32_t st = base + s * STAGE;
#pragma unroll
        for (int i = 0; i < AV; i++)
            cp_async16_sa(st + ao[i], ap[i] + kt * BK, ab[i]);
#pragma unroll
        for (int i = 0; i < BV; i++)
            cp_async16_sa(st + bo[i], bp[i] + kt * BK, bb[i]);
    };
    float acc[MH][64];
#pragma unroll
    for (int h = 0; h < MH; h++)
#pragma unroll
        for (int q = 0; q < 64; q++)
            acc[h][q] = 0.0f;
#pragma unroll
    for (int s = 0; s < ST - 1; s++) {
        if (s < KT)
            load(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < KT; kt++) {
        cp_async_wait<ST - 2>();
        fence_proxy_async(); /* cp.async wrote through the generic proxy; wgmma reads through the async one */
        __syncthreads();
        const uint32_t st = base + (kt % ST) * STAGE;
        wg_fence();
#pragma unroll
        for (int k = 0; k < BK / 16; k++) {
            const uint64_t db = wg_desc(st + BM * 128 + k * 32);
#pragma unroll
            for (int h = 0; h < MH; h++) {
                const uint64_t da = wg_desc(st + h * 64 * 128 + k * 32);
                if (BF)
                    wg_mma_bf16(acc[h], da, db);
                else
                    wg_mma_f16(acc[h], da, db);
            }
        }
        wg_commit();
        if (kt + ST - 1 < KT) /* the stage of tile kt - 1, whose wgmma everyone waited for */
            load(kt + ST - 1, (kt + ST - 1) % ST);
        cp_async_commit();
        wg_wait0();
    }
    cp_async_wait<0>();
    /* accumulator fragment: warp w holds rows 16w..16w+15 of each 64-row half; acc[h][4j + q] is
     * row g (+8 for q >= 2), column 8j + 2c (+1 for odd q) */
    const int g = lane >> 2, c2 = (lane & 3) * 2;
    if (SPLIT > 1)
        y += (int64_t)blockIdx.z * T * N;
#pragma unroll
    for (int h = 0; h < MH; h++)
#pragma unroll
        for (int j = 0; j < 16; j++) {
            if (epi_glu(EPI) && SPLIT == 1 && (j & 1)) /* the up sums, taken with the gate sums of j - 1 */
                continue;
            const int jj = epi_glu(EPI) && SPLIT == 1 ? j + 1 : j;
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                const int m = m0 + h * 64 + warp * 16 + g + hh * 8;
                if (m < T)
                    gemm_store2<N, SY, SR, EPI, SPLIT>(y, b, res, m, n0, j * 8 + c2, acc[h][4 * j + 2 * hh],
                                                      acc[h][4 * j + 2 * hh + 1], acc[h][4 * jj + 2 * hh],
                                                      acc[h][4 * jj + 2 * hh + 1]);
            }
        }
}
#endif

#endif /* LLMC_PTX */

#endif
