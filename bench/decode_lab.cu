/* decode_lab.cu — batch-1 decode matmuls of the 1B and 8B presets, chained as a decode step chains
 * them, captured in a CUDA graph and timed: where the weight stream loses bandwidth.
 *   nvcc -O2 -std=c++17 -arch=sm_90a -I ir -o decode_lab bench/decode_lab.cu && ./decode_lab
 *
 * Per layer: qkv (RMSNorm prologue), o (residual), gate/up (RMSNorm, SwiGLU), down (residual), each
 * over its own weights (no reuse through L2), then the lm_head; optionally three small kernels a
 * layer standing in for rope_kv, attention and its combine (their launch cost, not their work).
 * Variants: `gemv` (the current skinny kernel, as the emitter instantiates it) and `gemv_b1` (one
 * row, two register buffers, U loads a row in flight), with and without programmatic dependent
 * launch. Checks gemv_b1 against gemv on one layer (random weights and activations, poisoned
 * outputs) before timing. Reports us a step and GB/s of weights read, beside a read-only streaming
 * kernel and cudaMemcpy over the same bytes. */
#include "../codegen/cuda_gemv.cuh"
#include "../codegen/cuda_gemv_b1.cuh"
#include "bench_cuda.h"

#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <vector>


static int failures = 0;

__global__ void k_fill_bf16(uint16_t *p, int64_t n, uint64_t seed) /* small random values, never zero */
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ull + seed;
        h ^= h >> 31;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        float f = ((float)(h & 0xffff) / 65536.0f - 0.5f) * 0.04f + 1e-3f;
        p[i] = f32_to_bf16(f);
    }
}
__global__ void k_fill_f32(float *p, int64_t n, uint64_t seed, float scale, float bias)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ull + seed;
        h ^= h >> 29;
        h *= 0x94d049bb133111ebull;
        h ^= h >> 32;
        p[i] = ((float)(h & 0xffff) / 65536.0f - 0.5f) * scale + bias;
    }
}
/* read-only stream: the bandwidth a weight stream could reach */
__global__ void __launch_bounds__(256) k_read(const u4 *p, int64_t n, float *sink)
{
    uint32_t acc = 0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        u4 v = ld16_stream(p + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x12345678u)
        sink[0] = 1.0f;
}
/* stand-in for rope_kv / attention / combine: a small grid that reads and writes a little */
__global__ void __launch_bounds__(128) k_small(const float *x, float *y, int pdl)
{
    if (pdl)
        pdl_release();
    if (pdl)
        pdl_wait();
    int i = blockIdx.x * 128 + threadIdx.x;
    y[i] = x[i] * 0.5f + 1.0f;
}

template <int K, int N, int NORM, int EPI, int KS>
__global__ void __launch_bounds__(128) k_old(const uint16_t *w, const float *x, float *y, const float *nw, const float *res)
{
    gemv<FMT_BF16, K, N, K, (EPI == 2 ? N / 2 : N), 1, NORM, EPI, (EPI == 1 ? N : 0), 2, KS>(w, x, (const float *)0, y, 1, nw,
                                                                                      1e-5f, res);
}
template <int K, int N, int NORM, int EPI, int KS, int U>
__global__ void __launch_bounds__(128) k_new(const uint16_t *w, const float *x, float *y, const float *nw, const float *res)
{
    gemv_b1<FMT_BF16, K, N, NORM, EPI, KS, U>(w, x, (const float *)0, y, nw, 1e-5f, res);
}

struct Ctx {
    cudaStream_t s;
    int pdl;
};
template <class... P, class... A>
static void launch(Ctx &c, void (*k)(P...), int grid, int block, A... args)
{
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(grid);
    cfg.blockDim = dim3(block);
    cfg.stream = c.s;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = c.pdl ? 1 : 0;
    CK(cudaLaunchKernelEx(&cfg, k, args...));
}

/* VAR 0: gemv (KS as the emitter picks: KSO); VAR 1..: gemv_b1 with U = VAR's, KS = KSN */
template <int K, int N, int NORM, int EPI, int KSO, int KSN, int VAR>
static void mm(Ctx &c, const uint16_t *w, const float *x, float *y, const float *nw, const float *res)
{
    constexpr int UNITS = EPI == 2 ? N / 2 : (N + 1) / 2;
    if constexpr (VAR == 0)
        launch(c, k_old<K, N, NORM, EPI, KSO>, (UNITS + 4 / KSO - 1) / (4 / KSO), 128, w, x, y, nw, res);
    else
        launch(c, k_new<K, N, NORM, EPI, KSN, VAR>, (UNITS + 4 / KSN - 1) / (4 / KSN), 128, w, x, y, nw, res);
}

