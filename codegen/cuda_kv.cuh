/* cuda_kv.cuh — the paged KV cache on the GPU: its formats (KVFmt, keyed by FMT_<id> as the emitters
 * print the graph's KV formats, keys and values each), where rows live (ir/kv_layout.h, the geometry
 * the cpu target and the reference interpreter use too), how a lane group loads and dequantizes a
 * row in registers, how a block quantizes a row (the operations of ir/kv_formats.h, one for one:
 * the quantized bytes are the cpu target's bit for bit), and kv_write_row (the kv_write node;
 * emitter: cuda_attention.c).
 *
 * A block of the pool holds, for each layer, a K section in KF then a V section in VF; a section the
 * BS x HKV token-head rows of its positions (values), then, for int8/int4, an f16 scale and zero per
 * row. fp8's scale is one per layer and KV head, a table in the constants (kvs: [L][2][HKV], K then
 * V; null when neither format has one).
 */
#ifndef LLMC_CUDA_KV_CUH
#define LLMC_CUDA_KV_CUH

#include "cuda_formats.cuh"
#include "kv_layout.h"

/* Whether token t's run (the tokens next to it of the same sequence at consecutive positions: its
 * sequence's tokens in a step of T, fed together) has at most R tokens: decode steps' tokens, one a
 * sequence, are runs of 1. A step of more than 64 tokens deals its short runs to paged_attn_tc (a
 * block a token) and the others to flash attention (tiles of 64 tokens); the runtime counts the
 * same runs (runtime/gpu_image.c llmc_gpu_seq_runs: forward()'s S). */
template <int R>
DEV bool attn_short_run(const int32_t *__restrict__ seq_of_token, const int32_t *__restrict__ positions, int T, int t)
{
    const int s = seq_of_token[t];
    int n = 1;
    for (int i = t - 1; i >= 0 && n <= R && seq_of_token[i] == s && positions[i] == positions[i + 1] - 1; i--)
        n++;
    for (int i = t + 1; i < T && n <= R && seq_of_token[i] == s && positions[i] == positions[i - 1] + 1; i++)
        n++;
    return n <= R;
}

/* ---- the formats ----
 * KVFmt<F>: BITS of a value; ROW: a token-head row has an f16 scale and zero (TOKEN_HEAD sides:
 * x = code * s + z); LS: a scale per layer and KV head (LAYER_HEAD: x = e4m3 * s); ELEM: a value
 * is encoded alone (enc(x, s): the writers may store value by value; the others quantize whole rows,
 * kv_store_row). word(w, f, s, z): the 32 / BITS values of a 32-bit word of a row, dequantized;
 * val(vals, d, s, z): value d of a row. New formats go here. */
template <int F>
struct KVFmt;
template <>
struct KVFmt<FMT_F16> {
    enum { BITS = 16, ROW = 0, LS = 0, ELEM = 1, KIVI = 0 };
    DEV uint16_t enc(float x, float) { return f32_to_f16(x); }
    DEV void word(uint32_t w, float *f, float, float) { unpack_f16(w, f[0], f[1]); }
    DEV float val(const uint8_t *v, int d, float, float) { return f16_to_f32(((const uint16_t *)v)[d]); }
};

/* E4M3 as ir/kv_formats.h's kv_e4m3_enc writes it: round to nearest even, +-448 saturating, NaN 0. */
DEV uint8_t kv_e4m3_rn(float f)
{
    const uint32_t u = __float_as_uint(f), sign = (u >> 24) & 0x80, a = u & 0x7fffffff;
    if (a > 0x7f800000)
        return 0;
    if (a >= 0x43e80000)
        return (uint8_t)(sign | 0x7e);
    if (a < 0x3c800000) {
        const float v = __fmul_rn(__uint_as_float(a), 512.0f);
        uint32_t m = (uint32_t)v;
        const float rem = __fsub_rn(v, (float)m);
        if (rem > 0.5f || (rem == 0.5f && (m & 1)))
            m++;
        return (uint8_t)(sign | m);
    }
    return (uint8_t)(sign | ((a + 0x7ffff + ((a >> 20) & 1) - (120u << 23)) >> 20));
}
template <>
struct KVFmt<FMT_KV_FP8> {
    enum { BITS = 8, ROW = 0, LS = 1, ELEM = 1, KIVI = 0 };
    DEV uint8_t enc(float x, float s) { return kv_e4m3_rn(__fdiv_rn(x, s)); }
    /* fp8_word: the values times 2^-8, exact; times 256 s: the product rounded once, as the cpu's */
    DEV void word(uint32_t w, float *f, float s, float) /* s: 256 times the head's scale (kv_row_par) */
    {
        fp8_word(w, f);
#pragma unroll
        for (int i = 0; i < 4; i++)
            f[i] *= s;
    }
    DEV float val(const uint8_t *v, int d, float s, float) { return fp8_to_f32(v[d]) * (s * (1.0f / 256.0f)); }
};
/* A code (below 2^23) as a float without a conversion instruction: under the exponent of 2^23,
 * minus 2^23 (exact). */
