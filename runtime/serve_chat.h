/* serve_chat.h — what the HTTP server needs of chat templates: a conversation (the request's
 * "messages", as JSON) becomes the prompt's token ids, and the ids that end the model's turn.
 *
 * This is the server's one seam to the chat template interpreter (runtime/chat.h): a model without
 * a tokenizer or a chat template gets the reason from llmc_serve_chat_open, and
 * /v1/chat/completions answers it (501).
 */
#ifndef LLMC_SERVE_CHAT_H
#define LLMC_SERVE_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

typedef struct LlmcServeChat LlmcServeChat;

/* The model's chat template, ready to render; -1 with the reason (no tokenizer, no template)
 * in err. tok may be NULL. */
int llmc_serve_chat_open(LlmcServeChat **out, const LlmcTokenizer *tok, char *err, size_t errlen);
void llmc_serve_chat_close(LlmcServeChat *c);

/* messages_json: a JSON array of {"role", "content"} objects (content a string); extra_json: NULL
 * or a JSON object of more template variables (the request's chat_template_kwargs). The rendered
 * conversation with the generation prompt, encoded: *ids (malloc'd) of *n_ids. -1 with a message
 * (the template raised an exception, ...). May be called by several threads at once. */
int llmc_serve_chat_prompt(const LlmcServeChat *c, const char *messages_json, const char *extra_json,
                           int32_t **ids, int32_t *n_ids, char *err, size_t errlen);

/* The ids that end the assistant's turn besides the model's end-of-sequence ids; returns how many
 * (at most max) were written. */
int32_t llmc_serve_chat_stop_ids(const LlmcServeChat *c, int32_t *ids, int32_t max);

#endif
