/* weights.h — where the later layers read a weight's values: an interface at the level of the IR.
 *
 * A weight tensor of the graph (LlmcTensor, kind LLMC_T_WEIGHT) says where its values live (src: a
 * file, a safetensors name or a byte offset, the file's dtype) but not how to get them: that is the
 * frontend's business (it maps the files, checks them against the shapes). The packer and the model
 * hash (codegen/pack.c), and tests, read through this source instead, so that no layer after the
 * frontend sees the frontend's types. The frontend's implementation is llmc_wf_source()
 * (frontend/frontend.h); a test may provide its own.
 *
 * The functions take a tensor with a binding of its own: a weight, or a part of a merged weight
 * (src.n_parts == 0); the caller walks a merged weight's parts (src.parts). A weight the checkpoint
 * stores quantized (src.pq) has no bytes of its own: it is read through quant_rows (and its
 * members, through raw); an act-order permutation (src.perm_group) through raw and read_f32.
 */
#ifndef LLMC_WEIGHTS_H
#define LLMC_WEIGHTS_H

#include "ir.h"

typedef struct LlmcWeightSource {
    void *ctx;
    /* The bytes of t as its file stores them: numel(t->shape) elements of t->src.file_dtype, valid
     * while the source lives. Errors name t->src.where. */
    LlmcStatus (*raw)(void *ctx, const LlmcTensor *t, const uint8_t **data, LlmcDiag *d);
    /* Elements [first, first + n) of t (row-major) converted to f32, plus t->src.add, into out[n]. */
    LlmcStatus (*read_f32)(void *ctx, const LlmcTensor *t, int64_t first, int64_t n, float *out, LlmcDiag *d);
    /* Rows [r0, r0 + n) of weight t of g, one the checkpoint stores quantized (src.pq, not a merged
     * weight: the caller walks the parts), in llmc's format src.pq.format, exactly as the checkpoint
     * holds them (nothing is requantized): the values into q (n rows of llmc_format_bytes(format, K)
     * bytes, row-major, columns in stored order: an act-order weight's permutation applied), the
     * values of its format's sides into side[i] (formats.def order: u4 its scales and, when
     * src.pq.zeros, its zero points; nvfp4 its block scales and its tensor scale): a GROUP side n
     * rows of ceil(K / group) floats, a TENSOR side one. Errors name the checkpoint's tensor and
     * element. */
    LlmcStatus (*quant_rows)(void *ctx, const LlmcGraph *g, int t, int64_t r0, int64_t n, uint8_t *q,
                             float *const *side, LlmcDiag *d);
} LlmcWeightSource;

#endif
