/* serve_engine.c — the server's engine thread and its bookkeeping (serve_impl.h).
 *
 * One thread owns the scheduler. Each turn of its loop: take the requests queued since the last
 * turn and add them to the scheduler, cancel the sequences whose client went away or whose text
 * reached a stop string, run one step, forget the sequences that finished. When nothing runs or
 * waits it sleeps on a condition variable until a request comes (no busy wait).
 *
 * Text: each sampled token is decoded (after the previous one, as the command line prints it) and
 * appended to its request's text; the text is cut before the first stop string, and while the
 * request runs the bytes that might begin a stop string or that begin a UTF-8 character not yet
 * complete are held back (`ready` stops before them), so a stream never sends what a later token
 * takes back, and every chunk is whole characters.
 */
#include "serve_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rtutil.h"

ServeReq *serve_req_new(void)
{
    ServeReq *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->efd < 0) {
        free(r);
        return NULL;
    }
    r->refs = 1;
    r->seq = -1;
    r->prev = -1;
    return r;
}

void serve_req_unref(LlmcServer *s, ServeReq *r)
{
    (void)s;
    if (!r || --r->refs > 0)
        return;
    close(r->efd);
    serve_params_free(&r->prm);
    llmc_text_free(&r->text);
    free(r->prompt_text);
    free(r);
}

static void notify(ServeReq *r)
{
    uint64_t one = 1;
    ssize_t w = write(r->efd, &one, sizeof one);
    (void)w;            /* EAGAIN only when the counter is near 2^64: a wake-up is pending anyway */
}

int serve_submit(LlmcServer *s, ServeReq *r, int *status)
{
    if (s->stopping || !s->ready) {
        *status = 503;
        return -1;
    }
    int32_t free_rows = s->cfg.max_batch - s->n_running;
    if (s->n_inbox + s->n_waiting >= s->cfg.max_queue + (free_rows > 0 ? free_rows : 0)) {
        *status = 429;
        s->m.rejected++;
        return -1;
    }
    r->refs++;
    r->state = REQ_INBOX;
    r->t_arrive = llmc_rt_now();
    r->next = NULL;
    if (s->inbox_tail)
        s->inbox_tail->next = r;
    else
        s->inbox = r;
    s->inbox_tail = r;
    s->n_inbox++;
    pthread_cond_signal(&s->wake);
    return 0;
}

void serve_gone(LlmcServer *s, ServeReq *r)
{
    if (r->state == REQ_DONE || r->gone)
        return;
    r->gone = 1;
    pthread_cond_signal(&s->wake);
}

/* ---- metrics ---- */

static const double kBuckets[SERVE_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,   0.25,   0.5,   1,    2.5,   10};
static const int kCodes[SERVE_N_CODES - 1] = {200, 400, 401, 404, 405, 413, 429, 431, 500, 501, 503};
static const char *const kEndpoints[EP_COUNT] = {"/v1/completions", "/v1/chat/completions", "/v1/models",
                                                 "/health", "/metrics", "other"};

static void observe(ServeHist *h, double v)
{
    int i = 0;
    while (i < SERVE_N_BUCKETS && v > kBuckets[i])
        i++;
    h->count[i]++;
    h->sum += v;
    h->n++;
}

void serve_count_request(LlmcServer *s, ServeEndpoint ep, int status)
{
    int i = 0;
    while (i < SERVE_N_CODES - 1 && kCodes[i] != status)
        i++;
    s->m.requests[ep][i]++;
}

static void hist_text(LlmcText *t, const char *name, const char *help, const ServeHist *h)
{
    llmc_text_printf(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < SERVE_N_BUCKETS; i++) {
        cum += h->count[i];
        llmc_text_printf(t, "%s_bucket{le=\"%g\"} %llu\n", name, kBuckets[i], (unsigned long long)cum);
    }
    cum += h->count[SERVE_N_BUCKETS];
    llmc_text_printf(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
                     (unsigned long long)cum, name, h->sum, name, (unsigned long long)h->n);
}