DEV float kv_code_f32(uint32_t c) { return __uint_as_float(0x4b000000u | c) - 8388608.0f; }
template <int Q>
struct KVFmtAsym { /* int8 (Q 255) and int4 (Q 15): x = code * s + z, s and z f16 a row */
    enum { BITS = Q == 255 ? 8 : 4, ROW = 1, LS = 0, ELEM = 0, KIVI = 0 };
    DEV void word(uint32_t w, float *f, float s, float z)
    {
#pragma unroll
        for (int i = 0; i < 32 / BITS; i++)
            f[i] = fmaf(kv_code_f32((w >> (BITS * i)) & (uint32_t)Q), s, z);
    }
    DEV float val(const uint8_t *v, int d, float s, float z)
    {
        const uint32_t c = BITS == 8 ? v[d] : (v[d >> 1] >> (4 * (d & 1))) & 15u;
        return fmaf((float)c, s, z);
    }
};
template <>
struct KVFmt<FMT_INT8> : KVFmtAsym<255> {};
template <>
struct KVFmt<FMT_INT4> : KVFmtAsym<15> {};
/* KIVI (kivi2: Q 3, kivi4: Q 15): x = code * s + z with s and z those of the value's channel in its
 * group of G positions (keys) or of its group of G channels in its row (values): word(w, f, s, z)
 * takes one (s, z) for the word's values (a value row's 8 values of a lane lie in one channel
 * group); keys dequantize value by value with each channel's (kivi_key). Rows are written whole
 * only by kv_seal_row, from the ring. */
template <int Q>
struct KVFmtKivi {
    enum { BITS = Q == 3 ? 2 : 4, ROW = 0, LS = 0, ELEM = 0, KIVI = 1 };
    template <int N = 32 / BITS>
    DEV void word(uint32_t w, float *f, float s, float z)
    {
#pragma unroll
        for (int i = 0; i < N; i++)
            f[i] = fmaf(kv_code_f32((w >> (BITS * i)) & (uint32_t)Q), s, z);
    }
    DEV uint32_t code(const uint8_t *v, int d) { return (v[d / (8 / BITS)] >> (BITS * (d % (8 / BITS)))) & (uint32_t)Q; }
    DEV float val(const uint8_t *v, int d, float s, float z) { return fmaf(kv_code_f32(code(v, d)), s, z); }
};
template <>
struct KVFmt<FMT_KIVI2> : KVFmtKivi<3> {};
template <>
struct KVFmt<FMT_KIVI4> : KVFmtKivi<15> {};

/* ---- where rows live (ir/kv_layout.h) ---- */
/* The section of block blk, layer `layer`, keys (which 0) or values (1). */
template <int KF, int VF, int L, int BS, int HKV, int HD>
DEV const uint8_t *kv_sec(const uint8_t *kv, int64_t blk, int layer, int which)
{
    return kv + kv_sec_at(KF, VF, L, BS, HKV, HD, blk, layer, which);
}
template <int KF, int VF, int L, int BS, int HKV, int HD>
DEV uint8_t *kv_sec(uint8_t *kv, int64_t blk, int layer, int which)
{
    return kv + kv_sec_at(KF, VF, L, BS, HKV, HD, blk, layer, which);
}
/* The values of row r (position in block * HKV + head) of a section of format F, and its sides. */
template <int F, int HD>
DEV const uint8_t *kv_vals(const uint8_t *sec, int r) { return sec + (int64_t)r * kv_vbytes(F, HD); }
template <int F, int W, int BS, int HKV, int HD>
DEV const uint8_t *kv_sides(const uint8_t *sec, int r)
{
    return sec + kv_sides_at(F, BS, HKV, HD) + (int64_t)r * kv_row_sbytes(F, W, HD);
}
/* KIVI keys: the (scale, zero) f16 pairs of the HD channels of head h's group of the position at
 * off in the block. */
