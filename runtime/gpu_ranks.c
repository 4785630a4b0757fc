/* gpu_ranks.c — a sharded model (--tp N, desc->n_ranks = N > 1) on N NVIDIA GPUs of one host,
 * driven by one process (docs/tp.md, "The CUDA targets").
 *
 * Rank r runs on device ordinal r with everything an unsharded model has on its one GPU: its
 * primary context, stream, module and kernels, its part of the payload (the weights at r *
 * rank_weights_stride, packed by llmc compile), consts, activation arena, KV pool (the rank's KV
 * heads; the same number of blocks on every rank) and step buffers, and its CUDA graphs. Rank 0's
 * LlmcGpu is the one the engine holds; it owns the others, the NCCL table and a team of N threads
 * (pool.h): a step runs llmc_gpu_step_one for rank r on thread r (the caller's thread is rank
 * 0's), each with its own context current, so the ranks enqueue (or capture, or replay) forward()
 * at once and each waits for its own stream. The scheduler, the KV block allocator and the block
 * tables are the engine's, shared: every rank gets the same step. Every rank computes the same
 * gathered logits and chooses the same tokens; rank 0 copies them back, the others nothing.
 *
 * Collectives: forward() calls llmc_gpu_all_gather and llmc_gpu_all_to_all (llmc_model.h), which
 * enqueue ncclAllGather / a group of ncclSend and ncclRecv on the rank's stream, so a CUDA graph
 * captured on that stream holds them (NCCL supports capture since 2.9); kernels of forward()'s
 * then put the gathered blocks in place (all_gather) or sum them in rank order (all_reduce: exact
 * by construction, docs/tp.md). NCCL is loaded at run time (dlopen("libnccl.so.2")) as libcuda is;
 * NCCL_NVLS_ENABLE=0 is set before the communicators are made (NVLink SHARP stays off). The
 * communicators come from ncclGetUniqueId and one ncclCommInitRankConfig a rank, non-blocking
 * (config.blocking = 0), called at once by the team's threads once every rank has allocated what
 * it needs for them, each published at once (so that it can be aborted) and then awaited by
 * polling ncclCommGetAsyncError; one all-gather and one exchange then run eagerly so that NCCL's
 * connections exist before any graph is captured. On a non-blocking communicator any call may
 * return ncclInProgress: the rank then polls ncclCommGetAsyncError until ncclSuccess before it
 * does anything else with the communicator or its stream (comm_settle), as NCCL documents.
 *
 * A rank that fails (before or inside its communicator's init, a launch, a copy, a capture, an
 * NCCL call, a step's checks) while its peers wait for it (in their init, or at a collective it
 * will never join) would leave them waiting forever: its thread aborts every rank's communicator
 * (ncclCommAbort) before it returns, so the peers' inits and collectives end, their threads
 * return, and the step (or setup) fails with the first failed rank's message. A rank whose step
 * does not end by its deadline (gpu_wait.c: the watchdog) does the same; its message says whether
 * its GPU then finished (it waited in a collective) or not (its GPU is hung). The communicators are
 * gone after that: every later step fails at once with that message.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu.h"
#include "gpu_impl.h"
#include "rtutil.h"

static const struct {
    const char *sym;
    size_t off;
} nccl_syms[] = {
#define LLMC_NCCL_SYM(field, sym, params) {sym, offsetof(LlmcNcclApi, field)},
    LLMC_NCCL_FUNCS(LLMC_NCCL_SYM)
#undef LLMC_NCCL_SYM
};
enum { N_NCCL = sizeof nccl_syms / sizeof nccl_syms[0] };

static const char *nccl_error(const LlmcNcclApi *n, ncclResult_t r)
{
    const char *s = n->GetErrorString ? n->GetErrorString(r) : NULL;
    return s ? s : "unknown NCCL error";
}

/* A call's result that lets the next one go: ncclSuccess, or ncclInProgress (a non-blocking
 * communicator; inside a group the calls only queue, and ncclGroupEnd's result is awaited). */
static int nccl_going(ncclResult_t r) { return r == LLMC_NCCL_SUCCESS || r == LLMC_NCCL_IN_PROGRESS; }

/* The NCCL of a sharded model: loaded from lib (NULL: LLMC_NCCL_LIB) unless a table is given;
 * every entry point present and the version at least LLMC_NCCL_MIN_VERSION. */
