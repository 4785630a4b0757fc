/* test_serve.c — the HTTP server's pure parts: the JSON reader and writer (runtime/json.c), the
 * UTF-8 helpers streams rely on, and the OpenAI request checks and answers (runtime/serve_api.c).
 * The server itself is tested end to end by tests/e2e_serve.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "llmc_model.h"
#include "serve_api.h"
#include "testutil.h"

static const LlmcJson *parse_ok(LlmcJsonDoc **doc, const char *s)
{
    const LlmcJson *v = NULL;
    char err[256] = "";
    ck_assert_msg(llmc_json_parse(s, strlen(s), doc, &v, err, sizeof err) == 0, "%s: %s", s, err);
    return v;
}

static void parse_bad(const char *s, size_t len, const char *want)
{
    LlmcJsonDoc *doc = (LlmcJsonDoc *)1;
    const LlmcJson *v = (const LlmcJson *)1;
    char err[256] = "";
    ck_assert_msg(llmc_json_parse(s, len, &doc, &v, err, sizeof err) == -1, "accepted: %.*s", (int)len, s);
    ck_assert(doc == NULL && v == NULL);
    ck_assert_msg(strstr(err, want), "'%.*s': message '%s' lacks '%s'", (int)len, s, err, want);
}

START_TEST(json_reads_values)
{
    LlmcJsonDoc *doc;
    const LlmcJson *v = parse_ok(&doc, " {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"],"
                                       " \"b\": {}, \"a\": 7, \"big\": 123456789012345678901, \"i\": -9007199254740993} ");
    ck_assert_int_eq(v->type, LLMC_JSON_OBJECT);
    ck_assert_int_eq(v->count, 5);
    const LlmcJson *a = llmc_json_get(v, "a");     /* the last member of a name */
    ck_assert(a->type == LLMC_JSON_NUMBER && a->is_int && a->integer == 7);
    const LlmcJson *arr = v->child;
    ck_assert_int_eq(arr->type, LLMC_JSON_ARRAY);
    ck_assert_int_eq(arr->count, 6);
    const LlmcJson *e = arr->child;
    ck_assert(e->is_int && e->integer == 1);
    e = e->next;
    ck_assert(!e->is_int && e->number == -2500.0);
    e = e->next;
    ck_assert(e->type == LLMC_JSON_BOOL && e->boolean);
    e = e->next;
    ck_assert(e->type == LLMC_JSON_BOOL && !e->boolean);
    e = e->next;
    ck_assert(e->type == LLMC_JSON_NULL);
    e = e->next;
    ck_assert_int_eq(e->type, LLMC_JSON_STRING);
    ck_assert_uint_eq(e->len, 8);
    ck_assert(memcmp(e->str, "x\xC3\xA9\xF0\x9F\x98\x80\n", 8) == 0);
    ck_assert(llmc_json_get(v, "b")->type == LLMC_JSON_OBJECT && llmc_json_get(v, "b")->count == 0);
    const LlmcJson *big = llmc_json_get(v, "big");
    ck_assert(!big->is_int && big->number > 1.2e20);    /* beyond int64: a double only */
    ck_assert(llmc_json_get(v, "i")->is_int && llmc_json_get(v, "i")->integer == -9007199254740993LL);
    ck_assert(llmc_json_get(v, "none") == NULL && llmc_json_get(arr, "a") == NULL);
    llmc_json_free(doc);

    v = parse_ok(&doc, "\"a\\u0000b\"");
    ck_assert(v->len == 3 && v->str[1] == 0);
    llmc_json_free(doc);
}
END_TEST

START_TEST(json_refuses_bad_text)
{
    parse_bad("", 0, "byte 0");
    parse_bad("{\"a\": 1", 7, "expected ',' or '}'");
    parse_bad("{\"a\": 1,}", 9, "member name");
    parse_bad("[1 2]", 5, "expected ',' or ']'");
    parse_bad("[01]", 4, "byte 2");
    parse_bad("[1.]", 4, "digit after '.'");
    parse_bad("[1e]", 4, "exponent");
    parse_bad("[-]", 3, "expected a value");
    parse_bad("tru", 3, "expected a value");
    parse_bad("{} x", 4, "text after the JSON value");
    parse_bad("\"abc", 4, "unterminated string");
    parse_bad("\"a\tb\"", 5, "control character");
    parse_bad("\"\\x\"", 4, "unknown escape");
    parse_bad("\"\\u12\"", 6, "4 hex digits");
    parse_bad("\"\\ud800\"", 8, "lone surrogate");
    parse_bad("\"\\udc00\\ud800\"", 14, "lone surrogate");
    parse_bad("\"\\ud800\\u0041\"", 14, "lone surrogate");
    parse_bad("\"\xff\"", 3, "invalid UTF-8 at byte 1");
    parse_bad("\"\xC0\xAF\"", 4, "invalid UTF-8");          /* overlong */
    parse_bad("\"\xED\xA0\x80\"", 5, "invalid UTF-8");      /* an encoded surrogate */
    parse_bad("\"\xF4\x90\x80\x80\"", 6, "invalid UTF-8");  /* beyond U+10FFFF */
    parse_bad("\"\xE2\x82\"", 4, "invalid UTF-8");          /* cut short */
    parse_bad("[\"a\0b\"]", 7, "control character");
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    parse_bad(deep, 200, "nested deeper than 64");
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    LlmcJsonDoc *doc;
    const LlmcJson *v;
    char err[128];
    ck_assert_int_eq(llmc_json_parse(deep, 128, &doc, &v, err, sizeof err), 0);
    llmc_json_free(doc);
}
END_TEST

