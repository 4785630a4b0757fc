/* jinja.c — rendering chat templates (jinja.h: llmc_jinja_render): the values, the JSON context,
 * and the walk over the syntax tree jinja_parse.c built.
 *
 * The behaviour is that of the JavaScript port transformers.js uses (@huggingface/jinja), which
 * the tests compare against, except where it departs from Python's Jinja in ways chat templates
 * rely on (jinja.h, docs/chat.md):
 *   - one scope per template, one per for loop (shared by its iterations: a set inside the loop
 *     is seen by later iterations, not after the loop; namespace() is how templates carry values
 *     out), one per macro call;
 *   - values: undefined, none, booleans, integers, floats, strings (bytes), lists (tuples
 *     alike), dicts (in insertion order), namespaces, macros; output of none and undefined is
 *     nothing, of a list or dict its JSON; an undefined value's attributes are undefined.
 * Everything a render allocates lives in one arena freed at the end; the limits of jinja_impl.h
 * stop a run-away template with a message.
 */
#include "jinja_impl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "grow.h"

/* ---- arena ---- */

void *jinja_alloc(Arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        if (a->total + cap > MAX_MEMORY) {
            a->over = true;
            return NULL;
        }
        a->total += cap;
        ABlock *b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

void jinja_arena_free(Arena *a)
{
    for (ABlock *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}
static bool list_push(Arena *a, JList *l, JVal v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        JVal *p = jinja_alloc(a, cap * sizeof *p);
        if (!p)
            return false;
        if (l->n)
            memcpy(p, l->v, l->n * sizeof *p);
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return true;
}

static JVal *dict_find(const JDict *d, const char *k, size_t n)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->kn[i] == n && memcmp(d->kp[i], k, n) == 0)
            return &d->v[i];
    return NULL;
}

/* Sets key (whose bytes must outlive d: arena or template) to v. */
static bool dict_set(Arena *a, JDict *d, const char *k, size_t n, JVal v)
{
    JVal *have = dict_find(d, k, n);
    if (have) {
        *have = v;
        return true;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 8;
        const char **kp = jinja_alloc(a, cap * sizeof *kp);
        size_t *kn = jinja_alloc(a, cap * sizeof *kn);
        JVal *v2 = jinja_alloc(a, cap * sizeof *v2);
        if (!kp || !kn || !v2)
            return false;
        if (d->n) {
            memcpy(kp, d->kp, d->n * sizeof *kp);
            memcpy(kn, d->kn, d->n * sizeof *kn);
            memcpy(v2, d->v, d->n * sizeof *v2);
        }
        d->kp = kp;
        d->kn = kn;
        d->v = v2;
        d->cap = cap;
    }
    d->kp[d->n] = k;
    d->kn[d->n] = n;
    d->v[d->n++] = v;
    return true;
}

static bool truthy(JVal v)
{
    switch (v.kind) {
    case JV_UNDEF:
    case JV_NONE: return false;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0;
    case JV_STR: return v.u.s.n > 0;
    case JV_LIST: return v.u.l->n > 0;
    case JV_DICT: return v.u.d->n > 0;
    default: return true;
    }
}

static bool is_num(JVal v) { return v.kind == JV_INT || v.kind == JV_FLOAT || v.kind == JV_BOOL; }

static double num(JVal v)
{
    return v.kind == JV_INT ? (double)v.u.i : v.kind == JV_FLOAT ? v.u.f : v.kind == JV_BOOL ? (double)v.u.b : 0.0;
}

/* ---- growing text ---- */

typedef struct Buf {
    char *p;
    size_t n, cap;
    bool oom;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        char *p = llmc_grow(b->p, &b->cap, b->n + n + 1, 256);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_cstr(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* The shortest decimal that reads back as f, as JavaScript prints numbers, with ".0" on integral
 * values (the port prints floats so). */
static void fmt_float(char *out, size_t n, double f, bool integral_dot)
{
    if (isnan(f)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(f)) {
        snprintf(out, n, f < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (f == 0) {
        snprintf(out, n, signbit(f) && integral_dot ? "-0.0" : integral_dot ? "0.0" : "0");
        return;
    }
    if (integral_dot && f == floor(f) && fabs(f) < 1e21) {
        snprintf(out, n, "%.1f", f);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, f);
        if (strtod(out, NULL) == f)
            break;
    }
    /* %g writes e+07 / e-07; JavaScript writes e+7 / e-7 */
    char *e = strchr(out, 'e');
    if (e && (e[1] == '+' || e[1] == '-') && e[2] == '0')
        memmove(e + 2, e + 3, strlen(e + 3) + 1);
}

int llmc_json_quote(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    Buf b = {*buf, *len, *cap, false};
    buf_put(&b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            buf_put(&b, esc, 2);
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b" :
                                c == '\f' ? "\\f" : NULL;
            if (named) {
                buf_cstr(&b, named);
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                buf_cstr(&b, esc);
            }
        } else {
            buf_put(&b, (const char *)&c, 1);
        }
    }
    buf_put(&b, "\"", 1);
    *buf = b.p;
    *len = b.n;
    *cap = b.cap;
    return b.oom ? -1 : 0;
}

static void json_str(Buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    char *p = b->p;
    size_t len = b->n, cap = b->cap;
    if (llmc_json_quote(&p, &len, &cap, s, n))
        b->oom = true;
    b->p = p;
    b->n = len;
    b->cap = cap;
}

typedef struct JsonOpt {
    int indent;                 /* < 0: none */
    const char *item_sep, *key_sep;
    bool sort_keys, undef_null;
} JsonOpt;

static int cmp_keys(const char *a, size_t an, const char *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = memcmp(a, b, m);
    return c ? c : (an > bn) - (an < bn);
}

static bool to_json(Buf *b, JVal v, const JsonOpt *o, int depth)
{
    char num_buf[64];
    if (depth > MAX_DEPTH)
        return false;
    switch (v.kind) {
    case JV_UNDEF: buf_cstr(b, o->undef_null ? "null" : "undefined"); return true;
    case JV_NONE: buf_cstr(b, "null"); return true;
    case JV_BOOL: buf_cstr(b, v.u.b ? "true" : "false"); return true;
    case JV_INT:
        snprintf(num_buf, sizeof num_buf, "%lld", (long long)v.u.i);
        buf_cstr(b, num_buf);
        return true;
    case JV_FLOAT:
        fmt_float(num_buf, sizeof num_buf, v.u.f, false);
        buf_cstr(b, isfinite(v.u.f) ? num_buf : "null");
        return true;
    case JV_STR: json_str(b, v.u.s.p, v.u.s.n); return true;
    case JV_MACRO: return false;
    case JV_LIST: {
        const JList *l = v.u.l;
        buf_put(b, "[", 1);
        for (size_t i = 0; i < l->n; i++) {
            if (i)
                buf_cstr(b, o->item_sep);
            if (o->indent >= 0) {
                buf_put(b, "\n", 1);
                for (int k = 0; k < (depth + 1) * o->indent; k++)
                    buf_put(b, " ", 1);
            }
            if (!to_json(b, l->v[i], o, depth + 1))
                return false;
        }
        if (o->indent >= 0 && l->n) {
            buf_put(b, "\n", 1);
            for (int k = 0; k < depth * o->indent; k++)
                buf_put(b, " ", 1);
        }
        buf_put(b, "]", 1);
        return true;
    }
    default: { /* dict, namespace */
        const JDict *d = v.u.d;
        size_t order[d->n ? d->n : 1];
        for (size_t i = 0; i < d->n; i++)
            order[i] = i;
        if (o->sort_keys)   /* insertion sort: stable, dicts are small */
            for (size_t i = 1; i < d->n; i++)
                for (size_t k = i; k > 0 && cmp_keys(d->kp[order[k - 1]], d->kn[order[k - 1]], d->kp[order[k]],
                                                     d->kn[order[k]]) > 0; k--) {
                    size_t t = order[k];
                    order[k] = order[k - 1];
                    order[k - 1] = t;
                }
        buf_put(b, "{", 1);
        for (size_t j = 0; j < d->n; j++) {
            size_t i = order[j];
            if (j)
                buf_cstr(b, o->item_sep);
            if (o->indent >= 0) {
                buf_put(b, "\n", 1);
                for (int k = 0; k < (depth + 1) * o->indent; k++)
                    buf_put(b, " ", 1);
            }
            json_str(b, d->kp[i], d->kn[i]);
            buf_cstr(b, o->key_sep);
            if (!to_json(b, d->v[i], o, depth + 1))
                return false;
        }
        if (o->indent >= 0 && d->n) {
            buf_put(b, "\n", 1);
            for (int k = 0; k < depth * o->indent; k++)
                buf_put(b, " ", 1);
        }
        buf_put(b, "}", 1);
        return true;
    }
    }
}

/* ---- parsing JSON (the render context) ---- */

typedef struct JsonP {
    const char *p, *end;
    Arena *a;
    int depth;
    const char *err;
} JsonP;

static void jp_ws(JsonP *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

size_t jinja_put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static bool jp_u4(JsonP *j, uint32_t *v)
{
    if (j->end - j->p < 4)
        return false;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)j->p[i]);
        if (h < 0)
            return false;
        *v = *v << 4 | (uint32_t)h;
    }
    j->p += 4;
    return true;
}

