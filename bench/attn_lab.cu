/* attn_lab.cu — decode attention over the paged, quantized KV cache at the 1B's and the 8B's shapes
 * (32 query heads over 8 KV heads of 64 / 128), batch 16 and 64, 4096 and 512 positions of context,
 * keys and values in f16, fp8, int8, int4, kivi2: today's kernel (paged_attn_dec, as the emitter
 * instantiates it) against the tensor-core kernel (paged_attn_tc, codegen/cuda_attn_decode.cuh) in
 * a few settings. Where the time goes is the question (issues 11 and 12): bytes, or the work and
 * latency a byte costs.
 *   nvcc -O3 -std=c++17 -arch=sm_90a -I ir -o attn_lab bench/attn_lab.cu && ./attn_lab
 * (`./attn_lab check`: the checks alone; `./attn_lab 8b` or `1b`: one shape.)
 *
 * First every variant of every format is checked against a host reference: a pool of 2 layers in
 * shuffled blocks whose rows (random, never zero) the cpu target's writers store (ir/kv_formats.h
 * kv_store_pos, KIVI's groups sealed by kv_seal_group, the ring), 15 decode tokens of ragged lengths
 * (1 position, one tile, a tile and one, KIVI's ring boundaries, many parts, three tokens of one
 * sequence), the softmax in double over the rows as kv_read gives them; outputs poisoned (NaN), each
 * variant run twice before the checked run (the split counters must be back at zero). Then each is
 * timed on a pool filled on the device (values that are finite in every format's reading), sequences
 * of ragged lengths (3/4 of the context to all of it) in shuffled blocks: microseconds a step of one
 * layer, GB/s of the KV bytes the format must read (values, sides, KIVI's channel groups and its f16
 * ring), and that as a % of the copy bandwidth measured in the same run (cudaMemcpy, bytes read +
 * written), the figure --bench's roofline uses.
 *
 * Variants: dec (paged_attn_dec: lane groups a position, 16 parts); tc1 (paged_attn_tc: units of one
 * tile of 16 positions a warp, 16 parts); tc2 (units of 2 tiles: twice the loads in flight a warp,
 * more registers); tcE (as the emitter instantiates it: tc2, or tc1 for f16 and int8 rows and KIVI
 * keys at 128, with parts of at least MINCH positions, ~16 KB of a head's K and V: fewer, longer
 * parts where the context is short, the combine skipped for one part). */
#include "../codegen/cuda_attn_decode.cuh"
#include "../ir/kv_formats.h"
#include "bench_weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

constexpr int LP = 2, LY = 1; /* layers in the pool, the layer the kernels read */
constexpr int NZ = 16;        /* parts at most (today's split) */

/* positions in flight a lane group of paged_attn_dec, as cuda_attention.c chooses them */
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
__host__ __device__ constexpr int kv_bs(int kf, int vf) { return kv_has_ring(kf, vf) ? 32 : 16; } /* as main.c */

template <int KF, int VF, int HQ, int HKV, int HD>
__global__ void __launch_bounds__(128, 4) k_dec(const int32_t *pos, const int32_t *seq, const int32_t *tab, int mbs,
                                                const uint8_t *kv, const float *q, float *y, float *part, int *cnt,
                                                const float *kvs, float scale)
{
    paged_attn_dec<KF, VF, LP, kv_bs(KF, VF), HQ, HKV, HD, HQ * HD, HQ * HD, 0, NZ, dec_u(KF, VF), 4>(
        pos, seq, tab, mbs, kv, q, y, part, cnt, LY, scale, kvs);
}
template <int KF, int VF, int HQ, int HKV, int HD, int MINCH, int NT, int MINB>
__global__ void __launch_bounds__(128, MINB) k_tc(const int32_t *pos, const int32_t *seq, const int32_t *tab, int mbs,
                                                   const uint8_t *kv, const float *q, float *y, float *part, int *cnt,
                                                   const float *kvs, float scale)
{
    constexpr int G = HQ / HKV, GS = G < 8 ? G : 8;
    paged_attn_tc<KF, VF, LP, kv_bs(KF, VF), HQ, HKV, HD, HQ * HD, HQ * HD, 0, NZ, MINCH, NT, GS>(
        pos, seq, tab, mbs, kv, q, y, part, cnt, LY, scale, kvs);
}

