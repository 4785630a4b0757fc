/* test_quant.c — the quantized weight formats (fp8 E4M3, u4 with groups, nvfp4) and the KV cache's
 * (fp8, int8, int4, kivi2, kivi4: their quantizers against the definitions, the cpu target's paged
 * attention over them against a reference in double): the reference
 * conversions of ir/base.c against an independent reading of E4M3 and E2M1, the cpu kernels of
 * codegen/c_prelude.h (mm_q, embed_q) against a plain dequantize-then-multiply on random data with
 * ragged shapes, and the packer's quantizer (round to nearest, GPTQ's conventions for u4, ModelOpt's
 * for nvfp4, checked against hand-worked values). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The prelude's 8-float vectors without -mavx: GCC notes the ABI of such returns; these inline. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#endif
#pragma GCC diagnostic ignored "-Wpsabi"
/* The prelude as a model with quantized weights gets it: its intrinsic paths where the compiler
 * targets them (test_quant_native, test_quant_avx2). */
#define LLMC_INTRINSICS 1
#include "../codegen/c_prelude.h"
#include "../codegen/codegen.h"
#include "../ir/base.h"
#include "testutil.h"

/* Uniform in [0, 1) from a splitmix64 stream. */
static float tu_randf(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    return (float)(tu_mix64(*s) >> 40) * (1.0f / 16777216.0f);
}

/* E4M3 by its definition: sign, 4 exponent bits (bias 7), 3 mantissa bits, S.1111.111 NaN. */
static double e4m3_def(int q)
{
    int s = q >> 7, e = (q >> 3) & 15, m = q & 7;
    double v = e ? ldexp(1.0 + m / 8.0, e - 7) : ldexp(m / 8.0, -6);
    return s ? -v : v;
}

START_TEST(e4m3_decode_and_encode)
{
    for (int q = 0; q < 256; q++) {
        if ((q & 0x7f) == 0x7f) {
            ck_assert(isnan(llmc_e4m3_to_f32((uint8_t)q)));
            continue;
        }
        ck_assert_msg(llmc_e4m3_to_f32((uint8_t)q) == (float)e4m3_def(q), "code %02x", q);
        ck_assert_msg(q_fp8((uint8_t)q) == (float)e4m3_def(q), "q_fp8 code %02x", q);   /* the kernel's bit trick */
        if (q != 0x80)   /* -0 encodes as itself too, but compare bits only off zero */
            ck_assert_int_eq(llmc_f32_to_e4m3((float)e4m3_def(q)), q);
    }
    ck_assert_int_eq(llmc_f32_to_e4m3(1e9f), 0x7e);     /* saturates to 448 */
    ck_assert_int_eq(llmc_f32_to_e4m3(-500.0f), 0xfe);
    ck_assert_int_eq(llmc_f32_to_e4m3(463.9f), 0x7e);
    /* Random values: the nearest code, ties to the even mantissa. */
    uint64_t rng = 7;
    for (int i = 0; i < 200000; i++) {
        float x = (tu_randf(&rng) * 2 - 1) * ldexpf(1.0f, (int)(tu_randf(&rng) * 24) - 14);
        int got = llmc_f32_to_e4m3(x);
        double best = INFINITY;
        int bq = 0;
        for (int q = 0; q < 256; q++) {
            if ((q & 0x7f) == 0x7f)
                continue;
            double e = fabs(e4m3_def(q) - x);
            if (e < best || (e == best && !(q & 1) && (bq & 1))) {
                best = e;
                bq = q;
            }
        }
        if (fabs(x) > 448)
            continue;
        ck_assert_msg(fabs(e4m3_def(got) - x) == best, "x=%g got %02x (%g) best %02x (%g)", (double)x, got,
                      e4m3_def(got), bq, e4m3_def(bq));
    }
}
END_TEST

/* E2M1 by its definition: sign, 2 exponent bits (bias 1), 1 mantissa bit, no infinities or NaN. */
static double e2m1_def(int q)
{
    int s = q >> 3, e = (q >> 1) & 3, m = q & 1;
    double v = e ? ldexp(1.0 + m / 2.0, e - 1) : m / 2.0;
    return s ? -v : v;
}

