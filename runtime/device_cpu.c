/* device_cpu.c — the cpu device (device.h): forward() on the engine's thread team, consts, arena
 * and KV pool in host memory, each output row's token drawn on the host (llmc_sample_u).
 *
 * A sharded model (desc->n_ranks = N > 1, --tp N): N instances of forward() on one thread team of
 * N x m threads (ranks.h), m = the threads asked for / N, at least 1 (at most desc->max_threads):
 * the cores are split evenly among the ranks, and a rank's m threads split each node's work as an
 * unsharded model's do. Each rank has its weights (its part of the payload), its arena and its
 * KV pool (the rank's KV heads); consts, the KV block allocator and the block tables are shared
 * (every rank holds every block, for its heads). Rank 0 writes the step's logits (the others
 * their own buffers: every rank computes the same gathered logits) and the tokens are drawn once. */
#include "device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "pool.h"
#include "ranks.h"
#include "rtutil.h"
#include "sample.h"

static const char *cpu_check_desc(const LlmcModelDesc *d)
{
    if (d->n_ranks < 0 || d->n_ranks > 1024 ||
        (d->n_ranks > 1 && (d->rank_weights_stride <= 0 || d->rank_weights_stride % 64 != 0 ||
                            d->rank_weights_stride > d->weights_bytes / d->n_ranks)))
        return "n_ranks/rank_weights_stride";
    return NULL;
}

static int cpu_open(void **dev, const LlmcModelDesc *d, char *err, size_t errlen)
{
    (void)d;
    (void)err;
    (void)errlen;
    *dev = NULL;
    return 0;
}

static void cpu_close(void *dev) { (void)dev; }

/* Threads a rank of a model of n_ranks ranks gets of the n_threads asked for. */
static int rank_threads(const LlmcModelDesc *d, int n_threads, int n_ranks)
{
    int m = n_threads / n_ranks;
    if (m < 1)
        m = 1;
    if (d->max_threads > 0 && m > d->max_threads)
        m = d->max_threads;
    return m;
}

