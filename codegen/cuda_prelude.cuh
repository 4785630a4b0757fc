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
    const double *sample;
};
static_assert(sizeof(LlmcDevArgs) == 120, "LlmcDevArgs layout differs from llmc_model.h");
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

/* The values of a 16-byte load: 4 f32 (WK 0) or 8 bf16 (WK 1) / f16 (WK 2) values, as floats. */
template <int WK>
DEV void unpack16(const u4 &q, float (&f)[8])
{
    if (WK == 0) {
        f[0] = __uint_as_float(q.x);
        f[1] = __uint_as_float(q.y);
        f[2] = __uint_as_float(q.z);
        f[3] = __uint_as_float(q.w);
    } else if (WK == 1) {
        unpack_bf16(q.x, f[0], f[1]);
        unpack_bf16(q.y, f[2], f[3]);
        unpack_bf16(q.z, f[4], f[5]);
        unpack_bf16(q.w, f[6], f[7]);
    } else {
        unpack_f16(q.x, f[0], f[1]);
        unpack_f16(q.y, f[2], f[3]);
        unpack_f16(q.z, f[4], f[5]);
        unpack_f16(q.w, f[6], f[7]);
    }
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
            /* 16-byte loads per row in flight per lane: 4 (8 for one row), fewer when the slice is
             * shorter (the same k order; fewer registers) */
            constexpr int UM = ROWS == 2 ? 4 : 8, UK = (KS + 32 * VE - 1) / (32 * VE), U = UK < UM ? UK : UM;
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
                    for (int r = 0; r < ROWS; r++)
                        unpack16<WK>(q[u][r], f[r]);
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

/* One RoPE pair rotated: the arithmetic of rope_kv_row and of gemv_b1's fused epilogue (the same
 * bits either way). */
DEV void rope_pair(float v0, float v1, float fc, float fs, float &r0, float &r1)
{
    r0 = v0 * fc - v1 * fs;
    r1 = v0 * fs + v1 * fc;
}

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

/* ---- matmul, one row (batch-1 decode): y[n] = sum_k x[k] w[n, k] (+ b[n]) ----
 * A unit is a pair of weight rows (EPI 2: j and j + N/2, written as silu(row j) * row (j + N/2));
 * KS warps share a unit, each streaming a K slice; 4 warps a block. Each lane keeps U 16-byte loads
 * of both rows in flight and issues the next group before it multiplies the current one (two
 * register buffers). The first two groups are issued before pdl_wait (the whole slice where it is
 * two groups, as for a 1B's matrices): weights do not depend on the previous kernel, so under PDL
 * (the runtime launches this kernel early, LLMC_GPU_KERNEL_PDL) they stream while it drains (two
 * groups there rather than one: 1B 1107 -> 1130 tok/s, 8B 226 -> 230 on an H200). A bulk L2
 * prefetch of the rows there cost more than it gave (of every row of the 8B's matrices 225 -> 191
 * tok/s, of the 1B's matrices up to 16 MB 1080 -> 1055). NORM: x * nw in the products and
 * 1/rms(x) applied to the sums (block-wide, after the stream). EPI 1: y = res + x w^T.
 * Needs 16-byte aligned rows and K % (KS * 16 bytes of weights) == 0; WK: 0 f32, 1 bf16, 2 f16. */
template <int WK, int VE>
DEV void gemv_b1_dot(const u4 &q, const float *__restrict__ x, const float *__restrict__ nw, int k, int norm,
                     float &acc)
{
    float f[8];
    unpack16<WK>(q, f);
    /* x by plain loads: under PDL it was written while this kernel ran (no read-only path). The
     * sums in gemv's order (halves, then the accumulator): one row gives the bits a batched step
     * gives it. */
    float s = 0.0f;
#pragma unroll
    for (int h = 0; h < VE; h += 4) {
        float4 xv = *(const float4 *)(x + k + h);
        if (norm) {
            const float4 nv = __ldg((const float4 *)(nw + k + h));
            xv.x *= nv.x;
            xv.y *= nv.y;
            xv.z *= nv.z;
            xv.w *= nv.w;
        }
        const float d = f[h] * xv.x + f[h + 1] * xv.y + f[h + 2] * xv.z + f[h + 3] * xv.w;
        if (h == 0)
            s = d;
        else
            s += d;
    }
    acc += s;
}
/* EPI 3: the rows are a merged Q/K/V projection feeding rope_kv_write; its work is done here too
 * (the one token's position and slot): q rotated to ro.q1, k rotated and v to the f16 cache, and
 * the plain rows to y. A unit is then a RoPE pair of a q or k head (i, i + HD/2, or 2i, 2i + 1
 * interleaved) or two v columns. */
struct RopeOut {
    const int32_t *pos, *slots;
    const float *cs; /* cs[p][i] = (cos, sin) */
    float *q1;
    uint16_t *kv;
    int layer;
};
template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int INTER = 0, int HQ = 1, int HKV = 1,
          int HD = 2, int L = 1, int BS = 1>
DEV void gemv_b1(const void *__restrict__ wv, const float *__restrict__ x, const float *__restrict__ b,
                 float *__restrict__ y, const float *__restrict__ nw, float eps, const float *__restrict__ res,
                 RopeOut ro = RopeOut{})
{
    constexpr int ES = WK == 0 ? 4 : 2, VE = 16 / ES; /* element bytes, elements a load */
    constexpr int KSL = K / KS, NV = KSL / VE;      /* the slice, its 16-byte vectors */
    constexpr int NB = (NV + 32 * U - 1) / (32 * U); /* groups of U loads a lane */
    constexpr int UNITS = EPI == 2 ? N / 2 : (N + 1) / 2;
    static_assert(K % (KS * VE) == 0, "K slice not a whole number of 16-byte vectors");
    pdl_release();
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, ks = warp % KS;
    const int unit = blockIdx.x * (4 / KS) + warp / KS;
    const int live = unit < UNITS;
    constexpr int QKP = (HQ + HKV) * HD / 2; /* EPI 3: units that are RoPE pairs */
    int n0, n1;
    if (EPI == 3) {
        const int hh = unit / (HD / 2), i = unit % (HD / 2);
        n0 = !live ? 0 : unit < QKP ? hh * HD + (INTER ? 2 * i : i) : 2 * QKP + 2 * (unit - QKP);
        n1 = !live ? 0 : unit < QKP ? n0 + (INTER ? 1 : HD / 2) : n0 + 1;
    } else {
        n0 = !live ? 0 : EPI == 2 ? unit : 2 * unit;
        n1 = !live ? 0 : EPI == 2 ? unit + N / 2 : (2 * unit + 1 < N ? 2 * unit + 1 : 2 * unit);
    }
    const char *w0 = (const char *)wv + ((int64_t)n0 * K + ks * KSL) * ES;
    const char *w1 = (const char *)wv + ((int64_t)n1 * K + ks * KSL) * ES;
    u4 qa[U][2], qb[U][2];
#define LLMC_B1_LOAD(q, g)                                                                                        \
    _Pragma("unroll") for (int u = 0; u < U; u++)                                                                  \
    {                                                                                                              \
        const int v = ((g) * U + u) * 32 + lane;                                                                   \
        if (live && v < NV) {                                                                                      \
            q[u][0] = ld16_stream(w0 + (int64_t)v * 16);                                                           \
            q[u][1] = ld16_stream(w1 + (int64_t)v * 16);                                                           \
        }                                                                                                          \
    }
#define LLMC_B1_DOT(q, g)                                                                                         \
    _Pragma("unroll") for (int u = 0; u < U; u++)                                                                  \
    {                                                                                                              \
        const int v = ((g) * U + u) * 32 + lane;                                                                   \
        if (live && v < NV) {                                                                                      \
            gemv_b1_dot<WK, VE>(q[u][0], x, nw, ks * KSL + v * VE, NORM, a0);                                      \
            gemv_b1_dot<WK, VE>(q[u][1], x, nw, ks * KSL + v * VE, NORM, a1);                                      \
        }                                                                                                          \
    }
    LLMC_B1_LOAD(qa, 0) /* both buffers' groups on their way before the wait */
    if (NB > 1)
        LLMC_B1_LOAD(qb, 1)
    pdl_wait();
    float a0 = 0.0f, a1 = 0.0f;
#pragma unroll
    for (int g = 0; g < NB; g += 2) {
        if (g > 0 && g + 1 < NB)
            LLMC_B1_LOAD(qb, g + 1)
        LLMC_B1_DOT(qa, g)
        if (g + 1 < NB) {
            if (g + 2 < NB)
                LLMC_B1_LOAD(qa, g + 2)
            LLMC_B1_DOT(qb, g + 1)
        }
    }
#undef LLMC_B1_LOAD
#undef LLMC_B1_DOT
    a0 = warp_sum(a0);
    a1 = warp_sum(a1);
    float inv = 1.0f;
    __shared__ float red[4];
    if (NORM) { /* 1/rms(x), block-wide, in gemv's order */
        float ss = 0.0f;
        for (int k = threadIdx.x; k < K; k += 128) {
            const float v = x[k];
            ss += v * v;
        }
        ss = warp_sum(ss);
        if (lane == 0)
            red[warp] = ss;
    }
    __shared__ float ksum[4][2];
    if (KS > 1 && lane == 0) {
        ksum[warp][0] = a0;
        ksum[warp][1] = a1;
    }
    if (NORM || KS > 1)
        __syncthreads();
    if (NORM)
        inv = 1.0f / sqrtf((red[0] + red[1] + red[2] + red[3]) / (float)K + eps);
    if (KS > 1) {
        if (ks != 0)
            return;
        a0 = 0.0f;
        a1 = 0.0f;
#pragma unroll
        for (int j = 0; j < KS; j++) { /* the slices in order */
            a0 += ksum[warp + j][0];
            a1 += ksum[warp + j][1];
        }
    }
    if (!live || lane != 0)
        return;
    const float v0 = a0 * inv + (b ? b[n0] : 0.0f), v1 = a1 * inv + (b ? b[n1] : 0.0f);
    if (EPI == 2) {
        y[n0] = silu(v0) * v1;
    } else if (EPI == 3) {
        y[n0] = v0;
        y[n1] = v1;
        const int slot = ro.slots[0];
        const int64_t kvo = kv_index(L, BS, HKV, HD, slot / BS, ro.layer, 0, slot % BS);
        if (unit >= QKP) { /* v columns */
            const int c = n0 - 2 * QKP;
            ro.kv[kvo + (int64_t)BS * HKV * HD + c] = f32_to_f16(v0);
            ro.kv[kvo + (int64_t)BS * HKV * HD + c + 1] = f32_to_f16(v1);
            return;
        }
        const int hh = unit / (HD / 2), i = unit % (HD / 2), i0 = n0 - hh * HD, i1 = n1 - hh * HD;
        const float *c = ro.cs + (int64_t)ro.pos[0] * HD;
        float r0, r1;
        rope_pair(v0, v1, c[2 * i], c[2 * i + 1], r0, r1);
        if (hh < HQ) {
            ro.q1[hh * HD + i0] = r0;
            ro.q1[hh * HD + i1] = r1;
        } else {
            ro.kv[kvo + (hh - HQ) * HD + i0] = f32_to_f16(r0);
            ro.kv[kvo + (hh - HQ) * HD + i1] = f32_to_f16(r1);
        }
    } else {
        y[n0] = (EPI == 1 ? res[n0] : 0.0f) + v0;
        if (n1 != n0)
            y[n1] = (EPI == 1 ? res[n1] : 0.0f) + v1;
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
DEV void ldm_x4_t(uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3, const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
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

/* Weight row of tile column c of the tile at n0: c itself, or with swz (a SwiGLU tile) gate and up
 * rows interleaved by 8 (N when past the matrix). */
template <int N>
DEV int gemm_wrow(int n0, int c, int swz)
{
    if (!swz)
        return n0 + c;
    const int j = n0 / 2 + (c >> 4) * 8 + (c & 7);
    return j < N / 2 ? j + ((c & 8) ? N / 2 : 0) : N;
}

/* One k-tile of a warp's MI x NJ mma tiles from a shared-memory stage (A: BM rows, B: BN rows, both
 * K-major with row stride LD halves); wm, wn: the warp's offsets in the block tile. */
template <int BF, int MI, int NJ, int BK, int LD>
DEV void gemm_mma_stage(float (&acc)[MI][NJ][4], const uint16_t (*A)[LD], const uint16_t (*B)[LD], int wm, int wn,
                        int lane)
{
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
        uint32_t af[MI][4], bfr[NJ][2];
#pragma unroll
        for (int i = 0; i < MI; i++)
            ldm_x4(af[i][0], af[i][1], af[i][2], af[i][3], &A[wm + i * 16 + (lane & 15)][kk + (lane >> 4) * 8]);
#pragma unroll
        for (int j = 0; j < NJ; j += 2)
            ldm_x4(bfr[j][0], bfr[j][1], bfr[j + 1][0], bfr[j + 1][1],
                   &B[wn + j * 8 + (lane & 7) + ((lane >> 4) << 3)][kk + ((lane >> 3) & 1) * 8]);
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int j = 0; j < NJ; j++)
                mma16816<BF>(acc[i][j], af[i], bfr[j]);
    }
}

/* The epilogue of the tensor-core matmuls for one pair of sums v0, v1: row m (< T), tile columns c
 * and c + 1 (c even) of the tile at n0. SPLIT > 1: raw partials [T][N] at their weight rows (gemm_reduce
 * finishes them); EPI 2: v0, v1 are gate sums and u0, u1 the up sums of the same outputs (interleaved
 * tile), y is N/2 wide; else y = v (+ bias) (+ the residual, EPI 1). */
template <int N, int SY, int SR, int EPI, int SPLIT>
DEV void gemm_store2(float *__restrict__ y, const float *__restrict__ b, const float *__restrict__ res, int m, int n0,
                     int c, float v0, float v1, float u0, float u1)
{
    if (SPLIT > 1) {
        const int na = gemm_wrow<N>(n0, c, EPI == 2), nb = gemm_wrow<N>(n0, c + 1, EPI == 2);
        if (na < N)
            y[(int64_t)m * N + na] = v0;
        if (nb < N)
            y[(int64_t)m * N + nb] = v1;
    } else if (EPI == 2) {
        const int o = n0 / 2 + (c >> 4) * 8 + (c & 7); /* output column */
        if (o < N / 2)
            y[(int64_t)m * SY + o] = silu(v0 + (b ? b[o] : 0.0f)) * (u0 + (b ? b[o + N / 2] : 0.0f));
        if (o + 1 < N / 2)
            y[(int64_t)m * SY + o + 1] = silu(v1 + (b ? b[o + 1] : 0.0f)) * (u1 + (b ? b[o + 1 + N / 2] : 0.0f));
    } else {
        const int n = n0 + c;
        if (n < N)
            y[(int64_t)m * SY + n] = v0 + (b ? b[n] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n] : 0.0f);
        if (n + 1 < N)
            y[(int64_t)m * SY + n + 1] = v1 + (b ? b[n + 1] : 0.0f) + (EPI == 1 ? res[(int64_t)m * SR + n + 1] : 0.0f);
    }
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
        gemm_mma_stage<BF, MI, NJ, BK, LD>(acc, As[s], Bs[s], wm, wn, lane);
        __syncthreads();
        if (kt + 1 < KT)
            store_a(s ^ 1);
    }
    cp_async_wait0();
    const int g = lane >> 2, c2 = (lane & 3) * 2;
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int m = m0 + wm + i * 16 + g + h * 8;
                if (m < T)
                    gemm_store2<N, SY, SR, SR ? 1 : 0, SPLIT>(y, b, res, m, n0, wn + j * 8 + c2, acc[i][j][2 * h],
                                                             acc[i][j][2 * h + 1], 0.0f, 0.0f);
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

/* ---- matmul, tensor cores, half activations (prefill and wide steps) ----
 * x: bf16/f16 rows [T][SX] that a norm or a conversion kernel wrote (scratch); w: weights [N][K].
 * Block tile BM x BN x BK on WM x WN warps (grid: row tiles x column tiles); ST cp.async stages of
 * both operands in dynamic shared memory (ST * (BM + BN) * (BK + 8) halves), one barrier a k-tile. Epilogues: EPI 0 y = acc (+ b); 1 y =
 * res + acc (+ b); 2 SwiGLU: the tile's columns interleave gate and up rows by 8 (tile column c reads
 * weight row n0/2 + (c/16)*8 + c%8, plus N/2 for the up half when c%16 >= 8), so a thread holds the
 * gate and up sums of one output in acc[i][j] and acc[i][j+1] and y is N/2 wide.
 * SPLIT > 1: block z sums the K slice z and writes raw partials to y + z*T*N in weight-row order
 * (gemm_reduce applies the epilogue). Needs K % (BK * SPLIT) == 0, 16-byte aligned rows. */
template <int NW>
DEV void cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(NW) : "memory"); }

