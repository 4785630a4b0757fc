/* tokenizer_hf.c — Hugging Face tokenizer.json BPE, from the compact form llmc converts it to at
 * compile time (abi/hftok.h): load, encode, decode.
 *
 * Encoding follows the tokenizers library's pipeline (tokenizer/mod.rs, added_vocabulary.rs,
 * models/bpe/{model,word}.rs):
 *   1. with LLMC_TOK_SPECIAL, the text is cut at added tokens (leftmost, then longest; lstrip and
 *      rstrip swallow the whitespace beside one, single_word wants no word character beside it);
 *      without it, the text has no added tokens at all (a user's text cannot forge a control
 *      token). Each stretch between them goes through 2-4 on its own.
 *   2. the normalizer's steps: NFC/NFD/NFKC/NFKD (utf8proc, over each run of valid UTF-8; invalid
 *      bytes pass unchanged), Prepend, Replace.
 *   3. the pre-tokenizer's steps cut it into pieces: Split by a PCRE2 pattern (compiled once at
 *      load, JIT when available) with the five behaviors, ByteLevel's prefix space, Metaspace.
 *   4. each piece is one BPE word: taken whole when ignore_merges and it is a vocabulary piece;
 *      else its symbols (byte-level: each byte's token; otherwise each character's token, or
 *      its bytes' "<0xXX>" tokens with byte_fallback, or unk, fused when fuse_unk) merge, the
 *      pair of lowest rank first and the leftmost of equal ranks (a heap of candidate pairs,
 *      stale entries skipped when popped), as Word::merge_all does.
 * Pieces are raw bytes here (byte-level vocabularies were unmapped by the converter), so invalid
 * UTF-8 goes through byte-level BPE like any other bytes (PCRE2 matches none of it, so it becomes
 * pieces of its own), and decoding gives back exactly the bytes encoded.
 *
 * Decoding is per token: the bytes the converter worked out from the file's decoder; special
 * tokens give nothing unless asked (LLMC_TOK_SPECIAL), and with STRIP_START (SentencePiece-style
 * files) the first token's leading space is dropped at the start or after BOS.
 */
#include "tokenizer_impl.h"

#include "grow.h"
#include "hftok.h"
#include "llmc_model.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

_Static_assert(LLMC_HFTOK_PCRE2_OPTIONS == (PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF),
               "hftok.h's PCRE2 options");

typedef struct HfTok {
    uint32_t dec_off, dec_len;  /* decoded bytes in t->pool */
    uint32_t add_off, add_len;  /* ADDED: content in t->pool */
    uint8_t flags;              /* LLMC_HFT_*; 0: a hole */
} HfTok;

typedef struct HfStep {
    uint32_t op, arg;
    uint32_t a_off, a_len, b_off, b_len;    /* strings in t->pool */
    pcre2_code *re;                         /* SPLIT */
} HfStep;

typedef struct Merge {
    uint64_t key;               /* left << 32 | right; UINT64_MAX: empty */
    uint32_t rank;
    int32_t id;                 /* the merged token */
} Merge;

typedef struct HfModel {
    uint32_t flags;             /* LLMC_HFF_* */
    HfTok *tok;                 /* [t->n] */
    HfStep norm[LLMC_HFTOK_MAX_STEPS], pre[LLMC_HFTOK_MAX_STEPS];
    int n_norm, n_pre;
    Merge *merges;
    uint32_t merge_mask;
    int32_t byte_id[256];       /* byte-level: the token of each byte; byte fallback: "<0xXX>" */
    /* added tokens, for LLMC_TOK_SPECIAL: ids in a hash by content, distinct lengths longest first */
    int32_t *added;             /* [added_mask + 1] ids, -1 empty */
    uint32_t added_mask;
    uint32_t added_lens[64];
    int n_added_lens;
    bool added_first[256];
    /* named strings */
    int n_strings;
    uint32_t str_off[32][2], str_len[32][2];
    int32_t eos;
} HfModel;

typedef struct Bytes {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} Bytes;

static void normalize(const LlmcTokenizer *t, const HfModel *m, const uint8_t *s, size_t n, Bytes *a, Bytes *b,
                      const uint8_t **res, size_t *res_n);

/* ---- reading the compact form ---- */

typedef struct Rd {
    const uint8_t *p, *end;
    const char *what;           /* the part being read, for messages */
} Rd;

static int rd_u32(Rd *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return -1;
    *v = llmc_tok_rd_u32(r->p);
    r->p += 4;
    return 0;
}

/* A str: its bytes are copied into pool at *used; *off, *len say where. */
static int rd_str(Rd *r, uint8_t *pool, uint32_t *used, uint32_t *off, uint32_t *len, uint32_t max)
{
    uint32_t n;
    if (rd_u32(r, &n) || n > max || (size_t)(r->end - r->p) < n)
        return -1;
    memcpy(pool + *used, r->p, n);
    *off = *used;
    *len = n;
    *used += n;
    r->p += n;
    return 0;
}

static uint64_t merge_key(int32_t l, int32_t r) { return (uint64_t)(uint32_t)l << 32 | (uint32_t)r; }

static uint32_t merge_hash(uint64_t k)
{
    k ^= k >> 29;
    k *= 0xbf58476d1ce4e5b9ull;
    k ^= k >> 32;
    return (uint32_t)k;
}

static const Merge *merge_find(const HfModel *m, int32_t l, int32_t r)
{
    uint64_t k = merge_key(l, r);
    for (uint32_t i = merge_hash(k) & m->merge_mask;; i = (i + 1) & m->merge_mask) {
        const Merge *e = &m->merges[i];
        if (e->key == k)
            return e;
        if (e->key == UINT64_MAX)
            return NULL;
    }
}

