/* engine.c — see engine.h. */
#include "engine.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pool.h"
#include "rtutil.h"
#include "sample.h"

int llmc_desc_check(const LlmcModelDesc *d, char *err, size_t errlen)
{
    const char *name = d->name ? d->name : "(unnamed)";
    if (d->abi_version != LLMC_ABI_VERSION)
        return llmc_rt_fail(err, errlen,
                            "model %s was generated for runtime ABI %u, this runtime is ABI %d: "
                            "recompile the model with the same llmc",
                            name, d->abi_version, LLMC_ABI_VERSION);
    const char *bad = NULL;
    if (d->vocab_size <= 0)
        bad = "vocab_size";
    else if (d->max_seq_len <= 0)
        bad = "max_seq_len";
    else if (d->max_tokens <= 0)
        bad = "max_tokens";
    else if (d->max_outputs <= 0)
        bad = "max_outputs";
    else if (d->kv_block_size <= 0)
        bad = "kv_block_size";
    else if (d->kv_block_bytes < 0)
        bad = "kv_block_bytes";
    else if (d->weights_bytes < 0 || d->const_bytes < 0 || d->arena_bytes < 0)
        bad = "weights_bytes/const_bytes/arena_bytes";
    else if (d->bos_id < -1 || d->bos_id >= d->vocab_size)
        bad = "bos_id";
    else if (d->eos_id < -1 || d->eos_id >= d->vocab_size)
        bad = "eos_id";
    else if (d->max_threads < 0)
        bad = "max_threads";
    else if (!d->forward)
        bad = "forward";
    else if (d->backend != LLMC_BACKEND_CPU && d->backend != LLMC_BACKEND_CUDA)
        bad = "backend";
    else if (d->backend == LLMC_BACKEND_CUDA &&
             (!d->gpu_images || d->n_gpu_images < 1 || d->n_gpu_kernels < 1 || !d->gpu_kernels))
        bad = "gpu_images/gpu_kernels";
    else if (d->n_probes < 0 || (d->n_probes > 0 && !d->probes))
        bad = "probes";
    if (bad)
        return llmc_rt_fail(err, errlen, "model %s: invalid description: %s", name, bad);
    return 0;
}

int64_t llmc_engine_default_kv_blocks(const LlmcModelDesc *d, int32_t n_seqs,
                                      int32_t max_positions)
{
    if (max_positions > d->max_seq_len)
        max_positions = d->max_seq_len;
    return (int64_t)n_seqs * llmc_kv_blocks_for(max_positions, d->kv_block_size);
}

/* CUDA: host consts (init() fills them), the KV block allocator and a one-thread team on the host;
 * everything forward() touches on the device. The device keeps one KV block more than the
 * allocator hands out: padding tokens of CUDA-graph steps write there. */
static int init_cuda(LlmcEngine *e, const LlmcEngineOpts *o, char *err, size_t errlen)
{
    const LlmcModelDesc *d = e->desc;
    if (o->kv_blocks + 1 > INT32_MAX / d->kv_block_size)
        return llmc_rt_fail(err, errlen,
                            "%lld KV blocks of %d positions exceed the 2^31 slots a step can address",
                            (long long)o->kv_blocks, d->kv_block_size);
    e->ex.gpu = o->gpu;
    if (!e->ex.gpu) {
        if (llmc_gpu_open(&e->ex.gpu, d, NULL, err, errlen) != 0)
            return -1;
        e->own_gpu = 1;
    }
    e->ex.consts = llmc_rt_alloc((size_t)d->const_bytes);
    if (!e->ex.consts) {
        llmc_engine_destroy(e);
        return llmc_rt_fail(err, errlen, "out of memory: model consts (%lld bytes)",
                            (long long)d->const_bytes);
    }
    e->ex.kv_blocks = o->kv_blocks;
    if (llmc_pool_create(&e->ex.pool, 1, err, errlen) != 0) {
        llmc_engine_destroy(e);
        return -1;
    }
    if (d->init)
        d->init(&e->ex);
    LlmcGpuSetup s = {
        .weights = e->ex.weights,
        .consts = e->ex.consts,
        .kv_blocks = o->kv_blocks,
        .use_graphs = !o->no_graphs,
        .use_pdl = !o->no_pdl,
        .progress = o->progress,
        .progress_ctx = o->progress_ctx,
    };
    /* the device first: a pool that does not fit is refused before any host bookkeeping */
    if (llmc_gpu_setup(e->ex.gpu, &s, err, errlen) != 0 ||
        llmc_kv_init(&e->kv, o->kv_blocks, err, errlen) != 0) {
        llmc_engine_destroy(e);
        return -1;
    }
    return 0;
}

