/* tokenizer.c — the built-in tokenizers (tokenizer.h): the public calls, once, over a table of
 * file formats.
 *
 * Each format is one file filling in one LlmcTokFormat (tokenizer_impl.h): llama2.c's
 * tokenizer.bin (tokenizer_llama2c.c) and SentencePiece BPE read from a tokenizer.model protobuf
 * (tokenizer_sp.c), both merging with the shared BPE engine (tokenizer_bpe.c), and tokenizer.json
 * BPE in its compact form (tokenizer_hf.c, merges by rank). This file checks the
 * arguments, owns the common parts of the object (pieces, their bytes, the hash index) and
 * dispatches to the format's load, encode, decode and free. A new format is one new file and one
 * entry in kFormats.
 *
 * llmc_tokenizer_decode returns the piece's full byte count like snprintf: a result >= bufsize
 * means buf holds a truncated prefix.
 */
#include "tokenizer_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Texts longer than this are refused (keeps every symbol offset in 32 bits). */
#define MAX_TEXT_BYTES ((size_t)1 << 28)

static const LlmcTokFormat *const kFormats[] = {
    &llmc_tok_llama2c,
    &llmc_tok_sentencepiece,
    &llmc_tok_hf,
};

int llmc_tok_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void llmc_tok_out_put(LlmcTokOut *o, const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++, o->n++)
        if (o->n + 1 < o->size)
            o->buf[o->n] = (char)s[i];
}

void llmc_ids_push(LlmcIds *out, int32_t id)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 256;
        int32_t *p = out->oom || cap > INT32_MAX ? NULL : realloc(out->p, cap * sizeof *p);
        if (!p) {
            out->oom = true;
            return;
        }
        out->p = p;
        out->cap = cap;
    }
    out->p[out->n++] = id;
}

static const LlmcTokFormat *format_of(int kind)
{
    for (size_t i = 0; i < sizeof kFormats / sizeof kFormats[0]; i++)
        if (kFormats[i]->kind == kind)
            return kFormats[i];
    return NULL;
}

/* ---- public: load, free, properties ---- */

