/* c_prelude.h — the inline building blocks of generated C models (target cpu).
 *
 * Generated kernels call these with every dimension, stride and flag as a literal constant; all of
 * them are always_inline, so each call site becomes code specialized to its shapes. Vectors are GCC
 * vector extensions of 8 floats (AVX2 on x86, pairs of NEON registers on Arm), loaded unaligned.
 *
 * Determinism: each output element is computed in an order that depends only on its own shapes,
 * never on the number of threads or the other rows in the step: a matmul output (t, n) is one chain
 * of 8-lane FMAs over k, a fixed horizontal sum, the scalar tail, then the bias, whatever tile it
 * was computed in. This is what makes batched and single runs bit-identical.
 *
 * Work split: `tid` of `nth` threads takes a contiguous share of the rows (or of the output
 * columns for matmuls); the generated forward puts a barrier between nodes.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Widening loads (bytes or halves to 32-bit lanes) and f16 conversion take the instruction that does
 * it where the compiler targets one (GCC 12 turns __builtin_convertvector of byte and _Float16
 * vectors into one insert per lane); every other vector operation is a GCC vector extension. Only
 * the weight formats other than f32 call those helpers (bf16, f16 and the quantized ones: c_formats.h),
 * so the generated C defines LLMC_INTRINSICS before this prelude where its kernels read such a weight
 * (codegen/c_backend.c), and only then is <immintrin.h> parsed (0.15-0.3 s of gcc a compile): an f32
 * model compiles the portable twins of those helpers, which it never calls. LLMC_X86_<feature> is the
 * compiler's __<feature>__ where LLMC_INTRINSICS is on; the helpers' intrinsic paths test it. */
#if defined(LLMC_INTRINSICS) && defined(__AVX2__)
#define LLMC_X86_AVX2 1
#endif
#if defined(LLMC_INTRINSICS) && defined(__F16C__)
#define LLMC_X86_F16C 1
#endif
#if defined(LLMC_INTRINSICS) && defined(__AVX512F__)
#define LLMC_X86_AVX512F 1
#endif
#if defined(LLMC_X86_AVX2) || defined(LLMC_X86_F16C)
#include <immintrin.h>
#endif

typedef float llmc_v8f __attribute__((vector_size(32)));
typedef uint16_t llmc_v8h __attribute__((vector_size(16)));
typedef uint32_t llmc_v8u __attribute__((vector_size(32)));
/* 16 lanes: the quantized matmul's blocks (mm_q: 64 bytes of packed values, 16 words); one register
 * with AVX-512, two with AVX2. */
typedef float llmc_v16f __attribute__((vector_size(64)));
typedef uint32_t llmc_v16u __attribute__((vector_size(64)));
typedef int32_t llmc_v16i __attribute__((vector_size(64)));

#define LLMC_INLINE static inline __attribute__((always_inline))

LLMC_INLINE llmc_v8f v8_ld(const float *p) { llmc_v8f v; memcpy(&v, p, sizeof v); return v; }
LLMC_INLINE void v8_st(float *p, llmc_v8f v) { memcpy(p, &v, sizeof v); }
LLMC_INLINE float v8_hsum(llmc_v8f v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }
LLMC_INLINE llmc_v16f v16_ld(const float *p) { llmc_v16f v; memcpy(&v, p, sizeof v); return v; }
LLMC_INLINE void v16_st(float *p, llmc_v16f v) { memcpy(p, &v, sizeof v); }
/* Halves of 16 lanes and 16 lanes of two halves: shuffles with AVX-512 (one register each way), else
 * memcpy (GCC 12 makes one insert or extract a lane of a __builtin_shufflevector between 8 and 16
 * lanes without AVX-512, while the halves of a 16-lane vector are two registers there anyway). */
#if defined(__AVX512F__)
LLMC_INLINE llmc_v8f v16_lo(llmc_v16f v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7); }
LLMC_INLINE llmc_v8f v16_hi(llmc_v16f v) { return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15); }
LLMC_INLINE llmc_v16f v16_cat(llmc_v8f lo, llmc_v8f hi)
{
    return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
#else
LLMC_INLINE llmc_v8f v16_lo(llmc_v16f v) { llmc_v8f h; memcpy(&h, &v, sizeof h); return h; }
LLMC_INLINE llmc_v8f v16_hi(llmc_v16f v) { llmc_v8f h; memcpy(&h, (const char *)&v + sizeof h, sizeof h); return h; }
LLMC_INLINE llmc_v16f v16_cat(llmc_v8f lo, llmc_v8f hi)
{
    llmc_v16f v;
    memcpy(&v, &lo, sizeof lo);
    memcpy((char *)&v + sizeof lo, &hi, sizeof hi);
    return v;
}
#endif
/* The halves added, then v8_hsum's order. */
LLMC_INLINE float v16_hsum(llmc_v16f v) { return v8_hsum(v16_lo(v) + v16_hi(v)); }

/* 8 halves (u16) or 8 bytes from p, zero-extended to 32-bit lanes. */
LLMC_INLINE llmc_v8u v8_u16(const uint16_t *p)
{
#if defined(LLMC_X86_AVX2)
    __m128i h;
    memcpy(&h, p, sizeof h);
    return (llmc_v8u)_mm256_cvtepu16_epi32(h);
#else
    llmc_v8u v;
    for (int i = 0; i < 8; i++)
        v[i] = p[i];
    return v;
#endif
}
LLMC_INLINE llmc_v8u v8_u8(const uint8_t *p)
{
#if defined(LLMC_X86_AVX2)
    long long q;
    memcpy(&q, p, sizeof q);
    return (llmc_v8u)_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(q));
#else
    llmc_v8u v;
    for (int i = 0; i < 8; i++)
        v[i] = p[i];
    return v;
#endif
}

/* dot(a, b) over n floats: 8-lane chain, fixed horizontal sum, scalar tail. */
LLMC_INLINE float dot_f32(const float *a, const float *b, int n)
{
    llmc_v8f acc = {0};
    int k = 0;
    for (; k + 8 <= n; k += 8)
        acc = acc + v8_ld(a + k) * v8_ld(b + k);
    float s = v8_hsum(acc);
    for (; k < n; k++)
        s = s + a[k] * b[k];
    return s;
}

