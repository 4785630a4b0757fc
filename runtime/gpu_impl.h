/* gpu_impl.h — the CUDA backend's state, shared by its files (gpu.c: driver, device, buffers;
 * gpu_step.c: launches, graphs, steps; gpu_image.c: the pure parts). Not for other runtime files:
 * they see LlmcGpu through gpu.h only.
 */
#ifndef LLMC_GPU_IMPL_H
#define LLMC_GPU_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_api.h"
#include "gpu.h"
#include "nccl_api.h"
#include "pool.h"

enum {
    MAX_GRAPHS = 24,                    /* buckets 1, 2, 4, ... 256 and a capped one, with room */
    UPLOAD_CHUNK = 16 << 20,            /* bytes per pinned staging buffer (two of them) */
    BW_REPS = 10,
};

typedef struct Graph {
    int32_t bucket;
    CUgraphExec exec;
} Graph;

struct LlmcGpu {
    LlmcCudaApi cu;
    const LlmcModelDesc *d;
    CUdevice dev;
    CUcontext ctx;                      /* the device's primary context, retained */
    char name[256];
    char arch[64];                      /* "sm_90", "gfx1151" */
    int32_t sm;                         /* NVIDIA's compute capability (AMD: 0) */
    int integrated;                     /* the GPU shares the host's memory (an APU) */
    int32_t image;                      /* index into d->gpu_images */
    CUmodule mod;
    CUfunction *fn;                     /* [d->n_gpu_kernels] */
    CUstream stream;
    CUevent step_ev[2];                 /* around each step's copies and kernels: stats.busy_seconds */

    /* llmc_gpu_setup */
    int ready;
    CUdeviceptr weights, consts, arena, kv, steps, logits;
    void *weights_registered;           /* in place: the host range registered (weights not allocated) */
    int64_t kv_blocks;                  /* handed out by the allocator; block kv_blocks pads */
    int32_t mbps;                       /* block table row length */
    int32_t pad_row;                    /* block table row of padding tokens: max_tokens */
    size_t table_off;                   /* byte offset of the block tables in steps */
    size_t steps_bytes, logits_bytes;   /* logits_bytes: the logits, then at ids_off the greedy ids */
    size_t ids_off;
    size_t sample_off;                  /* in steps: the sampler block (LlmcDevArgs.sample) */
    int32_t *host_steps;                /* pinned, steps_bytes: the same layout as steps */
    float *host_logits;                 /* pinned, logits_bytes (same layout) */
    int use_graphs;
    int use_pdl;                        /* PDL for LLMC_GPU_KERNEL_PDL kernels (sm_90+, a driver with
                                           cuLaunchKernelEx, not --no-pdl) */
    Graph graphs[MAX_GRAPHS];
    int n_graphs;

    /* A sharded model (d->n_ranks = N > 1, gpu_ranks.c): this GPU is rank `rank`, on device
     * ordinal `rank`. Rank 0's LlmcGpu is the one the engine holds: it owns the other ranks'
     * (rank_gpu), the NCCL table and the team of N threads (thread r drives rank r). */
    int32_t rank, n_ranks;
    LlmcGpu **rank_gpu;                 /* rank 0: [n_ranks], [0] itself; NULL unsharded */
    LlmcPool *team;                     /* rank 0: n_ranks threads */
    LlmcNcclApi nccl;                   /* every rank: the same table (rank 0 owns nccl.lib) */
    ncclComm_t comm;                    /* this rank's communicator (llmc_gpu_setup) */
    struct LlmcRankAbort *abort;        /* every rank: the team's abort state (rank 0 owns it; gpu_ranks.c) */
    CUdeviceptr nccl_warm;              /* setup: the first collective's floats */
    int quiet;                          /* rank > 0: a step copies nothing back (rank 0's logits and
                                           ids are the step's; every rank computes the same) */
    const uint8_t *rank_weights;        /* host: this rank's part of the payload */
    size_t weights_bytes;               /* its bytes (d->weights_bytes unsharded) */

    /* The watchdog (gpu_wait.c): a step must end by its deadline. */
    double step_timeout;                /* seconds a step may take, plus LLMC_STEP_TIMEOUT_PER_TOKEN a
                                           token of it; 0: no deadline (--step-timeout 0) */
    double deadline;                    /* llmc_rt_now() by which the current step (or setup's NCCL
                                           calls) must end; 0: none */
    struct LlmcGpuDone *done;           /* the host function's signal behind each awaited step */
    int timed_out;                      /* the last wait reached its deadline */
    int hung;                           /* a step did not end by its deadline (and, sharded, not after
                                           the communicators were aborted either): no device call is
                                           made on this GPU again, teardown included */
    char hung_msg[512];

    /* --bench-launches (gpu_step.c) */
    int cost_reps;                      /* armed: the next graph step times its launches */
    int32_t launch_seq;                 /* the current forward()'s launches so far (empty grids not) */
    int32_t launch_cut;                 /* > 0: launches from this one on are skipped (not enqueued) */
    int recording;                      /* launches are recorded into costs */
    LlmcLaunchCost *costs;              /* the timed step's launches */
    int32_t n_costs, cap_costs;
    double cost_full_us;