static bool jp_string(JsonP *j, const char **out, size_t *n)
{
    j->p++;   /* the quote */
    const char *s = j->p;
    size_t cap = 0;
    while (s < j->end && *s != '"') {
        if (*s == '\\')
            s++;
        s++;
        cap += 1;
    }
    char *o = jinja_alloc(j->a, (size_t)(s - j->p) + 1);
    if (!o) {
        j->err = "out of memory";
        return false;
    }
    size_t k = 0;
    (void)cap;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20) {
            j->err = "control character in a string";
            return false;
        }
        if (c != '\\') {
            o[k++] = (char)c;
            continue;
        }
        if (j->p >= j->end)
            break;
        char e = *j->p++;
        uint32_t cp, lo;
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u':
            if (!jp_u4(j, &cp)) {
                j->err = "bad \\u escape";
                return false;
            }
            if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
                const char *save = j->p;
                j->p += 2;
                if (jp_u4(j, &lo) && lo >= 0xdc00 && lo < 0xe000)
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                else
                    j->p = save;
            }
            if (cp >= 0xd800 && cp < 0xe000)
                cp = 0xfffd;   /* a lone surrogate */
            /* "\uXXXX" is 6 bytes and gives at most 3; a pair is 12 bytes and gives 4 */
            k += jinja_put_utf8(o + k, cp);
            break;
        default: j->err = "bad escape in a string"; return false;
        }
    }
    if (j->p >= j->end) {
        j->err = "unterminated string";
        return false;
    }
    j->p++;
    o[k] = 0;
    *out = o;
    *n = k;
    return true;
}

static bool jp_value(JsonP *j, JVal *out)
{
    jp_ws(j);
    if (j->p >= j->end) {
        j->err = "unexpected end";
        return false;
    }
    if (++j->depth > MAX_DEPTH) {
        j->err = "nested too deeply";
        return false;
    }
    char c = *j->p;
    bool ok = true;
    if (c == '{') {
        JDict *d = jinja_alloc(j->a, sizeof *d);
        if (!d)
            return j->err = "out of memory", false;
        memset(d, 0, sizeof *d);
        j->p++;
        jp_ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
        } else {
            for (;;) {
                jp_ws(j);
                const char *k;
                size_t kn;
                JVal v;
                if (j->p >= j->end || *j->p != '"' || !jp_string(j, &k, &kn)) {
                    if (!j->err)
                        j->err = "expected a key";
                    return false;
                }
                jp_ws(j);
                if (j->p >= j->end || *j->p != ':')
                    return j->err = "expected ':'", false;
                j->p++;
                if (!jp_value(j, &v))
                    return false;
                if (!dict_set(j->a, d, k, kn, v))
                    return j->err = "out of memory", false;
                jp_ws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == '}') {
                    j->p++;
                    break;
                }
                return j->err = "expected ',' or '}'", false;
            }
        }
        out->kind = JV_DICT;
        out->u.d = d;
    } else if (c == '[') {
        JList *l = jinja_alloc(j->a, sizeof *l);
        if (!l)
            return j->err = "out of memory", false;
        memset(l, 0, sizeof *l);
        j->p++;
        jp_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
        } else {
            for (;;) {
                JVal v;
                if (!jp_value(j, &v))
                    return false;
                if (!list_push(j->a, l, v))
                    return j->err = "out of memory", false;
                jp_ws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p < j->end && *j->p == ']') {
                    j->p++;
                    break;
                }
                return j->err = "expected ',' or ']'", false;
            }
        }
        out->kind = JV_LIST;
        out->u.l = l;
    } else if (c == '"') {
        const char *s;
        size_t n;
        if (!jp_string(j, &s, &n))
            return false;
        *out = jstr(s, n);
    } else if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
        j->p += 4;
        *out = jbool(true);
    } else if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
        j->p += 5;
        *out = jbool(false);
    } else if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
        j->p += 4;
        *out = kNone;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        char tmp[64];
        size_t n = 0;
        while (j->p < j->end && n + 1 < sizeof tmp && strchr("+-0123456789.eE", *j->p))
            tmp[n++] = *j->p++;
        tmp[n] = 0;
        char *end;
        errno = 0;
        double f = strtod(tmp, &end);
        if (end != tmp + n || n == 0)
            return j->err = "bad number", false;
        /* As JavaScript sees them: an integral number is an integer. */
        if (f == floor(f) && fabs(f) < 9007199254740992.0)
            *out = jint((int64_t)f);
        else
            *out = jfloat(f);
    } else {
        j->err = "unexpected character";
        ok = false;
    }
    j->depth--;
    return ok;
}

/* ---- text helpers ---- */

int jinja_fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err && errlen) {
        if (line > 0)
            snprintf(err, errlen, "line %d: %s", line, msg);
        else
            snprintf(err, errlen, "%s", msg);
    }
    return -1;
}

/* The whitespace the port trims (JavaScript's \s): ASCII, and in UTF-8 NBSP, OGHAM SPACE MARK,
 * U+2000..U+200A, LINE/PARAGRAPH SEPARATOR, NNBSP, MMSP, IDEOGRAPHIC SPACE, BOM. Returns the
 * byte length of the whitespace character at s, 0 when there is none. */
size_t jinja_ws_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    if (c == ' ' || (c >= 9 && c <= 13))
        return 1;
    if (c == 0xc2 && n >= 2 && (unsigned char)s[1] == 0xa0)
        return 2;
    if (c == 0xe1 && n >= 3 && (unsigned char)s[1] == 0x9a && (unsigned char)s[2] == 0x80)
        return 3;
    if (c == 0xe2 && n >= 3) {
        unsigned c1 = (unsigned char)s[1], c2 = (unsigned char)s[2];
        if (c1 == 0x80 && (c2 <= 0x8a || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf))
            return 3;
        if (c1 == 0x81 && c2 == 0x9f)
            return 3;
    }
    if (c == 0xe3 && n >= 3 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] == 0x80)
        return 3;
    if (c == 0xef && n >= 3 && (unsigned char)s[1] == 0xbb && (unsigned char)s[2] == 0xbf)
        return 3;
    return 0;
}

/* The length of s[0..n) without its trailing whitespace. */
size_t jinja_rtrim_len(const char *s, size_t n)
{
    for (;;) {
        size_t k = 0;
        for (size_t back = 1; back <= 3 && back <= n && !k; back++)
            if (jinja_ws_len(s + n - back, back) == back)
                k = back;
        if (!k)
            return n;
        n -= k;
    }
}

size_t jinja_ltrim_len(const char *s, size_t n)
{
    size_t i = 0, k;
    while (i < n && (k = jinja_ws_len(s + i, n - i)) > 0)
        i += k;
    return i;
}

/* transformers' template settings, applied to the text as the port does before lexing. */
/* ---- rendering ---- */

typedef struct Env {
    struct Env *parent;
    JDict vars;
} Env;

typedef struct R {
    Arena a;
    Buf out;
    char *err;
    size_t errlen;
    bool failed;
    int depth;
    long steps;
} R;

static JVal rerr(R *r, const Node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static JVal rerr(R *r, const Node *n, const char *fmt, ...)
{
    if (!r->failed && r->a.over) {   /* every "out of memory" of a render is this one first */
        jinja_fail(r->err, r->errlen, n ? n->line : 0, "the template uses more than %zu MiB", MAX_MEMORY >> 20);
        r->failed = true;
    }
    if (!r->failed) {
        char msg[600];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        jinja_fail(r->err, r->errlen, n ? n->line : 0, "%s", msg);
        r->failed = true;
    }
    return kUndef;
}

static const char *kind_name(JVal v)
{
    static const char *const names[] = {"undefined", "none", "a boolean", "an integer", "a float", "a string",
                                        "a list", "a dict", "a namespace", "a macro"};
    return names[v.kind];
}

static JVal *env_find(Env *e, const char *s, size_t n)
{
    for (; e; e = e->parent) {
        JVal *v = dict_find(&e->vars, s, n);
        if (v)
            return v;
    }
    return NULL;
}

static bool env_set(R *r, Env *e, const char *s, size_t n, JVal v)
{
    if (!dict_set(&r->a, &e->vars, s, n, v)) {
        rerr(r, NULL, "out of memory");
        return false;
    }
    return true;
}

static JVal new_list(R *r)
{
    JList *l = jinja_alloc(&r->a, sizeof *l);
    if (!l)
        return rerr(r, NULL, "out of memory");
    memset(l, 0, sizeof *l);
    JVal v = {JV_LIST, {0}};
    v.u.l = l;
    return v;
}

static JVal new_dict(R *r, JKind kind)
{
    JDict *d = jinja_alloc(&r->a, sizeof *d);
    if (!d)
        return rerr(r, NULL, "out of memory");
    memset(d, 0, sizeof *d);
    JVal v = {kind, {0}};
    v.u.d = d;
    return v;
}

static bool lpush(R *r, JVal list, JVal v)
{
    if (!list_push(&r->a, list.u.l, v)) {
        rerr(r, NULL, "out of memory");
        return false;
    }
    return true;
}

static JVal astr(R *r, const char *s, size_t n)
{
    char *p = jinja_alloc(&r->a, n + 1);
    if (!p)
        return rerr(r, NULL, "out of memory");
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return jstr(p, n);
}

static JVal concat(R *r, const char *a, size_t an, const char *b, size_t bn)
{
    char *p = jinja_alloc(&r->a, an + bn + 1);
    if (!p)
        return rerr(r, NULL, "out of memory");
    memcpy(p, a, an);
    memcpy(p + an, b, bn);
    p[an + bn] = 0;
    return jstr(p, an + bn);
}

static const JsonOpt kJsonDefault = {-1, ", ", ": ", false, true};
static const JsonOpt kJsonPrint = {-1, ", ", ": ", false, false};

/* str(v) as the port prints values: none "None"-less (nothing is printed for none and undefined
 * by output; here "None"), booleans "true"/"false", floats with ".0", containers as JSON. */
static JVal to_str(R *r, JVal v)
{
    char tmp[64];
    switch (v.kind) {
    case JV_STR: return v;
    case JV_UNDEF: return jstr("", 0);
    case JV_NONE: return jstr("None", 4);
    case JV_BOOL: return v.u.b ? jstr("true", 4) : jstr("false", 5);
    case JV_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i);
        return astr(r, tmp, strlen(tmp));
    case JV_FLOAT:
        fmt_float(tmp, sizeof tmp, v.u.f, true);
        return astr(r, tmp, strlen(tmp));
    case JV_MACRO: return jstr("<macro>", 7);
    default: {
        Buf b = {NULL, 0, 0, false};
        if (!to_json(&b, v, &kJsonPrint, 0) || b.oom) {
            free(b.p);
            return rerr(r, NULL, "cannot print this value");
        }
        JVal s = astr(r, b.p, b.n);
        free(b.p);
        return s;
    }
    }
}