static void counter_text(LlmcText *t, const char *name, const char *type, const char *help, double v)
{
    llmc_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

void serve_metrics_text(LlmcServer *s, LlmcText *t)
{
    const ServeMetrics *m = &s->m;
    llmc_text_cstr(t, "# HELP llmc_requests_total HTTP requests answered, by endpoint and status code.\n"
                      "# TYPE llmc_requests_total counter\n");
    for (int ep = 0; ep < EP_COUNT; ep++)
        for (int c = 0; c < SERVE_N_CODES; c++)
            if (m->requests[ep][c] || (ep == EP_COMPLETIONS && c == 0)) {
                char code[16];
                if (c < SERVE_N_CODES - 1)
                    snprintf(code, sizeof code, "%d", kCodes[c]);
                else
                    snprintf(code, sizeof code, "other");
                llmc_text_printf(t, "llmc_requests_total{endpoint=\"%s\",code=\"%s\"} %llu\n", kEndpoints[ep],
                                 code, (unsigned long long)m->requests[ep][c]);
            }
    counter_text(t, "llmc_prompt_tokens_total", "counter", "Prompt tokens of the requests run.",
                 (double)m->prompt_tokens);
    counter_text(t, "llmc_generation_tokens_total", "counter", "Tokens generated.", (double)m->generation_tokens);
    counter_text(t, "llmc_requests_cancelled_total", "counter",
                 "Requests whose client went away before the end (their sequences were cancelled).",
                 (double)m->cancelled);
    counter_text(t, "llmc_requests_rejected_total", "counter",
                 "Requests refused with 429 because the queue was full.", (double)m->rejected);
    counter_text(t, "llmc_requests_running", "gauge", "Sequences in the running batch.", (double)s->n_running);
    counter_text(t, "llmc_requests_waiting", "gauge", "Requests waiting for a row of the batch or KV blocks.",
                 (double)(s->n_waiting + s->n_inbox));
    counter_text(t, "llmc_kv_blocks_used", "gauge", "KV cache blocks held by sequences.", (double)s->kv_used);
    counter_text(t, "llmc_kv_blocks_total", "gauge", "KV cache blocks in the pool.", (double)s->kv_total);
    counter_text(t, "llmc_preemptions_total", "counter",
                 "Sequences preempted when the KV pool ran out (their blocks freed; recomputed later).",
                 (double)s->preemptions);
    hist_text(t, "llmc_time_to_first_token_seconds", "From a request's arrival to its first token.", &m->ttft);
    hist_text(t, "llmc_time_per_output_token_seconds", "Between the tokens of a request, after the first.",
              &m->tpot);
    hist_text(t, "llmc_request_duration_seconds", "From a request's arrival to its last token.", &m->e2e);
}

int serve_retry_after(const LlmcServer *s)
{
    double waiting = (double)(s->n_waiting + s->n_inbox) + 1;
    double sec = ceil(s->avg_latency * waiting / (double)s->cfg.max_batch);
    return sec < 1 ? 1 : sec > 120 ? 120 : (int)sec;
}

/* ---- the engine thread ---- */

typedef struct Engine {
    LlmcServer *s;
    LlmcSched *sched;
    ServeReq **active;          /* requests in the scheduler, by increasing seq */
    int32_t n_active, cap_active;
    int32_t *done;              /* sequences finished in this turn: forgotten after it */
    int32_t n_done, cap_done;
    int32_t *cancel;            /* [cap_active] */
    int oom;
} Engine;

static ServeReq *find(const Engine *E, int32_t seq)
{
    int32_t lo = 0, hi = E->n_active - 1;
    while (lo <= hi) {
        int32_t mid = (lo + hi) / 2;
        int32_t q = E->active[mid]->seq;
        if (q == seq)
            return E->active[mid];
        if (q < seq)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* The stop strings: cut the text before the first one found (in what the last piece could have
 * completed), or set how much of the end to hold back. Under mu. */
static void stops_and_ready(ServeReq *r, size_t old_len)
{
    const ServeParams *p = &r->prm;
    size_t n = r->text.n, hold = 0;
    if (p->n_stop && !r->stop_hit) {
        size_t maxlen = 0, best = SIZE_MAX;
        for (int32_t i = 0; i < p->n_stop; i++)
            maxlen = p->stop_len[i] > maxlen ? p->stop_len[i] : maxlen;
        size_t from = old_len >= maxlen - 1 ? old_len - (maxlen - 1) : 0;
        for (int32_t i = 0; i < p->n_stop; i++) {
            const char *hit = memmem(r->text.p + from, n - from, p->stop[i], p->stop_len[i]);
            if (hit && (size_t)(hit - r->text.p) < best)
                best = (size_t)(hit - r->text.p);
        }
        if (best != SIZE_MAX) {
            r->text.n = n = best;
            r->text.p[n] = 0;
            r->stop_hit = 1;
            r->finish = "stop";
        } else {
            for (int32_t i = 0; i < p->n_stop; i++)
                for (size_t k = p->stop_len[i] - 1 < n ? p->stop_len[i] - 1 : n; k > hold; k--)
                    if (memcmp(r->text.p + n - k, p->stop[i], k) == 0) {
                        hold = k;
                        break;
                    }
        }
    }
    if (!r->stop_hit && r->state != REQ_DONE) {
        size_t tail = llmc_utf8_incomplete_tail(r->text.p ? r->text.p : "", n);
        hold = tail > hold ? tail : hold;
    } else {
        hold = 0;
    }
    if (n - hold > r->ready)
        r->ready = n - hold;
}

static int on_token(void *ctx, int32_t seq, int32_t token)
{
    Engine *E = ctx;
    LlmcServer *s = E->s;
    ServeReq *r = find(E, seq);
    if (!r)
        return 0;
    char piece[1024];
    size_t n;
    if (s->tok)
        n = llmc_tokenizer_decode(s->tok, r->prev, token, piece, sizeof piece);
    else
        n = (size_t)snprintf(piece, sizeof piece, r->prev < 0 ? "%d" : " %d", token);
    r->prev = token;
    double now = llmc_rt_now();
    pthread_mutex_lock(&s->mu);
    if (!r->stop_hit && r->state != REQ_DONE) {
        size_t old = r->text.n;
        llmc_text_put(&r->text, piece, n);
        if (r->text.oom)
            E->oom = 1;
        r->n_gen++;
        if (r->n_gen == 1)
            r->t_first = now;
        r->t_last = now;
        stops_and_ready(r, old);
    }
    s->m.generation_tokens++;
    pthread_mutex_unlock(&s->mu);
    notify(r);
    return E->oom ? -1 : 0;
}

/* r is over (under mu): its answer is final (failed: none, with this HTTP status and message);
 * metrics. */
static void finish_req(LlmcServer *s, ServeReq *r, int status, const char *failed)
{
    r->state = REQ_DONE;
    r->ready = r->text.n;
    if (failed) {
        snprintf(r->failed, sizeof r->failed, "%s", failed);
        r->fail_status = status;
        r->finish = NULL;
    }
    double now = llmc_rt_now();
    if (r->gone)
        s->m.cancelled++;
    if (!failed && !r->gone) {
        s->m.prompt_tokens += (uint64_t)r->prm.n_prompt;
        if (r->n_gen >= 1)
            observe(&s->m.ttft, r->t_first - r->t_arrive);
        if (r->n_gen >= 2)
            observe(&s->m.tpot, (r->t_last - r->t_first) / (r->n_gen - 1));
        observe(&s->m.e2e, now - r->t_arrive);
        s->avg_latency = 0.9 * s->avg_latency + 0.1 * (now - r->t_arrive);
    }
}

static int on_done(void *ctx, int32_t seq, LlmcFinish why)
{
    Engine *E = ctx;
    LlmcServer *s = E->s;
    ServeReq *r = find(E, seq);
    if (!r)
        return 0;
    pthread_mutex_lock(&s->mu);
    if (!r->stop_hit) {
        if (why == LLMC_FINISH_EOS || why == LLMC_FINISH_STOP) {
            r->finish = "stop";
            r->n_gen++;         /* the end-of-sequence token was generated too */
            s->m.generation_tokens++;
        } else if (why == LLMC_FINISH_LENGTH || why == LLMC_FINISH_CONTEXT) {
            r->finish = "length";
        }
    }
    if (why == LLMC_FINISH_CANCELLED && !r->stop_hit && s->stopping)
        finish_req(s, r, s->stop_status, s->stop_why);
    else if (why == LLMC_FINISH_CANCELLED && !r->stop_hit)
        finish_req(s, r, 499, "cancelled");
    else
        finish_req(s, r, 0, NULL);
    pthread_mutex_unlock(&s->mu);
    notify(r);
    if (E->n_done == E->cap_done) {
        int32_t cap = E->cap_done ? 2 * E->cap_done : 64;
        int32_t *d = realloc(E->done, (size_t)cap * sizeof *d);
        if (!d) {
            E->oom = 1;
            return -1;
        }
        E->done = d;
        E->cap_done = cap;
    }
    E->done[E->n_done++] = seq;
    return 0;
}

/* Forgets the sequences finished this turn and drops their requests. */
static void forget_done(Engine *E)
{
    LlmcServer *s = E->s;
    for (int32_t i = 0; i < E->n_done; i++) {
        int32_t seq = E->done[i];
        llmc_sched_forget(E->sched, seq);
        int32_t k = 0;
        while (k < E->n_active && E->active[k]->seq != seq)
            k++;
        if (k == E->n_active)
            continue;
        ServeReq *r = E->active[k];
        memmove(E->active + k, E->active + k + 1, (size_t)(E->n_active - k - 1) * sizeof *E->active);
        E->n_active--;
        pthread_mutex_lock(&s->mu);
        serve_req_unref(s, r);
        pthread_mutex_unlock(&s->mu);
    }
    E->n_done = 0;
}

/* Ends a request that never reached the scheduler. */
static void drop_unadded(LlmcServer *s, ServeReq *r, int status, const char *failed)
{
    pthread_mutex_lock(&s->mu);
    finish_req(s, r, status, failed);
    notify(r);          /* before the engine's reference goes: it may be the last one (the client
                           went away, its connection ended) */
    serve_req_unref(s, r);
    pthread_mutex_unlock(&s->mu);
}

static int add_active(Engine *E, ServeReq *r)
{
    if (E->n_active == E->cap_active) {
        int32_t cap = E->cap_active ? 2 * E->cap_active : 64;
        ServeReq **a = realloc(E->active, (size_t)cap * sizeof *a);
        int32_t *c = realloc(E->cancel, (size_t)cap * sizeof *c);
        if (a)
            E->active = a;
        if (c)
            E->cancel = c;
        if (!a || !c)
            return -1;
        E->cap_active = cap;
    }
    E->active[E->n_active++] = r;
    return 0;
}

/* The inbox into the scheduler. */
static void take_inbox(Engine *E, ServeReq *in)
{
    LlmcServer *s = E->s;
    while (in) {
        ServeReq *r = in;
        in = in->next;
        r->next = NULL;
        pthread_mutex_lock(&s->mu);
        int gone = r->gone;
        pthread_mutex_unlock(&s->mu);
        if (gone) {
            drop_unadded(s, r, 499, "cancelled");
            continue;
        }
        const ServeParams *p = &r->prm;
        LlmcSeqReq q = {.prompt = p->prompt, .n_prompt = p->n_prompt, .max_new = p->max_new,
                        .logits_from = -1, .sampler = p->sampler, .seed = p->seed,
                        .stop_ids = p->stop_ids, .n_stop = p->n_stop_ids};
        char msg[512];
        int32_t seq = add_active(E, r) == 0 ? llmc_sched_add(E->sched, &q, msg, sizeof msg) : -1;
        if (seq < 0) {
            if (E->n_active && E->active[E->n_active - 1] == r)
                E->n_active--;
            drop_unadded(s, r, 500, msg);
            continue;
        }
        r->seq = seq;
        r->prev = p->prompt[p->n_prompt - 1];
        pthread_mutex_lock(&s->mu);
        r->state = REQ_ACTIVE;
        pthread_mutex_unlock(&s->mu);
    }
}

static void publish(Engine *E)
{
    LlmcServer *s = E->s;
    const LlmcKvAlloc *kv = &s->engine->kv;
    pthread_mutex_lock(&s->mu);
    s->n_waiting = llmc_sched_n_waiting(E->sched);
    s->n_running = llmc_sched_n_running(E->sched);
    s->kv_used = kv->n_blocks - kv->n_free;
    s->kv_total = kv->n_blocks;
    s->preemptions = llmc_sched_stats(E->sched)->preemptions;
    pthread_mutex_unlock(&s->mu);
}

/* Cancels every active sequence (shutdown or a failed step); on_done answers their clients. */
static void cancel_all(Engine *E)
{
    for (int32_t i = 0; i < E->n_active; i++)
        if (!llmc_sched_is_done(E->sched, E->active[i]->seq))
            llmc_sched_cancel(E->sched, E->active[i]->seq, NULL, 0);
    forget_done(E);
}

int serve_engine_run(LlmcServer *s, char *err, size_t errlen)
{
    Engine E = {.s = s};
    LlmcSchedHooks hooks = {.ctx = &E, .on_token = on_token, .on_done = on_done};
    LlmcSchedConfig sc = {.max_batch = s->cfg.max_batch};
    if (llmc_sched_create(&E.sched, s->engine, &sc, &hooks, err, errlen) != 0)
        return -1;
    publish(&E);
    pthread_mutex_lock(&s->mu);
    s->ready = 1;
    s->avg_latency = 1.0;
    pthread_mutex_unlock(&s->mu);
    char where[256];
    s->engine->dev->where(s->engine, where, sizeof where);
    fprintf(stderr, "%s: ready: %s on %s, up to %d sequences at once, %d KV blocks of %d positions%s\n",
            s->cfg.prog, s->cfg.model_name, where, s->cfg.max_batch, s->kv_total, s->engine->desc->kv_block_size,
            s->chat ? "" : "; no chat template");
    int rc = 0;
    for (;;) {
        int idle = llmc_sched_n_running(E.sched) == 0 && llmc_sched_n_waiting(E.sched) == 0;
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && !s->inbox && idle)
            pthread_cond_wait(&s->wake, &s->mu);
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        ServeReq *in = s->inbox;
        s->inbox = s->inbox_tail = NULL;
        s->n_inbox = 0;
        int32_t n_cancel = 0;
        for (int32_t i = 0; i < E.n_active; i++) {
            ServeReq *r = E.active[i];
            if (r->state == REQ_ACTIVE && (r->gone || r->stop_hit))
                E.cancel[n_cancel++] = r->seq;
        }
        pthread_mutex_unlock(&s->mu);

        take_inbox(&E, in);
        for (int32_t i = 0; i < n_cancel; i++)
            if (!llmc_sched_is_done(E.sched, E.cancel[i]))
                llmc_sched_cancel(E.sched, E.cancel[i], NULL, 0);
        forget_done(&E);
        if (llmc_sched_n_running(E.sched) + llmc_sched_n_waiting(E.sched) > 0) {
            char msg[1024];
            if (llmc_sched_step(E.sched, msg, sizeof msg) < 0) {
                rc = llmc_rt_fail(err, errlen, "%s", E.oom ? "out of memory holding a request's text" : msg);
                forget_done(&E);
                break;
            }
        }
        forget_done(&E);
        publish(&E);
    }
    /* Everything still in flight ends now: a failed step is a 500, a shutdown a 503. */
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    s->stop_status = rc ? 500 : 503;
    snprintf(s->stop_why, sizeof s->stop_why, "%s",
             rc ? "the model failed while running this request" : "the server is shutting down");
    ServeReq *in = s->inbox;
    s->inbox = s->inbox_tail = NULL;
    s->n_inbox = 0;
    pthread_mutex_unlock(&s->mu);
    while (in) {
        ServeReq *r = in;
        in = in->next;
        drop_unadded(s, r, s->stop_status, s->stop_why);
    }
    cancel_all(&E);
    publish(&E);
    llmc_sched_destroy(E.sched);
    free(E.active);
    free(E.cancel);
    free(E.done);
    return rc;
}
