/* json.c — see json.h. A recursive-descent reader (depth bounded) over an arena of chunks, and
 * the writer's helpers. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Chunk {
    struct Chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} Chunk;

struct LlmcJsonDoc {
    Chunk *chunks;
};

typedef struct Parser {
    const unsigned char *s;
    size_t n, pos;
    LlmcJsonDoc *doc;
    char *err;
    size_t errlen;
    int failed;
} Parser;

static void *arena_alloc(LlmcJsonDoc *d, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    Chunk *c = d->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > 16384 ? size : 16384;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = d->chunks;
        d->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

static int fail_at(Parser *p, size_t at, const char *what)
{
    if (!p->failed && p->err && p->errlen)
        snprintf(p->err, p->errlen, "invalid JSON at byte %zu: %s", at, what);
    p->failed = 1;
    return -1;
}

static int oom(Parser *p)
{
    if (!p->failed && p->err && p->errlen)
        snprintf(p->err, p->errlen, "out of memory reading the JSON body");
    p->failed = 1;
    return -1;
}

static void skip_ws(Parser *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                             p->s[p->pos] == '\r'))
        p->pos++;
}

size_t llmc_utf8_char_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;          /* no overlong forms */
        if (c == 0xED)
            hi = 0x9F;          /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;          /* nothing above U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

size_t llmc_utf8_incomplete_tail(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    /* The last byte that is not a continuation byte, within 3 of the end: a lead byte whose
     * character needs more bytes than are there, with a valid beginning, is held back. */
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned c = s[n - k];
        if ((c & 0xC0) == 0x80)
            continue;
        size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
        if (need <= k)
            return 0;                           /* complete, or not a lead byte */
        if (k == 1)
            return 1;
        unsigned char buf[4] = {0x80, 0x80, 0x80, 0x80};
        memcpy(buf, s + n - k, k);
        return llmc_utf8_char_len(buf, need) ? k : 0;
    }
    return 0;
}

/* Appends the UTF-8 of code point cp to out. */
static size_t put_utf8(unsigned char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex4(Parser *p, size_t at, uint32_t *v)
{
    if (at + 4 > p->n)
        return fail_at(p, at, "a \\u escape needs 4 hex digits");
    uint32_t x = 0;
    for (size_t i = 0; i < 4; i++) {
        unsigned c = p->s[at + i];
        int d = c >= '0' && c <= '9' ? (int)(c - '0') : c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10)
              : c >= 'A' && c <= 'F' ? (int)(c - 'A' + 10) : -1;
        if (d < 0)
            return fail_at(p, at + i, "a \\u escape needs 4 hex digits");
        x = x * 16 + (uint32_t)d;
    }
    *v = x;
    return 0;
}

/* A string at p->pos (the opening quote): decoded into the arena. */
static int parse_string(Parser *p, const char **out, size_t *out_len)
{
    size_t start = ++p->pos;
    /* The decoded string is never longer than its source. */
    size_t end = start;
    while (end < p->n && p->s[end] != '"') {
        if (p->s[end] == '\\')
            end++;
        end++;
    }
    if (end >= p->n)
        return fail_at(p, start - 1, "unterminated string");
    unsigned char *o = arena_alloc(p->doc, end - start + 1);
    if (!o)
        return oom(p);
    size_t k = 0, i = start;
    while (i < end) {
        unsigned c = p->s[i];
        if (c == '\\') {
            unsigned e = p->s[i + 1];
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *m = e ? strchr(from, (int)e) : NULL;
            if (m) {
                o[k++] = (unsigned char)to[m - from];
                i += 2;
                continue;
            }
            if (e != 'u')
                return fail_at(p, i, "unknown escape in a string");
            uint32_t cp;
            if (hex4(p, i + 2, &cp))
                return -1;
            size_t at = i;
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (i + 1 >= end || p->s[i] != '\\' || p->s[i + 1] != 'u' || hex4(p, i + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    p->failed = 0;
                    return fail_at(p, at, "a \\u escape is a lone surrogate (not a character)");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail_at(p, at, "a \\u escape is a lone surrogate (not a character)");
            }
            k += put_utf8(o + k, cp);
            continue;
        }
        if (c < 0x20)
            return fail_at(p, i, "a control character inside a string (escape it)");
        if (c < 0x80) {
            o[k++] = (unsigned char)c;
            i++;
            continue;
        }
        size_t len = llmc_utf8_char_len(p->s + i, end - i);
        if (len == 0) {
            if (!p->failed && p->err && p->errlen)
                snprintf(p->err, p->errlen, "invalid UTF-8 at byte %zu of the JSON body", i);
            p->failed = 1;
            return -1;
        }
        memcpy(o + k, p->s + i, len);
        k += len;
        i += len;
    }
    o[k] = 0;
    *out = (const char *)o;
    *out_len = k;
    p->pos = end + 1;
    return 0;
}

static int parse_number(Parser *p, LlmcJson *v)
{
    size_t start = p->pos, i = start;
    int integral = 1;
    if (i < p->n && p->s[i] == '-')
        i++;
    if (i < p->n && p->s[i] == '0')
        i++;
    else if (i < p->n && p->s[i] >= '1' && p->s[i] <= '9')
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    else
        return fail_at(p, start, "expected a value");
    if (i < p->n && p->s[i] == '.') {
        integral = 0;
        i++;
        if (i >= p->n || p->s[i] < '0' || p->s[i] > '9')
            return fail_at(p, i, "expected a digit after '.'");
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->n || p->s[i] < '0' || p->s[i] > '9')
            return fail_at(p, i, "expected a digit in the exponent");
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    }
    char buf[64];
    size_t len = i - start;
    char *tmp = len < sizeof buf ? buf : malloc(len + 1);
    if (!tmp)
        return oom(p);
    memcpy(tmp, p->s + start, len);
    tmp[len] = 0;
    v->type = LLMC_JSON_NUMBER;
    v->number = strtod(tmp, NULL);
    if (integral) {
        char *end;
        errno = 0;
        long long x = strtoll(tmp, &end, 10);
        if (*end == 0 && errno == 0) {
            v->is_int = 1;
            v->integer = x;
        }
    }
    if (tmp != buf)
        free(tmp);
    p->pos = i;
    return 0;
}

