/* server.h — `./model --serve`: an OpenAI-compatible HTTP server over libmicrohttpd.
 *
 * Endpoints: POST /v1/completions and /v1/chat/completions (streaming as server-sent events or
 * not), GET /v1/models, GET /health (503 until the model is ready), GET /metrics (Prometheus
 * text). docs/executable.md describes the wire format; serve_api.h the fields.
 *
 * Threads: libmicrohttpd runs one thread per connection; each parses its request, encodes the
 * prompt and hands a request to the engine thread (the caller of llmc_serve_run), which owns the
 * continuous-batching scheduler: requests join and leave its steps as they come and go. A
 * connection thread waits for its request's text by blocking in poll() on the request's eventfd
 * and on its socket (a client that hangs up is seen at once and its sequence cancelled, its KV
 * blocks freed); nothing busy-waits. When the KV pool or the batch is full, requests wait in the
 * scheduler's queue; beyond max_queue waiting requests the answer is 429 with Retry-After. KV
 * blocks are taken as sequences grow; when the pool runs out the newest is preempted and later
 * recomputed (scheduler.h), so a request never fails mid-generation for memory.
 *
 * The server is the same on every build: it runs steps through the engine (engine.h), whatever
 * the device. Plain HTTP only (put a TLS proxy in front to serve beyond the machine).
 */
#ifndef LLMC_SERVER_H
#define LLMC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "sample.h"
#include "tokenizer.h"

typedef struct LlmcServeConfig {
    const char *host;           /* address to listen on ("127.0.0.1", "0.0.0.0", "::1", a name) */
    int port;                   /* 0: any free port (llmc_serve_port says which) */
    const char *api_key;        /* NULL: none; else /v1/ requires "Authorization: Bearer KEY" */
    const char *prog;           /* for messages on stderr */
    const char *model_name;     /* /v1/models' id */
    int32_t max_batch;          /* sequences decoded at once */
    int32_t max_queue;          /* requests waiting beyond those running; more get 429 */
    int timeout_s;              /* an idle connection (no bytes either way) is closed after it */
    size_t max_body;            /* request bodies beyond this get 413 */
    LlmcSamplerCfg sampler;     /* a request's defaults */
    uint64_t seed;
    int verbose;                /* a line per request on stderr */
} LlmcServeConfig;

/* The server's default limits (docs/limits.md). */
enum { LLMC_SERVE_DEFAULT_QUEUE = 256, LLMC_SERVE_DEFAULT_TIMEOUT = 600 };
#define LLMC_SERVE_MAX_BODY ((size_t)16 << 20)

typedef struct LlmcServer LlmcServer;

/* Listens and starts answering (every model endpoint 503 until llmc_serve_run): called before the
 * model is loaded, so that /health tells a client when it is ready. From here on SIGINT and
 * SIGTERM are the server's (blocked in the calling thread and every thread it makes later, taken by
 * a thread of the server's): until llmc_serve_run they end the process as usual, then they stop
 * the server cleanly. Returns 0, or -1 with a message (the address cannot be resolved or bound). */
int llmc_serve_open(LlmcServer **out, const LlmcServeConfig *c, char *err, size_t errlen);
/* The port listened on. */
int llmc_serve_port(const LlmcServer *s);

/* Serves requests on the engine until SIGINT or SIGTERM, then answers what is in flight with 503
 * and ends every connection. tok may be NULL (prompts as token ids only). Returns 0 after a
 * signal, or -1 with a message (a failed step: every request in flight gets a 500 first). */
int llmc_serve_run(LlmcServer *s, LlmcEngine *e, const LlmcTokenizer *tok, char *err, size_t errlen);

/* Stops listening, ends every connection, gives SIGINT and SIGTERM back (the caller's signal mask)
 * and frees the server. NULL is fine. */
void llmc_serve_close(LlmcServer *s);

#endif