static bool jequal(JVal a, JVal b)
{
    if ((a.kind == JV_NONE || a.kind == JV_UNDEF) && (b.kind == JV_NONE || b.kind == JV_UNDEF))
        return true;   /* JavaScript: null == undefined */
    if (is_num(a) && is_num(b))
        return num(a) == num(b);
    if (a.kind != b.kind)
        return false;
    switch (a.kind) {
    case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case JV_LIST: return a.u.l == b.u.l;
    case JV_DICT:
    case JV_NS: return a.u.d == b.u.d;
    case JV_MACRO: return a.u.m == b.u.m;
    default: return false;
    }
}

/* <0, 0, >0; -2 when the two cannot be ordered. */
static int jcompare(JVal a, JVal b, bool case_sensitive)
{
    if (is_num(a) && is_num(b)) {
        double x = num(a), y = num(b);
        return x < y ? -1 : x > y;
    }
    if (a.kind == JV_STR && b.kind == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int c = 0;
        for (size_t i = 0; i < n && !c; i++) {
            int x = (unsigned char)a.u.s.p[i], y = (unsigned char)b.u.s.p[i];
            if (!case_sensitive) {
                x = x >= 'A' && x <= 'Z' ? x + 32 : x;
                y = y >= 'A' && y <= 'Z' ? y + 32 : y;
            }
            c = x - y;
        }
        return c ? c : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
    }
    if (a.kind == JV_NONE && b.kind == JV_NONE)
        return 0;
    return -2;
}

static bool contains_str(JVal hay, JVal needle)
{
    if (needle.u.s.n == 0)
        return true;
    return hay.u.s.n >= needle.u.s.n && memmem(hay.u.s.p, hay.u.s.n, needle.u.s.p, needle.u.s.n) != NULL;
}

static JVal ev(R *r, Env *e, const Node *n);

/* v in container: substring, list member, dict key; undefined container: false. */
static int membership(R *r, const Node *n, JVal v, JVal in)
{
    if (in.kind == JV_UNDEF)
        return 0;
    if (in.kind == JV_STR && v.kind == JV_STR)
        return contains_str(in, v);
    if (in.kind == JV_LIST) {
        for (size_t i = 0; i < in.u.l->n; i++)
            if (jequal(in.u.l->v[i], v) && in.u.l->v[i].kind == v.kind)
                return 1;
            else if (is_num(v) && is_num(in.u.l->v[i]) && num(v) == num(in.u.l->v[i]))
                return 1;
        return 0;
    }
    if ((in.kind == JV_DICT || in.kind == JV_NS) && v.kind == JV_STR)
        return dict_find(in.u.d, v.u.s.p, v.u.s.n) != NULL;
    rerr(r, n, "'in' needs a string, list or dict on its right, found %s", kind_name(in));
    return -1;
}

static JVal binop(R *r, Env *e, const Node *n)
{
    JVal a = ev(r, e, n->a);
    if (r->failed)
        return kUndef;
    if (n->op == OP_AND)
        return truthy(a) ? ev(r, e, n->b) : a;
    if (n->op == OP_OR)
        return truthy(a) ? a : ev(r, e, n->b);
    JVal b = ev(r, e, n->b);
    if (r->failed)
        return kUndef;
    switch (n->op) {
    case OP_EQ: return jbool(jequal(a, b));
    case OP_NE: return jbool(!jequal(a, b));
    case OP_IN:
    case OP_NOTIN: {
        int m = membership(r, n, a, b);
        if (m < 0)
            return kUndef;
        return jbool(n->op == OP_IN ? m : !m);
    }
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: {
        int c = jcompare(a, b, true);
        if (c == -2)
            return rerr(r, n, "cannot compare %s with %s", kind_name(a), kind_name(b));
        return jbool(n->op == OP_LT ? c < 0 : n->op == OP_LE ? c <= 0 : n->op == OP_GT ? c > 0 : c >= 0);
    }
    case OP_CAT: {
        if (a.kind == JV_NONE || b.kind == JV_NONE)
            return rerr(r, n, "'~' on none");
        JVal x = to_str(r, a), y = to_str(r, b);
        return r->failed ? kUndef : concat(r, x.u.s.p, x.u.s.n, y.u.s.p, y.u.s.n);
    }
    default: break;
    }
    /* arithmetic */
    if (a.kind == JV_UNDEF || b.kind == JV_UNDEF)
        return rerr(r, n, "arithmetic on an undefined value");
    if (n->op == OP_ADD && a.kind == JV_LIST && b.kind == JV_LIST) {
        JVal l = new_list(r);
        for (size_t i = 0; !r->failed && i < a.u.l->n; i++)
            lpush(r, l, a.u.l->v[i]);
        for (size_t i = 0; !r->failed && i < b.u.l->n; i++)
            lpush(r, l, b.u.l->v[i]);
        return l;
    }
    if (n->op == OP_ADD && (a.kind == JV_STR || b.kind == JV_STR)) {
        if (a.kind == JV_NONE || b.kind == JV_NONE)
            return rerr(r, n, "'+' on none");
        JVal x = to_str(r, a), y = to_str(r, b);
        return r->failed ? kUndef : concat(r, x.u.s.p, x.u.s.n, y.u.s.p, y.u.s.n);
    }
    if (n->op == OP_MUL && ((a.kind == JV_STR && b.kind == JV_INT) || (a.kind == JV_INT && b.kind == JV_STR))) {
        JVal s = a.kind == JV_STR ? a : b;
        int64_t k = a.kind == JV_INT ? a.u.i : b.u.i;
        if (k <= 0)
            return jstr("", 0);
        if ((uint64_t)k * s.u.s.n > MAX_OUTPUT)
            return rerr(r, n, "string repeated past the output limit");
        char *p = jinja_alloc(&r->a, (size_t)k * s.u.s.n + 1);
        if (!p)
            return rerr(r, n, "out of memory");
        for (int64_t i = 0; i < k; i++)
            memcpy(p + (size_t)i * s.u.s.n, s.u.s.p, s.u.s.n);
        p[(size_t)k * s.u.s.n] = 0;
        return jstr(p, (size_t)k * s.u.s.n);
    }
    if (!is_num(a) || !is_num(b))
        return rerr(r, n, "arithmetic on %s and %s", kind_name(a), kind_name(b));
    bool fl = a.kind == JV_FLOAT || b.kind == JV_FLOAT;
    double x = num(a), y = num(b);
    int64_t ix = (int64_t)x, iy = (int64_t)y;
    switch (n->op) {
    case OP_ADD: return fl ? jfloat(x + y) : jint(ix + iy);
    case OP_SUB: return fl ? jfloat(x - y) : jint(ix - iy);
    case OP_MUL: return fl ? jfloat(x * y) : jint(ix * iy);
    case OP_DIV:
        if (y == 0)
            return rerr(r, n, "division by zero");
        return jfloat(x / y);
    case OP_FLOORDIV:
        if (y == 0)
            return rerr(r, n, "division by zero");
        return fl ? jfloat(floor(x / y)) : jint((int64_t)floor(x / y));
    case OP_MOD:
        if (y == 0)
            return rerr(r, n, "modulo by zero");
        return fl ? jfloat(fmod(x, y)) : jint(ix % iy);
    default: { /* OP_POW */
        double p = pow(x, y);
        if (!isfinite(p))
            return rerr(r, n, "'**' gives no finite number");
        return fl || y < 0 ? jfloat(p) : jint((int64_t)p);
    }
    }
}

/* Python's slice of a list or string. */
static JVal slice(R *r, const Node *n, JVal obj, JVal jstart, JVal jstop, JVal jstep)
{
    if (obj.kind != JV_LIST && obj.kind != JV_STR)
        return rerr(r, n, "cannot slice %s", kind_name(obj));
    for (int k = 0; k < 3; k++) {
        JVal v = k == 0 ? jstart : k == 1 ? jstop : jstep;
        if (v.kind != JV_UNDEF && v.kind != JV_NONE && v.kind != JV_INT)
            return rerr(r, n, "slice bounds must be integers");
    }
    int64_t len = obj.kind == JV_LIST ? (int64_t)obj.u.l->n : (int64_t)obj.u.s.n;
    int64_t step = jstep.kind == JV_INT ? jstep.u.i : 1;
    if (step == 0)
        return rerr(r, n, "slice step cannot be zero");
    int64_t start, stop;
    if (step > 0) {
        start = jstart.kind == JV_INT ? jstart.u.i : 0;
        stop = jstop.kind == JV_INT ? jstop.u.i : len;
        start = start < 0 ? (len + start > 0 ? len + start : 0) : (start < len ? start : len);
        stop = stop < 0 ? (len + stop > 0 ? len + stop : 0) : (stop < len ? stop : len);
    } else {
        start = jstart.kind == JV_INT ? jstart.u.i : len - 1;
        stop = jstop.kind == JV_INT ? jstop.u.i : -1 - len;
        start = start < 0 ? (len + start > -1 ? len + start : -1) : (start < len - 1 ? start : len - 1);
        stop = stop < 0 ? (len + stop > -1 ? len + stop : -1) : (stop < len - 1 ? stop : len - 1);
    }
    if (obj.kind == JV_LIST) {
        JVal l = new_list(r);
        for (int64_t i = start; !r->failed && (step > 0 ? i < stop : i > stop); i += step)
            lpush(r, l, obj.u.l->v[i]);
        return l;
    }
    /* strings: by bytes (templates slice ASCII) */
    Buf b = {NULL, 0, 0, false};
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        buf_put(&b, obj.u.s.p + i, 1);
    JVal s = astr(r, b.p ? b.p : "", b.n);
    free(b.p);
    return s;
}

