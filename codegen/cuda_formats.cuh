/* cuda_formats.cuh — everything the kernels know about weight storage formats, so that a new
 * format is added here: WFmt<WK> gives a format's elements a 16-byte load, the byte offset of an
 * element, one element as a float and the floats of a 16-byte load, and for a quantized format its
 * scales, zeros and word decoding. WK is a weight's kernel format as the emitters print it
 * (llmc_cuda_wformat in cuda_common.c): FMT_<id> of ir/formats.def, with WITH_<role> for each
 * optional side tensor its layout has (FMT_U4 | WITH_ZERO: u4 with zero points; ir/format_ids.h).
 * Weights are [N][K], K contiguous.
 */
#ifndef LLMC_CUDA_FORMATS_CUH
#define LLMC_CUDA_FORMATS_CUH

#include "cuda_base.cuh"
#include "format_ids.h"

/* The side tensors of a quantized weight (scales, zero points), in its format's order
 * (formats.def `sides`; an absent optional one is null): literal offsets from the weight. */
struct WQ {
    const void *side[4];
};

/* WFmt<WK>: VE elements a 16-byte load, off(i) the byte offset of element i (i a multiple of the
 * elements a byte holds); load(w, i): element i of w as a float (through the read-only cache; for
 * a quantized format the stored value q, before the zero and the scale); unpack(q, f): the VE
 * values of a 16-byte load q as floats (unquantized formats). The quantized formats (Q: 1) decode
 * a word at a time instead: part(q, p, f, za, zb): the PE values of word p of q minus their zeros,
 * exact, times VS (u4: za the zero of the word's first 4 values, zb of its last 4; nvfp4: za the
 * f16 pair of its two chunks' scales, which it multiplies in, exact); a group of G elements of a
 * row shares a scale (and zero): scale(wq, gi) and zero(wq, gi) of group gi (qscale, qzero),
 * tscale(wq) the factor of a row's sums where TS (nvfp4: its tensor scale times VS; 1 for the others), SF32
 * whether the scales are f32 (1; QPar keeps them so) or E4M3 bytes (2, nvfp4), and qword for lane8
 * slots.
 * MMA_BF (bf16, f16): the tensor cores read the format as bf16 (1) or f16 (0). New members go here
 * (and to every specialization that has them). */
template <int WK>
struct WFmt;
template <>
struct WFmt<FMT_F32> { /* f32 */
    enum { VE = 4, PE = 4, Q = 0, ZP = 0, SF32 = 0 };
    static constexpr float VS = 1.0f;
    DEV int64_t off(int64_t i) { return i * 4; }
    DEV float load(const void *w, int64_t i) { return __ldg((const float *)w + i); }
    template <int NF>
    DEV void unpack(const u4 &q, float (&f)[NF]) /* NF >= 4 */
    {
        f[0] = __uint_as_float(q.x);
        f[1] = __uint_as_float(q.y);
        f[2] = __uint_as_float(q.z);
        f[3] = __uint_as_float(q.w);
    }
};
template <>
struct WFmt<FMT_BF16> { /* bf16 */
    enum { VE = 8, PE = 8, Q = 0, ZP = 0, SF32 = 0, MMA_BF = 1 };
    static constexpr float VS = 1.0f;
    DEV int64_t off(int64_t i) { return i * 2; }
    DEV float load(const void *w, int64_t i) { return bf16_to_f32(__ldg((const uint16_t *)w + i)); }
    DEV void unpack(const u4 &q, float (&f)[8])
    {
        unpack_bf16(q.x, f[0], f[1]);
        unpack_bf16(q.y, f[2], f[3]);
        unpack_bf16(q.z, f[4], f[5]);
        unpack_bf16(q.w, f[6], f[7]);
    }
};
template <>
struct WFmt<FMT_F16> { /* f16 */
    enum { VE = 8, PE = 8, Q = 0, ZP = 0, SF32 = 0, MMA_BF = 0 };
    static constexpr float VS = 1.0f;
    DEV int64_t off(int64_t i) { return i * 2; }
    DEV float load(const void *w, int64_t i) { return f16_to_f32(__ldg((const uint16_t *)w + i)); }
    DEV void unpack(const u4 &q, float (&f)[8])
    {
        unpack_f16(q.x, f[0], f[1]);
        unpack_f16(q.y, f[2], f[3]);
        unpack_f16(q.z, f[4], f[5]);
        unpack_f16(q.w, f[6], f[7]);
    }
};

