/* chat.c — see chat.h. The prompt of a conversation (template + tokenizer) and the interactive
 * chat loop: each turn renders the whole history, prefills it as one new sequence of the
 * scheduler (no cache across turns: simple, and a turn is as long as its prompt) and streams the
 * reply through the UTF-8-aware decoder.
 */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rtutil.h"
#include "scheduler.h"

struct LlmcChat {
    const LlmcTokenizer *tok;
    LlmcJinja *tpl;
    char *specials;     /* ", \"bos_token\": \"...\", ..." for the context */
    size_t specials_len;
};

static void text_quote(LlmcText *t, const char *s, size_t n)
{
    if (!t->oom && llmc_json_quote(&t->p, &t->n, &t->cap, s, n))
        t->oom = 1;
}

int llmc_chat_open(LlmcChat **out, const LlmcTokenizer *tok, char *err, size_t errlen)
{
    *out = NULL;
    size_t len = 0;
    const char *src = llmc_tokenizer_string(tok, "chat_template", &len);
    if (!src)
        return llmc_rt_fail(err, errlen, "this model's tokenizer has no chat template (tokenizer_config.json's "
                                         "chat_template, or llmc compile --chat-template FILE)");
    LlmcChat *c = calloc(1, sizeof *c);
    if (!c)
        return llmc_rt_fail(err, errlen, "out of memory");
    c->tok = tok;
    char perr[512];
    if (llmc_jinja_parse(src, len, &c->tpl, perr, sizeof perr)) {
        free(c);
        return llmc_rt_fail(err, errlen, "chat template: %s", perr);
    }
    LlmcText t = {NULL, 0, 0, 0};
    static const char *const names[4] = {"bos_token", "eos_token", "pad_token", "unk_token"};
    for (int i = 0; i < 4; i++) {
        size_t n = 0;
        const char *v = llmc_tokenizer_string(tok, names[i], &n);
        if (!v)
            continue;
        llmc_text_cstr(&t, ", \"");
        llmc_text_cstr(&t, names[i]);
        llmc_text_cstr(&t, "\": ");
        text_quote(&t, v, n);
    }
    if (t.oom) {
        free(t.p);
        llmc_chat_close(c);
        return llmc_rt_fail(err, errlen, "out of memory");
    }
    c->specials = t.p;
    c->specials_len = t.n;
    *out = c;
    return 0;
}

void llmc_chat_close(LlmcChat *c)
{
    if (!c)
        return;
    llmc_jinja_free(c->tpl);
    free(c->specials);
    free(c);
}

/* Renders the context ctx (JSON text) and encodes the result. */
static int render(const LlmcChat *c, const char *ctx, size_t ctx_len, char **text, size_t *text_len, int32_t **ids,
                  int32_t *n_ids, char *err, size_t errlen)
{
    char *out = NULL;
    size_t out_len = 0;
    char rerr[600];
    if (llmc_jinja_render(c->tpl, ctx, ctx_len, &out, &out_len, rerr, sizeof rerr))
        return llmc_rt_fail(err, errlen, "chat template: %s", rerr);
    if (ids && llmc_tokenizer_encode(c->tok, out, out_len, LLMC_TOK_SPECIAL, ids, n_ids, rerr, sizeof rerr)) {
        free(out);
        return llmc_rt_fail(err, errlen, "chat prompt: %s", rerr);
    }
    if (text_len)
        *text_len = out_len;
    if (text)
        *text = out;
    else
        free(out);
    return 0;
}

/* The members of a JSON object's text, without its braces (NULL when it is not an object). */
static const char *members(const char *json, size_t len, size_t *n)
{
    size_t a = 0, b = len;
    while (a < b && (json[a] == ' ' || json[a] == '\n' || json[a] == '\t' || json[a] == '\r'))
        a++;
    while (b > a && (json[b - 1] == ' ' || json[b - 1] == '\n' || json[b - 1] == '\t' || json[b - 1] == '\r'))
        b--;
    if (b - a < 2 || json[a] != '{' || json[b - 1] != '}')
        return NULL;
    a++;
    b--;
    while (a < b && (json[a] == ' ' || json[a] == '\n' || json[a] == '\t' || json[a] == '\r'))
        a++;
    *n = b - a;
    return json + a;
}

