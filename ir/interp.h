/* interp.h — the plain-C reference: interprets an IR graph at any stage of the pipeline.
 *
 * Every op has a straightforward scalar implementation here (double accumulators for sums), written
 * for clarity, not speed. Tests run a graph through the interpreter before and after a pass (a pass
 * must not change results beyond rounding) and compare generated kernels with it on random inputs,
 * ragged batches and paged caches. Unlowered `attention` keeps its own per-sequence history (keyed by
 * step->seq_of_token); lowered kv_write/paged_attention use the paged pool given to the step.
 *
 * Weights are given as float32 arrays (llmc_interp_set_weight), already rounded through their
 * storage format when the caller wants the reference of a quantized model.
 *
 * A graph sharded over N ranks (g->tp, passes/shard_tp.c) runs as N instances of the one graph, one
 * a rank, each holding its rank's part of the weights (llmc_interp_read_weights) and its own KV
 * pool, stepped in lockstep node by node (llmc_interp_step_ranks): an ordinary node runs on every
 * rank, then the next; a collective (all_reduce, all_gather) takes every rank's input at once and
 * combines them in rank order 0..N-1, so the result does not depend on how ranks are scheduled.
 */
#ifndef LLMC_INTERP_H
#define LLMC_INTERP_H

#include "../abi/llmc_model.h"
#include "ir.h"
#include "weights.h"

typedef struct LlmcInterp LlmcInterp;

/* max_seqs: sequences (block table rows) the unlowered attention history can hold. */
LlmcInterp *llmc_interp_new(const LlmcGraph *g, int max_seqs);
void llmc_interp_free(LlmcInterp *it);
/* Copies the values of weight tensor t (numel floats). Every weight the graph reads must be set. */
void llmc_interp_set_weight(LlmcInterp *it, int t, const float *data);
/* Runs one step: writes step->logits ([n_out][vocab]). kv: the paged pool (ir/kv_layout.h; keys and
 * values in the graph's kv_format[0] and [1], written and read through ir/kv_formats.h) for lowered
 * graphs, NULL otherwise. */
LlmcStatus llmc_interp_step(LlmcInterp *it, const LlmcStep *step, void *kv, LlmcDiag *d);
/* A step of a graph sharded over n ranks: ranks[r] is rank r's instance (of one graph), kv[r] its KV
 * pool (its KV heads only; NULL for unlowered graphs); writes step->logits from rank 0 (after the
 * logits' all_gather every rank holds them alike). n = 1 is llmc_interp_step. */
LlmcStatus llmc_interp_step_ranks(LlmcInterp *const *ranks, int n, const LlmcStep *step, void *const *kv,
                                  LlmcDiag *d);
/* Makes the instance rank `rank` of a sharded graph and sets every weight the graph reads to that
 * rank's part of it (llmc_shard_view; a merged weight: its parts' in turn), read as f32 through ws
 * (not for weights stored quantized by the checkpoint). An embedding whose table is sharded by rows
 * looks up the rank's rows only (zeros for other tokens). */
LlmcStatus llmc_interp_read_weights(LlmcInterp *it, const LlmcWeightSource *ws, int rank, LlmcDiag *d);
/* The float32 values of tensor t after the last step (rows x cols), or NULL. */
const float *llmc_interp_value(const LlmcInterp *it, int t, int64_t *rows, int64_t *cols);

#endif