/* ---- quantized formats (formats.def fp8, u4): w[n][k] = (q - z) * s[n][k / G] ----
 * The scales s (u4: f16, fp8: f32) and zero points z (u4 with zero points: f16 holding 0..15;
 * symmetric u4: 8; fp8: none) are tensors of their own, [N][ceil(K / G)] (the weight's layout).
 * Decoding is bit arithmetic in registers, no tables: a u4 nibble pair goes into the mantissas of
 * an f16 pair (1024 + q, or 1024 + 16 q) by one lop3, one f16x2 operation takes the bias and the
 * zero away (exact: small integers), two conversions give the floats; an E4M3 byte pair goes under
 * the exponents of an f16 pair (prmt, shift, lop3: the value times 2^-8, exact for normals and
 * subnormals; the 2^8 goes into the scale, VS). Scalar loads decode like the cpu target. The
 * word operations (and_or, hsub2, hfma2, hmul2_, h2_to_f32) are gpu_port.cuh's. */

/* The values of a word of u4 (element i in bits 4i..4i+3) minus the zero as 4 f16 pairs, exact:
 * pair e holds elements e and e + 4; zlo = f16x2 (1024 + z), zhi = f16x2 -(64 + z), a zero for each
 * half. u4_word and the tensor-core experiment of bench/b1_tc.cuh (gemm_q's qm_decode writes the same
 * four operations out with its scale: through this helper ptxas gave its asym g32 variant up to 3
 * more registers on sm_90a, at 255). */
DEV void u4_h2(uint32_t w, uint32_t zlo, uint32_t zhi, uint32_t *h)
{
    const uint32_t M = 0x64006400u, S16 = 0x2c002c00u; /* 1024, 1/16 */
    const uint32_t w8 = w >> 8;
    h[0] = hsub2(and_or(w, 0x000f000fu, M), zlo);
    h[1] = hfma2(and_or(w, 0x00f000f0u, M), S16, zhi);
    h[2] = hsub2(and_or(w8, 0x000f000fu, M), zlo);
    h[3] = hfma2(and_or(w8, 0x00f000f0u, M), S16, zhi);
}
/* The 8 values of a word of u4 minus the zero, in order, as floats. */
DEV void u4_word(uint32_t w, uint32_t zlo, uint32_t zhi, float *f)
{
    uint32_t h[4];
    u4_h2(w, zlo, zhi, h);
#pragma unroll
    for (int e = 0; e < 4; e++)
        h2_to_f32(h[e], f[e], f[e + 4]);
}
/* The 4 values of a word of E4M3 (element i in byte i) times 2^-8, in order. */
DEV void fp8_word(uint32_t w, float *f)
{
    const uint32_t a = __byte_perm(w, 0, 0x1404), b = __byte_perm(w, 0, 0x3424); /* bytes 0, 1 (2, 3) << 8, << 24 */
    h2_to_f32(and_or(a >> 1, 0x3f803f80u, a & 0x80008000u), f[0], f[1]);
    h2_to_f32(and_or(b >> 1, 0x3f803f80u, b & 0x80008000u), f[2], f[3]);
}
/* E4M3 as the cpu target decodes it: the 7 value bits under an f32's exponent, times 2^120. */
DEV float fp8_to_f32(uint32_t q) { return __uint_as_float(((q & 0x80u) << 24) | ((q & 0x7fu) << 20)) * 0x1p120f; }
/* The f16 pair of E4M3 bytes 2h and 2h + 1 of a word, exact: under the f16 exponents (value times
 * 2^-8, fp8_word's trick), times 2^8 (exact: at most 448). */
