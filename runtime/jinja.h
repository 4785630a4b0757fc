/* jinja.h — a small Jinja interpreter for chat templates (tokenizer_config.json's chat_template).
 *
 * llmc parses the template at compile time (a template it cannot run is a compile error that
 * names the template's line) and the executable renders it for each conversation. What is
 * covered is what real chat templates use, with the settings transformers renders them with
 * (trim_blocks, lstrip_blocks, no trailing newline): text, {{ }}, {% %} and {# #} with
 * whitespace control, if/elif/else, for (tuple targets, an if filter, else, loop.index/index0/
 * revindex/first/last/length/previtem/nextitem, break, continue), set (names, tuples,
 * namespace attributes, blocks), macro, call-free expressions (literals, lists, dicts, tuples,
 * attribute and item access, slices, and/or/not, comparisons, in, arithmetic, ~, if-else), the
 * usual filters and tests, string and dict methods, and the globals namespace(), range(),
 * raise_exception() and strftime_now(). docs/chat.md lists them. Where the JavaScript port the
 * tests compare against (@huggingface/jinja) and Python's Jinja differ, Python's behaviour is
 * followed where chat templates rely on it (str.strip with characters), the port's elsewhere.
 *
 * No global state: a parsed template is read-only and may be rendered by several threads.
 */
#ifndef LLMC_JINJA_H
#define LLMC_JINJA_H

#include <stddef.h>

typedef struct LlmcJinja LlmcJinja;

/* Parses template text. On failure returns -1 with "line N: what" in err (N counts the
 * template's own lines from 1). Every filter, test, method and function a template names must
 * be one this interpreter has, so an unsupported template fails here, not while rendering. */
int llmc_jinja_parse(const char *src, size_t len, LlmcJinja **out, char *err, size_t errlen);
void llmc_jinja_free(LlmcJinja *t);

/* Renders with the members of a JSON object as the variables (messages, add_generation_prompt,
 * bos_token, ...). *out is malloc'd and NUL-terminated, *out_len its length. Returns -1 with a
 * message in err (the context is not a JSON object, raise_exception() was called, a value had
 * the wrong type for an operation, the output passed its limit). */
int llmc_jinja_render(const LlmcJinja *t, const char *context_json, size_t context_len, char **out,
                      size_t *out_len, char *err, size_t errlen);

/* Appends s as a JSON string literal (quotes included) to a malloc'd buffer: what callers use to
 * build a context. Returns 0, or -1 when out of memory. */
int llmc_json_quote(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

#endif
