/* bench.c — see bench.h. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#include "rtutil.h"

int32_t llmc_bench_token(const LlmcModelDesc *d, int64_t i)
{
    int32_t t = (int32_t)((i * 7919 + 13) % d->vocab_size);
    for (int k = 0; k < 2 && (t == d->bos_id || t == d->eos_id) && d->vocab_size > 2; k++)
        t = (t + 1) % d->vocab_size;
    return t;
}

typedef struct Bench {
    LlmcEngine *e;
    const LlmcModelDesc *d;
    int32_t batch;
    int32_t *table;             /* [batch][max_blocks_per_seq] */
    int32_t *tokens, *positions, *seq_of_token, *slots;     /* [max_tokens] */
    int32_t *out_rows, *out_seq;                            /* [batch] */
    int32_t *next;              /* [batch] the token each sequence feeds next */
    int32_t *ids;               /* [batch] greedy token of each output row */
    float *logits;              /* [batch][vocab_size] */
    LlmcStep step;
    char *err;                  /* the caller's message buffer */
    size_t errlen;
} Bench;

/* The expert bytes a step of `batch` tokens reads: each token picks experts_per_token of n_experts,
 * so about 1 - (1 - k/E)^batch of every expert matrix (routing taken as uniform; exact at batch 1). */
static double expert_bytes_read(const LlmcModelDesc *d, int batch)
{
    if (d->expert_bytes <= 0 || d->n_experts <= 0)
        return 0.0;
    double miss = 1.0;
    for (int i = 0; i < batch; i++)
        miss *= 1.0 - (double)d->experts_per_token / d->n_experts;
    return (double)d->expert_bytes * (1.0 - miss);
}

static void bench_add(Bench *b, int32_t seq, int32_t token, int32_t pos, int want_logits)
{
    int32_t t = b->step.n_tokens++;
    b->tokens[t] = token;
    b->positions[t] = pos;
    b->seq_of_token[t] = seq;
    b->slots[t] = llmc_kv_slot(b->table + (size_t)seq * (size_t)b->e->max_blocks_per_seq,
                               b->d->kv_block_size, pos);
    if (want_logits) {
        b->out_rows[b->step.n_out] = t;
        b->out_seq[b->step.n_out++] = seq;
    }
}

/* Runs the step built so far, takes the greedy token of every output row, starts a new step.
 * Returns 0, or -1 with a message when the step failed. */
static int bench_flush(Bench *b)
{
    if (b->step.n_tokens == 0)
        return 0;
    if (llmc_engine_step(b->e, &b->step, b->err, b->errlen) != 0)
        return -1;
    for (int32_t o = 0; o < b->step.n_out; o++)
        b->next[b->out_seq[o]] = b->ids[o];
    b->step.n_tokens = 0;
    b->step.n_out = 0;
    return 0;
}

/* The table entry of a sequence's k-th block of per_seq: its positions' first, its ring's (KIVI,
 * the last kv_ring_blocks of per_seq) at the end of the row. */
static int32_t bench_entry(const LlmcEngine *e, int32_t per_seq, int32_t k)
{
    int32_t ring = e->desc->kv_ring_blocks;
    return k < per_seq - ring ? k : e->max_blocks_per_seq - (per_seq - k);
}

