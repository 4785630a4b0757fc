/* cpu_mm.c — the cpu target's matmul kernels (codegen/c_prelude.h: mm_f32, mm_bf16, mm_f16, mm_q)
 * timed on one thread, one format after another over the same [N, K] shape: the minimum of REPS
 * calls over slices of 1024 rows taken in turn, so that every call reads its rows from memory (a
 * shared machine: the fastest is the figure load disturbs least; the median beside it), the
 * weight bytes streamed per second and the time against f32's. Random weights (never zeros), random x.
 *
 *   cc -O3 -march=native -ffp-contract=fast -fno-math-errno -I ir -I codegen bench/cpu_mm.c -o /tmp/cpu_mm -lm
 *   /tmp/cpu_mm [N T REPS [rows]]     (defaults 32768 1 5: 128M weights, past the L3 in every format;
 *                                   REPS passes over the matrix; "rows": the quantized formats through
 *                                   mm_q_rows, the dequantize-a-chunk-then-dot path, for comparison;
 *                                   K is 4096 unless -DBK=... : a constant, as in generated code)
 *
 * bench/cpu_formats.sh runs it, then the formats end to end. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LLMC_INTRINSICS 1 /* as in a model with bf16, f16 or quantized weights */
#include "c_prelude.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
static float rndf(void) { return (float)(rnd() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; }

/* K and the slice's rows are constants, as in generated code (every shape a literal). */
#ifndef BK
#define BK 4096
#endif
enum { K = BK, S = 1024 };
#define MMQ(F, G, S0, S1)                                                                                  \
    (rows ? mm_q_rows(F, ORDER_ROW_MAJOR, T, K, S, G, x, K, wr, S0, S1, 0, y + r0, N, 0, 1)               \
          : mm_q(F, ORDER_ROW_MAJOR, T, K, S, G, x, K, wr, S0, S1, 0, y + r0, N, 0, 1))

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint16_t f16_bits(float f) /* round to nearest, normal range only (the scales here) */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t e = (u >> 23) & 0xff, m = u & 0x7fffff;
    uint32_t h = ((e - 112) << 10) | (m >> 13);
    if ((m & 0x1fff) > 0x1000 || ((m & 0x1fff) == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)(h | ((u >> 16) & 0x8000));
}

enum { F_F32, F_BF16, F_F16, F_FP8, F_U4, F_U4Z, F_U4Z32, F_NVFP4, F_N };
static const char *names[F_N] = {"f32", "bf16", "f16", "fp8 (row)", "u4 g128", "u4 g128 zero", "u4 g32 zero", "nvfp4"};

int main(int argc, char **argv)
{
    int N = argc > 1 ? atoi(argv[1]) : 32768;
    int T = argc > 2 ? atoi(argv[2]) : 1, reps = argc > 3 ? atoi(argv[3]) : 5;
    const int rows = argc > 4 && !strcmp(argv[4], "rows");
    size_t nk = (size_t)N * K;
    float *x = malloc(sizeof(float) * (size_t)T * K), *y = malloc(sizeof(float) * (size_t)T * N);
    for (size_t i = 0; i < (size_t)T * K; i++)
        x[i] = rndf();
    double base = 0;
    for (int f = 0; f < F_N; f++) {
        int G = f == F_U4Z32 ? 32 : f == F_NVFP4 ? 16 : f == F_FP8 ? K : 128, ng = (K + G - 1) / G;
        size_t bytes = f == F_F32 ? nk * 4 : f <= F_F16 ? nk * 2 : f == F_FP8 ? nk : nk / 2;
        uint8_t *w = malloc(bytes);
        for (size_t i = 0; i < bytes; i++)
            w[i] = (uint8_t)rnd();
        if (f == F_F32)
            for (size_t i = 0; i < nk; i++)
                ((float *)w)[i] = rndf();
        if (f == F_BF16 || f == F_F16)
            for (size_t i = 0; i < nk; i++)
                ((uint16_t *)w)[i] = (uint16_t)((rnd() & 0x83ff) | (f == F_BF16 ? 0x3c00 : 0x3000)); /* finite */
        if (f == F_FP8 || f == F_NVFP4)
            for (size_t i = 0; f == F_FP8 && i < bytes; i++)
                w[i] = (w[i] & 0x7f) == 0x7f ? w[i] ^ 1 : w[i];
        void *s0 = malloc((size_t)N * ng * 4), *s1 = malloc((size_t)N * ng * 4 + 4);
        for (int i = 0; i < N * ng; i++) {
            ((float *)s0)[i] = 0.01f + 0.001f * (float)(rnd() % 100);
            if (f >= F_U4 && f <= F_U4Z32) {
                ((uint16_t *)s0)[i] = f16_bits(0.01f + 0.001f * (float)(rnd() % 100));
                ((uint16_t *)s1)[i] = f16_bits((float)(rnd() % 16));
            }
            if (f == F_NVFP4)
                ((uint8_t *)s0)[i] = (uint8_t)(0x20 + rnd() % 0x40);
        }
        if (f == F_NVFP4)
            ((float *)s1)[0] = 0.01f;
        /* calls over slices of S rows, in turn through the whole matrix (each call's rows come
         * from memory, not the cache): the fastest call is the figure, the median beside it */
        int ns = N / S;
        double *dts = malloc(sizeof(double) * (size_t)reps * ns);
        for (int r = 0; r < reps * ns; r++) {
            size_t r0 = (size_t)(r % ns) * S;
            const uint8_t *wr = w + r0 * (bytes / (size_t)N);
            double t0 = now();
            switch (f) {
            case F_F32: mm_f32(T, K, S, x, K, (const float *)w + r0 * K, 0, y + r0, N, 0, 1); break;
            case F_BF16: mm_bf16(T, K, S, x, K, (const uint16_t *)w + r0 * K, 0, y + r0, N, 0, 1); break;
            case F_F16: mm_f16(T, K, S, x, K, (const uint16_t *)w + r0 * K, 0, y + r0, N, 0, 1); break;
            case F_FP8: MMQ(FMT_FP8, K, (float *)s0 + r0 * ng, 0); break;
            case F_U4: MMQ(FMT_U4, 128, (uint16_t *)s0 + r0 * ng, 0); break;
            case F_U4Z: MMQ(FMT_U4, 128, (uint16_t *)s0 + r0 * ng, (uint16_t *)s1 + r0 * ng); break;
            case F_U4Z32: MMQ(FMT_U4, 32, (uint16_t *)s0 + r0 * ng, (uint16_t *)s1 + r0 * ng); break;
            case F_NVFP4: MMQ(FMT_NVFP4, 16, (uint8_t *)s0 + r0 * ng, s1); break;
            }
            dts[r] = now() - t0;
        }
        qsort(dts, (size_t)reps * ns, sizeof(double), cmp_double);
        double best = dts[0] * ns, med = dts[reps * ns / 2] * ns;
        free(dts);
        double chk = 0;
        for (int i = 0; i < T * N; i++)
            chk += y[i];
        if (f == F_F32)
            base = best;
        printf("%-13s T %d: %7.2f ms (median %7.2f)  %6.2f GB/s of weights  %6.2f Gvalues/s  x%.2f f32's speed  (sum %.4g)\n",
               names[f], T, best * 1e3, med * 1e3, (double)bytes / best * 1e-9, (double)nk * T / best * 1e-9, base / best,
               chk);
        fflush(stdout);
        free(w);
        free(s0);
        free(s1);
    }
    free(x);
    free(y);
    return 0;
}
