/* amd_simt.cc — flash_mx (codegen/cuda_attn_prefill.cuh, the AMD path's prefill attention) run on the
 * CPU, the kernel's own source under a small SIMT emulation of one block at a time, against a double
 * reference: for a machine with no GPU (bench/amd_check.cu runs the same checks on an NVIDIA GPU).
 *
 * The emulation is a portability layer of its own (it stands in for gpu_port.cuh, whose include guard
 * it takes): each of the block's 128 threads is a coroutine (ucontext) run by one OS thread, switched
 * only at a barrier, so the block's shared memory is plain memory; __syncthreads, the named barriers
 * of cuda_mx.cuh's wave64 emulation (bar_named) and the warp shuffles (two barriers of the warp around
 * an exchange through memory) are barriers that yield until every participant arrived. The matrix
 * steps are cuda_mx.cuh's NVIDIA emulation of AMD's fragments (WMMA by shuffles, MFMA by two warps
 * through shared memory), so what runs is exactly the code an amd-on-sm_90 image runs, lane by lane;
 * only the clock differs (the checks below take about 30 s of CPU, half of it in swapcontext's system
 * calls).
 *
 *   c++ -std=c++17 -O2 -fno-strict-aliasing -Wno-unknown-pragmas -I ir -o amd_simt bench/amd_simt.cc && ./amd_simt
 *
 * Checks: heads of 8 (padded to 16), 16, 64 and 256 (tiles of 16 positions), GQA 1, 2, 3 and 8, a
 * window, a soft-cap, f16, fp8 and int8/int4 caches; ragged sequences sharing tiles over shuffled
 * block tables; rows past T must stay unwritten (NaN). The last line counts the failures (exit 1).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <vector>

/* ---- the emulated block ---- */
constexpr int SIMT_THREADS = 256; /* the most threads a block */
struct SimtDim3 {
    uint32_t x, y, z;
};
struct SimtBar { /* a barrier of n participants; gen counts its releases */
    int count, gen;
};
struct SimtThread {
    ucontext_t ctx;
    SimtDim3 tid;
    const SimtBar *wait_on; /* the barrier it waits for, and its generation then */
    int wait_gen, done;
};
static ucontext_t simt_sched;
static SimtThread simt_th[SIMT_THREADS];
static SimtThread *simt_cur;
static SimtDim3 simt_block, simt_bdim, simt_grid;
static SimtBar simt_bar_block, simt_bar_warp[SIMT_THREADS / 32], simt_bar_named[16];
static uint64_t simt_slot[SIMT_THREADS];
alignas(16) static uint8_t simt_smem[64 * 1024];

static void simt_wait(SimtBar &b, int n)
{
    const int g = b.gen;
    if (++b.count == n) {
        b.count = 0;
        b.gen++;
        return;
    }
    simt_cur->wait_on = &b;
    simt_cur->wait_gen = g;
    swapcontext(&simt_cur->ctx, &simt_sched);
}

#define LLMC_GPU_PORT_CUH /* this file is the portability layer */
#define LLMC_MX_NONE 0
#define LLMC_MX_MMA 1
#define LLMC_MX_WMMA 2
#define LLMC_MX_MFMA 3
#define LLMC_WARP_LOG2 5
#define LLMC_WARP (1 << LLMC_WARP_LOG2)
#define LLMC_AMD_PATH 1
#define LLMC_MX LLMC_MX_WMMA
#define LLMC_WAVE 32
#define LLMC_PTX 0
#define DEV static inline
#define __device__
#define __host__
#define __global__
#define __shared__ static /* function-local statics: one copy for the block's threads */
#define __align__(n) __attribute__((aligned(n)))
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define threadIdx (simt_cur->tid)
#define blockIdx (simt_block)
#define blockDim (simt_bdim)
#define gridDim (simt_grid)

