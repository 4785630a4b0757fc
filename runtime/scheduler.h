/* scheduler.h — continuous batching: many sequences share forward steps.
 *
 * Sequences are added (llmc_sched_add) and wait in FCFS order. KV blocks are taken on demand: a
 * sequence holds only the blocks its positions fill, each taken before the step that writes its
 * first position. One is admitted when fewer than max_batch are running and the free blocks cover
 * its first step (the blocks of its first prompt chunk) beside what the running sequences need
 * for their next one; admission is strictly in order: a sequence that does not fit holds back the
 * ones behind it.
 *
 * When a step needs a block and the pool has none, the newest running sequence (the last
 * admitted) is preempted: its blocks and row go back, and it returns to the front of the waiting
 * queue; admitted again, it is recomputed from its prompt and the tokens it already produced (one
 * prefill of them all), and its sampler goes on from where it stood (its RNG is not reseeded and
 * draws only for the tokens it takes). So nothing fails for lack of blocks and every sequence
 * produces the tokens it would alone (exactly, where a row's logits do not depend on how it was
 * fed, as on the cpu; a GPU's prefill kernels may round otherwise than its decode kernels); a
 * sequence the whole pool could not hold is refused when added. Prompt logits (on_logits) are
 * reported once per position, preempted or not.
 *
 * Each step (llmc_sched_step) holds, in this order: one decode token for every running sequence
 * past its prompt, then prefill chunks of the running sequences still in their prompt, in
 * admission order, until desc->max_tokens tokens (a prompt longer than what is left is split
 * across steps). A step asks for the logits of the last token of every sequence that samples this
 * step and of the prompt rows a sequence asked to see (logits_from); at most desc->max_outputs of
 * them: a prefill chunk stops before a row that would exceed that and goes on next step.
 * Blocks are taken in the same order before the step is built: a decode token that needs a block
 * when none is free preempts the newest running sequence (itself, if it is the newest); a prefill
 * chunk shrinks to the positions the free blocks cover, and when they cover none it preempts the
 * newest sequence admitted after it (the newest one waits for the next step instead). The oldest
 * running sequence can always go on: the pool holds any one sequence whole.
 *
 * Each sequence carries its own sampler (temperature, top-k, top-p), RNG seed and stop ids: its
 * draws come from its own RNG, so a sequence samples exactly as it would alone, whatever the
 * others in its steps use. A sequence finishes after max_new tokens, at max_seq_len, when it
 * samples eos_id, one of eos_more or bos_id (ignore_eos turns this off) or one of its stop ids (the
 * stop token is not appended), or when it is cancelled. Its blocks and row go back at once and the
 * next step admits waiting sequences.
 *
 * While running: sequences may be added (llmc_sched_add) and cancelled (llmc_sched_cancel) between
 * steps, whether they wait (preempted or not yet admitted), prefill or decode; ids are never
 * reused. A finished sequence's tokens stay readable until it is forgotten (llmc_sched_forget),
 * which a stream of sequences does to hold memory only for those in flight.
 */
#ifndef LLMC_SCHEDULER_H
#define LLMC_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "sample.h"

typedef enum {
    LLMC_FINISH_LENGTH = 0,     /* produced max_new tokens (or only fed its prompt: max_new 0) */
    LLMC_FINISH_EOS,            /* sampled eos_id, one of eos_more, or bos_id */
    LLMC_FINISH_CONTEXT,        /* reached max_seq_len before max_new */
    LLMC_FINISH_STOP,           /* sampled one of its stop ids */
    LLMC_FINISH_CANCELLED,      /* llmc_sched_cancel */
} LlmcFinish;

/* Callbacks; any may be NULL. A non-zero return stops llmc_sched_step with an error. They run
 * inside llmc_sched_step (on_done also inside llmc_sched_cancel) and must not call llmc_sched_add
 * or llmc_sched_cancel. */
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
} LlmcSchedConfig;

typedef struct LlmcSeqReq {
    const int32_t *prompt;      /* [n_prompt] ids, copied */
    int32_t n_prompt;           /* 1..max_seq_len */
    int32_t max_new;            /* tokens to sample (clamped to max_seq_len - n_prompt) */
    int32_t logits_from;        /* report logits of prompt positions >= this; -1: none */
    int ignore_eos;             /* do not stop at eos_id/bos_id (benchmarks) */
    LlmcSamplerCfg sampler;     /* this sequence's draws; temperature 0 (all zero): greedy */
    uint64_t seed;              /* of its RNG */
    const int32_t *stop_ids;    /* [n_stop] tokens that also end it (not appended), copied */
    int32_t n_stop;
} LlmcSeqReq;

typedef struct LlmcSchedStats {
    int64_t steps;
    int64_t prompt_tokens;      /* of the sequences added */
    int64_t sampled_tokens;     /* tokens sampled (an end-of-sequence or stop token included) */
    int64_t preemptions;        /* sequences preempted (blocks freed, recomputed later) */
    int64_t recomputed_tokens;  /* positions fed again after preemptions */
    int32_t kv_blocks;          /* in the pool */
    int32_t kv_blocks_peak;     /* most blocks held by running sequences at once */
    int32_t running_peak;       /* most sequences running at once */
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
 * (bad prompt or stop ids, or a sequence whose prompt and new tokens the whole KV pool could not
 * hold). */
int32_t llmc_sched_add(LlmcSched *s, const LlmcSeqReq *req, char *err, size_t errlen);
/* What llmc_sched_add would refuse, without adding: 0, or -1 with its message. */
int llmc_sched_check(const LlmcSched *s, const LlmcSeqReq *req, char *err, size_t errlen);

/* Ends seq now, wherever it is (waiting, prefill, decode): its KV blocks and block table row are
 * free at once and on_done reports LLMC_FINISH_CANCELLED; its tokens stay readable. Between steps
 * only. Returns 1 when it was cancelled, 0 when it was already done, -1 when on_done stops. */
int llmc_sched_cancel(LlmcSched *s, int32_t seq, char *err, size_t errlen);

/* Runs one step. Returns 1 after a step, 0 when every sequence is done, -1 on error. */
int llmc_sched_step(LlmcSched *s, char *err, size_t errlen);
/* Steps until every sequence is done. Returns 0 or -1. */
int llmc_sched_run(LlmcSched *s, char *err, size_t errlen);

/* Releases a done sequence's tokens and record (between steps): it may no longer be asked about. */
void llmc_sched_forget(LlmcSched *s, int32_t seq);

/* Tokens of seq so far: prompt then sampled tokens (not after llmc_sched_forget). */
const int32_t *llmc_sched_tokens(const LlmcSched *s, int32_t seq, int32_t *n_tokens);
int32_t llmc_sched_n_prompt(const LlmcSched *s, int32_t seq);
int llmc_sched_is_done(const LlmcSched *s, int32_t seq);
/* Times seq was preempted so far (its tokens are unaffected). */
int32_t llmc_sched_n_preempted(const LlmcSched *s, int32_t seq);
/* Sequences added so far; those admitted and not done; those waiting (not admitted yet, or
 * preempted; not cancelled). */
int32_t llmc_sched_n_seqs(const LlmcSched *s);
int32_t llmc_sched_n_running(const LlmcSched *s);
int32_t llmc_sched_n_waiting(const LlmcSched *s);
const LlmcSchedStats *llmc_sched_stats(const LlmcSched *s);

#endif
