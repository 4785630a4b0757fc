/* jinja_parse.c — chat template text to a syntax tree (jinja.h: llmc_jinja_parse), once, at
 * compile time in llmc and again when the executable starts a chat.
 *
 * First the text is prepared as transformers renders templates (the JavaScript port the tests
 * compare with does the same, as text rewriting): one trailing newline dropped, the whitespace
 * before a block or comment tag at the start of a line removed (lstrip_blocks), the newline after
 * a block or comment tag removed (trim_blocks), {% generation %} markers taken out; each byte
 * keeps its line in the template for messages. The lexer cuts text and tags ("-" in a tag strips
 * the whitespace outside it); the parser is recursive descent with the port's precedence (if-else,
 * or, and, not, comparisons and in, + - ~, * / // %, **, is, |, unary sign, calls and
 * subscripts). Every filter, test, method and function name is looked up in the tables
 * (jinja_impl.h) as it is parsed, and calls to names that are neither functions nor the
 * template's macros are refused after, so an unsupported template never reaches a render.
 */
#include "jinja_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define NAME_OF(n) #n,
const char *const kFilters[] = {FILTERS(NAME_OF)};
const char *const kTests[] = {TESTS(NAME_OF)};
const char *const kMethods[] = {METHODS(NAME_OF)};
const char *const kFunctions[] = {FUNCTIONS(NAME_OF)};

/* ---- lexing ---- */

enum { K_TEXT, K_OPEN_STMT, K_CLOSE_STMT, K_OPEN_EXPR, K_CLOSE_EXPR, K_NAME, K_STRING, K_INT, K_FLOAT, K_OP, K_EOF };

typedef struct Tok {
    int kind, line;
    const char *s;      /* name, operator, text, decoded string */
    size_t n;
    int64_t i;
    double f;
} Tok;


typedef struct Lex {
    Arena *a;
    const char *src;    /* preprocessed text */
    const int *line;    /* [n + 1] the template line of each byte */
    size_t n, pos;
    Tok *toks;
    size_t n_toks, cap_toks;
    char *err;
    size_t errlen;
    int curly;          /* open { of dict literals inside {{ }} */
} Lex;

typedef struct Pre {
    char *s;
    int *line;
    size_t n;
} Pre;

static int preprocess(const char *src, size_t len, Pre *out)
{
    char *s = malloc(len + 1), *t = malloc(len + 1);
    int *ln = malloc((len + 1) * sizeof *ln), *lt = malloc((len + 1) * sizeof *lt);
    if (!s || !t || !ln || !lt) {
        free(s);
        free(t);
        free(ln);
        free(lt);
        return -1;
    }
    int line = 1;
    for (size_t i = 0; i < len; i++) {
        s[i] = src[i];
        ln[i] = line;
        if (src[i] == '\n')
            line++;
    }
    size_t n = len;
    if (n && s[n - 1] == '\n')
        n--;   /* no trailing newline */
    ln[n] = line;
    /* lstrip_blocks: spaces and tabs at the start of a line before "{%", "{#" (or "{-"). */
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        bool at_line_start = i == 0 || s[i - 1] == '\n' || s[i - 1] == '\r';
        if (at_line_start) {
            size_t j = i;
            while (j < n && (s[j] == ' ' || s[j] == '\t'))
                j++;
            if (j > i && j + 1 < n && s[j] == '{' && (s[j + 1] == '%' || s[j + 1] == '#' || s[j + 1] == '-'))
                i = j;
        }
        t[k] = s[i];
        lt[k++] = ln[i++];
    }
    lt[k] = ln[n];
    n = k;
    /* trim_blocks: the newline right after "%}", "#}" (or "-}"). */
    k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '\n' && i >= 2 && t[i - 1] == '}' && (t[i - 2] == '%' || t[i - 2] == '#' || t[i - 2] == '-'))
            continue;
        s[k] = t[i];
        ln[k++] = lt[i];
    }
    ln[k] = lt[n];
    n = k;
    /* {% generation %} and {% endgeneration %} go (transformers' assistant-mask markers). */
    k = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= 2 && s[i] == '{' && s[i + 1] == '%') {
            size_t j = i + 2;
            bool lstrip = j < n && s[j] == '-';
            if (lstrip)
                j++;
            while (j < n && jinja_ws_len(s + j, n - j))
                j += jinja_ws_len(s + j, n - j);
            if (n - j >= 3 && memcmp(s + j, "end", 3) == 0)
                j += 3;
            if (n - j >= 10 && memcmp(s + j, "generation", 10) == 0) {
                j += 10;
                while (j < n && jinja_ws_len(s + j, n - j))
                    j += jinja_ws_len(s + j, n - j);
                bool rstrip = j < n && s[j] == '-';
                if (rstrip)
                    j++;
                if (n - j >= 2 && s[j] == '%' && s[j + 1] == '}') {
                    j += 2;
                    if (lstrip)
                        k = jinja_rtrim_len(s, k);   /* s[0..k) is the output so far */
                    if (rstrip)
                        while (j < n && jinja_ws_len(s + j, n - j))
                            j += jinja_ws_len(s + j, n - j);
                    i = j;
                    continue;
                }
            }
        }
        s[k] = s[i];
        ln[k++] = ln[i++];
    }
    ln[k] = ln[n];
    s[k] = 0;
    free(t);
    free(lt);
    out->s = s;
    out->line = ln;
    out->n = k;
    return 0;
}