START_TEST(e2m1_decode_and_encode)
{
    /* The 16 codes, worked by hand (docs/formats.md). */
    static const float want[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    for (int q = 0; q < 16; q++) {
        ck_assert_msg(llmc_e2m1_to_f32((unsigned)q) == want[q] && want[q] == (float)e2m1_def(q), "code %x", q);
        ck_assert_int_eq(signbit(llmc_e2m1_to_f32((unsigned)q)) != 0, q >= 8);
        ck_assert_msg(q_e2m1f((uint32_t)q) == want[q] && signbit(q_e2m1f((uint32_t)q)) == signbit(want[q]), "q_e2m1f code %x",
                      q); /* the cpu kernels' bit trick */
        ck_assert_int_eq(llmc_f32_to_e2m1(want[q]), q == 8 ? 0 : q);   /* -0 is not below 0: code 0 */
    }
    /* Midpoints go to the even code (0.25 -> 0, 0.75 -> 1, 1.25 -> 1, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4,
     * 5 -> 4); past 6 (infinities too) saturate; a negative value keeps its sign even at 0 (-0, as
     * ModelOpt writes it); NaN is 0. */
    static const struct { float x; unsigned q; } edge[] = {
        {0.25f, 0x0}, {0.2501f, 0x1}, {0.7499f, 0x1}, {0.75f, 0x2}, {1.25f, 0x2}, {1.2501f, 0x3}, {1.7499f, 0x3},
        {1.75f, 0x4}, {2.5f, 0x4}, {2.5001f, 0x5}, {3.4999f, 0x5}, {3.5f, 0x6}, {5.0f, 0x6}, {5.0001f, 0x7},
        {6.0f, 0x7}, {7.0f, 0x7}, {1e30f, 0x7}, {INFINITY, 0x7}, {-0.1f, 0x8}, {-0.0f, 0x0}, {-0.25f, 0x8},
        {-0.75f, 0xa}, {-2.5f, 0xc}, {-3.5f, 0xe}, {-5.5f, 0xf}, {-FLT_MAX, 0xf}, {-INFINITY, 0xf}, {1e-40f, 0x0},
        {NAN, 0x0}, {-NAN, 0x0}};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        ck_assert_msg(llmc_f32_to_e2m1(edge[i].x) == edge[i].q, "e2m1(%g) = %x, want %x", (double)edge[i].x,
                      llmc_f32_to_e2m1(edge[i].x), edge[i].q);
    /* Two a byte, the even element in the low nibble. */
    float in[4] = {-6.0f, 0.5f, 3.0f, -1.0f}, out[4];
    uint8_t b[2];
    llmc_e2m1_encode(in, b, 4);
    ck_assert_int_eq(b[0], 0x1f);
    ck_assert_int_eq(b[1], 0xa5);
    llmc_e2m1_decode(b, out, 4);
    for (int k = 0; k < 4; k++)
        ck_assert(out[k] == in[k]);
    /* Random values: the nearest code, ties to the even code. */
    uint64_t rng = 9;
    for (int i = 0; i < 100000; i++) {
        float x = (tu_randf(&rng) * 2 - 1) * 7.0f;
        if (i % 4 == 0)   /* on a midpoint */
            x = (float)(((int)(tu_randf(&rng) * 15) - 7) * 0.25);
        int got = (int)llmc_f32_to_e2m1(x), bq = 0;
        double best = INFINITY;
        for (int q = 0; q < 16; q++) {
            double e = fabs(e2m1_def(q) - x);
            if (e < best || (e == best && !(q & 1) && (bq & 1))) {
                best = e;
                bq = q;
            }
        }
        ck_assert_msg(fabs(e2m1_def(got) - x) == best && (got & 7) == (bq & 7), "x=%g got %x best %x", (double)x, got, bq);
    }
}
END_TEST

/* mm_q / embed_q against dequantize-then-multiply in double, random q, scales and zeros. */
static void check_mm(int fmt, int T, int K, int N, int G, int asym, uint64_t seed)
{
    uint64_t rng = seed;
    int ng = (K + G - 1) / G;
    size_t wbytes = fmt == FMT_FP8 ? (size_t)N * K : (size_t)N * K / 2;
    uint8_t *w = malloc(wbytes), *sc8 = malloc((size_t)N * ng);
    float *scf = malloc((size_t)N * ng * sizeof(float)), tsc = 0.001f + tu_randf(&rng);
    uint16_t *sch = malloc((size_t)N * ng * 2), *zp = malloc((size_t)N * ng * 2);
    float *x = malloc((size_t)T * K * sizeof(float)), *b = malloc((size_t)N * sizeof(float));
    float *y = malloc((size_t)T * N * sizeof(float)), *deq = malloc((size_t)N * K * sizeof(float));
    for (size_t i = 0; i < wbytes; i++) {
        w[i] = (uint8_t)(tu_randf(&rng) * 256);
        if (fmt == FMT_FP8 && (w[i] & 0x7f) == 0x7f)
            w[i] ^= 1;
    }
    for (int i = 0; i < N * ng; i++) {
        scf[i] = 0.01f + tu_randf(&rng) * 0.1f;
        sch[i] = llmc_f32_to_f16(0.01f + tu_randf(&rng) * 0.1f);
        zp[i] = llmc_f32_to_f16((float)(int)(tu_randf(&rng) * 16));
        sc8[i] = (uint8_t)(tu_randf(&rng) * 0x7f);   /* a positive E4M3 code, never NaN (0x7f) */
    }
    for (int i = 0; i < T * K; i++)
        x[i] = tu_randf(&rng) * 2 - 1;
    for (int i = 0; i < N; i++)
        b[i] = tu_randf(&rng);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            int gi = n * ng + k / G;
            if (fmt == FMT_FP8)
                deq[(size_t)n * K + k] = (float)(e4m3_def(w[(size_t)n * K + k]) * scf[gi]);
            else if (fmt == FMT_NVFP4) {   /* (e2m1 x e4m3: exact) x the tensor scale, rounded once */
                size_t e = (size_t)n * K + k;
                deq[e] = (float)(e2m1_def((w[e / 2] >> (4 * (e & 1))) & 15) * e4m3_def(sc8[gi])) * tsc;
            } else {
                size_t e = (size_t)n * K + k;
                int q = (w[e / 2] >> (4 * (e & 1))) & 15;
                float z = asym ? llmc_f16_to_f32(zp[gi]) : 8.0f;
                deq[e] = ((float)q - z) * llmc_f16_to_f32(sch[gi]);
            }
        }
    const void *sc = fmt == FMT_FP8 ? (const void *)scf : fmt == FMT_NVFP4 ? (const void *)sc8 : (const void *)sch;
    const void *z = fmt == FMT_NVFP4 ? (const void *)&tsc : asym ? (const void *)zp : NULL;
    for (int i = 0; i < T * N; i++)
        y[i] = NAN;   /* poison */
    for (int tid = 0; tid < 3; tid++)
        mm_q(fmt, ORDER_ROW_MAJOR, T, K, N, G, x, K, w, sc, z, b, y, N, tid, 3);
    /* One token at a time: the same bits (each (token, row) is summed in one order whatever the step). */
    float *y1 = malloc((size_t)N * sizeof(float));
    for (int t = 0; t < T; t++) {
        for (int tid = 0; tid < 2; tid++)
            mm_q(fmt, ORDER_ROW_MAJOR, 1, K, N, G, x + (size_t)t * K, K, w, sc, z, b, y1, N, tid, 2);
        ck_assert_msg(memcmp(y1, y + (size_t)t * N, (size_t)N * sizeof(float)) == 0,
                      "fmt %d T%d K%d N%d G%d: token %d alone differs from the batch", fmt, T, K, N, G, t);
    }
    /* The same matrix in lane8 order (the CPU twin of a CUDA build; whole tiles only): the same bits. */
    int tile = 8 * (128 / (fmt == FMT_FP8 ? 8 : 4));
    if (K % tile == 0 && (fmt != FMT_U4 || G % 4 == 0)) {
        uint8_t *w8 = calloc(wbytes, 1);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) {
                size_t e = (size_t)n * K + k, p = (size_t)n * K + (size_t)q_pos(fmt, ORDER_LANE8, k);
                if (fmt == FMT_FP8)
                    w8[p] = w[e];
                else
                    w8[p / 2] |= (uint8_t)(((w[e / 2] >> (4 * (e & 1))) & 15) << (4 * (p & 1)));
            }
        float *y8 = malloc((size_t)T * N * sizeof(float));
        for (int tid = 0; tid < 3; tid++)
            mm_q(fmt, ORDER_LANE8, T, K, N, G, x, K, w8, sc, z, b, y8, N, tid, 3);
        ck_assert_msg(memcmp(y8, y, (size_t)T * N * sizeof(float)) == 0, "fmt %d T%d K%d N%d G%d: lane8 differs", fmt, T,
                      K, N, G);
        free(y8);
        free(w8);
    }
    free(y1);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double ref = b[n], mag = fabs(b[n]);
            for (int k = 0; k < K; k++) {
                ref += (double)x[(size_t)t * K + k] * deq[(size_t)n * K + k];
                mag += fabs((double)x[(size_t)t * K + k] * deq[(size_t)n * K + k]);
            }
            float got = y[(size_t)t * N + n];
            ck_assert_msg(fabs(got - ref) <= 1e-5 * mag + 1e-6, "fmt %d T%d K%d N%d G%d: y[%d,%d] %g vs %g", fmt, T, K, N,
                          G, t, n, (double)got, ref);
        }
    /* Embedding rows: exactly the dequantized values. */
    int32_t tok[3] = {0, N - 1, N / 2};
    float *e = malloc((size_t)3 * K * sizeof(float));
    embed_q(fmt, ORDER_ROW_MAJOR, 3, K, G, w, sc, z, tok, e, K, 0, 1);
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < K; k++)
            ck_assert_msg(e[(size_t)t * K + k] == deq[(size_t)tok[t] * K + k], "embed fmt %d row %d col %d", fmt, tok[t], k);
    free(e);
    free(w);
    free(sc8);
    free(scf);
    free(sch);
    free(zp);
    free(x);
    free(b);
    free(y);
    free(deq);
}

