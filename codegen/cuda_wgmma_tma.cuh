/* cuda_wgmma_tma.cuh — gemm_wt, the sm_90a wide-step matmul fed by the Tensor Memory Accelerator
 * (TMA) and split into a producer warp and two consumer warpgroups (wgmma), persistent over its
 * tiles. The contract of gemm_wg (cuda_wgmma.cuh: half activations in scratch, bf16/f16 weights, the
 * same epilogues, SwiGLU and K split with raw partials for gemm_reduce) but for its two operands,
 * which come as TMA tensor maps instead of pointers. Emitted in gemm_wg's place with llmc compile
 * --wgmma tma (cuda_matmul.c emit_wt: the maps in the constant tables, encoded by the runtime at
 * load); bench/kernel_check.cu (mode wt) checks and times it with the maps as kernel parameters. It
 * has never run on a GPU (twelfth and thirteenth sessions).
 */
#ifndef LLMC_CUDA_WGMMA_TMA_CUH
#define LLMC_CUDA_WGMMA_TMA_CUH

#include "cuda_wgmma.cuh"

#if LLMC_PTX /* TMA, mbarrier, wgmma: NVIDIA only (gpu_port.cuh) */

/* A TMA tensor map: the driver's CUtensorMap (128 opaque bytes, 128-byte aligned as CUDA 13's cuda.h
 * declares it; the TMA needs 64; cuda.h is not NVRTC's), encoded on the host by
 * cuTensorMapEncodeTiled and passed to the kernel as a `const __grid_constant__ LlmcTmap`
 * parameter (kernel_check), or written into global memory before the launch (the compiler's
 * kernels: the constant tables, wt_maps_acquire), whose address the TMA reads it from. */
struct alignas(128) LlmcTmap {
    uint64_t opaque[16];
};

/* gemm_wt's fixed shape: 384 threads (warpgroup 0 the producer: its first thread issues the TMA
 * copies, the others idle; warpgroups 1 and 2 the consumers, rows 0-63 and 64-127 of the tile), tiles
 * of 128 rows x BN weight rows x 64 of K. The host encodes the activations' map [rows][K] with a box
 * of 64 x 128 and the weights' [N][K] with a box of 64 x BN/2, both CU_TENSOR_MAP_SWIZZLE_128B. */
constexpr int WT_THREADS = 384, WT_BM = 128, WT_BK = 64;

/* ---- mbarriers, TMA, register reallocation ---- */
DEV void wt_bar_init(uint32_t bar, int count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}
/* the barriers' initialization visible to the async proxy (the TMA's complete_tx) */
DEV void wt_bar_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory"); }
/* one arrival that also expects `bytes` of TMA transactions in the current phase */
DEV void wt_bar_expect(uint32_t bar, uint32_t bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes) : "memory");
}
DEV void wt_bar_arrive(uint32_t bar)
{
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(bar) : "memory");
}
/* LLMC_WT_SPIN_LIMIT > 0 (bench/kernel_check.cu): a wait that fails that many tries traps, so that a
 * protocol bug ends the launch with an error instead of hanging the GPU; 0 (the default): no bound */
#ifndef LLMC_WT_SPIN_LIMIT
#define LLMC_WT_SPIN_LIMIT 0
#endif
/* waits until the phase of parity `parity` has completed (a fresh barrier is in phase 0: waiting on
 * parity 1 returns at once) */
DEV void wt_bar_wait(uint32_t bar, uint32_t parity)
{
    uint32_t done;
    for (long long tries = 1;; tries++) {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done)
                     : "r"(bar), "r"(parity)
                     : "memory");
        if (done)
            return;
        if (LLMC_WT_SPIN_LIMIT > 0 && tries >= (long long)LLMC_WT_SPIN_LIMIT)
            __trap();
    }
}
/* the box of map at (c0 along K, c1 along rows) into shared memory at dst (1024-byte aligned: the
 * 128-byte swizzle), completing bar's transactions; out-of-bounds elements arrive as zeros and
 * count */