DEV uint32_t e4m3_h2(uint32_t w, int h)
{
    const uint32_t a = __byte_perm(w, 0, h ? 0x3424 : 0x1404);
    return hmul2_(and_or(a >> 1, 0x3f803f80u, a & 0x80008000u), 0x5c005c00u);
}
/* E2M1 (nvfp4's values, code s.ee.m in a nibble) as f16 pairs: the nibbles e and e + 4 of a word
 * (e < 4), their eem bits under the f16 exponent's two low bits and its mantissa's top bit, the
 * sign at bit 15: the values times 2^-14, exact (e = 0, the codes 0 and 0.5, are f16 subnormals).
 * Two shifts, an and, a lop3; no table. */
DEV uint32_t e2m1_h2(uint32_t w, int e)
{
    const uint32_t m = e == 3 ? w >> 3 : w << (9 - 4 * e), s = w << (12 - 4 * e);
    return and_or(s, 0x80008000u, m & 0x0e000e00u);
}
/* Code q (0..15) as the cpu target decodes it: the value, exactly. */
DEV float e2m1_to_f32(uint32_t q) { return f16_to_f32((uint16_t)(((q & 7u) << 9) | ((q & 8u) << 12))) * 16384.0f; }

template <>
struct WFmt<FMT_FP8> { /* fp8 (E4M3); side 0: the scale, f32 */
    enum { VE = 16, PE = 4, Q = 1, ZP = 0, SF32 = 1, TS = 0 };
    static constexpr float VS = 256.0f;
    DEV int64_t off(int64_t i) { return i; }
    DEV float load(const void *w, int64_t i) { return fp8_to_f32(__ldg((const uint8_t *)w + i)); }
    DEV float scale(const WQ &q, int64_t gi) { return __ldg((const float *)q.side[0] + gi); }
    DEV float zero(const WQ &, int64_t) { return 0.0f; }
    DEV float tscale(const WQ &) { return 1.0f; }
    /* stored value v of group gi dequantized, as the cpu target does it */
    DEV float deq(float v, const WQ &q, int64_t gi) { return v * scale(q, gi); }
    DEV void part(const u4 &q, int p, float (&f)[4], uint32_t, uint32_t)
    {
        fp8_word(u4_at(q, p), f);
    }
};
template <int ZPT>
struct WFmtU4 { /* u4, two values a byte (even element low); side 0: the scale, f16; side 1 (ZPT): zero points, f16 (else 8) */
    enum { VE = 32, PE = 8, Q = 1, ZP = ZPT, SF32 = 0, TS = 0 };
    static constexpr float VS = 1.0f;
    DEV float scale(const WQ &q, int64_t gi) { return f16_to_f32(__ldg((const uint16_t *)q.side[0] + gi)); }
    DEV float zero(const WQ &q, int64_t gi) { return ZPT ? f16_to_f32(__ldg((const uint16_t *)q.side[1] + gi)) : 8.0f; }
    DEV float tscale(const WQ &) { return 1.0f; }
    DEV float deq(float v, const WQ &q, int64_t gi) { return (v - zero(q, gi)) * scale(q, gi); }
    DEV int64_t off(int64_t i) { return i >> 1; }
    DEV float load(const void *w, int64_t i)
    {
        const uint32_t b = __ldg((const uint8_t *)w + (i >> 1));
        return (float)((i & 1) ? b >> 4 : b & 15u);
    }
    DEV void part(const u4 &q, int p, float (&f)[8], uint32_t za, uint32_t zb)
    {
        u4_word(u4_at(q, p), (0x6400u + za) | (0x6400u + zb) << 16,
                (0xd400u + 16u * za) | (0xd400u + 16u * zb) << 16, f);
    }
};
template <>
struct WFmt<FMT_U4> : WFmtU4<0> {};
template <>
struct WFmt<FMT_U4 | WITH_ZERO> : WFmtU4<1> {};
template <>
struct WFmt<FMT_NVFP4> { /* nvfp4: E2M1 two a byte (even element low); side 0: E4M3 scales, a group of 16; side 1: the tensor's f32 scale */
    enum { VE = 32, PE = 8, Q = 1, ZP = 0, SF32 = 2, TS = 1 };
    static constexpr float VS = 16384.0f; /* part() gives values times 2^-14 */
    DEV int64_t off(int64_t i) { return i >> 1; }
    DEV float load(const void *w, int64_t i)
    {
        const uint32_t b = __ldg((const uint8_t *)w + (i >> 1));
        return e2m1_to_f32((i & 1) ? b >> 4 : b & 15u);
    }
    DEV float scale(const WQ &q, int64_t gi) { return fp8_to_f32(__ldg((const uint8_t *)q.side[0] + gi)); }
    DEV float zero(const WQ &, int64_t) { return 0.0f; }
    DEV float tscale(const WQ &q) { return __ldg((const float *)q.side[1]) * VS; }
    /* (v s) t as the cpu target: v s exact, one rounding */
    DEV float deq(float v, const WQ &q, int64_t gi) { return v * scale(q, gi) * __ldg((const float *)q.side[1]); }
    /* word p's 8 values (pairs e, e + 4) times s2, the f16 scales of its two chunks: exact (a
     * multiple of 2^-24 below 0.17), times 2^-14 */
    DEV void part(const u4 &q, int p, float (&f)[8], uint32_t s2, uint32_t)
    {
        const uint32_t w = u4_at(q, p);
#pragma unroll
        for (int e = 0; e < 4; e++)
            h2_to_f32(hmul2_(e2m1_h2(w, e), s2), f[e], f[e + 4]);
    }
};

