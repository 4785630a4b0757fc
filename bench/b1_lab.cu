/* b1_lab.cu — batch-1 decode matmuls of the 8B preset in the quantized formats (issue 10's 80% of
 * the 4-bit roofline): gemv_b1 as the emitter instantiates it (codegen/cuda_matmul.c: K split KS,
 * U loads a row in flight, `__launch_bounds__(128)`: mb0) against the other (KS, U) choices under a
 * least of 1 block an SM (mb1) and one that forces 8 (mb8), each matrix over L layers of distinct
 * weights (no reuse through L2) launched as a decode step launches them (programmatic dependent
 * launch, captured in a CUDA graph); then a layer's four matmuls chained over L layers with the
 * emitter's choices and with the fastest of each matrix. qkv runs without its RoPE/KV epilogue (the same weight stream); "nonorm" variants
 * drop the RMSNorm prologue's x * nw products (what folding the norm's weight into the weights
 * would save). Each variant's output is checked against the emitter's (f32 sums in another order:
 * a relative tolerance; kernel_check checks gemv_b1 itself against a reference). u4 also runs
 * b1_tc.cuh's one-row tensor-core experiment ("tc"; x's f16 pairs made by k_xpairs first: alone,
 * the matrix's time without it; in the chain, with a k_xpairs launch before each matmul), and
 * b1_h2.cuh's f16x2 kernel ("h2": weights scaled in f16, "h2u": group sums scaled in f32; each checked
 * against the emitter within 4e-3 of its largest output, a chain each of the fastest). u4z is u4
 * with zero points. gemv_b1's R, XF and ROLL options (gemv_b1x) were measured here in round 10 and
 * deleted (bench/NOTES.md "b1x"; the code last lived at e55cc8c).
 *   nvcc -O2 -std=c++17 -arch=sm_90a -I ir -o b1_lab bench/b1_lab.cu && ./b1_lab [u4|u4z|nvfp4|fp8] [L]
 */
#include "../codegen/cuda_gemv_b1.cuh"
#include "b1_h2.cuh"
#include "b1_tc.cuh"
#include "bench_weights.h"

#include <string>

template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int G, int MB>
__global__ void __launch_bounds__(128, MB) k_b1(const void *w, const float *x, float *y, const float *nw,
                                                const float *res, WQ wq)
{
    gemv_b1<KF(WK), K, N, NORM, EPI, KS, U, 0, 1, 1, 2, 1, 1, FMT_F16, G>(w, x, nullptr, y, nw, 1e-5f, res, RopeOut{},
                                                                         wq);
}

typedef void (*Launch)(cudaStream_t, int pdl, const void *w, WQ wq, const float *x, float *y, const float *nw,
                       const float *res);
typedef void (*LaunchTc)(cudaStream_t, int pdl, const void *w, WQ wq, const uint32_t *xp, float *y, const float *res);
struct Var {
    std::string name;
    int ks, u, mb, norm;
    Launch run;
    LaunchTc tc; /* b1_tc.cuh's kernel (run null): x's pairs made beforehand */
    int xh2 = 0; /* tc is b1_h2.cuh's XP 1 kernel: x's pairs by k_xh2 (b1_h2.cuh's layout) */
};
/* The emitter's launch bound: 128 threads, no least blocks an SM (mb0), as the emitted kernels
 * (`__launch_bounds__(128)`). Not mb1: a least of 1 block lets ptxas take up to 255 registers (gemv_b1
 * at the 8B's gate/up: 182 with it, 56 without, nvcc 13.0 for sm_90a; NVRTC gives the emitted kernel
 * the same 56), likely why round 5's "emitter" (mb1 then) ran slower than the emitted kernel
 * (bench/NOTES.md "b1x"). */