/* Shapes for mm_q: ragged K (a short last block and group) and N (tiles of 8, 2 and 1 rows), steps
 * of 1 to 37 tokens (tiles of 4 tokens and their rest, batches of prepared x: K 4096 takes 8 a
 * batch), K past what mm_q_fused prepares (33000: q_row's path). Groups: a row, whole blocks and
 * several, a block's half to eighth (gpb 2..8), and those it leaves to q_row (u4 8, fp8 32). */
START_TEST(mm_q_matches_dequantized_reference)
{
    static const int shapes[][3] = {{1, 172, 13}, {5, 300, 9}, {37, 256, 17}, {1, 4096, 8}, {2, 64, 4},
                                    {3, 1024, 27}, {9, 4096, 3}, {4, 640, 10}, {2, 33000, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int T = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        check_mm(FMT_FP8, T, K, N, K, 0, 11 + s);          /* a scale a row */
        check_mm(FMT_FP8, T, K, N, 128, 0, 21 + s);
        check_mm(FMT_FP8, T, K, N, 64, 0, 61 + s);
        check_mm(FMT_FP8, T, K, N, 32, 0, 71 + s);
        for (int G = 32; G <= 128; G *= 2) {
            check_mm(FMT_U4, T, K, N, G, 0, 31 + s * 7 + (uint64_t)G);
            check_mm(FMT_U4, T, K, N, G, 1, 41 + s * 7 + (uint64_t)G);
        }
        check_mm(FMT_U4, T, K, N, 16, 1, 81 + s);
        check_mm(FMT_U4, T, K, N, 8, 1, 91 + s);
        check_mm(FMT_U4, T, K, N, 256, 1, 101 + s);
        check_mm(FMT_U4, T, K, N, K, 1, 111 + s);   /* one group a row (GPTQ's group -1), K ragged too */
        check_mm(FMT_NVFP4, T, K, N, 16, 0, 51 + s);   /* K 172, 300: a short last group */
    }
}
END_TEST

/* The quantizer: every value within half a step of its group's grid (inside the range), GPTQ's
 * zero of 8 when symmetric, asymmetric zeros in 0..15 putting 0 on the grid. */
START_TEST(quantizer_round_to_nearest)
{
    uint64_t rng = 3;
    enum { K = 300, G = 64 };
    float row[K], sc[8], zp[8], back[K];
    uint8_t q[K];
    for (int trial = 0; trial < 60; trial++) {
        /* The last trials go past what an f16 scale holds (2 * 2^21 / 15 > 65504): the scale stays finite. */
        float amp = trial >= 50 ? ldexpf(1.0f, 21 + trial % 3) : ldexpf(1.0f, (int)(tu_randf(&rng) * 20) - 10);
        for (int k = 0; k < K; k++)
            row[k] = (tu_randf(&rng) * 2 - 1) * amp + (trial & 1 ? amp * 0.5f : 0);
        /* fp8, a scale a row: relative error of E4M3 (2^-4) against the row's largest value */
        float *fsides[LLMC_MAX_SIDES] = {sc};
        llmc_quantize_row(LLMC_FP8, K, K, row, q, fsides, 1);
        llmc_dequantize_row(LLMC_FP8, K, K, q, (const float *const *)fsides, 1, back);
        float amax = 0;
        for (int k = 0; k < K; k++)
            amax = fmaxf(amax, fabsf(row[k]));
        ck_assert(fabsf(sc[0] - amax / 448.0f) <= 1e-6f * sc[0]);
        for (int k = 0; k < K; k++) {
            float v = llmc_e4m3_to_f32(q[k]) * sc[0];
            ck_assert(back[k] == v);   /* the reference dequantizer */
            ck_assert_msg(fabsf(v - row[k]) <= fmaxf(fabsf(row[k]) * 0.0625f, sc[0] * 0.001953125f),
                          "fp8 %g -> %g", (double)row[k], (double)v);
        }
        for (int asym = 0; asym < 2; asym++) {
            float *usides[LLMC_MAX_SIDES] = {sc, zp};
            unsigned has = asym ? 3u : 1u;   /* the scale; the zero points with --asym */
            llmc_quantize_row(LLMC_U4, K, G, row, q, usides, has);
            llmc_dequantize_row(LLMC_U4, K, G, q, (const float *const *)usides, has, back);
            for (int k = 0; k < K; k++) {
                int gi = k / G, u = (q[k / 2] >> (4 * (k & 1))) & 15;
                float z = asym ? zp[gi] : 8.0f, s = sc[gi];
                ck_assert(isfinite(s) && s > 0);
                ck_assert(llmc_f16_to_f32(llmc_f32_to_f16(s)) == s);   /* quantized against the stored scale */
                ck_assert(z >= 0 && z <= 15 && z == rintf(z));
                float v = ((float)u - z) * s;
                ck_assert(back[k] == v);
                float lo = (0 - z) * s, hi = (15 - z) * s;
                if (row[k] >= lo && row[k] <= hi)
                    ck_assert_msg(fabsf(v - row[k]) <= 0.5f * s * 1.0001f, "u4 asym %d: %g -> %g (s %g z %g)", asym,
                                  (double)row[k], (double)v, (double)s, (double)z);
                else   /* clipped: the nearest end of the grid */
                    ck_assert(v == (row[k] < lo ? lo : hi));
            }
        }
    }
}
END_TEST

/* The encoders at the edges of every format: values past the range saturate with their sign (no
 * integer conversion wraps), infinities saturate in the formats without them, NaN never becomes
 * fp8's NaN code. */
START_TEST(encoders_saturate_at_the_edges)
{
    static const float big[] = {448.0f, 464.0f, 65504.0f, 65520.0f, 2147483648.0f, 4294967296.0f, 1e15f, 1e30f,
                                FLT_MAX, INFINITY};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        for (int sg = 1; sg >= -1; sg -= 2) {
            float x = sg * big[i];
            uint8_t e = llmc_f32_to_e4m3(x);
            ck_assert_msg(e == (sg > 0 ? 0x7e : 0xfe), "e4m3(%g) = %02x", (double)x, e);
            float u[2] = {x, -x};
            uint8_t b;
            llmc_u4_encode(u, &b, 2);
            ck_assert_msg(b == (sg > 0 ? 0x0f : 0xf0), "u4(%g, %g) = %02x", (double)x, (double)-x, b);
            uint16_t h;
            llmc_f16_encode(&x, &h, 1);
            if (isinf(x))
                ck_assert_int_eq(h, sg > 0 ? 0x7c00 : 0xfc00);
            else if (big[i] >= 65504)
                ck_assert_msg(h == (sg > 0 ? 0x7bff : 0xfbff), "f16(%g) = %04x", (double)x, h);
            llmc_bf16_encode(&x, &h, 1);
            if (isinf(x))
                ck_assert_int_eq(h, sg > 0 ? 0x7f80 : 0xff80);
            else
                ck_assert_msg(llmc_bf16_to_f32(h) * sg > 0 && isfinite(llmc_bf16_to_f32(h)), "bf16(%g) = %04x", (double)x, h);
            int32_t i32;
            llmc_i32_encode(&x, &i32, 1);
            ck_assert(big[i] < 2147483648.0f || i32 == (sg > 0 ? INT32_MAX : INT32_MIN));
        }
    /* u4 inside the range: the nearest code, ties to even, clamped at 0 and 15. */
    float u[8] = {-0.4f, 0.5f, 1.5f, 14.5f, 15.4f, 15.6f, -3.0f, NAN};
    uint8_t b[4];
    llmc_u4_encode(u, b, 8);
    ck_assert_int_eq(b[0], 0x00);
    ck_assert_int_eq(b[1], 0xe2);
    ck_assert_int_eq(b[2], 0xff);
    ck_assert_int_eq(b[3], 0x00);
    /* NaN of either sign and any payload: never the NaN code. */
    static const uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        float x;
        memcpy(&x, &nans[i], 4);
        ck_assert_int_eq(llmc_f32_to_e4m3(x) & 0x7f, 0);
    }
}
END_TEST

