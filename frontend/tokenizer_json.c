/* tokenizer_json.c — Hugging Face tokenizer.json (+ tokenizer_config.json) to the compact form the
 * executable carries (abi/hftok.h).
 *
 * What is understood, by JSON path (anything else is refused, naming the file and the path):
 *   model             type "BPE": vocab, merges ("a b" strings or [a, b] pairs), unk_token,
 *                     byte_fallback, fuse_unk, ignore_merges; dropout null, no subword prefix or
 *                     word suffix
 *   added_tokens      id, content, special, lstrip, rstrip, single_word, normalized
 *   normalizer        null, NFC, NFD, NFKC, NFKD, Prepend, Replace (a String pattern), Sequence
 *   pre_tokenizer     null, Split (Regex or String pattern, every behavior, invert), ByteLevel
 *                     (add_prefix_space, use_regex: the GPT-2 pattern), Metaspace, Digits, Sequence
 *   post_processor    null, ByteLevel, TemplateProcessing (its leading special token is the BOS),
 *                     Sequence of those
 *   decoder           ByteLevel (byte-level files); Metaspace, or a Sequence of Replace,
 *                     ByteFallback, Fuse and Strip (one leading space), for SentencePiece-style ones
 * tokenizer_config.json beside it (optional): chat_template (a string, or a list of named
 * templates: "default" is taken, the others kept by name), bos_token, eos_token, pad_token,
 * unk_token (strings or {"content": ...}), add_bos_token.
 *
 * Byte-level files spell their vocabulary in GPT-2's printable alphabet for bytes; pieces are
 * stored as the raw bytes they stand for (the alphabet is a bijection, so merging raw bytes is
 * merging those strings), and every token's decoded bytes are worked out here from the decoder.
 * Patterns are compiled with PCRE2 here as the runtime will, so a pattern PCRE2 cannot take is a
 * compile-time error. The conversion is deterministic: same files, same bytes.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../abi/grow.h"
#include "../abi/hftok.h"
#include "fe_internal.h"

/* ---- growing output buffer ---- */

typedef struct Buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} Buf;

static void buf_put(Buf *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        uint8_t *p = llmc_grow(b->p, &b->cap, b->n + n, 4096);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void buf_u32(Buf *b, uint32_t v)
{
    uint8_t q[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_put(b, q, 4);
}

static void buf_str(Buf *b, const void *s, size_t n)
{
    buf_u32(b, (uint32_t)n);
    buf_put(b, s, n);
}

static void buf_cstr(Buf *b, const char *s) { buf_str(b, s, strlen(s)); }

/* ---- GPT-2's bytes-to-unicode alphabet ---- */

/* Code point standing for byte b: printable Latin-1 bytes stand for themselves, the other 68 for
 * U+0100.. in byte order. */
static uint32_t byte_to_cp(int b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
        return (uint32_t)b;
    int n = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255)))
            n++;
    return 256u + (uint32_t)n;
}

/* Decodes one UTF-8 character of s[0..n); returns its length, 0 when invalid. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    uint32_t v = k == 1 ? c : c & (0x7fu >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3fu);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[k] || v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
        return 0;
    *cp = v;
    return k;
}

/* ---- string -> id hash (the vocabulary's keys) ---- */

typedef struct StrMap {
    const char **key;       /* NULL: empty */
    size_t *len;
    int32_t *id;
    uint32_t mask;
} StrMap;

static uint32_t str_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32));
}

static int map_init(StrMap *m, size_t n)
{
    uint32_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->key = calloc(cap, sizeof *m->key);
    m->len = calloc(cap, sizeof *m->len);
    m->id = calloc(cap, sizeof *m->id);
    m->mask = cap - 1;
    return m->key && m->len && m->id ? 0 : -1;
}

static void map_free(StrMap *m)
{
    free(m->key);
    free(m->len);
    free(m->id);
}

/* The slot of key s: its own, or the empty one where it would go. */
static uint32_t map_slot(const StrMap *m, const char *s, size_t n)
{
    for (uint32_t i = str_hash(s, n) & m->mask;; i = (i + 1) & m->mask)
        if (!m->key[i] || (m->len[i] == n && memcmp(m->key[i], s, n) == 0))
            return i;
}

static int32_t map_get(const StrMap *m, const char *s, size_t n)
{
    uint32_t i = map_slot(m, s, n);
    return m->key[i] ? m->id[i] : -1;
}

/* ---- the conversion ---- */

typedef struct Tok {
    uint8_t flags;          /* LLMC_HFT_* */
    char *piece;            /* VOCAB: as the model spells it (byte-level: raw bytes) */
    size_t piece_len;
    const char *key;        /* VOCAB: the JSON key (byte-level: in the alphabet) */
    const char *content;    /* ADDED */
    char *dec;              /* DEC_OWN */
    size_t dec_len;
} Tok;

typedef struct Step {
    uint32_t op, arg;
    char *a, *b;
    size_t a_len, b_len;
} Step;

/* What the decoder does to each token, gathered from decoder (and its Sequence). */
typedef struct Dec {
    bool byte_level, byte_fallback, fuse, strip_start, metaspace;
    int n_replace;
    const char *rep_from[8], *rep_to[8];
} Dec;

typedef struct Conv {
    const char *file;       /* tokenizer.json, for messages */
    LlmcDiag *d;
    int64_t vocab_size;     /* the model's */
    const cJSON *vocab;
    bool byte_level;        /* a ByteLevel pre-tokenizer */
    int32_t n_tokens;
    Tok *tok;               /* [n_tokens] */
    StrMap keys;            /* vocabulary key -> id */
    Step norm[LLMC_HFTOK_MAX_STEPS], pre[LLMC_HFTOK_MAX_STEPS];
    int n_norm, n_pre;
    Dec dec;
    uint32_t flags;         /* LLMC_HFF_* */
    int32_t unk, bos, eos;
    uint32_t cp_byte[324];  /* alphabet code point (< 324) -> byte + 1; 0: not in the alphabet */
} Conv;