static int nccl_load(LlmcNcclApi *api, const LlmcNcclApi *given, const char *lib, int n_ranks, char *err,
                     size_t errlen)
{
    memset(api, 0, sizeof *api);
    const char *name = lib ? lib : LLMC_NCCL_LIB;
    if (given) {
        *api = *given;
        api->lib = NULL;                /* not ours to close */
    } else {
        dlerror();
        api->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (!api->lib) {
            const char *why = dlerror();
            return llmc_rt_fail(err, errlen,
                                "--tp %d: this executable is sharded over %d GPUs and needs NCCL (%s), which "
                                "did not load (%s): install NCCL 2.19 or newer where the loader finds it "
                                "(LD_LIBRARY_PATH; pip's nvidia-nccl-cu12 puts it in nvidia/nccl/lib)",
                                n_ranks, n_ranks, name, why ? why : "dlopen failed");
        }
        for (int i = 0; i < N_NCCL; i++) {
            void *p = dlsym(api->lib, nccl_syms[i].sym);
            if (!p) {
                dlclose(api->lib);
                api->lib = NULL;
                return llmc_rt_fail(err, errlen,
                                    "--tp %d: %s has no %s: not NCCL, or an NCCL too old for this executable "
                                    "(it needs 2.19 or newer)", n_ranks, name, nccl_syms[i].sym);
            }
            memcpy((char *)api + nccl_syms[i].off, &p, sizeof p);
        }
        void *p = dlsym(api->lib, "ncclGetErrorString");
        memcpy(&api->GetErrorString, &p, sizeof p);
    }
    for (int i = 0; i < N_NCCL; i++) {
        void *p;
        memcpy(&p, (const char *)api + nccl_syms[i].off, sizeof p);
        if (!p) {
            llmc_rt_fail(err, errlen, "--tp %d: the NCCL table lacks %s", n_ranks, nccl_syms[i].sym);
            goto fail;
        }
    }
    int v = 0;
    ncclResult_t r = api->GetVersion(&v);
    if (r != 0) {
        llmc_rt_fail(err, errlen, "--tp %d: ncclGetVersion (%s): %s", n_ranks, name, nccl_error(api, r));
        goto fail;
    }
    if (v < LLMC_NCCL_MIN_VERSION) {
        /* codes before 2.9 are 1000 x major + 100 x minor + patch */
        int major = v >= 10000 ? v / 10000 : v / 1000, minor = v >= 10000 ? v / 100 % 100 : v / 100 % 10;
        llmc_rt_fail(err, errlen,
                     "--tp %d: %s is NCCL %d.%d (version code %d); this executable needs NCCL 2.19 or newer "
                     "(CUDA graph capture of its collectives, NCCL_NVLS_ENABLE)",
                     n_ranks, name, major, minor, v);
        goto fail;
    }
    return 0;
fail:
    if (api->lib)
        dlclose(api->lib);
    api->lib = NULL;
    return -1;
}

/* ---- the team's abort state ---- */

/* Shared by the ranks (rank 0 owns it). mu[r] is held around rank r's NCCL calls (by its own
 * thread) and by an abort; lead orders two ranks failing at once; aborted[r]: rank r's
 * communicator was aborted (its thread reads it under mu[r] before every NCCL call). */
typedef struct LlmcRankAbort {
    pthread_mutex_t lead;
    int failed_rank;                    /* the first rank that failed, -1 none */
    char msg[512];                      /* its message */
    int comms_aborted;                  /* communicators existed and were aborted */
    int hung_named;                     /* failed_rank is a rank whose GPU hung */
    int n;
    pthread_mutex_t *mu;                /* [n] */
    atomic_int *aborted;                /* [n] */
} LlmcRankAbort;

static LlmcRankAbort *abort_new(int n)
{
    LlmcRankAbort *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->mu = calloc((size_t)n, sizeof *a->mu);
    a->aborted = calloc((size_t)n, sizeof *a->aborted);
    if (!a->mu || !a->aborted || pthread_mutex_init(&a->lead, NULL) != 0) {
        free(a->mu);
        free(a->aborted);
        free(a);
        return NULL;
    }
    for (; a->n < n; a->n++) {
        atomic_init(&a->aborted[a->n], 0);
        if (pthread_mutex_init(&a->mu[a->n], NULL) != 0)
            break;
    }
    a->failed_rank = -1;
    return a;
}

