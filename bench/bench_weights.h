/* bench_weights.h — what the nvcc-built checks (kernel_check.cu, qmma_lab.cu) share on the host:
 * a seeded generator, bf16/f16/E4M3 conversions independent of the kernels' bit tricks, random
 * weights in every format (quantized ones with their scales and zeros, written into lane8 order
 * from the order's definition in ir.h), device buffers, and the per-element check tally. */
#ifndef LLMC_BENCH_WEIGHTS_H
#define LLMC_BENCH_WEIGHTS_H

#include "bench_cuda.h"

#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <vector>

#include "../codegen/cuda_formats.cuh" /* WQ */

constexpr double U24 = 1.0 / 16777216.0; /* f32 unit roundoff */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void) /* [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / (double)(1ull << 52) - 1.0;
}
static uint16_t h_bf16(float f) /* round to nearest even */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}
static float h_bf16f(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint16_t h_f16(float f)
{
    __half_raw r = __float2half_rn(f); /* host-side conversion from cuda_fp16.h */
    return r.x;
}
static float h_f16f(uint16_t h)
{
    __half_raw r;
    r.x = h;
    return __half2float(__half(r));
}

static int failures = 0, checks = 0;
static void verdict(const char *what, double err, double tol, int64_t unwritten)
{
    int ok = err <= tol && unwritten == 0 && err == err;
    printf("%s %-62s rel.err %.2e (tol %.0e)%s\n", ok ? "PASS" : "FAIL", what, err, tol,
           unwritten ? " UNWRITTEN ROWS" : "");
    failures += !ok;
    checks++;
}


static double nzrand(double s) /* random, never 0 */
{
    const double v = urand() * s;
    return v != 0.0 ? v : s * 0.5;
}
static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static double silud(double v) { return v / (1.0 + exp(-v)); }
static double geluds(double v) { return 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))); }
/* the gated epilogues' activation of the gate (EPI 2 SwiGLU, EPI 4 GeGLU), in double */
static double glud(int epi, double v) { return epi == 4 ? geluds(v) : silud(v); }

/* One check's tally: every compared value, the worst error against its tolerance, values not
 * written (NaN), values written that must not be (stray). */
struct Check {
    double max_abs = 0, max_rel = 0, worst = 0;
    int64_t n = 0, bad = 0, nan = 0, stray = 0;
    void add(double got, double ref, double scale, double eps, double atol)
    {
        n++;
        if (!(got == got) || !isfinite(got)) {
            nan++;
            return;
        }
        const double err = fabs(got - ref), tol = atol + eps * scale;
        max_abs = err > max_abs ? err : max_abs;
        const double rel = err / (fabs(ref) > atol ? fabs(ref) : atol > 0 ? atol : 1e-30);
        max_rel = rel > max_rel ? rel : max_rel;
        worst = err / tol > worst ? err / tol : worst;
        bad += !(err <= tol);
    }
    void exact(uint32_t got, uint32_t want)
    {
        n++;
        bad += got != want;
        worst = got != want ? 1e9 : worst;
    }
    void untouched(uint32_t got, uint32_t was) { stray += got != was; }
    void done(const char *what, double eps)
    {
        const int ok = bad == 0 && nan == 0 && stray == 0 && n > 0;
        printf("%s %-62s n=%lld max abs %.2e rel %.2e, worst %.2f of tol (eps %.1e)%s%s%s\n", ok ? "PASS" : "FAIL",
               what, (long long)n, max_abs, max_rel, worst, eps, bad ? " OUT OF TOLERANCE" : "", nan ? " UNWRITTEN" : "",
               stray ? " STRAY WRITES" : "");
        failures += !ok;
        checks++;
    }
};