template <int F, int BS, int HKV, int HD>
DEV const uint8_t *kv_kgroup(const uint8_t *sec, int off, int h)
{
    return sec + kv_groups_at(F, 0, BS, HKV, HD) + ((int64_t)(off / KV_KIVI_G) * HKV + h) * kv_group_sbytes(F, 0, HD);
}

/* The dequantization of a row: raw, its sides' word (ROW: f16 scale low, zero high; one 4-byte
 * load, through L2 when cg: a row the previous kernel may have written), else 0; kv_par: (s, z) from
 * it, or the head's scale (LS: times 256, fp8_word's 2^-8 folded in), else (1, 0). */
template <int F, int BS, int HKV, int HD>
DEV uint32_t kv_row_raw(const uint8_t *sec, int r, int cg)
{
    if constexpr (KVFmt<F>::ROW) {
        const uint32_t *p = (const uint32_t *)kv_sides<F, 0, BS, HKV, HD>(sec, r);
        uint32_t w;
        if (cg)
            w = ld4_cg(p);
        else
            w = __ldg(p);
        return w;
    }
    return 0;
}
template <int F>
DEV void kv_par(uint32_t raw, float hs, float &s, float &z)
{
    if constexpr (KVFmt<F>::ROW) {
        s = f16_to_f32((uint16_t)(raw & 0xffff));
        z = f16_to_f32((uint16_t)(raw >> 16));
    } else {
        s = KVFmt<F>::LS ? hs * 256.0f : 1.0f;
        z = 0.0f;
    }
}
template <int F, int BS, int HKV, int HD>
DEV void kv_row_par(const uint8_t *sec, int r, float hs, int cg, float &s, float &z)
{
    kv_par<F>(kv_row_raw<F, BS, HKV, HD>(sec, r, cg), hs, s, z);
}

/* The BYTES bytes of a row at p (2, 4, 8 or whole 16-byte runs, aligned) into 32-bit words, streamed
 * (no L1 allocation) or through L2 only (cg). */
template <int BYTES>
DEV void kv_ld(uint32_t (&w)[(BYTES + 3) / 4], const uint8_t *p, int cg)
{
    static_assert(BYTES % 16 == 0 || BYTES == 8 || BYTES == 4 || BYTES == 2, "KV lane loads of 2, 4, 8 or 16n bytes");
    if constexpr (BYTES == 2) {
        w[0] = cg ? ld2_cg(p) : ld2_stream(p);
    } else if constexpr (BYTES == 4) {
        w[0] = cg ? ld4_cg(p) : ld4_stream(p);
    } else if constexpr (BYTES == 8) {
        if (cg)
            ld8_cg(p, w[0], w[1]);
        else
            ld8_stream(p, w[0], w[1]);
    } else {
#pragma unroll
        for (int i = 0; i < BYTES / 4; i += 4) {
            const u4 q = cg ? ld16_cg(p + 4 * i) : ld16_stream(p + 4 * i);
            w[i] = q.x;
            w[i + 1] = q.y;
            w[i + 2] = q.z;
            w[i + 3] = q.w;
        }
    }
}
/* A lane's VL values of format F: BYTES of them in NW words. */
template <int F, int VL>
struct KVLane {
    enum { BYTES = VL * KVFmt<F>::BITS / 8, NW = (BYTES + 3) / 4 };
    DEV void ld(uint32_t (&w)[NW], const uint8_t *p, int cg) { kv_ld<BYTES>(w, p, cg); }
    DEV void dec(const uint32_t (&w)[NW], float (&f)[VL], float s, float z)
    {
        constexpr int PW = 32 / KVFmt<F>::BITS < VL ? 32 / KVFmt<F>::BITS : VL; /* values of a word */
#pragma unroll
        for (int i = 0; i < NW; i++) {
            if constexpr (KVFmt<F>::KIVI)
                KVFmt<F>::template word<PW>(w[i], f + i * PW, s, z);
            else
                KVFmt<F>::word(w[i], f + i * PW, s, z);
        }
    }
};

