/* scheduler.c — continuous batching. See scheduler.h for the policy; this file is its bookkeeping.
 *
 * Sequences live in one array in order of adding, so the FCFS queue is just the id of the
 * first sequence not yet admitted (next_wait). Ids count from 0; the array starts at id `base`:
 * the records of forgotten sequences at its front are dropped (llmc_sched_forget), so a stream
 * of a million sequences holds only those not yet forgotten. The running set is a list of sequence ids in
 * admission order (the order prefill chunks are served in, and the reverse of the preemption
 * order); each running sequence owns a row of block_tables, handed out from a free-row stack, and
 * the KV blocks its positions reach (n_blocks, the first entries of its row).
 *
 * A step is planned before it is built (plan_step): how many tokens each running sequence feeds,
 * and the blocks they need, preempting where the pool runs out; build_step then only follows the
 * plan (a token's uniform is drawn as it is added, so nothing added is ever taken back).
 * Preempted sequences wait on a stack (requeue) that admission takes from before the FCFS queue:
 * the last one preempted is the first admitted again. While it is not empty no new sequence is
 * admitted, so running and requeued sequences together never exceed max_batch.
 *
 * Sequence states: waiting -> prefill (positions n_fed..n_prefill-1 still to feed: the prompt, or
 * after a preemption every token so far) -> decode (n_fed == n_tok - 1: the last sampled token is
 * the next one fed) -> done; prefill or decode -> waiting by preemption; any state but done ->
 * done by llmc_sched_cancel (a cancelled waiting sequence is skipped when the queue reaches it).
 */
#include "scheduler.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "rtutil.h"

typedef enum { SEQ_WAITING, SEQ_PREFILL, SEQ_DECODE, SEQ_DONE } SeqState;

typedef struct Seq {
    int32_t *tok;               /* [n_prompt + max_new]: prompt, then sampled tokens; NULL once
                                   forgotten */
    int32_t n_tok;
    int32_t n_prompt;
    int32_t max_new;            /* after clamping to max_seq_len */
    int32_t n_gen;              /* tokens sampled so far */
    int32_t n_fed;              /* positions written to the KV cache */
    int32_t n_prefill;          /* positions a prefill feeds: n_prompt, or n_tok when recomputed */
    int32_t logits_from;        /* -1: no prompt logits reported (moves past reported positions
                                   when preempted) */
    int32_t n_blocks;           /* KV blocks held (the first entries of its row) */
    int ring;                   /* it holds its ring's blocks (KIVI: desc->kv_ring_blocks, the last
                                   entries of its row) */
    int32_t step_tok;           /* tokens it feeds in the step being planned */
    int32_t n_preempted;        /* times it was preempted */
    int32_t row;                /* block table row while running, else -1 */
    int ignore_eos;
    int clamped;                /* max_new was cut by max_seq_len */
    LlmcSamplerCfg sampler;
    int greedy;                 /* llmc_sampler_greedy(sampler): it draws no uniforms */
    int32_t *stop;              /* [n_stop] its stop ids */
    int32_t n_stop;
    SeqState state;
    LlmcFinish why;
    LlmcRng rng;
} Seq;

struct LlmcSched {
    LlmcEngine *e;
    const LlmcModelDesc *d;
    LlmcSchedConfig cfg;
    LlmcSchedHooks hooks;

    Seq *seqs;                  /* [n_seqs - base] in order of adding: seqs[0] is id base */
    int32_t n_seqs, cap_seqs;   /* ids given so far; room in seqs */
    int32_t base;               /* id of seqs[0]: every id below it was forgotten */
    int32_t next_wait;          /* first sequence not yet admitted */
    int32_t n_waiting;          /* sequences not yet admitted nor cancelled */
    int in_step;                /* inside llmc_sched_step (hooks run): no add or cancel */
    int32_t *running;           /* [max_batch] sequence ids, admission order */
    int32_t n_running;
    int32_t *requeue;           /* [max_batch] preempted sequence ids, the next admitted on top */
    int32_t n_requeue;
    int32_t *free_rows;         /* [max_batch] */
    int32_t n_free_rows;
    int32_t *block_tables;      /* [max_batch][max_blocks_per_seq] */