template <int BF, int K, int N, int SX, int SY, int SR, int EPI, int SPLIT, int BM, int BN, int WM, int WN, int ST,
          int BK = 32>
DEV void gemm_h(const uint16_t *__restrict__ w, const uint16_t *__restrict__ x, const float *__restrict__ b,
                float *__restrict__ y, int T, const float *__restrict__ res)
{
    constexpr int LD = BK + 8, CPR = BK / 8; /* +8 halves: conflict-free ldmatrix; 16-byte chunks a row */
    constexpr int NT = 32 * WM * WN, MI = BM / WM / 16, NJ = BN / WN / 8;
    constexpr int AV = BM * BK / 8 / NT, BV = BN * BK / 8 / NT; /* 16-byte copies a thread per stage */
    constexpr int SWZ = EPI == 2;
    static_assert(AV * NT == BM * BK / 8 && BV * NT == BN * BK / 8, "tile not a multiple of the block");
    static_assert(NJ % 2 == 0 && K % BK == 0 && (K / BK) % SPLIT == 0, "tile shape");
    extern __shared__ __align__(16) uint16_t gsm[];
    uint16_t(*As)[BM][LD] = (uint16_t(*)[BM][LD])gsm;
    uint16_t(*Bs)[BN][LD] = (uint16_t(*)[BN][LD])(gsm + ST * BM * LD);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    /* Row tiles vary fastest (blockIdx.x): the blocks that share a weight tile run together, so
     * each weight is read from memory about once while the activations stay in L2. */
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int wm = (warp / WN) * (BM / WM), wn = (warp % WN) * (BN / WN);
    constexpr int KT = K / BK / SPLIT;
    const int kt0 = SPLIT > 1 ? (int)blockIdx.z * KT : 0;
    /* Source rows of this thread's copies (fixed over k): clamped to row 0 and zero-filled outside. */
    const uint16_t *ap[AV], *bp[BV];
    int ab[AV], bb[BV];
#pragma unroll
    for (int i = 0; i < AV; i++) {
        const int idx = tid + i * NT, r = idx / CPR, c = (idx % CPR) * 8, m = m0 + r;
        ap[i] = x + (int64_t)(m < T ? m : 0) * SX + kt0 * BK + c;
        ab[i] = m < T ? 16 : 0;
    }
#pragma unroll
    for (int i = 0; i < BV; i++) {
        const int idx = tid + i * NT, r = idx / CPR, c = (idx % CPR) * 8, n = gemm_wrow<N>(n0, r, SWZ);
        bp[i] = w + (int64_t)(n < N ? n : 0) * K + kt0 * BK + c;
        bb[i] = n < N ? 16 : 0;
    }
    auto load = [&](int kt, int s) {
#pragma unroll
        for (int i = 0; i < AV; i++) {
            const int idx = tid + i * NT;
            cp_async16(&As[s][idx / CPR][(idx % CPR) * 8], ap[i] + kt * BK, ab[i]);
        }
#pragma unroll
        for (int i = 0; i < BV; i++) {
            const int idx = tid + i * NT;
            cp_async16(&Bs[s][idx / CPR][(idx % CPR) * 8], bp[i] + kt * BK, bb[i]);
        }
    };
    float acc[MI][NJ][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int q = 0; q < 4; q++)
                acc[i][j][q] = 0.0f;
#pragma unroll
    for (int s = 0; s < ST - 1; s++) {
        if (s < KT)
            load(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < KT; kt++) {
        cp_async_wait<ST - 2>();
        __syncthreads(); /* stage kt landed for everyone; stage kt - 1 is free */
        if (kt + ST - 1 < KT)
            load(kt + ST - 1, (kt + ST - 1) % ST);
        cp_async_commit();
        gemm_mma_stage<BF, MI, NJ, BK, LD>(acc, As[kt % ST], Bs[kt % ST], wm, wn, lane);
    }
    cp_async_wait<0>();
    const int g = lane >> 2, c2 = (lane & 3) * 2;
    if (SPLIT > 1)
        y += (int64_t)blockIdx.z * T * N;
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            if (EPI == 2 && SPLIT == 1 && (j & 1)) /* the up sums, taken with the gate sums of j - 1 */
                continue;
            const int jj = EPI == 2 && SPLIT == 1 ? j + 1 : j;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int m = m0 + wm + i * 16 + g + h * 8;
                if (m < T)
                    gemm_store2<N, SY, SR, EPI, SPLIT>(y, b, res, m, n0, wn + j * 8 + c2, acc[i][j][2 * h],
                                                      acc[i][j][2 * h + 1], acc[i][jj][2 * h], acc[i][jj][2 * h + 1]);
            }
        }
}

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
    constexpr int SWZ = EPI == 2, STAGE = (BM + BN) * 128;
    static_assert(K % BK == 0 && (K / BK) % SPLIT == 0, "tile shape");
    extern __shared__ __align__(16) uint8_t wsm[];
    const uint32_t base = (smem_addr(wsm) + 1023u) & ~1023u;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
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
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(st + ao[i]), "l"(ap[i] + kt * BK), "r"(ab[i]));
#pragma unroll
        for (int i = 0; i < BV; i++)
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(st + bo[i]), "l"(bp[i] + kt * BK), "r"(bb[i]));
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
            if (EPI == 2 && SPLIT == 1 && (j & 1)) /* the up sums, taken with the gate sums of j - 1 */
                continue;
            const int jj = EPI == 2 && SPLIT == 1 ? j + 1 : j;
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

