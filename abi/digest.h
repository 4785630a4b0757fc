/* digest.h — the content digest of the sections of a model artifact (program, kernels, weights,
 * tokenizer): XXH3-128 (Debian's libxxhash, compiled in from its header) over leaves.
 *
 * A section of n bytes is cut into leaves of LLMC_DIGEST_LEAF bytes (the last one shorter, none
 * when n is 0). Each leaf's XXH3-128 digest, in canonical (big-endian) form, is fed in order to
 * a second XXH3-128, followed by n as 8 little-endian bytes; that digest is the section's. The
 * leaves make the check parallel (llmc_digest_buffer runs one thread a core, so checking a
 * 16 GB weights section costs about what reading it does) while the compiler computes the same
 * value streaming, as it writes. XXH3 is not a cryptographic hash: it catches corruption and
 * a payload from another build, not a forger.
 */
#ifndef LLMC_DIGEST_H
#define LLMC_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define LLMC_DIGEST_BYTES 16
#define LLMC_DIGEST_LEAF ((uint64_t)1 << 22)   /* 4 MiB */

/* Streaming form (the compiler, as it writes a section). */
typedef struct LlmcDigest LlmcDigest;
LlmcDigest *llmc_digest_new(void);              /* NULL when out of memory */
void llmc_digest_update(LlmcDigest *dg, const void *data, size_t n);
/* The digest of everything fed since llmc_digest_new (or the last final); starts over. */
void llmc_digest_final(LlmcDigest *dg, uint8_t out[LLMC_DIGEST_BYTES]);
void llmc_digest_free(LlmcDigest *dg);

/* The digest of a whole buffer, its leaves hashed by up to `threads` threads (<= 1: this one).
 * Returns 0, or -1 when memory for the leaf digests is short (out untouched). */
int llmc_digest_buffer(const void *data, uint64_t n, int threads, uint8_t out[LLMC_DIGEST_BYTES]);

/* "0123...": 32 hex digits and a NUL. */
void llmc_digest_hex(const uint8_t d[LLMC_DIGEST_BYTES], char out[2 * LLMC_DIGEST_BYTES + 1]);

#endif