    /* the step being built */
    int32_t *tokens, *positions, *seq_of_token, *slots;    /* [max_tokens] */
    int32_t *out_rows, *out_seq;                           /* [max_outputs] */
    float *logits;                                          /* [max_outputs][vocab_size] */
    int32_t *ids;               /* [max_outputs] the token chosen for each output row by the engine */
    double *u;                  /* [max_outputs] the row's uniform for the draw (0 if not drawn) */
    float *temp, *top_p;        /* [max_outputs] the row's sampler (temp 0: the argmax) */
    int32_t *top_k;             /* [max_outputs] */
    LlmcSchedStats stats;
};

static Seq *seq_of(const LlmcSched *s, int32_t id)
{
    assert(id >= s->base && id < s->n_seqs && "a sequence forgotten or never added");
    return &s->seqs[id - s->base];
}

int llmc_sched_create(LlmcSched **out, LlmcEngine *e, const LlmcSchedConfig *cfg,
                      const LlmcSchedHooks *hooks, char *err, size_t errlen)
{
    *out = NULL;
    const LlmcModelDesc *d = e->desc;
    int32_t limit = d->max_tokens < d->max_outputs ? d->max_tokens : d->max_outputs;
    if (cfg->max_batch < 1 || cfg->max_batch > limit)
        return llmc_rt_fail(err, errlen,
                            "batch size %d out of range: this model runs 1..%d sequences at once "
                            "(max_tokens %d, max_outputs %d)",
                            cfg->max_batch, limit, d->max_tokens, d->max_outputs);
    LlmcSched *s = calloc(1, sizeof *s);
    if (!s)
        return llmc_rt_fail(err, errlen, "out of memory creating the scheduler");
    s->e = e;
    s->d = d;
    s->cfg = *cfg;
    if (hooks)
        s->hooks = *hooks;
    size_t nb = (size_t)cfg->max_batch, nt = (size_t)d->max_tokens, no = (size_t)d->max_outputs;
    s->running = malloc(nb * sizeof *s->running);
    s->requeue = malloc(nb * sizeof *s->requeue);
    s->free_rows = malloc(nb * sizeof *s->free_rows);
    s->block_tables = calloc(nb * (size_t)e->max_blocks_per_seq, sizeof *s->block_tables);
    s->tokens = malloc(nt * sizeof *s->tokens);
    s->positions = malloc(nt * sizeof *s->positions);
    s->seq_of_token = malloc(nt * sizeof *s->seq_of_token);
    s->slots = malloc(nt * sizeof *s->slots);
    s->out_rows = malloc(no * sizeof *s->out_rows);
    s->out_seq = malloc(no * sizeof *s->out_seq);
    s->ids = malloc(no * sizeof *s->ids);
    s->u = calloc(no, sizeof *s->u);
    s->temp = calloc(no, sizeof *s->temp);
    s->top_p = calloc(no, sizeof *s->top_p);
    s->top_k = calloc(no, sizeof *s->top_k);
    /* not zeroed: a step writes the rows it reads (512 rows of Llama 3's 128256 logits are 262 MB,
     * touched only as far as steps use them) */
    s->logits = llmc_rt_alloc_uninit(no * (size_t)d->vocab_size * sizeof *s->logits);
    if (!s->running || !s->requeue || !s->free_rows || !s->block_tables || !s->tokens || !s->positions ||
        !s->seq_of_token || !s->slots || !s->out_rows || !s->out_seq || !s->ids || !s->u ||
        !s->temp || !s->top_p || !s->top_k || !s->logits) {
        llmc_sched_destroy(s);
        return llmc_rt_fail(err, errlen, "out of memory for the scheduler's step buffers "
                            "(%zu logit rows of %d)", no, d->vocab_size);
    }
    for (int32_t i = 0; i < cfg->max_batch; i++)
        s->free_rows[i] = cfg->max_batch - 1 - i;
    s->n_free_rows = cfg->max_batch;
    s->stats.kv_blocks = e->kv.n_blocks;
    *out = s;
    return 0;
}

