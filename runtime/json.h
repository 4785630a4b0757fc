/* json.h — a small strict JSON reader and writer for the HTTP server (server.c).
 *
 * The reader takes RFC 8259 text (one value, whitespace around it) and builds a tree in an arena
 * freed at once. It refuses, with the byte offset: bad syntax, invalid UTF-8 anywhere in a string,
 * \u escapes that make a lone surrogate, nesting deeper than LLMC_JSON_MAX_DEPTH, and trailing
 * text. Strings are decoded to UTF-8 (NUL-terminated; \u0000 may put a NUL inside: use len).
 * Numbers keep their double and, when written as an integer that fits, their int64. Object members
 * keep their order; llmc_json_get finds the last member of a name (as Python's json does).
 *
 * The writer appends to a growable text (LlmcText): JSON string literals with what is not valid
 * UTF-8 written as U+FFFD, one for each maximal subpart as Python's decoder does (so the output is
 * always valid JSON whatever the model produced), and a tree written back compactly.
 *
 * No global state: a tree is read-only once built and may be read by several threads.
 */
#ifndef LLMC_JSON_H
#define LLMC_JSON_H

#include <stddef.h>
#include <stdint.h>

#define LLMC_JSON_MAX_DEPTH 64

typedef enum { LLMC_JSON_NULL, LLMC_JSON_BOOL, LLMC_JSON_NUMBER, LLMC_JSON_STRING, LLMC_JSON_ARRAY,
               LLMC_JSON_OBJECT } LlmcJsonType;

typedef struct LlmcJson LlmcJson;
struct LlmcJson {
    LlmcJsonType type;
    int boolean;                /* LLMC_JSON_BOOL */
    double number;              /* LLMC_JSON_NUMBER */
    int is_int;                 /* a number written without fraction or exponent that fits int64 */
    int64_t integer;            /* its value when is_int */
    const char *str;            /* LLMC_JSON_STRING: UTF-8, NUL-terminated, len bytes */
    size_t len;
    const char *key;            /* a member of an object: its name (key_len bytes) */
    size_t key_len;
    LlmcJson *child;            /* LLMC_JSON_ARRAY / OBJECT: the first element or member */
    LlmcJson *next;             /* the next element or member of the parent */
    int32_t count;              /* elements or members */
};

typedef struct LlmcJsonDoc LlmcJsonDoc;

/* Parses text[len]. Returns 0 with *doc (free it) and *root, or -1 with a message naming the byte
 * offset ("invalid JSON at byte 17: expected ',' or '}'"). */
int llmc_json_parse(const char *text, size_t len, LlmcJsonDoc **doc, const LlmcJson **root, char *err,
                    size_t errlen);
void llmc_json_free(LlmcJsonDoc *doc);

/* The member `key` of an object (the last one of that name), or NULL (also when obj is not an
 * object). */
const LlmcJson *llmc_json_get(const LlmcJson *obj, const char *key);
/* "string", "number", ...: for messages. */
const char *llmc_json_type_name(LlmcJsonType t);

/* A growable text; after an allocation failure `oom` is set and later appends do nothing. */
typedef struct LlmcText {
    char *p;                    /* NUL-terminated when n > 0 */
    size_t n, cap;
    int oom;
} LlmcText;

void llmc_text_put(LlmcText *t, const void *s, size_t n);
void llmc_text_cstr(LlmcText *t, const char *s);
void llmc_text_printf(LlmcText *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s[n] as a JSON string literal, quotes included; what is not valid UTF-8 becomes U+FFFD. */
void llmc_text_json_str(LlmcText *t, const char *s, size_t n);
/* v written back as compact JSON. */
void llmc_text_json(LlmcText *t, const LlmcJson *v);
void llmc_text_free(LlmcText *t);

/* Bytes at the end of s[n] that begin a UTF-8 character still incomplete (0..3): what a stream
 * holds back until the next bytes arrive. */
size_t llmc_utf8_incomplete_tail(const char *s, size_t n);
/* Length of the valid UTF-8 character at s[0..n), or 0 when the bytes there are not one. */
size_t llmc_utf8_char_len(const unsigned char *s, size_t n);

#endif