/* The share [*lo, *hi) of n items that thread tid of nth takes. */
LLMC_INLINE void share(int64_t n, int tid, int nth, int64_t *lo, int64_t *hi)
{
    *lo = n * tid / nth;
    *hi = n * (tid + 1) / nth;
}

/* ---- matmul: y[t, n] = sum_k x[t, k] * w[n, k] (+ b[n]) ---- */

/* TT tokens x NR weight rows; one accumulator chain per (token, row). Each step prefetches the next
 * tile's rows (they follow this tile's in memory) as far as it has read into its own. */
#define LLMC_MM(SUF, WT, LDV, LDS)                                                                        \
    LLMC_INLINE void mm_tile_##SUF(int TT, int NR, int K, const float *x, int sx, const WT *w,            \
                                   const float *b, float *y, int sy)                                     \
    {                                                                                                     \
        llmc_v8f acc[4][8];                                                                               \
        for (int tt = 0; tt < TT; tt++)                                                                   \
            for (int r = 0; r < NR; r++)                                                                  \
                acc[tt][r] = (llmc_v8f){0};                                                               \
        int k = 0;                                                                                        \
        for (; k + 8 <= K; k += 8) {                                                                      \
            llmc_v8f wv[8];                                                                               \
            for (int r = 0; r < NR; r++) {                                                                \
                wv[r] = LDV(w + (size_t)r * K + k);                                                       \
                __builtin_prefetch(w + (size_t)NR * K + (size_t)k * NR + (size_t)r * 8);                  \
            }                                                                                             \
            for (int tt = 0; tt < TT; tt++) {                                                             \
                llmc_v8f xv = v8_ld(x + (size_t)tt * sx + k);                                             \
                for (int r = 0; r < NR; r++)                                                              \
                    acc[tt][r] = acc[tt][r] + xv * wv[r];                                                 \
            }                                                                                             \
        }                                                                                                 \
        for (int tt = 0; tt < TT; tt++)                                                                   \
            for (int r = 0; r < NR; r++) {                                                                \
                float s = v8_hsum(acc[tt][r]);                                                            \
                for (int kk = k; kk < K; kk++)                                                            \
                    s = s + x[(size_t)tt * sx + kk] * LDS(w[(size_t)r * K + kk]);                         \
                if (b)                                                                                    \
                    s = s + b[r];                                                                         \
                y[(size_t)tt * sy + r] = s;                                                               \
            }                                                                                             \
    }                                                                                                     \
    /* Threads split the output columns in groups of 4; tokens go in chunks of 32 (x stays in cache)  \
     * and tiles of 4 tokens x 2 rows, the rest 1 token x 8 rows, 4, 1; a tile prefetches the next    \
     * one's rows at the pace it reads its own (mm_tile): one core's bf16 went from 13-15 GB/s      \
     * (4 rows, no prefetch) to 22-30, f32 stayed at 24-27 (bench/NOTES.md). */                        \
    LLMC_INLINE void mm_##SUF(int T, int K, int N, const float *x, int sx, const WT *w, const float *b,   \
                              float *y, int sy, int tid, int nth)                                         \
    {                                                                                                     \
        int64_t c0, c1;                                                                                   \
        share((N + 3) / 4, tid, nth, &c0, &c1);                                                           \
        const int n0 = (int)c0 * 4, n1 = c1 * 4 < N ? (int)c1 * 4 : N;                                   \
        for (int t0 = 0; t0 < T; t0 += 32) {                                                              \
            int t1 = t0 + 32 < T ? t0 + 32 : T;                                                           \
            for (int n = n0; n < n1;) {                                                                   \
                int nr = n1 - n >= 8 ? 8 : n1 - n >= 4 ? 4 : 1, t = t0;                                    \
                const WT *wn = w + (size_t)n * K;                                                         \
                const float *bn = b ? b + n : 0;                                                          \
                for (; nr >= 4 && t + 4 <= t1; t += 4)                                                    \
                    for (int r = 0; r < nr; r += 2)                                                       \
                        mm_tile_##SUF(4, 2, K, x + (size_t)t * sx, sx, wn + (size_t)r * K, bn ? bn + r : 0, \
                                      y + (size_t)t * sy + n + r, sy);                                    \
                for (; t < t1; t++)                                                                       \
                    if (nr == 8)                                                                          \
                        mm_tile_##SUF(1, 8, K, x + (size_t)t * sx, sx, wn, bn, y + (size_t)t * sy + n, sy); \
                    else if (nr == 4)                                                                     \
                        mm_tile_##SUF(1, 4, K, x + (size_t)t * sx, sx, wn, bn, y + (size_t)t * sy + n, sy); \
                    else                                                                                  \
                        mm_tile_##SUF(1, 1, K, x + (size_t)t * sx, sx, wn, bn, y + (size_t)t * sy + n, sy); \
                n += nr;                                                                                  \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    /* ---- embedding: y[t] = table[tokens[t]] ---- */                                                   \
    LLMC_INLINE void embed_##SUF(int T, int D, const WT *table, const int32_t *tok, float *y, int sy,     \
                                 int tid, int nth)                                                        \
    {                                                                                                     \
        int64_t t0, t1;                                                                                   \
        share(T, tid, nth, &t0, &t1);                                                                     \
        for (int64_t t = t0; t < t1; t++) {                                                               \
            const WT *row = table + (size_t)tok[t] * D;                                                   \
            for (int d = 0; d < D; d++)                                                                   \
                y[(size_t)t * sy + d] = LDS(row[d]);                                                      \
        }                                                                                                 \
    }                                                                                                     \
    /* ---- one rank's rows [first, first + R) of the table (--tp): zeros for other tokens ---- */      \
    LLMC_INLINE void embed_part_##SUF(int T, int D, int64_t first, int64_t R, const WT *table,           \
                                      const int32_t *tok, float *y, int sy, int tid, int nth)             \
    {                                                                                                     \
        int64_t t0, t1;                                                                                   \
        share(T, tid, nth, &t0, &t1);                                                                     \
        for (int64_t t = t0; t < t1; t++) {                                                               \
            int64_t k = (int64_t)tok[t] - first;                                                          \
            const WT *row = table + (size_t)(k >= 0 && k < R ? k : 0) * D;                                \
            for (int d = 0; d < D; d++)                                                                   \
                y[(size_t)t * sy + d] = k >= 0 && k < R ? LDS(row[d]) : 0.0f;                             \
        }                                                                                                 \
    }

