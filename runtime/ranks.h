/* ranks.h — the ranks of a sharded model on the cpu target (--tp N: ranks as threads) and the
 * collectives between them (llmc_all_reduce, llmc_all_gather: declared in llmc_model.h).
 *
 * The N ranks' instances of forward() run on one thread team (pool.h) of N x m threads, rank r on
 * tids [r m, (r+1) m): llmc_barrier() meets them all, so the ranks go through the graph in
 * lockstep. A collective is two barriers' work: each rank's tid 0 publishes where its x and y
 * are, a barrier, then every thread of every rank combines its share of the elements over all
 * ranks (in rank order 0..N-1: the result does not depend on the threads) and writes it to every
 * rank's y; the barrier after the node (forward()'s own) ends it. Nothing spins but the pool's
 * barrier (which yields after a short spin).
 */
#ifndef LLMC_RANKS_H
#define LLMC_RANKS_H

#include <stddef.h>

#include "llmc_model.h"

/* The meeting place of n_ranks ranks of threads_per_rank threads each. Returns 0, or -1 with a
 * message in err. */
int llmc_ranks_create(LlmcRanks **out, int n_ranks, int threads_per_rank, char *err, size_t errlen);
/* NULL is fine. */
void llmc_ranks_destroy(LlmcRanks *r);

#endif
