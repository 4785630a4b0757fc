/* chat.h — conversations through the model's chat template: a list of messages becomes the
 * prompt's token ids (the template rendered with the tokenizer's special strings, then encoded
 * with added and special tokens matched), and `./model --chat` talks with the model in a
 * terminal, the history going through the template at every turn.
 */
#ifndef LLMC_CHAT_H
#define LLMC_CHAT_H

#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "jinja.h"
#include "sample.h"
#include "tokenizer.h"

typedef struct LlmcChat LlmcChat;

/* The tokenizer's chat template (tokenizer_config.json's, or llmc compile --chat-template),
 * parsed. -1 with a message when the tokenizer carries none or it does not parse. */
int llmc_chat_open(LlmcChat **out, const LlmcTokenizer *tok, char *err, size_t errlen);
void llmc_chat_close(LlmcChat *c);

/* The prompt of a conversation: messages_json is a JSON array of {"role": ..., "content": ...}
 * (and whatever else the template reads: tool_calls, reasoning_content, ...); extra_json, when
 * not NULL, a JSON object of more variables ("tools", "enable_thinking", ...). The template gets
 * them with add_generation_prompt and bos_token, eos_token, pad_token, unk_token. *text (when
 * text is not NULL) is the rendered text, *ids its tokens; both malloc'd. Returns 0 or -1. */
int llmc_chat_prompt(const LlmcChat *c, const char *messages_json, const char *extra_json,
                     int add_generation_prompt, char **text, int32_t **ids, int32_t *n_ids, char *err,
                     size_t errlen);

/* The text of a whole context: a JSON object of the template's variables ("messages",
 * "add_generation_prompt", "tools", ...; the tokenizer's bos_token, ... unless it gives them), or
 * a JSON array of messages (then with add_generation_prompt). *text malloc'd; *ids (when ids is not
 * NULL) its tokens, special tokens matched. Returns 0 or -1. For checking templates
 * (./model --render-chat). */
int llmc_chat_render(const LlmcChat *c, const char *json, size_t len, char **text, size_t *text_len,
                     int32_t **ids, int32_t *n_ids, char *err, size_t errlen);

/* The ids that end the model's turn: the tokenizer's eos_token (when it has one). */
int32_t llmc_chat_stop_ids(const LlmcChat *c, int32_t *ids, int32_t max);

typedef struct LlmcChatOptions {
    const char *system;         /* a system message first, or NULL */
    int32_t max_new;            /* tokens per reply (clamped to the context); <= 0: up to the context */
    LlmcSamplerCfg sampler;
    uint64_t seed;              /* reply k samples with seed + k */
    int prompt;                 /* print "> " before each line (a terminal) */
} LlmcChatOptions;

/* The interactive chat: a line from in is the user's message; the reply streams to out. "/reset"
 * forgets the conversation, "/exit" or the end of in ends it. A turn that no longer fits the
 * context is refused with a note (the conversation stays as it was). Returns 0, or -1 with a
 * message (a failed step, a template that raised an exception). */
int llmc_chat_run(LlmcEngine *e, const LlmcChat *c, const LlmcChatOptions *o, FILE *in, FILE *out,
                  char *err, size_t errlen);

#endif