static void abort_free(LlmcRankAbort *a)
{
    if (!a)
        return;
    for (int r = 0; r < a->n; r++)
        pthread_mutex_destroy(&a->mu[r]);
    pthread_mutex_destroy(&a->lead);
    free(a->mu);
    free(a->aborted);
    free(a);
}

/* Rank `rank` failed with msg: every rank's communicator is aborted, so that the collectives its
 * peers enqueued end instead of waiting for it (their threads may be blocked in
 * cuStreamSynchronize). Each communicator is aborted under its rank's mu, so that none is freed
 * under a call of its own thread; a rank whose thread keeps mu for more than a second is inside an
 * NCCL call that waits for the failed peer (a connection NCCL makes lazily), which is what
 * ncclCommAbort exists to end: its communicator is aborted without the lock. Its thread never reads
 * the communicator again (aborted[r] is set first); teardown does not destroy it. */
static void abort_comms(LlmcGpu *g0, int rank, const char *msg)
{
    LlmcRankAbort *a = g0->abort;
    pthread_mutex_lock(&a->lead);
    if (a->failed_rank < 0) {
        a->failed_rank = rank;
        snprintf(a->msg, sizeof a->msg, "%s", msg);
    }
    for (int r = 0; r < a->n; r++) {
        LlmcGpu *g = g0->rank_gpu[r];
        if (!g || atomic_load(&a->aborted[r]))
            continue;
        llmc_gpu_done_poke(g->done);    /* a waiting rank looks again at once */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        int locked = pthread_mutex_timedlock(&a->mu[r], &ts) == 0;
        atomic_store(&a->aborted[r], 1);
        if (g->comm) {
            (void)g->nccl.CommAbort(g->comm);
            a->comms_aborted = 1;
        }
        if (locked)
            pthread_mutex_unlock(&a->mu[r]);
    }
    pthread_mutex_unlock(&a->lead);
}

/* Rank `rank`'s final message after the abort it made (the watchdog adds what the abort showed):
 * it replaces the first failure's when that was this rank's, and any other but a hung rank's when
 * this rank's GPU hung (the cause: its peers timed out waiting for it). */
static void abort_note(LlmcGpu *g0, int rank, const char *msg)
{
    LlmcRankAbort *a = g0->abort;
    int hung = g0->rank_gpu[rank]->hung;
    pthread_mutex_lock(&a->lead);
    if (a->failed_rank == rank || (hung && !a->hung_named)) {
        a->failed_rank = rank;
        snprintf(a->msg, sizeof a->msg, "%s", msg);
        a->hung_named |= hung;
    }
    pthread_mutex_unlock(&a->lead);
}

/* Takes rank g's lock for an NCCL call: 0, or -1 (nothing held) with a message when its
 * communicator was aborted or never made. */
static int comm_enter(LlmcGpu *g, const char *what, char *err, size_t errlen)
{
    LlmcRankAbort *a = g->abort;
    pthread_mutex_lock(&a->mu[g->rank]);
    if (!atomic_load(&a->aborted[g->rank]) && g->comm)
        return 0;
    pthread_mutex_unlock(&a->mu[g->rank]);
    if (!g->comm && !atomic_load(&a->aborted[g->rank]))
        return llmc_rt_fail(err, errlen, "%s: no NCCL communicator", what);
    return llmc_rt_fail(err, errlen, "%s: the NCCL communicators were aborted after a rank failed", what);
}

static void comm_leave(LlmcGpu *g) { pthread_mutex_unlock(&g->abort->mu[g->rank]); }

int llmc_gpu_comm_check(LlmcGpu *g, char *err, size_t errlen)
{
    LlmcRankAbort *a = g->abort;
    if (!a)
        return 0;
    pthread_mutex_lock(&a->mu[g->rank]);
    if (atomic_load(&a->aborted[g->rank]) || !g->comm) {
        int aborted = atomic_load(&a->aborted[g->rank]);
        pthread_mutex_unlock(&a->mu[g->rank]);
        return aborted ? 1 : 0;
    }
    ncclResult_t state = LLMC_NCCL_SUCCESS;
    ncclResult_t r = g->nccl.CommGetAsyncError(g->comm, &state);
    comm_leave(g);
    if (r == LLMC_NCCL_SUCCESS && (state == LLMC_NCCL_SUCCESS || state == LLMC_NCCL_IN_PROGRESS))
        return 0;
    return llmc_rt_fail(err, errlen, "NCCL's communicator on %s reported an error%s: %s", g->name,
                        r != LLMC_NCCL_SUCCESS ? " (ncclCommGetAsyncError failed)" : "",
                        nccl_error(&g->nccl, r != LLMC_NCCL_SUCCESS ? r : state));
}