/* obj[key] and obj.name: dict entries, list and string items (negative from the end); a missing
 * entry is undefined. */
static JVal item(R *r, const Node *n, JVal obj, JVal key)
{
    if (obj.kind == JV_DICT || obj.kind == JV_NS) {
        if (key.kind != JV_STR)
            return kUndef;
        JVal *v = dict_find(obj.u.d, key.u.s.p, key.u.s.n);
        return v ? *v : kUndef;
    }
    if ((obj.kind == JV_LIST || obj.kind == JV_STR) && key.kind == JV_INT) {
        int64_t len = obj.kind == JV_LIST ? (int64_t)obj.u.l->n : (int64_t)obj.u.s.n, i = key.u.i;
        if (i < 0)
            i += len;
        if (i < 0 || i >= len)
            return kUndef;
        if (obj.kind == JV_LIST)
            return obj.u.l->v[i];
        return astr(r, obj.u.s.p + i, 1);
    }
    if ((obj.kind == JV_LIST || obj.kind == JV_STR) && key.kind == JV_STR && key.u.s.n == 6 &&
        memcmp(key.u.s.p, "length", 6) == 0)
        return jint(obj.kind == JV_LIST ? (int64_t)obj.u.l->n : (int64_t)obj.u.s.n);
    (void)n;
    return kUndef;
}

/* Arguments evaluated: positional in pos[], keyword ones by name. */
typedef struct Args {
    JVal pos[8];
    int n_pos;
    const char *kname[8];
    size_t klen[8];
    JVal kval[8];
    int n_kw;
} Args;

static bool eval_args(R *r, Env *e, const NodeList *l, Args *out, const Node *at)
{
    out->n_pos = out->n_kw = 0;
    for (int i = 0; i < l->n; i++) {
        const Node *x = l->v[i];
        if (x->kind == E_KWARG) {
            if (out->n_kw == 8) {
                rerr(r, at, "more than 8 keyword arguments");
                return false;
            }
            out->kname[out->n_kw] = x->s;
            out->klen[out->n_kw] = x->n;
            out->kval[out->n_kw++] = ev(r, e, x->a);
        } else {
            if (out->n_pos == 8) {
                rerr(r, at, "more than 8 arguments");
                return false;
            }
            out->pos[out->n_pos++] = ev(r, e, x);
        }
        if (r->failed)
            return false;
    }
    return true;
}

/* Argument i, or keyword name, or the default. */
static JVal arg(const Args *a, int i, const char *name, JVal def)
{
    if (i >= 0 && i < a->n_pos)
        return a->pos[i];
    for (int k = 0; name && k < a->n_kw; k++)
        if (a->klen[k] == strlen(name) && memcmp(a->kname[k], name, a->klen[k]) == 0)
            return a->kval[k];
    return def;
}

/* Python's str.strip family: chars given, or whitespace. which: 1 left, 2 right, 3 both. */
static JVal strip(JVal s, JVal chars, int which)
{
    const char *p = s.u.s.p;
    size_t a = 0, b = s.u.s.n;
    if (chars.kind == JV_STR) {
        while ((which & 1) && a < b && memchr(chars.u.s.p, p[a], chars.u.s.n))
            a++;
        while ((which & 2) && b > a && memchr(chars.u.s.p, p[b - 1], chars.u.s.n))
            b--;
    } else {
        if (which & 1)
            a = jinja_ltrim_len(p, b);
        if (which & 2)
            b = a + jinja_rtrim_len(p + a, b - a);
    }
    return jstr(p + a, b - a);
}

