/* jinja_impl.h — what the chat template interpreter's two files share (jinja_parse.c: template
 * text to a syntax tree; jinja.c: values, the JSON context and rendering): the arena, the value
 * and syntax-tree types, the tables of filter, test, method and function names, and a few text
 * helpers. Nothing here is meant for code outside them.
 */
#ifndef LLMC_JINJA_IMPL_H
#define LLMC_JINJA_IMPL_H

#include "jinja.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Limits: a template or context past them is refused, never run away with. */
#define MAX_OUTPUT ((size_t)16 << 20)      /* bytes of rendered text */
#define MAX_DEPTH 200                       /* nested expressions, statements, macro calls */
#define MAX_STEPS 2000000                   /* evaluation steps of one render */
#define MAX_MEMORY ((size_t)128 << 20)      /* bytes one render's values may take */

/* ---- arena (jinja.c) ---- */

typedef struct ABlock {
    struct ABlock *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} ABlock;

typedef struct Arena {
    ABlock *head;
    size_t total;   /* bytes of all blocks */
    bool over;      /* an allocation failed for MAX_MEMORY */
} Arena;

/* n bytes from a, 16-byte aligned; NULL when out of memory or past MAX_MEMORY (a->over). */
void *jinja_alloc(Arena *a, size_t n);
void jinja_arena_free(Arena *a);

/* ---- values ---- */

typedef enum { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT, JV_NS, JV_MACRO } JKind;

typedef struct JList JList;
typedef struct JDict JDict;
typedef struct Node Node;

typedef struct JVal {
    JKind kind;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p;
            size_t n;
        } s;
        JList *l;
        JDict *d;       /* JV_DICT, JV_NS */
        const Node *m;  /* JV_MACRO */
    } u;
} JVal;

struct JList {
    JVal *v;
    size_t n, cap;
};

struct JDict {
    const char **kp;
    size_t *kn;
    JVal *v;
    size_t n, cap;
};

static const JVal kUndef = {JV_UNDEF, {0}};
static const JVal kNone = {JV_NONE, {0}};

static inline JVal jbool(bool b)
{
    JVal v = {JV_BOOL, {0}};
    v.u.b = b;
    return v;
}

static inline JVal jint(int64_t i)
{
    JVal v = {JV_INT, {0}};
    v.u.i = i;
    return v;
}

static inline JVal jfloat(double f)
{
    JVal v = {JV_FLOAT, {0}};
    v.u.f = f;
    return v;
}

static inline JVal jstr(const char *p, size_t n)
{
    JVal v = {JV_STR, {0}};
    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}

/* ---- syntax tree ---- */

enum {
    /* statements */
    N_TEXT, N_OUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_BREAK, N_CONTINUE, N_FILTERBLOCK,
    /* expressions */
    E_LIT, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST, E_BIN, E_NOT, E_NEG, E_POS, E_COND,
    E_LIST, E_TUPLE, E_DICT, E_KWARG
};

enum { OP_OR, OP_AND, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN, OP_ADD, OP_SUB, OP_CAT, OP_MUL,
       OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW };

typedef struct NodeList {
    Node **v;
    int n, cap;
} NodeList;

struct Node {
    int kind, line, op;
    const char *s;      /* text, name */
    size_t n;
    JVal lit;
    Node *a, *b, *c;
    NodeList body, alt;
    bool neg;           /* E_TEST: is not */
    int fn;             /* E_FILTER: filter; E_TEST: test; E_CALL on an attribute: method;
                           on a name: function (FN_MACRO: a macro) */
};

/* ---- the tables of names ---- */

#define FILTERS(X)                                                                                          \
    X(abs) X(capitalize) X(count) X(d) X(default) X(dictsort) X(first) X(float) X(indent) X(int) X(items)  \
    X(join) X(last) X(length) X(list) X(lower) X(map) X(max) X(min) X(reject) X(rejectattr) X(replace)     \
    X(reverse) X(round) X(safe) X(select) X(selectattr) X(sort) X(string) X(sum) X(title) X(tojson)       \
    X(trim) X(unique) X(upper) X(wordcount) X(bool)
#define TESTS(X)                                                                                            \
    X(boolean) X(callable) X(defined) X(divisibleby) X(eq) X(equalto) X(even) X(false) X(float) X(ge)     \
    X(gt) X(in) X(integer) X(iterable) X(le) X(lower) X(lt) X(mapping) X(ne) X(none) X(number) X(odd)     \
    X(sameas) X(sequence) X(string) X(true) X(undefined) X(upper)
#define METHODS(X)                                                                                          \
    X(upper) X(lower) X(strip) X(lstrip) X(rstrip) X(title) X(capitalize) X(startswith) X(endswith)       \
    X(split) X(replace) X(find) X(count) X(join) X(get) X(items) X(keys) X(values) X(splitlines)
#define FUNCTIONS(X) X(namespace) X(range) X(raise_exception) X(strftime_now) X(dict)

#define ENUM_F(n) F_##n,
#define ENUM_T(n) T_##n,
#define ENUM_M(n) M_##n,
#define ENUM_G(n) G_##n,
enum { FILTERS(ENUM_F) F_COUNT };
enum { TESTS(ENUM_T) T_COUNT };
enum { METHODS(ENUM_M) M_COUNT };
enum { FUNCTIONS(ENUM_G) G_COUNT, G_MACRO };
/* Their names, in enum order (jinja_parse.c). */
extern const char *const kFilters[], *const kTests[], *const kMethods[], *const kFunctions[];

static inline int lookup(const char *const *names, int count, const char *s, size_t n)
{
    for (int i = 0; i < count; i++)
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
            return i;
    return -1;
}

struct LlmcJinja {
    Arena arena;
    NodeList prog;
};

/* ---- text helpers (jinja.c) ---- */

/* "line N: " and the message into err; returns -1 (line <= 0: no line). */
int jinja_fail(char *err, size_t errlen, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The whitespace the port trims (JavaScript's \s): ASCII, and in UTF-8 NBSP, OGHAM SPACE MARK,
 * U+2000..U+200A, LINE/PARAGRAPH SEPARATOR, NNBSP, MMSP, IDEOGRAPHIC SPACE, BOM. Returns the
 * byte length of the whitespace character at s, 0 when there is none. */
size_t jinja_ws_len(const char *s, size_t n);
/* The length of s[0..n) without its trailing, or before its first non-, whitespace. */
size_t jinja_rtrim_len(const char *s, size_t n);
size_t jinja_ltrim_len(const char *s, size_t n);
/* Writes code point cp as UTF-8 into o (room for 4); returns the byte count. */
size_t jinja_put_utf8(char *o, uint32_t cp);

static inline bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static inline int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                                                                      : -1;
}

#endif
