/* gpu.c — see gpu.h. The CUDA backend, through the driver API loaded at run time.
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
#include "kvcache.h"
#include "rtutil.h"

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
    int32_t sm;
    int32_t image;                      /* index into d->gpu_images */
    CUmodule mod;
    CUfunction *fn;                     /* [d->n_gpu_kernels] */
    CUstream stream;
    CUevent step_ev[2];                 /* around each step's copies and kernels: stats.busy_seconds */

    /* llmc_gpu_setup */
    int ready;
    CUdeviceptr weights, consts, arena, kv, steps, logits;
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

/* ---- pure parts ---- */

int32_t llmc_gpu_bucket(int32_t n, int32_t cap)
{
    assert(n >= 1 && n <= cap);
    int32_t b = 1;
    while (b < n)
        b *= 2;
    return b < cap ? b : cap;
}

int32_t llmc_gpu_graph_bucket(const LlmcStep *st, int32_t max_tokens, int32_t max_outputs)
{
    if (st->n_nodes != 0 || st->n_tokens < 1 || st->n_tokens > LLMC_GPU_GRAPH_MAX_TOKENS ||
        st->n_out != st->n_tokens)
        return 0;
    for (int32_t i = 0; i < st->n_out; i++)
        if (st->out_rows[i] != i)
            return 0;
    int32_t cap = max_tokens < max_outputs ? max_tokens : max_outputs;
    if (st->n_tokens > cap)
        return 0;
    return llmc_gpu_bucket(st->n_tokens, cap);
}

void llmc_gpu_pad_step(const LlmcStep *st, int32_t bucket, int32_t pad_row, int32_t pad_slot,
                       const LlmcGpuStepArrays *out)
{
    int32_t n = st->n_tokens;
    assert(bucket >= n);
    size_t sz = (size_t)n * sizeof(int32_t);
    memcpy(out->tokens, st->tokens, sz);
    memcpy(out->positions, st->positions, sz);
    memcpy(out->seq_of_token, st->seq_of_token, sz);
    memcpy(out->slots, st->slots, sz);
    for (int32_t i = n; i < bucket; i++) {
        out->tokens[i] = 0;
        out->positions[i] = 0;
        out->seq_of_token[i] = pad_row;
        out->slots[i] = pad_slot;
    }
    for (int32_t i = 0; i < bucket; i++)
        out->out_rows[i] = i;
}

static const char *vendor_name(int32_t vendor)
{
    return vendor == LLMC_GPU_VENDOR_NVIDIA ? "NVIDIA" : vendor == LLMC_GPU_VENDOR_AMD ? "AMD" : "?";
}

/* NVIDIA's rules (the vendor already matches). */
static int image_runs_on(const LlmcGpuImage *im, int32_t sm)
{
    if (im->arch_specific)
        return im->sm == sm;
    return im->sm / 10 == sm / 10 && im->sm % 10 <= sm % 10;
}

