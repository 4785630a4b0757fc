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
static inline double llmc_mib(double bytes) { return bytes / (1 << 20); }

#endif