static const char *kvname(int f)
{
    return f == FMT_F16 ? "f16" : f == FMT_KV_FP8 ? "fp8" : f == FMT_INT8 ? "int8" : f == FMT_INT4 ? "int4"
         : f == FMT_KIVI2 ? "kivi2" : f == FMT_KIVI4 ? "kivi4" : "?";
}

/* Every 16-bit half of the pool: sign, exponent 2^-6 .. 2^0, a mantissa with bit 0 clear: a finite
 * f16 (values, f16 rows, the sides' scales and zeros) whose bytes are finite E4M3 (never 0x7f /
 * 0xff), and any codes for the integer formats. */
__host__ __device__ inline uint16_t safe_half(uint64_t i, uint64_t seed)
{
    uint64_t h = i * 0x9e3779b97f4a7c15ull + seed;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    const uint32_t e = 9 + (uint32_t)(h % 7), m = (uint32_t)(h >> 8) & 0x3fe, s = (uint32_t)(h >> 20) & 1;
    return (uint16_t)(s << 15 | e << 10 | m);
}
__global__ void k_fill(uint16_t *p, int64_t n, uint64_t seed)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        p[i] = safe_half((uint64_t)i, seed);
}
__global__ void k_fill_f32(float *p, int64_t n, uint64_t seed)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        p[i] = ((float)(safe_half((uint64_t)i, seed) & 0x3ff) / 1024.0f - 0.5f) * 4.0f + 0.01f;
}

/* the scales per layer and KV head of an fp8 cache ([L][2][HKV]): around 1/64, as kernel_check's */
static std::vector<float> kv_scales(int HKV)
{
    std::vector<float> s((size_t)LP * 2 * HKV);
    for (auto &v : s)
        v = (float)(1.0 / 64 * (1.25 + 0.75 * urand()));
    return s;
}

/* The KV bytes a step reads for tokens at positions pe (one layer): every position's K and V rows of
 * every KV head in their formats with their sides (KIVI keys: the channel groups, a 32nd a position),
 * KIVI's ring positions in f16. */
template <int KF, int VF, int HKV, int HD>
static double kv_step_bytes(const std::vector<int32_t> &pos)
{
    const double qrow = (double)kv_vbytes(KF, HD) + kv_row_sbytes(KF, 0, HD) + kv_group_sbytes(KF, 0, HD) / (double)KV_KIVI_G +
                        kv_vbytes(VF, HD) + kv_row_sbytes(VF, 1, HD);
    double b = 0;
    for (int pe : pos) {
        const long long ql = kv_has_ring(KF, VF) ? kv_qlimit((long long)pe + 1) : pe + 1;
        b += (double)ql * qrow + (double)(pe + 1 - ql) * 4 * HD;
    }
    return b * HKV;
}

/* A pool and the step's arrays on the device: ns sequences of lengths len[s] (one token a
 * sequence, at its last position, or several tokens where toks[s] > 1), blocks shuffled; each
 * sequence's block table row ends with its ring's blocks (KIVI). */