static LlmcStatus cfail(Conv *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static LlmcStatus cfail(Conv *c, const char *path, const char *fmt, ...)
{
    char msg[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return llmc_fail(c->d, "%s: %s: %s", c->file, path, msg);
}

static LlmcStatus oom(Conv *c) { return llmc_fail(c->d, "%s: out of memory", c->file); }

static const cJSON *field(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* A boolean field: missing or null gives def (out is set on every path: gcc -O3 cannot see that
 * the callers stop at an error). */
static LlmcStatus get_bool(Conv *c, const cJSON *o, const char *path, const char *k, bool def, bool *out)
{
    const cJSON *v = field(o, k);
    *out = def;
    if (!v || cJSON_IsNull(v))
        return LLMC_OK;
    if (!cJSON_IsBool(v))
        return cfail(c, path, "%s: expected true or false, found %s", k, fe_json_kind(v));
    *out = cJSON_IsTrue(v);
    return LLMC_OK;
}

/* The "type" of a component. */
static LlmcStatus get_type(Conv *c, const cJSON *o, const char *path, const char **type)
{
    const cJSON *t = field(o, "type");
    *type = "";
    if (!cJSON_IsObject(o) || !cJSON_IsString(t))
        return cfail(c, path, "expected an object with a \"type\", found %s", fe_json_kind(o));
    *type = t->valuestring;
    return LLMC_OK;
}

static Step *add_step(Conv *c, bool norm, const char *path, uint32_t op, uint32_t arg, const char *a, size_t a_len,
                      const char *b, size_t b_len)
{
    int *n = norm ? &c->n_norm : &c->n_pre;
    if (*n == LLMC_HFTOK_MAX_STEPS) {
        cfail(c, path, "more than %d %s steps", LLMC_HFTOK_MAX_STEPS, norm ? "normalizer" : "pre-tokenizer");
        return NULL;
    }
    Step *s = &(norm ? c->norm : c->pre)[*n];
    *s = (Step){op, arg, NULL, NULL, a_len, b_len};
    s->a = malloc(a_len + 1);
    s->b = malloc(b_len + 1);
    if (!s->a || !s->b) {
        free(s->a);
        free(s->b);
        oom(c);
        return NULL;
    }
    if (a_len)
        memcpy(s->a, a, a_len);
    if (b_len)
        memcpy(s->b, b, b_len);
    (*n)++;
    return s;
}

/* ---- normalizer ---- */

static LlmcStatus conv_normalizer(Conv *c, const cJSON *n, const char *path, int depth)
{
    if (!n || cJSON_IsNull(n))
        return LLMC_OK;
    const char *type;
    if (get_type(c, n, path, &type))
        return LLMC_ERR;
    static const char *const forms[4] = {"NFC", "NFD", "NFKC", "NFKD"};
    for (int i = 0; i < 4; i++)
        if (strcmp(type, forms[i]) == 0)
            return add_step(c, true, path, LLMC_HFN_NFC + (uint32_t)i, 0, "", 0, "", 0) ? LLMC_OK : LLMC_ERR;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = field(n, "normalizers");
        if (!cJSON_IsArray(list))
            return cfail(c, path, "normalizers: expected an array, found %s", fe_json_kind(list));
        if (depth > 8)
            return cfail(c, path, "Sequence nested too deeply");
        int i = 0;
        for (const cJSON *e = list->child; e; e = e->next, i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.normalizers[%d]", path, i);
            if (conv_normalizer(c, e, sub, depth + 1))
                return LLMC_ERR;
        }
        return LLMC_OK;
    }
    if (strcmp(type, "Prepend") == 0) {
        const cJSON *p = field(n, "prepend");
        if (!cJSON_IsString(p))
            return cfail(c, path, "prepend: expected a string, found %s", fe_json_kind(p));
        return add_step(c, true, path, LLMC_HFN_PREPEND, 0, p->valuestring, strlen(p->valuestring), "", 0)
                   ? LLMC_OK : LLMC_ERR;
    }
    if (strcmp(type, "Replace") == 0) {
        const cJSON *pat = field(n, "pattern"), *to = field(n, "content");
        const cJSON *s = cJSON_IsObject(pat) ? field(pat, "String") : NULL;
        if (!cJSON_IsString(s) || !s->valuestring[0])
            return cfail(c, path, "pattern: expected {\"String\": a non-empty string} (Regex patterns are not "
                         "supported in a normalizer), found %s", cJSON_IsObject(pat) && field(pat, "Regex") ?
                         "a Regex pattern" : fe_json_kind(pat));
        if (!cJSON_IsString(to))
            return cfail(c, path, "content: expected a string, found %s", fe_json_kind(to));
        return add_step(c, true, path, LLMC_HFN_REPLACE, 0, s->valuestring, strlen(s->valuestring),
                        to->valuestring, strlen(to->valuestring)) ? LLMC_OK : LLMC_ERR;
    }
    return cfail(c, path, "normalizer type \"%s\" is not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, "
                 "Replace, Sequence)", type);
}

/* ---- pre-tokenizer ---- */

/* The pattern the GPT-2 ByteLevel pre-tokenizer splits with when use_regex is on. */
static const char kGpt2Pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Compiles a pattern as the runtime will; a failure names the path and the offset. */
static LlmcStatus check_pattern(Conv *c, const char *path, const char *pat, size_t len)
{
    int code = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, LLMC_HFTOK_PCRE2_OPTIONS, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return cfail(c, path, "pattern /%.*s/ is not one PCRE2 can compile: %s at offset %zu", (int)(len < 200 ? len : 200),
                     pat, (const char *)msg, (size_t)off);
    }
    pcre2_code_free(re);
    return LLMC_OK;
}

static LlmcStatus add_split(Conv *c, const char *path, const char *pat, uint32_t arg)
{
    if (check_pattern(c, path, pat, strlen(pat)))
        return LLMC_ERR;
    return add_step(c, false, path, LLMC_HFP_SPLIT, arg, pat, strlen(pat), "", 0) ? LLMC_OK : LLMC_ERR;
}

static LlmcStatus conv_pre(Conv *c, const cJSON *p, const char *path, int depth)
{
    if (!p || cJSON_IsNull(p))
        return LLMC_OK;
    const char *type;
    if (get_type(c, p, path, &type))
        return LLMC_ERR;
    if (c->byte_level)
        return cfail(c, path, "a %s step after ByteLevel is not supported (ByteLevel must come last)", type);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = field(p, "pretokenizers");
        if (!cJSON_IsArray(list))
            return cfail(c, path, "pretokenizers: expected an array, found %s", fe_json_kind(list));
        if (depth > 8)
            return cfail(c, path, "Sequence nested too deeply");
        int i = 0;
        for (const cJSON *e = list->child; e; e = e->next, i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", path, i);
            if (conv_pre(c, e, sub, depth + 1))
                return LLMC_ERR;
        }
        return LLMC_OK;
    }
    if (strcmp(type, "Split") == 0) {
        const cJSON *pat = field(p, "pattern"), *beh = field(p, "behavior");
        const cJSON *re = cJSON_IsObject(pat) ? field(pat, "Regex") : NULL;
        const cJSON *lit = cJSON_IsObject(pat) ? field(pat, "String") : NULL;
        static const char *const names[LLMC_HFS_COUNT] = {"Removed", "Isolated", "MergedWithPrevious",
                                                          "MergedWithNext", "Contiguous"};
        uint32_t arg = LLMC_HFS_COUNT;
        for (uint32_t i = 0; cJSON_IsString(beh) && i < LLMC_HFS_COUNT; i++)
            if (strcmp(beh->valuestring, names[i]) == 0)
                arg = i;
        if (arg == LLMC_HFS_COUNT)
            return cfail(c, path, "behavior: expected Removed, Isolated, MergedWithPrevious, MergedWithNext or "
                         "Contiguous, found %s", cJSON_IsString(beh) ? beh->valuestring : fe_json_kind(beh));
        bool invert;
        if (get_bool(c, p, path, "invert", false, &invert))
            return LLMC_ERR;
        if (invert)
            arg |= LLMC_HFS_INVERT;
        if (cJSON_IsString(re))
            return add_split(c, path, re->valuestring, arg);
        if (!cJSON_IsString(lit) || !lit->valuestring[0])
            return cfail(c, path, "pattern: expected {\"Regex\": ...} or {\"String\": a non-empty string}, found %s",
                         fe_json_kind(pat));
        /* A literal: every ASCII punctuation character escaped. */
        size_t n = strlen(lit->valuestring);
        char *q = malloc(2 * n + 1);
        if (!q)
            return oom(c);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)lit->valuestring[i];
            if (ch < 0x80 && !(ch >= '0' && ch <= '9') && !(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
                ch > ' ')
                q[k++] = '\\';
            q[k++] = (char)ch;
        }
        q[k] = 0;
        LlmcStatus st = add_split(c, path, q, arg);
        free(q);
        return st;
    }
    if (strcmp(type, "Digits") == 0) {
        bool single;
        if (get_bool(c, p, path, "individual_digits", false, &single))
            return LLMC_ERR;
        return add_split(c, path, single ? "\\p{N}" : "\\p{N}+", LLMC_HFS_ISOLATED);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        bool prefix, regex;
        if (get_bool(c, p, path, "add_prefix_space", true, &prefix) ||
            get_bool(c, p, path, "use_regex", true, &regex))
            return LLMC_ERR;
        if (prefix && !add_step(c, false, path, LLMC_HFP_PREFIX_SPACE, 0, "", 0, "", 0))
            return LLMC_ERR;
        if (regex && add_split(c, path, kGpt2Pattern, LLMC_HFS_ISOLATED))
            return LLMC_ERR;
        c->byte_level = true;
        return LLMC_OK;
    }
    if (strcmp(type, "Metaspace") == 0) {
        const cJSON *rep = field(p, "replacement"), *scheme = field(p, "prepend_scheme");
        uint32_t cp;
        if (!cJSON_IsString(rep) || !rep->valuestring[0] ||
            utf8_decode((const uint8_t *)rep->valuestring, strlen(rep->valuestring), &cp) != strlen(rep->valuestring))
            return cfail(c, path, "replacement: expected one character, found %s", fe_json_kind(rep));
        uint32_t arg;
        const cJSON *aps = field(p, "add_prefix_space");
        if (cJSON_IsFalse(aps) && cJSON_IsString(scheme) && strcmp(scheme->valuestring, "never") != 0)
            return cfail(c, path, "add_prefix_space false does not match prepend_scheme \"%s\"", scheme->valuestring);
        if (cJSON_IsString(scheme)) {
            if (strcmp(scheme->valuestring, "always") == 0)
                arg = LLMC_HFM_ALWAYS;
            else if (strcmp(scheme->valuestring, "first") == 0)
                arg = LLMC_HFM_FIRST;
            else if (strcmp(scheme->valuestring, "never") == 0)
                arg = LLMC_HFM_NEVER;
            else
                return cfail(c, path, "prepend_scheme: expected \"always\", \"first\" or \"never\", found \"%s\"",
                             scheme->valuestring);
        } else {
            bool prefix;   /* the older form */
            if (get_bool(c, p, path, "add_prefix_space", true, &prefix))
                return LLMC_ERR;
            arg = prefix ? LLMC_HFM_ALWAYS : LLMC_HFM_NEVER;
        }
        bool split;
        if (get_bool(c, p, path, "split", true, &split))
            return LLMC_ERR;
        if (split)
            arg |= LLMC_HFM_SPLIT;
        return add_step(c, false, path, LLMC_HFP_METASPACE, arg, rep->valuestring, strlen(rep->valuestring), "", 0)
                   ? LLMC_OK : LLMC_ERR;
    }
    return cfail(c, path, "pre-tokenizer type \"%s\" is not supported (supported: Split, ByteLevel, Metaspace, "
                 "Digits, Sequence)", type);
}