static JVal case_map(R *r, JVal s, int mode)   /* 0 upper, 1 lower, 2 title, 3 capitalize */
{
    char *o = jinja_alloc(&r->a, s.u.s.n + 1);
    if (!o)
        return rerr(r, NULL, "out of memory");
    bool word = false;
    for (size_t i = 0; i < s.u.s.n; i++) {
        char c = s.u.s.p[i];
        bool up = mode == 0 || (mode == 2 && !word) || (mode == 3 && i == 0);
        bool down = mode == 1 || (mode == 3 && i > 0);
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (down && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        o[i] = c;
        word = is_word_char(s.u.s.p[i]) || ((unsigned char)s.u.s.p[i] >= 0x80);
    }
    o[s.u.s.n] = 0;
    return jstr(o, s.u.s.n);
}

static JVal replace_str(R *r, JVal s, JVal from, JVal to, int64_t count)
{
    Buf b = {NULL, 0, 0, false};
    size_t i = 0;
    int64_t done = 0;
    if (from.u.s.n == 0) {   /* Python: inserts to between every character */
        for (; i <= s.u.s.n; i++) {
            if (count < 0 || done < count) {
                buf_put(&b, to.u.s.p, to.u.s.n);
                done++;
            }
            if (i < s.u.s.n)
                buf_put(&b, s.u.s.p + i, 1);
        }
    } else {
        while (i < s.u.s.n) {
            if ((count < 0 || done < count) && s.u.s.n - i >= from.u.s.n &&
                memcmp(s.u.s.p + i, from.u.s.p, from.u.s.n) == 0) {
                buf_put(&b, to.u.s.p, to.u.s.n);
                i += from.u.s.n;
                done++;
            } else {
                buf_put(&b, s.u.s.p + i++, 1);
            }
        }
    }
    if (b.oom) {
        free(b.p);
        return rerr(r, NULL, "out of memory");
    }
    JVal v = astr(r, b.p ? b.p : "", b.n);
    free(b.p);
    return v;
}

/* Python's str.split. */
static JVal split(R *r, JVal s, JVal sep, int64_t maxsplit)
{
    JVal l = new_list(r);
    const char *p = s.u.s.p;
    size_t n = s.u.s.n, i = 0;
    int64_t done = 0;
    if (sep.kind != JV_STR) {
        for (;;) {
            i += jinja_ltrim_len(p + i, n - i);
            if (i >= n)
                break;
            if (maxsplit >= 0 && done >= maxsplit) {
                lpush(r, l, jstr(p + i, jinja_rtrim_len(p + i, n - i)));
                break;
            }
            size_t j = i;
            while (j < n && !jinja_ws_len(p + j, n - j))
                j++;
            lpush(r, l, jstr(p + i, j - i));
            done++;
            i = j;
        }
        return l;
    }
    if (sep.u.s.n == 0)
        return rerr(r, NULL, "split(): empty separator");
    for (;;) {
        const char *hit = maxsplit >= 0 && done >= maxsplit ? NULL : memmem(p + i, n - i, sep.u.s.p, sep.u.s.n);
        if (!hit) {
            lpush(r, l, jstr(p + i, n - i));
            break;
        }
        lpush(r, l, jstr(p + i, (size_t)(hit - (p + i))));
        i = (size_t)(hit - p) + sep.u.s.n;
        done++;
    }
    return l;
}

static JVal join(R *r, JVal list, JVal sep)
{
    Buf b = {NULL, 0, 0, false};
    const JList *l = list.u.l;
    for (size_t i = 0; i < l->n && !r->failed; i++) {
        if (i)
            buf_put(&b, sep.u.s.p, sep.u.s.n);
        JVal s = to_str(r, l->v[i]);
        if (!r->failed)
            buf_put(&b, s.u.s.p, s.u.s.n);
    }
    JVal v = b.oom ? rerr(r, NULL, "out of memory") : astr(r, b.p ? b.p : "", b.n);
    free(b.p);
    return v;
}

static JVal items_of(R *r, JVal d)
{
    JVal l = new_list(r);
    for (size_t i = 0; !r->failed && i < d.u.d->n; i++) {
        JVal pair = new_list(r);
        lpush(r, pair, jstr(d.u.d->kp[i], d.u.d->kn[i]));
        lpush(r, pair, d.u.d->v[i]);
        lpush(r, l, pair);
    }
    return l;
}

static JVal call_method(R *r, Env *e, const Node *n)
{
    JVal obj = ev(r, e, n->a);
    Args a;
    if (r->failed || !eval_args(r, e, &n->body, &a, n))
        return kUndef;
    int m = n->fn;
    if (obj.kind == JV_STR) {
        JVal s = obj, x = arg(&a, 0, NULL, kUndef);
        switch (m) {
        case M_upper: return case_map(r, s, 0);
        case M_lower: return case_map(r, s, 1);
        case M_title: return case_map(r, s, 2);
        case M_capitalize: return case_map(r, s, 3);
        case M_strip: return strip(s, x, 3);
        case M_lstrip: return strip(s, x, 1);
        case M_rstrip: return strip(s, x, 2);
        case M_startswith:
        case M_endswith: {
            JVal pats[64];
            size_t np = 0;
            if (x.kind == JV_STR)
                pats[np++] = x;
            else if (x.kind == JV_LIST)
                for (size_t i = 0; i < x.u.l->n && np < 64; i++)
                    pats[np++] = x.u.l->v[i];
            else
                return rerr(r, n, "%.*s() takes a string or a tuple of strings", (int)n->n, n->s);
            for (size_t i = 0; i < np; i++) {
                JVal q = pats[i];
                if (q.kind != JV_STR)
                    return rerr(r, n, "%.*s() takes a string or a tuple of strings", (int)n->n, n->s);
                if (q.u.s.n <= s.u.s.n &&
                    memcmp(m == M_startswith ? s.u.s.p : s.u.s.p + s.u.s.n - q.u.s.n, q.u.s.p, q.u.s.n) == 0)
                    return jbool(true);
            }
            return jbool(false);
        }
        case M_split: {
            JVal mx = arg(&a, 1, "maxsplit", jint(-1));
            if (x.kind != JV_STR && x.kind != JV_NONE && x.kind != JV_UNDEF)
                x = arg(&a, 0, "sep", kUndef);
            if (mx.kind != JV_INT)
                return rerr(r, n, "split(): maxsplit must be an integer");
            return split(r, s, x, mx.u.i);
        }
        case M_replace: {
            JVal to = arg(&a, 1, NULL, kUndef), cnt = arg(&a, 2, "count", jint(-1));
            if (x.kind != JV_STR || to.kind != JV_STR || cnt.kind != JV_INT)
                return rerr(r, n, "replace() takes two strings and a count");
            return replace_str(r, s, x, to, cnt.u.i);
        }
        case M_find:
        case M_count: {
            if (x.kind != JV_STR)
                return rerr(r, n, "%.*s() takes a string", (int)n->n, n->s);
            if (m == M_find) {
                const char *hit = x.u.s.n ? memmem(s.u.s.p, s.u.s.n, x.u.s.p, x.u.s.n) : s.u.s.p;
                return jint(hit ? (int64_t)(hit - s.u.s.p) : -1);
            }
            if (x.u.s.n == 0)
                return jint((int64_t)s.u.s.n + 1);
            int64_t c = 0;
            for (const char *p = s.u.s.p, *end = s.u.s.p + s.u.s.n, *hit;
                 (hit = memmem(p, (size_t)(end - p), x.u.s.p, x.u.s.n)) != NULL; p = hit + x.u.s.n)
                c++;
            return jint(c);
        }
        case M_join:
            if (x.kind != JV_LIST)
                return rerr(r, n, "join() takes a list");
            return join(r, x, s);
        case M_splitlines: {
            JVal l = new_list(r);
            size_t i = 0;
            while (i < s.u.s.n) {
                size_t j = i;
                while (j < s.u.s.n && s.u.s.p[j] != '\n' && s.u.s.p[j] != '\r')
                    j++;
                lpush(r, l, jstr(s.u.s.p + i, j - i));
                if (j < s.u.s.n && s.u.s.p[j] == '\r' && j + 1 < s.u.s.n && s.u.s.p[j + 1] == '\n')
                    j++;
                i = j + 1;
            }
            return l;
        }
        default: break;
        }
    } else if (obj.kind == JV_DICT || obj.kind == JV_NS) {
        switch (m) {
        case M_get: {
            JVal k = arg(&a, 0, NULL, kUndef), v = item(r, n, obj, k);
            return v.kind == JV_UNDEF ? arg(&a, 1, NULL, kNone) : v;
        }
        case M_items: return items_of(r, obj);
        case M_keys:
        case M_values: {
            JVal l = new_list(r);
            for (size_t i = 0; !r->failed && i < obj.u.d->n; i++)
                lpush(r, l, m == M_keys ? jstr(obj.u.d->kp[i], obj.u.d->kn[i]) : obj.u.d->v[i]);
            return l;
        }
        default: break;
        }
    } else if (obj.kind == JV_UNDEF) {
        return rerr(r, n, "%.*s() called on an undefined value", (int)n->n, n->s);
    }
    return rerr(r, n, "%s has no method %.*s()", kind_name(obj), (int)n->n, n->s);
}

static bool run_block(R *r, Env *e, const NodeList *l, int *ctl);

/* The output of a block as a string (macros, block sets, filter blocks). */
static JVal capture(R *r, Env *e, const NodeList *l)
{
    Buf saved = r->out;
    r->out = (Buf){NULL, 0, 0, false};
    int ctl = 0;
    run_block(r, e, l, &ctl);
    Buf got = r->out;
    r->out = saved;
    JVal v = got.oom ? rerr(r, NULL, "out of memory") : astr(r, got.p ? got.p : "", got.n);
    free(got.p);
    return v;
}

static JVal call_macro(R *r, Env *e, const Node *n)
{
    JVal *mv = env_find(e, n->s, n->n);
    if (!mv || mv->kind != JV_MACRO)
        return rerr(r, n, "'%.*s' is not a macro here", (int)n->n, n->s);
    const Node *m = mv->u.m;
    Args a;
    if (!eval_args(r, e, &n->body, &a, n))
        return kUndef;
    if (a.n_pos > m->alt.n)
        return rerr(r, n, "macro %.*s takes at most %d arguments", (int)m->n, m->s, m->alt.n);
    Env *scope = jinja_alloc(&r->a, sizeof *scope);
    if (!scope)
        return rerr(r, n, "out of memory");
    memset(scope, 0, sizeof *scope);
    scope->parent = e;
    for (int i = 0; i < m->alt.n; i++) {
        const Node *p = m->alt.v[i];
        JVal v = i < a.n_pos ? a.pos[i] : arg(&a, -1, NULL, kUndef);
        bool given = i < a.n_pos;
        for (int k = 0; !given && k < a.n_kw; k++)
            if (a.klen[k] == p->n && memcmp(a.kname[k], p->s, p->n) == 0) {
                v = a.kval[k];
                given = true;
            }
        if (!given && p->kind == E_KWARG)
            v = ev(r, scope, p->a);
        if (r->failed || !env_set(r, scope, p->s, p->n, v))
            return kUndef;
    }
    if (++r->depth > MAX_DEPTH)
        return rerr(r, n, "macros call each other too deeply");
    JVal out = capture(r, scope, &m->body);
    r->depth--;
    return out;
}

/* Python's %-style strftime for the few fields templates use. */
static JVal strftime_now(R *r, const Node *n, JVal fmt)
{
    if (fmt.kind != JV_STR)
        return rerr(r, n, "strftime_now() takes a format string");
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char f[256], out[512];
    size_t k = fmt.u.s.n < sizeof f - 1 ? fmt.u.s.n : sizeof f - 1;
    memcpy(f, fmt.u.s.p, k);
    f[k] = 0;
    size_t len = strftime(out, sizeof out, f, &tm);
    return astr(r, out, len);
}

static JVal call_function(R *r, Env *e, const Node *n)
{
    if (n->fn == G_MACRO)
        return call_macro(r, e, n);
    Args a;
    if (!eval_args(r, e, &n->body, &a, n))
        return kUndef;
    switch (n->fn) {
    case G_raise_exception: {
        JVal m = to_str(r, arg(&a, 0, NULL, jstr("raise_exception() called", 24)));
        return rerr(r, n, "the template raised an exception: %.*s", (int)m.u.s.n, m.u.s.p);
    }
    case G_range: {
        JVal x = arg(&a, 0, NULL, kUndef), y = arg(&a, 1, NULL, kUndef), z = arg(&a, 2, NULL, jint(1));
        if (x.kind != JV_INT || (y.kind != JV_INT && y.kind != JV_UNDEF) || z.kind != JV_INT || z.u.i == 0)
            return rerr(r, n, "range() takes integers (and a step other than 0)");
        int64_t start = y.kind == JV_INT ? x.u.i : 0, stop = y.kind == JV_INT ? y.u.i : x.u.i, step = z.u.i;
        JVal l = new_list(r);
        for (int64_t i = start; !r->failed && (step > 0 ? i < stop : i > stop); i += step) {
            if (++r->steps > MAX_STEPS)
                return rerr(r, n, "range() too long");
            lpush(r, l, jint(i));
        }
        return l;
    }
    case G_namespace:
    case G_dict: {
        JVal d = new_dict(r, n->fn == G_namespace ? JV_NS : JV_DICT);
        JVal src = arg(&a, 0, NULL, kUndef);
        if (src.kind == JV_DICT || src.kind == JV_NS)
            for (size_t i = 0; !r->failed && i < src.u.d->n; i++)
                if (!dict_set(&r->a, d.u.d, src.u.d->kp[i], src.u.d->kn[i], src.u.d->v[i]))
                    return rerr(r, n, "out of memory");
        for (int k = 0; !r->failed && k < a.n_kw; k++)
            if (!dict_set(&r->a, d.u.d, a.kname[k], a.klen[k], a.kval[k]))
                return rerr(r, n, "out of memory");
        return d;
    }
    case G_strftime_now: return strftime_now(r, n, arg(&a, 0, NULL, kUndef));
    default: return rerr(r, n, "unknown function");
    }
}

/* A test on v (the "is" operator). */
static int run_test(R *r, const Node *n, JVal v, const Args *a)
{
    JVal x = arg(a, 0, NULL, kUndef);
    switch (n->fn) {
    case T_boolean: return v.kind == JV_BOOL;
    case T_callable: return v.kind == JV_MACRO;
    case T_defined: return v.kind != JV_UNDEF;
    case T_undefined: return v.kind == JV_UNDEF;
    case T_none: return v.kind == JV_NONE;
    case T_string: return v.kind == JV_STR;
    case T_number: return v.kind == JV_INT || v.kind == JV_FLOAT;
    case T_integer: return v.kind == JV_INT;
    case T_float: return v.kind == JV_FLOAT;
    case T_mapping: return v.kind == JV_DICT;
    case T_iterable: return v.kind == JV_LIST || v.kind == JV_STR || v.kind == JV_DICT;
    case T_sequence: return v.kind == JV_LIST || v.kind == JV_STR || v.kind == JV_DICT;
    case T_true: return v.kind == JV_BOOL && v.u.b;
    case T_false: return v.kind == JV_BOOL && !v.u.b;
    case T_odd:
    case T_even:
        if (v.kind != JV_INT) {
            rerr(r, n, "'odd'/'even' need an integer");
            return -1;
        }
        return (v.u.i % 2 != 0) == (n->fn == T_odd);
    case T_divisibleby:
        if (v.kind != JV_INT || x.kind != JV_INT || x.u.i == 0) {
            rerr(r, n, "'divisibleby' needs integers");
            return -1;
        }
        return v.u.i % x.u.i == 0;
    case T_lower:
    case T_upper:
        if (v.kind != JV_STR)
            return 0;
        for (size_t i = 0; i < v.u.s.n; i++) {
            char c = v.u.s.p[i];
            if (n->fn == T_lower ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z'))
                return 0;
        }
        return 1;
    case T_eq:
    case T_equalto: return jequal(v, x);
    case T_ne: return !jequal(v, x);
    case T_sameas: return jequal(v, x) && v.kind == x.kind;
    case T_in: return membership(r, n, v, x);
    default: { /* lt le gt ge */
        int c = jcompare(v, x, true);
        if (c == -2) {
            rerr(r, n, "cannot compare %s with %s", kind_name(v), kind_name(x));
            return -1;
        }
        return n->fn == T_lt ? c < 0 : n->fn == T_le ? c <= 0 : n->fn == T_gt ? c > 0 : c >= 0;
    }
    }
}

/* obj's attribute path "a.b" (map, selectattr, sort). */
static JVal attr_path(R *r, const Node *n, JVal obj, JVal path)
{
    if (path.kind == JV_INT)
        return item(r, n, obj, path);
    if (path.kind != JV_STR)
        return kUndef;
    const char *p = path.u.s.p, *end = p + path.u.s.n;
    while (p <= end && obj.kind != JV_UNDEF) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        const char *stop = dot ? dot : end;
        JVal key = jstr(p, (size_t)(stop - p));
        if (obj.kind == JV_LIST) {
            char tmp[24];
            size_t kl = key.u.s.n < 23 ? key.u.s.n : 23;
            memcpy(tmp, key.u.s.p, kl);
            tmp[kl] = 0;
            char *e;
            long long idx = strtoll(tmp, &e, 10);
            key = *e || kl == 0 ? kUndef : jint(idx);
        }
        obj = item(r, n, obj, key);
        if (!dot)
            break;
        p = dot + 1;
    }
    return obj;
}

static JVal sorted(R *r, const Node *n, JVal list, bool reverse, bool case_sensitive, JVal attr)
{
    JVal out = new_list(r);
    size_t cnt = list.u.l->n;
    for (size_t i = 0; !r->failed && i < cnt; i++)
        lpush(r, out, list.u.l->v[i]);
    JVal *v = out.u.l->v;
    for (size_t i = 1; !r->failed && i < cnt; i++)   /* insertion sort: stable */
        for (size_t k = i; k > 0; k--) {
            JVal x = attr.kind == JV_UNDEF ? v[k - 1] : attr_path(r, n, v[k - 1], attr);
            JVal y = attr.kind == JV_UNDEF ? v[k] : attr_path(r, n, v[k], attr);
            int c = jcompare(x, y, case_sensitive);
            if (c == -2) {
                rerr(r, n, "cannot sort %s with %s", kind_name(x), kind_name(y));
                return kUndef;
            }
            if (reverse ? c >= 0 : c <= 0)
                break;
            JVal t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    return out;
}

static JVal apply_filter(R *r, Env *e, const Node *n, JVal v)
{
    Args a;
    if (!eval_args(r, e, &n->body, &a, n))
        return kUndef;
    JVal x = arg(&a, 0, NULL, kUndef);
    switch (n->fn) {
    case F_safe: return v;
    case F_tojson: {
        JVal ind = arg(&a, 0, "indent", kNone), sk = arg(&a, -1, "sort_keys", jbool(false));
        JVal seps = arg(&a, -1, "separators", kNone);
        JsonOpt o = kJsonDefault;
        if (ind.kind == JV_INT) {
            o.indent = (int)(ind.u.i < 0 ? 0 : ind.u.i > 64 ? 64 : ind.u.i);
            o.item_sep = ",";
        }
        o.sort_keys = truthy(sk);
        char isep[16], ksep[16];
        if (seps.kind == JV_LIST && seps.u.l->n == 2 && seps.u.l->v[0].kind == JV_STR &&
            seps.u.l->v[1].kind == JV_STR && seps.u.l->v[0].u.s.n < 16 && seps.u.l->v[1].u.s.n < 16) {
            memcpy(isep, seps.u.l->v[0].u.s.p, seps.u.l->v[0].u.s.n);
            isep[seps.u.l->v[0].u.s.n] = 0;
            memcpy(ksep, seps.u.l->v[1].u.s.p, seps.u.l->v[1].u.s.n);
            ksep[seps.u.l->v[1].u.s.n] = 0;
            o.item_sep = isep;
            o.key_sep = ksep;
        }
        Buf b = {NULL, 0, 0, false};
        if (!to_json(&b, v, &o, 0) || b.oom) {
            free(b.p);
            return rerr(r, n, "tojson: cannot write %s", kind_name(v));
        }
        JVal s = astr(r, b.p, b.n);
        free(b.p);
        return s;
    }
    case F_d:
    case F_default: {
        JVal def = arg(&a, 0, "default_value", jstr("", 0)), boolean = arg(&a, 1, "boolean", jbool(false));
        return v.kind == JV_UNDEF || (truthy(boolean) && !truthy(v)) ? def : v;
    }
    case F_length:
    case F_count:
        if (v.kind == JV_STR) {
            int64_t chars = 0;   /* characters, not bytes */
            for (size_t i = 0; i < v.u.s.n; i++)
                chars += ((unsigned char)v.u.s.p[i] & 0xc0) != 0x80;
            return jint(chars);
        }
        if (v.kind == JV_LIST)
            return jint((int64_t)v.u.l->n);
        if (v.kind == JV_DICT || v.kind == JV_NS)
            return jint((int64_t)v.u.d->n);
        if (v.kind == JV_UNDEF)
            return jint(0);
        return rerr(r, n, "length of %s", kind_name(v));
    case F_string: return to_str(r, v);
    case F_bool: return jbool(truthy(v));
    case F_int:
    case F_float: {
        JVal def = arg(&a, 0, "default", n->fn == F_int ? jint(0) : jfloat(0));
        if (v.kind == JV_STR) {
            char tmp[64];
            size_t k = v.u.s.n < 63 ? v.u.s.n : 63;
            memcpy(tmp, v.u.s.p, k);
            tmp[k] = 0;
            char *end;
            errno = 0;
            if (n->fn == F_int) {
                long long i = strtoll(tmp, &end, 10);
                return end == tmp || errno ? def : jint(i);
            }
            double f = strtod(tmp, &end);
            return end == tmp ? def : jfloat(f);
        }
        if (is_num(v))
            return n->fn == F_int ? jint((int64_t)num(v)) : jfloat(num(v));
        return def;
    }
    case F_abs:
        if (v.kind == JV_INT)
            return jint(v.u.i < 0 ? -v.u.i : v.u.i);
        if (v.kind == JV_FLOAT)
            return jfloat(fabs(v.u.f));
        return rerr(r, n, "abs of %s", kind_name(v));
    case F_round: {
        if (!is_num(v))
            return rerr(r, n, "round of %s", kind_name(v));
        JVal prec = arg(&a, 0, "precision", jint(0));
        double p = pow(10, prec.kind == JV_INT ? (double)prec.u.i : 0);
        return jfloat(round(num(v) * p) / p);
    }
    default: break;
    }
    if (v.kind == JV_STR) {
        switch (n->fn) {
        case F_upper: return case_map(r, v, 0);
        case F_lower: return case_map(r, v, 1);
        case F_title: return case_map(r, v, 2);
        case F_capitalize: return case_map(r, v, 3);
        case F_trim: return strip(v, arg(&a, 0, "chars", kUndef), 3);
        case F_replace: {
            JVal to = arg(&a, 1, NULL, kUndef), cnt = arg(&a, 2, "count", jint(-1));
            if (x.kind != JV_STR || to.kind != JV_STR || cnt.kind != JV_INT)
                return rerr(r, n, "replace takes two strings and a count");
            return replace_str(r, v, x, to, cnt.u.i);
        }
        case F_indent: {
            JVal width = arg(&a, 0, "width", jint(4)), first = arg(&a, 1, "first", jbool(false));
            JVal blank = arg(&a, 2, "blank", jbool(false));
            char pad[256];
            size_t pl = 0;
            if (width.kind == JV_STR) {
                pl = width.u.s.n < sizeof pad ? width.u.s.n : sizeof pad;
                memcpy(pad, width.u.s.p, pl);
            } else if (width.kind == JV_INT) {
                pl = width.u.i < 0 ? 0 : width.u.i > 255 ? 255 : (size_t)width.u.i;
                memset(pad, ' ', pl);
            }
            Buf b = {NULL, 0, 0, false};
            size_t i = 0, line = 0;
            while (i <= v.u.s.n) {
                const char *nl = memchr(v.u.s.p + i, '\n', v.u.s.n - i);
                size_t end = nl ? (size_t)(nl - v.u.s.p) : v.u.s.n;
                if (!((!truthy(first) && line == 0) || (!truthy(blank) && end == i)))
                    buf_put(&b, pad, pl);
                buf_put(&b, v.u.s.p + i, end - i);
                if (!nl)
                    break;
                buf_put(&b, "\n", 1);
                i = end + 1;
                line++;
            }
            JVal s = b.oom ? rerr(r, n, "out of memory") : astr(r, b.p ? b.p : "", b.n);
            free(b.p);
            return s;
        }
        case F_wordcount: {
            JVal l = split(r, v, kUndef, -1);
            return r->failed ? kUndef : jint((int64_t)l.u.l->n);
        }
        case F_join: return v;
        case F_list:
        case F_first:
        case F_last:
        case F_reverse: {
            JVal l = new_list(r);
            for (size_t i = 0; !r->failed && i < v.u.s.n;) {
                size_t k = 1;
                while (i + k < v.u.s.n && ((unsigned char)v.u.s.p[i + k] & 0xc0) == 0x80)
                    k++;
                lpush(r, l, jstr(v.u.s.p + i, k));
                i += k;
            }
            if (n->fn == F_list || r->failed)
                return l;
            if (n->fn == F_first)
                return l.u.l->n ? l.u.l->v[0] : kUndef;
            if (n->fn == F_last)
                return l.u.l->n ? l.u.l->v[l.u.l->n - 1] : kUndef;
            Buf b = {NULL, 0, 0, false};
            for (size_t i = l.u.l->n; i-- > 0;)
                buf_put(&b, l.u.l->v[i].u.s.p, l.u.l->v[i].u.s.n);
            JVal s = astr(r, b.p ? b.p : "", b.n);
            free(b.p);
            return s;
        }
        default: break;
        }
    } else if (v.kind == JV_LIST) {
        const JList *l = v.u.l;
        switch (n->fn) {
        case F_list: return v;
        case F_first: return l->n ? l->v[0] : kUndef;
        case F_last: return l->n ? l->v[l->n - 1] : kUndef;
        case F_reverse: {
            JVal o = new_list(r);
            for (size_t i = l->n; !r->failed && i-- > 0;)
                lpush(r, o, l->v[i]);
            return o;
        }
        case F_join: return join(r, v, x.kind == JV_STR ? x : arg(&a, -1, "d", jstr("", 0)));
        case F_sort:
            return sorted(r, n, v, truthy(arg(&a, 0, "reverse", jbool(false))),
                          truthy(arg(&a, 1, "case_sensitive", jbool(false))), arg(&a, 2, "attribute", kUndef));
        case F_unique: {
            JVal o = new_list(r);
            for (size_t i = 0; !r->failed && i < l->n; i++) {
                bool seen = false;
                for (size_t k = 0; k < o.u.l->n && !seen; k++)
                    seen = jequal(o.u.l->v[k], l->v[i]);
                if (!seen)
                    lpush(r, o, l->v[i]);
            }
            return o;
        }
        case F_sum: {
            JVal start = arg(&a, -1, "start", jint(0)), attr = arg(&a, 0, "attribute", kUndef);
            bool fl = start.kind == JV_FLOAT;
            double s = num(start);
            for (size_t i = 0; i < l->n; i++) {
                JVal it = attr.kind == JV_UNDEF ? l->v[i] : attr_path(r, n, l->v[i], attr);
                if (!is_num(it))
                    return rerr(r, n, "sum of %s", kind_name(it));
                fl |= it.kind == JV_FLOAT;
                s += num(it);
            }
            return fl ? jfloat(s) : jint((int64_t)s);
        }
        case F_min:
        case F_max: {
            if (!l->n)
                return kUndef;
            JVal best = l->v[0];
            for (size_t i = 1; i < l->n; i++) {
                int c = jcompare(l->v[i], best, false);
                if (c == -2)
                    return rerr(r, n, "cannot compare %s with %s", kind_name(l->v[i]), kind_name(best));
                if (n->fn == F_min ? c < 0 : c > 0)
                    best = l->v[i];
            }
            return best;
        }
        case F_map: {
            JVal attr = arg(&a, -1, "attribute", kUndef), def = arg(&a, -1, "default", kUndef);
            JVal o = new_list(r);
            if (attr.kind == JV_UNDEF) {
                /* map('filter'): only the filters that take no arguments */
                if (x.kind != JV_STR)
                    return rerr(r, n, "map needs attribute= or a filter name");
                int f = lookup(kFilters, F_COUNT, x.u.s.p, x.u.s.n);
                if (f < 0)
                    return rerr(r, n, "map: unknown filter '%.*s'", (int)x.u.s.n, x.u.s.p);
                Node fake = *n;
                fake.fn = f;
                fake.body.n = 0;
                for (size_t i = 0; !r->failed && i < l->n; i++)
                    lpush(r, o, apply_filter(r, e, &fake, l->v[i]));
                return o;
            }
            for (size_t i = 0; !r->failed && i < l->n; i++) {
                JVal it = attr_path(r, n, l->v[i], attr);
                lpush(r, o, it.kind == JV_UNDEF ? def : it);
            }
            return o;
        }
        case F_select:
        case F_reject:
        case F_selectattr:
        case F_rejectattr: {
            bool by_attr = n->fn == F_selectattr || n->fn == F_rejectattr;
            bool keep = n->fn == F_select || n->fn == F_selectattr;
            JVal attr = by_attr ? x : kUndef;
            JVal tname = arg(&a, by_attr ? 1 : 0, NULL, kUndef);
            Args targs = {{arg(&a, by_attr ? 2 : 1, NULL, kUndef)}, 1, {0}, {0}, {{0}}, 0};
            Node tnode = *n;
            if (tname.kind == JV_STR) {
                tnode.fn = lookup(kTests, T_COUNT, tname.u.s.p, tname.u.s.n);
                if (tnode.fn < 0)
                    return rerr(r, n, "unknown test '%.*s'", (int)tname.u.s.n, tname.u.s.p);
            }
            JVal o = new_list(r);
            for (size_t i = 0; !r->failed && i < l->n; i++) {
                JVal it = by_attr ? attr_path(r, n, l->v[i], attr) : l->v[i];
                int t = tname.kind == JV_STR ? run_test(r, &tnode, it, &targs) : truthy(it);
                if (t < 0)
                    return kUndef;
                if ((t != 0) == keep)
                    lpush(r, o, l->v[i]);
            }
            return o;
        }
        default: break;
        }
    } else if (v.kind == JV_DICT || v.kind == JV_NS) {
        switch (n->fn) {
        case F_items: return items_of(r, v);
        case F_list: {
            JVal o = new_list(r);
            for (size_t i = 0; !r->failed && i < v.u.d->n; i++)
                lpush(r, o, jstr(v.u.d->kp[i], v.u.d->kn[i]));
            return o;
        }
        case F_dictsort: {
            JVal cs = arg(&a, 0, "case_sensitive", jbool(false)), by = arg(&a, 1, "by", jstr("key", 3));
            JVal rev = arg(&a, 2, "reverse", jbool(false));
            bool by_value = by.kind == JV_STR && by.u.s.n == 5 && memcmp(by.u.s.p, "value", 5) == 0;
            return sorted(r, n, items_of(r, v), truthy(rev), truthy(cs), jint(by_value ? 1 : 0));
        }
        default: break;
        }
    }
    return rerr(r, n, "filter '%.*s' does not apply to %s", (int)n->n, n->s, kind_name(v));
}

static JVal ev(R *r, Env *e, const Node *n)
{
    if (r->failed)
        return kUndef;
    if (++r->steps > MAX_STEPS)
        return rerr(r, n, "the template runs too long");
    if (++r->depth > MAX_DEPTH)
        return rerr(r, n, "expression nested too deeply");
    JVal v = kUndef;
    switch (n->kind) {
    case E_LIT: v = n->lit; break;
    case E_NAME: {
        JVal *p = env_find(e, n->s, n->n);
        v = p ? *p : kUndef;
        break;
    }
    case E_ATTR: {
        JVal obj = ev(r, e, n->a);
        v = item(r, n, obj, jstr(n->s, n->n));
        break;
    }
    case E_ITEM: {
        JVal obj = ev(r, e, n->a), key = ev(r, e, n->b);
        v = item(r, n, obj, key);
        break;
    }
    case E_SLICE: {
        JVal obj = ev(r, e, n->a), s0 = ev(r, e, n->body.v[0]), s1 = ev(r, e, n->body.v[1]);
        JVal s2 = ev(r, e, n->body.v[2]);
        v = r->failed ? kUndef : slice(r, n, obj, s0, s1, s2);
        break;
    }
    case E_CALL: v = n->a ? call_method(r, e, n) : call_function(r, e, n); break;
    case E_FILTER: {
        JVal x = ev(r, e, n->a);
        v = r->failed ? kUndef : apply_filter(r, e, n, x);
        break;
    }
    case E_TEST: {
        JVal x = ev(r, e, n->a);
        Args a;
        if (!r->failed && eval_args(r, e, &n->body, &a, n)) {
            int t = run_test(r, n, x, &a);
            v = t < 0 ? kUndef : jbool(n->neg ? !t : t);
        }
        break;
    }
    case E_BIN: v = binop(r, e, n); break;
    case E_NOT: v = jbool(!truthy(ev(r, e, n->a))); break;
    case E_NEG:
    case E_POS: {
        JVal x = ev(r, e, n->a);
        if (r->failed)
            break;
        if (!is_num(x)) {
            v = rerr(r, n, "unary %c on %s", n->kind == E_NEG ? '-' : '+', kind_name(x));
            break;
        }
        int s = n->kind == E_NEG ? -1 : 1;
        v = x.kind == JV_FLOAT ? jfloat(s * x.u.f) : jint(s * (x.kind == JV_INT ? x.u.i : (int64_t)x.u.b));
        break;
    }
    case E_COND:
        v = truthy(ev(r, e, n->a)) ? ev(r, e, n->b) : n->c ? ev(r, e, n->c) : kUndef;
        break;
    case E_LIST:
    case E_TUPLE:
        v = new_list(r);
        for (int i = 0; !r->failed && i < n->body.n; i++)
            lpush(r, v, ev(r, e, n->body.v[i]));
        break;
    case E_DICT:
        v = new_dict(r, JV_DICT);
        for (int i = 0; !r->failed && i < n->body.n; i++) {
            JVal k = ev(r, e, n->body.v[i]), x = ev(r, e, n->alt.v[i]);
            if (!r->failed && k.kind != JV_STR) {
                v = rerr(r, n, "dict keys must be strings");
                break;
            }
            if (!r->failed && !dict_set(&r->a, v.u.d, k.u.s.p, k.u.s.n, x))
                v = rerr(r, n, "out of memory");
        }
        break;
    default: v = rerr(r, n, "internal: not an expression"); break;
    }
    r->depth--;
    return r->failed ? kUndef : v;
}

static void emit(R *r, const Node *n, JVal v)
{
    if (v.kind == JV_NONE || v.kind == JV_UNDEF)
        return;
    JVal s = to_str(r, v);
    if (r->failed)
        return;
    if (r->out.n + s.u.s.n > MAX_OUTPUT) {
        rerr(r, n, "the rendered text passes %zu bytes", MAX_OUTPUT);
        return;
    }
    buf_put(&r->out, s.u.s.p, s.u.s.n);
    if (r->out.oom)
        rerr(r, n, "out of memory");
}

/* Binds a loop or set target to v. */
static bool assign(R *r, Env *e, const Node *t, JVal v)
{
    if (t->kind == E_NAME)
        return env_set(r, e, t->s, t->n, v);
    if (t->kind == E_TUPLE) {
        if (v.kind != JV_LIST) {
            rerr(r, t, "cannot unpack %s", kind_name(v));
            return false;
        }
        if ((int)v.u.l->n != t->body.n) {
            rerr(r, t, "%d names for %zu values", t->body.n, v.u.l->n);
            return false;
        }
        for (int i = 0; i < t->body.n; i++)
            if (!env_set(r, e, t->body.v[i]->s, t->body.v[i]->n, v.u.l->v[i]))
                return false;
        return true;
    }
    /* name.attr: only on a namespace */
    JVal obj = ev(r, e, t->a);
    if (r->failed)
        return false;
    if (obj.kind != JV_NS) {
        rerr(r, t, "cannot set an attribute of %s (only of a namespace)", kind_name(obj));
        return false;
    }
    if (!dict_set(&r->a, obj.u.d, t->s, t->n, v)) {
        rerr(r, t, "out of memory");
        return false;
    }
    return true;
}

/* The loop variable's fields for iteration i: one dict per loop, updated in place. */
static bool loop_value(R *r, JVal d, size_t i, const JList *items)
{
    size_t len = items->n;
    struct {
        const char *k;
        JVal v;
    } f[9] = {{"index", jint((int64_t)i + 1)},
              {"index0", jint((int64_t)i)},
              {"revindex", jint((int64_t)(len - i))},
              {"revindex0", jint((int64_t)(len - i - 1))},
              {"first", jbool(i == 0)},
              {"last", jbool(i + 1 == len)},
              {"length", jint((int64_t)len)},
              {"previtem", i > 0 ? items->v[i - 1] : kUndef},
              {"nextitem", i + 1 < len ? items->v[i + 1] : kUndef}};
    for (int k = 0; k < 9; k++)
        if (!dict_set(&r->a, d.u.d, f[k].k, strlen(f[k].k), f[k].v)) {
            rerr(r, NULL, "out of memory");
            return false;
        }
    return true;
}

static bool run_for(R *r, Env *e, const Node *n)
{
    Env *scope = jinja_alloc(&r->a, sizeof *scope);
    if (!scope) {
        rerr(r, n, "out of memory");
        return false;
    }
    memset(scope, 0, sizeof *scope);
    scope->parent = e;
    JVal it = ev(r, scope, n->b);
    if (r->failed)
        return false;
    JVal all;
    if (it.kind == JV_LIST) {
        all = it;
    } else if (it.kind == JV_DICT || it.kind == JV_NS) {
        all = new_list(r);
        for (size_t i = 0; !r->failed && i < it.u.d->n; i++)
            lpush(r, all, jstr(it.u.d->kp[i], it.u.d->kn[i]));
    } else if (it.kind == JV_STR) {
        all = new_list(r);
        for (size_t i = 0; !r->failed && i < it.u.s.n;) {
            size_t k = 1;
            while (i + k < it.u.s.n && ((unsigned char)it.u.s.p[i + k] & 0xc0) == 0x80)
                k++;
            lpush(r, all, jstr(it.u.s.p + i, k));
            i += k;
        }
    } else if (it.kind == JV_UNDEF || it.kind == JV_NONE) {
        all = new_list(r);   /* Jinja iterates an undefined value as empty */
        if (it.kind == JV_NONE)
            return rerr(r, n, "cannot loop over none"), false;
    } else {
        rerr(r, n, "cannot loop over %s", kind_name(it));
        return false;
    }
    if (r->failed)
        return false;
    /* the "if" of the loop filters first, so loop.length counts what is left */
    JVal items = all;
    if (n->c) {
        items = new_list(r);
        for (size_t i = 0; !r->failed && i < all.u.l->n; i++) {
            Env *probe = jinja_alloc(&r->a, sizeof *probe);
            if (!probe) {
                rerr(r, n, "out of memory");
                return false;
            }
            memset(probe, 0, sizeof *probe);
            probe->parent = scope;
            if (!assign(r, probe, n->a, all.u.l->v[i]))
                return false;
            if (truthy(ev(r, probe, n->c)))
                lpush(r, items, all.u.l->v[i]);
        }
        if (r->failed)
            return false;
    }
    const JList *l = items.u.l;
    JVal loop = new_dict(r, JV_DICT);
    if (r->failed || !env_set(r, scope, "loop", 4, loop))
        return false;
    for (size_t i = 0; i < l->n; i++) {
        if (++r->steps > MAX_STEPS) {
            rerr(r, n, "the template runs too long");
            return false;
        }
        if (!loop_value(r, loop, i, l) || !assign(r, scope, n->a, l->v[i]))
            return false;
        int ctl = 0;   /* a continue ends this iteration, a break the loop */
        if (!run_block(r, scope, &n->body, &ctl))
            return false;
        if (ctl == N_BREAK)
            break;
    }
    if (l->n == 0 && n->alt.n) {
        int ctl = 0;
        return run_block(r, scope, &n->alt, &ctl);
    }
    return true;
}

/* Runs statements; *ctl gets N_BREAK or N_CONTINUE when one of them stops the block. */
static bool run_block(R *r, Env *e, const NodeList *l, int *ctl)
{
    if (++r->depth > MAX_DEPTH) {
        rerr(r, NULL, "blocks nested too deeply");
        return false;
    }
    for (int i = 0; i < l->n && !r->failed && !*ctl; i++) {
        const Node *n = l->v[i];
        if (++r->steps > MAX_STEPS) {
            rerr(r, n, "the template runs too long");
            break;
        }
        switch (n->kind) {
        case N_TEXT:
            if (r->out.n + n->n > MAX_OUTPUT) {
                rerr(r, n, "the rendered text passes %zu bytes", MAX_OUTPUT);
                break;
            }
            buf_put(&r->out, n->s, n->n);
            if (r->out.oom)
                rerr(r, n, "out of memory");
            break;
        case N_OUT: emit(r, n, ev(r, e, n->a)); break;
        case N_IF: run_block(r, e, truthy(ev(r, e, n->a)) ? &n->body : &n->alt, ctl); break;
        case N_FOR: run_for(r, e, n); break;
        case N_SET: {
            JVal v = ev(r, e, n->b);
            if (!r->failed)
                assign(r, e, n->a, v);
            break;
        }
        case N_SETBLOCK: {
            JVal v = capture(r, e, &n->body);
            if (!r->failed)
                assign(r, e, n->a, v);
            break;
        }
        case N_MACRO: {
            JVal m = {JV_MACRO, {0}};
            m.u.m = n;
            env_set(r, e, n->s, n->n, m);
            break;
        }
        case N_FILTERBLOCK: {
            JVal v = capture(r, e, &n->body);
            if (!r->failed)
                emit(r, n, apply_filter(r, e, n->a, v));
            break;
        }
        case N_BREAK:
        case N_CONTINUE: *ctl = n->kind; break;
        default: rerr(r, n, "internal: not a statement"); break;
        }
    }
    r->depth--;
    return !r->failed;
}

int llmc_jinja_render(const LlmcJinja *t, const char *context_json, size_t context_len, char **out,
                      size_t *out_len, char *err, size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    R r;
    memset(&r, 0, sizeof r);
    r.err = err;
    r.errlen = errlen;
    Env *root = jinja_alloc(&r.a, sizeof *root);
    int rc = -1;
    if (!root) {
        jinja_fail(err, errlen, 0, "out of memory");
        goto done;
    }
    memset(root, 0, sizeof *root);
    JsonP j = {context_json ? context_json : "{}", (context_json ? context_json : "{}") + (context_json ? context_len : 2),
               &r.a, 0, NULL};
    JVal ctx;
    if (!jp_value(&j, &ctx) || (jp_ws(&j), j.p != j.end)) {
        jinja_fail(err, errlen, 0, "the render context is not valid JSON (%s at byte %zu)", j.err ? j.err : "trailing text",
              (size_t)(j.p - (context_json ? context_json : "")));
        goto done;
    }
    if (ctx.kind != JV_DICT) {
        jinja_fail(err, errlen, 0, "the render context must be a JSON object");
        goto done;
    }
    root->vars = *ctx.u.d;
    int ctl = 0;
    if (!run_block(&r, root, &t->prog, &ctl))
        goto done;
    if (r.out.oom) {
        jinja_fail(err, errlen, 0, "out of memory");
        goto done;
    }
    *out = r.out.p ? r.out.p : calloc(1, 1);
    if (!*out) {
        jinja_fail(err, errlen, 0, "out of memory");
        goto done;
    }
    *out_len = r.out.n;
    r.out.p = NULL;
    rc = 0;
done:
    free(r.out.p);
    jinja_arena_free(&r.a);
    return rc;
}