/* llmc_quantize_row over a scale and (NULL: symmetric) zero points, the sides of fp8 and u4. */
static void qrow(LlmcDType fmt, int64_t K, int64_t G, const float *row, uint8_t *q, float *sc, float *zp)
{
    float *sides[LLMC_MAX_SIDES] = {sc, zp};
    llmc_quantize_row(fmt, K, G, row, q, sides, zp ? 3u : 1u);
}

/* Decodes element k of a quantized row as the kernels do. */
static float dequant(LlmcDType fmt, const uint8_t *q, const float *sc, const float *zp, int64_t G, int64_t k)
{
    if (fmt == LLMC_FP8)
        return llmc_e4m3_to_f32(q[k]) * sc[k / G];
    float z = zp ? zp[k / G] : 8.0f;
    return ((float)((q[k / 2] >> (4 * (k & 1))) & 15) - z) * sc[k / G];
}

/* The quantizer with huge values (their sign kept: the end of the grid on their side), infinities,
 * and groups whose largest value is subnormal (a valid scale: finite, positive, exact in its format). */
START_TEST(quantizer_edges)
{
    enum { K = 64, G = 32 };
    static const float big[] = {448.0f, 65504.0f, 2147483648.0f, 1e15f, 1e30f, FLT_MAX, INFINITY};
    static const float tiny[] = {1.4e-45f, 1e-44f, 5e-43f, 6e-43f, 1e-40f, 1e-39f, FLT_MIN, 1e-37f};
    struct { LlmcDType fmt, scale; int asym; } kinds[] = {
        {LLMC_FP8, LLMC_F32, 0}, {LLMC_U4, LLMC_F16, 0}, {LLMC_U4, LLMC_F16, 1}};
    float row[K], sc[K / G], zp[K / G];
    uint8_t q[K];
    uint64_t rng = 5;
    for (size_t kd = 0; kd < sizeof kinds / sizeof kinds[0]; kd++) {
        LlmcDType fmt = kinds[kd].fmt;
        float *z = kinds[kd].asym ? zp : NULL;
        for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
            for (int pattern = 0; pattern < 3; pattern++) {
                /* small values around one huge one (0), a lone huge value in zeros (1), +x and -x (2) */
                for (int k = 0; k < K; k++)
                    row[k] = pattern == 0 ? tu_randf(&rng) * 2 - 1 : 0;
                int at = (int)(tu_randf(&rng) * K), at2 = (at + G / 2) % K;
                row[at] = big[i];
                row[at2] = pattern == 2 ? -big[i] : pattern == 1 ? 0 : -big[i];
                qrow(fmt, K, G, row, q, sc, z);
                for (int gi = 0; gi < K / G; gi++) {
                    ck_assert(isfinite(sc[gi]) && sc[gi] > 0);
                    if (kinds[kd].scale == LLMC_F16)
                        ck_assert(llmc_f16_to_f32(llmc_f32_to_f16(sc[gi])) == sc[gi]);
                }
                for (int k = 0; k < K; k++) {
                    float v = dequant(fmt, q, sc, z, G, k);
                    ck_assert(isfinite(v));
                    if (fmt == LLMC_FP8)
                        ck_assert((q[k] & 0x7f) != 0x7f);
                    if (k != at && !(k == at2 && row[at2] != 0))
                        continue;
                    /* the huge value: its sign, and the nearest point of the grid (its end when past it) */
                    ck_assert_msg(v * row[k] > 0, "fmt %d asym %d: %g -> %g", fmt, kinds[kd].asym, (double)row[k], (double)v);
                    float s = sc[k / G], zz = z ? z[k / G] : 8.0f;
                    float glo = fmt == LLMC_FP8 ? -448 * s : (0 - zz) * s, ghi = fmt == LLMC_FP8 ? 448 * s : (15 - zz) * s;
                    if (row[k] < glo || row[k] > ghi)
                        ck_assert_msg(v == (row[k] < glo ? glo : ghi), "fmt %d asym %d: %g -> %g, not the grid's end",
                                      fmt, kinds[kd].asym, (double)row[k], (double)v);
                    else
                        ck_assert_msg(fabsf(v - row[k]) <= (fmt == LLMC_FP8 ? fabsf(row[k]) * 0.0625f : 0.5f * s * 1.0001f),
                                      "fmt %d asym %d: %g -> %g", fmt, kinds[kd].asym, (double)row[k], (double)v);
                }
            }
        for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
            for (int k = 0; k < K; k++)
                row[k] = (tu_randf(&rng) * 2 - 1) * tiny[i];
            row[3] = tiny[i];
            row[G + 5] = -tiny[i];
            qrow(fmt, K, G, row, q, sc, z);
            for (int gi = 0; gi < K / G; gi++) {
                ck_assert_msg(isfinite(sc[gi]) && sc[gi] > 0, "fmt %d: amax %g scale %g", fmt, (double)tiny[i],
                              (double)sc[gi]);
                if (kinds[kd].scale == LLMC_F16)
                    ck_assert(llmc_f16_to_f32(llmc_f32_to_f16(sc[gi])) == sc[gi]);
                else
                    ck_assert(sc[gi] >= FLT_MIN);
            }
            for (int k = 0; k < K; k++) {
                float v = dequant(fmt, q, sc, z, G, k);
                ck_assert(isfinite(v) && fabsf(v - row[k]) <= 2 * tiny[i] + 1e-30f);
                if (fmt == LLMC_FP8)
                    ck_assert((q[k] & 0x7f) != 0x7f);
            }
        }
    }
}
END_TEST