/* The storage formats' part: the plain formats' instances of LLMC_MM, the quantized formats'
 * decoding (q_row), the KV cache's rows. */
#include "c_formats.h"

/* ---- quantized weights: y[t, n] = sum_k x[t, k] w[n, k] (+ b[n]) for a weight of format F in
 * order ORD (c_formats.h) ----
 * The dequantize-dot (formats of qb_fused, groups that fit the blocks: mmq_fits): a row is read as
 * blocks of 64 bytes (E values, qb_val: NS vectors of 16 floats) and x, once a token, in the same
 * order (qx_prep: lane j of xp's vector s of block b is x[E b + qb_elem(F, s, j)] / qb_vscale(F)),
 * so that each value meets its x in its lane: no shuffle of weights. The blocks form units of one
 * scale a lane (a block when groups are smaller than a block, else a group's blocks, or the whole row
 * when it has one group):
 *     a = sum over the unit's blocks b and values s of xp[b][s] * qb_val(w[b], s)   (16 lanes)
 *     u4 with zero points: a = a - (z - 8) * xs[unit]   (xs: the unit's sums of x a lane, so the
 *                          zero costs one FMA a unit; the values are q - 8)
 *     tot = tot + a * sc
 *     y = v16_hsum(tot) * qb_tscale + b
 * one fixed order for each (t, n) whatever the tile, the thread count or the step's other rows, so
 * batched and single runs stay bit-identical. A lane8 matrix (the CPU twin of a CUDA build) is
 * gathered into row-major blocks first (qb_load) and computes the same values bit for bit. Other
 * formats and groups: mm_q_rows, which dequantizes a chunk of each row (q_row) and dots it.
 * Memory: one token reads 8 rows at a time, a block of 4 rows in registers at once (qb_pin), and
 * prefetches the next tile's rows at the pace it reads its own (the whole next tile by the end of
 * this one): with that one core streamed u4 at 20-22 GB/s, without it at 10-13 (bench/NOTES.md). */
/* Q_ROWS: rows a one-token tile takes (AVX-512's 32 registers hold 8 rows' sums; AVX2's 16 hold 2
 * rows' of 16 lanes). Q_CHUNK: values of a row mm_q_rows dequantizes at a time. (Q_XMAX and the
 * choice of path, mmq_fits: c_mmq.h.) */
#if defined(__AVX512F__)
enum { Q_ROWS = 8 };
#else
enum { Q_ROWS = 2 };
#endif
enum { Q_CHUNK = 256 };

/* One token's x for the blocks (see above): xp [KP] values, each divided by qb_vscale (exact: a power
 * of 2), and for u4 xs [units][16], the sums of the x themselves. */
LLMC_INLINE void qx_prep(int F, int K, int G, int ZERO, const float *x, float *xp, float *xs)
{
    const int NS = qb_subs(F), E = qb_elems(F), NB = (K + E - 1) / E;
    const int UB = mmq_unit(F, K, G) ? mmq_unit(F, K, G) : NB;
    llmc_v16f acc = {0};
    for (int b = 0; b < NB; b++) {
        for (int s = 0; s < NS; s++) {
            float v[16];
            for (int j = 0; j < 16; j++) {
                int k = E * b + qb_elem(F, s, j);
                v[j] = k < K ? x[k] : 0.0f;
            }
            llmc_v16f xv = v16_ld(v);
            acc = acc + xv;
            v16_st(xp + (b * NS + s) * 16, xv * (1.0f / qb_vscale(F)));
        }
        if (ZERO && (b % UB == UB - 1 || b == NB - 1)) {
            v16_st(xs + b / UB * 16, acc);
            acc = (llmc_v16f){0};
        }
    }
}

/* A block kept in a register: GCC would read it again from memory for each of its values (an
 * operand of each shift), and those loads, waiting on the same cache miss, fill the load queue:
 * half the bandwidth from memory. */
LLMC_INLINE llmc_v16u qb_pin(llmc_v16u v)
{
#if defined(__AVX512F__) && defined(__GNUC__)
    __asm__("" : "+v"(v));
#endif
    return v;
}

/* Block b of row r as 16 words: its 64 stored bytes, or (lane8, or past K) the values gathered in
 * row-major order, zero past K. */
LLMC_INLINE llmc_v16u qb_load(int F, int ORD, int K, const uint8_t *w, int64_t r, int b)
{
    const int bits = fmt_bits(F), E = 512 / bits;
    const size_t rb = (size_t)K * bits / 8;
    const uint8_t *row = w + (size_t)r * rb;
    llmc_v16u v;
    if (ORD == ORDER_ROW_MAJOR && (b + 1) * E <= K) {
        memcpy(&v, row + (size_t)b * 64, sizeof v);
        return v;
    }
    uint8_t t[64] = {0};
    if (ORD == ORDER_ROW_MAJOR)
        memcpy(t, row + (size_t)b * 64, rb - (size_t)b * 64);
    else
        for (int e = 0; e < E && b * E + e < K; e++) {
            int64_t p = q_pos(F, ORD, (int64_t)b * E + e);
            if (bits == 8)
                t[e] = row[p];
            else
                t[e / 2] = (uint8_t)(t[e / 2] | ((row[p / 2] >> (4 * (p & 1))) & 15) << (4 * (e & 1)));
        }
    memcpy(&v, t, sizeof v);
    return v;
}

/* TT tokens (xp, xs: a token's prepared x every xps / xss floats) x NR rows from n: sums into
 * out[tt][r] (the order above, before qb_tscale and the bias). */
