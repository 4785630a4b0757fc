/* cuda_prelude.cuh — the device-side building blocks of generated CUDA models.
 *
 * Compiled by NVRTC (no system headers): fixed-width types and the LlmcDevArgs mirror are declared
 * here; its layout must equal the C struct in llmc_model.h (both sides assert its size). Generated
 * kernels are extern "C" __global__ functions taking LlmcDevArgs by value, with every shape, stride
 * and arena/weight offset a literal constant.
 *
 * Conventions: activations are float32; weights are bf16, f16 or f32 ([N][K], K contiguous); the
 * KV cache is f16, paged: block b holds for each layer l the K then V rows of its positions,
 * [b][l][2][BS][HKV][HD].
 */
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

struct LlmcDevArgs {
    const uint8_t *weights;
    uint8_t *arena;
    uint8_t *kv;
    const uint8_t *consts;
    const int32_t *tokens, *positions, *seq_of_token, *slots, *out_rows, *block_tables;
    float *logits;
    int32_t *out_ids;
    int32_t n_tokens, n_out, max_blocks_per_seq, reserved;
};
static_assert(sizeof(LlmcDevArgs) == 112, "LlmcDevArgs layout differs from llmc_model.h");
/* The launch's own values (operand offsets, a layer index): kernels are shared across layers. */
struct LlmcKernelOffsets {
    int64_t v[8];
};
static_assert(sizeof(LlmcKernelOffsets) == 64, "LlmcKernelOffsets layout differs from llmc_model.h");

#define DEV static __device__ __forceinline__
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
/* Weight element loaders, one per storage format. */
DEV float wload(const uint16_t *p, int64_t i, int bf) { return bf ? bf16_to_f32(__ldg(p + i)) : f16_to_f32(__ldg(p + i)); }

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
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
/* Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets the result. */
DEV float block_sum(float v, float *scratch32)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
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

/* ---- paged KV ---- */
DEV int64_t kv_index(int L, int BS, int HKV, int HD, int64_t blk, int layer, int which, int off)
{
    return (((blk * L + layer) * 2 + which) * (int64_t)BS + off) * (int64_t)(HKV * HD);
}

/* ---- matmul, skinny (decode): y[t, n] = sum_k x[t, k] w[n, k] (+ b[n]) ----
 * A warp computes 2 rows for up to 8 tokens (block y = token chunk); 4 warps per block. Weights
 * stream through 16-byte non-allocating loads (VEC) or scalar loads (K not a multiple of the vector),
 * x comes through the read-only cache. WK: 0 f32, 1 bf16, 2 f16.
 * Fusions: NORM, an RMSNorm prologue (x[t] * nw * 1/rms(x[t]), the rms computed here from x);
 * EPI 1, a residual added to the result (y = res + x w^T); EPI 2, SwiGLU: the warp's two rows are
 * j and j + N/2 and it writes silu(row j) * row (j + N/2) to y[t, j]. */
template <int WK, int K, int N, int SX, int SY, int VEC, int NORM = 0, int EPI = 0, int SR = 0,
          int ROWS = 2, int KSPLIT = 1>