START_TEST(json_writes_valid_text)
{
    LlmcText t = {0};
    llmc_text_json_str(&t, "a\"b\\c\n\x01\x7f\xC3\xA9\xff\xE2\x82z", 14);
    ck_assert_str_eq(t.p, "\"a\\\"b\\\\c\\n\\u0001\\u007f\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBDz\"");
    llmc_text_free(&t);
    /* one U+FFFD per maximal subpart, as Python's bytes.decode('utf-8', 'replace'):
     * E0 80 (80 cannot follow E0) is two, F0 9F 98 (a cut 4-byte character) one, ED A0 two, C0 one */
    llmc_text_json_str(&t, "\xE0\x80|\xF0\x9F\x98|\xED\xA0|\xC0\xAF|\xF4\x8F\xBF", 16);
    ck_assert_str_eq(t.p, "\"\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|"
                          "\xEF\xBF\xBD\"");
    llmc_text_free(&t);
    /* what is written back reads again to the same tree */
    LlmcJsonDoc *doc, *doc2;
    const char *src = "{\"m\":[{\"role\":\"user\",\"content\":\"hi \\\"there\\\"\"},null,1.5,-3,true],\"e\":{}}";
    const LlmcJson *v = parse_ok(&doc, src);
    llmc_text_json(&t, v);
    ck_assert_str_eq(t.p, src);
    parse_ok(&doc2, t.p);
    llmc_json_free(doc2);
    llmc_json_free(doc);
    llmc_text_free(&t);
    /* numbers written as doubles read back as doubles: -0 keeps its sign, 1e5 is not an integer */
    v = parse_ok(&doc, "[-0e0, 1e5, 2.5, -7]");
    llmc_text_json(&t, v);
    ck_assert_str_eq(t.p, "[-0.0,100000.0,2.5,-7]");
    llmc_json_free(doc);
    llmc_text_free(&t);
    llmc_text_printf(&t, "%s-%d", "x", 3);
    llmc_text_printf(&t, "%0600d", 1);
    ck_assert_uint_eq(t.n, 603);
    llmc_text_free(&t);
}
END_TEST

START_TEST(utf8_tails)
{
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("abc", 3), 0);
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("a\xC3", 2), 1);
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("a\xC3\xA9", 3), 0);
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("\xE2\x82", 2), 2);
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("\xF0\x9F\x98", 3), 3);
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("\xF0\x9F\x98\x80", 4), 0);
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("\xE0\x80", 2), 0);    /* can never complete */
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("\xff", 1), 0);
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("\x80\x80", 2), 0);
    ck_assert_uint_eq(llmc_utf8_incomplete_tail("", 0), 0);
    ck_assert_uint_eq(llmc_utf8_char_len((const unsigned char *)"\xF4\x8F\xBF\xBF", 4), 4);
    ck_assert_uint_eq(llmc_utf8_char_len((const unsigned char *)"\xF4\x90\x80\x80", 4), 0);
}
END_TEST

/* ---- requests ---- */

static LlmcModelDesc g_desc;

static ServeApiCtx ctx(void)
{
    memset(&g_desc, 0, sizeof g_desc);
    g_desc.vocab_size = 100;
    g_desc.max_seq_len = 64;
    g_desc.name = "tiny";
    ServeApiCtx c = {.desc = &g_desc, .sampler = {0.5f, 7, 0.9f}, .seed = 11, .kv_positions = 64,
                     .chat_missing = "this model has no chat template"};
    return c;
}

static int parse(const ServeApiCtx *c, ServeKind k, const char *body, ServeParams *p, ServeError *e)
{
    memset(e, 0, sizeof *e);
    return serve_parse_request(c, k, body, strlen(body), p, e);
}