/* device buffer of n T's, freed at scope exit */
template <class T>
struct DBuf {
    T *p = nullptr;
    size_t n;
    explicit DBuf(size_t n_) : n(n_ ? n_ : 1) { CK(cudaMalloc(&p, n * sizeof(T))); }
    ~DBuf() { CK(cudaFree(p)); }
    DBuf(const DBuf &) = delete;
    DBuf &operator=(const DBuf &) = delete;
    void up(const std::vector<T> &h)
    {
        if (h.size() != n) {
            fprintf(stderr, "kernel_check: upload of %zu values into %zu\n", h.size(), n);
            exit(2);
        }
        CK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
    }
    void poison() { CK(cudaMemset(p, 0xff, n * sizeof(T))); }
    std::vector<T> down() const
    {
        std::vector<T> h(n);
        CK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
        return h;
    }
};
static void launched(void)
{
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
}
/* The device-to-device copy bandwidth (a 1 GiB copy), TB/s: the roofline's yardstick of a run. */
static double copy_tbs(void)
{
    const size_t n = (size_t)1 << 30;
    DBuf<uint8_t> a(n), b(n);
    CK(cudaMemset(a.p, 1, n));
    const double us = time_us([&]() { CK(cudaMemcpyAsync(b.p, a.p, n, cudaMemcpyDeviceToDevice)); }, 10);
    return 2.0 * n / (us * 1e-6) / 1e12;
}
static std::vector<float> rand_f32(size_t n, double s, double off = 0.0)
{
    std::vector<float> v(n);
    for (auto &x : v)
        x = (float)(off + nzrand(s));
    return v;
}

/* Weights [n] in format wk (0 f32, 1 bf16, 2 f16): the bytes uploaded and each value as a float. */
struct Wts {
    std::vector<uint8_t> raw;
    std::vector<float> f;
};
static Wts make_w(int wk, size_t n, double s)
{
    Wts w;
    w.raw.resize(n * (wk == 0 ? 4 : 2));
    w.f.resize(n);
    for (size_t i = 0; i < n; i++) {
        const float v = (float)nzrand(s);
        if (wk == 0) {
            memcpy(&w.raw[i * 4], &v, 4);
            w.f[i] = v;
        } else {
            const uint16_t h = wk == 1 ? h_bf16(v) : h_f16(v);
            memcpy(&w.raw[i * 2], &h, 2);
            w.f[i] = wk == 1 ? h_bf16f(h) : h_f16f(h);
        }
    }
    return w;
}
/* Quantized weights [N][K] (wk 3 fp8, 4 u4 symmetric, 5 u4 with zero points, 6 nvfp4) in groups of
 * G along K: random stored values (fp8: every byte but NaN, u4: 0..15, nvfp4: every E2M1 code),
 * random positive scales (fp8 f32, u4 f16, nvfp4 every positive E4M3 code but NaN, 2^-9 .. 448)
 * and zeros (u4: 0..15 as f16), nvfp4's random positive f32 tensor scale; f holds each value
 * dequantized as the cpu target does it (codegen/c_formats.h q_row): ((float)q - z) * s, fp8:
 * decode(q) * s, nvfp4: (e2m1(q) * s) * t, in f32. */
static float h_fp8f(uint8_t b) /* E4M3, independent of the kernels' bit trick */
{
    const int e = (b >> 3) & 15, m = b & 7;
    const float v = e == 0 ? ldexpf((float)m, -9) : ldexpf(1.0f + m / 8.0f, e - 7);
    return b & 0x80 ? -v : v;
}
static float h_e2m1f(int q) /* E2M1, from its definition */
{
    const int e = (q >> 1) & 3, m = q & 1;
    const float v = e == 0 ? 0.5f * m : ldexpf(1.0f + 0.5f * m, e - 1);
    return q & 8 ? -v : v;
}
struct QWts {
    Wts w;
    std::vector<uint8_t> sc, zr, ts; /* scale and zero tensors' bytes, [N][ceil(K / G)]; nvfp4's tensor scale */
    std::vector<float> vs;           /* nvfp4: each value before the tensor scale, e2m1(q) * s (exact) */
};
/* The kernels' weight format (codegen/cuda_formats.cuh WFmt, ir/format_ids.h) of this file's wk. */
__host__ __device__ constexpr int KF(int wk)
{
    return wk == 0   ? FMT_F32
           : wk == 1 ? FMT_BF16
           : wk == 2 ? FMT_F16
           : wk == 3 ? FMT_FP8
           : wk == 4 ? FMT_U4
           : wk == 5 ? FMT_U4 | WITH_ZERO
                     : FMT_NVFP4;
}
constexpr int fmt_tile(int wk) { return wk == 3 ? 128 : 256; } /* lane8 tile of the quantized formats */
/* Does weight_format give a [N][K] matrix in groups of G the lane8 order (passes/weight_format.c)? */
constexpr int q_lane8(int wk, long long K, long long G)
{
    return wk >= 3 && K % fmt_tile(wk) == 0 && (G % fmt_tile(wk) == 0 || (fmt_tile(wk) % G == 0 && G % 4 == 0));
}
/* Row-major quantized rows (elements e of size 4 or 8 bits) into lane8 order, written out from the
 * order's definition (ir.h): slot q of a tile holds at 4 c + e element 32 c + 4 q + e. */