DEV void gemv(const void *__restrict__ wv, const float *__restrict__ x, const float *__restrict__ b, float *__restrict__ y,
              int T, const float *__restrict__ nw = 0, float eps = 0.0f, const float *__restrict__ res = 0)
{
    __shared__ float red[8][4];
    /* KSPLIT warps share a row (pair), each summing a K slice; the block holds 4 / KSPLIT of them. */
    __shared__ float ksum[KSPLIT > 1 ? 4 : 1][2][8];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int ks = warp % KSPLIT;
    const int wid = blockIdx.x * (4 / KSPLIT) + warp / KSPLIT; /* ROWS rows per warp group */
    constexpr int KS = K / KSPLIT;                               /* the slice, a multiple of the vector */
    const int t0 = blockIdx.y * 8;
    const int nt = T - t0 < 8 ? T - t0 : 8;
    x += (int64_t)t0 * SX;
    y += (int64_t)t0 * SY;
    int n0, n1, live;
    if (EPI == 2) {
        n0 = wid < N / 2 ? wid : 0;
        n1 = n0 + N / 2;
        live = wid < N / 2;
    } else {
        n0 = wid * ROWS < N ? wid * ROWS : 0;
        n1 = ROWS == 2 && n0 + 1 < N ? n0 + 1 : n0;
        live = wid * ROWS < N;
    }
    float acc[2][8];
#pragma unroll
    for (int r = 0; r < 2; r++)
#pragma unroll
        for (int t = 0; t < 8; t++)
            acc[r][t] = 0.0f;
    if (live && nt > 0) {
        if (VEC) {
            constexpr int VE = WK == 0 ? 4 : 8; /* elements per 16 bytes */
            constexpr int U = ROWS == 2 ? 4 : 8; /* 16-byte loads per row in flight per lane */
            const char *w0 = (const char *)wv + (int64_t)n0 * K * (WK == 0 ? 4 : 2);
            const char *w1 = (const char *)wv + (int64_t)n1 * K * (WK == 0 ? 4 : 2);
            const int kend = (ks + 1) * KS;
            for (int kb = ks * KS + lane * VE; kb < kend; kb += 32 * VE * U) {
                u4 q[U][2];
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int k = kb + u * 32 * VE;
                    if (k < kend) {
                        q[u][0] = ld16_stream(w0 + (int64_t)k * (WK == 0 ? 4 : 2));
                        if (ROWS == 2)
                            q[u][1] = ld16_stream(w1 + (int64_t)k * (WK == 0 ? 4 : 2));
                    }
                }
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int k = kb + u * 32 * VE;
                    if (k >= kend)
                        break;
                    float f[2][8];
#pragma unroll
                    for (int r = 0; r < ROWS; r++) {
                        if (WK == 0) {
                            f[r][0] = __uint_as_float(q[u][r].x);
                            f[r][1] = __uint_as_float(q[u][r].y);
                            f[r][2] = __uint_as_float(q[u][r].z);
                            f[r][3] = __uint_as_float(q[u][r].w);
                        } else if (WK == 1) {
                            unpack_bf16(q[u][r].x, f[r][0], f[r][1]);
                            unpack_bf16(q[u][r].y, f[r][2], f[r][3]);
                            unpack_bf16(q[u][r].z, f[r][4], f[r][5]);
                            unpack_bf16(q[u][r].w, f[r][6], f[r][7]);
                        } else {
                            unpack_f16(q[u][r].x, f[r][0], f[r][1]);
                            unpack_f16(q[u][r].y, f[r][2], f[r][3]);
                            unpack_f16(q[u][r].z, f[r][4], f[r][5]);
                            unpack_f16(q[u][r].w, f[r][6], f[r][7]);
                        }
                    }
                    float4 na = make_float4(1, 1, 1, 1), nb = make_float4(1, 1, 1, 1);
                    if (NORM) {
                        na = __ldg((const float4 *)(nw + k));
                        if (VE == 8)
                            nb = __ldg((const float4 *)(nw + k + 4));
                    }
#pragma unroll
                    for (int t = 0; t < 8; t++) {
                        if (t < nt) {
                            float4 xa = __ldg((const float4 *)(x + (int64_t)t * SX + k));
                            if (NORM) {
                                xa.x *= na.x;
                                xa.y *= na.y;
                                xa.z *= na.z;
                                xa.w *= na.w;
                            }
                            float s0 = f[0][0] * xa.x + f[0][1] * xa.y + f[0][2] * xa.z + f[0][3] * xa.w;
                            float s1 = ROWS == 2 ? f[1][0] * xa.x + f[1][1] * xa.y + f[1][2] * xa.z + f[1][3] * xa.w : 0.0f;
                            if (VE == 8) {
                                float4 xb = __ldg((const float4 *)(x + (int64_t)t * SX + k + 4));
                                if (NORM) {
                                    xb.x *= nb.x;
                                    xb.y *= nb.y;
                                    xb.z *= nb.z;
                                    xb.w *= nb.w;
                                }
                                s0 += f[0][4] * xb.x + f[0][5] * xb.y + f[0][6] * xb.z + f[0][7] * xb.w;
                                if (ROWS == 2)
                                    s1 += f[1][4] * xb.x + f[1][5] * xb.y + f[1][6] * xb.z + f[1][7] * xb.w;
                            }
                            acc[0][t] += s0;
                            acc[1][t] += s1;
                        }
                    }
                }
            }
        } else {
            for (int k = ks * KS + lane; k < (ks + 1) * KS; k += 32) {
                float w0, w1;
                if (WK == 0) {
                    w0 = __ldg((const float *)wv + (int64_t)n0 * K + k);
                    w1 = __ldg((const float *)wv + (int64_t)n1 * K + k);
                } else {
                    w0 = wload((const uint16_t *)wv, (int64_t)n0 * K + k, WK == 1);
                    w1 = wload((const uint16_t *)wv, (int64_t)n1 * K + k, WK == 1);
                }
                const float nk = NORM ? __ldg(nw + k) : 1.0f;
#pragma unroll
                for (int t = 0; t < 8; t++)
                    if (t < nt) {
                        const float xv = __ldg(x + (int64_t)t * SX + k) * nk;
                        acc[0][t] += w0 * xv;
                        acc[1][t] += w1 * xv;
                    }
            }
        }
    }
    /* RMSNorm prologue, applied at the end: the products used x * nw, the 1/rms of each row is a
     * factor. Computed after the weight stream started, by all warps (rows spread over warps). */
    float inv[8];
