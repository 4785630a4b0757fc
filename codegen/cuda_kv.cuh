/* cuda_kv.cuh — the paged KV cache, in the format KV (cuda_formats.cuh KVFmt: the graph's KV
 * format, which the emitters print): block b holds for each layer l the K then V token-head rows of
 * its positions, [b][l][2][BS][HKV] rows of KVFmt<KV>::RE(HD) units E; kv_index addresses a
 * position's row of head 0 (head h is h RE(HD) units further), kv_write_row stores a step's K and V
 * rows (emitter: cuda_attention.c, the kv_write node).
 */
#ifndef LLMC_CUDA_KV_CUH
#define LLMC_CUDA_KV_CUH

#include "cuda_formats.cuh"

/* ---- paged KV: the pool as units of its format, and the unit index of a position's first row ---- */
template <int KV>
DEV typename KVFmt<KV>::E *kv_units(uint8_t *kv)
{
    return (typename KVFmt<KV>::E *)kv;
}
template <int KV>
DEV const typename KVFmt<KV>::E *kv_units(const uint8_t *kv)
{
    return (const typename KVFmt<KV>::E *)kv;
}
template <int KV, int L, int BS, int HKV, int HD>
DEV int64_t kv_index(int64_t blk, int layer, int which, int off)
{
    return (((blk * L + layer) * 2 + which) * (int64_t)BS + off) * (int64_t)(HKV * KVFmt<KV>::RE(HD));
}

/* ---- a step's K and V rows to their slots (grid: tokens) ---- */
template <int KV, int L, int BS, int HKV, int HD, int SK, int SV>
DEV void kv_write_row(const float *k, const float *v, const int32_t *slots, uint8_t *kv, int layer)
{
    using F = KVFmt<KV>;
    static_assert(F::PLAIN, "kv_write_row stores value by value: a KV format without per-row scales");
    const int t = blockIdx.x;
    const int64_t blk = slots[t] / BS;
    const int off = slots[t] % BS;
    typename F::E *kd = kv_units<KV>(kv) + kv_index<KV, L, BS, HKV, HD>(blk, layer, 0, off);
    typename F::E *vd = kv_units<KV>(kv) + kv_index<KV, L, BS, HKV, HD>(blk, layer, 1, off);
    for (int e = threadIdx.x; e < HKV * HD; e += blockDim.x) {
        kd[e] = F::enc(k[(int64_t)t * SK + e]);
        vd[e] = F::enc(v[(int64_t)t * SV + e]);
    }
}

#endif
