/* cuda_common.h — shared pieces of the CUDA backend's emitters. */
#ifndef LLMC_CUDA_COMMON_H
#define LLMC_CUDA_COMMON_H

#include "emit.h"
#include "nvrtc.h"

/* Decode steps of up to this many tokens split a query's positions into parts (flash-decoding);
 * the partials and counters in scratch (cuda_backend.c plan_scratch) have rows for this many
 * tokens, and longer steps' decode kernels run one part a token (cuda_attention.c). */
#define LLMC_ATTN_SPLIT_ROWS 64
/* The most parts a decode query's positions split into: 16, or llmc compile --attn-parts. */
int llmc_cuda_attention_parts(const LlmcEmit *e);

/* Operands of a node: kernels are shared by every node of the same shapes, so the node's own
 * values (byte offsets in the weights or the arena, a layer index) are launch arguments o.v[i].
 * llmc_cuda_node_begin starts a node's list; each call below adds a slot; every kernel the node
 * launches gets the list. */
void llmc_cuda_node_begin(LlmcEmit *e);
/* Device expression for tensor t inside a kernel (`a`: LlmcDevArgs, `o`: the offsets), cast to `ctype *`. */
const char *llmc_cuda_ptr(LlmcEmit *e, int t, const char *ctype);
/* "o.v[i]" holding the first row of this rank's part of a table sharded by rows of `rows` rows a
 * part, rank r reading part r / rep: (ex->rank / rep) * rows, computed by forward() at the launch. */
const char *llmc_cuda_rank_first(LlmcEmit *e, int64_t rows, int rep);
/* Scratch bytes (region A) of all_gather node `node`: the ranks' blocks NCCL gathers (cuda_collective.c). */
int64_t llmc_cuda_gather_scratch(const LlmcGraph *g, int node);
/* "(int)o.v[i]" holding v. */
const char *llmc_cuda_int(LlmcEmit *e, int64_t v);
/* "(int)o.v[i]": the rows of activation t inside a kernel, slot i holding T or O (forward() passes
 * it at the launch): the kernel of a node over T rows and of the same node over the O selected
 * rows (the last layer after select_rows) is one. */
const char *llmc_cuda_rows(LlmcEmit *e, int t);
/* Host side: "T" or "O". */
const char *llmc_cuda_host_rows(const LlmcGraph *g, int t);
/* Registers a kernel (deduplicated) and returns its name; smem: dynamic shared memory it needs. */
const char *llmc_cuda_kernel(LlmcEmit *e, const char *prefix, const char *text, uint32_t smem);
/* llmc_cuda_kernel for a kernel of the NVIDIA path only (mma.sync, wgmma, cp.async): in a build that
 * also has AMD-path images its body becomes a trap where there is no PTX (forward() never launches it
 * there). */
const char *llmc_cuda_kernel_nv(LlmcEmit *e, const char *prefix, const char *text, uint32_t smem);
/* cond (a C condition on T/O, or NULL: always) for a launch of one path only (amd: the AMD path, else
 * NVIDIA's), with "amd" or "!amd" added when the build has both. */
const char *llmc_cuda_path_cond(LlmcEmit *e, const char *cond, int amd);
/* Labels kernel `name` with the arithmetic it does a row, `math` (printf-style): two kernels of one
 * label give a row the same bits (gemv_b1 and gemv of one matrix); ";" between the works of a kernel
 * that does several (gemv_b1 with the RoPE epilogue: the matmul's and rope_kv_write's). What
 * llmc_cuda_row_path compares; a kernel without a label is its own. */
void llmc_cuda_kernel_math(LlmcEmit *e, const char *name, const char *math, ...) __attribute__((format(printf, 3, 4)));
/* The label (llmc_cuda_kernel_math) of RoPE and the KV write of a token: HQ query and HKV KV heads
 * of hd, the cos/sin table at consts + table; rope_kv_write's and gemv_b1's RoPE epilogue's. */
const char *llmc_cuda_rope_math(LlmcEmit *e, int inter, int64_t HQ, int64_t HKV, int64_t hd, int64_t table);
/* Marks kernel `name` (from llmc_cuda_kernel) as waiting with pdl_wait before it touches what the
 * kernel before it writes: the runtime may launch it with programmatic dependent launch. */