#pragma unroll
    for (int t = 0; t < 8; t++)
        inv[t] = 1.0f;
    if (NORM) {
        __shared__ float rms[8];
        for (int t = 0; t < nt; t++) {
            float ss = 0.0f;
            for (int k = threadIdx.x; k < K; k += 128) {
                const float v = __ldg(x + (int64_t)t * SX + k);
                ss += v * v;
            }
            ss = warp_sum(ss);
            if (lane == 0)
                red[t][warp] = ss;
        }
        __syncthreads();
        if (threadIdx.x < nt)
            rms[threadIdx.x] = 1.0f / sqrtf((red[threadIdx.x][0] + red[threadIdx.x][1] + red[threadIdx.x][2] +
                                            red[threadIdx.x][3]) / (float)K + eps);
        __syncthreads();
#pragma unroll
        for (int t = 0; t < 8; t++)
            if (t < nt)
                inv[t] = rms[t];
    }
    if (KSPLIT > 1) { /* partial sums of the K slices meet in shared memory, summed in order */
#pragma unroll
        for (int t = 0; t < 8; t++) {
            if (t >= nt)
                break;
            const float v0 = warp_sum(acc[0][t]), v1 = ROWS == 2 ? warp_sum(acc[1][t]) : 0.0f;
            if (lane == 0) {
                ksum[warp][0][t] = v0;
                ksum[warp][1][t] = v1;
            }
        }
        __syncthreads();
        if (ks != 0)
            return;
#pragma unroll
        for (int t = 0; t < 8; t++) {
            float v0 = 0.0f, v1 = 0.0f;
#pragma unroll
            for (int j = 0; j < KSPLIT; j++) {
                v0 += t < nt ? ksum[warp + j][0][t] : 0.0f;
                v1 += t < nt ? ksum[warp + j][1][t] : 0.0f;
            }
            acc[0][t] = lane == 0 ? v0 : 0.0f;
            acc[1][t] = lane == 0 ? v1 : 0.0f;
        }
    }
    if (!live || nt <= 0)
        return;
#pragma unroll
    for (int t = 0; t < 8; t++) {
        if (t >= nt) /* uniform: only the chunk's rows are reduced */
            break;
        float v0 = KSPLIT > 1 ? acc[0][t] : warp_sum(acc[0][t]);
        float v1 = ROWS == 2 ? (KSPLIT > 1 ? acc[1][t] : warp_sum(acc[1][t])) : v0;
        if (lane == 0) {
            v0 = v0 * inv[t] + (b ? b[n0] : 0.0f);
            v1 = v1 * inv[t] + (b ? b[n1] : 0.0f);
            if (EPI == 2) {
                y[(int64_t)t * SY + n0] = silu(v0) * v1;
            } else {
                const float r0 = EPI == 1 ? res[(int64_t)(t0 + t) * SR + n0] : 0.0f;
                const float r1 = EPI == 1 ? res[(int64_t)(t0 + t) * SR + n1] : 0.0f;
                y[(int64_t)t * SY + n0] = r0 + v0;
                if (n1 != n0)
                    y[(int64_t)t * SY + n1] = r1 + v1;
            }
        }
    }
}