LLMC_INLINE void mmq_tile(int F, int ORD, int TT, int NR, int K, int G, const float *xp, int xps, const float *xs,
                          int xss, const uint8_t *w, const void *s0, const void *s1, int64_t n, float out[4][8])
{
    const int NS = qb_subs(F), E = qb_elems(F), NB = (K + E - 1) / E;
    const int UB = mmq_unit(F, K, G) ? mmq_unit(F, K, G) : NB, gpb = mmq_gpb(F, K, G);
    const size_t rb = (size_t)K * fmt_bits(F) / 8;
    llmc_v16f tot[4][8], a[4][8];
    for (int t = 0; t < TT; t++)
        for (int r = 0; r < NR; r++)
            tot[t][r] = (llmc_v16f){0};
    for (int b0 = 0; b0 < NB; b0 += UB) {
        for (int t = 0; t < TT; t++)
            for (int r = 0; r < NR; r++)
                a[t][r] = (llmc_v16f){0};
        for (int b = b0; b < b0 + UB && b < NB; b++)
            for (int r0 = 0; r0 < NR; r0 += 4) { /* 4 rows' blocks in registers at a time */
                const int nr = NR - r0 < 4 ? NR - r0 : 4;
                llmc_v16u wv[4];
                for (int r = 0; r < nr; r++) {
                    wv[r] = qb_pin(qb_load(F, ORD, K, w, n + r0 + r, b));
                    __builtin_prefetch(w + (size_t)(n + NR) * rb + ((size_t)b * NR + r0 + r) * 64);
                }
                for (int s = 0; s < NS; s++) {
                    llmc_v16f q[4];
                    for (int r = 0; r < nr; r++)
                        q[r] = qb_val(F, wv[r], s);
                    for (int t = 0; t < TT; t++) {
                        llmc_v16f xv = v16_ld(xp + (size_t)t * xps + (b * NS + s) * 16);
                        for (int r = 0; r < nr; r++)
                            a[t][r0 + r] = a[t][r0 + r] + xv * q[r];
                    }
                }
            }
        for (int r = 0; r < NR; r++) {
            llmc_v16f sc, z;
            qb_sides(F, K, G, s0, s1, n + r, b0 * E, gpb, &sc, &z);
            for (int t = 0; t < TT; t++) {
                llmc_v16f v = a[t][r];
                if (F == FMT_U4 && s1)
                    v = v - z * v16_ld(xs + (size_t)t * xss + b0 / UB * 16);
                tot[t][r] = tot[t][r] + v * sc;
            }
        }
    }
    for (int t = 0; t < TT; t++)
        for (int r = 0; r < NR; r++)
            out[t][r] = v16_hsum(tot[t][r]);
}

/* Threads split the columns in fours; tokens go in batches whose prepared x fits Q_XMAX floats (up
 * to 8: a batch for K up to 8192), through tiles of 4 tokens x 2 rows, the rest 1 token x Q_ROWS
 * rows (8 FMA chains with AVX-512: their latency hides), a column end one row at a time (three
 * shapes of tile: each is a copy of the loops at every call site, compile time). */
LLMC_INLINE void mm_q_fused(int F, int ORD, int T, int K, int N, int G, const float *x, int sx, const uint8_t *w,
                            const void *s0, const void *s1, const float *b, float *y, int sy, int tid, int nth)
{
    const int E = qb_elems(F), NB = (K + E - 1) / E, KP = NB * E, XS = KP / 4;
    const int TB = Q_XMAX / KP < 8 ? Q_XMAX / KP : 8;
    const float ts = qb_tscale(F, s1);
    float xp[Q_XMAX], xs[Q_XMAX / 4];
    int64_t c0, c1;
    share((N + 3) / 4, tid, nth, &c0, &c1);
    const int n0 = (int)c0 * 4, n1 = c1 * 4 < N ? (int)c1 * 4 : N;
    for (int t0 = 0; t0 < T; t0 += TB) {
        int tb = T - t0 < TB ? T - t0 : TB;
        for (int t = 0; t < tb; t++)
            qx_prep(F, K, G, F == FMT_U4 && s1, x + (size_t)(t0 + t) * sx, xp + (size_t)t * KP, xs + (size_t)t * XS);
        for (int n = n0; n < n1;) {
            int nr = n1 - n >= Q_ROWS ? Q_ROWS : n1 - n >= 2 ? 2 : 1;
            float out[4][8];
            for (int t = 0; t < tb;) {
                int tt = tb - t >= 4 && nr >= 2 ? 4 : 1, ntile = tt == 4 ? 2 : nr == Q_ROWS ? Q_ROWS : 1;
                for (int r = 0; r < nr; r += ntile) {
                    float o[4][8];
                    const float *xpt = xp + (size_t)t * KP, *xst = xs + (size_t)t * XS;
                    if (tt == 4)
                        mmq_tile(F, ORD, 4, 2, K, G, xpt, KP, xst, XS, w, s0, s1, n + r, o);
                    else if (ntile == Q_ROWS)
                        mmq_tile(F, ORD, 1, Q_ROWS, K, G, xpt, KP, xst, XS, w, s0, s1, n + r, o);
                    else
                        mmq_tile(F, ORD, 1, 1, K, G, xpt, KP, xst, XS, w, s0, s1, n + r, o);
                    for (int i = 0; i < tt; i++)
                        for (int j = 0; j < ntile; j++)
                            out[i][r + j] = o[i][j];
                }
                for (int i = 0; i < tt; i++)
                    for (int r = 0; r < nr; r++)
                        y[(size_t)(t0 + t + i) * sy + n + r] = out[i][r] * ts + (b ? b[n + r] : 0.0f);
                t += tt;
            }
            n += nr;
        }
    }
}

/* The other formats and groups: each chunk of up to Q_CHUNK values of a row (inside a group;
 * nvfp4's groups of 16 are taken together, q_span) is dequantized once into registers/L1 and used
 * by every token of a block of 32. */
