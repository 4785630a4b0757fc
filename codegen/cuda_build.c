/* cuda_build.c — the "cuda" backend instance (targets sm_80 ... sm_90a): one CUDA C source for the
 * graph (cuda_backend.c), compiled by NVRTC into a cubin for each architecture of the build, and the
 * host C file that pulls the cubins in and enqueues the launches; beside it the CPU twin, the same
 * model compiled by the C backend, which --compare-cpu runs against the GPU.
 *
 * The twin is emitted in before_target_stage, from the graph as the common pipeline left it: the
 * GPU stage (fusions that change no weight) then rewrites that graph in place, and the twin reads
 * the same packed weights. Emitting the twin's source there costs a string; keeping a copy of the
 * graph for later would need a clone of the graph's arena, for nothing else to use.
 *
 * Files in the build directory: model.cu (kept for inspection), cubin_<target>.bin, model.c (the
 * host side) and twin.c.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "digest.h"
#include "nvrtc.h"

typedef struct CudaBuild {
    char *twin;                   /* twin.c */
    LlmcCudaGen *gen;             /* the kernels (model.cu) */
    LlmcCudaImage images[LLMC_MAX_TARGETS];
    char paths[LLMC_MAX_TARGETS][4200];
} CudaBuild;

static LlmcStatus cuda_before_target_stage(LlmcCodegen *cg, const LlmcGraph *g, LlmcDiag *d)
{
    CudaBuild *b = cg->state;
    LlmcBuildInfo tinfo = cg->info;
    tinfo.desc_symbol = "llmc_model_cpu_twin";
    tinfo.max_threads = 0;
    return llmc_emit_c(g, llmc_target_find("cpu"), &tinfo, &b->twin, d);
}

static LlmcStatus cuda_emit(LlmcCodegen *cg, const LlmcGraph *g, LlmcDiag *d)
{
    CudaBuild *b = cg->state;
    int wgmma = 0;
    for (int i = 0; i < cg->n_targets; i++)
        wgmma |= cg->targets[i]->has_wgmma;
    if (llmc_cuda_generate(g, cg->targets[0], wgmma, &b->gen, d))
        return LLMC_ERR;
    const char *src = llmc_cuda_source(b->gen);
    if (llmc_codegen_write(cg, "model.cu", src, strlen(src), d))
        return LLMC_ERR;
    /* A kept build directory gets the kernel headers beside model.cu, so that it compiles with
     * nvcc by hand; NVRTC takes them from memory. */
    return cg->temporary_dir ? LLMC_OK : llmc_cuda_write_headers(cg->dir, d);
}

/* The source through NVRTC for every target of the build, one cubin each. */
static LlmcStatus cuda_build_images(LlmcCodegen *cg, LlmcDiag *d)
{
    CudaBuild *b = cg->state;
    LlmcNvrtc *nv = NULL;
    if (llmc_nvrtc_open(&nv, cg->opt.cuda_path, d))
        return LLMC_ERR;
    LlmcStatus st = LLMC_OK;
    for (int i = 0; i < cg->n_targets && !st; i++) {
        const LlmcTarget *tg = cg->targets[i];
        LlmcCubin cubin;
        if (!cg->opt.quiet)
            fprintf(stderr, "llmc: NVRTC %s: compiling %d kernels for %s\n", llmc_nvrtc_version(nv),
                    llmc_cuda_kernel_count(b->gen), tg->arch);
        if (llmc_nvrtc_compile(nv, llmc_cuda_source(b->gen), "model.cu", llmc_cuda_headers(b->gen), tg, &cubin, d)) {
            st = LLMC_ERR;
            break;
        }
        if (cg->opt.resource_report) {
            for (int k = 0; k < cubin.n_res; k++)
                fprintf(stderr, "llmc: %s %-28s %3d registers, %5d bytes smem, %4d bytes stack, spills %d/%d\n",
                        tg->arch, cubin.res[k].name, cubin.res[k].registers, cubin.res[k].smem_static,
                        cubin.res[k].stack_frame, cubin.res[k].spill_stores, cubin.res[k].spill_loads);
        }
        char name[256];
        snprintf(name, sizeof name, "cubin_%s.bin", tg->name);
        snprintf(b->paths[i], sizeof b->paths[i], "%s/%s", cg->dir, name);
        st = llmc_codegen_write(cg, name, cubin.data, cubin.size, d);
        b->images[i] = (LlmcCudaImage){tg, b->paths[i], cubin.size, {0}};
        if (!st && llmc_digest_buffer(cubin.data, cubin.size, 1, b->images[i].digest))
            st = llmc_fail(d, "%s: out of memory", name);
        llmc_cubin_free(&cubin);
    }
    llmc_nvrtc_close(nv);
    return st;
}

static LlmcStatus cuda_write_host(LlmcCodegen *cg, const LlmcGraph *g, LlmcDiag *d)
{
    CudaBuild *b = cg->state;
    char *host = NULL;
    if (llmc_cuda_host_c(g, b->gen, b->images, cg->n_targets, &cg->info, &host, d))
        return LLMC_ERR;
    LlmcStatus st = llmc_codegen_write_c(cg, "model", host, d);
    free(host);
    if (st || llmc_codegen_write_c(cg, "twin", b->twin, d))
        return LLMC_ERR;
    return LLMC_OK;
}

static void cuda_release(LlmcCodegen *cg)
{
    CudaBuild *b = cg->state;
    free(b->twin);
    llmc_cuda_free(b->gen);
}

const LlmcBackend llmc_backend_cuda = {
    .name = "cuda",
    .max_targets = LLMC_MAX_TARGETS,
    .state_size = sizeof(CudaBuild),
    .target_passes = llmc_gpu_passes,
    .before_target_stage = cuda_before_target_stage,
    .emit = cuda_emit,
    .build_images = cuda_build_images,
    .write_host = cuda_write_host,
    .release = cuda_release,
};
