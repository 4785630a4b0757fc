/* b1_lab.cu — batch-1 decode matmuls of the 8B preset in the quantized formats (issue 10's 80% of
 * the 4-bit roofline): gemv_b1 as the emitter instantiates it (codegen/cuda_matmul.c: K split KS,
 * U loads a row in flight) against the other (KS, U) choices and a launch bound that forces 8
 * blocks an SM (mb8; mb1: none), each matrix over L layers of distinct weights (no reuse through L2) launched as a
 * decode step launches them (programmatic dependent launch, captured in a CUDA graph); then a
 * layer's four matmuls chained over L layers with the emitter's choices and with the fastest of
 * each matrix. qkv runs without its RoPE/KV epilogue (the same weight stream); "nonorm" variants
 * drop the RMSNorm prologue's x * nw products (what folding the norm's weight into the weights
 * would save). Each variant's output is checked against the emitter's (f32 sums in another order:
 * a relative tolerance; kernel_check checks gemv_b1 itself against a reference). u4 also runs
 * b1_tc.cuh's one-row tensor-core experiment ("tc"; x's f16 pairs made by k_xpairs first: alone,
 * the matrix's time without it; in the chain, with a k_xpairs launch before each matmul). The 4-bit
 * formats (u4, u4z: u4 with zero points, nvfp4) also run gemv_b1's R, XF and ROLL options (gemv_b1x,
 * "r4.f16" ...: R rows a lane, the activation as x and nw, x * nw or f16 made by b1_prenorm, the
 * groups in a loop; bench/NOTES.md "b1x"), at the emitter's launch bound, with a chain each and the
 * "emitted" chain (r2.f32: the emitted kernels) as their baseline.
 *   nvcc -O2 -std=c++17 -arch=sm_90a -I ir -o b1_lab bench/b1_lab.cu && ./b1_lab [u4|u4z|nvfp4|fp8] [L]
 */
#include "../codegen/cuda_gemv_b1.cuh"
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

/* gemv_b1's R and XF options (gemv_b1x): R rows a lane, the activation in form XF (0 x f32 and nw, 1
 * x * nw f32 and 1/rms from b1_prenorm, 2 f16 from b1_prenorm), yh: the output also as f16 */
template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int G, int MB, int R, int XF, int ROLL>
__global__ void __launch_bounds__(128, MB) k_b1x(const void *w, const float *x, const void *xa, float *y, uint16_t *yh,
                                                 const float *nw, const float *rinv, const float *res, WQ wq)
{
    gemv_b1<KF(WK), K, N, NORM, EPI, KS, U, 0, 1, 1, 2, 1, 1, FMT_F16, G, R, XF, ROLL>(w, x, nullptr, y, nw, 1e-5f, res,
                                                                                     RopeOut{}, wq, xa, rinv, yh);
}
template <int K, int NORM, int XF>
__global__ void __launch_bounds__(128) k_prenorm(const float *x, const float *nw, void *xa, float *rinv)
{
    b1_prenorm<K, NORM, XF>(x, nw, 1e-5f, xa, rinv);
}

typedef void (*Launch)(cudaStream_t, int pdl, const void *w, WQ wq, const float *x, float *y, const float *nw,
                       const float *res);
/* a gemv_b1x variant's arguments */
struct XA {
    const float *x;
    const void *xa;
    float *y;
    uint16_t *yh;
    const float *nw, *rinv, *res;
};
typedef void (*LaunchX)(cudaStream_t, int pdl, const void *w, WQ wq, const XA &a);
typedef void (*LaunchTc)(cudaStream_t, int pdl, const void *w, WQ wq, const uint32_t *xp, float *y, const float *res);
struct Var {
    std::string name;
    int ks, u, mb, norm;
    Launch run;
    LaunchTc tc; /* b1_tc.cuh's kernel (run null): x's pairs made beforehand */
    int r = 2, xf = 0, roll = 0; /* gemv_b1x's (runx): rows a lane, activation form, groups in a loop */
    LaunchX runx = nullptr;
};
/* gemv_b1x's launch bound: 128 threads, no least blocks an SM (mb0), as the emitter's kernels
 * (`__launch_bounds__(128)`). Not mb1: a least of 1 block lets ptxas take up to 255 registers (gemv_b1
 * at the 8B's gate/up: 182 with it, 56 without, nvcc 13.0 for sm_90a; NVRTC gives the emitted kernel
 * the same 56), likely why the old rows' "emitter" (mb1) ran slower than the emitted kernel in round
 * 5 (bench/NOTES.md "b1x"). */
