/* test_gpu_runtime.c — the GPU backend (runtime/gpu.c) without a GPU, over both vendors' APIs.
 *
 * Three layers:
 *  1. pure functions: bucket sizes, which steps run as CUDA graphs, padding a step, choosing the
 *     kernel image for a GPU (and the refusal naming both sides);
 *  2. the driver loader: a library that does not exist (no driver) and one that is not a driver;
 *  3. gpu.c itself over a fake driver (llmc_gpu_open_api): device pointers are host pointers,
 *     "kernels" are C functions run block by block, a stream capture records launches into a
 *     graph that cuGraphLaunch replays. A fake CUDA model (its forward() only calls
 *     llmc_gpu_launch) and its CPU twin (the same kernels on the host threads) use a paged KV cache
 *     the way test_runtime's fake model does: logits hash the tokens of every position read back
 *     through the block table. So the scheduler, graph padding, n_nodes, errors, out-of-memory,
 *     --compare-cpu and the bandwidth test all run in CI, and outputs are checked against a
 *     reference computed without any KV cache.
 *  4. the same over the fake driver presented as HIP's (libamdhip64): AMD images chosen by gfx
 *     name, refusals, an APU reading the weights in place, no PDL, messages in HIP's names.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "compare.h"
#include "cuda_api.h"
#include "device.h"
#include "engine.h"
#include "gpu.h"
#include "kvcache.h"
#include "pool.h"
#include "sample.h"
#include "scheduler.h"
#include "testutil.h"

/* ---- 1. pure functions ---- */

START_TEST(bucket_sizes)
{
    ck_assert_int_eq(llmc_gpu_bucket(1, 64), 1);
    ck_assert_int_eq(llmc_gpu_bucket(2, 64), 2);
    ck_assert_int_eq(llmc_gpu_bucket(3, 64), 4);
    ck_assert_int_eq(llmc_gpu_bucket(5, 8), 8);
    ck_assert_int_eq(llmc_gpu_bucket(9, 12), 12);         /* capped */
    ck_assert_int_eq(llmc_gpu_bucket(64, 64), 64);
    ck_assert_int_eq(llmc_gpu_bucket(129, 256), 256);
    ck_assert_int_eq(llmc_gpu_bucket(200, 200), 200);
}
END_TEST

/* A decode-shaped step of n tokens (n <= 512) in caller buffers, one token a sequence. */
static LlmcStep decode_step(int32_t n, int32_t *rows)
{
    static int32_t seqs[512];
    for (int32_t i = 0; i < n; i++) {
        rows[i] = i;
        seqs[i] = i;
    }
    return (LlmcStep){.n_tokens = n, .n_out = n, .out_rows = rows, .seq_of_token = seqs};
}

START_TEST(graph_bucket_rules)
{
    static int32_t rows[300];
    LlmcStep s = decode_step(3, rows);
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 64, 64), 4);
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 64, 3), 3);    /* cap = min(tokens, outputs) */
    s = decode_step(5, rows);
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 6, 8), 6);
    s = decode_step(1, rows);
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 512, 256), 1);
    s = decode_step(256, rows);
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 512, 256), 256);
    s = decode_step(257, rows);
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 512, 512), 0);  /* too many tokens for a graph */
    s = decode_step(4, rows);
    s.n_nodes = 3;
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 64, 64), 0);    /* partial (probe) steps: eager */
    s = decode_step(4, rows);
    s.n_out = 3;
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 64, 64), 0);    /* prefill-like */
    s = decode_step(4, rows);
    rows[2] = 3;
    rows[3] = 2;
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 64, 64), 0);    /* rows out of order */
    s = decode_step(4, rows);
    s.n_out = s.n_tokens = 4;
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 3, 64), 0);     /* more than the cap */
    int32_t one[3] = {5, 5, 5}, pos[3] = {7, 8, 9};
    s = decode_step(3, rows);
    s.seq_of_token = one;
    s.positions = pos;
    ck_assert_int_eq(llmc_gpu_graph_bucket(&s, 64, 64), 0);    /* every logit of one sequence: eager */
}
END_TEST

/* forward()'s S: runs of tokens of one sequence at consecutive positions */
START_TEST(seq_runs)
{
    int32_t seq[6] = {2, 2, 0, 1, 1, 1}, pos[6] = {4, 5, 0, 10, 11, 12};
    LlmcStep s = {.n_tokens = 6, .seq_of_token = seq, .positions = pos};
    ck_assert_int_eq(llmc_gpu_seq_runs(&s), 3);
    s.n_tokens = 1;
    ck_assert_int_eq(llmc_gpu_seq_runs(&s), 1);
    int32_t dec[4] = {3, 0, 2, 1}, dpos[4] = {9, 9, 3, 0};  /* a decode step: one token a sequence */
    s = (LlmcStep){.n_tokens = 4, .seq_of_token = dec, .positions = dpos};
    ck_assert_int_eq(llmc_gpu_seq_runs(&s), 4);
    int32_t split[3] = {0, 1, 0}, spos[3] = {0, 0, 1};      /* a sequence split counts twice */
    s = (LlmcStep){.n_tokens = 3, .seq_of_token = split, .positions = spos};
    ck_assert_int_eq(llmc_gpu_seq_runs(&s), 3);
    int32_t pad[4] = {1, 9, 9, 9}, ppos[4] = {40, 0, 0, 0}; /* a graph's padding: a run a token */
    s = (LlmcStep){.n_tokens = 4, .seq_of_token = pad, .positions = ppos};
    ck_assert_int_eq(llmc_gpu_seq_runs(&s), 4);
}
END_TEST

START_TEST(pad_step_fills_the_bucket)
{
    int32_t tok[3] = {11, 12, 13}, pos[3] = {5, 9, 0}, seq[3] = {2, 0, 1}, slots[3] = {21, 36, 40};
    int32_t rows[3];
    LlmcStep s = decode_step(3, rows);
    s.tokens = tok;
    s.positions = pos;
    s.seq_of_token = seq;
    s.slots = slots;
    int32_t ot[8], op[8], os[8], osl[8], oo[8];
    memset(ot, 0x7f, sizeof ot);
    LlmcGpuStepArrays a = {ot, op, os, osl, oo};
    llmc_gpu_pad_step(&s, 8, 64, 4096, &a);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ot[i], tok[i]);
        ck_assert_int_eq(op[i], pos[i]);
        ck_assert_int_eq(os[i], seq[i]);
        ck_assert_int_eq(osl[i], slots[i]);
    }
    for (int i = 3; i < 8; i++) {
        ck_assert_int_eq(ot[i], 0);
        ck_assert_int_eq(op[i], 0);
        ck_assert_int_eq(os[i], 64);
        ck_assert_int_eq(osl[i], 4096);
    }
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(oo[i], i);
}
END_TEST

static const char *H100 = "NVIDIA H100 80GB HBM3";

#define NV LLMC_GPU_VENDOR_NVIDIA

static int pick(const LlmcGpuImage *im, int n, int sm, char *err, size_t errlen)
{
    err[0] = 0;
    return llmc_gpu_select_image(im, n, LLMC_GPU_VENDOR_NVIDIA, sm, NULL, sm >= 90 ? H100 : "NVIDIA GeForce RTX 4090",
                                 err, errlen);
}