static bool lex_push(Lex *L, Tok t)
{
    if (L->n_toks == L->cap_toks) {
        size_t cap = L->cap_toks ? 2 * L->cap_toks : 256;
        Tok *p = realloc(L->toks, cap * sizeof *p);
        if (!p)
            return false;
        L->toks = p;
        L->cap_toks = cap;
    }
    L->toks[L->n_toks++] = t;
    return true;
}

static int lex_line(const Lex *L) { return L->line[L->pos < L->n ? L->pos : L->n]; }

static int lex_string(Lex *L, char quote)
{
    int line = lex_line(L);
    L->pos++;
    char *o = jinja_alloc(L->a, L->n - L->pos + 1);
    if (!o)
        return jinja_fail(L->err, L->errlen, line, "out of memory");
    size_t k = 0;
    for (;;) {
        if (L->pos >= L->n)
            return jinja_fail(L->err, L->errlen, line, "unterminated string");
        char c = L->src[L->pos++];
        if (c == quote)
            break;
        if (c != '\\') {
            o[k++] = c;
            continue;
        }
        if (L->pos >= L->n)
            return jinja_fail(L->err, L->errlen, line, "unterminated string");
        char e = L->src[L->pos++];
        const char *map = "n\nt\tr\rb\bf\fv\v''\"\"\\\\";
        const char *m = NULL;
        for (const char *q = map; *q; q += 2)
            if (*q == e)
                m = q + 1;
        if (m) {
            o[k++] = *m;
        } else if (e == 'x' || e == 'u') {
            int len = e == 'x' ? 2 : 4;
            uint32_t cp = 0;
            for (int i = 0; i < len; i++) {
                int h = L->pos < L->n ? hexval((unsigned char)L->src[L->pos]) : -1;
                if (h < 0)
                    return jinja_fail(L->err, L->errlen, line, "bad \\%c escape in a string", e);
                cp = cp << 4 | (uint32_t)h;
                L->pos++;
            }
            if (cp >= 0xd800 && cp < 0xe000)
                cp = 0xfffd;
            k += jinja_put_utf8(o + k, cp);   /* at most 3 bytes for the 4-6 read */
        } else {
            return jinja_fail(L->err, L->errlen, line, "unknown escape \\%c in a string", e);
        }
    }
    o[k] = 0;
    Tok t = {K_STRING, line, o, k, 0, 0};
    return lex_push(L, t) ? 0 : jinja_fail(L->err, L->errlen, line, "out of memory");
}