/* ---- matmul, tensor cores (prefill, batched decode) ----
 * mma.sync m16n8k16 with f32 accumulators. Block tile 64 tokens x 64 outputs x 32 k, 4 warps of
 * 32 x 32; A (f32 activations) is converted to bf16/f16 on its way to shared memory, B (weights)
 * comes by cp.async; two shared-memory stages. Needs K % 32 == 0 and 16-byte aligned rows. */
DEV uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
DEV void cp_async16(void *dst, const void *src, int bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smem_addr(dst)), "l"(src), "r"(bytes));
}
DEV void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
DEV void cp_async_wait1() { asm volatile("cp.async.wait_group 1;" ::: "memory"); }
DEV void cp_async_wait0() { asm volatile("cp.async.wait_group 0;" ::: "memory"); }
DEV void ldm_x4(uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(smem_addr(p)));
}
template <int BF>
DEV void mma16816(float *c, const uint32_t *a, const uint32_t *b)
{
    if (BF)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
DEV uint32_t pack2(float lo, float hi, int bf)
{
    if (bf)
        return (uint32_t)f32_to_bf16(lo) | ((uint32_t)f32_to_bf16(hi) << 16);
    return (uint32_t)f32_to_f16(lo) | ((uint32_t)f32_to_f16(hi) << 16);
}

template <int BF, int K, int N, int SX, int SY, int SR = 0, int SPLIT = 1, int BM = 64, int BN = 64, int WM = 2,
          int WN = 2>
DEV void gemm_tc(const uint16_t *w, const float *x, const float *b, float *y, int T, const float *res = 0)
{
    /* SPLIT > 1: block z computes the K slice z of SPLIT and writes raw partial sums to
     * y + z * T * N ([z][T][N], no bias or residual): gemm_reduce finishes them. */
    /* WM x WN warps, each a (BM/WM) x (BN/WN) tile of MI x NJ mma tiles. */
    constexpr int BK = 32, LD = BK + 8; /* +8 halves: conflict-free ldmatrix */
    constexpr int NT = 32 * WM * WN, MI = BM / WM / 16, NJ = BN / WN / 8;
    constexpr int AV = BM * BK / 4 / NT, BV = BN * BK * 2 / 16 / NT; /* float4 / 16-byte loads per thread */
    __shared__ __align__(16) uint16_t As[2][BM][LD];
    __shared__ __align__(16) uint16_t Bs[2][BN][LD];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int wm = (warp / WN) * (BM / WM), wn = (warp % WN) * (BN / WN);
    float acc[MI][NJ][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int q = 0; q < 4; q++)
                acc[i][j][q] = 0.0f;
    float4 ra[AV];
    auto load_a = [&](int kt) {
#pragma unroll
        for (int i = 0; i < AV; i++) {
            const int idx = tid + i * NT, r = idx >> 3, c = (idx & 7) * 4;
            const int m = m0 + r;
            ra[i] = m < T ? __ldg((const float4 *)(x + (int64_t)m * SX + kt * BK + c)) : make_float4(0, 0, 0, 0);
        }
    };
    auto store_a = [&](int s) {
#pragma unroll
        for (int i = 0; i < AV; i++) {
            const int idx = tid + i * NT, r = idx >> 3, c = (idx & 7) * 4;
            uint2 v = make_uint2(pack2(ra[i].x, ra[i].y, BF), pack2(ra[i].z, ra[i].w, BF));
            *(uint2 *)&As[s][r][c] = v;
        }
    };
    auto load_b = [&](int kt, int s) {
#pragma unroll
        for (int i = 0; i < BV; i++) {
            const int idx = tid + i * NT, r = idx >> 2, c = (idx & 3) * 8;
            const int n = n0 + r;
            const uint16_t *src = w + (int64_t)(n < N ? n : 0) * K + kt * BK + c;
            cp_async16(&Bs[s][r][c], src, n < N ? 16 : 0);
        }
    };
    constexpr int KT = K / BK / SPLIT;
    const int kt0 = SPLIT > 1 ? (int)blockIdx.z * KT : 0;
    if (SPLIT > 1)
        y += (int64_t)blockIdx.z * T * N;
    x += kt0 * BK;
    w += kt0 * BK;
    load_a(0);
    load_b(0, 0);
    cp_async_commit();
    store_a(0);
    for (int kt = 0; kt < KT; kt++) {
        const int s = kt & 1;
        if (kt + 1 < KT) {
            load_a(kt + 1);
            load_b(kt + 1, s ^ 1);
        }
        cp_async_commit();
        cp_async_wait1();
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            uint32_t af[MI][4], bfr[NJ][2];
#pragma unroll
            for (int i = 0; i < MI; i++)
                ldm_x4(af[i][0], af[i][1], af[i][2], af[i][3], &As[s][wm + i * 16 + (lane & 15)][kk + (lane >> 4) * 8]);
#pragma unroll
            for (int j = 0; j < NJ; j += 2)
                ldm_x4(bfr[j][0], bfr[j][1], bfr[j + 1][0], bfr[j + 1][1],
                       &Bs[s][wn + j * 8 + (lane & 7) + ((lane >> 4) << 3)][kk + ((lane >> 3) & 1) * 8]);
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int j = 0; j < NJ; j++)
                    mma16816<BF>(acc[i][j], af[i], bfr[j]);
        }
        __syncthreads();
        if (kt + 1 < KT)
            store_a(s ^ 1);
    }
    cp_async_wait0();
    const int g = lane >> 2, c2 = (lane & 3) * 2;
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            const int n = n0 + wn + j * 8 + c2;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int m = m0 + wm + i * 16 + g + h * 8;
                if (m < T && SPLIT > 1) {
                    if (n < N)
                        y[(int64_t)m * N + n] = acc[i][j][2 * h];
                    if (n + 1 < N)
                        y[(int64_t)m * N + n + 1] = acc[i][j][2 * h + 1];
                } else if (m < T) {
                    if (n < N)
                        y[(int64_t)m * SY + n] = acc[i][j][2 * h] + (b ? b[n] : 0.0f) + (SR ? res[(int64_t)m * SR + n] : 0.0f);
                    if (n + 1 < N)
                        y[(int64_t)m * SY + n + 1] =
                            acc[i][j][2 * h + 1] + (b ? b[n + 1] : 0.0f) + (SR ? res[(int64_t)m * SR + n + 1] : 0.0f);
                }
            }
        }
}

