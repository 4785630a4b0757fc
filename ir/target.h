/* target.h — targets are data: one LlmcTarget instance per chip family. Passes and emitters read
 * capabilities from here; adding a chip is adding an entry in target.c. */
#ifndef LLMC_TARGET_H
#define LLMC_TARGET_H

#include "base.h"

typedef enum { LLMC_BACKEND_C = 0, LLMC_BACKEND_CUDA, LLMC_BACKEND_HIP } LlmcBackend;

typedef struct LlmcTarget {
    const char *name;             /* "cpu", "sm_90a", ... */
    LlmcBackend backend;
    const char *description;
    int sm;                       /* CUDA compute capability * 10 (90 for sm_90), 0 elsewhere */
    int vector_bytes;             /* C backend: SIMD width the emitted vector code is written for */
    LlmcDType default_weights;    /* weight storage format when --weights is not given */
    unsigned weight_formats;      /* bit (1 << LlmcDType) per supported storage format */
} LlmcTarget;

/* NULL when unknown. */
const LlmcTarget *llmc_target_find(const char *name);
/* All targets, NULL-terminated. */
const LlmcTarget *const *llmc_targets(void);

#endif
