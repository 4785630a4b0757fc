/* fuzz_emit_names.c — no input text reaches generated code outside a comment or a properly
 * escaped string literal (issue 25).
 *
 * The input is up to ten strings separated by NUL bytes: the model name, the source path, six
 * tensor names (the embedding table, the final norm and the lm_head weights; three activations of
 * the prologue, the layer block and the epilogue), a weights file name and the path of a cubin. A
 * one-layer model.json carrying them goes through the frontend, the pipeline and the emitters: the
 * C model (cpu target), the CUDA kernels and the host C of a CUDA build (sm_90a, the cubin path
 * going into its .incbin). Each source is compared with the one emitted for the same model under
 * harmless names, after a small C lexer has reduced both to what the compiler sees outside
 * comments and literals (lines spliced, trigraphs replaced: ISO mode; then comments become a space
 * and every string or character literal one placeholder). They must be identical; every string
 * literal of the source must decode (its escapes) to a string, the model name's to exactly the
 * model name, and the assembler string inside the .incbin literal to exactly the cubin path; "??"
 * appears nowhere (no trigraph, in any mode). */
#include <cjson/cJSON.h>
#include <assert.h>

#include "../../codegen/codegen.h"
#include "../../codegen/emit.h"
#include "../../frontend/frontend.h"
#include "../../frontend/model_json.h"
#include "../../passes/passes.h"
#include "fuzz_util.h"

/* What the build embeds (bin2c) and the emitters paste in; their text is the same for both
 * emissions, so a comment and a literal stand for it. */
const unsigned char llmc_model_header[] = "/* llmc_model.h */ static const char *abi = \"abi\";\n";
const char *const llmc_c_headers_names[] = {"c_prelude.h"};
const char *const llmc_c_headers_texts[] = {"/* c_prelude.h */\n"};
const int llmc_c_headers_count = 1;
const char *const llmc_cuda_headers_names[] = {"gpu_port.cuh"};
const char *const llmc_cuda_headers_texts[] = {""};
const int llmc_cuda_headers_count = 1;

enum { N_PIECES = 10, PIECE_MAX = 64 };

