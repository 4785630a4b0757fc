/* kvcache.h — the paged KV cache's block allocator.
 *
 * The KV pool (LlmcExec.kv) is n_blocks blocks of desc->kv_block_bytes; a block holds
 * kv_block_size consecutive positions of one sequence, for every layer, K and V (the generated
 * code owns the layout inside a block). A sequence owns a block table row: its i-th entry is the
 * block holding positions i*bs .. i*bs+bs-1, so position p lives in slot
 * row[p / bs] * bs + p % bs (llmc_kv_slot).
 *
 * Free blocks sit on a stack: the most recently freed block is handed out first.
 */
#ifndef LLMC_KVCACHE_H
#define LLMC_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct LlmcKvAlloc {
    int32_t n_blocks;
    int32_t n_free;
    int32_t *free_ids;          /* [n_blocks]: free_ids[0..n_free) are free, top at n_free-1 */
    uint8_t *used;              /* [n_blocks]: 1 while allocated (catches double frees) */
} LlmcKvAlloc;

/* n_blocks in 0..INT32_MAX. Returns 0, or -1 with a message in err. */
int llmc_kv_init(LlmcKvAlloc *a, int64_t n_blocks, char *err, size_t errlen);
void llmc_kv_destroy(LlmcKvAlloc *a);
/* A free block id, or -1 when every block is in use. */
int32_t llmc_kv_alloc(LlmcKvAlloc *a);
/* Returns a block to the free list (it must be allocated). */
void llmc_kv_free(LlmcKvAlloc *a, int32_t id);
static inline int32_t llmc_kv_free_count(const LlmcKvAlloc *a) { return a->n_free; }

/* Blocks that hold positions 0..n_positions-1. */
static inline int32_t llmc_kv_blocks_for(int32_t n_positions, int32_t block_size)
{
    return (int32_t)(((int64_t)n_positions + block_size - 1) / block_size);
}

/* KV slot of position pos for a sequence whose block table row is row. */
static inline int32_t llmc_kv_slot(const int32_t *row, int32_t block_size, int32_t pos)
{
    return row[pos / block_size] * block_size + pos % block_size;
}

#endif