/* f32 rows to bf16/f16 (the A operand of gemm_h), optionally RMS-normalized (NORM: x * nw / rms(x)).
 * Grid: rows; D % 4 == 0 and 16-byte aligned rows. */
template <int BF, int NORM, int D, int SX>
DEV void rows_to_half(const float *__restrict__ x, const float *__restrict__ nw, uint16_t *__restrict__ y, float eps)
{
    __shared__ float red[32];
    const int r = blockIdx.x;
    const float4 *xr = (const float4 *)(x + (int64_t)r * SX);
    float inv = 1.0f;
    if (NORM) {
        float ss = 0.0f;
        for (int d = threadIdx.x; d < D / 4; d += blockDim.x) {
            const float4 v = xr[d];
            ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
        ss = block_sum(ss, red);
        inv = 1.0f / sqrtf(ss / (float)D + eps);
    }
    uint2 *yr = (uint2 *)(y + (int64_t)r * D);
    for (int d = threadIdx.x; d < D / 4; d += blockDim.x) {
        float4 v = xr[d];
        if (NORM) {
            const float4 wv = ((const float4 *)nw)[d];
            v = make_float4(wv.x * (inv * v.x), wv.y * (inv * v.y), wv.z * (inv * v.z), wv.w * (inv * v.w));
        }
        yr[d] = make_uint2(pack2(v.x, v.y, BF), pack2(v.z, v.w, BF));
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
        float r0, r1;
        rope_pair(xh[i0], xh[i1], fc, fs, r0, r1);
        y[(int64_t)t * SY + h * HD + i0] = r0;
        y[(int64_t)t * SY + h * HD + i1] = r1;
        return;
    }
    const int hk = h - HQ;
    const int64_t blk = slots[t] / BS;
    const int off = slots[t] % BS;
    uint16_t *kd = kv + kv_index(L, BS, HKV, HD, blk, layer, 0, off) + hk * HD;
    uint16_t *vd = kv + kv_index(L, BS, HKV, HD, blk, layer, 1, off) + hk * HD;
    const float *xh = k + (int64_t)t * SK + hk * HD;
    float r0, r1;
    rope_pair(xh[i0], xh[i1], fc, fs, r0, r1);
    kd[i0] = f32_to_f16(r0);
    kd[i1] = f32_to_f16(r1);
    vd[2 * i] = f32_to_f16(v[(int64_t)t * SV + hk * HD + 2 * i]);
    vd[2 * i + 1] = f32_to_f16(v[(int64_t)t * SV + hk * HD + 2 * i + 1]);
}

/* The end of a decode-attention block: each of its 4 warps left (max, sum, acc) of the G query
 * heads from h0 in shared memory; merged in warp order, then the attention output y (nz == 1) or the
 * block's partial [t][head][z] = (max, sum, acc[HD]) for a combine. */
template <int G, int HQ, int HD, int SY>
DEV void attn_merge_warps(const float (&wm)[4][G], const float (&wl)[4][G], const float (&wacc)[4][G][HD], int t,
                          int h0, int z, int nz, float *__restrict__ y, float *__restrict__ part)
{
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
        const int head = h0 + g;
        if (nz == 1) {
            y[(int64_t)t * SY + head * HD + d] = o / sum;
        } else {
            float *pp = part + (((int64_t)t * HQ + head) * nz + z) * (HD + 2);
            if (d == 0) {
                pp[0] = mx;
                pp[1] = sum;
            }
            pp[2 + d] = o;
        }
    }
}

