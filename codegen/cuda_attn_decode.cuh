/* cuda_attn_decode.cuh — attention of decode steps over the paged KV cache, keys in format KF and
 * values in VF (cuda_kv.cuh KVFmt; emitter: cuda_attention.c), dequantized in registers as they
 * are loaded: paged_attn (flash-decoding, one warp a position), paged_attn_dec (one kernel, lane
 * groups a position, the last block of a head combining the parts) and attn_combine. kvs: the
 * scales per layer and KV head of a format that has them (fp8), else null.
 */
#ifndef LLMC_CUDA_ATTN_DECODE_CUH
#define LLMC_CUDA_ATTN_DECODE_CUH

#include "cuda_formats.cuh"
#include "cuda_kv.cuh"
#include "cuda_mma.cuh"

/* A score capped to (-softcap, softcap) when softcap > 0 (Gemma 2's attn_logit_softcapping): the
 * cpu target's attn_cap. */
DEV float attn_softcap(float s, float softcap) { return softcap > 0.0f ? softcap * tanhf(s / softcap) : s; }

/* The end of a decode-attention block: each of its 4 warps left (max, sum, acc) of the G query
 * heads from h0 in shared memory; merged in warp order, then the attention output y (nz == 1) or the
 * block's partial [t][head][z] = (max, sum, acc[HD]) for a combine. */
template <int G, int HQ, int HD, int SY>
DEV void attn_merge_warps(const float (&wm)[4][G], const float (&wl)[4][G], const float (&wacc)[4][G][HD], int t,
                          int h0, int z, int nz, float *__restrict__ y, float *__restrict__ part, int slots = 0)
{
    slots = slots ? slots : nz; /* partials a (token, head) has room for */
    for (int e = threadIdx.x; e < G * HD; e += blockDim.x) {
        const int g = e / HD, d = e % HD;
        float mx = -INFINITY;
        for (int w = 0; w < 4; w++)
            mx = fmaxf(mx, wm[w][g]);
        float sum = 0.0f, o = 0.0f;
        for (int w = 0; w < 4; w++) {
            const float f = wm[w][g] == -INFINITY ? 0.0f : expf(wm[w][g] - mx);
            sum += wl[w][g] * f;
            o += wacc[w][g][d] * f;
        }
        const int head = h0 + g;
        if (nz == 1) {
            y[(int64_t)t * SY + head * HD + d] = o / sum;
        } else {
            float *pp = part + (((int64_t)t * HQ + head) * slots + z) * (HD + 2);
            if (d == 0) {
                pp[0] = mx;
                pp[1] = sum;
            }
            pp[2 + d] = o;
        }
    }
}

/* Dimension d of one (token, head)'s attention output from its NZ partials at pp ((max, sum,
 * acc[HD]) each), combined in part order; n (at most NZ) of them. CG: read through L2 (partials other
 * blocks of the same kernel wrote). NZ a constant: the loads of all parts unroll and issue together. */
template <int NZ, int HD, int CG>
DEV float attn_parts_combine(const float *pp, int d, int n = NZ)
{
    float mx = -INFINITY;
#pragma unroll
    for (int z = 0; z < NZ; z++)
        if (z < n)
            mx = fmaxf(mx, CG ? __ldcg(pp + z * (HD + 2)) : pp[z * (HD + 2)]);
    float sum = 0.0f, o = 0.0f;
#pragma unroll
    for (int z = 0; z < NZ; z++) {
        if (z >= n)
            break;
        const float *pz = pp + z * (HD + 2);
        const float mz = CG ? __ldcg(pz) : pz[0];
        const float f = mz == -INFINITY ? 0.0f : expf(mz - mx);
        sum += (CG ? __ldcg(pz + 1) : pz[1]) * f;
        o += (CG ? __ldcg(pz + 2 + d) : pz[2 + d]) * f;
    }
    return o / sum;
}

/* Attention of token blockIdx.x over its sequence, for the G = HQ/HKV query heads sharing KV head
 * blockIdx.y, positions split into gridDim.z parts (flash-decoding). 4 warps; each warp walks every
 * 4th position of the part with an online softmax per head; lanes split the head dimension. With one
 * part the result goes to y; with several, (max, sum, acc) partials go to `part` for attn_combine. */
template <int KF, int VF, int L, int BS, int HQ, int HKV, int HD, int SQ, int SY, int WIN>
DEV void paged_attn(const int32_t *__restrict__ positions, const int32_t *__restrict__ seq_of_token,
                    const int32_t *__restrict__ block_tables, int max_blocks_per_seq, const uint8_t *kvp,
                    const float *__restrict__ q, float *__restrict__ y, float *__restrict__ part, int layer, float scale,
                    const float *kvs, float softcap = 0.0f)
{
    constexpr int G = HQ / HKV, PER = (HD + LLMC_WARP - 1) / LLMC_WARP;
    __shared__ float qs[G][HD];
    __shared__ float wm[4][G], wl[4][G];
    __shared__ float wacc[4][G][HD];
    const int t = blockIdx.x, h = blockIdx.y, z = blockIdx.z, nz = gridDim.z;
    const int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2;
    for (int e = threadIdx.x; e < G * HD; e += blockDim.x)
        qs[e / HD][e % HD] = q[(int64_t)t * SQ + (h * G + e / HD) * HD + e % HD] * scale;
    __syncthreads();
    const int pe = positions[t];
    const int p0 = WIN > 0 && pe - WIN + 1 > 0 ? pe - WIN + 1 : 0;
    const int len = pe - p0 + 1, chunk = (len + nz - 1) / nz;
    const int pa = p0 + z * chunk, pb = pa + chunk < pe + 1 ? pa + chunk : pe + 1;
    const int32_t *table = block_tables + (int64_t)seq_of_token[t] * max_blocks_per_seq;
    const float hk = kvs ? kvs[(int64_t)layer * 2 * HKV + h] : 1.0f, hv = kvs ? kvs[((int64_t)layer * 2 + 1) * HKV + h] : 1.0f;
    float m[G], l[G], acc[G][PER];
#pragma unroll
    for (int g = 0; g < G; g++) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
#pragma unroll
        for (int i = 0; i < PER; i++)
            acc[g][i] = 0.0f;
    }
    /* KIVI: positions below ql are read quantized from the blocks, the others in f16 from the ring */
    const int ql = kv_has_ring(KF, VF) ? (int)kv_qlimit((long long)pe + 1) : pe + 1;
    for (int p = pa + warp; p < pb; p += 4) {
        float kf[PER], vf[PER];
        if (kv_has_ring(KF, VF) && p >= ql) {
            const uint16_t *kr = (const uint16_t *)kv_ring_row<KF, VF, L, BS, HKV, HD>(kvp, table, max_blocks_per_seq, layer, 0, p, h);
            const uint16_t *vr = (const uint16_t *)kv_ring_row<KF, VF, L, BS, HKV, HD>(kvp, table, max_blocks_per_seq, layer, 1, p, h);
#pragma unroll
            for (int i = 0; i < PER; i++) {
                const int d = lane + LLMC_WARP * i;
                kf[i] = d < HD ? f16_to_f32(kr[d]) : 0.0f;
                vf[i] = d < HD ? f16_to_f32(vr[d]) : 0.0f;
            }
        } else {
            const int64_t blk = table[p / BS];
            const int r = (p % BS) * HKV + h;
            const uint8_t *ks = kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 0);
            const uint8_t *vs = kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 1);
            float sk, zk, sv, zv;
            kv_row_par<KF, BS, HKV, HD>(ks, r, hk, 0, sk, zk);
            kv_row_par<VF, BS, HKV, HD>(vs, r, hv, 0, sv, zv);