DEV void wt_tma_2d(uint32_t dst, const LlmcTmap *map, int c0, int c1, uint32_t bar)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
                 ::"r"(dst), "l"((uint64_t)map), "r"(c0), "r"(c1), "r"(bar)
                 : "memory");
}
DEV void wt_tma_prefetch(const LlmcTmap *map) { asm volatile("prefetch.tensormap [%0];" ::"l"((uint64_t)map) : "memory"); }
template <int R>
DEV void wt_regs_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(R)); }
template <int R>
DEV void wt_regs_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(R)); }
/* waits until at most N of this warpgroup's wgmma groups are pending */
template <int N>
DEV void wt_wait_group() { asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory"); }
/* the accumulators' registers as written here (after a wgmma wait): no read of them moves above it */
template <int NA>
DEV void wt_fence_acc(float *acc)
{
#pragma unroll
    for (int i = 0; i < NA; i++)
        asm volatile("" : "+f"(acc[i])::"memory");
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
/* wgmma m64n256k16, f32 accumulators (128 a thread), both operands from shared memory */
#define WT_D8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define WT_D64(i) WT_D8(i), WT_D8(i + 8), WT_D8(i + 16), WT_D8(i + 24), WT_D8(i + 32), WT_D8(i + 40), WT_D8(i + 48), WT_D8(i + 56)
#define WT_MMA256(T)                                                                                                  \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"                                                           \
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32." T "." T " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, p, 1, 1, 0, 0;\n}\n" \
                 : WT_D64(0), WT_D64(64)                                                                              \
                 : "l"(da), "l"(db))
DEV void wt_mma256_bf16(float *d, uint64_t da, uint64_t db) { WT_MMA256("bf16"); }
DEV void wt_mma256_f16(float *d, uint64_t da, uint64_t db) { WT_MMA256("f16"); }
#undef WT_MMA256
#undef WT_D64
#undef WT_D8

/* Maps in global memory written by a host copy (the runtime's, at load): the thread that issues the
 * TMA copies (the producer, thread 0) acquires them in the tensormap proxy before its first use, once
 * a block, as the CUDA programming guide asks of a map reached by a pointer to global memory (the
 * host's copy is another agent's write: system scope). Maps passed as __grid_constant__ parameters
 * need none. */
DEV void wt_maps_acquire(const LlmcTmap *tw, const LlmcTmap *tx)
{
    if (threadIdx.x != 0)
        return;
    asm volatile("fence.proxy.tensormap::generic.acquire.sys [%0], 128;" ::"l"((uint64_t)tw) : "memory");
    asm volatile("fence.proxy.tensormap::generic.acquire.sys [%0], 128;" ::"l"((uint64_t)tx) : "memory");
}

/* one k16 step of the 64 x BN slice: A and B descriptors (K-major, 128-byte swizzle) */
template <int BF, int BN>
DEV void wt_mma(float *acc, uint64_t da, uint64_t db)
{
    if constexpr (BN == 256) {
        if (BF)
            wt_mma256_bf16(acc, da, db);
        else
            wt_mma256_f16(acc, da, db);
    } else if (BF) {
        wg_mma_bf16(acc, da, db);
    } else {
        wg_mma_f16(acc, da, db);
    }
}

/* The gated epilogue of gemm_wt for output columns o, o + 1 (o even) of row m: v the gate sums, u
 * the up sums; raw partials at their weight rows (o, N/2 + o) when K is split (gemm_reduce finishes
 * them). The arithmetic of gemm_store2's gated branch, so the two kernels' outputs agree bit for bit;
 * each pair stored by one 8-byte store where N/2 and the row stride are even and y is 8-byte aligned. */
template <int N, int SY, int EPI, int SPLIT>
DEV void wt_store_glu(float *__restrict__ y, const float *__restrict__ b, int m, int o, float v0, float v1, float u0,
                      float u1)
{
    constexpr int S = SPLIT > 1 ? N : SY, H = N / 2;
    const bool pair = S % 2 == 0 && H % 2 == 0 && ((uint64_t)y & 7u) == 0; /* then o < H: o + 1 < H too */
    if (SPLIT > 1) {
        if (pair && o < H) {
            *(float2 *)(y + (int64_t)m * N + o) = make_float2(v0, v1);
            *(float2 *)(y + (int64_t)m * N + H + o) = make_float2(u0, u1);
            return;
        }
        if (o < H) {
            y[(int64_t)m * N + o] = v0;
            y[(int64_t)m * N + H + o] = u0;
        }
        if (o + 1 < H) {
            y[(int64_t)m * N + o + 1] = v1;
            y[(int64_t)m * N + H + o + 1] = u1;
        }
        return;
    }
    if (o >= H) /* past the outputs (o + 1 too) */
        return;
    const float r0 = glu_act<EPI>(v0 + (b ? b[o] : 0.0f)) * (u0 + (b ? b[o + H] : 0.0f));
    if (o + 1 >= H) {
        y[(int64_t)m * SY + o] = r0;
        return;
    }
    const float r1 = glu_act<EPI>(v1 + (b ? b[o + 1] : 0.0f)) * (u1 + (b ? b[o + 1 + H] : 0.0f));
    if (pair)
        *(float2 *)(y + (int64_t)m * SY + o) = make_float2(r0, r1);
    else {
        y[(int64_t)m * SY + o] = r0;
        y[(int64_t)m * SY + o + 1] = r1;
    }
}

/* The ungated epilogue of gemm_wt for tile columns n, n + 1 (n even) of row m: gemm_store2's
 * arithmetic (bias, residual, or raw partials [T][N] when K is split), the pair stored by one 8-byte
 * store where the row stride and N are even and y is 8-byte aligned, else as gemm_store2 stores it. */
template <int N, int SY, int SR, int EPI, int SPLIT>
DEV void wt_store2(float *__restrict__ y, const float *__restrict__ b, const float *__restrict__ res, int m, int n,
                   float v0, float v1)
{
    constexpr int S = SPLIT > 1 ? N : SY;
    if (S % 2 != 0 || N % 2 != 0 || ((uint64_t)y & 7u) != 0) {
        gemm_store2<N, SY, SR, EPI, SPLIT>(y, b, res, m, 0, n, v0, v1, 0.0f, 0.0f);
        return;
    }
    if (n >= N) /* N even: n + 1 < N with n */
        return;
    if (SPLIT == 1) {
        v0 = v0 + (b ? b[n] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n] : 0.0f);
        v1 = v1 + (b ? b[n + 1] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n + 1] : 0.0f);
    }
    *(float2 *)(y + (int64_t)m * S + n) = make_float2(v0, v1);
}

