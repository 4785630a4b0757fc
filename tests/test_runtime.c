/* test_runtime.c — the runtime without a generated model: KV block allocator, sampler, thread
 * pool and barrier, continuous-batching scheduler, payload loading, benchmark and perplexity.
 *
 * A fake model stands in for generated code. Its forward() really uses the paged KV cache: every
 * token's id is written (as a float) into its KV slot, and the logits of a row are a hash of all
 * token ids of positions 0..p read back through the sequence's block table. With 4 positions per
 * block, sequences span many blocks, so any slot, block table or allocator bug changes outputs.
 * A plain reference (fake_ref_*) computes the same logits straight from the token array, so
 * scheduled runs are compared with the truth, not only with each other.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "device.h"
#include "engine.h"
#include "kvcache.h"
#include "digest.h"
#include "payload.h"
#include "payload_load.h"
#include "perplexity.h"
#include "pool.h"
#include "sample.h"
#include "scheduler.h"
#include "testutil.h"

/* ---- the fake model ---- */

enum { FK_VOCAB = 64, FK_BS = 4, FK_SEQ = 96, FK_BOS = 1, FK_EOS = 2, FK_EOS_FROM = 10 };
#define FK_HASH 0x1234abcd5678ef00ULL

static float fk_bias(int32_t v) { return (float)(v % 3) * 0.25f; }

/* Logits from the hash of positions 0..pos (values exact in float); with eos_rule, EOS wins
 * from position FK_EOS_FROM on. */
static void fk_logits(uint64_t h, int32_t pos, int eos_rule, float *out)
{
    for (int32_t v = 0; v < FK_VOCAB; v++)
        out[v] = (float)(tu_mix64(h + (uint64_t)v) >> 44) / 4096.0f + fk_bias(v);
    out[FK_BOS] = out[FK_EOS] = -100.0f;    /* stops come only from the EOS rule */
    if (eos_rule && pos >= FK_EOS_FROM)
        out[FK_EOS] = 1000.0f;
}

static void fake_init(const LlmcExec *ex)
{
    float *bias = (float *)ex->consts;
    for (int32_t v = 0; v < FK_VOCAB; v++)
        bias[v] = fk_bias(v);
}

static void fake_forward_impl(const LlmcExec *ex, const LlmcStep *st, int tid, int nth,
                              int eos_rule)
{
    float *kv = (float *)ex->kv;
    const float *bias = (const float *)ex->consts;
    for (int32_t t = tid; t < st->n_tokens; t += nth) {
        const int32_t *bt = st->block_tables + (size_t)st->seq_of_token[t] * st->max_blocks_per_seq;
        int32_t pos = st->positions[t];
        if (st->slots[t] != bt[pos / FK_BS] * FK_BS + pos % FK_BS ||
            st->slots[t] >= ex->kv_blocks * FK_BS)
            abort();
        kv[st->slots[t]] = (float)st->tokens[t];
    }
    llmc_barrier(ex->pool);
    for (int32_t o = tid; o < st->n_out; o += nth) {
        int32_t r = st->out_rows[o], pos = st->positions[r];
        const int32_t *bt = st->block_tables + (size_t)st->seq_of_token[r] * st->max_blocks_per_seq;
        uint64_t h = 0;
        for (int32_t p = 0; p <= pos; p++) {
            int32_t b = bt[p / FK_BS];
            if (b < 0 || b >= ex->kv_blocks)
                abort();
            h = tu_step_hash(h, (int32_t)kv[b * FK_BS + p % FK_BS], p);
        }
        float *out = st->logits + (size_t)o * FK_VOCAB;
        fk_logits(h, pos, eos_rule, out);
        for (int32_t v = 0; v < FK_VOCAB; v++)
            out[v] += bias[v] - fk_bias(v);        /* 0 when init ran */
    }
    ex->arena[tid % 64] = 1;
    llmc_barrier(ex->pool);
}

static void fake_forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    fake_forward_impl(ex, st, tid, nth, 0);
}

static void fake_forward_eos(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    fake_forward_impl(ex, st, tid, nth, 1);
}

static const LlmcModelDesc fake_desc = {
    .abi_version = LLMC_ABI_VERSION,
    .name = "fake",
    .target = "cpu",
    .llmc_version = "test",
    .build_info = "fake model for test_runtime",
    .model_hash = FK_HASH,
    .vocab_size = FK_VOCAB,
    .max_seq_len = FK_SEQ,
    .max_tokens = 8,
    .max_outputs = 3,
    .bos_id = FK_BOS,
    .eos_id = FK_EOS,
    .kv_block_size = FK_BS,
    .kv_block_bytes = FK_BS * sizeof(float),
    .weights_bytes = 8192,
    .const_bytes = FK_VOCAB * sizeof(float),
    .arena_bytes = 64,
    .weight_bytes_per_token = 1000,
    .kv_bytes_per_position = 4,
    .init = fake_init,
    .forward = fake_forward,
};

/* Reference logits of position pos of a token array, without any KV cache. */
static void fake_ref_logits(const int32_t *tok, int32_t pos, int eos_rule, float *out)
{
    uint64_t h = 0;
    for (int32_t p = 0; p <= pos; p++)
        h = tu_step_hash(h, tok[p], p);
    fk_logits(h, pos, eos_rule, out);
}

/* Reference generation: what a sequence must produce. Returns the token count. */
static int32_t fake_ref_generate(const int32_t *prompt, int32_t n_prompt, int32_t max_new,
                                 const LlmcSamplerCfg *sc, uint64_t seed, int eos_rule,
                                 int32_t *out, LlmcFinish *why)
{
    LlmcSampleBuf sb;
    ck_assert_int_eq(llmc_samplebuf_init(&sb, FK_VOCAB, NULL, 0), 0);
    LlmcRng rng;
    llmc_rng_seed(&rng, seed);
    memcpy(out, prompt, (size_t)n_prompt * sizeof *out);
    int32_t n = n_prompt;
    *why = LLMC_FINISH_LENGTH;
    if (max_new > FK_SEQ - n_prompt) {
        max_new = FK_SEQ - n_prompt;
        *why = LLMC_FINISH_CONTEXT;
    }
    float logits[FK_VOCAB];
    for (int32_t g = 0; g < max_new; g++) {
        fake_ref_logits(out, n - 1, eos_rule, logits);
        int32_t t = llmc_sample(sc, &rng, logits, FK_VOCAB, &sb);
        if (t == FK_EOS || t == FK_BOS) {
            *why = LLMC_FINISH_EOS;
            break;
        }
        out[n++] = t;
    }
    llmc_samplebuf_free(&sb);
    return n;
}

static void engine_up(LlmcEngine *e, const LlmcModelDesc *d, int nth, int64_t kv_blocks)
{
    static const uint8_t weights[8192];
    char err[512];
    LlmcEngineOpts o = {.n_threads = nth, .kv_blocks = kv_blocks};
    int rc = llmc_engine_init(e, d, weights, &o, err, sizeof err);
    ck_assert_msg(rc == 0, "engine: %s", err);
}

/* ---- a sharded model's ranks (--tp N on the cpu: ranks as threads, runtime/ranks.c) ---- */

enum { RK_RANKS = 3, RK_COLS = 16, RK_PART = 2, RK_STRIDE = 4096 };

/* Rank r's value of x[e]: from its own weights (w[0] = r + 1) and its rank. */
static float rk_x(int r, int64_t e) { return (float)(r + 1) * 0.1f + (float)e * 1e-3f + (float)r; }

/* Each rank: x [T, 16] of its own, summed over the ranks in place; then [O, 2] of the sum plus its
 * rank gathered into the logits [O, 6]. */
static void ranked_forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    float *x = (float *)ex->arena, *part = x + 8 * RK_COLS;
    const float *w = (const float *)ex->weights;
    for (int64_t e = tid; e < (int64_t)st->n_tokens * RK_COLS; e += nth)
        x[e] = w[0] * 0.1f + (float)e * 1e-3f + (float)ex->rank;
    llmc_barrier(ex->pool);
    llmc_all_reduce(ex, st->n_tokens, RK_COLS, x, RK_COLS, x, RK_COLS, tid, nth);
    llmc_barrier(ex->pool);
    for (int64_t e = tid; e < (int64_t)st->n_out * RK_PART; e += nth)
        part[e] = x[st->out_rows[e / RK_PART] * RK_COLS + e % RK_PART] + (float)ex->rank;
    llmc_barrier(ex->pool);
    llmc_all_gather(ex, st->n_out, RK_PART, part, RK_PART, st->logits, RK_PART * RK_RANKS, tid, nth);
    llmc_barrier(ex->pool);
}

static const LlmcModelDesc ranked_desc = {
    .abi_version = LLMC_ABI_VERSION,
    .name = "ranked",
    .target = "cpu",
    .llmc_version = "test",
    .build_info = "fake sharded model for test_runtime",
    .vocab_size = RK_PART * RK_RANKS,
    .max_seq_len = 64,
    .max_tokens = 8,
    .max_outputs = 3,
    .bos_id = 0,
    .eos_id = 1,
    .kv_block_size = 16,
    .kv_block_bytes = 64,
    .weights_bytes = RK_RANKS * RK_STRIDE,
    .n_ranks = RK_RANKS,
    .rank_weights_stride = RK_STRIDE,
    .arena_bytes = 4096,
    .forward = ranked_forward,
};

/* Every rank's sum in rank order (double, rounded once) and the gathered parts, with 1 and 2
 * threads a rank (the rank's threads share the elements with the other ranks'). */
