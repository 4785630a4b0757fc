/* tokenizer_llama2c.c — llama2.c's tokenizer.bin (karpathy/llama2.c run.c): load, encode, decode.
 *
 * Encoding is run.c's encode() through the shared BPE engine (tokenizer_bpe.c). llama2.c
 * concatenates *piece strings* (vocab[id]), not the text: a byte-fallback token contributes
 * "<0xE6>", the dummy prefix contributes vocab[" "]. So the buffer the symbols index is built from
 * the initial tokens' piece strings, laid end to end. Decoding is its decode() exactly (strip one
 * leading space after BOS, "<0xXX>" -> the byte), and ids 0..2 (<unk>, <s>, </s> in every
 * llama2.c export) give nothing.
 */
#include "tokenizer_impl.h"

#include "llmc_model.h"

#include <stdlib.h>
#include <string.h>

static float rd_f32(const uint8_t *p)
{
    uint32_t u = llmc_tok_rd_u32(p);
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
        return llmc_tok_fail(err, errlen,
                             "tokenizer.bin: %zu bytes, too short for the 4-byte header", size);
    t->pool = malloc(size);
    if (!t->pool)
        return llmc_tok_fail(err, errlen, "tokenizer.bin: out of memory");
    size_t pos = 4;
    uint32_t used = 0;
    for (int32_t i = 0; i < t->n; i++) {
        if (size - pos < 8)
            return llmc_tok_fail(err, errlen,
                                 "tokenizer.bin: entry %d of %d: the file ends at byte %zu "
                                 "before its score and length (is vocab_size right?)",
                                 i, t->n, size);
        float score = rd_f32(d + pos);
        int32_t len = (int32_t)llmc_tok_rd_u32(d + pos + 4);
        pos += 8;
        if (len < 0)
            return llmc_tok_fail(err, errlen, "tokenizer.bin: entry %d: negative length %d", i,
                                 len);
        if ((size_t)len > size - pos)
            return llmc_tok_fail(err, errlen,
                                 "tokenizer.bin: entry %d: length %d runs past the end of the file "
                                 "(%zu bytes left)", i, len, size - pos);
        memcpy(t->pool + used, d + pos, (size_t)len);
        t->pieces[i] = (Piece){used, (uint32_t)len, score, PT_NORMAL, -1};
        used += (uint32_t)len;
        pos += (size_t)len;
    }
    if (pos != size)
        return llmc_tok_fail(err, errlen,
                             "tokenizer.bin: %zu bytes follow entry %d: the file holds more than "
                             "vocab_size=%d entries", size - pos, t->n - 1, t->n);
    if (llmc_tok_alloc_slots(t))
        return llmc_tok_fail(err, errlen, "tokenizer.bin: out of memory");
    /* run.c finds a string by bsearch over the sorted vocabulary, which picks an unspecified one
     * of duplicate strings; the lowest id is taken here. */
    for (int32_t i = 0; i < t->n; i++) {
        Slot *sl = llmc_tok_slot_get(t, i);
        if (sl->merge_id < 0)
            sl->merge_id = i;
        llmc_tok_note_pairs(t, i);
    }
    t->bos = t->n > 1 ? 1 : -1;
    t->eos = t->n > 2 ? 2 : -1;
    t->unk = t->n > 0 ? 0 : -1;
    return 0;
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

static int encode_llama2c(const LlmcTokenizer *t, const uint8_t *text, size_t len, int flags, LlmcIds *out,
                          char *err, size_t errlen)
{
    (void)flags;
    Bpe b = {.t = t, .run_c_floor = true};
    ByteBuf bb = {NULL, 0, 0};
    int32_t n = 0;
    int rc = -1;
    if (llmc_bpe_alloc(&b, len + 1)) {
        llmc_tok_fail(err, errlen, "out of memory");
        goto done;
    }
    /* Each initial token contributes its piece string to the buffer. */
#define PUSH_TOKEN(ID)                                                                         \
    do {                                                                                       \
        const Piece *p_ = &t->pieces[(ID)];                                                    \
        uint32_t at_ = (uint32_t)bb.len;                                                       \
        if (bb_put(&bb, t->pool + p_->off, p_->len)) {                                         \
            llmc_tok_fail(err, errlen, "out of memory");                                       \
            goto done;                                                                         \
        }                                                                                      \
        llmc_bpe_sym_add(b.sym, &n, at_, p_->len, (ID), false);                                \
    } while (0)

    /* The dummy prefix: vocab[" "] when the text is not empty. run.c would emit id -1 for a
     * vocabulary without " "; here the space falls back to its byte token like any character. */
    if (len > 0) {
        const Slot *sl = llmc_tok_slot_find(t, (const uint8_t *)" ", 1);
        int32_t id = sl ? sl->merge_id : ' ' + 3;
        if (id >= t->n) {
            llmc_tok_fail(err, errlen, "the vocabulary has neither \" \" nor a byte token for it");
            goto done;
        }
        PUSH_TOKEN(id);
    }
    /* Code points as run.c cuts them: a byte and up to 3 following continuation bytes. */
    for (size_t i = 0; i < len;) {
        size_t start = i++;
        while (i < len && (text[i] & 0xC0) == 0x80 && i - start < 4)
            i++;
        const Slot *sl = llmc_tok_slot_find(t, text + start, i - start);
        if (sl) {
            PUSH_TOKEN(sl->merge_id);
            continue;
        }
        for (size_t k = start; k < i; k++) {   /* byte fallback: id = byte + 3 */
            int32_t id = (int32_t)text[k] + 3;
            if (id >= t->n) {
                llmc_tok_fail(err, errlen,
                              "byte 0x%02X at offset %zu has no piece and no byte token "
                              "(id %d is outside the vocabulary of %d)", text[k], k, id, t->n);
                goto done;
            }
            PUSH_TOKEN(id);
        }
    }
#undef PUSH_TOKEN
    b.buf = bb.p;
    llmc_bpe_run(&b, n);
    if (b.oom) {
        llmc_tok_fail(err, errlen, "out of memory");
        goto done;
    }
    for (int32_t i = n ? 0 : -1; i >= 0; i = b.sym[i].next)
        llmc_ids_push(out, b.sym[i].id);
    rc = 0;
done:
    llmc_bpe_free(&b);
    free(bb.p);
    return rc;
}

static void decode_llama2c(const LlmcTokenizer *t, int32_t prev, int32_t id, int flags, LlmcTokOut *o)
{
    const Piece *p = &t->pieces[id];
    const uint8_t *s = t->pool + p->off;
    size_t len = p->len;
    if (id <= 2 && (flags & LLMC_TOK_SPECIAL)) {
        llmc_tok_out_put(o, s, len);
    } else if (id > 2) {   /* 0..2: <unk>, <s>, </s> */
        if (prev == 1 && len && s[0] == ' ') {
            s++;
            len--;
        }
        int v = llmc_tok_byte_piece(s, len, true);
        uint8_t byte = (uint8_t)v;
        if (v >= 0)
            llmc_tok_out_put(o, &byte, 1);
        else
            llmc_tok_out_put(o, s, len);
    }
}

const LlmcTokFormat llmc_tok_llama2c = {
    .kind = LLMC_TOK_LLAMA2C,
    .load = load_llama2c,
    .encode = encode_llama2c,
    .decode = decode_llama2c,
    .free = NULL,
};