int llmc_chat_prompt(const LlmcChat *c, const char *messages_json, const char *extra_json,
                     int add_generation_prompt, char **text, int32_t **ids, int32_t *n_ids, char *err,
                     size_t errlen)
{
    if (text)
        *text = NULL;
    *ids = NULL;
    *n_ids = 0;
    LlmcText ctx = {NULL, 0, 0, 0};
    llmc_text_cstr(&ctx, "{\"messages\": ");
    llmc_text_cstr(&ctx, messages_json);
    llmc_text_cstr(&ctx, add_generation_prompt ? ", \"add_generation_prompt\": true" : ", \"add_generation_prompt\": false");
    if (c->specials)
        llmc_text_put(&ctx, c->specials, c->specials_len);
    if (extra_json) {   /* the members of the extra object, after the others (they win) */
        size_t n = 0;
        const char *m = members(extra_json, strlen(extra_json), &n);
        if (!m) {
            free(ctx.p);
            return llmc_rt_fail(err, errlen, "the extra template variables are not a JSON object");
        }
        if (n) {
            llmc_text_cstr(&ctx, ", ");
            llmc_text_put(&ctx, m, n);
        }
    }
    llmc_text_cstr(&ctx, "}");
    int rc = ctx.oom ? llmc_rt_fail(err, errlen, "out of memory")
                     : render(c, ctx.p, ctx.n, text, NULL, ids, n_ids, err, errlen);
    free(ctx.p);
    return rc;
}

int llmc_chat_render(const LlmcChat *c, const char *json, size_t len, char **text, size_t *text_len,
                     int32_t **ids, int32_t *n_ids, char *err, size_t errlen)
{
    *text = NULL;
    if (ids) {
        *ids = NULL;
        *n_ids = 0;
    }
    size_t a = 0;
    while (a < len && (json[a] == ' ' || json[a] == '\n' || json[a] == '\t' || json[a] == '\r'))
        a++;
    if (a < len && json[a] == '[') {   /* messages alone */
        LlmcText t = {NULL, 0, 0, 0};
        llmc_text_put(&t, json + a, len - a);
        if (t.oom)
            return llmc_rt_fail(err, errlen, "out of memory");
        int32_t *tmp_ids = NULL, tmp_n = 0;
        int rc = llmc_chat_prompt(c, t.p, NULL, 1, text, ids ? ids : &tmp_ids, ids ? n_ids : &tmp_n, err, errlen);
        free(tmp_ids);
        if (!rc && text_len)
            *text_len = strlen(*text);
        free(t.p);
        return rc;
    }
    size_t n = 0;
    const char *m = members(json, len, &n);
    if (!m)
        return llmc_rt_fail(err, errlen, "expected a JSON object of template variables or an array of messages");
    /* the tokenizer's strings first, then the given members (which win) */
    LlmcText ctx = {NULL, 0, 0, 0};
    llmc_text_cstr(&ctx, "{");
    if (c->specials_len > 2)   /* ", \"bos_token\": ..." without its first comma */
        llmc_text_put(&ctx, c->specials + 2, c->specials_len - 2);
    if (n) {
        if (c->specials_len > 2)
            llmc_text_cstr(&ctx, ", ");
        llmc_text_put(&ctx, m, n);
    }
    llmc_text_cstr(&ctx, "}");
    int rc = ctx.oom ? llmc_rt_fail(err, errlen, "out of memory")
                     : render(c, ctx.p, ctx.n, text, text_len, ids, n_ids, err, errlen);
    free(ctx.p);
    return rc;
}

int32_t llmc_chat_stop_ids(const LlmcChat *c, int32_t *ids, int32_t max)
{
    int32_t n = 0, eos = llmc_tokenizer_eos(c->tok);
    if (eos >= 0 && n < max)
        ids[n++] = eos;
    return n;
}

/* ---- the interactive loop ---- */

typedef struct Turn {
    LlmcDetok *detok;
    FILE *out;
    int write_error;
} Turn;

static int on_token(void *ctx, int32_t seq, int32_t token)
{
    (void)seq;
    Turn *t = ctx;
    size_t n = 0;
    const char *s = llmc_detok_put(t->detok, token, &n);
    if (!s || (n && fwrite(s, 1, n, t->out) != n) || fflush(t->out) != 0) {
        t->write_error = 1;
        return -1;
    }
    return 0;
}

/* Appends {"role": role, "content": content} to the messages array being built (no closing ]). */
static void add_message(LlmcText *h, const char *role, const char *content, size_t n)
{
    llmc_text_cstr(h, h->n > 1 ? ", {\"role\": " : "{\"role\": ");
    text_quote(h, role, strlen(role));
    llmc_text_cstr(h, ", \"content\": ");
    text_quote(h, content, n);
    llmc_text_cstr(h, "}");
}