void llmc_sched_destroy(LlmcSched *s)
{
    if (!s)
        return;
    /* Blocks of sequences still running (an aborted run) go back to the engine's pool. */
    for (int32_t i = 0; i < s->n_running; i++) {
        const Seq *q = seq_of(s, s->running[i]);
        const int32_t *bt = s->block_tables + (size_t)q->row * (size_t)s->e->max_blocks_per_seq;
        for (int32_t b = 0; b < q->n_blocks; b++)
            llmc_kv_free(&s->e->kv, bt[b]);
    }
    for (int32_t i = 0; i < s->n_seqs - s->base; i++) {
        free(s->seqs[i].tok);
        free(s->seqs[i].stop);
    }
    free(s->seqs);
    free(s->running);
    free(s->requeue);
    free(s->free_rows);
    free(s->block_tables);
    free(s->tokens);
    free(s->positions);
    free(s->seq_of_token);
    free(s->slots);
    free(s->out_rows);
    free(s->out_seq);
    free(s->logits);
    free(s->ids);
    free(s->u);
    free(s->temp);
    free(s->top_p);
    free(s->top_k);
    free(s);
}

/* Positions a sequence can ever write: the prompt and every sampled token but the last. */
static int32_t seq_positions(const Seq *q)
{
    return q->n_prompt + (q->max_new > 0 ? q->max_new - 1 : 0);
}

/* Checks r; sets the fields of q that follow from it (lengths, clamping, blocks). 0 or -1. */
static int check_req(const LlmcSched *s, const LlmcSeqReq *r, Seq *q, char *err, size_t errlen)
{
    const LlmcModelDesc *d = s->d;
    if (r->n_prompt < 1)
        return llmc_rt_fail(err, errlen, "empty prompt: a sequence needs at least one token");
    if (r->n_prompt > d->max_seq_len)
        return llmc_rt_fail(err, errlen, "prompt of %d tokens exceeds the model's context of %d",
                            r->n_prompt, d->max_seq_len);
    if (r->max_new < 0)
        return llmc_rt_fail(err, errlen, "negative token count %d", r->max_new);
    if (r->n_stop < 0 || (r->n_stop > 0 && !r->stop_ids))
        return llmc_rt_fail(err, errlen, "bad stop id list (%d ids)", r->n_stop);
    for (int32_t i = 0; i < r->n_stop; i++)
        if (r->stop_ids[i] < 0 || r->stop_ids[i] >= d->vocab_size)
            return llmc_rt_fail(err, errlen, "stop id %d is %d, outside the vocabulary 0..%d", i,
                                r->stop_ids[i], d->vocab_size - 1);
    for (int32_t i = 0; i < r->n_prompt; i++)
        if (r->prompt[i] < 0 || r->prompt[i] >= d->vocab_size)
            return llmc_rt_fail(err, errlen, "prompt token %d is %d, outside the vocabulary 0..%d",
                                i, r->prompt[i], d->vocab_size - 1);
    q->n_prompt = r->n_prompt;
    q->max_new = r->max_new;
    if (q->max_new > d->max_seq_len - q->n_prompt) {
        q->max_new = d->max_seq_len - q->n_prompt;
        q->clamped = 1;
    }
    /* The pool must hold any one sequence whole: then the oldest running one can always go on. */
    int32_t blocks = llmc_kv_blocks_for(seq_positions(q), d->kv_block_size) + d->kv_ring_blocks;
    if (blocks > s->e->kv.n_blocks)
        return llmc_rt_fail(err, errlen,
                            "a sequence of %d positions needs %d KV blocks, the KV cache has %d "
                            "(--kv-blocks / --kv-mem)",
                            seq_positions(q), blocks, s->e->kv.n_blocks);
    return 0;
}

int llmc_sched_check(const LlmcSched *s, const LlmcSeqReq *r, char *err, size_t errlen)
{
    Seq q = {0};
    return check_req(s, r, &q, err, errlen);
}