constexpr int MB_EMIT = 0;
static void pdl_cfg(cudaLaunchConfig_t &cfg, cudaLaunchAttribute *at, cudaStream_t s, int pdl, int grid, int block)
{
    cfg = {};
    cfg.gridDim = dim3(grid);
    cfg.blockDim = dim3(block);
    cfg.stream = s;
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = pdl ? 1 : 0;
}
template <int K, int N, int EPI, int KS>
static void run_tc(cudaStream_t s, int pdl, const void *w, WQ wq, const uint32_t *xp, float *y, const float *res)
{
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute at[1];
    pdl_cfg(cfg, at, s, pdl, (N / 8 + 4 / KS - 1) / (4 / KS), 128);
    CK(cudaLaunchKernelEx(&cfg, k_tc1<K, N, EPI, KS>, w, xp, y, res, wq));
}
template <int K, int NORM>
static void run_xpairs(cudaStream_t s, int pdl, const float *x, const float *nw, uint32_t *xp)
{
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute at[1];
    pdl_cfg(cfg, at, s, pdl, 1, 512);
    CK(cudaLaunchKernelEx(&cfg, k_xpairs<K, NORM>, x, nw, 1e-5f, xp));
}
template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int G, int MB>
static void run_b1(cudaStream_t s, int pdl, const void *w, WQ wq, const float *x, float *y, const float *nw,
                   const float *res)
{
    constexpr int UNITS = EPI == 2 ? N / 2 : (N + 1) / 2;
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute at[1];
    pdl_cfg(cfg, at, s, pdl, (UNITS + 4 / KS - 1) / (4 / KS), 128);
    CK(cudaLaunchKernelEx(&cfg, k_b1<WK, K, N, NORM, EPI, KS, U, G, MB>, w, x, y, nw, res, wq));
}

/* b1_h2.cuh's f16x2 kernel (x's pairs made by the block: XP 0), gemv_b1's grid */
template <int K, int N, int NORM, int EPI, int KS, int U, int FOLD>
static void run_h2(cudaStream_t s, int pdl, const void *w, WQ wq, const float *x, float *y, const float *nw,
                   const float *res)
{
    constexpr int UNITS = EPI == 2 ? N / 2 : (N + 1) / 2;
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute at[1];
    pdl_cfg(cfg, at, s, pdl, (UNITS + 4 / KS - 1) / (4 / KS), 128);
    CK(cudaLaunchKernelEx(&cfg, k_h2<K, N, NORM, EPI, KS, U, 0, FOLD>, w, x, (const uint4 *)nullptr, y, nw, 1e-5f, res,
                          wq));
}

/* b1_h2.cuh's kernel reading x's pairs made beforehand (XP 1; k_xh2 stands in for the producer) */
template <int K, int N, int EPI, int KS, int U>
static void run_h2p(cudaStream_t s, int pdl, const void *w, WQ wq, const uint32_t *xp, float *y, const float *res)
{
    constexpr int UNITS = EPI == 2 ? N / 2 : (N + 1) / 2;
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute at[1];
    pdl_cfg(cfg, at, s, pdl, (UNITS + 4 / KS - 1) / (4 / KS), 128);
    CK(cudaLaunchKernelEx(&cfg, k_h2<K, N, 0, EPI, KS, U, 1, 1>, w, (const float *)nullptr, (const uint4 *)xp, y,
                          (const float *)nullptr, 1e-5f, res, wq));
}
template <int K, int NORM>
static void run_xh2(cudaStream_t s, int pdl, const float *x, const float *nw, uint32_t *xp)
{
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute at[1];
    pdl_cfg(cfg, at, s, pdl, 1, 128);
    CK(cudaLaunchKernelEx(&cfg, k_xh2<K, NORM>, x, nw, 1e-5f, (uint4 *)xp));
}