static int parse_value(Parser *p, LlmcJson *v, int depth);

static int parse_container(Parser *p, LlmcJson *v, int depth, int object)
{
    v->type = object ? LLMC_JSON_OBJECT : LLMC_JSON_ARRAY;
    if (depth >= LLMC_JSON_MAX_DEPTH)
        return fail_at(p, p->pos, "nested deeper than 64 levels");
    char close = object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == (unsigned char)close) {
        p->pos++;
        return 0;
    }
    LlmcJson **tail = &v->child;
    for (;;) {
        LlmcJson *e = arena_alloc(p->doc, sizeof *e);
        if (!e)
            return oom(p);
        memset(e, 0, sizeof *e);
        if (object) {
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != '"')
                return fail_at(p, p->pos, "expected a member name (a string)");
            if (parse_string(p, &e->key, &e->key_len))
                return -1;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':')
                return fail_at(p, p->pos, "expected ':' after a member name");
            p->pos++;
        }
        if (parse_value(p, e, depth + 1))
            return -1;
        *tail = e;
        tail = &e->next;
        v->count++;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == (unsigned char)close) {
            p->pos++;
            return 0;
        }
        return fail_at(p, p->pos, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int literal(Parser *p, const char *word)
{
    size_t len = strlen(word);
    if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0)
        return fail_at(p, p->pos, "expected a value");
    p->pos += len;
    return 0;
}

static int parse_value(Parser *p, LlmcJson *v, int depth)
{
    skip_ws(p);
    if (p->pos >= p->n)
        return fail_at(p, p->pos, "expected a value, found the end of the body");
    switch (p->s[p->pos]) {
    case '{':
        return parse_container(p, v, depth, 1);
    case '[':
        return parse_container(p, v, depth, 0);
    case '"':
        v->type = LLMC_JSON_STRING;
        return parse_string(p, &v->str, &v->len);
    case 't':
        v->type = LLMC_JSON_BOOL;
        v->boolean = 1;
        return literal(p, "true");
    case 'f':
        v->type = LLMC_JSON_BOOL;
        return literal(p, "false");
    case 'n':
        v->type = LLMC_JSON_NULL;
        return literal(p, "null");
    default:
        return parse_number(p, v);
    }
}

int llmc_json_parse(const char *text, size_t len, LlmcJsonDoc **doc, const LlmcJson **root, char *err,
                    size_t errlen)
{
    *doc = NULL;
    *root = NULL;
    LlmcJsonDoc *d = calloc(1, sizeof *d);
    if (!d) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory reading the JSON body");
        return -1;
    }
    Parser p = {(const unsigned char *)text, len, 0, d, err, errlen, 0};
    LlmcJson *v = arena_alloc(d, sizeof *v);
    if (!v) {
        oom(&p);
        llmc_json_free(d);
        return -1;
    }
    memset(v, 0, sizeof *v);
    if (parse_value(&p, v, 0) == 0) {
        skip_ws(&p);
        if (p.pos != p.n)
            fail_at(&p, p.pos, "text after the JSON value");
    }
    if (p.failed) {
        llmc_json_free(d);
        return -1;
    }
    *doc = d;
    *root = v;
    return 0;
}