int32_t llmc_sched_add(LlmcSched *s, const LlmcSeqReq *r, char *err, size_t errlen)
{
    const LlmcModelDesc *d = s->d;
    assert(!s->in_step && "llmc_sched_add inside a hook");
    Seq q = {0};
    if (check_req(s, r, &q, err, errlen) != 0)
        return -1;
    q.logits_from = r->logits_from;
    q.n_prefill = q.n_prompt;
    q.ignore_eos = r->ignore_eos;
    q.row = -1;
    q.state = SEQ_WAITING;
    q.sampler = r->sampler;
    q.greedy = llmc_sampler_greedy(&q.sampler, d->vocab_size);
    llmc_rng_seed(&q.rng, r->seed);
    q.tok = malloc((size_t)(q.n_prompt + q.max_new) * sizeof *q.tok);
    q.n_stop = r->n_stop;
    q.stop = malloc((size_t)(q.n_stop > 0 ? q.n_stop : 1) * sizeof *q.stop);
    if (!q.tok || !q.stop) {
        free(q.tok);
        free(q.stop);
        return llmc_rt_fail(err, errlen, "out of memory for a sequence of %d tokens",
                            q.n_prompt + q.max_new);
    }
    if (q.n_stop > 0)
        memcpy(q.stop, r->stop_ids, (size_t)q.n_stop * sizeof *q.stop);
    memcpy(q.tok, r->prompt, (size_t)q.n_prompt * sizeof *q.tok);
    q.n_tok = q.n_prompt;
    if (s->n_seqs - s->base == s->cap_seqs) {
        int32_t cap = s->cap_seqs ? 2 * s->cap_seqs : 16;
        Seq *ns = realloc(s->seqs, (size_t)cap * sizeof *ns);
        if (!ns) {
            free(q.tok);
            free(q.stop);
            return llmc_rt_fail(err, errlen, "out of memory queueing sequence %d", s->n_seqs);
        }
        s->seqs = ns;
        s->cap_seqs = cap;
    }
    s->seqs[s->n_seqs - s->base] = q;
    s->n_waiting++;
    s->stats.prompt_tokens += q.n_prompt;
    return s->n_seqs++;
}

static int32_t *row_of(LlmcSched *s, int32_t row)
{
    return s->block_tables + (size_t)row * (size_t)s->e->max_blocks_per_seq;
}

/* Blocks q needs beyond those it holds for its next step: one position in decode, a whole
 * chunk (what is left of its prefill, at most max_tokens) otherwise. */
static int32_t next_need(const LlmcSched *s, const Seq *q)
{
    int32_t upto = q->n_fed + 1;
    if (q->state != SEQ_DECODE)
        upto = q->n_prefill - q->n_fed < s->d->max_tokens ? q->n_prefill : q->n_fed + s->d->max_tokens;
    if (q->state != SEQ_DECODE && s->d->kv_seq_step > 0 && upto > q->n_fed + s->d->kv_seq_step)
        upto = q->n_fed + s->d->kv_seq_step;
    int32_t need = llmc_kv_blocks_for(upto, s->d->kv_block_size) - q->n_blocks;
    return (need > 0 ? need : 0) + (q->ring ? 0 : s->d->kv_ring_blocks);
}

/* The next sequence to admit (a preempted one first), skipping cancelled ones; -1: none. */
static int32_t next_waiting(LlmcSched *s)
{
    while (s->n_requeue > 0 && seq_of(s, s->requeue[s->n_requeue - 1])->state == SEQ_DONE)
        s->n_requeue--;
    if (s->n_requeue > 0)
        return s->requeue[s->n_requeue - 1];
    while (s->next_wait < s->n_seqs && seq_of(s, s->next_wait)->state == SEQ_DONE)
        s->next_wait++;                         /* cancelled while it waited */
    return s->next_wait < s->n_seqs ? s->next_wait : -1;
}

/* Admits waiting sequences in order while a row is free and the free blocks cover their first
 * step beside the next step of every running sequence. Blocks are taken later (plan_step). */
static void admit(LlmcSched *s)
{
    int64_t reserved = 0;
    for (int32_t i = 0; i < s->n_running; i++)
        reserved += next_need(s, seq_of(s, s->running[i]));
    while (s->n_running < s->cfg.max_batch) {
        int32_t id = next_waiting(s);
        if (id < 0)
            break;
        Seq *q = seq_of(s, id);
        int32_t need = next_need(s, q);
        if (llmc_kv_free_count(&s->e->kv) - reserved < need)
            break;
        reserved += need;
        if (s->n_requeue > 0)
            s->n_requeue--;
        else
            s->next_wait++;
        q->row = s->free_rows[--s->n_free_rows];
        /* Entries past the blocks it holds point at block 0, so that a kernel reading a whole row
         * stays in the pool; nothing past the sequence's length is ever used. */
        int32_t *bt = row_of(s, q->row);
        for (int32_t b = 0; b < s->e->max_blocks_per_seq; b++)
            bt[b] = 0;
        q->n_blocks = 0;
        q->state = SEQ_PREFILL;
        s->n_waiting--;
        s->running[s->n_running++] = id;
    }
    if (s->n_running > s->stats.running_peak)
        s->stats.running_peak = s->n_running;
}