#pragma unroll
            for (int i = 0; i < PER; i++) {
                const int d = lane + LLMC_WARP * i;
                if (d >= HD) {
                    kf[i] = vf[i] = 0.0f;
                    continue;
                }
                if constexpr (KVFmt<KF>::KIVI) { /* the channel's scale and zero in the position's group */
                    const uint32_t pz = __ldg((const uint32_t *)kv_kgroup<KF, BS, HKV, HD>(ks, p % BS, h) + d);
                    sk = f16_to_f32((uint16_t)(pz & 0xffff));
                    zk = f16_to_f32((uint16_t)(pz >> 16));
                }
                if constexpr (KVFmt<VF>::KIVI) { /* its group of channels' in the row */
                    const uint32_t pz = __ldg((const uint32_t *)kv_sides<VF, 1, BS, HKV, HD>(vs, r) + d / KV_KIVI_G);
                    sv = f16_to_f32((uint16_t)(pz & 0xffff));
                    zv = f16_to_f32((uint16_t)(pz >> 16));
                }
                kf[i] = KVFmt<KF>::val(kv_vals<KF, HD>(ks, r), d, sk, zk);
                vf[i] = KVFmt<VF>::val(kv_vals<VF, HD>(vs, r), d, sv, zv);
            }
        }
#pragma unroll
        for (int g = 0; g < G; g++) {
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < PER; i++)
                if (lane + LLMC_WARP * i < HD)
                    s += qs[g][lane + LLMC_WARP * i] * kf[i];
            s = attn_softcap(warp_sum(s), softcap);
            const float mn = fmaxf(m[g], s), corr = expf(m[g] - mn), e = expf(s - mn);
            l[g] = l[g] * corr + e;
#pragma unroll
            for (int i = 0; i < PER; i++)
                acc[g][i] = acc[g][i] * corr + e * vf[i];
            m[g] = mn;
        }
    }
#pragma unroll
    for (int g = 0; g < G; g++) {
        if (lane == 0) {
            wm[warp][g] = m[g];
            wl[warp][g] = l[g];
        }
#pragma unroll
        for (int i = 0; i < PER; i++)
            if (lane + LLMC_WARP * i < HD)
                wacc[warp][g][lane + LLMC_WARP * i] = acc[g][i];
    }
    __syncthreads();
    attn_merge_warps<G, HQ, HD, SY>(wm, wl, wacc, t, h * G, z, nz, y, part);
}

/* The values a lane of paged_attn_dec takes of a row: 8 whatever the formats (16 bytes of f16, 8 of
 * the byte formats, 4 of int4): the sums in registers stay those of f16, and the quantized formats
 * keep more positions in flight instead (U). */
constexpr int KV_DEC_VL = 8;

/* Decode attention (steps of up to 64 tokens), flash-decoding without a second kernel: block
 * (t, y, z) serves GS of the G query heads of KV head h = y / (G / GS) (GS <= 4 keeps the sums in
 * registers) for token t over part z of NZ of its positions.
 * A lane group of HD/8 lanes takes one position at a time (8 values of its K and V rows a lane,
 * KV_DEC_VL: a 16-byte load of f16, 8 bytes of fp8 and int8, 4 of int4, dequantized in registers
 * with the row's scale and zero or the head's scale), U positions in flight a group, and keeps its
 * own online softmax; the groups of a warp merge by shuffles (fixed order), the 4 warps through shared memory.
 * With NZ > 1 the block writes its (max, sum, acc) partial and counts itself in cnt[t][h]; the last
 * block of (t, h) combines the NZ partials into y (the order of attn_combine) and resets the
 * counter, so the counters are zero between kernels (the arena starts zeroed). Grid (T, HKV * G /
 * GS, NZ); needs HD a power of two from 8 to 256. */
/* Where paged_attn_dec reads a position's rows: the blocks in the cache's formats (RING 0), or (a
 * cache with KIVI sides, RING 1) the sequence's ring in f16. */
