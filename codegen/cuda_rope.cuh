/* cuda_rope.cuh — rotary embeddings (emitter: cuda_rope.c): rope_pair (the rotation of one pair,
 * shared with gemv_b1's fused epilogue), rope_row (RoPE alone) and rope_kv_row (RoPE of q and k,
 * then k and v to the paged cache: the rope_kv_write node).
 */
#ifndef LLMC_CUDA_ROPE_CUH
#define LLMC_CUDA_ROPE_CUH

#include "cuda_kv.cuh"

/* One RoPE pair rotated: the arithmetic of rope_kv_row and of gemv_b1's fused epilogue (the same
 * bits either way), each product and sum rounded on its own (nothing fused: a host computes the
 * same bits, as bench/kernel_check.cu does to check the quantized cache byte for byte). */
DEV void rope_pair(float v0, float v1, float fc, float fs, float &r0, float &r1)
{
    r0 = __fsub_rn(__fmul_rn(v0, fc), __fmul_rn(v1, fs));
    r1 = __fadd_rn(__fmul_rn(v0, fs), __fmul_rn(v1, fc));
}

/* ---- rotary embeddings (grid: rows). cs[p][i] = (cos, sin) of p * inv_freq[i], filled on the host. ---- */
template <int INTER, int H, int HD, int SX, int SY>
DEV void rope_row(const float *x, const int32_t *pos, const float *cs, float *y)
{
    const int r = blockIdx.x;
    const float *c = cs + (int64_t)pos[r] * HD;
    for (int e = threadIdx.x; e < H * (HD / 2); e += blockDim.x) {
        const int h = e / (HD / 2), i = e % (HD / 2);
        const int i0 = INTER ? 2 * i : i, i1 = INTER ? 2 * i + 1 : i + HD / 2;
        const float *xh = x + (int64_t)r * SX + h * HD;
        const float v0 = xh[i0], v1 = xh[i1], fc = c[2 * i], fs = c[2 * i + 1];
        float *yh = y + (int64_t)r * SY + h * HD;
        yh[i0] = v0 * fc - v1 * fs;
        yh[i1] = v0 * fs + v1 * fc;
    }
}

/* The pair (i0, i1) of head xh normed by the head's RMS when w (its norm weight) is given:
 * w[d] * (x[d] * inv), inv from the whole head in a fixed order (every thread sums it alike). */
template <int HD>
DEV void head_pair(const float *xh, const float *w, float eps, int i0, int i1, float &v0, float &v1)
{
    v0 = xh[i0];
    v1 = xh[i1];
    if (!w)
        return;
    float ss = 0.0f;
    for (int d = 0; d < HD; d++)
        ss += xh[d] * xh[d];
    const float inv = 1.0f / sqrtf(ss / (float)HD + eps);
    v0 = w[i0] * (v0 * inv);
    v1 = w[i1] * (v1 * inv);
}

/* RoPE of q (to y) and of k, then k and v to the paged cache, keys in format KF and values in VF
 * (cuda_kv.cuh). Grid (tokens, HQ + HKV): block (t, h) rotates query head h, or for h >= HQ rotates
 * key head h - HQ and writes it and the value head to the token's slot: value by value in a format
 * that encodes values alone (f16, fp8 with its head's scale from kvs), else the rows gathered in
 * shared memory and quantized whole (kv_store_head: with a ring, KIVI, in f16 into the token's
 * ring slot, found through sq). HD/2 threads: one pair each. qn, kn (Qwen3,
 * Gemma 3): each head of q and k RMS-normed (weights qn, kn of HD) before it is rotated. */
template <int KF, int VF, int INTER, int HQ, int HKV, int HD, int SQ, int SK, int SV, int SY, int L, int BS>
DEV void rope_kv_row(const float *q, const float *k, const float *v, const int32_t *pos, const int32_t *slots,
                     const float *cs, float *y, uint8_t *kv, int layer, const float *kvs, KvSeqs sq,
                     const float *qn = 0, const float *kn = 0, float eps = 0.0f)
{
    const int t = blockIdx.x, h = blockIdx.y, i = threadIdx.x;
    const float *c = cs + (int64_t)pos[t] * HD;
    const int i0 = INTER ? 2 * i : i, i1 = INTER ? 2 * i + 1 : i + HD / 2;
    const float fc = c[2 * i], fs = c[2 * i + 1];
    if (h < HQ) {
        const float *xh = q + (int64_t)t * SQ + h * HD;
        float r0, r1, v0, v1;
        head_pair<HD>(xh, qn, eps, i0, i1, v0, v1);
        rope_pair(v0, v1, fc, fs, r0, r1);
        y[(int64_t)t * SY + h * HD + i0] = r0;
        y[(int64_t)t * SY + h * HD + i1] = r1;
        return;
    }
    const int hk = h - HQ;
    const int64_t blk = slots[t] / BS;
    const int r = slots[t] % BS * HKV + hk;
    uint8_t *ks = kv_sec<KF, VF, L, BS, HKV, HD>(kv, blk, layer, 0), *vs = kv_sec<KF, VF, L, BS, HKV, HD>(kv, blk, layer, 1);
    uint8_t *kd = ks + (int64_t)r * kv_vbytes(KF, HD), *vd = vs + (int64_t)r * kv_vbytes(VF, HD);
    const float hsk = kvs ? kvs[(int64_t)layer * 2 * HKV + hk] : 1.0f, hsv = kvs ? kvs[((int64_t)layer * 2 + 1) * HKV + hk] : 1.0f;
    const float *xh = k + (int64_t)t * SK + hk * HD, *vh = v + (int64_t)t * SV + hk * HD;
    float r0, r1, v0, v1;
    head_pair<HD>(xh, kn, eps, i0, i1, v0, v1);
    rope_pair(v0, v1, fc, fs, r0, r1);
    if constexpr (KVFmt<KF>::ELEM && KVFmt<VF>::ELEM && KVFmt<KF>::BITS == KVFmt<VF>::BITS) {
        if constexpr (KVFmt<KF>::BITS == 16) {
            ((uint16_t *)kd)[i0] = KVFmt<KF>::enc(r0, hsk);
            ((uint16_t *)kd)[i1] = KVFmt<KF>::enc(r1, hsk);
            ((uint16_t *)vd)[2 * i] = KVFmt<VF>::enc(vh[2 * i], hsv);
            ((uint16_t *)vd)[2 * i + 1] = KVFmt<VF>::enc(vh[2 * i + 1], hsv);
        } else {
            kd[i0] = KVFmt<KF>::enc(r0, hsk);
            kd[i1] = KVFmt<KF>::enc(r1, hsk);
            vd[2 * i] = KVFmt<VF>::enc(vh[2 * i], hsv);
            vd[2 * i + 1] = KVFmt<VF>::enc(vh[2 * i + 1], hsv);
        }
    } else { /* whole rows: gathered, then quantized by every thread of the block */
        __shared__ float krow[HD], vrow[HD];
        krow[i0] = r0;
        krow[i1] = r1;
        vrow[2 * i] = vh[2 * i];
        vrow[2 * i + 1] = vh[2 * i + 1];
        __syncthreads();
        kv_store_head<KF, VF, L, BS, HKV, HD>(kv, blk, slots[t] % BS, hk, layer, krow, vrow, kvs,
                                              kv_has_ring(KF, VF) ? sq.block_tables + (int64_t)sq.seq_of_token[t] * sq.stride : 0,
                                              sq.stride, pos[t]);
    }
}

#endif