/* nvfp4's quantizer (one matrix: the pre-pass over its rows, then row by row) into codes[K] (one
 * row: a code a value), scales and the tensor scale; back: the dequantized row 0. */
static void nvfp4_quant(const float *w, int N, int K, uint8_t *codes, float *sc, float *tsc, float *back)
{
    float side[LLMC_MAX_SIDES] = {0};
    const LlmcQuantizer *qz = llmc_format(LLMC_NVFP4)->quant;
    for (int r = 0; r < N; r++)
        qz->prepass(w + (size_t)r * K, K, side, 3);
    qz->prepass(NULL, 0, side, 3);
    *tsc = side[1];
    uint8_t q[512];
    int ng = (K + 15) / 16;
    for (int r = 0; r < N; r++) {
        float *sides[LLMC_MAX_SIDES] = {sc + (size_t)r * ng, tsc};
        llmc_quantize_row(LLMC_NVFP4, K, 16, w + (size_t)r * K, q, sides, 3);
        for (int k = 0; k < K; k++)
            codes[(size_t)r * K + k] = (q[k / 2] >> (4 * (k & 1))) & 15;
        if (r == 0 && back)
            llmc_dequantize_row(LLMC_NVFP4, K, 16, q, (const float *const *)sides, 3, back);
    }
}

/* nvfp4 on values worked by hand (docs/formats.md): the tensor's largest |w| is 2688 = 6 x 448, so
 * its scale is 1; a block's scale is its max |w| / 6 as E4M3 (1.8 / 6 = 0.3 -> 0.3125, the nearer of
 * 0.28125 and 0.3125), 1 for a block of zeros; each value the nearest E2M1 of w / scale. */
