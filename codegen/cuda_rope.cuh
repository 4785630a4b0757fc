/* cuda_rope.cuh — rotary embeddings (emitter: cuda_rope.c): rope_pair (the rotation of one pair,
 * shared with gemv_b1's fused epilogue), rope_row (RoPE alone) and rope_kv_row (RoPE of q and k,
 * then k and v to the paged cache: the rope_kv_write node).
 */
#ifndef LLMC_CUDA_ROPE_CUH
#define LLMC_CUDA_ROPE_CUH

#include "cuda_kv.cuh"

/* One RoPE pair rotated: the arithmetic of rope_kv_row and of gemv_b1's fused epilogue (the same
 * bits either way). */
DEV void rope_pair(float v0, float v1, float fc, float fs, float &r0, float &r1)
{
    r0 = v0 * fc - v1 * fs;
    r1 = v0 * fs + v1 * fc;
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

/* RoPE of q (to y) and of k, then k and v to the paged cache in format KV (cuda_formats.cuh
 * KVFmt). Grid (tokens, HQ + HKV): block (t, h) rotates query head h, or for h >= HQ rotates key
 * head h - HQ and writes it and the value head to the token's slot. HD/2 threads: one pair each.
 * qn, kn (Qwen3, Gemma 3): each head of q and k RMS-normed (weights qn, kn of HD) before it is
 * rotated. */
template <int KV, int INTER, int HQ, int HKV, int HD, int SQ, int SK, int SV, int SY, int L, int BS>
DEV void rope_kv_row(const float *q, const float *k, const float *v, const int32_t *pos, const int32_t *slots,
                     const float *cs, float *y, uint8_t *kv, int layer, const float *qn = 0, const float *kn = 0,
                     float eps = 0.0f)
{
    static_assert(KVFmt<KV>::PLAIN, "rope_kv_row stores value by value: a KV format without per-row scales");
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
    const int off = slots[t] % BS;
    typename KVFmt<KV>::E *kd = kv_units<KV>(kv) + kv_index<KV, L, BS, HKV, HD>(blk, layer, 0, off) + hk * KVFmt<KV>::RE(HD);
    typename KVFmt<KV>::E *vd = kv_units<KV>(kv) + kv_index<KV, L, BS, HKV, HD>(blk, layer, 1, off) + hk * KVFmt<KV>::RE(HD);
    const float *xh = k + (int64_t)t * SK + hk * HD;
    float r0, r1, v0, v1;
    head_pair<HD>(xh, kn, eps, i0, i1, v0, v1);
    rope_pair(v0, v1, fc, fs, r0, r1);
    kd[i0] = KVFmt<KV>::enc(r0);
    kd[i1] = KVFmt<KV>::enc(r1);
    vd[2 * i] = KVFmt<KV>::enc(v[(int64_t)t * SV + hk * HD + 2 * i]);
    vd[2 * i + 1] = KVFmt<KV>::enc(v[(int64_t)t * SV + hk * HD + 2 * i + 1]);
}

#endif