constexpr int MB_ROWS = 0;
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
template <int WK, int K, int N, int NORM, int EPI, int G, int R, int XF, int ROLL, int KS>
static void run_b1x(cudaStream_t s, int pdl, const void *w, WQ wq, const XA &a)
{
    constexpr int UNITS = N / R; /* R / 2 gate rows and their up rows, or R rows */
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute at[1];
    pdl_cfg(cfg, at, s, pdl, (UNITS + 4 / KS - 1) / (4 / KS), 128);
    CK(cudaLaunchKernelEx(&cfg, k_b1x<WK, K, N, NORM, EPI, KS, 1, G, MB_ROWS, R, XF, ROLL>, w, a.x, a.xa, a.y, a.yh, a.nw,
                          a.rinv, a.res, wq));
}
/* b1_prenorm's launch: 8 blocks of 128 threads */
template <int K, int NORM, int XF>
static void run_prenorm(cudaStream_t s, int pdl, const float *x, const float *nw, void *xa, float *rinv)
{
    cudaLaunchConfig_t cfg;
    cudaLaunchAttribute at[1];
    pdl_cfg(cfg, at, s, pdl, 8, 128);
    CK(cudaLaunchKernelEx(&cfg, k_prenorm<K, NORM, XF>, x, nw, xa, rinv));
}
static const char *xf_name(int xf) { return xf == 0 ? "f32" : xf == 1 ? "xn" : "f16"; }
/* gemv_b1x's rows at R, XF and ROLL ("r4.f16", "r8l.xn": l for the loop): K split 1, 2 and 4 (R 2:
 * only EKS, the emitter's: with mb0 it is the emitted kernel, the old variants sweep the rest), one
 * load a row in flight */
template <int WK, int K, int N, int NORM, int EPI, int G, int EKS, int R, int XF, int ROLL>
static void add_rows(std::vector<Var> &v)
{
    if constexpr (XF != 1 || NORM) {
        char nm[16];
        snprintf(nm, sizeof nm, "r%d%s.%s", R, ROLL ? "l" : "", xf_name(XF));
        if constexpr (R == 2) { /* only the K split taken: the others are not instantiated */
            v.push_back({nm, EKS, 1, MB_ROWS, NORM, nullptr, nullptr, R, XF, ROLL,
                         run_b1x<WK, K, N, NORM, EPI, G, R, XF, ROLL, EKS>});
        } else {
            v.push_back({nm, 1, 1, MB_ROWS, NORM, nullptr, nullptr, R, XF, ROLL,
                         run_b1x<WK, K, N, NORM, EPI, G, R, XF, ROLL, 1>});
            v.push_back({nm, 2, 1, MB_ROWS, NORM, nullptr, nullptr, R, XF, ROLL,
                         run_b1x<WK, K, N, NORM, EPI, G, R, XF, ROLL, 2>});
            v.push_back({nm, 4, 1, MB_ROWS, NORM, nullptr, nullptr, R, XF, ROLL,
                         run_b1x<WK, K, N, NORM, EPI, G, R, XF, ROLL, 4>});
        }
    }
}