static void reset(LlmcText *h, const char *system)
{
    h->n = 0;
    llmc_text_cstr(h, "[");
    if (system)
        add_message(h, "system", system, strlen(system));
}

int llmc_chat_run(LlmcEngine *e, const LlmcChat *c, const LlmcChatOptions *o, FILE *in, FILE *out,
                  char *err, size_t errlen)
{
    const LlmcModelDesc *d = e->desc;
    LlmcText hist = {NULL, 0, 0, 0};
    char *line = NULL;
    size_t line_cap = 0;
    int rc = 0;
    int32_t stop[4];
    int32_t n_stop = llmc_chat_stop_ids(c, stop, 4);
    reset(&hist, o->system);
    for (uint64_t turn = 0; rc == 0; turn++) {
        if (o->prompt) {
            fputs("> ", stderr);
            fflush(stderr);
        }
        ssize_t got = getline(&line, &line_cap, in);
        if (got < 0)
            break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = 0;
        if (got == 0)
            continue;
        if (strcmp(line, "/exit") == 0)
            break;
        if (strcmp(line, "/reset") == 0) {
            reset(&hist, o->system);
            fprintf(stderr, "(the conversation starts over)\n");
            continue;
        }
        size_t before = hist.n;
        add_message(&hist, "user", line, (size_t)got);
        llmc_text_cstr(&hist, "]");
        if (hist.oom) {
            rc = llmc_rt_fail(err, errlen, "out of memory");
            break;
        }
        int32_t *ids = NULL, n = 0;
        if (llmc_chat_prompt(c, hist.p, NULL, 1, NULL, &ids, &n, err, errlen)) {
            rc = -1;
            break;
        }
        hist.n--;   /* the "]" again */
        if (n >= d->max_seq_len) {
            fprintf(stderr, "(the conversation has %d tokens and no longer fits the context of %d: /reset "
                            "starts over)\n", n, d->max_seq_len);
            hist.n = before;
            free(ids);
            continue;
        }
        int32_t room = d->max_seq_len - n;
        LlmcSeqReq req = {.prompt = ids, .n_prompt = n, .max_new = o->max_new > 0 && o->max_new < room ? o->max_new
                                                                                                       : room,
                          .logits_from = -1, .sampler = o->sampler, .seed = o->seed + turn, .stop_ids = stop,
                          .n_stop = n_stop};
        Turn t = {llmc_detok_new(c->tok, 0), out, 0};
        LlmcSchedHooks hooks = {.ctx = &t, .on_token = on_token};
        LlmcSchedConfig sc = {.max_batch = 1};
        LlmcSched *s = NULL;
        int32_t seq = -1;
        if (!t.detok) {
            rc = llmc_rt_fail(err, errlen, "out of memory");
        } else if (llmc_sched_create(&s, e, &sc, &hooks, err, errlen) || (seq = llmc_sched_add(s, &req, err, errlen)) < 0 ||
                   llmc_sched_run(s, err, errlen)) {
            rc = -1;
            if (t.write_error)
                llmc_rt_fail(err, errlen, "cannot write the reply");
        }
        free(ids);
        if (rc == 0) {
            size_t k = 0;
            const char *rest = llmc_detok_flush(t.detok, &k);
            fwrite(rest, 1, k, out);
            fputc('\n', out);
            fflush(out);
            /* the reply joins the history as the text it decodes to */
            int32_t nt = 0;
            const int32_t *toks = llmc_sched_tokens(s, seq, &nt);
            LlmcText reply = {NULL, 0, 0, 0};
            LlmcDetok *dt = llmc_detok_new(c->tok, 0);
            for (int32_t i = llmc_sched_n_prompt(s, seq); dt && i < nt; i++) {
                size_t m = 0;
                const char *p = llmc_detok_put(dt, toks[i], &m);
                if (p)
                    llmc_text_put(&reply, p, m);
            }
            if (dt) {
                const char *p = llmc_detok_flush(dt, &k);
                llmc_text_put(&reply, p, k);
            }
            llmc_detok_free(dt);
            add_message(&hist, "assistant", reply.p ? reply.p : "", reply.n);
            if (reply.oom || hist.oom || !dt)
                rc = llmc_rt_fail(err, errlen, "out of memory");
            free(reply.p);
        }
        llmc_sched_destroy(s);
        llmc_detok_free(t.detok);
    }
    free(line);
    free(hist.p);
    return rc;
}
