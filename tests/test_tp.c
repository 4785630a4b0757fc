/* test_tp.c — tensor parallelism (passes/shard_tp.c, docs/tp.md) on the reference interpreter.
 *
 * A model compiled with --tp N is one graph that every rank runs on its part of the weights. Here N
 * instances of the interpreter run it in lockstep (llmc_interp_step_ranks: the collectives combine
 * the ranks' values in rank order), each reading its rank's slices of the checkpoint, and must give
 * the unsharded graph's logits up to rounding (the sums of o_proj, down_proj are split among ranks
 * and added up again: not bit-exact) and the same greedy ids over a prefill and 30 decode steps;
 * straight after shard_tp (attention keeping its own history), after the whole pipeline (merged
 * matmuls, paged KV with the rank's KV heads, the selected rows) and after the CUDA targets' stage
 * of fusions too. Models: stories260K
 * (8 query / 4 KV heads: N = 2 and 4), the tiny families with biases (qwen2), per-head norms and a
 * tied lm_head (qwen3), and gemma2's scales, softcaps and GeGLU. Then the pass's refusals, which
 * backends take a sharded graph (the cpu target runs the ranks as threads: tests/e2e_tp.sh; the
 * NVIDIA targets a GPU a rank: test_gpu_runtime, test_cuda; not the AMD targets), and the formats
 * of a quantized --weights on the ranks' parts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/backend.h"
#include "../frontend/frontend.h"
#include "../frontend/model_json.h"
#include "../ir/interp.h"
#include "../passes/passes.h"
#include "testutil.h"

typedef struct Model {
    LlmcGraph *g;
    LlmcWeightFiles *wf;
    LlmcWeightSource ws;
    cJSON *doc;
    char *dir;
} Model;

static LlmcPassOptions options(int tp)
{
    LlmcPassOptions o;
    memset(&o, 0, sizeof o);
    o.target = llmc_target_find("cpu");
    o.max_tokens = 16;
    o.max_outputs = 4;
    o.kv_block_size = 4;
    o.tp = tp;
    return o;
}

/* The model through the pipeline up to `stop_after` (NULL: all of it; "gpu": all of it and the GPU
 * stage) with --tp tp, the verifier after every pass; LLMC_ERR (d set) when a pass refuses it. */
static LlmcStatus load_opt(Model *m, const char *path, const LlmcPassOptions *o, const char *stop_after,
                           LlmcDiag *d);
static LlmcStatus load(Model *m, const char *path, int tp, const char *stop_after, LlmcDiag *d)
{
    LlmcPassOptions opt = options(tp);
    return load_opt(m, path, &opt, stop_after, d);
}

/* load() with the pass options o (o->tp the ranks). */
static LlmcStatus load_opt(Model *m, const char *path, const LlmcPassOptions *o, const char *stop_after,
                           LlmcDiag *d)
{
    int tp = o->tp;
    LlmcPassOptions opt = *o;
    memset(m, 0, sizeof *m);
    ck_assert_msg(llmc_json_load(path, &m->doc, d) == LLMC_OK, "%s", d->msg);
    m->dir = llmc_path_dir(path);
    m->g = llmc_graph_new();
    m->wf = llmc_wf_new();
    m->ws = llmc_wf_source(m->wf);
    ck_assert_msg(llmc_model_from_json(m->doc, path, m->dir, m->g, d) == LLMC_OK, "%s", d->msg);
    ck_assert_msg(llmc_model_check_weights(m->g, m->wf, d) == LLMC_OK, "%s", d->msg);
    for (const LlmcPass *p = llmc_passes(); p->name; p++) {
        if (!p->tp_only || tp > 1) {
            if (p->fn(m->g, &opt, d))
                return LLMC_ERR;
            ck_assert_msg(llmc_graph_verify(m->g, d) == LLMC_OK, "after %s: %s", p->name, d->msg);
        }
        if (stop_after && strcmp(p->name, stop_after) == 0)
            return LLMC_OK;
    }
    /* "gpu": the CUDA targets' stage too (its fusions must leave the collectives where they are: a
     * residual fused into a row-parallel matmul would be added once a rank) */
    for (const LlmcPass *p = llmc_gpu_passes(); stop_after && strcmp(stop_after, "gpu") == 0 && p->name; p++) {
        if (p->fn(m->g, &opt, d))
            return LLMC_ERR;
        ck_assert_msg(llmc_graph_verify(m->g, d) == LLMC_OK, "after %s: %s", p->name, d->msg);
    }
    return LLMC_OK;
}