START_TEST(ranks_collectives)
{
    static _Alignas(64) float weights[RK_RANKS * RK_STRIDE / sizeof(float)];
    for (int r = 0; r < RK_RANKS; r++)
        weights[r * RK_STRIDE / sizeof(float)] = (float)(r + 1);
    int32_t tokens[5] = {3, 4, 5, 2, 1}, zeros[5] = {0}, out_rows[3] = {4, 0, 2};
    for (int m = 1; m <= 2; m++) {
        LlmcEngine e;
        char err[512];
        LlmcEngineOpts o = {.n_threads = m * RK_RANKS, .kv_blocks = 2};
        ck_assert_msg(llmc_engine_init(&e, &ranked_desc, (const uint8_t *)weights, &o, err, sizeof err) == 0, "%s", err);
        char where[128];
        e.dev->where(&e, where, sizeof where);
        ck_assert_str_eq(where, m == 1 ? "the cpu (3 ranks of 1 thread)" : "the cpu (3 ranks of 2 threads)");
        float logits[3 * RK_PART * RK_RANKS];
        memset(logits, 0, sizeof logits);
        LlmcStep st = {.n_tokens = 5, .tokens = tokens, .positions = zeros, .seq_of_token = zeros,
                       .slots = zeros, .block_tables = zeros, .max_blocks_per_seq = e.max_blocks_per_seq,
                       .n_out = 3, .out_rows = out_rows, .logits = logits};
        ck_assert_int_eq(llmc_engine_step(&e, &st, err, sizeof err), 0);
        for (int o2 = 0; o2 < 3; o2++)
            for (int q = 0; q < RK_RANKS; q++)
                for (int j = 0; j < RK_PART; j++) {
                    double sum = 0;
                    for (int r = 0; r < RK_RANKS; r++)
                        sum += rk_x(r, (int64_t)out_rows[o2] * RK_COLS + j);
                    float want = (float)sum + (float)q;
                    ck_assert_msg(logits[o2 * RK_PART * RK_RANKS + q * RK_PART + j] == want,
                                  "m %d row %d rank %d col %d: %g, want %g", m, o2, q, j,
                                  (double)logits[o2 * RK_PART * RK_RANKS + q * RK_PART + j], (double)want);
                }
        llmc_engine_destroy(&e);
    }
}
END_TEST

/* ---- KV block allocator ---- */

START_TEST(kv_alloc_free_reuse)
{
    LlmcKvAlloc a;
    ck_assert_int_eq(llmc_kv_init(&a, 5, NULL, 0), 0);
    ck_assert_int_eq(llmc_kv_free_count(&a), 5);
    int32_t got[5];
    for (int i = 0; i < 5; i++) {
        got[i] = llmc_kv_alloc(&a);
        ck_assert_int_eq(got[i], i);
    }
    ck_assert_int_eq(llmc_kv_alloc(&a), -1);
    ck_assert_int_eq(llmc_kv_free_count(&a), 0);
    llmc_kv_free(&a, 3);
    llmc_kv_free(&a, 1);
    ck_assert_int_eq(llmc_kv_free_count(&a), 2);
    ck_assert_int_eq(llmc_kv_alloc(&a), 1);     /* most recently freed first */
    ck_assert_int_eq(llmc_kv_alloc(&a), 3);
    ck_assert_int_eq(llmc_kv_alloc(&a), -1);
    for (int i = 0; i < 5; i++)
        llmc_kv_free(&a, i);
    ck_assert_int_eq(llmc_kv_free_count(&a), 5);
    llmc_kv_destroy(&a);

    char err[256];
    ck_assert_int_eq(llmc_kv_init(&a, -1, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "out of range"));

    ck_assert_int_eq(llmc_kv_blocks_for(0, 4), 0);
    ck_assert_int_eq(llmc_kv_blocks_for(1, 4), 1);
    ck_assert_int_eq(llmc_kv_blocks_for(8, 4), 2);
    ck_assert_int_eq(llmc_kv_blocks_for(9, 4), 3);
    int32_t row[3] = {7, 2, 5};
    ck_assert_int_eq(llmc_kv_slot(row, 4, 0), 28);
    ck_assert_int_eq(llmc_kv_slot(row, 4, 5), 9);
    ck_assert_int_eq(llmc_kv_slot(row, 4, 11), 23);
}
END_TEST

/* ---- sampler ---- */

static void random_logits(LlmcRng *r, float *x, int32_t n, int with_ties)
{
    for (int32_t i = 0; i < n; i++)
        x[i] = (float)(llmc_rng_next(r) >> 40) / 65536.0f;
    if (with_ties) {
        int32_t a = (int32_t)(llmc_rng_next(r) % (uint64_t)n), b = (int32_t)(llmc_rng_next(r) % (uint64_t)n);
        x[a] = x[b] = 1000.0f;
    }
}

START_TEST(sample_greedy_and_degenerate_filters)
{
    float t[] = {1, 3, 3, 2, -1};
    ck_assert_int_eq(llmc_argmax(t, 5), 1);
    LlmcSampleBuf sb;
    ck_assert_int_eq(llmc_samplebuf_init(&sb, 256, NULL, 0), 0);
    LlmcRng rng, data;
    llmc_rng_seed(&rng, 1);
    llmc_rng_seed(&data, 2);
    LlmcSamplerCfg greedy = {0.0f, 0, 1.0f}, k1 = {1.0f, 1, 1.0f}, ptiny = {1.0f, 0, 1e-6f},
                   both = {0.7f, 5, 1e-6f};
    ck_assert_int_eq(llmc_sample(&greedy, &rng, t, 5, &sb), 1);
    ck_assert_int_eq(llmc_sample(&k1, &rng, t, 5, &sb), 1);
    ck_assert_int_eq(llmc_sample(&ptiny, &rng, t, 5, &sb), 1);
    float x[256];
    for (int trial = 0; trial < 200; trial++) {
        random_logits(&data, x, 256, trial % 2);
        int32_t want = llmc_argmax(x, 256);
        ck_assert_int_eq(llmc_sample(&greedy, &rng, x, 256, &sb), want);
        ck_assert_int_eq(llmc_sample(&k1, &rng, x, 256, &sb), want);
        ck_assert_int_eq(llmc_sample(&ptiny, &rng, x, 256, &sb), want);
        ck_assert_int_eq(llmc_sample(&both, &rng, x, 256, &sb), want);
    }
    /* Uniform logits: every token is below the top-p pre-filter's cutoff; still the argmax. */
    for (int i = 0; i < 256; i++)
        x[i] = 0.5f;
    ck_assert_int_eq(llmc_sample(&ptiny, &rng, x, 256, &sb), 0);
    llmc_samplebuf_free(&sb);
}
END_TEST

START_TEST(sample_seeded_sequences)
{
    LlmcSampleBuf sb;
    ck_assert_int_eq(llmc_samplebuf_init(&sb, 100, NULL, 0), 0);
    LlmcSamplerCfg c = {0.9f, 40, 0.9f};
    float x[100];
    LlmcRng data;
    llmc_rng_seed(&data, 7);
    random_logits(&data, x, 100, 0);
    for (int i = 0; i < 100; i++)
        x[i] *= 1e-4f;          /* flat enough that draws vary */
    LlmcRng a, b, c2;
    llmc_rng_seed(&a, 42);
    llmc_rng_seed(&b, 42);
    llmc_rng_seed(&c2, 43);
    int differ = 0;
    for (int i = 0; i < 200; i++) {
        int32_t ta = llmc_sample(&c, &a, x, 100, &sb), tb = llmc_sample(&c, &b, x, 100, &sb);
        ck_assert_int_eq(ta, tb);
        differ += ta != llmc_sample(&c, &c2, x, 100, &sb);
    }
    ck_assert_int_gt(differ, 100);
    llmc_samplebuf_free(&sb);
}
END_TEST

