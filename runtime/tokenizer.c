/* tokenizer.c — the built-in tokenizers (tokenizer.h): llama2.c's tokenizer.bin and SentencePiece
 * BPE read from a tokenizer.model protobuf.
 *
 * Both formats encode the same way at heart: cut the text into initial symbols, then repeatedly
 * merge the adjacent pair whose concatenation is a vocabulary piece with the highest score, the
 * leftmost pair on ties. The references do this differently — llama2.c's run.c rescans every
 * pair after each merge with a binary search over the sorted vocabulary (O(n^2 log V)), and
 * SentencePiece's bpe_model.cc keeps a priority queue of candidate pairs — but both pick the same
 * pair at every step, so one engine serves both here (bpe_run): the symbols are byte ranges of
 * one buffer, a doubly linked list in text order; the candidate pairs sit in a binary heap
 * ordered by (score descending, left symbol ascending); a merge keeps the left symbol, kills the
 * right one and pushes the two new pairs around it; stale heap entries are dropped when popped
 * (lazy invalidation). Pieces are found through a hash table keyed by their bytes. O(n log n);
 * stretches of text that no merge can cross are merged one after another with a small heap
 * (bpe_run), which keeps a 200 KB text at a few tens of milliseconds.
 *
 * Because a pair's candidate is "the piece spelled by the concatenation", the buffer the symbols
 * index must spell the strings the reference concatenates:
 *   - llama2.c concatenates *piece strings* (vocab[id]), not the text: a byte-fallback token
 *     contributes "<0xE6>", the dummy prefix contributes vocab[" "]. So for this format the
 *     buffer is built from the initial tokens' piece strings, laid end to end.
 *   - SentencePiece merges substrings of the normalized text, so the buffer is that text.
 *
 * SentencePiece details followed (normalizer.cc, bpe_model.cc, model_interface.cc,
 * sentencepiece_processor.cc):
 *   - normalization: identity only. A model whose normalizer is not "identity" and carries a
 *     precompiled charsmap (NFKC and the like) is accepted and encoded with identity
 *     normalization; that matches it exactly on text its rules leave alone (the usual case for
 *     Llama-style byte-fallback models, whose normalizer is "identity"). The library prints
 *     nothing; callers that care can compare the name themselves.
 *   - then remove_extra_whitespaces (drop leading spaces, collapse runs, drop trailing ones),
 *     add_dummy_prefix (one leading space), escape_whitespaces (' ' -> U+2581 "▁").
 *   - initial symbols: the longest USER_DEFINED piece matching at a position (frozen: never
 *     merged), else one UTF-8 character.
 *   - merge candidates are NORMAL, USER_DEFINED and UNUSED pieces, as in SentencePiece; a symbol
 *     left as an UNUSED piece at the end is split back into the two symbols that formed it
 *     (recursively), using the split of the last pair pushed for that piece, as bpe_model.cc's
 *     rev_merge does.
 *   - final ids: a symbol that is a piece gets its id (CONTROL/UNKNOWN/BYTE spellings first, as
 *     PieceToId does); otherwise with byte_fallback each byte becomes its "<0xXX>" piece, without
 *     it a run of unknown symbols becomes one unk id. unk is the UNKNOWN piece (exactly one,
 *     as SentencePiece requires); BOS and EOS are trainer_spec's bos_id and eos_id.
 *   - the loader refuses what SentencePiece refuses (empty or NUL-holding pieces, duplicates,
 *     no UNKNOWN piece, BYTE pieces without byte_fallback, byte_fallback without all 256), and
 *     model types other than BPE and treat_whitespace_as_suffix. Unknown protobuf fields of any
 *     wire type are skipped; a known field with the wrong wire type is refused as corrupt.
 * Deliberate deviation: SentencePiece's normalizer turns each invalid UTF-8 byte into U+FFFD
 * before encoding; here an invalid byte stays itself (one symbol of one byte), so with
 * byte_fallback it becomes its "<0xXX>" piece and decoding gives the original bytes back
 * (tokenizer.h: any bytes round-trip). Valid UTF-8 encodes exactly as SentencePiece does.
 *
 * Decoding is per token, for streaming (tokenizer.h): a piece's bytes with "▁" -> " ", byte
 * pieces give their byte, CONTROL and UNKNOWN pieces give nothing (SentencePiece would print
 * unk_surface " ⁇ " for <unk>; nothing is printed here so that decoded text only ever holds
 * bytes that were encoded). The leading space of the first piece after BOS or at the start
 * (prev == -1) is dropped when add_dummy_prefix or remove_extra_whitespaces is on, as
 * SentencePiece's decoder drops the dummy prefix (with remove_extra_whitespaces SentencePiece
 * strips every leading space piece; the encoder never produces more than one). llama2.c: its
 * decode() exactly (strip one leading space after BOS, "<0xXX>" -> the byte), and ids 0..2
 * (<unk>, <s>, </s> in every llama2.c export) give nothing. llmc_tokenizer_decode returns the
 * piece's full byte count like snprintf: a result >= bufsize means buf holds a truncated prefix.
 */
#include "tokenizer.h"

#include "llmc_model.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Piece types: SentencePiece's ModelProto.SentencePiece.Type numbers. */
enum {
    PT_NORMAL = 1, PT_UNKNOWN = 2, PT_CONTROL = 3, PT_USER_DEFINED = 4, PT_UNUSED = 5, PT_BYTE = 6
};

/* SentencePiece's TrainerSpec.ModelType. */
enum { SP_UNIGRAM = 1, SP_BPE = 2, SP_WORD = 3, SP_CHAR = 4 };

/* Texts longer than this are refused (keeps every symbol offset in 32 bits). */
#define MAX_TEXT_BYTES ((size_t)1 << 28)

/* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's escaped space. */
static const uint8_t kSpaceSymbol[3] = {0xE2, 0x96, 0x81};

typedef struct Piece {
    uint32_t off, len;  /* bytes in tok->pool */
    float score;
    uint8_t type;       /* PT_*; llama2.c pieces are PT_NORMAL */
    int16_t byte;       /* PT_BYTE (SentencePiece): the byte it stands for; else -1 */
} Piece;