struct uint4 {
    uint32_t x, y, z, w;
};
struct uint2 {
    uint32_t x, y;
};
struct float2 {
    float x, y;
};
struct float4 {
    float x, y, z, w;
};
DEV uint4 make_uint4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) { return {x, y, z, w}; }
DEV uint2 make_uint2(uint32_t x, uint32_t y) { return {x, y}; }
DEV float2 make_float2(float x, float y) { return {x, y}; }
DEV float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
DEV float __uint_as_float(uint32_t v)
{
    float f;
    memcpy(&f, &v, 4);
    return f;
}
DEV float __int_as_float(int v) { return __uint_as_float((uint32_t)v); }
DEV uint32_t __float_as_uint(float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    return v;
}
DEV int __float_as_int(float f) { return (int)__float_as_uint(f); }
DEV int __popc(uint32_t v) { return __builtin_popcount(v); }
DEV uint32_t __byte_perm(uint32_t x, uint32_t y, uint32_t s)
{
    const uint64_t v = (uint64_t)y << 32 | x;
    uint32_t r = 0;
    for (int i = 0; i < 4; i++)
        r |= (uint32_t)(v >> (8 * (s >> (4 * i) & 7)) & 0xffu) << (8 * i);
    return r;
}
template <class T>
DEV T __ldg(const T *p)
{
    return *p;
}
template <class T>
DEV T __ldcg(const T *p)
{
    return *p;
}
template <class T>
DEV T atomicAdd(T *p, T v)
{
    T o = *p;
    *p = o + v;
    return o;
}
DEV float __fmul_rn(float a, float b) { return a * b; }
DEV float __fadd_rn(float a, float b) { return a + b; }
DEV float __fsub_rn(float a, float b) { return a - b; }
DEV float __fdiv_rn(float a, float b) { return a / b; }
#define __expf expf
DEV float rsqrtf(float x) { return 1.0f / sqrtf(x); }
DEV int max(int a, int b) { return a > b ? a : b; }
DEV int min(int a, int b) { return a < b ? a : b; }
DEV void llmc_trap() { abort(); }
DEV void __syncthreads() { simt_wait(simt_bar_block, (int)simt_bdim.x); }
DEV void __threadfence() {}
DEV void bar_named(int id, int n) { simt_wait(simt_bar_named[id], n); }
DEV uint8_t *dyn_smem() { return simt_smem; }

template <class T>
DEV T simt_exchange(T v, int src_lane)
{
    static_assert(sizeof(T) <= 8, "shuffles of up to 8 bytes");
    const int t = (int)threadIdx.x, w = t / 32;
    uint64_t u = 0;
    memcpy(&u, &v, sizeof v);
    simt_slot[t] = u;
    simt_wait(simt_bar_warp[w], 32);
    u = simt_slot[w * 32 + src_lane];
    simt_wait(simt_bar_warp[w], 32);
    T r;
    memcpy(&r, &u, sizeof r);
    return r;
}
template <class T>
DEV T shfl_xor(T v, int o)
{
    return simt_exchange(v, ((int)threadIdx.x & 31) ^ o);
}
template <class T>
DEV T shfl_idx(T v, int src)
{
    return simt_exchange(v, src);
}
DEV uint32_t warp_ballot(int p)
{
    uint32_t r = 0;
    for (int l = 0; l < 32; l++)
        r |= (uint32_t)(simt_exchange(p != 0, l) ? 1u : 0u) << l;
    return r;
}
DEV uint32_t warp_max_u32(uint32_t v)
{
    for (int o = 16; o > 0; o >>= 1) {
        const uint32_t w = shfl_xor(v, o);
        v = v > w ? v : w;
    }
    return v;
}
DEV int warp_min_i32(int v)
{
    for (int o = 16; o > 0; o >>= 1) {
        const int w = shfl_xor(v, o);
        v = v < w ? v : w;
    }
    return v;
}

struct u4 {
    uint32_t x, y, z, w;
};
DEV u4 ld16_stream(const void *p)
{
    u4 r;
    memcpy(&r, p, 16);
    return r;
}
DEV u4 ld16_cg(const void *p) { return ld16_stream(p); }
DEV uint32_t ld2_stream(const void *p) { return *(const uint16_t *)p; }
DEV uint32_t ld2_cg(const void *p) { return *(const uint16_t *)p; }
DEV uint32_t ld4_stream(const void *p) { return *(const uint32_t *)p; }
DEV uint32_t ld4_cg(const void *p) { return *(const uint32_t *)p; }
DEV void ld8_stream(const void *p, uint32_t &a, uint32_t &b)
{
    a = ((const uint32_t *)p)[0];
    b = ((const uint32_t *)p)[1];
}
DEV void ld8_cg(const void *p, uint32_t &a, uint32_t &b) { ld8_stream(p, a, b); }

