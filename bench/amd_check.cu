/* amd_check.cu — the AMD path's own kernel, gemm_mx (codegen/cuda_mx.cuh), run on an NVIDIA GPU against a
 * host reference, in each of its matrix flavours: WMMA (RDNA's wave32 fragments, emulated by lane
 * shuffles), MFMA (CDNA's wave64 fragments, emulated by warp pairs through shared memory) and plain
 * FMAs. What an AMD image runs differs from this in the matrix instruction itself (the emulation
 * follows AMD's documented fragment layouts) and in the lane primitives (gpu_port_amd.cuh); the
 * tiling, the fragments each lane gathers, where each sum lands and the epilogues are the same
 * code. The other kernels of the AMD path are the NVIDIA path's own (kernel_check.cu checks them);
 * end to end, bench/gpu_round.sh WHAT=amd runs stories260K built for the amd-on-sm_90 target.
 *
 * Built with the AMD path on (gpu_port.cuh LLMC_AMD_PATH) by scripts/gpu_carry.sh, or on the device
 * by bench/gpu_round.sh WHAT=amd:
 *   nvcc -O2 -std=c++17 -arch=sm_90 -DLLMC_AMD_PATH=1 -I ir -o amd_check bench/amd_check.cu && ./amd_check
 * Shapes: K from 64 to 2048, N a multiple of 64 or not (rows past the matrix), SwiGLU (gate and up
 * halves in one tile), T ragged (tiles past the rows); bf16 and f16; every epilogue (bias, residual,
 * SwiGLU). Tolerance: the f32 sums of exact products against double, relative RMS 1e-4 (as gemm_h's
 * check). One line a check; the last line counts the failures (exit status 1 if any).
 */
#include "../codegen/cuda_mx.cuh"
#include "bench_weights.h"

#include <math.h>
#include <stdio.h>
#include <vector>

#if !LLMC_AMD_PATH
#error "build with -DLLMC_AMD_PATH=1 (the AMD path's kernels on NVIDIA)"
#endif

template <int BF, int K, int N, int EPI, int MX>
__global__ void __launch_bounds__(256) k_mx(const uint16_t *w, const uint16_t *x, const float *b, float *y, int T,
                                            const float *res)
{
    gemm_mx<BF, K, N, (EPI == 2 ? N / 2 : N), (EPI == 1 ? N : 0), EPI, MX>(w, x, b, y, T, res);
}

static const char *mx_name(int mx) { return mx == LLMC_MX_WMMA ? "WMMA" : mx == LLMC_MX_MFMA ? "MFMA" : "FMA"; }

template <int BF, int K, int N, int EPI, int MX>
static void check_mx(int T, int bias)
{
    constexpr int NO = EPI == 2 ? N / 2 : N;
    auto enc = [](double v) { return BF ? h_bf16((float)v) : h_f16((float)v); };
    auto dec = [](uint16_t h) { return BF ? (double)h_bf16f(h) : (double)h_f16f(h); };
    std::vector<uint16_t> hw((size_t)N * K), hx((size_t)T * K);
    std::vector<float> hb(N), hr((size_t)T * NO), hy((size_t)T * NO);
    for (auto &v : hw)
        v = enc(urand() * 0.05);
    for (auto &v : hx)
        v = enc(urand());
    for (auto &v : hb)
        v = (float)urand();
    for (auto &v : hr)
        v = (float)urand();
    uint16_t *dw, *dx;
    float *db, *dr, *dy;
    CK(cudaMalloc(&dw, hw.size() * 2));
    CK(cudaMalloc(&dx, hx.size() * 2));
    CK(cudaMalloc(&db, hb.size() * 4));
    CK(cudaMalloc(&dr, hr.size() * 4));
    CK(cudaMalloc(&dy, hy.size() * 4));
    CK(cudaMemcpy(dw, hw.data(), hw.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dx, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(db, hb.data(), hb.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dr, hr.data(), hr.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemset(dy, 0xff, hy.size() * 4)); /* NaN: a row not written fails */
    /* the grid cuda_matmul.c launches: 64-row tiles, 64 weight rows (SwiGLU: 32 outputs) a block */
    dim3 grid((T + 63) / 64, EPI == 2 ? (N / 2 + 31) / 32 : (N + 63) / 64);
    k_mx<BF, K, N, EPI, MX><<<grid, 256>>>(dw, dx, bias ? db : nullptr, dy, T, dr);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(hy.data(), dy, hy.size() * 4, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    int64_t unwritten = 0;
    std::vector<double> acc(N);
    for (int t = 0; t < T; t++) {
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += dec(hx[(size_t)t * K + k]) * dec(hw[(size_t)n * K + k]);
            acc[n] = s + (bias ? hb[n] : 0.0);
        }
        for (int o = 0; o < NO; o++) {
            double ref = EPI == 2 ? acc[o] / (1.0 + exp(-acc[o])) * acc[o + N / 2]
                                  : acc[o] + (EPI == 1 ? hr[(size_t)t * NO + o] : 0.0);
            double got = hy[(size_t)t * NO + o];
            if (got != got)
                unwritten++;
            num += (got - ref) * (got - ref);
            den += ref * ref;
        }
    }
    char what[160];
    snprintf(what, sizeof what, "gemm_mx %s %s K=%d N=%d T=%d epi=%d%s", mx_name(MX), BF ? "bf16" : "f16", K, N, T, EPI,
             bias ? " bias" : "");
    verdict(what, sqrt(num / den), 1e-4, unwritten);
    cudaFree(dw);
    cudaFree(dx);
    cudaFree(db);
    cudaFree(dr);
    cudaFree(dy);
}

template <int MX>
static void check_flavour(void)
{
    check_mx<1, 64, 64, 0, MX>(9, 0);       /* one tile, rows past T */
    check_mx<1, 256, 200, 0, MX>(77, 1);    /* N not a multiple of 64, two row tiles, bias */
    check_mx<0, 256, 200, 1, MX>(130, 1);   /* f16, residual */
    check_mx<1, 512, 384, 2, MX>(64, 0);    /* SwiGLU: gate and up halves of 192 */
    check_mx<0, 128, 136, 2, MX>(33, 1);    /* SwiGLU past the halves (68 a half), f16, bias */
    check_mx<1, 2048, 512, 1, MX>(200, 0);  /* a 1B's row length, residual */
}

int main(void)
{
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    printf("device %s (sm_%d%d)\n", p.name, p.major, p.minor);
    check_flavour<LLMC_MX_WMMA>();
    check_flavour<LLMC_MX_MFMA>();
    check_flavour<LLMC_MX_NONE>();
    printf("%s: %d of %d checks failed\n", failures ? "FAIL" : "PASS", failures, checks);
    return failures ? 1 : 0;
}