START_TEST(image_selection_rules)
{
    char err[512];
    const LlmcGpuImage a90[] = {{NV, 90, 1, "sm_90a", NULL, 0, 0, {0}}};
    ck_assert_int_eq(pick(a90, 1, 90, err, sizeof err), 0);
    ck_assert_int_eq(pick(a90, 1, 100, err, sizeof err), -1);   /* arch-specific: exact sm only */
    ck_assert_int_eq(pick(a90, 1, 89, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "built for sm_90a"));
    ck_assert_ptr_nonnull(strstr(err, "NVIDIA GeForce RTX 4090 (sm_89)"));

    const LlmcGpuImage ampere_ada[] = {
        {NV, 80, 0, "sm_80", NULL, 0, 0, {0}}, {NV, 86, 0, "sm_86", NULL, 0, 0, {0}}, {NV, 89, 0, "sm_89", NULL, 0, 0, {0}}};
    ck_assert_int_eq(pick(ampere_ada, 3, 80, err, sizeof err), 0);
    ck_assert_int_eq(pick(ampere_ada, 3, 86, err, sizeof err), 1);      /* exact */
    ck_assert_int_eq(pick(ampere_ada, 3, 87, err, sizeof err), 1);      /* highest <= 8.7 */
    ck_assert_int_eq(pick(ampere_ada, 3, 89, err, sizeof err), 2);
    ck_assert_int_eq(pick(ampere_ada, 3, 75, err, sizeof err), -1);     /* older major */
    ck_assert_int_eq(pick(ampere_ada, 3, 90, err, sizeof err), -1);     /* newer major */
    ck_assert_ptr_nonnull(strstr(err, "built for sm_80, sm_86, sm_89; this GPU is "
                                      "NVIDIA H100 80GB HBM3 (sm_90)"));

    /* the brief's example: an sm_89 build on an H100 */
    const LlmcGpuImage ada[] = {{NV, 89, 0, "sm_89", NULL, 0, 0, {0}}};
    ck_assert_int_eq(pick(ada, 1, 90, err, sizeof err), -1);
    ck_assert_ptr_nonnull(
        strstr(err, "this executable was built for sm_89; this GPU is NVIDIA H100 80GB HBM3 (sm_90)"));

    /* sm_90 and sm_90a both fit an H100: the arch-specific image wins, in either order */
    const LlmcGpuImage both[] = {{NV, 90, 0, "sm_90", NULL, 0, 0, {0}}, {NV, 90, 1, "sm_90a", NULL, 0, 0, {0}}};
    ck_assert_int_eq(pick(both, 2, 90, err, sizeof err), 1);
    const LlmcGpuImage both2[] = {{NV, 90, 1, "sm_90a", NULL, 0, 0, {0}}, {NV, 90, 0, "sm_90", NULL, 0, 0, {0}}};
    ck_assert_int_eq(pick(both2, 2, 90, err, sizeof err), 0);
    /* a plain sm_90 image also runs on a later 9.x; the sm_90a one does not */
    ck_assert_int_eq(pick(both, 2, 91, err, sizeof err), 0);

    /* exact beats higher-but-compatible; compatible beats nothing */
    const LlmcGpuImage mix[] = {{NV, 86, 0, "sm_86", NULL, 0, 0, {0}}, {NV, 80, 0, "sm_80", NULL, 0, 0, {0}},
                                {NV, 90, 1, "sm_90a", NULL, 0, 0, {0}}};
    ck_assert_int_eq(pick(mix, 3, 80, err, sizeof err), 1);
    ck_assert_int_eq(pick(mix, 3, 86, err, sizeof err), 0);
    ck_assert_int_eq(pick(mix, 3, 89, err, sizeof err), 0);
    ck_assert_int_eq(pick(mix, 3, 90, err, sizeof err), 2);
    ck_assert_int_eq(pick(mix, 0, 90, err, sizeof err), -1);

    /* the vendor first: an AMD image never runs on an NVIDIA GPU, whatever its numbers */
    const LlmcGpuImage amd[] = {{LLMC_GPU_VENDOR_AMD, 90, 0, "gfx90a", NULL, 0, 0, {0}},
                                {NV, 80, 0, "sm_80", NULL, 0, 0, {0}}};
    ck_assert_int_eq(pick(amd, 2, 90, err, sizeof err), -1);
    ck_assert_int_eq(pick(amd, 2, 86, err, sizeof err), 1);
    ck_assert_int_eq(pick(amd, 1, 86, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no image for NVIDIA GPUs"));
    ck_assert_ptr_nonnull(strstr(err, "built for gfx90a"));
}
END_TEST

/* ---- the fake CUDA model ---- */

enum { FK_VOCAB = 64, FK_BS = 4, FK_SEQ = 96, FK_MT = 8, FK_MO = 6, FK_X = 0, FK_Y = 256 };
#define FK_HASH 0x600dcafe12345678ULL

static float fk_bias(int32_t v) { return (float)(v % 5) * 0.125f; }

static void fk_logits(uint64_t h, float *out)
{
    for (int32_t v = 0; v < FK_VOCAB; v++)
        out[v] = (float)(tu_mix64(h + (uint64_t)v) >> 44) / 4096.0f;
}

/* What the kernels check while running (a fake device cannot abort a launch). */
static struct {
    int bad_slot;               /* a token wrote a slot its block table does not give */
    int bad_block;              /* a read went outside the pool */
    int pad_writes;             /* tokens of the padding row */
    int32_t pad_slot_seen;      /* the slot they wrote (all the same) */
    int64_t pool_blocks;        /* blocks the device pool has (sequences' + padding) */
    const uint8_t *weights_seen;/* the weights pointer the kernels were given */
    int same_rows;              /* logits rows computed by a launch forward() chose for a step whose
                                   rows were 0..T-1 (o.v[0] 1; a generated forward()'s same_rows) */
    int other_rows;             /* and for other steps */
    int bad_same_rows;          /* such a launch run for a step whose rows are not (a graph replayed
                                   for a step unlike its capture's) */
} fkc;

/* kernel 0: token t writes its KV slot, and x[t] = {token / 2, position}. */
static void k_kv_write(const LlmcDevArgs *a, const LlmcKernelOffsets *ko, uint32_t t)
{
    (void)ko;
    const int32_t *bt = a->block_tables + (size_t)a->seq_of_token[t] * (size_t)a->max_blocks_per_seq;
    int32_t pos = a->positions[t], slot = a->slots[t];
    if (slot != bt[pos / FK_BS] * FK_BS + pos % FK_BS || slot < 0 ||
        slot >= fkc.pool_blocks * FK_BS)
        fkc.bad_slot++;
    if (a->seq_of_token[t] == FK_MT) {
        fkc.pad_writes++;
        fkc.pad_slot_seen = slot;
    }
    ((float *)a->kv)[slot] = (float)a->tokens[t];
    fkc.weights_seen = a->weights;
    float *x = (float *)(a->arena + FK_X) + (size_t)t * 4;
    x[0] = (float)a->tokens[t] * 0.5f;
    x[1] = (float)pos;
}

/* Row o's hash of the tokens of positions 0..pos read through the block table (0 and a count in
 * fkc.bad_block when a block is outside the pool). */
static int fk_row_hash(const LlmcDevArgs *a, uint32_t o, uint64_t *hash)
{
    int32_t r = a->out_rows[o], pos = a->positions[r];
    const int32_t *bt = a->block_tables + (size_t)a->seq_of_token[r] * (size_t)a->max_blocks_per_seq;
    const float *kv = (const float *)a->kv;
    uint64_t h = 0;
    for (int32_t p = 0; p <= pos; p++) {
        int32_t b = bt[p / FK_BS];
        if (b < 0 || b >= fkc.pool_blocks) {
            fkc.bad_block++;
            return 0;
        }
        h = tu_step_hash(h, (int32_t)kv[b * FK_BS + p % FK_BS], p);
    }
    *hash = h;
    return 1;
}

/* The token of logits row o, as the generated sample kernel chooses it; y[o] = the hash's top bits. */
static void fk_choose(const LlmcDevArgs *a, uint32_t o, uint64_t h)
{
    float *out = a->logits + (size_t)o * FK_VOCAB;
    const double *smp = a->sample ? a->sample + 4 * (size_t)o : NULL;   /* this row's sampler */
    if (a->out_ids && smp && smp[0] > 0) { /* what the generated sample kernel does */
        LlmcSamplerCfg cfg = {(float)smp[0], (int32_t)smp[2], (float)smp[1]};
        LlmcSampleBuf sb;
        if (llmc_samplebuf_init(&sb, FK_VOCAB, NULL, 0) == 0) {
            a->out_ids[o] = llmc_sample_u(&cfg, smp[3], out, FK_VOCAB, &sb);
            llmc_samplebuf_free(&sb);
        }
    } else if (a->out_ids) {
        a->out_ids[o] = llmc_argmax(out, FK_VOCAB);
    }
    ((float *)(a->arena + FK_Y))[(size_t)o * 2] = (float)(h >> 40);
}

/* kernel 1: output row o hashes the tokens of positions 0..pos read through the block table. */
static void k_logits(const LlmcDevArgs *a, const LlmcKernelOffsets *ko, uint32_t o)
{
    if (ko && ko->v[0]) { /* chosen for a step of rows 0..T-1: this one must be such a step */
        fkc.same_rows++;
        fkc.bad_same_rows += a->n_out != a->n_tokens || a->out_rows[o] != (int32_t)o;
    } else {
        fkc.other_rows++;
    }
    uint64_t h;
    if (!fk_row_hash(a, o, &h))
        return;
    float *out = a->logits + (size_t)o * FK_VOCAB;
    fk_logits(h, out);
    const float *bias = (const float *)a->consts;
    for (int32_t v = 0; v < FK_VOCAB; v++)
        out[v] += bias[v];
    fk_choose(a, o, h);
}

static void fk_init(const LlmcExec *ex)
{
    for (int32_t v = 0; v < FK_VOCAB; v++)
        ((float *)ex->consts)[v] = fk_bias(v);
}

static void fk_forward_gpu(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    ck_assert(tid == 0 && nth == 1);
    ck_assert(st->n_seqs >= 1 && st->n_seqs <= st->n_tokens); /* S, set by the runtime */
    llmc_gpu_launch(ex->gpu, 0, (uint32_t)st->n_tokens, 1, 1, 32, 0, NULL);
    if (st->n_nodes == 1)
        return;
    /* as a generated forward() chooses an in-place select_rows' launches (codegen/cuda_rows.c): by
     * whether the step's rows are 0..T-1, which a CUDA graph replays only for steps alike */
    int same_rows = st->n_out == st->n_tokens;
    for (int32_t i = 0; same_rows && i < st->n_out; i++)
        same_rows = st->out_rows[i] == i;
    llmc_gpu_launch(ex->gpu, 1, (uint32_t)st->n_out, 1, 1, 32, 0, &(const LlmcKernelOffsets){{same_rows}});
}

/* The twin: the same kernels on the host threads. */
static void fk_forward_cpu(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    LlmcDevArgs a = {ex->weights, ex->arena, ex->kv, ex->consts, st->tokens, st->positions,
                     st->seq_of_token, st->slots, st->out_rows, st->block_tables, st->logits,
                     NULL, st->n_tokens, st->n_out, st->max_blocks_per_seq, 0, NULL};
    for (int32_t t = tid; t < st->n_tokens; t += nth)
        k_kv_write(&a, NULL, (uint32_t)t);
    llmc_barrier(ex->pool);
    if (st->n_nodes == 1)
        return;
    for (int32_t o = tid; o < st->n_out; o += nth)
        k_logits(&a, NULL, (uint32_t)o);
    llmc_barrier(ex->pool);
}

/* The fake driver's "image": a table of host kernels. */
typedef struct FakeKernel {
    const char *name;
    void (*run)(const LlmcDevArgs *a, const LlmcKernelOffsets *o, uint32_t block);
} FakeKernel;

typedef struct FakeImage {
    const FakeKernel *k;
    int n;
} FakeImage;

static const FakeKernel fk_kernels[] = {{"kv_write", k_kv_write}, {"logits", k_logits}};
static const FakeImage fk_image = {fk_kernels, 2};
static const FakeImage fk_image_missing = {fk_kernels, 1};  /* lacks "logits" */
static const char *const fk_kernel_names[] = {"kv_write", "logits"};
static const uint32_t fk_smem[] = {0, 1024};
static const uint8_t fk_flags[] = {0, LLMC_GPU_KERNEL_PDL}; /* the second kernel may use PDL */
static const LlmcGpuImage fk_images[] = {{NV, 90, 1, "sm_90a", (const unsigned char *)&fk_image, 1, 0, {0}}};

static const LlmcProbe fk_probes[] = {
    {"x", 0, 0, FK_X, 0, 2, 4},
    {"y", 1, -1, FK_Y, 1, 1, 2},
};

static const LlmcModelDesc fk_twin = {
    .abi_version = LLMC_ABI_VERSION,
    .name = "fakegpu",
    .target = "cpu",
    .llmc_version = "test",
    .build_info = "fake cpu twin",
    .model_hash = FK_HASH,
    .vocab_size = FK_VOCAB,
    .max_seq_len = FK_SEQ,
    .max_tokens = FK_MT,
    .max_outputs = FK_MO,
    .bos_id = -1,
    .eos_id = -1,
    .kv_block_size = FK_BS,
    .kv_block_bytes = FK_BS * sizeof(float),
    .weights_bytes = 4096,
    .const_bytes = FK_VOCAB * sizeof(float),
    .arena_bytes = 512,
    .weight_bytes_per_token = 4096,
    .kv_bytes_per_position = 4,
    .backend = LLMC_BACKEND_CPU,
    .probes = fk_probes,
    .n_probes = 2,
    .init = fk_init,
    .forward = fk_forward_cpu,
};

static LlmcModelDesc fk_desc(void)
{
    LlmcModelDesc d = fk_twin;
    d.target = "sm_90a";
    d.build_info = "fake CUDA model";
    d.backend = LLMC_BACKEND_CUDA;
    d.gpu_images = fk_images;
    d.n_gpu_images = 1;
    d.gpu_kernels = fk_kernel_names;
    d.gpu_kernel_smem = fk_smem;
    d.gpu_kernel_flags = fk_flags;
    d.n_gpu_kernels = 2;
    d.cpu_twin = &fk_twin;
    d.forward = fk_forward_gpu;
    return d;
}

/* ---- the fake driver ---- */

enum { FAKE_MAX_LAUNCHES = 64, FAKE_MAX_DEV = 4, CUDA_ERROR_CAPTURE_UNSUPPORTED = 900,
       CUDA_ERROR_LAUNCH_FAILED = 719 };
enum { FAKE_KERNEL, FAKE_ALL_GATHER, FAKE_EXCHANGE, FAKE_COPY, FAKE_MEMSET, FAKE_HOST, FAKE_HANG };

/* A launch, (the fake NCCL) a collective, or a copy behind one: what a stream runs in order. */
typedef struct FakeLaunch {
    int what;                   /* FAKE_KERNEL, FAKE_ALL_GATHER, FAKE_EXCHANGE, FAKE_COPY, FAKE_MEMSET */
    const FakeKernel *k;
    uint32_t grid;
    LlmcDevArgs args;
    LlmcKernelOffsets offs;
    const float *send;          /* the all-gather: count floats a rank, the rank's communicator */
    float *recv;
    size_t count;
    int rank;
    const float *to[FAKE_MAX_DEV];  /* the exchange (a group of ncclSend / ncclRecv): count floats */
    float *from[FAKE_MAX_DEV];      /* sent to and received from each rank */
    void *dst;                  /* a copy (src) or memset (byte) of n bytes */
    const void *src;
    size_t n;
    unsigned char byte;
    CUhostFn fn;                /* a host function (cuLaunchHostFunc) and its data */
    void *data;
} FakeLaunch;

typedef struct FakeGraph {
    int n;
    FakeLaunch l[FAKE_MAX_LAUNCHES];
} FakeGraph;

/* Device d's context is fk_ctx_obj + d, its stream fk_streams + d (the runtime makes one a
 * device); a thread's current context is its own (cuCtxSetCurrent), and a stream used while
 * another device's context is current fails, as it would mislead a real driver: so the ranks'
 * threads must each make their GPU's context current. The counters and the kernels run under
 * fk_lock (ranks launch at once); collectives meet without it.
 *
 * A stream runs what it is given at once, except a collective (and a kernel that never ends,
 * FAKE_HANG): as on a GPU, the host's call only enqueues it (NCCL's calls return before the peers
 * join), and it runs, waiting for its peers, when the stream is synchronized, or on the stream's
 * own thread (the GPU working while the host sleeps) once a host function (cuLaunchHostFunc) is
 * queued behind it; whatever is enqueued behind it waits in the queue too. The host thread does
 * not touch a queue while the stream's thread runs it (cuStreamQuery: not ready). */
enum { FAKE_MAX_QUEUE = 64 };
typedef struct FakeStream {
    FakeGraph *capture;         /* the stream is capturing */
    int mode;                   /* its capture mode */
    FakeLaunch q[FAKE_MAX_QUEUE];   /* waiting behind a collective */
    int qn;
    pthread_t gpu;              /* the stream's thread, running the queue */
    int gpu_live;               /* started, not joined */
    void *host_data;            /* the last host function's data (a hung GPU's signal, left by the
                                   runtime: reachable here, for the leak checker) */
    atomic_int gpu_busy;        /* still running */
} FakeStream;
static FakeStream fk_streams[FAKE_MAX_DEV];
static char fk_ctx_obj[FAKE_MAX_DEV];
static _Thread_local int fk_cur = -1;
static pthread_mutex_t fk_lock = PTHREAD_MUTEX_INITIALIZER;
#define FK_LOCKED(stmt)                                                                            \
    do {                                                                                           \
        pthread_mutex_lock(&fk_lock);                                                              \
        stmt;                                                                                      \
        pthread_mutex_unlock(&fk_lock);                                                            \
    } while (0)

static struct {
    CUresult init_result;
    int count, sm, optin;
    size_t free_mem;
    uint32_t max_grid;          /* launches with a larger grid fail (0: no limit) */
    int live_dev, live_host, live_graphs, live_events, modules, ctx_refs;
    int64_t kernels_run;
    int64_t launches_on[FAKE_MAX_DEV];  /* kernels run on each device */
    int wrong_ctx;              /* a stream used without its device's context current */
    int copies_while_capturing;
    int no_launch_ex;           /* the driver lacks cuLaunchKernelEx */
    int fail_dev, fail_at;      /* the fail_at-th kernel launch (1-based) on device fail_dev fails (0: none) */
    int fail_late;              /* ... once every other rank waits at a collective */
    int64_t launched_on[FAKE_MAX_DEV];  /* kernel launches (and captured launches) a device */
    int fail_alloc_at;          /* the fail_alloc_at-th cuMemAlloc (1-based) on device fail_dev fails (0: none) */
    int64_t allocs_on[FAKE_MAX_DEV];    /* cuMemAlloc calls a device */
    int64_t pdl_launches;       /* through cuLaunchKernelEx with programmatic serialization */
    int hang_dev, hang_at;      /* the hang_at-th kernel launch (1-based) on device hang_dev never ends
                                   (0: none), until fake_unhang */
    int unhang;
    int hangs;                  /* a hung kernel given up after 10 s (the test failed) */
    int fail_ctx_dev, fail_ctx_at;  /* the fail_ctx_at-th cuCtxSetCurrent (1-based) of device
                                       fail_ctx_dev fails (0: none) */
    int fail_ctx_peers;         /* ... once this many ranks joined ncclCommInitRankConfig (0: at once) */
    int ctx_failed;             /* that cuCtxSetCurrent failed */
    int64_t ctx_sets_on[FAKE_MAX_DEV];  /* cuCtxSetCurrent calls a device */
    int64_t host_funcs;         /* host functions run */
    /* cuTensorMapEncodeTiled: the maps it encoded (their arguments) */
    int n_tmaps;
    struct {
        uintptr_t addr;
        int dtype;
        uint64_t dims[2], stride;
        uint32_t box[2];
    } tmaps[8];
    /* HIP */
    char arch[64];              /* gcnArchName */
    int integrated;             /* an APU */
    int register_fails;         /* hipHostRegister refuses */
    int live_registered;
} fk;

/* What the fake driver allocated and was not freed (device and pinned memory, graphs, events):
 * what a hung GPU's teardown leaves (the runtime makes no call on it), freed by the test. */
enum { FAKE_MAX_OBJ = 1024 };
static void *fk_obj[FAKE_MAX_OBJ];
static void fk_track(void *p)
{
    pthread_mutex_lock(&fk_lock);
    for (int i = 0; i < FAKE_MAX_OBJ; i++)
        if (!fk_obj[i]) {
            fk_obj[i] = p;
            break;
        }
    pthread_mutex_unlock(&fk_lock);
}
static void fk_untrack(void *p)
{
    pthread_mutex_lock(&fk_lock);
    for (int i = 0; i < FAKE_MAX_OBJ; i++)
        if (fk_obj[i] == p) {
            fk_obj[i] = NULL;
            break;
        }
    pthread_mutex_unlock(&fk_lock);
}
static int fake_free_left(void)
{
    int n = 0;
    for (int i = 0; i < FAKE_MAX_OBJ; i++)
        if (fk_obj[i]) {
            free(fk_obj[i]);
            fk_obj[i] = NULL;
            n++;
        }
    return n;
}

/* The stream s if it is the current context's, else NULL (counted). */
static FakeStream *fk_stream(CUstream s)
{
    if (fk_cur < 0 || s != (CUstream)(void *)&fk_streams[fk_cur]) {
        FK_LOCKED(fk.wrong_ctx++);
        return NULL;
    }
    return &fk_streams[fk_cur];
}

static void fake_reset(void)
{
    memset(&fk, 0, sizeof fk);
    memset(fk_streams, 0, sizeof fk_streams);
    fk_cur = -1;
    memset(&fkc, 0, sizeof fkc);
    fkc.pad_slot_seen = -1;
    fk.count = 1;
    fk.sm = 90;
    fk.optin = 227 * 1024;
    fk.free_mem = (size_t)256 << 20;
    snprintf(fk.arch, sizeof fk.arch, "gfx1151:sramecc-:xnack-");
}

static CUresult f_err_name(CUresult e, const char **s)
{
    switch (e) {
    case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; return 0;
    case CUDA_ERROR_NO_DEVICE: *s = "CUDA_ERROR_NO_DEVICE"; return 0;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return 0;
    case CUDA_ERROR_NOT_INITIALIZED: *s = "CUDA_ERROR_NOT_INITIALIZED"; return 0;
    case CUDA_ERROR_LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; return 0;
    default: *s = NULL; return CUDA_ERROR_INVALID_VALUE;
    }
}
static CUresult f_err_string(CUresult e, const char **s)
{
    *s = e == CUDA_ERROR_NO_DEVICE ? "no CUDA-capable device is detected" : "fake driver error";
    return 0;
}
static CUresult f_init(unsigned flags) { return flags ? CUDA_ERROR_INVALID_VALUE : fk.init_result; }
static CUresult f_version(int *v) { *v = 13000; return 0; }
static CUresult f_count(int *c) { *c = fk.count; return 0; }
static CUresult f_get(CUdevice *d, int i) { *d = i; return i < fk.count ? 0 : CUDA_ERROR_INVALID_VALUE; }
static CUresult f_name(char *n, int len, CUdevice d)
{
    (void)d;
    snprintf(n, (size_t)len, "Fake GPU");
    return 0;
}
static CUresult f_attr(int *v, int a, CUdevice d)
{
    (void)d;
    if (a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
        *v = fk.sm / 10;
    else if (a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
        *v = fk.sm % 10;
    else if (a == CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
        *v = fk.optin;
    /* HIP's numbers (which the CUDA path never asks for) */
    else if (a == HIP_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
        *v = 11;
    else if (a == HIP_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
        *v = 5;
    else if (a == HIP_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK)
        *v = fk.optin;
    else if (a == HIP_DEVICE_ATTRIBUTE_INTEGRATED)
        *v = fk.integrated;
    else
        return CUDA_ERROR_INVALID_VALUE;
    return 0;
}
static CUresult f_props(void *p, int dev)
{
    if (dev != 0)
        return CUDA_ERROR_INVALID_VALUE;
    memset(p, 0x5a, 1472); /* hipDeviceProp_t's size: the driver fills all of it */
    snprintf((char *)p + LLMC_HIP_PROPS_ARCH_OFFSET, 256, "%s", fk.arch);
    return 0;
}
static CUresult f_host_register(void *p, size_t n, unsigned flags)
{
    if (fk.register_fails || flags != LLMC_HIP_HOST_REGISTER_MAPPED_RO || ((uintptr_t)p & 4095) || n % 4096)
        return CUDA_ERROR_INVALID_VALUE;
    fk.live_registered++;
    return 0;
}
static CUresult f_host_unregister(void *p)
{
    (void)p;
    fk.live_registered--;
    return 0;
}
static CUresult f_host_dptr(CUdeviceptr *d, void *p, unsigned flags)
{
    *d = (CUdeviceptr)(uintptr_t)p; /* unified memory: the same address */
    return flags ? CUDA_ERROR_INVALID_VALUE : 0;
}
static CUresult f_retain(CUcontext *c, CUdevice d)
{
    if (d < 0 || d >= FAKE_MAX_DEV)
        return CUDA_ERROR_INVALID_VALUE;
    *c = (CUcontext)(void *)&fk_ctx_obj[d];
    FK_LOCKED(fk.ctx_refs++);
    return 0;
}
static CUresult f_release(CUdevice d) { (void)d; FK_LOCKED(fk.ctx_refs--); return 0; }
static void fnc_wait_joined(int n);
static CUresult f_set_current(CUcontext c)
{
    if (!c)
        return CUDA_ERROR_INVALID_VALUE;
    int d = (int)((char *)(void *)c - fk_ctx_obj), nth;
    FK_LOCKED(nth = (int)++fk.ctx_sets_on[d]);
    if (fk.fail_ctx_at && d == fk.fail_ctx_dev && nth == fk.fail_ctx_at) {
        fnc_wait_joined(fk.fail_ctx_peers); /* fails once its peers are in their inits */
        FK_LOCKED(fk.ctx_failed = 1);
        return CUDA_ERROR_INVALID_VALUE;
    }
    fk_cur = d;
    return 0;
}
static CUresult f_mem_info(size_t *f, size_t *t)
{
    *f = fk.free_mem;
    *t = fk.free_mem * 2;
    return 0;
}
static CUresult f_alloc(CUdeviceptr *p, size_t n)
{
    if (n == 0 || fk_cur < 0)
        return CUDA_ERROR_INVALID_VALUE;
    int nth;
    FK_LOCKED(nth = (int)++fk.allocs_on[fk_cur]);
    if (fk.fail_alloc_at && fk_cur == fk.fail_dev && nth == fk.fail_alloc_at)
        return CUDA_ERROR_OUT_OF_MEMORY;
    void *m = malloc(n);
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    memset(m, 0xa5, n);                 /* device memory is not zeroed */
    fk_track(m);
    FK_LOCKED(fk.live_dev++);
    *p = (CUdeviceptr)(uintptr_t)m;
    return 0;
}
static CUresult f_free(CUdeviceptr p)
{
    fk_untrack((void *)(uintptr_t)p);
    free((void *)(uintptr_t)p);
    FK_LOCKED(fk.live_dev--);
    return 0;
}
static CUresult f_alloc_host(void **p, size_t n)
{
    *p = malloc(n ? n : 1);
    fk_track(*p);
    FK_LOCKED(fk.live_host++);
    return *p ? 0 : CUDA_ERROR_OUT_OF_MEMORY;
}
static CUresult f_host_alloc(void **p, size_t n, unsigned flags)
{
    return flags ? CUDA_ERROR_INVALID_VALUE : f_alloc_host(p, n);
}
static CUresult f_free_host(void *p)
{
    fk_untrack(p);
    free(p);
    FK_LOCKED(fk.live_host--);
    return 0;
}
static CUresult fake_enqueue(FakeStream *st, const FakeLaunch *l);
/* A copy or memset on stream s (none while it captures): at once, or behind a collective. */
static CUresult fake_copy(CUstream s, void *dst, const void *src, size_t n, int byte)
{
    FakeStream *st = fk_stream(s);
    if (!st)
        return CUDA_ERROR_INVALID_VALUE;
    if (st->capture) {
        FK_LOCKED(fk.copies_while_capturing++);
        return CUDA_ERROR_CAPTURE_UNSUPPORTED;
    }
    if (n == 0)
        return 0;
    FakeLaunch l = {.what = byte < 0 ? FAKE_COPY : FAKE_MEMSET, .dst = dst, .src = src, .n = n,
                    .byte = (unsigned char)byte};
    return fake_enqueue(st, &l);
}
static CUresult f_memset(CUdeviceptr p, unsigned char v, size_t n, CUstream s)
{
    return fake_copy(s, (void *)(uintptr_t)p, NULL, n, v);
}
static CUresult f_htod(CUdeviceptr d, const void *s, size_t n, CUstream st)
{
    return fake_copy(st, (void *)(uintptr_t)d, s, n, -1);
}
static CUresult f_dtoh(void *d, CUdeviceptr s, size_t n, CUstream st)
{
    return fake_copy(st, d, (const void *)(uintptr_t)s, n, -1);
}
static CUresult f_dtod(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st)
{
    return fake_copy(st, (void *)(uintptr_t)d, (const void *)(uintptr_t)s, n, -1);
}
static CUresult f_load(CUmodule *m, const void *image)
{
    *m = (CUmodule)(uintptr_t)image;
    FK_LOCKED(fk.modules++);
    return 0;
}
static CUresult f_unload(CUmodule m) { (void)m; FK_LOCKED(fk.modules--); return 0; }
static CUresult f_get_fn(CUfunction *f, CUmodule m, const char *name)
{
    const FakeImage *im = (const FakeImage *)(uintptr_t)m;
    for (int i = 0; i < im->n; i++)
        if (strcmp(im->k[i].name, name) == 0) {
            *f = (CUfunction)(uintptr_t)&im->k[i];
            return 0;
        }
    return CUDA_ERROR_INVALID_VALUE;
}
static CUresult f_set_attr(CUfunction f, int a, int v)
{
    (void)f;
    return a == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES && v <= fk.optin ? 0 : CUDA_ERROR_INVALID_VALUE;
}
static void fake_collective(const FakeLaunch *l);
static void fnc_wait_for_peers(void);
/* A kernel that never ends: until fake_unhang (10 s: counted in fk.hangs, the test failed). */
static void fake_hang(void)
{
    for (int i = 0; i < 10000; i++) {
        int go;
        FK_LOCKED(go = fk.unhang);
        if (go)
            return;
        usleep(1000);
    }
    FK_LOCKED(fk.hangs++);
}
static void run_launch(const FakeLaunch *l)
{
    if (l->what == FAKE_ALL_GATHER || l->what == FAKE_EXCHANGE) {
        fake_collective(l);
        return;
    }
    if (l->what == FAKE_HOST) {
        FK_LOCKED(fk.host_funcs++);
        fk_streams[fk_cur].host_data = l->data;
        l->fn(l->data);
        return;
    }
    if (l->what == FAKE_HANG) {
        fake_hang();
        return;
    }
    if (l->what == FAKE_COPY) {
        memmove(l->dst, l->src, l->n);
        return;
    }
    if (l->what == FAKE_MEMSET) {
        memset(l->dst, l->byte, l->n);
        return;
    }
    pthread_mutex_lock(&fk_lock);
    for (uint32_t b = 0; b < l->grid; b++)
        l->k->run(&l->args, &l->offs, b);
    fk.kernels_run++;
    fk.launches_on[fk_cur]++;
    pthread_mutex_unlock(&fk_lock);
}
/* Runs st's queue in order; a collective only when `wait` (the stream is synchronized: it meets
 * its peers there). */
static int waits(const FakeLaunch *l)
{
    return l->what == FAKE_ALL_GATHER || l->what == FAKE_EXCHANGE || l->what == FAKE_HANG;
}
static void stream_run(FakeStream *st, int wait)
{
    int i = 0;
    while (i < st->qn && (wait || !waits(&st->q[i])))
        run_launch(&st->q[i++]);
    memmove(st->q, st->q + i, (size_t)(st->qn - i) * sizeof st->q[0]);
    st->qn -= i;
}
/* The stream's thread: the GPU running the queue while the host thread does something else. */
static void *stream_thread(void *arg)
{
    FakeStream *st = arg;
    fk_cur = (int)(st - fk_streams);
    stream_run(st, 1);
    atomic_store(&st->gpu_busy, 0);
    return NULL;
}
/* Joins the stream's thread (waiting for it to drain the queue). */
static void stream_join(FakeStream *st)
{
    if (st->gpu_live)
        pthread_join(st->gpu, NULL);
    st->gpu_live = 0;
}
/* Records l when st is capturing; else queues it and runs what can run. */
static CUresult fake_enqueue(FakeStream *st, const FakeLaunch *l)
{
    stream_join(st);
    if (st->capture) {
        if (st->capture->n == FAKE_MAX_LAUNCHES)
            return CUDA_ERROR_OUT_OF_MEMORY;
        st->capture->l[st->capture->n++] = *l;
        return 0;
    }
    if (st->qn == FAKE_MAX_QUEUE)
        return CUDA_ERROR_OUT_OF_MEMORY;
    st->q[st->qn++] = *l;
    stream_run(st, 0);
    return 0;
}
static CUresult f_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                         unsigned by, unsigned bz, unsigned smem, CUstream s, void **params,
                         void **extra)
{
    FakeStream *st = fk_stream(s);
    if (gx == 0 || gy != 1 || gz != 1 || bx == 0 || by != 1 || bz != 1 || extra || !st ||
        smem > (unsigned)fk.optin || (fk.max_grid && gx > fk.max_grid))
        return CUDA_ERROR_INVALID_VALUE;
    int nth;
    FK_LOCKED(nth = (int)++fk.launched_on[fk_cur]);
    if (fk.fail_at && fk_cur == fk.fail_dev && nth == fk.fail_at) {
        if (fk.fail_late)
            fnc_wait_for_peers();
        return CUDA_ERROR_LAUNCH_FAILED;
    }
    if (fk.hang_at && fk_cur == fk.hang_dev && nth == fk.hang_at) {
        FakeLaunch h = {.what = FAKE_HANG};
        return fake_enqueue(st, &h);
    }
    FakeLaunch l = {.what = FAKE_KERNEL, .k = (const FakeKernel *)(uintptr_t)f, .grid = gx,
                    .args = *(const LlmcDevArgs *)params[0], .offs = *(const LlmcKernelOffsets *)params[1]};
    return fake_enqueue(st, &l);
}
static CUresult f_launch_ex(const CUlaunchConfig *c, CUfunction f, void **params, void **extra)
{
    /* only the PDL attribute, only for the flagged kernel, only on sm_90+ */
    if (fk.no_launch_ex || c->numAttrs != 1 || !c->attrs ||
        c->attrs[0].id != CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION ||
        c->attrs[0].value.programmaticStreamSerializationAllowed != 1 || fk.sm < 90 ||
        (const FakeKernel *)(uintptr_t)f != &fk_kernels[1])
        return CUDA_ERROR_INVALID_VALUE;
    FK_LOCKED(fk.pdl_launches++);
    return f_launch(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY,
                    c->blockDimZ, c->sharedMemBytes, c->hStream, params, extra);
}
static CUresult f_stream_create(CUstream *s, unsigned flags)
{
    if (fk_cur < 0)
        return CUDA_ERROR_INVALID_VALUE;        /* no context current */
    *s = (CUstream)(void *)&fk_streams[fk_cur];
    return flags == CU_STREAM_NON_BLOCKING ? 0 : CUDA_ERROR_INVALID_VALUE;
}
static CUresult f_stream_destroy(CUstream s)
{
    stream_join((FakeStream *)(void *)s);
    ((FakeStream *)(void *)s)->qn = 0;  /* what a failed rank left queued */
    return 0;
}
static void fnc_check_settled(void);
static CUresult f_sync(CUstream s)
{
    FakeStream *st = fk_stream(s);
    if (!st || st->capture)
        return CUDA_ERROR_INVALID_VALUE;
    fnc_check_settled();
    stream_join(st);
    stream_run(st, 1);
    return 0;
}
static CUresult f_query(CUstream s)
{
    FakeStream *st = fk_stream(s);
    if (!st || st->capture)
        return CUDA_ERROR_INVALID_VALUE;
    if (st->gpu_live && atomic_load(&st->gpu_busy))
        return CUDA_ERROR_NOT_READY;
    stream_join(st);
    return st->qn ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}
/* Queues the host function; what the host thread cannot run at once (behind a collective or a
 * kernel that never ends) the stream's thread runs. */
static CUresult f_host_func(CUstream s, CUhostFn fn, void *data)
{
    FakeStream *st = fk_stream(s);
    if (!st || st->capture || !fn)
        return CUDA_ERROR_INVALID_VALUE;
    fnc_check_settled();
    FakeLaunch l = {.what = FAKE_HOST, .fn = fn, .data = data};
    CUresult r = fake_enqueue(st, &l);
    if (r != 0 || st->qn == 0)
        return r;
    atomic_store(&st->gpu_busy, 1);
    if (pthread_create(&st->gpu, NULL, stream_thread, st) != 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    st->gpu_live = 1;
    return 0;
}
/* Lets a kernel that never ends end, and the stream threads finish (the end of a test). */
static void fake_unhang(void)
{
    FK_LOCKED(fk.unhang = 1);
    for (int d = 0; d < FAKE_MAX_DEV; d++)
        stream_join(&fk_streams[d]);
}
static CUresult f_begin(CUstream s, int mode)
{
    FakeStream *st = fk_stream(s);
    if (!st || st->capture || (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))
        return CUDA_ERROR_INVALID_VALUE;
    st->capture = calloc(1, sizeof *st->capture);
    st->mode = mode;
    FK_LOCKED(fk.live_graphs++);
    return 0;
}
static CUresult f_end(CUstream s, CUgraph *g)
{
    FakeStream *st = fk_stream(s);
    fnc_check_settled();
    if (!st || !st->capture)
        return CUDA_ERROR_INVALID_VALUE;
    *g = (CUgraph)(void *)st->capture;
    st->capture = NULL;
    return 0;
}
static CUresult f_instantiate(CUgraphExec *e, CUgraph g, unsigned long long flags)
{
    FakeGraph *x = malloc(sizeof *x);
    memcpy(x, (void *)g, sizeof *x);
    fk_track(x);
    FK_LOCKED(fk.live_graphs++);
    *e = (CUgraphExec)(void *)x;
    return flags ? CUDA_ERROR_INVALID_VALUE : 0;
}
static CUresult f_graph_launch(CUgraphExec e, CUstream s)
{
    FakeStream *st = fk_stream(s);
    if (!st || st->capture)
        return CUDA_ERROR_INVALID_VALUE;
    const FakeGraph *g = (const FakeGraph *)(void *)e;
    for (int i = 0; i < g->n; i++)
        if (fake_enqueue(st, &g->l[i]) != 0)
            return CUDA_ERROR_OUT_OF_MEMORY;
    return 0;
}
static CUresult f_graph_free(void *g)
{
    fk_untrack(g);
    free(g);
    FK_LOCKED(fk.live_graphs--);
    return 0;
}
static CUresult f_exec_destroy(CUgraphExec e) { return f_graph_free((void *)e); }
static CUresult f_graph_destroy(CUgraph g) { return f_graph_free((void *)g); }
static CUresult f_event_create(CUevent *e, unsigned flags)
{
    (void)flags;
    *e = (CUevent)malloc(1);
    fk_track((void *)*e);
    FK_LOCKED(fk.live_events++);
    return 0;
}
static CUresult f_event_destroy(CUevent e)
{
    fk_untrack((void *)e);
    free((void *)e);
    FK_LOCKED(fk.live_events--);
    return 0;
}
static CUresult f_event_record(CUevent e, CUstream s) { (void)e; (void)s; return 0; }
static CUresult f_event_sync(CUevent e) { (void)e; return 0; }
static CUresult f_elapsed(float *ms, CUevent a, CUevent b)
{
    (void)a;
    (void)b;
    *ms = 2.0f;
    return 0;
}

/* cuTensorMapEncodeTiled as gemm_wt's maps use it (the runtime's write_tmaps): a 2-D bf16/f16
 * matrix, the map 64-byte aligned (the driver's rule), its address 16-byte aligned, a row's bytes and the row stride in bytes multiples of 16
 * (gemm_wt's K: whole chunks of 64), the stride at least a row, boxes of at most 256 rows and an inner box of 128 bytes (the 128-byte swizzle's span), element
 * strides 1, no interleave, zeros out of bounds; anything else is refused as the driver refuses
 * it. The arguments are recorded, and the map's 128 bytes hold them for the kernels to check:
 * address, dims, stride, box, dtype and a tag. */
enum { FK_TMAP_TAG = 0x746d6170 };
static CUresult f_encode(CUtensorMap *map, int dtype, cuuint32_t rank, void *addr, const cuuint64_t *dims,
                         const cuuint64_t *strides, const cuuint32_t *box, const cuuint32_t *es, int interleave,
                         int swizzle, int l2, int oob)
{
    if (!map || (uintptr_t)map % 64 != 0 || rank != 2 || (dtype != CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 && dtype != CU_TENSOR_MAP_DATA_TYPE_FLOAT16) ||
        !addr || (uintptr_t)addr % 16 != 0 || dims[0] < 1 || dims[1] < 1 || dims[0] > (1ull << 32) ||
        dims[1] > (1ull << 32) || dims[0] * 2 % 16 != 0 || strides[0] % 16 != 0 || strides[0] < dims[0] * 2 || box[0] * 2 != 128 ||
        box[1] < 1 || box[1] > 256 || es[0] != 1 || es[1] != 1 || interleave != CU_TENSOR_MAP_INTERLEAVE_NONE ||
        swizzle != CU_TENSOR_MAP_SWIZZLE_128B || l2 != CU_TENSOR_MAP_L2_PROMOTION_L2_256B ||
        oob != CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE)
        return CUDA_ERROR_INVALID_VALUE;
    int i;
    FK_LOCKED(i = fk.n_tmaps < 8 ? fk.n_tmaps++ : -1);
    if (i >= 0) {
        fk.tmaps[i].addr = (uintptr_t)addr;
        fk.tmaps[i].dtype = dtype;
        fk.tmaps[i].dims[0] = dims[0];
        fk.tmaps[i].dims[1] = dims[1];
        fk.tmaps[i].stride = strides[0];
        fk.tmaps[i].box[0] = box[0];
        fk.tmaps[i].box[1] = box[1];
    }
    memset(map, 0, sizeof *map);
    map->opaque[0] = (uintptr_t)addr;
    map->opaque[1] = dims[0];
    map->opaque[2] = dims[1];
    map->opaque[3] = strides[0];
    map->opaque[4] = box[0];
    map->opaque[5] = box[1];
    map->opaque[6] = (unsigned long long)dtype;
    map->opaque[7] = FK_TMAP_TAG;
    return 0;
}

static const LlmcCudaApi fake_api = {
    .GetErrorName = f_err_name, .GetErrorString = f_err_string, .Init = f_init,
    .DriverGetVersion = f_version, .DeviceGetCount = f_count, .DeviceGet = f_get,
    .DeviceGetName = f_name, .DeviceGetAttribute = f_attr, .DevicePrimaryCtxRetain = f_retain,
    .DevicePrimaryCtxRelease = f_release, .CtxSetCurrent = f_set_current,
    .MemGetInfo = f_mem_info, .MemAlloc = f_alloc, .MemFree = f_free,
    .MemAllocHost = f_alloc_host, .MemFreeHost = f_free_host, .MemsetD8Async = f_memset,
    .MemcpyHtoDAsync = f_htod, .MemcpyDtoHAsync = f_dtoh, .MemcpyDtoDAsync = f_dtod,
    .ModuleLoadData = f_load, .ModuleUnload = f_unload, .ModuleGetFunction = f_get_fn,
    .FuncSetAttribute = f_set_attr, .LaunchKernel = f_launch, .LaunchKernelEx = f_launch_ex,
    .StreamCreate = f_stream_create,
    .StreamDestroy = f_stream_destroy, .StreamSynchronize = f_sync, .StreamQuery = f_query,
    .LaunchHostFunc = f_host_func, .StreamBeginCapture = f_begin,
    .StreamEndCapture = f_end, .GraphInstantiateWithFlags = f_instantiate,
    .GraphLaunch = f_graph_launch, .GraphExecDestroy = f_exec_destroy,
    .GraphDestroy = f_graph_destroy, .EventCreate = f_event_create,
    .EventDestroy = f_event_destroy, .EventRecord = f_event_record,
    .EventSynchronize = f_event_sync, .EventElapsedTime = f_elapsed, .TensorMapEncodeTiled = f_encode,
};

/* The fake driver as libamdhip64 presents itself: the same entry points, HIP's attribute numbers,
 * the device properties, no cuLaunchKernelEx or cuFuncSetAttribute counterpart, host registration. */
static LlmcCudaApi fake_hip_api(void)
{
    LlmcCudaApi a = fake_api;
    a.vendor = LLMC_GPU_VENDOR_AMD;
    a.LaunchKernelEx = NULL;
    a.FuncSetAttribute = NULL;
    a.DeviceGetProps = f_props;
    a.TensorMapEncodeTiled = NULL; /* HIP has none */
    a.HostRegister = f_host_register;
    a.HostUnregister = f_host_unregister;
    a.HostGetDevicePointer = f_host_dptr;
    a.MemAllocHost = NULL; /* hipHostAlloc instead */
    a.HostAlloc = f_host_alloc;
    return a;
}

static void assert_no_leaks(void)
{
    ck_assert_int_eq(fk.live_registered, 0);
    ck_assert_int_eq(fk.live_dev, 0);
    ck_assert_int_eq(fk.live_host, 0);
    ck_assert_int_eq(fk.live_graphs, 0);
    ck_assert_int_eq(fk.live_events, 0);
    ck_assert_int_eq(fk.modules, 0);
    ck_assert_int_eq(fk.ctx_refs, 0);
}

static const uint8_t fk_weights[4096];

/* A GPU engine over the fake driver (api: NULL for fake_api), with kv_blocks for sequences. */
static LlmcGpu *gpu_engine_api(LlmcEngine *e, const LlmcModelDesc *d, int64_t kv_blocks, int graphs,
                               const LlmcCudaApi *api, int no_pdl)
{
    char err[512];
    LlmcGpu *g;
    ck_assert_msg(llmc_gpu_open_api(&g, d, api ? api : &fake_api, err, sizeof err) == 0, "open: %s", err);
    LlmcEngineOpts o = {.n_threads = 1, .kv_blocks = kv_blocks, .device = g, .no_graphs = !graphs, .no_pdl = no_pdl};
    ck_assert_msg(llmc_engine_init(e, d, fk_weights, &o, err, sizeof err) == 0, "engine: %s", err);
    fkc.pool_blocks = kv_blocks + 1;
    return g;
}
static LlmcGpu *gpu_engine(LlmcEngine *e, const LlmcModelDesc *d, int64_t kv_blocks, int graphs)
{
    return gpu_engine_api(e, d, kv_blocks, graphs, NULL, 0);
}

/* ---- 2. the driver loader ---- */

START_TEST(no_driver_is_a_clear_error)
{
    LlmcModelDesc d = fk_desc();
    LlmcGpu *g = (LlmcGpu *)&d;
    char err[1024];
    ck_assert_int_eq(llmc_gpu_open(&g, &d, "libllmc-no-such-driver.so.1", err, sizeof err), -1);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(err, "no NVIDIA driver found (libllmc-no-such-driver.so.1): this "
                              "executable was built for sm_90a and needs an NVIDIA GPU"),
                  "%s", err);
    /* a library that loads but is not the driver */
    ck_assert_int_eq(llmc_gpu_open(&g, &d, "libm.so.6", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "libm.so.6 has no cuGetErrorName"), "%s", err);
    ck_assert_msg(strstr(err, "update the driver"), "%s", err);
}
END_TEST

START_TEST(cuda_desc_checks)
{
    char err[512];
    LlmcModelDesc d = fk_desc();
    ck_assert_int_eq(llmc_desc_check(&d, err, sizeof err), 0);
    d.n_gpu_images = 0;
    ck_assert_int_eq(llmc_desc_check(&d, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "gpu_images"));
    d = fk_desc();
    d.backend = 7;
    ck_assert_int_eq(llmc_desc_check(&d, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "backend"));
    d = fk_desc();
    d.n_gpu_tmaps = 2; /* and no table */
    ck_assert_int_eq(llmc_desc_check(&d, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "gpu_tmaps"));
    char list[64];
    const LlmcGpuImage two[] = {{NV, 90, 1, "sm_90a", NULL, 0, 0, {0}}, {NV, 89, 0, "sm_89", NULL, 0, 0, {0}}};
    d = fk_desc();
    d.gpu_images = two;
    d.n_gpu_images = 2;
    llmc_gpu_arch_list(&d, list, sizeof list);
    ck_assert_str_eq(list, "sm_90a, sm_89");
}
END_TEST

/* ---- 3. gpu.c over the fake driver ---- */

START_TEST(fake_open_refusals)
{
    LlmcModelDesc d = fk_desc();
    LlmcGpu *g;
    char err[1024];
    fake_reset();
    fk.init_result = CUDA_ERROR_NO_DEVICE;
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no NVIDIA GPU found (cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable "
                              "device is detected): this executable was built for sm_90a"),
                  "%s", err);
    assert_no_leaks();

    fake_reset();
    fk.count = 0;
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no NVIDIA GPU found"), "%s", err);

    fake_reset();
    fk.sm = 89;
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "this executable was built for sm_90a; this GPU is Fake GPU (sm_89)"),
                  "%s", err);
    assert_no_leaks();

    fake_reset();
    const LlmcGpuImage missing[] = {{NV, 90, 1, "sm_90a", (const unsigned char *)&fk_image_missing, 1, 0, {0}}};
    d.gpu_images = missing;
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "the sm_90a image has no kernel logits"), "%s", err);
    assert_no_leaks();

    fake_reset();
    d = fk_desc();
    fk.optin = 512;
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "kernel logits needs 1024 bytes of shared memory; Fake GPU (sm_90) "
                              "allows 512"),
                  "%s", err);
    assert_no_leaks();

    fake_reset();
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err), 0);
    ck_assert_str_eq(llmc_gpu_name(g), "Fake GPU");
    ck_assert_int_eq(llmc_gpu_sm(g), 90);
    ck_assert_str_eq(llmc_gpu_image_arch(g), "sm_90a");
    llmc_gpu_close(g);
    assert_no_leaks();
}
END_TEST