static int32_t added_find(const LlmcTokenizer *t, const HfModel *m, const uint8_t *s, size_t len)
{
    for (uint32_t i = llmc_tok_hash(s, len) & m->added_mask;; i = (i + 1) & m->added_mask) {
        int32_t id = m->added[i];
        if (id < 0)
            return -1;
        const HfTok *h = &m->tok[id];
        if (h->add_len == len && memcmp(t->pool + h->add_off, s, len) == 0)
            return id;
    }
}

static int read_steps(Rd *r, HfStep *steps, uint32_t n, bool norm, uint8_t *pool, uint32_t *used, char *err,
                      size_t errlen)
{
    for (uint32_t i = 0; i < n; i++) {
        HfStep *s = &steps[i];
        if (rd_u32(r, &s->op) || rd_u32(r, &s->arg) ||
            rd_str(r, pool, used, &s->a_off, &s->a_len, LLMC_HFTOK_MAX_PIECE) ||
            rd_str(r, pool, used, &s->b_off, &s->b_len, LLMC_HFTOK_MAX_PIECE))
            return llmc_tok_fail(err, errlen, "tokenizer: %s step %u is cut short", r->what, i);
        bool ok;
        if (norm)
            ok = s->op >= LLMC_HFN_NFC && s->op < LLMC_HFN_COUNT && s->arg == 0 &&
                 (s->op != LLMC_HFN_REPLACE || s->a_len > 0);
        else
            ok = (s->op == LLMC_HFP_SPLIT && (s->arg & ~(uint32_t)LLMC_HFS_INVERT) < LLMC_HFS_COUNT) ||
                 (s->op == LLMC_HFP_PREFIX_SPACE && s->arg == 0) ||
                 (s->op == LLMC_HFP_METASPACE && (s->arg & ~(uint32_t)LLMC_HFM_SPLIT) <= LLMC_HFM_ALWAYS &&
                  s->a_len > 0);
        if (!ok)
            return llmc_tok_fail(err, errlen, "tokenizer: %s step %u: unknown operation %u (argument %u)", r->what,
                                 i, s->op, s->arg);
        if (s->op == LLMC_HFP_SPLIT && !norm) {
            int code = 0;
            PCRE2_SIZE off = 0;
            s->re = pcre2_compile(pool + s->a_off, s->a_len, LLMC_HFTOK_PCRE2_OPTIONS, &code, &off, NULL);
            if (!s->re) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(code, msg, sizeof msg);
                return llmc_tok_fail(err, errlen, "tokenizer: pre-tokenizer step %u: pattern does not compile: %s "
                                     "at offset %zu", i, (const char *)msg, (size_t)off);
            }
            pcre2_jit_compile(s->re, PCRE2_JIT_COMPLETE);   /* the interpreter when JIT is unavailable */
        }
    }
    return 0;
}

