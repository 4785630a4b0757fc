/* kernel_check.cu — the wide-step tensor-core kernels of codegen/cuda_prelude.cuh against plain
 * host references, on random inputs, then timed. Built with nvcc on the lent GPU by
 * bench/gpu_round.sh (WHAT=kernels or all):
 *   nvcc -O2 -std=c++17 -arch=sm_90a -o kernel_check bench/kernel_check.cu && ./kernel_check
 *
 * gemm_h (half activations, cp.async stages): every epilogue (plain + bias, residual, SwiGLU with
 * interleaved gate/up tiles), 64- and 128-row tiles, K split with gemm_reduce, ragged row counts;
 * the reference sums the same bf16 inputs in double.
 * flash_prefill (causal attention over the paged f16 cache): a step of several sequences of ragged
 * lengths and start positions (tiles that straddle sequences, decode tokens among prefill chunks),
 * shuffled block tables, with and without a sliding window, head dims 64 and 128; the reference is
 * the softmax in double over the same f16 K/V.
 * paged_attn_dec (decode steps of up to 64 tokens, one kernel: the last block of a split combines
 * the parts): the same reference over ragged steps, long and short contexts (empty parts), windows,
 * head dims 32/64/128, 1-8 query heads a KV head; run three times with the output poisoned before
 * the third (the split counters must be back at zero), then timed against paged_attn +
 * attn_combine at the 1B and 8B decode shapes.
 * sample_row (the token of each logits row): draws with temperature, top-k and top-p from random
 * rows, some with many tied probabilities, against llmc_sample_u with the same uniforms.
 * Outputs are poisoned (NaN) before each launch; a row not written fails the check. Then the
 * timings: the 8B and 1B prefill shapes at 512 rows (TFLOP/s) and attention at 512 tokens.
 * Build: cc -c runtime/sample.c runtime/rtutil.c, then nvcc this file with the two objects. */
#include "../codegen/cuda_attn_decode.cuh"
#include "../codegen/cuda_attn_prefill.cuh"
#include "../codegen/cuda_mma.cuh"
#include "../codegen/cuda_sample.cuh"
#include "../codegen/cuda_wgmma.cuh"
#include "bench_cuda.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

extern "C" {
#include "../runtime/sample.h" /* the host reference of sample_row: llmc_sample_u (runtime/sample.c) */
}


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

static int failures = 0;
static void verdict(const char *what, double err, double tol, int64_t unwritten)
{
    int ok = err <= tol && unwritten == 0 && err == err;
    printf("%-64s rel.err %.2e (tol %.0e)%s  %s\n", what, err, tol, unwritten ? " UNWRITTEN ROWS" : "",
           ok ? "ok" : "FAIL");
    failures += !ok;
}


/* ---- gemm_h ---- */
template <int K, int N, int EPI, int SPLIT, int BM, int BK, int ST>
__global__ void __launch_bounds__(128) k_gemm(const uint16_t *w, const uint16_t *x, const float *b, float *y, int T,
                                              const float *res)
{
    gemm_h<1, K, N, K, (EPI == 2 ? N / 2 : N), (EPI == 1 ? N : 0), EPI, SPLIT, BM, 128, 2, 2, ST, BK>(w, x, b, y, T, res);
}
template <int K, int N, int EPI, int SPLIT, int MH, int ST>
__global__ void __launch_bounds__(128) k_wg(const uint16_t *w, const uint16_t *x, const float *b, float *y, int T,
                                            const float *res)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<1, K, N, K, (EPI == 2 ? N / 2 : N), (EPI == 1 ? N : 0), EPI, SPLIT, MH, ST>(w, x, b, y, T, res);
#endif
}
template <int N, int SPLIT, int EPI>
__global__ void __launch_bounds__(256) k_reduce(const float *part, const float *b, const float *res, float *y, int T)
{
    gemm_reduce<N, (EPI == 2 ? N / 2 : N), (EPI == 1 ? N : 0), SPLIT, EPI>(part, b, res, y, T);
}