static int tokenize(Lex *L)
{
    static const char *const ops[] = {"<=", ">=", "==", "!=", "**", "//", "(", ")", "{", "}", "[", "]", ",", ".",
                                      ":", "|", "<", ">", "+", "-", "~", "*", "/", "%", "="};
    bool text_ok = true;   /* at the start, after a tag's end and after a comment */
    while (L->pos < L->n) {
        int last = L->n_toks ? L->toks[L->n_toks - 1].kind : -1;
        const char *s = L->src;
        int line = lex_line(L);
        if (text_ok) {
            /* text up to the next tag */
            size_t end = L->pos;
            while (end < L->n && !(s[end] == '{' && end + 1 < L->n && (s[end + 1] == '%' || s[end + 1] == '{' ||
                                                                        s[end + 1] == '#')))
                end++;
            if (end > L->pos) {
                Tok t = {K_TEXT, line, s + L->pos, end - L->pos, 0, 0};
                if (!lex_push(L, t))
                    return jinja_fail(L->err, L->errlen, line, "out of memory");
                L->pos = end;
                continue;
            }
        }
        if (s[L->pos] == '{' && L->pos + 1 < L->n && (text_ok || last == K_TEXT)) {
            char next = s[L->pos + 1];
            if (next == '#') {   /* a comment: no token, and text may follow */
                size_t p = L->pos + 2;
                bool strip_before = p < L->n && s[p] == '-';
                size_t end = 0;
                bool found = false;
                for (size_t q = p; q + 1 < L->n && !found; q++)
                    if (s[q] == '#' && s[q + 1] == '}') {
                        end = q;
                        found = true;
                    }
                if (!found)
                    return jinja_fail(L->err, L->errlen, line, "comment without its #}");
                bool strip_after = end > p && s[end - 1] == '-';
                if (strip_before && L->n_toks && L->toks[L->n_toks - 1].kind == K_TEXT) {
                    Tok *t = &L->toks[L->n_toks - 1];
                    t->n = jinja_rtrim_len(t->s, t->n);
                    if (t->n == 0)
                        L->n_toks--;
                }
                L->pos = end + 2;
                if (strip_after)
                    L->pos += jinja_ltrim_len(s + L->pos, L->n - L->pos);
                text_ok = true;
                continue;
            }
            if (next == '%' || next == '{') {
                bool strip = L->pos + 2 < L->n && s[L->pos + 2] == '-';
                if (strip && L->n_toks && L->toks[L->n_toks - 1].kind == K_TEXT) {
                    Tok *t = &L->toks[L->n_toks - 1];
                    t->n = jinja_rtrim_len(t->s, t->n);
                    if (t->n == 0)
                        L->n_toks--;
                }
                Tok t = {next == '%' ? K_OPEN_STMT : K_OPEN_EXPR, line, next == '%' ? "{%" : "{{", 2, 0, 0};
                if (!lex_push(L, t))
                    return jinja_fail(L->err, L->errlen, line, "out of memory");
                L->pos += strip ? 3 : 2;
                L->curly = 0;
                text_ok = false;
                continue;
            }
        }
        /* inside a tag */
        size_t w;
        while (L->pos < L->n && (w = jinja_ws_len(s + L->pos, L->n - L->pos)) > 0)
            L->pos += w;
        if (L->pos >= L->n)
            break;
        line = lex_line(L);
        char c = s[L->pos];
        /* closing tags, with "-" stripping what follows */
        if ((c == '-' && L->pos + 2 < L->n && s[L->pos + 2] == '}' && (s[L->pos + 1] == '%' || s[L->pos + 1] == '}')) ||
            ((c == '%' || (c == '}' && L->curly == 0)) && L->pos + 1 < L->n && s[L->pos + 1] == '}')) {
            bool strip = c == '-';
            char which = strip ? s[L->pos + 1] : c;
            Tok t = {which == '%' ? K_CLOSE_STMT : K_CLOSE_EXPR, line, which == '%' ? "%}" : "}}", 2, 0, 0};
            if (!lex_push(L, t))
                return jinja_fail(L->err, L->errlen, line, "out of memory");
            L->pos += strip ? 3 : 2;
            if (strip)
                L->pos += jinja_ltrim_len(s + L->pos, L->n - L->pos);
            text_ok = true;
            continue;
        }
        if (c == '\'' || c == '"') {
            if (lex_string(L, c))
                return -1;
            continue;
        }
        if (c >= '0' && c <= '9') {
            size_t start = L->pos;
            while (L->pos < L->n && s[L->pos] >= '0' && s[L->pos] <= '9')
                L->pos++;
            bool is_float = false;
            bool after_dot = last == K_OP && L->toks[L->n_toks - 1].s[0] == '.';
            if (!after_dot && L->pos + 1 < L->n && s[L->pos] == '.' && s[L->pos + 1] >= '0' && s[L->pos + 1] <= '9') {
                is_float = true;
                L->pos++;
                while (L->pos < L->n && s[L->pos] >= '0' && s[L->pos] <= '9')
                    L->pos++;
            }
            char tmp[64];
            size_t len = L->pos - start < 63 ? L->pos - start : 63;
            memcpy(tmp, s + start, len);
            tmp[len] = 0;
            Tok t = {is_float ? K_FLOAT : K_INT, line, s + start, L->pos - start, 0, 0};
            errno = 0;
            if (is_float)
                t.f = strtod(tmp, NULL);
            else
                t.i = strtoll(tmp, NULL, 10);
            if (errno)
                return jinja_fail(L->err, L->errlen, line, "number %s out of range", tmp);
            if (!lex_push(L, t))
                return jinja_fail(L->err, L->errlen, line, "out of memory");
            continue;
        }
        if (is_word_char(c)) {
            size_t start = L->pos;
            while (L->pos < L->n && is_word_char(s[L->pos]))
                L->pos++;
            Tok t = {K_NAME, line, s + start, L->pos - start, 0, 0};
            if (!lex_push(L, t))
                return jinja_fail(L->err, L->errlen, line, "out of memory");
            continue;
        }
        bool found = false;
        for (size_t k = 0; k < sizeof ops / sizeof ops[0] && !found; k++) {
            size_t ol = strlen(ops[k]);
            if (L->n - L->pos >= ol && memcmp(s + L->pos, ops[k], ol) == 0) {
                Tok t = {K_OP, line, ops[k], ol, 0, 0};
                if (!lex_push(L, t))
                    return jinja_fail(L->err, L->errlen, line, "out of memory");
                if (ops[k][0] == '{')
                    L->curly++;
                else if (ops[k][0] == '}')
                    L->curly--;
                L->pos += ol;
                found = true;
            }
        }
        if (!found)
            return jinja_fail(L->err, L->errlen, line, "unexpected character '%c'", c);
    }
    Tok t = {K_EOF, L->line[L->n], "", 0, 0, 0};
    return lex_push(L, t) ? 0 : jinja_fail(L->err, L->errlen, t.line, "out of memory");
}

/* ---- parsing ---- */

typedef struct P {
    Arena *a;
    Tok *t;
    size_t pos;
    char *err;
    size_t errlen;
    int depth;
    bool failed;
    /* macro names, for checking calls */
    const char *macros[64];
    size_t macro_len[64];
    int n_macros;
} P;

static const Tok *peek(const P *p) { return &p->t[p->pos]; }
static const Tok *peek2(const P *p) { return p->t[p->pos].kind == K_EOF ? &p->t[p->pos] : &p->t[p->pos + 1]; }

static bool is_op(const Tok *t, const char *op) { return t->kind == K_OP && t->n == strlen(op) && memcmp(t->s, op, t->n) == 0; }
static bool is_name(const Tok *t, const char *name)
{
    return t->kind == K_NAME && t->n == strlen(name) && memcmp(t->s, name, t->n) == 0;
}