void llmc_cuda_kernel_pdl(LlmcEmit *e, const char *name);
/* Writes the launch of `kernel` for node `node` into the forward function (with a comment naming the
 * node; node < 0: a launch of no graph node, without it). cond: a C condition on T/O for this
 * variant, or NULL. */
void llmc_cuda_launch(LlmcEmit *e, int node, const char *cond, const char *kernel, const char *gx,
                      const char *gy, const char *gz, int threads, uint32_t smem);
/* Closes a node's launches (the n_nodes early return). */
void llmc_cuda_node_end(LlmcEmit *e, int node);
/* K-splits of a tensor-core matmul for skinny steps (9..64 rows): enough blocks to fill about four
 * waves of the target's multiprocessors, K / 32 divisible by it. */
int llmc_cuda_split_k(const LlmcTarget *tg, int64_t N, int64_t K);
/* The tile of the half-activation tensor-core matmul (gemm_h) for steps of up to `rows` rows
 * (prefill, and batched steps the split-K kernel does not take): BM x BN, a K split when the tiles
 * alone leave multiprocessors idle, the cp.async stages and the shared memory that makes. */
typedef struct {
    int bm, bn, split, stages;
    uint32_t smem; /* dynamic shared memory of the kernel, bytes */
} LlmcWideTile;
LlmcWideTile llmc_cuda_wide_tile(const LlmcTarget *tg, int64_t N, int64_t K, int64_t rows);
/* The same for the wgmma variant (gemm_wg, sm_90a; K % 64 == 0). */
LlmcWideTile llmc_cuda_wg_tile(const LlmcTarget *tg, int64_t N, int64_t K, int64_t rows);
/* The same for the TMA-fed, warp-specialized wgmma matmul (gemm_wt, cuda_wgmma_tma.cuh, sm_90a;
 * K % 64 == 0; emitted with llmc compile --wgmma tma): bm 128, bn 128 or 256 (a gated matrix's tile: bn/2 outputs), its K
 * split, stages and shared memory; one block of 384 threads an SM, at most as many blocks as SMs. */
LlmcWideTile llmc_cuda_wt_tile(const LlmcTarget *tg, int64_t N, int64_t K, int64_t rows);
/* gemm_wt's two TMA maps of a launch for weight w (bf16/f16, N x K, read in place): the weights'
 * [N][K] with boxes of 64 x box_w rows, then the activations' (scratch A: rows_max rows of K halves,
 * as rows_to_half writes them) with boxes of 64 x 128, side by side in consts (the runtime encodes
 * them at load: abi/llmc_model.h LlmcGpuTmap). Returns the first one's consts offset (the second
 * is 128 bytes on). */
int64_t llmc_cuda_wt_maps(LlmcEmit *e, const LlmcTensor *w, int bf, int64_t rows_max, int box_w, int box_x);
/* gemm_ws (cuda_wgmma_tma.cuh, sm_90a; llmc compile --decode-wgmma on): the batched-decode matmul of a
 * bf16/f16 weight w (N x K read in place, K % 64 == 0) for the row variant v (0, 1, 2: up to 16, 32,
 * 64 rows, the token tile nt), its stages (as many as a block's shared memory holds, at most 8),
 * tiles (128 weight rows, or of a gated matrix 64 outputs), units (a tile's 64 of K: 16 KB of
 * weights, gemm_q's bf16 unit's bytes), blocks (stream-K: one of 160 threads an SM, as many as SMs
 * but at least min_units units a block, llmc compile --qmma-units; 0: 1), shared memory, and the
 * partials' floats a block (two tiles' NT x 128 sums). ok = 0 where it does not take the matrix (or
 * the target has no wgmma). */
typedef struct {
    int ok, nt, st, blocks;
    int64_t tiles, units, part_floats;
    uint32_t smem;
} LlmcWsPlan;
enum { LLMC_WS_VARIANTS = 3 };
LlmcWsPlan llmc_cuda_ws_plan(const LlmcTarget *tg, const LlmcTensor *w, int swiglu, int v, int min_units);
/* gemm_q (cuda_qmma.cuh), the batched-decode matmul that decodes the weights in registers, for an
 * N x K weight w (its format: llmc_kernel_wformat) in groups of G, MI m16 tiles a block: warps, n8 tiles a
 * warp, activation stages, the chunk of K, the weight rows a block (tpb), the blocks (stream-K over
 * N / tpb x K / kc units), the activations' order, bf16 or f16 operands, minimum blocks an SM (its
 * __launch_bounds__), the shared memory and the partial sums' floats a block. ok = 0 where the
 * kernel does not take the matrix (f32, grouped fp8, rows not in lane8 order, shapes). min_units:
 * the fewest units a block (llmc compile --qmma-units; 0: the rule, 4 for 4-bit formats, 8 others). */