/* The scale of group gi (n * groups + k / G) of a quantized format. */
template <int WK>
DEV float qscale(const WQ &q, int64_t gi)
{
    return WFmt<WK>::scale(q, gi);
}
/* The zero of group gi (u4: 8 when symmetric; fp8: 0). */
template <int WK>
DEV float qzero(const WQ &q, int64_t gi)
{
    return WFmt<WK>::zero(q, gi);
}
/* Position of element k of a row in the storage order ORD (formats.def O lines: ORDER_ROW_MAJOR,
 * ORDER_LANE8, whose tile is 8 slots of VE values: slot q holds at 4 c + e element 32 c + 4 q + e). */
template <int WK, int ORD>
DEV int64_t qpos(int64_t k)
{
    if (ORD != ORDER_LANE8)
        return k;
    constexpr int E = WFmt<WK>::VE, T = 8 * E;
    const int64_t kk = k % T;
    return k - kk + kk % 32 / 4 * E + kk / 32 * 4 + kk % 4;
}
/* Element k of row n of a [N][K] weight of format WK in storage order ORD dequantized, as the cpu
 * target does it: (q - z) * s for the quantized formats, the value for the others. */
template <int WK, int K, int G, int ORD = ORDER_ROW_MAJOR>
DEV float wload(const void *w, const WQ &q, int64_t n, int64_t k)
{
    const float v = WFmt<WK>::load(w, n * K + qpos<WK, ORD>(k));
    if constexpr (!WFmt<WK>::Q) {
        return v;
    } else {
        constexpr int64_t NG = (K + G - 1) / G;
        return WFmt<WK>::deq(v, q, n * NG + k / G);
    }
}

/* ---- the skinny kernels' quantized path: rows in lane8 order ----
 * Vector v of a row (16 bytes) is slot v % 8 of tile v / 8 (T = 8 VE elements): its values are
 * NC chunks of 4, chunk c being elements 32 c + 4 (v % 8) + 0..3 of the tile, so the 8 lanes of a
 * group read x in 128-byte runs. Groups either hold whole tiles or tile a tile in whole chunks
 * (G % 4 == 0); a slot spans NS of them (CS chunks each), each with its scale and zero. Groups of
 * 32 or more hold whole 32-value columns of chunks, the same for the 8 slots; smaller ones (nvfp4's
 * 16) a chunk each (NS = NC, CS = 1), chunk c of slot q in group (32 c + 4 q) / G of the tile. */
