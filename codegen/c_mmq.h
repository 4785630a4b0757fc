/* c_mmq.h — which path the cpu target's quantized matmul takes (c_prelude.h: mm_q_fused, the
 * dequantize-dot in registers, or mm_q_rows, which dequantizes chunks of rows first), and the block
 * geometry that decides it. Plain C shared by the prelude (pasted into generated C) and the C
 * emitters (c_matmul.c, c_moe.c), which call the path a matrix takes by name, so that generated code
 * compiles only the one it runs (inlining both and folding one away cost ~0.9 s a model).
 * mm_q_fused reads a row as blocks of 64 bytes: qb_elems(F) values, qb_subs(F) vectors of 16 lanes
 * (c_formats.h qb_val). */
#ifndef LLMC_C_MMQ_H
#define LLMC_C_MMQ_H

#include "format_ids.h"

#ifndef LLMC_INLINE
#define LLMC_INLINE static inline
#endif

/* Q_XMAX: floats of prepared x mm_q_fused keeps on its stack (256 KB): K up to 65536. */
enum { Q_XMAX = 65536 };

/* The formats mm_q_fused decodes (c_formats.h qb_val); values a block, vectors a block. */
LLMC_INLINE int qb_fused(int F) { return F == FMT_U4 || F == FMT_NVFP4 || F == FMT_FP8 || F == FMT_T8; }
LLMC_INLINE int qb_elems(int F) { return 512 / fmt_bits(F); }
LLMC_INLINE int qb_subs(int F) { return qb_elems(F) / 16; }
/* Whether a lane's values of a block may belong to different groups of gpb a block (fp8: a lane
 * spans both halves of its block, c_formats.h qb_elem). */
LLMC_INLINE int qb_lane_groups(int F) { return F != FMT_FP8; }

/* Blocks of a row's unit of one scale a lane (0: the whole row, one group), and groups a block when
 * groups are smaller than a block (else 1). */
LLMC_INLINE int mmq_unit(int F, int K, int G)
{
    int E = qb_elems(F);
    return (K + G - 1) / G == 1 ? 0 : G >= E ? G / E : 1;
}
LLMC_INLINE int mmq_gpb(int F, int K, int G)
{
    int E = qb_elems(F);
    return mmq_unit(F, K, G) == 1 && G < E ? E / G : 1;
}

/* Whether mm_q_fused takes a [., K] matrix of format F with groups of G: one group a row, groups of
 * whole blocks, or groups of 2 to 8 a block (whole lanes: 4-bit formats); K within Q_XMAX. */
LLMC_INLINE int mmq_fits(int F, int K, int G)
{
    int NS = qb_subs(F), E = qb_elems(F), KP = (K + E - 1) / E * E;
    if (!qb_fused(F) || KP > Q_XMAX || ((long long)K * fmt_bits(F)) % 8)
        return 0;
    return (K + G - 1) / G == 1 || G % E == 0 || (qb_lane_groups(F) && G % NS == 0 && E % G == 0 && E / G <= 8);
}

#endif