LLMC_INLINE void mm_q_rows(int F, int ORD, int T, int K, int N, int G, const float *x, int sx, const uint8_t *w,
                           const void *s0, const void *s1, const float *b, float *y, int sy, int tid, int nth)
{
    int64_t b0, b1;
    share((N + 3) / 4, tid, nth, &b0, &b1);
    float wb[4][Q_CHUNK];
    for (int t0 = 0; t0 < T; t0 += 32) {
        int t1 = t0 + 32 < T ? t0 + 32 : T;
        for (int64_t nb = b0; nb < b1; nb++) {
            int n = (int)nb * 4, nr = N - n < 4 ? N - n : 4;
            float acc[32][4];
            for (int t = 0; t < t1 - t0; t++)
                for (int r = 0; r < 4; r++)
                    acc[t][r] = 0;
            for (int k0 = 0; k0 < K;) {
                int end = k0 + Q_CHUNK < K ? k0 + Q_CHUNK : K, gend = k0 / G * G + q_span(F, G);
                end = end < gend ? end : gend;
                int kc = end - k0;
                for (int r = 0; r < nr; r++)
                    q_row(F, ORD, K, G, w, s0, s1, n + r, k0, kc, wb[r]);
                for (int t = t0; t < t1; t++)
                    for (int r = 0; r < nr; r++)
                        acc[t - t0][r] += dot_f32(x + (size_t)t * sx + k0, wb[r], kc);
                k0 = end;
            }
            for (int t = t0; t < t1; t++)
                for (int r = 0; r < nr; r++)
                    y[(size_t)t * sy + n + r] = acc[t - t0][r] + (b ? b[n + r] : 0.0f);
        }
    }
}

/* Either path, as mmq_fits says (the C emitters name the path themselves: c_mmq.h). */
LLMC_INLINE void mm_q(int F, int ORD, int T, int K, int N, int G, const float *x, int sx, const uint8_t *w, const void *s0,
                      const void *s1, const float *b, float *y, int sy, int tid, int nth)
{
    if (mmq_fits(F, K, G))
        mm_q_fused(F, ORD, T, K, N, G, x, sx, w, s0, s1, b, y, sy, tid, nth);
    else
        mm_q_rows(F, ORD, T, K, N, G, x, sx, w, s0, s1, b, y, sy, tid, nth);
}

LLMC_INLINE void embed_q(int F, int ORD, int T, int D, int G, const uint8_t *table, const void *s0, const void *s1,
                         const int32_t *tok, float *y, int sy, int tid, int nth)
{
    int64_t t0, t1;
    share(T, tid, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++)
        for (int k0 = 0; k0 < D;) {
            int end = k0 + Q_CHUNK < D ? k0 + Q_CHUNK : D, gend = k0 / G * G + q_span(F, G);
            end = end < gend ? end : gend;
            q_row(F, ORD, D, G, table, s0, s1, tok[t], k0, end - k0, y + (size_t)t * sy + k0);
            k0 = end;
        }
}
/* One rank's rows [first, first + R) of a quantized table (--tp): zeros for other tokens. */
LLMC_INLINE void embed_q_part(int F, int ORD, int T, int D, int G, int64_t first, int64_t R, const uint8_t *table,
                              const void *s0, const void *s1, const int32_t *tok, float *y, int sy, int tid, int nth)
{
    int64_t t0, t1;
    share(T, tid, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        int64_t k = (int64_t)tok[t] - first;
        if (k < 0 || k >= R) {
            for (int d = 0; d < D; d++)
                y[(size_t)t * sy + d] = 0.0f;
            continue;
        }
        for (int k0 = 0; k0 < D;) {
            int end = k0 + Q_CHUNK < D ? k0 + Q_CHUNK : D, gend = k0 / G * G + q_span(F, G);
            end = end < gend ? end : gend;
            q_row(F, ORD, D, G, table, s0, s1, k, k0, end - k0, y + (size_t)t * sy + k0);
            k0 = end;
        }
    }
}

/* ---- RMSNorm, optionally after a residual add ----
 * s = a + b (stored when ADD), y = w * (x * 1/sqrt(mean(x^2) + eps)) with x = s or a. */
LLMC_INLINE void rmsnorm_rows(int ADD, int R, int D, const float *a, int sa, const float *b, int sb, float *s,
                              int ss, const float *w, float *y, int sy, float eps, int tid, int nth)
{
    int64_t r0, r1;
    share(R, tid, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *x = a + (size_t)r * sa;
        if (ADD) {
            float *sr = s + (size_t)r * ss;
            const float *br = b + (size_t)r * sb;
            for (int d = 0; d < D; d++)
                sr[d] = x[d] + br[d];
            x = sr;
        }
        float sum = dot_f32(x, x, D);
        float inv = 1.0f / sqrtf(sum / (float)D + eps);
        float *yr = y + (size_t)r * sy;
        for (int d = 0; d < D; d++)
            yr[d] = w[d] * (inv * x[d]);
    }
}

/* ---- RMSNorm of each head: x is [R, H*HD], w [HD] ---- */
LLMC_INLINE void head_rmsnorm_rows(int R, int H, int HD, const float *x, int sx, const float *w, float *y, int sy,
                                   float eps, int tid, int nth)
{
    int64_t e0, e1;
    share((int64_t)R * H, tid, nth, &e0, &e1);
    for (int64_t e = e0; e < e1; e++) {
        const float *xh = x + (size_t)(e / H) * sx + (e % H) * HD;
        float *yh = y + (size_t)(e / H) * sy + (e % H) * HD;
        float inv = 1.0f / sqrtf(dot_f32(xh, xh, HD) / (float)HD + eps);
        for (int d = 0; d < HD; d++)
            yh[d] = w[d] * (inv * xh[d]);
    }
}

/* ---- elementwise over R rows of D columns: OP 0 add, 1 mul, 2 silu, 3 swiglu(a, b), 4 geglu(a, b) ---- */
LLMC_INLINE float silu1(float x) { return x * (1.0f / (1.0f + expf(-x))); }
/* GeLU, tanh approximation (transformers' gelu_pytorch_tanh), in float32 as torch computes it. */
LLMC_INLINE float gelu_tanh1(float x)
{
    const float kb = 0.7978845608028654f, kk = 0.044715f;
    return 0.5f * x * (1.0f + tanhf(kb * (x + kk * x * x * x)));
}

