/* cuda_gemv.cuh — the skinny matmul of decode steps of up to 64 tokens (emitter: cuda_matmul.c):
 * a warp streams two weight rows for up to 8 tokens, with the RMSNorm prologue, residual and SwiGLU
 * epilogues fused by the passes.
 */
#ifndef LLMC_CUDA_GEMV_CUH
#define LLMC_CUDA_GEMV_CUH

#include "cuda_formats.cuh"

/* ---- matmul, skinny (decode): y[t, n] = sum_k x[t, k] w[n, k] (+ b[n]) ----
 * A warp computes 2 rows for up to 8 tokens (block y = token chunk); 4 warps per block. Weights
 * stream through 16-byte non-allocating loads (VEC) or scalar loads (K not a multiple of the vector),
 * x comes through the read-only cache. WK: cuda_formats.cuh; quantized formats (WFmt<WK>::Q) in groups of
 * G along K (scales and zeros in wq): by 16-byte slots of their lane8 rows (qdot, gemv_b1's sums),
 * or by scalar loads in their storage order ORD, dequantized as the cpu target does.
 * TX 1 (batch-invariant builds, which run it for every step of more than one row): the grid's x
 * the chunks of 8 tokens and y the weight units, so the blocks reading the same weight rows run
 * together (one read of the matrix from memory however many chunks); the arithmetic is the same.
 * Fusions: NORM, an RMSNorm prologue (x[t] * nw * 1/rms(x[t]), the rms computed here from x);
 * EPI 1, a residual added to the result (y = res + x w^T); EPI 2, SwiGLU: the warp's two rows are
 * j and j + N/2 and it writes silu(row j) * row (j + N/2) to y[t, j]. */
template <int WK, int K, int N, int SX, int SY, int VEC, int NORM = 0, int EPI = 0, int SR = 0,
          int ROWS = 2, int KSPLIT = 1, int G = K, int ORD = ORDER_ROW_MAJOR, int TX = 0>
DEV void gemv(const void *__restrict__ wv, const float *__restrict__ x, const float *__restrict__ b, float *__restrict__ y,
              int T, const float *__restrict__ nw = 0, float eps = 0.0f, const float *__restrict__ res = 0,
              WQ wq = WQ{})
{
    __shared__ float red[8][4];
    /* KSPLIT warps share a row (pair), each summing a K slice; the block holds 4 / KSPLIT of them. */
    __shared__ float ksum[KSPLIT > 1 ? 4 : 1][2][8];
    const int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2;
    const int ks = warp % KSPLIT;
    const int bw = TX ? blockIdx.y : blockIdx.x, bt = TX ? blockIdx.x : blockIdx.y; /* TX: row chunks in x */
    const int wid = bw * (4 / KSPLIT) + warp / KSPLIT; /* ROWS rows per warp group */
    constexpr int KS = K / KSPLIT;                     /* the slice, a multiple of the vector */
    const int t0 = bt * 8;
    const int nt = T - t0 < 8 ? T - t0 : 8;
    x += (int64_t)t0 * SX;
    y += (int64_t)t0 * SY;
    int n0, n1, live;
    if (epi_glu(EPI)) {
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
        if constexpr (VEC && WFmt<WK>::Q) {
            /* quantized rows in lane8 order: qdot's sums (gemv_b1's), a slot of each row at a time
             * (two spill on sm_80 under 4 blocks an SM) */
            using QL = QLane<WK, G>;
            constexpr int VE = QL::VE, U = 1;
            static_assert(!VEC || KS % QL::T == 0, "a quantized row's K slice must be whole lane8 tiles");
            const char *w0 = (const char *)wv + (int64_t)n0 * K / VE * 16;
            const char *w1 = (const char *)wv + (int64_t)n1 * K / VE * 16;
            const int vend = (ks + 1) * (KS / VE);
            for (int vb = ks * (KS / VE) + lane; vb < vend; vb += LLMC_WARP * U) {
                u4 q[U][2];
                QPar<WK, G> p[U][2];
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int v = vb + u * LLMC_WARP;
                    if (v < vend) {
                        q[u][0] = ld16_stream(w0 + (int64_t)v * 16);
                        qpar<WK, K, G>(wq, n0, v, p[u][0]);
                        if (ROWS == 2) {
                            q[u][1] = ld16_stream(w1 + (int64_t)v * 16);
                            qpar<WK, K, G>(wq, n1, v, p[u][1]);
                        }
                    }
                }
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int v = vb + u * LLMC_WARP;
                    if (v >= vend)
                        break;
                    const int kq = v / 8 * QL::T + 4 * (v % 8);
                    qdot<WK, G, ROWS, 8, 1, NORM>(q[u], p[u], x + kq, SX, nt, nw + kq, acc);
                }
            }
            if constexpr (WFmt<WK>::TS) { /* nvfp4's tensor scale, on each lane's sums as gemv_b1 */
                const float ts = WFmt<WK>::tscale(wq);
#pragma unroll
                for (int r = 0; r < 2; r++)
#pragma unroll
                    for (int t = 0; t < 8; t++)
                        acc[r][t] *= ts;
            }
        } else if constexpr (VEC) {
            constexpr int VE = WFmt<WK>::VE; /* elements per 16 bytes */
            /* 16-byte loads per row in flight per lane: 4 (8 for one row), fewer when the slice is
             * shorter (the same k order; fewer registers) */
            constexpr int UM = ROWS == 2 ? 4 : 8, UK = (KS + LLMC_WARP * VE - 1) / (LLMC_WARP * VE);
            constexpr int U = UK < UM ? UK : UM;
            const char *w0 = (const char *)wv + WFmt<WK>::off((int64_t)n0 * K);
            const char *w1 = (const char *)wv + WFmt<WK>::off((int64_t)n1 * K);
            const int kend = (ks + 1) * KS;
            for (int kb = ks * KS + lane * VE; kb < kend; kb += LLMC_WARP * VE * U) {
                u4 q[U][2];
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int k = kb + u * LLMC_WARP * VE;
                    if (k < kend) {
                        q[u][0] = ld16_stream(w0 + WFmt<WK>::off(k));
                        if (ROWS == 2)
                            q[u][1] = ld16_stream(w1 + WFmt<WK>::off(k));
                    }
                }
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int k = kb + u * LLMC_WARP * VE;
                    if (k >= kend)
                        break;
                    float f[2][VE];
#pragma unroll
                    for (int r = 0; r < ROWS; r++)
                        unpack16<WK>(q[u][r], f[r]);
#pragma unroll
                    for (int t = 0; t < 8; t++) {
                        if (t < nt) {
                            const float *xt = x + (int64_t)t * SX + k;
                            const float s0 = wdot<1>(f[0], xt, nw + k, NORM);
                            const float s1 = ROWS == 2 ? wdot<1>(f[1], xt, nw + k, NORM) : 0.0f;
                            acc[0][t] += s0;
                            acc[1][t] += s1;
                        }
                    }
                }
            }
        } else {
            for (int k = ks * KS + lane; k < (ks + 1) * KS; k += LLMC_WARP) {
                const float w0 = wload<WK, K, G, ORD>(wv, wq, n0, k);
                const float w1 = wload<WK, K, G, ORD>(wv, wq, n1, k);
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
            if (epi_glu(EPI)) {
                y[(int64_t)t * SY + n0] = glu_act<EPI>(v0) * v1;
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

#endif
