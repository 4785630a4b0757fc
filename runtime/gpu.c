/* gpu.c — see gpu.h. The CUDA backend, through the driver API loaded at run time: the driver
 * table, opening the device (image, context, stream, module, kernels), the device buffers and the
 * weight upload. Steps, launches and graphs are in gpu_step.c, the pure parts in gpu_image.c.
 *
 * Every driver call's result is checked; a failure becomes a message naming the call (and what it
 * was for), the driver's error name and its text. Teardown paths ignore results on purpose: after
 * a fault the context is gone and there is nothing left to do about a failed free.
 */
#include "gpu.h"

#include <assert.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_api.h"
#include "gpu_impl.h"
#include "kvcache.h"
#include "rtutil.h"

/* ---- driver calls ---- */

int llmc_cu_fail(const LlmcGpu *g, CUresult r, char *err, size_t errlen, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *name = NULL, *text = NULL;
    if (g->cu.GetErrorName && g->cu.GetErrorName(r, &name) != CUDA_SUCCESS)
        name = NULL;
    if (g->cu.GetErrorString && g->cu.GetErrorString(r, &text) != CUDA_SUCCESS)
        text = NULL;
    char code[32];
    snprintf(code, sizeof code, "CUDA error %d", r);
    return llmc_rt_fail(err, errlen, "%s: %s: %s", what, name ? name : code,
                        text ? text : "unknown error");
}

static const struct {
    const char *sym;
    size_t off;
} cuda_syms[] = {
#define LLMC_CUDA_SYM(field, sym, params) {sym, offsetof(LlmcCudaApi, field)},
    LLMC_CUDA_FUNCS(LLMC_CUDA_SYM)
#undef LLMC_CUDA_SYM
};

/* dlopen + dlsym of every entry point. */
static int load_driver(LlmcCudaApi *api, const char *lib, const char *archs, char *err,
                       size_t errlen)
{
    memset(api, 0, sizeof *api);
    dlerror();
    api->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!api->lib) {
        const char *why = dlerror();
        return llmc_rt_fail(err, errlen,
                            "no NVIDIA driver found (%s): this executable was built for %s and needs "
                            "an NVIDIA GPU (%s)",
                            lib, archs, why ? why : "dlopen failed");
    }
    for (size_t i = 0; i < sizeof cuda_syms / sizeof cuda_syms[0]; i++) {
        void *p = dlsym(api->lib, cuda_syms[i].sym);
        if (!p && cuda_syms[i].off == offsetof(LlmcCudaApi, EventElapsedTime))
            p = dlsym(api->lib, "cuEventElapsedTime");      /* drivers before CUDA 12.8 */
        if (!p && cuda_syms[i].off == offsetof(LlmcCudaApi, LaunchKernelEx))
            continue;                                       /* optional: no PDL */
        if (!p) {
            dlclose(api->lib);
            api->lib = NULL;
            return llmc_rt_fail(err, errlen,
                                "%s has no %s: the NVIDIA driver is too old for this executable "
                                "(built for %s); update the driver",
                                lib, cuda_syms[i].sym, archs);
        }
        memcpy((char *)api + cuda_syms[i].off, &p, sizeof p);
    }
    return 0;
}

static LlmcGpu *gpu_new(const LlmcModelDesc *d, char *err, size_t errlen)
{
    if (d->backend != LLMC_BACKEND_CUDA || !d->gpu_images || d->n_gpu_images < 1 ||
        (d->n_gpu_kernels > 0 && !d->gpu_kernels) || d->n_gpu_kernels < 0) {
        llmc_rt_fail(err, errlen, "model %s: not a CUDA build with kernel images",
                     d->name ? d->name : "(unnamed)");
        return NULL;
    }
    LlmcGpu *g = calloc(1, sizeof *g);
    if (!g) {
        llmc_rt_fail(err, errlen, "out of memory opening the GPU");
        return NULL;
    }
    g->d = d;
    g->image = -1;
    return g;
}

static int open_device(LlmcGpu *g, char *err, size_t errlen);

int llmc_gpu_open(LlmcGpu **out, const LlmcModelDesc *d, const char *driver_lib, char *err,
                  size_t errlen)
{
    *out = NULL;
    const char *lib = driver_lib ? driver_lib : LLMC_GPU_DRIVER_LIB;
    char archs[512];
    llmc_gpu_arch_list(d, archs, sizeof archs);
    LlmcGpu *g = gpu_new(d, err, errlen);
    if (!g)
        return -1;
    if (load_driver(&g->cu, lib, archs, err, errlen) != 0) {
        free(g);
        return -1;
    }
    if (open_device(g, err, errlen) != 0)
        return -1;
    *out = g;
    return 0;
}

