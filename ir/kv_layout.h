/* kv_layout.h — where everything lives in the paged KV pool: integer geometry only, plain C and C++,
 * so that the compiler (block sizes), the reference interpreter and the cpu target (ir/kv_formats.h)
 * and the CUDA kernels (codegen/cuda_kv.cuh, as constant expressions) compute the same offsets.
 *
 * The pool is blocks of BS positions. Block b holds, for each layer l, a K section then a V section;
 * the keys and the values have formats of their own (KF, VF: --kv K,V). A section of format F holds
 * the BS x HKV token-head rows of its block and layer (row r = position-in-block * HKV + head):
 *     [BS * HKV rows of kv_vbytes(F, HD) bytes: the values]
 *     [the sides: BS * HKV rows of kv_row_sbytes bytes (int8/int4: an f16 scale and zero a row;
 *      KIVI values: one a group of G channels), then, for KIVI keys, (BS / G) * HKV groups of
 *      kv_group_sbytes (an f16 scale and zero for each channel of G positions)]
 * A format with sides pads its values and its sides to 16 bytes each (so that every section, and
 * every row of values of 16-byte multiples, stays aligned for 16-byte loads); f32, f16 and fp8
 * sections are their rows alone.
 *
 * KIVI (kivi2, kivi4: keys or values): the newest positions of a sequence stay f16 in its ring (the
 * residual: a query at position pe reads positions p < kv_qlimit(pe + 1) quantized from the blocks,
 * the others from the ring), and a group of G positions is quantized ("sealed") into its block when
 * its last position is written. The ring is kv_ring_blocks ordinary pool blocks the sequence holds
 * beside its positions' blocks (its block table's entries MB.. MB + kv_ring_blocks - 1, MB the
 * blocks of the context); ring slot s = p % kv_ring_len holds position p's f16 K and V rows of
 * every layer, kv_ring_per_block slots a block. A step feeds at most kv_seq_step tokens of a
 * sequence, so that (1) the ring holds every position the step's queries read in f16 and (2) no
 * query of a step reads quantized a group its own step sealed.
 *
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

/* KIVI's groups (positions a key group spans, channels a value group spans) and residual (the
 * newest positions kept f16: between R - G and R - 1 of them), the paper's defaults. */
#define KV_KIVI_G 32
#define KV_KIVI_R 128

KV_GEOM int kv_is_kivi(int F) { return F == FMT_KIVI2 || F == FMT_KIVI4; }
/* A cache with a ring (a KIVI side: both sides' newest positions are read from it in f16). */
KV_GEOM int kv_has_ring(int KF, int VF) { return kv_is_kivi(KF) || kv_is_kivi(VF); }
/* Positions below this many are read quantized by a query that sees n positions (0..n-1). */
KV_GEOM long long kv_qlimit(long long n)
{
    return n - KV_KIVI_R + KV_KIVI_G > 0 ? (n - KV_KIVI_R + KV_KIVI_G) / KV_KIVI_G * KV_KIVI_G : 0;
}
/* Tokens of one sequence a step may feed (0: any). */
KV_GEOM int kv_seq_step(int KF, int VF) { return kv_has_ring(KF, VF) ? KV_KIVI_R - KV_KIVI_G : 0; }

/* Bytes of one token-head row's values (HD of them) in format F; -1: not a KV format. */
KV_GEOM long long kv_vbytes(int F, int HD)
{
    return F == FMT_F32 ? 4 * (long long)HD
         : F == FMT_F16 ? 2 * (long long)HD
         : F == FMT_KV_FP8 || F == FMT_INT8 || F == FMT_K8 ? (long long)HD
         : F == FMT_INT4 || F == FMT_KIVI4 ? ((long long)HD + 1) / 2
         : F == FMT_KIVI2 ? ((long long)HD + 3) / 4
         : -1;
}

/* Whether sections of format F have sides (and so padded values and sides). */
KV_GEOM int kv_has_sides(int F) { return F == FMT_INT8 || F == FMT_INT4 || F == FMT_K8 || kv_is_kivi(F); }
/* Bytes of one token-head row's sides, keys (W 0) or values (1): int8/int4 an f16 scale and an f16
 * zero, k8 an f32 scale, KIVI values an f16 scale and zero for each group of G channels. */
KV_GEOM long long kv_row_sbytes(int F, int W, int HD)
{
    return F == FMT_INT8 || F == FMT_INT4 || F == FMT_K8 ? 4
         : kv_is_kivi(F) && W == 1 ? 4 * (((long long)HD + KV_KIVI_G - 1) / KV_KIVI_G)
         : 0;
}
/* Bytes of the sides of one group of G positions of one head: KIVI keys, an f16 scale and zero per
 * channel. */