static const char template_json[] =
    "{\"llmc_model\": 1, \"name\": \"$0\", \"config\": {\"max_seq_len\": 64, \"bos_id\": 1, \"eos_id\": 2},"
    " \"tokenizer\": null, \"weights\": {"
    "\"$2\": {\"file\": \"$8\", \"offset\": 0, \"dtype\": \"f32\", \"shape\": [24, 32]},"
    "\"layers.0.attn_norm\": {\"file\": \"$8\", \"offset\": 3072, \"dtype\": \"f32\", \"shape\": [32]},"
    "\"layers.0.wq\": {\"file\": \"$8\", \"offset\": 3200, \"dtype\": \"f32\", \"shape\": [32, 32]},"
    "\"layers.0.wk\": {\"file\": \"$8\", \"offset\": 7296, \"dtype\": \"f32\", \"shape\": [16, 32]},"
    "\"layers.0.wv\": {\"file\": \"$8\", \"offset\": 9344, \"dtype\": \"f32\", \"shape\": [16, 32]},"
    "\"layers.0.wo\": {\"file\": \"$8\", \"offset\": 11392, \"dtype\": \"f32\", \"shape\": [32, 32]},"
    "\"layers.0.ffn_norm\": {\"file\": \"$8\", \"offset\": 15488, \"dtype\": \"f32\", \"shape\": [32]},"
    "\"layers.0.w1\": {\"file\": \"$8\", \"offset\": 15616, \"dtype\": \"f32\", \"shape\": [48, 32]},"
    "\"layers.0.w2\": {\"file\": \"$8\", \"offset\": 21760, \"dtype\": \"f32\", \"shape\": [32, 48]},"
    "\"layers.0.w3\": {\"file\": \"$8\", \"offset\": 27904, \"dtype\": \"f32\", \"shape\": [48, 32]},"
    "\"$3\": {\"file\": \"$8\", \"offset\": 34048, \"dtype\": \"f32\", \"shape\": [32]},"
    "\"$4\": {\"file\": \"$8\", \"offset\": 34176, \"dtype\": \"f32\", \"shape\": [24, 32]}},"
    " \"graph\": {\"prologue\": [{\"op\": \"embedding\", \"in\": [\"@$2\", \"tokens\"], \"out\": \"$5\"}],"
    " \"layers\": {\"count\": 1, \"block\": ["
    "{\"op\": \"rmsnorm\", \"in\": [\"$5\", \"@layers.{i}.attn_norm\"], \"out\": \"$6\", \"eps\": 1e-05},"
    "{\"op\": \"matmul\", \"in\": [\"$6\", \"@layers.{i}.wq\"], \"out\": \"q\"},"
    "{\"op\": \"matmul\", \"in\": [\"$6\", \"@layers.{i}.wk\"], \"out\": \"k\"},"
    "{\"op\": \"matmul\", \"in\": [\"$6\", \"@layers.{i}.wv\"], \"out\": \"v\"},"
    "{\"op\": \"rope\", \"in\": [\"q\", \"positions\"], \"out\": \"q\", \"head_dim\": 8, \"style\": \"interleaved\"},"
    "{\"op\": \"rope\", \"in\": [\"k\", \"positions\"], \"out\": \"k\", \"head_dim\": 8, \"style\": \"interleaved\"},"
    "{\"op\": \"attention\", \"in\": [\"q\", \"k\", \"v\"], \"out\": \"$7\", \"head_dim\": 8},"
    "{\"op\": \"matmul\", \"in\": [\"$7\", \"@layers.{i}.wo\"], \"out\": \"o\"},"
    "{\"op\": \"add\", \"in\": [\"$5\", \"o\"], \"out\": \"$5\"},"
    "{\"op\": \"rmsnorm\", \"in\": [\"$5\", \"@layers.{i}.ffn_norm\"], \"out\": \"$6\", \"eps\": 1e-05},"
    "{\"op\": \"matmul\", \"in\": [\"$6\", \"@layers.{i}.w1\"], \"out\": \"g\"},"
    "{\"op\": \"matmul\", \"in\": [\"$6\", \"@layers.{i}.w3\"], \"out\": \"u\"},"
    "{\"op\": \"silu\", \"in\": [\"g\"], \"out\": \"g\"},"
    "{\"op\": \"mul\", \"in\": [\"g\", \"u\"], \"out\": \"f\"},"
    "{\"op\": \"matmul\", \"in\": [\"f\", \"@layers.{i}.w2\"], \"out\": \"d\"},"
    "{\"op\": \"add\", \"in\": [\"$5\", \"d\"], \"out\": \"$5\"}]},"
    " \"epilogue\": [{\"op\": \"rmsnorm\", \"in\": [\"$5\", \"@$3\"], \"out\": \"$6\", \"eps\": 1e-05},"
    "{\"op\": \"matmul\", \"in\": [\"$6\", \"@$4\"], \"out\": \"logits\"}]}}";

typedef struct Names {
    char s[N_PIECES][PIECE_MAX + 8];
} Names;

static const uint8_t plain[] = "m\0s.json\0e\0n\0o\0x\0h\0a\0w.bin\0/tmp/c.bin";

/* The strings of the input (an empty or missing one: the harmless one); tensor names (2..7) made
 * unique and never special ("v" + piece + "~k": no '@' first, never "tokens", "positions" or
 * "logits"). */
static void split(const uint8_t *data, size_t size, Names *nm)
{
    Names dflt;
    if (data != plain)
        split(plain, sizeof plain - 1, &dflt);
    memset(nm, 0, sizeof *nm);
    size_t at = 0;
    for (int k = 0; k < N_PIECES; k++) {
        char piece[PIECE_MAX + 1];
        size_t n = 0;
        while (at < size && data[at]) {
            if (n < PIECE_MAX)
                piece[n++] = (char)data[at];
            at++;
        }
        at++;
        piece[n] = 0;
        if (!n && data != plain)
            snprintf(nm->s[k], sizeof nm->s[k], "%s", dflt.s[k]);
        else if (k >= 2 && k <= 7)
            snprintf(nm->s[k], sizeof nm->s[k], "v%s~%d", piece, k);
        else
            snprintf(nm->s[k], sizeof nm->s[k], "%s", piece);
    }
}

static void harmless(Names *nm) { split(plain, sizeof plain - 1, nm); }

/* The template with $k replaced by piece k, JSON-escaped. */
static char *model_text(const Names *nm)
{
    LlmcBuf b = {0};
    for (const char *t = template_json; *t; t++) {
        if (*t != '$') {
            llmc_buf_printf(&b, "%c", *t);
            continue;
        }
        const unsigned char *s = (const unsigned char *)nm->s[*++t - '0'];
        for (; *s; s++)
            if (*s == '"' || *s == '\\')
                llmc_buf_printf(&b, "\\%c", *s);
            else if (*s < 32)
                llmc_buf_printf(&b, "\\u%04x", *s);
            else
                llmc_buf_printf(&b, "%c", *s);
    }
    return b.s;
}