static void lane8_rows(int wk, int N, int K, std::vector<uint8_t> &raw)
{
    const int T = fmt_tile(wk), E = T / 8;
    std::vector<uint8_t> out(raw.size(), 0);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            const int t = k / T, kk = k % T, c = kk / 32, q = kk % 32 / 4, e = kk % 4;
            const size_t from = (size_t)n * K + k, to = (size_t)n * K + (size_t)t * T + q * E + c * 4 + e;
            if (wk == 3) {
                out[to] = raw[from];
            } else {
                const uint8_t v = (uint8_t)(raw[from / 2] >> (from % 2 * 4) & 15);
                out[to / 2] = (uint8_t)(out[to / 2] | v << (to % 2 * 4));
            }
        }
    raw = out;
}
static QWts make_wq(int wk, int N, int K, int G, double amp, int table = 0) /* table: an embedding's, row-major */
{
    QWts q;
    const int ng = (K + G - 1) / G;
    q.w.raw.resize(wk == 3 ? (size_t)N * K : (size_t)N * K / 2);
    q.w.f.resize((size_t)N * K);
    q.sc.resize((size_t)N * ng * (wk == 3 ? 4 : wk == 6 ? 1 : 2));
    if (wk == 5)
        q.zr.resize((size_t)N * ng * 2);
    float ts = 1.0f; /* nvfp4: the tensor scale */
    if (wk == 6) {
        ts = (float)(amp / (6.0 * 448.0) * (0.5 + 0.5 * fabs(urand())));
        q.ts.resize(4);
        memcpy(q.ts.data(), &ts, 4);
        q.vs.resize((size_t)N * K);
    }
    for (int n = 0; n < N; n++)
        for (int gi = 0; gi < ng; gi++) {
            const size_t i = (size_t)n * ng + gi;
            float s;
            if (wk == 3) {
                s = (float)(amp / 448.0 * (0.5 + 0.5 * fabs(urand())));
                memcpy(&q.sc[i * 4], &s, 4);
            } else if (wk == 6) {
                const uint8_t b = (uint8_t)(1 + (int)((urand() + 1.0) * 63.0) % 126); /* 0x01 .. 0x7e */
                q.sc[i] = b;
                s = h_fp8f(b);
            } else {
                const uint16_t h = h_f16((float)(amp / 7.5 * (0.5 + 0.5 * fabs(urand()))));
                memcpy(&q.sc[i * 2], &h, 2);
                s = h_f16f(h);
            }
            float z = 8.0f;
            if (wk == 5) {
                z = (float)((int)((urand() + 1.0) * 8.0) & 15);
                const uint16_t h = h_f16(z);
                memcpy(&q.zr[i * 2], &h, 2);
            }
            for (int k = gi * G; k < K && k < (gi + 1) * G; k++) {
                const size_t e = (size_t)n * K + k;
                if (wk == 3) {
                    uint8_t b;
                    do
                        b = (uint8_t)((urand() + 1.0) * 128.0);
                    while ((b & 0x7f) == 0x7f);
                    q.w.raw[e] = b;
                    q.w.f[e] = h_fp8f(b) * s;
                } else if (wk == 6) {
                    const uint8_t v = (uint8_t)((int)((urand() + 1.0) * 8.0) & 15);
                    q.w.raw[e / 2] = (uint8_t)(e % 2 ? (q.w.raw[e / 2] & 15) | v << 4 : v);
                    q.vs[e] = h_e2m1f(v) * s; /* exact */
                    q.w.f[e] = q.vs[e] * ts;
                } else {
                    const uint8_t v = (uint8_t)((int)((urand() + 1.0) * 8.0) & 15);
                    q.w.raw[e / 2] = (uint8_t)(e % 2 ? (q.w.raw[e / 2] & 15) | v << 4 : v);
                    q.w.f[e] = ((float)v - z) * s;
                }
            }
        }
    if (q_lane8(wk, K, G) && !table)
        lane8_rows(wk, N, K, q.w.raw);
    return q;
}
/* Device copies of a weight and its scales and zeros, and the WQ the kernels take. */
struct DW {
    DBuf<uint8_t> w, sc, zr, ts;
    explicit DW(const QWts &q) : w(q.w.raw.size()), sc(q.sc.size()), zr(q.zr.size()), ts(q.ts.size())
    {
        w.up(q.w.raw);
        if (!q.sc.empty())
            sc.up(q.sc);
        if (!q.zr.empty())
            zr.up(q.zr);
        if (!q.ts.empty())
            ts.up(q.ts);
    }
    WQ wq(int wk) const
    {
        return wk == 6 ? WQ{{sc.p, ts.p}} : wk >= 3 ? WQ{{sc.p, wk == 5 ? zr.p : nullptr}} : WQ{};
    }
};
static QWts make_any(int wk, int N, int K, int G, double amp, int table = 0)
{
    if (wk >= 3)
        return make_wq(wk, N, K, G, amp, table);
    QWts q;
    q.w = make_w(wk, (size_t)N * K, amp);
    return q;
}
/* The weights of q ([N][K], format wk) as gemm_q and gemm_wq multiply them, for their references
 * (kernel_check, qmma_lab): wv u4 (q - z) s rounded to f16 (the kernels' one rounding), fp8
 * decode(q), nvfp4 e2m1(q) s (exact), bf16/f16 as stored; rs[n] the factor the kernels apply to
 * row n's sums (fp8 its row scale, nvfp4 the tensor scale, else 1). */