template <int WK, int G>
struct QLane {
    enum {
        VE = WFmt<WK>::VE,
        T = 8 * VE,
        NC = VE / 4,
        CPG = G / 32 > 0 ? G / 32 : 1,
        NS = NC / CPG > 1 ? NC / CPG : 1,
        CS = NC / NS
    };
};
/* The scales and zeros of a slot's groups, compact (they stay in registers from load to use): u4
 * f16 scale pairs and the zeros 4 bits each (8 for symmetric u4); fp8 f32 scales times VS. */
template <int WK, int G, int SF32 = WFmt<WK>::SF32>
struct QPar {
    enum { NS = QLane<WK, G>::NS };
    uint32_t s2[(NS + 1) / 2], z;
    __device__ __forceinline__ float scale(int i) const { return f16_to_f32((uint16_t)(s2[i / 2] >> (16 * (i % 2)))); }
    __device__ __forceinline__ uint32_t zero(int i) const { return WFmt<WK>::ZP ? z >> (4 * i) & 15u : 8u; }
};
template <int WK, int G>
struct QPar<WK, G, 1> {
    enum { NS = QLane<WK, G>::NS };
    float s[NS];
    __device__ __forceinline__ float scale(int i) const { return s[i]; }
    __device__ __forceinline__ uint32_t zero(int) const { return 0u; }
};
/* nvfp4: the E4M3 scales of a slot's 8 chunks, chunk c's in byte c % 4 of s8[c / 4]; part()
 * multiplies them into the values (h2(w): word w's two, an f16 pair), so scale() is 1. */
template <int WK, int G>
struct QPar<WK, G, 2> {
    enum { NS = QLane<WK, G>::NS };
    static_assert(G == 16 && NS == 8, "nvfp4: groups of 16, a chunk each");
    uint32_t s8[2];
    __device__ __forceinline__ float scale(int) const { return 1.0f; }
    __device__ __forceinline__ uint32_t zero(int) const { return 0u; }
    __device__ __forceinline__ uint32_t h2(int w) const { return e4m3_h2(s8[w / 2], w % 2); }
};
template <int WK, int K, int G>
DEV void qpar(const WQ &wq, int64_t n, int64_t v, QPar<WK, G> &p)
{
    using L = QLane<WK, G>;
    constexpr int64_t NG = (K + G - 1) / G;
    const int64_t k0 = v / 8 * L::T, kq = k0 + 4 * (v % 8); /* the tile's first element; the slot's */
    if constexpr (WFmt<WK>::SF32 == 2) {
        /* the tile's 16 scales (16-byte aligned: K % 256 == 0), slot q's chunk c in group 2 c + q / 4 */
        const uint4 s = __ldg((const uint4 *)((const uint8_t *)wq.side[0] + n * NG + k0 / G));
        const uint32_t sel = v % 8 < 4 ? 0x6420u : 0x7531u;
        p.s8[0] = __byte_perm(s.x, s.y, sel);
        p.s8[1] = __byte_perm(s.z, s.w, sel);
    } else if constexpr (WFmt<WK>::SF32) {
#pragma unroll
        for (int i = 0; i < L::NS; i++)
            p.s[i] = WFmt<WK>::scale(wq, n * NG + (kq + 32 * i * L::CS) / G) * WFmt<WK>::VS;
    } else {
        p.z = 0;
#pragma unroll
        for (int i = 0; i < L::NS; i++) {
            const int64_t gi = n * NG + (kq + 32 * i * L::CS) / G;
            const uint32_t h = __ldg((const uint16_t *)wq.side[0] + gi);
            if (i % 2 == 0)
                p.s2[i / 2] = h;
            else
                p.s2[i / 2] |= h << 16;
            if (WFmt<WK>::ZP)
                p.z |= (uint32_t)WFmt<WK>::zero(wq, gi) << (4 * i);
        }
    }
}
/* Word w of slot q decoded (WFmt::part) with the zeros of its chunks' groups (u4: chunk 2w low,
 * 2w + 1 high). */
