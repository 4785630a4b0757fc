/* cuda_rows.cuh — kernels that move whole rows (emitters: cuda_rows.c, cuda_norm.c, cuda_matmul.c):
 * rows_to_half (f32 rows to the bf16/f16 A operand of the tensor-core matmuls, optionally
 * RMS-normalized), embed (the embedding gather; embed_part: a rank's rows of a sharded table),
 * select_row (select_rows), gather_cols, all_reduce_ordered, all_reduce_chunk and all_gather_place (a
 * sharded graph's collectives).
 */
#ifndef LLMC_CUDA_ROWS_CUH
#define LLMC_CUDA_ROWS_CUH

#include "cuda_formats.cuh"

/* The element at position p of a row in gemm_wq's activation orders (cuda_wgmma_q.cuh: position
 * 16 s + j holds what logical k j of step s multiplies): ORD 2 fp8's (chunks of 128), ORD 3 the 4-bit
 * formats' (chunks of 256). */
template <int ORD>
DEV int rows_wq_elt(int p)
{
    const int j = p % 16, t = j % 8 / 2;
    if (ORD == 2) { /* step 4 r + w: element 32 w + 16 r + 4 t + j % 2 + 2 (j / 8) */
        const int c = p / 128, r = p % 128 / 64, w = p % 64 / 16;
        return 128 * c + 32 * w + 16 * r + 4 * t + j % 2 + 2 * (j / 8);
    }
    /* step 8 r + 2 w + u: element 64 w + 32 (j % 2) + 16 r + 4 t + 2 u + j / 8 */
    const int c = p / 256, r = p % 256 / 128, w = p % 128 / 32, u = p % 32 / 16;
    return 256 * c + 64 * w + 32 * (j % 2) + 16 * r + 4 * t + 2 * u + j / 8;
}

/* f32 rows to bf16/f16 (the A operand of gemm_h and gemm_q, the B operand of gemm_wq), optionally
 * RMS-normalized (NORM: x * nw / rms(x)), in the order ORD (0 natural; 1 pair-32, gemm_q's u4 order:
 * within each 64 elements, position 2 i + h holds element i + 32 h; 2 and 3 gemm_wq's, rows_wq_elt).
 * Grid: rows; D % 4 == 0 (ORD 1: D % 64 == 0; ORD 2: D % 128 == 0; ORD 3: D % 256 == 0) and 16-byte
 * aligned rows. */
template <int BF, int NORM, int D, int SX, int ORD = 0>
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
    auto val = [&](int d) { /* float4 d, normalized */
        float4 v = xr[d];
        if (NORM) {
            const float4 wv = ((const float4 *)nw)[d];
            v = make_float4(wv.x * (inv * v.x), wv.y * (inv * v.y), wv.z * (inv * v.z), wv.w * (inv * v.w));
        }
        return v;
    };
    if (ORD == 1) {
        static_assert(ORD != 1 || D % 64 == 0, "rows_to_half: pair-32 order needs whole 64-element blocks");
        u4 *yr = (u4 *)(y + (int64_t)r * D);
        for (int d = threadIdx.x; d < D / 8; d += blockDim.x) { /* elements 64 b + 4 j (+32) .. + 3 */
            const int blk = d / 8, j = d % 8;
            const float4 lo = val(blk * 16 + j), hi = val(blk * 16 + 8 + j);
            yr[d] = u4{pack2(lo.x, hi.x, BF), pack2(lo.y, hi.y, BF), pack2(lo.z, hi.z, BF), pack2(lo.w, hi.w, BF)};
        }
        return;
    }
    if (ORD >= 2) {
        static_assert(ORD < 2 || D % (ORD == 2 ? 128 : 256) == 0, "rows_to_half: gemm_wq's orders need whole chunks");
        const float *xs = x + (int64_t)r * SX;
        auto val1 = [&](int e) { return NORM ? nw[e] * (inv * xs[e]) : xs[e]; }; /* val's rounding, one element */
        u4 *yr = (u4 *)(y + (int64_t)r * D);
        for (int d = threadIdx.x; d < D / 8; d += blockDim.x) {
            uint32_t h[4];
#pragma unroll
            for (int i = 0; i < 4; i++)
                h[i] = pack2(val1(rows_wq_elt<ORD>(8 * d + 2 * i)), val1(rows_wq_elt<ORD>(8 * d + 2 * i + 1)), BF);
            yr[d] = u4{h[0], h[1], h[2], h[3]};
        }
        return;
    }
    uint2 *yr = (uint2 *)(y + (int64_t)r * D);
    for (int d = threadIdx.x; d < D / 4; d += blockDim.x) {
        const float4 v = val(d);
        yr[d] = make_uint2(pack2(v.x, v.y, BF), pack2(v.z, v.w, BF));
    }
}

