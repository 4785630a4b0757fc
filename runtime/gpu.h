/* gpu.h — the runtime's GPU backend: one NVIDIA GPU driven through the CUDA driver API, or one AMD
 * GPU through HIP's module API (the same calls, one table: cuda_api.h).
 *
 * A GPU model (desc->backend == LLMC_BACKEND_CUDA) carries images for one or more architectures
 * (desc->gpu_images: cubins, AMD code objects) and a forward() that only enqueues launches
 * (llmc_gpu_launch, declared in llmc_model.h). This file owns everything around those launches:
 *
 *   llmc_gpu_open     load the driver of the images' vendor (dlopen: the executable links no GPU
 *                     library; libcuda.so.1, libamdhip64.so; NVIDIA's first when a build has both),
 *                     pick the GPU (device 0), choose the image for its architecture, create the
 *                     context and stream, load the module and look up every kernel. Cheap: no
 *                     large allocation, so a GPU executable checks its device before anything else.
 *   llmc_gpu_setup    device buffers: weights (uploaded from the mapped payload through pinned
 *                     staging; an AMD APU reads the mapped payload in place where the driver
 *                     registers it), consts (filled by init() on the host, then uploaded), activation
 *                     arena, KV pool (kv_blocks + 1: the last block takes the writes of padding
 *                     tokens), the step arrays and the logits; checks free memory first.
 *   llmc_gpu_step     one step: step arrays to the device, forward(), logits back, synchronize.
 *
 * A sharded model (desc->n_ranks = N > 1, --tp N): llmc_gpu_open opens devices 0..N-1 (refusing a
 * machine with fewer) and loads NCCL (libnccl.so.2); rank r has all of the above on device r, and
 * the functions here, called on rank 0's LlmcGpu, act on every rank (gpu_ranks.c).
 *
 * CUDA graphs: a decode-shaped step (every token wants its logits, in order: n_out == n_tokens and
 * out_rows[i] == i; at most LLMC_GPU_GRAPH_MAX_TOKENS tokens; all nodes) is padded to a bucket
 * (the next power of two, capped at min(max_tokens, max_outputs)). The first step of a bucket
 * captures forward() into a graph; later ones copy the step arrays and replay it. Padding tokens
 * are token 0 at position 0 of a block-table row of their own (row max_tokens) that points only at
 * the padding block, so they write nothing a sequence reads; their logits are computed and ignored.
 * This requires forward() to choose its launches from n_tokens, n_out and n_seqs alone (never from
 * the contents of the step arrays), since a graph replays the launches of its capture: n_seqs is
 * the bucket's then (one token a run, the padding's too, all at position 0). One exception holds
 * for the same reason: whether out_rows is 0..n_tokens-1 (forward()'s same_rows, which skips an
 * in-place select_rows: codegen/cuda_rows.c), true of every step a graph captures or replays.
 *
 * Device step arrays of a step of n tokens (n padded when it runs as a graph) are packed at a
 * stride of n rounded up to 32 entries (128 bytes): tokens, positions, seq_of_token, slots, then
 * out_rows, so a step is one small copy and a bucket's pointers never change; block
 * tables sit at a fixed place (max_tokens + 1 rows of max_blocks_per_seq) and only the rows the
 * step uses are copied.
 *
 * Errors are returned as -1 with a message naming the failed call and the driver's error name and
 * text. Nothing here exits or prints (progress goes through a callback).
 */
#ifndef LLMC_GPU_H
#define LLMC_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_api.h"
#include "device.h"
#include "llmc_model.h"
#include "nccl_api.h"

#define LLMC_GPU_DRIVER_LIB "libcuda.so.1"
#define LLMC_HIP_DRIVER_LIB "libamdhip64.so"
#define LLMC_GPU_GRAPH_MAX_TOKENS 256

/* ---- pure parts (no device; tested in tests/test_gpu_runtime.c) ---- */

/* The smallest power of two >= n, at most cap (1 <= n <= cap). */
int32_t llmc_gpu_bucket(int32_t n, int32_t cap);

/* The runs among st's tokens, forward()'s S: stretches of tokens of one sequence at consecutive
 * positions (the scheduler feeds a sequence's tokens together: its sequences; a decode step: its
 * tokens), as the attention kernels count them (codegen/cuda_kv.cuh attn_short_run). */
int32_t llmc_gpu_seq_runs(const LlmcStep *st);

