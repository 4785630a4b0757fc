/* cuda_attn_prefill.cuh — causal flash attention of long steps (prefill) over the paged KV cache
 * (keys in KF, values in VF: cuda_kv.cuh KVFmt; emitter: cuda_attention.c): flash_prefill on NVIDIA's
 * mma.sync tensor cores, flash_mx on AMD's matrix cores (WMMA on RDNA 3/3.5, MFMA on CDNA 3: the
 * fragments of cuda_mx.cuh, emulated on NVIDIA by the check target amd-on-sm_90).
 */
#ifndef LLMC_CUDA_ATTN_PREFILL_CUH
#define LLMC_CUDA_ATTN_PREFILL_CUH

#include "cuda_mma.cuh"
#include "cuda_kv.cuh"
#include "cuda_mx.cuh"

/* 8 values of row r of a section of format F from value c (c % 8 == 0), dequantized and rounded to
 * f16 (pairs in words, the first value low), or zeros when !ok. */
template <int F, int BS, int HKV, int HD>
DEV uint4 kv_chunk_f16(const uint8_t *sec, int r, int c, int ok, float hs)
{
    if constexpr (F == FMT_F16) {
        return ok ? __ldg((const uint4 *)(kv_vals<F, HD>(sec, r) + 2 * c)) : make_uint4(0, 0, 0, 0);
    } else {
        float f[8];
        if (ok) {
            float s, z;
            kv_row_par<F, BS, HKV, HD>(sec, r, hs, 0, s, z);
            const uint8_t *p = kv_vals<F, HD>(sec, r) + c * KVFmt<F>::BITS / 8;
            if constexpr (KVFmt<F>::BITS == 8) {
                const uint2 w = __ldg((const uint2 *)p);
                KVFmt<F>::word(w.x, f, s, z);
                KVFmt<F>::word(w.y, f + 4, s, z);
            } else {
                KVFmt<F>::word(__ldg((const uint32_t *)p), f, s, z);
            }
        } else {
#pragma unroll
            for (int i = 0; i < 8; i++)
                f[i] = 0.0f;
        }
        return make_uint4(pack2(f[0], f[1], 0), pack2(f[2], f[3], 0), pack2(f[4], f[5], 0), pack2(f[6], f[7], 0));
    }
}

/* The next sequence a tile of QT tokens serves (rseq[r]: token r's sequence, -1 once done or past
 * the step) and the key positions its tokens of that sequence see, [lo, hi] (a window's start
 * included): thread 0 finds them, every thread reads them after the barrier; cur_seq -1: none left.
 * The tokens' arrays and the three results are the block's shared memory. */
template <int QT, int WIN>
DEV void flash_next_seq(const int *rseq, const int *rpos, int tid, int &cur_seq, int &kmin_s, int &kmax_s)
{
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
}

#if LLMC_PTX /* mma.sync, ldmatrix, cp.async: NVIDIA only (gpu_port.cuh) */

/* 8 values of row r of a section of format F from value c (c % 8 == 0) into shared memory as f16 (an
 * f16 row by cp.async as it is). */
template <int F, int BS, int HKV, int HD>
DEV void kv_tile_chunk(uint16_t *dst, const uint8_t *sec, int r, int c, int ok, float hs)
{
    if constexpr (F == FMT_F16)
        cp_async16(dst, kv_vals<F, HD>(sec, r) + 2 * c, ok ? 16 : 0);
    else
        *(uint4 *)dst = kv_chunk_f16<F, BS, HKV, HD>(sec, r, c, ok, hs);
}

/* ---- causal attention for long steps (prefill): flash attention over the paged cache ----
 * Grid (ceil(T / 64), HQ), 4 warps: the block takes 64 consecutive tokens of the step and one query
 * head, each warp 16 of the tokens. K/V tiles of 64 positions come into shared memory as f16 (two
 * stages, rows from the sequence's block table, zero past the last position): an f16 cache by
 * cp.async as it is, a quantized one (keys in KF, values in VF: cuda_kv.cuh) loaded, dequantized in
 * registers and stored as f16; S = Q K^T and O += P V run on f16 tensor cores with f32 sums, the
 * softmax online in base 2 (Q pre-scaled by scale * log2 e; Q and P rounded to f16). Tokens of
 * several sequences in one tile are served one sequence a pass. Needs HD % 16 == 0. Dynamic shared
 * memory: 2 * 2 * 64 * (HD + 8) halves. softcap > 0: the scores capped to (-softcap, softcap) by
 * softcap tanh(s / softcap) (Gemma 2). kvs: the scales per layer and KV head (fp8), else null.
 * SR > 0: tokens of runs of at most SR (attn_short_run: decode tokens) are paged_attn_tc's, not
 * this kernel's. */
