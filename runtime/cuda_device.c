/* cuda_device.c — the GPU device (device.h; NVIDIA through CUDA, AMD through HIP) over the GPU
 * backend (gpu.h): host consts (init() fills them), the KV block allocator and a one-thread team on
 * the host; everything forward() touches on the GPU. The device keeps one KV block more than the allocator hands out: padding
 * tokens of CUDA-graph steps write there. A sharded model (--tp N) runs on N GPUs, one a rank, all
 * behind the one LlmcGpu of rank 0 (gpu_ranks.c): the engine sees one device. */
#include "device.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine.h"
#include "gpu.h"
#include "pool.h"
#include "rtutil.h"

static const char *cuda_check_desc(const LlmcModelDesc *d)
{
    if (!d->gpu_images || d->n_gpu_images < 1 || d->n_gpu_kernels < 1 || !d->gpu_kernels)
        return "gpu_images/gpu_kernels";
    if (d->n_ranks < 0 || d->n_ranks > 1024 ||
        (d->n_ranks > 1 && (d->rank_weights_stride <= 0 || d->rank_weights_stride % 64 != 0 ||
                            d->rank_weights_stride > d->weights_bytes / d->n_ranks)))
        return "n_ranks/rank_weights_stride";
    if (d->n_gpu_tmaps < 0 || (d->n_gpu_tmaps > 0 && !d->gpu_tmaps)) /* each map is checked as it is encoded */
        return "gpu_tmaps";
    return NULL;
}

static int cuda_open(void **dev, const LlmcModelDesc *d, char *err, size_t errlen)
{
    LlmcGpu *g = NULL;
    int rc = llmc_gpu_open(&g, d, NULL, err, errlen);
    *dev = g;
    return rc;
}

static void cuda_close(void *dev) { llmc_gpu_close(dev); }

static int cuda_setup(LlmcEngine *e, const LlmcEngineOpts *o, char *err, size_t errlen)
{
    const LlmcModelDesc *d = e->desc;
    if (o->kv_blocks + 1 > INT32_MAX / d->kv_block_size)
        return llmc_rt_fail(err, errlen,
                            "%lld KV blocks of %d positions exceed the 2^31 slots a step can address",
                            (long long)o->kv_blocks, d->kv_block_size);
    e->ex.gpu = o->device;
    if (!e->ex.gpu) {
        if (llmc_gpu_open(&e->ex.gpu, d, NULL, err, errlen) != 0)
            return -1;
        e->own_gpu = 1;
    }
    e->ex.consts = llmc_rt_alloc((size_t)d->const_bytes);
    if (!e->ex.consts) {
        llmc_engine_destroy(e);
        return llmc_rt_fail(err, errlen, "out of memory: model consts (%lld bytes)",
                            (long long)d->const_bytes);
    }
    e->ex.kv_blocks = o->kv_blocks;
    if (llmc_pool_create(&e->ex.pool, 1, err, errlen) != 0) {
        llmc_engine_destroy(e);
        return -1;
    }
    if (d->init)
        d->init(&e->ex);
    LlmcGpuSetup s = {
        .weights = e->ex.weights,
        .consts = e->ex.consts,
        .kv_blocks = o->kv_blocks,
        .kv_fit = o->kv_fit,
        .use_graphs = !o->no_graphs,
        .use_pdl = !o->no_pdl,
        .step_timeout = o->step_timeout,
        .progress = o->progress,
        .progress_ctx = o->progress_ctx,
    };
    /* the device first: a pool that does not fit is refused before any host bookkeeping */
    if (llmc_gpu_setup(e->ex.gpu, &s, err, errlen) != 0) {
        llmc_engine_destroy(e);
        return -1;
    }
    e->ex.kv_blocks = llmc_gpu_kv_blocks(e->ex.gpu);     /* fewer with kv_fit */
    if (llmc_kv_init(&e->kv, e->ex.kv_blocks, err, errlen) != 0) {
        llmc_engine_destroy(e);
        return -1;
    }
    return 0;
}

static void cuda_teardown(LlmcEngine *e)
{
    if (!e->ex.gpu)
        return;
    llmc_gpu_teardown(e->ex.gpu);
    if (e->own_gpu)
        llmc_gpu_close(e->ex.gpu);
    e->ex.gpu = NULL;
}

