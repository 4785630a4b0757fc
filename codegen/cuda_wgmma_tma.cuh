/* cuda_wgmma_tma.cuh — the sm_90a matmuls fed by the Tensor Memory Accelerator (TMA) through an
 * mbarrier ring, with a producer warp and consumer warpgroups (wgmma):
 * - gemm_wt, the wide-step matmul (prefill; the default in sm_90a images, --wgmma auto or tma):
 *   persistent over its tiles, two consumer warpgroups; the contract of gemm_wg (cuda_wgmma.cuh: half
 *   activations in scratch, bf16/f16 weights, the same epilogues, SwiGLU and K split with raw
 *   partials for gemm_reduce) but for its two operands, which come as TMA tensor maps instead of
 *   pointers (cuda_matmul.c emit_wt: the maps in the constant tables, encoded by the runtime at load).
 *   Run on an H100 in round 10 (bench/NOTES.md).
 * - gemm_ws, the batched-decode matmul of bf16/f16 weights at 9-64 rows (--decode-wgmma on): the
 *   weights the A operand, stream-K over one block an SM (cuda_matmul.c emit_ws). Not yet run on a GPU.
 * bench/kernel_check.cu (modes wt and ws) checks and times both.
 */
#ifndef LLMC_CUDA_WGMMA_TMA_CUH
#define LLMC_CUDA_WGMMA_TMA_CUH

#include "cuda_qmma.cuh" /* ld_cg_f32 */
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
/* gemm_ws's fixed shape (below): 160 threads (a consumer warpgroup, a producer warp), tiles of 128
 * weight rows, units of 64 of K */
constexpr int WS_THREADS = 160, WS_BK = 64, WS_TILE = 128;

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
DEV void wt_maps_acquire_here(const LlmcTmap *tw, const LlmcTmap *tx)
{
    asm volatile("fence.proxy.tensormap::generic.acquire.sys [%0], 128;" ::"l"((uint64_t)tw) : "memory");
    asm volatile("fence.proxy.tensormap::generic.acquire.sys [%0], 128;" ::"l"((uint64_t)tx) : "memory");
}
DEV void wt_maps_acquire(const LlmcTmap *tw, const LlmcTmap *tx)
{
    if (threadIdx.x == 0) /* gemm_wt's producer */
        wt_maps_acquire_here(tw, tx);
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
/* ---- gemm_ws: the batched-decode matmul (9..64 rows) of bf16/f16 weights, fed by the TMA ----
 * y[T, N or N/2] = x[T, K] . w[N, K]^T for the steps gemm_q (cuda_qmma.cuh) takes elsewhere, with the
 * operands swapped: the weights are wgmma's A operand (M = 64 weight rows a warpgroup half, two
 * halves a tile of 128), the step's tokens the B operand (N = NT: 16, 32 or 64, rows past T stale
 * and never stored), both K-major in shared memory with the 128-byte swizzle, as gemm_wt reads its
 * operands. Why: at 9..64 rows a weight byte feeds at most 64 multiply-adds, so the matmul is a
 * stream of the weights, and gemm_q, which loads them into registers (192 of them, one warp a
 * scheduler), ran the 1B's matrices at 13-41% of the copy bandwidth on an H100 (bench/NOTES.md,
 * round 13): latency-bound. Here one producer thread keeps up to ST stages of 16 KB of weights in
 * flight an SM through the TMA, and the consumers only issue wgmma.
 * Block: 160 threads, one an SM: warps 0-3 the consumer warpgroup, warp 4 the producer (its first
 * thread issues every copy). Work: U = TILES x KC units (a tile: 128 weight rows, or of a gated
 * matrix (EPI 2, 4) the 64 gate rows g0.. and the 64 up rows N/2 + g0.. of 64 outputs; a unit: 64 of
 * K), dealt to the gridDim.x blocks in equal contiguous ranges (stream-K, as gemm_q deals them): every
 * SM streams the same bytes whatever the shapes. A tile whose K a block holds whole is stored there;
 * a tile shared by several blocks is summed by the last of them to arrive (cnt: an int a tile, left
 * at 0) from their partials (part: [gridDim.x][2][NT][128] f32, a block's first and last tile, as
 * [register][thread]: coalesced), in block order: deterministic.
 * Stage s (1024-byte aligned, STAGE = 16 KB + NT x 128 bytes): the two 64-row weight boxes (8 KB
 * each: tile rows 0-63 and 64-127, or the gate and the up rows), then NT / 16 activation boxes of 16
 * rows (tokens 0..NT-1); then a full and an empty mbarrier a stage (gemm_wt's ring: the producer arms
 * full[s] with the stage's bytes, the consumers wait for it, issue the stage's 8 wgmma (2 halves x 4
 * k16 steps, one commit group), wait for the previous group and only then release its stage: one
 * arrival a consumer warp). Under programmatic dependent launch the weights of the first stages
 * (constants) are requested before griddepcontrol.wait and the activations after it.
 * Accumulators of m64nNTk16: acc[h][4j + q] is weight row 64h + 16 warp + g (+8 for q >= 2) of the
 * tile, token 8j + 2c (+1 for odd q), g = lane / 4, c = lane % 4. Maps: tw the weights [N][K], boxes
 * of 64 x 64 rows; tx the half activations [rows][K] (scratch A, rows_to_half's natural order),
 * boxes of 64 x 16 rows; rows past the map's extent arrive as zeros. */
/* wgmma m64nNk16 with both operands from shared memory (descriptors, K-major, 128-byte swizzle),
 * f32 accumulators d[N / 2] = A B + (acc ? d : 0) */
#define WS_D8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
/* T the operands' type, N the width, REGS the accumulators' operands, DA DB ACC the numbers of the
 * descriptors' and scale-d's operands, then the accumulators' constraints */
#define WS_ASM(T, N, REGS, DA, DB, ACC, ...)                                                                          \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #ACC ", 0;\n"                                                   \
                 "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." T "." T " {" REGS "}, %" #DA ", %" #DB             \
                 ", p, 1, 1, 0, 0;\n}\n"                                                                             \
                 : __VA_ARGS__                                                                                        \
                 : "l"(da), "l"(db), "r"(acc))
