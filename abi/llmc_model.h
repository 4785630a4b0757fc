/* llmc_model.h — the contract between generated model code and the runtime.
 *
 * `llmc compile` emits one C file that defines `const LlmcModelDesc llmc_model`: the model's
 * constants (every dimension baked in) and its forward function. The runtime (runtime/ sources) is
 * generic: it loads the packed weights, owns the paged KV pool, the threads, the scheduler and
 * the tokenizer, and drives the model only through this header. The header is embedded into
 * llmc so that the generated code and the runtime always agree on it (LLMC_ABI_VERSION).
 *
 * Backends: for the cpu target, forward() runs the kernels itself. For a GPU target (desc->backend
 * == LLMC_BACKEND_CUDA), forward() only enqueues kernel launches through llmc_gpu_launch(); the runtime
 * has already copied the step's arrays into device buffers (LlmcDevArgs) and copies the logits back
 * after it, and may capture forward() into a CUDA graph (decode steps padded to bucket sizes).
 *
 * Threads: forward() is SPMD. The runtime calls it from `nth` threads at once with tid 0..nth-1;
 * the generated code partitions every node's work by (tid, nth) and calls llmc_barrier() between
 * nodes. Every kernel computes each output element in an order that depends neither on nth nor on
 * which other tokens share the step, so a sequence's outputs are bit-identical whether it runs
 * alone or batched with others.
 *
 * Ranks (a model compiled with --tp N, desc->n_ranks = N; GPU targets: one GPU a rank, the
 * collectives llmc_gpu_all_gather / llmc_gpu_all_to_all below): on the cpu target, the graph is one rank's
 * part of the model, the same for every rank. The runtime runs N instances of forward() at once,
 * each with its own LlmcExec (ex->rank; its part of the weights, at ex->rank *
 * desc->rank_weights_stride in the payload; its activation arena and KV pool) and the same number
 * of threads; llmc_barrier() then meets every thread of every rank, and the collectives
 * (llmc_all_reduce, llmc_all_gather) combine the ranks' values between two barriers.
 */
#ifndef LLMC_MODEL_H
#define LLMC_MODEL_H

#include <stdint.h>

#define LLMC_ABI_VERSION 16

/* One forward step: T tokens from one or more sequences (prefill chunks and decode tokens mixed). */
typedef struct LlmcStep {
    int32_t n_tokens;               /* T: 1..max_tokens */
    const int32_t *tokens;          /* [T] token ids */
    const int32_t *positions;       /* [T] position of each token in its sequence */
    const int32_t *seq_of_token;    /* [T] row of block_tables this token's sequence uses */
    const int32_t *slots;           /* [T] KV slot written: block * block_size + position % block_size */
    const int32_t *block_tables;    /* [n_seqs][max_blocks_per_seq] KV block ids */
    int32_t max_blocks_per_seq;     /* row stride of block_tables */
    int32_t n_out;                  /* O: 0..max_outputs */
    const int32_t *out_rows;        /* [O] rows (token indices in this step) whose logits are wanted */
    float *logits;                  /* [O][vocab_size] written by the step */
    int32_t n_nodes;                /* run only the first n_nodes nodes (0: all); for per-layer probes,
                                       logits are then not written */
    int32_t *out_ids;               /* [O] or NULL: llmc_engine_step writes the greedy token of every
                                       output row here (GPU: a kernel, 4 bytes a row read back) */
    int32_t ids_only;               /* with out_ids: the logits are not wanted (GPU: not copied back,
                                       st->logits left as it was) */
    const double *sample_u;         /* with out_ids: NULL for the argmax of every row, else [O]
                                       uniforms in [0, 1): out_ids[o] = llmc_sample_u({temperature[o],
                                       top_k[o], top_p[o]}, sample_u[o], row o) (runtime/sample.h;
                                       GPU: a kernel). Each row has its sequence's sampler. */
    const float *temperature;       /* with sample_u: [O]; 0: that row takes the argmax */
    const float *top_p;             /* with sample_u: [O]; >= 1: off */
    const int32_t *top_k;           /* with sample_u: [O]; 0: off */
    int32_t n_seqs;                 /* S, GPU forward() only (set by the runtime; the step's
                                       producers leave it 0): the runs of tokens of one sequence at
                                       consecutive positions, 1..T (T: one token a run, a decode
                                       step); launches are chosen by T, O and S */
} LlmcStep;

