/* c_common.h — shared pieces of the C backend's emitters. */
#ifndef LLMC_C_COMMON_H
#define LLMC_C_COMMON_H

#include "emit.h"

/* Writes the call of `kernel` for node `node` (with its comment and the barrier after it).
 * rows_of >= 0: the kernel takes the run-time rows of that activation (st->n_tokens or st->n_out)
 * as its argument `int nrows` after nth, so that nodes of the same shapes over T rows and over O
 * rows (a model's last layer after select_rows) share one kernel. The varargs are nargs operand
 * expressions (const char *). */
void llmc_c_call(LlmcEmit *e, int node, const char *kernel, int rows_of, int nargs, ...);
/* "mm_q_fused" or "mm_q_rows": the prelude's path for a quantized matmul over weight w (c_mmq.h). */
const char *llmc_c_mmq_path(const LlmcTensor *w);
/* "f32", "bf16", "f16": the prelude's suffix for a weight storage format (the format's name). */
const char *llmc_c_wsuffix(LlmcDType dt);

#define PTR(t, ty) llmc_emit_ptr(e, (t), (ty))

#endif