int llmc_bench_run(LlmcEngine *e, const LlmcBenchCfg *c, LlmcBenchResult *r, char *err,
                   size_t errlen)
{
    const LlmcModelDesc *d = e->desc;
    memset(r, 0, sizeof *r);
    int32_t limit = d->max_tokens < d->max_outputs ? d->max_tokens : d->max_outputs;
    if (c->batch < 1 || c->batch > limit)
        return llmc_rt_fail(err, errlen, "batch %d out of range: this model runs 1..%d sequences",
                            c->batch, limit);
    if (c->n_prompt < 1 || c->n_gen < 0 || c->n_prompt > d->max_seq_len - c->n_gen)
        return llmc_rt_fail(err, errlen,
                            "%d prompt + %d generated tokens do not fit the context of %d "
                            "(need at least one prompt token)",
                            c->n_prompt, c->n_gen, d->max_seq_len);
    /* a sequence's blocks: its positions', then its ring's (KIVI), the last of its table row */
    int32_t per_seq = llmc_kv_blocks_for(c->n_prompt + c->n_gen, d->kv_block_size) + d->kv_ring_blocks;
    if ((int64_t)per_seq * c->batch > llmc_kv_free_count(&e->kv))
        return llmc_rt_fail(err, errlen, "%d sequences of %d positions need %lld KV blocks, %d are "
                            "free (--kv-blocks / --kv-mem)",
                            c->batch, c->n_prompt + c->n_gen, (long long)per_seq * c->batch,
                            llmc_kv_free_count(&e->kv));

    Bench b = {.e = e, .d = d, .batch = c->batch, .err = err, .errlen = errlen};
    size_t nb = (size_t)c->batch, nt = (size_t)d->max_tokens;
    b.table = calloc(nb * (size_t)e->max_blocks_per_seq, sizeof *b.table);
    b.tokens = malloc(nt * sizeof *b.tokens);
    b.positions = malloc(nt * sizeof *b.positions);
    b.seq_of_token = malloc(nt * sizeof *b.seq_of_token);
    b.slots = malloc(nt * sizeof *b.slots);
    b.out_rows = malloc(nb * sizeof *b.out_rows);
    b.out_seq = malloc(nb * sizeof *b.out_seq);
    b.next = malloc(nb * sizeof *b.next);
    b.ids = malloc(nb * sizeof *b.ids);
    b.logits = llmc_rt_alloc(nb * (size_t)d->vocab_size * sizeof *b.logits);
    int rc = 0;
    if (!b.table || !b.tokens || !b.positions || !b.seq_of_token || !b.slots || !b.out_rows ||
        !b.out_seq || !b.next || !b.ids || !b.logits) {
        rc = llmc_rt_fail(err, errlen, "out of memory for the benchmark's buffers");
        goto out;
    }
    for (int32_t s = 0; s < c->batch; s++)
        for (int32_t k = 0; k < per_seq; k++)
            b.table[(size_t)s * (size_t)e->max_blocks_per_seq + (size_t)bench_entry(e, per_seq, k)] =
                llmc_kv_alloc(&e->kv);
    b.step = (LlmcStep){
        .tokens = b.tokens,
        .positions = b.positions,
        .seq_of_token = b.seq_of_token,
        .slots = b.slots,
        .block_tables = b.table,
        .max_blocks_per_seq = e->max_blocks_per_seq,
        .out_rows = b.out_rows,
        .logits = b.logits,
        .out_ids = b.ids,
        .ids_only = 1,
    };

    /* Warm-up: a decode-shaped step at position 0 (prefill overwrites what it writes); on a GPU
     * it also captures the decode steps' CUDA graph, outside the timing. */
    for (int32_t s = 0; s < c->batch; s++)
        bench_add(&b, s, llmc_bench_token(d, s), 0, 1);
    rc = bench_flush(&b);

    double t0 = llmc_rt_now();
    for (int32_t s = 0; s < c->batch && rc == 0; s++) {
        for (int32_t p = 0; p < c->n_prompt && rc == 0; p++) {
            /* a full step, or (KIVI) the sequence's share of one */
            if ((b.step.n_tokens == d->max_tokens || (d->kv_seq_step > 0 && p > 0 && p % d->kv_seq_step == 0)) &&
                (rc = bench_flush(&b)) != 0)
                break;
            bench_add(&b, s, llmc_bench_token(d, (int64_t)s * c->n_prompt + p), p,
                      p == c->n_prompt - 1);
        }
    }
    if (rc == 0)
        rc = bench_flush(&b);
    double t1 = llmc_rt_now();
    double busy0 = e->dev->busy_seconds ? e->dev->busy_seconds(e) : 0.0;
    for (int32_t i = 0; i < c->n_gen && rc == 0; i++) {
        for (int32_t s = 0; s < c->batch; s++)
            bench_add(&b, s, b.next[s], c->n_prompt + i, 1);
        rc = bench_flush(&b);
    }
    double t2 = llmc_rt_now();
    if (e->dev->busy_seconds)
        r->decode_busy_seconds = e->dev->busy_seconds(e) - busy0;
    /* --bench-launches: one more decode step (the last position again: the same context as the
     * last timed step), its launches timed in its graph */
    if (rc == 0 && c->launch_reps > 0) {
        if (!e->dev->arm_launch_costs)
            rc = llmc_rt_fail(err, errlen, "--bench-launches: the %s device runs no kernel launches (GPU "
                              "builds only)", e->dev->name);
        else if ((rc = e->dev->arm_launch_costs(e, c->launch_reps, err, errlen)) == 0) {
            for (int32_t s = 0; s < c->batch; s++)
                bench_add(&b, s, b.next[s], c->n_prompt + c->n_gen - 1, 1);
            rc = bench_flush(&b);
        }
    }

    r->prefill_tokens = (int64_t)c->batch * c->n_prompt;
    r->prefill_seconds = t1 - t0;
    r->decode_tokens = (int64_t)c->batch * c->n_gen;
    r->decode_steps = c->n_gen;
    r->decode_seconds = t2 - t1;
    /* Step i reads every weight once and the KV of positions 0..P+i of each sequence: in the
     * cache's format, or (KIVI) the newest in f16 from the ring. */
    double positions = 0, ring_positions = 0;
    for (int32_t i = 0; i < c->n_gen; i++) {
        int64_t n = c->n_prompt + i + 1, q = n;
        if (d->kv_ring_blocks > 0)
            q = n - d->kv_resid + d->kv_group > 0 ? (n - d->kv_resid + d->kv_group) / d->kv_group * d->kv_group : 0;
        positions += (double)q;
        ring_positions += (double)(n - q);
    }
    r->decode_bytes = (double)c->n_gen * (double)(d->weight_bytes_per_token + expert_bytes_read(d, c->batch)) +
                      ((double)d->kv_bytes_per_position * positions +
                       (double)d->kv_ring_bytes_per_position * ring_positions) * c->batch;
    if (d->n_ranks > 1) /* the sizes are a rank's; a step reads every rank's (cpu: one memory; GPUs: the sum) */
        r->decode_bytes *= d->n_ranks;
    for (int32_t s = 0; s < c->batch; s++)
        for (int32_t k = per_seq - 1; k >= 0; k--)
            llmc_kv_free(&e->kv, b.table[(size_t)s * (size_t)e->max_blocks_per_seq + (size_t)bench_entry(e, per_seq, k)]);
out:
    free(b.table);
    free(b.tokens);
    free(b.positions);
    free(b.seq_of_token);
    free(b.slots);
    free(b.out_rows);
    free(b.out_seq);
    free(b.next);
    free(b.ids);
    free(b.logits);
    return rc;
}