typedef struct Sources {
    char *c, *cu, *host;
} Sources;

static void sources_free(Sources *s)
{
    free(s->c);
    free(s->cu);
    free(s->host);
}

static LlmcGraph *graph_for(const Names *nm, const char *target)
{
    char *text = model_text(nm);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!doc)
        return NULL;
    LlmcGraph *g = llmc_graph_new();
    LlmcDiag d;
    LlmcPassOptions opt = {.target = llmc_target_find(target), .max_tokens = 64, .max_outputs = 64, .kv_block_size = 16};
    LlmcStatus st = llmc_model_from_json(doc, nm->s[1], "/nonexistent", g, &d);
    if (!st)
        st = llmc_pipeline(g, &opt, NULL, NULL, 1, &d);
    if (!st && opt.target->backend == LLMC_TGT_CUDA)
        st = llmc_pipeline_gpu(g, &opt, NULL, NULL, 1, &d);
    cJSON_Delete(doc);
    if (st) {
        llmc_graph_free(g);
        return NULL;
    }
    return g;
}

/* The three sources of the model under names nm; 0 when the model does not compile. */
static int emit(const Names *nm, Sources *out)
{
    memset(out, 0, sizeof *out);
    LlmcDiag d;
    LlmcBuildInfo info = {"build info", 1, 1, NULL, "sm_90a"};
    LlmcGraph *g = graph_for(nm, "cpu");
    if (!g)
        return 0;
    LlmcStatus st = llmc_emit_c(g, llmc_target_find("cpu"), &info, &out->c, &d);
    llmc_graph_free(g);
    if (st || !(g = graph_for(nm, "sm_90a"))) {
        sources_free(out);
        return 0;
    }
    LlmcCudaGen *cg = NULL;
    st = llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d);
    if (!st) {
        out->cu = llmc_strdup(llmc_cuda_source(cg));
        LlmcCudaImage im = {llmc_target_find("sm_90a"), nm->s[9], 4096, {0}};
        st = llmc_cuda_host_c(g, cg, &im, 1, &info, &out->host, &d);
    }
    llmc_cuda_free(cg);
    llmc_graph_free(g);
    if (st) {
        sources_free(out);
        return 0;
    }
    return 1;
}

/* ---- a small C lexer ---- */

/* Phases 1 and 2 of translation: trigraphs (ISO C) and spliced lines. */
static char *phases12(const char *s)
{
    static const char tri[] = "=(/)'<!>-", rep[] = "#[\\]^{|}~";
    size_t n = strlen(s);
    char *a = malloc(n + 1), *b = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = s[i] == '?' && s[i + 1] == '?' && s[i + 2] ? strchr(tri, s[i + 2]) : NULL;
        if (t) {
            a[k++] = rep[t - tri];
            i += 2;
        } else
            a[k++] = s[i];
    }
    a[k] = 0;
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (a[i] == '\\' && a[i + 1] == '\n') {
            i++;
            continue;
        }
        b[m++] = a[i];
    }
    b[m] = 0;
    free(a);
    return b;
}

/* Decodes the literal whose opening quote is at s[0] (C escapes; GNU as's when as_string) into
 * out (may be NULL; room for strlen(s) bytes, NUL-terminated); returns the position after its
 * closing quote, or NULL when it never closes or holds a raw newline or an unknown escape. */
static const char *literal(const char *s, char *out, int as_string)
{
    char q = *s++;
    size_t n = 0;
    while (*s && *s != q) {
        if (*s == '\n')
            return NULL;
        int c = (unsigned char)*s++;
        if (c == '\\' && *s >= '0' && *s <= '7') {
            c = 0;
            for (int k = 0; k < 3 && *s >= '0' && *s <= '7'; k++)
                c = c * 8 + (*s++ - '0');
        } else if (c == '\\') {
            const char *from = as_string ? "\\\"" : "\\\"'?nt", *to = as_string ? "\\\"" : "\\\"'?\n\t";
            const char *p = *s ? strchr(from, *s) : NULL;
            if (!p)
                return NULL;
            c = to[p - from];
            s++;
        }
        if (out)
            out[n++] = (char)c;
    }
    if (out)
        out[n] = 0;
    return *s ? s + 1 : NULL;
}

/* What the compiler sees outside comments and literals: comments become " ", literals "S"; NULL
 * when a comment or a literal never closes. */
