/* kernel_check.cu — every device function of the kernel headers (codegen/cuda_*.cuh) against a
 * plain host reference, on random inputs, then the wide-step kernels timed. Built with nvcc on the
 * lent GPU by bench/gpu_round.sh (WHAT=kernels or all), or here by scripts/gpu_carry.sh:
 *   nvcc -O2 -std=c++17 -arch=sm_90a -I ir -o kernel_check bench/kernel_check.cu ... && ./kernel_check
 * (-I ir: the headers include ir/format_ids.h and ir/formats.def, the format ids.)
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
 * sample_rows (a greedy row of a step of few rows split over blocks): `kernel_check sample`
 * (sample_checks, the in-place select_rows, then sample_timings) against llmc_argmax and the
 * one-block kernel.
 * Outputs are poisoned (NaN) before each launch; a row not written fails the check.
 * paged_attn_tc (decode steps on tensor cores, NVIDIA, heads of 64 or 128) as the emitter instantiates
 * it, and with its scores as S^T = K Q^T (KQ 1, not emitted yet): the same steps, windows,
 * soft-capping, 1-8 query heads a block, every format pair, KIVI's ring (check_kivi), then timed
 * beside paged_attn_dec (`kernel_check attn`: both layouts' checks, then both timed row by row).
 * The per-token attention (paged_attn, with attn_combine for decode parts, in one part for long
 * steps) for head sizes that are not powers of two or have no tensor-core tile (8, 40, 48, 80, 96,
 * 256), against the same reference.
 * gemm_q (batched decode, 9-64 rows) as the emitter launches it, every format and epilogue,
 * against the reference (qmma_checks; `kernel_check qmma`: these, then timed at the 8B's shapes).
 * gemm_wt (cuda_wgmma_tma.cuh: TMA-fed, warp-specialized wgmma; Hopper):
 * `kernel_check wt` alone (wt_checks, then wt_timings): against the reference and gemm_wg, then
 * timed against gemm_wg's emitted tile at the 8B's and 1B's shapes (512 and 4096 rows).
 * gemm_ws (cuda_wgmma_tma.cuh: batched decode of bf16/f16 weights on wgmma through a TMA ring,
 * --decode-wgmma on; Hopper): `kernel_check ws` alone (ws_checks, then ws_timings): against the
 * reference and gemm_q, then timed against gemm_q at the 1B's and 8B's shapes (16, 32, 64 rows).
 * check_rest(): every other kernel element by element with tolerances from the formats involved
 * (gemv, gemv_b1 with its RoPE/KV epilogue, gemm_tc + gemm_reduce, rows_to_half, the norms, the
 * elementwise ops, rope, the f16 KV writers, embedding, select_rows, the argmax; see the section's
 * comment). One line a check, PASS or FAIL; the last line counts the failures (exit status 1 if
 * any). Then the timings: the 8B and 1B prefill shapes at 512 rows (TFLOP/s) and attention at 512
 * tokens.
 * Build: cc -c runtime/sample.c runtime/rtutil.c, then nvcc this file with the two objects. */
#include "../codegen/cuda_attn_decode.cuh"
#include "../codegen/cuda_attn_prefill.cuh"
#include "../codegen/cuda_mma.cuh"
#include "../codegen/cuda_sample.cuh"
#include "../codegen/cuda_wgmma.cuh"
#include "../codegen/cuda_wgmma_q.cuh"
#define LLMC_WT_SPIN_LIMIT (1 << 26) /* gemm_wt: a hung mbarrier wait traps (an error, not a hang); a real wait takes a few tries */
#include "../codegen/cuda_wgmma_tma.cuh"
#include "../codegen/cuda_elementwise.cuh"
#include "../codegen/cuda_gemv.cuh"
#include "../codegen/cuda_gemv_b1.cuh"
#include "../codegen/cuda_kv.cuh"
#include "../codegen/cuda_moe.cuh"
#include "../codegen/cuda_norm.cuh"
#include "../codegen/cuda_qmma.cuh"
#include "../codegen/cuda_rope.cuh"
#include "../codegen/cuda_rows.cuh"
#include "bench_cuda.h"
#include "../ir/moe_route.h" /* the routing reference (the interpreter's): llmc_moe_route */

#include <cuda.h>         /* CUtensorMap and its enums (gemm_wt's maps; the function comes through the runtime) */
#include <cudaTypedefs.h> /* PFN_cuTensorMapEncodeTiled */
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
#include "../ir/kv_formats.h" /* the KV cache's reference rows (the cpu target's): kv_put_rows, kv_get_row */


#include "bench_weights.h"

/* ---- gemm_h ---- */
template <int K, int N, int EPI, int SPLIT, int BM, int BK, int ST>
__global__ void __launch_bounds__(128) k_gemm(const uint16_t *w, const uint16_t *x, const float *b, float *y, int T,
                                              const float *res)
{
    gemm_h<1, K, N, K, ((EPI == 2 || EPI == 4) ? N / 2 : N), (EPI == 1 ? N : 0), EPI, SPLIT, BM, 128, 2, 2, ST, BK>(w, x, b, y, T, res);
}
template <int K, int N, int EPI, int SPLIT, int MH, int ST, int BF = 1>
__global__ void __launch_bounds__(128) k_wg(const uint16_t *w, const uint16_t *x, const float *b, float *y, int T,
                                            const float *res)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wg<BF, K, N, K, ((EPI == 2 || EPI == 4) ? N / 2 : N), (EPI == 1 ? N : 0), EPI, SPLIT, MH, ST>(w, x, b, y, T, res);
#endif
}
template <int N, int SPLIT, int EPI>
__global__ void __launch_bounds__(256) k_reduce(const float *part, const float *b, const float *res, float *y, int T)
{
    gemm_reduce<N, ((EPI == 2 || EPI == 4) ? N / 2 : N), (EPI == 1 ? N : 0), SPLIT, EPI>(part, b, res, y, T);
}