/* f16 by the compiler's _Float16 (round to nearest even), bf16 by bits */
DEV float f16_to_f32(uint16_t h)
{
    _Float16 v;
    memcpy(&v, &h, 2);
    return (float)v;
}
DEV uint16_t f32_to_f16(float f)
{
    _Float16 v = (_Float16)f;
    uint16_t h;
    memcpy(&h, &v, 2);
    return h;
}
DEV uint16_t f32_to_bf16(float f)
{
    const uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)(u >> 16 | 0x40u);
    return (uint16_t)((u + 0x7fffu + (u >> 16 & 1u)) >> 16);
}
DEV uint32_t and_or(uint32_t a, uint32_t b, uint32_t c) { return (a & b) | c; }
DEV uint32_t simt_h2(float lo, float hi) { return (uint32_t)f32_to_f16(lo) | (uint32_t)f32_to_f16(hi) << 16; }
DEV uint32_t hsub2(uint32_t a, uint32_t b)
{
    return simt_h2(f16_to_f32((uint16_t)a) - f16_to_f32((uint16_t)b), f16_to_f32((uint16_t)(a >> 16)) - f16_to_f32((uint16_t)(b >> 16)));
}
DEV uint32_t hfma2(uint32_t a, uint32_t b, uint32_t c)
{
    return simt_h2(fmaf(f16_to_f32((uint16_t)a), f16_to_f32((uint16_t)b), f16_to_f32((uint16_t)c)),
                   fmaf(f16_to_f32((uint16_t)(a >> 16)), f16_to_f32((uint16_t)(b >> 16)), f16_to_f32((uint16_t)(c >> 16))));
}
DEV uint32_t hmul2_(uint32_t a, uint32_t b)
{
    return simt_h2(f16_to_f32((uint16_t)a) * f16_to_f32((uint16_t)b), f16_to_f32((uint16_t)(a >> 16)) * f16_to_f32((uint16_t)(b >> 16)));
}
DEV void h2_to_f32(uint32_t h, float &lo, float &hi)
{
    lo = f16_to_f32((uint16_t)h);
    hi = f16_to_f32((uint16_t)(h >> 16));
}
DEV int atomic_add_acq_rel(int *p, int v) { return atomicAdd(p, v); }
DEV void grid_release() {}
DEV void grid_acquire() {}
DEV void pdl_release() {}
DEV void pdl_wait() {}
DEV void cp_async16(void *dst, const void *src, int bytes)
{
    memset(dst, 0, 16);
    memcpy(dst, src, (size_t)(bytes < 16 ? bytes : 16));
}
DEV void cp_async_commit() {}
DEV void cp_async_wait1() {}
DEV void cp_async_wait0() {}
template <int NW>
DEV void cp_async_wait()
{
}

#include "../codegen/cuda_attn_prefill.cuh"
#include "../codegen/cuda_moe.cuh"
#include "../ir/kv_formats.h"
#include "flash_ref.h"
#include "../ir/moe_route.h" /* the routing reference (the interpreter's): llmc_moe_route */

/* Runs fn(), the kernel's body, for every block of grid (x, y, z): the block's `threads` threads as
 * coroutines, each resumed when the barrier it waits for is released. */