/* Reference generation straight from the token array, drawing as the cpu target does (llmc_sample
 * with the sequence's own generator). */
static int32_t ref_generate(const int32_t *prompt, int32_t n_prompt, int32_t max_new,
                            const LlmcSamplerCfg *sc, uint64_t seed, int32_t *out)
{
    memcpy(out, prompt, (size_t)n_prompt * sizeof *out);
    int32_t n = n_prompt;
    float logits[FK_VOCAB];
    LlmcSampleBuf sb;
    LlmcRng rng;
    ck_assert_int_eq(llmc_samplebuf_init(&sb, FK_VOCAB, NULL, 0), 0);
    llmc_rng_seed(&rng, seed);
    for (int32_t g = 0; g < max_new && n < FK_SEQ; g++) {
        uint64_t h = 0;
        for (int32_t p = 0; p < n; p++)
            h = tu_step_hash(h, out[p], p);
        fk_logits(h, logits);
        for (int32_t v = 0; v < FK_VOCAB; v++)
            logits[v] += fk_bias(v);
        out[n++] = llmc_sample(sc, &rng, logits, FK_VOCAB, &sb);
    }
    llmc_samplebuf_free(&sb);
    return n;
}

/* Sequence i's sampler and seed: greedy, and two samplers of their own (one batch mixes them). */
static const LlmcSamplerCfg seq_cfg[3] = {{0.0f, 0, 1.0f}, {0.9f, 8, 0.9f}, {1.2f, 0, 1.0f}};

