/* qmma_lab.cu — gemm_q (codegen/cuda_qmma.cuh, the batched-decode tensor-core matmul that decodes
 * bf16/f16/fp8/u4/nvfp4 weights in registers) checked against a host reference, then timed at the 1B and
 * 8B shapes for 16..128 rows against today's wide-step path (gemm_tc with a K split + gemm_reduce,
 * quantized matrices dequantized to f16 first) and the copy bandwidth measured in the same run.
 *   nvcc -O2 -std=c++17 -arch=sm_90a -I ir -o qmma_lab bench/qmma_lab.cu && ./qmma_lab
 *
 * Checks: random weights in each format (quantized ones in lane8 order with random scales and
 * zeros, bench_weights.h), random activations through rows_to_half (the order gemm_q reads),
 * outputs poisoned; row counts 9..64 and a second row tile, every epilogue (bias, residual,
 * SwiGLU), with and without a K split (run twice: the split's counters must be back at 0). The
 * reference sums in double the activations as rounded to f16/bf16 times the weights as the kernel
 * sees them: u4 (q - z) * s rounded to f16 (the kernel's one rounding), fp8 decode(q) with the row
 * scale applied to the sum, nvfp4 e2m1(q) * s (exact) with the tensor scale applied to the sum,
 * bf16/f16 as stored. Tolerance (K/4 + 64) 2^-24 of the sum of |terms|.
 * Timing: each matrix over rotating copies (more bytes than L2), and a decode step's chain of the
 * four matmuls of 8 distinct layers (with their activation conversions) in a CUDA graph. */
#include "../codegen/cuda_mma.cuh"
#include "../codegen/cuda_norm.cuh"
#include "../codegen/cuda_qmma.cuh"
#include "../codegen/cuda_rows.cuh"
#include "bench_weights.h"

#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <vector>

constexpr int SMS = 132;

template <int WK, int K, int N, int G, int MI, int NJ, int W, int ST, int EPI>
__global__ void __launch_bounds__(W * 32, MI == 1 ? 4 : 2) k_q(const uint8_t *w, WQ wq, const uint16_t *xh, const float *b,
                                                                float *y, int T, const float *res, float *part, int *cnt)
{
    gemm_q<KF(WK), K, N, G, MI, NJ, W, ST, EPI, (EPI == 2 ? N / 2 : N), N>(w, wq, xh, b, y, T, res, part, cnt);
}
template <int BF, int NORM, int D, int ORD>
__global__ void __launch_bounds__(256) k_half(const float *x, const float *nw, uint16_t *y, float eps)
{
    rows_to_half<BF, NORM, D, D, ORD>(x, nw, y, eps);
}
/* today's path */
template <int BF, int K, int N, int SPLIT>
__global__ void __launch_bounds__(128) k_tc(const uint16_t *w, const float *x, float *part, int T)
{
    gemm_tc<BF, K, N, K, N, 0, SPLIT>(w, x, (const float *)0, part, T);
}
template <int N, int SPLIT, int EPI>
__global__ void __launch_bounds__(256) k_red(const float *part, const float *b, const float *res, float *y, int T)
{
    gemm_reduce<N, (EPI == 2 ? N / 2 : N), N, SPLIT, EPI>(part, b, res, y, T);
}
template <int WK, int K, int N, int G>
__global__ void __launch_bounds__(256) k_deq(const void *w, WQ wq, uint16_t *out)
{
    dequant_half<KF(WK), K, N, G, 1, ORDER_LANE8>(w, wq, out);
}
template <int K>
__global__ void __launch_bounds__(256) k_norm(const float *x, const float *nw, float *y)
{
    rmsnorm_row<0, K, K, 0, 0, K>(x, (const float *)0, (float *)0, nw, y, 1e-5f);
}