template <int KF_, int VF_, int RING_>
struct KvDecSrc {
    enum { KF = KF_, VF = VF_, RING = RING_ };
};
template <int KF, int VF, int L, int BS, int HQ, int HKV, int HD, int SQ, int SY, int WIN, int NZ, int U, int GS>
DEV void paged_attn_dec(const int32_t *__restrict__ positions, const int32_t *__restrict__ seq_of_token,
                        const int32_t *__restrict__ block_tables, int max_blocks_per_seq, const uint8_t *kvp,
                        const float *__restrict__ q, float *__restrict__ y, float *__restrict__ part,
                        int *__restrict__ cnt, int layer, float scale, const float *kvs, float softcap = 0.0f)
{
    constexpr int VE = KV_DEC_VL, G = GS, LP = HD / VE, PW = LLMC_WARP / LP, NG = 4 * PW, SUB = HQ / HKV / GS;
    constexpr int RING = kv_has_ring(KF, VF);
    static_assert(HD % VE == 0 && HD <= LLMC_WARP * VE && LLMC_WARP % LP == 0,
                  "head size: a power of two from 8 to 256");
    static_assert((HQ / HKV) % GS == 0, "GS divides the query heads of a group");
    __shared__ __align__(16) float qs[G][HD];
    __shared__ float wm[4][G], wl[4][G];
    __shared__ float wacc[4][G][HD];
    __shared__ int last;
    pdl_release(); /* the next kernel (the output projection) may start loading its weights */
    const int t = blockIdx.x, h = blockIdx.y / SUB, h0 = blockIdx.y * GS, z = blockIdx.z; /* h0: first query head */
    const int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2, li = lane % LP, gid = warp * PW + lane / LP;
    /* the step's own arrays: written before the step, never by the previous kernel; the scales
     * (constants): never written by a kernel */
    const int pe = positions[t];
    const int p0 = WIN > 0 && pe - WIN + 1 > 0 ? pe - WIN + 1 : 0;
    const int len = pe - p0 + 1, chunk = (len + NZ - 1) / NZ;
    const int pa = p0 + z * chunk, pb = pa + chunk < pe + 1 ? pa + chunk : pe + 1;
    const int32_t *table = block_tables + (int64_t)seq_of_token[t] * max_blocks_per_seq;
    const float hk = kvs ? kvs[(int64_t)layer * 2 * HKV + h] : 1.0f, hv = kvs ? kvs[((int64_t)layer * 2 + 1) * HKV + h] : 1.0f;
    /* KIVI: positions below ql are read quantized from the blocks, the others in f16 from the ring */
    const int ql = RING ? (int)kv_qlimit((long long)pe + 1) : pe + 1;
    float m[G], l[G], acc[G][VE];
#pragma unroll
    for (int g = 0; g < G; g++) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
#pragma unroll
        for (int j = 0; j < VE; j++)
            acc[g][j] = 0.0f;
    }
    /* One token: every position before pe was cached by earlier steps, so under PDL its first K/V
     * rows load while the Q/K/V kernel still runs; pe itself (written by it) after the wait. With
     * several tokens a sequence may have more positions in this step: everything after the wait.
     * (A ring: after the wait; the kernel before is the seal.) */
    const int early = gridDim.x == 1 && !RING;
    /* Positions [lo, hi) of the part from source src, folded into the online softmax: a lane group
     * takes one position at a time, U in flight. */
    auto run = [&](auto src, int lo, int hi, int first) {
        using S = decltype(src);
        using KL = KVLane<S::RING ? FMT_F16 : S::KF, VE>;
        using VLn = KVLane<S::RING ? FMT_F16 : S::VF, VE>;
        constexpr int KK = S::RING ? FMT_F16 : S::KF, VV = S::RING ? FMT_F16 : S::VF;
        uint32_t kq[U][KL::NW], vq[U][VLn::NW];
        uint32_t kp[U], vp[U]; /* each position's sides (int8, int4: a row's; KIVI values: the lane's group's) */
        int64_t kb[U];         /* KIVI keys: each position's block (its channels' scales and zeros) */
        /* The K/V rows of position p into slot u, through L2 when cg. */
        auto load_one = [&](int u, int p, int cg) {
            if constexpr (S::RING) {
                kv_ld<KL::BYTES>(kq[u], kv_ring_row<KF, VF, L, BS, HKV, HD>(kvp, table, max_blocks_per_seq, layer, 0, p, h) + li * KL::BYTES, cg);
                kv_ld<VLn::BYTES>(vq[u], kv_ring_row<KF, VF, L, BS, HKV, HD>(kvp, table, max_blocks_per_seq, layer, 1, p, h) + li * VLn::BYTES, cg);
                kp[u] = vp[u] = 0;
                kb[u] = 0;
            } else {
                const int64_t blk = table[p / BS];
                const int r = (p % BS) * HKV + h;
                const uint8_t *ks = kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 0);
                const uint8_t *vs = kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 1);
                kv_ld<KL::BYTES>(kq[u], kv_vals<KF, HD>(ks, r) + li * KL::BYTES, cg);
                kv_ld<VLn::BYTES>(vq[u], kv_vals<VF, HD>(vs, r) + li * VLn::BYTES, cg);
                kp[u] = kv_row_raw<KF, BS, HKV, HD>(ks, r, cg);
                if constexpr (KVFmt<VF>::KIVI) /* the lane's 8 values lie in one group of G channels */
                    vp[u] = __ldg((const uint32_t *)kv_sides<VF, 1, BS, HKV, HD>(vs, r) + li * VE / KV_KIVI_G);
                else
                    vp[u] = kv_row_raw<VF, BS, HKV, HD>(vs, r, cg);
                kb[u] = p / KV_KIVI_G; /* the key group (a block holds whole groups) */
            }
        };
        /* K/V rows of the positions base + u * NG + gid below lim (else zero). Read-only path for the
         * positions before pe (cached by earlier steps; with several tokens, rope_kv_write before this
         * kernel does not release early, so this one starts after it finished); pe's rows, which the
         * Q/K/V kernel writes while this one may already run (one token, PDL), through L2. */
        auto load = [&](int base, int lim) {
#pragma unroll
            for (int u = 0; u < U; u++) {
                const int p = base + u * NG + gid;
#pragma unroll
                for (int i = 0; i < KL::NW; i++)
                    kq[u][i] = 0;
#pragma unroll
                for (int i = 0; i < VLn::NW; i++)
                    vq[u][i] = 0;
                kp[u] = vp[u] = 0;
                kb[u] = -1;
                if (p < lim)
                    load_one(u, p, p == pe);
            }
        };
        if (first && early && !S::RING)
            load(lo, pe < hi ? pe : hi);
        if (first) {
            pdl_wait();
            for (int e = threadIdx.x; e < G * HD; e += blockDim.x)
                qs[e / HD][e % HD] = q[(int64_t)t * SQ + (h0 + e / HD) * HD + e % HD] * scale;
            if (early && !S::RING) {
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int p = lo + u * NG + gid;
                    if (p == pe && p < hi)
                        load_one(u, p, 1);
                }
            }
            __syncthreads();
        }
        /* KIVI keys: the scales and zeros of the lane's 8 channels of the group last used (f16 pairs) */
        uint32_t kgp[KVFmt<KK>::KIVI ? VE : 1];
        int64_t kg = -1;
        for (int base = lo; base < hi; base += NG * U) { /* uniform over the block */
            if (base != lo || !(first && early && !S::RING))
                load(base, hi);
#pragma unroll
            for (int u = 0; u < U; u++) {
                float s[G];
                {
                    float kf[VE];
                    if constexpr (KVFmt<KK>::KIVI) {
                        const int p = base + u * NG + gid;
                        if (kb[u] >= 0 && kb[u] != kg) { /* another group: its channels' scales and zeros */
                            kg = kb[u];
                            const uint8_t *ks = kv_sec<KF, VF, L, BS, HKV, HD>(kvp, table[p / BS], layer, 0);
                            const uint4 a = __ldg((const uint4 *)(kv_kgroup<KF, BS, HKV, HD>(ks, p % BS, h) + li * VE * 4));
                            const uint4 b = __ldg((const uint4 *)(kv_kgroup<KF, BS, HKV, HD>(ks, p % BS, h) + li * VE * 4 + 16));
                            kgp[0] = a.x, kgp[1] = a.y, kgp[2] = a.z, kgp[3] = a.w;
                            kgp[4] = b.x, kgp[5] = b.y, kgp[6] = b.z, kgp[7] = b.w;
                        }
#pragma unroll
                        for (int j = 0; j < VE; j++) /* the lane's 8 codes lie in its first word */
                            kf[j] = fmaf(kv_code_f32((kq[u][0] >> (KVFmt<KK>::BITS * j)) & ((1u << KVFmt<KK>::BITS) - 1)),
                                         f16_to_f32((uint16_t)(kgp[j] & 0xffff)), f16_to_f32((uint16_t)(kgp[j] >> 16)));
                    } else {
                        float sk, zk;
                        kv_par<KK>(kp[u], hk, sk, zk);
                        KL::dec(kq[u], kf, sk, zk);
                    }
#pragma unroll
                    for (int g = 0; g < G; g++) {
#pragma unroll
                        for (int c = 0; c < VE; c += 4) { /* one sum left to right over the VE products */
                            const float4 qa = *(const float4 *)&qs[g][li * VE + c];
                            s[g] = (c == 0 ? qa.x * kf[c] : s[g] + qa.x * kf[c]) + qa.y * kf[c + 1] + qa.z * kf[c + 2] +
                                   qa.w * kf[c + 3];
                        }
#pragma unroll
                        for (int o = LP / 2; o > 0; o >>= 1)
                            s[g] += shfl_xor(s[g], o);
                        s[g] = attn_softcap(s[g], softcap);
                    }
                }
                if (base + u * NG + gid < hi) {
                    float vf[VE], sv, zv;
                    if constexpr (KVFmt<VV>::KIVI) {
                        sv = f16_to_f32((uint16_t)(vp[u] & 0xffff));
                        zv = f16_to_f32((uint16_t)(vp[u] >> 16));
                    } else {
                        kv_par<VV>(vp[u], hv, sv, zv);
                    }
                    VLn::dec(vq[u], vf, sv, zv);
#pragma unroll
                    for (int g = 0; g < G; g++) {
                        const float mn = fmaxf(m[g], s[g]), corr = expf(m[g] - mn), e = expf(s[g] - mn);
                        l[g] = l[g] * corr + e;
#pragma unroll
                        for (int j = 0; j < VE; j++)
                            acc[g][j] = acc[g][j] * corr + e * vf[j];
                        m[g] = mn;
                    }
                }
            }
        }
    };
    if constexpr (RING) { /* the quantized positions of the part, then those in the ring */
        run(KvDecSrc<KF, VF, 0>{}, pa, pb < ql ? pb : ql, 1);
        run(KvDecSrc<KF, VF, 1>{}, pa > ql ? pa : ql, pb, 0);
    } else {
        run(KvDecSrc<KF, VF, 0>{}, pa, pb, 1);
    }
    /* the lane groups of the warp, merged pairwise in a fixed order */
