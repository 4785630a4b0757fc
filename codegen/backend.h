/* backend.h — the compiler's backend interface: what turns a planned graph into the files the linker
 * takes. One instance per backend, each in its own file: "c" (c_build.c: the whole model as one C
 * file) and "cuda" (cuda_build.c: kernels compiled by NVRTC for each architecture, a host C file and
 * the CPU twin). Each target names its backend (LlmcTarget.backend, ir/target.c) and
 * llmc_backend_for() finds the instance, so the driver and the linker call through this struct and
 * never ask which backend they have.
 *
 * A build, in the order the driver (main.c) runs it:
 *   llmc_codegen_open     the targets' backend, the build directory, the build's identity (model
 *                         hash, info line) from the graph as the common pipeline left it
 *   before_target_stage   the backend sees the graph before its own passes (CUDA: the CPU twin)
 *   target_passes         the pass stage of its targets (passes/pipeline.c; CUDA: the GPU fusions)
 *   emit                  the kernels, the source for the graph
 *   build_images          device images (CUDA: one cubin per architecture)
 *   write_host            the host glue: the C files the linker compiles (cpu: the whole model)
 *   llmc_link             (linker.h) those C files and the runtime -> the executable and its payload
 *   llmc_codegen_close
 * A hook left NULL has nothing to do for that backend.
 */
#ifndef LLMC_BACKEND_H
#define LLMC_BACKEND_H

#include "../ir/weights.h"
#include "../passes/passes.h"
#include "codegen.h"

#define LLMC_MAX_TARGETS 8        /* targets of one build */
#define LLMC_MAX_C_FILES 4        /* C files a backend hands the linker */

typedef struct LlmcBackend LlmcBackend;

typedef struct LlmcCodegenOptions {
    const char *emit_dir;         /* the build directory, kept (NULL: a temporary one, removed) */
    const char *cuda_path;        /* CUDA toolkit holding NVRTC (NULL: /usr/local/cuda) */
    const char *clang;            /* clang for AMD code objects (NULL: LLMC_DEFAULT_CLANG, amdgpu.h) */
    int quiet;
    int resource_report;          /* print registers/smem/spills per kernel and architecture */
    LlmcQmma qmma;                /* --qmma: the batched-decode matmul's variant (GPU targets) */
    int batch_invariant;          /* --batch-invariant: a row's arithmetic independent of the step's
                                     rows (GPU targets; the cpu target's always is) */
    int qmma_units;               /* --qmma-units: gemm_q's fewest units of work a block (GPU targets;
                                     0: the rule of llmc_cuda_qmma_plan) */
    LlmcWgmma wgmma;              /* --wgmma: the wide steps' matmul in sm_90a images (GPU targets) */
    int attn_parts;               /* --attn-parts: the parts a decode query's positions split into (GPU
                                     targets; 0: 16) */
    int decode_wgmma;             /* --decode-wgmma on: bf16/f16 matrices at 9..64 rows by gemm_ws in
                                     sm_90a images (GPU targets) */
} LlmcCodegenOptions;

/* One build's codegen: filled by llmc_codegen_open, then handed to every hook and to the linker.
 * It points into itself (info): do not copy it. */
typedef struct LlmcCodegen {
    const LlmcBackend *backend;
    const LlmcTarget *targets[LLMC_MAX_TARGETS]; /* all of one backend; targets[0] tunes the kernels */
    int n_targets;
    LlmcCodegenOptions opt;
    LlmcBuildInfo info;           /* what the model descriptor says about the build */
    char dir[4096];               /* the build directory: every file of the build is written here */
    int temporary_dir;            /* removed by llmc_codegen_close */
    /* What the linker takes: the C files the backend wrote into dir (names without ".c"), compiled
     * and linked in this order. Device images enter the executable through them (.incbin). */
    const char *c_files[LLMC_MAX_C_FILES];
    int n_c_files;
    void *state;                  /* the backend's own, backend->state_size bytes, zeroed */
    char info_line[512], target_names[256];
} LlmcCodegen;

struct LlmcBackend {
    const char *name;             /* "c", "cuda" */
    /* Facts. */
    int max_targets;              /* targets one build may combine (CUDA: architectures, an image each) */
    size_t state_size;            /* bytes of LlmcCodegen.state */
    LlmcStage target_passes;      /* its targets' pass stage after the common pipeline (NULL: none) */
    int runs_ranks;               /* 1: builds a graph sharded over --tp N ranks (the C backend: ranks
                                     as threads); 0: refuses one */
    /* Hooks, in the order they run. */
    LlmcStatus (*before_target_stage)(LlmcCodegen *cg, const LlmcGraph *g, LlmcDiag *d);
    LlmcStatus (*emit)(LlmcCodegen *cg, const LlmcGraph *g, LlmcDiag *d);
    LlmcStatus (*build_images)(LlmcCodegen *cg, LlmcDiag *d);
    LlmcStatus (*write_host)(LlmcCodegen *cg, const LlmcGraph *g, LlmcDiag *d);
    void (*release)(LlmcCodegen *cg); /* frees what state holds (not state itself) */
};

extern const LlmcBackend llmc_backend_c;
extern const LlmcBackend llmc_backend_cuda;

/* The backend of target t; NULL when this build of llmc has none for it. */
const LlmcBackend *llmc_backend_for(const LlmcTarget *t);

/* Starts a build for targets (NULL-terminated; one backend, at most its max_targets): creates the
 * build directory and computes the build's identity from g (the IR dump, the target, the tokenizer
 * bytes tok, samples of every weight read through ws). On failure nothing is left to close. */
LlmcStatus llmc_codegen_open(LlmcCodegen *cg, const LlmcTarget *const *targets, const LlmcGraph *g,
                             const LlmcWeightSource *ws, const void *tok, size_t tok_size,
                             const LlmcCodegenOptions *o, LlmcDiag *d);
/* For the backends: writes dir/name (kept for inspection, or an image the host C file pulls in). */
LlmcStatus llmc_codegen_write(LlmcCodegen *cg, const char *name, const void *data, size_t n, LlmcDiag *d);
/* For the backends: writes dir/NAME.c and hands it to the linker. */
LlmcStatus llmc_codegen_write_c(LlmcCodegen *cg, const char *name, const char *text, LlmcDiag *d);
/* Releases the backend's state and removes a temporary build directory. Safe on a zeroed struct. */
void llmc_codegen_close(LlmcCodegen *cg);

#endif