/* ---- decoder ---- */

static LlmcStatus conv_decoder(Conv *c, const cJSON *dj, const char *path, int depth)
{
    const char *type;
    if (!dj || cJSON_IsNull(dj))
        return cfail(c, path, "expected a decoder, found none (tokens would be joined with spaces)");
    if (get_type(c, dj, path, &type))
        return LLMC_ERR;
    Dec *dc = &c->dec;
    /* After Strip nothing may follow; after Metaspace (which strips the first token) only the
     * steps that work token by token. */
    if (dc->strip_start && !(dc->metaspace && (strcmp(type, "ByteFallback") == 0 || strcmp(type, "Fuse") == 0)))
        return cfail(c, path, "a %s step after %s is not supported", type, dc->metaspace ? "Metaspace" : "Strip");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = field(dj, "decoders");
        if (!cJSON_IsArray(list))
            return cfail(c, path, "decoders: expected an array, found %s", fe_json_kind(list));
        if (depth > 8)
            return cfail(c, path, "Sequence nested too deeply");
        int i = 0;
        for (const cJSON *e = list->child; e; e = e->next, i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.decoders[%d]", path, i);
            if (conv_decoder(c, e, sub, depth + 1))
                return LLMC_ERR;
        }
        return LLMC_OK;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        dc->byte_level = true;
        return LLMC_OK;
    }
    if (strcmp(type, "ByteFallback") == 0) {
        dc->byte_fallback = true;
        return LLMC_OK;
    }
    if (strcmp(type, "Fuse") == 0) {
        dc->fuse = true;
        return LLMC_OK;
    }
    if (strcmp(type, "Replace") == 0) {
        const cJSON *pat = field(dj, "pattern"), *to = field(dj, "content");
        const cJSON *s = cJSON_IsObject(pat) ? field(pat, "String") : NULL;
        if (!cJSON_IsString(s) || !s->valuestring[0] || !cJSON_IsString(to))
            return cfail(c, path, "expected pattern {\"String\": a non-empty string} and a content string");
        if (dc->n_replace == 8)
            return cfail(c, path, "more than 8 Replace steps");
        dc->rep_from[dc->n_replace] = s->valuestring;
        dc->rep_to[dc->n_replace++] = to->valuestring;
        return LLMC_OK;
    }
    if (strcmp(type, "Strip") == 0) {
        const cJSON *content = field(dj, "content"), *start = field(dj, "start"), *stop = field(dj, "stop");
        if (!cJSON_IsString(content) || strcmp(content->valuestring, " ") != 0 || !fe_json_is_int(start, 1, 1) ||
            !fe_json_is_int(stop, 0, 0))
            return cfail(c, path, "only Strip of one leading space (content \" \", start 1, stop 0) is supported");
        if (!dc->fuse)
            return cfail(c, path, "Strip without Fuse before it (it would strip every token) is not supported");
        dc->strip_start = true;
        return LLMC_OK;
    }
    if (strcmp(type, "Metaspace") == 0) {
        const cJSON *rep = field(dj, "replacement"), *scheme = field(dj, "prepend_scheme");
        if (!cJSON_IsString(rep) || !rep->valuestring[0])
            return cfail(c, path, "replacement: expected one character, found %s", fe_json_kind(rep));
        if (dc->n_replace == 8)
            return cfail(c, path, "more than 8 Replace steps");
        dc->rep_from[dc->n_replace] = rep->valuestring;
        dc->rep_to[dc->n_replace++] = " ";
        bool prefix;
        if (cJSON_IsString(scheme))
            prefix = strcmp(scheme->valuestring, "never") != 0;
        else if (get_bool(c, dj, path, "add_prefix_space", true, &prefix))
            return LLMC_ERR;
        dc->fuse = true;
        dc->strip_start = prefix;
        dc->metaspace = true;
        return LLMC_OK;
    }
    return cfail(c, path, "decoder type \"%s\" is not supported (supported: ByteLevel, Metaspace, Replace, "
                 "ByteFallback, Fuse, Strip, Sequence)", type);
}