/* ---- gemm_wt: y[T, N or N/2] = x[T, K] . w[N, K]^T, epilogue EPI; tiles 128 x BN, ST stages ----
 * Shared memory (dynamic, llmc_cuda_wt_tile's smem): ST stages of [128 activation rows][64] then
 * [BN weight rows][64] halves, each row 128 bytes with the 128-byte swizzle (16-byte chunk c of row r
 * at chunk c ^ (r % 8), as the TMA writes it and wgmma's descriptors read it: wg_desc), 1024-byte
 * aligned; then a full and an empty mbarrier a stage. A stage's weight rows are two TMA boxes of BN/2:
 * tile columns 0..BN/2-1 and BN/2..BN-1 of an ungated tile, or of a gated one (EPI 2, 4) the gate rows
 * g0..g0+BN/2-1 and the up rows N/2+g0.. of the same outputs, so that a thread holds an output's
 * gate sum (column c) and up sum (column c + BN/2) in its own accumulators.
 * The ring: the producer thread waits for stage s to be empty, arms its full barrier with the
 * stage's bytes and issues the three boxes; each consumer warpgroup waits for the full barrier, issues
 * the stage's four wgmma (one commit group), waits for the previous group (wgmma.wait_group 1: one
 * stage's MMAs run while the next stage's data is awaited) and only then releases the previous
 * stage (one arrival a consumer warp: the empty barrier counts 8). Tiles: blockIdx.x, then every
 * gridDim.x-th (the host launches at most one block an SM), rows fastest, then weight-row blocks, then
 * K slices; the producer runs on into the next tile while the consumers store this one. Phases run on
 * across tiles: stage s of pass p is full at the parity p & 1.
 * Registers: __launch_bounds__(384, 1) gives the kernel 168 a thread; the producer warpgroup drops to
 * 40 (setmaxnreg.dec) and the consumers take 232 (setmaxnreg.inc): 128 * 40 + 256 * 232 = 384 * 168.
 * Bounds: rows past T and weight rows past N (or N/2) come as zeros from the TMA and are not stored.
 * The maps' dims: the activations' rows may exceed T (the scratch's rows: an encoding done once). */