START_TEST(sample_distribution)
{
    LlmcSampleBuf sb;
    ck_assert_int_eq(llmc_samplebuf_init(&sb, 6, NULL, 0), 0);
    const double p[4] = {0.1, 0.2, 0.3, 0.4};
    float x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (float)log(p[i]) + 3.0f;
    LlmcRng rng;
    llmc_rng_seed(&rng, 123);
    enum { N = 100000 };
    struct { LlmcSamplerCfg c; double want[4]; } cases[] = {
        {{1.0f, 0, 1.0f}, {0.1, 0.2, 0.3, 0.4}},
        {{1.0f, 2, 1.0f}, {0, 0, 3.0 / 7, 4.0 / 7}},            /* top-k renormalizes */
        {{1.0f, 0, 0.5f}, {0, 0, 3.0 / 7, 4.0 / 7}},            /* 0.4 < 0.5 <= 0.7 */
        {{1.0f, 0, 0.35f}, {0, 0, 0, 1}},
        {{1.0f, 3, 0.6f}, {0, 0, 3.0 / 7, 4.0 / 7}},            /* 0.4/0.9 < 0.6 <= 0.7/0.9 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int count[4] = {0};
        for (int i = 0; i < N; i++)
            count[llmc_sample(&cases[k].c, &rng, x, 4, &sb)]++;
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fabs((double)count[i] / N - cases[k].want[i]) < 0.01,
                          "case %zu token %d: %f, want %f", k, i, (double)count[i] / N,
                          cases[k].want[i]);
    }
    /* top-p alone: the pre-filter drops the four 0.025s, but the nucleus is still measured
     * against the whole distribution: 0.6 < 0.65 <= 0.9. */
    const double q[6] = {0.025, 0.6, 0.025, 0.3, 0.025, 0.025};
    float y[6];
    for (int i = 0; i < 6; i++)
        y[i] = (float)log(q[i]);
    LlmcSamplerCfg nucleus = {1.0f, 0, 0.65f};
    int cnt[6] = {0};
    for (int i = 0; i < N; i++)
        cnt[llmc_sample(&nucleus, &rng, y, 6, &sb)]++;
    ck_assert_int_eq(cnt[0] + cnt[2] + cnt[4] + cnt[5], 0);
    ck_assert_msg(fabs((double)cnt[3] / N - 1.0 / 3) < 0.01, "%f", (double)cnt[3] / N);
    /* A cold temperature is nearly greedy. */
    LlmcSamplerCfg cold = {0.01f, 0, 1.0f};
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(llmc_sample(&cold, &rng, x, 4, &sb), 3);
    llmc_samplebuf_free(&sb);
}
END_TEST

/* ---- pool and barrier ---- */

typedef struct BarrierJob {
    LlmcPool *pool;
    int iters;
    atomic_int slot[8];
    atomic_int bad;
} BarrierJob;

static void barrier_job(void *arg, int tid, int nth)
{
    BarrierJob *j = arg;
    for (int i = 1; i <= j->iters; i++) {
        atomic_store_explicit(&j->slot[tid], i, memory_order_relaxed);
        llmc_barrier(j->pool);
        for (int t = 0; t < nth; t++)
            if (atomic_load_explicit(&j->slot[t], memory_order_relaxed) != i)
                atomic_store(&j->bad, 1);
        llmc_barrier(j->pool);
    }
}

START_TEST(pool_barrier_stress)
{
    for (int nth = 1; nth <= 4; nth++) {
        LlmcPool *p;
        char err[256];
        ck_assert_msg(llmc_pool_create(&p, nth, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(llmc_pool_nth(p), nth);
        BarrierJob j = {.pool = p, .iters = 3000};
        for (int r = 0; r < 3; r++)
            llmc_pool_run(p, barrier_job, &j);
        ck_assert_int_eq(atomic_load(&j.bad), 0);
        llmc_pool_destroy(p);
    }
}
END_TEST

typedef struct CountJob {
    int64_t per_tid[8];         /* each thread writes its own entry only */
} CountJob;

static void count_job(void *arg, int tid, int nth)
{
    CountJob *j = arg;
    (void)nth;
    j->per_tid[tid]++;
}

START_TEST(pool_handshake)
{
    LlmcPool *p;
    ck_assert_int_eq(llmc_pool_create(&p, 3, NULL, 0), 0);
    CountJob j = {{0}};
    for (int r = 0; r < 4000; r++) {
        llmc_pool_run(p, count_job, &j);
        if (r % 1000 == 999)
            usleep(20000);      /* long enough for the workers to go to sleep */
    }
    for (int t = 0; t < 3; t++)
        ck_assert_int_eq(j.per_tid[t], 4000);
    llmc_pool_destroy(p);
    char err[256];
    ck_assert_int_eq(llmc_pool_create(&p, 0, err, sizeof err), -1);
}
END_TEST

/* ---- scheduler ---- */

typedef struct Done {
    int n;
    int32_t order[64];
    LlmcFinish why[64];
    int tokens[64];             /* on_token calls */
    LlmcSchedStats stats;       /* run_batch: the scheduler's at the end */
} Done;

static int rec_token(void *ctx, int32_t seq, int32_t token)
{
    Done *d = ctx;
    (void)token;
    d->tokens[seq]++;
    return 0;
}

static int rec_done(void *ctx, int32_t seq, LlmcFinish why)
{
    Done *d = ctx;
    d->order[d->n++] = seq;
    d->why[seq] = why;
    return 0;
}

enum { N_PROMPTS = 8 };
static const int32_t prompt_len[N_PROMPTS] = {1, 3, 7, 12, 5, 20, 9, 16};
static const int32_t prompt_new[N_PROMPTS] = {10, 25, 5, 30, 17, 8, 40, 12};

static void make_prompt(int i, int32_t *out)
{
    out[0] = FK_BOS;
    for (int32_t k = 1; k < prompt_len[i]; k++)
        out[k] = 3 + (int32_t)(tu_mix64((uint64_t)(i * 1000 + k)) % (FK_VOCAB - 3));
}

/* Runs the 8 prompts through one scheduler and checks every sequence against the reference. */
static void run_batch(const LlmcModelDesc *d, int nth, int32_t max_batch, int64_t kv_blocks,
                      const LlmcSamplerCfg *sc, uint64_t seed, int eos_rule, Done *done)
{
    LlmcEngine e;
    engine_up(&e, d, nth, kv_blocks);
    LlmcSched *s;
    char err[512];
    memset(done, 0, sizeof *done);
    LlmcSchedConfig cfg = {.max_batch = max_batch};
    LlmcSchedHooks hooks = {.ctx = done, .on_token = rec_token, .on_done = rec_done};
    ck_assert_msg(llmc_sched_create(&s, &e, &cfg, &hooks, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < N_PROMPTS; i++) {
        int32_t p[32];
        make_prompt(i, p);
        LlmcSeqReq req = {.prompt = p, .n_prompt = prompt_len[i], .max_new = prompt_new[i],
                          .logits_from = -1, .sampler = *sc, .seed = seed};
        ck_assert_int_eq(llmc_sched_add(s, &req, err, sizeof err), i);
    }
    ck_assert_msg(llmc_sched_run(s, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(done->n, N_PROMPTS);
    for (int i = 0; i < N_PROMPTS; i++) {
        int32_t p[32], want[FK_SEQ], n;
        make_prompt(i, p);
        LlmcFinish why;
        int32_t n_want = fake_ref_generate(p, prompt_len[i], prompt_new[i], sc, seed, eos_rule,
                                           want, &why);
        const int32_t *got = llmc_sched_tokens(s, i, &n);
        ck_assert_msg(n == n_want, "threads %d batch %d seq %d: %d tokens, want %d", nth,
                      max_batch, i, n, n_want);
        ck_assert_msg(memcmp(got, want, (size_t)n * sizeof *got) == 0,
                      "threads %d batch %d seq %d: tokens differ from the reference", nth,
                      max_batch, i);
        ck_assert_int_eq(done->why[i], why);
        ck_assert_int_eq(done->tokens[i], n - prompt_len[i]);
        ck_assert(llmc_sched_is_done(s, i));
    }
    done->stats = *llmc_sched_stats(s);
    ck_assert_int_le(done->stats.kv_blocks_peak, kv_blocks);
    ck_assert_int_le(done->stats.running_peak, max_batch);
    llmc_sched_destroy(s);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), e.kv.n_blocks);    /* every block came back */
    llmc_engine_destroy(&e);
}

START_TEST(sched_batched_equals_alone)
{
    const LlmcSamplerCfg greedy = {0.0f, 0, 1.0f}, warm = {0.9f, 12, 0.95f};
    Done done;
    int32_t blocks = llmc_kv_blocks_for(FK_SEQ, FK_BS);
    /* Alone (one at a time), batched with plenty of KV, and batched with KV for less than two
     * sequences at their longest: 15 blocks, and 12, the least that holds the longest (9 + 40
     * positions), where sequences are preempted and recomputed. */
    for (int t = 0; t < 2; t++) {
        const LlmcSamplerCfg *sc = t ? &warm : &greedy;
        run_batch(&fake_desc, 1, 1, blocks, sc, 5, 0, &done);
        for (int i = 0; i < N_PROMPTS; i++)
            ck_assert_int_eq(done.order[i], i);
        ck_assert_int_eq(done.stats.preemptions, 0);
        run_batch(&fake_desc, 2, 3, 3 * blocks, sc, 5, 0, &done);
        ck_assert_int_eq(done.stats.preemptions, 0);
        ck_assert_int_eq(done.stats.running_peak, 3);
        run_batch(&fake_desc, 1, 3, 15, sc, 5, 0, &done);
        run_batch(&fake_desc, 2, 3, 12, sc, 5, 0, &done);
        ck_assert_int_gt(done.stats.preemptions, 0);
        ck_assert_int_gt(done.stats.recomputed_tokens, 0);
        ck_assert_int_eq(done.stats.kv_blocks_peak, 12);
    }
    /* A prompt of 20 tokens with max_tokens 8 spans 3 steps; short ones finish first. */
    run_batch(&fake_desc, 1, 3, 3 * blocks, &greedy, 5, 0, &done);
    ck_assert_int_ne(done.order[0], 0);
}
END_TEST

/* A sequence holds the blocks its positions reach, taken before the step that writes them. */
START_TEST(sched_blocks_on_demand)
{
    LlmcEngine e;
    engine_up(&e, &fake_desc, 1, 100);
    LlmcSched *s;
    char err[512];
    LlmcSchedConfig cfg = {.max_batch = 1};
    ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, NULL, err, sizeof err), 0);
    int32_t p[20];
    for (int32_t k = 0; k < 20; k++)
        p[k] = 3 + k;
    LlmcSeqReq r = {.prompt = p, .n_prompt = 20, .max_new = 30, .logits_from = -1};
    ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), 0);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), 100);     /* nothing taken before it runs */
    int32_t steps = 0, n;
    while (llmc_sched_step(s, err, sizeof err) == 1) {
        steps++;
        llmc_sched_tokens(s, 0, &n);
        /* the prompt in chunks of 8 (max_tokens), then one position a step */
        int32_t fed = n == 20 ? 8 * steps : n - 1;
        if (llmc_sched_is_done(s, 0))
            break;
        ck_assert_msg(100 - llmc_kv_free_count(&e.kv) == llmc_kv_blocks_for(fed, FK_BS),
                      "step %d: %d blocks held for %d positions", steps,
                      100 - llmc_kv_free_count(&e.kv), fed);
    }
    ck_assert_int_eq(n, 50);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), 100);
    ck_assert_int_eq(llmc_sched_stats(s)->kv_blocks_peak, llmc_kv_blocks_for(49, FK_BS));
    ck_assert_int_eq(llmc_sched_stats(s)->kv_blocks, 100);
    llmc_sched_destroy(s);
    llmc_engine_destroy(&e);
}
END_TEST

/* Admission takes what the pool can start: the blocks of each first chunk beside the next step
 * of the running ones, not each sequence's longest length. */
