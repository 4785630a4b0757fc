/* nvrtc.h — CUDA C to cubin at compile time, with no GPU: NVRTC loaded at run time (dlopen), so llmc
 * itself needs no CUDA library unless a CUDA target is asked for.
 *
 * The compile log of ptxas (-Xptxas -v) is parsed into per-kernel resources (registers, shared
 * memory, stack frame, spill stores and loads): CI checks them (no spills in the decode kernels). */
#ifndef LLMC_NVRTC_H
#define LLMC_NVRTC_H

#include <stddef.h>
#include <stdint.h>

#include "../ir/base.h"
#include "../ir/target.h"

typedef struct LlmcNvrtc LlmcNvrtc;

/* Loads libnvrtc from cuda_path/lib64 (then the system's library path). cuda_path NULL: /usr/local/cuda.
 * Fails with a message naming where it looked. */
LlmcStatus llmc_nvrtc_open(LlmcNvrtc **nv, const char *cuda_path, LlmcDiag *d);
void llmc_nvrtc_close(LlmcNvrtc *nv);
/* "13.0" */
const char *llmc_nvrtc_version(const LlmcNvrtc *nv);

typedef struct LlmcKernelRes {
    char name[128];               /* the kernel's (unmangled, extern "C") name */
    int registers;
    int smem_static;              /* bytes */
    int stack_frame;              /* bytes */
    int spill_stores, spill_loads;/* bytes */
    int wgmma_waits;              /* ptxas's notices that it serialized wgmma or waited for its results
                                     (a wait it injected: the kernel's wgmma do not overlap as written) */
} LlmcKernelRes;

typedef struct LlmcCubin {
    uint8_t *data;                /* malloc'd */
    size_t size;
    char *log;                    /* malloc'd: the full NVRTC/ptxas log */
    LlmcKernelRes *res;           /* malloc'd: one per kernel found in the log */
    int n_res;
} LlmcCubin;

/* Named headers a source may #include "NAME" (nvrtcCreateProgram's headers and includeNames):
 * names[i] has the text texts[i]. */
typedef struct LlmcNvrtcHeaders {
    int n;
    const char *const *names, *const *texts;
} LlmcNvrtcHeaders;

/* Compiles `source` (named `name` in messages, with the named headers hdr, or none when NULL) for target tg (tg->arch, e.g. "sm_90a") into a
 * cubin. On a compile error the message carries the first 40 lines of the log and out->log the
 * whole of it (out->data and out->res are then NULL); call llmc_cubin_free either way. */
LlmcStatus llmc_nvrtc_compile(LlmcNvrtc *nv, const char *source, const char *name, const LlmcNvrtcHeaders *hdr,
                              const LlmcTarget *tg, LlmcCubin *out, LlmcDiag *d);
void llmc_cubin_free(LlmcCubin *c);
/* The resources of `kernel` (its extern "C" name), or NULL when the log has no such kernel. */
const LlmcKernelRes *llmc_cubin_find(const LlmcCubin *c, const char *kernel);

#endif