LLMC_INLINE void eltwise(int OP, int R, int D, const float *a, int sa, const float *b, int sb, float *y, int sy,
                         int tid, int nth)
{
    int64_t e0, e1;
    share((int64_t)R * D, tid, nth, &e0, &e1);
    for (int64_t e = e0; e < e1;) {
        int64_t r = e / D;
        int c = (int)(e % D);
        int c1 = e1 - e < D - c ? c + (int)(e1 - e) : D;
        const float *ar = a + (size_t)r * sa;
        const float *br = b ? b + (size_t)r * sb : 0;
        float *yr = y + (size_t)r * sy;
        for (int j = c; j < c1; j++) {
            if (OP == 0)
                yr[j] = ar[j] + br[j];
            else if (OP == 1)
                yr[j] = ar[j] * br[j];
            else if (OP == 2)
                yr[j] = silu1(ar[j]);
            else if (OP == 3)
                yr[j] = silu1(ar[j]) * br[j];
            else
                yr[j] = gelu_tanh1(ar[j]) * br[j];
        }
        e += c1 - c;
    }
}

/* ---- one-input maps over R rows of D columns with a parameter P: OP 0 gelu_tanh, 1 scale (x * P),
 * 2 softcap (P tanh(x / P)) ---- */
LLMC_INLINE void unary_rows(int OP, int R, int D, const float *a, int sa, float *y, int sy, float P, int tid, int nth)
{
    int64_t r0, r1;
    share(R, tid, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *ar = a + (size_t)r * sa;
        float *yr = y + (size_t)r * sy;
        for (int j = 0; j < D; j++)
            yr[j] = OP == 0 ? gelu_tanh1(ar[j]) : OP == 1 ? ar[j] * P : P * tanhf(ar[j] / P);
    }
}

/* ---- mixture of experts (the moe node, codegen/c_moe.c) ----
 * A chunk of R tokens at a time: moe_route gives each token its K experts and weights (softmax of the
 * router logits, top K by probability, ties to the lower expert, renormalized with NORM); moe_group
 * (one thread) orders the (token, slot) pairs by expert, keeping token order within an expert; the
 * kernel gathers the pairs' rows, runs each expert's gate/up matmul over its rows, the activation,
 * its down matmul, and moe_combine sums each token's slots in slot order. Every element is computed
 * in one fixed order whatever the thread count or the step's other tokens: the matmuls' own rule. */
typedef struct MoeScratch {
    int32_t *ids, *pos, *ord, *cnt, *off;  /* [R*K], [R*K], [R*K], [E], [E+1] */
    float *w, *xg, *g, *h, *o;             /* [R*K], [R*K][D], [R*K][2F], [R*K][F], [R*K][D] */
} MoeScratch;

LLMC_INLINE MoeScratch moe_scratch(uint8_t *s, int RC, int K, int E, int D, int F)
{
    MoeScratch m;
    size_t n = (size_t)RC * K;
    m.ids = (int32_t *)s;
    m.pos = m.ids + n;
    m.ord = m.pos + n;
    m.cnt = m.ord + n;
    m.off = m.cnt + E;
    m.w = (float *)(m.off + E + 1);
    m.xg = m.w + n;
    m.g = m.xg + n * D;
    m.h = m.g + n * 2 * F;
    m.o = m.h + n * F;
    return m;
}

LLMC_INLINE void moe_route(int E, int K, int NORM, int R, const float *lg, int sl, MoeScratch *m, int tid, int nth)
{
    int64_t r0, r1;
    share(R, tid, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *l = lg + (size_t)r * sl;
        float mx = -INFINITY, sum = 0.0f;
        for (int e = 0; e < E; e++)
            mx = l[e] > mx ? l[e] : mx;
        for (int e = 0; e < E; e++)
            sum += expf(l[e] - mx);
        float tot = 0.0f;
        for (int k = 0; k < K; k++) {
            int best = -1;
            float bp = 0.0f;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int j = 0; j < k; j++)
                    taken |= m->ids[r * K + j] == e;
                float p = expf(l[e] - mx) / sum;
                if (!taken && (best < 0 || p > bp)) {
                    best = e;
                    bp = p;
                }
            }
            m->ids[r * K + k] = best;
            m->w[r * K + k] = bp;
            tot += bp;
        }
        for (int k = 0; NORM && k < K; k++)
            m->w[r * K + k] /= tot;
    }
}

LLMC_INLINE void moe_group(int E, int K, int R, MoeScratch *m)
{
    for (int e = 0; e <= E; e++)
        m->off[e] = 0;
    for (int j = 0; j < R * K; j++)
        m->off[m->ids[j] + 1]++;
    for (int e = 0; e < E; e++) {
        m->cnt[e] = m->off[e + 1];
        m->off[e + 1] += m->off[e];
    }
    for (int e = 0, at = 0; e < E; e++)
        for (int j = 0; j < R * K; j++)
            if (m->ids[j] == e) {
                m->pos[j] = at;
                m->ord[at++] = j;
            }
}

LLMC_INLINE void moe_gather(int K, int R, int D, const float *x, int sx, MoeScratch *m, int tid, int nth)
{
    int64_t j0, j1;
    share((int64_t)R * K, tid, nth, &j0, &j1);
    for (int64_t j = j0; j < j1; j++)
        memcpy(m->xg + (size_t)j * D, x + (size_t)(m->ord[j] / K) * sx, sizeof(float) * D);
}

/* h = act(gate) * up over the pairs' rows of g ([gate F | up F]); GELU 1: gelu_tanh, else silu. */
LLMC_INLINE void moe_act(int GELU, int K, int R, int F, MoeScratch *m, int tid, int nth)
{
    int64_t e0, e1;
    share((int64_t)R * K * F, tid, nth, &e0, &e1);
    for (int64_t e = e0; e < e1; e++) {
        const float *gr = m->g + (size_t)(e / F) * 2 * F;
        int f = (int)(e % F);
        m->h[e] = (GELU ? gelu_tanh1(gr[f]) : silu1(gr[f])) * gr[F + f];
    }
}