enum { N_PROMPTS = 7, N_NEW = 21 };

/* Runs N_PROMPTS prompts of different lengths through the scheduler at max_batch, each with the
 * sampler seq_cfg[i % 3] and seed i; checks every sequence against the reference. Returns the
 * preemptions. */
static int64_t generate_and_check(LlmcEngine *e, int32_t max_batch)
{
    char err[512];
    LlmcSched *s;
    LlmcSchedConfig sc = {.max_batch = max_batch};
    ck_assert_msg(llmc_sched_create(&s, e, &sc, NULL, err, sizeof err) == 0, "%s", err);
    int32_t prompts[N_PROMPTS][16];
    int32_t lens[N_PROMPTS];
    for (int32_t i = 0; i < N_PROMPTS; i++) {
        lens[i] = 1 + (i * 5) % 13;
        for (int32_t k = 0; k < lens[i]; k++)
            prompts[i][k] = (int32_t)((i * 31 + k * 7 + 3) % FK_VOCAB);
        LlmcSeqReq rq = {.prompt = prompts[i], .n_prompt = lens[i], .max_new = N_NEW,
                         .logits_from = -1, .sampler = seq_cfg[i % 3], .seed = (uint64_t)i};
        ck_assert_msg(llmc_sched_add(s, &rq, err, sizeof err) == i, "%s", err);
    }
    ck_assert_msg(llmc_sched_run(s, err, sizeof err) == 0, "%s", err);
    for (int32_t i = 0; i < N_PROMPTS; i++) {
        int32_t want[16 + N_NEW], n;
        int32_t n_want = ref_generate(prompts[i], lens[i], N_NEW, &seq_cfg[i % 3], (uint64_t)i, want);
        const int32_t *got = llmc_sched_tokens(s, i, &n);
        ck_assert_int_eq(n, n_want);
        for (int32_t k = 0; k < n; k++)
            ck_assert_msg(got[k] == want[k], "batch %d, sequence %d, token %d: %d, want %d",
                          max_batch, i, k, got[k], want[k]);
    }
    int64_t preemptions = llmc_sched_stats(s)->preemptions;
    llmc_sched_destroy(s);
    return preemptions;
}

/* ---- gemm_wt's TMA maps (llmc compile --wgmma auto or tma; abi/llmc_model.h LlmcGpuTmap) ----
 * A fake model with the table an emitted sm_90a build has (test_cuda's wt_golden checks the
 * emitted one): a pair of maps a gemm_wt launch, the weights' and the activations' (scratch past
 * the arena), side by side in consts past init()'s tables; its forward() adds a kernel that reads
 * each map where gemm_wt would (a.consts + at) and checks that it names its operand. */
enum { FKW_CONSTS = FK_VOCAB * 4, FKW_ARENA = 1024 };
static const LlmcGpuTmap fkw_tmaps[] = {
    {"layers.0.wq", LLMC_TMAP_WEIGHTS, LLMC_TMAP_BF16, 512, 16, 64, 128, 64, 64, FKW_CONSTS},
    {"scratch A (bf16 activations, 4 rows of 64)", LLMC_TMAP_ARENA, LLMC_TMAP_BF16, 512, 4, 64, 128, 128, 64,
     FKW_CONSTS + 128},
    {"layers.0.w2", LLMC_TMAP_WEIGHTS, LLMC_TMAP_F16, 2048, 8, 128, 256, 64, 64, FKW_CONSTS + 256},
    {"scratch A (f16 activations, 2 rows of 128)", LLMC_TMAP_ARENA, LLMC_TMAP_F16, 512, 2, 128, 256, 128, 64,
     FKW_CONSTS + 384},
};
static struct {
    int checked, bad;
} fkw;
/* kernel 2: every map as the kernel would read it, against its operand */
static void k_wt_maps(const LlmcDevArgs *a, const LlmcKernelOffsets *ko, uint32_t b)
{
    (void)ko;
    (void)b;
    for (size_t i = 0; i < sizeof fkw_tmaps / sizeof fkw_tmaps[0]; i++) {
        const LlmcGpuTmap *m = &fkw_tmaps[i];
        const unsigned long long *q = (const unsigned long long *)(const void *)(a->consts + m->at);
        const uint8_t *base = m->space == LLMC_TMAP_WEIGHTS ? a->weights : a->arena;
        fkw.checked++;
        if (q[7] != FK_TMAP_TAG || q[0] != (uintptr_t)(base + m->offset) || q[1] != (unsigned long long)m->cols ||
            q[2] != (unsigned long long)m->rows || q[3] != (unsigned long long)m->row_bytes ||
            q[4] != (unsigned long long)m->box_cols || q[5] != (unsigned long long)m->box_rows ||
            q[6] != (m->dtype == LLMC_TMAP_BF16 ? 9u : 6u))
            fkw.bad++;
    }
}
static void fkw_forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    ck_assert(tid == 0 && nth == 1);
    ck_assert(st->n_seqs >= 1 && st->n_seqs <= st->n_tokens); /* S, set by the runtime */
    llmc_gpu_launch(ex->gpu, 0, (uint32_t)st->n_tokens, 1, 1, 32, 0, NULL);
    if (st->n_nodes == 1)
        return;
    if (llmc_gpu_features(ex->gpu) & LLMC_GPU_FEAT_WGMMA) /* as forward()'s `wg` */
        llmc_gpu_launch(ex->gpu, 2, 1, 1, 1, 384, 2048, NULL);
    llmc_gpu_launch(ex->gpu, 1, (uint32_t)st->n_out, 1, 1, 32, 0, NULL);
}
static const FakeKernel fkw_kernels[] = {{"kv_write", k_kv_write}, {"logits", k_logits}, {"gemm_wt", k_wt_maps}};
static const FakeImage fkw_image = {fkw_kernels, 3};
static const char *const fkw_names[] = {"kv_write", "logits", "gemm_wt"};
static const uint32_t fkw_smem[] = {0, 1024, 2048};
static const uint8_t fkw_flags[] = {0, 0, LLMC_GPU_KERNEL_WGMMA_ONLY};
static const LlmcGpuImage fkw_images[] = {
    {NV, 90, 1, "sm_90a", (const unsigned char *)&fkw_image, 1, LLMC_GPU_FEAT_WGMMA, {0}},
    {NV, 80, 0, "sm_80", (const unsigned char *)&fkw_image, 1, 0, {0}},
};
static LlmcModelDesc fkw_desc(void)
{
    LlmcModelDesc d = fk_desc();
    d.gpu_images = fkw_images;
    d.n_gpu_images = 2;
    d.gpu_kernels = fkw_names;
    d.gpu_kernel_smem = fkw_smem;
    d.gpu_kernel_flags = fkw_flags;
    d.n_gpu_kernels = 3;
    d.gpu_tmaps = fkw_tmaps;
    d.n_gpu_tmaps = 4;
    d.const_bytes = FKW_CONSTS + 512;
    d.arena_bytes = FKW_ARENA;
    d.forward = fkw_forward;
    return d;
}

/* The maps encoded once at load, one a table entry, with the weights' and the arena's device
 * addresses, dims, strides and boxes; written where the kernels read them (the fake kernel checks
 * each); generation unchanged. Not where the image has no wgmma (an sm_80 GPU: no encoding, and
 * the WGMMA_ONLY kernel's shared memory not asked for). Load errors naming the matrix: a driver
 * without cuTensorMapEncodeTiled, an encoding it refuses, a map outside its buffer. */
START_TEST(fake_tma_maps)
{
    char err[1024];
    for (int sm80 = 0; sm80 < 2; sm80++) {
        fake_reset();
        memset(&fkw, 0, sizeof fkw);
        LlmcModelDesc d = fkw_desc();
        if (sm80) {
            fk.sm = 86;
            fk.optin = 1500; /* below gemm_wt's 2048 bytes: never asked for from the sm_80 image */
        }
        LlmcEngine e;
        LlmcGpu *g = gpu_engine(&e, &d, llmc_engine_default_kv_blocks(&d, 2, 16 + N_NEW), 1);
        ck_assert_str_eq(llmc_gpu_image_arch(g), sm80 ? "sm_80" : "sm_90a");
        ck_assert_int_eq(fk.n_tmaps, sm80 ? 0 : 4);
        generate_and_check(&e, 2);
        ck_assert_int_eq(fkc.bad_slot, 0);
        if (!sm80) {
            ck_assert_msg(fkw.checked > 0 && fkw.bad == 0, "%d of %d maps read by the kernel differ", fkw.bad,
                          fkw.checked);
            for (int i = 0; i < 4; i++) { /* the encoder's arguments */
                const LlmcGpuTmap *m = &fkw_tmaps[i];
                const uint8_t *base = m->space == LLMC_TMAP_WEIGHTS ? fkc.weights_seen : NULL;
                if (base)
                    ck_assert_msg(fk.tmaps[i].addr == (uintptr_t)(base + m->offset), "map %d: address", i);
                ck_assert_int_eq(fk.tmaps[i].dtype, m->dtype == LLMC_TMAP_BF16 ? 9 : 6);
                ck_assert_int_eq(fk.tmaps[i].dims[0], m->cols);
                ck_assert_int_eq(fk.tmaps[i].dims[1], m->rows);
                ck_assert_int_eq(fk.tmaps[i].stride, m->row_bytes);
                ck_assert_int_eq(fk.tmaps[i].box[0], m->box_cols);
                ck_assert_int_eq(fk.tmaps[i].box[1], m->box_rows);
            }
        } else {
            ck_assert_int_eq(fkw.checked, 0);
        }
        llmc_engine_destroy(&e);
        llmc_gpu_close(g);
        assert_no_leaks();
    }

    /* an sm_90a GPU whose shared memory is short of gemm_wt's: refused as any kernel's */
    fake_reset();
    fk.optin = 1500;
    LlmcModelDesc d = fkw_desc();
    LlmcGpu *g;
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "kernel gemm_wt needs 2048 bytes of shared memory"), "%s", err);
    assert_no_leaks();

    /* load errors (llmc_gpu_setup, through the engine) */
    LlmcCudaApi no_enc = fake_api;
    no_enc.TensorMapEncodeTiled = NULL;
    LlmcGpuTmap bad[4];
    memcpy(bad, fkw_tmaps, sizeof bad);
    for (int how = 0; how < 3; how++) {
        fake_reset();
        d = fkw_desc();
        const char *want = "";
        if (how == 0)
            want = "the NVIDIA driver has no cuTensorMapEncodeTiled (CUDA 12.0 or newer), which this executable's TMA "
                   "matmul (gemm_wt, llmc compile's default --wgmma for sm_90a) needs for the map of layers.0.wq; update "
                   "the driver, or compile with --wgmma cp";
        if (how == 1) { /* a row stride the driver refuses (not a multiple of 16) */
            bad[2].row_bytes = 264;
            bad[2].offset = 1024;
            d.gpu_tmaps = bad;
            want = "cuTensorMapEncodeTiled (the TMA map of layers.0.w2: [8][128] f16, 264 bytes a row, boxes of 64 x 64): "
                   "CUDA_ERROR_INVALID_VALUE";
        }
        if (how == 2) { /* past the arena */
            memcpy(bad, fkw_tmaps, sizeof bad);
            bad[3].offset = FKW_ARENA - 256;
            d.gpu_tmaps = bad;
            want = "the TMA map of scratch A (f16 activations, 2 rows of 128) ([2][128], 256 bytes a row, at 768 in the "
                   "arena; its 128 bytes at 640 of the constant tables) does not fit";
        }
        ck_assert_int_eq(llmc_gpu_open_api(&g, &d, how == 0 ? &no_enc : &fake_api, err, sizeof err), 0);
        LlmcEngine e;
        LlmcEngineOpts o = {.n_threads = 1, .kv_blocks = 8, .device = g};
        ck_assert_int_eq(llmc_engine_init(&e, &d, fk_weights, &o, err, sizeof err), -1);
        ck_assert_msg(strstr(err, want), "case %d: %s", how, err);
        llmc_gpu_close(g);
        assert_no_leaks();
    }
}
END_TEST

/* PDL off: --no-pdl, a driver without cuLaunchKernelEx, a GPU before sm_90 (an sm_80 image):
 * the same tokens through plain launches */
START_TEST(fake_no_pdl)
{
    LlmcModelDesc d = fk_desc();
    const LlmcGpuImage im80[] = {{NV, 80, 0, "sm_80", (const unsigned char *)&fk_image, 1, 0, {0}}};
    LlmcCudaApi no_ex = fake_api;
    no_ex.LaunchKernelEx = NULL;
    for (int how = 0; how < 3; how++) {
        fake_reset();
        LlmcModelDesc dd = d;
        if (how == 2) {
            fk.sm = 86;
            dd.gpu_images = im80;
        }
        LlmcEngine e;
        int64_t kv = llmc_engine_default_kv_blocks(&dd, 2, 16 + N_NEW);
        LlmcGpu *g = gpu_engine_api(&e, &dd, kv, 1, how == 1 ? &no_ex : NULL, how == 0);
        ck_assert(!llmc_gpu_uses_pdl(g));
        generate_and_check(&e, 2);
        ck_assert_int_eq(fk.pdl_launches, 0);
        llmc_engine_destroy(&e);
        llmc_gpu_close(g);
        assert_no_leaks();
    }
}
END_TEST

START_TEST(fake_generate_graphs_and_eager)
{
    LlmcModelDesc d = fk_desc();
    for (int graphs = 0; graphs < 2; graphs++) {
        /* batches 1..FK_MO with a pool for all at their longest, then FK_MO with one that holds
         * the longest only (13 + 21 positions): sequences are preempted and recomputed */
        for (int32_t k = 1; k <= FK_MO + 1; k++) {
            fake_reset();
            LlmcEngine e;
            int small = k > FK_MO;
            int32_t mb = small ? FK_MO : k;
            int64_t kv = small ? llmc_kv_blocks_for(13 + N_NEW - 1, FK_BS)
                               : llmc_engine_default_kv_blocks(&d, mb, 16 + N_NEW);
            LlmcGpu *g = gpu_engine(&e, &d, kv, graphs);
            int64_t preempted = generate_and_check(&e, mb);
            ck_assert(small ? preempted > 0 : preempted == 0);
            const LlmcGpuStats *st = llmc_gpu_stats(g);
            ck_assert_int_eq(fkc.bad_slot, 0);
            ck_assert_int_eq(fkc.bad_block, 0);
            /* launches chosen by the rows' order ran for steps of that order only; both kinds ran
             * (decode steps, prefills of one row a sequence) */
            ck_assert_int_eq(fkc.bad_same_rows, 0);
            ck_assert(fkc.same_rows > 0 && fkc.other_rows > 0);
            ck_assert_int_eq(fk.copies_while_capturing, 0);
            ck_assert_msg(fk.pdl_launches > 0, "batch %d: the PDL kernel never launched with PDL", mb);
            ck_assert(llmc_gpu_uses_pdl(g));
            if (graphs) {
                ck_assert_msg(st->graph_steps > 0, "batch %d: no graph steps", mb);
                /* buckets 1, 2, 4 and the cap (6): at most one capture each */
                ck_assert_int_le(st->captures, 4);
                /* padding wrote only the padding block (block kv of kv + 1) */
                if (fkc.pad_writes)
                    ck_assert_int_eq(fkc.pad_slot_seen, (int32_t)kv * FK_BS);
                if (mb == 3 || mb == 5)
                    ck_assert_msg(fkc.pad_writes > 0, "batch %d: no padded steps", mb);
            } else {
                ck_assert_int_eq(st->graph_steps, 0);
                ck_assert_int_eq(st->captures, 0);
                ck_assert_int_eq(fkc.pad_writes, 0);
            }
            llmc_engine_destroy(&e);
            llmc_gpu_close(g);
            assert_no_leaks();
        }
    }
}
END_TEST

/* The engine opens its own device when none is given: here the real driver, which a CI machine
 * does not have, so the engine must fail cleanly. */
START_TEST(engine_without_driver_fails_cleanly)
{
    LlmcModelDesc d = fk_desc();
    LlmcEngine e;
    char err[1024];
    LlmcEngineOpts o = {.n_threads = 1, .kv_blocks = 4};
    if (llmc_engine_init(&e, &d, fk_weights, &o, err, sizeof err) == 0) {
        /* a machine with a real NVIDIA driver: it cannot load the fake image */
        llmc_engine_destroy(&e);
        ck_abort_msg("the fake image loaded on a real driver");
    }
    ck_assert_msg(strstr(err, "NVIDIA") || strstr(err, "cuModuleLoadData"), "%s", err);
}
END_TEST