template <int WK, int G>
DEV void qword(const u4 &q, int w, const QPar<WK, G> &p, float (&f)[WFmt<WK>::PE])
{
    using L = QLane<WK, G>;
    constexpr int CW = WFmt<WK>::PE / 4; /* chunks a word */
    if constexpr (WFmt<WK>::SF32 == 2)
        WFmt<WK>::part(q, w, f, p.h2(w), 0u);
    else
        WFmt<WK>::part(q, w, f, p.zero((w * CW) / L::CS), p.zero((w * CW + CW - 1) / L::CS));
}
/* The partial sums of one slot (q[r]: the 16 bytes of row r at vector v, p[r] its groups) with x
 * (pointing at element 4 (v % 8) of the tile, token t at x + t sx) for tokens t < nt (at most TM):
 * acc[r][t] += the sum over the slot's groups, in order, of (the sum of its chunks' 4-value dots,
 * in order) times the group's scale. gemv (TM 8) and gemv_b1 (TM 1) share it: a row gets the same
 * bits whatever the batch. LDG: x through the read-only cache. */
template <int WK, int G, int ROWS, int TM, int LDG, int NORM>
DEV void qdot(const u4 (&q)[2], const QPar<WK, G> (&p)[2], const float *x, int64_t sx, int nt,
              const float *nw, float (&acc)[2][TM])
{
    using L = QLane<WK, G>;
    constexpr int PE = WFmt<WK>::PE, CW = PE / 4; /* values, chunks a word */
    float seg[L::CS > 1 ? 2 : 1][TM], part[2][TM];
    (void)seg;
#pragma unroll
    for (int w = 0; w < 4; w++) {
        float f[2][PE];
#pragma unroll
        for (int r = 0; r < ROWS; r++)
            qword<WK, G>(q[r], w, p[r], f[r]);
#pragma unroll
        for (int t = 0; t < TM; t++) {
            if (t >= nt)
                break;
#pragma unroll
            for (int cc = 0; cc < CW; cc++) {
                const int c = w * CW + cc;
                const float *xc = x + (int64_t)t * sx + 32 * c;
                float4 xv = LDG ? __ldg((const float4 *)xc) : *(const float4 *)xc;
                if (NORM) {
                    const float4 nv = __ldg((const float4 *)(nw + 32 * c));
                    xv.x *= nv.x;
                    xv.y *= nv.y;
                    xv.z *= nv.z;
                    xv.w *= nv.w;
                }
#pragma unroll
                for (int r = 0; r < ROWS; r++) {
                    const float d = f[r][4 * cc] * xv.x + f[r][4 * cc + 1] * xv.y + f[r][4 * cc + 2] * xv.z +
                                    f[r][4 * cc + 3] * xv.w;
                    if constexpr (L::CS == 1) { /* a group a chunk: no group sum to keep */
                        if (c == 0)
                            part[r][t] = d * p[r].scale(0);
                        else
                            part[r][t] += d * p[r].scale(c);
                    } else {
                        if (c % L::CS == 0)
                            seg[r][t] = d;
                        else
                            seg[r][t] += d;
                        if (c % L::CS == L::CS - 1) {
                            if (c / L::CS == 0)
                                part[r][t] = seg[r][t] * p[r].scale(0);
                            else
                                part[r][t] += seg[r][t] * p[r].scale(c / L::CS);
                        }
                    }
                }
            }
        }
    }
#pragma unroll
    for (int t = 0; t < TM; t++) {
        if (t >= nt)
            break;
#pragma unroll
        for (int r = 0; r < ROWS; r++)
            acc[r][t] += part[r][t];
    }
}

