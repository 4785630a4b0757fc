/* c_formats.h — everything the cpu target's kernels know about storage formats (the C twin of
 * cuda_formats.cuh), so that a format is added here: the plain weight formats as instances of
 * c_prelude.h's LLMC_MM (mm_<name>, embed_<name>: 8 values at a time and one at a time as floats),
 * the quantized ones as q_row (a run of a row's values dequantized, in any element order), the KV
 * cache's formats in ir/kv_formats.h (row functions the interpreter uses too), keyed by the
 * formats' kernel names (FMT_<id>, ORDER_<id>: ir/format_ids.h, from ir/formats.def). Part of
 * c_prelude.h (included in its middle: it uses LLMC_MM and the vector helpers defined before).
 */
#include "format_ids.h"
#include "c_mmq.h" /* which path mm_q takes (shared with the C emitters) */
#include "kv_formats.h" /* the KV cache's rows (shared with the reference interpreter) */

/* ---- plain weight formats: f32, bf16, f16 ---- */
LLMC_INLINE llmc_v8f v8_ld_bf16(const uint16_t *p) { return (llmc_v8f)(v8_u16(p) << 16); }
LLMC_INLINE float s_f32(float x) { return x; }
LLMC_INLINE float s_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
/* f16: the compiler's _Float16 where it has one (__FLT16_MAX__: GCC 12, clang 15 on x86-64), else
 * the same values by bit arithmetic (clang 14; LLMC_NO_FLOAT16 forces it, for its test), exact
 * either way. Eight at a time: F16C's vcvtph2ps where the target has it (GCC 12 makes one
 * conversion a lane of __builtin_convertvector from _Float16). */
#if defined(__FLT16_MAX__) && !defined(LLMC_NO_FLOAT16)
LLMC_INLINE llmc_v8f v8_ld_f16(const uint16_t *p)
{
#if defined(LLMC_X86_F16C)
    __m128i h;
    memcpy(&h, p, sizeof h);
    return (llmc_v8f)_mm256_cvtph_ps(h);
#else
    typedef _Float16 llmc_v8hf __attribute__((vector_size(16)));
    llmc_v8hf h;
    memcpy(&h, p, sizeof h);
    return __builtin_convertvector(h, llmc_v8f);
#endif
}
LLMC_INLINE float s_f16(uint16_t h)
{
    _Float16 x;
    memcpy(&x, &h, sizeof x);
    return (float)x;
}
#else
LLMC_INLINE float s_f16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0) {   /* zero or subnormal: m * 2^-24 */
        float f = (float)m * 5.9604644775390625e-08f;
        return sign ? -f : f;
    }
    uint32_t u = sign | (e == 31 ? 0x7f800000u | (m << 13) : ((e + 112) << 23) | (m << 13));
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
LLMC_INLINE llmc_v8f v8_ld_f16(const uint16_t *p)
{
    llmc_v8f v;
    for (int i = 0; i < 8; i++)
        v[i] = s_f16(p[i]);
    return v;
}
#endif

/* The first n (1, 2, 4 or 8) f16 values at p in lanes 0..n-1 (the rest 0), reading only those. */
LLMC_INLINE llmc_v8f v8_ld_f16_n(const uint16_t *p, int n)
{
    if (n == 8)
        return v8_ld_f16(p);
#if defined(LLMC_X86_F16C) && !defined(LLMC_NO_FLOAT16)
    long long q = 0;
    memcpy(&q, p, 2 * (size_t)n);
    return (llmc_v8f)_mm256_cvtph_ps(_mm_cvtsi64_si128(q));
#else
    uint16_t h[8] = {0};
    memcpy(h, p, 2 * (size_t)n);
    return v8_ld_f16(h);
#endif
}

LLMC_MM(f32, float, v8_ld, s_f32)
LLMC_MM(bf16, uint16_t, v8_ld_bf16, s_bf16)
LLMC_MM(f16, uint16_t, v8_ld_f16, s_f16)

