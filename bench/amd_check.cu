/* amd_check.cu — the AMD path's own kernels, gemm_mx (codegen/cuda_mx.cuh), flash_mx
 * (codegen/cuda_attn_prefill.cuh) and moe_expert_mx (codegen/cuda_moe.cuh), run on an NVIDIA GPU
 * against host references, in each of their matrix flavours: WMMA (RDNA's wave32 fragments, emulated
 * by lane shuffles), MFMA (CDNA's wave64 fragments, emulated by warp pairs through shared memory)
 * and, for the matmuls, plain FMAs. What an AMD image runs differs from this in the matrix
 * instruction itself (the emulation follows AMD's documented fragment layouts) and in the lane
 * primitives (gpu_port_amd.cuh; flash_mx's reduction across a wave64's halves is ds_bpermute there,
 * shared memory here); the tiling, the fragments each lane gathers, where each sum lands, the
 * softmax and the epilogues are the same code. The other kernels of the AMD path are the NVIDIA
 * path's own (kernel_check.cu checks them); end to end, bench/gpu_round.sh WHAT=amd runs stories260K
 * built for the amd-on-sm_90 target. bench/amd_simt.cc runs flash_mx and moe_expert_mx on a CPU.
 *
 * Built with the AMD path on (gpu_port.cuh LLMC_AMD_PATH) by scripts/gpu_carry.sh, or on the device
 * by bench/gpu_round.sh WHAT=amd (nvcc takes minutes: the emulated steps unroll):
 *   nvcc -O2 -std=c++17 -arch=sm_90 -DLLMC_AMD_PATH=1 -I ir -o amd_check bench/amd_check.cu && ./amd_check
 * gemm_mx: K from 64 to 2048, N a multiple of 64 or not (rows past the matrix), SwiGLU (gate and up
 * halves in one tile), T ragged (tiles past the rows); bf16 and f16; every epilogue (bias, residual,
 * SwiGLU). Tolerance: the f32 sums of exact products against double, relative RMS 1e-4 (as gemm_h's
 * check). flash_mx: see check_fmx; moe_expert_mx: check_moe_mx. One line a check; the last line
 * counts the failures (exit status 1 if any).
 */
#include "../codegen/cuda_attn_prefill.cuh"
#include "../codegen/cuda_moe.cuh"
#include "../codegen/cuda_mx.cuh"
#include "../ir/kv_formats.h" /* the KV cache's reference rows (the cpu target's): kv_put_rows, kv_get_row */
#include "bench_weights.h"
#include "flash_ref.h"

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

/* ---- flash_mx: long steps' attention on the matrix cores ---- */
constexpr int AL = 2, ABS = 16; /* layers in the pool (the check reads layer 1), positions a block */
/* K/V tile positions and dynamic LDS, as cuda_attention.c's flash_mx_kernel chooses them */
__host__ __device__ constexpr int fmx_hdp(int hd) { return (hd + 15) / 16 * 16; }
__host__ __device__ constexpr int fmx_lds(int hd, int kt) { return ((64 + kt) * (fmx_hdp(hd) + 8) + fmx_hdp(hd) * (kt + 8)) * 2; }
__host__ __device__ constexpr int fmx_kt(int hd, int kt = 64)
{
    return kt > 16 && fmx_lds(hd, kt) + 1024 > 64 * 1024 ? fmx_kt(hd, kt / 2) : kt;
}
template <int KF, int VF, int HQ, int HKV, int HD, int WIN, int MX>
__global__ void __launch_bounds__(128) k_fmx(const int32_t *pos, const int32_t *seq, const int32_t *tables, int mbs,
                                             const uint8_t *kv, const float *q, float *y, int T, const float *kvs,
                                             float scale, float cap)
{
    flash_mx<KF, VF, AL, ABS, HQ, HKV, HD, HQ * HD + 8, HQ * HD, WIN, fmx_kt(HD), MX>(pos, seq, tables, mbs, kv, q, y, T, 1,
                                                                                      scale, kvs, cap);
}

static const char *kvname(int f)
{
    return f == FMT_F16 ? "f16" : f == FMT_KV_FP8 ? "fp8" : f == FMT_INT8 ? "int8" : f == FMT_INT4 ? "int4" : "?";
}

struct Seq {
    int start, n; /* positions already cached, tokens in this step */
};