static void (*simt_fn)(void);
static void simt_entry(void)
{
    simt_fn();
    simt_cur->done = 1;
}
static void simt_launch(SimtDim3 grid, int threads, void (*fn)(void))
{
    static std::vector<char> stacks((size_t)SIMT_THREADS * 256 * 1024);
    simt_grid = grid;
    simt_bdim = {(uint32_t)threads, 1, 1};
    simt_fn = fn;
    for (uint32_t bz = 0; bz < grid.z; bz++)
    for (uint32_t by = 0; by < grid.y; by++)
        for (uint32_t bx = 0; bx < grid.x; bx++) {
            simt_block = {bx, by, bz};
            simt_bar_block = {0, 0};
            for (auto &b : simt_bar_warp)
                b = {0, 0};
            for (auto &b : simt_bar_named)
                b = {0, 0};
            for (int t = 0; t < threads; t++) {
                SimtThread &th = simt_th[t];
                th.tid = {(uint32_t)t, 0, 0};
                th.wait_on = nullptr;
                th.done = 0;
                getcontext(&th.ctx);
                th.ctx.uc_stack.ss_sp = &stacks[(size_t)t * 256 * 1024];
                th.ctx.uc_stack.ss_size = 256 * 1024;
                th.ctx.uc_link = &simt_sched;
                makecontext(&th.ctx, simt_entry, 0);
            }
            for (int live = threads; live > 0;) {
                int progress = 0;
                live = 0;
                for (int t = 0; t < threads; t++) {
                    SimtThread &th = simt_th[t];
                    if (th.done)
                        continue;
                    live++;
                    if (th.wait_on && th.wait_on->gen == th.wait_gen)
                        continue; /* still waiting */
                    th.wait_on = nullptr;
                    simt_cur = &th;
                    swapcontext(&simt_sched, &th.ctx);
                    progress = 1;
                }
                if (live && !progress) {
                    fprintf(stderr, "amd_simt: block (%u, %u): every thread waits (a barrier some never reach)\n", bx, by);
                    exit(2);
                }
            }
        }
}

/* ---- flash_mx against a double reference ---- */
constexpr int AL = 2, ABS = 16; /* layers in the pool (the check reads layer 1), positions a block */
constexpr int fmx_hdp(int hd) { return (hd + 15) / 16 * 16; }
constexpr int fmx_lds(int hd, int kt) { return ((64 + kt) * (fmx_hdp(hd) + 8) + fmx_hdp(hd) * (kt + 8)) * 2; }
constexpr int fmx_kt(int hd, int kt = 64) { return kt > 16 && fmx_lds(hd, kt) + 1024 > 64 * 1024 ? fmx_kt(hd, kt / 2) : kt; }

struct FmxArgs {
    const int32_t *pos, *seq, *tables;
    int mbs, T;
    const uint8_t *kv;
    const float *q, *kvs;
    float *y, scale, cap;
};
static FmxArgs fx_args;
template <int KF, int VF, int HQ, int HKV, int HD, int WIN, int MX>
static void k_fmx(void)
{
    flash_mx<KF, VF, AL, ABS, HQ, HKV, HD, HQ * HD + 8, HQ * HD, WIN, fmx_kt(HD), MX>(
        fx_args.pos, fx_args.seq, fx_args.tables, fx_args.mbs, fx_args.kv, fx_args.q, fx_args.y, fx_args.T, 1, fx_args.scale, fx_args.kvs, fx_args.cap);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void) /* [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / (double)(1ull << 52) - 1.0;
}
static double nzrand(double s)
{
    const double v = urand() * s;
    return v != 0.0 ? v : s * 0.5;
}
static const char *kvname(int f)
{
    return f == FMT_F16 ? "f16" : f == FMT_KV_FP8 ? "fp8" : f == FMT_INT8 ? "int8" : f == FMT_INT4 ? "int4" : "?";
}
static int failures, checks;

struct Seq {
    int start, n; /* positions already cached, tokens in this step */
};