LLMC_INLINE void moe_combine(int K, int R, int D, MoeScratch *m, float *y, int sy, int tid, int nth)
{
    int64_t r0, r1;
    share(R, tid, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++)
        for (int c = 0; c < D; c++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc += m->w[r * K + k] * m->o[(size_t)m->pos[r * K + k] * D + c];
            y[(size_t)r * sy + c] = acc;
        }
}

/* ---- rotary embeddings ----
 * Table cs[p][i] = (cos, sin) of p * inv_freq[i] for i < HD/2, computed once at start as the
 * reference implementations do (float32 powf, optional llama3 frequency scaling). */
LLMC_INLINE void rope_table(float *cs, int max_seq, int HD, float theta, int llama3, float factor, float lo_factor,
                            float hi_factor, float orig_ctx)
{
    for (int i = 0; i < HD / 2; i++) {
        float inv = 1.0f / powf(theta, (float)(2 * i) / (float)HD);
        if (llama3) {
            float lo_wavelen = orig_ctx / lo_factor, hi_wavelen = orig_ctx / hi_factor;
            float wavelen = 2.0f * (float)M_PI / inv;
            if (wavelen > lo_wavelen) {
                inv = inv / factor;
            } else if (!(wavelen < hi_wavelen)) {
                float smooth = (orig_ctx / wavelen - lo_factor) / (hi_factor - lo_factor);
                inv = (1.0f - smooth) * inv / factor + smooth * inv;
            }
        }
        for (int p = 0; p < max_seq; p++) {
            float a = (float)p * inv;
            cs[((size_t)p * (HD / 2) + i) * 2] = cosf(a);
            cs[((size_t)p * (HD / 2) + i) * 2 + 1] = sinf(a);
        }
    }
}

/* The other scalings (ir/rope.c says what each does), as transformers computes them in float32:
 * KIND 2 linear, 3 dynamic NTK, 4 YaRN, 5 LongRoPE (sf, lf: its short and long factors). Dynamic
 * and LongRoPE frequencies depend on the position (its own length, pos + 1, against orig); YaRN's
 * and LongRoPE's cos and sin are scaled by mscale. */
LLMC_INLINE void rope_table_scaled(float *cs, int max_seq, int HD, float theta, int KIND, float factor, float orig,
                                   float beta_fast, float beta_slow, int truncate, float mscale, const float *sf,
                                   const float *lf)
{
    float inv[2048];
    double lo = 0, hi = 0;
    if (KIND == 4) { /* YaRN's correction range, in dims (double, as transformers' math module) */
        lo = HD * log(orig / (beta_fast * 2 * M_PI)) / (2 * log(theta));
        hi = HD * log(orig / (beta_slow * 2 * M_PI)) / (2 * log(theta));
        if (truncate) {
            lo = floor(lo);
            hi = ceil(hi);
        }
        lo = lo > 0 ? lo : 0;
        hi = hi < HD - 1 ? hi : HD - 1;
        if (lo == hi)
            hi += 0.001;
    }
    for (int p = 0; p < max_seq; p++) {
        int len = p + 1, past = (float)len > orig;
        if (p == 0 || (KIND == 3 && past) || (KIND == 5 && len == (int)orig + 1)) {
            float base = theta;
            if (KIND == 3 && past)
                base = (float)(theta * pow((double)factor * len / orig - (factor - 1), (double)HD / (HD - 2)));
            for (int i = 0; i < HD / 2; i++) {
                float pf = powf(base, (float)(2 * i) / (float)HD), f = 1.0f / pf;
                if (KIND == 2)
                    f = f / factor;
                else if (KIND == 4) {
                    float ramp = (float)(((double)i - lo) / (hi - lo));
                    ramp = ramp < 0.0f ? 0.0f : ramp > 1.0f ? 1.0f : ramp;
                    float ef = 1.0f - ramp;
                    f = 1.0f / (factor * pf) * (1.0f - ef) + f * ef;
                } else if (KIND == 5)
                    f = 1.0f / ((past ? lf : sf)[i] * pf);
                inv[i] = f;
            }
        }
        for (int i = 0; i < HD / 2; i++) {
            float a = (float)p * inv[i];
            cs[((size_t)p * (HD / 2) + i) * 2] = cosf(a) * mscale;
            cs[((size_t)p * (HD / 2) + i) * 2 + 1] = sinf(a) * mscale;
        }
    }
}

/* x is [R, H*HD]; pairs (2i, 2i+1) when INTERLEAVED, else (i, i + HD/2). */
LLMC_INLINE void rope_rows(int INTERLEAVED, int R, int H, int HD, const float *x, int sx, const int32_t *pos,
                           const float *cs, float *y, int sy, int tid, int nth)
{
    int64_t r0, r1;
    share(R, tid, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *c = cs + (size_t)pos[r] * HD;
        for (int h = 0; h < H; h++) {
            const float *xh = x + (size_t)r * sx + h * HD;
            float *yh = y + (size_t)r * sy + h * HD;
            for (int i = 0; i < HD / 2; i++) {
                int i0 = INTERLEAVED ? 2 * i : i, i1 = INTERLEAVED ? 2 * i + 1 : i + HD / 2;
                float v0 = xh[i0], v1 = xh[i1], fc = c[2 * i], fs = c[2 * i + 1];
                yh[i0] = v0 * fc - v1 * fs;
                yh[i1] = v0 * fs + v1 * fc;
            }
        }
    }
}

/* ---- paged KV cache, keys in format KF and values in VF (kv_formats.h, kv_layout.h: shared with
 * the reference interpreter) ----
 * Block b holds, for each layer l, a K section then a V section, each the BS x HKV token-head rows of
 * its positions (kv_layout.h); a cache with KIVI sides also keeps each sequence's newest positions
 * in f16 in its ring (the last entries of its block table row, bt_stride entries). hs: the model's
 * LAYER_HEAD scales ([L][2][HKV], fp8), or 0 when neither format has them. */