typedef struct LlmcPool LlmcPool;   /* the runtime's thread team */
typedef struct LlmcGpu LlmcGpu;     /* the runtime's GPU backend (NULL on the cpu target) */
typedef struct LlmcRanks LlmcRanks; /* the runtime's collectives over a sharded model's ranks */

/* LLMC_BACKEND_CUDA: a GPU build (its images NVIDIA's, AMD's or both; one runtime device drives either
 * vendor's driver API: runtime/gpu.c). */
enum { LLMC_BACKEND_CPU = 0, LLMC_BACKEND_CUDA = 1 };

/* A value the runtime can read back after a step run with n_nodes = node + 1: for per-layer
 * comparisons between a GPU build and its CPU twin (--compare-cpu). */
typedef struct LlmcProbe {
    const char *name;               /* IR value name, e.g. "l3.x" (the residual stream after layer 3) */
    int32_t node;                   /* index of the node producing it */
    int32_t layer;                  /* -1 outside the layer block */
    int64_t offset;                 /* arena byte offset (float32 values) */
    int32_t rows_are_outputs;       /* 1: O rows (after select_rows), 0: T rows */
    int32_t cols, row_stride;       /* elements */
} LlmcProbe;

/* What every GPU kernel receives, by value: device base pointers (node offsets are constants in the
 * kernel code) and the step's device-side arrays. Same layout in C and CUDA C. */
typedef struct LlmcDevArgs {
    const uint8_t *weights;         /* packed weights, uploaded once */
    uint8_t *arena;                 /* activations (arena_bytes) */
    uint8_t *kv;                    /* paged KV pool */
    const uint8_t *consts;          /* tables filled by init() on the host, then uploaded */
    const int32_t *tokens, *positions, *seq_of_token, *slots, *out_rows, *block_tables;
    float *logits;                  /* [n_out][vocab_size] on the device */
    int32_t *out_ids;               /* [n_out] chosen token of each logits row, on the device */
    int32_t n_tokens, n_out, max_blocks_per_seq, reserved;
    const double *sample;           /* [n_out][4]: each logits row's temperature (0: the argmax),
                                       top_p, top_k and its uniform in [0, 1) */
} LlmcDevArgs;

/* A launch's own values, the second argument of every GPU kernel: byte offsets of its operands in
 * the weights or the arena, a layer index. Kernels are shared by every node with the same shapes
 * (all layers of a model), so what differs between those nodes travels here. */
typedef struct LlmcKernelOffsets {
    int64_t v[8];
} LlmcKernelOffsets;

/* GPU vendors: an image runs only on its vendor's devices. */
enum { LLMC_GPU_VENDOR_NVIDIA = 1, LLMC_GPU_VENDOR_AMD = 2 };

/* One compiled kernel image (NVIDIA: a cubin; AMD: a code object) for one architecture, identified
 * by vendor, arch and features. */
typedef struct LlmcGpuImage {
    int32_t vendor;                 /* LLMC_GPU_VENDOR_* */
    int32_t sm;                     /* NVIDIA: compute capability * 10: 80, 86, 89, 90; AMD: 0 */
    int32_t arch_specific;          /* 1: sm_90a-style image, runs only on exactly this sm */
    const char *arch;               /* "sm_90a"; AMD: the gfx name, "gfx1151" (the GPU's must equal it) */
    const unsigned char *data;
    uint64_t size;
    uint32_t features;              /* LLMC_GPU_FEAT_* the image's kernels may use */
    uint8_t digest[16];             /* content digest of data (abi/digest.h), checked at start */
} LlmcGpuImage;
/* forward() launches the warpgroup-MMA (wgmma) variants only from an image that has this. */
#define LLMC_GPU_FEAT_WGMMA 1u
/* The image's kernels take the AMD path (every AMD image; the NVIDIA check target's): forward()
 * launches that path's variants, the runtime never uses programmatic dependent launch with it. */