/* One slot per distinct piece string. A string may name two pieces in SentencePiece: one the
 * BPE may form (merge_id) and one it never forms but PieceToId prefers (fixed_id). */
typedef struct Slot {
    uint32_t hash;
    uint32_t off, len;  /* the string, in tok->pool */
    int32_t merge_id;   /* llama2.c: every piece (lowest id of duplicates); SentencePiece: NORMAL,
                           USER_DEFINED, UNUSED. -1: none */
    int32_t fixed_id;   /* SentencePiece CONTROL, UNKNOWN, BYTE. -1: none */
} Slot;                 /* empty when both ids are -1 */

struct LlmcTokenizer {
    int kind;           /* LLMC_TOK_LLAMA2C or LLMC_TOK_SENTENCEPIECE */
    int32_t n;          /* pieces */
    Piece *pieces;      /* [n] */
    uint8_t *pool;      /* piece bytes */
    Slot *slots;        /* [mask + 1] open addressing, linear probing */
    uint32_t mask;
    int32_t bos, eos, unk;
    uint64_t pair_bits[1024];   /* bit x << 8 | y: bytes x, y are adjacent in a mergeable piece */
    uint32_t max_merge_len;     /* longest mergeable piece */

    /* SentencePiece only */
    bool add_dummy_prefix, remove_extra_ws, escape_ws, byte_fallback, has_unused;
    int32_t byte_id[256];   /* id of "<0xXX>" (byte_fallback); -1 */
    bool ud_first[256];     /* some USER_DEFINED piece starts with this byte */
    uint32_t *ud_lens;      /* distinct USER_DEFINED piece lengths, longest first */
    int32_t n_ud_lens;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- piece hash table ---- */

static uint32_t hash_bytes(const uint8_t *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a 64, folded */
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32));
}

static Slot *slot_find(const LlmcTokenizer *t, const uint8_t *s, size_t len)
{
    uint32_t h = hash_bytes(s, len);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        Slot *sl = &t->slots[i];
        if (sl->merge_id < 0 && sl->fixed_id < 0)
            return NULL;
        if (sl->hash == h && sl->len == len && memcmp(t->pool + sl->off, s, len) == 0)
            return sl;
    }
}

/* The slot for piece id's string, created empty (ids -1) when missing. */
static Slot *slot_get(LlmcTokenizer *t, int32_t id)
{
    const Piece *p = &t->pieces[id];
    const uint8_t *s = t->pool + p->off;
    uint32_t h = hash_bytes(s, p->len);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        Slot *sl = &t->slots[i];
        if (sl->merge_id < 0 && sl->fixed_id < 0) {
            *sl = (Slot){h, p->off, p->len, -1, -1};
            return sl;
        }
        if (sl->hash == h && sl->len == p->len && memcmp(t->pool + sl->off, s, p->len) == 0)
            return sl;
    }
}

static int alloc_slots(LlmcTokenizer *t)
{
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)t->n)
        cap *= 2;
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->slots)
        return -1;
    for (uint32_t i = 0; i < cap; i++)
        t->slots[i] = (Slot){0, 0, 0, -1, -1};
    t->mask = cap - 1;
    return 0;
}

/* Records which byte pairs occur inside pieces the BPE may form (see bpe_run). */
static void note_pairs(LlmcTokenizer *t, int32_t id)
{
    const Piece *p = &t->pieces[id];
    const uint8_t *s = t->pool + p->off;
    if (p->len > t->max_merge_len)
        t->max_merge_len = p->len;
    for (uint32_t k = 1; k < p->len; k++) {
        unsigned v = (unsigned)s[k - 1] << 8 | s[k];
        t->pair_bits[v >> 6] |= 1ull << (v & 63);
    }
}

/* The id PieceToId gives a string: CONTROL/UNKNOWN/BYTE spelling first, then a mergeable piece,
 * else unk. */
static int32_t piece_to_id(const LlmcTokenizer *t, const uint8_t *s, size_t len)
{
    const Slot *sl = slot_find(t, s, len);
    if (sl && sl->fixed_id >= 0)
        return sl->fixed_id;
    if (sl && sl->merge_id >= 0)
        return sl->merge_id;
    return t->unk;
}

/* "<0xXX>" -> XX, else -1. SentencePiece writes "%02X" and accepts only that; llama2.c parses
 * with sscanf("<0x%02hhX>") and so also takes lower-case digits. */
