/* bench.h — `--bench`: prefill and decode throughput and the effective memory bandwidth.
 *
 * B sequences of P synthetic prompt tokens are prefilled (packed into steps of max_tokens), then
 * decoded together for N steps of B tokens, each step's tokens chosen greedily from the previous
 * step's logits (the greedy choice is part of the measurement, made where real use makes it: on
 * the GPU by the argmax kernel, on the cpu target by llmc_argmax after the step). One untimed
 * warm-up step runs first. Steps are built here directly rather than through the scheduler so
 * that prefill and decode never share a step.
 */
#ifndef LLMC_BENCH_H
#define LLMC_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

typedef struct LlmcBenchCfg {
    int32_t n_prompt;           /* P >= 1 */
    int32_t n_gen;              /* N >= 0; P + N <= max_seq_len */
    int32_t batch;              /* B: 1..min(max_tokens, max_outputs) */
    int32_t launch_reps;        /* --bench-launches: > 0, one more decode step after the timed ones,
                                   its launches timed in its CUDA graph over this many replays
                                   (the device's arm_launch_costs; GPU builds only) */
} LlmcBenchCfg;

typedef struct LlmcBenchResult {
    int64_t prefill_tokens;     /* B * P */
    double prefill_seconds;
    int64_t decode_tokens;      /* B * N */
    int32_t decode_steps;       /* N */
    double decode_seconds;
    double decode_busy_seconds; /* GPU builds: device time of the decode steps (0 on the cpu) */
    double decode_bytes;        /* weight_bytes_per_token per step + KV read by the decode steps */
} LlmcBenchResult;

/* The i-th synthetic prompt token: spread over the vocabulary, never bos_id or eos_id. */
int32_t llmc_bench_token(const LlmcModelDesc *desc, int64_t i);

/* Needs B * ceil((P + N) / kv_block_size) free KV blocks. Returns 0, or -1 with a message. */
int llmc_bench_run(LlmcEngine *e, const LlmcBenchCfg *cfg, LlmcBenchResult *res, char *err,
                   size_t errlen);

/* Prints res to out: the model and its device (the device's bench_header), prefill and decode
 * speed; where the device has a clock, its time of a decode step; where it has a copy bandwidth
 * test, the bandwidth (measured now) and the fraction of it a decode step reached; with
 * launch_reps, each launch's cost and the sum per kernel. Returns 0, or -1 with a message (a
 * failed bandwidth test). */
int llmc_bench_report(LlmcEngine *e, const LlmcBenchCfg *cfg, const LlmcBenchResult *res,
                      FILE *out, char *err, size_t errlen);

#endif