#define LLMC_GPU_FEAT_AMD_PATH 2u
/* A kernel that waits (griddepcontrol.wait) before it touches anything the kernel before it
 * writes or reads: on sm_90+ the runtime launches it with programmatic dependent launch, so it
 * starts while its predecessor drains and streams its weights early. */
#define LLMC_GPU_KERNEL_PDL 1u
/* A kernel of the NVIDIA path alone in a build whose images take both paths (a trap in the AMD
 * path's images, never launched there): its shared memory is asked for, and checked against the
 * GPU's limit, only where an image takes the NVIDIA path. */
#define LLMC_GPU_KERNEL_NV_ONLY 2u
/* A kernel launched only from images with LLMC_GPU_FEAT_WGMMA (gemm_wt: a trap elsewhere): its
 * shared memory (more than older GPUs have) is asked for, and checked, only from those images. */
#define LLMC_GPU_KERNEL_WGMMA_ONLY 4u

/* A TMA tensor map (sm_90a's gemm_wt, llmc compile --wgmma auto or tma) of a row-major 2-D bf16/f16 matrix,
 * which the runtime encodes at load with the driver's cuTensorMapEncodeTiled (128-byte swizzle,
 * zeros out of bounds, 256-byte L2 promotion, element strides 1) and writes into its device copy of
 * the constant tables at `at`, before any launch; kernels read it there (a.consts + at). The map of
 * a weight addresses the rank's weights, that of an activation the arena (its scratch), each at
 * `offset` bytes from the base. Encoded only where the loaded image has LLMC_GPU_FEAT_WGMMA. */
enum { LLMC_TMAP_WEIGHTS = 0, LLMC_TMAP_ARENA = 1 };
enum { LLMC_TMAP_BF16 = 0, LLMC_TMAP_F16 = 1 };
typedef struct LlmcGpuTmap {
    const char *name;               /* the matrix, for messages ("layers.0.wq+layers.0.wk+..."; "scratch A") */
    int32_t space;                  /* LLMC_TMAP_WEIGHTS or LLMC_TMAP_ARENA */
    int32_t dtype;                  /* LLMC_TMAP_BF16 or LLMC_TMAP_F16 */
    int64_t offset;                 /* bytes from the space's base (16-byte aligned) */
    int64_t rows, cols;             /* the matrix: rows of cols elements (cols: the inner dimension) */
    int64_t row_bytes;              /* bytes from one row to the next (a multiple of 16) */
    int32_t box_rows, box_cols;     /* the box one copy brings: box_rows rows of box_cols elements */
    int64_t at;                     /* byte offset in consts (128-byte aligned, 128 bytes) */
} LlmcGpuTmap;

/* Everything a forward step reads or writes besides the step itself. */
typedef struct LlmcExec {
    const uint8_t *weights;         /* packed weights, 64-byte aligned (weights_bytes) */
    uint8_t *consts;                /* tables filled by init(), 64-byte aligned (const_bytes) */
    uint8_t *arena;                 /* activations, 64-byte aligned (arena_bytes) */
    uint8_t *kv;                    /* paged KV pool: kv_blocks * kv_block_bytes */
    int64_t kv_blocks;
    LlmcPool *pool;
    LlmcGpu *gpu;                   /* GPU targets: the device, module and step buffers */
    int32_t rank;                   /* a sharded model (desc->n_ranks > 1): this instance's rank */
    LlmcRanks *ranks;               /* a sharded model: the ranks' meeting place; NULL: one rank */
} LlmcExec;

