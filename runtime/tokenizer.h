/* tokenizer.h — the built-in tokenizers: llama2.c's tokenizer.bin and SentencePiece BPE
 * (tokenizer.model protobuf, byte fallback).
 *
 * Used by the model executable (encode prompts, stream decoded text) and by llmc itself (validate
 * a tokenizer at compile time, `llmc tokenize`). A tokenizer is built from the raw file bytes; the
 * bytes are copied, so the caller may free them. No global state. tokenizer.c implements these
 * calls over a table of formats, one file each (tokenizer_impl.h).
 */
#ifndef LLMC_TOKENIZER_H
#define LLMC_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct LlmcTokenizer LlmcTokenizer;

/* kind is LLMC_TOK_LLAMA2C or LLMC_TOK_SENTENCEPIECE (llmc_model.h). vocab_size is the model's
 * vocabulary; a llama2.c tokenizer.bin does not record its own size, so it is read with this count.
 * For SentencePiece, the file's piece count must equal vocab_size or the call fails.
 * Returns 0 on success; on failure writes a message (naming what is wrong) into err. */
int llmc_tokenizer_load(LlmcTokenizer **out, int kind, const uint8_t *data, size_t size,
                        int32_t vocab_size, char *err, size_t errlen);
void llmc_tokenizer_free(LlmcTokenizer *tok);

int32_t llmc_tokenizer_vocab_size(const LlmcTokenizer *tok);
int32_t llmc_tokenizer_bos(const LlmcTokenizer *tok);   /* -1 when the vocabulary has none */
int32_t llmc_tokenizer_eos(const LlmcTokenizer *tok);

/* Encodes text (len bytes, any bytes; invalid UTF-8 goes through byte fallback) into ids.
 * With add_bos the BOS id comes first. *ids is malloc'd (caller frees). Returns 0 or -1 (message
 * in err: out of memory, or a character that neither a piece nor byte fallback covers). */
int llmc_tokenizer_encode(const LlmcTokenizer *tok, const char *text, size_t len, int add_bos,
                          int32_t **ids, int32_t *n_ids, char *err, size_t errlen);

/* Bytes that token `id` contributes to the text when it follows token `prev` (prev = -1 at the
 * start). Follows the reference decoders: the leading space of the first piece after BOS is
 * dropped, "<0xXX>" pieces become the raw byte, control tokens (BOS/EOS/unk) give no bytes.
 * Writes into buf (always NUL-terminated) and returns the byte count. Streaming several tokens
 * concatenates to the decoded text; byte-fallback sequences recombine into UTF-8 that way. */
size_t llmc_tokenizer_decode(const LlmcTokenizer *tok, int32_t prev, int32_t id, char *buf,
                             size_t bufsize);

#endif