START_TEST(fake_n_nodes_and_errors)
{
    LlmcModelDesc d = fk_desc();
    fake_reset();
    LlmcEngine e;
    LlmcGpu *g = gpu_engine(&e, &d, 4, 1);
    int32_t tok[3] = {5, 6, 7}, pos[3] = {0, 1, 2}, seq[3] = {0, 0, 0}, slots[3], rows[3];
    int32_t table[FK_SEQ / FK_BS] = {2, 0};
    for (int i = 0; i < 3; i++)
        slots[i] = llmc_kv_slot(table, FK_BS, pos[i]);
    float logits[3 * FK_VOCAB];
    for (int i = 0; i < 3 * FK_VOCAB; i++)
        logits[i] = -7;
    LlmcStep s = decode_step(3, rows);
    s.tokens = tok;
    s.positions = pos;
    s.seq_of_token = seq;
    s.slots = slots;
    s.block_tables = table;
    s.max_blocks_per_seq = e.max_blocks_per_seq;
    s.logits = logits;
    s.n_nodes = 1;
    char err[1024];
    int64_t before = fk.kernels_run;
    ck_assert_msg(llmc_engine_step(&e, &s, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(fk.kernels_run - before, 1);           /* only node 0 */
    for (int i = 0; i < 3 * FK_VOCAB; i++)
        ck_assert(logits[i] == -7);                         /* logits are not read back */
    float x[3 * 4];
    ck_assert_int_eq(llmc_gpu_read_arena(g, FK_X, x, sizeof x, err, sizeof err), 0);
    ck_assert(x[0] == 2.5f && x[1] == 0 && x[4] == 3.0f && x[9] == 2);
    ck_assert_int_eq(llmc_gpu_read_arena(g, 500, x, sizeof x, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "outside") ? err : strstr(err, "arena"));
    /* the same through the device interface (device.h) */
    ck_assert_ptr_eq(e.dev, &llmc_device_cuda);
    ck_assert_ptr_eq(llmc_device_for(LLMC_BACKEND_CUDA), &llmc_device_cuda);
    float y[3 * 4];
    ck_assert_int_eq(e.dev->read_arena(&e, FK_X, y, sizeof y, err, sizeof err), 0);
    ck_assert_int_eq(memcmp(x, y, sizeof x), 0);
    char what[256];
    e.dev->where(&e, what, sizeof what);
    ck_assert_str_eq(what, "Fake GPU (sm_90, image sm_90a)");
    e.dev->bench_header(&e, 2, what, sizeof what);
    ck_assert_msg(strstr(what, "device: Fake GPU (sm_90, image sm_90a), batch: 2, CUDA graphs: on, PDL: "),
                  "%s", what);
    ck_assert(e.dev->busy_seconds && e.dev->busy_seconds(&e) >= 0);

    /* the full steps below as decode steps (a graph: one token a run): sequences 0-2 at position 0 */
    enum { MB = FK_SEQ / FK_BS };
    int32_t dseq[3] = {0, 1, 2}, dpos[3] = {0, 0, 0}, dtable[3 * MB] = {2, 0, 3, 0, 1, 0}, dslots[3];
    for (int i = 0; i < 3; i++)
        dslots[i] = llmc_kv_slot(dtable + i * MB, FK_BS, 0);
    ck_assert_int_eq(e.max_blocks_per_seq, MB);
    s.seq_of_token = dseq;
    s.positions = dpos;
    s.slots = dslots;
    s.block_tables = dtable;
    s.n_nodes = 0;
    ck_assert_msg(llmc_engine_step(&e, &s, err, sizeof err) == 0, "%s", err);
    ck_assert(logits[0] != -7);
    ck_assert_int_eq(llmc_gpu_stats(g)->captures, 1);       /* bucket 4 */

    /* Greedy ids only: 4 bytes a row come back, the logits stay as they were. */
    int32_t want[3], ids[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++)
        want[i] = llmc_argmax(logits + i * FK_VOCAB, FK_VOCAB);
    for (int i = 0; i < 3 * FK_VOCAB; i++)
        logits[i] = -7;
    s.out_ids = ids;
    s.ids_only = 1;
    ck_assert_msg(llmc_engine_step(&e, &s, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ids[i], want[i]);
    for (int i = 0; i < 3 * FK_VOCAB; i++)
        ck_assert(logits[i] == -7);
    s.ids_only = 0;                                         /* both */
    ids[0] = -1;
    ck_assert_msg(llmc_engine_step(&e, &s, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ids[0], want[0]);
    ck_assert_int_eq(llmc_argmax(logits, FK_VOCAB), want[0]);
    /* Sampled ids: the kernel draws each row with its own sampler and uniform (the sampler
     * block); row 1 takes the argmax (temperature 0) */
    const double us[3] = {0.05, 0.5, 0.97};
    const LlmcSamplerCfg cfg[3] = {{0.9f, 6, 0.8f}, {0.0f, 0, 1.0f}, {1.3f, 0, 0.9f}};
    const float temps[3] = {cfg[0].temperature, cfg[1].temperature, cfg[2].temperature};
    const float tps[3] = {cfg[0].top_p, cfg[1].top_p, cfg[2].top_p};
    const int32_t tks[3] = {cfg[0].top_k, cfg[1].top_k, cfg[2].top_k};
    LlmcSampleBuf sb;
    ck_assert_int_eq(llmc_samplebuf_init(&sb, FK_VOCAB, err, sizeof err), 0);
    for (int i = 0; i < 3; i++)
        want[i] = llmc_sample_u(&cfg[i], us[i], logits + i * FK_VOCAB, FK_VOCAB, &sb);
    llmc_samplebuf_free(&sb);
    ck_assert_int_eq(want[1], llmc_argmax(logits + FK_VOCAB, FK_VOCAB));
    s.sample_u = us;
    s.temperature = temps;
    s.top_k = tks;
    s.top_p = tps;
    s.ids_only = 1;
    ck_assert_msg(llmc_engine_step(&e, &s, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ids[i], want[i]);
    ck_assert(want[0] != llmc_argmax(logits, FK_VOCAB) || want[2] != llmc_argmax(logits + 2 * FK_VOCAB, FK_VOCAB)); /* the draws matter */
    s.sample_u = NULL;
    s.ids_only = 0;
    s.out_ids = NULL;

    /* a failing launch while capturing (bucket 2 is new) */
    s.n_tokens = s.n_out = 2;
    fk.max_grid = 1;
    ck_assert_int_eq(llmc_engine_step(&e, &s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "capturing the CUDA graph for 2 tokens: cuLaunchKernel (kernel "
                              "kv_write, grid 2x1x1, 32 threads, 0 bytes of shared memory): "
                              "CUDA_ERROR_INVALID_VALUE"),
                  "%s", err);
    ck_assert_int_eq(fk.live_graphs, 1);                    /* the bucket-4 graph; no leak */
    /* and an eager one (a prefill-shaped step) */
    s.n_out = 1;
    rows[0] = 1;
    ck_assert_int_eq(llmc_engine_step(&e, &s, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "cuLaunchKernel (kernel kv_write, grid 2x1x1"), "%s", err);
    fk.max_grid = 0;
    ck_assert_msg(llmc_engine_step(&e, &s, err, sizeof err) == 0, "%s", err);
    llmc_engine_destroy(&e);
    llmc_gpu_close(g);
    assert_no_leaks();
}
END_TEST

START_TEST(fake_out_of_memory)
{
    LlmcModelDesc d = fk_desc();
    fake_reset();
    fk.free_mem = 8192;
    LlmcGpu *g;
    char err[1024];
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err), 0);
    LlmcEngine e;
    LlmcEngineOpts o = {.n_threads = 1, .kv_blocks = 1000, .device = g};
    ck_assert_int_eq(llmc_engine_init(&e, &d, fk_weights, &o, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not enough GPU memory on Fake GPU") && strstr(err, "1000 blocks") &&
                      strstr(err, "MiB are free") && strstr(err, "--kv-mem"),
                  "%s", err);
    ck_assert_int_eq(fk.live_dev, 0);
    /* kv_fit (--prompts' default pool): as many of the 1000 blocks as 90% of the free memory
     * holds beside the rest of the model; then, with the memory for about 16 blocks, the
     * scheduler runs on them (preempting) */
    fk.free_mem = 12288;
    o.kv_fit = 1;
    ck_assert_msg(llmc_engine_init(&e, &d, fk_weights, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_lt(e.kv.n_blocks, 1000);
    double rest = 0.9 * 12288 - (double)(e.kv.n_blocks + 1) * (double)d.kv_block_bytes;
    llmc_engine_destroy(&e);
    fk.free_mem = (size_t)((rest + 17.5 * (double)d.kv_block_bytes) / 0.9);
    ck_assert_msg(llmc_engine_init(&e, &d, fk_weights, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_ge(e.kv.n_blocks, 15);
    ck_assert_int_le(e.kv.n_blocks, 17);
    ck_assert_int_eq(e.ex.kv_blocks, e.kv.n_blocks);
    fkc.pool_blocks = e.kv.n_blocks + 1;
    ck_assert_int_gt(generate_and_check(&e, FK_MO), 0);
    llmc_engine_destroy(&e);
    llmc_gpu_close(g);
    assert_no_leaks();
}
END_TEST

START_TEST(fake_compare_cpu)
{
    LlmcModelDesc d = fk_desc();
    fake_reset();
    int32_t ids[19];
    for (int i = 0; i < 19; i++)
        ids[i] = (i * 13 + 1) % FK_VOCAB;
    LlmcEngine ge, ce;
    LlmcGpu *g = gpu_engine(&ge, &d, llmc_kv_blocks_for(19, FK_BS), 1);
    char err[1024];
    LlmcEngineOpts o = {.n_threads = 2, .kv_blocks = llmc_kv_blocks_for(19, FK_BS)};
    ck_assert_msg(llmc_engine_init(&ce, &fk_twin, fk_weights, &o, err, sizeof err) == 0, "%s", err);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert_msg(llmc_compare_cpu(&ge, &ce, ids, 19, out, err, sizeof err) == 0, "%s", err);
    fclose(out);
    /* 19 tokens in chunks of 8: the last step has 3 token rows and 3 output rows */
    ck_assert_msg(strstr(text, "3 token rows (T), 3 output rows (O)"), "%s", text);
    ck_assert_msg(strstr(text, "x                                0     0  3 x 2"), "%s", text);
    ck_assert_msg(strstr(text, "y                                1    -1  3 x 1"), "%s", text);
    ck_assert_msg(strstr(text, "0.000e+00   0.00e+00"), "%s", text);
    ck_assert_msg(strstr(text, "logits (full step)                        3 x 64"), "%s", text);
    ck_assert_msg(strstr(text, "argmax agrees on 3 of 3 rows"), "%s", text);
    ck_assert_msg(strstr(text, "layer 0") && strstr(text, "outside the layers"), "%s", text);
    free(text);
    /* every block went back */
    ck_assert_int_eq(llmc_kv_free_count(&ge.kv), ge.kv.n_blocks);
    ck_assert_int_eq(llmc_kv_free_count(&ce.kv), ce.kv.n_blocks);
    llmc_engine_destroy(&ce);
    llmc_engine_destroy(&ge);
    llmc_gpu_close(g);
    assert_no_leaks();
}
END_TEST

START_TEST(fake_copy_bandwidth)
{
    LlmcModelDesc d = fk_desc();
    fake_reset();
    LlmcEngine e;
    LlmcGpu *g = gpu_engine(&e, &d, 4, 1);
    double bw;
    size_t buf;
    char err[512];
    ck_assert_msg(llmc_gpu_copy_bandwidth(g, &bw, &buf, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(buf, (size_t)64 << 20);               /* free / 4 */
    ck_assert(fabs(bw - 2.0 * (double)buf / 2e-3) < 1);      /* 2 ms per copy */
    fk.free_mem = 40 << 20;
    ck_assert_int_eq(llmc_gpu_copy_bandwidth(g, &bw, &buf, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "40 MiB of GPU memory free"), "%s", err);
    llmc_engine_destroy(&e);
    llmc_gpu_close(g);
    assert_no_leaks();
}
END_TEST

START_TEST(fake_bench)
{
    LlmcModelDesc d = fk_desc();
    fake_reset();
    LlmcEngine e;
    LlmcBenchCfg c = {.n_prompt = 19, .n_gen = 6, .batch = 3};
    LlmcGpu *g = gpu_engine(&e, &d, 3 * llmc_kv_blocks_for(25, FK_BS), 1);
    LlmcBenchResult r;
    char err[1024];
    ck_assert_msg(llmc_bench_run(&e, &c, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.decode_steps, 6);
    /* graphs: the warm-up and 6 decode steps (bucket 4), and the prefill's last step: 57 tokens
     * in steps of 8 leave one token, whose logits are wanted, so it is decode-shaped (bucket 1) */
    ck_assert_int_eq(llmc_gpu_stats(g)->graph_steps, 8);
    ck_assert_int_eq(llmc_gpu_stats(g)->captures, 2);
    ck_assert_int_eq(fkc.bad_slot + fkc.bad_block, 0);
    /* a step failing in the middle of the prefill stops the benchmark with its message */
    fk.max_grid = 5;
    ck_assert_int_eq(llmc_bench_run(&e, &c, &r, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "cuLaunchKernel (kernel kv_write, grid 8x1x1"), "%s", err);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), e.kv.n_blocks);  /* blocks went back */
    llmc_engine_destroy(&e);
    llmc_gpu_close(g);
    assert_no_leaks();
}
END_TEST

/* --bench-launches: one more decode step after the timed ones; its graph captured again with
 * every launch (recorded), then cut after the first and after the second, each timed; the step's
 * own graph (bucket 4) is replayed as before, no bucket graph is added. */
START_TEST(fake_bench_launches)
{
    LlmcModelDesc d = fk_desc();
    fake_reset();
    LlmcEngine e;
    LlmcBenchCfg c = {.n_prompt = 19, .n_gen = 6, .batch = 3, .launch_reps = 4};
    LlmcGpu *g = gpu_engine(&e, &d, 3 * llmc_kv_blocks_for(25, FK_BS), 1);
    LlmcBenchResult r;
    char err[1024];
    int32_t n = -1;
    double full = -1.0;
    ck_assert_ptr_null(llmc_gpu_launch_costs(g, &n, &full));
    ck_assert_int_eq(n, 0);
    /* the launches of a run without, its graphs captured already; then with */
    c.launch_reps = 0;
    for (int i = 0; i < 2; i++)
        ck_assert_msg(llmc_bench_run(&e, &c, &r, err, sizeof err) == 0, "%s", err);
    int64_t s0 = llmc_gpu_stats(g)->graph_steps, l0 = llmc_gpu_stats(g)->launches;
    ck_assert_msg(llmc_bench_run(&e, &c, &r, err, sizeof err) == 0, "%s", err);
    int64_t run = llmc_gpu_stats(g)->launches - l0; /* a run's launches (its eager prefill steps') */
    l0 = llmc_gpu_stats(g)->launches;
    c.launch_reps = 4;
    ck_assert_msg(llmc_bench_run(&e, &c, &r, err, sizeof err) == 0, "%s", err);
    /* the run's, and the timed step's captures: 2 (every launch) + 1 (cut after the first) + 2 */
    ck_assert_int_eq(llmc_gpu_stats(g)->launches - l0, run + 5);
    /* fake_bench's 8 graph steps a run, the timed one replaying the bucket's graph; no new bucket */
    ck_assert_int_eq(llmc_gpu_stats(g)->graph_steps - s0, 8 + 8 + 1);
    ck_assert_int_eq(llmc_gpu_stats(g)->captures, 2);
    ck_assert_int_eq(fkc.bad_slot + fkc.bad_block, 0);
    const LlmcLaunchCost *lc = llmc_gpu_launch_costs(g, &n, &full);
    ck_assert_ptr_nonnull(lc);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(lc[0].kernel, 0);
    ck_assert_int_eq(lc[1].kernel, 1);
    ck_assert_int_eq(lc[0].grid[0], 4); /* kv_write over the bucket's 4 rows, then the head's */
    ck_assert_int_eq(lc[1].grid[0], 4);
    ck_assert_int_eq(lc[0].threads, 32);
    /* the fake's events are 2 ms apart: 500 us a replay for every cut, so the second adds nothing */
    ck_assert(fabs(full - 500.0) < 1e-9 && fabs(lc[0].us - 500.0) < 1e-9 && fabs(lc[1].us) < 1e-9);
    char *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    ck_assert_int_eq(llmc_bench_report(&e, &c, &r, f, err, sizeof err), 0);
    fclose(f);
    ck_assert_msg(strstr(txt, "2 launches, 500.0 us in all (the whole graph: 500.0 us)") &&
                      strstr(txt, "     1  kv_write ") && strstr(txt, "  by kernel:\n  kv_write "),
                  "%s", txt);
    free(txt);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), e.kv.n_blocks);
    llmc_engine_destroy(&e);
    llmc_gpu_close(g);
    /* not without graphs */
    fake_reset();
    g = gpu_engine(&e, &d, 3 * llmc_kv_blocks_for(25, FK_BS), 0);
    ck_assert_int_eq(llmc_bench_run(&e, &c, &r, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not with --no-graphs"), "%s", err);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), e.kv.n_blocks);
    llmc_engine_destroy(&e);
    llmc_gpu_close(g);
    assert_no_leaks();
}
END_TEST

/* ---- 4. AMD: the same runtime over HIP (a fake libamdhip64) ---- */

#define AMD LLMC_GPU_VENDOR_AMD

START_TEST(hip_image_selection)
{
    char err[512];
    const LlmcGpuImage im[] = {{AMD, 0, 0, "gfx1151", NULL, 0, LLMC_GPU_FEAT_AMD_PATH, {0}},
                               {NV, 90, 1, "sm_90a", NULL, 0, 0, {0}},
                               {AMD, 0, 0, "gfx942", NULL, 0, LLMC_GPU_FEAT_AMD_PATH, {0}}};
    ck_assert_int_eq(llmc_gpu_select_image(im, 3, AMD, 0, "gfx942", "AMD Instinct MI300X", err, sizeof err), 2);
    ck_assert_int_eq(llmc_gpu_select_image(im, 3, AMD, 0, "gfx1151", "AMD Radeon 8060S", err, sizeof err), 0);
    ck_assert_int_eq(llmc_gpu_select_image(im, 3, NV, 90, "sm_90", H100, err, sizeof err), 1);
    /* a code object runs on its own gfx only: gfx1100 is not gfx1151 */
    ck_assert_int_eq(llmc_gpu_select_image(im, 3, AMD, 0, "gfx1100", "AMD Radeon RX 7900 XTX", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "this executable was built for gfx1151, sm_90a, gfx942; this GPU is AMD Radeon RX 7900 "
                              "XTX (gfx1100): rebuild with llmc compile --target gfx1100"),
                  "%s", err);
    ck_assert_int_eq(llmc_gpu_select_image(im + 1, 1, AMD, 0, "gfx1151", "AMD Radeon 8060S", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no image for AMD GPUs (built for sm_90a)"), "%s", err);
}
END_TEST

static const LlmcGpuImage fk_images_mixed[] = {
    {NV, 90, 1, "sm_90a", (const unsigned char *)&fk_image, 1, 0, {0}},
    {AMD, 0, 0, "gfx1151", (const unsigned char *)&fk_image, 1, LLMC_GPU_FEAT_AMD_PATH, {0}},
};

/* A build for gfx1151 (and sm_90a) on a machine with neither driver names what is missing and what
 * it was built for. */
START_TEST(hip_no_driver)
{
    LlmcModelDesc d = fk_desc();
    d.gpu_images = fk_images_mixed + 1;
    LlmcGpu *g;
    char err[2048];
    ck_assert_int_eq(llmc_gpu_open(&g, &d, "libllmc-no-such-hip.so", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no HIP driver found (libllmc-no-such-hip.so): this executable was built for gfx1151 "
                              "and needs an AMD GPU"),
                  "%s", err);
    ck_assert_msg(!strstr(err, "NVIDIA"), "%s", err);
    d.gpu_images = fk_images_mixed;
    d.n_gpu_images = 2;
    ck_assert_int_eq(llmc_gpu_open(&g, &d, "libllmc-no-such-driver.so", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no NVIDIA driver found (libllmc-no-such-driver.so): this executable was built for "
                              "sm_90a, gfx1151") &&
                      strstr(err, "; no HIP driver found"),
                  "%s", err);
    d.n_gpu_images = 1;
    d.gpu_images = fk_images_mixed + 1;
    ck_assert_int_eq(llmc_gpu_open(&g, &d, "libm.so.6", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "libm.so.6 has no hipDrvGetErrorName: the HIP driver is too old"), "%s", err);
    ck_assert_msg(strstr(err, "ROCm 6 or newer"), "%s", err);
}
END_TEST

START_TEST(fake_hip_refusals)
{
    LlmcModelDesc d = fk_desc();
    d.gpu_images = fk_images_mixed;
    d.n_gpu_images = 2;
    LlmcCudaApi hip = fake_hip_api();
    LlmcGpu *g;
    char err[1024];
    fake_reset();
    snprintf(fk.arch, sizeof fk.arch, "gfx1100");
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &hip, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "this executable was built for sm_90a, gfx1151; this GPU is Fake GPU (gfx1100): "
                              "rebuild with llmc compile --target gfx1100"),
                  "%s", err);
    assert_no_leaks();
    fake_reset();
    fk.optin = 512; /* 512 bytes of LDS */
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &hip, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "kernel logits needs 1024 bytes of shared memory; Fake GPU (gfx1151) allows 512"),
                  "%s", err);
    assert_no_leaks();
    /* the same kernel of the NVIDIA path alone (a trap in the AMD image): its shared memory is not
     * the AMD image's, so the gfx1151 loads; an NVIDIA GPU with the same limit still refuses it */
    static const uint8_t nv_only[] = {0, LLMC_GPU_KERNEL_PDL | LLMC_GPU_KERNEL_NV_ONLY};
    d.gpu_kernel_flags = nv_only;
    fake_reset();
    fk.optin = 512;
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &hip, err, sizeof err), 0);
    llmc_gpu_close(g);
    assert_no_leaks();
    fake_reset();
    fk.optin = 512;
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "kernel logits needs 1024 bytes of shared memory; Fake GPU (sm_90"), "%s", err);
    assert_no_leaks();
    d.gpu_kernel_flags = fk_flags;
    fake_reset();
    fk.init_result = CUDA_ERROR_NO_DEVICE;
    ck_assert_int_eq(llmc_gpu_open_api(&g, &d, &hip, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no AMD GPU found (hipInit: "), "%s", err);
    assert_no_leaks();
}
END_TEST

/* The image for the GPU's gfx (its feature suffixes dropped), the weights uploaded (a discrete GPU)
 * or read in place (an APU; uploaded where registration fails), no PDL, graphs and eager steps
 * giving the reference tokens; a failing launch is named in HIP's terms. */
START_TEST(fake_hip_generate)
{
    LlmcModelDesc d = fk_desc();
    d.gpu_images = fk_images_mixed;
    d.n_gpu_images = 2;
    LlmcCudaApi hip = fake_hip_api();
    for (int how = 0; how < 4; how++) { /* discrete, APU, APU refusing registration; eager */
        fake_reset();
        fk.integrated = how == 1 || how == 2;
        fk.register_fails = how == 2;
        LlmcEngine e;
        int64_t kv = llmc_engine_default_kv_blocks(&d, 3, 16 + N_NEW);
        LlmcGpu *g = gpu_engine_api(&e, &d, kv, how != 3, &hip, 0);
        ck_assert_str_eq(llmc_gpu_image_arch(g), "gfx1151");
        ck_assert_str_eq(llmc_gpu_arch(g), "gfx1151");
        ck_assert_int_eq(llmc_gpu_sm(g), 0);
        ck_assert(!llmc_gpu_uses_pdl(g));
        ck_assert_int_eq(llmc_gpu_weights_in_place(g), how == 1);
        ck_assert_int_eq(fk.live_registered, how == 1);
        generate_and_check(&e, 3);
        ck_assert_int_eq(fk.pdl_launches, 0);
        ck_assert_int_eq(fkc.bad_slot + fkc.bad_block, 0);
        ck_assert(how == 1 ? fkc.weights_seen == fk_weights : fkc.weights_seen != fk_weights);
        ck_assert_int_eq(llmc_gpu_stats(g)->graph_steps > 0, how != 3);
        if (how == 0) { /* a failing launch, in HIP's names */
            char err[1024];
            fk.max_grid = 1;
            int32_t tok[2] = {1, 2}, pos[2] = {0, 1}, seq[2] = {0, 0}, slots[2] = {0, 1}, rows[2] = {0, 1},
                    tables[64] = {0};
            float logits[2 * FK_VOCAB];
            LlmcStep st = {.n_tokens = 2, .tokens = tok, .positions = pos, .seq_of_token = seq, .slots = slots,
                           .block_tables = tables, .max_blocks_per_seq = llmc_kv_blocks_for(FK_SEQ, FK_BS),
                           .n_out = 1, .out_rows = rows + 1, .logits = logits};
            ck_assert_int_eq(llmc_engine_step(&e, &st, err, sizeof err), -1);
            ck_assert_msg(strstr(err, "hipModuleLaunchKernel (kernel kv_write, grid 2x1x1"), "%s", err);
            ck_assert_msg(!strstr(err, "cuLaunchKernel"), "%s", err);
        }
        llmc_engine_destroy(&e);
        llmc_gpu_close(g);
        assert_no_leaks();
    }
}
END_TEST

/* ---- 5. a sharded model (--tp N) over N fake GPUs and a fake NCCL ---- */

/* The fake NCCL: the same entry points the runtime loads (nccl_api.h), in process. A collective is
 * enqueued on the rank's stream (recorded by a capture) and runs when the stream is synchronized,
 * as a GPU would run it: there the ranks' threads meet (ncclCommInitRank meets them too), the last
 * to come gathers every rank's block into every rank's output, and all go on. A rank that never
 * comes leaves its peers waiting until ncclCommAbort, which releases every waiter (their
 * collectives end without data, as a real abort's do); 10 s without either is counted as a hang
 * (fnc.hangs) and released, so that a broken runtime fails the test rather than hanging it. */
struct ncclComm {
    int rank, n;
    int failed;                 /* ncclCommGetAsyncError reports an error (its init failed) */
    int ready;                  /* its init completed (every rank joined) */
    int polls_left;             /* ncclCommGetAsyncError says ncclInProgress this many more times */
};
static pthread_mutex_t fnc_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fnc_cv = PTHREAD_COND_INITIALIZER;
static struct {
    int version;                /* what ncclGetVersion says */
    int live_comms, joined, wrong_device, bad_args;
    int64_t collectives;        /* run (not recorded) */
    int n, arrived;             /* the communicators' ranks; those waiting at the meeting */
    uint64_t gen;               /* meetings done */
    int aborted;                /* ncclCommAbort was called (on any rank's communicator) */
    int aborts, released, hangs;/* ncclCommAbort calls; waiters it released; waits given up */
    int fail_gather_rank;       /* > 0: that rank's first ncclAllGather call fails */
    int fail_init_rank;         /* > 0: that rank's ncclCommInitRankConfig fails once every other rank
                                   joined: its call returns ncclSystemError (fail_init_async 0) or
                                   ncclInProgress and then ncclCommGetAsyncError the error (1) */
    int fail_init_async;
    int init_after_ctx_fail;    /* every ncclCommInitRankConfig waits for the failing cuCtxSetCurrent
                                   (so that most come after the abort it makes) */
    int in_progress;            /* every ncclCommInitRankConfig, ncclAllGather and ncclGroupEnd
                                   returns ncclInProgress and ncclCommGetAsyncError says so this many
                                   times before ncclSuccess */
    int64_t polls;              /* ncclCommGetAsyncError calls */
    int unsettled;              /* a stream synchronized, a host function queued or a capture ended,
                                   or an NCCL call made, while a communicator of the device was
                                   still in progress: what NCCL forbids */
    int stall_at;               /* > 0: the stall_at-th collective run (1-based) never completes:
                                   every rank waits in it until ncclCommAbort */
    int64_t meetings;           /* collective meetings begun */
    ncclComm_t comm_of[FAKE_MAX_DEV];   /* each device's communicator */
    int64_t ctx_sets_at_init[FAKE_MAX_DEV]; /* cuCtxSetCurrent calls of a device before its rank's init */
    int64_t exchanges;          /* of the collectives run, the exchanges (ncclSend / ncclRecv groups) */
    const FakeLaunch *at[FAKE_MAX_DEV]; /* each rank's collective at the meeting */
} fnc;

/* Until n ranks joined ncclCommInitRankConfig (at most 5 s). */
static void fnc_wait_joined(int n)
{
    for (int i = 0; n > 0 && i < 5000; i++) {
        pthread_mutex_lock(&fnc_mu);
        int in = fnc.joined >= n;
        pthread_mutex_unlock(&fnc_mu);
        if (in)
            return;
        usleep(1000);
    }
}

/* Rank `rank` at the meeting (l: its all-gather, NULL: ncclCommInitRank): 0 once every rank came,
 * -1 when aborted (or given up after 10 s). */
static int fnc_meet(int rank, const FakeLaunch *l)
{
    pthread_mutex_lock(&fnc_mu);
    if (fnc.aborted) {
        fnc.released++;
        pthread_mutex_unlock(&fnc_mu);
        return -1;
    }
    fnc.at[rank] = l;
    uint64_t gen = fnc.gen;
    if (fnc.arrived == 0)
        fnc.meetings++;
    if (++fnc.arrived == fnc.n && fnc.meetings != fnc.stall_at) {
        if (l) {
            size_t c = l->count;
            for (int q = 0; q < fnc.n; q++)
                fnc.bad_args += !fnc.at[q] || fnc.at[q]->what != l->what || fnc.at[q]->count != c;
            for (int q = 0; q < fnc.n && !fnc.bad_args; q++)
                for (int p = 0; p < fnc.n; p++) {
                    if (l->what == FAKE_ALL_GATHER) /* q's block into p's output */
                        memcpy(fnc.at[p]->recv + (size_t)q * c, fnc.at[q]->send, c * sizeof(float));
                    else if (!fnc.at[q]->to[p] || !fnc.at[p]->from[q])
                        fnc.bad_args++;
                    else                            /* what q sends p, where p receives it from q */
                        memcpy(fnc.at[p]->from[q], fnc.at[q]->to[p], c * sizeof(float));
                }
            fnc.collectives++;
            fnc.exchanges += l->what == FAKE_EXCHANGE;
        }
        fnc.arrived = 0;
        fnc.gen++;
        pthread_cond_broadcast(&fnc_cv);
        pthread_mutex_unlock(&fnc_mu);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    while (fnc.gen == gen && !fnc.aborted)
        if (pthread_cond_timedwait(&fnc_cv, &fnc_mu, &ts) != 0) {
            fnc.hangs++;
            break;
        }
    int met = fnc.gen != gen;
    if (!met && fnc.aborted)
        fnc.released++;
    pthread_mutex_unlock(&fnc_mu);
    return met ? 0 : -1;
}

/* Until every rank but the caller's waits at a collective (at most 5 s). */
static void fnc_wait_for_peers(void)
{
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&fnc_mu);
        int waiting = fnc.arrived == fnc.n - 1;
        pthread_mutex_unlock(&fnc_mu);
        if (waiting)
            return;
        usleep(1000);
    }
}

static ncclResult_t n_version(int *v) { *v = fnc.version; return 0; }
static ncclResult_t n_unique_id(ncclUniqueId *id)
{
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "fake-nccl");
    return 0;
}
/* Before an NCCL call on a device's communicator, or a CUDA call on its stream: counted when the
 * communicator is still in progress (the runtime did not wait for ncclCommGetAsyncError). */
static void fnc_check_settled(void)
{
    if (fk_cur < 0)
        return;
    pthread_mutex_lock(&fnc_mu);
    ncclComm_t c = fnc.comm_of[fk_cur];
    fnc.unsettled += c && (c->polls_left > 0 || (!c->ready && !c->failed));
    pthread_mutex_unlock(&fnc_mu);
}
/* Non-blocking only (config.blocking = 0): returns at once, the communicator in progress until
 * every rank joined; the failing rank (fail_init_rank) joins, then fails once the others did. */
static ncclResult_t n_init_config(ncclComm_t *comm, int n, ncclUniqueId id, int rank, LlmcNcclConfig *cfg)
{
    if (strcmp(id.internal, "fake-nccl") != 0 || n < 2 || n > FAKE_MAX_DEV || rank < 0 || rank >= n || !cfg ||
        cfg->size < sizeof *cfg || cfg->magic != LLMC_NCCL_CONFIG_MAGIC || cfg->version < 21400 || cfg->blocking != 0 ||
        cfg->minCTAs != LLMC_NCCL_CONFIG_UNDEF || cfg->netName) {
        FK_LOCKED(fnc.bad_args++);
        return 4; /* ncclInvalidArgument */
    }
    FK_LOCKED(fnc.ctx_sets_at_init[rank] = fk.ctx_sets_on[rank]);
    for (int i = 0; fnc.init_after_ctx_fail && i < 5000; i++) {
        int failed;
        FK_LOCKED(failed = fk.ctx_failed);
        if (failed)
            break;
        usleep(1000);
    }
    int failing = fnc.fail_init_rank && rank == fnc.fail_init_rank;
    if (failing)                        /* the others are in their init */
        fnc_wait_joined(n - 1);
    if (failing && !fnc.fail_init_async)
        return 2;                       /* ncclSystemError */
    ncclComm_t c = calloc(1, sizeof *c);
    c->rank = rank;
    c->n = n;
    c->failed = failing;
    c->polls_left = fnc.in_progress;
    pthread_mutex_lock(&fnc_mu);
    fnc.n = n;
    fnc.joined += !failing;
    fnc.wrong_device += fk_cur != rank; /* rank r on device r, its context current */
    fnc.comm_of[rank] = c;
    fnc.live_comms++;
    pthread_mutex_unlock(&fnc_mu);
    *comm = c;
    return 7; /* ncclInProgress: the init goes on in the background */
}
static ncclResult_t n_async(ncclComm_t c, ncclResult_t *state)
{
    pthread_mutex_lock(&fnc_mu);
    fnc.polls++;
    fnc.wrong_device += fk_cur != c->rank;
    if (c->failed) {
        *state = 2;
    } else if (c->polls_left > 0) {
        c->polls_left--;
        *state = 7;
    } else {
        c->ready |= fnc.joined == c->n;
        *state = c->ready ? 0 : 7;
    }
    pthread_mutex_unlock(&fnc_mu);
    return 0;
}
static ncclResult_t n_destroy(ncclComm_t comm)
{
    pthread_mutex_lock(&fnc_mu);
    fnc.live_comms--;
    fnc.comm_of[comm->rank] = NULL;
    pthread_mutex_unlock(&fnc_mu);
    free(comm);
    return 0;
}
static ncclResult_t n_abort(ncclComm_t comm)
{
    pthread_mutex_lock(&fnc_mu);
    fnc.aborted = 1;
    fnc.aborts++;
    fnc.live_comms--;
    fnc.comm_of[comm->rank] = NULL;
    pthread_cond_broadcast(&fnc_cv);
    pthread_mutex_unlock(&fnc_mu);
    free(comm);
    return 0;
}
/* A call's result on a non-blocking communicator: ncclInProgress when the test asks for it (the
 * communicator then in progress for fnc.in_progress polls). */
static ncclResult_t n_progress(ncclComm_t c)
{
    if (!fnc.in_progress)
        return 0;
    pthread_mutex_lock(&fnc_mu);
    c->polls_left = fnc.in_progress;
    pthread_mutex_unlock(&fnc_mu);
    return 7;
}
static void fake_collective(const FakeLaunch *l) { (void)fnc_meet(l->rank, l); }

/* The calling thread's group of ncclSend / ncclRecv (NCCL's groups are a thread's): one exchange,
 * enqueued at ncclGroupEnd. */
static _Thread_local struct {
    int open;
    FakeStream *st;
    FakeLaunch l;
} fk_group;
static ncclResult_t n_group_start(void)
{
    fnc_check_settled();
    if (fk_group.open) {
        FK_LOCKED(fnc.bad_args++);      /* llmc never nests groups */
        return 5;
    }
    memset(&fk_group, 0, sizeof fk_group);
    fk_group.open = 1;
    fk_group.l.what = FAKE_EXCHANGE;
    return 0;
}
static ncclResult_t n_p2p(const float *to, float *from, size_t count, int dt, int peer, ncclComm_t comm,
                          CUstream stream)
{
    FakeStream *st = fk_stream(stream);
    FakeLaunch *l = &fk_group.l;
    if (!fk_group.open || !st || (fk_group.st && fk_group.st != st) || dt != LLMC_NCCL_FLOAT32 || !comm ||
        fk_cur != comm->rank || count == 0 || (l->count && l->count != count) || peer < 0 || peer >= comm->n) {
        FK_LOCKED(fnc.bad_args++);
        return 5;
    }
    fk_group.st = st;
    l->count = count;
    l->rank = comm->rank;
    if (to)
        l->to[peer] = to;
    else
        l->from[peer] = from;
    return 0;
}
static ncclResult_t n_send(const void *send, size_t count, int dt, int peer, ncclComm_t comm, CUstream stream)
{
    return n_p2p(send, NULL, count, dt, peer, comm, stream);
}
static ncclResult_t n_recv(void *recv, size_t count, int dt, int peer, ncclComm_t comm, CUstream stream)
{
    return n_p2p(NULL, recv, count, dt, peer, comm, stream);
}
static ncclResult_t n_group_end(void)
{
    if (!fk_group.open)
        return 5;
    fk_group.open = 0;
    if (!fk_group.st)
        return 0;                       /* an empty group */
    if (fake_enqueue(fk_group.st, &fk_group.l) != 0)
        return 2;
    return n_progress(fnc.comm_of[fk_group.l.rank]);
}
static ncclResult_t n_all_gather(const void *send, void *recv, size_t count, int dt, ncclComm_t comm,
                                 CUstream stream)
{
    FakeStream *st = fk_stream(stream);
    fnc_check_settled();
    if (!st || dt != LLMC_NCCL_FLOAT32 || !comm || fk_cur != comm->rank || count == 0) {
        FK_LOCKED(fnc.bad_args++);
        return 5; /* ncclInvalidUsage */
    }
    pthread_mutex_lock(&fnc_mu); /* every rank's thread reads it, the failing one clears it */
    int fail = fnc.fail_gather_rank && comm->rank == fnc.fail_gather_rank;
    if (fail)
        fnc.fail_gather_rank = 0;
    pthread_mutex_unlock(&fnc_mu);
    if (fail) {
        fnc_wait_for_peers();           /* they wait at their first collective */
        return 2;                       /* ncclSystemError */
    }
    FakeLaunch l = {.what = FAKE_ALL_GATHER, .send = send, .recv = recv, .count = count, .rank = comm->rank};
    return fake_enqueue(st, &l) == 0 ? n_progress(comm) : 2;
}
static const char *n_error(ncclResult_t r) { return r == 5 ? "invalid usage (fake NCCL)" : "fake NCCL error"; }

static const LlmcNcclApi fake_nccl = {
    .GetVersion = n_version, .GetUniqueId = n_unique_id, .CommInitRankConfig = n_init_config,
    .CommGetAsyncError = n_async,
    .CommDestroy = n_destroy, .CommAbort = n_abort, .AllGather = n_all_gather,
    .Send = n_send, .Recv = n_recv, .GroupStart = n_group_start, .GroupEnd = n_group_end,
    .GetErrorString = n_error,
};

/* The fake model sharded over N ranks: rank r computes columns [r V/N, (r+1) V/N) of the hash
 * logits from its own KV pool and holds its part of the bias in its part of the weights; an
 * all_reduce adds the ranks' bias rows up, an all_gather puts the logits' column blocks together, so
 * every rank's logits are the unsharded model's, bit for bit, where the all_reduce sums as the cpu
 * target does. The bias parts are chosen so that it must: for N = 4, bias[v] = 2^25 + b - 2^25 + 0
 * (the four parts rotated by v among the ranks) gives b exactly in double in rank order, and 0 or
 * b in f32 depending on the order (2^25 + b rounds b away): a sum in f32, or in another order than
 * 0..N-1, gives other logits. For N = 2, (b + 1) + (-1) (exact in any order: two parts cannot
 * depend on it).
 *
 * As the emitted code does it (codegen/cuda_collective.c), the all_reduce takes one of two ways:
 * up to FK_FEW rows, an all-gather of each rank's rows (here at a row stride past the columns,
 * FK_RS) into a scratch, [N][(O - 1) FK_RS + V], then a kernel (k_reduce, the plain-C twin of
 * all_reduce_ordered in cuda_rows.cuh) that sums them in rank order in double and rounds once;
 * beyond (dense rows), the exchange: each rank gets every rank's 1/N of the values ([N][O V / N]),
 * sums its share (k_reduce_chunk, all_reduce_chunk's twin) and an all-gather brings the sums into
 * the rows. The all_gather's blocks are [N][O][V/N]. Kernel offsets: {rank, N, bias row stride}. */
enum { FK_P = 1024, FK_R = 4096, FK_RS = FK_VOCAB + 8, FK_B = 6144, FK_G = 8192, FK_S = 10240, FK_TP_ARENA = 17408,
       FK_TP_STRIDE = 1024, FK_FEW = 2 };

/* rank r's part of bias[v] over n ranks */
static float fk_bias_part(int32_t v, int r, int n)
{
    float b = fk_bias(v);
    if (n == 2)
        return r == 0 ? b + 1.0f : -1.0f;
    static const float big = 33554432.0f; /* 2^25: its f32 neighbours are 4 apart */
    int k = (r - v % n + n) % n;          /* the parts rotate with v */
    return k == 0 ? big : k == 1 ? b : k == 2 ? -big : 0.0f;
}

static void k_part(const LlmcDevArgs *a, const LlmcKernelOffsets *ko, uint32_t o)
{
    int64_t rank = ko->v[0], w = FK_VOCAB / ko->v[1];
    uint64_t h;
    if (!fk_row_hash(a, o, &h))
        return;
    float full[FK_VOCAB];
    fk_logits(h, full);
    float *part = (float *)(a->arena + FK_P) + (size_t)o * (size_t)w;
    for (int64_t c = 0; c < w; c++)
        part[c] = full[rank * w + c];
    const float *bias = (const float *)a->weights; /* this rank's part of the payload */
    memcpy((float *)(a->arena + FK_R) + (size_t)o * (size_t)ko->v[2], bias, FK_VOCAB * sizeof(float));
}

/* all_reduce_ordered<FK_VOCAB, N, FK_RS, FK_VOCAB> (cuda_rows.cuh) in C: row o of the gathered
 * blocks, each element's N values summed in rank order in double, rounded once. */
static void k_reduce(const LlmcDevArgs *a, const LlmcKernelOffsets *ko, uint32_t o)
{
    int64_t n = ko->v[1], part = (int64_t)(a->n_out - 1) * FK_RS + FK_VOCAB;
    const float *src = (const float *)(a->arena + FK_S) + (size_t)o * FK_RS;
    float *y = (float *)(a->arena + FK_B) + (size_t)o * FK_VOCAB;
    for (int64_t j = 0; j < FK_VOCAB; j++) {
        double s = 0.0;
        for (int64_t q = 0; q < n; q++)
            s += (double)src[q * part + j];
        y[j] = (float)s;
    }
}

/* all_reduce_chunk<FK_VOCAB, N> (cuda_rows.cuh) in C: block b of 4 values of this rank's chunk of
 * the O x V values, each summed over the N ranks in rank order in double, rounded once, after them. */
static void k_reduce_chunk(const LlmcDevArgs *a, const LlmcKernelOffsets *ko, uint32_t b)
{
    int64_t n = ko->v[1], chunk = (int64_t)a->n_out * (FK_VOCAB / n);
    float *src = (float *)(a->arena + FK_S), *out = src + n * chunk;
    for (int64_t j = (int64_t)b * 4; j < chunk && j < (int64_t)b * 4 + 4; j++) {
        double s = 0.0;
        for (int64_t q = 0; q < n; q++)
            s += (double)src[q * chunk + j];
        out[j] = (float)s;
    }
}

/* Counts logits that differ from the unsharded model's in any bit. */
static int fk_bad_logits;

static void k_finish(const LlmcDevArgs *a, const LlmcKernelOffsets *ko, uint32_t o)
{
    int64_t w = FK_VOCAB / ko->v[1], O = a->n_out;
    const float *gathered = (const float *)(a->arena + FK_G), *bias = (const float *)(a->arena + FK_B) + (size_t)o * FK_VOCAB;
    float *out = a->logits + (size_t)o * FK_VOCAB;
    for (int64_t v = 0; v < FK_VOCAB; v++)
        out[v] = gathered[((v / w) * O + o) * w + v % w];
    for (int64_t v = 0; v < FK_VOCAB; v++)
        out[v] += bias[v];
    uint64_t h;
    if (fk_row_hash(a, o, &h)) {
        float want[FK_VOCAB];
        fk_logits(h, want);
        for (int32_t v = 0; v < FK_VOCAB; v++) {
            want[v] += fk_bias(v);
            fk_bad_logits += memcmp(&want[v], &out[v], sizeof(float)) != 0;
        }
        fk_choose(a, o, h);
    }
}

static void fk_tp_forward(const LlmcExec *ex, const LlmcStep *st, int n)
{
    uint32_t O = (uint32_t)st->n_out;
    int few = O <= FK_FEW || n == 2;
    LlmcKernelOffsets ko = {{ex->rank, n, few ? FK_RS : FK_VOCAB}};
    llmc_gpu_launch(ex->gpu, 0, (uint32_t)st->n_tokens, 1, 1, 32, 0, &ko);
    if (st->n_nodes == 1)
        return;
    llmc_gpu_launch(ex->gpu, 1, O, 1, 1, 32, 0, &ko);
    if (few) {                                                              /* the all_reduce */
        llmc_gpu_all_gather(ex->gpu, O, FK_VOCAB, FK_R, FK_RS, FK_S);
        llmc_gpu_launch(ex->gpu, 2, O, 1, 1, 32, 0, &ko);
    } else {
        int64_t chunk = (int64_t)O * (FK_VOCAB / n);
        llmc_gpu_all_to_all(ex->gpu, chunk, FK_R, FK_S);
        llmc_gpu_launch(ex->gpu, 3, (uint32_t)(chunk + 3) / 4, 1, 1, 32, 0, &ko);
        llmc_gpu_all_gather(ex->gpu, 1, chunk, FK_S + (int64_t)O * FK_VOCAB * 4, chunk, FK_B);
    }
    llmc_gpu_all_gather(ex->gpu, O, FK_VOCAB / n, FK_P, FK_VOCAB / n, FK_G); /* the all_gather */
    llmc_gpu_launch(ex->gpu, 4, O, 1, 1, 32, 0, &ko);
}
static void fk_tp2_forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    ck_assert(tid == 0 && nth == 1);
    fk_tp_forward(ex, st, 2);
}
static void fk_tp4_forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    ck_assert(tid == 0 && nth == 1);
    fk_tp_forward(ex, st, 4);
}

static const FakeKernel fk_tp_kernels[] = {{"kv_write", k_kv_write},
                                           {"part", k_part},
                                           {"reduce", k_reduce},
                                           {"reduce_chunk", k_reduce_chunk},
                                           {"finish", k_finish}};
static const FakeImage fk_tp_image = {fk_tp_kernels, 5};
static const char *const fk_tp_names[] = {"kv_write", "part", "reduce", "reduce_chunk", "finish"};
static const uint32_t fk_tp_smem[] = {0, 0, 0, 0, 0};
static const LlmcGpuImage fk_tp_images[] = {{NV, 90, 1, "sm_90a", (const unsigned char *)&fk_tp_image, 1, 0, {0}}};
static uint8_t fk_tp_weights[FAKE_MAX_DEV * FK_TP_STRIDE];

static LlmcModelDesc fk_tp_desc(int n)
{
    LlmcModelDesc d = fk_desc();
    d.gpu_images = fk_tp_images;
    d.gpu_kernels = fk_tp_names;
    d.gpu_kernel_smem = fk_tp_smem;
    d.gpu_kernel_flags = NULL;
    d.n_gpu_kernels = 5;
    d.n_ranks = n;
    d.rank_weights_stride = FK_TP_STRIDE;
    d.weights_bytes = n * FK_TP_STRIDE;
    d.arena_bytes = FK_TP_ARENA;
    d.cpu_twin = NULL;
    d.forward = n == 2 ? fk_tp2_forward : fk_tp4_forward;
    memset(fk_tp_weights, 0, sizeof fk_tp_weights);
    for (int r = 0; r < n; r++)
        for (int32_t v = 0; v < FK_VOCAB; v++)
            ((float *)(fk_tp_weights + (size_t)r * FK_TP_STRIDE))[v] = fk_bias_part(v, r, n);
    return d;
}

static void fake_tp_reset(int devices)
{
    fake_reset();
    fk.count = devices;
    memset(&fnc, 0, sizeof fnc);
    fnc.version = 22809;
    fk_bad_logits = 0;
}

/* The sharded fake model d over the fake driver and NCCL, an engine of kv blocks on it (graphs or
 * eager; step_timeout: LlmcEngineOpts's). */
static LlmcGpu *tp_engine(LlmcEngine *e, const LlmcModelDesc *d, int64_t kv, int graphs, double step_timeout)
{
    char err[1024];
    LlmcGpu *g;
    ck_assert_msg(llmc_gpu_open_ranks_api(&g, d, &fake_api, &fake_nccl, NULL, err, sizeof err) == 0, "open: %s", err);
    LlmcEngineOpts o = {.n_threads = 1, .kv_blocks = kv, .device = g, .no_graphs = !graphs,
                        .step_timeout = step_timeout};
    ck_assert_msg(llmc_engine_init(e, d, fk_tp_weights, &o, err, sizeof err) == 0, "engine: %s", err);
    fkc.pool_blocks = kv + 1;
    return g;
}

/* Ends tp_engine's engine and GPU: every communicator gone, nothing leaked. */
static void tp_engine_close(LlmcEngine *e, LlmcGpu *g)
{
    llmc_engine_destroy(e);
    llmc_gpu_close(g);
    ck_assert_int_eq(fnc.live_comms, 0);
    assert_no_leaks();
}

/* The premise of the fake model's bias at --tp 4: its parts summed in f32, in rank order or in
 * the order a ring starting at rank 2 would, differ from the sum in double (which is b). */
START_TEST(fake_tp_bias_needs_the_order)
{
    int differs = 0;
    for (int32_t v = 0; v < FK_VOCAB; v++) {
        float f = 0.0f, ring = 0.0f;
        double dbl = 0.0;
        for (int r = 0; r < 4; r++) {
            f += fk_bias_part(v, r, 4);
            ring += fk_bias_part(v, (r + 2) % 4, 4);
            dbl += (double)fk_bias_part(v, r, 4);
        }
        ck_assert_msg((float)dbl == fk_bias(v), "v %d: %g", v, dbl);
        differs += (f != fk_bias(v)) + (ring != fk_bias(v));
        ck_assert_msg((double)(fk_bias_part(v, 0, 2) + fk_bias_part(v, 1, 2)) == (double)fk_bias(v), "v %d", v);
    }
    ck_assert_int_ge(differs, FK_VOCAB); /* most of them, in one order or the other */
}
END_TEST

/* N = 2 and 4 ranks, eager and as CUDA graphs, batches of 1, 3 and 6 (and 6 on a pool that
 * preempts): every sequence's tokens are the unsharded model's reference ones and every logit of
 * every step is the unsharded model's bit for bit (the rank-ordered all_reduce: fk_bias_part);
 * each rank ran on its own device with its context current, the collectives ran (replayed from
 * the graphs too), none waited for a peer that did not come. */
START_TEST(fake_tp_generate)
{
    for (int n = 2; n <= 4; n += 2)
        for (int graphs = 0; graphs < 2; graphs++)
            for (int k = 0; k < 4; k++) {
                static const int32_t batches[4] = {1, 3, FK_MO, FK_MO};
                fake_tp_reset(n);
                LlmcModelDesc d = fk_tp_desc(n);
                int32_t mb = batches[k];
                int64_t kv = k == 3 ? llmc_kv_blocks_for(13 + N_NEW - 1, FK_BS)
                                    : llmc_engine_default_kv_blocks(&d, mb, 16 + N_NEW);
                LlmcEngine e;
                LlmcGpu *g = tp_engine(&e, &d, kv, graphs, 0);
                ck_assert_int_eq(fnc.live_comms, n);
                int64_t warm = fnc.collectives;  /* setup's: one all-gather, one exchange */
                ck_assert_int_eq(warm, 2);
                ck_assert_int_eq(fnc.exchanges, 1);
                int64_t preempted = generate_and_check(&e, mb);
                ck_assert(k == 3 ? preempted > 0 : preempted == 0);
                const LlmcGpuStats *st = llmc_gpu_stats(g);
                ck_assert_int_eq(fkc.bad_slot + fkc.bad_block, 0);
                ck_assert_int_eq(fk.wrong_ctx, 0);
                ck_assert_int_eq(fnc.wrong_device + fnc.bad_args, 0);
                ck_assert_int_eq(fnc.hangs + fnc.aborts, 0);
                ck_assert_int_eq(fk_bad_logits, 0);
                ck_assert_int_eq(fk.copies_while_capturing, 0);
                for (int r = 0; r < n; r++)
                    ck_assert_msg(fk.launches_on[r] > 0, "--tp %d: no kernel ran on device %d", n, r);
                ck_assert_int_eq(fk.launches_on[0], fk.launches_on[n - 1]); /* every rank ran every step */
                /* two a step with logits rows, three where the all_reduce exchanges (captured once a
                 * graph), each run by every rank; the exchange at --tp 4 from 3 rows */
                ck_assert(st->collectives > 0 && st->collectives <= 3 * st->steps);
                ck_assert(n == 4 && mb > FK_FEW ? fnc.exchanges > 1 : fnc.exchanges == 1);
                ck_assert(graphs ? st->collectives < st->steps : st->collectives > st->steps);
                ck_assert(fnc.collectives - warm >= st->steps);
                ck_assert_int_eq(st->graph_steps > 0, graphs);
                if (graphs)
                    ck_assert_int_le(st->captures, 4);
                char what[256];
                e.dev->where(&e, what, sizeof what);
                char want[64];
                snprintf(want, sizeof want, "%d x Fake GPU (sm_90, image sm_90a)", n);
                ck_assert_str_eq(what, want);
                tp_engine_close(&e, g);
            }
}
END_TEST

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs three prompts through the scheduler; the run's result, its message in err. */
static int fake_tp_run(LlmcEngine *e, char *err, size_t errlen)
{
    LlmcSched *s;
    LlmcSchedConfig sc = {.max_batch = 3};
    ck_assert_msg(llmc_sched_create(&s, e, &sc, NULL, err, errlen) == 0, "%s", err);
    int32_t prompts[3][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
    for (int32_t i = 0; i < 3; i++) {
        LlmcSeqReq rq = {.prompt = prompts[i], .n_prompt = 1 + i, .max_new = 8, .logits_from = -1,
                         .sampler = seq_cfg[0], .seed = (uint64_t)i};
        ck_assert_msg(llmc_sched_add(s, &rq, err, errlen) == i, "%s", err);
    }
    int rc = llmc_sched_run(s, err, errlen);
    llmc_sched_destroy(s);
    return rc;
}

/* A rank that fails mid-step: rank 1's 6th kernel launch (the second step's, or its CUDA graph's
 * capture, before its collectives) fails; late: once its peers enqueued their collectives and
 * wait for it at their stream's synchronization, else whenever it comes. Its thread aborts every
 * rank's communicator: the waiting collectives end, the step fails in well under the fake's 10 s
 * after which a wait counts as a hang, with rank 1's own message; every later step fails at once
 * with it, and closing leaks nothing (the threads joined, the aborted communicators not destroyed
 * twice). --tp 2 and 4, eager and graphs. */
START_TEST(fake_tp_rank_fails)
{
    for (int n = 2; n <= 4; n += 2)
        for (int mode = 0; mode < 4; mode++) {
            int graphs = mode & 1, late = mode >> 1;
            fake_tp_reset(n);
            fk.fail_dev = 1;
            fk.fail_at = 6;
            fk.fail_late = late;
            LlmcModelDesc d = fk_tp_desc(n);
            char err[1024];
            LlmcEngine e;
            LlmcGpu *g = tp_engine(&e, &d, 64, graphs, 0);
            double t0 = now_s();
            ck_assert_int_eq(fake_tp_run(&e, err, sizeof err), -1);
            double took = now_s() - t0;
            ck_assert_msg(took < 5.0, "--tp %d%s: the failed step took %.1f s", n, graphs ? " (graphs)" : "", took);
            ck_assert_msg(strstr(err, "rank 1 (GPU 1 of ") && strstr(err, "kernel part") &&
                              strstr(err, "CUDA_ERROR_LAUNCH_FAILED") &&
                              strstr(err, "every rank's NCCL communicator was aborted"),
                          "--tp %d%s: %s", n, graphs ? " (graphs)" : "", err);
            ck_assert_int_eq(fnc.hangs, 0);
            ck_assert_int_eq(fnc.aborts, n);            /* every rank's communicator */
            if (late)
                ck_assert_int_ge(fnc.released, n - 1);  /* each waiting peer's collective ended by it */
            ck_assert_int_eq(fnc.live_comms, 0);
            /* the communicators are gone: the next step fails at once, naming the same rank */
            char again[1024];
            ck_assert_int_eq(fake_tp_run(&e, again, sizeof again), -1);
            ck_assert_msg(strstr(again, "rank 1 (GPU 1 of ") && strstr(again, "kernel part"), "%s", again);
            ck_assert_int_eq(fnc.hangs, 0);
            tp_engine_close(&e, g);
        }
}
END_TEST

/* Opens the fake GPUs of d (--tp 4) and starts an engine on them (16 KV blocks), a setup that must
 * end, started or not, in well under the fake's 10 s hang: llmc_engine_init's result (mode: the
 * calling test's case, for the message). */
static int tp_setup_timed(const LlmcModelDesc *d, LlmcGpu **g, LlmcEngine *e, int mode, char *err, size_t errlen)
{
    ck_assert_msg(llmc_gpu_open_ranks_api(g, d, &fake_api, &fake_nccl, NULL, err, errlen) == 0, "%s", err);
    LlmcEngineOpts o = {.n_threads = 1, .kv_blocks = 16, .device = *g};
    double t0 = now_s();
    int rc = llmc_engine_init(e, d, fk_tp_weights, &o, err, errlen);
    double took = now_s() - t0;
    ck_assert_msg(took < 5.0, "mode %d: setup took %.1f s", mode, took);
    return rc;
}

/* A rank that fails while the ranks set up (--tp 4): its allocation for the communicators' first
 * calls (the last one rank 1 makes, counted in a run that succeeds), before any rank joins
 * ncclCommInitRank (which would wait for it forever); or its first all-gather, once every
 * communicator exists and its peers wait at their first collective (they are aborted and
 * released). Either way
 * the engine does not start, in well under the fake's 10 s hang, with rank 1's message, and
 * nothing leaks. */
START_TEST(fake_tp_setup_fails)
{
    int64_t allocs = 0;
    for (int mode = 0; mode < 3; mode++) {
        fake_tp_reset(4);
        fk.fail_dev = 1;
        fk.fail_alloc_at = mode == 1 ? (int)allocs : 0;
        fnc.fail_gather_rank = mode == 2 ? 1 : 0;
        LlmcModelDesc d = fk_tp_desc(4);
        char err[1024];
        LlmcGpu *g;
        LlmcEngine e;
        int rc = tp_setup_timed(&d, &g, &e, mode, err, sizeof err);
        if (mode == 0) { /* the count */
            ck_assert_msg(rc == 0, "%s", err);
            allocs = fk.allocs_on[1];
            llmc_engine_destroy(&e);
        } else {
            ck_assert_int_eq(rc, -1);
            ck_assert_msg(strstr(err, "rank 1 (GPU 1 of 4): "), "mode %d: %s", mode, err);
            ck_assert_msg(mode == 1 ? strstr(err, "NCCL warm-up") && strstr(err, "CUDA_ERROR_OUT_OF_MEMORY") &&
                                          !strstr(err, "aborted")
                                    : strstr(err, "the first NCCL collectives") &&
                                          strstr(err, "every rank's NCCL communicator was aborted"),
                          "mode %d: %s", mode, err);
            ck_assert_int_eq(fnc.joined, mode == 1 ? 0 : 4); /* no rank in ncclCommInitRank, or all */
            ck_assert_int_eq(fnc.aborts, mode == 1 ? 0 : 4);
            if (mode == 2)
                ck_assert_int_ge(fnc.released, 3);
        }
        ck_assert_int_eq(fnc.hangs, 0);
        ck_assert_int_eq(fnc.live_comms, 0);
        llmc_gpu_close(g);
        assert_no_leaks();
    }
}
END_TEST

/* A rank that fails before or inside ncclCommInitRankConfig while its peers are in theirs (--tp 4):
 * its cuCtxSetCurrent just before the call (the peers joined, it never will; or, mode 4, mostly
 * before its peers make theirs: one made after the abort is aborted by its own rank, and the
 * message is the same: CI once saw it without "aborted"), its call returning
 * an error once the others joined, or its communicator's asynchronous error (ncclInProgress, then
 * ncclCommGetAsyncError: an error). The peers' non-blocking inits are aborted: the engine does
 * not start, in well under a second, with rank 1's own message; nothing leaks. (A blocking
 * ncclCommInitRank would keep the peers in it forever: no abort reaches it.) */
START_TEST(fake_tp_init_fails)
{
    int64_t ctx_sets = 0;
    for (int mode = 0; mode < 5; mode++) {
        fake_tp_reset(4);
        fk.fail_ctx_dev = 1;
        fk.fail_ctx_at = mode == 1 || mode == 4 ? (int)ctx_sets : 0;
        fk.fail_ctx_peers = mode == 1 ? 3 : 0;
        fnc.init_after_ctx_fail = mode == 4;
        fnc.fail_init_rank = mode >= 2 ? 1 : 0;
        fnc.fail_init_async = mode == 3;
        LlmcModelDesc d = fk_tp_desc(4);
        char err[1024];
        LlmcGpu *g;
        LlmcEngine e;
        int rc = tp_setup_timed(&d, &g, &e, mode, err, sizeof err);
        if (mode == 0) { /* the count */
            ck_assert_msg(rc == 0, "%s", err);
            ctx_sets = fnc.ctx_sets_at_init[1];
            ck_assert_int_gt(ctx_sets, 0);
            ck_assert_int_eq(fnc.joined, 4);
            llmc_engine_destroy(&e);
        } else {
            ck_assert_int_eq(rc, -1);
            ck_assert_msg(strstr(err, "rank 1 (GPU 1 of 4): ") &&
                              strstr(err, mode == 1 || mode == 4 ? "cuCtxSetCurrent (Fake GPU): CUDA_ERROR_INVALID_VALUE"
                                                    : "ncclCommInitRankConfig (4 ranks, on Fake GPU): fake NCCL error") &&
                              strstr(err, "every rank's NCCL communicator was aborted"),
                          "mode %d: %s", mode, err);
            ck_assert_int_eq(fnc.joined, 3);                    /* the peers joined and waited */
            ck_assert_int_eq(fnc.aborts, mode == 3 ? 4 : 3);    /* every communicator made */
            if (mode < 4)                   /* mode 4's peers mostly come after the abort: no poll */
                ck_assert_int_gt(fnc.polls, 0);
        }
        ck_assert_int_eq(fnc.hangs + fnc.wrong_device + fnc.bad_args + fnc.unsettled, 0);
        ck_assert_int_eq(fnc.live_comms, 0);
        llmc_gpu_close(g);
        assert_no_leaks();
    }
}
END_TEST

/* A non-blocking communicator's calls that return ncclInProgress (ncclCommInitRankConfig, every
 * ncclAllGather and ncclGroupEnd), ncclCommGetAsyncError saying so 3 more times: the runtime waits
 * for ncclSuccess before it goes on (no stream synchronized, host function queued, capture ended or
 * NCCL call made on the communicator before: fnc.unsettled), and generation is the reference's,
 * --tp 2 and 4, eager and as CUDA graphs. */
START_TEST(fake_tp_in_progress)
{
    for (int n = 2; n <= 4; n += 2)
        for (int graphs = 0; graphs < 2; graphs++) {
            fake_tp_reset(n);
            fnc.in_progress = 3;
            LlmcModelDesc d = fk_tp_desc(n);
            LlmcEngine e;
            LlmcGpu *g = tp_engine(&e, &d, llmc_engine_default_kv_blocks(&d, 3, 16 + N_NEW), graphs, 0);
            int64_t polls = fnc.polls;
            ck_assert_int_ge(polls, 3 * 3 * n);   /* the init, the all-gather and the exchange: 3+ each */
            ck_assert_int_eq(generate_and_check(&e, 3), 0);
            ck_assert_int_gt(fnc.polls, polls);
            ck_assert_int_eq(fnc.unsettled + fnc.bad_args + fnc.wrong_device, 0);
            ck_assert_int_eq(fnc.hangs + fnc.aborts, 0);
            ck_assert_int_eq(fk_bad_logits, 0);
            tp_engine_close(&e, g);
        }
}
END_TEST

/* The watchdog (--step-timeout 0.3 s): a collective that never completes (the fake NCCL's 4th
 * meeting, in the first or second step, every rank waiting in it). The step fails within its
 * deadline (0.3 s + 10 ms a token) and the grace after the abort, not after the fake's 10 s,
 * with the message of the rank that waited longest: the step, the deadline, that its GPU finished
 * once the communicators were aborted (it waited in a collective); every communicator aborted,
 * every waiting rank released, every thread back; later steps fail at once with the same message;
 * closing leaks nothing. --tp 2 and 4, eager and graphs. */
START_TEST(fake_tp_watchdog)
{
    for (int n = 2; n <= 4; n += 2)
        for (int graphs = 0; graphs < 2; graphs++) {
            fake_tp_reset(n);
            fnc.stall_at = 4;
            LlmcModelDesc d = fk_tp_desc(n);
            char err[1024];
            LlmcEngine e;
            LlmcGpu *g = tp_engine(&e, &d, 64, graphs, 0.3);
            double t0 = now_s();
            ck_assert_int_eq(fake_tp_run(&e, err, sizeof err), -1);
            double took = now_s() - t0;
            ck_assert_msg(took > 0.3 && took < 5.0, "--tp %d%s: the stalled step took %.2f s", n,
                          graphs ? " (graphs)" : "", took);
            ck_assert_msg(strstr(err, " of ") && strstr(err, "): the step of ") &&
                              strstr(err, "did not finish within ") &&
                              strstr(err, "(--step-timeout 0.3 s plus 0.01 s a token): running the model's kernels and "
                                          "NCCL collectives on Fake GPU") &&
                              strstr(err, "once the communicators were aborted its GPU finished: it was waiting in an "
                                          "NCCL collective for a peer") &&
                              strstr(err, "every rank's NCCL communicator was aborted"),
                          "--tp %d%s: %s", n, graphs ? " (graphs)" : "", err);
            ck_assert_int_eq(fnc.hangs, 0);
            ck_assert_int_eq(fnc.aborts, n);
            ck_assert_int_ge(fnc.released, n);          /* every rank waited in the stalled collective */
            ck_assert_int_eq(fnc.live_comms, 0);
            char again[1024];
            t0 = now_s();
            ck_assert_int_eq(fake_tp_run(&e, again, sizeof again), -1);
            ck_assert(now_s() - t0 < 1.0);
            ck_assert_str_eq(again, err);
            ck_assert_int_eq(fnc.hangs + fnc.unsettled + fnc.bad_args, 0);
            tp_engine_close(&e, g);
        }
}
END_TEST

/* The signals hung GPUs' streams kept (the runtime leaves them to the process's exit): kept
 * reachable across fake_reset, for the leak checker. */
static void *fk_hung_signals[16];
static int fk_n_hung_signals;

/* After a test with a hung GPU: the kernel that never ended ends, the stream runs the rest of its
 * queue and the host function the runtime armed, on the signal it left alive (ASan: no
 * use-after-free); what the runtime left of that GPU is freed (n_left: at least one object). */
static void fake_end_hang(int dev)
{
    int64_t funcs = fk.host_funcs;
    fake_unhang();
    ck_assert_int_eq(fk.host_funcs, funcs + 1);
    ck_assert_ptr_nonnull(fk_streams[dev].host_data);
    if (fk_n_hung_signals < 16)
        fk_hung_signals[fk_n_hung_signals++] = fk_streams[dev].host_data;
    ck_assert_int_gt(fake_free_left(), 0);
    ck_assert_int_eq(fk.hangs, 0);
}

/* The watchdog on one GPU (--tp 1, --step-timeout 0.3 s): a kernel of the second step never ends.
 * The step fails within its deadline with the message (the step, the deadline, what it waited
 * for, that the GPU is left as it is), every later step fails at once with it, and destroying
 * the engine and closing the GPU return at once without a call on the hung GPU (its buffers,
 * module and context are the process's exit's to end). Eager and graphs. */
START_TEST(fake_watchdog_hung_gpu)
{
    for (int graphs = 0; graphs < 2; graphs++) {
        fake_reset();
        fk.hang_dev = 0;
        fk.hang_at = 4;
        LlmcModelDesc d = fk_desc();
        char err[1024];
        LlmcGpu *g;
        ck_assert_msg(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err) == 0, "open: %s", err);
        LlmcEngineOpts o = {.n_threads = 1, .kv_blocks = 64, .device = g, .no_graphs = !graphs, .step_timeout = 0.3};
        LlmcEngine e;
        ck_assert_msg(llmc_engine_init(&e, &d, fk_weights, &o, err, sizeof err) == 0, "engine: %s", err);
        fkc.pool_blocks = 65;
        double t0 = now_s();
        ck_assert_int_eq(fake_tp_run(&e, err, sizeof err), -1);
        double took = now_s() - t0;
        ck_assert_msg(took > 0.3 && took < 5.0, "%s: the hung step took %.2f s", graphs ? "graphs" : "eager", took);
        ck_assert_msg(strstr(err, "the step of ") && strstr(err, " tokens did not finish within ") &&
                          strstr(err, "(--step-timeout 0.3 s plus 0.01 s a token): running the model's kernels on "
                                      "Fake GPU") &&
                          strstr(err, "a kernel that does not end: the GPU is left as it is; no further step runs on it"),
                      "%s", err);
        char again[1024];
        t0 = now_s();
        ck_assert_int_eq(fake_tp_run(&e, again, sizeof again), -1);
        ck_assert(now_s() - t0 < 1.0);
        ck_assert_str_eq(again, err);
        int64_t modules = fk.modules;
        t0 = now_s();
        llmc_engine_destroy(&e);
        llmc_gpu_close(g);
        ck_assert(now_s() - t0 < 1.0);
        ck_assert_int_eq(fk.modules, modules);  /* nothing called on the hung GPU */
        ck_assert_int_gt(fk.live_dev, 0);
        ck_assert_int_eq(fk.ctx_refs, 1);
        fake_end_hang(0);
    }
}
END_TEST

/* The watchdog's default: none on one GPU (the steps wait by cuStreamSynchronize, no host function
 * queued) unless --step-timeout is given; 60 s for a sharded model (fake_tp_generate runs with it). */
START_TEST(fake_watchdog_default_one_gpu)
{
    for (int asked = 0; asked < 2; asked++) {
        fake_reset();
        LlmcModelDesc d = fk_desc();
        char err[1024];
        LlmcGpu *g;
        ck_assert_msg(llmc_gpu_open_api(&g, &d, &fake_api, err, sizeof err) == 0, "open: %s", err);
        LlmcEngineOpts o = {.n_threads = 1, .kv_blocks = 64, .device = g, .step_timeout = asked ? 30.0 : 0.0};
        LlmcEngine e;
        ck_assert_msg(llmc_engine_init(&e, &d, fk_weights, &o, err, sizeof err) == 0, "engine: %s", err);
        fkc.pool_blocks = 65;
        int64_t funcs = fk.host_funcs;
        ck_assert_msg(fake_tp_run(&e, err, sizeof err) == 0, "%s", err);
        if (asked)
            ck_assert_int_gt(fk.host_funcs, funcs);
        else
            ck_assert_int_eq(fk.host_funcs, funcs);
        llmc_engine_destroy(&e);
        llmc_gpu_close(g);
    }
}
END_TEST

/* A rank whose GPU hangs (--tp 2, rank 1's kernel of the second step never ends; rank 0 waits
 * for it in its collective): the watchdog aborts the communicators, rank 0's stream then drains,
 * rank 1's does not: the step fails naming rank 1 and its hung GPU, in bounded time; later steps
 * fail at once; rank 0's GPU is closed as usual, rank 1's left as it is. */
START_TEST(fake_tp_hung_rank)
{
    fake_tp_reset(2);
    fk.hang_dev = 1;
    fk.hang_at = 6;
    LlmcModelDesc d = fk_tp_desc(2);
    char err[1024];
    LlmcEngine e;
    LlmcGpu *g = tp_engine(&e, &d, 64, 0, 0.3);
    double t0 = now_s();
    ck_assert_int_eq(fake_tp_run(&e, err, sizeof err), -1);
    double took = now_s() - t0;
    ck_assert_msg(took > 0.3 && took < 5.0, "the hung step took %.2f s", took);
    ck_assert_msg(strstr(err, "rank 1 (GPU 1 of 2): the step of ") && strstr(err, "did not finish within ") &&
                      strstr(err, "its GPU did not finish even after the communicators were aborted: a kernel that "
                                  "does not end") &&
                      strstr(err, "every rank's NCCL communicator was aborted"),
                  "%s", err);
    ck_assert_int_eq(fnc.aborts, 2);
    ck_assert_int_eq(fnc.hangs, 0);
    char again[1024];
    ck_assert_int_eq(fake_tp_run(&e, again, sizeof again), -1);
    ck_assert_str_eq(again, err);
    t0 = now_s();
    llmc_engine_destroy(&e);
    llmc_gpu_close(g);
    ck_assert(now_s() - t0 < 1.0);
    ck_assert_int_eq(fk.ctx_refs, 1);       /* rank 1's, left */
    ck_assert_int_eq(fnc.live_comms, 0);
    fake_end_hang(1);
}
END_TEST

/* What a sharded model refuses: fewer GPUs than ranks (naming both), no NCCL (naming the library
 * and --tp N), a library that is not NCCL, an NCCL too old, the HIP driver; nothing leaks. */
START_TEST(fake_tp_refusals)
{
    LlmcModelDesc d = fk_tp_desc(4);
    LlmcGpu *g;
    char err[1024];
    fake_tp_reset(2);
    ck_assert_int_eq(llmc_gpu_open_ranks_api(&g, &d, &fake_api, &fake_nccl, NULL, err, sizeof err), -1);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(err, "--tp 4: this executable is sharded over 4 GPUs, one a rank; this machine shows 2"),
                  "%s", err);
    assert_no_leaks();

    d = fk_tp_desc(2);
    fake_tp_reset(2);
    ck_assert_int_eq(llmc_gpu_open_ranks_api(&g, &d, &fake_api, NULL, "libllmc-no-such-nccl.so.2", err, sizeof err),
                     -1);
    ck_assert_msg(strstr(err, "--tp 2: this executable is sharded over 2 GPUs and needs NCCL "
                              "(libllmc-no-such-nccl.so.2), which did not load"),
                  "%s", err);
    assert_no_leaks();
    fake_tp_reset(2);
    ck_assert_int_eq(llmc_gpu_open_ranks_api(&g, &d, &fake_api, NULL, "libm.so.6", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "--tp 2: libm.so.6 has no ncclGetVersion"), "%s", err);
    assert_no_leaks();

    fake_tp_reset(2);
    fnc.version = 21805;
    ck_assert_int_eq(llmc_gpu_open_ranks_api(&g, &d, &fake_api, &fake_nccl, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "--tp 2: libnccl.so.2 is NCCL 2.18 (version code 21805); this executable needs "
                              "NCCL 2.19 or newer"),
                  "%s", err);
    assert_no_leaks();

    fake_tp_reset(2);
    LlmcCudaApi hip = fake_hip_api();
    LlmcModelDesc dh = d;
    dh.gpu_images = fk_images_mixed;
    dh.n_gpu_images = 2;
    ck_assert_int_eq(llmc_gpu_open_ranks_api(&g, &dh, &hip, &fake_nccl, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "--tp 2: this executable is sharded over 2 GPUs; sharded models run on NVIDIA GPUs only"),
                  "%s", err);
    assert_no_leaks();

    /* the machine's own driver (none in CI) is asked first: no NCCL is loaded before it */
    ck_assert_int_eq(llmc_gpu_open(&g, &d, "libllmc-no-such-driver.so.1", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no NVIDIA driver found"), "%s", err);

    /* a description whose ranks' parts do not fit its weights */
    d.rank_weights_stride = 4 * FK_TP_STRIDE;
    ck_assert_int_eq(llmc_desc_check(&d, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "n_ranks/rank_weights_stride"), "%s", err);
}
END_TEST

/* The real NCCL where this machine has one (the CUDA toolkit's; CI's has it, without a GPU): every
 * entry point of nccl_api.h is found under its name and its version is taken, over the fake
 * driver's 2 GPUs; nothing of NCCL runs (its communicators need real GPUs). */
START_TEST(real_nccl_loads)
{
    static const char *const libs[] = {"/usr/local/cuda/lib64/libnccl.so.2", "/usr/local/cuda/lib/libnccl.so.2"};
    const char *lib = NULL;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0] && !lib; i++)
        if (access(libs[i], R_OK) == 0)
            lib = libs[i];
    if (!lib) {
        fprintf(stderr, "real_nccl_loads: no libnccl.so.2 in /usr/local/cuda: skipped\n");
        return;
    }
    LlmcModelDesc d = fk_tp_desc(2);
    LlmcGpu *g;
    char err[1024];
    fake_tp_reset(2);
    ck_assert_msg(llmc_gpu_open_ranks_api(&g, &d, &fake_api, NULL, lib, err, sizeof err) == 0, "%s: %s", lib, err);
    llmc_gpu_close(g);
    assert_no_leaks();
}
END_TEST

static Suite *gpu_suite(void)
{
    Suite *s = suite_create("gpu_runtime");
    TCase *tc = tcase_create("gpu_runtime");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bucket_sizes);
    tcase_add_test(tc, graph_bucket_rules);
    tcase_add_test(tc, seq_runs);
    tcase_add_test(tc, pad_step_fills_the_bucket);
    tcase_add_test(tc, image_selection_rules);
    tcase_add_test(tc, no_driver_is_a_clear_error);
    tcase_add_test(tc, cuda_desc_checks);
    tcase_add_test(tc, fake_open_refusals);
    tcase_add_test(tc, fake_generate_graphs_and_eager);
    tcase_add_test(tc, fake_no_pdl);
    tcase_add_test(tc, fake_tma_maps);
    tcase_add_test(tc, engine_without_driver_fails_cleanly);
    tcase_add_test(tc, fake_n_nodes_and_errors);
    tcase_add_test(tc, fake_out_of_memory);
    tcase_add_test(tc, fake_compare_cpu);
    tcase_add_test(tc, fake_copy_bandwidth);
    tcase_add_test(tc, fake_bench);
    tcase_add_test(tc, fake_bench_launches);
    tcase_add_test(tc, hip_image_selection);
    tcase_add_test(tc, hip_no_driver);
    tcase_add_test(tc, fake_hip_refusals);
    tcase_add_test(tc, fake_hip_generate);
    tcase_add_test(tc, fake_tp_bias_needs_the_order);
    tcase_add_test(tc, fake_tp_generate);
    tcase_add_test(tc, fake_tp_rank_fails);
    tcase_add_test(tc, fake_tp_setup_fails);
    tcase_add_test(tc, fake_tp_init_fails);
    tcase_add_test(tc, fake_tp_in_progress);
    tcase_add_test(tc, fake_tp_watchdog);
    tcase_add_test(tc, fake_watchdog_hung_gpu);
    tcase_add_test(tc, fake_watchdog_default_one_gpu);
    tcase_add_test(tc, fake_tp_hung_rank);
    tcase_add_test(tc, fake_tp_refusals);
    tcase_add_test(tc, real_nccl_loads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_main(gpu_suite()); }