START_TEST(nvfp4_by_hand)
{
    enum { K = 64 };
    float w[K] = {6, -6, 0.25f, 0.75f, 1.25f, -1.75f, 2.5f, 3.5f, 5, -0.1f, 0, 1, 2.9f, 4.4f, -4.6f, 0.6f,
                  1.8f, 0.9f, -0.5f, 0.05f, -0.05f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                  2688, -1000, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t want[K] = {0x7, 0xf, 0x0, 0x2, 0x2, 0xc, 0x4, 0x6, 0x6, 0x8, 0x0, 0x2, 0x5, 0x6, 0xe, 0x1,
                                    0x7, 0x5, 0xb, 0x0, 0x8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0x7, 0xc, 0x0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const float want_sc[4] = {1.0f, 0.3125f, 448.0f, 1.0f};
    static const float want_back[21] = {6, -6, 0, 1, 1, -2, 2, 4, 4, -0.0f, 0, 1, 3, 4, -4, 0.5f,
                                        1.875f, 0.9375f, -0.46875f, 0, -0.0f};
    uint8_t codes[K];
    float sc[4], tsc, back[K];
    nvfp4_quant(w, 1, K, codes, sc, &tsc, back);
    ck_assert(tsc == 1.0f);
    for (int g = 0; g < 4; g++)
        ck_assert_msg(sc[g] == want_sc[g], "block %d scale %g", g, (double)sc[g]);
    for (int k = 0; k < K; k++)
        ck_assert_msg(codes[k] == want[k], "w[%d] = %g: code %x, want %x", k, (double)w[k], codes[k], want[k]);
    for (int k = 0; k < 21; k++)
        ck_assert_msg(back[k] == want_back[k], "back[%d] %g", k, (double)back[k]);
    ck_assert(back[32] == 2688.0f && back[33] == -896.0f && back[34] == 0);
    /* A tensor whose largest |w| is 1e-36: its scale would be subnormal (3.7e-40) and is the smallest
     * normal f32; a block's 1e-36 / (6 x 2^-126) = 14.09 -> 14 (E4M3), its values w / (14 x 2^-126). */
    float tiny[16] = {1e-36f, -5e-37f};
    nvfp4_quant(tiny, 1, 16, codes, sc, &tsc, back);
    ck_assert(tsc == FLT_MIN && sc[0] == 14.0f);
    ck_assert_int_eq(codes[0], 0x7);   /* 6.05 -> 6 */
    ck_assert_int_eq(codes[1], 0xd);   /* -3.02 -> -3 */
    ck_assert(back[0] == 6 * 14 * FLT_MIN && back[1] == -3 * 14 * FLT_MIN);
    /* A block far below the tensor's largest value: its scale at least 2^-9 (E4M3's smallest), its
     * values 0; a tensor of zeros: every scale 1. */
    float mixed[32] = {2688.0f};
    mixed[20] = 1e-9f;
    mixed[21] = -1e-9f;
    nvfp4_quant(mixed, 1, 32, codes, sc, &tsc, back);
    ck_assert(tsc == 1.0f && sc[0] == 448.0f && sc[1] == 0x1p-9f && codes[20] == 0 && codes[21] == 0x8);
    float zeros[48] = {0};
    nvfp4_quant(zeros, 1, 40, codes, sc, &tsc, back);   /* K 40: a short last block */
    ck_assert(tsc == 1.0f && sc[0] == 1.0f && sc[1] == 1.0f && sc[2] == 1.0f);
}
END_TEST

/* nvfp4's quantizer on random matrices against its definition read independently: the tensor scale
 * max |w| / 2688, each block's scale the nearest E4M3 of max(max |w| / (6 tscale), 2^-9), each value
 * the nearest E2M1 (ties to the even code) of w / (scale tscale); values past the grid (a matrix
 * whose tensor scale is another's) saturate. */
START_TEST(nvfp4_quantizer_definition)
{
    enum { N = 3, K = 200 };
    static float w[N * K];
    uint8_t codes[N * K];
    float sc[N * 13], tsc, back[K];
    uint64_t rng = 17;
    for (int trial = 0; trial < 40; trial++) {
        float amp = ldexpf(1.0f, (int)(tu_randf(&rng) * 60) - 30);
        for (int i = 0; i < N * K; i++)   /* blocks of different sizes: a few values much larger */
            w[i] = (tu_randf(&rng) * 2 - 1) * amp * (tu_randf(&rng) < 0.05f ? 30.0f : 1.0f);
        nvfp4_quant(w, N, K, codes, sc, &tsc, back);
        double amax = 0;
        for (int i = 0; i < N * K; i++)
            amax = fmax(amax, fabs(w[i]));
        ck_assert_msg(tsc == (float)amax / 2688.0f, "tensor scale %g of max %g", (double)tsc, amax);
        for (int r = 0; r < N; r++)
            for (int g = 0; g < 13; g++) {
                int n = g < 12 ? 16 : K - 12 * 16;
                double bmax = 0;
                for (int k = 0; k < n; k++)
                    bmax = fmax(bmax, fabs(w[r * K + g * 16 + k]));
                float want = (float)bmax / (6.0f * tsc);
                want = want == 0 ? 1.0f : fmaxf(want, 0x1p-9f);
                double best = INFINITY;   /* the nearest E4M3, ties to the even code */
                int bq = 0;
                for (int q = 0; q < 0x7f; q++) {
                    double e = fabs(e4m3_def(q) - want);
                    if (e < best || (e == best && !(q & 1) && (bq & 1))) {
                        best = e;
                        bq = q;
                    }
                }
                float s = sc[r * 13 + g];
                ck_assert_msg(s == (float)e4m3_def(bq), "row %d block %d: scale %g, want %g", r, g, (double)s,
                              e4m3_def(bq));
                float st = s * tsc;
                for (int k = 0; k < n; k++) {
                    int i = r * K + g * 16 + k;
                    float v = w[i] / st;
                    int c = codes[i], cq = 0;
                    best = INFINITY;
                    for (int q = 0; q < 16; q++) {
                        double e = fabs(e2m1_def(q) - v);
                        if (e < best || (e == best && !(q & 1) && (cq & 1))) {
                            best = e;
                            cq = q;
                        }
                    }
                    ck_assert_msg((c & 7) == (cq & 7) && (c >> 3) == (w[i] < 0), "w %g / %g = %g: code %x, want %x",
                                  (double)w[i], (double)st, (double)v, c, cq);
                    if (r == 0)
                        ck_assert(back[g * 16 + k] == (float)(e2m1_def(c) * s) * tsc);
                }
            }
    }
}
END_TEST

/* The prelude's f16 loads without _Float16 (compilers that lack it: clang 14), compiled apart with
 * LLMC_NO_FLOAT16: every one of the 65536 codes gives the value of the reference conversion. */
START_TEST(f16_without_float16)
{
    const char *dir = tu_tmpdir();
    char src[1024], exe[1024], out[1024], cmd[4096];
    snprintf(src, sizeof src, "%s/f16.c", dir);
    snprintf(exe, sizeof exe, "%s/f16", dir);
    snprintf(out, sizeof out, "%s/f16.bin", dir);
    FILE *f = fopen(src, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#define LLMC_NO_FLOAT16 1\n#include \"%s/codegen/c_prelude.h\"\n#include <stdio.h>\n"
               "int main(int argc, char **argv)\n{\n    (void)argc;\n    FILE *f = fopen(argv[1], \"wb\");\n"
               "    for (unsigned c = 0; c < 65536; c += 8) {\n        uint16_t h[8];\n"
               "        for (int i = 0; i < 8; i++)\n            h[i] = (uint16_t)(c + i);\n"
               "        llmc_v8f v = v8_ld_f16(h);\n        float s[8];\n"
               "        for (int i = 0; i < 8; i++)\n            s[i] = s_f16(h[i]);\n"
               "        fwrite(&v, 4, 8, f);\n        fwrite(s, 4, 8, f);\n    }\n    return fclose(f) != 0;\n}\n",
            LLMC_SOURCE_DIR);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "cc -std=gnu11 -O2 -w -I%s/ir -o %s %s -lm 2>&1 && %s %s 2>&1", LLMC_SOURCE_DIR, exe, src, exe,
             out);
    char *log = NULL;
    ck_assert_msg(tu_run(cmd, &log) == 0, "%s", log);
    free(log);
    f = fopen(out, "rb");
    ck_assert_ptr_nonnull(f);
    for (unsigned c = 0; c < 65536; c += 8) {
        float v[8], s[8];
        ck_assert_int_eq(fread(v, 4, 8, f), 8);
        ck_assert_int_eq(fread(s, 4, 8, f), 8);
        for (int i = 0; i < 8; i++) {
            float want = llmc_f16_to_f32((uint16_t)(c + i));
            ck_assert_msg(memcmp(&v[i], &want, 4) == 0 && memcmp(&s[i], &want, 4) == 0, "code %04x", c + i);
        }
    }
    fclose(f);
}
END_TEST

/* ---- the KV cache's quantizers (ir/kv_formats.h) against their definitions (docs/formats.md,
 * "The KV cache"), written here again with base.c's conversions and double arithmetic where it is
 * exact; random rows, never zeros, shifted so that their minimum is not 0 ---- */
static float kvr(uint64_t *st) { return (tu_randf(st) * 2.0f - 1.0f) * 3.0f + 0.25f; }

/* Asymmetric (s, z) by the definition: s = f16((max - min) / Q) (1 when 0), z = f16(min). */
static void asym_def(const float *x, int n, float Q, float *s, float *z)
{
    float mn = x[0], mx = x[0];
    for (int i = 1; i < n; i++) {
        mn = fminf(mn, x[i]);
        mx = fmaxf(mx, x[i]);
    }
    uint16_t s16 = llmc_f32_to_f16((mx - mn) / Q);
    *s = (s16 & 0x7fff) ? llmc_f16_to_f32(s16) : 1.0f;
    *z = llmc_f16_to_f32(llmc_f32_to_f16(mn));
}
static unsigned code_def(float x, float s, float z, float Q)
{
    double c = nearbyint((double)((x - z) / s)); /* the quotient is the f32 one, rounded to even */
    return (unsigned)(c < 0 ? 0 : c > Q ? Q : c);
}
static float f16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return llmc_f16_to_f32(h);
}

