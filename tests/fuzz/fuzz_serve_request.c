/* fuzz_serve_request.c — the HTTP server's request bodies from arbitrary bytes: the JSON reader
 * (runtime/json.c) and the OpenAI request checks (runtime/serve_api.c) of /v1/completions and
 * /v1/chat/completions, with stories260K's tokenizer for text prompts. Properties checked besides
 * the sanitizers: a tree written back reads again and writes back the same text; an accepted
 * request has ids in the vocabulary and a length within the context; the answers built from any
 * bytes (its prompt ids as text, its stop strings) are valid JSON. LLMC_SHARED_DIR points at
 * ../shared (scripts/fuzz.sh sets it). */
#include "../../abi/llmc_model.h"
#include "../../runtime/json.h"
#include "../../runtime/serve_api.h"
#include "../../runtime/tokenizer.h"
#include "fuzz_util.h"

static LlmcTokenizer *tok;
static LlmcModelDesc desc;

/* The chat seam (runtime/serve_chat.c renders through the chat template, which
 * fuzz_chat_template.c fuzzes): the requests here have no chat template, so these are never
 * called; they only stand in for the link. */
int llmc_serve_chat_prompt(const LlmcServeChat *c, const char *messages_json, const char *extra_json,
                           int32_t **ids, int32_t *n_ids, char *err, size_t errlen)
{
    (void)c, (void)messages_json, (void)extra_json, (void)ids, (void)n_ids, (void)err, (void)errlen;
    abort();
}

int32_t llmc_serve_chat_stop_ids(const LlmcServeChat *c, int32_t *ids, int32_t max)
{
    (void)c, (void)ids, (void)max;
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("LLMC_SHARED_DIR");
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/models/stories260K/tok512.bin", dir ? dir : "../shared");
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_serve_request: cannot open %s (set LLMC_SHARED_DIR)\n", path);
        abort();
    }
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (llmc_tokenizer_load(&tok, LLMC_TOK_LLAMA2C, buf, n, 512, err, sizeof err)) {
        fprintf(stderr, "fuzz_serve_request: %s: %s\n", path, err);
        abort();
    }
    desc.vocab_size = 512;
    desc.max_seq_len = 256;
    desc.name = "fuzz";
    return 0;
}

static void must_parse(const LlmcText *t)
{
    LlmcJsonDoc *doc;
    const LlmcJson *v;
    char err[256];
    if (t->oom)
        return;
    if (llmc_json_parse(t->p ? t->p : "", t->n, &doc, &v, err, sizeof err) != 0) {
        fprintf(stderr, "the server wrote JSON it cannot read (%s): %.*s\n", err, (int)t->n, t->p);
        abort();
    }
    llmc_json_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LlmcJsonDoc *doc;
    const LlmcJson *v;
    char err[256];
    if (llmc_json_parse((const char *)data, size, &doc, &v, err, sizeof err) == 0) {
        LlmcText a = {0}, b = {0};
        llmc_text_json(&a, v);
        llmc_json_free(doc);
        must_parse(&a);
        if (!a.oom && llmc_json_parse(a.p, a.n, &doc, &v, err, sizeof err) == 0) {
            llmc_text_json(&b, v);
            llmc_json_free(doc);
            if (!b.oom && (a.n != b.n || memcmp(a.p, b.p, a.n) != 0)) {
                fprintf(stderr, "written back twice, differently:\n%s\n%s\n", a.p, b.p);
                abort();
            }
        }
        llmc_text_free(&a);
        llmc_text_free(&b);
    }
    ServeApiCtx c = {.desc = &desc, .tok = tok, .sampler = {0, 0, 1}, .kv_positions = 200,
                     .chat_missing = "no chat template"};
    for (int kind = 0; kind < 2; kind++) {
        ServeParams p;
        ServeError e;
        if (serve_parse_request(&c, (ServeKind)kind, (const char *)data, size, &p, &e) == 0) {
            if (p.n_prompt < 1 || p.n_prompt > desc.max_seq_len || p.max_new < 0 ||
                p.n_prompt + p.max_new > desc.max_seq_len)
                abort();
            for (int32_t i = 0; i < p.n_prompt; i++)
                if (p.prompt[i] < 0 || p.prompt[i] >= desc.vocab_size)
                    abort();
            /* answers carrying arbitrary bytes: the prompt ids as bytes, the stop strings */
            LlmcText t = {0};
            ServeIdent id = {(ServeKind)kind, "cmpl-1", 1, "fuzz"};
            ServeUsage u = {p.n_prompt, p.max_new};
            char *bytes = malloc((size_t)p.n_prompt);
            for (int32_t i = 0; i < p.n_prompt; i++)
                bytes[i] = (char)p.prompt[i];
            serve_response_json(&t, &id, p.n_stop ? p.stop[0] : "", p.n_stop ? p.stop_len[0] : 0, bytes,
                                (size_t)p.n_prompt, "stop", &u);
            must_parse(&t);
            llmc_text_free(&t);
            serve_chunk_sse(&t, &id, 1, bytes, (size_t)p.n_prompt, NULL, 1);
            LlmcText json = {0};
            if (t.n > 8)
                llmc_text_put(&json, t.p + 6, t.n - 8);     /* "data: " ... "\n\n" */
            must_parse(&json);
            llmc_text_free(&json);
            llmc_text_free(&t);
            free(bytes);
        } else {
            if (e.status < 400 || e.status > 599 || !e.message[0])
                abort();
            LlmcText t = {0};
            serve_error_json(&t, &e);
            must_parse(&t);
            llmc_text_free(&t);
        }
        serve_params_free(&p);
    }
    return 0;
}
