/* gpu.c — see gpu.h. The GPU backend, through the driver API loaded at run time (CUDA's, or HIP's
 * module API for AMD: one table, cuda_api.h): the driver table, opening the device (image, context,
 * stream, module, kernels), the device buffers and the weight upload (or, on an AMD APU, the
 * weights read in place). Steps, launches and graphs are in gpu_step.c, the pure parts in
 * gpu_image.c. Messages name the vendor's own entry points (vendor_names).
 *
 * Every driver call's result is checked; a failure becomes a message naming the call (and what it
 * was for), the driver's error name and its text. Teardown paths ignore results on purpose: after
 * a fault the context is gone and there is nothing left to do about a failed free.
 */
#include "gpu.h"

#include <assert.h>
#include <ctype.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_api.h"
#include "gpu_impl.h"
#include "kvcache.h"
#include "rtutil.h"

/* ---- driver calls ---- */

static const struct {
    const char *sym, *hip;
    int optional;
    size_t off;
} cuda_syms[] = {
#define LLMC_CUDA_SYM(field, sym, hip, opt, params) {sym, hip, opt, offsetof(LlmcCudaApi, field)},
    LLMC_CUDA_FUNCS(LLMC_CUDA_SYM)
#undef LLMC_CUDA_SYM
};
enum { N_SYMS = sizeof cuda_syms / sizeof cuda_syms[0] };

/* Each vendor's facts: its driver library, the attribute numbers (CUdevice_attribute,
 * hipDeviceAttribute_t) and what messages call it. */
typedef struct Vendor {
    int id;
    const char *name, *driver, *libs[4];
    int attr_major, attr_minor, attr_smem, attr_integrated;
} Vendor;
static const Vendor vendors[] = {
    {LLMC_GPU_VENDOR_NVIDIA, "NVIDIA", "NVIDIA driver", {LLMC_GPU_DRIVER_LIB, NULL},
     CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
     CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, CU_DEVICE_ATTRIBUTE_INTEGRATED},
    {LLMC_GPU_VENDOR_AMD, "AMD", "HIP driver",
     {LLMC_HIP_DRIVER_LIB, "libamdhip64.so.7", "libamdhip64.so.6", "/opt/rocm/lib/libamdhip64.so"},
     HIP_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, HIP_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
     HIP_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, HIP_DEVICE_ATTRIBUTE_INTEGRATED},
};
static const Vendor *vendor_of(int id) { return id == LLMC_GPU_VENDOR_AMD ? &vendors[1] : &vendors[0]; }

/* what (a message naming CUDA entry points) with each one the table knows named as the vendor's */
static void vendor_names(int vendor, const char *what, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = what; *p && o + 1 < len;) {
        size_t n = 0;
        if (vendor == LLMC_GPU_VENDOR_AMD && p[0] == 'c' && p[1] == 'u' && (p == what || !isalnum((unsigned char)p[-1])))
            while (isalnum((unsigned char)p[n]) || p[n] == '_')
                n++;
        const char *as = NULL;
        for (int i = 0; n && i < N_SYMS && !as; i++)
            if (strlen(cuda_syms[i].sym) == n && strncmp(cuda_syms[i].sym, p, n) == 0 && cuda_syms[i].hip[0])
                as = cuda_syms[i].hip;
        if (n == strlen("cuMemAllocHost_v2") && strncmp(p, "cuMemAllocHost_v2", n) == 0)
            as = "hipHostAlloc"; /* the same call in another shape (host_alloc) */
        if (as) {
            int w = snprintf(out + o, len - o, "%s", as);
            o += w > 0 ? (size_t)w : 0;
            p += n;
        } else {
            out[o++] = *p++;
        }
    }
    out[o < len ? o : len - 1] = 0;
}