struct Step {
    int T = 0, mbs = 0, nblocks = 0;
    std::vector<int32_t> tables, pos, seq;
};
template <int KF, int VF, int HKV, int HD>
static Step make_step(const std::vector<int> &len, const std::vector<int> &toks)
{
    constexpr int BS = kv_bs(KF, VF);
    const long long NR = kv_ring_blocks(KF, VF, LP, BS, HKV, HD);
    Step s;
    const int ns = (int)len.size();
    int mdata = 0;
    for (int l : len)
        mdata = (l + BS - 1) / BS > mdata ? (l + BS - 1) / BS : mdata;
    s.mbs = mdata + (int)NR;
    s.nblocks = ns * s.mbs + 2;
    std::vector<int32_t> perm(s.nblocks);
    for (int i = 0; i < s.nblocks; i++)
        perm[i] = i;
    for (int i = s.nblocks - 1; i > 0; i--) {
        const int j = (int)((urand() + 1.0) * 0.5 * (i + 1)) % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    s.tables.assign((size_t)ns * s.mbs, 0);
    for (int i = 0; i < ns * s.mbs; i++)
        s.tables[i] = perm[i];
    for (int q = 0; q < ns; q++)
        for (int i = toks[q] - 1; i >= 0; i--) {
            s.pos.push_back(len[q] - 1 - i);
            s.seq.push_back(q);
        }
    s.T = (int)s.pos.size();
    return s;
}

/* One variant's launch: 0 dec, 1 tc1, 2 tc2, 3 tcE. Blocks an SM asked of ptxas (registers: 128 at
 * 4, 168 at 3, 255 at 2): fewer where the rows' registers spill at 128 (ptxas -v, sm_90a: f16 and
 * int8 rows at 128, KIVI keys at 128, 2 tiles in flight at 128). */
__host__ __device__ constexpr int tc_minb(int kf, int vf, int hd, int nt)
{
    return hd < 128 ? 4
         : nt == 2 ? (fmt_bits(kf) == 16 || fmt_bits(vf) == 16 ? 2 : 3)
         : fmt_bits(kf) == 16 || fmt_bits(vf) == 16 || kf == FMT_INT8 || vf == FMT_INT8 || kv_is_kivi(kf) ? 3 : 4;
}
template <int KF, int VF, int HQ, int HKV, int HD>
struct Variants {
    /* tcE: as cuda_attention.c's tc_kernel instantiates it: 2 tiles a warp but 1 at head 128 for f16
     * and int8 rows and KIVI keys, parts of at least ~16 KB of a head's K and V (64-256 positions) */
    static constexpr int NTA = HD == 128 && (fmt_bits(KF) == 16 || fmt_bits(VF) == 16 || KF == FMT_INT8 ||
                                             VF == FMT_INT8 || kv_is_kivi(KF))
                                   ? 1
                                   : 2;
    static constexpr int MINCH = 16384 / (kv_vbytes(KF, HD) + kv_vbytes(VF, HD)) < 64    ? 64
                               : 16384 / (kv_vbytes(KF, HD) + kv_vbytes(VF, HD)) > 256 ? 256
                                                                                         : (int)(16384 / (kv_vbytes(KF, HD) + kv_vbytes(VF, HD)));
    static constexpr int NV = 4;
    static const char *name(int v) { return v == 0 ? "dec" : v == 1 ? "tc1" : v == 2 ? "tc2" : "tcE"; }
    static void launch(int v, const Step &s, const int32_t *dpos, const int32_t *dseq, const int32_t *dtab,
                       const uint8_t *dkv, const float *dq, float *dy, float *dpart, int *dcnt, const float *kvs)
    {
        const float scale = 1.0f / sqrtf((float)HD);
        constexpr int G = HQ / HKV, GS = G < 8 ? G : 8;
        const dim3 grid(s.T, HQ / GS, NZ);
        if (v == 0)
            k_dec<KF, VF, HQ, HKV, HD><<<dim3(s.T, HQ / 4, NZ), 128>>>(dpos, dseq, dtab, s.mbs, dkv, dq, dy, dpart, dcnt,
                                                                       kvs, scale);
        else if (v == 1)
            k_tc<KF, VF, HQ, HKV, HD, 0, 1, tc_minb(KF, VF, HD, 1)><<<grid, 128>>>(dpos, dseq, dtab, s.mbs, dkv, dq, dy,
                                                                                   dpart, dcnt, kvs, scale);
        else if (v == 2)
            k_tc<KF, VF, HQ, HKV, HD, 0, 2, tc_minb(KF, VF, HD, 2)><<<grid, 128>>>(dpos, dseq, dtab, s.mbs, dkv, dq, dy,
                                                                                   dpart, dcnt, kvs, scale);
        else
            k_tc<KF, VF, HQ, HKV, HD, MINCH, NTA, tc_minb(KF, VF, HD, NTA)><<<grid, 128>>>(dpos, dseq, dtab, s.mbs, dkv,
                                                                                           dq, dy, dpart, dcnt, kvs, scale);
    }
};

/* ---- the check: a host-written pool, every variant against the softmax in double ---- */
template <int KF, int VF, int HQ, int HKV, int HD>
static void check(const char *shape)
{
    using V = Variants<KF, VF, HQ, HKV, HD>;
    constexpr int BS = kv_bs(KF, VF), G = HQ / HKV, SY = HQ * HD;
    constexpr long long BB = kv_block_bytes(KF, VF, LP, BS, HKV, HD);
    /* lengths: 1 position, a tile, a tile and one, KIVI's boundaries (96..160: the ring's start
     * moving from the first group to the second), parts, a long context; the last sequence has 3
     * tokens in the step */
    const std::vector<int> len = {1, 16, 17, 33, 97, 129, 160, 161, 511, 700, 1500, 2100, 4000, 303};
    std::vector<int> toks(len.size(), 1);
    toks.back() = 3;
    Step s = make_step<KF, VF, HKV, HD>(len, toks);
    const std::vector<float> hs = kv_scales(HKV);
    const float *hsp = KF == FMT_KV_FP8 || VF == FMT_KV_FP8 ? hs.data() : nullptr;
    std::vector<uint8_t> hkv((size_t)s.nblocks * BB);
    for (size_t i = 0; i + 1 < hkv.size(); i += 2) {
        const uint16_t v = safe_half(i / 2, 77);
        hkv[i] = (uint8_t)v;
        hkv[i + 1] = (uint8_t)(v >> 8);
    }
    std::vector<float> krow((size_t)HKV * HD), vrow((size_t)HKV * HD);
    for (int q = 0; q < (int)len.size(); q++) {
        const int32_t *row = &s.tables[(size_t)q * s.mbs];
        for (int p = 0; p < len[q]; p++) {
            for (auto &x : krow)
                x = (float)nzrand(2.0);
            for (auto &x : vrow)
                x = (float)nzrand(1.0);
            kv_store_pos(KF, VF, LP, BS, HKV, HD, hkv.data(), row, s.mbs, LY, p, row[p / BS], p % BS, krow.data(),
                         vrow.data(), hsp);
            if (kv_has_ring(KF, VF) && (p + 1) % KV_KIVI_G == 0)
                kv_seal_group(KF, VF, LP, BS, HKV, HD, hkv.data(), row, s.mbs, LY, p);
        }
    }
    const std::vector<float> hq = rand_f32((size_t)s.T * SY, 2.0);
    DBuf<int32_t> dpos(s.T), dseq(s.T), dtab(s.tables.size()), dcnt((size_t)s.T * HQ);
    DBuf<uint8_t> dkv(hkv.size());
    DBuf<float> dq(hq.size()), dy((size_t)s.T * SY), dpart((size_t)s.T * HQ * NZ * (HD + 2)), dkvs(hs.size());
    dpos.up(s.pos);
    dseq.up(s.seq);
    dtab.up(s.tables);
    dkv.up(hkv);
    dq.up(hq);
    dkvs.up(hs);
    CK(cudaMemset(dcnt.p, 0, dcnt.n * 4));
    /* the reference, once */
    std::vector<double> ref((size_t)s.T * SY);
    {
        std::vector<float> kb(HD), vb(HD);
        const float scale = 1.0f / sqrtf((float)HD);
        for (int t = 0; t < s.T; t++) {
            const int pe = s.pos[t];
            const int32_t *row = &s.tables[(size_t)s.seq[t] * s.mbs];
            for (int hh = 0; hh < HQ; hh++) {
                const int kh = hh / G;
                std::vector<double> sc(pe + 1), o(HD, 0.0);
                double mx = -1e300, l = 0;
                for (int p = 0; p <= pe; p++) {
                    const float *kr = kv_read(KF, VF, LP, BS, HKV, HD, hkv.data(), row, s.mbs, LY, 0, p, pe, kh, kb.data(), hsp);
                    double d = 0;
                    for (int i = 0; i < HD; i++)
                        d += (double)hq[(size_t)t * SY + hh * HD + i] * kr[i];
                    sc[p] = d * scale;
                    mx = sc[p] > mx ? sc[p] : mx;
                }
                for (int p = 0; p <= pe; p++)
                    l += (sc[p] = exp(sc[p] - mx));
                for (int p = 0; p <= pe; p++) {
                    const float *vr = kv_read(KF, VF, LP, BS, HKV, HD, hkv.data(), row, s.mbs, LY, 1, p, pe, kh, vb.data(), hsp);
                    for (int i = 0; i < HD; i++)
                        o[i] += sc[p] * vr[i];
                }
                for (int i = 0; i < HD; i++)
                    ref[(size_t)t * SY + hh * HD + i] = o[i] / l;
            }
        }
    }
    const float *kvs = hsp ? dkvs.p : nullptr;
    for (int v = 0; v < V::NV; v++) {
        auto run = [&]() { V::launch(v, s, dpos.p, dseq.p, dtab.p, dkv.p, dq.p, dy.p, dpart.p, dcnt.p, kvs); };
        run();
        run();
        launched();
        dy.poison();
        run();
        launched();
        const std::vector<float> y = dy.down();
        double num = 0, den = 0;
        int64_t unwritten = 0;
        for (size_t i = 0; i < y.size(); i++) {
            if (y[i] != y[i])
                unwritten++;
            num += (y[i] - ref[i]) * (y[i] - ref[i]);
            den += ref[i] * ref[i];
        }
        char what[160];
        snprintf(what, sizeof what, "%s %s,%s %s: T=%d, lengths 1..4000", V::name(v), kvname(KF), kvname(VF), shape, s.T);
        /* f16 Q and P on the tensor cores, dequantized values rounded to f16 */
        verdict(what, sqrt(num / den), 5e-3, unwritten);
    }
}

/* ---- the timings: a device-filled pool, B sequences of ragged lengths ---- */
static double copy_bw = 0; /* bytes read + written a second, cudaMemcpy */
template <int KF, int VF, int HQ, int HKV, int HD>
static void timed(const char *shape, int B, int ctx)
{
    using V = Variants<KF, VF, HQ, HKV, HD>;
    constexpr int BS = kv_bs(KF, VF), SY = HQ * HD;
    constexpr long long BB = kv_block_bytes(KF, VF, LP, BS, HKV, HD);
    std::vector<int> len(B), toks(B, 1);
    for (int b = 0; b < B; b++)
        len[b] = ctx - (int)((urand() + 1.0) * 0.125 * ctx); /* 3/4 of the context to all of it */
    len[0] = ctx;
    Step s = make_step<KF, VF, HKV, HD>(len, toks);
    const std::vector<float> hs = kv_scales(HKV);
    DBuf<int32_t> dpos(s.T), dseq(s.T), dtab(s.tables.size()), dcnt((size_t)s.T * HQ);
    DBuf<uint8_t> dkv((size_t)s.nblocks * BB);
    DBuf<float> dq((size_t)s.T * SY), dy((size_t)s.T * SY), dpart((size_t)s.T * HQ * NZ * (HD + 2)), dkvs(hs.size());
    dpos.up(s.pos);
    dseq.up(s.seq);
    dtab.up(s.tables);
    dkvs.up(hs);
    k_fill<<<1024, 256>>>((uint16_t *)dkv.p, (int64_t)(dkv.n / 2), 12345);
    k_fill_f32<<<64, 256>>>(dq.p, (int64_t)dq.n, 99);
    CK(cudaMemset(dcnt.p, 0, dcnt.n * 4));
    launched();
    const float *kvs = KF == FMT_KV_FP8 || VF == FMT_KV_FP8 ? dkvs.p : nullptr;
    const double bytes = kv_step_bytes<KF, VF, HKV, HD>(s.pos);
    printf("%-3s b%-3d c%-5d %-5s %7.1f MB |", shape, B, ctx, kvname(KF), bytes / 1e6);
    for (int v = 0; v < V::NV; v++) {
        auto run = [&]() { V::launch(v, s, dpos.p, dseq.p, dtab.p, dkv.p, dq.p, dy.p, dpart.p, dcnt.p, kvs); };
        run();
        launched();
        const double us = time_us(run, bytes > 2e8 ? 10 : 30);
        const double gbs = bytes / (us * 1e-6) / 1e9;
        printf(" %s %7.1f us %5.0f GB/s %3.0f%% |", V::name(v), us, gbs, 100.0 * gbs * 1e9 / copy_bw);
    }
    printf("\n");
    fflush(stdout);
}

template <int HQ, int HKV, int HD>
static void check_shape(const char *shape)
{
    check<FMT_F16, FMT_F16, HQ, HKV, HD>(shape);
    check<FMT_KV_FP8, FMT_KV_FP8, HQ, HKV, HD>(shape);
    check<FMT_INT8, FMT_INT8, HQ, HKV, HD>(shape);
    check<FMT_INT4, FMT_INT4, HQ, HKV, HD>(shape);
    check<FMT_KIVI2, FMT_KIVI2, HQ, HKV, HD>(shape);
    check<FMT_INT8, FMT_INT4, HQ, HKV, HD>(shape);  /* keys and values apart */
    check<FMT_KIVI2, FMT_F16, HQ, HKV, HD>(shape);  /* KIVI keys, f16 values: the ring with f16 blocks */
    check<FMT_KV_FP8, FMT_KIVI2, HQ, HKV, HD>(shape); /* KIVI values under fp8 keys */
}
template <int HQ, int HKV, int HD>
static void time_shape(const char *shape)
{
    for (int ctx : {4096, 512})
        for (int B : {16, 64}) {
            timed<FMT_F16, FMT_F16, HQ, HKV, HD>(shape, B, ctx);
            timed<FMT_KV_FP8, FMT_KV_FP8, HQ, HKV, HD>(shape, B, ctx);
            timed<FMT_INT8, FMT_INT8, HQ, HKV, HD>(shape, B, ctx);
            timed<FMT_INT4, FMT_INT4, HQ, HKV, HD>(shape, B, ctx);
            timed<FMT_KIVI2, FMT_KIVI2, HQ, HKV, HD>(shape, B, ctx);
        }
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    const int do1 = strcmp(what, "8b") != 0, do8 = strcmp(what, "1b") != 0, timing = strcmp(what, "check") != 0;
    cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, 0));
    printf("attn_lab on %s (%d SMs)\n", pr.name, pr.multiProcessorCount);
    if (do1)
        check_shape<32, 8, 64>("1B");
    if (do8)
        check_shape<32, 8, 128>("8B");
    if (timing) {
        const size_t n = (size_t)1 << 30;
        DBuf<uint8_t> a(n), b(n);
        CK(cudaMemset(a.p, 1, n));
        const double us = time_us([&]() { CK(cudaMemcpy(b.p, a.p, n, cudaMemcpyDeviceToDevice)); }, 10);
        copy_bw = 2.0 * n / (us * 1e-6);
        printf("copy (cudaMemcpy, read + written): %.0f GB/s; KV MB: the bytes the format must read a step "
               "(one layer); %% of copy\n", copy_bw / 1e9);
        if (do1)
            time_shape<32, 8, 64>("1B");
        if (do8)
            time_shape<32, 8, 128>("8B");
    }
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