/* Waits until rank g's communicator is ready for what comes next, as NCCL documents for a
 * non-blocking communicator: after a call that returned ncclInProgress (ncclCommInitRankConfig,
 * an NCCL call of a group, ncclGroupEnd), nothing else may be done with the communicator, nor
 * with the streams it enqueues on, before ncclCommGetAsyncError says ncclSuccess. Polls it, asleep
 * in between (50 us, doubling up to 2 ms), until ncclSuccess (0), an error, another rank's failure
 * (the communicators aborted) or g->deadline (-1 with a message). */
static int comm_settle(LlmcGpu *g, const char *what, char *err, size_t errlen)
{
    long ns = 50000;
    for (;;) {
        LlmcRankAbort *a = g->abort;
        pthread_mutex_lock(&a->mu[g->rank]);
        if (atomic_load(&a->aborted[g->rank])) {
            pthread_mutex_unlock(&a->mu[g->rank]);
            return llmc_rt_fail(err, errlen, "%s: another rank failed meanwhile (the communicators were aborted)",
                                what);
        }
        ncclResult_t state = LLMC_NCCL_IN_PROGRESS;
        ncclResult_t r = g->nccl.CommGetAsyncError(g->comm, &state);
        comm_leave(g);
        if (r != LLMC_NCCL_SUCCESS)
            return llmc_rt_fail(err, errlen, "%s: ncclCommGetAsyncError: %s", what, nccl_error(&g->nccl, r));
        if (state == LLMC_NCCL_SUCCESS)
            return 0;
        if (state != LLMC_NCCL_IN_PROGRESS)
            return llmc_rt_fail(err, errlen, "%s: %s", what, nccl_error(&g->nccl, state));
        if (g->deadline > 0 && llmc_rt_now() >= g->deadline)
            return llmc_rt_fail(err, errlen, "%s: still in progress after %.1f s (--step-timeout)", what,
                                g->step_timeout);
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        ns = ns < 1000000 ? ns * 2 : 2000000;
    }
}

/* After an NCCL call (or a group's end) on rank g's communicator returned r: ncclInProgress is
 * awaited (comm_settle), any other error is the message "what: NCCL's error" (-1). */
static int nccl_after(LlmcGpu *g, ncclResult_t r, const char *what, char *err, size_t errlen)
{
    if (r == LLMC_NCCL_IN_PROGRESS)
        return comm_settle(g, what, err, errlen);
    if (r != LLMC_NCCL_SUCCESS)
        return llmc_rt_fail(err, errlen, "%s: %s", what, nccl_error(&g->nccl, r));
    return 0;
}

/* count floats to and from every rank on rank g's stream, one group of ncclSend / ncclRecv: peer
 * q's part is sent from src + q * count and received at dst + q * count. The group is closed
 * whatever happened in it; the result is the first failing call's, else ncclGroupEnd's. The
 * caller holds rank g's lock (comm_enter). */
static ncclResult_t exchange(LlmcGpu *g, const float *src, float *dst, size_t count)
{
    ncclResult_t r = g->nccl.GroupStart();
    for (int q = 0; q < g->n_ranks && nccl_going(r); q++) {
        r = g->nccl.Send(src + (size_t)q * count, count, LLMC_NCCL_FLOAT32, q, g->comm, g->stream);
        if (nccl_going(r))
            r = g->nccl.Recv(dst + (size_t)q * count, count, LLMC_NCCL_FLOAT32, q, g->comm, g->stream);
    }
    ncclResult_t end = g->nccl.GroupEnd();
    return nccl_going(r) ? end : r;
}

