/* target.h — targets are data: one LlmcTarget instance per chip family. Passes and emitters read
 * capabilities from here; adding a chip is adding an entry in target.c. GPU targets are of two
 * vendors, one backend: NVIDIA (LLMC_TGT_CUDA: CUDA C through NVRTC to a cubin) and AMD (LLMC_TGT_HIP:
 * the same kernel sources through clang's AMDGPU backend to a code object); a build may combine both
 * (an image each). */
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
    /* GPU targets (CUDA and HIP). */
    const char *arch;             /* NVRTC -arch value "sm_90a"; clang --offload-arch value "gfx1151" */
    int arch_specific;            /* 1: an "a" target (wgmma, setmaxnreg): runs on exactly this sm */
    int wave;                     /* lanes a warp (NVIDIA) or wavefront (AMD): 32 or 64 */
    int smem_per_block;           /* bytes of shared memory (AMD: LDS) a block may use (NVIDIA: with the
                                     opt-in attribute) */
    int smem_per_sm;              /* bytes a multiprocessor (AMD: a compute unit) has */
    int typical_sms;              /* multiprocessors (AMD: compute units) of the usual part (sizing of
                                     split-K) */
    int has_mma_bf16;             /* mma.sync m16n8k16 bf16/f16 (sm_80+) */
    int has_wgmma;                /* warpgroup MMA (sm_90a) */
    int has_wmma;                 /* AMD RDNA 3/3.5 WMMA: v_wmma_f32_16x16x16_{f16,bf16}, wave32 */
    int has_mfma;                 /* AMD CDNA 3 MFMA: v_mfma_f32_{32x32x8,16x16x16}_{f16,bf16}, wave64 */
    int unified_memory;           /* an APU: the GPU reads host memory at full speed (no upload needed
                                     where the driver maps host pages) */
    int amd_path;                 /* the kernels take the AMD path (gpu_port.cuh LLMC_AMD_PATH): every HIP
                                     target, and the NVIDIA target that checks that path on NVIDIA GPUs */
} LlmcTarget;

/* NULL when unknown. */
const LlmcTarget *llmc_target_find(const char *name);
/* All targets, NULL-terminated. */
const LlmcTarget *const *llmc_targets(void);

#endif
