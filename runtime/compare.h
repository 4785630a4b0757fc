/* compare.h — `--compare-cpu`: a GPU build checked against its CPU twin, value by value.
 *
 * A GPU build carries desc->cpu_twin: the same graph compiled for the cpu target, reading the same
 * packed weights. Both run the same prompt as one sequence (prefill in chunks of max_tokens; the
 * last chunk asks for the logits of its last rows). Then, for every probe (an IR value: its arena
 * offset, rows and columns; the twin's probes have the same names and nodes), the last chunk is
 * run again on both with n_nodes = probe.node + 1 (re-running a step rewrites the same KV slots
 * with the same values) and the probe's rows are compared: the max absolute error and the relative
 * error max|gpu - cpu| / max|cpu|. Then the worst relative error of each layer, and the full
 * step's logits (with argmax agreement per row).
 *
 * The report is a table on `out`. It is a diagnostic: how large an error is acceptable depends on
 * the formats (a bf16 model differs from float32 more than an f32 one), so nothing here fails on a
 * large error; only a step that cannot run is an error.
 */
#ifndef LLMC_COMPARE_H
#define LLMC_COMPARE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

/* gpu: an engine of a CUDA desc; cpu: an engine of its desc->cpu_twin over the same weights, each
 * with KV blocks for n_ids positions free. ids: the prompt (1..max_seq_len tokens).
 * Returns 0, or -1 with a message in err. */
int llmc_compare_cpu(LlmcEngine *gpu, LlmcEngine *cpu, const int32_t *ids, int32_t n_ids,
                     FILE *out, char *err, size_t errlen);

#endif