START_TEST(sched_admits_what_the_pool_starts)
{
    const LlmcSamplerCfg greedy = {0.0f, 0, 1.0f};
    int32_t p[4][8];
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 8; k++)
            p[i][k] = 3 + (int32_t)(tu_mix64((uint64_t)(i * 40 + k)) % 60);
    /* pool 12: three sequences of 8 + 12 positions (5 blocks each at their longest) start at
     * once; pool 5: the third's first chunk (2 blocks) does not fit beside the others' 4 */
    const int32_t pools[2] = {12, 5}, started[2] = {3, 2};
    for (int t = 0; t < 2; t++) {
        LlmcEngine e;
        engine_up(&e, &fake_desc, 1, pools[t]);
        LlmcSched *s;
        char err[512];
        LlmcSchedConfig cfg = {.max_batch = 3};
        ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, NULL, err, sizeof err), 0);
        for (int i = 0; i < 4; i++) {
            LlmcSeqReq r = {.prompt = p[i], .n_prompt = 8, .max_new = 13, .logits_from = -1};
            ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), i);
        }
        ck_assert_int_eq(llmc_sched_step(s, err, sizeof err), 1);
        ck_assert_int_eq(llmc_sched_n_running(s), started[t]);
        ck_assert_int_eq(llmc_sched_n_waiting(s), 4 - started[t]);
        ck_assert_msg(llmc_sched_run(s, err, sizeof err) == 0, "%s", err);
        ck_assert_int_gt(llmc_sched_stats(s)->preemptions, 0);
        for (int i = 0; i < 4; i++) {
            int32_t want[FK_SEQ], n;
            LlmcFinish why;
            int32_t n_want = fake_ref_generate(p[i], 8, 13, &greedy, 0, 0, want, &why);
            const int32_t *got = llmc_sched_tokens(s, i, &n);
            ck_assert_msg(n == n_want && memcmp(got, want, (size_t)n * sizeof *got) == 0,
                          "pool %d, seq %d differs from its run alone", pools[t], i);
        }
        llmc_sched_destroy(s);
        ck_assert_int_eq(llmc_kv_free_count(&e.kv), pools[t]);
        llmc_engine_destroy(&e);
    }
}
END_TEST

/* The pool runs out: the newest running sequence is preempted, goes back to the front of the
 * queue (before sequences never admitted), and resumes exactly where it stood, sampled or not;
 * a preempted sequence can be cancelled while it waits. */
START_TEST(sched_preemption_order_and_resumption)
{
    const LlmcSamplerCfg cfgs[3] = {{0.0f, 0, 1.0f}, {0.9f, 12, 0.95f}, {1.3f, 0, 1.0f}};
    int32_t p[5][8];
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 4; k++)
            p[i][k] = 3 + (int32_t)(tu_mix64((uint64_t)(i * 70 + k)) % 60);
    /* 0, 1, 2: 4 + 20 (6 blocks at their longest); 3: 1 + 1; 4 as 2 */
    const int32_t len[5] = {4, 4, 4, 1, 4}, nnew[5] = {20, 20, 20, 1, 20};
    for (int cancel = 0; cancel < 2; cancel++) {
        LlmcEngine e;
        engine_up(&e, &fake_desc, 2, 12);
        LlmcSched *s;
        Done done = {0};
        char err[512];
        LlmcSchedConfig cfg = {.max_batch = 3};
        LlmcSchedHooks hooks = {.ctx = &done, .on_token = rec_token, .on_done = rec_done};
        ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, &hooks, err, sizeof err), 0);
        for (int i = 0; i < 5; i++) {
            LlmcSeqReq r = {.prompt = p[i], .n_prompt = len[i], .max_new = nnew[i],
                            .logits_from = -1, .sampler = cfgs[i % 3], .seed = (uint64_t)i + 1};
            ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), i);
        }
        /* 0, 1 and 2 run (max_batch 3) until their 5th blocks do not fit: 2 gives way */
        while (llmc_sched_stats(s)->preemptions == 0)
            ck_assert_int_eq(llmc_sched_step(s, err, sizeof err), 1);
        ck_assert_int_eq(llmc_sched_n_preempted(s, 0), 0);
        ck_assert_int_eq(llmc_sched_n_preempted(s, 1), 0);
        ck_assert_int_eq(llmc_sched_n_preempted(s, 2), 1);
        ck_assert_int_eq(llmc_sched_n_running(s), 2);
        ck_assert_int_eq(llmc_sched_n_waiting(s), 3);
        int32_t n2;
        llmc_sched_tokens(s, 2, &n2);
        ck_assert_int_gt(n2, len[2]);               /* it had sampled tokens: they stay */
        if (cancel) {
            ck_assert_int_eq(llmc_sched_cancel(s, 2, err, sizeof err), 1);
            ck_assert_int_eq(llmc_sched_n_waiting(s), 2);
            ck_assert_int_eq(done.why[2], LLMC_FINISH_CANCELLED);
        }
        ck_assert_msg(llmc_sched_run(s, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(done.n, 5);
        /* 3 (two positions) waited for a row behind the preempted 2: it finished after 0; with
         * 2 cancelled, it took 2's row at once */
        int at0 = -1, at3 = -1;
        for (int k = 0; k < 5; k++) {
            at0 = done.order[k] == 0 ? k : at0;
            at3 = done.order[k] == 3 ? k : at3;
        }
        ck_assert_msg(cancel ? at3 < at0 : at3 > at0, "cancel %d: sequence 3 finished %s 0",
                      cancel, cancel ? "after" : "before");
        for (int i = 0; i < 5; i++) {
            if (cancel && i == 2)
                continue;
            int32_t want[FK_SEQ], n;
            LlmcFinish why;
            int32_t n_want = fake_ref_generate(p[i], len[i], nnew[i], &cfgs[i % 3],
                                               (uint64_t)i + 1, 0, want, &why);
            const int32_t *got = llmc_sched_tokens(s, i, &n);
            ck_assert_msg(n == n_want && memcmp(got, want, (size_t)n * sizeof *got) == 0,
                          "seq %d differs from its run alone", i);
            ck_assert_int_eq(done.tokens[i], n - len[i]);   /* each token reported once */
            ck_assert_int_eq(done.why[i], why);
        }
        ck_assert_int_le(llmc_sched_stats(s)->kv_blocks_peak, 12);
        llmc_sched_destroy(s);
        ck_assert_int_eq(llmc_kv_free_count(&e.kv), 12);
        llmc_engine_destroy(&e);
    }
}
END_TEST

START_TEST(sched_threads_identical)
{
    const LlmcSamplerCfg warm = {0.8f, 0, 0.9f};
    Done done;
    for (int nth = 1; nth <= 3; nth++)
        run_batch(&fake_desc, nth, 3, 60, &warm, 99, 0, &done);
}
END_TEST

START_TEST(sched_stops_at_eos)
{
    LlmcModelDesc d = fake_desc;
    d.forward = fake_forward_eos;
    const LlmcSamplerCfg greedy = {0.0f, 0, 1.0f};
    Done done;
    run_batch(&d, 2, 3, 100, &greedy, 0, 1, &done);
    for (int i = 0; i < N_PROMPTS; i++) {
        int32_t stop = prompt_len[i] > FK_EOS_FROM + 1 ? prompt_len[i] : FK_EOS_FROM + 1;
        int eos = stop - prompt_len[i] < prompt_new[i];
        ck_assert_int_eq(done.why[i], eos ? LLMC_FINISH_EOS : LLMC_FINISH_LENGTH);
        if (eos)
            ck_assert_int_eq(done.tokens[i], stop - prompt_len[i]);
    }

    /* ignore_eos runs to max_new; context clamps report CONTEXT. */
    LlmcEngine e;
    engine_up(&e, &d, 1, 100);
    LlmcSched *s;
    memset(&done, 0, sizeof done);
    LlmcSchedConfig cfg = {.max_batch = 2};
    LlmcSchedHooks hooks = {.ctx = &done, .on_token = rec_token, .on_done = rec_done};
    ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, &hooks, NULL, 0), 0);
    int32_t p[FK_SEQ];
    for (int i = 0; i < FK_SEQ; i++)
        p[i] = 3 + i % 50;
    LlmcSeqReq a = {.prompt = p, .n_prompt = 4, .max_new = 30, .logits_from = -1,
                    .ignore_eos = 1};
    LlmcSeqReq b = {.prompt = p, .n_prompt = 90, .max_new = 50, .logits_from = -1,
                    .ignore_eos = 1};
    ck_assert_int_eq(llmc_sched_add(s, &a, NULL, 0), 0);
    ck_assert_int_eq(llmc_sched_add(s, &b, NULL, 0), 1);
    ck_assert_int_eq(llmc_sched_run(s, NULL, 0), 0);
    int32_t n;
    const int32_t *t = llmc_sched_tokens(s, 0, &n);
    ck_assert_int_eq(n, 34);
    ck_assert_int_eq(done.why[0], LLMC_FINISH_LENGTH);
    ck_assert_int_eq(t[FK_EOS_FROM + 1], FK_EOS);
    llmc_sched_tokens(s, 1, &n);
    ck_assert_int_eq(n, FK_SEQ);
    ck_assert_int_eq(done.why[1], LLMC_FINISH_CONTEXT);
    llmc_sched_destroy(s);
    llmc_engine_destroy(&e);
}
END_TEST