#pragma unroll
    for (int o = LP; o < LLMC_WARP; o <<= 1) {
#pragma unroll
        for (int g = 0; g < G; g++) {
            const float mo = shfl_xor(m[g], o), lo = shfl_xor(l[g], o);
            const float mn = fmaxf(m[g], mo);
            const float f = m[g] == -INFINITY ? 0.0f : expf(m[g] - mn), fo = mo == -INFINITY ? 0.0f : expf(mo - mn);
            l[g] = l[g] * f + lo * fo;
#pragma unroll
            for (int j = 0; j < VE; j++)
                acc[g][j] = acc[g][j] * f + shfl_xor(acc[g][j], o) * fo;
            m[g] = mn;
        }
    }
    if (lane < LP) {
#pragma unroll
        for (int g = 0; g < G; g++) {
            if (lane == 0) {
                wm[warp][g] = m[g];
                wl[warp][g] = l[g];
            }
#pragma unroll
            for (int j = 0; j < VE; j++)
                wacc[warp][g][li * VE + j] = acc[g][j];
        }
    }
    __syncthreads();
    attn_merge_warps<G, HQ, HD, SY>(wm, wl, wacc, t, h0, z, NZ, y, part);
    if (NZ == 1)
        return;
    /* This block's partial, ordered before its count by the barrier and the count's release (a
     * full fence here and in the last block cost about 0.4 us a layer); the last block's acquire
     * orders every other block's partial before its reads (grid_release/grid_acquire: what the
     * barrier does not carry to device scope on AMD, gpu_port.cuh). */
    grid_release();
    __syncthreads();
    if (threadIdx.x == 0)
        last = atomic_add_acq_rel(cnt + (int64_t)t * HKV * SUB + blockIdx.y, 1) == NZ - 1;
    __syncthreads();
    if (!last)
        return;
    grid_acquire();
    for (int e = threadIdx.x; e < G * HD; e += blockDim.x) {
        const int head = h0 + e / HD, d = e % HD;
        y[(int64_t)t * SY + head * HD + d] =
            attn_parts_combine<NZ, HD, 1>(part + ((int64_t)t * HQ + head) * NZ * (HD + 2), d);
    }
    if (threadIdx.x == 0)
        cnt[(int64_t)t * HKV * SUB + blockIdx.y] = 0;
}

#if LLMC_PTX /* mma.sync: NVIDIA only */
/* ---- decode attention on tensor cores: paged_attn_tc ----
 * One block per (token, KV head, part) serves GS (up to 8) query heads of the KV head's group, so a
 * K/V byte is loaded and dequantized once for all of them. Its 4 warps take units of NT tiles of 16
 * positions in turn; for a tile a warp computes the scores of its heads by mma.sync m16n8k16
 * (S[head][pos] = Q K^T: Q the A operand, heads padded to 16 rows, K^T the B operand, two n-tiles of
 * 8 positions) and the output by a second one (O^T[d][head] += V^T P^T: V^T the A operand, HD/16
 * m-tiles of 16 dimensions, P^T the B operand), P going from the first's accumulators to the second's
 * operand in the lane that holds it (no shuffle, no shared memory). A lane (g = lane / 4, tig = lane
 * % 4) loads K rows g and 8 + g of the tile (a quarter of each: TcChunk, pieces of at most 16 bytes
 * so that each load instruction of the warp reads whole 32-byte sectors) and V rows 2 tig, 2 tig + 1,
 * 8 + 2 tig, 9 + 2 tig (an eighth of each): exactly the rows its fragments need. The dot product's
 * order of dimensions is free, so each format's key pairs are whatever its bits give with the fewest
 * operations (TcPair: codes k and k + 16 / BITS of a word, made f16 by a lop3 and one subtraction)
 * and Q is loaded in the same order. Quantized values become f16: keys' codes exactly (int8/int4: the
 * row's scale and zero applied to the score, s * (q . c) + z * sum(q); KIVI: the channel's by one
 * f16x2 fma), fp8 values times 2^-8 exactly (the scale applied to the score or to P), values' codes
 * by one f16x2 fma with the two rows' scales and zeros (int8, int4, KIVI). Q and P are rounded to f16,
 * sums are f32. The split: a token's positions in parts of whole units, MINCH positions a part at
 * least (0: NZ parts), NZ at most, and with FILL > 0 no more parts than ceil(FILL / (the step's
 * tokens x gridDim.y)): a step of many tokens has blocks enough with fewer, longer parts, which
 * pay less of the per-block costs (Q's prologue, the warps' merge, the partials, the combine), so a
 * token's parts depend on its length and the step's tokens; blocks past a token's parts return at
 * once; the last block of a (token, head group) to finish combines the parts (as paged_attn_dec).
 * PR > 0: a step of more than PR tokens (decode steps of many sequences: blocks enough) runs every
 * token in one part, so that the partials and counters need rows for PR tokens only; with SR > 0
 * only its tokens of runs of at most SR (attn_short_run), flash attention taking the others.
 * Grid (T, HKV * G / GS, NZ; 1 suffices past PR tokens), 128 threads.
 * KQ 1, the scores as S^T[pos][head] = K Q^T (the emitter picks it by tc_kernel's rule: keys and
 * values both fp8, int8 or int4, where an H100 timed it faster): K the A operand (rows g and g + 8: the K rows the lane loads anyway), Q^T the B
 * operand (the same registers as S's A: 8 head columns, GS real), one mma a k-step instead of two (no
 * zero rows). A lane's scores are positions g, g + 8 of heads 2 tig, 2 tig + 1: the softmax of a head
 * runs down its column (max and sums over lane bits 2..4), exp2 only on real heads' columns; int8/int4
 * keys take the scale and zero of the rows g, g + 8 and the query sums of heads 2 tig, 2 tig + 1 (KIVI
 * and fp8: on K and by the head, as S); P^T for the output mma is S^T's two 8x8 f16 blocks transposed
 * by movmatrix (sm_75+). tests/test_tc_layout.c runs the tile's fragments on the host against a direct
 * computation. */
