/* codegen.h — from a planned graph to source: what each backend emits (the C model, the CUDA
 * kernels and their host side), weight packing and the model hash. The backends behind one
 * interface: backend.h; linking: linker.h. Codegen sees the model only as IR: weights are read
 * through ir/weights.h. */
#ifndef LLMC_CODEGEN_H
#define LLMC_CODEGEN_H

#include "../ir/ir.h"
#include "../ir/target.h"
#include "../ir/weights.h"

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
    uint8_t digest[16];           /* abi/digest.h of the cubin */
} LlmcCudaImage;
/* tg tunes the kernels (the first target of the build); wgmma: some target of the build has wgmma,
 * so the wgmma variants are emitted too (forward() picks them by the loaded image's features). */
LlmcStatus llmc_cuda_generate(const LlmcGraph *g, const LlmcTarget *tg, int wgmma, LlmcCudaGen **out, LlmcDiag *d);
/* The batched-decode matmul of quantized rows above 8 (llmc compile --qmma): auto (the default):
 * gemm_q, and gemm_wq above 32 rows for 4-bit matrices in sm_90a images; plain: gemm_q only (the
 * weights streamed into registers); wg: gemm_wq above 8 rows (docs/cuda.md) */
typedef enum { LLMC_QMMA_AUTO, LLMC_QMMA_PLAIN, LLMC_QMMA_WG } LlmcQmma;
/* The wide steps' matmul of bf16/f16 weights in sm_90a images (llmc compile --wgmma): auto (the
 * default): tma, except in a --batch-invariant build (which runs no tensor-core kernel); cp: gemm_wg,
 * cp.async stages into one warpgroup's wgmma; tma: gemm_wt where it takes the matrix (TMA tensor
 * maps, a producer and two consumer warpgroups, persistent; on an H100 1.2-1.6x gemm_wg's
 * prefill matmuls), gemm_wg elsewhere (docs/cuda.md, "gemm_wt") */
typedef enum { LLMC_WGMMA_AUTO, LLMC_WGMMA_CP, LLMC_WGMMA_TMA } LlmcWgmma;
/* The choices of llmc compile that shape the emitted kernels. */
typedef struct LlmcGpuGenOpts {
    LlmcQmma qmma;       /* --qmma: the batched-decode matmul's variant */
    int batch_invariant; /* --batch-invariant: every row's arithmetic the same whatever the step's rows
                            (one kernel path a matrix and an attention for every row count;
                            docs/cuda.md, "Batch-invariant builds") */
    int qmma_units;      /* --qmma-units: gemm_q's fewest units a block, 0 for its rule */
    LlmcWgmma wgmma;     /* --wgmma: the wide steps' matmul in sm_90a images */
    int attn_parts;      /* --attn-parts: the parts a decode query's positions split into, 0 for 16 */
    int decode_wgmma;    /* --decode-wgmma on: bf16/f16 matrices at 9..64 rows by gemm_ws in sm_90a images */
} LlmcGpuGenOpts;
/* The source for the targets of a build (NVIDIA and AMD ones may mix): the kernel paths their images
 * take (LlmcTarget.amd_path), wgmma variants where one has it, tuned for the first NVIDIA-path
 * target (else the first), as o says. */
LlmcStatus llmc_gpu_generate(const LlmcGraph *g, const LlmcTarget *const *targets, int n_targets,
                             const LlmcGpuGenOpts *o, LlmcCudaGen **out, LlmcDiag *d);
const char *llmc_cuda_source(const LlmcCudaGen *cg);
/* The kernel headers the source includes (the .cuh files of codegen/, embedded), for NVRTC; and
 * written to dir (--emit-dir: the emitted model.cu then compiles by hand with nvcc). */
const struct LlmcNvrtcHeaders *llmc_cuda_headers(const LlmcCudaGen *cg);
LlmcStatus llmc_cuda_write_headers(const char *dir, LlmcDiag *d);
int llmc_cuda_kernel_count(const LlmcCudaGen *cg);
const char *llmc_cuda_kernel_name(const LlmcCudaGen *cg, int i);
/* Kernel i's definition as emitted, its name written @NAME@ (tests gather kernels of several graphs
 * into one source). */
const char *llmc_cuda_kernel_text(const LlmcCudaGen *cg, int i);
/* The dynamic LDS an AMD image's launches of kernel i give it, bytes: 0 for none and for the
 * NVIDIA-only kernels of a mixed build (traps there, never launched). */