START_TEST(sched_rejects_bad_requests)
{
    LlmcEngine e;
    engine_up(&e, &fake_desc, 1, 10);
    LlmcSched *s;
    char err[512];
    LlmcSchedConfig cfg = {.max_batch = 4};
    ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, NULL, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "batch size 4"));
    cfg.max_batch = 2;
    ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, NULL, err, sizeof err), 0);
    int32_t p[FK_SEQ + 1] = {0};
    LlmcSeqReq r = {.prompt = p, .n_prompt = 0, .max_new = 1, .logits_from = -1};
    ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), -1);
    r.n_prompt = FK_SEQ + 1;
    ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "context"));
    r.n_prompt = 3;
    p[1] = FK_VOCAB;
    ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "vocabulary"));
    p[1] = 5;
    r.max_new = 60;             /* 62 positions: 16 blocks, the pool has 10 */
    ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "KV"));
    r.max_new = 37;             /* 39 positions: exactly 10 blocks */
    ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), 0);
    ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), 1);
    ck_assert_int_eq(llmc_sched_step(s, err, sizeof err), 1);
    /* both started, each holding the one block of its prompt */
    ck_assert_int_eq(llmc_sched_n_running(s), 2);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), 8);
    ck_assert_int_eq(llmc_sched_run(s, err, sizeof err), 0);
    ck_assert_int_eq(llmc_sched_step(s, err, sizeof err), 0);
    /* together they outgrew the pool: the newest gave way, and both equal their runs alone */
    ck_assert_int_gt(llmc_sched_stats(s)->preemptions, 0);
    ck_assert_int_eq(llmc_sched_n_preempted(s, 0), 0);
    ck_assert_int_gt(llmc_sched_n_preempted(s, 1), 0);
    ck_assert_int_eq(llmc_sched_stats(s)->kv_blocks_peak, 10);
    for (int32_t i = 0; i < 2; i++) {
        const LlmcSamplerCfg greedy = {0.0f, 0, 1.0f};
        int32_t want[FK_SEQ], n;
        LlmcFinish why;
        int32_t n_want = fake_ref_generate(p, 3, 37, &greedy, 0, 0, want, &why);
        const int32_t *got = llmc_sched_tokens(s, i, &n);
        ck_assert_int_eq(n, n_want);
        ck_assert(memcmp(got, want, (size_t)n * sizeof *got) == 0);
    }
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), 10);
    llmc_sched_destroy(s);
    llmc_engine_destroy(&e);
}
END_TEST

/* Each sequence its own sampler, seed and stop ids: in one batch, each equals its run alone, with
 * a pool for all and with the least pool (12 blocks), where sequences are preempted. */
static void per_sequence_sampling(int64_t pool)
{
    const LlmcSamplerCfg cfgs[4] = {{0.9f, 12, 0.95f}, {0.0f, 0, 1.0f}, {1.3f, 0, 1.0f},
                                    {0.7f, 5, 0.8f}};
    const uint64_t seeds[4] = {5, 0, 77, 5};
    LlmcEngine e;
    engine_up(&e, &fake_desc, 2, pool);
    int32_t start = llmc_kv_free_count(&e.kv);
    LlmcSched *s;
    Done done = {0};
    char err[512];
    LlmcSchedConfig cfg = {.max_batch = 3};
    LlmcSchedHooks hooks = {.ctx = &done, .on_token = rec_token, .on_done = rec_done};
    ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, &hooks, err, sizeof err), 0);
    int32_t p[N_PROMPTS][32], want[N_PROMPTS][FK_SEQ], n_want[N_PROMPTS];
    LlmcFinish why[N_PROMPTS];
    for (int i = 0; i < N_PROMPTS; i++) {
        make_prompt(i, p[i]);
        const LlmcSamplerCfg *sc = &cfgs[i % 4];
        n_want[i] = fake_ref_generate(p[i], prompt_len[i], prompt_new[i], sc, seeds[i % 4], 0,
                                      want[i], &why[i]);
        LlmcSeqReq r = {.prompt = p[i], .n_prompt = prompt_len[i], .max_new = prompt_new[i],
                        .logits_from = -1, .sampler = *sc, .seed = seeds[i % 4]};
        /* sequence 6 stops at its third sampled token */
        int32_t stop = want[i][prompt_len[i] + 2];
        if (i == 6) {
            r.stop_ids = &stop;
            r.n_stop = 1;
            for (int32_t k = prompt_len[i]; k < n_want[i]; k++)
                if (want[i][k] == stop) {
                    n_want[i] = k;
                    why[i] = LLMC_FINISH_STOP;
                    break;
                }
        }
        ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), i);
    }
    ck_assert_msg(llmc_sched_run(s, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < N_PROMPTS; i++) {
        int32_t n;
        const int32_t *got = llmc_sched_tokens(s, i, &n);
        ck_assert_msg(n == n_want[i], "seq %d: %d tokens, want %d", i, n, n_want[i]);
        ck_assert_msg(memcmp(got, want[i], (size_t)n * sizeof *got) == 0, "seq %d differs", i);
        ck_assert_int_eq(done.why[i], why[i]);
    }
    ck_assert_int_eq(done.why[6], LLMC_FINISH_STOP);
    if (pool < 20)
        ck_assert_int_gt(llmc_sched_stats(s)->preemptions, 0);
    int32_t bad = FK_VOCAB;
    LlmcSeqReq r = {.prompt = p[0], .n_prompt = 3, .max_new = 1, .logits_from = -1,
                    .stop_ids = &bad, .n_stop = 1};
    ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "stop id"));
    llmc_sched_destroy(s);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), start);
    llmc_engine_destroy(&e);
}

START_TEST(sched_per_sequence_sampling)
{
    per_sequence_sampling(100);
    per_sequence_sampling(12);
}
END_TEST

/* The tokens of sequence i so far must be a prefix of its reference (greedy, seed 0). */
static void expect_prefix(LlmcSched *s, int32_t id, const int32_t *prompt, int32_t n_prompt,
                          int32_t max_new)
{
    const LlmcSamplerCfg greedy = {0.0f, 0, 1.0f};
    int32_t want[FK_SEQ], n;
    LlmcFinish why;
    int32_t n_want = fake_ref_generate(prompt, n_prompt, max_new, &greedy, 0, 0, want, &why);
    const int32_t *got = llmc_sched_tokens(s, id, &n);
    ck_assert_msg(n <= n_want && memcmp(got, want, (size_t)n * sizeof *got) == 0,
                  "seq %d: not a prefix of its reference", id);
}

/* Cancel while waiting, in prefill and in decode; add while running; rows, slots and blocks are
 * reused, ids never; every block comes back. */
START_TEST(sched_cancel_and_add_while_running)
{
    LlmcEngine e;
    engine_up(&e, &fake_desc, 1, 40);
    int32_t start = llmc_kv_free_count(&e.kv);
    LlmcSched *s;
    Done done = {0};
    char err[512];
    LlmcSchedConfig cfg = {.max_batch = 2};
    LlmcSchedHooks hooks = {.ctx = &done, .on_token = rec_token, .on_done = rec_done};
    ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, &hooks, err, sizeof err), 0);
    int32_t p[8][32];
    const int32_t len[8] = {20, 5, 7, 9, 6, 11, 3, 4}, nnew[8] = {30, 30, 10, 12, 14, 9, 20, 6};
    for (int i = 0; i < 8; i++)
        for (int32_t k = 0; k < len[i]; k++)
            p[i][k] = 3 + (int32_t)(tu_mix64((uint64_t)(i * 500 + k)) % (FK_VOCAB - 3));
    for (int i = 0; i < 4; i++) {
        LlmcSeqReq r = {.prompt = p[i], .n_prompt = len[i], .max_new = nnew[i],
                        .logits_from = -1};
        ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), i);
    }
    ck_assert_int_eq(llmc_sched_n_waiting(s), 4);
    /* step 1: 0 and 1 admitted; 8 of 0's 20 prompt tokens fill the step (max_tokens 8): 0 holds
     * the 2 blocks of its 8 positions, 1 none yet */
    ck_assert_int_eq(llmc_sched_step(s, err, sizeof err), 1);
    ck_assert_int_eq(llmc_sched_n_running(s), 2);
    ck_assert_int_eq(llmc_sched_n_waiting(s), 2);
    ck_assert_int_eq(start - llmc_kv_free_count(&e.kv), 2);
    /* cancel 0 mid-prefill: its blocks are free at once */
    ck_assert_int_eq(llmc_sched_cancel(s, 0, err, sizeof err), 1);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), start);
    ck_assert_int_eq(done.why[0], LLMC_FINISH_CANCELLED);
    ck_assert(llmc_sched_is_done(s, 0));
    ck_assert_int_eq(llmc_sched_n_running(s), 1);
    ck_assert_int_eq(llmc_sched_cancel(s, 0, err, sizeof err), 0);     /* already done */
    /* cancel 2 while it waits: 3 is admitted in its place */
    ck_assert_int_eq(llmc_sched_cancel(s, 2, err, sizeof err), 1);
    ck_assert_int_eq(done.why[2], LLMC_FINISH_CANCELLED);
    ck_assert_int_eq(llmc_sched_n_waiting(s), 1);
    ck_assert_int_eq(llmc_sched_step(s, err, sizeof err), 1);
    ck_assert_int_eq(llmc_sched_n_running(s), 2);
    ck_assert_int_eq(llmc_sched_n_waiting(s), 0);
    int32_t n;
    ck_assert_int_eq(llmc_sched_tokens(s, 2, &n)[0], p[2][0]);
    ck_assert_int_eq(n, len[2]);
    /* run until 1 decodes, then cancel it mid-decode */
    while (llmc_sched_tokens(s, 1, &n), n < len[1] + 4)
        ck_assert_int_eq(llmc_sched_step(s, err, sizeof err), 1);
    expect_prefix(s, 1, p[1], len[1], nnew[1]);
    ck_assert_int_eq(llmc_sched_cancel(s, 1, err, sizeof err), 1);
    ck_assert_int_eq(done.tokens[1], 4);
    /* add while running: new ids, their own rows; the finished ones stay readable */
    for (int i = 4; i < 8; i++) {
        LlmcSeqReq r = {.prompt = p[i], .n_prompt = len[i], .max_new = nnew[i],
                        .logits_from = -1};
        ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), i);
        ck_assert_int_eq(llmc_sched_step(s, err, sizeof err), 1);
    }
    ck_assert_int_eq(llmc_sched_n_seqs(s), 8);
    ck_assert_int_eq(llmc_sched_cancel(s, 7, err, sizeof err), 1);
    ck_assert_msg(llmc_sched_run(s, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(llmc_sched_step(s, err, sizeof err), 0);
    for (int i = 3; i < 7; i++) {
        const LlmcSamplerCfg greedy = {0.0f, 0, 1.0f};
        int32_t want[FK_SEQ];
        LlmcFinish why;
        int32_t n_want = fake_ref_generate(p[i], len[i], nnew[i], &greedy, 0, 0, want, &why);
        const int32_t *got = llmc_sched_tokens(s, i, &n);
        ck_assert_msg(n == n_want && memcmp(got, want, (size_t)n * sizeof *got) == 0,
                      "seq %d differs from its run alone", i);
        ck_assert_int_eq(done.why[i], why);
    }
    expect_prefix(s, 1, p[1], len[1], nnew[1]);
    ck_assert_int_eq(done.why[7], LLMC_FINISH_CANCELLED);
    ck_assert_int_eq(done.n, 8);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), start);     /* no block leaked */
    /* and the pool hands the same blocks out again */
    LlmcSeqReq r = {.prompt = p[0], .n_prompt = len[0], .max_new = nnew[0], .logits_from = -1};
    ck_assert_int_eq(llmc_sched_add(s, &r, err, sizeof err), 8);
    ck_assert_msg(llmc_sched_run(s, err, sizeof err) == 0, "%s", err);
    expect_prefix(s, 8, p[0], len[0], nnew[0]);
    llmc_sched_tokens(s, 8, &n);
    ck_assert_int_eq(n, len[0] + nnew[0]);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), start);
    llmc_sched_destroy(s);
    llmc_engine_destroy(&e);
}
END_TEST