static int parse_byte_piece(const uint8_t *s, size_t len, bool lower_ok)
{
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (lower_ok && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float rd_f32(const uint8_t *p)
{
    uint32_t u = rd_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- llama2.c tokenizer.bin ---- */

/* int32 max_token_length, then vocab_size times (float32 score, int32 len, len bytes), little
 * endian. max_token_length only sized run.c's scratch buffer; nothing here needs it. */
static int load_llama2c(LlmcTokenizer *t, const uint8_t *d, size_t size, char *err, size_t errlen)
{
    if (size < 4)
        return fail(err, errlen, "tokenizer.bin: %zu bytes, too short for the 4-byte header", size);
    t->pool = malloc(size);
    if (!t->pool)
        return fail(err, errlen, "tokenizer.bin: out of memory");
    size_t pos = 4;
    uint32_t used = 0;
    for (int32_t i = 0; i < t->n; i++) {
        if (size - pos < 8)
            return fail(err, errlen,
                        "tokenizer.bin: entry %d of %d: the file ends at byte %zu before its "
                        "score and length (is vocab_size right?)", i, t->n, size);
        float score = rd_f32(d + pos);
        int32_t len = (int32_t)rd_u32(d + pos + 4);
        pos += 8;
        if (len < 0)
            return fail(err, errlen, "tokenizer.bin: entry %d: negative length %d", i, len);
        if ((size_t)len > size - pos)
            return fail(err, errlen,
                        "tokenizer.bin: entry %d: length %d runs past the end of the file "
                        "(%zu bytes left)", i, len, size - pos);
        memcpy(t->pool + used, d + pos, (size_t)len);
        t->pieces[i] = (Piece){used, (uint32_t)len, score, PT_NORMAL, -1};
        used += (uint32_t)len;
        pos += (size_t)len;
    }
    if (pos != size)
        return fail(err, errlen,
                    "tokenizer.bin: %zu bytes follow entry %d: the file holds more than "
                    "vocab_size=%d entries", size - pos, t->n - 1, t->n);
    if (alloc_slots(t))
        return fail(err, errlen, "tokenizer.bin: out of memory");
    /* run.c finds a string by bsearch over the sorted vocabulary, which picks an unspecified one
     * of duplicate strings; the lowest id is taken here. */
    for (int32_t i = 0; i < t->n; i++) {
        Slot *sl = slot_get(t, i);
        if (sl->merge_id < 0)
            sl->merge_id = i;
        note_pairs(t, i);
    }
    t->bos = t->n > 1 ? 1 : -1;
    t->eos = t->n > 2 ? 2 : -1;
    t->unk = t->n > 0 ? 0 : -1;
    return 0;
}

/* ---- SentencePiece tokenizer.model (protobuf wire format) ---- */

typedef struct Pb {
    const uint8_t *p, *end;
    const uint8_t *base;    /* start of the file, for error offsets */
    char *err;
    size_t errlen;
} Pb;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

static int pb_fail(Pb *b, const char *what)
{
    return fail(b->err, b->errlen, "tokenizer.model: malformed protobuf at byte %zu: %s",
                (size_t)(b->p - b->base), what);
}

static int pb_varint(Pb *b, uint64_t *v)
{
    uint64_t r = 0;
    for (int i = 0; i < 10; i++) {
        if (b->p >= b->end)
            return pb_fail(b, "truncated varint");
        uint8_t c = *b->p++;
        r |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return pb_fail(b, "varint longer than 10 bytes");
}

static int pb_tag(Pb *b, uint32_t *field, int *wt)
{
    uint64_t v = 0;
    if (pb_varint(b, &v))
        return -1;
    if ((v >> 3) == 0 || (v >> 3) > 0x1fffffff)
        return pb_fail(b, "bad field number");
    *field = (uint32_t)(v >> 3);
    *wt = (int)(v & 7);
    return 0;
}

/* A length-delimited value: *sub spans it, b moves past it. */
static int pb_bytes(Pb *b, Pb *sub)
{
    uint64_t len = 0;
    if (pb_varint(b, &len))
        return -1;
    if (len > (uint64_t)(b->end - b->p))
        return pb_fail(b, "length runs past the end of its message");
    *sub = *b;
    sub->end = b->p + len;
    b->p += len;
    return 0;
}

static int pb_fixed32(Pb *b, uint32_t *v)
{
    if (b->end - b->p < 4)
        return pb_fail(b, "truncated fixed32");
    *v = rd_u32(b->p);
    b->p += 4;
    return 0;
}

/* Skips the value of an unknown field of any wire type (groups nest). */
static int pb_skip(Pb *b, uint32_t field, int wt, int depth)
{
    uint64_t v = 0;
    Pb sub;
    switch (wt) {
    case WT_VARINT:
        return pb_varint(b, &v);
    case WT_I64:
        if (b->end - b->p < 8)
            return pb_fail(b, "truncated fixed64");
        b->p += 8;
        return 0;
    case WT_LEN:
        return pb_bytes(b, &sub);
    case WT_I32:
        if (b->end - b->p < 4)
            return pb_fail(b, "truncated fixed32");
        b->p += 4;
        return 0;
    case WT_SGROUP:
        if (depth > 64)
            return pb_fail(b, "groups nested too deeply");
        for (;;) {
            uint32_t f = 0;
            int w = 0;
            if (b->p >= b->end)
                return pb_fail(b, "unterminated group");
            if (pb_tag(b, &f, &w))
                return -1;
            if (w == WT_EGROUP)
                return f == field ? 0 : pb_fail(b, "mismatched end of group");
            if (pb_skip(b, f, w, depth + 1))
                return -1;
        }
    case WT_EGROUP:
        return pb_fail(b, "end of group without a start");
    default:
        return pb_fail(b, "invalid wire type");
    }
}

static int pb_expect(Pb *b, uint32_t field, int wt, int want)
{
    if (wt == want)
        return 0;
    char msg[96];
    snprintf(msg, sizeof msg, "field %u has wire type %d, expected %d", field, wt, want);
    return pb_fail(b, msg);
}

/* int32 fields: varints holding the low 32 bits (negative ones are 10-byte varints). */
static int pb_int32(Pb *b, uint32_t field, int wt, int32_t *out)
{
    uint64_t v = 0;
    if (pb_expect(b, field, wt, WT_VARINT) || pb_varint(b, &v))
        return -1;
    *out = (int32_t)(uint32_t)v;
    return 0;
}

static int pb_bool(Pb *b, uint32_t field, int wt, bool *out)
{
    uint64_t v = 0;
    if (pb_expect(b, field, wt, WT_VARINT) || pb_varint(b, &v))
        return -1;
    *out = v != 0;
    return 0;
}

/* What the loader reads from ModelProto; defaults are the .proto's. */
typedef struct SpSpec {
    int32_t model_type;             /* TrainerSpec.model_type = 3, default UNIGRAM */
    bool treat_ws_as_suffix;        /* TrainerSpec.treat_whitespace_as_suffix = 24 */
    bool byte_fallback;             /* TrainerSpec.byte_fallback = 35 */
    int32_t unk_id, bos_id, eos_id, pad_id;   /* TrainerSpec 40..43: 0, 1, 2, -1 */
    Pb norm_name;                   /* NormalizerSpec.name = 1 (p == end: empty) */
    size_t charsmap_len;            /* NormalizerSpec.precompiled_charsmap = 2 */
    bool add_dummy_prefix, remove_extra_ws, escape_ws;   /* NormalizerSpec 3, 4, 5: true */
} SpSpec;

/* ModelProto.SentencePiece: piece = 1, score = 2, type = 3. */
static int parse_piece(LlmcTokenizer *t, Pb *b, int32_t id, size_t *used)
{
    Pb str = {b->p, b->p, b->base, b->err, b->errlen};
    float score = 0.0f;
    int32_t type = PT_NORMAL;
    while (b->p < b->end) {
        uint32_t f = 0;
        int wt = 0;
        if (pb_tag(b, &f, &wt))
            return -1;
        if (f == 1) {
            if (pb_expect(b, f, wt, WT_LEN) || pb_bytes(b, &str))
                return -1;
        } else if (f == 2) {
            uint32_t u = 0;
            if (pb_expect(b, f, wt, WT_I32) || pb_fixed32(b, &u))
                return -1;
            memcpy(&score, &u, sizeof score);
        } else if (f == 3) {
            if (pb_int32(b, f, wt, &type))
                return -1;
        } else if (pb_skip(b, f, wt, 0)) {
            return -1;
        }
    }
    size_t len = (size_t)(str.end - str.p);
    if (len == 0)
        return fail(b->err, b->errlen, "tokenizer.model: piece %d is empty", id);
    if (memchr(str.p, 0, len))
        return fail(b->err, b->errlen, "tokenizer.model: piece %d contains a NUL byte", id);
    if (type < PT_NORMAL || type > PT_BYTE)
        return fail(b->err, b->errlen, "tokenizer.model: piece %d has unknown type %d", id, type);
    if (isnan(score))
        return fail(b->err, b->errlen, "tokenizer.model: piece %d has a NaN score", id);
    memcpy(t->pool + *used, str.p, len);
    t->pieces[id] = (Piece){(uint32_t)*used, (uint32_t)len, score, (uint8_t)type, -1};
    *used += len;
    return 0;
}

static int parse_trainer_spec(Pb *b, SpSpec *s)
{
    while (b->p < b->end) {
        uint32_t f = 0;
        int wt = 0;
        if (pb_tag(b, &f, &wt))
            return -1;
        int rc;
        switch (f) {
        case 3: rc = pb_int32(b, f, wt, &s->model_type); break;
        case 24: rc = pb_bool(b, f, wt, &s->treat_ws_as_suffix); break;
        case 35: rc = pb_bool(b, f, wt, &s->byte_fallback); break;
        case 40: rc = pb_int32(b, f, wt, &s->unk_id); break;
        case 41: rc = pb_int32(b, f, wt, &s->bos_id); break;
        case 42: rc = pb_int32(b, f, wt, &s->eos_id); break;
        case 43: rc = pb_int32(b, f, wt, &s->pad_id); break;
        default: rc = pb_skip(b, f, wt, 0); break;
        }
        if (rc)
            return -1;
    }
    return 0;
}

static int parse_normalizer_spec(Pb *b, SpSpec *s)
{
    while (b->p < b->end) {
        uint32_t f = 0;
        int wt = 0;
        if (pb_tag(b, &f, &wt))
            return -1;
        int rc;
        Pb sub;
        switch (f) {
        case 1: rc = pb_expect(b, f, wt, WT_LEN) || pb_bytes(b, &s->norm_name); break;
        case 2:
            rc = pb_expect(b, f, wt, WT_LEN) || pb_bytes(b, &sub);
            if (!rc)
                s->charsmap_len = (size_t)(sub.end - sub.p);
            break;
        case 3: rc = pb_bool(b, f, wt, &s->add_dummy_prefix); break;
        case 4: rc = pb_bool(b, f, wt, &s->remove_extra_ws); break;
        case 5: rc = pb_bool(b, f, wt, &s->escape_ws); break;
        default: rc = pb_skip(b, f, wt, 0); break;
        }
        if (rc)
            return -1;
    }
    return 0;
}

static int cmp_u32_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static const char *model_type_name(int32_t t)
{
    switch (t) {
    case SP_UNIGRAM: return "UNIGRAM";
    case SP_BPE: return "BPE";
    case SP_WORD: return "WORD";
    case SP_CHAR: return "CHAR";
    default: return "unknown";
    }
}

/* ModelProto: pieces = 1 (repeated), trainer_spec = 2, normalizer_spec = 3; the rest is skipped
 * (self_test_data = 4, denormalizer_spec = 5: no Llama-style model has a denormalizer). */
static int load_sentencepiece(LlmcTokenizer *t, const uint8_t *d, size_t size, char *err,
                              size_t errlen)
{
    SpSpec s = {SP_UNIGRAM, false, false, 0, 1, 2, -1, {NULL, NULL, NULL, NULL, 0}, 0,
                true, true, true};
    t->pool = malloc(size ? size : 1);   /* piece bytes never exceed the file */
    if (!t->pool)
        return fail(err, errlen, "tokenizer.model: out of memory");
    Pb b = {d, d + size, d, err, errlen};
    int32_t count = 0;
    size_t used = 0;
    while (b.p < b.end) {
        uint32_t f = 0;
        int wt = 0;
        Pb sub;
        if (pb_tag(&b, &f, &wt))
            return -1;
        if (f == 1) {
            if (pb_expect(&b, f, wt, WT_LEN) || pb_bytes(&b, &sub))
                return -1;
            if (count == t->n)
                return fail(err, errlen,
                            "tokenizer.model has more pieces than the model's vocab_size %d",
                            t->n);
            if (parse_piece(t, &sub, count, &used))
                return -1;
            count++;
        } else if (f == 2) {
            if (pb_expect(&b, f, wt, WT_LEN) || pb_bytes(&b, &sub) || parse_trainer_spec(&sub, &s))
                return -1;
        } else if (f == 3) {
            if (pb_expect(&b, f, wt, WT_LEN) || pb_bytes(&b, &sub) ||
                parse_normalizer_spec(&sub, &s))
                return -1;
        } else if (pb_skip(&b, f, wt, 0)) {
            return -1;
        }
    }
    if (count != t->n)
        return fail(err, errlen, "tokenizer.model has %d pieces, the model's vocab_size is %d",
                    count, t->n);
    if (s.model_type != SP_BPE)
        return fail(err, errlen,
                    "tokenizer.model: model_type is %s (%d); only BPE (2) is supported",
                    model_type_name(s.model_type), s.model_type);
    if (s.treat_ws_as_suffix)
        return fail(err, errlen,
                    "tokenizer.model: treat_whitespace_as_suffix is not supported");
    /* The normalizer's name and precompiled_charsmap are read but not applied: identity
     * normalization throughout (see the top of this file). */
    (void)s.norm_name;
    (void)s.charsmap_len;
    t->add_dummy_prefix = s.add_dummy_prefix;
    t->remove_extra_ws = s.remove_extra_ws;
    t->escape_ws = s.escape_ws;
    t->byte_fallback = s.byte_fallback;

    /* model_interface.cc InitializePieces: the same checks, in the same spirit. */
    if (alloc_slots(t))
        return fail(err, errlen, "tokenizer.model: out of memory");
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    t->unk = -1;
    int32_t n_ud = 0;
    for (int32_t i = 0; i < t->n; i++) {
        Piece *p = &t->pieces[i];
        const uint8_t *str = t->pool + p->off;
        Slot *sl = slot_get(t, i);
        bool mergeable = p->type == PT_NORMAL || p->type == PT_USER_DEFINED ||
                         p->type == PT_UNUSED;
        int32_t *slot_id = mergeable ? &sl->merge_id : &sl->fixed_id;
        if (*slot_id >= 0)
            return fail(err, errlen, "tokenizer.model: piece %d \"%.*s\" is already defined "
                        "(piece %d)", i, (int)p->len, (const char *)str, *slot_id);
        *slot_id = i;
        if (mergeable)
            note_pairs(t, i);
        if (p->type == PT_UNKNOWN) {
            if (t->unk >= 0)
                return fail(err, errlen, "tokenizer.model: pieces %d and %d are both UNKNOWN",
                            t->unk, i);
            t->unk = i;
        } else if (p->type == PT_BYTE) {
            if (!t->byte_fallback)
                return fail(err, errlen, "tokenizer.model: byte piece %d found although "
                            "byte_fallback is false", i);
            int v = parse_byte_piece(str, p->len, false);
            if (v < 0)
                return fail(err, errlen, "tokenizer.model: byte piece %d \"%.*s\" is not <0xXX>",
                            i, (int)p->len, (const char *)str);
            p->byte = (int16_t)v;
            t->byte_id[v] = i;
        } else if (p->type == PT_USER_DEFINED) {
            t->ud_first[str[0]] = true;
            n_ud++;
        } else if (p->type == PT_UNUSED) {
            t->has_unused = true;
        }
    }
    if (t->unk < 0)
        return fail(err, errlen, "tokenizer.model: no UNKNOWN piece");
    if (t->byte_fallback)
        for (int i = 0; i < 256; i++)
            if (t->byte_id[i] < 0)
                return fail(err, errlen, "tokenizer.model: byte_fallback is on but there is no "
                            "<0x%02X> piece", i);
    const int32_t ids[4] = {s.unk_id, s.bos_id, s.eos_id, s.pad_id};
    static const char *const names[4] = {"unk_id", "bos_id", "eos_id", "pad_id"};
    for (int k = 0; k < 4; k++)
        if (ids[k] < -1 || ids[k] >= t->n)
            return fail(err, errlen, "tokenizer.model: %s %d is outside the vocabulary of %d",
                        names[k], ids[k], t->n);
    t->bos = s.bos_id;
    t->eos = s.eos_id;

    if (n_ud) {
        t->ud_lens = malloc((size_t)n_ud * sizeof *t->ud_lens);
        if (!t->ud_lens)
            return fail(err, errlen, "tokenizer.model: out of memory");
        for (int32_t i = 0; i < t->n; i++)
            if (t->pieces[i].type == PT_USER_DEFINED)
                t->ud_lens[t->n_ud_lens++] = t->pieces[i].len;
        qsort(t->ud_lens, (size_t)t->n_ud_lens, sizeof *t->ud_lens, cmp_u32_desc);
        int32_t k = 0;
        for (int32_t i = 0; i < t->n_ud_lens; i++)
            if (k == 0 || t->ud_lens[k - 1] != t->ud_lens[i])
                t->ud_lens[k++] = t->ud_lens[i];
        t->n_ud_lens = k;
    }
    return 0;
}

/* ---- public: load, free, properties ---- */

int llmc_tokenizer_load(LlmcTokenizer **out, int kind, const uint8_t *data, size_t size,
                        int32_t vocab_size, char *err, size_t errlen)
{
    *out = NULL;
    if (kind != LLMC_TOK_LLAMA2C && kind != LLMC_TOK_SENTENCEPIECE)
        return fail(err, errlen, "unknown tokenizer kind %d", kind);
    if (vocab_size <= 0)
        return fail(err, errlen, "vocab_size %d must be positive", vocab_size);
    if (!data && size)
        return fail(err, errlen, "no tokenizer data");
    if (size > UINT32_MAX)
        return fail(err, errlen, "tokenizer file of %zu bytes is too large", size);
    LlmcTokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return fail(err, errlen, "out of memory");
    t->kind = kind;
    t->n = vocab_size;
    t->bos = t->eos = t->unk = -1;
    t->pieces = malloc((size_t)vocab_size * sizeof *t->pieces);
    int rc;
    if (!t->pieces)
        rc = fail(err, errlen, "out of memory for %d pieces", vocab_size);
    else if (kind == LLMC_TOK_LLAMA2C)
        rc = load_llama2c(t, data, size, err, errlen);
    else
        rc = load_sentencepiece(t, data, size, err, errlen);
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
    free(tok->pieces);
    free(tok->pool);
    free(tok->slots);
    free(tok->ud_lens);
    free(tok);
}

int32_t llmc_tokenizer_vocab_size(const LlmcTokenizer *tok) { return tok->n; }
int32_t llmc_tokenizer_bos(const LlmcTokenizer *tok) { return tok->bos; }
int32_t llmc_tokenizer_eos(const LlmcTokenizer *tok) { return tok->eos; }

/* ---- the BPE engine ---- */

typedef struct Sym {
    uint32_t start, len;    /* bytes of the buffer */
    int32_t prev, next;     /* neighbours in text order; -1 at the ends */
    int32_t id;             /* llama2.c: the token; SentencePiece: unused (ids come at the end) */
    uint8_t alive;          /* 0 once merged into its left neighbour */
    uint8_t freeze;         /* SentencePiece USER_DEFINED match: never merged */
} Sym;

typedef struct Cand {       /* a candidate merge of two adjacent symbols */
    float score;            /* the merged piece's */
    int32_t left, right;    /* symbols */
    uint32_t size;          /* merged length; stale when the symbols' lengths no longer sum to it */
    int32_t id;             /* the merged piece */
} Cand;

typedef struct Bpe {
    const LlmcTokenizer *t;
    const uint8_t *buf;     /* what the symbols spell */
    Sym *sym;
    Cand *heap;             /* binary max-heap by cand_before */
    size_t n_heap, cap_heap;
    bool oom;               /* the heap could not grow: the encode fails */
    uint32_t *split;        /* SentencePiece UNUSED pieces: left length of the last pair pushed
                               that spells the piece (bpe_model.cc rev_merge), 0 = none;
                               [t->n], or NULL when the model has no UNUSED piece */
} Bpe;

static bool cand_before(const Cand *a, const Cand *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(Bpe *b, Cand c)
{
    if (b->n_heap == b->cap_heap) {
        size_t cap = b->cap_heap ? 2 * b->cap_heap : 256;
        Cand *h = realloc(b->heap, cap * sizeof *h);
        if (!h) {
            b->oom = true;
            return;
        }
        b->heap = h;
        b->cap_heap = cap;
    }
    size_t i = b->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!cand_before(&c, &b->heap[up]))
            break;
        b->heap[i] = b->heap[up];
        i = up;
    }
    b->heap[i] = c;
}

static Cand heap_pop(Bpe *b)
{
    Cand top = b->heap[0], last = b->heap[--b->n_heap];
    size_t i = 0, n = b->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cand_before(&b->heap[c + 1], &b->heap[c]))
            c++;
        if (!cand_before(&b->heap[c], &last))
            break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    if (n)
        b->heap[i] = last;
    return top;
}

/* Whether the bytes s[0], s[1] stand side by side in some piece the BPE may form. */
static bool pair_ok(const LlmcTokenizer *t, const uint8_t *s)
{
    unsigned v = (unsigned)s[0] << 8 | s[1];
    return t->pair_bits[v >> 6] >> (v & 63) & 1;
}

/* Pushes the pair (l, r) when their concatenation is a piece the BPE may form. */
static void bpe_try_pair(Bpe *b, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return;
    const Sym *L = &b->sym[l], *R = &b->sym[r];
    if (L->freeze || R->freeze)
        return;
    uint32_t size = L->len + R->len;
    if (size > b->t->max_merge_len || (L->len && R->len && !pair_ok(b->t, b->buf + R->start - 1)))
        return;   /* cheap refusals before the hash lookup */
    const Slot *sl = slot_find(b->t, b->buf + L->start, size);
    if (!sl || sl->merge_id < 0)
        return;
    const Piece *p = &b->t->pieces[sl->merge_id];
    /* run.c starts its search at best_score = -1e10 and needs a strictly larger score. */
    if (b->t->kind == LLMC_TOK_LLAMA2C && !(p->score > -1e10f))
        return;
    heap_push(b, (Cand){p->score, l, r, size, sl->merge_id});
    if (b->split && p->type == PT_UNUSED)
        b->split[sl->merge_id] = L->len;
}

/* Whether no merge can ever join sym[i - 1] and sym[i]: a merged symbol spanning that border
 * would be a piece holding the two bytes around it side by side, and no piece does. */
static bool bpe_border(const Bpe *b, int32_t i)
{
    const Sym *l = &b->sym[i - 1], *r = &b->sym[i];
    return l->len && r->len && !pair_ok(b->t, b->buf + r->start - 1);
}

/* Merges sym[0..n) (linked in order) until no adjacent pair spells a piece.
 *
 * Stretches between borders no merge can cross (bpe_border: for Llama-style vocabularies,
 * mostly before each "▁") cannot influence each other, and the merges inside one happen in
 * the same order whether the others are interleaved or not; so each stretch is merged on its
 * own with a small heap that stays in cache, which is several times faster on long texts than
 * one heap over all of them. The exception: which split an UNUSED piece is resegmented with
 * depends on the global order pairs were pushed in, so with UNUSED pieces the text is one
 * stretch. */
static void bpe_run(Bpe *b, int32_t n)
{
    bool stretches = b->split == NULL;
    for (int32_t first = 0, i = 1; i <= n; i++) {
        if (i < n && !(stretches && bpe_border(b, i)))
            continue;
        for (int32_t k = first; k + 1 < i; k++)
            bpe_try_pair(b, k, k + 1);
        while (b->n_heap) {
            Cand c = heap_pop(b);
            Sym *L = &b->sym[c.left], *R = &b->sym[c.right];
            if (!L->alive || !R->alive || L->next != c.right || L->len + R->len != c.size)
                continue;   /* stale: a symbol was merged away or grew since the pair was pushed */
            L->len = c.size;
            L->id = c.id;
            L->next = R->next;
            if (R->next >= 0)
                b->sym[R->next].prev = c.left;
            R->alive = 0;
            bpe_try_pair(b, L->prev, c.left);
            bpe_try_pair(b, c.left, L->next);
        }
        first = i;
    }
}

static int bpe_alloc(Bpe *b, size_t n_sym)
{
    b->sym = malloc((n_sym ? n_sym : 1) * sizeof *b->sym);
    return b->sym ? 0 : -1;
}

static void bpe_free(Bpe *b)
{
    free(b->sym);
    free(b->heap);
    free(b->split);
}

static void sym_add(Sym *sym, int32_t *n, uint32_t start, uint32_t len, int32_t id, bool freeze)
{
    int32_t i = (*n)++;
    sym[i] = (Sym){start, len, i - 1, -1, id, 1, freeze};
    if (i > 0)
        sym[i - 1].next = i;
}

/* ---- llama2.c encode (run.c encode) ---- */

typedef struct ByteBuf {
    uint8_t *p;
    size_t len, cap;
} ByteBuf;

static int bb_put(ByteBuf *bb, const uint8_t *s, size_t n)
{
    if (bb->len + n > bb->cap) {
        size_t cap = bb->cap ? bb->cap : 64;
        while (cap < bb->len + n)
            cap *= 2;
        if (cap > UINT32_MAX)
            return -1;
        uint8_t *p = realloc(bb->p, cap);
        if (!p)
            return -1;
        bb->p = p;
        bb->cap = cap;
    }
    if (n)
        memcpy(bb->p + bb->len, s, n);
    bb->len += n;
    return 0;
}

static int encode_llama2c(const LlmcTokenizer *t, const uint8_t *text, size_t len, int32_t *ids,
                          int32_t *n_ids, char *err, size_t errlen)
{
    Bpe b = {.t = t};
    ByteBuf bb = {NULL, 0, 0};
    int32_t n = 0;
    int rc = -1;
    if (bpe_alloc(&b, len + 1)) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    /* Each initial token contributes its piece string to the buffer. */
#define PUSH_TOKEN(ID)                                                                         \
    do {                                                                                       \
        const Piece *p_ = &t->pieces[(ID)];                                                    \
        uint32_t at_ = (uint32_t)bb.len;                                                       \
        if (bb_put(&bb, t->pool + p_->off, p_->len)) {                                         \
            fail(err, errlen, "out of memory");                                                \
            goto done;                                                                         \
        }                                                                                      \
        sym_add(b.sym, &n, at_, p_->len, (ID), false);                                         \
    } while (0)

    /* The dummy prefix: vocab[" "] when the text is not empty. run.c would emit id -1 for a
     * vocabulary without " "; here the space falls back to its byte token like any character. */
    if (len > 0) {
        const Slot *sl = slot_find(t, (const uint8_t *)" ", 1);
        int32_t id = sl ? sl->merge_id : ' ' + 3;
        if (id >= t->n) {
            fail(err, errlen, "the vocabulary has neither \" \" nor a byte token for it");
            goto done;
        }
        PUSH_TOKEN(id);
    }
    /* Code points as run.c cuts them: a byte and up to 3 following continuation bytes. */
    for (size_t i = 0; i < len;) {
        size_t start = i++;
        while (i < len && (text[i] & 0xC0) == 0x80 && i - start < 4)
            i++;
        const Slot *sl = slot_find(t, text + start, i - start);
        if (sl) {
            PUSH_TOKEN(sl->merge_id);
            continue;
        }
        for (size_t k = start; k < i; k++) {   /* byte fallback: id = byte + 3 */
            int32_t id = (int32_t)text[k] + 3;
            if (id >= t->n) {
                fail(err, errlen, "byte 0x%02X at offset %zu has no piece and no byte token "
                     "(id %d is outside the vocabulary of %d)", text[k], k, id, t->n);
                goto done;
            }
            PUSH_TOKEN(id);
        }
    }
#undef PUSH_TOKEN
    b.buf = bb.p;
    bpe_run(&b, n);
    if (b.oom) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    for (int32_t i = n ? 0 : -1; i >= 0; i = b.sym[i].next)
        ids[(*n_ids)++] = b.sym[i].id;
    rc = 0;
done:
    bpe_free(&b);
    free(bb.p);
    return rc;
}

/* ---- SentencePiece encode ---- */

/* Length of the valid UTF-8 character at s, or 1 when s[0] does not start one. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;   /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF;   /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;   /* <= U+10FFFF */
    } else {
        return 1;
    }
    if (n < need || s[1] < lo || s[1] > hi)
        return 1;
    for (size_t i = 2; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return need;
}

/* Length of the longest USER_DEFINED piece at s, 0 when none. */
static size_t ud_match(const LlmcTokenizer *t, const uint8_t *s, size_t n)
{
    if (!t->n_ud_lens || !t->ud_first[s[0]])
        return 0;
    for (int32_t k = 0; k < t->n_ud_lens; k++) {
        size_t l = t->ud_lens[k];
        if (l > n)
            continue;
        const Slot *sl = slot_find(t, s, l);
        if (sl && sl->merge_id >= 0 && t->pieces[sl->merge_id].type == PT_USER_DEFINED)
            return l;
    }
    return 0;
}

/* The normalizer's unit: a user-defined symbol, else one character (or invalid byte). */
static size_t norm_unit(const LlmcTokenizer *t, const uint8_t *s, size_t n)
{
    size_t l = ud_match(t, s, n);
    return l ? l : utf8_len(s, n);
}

/* normalizer.cc Normalize with identity rules; out holds 3 * len + 3 bytes. Returns the length. */
static size_t sp_normalize(const LlmcTokenizer *t, const uint8_t *in, size_t len, uint8_t *out)
{
    size_t pos = 0, o = 0;
    if (t->remove_extra_ws)
        while (pos < len && norm_unit(t, in + pos, len - pos) == 1 && in[pos] == ' ')
            pos++;
    if (pos == len)
        return 0;
    if (t->add_dummy_prefix) {
        if (t->escape_ws) {
            memcpy(out + o, kSpaceSymbol, 3);
            o += 3;
        } else {
            out[o++] = ' ';
        }
    }
    bool prev_space = t->remove_extra_ws;
    while (pos < len) {
        size_t ul = norm_unit(t, in + pos, len - pos);
        const uint8_t *u = in + pos;
        size_t k = 0;
        while (prev_space && k < ul && u[k] == ' ')
            k++;   /* a space after a space */
        if (k < ul) {
            for (; k < ul; k++) {
                if (t->escape_ws && u[k] == ' ') {
                    memcpy(out + o, kSpaceSymbol, 3);
                    o += 3;
                } else {
                    out[o++] = u[k];
                }
            }
            prev_space = u[ul - 1] == ' ';
        }
        pos += ul;
        if (!t->remove_extra_ws)
            prev_space = false;
    }
    if (t->remove_extra_ws) {
        if (t->escape_ws)
            while (o >= 3 && memcmp(out + o - 3, kSpaceSymbol, 3) == 0)
                o -= 3;
        else
            while (o >= 1 && out[o - 1] == ' ')
                o--;
    }
    return o;
}

typedef struct Span {
    uint32_t start, len;
} Span;

static int encode_sentencepiece(const LlmcTokenizer *t, const uint8_t *text, size_t len,
                                int32_t *ids, int32_t *n_ids, char *err, size_t errlen)
{
    Bpe b = {.t = t};
    uint8_t *norm = malloc(3 * len + 3);
    Span *stack = NULL;
    int rc = -1;
    if (!norm) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    size_t nlen = sp_normalize(t, text, len, norm);
    if (bpe_alloc(&b, nlen)) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    if (t->has_unused && !(b.split = calloc((size_t)t->n, sizeof *b.split))) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    b.buf = norm;
    int32_t n = 0;
    for (size_t pos = 0; pos < nlen;) {
        size_t ul = ud_match(t, norm + pos, nlen - pos);
        size_t l = ul ? ul : utf8_len(norm + pos, nlen - pos);
        sym_add(b.sym, &n, (uint32_t)pos, (uint32_t)l, -1, ul > 0);
        pos += l;
    }
    bpe_run(&b, n);
    if (b.oom) {
        fail(err, errlen, "out of memory");
        goto done;
    }

    /* Resegment UNUSED pieces, then ids with byte fallback or unk runs collapsed. */
    stack = malloc((nlen + 2) * sizeof *stack);
    if (!stack) {
        fail(err, errlen, "out of memory");
        goto done;
    }
    bool prev_unk = false;
    for (int32_t i = n ? 0 : -1; i >= 0; i = b.sym[i].next) {
        size_t top = 0;
        stack[top++] = (Span){b.sym[i].start, b.sym[i].len};
        while (top) {
            Span w = stack[--top];
            int32_t id = piece_to_id(t, norm + w.start, w.len);
            if (b.split && t->pieces[id].type == PT_UNUSED && b.split[id] &&
                b.split[id] < w.len) {
                uint32_t k = b.split[id];
                stack[top++] = (Span){w.start + k, w.len - k};   /* right, popped second */
                stack[top++] = (Span){w.start, k};
                continue;
            }
            bool is_unk = id == t->unk;
            if (is_unk && t->byte_fallback) {
                for (uint32_t k = 0; k < w.len; k++)
                    ids[(*n_ids)++] = t->byte_id[norm[w.start + k]];
            } else if (!(is_unk && prev_unk)) {
                ids[(*n_ids)++] = id;
            }
            prev_unk = is_unk;
        }
    }
    rc = 0;
done:
    bpe_free(&b);
    free(norm);
    free(stack);
    return rc;
}

int llmc_tokenizer_encode(const LlmcTokenizer *tok, const char *text, size_t len, int add_bos,
                          int32_t **ids, int32_t *n_ids, char *err, size_t errlen)
{
    *ids = NULL;
    *n_ids = 0;
    if (len > MAX_TEXT_BYTES)
        return fail(err, errlen, "text of %zu bytes is too long to encode (limit %zu)", len,
                    MAX_TEXT_BYTES);
    if (!text && len)
        return fail(err, errlen, "no text");
    if (add_bos && tok->bos < 0)
        return fail(err, errlen, "the vocabulary has no BOS token");
    /* At most one token per byte of the (normalized) text, plus BOS. */
    size_t cap = (tok->kind == LLMC_TOK_SENTENCEPIECE ? 3 * len + 3 : len + 1) + 1;
    int32_t *out = malloc(cap * sizeof *out);
    if (!out)
        return fail(err, errlen, "out of memory");
    int32_t n = 0;
    if (add_bos)
        out[n++] = tok->bos;
    const uint8_t *s = (const uint8_t *)text;
    int rc = tok->kind == LLMC_TOK_LLAMA2C
                 ? encode_llama2c(tok, s, len, out, &n, err, errlen)
                 : encode_sentencepiece(tok, s, len, out, &n, err, errlen);
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

typedef struct Out {
    char *buf;
    size_t size, n;     /* capacity, bytes produced (may exceed what fits) */
} Out;

static void out_put(Out *o, const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++, o->n++)
        if (o->n + 1 < o->size)
            o->buf[o->n] = (char)s[i];
}

size_t llmc_tokenizer_decode(const LlmcTokenizer *tok, int32_t prev, int32_t id, char *buf,
                             size_t bufsize)
{
    Out o = {buf, bufsize, 0};
    if (tok && id >= 0 && id < tok->n) {
        const Piece *p = &tok->pieces[id];
        const uint8_t *s = tok->pool + p->off;
        size_t len = p->len;
        if (tok->kind == LLMC_TOK_LLAMA2C) {
            if (id > 2) {   /* 0..2: <unk>, <s>, </s> */
                if (prev == 1 && len && s[0] == ' ') {
                    s++;
                    len--;
                }
                int v = parse_byte_piece(s, len, true);
                uint8_t byte = (uint8_t)v;
                if (v >= 0)
                    out_put(&o, &byte, 1);
                else
                    out_put(&o, s, len);
            }
        } else if (p->type == PT_BYTE) {
            uint8_t byte = (uint8_t)p->byte;
            out_put(&o, &byte, 1);
        } else if (p->type != PT_CONTROL && p->type != PT_UNKNOWN) {
            bool at_start = prev == -1 || prev == tok->bos;
            if (at_start && (tok->add_dummy_prefix || tok->remove_extra_ws) && len >= 3 &&
                memcmp(s, kSpaceSymbol, 3) == 0) {
                s += 3;
                len -= 3;
            }
            for (size_t i = 0; i < len;) {
                if (len - i >= 3 && memcmp(s + i, kSpaceSymbol, 3) == 0) {
                    out_put(&o, (const uint8_t *)" ", 1);
                    i += 3;
                } else {
                    out_put(&o, s + i, 1);
                    i++;
                }
            }
        }
    }
    if (bufsize)
        buf[o.n < bufsize ? o.n : bufsize - 1] = 0;
    return o.n;
}
