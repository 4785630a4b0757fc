/* device_cpu.c — the cpu device (device.h): forward() on the engine's thread team, consts, arena
 * and KV pool in host memory, each output row's token drawn on the host (llmc_sample_u). */
#include "device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "pool.h"
#include "rtutil.h"
#include "sample.h"

static const char *cpu_check_desc(const LlmcModelDesc *d)
{
    (void)d;
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

static int cpu_setup(LlmcEngine *e, const LlmcEngineOpts *o, char *err, size_t errlen)
{
    const LlmcModelDesc *d = e->desc;
    /* A model may cap its threads (a tiny one loses more to barriers than threads give back). */
    int nth = o->n_threads;
    if (d->max_threads > 0 && nth > d->max_threads)
        nth = d->max_threads;

    e->ex.consts = llmc_rt_alloc((size_t)d->const_bytes);
    e->ex.arena = llmc_rt_alloc((size_t)d->arena_bytes);
    if (!e->ex.consts || !e->ex.arena) {
        llmc_engine_destroy(e);
        return llmc_rt_fail(err, errlen,
                            "out of memory: model consts (%lld bytes) and activation arena "
                            "(%lld bytes)",
                            (long long)d->const_bytes, (long long)d->arena_bytes);
    }
    /* The KV pool is mapped, not malloc'd: zero pages come lazily, so a large pool costs no
     * start-up time and untouched blocks no memory. Fitted to memory: half the physical memory
     * (the allocator hands out recently freed blocks first, so the pages touched are about the
     * most blocks in use at once). */
    int64_t kv_blocks = o->kv_blocks;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (o->kv_fit && d->kv_block_bytes > 0 && pages > 0 && page > 0) {
        int64_t fit = (int64_t)((double)pages * (double)page / 2 / (double)d->kv_block_bytes);
        if (fit < kv_blocks)
            kv_blocks = fit > 1 ? fit : 1;
    }
    size_t kv_bytes = (size_t)(kv_blocks * d->kv_block_bytes);
    e->kv_map_bytes = kv_bytes > 0 ? kv_bytes : 4096;
    void *kv = mmap(NULL, e->kv_map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
    if (kv == MAP_FAILED) {
        int en = errno;
        e->kv_map_bytes = 0;
        llmc_engine_destroy(e);
        return llmc_rt_fail(err, errlen,
                            "cannot allocate the KV cache: %lld blocks x %lld bytes = %.1f MiB: %s "
                            "(use --kv-blocks or --kv-mem to ask for less)",
                            (long long)kv_blocks, (long long)d->kv_block_bytes,
                            (double)kv_bytes / (1 << 20), strerror(en));
    }
    e->ex.kv = kv;
    e->ex.kv_blocks = kv_blocks;
    if (llmc_kv_init(&e->kv, kv_blocks, err, errlen) != 0 ||
        llmc_samplebuf_init(&e->sbuf, d->vocab_size, err, errlen) != 0 ||
        llmc_pool_create(&e->ex.pool, nth, err, errlen) != 0) {
        llmc_engine_destroy(e);
        return -1;
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
}

typedef struct StepJob {
    const LlmcModelDesc *desc;
    const LlmcExec *ex;
    const LlmcStep *step;
} StepJob;

static void run_forward(void *arg, int tid, int nth)
{
    const StepJob *j = arg;
    j->desc->forward(j->ex, j->step, tid, nth);
}

static int cpu_step(LlmcEngine *e, const LlmcStep *s, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    StepJob j = {e->desc, &e->ex, s};
    llmc_pool_run(e->ex.pool, run_forward, &j);
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

static void cpu_where(const LlmcEngine *e, char *buf, size_t len)
{
    snprintf(buf, len, "the cpu (%d threads)", llmc_pool_nth(e->ex.pool));
}

static void cpu_bench_header(const LlmcEngine *e, int32_t batch, char *buf, size_t len)
{
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