/* the launch of one gemm_q configuration over P blocks (0: the emitter's choice, qm_blocks) */
template <int WK, int K, int N, int G, int MI, int NJ, int W, int ST, int EPI>
struct QCfg {
    static constexpr int TPB = W * NJ * 8, U = N / TPB * (K / QmFmt<KF(WK)>::KC), XF32 = 0;
    static int P;
    static int smem() { return gemm_q_smem<KF(WK), MI, ST>(); }
    static void prepare()
    {
        CK(cudaFuncSetAttribute(k_q<WK, K, N, G, MI, NJ, W, ST, EPI>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                smem()));
    }
    static void launch(const uint8_t *w, WQ wq, const void *xh, const float *b, float *y, int T, const float *res,
                       float *part, int *cnt, cudaStream_t s = 0)
    {
        dim3 grid((T + 16 * MI - 1) / (16 * MI), P);
        k_q<WK, K, N, G, MI, NJ, W, ST, EPI><<<grid, W * 32, smem(), s>>>(w, wq, (const uint16_t *)xh, b, y, T, res,
                                                                          part, cnt);
    }
    static const char *name()
    {
        static char buf[96];
        snprintf(buf, sizeof buf, "MI%d NJ%d ST%d P%d (%.1f units)", MI, NJ, ST, P, (double)U / P);
        return buf;
    }
};
template <int WK, int K, int N, int G, int MI, int NJ, int W, int ST, int EPI>
int QCfg<WK, K, N, G, MI, NJ, W, ST, EPI>::P = 1;
/* the emitter's block count (cuda_common.c llmc_cuda_qmma_plan): resident blocks (4 an SM for
 * 16 rows, 2 for 64) but at least MINU units a block */
static int qm_blocks(int U, int mi, int minu)
{
    int p = SMS * (mi == 1 ? 4 : 2);
    if (U / minu < p)
        p = U / minu > 0 ? U / minu : 1;
    return p;
}

/* ---- correctness ---- */
static double h_round(double v, int bf) { return bf ? h_bf16f(h_bf16((float)v)) : h_f16f(h_f16((float)v)); }

template <class C, int WK, int K, int N, int G, int MI, int NJ, int W, int EPI, int BIAS>
static void check_c(std::vector<int> rows, std::vector<int> ps)
{
    constexpr int BF = QmFmt<KF(WK)>::BF, AORD = QmFmt<KF(WK)>::AORD, NO = EPI == 2 ? N / 2 : N;
    const int TM = 160;
    QWts q = make_any(WK, N, K, WK == 3 ? K : G, 0.05);
    DW dw(q);
    std::vector<double> wv, rs; /* the weights as the kernel multiplies them; fp8's row scales and nvfp4's tensor scale apart */
    qmma_weights(WK, N, K, q, wv, rs);
    std::vector<float> x = rand_f32((size_t)TM * K, 1.0), nw = rand_f32(K, 1.0), bias = rand_f32(N, 0.5),
                       res = rand_f32((size_t)TM * N, 1.0);
    size_t maxp = 0;
    for (int pp : ps)
        maxp = (size_t)pp > maxp ? (size_t)pp : maxp;
    DBuf<float> dx(x.size()), dnw(K), db(N), dres(res.size()), dy((size_t)TM * NO),
        dpart((size_t)(TM / 16 + 1) * maxp * gemm_q_part<MI, NJ, W>());
    DBuf<uint16_t> dh((size_t)TM * K);
    DBuf<int> dcnt(4096);
    dx.up(x);
    dnw.up(nw);
    db.up(bias);
    dres.up(res);
    CK(cudaMemset(dcnt.p, 0, 4096 * sizeof(int)));
    C::prepare();
    for (size_t ri = 0; ri < rows.size(); ri++) {
        const int T = rows[ri];
        C::P = ps[ri % ps.size()];
        k_half<BF, 0, K, AORD><<<T, 256>>>(dx.p, dnw.p, dh.p, 0.0f);
        launched();
        for (int rep = 0; rep < 2; rep++) {
            dy.poison();
            C::launch(dw.w.p, dw.wq(WK), C::XF32 ? (const void *)dx.p : (const void *)dh.p, BIAS ? db.p : nullptr, dy.p, T, EPI == 1 ? dres.p : nullptr, dpart.p,
                      dcnt.p);
            launched();
        }
        std::vector<float> y = dy.down();
        std::vector<int> cnt = dcnt.down();
        Check ck;
        for (int m = 0; m < T; m++) {
            std::vector<double> a(K);
            for (int k = 0; k < K; k++)
                a[k] = h_round(x[(size_t)m * K + k], BF);
            auto dot = [&](int n, double &mag) {
                double s = 0.0;
                mag = 0.0;
                for (int k = 0; k < K; k++) {
                    s += a[k] * wv[(size_t)n * K + k];
                    mag += fabs(a[k] * wv[(size_t)n * K + k]);
                }
                return s * rs[n];
            };
            for (int o = 0; o < NO; o++) {
                double mg, mu = 0.0, ref;
                const double gsum = dot(o, mg) + (BIAS ? bias[o] : 0.0);
                if (EPI == 2) {
                    const double usum = dot(o + N / 2, mu) + (BIAS ? bias[o + N / 2] : 0.0);
                    const double sg = gsum / (1.0 + exp(-gsum));
                    ref = sg * usum;
                    mg = fabs(usum) * mg * rs[o] + fabs(sg) * mu * rs[o + N / 2] + fabs(ref) * 1e-6;
                } else {
                    ref = gsum + (EPI == 1 ? res[(size_t)m * N + o] : 0.0);
                    mg = mg * rs[o] + fabs(ref) * 1e-6;
                }
                ck.add(y[(size_t)m * NO + o], ref, mg, (K / 4.0 + 64.0) * U24, 1e-30);
            }
        }
        int dirty = 0;
        for (int c : cnt)
            dirty += c != 0;
        char what[160];
        snprintf(what, sizeof what, "gemm_q %s %dx%d%s%s%s T=%d (%s)%s", wkname(WK), N, K, EPI == 1 ? " residual" : "",
                 EPI == 2 ? " swiglu" : "", BIAS ? " bias" : "", T, C::name(), dirty ? " COUNTERS LEFT" : "");
        if (dirty)
            ck.bad++;
        ck.done(what, (K / 4.0 + 64.0) * U24);
    }
}