START_TEST(request_fields)
{
    ServeApiCtx c = ctx();
    ServeParams p;
    ServeError e;
    ck_assert_int_eq(parse(&c, SERVE_COMPLETION, "{\"prompt\": [5, 6, 7], \"unknown\": {\"x\": [1]}}", &p, &e), 0);
    ck_assert_int_eq(p.n_prompt, 3);
    ck_assert(p.prompt[2] == 7 && p.max_new == 16 && p.seed == 11);     /* OpenAI's default 16 */
    ck_assert(p.sampler.temperature == 0.5f && p.sampler.top_k == 7 && p.sampler.top_p == 0.9f);
    ck_assert(!p.stream && !p.include_usage && !p.echo && p.n_stop == 0);
    serve_params_free(&p);

    ck_assert_int_eq(parse(&c, SERVE_COMPLETION,
                           "{\"prompt\": [[1, 2]], \"max_tokens\": 100, \"temperature\": 0, \"top_p\": 1,"
                           " \"top_k\": -1, \"seed\": -1, \"stop\": [\"a\", \"bc\"], \"stream\": true,"
                           " \"stream_options\": {\"include_usage\": true}, \"echo\": true, \"n\": 1,"
                           " \"logprobs\": null, \"presence_penalty\": 0, \"model\": \"x\"}", &p, &e), 0);
    ck_assert_int_eq(p.n_prompt, 2);
    ck_assert_int_eq(p.max_new, 62);                    /* clamped to the context */
    ck_assert(p.sampler.temperature == 0 && p.sampler.top_k == 0 && p.seed == UINT64_MAX);
    ck_assert(p.stream && p.include_usage && p.echo && p.n_stop == 2 && p.stop_len[1] == 2);
    ck_assert_str_eq(p.stop[1], "bc");
    serve_params_free(&p);

    /* a text prompt without a tokenizer */
    ck_assert_int_eq(parse(&c, SERVE_COMPLETION, "{\"prompt\": \"hello\"}", &p, &e), -1);
    ck_assert(e.status == 400 && strcmp(e.param, "prompt") == 0 && strstr(e.message, "token ids"));
    serve_params_free(&p);
    /* chat without a template: 501, after the messages are checked */
    ck_assert_int_eq(parse(&c, SERVE_CHAT, "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
                                           "\"text\", \"text\": \"hi\"}]}]}", &p, &e), -1);
    ck_assert(e.status == 501 && strcmp(e.code, "chat_template_missing") == 0);
    serve_params_free(&p);
    ck_assert_int_eq(parse(&c, SERVE_CHAT, "{\"messages\": [{\"content\": \"hi\"}]}", &p, &e), -1);
    ck_assert(e.status == 400 && strcmp(e.param, "messages[0]") == 0);
    serve_params_free(&p);
}
END_TEST