/* every (KS, U, MB) of one matrix; the emitter's choice first */
template <int WK, int K, int N, int NORM, int EPI, int G, int EKS, int EU>
static std::vector<Var> variants()
{
    std::vector<Var> v;
    auto add = [&](const char *nm, int ks, int u, int mb, int norm, Launch l) {
        v.push_back({nm, ks, u, mb, norm, l, nullptr});
    };
    add("emitter", EKS, EU, 1, NORM, run_b1<WK, K, N, NORM, EPI, EKS, EU, G, 1>);
#define LLMC_V(ks, u, mb) add("", ks, u, mb, NORM, run_b1<WK, K, N, NORM, EPI, ks, u, G, mb>);
    LLMC_V(1, 1, 1) LLMC_V(2, 1, 1) LLMC_V(4, 1, 1) LLMC_V(1, 2, 1) LLMC_V(2, 2, 1) LLMC_V(4, 2, 1)
    LLMC_V(1, 1, 8) LLMC_V(2, 1, 8) LLMC_V(4, 1, 8) LLMC_V(1, 2, 8) LLMC_V(2, 2, 8) LLMC_V(4, 2, 8)
#undef LLMC_V
    if (NORM)
        add("nonorm", EKS, EU, 1, 0, run_b1<WK, K, N, 0, EPI, EKS, EU, G, 1>);
    if constexpr (WK == 4 && G == 128) {
        v.push_back({"tc", 1, 0, 0, NORM, nullptr, run_tc<K, N, EPI, 1>});
        v.push_back({"tc", 2, 0, 0, NORM, nullptr, run_tc<K, N, EPI, 2>});
        v.push_back({"tc", 4, 0, 0, NORM, nullptr, run_tc<K, N, EPI, 4>});
    }
    if constexpr (WK >= 4) { /* the 4-bit formats: gemv_b1x (b1x), the emitter's K split for R 2 (6734d77's rule) */
        constexpr int RKS = N / 8 >= 7 * 132 ? 1 : 2; /* cuda_matmul.c's rule for quantized rows, 132 SMs */
#define LLMC_R(R, ROLL)                                                                                                \
    add_rows<WK, K, N, NORM, EPI, G, RKS, R, 0, ROLL>(v);                                                              \
    add_rows<WK, K, N, NORM, EPI, G, RKS, R, 1, ROLL>(v);                                                              \
    add_rows<WK, K, N, NORM, EPI, G, RKS, R, 2, ROLL>(v);
        LLMC_R(2, 0) LLMC_R(4, 0) LLMC_R(8, 0) LLMC_R(8, 1)
#undef LLMC_R
    }
    return v;
}

/* "ks2 u1 mb8": a variant's K split, loads in flight and register bound (gemv_b1x's: "r4.f16 ks2 u1 mb4" in
 * the chains' lists, where the name is not printed before it) */
static std::string label(const Var &v, int named = 0)
{
    char b[64];
    snprintf(b, sizeof b, "%s%sks%d u%d mb%d", named && v.runx ? v.name.c_str() : "", named && v.runx ? " " : "", v.ks,
             v.u, v.mb);
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
    std::vector<double> ref, S, A; /* 4-bit formats, a row each: sum w xn, sum |w xn|, sum |w| (double) */
    int fam[4] = {-1, -1, -1, -1}; /* gemv_b1x's fastest variant of each activation form (XF); [3]: r2.f32 */
};

/* The f16-activation check's data (row n: ref, S, A above), from the weights as the cpu target
 * dequantizes them (q.w.f) and xn = x * nw / rms(x) (NORM; else x), in double. */
static void bound_data(Mat &mm, const QWts &q, const std::vector<float> &x, const std::vector<float> &nw)
{
    const int K = mm.K, N = mm.N;
    double ss = 0.0;
    for (int k = 0; k < K; k++)
        ss += (double)x[k] * x[k];
    const double inv = mm.norm ? 1.0 / sqrt(ss / K + 1e-5) : 1.0;
    std::vector<double> xn(K);
    for (int k = 0; k < K; k++)
        xn[k] = mm.norm ? (double)x[k] * nw[k] * inv : (double)x[k];
    mm.ref.assign(N, 0.0);
    mm.S.assign(N, 0.0);
    mm.A.assign(N, 0.0);
    for (int n = 0; n < N; n++) {
        const float *w = &q.w.f[(size_t)n * K];
        double r = 0.0, sa = 0.0, a = 0.0;
        for (int k = 0; k < K; k++) {
            r += w[k] * xn[k];
            sa += fabs(w[k] * xn[k]);
            a += fabs((double)w[k]);
        }
        mm.ref[n] = r;
        mm.S[n] = sa;
        mm.A[n] = a;
    }
}
/* An f16-activation variant's outputs (got) against the emitter's (want), in units of the bound on
 * their difference (pass: at most 1). Row n's sum with x rounded to f16 (x * nw / rms, rounded once)
 * is off the exact sum by at most E(n) = 2^-11 (1.001) S(n) + 2^-25 A(n) (the half unit of f16's
 * normals, and of its subnormals' spacing 2^-24; 1.001 for the f32 roundings of x * nw / rms before
 * it); EPI 2, silu(g) u: 1.1 E(g) (|u| + E(u)) + (|silu(g)| + 1.1 E(g)) E(u) (|silu'| < 1.1); both
 * outputs' own f32 rounding: 1e-5 of the largest output, the other variants' tolerance. */