static void unload(Model *m)
{
    llmc_graph_free(m->g);
    llmc_wf_free(m->wf);
    cJSON_Delete(m->doc);
    free(m->dir);
}

/* One model run by n ranks (n = 1: unsharded): its instances, their KV pools. */
typedef struct Run {
    Model m;
    int n;
    LlmcInterp *it[8];
    void *kv[8];
    int32_t table[64];            /* the sequence's block table: blocks 0, 1, ... */
    int maxb;
} Run;

static void run_open(Run *r, const char *path, int tp, const char *stop_after)
{
    LlmcDiag d;
    ck_assert_msg(load(&r->m, path, tp, stop_after, &d) == LLMC_OK, "--tp %d: %s", tp, d.msg);
    const LlmcGraph *g = r->m.g;
    r->n = tp;
    r->maxb = (g->max_seq_len + g->kv_block_size - 1) / (g->kv_block_size ? g->kv_block_size : 1);
    if (r->maxb > 64)
        r->maxb = 64;
    for (int b = 0; b < r->maxb; b++)
        r->table[b] = b;
    ck_assert_int_eq(g->tp > 1 ? g->tp : 1, tp);
    for (int k = 0; k < tp; k++) {
        r->it[k] = llmc_interp_new(g, 1);
        ck_assert_ptr_nonnull(r->it[k]);
        ck_assert_msg(llmc_interp_read_weights(r->it[k], &r->m.ws, k, &d) == LLMC_OK, "%s", d.msg);
        r->kv[k] = NULL;
        if (g->kv_layers)
            r->kv[k] = calloc((size_t)r->maxb * (size_t)llmc_graph_kv_block_bytes(g, g->kv_format[0], g->kv_format[1]) + 16, 1);
    }
}

static void run_close(Run *r)
{
    for (int k = 0; k < r->n; k++) {
        llmc_interp_free(r->it[k]);
        free(r->kv[k]);
    }
    unload(&r->m);
}

/* One step of the sequence: tokens tok[0..T) at positions pos0.., the last row's logits. */
static void run_step(Run *r, const int32_t *tok, int T, int pos0, float *logits)
{
    int32_t pos[16], seq[16], slot[16], out = T - 1;
    ck_assert_int_le(T, 16);
    for (int i = 0; i < T; i++) {
        pos[i] = pos0 + i;
        seq[i] = 0;
        slot[i] = r->table[pos[i] / r->m.g->kv_block_size] * r->m.g->kv_block_size + pos[i] % r->m.g->kv_block_size;
    }
    LlmcStep st;
    memset(&st, 0, sizeof st);
    st.n_tokens = T;
    st.tokens = tok;
    st.positions = pos;
    st.seq_of_token = seq;
    st.slots = slot;
    st.block_tables = r->table;
    st.max_blocks_per_seq = r->maxb;
    st.n_out = 1;
    st.out_rows = &out;
    st.logits = logits;
    LlmcDiag d;
    ck_assert_msg(llmc_interp_step_ranks(r->it, r->n, &st, r->kv, &d) == LLMC_OK, "%s", d.msg);
}

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        b = v[i] > v[b] ? i : b;
    return b;
}

/* The model at `stage` sharded over tp ranks against it unsharded: a prompt of 6 tokens, then 30
 * greedy steps fed the unsharded run's ids; logits within tol (relative to the largest), equal ids. */