template <int D, int QKV, int FF, int V, int L, int KQ, int KO, int KG, int KD, int KQn, int KOn, int KGn, int KDn>
struct Model {
    std::vector<uint16_t *> wq, wo, wgu, wd;
    uint16_t *lm;
    float *x, *x2, *q, *h, *logits, *nw1, *nw2, *nwf, *small;
    double weight_bytes() const
    {
        return 2.0 * ((double)L * ((double)QKV * D + (double)D * D + 2.0 * FF * D + (double)D * FF) + (double)V * D);
    }
    void alloc()
    {
        auto wbuf = [](int64_t n, uint64_t seed) {
            uint16_t *p;
            CK(cudaMalloc(&p, n * 2));
            k_fill_bf16<<<1024, 256>>>(p, n, seed);
            return p;
        };
        for (int l = 0; l < L; l++) {
            wq.push_back(wbuf((int64_t)QKV * D, 10 * l + 1));
            wo.push_back(wbuf((int64_t)D * D, 10 * l + 2));
            wgu.push_back(wbuf((int64_t)2 * FF * D, 10 * l + 3));
            wd.push_back(wbuf((int64_t)D * FF, 10 * l + 4));
        }
        lm = wbuf((int64_t)V * D, 99);
        auto fbuf = [](int64_t n, uint64_t seed, float scale, float bias) {
            float *p;
            CK(cudaMalloc(&p, n * 4));
            k_fill_f32<<<256, 256>>>(p, n, seed, scale, bias);
            return p;
        };
        x = fbuf(D, 5, 2.0f, 0.1f);
        x2 = fbuf(D, 6, 2.0f, 0.1f);
        q = fbuf(QKV, 7, 2.0f, 0.1f);
        h = fbuf(FF, 8, 2.0f, 0.1f);
        logits = fbuf(V, 9, 1.0f, 0.0f);
        nw1 = fbuf(D, 11, 0.5f, 1.0f);
        nw2 = fbuf(D, 12, 0.5f, 1.0f);
        nwf = fbuf(D, 13, 0.5f, 1.0f);
        small = fbuf(1 << 16, 14, 1.0f, 0.0f);
        CK(cudaDeviceSynchronize());
    }
    void release()
    {
        for (int l = 0; l < L; l++) {
            cudaFree(wq[l]);
            cudaFree(wo[l]);
            cudaFree(wgu[l]);
            cudaFree(wd[l]);
        }
        cudaFree(lm);
        for (float *p : {x, x2, q, h, logits, nw1, nw2, nwf, small})
            cudaFree(p);
    }
    template <int VAR>
    void step(Ctx &c, int smalls)
    {
        for (int l = 0; l < L; l++) {
            mm<D, QKV, 1, 0, KQ, KQn, VAR>(c, wq[l], x, q, nw1, nullptr);
            for (int i = 0; i < smalls; i++) /* rope_kv, attention, combine */
                launch(c, k_small, 32, 128, (const float *)small, small + 8192 * (i + 1), c.pdl);
            mm<D, D, 0, 1, KO, KOn, VAR>(c, wo[l], q, x2, nullptr, x);
            mm<D, 2 * FF, 1, 2, KG, KGn, VAR>(c, wgu[l], x2, h, nw2, nullptr);
            mm<FF, D, 0, 1, KD, KDn, VAR>(c, wd[l], h, x, nullptr, x2);
        }
        mm<D, V, 1, 0, 1, 1, VAR>(c, lm, x, logits, nwf, nullptr);
    }
    /* one layer's qkv, o, gate/up and down through both kernels, outputs compared */
    template <int VAR>
    void check(Ctx &c)
    {
        float *yo, *yn;
        CK(cudaMalloc(&yo, 2 * FF * 4));
        CK(cudaMalloc(&yn, 2 * FF * 4));
        double worst = 0;
        for (int which = 0; which < 4; which++) {
            CK(cudaMemset(yo, 0xff, 2 * FF * 4));
            CK(cudaMemset(yn, 0xff, 2 * FF * 4));
            int n = 0;
            if (which == 0) {
                mm<D, QKV, 1, 0, KQ, KQn, 0>(c, wq[0], x, yo, nw1, nullptr);
                mm<D, QKV, 1, 0, KQ, KQn, VAR>(c, wq[0], x, yn, nw1, nullptr);
                n = QKV;
            } else if (which == 1) {
                mm<D, D, 0, 1, KO, KOn, 0>(c, wo[0], q, yo, nullptr, x);
                mm<D, D, 0, 1, KO, KOn, VAR>(c, wo[0], q, yn, nullptr, x);
                n = D;
            } else if (which == 2) {
                mm<D, 2 * FF, 1, 2, KG, KGn, 0>(c, wgu[0], x2, yo, nw2, nullptr);
                mm<D, 2 * FF, 1, 2, KG, KGn, VAR>(c, wgu[0], x2, yn, nw2, nullptr);
                n = FF;
            } else {
                mm<FF, D, 0, 1, KD, KDn, 0>(c, wd[0], h, yo, nullptr, x2);
                mm<FF, D, 0, 1, KD, KDn, VAR>(c, wd[0], h, yn, nullptr, x2);
                n = D;
            }
            CK(cudaStreamSynchronize(c.s));
            std::vector<float> ho(n), hn(n);
            CK(cudaMemcpy(ho.data(), yo, n * 4, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(hn.data(), yn, n * 4, cudaMemcpyDeviceToHost));
            double num = 0, den = 0;
            int bad = 0;
            for (int i = 0; i < n; i++) {
                if (hn[i] != hn[i] || ho[i] != ho[i])
                    bad++;
                num += (double)(hn[i] - ho[i]) * (hn[i] - ho[i]);
                den += (double)ho[i] * ho[i];
            }
            double e = bad ? 1.0 : sqrt(num / (den + 1e-30));
            worst = e > worst ? e : worst;
        }
        int ok = worst < 1e-5;
        printf("check D=%d gemv_b1<U=%d> vs gemv, 4 matrices: rel.err %.2e %s\n", D, VAR, worst, ok ? "ok" : "FAIL");
        failures += !ok;
        cudaFree(yo);
        cudaFree(yn);
    }
    template <int VAR>
    double time_graph(Ctx &c, int smalls)
    {
        return graph_us(c.s, [&]() { step<VAR>(c, smalls); }, 20);
    }
    template <int VAR>
    void report(Ctx &c, const char *name, int smalls)
    {
        const double us = time_graph<VAR>(c, smalls);
        printf("TIME D=%-5d KS %d%d%d%d %-20s pdl %d smalls %d: %8.1f us a step, %6.0f GB/s of weights, %6.1f tok/s\n", D, KQn,
               KOn, KGn, KDn, name, c.pdl, smalls, us, weight_bytes() / us * 1e-3, 1e6 / us);
    }
};

template <class M>
static void run_model(M &m, cudaStream_t s)
{
    m.alloc();
    Ctx c = {s, 0};
    m.template check<2>(c);
    m.template check<4>(c);
    c.pdl = 1;
    m.template check<4>(c);
    for (int pdl = 0; pdl < 2; pdl++) {
        c.pdl = pdl;
        for (int sm = 0; sm <= 3; sm += 3) {
            m.template report<0>(c, "gemv (current)", sm);
            m.template report<2>(c, "gemv_b1 U=2", sm);
            m.template report<4>(c, "gemv_b1 U=4", sm);
            if (pdl == 0)
                break;
        }
    }
    m.release();
}

/* One matrix shape chained over L copies of its weights: us a launch for each K split and loads in
 * flight, with and without PDL, and the current kernel. */
template <int K, int N, int NORM, int EPI, int KS, int U>
static double sweep_one(cudaStream_t s, int pdl, const std::vector<uint16_t *> &w, const float *x, float *y,
                        const float *nw, const float *res)
{
    Ctx c = {s, pdl};
    return graph_us(
               s,
               [&]() {
                   for (size_t l = 0; l < w.size(); l++)
                       mm<K, N, NORM, EPI, (KS ? KS : 1), (KS ? KS : 1), U>(c, w[l], x, y, nw, res);
               },
               10) /
           w.size();
}
template <int K, int N, int NORM, int EPI>
static void sweep(cudaStream_t s, const char *name, int L, int KSO)
{
    std::vector<uint16_t *> w;
    for (int l = 0; l < L; l++) {
        uint16_t *p;
        CK(cudaMalloc(&p, (size_t)N * K * 2));
        k_fill_bf16<<<1024, 256>>>(p, (int64_t)N * K, 77 + l);
        w.push_back(p);
    }
    float *x, *y, *nw, *res;
    CK(cudaMalloc(&x, K * 4));
    CK(cudaMalloc(&y, N * 4));
    CK(cudaMalloc(&nw, K * 4));
    CK(cudaMalloc(&res, N * 4));
    k_fill_f32<<<64, 256>>>(x, K, 1, 2.0f, 0.1f);
    k_fill_f32<<<64, 256>>>(nw, K, 2, 0.5f, 1.0f);
    k_fill_f32<<<64, 256>>>(res, N, 3, 1.0f, 0.0f);
    CK(cudaDeviceSynchronize());
    const double mb = (double)N * K * 2 / 1e6;
    double t;
    if (KSO == 1)
        t = sweep_one<K, N, NORM, EPI, 1, 0>(s, 0, w, x, y, nw, res);
    else if (KSO == 2)
        t = sweep_one<K, N, NORM, EPI, 2, 0>(s, 0, w, x, y, nw, res);
    else
        t = sweep_one<K, N, NORM, EPI, 4, 0>(s, 0, w, x, y, nw, res);
    printf("SWEEP %-12s %7.1f MB  gemv KS%d          %7.2f us %5.0f GB/s\n", name, mb, KSO, t, mb / t * 1e3);
    for (int pdl = 0; pdl < 2; pdl++) {
#define ONE(KS_, U_)                                                                                                \
    t = sweep_one<K, N, NORM, EPI, KS_, U_>(s, pdl, w, x, y, nw, res);                                                \
    printf("SWEEP %-12s %7.1f MB  b1 KS%d U%d pdl%d    %7.2f us %5.0f GB/s\n", name, mb, KS_, U_, pdl, t, mb / t * 1e3);
        ONE(1, 1) ONE(1, 2) ONE(1, 3) ONE(1, 4) ONE(2, 1) ONE(2, 2) ONE(2, 3) ONE(2, 4) ONE(4, 1) ONE(4, 2) ONE(4, 3)
#undef ONE
    }
    for (auto p : w)
        cudaFree(p);
    cudaFree(x);
    cudaFree(y);
    cudaFree(nw);
    cudaFree(res);
}

int main(void)
{
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d, %d SMs, L2 %d MB)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
           prop.l2CacheSize >> 20);
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    { /* copy and read-only bandwidth over 4 GiB */
        const int64_t n = INT64_C(4) << 30;
        uint8_t *a, *b;
        float *sink;
        CK(cudaMalloc(&a, n));
        CK(cudaMalloc(&b, n));
        CK(cudaMalloc(&sink, 4));
        CK(cudaMemset(a, 1, n));
        double us = time_us([&]() { CK(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice, s)); }, 5, s);
        printf("TIME copy: %.0f GB/s (read + write)\n", 2.0 * n / (us * 1e-6) / 1e9);
        for (int blocks : {prop.multiProcessorCount * 4, prop.multiProcessorCount * 8, prop.multiProcessorCount * 16}) {
            us = time_us([&]() { k_read<<<blocks, 256, 0, s>>>((const u4 *)a, n / 16, sink); }, 5, s);
            printf("TIME read-only stream (%d blocks of 256): %.0f GB/s\n", blocks, (double)n / (us * 1e-6) / 1e9);
        }
        cudaFree(a);
        cudaFree(b);
        cudaFree(sink);
    }
    if (getenv("SWEEP")) {
        sweep<2048, 3072, 1, 0>(s, "1B qkv", 16, 4);
        sweep<2048, 2048, 0, 1>(s, "1B o", 16, 4);
        sweep<2048, 16384, 1, 2>(s, "1B gate/up", 16, 1);
        sweep<8192, 2048, 0, 1>(s, "1B down", 16, 1);
        sweep<2048, 128256, 1, 0>(s, "1B lm_head", 2, 1);
        sweep<4096, 6144, 1, 0>(s, "8B qkv", 32, 1);
        sweep<4096, 4096, 0, 1>(s, "8B o", 32, 1);
        sweep<4096, 28672, 1, 2>(s, "8B gate/up", 16, 1);
        sweep<14336, 4096, 0, 1>(s, "8B down", 32, 1);
        sweep<4096, 128256, 1, 0>(s, "8B lm_head", 2, 1);
        return 0;
    }
    {
        /* llama3.2-1b: qkv and o split K in 4 (as the emitter picks), gate/up and down not */
        Model<2048, 3072, 8192, 128256, 16, 4, 4, 1, 1, 4, 4, 1, 2> m1;
        run_model(m1, s);
    }
    {
        Model<2048, 3072, 8192, 128256, 16, 4, 4, 1, 1, 2, 2, 2, 4> m1;
        run_model(m1, s);
    }
    {
        Model<4096, 6144, 14336, 128256, 32, 1, 1, 1, 1, 1, 1, 1, 1> m8;
        run_model(m8, s);
    }
    {
        Model<4096, 6144, 14336, 128256, 32, 1, 1, 1, 1, 2, 2, 1, 2> m8;
        run_model(m8, s);
    }
    printf("%s, %d failures\n", failures ? "FAIL" : "PASS", failures);
    return failures != 0;
}
