/* gpu_wait.c — waiting for a GPU's stream with a deadline: the step watchdog (docs/tp.md, "The
 * watchdog").
 *
 * cuStreamSynchronize cannot be given a deadline: a kernel that never ends, or an NCCL collective
 * whose peer never comes, keeps the calling thread in it forever. So the end of a step's work is
 * marked by a host function (cuLaunchHostFunc) that bumps a counter and signals a condition
 * variable; the thread sleeps on it (pthread_cond_timedwait: no CPU spent while the GPU works)
 * until the counter passes, or until a check is due every LLMC_WAIT_CHECK_S (cuStreamQuery: an
 * error the context took, which may keep the host function from ever running; the rank's NCCL
 * communicator's asynchronous error, as NCCL's fault-tolerance notes ask of a waiting
 * application), or until the deadline. Then cuStreamSynchronize, on a stream known to be drained,
 * returns at once with the work's own error if any.
 *
 * A wait that reaches its deadline returns LLMC_WAIT_TIMEOUT and leaves the host function armed:
 * llmc_gpu_wait_more waits for the same mark again (after the communicators were aborted: did the
 * stream drain?). The signal is freed with the GPU, unless the GPU is hung (g->hung), whose stream
 * may still run the host function one day: then it is left to the process's exit.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpu_impl.h"
#include "rtutil.h"

struct LlmcGpuDone {
    pthread_mutex_t mu;
    pthread_cond_t cv;                  /* on CLOCK_MONOTONIC */
    uint64_t armed, fired;              /* host functions enqueued, and run */
    int pokes;                          /* llmc_gpu_done_poke calls not yet seen by a waiter */
};

LlmcGpuDone *llmc_gpu_done_new(void)
{
    LlmcGpuDone *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    if (!ok || pthread_mutex_init(&d->mu, NULL) != 0) {
        free(d);
        return NULL;
    }
    if (pthread_cond_init(&d->cv, &ca) != 0) {
        pthread_mutex_destroy(&d->mu);
        free(d);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    return d;
}

void llmc_gpu_done_free(LlmcGpuDone *d)
{
    if (!d)
        return;
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* The host function: on a driver thread, once the stream's work before it has run. */
static void done_fire(void *arg)
{
    LlmcGpuDone *d = arg;
    pthread_mutex_lock(&d->mu);
    d->fired++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void llmc_gpu_done_poke(LlmcGpuDone *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->pokes++;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* Sleeps until the armed mark fired (1), a poke, or `until` (0). */
static int done_sleep(LlmcGpuDone *d, double until)
{
    struct timespec ts;
    double whole = (double)(int64_t)until;
    ts.tv_sec = (time_t)whole;
    ts.tv_nsec = (long)((until - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&d->mu);
    while (d->fired < d->armed && !d->pokes)
        if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) != 0)
            break;
    int fired = d->fired >= d->armed;
    d->pokes = 0;
    pthread_mutex_unlock(&d->mu);
    return fired;
}

double llmc_gpu_deadline(const LlmcGpu *g, int32_t tokens)
{
    if (g->step_timeout <= 0)
        return 0;
    return llmc_rt_now() + g->step_timeout + LLMC_STEP_TIMEOUT_PER_TOKEN * (double)(tokens > 0 ? tokens : 0);
}

/* Waits for the armed mark until deadline (g->deadline, or earlier after an abort). */
static int wait_mark(LlmcGpu *g, double deadline, char *err, size_t errlen)
{
    double grace_end = 0;
    for (;;) {
        double now = llmc_rt_now();
        double until = now + LLMC_WAIT_CHECK_S;
        if (until > deadline)
            until = deadline;
        if (done_sleep(g->done, until))
            return 0;
        CUresult r = g->cu.StreamQuery(g->stream);
        if (r == CUDA_SUCCESS)
            return 0;                   /* drained; its host function is on its way */
        if (r != CUDA_ERROR_NOT_READY)
            return llmc_cu_fail(g, r, err, errlen, "cuStreamQuery (%s)", g->name);
        if (g->comm || g->abort) {
            int c = llmc_gpu_comm_check(g, err, errlen);
            if (c < 0)
                return -1;
            /* another rank failed and aborted the communicators: this rank's collectives end, so
             * its stream drains soon, or its GPU is hung */
            if (c > 0 && !grace_end) {
                grace_end = llmc_rt_now() + (g->step_timeout < LLMC_ABORT_GRACE_S ? g->step_timeout : LLMC_ABORT_GRACE_S);
                if (grace_end < deadline)
                    deadline = grace_end;
            }
        }
        if (llmc_rt_now() >= deadline)
            return LLMC_WAIT_TIMEOUT;
    }
}

int llmc_gpu_wait(LlmcGpu *g, const char *what, char *err, size_t errlen)
{
    CUresult r;
    if (g->deadline > 0 && g->done) {
        pthread_mutex_lock(&g->done->mu);
        g->done->armed = g->done->fired + 1;
        pthread_mutex_unlock(&g->done->mu);
        if ((r = g->cu.LaunchHostFunc(g->stream, done_fire, g->done)) != CUDA_SUCCESS)
            return llmc_cu_fail(g, r, err, errlen, "%s (cuLaunchHostFunc)", what);
        int w = wait_mark(g, g->deadline, err, errlen);
        if (w == LLMC_WAIT_TIMEOUT) {
            g->timed_out = 1;
            llmc_rt_fail(err, errlen, "%s did not finish by its deadline", what);
        }
        if (w != 0)
            return w;
    }
    if ((r = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "%s (cuStreamSynchronize)", what);
    return 0;
}

int llmc_gpu_wait_more(LlmcGpu *g, double seconds)
{
    char why[256];
    if (!g->done)
        return -1;
    return wait_mark(g, llmc_rt_now() + seconds, why, sizeof why) == 0 ? 0 : -1;
}
