/* engine.h — one loaded model, ready to run steps: the model description, its LlmcExec (weights,
 * consts, activation arena, paged KV pool), the thread team and the KV block allocator.
 *
 * The engine runs whatever step it is given (llmc_engine_step); deciding which tokens go into a
 * step is the scheduler's job (scheduler.h), or the benchmark's (bench.h).
 *
 * Backends: a cpu model runs forward() on the thread team. A CUDA model (desc->backend ==
 * LLMC_BACKEND_CUDA) keeps its weights, consts, arena and KV pool on the GPU (gpu.h): ex.weights
 * and ex.consts stay the host copies (the mapped payload; the tables init() filled), ex.arena and
 * ex.kv are NULL, ex.gpu is the device, and forward() runs on the calling thread (tid 0 of 1),
 * enqueuing launches. The KV block allocator is the same for both.
 */
#ifndef LLMC_ENGINE_H
#define LLMC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "gpu.h"
#include "sample.h"
#include "kvcache.h"
#include "llmc_model.h"

typedef struct LlmcEngineOpts {
    int n_threads;              /* >= 1; at most desc->max_threads when that is set (cpu) */
    int64_t kv_blocks;          /* blocks in the KV pool (llmc_engine_default_kv_blocks) */
    /* CUDA models */
    LlmcGpu *gpu;               /* an opened device (llmc_gpu_open), borrowed; NULL: the engine
                                   opens device 0 itself and closes it when destroyed */
    int no_graphs;              /* run every step eagerly (--no-graphs) */
    int no_pdl;                 /* no programmatic dependent launch (--no-pdl) */
    LlmcGpuProgress progress;   /* weight upload progress; NULL: quiet */
    void *progress_ctx;
} LlmcEngineOpts;

typedef struct LlmcEngine {
    const LlmcModelDesc *desc;
    LlmcExec ex;
    LlmcKvAlloc kv;
    int32_t max_blocks_per_seq; /* ceil(max_seq_len / kv_block_size): block table row length */
    size_t kv_map_bytes;        /* size of the KV pool mapping (cpu) */
    int own_gpu;                /* ex.gpu was opened by the engine */
    LlmcSampleBuf sbuf;         /* cpu: draws of steps with sample_u */
} LlmcEngine;

/* Checks that a model description is usable by this runtime (ABI version, positive sizes).
 * Returns 0, or -1 with a message in err. */
int llmc_desc_check(const LlmcModelDesc *desc, char *err, size_t errlen);

/* Blocks for n_seqs sequences of up to max_positions positions each. */
int64_t llmc_engine_default_kv_blocks(const LlmcModelDesc *desc, int32_t n_seqs,
                                      int32_t max_positions);

/* Allocates consts, arena and the KV pool, starts the threads and calls desc->init once (CUDA:
 * then uploads weights and consts and allocates the device buffers, gpu.h). weights must stay
 * valid (mapped) while the engine lives. Returns 0, or -1 with a message. */
int llmc_engine_init(LlmcEngine *e, const LlmcModelDesc *desc, const uint8_t *weights,
                     const LlmcEngineOpts *opts, char *err, size_t errlen);
void llmc_engine_destroy(LlmcEngine *e);

/* Runs one step: desc->forward on every thread of the pool (cpu), or on the GPU (logits copied
 * back before it returns). Returns 0, or -1 with a message (GPU failures; a cpu step cannot
 * fail). */
int llmc_engine_step(LlmcEngine *e, const LlmcStep *step, char *err, size_t errlen);

#endif
