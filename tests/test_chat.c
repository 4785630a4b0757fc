/* test_chat.c — the chat template interpreter (runtime/jinja.c).
 *
 * tests/data/chat/cases.json holds templates and contexts: the real chat templates of the Llama 3
 * and Qwen3 tokenizers in ../shared (named "llama3" and "qwen3"; each with 13 conversations:
 * system prompts, multi-turn, whitespace and Unicode, thinking blocks, tool calls and tool
 * results, tools, enable_thinking; with and without the generation prompt) and small templates
 * for each feature real templates use. tests/data/chat/expected.json holds what
 * @huggingface/jinja renders for them (tests/data/chat/render.mjs made it; node and the npm
 * package are needed only to make it again). Every rendering must be byte-identical, and a case
 * the reference refuses (raise_exception) must be refused. The rest: where this interpreter
 * follows Python's Jinja instead (str.strip with characters; the filters the reference lacks),
 * parse errors naming the template line, unsupported syntax refused at parse time, bad contexts,
 * and the limits on run-away templates.
 */
#include "testutil.h"

#include "jinja.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA LLMC_SOURCE_DIR "/tests/data/chat/"

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert(fread(b, 1, (size_t)n, f) == (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

static cJSON *load_doc(const char *path)
{
    char *t = read_text(path);
    cJSON *d = cJSON_Parse(t);
    free(t);
    ck_assert_msg(d != NULL, "%s: bad JSON", path);
    return d;
}

/* Renders template text with a JSON context; returns the output (caller frees) or NULL with err. */
static char *render(const char *tpl, const char *ctx, char *err, size_t errlen)
{
    LlmcJinja *j = NULL;
    if (llmc_jinja_parse(tpl, strlen(tpl), &j, err, errlen))
        return NULL;
    char *out = NULL;
    size_t n = 0;
    int rc = llmc_jinja_render(j, ctx, strlen(ctx), &out, &n, err, errlen);
    llmc_jinja_free(j);
    if (rc)
        return NULL;
    ck_assert_uint_eq(strlen(out), n);
    return out;
}

static void expect(const char *tpl, const char *ctx, const char *want)
{
    char err[512];
    char *got = render(tpl, ctx, err, sizeof err);
    ck_assert_msg(got != NULL, "%s: %s", tpl, err);
    ck_assert_msg(strcmp(got, want) == 0, "%s\n  got  \"%s\"\n  want \"%s\"", tpl, got, want);
    free(got);
}

static void expect_error(const char *tpl, const char *ctx, const char *want)
{
    char err[512] = "";
    char *got = render(tpl, ctx, err, sizeof err);
    ck_assert_msg(got == NULL, "%s: rendered \"%s\", expected an error", tpl, got ? got : "");
    ck_assert_msg(strstr(err, want) != NULL, "%s: error \"%s\" lacks \"%s\"", tpl, err, want);
}

START_TEST(test_reference_renderings)
{
    if (tu_need_shared("llama3-tokenizer/tokenizer_config.json") ||
        tu_need_shared("qwen3-tokenizer/tokenizer_config.json"))
        return;
    const char *names[2] = {"llama3", "qwen3"};
    char *tpl[2];
    for (int i = 0; i < 2; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "%s-tokenizer/tokenizer_config.json", names[i]);
        cJSON *cfg = load_doc(tu_shared(rel));
        tpl[i] = strdup(cJSON_GetObjectItem(cfg, "chat_template")->valuestring);
        cJSON_Delete(cfg);
    }
    cJSON *cases = load_doc(DATA "cases.json"), *want = load_doc(DATA "expected.json");
    ck_assert_int_eq(cJSON_GetArraySize(cases), cJSON_GetArraySize(want));
    int i = 0, real = 0;
    const cJSON *w = want->child;
    for (const cJSON *c = cases->child; c; c = c->next, w = w->next, i++) {
        const char *t = cJSON_GetObjectItem(c, "template")->valuestring;
        for (int k = 0; k < 2; k++)
            if (strcmp(t, names[k]) == 0) {
                t = tpl[k];
                real++;
            }
        char *ctx = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "context"));
        char err[512];
        char *got = render(t, ctx, err, sizeof err);
        const cJSON *out = cJSON_GetObjectItem(w, "output"), *ref_err = cJSON_GetObjectItem(w, "error");
        if (out) {
            ck_assert_msg(got != NULL, "case %d: %s", i, err);
            ck_assert_msg(strcmp(got, out->valuestring) == 0, "case %d:\n  got  \"%s\"\n  want \"%s\"", i, got,
                          out->valuestring);
        } else {
            ck_assert_msg(got == NULL, "case %d: rendered, the reference refuses it (%s)", i, ref_err->valuestring);
            ck_assert_msg(strstr(err, ref_err->valuestring) != NULL, "case %d: \"%s\" vs \"%s\"", i, err,
                          ref_err->valuestring);
        }
        free(got);
        free(ctx);
    }
    ck_assert_int_ge(real, 50);
    ck_assert_int_ge(i, 80);
    cJSON_Delete(cases);
    cJSON_Delete(want);
    free(tpl[0]);
    free(tpl[1]);
}
END_TEST

