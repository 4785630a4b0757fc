/* test_tokenizer.c — the built-in tokenizers (runtime/tokenizer.c) against plain-C references,
 * the real vocabularies in ../shared, and malformed files.
 *
 * The library encodes with a hash table and a heap (O(n log n)). Beside it live two straight
 * quadratic references written for reading, not speed:
 *   ref_llama2c_encode — llama2.c run.c's encode(), transcribed (linear vocabulary search);
 *   ref_sp_encode      — SentencePiece: normalizer.cc's whitespace handling, then "find the best
 *                        adjacent pair, merge, repeat", unused-piece resegmentation, byte
 *                        fallback / unk collapsing (sentencepiece_processor.cc).
 * Both must give identical ids to the library on random strings (words, spaces, punctuation,
 * UTF-8, invalid bytes) and on real text. Exact ids are also pinned for the reference model
 * (reference.json, from HF transformers) and a few strings derived by hand.
 *
 * The SentencePiece reference reads the vocabulary through a separate little protobuf reader
 * (tm_parse) and synthetic models are written with a protobuf writer (tm_serialize), so the
 * library's parser is checked against an independent one.
 */
#include "testutil.h"
#include "tokenizer.h"
#include "llmc_model.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOK_MODEL "debdocs-32M/tokenizer.model"
#define TOK_BIN "stories260K/tok512.bin"

/* ---- small helpers ---- */

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(n > 0 ? (size_t)n : 1);
    ck_assert(fread(d, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return d;
}

static LlmcTokenizer *load_mem(int kind, const uint8_t *d, size_t size, int32_t vocab)
{
    LlmcTokenizer *t = NULL;
    char err[512];
    int rc = llmc_tokenizer_load(&t, kind, d, size, vocab, err, sizeof err);
    ck_assert_msg(rc == 0, "load: %s", err);
    return t;
}

static LlmcTokenizer *load_shared(int kind, const char *rel, int32_t vocab)
{
    size_t size;
    uint8_t *d = read_all(tu_shared(rel), &size);
    LlmcTokenizer *t = load_mem(kind, d, size, vocab);
    free(d);
    return t;
}

static int32_t *enc(const LlmcTokenizer *t, const char *s, size_t len, int bos, int32_t *n)
{
    int32_t *ids = NULL;
    char err[512];
    int rc = llmc_tokenizer_encode(t, s, len, bos, &ids, n, err, sizeof err);
    ck_assert_msg(rc == 0, "encode: %s", err);
    return ids;
}

/* Streams ids through llmc_tokenizer_decode, the first one following `prev`. */
static char *dec(const LlmcTokenizer *t, int32_t prev, const int32_t *ids, int32_t n, size_t *len)
{
    size_t cap = 256, l = 0;
    char *out = malloc(cap);
    char buf[256];
    for (int32_t i = 0; i < n; i++) {
        size_t k = llmc_tokenizer_decode(t, prev, ids[i], buf, sizeof buf);
        ck_assert(k < sizeof buf && strlen(buf) <= k);
        if (l + k + 1 > cap) {
            while (l + k + 1 > cap)
                cap *= 2;
            out = realloc(out, cap);
        }
        memcpy(out + l, buf, k);
        l += k;
        prev = ids[i];
    }
    out[l] = 0;
    *len = l;
    return out;
}

static const char *ids_str(const int32_t *ids, int32_t n, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = 0;
    for (int32_t i = 0; i < n && o + 16 < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%d", i ? "," : "", ids[i]);
    return buf;
}

static void check_ids(const int32_t *got, int32_t ng, const int32_t *want, int32_t nw,
                      const char *what)
{
    char a[2048], b[2048];
    ck_assert_msg(ng == nw && memcmp(got, want, (size_t)nw * sizeof *want) == 0,
                  "%s: got [%s], want [%s]", what, ids_str(got, ng, a, sizeof a),
                  ids_str(want, nw, b, sizeof b));
}

static void escape(const char *s, size_t len, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        o += (size_t)(c >= 0x20 && c < 0x7f && c != '\\'
                          ? snprintf(out + o, size - o, "%c", c)
                          : snprintf(out + o, size - o, "\\x%02x", c));
    }
    out[o] = 0;
}

typedef struct Rng {
    uint64_t s;
} Rng;

static uint32_t rng_u32(Rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)((r->s * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Random text: words, runs of spaces, punctuation, newlines, tabs, UTF-8 (2-4 bytes), random
 * printable ASCII, and random bytes (mostly invalid UTF-8). */
static size_t rand_text(Rng *r, char *out, size_t cap, const char *const *atoms, int n_atoms)
{
    size_t n = 0;
    int parts = 1 + (int)(rng_u32(r) % 14);
    for (int k = 0; k < parts; k++) {
        char tmp[64];
        size_t tl;
        uint32_t c = rng_u32(r) % 10;
        if (c < 6) {
            const char *a = atoms[rng_u32(r) % (uint32_t)n_atoms];
            tl = strlen(a);
            memcpy(tmp, a, tl);
        } else if (c < 8) {
            tmp[0] = (char)(0x20 + rng_u32(r) % 95);
            tl = 1;
        } else if (c < 9) {
            tmp[0] = (char)(0x80 + rng_u32(r) % 128);
            tl = 1;
        } else {
            tmp[0] = (char)(rng_u32(r) % 256);
            tl = 1;
        }
        if (n + tl < cap) {
            memcpy(out + n, tmp, tl);
            n += tl;
        }
    }
    return n;
}

static const char *const kAtoms[] = {
    "the", "The", " ", "  ", "   ", "    ", "kernel", "module", "Hello", "world", "a", "e", "is",
    "Once", "upon", "time", "there", "was", "little", "girl", ",", ".", "!", "?", "\n", "\n\n",
    "\t", " the", " a", "é", "ü", "naïve", "日本", "語", "😀", "🎉", "—", "'", "\"", "0", "42",
    "-", "_", "<", ">", "<0x41>", "<s>", "</s>", "<unk>", "x", "q", "z", "\r\n", "()", "{}",
};
#define N_ATOMS ((int)(sizeof kAtoms / sizeof kAtoms[0]))

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- llama2.c: reference transcription of run.c encode() ---- */

typedef struct L2Vocab {
    int n;
    char **s;
    int *len;
    float *score;
} L2Vocab;

/* The test's own reader of tokenizer.bin (trusts the file). */
static L2Vocab l2_read(const uint8_t *d, int n)
{
    L2Vocab v = {n, malloc((size_t)n * sizeof(char *)), malloc((size_t)n * sizeof(int)),
                 malloc((size_t)n * sizeof(float))};
    size_t pos = 4;
    for (int i = 0; i < n; i++) {
        memcpy(&v.score[i], d + pos, 4);
        memcpy(&v.len[i], d + pos + 4, 4);
        pos += 8;
        v.s[i] = malloc((size_t)v.len[i] + 1);
        memcpy(v.s[i], d + pos, (size_t)v.len[i]);
        v.s[i][v.len[i]] = 0;
        pos += (size_t)v.len[i];
    }
    return v;
}

static void l2_free(L2Vocab *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->s[i]);
    free(v->s);
    free(v->len);
    free(v->score);
}

/* Linear search, lowest id first (run.c's bsearch picks any of duplicates; tok512 has none). */
static int l2_lookup(const L2Vocab *v, const char *s, int len)
{
    for (int i = 0; i < v->n; i++)
        if (v->len[i] == len && memcmp(v->s[i], s, (size_t)len) == 0)
            return i;
    return -1;
}

static int ref_llama2c_encode(const L2Vocab *v, const char *text, size_t len, int bos, int *tokens)
{
    int n_tokens = 0;
    if (bos)
        tokens[n_tokens++] = 1;
    if (len > 0) {   /* add_dummy_prefix, only when text != "" */
        int dummy = l2_lookup(v, " ", 1);
        tokens[n_tokens++] = dummy >= 0 ? dummy : ' ' + 3;
    }
    char str_buffer[8];
    int str_len = 0;
    for (size_t c = 0; c < len; c++) {
        if ((text[c] & 0xC0) != 0x80)
            str_len = 0;
        str_buffer[str_len++] = text[c];
        if (c + 1 < len && (text[c + 1] & 0xC0) == 0x80 && str_len < 4)
            continue;
        int id = l2_lookup(v, str_buffer, str_len);
        if (id != -1) {
            tokens[n_tokens++] = id;
        } else {
            for (int i = 0; i < str_len; i++)
                tokens[n_tokens++] = (unsigned char)str_buffer[i] + 3;
        }
        str_len = 0;
    }
    /* Note: like run.c, BOS takes part in the pair search (vocab[1] + next is never a piece). */
    char *cat = malloc(256);
    for (;;) {
        float best_score = -1e10f;
        int best_id = -1, best_idx = -1;
        for (int i = 0; i < n_tokens - 1; i++) {
            int la = v->len[tokens[i]], lb = v->len[tokens[i + 1]];
            cat = realloc(cat, (size_t)(la + lb + 1));
            memcpy(cat, v->s[tokens[i]], (size_t)la);
            memcpy(cat + la, v->s[tokens[i + 1]], (size_t)lb);
            int id = l2_lookup(v, cat, la + lb);
            if (id != -1 && v->score[id] > best_score) {
                best_score = v->score[id];
                best_id = id;
                best_idx = i;
            }
        }
        if (best_idx == -1)
            break;
        tokens[best_idx] = best_id;
        for (int i = best_idx + 1; i < n_tokens - 1; i++)
            tokens[i] = tokens[i + 1];
        n_tokens--;
    }
    free(cat);
    return n_tokens;
}

/* ---- SentencePiece: a test-side model, protobuf writer and reader, and the reference ---- */

enum { T_NORMAL = 1, T_UNKNOWN = 2, T_CONTROL = 3, T_USER = 4, T_UNUSED = 5, T_BYTE = 6 };

typedef struct TPiece {
    uint8_t *s;
    size_t len;
    float score;
    int type;
} TPiece;

typedef struct TModel {
    TPiece *p;
    int n, cap;
    int model_type, byte_fallback, add_dummy_prefix, remove_extra_ws, escape_ws;
    int *merge, n_merge;    /* NORMAL, USER_DEFINED, UNUSED ids sorted by bytes */
    int *fixed, n_fixed;    /* UNKNOWN, CONTROL, BYTE ids sorted by bytes */
    int *user, n_user;      /* USER_DEFINED ids in id order (ref_ud_match's candidates) */
    int unk;
} TModel;

static void tm_add(TModel *m, const char *s, size_t len, float score, int type)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->p = realloc(m->p, (size_t)m->cap * sizeof *m->p);
    }
    uint8_t *c = malloc(len + 1);
    memcpy(c, s, len);
    c[len] = 0;
    m->p[m->n++] = (TPiece){c, len, score, type};
}