template <int HQ, int HKV, int HD, int WIN, int MX, int KF = FMT_F16, int VF = FMT_F16>
static void check_fmx(const std::vector<Seq> &seqs, float cap = 0.0f)
{
    constexpr int SQ = HQ * HD + 8, SY = HQ * HD, G = HQ / HKV;
    static_assert(fmx_lds(HD, fmx_kt(HD)) <= (int)sizeof simt_smem, "the LDS");
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
    for (int i = nblocks - 1; i > 0; i--) {
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
    std::vector<uint8_t> kv((size_t)nblocks * kv_block_bytes(KF, VF, AL, ABS, HKV, HD));
    std::vector<float> hs((size_t)AL * 2 * HKV);
    for (auto &v : hs)
        v = (float)(1.0 / 64 * (1.25 + 0.75 * urand()));
    {
        std::vector<float> x((size_t)HKV * HD);
        for (int b = 0; b < nblocks; b++)
            for (int l = 0; l < AL; l++)
                for (int w = 0; w < 2; w++)
                    for (int off = 0; off < ABS; off++) {
                        for (auto &v : x)
                            v = (float)nzrand(1.0);
                        kv_put_rows(w ? VF : KF, w, ABS, HKV, HD, &kv[kv_sec_at(KF, VF, AL, ABS, HKV, HD, b, l, w)], off,
                                    x.data(), &hs[((size_t)l * 2 + w) * HKV]);
                    }
    }
    std::vector<float> q((size_t)T * SQ), y((size_t)(T + 64) * SY, NAN);
    for (auto &v : q)
        v = (float)nzrand(2.0);
    fx_args = {pos.data(), seq.data(), tables.data(), mbs, T, kv.data(), q.data(),
          KF == FMT_KV_FP8 || VF == FMT_KV_FP8 ? hs.data() : nullptr, y.data(), (float)(1.0 / sqrt((double)HD)), cap};
    simt_launch({(uint32_t)(T + 63) / 64, HQ, 1}, 128, k_fmx<KF, VF, HQ, HKV, HD, WIN, MX>);
    auto row = [&](int blk, int w, int off, int kh, float *buf) {
        return kv_get_row(w ? VF : KF, w, ABS, HKV, HD, &kv[kv_sec_at(KF, VF, AL, ABS, HKV, HD, blk, 1, w)], off, kh, buf,
                          hs[((size_t)1 * 2 + w) * HKV + kh]);
    };
    double num = 0, den = 0;
    int64_t bad = 0;
    for (size_t i = (size_t)T * SY; i < y.size(); i++)
        bad += y[i] == y[i]; /* past T: never written */
    bad += flash_ref_err(T, HQ, G, HD, WIN, SQ, SY, seq.data(), pos.data(), tables.data(), mbs, ABS, row, q.data(), y.data(),
                         fx_args.scale, cap, num, den);
    const double err = sqrt(num / den);
    const int ok = err <= 5e-3 && bad == 0;
    printf("%s flash_mx %s kv %s,%s HQ=%d HKV=%d HD=%d win=%d%s: %d seqs, T=%d  rel.err %.2e (tol 5e-03)%s\n",
           ok ? "PASS" : "FAIL", MX == LLMC_MX_WMMA ? "WMMA" : "MFMA", kvname(KF), kvname(VF), HQ, HKV, HD, WIN,
           cap > 0 ? " softcap" : "", ns, T, err, bad ? " UNWRITTEN OR STRAY VALUES" : "");
    failures += !ok;
    checks++;
}

/* ---- moe_expert_mx: the experts' matmuls (gemm_mx over each expert's grouped rows) ----
 * The step's experts as moe_route leaves them (meta: n_active, cnt[E], off[E + 1], act[E]): each
 * expert's count of rows (cnt[e], 0 for an expert no token chose), its rows grouped in expert order;
 * random bf16/f16 rows and weights (never zero), a double reference, relative RMS 1e-4 (f32 sums
 * of exact products, as amd_check's gemm_mx); rows past the step's must stay unwritten. */
struct MoeArgs {
    const int *meta;
    const uint16_t *w, *x;
    float *y;
};
static MoeArgs mx_args;
template <int BF, int K, int N, int EPI, int E, int MX>
static void k_moe(void)
{
    moe_expert_mx<BF, K, N, EPI, E, MX>(mx_args.meta, mx_args.w, mx_args.x, mx_args.y);
}
static uint16_t h_half(double v, int bf)
{
    return bf ? f32_to_bf16((float)v) : f32_to_f16((float)v);
}
static double h_float(uint16_t h, int bf) { return bf ? (double)__uint_as_float((uint32_t)h << 16) : (double)f16_to_f32(h); }
template <int BF, int K, int N, int EPI, int E, int MX>
static void check_moe(const std::vector<int> &cnt, int T)
{
    constexpr int NO = EPI == 2 ? N / 2 : N;
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
    std::vector<uint16_t> w((size_t)E * N * K), x((size_t)rows * K);
    for (auto &v : w)
        v = h_half(nzrand(0.05), BF);
    for (auto &v : x)
        v = h_half(nzrand(1.0), BF);
    std::vector<float> y((size_t)(rows + 64) * NO, NAN);
    mx_args = {meta.data(), w.data(), x.data(), y.data()};
    /* the emitter's grid: row tiles of the step's rows, gemm_mx's column tiles, the pairs or E (one more
       here: a block past the experts in use returns) */
    simt_launch({(uint32_t)(T + 63) / 64, EPI == 2 ? (N / 2 + 31) / 32 : (N + 63) / 64, (uint32_t)(na < E ? na + 1 : E)},
                256, k_moe<BF, K, N, EPI, E, MX>);
    double num = 0, den = 0;
    int64_t bad = 0;
    for (size_t i = (size_t)rows * NO; i < y.size(); i++)
        bad += y[i] == y[i];
    std::vector<double> acc(N);
    for (int e = 0; e < E; e++)
        for (int r = meta[1 + E + e]; r < meta[1 + E + e] + cnt[e]; r++) {
            for (int n = 0; n < N; n++) {
                double sum = 0;
                for (int k = 0; k < K; k++)
                    sum += h_float(x[(size_t)r * K + k], BF) * h_float(w[((size_t)e * N + n) * K + k], BF);
                acc[n] = sum;
            }
            for (int o = 0; o < NO; o++) {
                const double ref = EPI == 2 ? acc[o] / (1.0 + exp(-acc[o])) * acc[o + N / 2] : acc[o];
                const double got = y[(size_t)r * NO + o];
                bad += got != got;
                num += (got - ref) * (got - ref);
                den += ref * ref;
            }
        }
    const double err = sqrt(num / den);
    const int ok = err <= 1e-4 && bad == 0;
    printf("%s moe_expert_mx %s %s K=%d N=%d epi=%d E=%d: %d rows, %d experts in use  rel.err %.2e (tol 1e-04)%s\n",
           ok ? "PASS" : "FAIL", MX == LLMC_MX_WMMA ? "WMMA" : "MFMA", BF ? "bf16" : "f16", K, N, EPI, E, rows, na, err,
           bad ? " UNWRITTEN OR STRAY VALUES" : "");
    failures += !ok;
    checks++;
}

/* ---- the one-token MoE block (moe_up_b1, moe_down_b1) ----
 * bf16 experts, random logits, rows, norm weights and residual (never zero): against a double
 * reference (the routing by the logits, ties aside; relative RMS 1e-5, f32 sums of exact products),
 * and bit for bit against the path of 2..8 rows at one row (moe_route with its gather, on 256
 * threads here; gemv; moe_combine). Under this emulation both are plain f32 arithmetic without
 * contraction; kernel_check moe compares them on the GPU. */
struct Moe1Args {
    const float *lg, *x, *nw, *res;
    const uint16_t *gu, *dn;
    float *h, *y, *wts, *xg, *o, *y2;
    int *meta;
};
static Moe1Args m1;
template <int E, int K, int NORM, int D, int F>
static void k_up1(void)
{
    moe_up_b1<FMT_BF16, E, K, NORM, D, 2 * F, 1, D, 4LL * F * D>(m1.lg, m1.x, m1.nw, 1e-6f, m1.gu, WQ{}, MoeSides{{0, 0, 0, 0}},
                                                             m1.h);
}
template <int E, int K, int NORM, int D, int F, int UB>
static void k_down1(void)
{
    moe_down_b1<FMT_BF16, E, K, NORM, F, D, 1, F, 2LL * D * F, UB>(m1.lg, m1.dn, WQ{}, MoeSides{{0, 0, 0, 0}}, m1.h, m1.y,
                                                                   m1.res);
}
template <int E, int K, int NORM, int D>
static void k_route1(void)
{
    moe_route<E, K, NORM, D, D, E, K, 1>(m1.lg, m1.x, 1, m1.meta, m1.wts, m1.xg, m1.nw, 1e-6f);
}
template <int E, int K, int D, int F, int EPI>
static void k_mm1(void)
{
    if (EPI == 2)
        moe_expert_mm<FMT_BF16, D, 2 * F, 1, 2, D, ORDER_ROW_MAJOR, E, 4LL * F * D>(m1.meta, m1.gu, WQ{}, MoeSides{{0, 0, 0, 0}},
                                                                             m1.xg, m1.h);
    else
        moe_expert_mm<FMT_BF16, F, D, 1, 0, F, ORDER_ROW_MAJOR, E, 2LL * D * F>(m1.meta, m1.dn, WQ{}, MoeSides{{0, 0, 0, 0}},
                                                                         m1.h, m1.o);
}
template <int E, int K, int D>
static void k_comb1(void)
{
    moe_combine<E, K, D, D, K, D>(m1.meta, m1.wts, m1.o, m1.y2, m1.res);
}
static float bf16f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }
template <int E, int K, int NORM, int D, int F, int FUSED>
static void check_moe1(const char *what)
{
    constexpr int UB = K < 4 ? (4 + K - 1) / K : 1; /* cuda_moe.c moe_b1 */
    std::vector<float> lg(E), x(D), nw(D), res(D), h((size_t)K * F, NAN), y(D + 8, NAN), y2(D + 8, NAN), wts(K),
        xg((size_t)K * D), o((size_t)K * D);
    std::vector<uint16_t> gu((size_t)E * 2 * F * D), dn((size_t)E * D * F);
    std::vector<int> meta(1 + 3 * E + 1 + 3 * K);
    for (auto &v : lg)
        v = (float)nzrand(2.0);
    for (int d = 0; d < D; d++) {
        x[d] = (float)nzrand(3.0);
        nw[d] = (float)(0.75 + 0.25 * urand());
        res[d] = (float)nzrand(0.01); /* of the block's scale: its f32 rounding not the error measured */
    }
    for (auto &v : gu)
        v = f32_to_bf16((float)nzrand(0.05));
    for (auto &v : dn)
        v = f32_to_bf16((float)nzrand(0.05));
    m1 = {lg.data(), x.data(), FUSED ? nw.data() : nullptr, FUSED ? res.data() : nullptr, gu.data(), dn.data(),
          h.data(), y.data(), wts.data(), xg.data(), o.data(), y2.data(), meta.data()};
    simt_launch({(uint32_t)(F + 3) / 4, 1, K}, 128, k_up1<E, K, NORM, D, F>);
    simt_launch({(uint32_t)(((D + 1) / 2 + UB - 1) / UB), 1, 1}, 32 * K * UB, k_down1<E, K, NORM, D, F, UB>);
    /* the path of 2..8 rows at one row */
    simt_launch({1, 1, 1}, 256, k_route1<E, K, NORM, D>);
    const uint32_t gz = K < E ? K : E;
    simt_launch({(uint32_t)(F + 3) / 4, 1, gz}, 128, k_mm1<E, K, D, F, 2>);
    simt_launch({(uint32_t)((D + 1) / 2 + 3) / 4, 1, gz}, 128, k_mm1<E, K, D, F, 0>);
    simt_launch({1, (uint32_t)(D + 255) / 256, 1}, 256, k_comb1<E, K, D>);
    /* the reference */
    double w[32], inv = 1.0;
    int id[32];
    llmc_moe_route(lg.data(), E, K, NORM, id, w);
    if (FUSED) {
        double ss = 0;
        for (int d = 0; d < D; d++)
            ss += (double)x[d] * x[d];
        inv = 1.0 / sqrt(ss / D + 1e-6);
    }
    std::vector<double> xr(D), hh(F), acc(D, 0.0);
    for (int d = 0; d < D; d++)
        xr[d] = FUSED ? nw[d] * (x[d] * inv) : x[d];
    for (int k = 0; k < K; k++) {
        const uint16_t *g0 = &gu[(size_t)id[k] * 2 * F * D], *u0 = g0 + (size_t)F * D, *d0 = &dn[(size_t)id[k] * D * F];
        for (int f = 0; f < F; f++) {
            double gs = 0, us = 0;
            for (int d = 0; d < D; d++) {
                gs += xr[d] * bf16f(g0[(size_t)f * D + d]);
                us += xr[d] * bf16f(u0[(size_t)f * D + d]);
            }
            hh[f] = gs / (1.0 + exp(-gs)) * us;
        }
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int f = 0; f < F; f++)
                s += hh[f] * bf16f(d0[(size_t)d * F + f]);
            acc[d] += w[k] * s;
        }
    }
    double num = 0, den = 0;
    int64_t bad = 0, differ = 0;
    for (int d = 0; d < D; d++) {
        const double got = y[d] - (FUSED ? (double)res[d] : 0.0);
        bad += !(y[d] == y[d]);
        num += (got - acc[d]) * (got - acc[d]);
        den += acc[d] * acc[d];
        differ += __float_as_uint(y[d]) != __float_as_uint(y2[d]);
    }
    for (int d = D; d < D + 8; d++)
        bad += y[d] == y[d]; /* past the row: unwritten */
    const double err = sqrt(num / den);
    const int ok = err <= 1e-5 && bad == 0 && differ == 0;
    printf("%s moe one-token kernels E=%d K=%d%s D=%d F=%d%s (%s)  rel.err %.2e (tol 1e-05), %lld of %d values differ "
           "from the path of 2..8 rows%s\n",
           ok ? "PASS" : "FAIL", E, K, NORM ? " norm" : "", D, F, FUSED ? " +norm +residual" : "", what, err,
           (long long)differ, D, bad ? " UNWRITTEN OR STRAY VALUES" : "");
    failures += !ok;
    checks++;
}
static void check_moe_b1(void)
{
    check_moe1<8, 2, 1, 64, 32, 1>("mixtral-like");
    check_moe1<8, 2, 0, 64, 32, 0>("no renormalization, unfused");
    check_moe1<4, 1, 0, 96, 16, 1>("top 1: 4 units a block");
    check_moe1<60, 6, 1, 128, 24, 1>("experts not a whole number of warps");
    check_moe1<128, 8, 1, 128, 32, 1>("qwen3-30b-a3b's routing, small rows");
    check_moe1<4, 2, 1, 4160, 8, 1>("rows over 4096: the norm weights loaded after the sums");
}