static Node *perr(P *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static Node *perr(P *p, int line, const char *fmt, ...)
{
    if (p->failed)
        return NULL;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jinja_fail(p->err, p->errlen, line, "%s", msg);
    p->failed = true;
    return NULL;
}

static const char *tok_desc(const Tok *t, char *buf, size_t n)
{
    switch (t->kind) {
    case K_EOF: return "the end of the template";
    case K_TEXT: return "text";
    case K_OPEN_STMT: return "'{%'";
    case K_CLOSE_STMT: return "'%}'";
    case K_OPEN_EXPR: return "'{{'";
    case K_CLOSE_EXPR: return "'}}'";
    case K_STRING: return "a string";
    default: snprintf(buf, n, "'%.*s'", (int)(t->n < 40 ? t->n : 40), t->s); return buf;
    }
}

static Node *node(P *p, int kind, int line)
{
    Node *n = jinja_alloc(p->a, sizeof *n);
    if (!n)
        return perr(p, line, "out of memory");
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = line;
    return n;
}

static bool push(P *p, NodeList *l, Node *n)
{
    if (!n)
        return false;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 4;
        Node **v = jinja_alloc(p->a, (size_t)cap * sizeof *v);
        if (!v) {
            perr(p, n->line, "out of memory");
            return false;
        }
        if (l->n)
            memcpy(v, l->v, (size_t)l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
    return true;
}

static bool expect_op(P *p, const char *op)
{
    const Tok *t = peek(p);
    if (!is_op(t, op)) {
        char b[64];
        perr(p, t->line, "expected '%s', found %s", op, tok_desc(t, b, sizeof b));
        return false;
    }
    p->pos++;
    return true;
}

static bool expect_kind(P *p, int kind, const char *what)
{
    const Tok *t = peek(p);
    if (t->kind != kind) {
        char b[64];
        perr(p, t->line, "expected %s, found %s", what, tok_desc(t, b, sizeof b));
        return false;
    }
    p->pos++;
    return true;
}

static Node *expr(P *p);
static Node *primary(P *p);

/* Arguments of a call or filter: positional, then name=value. */
static bool args(P *p, NodeList *out)
{
    if (!expect_op(p, "("))
        return false;
    bool kw = false;
    while (!is_op(peek(p), ")")) {
        const Tok *t = peek(p);
        if (t->kind == K_NAME && is_op(peek2(p), "=")) {
            Node *k = node(p, E_KWARG, t->line);
            if (!k)
                return false;
            k->s = t->s;
            k->n = t->n;
            p->pos += 2;
            if (!(k->a = expr(p)) || !push(p, out, k))
                return false;
            kw = true;
        } else {
            if (kw) {
                perr(p, t->line, "a positional argument after keyword arguments");
                return false;
            }
            if (!push(p, out, expr(p)))
                return false;
        }
        if (is_op(peek(p), ","))
            p->pos++;
        else if (!is_op(peek(p), ")")) {
            char b[64];
            perr(p, peek(p)->line, "expected ',' or ')' in arguments, found %s", tok_desc(peek(p), b, sizeof b));
            return false;
        }
    }
    p->pos++;
    return true;
}

static Node *postfix(P *p, Node *n)
{
    while (n) {
        const Tok *t = peek(p);
        if (is_op(t, ".")) {
            p->pos++;
            const Tok *name = peek(p);
            if (name->kind == K_INT) {
                Node *m = node(p, E_ITEM, t->line);
                Node *k = node(p, E_LIT, name->line);
                if (!m || !k)
                    return NULL;
                k->lit = jint(name->i);
                m->a = n;
                m->b = k;
                p->pos++;
                n = m;
                continue;
            }
            if (name->kind != K_NAME) {
                char b[64];
                return perr(p, name->line, "expected a name after '.', found %s", tok_desc(name, b, sizeof b));
            }
            p->pos++;
            if (is_op(peek(p), "(")) {   /* a method call */
                int m = lookup(kMethods, M_COUNT, name->s, name->n);
                if (m < 0)
                    return perr(p, name->line, "unknown method '%.*s' (supported: string and dict methods, "
                                "docs/chat.md)", (int)name->n, name->s);
                Node *c = node(p, E_CALL, name->line);
                if (!c)
                    return NULL;
                c->a = n;
                c->s = name->s;
                c->n = name->n;
                c->fn = m;
                if (!args(p, &c->body))
                    return NULL;
                n = c;
                continue;
            }
            Node *m = node(p, E_ATTR, name->line);
            if (!m)
                return NULL;
            m->a = n;
            m->s = name->s;
            m->n = name->n;
            n = m;
        } else if (is_op(t, "[")) {
            p->pos++;
            Node *parts[3] = {NULL, NULL, NULL};
            int k = 0;
            bool slice = false;
            while (!is_op(peek(p), "]")) {
                if (is_op(peek(p), ":")) {
                    p->pos++;
                    slice = true;
                    if (++k > 2)
                        return perr(p, t->line, "a slice takes at most 3 parts");
                    continue;
                }
                if (parts[k])
                    return perr(p, t->line, "expected ':' or ']' in a subscript");
                if (!(parts[k] = expr(p)))
                    return NULL;
            }
            p->pos++;
            if (slice) {
                Node *s = node(p, E_SLICE, t->line);
                if (!s)
                    return NULL;
                s->a = n;
                for (int i = 0; i < 3; i++) {
                    if (!parts[i] && !(parts[i] = node(p, E_LIT, t->line)))
                        return NULL;   /* an empty part: undefined */
                    if (!push(p, &s->body, parts[i]))
                        return NULL;
                }
                n = s;
            } else {
                if (!parts[0])
                    return perr(p, t->line, "an empty subscript");
                Node *m = node(p, E_ITEM, t->line);
                if (!m)
                    return NULL;
                m->a = n;
                m->b = parts[0];
                n = m;
            }
        } else if (is_op(t, "(")) {
            if (n->kind != E_NAME)
                return perr(p, t->line, "only functions, macros and methods can be called");
            int g = lookup(kFunctions, G_COUNT, n->s, n->n);
            Node *c = node(p, E_CALL, t->line);
            if (!c)
                return NULL;
            c->s = n->s;
            c->n = n->n;
            c->fn = g >= 0 ? g : G_MACRO;
            if (!args(p, &c->body))
                return NULL;
            n = c;
        } else {
            break;
        }
    }
    return n;
}

static Node *primary(P *p)
{
    const Tok *t = peek(p);
    Node *n;
    char b[64];
    if (++p->depth > MAX_DEPTH)
        return perr(p, t->line, "expression nested too deeply");
    switch (t->kind) {
    case K_INT:
    case K_FLOAT:
        if (!(n = node(p, E_LIT, t->line)))
            return NULL;
        n->lit = t->kind == K_INT ? jint(t->i) : jfloat(t->f);
        p->pos++;
        break;
    case K_STRING: {
        /* adjacent strings join */
        size_t len = 0, i = p->pos;
        while (p->t[i].kind == K_STRING)
            len += p->t[i++].n;
        char *s = jinja_alloc(p->a, len + 1);
        if (!s || !(n = node(p, E_LIT, t->line)))
            return perr(p, t->line, "out of memory");
        len = 0;
        while (peek(p)->kind == K_STRING) {
            memcpy(s + len, peek(p)->s, peek(p)->n);
            len += peek(p)->n;
            p->pos++;
        }
        s[len] = 0;
        n->lit = jstr(s, len);
        break;
    }
    case K_NAME:
        if (!(n = node(p, E_LIT, t->line)))
            return NULL;
        if (is_name(t, "true") || is_name(t, "True"))
            n->lit = jbool(true);
        else if (is_name(t, "false") || is_name(t, "False"))
            n->lit = jbool(false);
        else if (is_name(t, "none") || is_name(t, "None"))
            n->lit = kNone;
        else {
            n->kind = E_NAME;
            n->s = t->s;
            n->n = t->n;
        }
        p->pos++;
        break;
    case K_OP:
        if (is_op(t, "(")) {
            p->pos++;
            Node *first = expr(p);
            if (!first)
                return NULL;
            if (is_op(peek(p), ",")) {
                if (!(n = node(p, E_TUPLE, t->line)) || !push(p, &n->body, first))
                    return NULL;
                while (is_op(peek(p), ",")) {
                    p->pos++;
                    if (is_op(peek(p), ")"))
                        break;
                    if (!push(p, &n->body, expr(p)))
                        return NULL;
                }
            } else {
                n = first;
            }
            if (!expect_op(p, ")"))
                return NULL;
            break;
        }
        if (is_op(t, "[")) {
            p->pos++;
            if (!(n = node(p, E_LIST, t->line)))
                return NULL;
            while (!is_op(peek(p), "]")) {
                if (!push(p, &n->body, expr(p)))
                    return NULL;
                if (is_op(peek(p), ","))
                    p->pos++;
                else if (!is_op(peek(p), "]"))
                    return perr(p, peek(p)->line, "expected ',' or ']' in a list, found %s", tok_desc(peek(p), b,
                                                                                                      sizeof b));
            }
            p->pos++;
            break;
        }
        if (is_op(t, "{")) {
            p->pos++;
            if (!(n = node(p, E_DICT, t->line)))
                return NULL;
            while (!is_op(peek(p), "}")) {
                if (!push(p, &n->body, expr(p)) || !expect_op(p, ":") || !push(p, &n->alt, expr(p)))
                    return NULL;
                if (is_op(peek(p), ","))
                    p->pos++;
                else if (!is_op(peek(p), "}"))
                    return perr(p, peek(p)->line, "expected ',' or '}' in a dict, found %s", tok_desc(peek(p), b,
                                                                                                      sizeof b));
            }
            p->pos++;
            break;
        }
        /* fall through */
    default:
        return perr(p, t->line, "expected a value, found %s", tok_desc(t, b, sizeof b));
    }
    p->depth--;
    return postfix(p, n);
}

static Node *unary(P *p)
{
    const Tok *t = peek(p);
    if (is_op(t, "-") || is_op(t, "+")) {
        p->pos++;
        Node *n = node(p, is_op(t, "-") ? E_NEG : E_POS, t->line);
        if (!n || ++p->depth > MAX_DEPTH || !(n->a = unary(p)))
            return n ? perr(p, t->line, "expression nested too deeply") : NULL;
        p->depth--;
        return n;
    }
    return primary(p);
}

static Node *filtered(P *p)
{
    Node *n = unary(p);
    while (n && is_op(peek(p), "|")) {
        p->pos++;
        const Tok *name = peek(p);
        if (name->kind != K_NAME)
            return perr(p, name->line, "expected a filter name after '|'");
        int f = lookup(kFilters, F_COUNT, name->s, name->n);
        if (f < 0)
            return perr(p, name->line, "unknown filter '%.*s' (docs/chat.md lists the supported ones)", (int)name->n,
                        name->s);
        p->pos++;
        Node *m = node(p, E_FILTER, name->line);
        if (!m)
            return NULL;
        m->a = n;
        m->s = name->s;
        m->n = name->n;
        m->fn = f;
        if (is_op(peek(p), "(") && !args(p, &m->body))
            return NULL;
        n = m;
    }
    return n;
}

static Node *tested(P *p)
{
    Node *n = filtered(p);
    while (n && is_name(peek(p), "is")) {
        p->pos++;
        bool neg = false;
        if (is_name(peek(p), "not")) {
            neg = true;
            p->pos++;
        }
        const Tok *name = peek(p);
        int tt = name->kind == K_NAME ? lookup(kTests, T_COUNT, name->s, name->n) : -1;
        if (tt < 0 && is_op(name, "=="))
            tt = T_eq;
        if (tt < 0)
            return perr(p, name->line, "unknown test '%.*s' after 'is'", (int)name->n, name->s);
        p->pos++;
        Node *m = node(p, E_TEST, name->line);
        if (!m)
            return NULL;
        m->a = n;
        m->fn = tt;
        m->neg = neg;
        if (is_op(peek(p), "(")) {
            if (!args(p, &m->body))
                return NULL;
        } else if (tt == T_divisibleby || tt == T_eq || tt == T_equalto || tt == T_ne || tt == T_lt || tt == T_le ||
                   tt == T_gt || tt == T_ge || tt == T_in || tt == T_sameas) {
            /* "is eq 3": one argument without parentheses */
            if (!push(p, &m->body, filtered(p)))
                return NULL;
        }
        n = m;
    }
    return n;
}

static Node *binary(P *p, Node *l, int op, Node *(*next)(P *))
{
    Node *n = node(p, E_BIN, l ? l->line : peek(p)->line);
    if (!n || !l)
        return NULL;
    n->op = op;
    n->a = l;
    if (!(n->b = next(p)))
        return NULL;
    return n;
}

static Node *power(P *p)
{
    Node *n = tested(p);
    while (n && is_op(peek(p), "**")) {
        p->pos++;
        n = binary(p, n, OP_POW, tested);
    }
    return n;
}

static Node *multiplicative(P *p)
{
    Node *n = power(p);
    for (;;) {
        const Tok *t = peek(p);
        int op = is_op(t, "*") ? OP_MUL : is_op(t, "/") ? OP_DIV : is_op(t, "//") ? OP_FLOORDIV : is_op(t, "%") ? OP_MOD
                                                                                                                 : -1;
        if (!n || op < 0)
            return n;
        p->pos++;
        n = binary(p, n, op, power);
    }
}

static Node *additive(P *p)
{
    Node *n = multiplicative(p);
    for (;;) {
        const Tok *t = peek(p);
        int op = is_op(t, "+") ? OP_ADD : is_op(t, "-") ? OP_SUB : is_op(t, "~") ? OP_CAT : -1;
        if (!n || op < 0)
            return n;
        p->pos++;
        n = binary(p, n, op, multiplicative);
    }
}

static Node *comparison(P *p)
{
    Node *n = additive(p);
    for (;;) {
        const Tok *t = peek(p);
        int op = -1;
        if (is_name(t, "not") && is_name(peek2(p), "in")) {
            op = OP_NOTIN;
            p->pos++;
        } else if (is_name(t, "in")) {
            op = OP_IN;
        } else if (t->kind == K_OP) {
            op = is_op(t, "==") ? OP_EQ : is_op(t, "!=") ? OP_NE : is_op(t, "<") ? OP_LT : is_op(t, "<=") ? OP_LE :
                 is_op(t, ">") ? OP_GT : is_op(t, ">=") ? OP_GE : -1;
        }
        if (!n || op < 0)
            return n;
        p->pos++;
        n = binary(p, n, op, additive);
    }
}

static Node *negation(P *p)
{
    const Tok *t = peek(p);
    if (is_name(t, "not")) {
        p->pos++;
        Node *n = node(p, E_NOT, t->line);
        if (!n || ++p->depth > MAX_DEPTH || !(n->a = negation(p)))
            return n ? perr(p, t->line, "expression nested too deeply") : NULL;
        p->depth--;
        return n;
    }
    return comparison(p);
}

static Node *conjunction(P *p)
{
    Node *n = negation(p);
    while (n && is_name(peek(p), "and")) {
        p->pos++;
        n = binary(p, n, OP_AND, negation);
    }
    return n;
}

static Node *disjunction(P *p)
{
    Node *n = conjunction(p);
    while (n && is_name(peek(p), "or")) {
        p->pos++;
        n = binary(p, n, OP_OR, conjunction);
    }
    return n;
}

static Node *expr(P *p)
{
    Node *n = disjunction(p);
    if (n && is_name(peek(p), "if")) {
        int line = peek(p)->line;
        p->pos++;
        Node *c = node(p, E_COND, line);
        if (!c)
            return NULL;
        c->b = n;
        if (!(c->a = disjunction(p)))
            return NULL;
        if (is_name(peek(p), "else")) {
            p->pos++;
            if (!(c->c = expr(p)))
                return NULL;
        }
        return c;
    }
    return n;
}

/* A target of set or for: a name, names separated by commas, or (set only) name.attr. */
static Node *target(P *p, bool allow_attr)
{
    const Tok *t = peek(p);
    Node *first = NULL;
    if (t->kind != K_NAME)
        return perr(p, t->line, "expected a name to assign to");
    if (!(first = node(p, E_NAME, t->line)))
        return NULL;
    first->s = t->s;
    first->n = t->n;
    p->pos++;
    if (allow_attr && is_op(peek(p), ".")) {
        p->pos++;
        const Tok *a = peek(p);
        if (a->kind != K_NAME)
            return perr(p, a->line, "expected an attribute name");
        Node *m = node(p, E_ATTR, a->line);
        if (!m)
            return NULL;
        m->a = first;
        m->s = a->s;
        m->n = a->n;
        p->pos++;
        return m;
    }
    if (!is_op(peek(p), ","))
        return first;
    Node *tup = node(p, E_TUPLE, t->line);
    if (!tup || !push(p, &tup->body, first))
        return NULL;
    while (is_op(peek(p), ",")) {
        p->pos++;
        const Tok *nt = peek(p);
        if (nt->kind != K_NAME)
            return perr(p, nt->line, "expected a name to assign to");
        Node *m = node(p, E_NAME, nt->line);
        if (!m)
            return NULL;
        m->s = nt->s;
        m->n = nt->n;
        p->pos++;
        if (!push(p, &tup->body, m))
            return NULL;
    }
    return tup;
}

static bool block(P *p, NodeList *out, const char *const *ends, int n_ends, int *which);

/* At "{%", is the statement one of ends? */
static int at_end(const P *p, const char *const *ends, int n_ends)
{
    if (peek(p)->kind != K_OPEN_STMT)
        return -1;
    const Tok *name = peek2(p);
    for (int i = 0; i < n_ends; i++)
        if (is_name(name, ends[i]))
            return i;
    return -1;
}

static bool close_stmt(P *p) { return expect_kind(p, K_CLOSE_STMT, "'%}'"); }

static Node *statement(P *p)
{
    const Tok *open = peek(p);
    p->pos++;
    const Tok *kw = peek(p);
    char b[64];
    if (kw->kind != K_NAME)
        return perr(p, kw->line, "expected a statement name after '{%%', found %s", tok_desc(kw, b, sizeof b));
    int line = kw->line;
    p->pos++;
    Node *n;
    int which;
    if (is_name(kw, "if") || is_name(kw, "elif")) {
        static const char *const ends[3] = {"elif", "else", "endif"};
        if (!(n = node(p, N_IF, line)) || !(n->a = expr(p)) || !close_stmt(p) || !block(p, &n->body, ends, 3, &which))
            return NULL;
        if (which == 0) {   /* elif: a nested if in the else branch, which closes both */
            if (!push(p, &n->alt, statement(p)))
                return NULL;
            return n;
        }
        if (which == 1) {
            static const char *const endif[1] = {"endif"};
            p->pos += 2;
            if (!close_stmt(p) || !block(p, &n->alt, endif, 1, &which))
                return NULL;
        }
        p->pos += 2;   /* {% endif */
        return close_stmt(p) ? n : NULL;
    }
    if (is_name(kw, "for")) {
        static const char *const ends[2] = {"else", "endfor"};
        if (!(n = node(p, N_FOR, line)) || !(n->a = target(p, false)))
            return NULL;
        if (!is_name(peek(p), "in"))
            return perr(p, peek(p)->line, "expected 'in' after the loop variable");
        p->pos++;
        /* the iterable: no if-else here ("for x in xs if cond" filters) */
        if (!(n->b = disjunction(p)))
            return NULL;
        if (is_name(peek(p), "if")) {
            p->pos++;
            if (!(n->c = disjunction(p)))
                return NULL;
        }
        if (is_name(peek(p), "recursive"))
            return perr(p, peek(p)->line, "recursive loops are not supported");
        if (!close_stmt(p) || !block(p, &n->body, ends, 2, &which))
            return NULL;
        if (which == 0) {
            static const char *const endfor[1] = {"endfor"};
            p->pos += 2;
            if (!close_stmt(p) || !block(p, &n->alt, endfor, 1, &which))
                return NULL;
        }
        p->pos += 2;
        return close_stmt(p) ? n : NULL;
    }
    if (is_name(kw, "set")) {
        Node *t = target(p, true);
        if (!t)
            return NULL;
        if (is_op(peek(p), "=")) {
            p->pos++;
            if (!(n = node(p, N_SET, line)))
                return NULL;
            n->a = t;
            Node *v = expr(p);
            if (v && is_op(peek(p), ",")) {   /* set a, b = 1, 2 */
                Node *tup = node(p, E_TUPLE, v->line);
                if (!tup || !push(p, &tup->body, v))
                    return NULL;
                while (is_op(peek(p), ",")) {
                    p->pos++;
                    if (!push(p, &tup->body, expr(p)))
                        return NULL;
                }
                v = tup;
            }
            if (!(n->b = v))
                return NULL;
            return close_stmt(p) ? n : NULL;
        }
        static const char *const endset[1] = {"endset"};
        if (t->kind != E_NAME)
            return perr(p, line, "a block set assigns one name");
        if (!(n = node(p, N_SETBLOCK, line)) || !close_stmt(p) || !block(p, &n->body, endset, 1, &which))
            return NULL;
        n->a = t;
        p->pos += 2;
        return close_stmt(p) ? n : NULL;
    }
    if (is_name(kw, "macro")) {
        static const char *const endmacro[1] = {"endmacro"};
        const Tok *name = peek(p);
        if (name->kind != K_NAME)
            return perr(p, name->line, "expected the macro's name");
        if (!(n = node(p, N_MACRO, line)))
            return NULL;
        n->s = name->s;
        n->n = name->n;
        p->pos++;
        if (!args(p, &n->alt))
            return NULL;
        for (int i = 0; i < n->alt.n; i++)
            if (n->alt.v[i]->kind != E_NAME && n->alt.v[i]->kind != E_KWARG)
                return perr(p, line, "macro parameters are names, with defaults as name=value");
        if (p->n_macros == 64)
            return perr(p, line, "more than 64 macros");
        p->macros[p->n_macros] = n->s;
        p->macro_len[p->n_macros++] = n->n;
        if (!close_stmt(p) || !block(p, &n->body, endmacro, 1, &which))
            return NULL;
        p->pos += 2;
        return close_stmt(p) ? n : NULL;
    }
    if (is_name(kw, "break") || is_name(kw, "continue")) {
        if (!(n = node(p, is_name(kw, "break") ? N_BREAK : N_CONTINUE, line)))
            return NULL;
        return close_stmt(p) ? n : NULL;
    }
    if (is_name(kw, "filter")) {
        static const char *const endfilter[1] = {"endfilter"};
        const Tok *name = peek(p);
        int f = name->kind == K_NAME ? lookup(kFilters, F_COUNT, name->s, name->n) : -1;
        if (f < 0)
            return perr(p, name->line, "unknown filter '%.*s'", (int)name->n, name->s);
        if (!(n = node(p, N_FILTERBLOCK, line)))
            return NULL;
        Node *fl = node(p, E_FILTER, name->line);
        if (!fl)
            return NULL;
        fl->fn = f;
        fl->s = name->s;
        fl->n = name->n;
        p->pos++;
        if (is_op(peek(p), "(") && !args(p, &fl->body))
            return NULL;
        n->a = fl;
        if (!close_stmt(p) || !block(p, &n->body, endfilter, 1, &which))
            return NULL;
        p->pos += 2;
        return close_stmt(p) ? n : NULL;
    }
    (void)open;
    return perr(p, line, "unsupported statement '%.*s' (supported: if, for, set, macro, filter, break, continue)",
                (int)kw->n, kw->s);
}

/* Statements until one of ends (left unconsumed at its "{%"); *which says which, -1 at the end
 * of the template (an error when ends were expected). */
static bool block(P *p, NodeList *out, const char *const *ends, int n_ends, int *which)
{
    if (++p->depth > MAX_DEPTH) {
        perr(p, peek(p)->line, "blocks nested too deeply");
        return false;
    }
    for (;;) {
        const Tok *t = peek(p);
        if (t->kind == K_EOF) {
            *which = -1;
            if (n_ends) {
                perr(p, t->line, "the template ends inside a block: '{%% %s %%}' expected", ends[n_ends - 1]);
                return false;
            }
            break;
        }
        if ((*which = at_end(p, ends, n_ends)) >= 0)
            break;
        Node *n;
        if (t->kind == K_TEXT) {
            if (!(n = node(p, N_TEXT, t->line)))
                return false;
            n->s = t->s;
            n->n = t->n;
            p->pos++;
        } else if (t->kind == K_OPEN_EXPR) {
            p->pos++;
            if (!(n = node(p, N_OUT, t->line)) || !(n->a = expr(p)) || !expect_kind(p, K_CLOSE_EXPR, "'}}'"))
                return false;
        } else if (t->kind == K_OPEN_STMT) {
            const Tok *kw = peek2(p);
            if (is_name(kw, "endif") || is_name(kw, "endfor") || is_name(kw, "else") || is_name(kw, "elif") ||
                is_name(kw, "endset") || is_name(kw, "endmacro") || is_name(kw, "endfilter")) {
                perr(p, kw->line, "'%.*s' without its opening statement", (int)kw->n, kw->s);
                return false;
            }
            if (!(n = statement(p)))
                return false;
        } else {
            char b[64];
            perr(p, t->line, "unexpected %s", tok_desc(t, b, sizeof b));
            return false;
        }
        if (!push(p, out, n))
            return false;
    }
    p->depth--;
    return true;
}

/* Calls to names that are neither functions nor macros of the template. */
static bool check_calls(P *p, const Node *n, int depth)
{
    if (!n || depth > MAX_DEPTH)
        return true;
    if (n->kind == E_CALL && n->fn == G_MACRO && !n->a) {
        bool known = false;
        for (int i = 0; i < p->n_macros && !known; i++)
            known = p->macro_len[i] == n->n && memcmp(p->macros[i], n->s, n->n) == 0;
        if (!known) {
            perr(p, n->line, "unknown function '%.*s' (supported: namespace, range, raise_exception, strftime_now, "
                 "dict, and the template's macros)", (int)n->n, n->s);
            return false;
        }
    }
    const Node *kids[3] = {n->a, n->b, n->c};
    for (int i = 0; i < 3; i++)
        if (!check_calls(p, kids[i], depth + 1))
            return false;
    for (int i = 0; i < n->body.n; i++)
        if (!check_calls(p, n->body.v[i], depth + 1))
            return false;
    for (int i = 0; i < n->alt.n; i++)
        if (!check_calls(p, n->alt.v[i], depth + 1))
            return false;
    return true;
}

int llmc_jinja_parse(const char *src, size_t len, LlmcJinja **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > ((size_t)16 << 20))
        return jinja_fail(err, errlen, 0, "template of %zu bytes is too long (limit 16 MiB)", len);
    LlmcJinja *t = calloc(1, sizeof *t);
    Pre pre = {NULL, NULL, 0};
    if (!t || preprocess(src ? src : "", len, &pre)) {
        free(t);
        return jinja_fail(err, errlen, 0, "out of memory");
    }
    /* The preprocessed text must outlive the template: copy it into the arena. */
    char *text = jinja_alloc(&t->arena, pre.n + 1);
    if (!text) {
        free(pre.s);
        free(pre.line);
        llmc_jinja_free(t);
        return jinja_fail(err, errlen, 0, "out of memory");
    }
    memcpy(text, pre.s, pre.n + 1);
    free(pre.s);
    Lex L = {&t->arena, text, pre.line, pre.n, 0, NULL, 0, 0, err, errlen, 0};
    int rc = tokenize(&L);
    free(pre.line);
    if (!rc) {
        P p = {&t->arena, L.toks, 0, err, errlen, 0, false, {0}, {0}, 0};
        int which;
        if (!block(&p, &t->prog, NULL, 0, &which))
            rc = -1;
        for (int i = 0; !rc && i < t->prog.n; i++)
            if (!check_calls(&p, t->prog.v[i], 0))
                rc = -1;
    }
    free(L.toks);
    if (rc) {
        llmc_jinja_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void llmc_jinja_free(LlmcJinja *t)
{
    if (!t)
        return;
    jinja_arena_free(&t->arena);
    free(t);
}