static int cuda_step(LlmcEngine *e, const LlmcStep *st, char *err, size_t errlen)
{
    return llmc_gpu_step(e->ex.gpu, &e->ex, st, err, errlen);
}

static int cuda_read_arena(LlmcEngine *e, int64_t off, void *dst, size_t bytes, char *err,
                           size_t errlen)
{
    return llmc_gpu_read_arena(e->ex.gpu, off, dst, bytes, err, errlen);
}

/* "2 x " before the GPU's name of a model sharded over 2 GPUs */
static void gpus(const LlmcEngine *e, char *buf, size_t len)
{
    buf[0] = 0;
    if (e->desc->n_ranks > 1)
        snprintf(buf, len, "%d x ", e->desc->n_ranks);
}

static void cuda_where(const LlmcEngine *e, char *buf, size_t len)
{
    const LlmcGpu *g = e->ex.gpu;
    char n[16];
    gpus(e, n, sizeof n);
    snprintf(buf, len, "%s%s (%s, image %s%s)", n, llmc_gpu_name(g), llmc_gpu_arch(g), llmc_gpu_image_arch(g),
             llmc_gpu_weights_in_place(g) ? ", weights read in place" : "");
}

static void cuda_bench_header(const LlmcEngine *e, int32_t batch, char *buf, size_t len)
{
    const LlmcGpu *g = e->ex.gpu;
    char n[16];
    gpus(e, n, sizeof n);
    snprintf(buf, len, "device: %s%s (%s, image %s), batch: %d, CUDA graphs: %s, PDL: %s",
             n, llmc_gpu_name(g), llmc_gpu_arch(g), llmc_gpu_image_arch(g), batch,
             llmc_gpu_uses_graphs(g) ? "on" : "off", llmc_gpu_uses_pdl(g) ? "on" : "off");
}

static double cuda_busy_seconds(const LlmcEngine *e)
{
    return llmc_gpu_stats(e->ex.gpu)->busy_seconds;
}

static int cuda_copy_bandwidth(LlmcEngine *e, double *bps, size_t *buffer_bytes, char *err,
                               size_t errlen)
{
    return llmc_gpu_copy_bandwidth(e->ex.gpu, bps, buffer_bytes, err, errlen);
}

static void cuda_print_stats(const LlmcEngine *e, FILE *f)
{
    const LlmcGpuStats *g = llmc_gpu_stats(e->ex.gpu);
    fprintf(f, "gpu: %lld steps, %lld as CUDA graphs (%lld captured), %lld kernel launches "
               "enqueued",
            (long long)g->steps, (long long)g->graph_steps, (long long)g->captures,
            (long long)g->launches);
    if (e->desc->n_ranks > 1)
        fprintf(f, ", %lld NCCL collectives (rank 0 of %d)", (long long)g->collectives, e->desc->n_ranks);
    fprintf(f, "\n");
}

static int cuda_arm_launch_costs(LlmcEngine *e, int reps, char *err, size_t errlen)
{
    return llmc_gpu_arm_launch_costs(e->ex.gpu, reps, err, errlen);
}

static const LlmcLaunchCost *cuda_launch_costs(const LlmcEngine *e, int32_t *n, double *full_us)
{
    return llmc_gpu_launch_costs(e->ex.gpu, n, full_us);
}

static void cuda_version_info(const LlmcModelDesc *d, char *buf, size_t len)
{
    char archs[512];
    llmc_gpu_arch_list(d, archs, sizeof archs);
    if (d->n_ranks > 1)
        snprintf(buf, len, "GPU architectures: %s; runs on %d GPUs, one a rank (NCCL, libnccl.so.2)", archs, d->n_ranks);
    else
        snprintf(buf, len, "GPU architectures: %s", archs);
}

const LlmcDeviceOps llmc_device_cuda = {
    .name = "cuda",
    .gpu_options = 1,
    .check_desc = cuda_check_desc,
    .open = cuda_open,
    .close = cuda_close,
    .setup = cuda_setup,
    .teardown = cuda_teardown,
    .step = cuda_step,
    .read_arena = cuda_read_arena,
    .where = cuda_where,
    .bench_header = cuda_bench_header,
    .busy_seconds = cuda_busy_seconds,
    .copy_bandwidth = cuda_copy_bandwidth,
    .arm_launch_costs = cuda_arm_launch_costs,
    .launch_costs = cuda_launch_costs,
    .print_stats = cuda_print_stats,
    .version_info = cuda_version_info,
};