/* Are the logits of prompt position pos of q reported (the on_logits hook)? */
static int reports_logits(const Seq *q, int32_t pos)
{
    return q->logits_from >= 0 && pos >= q->logits_from && pos < q->n_prompt;
}

/* Does a step need the logits of position pos of q? */
static int wants_logits(const Seq *q, int32_t pos)
{
    if (pos == q->n_tok - 1 && q->n_gen < q->max_new)
        return 1;                                   /* it samples from this row */
    return reports_logits(q, pos);
}

typedef struct StepBuild {
    int32_t n_tokens, n_out, n_prefill;
    int drawn;                  /* a row draws its token (else every row takes the argmax) */
    int want_logits;            /* a row's logits go to the on_logits hook */
} StepBuild;

/* Gives a running sequence's KV blocks and block table row back. */
static void release(LlmcSched *s, Seq *q)
{
    const int32_t *bt = row_of(s, q->row);
    for (int32_t b = q->n_blocks - 1; b >= 0; b--)
        llmc_kv_free(&s->e->kv, bt[b]);
    q->n_blocks = 0;
    for (int32_t b = 0; q->ring && b < s->d->kv_ring_blocks; b++)
        llmc_kv_free(&s->e->kv, bt[s->e->max_blocks_per_seq - s->d->kv_ring_blocks + b]);
    q->ring = 0;
    s->free_rows[s->n_free_rows++] = q->row;
    q->row = -1;
}

/* Preempts the newest running sequence: its blocks and row go back, the tokens it planned for
 * this step leave the plan, and it waits on top of the requeue stack to be recomputed from every
 * token it has (the last one sampled included: the prefill's last row samples its next token). */
static void preempt_newest(LlmcSched *s, StepBuild *plan)
{
    int32_t id = s->running[--s->n_running];
    Seq *q = seq_of(s, id);
    if (q->step_tok > 0) {      /* a decode token (prefills after the one preempting are unplanned) */
        assert(q->state == SEQ_DECODE && q->step_tok == 1);
        plan->n_tokens--;
        plan->n_out--;
        q->step_tok = 0;
    }
    release(s, q);
    s->stats.preemptions++;
    q->n_preempted++;
    s->stats.recomputed_tokens += q->n_fed;
    if (q->logits_from >= 0 && q->logits_from < q->n_fed)
        q->logits_from = q->n_fed;              /* reported already */
    q->n_fed = 0;
    q->n_prefill = q->n_tok;
    q->state = SEQ_WAITING;
    s->n_waiting++;
    s->requeue[s->n_requeue++] = id;
}

/* Takes blocks until q holds those of positions 0..n_pos-1, and its ring's if it has none yet (the
 * caller checked they are free). */
static void take_blocks(LlmcSched *s, Seq *q, int32_t n_pos)
{
    int32_t need = llmc_kv_blocks_for(n_pos, s->d->kv_block_size);
    int32_t *bt = row_of(s, q->row);
    if (n_pos <= q->n_fed)
        return; /* it feeds nothing this step */
    for (int32_t b = 0; !q->ring && b < s->d->kv_ring_blocks; b++) {
        int32_t id = llmc_kv_alloc(&s->e->kv);
        assert(id >= 0);
        bt[s->e->max_blocks_per_seq - s->d->kv_ring_blocks + b] = id;
    }
    q->ring = 1;
    while (q->n_blocks < need) {
        int32_t b = llmc_kv_alloc(&s->e->kv);
        assert(b >= 0);
        bt[q->n_blocks++] = b;
    }
    int32_t in_use = s->e->kv.n_blocks - llmc_kv_free_count(&s->e->kv);
    if (in_use > s->stats.kv_blocks_peak)
        s->stats.kv_blocks_peak = in_use;
}

/* Positions q could write with the blocks it holds and every free one (its ring's taken first). */
static int32_t reach(const LlmcSched *s, const Seq *q)
{
    int32_t free = llmc_kv_free_count(&s->e->kv) - (q->ring ? 0 : s->d->kv_ring_blocks);
    return (q->n_blocks + (free > 0 ? free : 0)) * s->d->kv_block_size;
}