template <int BF, int K, int N, int SY, int SR, int EPI, int SPLIT, int BN, int ST>
DEV void gemm_wt(const LlmcTmap *tw, const LlmcTmap *tx, const float *__restrict__ b, float *__restrict__ y, int T,
                 const float *__restrict__ res)
{
    constexpr int GLU = epi_glu(EPI), KT = K / WT_BK / SPLIT, NA = BN / 2;
    constexpr int ASZ = WT_BM * 128, BSZ = BN * 128, STAGE = ASZ + BSZ;
    constexpr int NB = GLU ? (N / 2 + BN / 2 - 1) / (BN / 2) : (N + BN - 1) / BN; /* weight-row blocks */
    static_assert(K % WT_BK == 0 && (K / WT_BK) % SPLIT == 0, "tile shape");
    static_assert((BN == 128 || BN == 256) && ST >= 2, "tile shape");
    extern __shared__ __align__(16) uint8_t wtsm[];
    const uint32_t base = (smem_addr(wtsm) + 1023u) & ~1023u, bars = base + ST * STAGE;
    const int tid = threadIdx.x, wgi = tid >> 7;
    const int tm = (T + WT_BM - 1) / WT_BM, tiles = tm * NB * SPLIT;
    /* full[s] at bars + 8s, empty[s] at bars + 8(ST + s) */
    if (tid == 0) {
        for (int s = 0; s < ST; s++) {
            wt_bar_init(bars + 8 * s, 1);
            wt_bar_init(bars + 8 * (ST + s), 8);
        }
        wt_bar_init_fence();
    }
    __syncthreads();
    if (wgi == 0) { /* the producer */
        wt_regs_dec<40>();
        if (tid != 0)
            return;
        wt_tma_prefetch(tx);
        wt_tma_prefetch(tw);
        int s = 0;
        uint32_t ph = 0;
        for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
            const int mb = tile % tm, r = tile / tm, nb = r % NB, z = r / NB;
            const int w0 = GLU ? nb * (BN / 2) : nb * BN, w1 = GLU ? N / 2 + nb * (BN / 2) : nb * BN + BN / 2;
            for (int kt = 0; kt < KT; kt++) {
                const uint32_t st = base + s * STAGE, full = bars + 8 * s;
                const int k = (z * KT + kt) * WT_BK;
                wt_bar_wait(bars + 8 * (ST + s), ph ^ 1);
                wt_bar_expect(full, STAGE);
                wt_tma_2d(st, tx, k, mb * WT_BM, full);
                wt_tma_2d(st + ASZ, tw, k, w0, full);
                wt_tma_2d(st + ASZ + BSZ / 2, tw, k, w1, full);
                if (++s == ST) {
                    s = 0;
                    ph ^= 1;
                }
            }
        }
        return;
    }
    wt_regs_inc<232>();
    /* accumulator fragment of m64nBNk16: warp wq of the warpgroup holds rows 16wq..16wq+15 of its 64;
     * acc[4j + q] is row g (+8 for q >= 2), column 8j + 2c (+1 for odd q) */
    const int cw = wgi - 1, lane = tid & (LLMC_WARP - 1), wq = (tid >> LLMC_WARP_LOG2) & 3;
    const int g = lane >> 2, c2 = (lane & 3) * 2;
    float acc[NA];
    int s = 0;
    uint32_t ph = 0;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int mb = tile % tm, r = tile / tm, nb = r % NB, z = r / NB;
#pragma unroll
        for (int q = 0; q < NA; q++)
            acc[q] = 0.0f;
        int prev = 0;
        for (int kt = 0; kt < KT; kt++) {
            const uint32_t st = base + s * STAGE;
            wt_bar_wait(bars + 8 * s, ph);
            wg_fence();
#pragma unroll
            for (int k = 0; k < WT_BK / 16; k++)
                wt_mma<BF, BN>(acc, wg_desc(st + cw * 64 * 128 + k * 32), wg_desc(st + ASZ + k * 32));
            wg_commit();
            wt_wait_group<1>(); /* the previous stage's group is done: its stage is free */
            if (kt > 0 && lane == 0)
                wt_bar_arrive(bars + 8 * (ST + prev));
            prev = s;
            if (++s == ST) {
                s = 0;
                ph ^= 1;
            }
        }
        wt_wait_group<0>();
        wt_fence_acc<NA>(acc);
        if (lane == 0)
            wt_bar_arrive(bars + 8 * (ST + prev));
        float *yz = SPLIT > 1 ? y + (int64_t)z * T * N : y;
        const int m0 = mb * WT_BM + cw * 64 + wq * 16 + g;
        if (GLU) {
#pragma unroll
            for (int j = 0; j < BN / 16; j++)
#pragma unroll
                for (int hh = 0; hh < 2; hh++)
                    if (m0 + hh * 8 < T)
                        wt_store_glu<N, SY, EPI, SPLIT>(yz, b, m0 + hh * 8, nb * (BN / 2) + j * 8 + c2,
                                                        acc[4 * j + 2 * hh], acc[4 * j + 2 * hh + 1],
                                                        acc[4 * (j + BN / 16) + 2 * hh], acc[4 * (j + BN / 16) + 2 * hh + 1]);
        } else {
#pragma unroll
            for (int j = 0; j < BN / 8; j++)
#pragma unroll
                for (int hh = 0; hh < 2; hh++)
                    if (m0 + hh * 8 < T)
                        wt_store2<N, SY, SR, EPI, SPLIT>(yz, b, res, m0 + hh * 8, nb * BN + j * 8 + c2,
                                                         acc[4 * j + 2 * hh], acc[4 * j + 2 * hh + 1]);
        }
    }
}
#endif

#endif /* LLMC_PTX */

#endif