/* Sums SPLIT partial products [z][T][N] in order z = 0.. (deterministic), then the epilogue: bias,
 * residual (EPI 1) or SwiGLU of columns j and j + N/2 (EPI 2, output N/2 wide). Grid-stride. */
template <int N, int SY, int SR, int SPLIT, int EPI>
DEV void gemm_reduce(const float *__restrict__ part, const float *__restrict__ b, const float *__restrict__ res,
                     float *__restrict__ y, int T)
{
    constexpr int NO = EPI == 2 ? N / 2 : N;
    const int64_t total = (int64_t)T * NO, plane = (int64_t)T * N;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = e / NO;
        const int n = (int)(e % NO);
        float v0 = 0.0f, v1 = 0.0f;
#pragma unroll
        for (int z = 0; z < SPLIT; z++) {
            v0 += part[z * plane + t * N + n];
            if (EPI == 2)
                v1 += part[z * plane + t * N + n + N / 2];
        }
        if (b) {
            v0 += b[n];
            if (EPI == 2)
                v1 += b[n + N / 2];
        }
        y[t * SY + n] = EPI == 2 ? silu(v0) * v1 : v0 + (EPI == 1 ? res[t * SR + n] : 0.0f);
    }
}

/* ---- embedding: y[t] = table[tokens[t]] (grid: tokens) ---- */
template <int WK, int D, int SY>
DEV void embed(const void *table, const int32_t *tok, float *y)
{
    const int t = blockIdx.x;
    const int64_t row = (int64_t)tok[t] * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        y[(int64_t)t * SY + d] = WK == 0 ? __ldg((const float *)table + row + d)
                                         : wload((const uint16_t *)table, row + d, WK == 1);
}