/* ---- post-processor: which BOS, if any, plain text gets ---- */

static LlmcStatus conv_post(Conv *c, const cJSON *p, const char *path, int depth, int32_t *bos)
{
    if (!p || cJSON_IsNull(p))
        return LLMC_OK;
    const char *type;
    if (get_type(c, p, path, &type))
        return LLMC_ERR;
    if (strcmp(type, "ByteLevel") == 0)
        return LLMC_OK;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = field(p, "processors");
        if (!cJSON_IsArray(list))
            return cfail(c, path, "processors: expected an array, found %s", fe_json_kind(list));
        if (depth > 8)
            return cfail(c, path, "Sequence nested too deeply");
        int i = 0;
        for (const cJSON *e = list->child; e; e = e->next, i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.processors[%d]", path, i);
            if (conv_post(c, e, sub, depth + 1, bos))
                return LLMC_ERR;
        }
        return LLMC_OK;
    }
    if (strcmp(type, "TemplateProcessing") == 0) {
        /* single: [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}, ...]: a special token
         * before the text is the BOS; anything after the text is not added (generation must not
         * end the prompt with EOS). */
        const cJSON *single = field(p, "single"), *specials = field(p, "special_tokens");
        if (!cJSON_IsArray(single))
            return cfail(c, path, "single: expected an array, found %s", fe_json_kind(single));
        const cJSON *first = single->child;
        const cJSON *sp = cJSON_IsObject(first) ? field(first, "SpecialToken") : NULL;
        if (!sp)
            return LLMC_OK;
        const cJSON *second = first->next;
        if (!cJSON_IsObject(second) || !field(second, "Sequence"))
            return cfail(c, path, "single: only one special token before the text is supported");
        const cJSON *name = field(sp, "id");
        const cJSON *ent = cJSON_IsString(name) && cJSON_IsObject(specials) ? field(specials, name->valuestring) : NULL;
        const cJSON *ids = cJSON_IsObject(ent) ? field(ent, "ids") : NULL;
        if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) != 1 ||
            !fe_json_is_int(ids->child, 0, (double)c->n_tokens - 1))
            return cfail(c, path, "special_tokens: expected one id below %d for the special token %s", c->n_tokens,
                         cJSON_IsString(name) ? name->valuestring : "(unnamed)");
        *bos = (int32_t)ids->child->valuedouble;
        return LLMC_OK;
    }
    return cfail(c, path, "post-processor type \"%s\" is not supported (supported: ByteLevel, "
                 "TemplateProcessing, Sequence)", type);
}

/* ---- model ---- */

/* The raw bytes a byte-level key stands for; -1 when a character is outside the alphabet. */
static int unmap_key(const Conv *c, const char *key, char *out, size_t *out_len)
{
    const uint8_t *s = (const uint8_t *)key;
    size_t n = strlen(key), k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t l = utf8_decode(s + i, n - i, &cp);
        if (!l || cp >= 324 || !c->cp_byte[cp])
            return -1;
        out[k++] = (char)(c->cp_byte[cp] - 1);
        i += l;
    }
    *out_len = k;
    return 0;
}