int llmc_tokenizer_load(LlmcTokenizer **out, int kind, const uint8_t *data, size_t size,
                        int32_t vocab_size, char *err, size_t errlen)
{
    *out = NULL;
    const LlmcTokFormat *fmt = format_of(kind);
    if (!fmt)
        return llmc_tok_fail(err, errlen, "unknown tokenizer kind %d", kind);
    if (vocab_size <= 0)
        return llmc_tok_fail(err, errlen, "vocab_size %d must be positive", vocab_size);
    if (!data && size)
        return llmc_tok_fail(err, errlen, "no tokenizer data");
    if (size > UINT32_MAX)
        return llmc_tok_fail(err, errlen, "tokenizer file of %zu bytes is too large", size);
    LlmcTokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return llmc_tok_fail(err, errlen, "out of memory");
    t->fmt = fmt;
    t->n = vocab_size;
    t->bos = t->eos = t->unk = -1;
    t->pieces = malloc((size_t)vocab_size * sizeof *t->pieces);
    int rc;
    if (!t->pieces)
        rc = llmc_tok_fail(err, errlen, "out of memory for %d pieces", vocab_size);
    else
        rc = fmt->load(t, data, size, err, errlen);
    if (rc) {
        llmc_tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void llmc_tokenizer_free(LlmcTokenizer *tok)
{
    if (!tok)
        return;
    if (tok->fmt->free)
        tok->fmt->free(tok);
    free(tok->pieces);
    free(tok->pool);
    free(tok->slots);
    free(tok);
}

int32_t llmc_tokenizer_vocab_size(const LlmcTokenizer *tok) { return tok->n; }
int32_t llmc_tokenizer_bos(const LlmcTokenizer *tok) { return tok->bos; }
int32_t llmc_tokenizer_eos(const LlmcTokenizer *tok) { return tok->eos; }

int llmc_tokenizer_encode(const LlmcTokenizer *tok, const char *text, size_t len, int flags,
                          int32_t **ids, int32_t *n_ids, char *err, size_t errlen)
{
    *ids = NULL;
    *n_ids = 0;
    if (len > MAX_TEXT_BYTES)
        return llmc_tok_fail(err, errlen, "text of %zu bytes is too long to encode (limit %zu)",
                             len, MAX_TEXT_BYTES);
    if (!text && len)
        return llmc_tok_fail(err, errlen, "no text");
    LlmcIds out = {NULL, 0, 0, false};
    if ((flags & LLMC_TOK_ADD_BOS) && tok->bos >= 0)
        llmc_ids_push(&out, tok->bos);
    const uint8_t *s = (const uint8_t *)text;
    int rc = tok->fmt->encode(tok, s, len, flags, &out, err, errlen);
    if (!rc && out.oom)
        rc = llmc_tok_fail(err, errlen, "out of memory");
    if (rc) {
        free(out.p);
        return -1;
    }
    int32_t *shrunk = out.n ? realloc(out.p, out.n * sizeof *out.p) : NULL;
    *ids = shrunk ? shrunk : out.p;
    if (!*ids)
        *ids = malloc(sizeof **ids);
    if (!*ids)
        return llmc_tok_fail(err, errlen, "out of memory");
    *n_ids = (int32_t)out.n;
    return 0;
}

/* ---- decode ---- */

size_t llmc_tokenizer_decode_ex(const LlmcTokenizer *tok, int32_t prev, int32_t id, int flags, char *buf,
                                size_t bufsize)
{
    LlmcTokOut o = {buf, bufsize, 0};
    if (tok && id >= 0 && id < tok->n)
        tok->fmt->decode(tok, prev, id, flags, &o);
    if (bufsize)
        buf[o.n < bufsize ? o.n : bufsize - 1] = 0;
    return o.n;
}

size_t llmc_tokenizer_decode(const LlmcTokenizer *tok, int32_t prev, int32_t id, char *buf,
                             size_t bufsize)
{
    return llmc_tokenizer_decode_ex(tok, prev, id, 0, buf, bufsize);
}

const char *llmc_tokenizer_string(const LlmcTokenizer *tok, const char *key, size_t *len)
{
    *len = 0;
    if (!tok || !tok->fmt->string)
        return NULL;
    return tok->fmt->string(tok, key, len);
}

/* ---- streaming decode ---- */

struct LlmcDetok {
    const LlmcTokenizer *tok;
    int flags;
    int32_t prev;
    uint8_t held[4];    /* the start of a character the next token may complete */
    size_t n_held;
    char *buf;          /* what the last call returned */
    size_t cap;
};

LlmcDetok *llmc_detok_new(const LlmcTokenizer *tok, int flags)
{
    LlmcDetok *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->tok = tok;
    s->flags = flags;
    s->prev = -1;
    s->cap = 256;
    s->buf = malloc(s->cap);
    if (!s->buf) {
        free(s);
        return NULL;
    }
    return s;
}

void llmc_detok_free(LlmcDetok *s)
{
    if (s)
        free(s->buf);
    free(s);
}

/* Bytes a character starting with byte c has in all (0: c cannot start one). */
static size_t utf8_need(uint8_t c)
{
    return c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
}

/* Where the ready text of b[0..n) ends: before a start of a character at the end that the bytes
 * after it have not completed yet and could still complete. At most 3 bytes are held back. */
static size_t ready_end(const uint8_t *b, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        uint8_t c = b[n - back];
        if ((c & 0xc0) == 0x80)
            continue;   /* a continuation byte: its start is further back */
        size_t need = utf8_need(c);
        if (need <= back)
            return n;   /* complete, or not a start at all */
        if (back >= 2) {   /* the second byte of E0, ED, F0, F4 sequences has a narrower range */
            uint8_t c1 = b[n - back + 1];
            uint8_t lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80, hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
            if (c1 < lo || c1 > hi)
                return n;
        }
        return n - back;
    }
    return n;
}

const char *llmc_detok_put(LlmcDetok *s, int32_t id, size_t *len)
{
    *len = 0;
    char probe[1];
    size_t n = llmc_tokenizer_decode_ex(s->tok, s->prev, id, s->flags, probe, sizeof probe);
    if (s->n_held + n + 1 > s->cap) {
        size_t cap = s->cap;
        while (cap < s->n_held + n + 1)
            cap *= 2;
        char *p = realloc(s->buf, cap);
        if (!p)
            return NULL;
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf, s->held, s->n_held);
    llmc_tokenizer_decode_ex(s->tok, s->prev, id, s->flags, s->buf + s->n_held, s->cap - s->n_held);
    s->prev = id;
    size_t total = s->n_held + n, end = ready_end((const uint8_t *)s->buf, total);
    s->n_held = total - end;
    memcpy(s->held, s->buf + end, s->n_held);
    *len = end;
    return s->buf;
}

const char *llmc_detok_flush(LlmcDetok *s, size_t *len)
{
    memcpy(s->buf, s->held, s->n_held);
    *len = s->n_held;
    s->n_held = 0;
    return s->buf;
}