/* Dimension d of one (token, head)'s attention output from its NZ partials at pp ((max, sum,
 * acc[HD]) each), combined in part order. CG: read through L2 (partials other blocks of the same
 * kernel wrote). NZ a constant: the loads of all parts unroll and issue together. */
template <int NZ, int HD, int CG>
DEV float attn_parts_combine(const float *pp, int d)
{
    float mx = -INFINITY;
#pragma unroll
    for (int z = 0; z < NZ; z++)
        mx = fmaxf(mx, CG ? __ldcg(pp + z * (HD + 2)) : pp[z * (HD + 2)]);
    float sum = 0.0f, o = 0.0f;
#pragma unroll
    for (int z = 0; z < NZ; z++) {
        const float *pz = pp + z * (HD + 2);
        const float mz = CG ? __ldcg(pz) : pz[0];
        const float f = mz == -INFINITY ? 0.0f : expf(mz - mx);
        sum += (CG ? __ldcg(pz + 1) : pz[1]) * f;
        o += (CG ? __ldcg(pz + 2 + d) : pz[2 + d]) * f;
    }
    return o / sum;
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
    attn_merge_warps<G, HQ, HD, SY>(wm, wl, wacc, t, h * G, z, nz, y, part);
}

/* Decode attention (steps of up to 64 tokens), flash-decoding without a second kernel: block
 * (t, y, z) serves GS of the G query heads of KV head h = y / (G / GS) (GS <= 4 keeps the sums in
 * registers) for token t over part z of NZ of its positions.
 * A lane group of HD/8 lanes takes one position at a time (16-byte loads of its K and V rows, 8
 * dimensions a lane), U positions in flight a group, and keeps its own online softmax; the groups
 * of a warp merge by shuffles (fixed order), the 4 warps through shared memory. With NZ > 1 the
 * block writes its (max, sum, acc) partial and counts itself in cnt[t][h]; the last block of (t, h)
 * combines the NZ partials into y (the order of attn_combine) and resets the counter, so the
 * counters are zero between kernels (the arena starts zeroed). Grid (T, HKV * G / GS, NZ); needs HD
 * a power of two from 8 to 256. */