template <int WK, int K, int N, int G, int MI, int NJ, int W, int ST, int EPI, int BIAS>
static void check_q(std::vector<int> rows, std::vector<int> ps)
{
    check_c<QCfg<WK, K, N, G, MI, NJ, W, ST, EPI>, WK, K, N, G, MI, NJ, W, EPI, BIAS>(rows, ps);
}
/* rows_to_half in pair-32 order against its definition */
static void check_half_order()
{
    constexpr int D = 512, T = 5;
    std::vector<float> x = rand_f32((size_t)T * D, 2.0), nw = rand_f32(D, 1.0);
    DBuf<float> dx(x.size()), dnw(D);
    DBuf<uint16_t> dh((size_t)T * D);
    dx.up(x);
    dnw.up(nw);
    dh.poison();
    k_half<0, 0, D, 1><<<T, 256>>>(dx.p, dnw.p, dh.p, 0.0f);
    launched();
    std::vector<uint16_t> h = dh.down();
    Check ck;
    for (int r = 0; r < T; r++)
        for (int p = 0; p < D; p++) {
            const int blk = p / 64, i = p % 64 / 2, hh = p % 2;
            ck.exact(h[(size_t)r * D + p], h_f16(x[(size_t)r * D + blk * 64 + i + 32 * hh]));
        }
    ck.done("rows_to_half pair-32 order (f16), bit for bit", 0.0);
}

/* ---- timing ---- */

static size_t fmt_row_bytes(int wk, int K) { return (size_t)fmt_bytes(wk, K); }
static size_t scale_bytes(int wk, int N, int K, int G)
{
    if (wk <= 2)
        return 0;
    const size_t ng = (K + G - 1) / G;
    return wk == 6 ? (size_t)N * ng + 4 : (size_t)N * ng * (wk == 3 ? 4 : 2) * (wk == 5 ? 2 : 1);
}

/* R rotating device copies of one random weight (same values: speed does not depend on them) */
struct Rot {
    std::vector<DW *> c;
    Rot(const QWts &q, int n)
    {
        for (int i = 0; i < n; i++)
            c.push_back(new DW(q));
    }
    ~Rot()
    {
        for (auto *d : c)
            delete d;
    }
};

static double TBS = 0.0; /* copy bandwidth of this run, TB/s */
struct Row {
    char what[160];
    double us_new, us_old, bytes;
};
static std::vector<Row> table;