typedef struct {
    int ok, mi, nj, w, st, kc, tpb, blocks, aord, bf, per_sm;
    uint32_t smem;
    int64_t part_floats;
} LlmcQmmaPlan;
LlmcQmmaPlan llmc_cuda_qmma_plan(const LlmcTarget *tg, const LlmcTensor *w, int swiglu, int mi, int min_units);
/* gemm_wq's plan (cuda_wgmma_q.cuh, --qmma wg, sm_90a): for an N x K quantized weight w (u4, u4
 * with zero points, nvfp4, fp8 with a scale a row; lane8; K whole chunks, N a multiple of 64) and
 * the row variant v (0..4: up to 16, 32, 64, 128 rows, and more: token tiles nt of 16, 32, 64, 128,
 * 128), the activation stages, the chunks of weights in flight (pd), the K split (raw partials in scratch B for gemm_reduce: enough blocks
 * for per_sm an SM at the variant's first row tile; none above 128 rows), the minimum blocks an SM
 * (its __launch_bounds__), the activations' order (rows_to_half's ORD) and the shared memory. ok = 0
 * where it does not take the matrix (or the target has no wgmma). */
typedef struct {
    int ok, nt, st, split, per_sm, word, lo, hi; /* rows lo < T <= hi (hi 0: no bound) */
    int pd;                                      /* chunks of weights in flight a lane */
    uint32_t smem;
} LlmcWqPlan;
LlmcWqPlan llmc_cuda_wq_plan(const LlmcTarget *tg, const LlmcTensor *w, int v);
enum { LLMC_WQ_VARIANTS = 5 };
/* The rows above which gemm_wq takes matrix w in the build's sm_90a images: 8 with --qmma wg; by
 * default (--qmma auto) 32 for the 4-bit formats (u4, nvfp4), 0 (never) for the others and for
 * --qmma plain / ring and batch-invariant builds. Whether its plan takes the matrix is apart
 * (llmc_cuda_wq_plan). */
int llmc_cuda_wq_rows(const LlmcEmit *e, const LlmcTensor *w);
/* Scratch bytes (region A) of moe node `node` (cuda_moe.c). */
int64_t llmc_cuda_moe_scratch(const LlmcGraph *g, int node);
/* The embedded kernel headers (cuda_headers.c), in include order. */
LlmcNvrtcHeaders llmc_cuda_header_table(void);
/* "bf16", "f16" or "f32" */
const char *llmc_cuda_wname(LlmcDType dt);
/* The elements of a 16-byte load of format dt. (A weight's format as the kernels name it, WFmt<WK>
 * in cuda_formats.cuh: llmc_kernel_wformat, emit.h.) */
int llmc_cuda_ve(LlmcDType dt);
/* The format the tensor cores read weight w in (bf16, f16; a quantized weight dequantized to f16
 * for them), -1 when they cannot (f32). */
int llmc_cuda_mma_format(const LlmcTensor *w);
/* The WQ argument (its side tensors: scales, zeros) of quantized weight w whose pointer expression
 * is wsrc: the side tensors follow the weight (plan_memory), so they are literal offsets from it,
 * the same for every layer of the same shapes; "WQ{}" for the other formats. */
const char *llmc_cuda_wq(LlmcEmit *e, const LlmcTensor *w, const char *wsrc);
/* The KV cache's formats as the kernels' KF, VF arguments ("FMT_INT8, FMT_F16"), and their kvs
 * argument: C(offset) of the table of scales per layer and KV head (fp8), else a null pointer
 * (cuda_attention.c). */
const char *llmc_cuda_kv_formats(LlmcEmit *e);
const char *llmc_cuda_kv_scales(LlmcEmit *e);

#endif
