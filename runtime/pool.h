/* pool.h — the thread team that runs forward() SPMD, and llmc_barrier() (declared in llmc_model.h).
 *
 * llmc_pool_run(pool, fn, arg) calls fn(arg, tid, nth) on all nth threads at once: tid 0 is the
 * calling thread, tids 1..nth-1 are workers the pool owns. It returns when every thread has
 * returned from fn. Inside fn, threads may call llmc_barrier(pool) any number of times (all threads
 * the same number of times).
 *
 * Between runs, workers spin briefly for the next run (decode steps come back to back), then yield,
 * then sleep on a condition variable, so an idle executable burns no CPU. The barrier spins,
 * falls back to sched_yield() and, after 0.1 ms, sleeps: with more threads than free cores (CI
 * machines run tests in parallel on 2 cores; a model of 4 ranks on them) a pure spin would waste
 * whole time slices, and yielding alone hands them to every other process too.
 */
#ifndef LLMC_POOL_H
#define LLMC_POOL_H

#include <stddef.h>

#include "llmc_model.h"

typedef void (*LlmcPoolFn)(void *arg, int tid, int nth);

/* Starts nth-1 worker threads (nth >= 1). Returns 0, or -1 with a message in err. */
int llmc_pool_create(LlmcPool **out, int nth, char *err, size_t errlen);
/* Stops and joins the workers. NULL is fine. */
void llmc_pool_destroy(LlmcPool *pool);
int llmc_pool_nth(const LlmcPool *pool);
/* Runs fn on all threads; not reentrant (one run at a time, from one controlling thread). */
void llmc_pool_run(LlmcPool *pool, LlmcPoolFn fn, void *arg);

#endif