static void check_tp(const char *path, int tp, const char *stage, double tol)
{
    Run ref, sh;
    run_open(&ref, path, 1, stage);
    run_open(&sh, path, tp, stage);
    int V = ref.m.g->vocab_size;
    ck_assert_int_eq(sh.m.g->vocab_size, V);
    float *a = malloc(sizeof(float) * (size_t)V), *b = malloc(sizeof(float) * (size_t)V);
    int32_t prompt[6] = {1, 7 % V, 42 % V, 99 % V, 3, 250 % V};
    run_step(&ref, prompt, 6, 0, a);
    run_step(&sh, prompt, 6, 0, b);
    int pos = 6;
    for (int s = 0; s <= 30; s++) {
        double err = 0, mag = 0;
        for (int i = 0; i < V; i++) {
            ck_assert(!isnan(b[i]));
            err = fmax(err, fabs((double)a[i] - b[i]));
            mag = fmax(mag, fabs((double)a[i]));
        }
        ck_assert_msg(err <= tol * (mag > 0 ? mag : 1), "%s --tp %d after %s, step %d: logits differ by %g (largest %g)",
                      path, tp, stage ? stage : "the pipeline", s, err, mag);
        int id = argmax(a, V);
        ck_assert_msg(argmax(b, V) == id, "%s --tp %d after %s, step %d: greedy id %d, unsharded %d", path, tp,
                      stage ? stage : "the pipeline", s, argmax(b, V), id);
        if (s == 30)
            break;
        int32_t t = id;
        run_step(&ref, &t, 1, pos, a);
        run_step(&sh, &t, 1, pos, b);
        pos++;
    }
    free(a);
    free(b);
    run_close(&ref);
    run_close(&sh);
}

static const char *stories_json(void) { return LLMC_SOURCE_DIR "/examples/stories260K.json"; }

START_TEST(tp_stories)
{
    if (tu_need_shared("stories260K/stories260K.bin"))
        return;
    for (int tp = 2; tp <= 4; tp += 2) {
        check_tp(stories_json(), tp, "shard_tp", 2e-6);
        check_tp(stories_json(), tp, NULL, 2e-6);
        check_tp(stories_json(), tp, "gpu", 2e-6);
    }
}
END_TEST

/* A tiny config of tests/data/families/configs (with `set`'s "key=N key=N" numbers put in, NULL:
 * as it is) as a random f32 checkpoint, imported. */
static const char *family_model(const char *family, const char *set)
{
    const char *dir = tu_tmpdir();
    char cfg[1024], ckpt[1024];
    static char path[1024];
    snprintf(cfg, sizeof cfg, "%s/tests/data/families/configs/%s.json", LLMC_SOURCE_DIR, family);
    static int serial;
    snprintf(ckpt, sizeof ckpt, "%s/%s.%d", dir, family, serial++);
    LlmcDiag d;
    if (set) {
        cJSON *c;
        ck_assert_msg(llmc_json_load(cfg, &c, &d) == LLMC_OK, "%s", d.msg);
        char key[64];
        int value, used;
        for (const char *p = set; sscanf(p, " %63[^=]=%d%n", key, &value, &used) == 2; p += used)
            cJSON_ReplaceItemInObject(c, key, cJSON_CreateNumber(value));
        snprintf(cfg, sizeof cfg, "%s.config.json", ckpt);
        ck_assert_msg(llmc_json_save(cfg, c, &d) == LLMC_OK, "%s", d.msg);
        cJSON_Delete(c);
    }
    LlmcSynthOptions so = {.config_path = cfg, .out_dir = ckpt, .seed = 7, .dtype = LLMC_F32, .dtype_set = 1, .quiet = 1};
    ck_assert_msg(llmc_synth(&so, &d) == LLMC_OK, "%s", d.msg);
    cJSON *doc;
    ck_assert_msg(llmc_import(ckpt, dir, &doc, &d) == LLMC_OK, "%s", d.msg);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(doc, "config"), "max_seq_len", cJSON_CreateNumber(48));
    snprintf(path, sizeof path, "%s.model.json", ckpt);
    ck_assert_msg(llmc_json_save(path, doc, &d) == LLMC_OK, "%s", d.msg);
    cJSON_Delete(doc);
    return path;
}

/* N = 4 over 2 KV heads and N = 2 over 1: each KV head on the ranks of its query heads; a vocabulary N
 * does not divide: the embedding and lm_head replicated (qwen3: tied). */