DEV float tc_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
/* f16 pair (lo, hi), rounded to nearest even */
DEV uint32_t tc_h2(float lo, float hi)
{
    uint32_t d;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
    return d;
}
/* A lane's share of a row of HD values in format F, the row split among LPR lanes (keys 4, values
 * 8): CB bytes in NP pieces of PB bytes, piece k of lane li at byte (k * LPR + li) * PB of the row
 * (a load instruction of the lanes of a row reads a contiguous run); NW words (a piece under 4
 * bytes: one word, its low bytes); NV values, chunk value c at dimension dim(li, c); FW: words of
 * the same values in f16 (a ring row). */
template <int F, int HD, int LPR>
struct TcChunk {
    enum {
        BITS = KVFmt<F>::BITS,
        CB = HD * BITS / 8 / LPR,
        PB = CB < 16 ? CB : 16,
        NP = CB / PB,
        VPP = PB * 8 / BITS,
        NV = HD / LPR,
        NW = CB < 4 ? 1 : CB / 4,
        FW = NV / 2
    };
    DEV int dim(int li, int c) { return ((c / VPP) * LPR + li) * VPP + c % VPP; }
};
template <int PB>
DEV void tc_ld(uint32_t *w, const uint8_t *p)
{
    if constexpr (PB == 16) {
        const u4 x = ld16_stream(p);
        w[0] = x.x, w[1] = x.y, w[2] = x.z, w[3] = x.w;
    } else if constexpr (PB == 8) {
        ld8_stream(p, w[0], w[1]);
    } else if constexpr (PB == 4) {
        w[0] = ld4_stream(p);
    } else {
        static_assert(PB == 2, "pieces of 2, 4, 8 or 16 bytes");
        w[0] = ld2_stream(p);
    }
}
/* The lane's chunk of a row in its format (row: the row's values), or in f16 (row16: a ring row). */
template <class C, int LPR>
DEV void tc_ld_chunk(uint32_t (&w)[C::NW], const uint8_t *row, int li)
{
#pragma unroll
    for (int k = 0; k < C::NP; k++)
        tc_ld<C::PB>(w + k * (C::PB < 4 ? 1 : C::PB / 4), row + (k * LPR + li) * C::PB);
}
template <class C, int LPR>
DEV void tc_ld_chunk16(uint32_t (&w)[C::FW], const uint8_t *row16, int li)
{
#pragma unroll
    for (int k = 0; k < C::NP; k++)
#pragma unroll
        for (int j = 0; j < C::VPP * 2 / 16; j++)
            tc_ld<16>(w + k * C::VPP / 2 + 4 * j, row16 + ((k * LPR + li) * C::VPP) * 2 + 16 * j);
}
/* f16 pairs of a chunk's words in format F. key(w, i): key pair i, the chunk values kc(i, 0) and
 * kc(i, 1) (f16 as they are; fp8 times 2^-8; else the codes, exactly). val(wa, wb, v): chunk value v
 * of two rows (a low, b high), the same. */
template <int F>
struct TcPair {
    enum { BITS = KVFmt<F>::BITS, PW = BITS >= 16 ? 1 : 16 / BITS };
    enum : uint32_t { MASK = BITS == 8 ? 0x00ff00ffu : BITS == 4 ? 0x000f000fu : 0x00030003u, M = 0x64006400u };
    DEV int kc(int i, int e) { return BITS == 16 || F == FMT_KV_FP8 ? 2 * i + e : (i / PW) * (32 / BITS) + i % PW + e * PW; }
    DEV uint32_t key(const uint32_t *w, int i)
    {
        if constexpr (BITS == 16) {
            return w[i];
        } else if constexpr (F == FMT_KV_FP8) {
            const uint32_t a = __byte_perm(w[i / 2], 0, i % 2 ? 0x3424 : 0x1404);
            return and_or(a >> 1, 0x3f803f80u, a & 0x80008000u);
        } else {
            return hsub2(and_or(w[i / PW] >> (BITS * (i % PW)), MASK, M), M);
        }
    }
    DEV uint32_t val(const uint32_t *wa, const uint32_t *wb, int v)
    {
        if constexpr (BITS == 16) {
            return __byte_perm(wa[v / 2], wb[v / 2], v % 2 ? 0x7632 : 0x5410);
        } else if constexpr (F == FMT_KV_FP8) {
            const int k = v % 4;
            const uint32_t u = __byte_perm(wa[v / 4], wb[v / 4], k | k << 4 | (4 + k) << 8 | (4 + k) << 12);
            return and_or(u >> 1, 0x3f803f80u, u & 0x80008000u);
        } else {
            constexpr int VW = 32 / BITS, H = 16 / BITS;
            const uint32_t x = __byte_perm(wa[v / VW], wb[v / VW], (v % VW) / H ? 0x7632 : 0x5410);
            return hsub2(and_or(x >> (BITS * (v % H)), MASK, M), M);
        }
    }
};
/* Key pair i in F's order from a ring row's f16 words (chunk value c: word c / 2, half c % 2). */
template <int F>
DEV uint32_t tc_key16(const uint32_t *w, int i)
{
    const int c0 = TcPair<F>::kc(i, 0), c1 = TcPair<F>::kc(i, 1);
    return __byte_perm(w[c0 / 2], w[c1 / 2], (c0 % 2 ? 0x32 : 0x10) | (c1 % 2 ? 0x7600 : 0x5400));
}

/* The transpose of an 8x8 f16 matrix held as mma fragments: the lane of (g, tig) gives elements (g,
 * 2 tig) and (g, 2 tig + 1) (low, high) and gets (2 tig, g) and (2 tig + 1, g). */
DEV uint32_t tc_trans(uint32_t x)
{
    uint32_t y;
    asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(y) : "r"(x)); /* (volatile: as mma16816) */
    return y;
}

template <int KF, int VF, int L, int BS, int HQ, int HKV, int HD, int SQ, int SY, int WIN, int NZ, int MINCH, int NT, int GS,
          int KQ = 0, int FILL = 0, int PR = 0, int SR = 0>