START_TEST(kv_quantizers_by_definition)
{
    enum { HD = 64, HKV = 3, BS = 32 };
    uint64_t st = 7;
    static uint8_t sec[1 << 16];
    float x[HKV * HD], hs[HKV] = {0.02f, 1.0f, 0.5f};
    for (int trial = 0; trial < 8; trial++) {
        for (int i = 0; i < HKV * HD; i++)
            x[i] = kvr(&st) * (trial == 7 ? 300.0f : 1.0f); /* the last: past E4M3's 448 (saturating) */
        int off = (trial * 5) % BS;
        /* int8 and int4 rows: the values, then the section's sides (f16 scale, zero) */
        for (int f = 0; f < 2; f++) {
            int F = f ? FMT_INT4 : FMT_INT8;
            float Q = f ? 15.0f : 255.0f;
            memset(sec, 0xa5, sizeof sec);
            kv_put_rows(F, 1, BS, HKV, HD, sec, off, x, NULL);
            for (int h = 0; h < HKV; h++) {
                float sc, z;
                asym_def(x + h * HD, HD, Q, &sc, &z);
                int64_t r = (int64_t)off * HKV + h;
                const uint8_t *sd = sec + kv_sides_at(F, BS, HKV, HD) + r * kv_row_sbytes(F, 1, HD);
                ck_assert_float_eq(f16_at(sd), sc);
                ck_assert_float_eq(f16_at(sd + 2), z);
                for (int i = 0; i < HD; i++) {
                    const uint8_t *v = sec + r * kv_vbytes(F, HD);
                    unsigned got = f ? (v[i / 2] >> (4 * (i & 1))) & 15 : v[i];
                    ck_assert_uint_eq(got, code_def(x[h * HD + i], sc, z, Q));
                    /* and the value read back is within half a step (plus the f16 rounding of z) */
                    ck_assert(fabsf(got * sc + z - x[h * HD + i]) <= 0.5f * sc + fabsf(z) * 1e-3f + 1e-6f);
                }
            }
        }
        /* fp8: E4M3 of x / the head's scale (base.c's encoder), saturating */
        memset(sec, 0xa5, sizeof sec);
        kv_put_rows(FMT_KV_FP8, 0, BS, HKV, HD, sec, off, x, hs);
        for (int h = 0; h < HKV; h++)
            for (int i = 0; i < HD; i++)
                ck_assert_uint_eq(sec[((int64_t)off * HKV + h) * HD + i], llmc_f32_to_e4m3(x[h * HD + i] / hs[h]));
    }
    /* KIVI: a group of 32 positions from f16 rows: keys per channel over the positions, values per
     * position and 32 channels */
    static uint16_t rows16[32][HKV * HD];
    const uint8_t *rows[32];
    for (int i = 0; i < 32; i++) {
        for (int j = 0; j < HKV * HD; j++)
            rows16[i][j] = llmc_f32_to_f16(kvr(&st));
        rows[i] = (const uint8_t *)rows16[i];
    }
    for (int f = 0; f < 2; f++) {
        int F = f ? FMT_KIVI4 : FMT_KIVI2, bits = f ? 4 : 2;
        float Q = f ? 15.0f : 3.0f;
        for (int w = 0; w < 2; w++) {
            memset(sec, 0x5a, sizeof sec);
            kv_seal(F, w, 2 * BS, HKV, HD, sec, BS, rows); /* the block's second group */
            float col[32], sc, z;
            for (int h = 0; h < HKV; h++)
                for (int d = 0; d < HD; d++)
                    for (int i = 0; i < 32; i++) {
                        if (w == 0) {
                            for (int k = 0; k < 32; k++)
                                col[k] = llmc_f16_to_f32(rows16[k][h * HD + d]);
                            asym_def(col, 32, Q, &sc, &z);
                            const uint8_t *g = sec + kv_groups_at(F, 0, 2 * BS, HKV, HD) + ((int64_t)1 * HKV + h) * kv_group_sbytes(F, 0, HD);
                            ck_assert_float_eq(f16_at(g + 4 * d), sc);
                            ck_assert_float_eq(f16_at(g + 4 * d + 2), z);
                        } else {
                            for (int k = 0; k < 32; k++)
                                col[k] = llmc_f16_to_f32(rows16[i][h * HD + d / 32 * 32 + k]);
                            asym_def(col, 32, Q, &sc, &z);
                            const uint8_t *rs = sec + kv_sides_at(F, 2 * BS, HKV, HD) +
                                                ((int64_t)(BS + i) * HKV + h) * kv_row_sbytes(F, 1, HD) + 4 * (d / 32);
                            ck_assert_float_eq(f16_at(rs), sc);
                            ck_assert_float_eq(f16_at(rs + 2), z);
                        }
                        const uint8_t *v = sec + ((int64_t)(BS + i) * HKV + h) * kv_vbytes(F, HD);
                        unsigned got = (v[d / (8 / bits)] >> (bits * (d % (8 / bits)))) & ((1u << bits) - 1);
                        ck_assert_uint_eq(got, code_def(llmc_f16_to_f32(rows16[i][h * HD + d]), sc, z, Q));
                        /* kv_get_row reads the definition back */
                        float buf[HD];
                        const float *back = kv_get_row(F, w, 2 * BS, HKV, HD, sec, BS + i, h, buf, 1.0f);
                        ck_assert_float_eq(back[d], (float)got * sc + z);
                        if (w == 0)
                            break; /* keys: one position a (channel) loop is enough for the scales */
                    }
        }
    }
}
END_TEST

