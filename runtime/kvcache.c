/* kvcache.c — block allocator of the paged KV cache. See kvcache.h. */
#include "kvcache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "rtutil.h"

int llmc_kv_init(LlmcKvAlloc *a, int64_t n_blocks, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (n_blocks < 0 || n_blocks > INT32_MAX)
        return llmc_rt_fail(err, errlen, "KV block count %lld out of range (0..%d)",
                            (long long)n_blocks, INT32_MAX);
    size_t n = n_blocks > 0 ? (size_t)n_blocks : 1;
    a->free_ids = malloc(n * sizeof *a->free_ids);
    a->used = calloc(n, 1);
    if (!a->free_ids || !a->used) {
        llmc_kv_destroy(a);
        return llmc_rt_fail(err, errlen, "out of memory for %lld KV block ids", (long long)n_blocks);
    }
    a->n_blocks = (int32_t)n_blocks;
    /* Block 0 on top: ids are handed out 0, 1, 2, ... from a fresh pool. */
    for (int32_t i = 0; i < a->n_blocks; i++)
        a->free_ids[i] = a->n_blocks - 1 - i;
    a->n_free = a->n_blocks;
    return 0;
}

void llmc_kv_destroy(LlmcKvAlloc *a)
{
    free(a->free_ids);
    free(a->used);
    memset(a, 0, sizeof *a);
}

int32_t llmc_kv_alloc(LlmcKvAlloc *a)
{
    if (a->n_free == 0)
        return -1;
    int32_t id = a->free_ids[--a->n_free];
    assert(!a->used[id]);
    a->used[id] = 1;
    return id;
}

void llmc_kv_free(LlmcKvAlloc *a, int32_t id)
{
    assert(id >= 0 && id < a->n_blocks && a->used[id] && "freeing a KV block that is not in use");
    a->used[id] = 0;
    a->free_ids[a->n_free++] = id;
}