/* one matrix at T rows: gemm_q (config C) against today's path (split-K tensor cores, dequantized
 * first for quantized formats), both over rotating copies */
template <class C, int WK, int K, int N, int G, int EPI, int OLDSPLIT>
static void time_mat(const char *what, int T)
{
    constexpr int BF = QmFmt<KF(WK)>::BF, AORD = QmFmt<KF(WK)>::AORD, NO = EPI == 2 ? N / 2 : N;
    const QWts q = make_any(WK, N, K, WK == 3 ? K : G, 0.05);
    const size_t wbytes = fmt_row_bytes(WK, K) * N + scale_bytes(WK, N, K, WK == 3 ? K : G);
    const int nrot = (int)(400e6 / wbytes) + 2 > 16 ? 16 : (int)(400e6 / wbytes) + 2;
    Rot rot(q, nrot);
    std::vector<float> x = rand_f32((size_t)T * K, 1.0);
    DBuf<float> dx(x.size()), dy((size_t)T * NO), dpart((size_t)2 * N * T + (size_t)(T / 16 + 1) * 1024 * 2 * 64 * 128);
    DBuf<uint16_t> dh((size_t)T * K), dq((size_t)N * K);
    DBuf<int> dcnt(65536);
    dx.up(x);
    CK(cudaMemset(dcnt.p, 0, 65536 * sizeof(int)));
    k_half<BF, 0, K, AORD><<<T, 256>>>(dx.p, nullptr, dh.p, 0.0f);
    launched();
    C::prepare();
    int it = 0;
    const double us_new = time_us(
        [&]() {
            const DW *d = rot.c[it++ % nrot];
            C::launch(d->w.p, d->wq(WK), C::XF32 ? (const void *)dx.p : (const void *)dh.p, nullptr, dy.p, T, nullptr, dpart.p, dcnt.p);
        },
        50);
    launched();
    it = 0;
    const double us_old = time_us(
        [&]() {
            const DW *d = rot.c[it++ % nrot];
            const uint16_t *wh = (const uint16_t *)d->w.p;
            if constexpr (WK >= 3) {
                k_deq<WK, K, N, G><<<(unsigned)(((int64_t)N * K / (WK == 3 ? 16 : 32) + 255) / 256), 256>>>(
                    d->w.p, d->wq(WK), dq.p);
                wh = dq.p;
            }
            k_tc<WK == 1, K, N, OLDSPLIT><<<dim3((N + 63) / 64, (T + 63) / 64, OLDSPLIT), 128>>>(wh, dx.p, dpart.p, T);
            k_red<N, OLDSPLIT, EPI><<<(unsigned)((T * NO + 255) / 256), 256>>>(dpart.p, nullptr, nullptr, dy.p, T);
        },
        50);
    launched();
    Row r;
    snprintf(r.what, sizeof r.what, "%-26s %-5s T=%-3d %s", what, wkname(WK), T, C::name());
    r.us_new = us_new;
    r.us_old = us_old;
    r.bytes = (double)wbytes;
    table.push_back(r);
    printf("TIME %s: gemm_q %.1f us (%.0f GB/s, %.0f%% of copy), today %.1f us\n", r.what, us_new,
           wbytes / us_new * 1e-3, wbytes / us_new * 1e-6 / TBS * 100, us_old);
}

/* old path's split (cuda_common.c llmc_cuda_split_k) */
constexpr int tcs(long long N, long long K)
{
    const long long blocks = (N + 63) / 64, kt = K / 32, want = (4LL * SMS + blocks - 1) / blocks;
    int best = 1;
    for (int s = 2; s <= 16 && s <= want; s++)
        if (kt % s == 0 && kt / s >= 2)
            best = s;
    return best;
}