int llmc_engine_init(LlmcEngine *e, const LlmcModelDesc *d, const uint8_t *weights,
                     const LlmcEngineOpts *o, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (llmc_desc_check(d, err, errlen) != 0)
        return -1;
    e->desc = d;
    e->max_blocks_per_seq = llmc_kv_blocks_for(d->max_seq_len, d->kv_block_size);
    if (o->kv_blocks < 1)
        return llmc_rt_fail(err, errlen, "the KV cache needs at least one block, got %lld",
                            (long long)o->kv_blocks);
    if (o->kv_blocks > INT32_MAX / d->kv_block_size)
        return llmc_rt_fail(err, errlen,
                            "%lld KV blocks of %d positions exceed the 2^31 slots a step can address",
                            (long long)o->kv_blocks, d->kv_block_size);
    if (d->kv_block_bytes > 0 && o->kv_blocks > (int64_t)(SIZE_MAX / 2) / d->kv_block_bytes)
        return llmc_rt_fail(err, errlen, "KV cache of %lld blocks of %lld bytes is too large",
                            (long long)o->kv_blocks, (long long)d->kv_block_bytes);

    e->ex.weights = weights;
    if (d->backend == LLMC_BACKEND_CUDA)
        return init_cuda(e, o, err, errlen);

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
     * start-up time and untouched blocks no memory. */
    size_t kv_bytes = (size_t)(o->kv_blocks * d->kv_block_bytes);
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
                            (long long)o->kv_blocks, (long long)d->kv_block_bytes,
                            (double)kv_bytes / (1 << 20), strerror(en));
    }
    e->ex.kv = kv;
    e->ex.kv_blocks = o->kv_blocks;
    if (llmc_kv_init(&e->kv, o->kv_blocks, err, errlen) != 0 ||
        llmc_samplebuf_init(&e->sbuf, d->vocab_size, err, errlen) != 0 ||
        llmc_pool_create(&e->ex.pool, nth, err, errlen) != 0) {
        llmc_engine_destroy(e);
        return -1;
    }
    if (d->init)
        d->init(&e->ex);
    return 0;
}

void llmc_engine_destroy(LlmcEngine *e)
{
    if (e->ex.gpu) {
        llmc_gpu_teardown(e->ex.gpu);
        if (e->own_gpu)
            llmc_gpu_close(e->ex.gpu);
    }
    llmc_pool_destroy(e->ex.pool);
    llmc_kv_destroy(&e->kv);
    llmc_samplebuf_free(&e->sbuf);
    if (e->ex.kv)
        munmap(e->ex.kv, e->kv_map_bytes);
    free(e->ex.consts);
    free(e->ex.arena);
    memset(e, 0, sizeof *e);
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

int llmc_engine_step(LlmcEngine *e, const LlmcStep *s, char *err, size_t errlen)
{
    assert(s->n_tokens >= 1 && s->n_tokens <= e->desc->max_tokens);
    assert(s->n_out >= 0 && s->n_out <= e->desc->max_outputs);
    assert(s->max_blocks_per_seq == e->max_blocks_per_seq);
    if (e->ex.gpu)
        return llmc_gpu_step(e->ex.gpu, &e->ex, s, err, errlen);
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
