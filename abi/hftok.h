/* hftok.h — the compact form of a Hugging Face tokenizer.json (tokenizer kind LLMC_TOK_HF), the
 * bytes the payload's tokenizer section holds for such a model.
 *
 * llmc converts tokenizer.json (and tokenizer_config.json beside it) at compile time
 * (frontend/tokenizer_json.c): everything the tokenizer does at run time becomes data here, in
 * the order it happens, and whatever the converter does not understand is refused there, naming
 * the file and the JSON path. The runtime (runtime/tokenizer_hf.c) reads this form, checks every
 * count and length against the section's size, and never sees JSON.
 *
 * Byte-level vocabularies (GPT-2's bytes-to-unicode alphabet, "Ġ" for a space) are stored as the
 * raw bytes they stand for, so the runtime merges raw bytes and decodes without a table. Each
 * token also carries the bytes it decodes to, worked out at compile time from the file's decoder
 * (ByteLevel, or Replace "▁" -> " " / ByteFallback / Fuse / Strip for SentencePiece-style files).
 *
 * All integers are little-endian; nothing is aligned. Layout:
 *
 *   header     magic "LLMCHFT1", then the u32/i32 fields of LlmcHfTokHeader in order
 *   normalizer n_norm steps:  u32 op (LLMC_HFN_*), u32 arg, str a, str b
 *   pre-tok.   n_pre steps:   u32 op (LLMC_HFP_*), u32 arg, str a, str b
 *   tokens     n_tokens:      u8 flags (LLMC_HFT_*), then str piece   if LLMC_HFT_VOCAB,
 *                                                       str content if LLMC_HFT_ADDED,
 *                                                       str decoded if LLMC_HFT_DEC_OWN
 *   merges     n_merges:      u32 left id, u32 right id, in rank order (rank 0 first); the
 *                             merged token is the vocabulary piece spelling left + right
 *   strings    n_strings:     str key, str value (chat_template, bos_token, eos_token, ...)
 *
 * where str is a u32 byte count and that many bytes (no NUL). A token without VOCAB or ADDED is a
 * hole: an id the file does not use (it decodes to nothing). A token's decoded bytes are its own
 * (DEC_OWN), else its piece (VOCAB), else its content.
 */
#ifndef LLMC_HFTOK_H
#define LLMC_HFTOK_H

#include <stdint.h>

#define LLMC_HFTOK_MAGIC "LLMCHFT1"

/* The header's fields after the magic, each a u32 (ids: i32, -1 for none). */
enum {
    LLMC_HFH_FLAGS,         /* LLMC_HFF_* */
    LLMC_HFH_N_TOKENS,      /* ids 0..n_tokens-1; at most the model's vocab_size */
    LLMC_HFH_N_MERGES,
    LLMC_HFH_N_NORM,
    LLMC_HFH_N_PRE,
    LLMC_HFH_N_STRINGS,
    LLMC_HFH_UNK,           /* the model's unk_token, -1 */
    LLMC_HFH_BOS,           /* prepended to plain text when a BOS is asked for, -1: never */
    LLMC_HFH_EOS,           /* eos_token of tokenizer_config.json, -1 */
    LLMC_HFH_COUNT
};
#define LLMC_HFTOK_HEADER_BYTES (8 + 4 * LLMC_HFH_COUNT)

/* Header flags. */
enum {
    LLMC_HFF_BYTE_LEVEL = 1,     /* pieces are raw bytes; a byte is first the token of that byte */
    LLMC_HFF_BYTE_FALLBACK = 2,  /* unknown characters become "<0xXX>" tokens */
    LLMC_HFF_IGNORE_MERGES = 4,  /* a pre-token that is a vocabulary piece is taken whole */
    LLMC_HFF_FUSE_UNK = 8,       /* consecutive unknown characters give one unk */
    LLMC_HFF_STRIP_START = 16,   /* decoding drops one leading space of the first token (at the
                                    start or after BOS) */
    LLMC_HFF_ALL = 31
};

/* Normalizer steps, applied in order to each stretch of text between added tokens. */
enum {
    LLMC_HFN_NFC = 1,
    LLMC_HFN_NFD,
    LLMC_HFN_NFKC,
    LLMC_HFN_NFKD,
    LLMC_HFN_PREPEND,       /* a before non-empty text */
    LLMC_HFN_REPLACE,       /* every a (a literal, not empty) -> b */
    LLMC_HFN_COUNT
};

/* Pre-tokenizer steps, each applied to every piece the steps before it produced. */
enum {
    LLMC_HFP_SPLIT = 1,     /* a: PCRE2 pattern (LLMC_HFTOK_PCRE2_OPTIONS); arg: behavior | invert */
    LLMC_HFP_PREFIX_SPACE,  /* ByteLevel add_prefix_space: ' ' before a piece not starting so */
    LLMC_HFP_METASPACE,     /* a: replacement; arg: prepend scheme | split: spaces -> a, ... */
    LLMC_HFP_COUNT
};

/* LLMC_HFP_SPLIT arg: the behavior in the low byte, LLMC_HFS_INVERT on top. */
enum {
    LLMC_HFS_REMOVED = 0,
    LLMC_HFS_ISOLATED,
    LLMC_HFS_MERGED_WITH_PREVIOUS,
    LLMC_HFS_MERGED_WITH_NEXT,
    LLMC_HFS_CONTIGUOUS,
    LLMC_HFS_COUNT,
    LLMC_HFS_INVERT = 256
};

/* LLMC_HFP_METASPACE arg: the prepend scheme in the low byte, LLMC_HFM_SPLIT on top. */
enum {
    LLMC_HFM_NEVER = 0,
    LLMC_HFM_FIRST,         /* only before the piece at the very start of the text */
    LLMC_HFM_ALWAYS,
    LLMC_HFM_SPLIT = 256    /* then split before each replacement (MergedWithNext) */
};

/* Token flags. */
enum {
    LLMC_HFT_VOCAB = 1,         /* in the model's vocabulary: piece follows */
    LLMC_HFT_ADDED = 2,         /* an added token: content follows */
    LLMC_HFT_SPECIAL = 4,       /* added and special (control) */
    LLMC_HFT_LSTRIP = 8,        /* added: swallows the whitespace before it */
    LLMC_HFT_RSTRIP = 16,       /* added: swallows the whitespace after it */
    LLMC_HFT_SINGLE_WORD = 32,  /* added: only matched as a whole word */
    LLMC_HFT_DEC_OWN = 64,      /* decoded bytes follow */
    LLMC_HFT_NORMALIZED = 128,  /* added: matched in the normalized text, not the raw one */
    LLMC_HFT_ALL = 255
};

/* How both sides compile the pre-tokenizer's patterns: UTF-8 with Unicode classes (\p{L}, \s),
 * and invalid UTF-8 in the text allowed (it matches nothing). Values of pcre2.h. */
#define LLMC_HFTOK_PCRE2_OPTIONS (0x00080000u /* PCRE2_UTF */ | 0x00020000u /* PCRE2_UCP */ | \
                                  0x04000000u /* PCRE2_MATCH_INVALID_UTF */)

/* Limits both sides enforce. */
#define LLMC_HFTOK_MAX_STEPS 64
#define LLMC_HFTOK_MAX_PIECE 65536      /* bytes of one token's strings */

#endif
