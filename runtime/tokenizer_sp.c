/* tokenizer_sp.c — SentencePiece BPE read from a tokenizer.model protobuf: the protobuf reader,
 * load, encode (through the shared BPE engine, tokenizer_bpe.c; the symbols index the normalized
 * text, which is what SentencePiece merges substrings of) and decode.
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
 * strips every leading space piece; the encoder never produces more than one).
 */
#include "tokenizer_impl.h"

#include "llmc_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SentencePiece's TrainerSpec.ModelType. */
enum { SP_UNIGRAM = 1, SP_BPE = 2, SP_WORD = 3, SP_CHAR = 4 };

/* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's escaped space. */
static const uint8_t kSpaceSymbol[3] = {0xE2, 0x96, 0x81};

/* The model's options and the lookups only SentencePiece needs (t->state). */
typedef struct SpModel {
    bool add_dummy_prefix, remove_extra_ws, escape_ws, byte_fallback, has_unused;
    int32_t byte_id[256];   /* id of "<0xXX>" (byte_fallback); -1 */
    bool ud_first[256];     /* some USER_DEFINED piece starts with this byte */
    uint32_t *ud_lens;      /* distinct USER_DEFINED piece lengths, longest first */
    int32_t n_ud_lens;
} SpModel;

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
    return llmc_tok_fail(b->err, b->errlen, "tokenizer.model: malformed protobuf at byte %zu: %s",
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
    *v = llmc_tok_rd_u32(b->p);
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
        return llmc_tok_fail(b->err, b->errlen, "tokenizer.model: piece %d is empty", id);
    if (memchr(str.p, 0, len))
        return llmc_tok_fail(b->err, b->errlen, "tokenizer.model: piece %d contains a NUL byte",
                             id);
    if (type < PT_NORMAL || type > PT_BYTE)
        return llmc_tok_fail(b->err, b->errlen, "tokenizer.model: piece %d has unknown type %d",
                             id, type);
    if (isnan(score))
        return llmc_tok_fail(b->err, b->errlen, "tokenizer.model: piece %d has a NaN score", id);
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
    SpModel *sp = calloc(1, sizeof *sp);
    t->state = sp;
    if (!t->pool || !sp)
        return llmc_tok_fail(err, errlen, "tokenizer.model: out of memory");
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
                return llmc_tok_fail(err, errlen,
                                     "tokenizer.model has more pieces than the model's "
                                     "vocab_size %d", t->n);
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
        return llmc_tok_fail(err, errlen,
                             "tokenizer.model has %d pieces, the model's vocab_size is %d",
                             count, t->n);
    if (s.model_type != SP_BPE)
        return llmc_tok_fail(err, errlen,
                             "tokenizer.model: model_type is %s (%d); only BPE (2) is supported",
                             model_type_name(s.model_type), s.model_type);
    if (s.treat_ws_as_suffix)
        return llmc_tok_fail(err, errlen,
                             "tokenizer.model: treat_whitespace_as_suffix is not supported");
    /* The normalizer's name and precompiled_charsmap are read but not applied: identity
     * normalization throughout (see the top of this file). */
    (void)s.norm_name;
    (void)s.charsmap_len;
    sp->add_dummy_prefix = s.add_dummy_prefix;
    sp->remove_extra_ws = s.remove_extra_ws;
    sp->escape_ws = s.escape_ws;
    sp->byte_fallback = s.byte_fallback;

    /* model_interface.cc InitializePieces: the same checks, in the same spirit. */
    if (llmc_tok_alloc_slots(t))
        return llmc_tok_fail(err, errlen, "tokenizer.model: out of memory");
    for (int i = 0; i < 256; i++)
        sp->byte_id[i] = -1;
    t->unk = -1;
    int32_t n_ud = 0;
    for (int32_t i = 0; i < t->n; i++) {
        Piece *p = &t->pieces[i];
        const uint8_t *str = t->pool + p->off;
        Slot *sl = llmc_tok_slot_get(t, i);
        bool mergeable = p->type == PT_NORMAL || p->type == PT_USER_DEFINED ||
                         p->type == PT_UNUSED;
        int32_t *slot_id = mergeable ? &sl->merge_id : &sl->fixed_id;
        if (*slot_id >= 0)
            return llmc_tok_fail(err, errlen,
                                 "tokenizer.model: piece %d \"%.*s\" is already defined "
                                 "(piece %d)", i, (int)p->len, (const char *)str, *slot_id);
        *slot_id = i;
        if (mergeable)
            llmc_tok_note_pairs(t, i);
        if (p->type == PT_UNKNOWN) {
            if (t->unk >= 0)
                return llmc_tok_fail(err, errlen,
                                     "tokenizer.model: pieces %d and %d are both UNKNOWN",
                                     t->unk, i);
            t->unk = i;
        } else if (p->type == PT_BYTE) {
            if (!sp->byte_fallback)
                return llmc_tok_fail(err, errlen, "tokenizer.model: byte piece %d found although "
                                     "byte_fallback is false", i);
            int v = llmc_tok_byte_piece(str, p->len, false);
            if (v < 0)
                return llmc_tok_fail(err, errlen,
                                     "tokenizer.model: byte piece %d \"%.*s\" is not <0xXX>",
                                     i, (int)p->len, (const char *)str);
            p->byte = (int16_t)v;
            sp->byte_id[v] = i;
        } else if (p->type == PT_USER_DEFINED) {
            sp->ud_first[str[0]] = true;
            n_ud++;
        } else if (p->type == PT_UNUSED) {
            sp->has_unused = true;
        }
    }
    if (t->unk < 0)
        return llmc_tok_fail(err, errlen, "tokenizer.model: no UNKNOWN piece");
    if (sp->byte_fallback)
        for (int i = 0; i < 256; i++)
            if (sp->byte_id[i] < 0)
                return llmc_tok_fail(err, errlen,
                                     "tokenizer.model: byte_fallback is on but there is no "
                                     "<0x%02X> piece", i);
    const int32_t ids[4] = {s.unk_id, s.bos_id, s.eos_id, s.pad_id};
    static const char *const names[4] = {"unk_id", "bos_id", "eos_id", "pad_id"};
    for (int k = 0; k < 4; k++)
        if (ids[k] < -1 || ids[k] >= t->n)
            return llmc_tok_fail(err, errlen,
                                 "tokenizer.model: %s %d is outside the vocabulary of %d",
                                 names[k], ids[k], t->n);
    t->bos = s.bos_id;
    t->eos = s.eos_id;

    if (n_ud) {
        sp->ud_lens = malloc((size_t)n_ud * sizeof *sp->ud_lens);
        if (!sp->ud_lens)
            return llmc_tok_fail(err, errlen, "tokenizer.model: out of memory");
        for (int32_t i = 0; i < t->n; i++)
            if (t->pieces[i].type == PT_USER_DEFINED)
                sp->ud_lens[sp->n_ud_lens++] = t->pieces[i].len;
        qsort(sp->ud_lens, (size_t)sp->n_ud_lens, sizeof *sp->ud_lens, cmp_u32_desc);
        int32_t k = 0;
        for (int32_t i = 0; i < sp->n_ud_lens; i++)
            if (k == 0 || sp->ud_lens[k - 1] != sp->ud_lens[i])
                sp->ud_lens[k++] = sp->ud_lens[i];
        sp->n_ud_lens = k;
    }
    return 0;
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
    const SpModel *sp = t->state;
    if (!sp->n_ud_lens || !sp->ud_first[s[0]])
        return 0;
    for (int32_t k = 0; k < sp->n_ud_lens; k++) {
        size_t l = sp->ud_lens[k];
        if (l > n)
            continue;
        const Slot *sl = llmc_tok_slot_find(t, s, l);
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
    const SpModel *sp = t->state;
    size_t pos = 0, o = 0;
    if (sp->remove_extra_ws)
        while (pos < len && norm_unit(t, in + pos, len - pos) == 1 && in[pos] == ' ')
            pos++;
    if (pos == len)
        return 0;
    if (sp->add_dummy_prefix) {
        if (sp->escape_ws) {
            memcpy(out + o, kSpaceSymbol, 3);
            o += 3;
        } else {
            out[o++] = ' ';
        }
    }
    bool prev_space = sp->remove_extra_ws;
    while (pos < len) {
        size_t ul = norm_unit(t, in + pos, len - pos);
        const uint8_t *u = in + pos;
        size_t k = 0;
        while (prev_space && k < ul && u[k] == ' ')
            k++;   /* a space after a space */
        if (k < ul) {
            for (; k < ul; k++) {
                if (sp->escape_ws && u[k] == ' ') {
                    memcpy(out + o, kSpaceSymbol, 3);
                    o += 3;
                } else {
                    out[o++] = u[k];
                }
            }
            prev_space = u[ul - 1] == ' ';
        }
        pos += ul;
        if (!sp->remove_extra_ws)
            prev_space = false;
    }
    if (sp->remove_extra_ws) {
        if (sp->escape_ws)
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

static int encode_sentencepiece(const LlmcTokenizer *t, const uint8_t *text, size_t len, int flags,
                                LlmcIds *out, char *err, size_t errlen)
{
    (void)flags;
    const SpModel *sp = t->state;
    Bpe b = {.t = t};
    uint8_t *norm = malloc(3 * len + 3);
    Span *stack = NULL;
    int rc = -1;
    if (!norm) {
        llmc_tok_fail(err, errlen, "out of memory");
        goto done;
    }
    size_t nlen = sp_normalize(t, text, len, norm);
    if (llmc_bpe_alloc(&b, nlen)) {
        llmc_tok_fail(err, errlen, "out of memory");
        goto done;
    }
    if (sp->has_unused && !(b.split = calloc((size_t)t->n, sizeof *b.split))) {
        llmc_tok_fail(err, errlen, "out of memory");
        goto done;
    }
    b.buf = norm;
    int32_t n = 0;
    for (size_t pos = 0; pos < nlen;) {
        size_t ul = ud_match(t, norm + pos, nlen - pos);
        size_t l = ul ? ul : utf8_len(norm + pos, nlen - pos);
        llmc_bpe_sym_add(b.sym, &n, (uint32_t)pos, (uint32_t)l, -1, ul > 0);
        pos += l;
    }
    llmc_bpe_run(&b, n);
    if (b.oom) {
        llmc_tok_fail(err, errlen, "out of memory");
        goto done;
    }

    /* Resegment UNUSED pieces, then ids with byte fallback or unk runs collapsed. */
    stack = malloc((nlen + 2) * sizeof *stack);
    if (!stack) {
        llmc_tok_fail(err, errlen, "out of memory");
        goto done;
    }
    bool prev_unk = false;
    for (int32_t i = n ? 0 : -1; i >= 0; i = b.sym[i].next) {
        size_t top = 0;
        stack[top++] = (Span){b.sym[i].start, b.sym[i].len};
        while (top) {
            Span w = stack[--top];
            int32_t id = llmc_tok_piece_to_id(t, norm + w.start, w.len);
            if (b.split && t->pieces[id].type == PT_UNUSED && b.split[id] &&
                b.split[id] < w.len) {
                uint32_t k = b.split[id];
                stack[top++] = (Span){w.start + k, w.len - k};   /* right, popped second */
                stack[top++] = (Span){w.start, k};
                continue;
            }
            bool is_unk = id == t->unk;
            if (is_unk && sp->byte_fallback) {
                for (uint32_t k = 0; k < w.len; k++)
                    llmc_ids_push(out, sp->byte_id[norm[w.start + k]]);
            } else if (!(is_unk && prev_unk)) {
                llmc_ids_push(out, id);
            }
            prev_unk = is_unk;
        }
    }
    rc = 0;
done:
    llmc_bpe_free(&b);
    free(norm);
    free(stack);
    return rc;
}

static void decode_sentencepiece(const LlmcTokenizer *t, int32_t prev, int32_t id, int flags, LlmcTokOut *o)
{
    const SpModel *sp = t->state;
    const Piece *p = &t->pieces[id];
    const uint8_t *s = t->pool + p->off;
    size_t len = p->len;
    if (p->type == PT_BYTE) {
        uint8_t byte = (uint8_t)p->byte;
        llmc_tok_out_put(o, &byte, 1);
    } else if (p->type == PT_CONTROL || p->type == PT_UNKNOWN) {
        if (flags & LLMC_TOK_SPECIAL)
            llmc_tok_out_put(o, s, len);
    } else {
        bool at_start = prev == -1 || prev == t->bos;
        if (at_start && (sp->add_dummy_prefix || sp->remove_extra_ws) && len >= 3 &&
            memcmp(s, kSpaceSymbol, 3) == 0) {
            s += 3;
            len -= 3;
        }
        for (size_t i = 0; i < len;) {
            if (len - i >= 3 && memcmp(s + i, kSpaceSymbol, 3) == 0) {
                llmc_tok_out_put(o, (const uint8_t *)" ", 1);
                i += 3;
            } else {
                llmc_tok_out_put(o, s + i, 1);
                i++;
            }
        }
    }
}

static void free_sentencepiece(LlmcTokenizer *t)
{
    SpModel *sp = t->state;
    if (sp)
        free(sp->ud_lens);
    free(sp);
}

const LlmcTokFormat llmc_tok_sentencepiece = {
    .kind = LLMC_TOK_SENTENCEPIECE,
    .load = load_sentencepiece,
    .encode = encode_sentencepiece,
    .decode = decode_sentencepiece,
    .free = free_sentencepiece,
};