#define WS_MMA(N, REGS, DA, DB, ACC, ...)                                                                             \
    do {                                                                                                              \
        if (BF)                                                                                                       \
            WS_ASM("bf16", N, REGS, DA, DB, ACC, __VA_ARGS__);                                                        \
        else                                                                                                          \
            WS_ASM("f16", N, REGS, DA, DB, ACC, __VA_ARGS__);                                                         \
    } while (0)
template <int BF, int N>
struct WsMma;
template <int BF>
struct WsMma<BF, 16> {
    DEV void mma(float *d, uint64_t da, uint64_t db, int acc)
    {
        WS_MMA(16, "%0, %1, %2, %3, %4, %5, %6, %7", 8, 9, 10, WS_D8(0));
    }
};
template <int BF>
struct WsMma<BF, 32> {
    DEV void mma(float *d, uint64_t da, uint64_t db, int acc)
    {
        WS_MMA(32, "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15", 16, 17, 18, WS_D8(0),
               WS_D8(8));
    }
};
template <int BF>
struct WsMma<BF, 64> {
    DEV void mma(float *d, uint64_t da, uint64_t db, int acc)
    {
        WS_MMA(64,
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, "
               "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31",
               32, 33, 34, WS_D8(0), WS_D8(8), WS_D8(16), WS_D8(24));
    }
};
#undef WS_MMA
#undef WS_ASM
#undef WS_D8

/* the consumer warpgroup's barrier (named barrier 1, 128 threads: the producer warp takes no part) */
DEV void ws_sync() { asm volatile("bar.sync 1, 128;" ::: "memory"); }

/* The end of a block's part of tile `tile` (units u0..u1 of U over gridDim.x blocks, KC a tile): for
 * a tile shared with other blocks, the partial and, in the last of them to arrive, their sum in block
 * order; then the epilogue (bias, residual, SwiGLU/GeGLU). Consumer threads only. acc is only read:
 * its registers are the wgmma's alone (written by nothing else, a wgmma's results never need a copy
 * where the loop's paths meet: ptxas would wait for them there), and the next tile's first wgmma
 * does not add them (scale-d 0). */
