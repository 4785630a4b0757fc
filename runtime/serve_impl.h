/* serve_impl.h — what the server's two halves share: server.c (HTTP: libmicrohttpd, one thread per
 * connection) and serve_engine.c (the engine thread: the scheduler, text, stop strings, metrics).
 *
 * A request (ServeReq) is made by a connection thread, queued in the server's inbox, added to the
 * scheduler by the engine thread, and read by the connection thread as its text grows. It is
 * reference counted (the connection, a streaming response, the engine); every field below the
 * line "shared" is read and written under LlmcServer.mu. The engine writes the request's eventfd
 * after each change; the connection thread blocks on it (and on its socket) between reads.
 */
#ifndef LLMC_SERVE_IMPL_H
#define LLMC_SERVE_IMPL_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "json.h"
#include "scheduler.h"
#include "serve_api.h"
#include "serve_chat.h"
#include "server.h"

typedef enum { REQ_INBOX, REQ_ACTIVE, REQ_DONE } ReqState;

typedef struct ServeReq {
    ServeParams prm;
    ServeIdent ident;
    int efd;                    /* eventfd: the engine writes it when something changed */
    char *prompt_text;          /* echo: the prompt's decoded text */
    size_t prompt_text_len;
    double t_arrive;            /* llmc_rt_now() when it was queued */
    /* the engine thread's own */
    int32_t seq;                /* scheduler id once added */
    int32_t prev;               /* the last token (decoding needs it) */
    struct ServeReq *next;      /* inbox link */
    /* shared (LlmcServer.mu) */
    int refs;
    ReqState state;
    int gone;                   /* the client went away: cancel */
    int stop_hit;               /* a stop string ended it: cancel, finish "stop" */
    LlmcText text;              /* the completion's text so far (cut before a stop string) */
    size_t ready;               /* bytes of text that may be sent (no partial stop string or
                                   character at the end until done) */
    int32_t n_gen;              /* tokens generated (an end-of-sequence token included) */
    const char *finish;         /* when done: "stop", "length", or NULL (cancelled, failed) */
    char failed[256];           /* when done without an answer: why ("" otherwise) */
    int fail_status;            /* and the HTTP status of that answer (499: the client went away) */
    double t_first, t_last;     /* first and last token */
} ServeReq;

/* Prometheus histogram with fixed buckets (seconds). */
enum { SERVE_N_BUCKETS = 12 };
typedef struct ServeHist {
    uint64_t count[SERVE_N_BUCKETS + 1];   /* last: +Inf */
    double sum;
    uint64_t n;
} ServeHist;

/* Endpoints and the status codes counted per endpoint. */
typedef enum { EP_COMPLETIONS, EP_CHAT, EP_MODELS, EP_HEALTH, EP_METRICS, EP_OTHER, EP_COUNT } ServeEndpoint;
enum { SERVE_N_CODES = 12 };

typedef struct ServeMetrics {
    uint64_t requests[EP_COUNT][SERVE_N_CODES];
    uint64_t prompt_tokens, generation_tokens;
    uint64_t cancelled;         /* clients that went away before the end */
    uint64_t rejected;          /* 429 */
    ServeHist ttft, tpot, e2e;
} ServeMetrics;

struct LlmcServer {
    LlmcServeConfig cfg;
    int port;
    int listen_fd;              /* until libmicrohttpd takes it */
    int64_t started;            /* Unix time (/v1/models' created) */
    int32_t max_model_len;
    struct MHD_Daemon *mhd;
    sigset_t sigs;              /* SIGINT, SIGTERM: blocked from llmc_serve_open on */
    sigset_t old_mask;          /* the caller's, restored by llmc_serve_close */
    int masked, have_sig_thread;
    pthread_t sig_thread;       /* takes them (server.c signal_main) */
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* the engine thread waits on it when idle */
    /* under mu */
    int ready;                  /* the engine is running: model endpoints answer */
    int stopping;               /* shutting down: new requests get 503 */
    int closing;                /* llmc_serve_close: the signal thread is to end */
    int signalled;              /* the signal thread took a signal (and ended) */
    int stop_status;            /* what requests in flight get then: 503, or 500 after a failed step */
    char stop_why[128];
    ServeReq *inbox, *inbox_tail;
    int32_t n_inbox;
    int32_t n_waiting, n_running;   /* the scheduler's, after the last step */
    int32_t kv_used, kv_total;
    int64_t preemptions;        /* the scheduler's count (sequences preempted, recomputed later) */
    uint64_t next_id;
    ServeMetrics m;
    double avg_latency;         /* seconds a request took, smoothed: for Retry-After */
    /* set by llmc_serve_run */
    LlmcEngine *engine;
    const LlmcTokenizer *tok;
    LlmcServeChat *chat;
    char chat_missing[256];
    ServeApiCtx api;
};

/* serve_engine.c */
ServeReq *serve_req_new(void);
void serve_req_unref(LlmcServer *s, ServeReq *r);   /* under mu */
/* Queues r for the engine (takes a reference). 0, or -1 when the queue is full (429) or the
 * server is stopping (503): *status says which. Under mu. */
int serve_submit(LlmcServer *s, ServeReq *r, int *status);
/* The client of r went away (under mu). */
void serve_gone(LlmcServer *s, ServeReq *r);
/* The engine loop (llmc_serve_run's body). */
int serve_engine_run(LlmcServer *s, char *err, size_t errlen);
/* Prometheus text of the metrics (under mu). */
void serve_metrics_text(LlmcServer *s, LlmcText *t);
void serve_count_request(LlmcServer *s, ServeEndpoint ep, int status);   /* under mu */
/* Seconds for Retry-After (under mu). */
int serve_retry_after(const LlmcServer *s);

#endif