/* A stream of sequences, each forgotten once done (as generate.c does): every one still matches
 * its run alone, ids keep counting, and the records of forgotten ones are dropped. */
typedef struct Stream {
    LlmcSched *s;
    int32_t done[16], n_done, n_checked, bad;
} Stream;

static int stream_done(void *ctx, int32_t seq, LlmcFinish why)
{
    Stream *st = ctx;
    int32_t p[32], want[FK_SEQ], n;
    make_prompt(seq % N_PROMPTS, p);
    LlmcFinish want_why;
    const LlmcSamplerCfg greedy = {0.0f, 0, 1.0f};
    int32_t n_want = fake_ref_generate(p, prompt_len[seq % N_PROMPTS], prompt_new[seq % N_PROMPTS],
                                       &greedy, 0, 0, want, &want_why);
    const int32_t *got = llmc_sched_tokens(st->s, seq, &n);
    st->bad |= n != n_want || memcmp(got, want, (size_t)n * sizeof *got) != 0 || why != want_why;
    st->done[st->n_done++] = seq;
    st->n_checked++;
    return 0;
}

static void forget_streams(int small)
{
    LlmcEngine e;
    engine_up(&e, &fake_desc, 1, small ? 12 : 3 * llmc_kv_blocks_for(FK_SEQ, FK_BS));
    char err[512];
    Stream st = {0};
    LlmcSchedConfig cfg = {.max_batch = 3};
    LlmcSchedHooks hooks = {.ctx = &st, .on_done = stream_done};
    ck_assert_msg(llmc_sched_create(&st.s, &e, &cfg, &hooks, err, sizeof err) == 0, "%s", err);
    enum { TOTAL = 500 };
    int32_t added = 0;
    for (;;) {
        while (added < TOTAL && llmc_sched_n_waiting(st.s) < 3) {
            int32_t p[32];
            int i = added % N_PROMPTS;
            make_prompt(i, p);
            LlmcSeqReq req = {.prompt = p, .n_prompt = prompt_len[i], .max_new = prompt_new[i],
                              .logits_from = -1};
            ck_assert_int_eq(llmc_sched_add(st.s, &req, err, sizeof err), added);
            added++;
        }
        st.n_done = 0;
        int rc = llmc_sched_step(st.s, err, sizeof err);
        ck_assert_msg(rc >= 0, "%s", err);
        for (int32_t k = 0; k < st.n_done; k++)
            llmc_sched_forget(st.s, st.done[k]);
        if (rc == 0 && added == TOTAL)
            break;
    }
    ck_assert_int_eq(st.n_checked, TOTAL);
    ck_assert(!st.bad);
    ck_assert_int_eq(llmc_sched_n_seqs(st.s), TOTAL);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), e.kv.n_blocks);
    ck_assert(small ? llmc_sched_stats(st.s)->preemptions > 0
                    : llmc_sched_stats(st.s)->preemptions == 0);
    llmc_sched_destroy(st.s);
    llmc_engine_destroy(&e);
}

/* A pool for 3 sequences of the context, and the least one, where they are preempted. */
START_TEST(sched_forget_streams)
{
    forget_streams(0);
    forget_streams(1);
}
END_TEST

/* Prompt logits (logits_from) with max_outputs 3: prefill chunks shrink to fit the outputs. */
typedef struct Seen {
    int count[4][FK_SEQ];
    int bad;
    const int32_t *prompts[4];
} Seen;

static int rec_logits(void *ctx, int32_t seq, int32_t pos, const float *logits)
{
    Seen *s = ctx;
    float want[FK_VOCAB];
    fake_ref_logits(s->prompts[seq], pos, 0, want);
    if (memcmp(want, logits, sizeof want) != 0)
        s->bad = 1;
    s->count[seq][pos]++;
    return 0;
}

static void prompt_logits(int small)
{
    LlmcEngine e;
    engine_up(&e, &fake_desc, 2, small ? 10 : 100);
    LlmcSched *s;
    Seen seen = {0};
    LlmcSchedConfig cfg = {.max_batch = 3};
    LlmcSchedHooks hooks = {.ctx = &seen, .on_logits = rec_logits};
    ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, &hooks, NULL, 0), 0);
    int32_t p[4][40];
    int32_t len[4] = {40, 17, 30, 9}, from[4] = {20, 0, 29, -1};
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < len[i]; k++)
            p[i][k] = 3 + (int32_t)(tu_mix64((uint64_t)(i * 77 + k)) % 60);
        seen.prompts[i] = p[i];
        LlmcSeqReq r = {.prompt = p[i], .n_prompt = len[i], .max_new = i == 3 ? 5 : 0,
                        .logits_from = from[i]};
        ck_assert_int_eq(llmc_sched_add(s, &r, NULL, 0), i);
    }
    ck_assert_int_eq(llmc_sched_run(s, NULL, 0), 0);
    ck_assert_int_eq(seen.bad, 0);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < len[i]; k++)
            ck_assert_int_eq(seen.count[i][k], from[i] >= 0 && k >= from[i]);
    ck_assert(small ? llmc_sched_stats(s)->preemptions > 0 : llmc_sched_stats(s)->preemptions == 0);
    llmc_sched_destroy(s);
    llmc_engine_destroy(&e);
}

/* With a pool for all, and with one that holds the longest only (40 positions): each position
 * reported once, preempted or not. */
START_TEST(sched_prompt_logits)
{
    prompt_logits(0);
    prompt_logits(1);

    /* 1 asks for every prompt row's logits, 2 a step beside 0's decodes; 0 outgrows the pool
     * of 14 while 1 is in its prompt, preempting it after it reported rows: recomputed, 1
     * reports only the rows not reported yet */
    LlmcEngine e;
    engine_up(&e, &fake_desc, 1, 14);
    LlmcSched *s;
    Seen seen = {0};
    LlmcSchedConfig cfg = {.max_batch = 2};
    LlmcSchedHooks hooks = {.ctx = &seen, .on_logits = rec_logits};
    ck_assert_int_eq(llmc_sched_create(&s, &e, &cfg, &hooks, NULL, 0), 0);
    int32_t p[2][40];
    const int32_t len[2] = {4, 40}, nnew[2] = {52, 0}, from[2] = {-1, 0};
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < len[i]; k++)
            p[i][k] = 3 + (int32_t)(tu_mix64((uint64_t)(i * 91 + k)) % 60);
        seen.prompts[i] = p[i];
        LlmcSeqReq r = {.prompt = p[i], .n_prompt = len[i], .max_new = nnew[i],
                        .logits_from = from[i]};
        ck_assert_int_eq(llmc_sched_add(s, &r, NULL, 0), i);
    }
    ck_assert_int_eq(llmc_sched_run(s, NULL, 0), 0);
    ck_assert_int_gt(llmc_sched_n_preempted(s, 1), 0);
    ck_assert_int_eq(seen.bad, 0);
    for (int k = 0; k < len[1]; k++)
        ck_assert_msg(seen.count[1][k] == 1, "row %d reported %d times", k, seen.count[1][k]);
    llmc_sched_destroy(s);
    llmc_engine_destroy(&e);
}
END_TEST

/* ---- engine ---- */