/* The cpu target's paged attention (c_prelude.h) over a pool written through kv_store_pos (and
 * KIVI's seals) for keys and values in each format pair, against a softmax in double over each
 * query's rows read by kv_read (which reads rows as the definitions above do); three sequences of
 * ragged lengths (300, 141, and 77: ending mid-group) in shuffled blocks, a position a step, each
 * query checked now and then: past the residual (quantized groups read from their blocks, groups
 * sealed as they fill), the residual window crossing blocks. The KV rows random, never zero. */
static void kv_attention_pair(int KF, int VF)
{
    enum { L = 2, HKV = 2, HQ = 4, HD = 32, BS = 32, NSEQ = 3, MAXP = 300 };
    const int len[NSEQ] = {300, 141, 77};
    int nr = (int)kv_ring_blocks(KF, VF, L, BS, HKV, HD), data = (MAXP + BS - 1) / BS, stride = data + nr;
    int nblocks = NSEQ * stride + 3;
    uint8_t *kv = calloc((size_t)nblocks, (size_t)kv_block_bytes(KF, VF, L, BS, HKV, HD));
    int32_t *tables = malloc(sizeof(int32_t) * NSEQ * (size_t)stride), *perm = malloc(sizeof(int32_t) * (size_t)nblocks);
    uint64_t st = 99;
    for (int i = 0; i < nblocks; i++)
        perm[i] = i;
    for (int i = nblocks - 1; i > 0; i--) {
        int j = (int)(tu_mix64((uint64_t)i * 77 + 5) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < NSEQ * stride; i++)
        tables[i] = perm[i];
    float hsc[L * 2 * HKV];
    for (int i = 0; i < L * 2 * HKV; i++)
        hsc[i] = 0.01f + 0.01f * (float)i;
    float k[HKV * HD], v[HKV * HD], q[HQ * HD], y[HQ * HD], sc[MAXP], kb[HD], vb[HD];
    int32_t pos1, seq1, slot1;
    double worst = 0;
    for (int s = 0; s < NSEQ; s++) {
        const int32_t *table = tables + s * stride;
        for (int p = 0; p < len[s]; p++) { /* the history, a position a step (decodes) */
            for (int l = 0; l < L; l++) {
                for (int i = 0; i < HKV * HD; i++) {
                    k[i] = kvr(&st);
                    v[i] = kvr(&st);
                }
                kv_write(KF, VF, 1, L, BS, HKV, HD, l, k, HKV * HD, v, HKV * HD, (slot1 = table[p / BS] * BS + p % BS, &slot1),
                         (pos1 = p, &pos1), (seq1 = s, &seq1), tables, stride, kv, hsc, 0, 1);
                for (int i = 0; i < HQ * HD; i++)
                    q[i] = kvr(&st);
                paged_attention(KF, VF, 1, L, BS, HQ, HKV, HD, l, sc, MAXP, kb, vb, 0.25f, 0, q, HQ * HD, &pos1, &seq1,
                                tables, stride, kv, hsc, y, HQ * HD, 0, 1);
                if (p % 37 != 36 && p != len[s] - 1)
                    continue; /* the reference now and then: at ragged places, the ends */
                for (int h = 0; h < HQ; h++) {
                    int kh = h / (HQ / HKV);
                    double scd[MAXP], mx = -1e300, sum = 0, o[HD] = {0};
                    for (int pp = 0; pp <= p; pp++) {
                        const float *kr = kv_read(KF, VF, L, BS, HKV, HD, kv, table, stride, l, 0, pp, p, kh, kb, hsc);
                        double d = 0;
                        for (int i = 0; i < HD; i++)
                            d += (double)q[h * HD + i] * kr[i];
                        scd[pp] = d * 0.25;
                        mx = scd[pp] > mx ? scd[pp] : mx;
                    }
                    for (int pp = 0; pp <= p; pp++)
                        sum += (scd[pp] = exp(scd[pp] - mx));
                    for (int pp = 0; pp <= p; pp++) {
                        const float *vr = kv_read(KF, VF, L, BS, HKV, HD, kv, table, stride, l, 1, pp, p, kh, vb, hsc);
                        for (int i = 0; i < HD; i++)
                            o[i] += scd[pp] / sum * vr[i];
                    }
                    for (int i = 0; i < HD; i++) {
                        double e = fabs(o[i] - y[h * HD + i]) / (fabs(o[i]) + 1.0);
                        worst = e > worst ? e : worst;
                    }
                }
            }
        }
    }
    ck_assert_msg(worst < 1e-5, "KV %d,%d: attention off the reference by %g", KF, VF, worst);
    free(kv);
    free(tables);
    free(perm);
}
START_TEST(kv_attention_against_reference)
{
    static const int pairs[][2] = {{FMT_INT8, FMT_INT4}, {FMT_KV_FP8, FMT_F16}, {FMT_KIVI2, FMT_KIVI2}, {FMT_KIVI4, FMT_INT8}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        kv_attention_pair(pairs[i][0], pairs[i][1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("quant");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, e4m3_decode_and_encode);
    tcase_add_test(tc, e2m1_decode_and_encode);
    tcase_add_test(tc, nvfp4_by_hand);
    tcase_add_test(tc, nvfp4_quantizer_definition);
    tcase_add_test(tc, mm_q_matches_dequantized_reference);
    tcase_add_test(tc, quantizer_round_to_nearest);
    tcase_add_test(tc, encoders_saturate_at_the_edges);
    tcase_add_test(tc, quantizer_edges);
    tcase_add_test(tc, f16_without_float16);
    tcase_add_test(tc, kv_quantizers_by_definition);
    tcase_add_test(tc, kv_attention_against_reference);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
