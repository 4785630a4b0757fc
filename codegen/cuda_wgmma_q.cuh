/* cuda_wgmma_q.cuh — gemm_wq (emitter: cuda_matmul.c, llmc compile --qmma wg; sm_90a only): y = x W^T
 * for a quantized W (u4, u4 with zero points, nvfp4, fp8; lane8 order) on the warpgroup tensor
 * cores, in the transposed form of Hopper's mixed-input GEMMs: the weights are the A operand of
 * wgmma.mma_async m64nNk16 taken from registers (a block is one warpgroup: 64 weight rows, the
 * "features"), decoded there from the lane8 bytes exactly as gemm_q decodes its B fragments
 * (cuda_qmma.cuh: qm_decode, QmFmt, qpar), and the activations are the B operand from shared memory
 * (N = NT tokens, a multiple of 8 up to 256; several wgmmas of power-of-two widths when NT is not
 * one). No f16 copy of the matrix is made and no weight byte goes through shared memory.
 *
 * Layout argument (why the lane8 order serves as it is): warp v of the warpgroup holds features
 * 16 v .. 16 v + 15, and the A fragment of m64nNk16 is mma.sync m16n8k16's: lane (g = lane / 4,
 * t = lane % 4) holds rows g and g + 8, a0/a1 logical k (2t, 2t + 1) and a2/a3 (2t + 8, 2t + 9). Those
 * are gemm_q's B fragments of two n8 tiles (rows g and g + 8), so a lane loads the same 16-byte lane8
 * slots gemm_q loads (slot q = t + 4 r of the chunk, round r) from two weight rows and decodes each
 * word with qm_decode: u4/nvfp4 word w gives steps 2w + u (b[2u], b[2u + 1]), fp8 word w step w. As
 * in gemm_q the 16 logical k of a step are any 16 stored elements, provided the activations pair
 * the same ones; wgmma reads B's 16 k of a step as 16 consecutive halves of a K-major row, so the
 * rows are written (rows_to_half, order QmFmt::WORD) with position 16 s + j holding the element
 * that logical k j of step s multiplies:
 *   u4, nvfp4 (ORD 3, a chunk of 256): step s = 8 r + 2 w + u, k j = (t, h, hi) with t = j % 8 / 2,
 *     h = j % 2, hi = j / 8: element 64 w + 32 h + 16 r + 4 t + 2 u + hi;
 *   fp8 (ORD 2, a chunk of 128): step s = 4 r + w: element 32 w + 16 r + 4 t + j % 2 + 2 (j / 8).
 * Round r's steps are positions KR r .. KR r + KR - 1 of the chunk (KR = KC / R: 128 for the 4-bit
 * formats, 64 for fp8), so a round is a stage of the activation ring: [KR / 64][NT][128 bytes], the
 * 128-byte swizzle (16-byte granule c of row n at c ^ (n % 8)), read by wgmma descriptors (wg_desc).
 *
 * Pipeline, a round at a time: the stage of round i + ST - 2 is cp.async'ed while round i runs; the
 * weights (and u4's scales and zeros, nvfp4's E4M3 scales) of the chunk PD ahead are loaded into
 * registers as the current chunk's are decoded (PD chunks in flight a lane: 64 PD bytes of u4 or
 * fp8); round i's 4 S A-registers (S steps) are decoded into one of two register sets while round
 * i - 1's wgmmas run (wgmma.fence before a round's wgmmas, wgmma.wait_group 1 after its commit: a set
 * is written again only after the wgmmas that read it completed, as the PTX ISA asks of register
 * operands; ptxas reports neither serialized wgmmas nor injected waits). K may be split over blockIdx.z (SPLIT: raw partials [z][T][N] for
 * gemm_reduce). Epilogue: fp8's row scales (times 2^8) or nvfp4's tensor scale (times 2^14) on the
 * sums, then gemm_store2 (bias, residual, SwiGLU/GeGLU of gate/up rows interleaved by 8 as
 * gemm_wrow gives them, or the split partials); the sums of features f and f + 1 meet in one lane
 * by a shuffle. Grid: (token tiles of NT, N / 64, SPLIT); 128 threads; dynamic shared memory
 * gemm_wq_smem(). */
#ifndef LLMC_CUDA_WGMMA_Q_CUH
#define LLMC_CUDA_WGMMA_Q_CUH

#include "cuda_qmma.cuh"
#include "cuda_wgmma.cuh"

#if LLMC_PTX /* wgmma, cp.async: NVIDIA only (gpu_port.cuh) */