/* The dot of the VE values f of a 16-byte load with x[0 .. VE) (times nw[0 .. VE) when norm), in
 * the order gemv and gemv_b1 share, so that a row gets the same bits whatever the batch: fours
 * left to right, then the fours in order. LDG: x through the read-only cache (gemv), else plain
 * loads (gemv_b1: under PDL x was written while the kernel ran). */
template <int LDG, int VE>
DEV float wdot(const float (&f)[VE], const float *x, const float *nw, int norm)
{
    float s = 0.0f;
#pragma unroll
    for (int h = 0; h < VE; h += 4) {
        float4 xv = LDG ? __ldg((const float4 *)(x + h)) : *(const float4 *)(x + h);
        if (norm) {
            const float4 nv = __ldg((const float4 *)(nw + h));
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
    return s;
}

/* The values of a 16-byte load of format WK. */
template <int WK, int NF>
DEV void unpack16(const u4 &q, float (&f)[NF])
{
    WFmt<WK>::unpack(q, f);
}

/* ---- a quantized weight dequantized to f16 [N][K], for the tensor-core matmuls of wide steps ----
 * out = f16((q - z) * s) (nvfp4: f16((v s) t)), the f32 value rounded to nearest and saturated at +-65504. VEC: a
 * 16-byte lane8 slot a thread, else an element a thread (storage order ORD); grid:
 * ceil(N * K / (256 * (VEC ? VE : 1))) blocks of 256. */
DEV uint32_t f16x2_sat(float lo, float hi)
{
    lo = fminf(fmaxf(lo, -65504.0f), 65504.0f);
    hi = fminf(fmaxf(hi, -65504.0f), 65504.0f);
    return (uint32_t)f32_to_f16(lo) | (uint32_t)f32_to_f16(hi) << 16;
}
template <int WK, int K, int N, int G, int VEC, int ORD>
DEV void dequant_half(const void *__restrict__ w, WQ wq, uint16_t *__restrict__ out)
{
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (VEC) { /* a lane8 slot: its chunks to their places */
        using L = QLane<WK, G>;
        constexpr int VE = WFmt<WK>::VE;
        static_assert(!VEC || (ORD == ORDER_LANE8 && K % L::T == 0 && G % 4 == 0), "dequant_half: slots of whole lane8 tiles");
        if (i >= (int64_t)N * K / VE)
            return;
        const int64_t n = i / (K / VE), v = i % (K / VE);
        QPar<WK, G> p;
        qpar<WK, K, G>(wq, n, v, p);
        const float ts = WFmt<WK>::TS ? WFmt<WK>::tscale(wq) : 1.0f;
        const u4 q = ld16_stream((const char *)w + i * 16);
        uint16_t *o = out + n * K + v / 8 * L::T + 4 * (v % 8);
#pragma unroll
        for (int wd = 0; wd < 4; wd++) {
            constexpr int PE = WFmt<WK>::PE, CW = PE / 4;
            float f[PE];
            qword<WK, G>(q, wd, p, f);
#pragma unroll
            for (int cc = 0; cc < CW; cc++) {
                const int c = wd * CW + cc;
                const float sc = WFmt<WK>::TS ? p.scale(c / L::CS) * ts : p.scale(c / L::CS);
                uint2 h;
                h.x = f16x2_sat(f[4 * cc] * sc, f[4 * cc + 1] * sc);
                h.y = f16x2_sat(f[4 * cc + 2] * sc, f[4 * cc + 3] * sc);
                *(uint2 *)(o + 32 * c) = h;
            }
        }
    } else {
        if (i >= (int64_t)N * K)
            return;
        const float v = wload<WK, K, G, ORD>(w, wq, i / K, i % K);
        out[i] = (uint16_t)(f16x2_sat(v, 0.0f) & 0xffffu);
    }
}

#endif
