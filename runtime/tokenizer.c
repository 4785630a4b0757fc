/* tokenizer.c — the built-in tokenizers (tokenizer.h): the public calls, once, over a table of
 * file formats.
 *
 * Each format is one file filling in one LlmcTokFormat (tokenizer_impl.h): llama2.c's
 * tokenizer.bin (tokenizer_llama2c.c) and SentencePiece BPE read from a tokenizer.model protobuf
 * (tokenizer_sp.c); both merge with the shared BPE engine (tokenizer_bpe.c). This file checks the
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

int llmc_tokenizer_encode(const LlmcTokenizer *tok, const char *text, size_t len, int add_bos,
                          int32_t **ids, int32_t *n_ids, char *err, size_t errlen)
{
    *ids = NULL;
    *n_ids = 0;
    if (len > MAX_TEXT_BYTES)
        return llmc_tok_fail(err, errlen, "text of %zu bytes is too long to encode (limit %zu)",
                             len, MAX_TEXT_BYTES);
    if (!text && len)
        return llmc_tok_fail(err, errlen, "no text");
    if (add_bos && tok->bos < 0)
        return llmc_tok_fail(err, errlen, "the vocabulary has no BOS token");
    /* The format's bound, plus BOS. */
    size_t cap = tok->fmt->ids_per_byte * (len + 1) + 1;
    int32_t *out = malloc(cap * sizeof *out);
    if (!out)
        return llmc_tok_fail(err, errlen, "out of memory");
    int32_t n = 0;
    if (add_bos)
        out[n++] = tok->bos;
    const uint8_t *s = (const uint8_t *)text;
    int rc = tok->fmt->encode(tok, s, len, out, &n, err, errlen);
    if (rc) {
        free(out);
        return -1;
    }
    int32_t *shrunk = realloc(out, (n ? (size_t)n : 1) * sizeof *out);
    *ids = shrunk ? shrunk : out;
    *n_ids = n;
    return 0;
}

/* ---- decode ---- */

size_t llmc_tokenizer_decode(const LlmcTokenizer *tok, int32_t prev, int32_t id, char *buf,
                             size_t bufsize)
{
    LlmcTokOut o = {buf, bufsize, 0};
    if (tok && id >= 0 && id < tok->n)
        tok->fmt->decode(tok, prev, id, &o);
    if (bufsize)
        buf[o.n < bufsize ? o.n : bufsize - 1] = 0;
    return o.n;
}
