/* cuda_kv.cuh — the paged KV cache (f16): block b holds for each layer l the K then V rows of its
 * positions, [b][l][2][BS][HKV][HD]; kv_index addresses a row, kv_write_row stores a step's K and
 * V rows (emitter: cuda_attention.c, the kv_write node).
 */
#ifndef LLMC_CUDA_KV_CUH
#define LLMC_CUDA_KV_CUH

#include "cuda_base.cuh"

/* ---- paged KV ---- */
DEV int64_t kv_index(int L, int BS, int HKV, int HD, int64_t blk, int layer, int which, int off)
{
    return (((blk * L + layer) * 2 + which) * (int64_t)BS + off) * (int64_t)(HKV * HD);
}

/* ---- paged KV cache (f16) ---- */
template <int L, int BS, int HKV, int HD, int SK, int SV>
DEV void kv_write_row(const float *k, const float *v, const int32_t *slots, uint16_t *kv, int layer)
{
    const int t = blockIdx.x;
    const int64_t blk = slots[t] / BS;
    const int off = slots[t] % BS;
    uint16_t *kd = kv + kv_index(L, BS, HKV, HD, blk, layer, 0, off);
    uint16_t *vd = kv + kv_index(L, BS, HKV, HD, blk, layer, 1, off);
    for (int e = threadIdx.x; e < HKV * HD; e += blockDim.x) {
        kd[e] = f32_to_f16(k[(int64_t)t * SK + e]);
        vd[e] = f32_to_f16(v[(int64_t)t * SV + e]);
    }
}

#endif
