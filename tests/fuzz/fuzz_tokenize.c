/* fuzz_tokenize.c — encoding and decoding arbitrary bytes with the real vocabularies in
 * ../shared/models: the Llama 2 SentencePiece model (byte fallback), stories260K's llama2.c
 * tokenizer, and the Llama 3 and Qwen3 tokenizer.json files (converted at start; encoded plain
 * and with added tokens matched; Llama 3 must give back any bytes exactly, through the streaming
 * decoder too). Properties checked besides the sanitizers: every id is in the vocabulary, and for the
 * byte-fallback vocabulary, decoding the ids gives back the text (with the leading space
 * SentencePiece adds, and the normalization of spaces to U+2581 undone) whenever the text is
 * valid UTF-8 without NULs and without U+2581 itself. LLMC_SHARED_DIR points at ../shared (scripts/fuzz.sh sets it). */
#include "../../abi/llmc_model.h"
#include "../../frontend/frontend.h"
#include "../../runtime/tokenizer.h"
#include "fuzz_util.h"

static LlmcTokenizer *spm, *l2c, *llama3, *qwen3;

static LlmcTokenizer *load_json(const char *rel, int32_t vocab)
{
    const char *dir = getenv("LLMC_SHARED_DIR");
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/models/%s", dir ? dir : "../shared", rel);
    uint8_t *conv = NULL;
    size_t n = 0;
    LlmcDiag d;
    LlmcTokenizer *t = NULL;
    if (llmc_hf_tokenizer_convert(path, NULL, vocab, &conv, &n, &d) ||
        llmc_tokenizer_load(&t, LLMC_TOK_HF, conv, n, vocab, err, sizeof err)) {
        fprintf(stderr, "fuzz_tokenize: %s: cannot convert or load\n", path);
        abort();
    }
    free(conv);
    return t;
}

static LlmcTokenizer *load(const char *rel, int kind, int32_t vocab)
{
    const char *dir = getenv("LLMC_SHARED_DIR");
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/models/%s", dir ? dir : "../shared", rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_tokenize: cannot open %s (set LLMC_SHARED_DIR)\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    LlmcTokenizer *t = NULL;
    if (llmc_tokenizer_load(&t, kind, buf, (size_t)n, vocab, err, sizeof err)) {
        fprintf(stderr, "fuzz_tokenize: %s: %s\n", path, err);
        abort();
    }
    free(buf);
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    spm = load("llama2-tokenizer/tokenizer.model", LLMC_TOK_SENTENCEPIECE, 32000);
    l2c = load("stories260K/tok512.bin", LLMC_TOK_LLAMA2C, 512);
    llama3 = load_json("llama3-tokenizer/tokenizer.json", 128256);
    qwen3 = load_json("qwen3-tokenizer/tokenizer.json", 151936);
    return 0;
}

/* tokenizer.json: every id in the vocabulary; with exact, decoding (one by one, and streamed)
 * gives back the bytes. */
static void run_hf(LlmcTokenizer *t, const uint8_t *data, size_t size, int flags, int exact)
{
    int32_t *ids = NULL, n = 0;
    char err[512];
    if (llmc_tokenizer_encode(t, (const char *)data, size, flags, &ids, &n, err, sizeof err)) {
        free(ids);
        return;
    }
    size_t cap = size * 4 + 64, len = 0, slen = 0;
    char *out = malloc(cap), *sout = malloc(cap), piece[512];
    LlmcDetok *s = llmc_detok_new(t, flags);
    if (!out || !sout || !s)
        abort();
    int32_t prev = -1;
    for (int32_t i = 0; i <= n; i++) {
        size_t k = 0;
        const char *p = i < n ? llmc_detok_put(s, ids[i], &k) : llmc_detok_flush(s, &k);
        if (!p || slen + k > cap)
            abort();
        memcpy(sout + slen, p, k);
        slen += k;
        if (i == n)
            break;
        if (ids[i] < 0 || ids[i] >= llmc_tokenizer_vocab_size(t))
            abort();
        k = llmc_tokenizer_decode_ex(t, prev, ids[i], flags, piece, sizeof piece);
        if (k >= sizeof piece || len + k > cap)
            abort();
        memcpy(out + len, piece, k);
        len += k;
        prev = ids[i];
    }
    if (slen != len || memcmp(sout, out, len) != 0)
        abort();   /* streaming gives the same bytes */
    if (exact && (len != size || memcmp(out, data, size) != 0)) {
        fprintf(stderr, "fuzz_tokenize: tokenizer.json: decode(encode(text)) != text (%zu bytes in, %zu out)\n", size,
                len);
        abort();
    }
    llmc_detok_free(s);
    free(out);
    free(sout);
    free(ids);
}

static int valid_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (k == 0 || c == 0 || i + k > n || (k == 2 && c < 0xc2) || (k == 4 && c > 0xf4))
            return 0;
        uint32_t cp = k == 1 ? c : c & (0x7f >> k);
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp < 0xe000))
            return 0;
        i += k;
    }
    return 1;
}

static void run(LlmcTokenizer *t, const uint8_t *data, size_t size, int check_roundtrip)
{
    int32_t *ids = NULL, n = 0;
    char err[512];
    if (llmc_tokenizer_encode(t, (const char *)data, size, 1, &ids, &n, err, sizeof err)) {
        free(ids);
        return;
    }
    size_t cap = size * 4 + 64, len = 0;
    char *out = malloc(cap), piece[512];
    if (!out)
        abort();
    int32_t prev = -1;
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= llmc_tokenizer_vocab_size(t))
            abort();
        size_t k = llmc_tokenizer_decode(t, prev, ids[i], piece, sizeof piece);
        if (len + k > cap)
            abort(); /* decoding gives far more bytes than the text had */
        memcpy(out + len, piece, k);
        len += k;
        prev = ids[i];
    }
    if (check_roundtrip && valid_utf8(data, size) && !memmem(data, size, "\xe2\x96\x81", 3)) {
        /* Decoding drops the first piece's leading space after BOS (the one encode added), so the
         * text comes back as it was, except that runs of spaces are merged by neither side. */
        if (len != size || memcmp(out, data, size) != 0) {
            fprintf(stderr, "fuzz_tokenize: decode(encode(text)) != text (%zu bytes in, %zu out)\n", size, len);
            abort();
        }
    }
    free(out);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(spm, data, size, 1);
    run(l2c, data, size, 0);
    run_hf(llama3, data, size, 0, 1);
    run_hf(llama3, data, size, LLMC_TOK_SPECIAL, 1);
    run_hf(qwen3, data, size, 0, 0);
    run_hf(qwen3, data, size, LLMC_TOK_SPECIAL, 0);
    return 0;
}