static LlmcStatus conv_vocab(Conv *c, const cJSON *model)
{
    const cJSON *vocab = field(model, "vocab");
    if (!cJSON_IsObject(vocab))
        return cfail(c, "model.vocab", "expected an object of tokens and ids, found %s", fe_json_kind(vocab));
    c->vocab = vocab;
    size_t n = (size_t)cJSON_GetArraySize(vocab);
    if (map_init(&c->keys, n))
        return oom(c);
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!fe_json_is_int(e, 0, (double)c->vocab_size - 1))
            return cfail(c, "model.vocab", "\"%.80s\": expected an id below the model's vocab_size %lld, found %s",
                         e->string, (long long)c->vocab_size, cJSON_IsNumber(e) ? "a number outside it" : fe_json_kind(e));
        int32_t id = (int32_t)e->valuedouble;
        size_t len = strlen(e->string);
        if (len == 0)
            return cfail(c, "model.vocab", "token %d is the empty string", id);
        if (len > LLMC_HFTOK_MAX_PIECE)
            return cfail(c, "model.vocab", "token %d is %zu bytes long (limit %d)", id, len, LLMC_HFTOK_MAX_PIECE);
        Tok *t = &c->tok[id];
        if (t->flags & LLMC_HFT_VOCAB)
            return cfail(c, "model.vocab", "id %d is given to both \"%.80s\" and \"%.80s\"", id, t->key, e->string);
        uint32_t slot = map_slot(&c->keys, e->string, len);
        if (c->keys.key[slot])
            return cfail(c, "model.vocab", "\"%.80s\" appears twice", e->string);
        c->keys.key[slot] = e->string;
        c->keys.len[slot] = len;
        c->keys.id[slot] = id;
        t->key = e->string;
        t->piece = malloc(len);
        if (!t->piece)
            return oom(c);
        if (!c->byte_level) {
            memcpy(t->piece, e->string, len);
            t->piece_len = len;
        } else if (unmap_key(c, e->string, t->piece, &t->piece_len)) {
            /* Outside the alphabet: no merge or byte can form it; it decodes to its UTF-8. */
            free(t->piece);
            t->piece = NULL;
            t->key = NULL;
            t->dec = llmc_strdup(e->string);
            if (!t->dec)
                return oom(c);
            t->dec_len = len;
            t->flags |= LLMC_HFT_DEC_OWN;
            continue;
        }
        t->flags |= LLMC_HFT_VOCAB;
    }
    return LLMC_OK;
}

/* Splits merge i ("a b" or ["a", "b"]) into its ids, checking the merged token exists. */
static LlmcStatus conv_merge(Conv *c, const cJSON *m, int i, uint32_t ids[2], char *tmp)
{
    char path[64];
    snprintf(path, sizeof path, "model.merges[%d]", i);
    const char *part[2];
    size_t len[2];
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring, *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' ') || sp == s || !sp[1])
            return cfail(c, path, "expected two tokens separated by one space, found \"%.80s\"", s);
        part[0] = s;
        len[0] = (size_t)(sp - s);
        part[1] = sp + 1;
        len[1] = strlen(sp + 1);
    } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
               cJSON_IsString(m->child->next)) {
        part[0] = m->child->valuestring;
        part[1] = m->child->next->valuestring;
        len[0] = strlen(part[0]);
        len[1] = strlen(part[1]);
    } else {
        return cfail(c, path, "expected \"a b\" or [\"a\", \"b\"], found %s", fe_json_kind(m));
    }
    for (int k = 0; k < 2; k++) {
        int32_t id = map_get(&c->keys, part[k], len[k]);
        if (id < 0)
            return cfail(c, path, "\"%.*s\" is not in model.vocab", (int)(len[k] < 80 ? len[k] : 80), part[k]);
        ids[k] = (uint32_t)id;
    }
    if (len[0] + len[1] > 2 * LLMC_HFTOK_MAX_PIECE)
        return cfail(c, path, "merged token too long");
    memcpy(tmp, part[0], len[0]);
    memcpy(tmp + len[0], part[1], len[1]);
    if (map_get(&c->keys, tmp, len[0] + len[1]) < 0)
        return cfail(c, path, "the merged token \"%.*s\" is not in model.vocab", (int)(len[0] + len[1] < 80 ?
                     len[0] + len[1] : 80), tmp);
    return LLMC_OK;
}

static LlmcStatus conv_model_options(Conv *c, const cJSON *model)
{
    const char *type;
    if (!cJSON_IsObject(model))
        return cfail(c, "model", "expected an object, found %s", fe_json_kind(model));
    const cJSON *t = field(model, "type");
    if (t && !cJSON_IsString(t))
        return cfail(c, "model.type", "expected a string, found %s", fe_json_kind(t));
    type = t ? t->valuestring : (field(model, "merges") ? "BPE" : "?");
    if (strcmp(type, "BPE") != 0)
        return cfail(c, "model.type", "\"%s\" is not supported (only BPE models are)", type);
    const cJSON *drop = field(model, "dropout");
    if (drop && !cJSON_IsNull(drop) && !(cJSON_IsNumber(drop) && drop->valuedouble == 0))
        return cfail(c, "model.dropout", "expected null (BPE dropout is for training), found %s", fe_json_kind(drop));
    static const char *const none[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = field(model, none[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && !v->valuestring[0]))
            return cfail(c, "model", "%s: expected null or \"\", found %s (not supported)", none[i], fe_json_kind(v));
    }
    bool fb, fuse, ignore;
    if (get_bool(c, model, "model", "byte_fallback", false, &fb) ||
        get_bool(c, model, "model", "fuse_unk", false, &fuse) ||
        get_bool(c, model, "model", "ignore_merges", false, &ignore))
        return LLMC_ERR;
    c->flags |= (fb ? LLMC_HFF_BYTE_FALLBACK : 0) | (fuse ? LLMC_HFF_FUSE_UNK : 0) |
                (ignore ? LLMC_HFF_IGNORE_MERGES : 0);
    return LLMC_OK;
}

