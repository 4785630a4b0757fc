/* serve_chat.c — see serve_chat.h: the server's conversations through the chat template of the
 * model's tokenizer (chat.h: the Jinja template rendered with the tokenizer's special strings and
 * add_generation_prompt, then encoded with added and special tokens matched). */
#include "serve_chat.h"

#include <stdlib.h>

#include "chat.h"
#include "rtutil.h"

struct LlmcServeChat {
    LlmcChat *chat;
};

int llmc_serve_chat_open(LlmcServeChat **out, const LlmcTokenizer *tok, char *err, size_t errlen)
{
    *out = NULL;
    if (!tok)
        return llmc_rt_fail(err, errlen, "this model has no tokenizer, so no chat template: use "
                                         "/v1/completions with the prompt as token ids");
    LlmcServeChat *c = calloc(1, sizeof *c);
    if (!c)
        return llmc_rt_fail(err, errlen, "out of memory");
    if (llmc_chat_open(&c->chat, tok, err, errlen) != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void llmc_serve_chat_close(LlmcServeChat *c)
{
    if (!c)
        return;
    llmc_chat_close(c->chat);
    free(c);
}

int llmc_serve_chat_prompt(const LlmcServeChat *c, const char *messages_json, const char *extra_json,
                           int32_t **ids, int32_t *n_ids, char *err, size_t errlen)
{
    return llmc_chat_prompt(c->chat, messages_json, extra_json, 1, NULL, ids, n_ids, err, errlen);
}

int32_t llmc_serve_chat_stop_ids(const LlmcServeChat *c, int32_t *ids, int32_t max)
{
    return llmc_chat_stop_ids(c->chat, ids, max);
}