/* A step of several sequences (ragged: tokens of several of them share the kernel's 64-token tiles)
 * over a pool of shuffled blocks whose rows (random, never zero) the cpu target's writer stored in
 * KF/VF (ir/kv_formats.h, fp8 with scales per layer and KV head); q random; the reference reads the
 * rows back as the cpu target does and sums in double (causal, the window, the soft-cap). Tolerance:
 * Q and P rounded to f16 (and the quantized rows' values to f16) with f32 sums, relative RMS 5e-3
 * (as kernel_check's flash_prefill). Rows past T and the other heads' columns must stay unwritten. */
template <int HQ, int HKV, int HD, int WIN, int MX, int KF = FMT_F16, int VF = FMT_F16>
static void check_fmx(const std::vector<Seq> &seqs, float cap = 0.0f)
{
    constexpr int SQ = HQ * HD + 8, SY = HQ * HD, G = HQ / HKV;
    const float scale = (float)(1.0 / sqrt((double)HD));
    const int ns = (int)seqs.size();
    int T = 0, mbs = 0;
    for (auto &s : seqs) {
        T += s.n;
        const int nb = (s.start + s.n + ABS - 1) / ABS;
        mbs = nb > mbs ? nb : mbs;
    }
    const int nblocks = ns * mbs + 3;
    std::vector<int32_t> perm(nblocks), tables((size_t)ns * mbs, -1), pos(T), seq(T);
    for (int i = 0; i < nblocks; i++)
        perm[i] = i;
    for (int i = nblocks - 1; i > 0; i--) { /* shuffled blocks */
        const int j = (int)((urand() + 1.0) * 0.5 * (i + 1)) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int s = 0, used = 0, t = 0; s < ns; s++) {
        const int nb = (seqs[s].start + seqs[s].n + ABS - 1) / ABS;
        for (int b = 0; b < nb; b++)
            tables[(size_t)s * mbs + b] = perm[used++];
        for (int i = 0; i < seqs[s].n; i++, t++) {
            pos[t] = seqs[s].start + i;
            seq[t] = s;
        }
    }
    const size_t kvn = (size_t)nblocks * kv_block_bytes(KF, VF, AL, ABS, HKV, HD);
    std::vector<float> hs((size_t)AL * 2 * HKV); /* fp8's scales: around 1/64, powers of two and not */
    for (auto &v : hs)
        v = (float)(1.0 / 64 * (1.25 + 0.75 * urand()));
    std::vector<uint8_t> hkv(kvn);
    {
        std::vector<float> x((size_t)HKV * HD);
        for (int b = 0; b < nblocks; b++)
            for (int l = 0; l < AL; l++)
                for (int w = 0; w < 2; w++)
                    for (int off = 0; off < ABS; off++) {
                        for (auto &v : x)
                            v = (float)nzrand(1.0);
                        kv_put_rows(w ? VF : KF, w, ABS, HKV, HD, &hkv[kv_sec_at(KF, VF, AL, ABS, HKV, HD, b, l, w)], off,
                                    x.data(), &hs[((size_t)l * 2 + w) * HKV]);
                    }
    }
    auto row = [&](int blk, int w, int off, int kh, float *buf) {
        return kv_get_row(w ? VF : KF, w, ABS, HKV, HD, &hkv[kv_sec_at(KF, VF, AL, ABS, HKV, HD, blk, 1, w)], off, kh, buf,
                          hs[((size_t)1 * 2 + w) * HKV + kh]);
    };
    std::vector<float> hq((size_t)T * SQ), hy((size_t)T * SY);
    for (auto &v : hq)
        v = (float)nzrand(2.0);
    int32_t *dpos, *dseq, *dtab;
    uint8_t *dkv;
    float *dq, *dy, *dkvs;
    CK(cudaMalloc(&dpos, T * 4));
    CK(cudaMalloc(&dseq, T * 4));
    CK(cudaMalloc(&dtab, tables.size() * 4));
    CK(cudaMalloc(&dkv, kvn));
    CK(cudaMalloc(&dq, hq.size() * 4));
    CK(cudaMalloc(&dy, (hy.size() + 64 * SY) * 4)); /* and a tile's rows past T: never written */
    CK(cudaMalloc(&dkvs, hs.size() * 4));
    CK(cudaMemcpy(dpos, pos.data(), T * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dseq, seq.data(), T * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dtab, tables.data(), tables.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dkv, hkv.data(), kvn, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dq, hq.data(), hq.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dkvs, hs.data(), hs.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemset(dy, 0xff, (hy.size() + 64 * SY) * 4)); /* NaN: a value not written fails */
    const float *kvs = KF == FMT_KV_FP8 || VF == FMT_KV_FP8 ? dkvs : nullptr;
    constexpr int smem = fmx_lds(HD, fmx_kt(HD));
    static_assert(smem + 1024 <= 64 * 1024, "flash_mx: the AMD targets' LDS");
    CK(cudaFuncSetAttribute(k_fmx<KF, VF, HQ, HKV, HD, WIN, MX>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    k_fmx<KF, VF, HQ, HKV, HD, WIN, MX><<<dim3((T + 63) / 64, HQ), 128, smem>>>(dpos, dseq, dtab, mbs, dkv, dq, dy, T, kvs,
                                                                               scale, cap);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    std::vector<float> past((size_t)64 * SY);
    CK(cudaMemcpy(hy.data(), dy, hy.size() * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(past.data(), dy + hy.size(), past.size() * 4, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    int64_t unwritten = 0, stray = 0;
    for (float v : past)
        stray += v == v;
    unwritten += flash_ref_err(T, HQ, G, HD, WIN, SQ, SY, seq.data(), pos.data(), tables.data(), mbs, ABS, row, hq.data(),
                               hy.data(), scale, cap, num, den);
    char what[200];
    snprintf(what, sizeof what, "flash_mx %s kv %s,%s HQ=%d HKV=%d HD=%d win=%d%s: %d seqs, T=%d", mx_name(MX), kvname(KF),
             kvname(VF), HQ, HKV, HD, WIN, cap > 0 ? " softcap" : "", ns, T);
    verdict(what, sqrt(num / den), 5e-3, unwritten + stray);
    cudaFree(dpos);
    cudaFree(dseq);
    cudaFree(dtab);
    cudaFree(dkv);
    cudaFree(dq);
    cudaFree(dy);
    cudaFree(dkvs);
}

/* Head sizes 8 (stories260K's: padded to 16), 64, 96, 128 and 256 (tiles of 16 positions); GQA ratios
 * 1 to 8; windows (shorter and longer than a tile) and soft-caps; every KV format flash_mx reads. */
template <int MX>
static void check_fmx_flavour(void)
{
    const std::vector<Seq> ragged = {{0, 100}, {37, 70}, {5, 1}, {200, 64}, {0, 3}};
    check_fmx<8, 4, 8, 0, MX>({{0, 80}, {3, 70}});                 /* stories260K's heads, a prompt of 80 */
    check_fmx<8, 2, 64, 0, MX>(ragged);                            /* GQA 4 */
    check_fmx<8, 1, 128, 0, MX>(ragged);                           /* GQA 8 */
    check_fmx<4, 4, 64, 48, MX>(ragged);                           /* GQA 1, a window shorter than a tile */
    check_fmx<6, 2, 96, 100, MX>({{0, 150}, {300, 90}});           /* GQA 3, heads of 96, a window of 100 */
    check_fmx<4, 2, 256, 0, MX>({{0, 130}, {10, 20}}, 30.0f);      /* heads of 256 (tiles of 16), soft-capped */
    check_fmx<8, 4, 256, 40, MX>({{100, 70}}, 50.0f);              /* a window, soft-capped (Gemma 2) */
    check_fmx<8, 8, 128, 0, MX, FMT_KV_FP8, FMT_KV_FP8>(ragged);   /* fp8 K and V */
    check_fmx<8, 2, 64, 0, MX, FMT_INT8, FMT_INT4>(ragged);        /* int8 keys, int4 values */
    check_fmx<8, 4, 8, 0, MX, FMT_INT4, FMT_KV_FP8>({{0, 80}});    /* int4 keys, fp8 values, heads of 8 */
}

/* ---- moe_expert_mx: the experts' matmuls of wide MoE steps (gemm_mx over each expert's rows) ----
 * The step's experts as moe_route leaves them (meta: n_active, cnt[E], off[E + 1], act[E]), some
 * experts unused, an expert with more than a row tile; random bf16/f16 rows and weights (never
 * zero); the emitter's grid plus one block past the experts in use; tolerance as gemm_mx's. */
template <int BF, int K, int N, int EPI, int E, int MX>
__global__ void __launch_bounds__(256) k_moe_mx(const int *meta, const uint16_t *w, const uint16_t *x, float *y)
{
    moe_expert_mx<BF, K, N, EPI, E, MX>(meta, w, x, y);
}
template <int BF, int K, int N, int EPI, int E, int MX>
static void check_moe_mx(const std::vector<int> &cnt, int T)
{
    constexpr int NO = EPI == 2 ? N / 2 : N;
    auto enc = [](double v) { return BF ? h_bf16((float)v) : h_f16((float)v); };
    auto dec = [](uint16_t h) { return BF ? (double)h_bf16f(h) : (double)h_f16f(h); };
    std::vector<int> meta(1 + E + E + 1 + E, 0);
    int rows = 0, na = 0;
    for (int e = 0; e < E; e++) {
        meta[1 + e] = cnt[e];
        meta[1 + E + e] = rows;
        rows += cnt[e];
        if (cnt[e])
            meta[1 + E + E + 1 + na++] = e;
    }
    meta[1 + E + E] = rows;
    meta[0] = na;
    std::vector<uint16_t> hw((size_t)E * N * K), hx((size_t)rows * K);
    for (auto &v : hw)
        v = enc(nzrand(0.05));
    for (auto &v : hx)
        v = enc(nzrand(1.0));
    std::vector<float> hy((size_t)(rows + 64) * NO);
    int *dm;
    uint16_t *dw, *dx;
    float *dy;
    CK(cudaMalloc(&dm, meta.size() * 4));
    CK(cudaMalloc(&dw, hw.size() * 2));
    CK(cudaMalloc(&dx, hx.size() * 2));
    CK(cudaMalloc(&dy, hy.size() * 4));
    CK(cudaMemcpy(dm, meta.data(), meta.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dw, hw.data(), hw.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dx, hx.data(), hx.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemset(dy, 0xff, hy.size() * 4)); /* NaN */
    dim3 grid((T + 63) / 64, EPI == 2 ? (N / 2 + 31) / 32 : (N + 63) / 64, na < E ? na + 1 : E);
    k_moe_mx<BF, K, N, EPI, E, MX><<<grid, 256>>>(dm, dw, dx, dy);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(hy.data(), dy, hy.size() * 4, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    int64_t bad = 0;
    for (size_t i = (size_t)rows * NO; i < hy.size(); i++)
        bad += hy[i] == hy[i]; /* past the grouped rows: never written */
    std::vector<double> acc(N);
    for (int e = 0; e < E; e++)
        for (int r = meta[1 + E + e]; r < meta[1 + E + e] + cnt[e]; r++) {
            for (int n = 0; n < N; n++) {
                double sum = 0;
                for (int k = 0; k < K; k++)
                    sum += dec(hx[(size_t)r * K + k]) * dec(hw[((size_t)e * N + n) * K + k]);
                acc[n] = sum;
            }
            for (int o = 0; o < NO; o++) {
                const double ref = EPI == 2 ? acc[o] / (1.0 + exp(-acc[o])) * acc[o + N / 2] : acc[o];
                const double got = hy[(size_t)r * NO + o];
                bad += got != got;
                num += (got - ref) * (got - ref);
                den += ref * ref;
            }
        }
    char what[160];
    snprintf(what, sizeof what, "moe_expert_mx %s %s K=%d N=%d epi=%d E=%d: %d rows, %d experts", mx_name(MX),
             BF ? "bf16" : "f16", K, N, EPI, E, rows, na);
    verdict(what, sqrt(num / den), 1e-4, bad);
    cudaFree(dm);
    cudaFree(dw);
    cudaFree(dx);
    cudaFree(dy);
}

template <int MX>
static void check_moe_flavour(void)
{
    check_moe_mx<1, 64, 128, 2, 8, MX>({70, 0, 3, 65, 0, 1, 0, 21}, 70); /* gate/up, SwiGLU; experts unused */
    check_moe_mx<0, 96, 64, 0, 4, MX>({9, 0, 130, 40}, 130);             /* down, f16, two row tiles */
    check_moe_mx<1, 256, 200, 2, 16, MX>({5, 17, 0, 0, 64, 1, 2, 3, 0, 9, 9, 9, 0, 0, 40, 1}, 64); /* N/2 not a tile */
}

int main(void)
{
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    printf("device %s (sm_%d%d)\n", p.name, p.major, p.minor);
    check_flavour<LLMC_MX_WMMA>();
    check_flavour<LLMC_MX_MFMA>();
    check_flavour<LLMC_MX_NONE>();
    check_fmx_flavour<LLMC_MX_WMMA>();
    check_fmx_flavour<LLMC_MX_MFMA>();
    check_moe_flavour<LLMC_MX_WMMA>();
    check_moe_flavour<LLMC_MX_MFMA>();
    check_moe_flavour<LLMC_MX_NONE>();
    printf("%s: %d of %d checks failed\n", failures ? "FAIL" : "PASS", failures, checks);
    return failures ? 1 : 0;
}