static LlmcStatus conv_added(Conv *c, const cJSON *added)
{
    if (!added || cJSON_IsNull(added))
        return LLMC_OK;
    if (!cJSON_IsArray(added))
        return cfail(c, "added_tokens", "expected an array, found %s", fe_json_kind(added));
    int i = 0;
    for (const cJSON *a = added->child; a; a = a->next, i++) {
        char path[64];
        snprintf(path, sizeof path, "added_tokens[%d]", i);
        const cJSON *id = field(a, "id"), *content = field(a, "content");
        if (!cJSON_IsObject(a) || !fe_json_is_int(id, 0, (double)c->vocab_size - 1))
            return cfail(c, path, "id: expected an id below the model's vocab_size %lld, found %s",
                         (long long)c->vocab_size, fe_json_kind(id));
        if (!cJSON_IsString(content) || !content->valuestring[0])
            return cfail(c, path, "content: expected a non-empty string, found %s", fe_json_kind(content));
        if (strlen(content->valuestring) > LLMC_HFTOK_MAX_PIECE)
            return cfail(c, path, "content: longer than %d bytes", LLMC_HFTOK_MAX_PIECE);
        Tok *t = &c->tok[(int32_t)id->valuedouble];
        if (t->flags & LLMC_HFT_ADDED)
            return cfail(c, path, "id %d is already added_tokens' \"%.80s\"", (int)id->valuedouble, t->content);
        if ((t->flags & LLMC_HFT_VOCAB) && strcmp(t->key, content->valuestring) != 0)
            return cfail(c, path, "id %d is \"%.80s\" in model.vocab but \"%.80s\" here", (int)id->valuedouble, t->key,
                         content->valuestring);
        bool special, lstrip, rstrip, single, normalized;
        if (get_bool(c, a, path, "special", false, &special) || get_bool(c, a, path, "lstrip", false, &lstrip) ||
            get_bool(c, a, path, "rstrip", false, &rstrip) || get_bool(c, a, path, "single_word", false, &single) ||
            get_bool(c, a, path, "normalized", !special, &normalized))
            return LLMC_ERR;
        t->content = content->valuestring;
        t->flags |= LLMC_HFT_ADDED | (special ? LLMC_HFT_SPECIAL : 0) | (lstrip ? LLMC_HFT_LSTRIP : 0) |
                    (rstrip ? LLMC_HFT_RSTRIP : 0) | (single ? LLMC_HFT_SINGLE_WORD : 0) |
                    (normalized ? LLMC_HFT_NORMALIZED : 0);
    }
    return LLMC_OK;
}

/* The bytes token t decodes to, by the decoder's steps; sets DEC_OWN when they are not the
 * bytes it already carries. */
static LlmcStatus decode_bytes(Conv *c, Tok *t)
{
    if (t->flags & LLMC_HFT_DEC_OWN)
        return LLMC_OK;   /* an unmappable key: its own UTF-8 */
    const Dec *dc = &c->dec;
    const char *s = (t->flags & LLMC_HFT_VOCAB) ? t->key : t->content;
    if (!s)
        return LLMC_OK;   /* a hole */
    size_t n = strlen(s);
    char *out = NULL;
    size_t len = 0;
    if (dc->byte_level) {
        out = malloc(n + 1);
        if (!out)
            return oom(c);
        if (unmap_key(c, s, out, &len)) {   /* outside the alphabet: the UTF-8 as it is */
            memcpy(out, s, n);
            len = n;
        }
    } else {
        /* Replace steps in order (each may grow the text), then ByteFallback. */
        size_t cap = n + 1;
        out = malloc(cap);
        if (!out)
            return oom(c);
        memcpy(out, s, n);
        len = n;
        for (int r = 0; r < dc->n_replace; r++) {
            const char *from = dc->rep_from[r], *to = dc->rep_to[r];
            size_t fl = strlen(from), tl = strlen(to);
            size_t ncap = len / fl * (tl > fl ? tl : fl) + len + 1, k = 0;
            char *next = malloc(ncap);
            if (!next) {
                free(out);
                return oom(c);
            }
            for (size_t i = 0; i < len;) {
                if (len - i >= fl && memcmp(out + i, from, fl) == 0) {
                    memcpy(next + k, to, tl);
                    k += tl;
                    i += fl;
                } else {
                    next[k++] = out[i++];
                }
            }
            free(out);
            out = next;
            len = k;
        }
        if (dc->byte_fallback && n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
            unsigned v = 0;
            int ok = 1;
            for (int i = 3; i < 5; i++) {
                char h = s[i];
                int dv = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 :
                         h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                ok &= dv >= 0;
                v = v * 16 + (unsigned)(dv < 0 ? 0 : dv);
            }
            if (ok) {
                out[0] = (char)v;
                len = 1;
            }
        }
    }
    const char *have = (t->flags & LLMC_HFT_VOCAB) ? t->piece : t->content;
    size_t have_len = (t->flags & LLMC_HFT_VOCAB) ? t->piece_len : strlen(t->content);
    if (len == have_len && memcmp(out, have, len) == 0) {
        free(out);
        return LLMC_OK;
    }
    t->dec = out;
    t->dec_len = len;
    t->flags |= LLMC_HFT_DEC_OWN;
    return LLMC_OK;
}

/* ---- tokenizer_config.json ---- */