/* ---- embedding: y[t] = table[tokens[t]] (grid: tokens) ---- */
template <int WK, int D, int SY, int G = D> /* quantized tables: groups of G, scales (zeros) in wq */
DEV void embed(const void *table, const int32_t *tok, float *y, WQ wq = WQ{})
{
    const int t = blockIdx.x;
    const int64_t row = tok[t];
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        y[(int64_t)t * SY + d] = wload<WK, D, G>(table, wq, row, d);
}

/* A table sharded by rows (--tp): this rank holds the whole table's rows [first, first + R); a
 * token outside them gives zeros (the all_reduce after the lookup adds the ranks' rows up). */
template <int WK, int D, int SY, int R, int G = D>
DEV void embed_part(const void *table, const int32_t *tok, float *y, int64_t first, WQ wq = WQ{})
{
    const int t = blockIdx.x;
    const int64_t row = (int64_t)tok[t] - first;
    const bool mine = row >= 0 && row < R;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        y[(int64_t)t * SY + d] = mine ? wload<WK, D, G>(table, wq, row, d) : 0.0f;
}

/* ---- all_reduce (--tp), rank-ordered: NCCL left the ranks' rows one block after another, src[N][part]
 * with part = (rows - 1) SX + C (row t of block q at q part + t SX); each element of y is the sum
 * of its N values in rank order 0..N-1, in double from 0, rounded once to f32: the cpu target's
 * llmc_all_reduce (runtime/ranks.c) bit for bit (no FMA can form: additions only; NVRTC runs
 * without --use_fast_math, so no flush to zero either). Grid: rows x ceil(C / 1024), 256 threads. ---- */
template <int C, int N, int SX, int SY>
DEV void all_reduce_ordered(const float *src, float *y, int rows)
{
    const int t = blockIdx.x;
    const int64_t part = (int64_t)(rows - 1) * SX + C;
    const float *s0 = src + (int64_t)t * SX;
    for (int j = blockIdx.y * 1024 + threadIdx.x; j < C && j < (int)(blockIdx.y + 1) * 1024; j += blockDim.x) {
        double s = 0.0;
#pragma unroll
        for (int q = 0; q < N; q++)
            s += (double)s0[q * part + j];
        y[(int64_t)t * SY + j] = (float)s;
    }
}

/* ---- all_reduce (--tp) of many rows, rank-ordered, each rank summing 1/N of the elements: the
 * ranks' exchange (ncclSend / ncclRecv) left src[N][chunk], chunk = rows C / N, rank q's values of
 * this rank's chunk of the dense [rows, C] values; out = src + N chunk gets their sums in rank
 * order 0..N-1, in double from 0, rounded once (all_reduce_ordered's arithmetic: each element is
 * summed once, by one rank, in the same order), and an all-gather then brings every rank's chunk to
 * every rank. Grid: ceil(chunk / 1024), 256 threads. ---- */
template <int C, int N>
DEV void all_reduce_chunk(float *src, int rows)
{
    const int64_t chunk = (int64_t)rows * (C / N);
    float *out = src + N * chunk;
    const int64_t j0 = (int64_t)blockIdx.x * 1024;
    for (int64_t j = j0 + threadIdx.x; j < chunk && j < j0 + 1024; j += blockDim.x) {
        double s = 0.0;
#pragma unroll
        for (int q = 0; q < N; q++)
            s += (double)src[q * chunk + j];
        out[j] = (float)s;
    }
}

/* ---- all_gather (--tp): NCCL left the ranks' blocks one after another, src[N][rows][C]; block q
 * goes to columns [q C, (q+1) C) of each row of y (grid: rows) ---- */
template <int C, int N, int SY>
DEV void all_gather_place(const float *src, float *y, int rows)
{
    const int t = blockIdx.x;
    for (int j = threadIdx.x; j < C * N; j += blockDim.x)
        y[(int64_t)t * SY + j] = src[((int64_t)(j / C) * rows + t) * C + j % C];
}

/* ---- select_rows (grid: output rows): y[o] = x[rows[o]]; rows null: x[o] (an in-place select_rows'
 * rows copied back from scratch, cuda_rows.c) ---- */
template <int D, int SX, int SY>
DEV void select_row(const float *x, const int32_t *rows, float *y)
{
    const int o = blockIdx.x;
    const int64_t r = rows ? rows[o] : o;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        y[(int64_t)o * SY + d] = x[r * SX + d];
}

/* ---- gather_cols: y[t][j] = x[t][idx[j]], an act-order matmul's input (grid: rows) ---- */
template <int K, int SX, int SY>
DEV void gather_cols(const float *x, const int32_t *idx, float *y)
{
    const int t = blockIdx.x;
    for (int j = threadIdx.x; j < K; j += blockDim.x)
        y[(int64_t)t * SY + j] = x[(int64_t)t * SX + idx[j]];
}

#endif