/* every (KS, U, MB) of one matrix; the emitter's choice first */
template <int WK, int K, int N, int NORM, int EPI, int G, int EKS, int EU>
static std::vector<Var> variants()
{
    std::vector<Var> v;
    auto add = [&](const char *nm, int ks, int u, int mb, int norm, Launch l) {
        v.push_back({nm, ks, u, mb, norm, l, nullptr});
    };
    add("emitter", EKS, EU, MB_EMIT, NORM, run_b1<WK, K, N, NORM, EPI, EKS, EU, G, MB_EMIT>);
#define LLMC_V(ks, u, mb) add("", ks, u, mb, NORM, run_b1<WK, K, N, NORM, EPI, ks, u, G, mb>);
    LLMC_V(1, 1, 1) LLMC_V(2, 1, 1) LLMC_V(4, 1, 1) LLMC_V(1, 2, 1) LLMC_V(2, 2, 1) LLMC_V(4, 2, 1)
    LLMC_V(1, 1, 8) LLMC_V(2, 1, 8) LLMC_V(4, 1, 8) LLMC_V(1, 2, 8) LLMC_V(2, 2, 8) LLMC_V(4, 2, 8)
#undef LLMC_V
    if (NORM)
        add("nonorm", EKS, EU, MB_EMIT, 0, run_b1<WK, K, N, 0, EPI, EKS, EU, G, MB_EMIT>);
    if constexpr (WK == 4 && G == 128) {
        v.push_back({"tc", 1, 0, 0, NORM, nullptr, run_tc<K, N, EPI, 1>});
        v.push_back({"tc", 2, 0, 0, NORM, nullptr, run_tc<K, N, EPI, 2>});
        v.push_back({"tc", 4, 0, 0, NORM, nullptr, run_tc<K, N, EPI, 4>});
        /* b1_h2.cuh: "h2" the weights scaled in f16 (FOLD 1), "h2u" each group's f16 sum scaled in f32 */
#define LLMC_H(nm, ks, u, f) add(nm, ks, u, 0, NORM, run_h2<K, N, NORM, EPI, ks, u, f>);
        LLMC_H("h2", 1, 1, 1) LLMC_H("h2", 2, 1, 1) LLMC_H("h2", 4, 1, 1) LLMC_H("h2", 1, 2, 1) LLMC_H("h2", 2, 2, 1)
        LLMC_H("h2u", 1, 1, 0) LLMC_H("h2u", 2, 1, 0) LLMC_H("h2u", 4, 1, 0)
#undef LLMC_H
        Var h{"h2p", 1, 1, 0, NORM, nullptr, run_h2p<K, N, EPI, 1, 1>};
        h.xh2 = 1;
        v.push_back(h);
        h.ks = 2;
        h.tc = run_h2p<K, N, EPI, 2, 1>;
        v.push_back(h);
    }
    return v;
}

/* "ks2 u1 mb8": a variant's K split, loads in flight and register bound */
static std::string label(const Var &v)
{
    char b[64];
    snprintf(b, sizeof b, "ks%d u%d mb%d", v.ks, v.u, v.mb);
    return b;
}

struct Mat {
    const char *name;
    int K, N, norm, epi;
    std::vector<DW *> w; /* a copy a layer */
    double bytes;        /* weights, scales and zeros of one copy */
    std::vector<Var> v;
    double tc_us = 1e30; /* the tensor-core experiment's fastest K split (u4) */
    int tc_best = -1;
    int h2_best = -1, h2u_best = -1; /* b1_h2.cuh's fastest of each kind (u4) */
    double h2_us = 1e30, h2u_us = 1e30, h2p_us = 1e30;
    int h2p_best = -1;
};

int main(int argc, char **argv)
{
    const std::string fmt = argc > 1 ? argv[1] : "u4";
    const int L = argc > 2 ? atoi(argv[2]) : 11;
    const int wk = fmt == "u4" ? 4 : fmt == "u4z" ? 5 : fmt == "nvfp4" ? 6 : fmt == "fp8" ? 3 : -1;
    if (wk < 0 || L < 1) {
        fprintf(stderr, "usage: b1_lab [u4|u4z|nvfp4|fp8] [layers]\n");
        return 2;
    }
    cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, 0));
    printf("device: %s (sm_%d%d, %d SMs); format %s, %d layers\n", pr.name, pr.major, pr.minor, pr.multiProcessorCount,
           fmt.c_str(), L);
    const double tbs = copy_tbs();
    printf("copy bandwidth %.2f TB/s\n", tbs);
    /* the 8B's matrices; the emitter's (KS, U) for them (cuda_matmul.c: quantized rows split until 7
     * blocks an SM, one load a row in flight, 132 SMs: qkv, o and down K split 2, gate/up 1; the
     * "emitted" chain of round 10, which this "emitter" now is) */
    std::vector<Mat> m = {{"qkv", 4096, 6144, 1, 0, {}, 0, {}},
                          {"o", 4096, 4096, 0, 1, {}, 0, {}},
                          {"gate/up", 4096, 28672, 1, 2, {}, 0, {}},
                          {"down", 14336, 4096, 0, 1, {}, 0, {}}};
    /* G: the group of the K-4096 matrices, GD the down matrix's (fp8: a scale a row, a group of K);
     * every format takes the same (KS, U) from the emitter for these shapes (the rule of quantized
     * rows) */
