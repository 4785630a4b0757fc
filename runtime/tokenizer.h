/* tokenizer.h — the built-in tokenizers: llama2.c's tokenizer.bin, SentencePiece BPE
 * (tokenizer.model protobuf, byte fallback) and Hugging Face tokenizer.json BPE (byte-level or
 * SentencePiece-style), the latter in the compact form llmc converts it to (abi/hftok.h).
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

/* kind is LLMC_TOK_LLAMA2C, LLMC_TOK_SENTENCEPIECE or LLMC_TOK_HF (llmc_model.h). vocab_size is
 * the model's vocabulary; a llama2.c tokenizer.bin does not record its own size, so it is read
 * with this count. For SentencePiece, the file's piece count must equal vocab_size; a tokenizer.json
 * may use fewer ids than the model has (the others decode to nothing), never more.
 * Returns 0 on success; on failure writes a message (naming what is wrong) into err. */
int llmc_tokenizer_load(LlmcTokenizer **out, int kind, const uint8_t *data, size_t size,
                        int32_t vocab_size, char *err, size_t errlen);
void llmc_tokenizer_free(LlmcTokenizer *tok);

int32_t llmc_tokenizer_vocab_size(const LlmcTokenizer *tok);
/* The BOS that LLMC_TOK_ADD_BOS puts first: -1 when the tokenizer prepends none (a tokenizer.json
 * whose post-processor adds none, like Qwen's). */
int32_t llmc_tokenizer_bos(const LlmcTokenizer *tok);
int32_t llmc_tokenizer_eos(const LlmcTokenizer *tok);

/* Flags of encode and decode. */
enum {
    LLMC_TOK_ADD_BOS = 1,   /* encode: the BOS first, when the tokenizer has one */
    LLMC_TOK_SPECIAL = 2    /* encode (tokenizer.json): added and special tokens written in the text
                               are those tokens (for text a chat template rendered; plain text never
                               matches them; the other formats have no added tokens and ignore it);
                               decode: special and control tokens give their text instead of nothing */
};

/* Encodes text (len bytes, any bytes) into ids. Invalid UTF-8 goes through byte fallback or
 * byte-level tokens, so it comes back from decoding unchanged. flags: LLMC_TOK_* (1 is
 * LLMC_TOK_ADD_BOS). *ids is malloc'd (caller frees). Returns 0 or -1 (message in err: out of
 * memory, or a character that neither a piece nor byte fallback covers). */
int llmc_tokenizer_encode(const LlmcTokenizer *tok, const char *text, size_t len, int flags,
                          int32_t **ids, int32_t *n_ids, char *err, size_t errlen);

/* Bytes that token `id` contributes to the text when it follows token `prev` (prev = -1 at the
 * start). Follows the reference decoders: the leading space of the first piece after BOS is
 * dropped, "<0xXX>" pieces become the raw byte, control tokens (BOS/EOS/unk) give no bytes.
 * Writes into buf (always NUL-terminated) and returns the byte count. Streaming several tokens
 * concatenates to the decoded text; byte-fallback sequences recombine into UTF-8 that way. */
size_t llmc_tokenizer_decode(const LlmcTokenizer *tok, int32_t prev, int32_t id, char *buf,
                             size_t bufsize);
/* The same with flags (LLMC_TOK_SPECIAL: control and special tokens give their text). */
size_t llmc_tokenizer_decode_ex(const LlmcTokenizer *tok, int32_t prev, int32_t id, int flags, char *buf,
                                size_t bufsize);

/* Streaming decode for text that must be whole UTF-8 characters at every step (a terminal line, a
 * server's JSON chunk): each token's bytes are appended, and what is returned stops before an
 * incomplete character at the end, which waits for the next token. Bytes that cannot start or
 * continue a character are passed on as they are, so the concatenation of everything returned,
 * flush included, is exactly the decoded bytes. */
typedef struct LlmcDetok LlmcDetok;
LlmcDetok *llmc_detok_new(const LlmcTokenizer *tok, int flags);   /* NULL: out of memory */
/* The text ready after token id: *len bytes at the returned pointer (valid until the next call);
 * NULL when out of memory. */
const char *llmc_detok_put(LlmcDetok *s, int32_t id, size_t *len);
/* What is held back (an incomplete character at the very end). */
const char *llmc_detok_flush(LlmcDetok *s, size_t *len);
void llmc_detok_free(LlmcDetok *s);

/* A named string the tokenizer carries (tokenizer.json's compact form: "chat_template",
 * "bos_token", "eos_token", ...): NULL when there is none. *len gets its byte count. */
const char *llmc_tokenizer_string(const LlmcTokenizer *tok, const char *key, size_t *len);

#endif
