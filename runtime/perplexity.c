/* perplexity.c — see perplexity.h. */
#include "perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rtutil.h"
#include "scheduler.h"

typedef struct ChunkSum {
    double nll, nll2;           /* sums over the chunk's scored positions */
    int64_t count;
    int done;
} ChunkSum;

typedef struct Ppl {
    const int32_t *tokens;
    int32_t ctx, vocab, n_chunks;
    ChunkSum *chunks;           /* [n_chunks] */
    int32_t next_report;        /* chunks before this one are added into the totals */
    double nll, nll2;
    int64_t count;
    LlmcPplProgress progress;
    void *progress_ctx;
} Ppl;

static int on_logits(void *ctx, int32_t seq, int32_t pos, const float *logits)
{
    Ppl *p = ctx;
    int32_t target = p->tokens[(int64_t)seq * p->ctx + pos + 1];
    double mx = logits[0];
    for (int32_t i = 1; i < p->vocab; i++)
        if (logits[i] > mx)
            mx = logits[i];
    double sum = 0;
    for (int32_t i = 0; i < p->vocab; i++)
        sum += exp((double)logits[i] - mx);
    double nll = log(sum) + mx - (double)logits[target];
    ChunkSum *c = &p->chunks[seq];
    c->nll += nll;
    c->nll2 += nll * nll;
    c->count++;
    return 0;
}

static int on_done(void *ctx, int32_t seq, LlmcFinish why)
{
    (void)why;
    Ppl *p = ctx;
    p->chunks[seq].done = 1;
    while (p->next_report < p->n_chunks && p->chunks[p->next_report].done) {
        const ChunkSum *c = &p->chunks[p->next_report];
        p->nll += c->nll;
        p->nll2 += c->nll2;
        p->count += c->count;
        if (p->progress &&
            p->progress(p->progress_ctx, p->next_report, p->n_chunks, exp(p->nll / p->count)) != 0)
            return -1;
        p->next_report++;
    }
    return 0;
}

int llmc_perplexity(LlmcEngine *e, const int32_t *tokens, int64_t n_tokens, int32_t ctx,
                    int32_t max_batch, LlmcPplProgress progress, void *progress_ctx,
                    LlmcPplResult *res, char *err, size_t errlen)
{
    const LlmcModelDesc *d = e->desc;
    memset(res, 0, sizeof *res);
    if (ctx < 4 || ctx > d->max_seq_len)
        return llmc_rt_fail(err, errlen, "context %d out of range 4..%d", ctx, d->max_seq_len);
    int64_t n_chunks = n_tokens / ctx;
    if (n_chunks < 1)
        return llmc_rt_fail(err, errlen, "%lld tokens are fewer than one chunk of %d",
                            (long long)n_tokens, ctx);
    if (n_chunks > INT32_MAX)
        return llmc_rt_fail(err, errlen, "too many chunks (%lld)", (long long)n_chunks);

    Ppl p = {
        .tokens = tokens,
        .ctx = ctx,
        .vocab = d->vocab_size,
        .n_chunks = (int32_t)n_chunks,
        .progress = progress,
        .progress_ctx = progress_ctx,
    };
    p.chunks = calloc((size_t)n_chunks, sizeof *p.chunks);
    int32_t *prompt = malloc((size_t)ctx * sizeof *prompt);
    LlmcSched *s = NULL;
    int rc = -1;
    if (!p.chunks || !prompt) {
        llmc_rt_fail(err, errlen, "out of memory for %lld chunks", (long long)n_chunks);
        goto out;
    }
    LlmcSchedConfig cfg = {.max_batch = max_batch};
    LlmcSchedHooks hooks = {.ctx = &p, .on_logits = on_logits, .on_done = on_done};
    if (llmc_sched_create(&s, e, &cfg, &hooks, err, errlen) != 0)
        goto out;
    for (int32_t c = 0; c < p.n_chunks; c++) {
        memcpy(prompt, tokens + (int64_t)c * ctx, (size_t)ctx * sizeof *prompt);
        if (d->bos_id >= 0)
            prompt[0] = d->bos_id;
        /* The chunk's last token is only a target: it is never fed. */
        LlmcSeqReq req = {.prompt = prompt, .n_prompt = ctx - 1, .max_new = 0,
                          .logits_from = ctx / 2};
        if (llmc_sched_add(s, &req, err, errlen) < 0)
            goto out;
    }
    if (llmc_sched_run(s, err, errlen) != 0)
        goto out;
    double mean = p.nll / p.count, var = p.nll2 / p.count - mean * mean;
    res->ppl = exp(mean);
    res->ppl_err = p.count > 1 && var > 0 ? res->ppl * sqrt(var / (double)(p.count - 1)) : 0.0;
    res->n_chunks = p.n_chunks;
    res->ctx = ctx;
    res->n_scored = p.count;
    rc = 0;
out:
    llmc_sched_destroy(s);
    free(prompt);
    free(p.chunks);
    return rc;
}
