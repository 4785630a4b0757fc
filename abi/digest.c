/* digest.c — see digest.h. */
#include "digest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

struct LlmcDigest {
    XXH3_state_t leaf, root;
    uint64_t in_leaf, total;
};

LlmcDigest *llmc_digest_new(void)
{
    LlmcDigest *dg = aligned_alloc(64, (sizeof(LlmcDigest) + 63) / 64 * 64);
    if (!dg)
        return NULL;
    XXH3_128bits_reset(&dg->leaf);
    XXH3_128bits_reset(&dg->root);
    dg->in_leaf = dg->total = 0;
    return dg;
}

static void root_add_leaf(XXH3_state_t *root, XXH128_hash_t h)
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    XXH3_128bits_update(root, c.digest, sizeof c.digest);
}

void llmc_digest_update(LlmcDigest *dg, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n > 0) {
        uint64_t room = LLMC_DIGEST_LEAF - dg->in_leaf;
        size_t k = n < room ? n : (size_t)room;
        XXH3_128bits_update(&dg->leaf, p, k);
        dg->in_leaf += k;
        dg->total += k;
        p += k;
        n -= k;
        if (dg->in_leaf == LLMC_DIGEST_LEAF) {
            root_add_leaf(&dg->root, XXH3_128bits_digest(&dg->leaf));
            XXH3_128bits_reset(&dg->leaf);
            dg->in_leaf = 0;
        }
    }
}

static void root_final(XXH3_state_t *root, uint64_t total, uint8_t out[LLMC_DIGEST_BYTES])
{
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(total >> (8 * i));
    XXH3_128bits_update(root, len, sizeof len);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(root));
    memcpy(out, c.digest, LLMC_DIGEST_BYTES);
}

void llmc_digest_final(LlmcDigest *dg, uint8_t out[LLMC_DIGEST_BYTES])
{
    if (dg->in_leaf > 0)
        root_add_leaf(&dg->root, XXH3_128bits_digest(&dg->leaf));
    root_final(&dg->root, dg->total, out);
    XXH3_128bits_reset(&dg->leaf);
    XXH3_128bits_reset(&dg->root);
    dg->in_leaf = dg->total = 0;
}

void llmc_digest_free(LlmcDigest *dg) { free(dg); }

typedef struct {
    const uint8_t *data;
    uint64_t n, n_leaves;
    XXH128_hash_t *leaves;
    int t, nth;
} LeafJob;

static void *leaf_worker(void *arg)
{
    LeafJob *j = arg;
    for (uint64_t i = (uint64_t)j->t; i < j->n_leaves; i += (uint64_t)j->nth) {
        uint64_t off = i * LLMC_DIGEST_LEAF, len = j->n - off < LLMC_DIGEST_LEAF ? j->n - off : LLMC_DIGEST_LEAF;
        j->leaves[i] = XXH3_128bits(j->data + off, (size_t)len);
    }
    return NULL;
}

int llmc_digest_buffer(const void *data, uint64_t n, int threads, uint8_t out[LLMC_DIGEST_BYTES])
{
    uint64_t n_leaves = (n + LLMC_DIGEST_LEAF - 1) / LLMC_DIGEST_LEAF;
    XXH128_hash_t *leaves = malloc((size_t)(n_leaves ? n_leaves : 1) * sizeof *leaves);
    if (!leaves)
        return -1;
    if (threads > 64)
        threads = 64;
    if ((uint64_t)threads > n_leaves)
        threads = (int)n_leaves;
    if (threads < 1)
        threads = 1;
    LeafJob jobs[64];
    pthread_t tids[64];
    int started = 1;
    for (int t = 0; t < threads; t++)
        jobs[t] = (LeafJob){data, n, n_leaves, leaves, t, threads};
    /* Job 0 runs on this thread. */
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tids[t], NULL, leaf_worker, &jobs[t]) != 0)
            break;
        started++;
    }
    /* Every job keeps its stride; those whose thread could not start run here. */
    for (int t = started; t < threads; t++)
        leaf_worker(&jobs[t]);
    leaf_worker(&jobs[0]);
    for (int t = 1; t < started; t++)
        pthread_join(tids[t], NULL);
    XXH3_state_t root;
    XXH3_128bits_reset(&root);
    for (uint64_t i = 0; i < n_leaves; i++)
        root_add_leaf(&root, leaves[i]);
    free(leaves);
    root_final(&root, n, out);
    return 0;
}

void llmc_digest_hex(const uint8_t d[LLMC_DIGEST_BYTES], char out[2 * LLMC_DIGEST_BYTES + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < LLMC_DIGEST_BYTES; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * LLMC_DIGEST_BYTES] = 0;
}
