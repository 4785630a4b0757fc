/* server.c — the HTTP half of the server (server.h): libmicrohttpd with one thread per
 * connection, the routes, the API key, request bodies, and the answers (whole JSON or a stream of
 * server-sent events). The engine half is serve_engine.c.
 *
 * A connection thread that waits for the model (a whole answer, or the next piece of a stream)
 * blocks in poll() on its request's eventfd and on its socket with POLLRDHUP: new text wakes it,
 * and so does a client that hangs up, whose request is then cancelled. While it waits for the
 * model, libmicrohttpd's idle timeout is off for the connection (a request queued behind others
 * is not idle); it is on again while bytes move, so a client that stops reading is dropped.
 */
#include "server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rtutil.h"
#include "serve_impl.h"

/* ---- routes ---- */

static const struct Route {
    const char *path;
    ServeEndpoint ep;
    int post;                   /* POST with a body; else GET (and HEAD) */
} kRoutes[] = {
    {"/v1/completions", EP_COMPLETIONS, 1},
    {"/v1/chat/completions", EP_CHAT, 1},
    {"/v1/models", EP_MODELS, 0},
    {"/health", EP_HEALTH, 0},
    {"/metrics", EP_METRICS, 0},
};

/* One connection's request. */
typedef struct Conn {
    const struct Route *route;
    LlmcText body;
    size_t discarded;           /* body bytes dropped beyond max_body */
    int answered;               /* a response was queued */
    int status;
    ServeReq *req;
    double t0;
} Conn;

/* A streaming response's state (the reader's cls; freed by libmicrohttpd with the response). */
typedef struct Stream {
    LlmcServer *s;
    ServeReq *r;
    struct MHD_Connection *mc;
    int sock;
    LlmcText out;               /* events not yet handed to libmicrohttpd */
    size_t out_pos;
    size_t sent;                /* bytes of r->text in events so far */
    int started;                /* the first event (chat: the role; echo: the prompt) went out */
    int ended;                  /* the last event is in out */
} Stream;

static void server_log(const LlmcServer *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void server_log(const LlmcServer *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", s->cfg.prog, line);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    LlmcServer *s = cls;
    if (!s->cfg.verbose)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    server_log(s, "http: %s", line);
}

/* ---- answers ---- */

static enum MHD_Result queue(LlmcServer *s, struct MHD_Connection *mc, Conn *c, int status, const char *type,
                             const char *body, size_t len, int retry_after)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, c->route && c->route->post ? "POST" : "GET, HEAD");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result rc = MHD_queue_response(mc, (unsigned)status, resp);
    MHD_destroy_response(resp);
    c->answered = 1;
    c->status = status;
    pthread_mutex_lock(&s->mu);
    serve_count_request(s, c->route ? c->route->ep : EP_OTHER, status);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static enum MHD_Result answer_error(LlmcServer *s, struct MHD_Connection *mc, Conn *c, const ServeError *e,
                                    int retry_after)
{
    LlmcText t = {0};
    serve_error_json(&t, e);
    if (t.oom) {
        llmc_text_free(&t);
        return MHD_NO;
    }
    enum MHD_Result rc = queue(s, mc, c, e->status, "application/json", t.p, t.n, retry_after);
    llmc_text_free(&t);
    return rc;
}

