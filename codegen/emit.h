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
void llmc_buf_free(LlmcBuf *b);

typedef struct LlmcKernelDef {
    char *text;                   /* the definition with "@NAME@" where its name goes */
    char *name;
} LlmcKernelDef;

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
    char ptr_ring[16][128];       /* llmc_emit_ptr's results, reused round-robin */
    int ptr_next;
} LlmcEmit;

/* A kernel definition: `text` uses "@NAME@" for its function name. Identical texts share one
 * function; returns the name to call. */
const char *llmc_emit_kernel(LlmcEmit *e, const char *prefix, const char *text);

/* The C expression for tensor t's base pointer, cast to `ctype *` (e.g. "float", "const float").
 * Values: arena + offset; weights: weights + offset; step inputs and the output: the step's arrays.
 * The string lives in e until 16 more calls have been made. */
const char *llmc_emit_ptr(LlmcEmit *e, int t, const char *ctype);
/* A C float literal for v ("1e-05f", "10000.0f"); same lifetime as llmc_emit_ptr's strings. */
const char *llmc_c_float(LlmcEmit *e, double v);
/* Row stride in elements of an activation (its source's columns for a view). */
int64_t llmc_row_stride(const LlmcGraph *g, int t);
/* "T" or "O": the run-time row count of an activation. */
const char *llmc_rows_expr(const LlmcGraph *g, int t);
/* C element type of a weight's storage dtype ("float" or "uint16_t"). */
const char *llmc_c_wtype(LlmcDType dt);

typedef LlmcStatus (*LlmcEmitFn)(LlmcEmit *e, int node, LlmcDiag *d);

/* C backend emitters (one per op family). */
LlmcStatus llmc_c_emit_embedding(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_norm(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_matmul(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_elementwise(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_rope(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_attention(LlmcEmit *e, int node, LlmcDiag *d);
LlmcStatus llmc_c_emit_rows(LlmcEmit *e, int node, LlmcDiag *d);

#endif