int llmc_gpu_ranks_open(LlmcGpu *g0, const LlmcNcclApi *nccl, const char *nccl_lib, char *err, size_t errlen)
{
    int N = g0->n_ranks;
    if (nccl_load(&g0->nccl, nccl, nccl_lib, N, err, errlen) != 0) {
        llmc_gpu_close(g0);
        return -1;
    }
    if (!(g0->rank_gpu = calloc((size_t)N, sizeof *g0->rank_gpu)) || !(g0->abort = abort_new(N)) ||
        g0->abort->n != N) {
        llmc_rt_fail(err, errlen, "out of memory for %d ranks", N);
        llmc_gpu_close(g0);
        return -1;
    }
    g0->rank_gpu[0] = g0;
    for (int r = 1; r < N; r++) {
        LlmcGpu *g = llmc_gpu_new(g0->d, err, errlen);
        if (!g) {
            llmc_gpu_close(g0);
            return -1;
        }
        g->cu = g0->cu;
        g->cu.lib = NULL;               /* rank 0's */
        g->nccl = g0->nccl;
        g->nccl.lib = NULL;
        g->abort = g0->abort;
        g->rank = r;
        g->quiet = 1;
        char why[1024];
        if (llmc_gpu_open_device(g, r, why, sizeof why) != 0) { /* g is closed */
            llmc_rt_fail(err, errlen, "--tp %d: GPU %d (rank %d): %s", N, r, r, why);
            llmc_gpu_close(g0);
            return -1;
        }
        g0->rank_gpu[r] = g;
        /* one image for every rank: the same architecture (a sharded build on mixed GPUs would
         * need each rank's choice to agree on the launches forward() makes) */
        if (g->image != g0->image) {
            llmc_rt_fail(err, errlen, "--tp %d: GPU %d is %s (%s) and GPU 0 is %s (%s): the ranks need GPUs "
                         "of one architecture", N, r, g->name, g->arch, g0->name, g0->arch);
            llmc_gpu_close(g0);
            return -1;
        }
    }
    if (llmc_pool_create(&g0->team, N, err, errlen) != 0) {
        llmc_gpu_close(g0);
        return -1;
    }
    return 0;
}

int llmc_gpu_ranks_close(LlmcGpu *g0)
{
    int hung = 0;
    for (int r = 0; g0->rank_gpu && r < g0->n_ranks; r++)
        hung |= g0->rank_gpu[r] && g0->rank_gpu[r]->hung;
    for (int r = 1; g0->rank_gpu && r < g0->n_ranks; r++)
        llmc_gpu_close(g0->rank_gpu[r]);
    free(g0->rank_gpu);
    g0->rank_gpu = NULL;
    llmc_pool_destroy(g0->team);
    g0->team = NULL;
    abort_free(g0->abort);
    g0->abort = NULL;
    if (g0->nccl.lib && !hung)          /* a hung GPU's NCCL kernels may be running */
        dlclose(g0->nccl.lib);
    g0->nccl.lib = NULL;
    return hung;
}

/* ---- the team: a job a rank, each rank's result and message ---- */

typedef struct RankJob {
    LlmcGpu *g0;
    int (*fn)(struct RankJob *j, LlmcGpu *g, char *err, size_t errlen);
    const LlmcGpuSetup *setup;
    int64_t kv_blocks;
    const LlmcExec *ex;
    const LlmcStep *st;
    ncclUniqueId id;
    int *rc;                            /* [N] */
    char (*err)[512];                   /* [N] */
} RankJob;

/* Rank tid's job; a failure aborts every rank's communicator before the thread returns (its peers
 * may be waiting for it on their GPUs). */
static void rank_thread(void *arg, int tid, int nth)
{
    (void)nth;
    RankJob *j = arg;
    LlmcGpu *g = j->g0->rank_gpu[tid];
    char *msg = j->err[tid];
    size_t len = sizeof j->err[tid];
    g->timed_out = 0;
    j->rc[tid] = j->fn(j, g, msg, len);
    if (j->rc[tid] == 0)
        return;
    if (!g->timed_out) {
        abort_comms(j->g0, tid, msg);
        return;
    }
    /* the watchdog: this rank's work did not end by its deadline. With every communicator aborted,
     * a rank that waited in a collective for a peer sees its stream drain; one whose stream does
     * not drain is running a kernel that does not end: its GPU is hung, left as it is */
    abort_comms(j->g0, tid, msg);
    double grace = g->step_timeout < LLMC_ABORT_GRACE_S ? g->step_timeout : LLMC_ABORT_GRACE_S;
    size_t n = strlen(msg);
    if (llmc_gpu_wait_more(g, grace) == 0) {
        snprintf(msg + n, len - n, "; once the communicators were aborted its GPU finished: it was waiting in an "
                 "NCCL collective for a peer");
    } else {
        snprintf(msg + n, len - n, "; its GPU did not finish even after the communicators were aborted: a "
                 "kernel that does not end (the GPU is left as it is)");
        g->hung = 1;
        snprintf(g->hung_msg, sizeof g->hung_msg, "%s", msg);
    }
    abort_note(j->g0, tid, msg);
}