DEV void paged_attn_tc(const int32_t *__restrict__ positions, const int32_t *__restrict__ seq_of_token,
                       const int32_t *__restrict__ block_tables, int max_blocks_per_seq, const uint8_t *kvp,
                       const float *__restrict__ q, float *__restrict__ y, float *__restrict__ part,
                       int *__restrict__ cnt, int layer, float scale, const float *kvs, float softcap = 0.0f)
{
    constexpr int G = HQ / HKV, SUB = G / GS, KS = HD / 16, UP = 16 * NT, RING = kv_has_ring(KF, VF);
    constexpr int KROW = KVFmt<KF>::ROW, VROW = KVFmt<VF>::ROW, KKIVI = KVFmt<KF>::KIVI, VKIVI = KVFmt<VF>::KIVI;
    using KC = TcChunk<KF, HD, 4>;
    using VC = TcChunk<VF, HD, 8>;
    using KP = TcPair<KF>;
    using VP = TcPair<VF>;
    static_assert(HD == 64 || HD == 128, "paged_attn_tc: head size 64 or 128");
    static_assert(GS <= 8 && G % GS == 0, "paged_attn_tc: at most 8 query heads a block, dividing the group");
    static_assert(BS % 16 == 0 && (NT == 1 || NT == 2), "paged_attn_tc: blocks of whole tiles, units of 1 or 2 tiles");
    static_assert(!KKIVI || (KC::NP == 1 && NT * 16 <= KV_KIVI_G), "paged_attn_tc: KIVI keys, one piece a lane");
    constexpr float LOG2E = 1.4426950408889634f, LN2 = 0.6931471805599453f;
    __shared__ float wm[4][GS], wl[4][GS];
    __shared__ float wacc[4][GS][HD];
    __shared__ int last;
    /* KIVI keys: each warp's group's channel scales and zeros as f16 pairs (scales, zeros) in the order
     * of the key pairs of each key chunk (rows padded: the 4 chunks' lanes read 4 distinct banks) */
    __shared__ __align__(8) uint32_t kgsm[4][4][KKIVI ? HD / 4 + 2 : 2];
    pdl_release(); /* the next kernel (the output projection) may start loading its weights */
    const int t = blockIdx.x, hb = blockIdx.y, h = hb / SUB, h0 = hb * GS, z = blockIdx.z;
    const int lane = threadIdx.x & (LLMC_WARP - 1), warp = threadIdx.x >> LLMC_WARP_LOG2, g = lane >> 2, tig = lane & 3;
    /* the step's own arrays: written before the step, never by the previous kernel */
    const bool past = PR > 0 && gridDim.x > PR; /* one part a token; with SR only short runs' tokens */
    if (past && SR > 0 && !attn_short_run<SR>(seq_of_token, positions, gridDim.x, t))
        return; /* flash attention's token */
    const int pe = positions[t];
    const int p0 = WIN > 0 && pe - WIN + 1 > 0 ? pe - WIN + 1 : 0;
    const int u0 = p0 / UP, nu = pe / UP - u0 + 1;
    int parts = MINCH > 0 ? nu * UP / MINCH : NZ;
    if (FILL > 0) { /* no more parts than it takes the step's blocks to fill the GPU once */
        const int per_part = gridDim.x * gridDim.y, fill = (FILL + per_part - 1) / per_part;
        parts = parts < fill ? parts : fill;
    }
    parts = parts < 1 ? 1 : parts > NZ ? NZ : parts;
    if (past) /* the partials and counters hold PR tokens */
        parts = 1;
    if (z >= parts)
        return;
    const int upp = (nu + parts - 1) / parts, ua = u0 + z * upp, ub = ua + upp < u0 + nu ? ua + upp : u0 + nu;
    const int32_t *table = block_tables + (int64_t)seq_of_token[t] * max_blocks_per_seq;
    const float hk = kvs ? kvs[(int64_t)layer * 2 * HKV + h] : 1.0f, hv = kvs ? kvs[((int64_t)layer * 2 + 1) * HKV + h] : 1.0f;
    /* KIVI: positions below ql are read quantized from the blocks, the others in f16 from the ring */
    const int ql = RING ? (int)kv_qlimit((long long)pe + 1) : pe + 1;
    pdl_wait();
    /* Q: query head h0 + g (g < GS; else zeros) on the lane's key chunk, times the scale, in f16, in the
     * order of KF's key pairs (k-step j: pairs 2j and 2j + 1): the scores' A operand (S = Q K^T: rows
     * g; rows g + 8 zero) or, the same registers, their B operand (S^T = K Q^T: column g) */
    uint32_t qa[KS][2];
    float qsum = 0.0f; /* int8/int4 keys: the sum of the head's f16 query (the zeros' term) */
    {
        const float *qr = q + (int64_t)t * SQ + (int64_t)(h0 + (g < GS ? g : 0)) * HD;
#pragma unroll
        for (int i = 0; i < HD / 8; i++) {
            const float a = g < GS ? qr[KC::dim(tig, KP::kc(i, 0))] * scale : 0.0f;
            const float b = g < GS ? qr[KC::dim(tig, KP::kc(i, 1))] * scale : 0.0f;
            qa[i / 2][i % 2] = tc_h2(a, b);
            if (KROW) {
                float x0, x1;
                h2_to_f32(qa[i / 2][i % 2], x0, x1);
                qsum += x0 + x1;
            }
        }
        qsum += shfl_xor(qsum, 1);
        qsum += shfl_xor(qsum, 2);
    }
    /* The online softmax (log2 units) over the lane's positions, of head g (S: m[0], l[0]) or of
     * heads 2 tig and 2 tig + 1 (S^T: m[hh], l[hh], and their query sums qh[hh] from the lanes of g =
     * 2 tig, 2 tig + 1); o: the output's accumulators (m-tile i: dimensions VC::dim(g, i) and
     * VC::dim(g, i + KS), heads 2 tig, 2 tig + 1) */
    constexpr int NH = KQ ? 2 : 1;
    float m[NH], l[NH], qh[NH], o[KS][4];
#pragma unroll
    for (int hh = 0; hh < NH; hh++) {
        m[hh] = -INFINITY;
        l[hh] = 0.0f;
        qh[hh] = KQ && KROW ? shfl_idx(qsum, 8 * tig + 4 * hh) : qsum;
    }
#pragma unroll
    for (int i = 0; i < KS; i++)
        o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    /* unit u: tiles u * NT .. u * NT + NT - 1, from the blocks (RING 0) or the ring in f16 */
    auto unit = [&](auto src, int u) {
        constexpr int R = decltype(src)::RING;
        constexpr int KW = R ? KC::FW : KC::NW, VW = R ? VC::FW : VC::NW;
        uint32_t kw[NT][2][KW], vw[NT][4][VW], ksd[NT][4], vsd[NT][4];
#pragma unroll
        for (int k = 0; k < NT; k++) {
            const int pt = (u * NT + k) * 16;
            const int live = pt <= pe && pt + 15 >= p0;
            const uint8_t *ks = kvp, *vs = kvp;
            if (!R && live) {
                const int64_t blk = table[pt / BS];
                ks = kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 0);
                vs = kv_sec<KF, VF, L, BS, HKV, HD>(kvp, blk, layer, 1);
            }
#pragma unroll
            for (int n = 0; n < 2; n++) { /* key rows g and 8 + g */
                const int p = pt + 8 * n + g;
#pragma unroll
                for (int i = 0; i < KW; i++)
                    kw[k][n][i] = 0;
                if (KQ)
                    ksd[k][n] = 0;
                if (live && p >= p0 && p <= pe) {
                    if constexpr (R) {
                        tc_ld_chunk16<KC, 4>(kw[k][n], kv_ring_row<KF, VF, L, BS, HKV, HD>(kvp, table, max_blocks_per_seq, layer, 0, p, h), tig);
                    } else {
                        tc_ld_chunk<KC, 4>(kw[k][n], kv_vals<KF, HD>(ks, (p % BS) * HKV + h), tig);
                        if (KQ && KROW) /* S^T: the key sides of the lane's score rows */
                            ksd[k][n] = __ldg((const uint32_t *)kv_sides<KF, 0, BS, HKV, HD>(ks, (p % BS) * HKV + h));
                    }
                }
            }
#pragma unroll
            for (int e = 0; e < 4; e++) { /* value rows (and sides) of the lane's score positions */
                const int p = pt + (e >> 1) * 8 + 2 * tig + (e & 1);
#pragma unroll
                for (int i = 0; i < VW; i++)
                    vw[k][e][i] = 0;
                if (!KQ)
                    ksd[k][e] = 0;
                vsd[k][e] = 0;
                if constexpr (!R) { /* (ring rows: after the scores, below) */
                    if (live && p >= p0 && p <= pe) {
                        const int r = (p % BS) * HKV + h;
                        tc_ld_chunk<VC, 8>(vw[k][e], kv_vals<VF, HD>(vs, r), g);
                        if (KROW && !KQ) /* S: the key sides of the lane's score columns */
                            ksd[k][e] = __ldg((const uint32_t *)kv_sides<KF, 0, BS, HKV, HD>(ks, r));
                        if (VROW)
                            vsd[k][e] = __ldg((const uint32_t *)kv_sides<VF, 1, BS, HKV, HD>(vs, r));
                        if (VKIVI) /* the lane's values lie in one group of channels */
                            vsd[k][e] = __ldg((const uint32_t *)kv_sides<VF, 1, BS, HKV, HD>(vs, r) + VC::dim(g, 0) / KV_KIVI_G);
                    }
                }
            }
            if constexpr (KKIVI && !R) {
                if (k == 0 && pt <= pe) { /* the unit's group (tile 0's block holds it): lane g of the lanes
                                             of key chunk tig makes pairs g, g + 8, .. of it */
                    const uint32_t *kz = (const uint32_t *)kv_kgroup<KF, BS, HKV, HD>(
                                             kv_sec<KF, VF, L, BS, HKV, HD>(kvp, table[pt / BS], layer, 0), pt % BS, h) +
                                         KC::dim(tig, 0);
                    uint32_t w[HD / 64][2];
#pragma unroll
                    for (int j = 0; j < HD / 64; j++) {
                        w[j][0] = __ldg(kz + KP::kc(g + 8 * j, 0));
                        w[j][1] = __ldg(kz + KP::kc(g + 8 * j, 1));
                    }
                    __syncwarp(); /* the previous unit's reads of kgsm are done */
#pragma unroll
                    for (int j = 0; j < HD / 64; j++)
                        *(uint2 *)&kgsm[warp][tig][2 * (g + 8 * j)] =
                            make_uint2(__byte_perm(w[j][0], w[j][1], 0x5410), __byte_perm(w[j][0], w[j][1], 0x7632));
                    __syncwarp();
                }
            }
        }
#pragma unroll
        for (int k = 0; k < NT; k++) {
            const int pt = (u * NT + k) * 16;
            if (!(pt <= pe && pt + 15 >= p0)) /* a tile of the unit past the token (uniform) */
                continue;
            /* key pair i of the tile's row 8 n + g in f16 (KIVI: times its channels' scales, plus zeros) */
            auto key = [&](int n, int i) -> uint32_t {
                if constexpr (R) {
                    return tc_key16<KF>(kw[k][n], i);
                } else if constexpr (KKIVI) {
                    const uint2 sz = *(const uint2 *)&kgsm[warp][tig][2 * i];
                    return hfma2(KP::key(kw[k][n], i), sz.x, sz.y);
                } else {
                    return KP::key(kw[k][n], i);
                }
            };
            /* s[e]: S: head g at position pt + 8 (e >> 1) + 2 tig + (e & 1); S^T: head 2 tig + (e & 1) at
             * position pt + 8 (e >> 1) + g (the accumulators' row g or g + 8, column 2 tig + (e & 1)) */
            float s[4];
            if constexpr (KQ) { /* one n-tile of 8 heads: K the A operand (rows g, g + 8), Q^T the B */
                s[0] = s[1] = s[2] = s[3] = 0.0f;
#pragma unroll
                for (int j = 0; j < KS; j++) {
                    const uint32_t a[4] = {key(0, 2 * j), key(1, 2 * j), key(0, 2 * j + 1), key(1, 2 * j + 1)};
                    mma16816<0>(s, a, qa[j]);
                }
            } else { /* two n-tiles of 8 positions: Q the A operand (rows g; g + 8 zero), K^T the B */
                float sc[2][4];
#pragma unroll
                for (int n = 0; n < 2; n++)
                    sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
#pragma unroll
                for (int j = 0; j < KS; j++) {
                    const uint32_t a[4] = {qa[j][0], 0u, qa[j][1], 0u};
#pragma unroll
                    for (int n = 0; n < 2; n++) {
                        const uint32_t b[2] = {key(n, 2 * j), key(n, 2 * j + 1)};
                        mma16816<0>(sc[n], a, b);
                    }
                }
                s[0] = sc[0][0], s[1] = sc[0][1], s[2] = sc[1][0], s[3] = sc[1][1];
            }
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int p = pt + (e >> 1) * 8 + (KQ ? g : 2 * tig + (e & 1));
                float x = s[e];
                if constexpr (!R && KROW) { /* the row's scale and zero: s (q . c) + z sum(q) */
                    float sk, zk;
                    kv_par<KF>(ksd[k][KQ ? e >> 1 : e], 1.0f, sk, zk);
                    x = x * sk + zk * qh[KQ ? e & 1 : 0];
                } else if constexpr (!R && KF == FMT_KV_FP8) {
                    x *= 256.0f * hk;
                }
                x = attn_softcap(x, softcap) * LOG2E;
                s[e] = p >= p0 && p <= pe ? x : -INFINITY;
            }
            float pr[4], ca, cb; /* P, and the corrections of heads 2 tig, 2 tig + 1 */
            if constexpr (KQ) {
                /* a head's 16 positions lie in the 8 lanes of its column (lane bits 2..4). A lane whose
                 * column is no real head (2 tig + hh >= GS: Q^T's zero columns, scores 0) keeps finite
                 * statistics no one reads and P 0 (no exp2): the output's columns of padding stay 0. */
                float cr[2];
#pragma unroll
                for (int hh = 0; hh < 2; hh++) {
                    float mx = fmaxf(s[hh], s[2 + hh]);
                    mx = fmaxf(mx, shfl_xor(mx, 4));
                    mx = fmaxf(mx, shfl_xor(mx, 8));
                    mx = fmaxf(mx, shfl_xor(mx, 16));
                    const float mn = fmaxf(m[hh], mx); /* finite: the tile has a position of the token */
                    const bool real = 2 * tig + hh < GS;
                    cr[hh] = real ? tc_exp2(m[hh] - mn) : 1.0f;
                    pr[hh] = real ? tc_exp2(s[hh] - mn) : 0.0f;
                    pr[2 + hh] = real ? tc_exp2(s[2 + hh] - mn) : 0.0f;
                    l[hh] = l[hh] * cr[hh] + (pr[hh] + pr[2 + hh]);
                    m[hh] = mn;
                }
                ca = cr[0], cb = cr[1];
            } else {
                float mx = fmaxf(fmaxf(s[0], s[1]), fmaxf(s[2], s[3]));
                mx = fmaxf(mx, shfl_xor(mx, 1));
                mx = fmaxf(mx, shfl_xor(mx, 2));
                const float mn = fmaxf(m[0], mx); /* finite: the tile has a position of the token */
                const float corr = tc_exp2(m[0] - mn);
#pragma unroll
                for (int e = 0; e < 4; e++)
                    pr[e] = tc_exp2(s[e] - mn);
                l[0] = l[0] * corr + ((pr[0] + pr[1]) + (pr[2] + pr[3]));
                m[0] = mn;
                ca = shfl_idx(corr, 8 * tig), cb = shfl_idx(corr, 8 * tig + 4); /* heads 2 tig, 2 tig + 1 */
            }
#pragma unroll
            for (int i = 0; i < KS; i++) {
                o[i][0] *= ca;
                o[i][1] *= cb;
                o[i][2] *= ca;
                o[i][3] *= cb;
            }
            if constexpr (R) { /* the ring's f16 value rows, loaded only now (registers: the ring's tiles are few) */
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int p = pt + (e >> 1) * 8 + 2 * tig + (e & 1);
                    if (p >= p0 && p <= pe)
                        tc_ld_chunk16<VC, 8>(vw[k][e], kv_ring_row<KF, VF, L, BS, HKV, HD>(kvp, table, max_blocks_per_seq, layer, 1, p, h), g);
                }
            }
            const float vm = !R && VF == FMT_KV_FP8 ? 256.0f * hv : 1.0f; /* fp8 values: the head's scale into P */
            /* P^T, the B operand (k: positions 2 tig, 2 tig + 1 and + 8; n: head g): S's accumulators as
             * they are, or S^T's 8x8 blocks (positions 0-7, 8-15) transposed */
            uint32_t pb[2] = {tc_h2(pr[0] * vm, pr[1] * vm), tc_h2(pr[2] * vm, pr[3] * vm)};
            if constexpr (KQ) {
                pb[0] = tc_trans(pb[0]);
                pb[1] = tc_trans(pb[1]);
            }