int llmc_gpu_open_api(LlmcGpu **out, const LlmcModelDesc *d, const LlmcCudaApi *api, char *err,
                      size_t errlen)
{
    *out = NULL;
    LlmcGpu *g = gpu_new(d, err, errlen);
    if (!g)
        return -1;
    g->cu = *api;
    g->cu.lib = NULL;                   /* not ours to close */
    for (size_t i = 0; i < sizeof cuda_syms / sizeof cuda_syms[0]; i++) {
        void *p;
        memcpy(&p, (const char *)&g->cu + cuda_syms[i].off, sizeof p);
        if (!p && cuda_syms[i].off != offsetof(LlmcCudaApi, LaunchKernelEx)) { /* optional */
            free(g);
            return llmc_rt_fail(err, errlen, "the driver table lacks %s", cuda_syms[i].sym);
        }
    }
    if (open_device(g, err, errlen) != 0)
        return -1;
    *out = g;
    return 0;
}

/* cuInit, device 0, image selection, context, stream, module and kernels. On failure g is
 * closed. */
static int open_device(LlmcGpu *g, char *err, size_t errlen)
{
    const LlmcModelDesc *d = g->d;
    char archs[512];
    llmc_gpu_arch_list(d, archs, sizeof archs);
    CUresult r = g->cu.Init(0);
    int count = 0;
    if (r == CUDA_SUCCESS)
        r = g->cu.DeviceGetCount(&count);
    if (r != CUDA_SUCCESS || count < 1) {
        char why[512];
        if (r != CUDA_SUCCESS)
            llmc_cu_fail(g, r, why, sizeof why, "cuInit");
        else
            snprintf(why, sizeof why, "cuDeviceGetCount: 0 devices");
        llmc_rt_fail(err, errlen,
                     "no NVIDIA GPU found (%s): this executable was built for %s and needs an "
                     "NVIDIA GPU",
                     why, archs);
        llmc_gpu_close(g);
        return -1;
    }
    int major = 0, minor = 0, optin = 0;
    if ((r = g->cu.DeviceGet(&g->dev, 0)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuDeviceGet(0)");
        goto fail;
    }
    if ((r = g->cu.DeviceGetName(g->name, (int)sizeof g->name - 1, g->dev)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuDeviceGetName");
        goto fail;
    }
    if ((r = g->cu.DeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                      g->dev)) != CUDA_SUCCESS ||
        (r = g->cu.DeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                      g->dev)) != CUDA_SUCCESS ||
        (r = g->cu.DeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                                      g->dev)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuDeviceGetAttribute (compute capability, shared memory)");
        goto fail;
    }
    g->sm = major * 10 + minor;
    g->image = llmc_gpu_select_image(d->gpu_images, d->n_gpu_images, LLMC_GPU_VENDOR_NVIDIA, g->sm,
                                     g->name, err, errlen);
    if (g->image < 0)
        goto fail;
    if ((r = g->cu.DevicePrimaryCtxRetain(&g->ctx, g->dev)) != CUDA_SUCCESS) {
        g->ctx = NULL;
        llmc_cu_fail(g, r, err, errlen, "cuDevicePrimaryCtxRetain (%s)", g->name);
        goto fail;
    }
    if ((r = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuCtxSetCurrent");
        goto fail;
    }
    if ((r = g->cu.StreamCreate(&g->stream, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS) {
        g->stream = NULL;
        llmc_cu_fail(g, r, err, errlen, "cuStreamCreate");
        goto fail;
    }
    for (int i = 0; i < 2; i++)
        if ((r = g->cu.EventCreate(&g->step_ev[i], CU_EVENT_DEFAULT)) != CUDA_SUCCESS) {
            g->step_ev[i] = NULL;
            llmc_cu_fail(g, r, err, errlen, "cuEventCreate");
            goto fail;
        }

    /* The driver parses the cubin in place; give it 8-byte aligned data whatever the array's
     * alignment in the executable. */
    const LlmcGpuImage *im = &d->gpu_images[g->image];
    const void *data = im->data;
    void *copy = NULL;
    if (((uintptr_t)data & 7) != 0) {
        copy = llmc_rt_alloc((size_t)im->size);
        if (!copy) {
            llmc_rt_fail(err, errlen, "out of memory copying the %s image", im->arch);
            goto fail;
        }
        memcpy(copy, data, (size_t)im->size);
        data = copy;
    }
    r = g->cu.ModuleLoadData(&g->mod, data);
    free(copy);
    if (r != CUDA_SUCCESS) {
        g->mod = NULL;
        llmc_cu_fail(g, r, err, errlen, "cuModuleLoadData (the %s image, %llu bytes, on %s, sm_%d)",
                im->arch, (unsigned long long)im->size, g->name, g->sm);
        goto fail;
    }
    g->fn = calloc((size_t)(d->n_gpu_kernels > 0 ? d->n_gpu_kernels : 1), sizeof *g->fn);
    if (!g->fn) {
        llmc_rt_fail(err, errlen, "out of memory for %d kernels", d->n_gpu_kernels);
        goto fail;
    }
    for (int32_t k = 0; k < d->n_gpu_kernels; k++) {
        const char *kname = d->gpu_kernels[k];
        if ((r = g->cu.ModuleGetFunction(&g->fn[k], g->mod, kname)) != CUDA_SUCCESS) {
            llmc_cu_fail(g, r, err, errlen, "the %s image has no kernel %s (cuModuleGetFunction)",
                    im->arch, kname);
            goto fail;
        }
        uint32_t smem = d->gpu_kernel_smem ? d->gpu_kernel_smem[k] : 0;
        if (smem == 0)
            continue;
        if ((int64_t)smem > optin) {
            llmc_rt_fail(err, errlen,
                         "kernel %s needs %u bytes of shared memory; %s (sm_%d) allows %d per "
                         "block",
                         kname, smem, g->name, g->sm, optin);
            goto fail;
        }
        if ((r = g->cu.FuncSetAttribute(g->fn[k], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                        (int)smem)) != CUDA_SUCCESS) {
            llmc_cu_fail(g, r, err, errlen,
                    "cuFuncSetAttribute (kernel %s, %u bytes of dynamic shared memory)", kname,
                    smem);
            goto fail;
        }
    }
    return 0;
fail:
    llmc_gpu_close(g);
    return -1;
}

void llmc_gpu_close(LlmcGpu *g)
{
    if (!g)
        return;
    llmc_gpu_teardown(g);
    if (g->mod)
        (void)g->cu.ModuleUnload(g->mod);
    for (int i = 0; i < 2; i++)
        if (g->step_ev[i])
            (void)g->cu.EventDestroy(g->step_ev[i]);
    if (g->stream)
        (void)g->cu.StreamDestroy(g->stream);
    if (g->ctx)
        (void)g->cu.DevicePrimaryCtxRelease(g->dev);
    free(g->fn);
    if (g->cu.lib)
        dlclose(g->cu.lib);
    free(g);
}

/* ---- buffers ---- */

int llmc_gpu_dev_alloc(LlmcGpu *g, CUdeviceptr *p, size_t bytes, const char *what, char *err,
                     size_t errlen)
{
    CUresult r = g->cu.MemAlloc(p, bytes > 256 ? bytes : 256);
    if (r != CUDA_SUCCESS) {
        *p = 0;
        return llmc_cu_fail(g, r, err, errlen, "cuMemAlloc_v2 (%s: %.1f MiB on %s)", what, llmc_mib((double)bytes),
                       g->name);
    }
    return 0;
}

/* Host to device through two pinned staging buffers: the copy of one chunk into staging (which
 * also faults the mapped payload in from disk) overlaps the DMA of the other. */
static int upload(LlmcGpu *g, CUdeviceptr dst, const uint8_t *src, size_t bytes, const char *what,
                  LlmcGpuProgress progress, void *pctx, char *err, size_t errlen)
{
    if (bytes == 0)
        return 0;
    size_t chunk = bytes < UPLOAD_CHUNK ? bytes : UPLOAD_CHUNK;
    void *stage[2] = {NULL, NULL};
    CUevent done[2] = {NULL, NULL};
    int rc = 0;
    CUresult r;
    for (int i = 0; i < 2 && rc == 0; i++) {
        if ((r = g->cu.MemAllocHost(&stage[i], chunk)) != CUDA_SUCCESS) {
            stage[i] = NULL;
            rc = llmc_cu_fail(g, r, err, errlen, "cuMemAllocHost_v2 (%.0f MiB of staging for the %s)",
                         llmc_mib((double)chunk), what);
        } else if ((r = g->cu.EventCreate(&done[i], CU_EVENT_DISABLE_TIMING)) != CUDA_SUCCESS) {
            done[i] = NULL;
            rc = llmc_cu_fail(g, r, err, errlen, "cuEventCreate");
        }
    }
    size_t off = 0;
    for (int i = 0; rc == 0 && off < bytes; i ^= 1) {
        size_t n = bytes - off < chunk ? bytes - off : chunk;
        if (off >= 2 * chunk && (r = g->cu.EventSynchronize(done[i])) != CUDA_SUCCESS) {
            rc = llmc_cu_fail(g, r, err, errlen, "uploading the %s (cuEventSynchronize)", what);
            break;
        }
        memcpy(stage[i], src + off, n);
        if ((r = g->cu.MemcpyHtoDAsync(dst + off, stage[i], n, g->stream)) != CUDA_SUCCESS ||
            (r = g->cu.EventRecord(done[i], g->stream)) != CUDA_SUCCESS) {
            rc = llmc_cu_fail(g, r, err, errlen, "uploading the %s (cuMemcpyHtoDAsync_v2, %zu bytes at %zu)",
                         what, n, off);
            break;
        }
        off += n;
        if (progress)
            progress(pctx, what, (int64_t)off, (int64_t)bytes);
    }
    if ((r = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS && rc == 0)
        rc = llmc_cu_fail(g, r, err, errlen, "uploading the %s (cuStreamSynchronize)", what);
    for (int i = 0; i < 2; i++) {
        if (done[i])
            (void)g->cu.EventDestroy(done[i]);
        if (stage[i])
            (void)g->cu.MemFreeHost(stage[i]);
    }
    return rc;
}

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

int llmc_gpu_setup(LlmcGpu *g, const LlmcGpuSetup *s, char *err, size_t errlen)
{
    const LlmcModelDesc *d = g->d;
    assert(!g->ready);
    CUresult r;
    int32_t mt = d->max_tokens, mo = d->max_outputs;
    g->mbps = llmc_kv_blocks_for(d->max_seq_len, d->kv_block_size) + d->kv_ring_blocks;
    g->pad_row = mt;
    g->use_graphs = s->use_graphs;
    g->use_pdl = s->use_pdl && g->sm >= 90 && g->cu.LaunchKernelEx && d->gpu_kernel_flags;
    /* steps: the per-token arrays (4 of max_tokens rounded up to 32, then out_rows), the sampler
     * block (4 doubles a logits row), then (max_tokens + 1) block table rows, the last one for
     * padding tokens. */
    g->sample_off = round_up((4 * round_up((size_t)mt, 32) + (size_t)mo) * sizeof(int32_t), 64);
    g->table_off = round_up(g->sample_off + 4 * (size_t)mo * sizeof(double), 256);
    g->steps_bytes = g->table_off + (size_t)(mt + 1) * (size_t)g->mbps * sizeof(int32_t);
    g->ids_off = round_up((size_t)mo * (size_t)d->vocab_size * sizeof(float), 256);
    g->logits_bytes = g->ids_off + (size_t)mo * sizeof(int32_t);
    size_t free_b = 0, total_b = 0;
    if ((r = g->cu.MemGetInfo(&free_b, &total_b)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuMemGetInfo_v2");
    g->kv_blocks = s->kv_blocks;
    if (s->kv_fit && d->kv_block_bytes > 0) {
        double rest = (double)d->weights_bytes + (double)d->const_bytes + (double)d->arena_bytes +
                      (double)g->steps_bytes + (double)g->logits_bytes;
        double room = 0.9 * (double)free_b - rest;
        int64_t fit = room > 0 ? (int64_t)(room / (double)d->kv_block_bytes) - 1 : 0;
        if (fit < g->kv_blocks)
            g->kv_blocks = fit > 1 ? fit : 1;
    }
    size_t kv_bytes = (size_t)(g->kv_blocks + 1) * (size_t)d->kv_block_bytes;
    double need = (double)d->weights_bytes + (double)d->const_bytes + (double)d->arena_bytes +
                  (double)kv_bytes + (double)g->steps_bytes + (double)g->logits_bytes;
    if (need > (double)free_b)
        return llmc_rt_fail(err, errlen,
                            "not enough GPU memory on %s: the model needs %.0f MiB (weights %.0f, "
                            "KV cache %.0f for %lld blocks, activations %.0f, step buffers and "
                            "logits %.0f), %.0f MiB are free of %.0f MiB; ask for a smaller KV "
                            "cache with --kv-mem MIB or --kv-blocks N",
                            g->name, llmc_mib(need), llmc_mib((double)d->weights_bytes), llmc_mib((double)kv_bytes),
                            (long long)g->kv_blocks, llmc_mib((double)d->arena_bytes),
                            llmc_mib((double)(g->steps_bytes + g->logits_bytes + (size_t)d->const_bytes)),
                            llmc_mib((double)free_b), llmc_mib((double)total_b));

    if (llmc_gpu_dev_alloc(g, &g->weights, (size_t)d->weights_bytes, "weights", err, errlen) ||
        llmc_gpu_dev_alloc(g, &g->consts, (size_t)d->const_bytes, "constant tables", err, errlen) ||
        llmc_gpu_dev_alloc(g, &g->arena, (size_t)d->arena_bytes, "activation arena", err, errlen) ||
        llmc_gpu_dev_alloc(g, &g->kv, kv_bytes, "KV cache", err, errlen) ||
        llmc_gpu_dev_alloc(g, &g->steps, g->steps_bytes, "step arrays", err, errlen) ||
        llmc_gpu_dev_alloc(g, &g->logits, g->logits_bytes, "logits", err, errlen))
        goto fail;
    void *p;
    if ((r = g->cu.MemAllocHost(&p, g->steps_bytes)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuMemAllocHost_v2 (step arrays, %zu bytes)", g->steps_bytes);
        goto fail;
    }
    g->host_steps = p;
    if ((r = g->cu.MemAllocHost(&p, g->logits_bytes > 0 ? g->logits_bytes : 64)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuMemAllocHost_v2 (logits, %zu bytes)", g->logits_bytes);
        goto fail;
    }
    g->host_logits = p;
    g->ready = 1;

    if (upload(g, g->weights, s->weights, (size_t)d->weights_bytes, "weights", s->progress,
               s->progress_ctx, err, errlen) != 0 ||
        upload(g, g->consts, s->consts, (size_t)d->const_bytes, "constant tables", NULL, NULL, err,
               errlen) != 0)
        goto fail;
    /* Zeroed KV and arena: nothing a kernel reads is ever garbage from an earlier process. */
    if ((r = g->cu.MemsetD8Async(g->kv, 0, kv_bytes, g->stream)) != CUDA_SUCCESS ||
        (r = g->cu.MemsetD8Async(g->arena, 0, (size_t)d->arena_bytes, g->stream)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuMemsetD8Async (clearing the KV cache and arena)");
        goto fail;
    }
    /* The padding row: every entry is the padding block. */
    int32_t *pad = g->host_steps + g->table_off / sizeof(int32_t) + (size_t)g->pad_row * g->mbps;
    for (int32_t i = 0; i < g->mbps; i++)
        pad[i] = (int32_t)g->kv_blocks;
    size_t pad_off = g->table_off + (size_t)g->pad_row * g->mbps * sizeof(int32_t);
    if ((r = g->cu.MemcpyHtoDAsync(g->steps + pad_off, pad, (size_t)g->mbps * sizeof(int32_t),
                                   g->stream)) != CUDA_SUCCESS ||
        (r = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "uploading the padding block table row");
        goto fail;
    }
    return 0;
fail:
    llmc_gpu_teardown(g);
    return -1;
}

void llmc_gpu_teardown(LlmcGpu *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_graphs; i++)
        (void)g->cu.GraphExecDestroy(g->graphs[i].exec);
    g->n_graphs = 0;
    CUdeviceptr *bufs[] = {&g->weights, &g->consts, &g->arena, &g->kv, &g->steps, &g->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        if (*bufs[i])
            (void)g->cu.MemFree(*bufs[i]);
        *bufs[i] = 0;
    }
    if (g->host_steps)
        (void)g->cu.MemFreeHost(g->host_steps);
    if (g->host_logits)
        (void)g->cu.MemFreeHost(g->host_logits);
    g->host_steps = NULL;
    g->host_logits = NULL;
    g->ready = 0;
}
