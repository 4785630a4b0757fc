/* cuda_build.c — the GPU backend instance "cuda" (NVIDIA targets sm_80 ... sm_90a, AMD targets gfx1151,
 * gfx1100, gfx942; a build may mix both vendors): one kernel source for the graph (cuda_backend.c),
 * compiled for each architecture of the build, by NVRTC into a cubin (NVIDIA) or by clang's AMDGPU
 * backend into a code object (AMD, amdgpu.c; the same source as HIP through gpu_port_amd.cuh), and
 * the host C file that pulls the images in and enqueues the launches; beside it the CPU twin, the
 * same model compiled by the C backend, which --compare-cpu runs against the GPU.
 *
 * The twin is emitted in before_target_stage, from the graph as the common pipeline left it: the
 * GPU stage (fusions that change no weight) then rewrites that graph in place, and the twin reads
 * the same packed weights. Emitting the twin's source there costs a string; keeping a copy of the
 * graph for later would need a clone of the graph's arena, for nothing else to use.
 *
 * Each image's kernel resources are checked as they are built: a kernel with scratch (AMD) where
 * none is expected fails the build (the check CI makes of ptxas's spill report, here for every
 * build: on AMD scratch is the spill's cost).
 *
 * Files in the build directory: model.cu (kept for inspection), cubin_<target>.bin (NVIDIA),
 * hsaco_<target>.bin (AMD, with the kernel headers beside model.cu that clang reads and its log
 * hip-<arch>.log), model.c (the host side) and twin.c.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "digest.h"
#include "amdgpu.h"
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
    const LlmcGpuGenOpts o = {cg->opt.qmma, cg->opt.batch_invariant, cg->opt.qmma_units, cg->opt.wgmma,
                              cg->opt.attn_parts, cg->opt.decode_wgmma};
    if (llmc_gpu_generate(g, cg->targets, cg->n_targets, &o, &b->gen, d))
        return LLMC_ERR;
    const char *src = llmc_cuda_source(b->gen);
    if (llmc_codegen_write(cg, "model.cu", src, strlen(src), d))
        return LLMC_ERR;
    /* A kept build directory gets the kernel headers beside model.cu, so that it compiles with
     * nvcc by hand; NVRTC takes them from memory, clang (AMD) from there. */
    int amd = 0;
    for (int i = 0; i < cg->n_targets; i++)
        amd |= cg->targets[i]->backend == LLMC_TGT_HIP;
    return cg->temporary_dir && !amd ? LLMC_OK : llmc_cuda_write_headers(cg->dir, d);
}

/* AMD: the kernels that must not use scratch (spills to memory): every kernel of a decode step and
 * the matmuls and attention of prefill, i.e. all of them but those the list names. Returns the
 * first offender's message. */
static LlmcStatus check_amd_resources(const LlmcTarget *tg, const LlmcCodeObject *co, const LlmcCudaGen *gen, int report,
                                      LlmcDiag *d)
{
    for (int k = 0; k < llmc_cuda_kernel_count(gen); k++) {
        const char *name = llmc_cuda_kernel_name(gen, k);
        const LlmcAmdKernelRes *r = llmc_amdgpu_find(&co->meta, name);
        if (!r)
            return llmc_fail(d, "the %s code object has no kernel %s (its metadata lists %d)", tg->arch, name,
                             co->meta.n_res);
        if (report)
            fprintf(stderr, "llmc: %s %-28s %3d VGPRs, %3d AGPRs, %3d SGPRs, %5d bytes LDS, %4d bytes scratch, spills %d/%d\n",
                    tg->arch, name, r->vgprs, r->agprs, r->sgprs, r->lds, r->scratch, r->vgpr_spills, r->sgpr_spills);
        if (r->scratch || r->vgpr_spills || r->sgpr_spills || r->dynamic_stack)
            return llmc_fail(d,
                             "internal error: kernel %s uses scratch on %s (%d bytes a lane, %d VGPRs and %d SGPRs "
                             "spilled%s): the AMD kernels are written to need none",
                             name, tg->arch, r->scratch, r->vgpr_spills, r->sgpr_spills,
                             r->dynamic_stack ? ", a dynamic stack" : "");
        /* its own LDS and what its launches add (dynamic: flash_mx's tiles) */
        int64_t lds = (int64_t)r->lds + llmc_cuda_kernel_amd_lds(gen, k);
        if (lds > tg->smem_per_block)
            return llmc_fail(d, "internal error: kernel %s needs %lld bytes of LDS; %s has %d a block", name,
                             (long long)lds, tg->arch, tg->smem_per_block);
    }
    return LLMC_OK;
}

/* One AMD target: clang on the source in the build directory, its resources checked. */
static LlmcStatus build_amd(LlmcCodegen *cg, const LlmcTarget *tg, int i, LlmcDiag *d)
{
    CudaBuild *b = cg->state;
    char name[256];
    snprintf(name, sizeof name, "hsaco_%s.bin", tg->name);
    if (!cg->opt.quiet)
        fprintf(stderr, "llmc: %s: compiling %d kernels for %s\n", cg->opt.clang ? cg->opt.clang : LLMC_DEFAULT_CLANG,
                llmc_cuda_kernel_count(b->gen), tg->arch);
    LlmcCodeObject co;
    LlmcStatus st = llmc_amdgpu_compile(cg->opt.clang, cg->dir, "model.cu", name, tg, &co, d);
    if (!st)
        st = check_amd_resources(tg, &co, b->gen, cg->opt.resource_report, d);
    if (!st) {
        snprintf(b->paths[i], sizeof b->paths[i], "%s/%s", cg->dir, name);
        b->images[i] = (LlmcCudaImage){tg, b->paths[i], co.size, {0}};
        if (llmc_digest_buffer(co.data, co.size, 1, b->images[i].digest))
            st = llmc_fail(d, "%s: out of memory", name);
    }
    llmc_code_object_free(&co);
    return st;
}

/* The source through NVRTC (NVIDIA) or clang (AMD) for every target of the build, an image each. */
static LlmcStatus cuda_build_images(LlmcCodegen *cg, LlmcDiag *d)
{
    CudaBuild *b = cg->state;
    LlmcNvrtc *nv = NULL;
    LlmcStatus st = LLMC_OK;
    for (int i = 0; i < cg->n_targets && !st; i++) {
        const LlmcTarget *tg = cg->targets[i];
        if (tg->backend == LLMC_TGT_HIP) {
            st = build_amd(cg, tg, i, d);
            continue;
        }
        if (!nv && llmc_nvrtc_open(&nv, cg->opt.cuda_path, d)) {
            st = LLMC_ERR;
            break;
        }
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
                fprintf(stderr, "llmc: %s %-28s %3d registers, %5d bytes smem, %4d bytes stack, spills %d/%d%s\n",
                        tg->arch, cubin.res[k].name, cubin.res[k].registers, cubin.res[k].smem_static,
                        cubin.res[k].stack_frame, cubin.res[k].spill_stores, cubin.res[k].spill_loads,
                        cubin.res[k].wgmma_waits ? ", wgmma waits injected or serialized (ptxas)" : "");
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
    if (nv)
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
    .runs_ranks = 1,              /* NVIDIA images: a GPU a rank, NCCL's collectives (not HIP's) */
    .before_target_stage = cuda_before_target_stage,
    .emit = cuda_emit,
    .build_images = cuda_build_images,
    .write_host = cuda_write_host,
    .release = cuda_release,
};
