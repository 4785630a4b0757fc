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

/* A score capped to (-softcap, softcap) when softcap > 0 (Gemma 2's attn_logit_softcapping): the
 * cpu target's attn_cap. */
DEV float attn_softcap(float s, float softcap) { return softcap > 0.0f ? softcap * tanhf(s / softcap) : s; }

/* The end of a decode-attention block: each of its 4 warps left (max, sum, acc) of the G query
 * heads from h0 in shared memory; merged in warp order, then the attention output y (nz == 1) or the
 * block's partial [t][head][z] = (max, sum, acc[HD]) for a combine. */
template <int G, int HQ, int HD, int SY>
DEV void attn_merge_warps(const float (&wm)[4][G], const float (&wl)[4][G], const float (&wacc)[4][G][HD], int t,
                          int h0, int z, int nz, float *__restrict__ y, float *__restrict__ part)
{
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
            float *pp = part + (((int64_t)t * HQ + head) * nz + z) * (HD + 2);
            if (d == 0) {
                pp[0] = mx;
                pp[1] = sum;
            }
            pp[2 + d] = o;
        }
    }
}

/* Dimension d of one (token, head)'s attention output from its NZ partials at pp ((max, sum,
 * acc[HD]) each), combined in part order. CG: read through L2 (partials other blocks of the same
 * kernel wrote). NZ a constant: the loads of all parts unroll and issue together. */
template <int NZ, int HD, int CG>
DEV float attn_parts_combine(const float *pp, int d)
{
    float mx = -INFINITY;
#pragma unroll
    for (int z = 0; z < NZ; z++)
        mx = fmaxf(mx, CG ? __ldcg(pp + z * (HD + 2)) : pp[z * (HD + 2)]);
    float sum = 0.0f, o = 0.0f;
#pragma unroll
    for (int z = 0; z < NZ; z++) {
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