static char *strip(const char *src)
{
    char *s = phases12(src), *b = malloc(strlen(s) + 1);
    size_t n = 0;
    const char *p = s;
    while (*p) {
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e)
                goto bad;
            b[n++] = ' ';
            p = e + 2;
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n')
                p++;
        } else if (*p == '"' || *p == '\'') {
            const char *e = literal(p, NULL, 0);
            if (!e)
                goto bad;
            b[n++] = *p == '"' ? 'S' : 'C';
            p = e;
        } else
            b[n++] = *p++;
    }
    b[n] = 0;
    free(s);
    return b;
bad:
    free(s);
    free(b);
    return NULL;
}

/* The first `key` in s outside comments and literals (key starts with neither), NULL if none:
 * a name in a comment may spell the key too. */
static const char *code_find(const char *s, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = s; *p;) {
        if (!strncmp(p, key, n))
            return p;
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e)
                return NULL;
            p = e + 2;
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n')
                p++;
        } else if (*p == '"' || *p == '\'') {
            if (!(p = literal(p, NULL, 0)))
                return NULL;
        } else
            p++;
    }
    return NULL;
}

/* The decoded string literal right after `key` (outside comments and literals; key_in_code 0: the
 * first key anywhere, for text that is itself a decoded literal) in src (malloc'd), NULL if none. */
static char *literal_after(const char *src, const char *key, int as_string, int key_in_code)
{
    char *s = key_in_code ? phases12(src) : llmc_strdup(src);
    const char *k = key_in_code ? code_find(s, key) : strstr(s, key);
    char *out = k ? malloc(strlen(k) + 1) : NULL;
    if (k)
        k += strlen(key);
    if (k && (*k != '"' || !literal(k, out, as_string))) {
        free(out);
        out = NULL;
    }
    free(s);
    return out;
}

/* want: the harmless source, already stripped. */
static void same_program(const char *what, const char *got, const char *want)
{
    if (strstr(got, "??")) {
        fprintf(stderr, "%s: \"??\" in the emitted source\n", what);
        abort();
    }
    for (const unsigned char *c = (const unsigned char *)got; *c; c++)
        if ((*c < 32 && *c != '\n') || *c >= 127) {
            fprintf(stderr, "%s: byte 0x%02x in the emitted source\n", what, *c);
            abort();
        }
    char *a = strip(got);
    if (!a || strcmp(a, want) != 0) {
        fprintf(stderr, "%s: the hostile names changed the program outside comments and literals\n", what);
        abort();
    }
    free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Sources ref, lexed;   /* the harmless names' sources, and as the compiler sees them */
    static int have_ref;
    if (!have_ref) {
        Names h;
        harmless(&h);
        if (!emit(&h, &ref) || !(lexed.c = strip(ref.c)) || !(lexed.cu = strip(ref.cu)) || !(lexed.host = strip(ref.host)))
            abort();
        have_ref = 1;
    }
    Names nm;
    split(data, size, &nm);
    Sources got;
    if (!emit(&nm, &got))   /* not a model (e.g. a name the frontend refuses): nothing emitted */
        return 0;
    same_program("model.c (cpu)", got.c, lexed.c);
    same_program("model.cu", got.cu, lexed.cu);
    same_program("model.c (CUDA host)", got.host, lexed.host);
    /* The literals hold the text itself: the descriptor's name, the cubin path in its .incbin. */
    char *name = literal_after(got.c, ".name = ", 0, 1);
    if (!name || strcmp(name, nm.s[0]) != 0) {
        fprintf(stderr, "the descriptor's name literal does not decode to the model name\n");
        abort();
    }
    free(name);
    char *as = literal_after(got.host, "__asm__(", 0, 1), *as_ref = literal_after(ref.host, "__asm__(", 0, 1);
    const char *inc = as ? strstr(as, ".incbin ") : NULL, *inc_ref = strstr(as_ref, ".incbin ");
    char *path = inc ? literal_after(inc, ".incbin ", 1, 0) : NULL;
    if (!path || strcmp(path, nm.s[9]) != 0) {
        fprintf(stderr, "the .incbin string does not decode to the cubin path\n");
        abort();
    }
    /* and the assembler sees the same statements around it */
    const char *end = literal(inc + 8, NULL, 1), *end_ref = literal(inc_ref + 8, NULL, 1);
    if (inc - as != inc_ref - as_ref || memcmp(as, as_ref, (size_t)(inc - as)) != 0 || strcmp(end, end_ref) != 0) {
        fprintf(stderr, "the assembler text around the cubin path differs\n");
        abort();
    }
    free(path);
    free(as);
    free(as_ref);
    sources_free(&got);
    return 0;
}
