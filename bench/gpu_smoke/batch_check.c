/* batch_check.c — continuous batching on the GPU: the same prompts decoded alone and in batches of
 * 2..8 sequences (decode steps padded to graph buckets 2, 4, 8), with CUDA graphs and without.
 * Kernels compute every row independently, so each sequence must produce exactly the tokens it
 * produces alone, eagerly. Links model.c (SMOKE_VARIANT 0) and the runtime archive.
 *
 *   batch_check WEIGHTS [N_NEW]          prints one line per configuration; exit 0 when all match
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "gpu.h"
#include "payload_load.h"
#include "scheduler.h"

extern const LlmcModelDesc llmc_model;

enum { N_PROMPTS = 9, MAX_LEN = 80 };

static int32_t prompt_len(int i) { return 1 + (i * 17) % MAX_LEN; }     /* 1 .. 80: chunked */
static int32_t prompt_tok(int i, int k) { return (i * 131 + k * 29 + 7) % 512; }

/* Runs every prompt at max_batch; tokens[i] gets sequence i's tokens (prompt + generated). */
static int run(LlmcGpu *gpu, const LlmcPayload *pl, int graphs, int32_t max_batch, int32_t n_new,
               int32_t **tokens, int32_t *n_tokens, long long *graph_steps)
{
    const LlmcModelDesc *d = &llmc_model;
    char err[1024];
    LlmcEngine e;
    LlmcEngineOpts eo = {.n_threads = 1,
                         .kv_blocks = llmc_engine_default_kv_blocks(d, max_batch, MAX_LEN + n_new),
                         .gpu = gpu,
                         .no_graphs = !graphs};
    if (llmc_engine_init(&e, d, pl->weights, &eo, err, sizeof err) != 0) {
        fprintf(stderr, "engine: %s\n", err);
        return -1;
    }
    LlmcSched *s;
    LlmcSchedConfig sc = {.max_batch = max_batch, .sampler = {0, 0, 1}, .seed = 7};
    int rc = llmc_sched_create(&s, &e, &sc, NULL, err, sizeof err);
    int32_t prompt[MAX_LEN];
    for (int i = 0; rc == 0 && i < N_PROMPTS; i++) {
        for (int k = 0; k < prompt_len(i); k++)
            prompt[k] = prompt_tok(i, k);
        LlmcSeqReq r = {.prompt = prompt, .n_prompt = prompt_len(i), .max_new = n_new,
                        .logits_from = -1};
        if (llmc_sched_add(s, &r, err, sizeof err) < 0)
            rc = -1;
    }
    if (rc == 0)
        rc = llmc_sched_run(s, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "run: %s\n", err);
    for (int i = 0; rc == 0 && i < N_PROMPTS; i++) {
        const int32_t *t = llmc_sched_tokens(s, i, &n_tokens[i]);
        tokens[i] = malloc((size_t)n_tokens[i] * sizeof *t);
        memcpy(tokens[i], t, (size_t)n_tokens[i] * sizeof *t);
    }
    *graph_steps = (long long)llmc_gpu_stats(gpu)->graph_steps;
    llmc_sched_destroy(s);
    llmc_engine_destroy(&e);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: batch_check WEIGHTS [N_NEW]\n");
        return 2;
    }
    int32_t n_new = argc > 2 ? atoi(argv[2]) : 24;
    char err[1024];
    LlmcGpu *gpu;
    LlmcPayload pl;
    if (llmc_gpu_open(&gpu, &llmc_model, NULL, err, sizeof err) != 0 ||
        llmc_payload_open(&pl, &llmc_model, argv[1], argv[1], err, sizeof err) != 0) {
        fprintf(stderr, "batch_check: %s\n", err);
        return 1;
    }
    int32_t *ref[N_PROMPTS], n_ref[N_PROMPTS];
    long long gs = 0, prev_gs = 0;
    if (run(gpu, &pl, 0, 1, n_new, ref, n_ref, &gs) != 0)
        return 1;
    printf("reference: %d prompts of 1..%d tokens, %d new tokens each, alone, eager\n", N_PROMPTS,
           MAX_LEN, n_new);
    prev_gs = gs;
    int bad = 0;
    const int32_t batches[] = {1, 2, 3, 5, 8};
    for (int graphs = 0; graphs < 2; graphs++)
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
            int32_t *got[N_PROMPTS], n_got[N_PROMPTS];
            if (run(gpu, &pl, graphs, batches[b], n_new, got, n_got, &gs) != 0)
                return 1;
            int diff = 0;
            for (int i = 0; i < N_PROMPTS; i++) {
                diff += n_got[i] != n_ref[i] ||
                        memcmp(got[i], ref[i], (size_t)n_ref[i] * sizeof *got[i]) != 0;
                free(got[i]);
            }
            printf("%s  batch %d, graphs %s: %d of %d sequences identical to the reference "
                   "(%lld graph steps)\n",
                   diff ? "FAIL" : "ok  ", batches[b], graphs ? "on " : "off", N_PROMPTS - diff,
                   N_PROMPTS, gs - prev_gs);
            bad += diff != 0 || (graphs && gs == prev_gs) || (!graphs && gs != prev_gs);
            prev_gs = gs;
        }
    const LlmcGpuStats *st = llmc_gpu_stats(gpu);
    printf("gpu: %lld steps, %lld graph steps, %lld graphs captured, %lld launches\n",
           (long long)st->steps, (long long)st->graph_steps, (long long)st->captures,
           (long long)st->launches);
    for (int i = 0; i < N_PROMPTS; i++)
        free(ref[i]);
    llmc_payload_close(&pl);
    llmc_gpu_close(gpu);
    printf("%s\n", bad ? "batch_check: FAIL" : "batch_check: PASS");
    return bad != 0;
}