/* Bytes of one activation stage of gemm_wq (a round of NT rows) and its dynamic shared memory. */
template <int WK, int NT>
__host__ __device__ constexpr int gemm_wq_stage()
{
    return NT * (QmFmt<WK>::KC / QmFmt<WK>::R) * 2;
}
template <int WK, int NT, int ST>
__host__ __device__ constexpr int gemm_wq_smem()
{
    return ST * gemm_wq_stage<WK, NT>() + 1024;
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
/* wgmma m64nNk16, f16 A from registers (a[4]: the m16n8k16 A fragment of the warp's 16 rows), B from
 * shared memory (descriptor db, K-major), f32 accumulators d[N / 2] += A B. */
#define WQ_D4(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3])
#define WQ_D8(i) WQ_D4(i), WQ_D4(i + 4)
#define WQ_D16(i) WQ_D8(i), WQ_D8(i + 8)
#define WQ_D32(i) WQ_D16(i), WQ_D16(i + 16)
#define WQ_D64(i) WQ_D32(i), WQ_D32(i + 32)
#define WQ_D128(i) WQ_D64(i), WQ_D64(i + 64)
template <int N>
struct WqMma;
template <>
struct WqMma<8> {
    DEV void mma(float *d, const uint32_t (&a)[4], uint64_t db)
    {
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {"
                     "%0, %1, %2, %3"
                     "}, {%4, %5, %6, %7}, %8, p, 1, 1, 0;\n}\n"
                     : WQ_D4(0)
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
    }
};
template <>
struct WqMma<16> {
    DEV void mma(float *d, const uint32_t (&a)[4], uint64_t db)
    {
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n16k16.f32.f16.f16 {"
                     "%0, %1, %2, %3, %4, %5, %6, %7"
                     "}, {%8, %9, %10, %11}, %12, p, 1, 1, 0;\n}\n"
                     : WQ_D8(0)
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
    }
};
template <>
struct WqMma<32> {
    DEV void mma(float *d, const uint32_t (&a)[4], uint64_t db)
    {
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {"
                     "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15"
                     "}, {%16, %17, %18, %19}, %20, p, 1, 1, 0;\n}\n"
                     : WQ_D16(0)
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
    }
};
template <>
struct WqMma<64> {
    DEV void mma(float *d, const uint32_t (&a)[4], uint64_t db)
    {
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {"
                     "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
                     "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
                     "}, {%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
                     : WQ_D32(0)
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
    }
};
template <>
struct WqMma<128> {
    DEV void mma(float *d, const uint32_t (&a)[4], uint64_t db)
    {
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {"
                     "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
                     "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
                     "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
                     "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
                     "}, {%64, %65, %66, %67}, %68, p, 1, 1, 0;\n}\n"
                     : WQ_D64(0)
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
    }
};
template <>
struct WqMma<256> {
    DEV void mma(float *d, const uint32_t (&a)[4], uint64_t db)
    {
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {"
                     "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
                     "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
                     "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
                     "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
                     "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
                     "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
                     "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
                     "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
                     "}, {%128, %129, %130, %131}, %132, p, 1, 1, 0;\n}\n"
                     : WQ_D128(0)
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
    }
};
#undef WQ_D4
#undef WQ_D8
#undef WQ_D16
#undef WQ_D32
#undef WQ_D64
#undef WQ_D128

/* wgmma m64nNk16 for any N a multiple of 8 up to 256: power-of-two widths from the widest, the
 * accumulators and B rows of each after those of the ones before (B's rows 8 apart are 1024 bytes
 * apart: a descriptor 128 n bytes on reads rows n..). */
template <int N, int N0 = 0>
DEV void wq_mma(float *d, const uint32_t (&a)[4], uint32_t sb)
{
    if constexpr (N > 0) {
        constexpr int P = N >= 256 ? 256 : N >= 128 ? 128 : N >= 64 ? 64 : N >= 32 ? 32 : N >= 16 ? 16 : 8;
        WqMma<P>::mma(d + N0 / 2, a, wg_desc(sb + N0 * 128));
        wq_mma<N - P, N0 + P>(d, a, sb);
    }
}
template <int NW>
DEV void wg_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(NW) : "memory"); }
/* keeps the compiler from moving accesses of v across the wgmma fences and waits */
DEV void wq_keep(float &v) { asm volatile("" : "+f"(v)::"memory"); }
DEV void wq_keep(uint32_t &v) { asm volatile("" : "+r"(v)::"memory"); }

/* y[T][..] = epilogue(x W^T), rows blockIdx.x * NT .. + NT, weight rows blockIdx.y * 64 .. + 64 (EPI 2,
 * 4: gate and up rows interleaved by 8, gemm_wrow), chunks of K blockIdx.z * K / KC / SPLIT ..; w [N][K]
 * in format WK, lane8 (groups of G, scales and zeros wq; fp8 a scale a row, G = K), xh [T][K] f16 in
 * QmFmt<WK>::WORD order; PD chunks of weights in flight. */
template <int WK, int K, int N, int G, int NT, int ST, int EPI, int SPLIT, int SY, int SR, int PD>
DEV void gemm_wq(const uint8_t *__restrict__ w, WQ wq, const uint16_t *__restrict__ xh, const float *__restrict__ b,
                 float *__restrict__ y, int T, const float *__restrict__ res)
{
    using F = QmFmt<WK>;
    constexpr int KC = F::KC, R = F::R, KR = KC / R, S = KR / 16, NCT = K / KC, NCS = NCT / SPLIT, NI = NCS * R;
    constexpr int CB = 16 * 4 * R, GR = KR / 8, SB = gemm_wq_stage<WK, NT>();
    constexpr int64_t RB = (int64_t)CB * NCT; /* weight bytes a row */
    static_assert(WK == FMT_FP8 || F::SP, "gemm_wq: the quantized lane8 formats (u4, nvfp4, fp8)");
    static_assert(K % KC == 0 && NCT % SPLIT == 0 && N % 64 == 0 && KR % 64 == 0, "gemm_wq: whole chunks and tiles");
    static_assert(NT % 8 == 0 && NT >= 8 && NT <= 256 && ST >= 3 && PD >= 1,
                  "gemm_wq: NT a multiple of 8 up to 256, 3 stages or more, a chunk of weights in flight or more");
    extern __shared__ __align__(16) uint8_t wqsm[];
    const uint32_t base = (smem_addr(wqsm) + 1023u) & ~1023u;
    const int tid = threadIdx.x, lane = tid & (LLMC_WARP - 1), warp = tid >> LLMC_WARP_LOG2;
    const int g = lane >> 2, t = lane & 3;
    const int m0 = blockIdx.x * NT, n0 = blockIdx.y * 64, c0 = SPLIT > 1 ? (int)blockIdx.z * NCS : 0;
    /* this lane's weight rows: tile columns 16 warp + g and + 8 */
    const int64_t wr[2] = {gemm_wrow<N>(n0, 16 * warp + g, epi_glu(EPI)), gemm_wrow<N>(n0, 16 * warp + 8 + g, epi_glu(EPI))};

    u4 q[PD][R][2]; /* chunk c + d's round r, rows g and g + 8 (d = 0: the chunk being decoded) */
    QPar<WK, G> p[PD][R][2];
    auto wload = [&](int c, int d, int r) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            q[d][r][h] = ld16_stream(w + wr[h] * RB + (int64_t)c * CB + 64 * r + 16 * t);
            if constexpr (F::SP)
                qpar<WK, K, G>(wq, wr[h], (int64_t)c * 8 + t + 4 * r, p[d][r][h]);
        }
    };
#pragma unroll
    for (int d = 0; d < PD; d++)
        if (d < NCS)
#pragma unroll
            for (int r = 0; r < R; r++)
                wload(c0 + d, d, r);

    pdl_wait(); /* the activations come from the kernel before */

    /* round i of this block's chunks into stage s: NT rows (zeros past T) of KR positions */
    auto aload = [&](int i, int s) {
        const uint32_t st = base + s * SB;
        const int64_t k0 = ((int64_t)c0 * R + i) * KR;
#pragma unroll
        for (int idx = tid; idx < NT * GR; idx += 128) {
            const int rr = idx / GR, cc = idx % GR, m = m0 + rr;
            cp_async16_sa(st + (cc / 8) * NT * 128 + rr * 128 + (((cc % 8) ^ (rr & 7)) << 4),
                          xh + (int64_t)(m < T ? m : 0) * K + k0 + cc * 8, m < T ? 16 : 0);
        }
    };
#pragma unroll
    for (int s = 0; s < ST - 2; s++) {
        if (s < NI)
            aload(s, s);
        cp_async_commit();
    }

    float acc[NT / 2];
#pragma unroll
    for (int i = 0; i < NT / 2; i++)
        acc[i] = 0.0f;
    uint32_t a[2][S][4]; /* the A fragments of two rounds: one being read by wgmma, one being decoded */
    for (int c = 0; c < NCS; c++) {
#pragma unroll
        for (int r = 0; r < R; r++) {
            const int i = c * R + r;
            cp_async_wait<ST - 3>();
            fence_proxy_async(); /* cp.async wrote through the generic proxy; wgmma reads through the async one */
            __syncthreads();     /* round i's stage landed for everyone; round i - 2's wgmmas (stage i + ST - 2) completed */
            if (i + ST - 2 < NI)
                aload(i + ST - 2, (i + ST - 2) % ST);
            cp_async_commit();
            const u4 q0 = q[0][r][0], q1 = q[0][r][1];
            const QPar<WK, G> p0 = p[0][r][0], p1 = p[0][r][1];
#pragma unroll
            for (int d = 0; d + 1 < PD; d++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    q[d][r][h] = q[d + 1][r][h];
                    p[d][r][h] = p[d + 1][r][h];
                }
            if (c + PD < NCS)
                wload(c0 + c + PD, PD - 1, r);
            uint32_t(&ar)[S][4] = a[r % 2];
#pragma unroll
            for (int wd = 0; wd < 4; wd++) {
                const uint32_t x0 = u4_at(q0, wd);
                const uint32_t x1 = u4_at(q1, wd);
                if constexpr (WK == FMT_FP8) {
                    uint32_t b0[2], b1[2];
                    qm_decode<WK, G>(x0, wd, p0, b0);
                    qm_decode<WK, G>(x1, wd, p1, b1);
                    ar[wd][0] = b0[0], ar[wd][1] = b1[0], ar[wd][2] = b0[1], ar[wd][3] = b1[1];
                } else {
                    uint32_t b0[4], b1[4];
                    qm_decode<WK, G>(x0, wd, p0, b0);
                    qm_decode<WK, G>(x1, wd, p1, b1);
#pragma unroll
                    for (int u = 0; u < 2; u++)
                        ar[2 * wd + u][0] = b0[2 * u], ar[2 * wd + u][1] = b1[2 * u], ar[2 * wd + u][2] = b0[2 * u + 1],
                                     ar[2 * wd + u][3] = b1[2 * u + 1];
                }
            }
#pragma unroll
            for (int s = 0; s < S; s++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    wq_keep(ar[s][e]);
#pragma unroll
            for (int e = 0; e < NT / 2; e++)
                wq_keep(acc[e]);
            wg_fence();
            const uint32_t st = base + (i % ST) * SB;
#pragma unroll
            for (int s = 0; s < S; s++)
                wq_mma<NT>(acc, ar[s], st + (s / 4) * NT * 128 + (s % 4) * 32);
            wg_commit();
#pragma unroll
            for (int e = 0; e < NT / 2; e++)
                wq_keep(acc[e]);
            wg_wait<1>(); /* round i - 1's wgmmas completed: its A set is free for round i + 1 */
        }
    }
    wg_wait<0>();
#pragma unroll
    for (int e = 0; e < NT / 2; e++)
        wq_keep(acc[e]);
    cp_async_wait<0>();
    pdl_release();

    /* the row scales: fp8's (times 2^8, the decode's exponent), nvfp4's tensor scale (times 2^14) */
    if constexpr (WK == FMT_FP8 || WK == FMT_NVFP4) {
        float sc[2];
#pragma unroll
        for (int h = 0; h < 2; h++)
            sc[h] = WK == FMT_FP8 ? __ldg((const float *)wq.side[0] + wr[h]) * 256.0f : WFmt<WK>::tscale(wq);
#pragma unroll
        for (int e = 0; e < NT / 2; e++)
            acc[e] *= sc[(e >> 1) & 1];
    }
    /* acc[4 j + 2 h + o]: tile column 16 warp + 8 h + g, token m0 + 8 j + 2 t + o; a shuffle with lane
     * g ^ 1 gives even g columns c, c + 1 of token 2 t and odd g those of token 2 t + 1 */
    const bool odd = g & 1;
    const int cb = 16 * warp + (g & ~1);
    if (SPLIT > 1)
        y += (int64_t)blockIdx.z * T * N;
#pragma unroll
    for (int j = 0; j < NT / 8; j++) {
        float v[2][2];
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const float d0 = acc[4 * j + 2 * h], d1 = acc[4 * j + 2 * h + 1];
            const float x = __shfl_xor_sync(0xffffffffu, odd ? d0 : d1, 4);
            v[h][0] = odd ? x : d0;
            v[h][1] = odd ? d1 : x;
        }
        const int m = m0 + 8 * j + 2 * t + odd;
        if (m >= T)
            continue;
        if (epi_glu(EPI) && SPLIT == 1) /* columns 16 warp + 8 + g: the up rows of the same outputs */
            gemm_store2<N, SY, SR, EPI, SPLIT>(y, b, res, m, n0, cb, v[0][0], v[0][1], v[1][0], v[1][1]);
        else
#pragma unroll
            for (int h = 0; h < 2; h++)
                gemm_store2<N, SY, SR, EPI, SPLIT>(y, b, res, m, n0, cb + 8 * h, v[h][0], v[h][1], v[h][0], v[h][1]);
    }
}
#endif /* __CUDA_ARCH_FEAT_SM90_ALL */

#endif /* LLMC_PTX */

#endif
