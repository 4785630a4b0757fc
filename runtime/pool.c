/* pool.c — thread team, step handshake and sense-reversing barrier. See pool.h.
 *
 * Handshake. The controller publishes fn/arg, zeroes `done` and bumps the run generation `gen`
 * (release). A worker that sees gen change (acquire) runs fn and increments `done` (release); the
 * controller runs tid 0's share and then waits for done == nth-1 (acquire). Waiting workers first
 * spin, then yield, then sleep on `cv`; to sleep a worker increments `sleepers` and re-checks gen
 * under the mutex, and the controller, after bumping gen, broadcasts only when it sees
 * sleepers > 0. Both sides use sequentially consistent operations on gen and sleepers, so at least
 * one of them sees the other's write and no wake-up is lost.
 *
 * Barrier. The classic sense-reversing barrier with the sense kept as a generation counter (the
 * barrier gets no tid, so a thread cannot keep its own sense flag): a thread reads bar_gen, then
 * increments bar_count; the last to arrive resets bar_count and bumps bar_gen, the others wait for
 * bar_gen to move. bar_gen cannot move between a thread's read and its arrival, since the episode
 * needs that arrival to complete. Waiters spin, then yield, then (after BARRIER_YIELD_SECONDS: more
 * threads than free cores, as a sharded model's ranks on 2 cores) sleep on bar_cv, counted in
 * bar_sleepers; the last to arrive broadcasts only when it sees a sleeper (the handshake's
 * protocol: sequentially consistent bar_gen and bar_sleepers, the re-check under the mutex).
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtutil.h"

enum {
    POOL_SPIN = 4000,           /* pause iterations before a waiting worker starts yielding */
    BARRIER_SPIN = 256,         /* pause iterations before a barrier waiter starts yielding */
};
#define POOL_YIELD_SECONDS 0.002 /* yield this long before sleeping on the condition variable */
#define BARRIER_YIELD_SECONDS 0.0001 /* a barrier waiter yields this long before it sleeps */

typedef struct Worker {
    LlmcPool *pool;
    int tid;
} Worker;

struct LlmcPool {
    /* barrier, on cache lines of their own: every thread hammers them */
    alignas(64) atomic_int bar_count;
    alignas(64) atomic_uint_fast64_t bar_gen;
    atomic_int bar_sleepers;    /* waiters asleep on bar_cv */
    pthread_mutex_t bar_mu;
    pthread_cond_t bar_cv;
    /* run handshake */
    alignas(64) atomic_uint_fast64_t gen;
    alignas(64) atomic_int done;
    atomic_int sleepers;
    atomic_int quit;
    LlmcPoolFn fn;              /* written by the controller before bumping gen */
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nth;
    int n_started;              /* worker threads running */
    pthread_t *threads;         /* [nth-1] */
    Worker *workers;            /* [nth-1] */
};

static uint64_t wait_for_run(LlmcPool *p, uint64_t seen)
{
    uint64_t g;
    for (int i = 0; i < POOL_SPIN; i++) {
        g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen)
            return g;
        llmc_rt_cpu_relax();
    }
    double t0 = llmc_rt_now();
    for (int i = 0;; i++) {
        g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen)
            return g;
        if ((i & 15) == 15 && llmc_rt_now() - t0 > POOL_YIELD_SECONDS)
            break;
        sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while ((g = atomic_load(&p->gen)) == seen)
        pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    LlmcPool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_for_run(p, seen);
        if (atomic_load_explicit(&p->quit, memory_order_acquire))
            break;
        p->fn(p->arg, w->tid, p->nth);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
    return NULL;
}

/* Publishes a new run (or the quit request) and wakes sleeping workers. */
static void publish(LlmcPool *p)
{
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

int llmc_pool_create(LlmcPool **out, int nth, char *err, size_t errlen)
{
    *out = NULL;
    if (nth < 1)
        return llmc_rt_fail(err, errlen, "thread count must be at least 1, got %d", nth);
    LlmcPool *p = llmc_rt_alloc(sizeof *p);
    if (!p)
        return llmc_rt_fail(err, errlen, "out of memory creating the thread pool");
    atomic_init(&p->bar_count, 0);
    atomic_init(&p->bar_gen, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->quit, 0);
    p->nth = nth;
    int rc = pthread_mutex_init(&p->mu, NULL);
    if (rc != 0) {
        free(p);
        return llmc_rt_fail(err, errlen, "pthread_mutex_init: %s", strerror(rc));
    }
    rc = pthread_cond_init(&p->cv, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return llmc_rt_fail(err, errlen, "pthread_cond_init: %s", strerror(rc));
    }
    if (nth > 1) {
        p->threads = calloc((size_t)nth - 1, sizeof *p->threads);
        p->workers = calloc((size_t)nth - 1, sizeof *p->workers);
        if (!p->threads || !p->workers) {
            llmc_pool_destroy(p);
            return llmc_rt_fail(err, errlen, "out of memory creating %d threads", nth);
        }
    }
    for (int i = 0; i < nth - 1; i++) {
        p->workers[i].pool = p;
        p->workers[i].tid = i + 1;
        rc = pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]);
        if (rc != 0) {
            llmc_pool_destroy(p);
            return llmc_rt_fail(err, errlen, "cannot start thread %d of %d: %s", i + 2, nth,
                                strerror(rc));
        }
        p->n_started++;
    }
    *out = p;
    return 0;
}

void llmc_pool_destroy(LlmcPool *p)
{
    if (!p)
        return;
    if (p->n_started > 0) {
        atomic_store_explicit(&p->quit, 1, memory_order_release);
        publish(p);
        for (int i = 0; i < p->n_started; i++)
            pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->bar_cv);
    pthread_mutex_destroy(&p->bar_mu);
    free(p->threads);
    free(p->workers);
    free(p);
}

int llmc_pool_nth(const LlmcPool *p) { return p->nth; }

void llmc_pool_run(LlmcPool *p, LlmcPoolFn fn, void *arg)
{
    if (p->nth == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    publish(p);
    fn(arg, 0, p->nth);
    int want = p->nth - 1;
    for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) != want; i++) {
        if (i < BARRIER_SPIN)
            llmc_rt_cpu_relax();
        else
            sched_yield();
    }
}

void llmc_barrier(LlmcPool *p)
{
    if (!p || p->nth == 1)
        return;
    uint64_t g = atomic_load_explicit(&p->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->bar_count, 1, memory_order_acq_rel) == p->nth - 1) {
        atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
        atomic_store(&p->bar_gen, g + 1);
        if (atomic_load(&p->bar_sleepers) > 0) {
            pthread_mutex_lock(&p->bar_mu);
            pthread_cond_broadcast(&p->bar_cv);
            pthread_mutex_unlock(&p->bar_mu);
        }
        return;
    }
    for (int i = 0; i < BARRIER_SPIN; i++) {
        if (atomic_load_explicit(&p->bar_gen, memory_order_acquire) != g)
            return;
        llmc_rt_cpu_relax();
    }
    double t0 = llmc_rt_now();
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&p->bar_gen, memory_order_acquire) != g)
            return;
        if ((i & 15) == 15 && llmc_rt_now() - t0 > BARRIER_YIELD_SECONDS)
            break;
        sched_yield();
    }
    pthread_mutex_lock(&p->bar_mu);
    atomic_fetch_add(&p->bar_sleepers, 1);
    while (atomic_load(&p->bar_gen) == g)
        pthread_cond_wait(&p->bar_cv, &p->bar_mu);
    atomic_fetch_sub(&p->bar_sleepers, 1);
    pthread_mutex_unlock(&p->bar_mu);
}