template <int K, int N, int EPI, int SPLIT, int BM, int BK = 32, int ST = 4, int WG = 0>
static void check_gemm(int T, int timed_reps)
{
    constexpr int NO = EPI == 2 ? N / 2 : N;
    const size_t smem = WG ? ST * (BM + 128) * 128 + 1024 : ST * (BM + 128) * (BK + 8) * 2;
    std::vector<uint16_t> hw((size_t)N * K), hx((size_t)T * K);
    std::vector<float> hb(N), hr((size_t)T * NO), hy((size_t)T * NO);
    for (auto &v : hw)
        v = h_bf16((float)(urand() * 0.05));
    for (auto &v : hx)
        v = h_bf16((float)urand());
    for (auto &v : hb)
        v = (float)urand();
    for (auto &v : hr)
        v = (float)urand();
    uint16_t *dw, *dx;
    float *db, *dr, *dy, *dp = nullptr;
    CK(cudaMalloc(&dw, hw.size() * 2));
    CK(cudaMalloc(&dx, hx.size() * 2));
    CK(cudaMalloc(&db, hb.size() * 4));
    CK(cudaMalloc(&dr, hr.size() * 4));
    CK(cudaMalloc(&dy, hy.size() * 4));
    if (SPLIT > 1)
        CK(cudaMalloc(&dp, (size_t)SPLIT * T * N * 4));
    CK(cudaMemcpy(dw, hw.data(), hw.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dx, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(db, hb.data(), hb.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dr, hr.data(), hr.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemset(dy, 0xff, hy.size() * 4)); /* NaN */
    if (WG)
        CK(cudaFuncSetAttribute(k_wg<K, N, EPI, SPLIT, BM / 64, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    else
        CK(cudaFuncSetAttribute(k_gemm<K, N, EPI, SPLIT, BM, BK, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)smem));
    dim3 grid((T + BM - 1) / BM, (N + 127) / 128, SPLIT);
    auto run = [&]() {
        if (SPLIT > 1) {
            if (WG)
                k_wg<K, N, EPI, SPLIT, BM / 64, ST><<<grid, 128, smem>>>(dw, dx, nullptr, dp, T, nullptr);
            else
                k_gemm<K, N, EPI, SPLIT, BM, BK, ST><<<grid, 128, smem>>>(dw, dx, nullptr, dp, T, nullptr);
            k_reduce<N, SPLIT, EPI><<<(T * NO + 255) / 256, 256>>>(dp, db, dr, dy, T);
        } else if (WG) {
            k_wg<K, N, EPI, SPLIT, BM / 64, ST><<<grid, 128, smem>>>(dw, dx, db, dy, T, dr);
        } else {
            k_gemm<K, N, EPI, SPLIT, BM, BK, ST><<<grid, 128, smem>>>(dw, dx, db, dy, T, dr);
        }
    };
    run();
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(hy.data(), dy, hy.size() * 4, cudaMemcpyDeviceToHost));
    /* reference: every row, or 4 rows of the timed shapes */
    double num = 0, den = 0;
    int64_t unwritten = 0;
    std::vector<double> acc(N);
    for (int t = 0; t < T; t += timed_reps > 0 ? T / 4 + 1 : 1) {
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)h_bf16f(hx[(size_t)t * K + k]) * h_bf16f(hw[(size_t)n * K + k]);
            acc[n] = s + hb[n];
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
    /* rows never sampled must still be written */
    for (size_t i = 0; i < hy.size(); i++)
        if (hy[i] != hy[i])
            unwritten++;
    char what[160];
    snprintf(what, sizeof what, "%s K=%d N=%d T=%d epi=%d split=%d tile %dx128x%d st%d", WG ? "gemm_wg" : "gemm_h", K,
             N, T, EPI, SPLIT, BM, WG ? 64 : BK, ST);
    verdict(what, sqrt(num / den), 1e-4, unwritten);
    if (timed_reps > 0) {
        const double us = time_us(run, timed_reps);
        printf("TIME %-58s %8.1f us %7.1f TFLOP/s\n", what, us, 2.0 * T * N * K / (us * 1e-6) / 1e12);
    }
    cudaFree(dw);
    cudaFree(dx);
    cudaFree(db);
    cudaFree(dr);
    cudaFree(dy);
    if (dp)
        cudaFree(dp);
}

/* ---- flash_prefill ---- */
constexpr int FL = 2, FBS = 16; /* layers in the pool, positions a block */
template <int HQ, int HKV, int HD, int WIN>
__global__ void __launch_bounds__(128, 2) k_flash(const int32_t *pos, const int32_t *seq, const int32_t *tables, int mbs,
                                                  const uint8_t *kv, const float *q, float *y, int T)
{
    flash_prefill<FL, FBS, HQ, HKV, HD, HQ * HD + 8, HQ * HD, WIN>(pos, seq, tables, mbs, kv, q, y, T, 1, 0.125f);
}

/* decode attention: paged_attn_dec (one kernel, the last block of each (token, KV head) combines),
 * or the kernel it replaced, paged_attn + attn_combine (timings only) */
constexpr int DNZ = 16; /* parts, as the emitter splits decode steps */
__host__ __device__ constexpr int dec_gs(int g) { return g % 4 == 0 ? 4 : g % 2 == 0 ? 2 : 1; } /* query heads a block */
template <int HQ, int HKV, int HD, int WIN>
__global__ void __launch_bounds__(128, 4) k_dec(const int32_t *pos, const int32_t *seq, const int32_t *tables, int mbs,
                                                const uint8_t *kv, const float *q, float *y, float *part, int *cnt)
{
    paged_attn_dec<FL, FBS, HQ, HKV, HD, HQ * HD + 8, HQ * HD, WIN, DNZ, 4, dec_gs(HQ / HKV)>(pos, seq, tables, mbs, kv, q,
                                                                                          y, part, cnt, 1, 0.125f);
}
template <int HQ, int HKV, int HD, int WIN>
__global__ void __launch_bounds__(128, 4) k_dec_old(const int32_t *pos, const int32_t *seq, const int32_t *tables,
                                                    int mbs, const uint8_t *kv, const float *q, float *y, float *part)
{
    paged_attn<FL, FBS, HQ, HKV, HD, HQ * HD + 8, HQ * HD, WIN>(pos, seq, tables, mbs, kv, q, y, part, 1, 0.125f);
}
template <int HQ, int HD>
__global__ void __launch_bounds__(128) k_combine(const float *part, float *y)
{
    attn_combine<HQ, HD, HQ * HD, DNZ>(part, y);
}

struct Seq {
    int start, n; /* positions already cached, tokens in this step */
};

/* MODE 0: flash_prefill; 1: paged_attn_dec; 2: paged_attn + attn_combine */
template <int HQ, int HKV, int HD, int WIN, int MODE = 0>
static void check_flash(const std::vector<Seq> &seqs, int timed_reps)
{
    constexpr int SQ = HQ * HD + 8, SY = HQ * HD, G = HQ / HKV;
    const int ns = (int)seqs.size();
    int T = 0, mbs = 0;
    for (auto &s : seqs) {
        T += s.n;
        int nb = (s.start + s.n + FBS - 1) / FBS;
        mbs = nb > mbs ? nb : mbs;
    }
    const int nblocks = ns * mbs + 3;
    std::vector<int32_t> perm(nblocks), tables((size_t)ns * mbs, -1), pos(T), seq(T);
    for (int i = 0; i < nblocks; i++)
        perm[i] = i;
    for (int i = nblocks - 1; i > 0; i--) { /* shuffled blocks */
        int j = (int)((urand() + 1.0) * 0.5 * (i + 1)) % (i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int used = 0, t = 0;
    for (int s = 0; s < ns; s++) {
        int nb = (seqs[s].start + seqs[s].n + FBS - 1) / FBS;
        for (int b = 0; b < nb; b++)
            tables[(size_t)s * mbs + b] = perm[used++];
        for (int i = 0; i < seqs[s].n; i++, t++) {
            pos[t] = seqs[s].start + i;
            seq[t] = s;
        }
    }
    const size_t row = (size_t)HKV * HD, kvn = (size_t)nblocks * FL * 2 * FBS * row;
    std::vector<uint16_t> hkv(kvn);
    for (auto &v : hkv)
        v = h_f16((float)urand());
    std::vector<float> hq((size_t)T * SQ), hy((size_t)T * SY);
    for (auto &v : hq)
        v = (float)(urand() * 2.0);
    int32_t *dpos, *dseq, *dtab;
    uint8_t *dkv;
    float *dq, *dy;
    CK(cudaMalloc(&dpos, T * 4));
    CK(cudaMalloc(&dseq, T * 4));
    CK(cudaMalloc(&dtab, tables.size() * 4));
    CK(cudaMalloc(&dkv, kvn * 2));
    CK(cudaMalloc(&dq, hq.size() * 4));
    CK(cudaMalloc(&dy, hy.size() * 4));
    CK(cudaMemcpy(dpos, pos.data(), T * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dseq, seq.data(), T * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dtab, tables.data(), tables.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dkv, hkv.data(), kvn * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dq, hq.data(), hq.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemset(dy, 0xff, hy.size() * 4));
    const int smem = 2 * 2 * 64 * (HD + 8) * 2;
    CK(cudaFuncSetAttribute(k_flash<HQ, HKV, HD, WIN>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    dim3 grid((T + 63) / 64, HQ);
    float *dpart = nullptr;
    int *dcnt = nullptr;
    if (MODE) {
        CK(cudaMalloc(&dpart, (size_t)T * HQ * DNZ * (HD + 2) * 4));
        CK(cudaMalloc(&dcnt, (size_t)T * HQ * 4));
        CK(cudaMemset(dcnt, 0, (size_t)T * HQ * 4));
    }
    auto run = [&]() {
        if (MODE == 1) {
            k_dec<HQ, HKV, HD, WIN><<<dim3(T, HQ / dec_gs(HQ / HKV), DNZ), 128>>>(dpos, dseq, dtab, mbs, dkv, dq, dy, dpart, dcnt);
        } else if (MODE == 2) {
            k_dec_old<HQ, HKV, HD, WIN><<<dim3(T, HKV, DNZ), 128>>>(dpos, dseq, dtab, mbs, dkv, dq, dy, dpart);
            k_combine<HQ, HD><<<dim3(T, HQ), 128>>>(dpart, dy);
        } else {
            k_flash<HQ, HKV, HD, WIN><<<grid, 128, smem>>>(dpos, dseq, dtab, mbs, dkv, dq, dy, T);
        }
    };
    if (MODE == 1) { /* twice first: the counters must be back at zero for the checked run */
        run();
        run();
        CK(cudaDeviceSynchronize());
        CK(cudaMemset(dy, 0xff, hy.size() * 4));
    }
    run();
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(hy.data(), dy, hy.size() * 4, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    int64_t unwritten = 0;
    std::vector<double> sc;
    for (int tt = 0; tt < T; tt++) {
        const int s = seq[tt], p = pos[tt], lo = WIN > 0 && p - WIN + 1 > 0 ? p - WIN + 1 : 0;
        for (int h = 0; h < HQ; h++) {
            const int kh = h / G;
            sc.assign(p + 1, 0.0);
            double mx = -1e300;
            for (int j = lo; j <= p; j++) {
                const int blk = tables[(size_t)s * mbs + j / FBS];
                const uint16_t *kr = &hkv[(((size_t)blk * FL + 1) * 2 + 0) * FBS * row + (size_t)(j % FBS) * row + kh * HD];
                double d = 0;
                for (int i = 0; i < HD; i++)
                    d += (double)hq[(size_t)tt * SQ + h * HD + i] * h_f16f(kr[i]);
                sc[j] = d * 0.125;
                mx = sc[j] > mx ? sc[j] : mx;
            }
            double l = 0;
            for (int j = lo; j <= p; j++)
                l += (sc[j] = exp(sc[j] - mx));
            for (int i = 0; i < HD; i++) {
                double o = 0;
                for (int j = lo; j <= p; j++) {
                    const int blk = tables[(size_t)s * mbs + j / FBS];
                    o += sc[j] * h_f16f(hkv[(((size_t)blk * FL + 1) * 2 + 1) * FBS * row + (size_t)(j % FBS) * row + kh * HD + i]);
                }
                const double ref = o / l, got = hy[(size_t)tt * SY + h * HD + i];
                if (got != got)
                    unwritten++;
                num += (got - ref) * (got - ref);
                den += ref * ref;
            }
        }
    }
    char what[160];
    snprintf(what, sizeof what, "%s HQ=%d HKV=%d HD=%d win=%d: %d seqs, T=%d",
             MODE == 1 ? "paged_attn_dec" : MODE == 2 ? "paged_attn+combine" : "flash_prefill", HQ, HKV, HD, WIN, ns, T);
    verdict(what, sqrt(num / den), 5e-3, unwritten);
    if (timed_reps > 0) {
        const double us = time_us(run, timed_reps);
        double flop = 0;
        for (int tt = 0; tt < T; tt++)
            flop += 4.0 * HQ * HD * (pos[tt] + 1);
        if (MODE)
            printf("TIME %-58s %8.1f us\n", what, us);
        else
            printf("TIME %-58s %8.1f us %7.1f TFLOP/s\n", what, us, flop / (us * 1e-6) / 1e12);
    }
    if (MODE) {
        cudaFree(dpart);
        cudaFree(dcnt);
    }
    cudaFree(dpos);
    cudaFree(dseq);
    cudaFree(dtab);
    cudaFree(dkv);
    cudaFree(dq);
    cudaFree(dy);
}

/* ---- sample_row ---- */
template <int V>
__global__ void __launch_bounds__(SAMPLE_NT) k_sample(const float *logits, int32_t *ids, const double *smp)
{
    sample_row<V, V>(logits, ids, smp);
}

template <int V>
static void check_sample(int rows, float temp, int top_k, float top_p, float scale, int ties, int timed_reps)
{
    std::vector<float> hl((size_t)rows * V);
    std::vector<double> hs(4 + rows);
    for (auto &v : hl)
        v = ties ? (float)floor(urand() * scale * 2.0) * 0.5f : (float)(urand() * scale);
    hs[0] = temp;
    hs[1] = top_p;
    hs[2] = top_k;
    hs[3] = 1;
    for (int r = 0; r < rows; r++)
        hs[4 + r] = (urand() + 1.0) * 0.5;
    float *dl;
    int32_t *di;
    double *ds;
    CK(cudaMalloc(&dl, hl.size() * 4));
    CK(cudaMalloc(&di, rows * 4));
    CK(cudaMalloc(&ds, hs.size() * 8));
    CK(cudaMemcpy(dl, hl.data(), hl.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(ds, hs.data(), hs.size() * 8, cudaMemcpyHostToDevice));
    CK(cudaMemset(di, 0xff, rows * 4));
    k_sample<V><<<rows, SAMPLE_NT>>>(dl, di, ds);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    std::vector<int32_t> hi(rows);
    CK(cudaMemcpy(hi.data(), di, rows * 4, cudaMemcpyDeviceToHost));
    LlmcSamplerCfg cfg = {temp, top_k, top_p};
    LlmcSampleBuf sb;
    if (llmc_samplebuf_init(&sb, V, NULL, 0) != 0)
        exit(2);
    int agree = 0, unwritten = 0;
    for (int r = 0; r < rows; r++) {
        int32_t want = llmc_sample_u(&cfg, hs[4 + r], &hl[(size_t)r * V], V, &sb);
        agree += hi[r] == want;
        unwritten += hi[r] < 0 || hi[r] >= V;
    }
    llmc_samplebuf_free(&sb);
    char what[160];
    snprintf(what, sizeof what, "sample_row V=%d T=%.2f top_k=%d top_p=%.2f%s: %d rows", V, temp, top_k, top_p,
             ties ? " (tied p)" : "", rows);
    /* expf may differ from the host's by an ulp: a draw at a boundary may differ, rarely */
    verdict(what, 1.0 - (double)agree / rows, 0.02, unwritten);
    if (timed_reps > 0) {
        const double us = time_us([&]() { k_sample<V><<<rows, SAMPLE_NT>>>(dl, di, ds); }, timed_reps);
        printf("TIME %-58s %8.1f us\n", what, us);
    }
    cudaFree(dl);
    cudaFree(di);
    cudaFree(ds);
}

int main(void)
{
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    /* correctness: ragged row counts, every epilogue, both tiles, K split */
    check_gemm<256, 384, 0, 1, 64>(77, 0);
    check_gemm<256, 384, 1, 1, 128>(200, 0);
    check_gemm<256, 384, 2, 1, 128>(131, 0);
    check_gemm<512, 200, 2, 1, 64>(70, 0);
    check_gemm<512, 384, 1, 2, 64>(99, 0);
    check_gemm<512, 384, 2, 4, 128>(300, 0);
    std::vector<Seq> ragged = {{0, 70}, {130, 5}, {0, 1}, {37, 100}, {200, 64}, {5, 1}, {0, 33}};
    check_flash<32, 8, 64, 0>(ragged, 0);
    check_flash<32, 8, 128, 0>(ragged, 0);
    check_flash<32, 8, 64, 48>(ragged, 0);
    check_flash<8, 8, 128, 0>({{0, 300}}, 0);
    check_flash<16, 2, 64, 0>({{3, 129}, {0, 2}}, 0);
    /* decode attention: ragged steps of up to 64 tokens, long and short contexts (parts left empty) */
    std::vector<Seq> dsteps = {{0, 3}, {130, 5}, {0, 1}, {37, 10}, {200, 1}, {5, 1}, {1000, 2}, {2, 1}};
    check_flash<32, 8, 64, 0, 1>(dsteps, 0);
    check_flash<32, 8, 128, 0, 1>(dsteps, 0);
    check_flash<32, 8, 64, 48, 1>(dsteps, 0);
    check_flash<8, 8, 128, 0, 1>({{4000, 1}, {17, 1}}, 0);
    check_flash<16, 2, 64, 0, 1>({{3, 40}, {0, 2}, {600, 22}}, 0);
    check_flash<32, 4, 32, 0, 1>(dsteps, 0);
    check_flash<32, 8, 128, 48, 1>({{3000, 1}}, 0); /* one token (the early K/V loads), a window */
    check_flash<16, 2, 64, 0, 1>({{9, 1}}, 0);
    /* sampling: the fraction of rows that differ from the host's draw is the "error" */
    check_sample<512>(200, 1.0f, 0, 1.0f, 4.0f, 0, 0);
    check_sample<512>(200, 0.8f, 40, 1.0f, 4.0f, 0, 0);
    check_sample<512>(200, 0.7f, 0, 0.9f, 4.0f, 0, 0);
    check_sample<512>(200, 1.2f, 50, 0.8f, 3.0f, 1, 0);
    check_sample<1000>(100, 1.0f, 0, 0.5f, 2.0f, 1, 0);
    check_sample<32000>(64, 0.9f, 0, 0.95f, 6.0f, 0, 0);
    check_sample<128256>(64, 0.8f, 40, 0.95f, 8.0f, 0, 3);
    check_sample<128256>(64, 1.0f, 0, 0.9f, 8.0f, 0, 3);
    check_gemm<512, 384, 2, 2, 128, 64, 3>(150, 0);
    check_gemm<512, 384, 1, 1, 64, 64, 3>(77, 0);
    const int wg = prop.major == 9; /* built for sm_90a by gpu_round.sh on Hopper */
    if (wg) {
        check_gemm<256, 384, 0, 1, 64, 64, 4, 1>(77, 0);
        check_gemm<256, 384, 1, 1, 128, 64, 3, 1>(200, 0);
        check_gemm<512, 384, 2, 1, 128, 64, 3, 1>(131, 0);
        check_gemm<512, 200, 2, 1, 64, 64, 4, 1>(70, 0);
        check_gemm<512, 384, 1, 2, 64, 64, 4, 1>(99, 0);
        check_gemm<1024, 384, 2, 4, 128, 64, 3, 1>(300, 0);
    }
    /* timings: 512-row prefill shapes (8B: qkv, o, gate/up, down; 1B: qkv, gate/up), tile variants */
    check_gemm<4096, 6144, 0, 1, 128>(512, 20);
    check_gemm<4096, 28672, 2, 1, 128>(512, 20);
    check_gemm<14336, 4096, 1, 1, 128, 64, 3>(512, 20);
    if (wg) {
        check_gemm<4096, 6144, 0, 1, 64, 64, 4, 1>(512, 20);
        check_gemm<4096, 6144, 0, 1, 128, 64, 3, 1>(512, 20);
        check_gemm<4096, 6144, 0, 1, 128, 64, 4, 1>(512, 20);
        check_gemm<4096, 4096, 1, 1, 64, 64, 4, 1>(512, 20);
        check_gemm<4096, 4096, 1, 1, 128, 64, 3, 1>(512, 20);
        check_gemm<4096, 28672, 2, 1, 128, 64, 3, 1>(512, 20);
        check_gemm<4096, 28672, 2, 1, 128, 64, 4, 1>(512, 20);
        check_gemm<4096, 28672, 2, 1, 64, 64, 6, 1>(512, 20);
        check_gemm<14336, 4096, 1, 1, 64, 64, 4, 1>(512, 20);
        check_gemm<14336, 4096, 1, 1, 128, 64, 3, 1>(512, 20);
        check_gemm<14336, 4096, 1, 2, 128, 64, 3, 1>(512, 20);
        check_gemm<2048, 3072, 0, 1, 64, 64, 4, 1>(512, 20);
        check_gemm<2048, 16384, 2, 1, 128, 64, 3, 1>(512, 20);
        check_gemm<4096, 14336, 0, 1, 128, 64, 3, 1>(4096, 5);
        check_gemm<4096, 14336, 0, 1, 128, 64, 4, 1>(4096, 5);
    }
    check_gemm<4096, 14336, 0, 1, 128, 64, 3>(4096, 5); /* the cuBLAS ceiling's shape (PEERS.md) */
    check_flash<32, 8, 64, 0>({{0, 512}}, 20);
    check_flash<32, 8, 64, 0, 2>({{575, 1}}, 50); /* a decode step of the 1B and 8B at context 576 and 4096 */
    check_flash<32, 8, 64, 0, 1>({{575, 1}}, 50);
    check_flash<32, 8, 128, 0, 2>({{575, 1}}, 50);
    check_flash<32, 8, 128, 0, 1>({{575, 1}}, 50);
    check_flash<32, 8, 128, 0, 2>({{4095, 1}}, 50);
    check_flash<32, 8, 128, 0, 1>({{4095, 1}}, 50);
    check_flash<32, 8, 128, 0, 2>(std::vector<Seq>(16, Seq{575, 1}), 50);
    check_flash<32, 8, 128, 0, 1>(std::vector<Seq>(16, Seq{575, 1}), 50);
    check_flash<32, 8, 128, 0>({{0, 512}}, 20);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