/* ---- quantizing a row (every thread of the block; x[HD] readable by all: shared memory) ----
 * The operations of ir/kv_formats.h: min and max (exact in any order), s = (max - min) / Q and
 * z = min rounded to f16 (saturated at +-65504, s 1 when 0 in f16), code = rint((x - z) / s)
 * clamped while a float; IEEE division, nothing fused. Every thread scans the whole row (HD values:
 * a few hundred operations, no reduction tree to keep in step with the cpu). */

/* The f16 scale (low half) and zero (high half) of an asymmetric code over [mn, mx] with Q + 1 levels,
 * as the int8/int4 rows and KIVI's groups store them: s = (mx - mn) / Q saturated to f16's range (0:
 * 1.0), the zero mn likewise. */
DEV uint32_t kv_asym_params(float mn, float mx, float Q)
{
    float s = __fdiv_rn(__fsub_rn(mx, mn), Q);
    s = s < 65504.0f ? s : 65504.0f;
    mn = mn > -65504.0f ? (mn < 65504.0f ? mn : 65504.0f) : -65504.0f;
    uint16_t s16 = f32_to_f16(s);
    if ((s16 & 0x7fff) == 0)
        s16 = 0x3c00;
    return (uint32_t)s16 | (uint32_t)f32_to_f16(mn) << 16;
}

template <int F, int HD>
DEV void kv_store_row(uint8_t *vals, uint8_t *sides, const float *x, float hs)
{
    using KF = KVFmt<F>;
    if constexpr (KF::ELEM) {
        for (int d = threadIdx.x; d < HD; d += blockDim.x) {
            if constexpr (KF::BITS == 16)
                ((uint16_t *)vals)[d] = KF::enc(x[d], hs);
            else
                vals[d] = KF::enc(x[d], hs);
        }
    } else {
        constexpr float Q = KF::BITS == 8 ? 255.0f : 15.0f;
        float mn = x[0], mx = x[0];
        for (int d = 1; d < HD; d++) {
            mn = x[d] < mn ? x[d] : mn;
            mx = x[d] > mx ? x[d] : mx;
        }
        const uint32_t sz = kv_asym_params(mn, mx, Q);
        const uint16_t s16 = (uint16_t)sz, z16 = (uint16_t)(sz >> 16);
        const float sf = f16_to_f32(s16), zf = f16_to_f32(z16);
        auto code = [&](float v) {
            float c = rintf(__fdiv_rn(__fsub_rn(v, zf), sf));
            c = c >= 0.0f ? (c <= Q ? c : Q) : 0.0f;
            return (uint32_t)c;
        };
        if constexpr (KF::BITS == 8) {
            for (int d = threadIdx.x; d < HD; d += blockDim.x)
                vals[d] = (uint8_t)code(x[d]);
        } else {
            for (int j = threadIdx.x; j < (HD + 1) / 2; j += blockDim.x)
                vals[j] = (uint8_t)(code(x[2 * j]) | (2 * j + 1 < HD ? code(x[2 * j + 1]) << 4 : 0u));
        }
        if (threadIdx.x == 0)
            *(uint32_t *)sides = (uint32_t)s16 | (uint32_t)z16 << 16;
    }
}

/* ---- the ring (KIVI: ir/kv_layout.h) ---- */
/* What a writer needs to find a token's ring slot: the step's rows of block_tables (stride entries)
 * and the row of each token (the kernels' a.seq_of_token, a.block_tables, a.max_blocks_per_seq). */
struct KvSeqs {
    const int32_t *seq_of_token, *block_tables;
    int stride;
};
/* The f16 row of head h at position p of the sequence whose block table row is table (stride
 * entries, its ring's blocks the last), layer `layer`, keys (w 0) or values. */