#define LLMC_M(G, GD)                                                                                                  \
    m[0].v = variants<W, 4096, 6144, 1, 0, G, 2, 1>();                                                                  \
    m[1].v = variants<W, 4096, 4096, 0, 1, G, 2, 1>();                                                                  \
    m[2].v = variants<W, 4096, 28672, 1, 2, G, 1, 1>();                                                                 \
    m[3].v = variants<W, 14336, 4096, 0, 1, GD, 2, 1>();
    int G, GD;
    if (wk == 4) {
        constexpr int W = 4;
        G = GD = 128;
        LLMC_M(128, 128)
    } else if (wk == 5) {
        constexpr int W = 5;
        G = GD = 128;
        LLMC_M(128, 128)
    } else if (wk == 6) {
        constexpr int W = 6;
        G = GD = 16;
        LLMC_M(16, 16)
    } else {
        constexpr int W = 3;
        G = 4096, GD = 14336;
        LLMC_M(4096, 14336)
    }
#undef LLMC_M
    size_t maxn = 0;
    for (auto &mm : m)
        maxn = std::max(maxn, (size_t)std::max(mm.N, mm.K));
    const std::vector<float> hx = rand_f32(maxn, 1.0), hnw = rand_f32(maxn, 0.5, 1.0);
    for (auto &mm : m) {
        const int g = mm.K == 14336 ? GD : G;
        const QWts q = make_any(wk, mm.N, mm.K, g, 0.05);
        mm.bytes = (double)q.w.raw.size() + q.sc.size() + q.zr.size() + q.ts.size();
        for (int l = 0; l < L; l++)
            mm.w.push_back(new DW(q));
    }
    DBuf<float> x(maxn), y(maxn), y2(maxn), nw(maxn), res(maxn);
    x.up(hx);
    nw.up(hnw);
    res.up(rand_f32(maxn, 1.0));
    cudaStream_t s;
    CK(cudaStreamCreate(&s));

    /* the tensor-core experiment's x pairs (k_xpairs: x, times nw / rms(x) where the matrix has the norm) */
    DBuf<uint32_t> xp(maxn);
    auto pairs = [&](int K, int norm, const float *src, uint32_t *dst, int pdl, int h2 = 0) {
        if (h2 && K == 4096 && norm)
            run_xh2<4096, 1>(s, pdl, src, nw.p, dst);
        else if (h2 && K == 4096)
            run_xh2<4096, 0>(s, pdl, src, nw.p, dst);
        else if (h2)
            run_xh2<14336, 0>(s, pdl, src, nw.p, dst);
        else if (K == 4096 && norm)
            run_xpairs<4096, 1>(s, pdl, src, nw.p, dst);
        else if (K == 4096)
            run_xpairs<4096, 0>(s, pdl, src, nw.p, dst);
        else
            run_xpairs<14336, 0>(s, pdl, src, nw.p, dst);
    };
    /* checks: each variant's output against the emitter's (layer 0's weights) */
    for (auto &mm : m) {
        const int no = mm.epi == 2 ? mm.N / 2 : mm.N;
        y.poison();
        mm.v[0].run(s, 0, mm.w[0]->w.p, mm.w[0]->wq(wk), x.p, y.p, nw.p, res.p);
        CK(cudaStreamSynchronize(s));
        const std::vector<float> want = y.down();
        for (size_t i = 1; i < mm.v.size(); i++) {
            Var &v = mm.v[i];
            if (!v.norm && mm.norm)
                continue; /* another function of x: not comparable */
            y2.poison();
            if (v.tc) {
                pairs(mm.K, mm.norm, x.p, xp.p, 0, v.xh2);
                v.tc(s, 0, mm.w[0]->w.p, mm.w[0]->wq(wk), xp.p, y2.p, res.p);
            } else {
                v.run(s, 0, mm.w[0]->w.p, mm.w[0]->wq(wk), x.p, y2.p, nw.p, res.p);
            }
            CK(cudaStreamSynchronize(s));
            const std::vector<float> got = y2.down();
            double worst = 0, big = 0;
            for (int o = 0; o < no; o++)
                big = std::max(big, (double)fabs(want[o]));
            for (int o = 0; o < no; o++) {
                const double d = fabs((double)got[o] - want[o]) / (big + 1e-30);
                worst = got[o] == got[o] ? std::max(worst, d) : 1e9;
            }
            char what[160];
            snprintf(what, sizeof what, "b1_lab %s %s %s = emitter", fmt.c_str(), mm.name, label(v).c_str());
            /* h2/h2u: f16 products and slot sums (b1_h2.cuh), so a looser bound than f32's order */
            verdict(what, worst, v.name.rfind("h2", 0) == 0 ? 4e-3 : 1e-5, 0);
        }
    }

    /* each matrix alone: L launches over the layers' copies, in a graph, with PDL */
    std::vector<int> fastest;
    for (auto &mm : m) {
        double best = 1e30;
        int bi = 0;
        for (size_t i = 0; i < mm.v.size(); i++) {
            Var &v = mm.v[i];
            if (v.tc)
                pairs(mm.K, mm.norm, x.p, xp.p, 0, v.xh2);
            const double us = graph_us(s, [&]() {
                for (int l = 0; l < L; l++)
                    if (v.tc)
                        v.tc(s, 1, mm.w[l]->w.p, mm.w[l]->wq(wk), xp.p, y.p, res.p);
                    else
                        v.run(s, 1, mm.w[l]->w.p, mm.w[l]->wq(wk), x.p, y.p, nw.p, res.p);
            }, 20) / L;
            if (v.name == "tc" && us < mm.tc_us)
                mm.tc_us = us, mm.tc_best = (int)i;
            if (v.name == "h2" && us < mm.h2_us)
                mm.h2_us = us, mm.h2_best = (int)i;
            if (v.name == "h2u" && us < mm.h2u_us)
                mm.h2u_us = us, mm.h2u_best = (int)i;
            if (v.name == "h2p" && us < mm.h2p_us)
                mm.h2p_us = us, mm.h2p_best = (int)i;
            if (v.name != "nonorm" && v.name != "tc" && v.name.rfind("h2", 0) != 0 && us < best)
                best = us, bi = (int)i;
            printf("TIME b1 %-5s %-8s %-8s %s %7.2f us %6.0f GB/s %5.1f%% of copy\n", fmt.c_str(), mm.name,
                   v.name.c_str(), label(v).c_str(), us, mm.bytes / us * 1e-3, mm.bytes / us * 1e-6 / tbs * 100);
        }
        fastest.push_back(bi);
    }
    /* the chain: a layer's four matmuls, L layers (x -> qkv -> o -> gate/up -> down) */
    double bytes = 0;
    for (auto &mm : m)
        bytes += mm.bytes * L;
    DBuf<float> a(maxn), b(maxn), c(maxn);
    a.up(rand_f32(maxn, 1.0));
    /* chains: 0 the emitter's, 1 the fastest gemv_b1, 2 and 3 the fastest h2 and h2u of each matrix (u4) */
    for (int pk = 0; pk < 4; pk++) {
        if (pk >= 2 && m[0].h2_best < 0)
            break;
        auto pick = [&](const Mat &mm, int i) { return pk == 0 ? 0 : pk == 1 ? fastest[i] : pk == 2 ? mm.h2_best : mm.h2u_best; };
        const int p0 = pick(m[0], 0), p1 = pick(m[1], 1), p2 = pick(m[2], 2), p3 = pick(m[3], 3);
        const double us = graph_us(s, [&]() {
            for (int l = 0; l < L; l++) {
                m[0].v[p0].run(s, 1, m[0].w[l]->w.p, m[0].w[l]->wq(wk), a.p, b.p, nw.p, nullptr);
                m[1].v[p1].run(s, 1, m[1].w[l]->w.p, m[1].w[l]->wq(wk), b.p, c.p, nw.p, a.p);
                m[2].v[p2].run(s, 1, m[2].w[l]->w.p, m[2].w[l]->wq(wk), c.p, b.p, nw.p, nullptr);
                m[3].v[p3].run(s, 1, m[3].w[l]->w.p, m[3].w[l]->wq(wk), b.p, a.p, nw.p, c.p);
            }
        }, 20);
        printf("TIME b1 %-5s chain %-8s %8.1f us %6.0f GB/s %5.1f%% of copy (qkv %s, o %s, gate/up %s, down %s)\n",
               fmt.c_str(), pk == 0 ? "emitter" : pk == 1 ? "fastest" : pk == 2 ? "h2" : "h2u", us, bytes / us * 1e-3, bytes / us * 1e-6 / tbs * 100,
               label(m[0].v[p0]).c_str(), label(m[1].v[p1]).c_str(), label(m[2].v[p2]).c_str(),
               label(m[3].v[p3]).c_str());
    }
    /* the pairs-fed chains (the tensor-core experiment, b1_h2.cuh's XP 1): a pairs launch before each matmul */
    for (int h2 = 0; h2 < 2; h2++) {
        auto best = [&](const Mat &mm) { return h2 ? mm.h2p_best : mm.tc_best; };
        if (best(m[0]) < 0)
            continue;
        DBuf<uint32_t> xq(maxn);
        const double us = graph_us(s, [&]() {
            for (int l = 0; l < L; l++) {
                pairs(4096, 1, a.p, xq.p, 1, h2);
                m[0].v[best(m[0])].tc(s, 1, m[0].w[l]->w.p, m[0].w[l]->wq(wk), xq.p, b.p, nullptr);
                pairs(4096, 0, b.p, xq.p, 1, h2);
                m[1].v[best(m[1])].tc(s, 1, m[1].w[l]->w.p, m[1].w[l]->wq(wk), xq.p, c.p, a.p);
                pairs(4096, 1, c.p, xq.p, 1, h2);
                m[2].v[best(m[2])].tc(s, 1, m[2].w[l]->w.p, m[2].w[l]->wq(wk), xq.p, b.p, nullptr);
                pairs(14336, 0, b.p, xq.p, 1, h2);
                m[3].v[best(m[3])].tc(s, 1, m[3].w[l]->w.p, m[3].w[l]->wq(wk), xq.p, a.p, c.p);
            }
        }, 20);
        const double xus = graph_us(s, [&]() {
            for (int l = 0; l < L; l++) {
                pairs(4096, 1, a.p, xq.p, 1, h2);
                pairs(4096, 0, b.p, xq.p, 1, h2);
                pairs(4096, 1, c.p, xq.p, 1, h2);
                pairs(14336, 0, b.p, xq.p, 1, h2);
            }
        }, 20);
        const double sum = h2 ? m[0].h2p_us + m[1].h2p_us + m[2].h2p_us + m[3].h2p_us
                              : m[0].tc_us + m[1].tc_us + m[2].tc_us + m[3].tc_us;
        printf("TIME b1 %-5s chain %-8s %8.1f us %6.0f GB/s %5.1f%% of copy, its pairs alone %.1f us (the matmuls' sum "
               "alone: %.1f us; qkv ks%d, o ks%d, gate/up ks%d, down ks%d)\n",
               fmt.c_str(), h2 ? "h2p" : "tc", us, bytes / us * 1e-3, bytes / us * 1e-6 / tbs * 100, xus, L * sum,
               m[0].v[best(m[0])].ks, m[1].v[best(m[1])].ks, m[2].v[best(m[2])].ks, m[3].v[best(m[3])].ks);
    }
    for (auto &mm : m)
        for (auto *d : mm.w)
            delete d;
    CK(cudaStreamDestroy(s));
    printf("%s: %d of %d checks failed\n", failures ? "FAIL" : "PASS", failures, checks);
    return failures ? 1 : 0;
}