/* Tokenizer formats carried in the payload. */
enum { LLMC_TOK_NONE = 0, LLMC_TOK_LLAMA2C = 1, LLMC_TOK_SENTENCEPIECE = 2, LLMC_TOK_HF = 3 /* abi/hftok.h */ };

typedef struct LlmcModelDesc {
    uint32_t abi_version;           /* LLMC_ABI_VERSION */
    const char *name;               /* model name from model.json */
    const char *target;             /* "cpu", "sm_90a", ... */
    const char *llmc_version;
    const char *build_info;         /* one line: weight format, KV format, block size, max tokens */
    uint64_t model_hash;            /* must equal the payload header's model_hash */
    int32_t vocab_size;
    int32_t max_seq_len;            /* positions 0..max_seq_len-1 */
    int32_t max_tokens;             /* tokens per step */
    int32_t max_outputs;            /* logit rows per step */
    int32_t bos_id, eos_id;
    const int32_t *eos_more;        /* [n_eos_more] more ids that end a sequence, besides eos_id
                                       (config.json / generation_config.json lists); NULL: none */
    int32_t n_eos_more;
    /* The model's own sampling defaults (generation_config.json), used unless the command line
     * says otherwise; sampling_set 0: none (greedy). */
    int32_t sampling_set;
    float temperature;              /* 0: greedy */
    int32_t top_k;                  /* 0: off */
    float top_p;                    /* 1: off */
    int32_t kv_block_size;          /* positions per KV block */
    int64_t kv_block_bytes;         /* one block across all layers, K and V */
    int64_t weights_bytes;          /* the payload's weights: every rank's part */
    int32_t n_ranks;                /* 0 or 1: not sharded; N > 1: compiled with --tp N (cpu target:
                                       ranks as threads) */
    int64_t rank_weights_stride;    /* n_ranks > 1: rank r's weights start at r * this (4096-aligned)
                                       in the payload; offsets in forward() are a rank's, and so are
                                       the sizes below (arena, KV block, bytes a token) */
    int64_t const_bytes;
    int64_t arena_bytes;
    int64_t weight_bytes_per_token; /* bytes one decode token must read (all weights once, but the
                                       experts of moe blocks: expert_bytes) */
    int64_t kv_bytes_per_position;  /* bytes of KV one position adds across all layers */
    /* A KV cache with KIVI formats (ir/kv_layout.h): each running sequence also holds kv_ring_blocks
     * blocks of the pool (the last entries of its block table row: max_blocks_per_seq counts them)
     * for its newest positions in f16, kv_ring_bytes_per_position each (all layers, K and V): a
     * query that sees n positions reads the first G floor((n - R + G) / G) quantized (kv_group G,
     * kv_resid R), the others from the ring; a step feeds at most kv_seq_step tokens of one
     * sequence. All 0 for every other cache. */
    int32_t kv_ring_blocks;
    int32_t kv_seq_step;
    int64_t kv_ring_bytes_per_position;
    int32_t kv_group, kv_resid;
    /* Mixture-of-experts blocks (all with n_experts experts, experts_per_token chosen a token): the
     * expert matrices' bytes over all experts, all layers. A step of B tokens reads about
     * expert_bytes * (1 - (1 - k/E)^B) of them (B = 1: k/E; routing taken as uniform). 0: none. */
    int64_t expert_bytes;
    int32_t n_experts, experts_per_token;
    int32_t max_threads;            /* 0: use every thread offered; else at most this many (a tiny
                                       model loses more to barriers than threads give back) */
    int32_t backend;                /* LLMC_BACKEND_CPU or LLMC_BACKEND_CUDA */
    /* GPU targets. In LlmcExec, weights (the mapped payload) and consts (filled by init()) are the
     * host copies the runtime uploads; arena and kv are NULL: the device buffers reach the kernels
     * through LlmcDevArgs. forward() must choose its launches from st->n_tokens, st->n_out and
     * st->n_seqs only: a captured CUDA graph replays them for every step of the same (padded) size. */
    const LlmcGpuImage *gpu_images; /* one per architecture built */
    int32_t n_gpu_images;
    const char *const *gpu_kernels; /* kernel names, the same in every image; launch index = position */
    const uint32_t *gpu_kernel_smem; /* dynamic shared memory each kernel may ask for (bytes) */
    const uint8_t *gpu_kernel_flags; /* LLMC_GPU_KERNEL_* of each kernel (NULL: none) */
    int32_t n_gpu_kernels;
    const LlmcGpuTmap *gpu_tmaps;   /* the TMA tensor maps forward()'s kernels read (NULL/0: none) */
    int32_t n_gpu_tmaps;
    /* Probes and the CPU twin (GPU builds): the same graph compiled by the C backend, reading the
     * same packed weights, for --compare-cpu. NULL/0 on the cpu target. */
    const LlmcProbe *probes;
    int32_t n_probes;
    const struct LlmcModelDesc *cpu_twin;
    void (*init)(const LlmcExec *ex);   /* fills consts; called once, single-threaded */
    void (*forward)(const LlmcExec *ex, const LlmcStep *step, int tid, int nth);
} LlmcModelDesc;