/* ---- RMSNorm, optionally after the residual add (grid: rows) ---- */
template <int ADD, int D, int SA, int SB, int SS, int SY>
DEV void rmsnorm_row(const float *a_, const float *b_, float *s_, const float *w, float *y, float eps)
{
    __shared__ float red[32];
    const int r = blockIdx.x;
    const float *x = a_ + (int64_t)r * SA;
    float ss = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float v = x[d];
        if (ADD) {
            v += b_[(int64_t)r * SB + d];
            s_[(int64_t)r * SS + d] = v;
        }
        ss += v * v;
    }
    ss = block_sum(ss, red);
    const float inv = 1.0f / sqrtf(ss / (float)D + eps);
    const float *xs = ADD ? s_ + (int64_t)r * SS : x; /* each thread rereads what it wrote */
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        y[(int64_t)r * SY + d] = w[d] * (inv * xs[d]);
}

/* ---- elementwise: OP 0 add, 1 mul, 2 silu, 3 swiglu(a, b) over rows x D ---- */
template <int OP, int D, int SA, int SB, int SY>
DEV void eltwise(const float *x, const float *b_, float *y, int rows)
{
    const int64_t n = (int64_t)rows * D;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = e / D;
        const int c = (int)(e % D);
        const float av = x[r * SA + c];
        const float bv = OP == 2 ? 0.0f : b_[r * SB + c];
        y[r * SY + c] = OP == 0 ? av + bv : OP == 1 ? av * bv : OP == 2 ? silu(av) : silu(av) * bv;
    }
}

/* ---- rotary embeddings (grid: rows). cs[p][i] = (cos, sin) of p * inv_freq[i], filled on the host. ---- */
template <int INTER, int H, int HD, int SX, int SY>
DEV void rope_row(const float *x, const int32_t *pos, const float *cs, float *y)
{
    const int r = blockIdx.x;
    const float *c = cs + (int64_t)pos[r] * HD;
    for (int e = threadIdx.x; e < H * (HD / 2); e += blockDim.x) {
        const int h = e / (HD / 2), i = e % (HD / 2);
        const int i0 = INTER ? 2 * i : i, i1 = INTER ? 2 * i + 1 : i + HD / 2;
        const float *xh = x + (int64_t)r * SX + h * HD;
        const float v0 = xh[i0], v1 = xh[i1], fc = c[2 * i], fs = c[2 * i + 1];
        float *yh = y + (int64_t)r * SY + h * HD;
        yh[i0] = v0 * fc - v1 * fs;
        yh[i1] = v0 * fs + v1 * fc;
    }
}

/* ---- paged KV cache (f16) ---- */
template <int L, int BS, int HKV, int HD, int SK, int SV>
DEV void kv_write_row(const float *k, const float *v, const int32_t *slots, uint16_t *kv, int layer)
{
    const int t = blockIdx.x;
    const int64_t blk = slots[t] / BS;
    const int off = slots[t] % BS;
    uint16_t *kd = kv + kv_index(L, BS, HKV, HD, blk, layer, 0, off);
    uint16_t *vd = kv + kv_index(L, BS, HKV, HD, blk, layer, 1, off);
    for (int e = threadIdx.x; e < HKV * HD; e += blockDim.x) {
        kd[e] = f32_to_f16(k[(int64_t)t * SK + e]);
        vd[e] = f32_to_f16(v[(int64_t)t * SV + e]);
    }
}

/* RoPE of q (to y) and of k, then k and v to the paged cache. Grid (tokens, HQ + HKV): block
 * (t, h) rotates query head h, or for h >= HQ rotates key head h - HQ and writes it and the value
 * head to the token's slot. HD/2 threads: one pair each. */
