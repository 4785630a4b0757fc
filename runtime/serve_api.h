/* serve_api.h — the OpenAI wire format of the HTTP server: request bodies of /v1/completions and
 * /v1/chat/completions checked and turned into a generation request (ServeParams), and the JSON
 * of responses, stream chunks and errors. Pure functions (no HTTP, no threads): server.c calls
 * them, and tests can too.
 *
 * A request body is a JSON object. Known fields are checked (type and range; a bad one is a 400
 * naming the field), unknown fields are ignored. Supported: model (any string: there is one
 * model), prompt (a string, one string in an array, token ids, or one array of token ids),
 * messages and chat_template_kwargs (chat), max_tokens (max_completion_tokens for chat), temperature,
 * top_p, top_k, seed,
 * stop (a string or up to LLMC_SERVE_MAX_STOP strings), n = 1, stream, stream_options
 * {include_usage}, echo (completions), and logprobs only off. Fields that would change the result
 * and are not supported (n > 1, best_of > 1, logprobs, a non-zero presence or frequency penalty,
 * logit_bias, suffix) are refused rather than ignored.
 */
#ifndef LLMC_SERVE_API_H
#define LLMC_SERVE_API_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "llmc_model.h"
#include "sample.h"
#include "serve_chat.h"
#include "tokenizer.h"

enum { LLMC_SERVE_MAX_STOP = 16, LLMC_SERVE_MAX_STOP_LEN = 256, LLMC_SERVE_MAX_STOP_IDS = 16 };

typedef enum { SERVE_COMPLETION, SERVE_CHAT } ServeKind;

/* What a request asks for, checked. */
typedef struct ServeParams {
    ServeKind kind;
    int32_t *prompt;            /* [n_prompt] ids, malloc'd */
    int32_t n_prompt;
    int32_t max_new;            /* clamped to the context */
    LlmcSamplerCfg sampler;
    uint64_t seed;
    char *stop[LLMC_SERVE_MAX_STOP];    /* stop strings, malloc'd, NUL-terminated */
    size_t stop_len[LLMC_SERVE_MAX_STOP];
    int32_t n_stop;
    int32_t stop_ids[LLMC_SERVE_MAX_STOP_IDS];  /* chat: the template's end-of-turn ids */
    int32_t n_stop_ids;
    int stream, include_usage, echo;
} ServeParams;

void serve_params_free(ServeParams *p);

/* An error answer: HTTP status and the OpenAI error object's fields. */
typedef struct ServeError {
    int status;                 /* 400, 401, 404, 405, 413, 429, 500, 501, 503 */
    const char *type;           /* "invalid_request_error", ... */
    const char *code;           /* NULL or "context_length_exceeded", ... */
    char param[64];             /* the field at fault, "" for none */
    char message[768];
} ServeError;

int serve_error(ServeError *e, int status, const char *type, const char *code, const char *param,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* What parsing a request needs to know of the model and the server. */
typedef struct ServeApiCtx {
    const LlmcModelDesc *desc;
    const LlmcTokenizer *tok;   /* NULL: prompts are token ids only */
    const LlmcServeChat *chat;  /* NULL: no chat template (chat_missing says why) */
    const char *chat_missing;
    LlmcSamplerCfg sampler;     /* defaults of a request that gives none */
    uint64_t seed;
    int32_t kv_positions;       /* the most positions one sequence may hold in the KV pool */
} ServeApiCtx;

/* Parses body[len] as a request of kind into *p. Returns 0, or -1 with *e filled (400 for a bad
 * request, 501 for chat without a template). *p is to be freed with serve_params_free in both
 * cases. */
int serve_parse_request(const ServeApiCtx *c, ServeKind kind, const char *body, size_t len,
                        ServeParams *p, ServeError *e);

/* {"error": {...}} */
void serve_error_json(LlmcText *t, const ServeError *e);

/* The identity of one response: "cmpl-N" / "chatcmpl-N", created (Unix seconds), the model. */
typedef struct ServeIdent {
    ServeKind kind;
    char id[48];
    int64_t created;
    const char *model;
} ServeIdent;

typedef struct ServeUsage {
    int32_t prompt_tokens, completion_tokens;
} ServeUsage;

/* The whole answer of a request that does not stream. finish: "stop" or "length". For
 * completions with echo, prefix[prefix_len] (the prompt's text) comes before the text. */
void serve_response_json(LlmcText *t, const ServeIdent *id, const char *prefix, size_t prefix_len,
                         const char *text, size_t len, const char *finish, const ServeUsage *u);

/* One server-sent event "data: {...}\n\n" of a stream: a chunk with text (and finish when not
 * NULL; first: chat's first chunk carries the role). with_usage_null: "usage": null in every
 * chunk (stream_options.include_usage). */
void serve_chunk_sse(LlmcText *t, const ServeIdent *id, int first, const char *text, size_t len,
                     const char *finish, int with_usage_null);
/* The final usage chunk (choices empty) of include_usage. */
void serve_usage_sse(LlmcText *t, const ServeIdent *id, const ServeUsage *u);

#endif