#define TM(WK, K, N, G, EPI, MI, NJ, ST, MINU, T, what)                                                                  \
    do {                                                                                                               \
        using C_ = QCfg<WK, K, N, G, MI, NJ, 4, ST, EPI>;                                                              \
        C_::P = qm_blocks(C_::U, MI, MINU);                                                                            \
        time_mat<C_, WK, K, N, G, EPI, tcs(N, K)>(what, T);                                                            \
    } while (0)

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
    check_half_order();
    /* every format and epilogue; rows 9..64 and more row tiles; block counts that give whole tiles,
     * a unit a block, and tiles shared by 2..many blocks (heads, tails and middles) */
    check_q<1, 1024, 512, 1024, 1, 2, 4, 3, 0, 1>({9, 16, 17, 40, 16}, {64, 7, 5, 13, 8});
    check_q<2, 1024, 512, 1024, 2, 2, 4, 3, 1, 0>({16, 32, 33, 70}, {3, 64, 11, 40});
    check_q<3, 1024, 512, 1024, 1, 2, 4, 3, 0, 1>({9, 16, 30}, {5, 17, 64});
    check_q<3, 2048, 1024, 2048, 4, 4, 4, 3, 2, 1>({64, 13, 100}, {9, 32, 3});
    check_q<4, 1024, 512, 128, 1, 2, 4, 3, 0, 0>({9, 16, 12}, {32, 3, 8});
    check_q<4, 4096, 512, 128, 2, 2, 4, 3, 1, 1>({32, 20}, {11, 128});
    check_q<4, 2048, 1024, 128, 1, 4, 4, 4, 2, 0>({16, 11}, {7, 24});
    check_q<5, 2048, 512, 32, 1, 2, 4, 3, 0, 1>({16, 9}, {19, 64});
    check_q<5, 1024, 512, 64, 4, 2, 4, 2, 2, 1>({64, 50, 130}, {6, 32, 13});
    check_q<4, 2048, 512, 256, 1, 2, 4, 3, 0, 0>({16}, {10});
    check_q<1, 2048, 1024, 2048, 2, 4, 4, 3, 2, 1>({32, 19}, {16, 5});
    check_q<4, 4096, 4096, 128, 1, 2, 4, 3, 1, 1>({16}, {qm_blocks(64 * 16, 1, 2)});
    /* nvfp4 (E2M1, E4M3 scales a 16, the tensor scale on the sums) and u4 in groups of 16 */
    check_q<6, 1024, 512, 16, 1, 2, 4, 3, 0, 1>({9, 16, 12}, {32, 3, 8});
    check_q<6, 4096, 512, 16, 2, 2, 4, 3, 1, 1>({32, 20}, {11, 128});
    check_q<6, 2048, 1024, 16, 1, 4, 4, 4, 2, 0>({16, 11}, {7, 24});
    check_q<6, 1024, 512, 16, 4, 2, 4, 2, 2, 1>({64, 50, 130}, {6, 32, 13});
    check_q<4, 2048, 512, 16, 1, 2, 4, 3, 0, 1>({16, 9}, {19, 64});
    printf("CHECKS: %d of %d failed\n", failures, checks);

    TBS = copy_tbs();
    printf("copy bandwidth %.2f TB/s\n", TBS);
    /* 8B shapes: qkv 6144x4096, o 4096x4096, gate/up 28672x4096 (SwiGLU), down 4096x14336 */
    for (int minu : {2, 4, 8}) {
        TM(4, 4096, 6144, 128, 0, 1, 2, 3, minu, 16, "8B qkv");
        TM(4, 4096, 4096, 128, 0, 1, 2, 3, minu, 16, "8B o");
        TM(4, 14336, 4096, 128, 0, 1, 2, 3, minu, 16, "8B down");
        TM(1, 4096, 6144, 4096, 0, 1, 2, 3, minu, 16, "8B qkv");
        TM(1, 4096, 4096, 4096, 0, 1, 2, 3, minu, 16, "8B o");
        TM(3, 4096, 4096, 4096, 0, 1, 2, 3, minu, 16, "8B o");
    }
    TM(4, 4096, 28672, 128, 2, 1, 2, 3, 4, 16, "8B gate/up");
    TM(4, 4096, 28672, 128, 2, 1, 4, 3, 4, 16, "8B gate/up");
    TM(4, 14336, 4096, 128, 0, 1, 4, 3, 4, 16, "8B down");
    TM(4, 4096, 6144, 128, 0, 1, 4, 3, 4, 16, "8B qkv");
    TM(3, 4096, 28672, 4096, 2, 1, 2, 3, 4, 16, "8B gate/up");
    TM(3, 14336, 4096, 14336, 0, 1, 2, 3, 4, 16, "8B down");
    TM(3, 4096, 6144, 4096, 0, 1, 2, 3, 4, 16, "8B qkv");
    TM(1, 4096, 28672, 4096, 2, 1, 2, 3, 4, 16, "8B gate/up");
    TM(1, 14336, 4096, 14336, 0, 1, 2, 3, 4, 16, "8B down");
    TM(5, 4096, 28672, 32, 2, 1, 2, 3, 4, 16, "8B gate/up (zero points, g32)");
    TM(6, 4096, 28672, 16, 2, 1, 2, 3, 4, 16, "8B gate/up");
    TM(6, 14336, 4096, 16, 0, 1, 2, 3, 4, 16, "8B down");
    TM(6, 4096, 6144, 16, 0, 1, 2, 3, 4, 16, "8B qkv");
    TM(6, 4096, 4096, 16, 0, 1, 2, 3, 4, 16, "8B o");
    for (int T : {32, 64}) {
        TM(6, 4096, 28672, 16, 2, 4, 2, 2, 4, T, "8B gate/up");
        TM(4, 4096, 28672, 128, 2, 4, 2, 2, 4, T, "8B gate/up");
        TM(4, 4096, 28672, 128, 2, 4, 4, 2, 4, T, "8B gate/up");
        TM(4, 14336, 4096, 128, 0, 4, 2, 2, 4, T, "8B down");
        TM(4, 4096, 6144, 128, 0, 4, 2, 2, 4, T, "8B qkv");
        TM(1, 4096, 28672, 4096, 2, 4, 2, 2, 4, T, "8B gate/up");
        TM(1, 4096, 28672, 4096, 2, 4, 4, 2, 4, T, "8B gate/up");
        TM(1, 14336, 4096, 14336, 0, 4, 2, 2, 4, T, "8B down");
        TM(3, 4096, 28672, 4096, 2, 4, 2, 2, 4, T, "8B gate/up");
        TM(3, 14336, 4096, 14336, 0, 4, 2, 2, 4, T, "8B down");
    }
    /* 1B shapes: qkv 3072x2048, o 2048x2048, gate/up 16384x2048, down 2048x8192 */
    TM(4, 2048, 16384, 128, 2, 1, 2, 3, 4, 16, "1B gate/up");
    TM(4, 8192, 2048, 128, 0, 1, 2, 3, 4, 16, "1B down");
    TM(4, 2048, 3072, 128, 0, 1, 2, 3, 4, 16, "1B qkv");
    TM(4, 2048, 2048, 128, 0, 1, 2, 3, 4, 16, "1B o");
    TM(1, 2048, 16384, 2048, 2, 1, 2, 3, 4, 16, "1B gate/up");
    TM(1, 8192, 2048, 8192, 0, 1, 2, 3, 4, 16, "1B down");
    TM(1, 2048, 3072, 2048, 0, 1, 2, 3, 4, 16, "1B qkv");
    TM(1, 2048, 2048, 2048, 0, 1, 2, 3, 4, 16, "1B o");
    TM(1, 2048, 16384, 2048, 2, 4, 2, 2, 4, 64, "1B gate/up");
    TM(1, 8192, 2048, 8192, 0, 4, 2, 2, 4, 64, "1B down");
    /* the bf16 lm_head of the quantized builds: 128256 x 4096, 128256 x 2048 */
    TM(1, 4096, 128256, 4096, 0, 1, 2, 3, 4, 16, "8B lm_head");
    TM(1, 2048, 128256, 2048, 0, 1, 2, 3, 4, 16, "1B lm_head");

    printf("\n%-62s %9s %9s %8s %8s\n", "matrix (gemm_q config)", "gemm_q us", "today us", "GB/s", "% copy");
    for (const Row &r : table)
        printf("%-62s %9.1f %9.1f %8.0f %7.0f%%\n", r.what, r.us_new, r.us_old, r.bytes / r.us_new * 1e-3,
               r.bytes / r.us_new * 1e-6 / TBS * 100);
    printf("%s: %d of %d checks failed\n", failures ? "FAIL" : "PASS", failures, checks);
    return failures ? 1 : 0;
}
