/* emit.h — what the code emitters share: a growable text buffer, the emission context, and the
 * uniform emitter signature. One file per op family per backend (codegen/c_*.c for the C backend),
 * dispatched through a table indexed by op (c_backend.c). */
#ifndef LLMC_EMIT_H
#define LLMC_EMIT_H

#include <stdarg.h>

#include "../ir/ir.h"
#include "../ir/target.h"

typedef struct LlmcBuf {
    char *s;
    size_t n, cap;
} LlmcBuf;

void llmc_buf_printf(LlmcBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the n characters at s (no formatting: the walk of llmc_cuda_row_path, called a few
 * hundred thousand times by test_cuda). */
void llmc_buf_add(LlmcBuf *b, const char *s, size_t n);
void llmc_buf_free(LlmcBuf *b);
/* Text from the input (model name, source path, tensor names) reaches generated code only
 * through these two. A string literal: quotes, backslashes, '?' (no trigraph can form) and every
 * byte outside printable ASCII escaped (octal, three digits), so any bytes give the same string. */
void llmc_buf_cstr(LlmcBuf *b, const char *s);
/* Inside a comment: only [A-Za-z0-9_.+/-] pass, every other byte becomes '_' (so the text can end
 * no comment, splice no line, form no trigraph), at most LLMC_COMMENT_MAX bytes, then "...". The
 * emitters never put '*' right before it. */
#define LLMC_COMMENT_MAX 160
void llmc_buf_comment(LlmcBuf *b, const char *s);

typedef struct LlmcKernelDef {
    char *text;                   /* the definition with "@NAME@" where its name goes, after a comment of what
                                     it does (the first node's: llmc_emit_kernel) */
    char *name;
    uint32_t smem;                /* GPU kernels: dynamic shared memory it may ask for */
    uint32_t flags;               /* GPU kernels: LLMC_GPU_KERNEL_* (abi/llmc_model.h) */
    int nv_only;                  /* GPU kernels: a trap in AMD images (llmc_cuda_kernel_nv), never launched there */
    char *row_math;               /* GPU kernels: what a row's arithmetic is, where another kernel does the same
                                     ("gemv ..."; ";"-separated when it does the work of several:
                                     llmc_cuda_kernel_math); NULL: the kernel's own name */
} LlmcKernelDef;

/* GPU: one launch of forward() as data (the batch-invariance checks walk them: llmc_cuda_row_path). */
typedef struct LlmcLaunchRec {
    int node;                     /* the IR node, or -1 (the sampler, a collective's second kernel) */
    char *cond;                   /* its condition on T, O, wg, amd (NULL: always) */
    int kernel;
} LlmcLaunchRec;

/* GPU: a TMA tensor map forward()'s kernels read, as the host table describes it (abi/llmc_model.h
 * LlmcGpuTmap): a bf16/f16 matrix of the weights or the arena, encoded by the runtime at load into
 * the constant tables at `at`. */
typedef struct LlmcTmapRec {
    char *name;                   /* the matrix (owned) */
    int arena;                    /* 1: in the arena (scratch), 0: in the weights */
    int bf;                       /* 1: bf16, 0: f16 */
    int64_t offset, rows, cols, row_bytes;
    int box_rows, box_cols;
    int64_t at;                   /* its 128 bytes in consts */
} LlmcTmapRec;

typedef struct LlmcEmit {
    const LlmcGraph *g;
    const LlmcTarget *target;
    LlmcBuf defs;                 /* kernel definitions, deduplicated */
    LlmcBuf body;                 /* the forward function's statements */
    LlmcBuf init;                 /* the init function's statements (constant tables) */
    LlmcKernelDef *kernels;
    int n_kernels, cap_kernels;
    int64_t const_bytes;          /* constant tables reserved so far */
    int64_t *rope_tables;         /* per distinct rope config: offset into consts */
    char **rope_keys;
    int n_rope;
    char ptr_ring[16][256];       /* llmc_emit_ptr's results, reused round-robin */
    int ptr_next;
    int64_t arena_extra;          /* scratch bytes kernels need beyond the planned arena */
    int64_t scratch_a, scratch_b; /* GPU: two scratch regions past the arena (set before emission) */
    int64_t scratch_c;            /* GPU: decode attention's split counters (zero between kernels) */
    int64_t scratch_qc;           /* GPU: gemm_q's split counters, after them (zero between kernels) */
    int64_t scratch_d;            /* GPU: a quantized weight dequantized to f16 for wide steps */
    int64_t scratch_s;            /* GPU: the sampler's split, (value, id) pairs and a counter a row
                                     (zero between kernels; cuda_backend.c) */
    int64_t offs[8];              /* GPU: the current node's launch offsets (kernel argument o.v[]) */
    int64_t offs_rank[8];         /* GPU: > 0: slot i is (ex->rank / offs_rep[i]) * offs_rank[i], computed by
                                     forward() (a sharded table's first row), not the literal offs[i] */
    int offs_rep[8];
    char offs_rows[8];            /* GPU: 'T' or 'O': slot i is that row count of the step (llmc_cuda_rows), 0: not */
    int n_offs;
    LlmcDType kv[2];              /* the KV cache's storage formats in this emission (formats.def): keys, values */
    int64_t kv_scales_at;         /* consts offset of the KV cache's LAYER_HEAD scales (fp8), -1 until
                                     llmc_emit_kv_scales places them */
    int wgmma;                    /* GPU: emit the wgmma variants (a target of the build has wgmma) */
    int nv_path, amd_path;        /* GPU: the kernel paths the build's images take (gpu_port.cuh
                                     LLMC_AMD_PATH): NVIDIA's tensor-core kernels, the AMD path's
                                     (gemm_mx; per-token attention for long steps); with both, forward()
                                     picks by the loaded image (`amd`) */
    int qmma_wg;                  /* GPU: quantized matrices above 8 rows by gemm_wq in sm_90a images (--qmma wg) */
    int qmma_auto;                /* GPU: 4-bit matrices above 32 rows by gemm_wq in sm_90a images (the
                                     default, --qmma auto; llmc_cuda_wq_rows) */
    int qmma_units;               /* GPU: gemm_q's fewest units of work a block (--qmma-units; 0: the rule,
                                     llmc_cuda_qmma_plan) */
    int attn_parts;               /* GPU: decode attention's parts (--attn-parts; 0: 16,
                                     llmc_cuda_attention_parts) */
    int binv;                     /* GPU: batch-invariant (--batch-invariant): every row count takes the
                                     kernels of the same per-row arithmetic (docs/cuda.md) */
    int wgmma_tma;                /* GPU: gemm_wt instead of gemm_wg where it takes the matrix (--wgmma tma) */
    int decode_wgmma;             /* GPU: gemm_ws instead of gemm_q for bf16/f16 matrices at 9..64 rows in
                                     sm_90a images where it takes them (--decode-wgmma on) */
    LlmcTmapRec *tmaps;           /* GPU: the TMA maps gemm_wt's launches read (llmc_cuda_wt_maps) */
    int n_tmaps, cap_tmaps;
    LlmcLaunchRec *launches;      /* GPU: forward()'s launches in order */
    int n_launches, cap_launches;
} LlmcEmit;

/* A kernel definition's text past its leading comment (what the kernel does, for whom): the
 * definition itself. */
const char *llmc_kernel_code(const char *text);
/* A kernel definition: `text` uses "@NAME@" for its function name. Texts identical past their
 * leading comment (llmc_kernel_code) share one function (the first's comment); returns the name to
 * call. */
const char *llmc_emit_kernel(LlmcEmit *e, const char *prefix, const char *text);
/* Appends a kernel definition `text` with `name` for its "@NAME@", then a newline. */
void llmc_emit_named(LlmcBuf *b, const char *text, const char *name);

/* The cos/sin table of a rope node's frequencies (max_seq_len positions) in the constants area,
 * filled by the host init() (both backends); one per distinct setup. Returns its byte offset. */
int64_t llmc_emit_rope_table(LlmcEmit *e, const LlmcNode *n, int64_t hd);

/* Writes the comment naming node N (outputs = op(inputs) : shape, then suffix) into the forward body. */
void llmc_emit_node_comment(LlmcEmit *e, int node, const char *suffix);

/* Index of kernel `name` in the order of first emission (GPU launch index). */
int llmc_emit_kernel_index(const LlmcEmit *e, const char *name);

/* The C expression for tensor t's base pointer, cast to `ctype *` (e.g. "float", "const float").
 * Values: arena + offset; weights: weights + offset; step inputs and the output: the step's arrays.
 * The string lives in e until 16 more calls have been made. */
const char *llmc_emit_ptr(LlmcEmit *e, int t, const char *ctype);
/* A C float literal for v ("1e-05f", "10000.0f"); same lifetime as llmc_emit_ptr's strings. */
const char *llmc_c_float(LlmcEmit *e, double v);
/* Row stride in elements of an activation (its source's columns for a view). */
int64_t llmc_row_stride(const LlmcGraph *g, int t);
/* C element type of a weight's storage dtype ("float" or "uint16_t"): the format table's ctype. */
const char *llmc_c_wtype(LlmcDType dt);
/* The formats as generated code names them (emit_formats.c; ir/format_ids.h): "FMT_U4" for format
 * t, "ORDER_LANE8" for an element order, and a weight's kernel format: its format with WITH_<role>
 * for each optional side tensor its layout has ("FMT_U4 | WITH_ZERO"; same lifetime as
 * llmc_emit_ptr's strings). */
const char *llmc_kernel_format(LlmcDType t);
const char *llmc_kernel_order(int order);
const char *llmc_kernel_wformat(LlmcEmit *e, const LlmcTensor *w);
/* Appends codegen/c_prelude.h with the headers it includes (c_formats.h; format_ids.h written from
 * the format table) pasted in place: generated C compiles on its own. */
void llmc_emit_c_prelude(LlmcBuf *out);
/* The C backend's KV format of keys (which 0) or values (1) of g emitted for C target tg: the graph's
 * when tg stores it, else (the CPU twin of a GPU build, which keeps a cache of its own) tg's default. */
LlmcDType llmc_c_kv_format(const LlmcGraph *g, const LlmcTarget *tg, int which);
/* The consts offset of the table of the KV cache's LAYER_HEAD scales ([layers][2][kv heads] f32,
 * g->kv_scales, 1 where it has none, filled by init()), placed on the first call. */
int64_t llmc_emit_kv_scales(LlmcEmit *e);

typedef LlmcStatus (*LlmcEmitFn)(LlmcEmit *e, int node, LlmcDiag *d);

/* C backend emitters (one per op family). */
LlmcStatus llmc_c_emit_embedding(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_norm(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_matmul(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_elementwise(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_rope(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_attention(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_rows(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_moe(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_gather_cols(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_collective(LlmcEmit *e, int node, LlmcDiag *d);

/* CUDA backend emitters (one per op family): kernels into e->defs, launches into e->body. */
LlmcStatus llmc_cuda_emit_matmul(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_embedding(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_norm(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_elementwise(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_rope(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_rope_kv(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_attention(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_rows(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_moe(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_gather_cols(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_cuda_emit_collective(LlmcEmit *e, int node, LlmcDiag *d);

#endif
