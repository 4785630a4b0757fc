/* gpu_step.c — the CUDA backend's steps (gpu.h): llmc_gpu_launch for forward(), CUDA graph
 * capture and replay of decode-shaped steps, llmc_gpu_step (step arrays in, forward, logits or
 * chosen ids out), reading the arena back, and the copy bandwidth test.
 */
#include "gpu.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_api.h"
#include "gpu_impl.h"
#include "rtutil.h"

void llmc_gpu_launch(LlmcGpu *g, int32_t kernel, uint32_t gx, uint32_t gy, uint32_t gz,
                     uint32_t threads, uint32_t smem, const LlmcKernelOffsets *offsets)
{
    if (g->launch_failed)
        return;
    const LlmcModelDesc *d = g->d;
    if (kernel < 0 || kernel >= d->n_gpu_kernels) {
        g->launch_failed = 1;
        snprintf(g->launch_err, sizeof g->launch_err,
                 "forward() launched kernel %d; the model has kernels 0..%d", kernel,
                 d->n_gpu_kernels - 1);
        return;
    }
    if (gx == 0 || gy == 0 || gz == 0)
        return;                         /* an empty grid (no rows this step): nothing to run */
    int32_t seq = g->launch_seq++;
    if (g->launch_cut > 0 && seq >= g->launch_cut)
        return;                         /* --bench-launches: the step cut before this launch */
    if (g->recording) {
        if (g->n_costs == g->cap_costs) {
            int32_t cap = g->cap_costs ? 2 * g->cap_costs : 256;
            LlmcLaunchCost *c = realloc(g->costs, (size_t)cap * sizeof *c);
            if (!c) {
                g->launch_failed = 1;
                snprintf(g->launch_err, sizeof g->launch_err, "out of memory for the launches' list");
                return;
            }
            g->costs = c;
            g->cap_costs = cap;
        }
        g->costs[g->n_costs++] = (LlmcLaunchCost){kernel, {gx, gy, gz}, threads, 0.0};
    }
    LlmcKernelOffsets offs;
    if (offsets)
        offs = *offsets;
    else
        memset(&offs, 0, sizeof offs);
    void *params[] = {&g->args, &offs};
    int pdl = g->use_pdl && (d->gpu_kernel_flags[kernel] & LLMC_GPU_KERNEL_PDL);
    CUresult r;
    if (pdl) {
        CUlaunchAttribute at;
        memset(&at, 0, sizeof at);
        at.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
        at.value.programmaticStreamSerializationAllowed = 1;
        CUlaunchConfig cfg = {.gridDimX = gx, .gridDimY = gy, .gridDimZ = gz, .blockDimX = threads,
                              .blockDimY = 1, .blockDimZ = 1, .sharedMemBytes = smem,
                              .hStream = g->stream, .attrs = &at, .numAttrs = 1};
        r = g->cu.LaunchKernelEx(&cfg, g->fn[kernel], params, NULL);
    } else {
        r = g->cu.LaunchKernel(g->fn[kernel], gx, gy, gz, threads, 1, 1, smem, g->stream, params,
                               NULL);
    }
    g->stats.launches++;
    if (r != CUDA_SUCCESS) {
        g->launch_failed = 1;
        llmc_cu_fail(g, r, g->launch_err, sizeof g->launch_err,
                "%s (kernel %s, grid %ux%ux%u, %u threads, %u bytes of shared memory)",
                pdl ? "cuLaunchKernelEx with programmatic dependent launch" : "cuLaunchKernel",
                d->gpu_kernels[kernel], gx, gy, gz, threads, smem);
    }
}

static CUgraphExec find_graph(const LlmcGpu *g, int32_t bucket)
{
    for (int i = 0; i < g->n_graphs; i++)
        if (g->graphs[i].bucket == bucket)
            return g->graphs[i].exec;
    return NULL;
}

/* Captures forward() for a step of `bucket` tokens (g->args already set) into *out, an
 * instantiated graph the caller owns. */