    LlmcDevArgs args;                   /* what every launch of the current step receives */
    int launch_failed;                  /* a launch of the current forward() failed */
    char launch_err[512];
    LlmcGpuStats stats;
};

/* Formats "<what>: NAME: text" for a failed call (what is printf-style). Returns -1. */
int llmc_cu_fail(const LlmcGpu *g, CUresult r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* cuMemAlloc of at least 256 bytes (a zero-sized buffer still gets a valid address). */
int llmc_gpu_dev_alloc(LlmcGpu *g, CUdeviceptr *p, size_t bytes, const char *what, char *err,
                       size_t errlen);
/* Opens device `ordinal` into g (gpu.c): cuInit, image selection, context, stream, module and
 * kernels; a sharded model first checks that the machine has n_ranks GPUs. On failure g is
 * closed. */
int llmc_gpu_open_device(LlmcGpu *g, int ordinal, char *err, size_t errlen);
/* A new LlmcGpu of d (not opened), or NULL with a message. */
LlmcGpu *llmc_gpu_new(const LlmcModelDesc *d, char *err, size_t errlen);
/* One GPU's part of llmc_gpu_setup (gpu.c) with kv_blocks blocks, no fitting; and how many blocks
 * 90% of its free memory holds beside the rest (llmc_gpu_kv_room). */
int llmc_gpu_setup_one(LlmcGpu *g, const LlmcGpuSetup *s, int64_t kv_blocks, char *err, size_t errlen);
int llmc_gpu_kv_room(LlmcGpu *g, const LlmcGpuSetup *s, int64_t *blocks, char *err, size_t errlen);
void llmc_gpu_teardown_one(LlmcGpu *g);
/* One GPU's step (gpu_step.c): ex->gpu == g. */
int llmc_gpu_step_one(LlmcGpu *g, const LlmcExec *ex, const LlmcStep *st, char *err, size_t errlen);
/* gpu_ranks.c: the other ranks' devices, NCCL (nccl: a table given by a test, else loaded from
 * nccl_lib, NULL for LLMC_NCCL_LIB) and the team, after rank 0 opened; on failure g0 is closed. */
int llmc_gpu_ranks_open(LlmcGpu *g0, const LlmcNcclApi *nccl, const char *nccl_lib, char *err, size_t errlen);
/* Returns 1 when a rank's GPU was hung (the drivers stay loaded), else 0. */
int llmc_gpu_ranks_close(LlmcGpu *g0);
/* Every rank's buffers (kv_fit: the fewest blocks any rank's memory holds), then the NCCL
 * communicators, created non-blocking by the team's threads, and one all-gather and one exchange
 * (ncclSend / ncclRecv) to set up their connections before any graph is captured. A rank that
 * fails (before, inside or after its communicator's init, or past the deadline) aborts every
 * rank's communicator (ncclCommAbort), so that no peer waits for it. */
int llmc_gpu_ranks_setup(LlmcGpu *g0, const LlmcGpuSetup *s, char *err, size_t errlen);
void llmc_gpu_ranks_teardown(LlmcGpu *g0);
/* A step of every rank, on the team's threads. */
int llmc_gpu_ranks_step(LlmcGpu *g0, const LlmcExec *ex, const LlmcStep *st, char *err, size_t errlen);

/* gpu_wait.c: the end of the work enqueued on g's stream, awaited with a deadline. */
#define LLMC_STEP_TIMEOUT_DEFAULT 60.0  /* seconds (LlmcGpuSetup.step_timeout 0) */
#define LLMC_STEP_TIMEOUT_PER_TOKEN 0.01 /* seconds added a token of the step */
#define LLMC_WAIT_CHECK_S 0.1           /* a waiting thread checks the stream and NCCL this often */
#define LLMC_ABORT_GRACE_S 5.0          /* after an abort, the longest a rank waits for its stream */
enum { LLMC_WAIT_TIMEOUT = -2 };
typedef struct LlmcGpuDone LlmcGpuDone;
LlmcGpuDone *llmc_gpu_done_new(void);
void llmc_gpu_done_free(LlmcGpuDone *d);
/* Wakes a thread waiting on d (it checks its stream and communicator at once). */
void llmc_gpu_done_poke(LlmcGpuDone *d);
/* llmc_rt_now() + g's step timeout + LLMC_STEP_TIMEOUT_PER_TOKEN x tokens; 0 without a timeout. */
double llmc_gpu_deadline(const LlmcGpu *g, int32_t tokens);
/* Waits for the work enqueued on g's stream until g->deadline (none: cuStreamSynchronize): 0; -1
 * with a message (the work's error, an NCCL asynchronous error); LLMC_WAIT_TIMEOUT (g->timed_out
 * set) when the deadline passed. what: the work, for messages. */
int llmc_gpu_wait(LlmcGpu *g, const char *what, char *err, size_t errlen);
/* After a timeout: waits up to `seconds` more for the same work. 0 when it ended. */
int llmc_gpu_wait_more(LlmcGpu *g, double seconds);
/* gpu_ranks.c: rank g's communicator: 0 fine (or still in progress), 1 aborted (another rank
 * failed), -1 with a message when NCCL reports an asynchronous error. */
int llmc_gpu_comm_check(LlmcGpu *g, char *err, size_t errlen);

static inline double llmc_mib(double bytes) { return bytes / (1 << 20); }

#endif