/* --bench-launches: each launch of the last decode step and the sum of each kernel's */
static void report_launches(LlmcEngine *e, const LlmcBenchCfg *c, FILE *out)
{
    const LlmcModelDesc *d = e->desc;
    int32_t n = 0;
    double full = 0.0;
    const LlmcLaunchCost *lc = e->dev->launch_costs ? e->dev->launch_costs(e, &n, &full) : NULL;
    if (!lc) {
        fprintf(out, "launches: none timed (a decode step of %d tokens replays no CUDA graph)\n", c->batch);
        return;
    }
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        sum += lc[i].us;
    fprintf(out, "launches of a decode step, each timed in the step's CUDA graph (the graph of the launches before "
                 "it and itself less the graph of those before it, %d replays each; the first includes the "
                 "graph's start): %d launches, %.1f us in all (the whole graph: %.1f us)\n",
            c->launch_reps, n, sum, full);
    fprintf(out, "  %4s  %-40s %-14s %9s %10s\n", "#", "kernel", "grid", "us", "up to it");
    double cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        char grid[48];
        snprintf(grid, sizeof grid, "%ux%ux%u", lc[i].grid[0], lc[i].grid[1], lc[i].grid[2]);
        cum += lc[i].us;
        fprintf(out, "  %4d  %-40s %-14s %9.2f %10.1f\n", i + 1, d->gpu_kernels[lc[i].kernel], grid, lc[i].us, cum);
    }
    /* the sums per kernel, in the order of their first launch */
    fprintf(out, "  by kernel:\n");
    for (int32_t i = 0; i < n; i++) {
        int first = 1;
        for (int32_t j = 0; j < i && first; j++)
            first = lc[j].kernel != lc[i].kernel;
        if (!first)
            continue;
        double us = 0.0;
        int cnt = 0;
        for (int32_t j = i; j < n; j++)
            if (lc[j].kernel == lc[i].kernel) {
                us += lc[j].us;
                cnt++;
            }
        fprintf(out, "  %-40s %4d launches %10.1f us %6.1f%%\n", d->gpu_kernels[lc[i].kernel], cnt, us,
                sum > 0.0 ? 100.0 * us / sum : 0.0);
    }
}