int llmc_cu_fail(const LlmcGpu *g, CUresult r, char *err, size_t errlen, const char *fmt, ...)
{
    char what[512], named[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    vendor_names(g->cu.vendor, what, named, sizeof named);
    const char *name = NULL, *text = NULL;
    if (g->cu.GetErrorName && g->cu.GetErrorName(r, &name) != CUDA_SUCCESS)
        name = NULL;
    if (g->cu.GetErrorString && g->cu.GetErrorString(r, &text) != CUDA_SUCCESS)
        text = NULL;
    char code[32];
    snprintf(code, sizeof code, "%s error %d", g->cu.vendor == LLMC_GPU_VENDOR_AMD ? "HIP" : "CUDA", r);
    return llmc_rt_fail(err, errlen, "%s: %s: %s", named, name ? name : code,
                        text ? text : "unknown error");
}

/* dlopen of the vendor's driver (lib, else the first of its libraries that loads) + dlsym of every
 * entry point of its column. */
static int load_driver(LlmcCudaApi *api, const Vendor *v, const char *lib, const char *archs, char *err,
                       size_t errlen)
{
    memset(api, 0, sizeof *api);
    api->vendor = v->id;
    const char *tried = lib ? lib : v->libs[0];
    char why[512] = ""; /* the first library's dlerror (the next dlopen overwrites it) */
    for (int i = 0; i < 4 && !api->lib; i++) {
        const char *name = lib ? (i ? NULL : lib) : v->libs[i];
        if (!name)
            continue;
        dlerror();
        api->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        const char *e = api->lib ? NULL : dlerror();
        if (e && !why[0])
            snprintf(why, sizeof why, "%s", e);
    }
    if (!api->lib)
        return llmc_rt_fail(err, errlen,
                            "no %s found (%s): this executable was built for %s and needs an %s GPU (%s)",
                            v->driver, tried, archs, v->name, why[0] ? why : "dlopen failed");
    int amd = v->id == LLMC_GPU_VENDOR_AMD;
    for (int i = 0; i < N_SYMS; i++) {
        const char *sym = amd ? cuda_syms[i].hip : cuda_syms[i].sym;
        void *p = sym[0] ? dlsym(api->lib, sym) : NULL;
        if (!p && !amd && cuda_syms[i].off == offsetof(LlmcCudaApi, EventElapsedTime))
            p = dlsym(api->lib, "cuEventElapsedTime");      /* drivers before CUDA 12.8 */
        if (!p && (cuda_syms[i].optional || !sym[0]))
            continue;
        if (!p) {
            dlclose(api->lib);
            api->lib = NULL;
            return llmc_rt_fail(err, errlen,
                                "%s has no %s: the %s is too old for this executable (built for %s); "
                                "update the driver%s",
                                tried, sym, v->driver, archs, amd ? " (ROCm 6 or newer)" : "");
        }
        memcpy((char *)api + cuda_syms[i].off, &p, sizeof p);
    }
    return 0;
}

LlmcGpu *llmc_gpu_new(const LlmcModelDesc *d, char *err, size_t errlen)
{
    if (d->backend != LLMC_BACKEND_CUDA || !d->gpu_images || d->n_gpu_images < 1 ||
        (d->n_gpu_kernels > 0 && !d->gpu_kernels) || d->n_gpu_kernels < 0) {
        llmc_rt_fail(err, errlen, "model %s: not a GPU build with kernel images",
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
    g->n_ranks = d->n_ranks > 1 ? d->n_ranks : 1;
    return g;
}

int llmc_gpu_open(LlmcGpu **out, const LlmcModelDesc *d, const char *driver_lib, char *err,
                  size_t errlen)
{
    *out = NULL;
    char archs[512];
    llmc_gpu_arch_list(d, archs, sizeof archs);
    /* the vendors the images are for, NVIDIA first: each one's driver and device in turn */
    int has[2] = {0, 0};
    for (int32_t i = 0; d->gpu_images && i < d->n_gpu_images; i++)
        has[d->gpu_images[i].vendor == LLMC_GPU_VENDOR_AMD] = 1;
    char why[2][1024] = {"", ""};
    if (!has[0] && !has[1])
        has[0] = 1;                     /* gpu_new refuses it */
    for (int v = 0; v < 2; v++) {
        if (!has[v])
            continue;
        LlmcGpu *g = llmc_gpu_new(d, err, errlen);
        if (!g)
            return -1;
        if (load_driver(&g->cu, &vendors[v], driver_lib, archs, why[v], sizeof why[v]) != 0) {
            free(g);
            continue;
        }
        if (llmc_gpu_open_device(g, 0, why[v], sizeof why[v]) != 0)
            continue;
        /* a sharded model: the other ranks' GPUs and NCCL (a refusal there is final) */
        if (g->n_ranks > 1 && llmc_gpu_ranks_open(g, NULL, NULL, err, errlen) != 0)
            return -1;
        *out = g;
        return 0;
    }
    if (why[0][0] && why[1][0])
        return llmc_rt_fail(err, errlen, "%s; %s", why[0], why[1]);
    return llmc_rt_fail(err, errlen, "%s", why[0][0] ? why[0] : why[1]);
}

int llmc_gpu_open_api(LlmcGpu **out, const LlmcModelDesc *d, const LlmcCudaApi *api, char *err,
                      size_t errlen)
{
    return llmc_gpu_open_ranks_api(out, d, api, NULL, NULL, err, errlen);
}

int llmc_gpu_open_ranks_api(LlmcGpu **out, const LlmcModelDesc *d, const LlmcCudaApi *api,
                            const LlmcNcclApi *nccl, const char *nccl_lib, char *err, size_t errlen)
{
    *out = NULL;
    LlmcGpu *g = llmc_gpu_new(d, err, errlen);
    if (!g)
        return -1;
    g->cu = *api;
    g->cu.lib = NULL;                   /* not ours to close */
    int amd = api->vendor == LLMC_GPU_VENDOR_AMD;
    for (int i = 0; i < N_SYMS; i++) {
        void *p;
        memcpy(&p, (const char *)&g->cu + cuda_syms[i].off, sizeof p);
        const char *sym = amd ? cuda_syms[i].hip : cuda_syms[i].sym;
        if (!p && sym[0] && !cuda_syms[i].optional) {
            free(g);
            return llmc_rt_fail(err, errlen, "the driver table lacks %s", sym);
        }
    }
    if (llmc_gpu_open_device(g, 0, err, errlen) != 0)
        return -1;
    if (g->n_ranks > 1 && llmc_gpu_ranks_open(g, nccl, nccl_lib, err, errlen) != 0)
        return -1;
    *out = g;
    return 0;
}

int llmc_gpu_open_device(LlmcGpu *g, int ordinal, char *err, size_t errlen)
{
    const LlmcModelDesc *d = g->d;
    const Vendor *v = vendor_of(g->cu.vendor);
    int amd = v->id == LLMC_GPU_VENDOR_AMD;
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
            vendor_names(v->id, "cuDeviceGetCount: 0 devices", why, sizeof why);
        llmc_rt_fail(err, errlen,
                     "no %s GPU found (%s): this executable was built for %s and needs an %s GPU",
                     v->name, why, archs, v->name);
        llmc_gpu_close(g);
        return -1;
    }
    /* --tp N: one GPU a rank, devices 0..N-1 (as CUDA_VISIBLE_DEVICES orders them); HIP's
     * collectives (RCCL) are not loaded by this runtime */
    if (g->n_ranks > 1 && amd) {
        llmc_rt_fail(err, errlen, "--tp %d: this executable is sharded over %d GPUs; sharded models run on "
                     "NVIDIA GPUs only (through NCCL), not through HIP", g->n_ranks, g->n_ranks);
        llmc_gpu_close(g);
        return -1;
    }
    if (g->n_ranks > 1 && count < g->n_ranks) {
        llmc_rt_fail(err, errlen, "--tp %d: this executable is sharded over %d GPUs, one a rank; this machine "
                     "shows %d (CUDA_VISIBLE_DEVICES chooses which): run it where %d are, or compile it with "
                     "a smaller --tp", g->n_ranks, g->n_ranks, count, g->n_ranks);
        llmc_gpu_close(g);
        return -1;
    }
    int major = 0, minor = 0, optin = 0, integrated = 0;
    if ((r = g->cu.DeviceGet(&g->dev, ordinal)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuDeviceGet(%d)", ordinal);
        goto fail;
    }
    if ((r = g->cu.DeviceGetName(g->name, (int)sizeof g->name - 1, g->dev)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuDeviceGetName");
        goto fail;
    }
    if ((r = g->cu.DeviceGetAttribute(&major, v->attr_major, g->dev)) != CUDA_SUCCESS ||
        (r = g->cu.DeviceGetAttribute(&minor, v->attr_minor, g->dev)) != CUDA_SUCCESS ||
        (r = g->cu.DeviceGetAttribute(&optin, v->attr_smem, g->dev)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuDeviceGetAttribute (compute capability, shared memory)");
        goto fail;
    }
    /* an APU? (a driver that cannot say: no) */
    g->integrated = g->cu.DeviceGetAttribute(&integrated, v->attr_integrated, g->dev) == CUDA_SUCCESS && integrated;
    if (amd) {
        /* the gfx name: ROCm 6's device properties, gcnArchName without its feature suffixes */
        char *props = calloc(1, LLMC_HIP_PROPS_BYTES);
        if (!props) {
            llmc_rt_fail(err, errlen, "out of memory");
            goto fail;
        }
        r = g->cu.DeviceGetProps(props, g->dev);
        if (r == CUDA_SUCCESS)
            snprintf(g->arch, sizeof g->arch, "%.63s", props + LLMC_HIP_PROPS_ARCH_OFFSET);
        free(props);
        if (r != CUDA_SUCCESS) {
            llmc_cu_fail(g, r, err, errlen, "hipGetDevicePropertiesR0600 (the GPU's architecture)");
            goto fail;
        }
        g->arch[strcspn(g->arch, ":")] = 0;
        g->sm = 0;
    } else {
        g->sm = major * 10 + minor;
        snprintf(g->arch, sizeof g->arch, "sm_%d", g->sm);
    }
    g->image = llmc_gpu_select_image(d->gpu_images, d->n_gpu_images, v->id, g->sm, g->arch, g->name, err, errlen);
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
        llmc_cu_fail(g, r, err, errlen, "cuModuleLoadData (the %s image, %llu bytes, on %s, %s)",
                im->arch, (unsigned long long)im->size, g->name, g->arch);
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
        if ((im->features & LLMC_GPU_FEAT_AMD_PATH) && d->gpu_kernel_flags &&
            (d->gpu_kernel_flags[k] & LLMC_GPU_KERNEL_NV_ONLY))
            continue; /* never launched from this image (its body a trap): its shared memory is NVIDIA's */
        if (!(im->features & LLMC_GPU_FEAT_WGMMA) && d->gpu_kernel_flags &&
            (d->gpu_kernel_flags[k] & LLMC_GPU_KERNEL_WGMMA_ONLY))
            continue; /* likewise: sm_90a's alone (gemm_wt) */
        if ((int64_t)smem > optin) {
            llmc_rt_fail(err, errlen,
                         "kernel %s needs %u bytes of shared memory; %s (%s) allows %d per "
                         "block",
                         kname, smem, g->name, g->arch, optin);
            goto fail;
        }
        if (!g->cu.FuncSetAttribute) /* AMD: no opt-in below the block's limit */
            continue;
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
    int keep_driver = g->hung;
    if (g->rank_gpu || g->team || g->nccl.lib)
        keep_driver |= llmc_gpu_ranks_close(g);
    if (g->hung) {
        /* a hung GPU (the watchdog): no driver call may return, and its stream may still run the
         * host function one day: the context, module, stream and signal are left to the
         * process's exit, and the driver stays loaded */
        free(g->fn);
        free(g->costs);
        free(g);
        return;
    }
    if (g->ctx) /* a sharded model's GPUs are closed from one thread: each its own context */
        (void)g->cu.CtxSetCurrent(g->ctx);
    if (g->mod)
        (void)g->cu.ModuleUnload(g->mod);
    for (int i = 0; i < 2; i++)
        if (g->step_ev[i])
            (void)g->cu.EventDestroy(g->step_ev[i]);
    if (g->stream)
        (void)g->cu.StreamDestroy(g->stream);
    if (g->ctx)
        (void)g->cu.DevicePrimaryCtxRelease(g->dev);
    llmc_gpu_done_free(g->done);        /* after the context: no host function of its streams runs again */
    free(g->fn);
    free(g->costs);
    if (g->cu.lib && !keep_driver)
        dlclose(g->cu.lib);
    free(g);
}

/* ---- buffers ---- */

/* Pinned host memory: cuMemAllocHost_v2, or HIP's hipHostAlloc (default flags). */
static CUresult host_alloc(LlmcGpu *g, void **p, size_t bytes)
{
    return g->cu.HostAlloc ? g->cu.HostAlloc(p, bytes, 0) : g->cu.MemAllocHost(p, bytes);
}

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
        if ((r = host_alloc(g, &stage[i], chunk)) != CUDA_SUCCESS) {
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

/* gemm_wt's TMA maps (abi/llmc_model.h LlmcGpuTmap; llmc compile --wgmma auto or tma), encoded for this
 * GPU's buffers (a rank's own weights and arena) and written into its device copy of the constant
 * tables before any launch; the kernels acquire them there (cuda_wgmma_tma.cuh wt_maps_acquire).
 * Only where the image has wgmma: the others never launch gemm_wt. A driver without
 * cuTensorMapEncodeTiled, a map outside its buffer or an encoding the driver refuses fails the load,
 * naming the matrix. */
static int write_tmaps(LlmcGpu *g, char *err, size_t errlen)
{
    const LlmcModelDesc *d = g->d;
    if (d->n_gpu_tmaps <= 0 || !d->gpu_tmaps || !(d->gpu_images[g->image].features & LLMC_GPU_FEAT_WGMMA))
        return 0;
    if (!g->cu.TensorMapEncodeTiled)
        return llmc_rt_fail(err, errlen,
                            "%s: the NVIDIA driver has no cuTensorMapEncodeTiled (CUDA 12.0 or newer), which this "
                            "executable's TMA matmul (gemm_wt, llmc compile's default --wgmma for sm_90a) needs for "
                            "the map of %s; update the driver, or compile with --wgmma cp",
                            g->name, d->gpu_tmaps[0].name ? d->gpu_tmaps[0].name : "?");
    /* cuTensorMapEncodeTiled wants each map 64-byte aligned: calloc's alignment is not enough */
    CUtensorMap *maps = aligned_alloc(_Alignof(CUtensorMap), (size_t)d->n_gpu_tmaps * sizeof *maps);
    if (!maps)
        return llmc_rt_fail(err, errlen, "out of memory for %d TMA maps", d->n_gpu_tmaps);
    int rc = 0;
    CUresult r;
    for (int32_t i = 0; i < d->n_gpu_tmaps && rc == 0; i++) {
        const LlmcGpuTmap *m = &d->gpu_tmaps[i];
        const char *name = m->name ? m->name : "?";
        int weights = m->space == LLMC_TMAP_WEIGHTS;
        int64_t room = weights ? (int64_t)g->weights_bytes : d->arena_bytes;
        if ((m->space != LLMC_TMAP_WEIGHTS && m->space != LLMC_TMAP_ARENA) ||
            (m->dtype != LLMC_TMAP_BF16 && m->dtype != LLMC_TMAP_F16) || m->rows < 1 || m->cols < 1 ||
            m->row_bytes < m->cols * 2 || m->offset < 0 || m->at < 0 || m->at % 128 != 0 ||
            m->at + 128 > d->const_bytes || m->offset + (m->rows - 1) * m->row_bytes + m->cols * 2 > room) {
            rc = llmc_rt_fail(err, errlen,
                              "the TMA map of %s ([%lld][%lld], %lld bytes a row, at %lld in the %s; its 128 bytes at "
                              "%lld of the constant tables) does not fit the model's buffers (%lld bytes of %s, %lld of "
                              "constant tables)",
                              name, (long long)m->rows, (long long)m->cols, (long long)m->row_bytes, (long long)m->offset,
                              weights ? "weights" : "arena", (long long)m->at, (long long)room,
                              weights ? "weights" : "arena", (long long)d->const_bytes);
            break;
        }
        CUdeviceptr base = (weights ? g->weights : g->arena) + (CUdeviceptr)m->offset;
        const cuuint64_t dims[2] = {(cuuint64_t)m->cols, (cuuint64_t)m->rows}, strides[1] = {(cuuint64_t)m->row_bytes};
        const cuuint32_t box[2] = {(cuuint32_t)m->box_cols, (cuuint32_t)m->box_rows}, step[2] = {1, 1};
        r = g->cu.TensorMapEncodeTiled(&maps[i],
                                       m->dtype == LLMC_TMAP_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                                                  : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
                                       2, (void *)(uintptr_t)base, dims, strides, box, step,
                                       CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                       CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
        if (r != CUDA_SUCCESS) {
            rc = llmc_cu_fail(g, r, err, errlen,
                              "cuTensorMapEncodeTiled (the TMA map of %s: [%lld][%lld] %s, %lld bytes a row, boxes of "
                              "%d x %d)",
                              name, (long long)m->rows, (long long)m->cols, m->dtype == LLMC_TMAP_BF16 ? "bf16" : "f16",
                              (long long)m->row_bytes, m->box_rows, m->box_cols);
            break;
        }
        if ((r = g->cu.MemcpyHtoDAsync(g->consts + (CUdeviceptr)m->at, &maps[i], sizeof maps[i], g->stream)) !=
            CUDA_SUCCESS)
            rc = llmc_cu_fail(g, r, err, errlen, "cuMemcpyHtoDAsync_v2 (the TMA map of %s)", name);
    }
    if ((r = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS && rc == 0)
        rc = llmc_cu_fail(g, r, err, errlen, "writing the TMA maps (cuStreamSynchronize)");
    free(maps);
    return rc;
}

/* An AMD APU reads the weights where the payload is mapped: its pages registered with the driver
 * (mapped, read only) and the device address of that range taken, instead of a device copy made
 * through staging (100 GB of weights would otherwise be copied within the same memory). Where the
 * driver refuses, the weights are uploaded as on a discrete GPU. */
static void map_weights(LlmcGpu *g, const uint8_t *weights)
{
    if (g->cu.vendor != LLMC_GPU_VENDOR_AMD || !g->integrated || !g->cu.HostRegister || !g->cu.HostUnregister ||
        !g->cu.HostGetDevicePointer || !weights || g->weights_bytes == 0 || g->n_ranks > 1)
        return;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = page > 0 ? (uintptr_t)page : 4096, lo = (uintptr_t)weights / a * a;
    uintptr_t hi = round_up((uintptr_t)weights + (uintptr_t)g->weights_bytes, a);
    if (g->cu.HostRegister((void *)lo, hi - lo, LLMC_HIP_HOST_REGISTER_MAPPED_RO) != CUDA_SUCCESS)
        return;
    CUdeviceptr dp = 0;
    if (g->cu.HostGetDevicePointer(&dp, (void *)lo, 0) != CUDA_SUCCESS || !dp) {
        (void)g->cu.HostUnregister((void *)lo);
        return;
    }
    g->weights_registered = (void *)lo;
    g->weights = dp + ((uintptr_t)weights - lo);
}

/* The step buffers' layout (gpu.h): block table rows, the per-token arrays, the sampler block, the
 * block tables, the logits and ids. */
static void step_layout(LlmcGpu *g)
{
    const LlmcModelDesc *d = g->d;
    int32_t mt = d->max_tokens, mo = d->max_outputs;
    g->mbps = llmc_kv_blocks_for(d->max_seq_len, d->kv_block_size) + d->kv_ring_blocks;
    g->pad_row = mt;
    /* steps: the per-token arrays (4 of max_tokens rounded up to 32, then out_rows), the sampler
     * block (4 doubles a logits row), then (max_tokens + 1) block table rows, the last one for
     * padding tokens. */
    g->sample_off = round_up((4 * round_up((size_t)mt, 32) + (size_t)mo) * sizeof(int32_t), 64);
    g->table_off = round_up(g->sample_off + 4 * (size_t)mo * sizeof(double), 256);
    g->steps_bytes = g->table_off + (size_t)(mt + 1) * (size_t)g->mbps * sizeof(int32_t);
    g->ids_off = round_up((size_t)mo * (size_t)d->vocab_size * sizeof(float), 256);
    g->logits_bytes = g->ids_off + (size_t)mo * sizeof(int32_t);
}

/* Device memory the model takes beside its KV pool. */
static double rest_bytes(const LlmcGpu *g)
{
    const LlmcModelDesc *d = g->d;
    double weights_dev = g->weights_registered ? 0.0 : (double)g->weights_bytes; /* device memory they take */
    return weights_dev + (double)d->const_bytes + (double)d->arena_bytes + (double)g->steps_bytes +
           (double)g->logits_bytes;
}

int llmc_gpu_kv_room(LlmcGpu *g, const LlmcGpuSetup *s, int64_t *blocks, char *err, size_t errlen)
{
    (void)s;
    const LlmcModelDesc *d = g->d;
    step_layout(g);
    size_t free_b = 0, total_b = 0;
    CUresult r;
    if ((r = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS || (r = g->cu.MemGetInfo(&free_b, &total_b)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuMemGetInfo_v2");
    double room = 0.9 * (double)free_b - rest_bytes(g);
    int64_t fit = room > 0 && d->kv_block_bytes > 0 ? (int64_t)(room / (double)d->kv_block_bytes) - 1 : 0;
    *blocks = fit > 1 ? fit : 1;
    return 0;
}

int llmc_gpu_setup(LlmcGpu *g, const LlmcGpuSetup *s, char *err, size_t errlen)
{
    assert(!g->ready);
    if (g->n_ranks > 1)
        return llmc_gpu_ranks_setup(g, s, err, errlen);
    g->rank_weights = s->weights;
    g->weights_bytes = (size_t)g->d->weights_bytes;
    map_weights(g, s->weights);
    int64_t kv = s->kv_blocks;
    if (s->kv_fit && g->d->kv_block_bytes > 0) {
        int64_t fit;
        if (llmc_gpu_kv_room(g, s, &fit, err, errlen) != 0) {
            llmc_gpu_teardown_one(g);
            return -1;
        }
        kv = fit < kv ? fit : kv;
    }
    return llmc_gpu_setup_one(g, s, kv, err, errlen);
}

int llmc_gpu_setup_one(LlmcGpu *g, const LlmcGpuSetup *s, int64_t kv_blocks, char *err, size_t errlen)
{
    const LlmcModelDesc *d = g->d;
    assert(!g->ready);
    CUresult r;
    step_layout(g);
    g->use_graphs = s->use_graphs;
    g->use_pdl = s->use_pdl && g->sm >= 90 && g->cu.LaunchKernelEx && d->gpu_kernel_flags &&
                 !(d->gpu_images[g->image].features & LLMC_GPU_FEAT_AMD_PATH);
    size_t free_b = 0, total_b = 0;
    if ((r = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuCtxSetCurrent (%s)", g->name);
    if ((r = g->cu.MemGetInfo(&free_b, &total_b)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuMemGetInfo_v2");
    /* the default deadline only for a sharded model (a peer or NCCL that hangs would hold every rank
     * forever); one GPU waits plainly unless asked: the host function's cost a step is unmeasured */
    g->step_timeout = s->step_timeout > 0 ? s->step_timeout
                      : s->step_timeout == 0 && g->n_ranks > 1 ? LLMC_STEP_TIMEOUT_DEFAULT
                      : 0;
    if (!g->done && !(g->done = llmc_gpu_done_new()))
        return llmc_rt_fail(err, errlen, "out of memory setting up %s", g->name);
    double weights_dev = g->weights_registered ? 0.0 : (double)g->weights_bytes;
    g->kv_blocks = kv_blocks;
    size_t kv_bytes = (size_t)(g->kv_blocks + 1) * (size_t)d->kv_block_bytes;
    double need = rest_bytes(g) + (double)kv_bytes;
    char rank[48] = "";
    if (g->n_ranks > 1)
        snprintf(rank, sizeof rank, " (GPU %d, rank %d of %d)", g->rank, g->rank, g->n_ranks);
    if (need > (double)free_b)
        return llmc_rt_fail(err, errlen,
                            "not enough GPU memory on %s%s: the model needs %.0f MiB (weights %.0f, "
                            "KV cache %.0f for %lld blocks, activations %.0f, step buffers and "
                            "logits %.0f), %.0f MiB are free of %.0f MiB; ask for a smaller KV "
                            "cache with --kv-mem MIB or --kv-blocks N",
                            g->name, rank, llmc_mib(need), llmc_mib(weights_dev), llmc_mib((double)kv_bytes),
                            (long long)g->kv_blocks, llmc_mib((double)d->arena_bytes),
                            llmc_mib((double)(g->steps_bytes + g->logits_bytes + (size_t)d->const_bytes)),
                            llmc_mib((double)free_b), llmc_mib((double)total_b));

    if ((!g->weights_registered &&
         llmc_gpu_dev_alloc(g, &g->weights, g->weights_bytes, "weights", err, errlen)) ||
        llmc_gpu_dev_alloc(g, &g->consts, (size_t)d->const_bytes, "constant tables", err, errlen) ||
        llmc_gpu_dev_alloc(g, &g->arena, (size_t)d->arena_bytes, "activation arena", err, errlen) ||
        llmc_gpu_dev_alloc(g, &g->kv, kv_bytes, "KV cache", err, errlen) ||
        llmc_gpu_dev_alloc(g, &g->steps, g->steps_bytes, "step arrays", err, errlen) ||
        llmc_gpu_dev_alloc(g, &g->logits, g->logits_bytes, "logits", err, errlen))
        goto fail;
    void *p;
    if ((r = host_alloc(g, &p, g->steps_bytes)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuMemAllocHost_v2 (step arrays, %zu bytes)", g->steps_bytes);
        goto fail;
    }
    g->host_steps = p;
    if ((r = host_alloc(g, &p, g->logits_bytes > 0 ? g->logits_bytes : 64)) != CUDA_SUCCESS) {
        llmc_cu_fail(g, r, err, errlen, "cuMemAllocHost_v2 (logits, %zu bytes)", g->logits_bytes);
        goto fail;
    }
    g->host_logits = p;
    g->ready = 1;

    if ((!g->weights_registered && upload(g, g->weights, g->rank_weights, g->weights_bytes, "weights",
                                          s->progress, s->progress_ctx, err, errlen) != 0) ||
        upload(g, g->consts, s->consts, (size_t)d->const_bytes, "constant tables", NULL, NULL, err,
               errlen) != 0 ||
        write_tmaps(g, err, errlen) != 0)
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
    llmc_gpu_teardown_one(g);
    return -1;
}

void llmc_gpu_teardown(LlmcGpu *g)
{
    if (!g)
        return;
    if (g->rank_gpu)
        llmc_gpu_ranks_teardown(g);
    else
        llmc_gpu_teardown_one(g);
}

void llmc_gpu_teardown_one(LlmcGpu *g)
{
    if (!g)
        return;
    if (g->hung) {                      /* its buffers may be in use by a kernel that never ends: left
                                           to the process's exit, which ends the context */
        g->ready = 0;
        return;
    }
    if (g->ctx)
        (void)g->cu.CtxSetCurrent(g->ctx);
    for (int i = 0; i < g->n_graphs; i++)
        (void)g->cu.GraphExecDestroy(g->graphs[i].exec);
    g->n_graphs = 0;
    if (g->weights_registered) {
        (void)g->cu.HostUnregister(g->weights_registered);
        g->weights_registered = NULL;
        g->weights = 0;
    }
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