template <int KF, int VF, int L, int BS, int HQ, int HKV, int HD, int SQ, int SY, int WIN, int SR = 0>
DEV void flash_prefill(const int32_t *__restrict__ positions, const int32_t *__restrict__ seq_of_token,
                       const int32_t *__restrict__ block_tables, int max_blocks_per_seq, const uint8_t *kvp,
                       const float *__restrict__ q, float *__restrict__ y, int T, int layer, float scale,
                       const float *kvs, float softcap = 0.0f)
{
    constexpr int QT = 64, KTL = 64, LDK = HD + 8, G = HQ / HKV, DJ = HD / 8, KC = HD / 16;
    static_assert(HD % 16 == 0, "head_dim must be a multiple of 16");
    extern __shared__ __align__(16) uint16_t fsm[];
    uint16_t(*Ks)[KTL][LDK] = (uint16_t(*)[KTL][LDK])fsm;
    uint16_t(*Vs)[KTL][LDK] = (uint16_t(*)[KTL][LDK])(fsm + 2 * KTL * LDK);
    __shared__ int rseq[QT], rpos[QT];
    __shared__ int cur_seq, kmin_s, kmax_s;
    const int tid = threadIdx.x, lane = tid & (LLMC_WARP - 1), warp = tid >> LLMC_WARP_LOG2;
    const int t0 = blockIdx.x * QT, head = blockIdx.y, kvh = head / G;
    const int g = lane >> 2, c2 = (lane & 3) * 2;
    if (tid < QT) {
        const int t = t0 + tid;
        rseq[tid] = t < T && !(SR > 0 && attn_short_run<SR>(seq_of_token, positions, T, t)) ? seq_of_token[t] : -1;
        rpos[tid] = t < T ? positions[t] : 0;
    }
    const int r0 = warp * 16 + g, r1 = r0 + 8; /* this thread's two rows (block-local) */
    for (;;) {
        flash_next_seq<QT, WIN>(rseq, rpos, tid, cur_seq, kmin_s, kmax_s);
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
        const float hk = kvs ? kvs[(int64_t)layer * 2 * HKV + kvh] : 1.0f;
        const float hv = kvs ? kvs[((int64_t)layer * 2 + 1) * HKV + kvh] : 1.0f;
        auto load = [&](int p0, int s) {
            constexpr int CH = HD / 8; /* 8-value chunks a row */
            for (int idx = tid; idx < KTL * CH; idx += 128) {
                const int r = idx / CH, c = (idx % CH) * 8, p = p0 + r, ok = p >= kmin && p <= kmax;
                const int64_t blk = ok ? table[p / BS] : 0;
                const int row = (ok ? p % BS : 0) * HKV + kvh;
                kv_tile_chunk<KF, BS, HKV, HD>(&Ks[s][r][c], kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 0), row, c, ok, hk);
                kv_tile_chunk<VF, BS, HKV, HD>(&Vs[s][r][c], kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 1), row, c, ok, hv);
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
            if (softcap > 0.0f) { /* Gemma 2: c tanh(s / c), in the base-2 units of the scores */
                const float c2 = softcap * 1.4426950408889634f;
#pragma unroll
                for (int j = 0; j < 8; j++)
#pragma unroll
                    for (int e = 0; e < 4; e++)
                        sc[j][e] = c2 * tanhf(sc[j][e] / c2);
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
            mx0 = fmaxf(mx0, shfl_xor(mx0, 1));
            mx0 = fmaxf(mx0, shfl_xor(mx0, 2));
            mx1 = fmaxf(mx1, shfl_xor(mx1, 1));
            mx1 = fmaxf(mx1, shfl_xor(mx1, 2));
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
        l0 += shfl_xor(l0, 1);
        l0 += shfl_xor(l0, 2);
        l1 += shfl_xor(l1, 1);
        l1 += shfl_xor(l1, 2);
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

#endif /* LLMC_PTX */

/* ---- the AMD path: flash attention on the matrix cores (flash_mx) ----
 * Grid (ceil(T / 64), HQ), 128 threads: the block takes 64 consecutive tokens of the step and one
 * query head, as flash_prefill does; the waves of the image's flavour (MX: cuda_mx.cuh MxFrag) take
 * 16 tokens each (WMMA: 4 waves of 32) or 32 (MFMA: 2 waves of 64, two tiles of 16 tokens each).
 * LDS (dynamic, (64 + KT) (HDP + 8) + HDP (KT + 8) halves): the block's Q rows, scaled into base 2
 * (scale log2 e) and rounded to f16, once; then tiles of KT positions of K (rows) and V (transposed:
 * a dimension's positions side by side, so that its fragments are rows too), each loaded from the
 * sequence's blocks and dequantized to f16 (kv_chunk_f16, zero past the last position) by the whole
 * block, then used (one stage: no asynchronous copies on AMD). HD % 8 == 0, up to 256: HDP, HD
 * rounded up to 16 (zeros past HD), the k of the score steps and the rows of the output's.
 * The products run transposed, so that a lane's sums belong to one token (its column l % 16):
 *   S^T = K Q^T: A = a K row (position) of the tile, B = a Q row (token), k over HDP; a lane holds
 *     NC scores of its token; the online softmax (base 2) takes the tile's maximum over the lanes of
 *     the column (mx_col_reduce), rescales its sums, and keeps its share of the row sum;
 *   O^T += V^T P^T: A = a V column (dimension) of the tile, B = the token's probabilities over 16
 *     positions (mx_sums_to_b: the S^T sums as the next step's B operand, f16), f32 sums.
 * So P and the output need no trip through LDS; the row sums are combined over the column's lanes
 * at the end. Masks: causal, the sliding window (WIN > 0: positions p - WIN + 1 .. p), other
 * sequences' tokens (the tokens of several sequences in one tile are served one sequence a pass);
 * tiles past a wave's last position or before its window are skipped by that wave. softcap > 0: the
 * scores capped to softcap tanh(s / softcap) (Gemma 2). kvs: the scales per layer and KV head (fp8),
 * else null. The cache in any format kv_chunk_f16 reads (f16, fp8, int8, int4; KIVI's ring is read
 * by the per-token kernel instead). */
template <int KF, int VF, int L, int BS, int HQ, int HKV, int HD, int SQ, int SY, int WIN, int KT, int MX = LLMC_MX>
DEV void flash_mx(const int32_t *__restrict__ positions, const int32_t *__restrict__ seq_of_token,
                  const int32_t *__restrict__ block_tables, int max_blocks_per_seq, const uint8_t *kvp,
                  const float *__restrict__ q, float *__restrict__ y, int T, int layer, float scale, const float *kvs,
                  float softcap = 0.0f)
{
    using F = MxFrag<MX>;
    constexpr int QT = 64, HDP = (HD + 15) / 16 * 16, LD = HDP + 8, LDV = KT + 8, G = HQ / HKV, DC = HDP / 16, NP = KT / 16;
    constexpr int NQ = F::WV / 32, KPL = F::KPL, NC = F::NC, CH = HD / 8;
    static_assert(HD % 8 == 0 && HD <= 256 && KT % 16 == 0, "flash_mx: head_dim a multiple of 8 up to 256");
    static_assert(MX == LLMC_MX_WMMA || MX == LLMC_MX_MFMA, "flash_mx: WMMA or MFMA");
    uint16_t *fsm = (uint16_t *)dyn_smem();
    uint16_t(*Qs)[LD] = (uint16_t(*)[LD])fsm;
    uint16_t(*Ks)[LD] = (uint16_t(*)[LD])(fsm + QT * LD);
    uint16_t(*Vt)[LDV] = (uint16_t(*)[LDV])(fsm + (QT + KT) * LD);
    __shared__ int rseq[QT], rpos[QT];
    __shared__ int cur_seq, kmin_s, kmax_s;
    const int tid = threadIdx.x, nt = blockDim.x, wave = tid / F::WV, l = tid % F::WV, c = l & 15, k0 = F::k0(l);
    const int t0 = blockIdx.x * QT, head = blockIdx.y, kvh = head / G;
    {
        const float qs = scale * 1.4426950408889634f;
        for (int e = tid; e < QT * HDP; e += nt) {
            const int r = e / HDP, d = e % HDP;
            Qs[r][d] = t0 + r < T && d < HD ? f32_to_f16(q[(int64_t)(t0 + r) * SQ + head * HD + d] * qs) : 0;
        }
        if constexpr (HDP > HD)
            for (int e = tid; e < KT * (HDP - HD); e += nt) { /* the dimensions past HD: never loaded */
                Ks[e / (HDP - HD)][HD + e % (HDP - HD)] = 0;
                Vt[HD + e % (HDP - HD)][e / (HDP - HD)] = 0;
            }
    }
    if (tid < QT) {
        const int t = t0 + tid;
        rseq[tid] = t < T ? seq_of_token[t] : -1;
        rpos[tid] = t < T ? positions[t] : 0;
    }
    const float hk = kvs ? kvs[(int64_t)layer * 2 * HKV + kvh] : 1.0f;
    const float hv = kvs ? kvs[((int64_t)layer * 2 + 1) * HKV + kvh] : 1.0f;
    for (;;) {
        flash_next_seq<QT, WIN>(rseq, rpos, tid, cur_seq, kmin_s, kmax_s);
        const int cs = cur_seq;
        if (cs < 0)
            return;
        const int kmin = kmin_s, kmax = kmax_s, kbeg = kmin / KT * KT;
        const int32_t *table = block_tables + (int64_t)cs * max_blocks_per_seq;
        /* this lane's tokens (block rows tr[j]: its column of each of the wave's tiles of 16 tokens), and
           the wave's span of positions (wave-uniform: tiles outside it are skipped) */
        int tr[NQ], act[NQ], qp[NQ], lo[NQ];
        int wmax = -1, wmin = 0x7fffffff;
#pragma unroll
        for (int j = 0; j < NQ; j++) {
            tr[j] = 16 * (NQ * wave + j) + c;
            act[j] = rseq[tr[j]] == cs;
            qp[j] = rpos[tr[j]];
            lo[j] = WIN > 0 ? qp[j] - WIN + 1 : 0;
        }
        for (int r = 16 * NQ * wave; r < 16 * NQ * (wave + 1); r++)
            if (rseq[r] == cs) {
                const int p = rpos[r], a = WIN > 0 ? p - WIN + 1 : 0;
                wmax = p > wmax ? p : wmax;
                wmin = a < wmin ? a : wmin;
            }
        float o[NQ][DC][NC], m[NQ], ls[NQ];
#pragma unroll
        for (int j = 0; j < NQ; j++) {
            m[j] = -INFINITY;
            ls[j] = 0.0f;
#pragma unroll
            for (int dc = 0; dc < DC; dc++)
#pragma unroll
                for (int i = 0; i < NC; i++)
                    o[j][dc][i] = 0.0f;
        }
        for (int p0 = kbeg; p0 <= kmax; p0 += KT) {
            __syncthreads(); /* every wave is done with the previous tile */
            for (int idx = tid; idx < KT * CH; idx += nt) {
                const int r = idx / CH, cc = (idx % CH) * 8, p = p0 + r, ok = p >= kmin && p <= kmax;
                const int64_t blk = ok ? table[p / BS] : 0;
                const int row = (ok ? p % BS : 0) * HKV + kvh;
                *(uint4 *)&Ks[r][cc] = kv_chunk_f16<KF, BS, HKV, HD>(kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 0),
                                                                     row, cc, ok, hk);
                const uint4 v = kv_chunk_f16<VF, BS, HKV, HD>(kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 1), row,
                                                              cc, ok, hv);
                const uint32_t vw[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
                for (int i = 0; i < 8; i++) /* V transposed: a dimension's positions side by side */
                    Vt[cc + i][r] = (uint16_t)(vw[i / 2] >> (16 * (i % 2)));
            }
            __syncthreads();
            if (p0 > wmax || p0 + KT <= wmin) /* wave-uniform: no token of the wave sees this tile */
                continue;
            /* S^T = K Q^T: sums s[j][pi][i] of position p0 + 16 pi + row(l, i), token tr[j] */
            float s[NQ][NP][NC];
#pragma unroll
            for (int j = 0; j < NQ; j++)
#pragma unroll
                for (int pi = 0; pi < NP; pi++)
#pragma unroll
                    for (int i = 0; i < NC; i++)
                        s[j][pi][i] = 0.0f;
#pragma unroll 1 /* unrolled, clang hoists every K fragment's loads ahead and spills (gfx1100, heads of 128) */
            for (int dc = 0; dc < DC; dc++) {
                uint16_t b[NQ][KPL];
#pragma unroll
                for (int j = 0; j < NQ; j++)
#pragma unroll
                    for (int k = 0; k < KPL; k++)
                        b[j][k] = Qs[tr[j]][16 * dc + k0 + k];
#pragma unroll
                for (int pi = 0; pi < NP; pi++) {
                    uint16_t a[KPL];
#pragma unroll
                    for (int k = 0; k < KPL; k++)
                        a[k] = Ks[16 * pi + c][16 * dc + k0 + k];
#pragma unroll
                    for (int j = 0; j < NQ; j++)
                        mx_step<MX, 0>(s[j][pi], a, b[j]);
                }
            }
            if (softcap > 0.0f) { /* Gemma 2: c tanh(s / c), in the base-2 units of the scores */
                const float c2 = softcap * 1.4426950408889634f;
#pragma unroll
                for (int j = 0; j < NQ; j++)
#pragma unroll
                    for (int pi = 0; pi < NP; pi++)
#pragma unroll
                        for (int i = 0; i < NC; i++)
                            s[j][pi][i] = c2 * tanhf(s[j][pi][i] / c2);
            }
            /* mask (causal, window, other sequences' tokens) and the online softmax of each token */
#pragma unroll
            for (int j = 0; j < NQ; j++) {
                float mx = -INFINITY;
#pragma unroll
                for (int pi = 0; pi < NP; pi++)
#pragma unroll
                    for (int i = 0; i < NC; i++) {
                        const int p = p0 + 16 * pi + F::row(l, i);
                        if (!act[j] || p > qp[j] || p < lo[j])
                            s[j][pi][i] = -INFINITY;
                        mx = fmaxf(mx, s[j][pi][i]);
                    }
                mx = mx_col_reduce<MX, 1>(mx);
                const float nm = fmaxf(m[j], mx), u = nm == -INFINITY ? 0.0f : nm, f = exp2f(m[j] - u);
                m[j] = nm;
                float sum = 0.0f;
#pragma unroll
                for (int pi = 0; pi < NP; pi++)
#pragma unroll
                    for (int i = 0; i < NC; i++) {
                        s[j][pi][i] = exp2f(s[j][pi][i] - u);
                        sum += s[j][pi][i];
                    }
                ls[j] = ls[j] * f + sum; /* this lane's share: combined over the column at the end */
#pragma unroll
                for (int dc = 0; dc < DC; dc++)
#pragma unroll
                    for (int i = 0; i < NC; i++)
                        o[j][dc][i] *= f;
            }
            /* O^T += V^T P^T, 16 positions a step */
#pragma unroll
            for (int pi = 0; pi < NP; pi++) {
                uint16_t pb[NQ][KPL];
#pragma unroll
                for (int j = 0; j < NQ; j++)
                    mx_sums_to_b<MX>(s[j][pi], pb[j]);
#pragma unroll
                for (int dc = 0; dc < DC; dc++) {
                    uint16_t a[KPL];
#pragma unroll
                    for (int k = 0; k < KPL; k++)
                        a[k] = Vt[16 * dc + c][16 * pi + k0 + k];
#pragma unroll
                    for (int j = 0; j < NQ; j++)
                        mx_step<MX, 0>(o[j][dc], a, pb[j]);
                }
            }
        }
        /* the output: dimension 16 dc + row(l, i) of token tr[j] */
#pragma unroll
        for (int j = 0; j < NQ; j++) {
            const float lt = mx_col_reduce<MX, 0>(ls[j]);
            if (!act[j])
                continue;
            float *yr = y + (int64_t)(t0 + tr[j]) * SY + head * HD;
#pragma unroll
            for (int dc = 0; dc < DC; dc++)
#pragma unroll
                for (int i = 0; i < NC; i++) {
                    const int d = 16 * dc + F::row(l, i);
                    if (d < HD)
                        yr[d] = o[j][dc][i] / lt;
                }
        }
        __syncthreads(); /* every wave has read its tokens' state before they are retired */
        if (tid < QT && rseq[tid] == cs)
            rseq[tid] = -1;
    }
}

#endif