template <int N, int SY, int SR, int EPI, int NT, int U, int KC>
DEV void ws_finish(const float (&acc)[2][NT / 2], int tile, int u0, int u1, const float *__restrict__ b,
                   float *__restrict__ y, int T, const float *__restrict__ res, float *__restrict__ part,
                   int *__restrict__ cnt, int &last)
{
    constexpr int NA = NT / 2, PS = 2 * NA * 128; /* a partial: [2 NA][128 threads] */
    const int tid = threadIdx.x, lane = tid & (LLMC_WARP - 1), warp = tid >> LLMC_WARP_LOG2;
    const int g = lane >> 2, c2 = (lane & 3) * 2, P = gridDim.x, bk = blockIdx.x;
    const int ts = tile * KC, te = ts + KC;
    float v[2][NA];
#pragma unroll
    for (int h = 0; h < 2; h++)
#pragma unroll
        for (int i = 0; i < NA; i++)
            v[h][i] = acc[h][i];
    if (ts < u0 || te > u1) { /* shared: the partial, and the sum if this block is the last */
        auto ustart = [&](int bb) { return (int)((int64_t)bb * U / P); };
        auto owner = [&](int x) { return (int)(((int64_t)(x + 1) * P + U - 1) / U) - 1; };
        float *pz = part + ((int64_t)bk * 2 + (tile == u0 / KC ? 0 : 1)) * PS;
#pragma unroll
        for (int h = 0; h < 2; h++)
#pragma unroll
            for (int i = 0; i < NA; i++)
                pz[(h * NA + i) * 128 + tid] = v[h][i];
        __threadfence();
        ws_sync();
        const int bf = owner(ts), bl = owner(te - 1);
        if (tid == 0)
            last = atomicAdd(cnt + tile, 1) == bl - bf;
        ws_sync();
        if (!last)
            return;
        __threadfence();
#pragma unroll
        for (int h = 0; h < 2; h++)
#pragma unroll
            for (int i = 0; i < NA; i++)
                v[h][i] = 0.0f;
        for (int bb = bf; bb <= bl; bb++) {
            const float *pb = part + ((int64_t)bb * 2 + (tile == ustart(bb) / KC ? 0 : 1)) * PS;
#pragma unroll
            for (int h = 0; h < 2; h++)
#pragma unroll
                for (int i = 0; i < NA; i++)
                    v[h][i] += ld_cg_f32(pb + (h * NA + i) * 128 + tid);
        }
        if (tid == 0)
            cnt[tile] = 0;
    }
    constexpr int GLU = epi_glu(EPI);
#pragma unroll
    for (int j = 0; j < NT / 8; j++)
#pragma unroll
        for (int q = 0; q < 4; q++) {
            const int m = 8 * j + c2 + (q & 1), r = 16 * warp + g + 8 * (q >> 1);
            if (m >= T)
                continue;
            const float v0 = v[0][4 * j + q], v1 = v[1][4 * j + q];
            if (GLU) {
                const int o = tile * 64 + r; /* v0 its gate sum, v1 its up sum */
                if (o < N / 2)
                    y[(int64_t)m * SY + o] = glu_act<EPI>(v0 + (b ? b[o] : 0.0f)) * (v1 + (b ? b[o + N / 2] : 0.0f));
            } else {
                const int n0 = tile * WS_TILE + r, n1 = n0 + 64;
                if (n0 < N)
                    y[(int64_t)m * SY + n0] = v0 + (b ? b[n0] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n0] : 0.0f);
                if (n1 < N)
                    y[(int64_t)m * SY + n1] = v1 + (b ? b[n1] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n1] : 0.0f);
            }
        }
}

/* y[T][..] = epilogue(x w^T) for T <= NT rows (9..64: NT 16, 32 or 64); ST stages; part and cnt as
 * ws_finish says (scratch B and the counters' region); GM: the maps are in global memory (the
 * compiler's kernels: the producer thread acquires them), else kernel parameters. Launch: gridDim.x blocks (at most U; one an
 * SM), 160 threads, gemm_ws_smem<NT, ST>() bytes of dynamic shared memory. */