/* The first failure's message, naming its rank: the rank that failed first (whose failure aborted
 * the communicators) before those that failed because of it. */
static int ranks_failed(LlmcGpu *g0, char *err, size_t errlen)
{
    LlmcRankAbort *a = g0->abort;
    pthread_mutex_lock(&a->lead);
    int r = a->failed_rank, aborted = a->comms_aborted;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", a->msg);
    pthread_mutex_unlock(&a->lead);
    if (r < 0)
        return 0;
    return llmc_rt_fail(err, errlen, "rank %d (GPU %d of %d): %s%s", r, r, g0->n_ranks, msg,
                        aborted ? " (every rank's NCCL communicator was aborted: the model cannot run further steps)"
                                : "");
}

/* Runs j->fn for every rank on the team; the first failure's message. */
static int run_ranks(RankJob *j, char *err, size_t errlen)
{
    int N = j->g0->n_ranks;
    if (ranks_failed(j->g0, err, errlen) != 0)
        return -1;
    int *rc = calloc((size_t)N, sizeof *rc);
    char(*msg)[512] = calloc((size_t)N, sizeof *msg);
    if (!rc || !msg) {
        free(rc);
        free(msg);
        return llmc_rt_fail(err, errlen, "out of memory stepping %d ranks", N);
    }
    j->rc = rc;
    j->err = msg;
    llmc_pool_run(j->g0->team, rank_thread, j);
    int out = ranks_failed(j->g0, err, errlen);
    for (int r = 0; r < N && out == 0; r++)
        if (rc[r] != 0)
            out = llmc_rt_fail(err, errlen, "rank %d (GPU %d of %d): %s", r, r, N, msg[r]);
    free(rc);
    free(msg);
    return out;
}

/* ---- setup ---- */

/* One all-gather of a float and one exchange of a float with every rank (ncclSend / ncclRecv,
 * whose connections NCCL makes apart from the collectives') on rank g's stream, eagerly, then
 * their synchronization: forward()'s calls (gathers of any size, exchanges) then find their
 * connections made. */
static int first_collectives(LlmcGpu *g, char *err, size_t errlen)
{
    float *p = (float *)(uintptr_t)g->nccl_warm;
    if (comm_enter(g, "the first NCCL collectives", err, errlen) != 0)
        return -1;
    ncclResult_t r = g->nccl.AllGather(p, p + 1, 1, LLMC_NCCL_FLOAT32, g->comm, g->stream);
    comm_leave(g);
    char what[160];
    snprintf(what, sizeof what, "the first NCCL collectives on %s", g->name);
    if (nccl_after(g, r, what, err, errlen) != 0)
        return -1;
    if (comm_enter(g, what, err, errlen) != 0)
        return -1;
    r = exchange(g, p + 1, p + 1 + g->n_ranks, 1);
    comm_leave(g);
    if (nccl_after(g, r, what, err, errlen) != 0)
        return -1;
    int w = llmc_gpu_wait(g, what, err, errlen);
    if (w == LLMC_WAIT_TIMEOUT)
        llmc_rt_fail(err, errlen, "%s did not finish within %.1f s (--step-timeout)", what, g->step_timeout);
    return w == 0 ? 0 : -1;
}

/* Before any communicator: what comm_init needs, so that a rank short of it fails before any
 * rank made its communicator (nothing to abort). */