START_TEST(engine_init_and_desc_check)
{
    LlmcEngine e;
    engine_up(&e, &fake_desc, 2, 7);
    const float *bias = (const float *)e.ex.consts;
    ck_assert(((uintptr_t)e.ex.consts & 63) == 0 && ((uintptr_t)e.ex.arena & 63) == 0);
    ck_assert(bias[4] == fk_bias(4) && bias[5] == fk_bias(5));
    ck_assert_int_eq(e.ex.kv_blocks, 7);
    ck_assert_int_eq(e.max_blocks_per_seq, FK_SEQ / FK_BS);
    /* the cpu device (device.h) */
    ck_assert_ptr_eq(e.dev, &llmc_device_cpu);
    ck_assert_ptr_eq(llmc_device_for(LLMC_BACKEND_CPU), &llmc_device_cpu);
    ck_assert_ptr_null(llmc_device_for(7));
    ck_assert(!e.dev->gpu_options && !e.dev->busy_seconds && !e.dev->copy_bandwidth);
    float b[2];
    char msg[256];
    ck_assert_int_eq(e.dev->read_arena(&e, 0, b, sizeof b, msg, sizeof msg), 0);
    ck_assert(memcmp(b, e.ex.arena, sizeof b) == 0);
    ck_assert_int_eq(e.dev->read_arena(&e, fake_desc.arena_bytes - 4, b, sizeof b, msg, sizeof msg),
                     -1);
    e.dev->bench_header(&e, 3, msg, sizeof msg);
    ck_assert_str_eq(msg, "threads: 2, batch: 3");
    llmc_engine_destroy(&e);

    LlmcModelDesc d = fake_desc;
    d.max_threads = 2;
    engine_up(&e, &d, 8, 7);
    ck_assert_int_eq(llmc_pool_nth(e.ex.pool), 2);
    llmc_engine_destroy(&e);

    char err[512];
    d = fake_desc;
    d.abi_version = LLMC_ABI_VERSION + 1;
    ck_assert_int_eq(llmc_desc_check(&d, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "ABI"));
    d = fake_desc;
    d.eos_id = FK_VOCAB;
    ck_assert_int_eq(llmc_desc_check(&d, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "eos_id"));
    ck_assert_int_eq(llmc_engine_default_kv_blocks(&fake_desc, 3, 1000), 3 * 24);
    ck_assert_int_eq(llmc_engine_default_kv_blocks(&fake_desc, 2, 9), 6);

    /* kv_fit: blocks of 1 GiB, a million asked: the pool is half the physical memory (mapped,
     * untouched); a pool that fits is kept whole */
    d = fake_desc;
    d.kv_block_bytes = (int64_t)1 << 30;
    LlmcEngine big;
    LlmcEngineOpts o = {.n_threads = 1, .kv_blocks = 1 << 20, .kv_fit = 1};
    static const uint8_t weights[8192];
    ck_assert_msg(llmc_engine_init(&big, &d, weights, &o, err, sizeof err) == 0, "%s", err);
    double half = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 2;
    ck_assert_int_eq(big.kv.n_blocks, half >= 2 * (double)(1 << 30) ? (int32_t)(half / (1 << 30)) : 1);
    ck_assert_int_eq(big.ex.kv_blocks, big.kv.n_blocks);
    llmc_engine_destroy(&big);
    o.kv_blocks = 1;
    ck_assert_msg(llmc_engine_init(&big, &d, weights, &o, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(big.kv.n_blocks, 1);
    llmc_engine_destroy(&big);
}
END_TEST

/* ---- payload ---- */

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* A payload: header, weights (bytes i % 251) at 4096, tokenizer at 12288, the sections' digests in
 * the header. Returns its size. */
static size_t make_payload(uint8_t *buf, uint64_t hash, uint64_t weights_size, uint64_t weights_off)
{
    size_t size = 16384;
    memset(buf, 0, size);
    LlmcPayloadHeader h = {.model_hash = hash, .weights_off = weights_off,
                           .weights_size = weights_size, .tokenizer_off = 12288,
                           .tokenizer_size = 5, .tokenizer_kind = LLMC_TOK_LLAMA2C,
                           .total_size = size};
    memcpy(h.magic, LLMC_PAYLOAD_MAGIC, 8);
    for (uint64_t i = 0; i < 8192; i++)
        buf[4096 + i] = (uint8_t)(i % 251);
    memcpy(buf + 12288, "tok!!", 5);
    if (weights_off + weights_size <= size)
        ck_assert_int_eq(llmc_digest_buffer(buf + weights_off, weights_size, 2, h.weights_digest), 0);
    ck_assert_int_eq(llmc_digest_buffer(buf + 12288, 5, 1, h.tokenizer_digest), 0);
    memcpy(buf, &h, sizeof h);
    return size;
}

/* An executable: 5000 bytes of code, padding to 8192, [payload] (embedded unless side names the
 * side file), footer with the digests of the program and of the payload's header. */
static void make_exe(const char *path, const uint8_t *payload, size_t payload_size,
                     const char *side, uint64_t hash)
{
    size_t off = 8192, total = off + payload_size + sizeof(LlmcFooter);
    uint8_t *buf = calloc(1, total);
    memset(buf, 0x7f, 5000);
    if (!side)
        memcpy(buf + off, payload, payload_size);
    LlmcFooter f = {.payload_off = side ? 0 : off, .payload_size = payload_size,
                    .model_hash = hash, .external = side != NULL};
    memcpy(f.magic, LLMC_FOOTER_MAGIC, 8);
    if (side)
        snprintf(f.side_file, sizeof f.side_file, "%s", side);
    size_t len = side ? 5000 : off + payload_size;
    f.program_size = side ? 5000 : off;
    ck_assert_int_eq(llmc_digest_buffer(buf, f.program_size, 1, f.program_digest), 0);
    ck_assert_int_eq(llmc_digest_buffer(payload, sizeof(LlmcPayloadHeader), 1, f.header_digest), 0);
    ck_assert_int_eq(llmc_digest_buffer(&f, offsetof(LlmcFooter, footer_digest), 1, f.footer_digest), 0);
    memcpy(buf + len, &f, sizeof f);
    write_bytes(path, buf, len + sizeof f);
    free(buf);
}

static void expect_open_fails(const char *exe, const char *weights, const char *what1,
                              const char *what2)
{
    LlmcPayload p;
    char err[1024];
    ck_assert_int_eq(llmc_payload_open(&p, &fake_desc, exe, weights, err, sizeof err), -1);
    ck_assert_msg(strstr(err, what1) && (!what2 || strstr(err, what2)), "message: %s", err);
}

START_TEST(payload_embedded_side_and_errors)
{
    const char *dir = tu_tmpdir();
    char exe[700], side_exe[700], side[700], other[700];
    snprintf(exe, sizeof exe, "%s/model", dir);
    snprintf(side_exe, sizeof side_exe, "%s/model2", dir);
    snprintf(side, sizeof side, "%s/model2.weights", dir);
    snprintf(other, sizeof other, "%s/other.weights", dir);
    static uint8_t pl[16384];
    size_t n = make_payload(pl, FK_HASH, 8192, 4096);
    char err[1024];
    LlmcPayload p;

    make_exe(exe, pl, n, NULL, FK_HASH);
    ck_assert_msg(llmc_payload_open(&p, &fake_desc, exe, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(p.weights_size, 8192);
    ck_assert(((uintptr_t)p.weights & 63) == 0);
    ck_assert_int_eq(p.weights[300], 300 % 251);
    ck_assert_int_eq(p.tokenizer_kind, LLMC_TOK_LLAMA2C);
    ck_assert_int_eq(memcmp(p.tokenizer, "tok!!", 5), 0);
    llmc_payload_close(&p);

    make_exe(side_exe, pl, n, "model2.weights", FK_HASH);
    write_bytes(side, pl, n);
    ck_assert_msg(llmc_payload_open(&p, &fake_desc, side_exe, NULL, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_str_eq(p.path, side);
    ck_assert_int_eq(p.weights[8000], 8000 % 251);
    llmc_payload_close(&p);

    /* --weights names the payload file directly; an executable without a footer (stripped) then
     * checks the payload against its own header only. */
    ck_assert_int_eq(llmc_payload_open(&p, &fake_desc, side_exe, side, err, sizeof err), 0);
    ck_assert_int_eq(p.have_footer, 1);
    llmc_payload_close(&p);
    write_bytes(other, "\x7f" "ELF", 4);
    ck_assert_msg(llmc_payload_open(&p, &fake_desc, other, side, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(p.have_footer, 0);
    ck_assert_msg(llmc_payload_verify(&p, 1, NULL, err, sizeof err) == 0, "%s", err);
    llmc_payload_close(&p);

    /* The content digests: intact, then a byte flipped in each section and in the padding. */
    make_exe(exe, pl, n, NULL, FK_HASH);
    uint64_t bytes = 0;
    ck_assert_int_eq(llmc_payload_open(&p, &fake_desc, exe, NULL, err, sizeof err), 0);
    ck_assert_msg(llmc_payload_verify(&p, 3, &bytes, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(bytes, 8192 + 8192 + 5);
    llmc_payload_close(&p);
    static const struct { size_t off; const char *what; } flips[] = {
        {100, "the program (host code and kernel images) section is damaged"},
        {8191, "the program (host code and kernel images) section is damaged"},
        {8192 + 4096 + 7000, "the weights section is damaged"},
        {8192 + 12288 + 4, "the tokenizer section is damaged"},
        {8192 + 12288 + 6, "padding between the payload's sections"},
        {8192 + 200, "padding between the payload's sections"},
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        make_exe(exe, pl, n, NULL, FK_HASH);
        FILE *fx = fopen(exe, "r+b");
        ck_assert_ptr_nonnull(fx);
        ck_assert_int_eq(fseek(fx, (long)flips[i].off, SEEK_SET), 0);
        int c = fgetc(fx);
        ck_assert_int_eq(fseek(fx, (long)flips[i].off, SEEK_SET), 0);
        fputc(c ^ 0x10, fx);
        ck_assert_int_eq(fclose(fx), 0);
        ck_assert_msg(llmc_payload_open(&p, &fake_desc, exe, NULL, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(llmc_payload_verify(&p, 2, NULL, err, sizeof err), -1);
        ck_assert_msg(strstr(err, flips[i].what), "flip at %zu: %s", flips[i].off, err);
        llmc_payload_close(&p);
    }

    /* A side file from another build of the same model (same hash, other weights): refused by
     * the digest of its header, which holds the digests of its sections. */
    make_exe(side_exe, pl, n, "model2.weights", FK_HASH);
    {
        static uint8_t pl2[16384];
        memcpy(pl2, pl, sizeof pl2);
        pl2[4096 + 5000] ^= 1;
        LlmcPayloadHeader h2;
        memcpy(&h2, pl2, sizeof h2);
        ck_assert_int_eq(llmc_digest_buffer(pl2 + 4096, 8192, 1, h2.weights_digest), 0);
        memcpy(pl2, &h2, sizeof h2);
        write_bytes(side, pl2, n);
        expect_open_fails(side_exe, NULL, "not the weights file", "another build of the same model");
        write_bytes(other, pl2, n);
        expect_open_fails(exe, other, "not the weights file", NULL);
        write_bytes(side, pl, n);
    }

    /* A side file from another build: refused, naming both files. */
    make_payload(pl, FK_HASH + 1, 8192, 4096);
    write_bytes(side, pl, n);
    expect_open_fails(side_exe, NULL, "model2.weights", "model2 was compiled for");
    write_bytes(other, pl, n);
    expect_open_fails(exe, other, "other.weights", "another build");

    make_payload(pl, FK_HASH, 4096, 4096);                     /* wrong weights size */
    make_exe(exe, pl, n, NULL, FK_HASH);
    expect_open_fails(exe, NULL, "weights section is 4096 bytes", "8192");
    make_payload(pl, FK_HASH, 8192, 4000);                     /* misaligned */
    make_exe(exe, pl, n, NULL, FK_HASH);
    expect_open_fails(exe, NULL, "misaligned", NULL);
    make_payload(pl, FK_HASH, 8192, 12288);                    /* past the end */
    make_exe(exe, pl, n, NULL, FK_HASH);
    expect_open_fails(exe, NULL, "outside", NULL);
    make_payload(pl, FK_HASH, 8192, 4096);
    memcpy(pl, "XXXXXXXX", 8);                                 /* bad header magic */
    make_exe(exe, pl, n, NULL, FK_HASH);
    expect_open_fails(exe, NULL, "not an llmc weights payload", NULL);
    make_payload(pl, FK_HASH, 8192, 4096);
    make_exe(exe, pl, n, NULL, FK_HASH + 5);                   /* footer for another model */
    expect_open_fails(exe, NULL, "footer is for model hash", NULL);
    write_bytes(exe, pl, 5000);                                /* no footer */
    expect_open_fails(exe, NULL, "no llmc payload footer", NULL);
    make_exe(side_exe, pl, n, "missing.weights", FK_HASH);   /* side file missing */
    expect_open_fails(side_exe, NULL, "missing.weights", "cannot open");
    write_bytes(side, pl, 9000);                               /* truncated side file */
    make_exe(side_exe, pl, n, "model2.weights", FK_HASH);
    expect_open_fails(side_exe, NULL, "truncated", NULL);
    make_exe(side_exe, pl, n + 4096, "model2.weights", FK_HASH);
    write_bytes(side, pl, n);                                  /* not the size the footer says */
    expect_open_fails(side_exe, NULL, "expects a payload of 20480", NULL);
    make_payload(pl, FK_HASH + 1, 8192, 4096);                 /* another build, shorter too */
    write_bytes(side, pl, 9000);
    expect_open_fails(side_exe, NULL, "another build", NULL);
    make_payload(pl, FK_HASH, 8192, 4096);

    /* Footer offsets outside the file. */
    make_exe(exe, pl, n, NULL, FK_HASH);
    FILE *f = fopen(exe, "r+b");
    ck_assert_ptr_nonnull(f);
    LlmcFooter ft;
    ck_assert_int_eq(fseek(f, -(long)sizeof ft, SEEK_END), 0);
    ck_assert_uint_eq(fread(&ft, sizeof ft, 1, f), 1);
    ft.payload_size += 4096;
    ck_assert_int_eq(fseek(f, -(long)sizeof ft, SEEK_END), 0);
    ck_assert_uint_eq(fwrite(&ft, sizeof ft, 1, f), 1);
    ck_assert_int_eq(fflush(f), 0);
    expect_open_fails(exe, NULL, "the payload footer (the last 352 bytes) is damaged", NULL);
    ck_assert_int_eq(llmc_digest_buffer(&ft, offsetof(LlmcFooter, footer_digest), 1, ft.footer_digest), 0);
    ck_assert_int_eq(fseek(f, -(long)sizeof ft, SEEK_END), 0);
    ck_assert_uint_eq(fwrite(&ft, sizeof ft, 1, f), 1);
    ck_assert_int_eq(fclose(f), 0);
    expect_open_fails(exe, NULL, "outside the file", NULL);

    ck_assert_int_eq(llmc_self_exe(exe, sizeof exe, "argv0", err, sizeof err), 0);
    ck_assert_int_eq(access(exe, R_OK), 0);
}
END_TEST

/* ---- benchmark and perplexity ---- */

START_TEST(bench_runs)
{
    LlmcEngine e;
    engine_up(&e, &fake_desc, 2, 40);
    LlmcBenchCfg c = {.n_prompt = 21, .n_gen = 9, .batch = 3};
    LlmcBenchResult r;
    char err[512];
    ck_assert_msg(llmc_bench_run(&e, &c, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.prefill_tokens, 63);
    ck_assert_int_eq(r.decode_tokens, 27);
    ck_assert_int_eq(r.decode_steps, 9);
    /* 9 steps x 1000 weight bytes + 4 bytes x 3 sequences x (22 + ... + 30) positions */
    ck_assert(fabs(r.decode_bytes - (9000.0 + 4.0 * 3 * 234)) < 1e-9);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), 40);
    c.batch = 4;
    ck_assert_int_eq(llmc_bench_run(&e, &c, &r, err, sizeof err), -1);
    c.batch = 3;
    c.n_gen = 80;
    ck_assert_int_eq(llmc_bench_run(&e, &c, &r, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "context"));
    /* --bench-launches: GPU builds only */
    c.n_gen = 9;
    c.launch_reps = 3;
    ck_assert_int_eq(llmc_bench_run(&e, &c, &r, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "--bench-launches: the cpu device runs no kernel launches"), "%s", err);
    ck_assert_int_eq(llmc_kv_free_count(&e.kv), 40);
    for (int64_t i = 0; i < 1000; i++) {
        int32_t t = llmc_bench_token(&fake_desc, i);
        ck_assert(t >= 0 && t < FK_VOCAB && t != FK_BOS && t != FK_EOS);
    }
    llmc_engine_destroy(&e);
}
END_TEST

static int ppl_progress(void *ctx, int32_t chunk, int32_t n_chunks, double ppl)
{
    int *next = ctx;
    ck_assert_int_eq(chunk, *next);
    ck_assert(n_chunks == 7 && ppl > 1.0);
    (*next)++;
    return 0;
}

START_TEST(perplexity_matches_reference)
{
    enum { CTX = 24, NT = 7 * CTX + 5 };
    int32_t tokens[NT];
    for (int i = 0; i < NT; i++)
        tokens[i] = (int32_t)(tu_mix64((uint64_t)i + 99) % FK_VOCAB);
    /* Reference: each chunk from scratch, BOS first, positions 12..22 predicting 13..23. */
    double sum = 0, sum2 = 0;
    int64_t count = 0;
    for (int c = 0; c < 7; c++) {
        int32_t chunk[CTX];
        memcpy(chunk, tokens + c * CTX, sizeof chunk);
        chunk[0] = FK_BOS;
        for (int pos = CTX / 2; pos <= CTX - 2; pos++) {
            float l[FK_VOCAB];
            fake_ref_logits(chunk, pos, 0, l);
            double mx = l[0], s = 0;
            for (int v = 1; v < FK_VOCAB; v++)
                mx = l[v] > mx ? l[v] : mx;
            for (int v = 0; v < FK_VOCAB; v++)
                s += exp(l[v] - mx);
            double nll = log(s) + mx - l[chunk[pos + 1]];
            sum += nll;
            sum2 += nll * nll;
            count++;
        }
    }
    double mean = sum / count, ppl = exp(mean);
    double sd = sqrt((sum2 - count * mean * mean) / (count - 1));
    LlmcPplResult first = {0};
    for (int run = 0; run < 3; run++) {
        int nth = run + 1, batch = run == 0 ? 1 : 3;
        LlmcEngine e;
        engine_up(&e, &fake_desc, nth, llmc_engine_default_kv_blocks(&fake_desc, batch, CTX - 1));
        LlmcPplResult r;
        char err[512];
        int next = 0;
        ck_assert_msg(llmc_perplexity(&e, tokens, NT, CTX, batch, ppl_progress, &next, &r, err,
                                      sizeof err) == 0, "%s", err);
        ck_assert_int_eq(next, 7);
        ck_assert_int_eq(r.n_chunks, 7);
        ck_assert_int_eq(r.n_scored, 7 * 11);
        ck_assert_msg(fabs(r.ppl - ppl) < 1e-9 * ppl, "ppl %f, want %f", r.ppl, ppl);
        ck_assert_msg(fabs(r.ppl_err - ppl * sd / sqrt((double)count)) < 1e-6 * r.ppl_err,
                      "err %f, want %f", r.ppl_err, ppl * sd / sqrt((double)count));
        if (run == 0)
            first = r;
        ck_assert(r.ppl == first.ppl && r.ppl_err == first.ppl_err);   /* bit-identical */
        ck_assert_int_eq(llmc_perplexity(&e, tokens, CTX - 1, CTX, batch, NULL, NULL, &r, err,
                                         sizeof err), -1);
        ck_assert_ptr_nonnull(strstr(err, "fewer than one chunk"));
        llmc_engine_destroy(&e);
    }
}
END_TEST

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kv_alloc_free_reuse);
    tcase_add_test(tc, sample_greedy_and_degenerate_filters);
    tcase_add_test(tc, sample_seeded_sequences);
    tcase_add_test(tc, sample_distribution);
    tcase_add_test(tc, pool_barrier_stress);
    tcase_add_test(tc, pool_handshake);
    tcase_add_test(tc, engine_init_and_desc_check);
    tcase_add_test(tc, sched_batched_equals_alone);
    tcase_add_test(tc, sched_blocks_on_demand);
    tcase_add_test(tc, sched_admits_what_the_pool_starts);
    tcase_add_test(tc, sched_preemption_order_and_resumption);
    tcase_add_test(tc, sched_threads_identical);
    tcase_add_test(tc, sched_stops_at_eos);
    tcase_add_test(tc, sched_rejects_bad_requests);
    tcase_add_test(tc, sched_prompt_logits);
    tcase_add_test(tc, sched_per_sequence_sampling);
    tcase_add_test(tc, sched_cancel_and_add_while_running);
    tcase_add_test(tc, sched_forget_streams);
    tcase_add_test(tc, payload_embedded_side_and_errors);
    tcase_add_test(tc, bench_runs);
    tcase_add_test(tc, perplexity_matches_reference);
    tcase_add_test(tc, ranks_collectives);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_main(runtime_suite()); }
