/* fuzz_chat_template.c — the chat template interpreter (runtime/jinja.c) on arbitrary input: the
 * bytes before the first NUL are a template, those after it the render context (a fixed one when
 * they are not a JSON object). An input that is JSON instead carries its templates: an object
 * with "chat_template" (a tokenizer_config.json) or "template" (and "context"), or an array of
 * such objects (tests/data/chat/cases.json): each is parsed and rendered. Every input must give a
 * rendering or a message. */
#include "../../runtime/jinja.h"
#include "fuzz_util.h"

#include <cjson/cJSON.h>

static const char kContext[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", \"content\": \"hi <think>\"},"
    " {\"role\": \"assistant\", \"content\": \"<think>\\nx\\n</think>\\n\\nok\", \"tool_calls\": [{\"function\": "
    "{\"name\": \"f\", \"arguments\": {\"a\": 1}}}]}, {\"role\": \"tool\", \"content\": \"r\"}], "
    "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}], \"add_generation_prompt\": true, "
    "\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}";

static void run(const char *tpl, size_t len, const char *ctx, size_t ctx_len)
{
    LlmcJinja *j = NULL;
    char err[512];
    if (llmc_jinja_parse(tpl, len, &j, err, sizeof err))
        return;
    char *out = NULL;
    size_t n = 0;
    if (llmc_jinja_render(j, ctx, ctx_len, &out, &n, err, sizeof err) == 0) {
        if (strlen(out) > n)
            abort();   /* the length counts every byte */
        free(out);
    } else if (ctx != kContext && llmc_jinja_render(j, kContext, sizeof kContext - 1, &out, &n, err, sizeof err) == 0) {
        free(out);
    }
    llmc_jinja_free(j);
}

static void run_json(const cJSON *c)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "chat_template");
    if (!cJSON_IsString(t))
        t = cJSON_GetObjectItemCaseSensitive(c, "template");
    if (!cJSON_IsString(t))
        return;
    char *ctx = NULL;
    const cJSON *cx = cJSON_GetObjectItemCaseSensitive(c, "context");
    if (cx)
        ctx = cJSON_PrintUnformatted(cx);
    run(t->valuestring, strlen(t->valuestring), ctx ? ctx : kContext, ctx ? strlen(ctx) : sizeof kContext - 1);
    free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size && (data[0] == '{' || data[0] == '[')) {
        char *s = fuzz_cstr(data, size);
        cJSON *doc = s ? cJSON_Parse(s) : NULL;
        free(s);
        if (doc) {
            if (cJSON_IsArray(doc))
                for (const cJSON *c = doc->child; c; c = c->next)
                    run_json(c);
            else
                run_json(doc);
            cJSON_Delete(doc);
            return 0;
        }
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    const char *ctx = nul ? (const char *)nul + 1 : kContext;
    size_t clen = nul ? size - tlen - 1 : sizeof kContext - 1;
    run((const char *)data, tlen, ctx, clen);
    return 0;
}