template <int INTER, int HQ, int HKV, int HD, int SQ, int SK, int SV, int SY, int L, int BS>
DEV void rope_kv_row(const float *q, const float *k, const float *v, const int32_t *pos, const int32_t *slots,
                     const float *cs, float *y, uint16_t *kv, int layer)
{
    const int t = blockIdx.x, h = blockIdx.y, i = threadIdx.x;
    const float *c = cs + (int64_t)pos[t] * HD;
    const int i0 = INTER ? 2 * i : i, i1 = INTER ? 2 * i + 1 : i + HD / 2;
    const float fc = c[2 * i], fs = c[2 * i + 1];
    if (h < HQ) {
        const float *xh = q + (int64_t)t * SQ + h * HD;
        const float v0 = xh[i0], v1 = xh[i1];
        y[(int64_t)t * SY + h * HD + i0] = v0 * fc - v1 * fs;
        y[(int64_t)t * SY + h * HD + i1] = v0 * fs + v1 * fc;
        return;
    }
    const int hk = h - HQ;
    const int64_t blk = slots[t] / BS;
    const int off = slots[t] % BS;
    uint16_t *kd = kv + kv_index(L, BS, HKV, HD, blk, layer, 0, off) + hk * HD;
    uint16_t *vd = kv + kv_index(L, BS, HKV, HD, blk, layer, 1, off) + hk * HD;
    const float *xh = k + (int64_t)t * SK + hk * HD;
    const float v0 = xh[i0], v1 = xh[i1];
    kd[i0] = f32_to_f16(v0 * fc - v1 * fs);
    kd[i1] = f32_to_f16(v0 * fs + v1 * fc);
    vd[2 * i] = f32_to_f16(v[(int64_t)t * SV + hk * HD + 2 * i]);
    vd[2 * i + 1] = f32_to_f16(v[(int64_t)t * SV + hk * HD + 2 * i + 1]);
}

/* Attention of token blockIdx.x over its sequence, for the G = HQ/HKV query heads sharing KV head
 * blockIdx.y, positions split into gridDim.z parts (flash-decoding). 4 warps; each warp walks every
 * 4th position of the part with an online softmax per head; lanes split the head dimension. With one
 * part the result goes to y; with several, (max, sum, acc) partials go to `part` for attn_combine. */
template <int L, int BS, int HQ, int HKV, int HD, int SQ, int SY, int WIN>
DEV void paged_attn(const int32_t *__restrict__ positions, const int32_t *__restrict__ seq_of_token,
                    const int32_t *__restrict__ block_tables, int max_blocks_per_seq, const uint8_t *kvp,
                    const float *__restrict__ q, float *__restrict__ y, float *__restrict__ part, int layer, float scale)
{
    constexpr int G = HQ / HKV, PER = (HD + 31) / 32;
    __shared__ float qs[G][HD];
    __shared__ float wm[4][G], wl[4][G];
    __shared__ float wacc[4][G][HD];
    const int t = blockIdx.x, h = blockIdx.y, z = blockIdx.z, nz = gridDim.z;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int e = threadIdx.x; e < G * HD; e += blockDim.x)
        qs[e / HD][e % HD] = q[(int64_t)t * SQ + (h * G + e / HD) * HD + e % HD] * scale;
    __syncthreads();
    const int pe = positions[t];
    const int p0 = WIN > 0 && pe - WIN + 1 > 0 ? pe - WIN + 1 : 0;
    const int len = pe - p0 + 1, chunk = (len + nz - 1) / nz;
    const int pa = p0 + z * chunk, pb = pa + chunk < pe + 1 ? pa + chunk : pe + 1;
    const int32_t *table = block_tables + (int64_t)seq_of_token[t] * max_blocks_per_seq;
    const uint16_t *kv = (const uint16_t *)kvp;
    float m[G], l[G], acc[G][PER];
#pragma unroll
    for (int g = 0; g < G; g++) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
#pragma unroll
        for (int i = 0; i < PER; i++)
            acc[g][i] = 0.0f;
    }
    for (int p = pa + warp; p < pb; p += 4) {
        const int64_t blk = table[p / BS];
        const uint16_t *kr = kv + kv_index(L, BS, HKV, HD, blk, layer, 0, p % BS) + h * HD;
        const uint16_t *vr = kv + kv_index(L, BS, HKV, HD, blk, layer, 1, p % BS) + h * HD;
        float kf[PER], vf[PER];
#pragma unroll
        for (int i = 0; i < PER; i++) {
            const int d = lane + 32 * i;
            kf[i] = d < HD ? f16_to_f32(kr[d]) : 0.0f;
            vf[i] = d < HD ? f16_to_f32(vr[d]) : 0.0f;
        }
#pragma unroll
        for (int g = 0; g < G; g++) {
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < PER; i++)
                if (lane + 32 * i < HD)
                    s += qs[g][lane + 32 * i] * kf[i];
            s = warp_sum(s);
            const float mn = fmaxf(m[g], s), corr = expf(m[g] - mn), e = expf(s - mn);
            l[g] = l[g] * corr + e;
#pragma unroll
            for (int i = 0; i < PER; i++)
                acc[g][i] = acc[g][i] * corr + e * vf[i];
            m[g] = mn;
        }
    }