template <int KF, int VF, int L, int BS, int HKV, int HD>
DEV uint8_t *kv_ring_row(uint8_t *kv, const int32_t *table, int stride, int layer, int w, int p, int h)
{
    constexpr long long RL = kv_ring_len(KF, VF, L, BS, HKV, HD), RP = kv_ring_per_block(KF, VF, L, BS, HKV, HD);
    constexpr long long NR = kv_ring_blocks(KF, VF, L, BS, HKV, HD);
    /* formats without a ring instantiate this too (their kernels never call it): no division by 0 */
    const long long s = RL > 0 ? p % RL : 0, bi = RP > 0 ? s / RP : 0, si = RP > 0 ? s % RP : 0;
    return kv + table[stride - NR + bi] * kv_block_bytes(KF, VF, L, BS, HKV, HD) +
           kv_ring_sec_at(KF, VF, L, BS, HKV, HD, layer, w) + (si * HKV + h) * HD * 2;
}
template <int KF, int VF, int L, int BS, int HKV, int HD>
DEV const uint8_t *kv_ring_row(const uint8_t *kv, const int32_t *table, int stride, int layer, int w, int p, int h)
{
    return kv_ring_row<KF, VF, L, BS, HKV, HD>((uint8_t *)kv, table, stride, layer, w, p, h);
}

/* Head h's K and V rows of a token (krow, vrow: HD floats each in shared memory, readable by every
 * thread) stored, by every thread of the block: into the token's block (blk, off) in their formats
 * (a KIVI side waits for kv_seal_row), and with a ring also in f16 into position p's slot (table,
 * stride: the sequence's block table row). kvs: the scales per layer and KV head (fp8) or null. */
template <int KF, int VF, int L, int BS, int HKV, int HD>
DEV void kv_store_head(uint8_t *kv, int64_t blk, int off, int h, int layer, const float *krow, const float *vrow,
                       const float *kvs, const int32_t *table, int stride, int p)
{
#pragma unroll
    for (int w = 0; w < 2; w++) {
        const float *x = w ? vrow : krow;
        const float hs = kvs ? kvs[((int64_t)layer * 2 + w) * HKV + h] : 1.0f;
        uint8_t *sec = kv_sec<KF, VF, L, BS, HKV, HD>(kv, blk, layer, w);
        const int r = off * HKV + h;
        if (w == 0 && !KVFmt<KF>::KIVI)
            kv_store_row<KF, HD>(sec + (int64_t)r * kv_vbytes(KF, HD), sec + kv_sides_at(KF, BS, HKV, HD) +
                                 (int64_t)r * kv_row_sbytes(KF, 0, HD), x, hs);
        if (w == 1 && !KVFmt<VF>::KIVI)
            kv_store_row<VF, HD>(sec + (int64_t)r * kv_vbytes(VF, HD), sec + kv_sides_at(VF, BS, HKV, HD) +
                                 (int64_t)r * kv_row_sbytes(VF, 1, HD), x, hs);
        if constexpr (kv_has_ring(KF, VF)) {
            uint16_t *rr = (uint16_t *)kv_ring_row<KF, VF, L, BS, HKV, HD>(kv, table, stride, layer, w, p, h);
            for (int d = threadIdx.x; d < HD; d += blockDim.x)
                rr[d] = f32_to_f16(x[d]);
        }
    }
}

/* ---- a step's K and V rows to their slots (grid: tokens; every thread of the block) ---- */
template <int KF, int VF, int L, int BS, int HKV, int HD, int SK, int SV>
DEV void kv_write_row(const float *k, const float *v, const int32_t *slots, uint8_t *kv, int layer, const float *kvs,
                      const int32_t *positions, KvSeqs sq)
{
    __shared__ float krow[HD], vrow[HD];
    const int t = blockIdx.x;
    const int64_t blk = slots[t] / BS;
    const int off = slots[t] % BS;
    const int32_t *table = kv_has_ring(KF, VF) ? sq.block_tables + (int64_t)sq.seq_of_token[t] * sq.stride : 0;
    for (int h = 0; h < HKV; h++) {
        __syncthreads(); /* the previous head is stored */
        for (int d = threadIdx.x; d < HD; d += blockDim.x) {
            krow[d] = k[(int64_t)t * SK + h * HD + d];
            vrow[d] = v[(int64_t)t * SV + h * HD + d];
        }
        __syncthreads();
        kv_store_head<KF, VF, L, BS, HKV, HD>(kv, blk, off, h, layer, krow, vrow, kvs, table, sq.stride,
                                              kv_has_ring(KF, VF) ? positions[t] : 0);
    }
}

/* ---- KIVI: the groups a step's tokens complete, quantized from the ring into their blocks ----
 * Grid (tokens, HKV), any block size: block (t, h) does nothing unless token t's position p ends a
 * group of G ((p + 1) % G == 0); then, for each KIVI side, it quantizes head h's G rows of the
 * group (positions p + 1 - G .. p, f16 in the ring) as kv_seal (ir/kv_formats.h) does, operation for
 * operation: keys per channel over the G positions, values per position and group of G channels. */