/* The tokens of q's next prefill chunk: positions from n_fed up to n_prefill and reach, within
 * the step's tokens and a sequence's share of a step (kv_seq_step: KIVI), stopping before a row
 * whose logits would exceed max_outputs. */
static int32_t chunk_of(const LlmcSched *s, const Seq *q, const StepBuild *plan, int32_t reach_pos,
                        int32_t *n_out)
{
    int32_t n = 0, o = 0;
    for (int32_t pos = q->n_fed; pos < q->n_prefill && pos < reach_pos &&
                                 plan->n_tokens + n < s->d->max_tokens &&
                                 (s->d->kv_seq_step <= 0 || n < s->d->kv_seq_step);
         pos++, n++) {
        if (wants_logits(q, pos)) {
            if (plan->n_out + o == s->d->max_outputs)
                break;                          /* the rest of this prompt goes next step */
            o++;
        }
    }
    *n_out = o;
    return n;
}

/* Decides how many tokens each running sequence feeds this step (Seq.step_tok) and takes the
 * blocks they write, preempting the newest sequences where the pool runs out (scheduler.h). */
static void plan_step(LlmcSched *s)
{
    StepBuild plan = {0, 0, 0, 0, 0};
    const LlmcModelDesc *d = s->d;
    for (int32_t i = 0; i < s->n_running; i++)
        seq_of(s, s->running[i])->step_tok = 0;
    for (int32_t i = 0; i < s->n_running; i++) {
        Seq *q = seq_of(s, s->running[i]);
        if (q->state != SEQ_DECODE)
            continue;
        while (q->state == SEQ_DECODE && reach(s, q) < q->n_fed + 1)
            preempt_newest(s, &plan);           /* perhaps q itself, the last one */
        if (q->state != SEQ_DECODE)
            break;
        take_blocks(s, q, q->n_fed + 1);
        q->step_tok = 1;
        plan.n_tokens++;
        plan.n_out++;
    }
    for (int32_t i = 0; i < s->n_running && plan.n_tokens < d->max_tokens; i++) {
        Seq *q = seq_of(s, s->running[i]);
        if (q->state != SEQ_PREFILL)
            continue;
        int32_t n, o;
        for (;;) {
            int32_t r = reach(s, q);
            n = chunk_of(s, q, &plan, r, &o);
            if (n > 0 || r > q->n_fed || i == s->n_running - 1)
                break;                          /* fed, held back by the step, or the newest */
            preempt_newest(s, &plan);
        }
        take_blocks(s, q, q->n_fed + n);
        q->step_tok = n;
        plan.n_tokens += n;
        plan.n_out += o;
    }
}

static void add_token(LlmcSched *s, StepBuild *b, int32_t id, Seq *q)
{
    int32_t t = b->n_tokens++, pos = q->n_fed++;
    assert(pos < q->n_blocks * s->d->kv_block_size);
    s->tokens[t] = q->tok[pos];
    s->positions[t] = pos;
    s->seq_of_token[t] = q->row;
    s->slots[t] = llmc_kv_slot(row_of(s, q->row), s->d->kv_block_size, pos);
    if (wants_logits(q, pos)) {
        /* The engine draws the row's token (llmc_sample_u); the uniform comes from the sequence's
         * own stream now, once for each token the sequence will take (take_outputs' test). */
        int sampled = !q->greedy && pos == q->n_tok - 1 && q->n_gen < q->max_new;
        s->u[b->n_out] = sampled ? llmc_rng_uniform(&q->rng) : 0.0;
        s->temp[b->n_out] = sampled ? q->sampler.temperature : 0.0f;
        s->top_p[b->n_out] = q->sampler.top_p;
        s->top_k[b->n_out] = q->sampler.top_k;
        b->drawn |= sampled;
        s->out_rows[b->n_out] = t;
        s->out_seq[b->n_out++] = id;
        if (reports_logits(q, pos) && s->hooks.on_logits)
            b->want_logits = 1;
    }
}