#pragma unroll
            for (int i = 0; i < KS; i++) {
                uint32_t a[4];
#pragma unroll
                for (int rr = 0; rr < 2; rr++) /* rows 2 tig, 2 tig + 1 (rr 0) or 8 + 2 tig, 9 + 2 tig */
#pragma unroll
                    for (int hh = 0; hh < 2; hh++) { /* m-tile rows g (chunk value i) and g + 8 (i + KS) */
                        const int v = i + hh * KS;
                        uint32_t x;
                        if constexpr (R) {
                            x = TcPair<FMT_F16>::val(vw[k][2 * rr], vw[k][2 * rr + 1], v);
                        } else {
                            x = VP::val(vw[k][2 * rr], vw[k][2 * rr + 1], v);
                            if constexpr (VROW || VKIVI) {
                                const uint32_t s0 = vsd[k][2 * rr], s1 = vsd[k][2 * rr + 1];
                                x = hfma2(x, __byte_perm(s0, s1, 0x5410), __byte_perm(s0, s1, 0x7632));
                            }
                        }
                        a[hh + 2 * rr] = x;
                    }
                mma16816<0>(o[i], a, pb);
            }
        }
    };
    for (int u = ua + warp; u < ub; u += 4) { /* uniform over the warp */
        if constexpr (RING) {
            if (u * UP >= ql)
                unit(KvDecSrc<KF, VF, 1>{}, u);
            else
                unit(KvDecSrc<KF, VF, 0>{}, u);
        } else {
            unit(KvDecSrc<KF, VF, 0>{}, u);
        }
    }
    if constexpr (KQ) { /* heads 2 tig + hh: the sums of the 8 lanes of the column */
#pragma unroll
        for (int hh = 0; hh < 2; hh++) {
            l[hh] += shfl_xor(l[hh], 4);
            l[hh] += shfl_xor(l[hh], 8);
            l[hh] += shfl_xor(l[hh], 16);
            if (g == 0 && 2 * tig + hh < GS) {
                wm[warp][2 * tig + hh] = m[hh] * LN2;
                wl[warp][2 * tig + hh] = l[hh];
            }
        }
    } else { /* head g: the sums of the 4 lanes of the row */
        l[0] += shfl_xor(l[0], 1);
        l[0] += shfl_xor(l[0], 2);
        if (tig == 0 && g < GS) {
            wm[warp][g] = m[0] * LN2;
            wl[warp][g] = l[0];
        }
    }