/* The bucket st runs in as a CUDA graph, or 0 when it runs eagerly: st is decode-shaped (n_out ==
 * n_tokens, out_rows[i] == i, one token a run: llmc_gpu_seq_runs == n_tokens, as its padding
 * tokens are), has at most LLMC_GPU_GRAPH_MAX_TOKENS tokens and runs every node. */
int32_t llmc_gpu_graph_bucket(const LlmcStep *st, int32_t max_tokens, int32_t max_outputs);

/* Per-token arrays of a step as the device sees them. */
typedef struct LlmcGpuStepArrays {
    int32_t *tokens, *positions, *seq_of_token, *slots;    /* [n] */
    int32_t *out_rows;                                      /* [n_out] */
} LlmcGpuStepArrays;

/* Copies st's n_tokens entries into out and pads up to bucket (>= st->n_tokens): padding token i
 * is token 0 at position 0 of block-table row pad_row, writing KV slot pad_slot, and out_rows[i] =
 * i for every row (st must be decode-shaped). */
void llmc_gpu_pad_step(const LlmcStep *st, int32_t bucket, int32_t pad_row, int32_t pad_slot,
                       const LlmcGpuStepArrays *out);

/* Which of images[0..n) a GPU of vendor (LLMC_GPU_VENDOR_*) runs: only images of its vendor. NVIDIA
 * (compute capability sm: major * 10 + minor): an arch_specific image only on exactly its sm; a
 * plain image of sm XY on major X, minor >= Y; prefers an exact match (arch-specific first), then
 * the highest compatible sm. AMD (arch: its gfx name, "gfx1151"; sm unused): the image of exactly
 * that name (a code object runs on its own gfx only). Returns the index, or -1 with a refusal
 * naming the architectures built and the GPU (gpu_name, its arch) in err. */
int llmc_gpu_select_image(const LlmcGpuImage *images, int32_t n, int32_t vendor, int32_t sm,
                          const char *arch, const char *gpu_name, char *err, size_t errlen);

/* "sm_90a, sm_89": the architectures desc was built for. */
void llmc_gpu_arch_list(const LlmcModelDesc *desc, char *buf, size_t buflen);

/* ---- the device ---- */

typedef struct LlmcGpuStats {
    int64_t steps;              /* llmc_gpu_step calls */
    int64_t graph_steps;        /* of which replayed a graph (captures included) */
    int64_t captures;           /* graphs captured (one per bucket used) */
    int64_t launches;           /* kernel launches enqueued eagerly or captured */
    int64_t collectives;        /* NCCL calls enqueued eagerly or captured (a sharded model) */
    double busy_seconds;        /* device time of the steps: first copy in to last copy out */
} LlmcGpuStats;

typedef void (*LlmcGpuProgress)(void *ctx, const char *what, int64_t done, int64_t total);

typedef struct LlmcGpuSetup {
    const uint8_t *weights;     /* host: the mapped payload (desc->weights_bytes) */
    const uint8_t *consts;      /* host: filled by desc->init (desc->const_bytes) */
    int64_t kv_blocks;          /* blocks the allocator hands out; one more is allocated */
    int kv_fit;                 /* kv_blocks is the most wanted: take what 90% of the free
                                   memory holds beside the rest, if fewer (llmc_gpu_kv_blocks) */
    int use_graphs;             /* 0: every step eager (--no-graphs) */
    int use_pdl;                /* launch LLMC_GPU_KERNEL_PDL kernels with programmatic dependent
                                   launch where the GPU (sm_90+) and driver have it (0: --no-pdl) */
    double step_timeout;        /* the watchdog: seconds a step may take beyond 10 ms a token of it
                                   (docs/tp.md); 0: LLMC_STEP_TIMEOUT_DEFAULT (60) when sharded, else none; < 0: none */
    LlmcGpuProgress progress;   /* NULL: quiet; called while uploading the weights */
    void *progress_ctx;
} LlmcGpuSetup;

/* Loads the driver (driver_lib: NULL for LLMC_GPU_DRIVER_LIB; tests name one that does not exist),
 * opens device 0 and loads the image that fits it. Fails with a message a user can act on: no
 * driver, no GPU, no image for this GPU (naming both sides), a kernel missing from the image, a
 * kernel asking for more shared memory than the GPU has. */
int llmc_gpu_open(LlmcGpu **out, const LlmcModelDesc *desc, const char *driver_lib, char *err,
                  size_t errlen);