template <int L, int BS, int HQ, int HKV, int HD, int SQ, int SY, int WIN, int NZ, int U, int GS>
DEV void paged_attn_dec(const int32_t *__restrict__ positions, const int32_t *__restrict__ seq_of_token,
                        const int32_t *__restrict__ block_tables, int max_blocks_per_seq, const uint8_t *kvp,
                        const float *__restrict__ q, float *__restrict__ y, float *__restrict__ part,
                        int *__restrict__ cnt, int layer, float scale)
{
    constexpr int G = GS, LP = HD / 8, PW = 32 / LP, NG = 4 * PW, SUB = HQ / HKV / GS;
    static_assert(HD % 8 == 0 && HD <= 256 && 32 % LP == 0, "head size: a power of two from 8 to 256");
    static_assert((HQ / HKV) % GS == 0, "GS divides the query heads of a group");
    __shared__ __align__(16) float qs[G][HD];
    __shared__ float wm[4][G], wl[4][G];
    __shared__ float wacc[4][G][HD];
    __shared__ int last;
    pdl_release(); /* the next kernel (the output projection) may start loading its weights */
    const int t = blockIdx.x, h = blockIdx.y / SUB, h0 = blockIdx.y * GS, z = blockIdx.z; /* h0: first query head */
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, li = lane % LP, gid = warp * PW + lane / LP;
    /* the step's own arrays: written before the step, never by the previous kernel */
    const int pe = positions[t];
    const int p0 = WIN > 0 && pe - WIN + 1 > 0 ? pe - WIN + 1 : 0;
    const int len = pe - p0 + 1, chunk = (len + NZ - 1) / NZ;
    const int pa = p0 + z * chunk, pb = pa + chunk < pe + 1 ? pa + chunk : pe + 1;
    const int32_t *table = block_tables + (int64_t)seq_of_token[t] * max_blocks_per_seq;
    const uint16_t *kv = (const uint16_t *)kvp;
    u4 kq[U], vq[U];
    /* K/V rows of the positions base + u * NG + gid below lim (else zero). Read-only path for the
     * positions before pe (cached by earlier steps; with several tokens, rope_kv_write before this
     * kernel does not release early, so this one starts after it finished); pe's rows, which the
     * Q/K/V kernel writes while this one may already run (one token, PDL), through L2. */
    auto load = [&](int base, int lim) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int p = base + u * NG + gid;
            kq[u] = vq[u] = u4{0, 0, 0, 0};
            if (p < lim) {
                const uint16_t *kr = kv + kv_index(L, BS, HKV, HD, table[p / BS], layer, 0, p % BS) + h * HD + li * 8;
                kq[u] = p == pe ? ld16_cg(kr) : ld16_stream(kr);
                vq[u] = p == pe ? ld16_cg(kr + (int64_t)BS * HKV * HD) : ld16_stream(kr + (int64_t)BS * HKV * HD);
            }
        }
    };
    /* One token: every position before pe was cached by earlier steps, so under PDL its first K/V
     * rows load while the Q/K/V kernel still runs; pe itself (written by it) after the wait. With
     * several tokens a sequence may have more positions in this step: everything after the wait. */
    const int early = gridDim.x == 1;
    if (early)
        load(pa, pe < pb ? pe : pb);
    pdl_wait();
    for (int e = threadIdx.x; e < G * HD; e += blockDim.x)
        qs[e / HD][e % HD] = q[(int64_t)t * SQ + (h0 + e / HD) * HD + e % HD] * scale;
    if (early) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int p = pa + u * NG + gid;
            if (p == pe && p < pb) {
                const uint16_t *kr = kv + kv_index(L, BS, HKV, HD, table[p / BS], layer, 0, p % BS) + h * HD + li * 8;
                kq[u] = ld16_cg(kr);
                vq[u] = ld16_cg(kr + (int64_t)BS * HKV * HD);
            }
        }
    }
    float m[G], l[G], acc[G][8];
#pragma unroll
    for (int g = 0; g < G; g++) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++)
            acc[g][j] = 0.0f;
    }
    __syncthreads();
    for (int base = pa; base < pb; base += NG * U) { /* uniform over the block */
        if (base != pa || !early)
            load(base, pb);
#pragma unroll
        for (int u = 0; u < U; u++) {
            float kf[8], vf[8];
            unpack16<2>(kq[u], kf);
            unpack16<2>(vq[u], vf);
            float s[G];
#pragma unroll
            for (int g = 0; g < G; g++) {
                const float4 qa = *(const float4 *)&qs[g][li * 8], qb = *(const float4 *)&qs[g][li * 8 + 4];
                s[g] = qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] + qb.y * kf[5] +
                       qb.z * kf[6] + qb.w * kf[7];
#pragma unroll
                for (int o = LP / 2; o > 0; o >>= 1)
                    s[g] += __shfl_xor_sync(0xffffffffu, s[g], o);
            }
            if (base + u * NG + gid < pb) {
#pragma unroll
                for (int g = 0; g < G; g++) {
                    const float mn = fmaxf(m[g], s[g]), corr = expf(m[g] - mn), e = expf(s[g] - mn);
                    l[g] = l[g] * corr + e;
#pragma unroll
                    for (int j = 0; j < 8; j++)
                        acc[g][j] = acc[g][j] * corr + e * vf[j];
                    m[g] = mn;
                }
            }
        }
    }
    /* the lane groups of the warp, merged pairwise in a fixed order */
#pragma unroll
    for (int o = LP; o < 32; o <<= 1) {
#pragma unroll
        for (int g = 0; g < G; g++) {
            const float mo = __shfl_xor_sync(0xffffffffu, m[g], o), lo = __shfl_xor_sync(0xffffffffu, l[g], o);
            const float mn = fmaxf(m[g], mo);
            const float f = m[g] == -INFINITY ? 0.0f : expf(m[g] - mn), fo = mo == -INFINITY ? 0.0f : expf(mo - mn);
            l[g] = l[g] * f + lo * fo;
#pragma unroll
            for (int j = 0; j < 8; j++)
                acc[g][j] = acc[g][j] * f + __shfl_xor_sync(0xffffffffu, acc[g][j], o) * fo;
            m[g] = mn;
        }
    }
    if (lane < LP) {
#pragma unroll
        for (int g = 0; g < G; g++) {
            if (lane == 0) {
                wm[warp][g] = m[g];
                wl[warp][g] = l[g];
            }
#pragma unroll
            for (int j = 0; j < 8; j++)
                wacc[warp][g][li * 8 + j] = acc[g][j];
        }
    }
    __syncthreads();
    attn_merge_warps<G, HQ, HD, SY>(wm, wl, wacc, t, h0, z, NZ, y, part);
    if (NZ == 1)
        return;
    /* This block's partial, ordered before its count by the barrier and the count's release (a
     * full fence here and in the last block cost about 0.4 us a layer); the last block's acquire
     * orders every other block's partial before its reads. */
    __syncthreads();
    if (threadIdx.x == 0) {
        int old;
        asm volatile("atom.acq_rel.gpu.global.add.s32 %0, [%1], 1;"
                     : "=r"(old)
                     : "l"(cnt + (int64_t)t * HKV * SUB + blockIdx.y)
                     : "memory");
        last = old == NZ - 1;
    }
    __syncthreads();
    if (!last)
        return;
    for (int e = threadIdx.x; e < G * HD; e += blockDim.x) {
        const int head = h0 + e / HD, d = e % HD;
        y[(int64_t)t * SY + head * HD + d] =
            attn_parts_combine<NZ, HD, 1>(part + ((int64_t)t * HQ + head) * NZ * (HD + 2), d);
    }
    if (threadIdx.x == 0)
        cnt[(int64_t)t * HKV * SUB + blockIdx.y] = 0;
}

/* ---- causal attention for long steps (prefill): flash attention over the paged cache ----
 * Grid (ceil(T / 64), HQ), 4 warps: the block takes 64 consecutive tokens of the step and one query
 * head, each warp 16 of the tokens. K/V tiles of 64 positions come into shared memory by cp.async
 * (two stages, rows from the sequence's block table, zero past the last position); S = Q K^T and
 * O += P V run on f16 tensor cores with f32 sums, the softmax online in base 2 (Q pre-scaled by
 * scale * log2 e; Q and P rounded to f16). Tokens of several sequences in one tile are served one
 * sequence a pass. Needs HD % 16 == 0. Dynamic shared memory: 2 * 2 * 64 * (HD + 8) halves. */