#pragma unroll
    for (int g = 0; g < G; g++) {
        if (lane == 0) {
            wm[warp][g] = m[g];
            wl[warp][g] = l[g];
        }
#pragma unroll
        for (int i = 0; i < PER; i++)
            if (lane + 32 * i < HD)
                wacc[warp][g][lane + 32 * i] = acc[g][i];
    }
    __syncthreads();
    for (int e = threadIdx.x; e < G * HD; e += blockDim.x) {
        const int g = e / HD, d = e % HD;
        float mx = -INFINITY;
        for (int w = 0; w < 4; w++)
            mx = fmaxf(mx, wm[w][g]);
        float sum = 0.0f, o = 0.0f;
        for (int w = 0; w < 4; w++) {
            const float f = wm[w][g] == -INFINITY ? 0.0f : expf(wm[w][g] - mx);
            sum += wl[w][g] * f;
            o += wacc[w][g][d] * f;
        }
        const int head = h * G + g;
        if (nz == 1) {
            y[(int64_t)t * SY + head * HD + d] = o / sum;
        } else { /* partial: [t][head][z] = (max, sum, acc[HD]) */
            float *pp = part + (((int64_t)t * HQ + head) * nz + z) * (HD + 2);
            if (d == 0) {
                pp[0] = mx;
                pp[1] = sum;
            }
            pp[2 + d] = o;
        }
    }
}

/* Combines the nz partials of each (token, head) (grid: tokens x heads). */
template <int HQ, int HD, int SY, int NZ>
DEV void attn_combine(const float *part, float *y)
{
    constexpr int nz = NZ; /* a constant: the loads of all parts unroll and issue together */
    const int t = blockIdx.x, head = blockIdx.y;
    const float *pp = part + ((int64_t)t * HQ + head) * nz * (HD + 2);
    float mx = -INFINITY;
#pragma unroll
    for (int z = 0; z < nz; z++)
        mx = fmaxf(mx, pp[z * (HD + 2)]);
    for (int d = threadIdx.x; d < HD; d += blockDim.x) {
        float sum = 0.0f, o = 0.0f;
#pragma unroll
        for (int z = 0; z < nz; z++) {
            const float *pz = pp + z * (HD + 2);
            const float f = pz[0] == -INFINITY ? 0.0f : expf(pz[0] - mx);
            sum += pz[1] * f;
            o += pz[2 + d] * f;
        }
        y[(int64_t)t * SY + head * HD + d] = o / sum;
    }
}

/* ---- greedy token of every logits row (grid: output rows, 256 threads) ----
 * The largest value, lowest id on ties, NaN never chosen (id 0 when a row is all NaN): the same
 * choice as llmc_argmax in runtime/sample.c, so greedy decoding reads 4 bytes a row back. */
DEV void argmax_take(float &best, int &bi, float v, int i)
{
    if (v > best || (v == best && i < bi)) {
        best = v;
        bi = i;
    }
}

template <int V, int S>
DEV void argmax_row(const float *logits, int32_t *ids)
{
    __shared__ float sv[8];
    __shared__ int si[8];
    const float *x = logits + (int64_t)blockIdx.x * S;
    float best = -__int_as_float(0x7f800000);
    int bi = 0x7fffffff;
    for (int i = threadIdx.x; i < V; i += 256)
        argmax_take(best, bi, x[i], i);
    for (int m = 16; m > 0; m >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, best, m);
        int oi = __shfl_xor_sync(0xffffffffu, bi, m);
        argmax_take(best, bi, ov, oi);
    }
    if ((threadIdx.x & 31) == 0) {
        sv[threadIdx.x >> 5] = best;
        si[threadIdx.x >> 5] = bi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < 8; w++)
            argmax_take(best, bi, sv[w], si[w]);
        ids[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
    }
}

/* ---- select_rows (grid: output rows) ---- */
template <int D, int SX, int SY>
DEV void select_row(const float *x, const int32_t *rows, float *y)
{
    const int o = blockIdx.x;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        y[(int64_t)o * SY + d] = x[(int64_t)rows[o] * SX + d];
}