#pragma unroll
    for (int i = 0; i < KS; i++) {
        const int d0 = VC::dim(g, i), d1 = VC::dim(g, i + KS);
        if (2 * tig < GS) {
            wacc[warp][2 * tig][d0] = o[i][0];
            wacc[warp][2 * tig][d1] = o[i][2];
        }
        if (2 * tig + 1 < GS) {
            wacc[warp][2 * tig + 1][d0] = o[i][1];
            wacc[warp][2 * tig + 1][d1] = o[i][3];
        }
    }
    __syncthreads();
    attn_merge_warps<GS, HQ, HD, SY>(wm, wl, wacc, t, h0, z, parts, y, part, NZ);
    if (parts == 1)
        return;
    /* as paged_attn_dec: this block's partial, then its count; the last block of the parts combines */
    grid_release();
    __syncthreads();
    if (threadIdx.x == 0)
        last = atomic_add_acq_rel(cnt + (int64_t)t * HKV * SUB + hb, 1) == parts - 1;
    __syncthreads();
    if (!last)
        return;
    grid_acquire();
    for (int e = threadIdx.x; e < GS * HD; e += blockDim.x) {
        const int head = h0 + e / HD, d = e % HD;
        y[(int64_t)t * SY + head * HD + d] =
            attn_parts_combine<NZ, HD, 1>(part + ((int64_t)t * HQ + head) * NZ * (HD + 2), d, parts);
    }
    if (threadIdx.x == 0)
        cnt[(int64_t)t * HKV * SUB + hb] = 0;
}
#endif

/* Combines the nz partials of each (token, head) (grid: tokens x heads). */
template <int HQ, int HD, int SY, int NZ>
DEV void attn_combine(const float *part, float *y)
{
    pdl_release();
    const int t = blockIdx.x, head = blockIdx.y;
    for (int d = threadIdx.x; d < HD; d += blockDim.x)
        y[(int64_t)t * SY + head * HD + d] = attn_parts_combine<NZ, HD, 0>(part + ((int64_t)t * HQ + head) * NZ * (HD + 2), d);
}

#endif