static void qmma_weights(int wk, int N, int K, const QWts &q, std::vector<double> &wv, std::vector<double> &rs)
{
    wv.assign((size_t)N * K, 0.0);
    rs.assign(N, 1.0);
    for (int n = 0; n < N; n++) {
        if (wk == 3 || wk == 6) {
            float s;
            memcpy(&s, wk == 3 ? &q.sc[(size_t)n * 4] : q.ts.data(), 4);
            rs[n] = s;
        }
        for (int k = 0; k < K; k++) {
            const double f = q.w.f[(size_t)n * K + k];
            wv[(size_t)n * K + k] = wk == 6   ? q.vs[(size_t)n * K + k]
                                    : wk >= 4 ? h_f16f(h_f16((float)f))
                                    : wk == 3 ? f / rs[n]
                                              : f;
        }
    }
}
static const char *wkname(int wk)
{
    return wk == 1 ? "bf16" : wk == 2 ? "f16" : wk == 3 ? "fp8" : wk == 4 ? "u4" : wk == 5 ? "u4 zero" : wk == 6 ? "nvfp4" : "f32";
}
constexpr int fmt_ve(int wk) { return wk == 0 ? 4 : wk <= 2 ? 8 : wk == 3 ? 16 : 32; }
constexpr long long fmt_bytes(int wk, long long K) { return wk == 0 ? 4 * K : wk <= 2 ? 2 * K : wk == 3 ? K : K / 2; }

#endif