static double f16_bound(const Mat &mm, const std::vector<float> &want, const std::vector<float> &got)
{
    const int no = mm.epi == 2 ? mm.N / 2 : mm.N;
    auto E = [&](int n) { return 1.001 * 0x1p-11 * mm.S[n] + 0x1p-25 * mm.A[n]; };
    double big = 0.0, worst = 0.0;
    for (int o = 0; o < no; o++)
        big = std::max(big, (double)fabs(want[o]));
    for (int o = 0; o < no; o++) {
        double tol;
        if (mm.epi == 2) {
            const double g = mm.ref[o], u = mm.ref[o + mm.N / 2], eg = E(o), eu = E(o + mm.N / 2);
            tol = 1.1 * eg * (fabs(u) + eu) + (fabs(silud(g)) + 1.1 * eg) * eu;
        } else {
            tol = E(o);
        }
        tol += 1e-5 * big;
        const double d = fabs((double)got[o] - want[o]) / tol;
        worst = got[o] == got[o] ? std::max(worst, d) : 1e9;
    }
    return worst;
}

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
    /* the 8B's matrices; the emitter's (KS, U) for them (cuda_matmul.c: rows of at most 4 KB split
     * until 32 blocks an SM, U 1; longer ones until 5 blocks an SM, U 2; 132 SMs) */
    std::vector<Mat> m = {{"qkv", 4096, 6144, 1, 0, {}, 0, {}, 1e30, -1},
                          {"o", 4096, 4096, 0, 1, {}, 0, {}, 1e30, -1},
                          {"gate/up", 4096, 28672, 1, 2, {}, 0, {}, 1e30, -1},
                          {"down", 14336, 4096, 0, 1, {}, 0, {}, 1e30, -1}};
    /* G: the group of the K-4096 matrices, GD the down matrix's (fp8: a scale a row, a group of K);
     * every format takes the same (KS, U) from the emitter for these shapes (rows of at most 4 KB
     * but the down matrix's) */