/* The step plan_step decided: decode tokens, then prefill chunks, in admission order. */
static StepBuild build_step(LlmcSched *s)
{
    StepBuild b = {0, 0, 0, 0, 0};
    for (int32_t i = 0; i < s->n_running; i++) {
        Seq *q = seq_of(s, s->running[i]);
        if (q->state == SEQ_DECODE && q->step_tok == 1)
            add_token(s, &b, s->running[i], q);
    }
    for (int32_t i = 0; i < s->n_running; i++) {
        Seq *q = seq_of(s, s->running[i]);
        if (q->state != SEQ_PREFILL)
            continue;
        for (int32_t k = 0; k < q->step_tok; k++) {
            add_token(s, &b, s->running[i], q);
            b.n_prefill++;
        }
    }
    assert(b.n_tokens <= s->d->max_tokens && b.n_out <= s->d->max_outputs);
    return b;
}

static void finish(Seq *q, LlmcFinish why)
{
    q->state = SEQ_DONE;
    q->why = why;
}

/* Does t end a sequence: eos_id, one of eos_more, or bos_id (llama2.c models separate stories
 * with it)? */
static int is_eos(const LlmcModelDesc *d, int32_t t)
{
    if (t == d->eos_id || t == d->bos_id)
        return 1;
    for (int32_t i = 0; i < d->n_eos_more; i++)
        if (t == d->eos_more[i])
            return 1;
    return 0;
}

/* Samples the output rows of the step just run and reports them. 0, or -1 when a hook stops. */
static int take_outputs(LlmcSched *s, const StepBuild *b)
{
    const LlmcModelDesc *d = s->d;
    for (int32_t o = 0; o < b->n_out; o++) {
        int32_t id = s->out_seq[o];
        Seq *q = seq_of(s, id);
        int32_t pos = s->positions[s->out_rows[o]];
        const float *logits = s->logits + (size_t)o * (size_t)d->vocab_size;
        if (reports_logits(q, pos) && s->hooks.on_logits &&
            s->hooks.on_logits(s->hooks.ctx, id, pos, logits) != 0)
            return -1;
        if (pos != q->n_tok - 1 || q->n_gen >= q->max_new)
            continue;
        int32_t t = s->ids[o];
        q->n_gen++;
        s->stats.sampled_tokens++;
        if (!q->ignore_eos && is_eos(d, t)) {
            finish(q, LLMC_FINISH_EOS);
            continue;
        }
        int stop = 0;
        for (int32_t k = 0; k < q->n_stop && !stop; k++)
            stop = t == q->stop[k];
        if (stop) {
            finish(q, LLMC_FINISH_STOP);
            continue;
        }
        q->tok[q->n_tok++] = t;
        if (s->hooks.on_token && s->hooks.on_token(s->hooks.ctx, id, t) != 0)
            return -1;
        if (q->n_gen == q->max_new)
            finish(q, q->clamped ? LLMC_FINISH_CONTEXT : LLMC_FINISH_LENGTH);
    }
    return 0;
}

/* Moves sequences on (prefill -> decode), releases finished ones, in admission order. */
static int retire(LlmcSched *s)
{
    int32_t kept = 0;
    int rc = 0;
    for (int32_t i = 0; i < s->n_running; i++) {
        int32_t id = s->running[i];
        Seq *q = seq_of(s, id);
        if (q->state == SEQ_PREFILL && q->n_fed == q->n_prefill) {
            if (q->n_gen >= q->max_new)             /* max_new 0: the prompt only */
                finish(q, LLMC_FINISH_LENGTH);
            else
                q->state = SEQ_DECODE;
        }
        if (q->state != SEQ_DONE) {
            s->running[kept++] = id;
            continue;
        }
        release(s, q);
        if (rc == 0 && s->hooks.on_done && s->hooks.on_done(s->hooks.ctx, id, q->why) != 0)
            rc = -1;
    }
    s->n_running = kept;
    return rc;
}