static int cpu_setup(LlmcEngine *e, const LlmcEngineOpts *o, char *err, size_t errlen)
{
    const LlmcModelDesc *d = e->desc;
    int N = d->n_ranks > 1 ? d->n_ranks : 1;
    /* A model may cap its threads (a tiny one loses more to barriers than threads give back). */
    int m = rank_threads(d, o->n_threads, N);
    e->n_ranks = N;
    e->rank_threads = m;

    e->ex.consts = llmc_rt_alloc((size_t)d->const_bytes);
    e->ex.arena = llmc_rt_alloc((size_t)d->arena_bytes);
    e->rank_ex = llmc_rt_alloc((size_t)N * sizeof *e->rank_ex);
    if (!e->ex.consts || !e->ex.arena || !e->rank_ex) {
        llmc_engine_destroy(e);
        return llmc_rt_fail(err, errlen,
                            "out of memory: model consts (%lld bytes) and activation arena "
                            "(%lld bytes)",
                            (long long)d->const_bytes, (long long)d->arena_bytes);
    }
    for (int r = 1; r < N; r++)
        if (!(e->rank_ex[r].arena = llmc_rt_alloc((size_t)d->arena_bytes))) {
            llmc_engine_destroy(e);
            return llmc_rt_fail(err, errlen, "out of memory: the activation arena of rank %d (%lld bytes)",
                                r, (long long)d->arena_bytes);
        }
    /* not zeroed: a step writes the rows it asks for, the pages untouched until then */
    if (N > 1 && !(e->rank_logits = llmc_rt_alloc_uninit((size_t)(N - 1) * (size_t)d->max_outputs *
                                                          (size_t)d->vocab_size * sizeof(float)))) {
        llmc_engine_destroy(e);
        return llmc_rt_fail(err, errlen, "out of memory: the logits of %d ranks", N);
    }
    /* The KV pool is mapped, not malloc'd: zero pages come lazily, so a large pool costs no
     * start-up time and untouched blocks no memory. Fitted to memory: half the physical memory
     * (the allocator hands out recently freed blocks first, so the pages touched are about the
     * most blocks in use at once), shared among the ranks' pools. */
    int64_t kv_blocks = o->kv_blocks;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (o->kv_fit && d->kv_block_bytes > 0 && pages > 0 && page > 0) {
        int64_t fit = (int64_t)((double)pages * (double)page / 2 / (double)d->kv_block_bytes / N);
        if (fit < kv_blocks)
            kv_blocks = fit > 1 ? fit : 1;
    }
    size_t kv_bytes = (size_t)(kv_blocks * d->kv_block_bytes);
    size_t rank_kv = (kv_bytes + 4095) / 4096 * 4096; /* a rank's pool, page-aligned */
    e->kv_map_bytes = N > 1 ? rank_kv * (size_t)N : kv_bytes;
    if (e->kv_map_bytes == 0)
        e->kv_map_bytes = 4096;
    void *kv = mmap(NULL, e->kv_map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
    if (kv == MAP_FAILED) {
        int en = errno;
        e->kv_map_bytes = 0;
        llmc_engine_destroy(e);
        return llmc_rt_fail(err, errlen,
                            "cannot allocate the KV cache: %lld blocks x %lld bytes%s = %.1f MiB: %s "
                            "(use --kv-blocks or --kv-mem to ask for less)",
                            (long long)kv_blocks, (long long)d->kv_block_bytes, N > 1 ? " x ranks" : "",
                            (double)kv_bytes * N / (1 << 20), strerror(en));
    }
    e->ex.kv = kv;
    e->ex.kv_blocks = kv_blocks;
    if (llmc_kv_init(&e->kv, kv_blocks, err, errlen) != 0 ||
        llmc_samplebuf_init(&e->sbuf, d->vocab_size, err, errlen) != 0 ||
        llmc_pool_create(&e->ex.pool, N * m, err, errlen) != 0 ||
        (N > 1 && llmc_ranks_create(&e->ex.ranks, N, m, err, errlen) != 0)) {
        llmc_engine_destroy(e);
        return -1;
    }
    for (int r = 0; r < N; r++) {
        LlmcExec *x = &e->rank_ex[r];
        uint8_t *arena = r ? x->arena : e->ex.arena;
        *x = e->ex;
        x->rank = r;
        x->arena = arena;
        x->weights = e->ex.weights + (size_t)r * (size_t)d->rank_weights_stride;
        x->kv = (uint8_t *)kv + (size_t)r * rank_kv;
    }
    if (d->init)
        d->init(&e->ex);
    return 0;
}

static void cpu_teardown(LlmcEngine *e)
{
    llmc_samplebuf_free(&e->sbuf);
    if (e->ex.kv)
        munmap(e->ex.kv, e->kv_map_bytes);
    e->ex.kv = NULL;
    free(e->ex.arena);
    e->ex.arena = NULL;
    for (int r = 1; e->rank_ex && r < e->n_ranks; r++)
        free(e->rank_ex[r].arena);
    free(e->rank_ex);
    e->rank_ex = NULL;
    free(e->rank_logits);
    e->rank_logits = NULL;
    llmc_ranks_destroy(e->ex.ranks);
    e->ex.ranks = NULL;
}

typedef struct StepJob {
    const LlmcModelDesc *desc;
    const LlmcExec *ex;         /* [ranks] */
    const LlmcStep *const *step; /* [ranks] */
    int m;                      /* threads a rank */
} StepJob;

/* Thread tid of the team: thread tid % m of rank tid / m. */
static void run_forward(void *arg, int tid, int nth)
{
    (void)nth;
    const StepJob *j = arg;
    int r = tid / j->m;
    j->desc->forward(&j->ex[r], j->step[r], tid % j->m, j->m);
}

static int cpu_step(LlmcEngine *e, const LlmcStep *s, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    enum { MAX_LOCAL = 16 };
    int N = e->n_ranks;
    LlmcStep local[MAX_LOCAL];
    const LlmcStep *local_p[MAX_LOCAL];
    LlmcStep *steps = N <= MAX_LOCAL ? local : malloc((size_t)N * sizeof *steps);
    const LlmcStep **sp = N <= MAX_LOCAL ? local_p : malloc((size_t)N * sizeof *sp);
    if (!steps || !sp) {
        if (steps != local)
            free(steps);
        if (sp != local_p)
            free(sp);
        return llmc_rt_fail(err, errlen, "out of memory stepping %d ranks", N);
    }
    size_t lsize = (size_t)e->desc->max_outputs * (size_t)e->desc->vocab_size;
    for (int r = 0; r < N; r++) {
        steps[r] = *s;
        if (r > 0) /* every rank computes the logits; rank 0 writes the step's */
            steps[r].logits = e->rank_logits + (size_t)(r - 1) * lsize;
        sp[r] = &steps[r];
    }
    StepJob j = {e->desc, e->rank_ex, sp, e->rank_threads};
    llmc_pool_run(e->ex.pool, run_forward, &j);
    if (steps != local)
        free(steps);
    if (sp != local_p)
        free(sp);
    if (s->out_ids && s->n_nodes == 0) {
        int32_t V = e->desc->vocab_size;
        for (int32_t o = 0; o < s->n_out; o++) {
            LlmcSamplerCfg cfg = {0.0f, 0, 1.0f};
            if (s->sample_u)
                cfg = (LlmcSamplerCfg){s->temperature[o], s->top_k[o], s->top_p[o]};
            s->out_ids[o] = llmc_sample_u(&cfg, s->sample_u ? s->sample_u[o] : 0.0,
                                          s->logits + (size_t)o * (size_t)V, V, &e->sbuf);
        }
    }
    return 0;
}

static int cpu_read_arena(LlmcEngine *e, int64_t off, void *dst, size_t bytes, char *err,
                          size_t errlen)
{
    if (off < 0 || (uint64_t)off + bytes > (uint64_t)e->desc->arena_bytes)
        return llmc_rt_fail(err, errlen,
                            "internal error: reading [%lld, +%zu) of an arena of %lld bytes",
                            (long long)off, bytes, (long long)e->desc->arena_bytes);
    memcpy(dst, e->ex.arena + off, bytes);
    return 0;
}

/* "8 threads", "2 ranks of 4 threads" */
static void cpu_threads(const LlmcEngine *e, char *buf, size_t len)
{
    if (e->n_ranks > 1)
        snprintf(buf, len, "%d ranks of %d thread%s", e->n_ranks, e->rank_threads, e->rank_threads == 1 ? "" : "s");
    else
        snprintf(buf, len, "%d threads", llmc_pool_nth(e->ex.pool));
}

static void cpu_where(const LlmcEngine *e, char *buf, size_t len)
{
    char th[64];
    cpu_threads(e, th, sizeof th);
    snprintf(buf, len, "the cpu (%s)", th);
}

static void cpu_bench_header(const LlmcEngine *e, int32_t batch, char *buf, size_t len)
{
    if (e->n_ranks > 1)
        snprintf(buf, len, "threads: %d (%d ranks of %d), batch: %d", llmc_pool_nth(e->ex.pool), e->n_ranks,
                 e->rank_threads, batch);
    else
        snprintf(buf, len, "threads: %d, batch: %d", llmc_pool_nth(e->ex.pool), batch);
}

const LlmcDeviceOps llmc_device_cpu = {
    .name = "cpu",
    .check_desc = cpu_check_desc,
    .open = cpu_open,
    .close = cpu_close,
    .setup = cpu_setup,
    .teardown = cpu_teardown,
    .step = cpu_step,
    .read_arena = cpu_read_arena,
    .where = cpu_where,
    .bench_header = cpu_bench_header,
};