START_TEST(request_errors)
{
    ServeApiCtx c = ctx();
    static const struct {
        const char *body, *param, *msg;
    } cases[] = {
        {"{\"prompt\": [1], \"max_tokens\": \"3\"}", "max_tokens", "must be an integer, found a string"},
        {"{\"prompt\": [1], \"max_tokens\": 1.5}", "max_tokens", "must be an integer"},
        {"{\"prompt\": [1], \"temperature\": 3}", "temperature", "expected a number in [0, 2]"},
        {"{\"prompt\": [1], \"top_p\": 0}", "top_p", "(0, 1]"},
        {"{\"prompt\": [1], \"top_k\": -2}", "top_k", "-1.."},
        {"{\"prompt\": [1], \"stop\": [\"a\", 3]}", "stop", "must hold strings"},
        {"{\"prompt\": [1], \"stop\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\","
         "\"13\",\"14\",\"15\",\"16\",\"17\"]}", "stop", "at most 16"},
        {"{\"prompt\": [1], \"stream\": 1}", "stream", "must be a boolean"},
        {"{\"prompt\": [1], \"stream_options\": {}}", "stream_options", "only allowed when"},
        {"{\"prompt\": [1], \"stream\": true, \"stream_options\": {\"include_usage\": 1}}",
         "stream_options.include_usage", "boolean"},
        {"{\"prompt\": [1], \"n\": 3}", "n", "n = 1"},
        {"{\"prompt\": [1], \"best_of\": 2}", "best_of", "only 1"},
        {"{\"prompt\": [1], \"logprobs\": 1}", "logprobs", "not supported"},
        {"{\"prompt\": [1], \"frequency_penalty\": 0.5}", "frequency_penalty", "not supported"},
        {"{\"prompt\": [1], \"logit_bias\": {\"5\": 1}}", "logit_bias", "not supported"},
        {"{\"prompt\": [1], \"suffix\": \"x\"}", "suffix", "not supported"},
        {"{\"prompt\": [1], \"model\": 3}", "model", "must be a string"},
        {"{\"prompt\": []}", "prompt", "empty"},
        {"{\"prompt\": [100]}", "prompt", "0..99"},
        {"{\"prompt\": [1.5]}", "prompt", "not a token id"},
        {"{\"prompt\": [\"a\", \"b\"]}", "prompt", "one prompt per request"},
        {"{\"prompt\": null}", "prompt", "required"},
        {"{}", "prompt", "required"},
        {"[]", "", "must be a JSON object"},
        {"{\"prompt\": [1", "", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ServeParams p;
        ServeError e;
        ck_assert_msg(parse(&c, SERVE_COMPLETION, cases[i].body, &p, &e) == -1, "accepted %s", cases[i].body);
        ck_assert_msg(e.status == 400 && strcmp(e.param, cases[i].param) == 0 && strstr(e.message, cases[i].msg),
                      "%s: %d '%s' '%s'", cases[i].body, e.status, e.param, e.message);
        serve_params_free(&p);
    }
    /* lengths: the prompt beyond the context; the KV cache smaller than a request */
    char body[1024] = "{\"prompt\": [1";
    for (int i = 0; i < 64; i++)
        strcat(body, ", 2");
    strcat(body, "]}");
    ServeParams p;
    ServeError e;
    ck_assert_int_eq(parse(&c, SERVE_COMPLETION, body, &p, &e), -1);
    ck_assert(e.status == 400 && strcmp(e.code, "context_length_exceeded") == 0 && strstr(e.message, "65 tokens"));
    serve_params_free(&p);
    c.kv_positions = 10;
    ck_assert_int_eq(parse(&c, SERVE_COMPLETION, "{\"prompt\": [1, 2], \"max_tokens\": 10}", &p, &e), -1);
    ck_assert(e.status == 400 && strstr(e.message, "KV cache"));
    serve_params_free(&p);
    ck_assert_int_eq(parse(&c, SERVE_COMPLETION, "{\"prompt\": [1, 2], \"max_tokens\": 9}", &p, &e), 0);
    serve_params_free(&p);
}
END_TEST

START_TEST(answers_have_the_openai_shape)
{
    ServeIdent id = {SERVE_COMPLETION, "cmpl-7", 1700000000, "tiny\"m"};
    ServeUsage u = {3, 2};
    LlmcText t = {0};
    serve_response_json(&t, &id, "ab", 2, "c\xff", 2, "length", &u);
    ck_assert_str_eq(t.p, "{\"id\":\"cmpl-7\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":"
                          "\"tiny\\\"m\",\"choices\":[{\"index\":0,\"text\":\"abc\xEF\xBF\xBD\",\"logprobs\":null,"
                          "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,"
                          "\"total_tokens\":5}}");
    llmc_text_free(&t);
    id.kind = SERVE_CHAT;
    serve_chunk_sse(&t, &id, 1, "", 0, NULL, 1);
    serve_chunk_sse(&t, &id, 0, "hi", 2, NULL, 1);
    serve_chunk_sse(&t, &id, 0, "", 0, "stop", 1);
    serve_usage_sse(&t, &id, &u);
    const char *want =
        "data: {\"id\":\"cmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"tiny\\\"m\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
        "\"finish_reason\":null}],\"usage\":null}\n\n"
        "data: {\"id\":\"cmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"tiny\\\"m\","
        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"logprobs\":null,\"finish_reason\":null}],"
        "\"usage\":null}\n\n"
        "data: {\"id\":\"cmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"tiny\\\"m\","
        "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
        "data: {\"id\":\"cmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"tiny\\\"m\","
        "\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n";
    ck_assert_str_eq(t.p, want);
    llmc_text_free(&t);
    ServeError e;
    serve_error(&e, 400, "invalid_request_error", NULL, "max_tokens", "'%s' is bad", "max_tokens");
    serve_error_json(&t, &e);
    ck_assert_str_eq(t.p, "{\"error\":{\"message\":\"'max_tokens' is bad\",\"type\":\"invalid_request_error\","
                          "\"param\":\"max_tokens\",\"code\":null}}");
    llmc_text_free(&t);
}
END_TEST

static Suite *serve_suite(void)
{
    Suite *s = suite_create("serve");
    TCase *tc = tcase_create("serve");
    tcase_add_test(tc, json_reads_values);
    tcase_add_test(tc, json_refuses_bad_text);
    tcase_add_test(tc, json_writes_valid_text);
    tcase_add_test(tc, utf8_tails);
    tcase_add_test(tc, request_fields);
    tcase_add_test(tc, request_errors);
    tcase_add_test(tc, answers_have_the_openai_shape);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_main(serve_suite()); }