int llmc_sched_step(LlmcSched *s, char *err, size_t errlen)
{
    admit(s);
    if (s->n_running == 0)
        return 0;       /* nothing waits either: an empty pool admits the head of the queue */
    double t0 = llmc_rt_now();
    plan_step(s);
    StepBuild b = build_step(s);
    assert(b.n_tokens > 0);
    LlmcStep step = {
        .n_tokens = b.n_tokens,
        .tokens = s->tokens,
        .positions = s->positions,
        .seq_of_token = s->seq_of_token,
        .slots = s->slots,
        .block_tables = s->block_tables,
        .max_blocks_per_seq = s->e->max_blocks_per_seq,
        .n_out = b.n_out,
        .out_rows = s->out_rows,
        .logits = s->logits,
        .out_ids = s->ids,
        .ids_only = !b.want_logits,
        .sample_u = b.drawn ? s->u : NULL,
        .temperature = s->temp,
        .top_p = s->top_p,
        .top_k = s->top_k,
    };
    if (llmc_engine_step(s->e, &step, err, errlen) != 0)
        return -1;
    s->in_step = 1;
    int stopped = take_outputs(s, &b) != 0 || retire(s) != 0;
    s->in_step = 0;
    if (stopped)
        return llmc_rt_fail(err, errlen, "generation stopped by its output callback");
    double dt = llmc_rt_now() - t0;
    s->stats.steps++;
    if (b.n_prefill > 0) {
        s->stats.prefill_tokens += b.n_prefill;
        s->stats.prefill_seconds += dt;
    } else {
        s->stats.decode_tokens += b.n_tokens;
        s->stats.decode_seconds += dt;
    }
    return 1;
}

int llmc_sched_cancel(LlmcSched *s, int32_t seq, char *err, size_t errlen)
{
    assert(!s->in_step && "llmc_sched_cancel inside a hook");
    Seq *q = seq_of(s, seq);
    if (q->state == SEQ_DONE)
        return 0;
    if (q->state == SEQ_WAITING) {
        s->n_waiting--;
        int32_t kept = 0;                       /* a preempted one leaves the requeue stack */
        for (int32_t i = 0; i < s->n_requeue; i++)
            if (s->requeue[i] != seq)
                s->requeue[kept++] = s->requeue[i];
        s->n_requeue = kept;
    } else {
        int32_t kept = 0;
        for (int32_t i = 0; i < s->n_running; i++)
            if (s->running[i] != seq)
                s->running[kept++] = s->running[i];
        assert(kept == s->n_running - 1);
        s->n_running = kept;
        release(s, q);
    }
    finish(q, LLMC_FINISH_CANCELLED);
    if (s->hooks.on_done && s->hooks.on_done(s->hooks.ctx, seq, q->why) != 0)
        return llmc_rt_fail(err, errlen, "cancelling stopped by its output callback");
    return 1;
}

void llmc_sched_forget(LlmcSched *s, int32_t seq)
{
    assert(!s->in_step && "llmc_sched_forget inside a hook");
    Seq *q = seq_of(s, seq);
    assert(q->state == SEQ_DONE && "llmc_sched_forget of a sequence not done");
    free(q->tok);
    free(q->stop);
    q->tok = q->stop = NULL;
    /* Drop the forgotten records at the front once they are half of the array (amortized O(1)). */
    int32_t n = s->n_seqs - s->base, k = 0;
    while (k < n && !s->seqs[k].tok)
        k++;
    if (k < 16 || k < n / 2)
        return;
    memmove(s->seqs, s->seqs + k, (size_t)(n - k) * sizeof *s->seqs);
    s->base += k;
    if (s->next_wait < s->base)
        s->next_wait = s->base;
}

int llmc_sched_run(LlmcSched *s, char *err, size_t errlen)
{
    int rc;
    while ((rc = llmc_sched_step(s, err, errlen)) == 1)
        ;
    return rc;
}

const int32_t *llmc_sched_tokens(const LlmcSched *s, int32_t seq, int32_t *n_tokens)
{
    const Seq *q = seq_of(s, seq);
    assert(q->tok && "the tokens of a forgotten sequence");
    *n_tokens = q->n_tok;
    return q->tok;
}

int32_t llmc_sched_n_prompt(const LlmcSched *s, int32_t seq)
{
    return seq_of(s, seq)->n_prompt;
}

int32_t llmc_sched_n_preempted(const LlmcSched *s, int32_t seq)
{
    return seq_of(s, seq)->n_preempted;
}

int llmc_sched_is_done(const LlmcSched *s, int32_t seq)
{
    return seq_of(s, seq)->state == SEQ_DONE;
}

const LlmcSchedStats *llmc_sched_stats(const LlmcSched *s) { return &s->stats; }

int32_t llmc_sched_n_seqs(const LlmcSched *s) { return s->n_seqs; }
int32_t llmc_sched_n_running(const LlmcSched *s) { return s->n_running; }
int32_t llmc_sched_n_waiting(const LlmcSched *s) { return s->n_waiting; }