template <int KF, int VF, int L, int BS, int HKV, int HD>
DEV void kv_seal_row(const int32_t *positions, const int32_t *seq_of_token, const int32_t *block_tables, int stride,
                     uint8_t *kv, int layer)
{
    constexpr int G = KV_KIVI_G, NG = HD / G;
    static_assert(HD % G == 0 && BS % G == 0, "KIVI: head_dim and the block of whole groups");
    __shared__ float x[G][HD];
    __shared__ uint32_t par[G * NG > HD ? G * NG : HD]; /* each group's (scale, zero) f16 pair */
    const int t = blockIdx.x, h = blockIdx.y, p = positions[t];
    if ((p + 1) % G)
        return;
    const int p0 = p + 1 - G;
    const int32_t *table = block_tables + (int64_t)seq_of_token[t] * stride;
#pragma unroll
    for (int w = 0; w < 2; w++) {
        const int F = w ? VF : KF;
        if (!(w ? KVFmt<VF>::KIVI : KVFmt<KF>::KIVI))
            continue;
        const int bits = F == FMT_KIVI2 ? 2 : 4, per = 8 / bits;
        const float Q = (float)((1 << bits) - 1);
        uint8_t *sec = kv_sec<KF, VF, L, BS, HKV, HD>(kv, table[p0 / BS], layer, w);
        const int off0 = p0 % BS;
        __syncthreads(); /* the other side's rows are done with */
        for (int e = threadIdx.x; e < G * HD; e += blockDim.x) {
            const uint16_t *rr = (const uint16_t *)kv_ring_row<KF, VF, L, BS, HKV, HD>(kv, table, stride, layer, w,
                                                                                       p0 + e / HD, h);
            x[e / HD][e % HD] = f16_to_f32(rr[e % HD]);
        }
        __syncthreads();
        /* the groups' scales and zeros: keys one a channel (over the G positions), values one a
         * position and group of G channels */
        for (int gi = threadIdx.x; gi < (w ? G * NG : HD); gi += blockDim.x) {
            float mn, mx;
            if (w == 0) {
                mn = mx = x[0][gi];
                for (int i = 1; i < G; i++) {
                    mn = x[i][gi] < mn ? x[i][gi] : mn;
                    mx = x[i][gi] > mx ? x[i][gi] : mx;
                }
            } else {
                const float *xr = &x[gi / NG][(gi % NG) * G];
                mn = mx = xr[0];
                for (int i = 1; i < G; i++) {
                    mn = xr[i] < mn ? xr[i] : mn;
                    mx = xr[i] > mx ? xr[i] : mx;
                }
            }
            const uint32_t pr = kv_asym_params(mn, mx, Q);
            par[gi] = pr;
            uint8_t *sz = w == 0 ? sec + kv_groups_at(F, 0, BS, HKV, HD) + ((int64_t)(off0 / G) * HKV + h) * kv_group_sbytes(F, 0, HD) + 4 * gi
                                 : sec + kv_sides_at(F, BS, HKV, HD) + ((int64_t)(off0 + gi / NG) * HKV + h) * kv_row_sbytes(F, 1, HD) + 4 * (gi % NG);
            *(uint32_t *)sz = pr;
        }
        __syncthreads();
        /* the codes, a byte (per values of a row) at a time */
        for (int e = threadIdx.x; e < G * (HD / per); e += blockDim.x) {
            const int i = e / (HD / per), j = e % (HD / per);
            uint32_t byte = 0;
            for (int k = 0; k < per; k++) {
                const int d = j * per + k;
                const uint32_t pr = w == 0 ? par[d] : par[i * NG + d / G];
                const float sf = f16_to_f32((uint16_t)(pr & 0xffff)), zf = f16_to_f32((uint16_t)(pr >> 16));
                float c = rintf(__fdiv_rn(__fsub_rn(x[i][d], zf), sf));
                c = c >= 0.0f ? (c <= Q ? c : Q) : 0.0f;
                byte |= (uint32_t)c << (bits * k);
            }
            sec[((int64_t)(off0 + i) * HKV + h) * kv_vbytes(F, HD) + j] = (uint8_t)byte;
        }
    }
}

#endif
