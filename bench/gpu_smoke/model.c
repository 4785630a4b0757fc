/* model.c — a hand-written "generated model" for the runtime's CUDA backend, standing in for llmc's
 * CUDA code generator: the descriptor (backend CUDA, cubins from kernels.cu embedded by build.sh),
 * a forward() that only enqueues launches, and its CPU twin (the same step in plain C, for
 * --compare-cpu and for the cpu build the GPU's output is compared with).
 *
 * Built three ways (build.sh), by SMOKE_VARIANT:
 *   0  smoke       GPU build with an sm_90 image
 *   1  smoke_sm89  GPU build with only an sm_89 image (must be refused on a Hopper GPU)
 *   2  smoke_cpu   the twin as a cpu build (generation compared with the GPU's)
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "llmc_model.h"
#include "smoke_model.h"

#ifndef SMOKE_VARIANT
#define SMOKE_VARIANT 0
#endif

/* cubins.h (made by build.sh): smoke_cubin_sm90 / smoke_cubin_sm89 and their sizes. The sm_90
 * image sits one byte past an aligned address on purpose: the runtime must cope with cubins at any
 * alignment (it copies them to aligned memory for the driver). */
#include "cubins.h"

static void init(const LlmcExec *ex)
{
    float *pos = (float *)(ex->consts + SM_C_POS);
    for (int p = 0; p < SM_SEQ; p++)
        for (int d = 0; d < SM_D; d++)
            pos[p * SM_D + d] = 0.02f * cosf((float)p * (float)(d + 1) * 0.01f);
}

/* ---- the GPU forward: launches only ---- */

#if SMOKE_VARIANT != 2
static void forward_gpu(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    (void)tid;
    (void)nth;
    llmc_gpu_launch(ex->gpu, SM_K_EMBED_KV, (uint32_t)st->n_tokens, 1, 1, SM_D, 0, NULL);
    if (st->n_nodes == 1)
        return;
    llmc_gpu_launch(ex->gpu, SM_K_ATTEND, (uint32_t)st->n_tokens, 1, 1, SM_D, SM_D * 4, NULL);
    if (st->n_nodes == 2)
        return;
    llmc_gpu_launch(ex->gpu, SM_K_STREAM, SM_STREAM_BLOCKS, 1, 1, SM_D, 0, NULL);
    if (st->n_nodes == 3)
        return;
    llmc_gpu_launch(ex->gpu, SM_K_LOGITS, (uint32_t)st->n_out, SM_VOCAB / SM_D, 1, SM_D, 0, NULL);
}
#endif

/* ---- the CPU twin: the same nodes in C, rows split over the threads ---- */

static void forward_cpu(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    const float *emb = (const float *)(ex->weights + SM_W_EMB);
    const float *wout = (const float *)(ex->weights + SM_W_OUT);
    const float *pos = (const float *)(ex->consts + SM_C_POS);
    float *x = (float *)(ex->arena + SM_A_X), *h = (float *)(ex->arena + SM_A_H);
    float *kv = (float *)ex->kv;
    for (int t = tid; t < st->n_tokens; t += nth)
        for (int d = 0; d < SM_D; d++) {
            float v = emb[(int64_t)st->tokens[t] * SM_D + d] + pos[(int64_t)st->positions[t] * SM_D + d];
            x[t * SM_D + d] = v;
            kv[(int64_t)st->slots[t] * SM_D + d] = v;
        }
    llmc_barrier(ex->pool);
    if (st->n_nodes == 1)
        return;
    for (int t = tid; t < st->n_tokens; t += nth) {
        const int32_t *bt = st->block_tables + (int64_t)st->seq_of_token[t] * st->max_blocks_per_seq;
        float m = -1e30f, l = 0, acc[SM_D] = {0};
        for (int j = 0; j <= st->positions[t]; j++) {
            const float *k = kv + ((int64_t)bt[j / SM_BS] * SM_BS + j % SM_BS) * SM_D;
            float s = 0;
            for (int d = 0; d < SM_D; d++)
                s += x[t * SM_D + d] * k[d];
            s *= 1.0f / 16.0f;
            float mn = fmaxf(m, s), c = expf(m - mn), e = expf(s - mn);
            l = l * c + e;
            for (int d = 0; d < SM_D; d++)
                acc[d] = acc[d] * c + e * k[d];
            m = mn;
        }
        for (int d = 0; d < SM_D; d++)
            h[t * SM_D + d] = acc[d] / l;
    }
    llmc_barrier(ex->pool);
    if (st->n_nodes == 2)
        return;
    const float *big = (const float *)(ex->weights + SM_W_BIG);
    float *wsum = (float *)(ex->arena + SM_A_WSUM);
    int64_t per = SM_BIG_FLOATS / SM_STREAM_BLOCKS;
    for (int b = tid; b < SM_STREAM_BLOCKS; b += nth) {
        float s = 0;
        for (int64_t i = 0; i < per; i++)
            s += big[b * per + i];
        wsum[b] = s;
    }
    llmc_barrier(ex->pool);
    if (st->n_nodes == 3)
        return;
    for (int o = tid; o < st->n_out; o += nth)
        for (int v = 0; v < SM_VOCAB; v++) {
            const float *hr = h + st->out_rows[o] * SM_D, *w = wout + (int64_t)v * SM_D;
            float s = 0;
            for (int d = 0; d < SM_D; d++)
                s += hr[d] * w[d];
            st->logits[(int64_t)o * SM_VOCAB + v] = s;
        }
    llmc_barrier(ex->pool);
}

