/* codegen.h — from a planned graph to an executable: source emission per backend, weight packing,
 * and linking with the embedded runtime. */
#ifndef LLMC_CODEGEN_H
#define LLMC_CODEGEN_H

#include "../frontend/frontend.h"
#include "../ir/ir.h"
#include "../ir/target.h"

typedef struct LlmcBuildInfo {
    const char *build_info;       /* one line for --version */
    uint64_t model_hash;
    int max_threads;
    const char *desc_symbol;      /* C backend: the descriptor's name (NULL: llmc_model) */
    const char *target_names;     /* GPU builds: "sm_89,sm_90a" */
} LlmcBuildInfo;

/* The CUDA backend (cuda_backend.c): generate once, compile the source for each architecture, then
 * write the host C file knowing the cubins. */
typedef struct LlmcCudaGen LlmcCudaGen;
typedef struct LlmcCudaImage {
    const LlmcTarget *target;
    const char *path;             /* the cubin on disk (pulled in with .incbin) */
    size_t size;
} LlmcCudaImage;
/* tg tunes the kernels (the first target of the build); wgmma: some target of the build has wgmma,
 * so the wgmma variants are emitted too (forward() picks them by the loaded image's features). */
LlmcStatus llmc_cuda_generate(const LlmcGraph *g, const LlmcTarget *tg, int wgmma, LlmcCudaGen **out, LlmcDiag *d);
const char *llmc_cuda_source(const LlmcCudaGen *cg);
/* The kernel headers the source includes (the .cuh files of codegen/, embedded), for NVRTC; and
 * written to dir (--emit-dir: the emitted model.cu then compiles by hand with nvcc). */
const struct LlmcNvrtcHeaders *llmc_cuda_headers(const LlmcCudaGen *cg);
LlmcStatus llmc_cuda_write_headers(const char *dir, LlmcDiag *d);
int llmc_cuda_kernel_count(const LlmcCudaGen *cg);
const char *llmc_cuda_kernel_name(const LlmcCudaGen *cg, int i);
LlmcStatus llmc_cuda_host_c(const LlmcGraph *g, const LlmcCudaGen *cg, const LlmcCudaImage *images, int n_images,
                            const LlmcBuildInfo *info, char **host_c, LlmcDiag *d);
void llmc_cuda_free(LlmcCudaGen *cg);
int64_t llmc_cuda_kv_block_bytes(const LlmcGraph *g);

/* The C backend: the whole model as one C file (malloc'd). */
LlmcStatus llmc_emit_c(const LlmcGraph *g, const LlmcTarget *tg, const LlmcBuildInfo *info, char **source,
                       LlmcDiag *d);
int64_t llmc_weight_bytes_per_token(const LlmcGraph *g);
/* The descriptor's opening and the fields every backend shares (through .forward, .probes); the
 * backend adds its own fields and closes it with "};". */
struct LlmcBuf;
void llmc_emit_desc_fields(struct LlmcBuf *out, const LlmcGraph *g, const LlmcBuildInfo *info, const char *symbol,
                           const char *target, int64_t kv_block_bytes, int64_t const_bytes, int64_t arena_bytes,
                           int max_threads);
/* The probe table (static const LlmcProbe probes[]): every planned value, for --compare-cpu. */
struct LlmcBuf;
void llmc_emit_probes(const LlmcGraph *g, struct LlmcBuf *out);
int64_t llmc_kv_block_bytes(const LlmcGraph *g);

typedef struct LlmcBuildOptions {
    const char *out_path;         /* the executable */
    const char *emit_dir;         /* keep the generated sources here (NULL: a temporary directory) */
    int weights_file;             /* payload in OUT.weights beside the executable */
    const char *cc;               /* host C compiler (default "cc") */
    int quiet;
    const LlmcTarget *const *targets; /* NULL-terminated: several CUDA architectures in one build;
                                         NULL: the single target passed to llmc_build */
    const char *cuda_path;        /* CUDA toolkit (NVRTC); NULL: /usr/local/cuda */
    int resource_report;          /* print registers/smem/spills per kernel and architecture */
    const struct LlmcPassOptions *pass_options; /* CUDA builds run the GPU stage of the pipeline */
} LlmcBuildOptions;

/* Packs weights (in offset order, converted to their storage dtype) into o, hashing a sample of
 * every tensor into *hash when hash != NULL. */
LlmcStatus llmc_pack_weights(const LlmcGraph *g, LlmcWeightFiles *wf, LlmcOutFile *o, int quiet, LlmcDiag *d);
/* A hash identifying the build: IR dump, target, version, tokenizer bytes, samples of every weight. */
LlmcStatus llmc_model_hash(const LlmcGraph *g, const LlmcTarget *tg, LlmcWeightFiles *wf, const void *tok,
                           size_t tok_size, uint64_t *hash, LlmcDiag *d);

/* Emits, compiles and links the executable for target tg, appends the payload (weights and
 * tokenizer) or writes it to a side file. Nothing is left under out_path on failure. For CUDA
 * targets the CPU twin is emitted from g as given, then g goes through the GPU stage
 * (llmc_pipeline_gpu) before the CUDA code is emitted: g is changed. */
LlmcStatus llmc_build(LlmcGraph *g, const LlmcTarget *tg, LlmcWeightFiles *wf, const LlmcBuildOptions *o,
                      LlmcDiag *d);

#endif
