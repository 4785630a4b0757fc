/* engine.h — one loaded model, ready to run steps: the model description, its LlmcExec (weights,
 * consts, activation arena, paged KV pool), the thread team and the KV block allocator.
 *
 * The engine runs whatever step it is given (llmc_engine_step); deciding which tokens go into a
 * step is the scheduler's job (scheduler.h), or the benchmark's (bench.h).
 *
 * Devices: the engine owns what every device shares (the KV block allocator, the host weights) and
 * reaches the rest through its device (device.h), chosen by desc->backend. The cpu device runs
 * forward() on the thread team. The CUDA device keeps weights, consts, arena and KV pool on the
 * GPU (gpu.h): ex.weights and ex.consts stay the host copies (the mapped payload; the tables
 * init() filled), ex.arena and ex.kv are NULL, ex.gpu is the device, and forward() runs on the
 * calling thread (tid 0 of 1), enqueuing launches.
 */
#ifndef LLMC_ENGINE_H
#define LLMC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "sample.h"
#include "kvcache.h"
#include "llmc_model.h"

/* Upload progress of a device with its own memory: what, bytes done of total. */
typedef void (*LlmcProgress)(void *ctx, const char *what, int64_t done, int64_t total);

typedef struct LlmcEngineOpts {
    int n_threads;              /* >= 1; at most desc->max_threads when that is set (cpu) */
    int64_t kv_blocks;          /* blocks in the KV pool (llmc_engine_default_kv_blocks) */
    int kv_fit;                 /* kv_blocks is the most wanted: the device takes as many as its
                                   memory allows (device.h setup; e->kv.n_blocks: how many) */
    void *device;               /* an opened device (its ops->open; CUDA: an LlmcGpu), borrowed;
                                   NULL: the device opens its own and closes it when destroyed */
    /* CUDA models */
    int no_graphs;              /* run every step eagerly (--no-graphs) */
    int no_pdl;                 /* no programmatic dependent launch (--no-pdl) */
    double step_timeout;        /* the watchdog's seconds a step (--step-timeout; LlmcGpuSetup): 0
                                   the default (60), < 0 none */
    LlmcProgress progress;      /* weight upload progress; NULL: quiet (the cpu never calls it) */
    void *progress_ctx;
    /* Asked before every step (NULL: nothing): non-zero fails the step with its message (the
     * weights file changed under the running model: payload_load.h llmc_payload_changed). */
    int (*watch)(void *ctx, char *err, size_t errlen);
    void *watch_ctx;
} LlmcEngineOpts;

typedef struct LlmcEngine {
    const LlmcModelDesc *desc;
    const LlmcDeviceOps *dev;   /* what runs the steps (llmc_device_for(desc->backend)) */
    LlmcExec ex;
    LlmcKvAlloc kv;
    int32_t max_blocks_per_seq; /* ceil(max_seq_len / kv_block_size): block table row length */
    /* the devices' own */
    size_t kv_map_bytes;        /* cpu: size of the KV pool mapping */
    LlmcSampleBuf sbuf;         /* cpu: draws of steps with sample_u */
    /* cpu, a sharded model (desc->n_ranks > 1): ranks 1..N-1's execs (rank 0's is ex; the pool,
     * consts and the ranks' meeting place shared), each with its weights, arena and KV pool (one
     * mapping of kv_map_bytes holds every rank's), and their logits (rank 0 writes the step's) */
    int n_ranks;                /* 1 unsharded */
    int rank_threads;           /* threads a rank */
    LlmcExec *rank_ex;          /* [n_ranks], [0] a copy of ex */
    float *rank_logits;         /* [n_ranks - 1][max_outputs][vocab_size] */
    int own_gpu;                /* cuda: ex.gpu was opened by the engine */
    int (*watch)(void *ctx, char *err, size_t errlen);  /* LlmcEngineOpts.watch */
    void *watch_ctx;
} LlmcEngine;

/* Checks that a model description is usable by this runtime (ABI version, positive sizes).
 * Returns 0, or -1 with a message in err. */
int llmc_desc_check(const LlmcModelDesc *desc, char *err, size_t errlen);

/* Blocks for n_seqs sequences of up to max_positions positions each. */
int64_t llmc_engine_default_kv_blocks(const LlmcModelDesc *desc, int32_t n_seqs,
                                      int32_t max_positions);

/* Sets the device up (device.h: consts, arena and the KV pool, the threads, desc->init once; CUDA:
 * then uploads weights and consts to the device buffers, gpu.h) and the KV block allocator.
 * weights must stay valid (mapped) while the engine lives. Returns 0, or -1 with a message. */
int llmc_engine_init(LlmcEngine *e, const LlmcModelDesc *desc, const uint8_t *weights,
                     const LlmcEngineOpts *opts, char *err, size_t errlen);
void llmc_engine_destroy(LlmcEngine *e);

/* Runs one step on the device: desc->forward on every thread of the pool (cpu), or on the GPU
 * (logits copied back before it returns); with out_ids, each row's token is chosen with the row's
 * sampler. Returns 0, or -1 with a message (GPU failures, the watch; a cpu step cannot fail
 * otherwise). */
int llmc_engine_step(LlmcEngine *e, const LlmcStep *step, char *err, size_t errlen);

#endif