static const LlmcProbe probes[] = {
    {"x", 0, 0, SM_A_X, 0, SM_D, SM_D},
    {"h", 1, 0, SM_A_H, 0, SM_D, SM_D},
};

#define SMOKE_DESC_COMMON                                                                          \
    .abi_version = LLMC_ABI_VERSION, .name = "gpu-smoke", .llmc_version = "smoke",                \
    .model_hash = SM_HASH, .vocab_size = SM_VOCAB, .max_seq_len = SM_SEQ, .max_tokens = SM_MT,     \
    .max_outputs = SM_MO, .bos_id = -1, .eos_id = -1, .kv_block_size = SM_BS,                      \
    .kv_block_bytes = SM_KV_BLOCK_BYTES, .weights_bytes = SM_WEIGHTS_BYTES,                        \
    .const_bytes = SM_CONST_BYTES, .arena_bytes = SM_ARENA_BYTES,                                  \
    .weight_bytes_per_token = SM_WEIGHTS_BYTES - 2ll * SM_VOCAB * SM_D * 4 + 2ll * SM_D * 4 +      \
                              (long long)SM_VOCAB * SM_D * 4,                                      \
    .kv_bytes_per_position = SM_D * 4, .probes = probes, .n_probes = 2, .init = init

#if SMOKE_VARIANT == 2
const LlmcModelDesc llmc_model = {
    SMOKE_DESC_COMMON,
    .target = "cpu",
    .build_info = "gpu smoke test model, cpu build",
    .backend = LLMC_BACKEND_CPU,
    .forward = forward_cpu,
};
#else
static const LlmcModelDesc twin = {
    SMOKE_DESC_COMMON,
    .target = "cpu",
    .build_info = "gpu smoke test model, cpu twin",
    .backend = LLMC_BACKEND_CPU,
    .forward = forward_cpu,
};

static const char *const kernels[SM_N_KERNELS] = {"embed_kv", "attend", "stream", "logits"};
static const uint32_t kernel_smem[SM_N_KERNELS] = {0, SM_D * 4, 0, 0};
#if SMOKE_VARIANT == 0
static const LlmcGpuImage images[1] = {
    {90, 0, "sm_90", smoke_cubin_sm90.data, sizeof smoke_cubin_sm90.data}};
#else
static const LlmcGpuImage images[1] = {
    {89, 0, "sm_89", smoke_cubin_sm89.data, sizeof smoke_cubin_sm89.data}};
#endif

const LlmcModelDesc llmc_model = {
    SMOKE_DESC_COMMON,
    .target = SMOKE_VARIANT == 0 ? "sm_90" : "sm_89",
    .build_info = "gpu smoke test model: 4 hand-written kernels, f32, 257 MiB of weights",
    .backend = LLMC_BACKEND_CUDA,
    .gpu_images = images,
    .n_gpu_images = 1,
    .gpu_kernels = kernels,
    .gpu_kernel_smem = kernel_smem,
    .n_gpu_kernels = SM_N_KERNELS,
    .cpu_twin = &twin,
    .forward = forward_gpu,
};
#endif
