/* target.h — targets are data: one LlmcTarget instance per chip family. Passes and emitters read
 * capabilities from here; adding a chip is adding an entry in target.c. */
#ifndef LLMC_TARGET_H
#define LLMC_TARGET_H

#include "base.h"

typedef enum { LLMC_TGT_C = 0, LLMC_TGT_CUDA, LLMC_TGT_HIP } LlmcTargetKind;

typedef struct LlmcTarget {
    const char *name;             /* "cpu", "sm_90a", ... */
    LlmcTargetKind backend;
    const char *description;
    int sm;                       /* CUDA compute capability * 10 (90 for sm_90), 0 elsewhere */
    int vector_bytes;             /* C backend: SIMD width the emitted vector code is written for */
    LlmcDType default_weights;    /* weight storage format when --weights is not given */
    unsigned weight_formats;      /* bit (1 << LlmcDType) per supported storage format */
    LlmcDType kv_default;         /* KV cache format when --kv is not given */
    unsigned kv_formats;          /* bit (1 << LlmcDType) per KV cache format the target implements */
    int quant_order;              /* LLMC_ORDER_* its kernels read quantized matrices in (ir.h) */
    /* CUDA targets. */
    const char *arch;             /* NVRTC -arch value: "sm_90a" */
    int arch_specific;            /* 1: an "a" target (wgmma, setmaxnreg): runs on exactly this sm */
    int smem_per_block;           /* bytes a block may use with the opt-in attribute */
    int smem_per_sm;              /* bytes */
    int typical_sms;              /* multiprocessors of the usual part (sizing of split-K) */
    int has_mma_bf16;             /* mma.sync m16n8k16 bf16/f16 (sm_80+) */
    int has_wgmma;                /* warpgroup MMA (sm_90a) */
} LlmcTarget;

/* NULL when unknown. */
const LlmcTarget *llmc_target_find(const char *name);
/* All targets, NULL-terminated. */
const LlmcTarget *const *llmc_targets(void);

#endif