uint32_t llmc_cuda_kernel_amd_lds(const LlmcCudaGen *cg, int i);
/* What forward() runs at a step of `rows` tokens (T = rows, O = the smaller of rows and the
 * graph's max_outputs, S = rows: a decode step, one token a sequence; same_rows when O == T: rows
 * 0..T-1) in an image with wgmma (wg) or of the AMD path (amd): one line a piece of
 * per-row arithmetic, in launch order, "MATH\tnode N op" (MATH: the kernel's label,
 * llmc_cuda_kernel_math in cuda_common.h, else its name; a kernel doing the work of several gives a
 * line each). A batch-invariant build gives the same MATH lines at every row count. malloc'd; NULL
 * with d set when a launch condition is not one this reads (the emitters' grammar: integers, T, O,
 * S, wg, amd, same_rows, + - * /, comparisons, !, &&, ||, parentheses). */
char *llmc_cuda_row_path(const LlmcCudaGen *cg, int64_t rows, int wg, int amd, LlmcDiag *d);
LlmcStatus llmc_cuda_host_c(const LlmcGraph *g, const LlmcCudaGen *cg, const LlmcCudaImage *images, int n_images,
                            const LlmcBuildInfo *info, char **host_c, LlmcDiag *d);
void llmc_cuda_free(LlmcCudaGen *cg);
int64_t llmc_cuda_kv_block_bytes(const LlmcGraph *g);

/* The C backend: the whole model as one C file (malloc'd). */
LlmcStatus llmc_emit_c(const LlmcGraph *g, const LlmcTarget *tg, const LlmcBuildInfo *info, char **source,
                       LlmcDiag *d);
/* Bytes one decode token reads of the weights: every weight once (an embedding table one row), the
 * experts of moe blocks excepted where llmc_expert_bytes counts them. */
int64_t llmc_weight_bytes_per_token(const LlmcGraph *g);
/* The moe blocks' expert matrices (gate/up and down, scales with them): their bytes over all
 * experts, and the experts and top-k every block shares; all 0 without moe blocks, or when blocks
 * differ in experts or top-k (then weight_bytes_per_token counts the experts as dense weights). */
typedef struct {
    int64_t bytes;
    int experts, top_k;
} LlmcExperts;
void llmc_expert_bytes(const LlmcGraph *g, LlmcExperts *ex);
/* The descriptor's opening and the fields every backend shares (through .forward, .probes; the KV
 * cache's from its formats kvf, keys and values); the backend adds its own fields and closes it
 * with "};". */
struct LlmcBuf;
void llmc_emit_desc_fields(struct LlmcBuf *out, const LlmcGraph *g, const LlmcBuildInfo *info, const char *symbol,
                           const char *target, const LlmcDType kvf[2], int64_t const_bytes, int64_t arena_bytes,
                           int max_threads);
/* The probe table (static const LlmcProbe probes[]): every planned value, for --compare-cpu. */
struct LlmcBuf;
void llmc_emit_probes(const LlmcGraph *g, struct LlmcBuf *out);
int64_t llmc_kv_block_bytes(const LlmcGraph *g, const LlmcTarget *tg); /* of the C backend for target tg */

/* Packs weights (in offset order, converted to their storage dtype, read through ws) into o;
 * quantized ones through their format's quantizer (ir/quant.c). A graph sharded over g->tp > 1
 * ranks: each rank's part of every weight (llmc_shard_view), rank r's at r *
 * llmc_rank_weights_stride(g), laid out as the graph plans (the same offsets on every rank). */
/* The bytes from one rank's weights to the next's (the plan's, 4096-aligned); the payload's weights:
 * g->weights_bytes unsharded, else g->tp strides. */
int64_t llmc_rank_weights_stride(const LlmcGraph *g);
int64_t llmc_packed_weights_bytes(const LlmcGraph *g);
LlmcStatus llmc_pack_weights(const LlmcGraph *g, const LlmcWeightSource *ws, LlmcOutFile *o, int quiet, LlmcDiag *d);
/* A hash identifying the build: IR dump, target, version, tokenizer bytes, samples of every weight. */
LlmcStatus llmc_model_hash(const LlmcGraph *g, const LlmcTarget *tg, const LlmcWeightSource *ws, const void *tok,
                           size_t tok_size, uint64_t *hash, LlmcDiag *d);

/* Runs argv (argv[0] found on PATH), its output appended to the file log, with TMPDIR set to dir (the
 * build directory, which the driver removes when a signal stops the compile: the tool's temporaries
 * go with it, never into the user's $TMPDIR); returns 0 when it exits 0, else -1 (a program that
 * cannot be run says so in the log). */
int llmc_run_tool(char *const argv[], const char *log, const char *dir);

#endif
