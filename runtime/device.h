/* device.h — what runs a model's steps: one interface, one instance per kind of device.
 *
 * The engine (engine.h) owns what every device shares (the description, the KV block allocator,
 * the host weights) and calls its device only through these function pointers; nothing outside a
 * device's own files asks which backend a model was built for. A model's desc->backend picks the
 * instance (llmc_device_for): the cpu (device_cpu.c: forward() on the thread team, the KV pool in
 * host memory, tokens drawn on the host) and CUDA (cuda_device.c over gpu.h: buffers on the GPU,
 * forward() enqueues launches, CUDA graphs, tokens drawn by a kernel). A HIP device would be a
 * third instance.
 *
 * Entries marked optional are NULL where the device has nothing to offer; callers test them (a
 * capability, not a backend).
 */
#ifndef LLMC_DEVICE_H
#define LLMC_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "llmc_model.h"

typedef struct LlmcEngine LlmcEngine;
typedef struct LlmcEngineOpts LlmcEngineOpts;

/* --bench-launches: a launch of a step, timed in that step's CUDA graph (gpu.h). */
typedef struct LlmcLaunchCost {
    int32_t kernel;             /* index into desc->gpu_kernels */
    uint32_t grid[3], threads;
    double us;                  /* the step cut after this launch less the step cut before it */
} LlmcLaunchCost;

typedef struct LlmcDeviceOps {
    const char *name;           /* "cpu", "cuda" */
    int gpu_options;            /* --no-graphs, --no-pdl and --compare-cpu apply */
    /* The device-specific checks of a model description: NULL when fine, else the bad field. */
    const char *(*check_desc)(const LlmcModelDesc *d);
    /* Opens the device early (before the weights are mapped), so that a machine that cannot run
     * the model is refused at once; *dev may stay NULL (the cpu). close(NULL) is fine. */
    int (*open)(void **dev, const LlmcModelDesc *d, char *err, size_t errlen);
    void (*close)(void *dev);
    /* Everything a step needs: consts (init() run once), arena, KV pool and its allocator
     * (e->kv), threads; weights uploaded where the device has its own memory. e->desc,
     * e->ex.weights and e->max_blocks_per_seq are set; on failure everything set up so far is
     * freed. With o->kv_fit the pool is o->kv_blocks blocks or as many as memory allows, if
     * fewer (cpu: half the physical memory; cuda: 90% of the memory free at start, less what the
     * rest of the model takes), at least one. */
    int (*setup)(LlmcEngine *e, const LlmcEngineOpts *o, char *err, size_t errlen);
    void (*teardown)(LlmcEngine *e);
    /* One step (llmc_engine_step's contract); logits and chosen ids back on the host. */
    int (*step)(LlmcEngine *e, const LlmcStep *st, char *err, size_t errlen);
    /* Copies bytes at byte offset off of the activation arena to dst, after a step. */
    int (*read_arena)(LlmcEngine *e, int64_t off, void *dst, size_t bytes, char *err,
                      size_t errlen);
    /* What runs the steps: "NVIDIA H100 80GB HBM3 (sm_90, image sm_90a)", "the cpu (8 threads)". */
    void (*where)(const LlmcEngine *e, char *buf, size_t len);
    /* The --bench header after the model and target: "threads: 8, batch: 1", "device: ... (sm_90,
     * image sm_90a), batch: 1, CUDA graphs: on, PDL: on". */
    void (*bench_header)(const LlmcEngine *e, int32_t batch, char *buf, size_t len);
    /* optional: the device's own clock of the steps so far (seconds) */
    double (*busy_seconds)(const LlmcEngine *e);
    /* optional: device-to-device copy bandwidth (bytes/s, read + written) and the buffer used */
    int (*copy_bandwidth)(LlmcEngine *e, double *bytes_per_second, size_t *buffer_bytes,
                          char *err, size_t errlen);
    /* optional: --bench-launches: arm the next decode-shaped step to time its launches
     * (llmc_gpu_arm_launch_costs), then read them (NULL, *n = 0: none) */
    int (*arm_launch_costs)(LlmcEngine *e, int reps, char *err, size_t errlen);
    const LlmcLaunchCost *(*launch_costs)(const LlmcEngine *e, int32_t *n, double *full_us);
    /* optional: --verbose, how the steps ran */
    void (*print_stats)(const LlmcEngine *e, FILE *f);
    /* optional: --version, the images built ("GPU architectures: sm_90a, sm_89") */
    void (*version_info)(const LlmcModelDesc *d, char *buf, size_t len);
} LlmcDeviceOps;

extern const LlmcDeviceOps llmc_device_cpu;
extern const LlmcDeviceOps llmc_device_cuda;

/* The device of a model built for backend (LLMC_BACKEND_*), or NULL for an unknown one. */
const LlmcDeviceOps *llmc_device_for(int32_t backend);

#endif
