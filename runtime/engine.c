/* engine.c — see engine.h: what every device shares (description checks, KV sizing), and the
 * calls into the device (device.h). */
#include "engine.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "rtutil.h"

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
    else if (d->kv_ring_blocks < 0 || d->kv_seq_step < 0 || d->kv_ring_bytes_per_position < 0 ||
             (d->kv_ring_blocks > 0 && (d->kv_seq_step <= 0 || d->kv_group <= 0 || d->kv_resid < d->kv_group)))
        bad = "kv_ring_blocks/kv_seq_step/kv_group/kv_resid";
    else if (d->weights_bytes < 0 || d->const_bytes < 0 || d->arena_bytes < 0)
        bad = "weights_bytes/const_bytes/arena_bytes";
    else if (d->bos_id < -1 || d->bos_id >= d->vocab_size)
        bad = "bos_id";
    else if (d->eos_id < -1 || d->eos_id >= d->vocab_size)
        bad = "eos_id";
    else if (d->n_eos_more < 0 || (d->n_eos_more > 0 && !d->eos_more))
        bad = "eos_more";
    else if (d->sampling_set && !(d->temperature >= 0 && d->top_k >= 0 && d->top_p > 0 && d->top_p <= 1))
        bad = "sampling defaults";
    else if (d->max_threads < 0)
        bad = "max_threads";
    else if (!d->forward)
        bad = "forward";
    else if (!llmc_device_for(d->backend))
        bad = "backend";
    else if ((bad = llmc_device_for(d->backend)->check_desc(d)) != NULL)
        ;
    else if (d->n_probes < 0 || (d->n_probes > 0 && !d->probes))
        bad = "probes";
    for (int32_t i = 0; !bad && i < d->n_eos_more; i++)
        if (d->eos_more[i] < 0 || d->eos_more[i] >= d->vocab_size)
            bad = "eos_more";
    if (bad)
        return llmc_rt_fail(err, errlen, "model %s: invalid description: %s", name, bad);
    return 0;
}

int64_t llmc_engine_default_kv_blocks(const LlmcModelDesc *d, int32_t n_seqs,
                                      int32_t max_positions)
{
    if (max_positions > d->max_seq_len)
        max_positions = d->max_seq_len;
    return (int64_t)n_seqs * (llmc_kv_blocks_for(max_positions, d->kv_block_size) + d->kv_ring_blocks);
}

int llmc_engine_init(LlmcEngine *e, const LlmcModelDesc *d, const uint8_t *weights,
                     const LlmcEngineOpts *o, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (llmc_desc_check(d, err, errlen) != 0)
        return -1;
    e->desc = d;
    e->max_blocks_per_seq = llmc_kv_blocks_for(d->max_seq_len, d->kv_block_size) + d->kv_ring_blocks;
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

    e->dev = llmc_device_for(d->backend);
    e->ex.weights = weights;
    e->watch = o->watch;
    e->watch_ctx = o->watch_ctx;
    return e->dev->setup(e, o, err, errlen);
}

void llmc_engine_destroy(LlmcEngine *e)
{
    if (e->dev)
        e->dev->teardown(e);
    llmc_pool_destroy(e->ex.pool);
    llmc_kv_destroy(&e->kv);
    free(e->ex.consts);
    memset(e, 0, sizeof *e);
}

int llmc_engine_step(LlmcEngine *e, const LlmcStep *s, char *err, size_t errlen)
{
    assert(s->n_tokens >= 1 && s->n_tokens <= e->desc->max_tokens);
    assert(s->n_out >= 0 && s->n_out <= e->desc->max_outputs);
    assert(s->max_blocks_per_seq == e->max_blocks_per_seq);
    if (e->watch && e->watch(e->watch_ctx, err, errlen) != 0)
        return -1;
    return e->dev->step(e, s, err, errlen);
}

const LlmcDeviceOps *llmc_device_for(int32_t backend)
{
    static const LlmcDeviceOps *const devices[] = {
        [LLMC_BACKEND_CPU] = &llmc_device_cpu,
        [LLMC_BACKEND_CUDA] = &llmc_device_cuda,
    };
    if (backend < 0 || (size_t)backend >= sizeof devices / sizeof devices[0])
        return NULL;
    return devices[backend];
}