template <int L, int BS, int HQ, int HKV, int HD, int SQ, int SY, int WIN>
DEV void flash_prefill(const int32_t *__restrict__ positions, const int32_t *__restrict__ seq_of_token,
                       const int32_t *__restrict__ block_tables, int max_blocks_per_seq, const uint8_t *kvp,
                       const float *__restrict__ q, float *__restrict__ y, int T, int layer, float scale)
{
    constexpr int QT = 64, KTL = 64, LDK = HD + 8, G = HQ / HKV, DJ = HD / 8, KC = HD / 16;
    static_assert(HD % 16 == 0, "head_dim must be a multiple of 16");
    extern __shared__ __align__(16) uint16_t fsm[];
    uint16_t(*Ks)[KTL][LDK] = (uint16_t(*)[KTL][LDK])fsm;
    uint16_t(*Vs)[KTL][LDK] = (uint16_t(*)[KTL][LDK])(fsm + 2 * KTL * LDK);
    __shared__ int rseq[QT], rpos[QT];
    __shared__ int cur_seq, kmin_s, kmax_s;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int t0 = blockIdx.x * QT, head = blockIdx.y, kvh = head / G;
    const int g = lane >> 2, c2 = (lane & 3) * 2;
    const uint16_t *kv = (const uint16_t *)kvp;
    if (tid < QT) {
        const int t = t0 + tid;
        rseq[tid] = t < T ? seq_of_token[t] : -1;
        rpos[tid] = t < T ? positions[t] : 0;
    }
    const int r0 = warp * 16 + g, r1 = r0 + 8; /* this thread's two rows (block-local) */
    for (;;) {
        __syncthreads();
        if (tid == 0) {
            int cs = -1, lo = 0x7fffffff, hi = -1;
            for (int r = 0; r < QT; r++) {
                if (rseq[r] < 0 || (cs >= 0 && rseq[r] != cs))
                    continue;
                cs = rseq[r];
                const int p = rpos[r], a = WIN > 0 && p - WIN + 1 > 0 ? p - WIN + 1 : 0;
                lo = a < lo ? a : lo;
                hi = p > hi ? p : hi;
            }
            cur_seq = cs;
            kmin_s = lo;
            kmax_s = hi;
        }
        __syncthreads();
        const int cs = cur_seq;
        if (cs < 0)
            return;
        const int kmin = kmin_s, kmax = kmax_s, kbeg = kmin / KTL * KTL;
        const int32_t *table = block_tables + (int64_t)cs * max_blocks_per_seq;
        const int act0 = rseq[r0] == cs, act1 = rseq[r1] == cs;
        const int qp0 = rpos[r0], qp1 = rpos[r1];
        const int lo0 = WIN > 0 ? qp0 - WIN + 1 : 0, lo1 = WIN > 0 ? qp1 - WIN + 1 : 0;
        int wmax = -1; /* the warp's last position: tiles past it are skipped */
        for (int r = warp * 16; r < warp * 16 + 16; r++)
            if (rseq[r] == cs && rpos[r] > wmax)
                wmax = rpos[r];
        /* Q fragments (A operand, rows r0/r1, HD columns), scaled into base 2, f16. */
        uint32_t qf[KC][4];
        {
            const float qs = scale * 1.4426950408889634f;
            const float *q0 = q + (int64_t)(t0 + r0) * SQ + head * HD, *q1 = q + (int64_t)(t0 + r1) * SQ + head * HD;
#pragma unroll
            for (int kc = 0; kc < KC; kc++) {
                float2 a = act0 ? *(const float2 *)(q0 + kc * 16 + c2) : make_float2(0, 0);
                float2 b = act1 ? *(const float2 *)(q1 + kc * 16 + c2) : make_float2(0, 0);
                float2 c = act0 ? *(const float2 *)(q0 + kc * 16 + 8 + c2) : make_float2(0, 0);
                float2 d = act1 ? *(const float2 *)(q1 + kc * 16 + 8 + c2) : make_float2(0, 0);
                qf[kc][0] = pack2(a.x * qs, a.y * qs, 0);
                qf[kc][1] = pack2(b.x * qs, b.y * qs, 0);
                qf[kc][2] = pack2(c.x * qs, c.y * qs, 0);
                qf[kc][3] = pack2(d.x * qs, d.y * qs, 0);
            }
        }
        float o[DJ][4], m0v = -INFINITY, m1v = -INFINITY, l0 = 0.0f, l1 = 0.0f;
#pragma unroll
        for (int j = 0; j < DJ; j++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                o[j][e] = 0.0f;
        auto load = [&](int p0, int s) {
            constexpr int CH = HD / 8; /* 16-byte chunks a row */
            for (int idx = tid; idx < KTL * CH; idx += 128) {
                const int r = idx / CH, c = (idx % CH) * 8, p = p0 + r, ok = p >= kmin && p <= kmax;
                const int64_t blk = ok ? table[p / BS] : 0;
                const uint16_t *kr = kv + kv_index(L, BS, HKV, HD, blk, layer, 0, ok ? p % BS : 0) + kvh * HD + c;
                const uint16_t *vr = kv + kv_index(L, BS, HKV, HD, blk, layer, 1, ok ? p % BS : 0) + kvh * HD + c;
                cp_async16(&Ks[s][r][c], kr, ok ? 16 : 0);
                cp_async16(&Vs[s][r][c], vr, ok ? 16 : 0);
            }
        };
        load(kbeg, 0);
        cp_async_commit();
        for (int p0 = kbeg, it = 0; p0 <= kmax; p0 += KTL, it++) {
            const int s = it & 1;
            __syncthreads(); /* everyone is done with the other stage */
            if (p0 + KTL <= kmax)
                load(p0 + KTL, s ^ 1);
            cp_async_commit();
            cp_async_wait<1>();
            __syncthreads();
            if (p0 > wmax) /* warp-uniform: no row of the warp reaches this tile */
                continue;
            float sc[8][4];
#pragma unroll
            for (int j = 0; j < 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    sc[j][e] = 0.0f;
#pragma unroll
            for (int kc = 0; kc < KC; kc++)
#pragma unroll
                for (int j = 0; j < 8; j += 2) {
                    uint32_t bq[2][2];
                    ldm_x4(bq[0][0], bq[0][1], bq[1][0], bq[1][1],
                           &Ks[s][j * 8 + (lane & 7) + ((lane >> 4) << 3)][kc * 16 + ((lane >> 3) & 1) * 8]);
                    mma16816<0>(sc[j], qf[kc], bq[0]);
                    mma16816<0>(sc[j + 1], qf[kc], bq[1]);
                }
            /* mask (causal, window, other sequences' rows) and the online softmax of rows r0, r1 */
            float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
            for (int j = 0; j < 8; j++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int p = p0 + j * 8 + c2 + e;
                    if (!act0 || p > qp0 || p < lo0)
                        sc[j][e] = -INFINITY;
                    if (!act1 || p > qp1 || p < lo1)
                        sc[j][2 + e] = -INFINITY;
                    mx0 = fmaxf(mx0, sc[j][e]);
                    mx1 = fmaxf(mx1, sc[j][2 + e]);
                }
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
            const float n0v = fmaxf(m0v, mx0), n1v = fmaxf(m1v, mx1);
            const float u0 = n0v == -INFINITY ? 0.0f : n0v, u1 = n1v == -INFINITY ? 0.0f : n1v;
            const float f0 = exp2f(m0v - u0), f1 = exp2f(m1v - u1);
            m0v = n0v;
            m1v = n1v;
            float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
            for (int j = 0; j < 8; j++) {
                sc[j][0] = exp2f(sc[j][0] - u0);
                sc[j][1] = exp2f(sc[j][1] - u0);
                sc[j][2] = exp2f(sc[j][2] - u1);
                sc[j][3] = exp2f(sc[j][3] - u1);
                s0 += sc[j][0] + sc[j][1];
                s1 += sc[j][2] + sc[j][3];
            }
            l0 = l0 * f0 + s0; /* per-thread partial row sums: reduced over the quad at the end */
            l1 = l1 * f1 + s1;
#pragma unroll
            for (int j = 0; j < DJ; j++) {
                o[j][0] *= f0;
                o[j][1] *= f0;
                o[j][2] *= f1;
                o[j][3] *= f1;
            }
            /* O += P V: P from the S accumulators (C layout of two n8 tiles = A layout of one k16) */
#pragma unroll
            for (int kc = 0; kc < 4; kc++) {
                uint32_t pa[4] = {pack2(sc[2 * kc][0], sc[2 * kc][1], 0), pack2(sc[2 * kc][2], sc[2 * kc][3], 0),
                                  pack2(sc[2 * kc + 1][0], sc[2 * kc + 1][1], 0),
                                  pack2(sc[2 * kc + 1][2], sc[2 * kc + 1][3], 0)};
#pragma unroll
                for (int j = 0; j < DJ; j += 2) {
                    uint32_t bv[2][2];
                    ldm_x4_t(bv[0][0], bv[0][1], bv[1][0], bv[1][1],
                             &Vs[s][kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8][j * 8 + (lane >> 4) * 8]);
                    mma16816<0>(o[j], pa, bv[0]);
                    mma16816<0>(o[j + 1], pa, bv[1]);
                }
            }
        }
        l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
        l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
        float *y0 = y + (int64_t)(t0 + r0) * SY + head * HD, *y1 = y + (int64_t)(t0 + r1) * SY + head * HD;
#pragma unroll
        for (int j = 0; j < DJ; j++) {
            if (act0)
                *(float2 *)(y0 + j * 8 + c2) = make_float2(o[j][0] / l0, o[j][1] / l0);
            if (act1)
                *(float2 *)(y1 + j * 8 + c2) = make_float2(o[j][2] / l1, o[j][3] / l1);
        }
        cp_async_wait<0>();
        __syncthreads(); /* every warp has read its rows' state before they are retired */
        if (tid < QT && rseq[tid] == cs)
            rseq[tid] = -1;
    }
}

/* Combines the nz partials of each (token, head) (grid: tokens x heads). */
template <int HQ, int HD, int SY, int NZ>
DEV void attn_combine(const float *part, float *y)
{
    pdl_release();
    const int t = blockIdx.x, head = blockIdx.y;
    for (int d = threadIdx.x; d < HD; d += blockDim.x)
        y[(int64_t)t * SY + head * HD + d] = attn_parts_combine<NZ, HD, 0>(part + ((int64_t)t * HQ + head) * NZ * (HD + 2), d);
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


/* ---- sampling of every logits row (grid: output rows, SAMPLE_NT threads) ----
 * smp: [rows][4]: each row's temperature (0: the argmax), top_p, top_k and uniform in [0, 1).
 * The function is llmc_sample_u's (runtime/sample.c): p = softmax(logits / T); the top_k most
 * probable (rank: p descending, id ascending); of those the smallest rank prefix whose mass reaches
 * top_p of theirs; then the token whose interval of the cumulative mass holds u * mass, in rank
 * order, or in id order when neither top-k nor top-p is on (as the host walks them). No sort: the candidate sets are rank prefixes found by radix selection over the bits
 * of p (8 bits a pass, 256-bin histograms of counts or of mass), ties in p resolved by id with a
 * scan. Masses are sums in 2^-62 fixed point, so the result does not depend on the order threads
 * add them. */
#define SAMPLE_NT 1024
struct SampleSel {
    uint32_t key;  /* bits of p at the selected element */
    int id;        /* its id */
    uint64_t mass; /* fixed-point mass of everything ranked up to and including it */
    int found;
};
template <int V, int S>
struct SampleRow {
    const float *x;
    float mx, temp;
    double inv;
    uint32_t ck; /* the candidate set: key > ck, or key == ck and id <= cid */
    int cid;
    __device__ __forceinline__ float prob(int i) const { return (float)((double)expf((x[i] - mx) / temp) * inv); }
    __device__ __forceinline__ static uint32_t key(float p) { return __float_as_uint(p); }
    __device__ __forceinline__ bool in(uint32_t k, int i) const { return k > ck || (k == ck && i <= cid); }
    __device__ __forceinline__ static uint64_t fx(float p) { return (uint64_t)((double)p * 4611686018427387904.0); }
};
/* The first id (ascending) among those flagged by f(id, p) at which the running sum of w(p) (fixed
 * point, in id order) exceeds `target`; -1 when the total does not. Each thread takes a contiguous
 * range of ids; scratch holds SAMPLE_NT + 4 words. */
template <int V, int S, class F, class W>
DEV int sample_walk(const SampleRow<V, S> &r, F f, W wt, uint64_t target, uint64_t *scratch)
{
    constexpr int R = (V + SAMPLE_NT - 1) / SAMPLE_NT;
    const int t = threadIdx.x, lo = t * R < V ? t * R : V, hi = lo + R < V ? lo + R : V;
    uint64_t c = 0;
    for (int i = lo; i < hi; i++) {
        const float p = r.prob(i);
        if (f(i, p))
            c += wt(p);
    }
    __syncthreads();
    scratch[t] = c;
    __syncthreads();
    if (t == 0) {
        uint64_t run = 0, before = 0;
        int owner = -1;
        for (int u = 0; u < SAMPLE_NT; u++) {
            if (owner < 0 && run + scratch[u] > target) {
                owner = u;
                before = run;
            }
            run += scratch[u];
        }
        scratch[SAMPLE_NT] = (uint64_t)(int64_t)owner;
        scratch[SAMPLE_NT + 1] = before;
    }
    __syncthreads();
    const int owner = (int)(int64_t)scratch[SAMPLE_NT];
    if (t == owner) {
        uint64_t run = scratch[SAMPLE_NT + 1];
        int res = hi - 1;
        for (int i = lo; i < hi; i++) {
            const float p = r.prob(i);
            if (f(i, p) && (run += wt(p)) > target) {
                res = i;
                break;
            }
        }
        scratch[SAMPLE_NT + 2] = (uint64_t)res;
    }
    __syncthreads();
    const int res = owner >= 0 ? (int)scratch[SAMPLE_NT + 2] : -1;
    __syncthreads();
    return res;
}
/* The id of tie element number j (0-based, ascending ids) among the candidates with key k. */
template <int V, int S>
DEV int sample_tie(const SampleRow<V, S> &r, uint32_t k, int j, uint64_t *scratch)
{
    return sample_walk(
        r, [&](int i, float p) { return SampleRow<V, S>::key(p) == k && r.in(k, i); }, [](float) { return (uint64_t)1; },
        (uint64_t)j, scratch);
}
/* Radix selection in rank order among the candidates: by count (MODE 0: the element ranked
 * number `target` from 1) or by mass (MODE 1: the first whose inclusive cumulative mass is >=
 * target; MODE 2: > target). */
template <int MODE, int V, int S>
DEV SampleSel sample_select(const SampleRow<V, S> &r, uint64_t target, uint64_t *hist, uint64_t *scratch)
{
    __shared__ uint64_t s_above;
    __shared__ int s_sel;
    uint32_t prefix = 0, mask = 0;
    uint64_t above = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x)
            hist[b] = 0;
        __syncthreads();
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            const float p = r.prob(i);
            const uint32_t k = SampleRow<V, S>::key(p);
            if ((k & mask) == prefix && r.in(k, i))
                atomicAdd((unsigned long long *)&hist[(k >> shift) & 255],
                          MODE == 0 ? 1ull : (unsigned long long)SampleRow<V, S>::fx(p));
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            uint64_t run = above;
            int sel = -1;
            for (int b = 255; b >= 0; b--) {
                const uint64_t nxt = run + hist[b];
                if (hist[b] != 0 && (MODE == 2 ? nxt > target : nxt >= target)) {
                    sel = b;
                    break;
                }
                run = nxt;
            }
            s_sel = sel;
            s_above = run;
        }
        __syncthreads();
        const int sel = s_sel;
        above = s_above;
        __syncthreads();
        if (sel < 0)
            return SampleSel{0, -1, 0, 0};
        prefix |= (uint32_t)sel << shift;
        mask |= 255u << shift;
    }
    /* every candidate with key `prefix` weighs the same: which of them (by id) crosses the target */
    const float pv = __uint_as_float(prefix);
    const uint64_t q = MODE == 0 ? 1 : SampleRow<V, S>::fx(pv);
    uint64_t j = 0;
    if (q > 0 && target > above)
        j = MODE == 2 ? (target - above) / q : (target - above + q - 1) / q - 1;
    /* j is within the group: its bin was chosen because the group's mass reaches the target */
    const int id = sample_tie<V, S>(r, prefix, (int)j, scratch);
    return SampleSel{prefix, id, above + (j + 1) * q, 1};
}