static void arch_list(const LlmcGpuImage *images, int32_t n, char *buf, size_t buflen)
{
    size_t len = 0;
    buf[0] = 0;
    for (int32_t i = 0; i < n && len + 1 < buflen; i++) {
        int w = snprintf(buf + len, buflen - len, "%s%s", i ? ", " : "",
                         images[i].arch ? images[i].arch : "?");
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (n == 0)
        snprintf(buf, buflen, "no GPU architecture");
}

void llmc_gpu_arch_list(const LlmcModelDesc *d, char *buf, size_t buflen)
{
    arch_list(d->gpu_images, d->gpu_images ? d->n_gpu_images : 0, buf, buflen);
}

int llmc_gpu_select_image(const LlmcGpuImage *images, int32_t n, int32_t vendor, int32_t sm,
                          const char *gpu_name, char *err, size_t errlen)
{
    int best = -1, of_vendor = 0;
    for (int32_t i = 0; i < n; i++) {
        const LlmcGpuImage *im = &images[i];
        if (im->vendor != vendor)
            continue;
        of_vendor++;
        if (!image_runs_on(im, sm))
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        const LlmcGpuImage *b = &images[best];
        /* exact sm first, arch-specific first among exact ones, then the highest sm */
        int im_exact = im->sm == sm, b_exact = b->sm == sm;
        if (im_exact != b_exact) {
            if (im_exact)
                best = i;
        } else if (im_exact) {
            if (im->arch_specific && !b->arch_specific)
                best = i;
        } else if (im->sm > b->sm) {
            best = i;
        }
    }
    if (best >= 0)
        return best;
    char archs[512];
    arch_list(images, n, archs, sizeof archs);
    if (of_vendor == 0)
        return llmc_rt_fail(err, errlen,
                            "this executable has no image for %s GPUs (built for %s); this GPU is "
                            "%s",
                            vendor_name(vendor), archs, gpu_name);
    return llmc_rt_fail(err, errlen,
                        "this executable was built for %s; this GPU is %s (sm_%d): rebuild with "
                        "llmc compile --target sm_%d",
                        archs, gpu_name, sm, sm);
}

/* ---- driver calls ---- */

/* Formats "<what>: NAME: text" for a failed call (what is printf-style). Returns -1. */
static int cu_fail(const LlmcGpu *g, CUresult r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int cu_fail(const LlmcGpu *g, CUresult r, char *err, size_t errlen, const char *fmt, ...)
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
            cu_fail(g, r, why, sizeof why, "cuInit");
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
        cu_fail(g, r, err, errlen, "cuDeviceGet(0)");
        goto fail;
    }
    if ((r = g->cu.DeviceGetName(g->name, (int)sizeof g->name - 1, g->dev)) != CUDA_SUCCESS) {
        cu_fail(g, r, err, errlen, "cuDeviceGetName");
        goto fail;
    }
    if ((r = g->cu.DeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                      g->dev)) != CUDA_SUCCESS ||
        (r = g->cu.DeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                      g->dev)) != CUDA_SUCCESS ||
        (r = g->cu.DeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                                      g->dev)) != CUDA_SUCCESS) {
        cu_fail(g, r, err, errlen, "cuDeviceGetAttribute (compute capability, shared memory)");
        goto fail;
    }
    g->sm = major * 10 + minor;
    g->image = llmc_gpu_select_image(d->gpu_images, d->n_gpu_images, LLMC_GPU_VENDOR_NVIDIA, g->sm,
                                     g->name, err, errlen);
    if (g->image < 0)
        goto fail;
    if ((r = g->cu.DevicePrimaryCtxRetain(&g->ctx, g->dev)) != CUDA_SUCCESS) {
        g->ctx = NULL;
        cu_fail(g, r, err, errlen, "cuDevicePrimaryCtxRetain (%s)", g->name);
        goto fail;
    }
    if ((r = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS) {
        cu_fail(g, r, err, errlen, "cuCtxSetCurrent");
        goto fail;
    }
    if ((r = g->cu.StreamCreate(&g->stream, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS) {
        g->stream = NULL;
        cu_fail(g, r, err, errlen, "cuStreamCreate");
        goto fail;
    }
    for (int i = 0; i < 2; i++)
        if ((r = g->cu.EventCreate(&g->step_ev[i], CU_EVENT_DEFAULT)) != CUDA_SUCCESS) {
            g->step_ev[i] = NULL;
            cu_fail(g, r, err, errlen, "cuEventCreate");
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
        cu_fail(g, r, err, errlen, "cuModuleLoadData (the %s image, %llu bytes, on %s, sm_%d)",
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
            cu_fail(g, r, err, errlen, "the %s image has no kernel %s (cuModuleGetFunction)",
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
            cu_fail(g, r, err, errlen,
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

static double mib(double bytes) { return bytes / (1 << 20); }

/* cuMemAlloc of at least 256 bytes (a zero-sized buffer still gets a valid address). */
static int dev_alloc(LlmcGpu *g, CUdeviceptr *p, size_t bytes, const char *what, char *err,
                     size_t errlen)
{
    CUresult r = g->cu.MemAlloc(p, bytes > 256 ? bytes : 256);
    if (r != CUDA_SUCCESS) {
        *p = 0;
        return cu_fail(g, r, err, errlen, "cuMemAlloc_v2 (%s: %.1f MiB on %s)", what, mib((double)bytes),
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
            rc = cu_fail(g, r, err, errlen, "cuMemAllocHost_v2 (%.0f MiB of staging for the %s)",
                         mib((double)chunk), what);
        } else if ((r = g->cu.EventCreate(&done[i], CU_EVENT_DISABLE_TIMING)) != CUDA_SUCCESS) {
            done[i] = NULL;
            rc = cu_fail(g, r, err, errlen, "cuEventCreate");
        }
    }
    size_t off = 0;
    for (int i = 0; rc == 0 && off < bytes; i ^= 1) {
        size_t n = bytes - off < chunk ? bytes - off : chunk;
        if (off >= 2 * chunk && (r = g->cu.EventSynchronize(done[i])) != CUDA_SUCCESS) {
            rc = cu_fail(g, r, err, errlen, "uploading the %s (cuEventSynchronize)", what);
            break;
        }
        memcpy(stage[i], src + off, n);
        if ((r = g->cu.MemcpyHtoDAsync(dst + off, stage[i], n, g->stream)) != CUDA_SUCCESS ||
            (r = g->cu.EventRecord(done[i], g->stream)) != CUDA_SUCCESS) {
            rc = cu_fail(g, r, err, errlen, "uploading the %s (cuMemcpyHtoDAsync_v2, %zu bytes at %zu)",
                         what, n, off);
            break;
        }
        off += n;
        if (progress)
            progress(pctx, what, (int64_t)off, (int64_t)bytes);
    }
    if ((r = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS && rc == 0)
        rc = cu_fail(g, r, err, errlen, "uploading the %s (cuStreamSynchronize)", what);
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
    g->kv_blocks = s->kv_blocks;
    g->mbps = llmc_kv_blocks_for(d->max_seq_len, d->kv_block_size);
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
    size_t kv_bytes = (size_t)(s->kv_blocks + 1) * (size_t)d->kv_block_bytes;

    size_t free_b = 0, total_b = 0;
    if ((r = g->cu.MemGetInfo(&free_b, &total_b)) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "cuMemGetInfo_v2");
    double need = (double)d->weights_bytes + (double)d->const_bytes + (double)d->arena_bytes +
                  (double)kv_bytes + (double)g->steps_bytes + (double)g->logits_bytes;
    if (need > (double)free_b)
        return llmc_rt_fail(err, errlen,
                            "not enough GPU memory on %s: the model needs %.0f MiB (weights %.0f, "
                            "KV cache %.0f for %lld blocks, activations %.0f, step buffers and "
                            "logits %.0f), %.0f MiB are free of %.0f MiB; ask for a smaller KV "
                            "cache with --kv-mem MIB or --kv-blocks N",
                            g->name, mib(need), mib((double)d->weights_bytes), mib((double)kv_bytes),
                            (long long)s->kv_blocks, mib((double)d->arena_bytes),
                            mib((double)(g->steps_bytes + g->logits_bytes + (size_t)d->const_bytes)),
                            mib((double)free_b), mib((double)total_b));

    if (dev_alloc(g, &g->weights, (size_t)d->weights_bytes, "weights", err, errlen) ||
        dev_alloc(g, &g->consts, (size_t)d->const_bytes, "constant tables", err, errlen) ||
        dev_alloc(g, &g->arena, (size_t)d->arena_bytes, "activation arena", err, errlen) ||
        dev_alloc(g, &g->kv, kv_bytes, "KV cache", err, errlen) ||
        dev_alloc(g, &g->steps, g->steps_bytes, "step arrays", err, errlen) ||
        dev_alloc(g, &g->logits, g->logits_bytes, "logits", err, errlen))
        goto fail;
    void *p;
    if ((r = g->cu.MemAllocHost(&p, g->steps_bytes)) != CUDA_SUCCESS) {
        cu_fail(g, r, err, errlen, "cuMemAllocHost_v2 (step arrays, %zu bytes)", g->steps_bytes);
        goto fail;
    }
    g->host_steps = p;
    if ((r = g->cu.MemAllocHost(&p, g->logits_bytes > 0 ? g->logits_bytes : 64)) != CUDA_SUCCESS) {
        cu_fail(g, r, err, errlen, "cuMemAllocHost_v2 (logits, %zu bytes)", g->logits_bytes);
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
        cu_fail(g, r, err, errlen, "cuMemsetD8Async (clearing the KV cache and arena)");
        goto fail;
    }
    /* The padding row: every entry is the padding block. */
    int32_t *pad = g->host_steps + g->table_off / sizeof(int32_t) + (size_t)g->pad_row * g->mbps;
    for (int32_t i = 0; i < g->mbps; i++)
        pad[i] = (int32_t)s->kv_blocks;
    size_t pad_off = g->table_off + (size_t)g->pad_row * g->mbps * sizeof(int32_t);
    if ((r = g->cu.MemcpyHtoDAsync(g->steps + pad_off, pad, (size_t)g->mbps * sizeof(int32_t),
                                   g->stream)) != CUDA_SUCCESS ||
        (r = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS) {
        cu_fail(g, r, err, errlen, "uploading the padding block table row");
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

/* ---- steps ---- */

void llmc_gpu_launch(LlmcGpu *g, int32_t kernel, uint32_t gx, uint32_t gy, uint32_t gz,
                     uint32_t threads, uint32_t smem, const LlmcKernelOffsets *offsets)
{
    if (g->launch_failed)
        return;
    const LlmcModelDesc *d = g->d;
    if (kernel < 0 || kernel >= d->n_gpu_kernels) {
        g->launch_failed = 1;
        snprintf(g->launch_err, sizeof g->launch_err,
                 "forward() launched kernel %d; the model has kernels 0..%d", kernel,
                 d->n_gpu_kernels - 1);
        return;
    }
    if (gx == 0 || gy == 0 || gz == 0)
        return;                         /* an empty grid (no rows this step): nothing to run */
    LlmcKernelOffsets offs;
    if (offsets)
        offs = *offsets;
    else
        memset(&offs, 0, sizeof offs);
    void *params[] = {&g->args, &offs};
    int pdl = g->use_pdl && (d->gpu_kernel_flags[kernel] & LLMC_GPU_KERNEL_PDL);
    CUresult r;
    if (pdl) {
        CUlaunchAttribute at;
        memset(&at, 0, sizeof at);
        at.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
        at.value.programmaticStreamSerializationAllowed = 1;
        CUlaunchConfig cfg = {.gridDimX = gx, .gridDimY = gy, .gridDimZ = gz, .blockDimX = threads,
                              .blockDimY = 1, .blockDimZ = 1, .sharedMemBytes = smem,
                              .hStream = g->stream, .attrs = &at, .numAttrs = 1};
        r = g->cu.LaunchKernelEx(&cfg, g->fn[kernel], params, NULL);
    } else {
        r = g->cu.LaunchKernel(g->fn[kernel], gx, gy, gz, threads, 1, 1, smem, g->stream, params,
                               NULL);
    }
    g->stats.launches++;
    if (r != CUDA_SUCCESS) {
        g->launch_failed = 1;
        cu_fail(g, r, g->launch_err, sizeof g->launch_err,
                "%s (kernel %s, grid %ux%ux%u, %u threads, %u bytes of shared memory)",
                pdl ? "cuLaunchKernelEx with programmatic dependent launch" : "cuLaunchKernel",
                d->gpu_kernels[kernel], gx, gy, gz, threads, smem);
    }
}

static CUgraphExec find_graph(const LlmcGpu *g, int32_t bucket)
{
    for (int i = 0; i < g->n_graphs; i++)
        if (g->graphs[i].bucket == bucket)
            return g->graphs[i].exec;
    return NULL;
}

/* Captures forward() for a step of `bucket` tokens (g->args already set). */
static int capture(LlmcGpu *g, const LlmcExec *ex, const LlmcStep *dev_step, CUgraphExec *out,
                   char *err, size_t errlen)
{
    CUresult r;
    if (g->n_graphs == MAX_GRAPHS)
        return llmc_rt_fail(err, errlen, "internal error: more than %d CUDA graph buckets",
                            MAX_GRAPHS);
    if ((r = g->cu.StreamBeginCapture(g->stream, CU_STREAM_CAPTURE_MODE_GLOBAL)) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "cuStreamBeginCapture_v2 (graph for %d tokens)",
                       dev_step->n_tokens);
    g->d->forward(ex, dev_step, 0, 1);
    CUgraph graph = NULL;
    r = g->cu.StreamEndCapture(g->stream, &graph);
    if (g->launch_failed) {
        if (r == CUDA_SUCCESS && graph)
            (void)g->cu.GraphDestroy(graph);
        return llmc_rt_fail(err, errlen, "capturing the CUDA graph for %d tokens: %s",
                            dev_step->n_tokens, g->launch_err);
    }
    if (r != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "cuStreamEndCapture (graph for %d tokens)",
                       dev_step->n_tokens);
    CUgraphExec exec = NULL;
    r = g->cu.GraphInstantiateWithFlags(&exec, graph, 0);
    CUresult r2 = g->cu.GraphDestroy(graph);
    if (r != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "cuGraphInstantiateWithFlags (graph for %d tokens)",
                       dev_step->n_tokens);
    if (r2 != CUDA_SUCCESS) {
        (void)g->cu.GraphExecDestroy(exec);
        return cu_fail(g, r2, err, errlen, "cuGraphDestroy");
    }
    g->graphs[g->n_graphs].bucket = dev_step->n_tokens;
    g->graphs[g->n_graphs++].exec = exec;
    g->stats.captures++;
    *out = exec;
    return 0;
}

static const void *dptr(CUdeviceptr p) { return (const void *)(uintptr_t)p; }

int llmc_gpu_step(LlmcGpu *g, const LlmcExec *ex, const LlmcStep *st, char *err, size_t errlen)
{
    const LlmcModelDesc *d = g->d;
    if (!g->ready)
        return llmc_rt_fail(err, errlen, "internal error: GPU step before llmc_gpu_setup");
    int32_t mt = d->max_tokens;
    if (st->n_tokens < 1 || st->n_tokens > mt || st->n_out < 0 || st->n_out > d->max_outputs ||
        st->max_blocks_per_seq != g->mbps)
        return llmc_rt_fail(err, errlen,
                            "internal error: step of %d tokens, %d outputs, block table stride %d "
                            "(model: %d tokens, %d outputs, stride %d)",
                            st->n_tokens, st->n_out, st->max_blocks_per_seq, mt, d->max_outputs,
                            g->mbps);
    int32_t rows = 0;
    for (int32_t t = 0; t < st->n_tokens; t++) {
        int32_t s = st->seq_of_token[t];
        if (s < 0 || s >= mt)
            return llmc_rt_fail(err, errlen,
                                "internal error: token %d uses block table row %d; the device "
                                "table has rows 0..%d",
                                t, s, mt - 1);
        if (s + 1 > rows)
            rows = s + 1;
    }

    int32_t bucket = g->use_graphs ? llmc_gpu_graph_bucket(st, mt, d->max_outputs) : 0;
    int32_t n = bucket ? bucket : st->n_tokens, n_out = bucket ? bucket : st->n_out;
    /* arrays at a stride of n rounded up to 32 entries: each starts 128-byte aligned */
    size_t sn = (size_t)(n + 31) / 32 * 32;
    int32_t *h = g->host_steps;
    LlmcGpuStepArrays a = {h, h + sn, h + 2 * sn, h + 3 * sn, h + 4 * sn};
    if (bucket) {
        llmc_gpu_pad_step(st, bucket, g->pad_row, (int32_t)g->kv_blocks * d->kv_block_size, &a);
    } else {
        size_t sz = (size_t)n * sizeof(int32_t);
        memcpy(a.tokens, st->tokens, sz);
        memcpy(a.positions, st->positions, sz);
        memcpy(a.seq_of_token, st->seq_of_token, sz);
        memcpy(a.slots, st->slots, sz);
        if (n_out > 0)
            memcpy(a.out_rows, st->out_rows, (size_t)n_out * sizeof(int32_t));
    }
    size_t table_bytes = (size_t)rows * (size_t)g->mbps * sizeof(int32_t);
    memcpy((uint8_t *)h + g->table_off, st->block_tables, table_bytes);
    /* the sampler block: each row's parameters and uniform (argmax rows and padding rows: 0) */
    double *smp = (double *)((uint8_t *)h + g->sample_off);
    int sampling = st->out_ids && st->sample_u;
    for (int32_t o = 0; o < n_out; o++) {
        double *row = smp + 4 * (size_t)o;
        int drawn = sampling && o < st->n_out && st->temperature[o] > 0.0f;
        row[0] = drawn ? st->temperature[o] : 0.0;
        row[1] = drawn ? st->top_p[o] : 1.0;
        row[2] = drawn ? st->top_k[o] : 0.0;
        row[3] = drawn ? st->sample_u[o] : 0.0;
    }
    CUresult r;
    if ((r = g->cu.EventRecord(g->step_ev[0], g->stream)) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "cuEventRecord");
    if ((r = g->cu.MemcpyHtoDAsync(g->steps, h, g->sample_off + 4 * (size_t)n_out * sizeof(double),
                                   g->stream)) != CUDA_SUCCESS ||
        (r = g->cu.MemcpyHtoDAsync(g->steps + g->table_off, (uint8_t *)h + g->table_off,
                                   table_bytes, g->stream)) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "copying the step arrays to the GPU (cuMemcpyHtoDAsync_v2)");

    CUdeviceptr ds = g->steps;
    g->args = (LlmcDevArgs){
        .weights = dptr(g->weights),
        .arena = (uint8_t *)(uintptr_t)g->arena,
        .kv = (uint8_t *)(uintptr_t)g->kv,
        .consts = dptr(g->consts),
        .tokens = dptr(ds),
        .positions = dptr(ds + sn * 4),
        .seq_of_token = dptr(ds + sn * 8),
        .slots = dptr(ds + sn * 12),
        .out_rows = dptr(ds + sn * 16),
        .block_tables = dptr(ds + g->table_off),
        .logits = (float *)(uintptr_t)g->logits,
        .out_ids = (int32_t *)(uintptr_t)(g->logits + g->ids_off),
        .sample = (const double *)(uintptr_t)(ds + g->sample_off),
        .n_tokens = n,
        .n_out = n_out,
        .max_blocks_per_seq = g->mbps,
    };
    /* What forward() sees: the step as the device runs it (padded), host copies of its arrays. */
    LlmcStep dev_step = {
        .n_tokens = n,
        .tokens = a.tokens,
        .positions = a.positions,
        .seq_of_token = a.seq_of_token,
        .slots = a.slots,
        .block_tables = st->block_tables,
        .max_blocks_per_seq = g->mbps,
        .n_out = n_out,
        .out_rows = a.out_rows,
        .logits = st->logits,
        .n_nodes = st->n_nodes,
    };
    g->launch_failed = 0;
    if (bucket) {
        CUgraphExec exec = find_graph(g, bucket);
        if (!exec && capture(g, ex, &dev_step, &exec, err, errlen) != 0)
            return -1;
        if ((r = g->cu.GraphLaunch(exec, g->stream)) != CUDA_SUCCESS)
            return cu_fail(g, r, err, errlen, "cuGraphLaunch (graph for %d tokens)", bucket);
        g->stats.graph_steps++;
    } else {
        d->forward(ex, &dev_step, 0, 1);
        if (g->launch_failed)
            return llmc_rt_fail(err, errlen, "%s", g->launch_err);
    }
    int outputs = st->n_nodes == 0 && st->n_out > 0;      /* a full step with logits rows */
    int want_ids = outputs && st->out_ids;
    int want_logits = outputs && !(want_ids && st->ids_only);
    size_t logit_bytes = (size_t)st->n_out * (size_t)d->vocab_size * sizeof(float);
    size_t id_bytes = (size_t)st->n_out * sizeof(int32_t);
    int32_t *host_ids = (int32_t *)((uint8_t *)g->host_logits + g->ids_off);
    if (want_logits &&
        (r = g->cu.MemcpyDtoHAsync(g->host_logits, g->logits, logit_bytes, g->stream)) !=
            CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "copying the logits from the GPU (cuMemcpyDtoHAsync_v2)");
    if (want_ids && (r = g->cu.MemcpyDtoHAsync(host_ids, g->logits + g->ids_off, id_bytes,
                                               g->stream)) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen,
                       "copying the chosen tokens from the GPU (cuMemcpyDtoHAsync_v2)");
    if ((r = g->cu.EventRecord(g->step_ev[1], g->stream)) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "cuEventRecord");
    if ((r = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen,
                       "running the model's kernels on %s (a step of %d tokens%s; "
                       "cuStreamSynchronize)",
                       g->name, n, bucket ? ", CUDA graph" : "");
    float ms;
    if ((r = g->cu.EventElapsedTime(&ms, g->step_ev[0], g->step_ev[1])) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "cuEventElapsedTime");
    g->stats.busy_seconds += ms / 1e3;
    if (want_logits)
        memcpy(st->logits, g->host_logits, logit_bytes);
    if (want_ids)
        memcpy(st->out_ids, host_ids, id_bytes);
    g->stats.steps++;
    return 0;
}

int llmc_gpu_read_arena(LlmcGpu *g, int64_t off, void *dst, size_t bytes, char *err,
                        size_t errlen)
{
    if (!g->ready || off < 0 || (uint64_t)off + bytes > (uint64_t)g->d->arena_bytes)
        return llmc_rt_fail(err, errlen,
                            "internal error: reading [%lld, +%zu) of an arena of %lld bytes",
                            (long long)off, bytes, (long long)g->d->arena_bytes);
    CUresult r;
    if ((r = g->cu.MemcpyDtoHAsync(dst, g->arena + (CUdeviceptr)off, bytes, g->stream)) !=
            CUDA_SUCCESS ||
        (r = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "reading the activation arena (cuMemcpyDtoHAsync_v2)");
    return 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int llmc_gpu_copy_bandwidth(LlmcGpu *g, double *bps, size_t *buffer_bytes, char *err,
                            size_t errlen)
{
    *bps = 0;
    *buffer_bytes = 0;
    size_t free_b = 0, total_b = 0;
    CUresult r;
    if ((r = g->cu.MemGetInfo(&free_b, &total_b)) != CUDA_SUCCESS)
        return cu_fail(g, r, err, errlen, "cuMemGetInfo_v2");
    size_t size = free_b / 4;
    if (size > ((size_t)2 << 30))
        size = (size_t)2 << 30;
    size = size / (1 << 20) * (1 << 20);
    if (size < ((size_t)16 << 20))
        return llmc_rt_fail(err, errlen,
                            "cannot measure the copy bandwidth: %.0f MiB of GPU memory free, the "
                            "test needs 2 x 16 MiB at least",
                            mib((double)free_b));
    CUdeviceptr src = 0, dst = 0;
    CUevent ev[2] = {NULL, NULL};
    float ms[BW_REPS];
    int rc = 0;
    if (dev_alloc(g, &src, size, "copy test source", err, errlen) ||
        dev_alloc(g, &dst, size, "copy test destination", err, errlen)) {
        rc = -1;
        goto out;
    }
    for (int i = 0; i < 2 && rc == 0; i++)
        if ((r = g->cu.EventCreate(&ev[i], CU_EVENT_DEFAULT)) != CUDA_SUCCESS) {
            ev[i] = NULL;
            rc = cu_fail(g, r, err, errlen, "cuEventCreate");
        }
    if (rc == 0 && (r = g->cu.MemsetD8Async(src, 0x5a, size, g->stream)) != CUDA_SUCCESS)
        rc = cu_fail(g, r, err, errlen, "cuMemsetD8Async (copy test source)");
    for (int rep = -1; rc == 0 && rep < BW_REPS; rep++) {       /* rep -1: warm-up */
        if ((r = g->cu.EventRecord(ev[0], g->stream)) != CUDA_SUCCESS ||
            (r = g->cu.MemcpyDtoDAsync(dst, src, size, g->stream)) != CUDA_SUCCESS ||
            (r = g->cu.EventRecord(ev[1], g->stream)) != CUDA_SUCCESS ||
            (r = g->cu.EventSynchronize(ev[1])) != CUDA_SUCCESS) {
            rc = cu_fail(g, r, err, errlen, "timing cuMemcpyDtoDAsync_v2 of %.0f MiB",
                         mib((double)size));
            break;
        }
        float t = 0;
        if ((r = g->cu.EventElapsedTime(&t, ev[0], ev[1])) != CUDA_SUCCESS) {
            rc = cu_fail(g, r, err, errlen, "cuEventElapsedTime");
            break;
        }
        if (rep >= 0)
            ms[rep] = t;
    }
    if (rc == 0) {
        qsort(ms, BW_REPS, sizeof ms[0], cmp_float);
        double med = 0.5 * ((double)ms[BW_REPS / 2 - 1] + (double)ms[BW_REPS / 2]);
        if (med <= 0)
            rc = llmc_rt_fail(err, errlen, "the copy bandwidth test measured no time");
        else {
            *bps = 2.0 * (double)size / (med * 1e-3);
            *buffer_bytes = size;
        }
    }
out:
    for (int i = 0; i < 2; i++)
        if (ev[i])
            (void)g->cu.EventDestroy(ev[i]);
    if (src)
        (void)g->cu.MemFree(src);
    if (dst)
        (void)g->cu.MemFree(dst);
    return rc;
}

const char *llmc_gpu_name(const LlmcGpu *g) { return g->name; }
int32_t llmc_gpu_sm(const LlmcGpu *g) { return g->sm; }
const char *llmc_gpu_image_arch(const LlmcGpu *g) { return g->d->gpu_images[g->image].arch; }
uint32_t llmc_gpu_features(const LlmcGpu *g) { return g->d->gpu_images[g->image].features; }
int llmc_gpu_uses_graphs(const LlmcGpu *g) { return g->use_graphs; }
int llmc_gpu_uses_pdl(const LlmcGpu *g) { return g->use_pdl; }
const LlmcGpuStats *llmc_gpu_stats(const LlmcGpu *g) { return &g->stats; }