template <int BF, int K, int N, int SY, int SR, int EPI, int NT, int ST, int GM>
DEV void gemm_ws(const LlmcTmap *tw, const LlmcTmap *tx, const float *__restrict__ b, float *__restrict__ y, int T,
                 const float *__restrict__ res, float *__restrict__ part, int *__restrict__ cnt)
{
    constexpr int GLU = epi_glu(EPI), KC = K / WS_BK, NA = NT / 2;
    constexpr int TILES = GLU ? (N / 2 + 63) / 64 : (N + WS_TILE - 1) / WS_TILE, U = TILES * KC;
    constexpr int WB = WS_TILE * 128, STAGE = WB + NT * 128; /* bytes: weights, and a whole stage */
    static_assert(K % WS_BK == 0 && (NT == 16 || NT == 32 || NT == 64) && ST >= 2, "gemm_ws: shapes");
    static_assert(STAGE % 1024 == 0, "gemm_ws: stages 1024-byte aligned (the swizzle)");
    extern __shared__ __align__(16) uint8_t wssm[];
    __shared__ int last;
    const uint32_t base = (smem_addr(wssm) + 1023u) & ~1023u, bars = base + ST * STAGE;
    const int tid = threadIdx.x, P = gridDim.x, bk = blockIdx.x;
    const int u0 = (int)((int64_t)bk * U / P), u1 = (int)((int64_t)(bk + 1) * U / P);
    /* full[s] at bars + 8s, empty[s] at bars + 8(ST + s) */
    if (tid == 0) {
        for (int s = 0; s < ST; s++) {
            wt_bar_init(bars + 8 * s, 1);
            wt_bar_init(bars + 8 * (ST + s), 4);
        }
        wt_bar_init_fence();
    }
    __syncthreads();
    if (u0 >= u1) {
        pdl_release();
        return;
    }
    if (tid >= 128) { /* the producer warp: its first thread */
        if (tid == 128) {
            if (GM) /* maps in global memory, written by a host copy (wt_maps_acquire) */
                wt_maps_acquire_here(tw, tx);
            wt_tma_prefetch(tw);
            wt_tma_prefetch(tx);
            /* unit u's weight boxes into stage st: tile rows 0-63, 64-127 (gated: gate, up rows) */
            auto weights = [&](int u, uint32_t st, uint32_t full) {
                const int tile = u / KC, k = (u % KC) * WS_BK;
                wt_tma_2d(st, tw, k, GLU ? tile * 64 : tile * WS_TILE, full);
                wt_tma_2d(st + WB / 2, tw, k, GLU ? N / 2 + tile * 64 : tile * WS_TILE + 64, full);
            };
            auto acts = [&](int u, uint32_t st, uint32_t full) {
                const int k = (u % KC) * WS_BK;
#pragma unroll
                for (int i = 0; i < NT / 16; i++)
                    wt_tma_2d(st + WB + i * 2048, tx, k, 16 * i, full);
            };
            /* the first stages (fresh: empty): their weights before the wait, constants as they are */
            const int pre = u1 - u0 < ST ? u1 - u0 : ST;
            for (int i = 0; i < pre; i++) {
                wt_bar_expect(bars + 8 * i, STAGE);
                weights(u0 + i, base + i * STAGE, bars + 8 * i);
            }
            pdl_wait(); /* the activations come from the kernel before */
            for (int i = 0; i < pre; i++)
                acts(u0 + i, base + i * STAGE, bars + 8 * i);
            int s = pre % ST;
            uint32_t ph = pre == ST ? 1 : 0;
            for (int u = u0 + pre; u < u1; u++) {
                const uint32_t st = base + s * STAGE, full = bars + 8 * s;
                wt_bar_wait(bars + 8 * (ST + s), ph ^ 1);
                wt_bar_expect(full, STAGE);
                weights(u, st, full);
                acts(u, st, full);
                if (++s == ST) {
                    s = 0;
                    ph ^= 1;
                }
            }
        }
        return;
    }
    pdl_wait(); /* the residual, the partials and the counters: earlier kernels' */
    const int lane = tid & (LLMC_WARP - 1);
    float acc[2][NA];
#pragma unroll
    for (int h = 0; h < 2; h++)
#pragma unroll
        for (int i = 0; i < NA; i++)
            acc[h][i] = 0.0f;
    int s = 0, prev = -1;
    uint32_t ph = 0;
    /* a tile's units at a time: the inner loop's only exit is to the wait for all groups (a loop
     * leaving with wgmma pending on some path makes ptxas wait on every path) */
    for (int u = u0; u < u1;) {
        const int tile = u / KC, ue = (tile + 1) * KC < u1 ? (tile + 1) * KC : u1, us = u;
        for (; u < ue; u++) {
            const uint32_t st = base + s * STAGE;
            wt_bar_wait(bars + 8 * s, ph);
            wg_fence();
#pragma unroll
            for (int k = 0; k < WS_BK / 16; k++) { /* the tile's first wgmma here adds nothing (scale-d 0) */
                const uint64_t db = wg_desc(st + WB + k * 32);
                WsMma<BF, NT>::mma(acc[0], wg_desc(st + k * 32), db, k > 0 || u > us);
                WsMma<BF, NT>::mma(acc[1], wg_desc(st + WB / 2 + k * 32), db, k > 0 || u > us);
            }
            wg_commit();
            wt_wait_group<1>(); /* the previous stage's group is done: its stage is free */
            if (prev >= 0 && lane == 0)
                wt_bar_arrive(bars + 8 * (ST + prev));
            prev = s;
            if (++s == ST) {
                s = 0;
                ph ^= 1;
            }
        }
        wt_wait_group<0>();
        wt_fence_acc<NA>(acc[0]);
        wt_fence_acc<NA>(acc[1]);
        if (lane == 0)
            wt_bar_arrive(bars + 8 * (ST + prev));
        prev = -1;
        ws_finish<N, SY, SR, EPI, NT, U, KC>(acc, tile, u0, u1, b, y, T, res, part, cnt, last);
    }
    pdl_release();
}
#endif

/* gemm_ws's dynamic shared memory: ST stages, 1024 bytes for the alignment, the mbarriers */
template <int NT, int ST>
constexpr int gemm_ws_smem() { return ST * (WS_TILE * 128 + NT * 128) + 1024 + 16 * ST; }

#endif /* LLMC_PTX */

#endif