static int comm_prepare(RankJob *j, LlmcGpu *g, char *err, size_t errlen)
{
    (void)j;
    CUresult cr;
    if ((cr = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, cr, err, errlen, "cuCtxSetCurrent (%s)", g->name);
    size_t bytes = (size_t)(2 * g->n_ranks + 1) * sizeof(float);
    if (llmc_gpu_dev_alloc(g, &g->nccl_warm, bytes, "NCCL warm-up", err, errlen) != 0)
        return -1;
    if ((cr = g->cu.MemsetD8Async(g->nccl_warm, 0, bytes, g->stream)) != CUDA_SUCCESS ||
        (cr = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, cr, err, errlen, "cuMemsetD8Async (NCCL warm-up)");
    return 0;
}

/* This rank's communicator, non-blocking (ncclCommInitRankConfig, config.blocking = 0: the call
 * returns at once and NCCL forms the communicator in the background), published at once so that a
 * failing peer can abort it, then awaited (comm_settle: ncclCommGetAsyncError until ncclSuccess,
 * an error, a peer's failure or the deadline); then its first collectives (NCCL connects its
 * peers on first use: done here, eagerly, not inside a capture). */
static int comm_init(RankJob *j, LlmcGpu *g, char *err, size_t errlen)
{
    CUresult cr;
    g->deadline = llmc_gpu_deadline(g, 0);
    if ((cr = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, cr, err, errlen, "cuCtxSetCurrent (%s)", g->name);
    char what[160];
    snprintf(what, sizeof what, "ncclCommInitRankConfig (%d ranks, on %s)", g->n_ranks, g->name);
    LlmcNcclConfig cfg = {
        .size = sizeof cfg, .magic = LLMC_NCCL_CONFIG_MAGIC, .version = LLMC_NCCL_CONFIG_VERSION,
        .blocking = 0, .cgaClusterSize = LLMC_NCCL_CONFIG_UNDEF, .minCTAs = LLMC_NCCL_CONFIG_UNDEF,
        .maxCTAs = LLMC_NCCL_CONFIG_UNDEF, .netName = NULL, .splitShare = LLMC_NCCL_CONFIG_UNDEF,
    };
    ncclComm_t c = NULL;
    ncclResult_t r = g->nccl.CommInitRankConfig(&c, g->n_ranks, j->id, g->rank, &cfg);
    if (r != LLMC_NCCL_SUCCESS && r != LLMC_NCCL_IN_PROGRESS) {
        if (c)
            (void)g->nccl.CommAbort(c);
        return llmc_rt_fail(err, errlen, "%s: %s", what, nccl_error(&g->nccl, r));
    }
    /* made after another rank failed: aborted here (abort_comms did not see it) */
    LlmcRankAbort *a = g->abort;
    pthread_mutex_lock(&a->mu[g->rank]);
    int late = atomic_load(&a->aborted[g->rank]);
    if (late)
        (void)g->nccl.CommAbort(c);
    else
        g->comm = c;
    pthread_mutex_unlock(&a->mu[g->rank]);
    if (late) {                         /* it existed and was aborted: the failure's message says so */
        pthread_mutex_lock(&a->lead);
        a->comms_aborted = 1;
        pthread_mutex_unlock(&a->lead);
        return llmc_rt_fail(err, errlen, "%s: another rank failed meanwhile", what);
    }
    if (comm_settle(g, what, err, errlen) != 0)
        return -1;
    int rc = first_collectives(g, err, errlen);
    if (!g->hung) {
        (void)g->cu.MemFree(g->nccl_warm);
        g->nccl_warm = 0;
    }
    return rc;
}

int llmc_gpu_ranks_setup(LlmcGpu *g0, const LlmcGpuSetup *s, char *err, size_t errlen)
{
    const LlmcModelDesc *d = g0->d;
    int N = g0->n_ranks;
    int64_t stride = d->rank_weights_stride;
    if (stride <= 0 || stride > d->weights_bytes / N)
        return llmc_rt_fail(err, errlen, "internal error: %d ranks of %lld bytes of weights in %lld", N,
                            (long long)stride, (long long)d->weights_bytes);
    /* the pool: as many blocks on every rank, the fewest any GPU's memory holds */
    int64_t kv = s->kv_blocks;
    for (int r = 0; r < N; r++) {
        LlmcGpu *g = g0->rank_gpu[r];
        int64_t left = d->weights_bytes - (int64_t)r * stride;
        g->rank_weights = s->weights + (size_t)r * (size_t)stride;
        g->weights_bytes = (size_t)(left < stride ? left : stride);
        int64_t fit;
        if (s->kv_fit && d->kv_block_bytes > 0) {
            if (llmc_gpu_kv_room(g, s, &fit, err, errlen) != 0)
                return -1;
            kv = fit < kv ? fit : kv;
        }
    }
    for (int r = 0; r < N; r++)
        if (llmc_gpu_setup_one(g0->rank_gpu[r], s, kv, err, errlen) != 0) {
            llmc_gpu_ranks_teardown(g0);
            return -1;
        }
    /* before the communicators read it (NVLink SHARP off: the lent machines' rule, docs/tp.md) */
    setenv("NCCL_NVLS_ENABLE", "0", 1);
    RankJob j = {.g0 = g0, .fn = comm_prepare};
    if (run_ranks(&j, err, errlen) != 0) {
        llmc_gpu_ranks_teardown(g0);
        return -1;
    }
    ncclResult_t r = g0->nccl.GetUniqueId(&j.id);
    if (r != 0) {
        llmc_gpu_ranks_teardown(g0);
        return llmc_rt_fail(err, errlen, "ncclGetUniqueId: %s", nccl_error(&g0->nccl, r));
    }
    j.fn = comm_init;
    if (run_ranks(&j, err, errlen) != 0) {
        llmc_gpu_ranks_teardown(g0);
        return -1;
    }
    return 0;
}

void llmc_gpu_ranks_teardown(LlmcGpu *g0)
{
    for (int r = 0; r < g0->n_ranks; r++) {
        LlmcGpu *g = g0->rank_gpu[r];
        if (!g)
            continue;
        llmc_gpu_teardown_one(g);       /* makes its context current (a hung GPU: nothing) */
        if (g->nccl_warm && !g->hung)
            (void)g->cu.MemFree(g->nccl_warm);
        g->nccl_warm = 0;
        /* an aborted communicator is freed already */
        if (g->comm && !atomic_load(&g->abort->aborted[r]))
            (void)g->nccl.CommDestroy(g->comm);
        g->comm = NULL;
    }
}

/* ---- steps ---- */

static int step_rank(RankJob *j, LlmcGpu *g, char *err, size_t errlen)
{
    LlmcExec x = *j->ex;
    x.gpu = g;
    x.rank = g->rank;
    return llmc_gpu_step_one(g, &x, j->st, err, errlen);
}

int llmc_gpu_ranks_step(LlmcGpu *g0, const LlmcExec *ex, const LlmcStep *st, char *err, size_t errlen)
{
    RankJob j = {.g0 = g0, .fn = step_rank, .ex = ex, .st = st};
    return run_ranks(&j, err, errlen);
}

/* ---- the collectives forward() calls (llmc_model.h) ---- */

/* Rank g's lock for a collective of forward(): 0, or -1 with launch_failed set (what: the call). */
static int collective_enter(LlmcGpu *g, const char *what)
{
    if (!g->abort) {
        g->launch_failed = 1;
        snprintf(g->launch_err, sizeof g->launch_err, "%s: a model of one rank has no NCCL communicator", what);
        return -1;
    }
    if (comm_enter(g, what, g->launch_err, sizeof g->launch_err) != 0) {
        g->launch_failed = 1;
        return -1;
    }
    return 0;
}

/* After the call: ncclInProgress (a non-blocking communicator) is awaited before forward() goes
 * on (comm_settle); another error fails the step. */
static void collective_done(LlmcGpu *g, const char *what, ncclResult_t r)
{
    comm_leave(g);
    g->stats.collectives++;
    if (nccl_after(g, r, what, g->launch_err, sizeof g->launch_err) != 0)
        g->launch_failed = 1;
}

void llmc_gpu_all_gather(LlmcGpu *g, uint32_t rows, int64_t cols, int64_t x, int64_t sx, int64_t y)
{
    if (g->launch_failed || rows == 0)
        return;
    /* the rank's rows as they lie in its arena: from the first row's start to the last one's end */
    size_t n = (size_t)(rows - 1) * (size_t)sx + (size_t)cols;
    char what[160];
    snprintf(what, sizeof what, "ncclAllGather (%zu floats a rank; rank %d of %d, on %s)", n, g->rank, g->n_ranks,
             g->name);
    if (collective_enter(g, what) != 0)
        return;
    uint8_t *arena = (uint8_t *)(uintptr_t)g->arena;
    ncclResult_t r = g->nccl.AllGather(arena + x, arena + y, n, LLMC_NCCL_FLOAT32, g->comm, g->stream);
    collective_done(g, what, r);
}

void llmc_gpu_all_to_all(LlmcGpu *g, int64_t count, int64_t x, int64_t y)
{
    if (g->launch_failed || count == 0)
        return;
    char what[160];
    snprintf(what, sizeof what, "ncclSend/ncclRecv (%lld floats to and from each rank; rank %d of %d, on %s)",
             (long long)count, g->rank, g->n_ranks, g->name);
    if (collective_enter(g, what) != 0)
        return;
    uint8_t *arena = (uint8_t *)(uintptr_t)g->arena;
    ncclResult_t r = exchange(g, (const float *)(arena + x), (float *)(arena + y), (size_t)count);
    collective_done(g, what, r);
}