static int load_hf(LlmcTokenizer *t, const uint8_t *data, size_t size, char *err, size_t errlen)
{
    HfModel *m = calloc(1, sizeof *m);
    t->state = m;
    t->pool = malloc(size ? size : 1);   /* every string of the file fits in the file */
    if (!m || !t->pool)
        return llmc_tok_fail(err, errlen, "tokenizer: out of memory");
    Rd r = {data, data + size, "header"};
    uint32_t h[LLMC_HFH_COUNT];
    if (size < LLMC_HFTOK_HEADER_BYTES || memcmp(data, LLMC_HFTOK_MAGIC, 8) != 0)
        return llmc_tok_fail(err, errlen, "tokenizer: not llmc's tokenizer.json form (magic %s expected)",
                             LLMC_HFTOK_MAGIC);
    r.p += 8;
    for (int i = 0; i < LLMC_HFH_COUNT; i++)
        rd_u32(&r, &h[i]);
    m->flags = h[LLMC_HFH_FLAGS];
    uint32_t n_tok = h[LLMC_HFH_N_TOKENS], n_merges = h[LLMC_HFH_N_MERGES];
    int32_t unk = (int32_t)h[LLMC_HFH_UNK], bos = (int32_t)h[LLMC_HFH_BOS], eos = (int32_t)h[LLMC_HFH_EOS];
    if (m->flags & ~(uint32_t)LLMC_HFF_ALL)
        return llmc_tok_fail(err, errlen, "tokenizer: unknown flags 0x%x", m->flags);
    if (n_tok > (uint32_t)t->n)
        return llmc_tok_fail(err, errlen, "tokenizer: %u tokens, more than the model's vocab_size %d", n_tok, t->n);
    if (h[LLMC_HFH_N_NORM] > LLMC_HFTOK_MAX_STEPS || h[LLMC_HFH_N_PRE] > LLMC_HFTOK_MAX_STEPS ||
        h[LLMC_HFH_N_STRINGS] > 32)
        return llmc_tok_fail(err, errlen, "tokenizer: too many steps or strings");
    const int32_t ids[3] = {unk, bos, eos};
    for (int k = 0; k < 3; k++)
        if (ids[k] < -1 || ids[k] >= (int32_t)n_tok)
            return llmc_tok_fail(err, errlen, "tokenizer: special id %d outside the %u tokens", ids[k], n_tok);
    if (n_merges > (size_t)(r.end - r.p) / 8)
        return llmc_tok_fail(err, errlen, "tokenizer: %u merges cannot fit in %zu bytes", n_merges, size);

    uint32_t used = 0;
    m->n_norm = (int)h[LLMC_HFH_N_NORM];
    m->n_pre = (int)h[LLMC_HFH_N_PRE];
    r.what = "normalizer";
    if (read_steps(&r, m->norm, (uint32_t)m->n_norm, true, t->pool, &used, err, errlen))
        return -1;
    r.what = "pre-tokenizer";
    if (read_steps(&r, m->pre, (uint32_t)m->n_pre, false, t->pool, &used, err, errlen))
        return -1;

    /* Tokens. */
    m->tok = calloc((size_t)t->n, sizeof *m->tok);
    if (!m->tok || llmc_tok_alloc_slots(t))
        return llmc_tok_fail(err, errlen, "tokenizer: out of memory");
    uint32_t n_added = 0;
    for (int32_t i = 0; i < t->n; i++) {
        HfTok *k = &m->tok[i];
        Piece *p = &t->pieces[i];
        *p = (Piece){0, 0, 0.0f, PT_UNUSED, -1};
        if ((uint32_t)i >= n_tok)
            continue;
        if (r.p >= r.end)
            return llmc_tok_fail(err, errlen, "tokenizer: token %d is cut short", i);
        k->flags = *r.p++;
        uint32_t f = k->flags;
        if (f & ~(uint32_t)LLMC_HFT_ALL)
            return llmc_tok_fail(err, errlen, "tokenizer: token %d: unknown flags 0x%x", i, f);
        if (f & LLMC_HFT_VOCAB) {
            if (rd_str(&r, t->pool, &used, &p->off, &p->len, LLMC_HFTOK_MAX_PIECE) || p->len == 0)
                return llmc_tok_fail(err, errlen, "tokenizer: token %d: piece cut short or empty", i);
            p->type = PT_NORMAL;
            Slot *sl = llmc_tok_slot_get(t, i);
            if (sl->merge_id >= 0)
                return llmc_tok_fail(err, errlen, "tokenizer: tokens %d and %d are the same piece", sl->merge_id, i);
            sl->merge_id = i;
            k->dec_off = p->off;
            k->dec_len = p->len;
        }
        if (f & LLMC_HFT_ADDED) {
            if (rd_str(&r, t->pool, &used, &k->add_off, &k->add_len, LLMC_HFTOK_MAX_PIECE) || k->add_len == 0)
                return llmc_tok_fail(err, errlen, "tokenizer: token %d: content cut short or empty", i);
            if (!(f & LLMC_HFT_VOCAB)) {
                k->dec_off = k->add_off;
                k->dec_len = k->add_len;
            }
            n_added++;
        } else if (f & (LLMC_HFT_SPECIAL | LLMC_HFT_LSTRIP | LLMC_HFT_RSTRIP | LLMC_HFT_SINGLE_WORD)) {
            return llmc_tok_fail(err, errlen, "tokenizer: token %d has added-token flags but is not added", i);
        }
        if ((f & LLMC_HFT_DEC_OWN) &&
            rd_str(&r, t->pool, &used, &k->dec_off, &k->dec_len, LLMC_HFTOK_MAX_PIECE))
            return llmc_tok_fail(err, errlen, "tokenizer: token %d: decoded bytes cut short", i);
    }
    if (unk >= 0 && !(m->tok[unk].flags & LLMC_HFT_VOCAB))
        return llmc_tok_fail(err, errlen, "tokenizer: unk %d is not a vocabulary token", unk);

    /* Bytes: byte-level, each byte a token; byte fallback, "<0xXX>" tokens. */
    for (int b = 0; b < 256; b++) {
        m->byte_id[b] = -1;
        uint8_t s[6] = {'<', '0', 'x', "0123456789ABCDEF"[b >> 4], "0123456789ABCDEF"[b & 15], '>'};
        uint8_t one = (uint8_t)b;
        const Slot *sl = (m->flags & LLMC_HFF_BYTE_LEVEL) ? llmc_tok_slot_find(t, &one, 1)
                         : (m->flags & LLMC_HFF_BYTE_FALLBACK) ? llmc_tok_slot_find(t, s, 6) : NULL;
        if (sl)
            m->byte_id[b] = sl->merge_id;   /* a missing one: that byte is an unknown character */
    }

    /* Merges: rank = position; the merged token spells left + right. */
    uint32_t cap = 16;
    while (cap < n_merges + n_merges / 2 + 1)
        cap *= 2;
    m->merges = malloc((size_t)cap * sizeof *m->merges);
    uint8_t *cat = malloc(2 * LLMC_HFTOK_MAX_PIECE);
    if (!m->merges || !cat) {
        free(cat);
        return llmc_tok_fail(err, errlen, "tokenizer: out of memory for %u merges", n_merges);
    }
    m->merge_mask = cap - 1;
    for (uint32_t i = 0; i < cap; i++)
        m->merges[i].key = UINT64_MAX;
    for (uint32_t i = 0; i < n_merges; i++) {
        uint32_t l = 0, rr = 0;
        rd_u32(&r, &l);   /* the count was checked against the size */
        rd_u32(&r, &rr);
        if (l >= n_tok || rr >= n_tok || !(m->tok[l].flags & LLMC_HFT_VOCAB) || !(m->tok[rr].flags & LLMC_HFT_VOCAB)) {
            free(cat);
            return llmc_tok_fail(err, errlen, "tokenizer: merge %u joins %u and %u, not both vocabulary tokens", i,
                                 l, rr);
        }
        const Piece *pl = &t->pieces[l], *pr = &t->pieces[rr];
        memcpy(cat, t->pool + pl->off, pl->len);
        memcpy(cat + pl->len, t->pool + pr->off, pr->len);
        const Slot *sl = llmc_tok_slot_find(t, cat, pl->len + pr->len);
        if (!sl || sl->merge_id < 0) {
            free(cat);
            return llmc_tok_fail(err, errlen, "tokenizer: merge %u: tokens %u + %u spell no token", i, l, rr);
        }
        uint64_t key = merge_key((int32_t)l, (int32_t)rr);
        uint32_t j = merge_hash(key) & m->merge_mask;
        while (m->merges[j].key != UINT64_MAX && m->merges[j].key != key)
            j = (j + 1) & m->merge_mask;
        m->merges[j] = (Merge){key, i, sl->merge_id};   /* a repeated merge takes its last rank */
    }
    free(cat);

    /* Named strings. */
    m->n_strings = (int)h[LLMC_HFH_N_STRINGS];
    for (int i = 0; i < m->n_strings; i++)
        if (rd_str(&r, t->pool, &used, &m->str_off[i][0], &m->str_len[i][0], 256) ||
            rd_str(&r, t->pool, &used, &m->str_off[i][1], &m->str_len[i][1], UINT32_MAX))
            return llmc_tok_fail(err, errlen, "tokenizer: string %d is cut short", i);
    if (r.p != r.end)
        return llmc_tok_fail(err, errlen, "tokenizer: %zu bytes after the last part", (size_t)(r.end - r.p));

    /* Normalized added tokens are matched in normalized text: by their content normalized. */
    for (int32_t i = 0; i < (int32_t)n_tok; i++) {
        HfTok *k = &m->tok[i];
        if ((k->flags & (LLMC_HFT_ADDED | LLMC_HFT_NORMALIZED)) != (LLMC_HFT_ADDED | LLMC_HFT_NORMALIZED) ||
            m->n_norm == 0)
            continue;
        Bytes a = {NULL, 0, 0, false}, b = {NULL, 0, 0, false};
        const uint8_t *res;
        size_t res_n;
        normalize(t, m, t->pool + k->add_off, k->add_len, &a, &b, &res, &res_n);
        uint8_t *pool = a.oom || b.oom ? NULL : realloc(t->pool, (size_t)used + res_n);
        if (pool) {
            t->pool = pool;
            if (res_n)
                memcpy(pool + used, res, res_n);
            k->add_off = used;
            k->add_len = (uint32_t)res_n;
            used += (uint32_t)res_n;
        }
        free(a.p);
        free(b.p);
        if (!pool)
            return llmc_tok_fail(err, errlen, "tokenizer: out of memory");
    }

    /* Added tokens: a hash by content, the distinct lengths, the first bytes. */
    uint32_t acap = 16;
    while (acap < 2 * n_added)
        acap *= 2;
    m->added = malloc(acap * sizeof *m->added);
    if (!m->added)
        return llmc_tok_fail(err, errlen, "tokenizer: out of memory");
    m->added_mask = acap - 1;
    for (uint32_t i = 0; i < acap; i++)
        m->added[i] = -1;
    for (int32_t i = 0; i < (int32_t)n_tok; i++) {
        const HfTok *k = &m->tok[i];
        if (!(k->flags & LLMC_HFT_ADDED))
            continue;
        const uint8_t *s = t->pool + k->add_off;
        /* Matched by its content: one that normalizes to nothing never is, and of two with the
         * same content the first is (the other stays a token, matched by nothing). */
        if (k->add_len == 0 || added_find(t, m, s, k->add_len) >= 0)
            continue;
        uint32_t j = llmc_tok_hash(s, k->add_len) & m->added_mask;
        while (m->added[j] >= 0)
            j = (j + 1) & m->added_mask;
        m->added[j] = i;
        m->added_first[s[0]] = true;
        int at = 0;
        while (at < m->n_added_lens && m->added_lens[at] > k->add_len)
            at++;
        if (at < m->n_added_lens && m->added_lens[at] == k->add_len)
            continue;
        if (m->n_added_lens == 64)
            return llmc_tok_fail(err, errlen, "tokenizer: added tokens of more than 64 different lengths");
        memmove(m->added_lens + at + 1, m->added_lens + at, (size_t)(m->n_added_lens - at) * sizeof *m->added_lens);
        m->added_lens[at] = k->add_len;
        m->n_added_lens++;
    }
    t->unk = unk;
    t->bos = bos;
    t->eos = eos;
    m->eos = eos;
    return 0;
}

