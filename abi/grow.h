/* grow.h — the growth rule of llmc's growable byte buffers (runtime/json.c's LlmcText,
 * runtime/jinja.c's text, runtime/tokenizer_hf.c's bytes, frontend/tokenizer_json.c's output):
 * the capacity doubles, from `first` for an empty buffer, until it holds `need` bytes. Shared by the
 * compiler and the runtime; header only.
 */
#ifndef LLMC_GROW_H
#define LLMC_GROW_H

#include <stddef.h>
#include <stdlib.h>

/* p reallocated to hold need bytes (*cap: its capacity, updated); NULL when the allocation fails,
 * p and *cap then unchanged. */
static inline void *llmc_grow(void *p, size_t *cap, size_t need, size_t first)
{
    size_t c = *cap ? *cap : first;
    while (c < need)
        c *= 2;
    void *q = realloc(p, c);
    if (q)
        *cap = c;
    return q;
}

#endif