START_TEST(tp_families)
{
    static const struct {
        const char *family, *set;
        int tp;
    } cases[] = {{"qwen2", NULL, 2},  {"qwen2", NULL, 4},        {"qwen3", NULL, 2},
                 {"qwen3", NULL, 4},  {"gemma2", NULL, 2},       {"llama_linear", NULL, 2},
                 {"qwen2", "vocab_size=510", 4}, {"qwen3", "vocab_size=510", 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = family_model(cases[i].family, cases[i].set);
        check_tp(path, cases[i].tp, "shard_tp", 2e-6);
        check_tp(path, cases[i].tp, NULL, 2e-6);
        if (i == 3 || i == 4) /* the GPU stage's family fusions: per-head norms, post-norms (CI time) */
            check_tp(path, cases[i].tp, "gpu", 2e-6);
    }
}
END_TEST

static void expect_refusal(const char *path, int tp, const char *what, const char *what2)
{
    Model m;
    LlmcDiag d;
    ck_assert_msg(load(&m, path, tp, "shard_tp", &d) == LLMC_ERR, "%s --tp %d: accepted", path, tp);
    ck_assert_msg(strstr(d.msg, what) && strstr(d.msg, what2), "%s --tp %d: %s", path, tp, d.msg);
    unload(&m);
}

START_TEST(tp_errors)
{
    expect_refusal(family_model("qwen2", NULL), 3, "--tp 3", "4 query heads and 2 KV heads");
    /* 6 divides 12 query heads, and neither divides 4 KV heads nor is a multiple of them */
    const char *h12 = family_model("qwen3", "num_attention_heads=12 num_key_value_heads=4");
    expect_refusal(h12, 6, "12 query heads and 4 KV heads", "be a multiple of them");
    expect_refusal(family_model("qwen2", "intermediate_size=127"), 2, "FFN size 127", "not divisible by 2");
    expect_refusal(family_model("mixtral", NULL), 2, "mixture-of-experts", "not sharded yet");
    expect_refusal(family_model("phi3", NULL), 2, "--tp 2", "cannot split");
    /* --tp 1: no shard_tp, the graph unsharded */
    Model m;
    LlmcDiag d;
    ck_assert_msg(load(&m, family_model("qwen2", NULL), 1, NULL, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_int_le(m.g->tp, 1);
    for (int i = 0; i < m.g->nn; i++)
        ck_assert(m.g->n[i].op != LLMC_OP_ALL_REDUCE && m.g->n[i].op != LLMC_OP_ALL_GATHER);
    unload(&m);
}
END_TEST

/* A quantized --weights on the ranks' parts: the lm_head (an all_gather's input) and the embedding
 * keep their roles' format as at --tp 1 (bf16), the matrices cut by columns hold whole groups of
 * the whole matrix's; a group a rank would cut is refused. */
START_TEST(tp_weight_formats)
{
    const char *path = family_model("qwen2", NULL); /* o_proj K 64, down_proj K 128: 32 and 64 a rank */
    LlmcDType lm[2] = {LLMC_F32, LLMC_F32}, emb[2] = {LLMC_F32, LLMC_F32};
    for (int i = 0; i < 2; i++) {
        LlmcPassOptions o = options(i + 1);
        o.weights = LLMC_U4;
        o.weights_set = 1;
        o.group = 32;
        Model m;
        LlmcDiag d;
        ck_assert_msg(load_opt(&m, path, &o, NULL, &d) == LLMC_OK, "%s", d.msg);
        const LlmcGraph *g = m.g;
        int logits = g->logits, cut = 0;
        for (int k = 0; k < g->nn; k++)
            if (g->n[k].op == LLMC_OP_ALL_GATHER && g->n[k].out[0] == g->logits)
                logits = g->n[k].in[0];
        for (int k = 0; k < g->nn; k++) {
            const LlmcNode *n = &g->n[k];
            if (n->op == LLMC_OP_EMBEDDING)
                emb[i] = g->t[n->in[0]].dtype;
            if (n->op != LLMC_OP_MATMUL)
                continue;
            const LlmcTensor *w = &g->t[n->in[1]];
            if (n->out[0] == logits)
                lm[i] = w->dtype;
            if (w->src.shard == LLMC_SHARD_COLS) {
                ck_assert_int_eq(w->dtype, LLMC_U4);
                ck_assert_int_eq(w->layout.group, 32);
                cut++;
            }
        }
        ck_assert_int_eq(cut, i ? 2 * 3 : 0); /* o_proj and down_proj of 3 layers */
        unload(&m);
    }
    ck_assert_int_eq(lm[0], LLMC_BF16);
    ck_assert_int_eq(lm[1], LLMC_BF16);
    ck_assert_int_eq(emb[0], LLMC_BF16);
    ck_assert_int_eq(emb[1], LLMC_BF16);
    LlmcPassOptions o = options(2); /* groups of 128, at most o_proj's 64: 32 a rank */
    o.weights = LLMC_U4;
    o.weights_set = 1;
    Model m;
    LlmcDiag d;
    ck_assert_int_eq(load_opt(&m, path, &o, NULL, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "--tp 2: layers.0.") && strstr(d.msg, "a rank holds 32 of its 64 columns, not a whole "
                                                                      "number of u4 groups of 64"),
                  "%s", d.msg);
    unload(&m);
}
END_TEST

/* The verifier's rules of a sharded graph, and which backends run one (cpu, the NVIDIA targets; not AMD's). */
START_TEST(tp_verify_and_backends)
{
    Model m;
    LlmcDiag d;
    ck_assert_msg(load(&m, family_model("qwen3", NULL), 2, NULL, &d) == LLMC_OK, "%s", d.msg);
    LlmcGraph *g = m.g;
    int n_reduce = 0, n_gather = 0, coll = -1;
    for (int i = 0; i < g->nn; i++) {
        n_reduce += g->n[i].op == LLMC_OP_ALL_REDUCE;
        n_gather += g->n[i].op == LLMC_OP_ALL_GATHER;
        if (g->n[i].op == LLMC_OP_ALL_REDUCE)
            coll = i;
    }
    ck_assert_int_eq(n_reduce, 2 * 2 + 1); /* the embedding; 2 layers: after o_proj and after down_proj */
    ck_assert_int_eq(n_gather, 1);     /* the logits */
    ck_assert_int_eq(g->kv_heads, 1);  /* 2 KV heads over 2 ranks */
    const LlmcTarget *targets[2] = {llmc_target_find("cpu"), NULL};
    LlmcCodegen cg;
    LlmcCodegenOptions co = {.quiet = 1};
    ck_assert_msg(llmc_codegen_open(&cg, targets, g, &m.ws, NULL, 0, &co, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(strstr(cg.info_line, "sharded over 2 ranks"), "%s", cg.info_line);
    llmc_codegen_close(&cg);
    targets[0] = llmc_target_find("sm_90"); /* a GPU a rank, NCCL */
    ck_assert_ptr_nonnull(targets[0]);
    ck_assert_msg(llmc_codegen_open(&cg, targets, g, &m.ws, NULL, 0, &co, &d) == LLMC_OK, "%s", d.msg);
    llmc_codegen_close(&cg);
    targets[0] = llmc_target_find("gfx1151"); /* AMD: no RCCL in the runtime */
    ck_assert_ptr_nonnull(targets[0]);
    ck_assert_int_eq(llmc_codegen_open(&cg, targets, g, &m.ws, NULL, 0, &co, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "--tp 2: the gfx1151 target does not run sharded graphs yet"), "%s", d.msg);
    /* a collective over other than the graph's ranks; a sharded weight in an unsharded graph */
    g->n[coll].attr[0].i = 3;
    ck_assert_int_eq(llmc_graph_verify(g, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "combines 3 ranks"), "%s", d.msg);
    g->n[coll].attr[0].i = 2;
    ck_assert_int_eq(llmc_graph_verify(g, &d), LLMC_OK);
    g->tp = 1;
    ck_assert_int_eq(llmc_graph_verify(g, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "sharded by"), "%s", d.msg);
    unload(&m);
}
END_TEST

/* The shard views: which part of the checkpoint tensor each rank reads. */
START_TEST(tp_shard_view)
{
    LlmcGraph *g = llmc_graph_new();
    g->tp = 4;
    LlmcShape s = llmc_shape2(3, 2);
    int t = llmc_tensor_new(g, "w", LLMC_T_WEIGHT, LLMC_F32, &s);
    g->t[t].src.shard = LLMC_SHARD_COLS;
    LlmcShardView v = llmc_shard_view(g, &g->t[t], 2);
    ck_assert(v.rows == 3 && v.cols == 8 && v.r0 == 0 && v.nr == 3 && v.c0 == 4 && v.nc == 2);
    float whole[24], part[6];
    for (int i = 0; i < 24; i++)
        whole[i] = (float)i;
    llmc_shard_extract(&v, whole, part);
    ck_assert(part[0] == 4 && part[1] == 5 && part[2] == 12 && part[5] == 21);
    g->t[t].src.shard = LLMC_SHARD_ROWS;
    v = llmc_shard_view(g, &g->t[t], 3);
    ck_assert(v.rows == 12 && v.cols == 2 && v.r0 == 9 && v.nr == 3 && v.c0 == 0 && v.nc == 2);
    LlmcTensor w = llmc_shard_whole(g, &g->t[t]);
    ck_assert(w.shape.dim[0] == 12 && w.shape.dim[1] == 2 && w.src.shard == LLMC_SHARD_NONE);
    llmc_graph_free(g);
}
END_TEST

/* Issue 15's model: Llama 3.1 70B's shapes (llmc synth's preset, no weights: llmc_hf_config_model)
 * through the whole pipeline at --tp 1, 2 and 8: each rank's KV heads, its part of every matrix
 * and of the embedding (bf16: the checkpoint's), the norms replicated on every rank. */
START_TEST(tp_llama70b_shapes)
{
    cJSON *cfg = llmc_synth_preset_config("llama3.1-70b"), *doc = NULL;
    LlmcDiag d;
    ck_assert_msg(llmc_hf_config_model(cfg, "llama3.1-70b", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    const int64_t norms = (2 * 80 + 1) * 8192 * 4; /* replicated bytes */
    int64_t whole = 0;
    static const int tps[] = {1, 2, 8};
    for (int k = 0; k < 3; k++) {
        int tp = tps[k];
        LlmcGraph *g = llmc_graph_new();
        ck_assert_msg(llmc_model_from_json(doc, "llama3.1-70b", "/nonexistent", g, &d) == LLMC_OK, "%s", d.msg);
        LlmcPassOptions opt = options(tp);
        ck_assert_msg(llmc_pipeline(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "--tp %d: %s", tp, d.msg);
        ck_assert_int_eq(g->kv_heads, 8 / tp);
        ck_assert_int_eq(g->kv_layers, 80);
        ck_assert_int_eq(g->vocab_size, 128256);
        int reduces = 0;
        for (int i = 0; i < g->nn; i++) {
            const LlmcNode *n = &g->n[i];
            reduces += n->op == LLMC_OP_ALL_REDUCE;
            if (n->op == LLMC_OP_PAGED_ATTENTION) /* the rank's query heads */
                ck_assert_int_eq(llmc_cols(&g->t[n->out[0]].shape), 64 / tp * 128);
            if (n->op == LLMC_OP_SWIGLU)
                ck_assert_int_eq(llmc_cols(&g->t[n->out[0]].shape), 28672 / tp);
        }
        ck_assert_int_eq(reduces, tp > 1 ? 1 + 160 : 0); /* the embedding's, and 2 a layer */
        if (tp == 1)
            whole = g->weights_bytes;
        int64_t want = (whole - norms) / tp + norms;
        ck_assert_msg(llabs(g->weights_bytes - want) < (INT64_C(16) << 20), "--tp %d: %lld bytes of weights a rank, "
                      "expected about %lld", tp, (long long)g->weights_bytes, (long long)want);
        llmc_graph_free(g);
    }
    ck_assert_msg(whole > INT64_C(140) * 1000000000 && whole < INT64_C(142) * 1000000000, "%lld", (long long)whole);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tp");
    TCase *tc = tcase_create("tp");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, tp_shard_view);
    tcase_add_test(tc, tp_stories);
    tcase_add_test(tc, tp_families);
    tcase_add_test(tc, tp_errors);
    tcase_add_test(tc, tp_verify_and_backends);
    tcase_add_test(tc, tp_weight_formats);
    tcase_add_test(tc, tp_llama70b_shapes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_main(suite()); }