template <int V, int S>
DEV void sample_row(const float *logits, int32_t *ids, const double *smp)
{
    constexpr int NW = SAMPLE_NT / 32;
    __shared__ float sv[NW];
    __shared__ int si[NW];
    __shared__ uint64_t hist[256];
    __shared__ uint64_t scratch[SAMPLE_NT + 4];
    __shared__ double red[NW];
    const float *x = logits + (int64_t)blockIdx.x * S;
    smp += 4 * (int64_t)blockIdx.x; /* this row's parameters */
    float best = -__int_as_float(0x7f800000);
    int bi = 0x7fffffff;
    /* AB loads issued together, then taken in id order (the same result as one at a time; one at
     * a time this loop cost about 20 us of a 1B's decode step on an H200) */
    constexpr int PER = (V + SAMPLE_NT - 1) / SAMPLE_NT, AB = 16;
    for (int j0 = 0; j0 < PER; j0 += AB) {
        float v[AB];
#pragma unroll
        for (int j = 0; j < AB; j++) {
            const int i = (j0 + j) * SAMPLE_NT + threadIdx.x;
            v[j] = i < V ? x[i] : 0.0f;
        }
#pragma unroll
        for (int j = 0; j < AB; j++) {
            const int i = (j0 + j) * SAMPLE_NT + threadIdx.x;
            if (i < V)
                argmax_take(best, bi, v[j], i);
        }
    }
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
    for (int w = 0; w < NW; w++)
        argmax_take(best, bi, sv[w], si[w]);
    bi = bi == 0x7fffffff ? 0 : bi;
    if (smp[0] <= 0.0 || V == 1) {
        if (threadIdx.x == 0)
            ids[blockIdx.x] = bi;
        return;
    }
    SampleRow<V, S> r;
    r.x = x;
    r.mx = x[bi];
    r.temp = (float)smp[0];
    r.inv = 1.0;
    r.ck = 0;
    r.cid = V;
    double sum = 0.0;
    for (int i = threadIdx.x; i < V; i += SAMPLE_NT)
        sum += (double)expf((x[i] - r.mx) / r.temp);
    for (int m = 16; m > 0; m >>= 1)
        sum += __shfl_xor_sync(0xffffffffu, sum, m);
    if ((threadIdx.x & 31) == 0)
        red[threadIdx.x >> 5] = sum;
    __syncthreads();
    sum = 0.0;
    for (int w = 0; w < NW; w++)
        sum += red[w];
    r.inv = 1.0 / sum;
    const int top_k = (int)smp[2];
    const double top_p = smp[1];
    if (top_k > 0 && top_k < V) { /* the k best */
        SampleSel k = sample_select<0>(r, (uint64_t)top_k, hist, scratch);
        if (k.found) {
            r.ck = k.key;
            r.cid = k.id;
        }
    }
    /* mass of the candidates */
    __shared__ unsigned long long s_mass;
    if (threadIdx.x == 0)
        s_mass = 0;
    __syncthreads();
    unsigned long long part = 0;
    for (int i = threadIdx.x; i < V; i += SAMPLE_NT) {
        const float p = r.prob(i);
        if (r.in(SampleRow<V, S>::key(p), i))
            part += SampleRow<V, S>::fx(p);
    }
    atomicAdd(&s_mass, part);
    __syncthreads();
    uint64_t mass = s_mass;
    if (top_p > 0.0 && top_p < 1.0) { /* the smallest rank prefix reaching top_p of the mass */
        SampleSel pp = sample_select<1>(r, (uint64_t)((double)mass * top_p), hist, scratch);
        if (pp.found) {
            r.ck = pp.key;
            r.cid = pp.id;
            mass = pp.mass;
        }
    }
    const double u = smp[3];
    const uint64_t X = (uint64_t)(u * (double)mass);
    int tok;
    if (top_k > 0 && top_k < V || top_p > 0.0 && top_p < 1.0) { /* candidates in rank order */
        SampleSel d = sample_select<2>(r, X, hist, scratch);
        tok = d.found ? d.id : -1;
    } else { /* the whole vocabulary, in id order */
        tok = sample_walk(
            r, [](int, float) { return true; }, [](float p) { return SampleRow<V, S>::fx(p); }, X, scratch);
    }
    /* u < 1 and the walks add the same fixed-point masses as `mass`, so u * mass always falls
     * inside; the argmax stands in should that ever fail */
    if (tok < 0)
        tok = bi;
    if (threadIdx.x == 0)
        ids[blockIdx.x] = tok;
}

/* ---- select_rows (grid: output rows) ---- */
template <int D, int SX, int SY>
DEV void select_row(const float *x, const int32_t *rows, float *y)
{
    const int o = blockIdx.x;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        y[(int64_t)o * SY + d] = x[(int64_t)rows[o] * SX + d];
}