void llmc_json_free(LlmcJsonDoc *doc)
{
    if (!doc)
        return;
    for (Chunk *c = doc->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(doc);
}

const LlmcJson *llmc_json_get(const LlmcJson *obj, const char *key)
{
    if (!obj || obj->type != LLMC_JSON_OBJECT)
        return NULL;
    size_t len = strlen(key);
    const LlmcJson *found = NULL;
    for (const LlmcJson *m = obj->child; m; m = m->next)
        if (m->key_len == len && memcmp(m->key, key, len) == 0)
            found = m;
    return found;
}

const char *llmc_json_type_name(LlmcJsonType t)
{
    static const char *const names[] = {"null", "a boolean", "a number", "a string", "an array",
                                        "an object"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ---- the writer ---- */

void llmc_text_put(LlmcText *t, const void *s, size_t n)
{
    if (t->oom)
        return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->n + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = 0;
}

void llmc_text_cstr(LlmcText *t, const char *s) { llmc_text_put(t, s, strlen(s)); }

void llmc_text_printf(LlmcText *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        llmc_text_put(t, buf, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        t->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    llmc_text_put(t, big, (size_t)n);
    free(big);
}

/* At an invalid character: the bytes one U+FFFD replaces, the "maximal subpart" of Unicode's
 * recommendation (as Python and the WHATWG decoder do): a valid lead byte and the continuation
 * bytes that could still have followed it, else one byte. */
static size_t invalid_run(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    size_t k = 1;
    if (need > 1 && n > 1 && s[1] >= lo && s[1] <= hi)
        for (k = 2; k < need && k < n && (s[k] & 0xC0) == 0x80;)
            k++;
    return k;
}

void llmc_text_json_str(LlmcText *t, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    llmc_text_put(t, "\"", 1);
    size_t run = 0;         /* bytes copied as they are, pending */
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        const char *esc = NULL;
        char ubuf[8];
        size_t len = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
            esc = ubuf;
        } else if (c >= 0x80) {
            len = llmc_utf8_char_len(s + i, n - i);
            if (len == 0) {
                esc = "\xEF\xBF\xBD";           /* U+FFFD for what is not UTF-8 */
                len = invalid_run(s + i, n - i);
            }
        }
        if (!esc) {
            run += len;
            i += len;
            continue;
        }
        llmc_text_put(t, s + i - run, run);
        run = 0;
        llmc_text_cstr(t, esc);
        i += len;
    }
    llmc_text_put(t, s + i - run, run);
    llmc_text_put(t, "\"", 1);
}

void llmc_text_json(LlmcText *t, const LlmcJson *v)
{
    switch (v->type) {
    case LLMC_JSON_NULL:
        llmc_text_cstr(t, "null");
        return;
    case LLMC_JSON_BOOL:
        llmc_text_cstr(t, v->boolean ? "true" : "false");
        return;
    case LLMC_JSON_NUMBER:
        if (v->is_int)
            llmc_text_printf(t, "%lld", (long long)v->integer);
        else if (isfinite(v->number)) {
            /* written so that it reads back as the same double, never as an integer (-0 stays -0) */
            char num[40];
            snprintf(num, sizeof num, "%.17g", v->number);
            llmc_text_cstr(t, num);
            if (!strpbrk(num, ".e"))
                llmc_text_cstr(t, ".0");
        } else
            llmc_text_cstr(t, "null");
        return;
    case LLMC_JSON_STRING:
        llmc_text_json_str(t, v->str, v->len);
        return;
    case LLMC_JSON_ARRAY:
    case LLMC_JSON_OBJECT: {
        int obj = v->type == LLMC_JSON_OBJECT;
        llmc_text_put(t, obj ? "{" : "[", 1);
        for (const LlmcJson *e = v->child; e; e = e->next) {
            if (e != v->child)
                llmc_text_put(t, ",", 1);
            if (obj) {
                llmc_text_json_str(t, e->key, e->key_len);
                llmc_text_put(t, ":", 1);
            }
            llmc_text_json(t, e);
        }
        llmc_text_put(t, obj ? "}" : "]", 1);
        return;
    }
    }
}

void llmc_text_free(LlmcText *t)
{
    free(t->p);
    *t = (LlmcText){0};
}
