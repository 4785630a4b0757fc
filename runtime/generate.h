/* generate.h — the generation loop of a model executable: prompts in, text (or token ids) out.
 *
 * Every prompt becomes one sequence of the scheduler, each with the sampler, seed and stop ids
 * given here (the CLI gives every sequence the same ones). Prompts come from a source, one at a
 * time, as rows free up (llmc_sched_add between steps), so that the queue never holds more than
 * max_batch waiting sequences; a finished sequence is forgotten once its text is out. Memory is
 * bounded by max_batch, not by the number of prompts: a stream of a million prompts holds only a
 * window of them (at most LLMC_GEN_WINDOW(max_batch) between the first unfinished one and the
 * last one read). Admission is FCFS.
 *
 * Output contract (docs/executable.md): for each prompt, the decoded text of the prompt tokens,
 * then the generated tokens (streamed, flushed after each token), then "\n"; prompt by prompt in
 * input order, byte for byte what single runs would print. The first unfinished sequence writes
 * straight to `out`, the others collect their text until every sequence before them is done.
 */
#ifndef LLMC_GENERATE_H
#define LLMC_GENERATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "sample.h"
#include "scheduler.h"
#include "tokenizer.h"

typedef struct LlmcGenPrompt {
    const int32_t *ids;         /* [n], valid until the source is asked for the next prompt */
    int32_t n;                  /* 1..max_seq_len */
    int32_t max_new;            /* already clamped to the context */
} LlmcGenPrompt;

/* The prompts, in order: fills *p and returns 1, returns 0 after the last one, or -1 with a
 * message in err (a prompt that cannot be read or encoded: generation stops there). */
typedef int (*LlmcGenSource)(void *ctx, LlmcGenPrompt *p, char *err, size_t errlen);

/* Sequences between the first unfinished one and the last one read, at most: the rows and the
 * waiting queue (2 * max_batch), and room for finished ones whose text waits for those before. */
#define LLMC_GEN_WINDOW(max_batch) (8 * (max_batch) + 64)

typedef struct LlmcGenConfig {
    int32_t max_batch;          /* sequences at once (1..the scheduler's limit) */
    LlmcSamplerCfg sampler;     /* every sequence's */
    uint64_t seed;
    const int32_t *stop_ids;    /* [n_stop], besides eos_id/bos_id */
    int32_t n_stop;
    const LlmcTokenizer *tok;   /* NULL: print token ids */
    int32_t top_logits;         /* 0: generate; K: print the prompt's ids and the K largest logits
                                   of its last position instead ("id logit" per line) */
    int ignore_eos;             /* generate past end-of-sequence ids (benchmarks) */
    int progress;               /* "[k/N done]" on stderr as sequences finish */
    int64_t n_prompts;          /* for the progress line; -1: not known */
} LlmcGenConfig;

/* Runs the prompts of `next` to the end, writing to out. stats (may be NULL) gets the scheduler's
 * figures. Returns 0, or -1 with a message (from the source; a request the KV cache cannot hold,
 * a failed step, a failed write: "cannot write the output: ..."). The text of the prompts
 * before a failing one is out already. */
int llmc_generate(LlmcEngine *e, LlmcGenSource next, void *next_ctx, const LlmcGenConfig *c,
                  FILE *out, LlmcSchedStats *stats, char *err, size_t errlen);

/* A source over an array of prompts (ctx: an LlmcGenArray). */
typedef struct LlmcGenArray {
    const LlmcGenPrompt *prompts;
    int32_t n, next;
} LlmcGenArray;
int llmc_gen_array_next(void *ctx, LlmcGenPrompt *p, char *err, size_t errlen);

/* "1 450 8074" (spaces, tabs, commas or newlines between ids; each in 0..vocab-1) into a new
 * array *ids (free it) of *n_ids >= 1. Returns 0, or -1 with a message naming the bad id. */
int llmc_parse_ids(const char *s, int32_t vocab, int32_t **ids, int32_t *n_ids, char *err,
                   size_t errlen);
/* A line of --prompts-ids: token ids as llmc_parse_ids takes them, optionally after "N:", the
 * tokens to generate for it (*max_new; -1 when not given). Messages name no option. */
int llmc_parse_ids_line(const char *s, int32_t vocab, int32_t **ids, int32_t *n_ids,
                        int64_t *max_new, char *err, size_t errlen);

#endif