/* ---- quantized weights (formats.def: fp8, u4, nvfp4, the test-only t8), their side tensors s0,
 * s1 in the format's order (formats.def `sides`; 0 for an absent optional one) ----
 * FMT_FP8: E4M3 by bit arithmetic (its 7 value bits under an f32's exponent, times 2^120: exact for
 * normals and subnormals alike; 0x7f, NaN, is never written) times s0, the scale, f32.
 * FMT_U4: two values a byte (even column low), (q - s1) s0: s0 the scale, f16; s1 the zero, f16
 * (NULL: 8). FMT_NVFP4: two E2M1 values a byte (even column low, q_e2m1f),
 * (e2m1(q) s0) s1: s0 the block scale, E4M3 a group of 16 (q_fp8); s1 the tensor's, f32; the first
 * product is exact, so a value is the reference quantizer's bit for bit. FMT_T8: int8 q times
 * (s0 s1): s0 a scale a group, f16; s1 the tensor's, f32 (row-major only). ORD (ORDER_*):
 * ORDER_LANE8 is the CUDA skinny kernels' order (the CPU twin of a CUDA build reads its weights),
 * value by value through q_pos. */

/* Position of value k of a row of format F in storage order ORD (lane8: tiles of 8 lanes' 16 bytes). */
LLMC_INLINE int64_t q_pos(int F, int ORD, int64_t k)
{
    if (ORD != ORDER_LANE8)
        return k;
    int64_t T = 8 * (128 / fmt_bits(F)), E = T / 8, kk = k % T;
    return k - kk + kk % 32 / 4 * E + kk / 32 * 4 + kk % 4;
}

LLMC_INLINE float q_fp8(uint8_t q)
{
    uint32_t u = ((uint32_t)(q & 0x80) << 24) | ((uint32_t)(q & 0x7f) << 20);
    float f;
    memcpy(&f, &u, 4);
    return f * 0x1p120f;
}

/* E2M1 code c (nvfp4's values) by bit arithmetic (a table lookup does not vectorize): magnitude
 * code m > 1 is the f32 2^(m/2 - 1) (1 + (m & 1) / 2), (m << 22) + 0x3f000000; m = 1 is 0.5, m = 0
 * is 0; the sign on top (code 8 is -0). */
