/* scheduler.h — continuous batching: many sequences share forward steps.
 *
 * Sequences are added (llmc_sched_add) and wait in FCFS order. One is admitted when fewer than
 * max_batch are running and the free KV blocks cover all the positions it can ever write (prompt
 * plus new tokens, less the last sampled token, which is never fed back); it then owns those blocks
 * and a block table row until it finishes. Admission is strictly in order: a sequence that does
 * not fit holds back the ones behind it.
 *
 * Each step (llmc_sched_step) holds, in this order: one decode token for every running sequence
 * past its prompt, then prefill chunks of the running sequences still in their prompt, in
 * admission order, until desc->max_tokens tokens (a prompt longer than what is left is split
 * across steps). A step asks for the logits of the last token of every sequence that samples this
 * step and of the prompt rows a sequence asked to see (logits_from); at most desc->max_outputs of
 * them: a prefill chunk stops before a row that would exceed that and goes on next step.
 *
 * After the step each sampled token goes through the sequence's own sampler RNG (seeded from the
 * scheduler's seed, the same for every sequence: a sequence samples exactly as it would alone).
 * A sequence finishes after max_new tokens, at max_seq_len, or when it samples eos_id or bos_id
 * (that token is not appended; ignore_eos turns this off). Its blocks go back to the pool and the
 * next step admits waiting sequences.
 */
#ifndef LLMC_SCHEDULER_H
#define LLMC_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "sample.h"

typedef enum {
    LLMC_FINISH_LENGTH = 0,     /* produced max_new tokens (or only fed its prompt: max_new 0) */
    LLMC_FINISH_EOS,            /* sampled eos_id or bos_id */
    LLMC_FINISH_CONTEXT,        /* reached max_seq_len before max_new */
} LlmcFinish;

/* Callbacks; any may be NULL. A non-zero return stops llmc_sched_step with an error. They run
 * inside llmc_sched_step and must not call llmc_sched_add. */
typedef struct LlmcSchedHooks {
    void *ctx;
    /* seq sampled token (already appended; stop tokens are not reported). */
    int (*on_token)(void *ctx, int32_t seq, int32_t token);
    /* logits[vocab_size] of prompt position pos (pos >= the sequence's logits_from). */
    int (*on_logits)(void *ctx, int32_t seq, int32_t pos, const float *logits);
    /* seq finished; its tokens stay readable through llmc_sched_tokens. */
    int (*on_done)(void *ctx, int32_t seq, LlmcFinish why);
} LlmcSchedHooks;

typedef struct LlmcSchedConfig {
    int32_t max_batch;          /* running sequences; 1..min(max_tokens, max_outputs) */
    LlmcSamplerCfg sampler;
    uint64_t seed;
} LlmcSchedConfig;

typedef struct LlmcSeqReq {
    const int32_t *prompt;      /* [n_prompt] ids, copied */
    int32_t n_prompt;           /* 1..max_seq_len */
    int32_t max_new;            /* tokens to sample (clamped to max_seq_len - n_prompt) */
    int32_t logits_from;        /* report logits of prompt positions >= this; -1: none */
    int ignore_eos;             /* do not stop at eos_id/bos_id (benchmarks) */
} LlmcSeqReq;

typedef struct LlmcSchedStats {
    int64_t steps;
    int64_t prefill_tokens;     /* prompt tokens fed, in steps holding any */
    double prefill_seconds;     /* time of the steps holding prompt tokens */
    int64_t decode_tokens;      /* tokens fed in steps holding only decode tokens */
    double decode_seconds;
} LlmcSchedStats;

typedef struct LlmcSched LlmcSched;

int llmc_sched_create(LlmcSched **out, LlmcEngine *engine, const LlmcSchedConfig *cfg,
                      const LlmcSchedHooks *hooks, char *err, size_t errlen);
void llmc_sched_destroy(LlmcSched *s);

/* Queues a sequence; returns its id (0, 1, 2, ... in order of adding) or -1 with a message
 * (bad prompt, or a sequence the whole KV pool could not hold). */
int32_t llmc_sched_add(LlmcSched *s, const LlmcSeqReq *req, char *err, size_t errlen);

/* Runs one step. Returns 1 after a step, 0 when every sequence is done, -1 on error. */
int llmc_sched_step(LlmcSched *s, char *err, size_t errlen);
/* Steps until every sequence is done. Returns 0 or -1. */
int llmc_sched_run(LlmcSched *s, char *err, size_t errlen);

/* Tokens of seq so far: prompt then sampled tokens. */
const int32_t *llmc_sched_tokens(const LlmcSched *s, int32_t seq, int32_t *n_tokens);
int32_t llmc_sched_n_prompt(const LlmcSched *s, int32_t seq);
int llmc_sched_is_done(const LlmcSched *s, int32_t seq);
const LlmcSchedStats *llmc_sched_stats(const LlmcSched *s);

#endif