KV_GEOM long long kv_group_sbytes(int F, int W, int HD) { return kv_is_kivi(F) && W == 0 ? 4 * (long long)HD : 0; }

KV_GEOM long long kv_round16(long long n) { return (n + 15) / 16 * 16; }

/* Offset of a section's sides: after its BS * HKV rows of values. */
KV_GEOM long long kv_sides_at(int F, int BS, int HKV, int HD)
{
    return kv_has_sides(F) ? kv_round16((long long)BS * HKV * kv_vbytes(F, HD)) : (long long)BS * HKV * kv_vbytes(F, HD);
}
/* Offset of the group sides (KIVI keys), after the rows' sides. */
KV_GEOM long long kv_groups_at(int F, int W, int BS, int HKV, int HD)
{
    return kv_sides_at(F, BS, HKV, HD) + (long long)BS * HKV * kv_row_sbytes(F, W, HD);
}

/* Bytes of one section (one layer's K (W 0) or V (1) rows of one block) in format F. */
KV_GEOM long long kv_sec_bytes(int F, int W, int BS, int HKV, int HD)
{
    return kv_has_sides(F) ? kv_sides_at(F, BS, HKV, HD) +
                                 kv_round16((long long)BS * HKV * kv_row_sbytes(F, W, HD) +
                                            (long long)(BS / KV_KIVI_G) * HKV * kv_group_sbytes(F, W, HD))
                           : kv_sides_at(F, BS, HKV, HD);
}

/* Bytes of one block: L layers of a K section in KF and a V section in VF. */
KV_GEOM long long kv_block_bytes(int KF, int VF, int L, int BS, int HKV, int HD)
{
    return (long long)L * (kv_sec_bytes(KF, 0, BS, HKV, HD) + kv_sec_bytes(VF, 1, BS, HKV, HD));
}

/* Byte offset of the section of block blk, layer `layer`, keys (which 0) or values (1). */
KV_GEOM long long kv_sec_at(int KF, int VF, int L, int BS, int HKV, int HD, long long blk, int layer, int which)
{
    return blk * kv_block_bytes(KF, VF, L, BS, HKV, HD) +
           (long long)layer * (kv_sec_bytes(KF, 0, BS, HKV, HD) + kv_sec_bytes(VF, 1, BS, HKV, HD)) +
           (which ? kv_sec_bytes(KF, 0, BS, HKV, HD) : 0);
}

/* ---- the ring of a cache with KIVI sides ---- */
/* Ring slots a pool block holds: a slot is one position's f16 K and V rows of every layer. */
KV_GEOM long long kv_ring_per_block(int KF, int VF, int L, int BS, int HKV, int HD)
{
    return kv_block_bytes(KF, VF, L, BS, HKV, HD) / ((long long)L * 2 * HKV * HD * 2);
}
/* Pool blocks of a sequence's ring (0 without KIVI): enough slots for the R - 1 positions its last
 * query of a step may read in f16 beyond the step's first, plus the step's kv_seq_step. */
KV_GEOM long long kv_ring_blocks(int KF, int VF, int L, int BS, int HKV, int HD)
{
    return !kv_has_ring(KF, VF) || kv_ring_per_block(KF, VF, L, BS, HKV, HD) < 1
               ? 0
               : (KV_KIVI_R - 1 + kv_seq_step(KF, VF) + kv_ring_per_block(KF, VF, L, BS, HKV, HD) - 1) /
                     kv_ring_per_block(KF, VF, L, BS, HKV, HD);
}
/* Slots of the ring: position p lives in slot p % kv_ring_len. */
KV_GEOM long long kv_ring_len(int KF, int VF, int L, int BS, int HKV, int HD)
{
    return kv_ring_blocks(KF, VF, L, BS, HKV, HD) * kv_ring_per_block(KF, VF, L, BS, HKV, HD);
}
/* Byte offset, in its ring block, of the f16 section of slot-in-block 0 of layer `layer`, keys or
 * values: the ring block holds, for each layer, a K then a V f16 "section" of kv_ring_per_block
 * positions (rows as in a pool section). */
KV_GEOM long long kv_ring_sec_at(int KF, int VF, int L, int BS, int HKV, int HD, int layer, int which)
{
    return ((long long)layer * 2 + which) * kv_ring_per_block(KF, VF, L, BS, HKV, HD) * HKV * HD * 2;
}

#endif