template <int MX>
static void check_flavour(void)
{
    check_fmx<2, 1, 8, 0, MX>({{0, 80}, {3, 70}});                   /* stories260K's heads (8), GQA 2 */
    check_fmx<3, 1, 16, 0, MX>({{0, 40}, {37, 30}, {5, 1}, {90, 20}}); /* GQA 3, sequences sharing tiles */
    check_fmx<1, 1, 64, 20, MX>({{0, 70}, {100, 9}});                 /* GQA 1, a window of 20 */
    check_fmx<2, 1, 256, 0, MX>({{0, 40}}, 20.0f);                    /* heads of 256 (tiles of 16), soft-capped */
    check_fmx<8, 1, 8, 0, MX, FMT_KV_FP8, FMT_KV_FP8>({{0, 70}});     /* GQA 8, fp8 */
    check_fmx<2, 2, 16, 0, MX, FMT_INT8, FMT_INT4>({{10, 66}});        /* int8 keys, int4 values */
    check_moe<1, 64, 128, 2, 8, MX>({70, 0, 3, 65, 0, 1, 0, 21}, 70);  /* gate/up, SwiGLU; experts unused */
    check_moe<0, 96, 64, 0, 4, MX>({9, 0, 130, 40}, 130);              /* down, f16, two row tiles */
}

int main(int argc, char **argv)
{
    const int moe_only = argc > 1 && !strcmp(argv[1], "moe"); /* `amd_simt moe`: the one-token MoE block alone */
    check_moe_b1();
    if (!moe_only) {
        check_flavour<LLMC_MX_WMMA>();
        check_flavour<LLMC_MX_MFMA>();
    }
    printf("%s: %d of %d checks failed\n", failures ? "FAIL" : "PASS", failures, checks);
    return failures ? 1 : 0;
}