#define LLMC_M(G, GD)                                                                                                  \
    m[0].v = variants<W, 4096, 6144, 1, 0, G, 4, 1>();                                                                  \
    m[1].v = variants<W, 4096, 4096, 0, 1, G, 4, 1>();                                                                  \
    m[2].v = variants<W, 4096, 28672, 1, 2, G, 2, 1>();                                                                 \
    m[3].v = variants<W, 14336, 4096, 0, 1, GD, 2, 2>();
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
        if (wk >= 4)
            bound_data(mm, q, hx, hnw);
    }
    DBuf<float> x(maxn), y(maxn), y2(maxn), nw(maxn), res(maxn);
    x.up(hx);
    nw.up(hnw);
    res.up(rand_f32(maxn, 1.0));
    /* gemv_b1x's activations: XF 1's x * nw and 1/rms, XF 2's f16 (xh: b1_prenorm's; yh: a matmul's
     * f16 copy of its output, the next one's input in the f16 chain) */
    DBuf<float> xq(maxn), rinv(1);
    DBuf<uint16_t> xh(maxn), yh(maxn);
    cudaStream_t s;
    CK(cudaStreamCreate(&s));

    /* the tensor-core experiment's x pairs (k_xpairs: x, times nw / rms(x) where the matrix has the norm) */
    DBuf<uint32_t> xp(maxn);
    auto pairs = [&](int K, int norm, const float *src, uint32_t *dst, int pdl) {
        if (K == 4096 && norm)
            run_xpairs<4096, 1>(s, pdl, src, nw.p, dst);
        else if (K == 4096)
            run_xpairs<4096, 0>(s, pdl, src, nw.p, dst);
        else
            run_xpairs<14336, 0>(s, pdl, src, nw.p, dst);
    };
    /* b1_prenorm of x (K values; NORM: times nw / rms) into xq and rinv (XF 1) or xh (XF 2) */
    auto prenorm = [&](int K, int norm, int xf, const float *src, int pdl) {
        if (K == 4096 && norm && xf == 1)
            run_prenorm<4096, 1, 1>(s, pdl, src, nw.p, xq.p, rinv.p);
        else if (K == 4096 && norm)
            run_prenorm<4096, 1, 2>(s, pdl, src, nw.p, xh.p, rinv.p);
        else if (K == 4096)
            run_prenorm<4096, 0, 2>(s, pdl, src, nw.p, xh.p, rinv.p);
        else
            run_prenorm<14336, 0, 2>(s, pdl, src, nw.p, xh.p, rinv.p);
    };
    /* a gemv_b1x variant's arguments: input x (XF 0), b1_prenorm's form of it (XF 1, 2) */
    auto xargs = [&](const Var &v, const float *in, float *out, uint16_t *outh, const float *r) {
        return XA{in, v.xf == 1 ? (const void *)xq.p : (const void *)xh.p, out, outh, nw.p, rinv.p, r};
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
                pairs(mm.K, mm.norm, x.p, xp.p, 0);
                v.tc(s, 0, mm.w[0]->w.p, mm.w[0]->wq(wk), xp.p, y2.p, res.p);
            } else if (v.runx) {
                if (v.xf)
                    prenorm(mm.K, mm.norm, v.xf, x.p, 0);
                v.runx(s, 0, mm.w[0]->w.p, mm.w[0]->wq(wk), xargs(v, x.p, y2.p, nullptr, res.p));
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
            snprintf(what, sizeof what, "b1_lab %s %s %s = emitter%s", fmt.c_str(), mm.name, label(v, 1).c_str(),
                     v.runx && v.xf == 2 ? " (f16 x: err/bound)" : "");
            if (v.runx && v.xf == 2)
                verdict(what, f16_bound(mm, want, got), 1.0, 0);
            else /* gemv_b1x's f32 rows: qdot's bits, the same order (1e-6: the brief's bound, 0 expected) */
                verdict(what, worst, v.runx ? 1e-6 : 1e-5, 0);
        }
    }

    /* each matrix alone: L launches over the layers' copies, in a graph, with PDL (gemv_b1x's XF 1
     * and 2: b1_prenorm's form of x made beforehand, not timed) */
    std::vector<int> fastest;
    double fam_us[4][3] = {{1e30, 1e30, 1e30}, {1e30, 1e30, 1e30}, {1e30, 1e30, 1e30}, {1e30, 1e30, 1e30}};
    for (auto &mm : m) {
        double best = 1e30;
        int bi = 0;
        for (size_t i = 0; i < mm.v.size(); i++) {
            Var &v = mm.v[i];
            if (v.tc)
                pairs(mm.K, mm.norm, x.p, xp.p, 0);
            if (v.runx && v.xf)
                prenorm(mm.K, mm.norm, v.xf, x.p, 0);
            const double us = graph_us(s, [&]() {
                for (int l = 0; l < L; l++)
                    if (v.tc)
                        v.tc(s, 1, mm.w[l]->w.p, mm.w[l]->wq(wk), xp.p, y.p, res.p);
                    else if (v.runx)
                        v.runx(s, 1, mm.w[l]->w.p, mm.w[l]->wq(wk), xargs(v, x.p, y.p, nullptr, res.p));
                    else
                        v.run(s, 1, mm.w[l]->w.p, mm.w[l]->wq(wk), x.p, y.p, nw.p, res.p);
            }, 20) / L;
            if (v.name == "tc" && us < mm.tc_us)
                mm.tc_us = us, mm.tc_best = (int)i;
            if (v.name != "nonorm" && v.name != "tc" && !v.runx && us < best)
                best = us, bi = (int)i;
            if (v.runx && v.r == 2 && v.xf == 0) /* the emitted kernel (the emitter's K split, bound) */
                mm.fam[3] = (int)i;
            if (v.runx) { /* XF 1 is XF 0 where the matrix has no norm */
                double &fb = fam_us[&mm - &m[0]][v.xf];
                if (us < fb)
                    fb = us, mm.fam[v.xf] = (int)i;
                if (v.xf == 0 && !mm.norm && us < fam_us[&mm - &m[0]][1])
                    fam_us[&mm - &m[0]][1] = us, mm.fam[1] = (int)i;
            }
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
    for (int pk = 0; pk < 2; pk++) {
        const int p0 = pk ? fastest[0] : 0, p1 = pk ? fastest[1] : 0, p2 = pk ? fastest[2] : 0, p3 = pk ? fastest[3] : 0;
        const double us = graph_us(s, [&]() {
            for (int l = 0; l < L; l++) {
                m[0].v[p0].run(s, 1, m[0].w[l]->w.p, m[0].w[l]->wq(wk), a.p, b.p, nw.p, nullptr);
                m[1].v[p1].run(s, 1, m[1].w[l]->w.p, m[1].w[l]->wq(wk), b.p, c.p, nw.p, a.p);
                m[2].v[p2].run(s, 1, m[2].w[l]->w.p, m[2].w[l]->wq(wk), c.p, b.p, nw.p, nullptr);
                m[3].v[p3].run(s, 1, m[3].w[l]->w.p, m[3].w[l]->wq(wk), b.p, a.p, nw.p, c.p);
            }
        }, 20);
        printf("TIME b1 %-5s chain %-8s %8.1f us %6.0f GB/s %5.1f%% of copy (qkv %s, o %s, gate/up %s, down %s)\n",
               fmt.c_str(), pk ? "fastest" : "emitter", us, bytes / us * 1e-3, bytes / us * 1e-6 / tbs * 100,
               label(m[0].v[p0]).c_str(), label(m[1].v[p1]).c_str(), label(m[2].v[p2]).c_str(),
               label(m[3].v[p3]).c_str());
    }
    if (m[0].tc_best >= 0) { /* the tensor-core experiment's chain, a k_xpairs launch before each matmul */
        DBuf<uint32_t> xq(maxn);
        const double us = graph_us(s, [&]() {
            for (int l = 0; l < L; l++) {
                pairs(4096, 1, a.p, xq.p, 1);
                m[0].v[m[0].tc_best].tc(s, 1, m[0].w[l]->w.p, m[0].w[l]->wq(wk), xq.p, b.p, nullptr);
                pairs(4096, 0, b.p, xq.p, 1);
                m[1].v[m[1].tc_best].tc(s, 1, m[1].w[l]->w.p, m[1].w[l]->wq(wk), xq.p, c.p, a.p);
                pairs(4096, 1, c.p, xq.p, 1);
                m[2].v[m[2].tc_best].tc(s, 1, m[2].w[l]->w.p, m[2].w[l]->wq(wk), xq.p, b.p, nullptr);
                pairs(14336, 0, b.p, xq.p, 1);
                m[3].v[m[3].tc_best].tc(s, 1, m[3].w[l]->w.p, m[3].w[l]->wq(wk), xq.p, a.p, c.p);
            }
        }, 20);
        const double xus = graph_us(s, [&]() {
            for (int l = 0; l < L; l++) {
                pairs(4096, 1, a.p, xq.p, 1);
                pairs(4096, 0, b.p, xq.p, 1);
                pairs(4096, 1, c.p, xq.p, 1);
                pairs(14336, 0, b.p, xq.p, 1);
            }
        }, 20);
        printf("TIME b1 %-5s chain tc       %8.1f us %6.0f GB/s %5.1f%% of copy, k_xpairs alone %.1f us (the matmuls' sum "
               "alone: %.1f us; qkv ks%d, o ks%d, gate/up ks%d, down ks%d)\n",
               fmt.c_str(), us, bytes / us * 1e-3, bytes / us * 1e-6 / tbs * 100, xus,
               L * (m[0].tc_us + m[1].tc_us + m[2].tc_us + m[3].tc_us), m[0].v[m[0].tc_best].ks,
               m[1].v[m[1].tc_best].ks, m[2].v[m[2].tc_best].ks, m[3].v[m[3].tc_best].ks);
    }
    /* gemv_b1x's chains, one an activation form, each matrix's fastest variant of it: f32 (XF 0, a
     * drop-in for the emitter), xn (XF 1: a b1_prenorm launch before qkv and gate/up, timed with the
     * chain) and f16 (XF 2: the same launches make f16 x * nw / rms; qkv and gate/up write their
     * outputs also as f16 for o and down, as their producers would); then "emitted": r2.f32, the
     * emitted kernel at the emitter's K split and launch bound, the baseline of the others */
    for (int fi = 0; fi < 4; fi++) {
        const int f = fi == 3 ? 0 : fi; /* the activation form */
        if (m[0].fam[fi] < 0 || m[1].fam[fi] < 0 || m[2].fam[fi] < 0 || m[3].fam[fi] < 0)
            continue;
        const Var &v0 = m[0].v[m[0].fam[fi]], &v1 = m[1].v[m[1].fam[fi]], &v2 = m[2].v[m[2].fam[fi]],
                  &v3 = m[3].v[m[3].fam[fi]];
        uint16_t *oh = f == 2 ? yh.p : nullptr;
        /* matrix i of layer l: input in (its f16 form: the previous matmul's yh where after_mm), output out */
        auto run_mm = [&](int l, int i, const Var &v, const float *in, float *out, uint16_t *outh, const float *r,
                      int after_mm) {
            XA xa = xargs(v, in, out, outh, r);
            if (after_mm)
                xa.xa = yh.p;
            v.runx(s, 1, m[i].w[l]->w.p, m[i].w[l]->wq(wk), xa);
        };
        const double us = graph_us(s, [&]() {
            for (int l = 0; l < L; l++) {
                if (f)
                    prenorm(4096, 1, f, a.p, 1);
                run_mm(l, 0, v0, a.p, b.p, oh, nullptr, 0);
                run_mm(l, 1, v1, b.p, c.p, nullptr, a.p, 1);
                if (f)
                    prenorm(4096, 1, f, c.p, 1);
                run_mm(l, 2, v2, c.p, b.p, oh, nullptr, 0);
                run_mm(l, 3, v3, b.p, a.p, nullptr, c.p, 1);
            }
        }, 20);
        char nm[16];
        snprintf(nm, sizeof nm, "%s%s", fi == 3 ? "emitted" : "rows.", fi == 3 ? "" : xf_name(f));
        printf("TIME b1 %-5s chain %-8s %8.1f us %6.0f GB/s %5.1f%% of copy (qkv %s, o %s, gate/up %s, down %s)\n",
               fmt.c_str(), nm, us, bytes / us * 1e-3, bytes / us * 1e-6 / tbs * 100, label(v0, 1).c_str(),
               label(v1, 1).c_str(), label(v2, 1).c_str(), label(v3, 1).c_str());
        if (f) {
            const double pus = graph_us(s, [&]() {
                for (int l = 0; l < L; l++) {
                    prenorm(4096, 1, f, a.p, 1);
                    prenorm(4096, 1, f, c.p, 1);
                }
            }, 20);
            printf("TIME b1 %-5s prenorm %-8s %8.1f us alone, its %d launches (2 a layer) in a graph\n", fmt.c_str(),
                   xf_name(f), pus, 2 * L);
        }
    }
    for (auto &mm : m)
        for (auto *d : mm.w)
            delete d;
    CK(cudaStreamDestroy(s));
    printf("%s: %d of %d checks failed\n", failures ? "FAIL" : "PASS", failures, checks);
    return failures ? 1 : 0;
}
