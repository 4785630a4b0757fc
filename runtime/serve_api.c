/* serve_api.c — see serve_api.h. Field by field checks of a request, then the prompt (text
 * encoded with BOS, as the command line does; ids as they are; chat through the template). */
#include "serve_api.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtutil.h"

void serve_params_free(ServeParams *p)
{
    free(p->prompt);
    for (int32_t i = 0; i < p->n_stop; i++)
        free(p->stop[i]);
    memset(p, 0, sizeof *p);
}

int serve_error(ServeError *e, int status, const char *type, const char *code, const char *param,
                const char *fmt, ...)
{
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int bad(ServeError *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A 400 invalid_request_error naming param. */
static int bad(ServeError *e, const char *param, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return serve_error(e, 400, "invalid_request_error", NULL, param, "%s", msg);
}

static int wrong_type(ServeError *e, const char *param, const char *want, const LlmcJson *v)
{
    return bad(e, param, "'%s' must be %s, found %s", param, want, llmc_json_type_name(v->type));
}

/* The member `name` unless absent or null. */
static const LlmcJson *field(const LlmcJson *o, const char *name)
{
    const LlmcJson *v = llmc_json_get(o, name);
    return v && v->type != LLMC_JSON_NULL ? v : NULL;
}

static int get_number(const LlmcJson *o, const char *name, double lo, double hi, int lo_open, double *out,
                      ServeError *e)
{
    const LlmcJson *v = field(o, name);
    if (!v)
        return 0;
    if (v->type != LLMC_JSON_NUMBER)
        return wrong_type(e, name, "a number", v);
    if (!isfinite(v->number) || v->number < lo || (lo_open && v->number == lo) || v->number > hi)
        return bad(e, name, "'%s' is %g, expected a number in %s%g, %g]", name, v->number,
                   lo_open ? "(" : "[", lo, hi);
    *out = v->number;
    return 0;
}

/* An integer field in lo..hi; found: 1 when given. */
static int get_int(const LlmcJson *o, const char *name, int64_t lo, int64_t hi, int64_t *out, int *found,
                   ServeError *e)
{
    const LlmcJson *v = field(o, name);
    if (found)
        *found = 0;
    if (!v)
        return 0;
    if (v->type != LLMC_JSON_NUMBER)
        return wrong_type(e, name, "an integer", v);
    if (!v->is_int)
        return bad(e, name, "'%s' must be an integer, found %g", name, v->number);
    if (v->integer < lo || v->integer > hi)
        return bad(e, name, "'%s' is %lld, expected an integer in %lld..%lld", name, (long long)v->integer,
                   (long long)lo, (long long)hi);
    *out = v->integer;
    if (found)
        *found = 1;
    return 0;
}

static int get_bool(const LlmcJson *o, const char *name, int *out, ServeError *e)
{
    const LlmcJson *v = field(o, name);
    if (!v)
        return 0;
    if (v->type != LLMC_JSON_BOOL)
        return wrong_type(e, name, "a boolean", v);
    *out = v->boolean;
    return 0;
}

/* Fields that would change the answer and are not implemented: refused unless off. */
static int unsupported(const LlmcJson *o, ServeKind kind, ServeError *e)
{
    int64_t n = 1;
    if (get_int(o, "n", 1, 1 << 20, &n, NULL, e))
        return -1;
    if (n != 1)
        return bad(e, "n", "'n' is %lld: this server returns one choice per request (n = 1)", (long long)n);
    if (kind == SERVE_COMPLETION) {
        int64_t best = 1;
        if (get_int(o, "best_of", 1, 1 << 20, &best, NULL, e))
            return -1;
        if (best != 1)
            return bad(e, "best_of", "'best_of' is %lld: only 1 is supported", (long long)best);
        const LlmcJson *v = field(o, "logprobs");
        if (v && !(v->type == LLMC_JSON_NUMBER && v->is_int && v->integer == 0))
            return bad(e, "logprobs", "'logprobs' is not supported by this server (leave it out or null)");
        v = field(o, "suffix");
        if (v && !(v->type == LLMC_JSON_STRING && v->len == 0))
            return bad(e, "suffix", "'suffix' is not supported by this server");
    } else {
        const LlmcJson *v = field(o, "logprobs");
        if (v && !(v->type == LLMC_JSON_BOOL && !v->boolean))
            return bad(e, "logprobs", "'logprobs' is not supported by this server (leave it out or false)");
        if (field(o, "top_logprobs"))
            return bad(e, "top_logprobs", "'top_logprobs' is not supported by this server");
        const LlmcJson *tools = field(o, "tools");
        if (tools && !(tools->type == LLMC_JSON_ARRAY && tools->count == 0))
            return bad(e, "tools", "'tools' (function calling) is not supported by this server");
    }
    static const char *const penalties[2] = {"presence_penalty", "frequency_penalty"};
    for (int i = 0; i < 2; i++) {
        double x = 0;
        if (get_number(o, penalties[i], -2, 2, 0, &x, e))
            return -1;
        if (x != 0)
            return bad(e, penalties[i], "'%s' is not supported by this server (only 0)", penalties[i]);
    }
    const LlmcJson *lb = field(o, "logit_bias");
    if (lb && !(lb->type == LLMC_JSON_OBJECT && lb->count == 0))
        return bad(e, "logit_bias", "'logit_bias' is not supported by this server");
    return 0;
}

static int get_stop(const LlmcJson *o, ServeParams *p, ServeError *e)
{
    const LlmcJson *v = field(o, "stop");
    if (!v)
        return 0;
    const LlmcJson *one = v->type == LLMC_JSON_STRING ? v : NULL;
    if (!one && v->type != LLMC_JSON_ARRAY)
        return wrong_type(e, "stop", "a string or an array of strings", v);
    if (!one && v->count > LLMC_SERVE_MAX_STOP)
        return bad(e, "stop", "'stop' has %d strings, at most %d are supported", v->count, LLMC_SERVE_MAX_STOP);
    for (const LlmcJson *s = one ? one : v->child; s; s = one ? NULL : s->next) {
        if (s->type != LLMC_JSON_STRING)
            return bad(e, "stop", "'stop' must hold strings, found %s", llmc_json_type_name(s->type));
        if (s->len == 0)
            return bad(e, "stop", "'stop' holds an empty string");
        if (s->len > LLMC_SERVE_MAX_STOP_LEN)
            return bad(e, "stop", "a stop string of %zu bytes, at most %d are supported", s->len,
                       LLMC_SERVE_MAX_STOP_LEN);
        char *c = malloc(s->len + 1);
        if (!c)
            return serve_error(e, 500, "server_error", NULL, NULL, "out of memory");
        memcpy(c, s->str, s->len + 1);
        p->stop[p->n_stop] = c;
        p->stop_len[p->n_stop++] = s->len;
    }
    return 0;
}

/* An array of token ids into p->prompt. */
static int ids_of(const LlmcJson *a, const ServeApiCtx *c, ServeParams *p, ServeError *e)
{
    if (a->count == 0)
        return bad(e, "prompt", "'prompt' is an empty array of token ids");
    p->prompt = malloc((size_t)a->count * sizeof *p->prompt);
    if (!p->prompt)
        return serve_error(e, 500, "server_error", NULL, NULL, "out of memory");
    for (const LlmcJson *x = a->child; x; x = x->next) {
        if (x->type != LLMC_JSON_NUMBER || !x->is_int || x->integer < 0 || x->integer >= c->desc->vocab_size)
            return bad(e, "prompt", "'prompt' token %d is not a token id (an integer in 0..%d)", p->n_prompt,
                       c->desc->vocab_size - 1);
        p->prompt[p->n_prompt++] = (int32_t)x->integer;
    }
    return 0;
}

static int completion_prompt(const LlmcJson *o, const ServeApiCtx *c, ServeParams *p, ServeError *e)
{
    const LlmcJson *v = field(o, "prompt");
    if (!v)
        return bad(e, "prompt", "'prompt' is required");
    if (v->type == LLMC_JSON_ARRAY && v->count >= 1 && v->child->type != LLMC_JSON_NUMBER) {
        if (v->count > 1)
            return bad(e, "prompt", "'prompt' holds %d prompts: this server takes one prompt per request",
                       v->count);
        v = v->child;
        if (v->type == LLMC_JSON_ARRAY)
            return ids_of(v, c, p, e);
    }
    if (v->type == LLMC_JSON_ARRAY)
        return ids_of(v, c, p, e);
    if (v->type != LLMC_JSON_STRING)
        return wrong_type(e, "prompt", "a string or an array of token ids", v);
    if (!c->tok)
        return bad(e, "prompt", "this model has no tokenizer: give 'prompt' as an array of token ids");
    char msg[512];
    if (llmc_tokenizer_encode(c->tok, v->str, v->len, LLMC_TOK_ADD_BOS, &p->prompt, &p->n_prompt, msg,
                              sizeof msg) != 0)
        return bad(e, "prompt", "'prompt' cannot be encoded: %s", msg);
    if (p->n_prompt == 0)
        return bad(e, "prompt", "'prompt' is empty and this model's tokenizer has no BOS token to start with");
    return 0;
}

/* The messages written back as an array of {"role", "content"} with string contents (a list of
 * text parts is joined with newlines), other members kept. */
static int chat_messages(const LlmcJson *o, LlmcText *out, ServeError *e)
{
    const LlmcJson *m = field(o, "messages");
    if (!m)
        return bad(e, "messages", "'messages' is required");
    if (m->type != LLMC_JSON_ARRAY)
        return wrong_type(e, "messages", "an array of messages", m);
    if (m->count == 0)
        return bad(e, "messages", "'messages' is empty");
    llmc_text_put(out, "[", 1);
    int32_t k = 0;
    for (const LlmcJson *msg = m->child; msg; msg = msg->next, k++) {
        char where[48];
        snprintf(where, sizeof where, "messages[%d]", k);
        if (msg->type != LLMC_JSON_OBJECT)
            return bad(e, where, "'%s' must be an object, found %s", where, llmc_json_type_name(msg->type));
        const LlmcJson *role = llmc_json_get(msg, "role");
        if (!role || role->type != LLMC_JSON_STRING)
            return bad(e, where, "'%s.role' must be a string", where);
        llmc_text_put(out, k ? ",{" : "{", k ? 2 : 1);
        int first = 1;
        for (const LlmcJson *f = msg->child; f; f = f->next) {
            if (f->key_len == 7 && memcmp(f->key, "content", 7) == 0 && f->type == LLMC_JSON_ARRAY) {
                LlmcText joined = {0};
                for (const LlmcJson *part = f->child; part; part = part->next) {
                    const LlmcJson *type = llmc_json_get(part, "type"), *text = llmc_json_get(part, "text");
                    if (!type || type->type != LLMC_JSON_STRING || strcmp(type->str, "text") != 0 || !text ||
                        text->type != LLMC_JSON_STRING) {
                        llmc_text_free(&joined);
                        return bad(e, where, "'%s.content' parts must be {\"type\": \"text\", \"text\": ...}: "
                                   "this server takes text only", where);
                    }
                    if (joined.n)
                        llmc_text_put(&joined, "\n", 1);
                    llmc_text_put(&joined, text->str, text->len);
                }
                if (!first)
                    llmc_text_put(out, ",", 1);
                llmc_text_cstr(out, "\"content\":");
                llmc_text_json_str(out, joined.p ? joined.p : "", joined.n);
                llmc_text_free(&joined);
                first = 0;
                continue;
            }
            if (f->key_len == 7 && memcmp(f->key, "content", 7) == 0 && f->type != LLMC_JSON_STRING &&
                f->type != LLMC_JSON_NULL)
                return bad(e, where, "'%s.content' must be a string or an array of text parts, found %s", where,
                           llmc_json_type_name(f->type));
            if (!first)
                llmc_text_put(out, ",", 1);
            llmc_text_json_str(out, f->key, f->key_len);
            llmc_text_put(out, ":", 1);
            llmc_text_json(out, f);
            first = 0;
        }
        llmc_text_put(out, "}", 1);
    }
    llmc_text_put(out, "]", 1);
    if (out->oom)
        return serve_error(e, 500, "server_error", NULL, NULL, "out of memory");
    return 0;
}

static int chat_prompt(const LlmcJson *o, const ServeApiCtx *c, ServeParams *p, ServeError *e)
{
    LlmcText msgs = {0}, extra = {0};
    int rc = chat_messages(o, &msgs, e);
    const LlmcJson *kw = field(o, "chat_template_kwargs");
    if (rc == 0 && kw && kw->type != LLMC_JSON_OBJECT)
        rc = wrong_type(e, "chat_template_kwargs", "an object", kw);
    if (rc == 0 && kw) {
        llmc_text_json(&extra, kw);
        if (extra.oom)
            rc = serve_error(e, 500, "server_error", NULL, NULL, "out of memory");
    }
    if (rc == 0 && !c->chat)
        rc = serve_error(e, 501, "invalid_request_error", "chat_template_missing", NULL, "%s",
                         c->chat_missing ? c->chat_missing : "this model has no chat template");
    if (rc == 0) {
        char msg[512];
        if (llmc_serve_chat_prompt(c->chat, msgs.p, kw ? extra.p : NULL, &p->prompt, &p->n_prompt, msg,
                                   sizeof msg) != 0)
            rc = bad(e, "messages", "the chat template cannot render these messages: %s", msg);
        else
            p->n_stop_ids = llmc_serve_chat_stop_ids(c->chat, p->stop_ids, LLMC_SERVE_MAX_STOP_IDS);
        if (rc == 0 && p->n_prompt == 0)
            rc = bad(e, "messages", "the chat template rendered an empty prompt");
    }
    llmc_text_free(&msgs);
    llmc_text_free(&extra);
    return rc;
}

int serve_parse_request(const ServeApiCtx *c, ServeKind kind, const char *body, size_t len,
                        ServeParams *p, ServeError *e)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    LlmcJsonDoc *doc = NULL;
    const LlmcJson *o = NULL;
    char msg[256];
    if (llmc_json_parse(body, len, &doc, &o, msg, sizeof msg) != 0)
        return bad(e, NULL, "the request body is not valid JSON: %s", msg);
    int rc = -1;
    if (o->type != LLMC_JSON_OBJECT) {
        bad(e, NULL, "the request body must be a JSON object, found %s", llmc_json_type_name(o->type));
        goto out;
    }
    const LlmcJson *model = field(o, "model");
    if (model && model->type != LLMC_JSON_STRING) {
        wrong_type(e, "model", "a string", model);
        goto out;
    }
    /* sampling: the request's, else the server's defaults */
    p->sampler = c->sampler;
    p->seed = c->seed;
    double x;
    int64_t k, mt = 0;
    int have_mt = 0;
    x = p->sampler.temperature;
    if (get_number(o, "temperature", 0, 2, 0, &x, e))
        goto out;
    p->sampler.temperature = (float)x;
    x = p->sampler.top_p;
    if (get_number(o, "top_p", 0, 1, 1, &x, e))
        goto out;
    p->sampler.top_p = (float)x;
    k = p->sampler.top_k;
    if (get_int(o, "top_k", -1, INT32_MAX, &k, NULL, e))
        goto out;
    p->sampler.top_k = k < 0 ? 0 : (int32_t)k;
    int64_t seed = 0;
    int have_seed = 0;
    if (get_int(o, "seed", INT64_MIN, INT64_MAX, &seed, &have_seed, e))
        goto out;
    if (have_seed)
        p->seed = (uint64_t)seed;
    if (get_int(o, "max_tokens", 0, INT32_MAX, &mt, &have_mt, e))
        goto out;
    if (kind == SERVE_CHAT && !have_mt && get_int(o, "max_completion_tokens", 0, INT32_MAX, &mt, &have_mt, e))
        goto out;
    if (get_bool(o, "stream", &p->stream, e))
        goto out;
    const LlmcJson *so = field(o, "stream_options");
    if (so) {
        if (so->type != LLMC_JSON_OBJECT) {
            wrong_type(e, "stream_options", "an object", so);
            goto out;
        }
        if (!p->stream) {
            bad(e, "stream_options", "'stream_options' is only allowed when 'stream' is true");
            goto out;
        }
        if (get_bool(so, "include_usage", &p->include_usage, e)) {
            snprintf(e->param, sizeof e->param, "stream_options.include_usage");
            goto out;
        }
    }
    if (kind == SERVE_COMPLETION && get_bool(o, "echo", &p->echo, e))
        goto out;
    if (unsupported(o, kind, e) || get_stop(o, p, e))
        goto out;
    if ((kind == SERVE_COMPLETION ? completion_prompt(o, c, p, e) : chat_prompt(o, c, p, e)) != 0)
        goto out;

    /* lengths: the prompt must fit the context; max_tokens is clamped to what is left */
    int32_t ctx = c->desc->max_seq_len;
    if (p->n_prompt > ctx) {
        serve_error(e, 400, "invalid_request_error", "context_length_exceeded",
                    kind == SERVE_CHAT ? "messages" : "prompt",
                    "this model's maximum context length is %d tokens; the prompt has %d tokens", ctx,
                    p->n_prompt);
        goto out;
    }
    int64_t want = have_mt ? mt : kind == SERVE_COMPLETION ? 16 : ctx;
    p->max_new = (int32_t)(want < ctx - p->n_prompt ? want : ctx - p->n_prompt);
    int64_t positions = (int64_t)p->n_prompt + (p->max_new > 0 ? p->max_new - 1 : 0);
    if (positions > c->kv_positions) {
        serve_error(e, 400, "invalid_request_error", "context_length_exceeded", "max_tokens",
                    "this request needs %lld positions of the KV cache and the server's KV cache holds "
                    "%d for one sequence (--kv-blocks / --kv-mem): lower 'max_tokens' or the prompt",
                    (long long)positions, c->kv_positions);
        goto out;
    }
    rc = 0;
out:
    llmc_json_free(doc);
    return rc;
}

void serve_error_json(LlmcText *t, const ServeError *e)
{
    llmc_text_cstr(t, "{\"error\":{\"message\":");
    llmc_text_json_str(t, e->message, strlen(e->message));
    llmc_text_cstr(t, ",\"type\":");
    llmc_text_json_str(t, e->type, strlen(e->type));
    llmc_text_cstr(t, ",\"param\":");
    if (e->param[0])
        llmc_text_json_str(t, e->param, strlen(e->param));
    else
        llmc_text_cstr(t, "null");
    llmc_text_cstr(t, ",\"code\":");
    if (e->code)
        llmc_text_json_str(t, e->code, strlen(e->code));
    else
        llmc_text_cstr(t, "null");
    llmc_text_cstr(t, "}}");
}

static void head(LlmcText *t, const ServeIdent *id, const char *object)
{
    llmc_text_cstr(t, "{\"id\":");
    llmc_text_json_str(t, id->id, strlen(id->id));
    llmc_text_printf(t, ",\"object\":\"%s\",\"created\":%lld,\"model\":", object, (long long)id->created);
    llmc_text_json_str(t, id->model, strlen(id->model));
}

static void usage_json(LlmcText *t, const ServeUsage *u)
{
    llmc_text_printf(t, "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                     u->prompt_tokens, u->completion_tokens, u->prompt_tokens + u->completion_tokens);
}

static void finish_json(LlmcText *t, const char *finish)
{
    llmc_text_cstr(t, "\"finish_reason\":");
    if (finish)
        llmc_text_printf(t, "\"%s\"", finish);
    else
        llmc_text_cstr(t, "null");
}

void serve_response_json(LlmcText *t, const ServeIdent *id, const char *prefix, size_t prefix_len,
                         const char *text, size_t len, const char *finish, const ServeUsage *u)
{
    if (id->kind == SERVE_COMPLETION) {
        head(t, id, "text_completion");
        llmc_text_cstr(t, ",\"choices\":[{\"index\":0,\"text\":");
        if (prefix_len) {
            /* one string: the prompt's text then the completion (invalid UTF-8 across the seam is
             * replaced as anywhere else) */
            LlmcText both = {0};
            llmc_text_put(&both, prefix, prefix_len);
            llmc_text_put(&both, text, len);
            if (both.oom)
                t->oom = 1;
            llmc_text_json_str(t, both.p ? both.p : "", both.n);
            llmc_text_free(&both);
        } else {
            llmc_text_json_str(t, text, len);
        }
        llmc_text_cstr(t, ",\"logprobs\":null,");
    } else {
        head(t, id, "chat.completion");
        llmc_text_cstr(t, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
        llmc_text_json_str(t, text, len);
        llmc_text_cstr(t, "},\"logprobs\":null,");
    }
    finish_json(t, finish);
    llmc_text_cstr(t, "}],");
    usage_json(t, u);
    llmc_text_cstr(t, "}");
}

void serve_chunk_sse(LlmcText *t, const ServeIdent *id, int first, const char *text, size_t len,
                     const char *finish, int with_usage_null)
{
    llmc_text_cstr(t, "data: ");
    if (id->kind == SERVE_COMPLETION) {
        head(t, id, "text_completion");
        llmc_text_cstr(t, ",\"choices\":[{\"index\":0,\"text\":");
        llmc_text_json_str(t, text, len);
        llmc_text_cstr(t, ",\"logprobs\":null,");
    } else {
        head(t, id, "chat.completion.chunk");
        llmc_text_cstr(t, ",\"choices\":[{\"index\":0,\"delta\":{");
        if (first)
            llmc_text_cstr(t, "\"role\":\"assistant\",\"content\":\"\"");
        else if (len || !finish) {
            llmc_text_cstr(t, "\"content\":");
            llmc_text_json_str(t, text, len);
        }
        llmc_text_cstr(t, "},\"logprobs\":null,");
    }
    finish_json(t, finish);
    llmc_text_cstr(t, "}]");
    if (with_usage_null)
        llmc_text_cstr(t, ",\"usage\":null");
    llmc_text_cstr(t, "}\n\n");
}

void serve_usage_sse(LlmcText *t, const ServeIdent *id, const ServeUsage *u)
{
    llmc_text_cstr(t, "data: ");
    head(t, id, id->kind == SERVE_COMPLETION ? "text_completion" : "chat.completion.chunk");
    llmc_text_cstr(t, ",\"choices\":[],");
    usage_json(t, u);
    llmc_text_cstr(t, "}\n\n");
}