/* A special token entry: "text" or {"content": "text"}; NULL when absent or null. */
static const char *config_token(const cJSON *cfg, const char *key)
{
    const cJSON *v = field(cfg, key);
    if (cJSON_IsObject(v))
        v = field(v, "content");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The id of a token's text: an added token's content, else a vocabulary key. */
static int32_t id_of_text(const Conv *c, const char *s)
{
    for (int32_t i = 0; i < c->n_tokens; i++)
        if ((c->tok[i].flags & LLMC_HFT_ADDED) && strcmp(c->tok[i].content, s) == 0)
            return i;
    return map_get(&c->keys, s, strlen(s));
}

/* The named strings of the compact form: key (with an optional suffix: "chat_template." + a
 * template's name) and value. */
typedef struct Strings {
    const char *key[16], *suffix[16];
    const char *val[16];
    size_t val_len[16];
    int n;
} Strings;

static void strings_add(Strings *s, const char *key, const char *suffix, const char *val, size_t len)
{
    if (s->n < 16 && val) {
        s->key[s->n] = key;
        s->suffix[s->n] = suffix;
        s->val[s->n] = val;
        s->val_len[s->n++] = len;
    }
}

static LlmcStatus conv_config(Conv *c, const cJSON *cfg, const char *cfg_path, Strings *strs, int32_t *bos_cfg,
                              bool *add_bos, bool *has_add_bos)
{
    const cJSON *tpl = field(cfg, "chat_template");
    if (cJSON_IsString(tpl)) {
        strings_add(strs, "chat_template", NULL, tpl->valuestring, strlen(tpl->valuestring));
    } else if (cJSON_IsArray(tpl)) {
        int i = 0;
        for (const cJSON *e = tpl->child; e; e = e->next, i++) {
            const cJSON *name = field(e, "name"), *text = field(e, "template");
            if (!cJSON_IsString(name) || !cJSON_IsString(text))
                return llmc_fail(c->d, "%s: chat_template[%d]: expected {\"name\": ..., \"template\": ...}, found %s",
                                 cfg_path, i, fe_json_kind(e));
            bool dflt = strcmp(name->valuestring, "default") == 0;
            if (strs->n == 12)
                return llmc_fail(c->d, "%s: chat_template: more than 8 named templates", cfg_path);
            strings_add(strs, dflt ? "chat_template" : "chat_template.", dflt ? NULL : name->valuestring,
                        text->valuestring, strlen(text->valuestring));
        }
    } else if (tpl && !cJSON_IsNull(tpl)) {
        return llmc_fail(c->d, "%s: chat_template: expected a string or a list of named templates, found %s", cfg_path,
                         fe_json_kind(tpl));
    }
    static const char *const names[4] = {"bos_token", "eos_token", "pad_token", "unk_token"};
    for (int i = 0; i < 4; i++) {
        const char *v = config_token(cfg, names[i]);
        if (v)
            strings_add(strs, names[i], NULL, v, strlen(v));
    }
    const char *bos = config_token(cfg, "bos_token"), *eos = config_token(cfg, "eos_token");
    if (bos && (*bos_cfg = id_of_text(c, bos)) < 0)
        return llmc_fail(c->d, "%s: bos_token: \"%.80s\" is not a token of %s", cfg_path, bos, c->file);
    if (eos && (c->eos = id_of_text(c, eos)) < 0)
        return llmc_fail(c->d, "%s: eos_token: \"%.80s\" is not a token of %s", cfg_path, eos, c->file);
    const cJSON *ab = field(cfg, "add_bos_token");
    if (ab && !cJSON_IsNull(ab)) {
        if (!cJSON_IsBool(ab))
            return llmc_fail(c->d, "%s: add_bos_token: expected true or false, found %s", cfg_path, fe_json_kind(ab));
        *has_add_bos = true;
        *add_bos = cJSON_IsTrue(ab);
    }
    return LLMC_OK;
}

/* ---- writing ---- */

static void write_steps(Buf *b, const Step *s, int n)
{
    for (int i = 0; i < n; i++) {
        buf_u32(b, s[i].op);
        buf_u32(b, s[i].arg);
        buf_str(b, s[i].a, s[i].a_len);
        buf_str(b, s[i].b, s[i].b_len);
    }
}

static LlmcStatus convert(Conv *c, const cJSON *doc, const cJSON *cfg, const char *cfg_path, const char *tpl_text,
                          size_t tpl_len, uint8_t **out, size_t *size)
{
    if (!cJSON_IsObject(doc))
        return llmc_fail(c->d, "%s: expected a JSON object, found %s", c->file, fe_json_kind(doc));
    const cJSON *model = field(doc, "model");
    if (conv_model_options(c, model))
        return LLMC_ERR;
    /* Ids: the largest one used decides n_tokens. */
    int64_t max_id = -1;
    for (const cJSON *e = cJSON_IsObject(field(model, "vocab")) ? field(model, "vocab")->child : NULL; e; e = e->next)
        if (cJSON_IsNumber(e) && e->valuedouble > (double)max_id && e->valuedouble < (double)c->vocab_size)
            max_id = (int64_t)e->valuedouble;
    const cJSON *added = field(doc, "added_tokens");
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        const cJSON *id = field(a, "id");
        if (cJSON_IsNumber(id) && id->valuedouble > (double)max_id && id->valuedouble < (double)c->vocab_size)
            max_id = (int64_t)id->valuedouble;
    }
    c->n_tokens = (int32_t)(max_id + 1);
    c->tok = calloc((size_t)(c->n_tokens ? c->n_tokens : 1), sizeof *c->tok);
    if (!c->tok)
        return oom(c);
    for (int b = 0; b < 256; b++)
        c->cp_byte[byte_to_cp(b)] = (uint32_t)b + 1;

    /* The pre-tokenizer first: it says whether the vocabulary is byte-level. */
    if (conv_normalizer(c, field(doc, "normalizer"), "normalizer", 0) ||
        conv_pre(c, field(doc, "pre_tokenizer"), "pre_tokenizer", 0) ||
        conv_decoder(c, field(doc, "decoder"), "decoder", 0))
        return LLMC_ERR;
    if (c->byte_level != c->dec.byte_level)
        return cfail(c, "decoder", c->byte_level ? "expected ByteLevel for a ByteLevel pre-tokenizer"
                                                 : "ByteLevel without a ByteLevel pre-tokenizer is not supported");
    if (c->byte_level && (c->dec.n_replace || c->dec.byte_fallback || c->dec.strip_start))
        return cfail(c, "decoder", "ByteLevel combined with other steps is not supported");
    if (c->byte_level)
        c->flags |= LLMC_HFF_BYTE_LEVEL;
    if (c->dec.strip_start)
        c->flags |= LLMC_HFF_STRIP_START;
    if (conv_vocab(c, model) || conv_added(c, added))
        return LLMC_ERR;

    const cJSON *unk = field(model, "unk_token");
    c->unk = -1;
    if (unk && !cJSON_IsNull(unk)) {
        if (!cJSON_IsString(unk) || (c->unk = map_get(&c->keys, unk->valuestring, strlen(unk->valuestring))) < 0)
            return cfail(c, "model.unk_token", "expected a token of model.vocab, found %s%s%s",
                         cJSON_IsString(unk) ? "\"" : fe_json_kind(unk), cJSON_IsString(unk) ? unk->valuestring : "",
                         cJSON_IsString(unk) ? "\"" : "");
    }
    const cJSON *merges = field(model, "merges");
    if (!cJSON_IsArray(merges))
        return cfail(c, "model.merges", "expected an array, found %s", fe_json_kind(merges));
    int n_merges = cJSON_GetArraySize(merges);
    uint32_t *pairs = malloc(((size_t)n_merges + 1) * 2 * sizeof *pairs);
    char *tmp = malloc(2 * LLMC_HFTOK_MAX_PIECE + 1);
    if (!pairs || !tmp) {
        free(pairs);
        free(tmp);
        return oom(c);
    }
    int i = 0;
    for (const cJSON *m = merges->child; m; m = m->next, i++)
        if (conv_merge(c, m, i, pairs + 2 * i, tmp)) {
            free(pairs);
            free(tmp);
            return LLMC_ERR;
        }
    free(tmp);

    int32_t bos_post = -1, bos_cfg = -1;
    bool add_bos = false, has_add_bos = false;
    Strings strs = {{0}, {0}, {0}, {0}, 0};
    LlmcStatus st = conv_post(c, field(doc, "post_processor"), "post_processor", 0, &bos_post);
    c->eos = -1;
    if (!st && cfg)
        st = conv_config(c, cfg, cfg_path, &strs, &bos_cfg, &add_bos, &has_add_bos);
    if (st) {
        free(pairs);
        return LLMC_ERR;
    }
    if (tpl_text) {   /* --chat-template replaces the config's */
        for (int k = 0; k < strs.n; k++)
            if (strcmp(strs.key[k], "chat_template") == 0) {
                strs.key[k] = "chat_template.";
                strs.suffix[k] = "config";
            }
        strings_add(&strs, "chat_template", NULL, tpl_text, tpl_len);
    }
    /* Plain text gets the post-processor's BOS; else the config's when add_bos_token says so. */
    c->bos = has_add_bos ? (add_bos ? (bos_post >= 0 ? bos_post : bos_cfg) : -1) : bos_post;
    if (has_add_bos && add_bos && c->bos < 0)
        return llmc_fail(c->d, "%s: add_bos_token is true but there is no bos_token", cfg_path);

    for (int32_t k = 0; k < c->n_tokens; k++)
        if (decode_bytes(c, &c->tok[k])) {
            free(pairs);
            return LLMC_ERR;
        }

    Buf b = {NULL, 0, 0, false};
    buf_put(&b, LLMC_HFTOK_MAGIC, 8);
    uint32_t h[LLMC_HFH_COUNT];
    h[LLMC_HFH_FLAGS] = c->flags;
    h[LLMC_HFH_N_TOKENS] = (uint32_t)c->n_tokens;
    h[LLMC_HFH_N_MERGES] = (uint32_t)n_merges;
    h[LLMC_HFH_N_NORM] = (uint32_t)c->n_norm;
    h[LLMC_HFH_N_PRE] = (uint32_t)c->n_pre;
    h[LLMC_HFH_N_STRINGS] = (uint32_t)strs.n;
    h[LLMC_HFH_UNK] = (uint32_t)c->unk;
    h[LLMC_HFH_BOS] = (uint32_t)c->bos;
    h[LLMC_HFH_EOS] = (uint32_t)c->eos;
    for (int k = 0; k < LLMC_HFH_COUNT; k++)
        buf_u32(&b, h[k]);
    write_steps(&b, c->norm, c->n_norm);
    write_steps(&b, c->pre, c->n_pre);
    for (int32_t k = 0; k < c->n_tokens; k++) {
        const Tok *t = &c->tok[k];
        buf_put(&b, &t->flags, 1);
        if (t->flags & LLMC_HFT_VOCAB)
            buf_str(&b, t->piece, t->piece_len);
        if (t->flags & LLMC_HFT_ADDED)
            buf_cstr(&b, t->content);
        if (t->flags & LLMC_HFT_DEC_OWN)
            buf_str(&b, t->dec, t->dec_len);
    }
    for (int k = 0; k < 2 * n_merges; k++)
        buf_u32(&b, pairs[k]);
    free(pairs);
    for (int k = 0; k < strs.n; k++) {
        size_t kl = strlen(strs.key[k]), sl = strs.suffix[k] ? strlen(strs.suffix[k]) : 0;
        buf_u32(&b, (uint32_t)(kl + sl));
        buf_put(&b, strs.key[k], kl);
        buf_put(&b, strs.suffix[k], sl);
        buf_str(&b, strs.val[k], strs.val_len[k]);
    }
    if (b.oom) {
        free(b.p);
        return oom(c);
    }
    *out = b.p;
    *size = b.n;
    return LLMC_OK;
}

