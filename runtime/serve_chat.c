/* serve_chat.c — see serve_chat.h. This tree has no chat template interpreter yet, so every
 * model is one without a chat template: /v1/chat/completions says so (501), and nothing is
 * rendered by a stand-in. */
#include "serve_chat.h"

#include "rtutil.h"

int llmc_serve_chat_open(LlmcServeChat **out, const LlmcTokenizer *tok, char *err, size_t errlen)
{
    *out = NULL;
    if (!tok)
        return llmc_rt_fail(err, errlen, "this model has no tokenizer, so no chat template: use "
                                         "/v1/completions with the prompt as token ids");
    return llmc_rt_fail(err, errlen, "this model has no chat template: use /v1/completions");
}

void llmc_serve_chat_close(LlmcServeChat *c) { (void)c; }

int llmc_serve_chat_prompt(const LlmcServeChat *c, const char *messages_json, int32_t **ids,
                           int32_t *n_ids, char *err, size_t errlen)
{
    (void)c;
    (void)messages_json;
    *ids = NULL;
    *n_ids = 0;
    return llmc_rt_fail(err, errlen, "this model has no chat template");
}

int32_t llmc_serve_chat_stop_ids(const LlmcServeChat *c, int32_t *ids, int32_t max)
{
    (void)c;
    (void)ids;
    (void)max;
    return 0;
}
