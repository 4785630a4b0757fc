/* kv_layout.h — where everything lives in the paged KV pool: integer geometry only, plain C and C++,
 * so that the compiler (block sizes), the reference interpreter and the cpu target (ir/kv_formats.h)
 * and the CUDA kernels (codegen/cuda_kv.cuh, as constant expressions) compute the same offsets.
 *
 * The pool is blocks of BS positions. Block b holds, for each layer l, a K section then a V section;
 * the keys and the values have formats of their own (KF, VF: --kv K,V). A section of format F holds
 * the BS x HKV token-head rows of its block and layer (row r = position-in-block * HKV + head):
 *     [BS * HKV rows of kv_vbytes(F, HD) bytes: the values]
 *     [BS * HKV rows of kv_sbytes(F, HD) bytes: the TOKEN_HEAD sides (scale, zero) of each row]
 * A format with sides pads its section to 16 bytes (so that every section, and every row of values of
 * 16-byte multiples, stays aligned for 16-byte loads); f32 and f16 sections are their rows, as before.
 * Keyed by FMT_<id> (format_ids.h); F is a constant wherever it matters, so each call folds. Sizes are
 * long long (64 bits in C and CUDA) so that NVRTC, which has no <stdint.h>, takes this header first.
 */
#ifndef LLMC_KV_LAYOUT_H
#define LLMC_KV_LAYOUT_H

#include "format_ids.h"

#if defined(__CUDACC__)
#define KV_GEOM __host__ __device__ constexpr inline
#elif defined(__cplusplus)
#define KV_GEOM constexpr inline
#else
#define KV_GEOM static inline
#endif

/* Bytes of one token-head row's values (HD of them) in format F; -1: not a KV format. */
KV_GEOM long long kv_vbytes(int F, int HD)
{
    return F == FMT_F32 ? 4 * (long long)HD
         : F == FMT_F16 ? 2 * (long long)HD
         : F == FMT_KV_FP8 || F == FMT_INT8 || F == FMT_K8 ? (long long)HD
         : F == FMT_INT4 ? ((long long)HD + 1) / 2
         : -1;
}

/* Bytes of one token-head row's sides: int8/int4 an f16 scale and an f16 zero, k8 an f32 scale. */
KV_GEOM long long kv_sbytes(int F)
{
    return F == FMT_INT8 || F == FMT_INT4 || F == FMT_K8 ? 4 : 0;
}

KV_GEOM long long kv_round16(long long n) { return (n + 15) / 16 * 16; }

/* Offset of a section's sides: after its BS * HKV rows of values. */
KV_GEOM long long kv_sides_at(int F, int BS, int HKV, int HD)
{
    return kv_sbytes(F) ? kv_round16((long long)BS * HKV * kv_vbytes(F, HD)) : (long long)BS * HKV * kv_vbytes(F, HD);
}

/* Bytes of one section (one layer's K or V rows of one block) in format F. */
KV_GEOM long long kv_sec_bytes(int F, int BS, int HKV, int HD)
{
    return kv_sbytes(F) ? kv_sides_at(F, BS, HKV, HD) + kv_round16((long long)BS * HKV * kv_sbytes(F))
                        : kv_sides_at(F, BS, HKV, HD);
}

/* Bytes of one block: L layers of a K section in KF and a V section in VF. */
KV_GEOM long long kv_block_bytes(int KF, int VF, int L, int BS, int HKV, int HD)
{
    return (long long)L * (kv_sec_bytes(KF, BS, HKV, HD) + kv_sec_bytes(VF, BS, HKV, HD));
}

/* Byte offset of the section of block blk, layer `layer`, keys (which 0) or values (1). */
KV_GEOM long long kv_sec_at(int KF, int VF, int L, int BS, int HKV, int HD, long long blk, int layer, int which)
{
    return blk * kv_block_bytes(KF, VF, L, BS, HKV, HD) +
           (long long)layer * (kv_sec_bytes(KF, BS, HKV, HD) + kv_sec_bytes(VF, BS, HKV, HD)) +
           (which ? kv_sec_bytes(KF, BS, HKV, HD) : 0);
}

#endif