/* Where Python's Jinja is followed and the reference is not, and what it lacks. */
START_TEST(test_python_semantics)
{
    expect("{{ '--x--'.strip('-') }}|{{ '\\n\\n a \\n'.strip('\\n') }}|{{ 'xxay'.lstrip('x') }}|{{ 'ayxx'.rstrip('xy') }}",
           "{}", "x| a |ay|a");
    expect("{{ [1, 2, 3] | sum }} {{ [1.5, 2] | sum }} {{ [3, 1] | min }} {{ [3, 1] | max }} {{ 'a b  c' | wordcount }}",
           "{}", "6 3.5 1 3 3");
    expect("{{ 'a-b-c'.split('-', 1) }} {{ 'abcabc'.count('b') }} {{ 'abc'.find('c') }} {{ ', '.join(['x', 'y']) }}",
           "{}", "[\"a\", \"b-c\"] 2 2 x, y");
    expect("{{ 'aaa'.replace('a', 'b', 2) }} {{ 'x' * 3 }} {{ 'l1\\nl2'.splitlines() }}", "{}", "bba xxx [\"l1\", \"l2\"]");
    expect("{{ 3 is divisibleby 3 }} {{ 4 is odd }} {{ 'ab' is lower }} {{ x is eq 2 }} {{ [1] is iterable }}", "{\"x\": 2}",
           "true false true true true");
    expect("{% for k, v in d | dictsort(by='value', reverse=true) %}{{ k }}{% endfor %}", "{\"d\": {\"a\": 2, \"b\": 3, "
           "\"c\": 1}}", "bac");
    expect("{{ m | map('upper') | join }} {{ nums | select('odd') | list }} {{ nums | reject('odd') | list }}",
           "{\"m\": [\"a\", \"b\"], \"nums\": [1, 2, 3]}", "AB [1, 3] [2]");
    expect("{{ d | tojson(indent=2, sort_keys=true) }}", "{\"d\": {\"b\": [1, 2], \"a\": {}}}",
           "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2\n  ]\n}");
    expect("{{ dict(a=1, b=2) | tojson }} {{ namespace(x=1).x }}", "{}", "{\"a\": 1, \"b\": 2} 1");
    /* the context as given: Unicode escapes, surrogate pairs, nested structures */
    expect("{{ s }}|{{ l[2].k }}|{{ n }}|{{ f }}", "{\"s\": \"caf\\u00e9 \\ud83d\\ude00\", \"l\": [1, null, {\"k\": true}],"
           " \"n\": -12, \"f\": 2.5}", "café 😀|true|-12|2.5");
}
END_TEST

/* Whitespace control and the settings transformers renders with. */
START_TEST(test_whitespace)
{
    expect("a\n  {% if true %}\n  b\n  {% endif %}\nc\n", "{}", "a\n  b\nc");   /* lstrip/trim_blocks, no final \n */
    expect("a  {{- 'b' -}}  c", "{}", "abc");
    expect("a \n {%- if true -%} \n b \n {%- endif -%} \n c", "{}", "abc");
    expect("x {#- comment -#} y{# another #}z", "{}", "xyz");
    expect("{% generation %}kept{% endgeneration %} {%- generation -%} x {%- endgeneration %}", "{}", "keptx");
    expect("{{ '{{ not a tag }}' }}", "{}", "{{ not a tag }}");
    expect("{{ {'a': {'b': 1}}['a']['b'] }}", "{}", "1");   /* "}}" inside a dict literal is not the tag's end */
}
END_TEST