template <int K, int N, int EPI, int SPLIT, int BM, int BK = 32, int ST = 4, int WG = 0>
static void check_gemm(int T, int timed_reps)
{
    constexpr int NO = (EPI == 2 || EPI == 4) ? N / 2 : N;
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
    if constexpr (WG != 0) /* only the kernel the check runs is instantiated */
        CK(cudaFuncSetAttribute(k_wg<K, N, EPI, SPLIT, BM / 64, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    else
        CK(cudaFuncSetAttribute(k_gemm<K, N, EPI, SPLIT, BM, BK, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)smem));
    dim3 grid((T + BM - 1) / BM, (N + 127) / 128, SPLIT);
    auto run = [&]() {
        if (SPLIT > 1) {
            if constexpr (WG != 0)
                k_wg<K, N, EPI, SPLIT, BM / 64, ST><<<grid, 128, smem>>>(dw, dx, nullptr, dp, T, nullptr);
            else
                k_gemm<K, N, EPI, SPLIT, BM, BK, ST><<<grid, 128, smem>>>(dw, dx, nullptr, dp, T, nullptr);
            k_reduce<N, SPLIT, EPI><<<(T * NO + 255) / 256, 256>>>(dp, db, dr, dy, T);
        } else if constexpr (WG != 0) {
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
            double ref = (EPI == 2 || EPI == 4) ? glud(EPI, acc[o]) * acc[o + N / 2]
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
template <int KF, int VF, int HQ, int HKV, int HD, int WIN>
__global__ void __launch_bounds__(128, 2) k_flash(const int32_t *pos, const int32_t *seq, const int32_t *tables, int mbs,
                                                  const uint8_t *kv, const float *q, float *y, int T, const float *kvs,
                                                  float cap)
{
    flash_prefill<KF, VF, FL, FBS, HQ, HKV, HD, HQ * HD + 8, HQ * HD, WIN>(pos, seq, tables, mbs, kv, q, y, T, 1, 0.125f,
                                                                           kvs, cap);
}

/* decode attention: paged_attn_dec (one kernel, the last block of each (token, KV head) combines),
 * or the kernel it replaced, paged_attn + attn_combine (timings only) */
constexpr int DNZ = 16; /* parts, as the emitter splits decode steps */
__host__ __device__ constexpr int dec_gs(int g) { return g % 4 == 0 ? 4 : g % 2 == 0 ? 2 : 1; } /* query heads a block */
/* positions in flight a lane group, as cuda_attention.c chooses them: 32 registers of K/V words and
 * sides (2 for int8/int4/KIVI; 8 taken by KIVI keys' channel scales), at most 8, 4 with f16 rows */
__host__ __device__ constexpr int dec_regs(int f)
{
    return (fmt_bits(f) * 8 / 32 > 0 ? fmt_bits(f) * 8 / 32 : 1) + (f == FMT_INT8 || f == FMT_INT4 || kv_is_kivi(f) ? 2 : 0);
}
__host__ __device__ constexpr int dec_u(int kf, int vf)
{
    return fmt_bits(kf) == 16 || fmt_bits(vf) == 16 ? 4
         : (32 - (kv_is_kivi(kf) ? 8 : 0)) / (dec_regs(kf) + dec_regs(vf)) < 8
               ? (32 - (kv_is_kivi(kf) ? 8 : 0)) / (dec_regs(kf) + dec_regs(vf))
               : 8;
}
template <int KF, int VF, int HQ, int HKV, int HD, int WIN>
__global__ void __launch_bounds__(128, 4) k_dec(const int32_t *pos, const int32_t *seq, const int32_t *tables, int mbs,
                                                const uint8_t *kv, const float *q, float *y, float *part, int *cnt,
                                                const float *kvs, float cap)
{
    paged_attn_dec<KF, VF, FL, FBS, HQ, HKV, HD, HQ * HD + 8, HQ * HD, WIN, DNZ, dec_u(KF, VF), dec_gs(HQ / HKV)>(
        pos, seq, tables, mbs, kv, q, y, part, cnt, 1, 0.125f, kvs, cap);
}
/* paged_attn_tc (NVIDIA decode steps with heads of 64 or 128) as cuda_attention.c's tc_kernel
 * instantiates it: GS query heads a block, NT tiles a warp at once, blocks an SM, parts of at least
 * MINCH positions */
__host__ __device__ constexpr int tc_gs(int g, int d = 8) { return g % d == 0 ? d : tc_gs(g, d - 1); }
__host__ __device__ constexpr int tc_nt(int kf, int vf, int hd)
{
    return hd == 128 && (fmt_bits(kf) == 16 || fmt_bits(vf) == 16 || kf == FMT_INT8 || vf == FMT_INT8 || kv_is_kivi(kf)) ? 1 : 2;
}
__host__ __device__ constexpr int tc_minb(int kf, int vf, int hd)
{
    return hd < 128 ? 4 : tc_nt(kf, vf, hd) == 2 || fmt_bits(kf) == 16 || fmt_bits(vf) == 16 || kf == FMT_INT8 || vf == FMT_INT8 || kv_is_kivi(kf) ? 3 : 4;
}
__host__ __device__ constexpr int tc_minch(int kf, int vf, int hd)
{
    return 16384 / (kv_vbytes(kf, hd) + kv_vbytes(vf, hd)) < 64    ? 64
         : 16384 / (kv_vbytes(kf, hd) + kv_vbytes(vf, hd)) > 256 ? 256
                                                                   : (int)(16384 / (kv_vbytes(kf, hd) + kv_vbytes(vf, hd)));
}
/* FILL as tc_kernel gives it for sm_90a (typical 132 SMs times the blocks an SM); TCF < 0: none (the
 * parts by a token's length alone, the rule before round 8). KQ: the scores' layout, S = Q K^T or
 * S^T = K Q^T; TNT > 0: tiles a warp at once instead of tc_nt's */
__host__ __device__ constexpr int tc_fill(int kf, int vf, int hd) { return 132 * tc_minb(kf, vf, hd); }
template <int KF, int VF, int HQ, int HKV, int HD, int WIN, int TCM = 0, int KQ = 0, int TNT = 0, int TCF = 0>
__global__ void __launch_bounds__(128, tc_minb(KF, VF, HD)) k_tc(const int32_t *pos, const int32_t *seq, const int32_t *tables,
                                                                 int mbs, const uint8_t *kv, const float *q, float *y,
                                                                 float *part, int *cnt, const float *kvs, float cap)
{
    paged_attn_tc<KF, VF, FL, FBS, HQ, HKV, HD, HQ * HD + 8, HQ * HD, WIN, DNZ, (TCM > 0 ? TCM : tc_minch(KF, VF, HD)),
                  (TNT > 0 ? TNT : tc_nt(KF, VF, HD)), tc_gs(HQ / HKV), KQ,
                  (TCF < 0 ? 0 : TCF > 0 ? TCF : tc_fill(KF, VF, HD))>(pos, seq, tables, mbs, kv, q, y, part, cnt, 1,
                                                                        0.125f, kvs, cap);
}
template <int KF, int VF, int HQ, int HKV, int HD, int WIN>
__global__ void __launch_bounds__(128, 4) k_dec_old(const int32_t *pos, const int32_t *seq, const int32_t *tables,
                                                    int mbs, const uint8_t *kv, const float *q, float *y, float *part,
                                                    const float *kvs, float cap)
{
    paged_attn<KF, VF, FL, FBS, HQ, HKV, HD, HQ * HD + 8, HQ * HD, WIN>(pos, seq, tables, mbs, kv, q, y, part, 1, 0.125f,
                                                                        kvs, cap);
}
template <int HQ, int HD>
__global__ void __launch_bounds__(128) k_combine(const float *part, float *y)
{
    attn_combine<HQ, HD, HQ * HD, DNZ>(part, y);
}

static const char *kvname(int f)
{
    return f == FMT_F16 ? "f16" : f == FMT_KV_FP8 ? "fp8" : f == FMT_INT8 ? "int8" : f == FMT_INT4 ? "int4"
         : f == FMT_KIVI2 ? "kivi2" : f == FMT_KIVI4 ? "kivi4" : "?";
}
/* The scales per layer and KV head of an fp8 cache ([L][2][HKV], K then V): powers of two and not,
 * around 1/64 (values of the checks up to 1 become E4M3 values up to about 100). */
static std::vector<float> kv_scales(int L, int HKV)
{
    std::vector<float> s((size_t)L * 2 * HKV);
    for (auto &v : s)
        v = (float)(1.0 / 64 * (1.25 + 0.75 * urand()));
    s[0] = 1.0f / 64;
    return s;
}

struct Seq {
    int start, n; /* positions already cached, tokens in this step */
};

/* A batch-invariance check (llmc compile --batch-invariant): `diff` values of check `what` differ in
 * their bits between the step and `how` (each row alone, another grid). */
static void binv_verdict(const char *what, const char *how, int64_t diff)
{
    printf("%s %s: %s, bit for bit%s\n", diff ? "FAIL" : "PASS", what, how,
           diff ? " (values differ)" : "");
    if (diff)
        printf("     %lld values differ\n", (long long)diff);
    failures += diff != 0;
    checks++;
}

/* MODE 0: flash_prefill; 1: paged_attn_dec; 2: paged_attn + attn_combine (decode steps whose head
 * size is not a power of two); 3: paged_attn in one part (long steps whose head size has no
 * tensor-core tile: HD % 16 != 0 or HD > 128); 4: paged_attn_tc (decode steps on NVIDIA, heads of
 * 64 or 128), as cuda_attention.c launches them; 5: paged_attn_tc with the scores as S^T = K Q^T (KQ 1,
 * which the emitter does not pick yet). The cache holds
 * keys in KF and values in VF: random rows (never zeros) stored by the cpu target's quantizer
 * (ir/kv_formats.h kv_put_rows, fp8 with scales per layer and head), the reference reads them back
 * as the cpu target does (kv_get_row) and sums in double. */
template <int HQ, int HKV, int HD, int WIN, int MODE = 0, int KF = FMT_F16, int VF = FMT_F16, int TCM = 0, int TNT = 0,
          int TCF = 0>
static void check_flash(const std::vector<Seq> &seqs, int timed_reps, float cap = 0.0f)
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
    const size_t kvn = (size_t)nblocks * kv_block_bytes(KF, VF, FL, FBS, HKV, HD);
    const std::vector<float> hs = kv_scales(FL, HKV);
    std::vector<uint8_t> hkv(kvn);
    {
        std::vector<float> x((size_t)HKV * HD);
        for (int b = 0; b < nblocks; b++)
            for (int l = 0; l < FL; l++)
                for (int w = 0; w < 2; w++)
                    for (int off = 0; off < FBS; off++) {
                        for (auto &v : x)
                            v = (float)nzrand(1.0);
                        kv_put_rows(w ? VF : KF, w, FBS, HKV, HD, &hkv[kv_sec_at(KF, VF, FL, FBS, HKV, HD, b, l, w)], off,
                                    x.data(), &hs[((size_t)l * 2 + w) * HKV]);
                    }
    }
    /* the reference's view of a row: as the cpu target reads it */
    auto row = [&](int blk, int w, int off, int kh, float *buf) {
        return kv_get_row(w ? VF : KF, w, FBS, HKV, HD, &hkv[kv_sec_at(KF, VF, FL, FBS, HKV, HD, blk, 1, w)], off, kh, buf,
                          hs[((size_t)1 * 2 + w) * HKV + kh]);
    };
    std::vector<float> hq((size_t)T * SQ), hy((size_t)T * SY);
    for (auto &v : hq)
        v = (float)(urand() * 2.0);
    int32_t *dpos, *dseq, *dtab;
    uint8_t *dkv;
    float *dq, *dy, *dkvs;
    CK(cudaMalloc(&dpos, T * 4));
    CK(cudaMalloc(&dseq, T * 4));
    CK(cudaMalloc(&dtab, tables.size() * 4));
    CK(cudaMalloc(&dkv, kvn));
    CK(cudaMalloc(&dq, hq.size() * 4));
    CK(cudaMalloc(&dy, hy.size() * 4));
    CK(cudaMalloc(&dkvs, hs.size() * 4));
    CK(cudaMemcpy(dpos, pos.data(), T * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dseq, seq.data(), T * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dtab, tables.data(), tables.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dkv, hkv.data(), kvn, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dq, hq.data(), hq.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dkvs, hs.data(), hs.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemset(dy, 0xff, hy.size() * 4));
    const float *kvs = KF == FMT_KV_FP8 || VF == FMT_KV_FP8 ? dkvs : nullptr;
    const int smem = 2 * 2 * 64 * (HD + 8) * 2;
    if constexpr (MODE == 0)
        CK(cudaFuncSetAttribute(k_flash<KF, VF, HQ, HKV, HD, WIN>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    dim3 grid((T + 63) / 64, HQ);
    float *dpart = nullptr;
    int *dcnt = nullptr;
    if (MODE == 1 || MODE == 2 || MODE >= 4) {
        CK(cudaMalloc(&dpart, (size_t)T * HQ * DNZ * (HD + 2) * 4));
        CK(cudaMalloc(&dcnt, (size_t)T * HQ * 4));
        CK(cudaMemset(dcnt, 0, (size_t)T * HQ * 4));
    }
    auto run = [&]() {
        if constexpr (MODE == 1) {
            k_dec<KF, VF, HQ, HKV, HD, WIN><<<dim3(T, HQ / dec_gs(HQ / HKV), DNZ), 128>>>(dpos, dseq, dtab, mbs, dkv, dq, dy,
                                                                                          dpart, dcnt, kvs, cap);
        } else if constexpr (MODE == 4 || MODE == 5) {
            if constexpr (HD == 64 || HD == 128)
                k_tc<KF, VF, HQ, HKV, HD, WIN, TCM, MODE == 5, TNT, TCF><<<dim3(T, HQ / tc_gs(HQ / HKV), DNZ), 128>>>(
                    dpos, dseq, dtab, mbs, dkv, dq, dy, dpart, dcnt, kvs, cap);
        } else if constexpr (MODE == 2) {
            k_dec_old<KF, VF, HQ, HKV, HD, WIN><<<dim3(T, HKV, DNZ), 128>>>(dpos, dseq, dtab, mbs, dkv, dq, dy, dpart, kvs,
                                                                            cap);
            k_combine<HQ, HD><<<dim3(T, HQ), 128>>>(dpart, dy);
        } else if constexpr (MODE == 3) {
            k_dec_old<KF, VF, HQ, HKV, HD, WIN><<<dim3(T, HKV, 1), 128>>>(dpos, dseq, dtab, mbs, dkv, dq, dy, nullptr, kvs,
                                                                          cap);
        } else {
            k_flash<KF, VF, HQ, HKV, HD, WIN><<<grid, 128, smem>>>(dpos, dseq, dtab, mbs, dkv, dq, dy, T, kvs, cap);
        }
    };
    if (MODE == 1 || MODE >= 4) { /* twice first: the counters must be back at zero for the checked run */
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
    std::vector<float> kb(HD), vb(HD);
    for (int tt = 0; tt < T; tt++) {
        const int s = seq[tt], p = pos[tt], lo = WIN > 0 && p - WIN + 1 > 0 ? p - WIN + 1 : 0;
        for (int h = 0; h < HQ; h++) {
            const int kh = h / G;
            sc.assign(p + 1, 0.0);
            double mx = -1e300;
            for (int j = lo; j <= p; j++) {
                const int blk = tables[(size_t)s * mbs + j / FBS];
                const float *kr = row(blk, 0, j % FBS, kh, kb.data());
                double d = 0;
                for (int i = 0; i < HD; i++)
                    d += (double)hq[(size_t)tt * SQ + h * HD + i] * kr[i];
                sc[j] = d * 0.125;
                if (cap > 0) /* Gemma 2's soft-capped scores */
                    sc[j] = cap * tanh(sc[j] / cap);
                mx = sc[j] > mx ? sc[j] : mx;
            }
            double l = 0;
            for (int j = lo; j <= p; j++)
                l += (sc[j] = exp(sc[j] - mx));
            std::vector<double> o(HD, 0.0);
            for (int j = lo; j <= p; j++) {
                const int blk = tables[(size_t)s * mbs + j / FBS];
                const float *vr = row(blk, 1, j % FBS, kh, vb.data());
                for (int i = 0; i < HD; i++)
                    o[i] += sc[j] * vr[i];
            }
            for (int i = 0; i < HD; i++) {
                const double ref = o[i] / l, got = hy[(size_t)tt * SY + h * HD + i];
                if (got != got)
                    unwritten++;
                num += (got - ref) * (got - ref);
                den += ref * ref;
            }
        }
    }
    char what[200], minch[64] = "";
    int mw = 0;
    if (TCM > 0)
        mw = snprintf(minch, sizeof minch, " minch=%d", TCM);
    if (TNT > 0)
        mw += snprintf(minch + mw, sizeof minch - mw, " nt=%d", TNT);
    if (TCF < 0)
        snprintf(minch + mw, sizeof minch - mw, " parts by length alone");
    else if (TCF > 0)
        snprintf(minch + mw, sizeof minch - mw, " fill=%d", TCF);
    snprintf(what, sizeof what, "%s%s%s%s%s HQ=%d HKV=%d HD=%d win=%d%s%s: %d seqs, T=%d",
             MODE == 1 ? "paged_attn_dec" : MODE == 2 ? "paged_attn+combine" : MODE == 3 ? "paged_attn (1 part)"
             : MODE == 4 ? "paged_attn_tc" : MODE == 5 ? "paged_attn_tc kq" : "flash_prefill",
             KF == FMT_F16 && VF == FMT_F16 ? "" : " kv ", KF == FMT_F16 && VF == FMT_F16 ? "" : kvname(KF),
             KF == FMT_F16 && VF == FMT_F16 ? "" : ",", KF == FMT_F16 && VF == FMT_F16 ? "" : kvname(VF), HQ, HKV, HD,
             WIN, cap > 0 ? " softcap" : "", minch, ns, T);
    /* f16 rows: the kernels' f16 rounding of q and p; the quantized formats: values dequantized in
     * registers in f32 (fma) or, for the tensor cores, rounded to f16 */
    verdict(what, sqrt(num / den), 5e-3, unwritten);
    /* batch invariance (llmc compile --batch-invariant runs every step, prefill too, on these two):
     * each token in a launch of its own gives the step's bits */
    if (MODE == 1 || MODE == 2) {
        float *dy1;
        CK(cudaMalloc(&dy1, hy.size() * 4));
        CK(cudaMemset(dy1, 0xff, hy.size() * 4));
        for (int tt = 0; tt < T; tt++) {
            if constexpr (MODE == 1) {
                k_dec<KF, VF, HQ, HKV, HD, WIN><<<dim3(1, HQ / dec_gs(HQ / HKV), DNZ), 128>>>(
                    dpos + tt, dseq + tt, dtab, mbs, dkv, dq + (size_t)tt * SQ, dy1 + (size_t)tt * SY, dpart, dcnt, kvs, cap);
            } else {
                k_dec_old<KF, VF, HQ, HKV, HD, WIN><<<dim3(1, HKV, DNZ), 128>>>(
                    dpos + tt, dseq + tt, dtab, mbs, dkv, dq + (size_t)tt * SQ, dy1 + (size_t)tt * SY, dpart, kvs, cap);
                k_combine<HQ, HD><<<dim3(1, HQ), 128>>>(dpart, dy1 + (size_t)tt * SY);
            }
        }
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        std::vector<float> h1(hy.size());
        CK(cudaMemcpy(h1.data(), dy1, h1.size() * 4, cudaMemcpyDeviceToHost));
        int64_t diff = 0;
        for (size_t i = 0; i < h1.size(); i++)
            diff += fbits(h1[i]) != fbits(hy[i]);
        binv_verdict(what, "each token alone", diff);
        cudaFree(dy1);
    }
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
    if (MODE == 1 || MODE == 2 || MODE >= 4) {
        cudaFree(dpart);
        cudaFree(dcnt);
    }
    cudaFree(dpos);
    cudaFree(dseq);
    cudaFree(dtab);
    cudaFree(dkv);
    cudaFree(dq);
    cudaFree(dy);
    cudaFree(dkvs);
}

/* ---- sample_row ---- */
template <int V>
__global__ void __launch_bounds__(SAMPLE_NT) k_sample(const float *logits, int32_t *ids, const double *smp)
{
    sample_row<V, V>(logits, ids, smp, blockIdx.x);
}

template <int V>
static void check_sample(int rows, float temp, int top_k, float top_p, float scale, int ties, int timed_reps)
{
    std::vector<float> hl((size_t)rows * V);
    std::vector<double> hs(4 * rows);
    for (auto &v : hl)
        v = ties ? (float)floor(urand() * scale * 2.0) * 0.5f : (float)(urand() * scale);
    for (int r = 0; r < rows; r++) {
        hs[4 * r] = temp;
        hs[4 * r + 1] = top_p;
        hs[4 * r + 2] = top_k;
        hs[4 * r + 3] = (urand() + 1.0) * 0.5;
    }
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
        int32_t want = llmc_sample_u(&cfg, hs[4 * r + 3], &hl[(size_t)r * V], V, &sb);
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

/* ==== every other device function, element by element (llm.c style) ====
 * Each output is checked against a plain-C reference in double: |gpu - ref| <= atol + eps * scale,
 * where scale is |ref|, or for a sum the sum of its terms' magnitudes (a sum that cancels has an
 * error relative to its terms, not to its result), and eps follows from the formats involved:
 * f32 sums of n terms in the kernel's order round at most n + c times (2^-24 each), so gemv,
 * gemv_b1 and the norms get (their longest chain of additions + margin) * 2^-24; the tensor cores
 * round (truncate) once a k-step, so gemm_tc gets (K/4 + 64) * 2^-24; a value stored as f16 or
 * bf16 is off by at most half its ulp (2^-11, 2^-8 relative) plus the f32 error before it; copies
 * and conversions that are exact are checked bit for bit. Outputs are poisoned (0xff bytes, NaN)
 * before each launch; anything the kernel must not write is checked to be still poison (or, for
 * the KV cache, still the random bytes it held). Launch geometry and template arguments mirror the
 * emitters (codegen/cuda_*.c) line by line; the split choices are the emitters' formulas for the
 * sm_90 targets' typical_sms (ir/target.c). */
constexpr int SMS = 132;                 /* typical_sms of sm_90/sm_90a in ir/target.c */
static double eps_gemv(int K) { return (K / 32.0 + K / 128.0 + 32.0) * U24; } /* lanes' chains + tree + norm */
static double eps_mma(int K) { return (K / 4.0 + 64.0) * U24; }
static double eps_norm(int D, int threads) { return 2.0 * (D / (double)threads + 24.0) * U24; }
constexpr double EPS_F16 = 1.0 / 2048 + 16 * U24, EPS_BF16 = 1.0 / 256 + 16 * U24; /* half an ulp + f32 error */

/* The emitters' choices (codegen/cuda_matmul.c, cuda_common.c). */
constexpr int mv_vec(int wk, long long K, long long G = 0)
{
    return wk >= 3 ? q_lane8(wk, K, G ? G : K) : K % fmt_ve(wk) == 0;
}
/* gemv/gemv_b1's K split and gemv_b1's loads a row in flight, as codegen/cuda_matmul.c picks them:
 * quantized rows in 16-byte slots (lane8) split until 7 blocks an SM with one load a row; other rows
 * of up to 4 KB until 32 blocks an SM with one, longer ones until 5 with two */
constexpr int mv_ksplit(int wk, long long K, long long N, int swiglu, int vec)
{
    const long long units = swiglu ? N / 2 : (N + 1) / 2;
    const int ve = wk >= 3 ? fmt_tile(wk) : fmt_ve(wk);
    const int per_sm = wk >= 3 && vec ? 7 : fmt_bytes(wk, K) <= 4096 ? 32 : 5;
    int ks = 1;
    while (vec && ks < 4 && (units * ks + 3) / 4 < (long long)per_sm * SMS && K % (2 * ks * ve) == 0)
        ks *= 2;
    return ks;
}
constexpr int mv_u(int wk, long long K, int vec) { return fmt_bytes(wk, K) <= 4096 || (wk >= 3 && vec) ? 1 : 2; }
/* gemv_b1's H2 (f16x2 arithmetic), as cuda_matmul.c picks it: u4 (with or without zero points) and
 * nvfp4 in lane8 order with the RMSNorm prologue, K slices of whole 256-value tiles, K <= 16384 */
constexpr int mv_h2(int wk, long long K, int ks, int vec, int norm)
{
    return norm && (wk == 4 || wk == 5 || wk == 6) && vec && K % (256LL * ks) == 0 && K <= 16384;
}
/* H2's bound: the weights, x and the products rounded to f16 (2^-11 each) and a slot's 16-term f16
 * sums (16 more at most), relative to the sum of the terms' magnitudes; then gemv_b1's f32 sums */
static double eps_h2(int K) { return 19.0 / 2048 + eps_gemv(K); }
constexpr int tc_split(long long N, long long K)
{
    const long long blocks = (N + 63) / 64, kt = K / 32, want = (4LL * SMS + blocks - 1) / blocks;
    int best = 1;
    for (int s = 2; s <= 16 && s <= want; s++)
        if (kt % s == 0 && kt / s >= 2)
            best = s;
    return best;
}

/* ---- gemv (2..8 rows a block, every row count without tensor cores) and gemv_b1 (one row) ---- */
template <int WK, int K, int N, int SX, int SY, int VEC, int NORM, int EPI, int SR, int KS, int G, int ORD>
__global__ void __launch_bounds__(128, WK >= 3 ? 3 : 4) k_gemv(const void *w, const float *x, const float *b, float *y, int T,
                                                 const float *nw, float eps, const float *res, WQ wq)
{
    gemv<KF(WK), K, N, SX, SY, VEC, NORM, EPI, SR, 2, KS, G, ORD>(w, x, b, y, T, nw, eps, res, wq);
}
template <int WK, int K, int N, int NORM, int EPI, int KS, int U, int G, int INTER = 0, int HQ = 1, int HKV = 1,
          int HD = 2, int L = 1, int BS = 1, int H2 = 0>
__global__ void __launch_bounds__(128) k_b1(const void *w, const float *x, const float *b, float *y, const float *nw,
                                            float eps, const float *res, RopeOut ro, WQ wq)
{
    gemv_b1<KF(WK), K, N, NORM, EPI, KS, U, INTER, HQ, HKV, HD, L, BS, FMT_F16, G, H2>(w, x, b, y, nw, eps, res, ro, wq);
}

/* Reference of one matmul output row set: dot of row t of x (times nw) with weight row n, the
 * sum of the terms' magnitudes, and 1/rms of row t. */
struct MvRef {
    const std::vector<float> &x, &nw;
    const Wts &w;
    int K, SX, norm;
    double inv(int t) const
    {
        if (!norm)
            return 1.0;
        double ss = 0;
        for (int k = 0; k < K; k++)
            ss += (double)x[(size_t)t * SX + k] * x[(size_t)t * SX + k];
        return 1.0 / sqrt(ss / K + 1e-5);
    }
    void dot(int t, int n, double &d, double &m) const
    {
        d = 0;
        m = 0;
        const float *xr = &x[(size_t)t * SX], *wr = &w.f[(size_t)n * K];
        for (int k = 0; k < K; k++) {
            const double v = (double)xr[k] * (norm ? (double)nw[k] : 1.0) * wr[k];
            d += v;
            m += fabs(v);
        }
    }
};
/* The epilogue's reference of output o of row t from the sums (d: gate, e: up for SwiGLU) and its
 * tolerance scale. */
template <int EPI, int N>
static void mv_epi(const MvRef &r, int t, int o, double inv, const std::vector<float> &b, int bias,
                   const std::vector<float> &res, int SR, double eps, double &ref, double &scale)
{
    double d, m;
    r.dot(t, o, d, m);
    const double v = d * inv + (bias ? b[o] : 0.0), mv = m * inv + (bias ? fabs(b[o]) : 0.0);
    if ((EPI == 2 || EPI == 4)) {
        double du, mu;
        r.dot(t, o + N / 2, du, mu);
        const double u = du * inv + (bias ? b[o + N / 2] : 0.0), muv = mu * inv + (bias ? fabs(b[o + N / 2]) : 0.0);
        ref = glud(EPI, v) * u; /* silu' and gelu_tanh' are at most 1.1 and 1.13 in size */
        scale = (EPI == 4 ? 1.2 : 1.1) * mv * (fabs(u) + eps * muv) + fabs(glud(EPI, v)) * muv + 8.0 * fabs(ref);
    } else {
        const double rv = EPI == 1 ? res[(size_t)t * SR + o] : 0.0;
        ref = rv + v;
        scale = mv + fabs(rv);
    }
}

/* The skinny matmul as the emitter launches it for each step size in `steps` (1: gemv_b1 where the
 * rows allow 16-byte loads, as the emitter; otherwise gemv). Outputs of large matrices are
 * compared at a sample of columns (every column must be written all the same). */
template <int WK, int K, int N, int NORM, int EPI, int BIAS, int SX = K, int SY = ((EPI == 2 || EPI == 4) ? N / 2 : N),
          int SR = (EPI == 1 ? N + 4 : 0), int G = (WK == 3 ? K : WK == 6 ? 16 : 128)>
static void check_mv(const char *shape, std::vector<int> steps)
{
    constexpr int GG = WK >= 3 ? (G < K ? G : K) : K; /* the group the emitter passes */
    constexpr int NO = (EPI == 2 || EPI == 4) ? N / 2 : N, VEC = mv_vec(WK, K, GG), KS = mv_ksplit(WK, K, N, (EPI == 2 || EPI == 4), VEC);
    constexpr int U = mv_u(WK, K, VEC), UNITS = (EPI == 2 || EPI == 4) ? N / 2 : (N + 1) / 2, GX = (UNITS + 4 / KS - 1) / (4 / KS);
    constexpr int H2 = mv_h2(WK, K, KS, VEC, NORM);
    int tmax = 1;
    for (int t : steps)
        tmax = t > tmax ? t : tmax;
    const QWts qw = make_any(WK, N, K, GG, 0.05);
    const Wts &w = qw.w;
    const std::vector<float> x = rand_f32((size_t)tmax * SX, 1.0), nw = rand_f32(K, 0.5, 1.0), b = rand_f32(N, 1.0),
                             res = rand_f32((size_t)tmax * (SR ? SR : 1), 1.0);
    DW dw(qw);
    DBuf<float> dx(x.size()), dnw(K), db(N), dres(res.size()), dy((size_t)tmax * SY);
    dx.up(x);
    dnw.up(nw);
    db.up(b);
    dres.up(res);
    const MvRef r{x, nw, w, K, SX, NORM};
    const int stride = (int)((double)NO * K * tmax / 3e7) + 1; /* columns compared: about 3e7 MACs */
    for (int T : steps) {
        dy.poison();
        const float *pb = BIAS ? db.p : nullptr, *pn = NORM ? dnw.p : nullptr, *pr = EPI == 1 ? dres.p : nullptr;
        const int b1 = T == 1 && VEC;
        const double eps = b1 && H2 ? eps_h2(K) : eps_gemv(K);
        if constexpr (VEC) {
            if (b1)
                k_b1<WK, K, N, NORM, EPI, KS, U, GG, 0, 1, 1, 2, 1, 1, H2><<<GX, 128>>>(dw.w.p, dx.p, pb, dy.p, pn, 1e-5f,
                                                                                    pr, RopeOut{}, dw.wq(WK));
        }
        if (!b1)
            k_gemv<WK, K, N, SX, SY, VEC, NORM, EPI, SR, KS, GG, q_lane8(WK, K, GG)><<<dim3(GX, (T + 7) / 8), 128>>>(
                dw.w.p, dx.p, pb, dy.p, T, pn, 1e-5f, pr, dw.wq(WK));
        launched();
        const std::vector<float> y = dy.down();
        Check c;
        for (int t = 0; t < tmax; t++) {
            const double inv = r.inv(t);
            for (int o = 0; o < SY; o++) {
                const float got = y[(size_t)t * SY + o];
                if (t >= T || o >= NO) {
                    c.untouched(fbits(got), 0xffffffffu);
                    continue;
                }
                if (got != got)
                    c.nan++;
                if (o % stride && o != NO - 1)
                    continue;
                double ref, scale;
                mv_epi<EPI, N>(r, t, o, inv, b, BIAS, res, SR, eps, ref, scale);
                c.add(got, ref, scale, eps, 1e-30);
            }
        }
        char what[200];
        char grp[32] = "";
        if (WK >= 3)
            snprintf(grp, sizeof grp, " g%d", GG);
        snprintf(what, sizeof what, "%s %s%s K=%d N=%d%s epi%d%s ks%d%s T=%d (%s)", b1 ? (H2 ? "gemv_b1 h2" : "gemv_b1") : "gemv",
                 wkname(WK), grp, K, N, NORM ? " norm" : "", EPI, BIAS ? " bias" : "", KS, VEC ? "" : " scalar", T, shape);
        c.done(what, eps);
    }
}

/* ---- batch invariance of the matmuls (llmc compile --batch-invariant: gemv with the row chunks in
 * grid x, TX 1, at every row count, one row included) ----
 * gemv of T rows as a batch-invariant build launches it, against each row alone (gemv of one row)
 * and against the default grid (TX 0): bit for bit. Where the rows take 16-byte loads, also how many
 * values gemv_b1 (the default build's one-row kernel) gives otherwise: a line for the record, not a
 * check (round 8 on an H100: 5 of 15 shapes differ, so batch-invariant builds do not use it). */
template <int WK, int K, int N, int SX, int SY, int VEC, int NORM, int EPI, int SR, int KS, int G, int ORD, int TX>
__global__ void __launch_bounds__(128, WK >= 3 ? 3 : 4) k_gemv_tx(const void *w, const float *x, const float *b, float *y,
                                                                  int T, const float *nw, float eps, const float *res,
                                                                  WQ wq)
{
    gemv<KF(WK), K, N, SX, SY, VEC, NORM, EPI, SR, 2, KS, G, ORD, TX>(w, x, b, y, T, nw, eps, res, wq);
}
template <int WK, int K, int N, int NORM, int EPI, int BIAS, int G = (WK == 3 ? K : WK == 6 ? 16 : 128)>
static void check_binv_mv(const char *shape, int T)
{
    constexpr int GG = WK >= 3 ? (G < K ? G : K) : K, SX = K, NO = (EPI == 2 || EPI == 4) ? N / 2 : N, SY = NO,
                  SR = EPI == 1 ? N : 0;
    constexpr int VEC = mv_vec(WK, K, GG), KS = mv_ksplit(WK, K, N, (EPI == 2 || EPI == 4), VEC), U = mv_u(WK, K, VEC);
    constexpr int UNITS = (EPI == 2 || EPI == 4) ? N / 2 : (N + 1) / 2, GX = (UNITS + 4 / KS - 1) / (4 / KS),
                  ORD = q_lane8(WK, K, GG);
    const QWts qw = make_any(WK, N, K, GG, 0.05);
    const std::vector<float> x = rand_f32((size_t)T * SX, 1.0), nw = rand_f32(K, 0.5, 1.0), b = rand_f32(N, 1.0),
                             res = rand_f32((size_t)T * (SR ? SR : 1), 1.0);
    DW dw(qw);
    DBuf<float> dx(x.size()), dnw(K), db(N), dres(res.size()), dy((size_t)T * SY), d1((size_t)T * SY), d0((size_t)T * SY),
        db1((size_t)T * SY);
    dx.up(x);
    dnw.up(nw);
    db.up(b);
    dres.up(res);
    dy.poison();
    d1.poison();
    d0.poison();
    db1.poison();
    const float *pb = BIAS ? db.p : nullptr, *pn = NORM ? dnw.p : nullptr;
    k_gemv_tx<WK, K, N, SX, SY, VEC, NORM, EPI, SR, KS, GG, ORD, 1><<<dim3((T + 7) / 8, GX), 128>>>(
        dw.w.p, dx.p, pb, dy.p, T, pn, 1e-5f, EPI == 1 ? dres.p : nullptr, dw.wq(WK));
    k_gemv_tx<WK, K, N, SX, SY, VEC, NORM, EPI, SR, KS, GG, ORD, 0><<<dim3(GX, (T + 7) / 8), 128>>>(
        dw.w.p, dx.p, pb, d0.p, T, pn, 1e-5f, EPI == 1 ? dres.p : nullptr, dw.wq(WK));
    for (int t = 0; t < T; t++) { /* each row alone, as a one-row step runs it (and as gemv_b1 would) */
        const float *xt = dx.p + (size_t)t * SX, *rt = EPI == 1 ? dres.p + (size_t)t * SR : nullptr;
        k_gemv_tx<WK, K, N, SX, SY, VEC, NORM, EPI, SR, KS, GG, ORD, 1><<<dim3(1, GX), 128>>>(
            dw.w.p, xt, pb, d1.p + (size_t)t * SY, 1, pn, 1e-5f, rt, dw.wq(WK));
        if constexpr (VEC)
            k_b1<WK, K, N, NORM, EPI, KS, U, GG, 0, 1, 1, 2, 1, 1, mv_h2(WK, K, KS, VEC, NORM)><<<GX, 128>>>(
                dw.w.p, xt, pb, db1.p + (size_t)t * SY, pn, 1e-5f, rt, RopeOut{}, dw.wq(WK));
    }
    launched();
    const std::vector<float> y = dy.down(), y1 = d1.down(), y0 = d0.down(), yb1 = db1.down();
    int64_t alone = 0, grid = 0, b1 = 0;
    for (int t = 0; t < T; t++)
        for (int o = 0; o < NO; o++) {
            alone += fbits(y[(size_t)t * SY + o]) != fbits(y1[(size_t)t * SY + o]);
            grid += fbits(y[(size_t)t * SY + o]) != fbits(y0[(size_t)t * SY + o]);
            b1 += fbits(y[(size_t)t * SY + o]) != fbits(yb1[(size_t)t * SY + o]);
        }
    char what[200];
    snprintf(what, sizeof what, "binv gemv %s K=%d N=%d%s epi%d%s ks%d%s T=%d (%s)", wkname(WK), K, N, NORM ? " norm" : "",
             EPI, BIAS ? " bias" : "", KS, VEC ? "" : " scalar", T, shape);
    binv_verdict(what, "each row alone (gemv of one row)", alone);
    binv_verdict(what, "the default grid (TX 0)", grid);
    if (VEC)
        printf("INFO %s: gemv_b1 (not in batch-invariant builds) gives %lld of %lld values otherwise\n", what,
               (long long)b1, (long long)T * NO);
}
static void binv_checks(void)
{
    check_binv_mv<1, 64, 128, 1, 0, 0>("260K qkv", 37);
    check_binv_mv<1, 172, 64, 0, 1, 0>("260K down, scalar", 21);
    check_binv_mv<1, 64, 344, 1, 2, 0>("260K gate/up", 70);
    check_binv_mv<2, 100, 333, 0, 0, 1>("odd N, K % 8 != 0", 19);
    check_binv_mv<1, 2048, 3072, 1, 0, 1>("1B qkv + bias", 45);
    check_binv_mv<1, 2048, 16384, 1, 2, 0>("1B gate/up", 24);
    check_binv_mv<1, 8192, 2048, 0, 1, 0>("1B down", 33);
    check_binv_mv<3, 2048, 3072, 1, 0, 0>("1B qkv fp8", 29);
    check_binv_mv<3, 8192, 2048, 0, 1, 0>("1B down fp8", 17);
    check_binv_mv<4, 2048, 16384, 1, 2, 0>("1B gate/up u4", 40);
    check_binv_mv<4, 8192, 2048, 0, 1, 0>("1B down u4", 9);
    check_binv_mv<5, 2048, 3072, 1, 0, 0, 32>("1B qkv u4 zero g32", 23);
    check_binv_mv<6, 2048, 2048, 0, 1, 0>("1B o nvfp4", 12);
    check_binv_mv<4, 4096, 28672, 1, 2, 0>("8B gate/up u4", 16);
    check_binv_mv<1, 2048, 128256, 1, 0, 0>("1B logits", 3);
}

/* ---- gemv_b1 with its EPI 3 epilogue: RoPE of q and k, k and v to the f16 paged cache ---- */
constexpr int KL = 3, KBS = 16, KLAYER = 1, KBLOCKS = 9; /* cache of the KV checks: layers, block size, the layer */
static std::vector<float> rope_table(int npos, int HD)
{
    std::vector<float> cs((size_t)npos * HD);
    for (int p = 0; p < npos; p++)
        for (int i = 0; i < HD / 2; i++) {
            const double a = p * pow(500000.0, -2.0 * i / HD);
            cs[(size_t)p * HD + 2 * i] = (float)cos(a);
            cs[(size_t)p * HD + 2 * i + 1] = (float)sin(a);
        }
    return cs;
}
static size_t kvi(int HKV, int HD, int blk, int which, int off) /* kv_index of the checks' cache, layer KLAYER */
{
    return ((((size_t)blk * KL + KLAYER) * 2 + which) * KBS + off) * (size_t)(HKV * HD);
}
/* a cache of random f16 values (no NaN/inf), so that untouched slots can be told apart */
static std::vector<uint16_t> rand_kv(size_t n)
{
    std::vector<uint16_t> kv(n);
    for (auto &v : kv)
        v = h_f16((float)nzrand(1.0));
    return kv;
}
/* Checks a rotated pair (r0, r1) of (v0, v1) at (fc, fs): as f32 (y) or as f16 cache bits (h). */
static void rope_ref(double v0, double v1, double fc, double fs, double &r0, double &r1, double &m)
{
    r0 = v0 * fc - v1 * fs;
    r1 = v0 * fs + v1 * fc;
    m = fabs(v0 * fc) + fabs(v1 * fs) + fabs(v0 * fs) + fabs(v1 * fc);
}

template <int WK, int K, int HQ, int HKV, int HD, int INTER, int NORM, int BIAS, int G = 128>
static void check_b1_rope(const char *shape)
{
    constexpr int GG = WK >= 3 ? (G < K ? G : K) : K;
    constexpr int N = (HQ + 2 * HKV) * HD, VEC = mv_vec(WK, K, GG), KS = mv_ksplit(WK, K, N, 0, VEC), U = mv_u(WK, K, VEC);
    constexpr int UNITS = (N + 1) / 2, GX = (UNITS + 4 / KS - 1) / (4 / KS), NPOS = 300, H2 = mv_h2(WK, K, KS, VEC, NORM);
    static_assert(VEC, "gemv_b1 needs 16-byte rows");
    const QWts qw = make_any(WK, N, K, GG, 0.05);
    const Wts &w = qw.w;
    DW dqw(qw);
    const std::vector<float> x = rand_f32(K, 1.0), nw = rand_f32(K, 0.5, 1.0), b = rand_f32(N, 1.0), cs = rope_table(NPOS, HD);
    const size_t kvn = (size_t)KBLOCKS * KL * 2 * KBS * HKV * HD;
    const std::vector<uint16_t> kv0 = rand_kv(kvn);
    const int pos = 257, slot = 5 * KBS + 11; /* block 5, offset 11 */
    DBuf<float> dx(K), dnw(K), db(N), dy(N), dq(HQ * HD), dcs(cs.size());
    DBuf<uint16_t> dkv(kvn);
    DBuf<int32_t> dpos(1), dslot(1);
    dx.up(x);
    dnw.up(nw);
    db.up(b);
    dcs.up(cs);
    dkv.up(kv0);
    dpos.up({pos});
    dslot.up({slot});
    dy.poison();
    dq.poison();
    k_b1<WK, K, N, NORM, 3, KS, U, GG, INTER, HQ, HKV, HD, KL, KBS, H2><<<GX, 128>>>(
        dqw.w.p, dx.p, BIAS ? db.p : nullptr, dy.p, NORM ? dnw.p : nullptr, 1e-5f, nullptr,
        RopeOut{dpos.p, dslot.p, dcs.p, dq.p, (uint8_t *)dkv.p, KLAYER}, dqw.wq(WK));
    launched();
    const std::vector<float> y = dy.down(), q1 = dq.down();
    const std::vector<uint16_t> kv = dkv.down();
    const MvRef r{x, nw, w, K, K, NORM};
    const double eps = H2 ? eps_h2(K) : eps_gemv(K), inv = r.inv(0);
    Check cy, cq, ck;
    for (int o = 0; o < N; o++) {
        double ref, scale;
        mv_epi<0, N>(r, 0, o, inv, b, BIAS, b, 0, eps, ref, scale);
        cy.add(y[o], ref, scale, eps, 1e-30);
    }
    /* q1 and the cache from the kernel's own y (checked above): the rotation and the f16 rounding */
    const float *c = &cs[(size_t)pos * HD];
    std::vector<char> written(kvn, 0);
    for (int h = 0; h < HQ + HKV; h++)
        for (int i = 0; i < HD / 2; i++) {
            const int i0 = INTER ? 2 * i : i, i1 = INTER ? 2 * i + 1 : i + HD / 2;
            double r0, r1, m;
            rope_ref(y[h * HD + i0], y[h * HD + i1], c[2 * i], c[2 * i + 1], r0, r1, m);
            if (h < HQ) {
                cq.add(q1[h * HD + i0], r0, m, 4 * U24, 1e-30);
                cq.add(q1[h * HD + i1], r1, m, 4 * U24, 1e-30);
            } else {
                const size_t k0 = kvi(HKV, HD, slot / KBS, 0, slot % KBS) + (h - HQ) * HD;
                ck.add(h_f16f(kv[k0 + i0]), r0, fabs(r0) + m * 8 * U24 / EPS_F16, EPS_F16, 1.0 / (1 << 25));
                ck.add(h_f16f(kv[k0 + i1]), r1, fabs(r1) + m * 8 * U24 / EPS_F16, EPS_F16, 1.0 / (1 << 25));
                written[k0 + i0] = written[k0 + i1] = 1;
            }
        }
    for (int e = 0; e < HKV * HD; e++) { /* v: the f32 value's f16 rounding, bit for bit */
        const size_t v0 = kvi(HKV, HD, slot / KBS, 1, slot % KBS) + e;
        ck.exact(kv[v0], h_f16(y[(HQ + HKV) * HD + e]));
        written[v0] = 1;
    }
    for (size_t i = 0; i < kvn; i++)
        if (!written[i])
            ck.untouched(kv[i], kv0[i]);
    char what[200];
    snprintf(what, sizeof what, "gemv_b1%s %s K=%d epi3 %d/%d heads of %d%s%s%s ks%d g%d: y (%s)", H2 ? " h2" : "",
             wkname(WK), K, HQ, HKV, HD, INTER ? " interleaved" : "", NORM ? " norm" : "", BIAS ? " bias" : "", KS, GG,
             shape);
    cy.done(what, eps);
    snprintf(what, sizeof what, "gemv_b1 %s K=%d epi3 %d/%d heads of %d: rotated q (%s)", wkname(WK), K, HQ, HKV, HD, shape);
    cq.done(what, 4 * U24);
    snprintf(what, sizeof what, "gemv_b1 %s K=%d epi3 %d/%d heads of %d: f16 cache at the slot (%s)", wkname(WK), K, HQ,
             HKV, HD, shape);
    ck.done(what, EPS_F16);
}

/* ---- gemm_tc (9..64 rows: K split over blockIdx.z, then gemm_reduce with the epilogue; a norm
 * prologue runs first into scratch with rmsnorm_row) ---- */
template <int K, int SX, int NT>
__global__ void __launch_bounds__(NT) k_rmsnorm_pro(const float *x, const float *nw, float *y, float eps)
{
    rmsnorm_row<0, K, SX, 0, 0, K>(x, (const float *)0, (float *)0, nw, y, eps);
}
template <int BF, int K, int N, int SX, int SPLIT>
__global__ void __launch_bounds__(128) k_tc(const uint16_t *w, const float *x, float *part, int T)
{
    gemm_tc<BF, K, N, SX, N, 0, SPLIT>(w, x, (const float *)0, part, T);
}
template <int N, int SY, int SR, int SPLIT, int EPI>
__global__ void __launch_bounds__(256) k_reduce_e(const float *part, const float *b, const float *res, float *y, int T)
{
    gemm_reduce<N, SY, SR, SPLIT, EPI>(part, b, res, y, T);
}

template <int WK, int K, int N, int NORM, int EPI, int BIAS, int SX = K, int SY = ((EPI == 2 || EPI == 4) ? N / 2 : N),
          int SR = (EPI == 1 ? N + 4 : 0)>
static void check_tc(const char *shape, std::vector<int> steps)
{
    constexpr int NO = (EPI == 2 || EPI == 4) ? N / 2 : N, SPLIT = tc_split(N, K), GSX = NORM ? K : SX;
    static_assert(WK != 0 && K % 32 == 0 && SPLIT > 1, "the emitter's split-K tensor-core path");
    int tmax = 1;
    for (int t : steps)
        tmax = t > tmax ? t : tmax;
    const Wts w = make_w(WK, (size_t)N * K, 0.05);
    const std::vector<float> x = rand_f32((size_t)tmax * SX, 1.0), nw = rand_f32(K, 0.5, 1.0), b = rand_f32(N, 1.0),
                             res = rand_f32((size_t)tmax * (SR ? SR : 1), 1.0);
    DBuf<uint8_t> dw(w.raw.size());
    DBuf<float> dx(x.size()), dnw(K), db(N), dres(res.size()), dy((size_t)tmax * SY), dsa((size_t)tmax * K),
        dpart((size_t)SPLIT * tmax * N);
    dw.up(w.raw);
    dx.up(x);
    dnw.up(nw);
    db.up(b);
    dres.up(res);
    const int stride = (int)((double)NO * K * tmax / 3e7) + 1;
    for (int T : steps) {
        dy.poison();
        dsa.poison();
        dpart.poison();
        if (NORM)
            k_rmsnorm_pro<K, SX, 256><<<T, 256>>>(dx.p, dnw.p, dsa.p, 1e-5f);
        k_tc<WK == 1, K, N, GSX, SPLIT><<<dim3((N + 63) / 64, (T + 63) / 64, SPLIT), 128>>>(
            (const uint16_t *)dw.p, NORM ? dsa.p : dx.p, dpart.p, T);
        k_reduce_e<N, SY, SR, SPLIT, EPI><<<(T * NO + 255) / 256, 256>>>(dpart.p, BIAS ? db.p : nullptr,
                                                                        EPI == 1 ? dres.p : nullptr, dy.p, T);
        launched();
        const std::vector<float> y = dy.down(), sa = dsa.down();
        /* the A operand as the kernel rounds it: the rows (or the prologue's, checked below) to bf16/f16 */
        std::vector<float> xa((size_t)T * K), one(K, 1.0f);
        Check cn;
        for (int t = 0; t < T; t++) {
            double ss = 0;
            for (int k = 0; k < K; k++)
                ss += (double)x[(size_t)t * SX + k] * x[(size_t)t * SX + k];
            const double inv = 1.0 / sqrt(ss / K + 1e-5);
            for (int k = 0; k < K; k++) {
                const float a = NORM ? sa[(size_t)t * K + k] : x[(size_t)t * SX + k];
                if (NORM) {
                    const double ref = (double)nw[k] * inv * x[(size_t)t * SX + k];
                    cn.add(a, ref, fabs(ref), eps_norm(K, 256), 1e-30);
                }
                xa[(size_t)t * K + k] = WK == 1 ? h_bf16f(h_bf16(a)) : h_f16f(h_f16(a));
            }
        }
        const MvRef r{xa, one, w, K, K, 0};
        const double eps = eps_mma(K) + SPLIT * U24;
        Check c;
        for (int t = 0; t < tmax; t++)
            for (int o = 0; o < SY; o++) {
                const float got = y[(size_t)t * SY + o];
                if (t >= T || o >= NO) {
                    c.untouched(fbits(got), 0xffffffffu);
                    continue;
                }
                if (got != got)
                    c.nan++;
                if (o % stride && o != NO - 1)
                    continue;
                double ref, scale;
                mv_epi<EPI, N>(r, t, o, 1.0, b, BIAS, res, SR, eps, ref, scale);
                c.add(got, ref, scale, eps, 1e-30);
            }
        char what[200];
        if (NORM) {
            snprintf(what, sizeof what, "rmsnorm_row (gemm_tc's prologue) D=%d T=%d (%s)", K, T, shape);
            cn.done(what, eps_norm(K, 256));
        }
        snprintf(what, sizeof what, "gemm_tc+reduce %s K=%d N=%d%s epi%d%s split%d T=%d (%s)", wkname(WK), K, N,
                 NORM ? " norm" : "", EPI, BIAS ? " bias" : "", SPLIT, T, shape);
        c.done(what, eps);
    }
}

/* ---- rows_to_half (the A operand of gemm_h/gemm_wg; NORM: RMS-normalized first) ---- */
template <int BF, int NORM, int D, int SX>
__global__ void __launch_bounds__(256) k_to_half(const float *x, const float *nw, uint16_t *y, float eps)
{
    rows_to_half<BF, NORM, D, SX>(x, nw, y, eps);
}
template <int BF, int NORM, int D, int SX = D>
static void check_to_half(const char *shape, int T)
{
    const std::vector<float> x = rand_f32((size_t)T * SX, 2.0), nw = rand_f32(D, 0.5, 1.0);
    DBuf<float> dx(x.size()), dnw(D);
    DBuf<uint16_t> dy((size_t)T * D);
    dx.up(x);
    dnw.up(nw);
    dy.poison();
    k_to_half<BF, NORM, D, SX><<<T, 256>>>(dx.p, dnw.p, dy.p, 1e-5f);
    launched();
    const std::vector<uint16_t> y = dy.down();
    const double eps = NORM ? (BF ? EPS_BF16 : EPS_F16) + eps_norm(D, 256) : 0.0;
    Check c;
    for (int t = 0; t < T; t++) {
        double ss = 0;
        for (int d = 0; d < D; d++)
            ss += (double)x[(size_t)t * SX + d] * x[(size_t)t * SX + d];
        const double inv = 1.0 / sqrt(ss / D + 1e-5);
        for (int d = 0; d < D; d++) {
            const uint16_t got = y[(size_t)t * D + d];
            const float xv = x[(size_t)t * SX + d];
            if (!NORM) { /* a conversion: the host's round-to-nearest-even, bit for bit */
                c.exact(got, BF ? h_bf16(xv) : h_f16(xv));
                continue;
            }
            const double ref = (double)nw[d] * inv * xv;
            c.add(BF ? h_bf16f(got) : h_f16f(got), ref, fabs(ref), eps, BF ? 1e-37 : 1.0 / (1 << 25));
        }
    }
    char what[200];
    snprintf(what, sizeof what, "rows_to_half -> %s%s D=%d SX=%d T=%d (%s)", BF ? "bf16" : "f16", NORM ? " rmsnorm" : "",
             D, SX, T, shape);
    c.done(what, eps);
}

/* ---- rmsnorm_row / add_rmsnorm (block size by D, as cuda_norm.c) ---- */
template <int ADD, int D, int SA, int SB, int SS, int SY, int NT>
__global__ void __launch_bounds__(NT) k_rmsnorm(const float *a_, const float *b_, float *s_, const float *w, float *y,
                                                float eps)
{
    rmsnorm_row<ADD, D, SA, SB, SS, SY>(a_, b_, s_, w, y, eps);
}
template <int ADD, int D, int SA = D, int SB = D, int SS = D, int SY = D>
static void check_rmsnorm(const char *shape, int T)
{
    constexpr int NT = D >= 2048 ? 512 : D >= 512 ? 256 : 128;
    const std::vector<float> a = rand_f32((size_t)T * SA, 1.5), b = rand_f32((size_t)T * (SB ? SB : 1), 1.0),
                             w = rand_f32(D, 0.5, 1.0);
    DBuf<float> da(a.size()), db(b.size()), dw(D), ds((size_t)T * (SS ? SS : 1)), dy((size_t)T * SY);
    da.up(a);
    db.up(b);
    dw.up(w);
    ds.poison();
    dy.poison();
    k_rmsnorm<ADD, D, SA, SB, SS, SY, NT><<<T, NT>>>(da.p, ADD ? db.p : nullptr, ADD ? ds.p : nullptr, dw.p, dy.p, 1e-5f);
    launched();
    const std::vector<float> y = dy.down(), s = ds.down();
    const double eps = eps_norm(D, NT);
    Check c, cs;
    std::vector<double> v(D);
    for (int t = 0; t < T; t++) {
        double ss = 0;
        for (int d = 0; d < D; d++) {
            const float sum = ADD ? a[(size_t)t * SA + d] + b[(size_t)t * SB + d] : a[(size_t)t * SA + d];
            if (ADD)
                cs.exact(fbits(s[(size_t)t * SS + d]), fbits(sum)); /* the residual sum: one f32 add */
            v[d] = sum;
            ss += v[d] * v[d];
        }
        const double inv = 1.0 / sqrt(ss / D + 1e-5);
        for (int d = 0; d < SY; d++) {
            if (d >= D) {
                c.untouched(fbits(y[(size_t)t * SY + d]), 0xffffffffu);
                continue;
            }
            const double ref = w[d] * inv * v[d];
            c.add(y[(size_t)t * SY + d], ref, fabs(ref), eps, 1e-30);
        }
    }
    char what[200];
    snprintf(what, sizeof what, "%s D=%d strides %d/%d/%d/%d T=%d, %d threads (%s)", ADD ? "add_rmsnorm" : "rmsnorm", D, SA,
             SB, SS, SY, T, NT, shape);
    c.done(what, eps);
    if (ADD) {
        snprintf(what, sizeof what, "add_rmsnorm D=%d T=%d: the sum a + b (%s)", D, T, shape);
        cs.done(what, 0.0);
    }
}

/* ---- elementwise: add, mul, silu, swiglu, geglu ---- */
template <int OP, int D, int SA, int SB, int SY>
__global__ void __launch_bounds__(256) k_elt(const float *x, const float *b, float *y, int rows)
{
    eltwise<OP, D, SA, SB, SY>(x, b, y, rows);
}
template <int OP, int D, int SA = D, int SB = D, int SY = D>
static void check_elt(const char *shape, int T)
{
    const std::vector<float> a = rand_f32((size_t)T * SA, 6.0), b = rand_f32((size_t)T * SB, 2.0);
    DBuf<float> da(a.size()), db(b.size()), dy((size_t)T * SY);
    da.up(a);
    db.up(b);
    dy.poison();
    k_elt<OP, D, SA, SB, SY><<<(T * D + 255) / 256, 256>>>(da.p, OP == 2 ? nullptr : db.p, dy.p, T);
    launched();
    const std::vector<float> y = dy.down();
    /* add, mul: one f32 rounding, bit for bit; silu: expf (2 ulp), 1 + e, the division and the product
     * (about 7 roundings; twice that), swiglu one more product; geglu: tanhf (2 ulp) and about 9
     * roundings (of values that may cancel in 1 + tanh: 64 ulp) */
    const double eps = OP <= 1 ? 0.0 : OP == 2 ? 16 * U24 : OP == 3 ? 18 * U24 : 64 * U24;
    Check c;
    for (int t = 0; t < T; t++)
        for (int d = 0; d < SY; d++) {
            const float got = y[(size_t)t * SY + d];
            if (d >= D) {
                c.untouched(fbits(got), 0xffffffffu);
                continue;
            }
            const float av = a[(size_t)t * SA + d], bv = b[(size_t)t * SB + d];
            if (OP == 0)
                c.exact(fbits(got), fbits(av + bv));
            else if (OP == 1)
                c.exact(fbits(got), fbits(av * bv));
            else {
                const double ref = OP == 2 ? silud(av) : OP == 3 ? silud(av) * bv : geluds(av) * bv;
                c.add(got, ref, fabs(ref) + (OP == 4 ? fabs(av * bv) : 0.0), eps, 1e-30);
            }
        }
    static const char *names[] = {"add", "mul", "silu", "swiglu", "geglu"};
    char what[200];
    snprintf(what, sizeof what, "eltwise %s D=%d strides %d/%d/%d T=%d (%s)", names[OP], D, SA, SB, SY, T, shape);
    c.done(what, eps);
}

/* ---- rope_row ---- */
template <int INTER, int H, int HD, int SX, int SY>
__global__ void __launch_bounds__(128) k_rope(const float *x, const int32_t *pos, const float *cs, float *y)
{
    rope_row<INTER, H, HD, SX, SY>(x, pos, cs, y);
}
template <int INTER, int H, int HD, int SX = H * HD, int SY = H * HD>
static void check_rope(const char *shape, int T)
{
    constexpr int NPOS = 4096;
    const std::vector<float> x = rand_f32((size_t)T * SX, 2.0), cs = rope_table(NPOS, HD);
    std::vector<int32_t> pos(T);
    for (auto &p : pos)
        p = (int)((urand() + 1.0) * 0.5 * NPOS) % NPOS;
    DBuf<float> dx(x.size()), dcs(cs.size()), dy((size_t)T * SY);
    DBuf<int32_t> dpos(T);
    dx.up(x);
    dcs.up(cs);
    dpos.up(pos);
    dy.poison();
    k_rope<INTER, H, HD, SX, SY><<<T, 128>>>(dx.p, dpos.p, dcs.p, dy.p);
    launched();
    const std::vector<float> y = dy.down();
    Check c;
    for (int t = 0; t < T; t++) {
        const float *cp = &cs[(size_t)pos[t] * HD];
        for (int d = H * HD; d < SY; d++)
            c.untouched(fbits(y[(size_t)t * SY + d]), 0xffffffffu);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < HD / 2; i++) {
                const int i0 = INTER ? 2 * i : i, i1 = INTER ? 2 * i + 1 : i + HD / 2;
                const float *xh = &x[(size_t)t * SX + h * HD];
                double r0, r1, m;
                rope_ref(xh[i0], xh[i1], cp[2 * i], cp[2 * i + 1], r0, r1, m);
                c.add(y[(size_t)t * SY + h * HD + i0], r0, m, 4 * U24, 1e-30);
                c.add(y[(size_t)t * SY + h * HD + i1], r1, m, 4 * U24, 1e-30);
            }
    }
    char what[200];
    snprintf(what, sizeof what, "rope %s %d heads of %d, strides %d/%d T=%d (%s)", INTER ? "interleaved" : "half", H, HD,
             SX, SY, T, shape);
    c.done(what, 4 * U24);
}

/* ---- kv_write_row and rope_kv_row: the paged writers, keys in KF and values in VF ---- */
template <int KF, int VF, int HKV, int HD, int SK, int SV>
__global__ void __launch_bounds__(128) k_kvw(const float *k, const float *v, const int32_t *slots, uint8_t *kv, int layer,
                                             const float *kvs)
{
    kv_write_row<KF, VF, KL, KBS, HKV, HD, SK, SV>(k, v, slots, kv, layer, kvs, nullptr, KvSeqs{nullptr, nullptr, 0});
}
template <int KF, int VF, int INTER, int HQ, int HKV, int HD, int SQ, int SK, int SV, int SY>
__global__ void __launch_bounds__(128) k_ropekv(const float *q, const float *k, const float *v, const int32_t *pos,
                                                const int32_t *slots, const float *cs, float *y, uint8_t *kv, int layer,
                                                const float *kvs)
{
    rope_kv_row<KF, VF, INTER, HQ, HKV, HD, SQ, SK, SV, SY, KL, KBS>(q, k, v, pos, slots, cs, y, kv, layer, kvs,
                                                                     KvSeqs{nullptr, nullptr, 0});
}
/* ROPE 0: kv_write of the k and v columns of a merged q/k/v row; 1: rope_kv_write. T tokens at
 * distinct slots of shuffled blocks. The whole pool against the cpu target's writer (ir/kv_formats.h
 * kv_put_rows) on the host: byte for byte, the quantized values and their scales and zeros (k
 * rotated on the host with the kernels' operations, each rounded: rope_pair), the rest of the pool
 * untouched; fp8 with scales per layer and head. */
template <int ROPE, int INTER, int HQ, int HKV, int HD, int KF = FMT_F16, int VF = FMT_F16>
static void check_kv(const char *shape, int T)
{
    constexpr int S = (HQ + 2 * HKV) * HD, SY = HQ * HD + 4, NPOS = 2048; /* merged rows, as the fused projection */
    const size_t kvn = (size_t)KBLOCKS * kv_block_bytes(KF, VF, KL, KBS, HKV, HD);
    if (T > KBLOCKS * KBS) {
        fprintf(stderr, "kernel_check: %d tokens, %d slots\n", T, KBLOCKS * KBS);
        exit(2);
    }
    std::vector<int32_t> perm(KBLOCKS * KBS), slots(T), pos(T);
    for (int i = 0; i < KBLOCKS * KBS; i++)
        perm[i] = i;
    for (int i = KBLOCKS * KBS - 1; i > 0; i--) {
        const int j = (int)((urand() + 1.0) * 0.5 * (i + 1)) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int t = 0; t < T; t++) {
        slots[t] = perm[t];
        pos[t] = (int)((urand() + 1.0) * 0.5 * NPOS) % NPOS;
    }
    const std::vector<float> qkv = rand_f32((size_t)T * S, 3.0), cs = rope_table(NPOS, HD), hs = kv_scales(KL, HKV);
    std::vector<uint8_t> kv0(kvn);
    for (auto &b : kv0) /* random bytes: untouched ones can be told apart */
        b = (uint8_t)((urand() + 1.0) * 128);
    DBuf<float> dqkv(qkv.size()), dcs(cs.size()), dy((size_t)T * SY), dkvs(hs.size());
    DBuf<uint8_t> dkv(kvn);
    DBuf<int32_t> dslots(T), dpos(T);
    dqkv.up(qkv);
    dcs.up(cs);
    dkv.up(kv0);
    dkvs.up(hs);
    dslots.up(slots);
    dpos.up(pos);
    dy.poison();
    const float *q = dqkv.p, *k = dqkv.p + HQ * HD, *v = dqkv.p + (HQ + HKV) * HD;
    const float *kvs = KF == FMT_KV_FP8 || VF == FMT_KV_FP8 ? dkvs.p : nullptr;
    if (ROPE)
        k_ropekv<KF, VF, INTER, HQ, HKV, HD, S, S, S, SY><<<dim3(T, HQ + HKV), HD / 2>>>(q, k, v, dpos.p, dslots.p, dcs.p,
                                                                                      dy.p, dkv.p, KLAYER, kvs);
    else
        k_kvw<KF, VF, HKV, HD, S, S><<<T, 128>>>(k, v, dslots.p, dkv.p, KLAYER, kvs);
    launched();
    const std::vector<uint8_t> kv = dkv.down();
    const std::vector<float> y = dy.down();
    std::vector<uint8_t> want = kv0;
    Check cq, ck;
    std::vector<float> krot((size_t)HKV * HD);
    for (int t = 0; t < T; t++) {
        const float *cp = &cs[(size_t)pos[t] * HD], *row = &qkv[(size_t)t * S];
        for (int d = HQ * HD; ROPE && d < SY; d++)
            cq.untouched(fbits(y[(size_t)t * SY + d]), 0xffffffffu);
        for (int h = 0; h < HQ + HKV; h++)
            for (int i = 0; i < HD / 2; i++) {
                const int i0 = INTER ? 2 * i : i, i1 = INTER ? 2 * i + 1 : i + HD / 2;
                const float v0 = row[h * HD + i0], v1 = row[h * HD + i1], fc = cp[2 * i], fs = cp[2 * i + 1];
                if (h < HQ && ROPE) {
                    double r0, r1, m;
                    rope_ref(v0, v1, fc, fs, r0, r1, m);
                    cq.add(y[(size_t)t * SY + h * HD + i0], r0, m, 4 * U24, 1e-30);
                    cq.add(y[(size_t)t * SY + h * HD + i1], r1, m, 4 * U24, 1e-30);
                } else if (h >= HQ) { /* rope_pair's operations, each rounded to f32 */
                    const float a = v0 * fc, b = v1 * fs, c = v0 * fs, e = v1 * fc;
                    krot[(h - HQ) * HD + i0] = ROPE ? a - b : v0;
                    krot[(h - HQ) * HD + i1] = ROPE ? c + e : v1;
                }
            }
        const int blk = slots[t] / KBS, off = slots[t] % KBS;
        kv_put_rows(KF, 0, KBS, HKV, HD, &want[kv_sec_at(KF, VF, KL, KBS, HKV, HD, blk, KLAYER, 0)], off, krot.data(),
                    &hs[(size_t)KLAYER * 2 * HKV]);
        kv_put_rows(VF, 1, KBS, HKV, HD, &want[kv_sec_at(KF, VF, KL, KBS, HKV, HD, blk, KLAYER, 1)], off,
                    row + (HQ + HKV) * HD, &hs[((size_t)KLAYER * 2 + 1) * HKV]);
    }
    for (size_t i = 0; i < kvn; i++)
        if (want[i] != kv0[i])
            ck.exact(kv[i], want[i]);
        else
            ck.untouched(kv[i], kv0[i]);
    char what[200];
    if (ROPE) {
        snprintf(what, sizeof what, "rope_kv_row %s %d/%d heads of %d T=%d: rotated q (%s)", INTER ? "interleaved" : "half",
                 HQ, HKV, HD, T, shape);
        cq.done(what, 4 * U24);
    }
    snprintf(what, sizeof what, "%s %d kv heads of %d T=%d: %s,%s cache at the slots, bytes (%s)",
             ROPE ? "rope_kv_row" : "kv_write_row", HKV, HD, T, kvname(KF), kvname(VF), shape);
    ck.done(what, 0);
}

/* ---- KIVI (kivi2/kivi4 keys or values, ir/kv_layout.h): the writer's ring, the seal, the readers ----
 * A pool of QL layers in blocks of 32, sequences whose block table rows end with their rings; the
 * history of each (positions before its step's first) written on the host as the cpu target writes
 * it (kv_store_pos, kv_seal_group at each group's end), then one step on the device: rope_kv_row
 * (keys rotated, values, into the blocks and the ring) and kv_seal_row (the groups the step's tokens
 * complete), the whole pool against the host doing the same (byte for byte: the rotation with
 * rope_pair's operations, kv_store_pos, kv_seal_group); then decode attention (paged_attn_dec) and
 * the per-token kernel (paged_attn, one part: long steps) on that pool against a softmax in double
 * over the rows as kv_read gives them to each query (the blocks below its kv_qlimit, the ring above). */
constexpr int QL = 2, QBS = 32;
template <int KF, int VF, int INTER, int HQ, int HKV, int HD>
__global__ void __launch_bounds__(128) k_kivi_rope(const float *q, const float *k, const float *v, const int32_t *pos,
                                                   const int32_t *slots, const float *cs, float *y, uint8_t *kv,
                                                   const int32_t *seq, const int32_t *tables, int mbs)
{
    constexpr int S = (HQ + 2 * HKV) * HD;
    rope_kv_row<KF, VF, INTER, HQ, HKV, HD, S, S, S, HQ * HD, QL, QBS>(q, k, v, pos, slots, cs, y, kv, 1, nullptr,
                                                                       KvSeqs{seq, tables, mbs});
}
template <int KF, int VF, int HKV, int HD>
__global__ void __launch_bounds__(128) k_kivi_seal(const int32_t *pos, const int32_t *seq, const int32_t *tables, int mbs,
                                                   uint8_t *kv)
{
    kv_seal_row<KF, VF, QL, QBS, HKV, HD>(pos, seq, tables, mbs, kv, 1);
}
template <int KF, int VF, int HQ, int HKV, int HD>
__global__ void __launch_bounds__(128, 4) k_kivi_dec(const int32_t *pos, const int32_t *seq, const int32_t *tables, int mbs,
                                                     const uint8_t *kv, const float *q, float *y, float *part, int *cnt)
{
    paged_attn_dec<KF, VF, QL, QBS, HQ, HKV, HD, HQ * HD, HQ * HD, 0, DNZ, dec_u(KF, VF), dec_gs(HQ / HKV)>(
        pos, seq, tables, mbs, kv, q, y, part, cnt, 1, 0.125f, nullptr);
}
template <int KF, int VF, int HQ, int HKV, int HD, int KQ>
__global__ void __launch_bounds__(128, tc_minb(KF, VF, HD)) k_kivi_tc(const int32_t *pos, const int32_t *seq,
                                                                      const int32_t *tables, int mbs, const uint8_t *kv,
                                                                      const float *q, float *y, float *part, int *cnt)
{
    paged_attn_tc<KF, VF, QL, QBS, HQ, HKV, HD, HQ * HD, HQ * HD, 0, DNZ, tc_minch(KF, VF, HD), tc_nt(KF, VF, HD),
                  tc_gs(HQ / HKV), KQ, tc_fill(KF, VF, HD)>(pos, seq, tables, mbs, kv, q, y, part, cnt, 1, 0.125f, nullptr);
}
template <int KF, int VF, int HQ, int HKV, int HD>
__global__ void __launch_bounds__(128, 4) k_kivi_tok(const int32_t *pos, const int32_t *seq, const int32_t *tables, int mbs,
                                                     const uint8_t *kv, const float *q, float *y)
{
    paged_attn<KF, VF, QL, QBS, HQ, HKV, HD, HQ * HD, HQ * HD, 0>(pos, seq, tables, mbs, kv, q, y, nullptr, 1, 0.125f,
                                                                  nullptr);
}
template <int KF, int VF, int HQ, int HKV, int HD>
static void check_kivi(const std::vector<Seq> &seqs, const char *shape)
{
    constexpr int S = (HQ + 2 * HKV) * HD, SY = HQ * HD, G = HQ / HKV, NPOS = 4096;
    constexpr long long BB = kv_block_bytes(KF, VF, QL, QBS, HKV, HD), NR = kv_ring_blocks(KF, VF, QL, QBS, HKV, HD);
    static_assert(NR > 0, "a KIVI pair");
    const int ns = (int)seqs.size();
    int T = 0, mdata = 0;
    for (auto &q : seqs) {
        T += q.n;
        const int nb = (q.start + q.n + QBS - 1) / QBS;
        mdata = nb > mdata ? nb : mdata;
    }
    const int mbs = mdata + (int)NR, nblocks = ns * mbs + 2;
    std::vector<int32_t> perm(nblocks), tables((size_t)ns * mbs, 0), pos(T), seq(T), slots(T);
    for (int i = 0; i < nblocks; i++)
        perm[i] = i;
    for (int i = nblocks - 1; i > 0; i--) {
        const int j = (int)((urand() + 1.0) * 0.5 * (i + 1)) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < ns * mbs; i++)
        tables[i] = perm[i];
    std::vector<uint8_t> hkv((size_t)nblocks * BB);
    for (auto &b : hkv)
        b = (uint8_t)((urand() + 1.0) * 128);
    /* the history, as the cpu target writes it */
    std::vector<float> krow((size_t)HKV * HD), vrow((size_t)HKV * HD);
    for (int q = 0; q < ns; q++) {
        const int32_t *row = &tables[(size_t)q * mbs];
        for (int p = 0; p < seqs[q].start; p++)
            for (int l = 0; l < QL; l++) {
                for (auto &x : krow)
                    x = (float)nzrand(2.0);
                for (auto &x : vrow)
                    x = (float)nzrand(1.0);
                kv_store_pos(KF, VF, QL, QBS, HKV, HD, hkv.data(), row, mbs, l, p, row[p / QBS], p % QBS, krow.data(),
                             vrow.data(), nullptr);
                if ((p + 1) % KV_KIVI_G == 0)
                    kv_seal_group(KF, VF, QL, QBS, HKV, HD, hkv.data(), row, mbs, l, p);
            }
    }
    int t = 0;
    for (int q = 0; q < ns; q++)
        for (int i = 0; i < seqs[q].n; i++, t++) {
            pos[t] = seqs[q].start + i;
            seq[t] = q;
            slots[t] = tables[(size_t)q * mbs + pos[t] / QBS] * QBS + pos[t] % QBS;
        }
    const std::vector<float> qkv = rand_f32((size_t)T * S, 2.0), cs = rope_table(NPOS, HD);
    DBuf<float> dqkv(qkv.size()), dcs(cs.size()), dq((size_t)T * SY), dy((size_t)T * SY), dpart((size_t)T * HQ * DNZ * (HD + 2));
    DBuf<uint8_t> dkv(hkv.size());
    DBuf<int32_t> dpos(T), dseq(T), dslots(T), dtab(tables.size()), dcnt((size_t)T * HQ);
    dqkv.up(qkv);
    dcs.up(cs);
    dkv.up(hkv);
    dpos.up(pos);
    dseq.up(seq);
    dslots.up(slots);
    dtab.up(tables);
    CK(cudaMemset(dcnt.p, 0, (size_t)T * HQ * 4));
    k_kivi_rope<KF, VF, 0, HQ, HKV, HD><<<dim3(T, HQ + HKV), HD / 2>>>(dqkv.p, dqkv.p + HQ * HD, dqkv.p + (HQ + HKV) * HD,
                                                                       dpos.p, dslots.p, dcs.p, dq.p, dkv.p, dseq.p,
                                                                       dtab.p, mbs);
    launched();
    k_kivi_seal<KF, VF, HKV, HD><<<dim3(T, HKV), 128>>>(dpos.p, dseq.p, dtab.p, mbs, dkv.p);
    launched();
    const std::vector<uint8_t> kv = dkv.down();
    const std::vector<float> qr = dq.down();
    /* the host: the step's rows (k rotated with rope_pair's operations), then the seals */
    std::vector<uint8_t> want = hkv;
    for (int tt = 0; tt < T; tt++) {
        const float *row = &qkv[(size_t)tt * S], *cp = &cs[(size_t)pos[tt] * HD];
        for (int hh = 0; hh < HKV; hh++)
            for (int i = 0; i < HD / 2; i++) {
                const float v0 = row[(HQ + hh) * HD + i], v1 = row[(HQ + hh) * HD + i + HD / 2], fc = cp[2 * i], fs = cp[2 * i + 1];
                const float a = v0 * fc, b = v1 * fs, c = v0 * fs, e = v1 * fc;
                krow[hh * HD + i] = a - b;
                krow[hh * HD + i + HD / 2] = c + e;
            }
        const int32_t *trow = &tables[(size_t)seq[tt] * mbs];
        kv_store_pos(KF, VF, QL, QBS, HKV, HD, want.data(), trow, mbs, 1, pos[tt], slots[tt] / QBS, slots[tt] % QBS,
                     krow.data(), row + (HQ + HKV) * HD, nullptr);
    }
    for (int tt = 0; tt < T; tt++)
        if ((pos[tt] + 1) % KV_KIVI_G == 0)
            kv_seal_group(KF, VF, QL, QBS, HKV, HD, want.data(), &tables[(size_t)seq[tt] * mbs], mbs, 1, pos[tt]);
    Check cb;
    for (size_t i = 0; i < want.size(); i++)
        if (want[i] != hkv[i])
            cb.exact(kv[i], want[i]);
        else
            cb.untouched(kv[i], hkv[i]);
    char what[200];
    snprintf(what, sizeof what, "kivi %s,%s %d/%d heads of %d: rope_kv_row + kv_seal_row, the pool's bytes (%s)",
             kvname(KF), kvname(VF), HQ, HKV, HD, shape);
    cb.done(what, 0);
    /* the readers, on the pool the device wrote (the same bytes) */
    for (int mode = (HD & (HD - 1)) == 0 ? 0 : 1; mode < 4; mode++) { /* (decode: heads of powers of two) */
        if (mode >= 2 && HD != 64 && HD != 128) /* paged_attn_tc (3: scores as S^T = K Q^T): heads of 64 or 128 */
            break;
        dy.poison();
        if constexpr (HD == 64 || HD == 128) {
            if (mode == 2)
                k_kivi_tc<KF, VF, HQ, HKV, HD, 0><<<dim3(T, HQ / tc_gs(HQ / HKV), DNZ), 128>>>(dpos.p, dseq.p, dtab.p, mbs,
                                                                                              dkv.p, dq.p, dy.p, dpart.p,
                                                                                              dcnt.p);
            if (mode == 3)
                k_kivi_tc<KF, VF, HQ, HKV, HD, 1><<<dim3(T, HQ / tc_gs(HQ / HKV), DNZ), 128>>>(dpos.p, dseq.p, dtab.p, mbs,
                                                                                              dkv.p, dq.p, dy.p, dpart.p,
                                                                                              dcnt.p);
        }
        if constexpr ((HD & (HD - 1)) == 0)
            if (mode == 0)
                k_kivi_dec<KF, VF, HQ, HKV, HD><<<dim3(T, HQ / dec_gs(HQ / HKV), DNZ), 128>>>(dpos.p, dseq.p, dtab.p, mbs,
                                                                                             dkv.p, dq.p, dy.p, dpart.p,
                                                                                             dcnt.p);
        if (mode == 1)
            k_kivi_tok<KF, VF, HQ, HKV, HD><<<dim3(T, HKV, 1), 128>>>(dpos.p, dseq.p, dtab.p, mbs, dkv.p, dq.p, dy.p);
        launched();
        const std::vector<float> y = dy.down();
        double num = 0, den = 0;
        int64_t unwritten = 0;
        std::vector<float> kb(HD), vb(HD);
        for (int tt = 0; tt < T; tt++) {
            const int pe = pos[tt];
            const int32_t *trow = &tables[(size_t)seq[tt] * mbs];
            for (int hq = 0; hq < HQ; hq++) {
                const int kh = hq / G;
                std::vector<double> sc(pe + 1), o(HD, 0.0);
                double mx = -1e300, l = 0;
                for (int p = 0; p <= pe; p++) {
                    const float *kr = kv_read(KF, VF, QL, QBS, HKV, HD, (uint8_t *)kv.data(),
                                              trow, mbs, 1, 0, p, pe, kh, kb.data(), nullptr);
                    double d = 0;
                    for (int i = 0; i < HD; i++)
                        d += (double)qr[(size_t)tt * SY + hq * HD + i] * kr[i];
                    sc[p] = d * 0.125;
                    mx = sc[p] > mx ? sc[p] : mx;
                }
                for (int p = 0; p <= pe; p++)
                    l += (sc[p] = exp(sc[p] - mx));
                for (int p = 0; p <= pe; p++) {
                    const float *vr = kv_read(KF, VF, QL, QBS, HKV, HD, (uint8_t *)kv.data(), trow, mbs, 1, 1, p, pe, kh,
                                              vb.data(), nullptr);
                    for (int i = 0; i < HD; i++)
                        o[i] += sc[p] * vr[i];
                }
                for (int i = 0; i < HD; i++) {
                    const double ref = o[i] / l, got = y[(size_t)tt * SY + hq * HD + i];
                    if (got != got)
                        unwritten++;
                    num += (got - ref) * (got - ref);
                    den += ref * ref;
                }
            }
        }
        snprintf(what, sizeof what, "kivi %s,%s %d/%d heads of %d: %s, T=%d (%s)", kvname(KF), kvname(VF), HQ, HKV, HD,
                 mode == 0 ? "paged_attn_dec" : mode == 1 ? "paged_attn (1 part)" : mode == 2 ? "paged_attn_tc" : "paged_attn_tc kq",
                 T, shape);
        verdict(what, sqrt(num / den), 5e-3, unwritten);
    }
}

/* ---- embedding (bf16/f16/f32 tables; conversions are exact) and select_rows (copies) ---- */
template <int WK, int D, int SY, int G>
__global__ void __launch_bounds__(256) k_embed(const void *table, const int32_t *tok, float *y, WQ wq)
{
    embed<KF(WK), D, SY, G>(table, tok, y, wq);
}
template <int WK, int D, int SY = D, int G = D>
static void check_embed(const char *shape, int V, int T)
{
    const QWts qw = make_any(WK, V, D, G, 1.0, 1);
    const Wts &w = qw.w;
    std::vector<int32_t> tok(T);
    for (int t = 0; t < T; t++)
        tok[t] = t == 0 ? V - 1 : t == 1 ? 0 : t == 2 ? tok[0] : (int)((urand() + 1.0) * 0.5 * V) % V;
    DW dw(qw);
    DBuf<int32_t> dt(T);
    DBuf<float> dy((size_t)T * SY);
    dt.up(tok);
    dy.poison();
    k_embed<WK, D, SY, G><<<T, 256>>>(dw.w.p, dt.p, dy.p, dw.wq(WK));
    launched();
    const std::vector<float> y = dy.down();
    Check c;
    for (int t = 0; t < T; t++)
        for (int d = 0; d < SY; d++) {
            if (d < D)
                c.exact(fbits(y[(size_t)t * SY + d]), fbits(w.f[(size_t)tok[t] * D + d]));
            else
                c.untouched(fbits(y[(size_t)t * SY + d]), 0xffffffffu);
        }
    char what[200];
    snprintf(what, sizeof what, "embed %s V=%d D=%d SY=%d T=%d g%d (%s)", wkname(WK), V, D, SY, T, G, shape);
    c.done(what, 0.0);
}
/* ---- dequant_half (a quantized weight to f16 for the tensor cores of wide steps): the f32
 * dequantized value's f16 rounding, saturated, bit for bit ---- */
template <int WK, int K, int N, int G, int VEC>
__global__ void __launch_bounds__(256) k_dequant(const void *w, WQ wq, uint16_t *out)
{
    dequant_half<KF(WK), K, N, G, VEC, VEC ? ORDER_LANE8 : ORDER_ROW_MAJOR>(w, wq, out);
}
template <int WK, int K, int N, int G>
static void check_dequant(const char *shape)
{
    constexpr int VEC = mv_vec(WK, K, G), PER = VEC ? fmt_ve(WK) : 1;
    const QWts qw = make_wq(WK, N, K, G, 0.05);
    DW dw(qw);
    DBuf<uint16_t> dout((size_t)N * K);
    dout.poison();
    k_dequant<WK, K, N, G, VEC><<<(int)(((int64_t)N * K / PER + 255) / 256), 256>>>(dw.w.p, dw.wq(WK), dout.p);
    launched();
    const std::vector<uint16_t> o = dout.down();
    Check c;
    for (size_t i = 0; i < o.size(); i++) {
        const float v = qw.w.f[i] > 65504.0f ? 65504.0f : qw.w.f[i] < -65504.0f ? -65504.0f : qw.w.f[i];
        c.exact(o[i], h_f16(v));
    }
    char what[200];
    snprintf(what, sizeof what, "dequant_half %s K=%d N=%d g%d%s (%s)", wkname(WK), K, N, G, VEC ? "" : " scalar", shape);
    c.done(what, 0.0);
}

template <int D, int SX, int SY>
__global__ void __launch_bounds__(256) k_select(const float *x, const int32_t *rows, float *y)
{
    select_row<D, SX, SY>(x, rows, y);
}
template <int D, int SX = D, int SY = D>
static void check_select(const char *shape, int T, int O)
{
    const std::vector<float> x = rand_f32((size_t)T * SX, 1.0);
    std::vector<int32_t> rows(O);
    for (int o = 0; o < O; o++) /* the last row of each sequence, shuffled, one twice */
        rows[o] = o == O - 1 && O > 1 ? rows[0] : (int)((urand() + 1.0) * 0.5 * T) % T;
    DBuf<float> dx(x.size()), dy((size_t)O * SY);
    DBuf<int32_t> dr(O);
    dx.up(x);
    dr.up(rows);
    dy.poison();
    k_select<D, SX, SY><<<O, 256>>>(dx.p, dr.p, dy.p);
    launched();
    const std::vector<float> y = dy.down();
    Check c;
    for (int o = 0; o < O; o++)
        for (int d = 0; d < SY; d++) {
            if (d < D)
                c.exact(fbits(y[(size_t)o * SY + d]), fbits(x[(size_t)rows[o] * SX + d]));
            else
                c.untouched(fbits(y[(size_t)o * SY + d]), 0xffffffffu);
        }
    char what[200];
    snprintf(what, sizeof what, "select_row D=%d strides %d/%d: %d of %d rows (%s)", D, SX, SY, O, T, shape);
    c.done(what, 0.0);
}

/* select_rows in place (codegen/cuda_rows.c): the O rows gathered into scratch, then copied back
 * over the first O rows of x's own buffer (rows null); rows O..T-1 keep their values. */
template <int D, int S>
static void check_select_in_place(const char *shape, int T, int O)
{
    const std::vector<float> x = rand_f32((size_t)T * S, 1.0);
    std::vector<int32_t> rows(O);
    for (int o = 0; o < O; o++) /* rows from anywhere, some above o (read after row o is written back) */
        rows[o] = o == O - 1 && O > 1 ? rows[0] : (int)((urand() + 1.0) * 0.5 * T) % T;
    DBuf<float> dx(x.size()), scratch((size_t)O * D);
    DBuf<int32_t> dr(O);
    dx.up(x);
    dr.up(rows);
    scratch.poison();
    k_select<D, S, D><<<O, 256>>>(dx.p, dr.p, scratch.p);
    launched();
    k_select<D, D, S><<<O, 256>>>(scratch.p, nullptr, dx.p);
    launched();
    const std::vector<float> y = dx.down();
    Check c;
    for (int t = 0; t < T; t++)
        for (int d = 0; d < S; d++) {
            const size_t i = (size_t)t * S + d;
            if (t < O && d < D)
                c.exact(fbits(y[i]), fbits(x[(size_t)rows[t] * S + d]));
            else
                c.untouched(fbits(y[i]), fbits(x[i]));
        }
    char what[200];
    snprintf(what, sizeof what, "select_row in place D=%d stride %d: %d of %d rows (%s)", D, S, O, T, shape);
    c.done(what, 0.0);
}

/* ---- the argmax (sample_row with sampling off, as greedy steps run it) against llmc_argmax:
 * ties (lowest id), NaNs (never chosen; an all-NaN row gives 0), -inf ---- */
template <int V>
static void check_argmax(const char *shape, int rows)
{
    std::vector<float> hl((size_t)rows * V);
    for (int r = 0; r < rows; r++) {
        float *x = &hl[(size_t)r * V];
        for (int i = 0; i < V; i++)
            x[i] = r % 4 == 1 ? (float)floor(urand() * 4.0) : (float)nzrand(8.0); /* rows 1, 5, ...: many ties */
        if (r % 4 == 2)
            for (int i = 0; i < V; i += 7)
                x[i] = NAN;
        if (r % 4 == 3)
            x[(r * 7919) % V] = x[V - 1] = 100.0f; /* the max twice, far apart */
        if (r == rows - 1)
            for (int i = 0; i < V; i++)
                x[i] = i % 3 ? -HUGE_VALF : NAN;
        if (r == rows - 2)
            for (int i = 0; i < V; i++)
                x[i] = NAN;
    }
    std::vector<double> hs(4 * (size_t)rows, 0.5); /* [rows][4]: temperature, top_p, top_k, uniform */
    for (int r = 0; r < rows; r++) {
        hs[4 * r] = 0; /* temperature 0: sampling off, the argmax */
        hs[4 * r + 1] = 1.0;
        hs[4 * r + 2] = 0;
    }
    DBuf<float> dl(hl.size());
    DBuf<int32_t> di(rows);
    DBuf<double> ds(hs.size());
    dl.up(hl);
    ds.up(hs);
    di.poison();
    k_sample<V><<<rows, SAMPLE_NT>>>(dl.p, di.p, ds.p);
    launched();
    const std::vector<int32_t> ids = di.down();
    Check c;
    for (int r = 0; r < rows; r++)
        c.exact((uint32_t)ids[r], (uint32_t)llmc_argmax(&hl[(size_t)r * V], V));
    char what[200];
    snprintf(what, sizeof what, "argmax (sample_row, sampling off) V=%d: %d rows (%s)", V, rows, shape);
    c.done(what, 0.0);
}

/* KIVI: a step of prefill chunks and decode tokens over histories past the residual, groups
 * completed in the step, the residual window crossing blocks */
static void kivi_checks(void)
{
    const std::vector<Seq> kivi_steps = {{200, 33}, {0, 64}, {130, 2}, {95, 1}, {31, 1}, {300, 90}};
    check_kivi<FMT_KIVI2, FMT_KIVI2, 32, 8, 128>(kivi_steps, "8B");
    check_kivi<FMT_KIVI4, FMT_KIVI4, 32, 8, 64>(kivi_steps, "1B");
    check_kivi<FMT_KIVI2, FMT_INT8, 16, 2, 64>(kivi_steps, "small");
    check_kivi<FMT_KIVI2, FMT_F16, 32, 8, 128>(kivi_steps, "8B"); /* KIVI keys, f16 values (paged_attn_tc: one tile) */
    check_kivi<FMT_INT4, FMT_KIVI2, 32, 8, 64>(kivi_steps, "1B");
    check_kivi<FMT_F16, FMT_KIVI2, 8, 4, 96>(kivi_steps, "heads of 96");
}
/* paged_attn_tc (check_flash's MODE M: 4, or 5 for the scores as S^T = K Q^T): decode steps, windows,
 * 1 to 8 query heads a KV head (12: two blocks of 6), a part of one position, a token whose window
 * starts mid-tile, Gemma 2's soft cap, then every format pair it reads from the blocks (KIVI's:
 * kivi_checks) */
template <int M>
static void tc_checks(const std::vector<Seq> &steps)
{
    check_flash<32, 8, 64, 0, M>(steps, 0);
    check_flash<32, 8, 128, 0, M>(steps, 0);
    check_flash<32, 8, 64, 48, M>(steps, 0);
    check_flash<8, 8, 128, 0, M>({{4000, 1}, {17, 1}}, 0);
    check_flash<16, 2, 64, 0, M>({{3, 40}, {0, 2}, {600, 22}}, 0);
    check_flash<64, 8, 128, 0, M>({{300, 3}, {0, 1}, {4095, 1}}, 0);
    check_flash<24, 2, 64, 0, M>({{300, 3}, {0, 1}, {1000, 1}}, 0);
    check_flash<32, 8, 128, 37, M>({{3000, 1}, {36, 2}, {100, 1}}, 0);
    check_flash<8, 4, 64, 0, M>(steps, 0, 5.0f);
    check_flash<16, 8, 128, 0, M>(steps, 0, 5.0f);
    check_flash<32, 8, 128, 0, M, FMT_INT8, FMT_INT8>(steps, 0);
    check_flash<32, 8, 128, 0, M, FMT_INT4, FMT_INT4>(steps, 0);
    check_flash<32, 8, 128, 0, M, FMT_KV_FP8, FMT_KV_FP8>(steps, 0);
    check_flash<32, 8, 64, 48, M, FMT_INT8, FMT_INT4>(steps, 0);
    check_flash<32, 8, 64, 0, M, FMT_KV_FP8, FMT_F16>(steps, 0);
    check_flash<16, 2, 64, 0, M, FMT_F16, FMT_INT8>({{3, 40}, {0, 2}, {600, 22}}, 0);
    check_flash<32, 8, 128, 48, M, FMT_INT4, FMT_INT4>({{3000, 1}}, 0);
    check_flash<32, 8, 64, 0, M, FMT_INT4, FMT_KV_FP8>(steps, 0);
    check_flash<32, 8, 128, 0, M, FMT_F16, FMT_INT4>(steps, 0);
}
/* The checks of this section, at the shapes of stories260K (dim 64, 8/4 heads of 8, ffn 172,
 * vocab 512), stories15M (288, 6 heads of 48, ffn 768), Llama-3.2-1B (2048, 32/8 heads of 64, ffn
 * 8192, vocab 128256) and Llama-3.1-8B (4096, 32/8 heads of 128, ffn 14336). */
static void check_rest(void)
{
    /* gemv / gemv_b1: every weight format, each fused prologue/epilogue, ragged row counts */
    check_mv<1, 64, 128, 1, 0, 0>("260K qkv", {1, 2, 5, 8});
    check_mv<1, 64, 64, 0, 1, 0>("260K o", {1, 3, 8});
    check_mv<1, 64, 344, 1, 2, 0>("260K gate/up", {1, 7});
    check_mv<1, 172, 64, 0, 1, 0>("260K down", {1, 2, 6});
    check_mv<1, 64, 512, 1, 0, 0>("260K logits", {1, 4});
    check_mv<2, 64, 344, 1, 2, 0>("260K gate/up", {1, 8});
    check_mv<2, 172, 64, 0, 1, 0>("260K down", {1, 5});
    check_mv<0, 64, 128, 1, 0, 1>("260K qkv + bias", {1, 2, 9, 70});
    check_mv<0, 172, 64, 0, 1, 0>("260K down", {1, 13});
    check_mv<0, 64, 344, 1, 2, 0>("260K gate/up", {1, 3, 20});
    check_mv<0, 100, 333, 0, 0, 1, 104, 340>("odd N, K % 8 != 0, strided", {1, 2, 11});
    check_mv<2, 104, 333, 1, 0, 1, 108, 337>("odd N, strided", {1, 6});
    check_mv<1, 2048, 3072, 1, 0, 0>("1B qkv", {1, 2, 8});
    check_mv<1, 2048, 2048, 0, 1, 0>("1B o", {1, 5});
    check_mv<1, 2048, 16384, 1, 2, 0>("1B gate/up", {1, 3});
    check_mv<1, 8192, 2048, 0, 1, 0>("1B down", {1, 4});
    check_mv<1, 2048, 128256, 1, 0, 0>("1B logits", {1, 2});
    check_mv<2, 2048, 3072, 1, 0, 1>("1B qkv + bias", {1, 7});
    check_mv<2, 8192, 2048, 0, 1, 0>("1B down", {1, 2});
    check_mv<0, 2048, 2048, 0, 1, 0>("1B o", {1, 8, 33});
    check_mv<0, 2048, 16384, 1, 2, 0>("1B gate/up", {1, 2});
    check_mv<1, 4096, 6144, 1, 0, 0>("8B qkv", {1, 8});
    check_mv<1, 4096, 28672, 1, 2, 0>("8B gate/up", {1, 2});
    /* GeGLU in the gate/up epilogue (EPI 4, Gemma): gemv_b1, gemv and the wide paths */
    check_mv<1, 64, 344, 1, 4, 0>("260K gate/up, GeGLU", {1, 7, 20});
    check_mv<1, 3584, 28672, 1, 4, 0>("gemma-2-9b gate/up, GeGLU", {1, 3, 16});
    check_mv<4, 3584, 28672, 1, 4, 0>("gemma-2-9b gate/up w4a16, GeGLU", {1, 16});
    check_mv<1, 14336, 4096, 0, 1, 0>("8B down", {1, 3});
    check_mv<2, 14336, 4096, 0, 1, 1>("8B down + bias", {1});
    /* quantized weights (fp8 a scale a row, u4 symmetric and with zero points, groups 32..128) */
    check_mv<4, 64, 128, 1, 0, 0>("260K qkv", {1, 2, 8});
    check_mv<5, 64, 344, 1, 2, 0, 64, 172, 0, 32>("260K gate/up", {1, 7});
    check_mv<4, 172, 64, 0, 1, 0>("260K down, ragged group", {1, 2, 6});
    check_mv<3, 172, 64, 0, 1, 0>("260K down", {1, 5});
    check_mv<3, 64, 512, 1, 0, 0>("260K logits", {1, 4});
    check_mv<5, 100, 333, 0, 0, 1, 104, 340, 0, 50>("odd N, K % 32 != 0, strided", {1, 2, 11});
    check_mv<4, 2048, 3072, 1, 0, 0>("1B qkv", {1, 2, 8, 20});
    check_mv<5, 2048, 2048, 0, 1, 0, 2048, 2048, 2052, 64>("1B o", {1, 5});
    check_mv<4, 2048, 16384, 1, 2, 0>("1B gate/up", {1, 3});
    check_mv<5, 8192, 2048, 0, 1, 0>("1B down", {1, 4});
    check_mv<3, 2048, 3072, 1, 0, 1>("1B qkv + bias", {1, 7});
    check_mv<3, 8192, 2048, 0, 1, 0>("1B down", {1, 2});
    check_mv<4, 4096, 6144, 1, 0, 0>("8B qkv", {1, 8});
    check_mv<4, 4096, 28672, 1, 2, 0>("8B gate/up", {1, 2});
    check_mv<5, 14336, 4096, 0, 1, 0, 14336, 4096, 4100, 32>("8B down", {1, 3});
    check_mv<3, 4096, 28672, 1, 2, 0>("8B gate/up", {1, 8});
    check_mv<3, 14336, 4096, 0, 1, 1>("8B down + bias", {1});
    check_b1_rope<5, 2048, 32, 8, 64, 0, 1, 1, 64>("1B");
    check_b1_rope<3, 2048, 32, 8, 64, 0, 1, 0>("1B");
    check_b1_rope<4, 4096, 32, 8, 128, 0, 1, 0>("8B");
    check_dequant<4, 4096, 6144, 128>("8B qkv");
    check_dequant<5, 14336, 4096, 32>("8B down");
    check_dequant<3, 2048, 16384, 2048>("1B gate/up");
    check_dequant<5, 172, 64, 128>("260K down, ragged");
    check_dequant<4, 96, 40, 48>("group not a multiple of a load");
    /* nvfp4 (E2M1, E4M3 scales a 16, an f32 tensor scale): the scalar path (K not whole tiles,
     * ragged groups), the lane8 slots at the presets' shapes; u4 in groups of 16 (lane8 since
     * nvfp4: a chunk a group) */
    check_mv<6, 64, 128, 1, 0, 0>("260K qkv", {1, 2, 8});
    check_mv<6, 172, 64, 0, 1, 0>("260K down, ragged group", {1, 2, 6});
    check_mv<6, 100, 333, 0, 0, 1, 104, 340, 0, 16>("odd N, K % 16 != 0, strided", {1, 2, 11});
    check_mv<6, 256, 512, 1, 0, 0>("one tile a row", {1, 2, 9});
    check_mv<6, 2048, 3072, 1, 0, 0>("1B qkv", {1, 2, 8, 20});
    check_mv<6, 2048, 2048, 0, 1, 0, 2048, 2048, 2052>("1B o", {1, 5});
    check_mv<6, 2048, 16384, 1, 2, 0>("1B gate/up", {1, 3});
    check_mv<6, 8192, 2048, 0, 1, 1>("1B down + bias", {1, 4});
    check_mv<6, 4096, 6144, 1, 0, 0>("8B qkv", {1, 8});
    check_mv<6, 4096, 28672, 1, 2, 0>("8B gate/up", {1, 2});
    check_mv<6, 14336, 4096, 0, 1, 0>("8B down", {1, 3});
    check_mv<4, 2048, 3072, 1, 0, 0, 2048, 3072, 0, 16>("1B qkv", {1, 2, 8});
    check_mv<5, 4096, 4096, 0, 1, 0, 4096, 4096, 4100, 16>("8B o", {1, 3});
    check_b1_rope<6, 2048, 32, 8, 64, 0, 1, 1, 16>("1B");
    check_b1_rope<6, 4096, 32, 8, 128, 0, 1, 0, 16>("8B");
    check_dequant<6, 4096, 6144, 16>("8B qkv");
    check_dequant<6, 2048, 512, 16>("1B slice");
    check_dequant<6, 172, 64, 16>("260K down, ragged");
    check_dequant<5, 2048, 512, 16>("u4 g16");
    check_b1_rope<1, 64, 8, 4, 8, 1, 1, 0>("260K");   /* llama2.c checkpoints: interleaved pairs */
    check_b1_rope<2, 64, 8, 4, 8, 1, 1, 1>("260K");
    check_b1_rope<0, 64, 8, 4, 8, 0, 0, 0>("260K");
    check_b1_rope<1, 288, 6, 6, 48, 0, 1, 0>("15M");
    check_b1_rope<1, 2048, 32, 8, 64, 0, 1, 0>("1B");
    check_b1_rope<2, 2048, 32, 8, 64, 1, 1, 1>("1B");
    check_b1_rope<0, 2048, 32, 8, 64, 0, 1, 0>("1B");
    check_b1_rope<1, 4096, 32, 8, 128, 0, 1, 0>("8B");
    /* gemm_tc: 9..64 rows, the emitter's K split, with and without the norm prologue */
    check_tc<1, 288, 288, 0, 1, 0>("15M o", {9, 33, 64});
    check_tc<1, 288, 1536, 1, 2, 0>("15M gate/up", {10, 64});
    check_tc<2, 768, 288, 0, 1, 1>("15M down + bias", {17});
    check_tc<1, 2048, 3072, 1, 0, 0>("1B qkv", {9, 40});
    check_tc<2, 2048, 3072, 1, 0, 1>("1B qkv + bias", {23});
    check_tc<1, 2048, 2048, 0, 1, 0>("1B o", {64});
    check_tc<1, 2048, 16384, 1, 2, 0>("1B gate/up", {12});
    check_tc<2, 2048, 16384, 1, 2, 0>("1B gate/up", {57});
    check_tc<1, 3584, 28672, 1, 4, 0>("gemma-2-9b gate/up, GeGLU", {12, 64});
    check_tc<1, 8192, 2048, 0, 1, 0>("1B down", {9, 50});
    check_tc<1, 4096, 6144, 1, 0, 0>("8B qkv", {31});
    check_tc<1, 14336, 4096, 0, 1, 0>("8B down", {13});
    /* rows to bf16/f16 (gemm_h's A operand) */
    check_to_half<1, 0, 2048>("1B", 77);
    check_to_half<2, 0, 2048>("1B", 9);
    check_to_half<1, 1, 2048>("1B norm", 130);
    check_to_half<2, 1, 4096>("8B norm", 65);
    check_to_half<1, 1, 288, 292>("15M norm, strided", 33);
    check_to_half<2, 0, 8192, 8196>("1B ffn, strided", 17);
    /* norms */
    check_rmsnorm<0, 64>("260K", 7);
    check_rmsnorm<1, 64, 64, 68, 64, 72>("260K strided", 70);
    check_rmsnorm<0, 288>("15M", 3);
    check_rmsnorm<1, 2048>("1B", 37);
    check_rmsnorm<0, 2048, 2052, 0, 0, 2048>("1B strided", 5);
    check_rmsnorm<1, 4096>("8B", 9);
    check_rmsnorm<0, 768>("15M ffn", 2);
    check_rmsnorm<1, 3584>("gemma-2-9b", 3);                  /* rmsnorm_row_v4: 7 float4s a thread */
    check_rmsnorm<1, 8192>("70B", 2);                         /* its largest with the addend */
    check_rmsnorm<0, 14336, 14336, 0, 0, 14336>("8B down prologue", 2);
    check_rmsnorm<1, 4096, 4098, 4096, 4096, 4096>("8B, stride 4098", 3); /* no 16-byte rows: the scalar loop */
    /* elementwise */
    check_elt<0, 64>("260K", 7);
    check_elt<1, 2048, 2052, 2048, 2056>("1B strided", 9);
    check_elt<2, 172>("260K ffn", 5);
    check_elt<3, 8192, 16384, 16384, 8192>("1B ffn, gate/up halves", 3);
    check_elt<0, 4096>("8B", 70);
    check_elt<3, 14336>("8B ffn", 2);
    /* rope, kv_write, rope_kv_write: shuffled slots, half and interleaved pairs */
    check_rope<1, 8, 8>("260K q", 9);
    check_rope<1, 4, 8, 128, 128>("260K k in qkv", 5);
    check_rope<0, 6, 48>("15M", 3);
    check_rope<0, 32, 64, 3072, 2048>("1B q in qkv", 11);
    check_rope<1, 8, 128>("8B k", 4);
    check_kv<0, 0, 8, 4, 8>("260K", 50);
    check_kv<0, 0, 32, 8, 64>("1B", 70);
    check_kv<0, 0, 32, 8, 128>("8B", 9);
    check_kv<1, 1, 8, 4, 8>("260K", 77);
    check_kv<1, 1, 6, 6, 48>("15M", 20);
    check_kv<1, 0, 32, 8, 64>("1B", 65);
    check_kv<1, 1, 32, 8, 64>("1B", 3);
    check_kv<1, 0, 32, 8, 128>("8B", 10);
    /* the quantized KV formats (issue 12): keys and values each, byte for byte */
    check_kv<0, 0, 32, 8, 128, FMT_INT8, FMT_INT4>("8B", 9);
    check_kv<0, 0, 8, 4, 8, FMT_KV_FP8, FMT_INT8>("260K", 50);
    check_kv<1, 0, 32, 8, 128, FMT_INT8, FMT_INT8>("8B", 10);
    check_kv<1, 0, 32, 8, 64, FMT_INT4, FMT_INT4>("1B", 65);
    check_kv<1, 0, 32, 8, 128, FMT_KV_FP8, FMT_KV_FP8>("8B", 10);
    check_kv<1, 1, 8, 4, 8, FMT_INT4, FMT_F16>("260K", 77);
    check_kv<1, 1, 6, 6, 48, FMT_F16, FMT_INT8>("15M", 20);
    kivi_checks();
    /* embedding, select_rows, argmax */
    check_embed<1, 64>("260K", 512, 40);
    check_embed<2, 288, 292>("15M, strided", 32000, 9);
    check_embed<0, 64>("260K", 512, 70);
    check_embed<1, 2048>("1B", 128256, 13);
    check_embed<2, 4096>("8B", 4096, 5);
    check_embed<0, 2048>("1B", 8192, 3);
    check_embed<4, 64, 64, 64>("260K", 512, 40);
    check_embed<5, 288, 292, 32>("15M, strided", 32000, 9);
    check_embed<3, 2048, 2048, 2048>("1B", 128256, 13);
    check_embed<5, 4096, 4096, 128>("8B", 4096, 5);
    check_embed<6, 64, 64, 16>("260K", 512, 40);
    check_embed<6, 172, 176, 16>("ragged group, strided", 300, 9);
    check_embed<6, 4096, 4096, 16>("8B", 4096, 5);
    check_select<64>("260K", 70, 5);
    check_select_in_place<64, 64>("260K", 70, 5);
    check_select_in_place<2048, 2048>("1B", 300, 16);
    check_select_in_place<2048, 2048>("1B, every row", 40, 40);
    check_select<2048, 2048, 2052>("1B", 300, 16);
    check_select<4096>("8B", 64, 1);
    check_argmax<512>("260K", 9);
    check_argmax<1000>("V % 1024 != 0", 8);
    check_argmax<32000>("15M", 6);
    check_argmax<128256>("1B", 5);
}

/* ==== the model families' kernels (issue 26): per-head RMSNorm, the maps with a parameter (GeLU,
 * scale, soft-cap), rope_kv_row with the q/k norms, soft-capped attention (in main), the MoE block
 * ==== */

/* ---- head_rmsnorm_row (a block a row, a warp a head: cuda_norm.c) ---- */
template <int H, int HD, int SX, int SY>
__global__ void __launch_bounds__(128) k_hnorm(const float *x, const float *w, float *y, float eps)
{
    head_rmsnorm_row<H, HD, SX, SY>(x, w, y, eps);
}
template <int H, int HD, int SX = H * HD, int SY = H * HD>
static void check_head_norm(const char *shape, int T)
{
    const std::vector<float> x = rand_f32((size_t)T * SX, 2.0), w = rand_f32(HD, 0.5, 1.0);
    DBuf<float> dx(x.size()), dw(HD), dy((size_t)T * SY);
    dx.up(x);
    dw.up(w);
    dy.poison();
    k_hnorm<H, HD, SX, SY><<<T, 128>>>(dx.p, dw.p, dy.p, 1e-6f);
    launched();
    const std::vector<float> y = dy.down();
    const double eps = eps_norm(HD, LLMC_WARP);
    Check c;
    for (int t = 0; t < T; t++) {
        for (int d = H * HD; d < SY; d++)
            c.untouched(fbits(y[(size_t)t * SY + d]), 0xffffffffu);
        for (int h = 0; h < H; h++) {
            const float *xh = &x[(size_t)t * SX + h * HD];
            double ss = 0;
            for (int d = 0; d < HD; d++)
                ss += (double)xh[d] * xh[d];
            const double inv = 1.0 / sqrt(ss / HD + 1e-6);
            for (int d = 0; d < HD; d++) {
                const double ref = w[d] * inv * xh[d];
                c.add(y[(size_t)t * SY + h * HD + d], ref, fabs(ref), eps, 1e-30);
            }
        }
    }
    char what[200];
    snprintf(what, sizeof what, "head_rmsnorm %d heads of %d, strides %d/%d T=%d (%s)", H, HD, SX, SY, T, shape);
    c.done(what, eps);
}

/* ---- add_rmsnorm with the addend RMS-normed first (fuse_post_norm: Gemma's post-norms) ---- */
template <int D, int NT>
__global__ void __launch_bounds__(NT) k_post_norm(const float *a, const float *b, float *s, const float *w, float *y,
                                                  const float *wb)
{
    rmsnorm_row<1, D, D, D, D, D>(a, b, s, w, y, 1e-6f, wb, 1e-6f);
}
template <int D>
static void check_post_norm(const char *shape, int T)
{
    constexpr int NT = D >= 2048 ? 512 : D >= 512 ? 256 : 128;
    const std::vector<float> a = rand_f32((size_t)T * D, 1.5), b = rand_f32((size_t)T * D, 40.0), w = rand_f32(D, 0.5, 1.0),
                             wb = rand_f32(D, 0.5, 1.0);
    DBuf<float> da(a.size()), db(b.size()), dw(D), dwb(D), ds((size_t)T * D), dy((size_t)T * D);
    da.up(a);
    db.up(b);
    dw.up(w);
    dwb.up(wb);
    ds.poison();
    dy.poison();
    k_post_norm<D, NT><<<T, NT>>>(da.p, db.p, ds.p, dw.p, dy.p, dwb.p);
    launched();
    const std::vector<float> y = dy.down(), s = ds.down();
    /* two norms: each eps_norm; the sum a + wb (b / rms) rounded once more */
    const double eps = 2 * eps_norm(D, NT) + 2 * U24;
    Check c, cs;
    std::vector<double> v(D);
    for (int t = 0; t < T; t++) {
        double sb = 0, ss = 0;
        for (int d = 0; d < D; d++)
            sb += (double)b[(size_t)t * D + d] * b[(size_t)t * D + d];
        const double invb = 1.0 / sqrt(sb / D + 1e-6);
        for (int d = 0; d < D; d++) {
            v[d] = a[(size_t)t * D + d] + wb[d] * invb * b[(size_t)t * D + d];
            cs.add(s[(size_t)t * D + d], v[d], fabs(a[(size_t)t * D + d]) + fabs(v[d] - a[(size_t)t * D + d]), eps, 1e-30);
            ss += v[d] * v[d];
        }
        const double inv = 1.0 / sqrt(ss / D + 1e-6);
        for (int d = 0; d < D; d++) {
            const double ref = w[d] * inv * v[d];
            c.add(y[(size_t)t * D + d], ref,
                  fabs(ref) + fabs(w[d] * inv) * (fabs(a[(size_t)t * D + d]) + fabs(v[d] - a[(size_t)t * D + d])), 2 * eps,
                  1e-30);
        }
    }
    char what[200];
    snprintf(what, sizeof what, "add_rmsnorm, b normed first: the sum, D=%d T=%d (%s)", D, T, shape);
    cs.done(what, eps);
    snprintf(what, sizeof what, "add_rmsnorm, b normed first: the norm, D=%d T=%d (%s)", D, T, shape);
    c.done(what, 2 * eps);
}

/* ---- unary: OP 0 gelu_tanh, 1 scale, 2 softcap ---- */
template <int OP, int D, int SA, int SY>
__global__ void __launch_bounds__(256) k_unary(const float *x, float *y, int rows, float p)
{
    unary<OP, D, SA, SY>(x, y, rows, p);
}
template <int OP, int D, int SA = D, int SY = D>
static void check_unary(const char *shape, int T, float p)
{
    const std::vector<float> a = rand_f32((size_t)T * SA, OP == 2 ? 60.0 : 6.0);
    DBuf<float> da(a.size()), dy((size_t)T * SY);
    da.up(a);
    dy.poison();
    k_unary<OP, D, SA, SY><<<(T * D + 255) / 256, 256>>>(da.p, dy.p, T, p);
    launched();
    const std::vector<float> y = dy.down();
    /* scale: one f32 product, bit for bit; gelu: tanhf (2 ulp) and ~9 roundings of terms that may
     * cancel in 1 + tanh (64 ulp of the input's size); softcap: a division, tanhf, a product */
    const double eps = OP == 1 ? 0.0 : OP == 0 ? 64 * U24 : 8 * U24;
    Check c;
    for (int t = 0; t < T; t++)
        for (int d = 0; d < SY; d++) {
            const float got = y[(size_t)t * SY + d], av = a[(size_t)t * SA + d];
            if (d >= D) {
                c.untouched(fbits(got), 0xffffffffu);
                continue;
            }
            if (OP == 1)
                c.exact(fbits(got), fbits(av * p));
            else if (OP == 0)
                c.add(got, geluds(av), fabs(geluds(av)) + fabs(av), eps, 1e-30);
            else
                c.add(got, p * tanh(av / (double)p), fabs(p), eps, 1e-30);
        }
    static const char *names[] = {"gelu_tanh", "scale", "softcap"};
    char what[200];
    snprintf(what, sizeof what, "unary %s %g D=%d strides %d/%d T=%d (%s)", names[OP], p, D, SA, SY, T, shape);
    c.done(what, eps);
}

/* ---- rope_kv_row with the q/k norms (Qwen3, Gemma 3: rope_kv_write of 7 inputs) ---- */
template <int INTER, int HQ, int HKV, int HD, int SQ, int SK, int SV, int SY>
__global__ void __launch_bounds__(128) k_ropekv_n(const float *q, const float *k, const float *v, const int32_t *pos,
                                                  const int32_t *slots, const float *cs, float *y, uint16_t *kv,
                                                  int layer, const float *qn, const float *kn)
{
    rope_kv_row<FMT_F16, FMT_F16, INTER, HQ, HKV, HD, SQ, SK, SV, SY, KL, KBS>(q, k, v, pos, slots, cs, y, (uint8_t *)kv,
                                                                               layer, nullptr, KvSeqs{nullptr, nullptr, 0},
                                                                               qn, kn, 1e-6f);
}
template <int HQ, int HKV, int HD>
static void check_kv_norm(const char *shape, int T)
{
    constexpr int S = (HQ + 2 * HKV) * HD, SY = HQ * HD + 4, NPOS = 2048;
    const size_t kvn = (size_t)KBLOCKS * KL * 2 * KBS * HKV * HD;
    std::vector<int32_t> slots(T), pos(T);
    for (int t = 0; t < T; t++) {
        slots[t] = (t * 37 + 5) % (KBLOCKS * KBS);
        pos[t] = (int)((urand() + 1.0) * 0.5 * NPOS) % NPOS;
    }
    const std::vector<float> qkv = rand_f32((size_t)T * S, 3.0), cs = rope_table(NPOS, HD), qn = rand_f32(HD, 0.5, 1.0),
                             kn = rand_f32(HD, 0.5, 1.0);
    const std::vector<uint16_t> kv0 = rand_kv(kvn);
    DBuf<float> dqkv(qkv.size()), dcs(cs.size()), dy((size_t)T * SY), dqn(HD), dkn(HD);
    DBuf<uint16_t> dkv(kvn);
    DBuf<int32_t> dslots(T), dpos(T);
    dqkv.up(qkv);
    dcs.up(cs);
    dkv.up(kv0);
    dslots.up(slots);
    dpos.up(pos);
    dqn.up(qn);
    dkn.up(kn);
    dy.poison();
    const float *q = dqkv.p, *k = dqkv.p + HQ * HD, *v = dqkv.p + (HQ + HKV) * HD;
    k_ropekv_n<0, HQ, HKV, HD, S, S, S, SY><<<dim3(T, HQ + HKV), HD / 2>>>(q, k, v, dpos.p, dslots.p, dcs.p, dy.p, dkv.p,
                                                                         KLAYER, dqn.p, dkn.p);
    launched();
    const std::vector<uint16_t> kv = dkv.down();
    const std::vector<float> y = dy.down();
    const double eps = (HD + 24) * U24;
    Check cq, ck;
    for (int t = 0; t < T; t++) {
        const float *cp = &cs[(size_t)pos[t] * HD], *row = &qkv[(size_t)t * S];
        const size_t k0 = kvi(HKV, HD, slots[t] / KBS, 0, slots[t] % KBS), v0 = kvi(HKV, HD, slots[t] / KBS, 1, slots[t] % KBS);
        for (int e = 0; e < HKV * HD; e++)
            ck.exact(kv[v0 + e], h_f16(row[(HQ + HKV) * HD + e]));
        for (int h = 0; h < HQ + HKV; h++) {
            const float *xh = row + h * HD, *w = h < HQ ? qn.data() : kn.data();
            double ss = 0;
            for (int d = 0; d < HD; d++)
                ss += (double)xh[d] * xh[d];
            const double inv = 1.0 / sqrt(ss / HD + 1e-6);
            for (int i = 0; i < HD / 2; i++) {
                const int i0 = i, i1 = i + HD / 2;
                double r0, r1, m;
                rope_ref(w[i0] * inv * xh[i0], w[i1] * inv * xh[i1], cp[2 * i], cp[2 * i + 1], r0, r1, m);
                if (h < HQ) {
                    cq.add(y[(size_t)t * SY + h * HD + i0], r0, m, eps, 1e-30);
                    cq.add(y[(size_t)t * SY + h * HD + i1], r1, m, eps, 1e-30);
                } else {
                    const size_t kh = k0 + (h - HQ) * HD;
                    ck.add(h_f16f(kv[kh + i0]), r0, fabs(r0) + m * eps / EPS_F16, EPS_F16, 1.0 / (1 << 25));
                    ck.add(h_f16f(kv[kh + i1]), r1, fabs(r1) + m * eps / EPS_F16, EPS_F16, 1.0 / (1 << 25));
                }
            }
        }
    }
    char what[200];
    snprintf(what, sizeof what, "rope_kv_row + q/k norms %d/%d heads of %d T=%d: q (%s)", HQ, HKV, HD, T, shape);
    cq.done(what, eps);
    snprintf(what, sizeof what, "rope_kv_row + q/k norms %d/%d heads of %d T=%d: f16 cache (%s)", HQ, HKV, HD, T, shape);
    ck.done(what, EPS_F16);
}

/* ---- the MoE block, launched as cuda_moe.c launches it: steps of up to 8 rows moe_route (with the
 * gather), the experts' gate/up (SwiGLU) and down matmuls on gemv, moe_combine; wider steps
 * moe_route without the gather, moe_gather, then gemv while T K <= 8 E, above that for bf16/f16
 * experts the matmuls on tensor cores (moe_expert_mma, the activations converted by rows_to_half
 * between them), else gemv. Against a host
 * reference of the routing (the same ids and weights, in slot order) and of the output in double over
 * the same (dequantized) weights, the activations rounded as the tensor-core path rounds them ---- */
constexpr int MOE_TMAX = 64; /* the most tokens a checked step has: the scratch holds 64 K pairs */
template <int E, int K, int NORM, int D, int GATHER>
__global__ void __launch_bounds__(1024) k_moe_route(const float *lg, const float *x, int T, int *meta, float *wts,
                                                    float *xg, const float *nw)
{
    moe_route<E, K, NORM, D, D, E, MOE_TMAX * K, GATHER>(lg, x, T, meta, wts, xg, nw, 1e-6f);
}
template <int HALF, int D, int E, int TKM>
__global__ void __launch_bounds__(256) k_moe_gather(const int *meta, const float *x, void *xg, const float *nw)
{
    moe_gather<HALF, D, D, E, TKM>(meta, x, xg, nw, 1e-6f);
}
template <int WK, int KK, int N, int VEC, int EPI, int G, int ORD, int E, long long EB>
__global__ void __launch_bounds__(128, WK >= 3 ? 3 : 4) k_moe_mm(const int *meta, const void *w, WQ wq, MoeSides ss,
                                                                 const float *x, float *y)
{
    moe_expert_mm<KF(WK), KK, N, VEC, EPI, G, ORD ? ORDER_LANE8 : ORDER_ROW_MAJOR, E, EB>(meta, w, wq, ss, x, y);
}
/* The one-token experts' matmul of 62eb944..640e2e7 (moe_expert_b1: gemv_b1 over moe_route's
 * gathered rows, the combine apart), no longer emitted: the baseline of the one-token TIME line and
 * of the bit-for-bit check of moe_up_b1 + moe_down_b1. */
template <int WK, int KK, int N, int EPI, int U, int G, int E, long long EB>
__global__ void __launch_bounds__(128) k_moe_b1_old(const int *meta, const void *w, WQ wq, MoeSides ss, const float *x,
                                                    float *y)
{
    const int *cnt = meta + 1, *off = cnt + E, *act = off + E + 1;
    if ((int)blockIdx.z >= meta[0])
        return;
    const int e = act[blockIdx.z], o = off[e];
    constexpr int NO = epi_glu(EPI) ? N / 2 : N;
    gemv_b1<KF(WK), KK, N, 0, EPI, 1, U, 0, 1, 1, 2, 1, 1, FMT_F16, G>(
        (const char *)w + e * EB, x + (int64_t)o * KK, (const float *)0, y + (int64_t)o * NO, (const float *)0, 0.0f,
        (const float *)0, RopeOut{}, moe_expert_sides(wq, ss, e));
}
/* The one-token block as cuda_moe.c moe_b1 launches it (both under PDL where pdl is set). */
template <int WK, int E, int K, int NORM, int D, int N, int U, int G, long long EB>
__global__ void __launch_bounds__(128) k_moe_up_b1(const float *lg, const float *x, const float *nw, const void *w,
                                                   WQ wq, MoeSides ss, float *h)
{
    moe_up_b1<KF(WK), E, K, NORM, D, N, U, G, EB>(lg, x, nw, 1e-6f, w, wq, ss, h);
}
template <int WK, int E, int K, int NORM, int F, int D, int U, int G, long long EB, int UB>
__global__ void __launch_bounds__(32 * K * UB) k_moe_down_b1(const float *lg, const void *w, WQ wq, MoeSides ss,
                                                             const float *h, float *y, const float *res)
{
    moe_down_b1<KF(WK), E, K, NORM, F, D, U, G, EB, UB>(lg, w, wq, ss, h, y, res);
}
/* A launch on stream st, with programmatic dependent launch (the runtime's LLMC_GPU_KERNEL_PDL
 * launches) when pdl is set. */
template <class... P, class... A>
static void launch_pdl(int pdl, void (*k)(P...), dim3 grid, int threads, size_t smem, cudaStream_t st, A... args)
{
    cudaLaunchConfig_t c = {};
    c.dynamicSmemBytes = smem;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    c.gridDim = grid;
    c.blockDim = dim3(threads);
    c.stream = st;
    c.attrs = at;
    c.numAttrs = pdl ? 1 : 0;
    CK(cudaLaunchKernelEx(&c, k, (P)args...));
}
constexpr int MOE_ST = 4; /* cuda_moe.c's stages on the H100/H200 (smem_per_sm >= 160 KB) */
constexpr int moe_mma_smem() { return MOE_ST * (64 + 128) * 40 * 2; }
template <int BF, int KK, int N, int EPI, int E>
__global__ void __launch_bounds__(128) k_moe_mma(const int *meta, const uint16_t *w, const uint16_t *xh, float *y)
{
    moe_expert_mma<BF, KK, N, EPI, 64, 128, MOE_ST, E>(meta, w, xh, y);
}
template <int BF, int F>
__global__ void __launch_bounds__(256) k_moe_half(const float *h, uint16_t *hh)
{
    rows_to_half<BF, 0, F, F>(h, nullptr, hh, 0.0f);
}
template <int E, int K, int D>
__global__ void __launch_bounds__(256) k_moe_combine(const int *meta, const float *wts, const float *o, float *y,
                                                     const float *res)
{
    moe_combine<E, K, D, D, MOE_TMAX * K, D>(meta, wts, o, y, res);
}

constexpr long long qbytes(int wk, long long n) { return wk == 0 ? 4 * n : wk <= 2 ? 2 * n : wk == 3 ? n : n / 2; }
/* a value rounded to the format of the tensor-core path's activations (WK 1 bf16, 2 f16) */
static double moe_round(int wk, double v)
{
    return wk == 1 ? h_bf16f(h_bf16((float)v)) : wk == 2 ? h_f16f(h_f16((float)v)) : v;
}

/* Steps of T <= 64 tokens. G: the group of quantized formats. FUSED: with the GPU fusions' inputs
 * (the rows RMS-normed by the gathers, the residual added by the combine). */
template <int WK, int E, int K, int NORM, int D, int F, int G = 128, int FUSED = 0>
static void check_moe(const char *shape, std::vector<int> steps, int timed_reps)
{
    constexpr int TKM = MOE_TMAX * K, GG = WK >= 3 ? G : D, GD = WK >= 3 ? G : F;
    constexpr int VU = mv_vec(WK, D, GG), VD = mv_vec(WK, F, GD);
    constexpr int TC = (WK == 1 || WK == 2) && D % 32 == 0 && F % 32 == 0; /* cuda_moe.c's tc_ok */
    constexpr long long EBU = qbytes(WK, 2LL * F * D), EBD = qbytes(WK, (long long)D * F);
    constexpr int SCB = WK == 3 ? 4 : WK == 6 ? 1 : 2; /* a scale's bytes: fp8 f32, nvfp4 E4M3, u4 f16 */
    constexpr long long SBU = WK >= 3 ? SCB * 2LL * F * ((D + GG - 1) / GG) : 0;
    constexpr long long SBD = WK >= 3 ? SCB * (long long)D * ((F + GD - 1) / GD) : 0;
    constexpr long long ZBU = WK == 5 ? 2 * 2LL * F * ((D + GG - 1) / GG) : 0, ZBD = WK == 5 ? 2LL * D * ((F + GD - 1) / GD) : 0;
    const QWts gu = make_any(WK, E * 2 * F, D, GG, 0.05), dn = make_any(WK, E * D, F, GD, 0.05);
    DW dgu(gu), ddn(dn);
    const std::vector<float> x = rand_f32((size_t)MOE_TMAX * D, FUSED ? 3.0 : 1.0), lg = rand_f32((size_t)MOE_TMAX * E, 2.0);
    const std::vector<float> nw = rand_f32(D, 0.5, 1.0), res = rand_f32((size_t)MOE_TMAX * D, 1.0);
    DBuf<float> dx(x.size()), dlg(lg.size()), dwts(TKM), dxg((size_t)TKM * D), dh((size_t)TKM * F), dout((size_t)TKM * D),
        dy((size_t)MOE_TMAX * D), dnw(D), dres(res.size());
    dnw.up(nw);
    dres.up(res);
    const float *pnw = FUSED ? dnw.p : nullptr, *pres = FUSED ? dres.p : nullptr;
    DBuf<uint16_t> dhh((size_t)TKM * F);
    DBuf<int> dmeta(1 + 3 * E + 1 + 3 * TKM);
    dx.up(x);
    dlg.up(lg);
    if constexpr (TC) {
        CK(cudaFuncSetAttribute(k_moe_mma<WK == 1, D, 2 * F, 2, E>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                moe_mma_smem()));
        CK(cudaFuncSetAttribute(k_moe_mma<WK == 1, F, D, 0, E>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                moe_mma_smem()));
    }
    constexpr int B1 = VU && VD && D <= 8192, UB = K < 4 ? (4 + K - 1) / K : 1; /* cuda_moe.c moe_b1 */
    cudaStream_t cst; /* the checked runs' stream (PDL launches: not the legacy default stream) */
    CK(cudaStreamCreate(&cst));
    for (int T : steps) {
        const int wide = T > 8, tc = wide && TC && T * K > 8 * E, gz = T * K < E ? T * K : E, b1 = B1 && T == 1;
        /* path 0: as cuda_moe.c launches the step (one token: moe_up_b1, moe_down_b1, under PDL where
         * pdl is set); at T = 1 also 1, the previous one-token path (moe_route, k_moe_b1_old twice,
         * moe_combine), and 2, the path of 2..8 rows (moe_route, gemv, moe_combine) */
        auto run = [&](cudaStream_t st, int path, int pdl) {
            if constexpr (B1) {
                if (b1 && path == 0) {
                    launch_pdl(pdl, k_moe_up_b1<WK, E, K, NORM, D, 2 * F, qbytes(WK, D) <= 4096 ? 1 : 2, GG, EBU>,
                               dim3((F + 3) / 4, 1, K), 128, 0, st, dlg.p, dx.p, pnw, dgu.w.p, dgu.wq(WK),
                               MoeSides{{SBU, ZBU, 0, 0}}, dh.p);
                    launch_pdl(pdl, k_moe_down_b1<WK, E, K, NORM, F, D, qbytes(WK, F) <= 4096 ? 1 : 2, GD, EBD, UB>,
                               dim3(((D + 1) / 2 + UB - 1) / UB), 32 * K * UB, 0, st, dlg.p, ddn.w.p, ddn.wq(WK),
                               MoeSides{{SBD, ZBD, 0, 0}}, dh.p, dy.p, pres);
                    return;
                }
            }
            if (!wide)
                k_moe_route<E, K, NORM, D, 1><<<1, 1024, 0, st>>>(dlg.p, dx.p, T, dmeta.p, dwts.p, dxg.p, pnw);
            else {
                k_moe_route<E, K, NORM, D, 0><<<1, 1024, 0, st>>>(dlg.p, dx.p, T, dmeta.p, dwts.p, dxg.p, pnw);
                if (tc)
                    k_moe_gather<TC ? WK : 0, D, E, TKM><<<T * K, 256, 0, st>>>(dmeta.p, dx.p, dxg.p, pnw);
                else
                    k_moe_gather<0, D, E, TKM><<<T * K, 256, 0, st>>>(dmeta.p, dx.p, dxg.p, pnw);
            }
            int taken = 0;
            if constexpr (TC) {
                if (tc) {
                    taken = 1;
                    k_moe_mma<WK == 1, D, 2 * F, 2, E>
                        <<<dim3((T + 63) / 64, (2 * F + 127) / 128, gz), 128, moe_mma_smem(), st>>>(
                            dmeta.p, (const uint16_t *)dgu.w.p, (const uint16_t *)dxg.p, dh.p);
                    k_moe_half<WK == 1, F><<<T * K, 256, 0, st>>>(dh.p, dhh.p);
                    k_moe_mma<WK == 1, F, D, 0, E><<<dim3((T + 63) / 64, (D + 127) / 128, gz), 128, moe_mma_smem(), st>>>(
                        dmeta.p, (const uint16_t *)ddn.w.p, dhh.p, dout.p);
                }
            }
            if constexpr (VU && VD) { /* the previous one-token path */
                if (T == 1 && path == 1) {
                    taken = 1;
                    k_moe_b1_old<WK, D, 2 * F, 2, qbytes(WK, D) <= 4096 ? 1 : 2, GG, E, EBU>
                        <<<dim3((F + 3) / 4, 1, gz), 128, 0, st>>>(dmeta.p, dgu.w.p, dgu.wq(WK), MoeSides{{SBU, ZBU, 0, 0}},
                                                                 dxg.p, dh.p);
                    k_moe_b1_old<WK, F, D, 0, qbytes(WK, F) <= 4096 ? 1 : 2, GD, E, EBD>
                        <<<dim3(((D + 1) / 2 + 3) / 4, 1, gz), 128, 0, st>>>(dmeta.p, ddn.w.p, ddn.wq(WK),
                                                                           MoeSides{{SBD, ZBD, 0, 0}}, dh.p, dout.p);
                }
            }
            if (!taken) {
                k_moe_mm<WK, D, 2 * F, VU, 2, GG, q_lane8(WK, D, GG), E, EBU>
                    <<<dim3((F + 3) / 4, (T + 7) / 8, gz), 128, 0, st>>>(dmeta.p, dgu.w.p, dgu.wq(WK),
                                                                         MoeSides{{SBU, ZBU, 0, 0}}, dxg.p, dh.p);
                k_moe_mm<WK, F, D, VD, 0, GD, q_lane8(WK, F, GD), E, EBD>
                    <<<dim3(((D + 1) / 2 + 3) / 4, (T + 7) / 8, gz), 128, 0, st>>>(dmeta.p, ddn.w.p, ddn.wq(WK),
                                                                                 MoeSides{{SBD, ZBD, 0, 0}}, dh.p, dout.p);
            }
            k_moe_combine<E, K, D><<<dim3(T, (D + 255) / 256), 256, 0, st>>>(dmeta.p, dwts.p, dout.p, dy.p, pres);
        };
        std::vector<float> yold, ygemv; /* one token: the previous path's output and the gemv path's */
        if (b1) {
            dy.poison();
            run(cst, 1, 0);
            launched();
            yold = dy.down();
            dy.poison();
            run(cst, 2, 0);
            launched();
            ygemv = dy.down();
            dwts.poison(); /* moe_up_b1 and moe_down_b1 write no routing: what is read back is moe_route's */
            CK(cudaMemset(dmeta.p, 0xff, dmeta.n * sizeof(int)));
            k_moe_route<E, K, NORM, D, 1><<<1, 1024, 0, cst>>>(dlg.p, dx.p, T, dmeta.p, dwts.p, dxg.p, pnw);
        }
        dy.poison();
        run(cst, 0, 1);
        launched();
        const std::vector<float> y = dy.down(), wts = dwts.down();
        const std::vector<int> meta = dmeta.down();
        const int *ids = meta.data() + 2 + 3 * E;
        Check cr, cy;
        double num = 0, den = 0;
        for (int t = 0; t < T; t++) {
            /* routing: softmax, top K by probability (ties to the lower expert), renormalized */
            double w[64];
            int id[64];
            llmc_moe_route(&lg[(size_t)t * E], E, K, NORM, id, w);
            for (int k = 0; k < K; k++) {
                cr.exact((uint32_t)ids[t * K + k], (uint32_t)id[k]);
                cr.add(wts[t * K + k], w[k], w[k], 16 * U24, 1e-30);
            }
            /* the output (the tensor-core path's rows and activations rounded to its half format) */
            const int rw = tc ? WK : 0;
            std::vector<double> xr(D), h(F), acc(D, 0.0);
            double inv = 1.0;
            if (FUSED) { /* the norm before the block, as the gathers apply it */
                double ss = 0;
                for (int c = 0; c < D; c++)
                    ss += (double)x[(size_t)t * D + c] * x[(size_t)t * D + c];
                inv = 1.0 / sqrt(ss / D + 1e-6);
            }
            for (int c = 0; c < D; c++)
                xr[c] = moe_round(rw, FUSED ? nw[c] * (x[(size_t)t * D + c] * inv) : x[(size_t)t * D + c]);
            for (int k = 0; k < K; k++) {
                const float *g0 = &gu.w.f[(size_t)id[k] * 2 * F * D], *u0 = g0 + (size_t)F * D;
                for (int f = 0; f < F; f++) {
                    double gs = 0, us = 0;
                    for (int c = 0; c < D; c++) {
                        gs += xr[c] * g0[(size_t)f * D + c];
                        us += xr[c] * u0[(size_t)f * D + c];
                    }
                    h[f] = moe_round(rw, silud(gs) * us);
                }
                const float *d0 = &dn.w.f[(size_t)id[k] * D * F];
                for (int c = 0; c < D; c++) {
                    double sdn = 0;
                    for (int f = 0; f < F; f++)
                        sdn += h[f] * d0[(size_t)c * F + f];
                    acc[c] += w[k] * sdn;
                }
            }
            for (int c = 0; c < D; c++) {
                /* the residual taken off again: the error measured against the block's own output */
                const double got = y[(size_t)t * D + c] - (FUSED ? (double)res[(size_t)t * D + c] : 0.0);
                if (got != got)
                    cy.nan++;
                num += (got - acc[c]) * (got - acc[c]);
                den += acc[c] * acc[c];
            }
        }
        for (int t = T; t < MOE_TMAX; t++)
            for (int c = 0; c < D; c++)
                cy.untouched(fbits(y[(size_t)t * D + c]), 0xffffffffu);
        char what[200];
        snprintf(what, sizeof what, "moe routing E=%d K=%d%s T=%d (%s)", E, K, NORM ? " norm" : "", T, shape);
        cr.done(what, 16 * U24);
        /* gemv: f32 sums of the format's exact values (1e-5; quantized 2e-5); tensor cores: f32 sums
         * of products of half values, an element of h rounded to the other neighbour now and then
         * (one bf16 ulp, 2^-8, where the f32 sum and the double one straddle a rounding point: more
         * often the longer the sums; mixtral-8x7b / 4, D 1024, measured 1.33e-4 on an H200, the
         * small shapes 6-9e-5), so 3e-4 */
        const double tol = tc ? 3e-4 : WK >= 3 ? 2e-5 : 1e-5;
        snprintf(what, sizeof what, "moe %s D=%d F=%d E=%d K=%d T=%d%s%s%s%s (%s)", wkname(WK), D, F, E, K, T,
                 tc ? " tensor cores" : b1 ? " one-token kernels" : " gemv", VU ? "" : " scalar", FUSED ? " +norm +residual" : "",
                 cy.stray || cy.nan ? " (unwritten or stray rows)" : "", shape);
        verdict(what, sqrt(num / den), tol, cy.nan + cy.stray);
        if (b1) { /* the one-token kernels sum as the paths they replace: moe_route's gather and routing,
                     gemv_b1's sums, moe_combine's */
            Check cb;
            int same = 0;
            double mr = 0;
            for (int c = 0; c < D; c++) {
                cb.exact(fbits(y[c]), fbits(yold[c]));
                same += fbits(y[c]) == fbits(ygemv[c]);
                const double r = fabs((double)y[c] - ygemv[c]) / (fabs((double)ygemv[c]) > 1e-30 ? fabs((double)ygemv[c]) : 1e-30);
                mr = r > mr ? r : mr;
            }
            snprintf(what, sizeof what, "moe %s one-token kernels = the previous path, bit for bit (%s)", wkname(WK), shape);
            cb.done(what, 0);
            printf("INFO moe %s one token (%s): against the path of 2..8 rows (gemv) %d of %d values the same bits, "
                   "largest rel. difference %.2e\n", wkname(WK), shape, same, D, mr);
        }
        if (timed_reps > 0) {
            /* the bytes a step must read: each used expert's rows once */
            std::vector<int> used(E, 0);
            for (int j = 0; j < T * K; j++)
                used[ids[j]] = 1;
            long long ne = 0;
            for (int e = 0; e < E; e++)
                ne += used[e];
            const double bytes = (double)ne * (EBU + EBD + SBU + SBD + ZBU + ZBD);
            cudaStream_t st;
            CK(cudaStreamCreate(&st));
            const double us = graph_us(st, [&]() { run(st, 0, 1); }, timed_reps);
            printf("TIME %-58s %8.1f us %7.1f GB/s (%lld experts' bytes)\n", what, us, bytes / (us * 1e-6) / 1e9, ne);
            if (b1) { /* the whole block at one token, old against new */
                const double uo = graph_us(st, [&]() { run(st, 1, 0); }, timed_reps);
                const double un = graph_us(st, [&]() { run(st, 0, 0); }, timed_reps);
                printf("TIME moe %s one token (%s): old (moe_route, moe_expert_b1 x2, moe_combine) %.1f us %.1f GB/s; "
                       "new (moe_up_b1, moe_down_b1) %.1f us %.1f GB/s under PDL, %.1f us without\n",
                       wkname(WK), shape, uo, bytes / (uo * 1e-6) / 1e9, us, bytes / (us * 1e-6) / 1e9, un);
            }
            CK(cudaStreamDestroy(st));
        }
    }
    CK(cudaStreamDestroy(cst));
}

/* The MoE block's checks (`kernel_check moe` runs these alone). */
static void moe_checks()
{
    /* steps of up to 8 rows on gemv with the gather in moe_route; wider ones gathered apart, on gemv
     * up to T K = 8 E, on tensor cores above (bf16/f16; the others keep gemv) */
    check_moe<1, 8, 2, 1, 512, 256>("mixtral-like, small", {1, 2, 7, 9, 32, 33, 64}, 0);
    check_moe<1, 16, 4, 1, 256, 128>("many experts a token", {1, 5, 9, 33, 64}, 0);
    check_moe<2, 8, 2, 0, 256, 192>("qwen3-moe, no renormalization", {1, 9, 40}, 0);
    check_moe<2, 4, 2, 1, 256, 96>("F not whole 128-row tiles", {3, 21, 64}, 0);
    check_moe<4, 16, 4, 1, 512, 256>("u4 lane8", {1, 6, 40}, 0);
    check_moe<5, 8, 2, 1, 512, 256, 32>("u4 zero g32", {1, 3, 17}, 0);
    check_moe<3, 8, 2, 1, 256, 128, 256>("fp8 a scale a row", {1, 4, 12}, 0);
    check_moe<0, 8, 2, 1, 260, 100>("f32, K % 8 != 0 (scalar)", {1, 3, 20}, 0);
    check_moe<6, 16, 4, 1, 512, 256, 16>("nvfp4 lane8", {1, 5, 40}, 0);
    /* the one-token kernels' shapes: top 1 (4 units a block of moe_down_b1), top 3 (2 units, 6
     * warps), experts not a whole number of warps */
    check_moe<1, 4, 1, 0, 256, 128>("top 1", {1, 3}, 0);
    check_moe<2, 8, 3, 1, 320, 64>("top 3", {1, 2}, 0);
    check_moe<1, 60, 6, 1, 256, 128, 128, 1>("60 experts, top 6, fused", {1, 5}, 0);
    check_moe<4, 40, 8, 1, 512, 256, 128, 1>("u4 lane8 40 experts, fused", {1}, 0);
    /* the fusions' inputs: the norm before the block in its gathers, the residual add in its combine */
    check_moe<1, 8, 2, 1, 512, 256, 128, 1>("mixtral-like, fused", {1, 7, 9, 33, 64}, 0);
    check_moe<4, 16, 4, 1, 512, 256, 128, 1>("u4 lane8, fused", {1, 40}, 0);
    /* qwen3-30b-a3b's layer (128 experts of 768, top 8, hidden 2048): decode steps of 1 and 16 and a
     * 64-token step, timed (T K = 512: gemv) */
    check_moe<1, 128, 8, 1, 2048, 768>("qwen3-30b-a3b", {1, 16, 64}, 50);
    check_moe<1, 128, 8, 1, 2048, 768, 128, 1>("qwen3-30b-a3b, fused", {1, 8, 16}, 50); /* rows of 2048 normed in the gathers */
    /* mixtral-8x7b's shapes at 1/4 (8 experts of 3584, top 2, hidden 1024): 64 tokens on tensor cores */
    check_moe<1, 8, 2, 1, 1024, 3584>("mixtral-8x7b / 4", {1, 16, 64}, 20);
    check_moe<4, 128, 8, 1, 2048, 768>("qwen3-30b-a3b w4a16", {1, 16}, 50);
    check_moe<3, 128, 8, 1, 2048, 768, 2048, 1>("qwen3-30b-a3b fp8, fused", {1, 4}, 50); /* a scale a row */
    check_moe<6, 128, 8, 1, 2048, 768, 16, 1>("qwen3-30b-a3b nvfp4, fused", {1, 4}, 50);
    check_moe<1, 8, 2, 1, 1024, 3584, 128, 1>("mixtral-8x7b / 4, fused", {1}, 20);
}

static void check_families(void)
{
    check_head_norm<16, 128>("qwen3-8b q", 9);
    check_head_norm<8, 128, 6144, 4096>("qwen3-8b k in qkv", 5);
    check_head_norm<4, 16, 128, 64>("tiny, heads of 16", 70);
    check_head_norm<8, 256>("gemma-2-9b q", 3);
    check_post_norm<3584>("gemma-2-9b post-norms", 5);
    check_post_norm<64>("tiny", 33);
    check_unary<0, 14336>("gemma-2-9b ffn gate", 3, 0.0f);
    check_unary<1, 3584>("gemma-2-9b embedding x sqrt(3584)", 13, 59.86651611328125f);
    check_unary<2, 256000, 256000, 256000>("gemma-2-9b logits, cap 30", 2, 30.0f);
    check_unary<2, 1000, 1004, 1000>("strided, cap 3", 9, 3.0f);
    check_elt<4, 14336>("gemma-2-9b ffn geglu", 2);
    check_elt<4, 172, 344, 344, 172>("gate/up halves", 7);
    check_kv_norm<32, 8, 128>("qwen3-8b", 9);
    check_kv_norm<8, 4, 256>("gemma-3 heads of 256", 3);
    check_kv_norm<4, 2, 16>("tiny heads of 16", 20);
    moe_checks();
}

/* The last line (the failures counted) and the exit status: 1 if any check failed. */
/* ---- gemm_q (batched decode, 9-64 rows; cuda_qmma.cuh) as cuda_matmul.c launches it ----
 * The rows converted by rows_to_half in the format's order (natural, or pair-32 for the 4-bit
 * formats), then the matmul over the emitter's blocks (stream-K: SMS x the blocks an SM of its
 * __launch_bounds__, but at least 4 units a block for the 4-bit formats, 8 for the others;
 * llmc_cuda_qmma_plan) or over given block counts that share tiles among 2..many blocks, each launch
 * twice (the split counters must be back at 0) into poisoned outputs. QmPlans mirrors the plan for
 * sm_90a (2 n8 tiles a warp, 3 stages, 2 at 64 rows). Random weights in every format (quantized ones
 * lane8, random scales and zeros), random activations never 0, ragged K and N (whole chunks and
 * tiles, not powers of two), every epilogue (bias, residual, SwiGLU, GeGLU). Checked against the
 * plain-C reference (double sums of the activations as rounded to f16/bf16 times the weights as the
 * kernel decodes them: u4 (q - z) s rounded to f16, its one rounding; fp8 decode(q) with the row
 * scale on the sum; nvfp4 e2m1(q) s, exact, with the tensor scale on the sum; bf16/f16 as stored)
 * within (K/4 + 64) 2^-24 of the sum of the terms' magnitudes, rows past T untouched. `kernel_check
 * qmma`: these checks, then each 8B matrix at 16, 32 and 64 rows, GB/s and % of the copy bandwidth
 * of the same run. */
template <int WK, int K, int N, int G, int MI, int NJ, int ST, int EPI, int PER>
__global__ void __launch_bounds__(128, PER) k_qmma(const uint8_t *w, WQ wq, const uint16_t *xh, const float *b,
                                                   float *y, int T, const float *res, float *part, int *cnt)
{
    constexpr int SY = (EPI == 2 || EPI == 4) ? N / 2 : N;
    gemm_q<KF(WK), K, N, G, MI, NJ, 4, ST, EPI, SY, N>(w, wq, xh, b, y, T, res, part, cnt);
}
template <int BF, int D, int ORD>
__global__ void __launch_bounds__(256) k_half_ord(const float *x, uint16_t *y)
{
    rows_to_half<BF, 0, D, D, ORD>(x, (const float *)0, y, 0.0f);
}
/* One launch configuration: NJ n8 tiles a warp, ST stages, PER blocks an SM. */
template <int WK, int K, int N, int G, int MI, int NJ, int ST, int EPI, int PER>
struct QmCfg {
    static constexpr int TPB = 4 * NJ * 8, KC = QmFmt<KF(WK)>::KC, U = N / TPB * (K / KC);
    static_assert(ST >= 2 && K % KC == 0 && N % TPB == 0, "QmCfg: the plan's shapes");
    static int smem() { return gemm_q_smem<KF(WK), MI, ST>(); }
    static int blocks(int sms) /* llmc_cuda_qmma_plan's stream-K */
    {
        const int minu = WK >= 4 ? 4 : 8, p = sms * PER;
        return U / minu < p ? (U / minu > 0 ? U / minu : 1) : p;
    }
    static void launch(const DW &d, const uint16_t *xh, const float *b, float *y, int T, const float *res, float *part,
                       int *cnt, int P, cudaStream_t s = 0)
    {
        static int set = 0;
        if (!set) {
            CK(cudaFuncSetAttribute(k_qmma<WK, K, N, G, MI, NJ, ST, EPI, PER>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, smem()));
            set = 1;
        }
        k_qmma<WK, K, N, G, MI, NJ, ST, EPI, PER><<<dim3((T + 16 * MI - 1) / (16 * MI), P), 128, smem(), s>>>(
            d.w.p, d.wq(WK), xh, b, y, T, res, part, cnt);
    }
};
/* the emitter's gemm_q for a matrix (E) */
template <int WK, int K, int N, int G, int MI, int EPI>
struct QmPlans {
    static constexpr int STE = MI >= 4 ? 2 : 3, PERE = MI > 1 ? 2 : (WK == 5 || (WK >= 4 && G < 128)) ? 3 : 4;
    using E = QmCfg<WK, K, N, G, MI, 2, STE, EPI, PERE>;
};

template <int WK, int K, int N, int G, int MI, int EPI, int BIAS>
static void check_qmma(const char *shape, std::vector<int> rows, std::vector<int> ps, int sms)
{
    using Pl = QmPlans<WK, K, N, G, MI, EPI>;
    constexpr int BF = QmFmt<KF(WK)>::BF, AORD = QmFmt<KF(WK)>::AORD, NO = (EPI == 2 || EPI == 4) ? N / 2 : N;
    constexpr int TM = 160;
    const QWts q = make_any(WK, N, K, G, 0.05);
    DW dw(q);
    std::vector<double> wv, rs; /* the weights as the kernels multiply them; fp8's row scales and nvfp4's tensor scale apart */
    qmma_weights(WK, N, K, q, wv, rs);
    const std::vector<float> x = rand_f32((size_t)TM * K, 1.0), bias = rand_f32(N, 0.5), res = rand_f32((size_t)TM * N, 1.0);
    int pmax = 4 * sms;
    for (int p : ps)
        pmax = p > pmax ? p : pmax;
    DBuf<float> dx(x.size()), db(N), dres(res.size()), dy((size_t)TM * NO), dys((size_t)TM * NO),
        dpart((size_t)(TM / 16 + 1) * pmax * 2 * 16 * MI * 128);
    DBuf<uint16_t> dh((size_t)TM * K);
    DBuf<int> dcnt(65536);
    dx.up(x);
    db.up(bias);
    dres.up(res);
    CK(cudaMemset(dcnt.p, 0, 65536 * sizeof(int)));
    auto dot = [&](int m, int n, double &mag) {
        double s = 0.0;
        mag = 0.0;
        for (int k = 0; k < K; k++) {
            const double a = BF ? h_bf16f(h_bf16(x[(size_t)m * K + k])) : h_f16f(h_f16(x[(size_t)m * K + k]));
            s += a * wv[(size_t)n * K + k];
            mag += fabs(a * wv[(size_t)n * K + k]);
        }
        mag *= rs[n];
        return s * rs[n];
    };
    for (size_t ri = 0; ri < rows.size(); ri++) {
        const int T = rows[ri], pgiven = ps[ri % ps.size()];
        k_half_ord<BF, K, AORD><<<T, 256>>>(dx.p, dh.p);
        launched();
        std::vector<float> ref((size_t)T * NO), mag((size_t)T * NO);
        for (int m = 0; m < T; m++)
            for (int o = 0; o < NO; o++) {
                double mg, mu = 0.0;
                const double g = dot(m, o, mg) + (BIAS ? bias[o] : 0.0);
                if (EPI == 2 || EPI == 4) {
                    const double u = dot(m, o + N / 2, mu) + (BIAS ? bias[o + N / 2] : 0.0), a = glud(EPI, g);
                    ref[(size_t)m * NO + o] = (float)(a * u);
                    mag[(size_t)m * NO + o] = (float)(1.2 * fabs(u) * mg + fabs(a) * mu + fabs(a * u) * 1e-6);
                } else {
                    const double v = g + (EPI == 1 ? res[(size_t)m * N + o] : 0.0);
                    ref[(size_t)m * NO + o] = (float)v;
                    mag[(size_t)m * NO + o] = (float)(mg + fabs(v) * 1e-6);
                }
            }
        const double eps = (K / 4.0 + 64.0) * U24;
        const int P = pgiven ? pgiven : Pl::E::blocks(sms);
        for (int rep = 0; rep < 2; rep++) {
            dy.poison();
            Pl::E::launch(dw, dh.p, BIAS ? db.p : nullptr, dy.p, T, EPI == 1 ? dres.p : nullptr, dpart.p, dcnt.p, P);
            launched();
        }
        const std::vector<float> y = dy.down();
        const std::vector<int> cnt = dcnt.down();
        Check c;
        int dirty = 0;
        for (int cv : cnt)
            dirty += cv != 0;
        for (int m = 0; m < TM; m++)
            for (int o = 0; o < NO; o++) {
                const float got = y[(size_t)m * NO + o];
                if (m >= T)
                    c.untouched(fbits(got), 0xffffffffu);
                else
                    c.add(got, ref[(size_t)m * NO + o], mag[(size_t)m * NO + o], eps, 1e-30);
            }
        if (dirty)
            c.bad++;
        char what[200];
        snprintf(what, sizeof what, "gemm_q %s %dx%d%s%s%s T=%d (NJ2 ST%d P%d; %s)%s", wkname(WK), N, K,
                 EPI == 1 ? " residual" : "", EPI == 2 ? " swiglu" : EPI == 4 ? " geglu" : "", BIAS ? " bias" : "", T,
                 Pl::STE, P, shape, dirty ? " COUNTERS LEFT" : "");
        c.done(what, eps);
    }
}

static void qmma_checks(int sms)
{
    check_qmma<1, 1152, 192, 1152, 1, 0, 1>("ragged", {9, 16, 40}, {0, 5, 0}, sms);
    check_qmma<2, 1152, 320, 1152, 2, 1, 0>("ragged", {17, 32}, {0, 7}, sms);
    check_qmma<1, 1152, 384, 1152, 4, 4, 1>("ragged", {64, 33}, {0, 4}, sms);
    check_qmma<3, 1152, 384, 1152, 1, 2, 1>("ragged", {12, 16}, {0, 4}, sms);
    check_qmma<3, 1152, 256, 1152, 4, 1, 0>("ragged", {50, 64}, {0, 3}, sms);
    check_qmma<4, 1280, 640, 128, 1, 0, 1>("ragged", {9, 16, 40}, {0, 3, 11}, sms);
    check_qmma<4, 1280, 384, 128, 2, 4, 1>("ragged", {20, 32}, {0, 6}, sms);
    check_qmma<5, 768, 384, 32, 1, 1, 1>("ragged, zero points g32", {16, 13}, {0, 5}, sms);
    check_qmma<5, 1280, 768, 64, 4, 2, 0>("ragged, zero points g64", {64, 40}, {0, 9}, sms);
    check_qmma<5, 1280, 384, 32, 2, 2, 1>("ragged, zero points g32", {32, 18}, {0, 5}, sms);
    check_qmma<6, 1280, 384, 16, 1, 2, 1>("ragged", {16, 10}, {0, 7}, sms);
    check_qmma<6, 768, 640, 16, 2, 1, 1>("ragged", {32, 24}, {0, 5}, sms);
    check_qmma<6, 1280, 384, 16, 4, 4, 0>("ragged", {64, 41}, {0, 6}, sms);
    check_qmma<4, 4096, 4096, 128, 1, 1, 0>("8B o", {16}, {0}, sms);
}

/* Rotating device copies of a weight for the timings (more bytes than L2; the values do not matter):
 * next() the next copy; bytes the weight's with its scales. */
struct RotW {
    std::vector<DW *> d;
    double bytes;
    int it = 0;
    explicit RotW(const QWts &q) : bytes((double)q.w.raw.size() + q.sc.size() + q.zr.size() + q.ts.size())
    {
        const int n = (int)(400e6 / bytes) + 2 > 16 ? 16 : (int)(400e6 / bytes) + 2;
        for (int i = 0; i < n; i++)
            d.push_back(new DW(q));
    }
    const DW &next() { return *d[it++ % d.size()]; }
    ~RotW()
    {
        for (auto *p : d)
            delete p;
    }
};
template <int WK, int K, int N, int G, int EPI>
static void time_qmma(const char *what, int sms, double tbs)
{
    constexpr int BF = QmFmt<KF(WK)>::BF, AORD = QmFmt<KF(WK)>::AORD, NO = (EPI == 2 || EPI == 4) ? N / 2 : N;
    RotW rot(make_any(WK, N, K, G, 0.05));
    const double bytes = rot.bytes;
    const std::vector<float> x = rand_f32((size_t)64 * K, 1.0);
    DBuf<float> dx(x.size()), dy((size_t)64 * NO), dres((size_t)64 * NO), dpart((size_t)4 * sms * 2 * 16 * 4 * 128);
    DBuf<uint16_t> dh((size_t)64 * K);
    DBuf<int> dcnt(65536);
    dx.up(x);
    dres.up(rand_f32((size_t)64 * NO, 1.0)); /* EPI 1's residual (a null one faulted: the o timings never ran) */
    CK(cudaMemset(dcnt.p, 0, 65536 * sizeof(int)));
    k_half_ord<BF, K, AORD><<<64, 256>>>(dx.p, dh.p);
    launched();
    auto run = [&](auto cfg, int T) {
        using C = decltype(cfg);
        const int P = C::blocks(sms);
        const double us = time_us(
            [&]() { C::launch(rot.next(), dh.p, nullptr, dy.p, T, EPI == 1 ? dres.p : nullptr, dpart.p, dcnt.p, P); },
            50);
        launched();
        return us;
    };
    auto line = [&](int T, int st, double us) {
        printf("TIME qmma %-24s %-5s T=%-2d gemm_q (NJ2 ST%d) %7.1f us %5.0f GB/s %3.0f%% of copy\n", what, wkname(WK),
               T, st, us, bytes / us * 1e-3, bytes / us * 1e-6 / tbs * 100);
    };
    line(16, QmPlans<WK, K, N, G, 1, EPI>::STE, run(typename QmPlans<WK, K, N, G, 1, EPI>::E{}, 16));
    line(32, QmPlans<WK, K, N, G, 2, EPI>::STE, run(typename QmPlans<WK, K, N, G, 2, EPI>::E{}, 32));
    line(64, QmPlans<WK, K, N, G, 4, EPI>::STE, run(typename QmPlans<WK, K, N, G, 4, EPI>::E{}, 64));
}
static void qmma_timings(int sms)
{
    const double tbs = copy_tbs();
    printf("TIME qmma copy bandwidth %.2f TB/s\n", tbs);
    /* 8B: qkv 6144x4096, o 4096x4096, gate/up 28672x4096 (SwiGLU), down 4096x14336 */
    time_qmma<4, 4096, 6144, 128, 0>("8B qkv", sms, tbs);
    time_qmma<4, 4096, 4096, 128, 1>("8B o", sms, tbs);
    time_qmma<4, 4096, 28672, 128, 2>("8B gate/up", sms, tbs);
    time_qmma<4, 14336, 4096, 128, 1>("8B down", sms, tbs);
    time_qmma<1, 4096, 6144, 4096, 0>("8B qkv", sms, tbs);
    time_qmma<1, 4096, 4096, 4096, 1>("8B o", sms, tbs);
    time_qmma<1, 4096, 28672, 4096, 2>("8B gate/up", sms, tbs);
    time_qmma<1, 14336, 4096, 14336, 1>("8B down", sms, tbs);
    time_qmma<3, 4096, 28672, 4096, 2>("8B gate/up", sms, tbs);
    time_qmma<6, 4096, 28672, 16, 2>("8B gate/up", sms, tbs);
}

/* ---- gemm_wq (--qmma wg, sm_90a: the weights the wgmma A operand, decoded in registers;
 * cuda_wgmma_q.cuh) as cuda_matmul.c launches it ----
 * The rows converted by rows_to_half in gemm_wq's order (QmFmt::WORD; checked first element by
 * element against the host's own reading of the order: position 16 s + j of a chunk holds what
 * logical k j of step s multiplies), then gemm_wq over token tiles of NT, 64 weight rows a block, K
 * split in SPLIT (then gemm_reduce), into poisoned outputs. WqCfg mirrors llmc_cuda_wq_plan: NT 16,
 * 32, 64 by the rows, 128 above (tiles of 128); 4 stages (3 at NT 128). Random weights in every
 * quantized format (lane8, random scales and zeros), random activations never 0, ragged rows, K and
 * N (whole chunks, N a multiple of 64), every epilogue (bias, residual, SwiGLU, GeGLU; split or not),
 * against the same plain-C reference as gemm_q's (qmma_weights: the weights as decoded, double sums)
 * within (K/4 + 64) 2^-24 of the sum of the terms' magnitudes; rows past T untouched. `kernel_check
 * wq`: these checks, then the 8B's four matrices at 16, 64 and 512 rows in u4, gemm_wq against
 * gemm_q (16, 64) and dequant_half + rows_to_half + gemm_wg (512) as the default build runs them. */
static int host_wq_elt(int ord, int p) /* rows_wq_elt, read from the header comment independently */
{
    const int c = p / (ord == 2 ? 128 : 256), in = p % (ord == 2 ? 128 : 256), s = in / 16, j = in % 16;
    const int t = (j % 8) / 2;
    if (ord == 2) {
        const int r = s / 4, w = s % 4;
        return c * 128 + 32 * w + 16 * r + 4 * t + (j & 1) + 2 * (j >> 3);
    }
    const int r = s / 8, w = (s % 8) / 2, u = s % 2;
    return c * 256 + 64 * w + 32 * (j & 1) + 16 * r + 4 * t + 2 * u + (j >> 3);
}
template <int ORD, int D>
static void check_wq_order(int T)
{
    const std::vector<float> x = rand_f32((size_t)T * D, 2.0);
    DBuf<float> dx(x.size());
    DBuf<uint16_t> dy((size_t)T * D);
    dx.up(x);
    dy.poison();
    k_half_ord<0, D, ORD><<<T, 256>>>(dx.p, dy.p);
    launched();
    const std::vector<uint16_t> y = dy.down();
    Check c;
    std::vector<int> seen(D);
    for (int t = 0; t < T; t++)
        for (int p = 0; p < D; p++) {
            const int e = host_wq_elt(ORD, p);
            seen[e]++;
            c.exact(y[(size_t)t * D + p], h_f16(x[(size_t)t * D + e]));
        }
    for (int e = 0; e < D; e++) /* a permutation: every element once a row */
        if (seen[e] != T)
            c.bad++;
    char what[120];
    snprintf(what, sizeof what, "rows_to_half -> f16 in gemm_wq's %s order D=%d T=%d", ORD == 2 ? "fp8" : "4-bit", D, T);
    c.done(what, 0.0);
}

template <int WK, int K, int N, int G, int NT, int ST, int EPI, int SPLIT, int PER, int PD>
__global__ void __launch_bounds__(128, PER) k_wq(const uint8_t *w, WQ wq, const uint16_t *xh, const float *b, float *y,
                                                 int T, const float *res)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int SY = (EPI == 2 || EPI == 4) ? N / 2 : N;
    gemm_wq<KF(WK), K, N, G, NT, ST, EPI, SPLIT, SY, EPI == 1 ? N : 0, PD>(w, wq, xh, b, y, T, res);
#endif
}
/* One launch configuration of gemm_wq (the plan's: ST 4, 3 at NT 128; 3 blocks an SM at NT <= 32, 2 above
 * and for u4 with zero points or groups under 128; 2 chunks of weights in flight at NT <= 32 but nvfp4, 1
 * above) */
template <int WK, int K, int N, int G, int NT, int EPI, int SPLIT>
struct WqCfg {
    static constexpr int ST = NT >= 128 ? 3 : 4, PER = NT <= 32 && WK != 5 && !(WK == 4 && G < 128) ? 3 : 2,
                         PD = NT <= 32 && WK != 6 ? 2 : 1;
    static int smem() { return gemm_wq_smem<KF(WK), NT, ST>(); }
    static void launch(const DW &d, const uint16_t *xh, const float *b, float *y, float *part, int T, const float *res,
                       cudaStream_t s = 0)
    {
        static int set = 0;
        if (!set) {
            CK(cudaFuncSetAttribute(k_wq<WK, K, N, G, NT, ST, EPI, SPLIT, PER, PD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    smem()));
            set = 1;
        }
        const dim3 grid((T + NT - 1) / NT, N / 64, SPLIT);
        k_wq<WK, K, N, G, NT, ST, EPI, SPLIT, PER, PD><<<grid, 128, smem(), s>>>(d.w.p, d.wq(WK), xh, SPLIT > 1 ? nullptr : b,
                                                                           SPLIT > 1 ? part : y, T, SPLIT > 1 ? nullptr : res);
        if (SPLIT > 1)
            k_reduce<N, SPLIT, EPI><<<(T * ((EPI == 2 || EPI == 4) ? N / 2 : N) + 255) / 256, 256, 0, s>>>(part, b, res, y, T);
    }
};

template <int WK, int K, int N, int G, int NT, int EPI, int BIAS, int SPLIT>
static void check_wq(const char *shape, std::vector<int> rows)
{
    using C = WqCfg<WK, K, N, G, NT, EPI, SPLIT>;
    constexpr int AORD = QmFmt<KF(WK)>::WORD, NO = (EPI == 2 || EPI == 4) ? N / 2 : N;
    int TM = 0;
    for (int T : rows)
        TM = T + 16 > TM ? T + 16 : TM;
    const QWts q = make_any(WK, N, K, G, 0.05);
    DW dw(q);
    std::vector<double> wv, rs;
    qmma_weights(WK, N, K, q, wv, rs);
    const std::vector<float> x = rand_f32((size_t)TM * K, 1.0), bias = rand_f32(N, 0.5), res = rand_f32((size_t)TM * N, 1.0);
    DBuf<float> dx(x.size()), db(N), dres(res.size()), dy((size_t)TM * NO), dpart((size_t)SPLIT * TM * N);
    DBuf<uint16_t> dh((size_t)TM * K);
    dx.up(x);
    db.up(bias);
    dres.up(res);
    auto dot = [&](int m, int n, double &mag) {
        double s = 0.0;
        mag = 0.0;
        for (int k = 0; k < K; k++) {
            const double a = h_f16f(h_f16(x[(size_t)m * K + k]));
            s += a * wv[(size_t)n * K + k];
            mag += fabs(a * wv[(size_t)n * K + k]);
        }
        mag *= rs[n];
        return s * rs[n];
    };
    for (int T : rows) {
        k_half_ord<0, K, AORD><<<T, 256>>>(dx.p, dh.p);
        launched();
        dy.poison();
        C::launch(dw, dh.p, BIAS ? db.p : nullptr, dy.p, dpart.p, T, EPI == 1 ? dres.p : nullptr);
        launched();
        const std::vector<float> y = dy.down();
        Check c;
        const double eps = (K / 4.0 + 64.0) * U24 + SPLIT * U24;
        for (int m = 0; m < TM; m++)
            for (int o = 0; o < NO; o++) {
                const float got = y[(size_t)m * NO + o];
                if (m >= T) {
                    c.untouched(fbits(got), 0xffffffffu);
                    continue;
                }
                double mg, mu = 0.0;
                const double gs = dot(m, o, mg) + (BIAS ? bias[o] : 0.0);
                if (EPI == 2 || EPI == 4) {
                    const double u = dot(m, o + N / 2, mu) + (BIAS ? bias[o + N / 2] : 0.0), a = glud(EPI, gs);
                    c.add(got, a * u, 1.2 * fabs(u) * mg + fabs(a) * mu + fabs(a * u) * 1e-6, eps, 1e-30);
                } else {
                    const double v = gs + (EPI == 1 ? res[(size_t)m * N + o] : 0.0);
                    c.add(got, v, mg + fabs(v) * 1e-6, eps, 1e-30);
                }
            }
        char what[200];
        snprintf(what, sizeof what, "gemm_wq %s %dx%d g%d%s%s%s T=%d (NT%d ST%d PD%d split%d; %s)", wkname(WK), N, K, G,
                 EPI == 1 ? " residual" : "", EPI == 2 ? " swiglu" : EPI == 4 ? " geglu" : "", BIAS ? " bias" : "", T, NT,
                 C::ST, C::PD, SPLIT, shape);
        c.done(what, eps);
    }
}

static void wq_checks()
{
    check_wq_order<3, 768>(5);
    check_wq_order<2, 640>(5);
    /* u4 (symmetric, g128): ragged rows over every token tile, every epilogue, split or not */
    check_wq<4, 1280, 640, 128, 16, 0, 1, 1>("ragged", {9, 13, 16});
    check_wq<4, 1280, 640, 128, 32, 1, 0, 5>("ragged, split", {17, 32});
    check_wq<4, 1280, 384, 128, 64, 2, 1, 1>("ragged", {40, 64});
    check_wq<4, 1280, 384, 128, 64, 4, 1, 5>("ragged, split", {33, 64});
    check_wq<4, 1280, 384, 128, 128, 1, 1, 1>("ragged", {100, 256, 512});
    check_wq<4, 1280, 384, 128, 128, 2, 0, 1>("ragged", {65, 200});
    check_wq<4, 768, 448, 64, 16, 2, 1, 3>("ragged, split", {9, 16});
    /* u4 with zero points, groups of 32 and 64 */
    check_wq<5, 768, 384, 32, 16, 1, 1, 1>("ragged, zero points g32", {13, 16});
    check_wq<5, 1280, 768, 64, 64, 2, 0, 5>("ragged, zero points g64, split", {40, 64});
    check_wq<5, 1280, 384, 32, 128, 0, 1, 1>("ragged, zero points g32", {100, 512});
    /* nvfp4 (E4M3 scales a 16, the tensor scale on the sums) */
    check_wq<6, 1280, 384, 16, 16, 2, 1, 1>("ragged", {10, 16});
    check_wq<6, 768, 640, 16, 32, 1, 1, 3>("ragged, split", {24, 32});
    check_wq<6, 1280, 384, 16, 128, 4, 0, 1>("ragged", {100, 256});
    /* fp8 (a scale a row on the sums) */
    check_wq<3, 1152, 384, 1152, 16, 0, 1, 3>("ragged, split", {9, 16});
    check_wq<3, 1152, 256, 1152, 64, 1, 0, 1>("ragged", {50, 64});
    check_wq<3, 1152, 384, 1152, 128, 2, 1, 1>("ragged", {100, 256});
    /* the presets' shapes: the 1B's qkv (3072x2048) and gate/up (16384x2048), the 8B's o and down */
    check_wq<4, 2048, 3072, 128, 16, 0, 0, 4>("1B qkv", {16});
    check_wq<4, 2048, 16384, 128, 64, 2, 0, 1>("1B gate/up", {64});
    check_wq<4, 4096, 4096, 128, 16, 1, 0, 4>("8B o", {16});
    check_wq<4, 14336, 4096, 128, 128, 1, 0, 1>("8B down", {512});
}

/* the 8B's four matrices in u4 g128: gemm_wq against the default build's kernels (gemm_q at 16 and 64
 * rows, dequant_half + gemm_wg at 512: the wide path as emitted, rows_to_half apart) */
template <int K, int N, int EPI, int SPLIT16, int SPLIT64>
static void time_wq(const char *what, int sms, double tbs)
{
    constexpr int WK = 4, G = 128, NO = (EPI == 2 || EPI == 4) ? N / 2 : N;
    RotW rot(make_any(WK, N, K, G, 0.05));
    const double bytes = rot.bytes;
    const int TM = 512;
    const std::vector<float> x = rand_f32((size_t)TM * K, 1.0);
    DBuf<float> dx(x.size()), dy((size_t)TM * NO), dres((size_t)TM * NO), dpart((size_t)8 * 64 * N),
        dqp((size_t)4 * sms * 2 * 16 * 4 * 128);
    DBuf<uint16_t> dh((size_t)TM * K), dq((size_t)TM * K), dwh((size_t)N * K);
    DBuf<int> dcnt(65536);
    dx.up(x);
    dres.up(rand_f32((size_t)TM * NO, 1.0));
    CK(cudaMemset(dcnt.p, 0, 65536 * sizeof(int)));
    k_half_ord<0, K, 3><<<TM, 256>>>(dx.p, dh.p);
    k_half_ord<0, K, 1><<<TM, 256>>>(dx.p, dq.p);
    launched();
    const float *rp = EPI == 1 ? dres.p : nullptr;
    auto us = [&](auto f) {
        const double u = time_us(f, 50);
        launched();
        return u;
    };
    const double w16 = us([&]() { WqCfg<WK, K, N, G, 16, EPI, SPLIT16>::launch(rot.next(), dh.p, nullptr, dy.p, dpart.p, 16, rp); });
    const double q16 = us([&]() {
        using E = typename QmPlans<WK, K, N, G, 1, EPI>::E;
        E::launch(rot.next(), dq.p, nullptr, dy.p, 16, rp, dqp.p, dcnt.p, E::blocks(sms));
    });
    const double w64 = us([&]() { WqCfg<WK, K, N, G, 64, EPI, SPLIT64>::launch(rot.next(), dh.p, nullptr, dy.p, dpart.p, 64, rp); });
    const double q64 = us([&]() {
        using E = typename QmPlans<WK, K, N, G, 4, EPI>::E;
        E::launch(rot.next(), dq.p, nullptr, dy.p, 64, rp, dqp.p, dcnt.p, E::blocks(sms));
    });
    const double w512 = us([&]() { WqCfg<WK, K, N, G, 128, EPI, 1>::launch(rot.next(), dh.p, nullptr, dy.p, dpart.p, 512, rp); });
    CK(cudaFuncSetAttribute(k_wg<K, N, EPI, 1, 2, 3>, cudaFuncAttributeMaxDynamicSharedMemorySize, 3 * 256 * 128 + 1024));
    const double d512 = us([&]() {
        const DW &d = rot.next();
        k_dequant<WK, K, N, G, 1><<<(int)(((long long)N * K / 32 + 255) / 256), 256>>>(d.w.p, d.wq(WK), dwh.p);
        k_wg<K, N, EPI, 1, 2, 3><<<dim3(512 / 128, N / 128), 128, 3 * (128 + 128) * 128 + 1024>>>(dwh.p, dq.p, nullptr, dy.p, 512, rp);
    });
    auto pr = [&](int T, const char *a, double ua, const char *b, double ub) {
        printf("TIME wq %-12s u4 T=%-3d gemm_wq %7.1f us %5.0f GB/s %3.0f%% of copy | %s %7.1f us %5.0f GB/s%s\n", what, T, ua,
               bytes / ua * 1e-3, bytes / ua * 1e-6 / tbs * 100, b, ub, bytes / ub * 1e-3, a);
    };
    pr(16, "", w16, "gemm_q", q16);
    pr(64, "", w64, "gemm_q", q64);
    pr(512, " (dequant + gemm_wg 128x128, rows_to_half not counted)", w512, "dequant+gemm_wg", d512);
}
static void wq_timings(int sms)
{
    const double tbs = copy_tbs();
    printf("TIME wq copy bandwidth %.2f TB/s\n", tbs);
    time_wq<4096, 6144, 0, 8, 4>("8B qkv", sms, tbs);
    time_wq<4096, 4096, 1, 8, 8>("8B o", sms, tbs);
    time_wq<4096, 28672, 2, 1, 1>("8B gate/up", sms, tbs);
    time_wq<14336, 4096, 1, 8, 8>("8B down", sms, tbs);
}

/* ==== the sampler of a step of few rows (`kernel_check sample`): sample_rows (cuda_sample.cuh) as
 * emit_sample (codegen/cuda_backend.c) launches it: grid O rows x P, P = min(ceil(V / 1024), sms / O)
 * blocks a row up to sms / 2 rows, else 1 (one block a row: sample_row), sms the target's typical
 * count (SMS). A greedy row's id must be llmc_argmax's exactly: rows of random values, of many ties
 * (the lowest id wins across slices), with NaNs (never chosen), the maximum twice (far apart, at
 * slices' ends and starts), +0 and -0 as the maximum, all -inf with NaNs (the first -inf), all NaN
 * (0); every row count 1..8 and some large (16, 33, 66: the last split, 67 and 200: one block a
 * row), the rule's P and others (2, 7, one block an SM, 300; empty slices at 2048 ids); rows that draw (temperature, top-k, top-p) among the greedy ones must be the one-block
 * kernel's (P 1) bit for bit. Each launch runs three times with the ids poisoned before each (the
 * counters must be back at zero: checked after) and the pairs poisoned before the first. Then timed
 * against one block a row at the 1B's and Qwen's vocabularies (128256, 151936), 1 and 8 rows. */
template <int V>
__global__ void __launch_bounds__(SAMPLE_NT) k_sample_rows(const float *logits, int32_t *ids, const double *smp,
                                                          float *pv, int *pi, int *cnt)
{
    sample_rows<V, V>(logits, ids, smp, pv, pi, cnt);
}

/* emit_sample's P for a step of O rows (cuda_backend.c sample_split) */
static int sample_parts(int V, int O, int sms)
{
    const int most = (V + SAMPLE_NT - 1) / SAMPLE_NT;
    if (most < 2 || O > sms / 2)
        return 1;
    return sms / O < most ? sms / O : most;
}

/* Row r of a check: its kind is r % 8 (the last rows of a step are all -inf with NaNs, all NaN). */
static void sample_rows_fill(float *x, int V, int r, int rows)
{
    const int kind = r == rows - 1 && rows > 2 ? 6 : r == rows - 2 && rows > 2 ? 7 : r % 6;
    for (int i = 0; i < V; i++)
        x[i] = kind == 1 ? (float)floor(urand() * 4.0) : (float)nzrand(8.0); /* 1: ties everywhere */
    if (kind == 2)
        for (int i = r % 7; i < V; i += 7)
            x[i] = NAN;
    if (kind == 3) { /* the maximum three times, far apart (other slices at any P > 1) */
        const int a = (int)((unsigned)(r * 7919) % (unsigned)(V / 2));
        x[a] = x[V - 1] = 100.0f;
        x[V / 2] = 100.0f;
    }
    if (kind == 4) { /* +0 and -0 the maximum, -0 first */
        for (int i = 0; i < V; i++)
            x[i] = -1.0f - (float)fabs(urand());
        x[V / 3] = -0.0f;
        x[V - 2] = 0.0f;
    }
    if (kind == 5) /* the maximum at id 0 and at the end */
        x[0] = x[V - 1] = 50.0f;
    if (kind == 6)
        for (int i = 0; i < V; i++)
            x[i] = i % 3 ? -HUGE_VALF : NAN;
    if (kind == 7)
        for (int i = 0; i < V; i++)
            x[i] = NAN;
}

/* P 0: the rule's. drawn k > 0: every k-th row draws (T 0.8, top-k 40, top-p 0.9). */
template <int V>
static void check_sample_rows(int rows, int P, int drawn)
{
    const int parts = P > 0 ? P : sample_parts(V, rows, SMS);
    std::vector<float> hl((size_t)rows * V);
    for (int r = 0; r < rows; r++)
        sample_rows_fill(&hl[(size_t)r * V], V, r, rows);
    std::vector<double> hs(4 * (size_t)rows);
    for (int r = 0; r < rows; r++) {
        const bool d = drawn > 0 && r % drawn == drawn - 1 && r < rows - 2; /* (not the NaN rows) */
        hs[4 * r] = d ? 0.8 : 0.0;
        hs[4 * r + 1] = d ? 0.9 : 1.0;
        hs[4 * r + 2] = d ? 40 : 0;
        hs[4 * r + 3] = (urand() + 1.0) * 0.5;
    }
    DBuf<float> dl(hl.size()), pv((size_t)rows * parts);
    DBuf<int32_t> di(rows), d1(rows), pi((size_t)rows * parts), cnt(rows);
    DBuf<double> ds(hs.size());
    dl.up(hl);
    ds.up(hs);
    pv.poison();
    pi.poison();
    CK(cudaMemset(cnt.p, 0, rows * sizeof(int))); /* as the cleared arena */
    /* the one-block kernel: the drawn rows' reference */
    d1.poison();
    k_sample_rows<V><<<dim3(rows, 1), SAMPLE_NT>>>(dl.p, d1.p, ds.p, nullptr, nullptr, nullptr);
    launched();
    const std::vector<int32_t> one = d1.down();
    Check c;
    for (int run = 0; run < 3; run++) {
        di.poison();
        k_sample_rows<V><<<dim3(rows, parts), SAMPLE_NT>>>(dl.p, di.p, ds.p, pv.p, pi.p, cnt.p);
        launched();
        const std::vector<int32_t> ids = di.down();
        for (int r = 0; r < rows; r++) {
            const int32_t want = hs[4 * r] > 0.0 ? one[r] : llmc_argmax(&hl[(size_t)r * V], V);
            c.exact((uint32_t)ids[r], (uint32_t)want);
            if (hs[4 * r] <= 0.0) /* and the one-block kernel's argmax too */
                c.exact((uint32_t)one[r], (uint32_t)want);
        }
    }
    for (int32_t v : cnt.down())
        c.exact((uint32_t)v, 0u); /* the counters left at zero */
    char what[200];
    snprintf(what, sizeof what, "sample_rows V=%d: %d rows x %d blocks%s", V, rows, parts,
             drawn ? ", some rows drawn" : "");
    c.done(what, 0.0);
}

/* Greedy rows (as a greedy decode step): one block a row against the split, mean us a launch. */
template <int V>
static void time_sample_rows(int rows)
{
    std::vector<float> hl((size_t)rows * V);
    for (auto &v : hl)
        v = (float)nzrand(8.0);
    std::vector<double> hs(4 * (size_t)rows, 0.0);
    const int rule = sample_parts(V, rows, SMS);
    DBuf<float> dl(hl.size()), pv((size_t)rows * 4 * SMS);
    DBuf<int32_t> di(rows), pi((size_t)rows * 4 * SMS), cnt(rows);
    DBuf<double> ds(hs.size());
    dl.up(hl);
    ds.up(hs);
    CK(cudaMemset(cnt.p, 0, rows * sizeof(int)));
    const int ps[] = {1, rule, rule / 2, 2 * rule};
    for (int k = 0; k < 4; k++) {
        const int P = ps[k];
        if (P < 1 || (k > 1 && (P == 1 || P == rule)) || (size_t)rows * P > pv.n)
            continue;
        const double us = time_us(
            [&]() { k_sample_rows<V><<<dim3(rows, P), SAMPLE_NT>>>(dl.p, di.p, ds.p, pv.p, pi.p, cnt.p); }, 200);
        char what[160];
        snprintf(what, sizeof what, "sample V=%d, %d row%s: %s%d blocks a row%s", V, rows, rows > 1 ? "s" : "",
                 P == 1 ? "sample_row, " : "", P, k == 1 ? " (the rule)" : "");
        printf("TIME %-58s %8.1f us\n", what, us);
    }
}

static void sample_checks(void)
{
    for (int rows = 1; rows <= 8; rows++)
        check_sample_rows<128256>(rows, 0, rows >= 3 ? 3 : 0);
    for (int rows : {16, 33, 66, 67, 200})
        check_sample_rows<128256>(rows, 0, 5);
    for (int P : {2, 7, SMS, 300}) /* 300: more blocks than the rule gives any vocabulary (132 at most) */
        check_sample_rows<128256>(3, P, 2);
    for (int rows : {1, 2, 5, 8})
        check_sample_rows<151936>(rows, 0, rows >= 5 ? 4 : 0);
    check_sample_rows<32000>(1, 0, 0);
    check_sample_rows<32000>(7, 0, 3);
    check_sample_rows<2048>(1, 0, 0); /* two slices */
    check_sample_rows<2048>(4, 3, 2);
    check_sample_rows<2048>(3, 300, 0); /* slices of 7 ids: the last 7 blocks' empty */
    check_sample_rows<1000>(4, 0, 2); /* one block a row (the rule's P 1) */
    check_sample_rows<1000>(4, 5, 2); /* and split, slices of 200 */
}

static void sample_timings(void)
{
    for (int rows : {1, 8}) {
        time_sample_rows<128256>(rows);
        time_sample_rows<151936>(rows);
    }
}

/* ==== gemm_wt (cuda_wgmma_tma.cuh: TMA-fed, warp-specialized wgmma, persistent; emitted with llmc
 * compile --wgmma tma),
 * `kernel_check wt` (Hopper): against the double reference over the same half inputs (every row up
 * to a budget of multiply-adds, else rows 0 and T - 1 and others at random), outputs poisoned before
 * each launch (rows past T must stay poisoned), bf16 and f16 weights, every epilogue with and without
 * a bias, K split 1 and 2, ragged shapes (N not a multiple of the tile, N/2 ragged under SwiGLU),
 * 1 to 4096 rows. Each check's launch is repeated with the activations' map encoded for the
 * scratch's rows (TM, as the runtime encodes it once), with both maps in global memory (the
 * compiler's kernels: written by a copy, acquired in the kernel) and on 3 blocks (many tiles a block: the
 * ring's phases across tiles), both bit for bit against the first; and gemm_wg (the same shapes) bit
 * for bit where it takes the same K split (the same k16 steps in the same order into f32
 * accumulators, the same epilogue arithmetic), else against the reference. Then TIME lines: the
 * 8B's and the 1B's matrices at 512 and 4096 rows, gemm_wt's planned tile and the other bn against
 * the tile the emitter gives gemm_wg. ==== */
template <int BF, int K, int N, int EPI, int SPLIT, int BN, int ST>
__global__ void __launch_bounds__(WT_THREADS, 1) k_wt(const __grid_constant__ LlmcTmap tw, const __grid_constant__ LlmcTmap tx,
                                                     const float *b, float *y, int T, const float *res)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_wt<BF, K, N, (EPI == 2 || EPI == 4) ? N / 2 : N, EPI == 1 ? N : 0, EPI, SPLIT, BN, ST>(&tw, &tx, b, y, T, res);
#endif
}

/* The same with the maps in global memory, as the compiler's kernels read them (llmc compile --wgmma
 * tma: written by a host copy before the launch, acquired by the producer: wt_maps_acquire) */
template <int BF, int K, int N, int EPI, int SPLIT, int BN, int ST>
__global__ void __launch_bounds__(WT_THREADS, 1) k_wt_g(const LlmcTmap *maps, const float *b, float *y, int T,
                                                       const float *res)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    wt_maps_acquire(maps, maps + 1);
    gemm_wt<BF, K, N, (EPI == 2 || EPI == 4) ? N / 2 : N, EPI == 1 ? N : 0, EPI, SPLIT, BN, ST>(maps, maps + 1, b, y, T, res);
#endif
}

/* cuTensorMapEncodeTiled from the driver through the runtime's entry-point query (no -lcuda: the
 * binary starts where libcuda is not on the link path) */
static PFN_cuTensorMapEncodeTiled_v12000 tmap_encoder(void)
{
    void *p = nullptr;
    cudaDriverEntryPointQueryResult q;
    CK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q));
    if (q != cudaDriverEntryPointSuccess || !p) {
        fprintf(stderr, "kernel_check: the driver has no cuTensorMapEncodeTiled (query result %d)\n", (int)q);
        exit(2);
    }
    return (PFN_cuTensorMapEncodeTiled_v12000)p;
}

/* The map of a row-major half matrix [rows][K] (rows `stride` elements apart): boxes of 64 x box_rows,
 * 128-byte swizzle, zeros out of bounds (gemm_wt's activations: boxes of 128 rows; weights: BN / 2). */
static LlmcTmap wt_map(int bf, const uint16_t *p, uint64_t rows, uint64_t K, uint64_t stride, uint32_t box_rows)
{
    static_assert(sizeof(LlmcTmap) == sizeof(CUtensorMap) && alignof(LlmcTmap) == alignof(CUtensorMap), "LlmcTmap");
    CUtensorMap m;
    const cuuint64_t dims[2] = {K, rows}, strides[1] = {stride * 2};
    const cuuint32_t box[2] = {64, box_rows}, step[2] = {1, 1};
    const CUresult r = tmap_encoder()(&m, bf ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2,
                                      (void *)p, dims, strides, box, step, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                      CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) {
        fprintf(stderr, "kernel_check: cuTensorMapEncodeTiled [%llu][%llu], box %u rows: error %d\n",
                (unsigned long long)rows, (unsigned long long)K, box_rows, (int)r);
        exit(2);
    }
    LlmcTmap t;
    memcpy(&t, &m, sizeof t);
    return t;
}

/* gemm_wt as an emitter would launch it: at most `blocks` blocks of 384 threads (one an SM), then
 * gemm_reduce when K is split */
template <int BF, int K, int N, int EPI, int SPLIT, int BN, int ST>
struct WtRun {
    static constexpr int NO = (EPI == 2 || EPI == 4) ? N / 2 : N;
    static constexpr int NB = (EPI == 2 || EPI == 4) ? (N / 2 + BN / 2 - 1) / (BN / 2) : (N + BN - 1) / BN;
    static constexpr int SMEM = ST * (WT_BM + BN) * 128 + 1024 + 256; /* llmc_cuda_wt_tile's smem */
    static void prepare()
    {
        CK(cudaFuncSetAttribute(k_wt<BF, K, N, EPI, SPLIT, BN, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
        CK(cudaFuncSetAttribute(k_wt_g<BF, K, N, EPI, SPLIT, BN, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    }
    /* maps: the weights' then the activations' map, in device memory */
    static void launch_g(const LlmcTmap *maps, const float *b, float *y, float *part, int T, const float *res, int blocks)
    {
        const int tiles = (T + WT_BM - 1) / WT_BM * NB * SPLIT, grid = tiles < blocks ? tiles : blocks;
        if (SPLIT > 1) {
            k_wt_g<BF, K, N, EPI, SPLIT, BN, ST><<<grid, WT_THREADS, SMEM>>>(maps, nullptr, part, T, nullptr);
            k_reduce<N, SPLIT, EPI><<<(T * NO + 255) / 256, 256>>>(part, b, res, y, T);
        } else {
            k_wt_g<BF, K, N, EPI, SPLIT, BN, ST><<<grid, WT_THREADS, SMEM>>>(maps, b, y, T, res);
        }
    }
    static void launch(const LlmcTmap &tw, const LlmcTmap &tx, const float *b, float *y, float *part, int T,
                       const float *res, int blocks)
    {
        const int tiles = (T + WT_BM - 1) / WT_BM * NB * SPLIT, grid = tiles < blocks ? tiles : blocks;
        if (SPLIT > 1) {
            k_wt<BF, K, N, EPI, SPLIT, BN, ST><<<grid, WT_THREADS, SMEM>>>(tw, tx, nullptr, part, T, nullptr);
            k_reduce<N, SPLIT, EPI><<<(T * NO + 255) / 256, 256>>>(part, b, res, y, T);
        } else {
            k_wt<BF, K, N, EPI, SPLIT, BN, ST><<<grid, WT_THREADS, SMEM>>>(tw, tx, b, y, T, res);
        }
    }
};
/* gemm_wg as cuda_matmul.c launches it (tiles of 64 MH x 128, ST stages, K split SPLIT) */
template <int BF, int K, int N, int EPI, int SPLIT, int MH, int ST>
struct WgRun {
    static constexpr int NO = (EPI == 2 || EPI == 4) ? N / 2 : N, SMEM = ST * (64 * MH + 128) * 128 + 1024;
    static void prepare()
    {
        CK(cudaFuncSetAttribute(k_wg<K, N, EPI, SPLIT, MH, ST, BF>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    }
    static void launch(const uint16_t *w, const uint16_t *x, const float *b, float *y, float *part, int T, const float *res)
    {
        const dim3 grid((T + 64 * MH - 1) / (64 * MH), (N + 127) / 128, SPLIT);
        if (SPLIT > 1) {
            k_wg<K, N, EPI, SPLIT, MH, ST, BF><<<grid, 128, SMEM>>>(w, x, nullptr, part, T, nullptr);
            k_reduce<N, SPLIT, EPI><<<(T * NO + 255) / 256, 256>>>(part, b, res, y, T);
        } else {
            k_wg<K, N, EPI, SPLIT, MH, ST, BF><<<grid, 128, SMEM>>>(w, x, b, y, T, res);
        }
    }
};

/* gemm_wt (128 x BN tiles, ST stages, K split SPLIT) and gemm_wg (64 WMH x 128, WST stages, K split
 * WSPLIT) on the same inputs for each row count; reps > 0: both timed (TIME lines) instead of the
 * repeated launches. */
template <int BF, int K, int N, int EPI, int BIAS, int SPLIT, int BN, int ST, int WMH, int WST, int WSPLIT>
static void check_wt(const char *shape, std::vector<int> rows, int sms, int reps)
{
    using R = WtRun<BF, K, N, EPI, SPLIT, BN, ST>;
    using G = WgRun<BF, K, N, EPI, WSPLIT, WMH, WST>;
    constexpr int NO = R::NO, GLU = EPI == 2 || EPI == 4, PS = SPLIT > WSPLIT ? SPLIT : WSPLIT;
    int TM = 0;
    for (int T : rows)
        TM = T > TM ? T : TM;
    TM += 5; /* rows past every T: they must stay poisoned */
    std::vector<uint16_t> hw((size_t)N * K), hx((size_t)TM * K);
    for (auto &v : hw)
        v = BF ? h_bf16((float)nzrand(0.05)) : h_f16((float)nzrand(0.05));
    for (auto &v : hx)
        v = BF ? h_bf16((float)nzrand(1.0)) : h_f16((float)nzrand(1.0));
    std::vector<double> val(65536); /* a half's value */
    for (int i = 0; i < 65536; i++)
        val[i] = BF ? h_bf16f((uint16_t)i) : h_f16f((uint16_t)i);
    const std::vector<float> bias = rand_f32(N, 0.5), res = rand_f32((size_t)TM * NO, 1.0);
    DBuf<uint16_t> dw(hw.size()), dx(hx.size());
    DBuf<float> db(N), dres(res.size()), dy((size_t)TM * NO), dpart((size_t)PS * TM * N);
    dw.up(hw);
    dx.up(hx);
    db.up(bias);
    dres.up(res);
    const float *bp = BIAS ? db.p : nullptr, *rp = EPI == 1 ? dres.p : nullptr;
    const LlmcTmap mw = wt_map(BF, dw.p, N, K, K, BN / 2), mxs = wt_map(BF, dx.p, TM, K, K, WT_BM);
    DBuf<LlmcTmap> dmaps(2); /* the compiler's way: the pair in global memory, the activations' over TM rows */
    dmaps.up(std::vector<LlmcTmap>{mw, mxs});
    R::prepare();
    G::prepare();
    const double eps = (K / 4.0 + 64.0) * U24 + PS * U24;
    for (int T : rows) {
        const LlmcTmap mx = wt_map(BF, dx.p, T, K, K, WT_BM);
        char what[200];
        snprintf(what, sizeof what, "gemm_wt %s %dx%d%s%s%s T=%d (128x%d st%d split%d; %s)", BF ? "bf16" : "f16", N, K,
                 EPI == 1 ? " residual" : "", EPI == 2 ? " swiglu" : EPI == 4 ? " geglu" : "", BIAS ? " bias" : "", T, BN,
                 ST, SPLIT, shape);
        dy.poison();
        R::launch(mw, mx, bp, dy.p, dpart.p, T, rp, sms);
        launched();
        const std::vector<float> y = dy.down();
        /* the reference of the sampled rows: sums and magnitudes in double */
        const int64_t budget = 300000000;
        const int nref = (int)std::min<int64_t>(T, std::max<int64_t>(3, budget / ((int64_t)N * K)));
        std::vector<int> ms;
        for (int m = 0; m < T; m++)
            if (nref == T || m == 0 || m == T - 1)
                ms.push_back(m);
        while ((int)ms.size() < nref)
            ms.push_back(1 + (int)((urand() * 0.5 + 0.5) * (T - 2)) % (T - 2 > 0 ? T - 2 : 1));
        std::vector<double> ref(ms.size() * NO), scale(ms.size() * NO), s(N), mag(N);
        for (size_t i = 0; i < ms.size(); i++) {
            const int m = ms[i];
            for (int n = 0; n < N; n++) {
                double a = 0.0, g = 0.0;
                for (int k = 0; k < K; k++) {
                    const double p = val[hx[(size_t)m * K + k]] * val[hw[(size_t)n * K + k]];
                    a += p;
                    g += fabs(p);
                }
                s[n] = a + (BIAS ? bias[n] : 0.0);
                mag[n] = g;
            }
            for (int o = 0; o < NO; o++) {
                if (GLU) {
                    const double a = glud(EPI, s[o]), u = s[o + N / 2];
                    ref[i * NO + o] = a * u;
                    scale[i * NO + o] = 1.2 * fabs(u) * mag[o] + fabs(a) * mag[o + N / 2] + fabs(a * u) * 1e-6;
                } else {
                    const double v = s[o] + (EPI == 1 ? res[(size_t)m * NO + o] : 0.0);
                    ref[i * NO + o] = v;
                    scale[i * NO + o] = mag[o] + fabs(v) * 1e-6;
                }
            }
        }
        /* against the reference: the sampled rows within tolerance, every row below T written, none past it */
        auto against_ref = [&](const std::vector<float> &got, const char *label) {
            Check c;
            for (size_t i = 0; i < ms.size(); i++)
                for (int o = 0; o < NO; o++)
                    c.add(got[(size_t)ms[i] * NO + o], ref[i * NO + o], scale[i * NO + o], eps, 1e-30);
            for (int m = 0; m < TM; m++)
                for (int o = 0; o < NO; o++) {
                    const float v = got[(size_t)m * NO + o];
                    if (m >= T)
                        c.untouched(fbits(v), 0xffffffffu);
                    else if (v != v)
                        c.nan++;
                }
            char w2[260];
            snprintf(w2, sizeof w2, "%s%s", what, label);
            c.done(w2, eps);
        };
        auto same = [&](const std::vector<float> &got, const char *label) {
            Check c;
            for (int m = 0; m < TM; m++)
                for (int o = 0; o < NO; o++) {
                    if (m >= T)
                        c.untouched(fbits(got[(size_t)m * NO + o]), 0xffffffffu);
                    else
                        c.exact(fbits(got[(size_t)m * NO + o]), fbits(y[(size_t)m * NO + o]));
                }
            char w2[260];
            snprintf(w2, sizeof w2, "%s%s", what, label);
            c.done(w2, 0.0);
        };
        against_ref(y, "");
        if (reps == 0) {
            dy.poison();
            R::launch(mw, mxs, bp, dy.p, dpart.p, T, rp, sms);
            launched();
            same(dy.down(), " map of TM rows, bit for bit");
            dy.poison();
            R::launch_g(dmaps.p, bp, dy.p, dpart.p, T, rp, sms);
            launched();
            same(dy.down(), " maps in global memory (llmc compile --wgmma tma), bit for bit");
            if ((double)T * N * K <= 3e10) { /* 3 SMs: at most a few seconds */
                dy.poison();
                R::launch(mw, mx, bp, dy.p, dpart.p, T, rp, 3);
                launched();
                same(dy.down(), " 3 blocks, bit for bit");
            }
        }
        dy.poison();
        G::launch(dw.p, dx.p, bp, dy.p, dpart.p, T, rp);
        launched();
        char lw[96];
        snprintf(lw, sizeof lw, " gemm_wg %dx128 st%d split%d%s", 64 * WMH, WST, WSPLIT, SPLIT == WSPLIT ? ", bit for bit" : "");
        if (SPLIT == WSPLIT)
            same(dy.down(), lw);
        else
            against_ref(dy.down(), lw);
        if (reps > 0) {
            const double tf = 2.0 * T * N * K * 1e-6;
            const double ut = time_us([&]() { R::launch(mw, mx, bp, dy.p, dpart.p, T, rp, sms); }, reps);
            launched();
            const double ug = time_us([&]() { G::launch(dw.p, dx.p, bp, dy.p, dpart.p, T, rp); }, reps);
            launched();
            printf("TIME wt %-11s T=%-4d gemm_wt 128x%d st%d split%d %8.1f us %6.1f TFLOP/s | gemm_wg %dx128 st%d split%d "
                   "%8.1f us %6.1f TFLOP/s | %.2fx\n",
                   shape, T, BN, ST, SPLIT, ut, tf / ut, 64 * WMH, WST, WSPLIT, ug, tf / ug, ug / ut);
        }
    }
}

/* The tiles of llmc_cuda_wg_tile and llmc_cuda_wt_tile (codegen/cuda_common.c) at 132 SMs (H100 SXM,
 * H200), the TIME lines' template arguments; test_cuda's wt_tile case pins the plans to the same
 * values. */
constexpr int WT_SMS = 132;
constexpr int wg_mh(long N, long rows) { return (N + 127) / 128 * ((rows + 127) / 128) * 10 < 14 * WT_SMS ? 1 : 2; }
constexpr int wg_st(long N, long rows) { return wg_mh(N, rows) == 1 ? 4 : 3; }
constexpr int wg_split(long N, long K, long rows)
{
    const long tiles = (N + 127) / 128 * ((rows + 63) / 64), kt = K / 64;
    int s = 1;
    while (wg_mh(N, rows) == 1 && s < 4 && tiles * s < WT_SMS && kt % (2 * s) == 0 && kt / (2 * s) >= 8)
        s *= 2;
    return s;
}
constexpr int wt_bn(long N, long rows) { return (N + 255) / 256 * ((rows + 127) / 128) < WT_SMS ? 128 : 256; }
constexpr int wt_split(long N, long K, long rows, int bn)
{
    const long tiles = (N + bn - 1) / bn * ((rows + 127) / 128), kt = K / 64;
    int s = 1;
    while (s < 4 && 2 * tiles * s <= WT_SMS && kt % (2 * s) == 0 && kt / (2 * s) >= 8)
        s *= 2;
    return s;
}
constexpr int wt_st(int bn) { return bn == 256 ? 4 : 7; }

/* one matrix at T rows: gemm_wt's planned tile, then the other bn (its own split rule), each against
 * gemm_wg's emitted tile */
template <int K, int N, int EPI, int T>
static void time_wt(const char *what, int sms)
{
    constexpr int BN = wt_bn(N, T), OBN = BN == 256 ? 128 : 256;
    check_wt<1, K, N, EPI, 0, wt_split(N, K, T, BN), BN, wt_st(BN), wg_mh(N, T), wg_st(N, T), wg_split(N, K, T)>(what, {T}, sms, 20);
    check_wt<1, K, N, EPI, 0, wt_split(N, K, T, OBN), OBN, wt_st(OBN), wg_mh(N, T), wg_st(N, T), wg_split(N, K, T)>(what, {T}, sms, 20);
}

static void wt_checks(int sms)
{
    const std::vector<int> all = {1, 17, 64, 128, 511, 512, 4096}, few = {1, 17, 128, 511};
    /* small and ragged shapes: every epilogue, bias or none, both tiles, K split 1 and 2, 2 to 7 stages */
    check_wt<1, 512, 384, 0, 1, 1, 128, 4, 2, 3, 1>("small", all, sms, 0);
    check_wt<1, 512, 384, 0, 0, 1, 256, 4, 2, 3, 1>("small, a box past N", all, sms, 0);
    check_wt<0, 512, 384, 1, 1, 2, 256, 4, 1, 4, 2>("small", all, sms, 0);
    check_wt<1, 512, 384, 1, 0, 1, 128, 2, 1, 4, 1>("small, 2 stages", all, sms, 0);
    check_wt<1, 512, 384, 2, 1, 1, 128, 7, 2, 3, 1>("small", all, sms, 0);
    check_wt<0, 512, 384, 2, 0, 2, 256, 4, 1, 4, 2>("small", all, sms, 0);
    check_wt<1, 512, 200, 2, 1, 1, 256, 3, 1, 4, 1>("N/2 ragged", all, sms, 0);
    check_wt<1, 512, 200, 2, 0, 2, 128, 2, 1, 4, 2>("N/2 ragged", all, sms, 0);
    check_wt<0, 1024, 384, 4, 1, 1, 256, 4, 2, 3, 1>("small", all, sms, 0);
    check_wt<1, 1024, 384, 4, 1, 2, 128, 7, 1, 4, 2>("small", all, sms, 0);
    check_wt<1, 1024, 264, 0, 1, 1, 128, 2, 2, 3, 1>("N ragged, 2 stages", all, sms, 0);
    check_wt<0, 1024, 264, 1, 1, 2, 256, 3, 1, 4, 2>("N ragged", all, sms, 0);
    /* the 1B's and the 8B's matrices, bf16: K split 1 (bn 256) and 2 (bn 128) at every row count */
    check_wt<1, 2048, 3072, 0, 0, 1, 256, 4, 2, 3, 1>("1B qkv", all, sms, 0);
    check_wt<1, 2048, 3072, 0, 0, 2, 128, 7, 1, 4, 2>("1B qkv", all, sms, 0);
    check_wt<1, 2048, 2048, 1, 0, 1, 256, 4, 2, 3, 1>("1B o", all, sms, 0);
    check_wt<1, 2048, 2048, 1, 0, 2, 128, 7, 1, 4, 2>("1B o", all, sms, 0);
    check_wt<1, 2048, 16384, 2, 0, 1, 256, 4, 2, 3, 1>("1B gate/up", all, sms, 0);
    check_wt<1, 2048, 16384, 2, 0, 2, 128, 7, 1, 4, 2>("1B gate/up", all, sms, 0);
    check_wt<1, 8192, 2048, 1, 0, 1, 256, 4, 2, 3, 1>("1B down", all, sms, 0);
    check_wt<1, 8192, 2048, 1, 0, 2, 128, 7, 1, 4, 2>("1B down", all, sms, 0);
    check_wt<1, 4096, 6144, 0, 0, 1, 256, 4, 2, 3, 1>("8B qkv", all, sms, 0);
    check_wt<1, 4096, 6144, 0, 0, 2, 128, 7, 1, 4, 2>("8B qkv", all, sms, 0);
    check_wt<1, 4096, 4096, 1, 0, 1, 256, 4, 2, 3, 1>("8B o", all, sms, 0);
    check_wt<1, 4096, 4096, 1, 0, 2, 128, 7, 1, 4, 2>("8B o", all, sms, 0);
    check_wt<1, 4096, 28672, 2, 0, 1, 256, 4, 2, 3, 1>("8B gate/up", all, sms, 0);
    check_wt<1, 4096, 28672, 2, 0, 2, 128, 7, 1, 4, 2>("8B gate/up", all, sms, 0);
    check_wt<1, 14336, 4096, 1, 0, 1, 256, 4, 2, 3, 1>("8B down", all, sms, 0);
    check_wt<1, 14336, 4096, 1, 0, 2, 128, 7, 1, 4, 2>("8B down", all, sms, 0);
    /* f16 weights (quantized weights dequantized for the wide steps): the 1B's matrices */
    check_wt<0, 2048, 3072, 0, 1, 1, 128, 7, 2, 3, 1>("1B qkv f16", few, sms, 0);
    check_wt<0, 2048, 2048, 1, 0, 2, 256, 4, 1, 4, 2>("1B o f16", few, sms, 0);
    check_wt<0, 2048, 16384, 2, 0, 1, 128, 7, 2, 3, 1>("1B gate/up f16", few, sms, 0);
    check_wt<0, 8192, 2048, 1, 0, 2, 256, 4, 1, 4, 2>("1B down f16", few, sms, 0);
}

static void wt_timings(int sms)
{
    time_wt<4096, 6144, 0, 512>("8B qkv", sms);
    time_wt<4096, 4096, 1, 512>("8B o", sms);
    time_wt<4096, 28672, 2, 512>("8B gate/up", sms);
    time_wt<14336, 4096, 1, 512>("8B down", sms);
    time_wt<2048, 3072, 0, 512>("1B qkv", sms);
    time_wt<2048, 2048, 1, 512>("1B o", sms);
    time_wt<2048, 16384, 2, 512>("1B gate/up", sms);
    time_wt<8192, 2048, 1, 512>("1B down", sms);
    time_wt<4096, 6144, 0, 4096>("8B qkv", sms);
    time_wt<4096, 4096, 1, 4096>("8B o", sms);
    time_wt<4096, 28672, 2, 4096>("8B gate/up", sms);
    time_wt<14336, 4096, 1, 4096>("8B down", sms);
    time_wt<2048, 3072, 0, 4096>("1B qkv", sms);
    time_wt<2048, 2048, 1, 4096>("1B o", sms);
    time_wt<2048, 16384, 2, 4096>("1B gate/up", sms);
    time_wt<8192, 2048, 1, 4096>("1B down", sms);
}

/* ==== gemm_ws (cuda_wgmma_tma.cuh: the batched-decode matmul of bf16/f16 weights at 9..64 rows, fed
 * by the TMA, the weights wgmma's A operand, stream-K over 128-row tiles and 64 of K; emitted with
 * llmc compile --decode-wgmma on) ====
 * `kernel_check ws` (Hopper): the rows converted by rows_to_half (natural order, as for gemm_q),
 * then gemm_ws into poisoned outputs, against the double reference over the same half inputs (every
 * row up to a budget of multiply-adds, else rows 0 and T - 1 and others at random; rows past T
 * untouched), bf16 and f16, every epilogue with and without a bias, ragged N (N not a multiple of the
 * tile, N/2 not one of 64 under SwiGLU), 2 to 8 stages, over the plan's blocks (min(units, SMs)) and
 * over given block counts (tiles shared by 2..many blocks, a block's range inside one tile, 3 blocks
 * with many tiles each: the ring's phases across tiles). Each launch twice (the counters must be
 * back at 0, the second bit for bit the first); then at the plan's blocks: the activations' map over
 * T rows instead of the scratch's (zeros past T instead of stale rows), both maps in global memory
 * (the compiler's way: written by a copy, acquired in the kernel), and under programmatic dependent
 * launch after a kernel that lets it start at once and only then writes the activations (the
 * producer must wait before their copies), each bit for bit; and gemm_q (the default's kernel at
 * these rows) on the same inputs against the reference where it takes the shapes. Then TIME lines:
 * the 1B's and the 8B's four matrices at 16, 32 and 64 rows, gemm_ws against gemm_q, weights
 * rotated through more bytes than L2, GB/s and % of the copy bandwidth of the same run. */
template <int BF, int K, int N, int EPI, int NT, int ST>
__global__ void __launch_bounds__(WS_THREADS, 1) k_ws(const __grid_constant__ LlmcTmap tw, const __grid_constant__ LlmcTmap tx,
                                                     const float *b, float *y, int T, const float *res, float *part,
                                                     int *cnt)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_ws<BF, K, N, (EPI == 2 || EPI == 4) ? N / 2 : N, EPI == 1 ? N : 0, EPI, NT, ST, 0>(&tw, &tx, b, y, T, res, part, cnt);
#endif
}
template <int BF, int K, int N, int EPI, int NT, int ST>
__global__ void __launch_bounds__(WS_THREADS, 1) k_ws_g(const LlmcTmap *maps, const float *b, float *y, int T,
                                                       const float *res, float *part, int *cnt)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    gemm_ws<BF, K, N, (EPI == 2 || EPI == 4) ? N / 2 : N, EPI == 1 ? N : 0, EPI, NT, ST, 1>(maps, maps + 1, b, y, T, res,
                                                                                         part, cnt);
#endif
}
/* The kernel before gemm_ws in the PDL check: lets its dependent start at once, waits about 20 us,
 * then writes the half rows (n halves) the dependent's maps read. */
__global__ void k_late_rows(const uint16_t *src, uint16_t *dst, int n)
{
    pdl_release();
    const long long t0 = clock64();
    while (clock64() - t0 < 40000) {
    }
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        dst[i] = src[i];
}
/* gemm_ws as the emitter launches it: P blocks of 160 threads (the plan: min(units, SMs)) */
template <int BF, int K, int N, int EPI, int NT, int ST>
struct WsRun {
    static constexpr int GLU = EPI == 2 || EPI == 4, NO = GLU ? N / 2 : N;
    static constexpr int TILES = GLU ? (N / 2 + 63) / 64 : (N + WS_TILE - 1) / WS_TILE, U = TILES * (K / WS_BK);
    static constexpr int SMEM = gemm_ws_smem<NT, ST>();
    static int blocks(int sms) { return U < sms ? U : sms; }
    static void prepare()
    {
        CK(cudaFuncSetAttribute(k_ws<BF, K, N, EPI, NT, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
        CK(cudaFuncSetAttribute(k_ws_g<BF, K, N, EPI, NT, ST>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    }
    static void launch(const LlmcTmap &tw, const LlmcTmap &tx, const float *b, float *y, int T, const float *res,
                       float *part, int *cnt, int P, int pdl = 0, cudaStream_t st = 0)
    {
        launch_pdl(pdl, k_ws<BF, K, N, EPI, NT, ST>, dim3(P), WS_THREADS, SMEM, st, tw, tx, b, y, T, res, part, cnt);
    }
    static void launch_g(const LlmcTmap *maps, const float *b, float *y, int T, const float *res, float *part, int *cnt,
                         int P)
    {
        k_ws_g<BF, K, N, EPI, NT, ST><<<P, WS_THREADS, SMEM>>>(maps, b, y, T, res, part, cnt);
    }
};
/* the plan's stages (llmc_cuda_ws_plan): as many as 227 KB holds, at most 8 */
constexpr int ws_st(int nt) { return (232448 - 1024) / (WS_TILE * 128 + nt * 128 + 16) < 8 ? (232448 - 1024) / (WS_TILE * 128 + nt * 128 + 16) : 8; }

template <int WK, int K, int N, int EPI, int BIAS, int NT, int ST>
static void check_ws(const char *shape, std::vector<int> rows, std::vector<int> ps, int sms)
{
    constexpr int BF = WK == 1, GLU = EPI == 2 || EPI == 4, TM = 80; /* the scratch's rows: stale ones past T */
    using R = WsRun<BF, K, N, EPI, NT, ST>;
    constexpr int NO = R::NO;
    const QWts q = make_any(WK, N, K, K, 0.05);
    DW dw(q);
    std::vector<double> wv, rs;
    qmma_weights(WK, N, K, q, wv, rs);
    const std::vector<float> x = rand_f32((size_t)TM * K, 1.0), bias = rand_f32(N, 0.5), res = rand_f32((size_t)TM * N, 1.0);
    int pmax = sms;
    for (int p : ps)
        pmax = p > pmax ? p : pmax;
    DBuf<float> dx(x.size()), db(N), dres(res.size()), dy((size_t)TM * NO), dpart((size_t)pmax * 2 * NT * 128),
        dqpart((size_t)(TM / 16 + 1) * 4 * sms * 2 * 16 * 4 * 128);
    DBuf<uint16_t> dh((size_t)TM * K), dlate((size_t)TM * K);
    DBuf<int> dcnt(65536);
    dx.up(x);
    db.up(bias);
    dres.up(res);
    CK(cudaMemset(dcnt.p, 0, 65536 * sizeof(int)));
    k_half_ord<BF, K, 0><<<TM, 256>>>(dx.p, dh.p);
    launched();
    const std::vector<uint16_t> hh = dh.down();
    const float *bp = BIAS ? db.p : nullptr, *rp = EPI == 1 ? dres.p : nullptr;
    const LlmcTmap mw = wt_map(BF, (const uint16_t *)dw.w.p, N, K, K, 64), mx = wt_map(BF, dh.p, TM, K, K, 16),
                   mlate = wt_map(BF, dlate.p, TM, K, K, 16);
    DBuf<LlmcTmap> dmaps(2);
    dmaps.up(std::vector<LlmcTmap>{mw, mx});
    R::prepare();
    const double eps = (K / 4.0 + 64.0) * U24;
    for (int T : rows) {
        /* the reference of the sampled rows: the half activations times the weights, in double */
        const int64_t budget = 300000000;
        const int nref = (int)std::min<int64_t>(T, std::max<int64_t>(3, budget / ((int64_t)N * K)));
        std::vector<int> ms;
        for (int m = 0; m < T; m++)
            if (nref == T || m == 0 || m == T - 1)
                ms.push_back(m);
        while ((int)ms.size() < nref)
            ms.push_back(1 + (int)((urand() * 0.5 + 0.5) * (T - 2)) % (T - 2 > 0 ? T - 2 : 1));
        std::vector<double> ref(ms.size() * NO), scale(ms.size() * NO), sv(N), mag(N);
        for (size_t i = 0; i < ms.size(); i++) {
            const int m = ms[i];
            for (int n = 0; n < N; n++) {
                double a = 0.0, g = 0.0;
                for (int k = 0; k < K; k++) {
                    const uint16_t hv = hh[(size_t)m * K + k];
                    const double p = (BF ? h_bf16f(hv) : h_f16f(hv)) * wv[(size_t)n * K + k];
                    a += p;
                    g += fabs(p);
                }
                sv[n] = a + (BIAS ? bias[n] : 0.0);
                mag[n] = g;
            }
            for (int o = 0; o < NO; o++) {
                if (GLU) {
                    const double a = glud(EPI, sv[o]), u = sv[o + N / 2];
                    ref[i * NO + o] = a * u;
                    scale[i * NO + o] = 1.2 * fabs(u) * mag[o] + fabs(a) * mag[o + N / 2] + fabs(a * u) * 1e-6;
                } else {
                    const double v = sv[o] + (EPI == 1 ? res[(size_t)m * N + o] : 0.0);
                    ref[i * NO + o] = v;
                    scale[i * NO + o] = mag[o] + fabs(v) * 1e-6;
                }
            }
        }
        char what[200];
        auto check = [&](const std::vector<float> &got, const std::vector<float> *same, const char *label) {
            Check c;
            for (size_t i = 0; i < ms.size(); i++)
                for (int o = 0; o < NO; o++)
                    c.add(got[(size_t)ms[i] * NO + o], ref[i * NO + o], scale[i * NO + o], eps, 1e-30);
            for (int m = 0; m < TM; m++)
                for (int o = 0; o < NO; o++) {
                    const float v = got[(size_t)m * NO + o];
                    if (m >= T)
                        c.untouched(fbits(v), 0xffffffffu);
                    else if (v != v)
                        c.nan++;
                    else if (same)
                        c.exact(fbits(v), fbits((*same)[(size_t)m * NO + o]));
                }
            const std::vector<int> cnt = dcnt.down();
            int dirty = 0;
            for (int cv : cnt)
                dirty += cv != 0;
            c.bad += dirty;
            char w2[300];
            snprintf(w2, sizeof w2, "%s%s%s", what, label, dirty ? " COUNTERS LEFT" : "");
            c.done(w2, eps);
        };
        const int plan = R::blocks(sms);
        std::vector<int> pl = {plan};
        for (int p : ps)
            pl.push_back(p);
        std::vector<float> yplan;
        for (int P : pl) {
            snprintf(what, sizeof what, "gemm_ws %s %dx%d%s%s%s T=%d (NT%d ST%d P%d%s; %s)", BF ? "bf16" : "f16", N, K,
                     EPI == 1 ? " residual" : "", EPI == 2 ? " swiglu" : EPI == 4 ? " geglu" : "", BIAS ? " bias" : "", T,
                     NT, ST, P, P == plan ? ", the plan" : "", shape);
            dy.poison();
            R::launch(mw, mx, bp, dy.p, T, rp, dpart.p, dcnt.p, P);
            launched();
            const std::vector<float> y1 = dy.down();
            dy.poison();
            R::launch(mw, mx, bp, dy.p, T, rp, dpart.p, dcnt.p, P);
            launched();
            check(dy.down(), &y1, ", twice, bit for bit");
            if (P == plan)
                yplan = y1;
        }
        snprintf(what, sizeof what, "gemm_ws %s %dx%d%s%s%s T=%d (NT%d ST%d P%d; %s)", BF ? "bf16" : "f16", N, K,
                 EPI == 1 ? " residual" : "", EPI == 2 ? " swiglu" : EPI == 4 ? " geglu" : "", BIAS ? " bias" : "", T, NT,
                 ST, plan, shape);
        const LlmcTmap mxt = wt_map(BF, dh.p, T, K, K, 16);
        dy.poison();
        R::launch(mw, mxt, bp, dy.p, T, rp, dpart.p, dcnt.p, plan);
        launched();
        check(dy.down(), &yplan, " map of T rows, bit for bit");
        dy.poison();
        R::launch_g(dmaps.p, bp, dy.p, T, rp, dpart.p, dcnt.p, plan);
        launched();
        check(dy.down(), &yplan, " maps in global memory, bit for bit");
        dy.poison();
        dlate.poison();
        CK(cudaDeviceSynchronize());
        launch_pdl(0, k_late_rows, dim3(8), 256, 0, (cudaStream_t)0, (const uint16_t *)dh.p, dlate.p, TM * K);
        R::launch(mw, mlate, bp, dy.p, T, rp, dpart.p, dcnt.p, plan, 1);
        launched();
        check(dy.down(), &yplan, " under PDL after a late writer, bit for bit");
        if constexpr (N % 64 == 0 && K % 128 == 0 && (!GLU || (N / 2) % 32 == 0)) {
            using Q = typename QmPlans<WK, K, N, K, NT / 16, EPI>::E;
            dy.poison();
            Q::launch(dw, dh.p, bp, dy.p, T, rp, dqpart.p, dcnt.p, Q::blocks(sms));
            launched();
            snprintf(what, sizeof what, "gemm_q %s %dx%d%s%s%s T=%d (MI%d; %s)", BF ? "bf16" : "f16", N, K,
                     EPI == 1 ? " residual" : "", EPI == 2 ? " swiglu" : EPI == 4 ? " geglu" : "", BIAS ? " bias" : "", T,
                     NT / 16, shape);
            check(dy.down(), nullptr, " the same inputs");
        }
    }
}

static void ws_checks(int sms)
{
    check_ws<1, 512, 384, 0, 1, 16, 8>("small", {9, 16}, {3, 7, 24}, sms); /* 24 units: a unit a block */
    check_ws<2, 512, 384, 1, 0, 32, 2>("small, 2 stages", {17, 32}, {5, 13}, sms);
    check_ws<1, 512, 384, 2, 1, 64, 3>("small", {33, 64}, {2, 7}, sms);
    check_ws<2, 576, 384, 4, 1, 16, 8>("K 9 units", {10, 16}, {4, 11}, sms);
    check_ws<1, 1024, 200, 2, 1, 16, 8>("N/2 ragged", {12, 16}, {3, 5}, sms);
    check_ws<2, 1024, 200, 2, 0, 64, 4>("N/2 ragged", {40, 64}, {7}, sms);
    check_ws<1, 1024, 264, 1, 1, 32, 8>("N ragged", {20, 32}, {3, 9}, sms);
    check_ws<2, 1024, 264, 0, 0, 64, 5>("N ragged, 5 stages", {64, 47}, {6}, sms);
    check_ws<1, 2048, 3072, 0, 0, 16, ws_st(16)>("1B qkv", {16, 9}, {}, sms);
    check_ws<1, 2048, 2048, 1, 0, 64, ws_st(64)>("1B o", {64, 50}, {}, sms);
    check_ws<1, 2048, 16384, 2, 0, 32, ws_st(32)>("1B gate/up", {32, 20}, {}, sms);
    check_ws<1, 8192, 2048, 1, 0, 64, ws_st(64)>("1B down", {64}, {}, sms);
    check_ws<1, 4096, 28672, 2, 0, 64, ws_st(64)>("8B gate/up", {64}, {}, sms);
    check_ws<1, 14336, 4096, 1, 1, 16, ws_st(16)>("8B down", {16}, {}, sms);
}

/* one bf16 matrix at 16, 32 and 64 rows: gemm_ws (the plan, and at least 4 and 8 units a block:
 * --qmma-units) against gemm_q (the default's kernel), the weights rotated through more bytes than L2 */
template <int K, int N, int EPI>
static void time_ws(const char *what, int sms, double tbs)
{
    constexpr int NO = (EPI == 2 || EPI == 4) ? N / 2 : N;
    RotW rot(make_any(1, N, K, K, 0.05));
    const double bytes = rot.bytes;
    std::vector<LlmcTmap> maps;
    for (auto *d : rot.d)
        maps.push_back(wt_map(1, (const uint16_t *)d->w.p, N, K, K, 64));
    const std::vector<float> x = rand_f32((size_t)64 * K, 1.0);
    DBuf<float> dx(x.size()), dy((size_t)64 * NO), dres((size_t)64 * NO), dpart((size_t)4 * sms * 2 * 16 * 4 * 128);
    DBuf<uint16_t> dh((size_t)80 * K);
    DBuf<int> dcnt(65536);
    dx.up(x);
    dres.up(rand_f32((size_t)64 * NO, 1.0));
    CK(cudaMemset(dcnt.p, 0, 65536 * sizeof(int)));
    k_half_ord<1, K, 0><<<64, 256>>>(dx.p, dh.p);
    launched();
    const LlmcTmap mx = wt_map(1, dh.p, 80, K, K, 16);
    auto ws = [&](auto run, int T, int minu) { /* minu: --qmma-units (the plan: 1) */
        using Rn = decltype(run);
        Rn::prepare();
        size_t it = 0;
        const int P = Rn::U / minu < 1 ? 1 : Rn::U / minu < sms ? Rn::U / minu : sms;
        const double us = time_us(
            [&]() {
                const size_t i = it++ % maps.size();
                Rn::launch(maps[i], mx, nullptr, dy.p, T, EPI == 1 ? dres.p : nullptr, dpart.p, dcnt.p, P);
            },
            50);
        launched();
        return us;
    };
    auto q = [&](auto cfg, int T) {
        using C = decltype(cfg);
        const double us = time_us(
            [&]() {
                C::launch(rot.next(), dh.p, nullptr, dy.p, T, EPI == 1 ? dres.p : nullptr, dpart.p, dcnt.p, C::blocks(sms));
            },
            50);
        launched();
        return us;
    };
    auto line = [&](int T, int nt, int st, double uw, double uw4, double uw8, double uq) {
        printf("TIME ws %-11s T=%-2d gemm_ws NT%d ST%d %7.1f us %5.0f GB/s %3.0f%% of copy (4 units a block %.1f us, 8 %.1f) "
               "| gemm_q %7.1f us %5.0f GB/s %3.0f%% | %.2fx\n",
               what, T, nt, st, uw, bytes / uw * 1e-3, bytes / uw * 1e-6 / tbs * 100, uw4, uw8, uq, bytes / uq * 1e-3,
               bytes / uq * 1e-6 / tbs * 100, uq / uw);
    };
    using W16 = WsRun<1, K, N, EPI, 16, ws_st(16)>;
    using W32 = WsRun<1, K, N, EPI, 32, ws_st(32)>;
    using W64 = WsRun<1, K, N, EPI, 64, ws_st(64)>;
    line(16, 16, ws_st(16), ws(W16{}, 16, 1), ws(W16{}, 16, 4), ws(W16{}, 16, 8), q(typename QmPlans<1, K, N, K, 1, EPI>::E{}, 16));
    line(32, 32, ws_st(32), ws(W32{}, 32, 1), ws(W32{}, 32, 4), ws(W32{}, 32, 8), q(typename QmPlans<1, K, N, K, 2, EPI>::E{}, 32));
    line(64, 64, ws_st(64), ws(W64{}, 64, 1), ws(W64{}, 64, 4), ws(W64{}, 64, 8), q(typename QmPlans<1, K, N, K, 4, EPI>::E{}, 64));
}
static void ws_timings(int sms)
{
    const double tbs = copy_tbs();
    printf("TIME ws copy bandwidth %.2f TB/s\n", tbs);
    time_ws<2048, 3072, 0>("1B qkv", sms, tbs);
    time_ws<2048, 2048, 1>("1B o", sms, tbs);
    time_ws<2048, 16384, 2>("1B gate/up", sms, tbs);
    time_ws<8192, 2048, 1>("1B down", sms, tbs);
    time_ws<4096, 6144, 0>("8B qkv", sms, tbs);
    time_ws<4096, 4096, 1>("8B o", sms, tbs);
    time_ws<4096, 28672, 2>("8B gate/up", sms, tbs);
    time_ws<14336, 4096, 1>("8B down", sms, tbs);
}

static int summary()
{
    printf("%s: %d of %d checks failed\n", failures ? "FAIL" : "PASS", failures, checks);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    /* decode attention: ragged steps of up to 64 tokens, long and short contexts (parts left empty) */
    const std::vector<Seq> dsteps = {{0, 3}, {130, 5}, {0, 1}, {37, 10}, {200, 1}, {5, 1}, {1000, 2}, {2, 1}};
    /* `kernel_check binv`: what llmc compile --batch-invariant runs, bit for bit across row counts:
     * gemv (TX 1) against each row alone and the default grid, then paged_attn_dec (and the
     * per-token kernel + attn_combine of other head sizes) over prefill-sized steps of one and several
     * sequences in f16 and the quantized caches, each token alone against the step */
    if (argc > 1 && strcmp(argv[1], "binv") == 0) {
        const std::vector<Seq> wide = {{0, 200}, {40, 90}, {300, 1}};
        binv_checks();
        check_flash<32, 8, 64, 0, 1>(wide, 0);
        check_flash<32, 8, 128, 0, 1>(wide, 0);
        check_flash<8, 4, 8, 0, 1>(wide, 0);
        check_flash<32, 8, 64, 48, 1, FMT_INT8, FMT_INT4>(wide, 0);
        check_flash<32, 8, 128, 0, 1, FMT_KV_FP8, FMT_KV_FP8>(wide, 0);
        check_flash<8, 4, 64, 0, 1>(wide, 0, 5.0f);
        check_flash<6, 6, 48, 0, 2>(wide, 0);
        check_flash<6, 6, 48, 0, 2, FMT_INT8, FMT_INT4>(wide, 0);
        return summary();
    }
    const bool moe_only = argc > 1 && strcmp(argv[1], "moe") == 0; /* `kernel_check moe`: the MoE block alone */
    if (moe_only) {
        moe_checks();
        return summary();
    }
    if (argc > 1 && strcmp(argv[1], "sample") == 0) { /* `kernel_check sample`: sample_rows' checks, then timed */
        if (prop.multiProcessorCount != SMS)
            printf("note: %d SMs; the splits are the emitter's for %d (sm_90a's typical count)\n", prop.multiProcessorCount, SMS);
        sample_checks();
        /* the same tail's select_rows in place (a prefill step's gather and copy back) */
        check_select_in_place<64, 64>("260K", 70, 5);
        check_select_in_place<2048, 2048>("1B", 300, 16);
        sample_timings();
        return summary();
    }
    if (argc > 1 && strcmp(argv[1], "attn") == 0) { /* `kernel_check attn`: paged_attn_tc's checks, then timed */
        tc_checks<4>(dsteps);
        tc_checks<5>(dsteps); /* the scores as S^T = K Q^T */
        kivi_checks();
        /* the 8B's decode at batch 16 and 64, context 4096, in each format: both score layouts, one
         * after the other (TIME paged_attn_tc, then paged_attn_tc kq) */
        for (int b : {16, 64}) {
            const std::vector<Seq> dec(b, Seq{4095, 1});
            check_flash<32, 8, 128, 0, 4>(dec, 50);
            check_flash<32, 8, 128, 0, 5>(dec, 50);
            check_flash<32, 8, 128, 0, 4, FMT_KV_FP8, FMT_KV_FP8>(dec, 50);
            check_flash<32, 8, 128, 0, 5, FMT_KV_FP8, FMT_KV_FP8>(dec, 50);
            check_flash<32, 8, 128, 0, 4, FMT_INT8, FMT_INT8>(dec, 50);
            check_flash<32, 8, 128, 0, 5, FMT_INT8, FMT_INT8>(dec, 50);
            check_flash<32, 8, 128, 0, 4, FMT_INT4, FMT_INT4>(dec, 50);
            check_flash<32, 8, 128, 0, 5, FMT_INT4, FMT_INT4>(dec, 50);
            check_flash<32, 8, 128, 0, 4, FMT_INT8, FMT_INT4>(dec, 50);
            check_flash<32, 8, 128, 0, 5, FMT_INT8, FMT_INT4>(dec, 50);
        }
        /* the rule before round 8 (parts by a token's length alone: 16 at 4096 positions) beside the
         * rows above (no more parts than fill the GPU once), at 4, 16 and 64 sequences */
        for (int b : {4, 16, 64}) {
            const std::vector<Seq> dec(b, Seq{4095, 1});
            if (b == 4) {
                check_flash<32, 8, 128, 0, 4>(dec, 50);
                check_flash<32, 8, 128, 0, 4, FMT_INT4, FMT_INT4>(dec, 50);
            }
            check_flash<32, 8, 128, 0, 4, FMT_F16, FMT_F16, 0, 0, -1>(dec, 50);
            check_flash<32, 8, 128, 0, 4, FMT_KV_FP8, FMT_KV_FP8, 0, 0, -1>(dec, 50);
            check_flash<32, 8, 128, 0, 4, FMT_INT8, FMT_INT8, 0, 0, -1>(dec, 50);
            check_flash<32, 8, 128, 0, 4, FMT_INT4, FMT_INT4, 0, 0, -1>(dec, 50);
            if (b == 64) { /* two waves' blocks (2 parts at 64 sequences) instead of one (1 part) */
                check_flash<32, 8, 128, 0, 4, FMT_F16, FMT_F16, 0, 0, 2 * tc_fill(FMT_F16, FMT_F16, 128)>(dec, 50);
                check_flash<32, 8, 128, 0, 4, FMT_INT4, FMT_INT4, 0, 0, 2 * tc_fill(FMT_INT4, FMT_INT4, 128)>(dec, 50);
            }
        }
        /* fewer, longer parts (MINCH positions at least: 8, 4 and 2 parts at 4096), 16 sequences,
         * by length alone */
        const std::vector<Seq> dec16(16, Seq{4095, 1});
        check_flash<32, 8, 128, 0, 4, FMT_F16, FMT_F16, 512, 0, -1>(dec16, 50);
        check_flash<32, 8, 128, 0, 4, FMT_F16, FMT_F16, 1024, 0, -1>(dec16, 50);
        check_flash<32, 8, 128, 0, 4, FMT_INT4, FMT_INT4, 512, 0, -1>(dec16, 50);
        check_flash<32, 8, 128, 0, 4, FMT_INT4, FMT_INT4, 1024, 0, -1>(dec16, 50);
        check_flash<32, 8, 128, 0, 4, FMT_INT4, FMT_INT4, 2048, 0, -1>(dec16, 50);
        check_flash<32, 8, 128, 0, 4, FMT_KV_FP8, FMT_KV_FP8, 1024, 0, -1>(dec16, 50);
        check_flash<32, 8, 128, 0, 4, FMT_INT8, FMT_INT8, 1024, 0, -1>(dec16, 50);
        /* the S^T layout's registers leave room for 2 tiles a warp at heads of 128 with int8 rows
         * (ptxas: 155/156 registers on sm_80/sm_90a, no spills; S spills there) */
        check_flash<32, 8, 128, 0, 5, FMT_INT8, FMT_INT8, 0, 2>(dec16, 50);
        check_flash<32, 8, 128, 0, 5, FMT_INT8, FMT_INT4, 0, 2>(dec16, 50);
        check_flash<32, 8, 128, 0, 4, FMT_INT8, FMT_INT4, 0, 2>(dec16, 50);
        return summary();
    }
    if (argc > 1 && strcmp(argv[1], "wq") == 0) { /* `kernel_check wq`: gemm_wq's checks (Hopper), then timed */
        if (prop.major != 9) {
            printf("FAIL: gemm_wq needs an sm_90a GPU\n");
            return 1;
        }
        wq_checks();
        wq_timings(prop.multiProcessorCount);
        return summary();
    }
    if (argc > 1 && strcmp(argv[1], "ws") == 0) { /* `kernel_check ws`: gemm_ws's checks (Hopper), then timed */
        if (prop.major != 9) {
            printf("FAIL: gemm_ws needs an sm_90a GPU\n");
            return 1;
        }
        ws_checks(prop.multiProcessorCount);
        ws_timings(prop.multiProcessorCount);
        return summary();
    }
    if (argc > 1 && strcmp(argv[1], "wt") == 0) { /* `kernel_check wt`: gemm_wt's checks (Hopper), then timed */
        if (prop.major != 9) {
            printf("FAIL: gemm_wt needs an sm_90a GPU\n");
            return 1;
        }
        if (prop.multiProcessorCount != WT_SMS)
            printf("note: %d SMs; the TIME lines' tiles are the plans at %d\n", prop.multiProcessorCount, WT_SMS);
        wt_checks(prop.multiProcessorCount);
        wt_timings(prop.multiProcessorCount);
        return summary();
    }
    if (argc > 1 && strcmp(argv[1], "qmma") == 0) { /* `kernel_check qmma`: gemm_q's checks, then timed */
        qmma_checks(prop.multiProcessorCount);
        qmma_timings(prop.multiProcessorCount);
        return summary();
    }
    /* correctness: ragged row counts, every epilogue, both tiles, K split */
    check_gemm<256, 384, 0, 1, 64>(77, 0);
    check_gemm<256, 384, 1, 1, 128>(200, 0);
    check_gemm<256, 384, 2, 1, 128>(131, 0);
    check_gemm<512, 200, 2, 1, 64>(70, 0);
    check_gemm<512, 384, 1, 2, 64>(99, 0);
    check_gemm<512, 384, 2, 4, 128>(300, 0);
    check_gemm<256, 384, 4, 1, 128>(131, 0); /* GeGLU (EPI 4): the SwiGLU paths with gelu_tanh */
    check_gemm<512, 384, 4, 4, 128>(300, 0);
    std::vector<Seq> ragged = {{0, 70}, {130, 5}, {0, 1}, {37, 100}, {200, 64}, {5, 1}, {0, 33}};
    check_flash<32, 8, 64, 0>(ragged, 0);
    check_flash<32, 8, 128, 0>(ragged, 0);
    check_flash<32, 8, 64, 48>(ragged, 0);
    check_flash<8, 8, 128, 0>({{0, 300}}, 0);
    check_flash<16, 2, 64, 0>({{3, 129}, {0, 2}}, 0);
    check_flash<32, 8, 64, 0, 1>(dsteps, 0);
    check_flash<32, 8, 128, 0, 1>(dsteps, 0);
    check_flash<32, 8, 64, 48, 1>(dsteps, 0);
    check_flash<8, 8, 128, 0, 1>({{4000, 1}, {17, 1}}, 0);
    check_flash<16, 2, 64, 0, 1>({{3, 40}, {0, 2}, {600, 22}}, 0);
    check_flash<32, 4, 32, 0, 1>(dsteps, 0);
    /* paged_attn_tc, both score layouts: the same steps, windows, heads, formats (tc_checks) */
    tc_checks<4>(dsteps);
    tc_checks<5>(dsteps);
    check_flash<32, 8, 128, 48, 1>({{3000, 1}}, 0); /* one token (the early K/V loads), a window */
    check_flash<16, 2, 64, 0, 1>({{9, 1}}, 0);
    /* the quantized KV formats (keys and values each): prefill, decode, the per-token kernel */
    check_flash<32, 8, 128, 0, 0, FMT_INT8, FMT_INT8>(ragged, 0);
    check_flash<32, 8, 64, 48, 0, FMT_INT4, FMT_INT4>(ragged, 0);
    check_flash<32, 8, 128, 0, 0, FMT_KV_FP8, FMT_F16>(ragged, 0);
    check_flash<16, 2, 64, 0, 0, FMT_INT8, FMT_INT4>({{3, 129}, {0, 2}}, 0);
    check_flash<32, 8, 128, 0, 1, FMT_INT8, FMT_INT8>(dsteps, 0);
    check_flash<32, 8, 128, 0, 1, FMT_INT4, FMT_INT4>(dsteps, 0);
    check_flash<32, 8, 128, 0, 1, FMT_KV_FP8, FMT_KV_FP8>(dsteps, 0);
    check_flash<32, 8, 64, 48, 1, FMT_INT8, FMT_INT4>(dsteps, 0);
    check_flash<16, 2, 64, 0, 1, FMT_F16, FMT_INT8>({{3, 40}, {0, 2}, {600, 22}}, 0);
    check_flash<32, 8, 128, 48, 1, FMT_INT4, FMT_INT4>({{3000, 1}}, 0); /* one token: the early loads */
    check_flash<8, 4, 8, 0, 1, FMT_INT4, FMT_KV_FP8>(dsteps, 0);        /* heads of 8 */
    check_flash<6, 6, 48, 0, 2, FMT_INT8, FMT_INT4>(dsteps, 0);
    check_flash<8, 4, 8, 0, 3, FMT_KV_FP8, FMT_INT8>(ragged, 0);
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
        check_gemm<512, 384, 4, 1, 128, 64, 3, 1>(131, 0); /* GeGLU on wgmma */
    }
    /* attention of head sizes that are not powers of two (decode: the per-token kernel's parts and
     * attn_combine) or have no tensor-core tile (long steps: the per-token kernel, one part) */
    check_flash<8, 4, 8, 0, 1>(dsteps, 0);          /* stories260K decode: heads of 8 */
    check_flash<8, 4, 8, 0, 3>(ragged, 0);          /* its prefill */
    check_flash<6, 6, 48, 0, 2>(dsteps, 0);         /* stories15M */
    check_flash<6, 6, 48, 0, 3>(ragged, 0);
    check_flash<32, 32, 96, 0, 2>(dsteps, 0);
    check_flash<16, 4, 80, 48, 2>({{3, 40}, {0, 2}, {600, 22}}, 0);
    check_flash<16, 2, 40, 48, 3>(ragged, 0);
    check_flash<8, 4, 256, 0, 3>({{0, 100}, {30, 70}}, 0);
    check_flash<8, 4, 256, 0, 1>({{300, 3}, {0, 1}}, 0);
    /* gemv, gemv_b1, gemm_tc, rows_to_half, norms, elementwise, rope, the KV writers, embedding,
     * select_rows, argmax: element by element */
    check_rest();
    binv_checks(); /* --batch-invariant: gemv's rows bit for bit alone and in any grid */
    check_families();
    qmma_checks(prop.multiProcessorCount); /* gemm_q */
    /* Gemma 2: soft-capped attention scores, prefill and decode kernels */
    check_flash<8, 4, 64, 48>(ragged, 0, 5.0f);
    check_flash<8, 4, 64, 0, 1>(dsteps, 0, 5.0f); /* (paged_attn_tc's: tc_checks) */
    check_flash<8, 4, 80, 0, 2>(dsteps, 0, 5.0f);
    check_flash<8, 4, 80, 0, 3>(ragged, 0, 5.0f);
    check_flash<16, 8, 256, 0, 1>({{300, 3}, {0, 1}}, 0, 5.0f); /* gemma-2-9b: heads of 256 (no flash tile) */
    check_flash<16, 8, 256, 48, 3>({{0, 100}, {30, 70}}, 0, 5.0f);
    if (argc > 1 && strcmp(argv[1], "checks") == 0) /* `kernel_check checks`: every check above, no timings */
        return summary();
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
    check_flash<32, 8, 64, 0, 4>({{575, 1}}, 50);
    check_flash<32, 8, 128, 0, 2>({{575, 1}}, 50);
    check_flash<32, 8, 128, 0, 1>({{575, 1}}, 50);
    check_flash<32, 8, 128, 0, 4>({{575, 1}}, 50);
    check_flash<32, 8, 128, 0, 2>({{4095, 1}}, 50);
    check_flash<32, 8, 128, 0, 1>({{4095, 1}}, 50);
    check_flash<32, 8, 128, 0, 4>({{4095, 1}}, 50);
    check_flash<32, 8, 128, 0, 2>(std::vector<Seq>(16, Seq{575, 1}), 50);
    check_flash<32, 8, 128, 0, 1>(std::vector<Seq>(16, Seq{575, 1}), 50);
    check_flash<32, 8, 128, 0, 4>(std::vector<Seq>(16, Seq{575, 1}), 50);
    check_flash<32, 8, 128, 0>({{0, 512}}, 20);
    /* the quantized KV formats: the 8B's decode at batch 16, context 4096, and its prefill */
    check_flash<32, 8, 128, 0, 1>(std::vector<Seq>(16, Seq{4095, 1}), 50);
    check_flash<32, 8, 128, 0, 1, FMT_KV_FP8, FMT_KV_FP8>(std::vector<Seq>(16, Seq{4095, 1}), 50);
    check_flash<32, 8, 128, 0, 1, FMT_INT8, FMT_INT8>(std::vector<Seq>(16, Seq{4095, 1}), 50);
    check_flash<32, 8, 128, 0, 1, FMT_INT4, FMT_INT4>(std::vector<Seq>(16, Seq{4095, 1}), 50);
    check_flash<32, 8, 128, 0, 4>(std::vector<Seq>(16, Seq{4095, 1}), 50);
    check_flash<32, 8, 128, 0, 4, FMT_KV_FP8, FMT_KV_FP8>(std::vector<Seq>(16, Seq{4095, 1}), 50);
    check_flash<32, 8, 128, 0, 4, FMT_INT8, FMT_INT8>(std::vector<Seq>(16, Seq{4095, 1}), 50);
    check_flash<32, 8, 128, 0, 4, FMT_INT4, FMT_INT4>(std::vector<Seq>(16, Seq{4095, 1}), 50);
    check_flash<32, 8, 128, 0, 0, FMT_INT8, FMT_INT8>({{0, 512}}, 20);
    check_flash<32, 8, 128, 0, 0, FMT_INT4, FMT_INT4>({{0, 512}}, 20);
    return summary();
}