static void tm_free(TModel *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->p[i].s);
    free(m->p);
    free(m->merge);
    free(m->fixed);
    free(m->user);
}

static int tm_cmp_str(const TModel *m, int id, const uint8_t *s, size_t len)
{
    const TPiece *p = &m->p[id];
    size_t k = p->len < len ? p->len : len;
    int c = memcmp(p->s, s, k);
    return c ? c : (p->len < len ? -1 : p->len > len ? 1 : 0);
}

static int tm_find(const TModel *m, const int *ids, int n, const uint8_t *s, size_t len)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2, c = tm_cmp_str(m, ids[mid], s, len);
        if (c == 0)
            return ids[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void tm_index(TModel *m)
{
    free(m->merge);
    free(m->fixed);
    free(m->user);
    m->merge = malloc((size_t)m->n * sizeof(int));
    m->fixed = malloc((size_t)m->n * sizeof(int));
    m->user = malloc((size_t)(m->n ? m->n : 1) * sizeof(int));
    m->n_merge = m->n_fixed = m->n_user = 0;
    m->unk = -1;
    for (int i = 0; i < m->n; i++) {
        int t = m->p[i].type;
        if (t == T_NORMAL || t == T_USER || t == T_UNUSED)
            m->merge[m->n_merge++] = i;
        else
            m->fixed[m->n_fixed++] = i;
        if (t == T_USER)
            m->user[m->n_user++] = i;
        if (t == T_UNKNOWN)
            m->unk = i;
    }
    /* Sort by bytes (bottom-up merge sort) for tm_find's binary search. */
    for (int pass = 0; pass < 2; pass++) {
        int *a = pass ? m->fixed : m->merge, n = pass ? m->n_fixed : m->n_merge;
        int *tmp = malloc((size_t)(n ? n : 1) * sizeof(int));
        for (int w = 1; w < n; w *= 2) {
            for (int lo = 0; lo < n; lo += 2 * w) {
                int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
                int i = lo, j = mid, k = lo;
                while (i < mid && j < hi)
                    tmp[k++] = tm_cmp_str(m, a[i], m->p[a[j]].s, m->p[a[j]].len) <= 0 ? a[i++]
                                                                                  : a[j++];
                while (i < mid)
                    tmp[k++] = a[i++];
                while (j < hi)
                    tmp[k++] = a[j++];
            }
            memcpy(a, tmp, (size_t)n * sizeof(int));
        }
        free(tmp);
    }
}

typedef struct W {
    uint8_t *p;
    size_t n, cap;
} W;

static void w_raw(W *w, const void *s, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 64;
        w->p = realloc(w->p, w->cap);
    }
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

static void w_varint(W *w, uint64_t v)
{
    while (v >= 0x80) {
        uint8_t b = (uint8_t)(v | 0x80);
        w_raw(w, &b, 1);
        v >>= 7;
    }
    uint8_t b = (uint8_t)v;
    w_raw(w, &b, 1);
}

static void w_tag(W *w, int field, int wt) { w_varint(w, (uint64_t)field << 3 | (uint64_t)wt); }

static void w_len(W *w, int field, const void *s, size_t n)
{
    w_tag(w, field, 2);
    w_varint(w, n);
    w_raw(w, s, n);
}

static void w_int(W *w, int field, int64_t v)
{
    w_tag(w, field, 0);
    w_varint(w, (uint64_t)v);
}

static void w_float(W *w, int field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    w_tag(w, field, 5);
    w_raw(w, b, 4);
}

/* Unknown fields of every wire type, to be skipped by the reader. */
static void w_junk(W *w)
{
    w_int(w, 1000, 123456789);
    w_tag(w, 1001, 1);
    w_raw(w, "12345678", 8);
    w_len(w, 1002, "junk", 4);
    w_tag(w, 1003, 5);
    w_raw(w, "1234", 4);
    w_tag(w, 1004, 3);   /* a group holding a varint and a nested group */
    w_int(w, 1, 7);
    w_tag(w, 2, 3);
    w_tag(w, 2, 4);
    w_tag(w, 1004, 4);
}

static W tm_serialize(const TModel *m, int junk)
{
    W out = {0};
    for (int i = 0; i < m->n; i++) {
        W p = {0};
        w_len(&p, 1, m->p[i].s, m->p[i].len);
        w_float(&p, 2, m->p[i].score);
        if (m->p[i].type != T_NORMAL)
            w_int(&p, 3, m->p[i].type);
        if (junk)
            w_junk(&p);
        w_len(&out, 1, p.p, p.n);
        free(p.p);
    }
    W t = {0};
    w_int(&t, 3, m->model_type);
    w_int(&t, 4, m->n);
    if (junk)
        w_junk(&t);
    w_int(&t, 35, m->byte_fallback);
    w_len(&out, 2, t.p, t.n);
    W nz = {0};
    w_len(&nz, 1, "identity", 8);
    w_int(&nz, 3, m->add_dummy_prefix);
    w_int(&nz, 4, m->remove_extra_ws);
    w_int(&nz, 5, m->escape_ws);
    w_len(&out, 3, nz.p, nz.n);
    if (junk)
        w_junk(&out);
    free(t.p);
    free(nz.p);
    return out;
}

/* The test's own protobuf reader (trusts the file: well-formed, the fields it needs). */
static uint64_t r_varint(const uint8_t *d, size_t *pos)
{
    uint64_t v = 0;
    for (int s = 0;; s += 7) {
        uint8_t b = d[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return v;
    }
}

typedef void (*FieldFn)(void *ctx, int field, int wt, uint64_t v, const uint8_t *s, size_t len);

static void r_message(const uint8_t *d, size_t size, FieldFn fn, void *ctx)
{
    size_t pos = 0;
    while (pos < size) {
        uint64_t tag = r_varint(d, &pos), v = 0;
        int field = (int)(tag >> 3), wt = (int)(tag & 7);
        const uint8_t *s = NULL;
        size_t len = 0;
        if (wt == 0) {
            v = r_varint(d, &pos);
        } else if (wt == 2) {
            len = r_varint(d, &pos);
            s = d + pos;
            pos += len;
        } else if (wt == 5) {
            s = d + pos;
            len = 4;
            pos += 4;
        } else if (wt == 1) {
            pos += 8;
        } else {
            ck_abort_msg("test reader: wire type %d", wt);
        }
        fn(ctx, field, wt, v, s, len);
    }
}

typedef struct PieceCtx {
    const uint8_t *s;
    size_t len;
    float score;
    int type;
} PieceCtx;

static void on_piece_field(void *ctx, int field, int wt, uint64_t v, const uint8_t *s, size_t len)
{
    PieceCtx *p = ctx;
    (void)wt;
    if (field == 1) {
        p->s = s;
        p->len = len;
    } else if (field == 2) {
        uint32_t u = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                     (uint32_t)s[3] << 24;
        memcpy(&p->score, &u, 4);
    } else if (field == 3) {
        p->type = (int)v;
    }
}

static void on_trainer_field(void *ctx, int field, int wt, uint64_t v, const uint8_t *s, size_t len)
{
    TModel *m = ctx;
    (void)wt, (void)s, (void)len;
    if (field == 3)
        m->model_type = (int)v;
    else if (field == 35)
        m->byte_fallback = (int)v;
}

static void on_normalizer_field(void *ctx, int field, int wt, uint64_t v, const uint8_t *s,
                                size_t len)
{
    TModel *m = ctx;
    (void)wt, (void)s, (void)len;
    if (field == 3)
        m->add_dummy_prefix = (int)v;
    else if (field == 4)
        m->remove_extra_ws = (int)v;
    else if (field == 5)
        m->escape_ws = (int)v;
}

static void on_model_field(void *ctx, int field, int wt, uint64_t v, const uint8_t *s, size_t len)
{
    TModel *m = ctx;
    (void)wt, (void)v;
    if (field == 1) {
        PieceCtx p = {NULL, 0, 0.0f, T_NORMAL};
        r_message(s, len, on_piece_field, &p);
        tm_add(m, (const char *)p.s, p.len, p.score, p.type);
    } else if (field == 2) {
        r_message(s, len, on_trainer_field, m);
    } else if (field == 3) {
        r_message(s, len, on_normalizer_field, m);
    }
}

static TModel tm_parse(const uint8_t *d, size_t size)
{
    TModel m = {0};
    m.model_type = 1;
    m.add_dummy_prefix = m.remove_extra_ws = m.escape_ws = 1;
    r_message(d, size, on_model_field, &m);
    tm_index(&m);
    return m;
}

/* UTF-8: the code point's length when it is valid (no overlongs, surrogates, > U+10FFFF),
 * else 1 — written from the Unicode definition, independently of the library. */
static size_t ref_char_len(const uint8_t *s, size_t n)
{
    int need = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
             : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (need <= 1 || (size_t)need > n)
        return 1;
    uint32_t cp = s[0] & (0x7F >> need);
    for (int i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 1;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 1;
    return (size_t)need;
}

/* The longest USER_DEFINED piece s starts with (0: none), over the pieces tm_index listed (a
 * scan of every piece at every position was most of this test's time under ASan). */
static size_t ref_ud_match(const TModel *m, const uint8_t *s, size_t n)
{
    size_t best = 0;
    for (int k = 0; k < m->n_user; k++) {
        const TPiece *p = &m->p[m->user[k]];
        if (p->len <= n && p->len > best && memcmp(p->s, s, p->len) == 0)
            best = p->len;
    }
    return best;
}

static size_t ref_prefix(const TModel *m, const uint8_t *s, size_t n)
{
    size_t l = ref_ud_match(m, s, n);
    return l ? l : ref_char_len(s, n);
}

static void ref_put_ws(const TModel *m, uint8_t *out, size_t *o)
{
    if (m->escape_ws) {
        memcpy(out + *o, "\xe2\x96\x81", 3);
        *o += 3;
    } else {
        out[(*o)++] = ' ';
    }
}

/* normalizer.cc Normalize, identity rules (invalid bytes kept as they are). */
static size_t ref_normalize(const TModel *m, const uint8_t *in, size_t len, uint8_t *out)
{
    size_t pos = 0, o = 0;
    if (m->remove_extra_ws) {
        while (pos < len) {
            size_t l = ref_prefix(m, in + pos, len - pos);
            if (!(l == 1 && in[pos] == ' '))
                break;
            pos += l;
        }
    }
    if (pos == len)
        return 0;
    if (m->add_dummy_prefix)
        ref_put_ws(m, out, &o);
    int is_prev_space = m->remove_extra_ws;
    while (pos < len) {
        size_t l = ref_prefix(m, in + pos, len - pos);
        const uint8_t *sp = in + pos;
        size_t sl = l;
        while (is_prev_space && sl > 0 && sp[0] == ' ') {
            sp++;
            sl--;
        }
        if (sl > 0) {
            for (size_t k = 0; k < sl; k++) {
                if (sp[k] == ' ')
                    ref_put_ws(m, out, &o);
                else
                    out[o++] = sp[k];
            }
            is_prev_space = sp[sl - 1] == ' ';
        }
        pos += l;
        if (!m->remove_extra_ws)
            is_prev_space = 0;
    }
    if (m->remove_extra_ws) {
        const char *ws = m->escape_ws ? "\xe2\x96\x81" : " ";
        size_t wl = strlen(ws);
        while (o >= wl && memcmp(out + o - wl, ws, wl) == 0)
            o -= wl;
    }
    return o;
}

typedef struct RNode {
    size_t start, len;
    int left, right;   /* the two nodes merged into this one; -1 for initial symbols */
} RNode;

typedef struct RefOut {
    int32_t *ids;
    int n, prev_unk;
} RefOut;

static int ref_piece_to_id(const TModel *m, const uint8_t *s, size_t len)
{
    int id = tm_find(m, m->fixed, m->n_fixed, s, len);
    if (id < 0)
        id = tm_find(m, m->merge, m->n_merge, s, len);
    return id < 0 ? m->unk : id;
}

static void ref_emit(const TModel *m, const uint8_t *norm, const RNode *nodes, int node, RefOut *o)
{
    const RNode *nd = &nodes[node];
    int id = ref_piece_to_id(m, norm + nd->start, nd->len);
    if (m->p[id].type == T_UNUSED && nd->left >= 0) {   /* resegment */
        ref_emit(m, norm, nodes, nd->left, o);
        ref_emit(m, norm, nodes, nd->right, o);
        return;
    }
    int is_unk = id == m->unk;
    if (is_unk && m->byte_fallback) {
        for (size_t k = 0; k < nd->len; k++) {
            char bp[8];
            snprintf(bp, sizeof bp, "<0x%02X>", norm[nd->start + k]);
            int b = tm_find(m, m->fixed, m->n_fixed, (const uint8_t *)bp, 6);
            ck_assert(b >= 0);
            o->ids[o->n++] = b;
        }
    } else if (!(is_unk && o->prev_unk)) {
        o->ids[o->n++] = id;
    }
    o->prev_unk = is_unk;
}

/* SentencePiece BPE, quadratic: repeatedly merge the best (highest score, then leftmost)
 * adjacent pair of unfrozen symbols whose concatenation is a NORMAL/USER_DEFINED/UNUSED piece. */
static int ref_sp_encode(const TModel *m, const char *text, size_t len, int32_t *ids)
{
    uint8_t *norm = malloc(3 * len + 4);
    size_t nlen = ref_normalize(m, (const uint8_t *)text, len, norm);
    RNode *nodes = malloc((2 * nlen + 1) * sizeof *nodes);
    int *sym = malloc((nlen + 1) * sizeof(int));
    char *frozen = malloc(nlen + 1);
    int n_nodes = 0, n_sym = 0;
    for (size_t pos = 0; pos < nlen;) {
        size_t ul = ref_ud_match(m, norm + pos, nlen - pos);
        size_t l = ul ? ul : ref_char_len(norm + pos, nlen - pos);
        nodes[n_nodes] = (RNode){pos, l, -1, -1};
        frozen[n_sym] = ul > 0;
        sym[n_sym++] = n_nodes++;
        pos += l;
    }
    for (;;) {
        int best = -1, best_id = -1;
        float best_score = 0.0f;
        for (int i = 0; i + 1 < n_sym; i++) {
            if (frozen[i] || frozen[i + 1])
                continue;
            const RNode *a = &nodes[sym[i]], *b = &nodes[sym[i + 1]];
            int id = tm_find(m, m->merge, m->n_merge, norm + a->start, a->len + b->len);
            if (id >= 0 && (best < 0 || m->p[id].score > best_score)) {
                best = i;
                best_id = id;
                best_score = m->p[id].score;
            }
        }
        if (best < 0)
            break;
        (void)best_id;
        const RNode *a = &nodes[sym[best]], *b = &nodes[sym[best + 1]];
        nodes[n_nodes] = (RNode){a->start, a->len + b->len, sym[best], sym[best + 1]};
        sym[best] = n_nodes++;
        for (int i = best + 1; i + 1 < n_sym; i++) {
            sym[i] = sym[i + 1];
            frozen[i] = frozen[i + 1];
        }
        n_sym--;
    }
    RefOut o = {ids, 0, 0};
    for (int i = 0; i < n_sym; i++)
        ref_emit(m, norm, nodes, sym[i], &o);
    free(norm);
    free(nodes);
    free(sym);
    free(frozen);
    return o.n;
}

/* Compares the library with the reference on one string. */
static void sp_compare(const LlmcTokenizer *t, const TModel *m, const char *s, size_t len)
{
    int32_t n;
    int32_t *got = enc(t, s, len, 0, &n);
    int32_t *want = malloc((3 * len + 4) * sizeof *want);
    int32_t nw = ref_sp_encode(m, s, len, want);
    if (n != nw || memcmp(got, want, (size_t)n * sizeof *got) != 0) {
        char e[1024];
        escape(s, len, e, sizeof e);
        check_ids(got, n, want, nw, e);
    }
    free(got);
    free(want);
}

/* ======================= llama2.c tokenizer.bin ======================= */

START_TEST(test_llama2c_once_upon_a_time)
{
    if (tu_need_shared(TOK_BIN))
        return;
    size_t size;
    uint8_t *d = read_all(tu_shared(TOK_BIN), &size);
    LlmcTokenizer *t = load_mem(LLMC_TOK_LLAMA2C, d, size, 512);
    ck_assert_int_eq(llmc_tokenizer_vocab_size(t), 512);
    ck_assert_int_eq(llmc_tokenizer_bos(t), 1);
    ck_assert_int_eq(llmc_tokenizer_eos(t), 2);

    /* BOS, then " Once" (403), " upon" (407), " a" (261), " time" (378): the dummy prefix " "
     * merges into each word's first piece; the reference transcription below agrees. */
    const char *s = "Once upon a time";
    int32_t n;
    int32_t *ids = enc(t, s, strlen(s), 1, &n);
    const int32_t want[] = {1, 403, 407, 261, 378};
    check_ids(ids, n, want, 5, s);

    L2Vocab v = l2_read(d, 512);
    int ref[64];
    int nr = ref_llama2c_encode(&v, s, strlen(s), 1, ref);
    int32_t ref32[64];
    for (int i = 0; i < nr; i++)
        ref32[i] = ref[i];
    check_ids(ids, n, ref32, nr, "reference");
    ck_assert_int_eq(v.len[403], 5);
    ck_assert(memcmp(v.s[403], " Once", 5) == 0);

    /* Decoding after BOS drops the leading space, as run.c does; the golden output starts so. */
    size_t dl;
    char *text = dec(t, -1, ids, n, &dl);
    ck_assert_str_eq(text, s);
    size_t gs;
    uint8_t *golden = read_all(tu_shared("stories260K/golden_greedy_once_upon_a_time_n200.txt"),
                               &gs);
    ck_assert(gs > dl && memcmp(golden, text, dl) == 0);
    free(golden);
    free(text);

    /* Byte fallback: "\n" has no piece, so it is <0x0A> = 10 + 3; a piece "<0xXX>" decodes to
     * its byte. Empty text: no dummy prefix. */
    free(ids);
    ids = enc(t, "\n", 1, 0, &n);
    const int32_t want_nl[] = {410, 13};   /* " " (410), <0x0A> */
    check_ids(ids, n, want_nl, 2, "\\n");
    char buf[16];
    ck_assert_uint_eq(llmc_tokenizer_decode(t, 410, 13, buf, sizeof buf), 1);
    ck_assert_int_eq(buf[0], '\n');
    free(ids);
    ids = enc(t, "", 0, 1, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ids[0], 1);
    free(ids);
    ids = enc(t, "", 0, 0, &n);
    ck_assert_int_eq(n, 0);
    free(ids);
    /* Control ids give no text. */
    for (int id = 0; id < 3; id++)
        ck_assert_uint_eq(llmc_tokenizer_decode(t, -1, id, buf, sizeof buf), 0);

    l2_free(&v);
    llmc_tokenizer_free(t);
    free(d);
}
END_TEST

START_TEST(test_llama2c_random_vs_reference)
{
    if (tu_need_shared(TOK_BIN))
        return;
    size_t size;
    uint8_t *d = read_all(tu_shared(TOK_BIN), &size);
    LlmcTokenizer *t = load_mem(LLMC_TOK_LLAMA2C, d, size, 512);
    L2Vocab v = l2_read(d, 512);
    Rng r = {0x1234567887654321ull};
    int roundtrips = 0;
    for (int it = 0; it < 600; it++) {
        char s[256];
        size_t len = rand_text(&r, s, sizeof s, kAtoms, N_ATOMS);
        int bos = it & 1;
        int32_t n;
        int32_t *ids = enc(t, s, len, bos, &n);
        int ref[300];
        int nr = ref_llama2c_encode(&v, s, len, bos, ref);
        int32_t ref32[300];
        for (int i = 0; i < nr; i++)
            ref32[i] = ref[i];
        char e[1024];
        escape(s, len, e, sizeof e);
        check_ids(ids, n, ref32, nr, e);
        /* With BOS, decoding gives the text back (run.c's decode strips the dummy space). */
        if (bos) {
            size_t dl;
            char *back = dec(t, -1, ids, n, &dl);
            ck_assert_msg(dl == len && memcmp(back, s, len) == 0, "round trip of \"%s\"", e);
            free(back);
            roundtrips++;
        }
        free(ids);
    }
    ck_assert_int_eq(roundtrips, 300);
    l2_free(&v);
    llmc_tokenizer_free(t);
    free(d);
}
END_TEST

START_TEST(test_llama2c_malformed)
{
    if (tu_need_shared(TOK_BIN))
        return;
    size_t size;
    uint8_t *d = read_all(tu_shared(TOK_BIN), &size);
    char err[512];
    LlmcTokenizer *t = NULL;
    /* Every truncation is refused; inside the entries, the message names the entry. */
    for (size_t cut = 0; cut < size; cut++) {
        err[0] = 0;
        ck_assert_int_ne(llmc_tokenizer_load(&t, LLMC_TOK_LLAMA2C, d, cut, 512, err, sizeof err),
                         0);
        ck_assert(t == NULL);
        ck_assert_msg(cut < 4 ? strstr(err, "too short") != NULL : strstr(err, "entry ") != NULL,
                      "cut %zu: %s", cut, err);
    }
    /* Wrong vocab_size: too large runs off the end, too small leaves bytes over. */
    ck_assert_int_ne(llmc_tokenizer_load(&t, LLMC_TOK_LLAMA2C, d, size, 513, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "entry 512") != NULL, "%s", err);
    ck_assert_int_ne(llmc_tokenizer_load(&t, LLMC_TOK_LLAMA2C, d, size, 511, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "more than vocab_size") != NULL, "%s", err);
    ck_assert_int_ne(llmc_tokenizer_load(&t, LLMC_TOK_LLAMA2C, d, size, 0, err, sizeof err), 0);
    /* Bad lengths: entry 5's length field made negative, then huge. */
    size_t pos = 4;
    for (int i = 0; i < 5; i++) {
        int32_t len;
        memcpy(&len, d + pos + 4, 4);
        pos += 8 + (size_t)len;
    }
    uint8_t *bad = malloc(size);
    memcpy(bad, d, size);
    int32_t neg = -1, huge = 1 << 30;
    memcpy(bad + pos + 4, &neg, 4);
    ck_assert_int_ne(llmc_tokenizer_load(&t, LLMC_TOK_LLAMA2C, bad, size, 512, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "entry 5") && strstr(err, "negative"), "%s", err);
    memcpy(bad + pos + 4, &huge, 4);
    ck_assert_int_ne(llmc_tokenizer_load(&t, LLMC_TOK_LLAMA2C, bad, size, 512, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "entry 5") && strstr(err, "past the end"), "%s", err);
    /* Garbage: random bytes of random sizes never crash; they load only when the lengths happen
     * to fit exactly, which random data essentially never does. */
    Rng r = {42};
    for (int it = 0; it < 300; it++) {
        size_t n = rng_u32(&r) % 4096;
        for (size_t i = 0; i < n; i++)
            bad[i % size] = (uint8_t)rng_u32(&r);
        if (llmc_tokenizer_load(&t, LLMC_TOK_LLAMA2C, bad, n < size ? n : size, 8, err,
                                sizeof err) == 0)
            llmc_tokenizer_free(t);
    }
    free(bad);
    free(d);
}
END_TEST

/* ======================= SentencePiece: the Llama 2 vocabulary ======================= */

START_TEST(test_sp_reference_json)
{
    if (tu_need_shared(TOK_MODEL) || tu_need_shared("debdocs-32M/reference.json"))
        return;
    LlmcTokenizer *t = load_shared(LLMC_TOK_SENTENCEPIECE, TOK_MODEL, 32000);
    ck_assert_int_eq(llmc_tokenizer_bos(t), 1);
    ck_assert_int_eq(llmc_tokenizer_eos(t), 2);
    size_t js;
    char *json = (char *)read_all(tu_shared("debdocs-32M/reference.json"), &js);
    json = realloc(json, js + 1);
    json[js] = 0;
    cJSON *root = cJSON_Parse(json);
    ck_assert(root != NULL);
    const char *prompt = cJSON_GetObjectItem(root, "prompt")->valuestring;
    const cJSON *pids = cJSON_GetObjectItem(root, "prompt_ids");
    const cJSON *gids = cJSON_GetObjectItem(root, "greedy_ids");
    const char *gtext = cJSON_GetObjectItem(root, "greedy_text")->valuestring;
    ck_assert_str_eq(prompt, "The Linux kernel is");

    int32_t want[64], nw = 0;
    for (const cJSON *e = pids->child; e; e = e->next)
        want[nw++] = (int32_t)e->valueint;
    const int32_t pinned[] = {1, 450, 8074, 8466, 338};
    check_ids(want, nw, pinned, 5, "reference.json prompt_ids");
    int32_t n;
    int32_t *ids = enc(t, prompt, strlen(prompt), 1, &n);
    check_ids(ids, n, want, nw, prompt);

    /* The prompt decodes back (BOS gives nothing, the dummy space after it is dropped). */
    size_t dl;
    char *text = dec(t, -1, ids, n, &dl);
    ck_assert_str_eq(text, prompt);
    free(text);

    /* Streaming the greedy continuation after the prompt: " " + greedy_text. */
    int32_t g[256], ng = 0;
    for (const cJSON *e = gids->child; e; e = e->next)
        g[ng++] = (int32_t)e->valueint;
    ck_assert_int_eq(ng, 40);
    text = dec(t, ids[n - 1], g, ng, &dl);
    ck_assert_uint_eq(dl, strlen(gtext) + 1);
    ck_assert_int_eq(text[0], ' ');
    ck_assert_str_eq(text + 1, gtext);
    free(text);

    free(ids);
    cJSON_Delete(root);
    free(json);
    llmc_tokenizer_free(t);
}
END_TEST

/* Exact ids worked out by hand from the vocabulary (normalized text first, then the merges; the
 * scores named are the pieces' scores in tokenizer.model). The model has add_dummy_prefix=true,
 * remove_extra_whitespaces=false, byte_fallback=true, so spaces are kept and "▁" is U+2581. */
START_TEST(test_sp_known_ids)
{
    if (tu_need_shared(TOK_MODEL))
        return;
    LlmcTokenizer *t = load_shared(LLMC_TOK_SENTENCEPIECE, TOK_MODEL, 32000);
    static const struct {
        const char *text;
        int32_t ids[8];
        int n;
    } cases[] = {
        /* "▁Hello▁world": both words merge up to whole-word pieces ▁Hello (15043) and ▁world
         * (3186); "▁Hello▁world" is no piece. */
        {"Hello world", {15043, 3186}, 2},
        /* "▁▁hi": ▁h (-39) is the best pair, then ▁hi (7251, -6992) beats ▁▁ (-1e9);
         * the first ▁ stays alone as ▁ (29871). */
        {" hi", {29871, 7251}, 2},
        {"hi", {7251}, 1},
        /* "▁\n": "\n" is no piece, so byte fallback <0x0A> = 13; "▁" alone is 29871. */
        {"\n", {29871, 13}, 2},
        /* "▁▁▁▁": all pairs are ▁▁ at -1e9, the leftmost wins, then ▁▁▁ (-1e9) beats ▁▁ (-1e9)
         * by position, then ▁▁▁▁ (268). */
        {"   ", {268}, 1},
        /* "▁a▁▁b": ▁a (263, -4), then ▁b (289, -30) beats ▁▁ (-1e9); "▁a▁" is no piece. */
        {"a  b", {263, 29871, 289}, 3},
        /* "▁é" is a piece (904). */
        {"é", {904}, 1},
        /* "▁日本語": no merges with ▁; each character is a piece. */
        {"日本語", {29871, 30325, 30346, 30968}, 4},
        /* "😀" (F0 9F 98 80) is no piece: four byte-fallback tokens <0xF0>.. = byte + 3. */
        {"😀", {29871, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3}, 5},
        /* The dummy ▁ of an empty text is not added. */
        {"", {0}, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int32_t n;
        int32_t *ids = enc(t, cases[c].text, strlen(cases[c].text), 0, &n);
        check_ids(ids, n, cases[c].ids, cases[c].n, cases[c].text);
        free(ids);
    }
    /* A literal U+2581 in the text is the escaped space: it decodes as " " (as SentencePiece's). */
    int32_t n;
    int32_t *ids = enc(t, "a\xe2\x96\x81" "b", 5, 0, &n);
    size_t dl;
    char *text = dec(t, -1, ids, n, &dl);
    ck_assert_str_eq(text, "a b");
    free(text);
    free(ids);
    llmc_tokenizer_free(t);
}
END_TEST

static void sp_roundtrip(const LlmcTokenizer *t, const char *s, size_t len)
{
    int32_t n;
    int32_t *ids = enc(t, s, len, 0, &n);
    size_t dl;
    char *back = dec(t, -1, ids, n, &dl);
    char e[1024];
    escape(s, len, e, sizeof e);
    ck_assert_msg(dl == len && memcmp(back, s, len) == 0, "round trip of \"%s\"", e);
    free(back);
    /* With BOS too: same text. */
    free(ids);
    ids = enc(t, s, len, 1, &n);
    ck_assert_int_eq(ids[0], 1);
    back = dec(t, -1, ids, n, &dl);
    ck_assert_msg(dl == len && memcmp(back, s, len) == 0, "round trip with BOS of \"%s\"", e);
    free(back);
    free(ids);
}

START_TEST(test_sp_roundtrip)
{
    if (tu_need_shared(TOK_MODEL))
        return;
    LlmcTokenizer *t = load_shared(LLMC_TOK_SENTENCEPIECE, TOK_MODEL, 32000);
    static const char *const strs[] = {
        "Hello world", "The quick brown fox jumps over the lazy dog.", "a", " ", "  ", "     ",
        "multiple   spaces   inside", "  leading", "trailing  ", "  both  ", "line1\nline2\n\n",
        "\n", "\n\n\n", "\ttab\tseparated\t", "\r\n", "é", "naïve café", "日本語のテキスト",
        "😀 emoji 🎉 and 👩‍👩‍👧", "Ünïcödé ñ ß ø", "\xff", "\xff\xfe invalid", "\xc3",
        "trunc \xe6\x97", "a\200b", "\xed\xa0\x80 surrogate", "\xc0\xaf overlong",
        "\xf4\x90\x80\x80 too big", "<s> </s> <unk> <0x41>", "x<0x0A>y", "int main() { return 0; }",
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        sp_roundtrip(t, strs[i], strlen(strs[i]));
    sp_roundtrip(t, "nul\0inside", 10);
    Rng r = {0x9e3779b97f4a7c15ull};
    for (int it = 0; it < 2000; it++) {
        char s[256];
        size_t len = rand_text(&r, s, sizeof s, kAtoms, N_ATOMS);
        if (memmem(s, len, "\xe2\x96\x81", 3))
            continue;   /* a literal U+2581 decodes as a space */
        sp_roundtrip(t, s, len);
    }
    llmc_tokenizer_free(t);
}
END_TEST

START_TEST(test_sp_random_vs_reference)
{
    if (tu_need_shared(TOK_MODEL))
        return;
    size_t size;
    uint8_t *d = read_all(tu_shared(TOK_MODEL), &size);
    LlmcTokenizer *t = load_mem(LLMC_TOK_SENTENCEPIECE, d, size, 32000);
    TModel m = tm_parse(d, size);
    ck_assert_int_eq(m.n, 32000);
    ck_assert_int_eq(m.model_type, 2);
    ck_assert_int_eq(m.byte_fallback, 1);
    ck_assert_int_eq(m.add_dummy_prefix, 1);
    ck_assert_int_eq(m.remove_extra_ws, 0);   /* Llama 2 keeps whitespace */
    ck_assert_int_eq(m.escape_ws, 1);
    Rng r = {0xdeadbeefcafef00dull};
    for (int it = 0; it < 3000; it++) {
        char s[256];
        size_t len = rand_text(&r, s, sizeof s, kAtoms, N_ATOMS);
        sp_compare(t, &m, s, len);
    }
    /* Real text: the lines of eval.txt (up to 400 bytes each), one by one. */
    if (!tu_need_shared("debdocs-32M/eval.txt")) {
        size_t es;
        char *ev = (char *)read_all(tu_shared("debdocs-32M/eval.txt"), &es);
        int lines = 0;
        for (size_t a = 0; a < es && lines < 400;) {
            char *nl = memchr(ev + a, '\n', es - a);
            size_t b = nl ? (size_t)(nl - ev) : es;
            if (b > a && b - a <= 400) {
                sp_compare(t, &m, ev + a, b - a);
                lines++;
            }
            a = b + 1;
        }
        ck_assert_int_eq(lines, 400);
        free(ev);
    }
    tm_free(&m);
    llmc_tokenizer_free(t);
    free(d);
}
END_TEST

/* eval.txt whole: the README's perplexity protocol gives 102 chunks of 512 tokens out of
 * [BOS] + encode(eval.txt), so that sequence has 52224..52735 tokens. Also timed. */
START_TEST(test_sp_eval_txt)
{
    if (tu_need_shared(TOK_MODEL) || tu_need_shared("debdocs-32M/eval.txt"))
        return;
    LlmcTokenizer *t = load_shared(LLMC_TOK_SENTENCEPIECE, TOK_MODEL, 32000);
    size_t es;
    char *ev = (char *)read_all(tu_shared("debdocs-32M/eval.txt"), &es);
    int32_t n = 0, *ids = NULL;
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        free(ids);
        double t0 = now_ms();
        ids = enc(t, ev, es, 1, &n);
        double ms = now_ms() - t0;
        best = ms < best ? ms : best;
    }
    fprintf(stderr, "encode eval.txt: %zu bytes -> %d tokens (with BOS) in %.1f ms (best of 5)\n",
            es, n, best);
    ck_assert_msg(n >= 52224 && n < 52736, "eval.txt gives %d tokens with BOS", n);
    ck_assert_msg(best < 2000.0, "encoding 200 KB took %.1f ms", best);
    size_t dl;
    char *back = dec(t, -1, ids, n, &dl);
    ck_assert(dl == es && memcmp(back, ev, es) == 0);
    free(back);
    free(ids);
    free(ev);
    llmc_tokenizer_free(t);
}
END_TEST

/* ======================= SentencePiece: synthetic models ======================= */

/* A small vocabulary exercising what the Llama one does not: UNUSED pieces (merged, then split
 * back), USER_DEFINED pieces (matched whole, never merged), no byte fallback (unknown runs
 * collapse into one <unk>), remove_extra_whitespaces. */
static TModel synth_model(int add_dummy, int remove_extra, int escape)
{
    TModel m = {0};
    m.model_type = 2;
    m.add_dummy_prefix = add_dummy;
    m.remove_extra_ws = remove_extra;
    m.escape_ws = escape;
    tm_add(&m, "<unk>", 5, 0, T_UNKNOWN);          /* 0 */
    tm_add(&m, "<s>", 3, 0, T_CONTROL);            /* 1 */
    tm_add(&m, "</s>", 4, 0, T_CONTROL);           /* 2 */
    tm_add(&m, "\xe2\x96\x81", 3, -10, T_NORMAL);  /* 3 ▁ */
    tm_add(&m, "a", 1, -11, T_NORMAL);             /* 4 */
    tm_add(&m, "b", 1, -12, T_NORMAL);             /* 5 */
    tm_add(&m, "c", 1, -13, T_NORMAL);             /* 6 */
    tm_add(&m, "x", 1, -14, T_NORMAL);             /* 7 */
    tm_add(&m, "y", 1, -15, T_NORMAL);             /* 8 */
    tm_add(&m, "z", 1, -16, T_NORMAL);             /* 9 */
    tm_add(&m, "ab", 2, -1, T_NORMAL);             /* 10 */
    tm_add(&m, "\xe2\x96\x81" "a", 4, -2, T_NORMAL);    /* 11 ▁a */
    tm_add(&m, "\xe2\x96\x81" "ab", 5, -3, T_NORMAL);   /* 12 ▁ab */
    tm_add(&m, "xy", 2, -0.5f, T_UNUSED);          /* 13 */
    tm_add(&m, "xyz", 3, -4, T_NORMAL);            /* 14 */
    tm_add(&m, "<sep>", 5, 0, T_USER);             /* 15 */
    tm_add(&m, "bc", 2, -5, T_NORMAL);             /* 16 */
    tm_add(&m, "\xe2\x96\x81\xe2\x96\x81", 6, -6, T_NORMAL);   /* 17 ▁▁ */
    tm_add(&m, " a", 2, -7, T_NORMAL);             /* 18: only reachable with escape off */
    tm_add(&m, "é", 2, -8, T_NORMAL);              /* 19 */
    tm_add(&m, "<sep>x", 6, 1, T_NORMAL);          /* 20: never formed, <sep> is frozen */
    tm_index(&m);
    return m;
}

static LlmcTokenizer *load_tm(const TModel *m, int junk)
{
    W w = tm_serialize(m, junk);
    LlmcTokenizer *t = load_mem(LLMC_TOK_SENTENCEPIECE, w.p, w.n, m->n);
    free(w.p);
    return t;
}

static const char *const kSynthAtoms[] = {
    "a", "b", "c", "x", "y", "z", "q", " ", "  ", "<sep>", "<sep", "é", "ab", "xy", "xyz",
    "\xe2\x96\x81",
};

START_TEST(test_sp_synthetic)
{
    TModel m = synth_model(1, 1, 1);
    LlmcTokenizer *t = load_tm(&m, 1);   /* with unknown fields of every wire type to skip */
    static const struct {
        const char *text;
        int32_t ids[8];
        int n;
    } cases[] = {
        /* "▁ab▁c": ab (-1) first, then ▁ab (-3); "▁c" is no piece. */
        {"ab c", {12, 3, 6}, 3},
        /* remove_extra_whitespaces: the same normalized text. */
        {"  ab   c  ", {12, 3, 6}, 3},
        /* "▁xyz": xy (UNUSED, -0.5) merges first, then xyz (-4) is formed from it. */
        {"xyz", {3, 14}, 2},
        /* "▁xy": xy merges but is UNUSED, so it is split back into x, y. */
        {"xy", {3, 7, 8}, 3},
        /* Unknown characters: one <unk> per run (no byte fallback). */
        {"q", {3, 0}, 2},
        {"qqq", {3, 0}, 2},
        {"q q", {3, 0, 3, 0}, 4},
        /* <sep> is USER_DEFINED: one frozen symbol, so "<sep>x" (score 1) is never formed. */
        {"a<sep>x", {11, 15, 7}, 3},
        {"   ", {0}, 0},
        {"", {0}, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int32_t n;
        int32_t *ids = enc(t, cases[c].text, strlen(cases[c].text), 0, &n);
        check_ids(ids, n, cases[c].ids, cases[c].n, cases[c].text);
        free(ids);
        sp_compare(t, &m, cases[c].text, strlen(cases[c].text));
    }
    const int32_t seq[] = {11, 15, 5};
    size_t dl;
    char *text = dec(t, -1, seq, 3, &dl);
    ck_assert_str_eq(text, "a<sep>b");
    free(text);
    /* <unk> and control pieces decode to nothing. */
    char buf[16];
    ck_assert_uint_eq(llmc_tokenizer_decode(t, 5, 0, buf, sizeof buf), 0);
    ck_assert_uint_eq(llmc_tokenizer_decode(t, 5, 1, buf, sizeof buf), 0);
    llmc_tokenizer_free(t);
    tm_free(&m);

    /* Every combination of the normalizer flags against the reference on random strings, with
     * and without the UNUSED piece (without one, the library merges stretches of text that no
     * merge can cross separately, see bpe_run). */
    Rng r = {7};
    for (int flags = 0; flags < 16; flags++) {
        m = synth_model(flags & 1, (flags >> 1) & 1, (flags >> 2) & 1);
        if (flags & 8) {
            m.p[13].type = T_NORMAL;
            tm_index(&m);
        }
        t = load_tm(&m, 0);
        for (int it = 0; it < 400; it++) {
            char s[128];
            size_t len = rand_text(&r, s, sizeof s, kSynthAtoms,
                                   (int)(sizeof kSynthAtoms / sizeof kSynthAtoms[0]));
            sp_compare(t, &m, s, len);
        }
        llmc_tokenizer_free(t);
        tm_free(&m);
    }
}
END_TEST

/* ======================= SentencePiece: malformed models ======================= */

static int try_load(const uint8_t *d, size_t size, int32_t vocab, char *err, size_t errlen)
{
    LlmcTokenizer *t = NULL;
    err[0] = 0;
    int rc = llmc_tokenizer_load(&t, LLMC_TOK_SENTENCEPIECE, d, size, vocab, err, errlen);
    if (rc == 0) {
        /* It loaded: it must also work. */
        int32_t *ids, n;
        char e2[256];
        ck_assert_int_eq(llmc_tokenizer_encode(t, "Hello, world \xff", 14, 1, &ids, &n, e2,
                                               sizeof e2), 0);
        for (int32_t i = 0; i < n; i++) {
            char buf[64];
            llmc_tokenizer_decode(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf);
        }
        free(ids);
        llmc_tokenizer_free(t);
    } else {
        ck_assert(t == NULL);
        ck_assert_msg(err[0] != 0, "an error without a message");
    }
    return rc;
}

START_TEST(test_sp_truncated_and_garbage)
{
    if (tu_need_shared(TOK_MODEL))
        return;
    size_t size;
    uint8_t *d = read_all(tu_shared(TOK_MODEL), &size);
    char err[512];
    /* The file is 32000 pieces, trainer_spec, then normalizer_spec (the last 20 bytes, tag 0x1A).
     * A cut exactly before normalizer_spec is a well-formed ModelProto (defaults for the
     * normalizer) and loads; every other cut is refused. */
    size_t norm_at = size - 20;
    ck_assert_int_eq(d[norm_at], 0x1A);
    int cuts = 0, loaded = 0;
    for (size_t cut = 0; cut < size; cut = cut < 300 ? cut + 1 : cut + 1999) {
        ck_assert_int_ne(try_load(d, cut, 32000, err, sizeof err), 0);
        cuts++;
    }
    for (size_t cut = size - 600; cut < size; cut++) {
        if (try_load(d, cut, 32000, err, sizeof err) == 0) {
            ck_assert_uint_eq(cut, norm_at);
            loaded++;
        }
        cuts++;
    }
    ck_assert_int_eq(loaded, 1);
    ck_assert_int_gt(cuts, 800);
    ck_assert_int_ne(try_load(d, 1000, 32000, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "protobuf") || strstr(err, "pieces"), "%s", err);
    ck_assert_int_ne(try_load(d, size, 32001, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "32000 pieces") && strstr(err, "32001"), "%s", err);
    ck_assert_int_ne(try_load(d, size, 31999, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "more pieces"), "%s", err);

    /* Random garbage, seeded: refused. */
    Rng r = {0x5eed};
    uint8_t *g = malloc(size);
    for (int it = 0; it < 2000; it++) {
        size_t n = rng_u32(&r) % 3000;
        for (size_t i = 0; i < n; i++)
            g[i] = (uint8_t)rng_u32(&r);
        ck_assert_int_ne(try_load(g, n, 1 + (int32_t)(rng_u32(&r) % 32000), err, sizeof err), 0);
    }
    /* A valid start then garbage: refused. */
    for (int it = 0; it < 200; it++) {
        size_t keep = rng_u32(&r) % (size / 2), n = keep + rng_u32(&r) % 5000;
        memcpy(g, d, keep);
        for (size_t i = keep; i < n; i++)
            g[i] = (uint8_t)rng_u32(&r);
        ck_assert_int_ne(try_load(g, n, 32000, err, sizeof err), 0);
    }
    /* A few bytes of the real file flipped: may load (a changed piece is still a piece) or not,
     * never crashes; what loads encodes and decodes. */
    int ok = 0;
    for (int it = 0; it < 150; it++) {
        memcpy(g, d, size);
        int flips = 1 + (int)(rng_u32(&r) % 8);
        for (int k = 0; k < flips; k++)
            g[rng_u32(&r) % size] ^= (uint8_t)(1 + rng_u32(&r) % 255);
        ok += try_load(g, size, 32000, err, sizeof err) == 0;
    }
    fprintf(stderr, "sentencepiece: %d truncations refused but one, %d of 150 mutated files "
            "loaded\n", cuts, ok);
    free(g);
    free(d);
}
END_TEST

static int load_w(W *w, int32_t vocab, char *err, size_t errlen)
{
    int rc = try_load(w->p, w->n, vocab, err, errlen);
    free(w->p);
    *w = (W){0};
    return rc;
}

START_TEST(test_sp_bad_models)
{
    char err[512];
    TModel m = synth_model(1, 1, 1);
    W w = tm_serialize(&m, 1);
    ck_assert_int_eq(load_w(&w, m.n, err, sizeof err), 0);

    /* vocab_size disagrees with the piece count. */
    w = tm_serialize(&m, 0);
    ck_assert_int_ne(load_w(&w, m.n + 1, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "21 pieces") && strstr(err, "vocab_size is 22"), "%s", err);

    /* Not BPE. */
    m.model_type = 1;
    w = tm_serialize(&m, 0);
    ck_assert_int_ne(load_w(&w, m.n, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "UNIGRAM") && strstr(err, "only BPE"), "%s", err);
    m.model_type = 2;

    /* Duplicate piece, no UNKNOWN piece, a byte piece without byte_fallback, byte_fallback
     * without its 256 pieces, an empty piece, an unknown type. */
    tm_add(&m, "ab", 2, -9, T_NORMAL);
    w = tm_serialize(&m, 0);
    ck_assert_int_ne(load_w(&w, m.n, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "already defined"), "%s", err);
    m.p[m.n - 1].type = T_BYTE;
    free(m.p[m.n - 1].s);
    m.p[m.n - 1].s = (uint8_t *)strdup("<0x41>");
    m.p[m.n - 1].len = 6;
    w = tm_serialize(&m, 0);
    ck_assert_int_ne(load_w(&w, m.n, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "byte_fallback is false"), "%s", err);
    m.byte_fallback = 1;
    w = tm_serialize(&m, 0);
    ck_assert_int_ne(load_w(&w, m.n, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "no <0x00> piece"), "%s", err);
    m.byte_fallback = 0;
    m.p[m.n - 1].len = 0;
    w = tm_serialize(&m, 0);
    ck_assert_int_ne(load_w(&w, m.n, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "empty"), "%s", err);
    m.p[m.n - 1].len = 6;
    m.p[m.n - 1].type = 9;
    w = tm_serialize(&m, 0);
    ck_assert_int_ne(load_w(&w, m.n, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "unknown type 9"), "%s", err);
    m.n--;
    free(m.p[m.n].s);
    m.p[0].type = T_CONTROL;
    w = tm_serialize(&m, 0);
    ck_assert_int_ne(load_w(&w, m.n, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "no UNKNOWN piece"), "%s", err);
    m.p[0].type = T_UNKNOWN;

    /* Wire-level damage after a valid model. */
    static const uint8_t tails[][12] = {
        {0x07},                                                 /* field 0 */
        {0x4f},                                                 /* field 9, wire type 7 */
        {0x4c},                                                 /* end group without a start */
        {0x4b, 0x08, 0x01},                                     /* unterminated group */
        {0x4b, 0x14},                                           /* group 9 ended as field 2 */
        {0x0a, 0x05, 0x01},                                     /* length past the end */
        {0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, /* 11 bytes */
        {0x0d, 0x00, 0x00},                                     /* pieces as fixed32 */
        {0x10, 0x01},                                           /* trainer_spec as a varint */
    };
    static const size_t tail_len[] = {1, 1, 1, 3, 2, 3, 12, 3, 2};
    for (size_t k = 0; k < sizeof tail_len / sizeof tail_len[0]; k++) {
        w = tm_serialize(&m, 0);
        w_raw(&w, tails[k], tail_len[k]);
        ck_assert_msg(load_w(&w, m.n, err, sizeof err) != 0, "tail %zu loaded", k);
        ck_assert_msg(strstr(err, "protobuf"), "tail %zu: %s", k, err);
    }
    /* Deeply nested groups are refused, not recursed into without end. */
    w = tm_serialize(&m, 0);
    for (int k = 0; k < 200; k++)
        w_tag(&w, 9, 3);
    ck_assert_int_ne(load_w(&w, m.n, err, sizeof err), 0);
    tm_free(&m);

    /* Other API misuse. */
    LlmcTokenizer *t = NULL;
    ck_assert_int_ne(llmc_tokenizer_load(&t, LLMC_TOK_NONE, (const uint8_t *)"", 0, 1, err,
                                         sizeof err), 0);
    ck_assert_int_ne(llmc_tokenizer_load(&t, LLMC_TOK_SENTENCEPIECE, NULL, 0, 10, err,
                                         sizeof err), 0);
    ck_assert_msg(strstr(err, "0 pieces"), "an empty file is a ModelProto without pieces: %s",
                  err);
}
END_TEST

START_TEST(test_decode_buffer)
{
    TModel m = synth_model(1, 1, 1);
    LlmcTokenizer *t = load_tm(&m, 0);
    char buf[4] = {'#', '#', '#', '#'};
    /* "▁ab" after a normal token: " ab" (3 bytes) fits in 4 with the NUL. */
    ck_assert_uint_eq(llmc_tokenizer_decode(t, 5, 12, buf, sizeof buf), 3);
    ck_assert_str_eq(buf, " ab");
    /* At the start: the dummy space is dropped. */
    ck_assert_uint_eq(llmc_tokenizer_decode(t, -1, 12, buf, sizeof buf), 2);
    ck_assert_str_eq(buf, "ab");
    ck_assert_uint_eq(llmc_tokenizer_decode(t, 1, 12, buf, sizeof buf), 2);
    /* Too small: truncated, NUL-terminated, the full length returned. */
    ck_assert_uint_eq(llmc_tokenizer_decode(t, 5, 12, buf, 2), 3);
    ck_assert_str_eq(buf, " ");
    ck_assert_uint_eq(llmc_tokenizer_decode(t, 5, 12, buf, 0), 3);
    /* Out of range ids give nothing. */
    ck_assert_uint_eq(llmc_tokenizer_decode(t, 5, -1, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(llmc_tokenizer_decode(t, 5, m.n, buf, sizeof buf), 0);
    llmc_tokenizer_free(t);
    tm_free(&m);
}
END_TEST

static Suite *tokenizer_suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("llama2c");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_llama2c_once_upon_a_time);
    tcase_add_test(tc, test_llama2c_random_vs_reference);
    tcase_add_test(tc, test_llama2c_malformed);
    suite_add_tcase(s, tc);
    tc = tcase_create("sentencepiece");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_sp_reference_json);
    tcase_add_test(tc, test_sp_known_ids);
    tcase_add_test(tc, test_sp_roundtrip);
    tcase_add_test(tc, test_sp_random_vs_reference);
    tcase_add_test(tc, test_sp_eval_txt);
    tcase_add_test(tc, test_sp_synthetic);
    tcase_add_test(tc, test_sp_truncated_and_garbage);
    tcase_add_test(tc, test_sp_bad_models);
    tcase_add_test(tc, test_decode_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_main(tokenizer_suite()); }