static void free_hf(LlmcTokenizer *t)
{
    HfModel *m = t->state;
    if (!m)
        return;
    for (int i = 0; i < LLMC_HFTOK_MAX_STEPS; i++)
        pcre2_code_free(m->pre[i].re);   /* NULL is fine */
    free(m->tok);
    free(m->merges);
    free(m->added);
    free(m);
}

static const char *string_hf(const LlmcTokenizer *t, const char *key, size_t *len)
{
    const HfModel *m = t->state;
    size_t kl = strlen(key);
    for (int i = 0; i < m->n_strings; i++)
        if (m->str_len[i][0] == kl && memcmp(t->pool + m->str_off[i][0], key, kl) == 0) {
            *len = m->str_len[i][1];
            return (const char *)t->pool + m->str_off[i][1];
        }
    return NULL;
}

/* ---- text helpers ---- */

/* Length of the valid UTF-8 character at s (its code point in *cp), 0 when s[0] starts none. */
static size_t utf8_char(const uint8_t *s, size_t n, int32_t *cp)
{
    utf8proc_int32_t c = -1;
    utf8proc_ssize_t k = utf8proc_iterate(s, (utf8proc_ssize_t)(n < 4 ? n : 4), &c);
    if (k <= 0 || c < 0)
        return 0;
    *cp = c;
    return (size_t)k;
}

/* The code point ending at s[n] (before it), -1 when the bytes before are not a whole character. */
static int32_t utf8_before(const uint8_t *s, size_t n)
{
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        if ((s[n - back] & 0xc0) == 0x80)
            continue;
        int32_t cp;
        return utf8_char(s + n - back, back, &cp) == back ? cp : -1;
    }
    return -1;
}