LlmcStatus llmc_hf_tokenizer_convert(const char *json_path, const char *template_path, int64_t vocab_size,
                                     uint8_t **out, size_t *size, LlmcDiag *d)
{
    *out = NULL;
    *size = 0;
    Conv c = {.file = json_path, .d = d, .vocab_size = vocab_size, .unk = -1, .bos = -1, .eos = -1};
    cJSON *doc = NULL, *cfg = NULL;
    char *raw = NULL, *cfg_path = NULL, *dir = NULL, *tpl = NULL;
    size_t raw_len = 0, tpl_len = 0;
    LlmcStatus st = llmc_read_file(json_path, &raw, &raw_len, d);
    /* cJSON would cut a string at an escaped NUL without a word. */
    if (!st && memmem(raw, raw_len, "\\u0000", 6))
        st = llmc_fail(d, "%s: holds the escape \\u0000 (a NUL character), which is not supported", json_path);
    free(raw);
    if (!st)
        st = llmc_json_load(json_path, &doc, d);
    if (!st) {
        dir = llmc_path_dir(json_path);
        cfg_path = dir ? llmc_path_join(dir, "tokenizer_config.json") : NULL;
        if (!cfg_path)
            st = oom(&c);
        else if (fe_is_file(cfg_path))
            st = llmc_json_load(cfg_path, &cfg, d);
    }
    if (!st && cfg && !cJSON_IsObject(cfg))
        st = llmc_fail(d, "%s: expected a JSON object, found %s", cfg_path, fe_json_kind(cfg));
    if (!st && template_path)
        st = llmc_read_file(template_path, &tpl, &tpl_len, d);
    if (!st)
        st = convert(&c, doc, cfg, cfg_path, tpl, tpl_len, out, size);
    for (int32_t i = 0; c.tok && i < c.n_tokens; i++) {
        free(c.tok[i].piece);
        free(c.tok[i].dec);
    }
    free(c.tok);
    for (int i = 0; i < c.n_norm; i++) {
        free(c.norm[i].a);
        free(c.norm[i].b);
    }
    for (int i = 0; i < c.n_pre; i++) {
        free(c.pre[i].a);
        free(c.pre[i].b);
    }
    map_free(&c.keys);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
    free(cfg_path);
    free(dir);
    free(tpl);
    return st;
}