/* Provided by the runtime, called by generated code. */
void llmc_barrier(LlmcPool *pool);
/* Sharded models: the collectives, called by every thread (tid of nth) of every rank between two
 * barriers, on [rows, cols] f32 values with row strides sx, sy (elements). all_reduce: y = the sum
 * of the ranks' x, in rank order 0..N-1 in double, rounded once (y may be x); all_gather: y is
 * [rows, cols N], rank r's x at columns [r cols, (r+1) cols). Every rank gets the same result.
 * With ex->ranks NULL (one rank) they copy x to y. */
void llmc_all_reduce(const LlmcExec *ex, int64_t rows, int64_t cols, const float *x, int64_t sx, float *y,
                     int64_t sy, int tid, int nth);
void llmc_all_gather(const LlmcExec *ex, int64_t rows, int64_t cols, const float *x, int64_t sx, float *y,
                     int64_t sy, int tid, int nth);
/* GPU targets, a sharded model: the collectives, enqueued on the rank's stream (NCCL; captured into
 * the step's CUDA graph with the launches); forward() combines what they bring with kernels of its
 * own (docs/tp.md: the all_gather's placing, the all_reduce's sum in rank order). x, y: byte
 * offsets of f32 values in the rank's activation arena.
 * all_gather: y receives [N][part], part = (rows - 1) sx + cols floats: rank r's rows [rows, cols]
 * at row stride sx, as they lie in its arena, at block r (ncclAllGather).
 * all_to_all: rank r sends floats [q count, (q+1) count) of x to rank q and receives rank q's
 * [r count, (r+1) count) at y + q count floats: y holds [N][count] (ncclSend / ncclRecv). */
void llmc_gpu_all_gather(LlmcGpu *gpu, uint32_t rows, int64_t cols, int64_t x, int64_t sx, int64_t y);
void llmc_gpu_all_to_all(LlmcGpu *gpu, int64_t count, int64_t x, int64_t y);
/* GPU targets: enqueues kernel `kernel` on the step's stream with the step's LlmcDevArgs and the
 * launch's offsets (copied at the call). grid = (gx, gy, gz), block = threads (1-D), smem = dynamic
 * shared memory bytes. */
void llmc_gpu_launch(LlmcGpu *gpu, int32_t kernel, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t threads,
                     uint32_t smem, const LlmcKernelOffsets *offsets);
/* GPU targets: the loaded image's LLMC_GPU_FEAT_* (forward() picks the wgmma and AMD paths by it). */
uint32_t llmc_gpu_features(const LlmcGpu *g);

#endif