/* Errors at parse time name the line; unsupported syntax is one of them. */
START_TEST(test_parse_errors)
{
    static const struct {
        const char *tpl, *want;
    } cases[] = {
        {"ok\n{% if x %}\nno end", "line 3: the template ends inside a block: '{% endif %}' expected"},
        {"{% for x in y %}{% endif %}", "line 1: 'endif' without its opening statement"},
        {"line 1\nline 2 {{ x | frobnicate }}", "line 2: unknown filter 'frobnicate'"},
        {"{{ x is frob }}", "unknown test 'frob'"},
        {"{{ x.frob() }}", "unknown method 'frob'"},
        {"{{ frob(1) }}", "unknown function 'frob'"},
        {"{% include 'x.html' %}", "unsupported statement 'include'"},
        {"{% extends 'base' %}", "unsupported statement 'extends'"},
        {"{% for x in y recursive %}{% endfor %}", "recursive loops are not supported"},
        {"{{ 'unterminated }}", "unterminated string"},
        {"{{ 1 + }}", "expected a value, found '}}'"},
        {"{{ x $ y }}", "unexpected character '$'"},
        {"{# open comment", "comment without its #}"},
        {"{% endfor %}", "'endfor' without its opening statement"},
        {"{{ (1, 2 }}", "expected ')'"},
        {"{{ 'a\\q' }}", "unknown escape \\q"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        LlmcJinja *j = NULL;
        int rc = llmc_jinja_parse(cases[i].tpl, strlen(cases[i].tpl), &j, err, sizeof err);
        ck_assert_msg(rc != 0, "\"%s\" parsed", cases[i].tpl);
        ck_assert_msg(strstr(err, cases[i].want) != NULL, "\"%s\": \"%s\" lacks \"%s\"", cases[i].tpl, err,
                      cases[i].want);
    }
    /* a macro may be called before its definition in the text */
    expect("{% macro m() %}M{% endmacro %}{{ m() }}", "{}", "M");
}
END_TEST

START_TEST(test_render_errors)
{
    expect_error("{{ raise_exception('Roles must alternate') }}", "{}", "raised an exception: Roles must alternate");
    expect_error("{{ x }}", "[1, 2]", "must be a JSON object");
    expect_error("{{ x }}", "{\"x\": ", "not valid JSON");
    expect_error("{{ x }}", "{\"x\": 1} trailing", "not valid JSON");
    expect_error("{{ 1 + 'a' - 2 }}", "{}", "arithmetic on");
    expect_error("{{ 1 / 0 }}", "{}", "division by zero");
    expect_error("{% set x.y = 1 %}", "{\"x\": {}}", "only of a namespace");
    expect_error("{% for x in 5 %}{% endfor %}", "{}", "cannot loop over an integer");
    expect_error("{% set a, b = [1] %}", "{}", "2 names for 1 values");
    /* run-away templates stop with a message */
    expect_error("{% set r = range(2000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}", "{}", "too long");
    expect_error("{% set s = 'x' * 1000000 %}{% for i in range(200) %}{% set t = s ~ i %}{% endfor %}", "{}",
                 "more than 128 MiB");
    expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "{}", "too deeply");
    expect_error("{% set s = 'x' * 1000000 %}{% for i in range(20) %}{{ s }}{% endfor %}", "{}", "passes");
    /* an undefined value is empty, and so are its attributes */
    expect("[{{ nothing }}][{{ nothing.attr }}][{{ d.missing }}][{{ l[9] }}]", "{\"d\": {}, \"l\": []}", "[][][][]");
}
END_TEST

/* A parsed template renders the same for every render (it is read-only) and JSON quoting helper. */
START_TEST(test_reuse_and_quote)
{
    const char *tpl = "{% for m in messages %}{{ m.content }};{% endfor %}";
    LlmcJinja *j = NULL;
    char err[256];
    ck_assert_int_eq(llmc_jinja_parse(tpl, strlen(tpl), &j, err, sizeof err), 0);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    const char raw[] = "quote \" backslash \\ newline \n tab \t bell \a é";
    const char *pre = "{\"messages\": [{\"content\": ";
    ck_assert_int_eq(llmc_json_quote(&buf, &len, &cap, "", 0), 0);
    len = 0;
    for (const char *p = pre; *p; p++) {
        if (len + 2 > cap)
            buf = realloc(buf, cap = cap * 2 + 64);
        buf[len++] = *p;
    }
    ck_assert_int_eq(llmc_json_quote(&buf, &len, &cap, raw, sizeof raw - 1), 0);
    const char *post = "}]}";
    for (const char *p = post; *p; p++) {
        if (len + 2 > cap)
            buf = realloc(buf, cap = cap * 2 + 64);
        buf[len++] = *p;
    }
    for (int k = 0; k < 3; k++) {
        char *out = NULL;
        size_t n = 0;
        ck_assert_int_eq(llmc_jinja_render(j, buf, len, &out, &n, err, sizeof err), 0);
        ck_assert_uint_eq(n, sizeof raw);
        ck_assert(memcmp(out, raw, sizeof raw - 1) == 0 && out[n - 1] == ';');
        free(out);
    }
    free(buf);
    llmc_jinja_free(j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("chat");
    TCase *tc = tcase_create("jinja");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_reference_renderings);
    tcase_add_test(tc, test_python_semantics);
    tcase_add_test(tc, test_whitespace);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_render_errors);
    tcase_add_test(tc, test_reuse_and_quote);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_main(suite()); }