/* llmc_gpu_open with the driver's entry points given instead of loaded (tests run this file over a
 * fake driver). api->lib is ignored and never closed. */
int llmc_gpu_open_api(LlmcGpu **out, const LlmcModelDesc *desc, const LlmcCudaApi *api, char *err,
                      size_t errlen);
/* A sharded model (desc->n_ranks = N > 1): llmc_gpu_open_api over N devices of the fake driver,
 * NCCL's entry points given (nccl; NULL: loaded from nccl_lib, NULL for LLMC_NCCL_LIB). The
 * LlmcGpu returned is rank 0's and drives every rank (gpu_ranks.c). */
int llmc_gpu_open_ranks_api(LlmcGpu **out, const LlmcModelDesc *desc, const LlmcCudaApi *api,
                            const LlmcNcclApi *nccl, const char *nccl_lib, char *err, size_t errlen);
/* Frees everything (llmc_gpu_teardown first when set up), unloads the module, releases the
 * context. NULL is fine. */
void llmc_gpu_close(LlmcGpu *g);

/* Allocates and fills the device buffers. Returns 0, or -1 with a message (for lack of memory:
 * what was needed, by part, and what is free). */
int llmc_gpu_setup(LlmcGpu *g, const LlmcGpuSetup *s, char *err, size_t errlen);
/* Frees the device buffers and graphs (the module stays loaded). Safe when not set up. */
void llmc_gpu_teardown(LlmcGpu *g);

/* Runs one step: ex is the engine's exec (host weights and consts; ex->gpu == g). Writes
 * st->n_out rows of logits to st->logits unless st->n_nodes != 0. Returns 0 or -1 with a message
 * (a failed launch names the kernel; a fault inside a kernel shows at the synchronize). */
int llmc_gpu_step(LlmcGpu *g, const LlmcExec *ex, const LlmcStep *st, char *err, size_t errlen);

/* Copies bytes at byte offset off of the device arena to dst (after a step). */
int llmc_gpu_read_arena(LlmcGpu *g, int64_t off, void *dst, size_t bytes, char *err,
                        size_t errlen);

/* Arms g (unsharded): its next step that replays a CUDA graph (a decode-shaped step) then also
 * captures graphs of that step's first k launches (k = 1..L; the later ones skipped) and times
 * each over reps replays: launch k's cost is t(k) - t(k-1) (t(0) = 0: launch 1's includes the
 * graph's own start), what it adds to the step with the launches before it, PDL overlaps
 * included. After that step the costs are in llmc_gpu_launch_costs. Returns 0, or -1 with a
 * message (a sharded model: not supported). */
int llmc_gpu_arm_launch_costs(LlmcGpu *g, int reps, char *err, size_t errlen);
/* The costs of the last armed step (NULL, *n = 0 before one ran); *full_us: that step's graph
 * with every launch, timed the same way. */
const LlmcLaunchCost *llmc_gpu_launch_costs(const LlmcGpu *g, int32_t *n, double *full_us);

/* Device-to-device copy bandwidth: a buffer of min(2 GiB, free / 4) bytes copied once to warm up,
 * then 10 timed copies (events); the median, counting bytes read + written. */
int llmc_gpu_copy_bandwidth(LlmcGpu *g, double *bytes_per_second, size_t *buffer_bytes, char *err,
                            size_t errlen);

const char *llmc_gpu_name(const LlmcGpu *g);         /* "NVIDIA H100 80GB HBM3" */
int32_t llmc_gpu_sm(const LlmcGpu *g);               /* 90 (AMD: 0) */
const char *llmc_gpu_arch(const LlmcGpu *g);         /* the GPU's: "sm_90", "gfx1151" */
int llmc_gpu_weights_in_place(const LlmcGpu *g);     /* the GPU reads the mapped weights (an APU) */
const char *llmc_gpu_image_arch(const LlmcGpu *g);   /* the image loaded: "sm_90a" */
uint32_t llmc_gpu_features(const LlmcGpu *g);        /* the loaded image's LLMC_GPU_FEAT_* */
int llmc_gpu_uses_graphs(const LlmcGpu *g);
int64_t llmc_gpu_kv_blocks(const LlmcGpu *g);        /* the KV pool's blocks (after kv_fit) */
int llmc_gpu_uses_pdl(const LlmcGpu *g);
const LlmcGpuStats *llmc_gpu_stats(const LlmcGpu *g);

#endif