int llmc_bench_report(LlmcEngine *e, const LlmcBenchCfg *c, const LlmcBenchResult *r, FILE *out,
                      char *err, size_t errlen)
{
    const LlmcModelDesc *d = e->desc;
    char what[512];
    e->dev->bench_header(e, c->batch, what, sizeof what);
    fprintf(out, "model: %s (target %s), %s\n", d->name, d->target, what);
    if (d->kv_ring_blocks > 0)
        fprintf(out, "KV cache: %lld bytes a position (the newest %d-%d of a sequence in f16: %lld bytes), %d "
                     "blocks of %d positions, %lld bytes a block\n",
                (long long)d->kv_bytes_per_position, d->kv_resid - d->kv_group, d->kv_resid - 1,
                (long long)d->kv_ring_bytes_per_position, (int)e->kv.n_blocks, d->kv_block_size,
                (long long)d->kv_block_bytes);
    else
        fprintf(out, "KV cache: %lld bytes a position, %d blocks of %d positions, %lld bytes a block\n",
                (long long)d->kv_bytes_per_position, (int)e->kv.n_blocks, d->kv_block_size,
                (long long)d->kv_block_bytes);
    /* how many sequences of this benchmark's length the pool runs at once */
    int32_t per_seq = llmc_kv_blocks_for(c->n_prompt + c->n_gen, d->kv_block_size) + d->kv_ring_blocks;
    fprintf(out, "KV capacity: %d sequences of %d positions at once in %d blocks (%.1f MiB; %d blocks a sequence%s)\n",
            (int)(e->kv.n_blocks / per_seq), c->n_prompt + c->n_gen, (int)e->kv.n_blocks,
            (double)e->kv.n_blocks * (double)d->kv_block_bytes * (d->n_ranks > 1 ? d->n_ranks : 1) / (1 << 20), per_seq,
            d->kv_ring_blocks > 0 ? ", its ring's counted" : "");
    fprintf(out, "prefill: %lld tokens in %.3f s: %.1f tok/s\n", (long long)r->prefill_tokens,
            r->prefill_seconds, r->prefill_tokens / r->prefill_seconds);
    if (r->decode_steps > 0)
        fprintf(out, "decode: %d steps of %d tokens in %.3f s: %.1f tok/s, %.3f ms/step, "
                     "%.2f GB/s effective (weights + KV)\n",
                r->decode_steps, c->batch, r->decode_seconds, r->decode_tokens / r->decode_seconds,
                1e3 * r->decode_seconds / r->decode_steps,
                r->decode_bytes / r->decode_seconds / 1e9);
    if (e->dev->busy_seconds && r->decode_steps > 0)
        fprintf(out, "decode on the device: %.3f ms/step from the first copy in to the last copy "
                     "out (%.3f ms/step between steps)\n",
                1e3 * r->decode_busy_seconds / r->decode_steps,
                1e3 * (r->decode_seconds - r->decode_busy_seconds) / r->decode_steps);
    if (!e->dev->copy_bandwidth)
        return 0;
    /* the device's copy bandwidth, measured now, and the fraction of it a decode step reached
     * (bytes it must read / its time) */
    double bw;
    size_t buf;
    if (e->dev->copy_bandwidth(e, &bw, &buf, err, errlen) != 0)
        return -1;
    int gpus = d->n_ranks > 1 ? d->n_ranks : 1; /* a sharded GPU build: one GPU a rank, their sum */
    char sum[64] = "";
    if (gpus > 1)
        snprintf(sum, sizeof sum, "; the sum of %d GPUs, each measured alone", gpus);
    fprintf(out, "device copy bandwidth: %.1f GB/s (cuMemcpyDtoD of %.0f MiB, median of 10, bytes "
                 "read + written%s)\n",
            bw / 1e9, (double)buf / (1 << 20), sum);
    if (r->decode_steps <= 0) {
        if (c->launch_reps > 0)
            report_launches(e, c, out);
        return 0;
    }
    double per_step = r->decode_bytes / r->decode_steps;
    double experts = expert_bytes_read(d, c->batch);
    double weights = ((double)d->weight_bytes_per_token + experts) * gpus; /* the sizes are a rank's */
    double kv = per_step - weights;
    double avg_ctx = c->n_prompt + (c->n_gen + 1) / 2.0;
    double step_s = r->decode_seconds / r->decode_steps;
    fprintf(out, "decode step reads: %.4f GB (weights %.4f GB + KV %.4f GB at an average context "
                 "of %.1f x %d sequences)\n",
            per_step / 1e9, weights / 1e9, kv / 1e9, avg_ctx, c->batch);
    if (d->expert_bytes > 0) {
        /* what a step would take reading every expert (a dense MoE) at the copy bandwidth */
        double dense_s = (per_step - experts + (double)d->expert_bytes) / bw;
        fprintf(out,
                "experts: %.4f GB of their %.4f GB a step (%d of %d a token; routing taken as uniform); a dense "
                "read of every expert would need %.3f ms a step at copy bandwidth: this run is %.2fx that\n",
                experts / 1e9, (double)d->expert_bytes / 1e9, d->experts_per_token, d->n_experts, 1e3 * dense_s,
                dense_s / step_s);
    }
    fprintf(out, "memory roofline: %.1f%% (%.1f GB/s of %.1f GB/s)\n",
            100.0 * per_step / step_s / bw, per_step / step_s / 1e9, bw / 1e9);
    if (c->launch_reps > 0)
        report_launches(e, c, out);
    return 0;
}
