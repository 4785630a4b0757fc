/* generate.c — see generate.h. The printer (text in input order) and the loop that feeds the
 * scheduler. */
#include "generate.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "rtutil.h"

typedef struct OutBuf {
    char *data;
    size_t len, cap;
    int done;
} OutBuf;

/* Streams each sequence's text in input order: the first unfinished sequence (head) writes
 * straight to out, the others collect their text until every sequence before them is done.
 * Sequence ids are the prompts' indices; the ones in flight, head .. n_read-1, fit the ring. */
typedef struct Printer {
    FILE *out;
    const LlmcTokenizer *tok;   /* NULL: print token ids */
    LlmcSched *sched;
    OutBuf *ring;               /* [window]: sequence i's buffer is ring[i % window] */
    int32_t window;
    int32_t head, n_read, n_done;
    int32_t *finished;          /* [window] sequences done in this step: forgotten after it */
    int32_t n_finished;
    int progress;
    int64_t n_total;            /* -1: not known */
    int write_error;            /* errno of a failed write to out */
    int32_t top_logits;         /* inspection mode: print these instead of text */
    int32_t vocab;
} Printer;

static OutBuf *buf_of(Printer *p, int32_t seq) { return &p->ring[seq % p->window]; }

static int out_write(Printer *p, const char *s, size_t n)
{
    if (fwrite(s, 1, n, p->out) != n || fflush(p->out) != 0) {
        p->write_error = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

static int emit(Printer *p, int32_t seq, const char *s, size_t n)
{
    if (seq == p->head)
        return out_write(p, s, n);
    OutBuf *b = buf_of(p, seq);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            p->write_error = ENOMEM;
            return -1;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

/* Text of token id following prev (-1 at the start). */
static int emit_token(Printer *p, int32_t seq, int32_t prev, int32_t id)
{
    char piece[1024];
    size_t n;
    if (p->tok)
        n = llmc_tokenizer_decode(p->tok, prev, id, piece, sizeof piece);
    else
        n = (size_t)snprintf(piece, sizeof piece, prev < 0 ? "%d" : " %d", id);
    return emit(p, seq, piece, n);
}

/* --top-logits: "prompt ids: ..." first. */
static int print_ids(Printer *p, const int32_t *ids, int32_t n)
{
    int rc = out_write(p, "prompt ids:", 11);
    for (int32_t i = 0; i < n && !rc; i++) {
        char b[16];
        snprintf(b, sizeof b, " %d", ids[i]);
        rc = out_write(p, b, strlen(b));
    }
    return rc ? rc : out_write(p, "\n", 1);
}

/* --top-logits: the K largest logits of the prompt's last position, largest first (ties: lower id). */
static int on_logits(void *ctx, int32_t seq, int32_t pos, const float *logits)
{
    Printer *p = ctx;
    (void)seq;
    int32_t k = p->top_logits < p->vocab ? p->top_logits : p->vocab;
    int32_t *best = malloc(sizeof *best * (size_t)k);
    if (!best)
        return -1;
    int32_t nb = 0;
    for (int32_t i = 0; i < p->vocab; i++) {
        int32_t j = nb < k ? nb++ : k;
        if (j == k && !(logits[i] > logits[best[k - 1]]))
            continue;
        if (j == k)
            j = k - 1;
        while (j > 0 && logits[i] > logits[best[j - 1]]) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = i;
    }
    char line[64];
    int rc = 0;
    snprintf(line, sizeof line, "top %d logits at position %d:\n", k, pos);
    rc |= out_write(p, line, strlen(line));
    for (int32_t i = 0; i < k && !rc; i++) {
        snprintf(line, sizeof line, "%d %.6f\n", best[i], logits[best[i]]);
        rc |= out_write(p, line, strlen(line));
    }
    free(best);
    return rc;
}

static int on_token(void *ctx, int32_t seq, int32_t token)
{
    Printer *p = ctx;
    if (p->top_logits)
        return 0;
    int32_t n;
    const int32_t *t = llmc_sched_tokens(p->sched, seq, &n);
    return emit_token(p, seq, t[n - 2], token);
}

static int on_done(void *ctx, int32_t seq, LlmcFinish why)
{
    (void)why;
    Printer *p = ctx;
    p->finished[p->n_finished++] = seq;
    if (p->top_logits)
        return 0;
    if (emit(p, seq, "\n", 1) != 0)
        return -1;
    buf_of(p, seq)->done = 1;
    p->n_done++;
    if (p->progress && p->n_total >= 0)
        fprintf(stderr, "[%d/%lld done]\n", p->n_done, (long long)p->n_total);
    else if (p->progress)
        fprintf(stderr, "[%d done]\n", p->n_done);
    /* The head moves past finished sequences; the next one's collected text goes out. */
    while (p->head < p->n_read && buf_of(p, p->head)->done) {
        *buf_of(p, p->head) = (OutBuf){0};
        if (++p->head == p->n_read)
            break;
        OutBuf *b = buf_of(p, p->head);
        if (b->len && out_write(p, b->data, b->len) != 0)
            return -1;
        free(b->data);
        *b = (OutBuf){.done = b->done};
    }
    return 0;
}

static LlmcSeqReq request(const LlmcGenPrompt *pr, const LlmcGenConfig *c)
{
    LlmcSeqReq r = {.prompt = pr->ids, .n_prompt = pr->n, .max_new = pr->max_new,
                    .logits_from = c->top_logits ? pr->n - 1 : -1, .sampler = c->sampler,
                    .seed = c->seed, .stop_ids = c->stop_ids, .n_stop = c->n_stop,
                    .ignore_eos = c->ignore_eos};
    if (c->top_logits)
        r.max_new = 1;
    return r;
}

/* Adds the next prompt and echoes its text. 1: added, 0: no more prompts, -1: error. */
static int add_next(Printer *pr, LlmcSched *s, LlmcGenSource next, void *next_ctx,
                    const LlmcGenConfig *c, char *err, size_t errlen)
{
    LlmcGenPrompt gp;
    int rc = next(next_ctx, &gp, err, errlen);
    if (rc <= 0)
        return rc;
    LlmcSeqReq req = request(&gp, c);
    if (c->top_logits && print_ids(pr, gp.ids, gp.n) != 0)
        return -1;
    int32_t id = llmc_sched_add(s, &req, err, errlen);
    if (id < 0)
        return -1;
    assert(id == pr->n_read && pr->n_read - pr->head < pr->window);
    pr->n_read++;
    for (int32_t k = 0; k < gp.n && !c->top_logits; k++)
        if (emit_token(pr, id, k ? gp.ids[k - 1] : -1, gp.ids[k]) != 0)
            return -1;
    return 1;
}

/* Reads prompts while the scheduler runs, keeping max_batch of them waiting and the window
 * from the head to the last read within the ring; forgets sequences as they finish. */
static int run(Printer *pr, LlmcSched *s, LlmcGenSource next, void *next_ctx,
               const LlmcGenConfig *c, char *err, size_t errlen)
{
    int more = 1;
    for (;;) {
        while (more && llmc_sched_n_waiting(s) < c->max_batch && pr->n_read - pr->head < pr->window) {
            more = add_next(pr, s, next, next_ctx, c, err, errlen);
            if (more < 0)
                return -1;
        }
        pr->n_finished = 0;
        int rc = llmc_sched_step(s, err, errlen);
        if (rc < 0)
            return -1;
        for (int32_t i = 0; i < pr->n_finished; i++)
            llmc_sched_forget(s, pr->finished[i]);
        if (rc == 0 && !more)
            return 0;
    }
}

int llmc_generate(LlmcEngine *e, LlmcGenSource next, void *next_ctx, const LlmcGenConfig *c,
                  FILE *out, LlmcSchedStats *stats, char *err, size_t errlen)
{
    Printer pr = {.out = out, .tok = c->tok, .progress = c->progress, .n_total = c->n_prompts,
                  .top_logits = c->top_logits, .vocab = e->desc->vocab_size,
                  .window = LLMC_GEN_WINDOW(c->max_batch)};
    LlmcSchedConfig sc = {.max_batch = c->max_batch};
    LlmcSchedHooks hooks = {.ctx = &pr, .on_token = on_token, .on_done = on_done,
                            .on_logits = on_logits};
    LlmcSched *s = NULL;
    int rc = 0;
    pr.ring = calloc((size_t)pr.window, sizeof *pr.ring);
    pr.finished = malloc((size_t)pr.window * sizeof *pr.finished);
    if (!pr.ring || !pr.finished)
        rc = llmc_rt_fail(err, errlen, "out of memory");
    else if (llmc_sched_create(&s, e, &sc, &hooks, err, errlen) != 0)
        rc = -1;
    pr.sched = s;
    if (rc == 0)
        rc = run(&pr, s, next, next_ctx, c, err, errlen);
    if (pr.write_error)
        rc = llmc_rt_fail(err, errlen, "cannot write the output: %s", strerror(pr.write_error));
    if (stats && s)
        *stats = *llmc_sched_stats(s);
    llmc_sched_destroy(s);
    for (int32_t i = 0; pr.ring && i < pr.window; i++)
        free(pr.ring[i].data);
    free(pr.ring);
    free(pr.finished);
    return rc;
}

int llmc_gen_array_next(void *ctx, LlmcGenPrompt *p, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    LlmcGenArray *a = ctx;
    if (a->next == a->n)
        return 0;
    *p = a->prompts[a->next++];
    return 1;
}

/* "1 450 8074" (spaces, tabs, commas or newlines between ids); what: the option, for messages
 * ("--ids: ..."), or NULL. */
static int parse_ids(const char *s, const char *what, int32_t vocab, int32_t **ids, int32_t *n_ids,
                     char *err, size_t errlen)
{
    const char *sep = what ? ": " : "";
    what = what ? what : "";
    size_t cap = strlen(s) / 2 + 1;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v)
        return llmc_rt_fail(err, errlen, "%s%sout of memory parsing token ids", what, sep);
    int32_t n = 0;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x >= vocab) {
            int len = (int)strcspn(p, " \t,\n\r");
            free(v);
            return llmc_rt_fail(err, errlen, "%s%s'%.*s' is not a token id (0..%d)", what, sep,
                                len, p, vocab - 1);
        }
        v[n++] = (int32_t)x;
        p = end;
    }
    if (n == 0) {
        free(v);
        return llmc_rt_fail(err, errlen, "%s%sno token ids given", what, sep);
    }
    *ids = v;
    *n_ids = n;
    return 0;
}

int llmc_parse_ids(const char *s, int32_t vocab, int32_t **ids, int32_t *n_ids, char *err,
                     size_t errlen)
{
    return parse_ids(s, "--ids", vocab, ids, n_ids, err, errlen);
}

int llmc_parse_ids_line(const char *s, int32_t vocab, int32_t **ids, int32_t *n_ids,
                        int64_t *max_new, char *err, size_t errlen)
{
    *max_new = -1;
    const char *colon = strchr(s, ':');
    if (colon) {
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        int digits = end != s;
        while (end < colon && (*end == ' ' || *end == '\t'))
            end++;
        if (!digits || end != colon || errno || n < 0 || n > INT32_MAX)
            return llmc_rt_fail(err, errlen, "'%.*s' before ':' is not a token count (0..%d)",
                                (int)(colon - s), s, INT32_MAX);
        *max_new = n;
        s = colon + 1;
    }
    return parse_ids(s, NULL, vocab, ids, n_ids, err, errlen);
}