LLMC_INLINE float q_e2m1f(uint32_t c)
{
    uint32_t m = c & 7, u = ((m << 22) + 0x3f000000u - ((uint32_t)(m == 1) << 22)) & (0u - (uint32_t)(m != 0));
    u |= (c & 8) << 28;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* How many values from the start of a group one q_row call may take (mm_q's chunks end there): the
 * group, or for nvfp4 (groups of 16, which its q_row walks) up to 256. */
LLMC_INLINE int q_span(int F, int G) { return F == FMT_NVFP4 ? 256 : G; }

/* Values [k0, k0 + n) of row r (inside one group; nvfp4: inside q_span) of a [.., K] weight of
 * format F in order ORD, with groups of G, into out[n]. */
LLMC_INLINE void q_row(int F, int ORD, int K, int G, const uint8_t *w, const void *s0, const void *s1, int64_t r,
                       int k0, int n, float *out)
{
    int64_t ng = (K + G - 1) / G, gi = r * ng + k0 / G;
    if (F == FMT_NVFP4) { /* the values, then each group's (v s) t (whole bytes: groups of 16, K even) */
        if (ORD == ORDER_LANE8) {
            for (int i = 0; i < n; i++) {
                int64_t p = q_pos(F, ORD, k0 + i);
                out[i] = q_e2m1f(w[((size_t)r * K + p) / 2] >> (4 * (p & 1)) & 15u);
            }
        } else {
            const uint8_t *q = w + ((size_t)r * K + k0) / 2;
            for (int b = 0; b < n / 2; b++) {
                out[2 * b] = q_e2m1f(q[b] & 15u);
                out[2 * b + 1] = q_e2m1f((uint32_t)q[b] >> 4);
            }
        }
        const float t = ((const float *)s1)[0];
        for (int i = 0; i < n; i += G) {
            const float sc = q_fp8(((const uint8_t *)s0)[r * ng + (k0 + i) / G]);
            if (n - i >= 16 && G == 16) {
                v8_st(out + i, v8_ld(out + i) * sc * t);
                v8_st(out + i + 8, v8_ld(out + i + 8) * sc * t);
            } else
                for (int j = i; j < n && j < i + G; j++)
                    out[j] = out[j] * sc * t;
        }
        return;
    }
    if (F == FMT_T8) {
        const int8_t *q = (const int8_t *)w + (size_t)r * K + k0;
        float st = s_f16(((const uint16_t *)s0)[gi]) * ((const float *)s1)[0];
        for (int i = 0; i < n; i++)
            out[i] = (float)q[i] * st;
        return;
    }
    float sc = F == FMT_U4 ? s_f16(((const uint16_t *)s0)[gi]) : ((const float *)s0)[gi];
    float z = F == FMT_U4 ? (s1 ? s_f16(((const uint16_t *)s1)[gi]) : 8.0f) : 0.0f;
    if (ORD == ORDER_LANE8) {
        for (int i = 0; i < n; i++) {
            int64_t p = q_pos(F, ORD, k0 + i);
            if (F == FMT_U4) {
                uint8_t b = w[((size_t)r * K + p) / 2];
                out[i] = ((float)(p & 1 ? b >> 4 : b & 15) - z) * sc;
            } else {
                out[i] = q_fp8(w[(size_t)r * K + p]) * sc;
            }
        }
    } else if (F == FMT_FP8) {
        const uint8_t *q = w + (size_t)r * K + k0;
        for (int i = 0; i < n; i++)
            out[i] = q_fp8(q[i]) * sc;
    } else {
        const uint8_t *q = w + ((size_t)r * K + k0) / 2;
        for (int i = 0; i < n / 2; i++) {
            out[2 * i] = ((float)(q[i] & 15) - z) * sc;
            out[2 * i + 1] = ((float)(q[i] >> 4) - z) * sc;
        }
    }
}

/* ---- the quantized formats in mm_q's dequantize-dot (c_prelude.h) ----
 * mm_q reads a row as blocks of 64 bytes (E = 512 / bits values) and qb_val(F, w, s) gives NS =
 * qb_subs(F) vectors of 16 floats from a block w (16 words of 32 bits): in lane j of vector s the
 * value of element qb_elem(F, s, j) of the block, times qb_vscale(F) (a power of 2: mm_q divides
 * the x it meets by it, which is exact). They take integer and float vector operations the compiler
 * keeps in registers (no byte widening, which GCC 12 scalarizes):
 *   u4: q - 8 of nibble s of word j (element 8 j + s): with AVX-512 the word shifted down and
 *     vpermps from the 16 values -8..7 (the low 4 bits index it: no mask), else masked, converted
 *     (vcvtdq2ps) and 8 taken away (exact); a zero point is then z - 8 (qb_sides);
 *   t8: byte s of word j sign-extended by two shifts, converted;
 *   nvfp4: nibble s of word j, E2M1 by a 16-value table too (vpermps), or else q_e2m1f's bit
 *     arithmetic on 16 lanes;
 *   fp8: the block as 32 halves; byte 2 i (and 2 i + 1) of the halves' pairs goes under an f16
 *     exponent (its 7 value bits and sign: the value times 2^-8, exact for normals and subnormals;
 *     0x7f, NaN, is never written) and vcvtph2ps makes 16 floats: vector s holds bytes
 *     32 (s / 2) + 2 j + s % 2.
 * A lane's values of one block belong to one group wherever mm_q cuts the block into groups
 * (mmq_fits: never for fp8, which takes whole-block groups only); qb_sides gives a unit's scales a
 * lane (u4: and zeros), qb_tscale a format's per-tensor factor of the sums. The formats qb_fused
 * names take this path (c_mmq.h: qb_fused, the block geometry, mmq_fits); the others q_row's. */
LLMC_INLINE int qb_elem(int F, int s, int j) { return F == FMT_FP8 ? 32 * (s / 2) + 2 * j + s % 2 : qb_subs(F) * j + s; }
LLMC_INLINE float qb_vscale(int F) { return F == FMT_FP8 ? 0x1p-8f : 1.0f; }

typedef uint16_t llmc_v16h __attribute__((vector_size(32)));
typedef uint16_t llmc_v32h __attribute__((vector_size(64)));
typedef int16_t llmc_v32s __attribute__((vector_size(64)));
/* 16 f16 values (finite) to floats: vcvtph2ps where the target has it, else bit arithmetic. */
LLMC_INLINE llmc_v16f v16_f16(llmc_v16h h)
{
#if defined(LLMC_X86_AVX512F)
    return (llmc_v16f)_mm512_cvtph_ps((__m256i)h);
#elif defined(LLMC_X86_F16C)
    typedef uint16_t llmc_v8hh __attribute__((vector_size(16)));
    llmc_v8hh lo, hi;
    memcpy(&lo, &h, sizeof lo);
    memcpy(&hi, (const char *)&h + sizeof lo, sizeof hi);
    return v16_cat((llmc_v8f)_mm256_cvtph_ps((__m128i)lo), (llmc_v8f)_mm256_cvtph_ps((__m128i)hi));
#else
    llmc_v16u u = __builtin_convertvector(h, llmc_v16u), m = (u & 0x7fffu) << 13;
    return (llmc_v16f)((llmc_v16u)((llmc_v16f)m * 0x1p112f) | (u & 0x8000u) << 16);
#endif
}

LLMC_INLINE llmc_v16f qb_val(int F, llmc_v16u w, int s)
{
    if (F == FMT_U4) { /* q - 8 */
#if defined(LLMC_X86_AVX512F)
        const llmc_v16f q8 = {-8.0f, -7.0f, -6.0f, -5.0f, -4.0f, -3.0f, -2.0f, -1.0f,
                              0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f};
        return (llmc_v16f)_mm512_permutexvar_ps((__m512i)(w >> (4 * s)), (__m512)q8);
#else
        return __builtin_convertvector((llmc_v16i)((w >> (4 * s)) & 15u), llmc_v16f) - 8.0f;
#endif
    }
    if (F == FMT_NVFP4) {
#if defined(LLMC_X86_AVX512F)
        llmc_v16u c = w >> (4 * s);
        const llmc_v16f e2m1 = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
        return (llmc_v16f)_mm512_permutexvar_ps((__m512i)c, (__m512)e2m1); /* the low 4 bits index */
#elif defined(LLMC_X86_AVX2) /* the magnitude from an 8-value table (the low 3 bits index it), the sign on top */
        const __m256 mag = _mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f);
        llmc_v8u lo = (llmc_v8u)v16_lo((llmc_v16f)w) >> (4 * s), hi = (llmc_v8u)v16_hi((llmc_v16f)w) >> (4 * s);
        llmc_v8u a = (llmc_v8u)_mm256_permutevar8x32_ps(mag, (__m256i)lo) | (lo & 8u) << 28;
        llmc_v8u b = (llmc_v8u)_mm256_permutevar8x32_ps(mag, (__m256i)hi) | (hi & 8u) << 28;
        return v16_cat((llmc_v8f)a, (llmc_v8f)b);
#else
        llmc_v16u c = w >> (4 * s), m = c & 7u, one = (llmc_v16u)(m == 1u), nz = (llmc_v16u)(m != 0u);
        return (llmc_v16f)((((m << 22) + 0x3f000000u - (one & 0x400000u)) & nz) | (c & 8u) << 28);
#endif
    }
    if (F == FMT_FP8) { /* the even bytes of the halves moved up first; sign and 7 bits under f16's exponent */
#if !defined(LLMC_X86_AVX512F) && defined(LLMC_X86_AVX2) && defined(LLMC_X86_F16C) /* a 32-byte half at a time */
        __m256i v = (__m256i)(s / 2 ? v16_hi((llmc_v16f)w) : v16_lo((llmc_v16f)w));
        __m256i f = _mm256_and_si256(_mm256_srai_epi16(s % 2 ? v : _mm256_slli_epi16(v, 8), 1),
                                     _mm256_set1_epi16((short)0xbf80));
        llmc_v8f a = (llmc_v8f)_mm256_cvtph_ps(_mm256_castsi256_si128(f));
        llmc_v8f b = (llmc_v8f)_mm256_cvtph_ps(_mm256_extracti128_si256(f, 1));
        return v16_cat(a, b);
#else
        llmc_v32h h = (llmc_v32h)w;
        llmc_v32h f = (llmc_v32h)((llmc_v32s)(s % 2 ? h : h << 8) >> 1) & 0xbf80u;
        return v16_f16(s / 2 ? __builtin_shufflevector(f, f, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31)
                             : __builtin_shufflevector(f, f, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
#endif
    }
    return __builtin_convertvector((llmc_v16i)(w << (24 - 8 * s)) >> 24, llmc_v16f); /* FMT_T8 */
}

/* 8 lanes to 16: each of the first gpb values (1, 2, 4 or 8) on 16 / gpb lanes in turn (two 8-lane
 * shuffles put together: GCC 12 makes scalar inserts of an 8-to-16 shuffle without AVX-512). */
LLMC_INLINE llmc_v16f v16_spread(llmc_v8f v, int gpb)
{
    llmc_v8f lo, hi;
    if (gpb == 8) {
        lo = __builtin_shufflevector(v, v, 0, 0, 1, 1, 2, 2, 3, 3);
        hi = __builtin_shufflevector(v, v, 4, 4, 5, 5, 6, 6, 7, 7);
    } else if (gpb == 4) {
        lo = __builtin_shufflevector(v, v, 0, 0, 0, 0, 1, 1, 1, 1);
        hi = __builtin_shufflevector(v, v, 2, 2, 2, 2, 3, 3, 3, 3);
    } else if (gpb == 2) {
        lo = __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0);
        hi = __builtin_shufflevector(v, v, 1, 1, 1, 1, 1, 1, 1, 1);
    } else {
        lo = hi = __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0);
    }
    return v16_cat(lo, hi);
}
LLMC_INLINE llmc_v16f v16_set1(float v) { return (llmc_v16f){v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v}; }

/* The scales of a unit of mm_q's blocks that starts at value k0 of row r, a lane each, and u4's
 * zero points minus 8 (qb_val's u4 values are q - 8; 0 without zero points): gpb groups of 16 / gpb
 * lanes (gpb 1: one group for the unit). Groups past the row's last (a ragged last block) get 0
 * (their lanes hold no values). */
LLMC_INLINE float qb_scale1(int F, const void *s0, int64_t gi)
{
    return F == FMT_FP8 ? ((const float *)s0)[gi] : F == FMT_NVFP4 ? q_fp8(((const uint8_t *)s0)[gi])
                                                                   : s_f16(((const uint16_t *)s0)[gi]);
}
LLMC_INLINE void qb_sides(int F, int K, int G, const void *s0, const void *s1, int64_t r, int k0, int gpb,
                          llmc_v16f *sc, llmc_v16f *z)
{
    int64_t ng = (K + G - 1) / G, g0 = k0 / G, gi = r * ng + g0;
    const int zero = F == FMT_U4 && s1;
    if (gpb == 1) {
        float v = qb_scale1(F, s0, gi), zv = zero ? s_f16(((const uint16_t *)s1)[gi]) - 8.0f : 0.0f;
        *sc = v16_set1(v);
        *z = v16_set1(zv);
        return;
    }
    int n = ng - g0 < gpb ? (int)(ng - g0) : gpb;
    llmc_v8f v, zv = {0};
    if (F == FMT_NVFP4 && n == 8) {
        llmc_v8u b = v8_u8((const uint8_t *)s0 + gi);
        v = (llmc_v8f)((b & 0x80u) << 24 | (b & 0x7fu) << 20) * 0x1p120f;
    } else if ((F == FMT_U4 || F == FMT_T8) && n == gpb) { /* 2, 4 or 8 f16 values */
        v = v8_ld_f16_n((const uint16_t *)s0 + gi, n);
        if (zero)
            zv = v8_ld_f16_n((const uint16_t *)s1 + gi, n) - 8.0f;
    } else { /* fp8's f32 group scales, a ragged last block */
        float f[8] = {0}, fz[8] = {0};
        for (int i = 0; i < n; i++) {
            f[i] = qb_scale1(F, s0, gi + i);
            fz[i] = zero ? s_f16(((const uint16_t *)s1)[gi + i]) - 8.0f : 0.0f;
        }
        v = v8_ld(f);
        zv = v8_ld(fz);
    }
    *sc = v16_spread(v, gpb);
    *z = v16_spread(zv, gpb);
}

/* The factor of a row's sum that the scales leave out: nvfp4's and t8's per-tensor scale (s1), else 1. */
LLMC_INLINE float qb_tscale(int F, const void *s1)
{
    return F == FMT_NVFP4 || F == FMT_T8 ? ((const float *)s1)[0] : 1.0f;
}