static enum MHD_Result fail(LlmcServer *s, struct MHD_Connection *mc, Conn *c, int status, const char *type,
                            const char *code, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static enum MHD_Result fail(LlmcServer *s, struct MHD_Connection *mc, Conn *c, int status, const char *type,
                            const char *code, const char *fmt, ...)
{
    ServeError e;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    serve_error(&e, status, type, code, NULL, "%s", msg);
    return answer_error(s, mc, c, &e, 0);
}

static enum MHD_Result answer_text(LlmcServer *s, struct MHD_Connection *mc, Conn *c, int status,
                                   const char *type, LlmcText *t)
{
    if (t->oom) {
        llmc_text_free(t);
        return fail(s, mc, c, 500, "server_error", NULL, "out of memory");
    }
    enum MHD_Result rc = queue(s, mc, c, status, type, t->p ? t->p : "", t->n, 0);
    llmc_text_free(t);
    return rc;
}

/* ---- waiting for the model ---- */

static int conn_socket(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Blocks until the engine changes r (0) or the client hangs up (-1). The connection's idle
 * timeout is off meanwhile, and restarts from now afterwards. */
static int wait_change(LlmcServer *s, struct MHD_Connection *mc, ServeReq *r, int sock)
{
    struct pollfd pf[2] = {{.fd = r->efd, .events = POLLIN}, {.fd = sock, .events = POLLRDHUP}};
    nfds_t n = sock >= 0 ? 2 : 1;
    MHD_set_connection_option(mc, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    int rc = -1;
    for (;;) {
        if (poll(pf, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (n == 2 && (pf[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
            break;
        if (pf[0].revents & POLLIN) {
            uint64_t v;
            ssize_t got = read(r->efd, &v, sizeof v);
            (void)got;
            rc = 0;
            break;
        }
    }
    MHD_set_connection_option(mc, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)s->cfg.timeout_s);
    return rc;
}

/* ---- streams ---- */

/* The next events of a stream into st->out: what text is ready, or the end. 0, or -1 when the
 * client went away. */
static int stream_fill(Stream *st)
{
    LlmcServer *s = st->s;
    ServeReq *r = st->r;
    const ServeIdent *id = &r->ident;
    int usage_null = r->prm.include_usage;
    if (!st->started) {
        /* chat: the role first; echo: the prompt's text first */
        st->started = 1;
        if (r->prm.kind == SERVE_CHAT || r->prompt_text_len) {
            serve_chunk_sse(&st->out, id, r->prm.kind == SERVE_CHAT, r->prompt_text, r->prompt_text_len, NULL,
                            usage_null);
            return 0;
        }
    }
    for (;;) {
        /* the new text is copied under the lock, the events are written outside it; once the
         * request is done nothing in it changes any more */
        LlmcText piece = {0};
        pthread_mutex_lock(&s->mu);
        int done = r->state == REQ_DONE;
        if (r->ready > st->sent) {
            llmc_text_put(&piece, r->text.p + st->sent, r->ready - st->sent);
            st->sent = r->ready;
        }
        pthread_mutex_unlock(&s->mu);
        if (piece.n)
            serve_chunk_sse(&st->out, id, 0, piece.p, piece.n, NULL, usage_null);
        if (piece.oom)
            st->out.oom = 1;
        llmc_text_free(&piece);
        if (done) {
            if (r->failed[0] && r->fail_status != 499) {
                ServeError e;
                serve_error(&e, r->fail_status, "server_error", NULL, NULL, "%s", r->failed);
                llmc_text_cstr(&st->out, "data: ");
                serve_error_json(&st->out, &e);
                llmc_text_cstr(&st->out, "\n\n");
            } else if (!r->failed[0]) {
                serve_chunk_sse(&st->out, id, 0, "", 0, r->finish ? r->finish : "stop", usage_null);
                if (r->prm.include_usage) {
                    ServeUsage u = {r->prm.n_prompt, r->n_gen};
                    serve_usage_sse(&st->out, id, &u);
                }
            }
            llmc_text_cstr(&st->out, "data: [DONE]\n\n");
            st->ended = 1;
        }
        if (st->out.n > st->out_pos || st->ended)
            return 0;
        if (wait_change(s, st->mc, r, st->sock) != 0)
            return -1;
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    Stream *st = cls;
    if (st->out_pos == st->out.n) {
        st->out.n = st->out_pos = 0;
        if (st->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (stream_fill(st) != 0) {
            pthread_mutex_lock(&st->s->mu);
            serve_gone(st->s, st->r);
            pthread_mutex_unlock(&st->s->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (st->out.oom)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (st->out.n == 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = st->out.n - st->out_pos < max ? st->out.n - st->out_pos : max;
    memcpy(buf, st->out.p + st->out_pos, n);
    st->out_pos += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    Stream *st = cls;
    pthread_mutex_lock(&st->s->mu);
    serve_gone(st->s, st->r);
    serve_req_unref(st->s, st->r);
    pthread_mutex_unlock(&st->s->mu);
    llmc_text_free(&st->out);
    free(st);
}

/* ---- the model endpoints ---- */

static int key_ok(const char *got, const char *want)
{
    static const char bearer[] = "Bearer ";
    size_t gl = got ? strlen(got) : 0, wl = strlen(want), n = wl + sizeof bearer - 1;
    /* Every byte of the expected value is compared, whatever differs first: the time does not
     * depend on where a guess goes wrong. */
    unsigned diff = gl != n;
    for (size_t i = 0; i < n; i++) {
        unsigned char g = gl ? (unsigned char)got[i % gl] : 0;
        unsigned char w = i < sizeof bearer - 1 ? (unsigned char)bearer[i] : (unsigned char)want[i - (sizeof bearer - 1)];
        diff |= (unsigned)(g ^ w);
    }
    return diff == 0;
}

static void prompt_text(const LlmcServer *s, ServeReq *r)
{
    LlmcText t = {0};
    for (int32_t k = 0; k < r->prm.n_prompt; k++) {
        char piece[1024];
        size_t n;
        int32_t prev = k ? r->prm.prompt[k - 1] : -1, id = r->prm.prompt[k];
        if (s->tok)
            n = llmc_tokenizer_decode(s->tok, prev, id, piece, sizeof piece);
        else
            n = (size_t)snprintf(piece, sizeof piece, prev < 0 ? "%d" : " %d", id);
        llmc_text_put(&t, piece, n);
    }
    r->prompt_text = t.p;
    r->prompt_text_len = t.n;
}

static enum MHD_Result generate(LlmcServer *s, struct MHD_Connection *mc, Conn *c)
{
    pthread_mutex_lock(&s->mu);
    int loaded = s->ready, stopping = s->stopping;
    pthread_mutex_unlock(&s->mu);
    if (!loaded || stopping)
        return fail(s, mc, c, 503, "server_error", "model_not_ready", "the model is %s",
                    loaded ? "shutting down" : "still loading (GET /health answers 200 once it is ready)");
    ServeKind kind = c->route->ep == EP_CHAT ? SERVE_CHAT : SERVE_COMPLETION;
    ServeError e;
    ServeParams p;
    if (serve_parse_request(&s->api, kind, c->body.p ? c->body.p : "", c->body.n, &p, &e) != 0) {
        serve_params_free(&p);
        return answer_error(s, mc, c, &e, 0);
    }
    ServeReq *r = serve_req_new();
    if (!r) {
        serve_params_free(&p);
        return fail(s, mc, c, 500, "server_error", NULL, "out of memory");
    }
    r->prm = p;
    r->ident.kind = kind;
    r->ident.created = (int64_t)time(NULL);
    r->ident.model = s->cfg.model_name;
    if (p.echo)
        prompt_text(s, r);
    int status = 0;
    pthread_mutex_lock(&s->mu);
    snprintf(r->ident.id, sizeof r->ident.id, "%s-%llu", kind == SERVE_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)++s->next_id);
    int rc = serve_submit(s, r, &status);
    int retry = rc ? serve_retry_after(s) : 0;
    if (rc)
        serve_req_unref(s, r);
    pthread_mutex_unlock(&s->mu);
    if (rc && status == 429) {
        serve_error(&e, 429, "rate_limit_error", "queue_full", NULL,
                    "the server's queue is full (%d requests wait beyond those running): retry later",
                    s->cfg.max_queue);
        return answer_error(s, mc, c, &e, retry);
    }
    if (rc)
        return fail(s, mc, c, 503, "server_error", "model_not_ready", "the server is shutting down");
    c->req = r;
    int sock = conn_socket(mc);

    if (p.stream) {
        Stream *st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;      /* the completion callback cancels the request */
        st->s = s;
        st->r = r;
        st->mc = mc;
        st->sock = sock;
        pthread_mutex_lock(&s->mu);
        r->refs++;
        pthread_mutex_unlock(&s->mu);
        struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st,
                                                                      stream_free);
        if (!resp) {
            stream_free(st);
            return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        enum MHD_Result q = MHD_queue_response(mc, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        c->answered = 1;
        c->status = 200;
        pthread_mutex_lock(&s->mu);
        serve_count_request(s, c->route->ep, 200);
        pthread_mutex_unlock(&s->mu);
        return q;
    }

    /* the whole answer */
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int done = r->state == REQ_DONE;
        pthread_mutex_unlock(&s->mu);
        if (done)
            break;
        if (wait_change(s, mc, r, sock) != 0)
            return MHD_NO;      /* the client hung up: the completion callback cancels it */
    }
    if (r->failed[0])
        return fail(s, mc, c, r->fail_status == 499 ? 500 : r->fail_status, "server_error", NULL, "%s",
                    r->failed);
    LlmcText t = {0};
    ServeUsage u = {r->prm.n_prompt, r->n_gen};
    serve_response_json(&t, &r->ident, r->prompt_text, r->prompt_text_len, r->text.p ? r->text.p : "",
                        r->text.n, r->finish ? r->finish : "stop", &u);
    return answer_text(s, mc, c, 200, "application/json", &t);
}

/* ---- the other endpoints ---- */

static enum MHD_Result get_endpoint(LlmcServer *s, struct MHD_Connection *mc, Conn *c)
{
    LlmcText t = {0};
    switch (c->route->ep) {
    case EP_HEALTH: {
        pthread_mutex_lock(&s->mu);
        int ready = s->ready, stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        llmc_text_printf(&t, "{\"status\":\"%s\"}", stopping ? "stopping" : ready ? "ok" : "loading");
        return answer_text(s, mc, c, ready && !stopping ? 200 : 503, "application/json", &t);
    }
    case EP_MODELS:
        llmc_text_cstr(&t, "{\"object\":\"list\",\"data\":[{\"id\":");
        llmc_text_json_str(&t, s->cfg.model_name, strlen(s->cfg.model_name));
        llmc_text_printf(&t, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"llmc\",\"max_model_len\":%d}]}",
                         (long long)s->started, s->max_model_len);
        return answer_text(s, mc, c, 200, "application/json", &t);
    case EP_METRICS:
        pthread_mutex_lock(&s->mu);
        serve_metrics_text(s, &t);
        pthread_mutex_unlock(&s->mu);
        return answer_text(s, mc, c, 200, "text/plain; version=0.0.4; charset=utf-8", &t);
    default:
        return fail(s, mc, c, 404, "invalid_request_error", "unknown_url", "no such endpoint");
    }
}

/* ---- libmicrohttpd's callbacks ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    LlmcServer *s = cls;
    Conn *c = *con_cls;
    if (!c) {
        /* The headers are in: route, method, key and announced size are checked now. */
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        *con_cls = c;
        c->t0 = llmc_rt_now();
        for (size_t i = 0; i < sizeof kRoutes / sizeof kRoutes[0] && !c->route; i++)
            if (strcmp(url, kRoutes[i].path) == 0)
                c->route = &kRoutes[i];
        int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        if (!c->route)
            return fail(s, mc, c, 404, "invalid_request_error", "unknown_url", "unknown request URL: %.16s %.200s",
                        method, url);
        if (c->route->post ? strcmp(method, "POST") != 0 : !is_get)
            return fail(s, mc, c, 405, "invalid_request_error", "method_not_allowed", "%.16s %s: use %s", method,
                        c->route->path, c->route->post ? "POST" : "GET");
        if (s->cfg.api_key && strncmp(url, "/v1/", 4) == 0 &&
            !key_ok(MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                    s->cfg.api_key))
            return fail(s, mc, c, 401, "invalid_request_error", "invalid_api_key",
                        "a valid API key is required: send the header \"Authorization: Bearer KEY\"");
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && c->route->post) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || n > s->cfg.max_body)
                return fail(s, mc, c, 413, "invalid_request_error", "request_too_large",
                            "the request body is %s bytes, more than the server takes (%zu bytes)", cl,
                            s->cfg.max_body);
        }
        return MHD_YES;         /* answered once the request is in: the connection stays open */
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (c->answered || !c->route || !c->route->post) {
            c->discarded += n;  /* a body nobody reads: dropped, up to a point */
            return c->discarded > s->cfg.max_body ? MHD_NO : MHD_YES;
        }
        if (c->discarded || c->body.n + n > s->cfg.max_body) {
            c->discarded += n;
            /* a chunked body much beyond the limit is not read to its end */
            return c->discarded > 4 * s->cfg.max_body ? MHD_NO : MHD_YES;
        }
        llmc_text_put(&c->body, upload, n);
        return c->body.oom ? MHD_NO : MHD_YES;
    }
    if (c->answered)
        return MHD_YES;
    if (!c->route->post)
        return get_endpoint(s, mc, c);     /* a body it came with is ignored */
    if (c->discarded)
        return fail(s, mc, c, 413, "invalid_request_error", "request_too_large",
                    "the request body is more than the server takes (%zu bytes)", s->cfg.max_body);
    return generate(s, mc, c);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)mc;
    LlmcServer *s = cls;
    Conn *c = *con_cls;
    if (!c)
        return;
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    ServeReq *r = c->req;
    if (r && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        serve_gone(s, r);
    if (s->cfg.verbose) {
        char toks[64] = "";
        if (r)
            snprintf(toks, sizeof toks, ", %d + %d tokens", r->prm.n_prompt, r->n_gen);
        server_log(s, "%s %d%s%s, %.3f s", c->route ? c->route->path : "(unknown path)", c->status, toks,
                   toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (the client went away)",
                   llmc_rt_now() - c->t0);
    }
    if (r)
        serve_req_unref(s, r);
    pthread_mutex_unlock(&s->mu);
    llmc_text_free(&c->body);
    free(c);
}

/* ---- start, run, stop ---- */

static int listen_on(LlmcServer *s, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    int g = getaddrinfo(s->cfg.host, port, &hints, &res);
    if (g != 0)
        return llmc_rt_fail(err, errlen, "--host %s: %s", s->cfg.host, gai_strerror(g));
    int fd = -1, saved = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 128) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return llmc_rt_fail(err, errlen, "cannot listen on %s port %d: %s", s->cfg.host, s->cfg.port,
                            strerror(saved));
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    s->port = s->cfg.port;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    s->listen_fd = fd;
    return 0;
}

/* SIGINT and SIGTERM: blocked in every thread from llmc_serve_open on (the threads made later,
 * libmicrohttpd's and the engine's, inherit the mask) and taken by this thread alone. While the
 * model loads, a signal has its usual effect (the process ends: nothing is being served); once the
 * server runs, it stops it cleanly. */
static void *signal_main(void *arg)
{
    LlmcServer *s = arg;
    int sig = 0;
    while (sigwait(&s->sigs, &sig) != 0)
        ;
    pthread_mutex_lock(&s->mu);
    int closing = s->closing, ready = s->ready;
    if (!closing && ready) {
        if (!s->stopping)
            server_log(s, "%s: stopping", sig == SIGINT ? "interrupted" : "terminated");
        s->stopping = 1;
        pthread_cond_broadcast(&s->wake);
    }
    s->signalled = !closing;
    pthread_mutex_unlock(&s->mu);
    if (!closing && !ready) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        raise(sig);             /* its default action: the process ends */
    }
    return NULL;
}

int llmc_serve_open(LlmcServer **out, const LlmcServeConfig *cfg, char *err, size_t errlen)
{
    *out = NULL;
    LlmcServer *s = calloc(1, sizeof *s);
    if (!s)
        return llmc_rt_fail(err, errlen, "out of memory");
    s->cfg = *cfg;
    s->listen_fd = -1;
    s->started = (int64_t)time(NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (listen_on(s, err, errlen) != 0) {
        llmc_serve_close(s);
        return -1;
    }
    sigemptyset(&s->sigs);
    sigaddset(&s->sigs, SIGINT);
    sigaddset(&s->sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &s->sigs, &s->old_mask);
    s->masked = 1;
    if (pthread_create(&s->sig_thread, NULL, signal_main, s) != 0) {
        llmc_serve_close(s);
        return llmc_rt_fail(err, errlen, "cannot start a thread: %s", strerror(errno));
    }
    s->have_sig_thread = 1;
    unsigned limit = (unsigned)(cfg->max_batch + cfg->max_queue + 64);
    s->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                                  MHD_USE_ERROR_LOG,
                              0, NULL, NULL, on_request, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
                              MHD_OPTION_CONNECTION_LIMIT, limit,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_THREAD_STACK_SIZE, (size_t)4 << 20,
                              MHD_OPTION_END);
    if (!s->mhd) {
        llmc_serve_close(s);
        return llmc_rt_fail(err, errlen, "cannot start the HTTP server on %s port %d", cfg->host, cfg->port);
    }
    s->listen_fd = -1;          /* libmicrohttpd's now: it closes it */
    *out = s;
    return 0;
}

int llmc_serve_port(const LlmcServer *s) { return s->port; }

int llmc_serve_run(LlmcServer *s, LlmcEngine *e, const LlmcTokenizer *tok, char *err, size_t errlen)
{
    const LlmcModelDesc *d = e->desc;
    s->engine = e;
    s->tok = tok;
    s->max_model_len = d->max_seq_len;
    double t0 = llmc_rt_now();
    if (llmc_serve_chat_open(&s->chat, tok, s->chat_missing, sizeof s->chat_missing) != 0)
        s->chat = NULL;
    if (s->cfg.verbose)
        server_log(s, "chat template: %s (%.3f s)", s->chat ? "ready" : s->chat_missing, llmc_rt_now() - t0);
    int64_t kv_positions = (int64_t)e->kv.n_blocks * d->kv_block_size;
    s->api = (ServeApiCtx){.desc = d, .tok = tok, .chat = s->chat, .chat_missing = s->chat_missing,
                           .sampler = s->cfg.sampler, .seed = s->cfg.seed,
                           .kv_positions = (int32_t)(kv_positions < INT32_MAX ? kv_positions : INT32_MAX)};
    int rc = serve_engine_run(s, err, errlen);
    /* Every connection ends before the engine and tokenizer go away. */
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    return rc;
}

void llmc_serve_close(LlmcServer *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    s->closing = 1;
    int signalled = s->signalled;
    pthread_mutex_unlock(&s->mu);
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    if (s->have_sig_thread) {
        if (!signalled)
            pthread_kill(s->sig_thread, SIGTERM);   /* blocked everywhere: it goes to that thread */
        pthread_join(s->sig_thread, NULL);
    }
    if (s->masked)
        pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    llmc_serve_chat_close(s->chat);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->wake);
    free(s);
}