/* Rust's char::is_whitespace: the White_Space property. */
static bool is_ws(int32_t c)
{
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* A word character for single_word: a letter, a digit (any number) or '_'. */
static bool is_word(int32_t c)
{
    if (c < 0)
        return false;
    if (c == '_')
        return true;
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

/* ---- byte buffers ---- */

static void bytes_reserve(Bytes *b, size_t extra)
{
    if (b->oom || b->n + extra <= b->cap)
        return;
    uint8_t *p = llmc_grow(b->p, &b->cap, b->n + extra, 256);
    if (!p) {
        b->oom = true;
        return;
    }
    b->p = p;
}

static void bytes_put(Bytes *b, const void *s, size_t n)
{
    bytes_reserve(b, n);
    if (b->oom)
        return;
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* ---- normalizer ---- */

static void normalize_form(const uint8_t *s, size_t n, utf8proc_option_t opt, Bytes *out)
{
    for (size_t i = 0; i < n && !out->oom;) {
        /* a run of valid UTF-8, then the invalid bytes after it */
        size_t j = i;
        int32_t cp;
        size_t k;
        while (j < n && (k = utf8_char(s + j, n - j, &cp)) > 0)
            j += k;
        if (j > i) {
            utf8proc_uint8_t *dst = NULL;
            utf8proc_ssize_t m = utf8proc_map(s + i, (utf8proc_ssize_t)(j - i), &dst, opt);
            if (m < 0 || !dst) {
                /* only out of memory: the run was checked valid */
                out->oom = true;
                free(dst);
                return;
            }
            bytes_put(out, dst, (size_t)m);
            free(dst);
        }
        while (j < n && !utf8_char(s + j, n - j, &cp))
            bytes_put(out, s + j++, 1);
        i = j;
    }
}

/* Runs the normalizer's steps over s[0..n); the result is in *out (which may be in or b). */
static void normalize(const LlmcTokenizer *t, const HfModel *m, const uint8_t *s, size_t n, Bytes *a, Bytes *b,
                      const uint8_t **res, size_t *res_n)
{
    const uint8_t *cur = s;
    size_t cur_n = n;
    Bytes *dst = a;
    for (int i = 0; i < m->n_norm; i++) {
        const HfStep *st = &m->norm[i];
        const uint8_t *sa = t->pool + st->a_off, *sb = t->pool + st->b_off;
        dst->n = 0;
        switch (st->op) {
        case LLMC_HFN_NFC: normalize_form(cur, cur_n, UTF8PROC_STABLE | UTF8PROC_COMPOSE, dst); break;
        case LLMC_HFN_NFD: normalize_form(cur, cur_n, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, dst); break;
        case LLMC_HFN_NFKC:
            normalize_form(cur, cur_n, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, dst);
            break;
        case LLMC_HFN_NFKD:
            normalize_form(cur, cur_n, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, dst);
            break;
        case LLMC_HFN_PREPEND:
            if (cur_n)
                bytes_put(dst, sa, st->a_len);
            bytes_put(dst, cur, cur_n);
            break;
        default: /* LLMC_HFN_REPLACE */
            for (size_t j = 0; j < cur_n;) {
                if (cur_n - j >= st->a_len && memcmp(cur + j, sa, st->a_len) == 0) {
                    bytes_put(dst, sb, st->b_len);
                    j += st->a_len;
                } else {
                    bytes_put(dst, cur + j++, 1);
                }
            }
            break;
        }
        cur = dst->p;
        cur_n = dst->n;
        dst = dst == a ? b : a;
    }
    *res = cur;
    *res_n = cur_n;
}

/* ---- pre-tokenizer ---- */

typedef struct Span {
    uint32_t off, len;          /* bytes of an arena */
    bool first;                 /* starts at the very start of the text */
} Span;

typedef struct Spans {
    Span *p;
    size_t n, cap;
    bool oom;
} Spans;

static void spans_put(Spans *s, uint32_t off, uint32_t len, bool first)
{
    if (s->oom || len == 0)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        Span *p = realloc(s->p, cap * sizeof *p);
        if (!p) {
            s->oom = true;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
    s->p[s->n++] = (Span){off, len, first};
}

typedef struct Part {
    uint32_t start, end;
    bool match;         /* matched; after the behavior: removed */
} Part;

typedef struct Parts {
    Part *p;
    size_t n, cap;
    bool oom;
} Parts;

static void parts_put(Parts *ps, size_t start, size_t end, bool match)
{
    if (ps->oom)
        return;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 64;
        Part *p = realloc(ps->p, cap * sizeof *p);
        if (!p) {
            ps->oom = true;
            return;
        }
        ps->p = p;
        ps->cap = cap;
    }
    ps->p[ps->n++] = (Part){(uint32_t)start, (uint32_t)end, match};
}

/* Split (NormalizedString::split): the piece's matches and the gaps between them (empty matches
 * included, as the tokenizers library lists them), inverted if asked, then combined by the
 * behavior into the parts kept. */
static int split_piece(const HfStep *st, pcre2_match_data *md, const uint8_t *arena, Span in, Parts *ps, Spans *out)
{
    const uint8_t *s = arena + in.off;
    size_t n = in.len, pos = 0, prev = 0;
    ps->n = 0;
    while (pos <= n) {
        int rc = pcre2_match(st->re, s, n, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return -1;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms != prev)
            parts_put(ps, prev, ms, false);
        parts_put(ps, ms, me, true);
        prev = me;
        if (me > ms) {
            pos = me;
        } else {   /* an empty match: the next search starts a character on */
            int32_t cp;
            size_t k = ms < n ? utf8_char(s + ms, n - ms, &cp) : 1;
            pos = ms + (k ? k : 1);
        }
    }
    if (prev != n)
        parts_put(ps, prev, n, false);
    if (ps->oom)
        return -1;
    if (st->arg & LLMC_HFS_INVERT)
        for (size_t i = 0; i < ps->n; i++)
            ps->p[i].match = !ps->p[i].match;
    /* The behavior: combine in place; .match now means "removed". */
    size_t k = 0;
    bool previous = false;
    switch (st->arg & 0xff) {
    case LLMC_HFS_REMOVED:
        k = ps->n;
        break;
    case LLMC_HFS_ISOLATED:
        for (size_t i = 0; i < ps->n; i++)
            ps->p[i].match = false;
        k = ps->n;
        break;
    case LLMC_HFS_CONTIGUOUS:
        for (size_t i = 0; i < ps->n; i++) {
            Part q = ps->p[i];
            if (q.match == previous && k > 0)
                ps->p[k - 1].end = q.end;
            else
                ps->p[k++] = (Part){q.start, q.end, false};
            previous = q.match;
        }
        break;
    case LLMC_HFS_MERGED_WITH_PREVIOUS:
        for (size_t i = 0; i < ps->n; i++) {
            Part q = ps->p[i];
            if (q.match && !previous && k > 0)
                ps->p[k - 1].end = q.end;
            else
                ps->p[k++] = (Part){q.start, q.end, false};
            previous = q.match;
        }
        break;
    default: /* MERGED_WITH_NEXT: the same from the right */
        k = ps->n;
        for (size_t i = ps->n; i-- > 0;) {
            Part q = ps->p[i];
            if (q.match && !previous && k < ps->n)
                ps->p[k].start = q.start;
            else
                ps->p[--k] = (Part){q.start, q.end, false};
            previous = q.match;
        }
        memmove(ps->p, ps->p + k, (ps->n - k) * sizeof *ps->p);
        k = ps->n - k;
        break;
    }
    for (size_t i = 0; i < k; i++)
        if (!ps->p[i].match)
            spans_put(out, in.off + ps->p[i].start, ps->p[i].end - ps->p[i].start, in.first && ps->p[i].start == 0);
    return out->oom ? -1 : 0;
}

/* Runs the pre-tokenizer's steps over the text in arena[0..n); the pieces end up in *res. */
static int pre_tokenize(const LlmcTokenizer *t, const HfModel *m, pcre2_match_data *md, Bytes *arena, bool first,
                        Parts *ps, Spans *sa, Spans *sb, Spans **res)
{
    Spans *cur = sa, *next = sb;
    cur->n = 0;
    spans_put(cur, 0, (uint32_t)arena->n, first);
    for (int i = 0; i < m->n_pre; i++) {
        const HfStep *st = &m->pre[i];
        const uint8_t *rep = t->pool + st->a_off;
        next->n = 0;
        for (size_t k = 0; k < cur->n; k++) {
            Span in = cur->p[k];
            if (st->op == LLMC_HFP_SPLIT) {
                if (split_piece(st, md, arena->p, in, ps, next))
                    return -1;
            } else if (st->op == LLMC_HFP_PREFIX_SPACE) {
                if (arena->p[in.off] == ' ') {
                    spans_put(next, in.off, in.len, in.first);
                } else {
                    uint32_t at = (uint32_t)arena->n;
                    bytes_reserve(arena, in.len + 1);
                    if (arena->oom)
                        return -1;
                    arena->p[arena->n++] = ' ';
                    bytes_put(arena, arena->p + in.off, in.len);
                    spans_put(next, at, in.len + 1, in.first);
                }
            } else { /* METASPACE: spaces -> rep, rep in front per the scheme, split before each rep */
                uint32_t at = (uint32_t)arena->n;
                int scheme = (int)(st->arg & 0xff);
                /* HF replaces first, then asks whether the piece starts with the replacement */
                bool starts = arena->p[in.off] == ' ' ||
                              (in.len >= st->a_len && memcmp(arena->p + in.off, rep, st->a_len) == 0);
                bytes_reserve(arena, (size_t)in.len * st->a_len + st->a_len);
                if (arena->oom)
                    return -1;
                if ((scheme == LLMC_HFM_ALWAYS || (scheme == LLMC_HFM_FIRST && in.first)) && !starts)
                    bytes_put(arena, rep, st->a_len);
                for (uint32_t j = 0; j < in.len; j++) {
                    uint8_t c = arena->p[in.off + j];
                    if (c == ' ')
                        bytes_put(arena, rep, st->a_len);
                    else
                        bytes_put(arena, &c, 1);
                }
                uint32_t end = (uint32_t)arena->n;
                if (!(st->arg & LLMC_HFM_SPLIT)) {
                    spans_put(next, at, end - at, in.first);
                } else {
                    uint32_t start = at;
                    for (uint32_t j = at + 1; j + st->a_len <= end; j++)
                        if (memcmp(arena->p + j, rep, st->a_len) == 0) {
                            spans_put(next, start, j - start, in.first && start == at);
                            start = j;
                        }
                    spans_put(next, start, end - start, in.first && start == at);
                }
            }
            if (next->oom || arena->oom)
                return -1;
        }
        Spans *sw = cur;
        cur = next;
        next = sw;
    }
    *res = cur;
    return 0;
}

/* ---- BPE over one word ---- */

typedef struct WSym {
    int32_t id;
    int32_t prev, next;     /* -1 at the ends */
    bool alive;
} WSym;

typedef struct WCand {
    uint32_t rank;
    int32_t pos;            /* the left symbol */
    int32_t id;             /* the merged token */
} WCand;

typedef struct Work {
    WSym *sym;
    size_t cap_sym;
    WCand *heap;
    size_t n_heap, cap_heap;
    bool oom;
} Work;

static bool cand_before(const WCand *a, const WCand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(Work *w, WCand c)
{
    if (w->n_heap == w->cap_heap) {
        size_t cap = w->cap_heap ? 2 * w->cap_heap : 64;
        WCand *h = realloc(w->heap, cap * sizeof *h);
        if (!h) {
            w->oom = true;
            return;
        }
        w->heap = h;
        w->cap_heap = cap;
    }
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!cand_before(&c, &w->heap[up]))
            break;
        w->heap[i] = w->heap[up];
        i = up;
    }
    w->heap[i] = c;
}

static WCand heap_pop(Work *w)
{
    WCand top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cand_before(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!cand_before(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n)
        w->heap[i] = last;
    return top;
}

static void try_pair(const HfModel *m, Work *w, int32_t l)
{
    if (l < 0 || w->sym[l].next < 0)
        return;
    const Merge *e = merge_find(m, w->sym[l].id, w->sym[w->sym[l].next].id);
    if (e)
        heap_push(w, (WCand){e->rank, l, e->id});
}

/* Word::merge_all: the candidate of lowest rank (leftmost among equals) merges first; an entry
 * whose pair no longer gives its token is stale and skipped. */
static void merge_word(const HfModel *m, Work *w, int32_t n)
{
    w->n_heap = 0;
    for (int32_t i = 0; i + 1 < n; i++)
        try_pair(m, w, i);
    while (w->n_heap && !w->oom) {
        WCand c = heap_pop(w);
        WSym *L = &w->sym[c.pos];
        if (!L->alive || L->next < 0)
            continue;
        const Merge *e = merge_find(m, L->id, w->sym[L->next].id);
        if (!e || e->id != c.id)
            continue;
        WSym *R = &w->sym[L->next];
        L->id = c.id;
        L->next = R->next;
        if (R->next >= 0)
            w->sym[R->next].prev = c.pos;
        R->alive = false;
        try_pair(m, w, L->prev);
        try_pair(m, w, c.pos);
    }
}

/* One pre-tokenized piece to ids (BPE::tokenize and merge_word). */
static void bpe_piece(const LlmcTokenizer *t, const HfModel *m, Work *w, const uint8_t *s, size_t n, LlmcIds *out)
{
    if (m->flags & LLMC_HFF_IGNORE_MERGES) {
        const Slot *sl = llmc_tok_slot_find(t, s, n);
        if (sl && sl->merge_id >= 0) {
            llmc_ids_push(out, sl->merge_id);
            return;
        }
    }
    if (n + 1 > w->cap_sym) {
        size_t cap = w->cap_sym ? w->cap_sym : 64;
        while (cap < n + 1)
            cap *= 2;
        WSym *p = realloc(w->sym, cap * sizeof *p);
        if (!p) {
            w->oom = true;
            return;
        }
        w->sym = p;
        w->cap_sym = cap;
    }
    int32_t k = 0;
#define ADD(ID)                                                                                             \
    do {                                                                                                    \
        w->sym[k] = (WSym){(ID), k - 1, -1, true};                                                           \
        if (k > 0)                                                                                          \
            w->sym[k - 1].next = k;                                                                         \
        k++;                                                                                                \
    } while (0)
    /* Each character (byte-level: each byte) is its token; else its "<0xXX>" tokens when every
     * one of them exists; else unk (consecutive ones fused with fuse_unk); else it is dropped, as
     * the tokenizers library drops it. */
    bool unk_pending = false;
    for (size_t i = 0; i < n;) {
        int32_t cp, id = -1;
        size_t l = 1;
        if (m->flags & LLMC_HFF_BYTE_LEVEL) {
            id = m->byte_id[s[i]];
        } else {
            l = utf8_char(s + i, n - i, &cp);
            if (!l)
                l = 1;   /* an invalid byte: a character of its own that no piece spells */
            const Slot *sl = llmc_tok_slot_find(t, s + i, l);
            if (sl && sl->merge_id >= 0)
                id = sl->merge_id;
        }
        bool bytes = id < 0 && (m->flags & LLMC_HFF_BYTE_FALLBACK);
        for (size_t j = 0; bytes && j < l; j++)
            bytes = m->byte_id[s[i + j]] >= 0;
        if (id >= 0) {
            if (unk_pending)
                ADD(t->unk);
            unk_pending = false;
            ADD(id);
        } else if (bytes) {   /* (the library leaves a pending unk for after them) */
            for (size_t j = 0; j < l; j++)
                ADD(m->byte_id[s[i + j]]);
        } else if (t->unk >= 0) {
            if (unk_pending && !(m->flags & LLMC_HFF_FUSE_UNK))
                ADD(t->unk);
            unk_pending = true;
        }
        i += l;
    }
    if (unk_pending)
        ADD(t->unk);
#undef ADD
    merge_word(m, w, k);
    for (int32_t i = k ? 0 : -1; i >= 0; i = w->sym[i].next)
        llmc_ids_push(out, w->sym[i].id);
}

/* ---- encode ---- */

typedef struct Enc {
    Bytes na, nb, arena;
    Parts parts;
    Spans sa, sb;
    Work work;
    pcre2_match_data *md;
} Enc;

/* The ids of one stretch of plain text (between added tokens): normalized, pre-tokenized, BPE. */
static int encode_plain(const LlmcTokenizer *t, const HfModel *m, Enc *e, const uint8_t *s, size_t n, bool first,
                        int flags, LlmcIds *out);

/* Added tokens in s[0..n): the next match at or after from, leftmost then longest, among the
 * tokens whose NORMALIZED flag is `normalized`; its token id, *ms and *me its extent (lstrip
 * and rstrip applied, never reaching back before `floor`). -1 when there is none. */
static int32_t next_added(const LlmcTokenizer *t, const HfModel *m, const uint8_t *s, size_t n, size_t from,
                          size_t floor, bool normalized, size_t *ms, size_t *me)
{
    for (size_t i = from; i < n; i++) {
        if (!m->added_first[s[i]])
            continue;
        int32_t id = -1;
        size_t l = 0;
        for (int k = 0; k < m->n_added_lens && id < 0; k++) {
            l = m->added_lens[k];
            if (l > n - i)
                continue;
            id = added_find(t, m, s + i, l);
            if (id >= 0 && !(m->tok[id].flags & LLMC_HFT_NORMALIZED) != !normalized)
                id = -1;
        }
        if (id < 0)
            continue;
        uint8_t f = m->tok[id].flags;
        size_t a = i, b = i + l;
        if (f & LLMC_HFT_SINGLE_WORD) {
            int32_t cp = -1;
            bool before = a > 0 && is_word(utf8_before(s, a));
            bool after = b < n && utf8_char(s + b, n - b, &cp) && is_word(cp);
            if (before || after) {   /* not a word: dropped, and the search goes on after it */
                i = b - 1;
                continue;
            }
        }
        if (f & LLMC_HFT_LSTRIP)
            for (int32_t cp; a > floor && is_ws(cp = utf8_before(s, a));)
                a -= (size_t)(cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
        if (f & LLMC_HFT_RSTRIP)
            for (int32_t cp; b < n;) {
                size_t cl = utf8_char(s + b, n - b, &cp);
                if (!cl || !is_ws(cp))
                    break;
                b += cl;
            }
        *ms = a;
        *me = b;
        return id;
    }
    return -1;
}

/* Cuts s at added tokens of kind `normalized`, handing the stretches between them to `plain`
 * (the normalizer and what follows; or, for the normalized pass, straight to pre-tokenization). */
static int encode_normalized(const LlmcTokenizer *t, const HfModel *m, Enc *e, const uint8_t *s, size_t n,
                             bool first, int flags, LlmcIds *out);

static int encode_hf_text(const LlmcTokenizer *t, const HfModel *m, Enc *e, const uint8_t *s, size_t n, int flags,
                          LlmcIds *out)
{
    size_t at = 0;
    if (flags & LLMC_TOK_SPECIAL) {
        size_t ms, me;
        for (int32_t id; (id = next_added(t, m, s, n, at, at, false, &ms, &me)) >= 0; at = me) {
            if (ms > at && encode_plain(t, m, e, s + at, ms - at, at == 0, flags, out))
                return -1;
            llmc_ids_push(out, id);
        }
    }
    if (n > at && encode_plain(t, m, e, s + at, n - at, at == 0, flags, out))
        return -1;
    return 0;
}

static int encode_plain(const LlmcTokenizer *t, const HfModel *m, Enc *e, const uint8_t *s, size_t n, bool first,
                        int flags, LlmcIds *out)
{
    const uint8_t *norm;
    size_t nn;
    normalize(t, m, s, n, &e->na, &e->nb, &norm, &nn);
    if (e->na.oom || e->nb.oom)
        return -1;
    return encode_normalized(t, m, e, norm, nn, first, flags, out);
}

static int encode_normalized(const LlmcTokenizer *t, const HfModel *m, Enc *e, const uint8_t *s, size_t n,
                             bool first, int flags, LlmcIds *out)
{
    size_t at = 0, ms = 0, me = 0;
    int32_t id = -1;
    for (;;) {
        if (flags & LLMC_TOK_SPECIAL)
            id = next_added(t, m, s, n, at, at, true, &ms, &me);
        size_t end = id >= 0 ? ms : n;
        if (end > at) {
            e->arena.n = 0;
            bytes_put(&e->arena, s + at, end - at);
            Spans *pieces = NULL;
            if (e->arena.oom ||
                pre_tokenize(t, m, e->md, &e->arena, first && at == 0, &e->parts, &e->sa, &e->sb, &pieces))
                return -1;
            for (size_t k = 0; k < pieces->n; k++)
                bpe_piece(t, m, &e->work, e->arena.p + pieces->p[k].off, pieces->p[k].len, out);
            if (e->work.oom)
                return -1;
        }
        if (id < 0)
            return 0;
        llmc_ids_push(out, id);
        at = me;
    }
}

static int encode_hf(const LlmcTokenizer *t, const uint8_t *text, size_t len, int flags, LlmcIds *out, char *err,
                     size_t errlen)
{
    const HfModel *m = t->state;
    Enc e;
    memset(&e, 0, sizeof e);
    e.md = pcre2_match_data_create(1, NULL);
    int rc = e.md ? encode_hf_text(t, m, &e, text, len, flags, out) : -1;
    pcre2_match_data_free(e.md);
    free(e.na.p);
    free(e.nb.p);
    free(e.arena.p);
    free(e.parts.p);
    free(e.sa.p);
    free(e.sb.p);
    free(e.work.sym);
    free(e.work.heap);
    if (rc)
        return llmc_tok_fail(err, errlen, "out of memory (or a pattern match failed)");
    return 0;
}

/* ---- decode ---- */

static void decode_hf(const LlmcTokenizer *t, int32_t prev, int32_t id, int flags, LlmcTokOut *o)
{
    const HfModel *m = t->state;
    const HfTok *k = &m->tok[id];
    if ((k->flags & LLMC_HFT_SPECIAL) && !(flags & LLMC_TOK_SPECIAL))
        return;
    const uint8_t *s = t->pool + k->dec_off;
    size_t n = k->dec_len;
    if ((m->flags & LLMC_HFF_STRIP_START) && (prev == -1 || prev == t->bos) && n && s[0] == ' ') {
        s++;
        n--;
    }
    llmc_tok_out_put(o, s, n);
}

const LlmcTokFormat llmc_tok_hf = {
    .kind = LLMC_TOK_HF,
    .load = load_hf,
    .encode = encode_hf,
    .decode = decode_hf,
    .free = free_hf,
    .string = string_hf,
};