static int capture_graph(LlmcGpu *g, const LlmcExec *ex, const LlmcStep *dev_step, CUgraphExec *out,
                         char *err, size_t errlen)
{
    CUresult r;
    /* the ranks of a sharded model capture at once, a thread each: a capture forbids unsafe calls
     * of its own thread only (NCCL's calls of another rank's thread must not end it) */
    int mode = g->n_ranks > 1 ? CU_STREAM_CAPTURE_MODE_THREAD_LOCAL : CU_STREAM_CAPTURE_MODE_GLOBAL;
    if ((r = g->cu.StreamBeginCapture(g->stream, mode)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuStreamBeginCapture_v2 (graph for %d tokens)",
                       dev_step->n_tokens);
    g->launch_seq = 0;
    g->d->forward(ex, dev_step, 0, 1);
    CUgraph graph = NULL;
    r = g->cu.StreamEndCapture(g->stream, &graph);
    if (g->launch_failed) {
        if (r == CUDA_SUCCESS && graph)
            (void)g->cu.GraphDestroy(graph);
        return llmc_rt_fail(err, errlen, "capturing the CUDA graph for %d tokens: %s",
                            dev_step->n_tokens, g->launch_err);
    }
    if (r != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuStreamEndCapture (graph for %d tokens)",
                       dev_step->n_tokens);
    CUgraphExec exec = NULL;
    r = g->cu.GraphInstantiateWithFlags(&exec, graph, 0);
    CUresult r2 = g->cu.GraphDestroy(graph);
    if (r != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuGraphInstantiateWithFlags (graph for %d tokens)",
                       dev_step->n_tokens);
    if (r2 != CUDA_SUCCESS) {
        (void)g->cu.GraphExecDestroy(exec);
        return llmc_cu_fail(g, r2, err, errlen, "cuGraphDestroy");
    }
    *out = exec;
    return 0;
}

/* capture_graph, the graph kept as the bucket's */
static int capture(LlmcGpu *g, const LlmcExec *ex, const LlmcStep *dev_step, CUgraphExec *out,
                   char *err, size_t errlen)
{
    if (g->n_graphs == MAX_GRAPHS)
        return llmc_rt_fail(err, errlen, "internal error: more than %d CUDA graph buckets",
                            MAX_GRAPHS);
    CUgraphExec exec = NULL;
    if (capture_graph(g, ex, dev_step, &exec, err, errlen) != 0)
        return -1;
    g->graphs[g->n_graphs].bucket = dev_step->n_tokens;
    g->graphs[g->n_graphs++].exec = exec;
    g->stats.captures++;
    *out = exec;
    return 0;
}

/* exec replayed twice, then reps times between the step events: *us a replay. */
static int time_graph(LlmcGpu *g, CUgraphExec exec, int reps, double *us, char *err, size_t errlen)
{
    CUresult r;
    for (int i = 0; i < 2 + reps; i++) {
        if (i == 2 && (r = g->cu.EventRecord(g->step_ev[0], g->stream)) != CUDA_SUCCESS)
            return llmc_cu_fail(g, r, err, errlen, "cuEventRecord");
        if ((r = g->cu.GraphLaunch(exec, g->stream)) != CUDA_SUCCESS)
            return llmc_cu_fail(g, r, err, errlen, "cuGraphLaunch (--bench-launches)");
    }
    float ms;
    if ((r = g->cu.EventRecord(g->step_ev[1], g->stream)) != CUDA_SUCCESS ||
        (r = g->cu.EventSynchronize(g->step_ev[1])) != CUDA_SUCCESS ||
        (r = g->cu.EventElapsedTime(&ms, g->step_ev[0], g->step_ev[1])) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "timing the graphs of --bench-launches (cuEvent*)");
    *us = 1e3 * ms / reps;
    return 0;
}

/* The armed step's launches timed (llmc_gpu_arm_launch_costs), reps replays a graph: its graph
 * with every launch, recording them, then with its first k. */
static int time_launches(LlmcGpu *g, const LlmcExec *ex, const LlmcStep *dev_step, int reps, char *err,
                         size_t errlen)
{
    int rc = 0;
    g->n_costs = 0;
    g->recording = 1;
    CUgraphExec exec = NULL;
    rc = capture_graph(g, ex, dev_step, &exec, err, errlen);
    g->recording = 0;
    if (rc == 0)
        rc = time_graph(g, exec, reps, &g->cost_full_us, err, errlen);
    if (exec)
        (void)g->cu.GraphExecDestroy(exec);
    double prev = 0.0;
    for (int32_t k = 1; k <= g->n_costs && rc == 0; k++) {
        double t = 0.0;
        exec = NULL;
        g->launch_cut = k;
        rc = capture_graph(g, ex, dev_step, &exec, err, errlen);
        g->launch_cut = 0;
        if (rc == 0)
            rc = time_graph(g, exec, reps, &t, err, errlen);
        if (exec)
            (void)g->cu.GraphExecDestroy(exec);
        g->costs[k - 1].us = t - prev;
        prev = t;
    }
    if (rc != 0)
        g->n_costs = 0;
    return rc;
}

int llmc_gpu_arm_launch_costs(LlmcGpu *g, int reps, char *err, size_t errlen)
{
    if (g->n_ranks > 1)
        return llmc_rt_fail(err, errlen, "--bench-launches: not for a sharded model (--tp %d)", g->n_ranks);
    if (!g->use_graphs)
        return llmc_rt_fail(err, errlen, "--bench-launches times the steps' CUDA graphs: not with --no-graphs");
    if (reps < 1)
        return llmc_rt_fail(err, errlen, "internal error: --bench-launches with %d replays", reps);
    g->cost_reps = reps;
    g->n_costs = 0;
    return 0;
}

const LlmcLaunchCost *llmc_gpu_launch_costs(const LlmcGpu *g, int32_t *n, double *full_us)
{
    *n = g->n_costs;
    *full_us = g->cost_full_us;
    return g->n_costs ? g->costs : NULL;
}

static const void *dptr(CUdeviceptr p) { return (const void *)(uintptr_t)p; }

int llmc_gpu_step(LlmcGpu *g, const LlmcExec *ex, const LlmcStep *st, char *err, size_t errlen)
{
    if (g->rank_gpu)
        return llmc_gpu_ranks_step(g, ex, st, err, errlen);
    return llmc_gpu_step_one(g, ex, st, err, errlen);
}

int llmc_gpu_step_one(LlmcGpu *g, const LlmcExec *ex, const LlmcStep *st, char *err, size_t errlen)
{
    const LlmcModelDesc *d = g->d;
    if (!g->ready)
        return llmc_rt_fail(err, errlen, "internal error: GPU step before llmc_gpu_setup");
    if (g->hung)
        return llmc_rt_fail(err, errlen, "%s", g->hung_msg);
    g->deadline = llmc_gpu_deadline(g, st->n_tokens);
    g->timed_out = 0;
    CUresult r;
    if ((r = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuCtxSetCurrent (%s)", g->name);
    int32_t mt = d->max_tokens;
    if (st->n_tokens < 1 || st->n_tokens > mt || st->n_out < 0 || st->n_out > d->max_outputs ||
        st->max_blocks_per_seq != g->mbps)
        return llmc_rt_fail(err, errlen,
                            "internal error: step of %d tokens, %d outputs, block table stride %d "
                            "(model: %d tokens, %d outputs, stride %d)",
                            st->n_tokens, st->n_out, st->max_blocks_per_seq, mt, d->max_outputs,
                            g->mbps);
    int32_t rows = 0;
    for (int32_t t = 0; t < st->n_tokens; t++) {
        int32_t s = st->seq_of_token[t];
        if (s < 0 || s >= mt)
            return llmc_rt_fail(err, errlen,
                                "internal error: token %d uses block table row %d; the device "
                                "table has rows 0..%d",
                                t, s, mt - 1);
        if (s + 1 > rows)
            rows = s + 1;
    }

    int32_t bucket = g->use_graphs ? llmc_gpu_graph_bucket(st, mt, d->max_outputs) : 0;
    int32_t n = bucket ? bucket : st->n_tokens, n_out = bucket ? bucket : st->n_out;
    /* arrays at a stride of n rounded up to 32 entries: each starts 128-byte aligned */
    size_t sn = (size_t)(n + 31) / 32 * 32;
    int32_t *h = g->host_steps;
    LlmcGpuStepArrays a = {h, h + sn, h + 2 * sn, h + 3 * sn, h + 4 * sn};
    if (bucket) {
        llmc_gpu_pad_step(st, bucket, g->pad_row, (int32_t)g->kv_blocks * d->kv_block_size, &a);
    } else {
        size_t sz = (size_t)n * sizeof(int32_t);
        memcpy(a.tokens, st->tokens, sz);
        memcpy(a.positions, st->positions, sz);
        memcpy(a.seq_of_token, st->seq_of_token, sz);
        memcpy(a.slots, st->slots, sz);
        if (n_out > 0)
            memcpy(a.out_rows, st->out_rows, (size_t)n_out * sizeof(int32_t));
    }
    size_t table_bytes = (size_t)rows * (size_t)g->mbps * sizeof(int32_t);
    memcpy((uint8_t *)h + g->table_off, st->block_tables, table_bytes);
    /* the sampler block: each row's parameters and uniform (argmax rows and padding rows: 0) */
    double *smp = (double *)((uint8_t *)h + g->sample_off);
    int sampling = st->out_ids && st->sample_u;
    for (int32_t o = 0; o < n_out; o++) {
        double *row = smp + 4 * (size_t)o;
        int drawn = sampling && o < st->n_out && st->temperature[o] > 0.0f;
        row[0] = drawn ? st->temperature[o] : 0.0;
        row[1] = drawn ? st->top_p[o] : 1.0;
        row[2] = drawn ? st->top_k[o] : 0.0;
        row[3] = drawn ? st->sample_u[o] : 0.0;
    }
    if ((r = g->cu.EventRecord(g->step_ev[0], g->stream)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuEventRecord");
    if ((r = g->cu.MemcpyHtoDAsync(g->steps, h, g->sample_off + 4 * (size_t)n_out * sizeof(double),
                                   g->stream)) != CUDA_SUCCESS ||
        (r = g->cu.MemcpyHtoDAsync(g->steps + g->table_off, (uint8_t *)h + g->table_off,
                                   table_bytes, g->stream)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "copying the step arrays to the GPU (cuMemcpyHtoDAsync_v2)");

    CUdeviceptr ds = g->steps;
    g->args = (LlmcDevArgs){
        .weights = dptr(g->weights),
        .arena = (uint8_t *)(uintptr_t)g->arena,
        .kv = (uint8_t *)(uintptr_t)g->kv,
        .consts = dptr(g->consts),
        .tokens = dptr(ds),
        .positions = dptr(ds + sn * 4),
        .seq_of_token = dptr(ds + sn * 8),
        .slots = dptr(ds + sn * 12),
        .out_rows = dptr(ds + sn * 16),
        .block_tables = dptr(ds + g->table_off),
        .logits = (float *)(uintptr_t)g->logits,
        .out_ids = (int32_t *)(uintptr_t)(g->logits + g->ids_off),
        .sample = (const double *)(uintptr_t)(ds + g->sample_off),
        .n_tokens = n,
        .n_out = n_out,
        .max_blocks_per_seq = g->mbps,
    };
    /* What forward() sees: the step as the device runs it (padded), host copies of its arrays. */
    LlmcStep dev_step = {
        .n_tokens = n,
        .tokens = a.tokens,
        .positions = a.positions,
        .seq_of_token = a.seq_of_token,
        .slots = a.slots,
        .block_tables = st->block_tables,
        .max_blocks_per_seq = g->mbps,
        .n_out = n_out,
        .out_rows = a.out_rows,
        .logits = st->logits,
        .n_nodes = st->n_nodes,
        .n_seqs = bucket ? n : llmc_gpu_seq_runs(st),
    };
    g->launch_failed = 0;
    if (bucket) {
        CUgraphExec exec = find_graph(g, bucket);
        if (!exec && capture(g, ex, &dev_step, &exec, err, errlen) != 0)
            return -1;
        if ((r = g->cu.GraphLaunch(exec, g->stream)) != CUDA_SUCCESS)
            return llmc_cu_fail(g, r, err, errlen, "cuGraphLaunch (graph for %d tokens)", bucket);
        g->stats.graph_steps++;
    } else {
        g->launch_seq = 0;
        d->forward(ex, &dev_step, 0, 1);
        if (g->launch_failed)
            return llmc_rt_fail(err, errlen, "%s", g->launch_err);
    }
    int outputs = st->n_nodes == 0 && st->n_out > 0 && !g->quiet;  /* a full step with logits rows */
    int want_ids = outputs && st->out_ids;
    int want_logits = outputs && !(want_ids && st->ids_only);
    size_t logit_bytes = (size_t)st->n_out * (size_t)d->vocab_size * sizeof(float);
    size_t id_bytes = (size_t)st->n_out * sizeof(int32_t);
    int32_t *host_ids = (int32_t *)((uint8_t *)g->host_logits + g->ids_off);
    if (want_logits &&
        (r = g->cu.MemcpyDtoHAsync(g->host_logits, g->logits, logit_bytes, g->stream)) !=
            CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "copying the logits from the GPU (cuMemcpyDtoHAsync_v2)");
    if (want_ids && (r = g->cu.MemcpyDtoHAsync(host_ids, g->logits + g->ids_off, id_bytes,
                                               g->stream)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen,
                       "copying the chosen tokens from the GPU (cuMemcpyDtoHAsync_v2)");
    if ((r = g->cu.EventRecord(g->step_ev[1], g->stream)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuEventRecord");
    char what[160];
    snprintf(what, sizeof what, "running the model's kernels%s on %s (a step of %d tokens%s)",
             g->n_ranks > 1 ? " and NCCL collectives" : "", g->name, n, bucket ? ", CUDA graph" : "");
    int w = llmc_gpu_wait(g, what, err, errlen);
    if (w == LLMC_WAIT_TIMEOUT) {
        llmc_rt_fail(err, errlen,
                     "the step of %d tokens did not finish within %.1f s (--step-timeout %g s plus %g s a "
                     "token): %s had not ended%s",
                     n, g->step_timeout + LLMC_STEP_TIMEOUT_PER_TOKEN * st->n_tokens, g->step_timeout, LLMC_STEP_TIMEOUT_PER_TOKEN, what,
                     g->n_ranks > 1 ? "" : " (a kernel that does not end: the GPU is left as it is; no "
                                           "further step runs on it)");
        if (g->n_ranks == 1) {          /* nothing to abort: the GPU is hung */
            g->hung = 1;
            snprintf(g->hung_msg, sizeof g->hung_msg, "%s", err);
        }
    }
    if (w != 0)
        return -1;
    float ms;
    if ((r = g->cu.EventElapsedTime(&ms, g->step_ev[0], g->step_ev[1])) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuEventElapsedTime");
    g->stats.busy_seconds += ms / 1e3;
    if (want_logits)
        memcpy(st->logits, g->host_logits, logit_bytes);
    if (want_ids)
        memcpy(st->out_ids, host_ids, id_bytes);
    g->stats.steps++;
    /* --bench-launches: after the step (its outputs are out; replaying it writes the same KV);
     * armed for this step only (one that replays no graph has nothing to time) */
    int reps = g->cost_reps;
    g->cost_reps = 0;
    if (reps > 0 && bucket && time_launches(g, ex, &dev_step, reps, err, errlen) != 0)
        return -1;
    return 0;
}

int llmc_gpu_read_arena(LlmcGpu *g, int64_t off, void *dst, size_t bytes, char *err,
                        size_t errlen)
{
    if (g->hung)
        return llmc_rt_fail(err, errlen, "%s", g->hung_msg);
    if (!g->ready || off < 0 || (uint64_t)off + bytes > (uint64_t)g->d->arena_bytes)
        return llmc_rt_fail(err, errlen,
                            "internal error: reading [%lld, +%zu) of an arena of %lld bytes",
                            (long long)off, bytes, (long long)g->d->arena_bytes);
    CUresult r;
    if ((r = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuCtxSetCurrent (%s)", g->name);
    if ((r = g->cu.MemcpyDtoHAsync(dst, g->arena + (CUdeviceptr)off, bytes, g->stream)) !=
            CUDA_SUCCESS ||
        (r = g->cu.StreamSynchronize(g->stream)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "reading the activation arena (cuMemcpyDtoHAsync_v2)");
    return 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int copy_bandwidth_one(LlmcGpu *g, double *bps, size_t *buffer_bytes, char *err, size_t errlen);

int llmc_gpu_copy_bandwidth(LlmcGpu *g, double *bps, size_t *buffer_bytes, char *err,
                            size_t errlen)
{
    if (!g->rank_gpu)
        return copy_bandwidth_one(g, bps, buffer_bytes, err, errlen);
    /* a sharded model: the GPUs it runs on, each measured in turn, summed */
    *bps = 0;
    for (int r = 0; r < g->n_ranks; r++) {
        double one;
        size_t buf;
        if (copy_bandwidth_one(g->rank_gpu[r], &one, &buf, err, errlen) != 0)
            return -1;
        *bps += one;
        if (r == 0)
            *buffer_bytes = buf;
    }
    return 0;
}

static int copy_bandwidth_one(LlmcGpu *g, double *bps, size_t *buffer_bytes, char *err, size_t errlen)
{
    *bps = 0;
    *buffer_bytes = 0;
    size_t free_b = 0, total_b = 0;
    CUresult r;
    if ((r = g->cu.CtxSetCurrent(g->ctx)) != CUDA_SUCCESS || (r = g->cu.MemGetInfo(&free_b, &total_b)) != CUDA_SUCCESS)
        return llmc_cu_fail(g, r, err, errlen, "cuMemGetInfo_v2");
    size_t size = free_b / 4;
    if (size > ((size_t)2 << 30))
        size = (size_t)2 << 30;
    size = size / (1 << 20) * (1 << 20);
    if (size < ((size_t)16 << 20))
        return llmc_rt_fail(err, errlen,
                            "cannot measure the copy bandwidth: %.0f MiB of GPU memory free, the "
                            "test needs 2 x 16 MiB at least",
                            llmc_mib((double)free_b));
    CUdeviceptr src = 0, dst = 0;
    CUevent ev[2] = {NULL, NULL};
    float ms[BW_REPS];
    int rc = 0;
    if (llmc_gpu_dev_alloc(g, &src, size, "copy test source", err, errlen) ||
        llmc_gpu_dev_alloc(g, &dst, size, "copy test destination", err, errlen)) {
        rc = -1;
        goto out;
    }
    for (int i = 0; i < 2 && rc == 0; i++)
        if ((r = g->cu.EventCreate(&ev[i], CU_EVENT_DEFAULT)) != CUDA_SUCCESS) {
            ev[i] = NULL;
            rc = llmc_cu_fail(g, r, err, errlen, "cuEventCreate");
        }
    if (rc == 0 && (r = g->cu.MemsetD8Async(src, 0x5a, size, g->stream)) != CUDA_SUCCESS)
        rc = llmc_cu_fail(g, r, err, errlen, "cuMemsetD8Async (copy test source)");
    for (int rep = -1; rc == 0 && rep < BW_REPS; rep++) {       /* rep -1: warm-up */
        if ((r = g->cu.EventRecord(ev[0], g->stream)) != CUDA_SUCCESS ||
            (r = g->cu.MemcpyDtoDAsync(dst, src, size, g->stream)) != CUDA_SUCCESS ||
            (r = g->cu.EventRecord(ev[1], g->stream)) != CUDA_SUCCESS ||
            (r = g->cu.EventSynchronize(ev[1])) != CUDA_SUCCESS) {
            rc = llmc_cu_fail(g, r, err, errlen, "timing cuMemcpyDtoDAsync_v2 of %.0f MiB",
                         llmc_mib((double)size));
            break;
        }
        float t = 0;
        if ((r = g->cu.EventElapsedTime(&t, ev[0], ev[1])) != CUDA_SUCCESS) {
            rc = llmc_cu_fail(g, r, err, errlen, "cuEventElapsedTime");
            break;
        }
        if (rep >= 0)
            ms[rep] = t;
    }
    if (rc == 0) {
        qsort(ms, BW_REPS, sizeof ms[0], cmp_float);
        double med = 0.5 * ((double)ms[BW_REPS / 2 - 1] + (double)ms[BW_REPS / 2]);
        if (med <= 0)
            rc = llmc_rt_fail(err, errlen, "the copy bandwidth test measured no time");
        else {
            *bps = 2.0 * (double)size / (med * 1e-3);
            *buffer_bytes = size;
        }
    }
out:
    for (int i = 0; i < 2; i++)
        if (ev[i])
            (void)g->cu.EventDestroy(ev[i]);
    if (src)
        (void)g->cu.MemFree(src);
    if (dst)
        (void)g->cu.MemFree(dst);
    return rc;
}

const char *llmc_gpu_name(const LlmcGpu *g) { return g->name; }
int32_t llmc_gpu_sm(const LlmcGpu *g) { return g->sm; }
const char *llmc_gpu_arch(const LlmcGpu *g) { return g->arch; }
int llmc_gpu_weights_in_place(const LlmcGpu *g) { return g->weights_registered != NULL; }
const char *llmc_gpu_image_arch(const LlmcGpu *g) { return g->d->gpu_images[g->image].arch; }
uint32_t llmc_gpu_features(const LlmcGpu *g) { return g->d->gpu_images[g->image].features; }
int llmc_gpu_uses_graphs(const LlmcGpu *g) { return g->use_graphs; }
int64_t llmc_gpu_kv_blocks(const LlmcGpu *g) { return g->kv_blocks; }
int llmc_gpu_uses_pdl(const LlmcGpu *g) { return g->use_pdl; }
const LlmcGpuStats *llmc_gpu_stats(const LlmcGpu *g) { return &g->stats; }