LLMC_INLINE void kv_write(int KF, int VF, int T, int L, int BS, int HKV, int HD, int layer, const float *k, int sk,
                          const float *v, int sv, const int32_t *slots, const int32_t *pos, const int32_t *seq,
                          const int32_t *bt, int bt_stride, uint8_t *kv, const float *hs, int tid, int nth)
{
    int64_t t0, t1;
    share(T, tid, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++)
        kv_store_pos(KF, VF, L, BS, HKV, HD, kv, bt + (size_t)seq[t] * bt_stride, bt_stride, layer, pos[t], slots[t] / BS,
                     slots[t] % BS, k + (size_t)t * sk, v + (size_t)t * sv, hs);
}

/* Causal attention of each (token, query head) over positions p0..pos[t] of its sequence, read
 * through the block table: scores, max-subtracted softmax, normalized weights times V. sc holds
 * up to cap scores (the caller's stack, a bounded size). A span longer than cap is done without
 * storing its scores: one pass for the max, one for the sum, one for the weighted values, each
 * score recomputed by the same expression. A row of a KV format other than f32 is decoded into
 * kb or vb (HD floats each, the caller's). softcap > 0: each score capped (attn_cap). With KIVI
 * sides, the groups the step's tokens complete are sealed first (kv_seal_group: the step's own
 * queries read them in f16, kv_layout.h). */
/* A score capped to (-softcap, softcap) when softcap > 0 (Gemma 2). */
LLMC_INLINE float attn_cap(float s, float softcap) { return softcap > 0.0f ? softcap * tanhf(s / softcap) : s; }

#define KV_KROW(p) kv_read(KF, VF, L, BS, HKV, HD, kv, table, bt_stride, layer, 0, (p), pe, kh, kb, hs)
LLMC_INLINE void paged_attention_sc(int KF, int VF, int T, int L, int BS, int HQ, int HKV, int HD, int layer,
                                    float *sc, int cap, float *kb, float *vb, float scale, int window, const float *q,
                                    int sq, const int32_t *pos, const int32_t *seq, const int32_t *bt, int bt_stride,
                                    uint8_t *kv, const float *hs, float *y, int sy, float softcap, int tid, int nth)
{
    int64_t w0, w1;
    if (kv_has_ring(KF, VF)) {
        share(T, tid, nth, &w0, &w1);
        for (int64_t t = w0; t < w1; t++)
            if ((pos[t] + 1) % KV_KIVI_G == 0)
                kv_seal_group(KF, VF, L, BS, HKV, HD, kv, bt + (size_t)seq[t] * bt_stride, bt_stride, layer, pos[t]);
    }
    share((int64_t)T * HQ, tid, nth, &w0, &w1);
    for (int64_t w = w0; w < w1; w++) {
        int t = (int)(w / HQ), h = (int)(w % HQ), kh = h / (HQ / HKV);
        int pe = pos[t], p0 = window > 0 && pe - window + 1 > 0 ? pe - window + 1 : 0;
        int keep = pe - p0 + 1 <= cap;
        const int32_t *table = bt + (size_t)seq[t] * bt_stride;
        const float *qh = q + (size_t)t * sq + h * HD;
        float mx = -INFINITY;
        for (int p = p0; p <= pe; p++) {
            float s = attn_cap(dot_f32(qh, KV_KROW(p), HD) * scale, softcap);
            if (keep)
                sc[p - p0] = s;
            mx = s > mx ? s : mx;
        }
        float sum = 0.0f;
        for (int p = p0; p <= pe; p++) {
            float s = keep ? sc[p - p0] : attn_cap(dot_f32(qh, KV_KROW(p), HD) * scale, softcap);
            float e = expf(s - mx);
            if (keep)
                sc[p - p0] = e;
            sum += e;
        }
        float *yh = y + (size_t)t * sy + h * HD;
        for (int d = 0; d < HD; d++)
            yh[d] = 0.0f;
        for (int p = p0; p <= pe; p++) {
            const float *v = kv_read(KF, VF, L, BS, HKV, HD, kv, table, bt_stride, layer, 1, p, pe, kh, vb, hs);
            float e = keep ? sc[p - p0] : expf(attn_cap(dot_f32(qh, KV_KROW(p), HD) * scale, softcap) - mx);
            float a = e / sum;
            for (int d = 0; d < HD; d++)
                yh[d] = yh[d] + a * v[d];
        }
    }
}
#undef KV_KROW

LLMC_INLINE void paged_attention(int KF, int VF, int T, int L, int BS, int HQ, int HKV, int HD, int layer, float *sc,
                                 int cap, float *kb, float *vb, float scale, int window, const float *q, int sq,
                                 const int32_t *pos, const int32_t *seq, const int32_t *bt, int bt_stride, uint8_t *kv,
                                 const float *hs, float *y, int sy, int tid, int nth)
{
    paged_attention_sc(KF, VF, T, L, BS, HQ, HKV, HD, layer, sc, cap, kb, vb, scale, window, q, sq, pos, seq, bt,
                       bt_stride, kv, hs, y, sy, 0.0f, tid, nth);
}

/* y[t][j] = x[t][idx[j]]: an act-order matmul's input in its weight's column order. */
LLMC_INLINE void gather_cols(int T, int K, const float *x, int sx, const int32_t *idx, float *y, int sy, int tid,
                             int nth)
{
    int64_t t0, t1;
    share(T, tid, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++)
        for (int j = 0; j < K; j++)
            y[(size_t)t * sy + j] = x[(size_t)t * sx + idx[j]];
}

LLMC_INLINE void select_rows(int O, int D, const float *x, int sx, const int32_t *rows, float *y, int sy, int tid,
                             int nth)
{
    int64_t o0, o1;
    share(O, tid, nth, &o0, &o1);
    for (int64_t o = o0; o < o1; o++)
        memcpy(y + (size_t)o * sy, x + (size_t)rows[o] * sx, sizeof(float) * D);
}
