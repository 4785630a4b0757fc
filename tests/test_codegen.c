/* test_codegen.c — numeric tests of the pipeline and the C backend against the plain-C reference.
 *
 * For a model: (1) every pass preserves the results of the reference interpreter (the graph after
 * each pass, the GPU stage's fusions included, is interpreted on the same steps as the graph fresh
 * from the frontend); (2) the
 * generated C kernels (the object the executable links, model.o), driven by tests/model_harness.c
 * with 1 and 3 threads, match the reference on
 * a scenario of ragged steps (chunked prefill and decode of three sequences mixed, logits asked for
 * arbitrary rows) over a paged KV cache with shuffled blocks. Models: the real stories260K, and a
 * synthetic model with odd shapes (dims not multiples of 8, 5:1 GQA, biases, half-rotation RoPE
 * with llama3 scaling, a sliding window, untied head).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codegen/backend.h"
#include "../codegen/emit.h"
#include "../codegen/linker.h"
#include "../frontend/frontend.h"
#include "../frontend/model_json.h"
#include "../ir/interp.h"
#include "../ir/kv_layout.h"
#include "../passes/passes.h"
#include "testutil.h"

/* ---- scenario ---- */

#define MAX_STEPS 40
typedef struct Step {
    int T, O;
    int32_t tok[64], pos[64], seq[64], slot[64], out[64];
} Step;

typedef struct Scenario {
    int n_steps, n_seqs, maxb, kv_blocks, bs;
    int32_t *tables; /* [n_seqs][maxb] */
    Step steps[MAX_STEPS];
} Scenario;

static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void add_tok(Scenario *s, Step *st, int seq, int pos, int vocab)
{
    int i = st->T++;
    st->tok[i] = (int32_t)(rnd() % (uint32_t)vocab);
    st->pos[i] = pos;
    st->seq[i] = seq;
    st->slot[i] = s->tables[seq * s->maxb + pos / s->bs] * s->bs + pos % s->bs;
}

/* s's block tables: n_seqs rows of maxb blocks drawn from a shuffled pool of n_seqs * maxb + 5 */
static void shuffled_tables(Scenario *s)
{
    s->kv_blocks = s->n_seqs * s->maxb + 5;
    s->tables = malloc(sizeof(int32_t) * (size_t)(s->n_seqs * s->maxb));
    int *perm = malloc(sizeof(int) * (size_t)s->kv_blocks);
    for (int i = 0; i < s->kv_blocks; i++)
        perm[i] = i;
    for (int i = s->kv_blocks - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint32_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < s->n_seqs * s->maxb; i++)
        s->tables[i] = perm[i];
    free(perm);
}

/* Three sequences: prompts of 13, 5 and 9 tokens, prefilled in chunks mixed with decodes. */
static void make_scenario(Scenario *s, int vocab, int bs)
{
    memset(s, 0, sizeof *s);
    s->n_seqs = 3;
    s->bs = bs;
    s->maxb = (40 + bs - 1) / bs;
    shuffled_tables(s);
    int len[3] = {0, 0, 0};
    Step *st = &s->steps[s->n_steps++]; /* seq0 tokens 0..7, seq1 all 5; outputs: seq1 last, seq0 row 3 */
    for (int p = 0; p < 8; p++)
        add_tok(s, st, 0, len[0]++, vocab);
    for (int p = 0; p < 5; p++)
        add_tok(s, st, 1, len[1]++, vocab);
    st->out[st->O++] = st->T - 1;
    st->out[st->O++] = 3;
    st = &s->steps[s->n_steps++]; /* seq1 decode, seq0 rest of prompt, seq2 whole prompt */
    add_tok(s, st, 1, len[1]++, vocab);
    st->out[st->O++] = 0;
    for (int p = 0; p < 5; p++)
        add_tok(s, st, 0, len[0]++, vocab);
    st->out[st->O++] = st->T - 1;
    for (int p = 0; p < 9; p++)
        add_tok(s, st, 2, len[2]++, vocab);
    st->out[st->O++] = st->T - 1;
    for (int k = 0; k < 6; k++) { /* decodes, sequences in varying order */
        st = &s->steps[s->n_steps++];
        for (int q = 0; q < 3; q++) {
            int sq = (q + k) % 3;
            if (k == 2 && sq == 1)
                continue; /* a sequence sits out a step */
            add_tok(s, st, sq, len[sq]++, vocab);
            st->out[st->O++] = st->T - 1;
        }
    }
}

/* For KIVI (ring_blocks > 0: each table row ends with its ring's blocks): three sequences of prompts
 * of 170, 131 and 97 positions (97: ending mid-group) prefilled in ragged chunks (13, 11 and 8
 * tokens a step, at most 32 a step), then 12 decode steps: positions past the residual read from
 * the blocks, groups sealed in prefill chunks and decodes, the residual window crossing blocks. */
static void make_scenario_kivi(Scenario *s, int vocab, int bs, int ring_blocks, int max_pos)
{
    memset(s, 0, sizeof *s);
    s->n_seqs = 3;
    s->bs = bs;
    s->maxb = (max_pos + bs - 1) / bs + ring_blocks;
    shuffled_tables(s);
    int len[3] = {0, 0, 0}, prompt[3] = {170, 131, 97}, chunk[3] = {13, 11, 8};
    for (int busy = 1; busy;) {
        ck_assert_int_lt(s->n_steps, MAX_STEPS);
        Step *st = &s->steps[s->n_steps++];
        busy = 0;
        for (int q = 0; q < 3; q++) {
            int n = prompt[q] - len[q] < chunk[q] ? prompt[q] - len[q] : chunk[q];
            for (int k = 0; k < n; k++)
                add_tok(s, st, q, len[q]++, vocab);
            if (n > 0)
                st->out[st->O++] = st->T - 1;
            busy |= len[q] < prompt[q];
        }
    }
    for (int k = 0; k < 12; k++) {
        Step *st = &s->steps[s->n_steps++];
        for (int q = 0; q < 3; q++) {
            add_tok(s, st, (q + k) % 3, len[(q + k) % 3]++, vocab);
            st->out[st->O++] = st->T - 1;
        }
    }
}

static void step_view(const Scenario *s, const Step *st, LlmcStep *ls, float *logits)
{
    memset(ls, 0, sizeof *ls);
    ls->n_tokens = st->T;
    ls->tokens = st->tok;
    ls->positions = st->pos;
    ls->seq_of_token = st->seq;
    ls->slots = st->slot;
    ls->block_tables = s->tables;
    ls->max_blocks_per_seq = s->maxb;
    ls->n_out = st->O;
    ls->out_rows = st->out;
    ls->logits = logits;
}

static void write_scenario(const Scenario *s, const char *path)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%d %d\n", s->kv_blocks, s->n_steps);
    for (int k = 0; k < s->n_steps; k++) {
        const Step *st = &s->steps[k];
        fprintf(f, "%d %d %d %d\n", st->T, st->O, s->maxb, s->n_seqs);
        const int32_t *arrs[4] = {st->tok, st->pos, st->seq, st->slot};
        for (int a = 0; a < 4; a++) {
            for (int i = 0; i < st->T; i++)
                fprintf(f, "%d ", arrs[a][i]);
            fprintf(f, "\n");
        }
        for (int i = 0; i < s->n_seqs * s->maxb; i++)
            fprintf(f, "%d ", s->tables[i]);
        fprintf(f, "\n");
        for (int i = 0; i < st->O; i++)
            fprintf(f, "%d ", st->out[i]);
        fprintf(f, "\n");
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- model loading ---- */

typedef struct Model {
    LlmcGraph *g;
    LlmcWeightFiles *wf;
    LlmcWeightSource ws;          /* over wf */
    cJSON *doc;
    char *dir;
} Model;

/* With gpu_stage the GPU fusions follow the common pipeline (up to stop_after if it names one). */
static void load_stage(Model *m, const char *path, const LlmcPassOptions *opt, const char *stop_after, int gpu_stage);

static void load(Model *m, const char *path, const LlmcPassOptions *opt, const char *stop_after)
{
    load_stage(m, path, opt, stop_after, 0);
}

static void load_stage(Model *m, const char *path, const LlmcPassOptions *opt, const char *stop_after, int gpu_stage)
{
    LlmcDiag d;
    memset(m, 0, sizeof *m);
    ck_assert_msg(llmc_json_load(path, &m->doc, &d) == LLMC_OK, "%s", d.msg);
    m->dir = llmc_path_dir(path);
    m->g = llmc_graph_new();
    m->wf = llmc_wf_new();
    m->ws = llmc_wf_source(m->wf);
    ck_assert_msg(llmc_model_from_json(m->doc, path, m->dir, m->g, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(llmc_model_check_weights(m->g, m->wf, &d) == LLMC_OK, "%s", d.msg);
    for (const LlmcPass *p = llmc_passes(); p->name; p++) {
        ck_assert_msg(p->fn(m->g, opt, &d) == LLMC_OK, "%s: %s", p->name, d.msg);
        ck_assert_msg(llmc_graph_verify(m->g, &d) == LLMC_OK, "after %s: %s", p->name, d.msg);
        if (!gpu_stage && stop_after && strcmp(p->name, stop_after) == 0)
            return;
    }
    for (const LlmcPass *p = llmc_gpu_passes(); gpu_stage && p->name; p++) {
        ck_assert_msg(p->fn(m->g, opt, &d) == LLMC_OK, "%s: %s", p->name, d.msg);
        ck_assert_msg(llmc_graph_verify(m->g, &d) == LLMC_OK, "after %s: %s", p->name, d.msg);
        if (stop_after && strcmp(p->name, stop_after) == 0)
            return;
    }
}

static void unload(Model *m)
{
    llmc_graph_free(m->g);
    llmc_wf_free(m->wf);
    cJSON_Delete(m->doc);
    free(m->dir);
}

/* Matrix w[N][K] quantized and dequantized in place by format fmt's reference quantizer (ir/quant.c)
 * in its default groups, with its pre-pass over the whole matrix first when it has one: the values a
 * matrix packed in fmt holds (its GROUP and TENSOR side tensors; no ROW ones). */
static void quant_round(LlmcDType fmt, int64_t N, int64_t K, float *w)
{
    const LlmcFormatTraits *f = llmc_format(fmt);
    int64_t group = f->group_default == LLMC_GROUP_ROW || f->group_default > K ? K : f->group_default;
    unsigned has = 0;
    for (int i = 0; i < llmc_format_n_sides(fmt); i++) {
        ck_assert(f->side[i].shape == LLMC_SHAPE_GROUP || f->side[i].shape == LLMC_SHAPE_TENSOR);
        if (!(f->side[i].flags & LLMC_SIDE_OPTIONAL))
            has |= 1u << i;
    }
    float tside[LLMC_MAX_SIDES] = {0}, *gvals[LLMC_MAX_SIDES] = {NULL}, *sp[LLMC_MAX_SIDES] = {NULL};
    if (f->quant->prepass) {
        for (int64_t r = 0; r < N; r++)
            f->quant->prepass(w + r * K, K, tside, has);
        f->quant->prepass(NULL, 0, tside, has);
    }
    for (int i = 0; i < llmc_format_n_sides(fmt); i++) {
        gvals[i] = malloc(sizeof(float) * (size_t)((K + group - 1) / group));
        sp[i] = f->side[i].shape == LLMC_SHAPE_TENSOR ? &tside[i] : gvals[i];
    }
    uint8_t *q = malloc((size_t)llmc_format_bytes(fmt, K));
    for (int64_t r = 0; r < N; r++) {
        llmc_quantize_row(fmt, K, group, w + r * K, q, sp, has);
        llmc_dequantize_row(fmt, K, group, q, (const float *const *)sp, has, w + r * K);
    }
    free(q);
    for (int i = 0; i < llmc_format_n_sides(fmt); i++)
        free(gvals[i]);
}

/* Gives the interpreter every weight of g, rounded through `storage` (f32: unchanged; a quantized
 * format: quant_round). */
static LlmcInterp *interp_for(const Model *m, LlmcDType storage)
{
    const LlmcGraph *g = m->g;
    LlmcInterp *it = llmc_interp_new(g, 4);
    ck_assert_ptr_nonnull(it);
    for (int t = 0; t < g->nt; t++) {
        const LlmcTensor *w = &g->t[t];
        if (w->kind != LLMC_T_WEIGHT)
            continue;
        int64_t n = llmc_shape_numel(&w->shape, 0, 0);
        float *buf = malloc(sizeof(float) * (size_t)n);
        int64_t done = 0;
        int parts = w->src.n_parts ? w->src.n_parts : 1;
        for (int p = 0; p < parts; p++) {
            const LlmcTensor *src = w->src.n_parts ? &g->t[w->src.parts[p]] : w;
            LlmcDiag d;
            int64_t k = llmc_shape_numel(&src->shape, 0, 0);
            ck_assert_msg(m->ws.read_f32(m->ws.ctx, src, 0, k, buf + done, &d) == LLMC_OK, "%s", d.msg);
            for (int64_t i = 0; i < k; i++) {
                float f = buf[done + i];
                int matrix = w->shape.rank == 2;
                if (matrix && storage == LLMC_BF16)
                    f = llmc_bf16_to_f32(llmc_f32_to_bf16(f));
                else if (matrix && storage == LLMC_F16)
                    f = llmc_f16_to_f32(llmc_f32_to_f16(f));
                buf[done + i] = f;
            }
            done += k;
        }
        if (w->shape.rank == 2 && llmc_format_n_sides(storage) > 0)
            quant_round(storage, w->shape.dim[0], w->shape.dim[1], buf);
        llmc_interp_set_weight(it, t, buf);
        free(buf);
    }
    return it;
}

/* Runs the scenario through the interpreter; returns all logits concatenated. */
static float *interp_run(const Model *m, const Scenario *s, LlmcDType storage, int64_t *count)
{
    LlmcInterp *it = interp_for(m, storage);
    int64_t V = m->g->vocab_size, total = 0;
    for (int k = 0; k < s->n_steps; k++)
        total += s->steps[k].O * V;
    float *all = malloc(sizeof(float) * (size_t)total);
    float *kv = NULL;
    if (m->g->kv_layers)
        kv = calloc((size_t)s->kv_blocks * (size_t)llmc_graph_kv_block_bytes(m->g, m->g->kv_format[0], m->g->kv_format[1]) / 4 + 1, sizeof(float));
    int64_t at = 0;
    for (int k = 0; k < s->n_steps; k++) {
        LlmcStep ls;
        step_view(s, &s->steps[k], &ls, all + at);
        LlmcDiag d;
        ck_assert_msg(llmc_interp_step(it, &ls, kv, &d) == LLMC_OK, "%s", d.msg);
        at += s->steps[k].O * V;
    }
    free(kv);
    llmc_interp_free(it);
    *count = total;
    return all;
}

/* The sanitized build's run of these tests (scripts/test.sh sets LLMC_TEST_EMIT_ONLY=1 there) emits
 * every model's C but neither compiles nor runs it: the generated code is compiled by plain `cc -O2`
 * in both builds, so its run under the sanitized build would check the same bits again (about 100 s
 * of CI time), while the compiler's own code (import, passes, emitter, packer) and the reference
 * interpreter still run sanitized. harness_logits then returns NULL, and rel_err of NULL is 0. */
static int emit_only(void)
{
    const char *v = getenv("LLMC_TEST_EMIT_ONLY");
    return v && strcmp(v, "1") == 0;
}

static double rel_err(const float *a, const float *ref, int64_t n)
{
    if (!a) /* emit_only(): no logits of the generated code */
        return 0.0;
    double err = 0, mag = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]))
            return INFINITY;
        double e = fabs((double)a[i] - ref[i]);
        err = e > err ? e : err;
        mag = fabs(ref[i]) > mag ? fabs(ref[i]) : mag;
    }
    return err / (mag > 0 ? mag : 1);
}

static LlmcPassOptions options(int bs)
{
    LlmcPassOptions o;
    memset(&o, 0, sizeof o);
    o.target = llmc_target_find("cpu");
    o.max_tokens = 32;
    o.max_outputs = 8;
    o.kv_block_size = bs;
    return o;
}

/* (1) every pass preserves the reference results. */
static void check_passes(const char *path)
{
    LlmcPassOptions opt = options(4);
    Model ref;
    load(&ref, path, &opt, "infer_shapes");
    Scenario s;
    make_scenario(&s, ref.g->vocab_size, 4);
    int64_t n;
    float *want = interp_run(&ref, &s, LLMC_F32, &n);
    for (int stage = 0; stage < 2; stage++)
        for (const LlmcPass *p = stage ? llmc_gpu_passes() : llmc_passes(); p->name; p++) {
            if (p->tp_only) /* nothing without --tp (test_tp runs the sharded graphs) */
                continue;
            Model m;
            load_stage(&m, path, &opt, p->name, stage);
            int64_t n2;
            float *got = interp_run(&m, &s, LLMC_F32, &n2);
            ck_assert_int_eq(n, n2);
            double e = rel_err(got, want, n);
            ck_assert_msg(e < 1e-5, "after pass %s: relative error %g", p->name, e);
            free(got);
            unload(&m);
        }
    free(want);
    free(s.tables);
    unload(&ref);
}

/* The driver's steps after the common pipeline (main.c's compile_model), through the target's
 * backend; no tokenizer (the harness feeds token ids). */
static void build(Model *m, const LlmcPassOptions *opt, const char *exe, const char *emit_dir)
{
    const LlmcTarget *targets[2] = {opt->target, NULL};
    LlmcCodegenOptions co = {.emit_dir = emit_dir, .quiet = 1};
    LlmcLinkOptions lo = {.out_path = exe, .cc = "cc", .quiet = 1};
    LlmcCodegen cg;
    LlmcDiag d;
    ck_assert_msg(llmc_codegen_open(&cg, targets, m->g, &m->ws, NULL, 0, &co, &d) == LLMC_OK, "%s", d.msg);
    const LlmcBackend *be = cg.backend;
    ck_assert_msg(!be->before_target_stage || be->before_target_stage(&cg, m->g, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(llmc_pipeline_stage(be->target_passes, m->g, opt, NULL, NULL, 1, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(be->emit(&cg, m->g, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(!be->build_images || be->build_images(&cg, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(be->write_host(&cg, m->g, &d) == LLMC_OK, "%s", d.msg);
    if (!emit_only())
        ck_assert_msg(llmc_link(&cg, m->g, &m->ws, NULL, 0, &lo, &d) == LLMC_OK, "%s", d.msg);
    llmc_codegen_close(&cg);
}

/* The n floats the harness wrote to path. */
static float *read_logits(const char *path, int64_t n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    float *got = malloc(sizeof(float) * (size_t)n);
    ck_assert_int_eq((int64_t)fread(got, sizeof(float), (size_t)n, f), n);
    fclose(f);
    return got;
}

/* The generated C in emit/model.c defines LLMC_INTRINSICS (c_prelude.h: <immintrin.h> and the
 * helpers' x86 paths) exactly when its weights are stored other than f32. */
static void check_intrinsics_define(const char *emit, LlmcDType storage)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/model.c", emit);
    char *src = NULL;
    size_t n = 0;
    LlmcDiag d;
    ck_assert_msg(llmc_read_file(path, &src, &n, &d) == LLMC_OK, "%s", d.msg);
    int has = strstr(src, "\n#define LLMC_INTRINSICS 1") != NULL;
    ck_assert_msg(has == (storage != LLMC_F32), "%s weights: the generated C %s LLMC_INTRINSICS",
                  llmc_dtype_name(storage), has ? "defines" : "does not define");
    free(src);
}

/* (2) generated kernels against the reference. */
static void check_kernels(const char *path, LlmcDType storage, double tol)
{
    LlmcPassOptions opt = options(4);
    opt.weights = storage;
    opt.weights_set = 1;
    Model ref, m;
    load(&ref, path, &opt, "infer_shapes");
    load(&m, path, &opt, NULL);
    Scenario s;
    make_scenario(&s, ref.g->vocab_size, 4);
    int64_t n;
    float *want = interp_run(&ref, &s, storage, &n);

    const char *dir = tu_tmpdir();
    char exe[1024], emit[1024], scen[1024], cmd[4096], harness[1024], logits[1024];
    snprintf(exe, sizeof exe, "%s/model", dir);
    snprintf(emit, sizeof emit, "%s/src", dir);
    snprintf(scen, sizeof scen, "%s/scenario.txt", dir);
    snprintf(harness, sizeof harness, "%s/harness", dir);
    build(&m, &opt, exe, emit);
    check_intrinsics_define(emit, storage);
    if (emit_only()) {
        free(want);
        free(s.tables);
        unload(&m);
        unload(&ref);
        return;
    }
    write_scenario(&s, scen);
    snprintf(cmd, sizeof cmd,
             "cc -std=gnu11 -O2 -march=native -ffp-contract=fast -w -I%s/runtime -I%s/abi -o %s %s/tests/model_harness.c "
             "%s/model.o -lm -lpthread 2>&1",
             LLMC_SOURCE_DIR, LLMC_SOURCE_DIR, harness, LLMC_SOURCE_DIR, emit);
    char *log = NULL;
    ck_assert_msg(tu_run(cmd, &log) == 0, "harness build failed: %s", log);
    free(log);
    float *first = NULL;
    for (int nth = 1; nth <= 3; nth += 2) {
        snprintf(logits, sizeof logits, "%s/logits%d.bin", dir, nth);
        snprintf(cmd, sizeof cmd, "%s %s %s %s %d 2>&1", harness, exe, scen, logits, nth);
        ck_assert_msg(tu_run(cmd, &log) == 0, "harness failed: %s", log);
        free(log);
        float *got = read_logits(logits, n);
        double e = rel_err(got, want, n);
        ck_assert_msg(e < tol, "%s (%s weights, %d threads): relative error %g vs the reference", path,
                      llmc_dtype_name(storage), nth, e);
        if (!first)
            first = got;
        else {
            ck_assert_msg(memcmp(first, got, sizeof(float) * (size_t)n) == 0,
                          "results differ between 1 and 3 threads");
            free(got);
        }
    }
    free(first);
    free(want);
    free(s.tables);
    unload(&ref);
    unload(&m);
}

/* ---- the synthetic odd-shaped model ---- */

static void make_synthetic_hd(int D, int F, int HD, int window, int max_seq, const char *name, char *path, size_t pn);
static void make_synthetic(int D, int F, const char *name, char *path, size_t pn)
{
    make_synthetic_hd(D, F, 8, 11, 48, name, path, pn);
}
static const char *synthetic_model(void)
{
    static char path[1024];
    if (!path[0])
        make_synthetic(40, 52, "odd", path, sizeof path);
    return path;
}
/* D 256, F 512: rows of whole lane8 tiles (the quantized matrices' CUDA order) */
static const char *synthetic_wide(void)
{
    static char path[1024];
    if (!path[0])
        make_synthetic(256, 512, "wide", path, sizeof path);
    return path;
}
/* KIVI's groups: heads of 32, contexts of 256 positions (past the residual), no sliding window */
static const char *synthetic_kivi(void)
{
    static char path[1024];
    if (!path[0])
        make_synthetic_hd(40, 52, 32, 0, 256, "kivi", path, sizeof path);
    return path;
}
static void make_synthetic_hd(int D, int F, int HD, int window, int max_seq, const char *name, char *path, size_t pn)
{
    const char *dir = tu_tmpdir();
    enum { HQ = 5, HK = 1, V = 97, L = 3 };
    struct {
        const char *name;
        int r, c;
    } ws[64];
    int nw = 0;
#define W(nm, rr, cc) (ws[nw].name = (nm), ws[nw].r = (rr), ws[nw].c = (cc), nw++)
    static char names[64][64];
    W("emb", V, D);
    for (int l = 0; l < L; l++) {
        const char *kinds[] = {"an", "wq", "wk", "wv", "bq", "bk", "bv", "wo", "fn", "w1", "w2", "w3"};
        int rs[] = {D, HQ * HD, HK * HD, HK * HD, HQ * HD, HK * HD, HK * HD, D, D, F, D, F};
        int cs[] = {0, D, D, D, 0, 0, 0, HQ * HD, 0, D, F, D};
        for (int k = 0; k < 12; k++) {
            snprintf(names[nw], sizeof names[0], "l%d.%s", l, kinds[k]);
            W(names[nw], rs[k], cs[k]);
        }
    }
    W("norm", D, 0);
    W("out", V, D);
    char wpath[1024];
    snprintf(wpath, sizeof wpath, "%s/%s.bin", dir, name);
    FILE *f = fopen(wpath, "wb");
    ck_assert_ptr_nonnull(f);
    LlmcBuf js = {0};
    llmc_buf_printf(&js, "{\"llmc_model\": 1, \"name\": \"odd\", \"config\": {\"max_seq_len\": %d, \"bos_id\": 1, "
                         "\"eos_id\": 2}, \"tokenizer\": null, \"weights\": {", max_seq);
    long off = 0;
    for (int i = 0; i < nw; i++) {
        int n = ws[i].r * (ws[i].c ? ws[i].c : 1);
        for (int k = 0; k < n; k++) {
            float v = ws[i].c ? ((float)(rnd() % 2001) / 1000.0f - 1.0f) * 0.3f : 1.0f + (float)(rnd() % 200) / 1000.0f;
            fwrite(&v, 4, 1, f);
        }
        if (ws[i].c)
            llmc_buf_printf(&js, "%s\"%s\": {\"file\": \"%s.bin\", \"offset\": %ld, \"dtype\": \"f32\", "
                                 "\"shape\": [%d, %d]}", i ? ", " : "", ws[i].name, name, off, ws[i].r, ws[i].c);
        else
            llmc_buf_printf(&js, "%s\"%s\": {\"file\": \"%s.bin\", \"offset\": %ld, \"dtype\": \"f32\", "
                                 "\"shape\": [%d]}", i ? ", " : "", ws[i].name, name, off, ws[i].r);
        off += 4L * n;
    }
    fclose(f);
    char rope[320];
    snprintf(rope, sizeof rope,
             "\"head_dim\": %d, \"theta\": 500000, \"style\": \"half\", \"scaling\": {\"type\": \"llama3\", "
             "\"factor\": 8, \"low_freq_factor\": 1, \"high_freq_factor\": 4, \"original_max_position_embeddings\": 16}",
             HD);
    llmc_buf_printf(&js,
                    "}, \"graph\": {\"prologue\": [{\"op\": \"embedding\", \"in\": [\"@emb\", \"tokens\"], \"out\": \"x\"}],"
                    " \"layers\": {\"count\": %d, \"block\": ["
                    "{\"op\": \"rmsnorm\", \"in\": [\"x\", \"@l{i}.an\"], \"out\": \"h\", \"eps\": 1e-6},"
                    "{\"op\": \"matmul\", \"in\": [\"h\", \"@l{i}.wq\", \"@l{i}.bq\"], \"out\": \"q\"},"
                    "{\"op\": \"matmul\", \"in\": [\"h\", \"@l{i}.wk\", \"@l{i}.bk\"], \"out\": \"k\"},"
                    "{\"op\": \"matmul\", \"in\": [\"h\", \"@l{i}.wv\", \"@l{i}.bv\"], \"out\": \"v\"},"
                    "{\"op\": \"rope\", \"in\": [\"q\", \"positions\"], \"out\": \"q\", %s},"
                    "{\"op\": \"rope\", \"in\": [\"k\", \"positions\"], \"out\": \"k\", %s},"
                    "{\"op\": \"attention\", \"in\": [\"q\", \"k\", \"v\"], \"out\": \"a\", \"head_dim\": %d, \"window\": %d},"
                    "{\"op\": \"matmul\", \"in\": [\"a\", \"@l{i}.wo\"], \"out\": \"o\"},"
                    "{\"op\": \"add\", \"in\": [\"x\", \"o\"], \"out\": \"x\"},"
                    "{\"op\": \"rmsnorm\", \"in\": [\"x\", \"@l{i}.fn\"], \"out\": \"h\"},"
                    "{\"op\": \"matmul\", \"in\": [\"h\", \"@l{i}.w1\"], \"out\": \"g\"},"
                    "{\"op\": \"matmul\", \"in\": [\"h\", \"@l{i}.w3\"], \"out\": \"u\"},"
                    "{\"op\": \"silu\", \"in\": [\"g\"], \"out\": \"g\"},"
                    "{\"op\": \"mul\", \"in\": [\"u\", \"g\"], \"out\": \"f\"},"
                    "{\"op\": \"matmul\", \"in\": [\"f\", \"@l{i}.w2\"], \"out\": \"d\"},"
                    "{\"op\": \"add\", \"in\": [\"x\", \"d\"], \"out\": \"x\"}]},"
                    " \"epilogue\": [{\"op\": \"rmsnorm\", \"in\": [\"x\", \"@norm\"], \"out\": \"h\"},"
                    "{\"op\": \"matmul\", \"in\": [\"h\", \"@out\"], \"out\": \"logits\"}]}}\n",
                    L, rope, rope, HD, window);
    snprintf(path, pn, "%s/%s.json", dir, name);
    LlmcDiag d;
    ck_assert_msg(llmc_write_file_atomic(path, js.s, js.n, &d) == LLMC_OK, "%s", d.msg);
    llmc_buf_free(&js);
}

static const char *stories_json(void) { return LLMC_SOURCE_DIR "/examples/stories260K.json"; }

/* The logits of scenario s through path compiled with opt (1 thread, the harness). */
static float *harness_logits(const char *path, const LlmcPassOptions *opt, const Scenario *s, const char *tag, int64_t n)
{
    Model m;
    load(&m, path, opt, NULL);
    const char *dir = tu_tmpdir();
    char exe[1024], emit[1024], scen[1024], cmd[4096], harness[1024], logits[1024];
    snprintf(exe, sizeof exe, "%s/%s.model", dir, tag);
    snprintf(emit, sizeof emit, "%s/%s.src", dir, tag);
    snprintf(scen, sizeof scen, "%s/%s.scenario", dir, tag);
    snprintf(harness, sizeof harness, "%s/%s.harness", dir, tag);
    snprintf(logits, sizeof logits, "%s/%s.logits", dir, tag);
    build(&m, opt, exe, emit);
    if (emit_only()) {
        unload(&m);
        return NULL;
    }
    write_scenario(s, scen);
    snprintf(cmd, sizeof cmd,
             "cc -std=gnu11 -O2 -march=native -ffp-contract=fast -w -I%s/runtime -I%s/abi -o %s %s/tests/model_harness.c "
             "%s/model.o -lm -lpthread 2>&1 && %s %s %s %s 1 2>&1",
             LLMC_SOURCE_DIR, LLMC_SOURCE_DIR, harness, LLMC_SOURCE_DIR, emit, harness, exe, scen, logits);
    char *log = NULL;
    ck_assert_msg(tu_run(cmd, &log) == 0, "harness: %s", log);
    free(log);
    float *got = read_logits(logits, n);
    unload(&m);
    return got;
}

/* Quantized matrices in the lane8 order (what CUDA targets pack, and their CPU twins read): a cpu
 * target that packs lane8 (targets are data) gives the logits of the row-major cpu target, bit for
 * bit: the pass, the packer's shuffle and the C kernels' lane8 reads agree. */
static void check_lane8(LlmcDType fmt, int group, int asym)
{
    const char *path = synthetic_wide();
    LlmcPassOptions opt = options(4);
    opt.weights = fmt;
    opt.weights_set = 1;
    opt.group = group;
    opt.asym = asym;
    Model ref;
    load(&ref, path, &opt, "infer_shapes");
    Scenario s;
    make_scenario(&s, ref.g->vocab_size, 4);
    int64_t n;
    free(interp_run(&ref, &s, LLMC_F32, &n));
    unload(&ref);
    float *rm = harness_logits(path, &opt, &s, "rowmajor", n);
    LlmcTarget lane8 = *llmc_target_find("cpu");
    lane8.quant_order = LLMC_ORDER_LANE8;
    opt.target = &lane8;
    Model m;
    load(&m, path, &opt, NULL);
    int shuffled = 0;
    for (int i = 0; i < m.g->nt; i++)
        shuffled += m.g->t[i].layout.order == LLMC_ORDER_LANE8;
    unload(&m);
    ck_assert_msg(shuffled >= 9, "only %d matrices in lane8 order", shuffled); /* q, k, v, w1, w3 (w2) a layer */
    float *l8 = harness_logits(path, &opt, &s, "lane8", n);
    ck_assert_msg(emit_only() || memcmp(rm, l8, sizeof(float) * (size_t)n) == 0, "%s g%d%s: lane8 logits differ from row-major",
                  llmc_dtype_name(fmt), group, asym ? " asym" : "");
    free(rm);
    free(l8);
    free(s.tables);
}

START_TEST(passes_preserve_synthetic) { check_passes(synthetic_model()); }
END_TEST

START_TEST(kernels_synthetic_f32) { check_kernels(synthetic_model(), LLMC_F32, 2e-5); }
END_TEST

START_TEST(kernels_synthetic_bf16) { check_kernels(synthetic_model(), LLMC_BF16, 2e-5); }
END_TEST

START_TEST(kernels_synthetic_f16) { check_kernels(synthetic_model(), LLMC_F16, 2e-5); }
END_TEST

START_TEST(lane8_u4) { check_lane8(LLMC_U4, 0, 0); }
END_TEST
START_TEST(lane8_u4_asym_g32) { check_lane8(LLMC_U4, 32, 1); }
END_TEST
START_TEST(lane8_fp8) { check_lane8(LLMC_FP8, 0, 0); }
END_TEST
START_TEST(lane8_nvfp4) { check_lane8(LLMC_NVFP4, 0, 0); } /* groups of 16: a lane's 4-value run each */
END_TEST
START_TEST(lane8_u4_g16) { check_lane8(LLMC_U4, 16, 0); }
END_TEST

/* The test-only formats of formats.def (t8 weights: int8 with an f16 scale a group and an f32
 * scale a tensor, which needs the pre-pass; k8 KV: int8 rows with an f32 scale each) on a cpu target
 * that lists them (targets are data): the passes give every matrix its two side tensors, the packer
 * quantizes them, the C backend's kernels read them and keep the KV cache in k8, and the logits
 * match the reference interpreter's (its weights through the format's reference quantizer, its KV
 * pool through the same row functions, ir/kv_formats.h). What docs/adding.md says a format takes. */
START_TEST(kernels_test_formats)
{
    const char *path = synthetic_model();
    LlmcTarget tg = *llmc_target_find("cpu");
    tg.weight_formats |= 1u << LLMC_T8;
    tg.kv_formats |= 1u << LLMC_K8;
    LlmcPassOptions opt = options(4);
    opt.target = &tg;
    opt.weights = LLMC_T8;
    opt.weights_set = 1;
    static const char *const keep[] = {"lm_head=t8,embedding=t8"};
    opt.keep = keep;
    opt.n_keep = 1;
    opt.kv[0] = opt.kv[1] = LLMC_K8;
    opt.kv_set = 1;
    Model ref, m;
    load(&ref, path, &opt, "lower_paged_kv");
    ck_assert(ref.g->kv_format[0] == LLMC_K8 && ref.g->kv_format[1] == LLMC_K8);
    load(&m, path, &opt, NULL);
    int quantized = 0;
    for (int i = 0; i < m.g->nt; i++) {
        const LlmcTensor *t = &m.g->t[i];
        if (t->kind != LLMC_T_WEIGHT || t->offset < 0 || t->src.derived)
            continue;
        ck_assert_msg(t->dtype == (t->shape.rank == 2 ? LLMC_T8 : LLMC_F32), "%s is %s", t->name, llmc_dtype_name(t->dtype));
        if (t->dtype != LLMC_T8)
            continue;
        quantized++;
        const LlmcTensor *sc = &m.g->t[t->layout.side[0]], *ts = &m.g->t[t->layout.side[1]];
        ck_assert(t->layout.group == 32 && sc->dtype == LLMC_F16 && ts->dtype == LLMC_F32 && ts->shape.rank == 1);
        ck_assert(sc->offset > t->offset && ts->offset > sc->offset);
    }
    ck_assert_int_ge(quantized, 2 + 3 * 4); /* the embedding, the head, a layer's qkv, wo, w1/w3, w2 */
    unload(&m);
    Scenario s;
    make_scenario(&s, ref.g->vocab_size, 4);
    int64_t n;
    float *want = interp_run(&ref, &s, LLMC_T8, &n);
    float *got = harness_logits(path, &opt, &s, "t8", n);
    double e = rel_err(got, want, n);
    ck_assert_msg(e < 2e-5, "t8 weights, k8 KV: relative error %g against the reference", e);
    /* and k8 is not f32 in disguise: the reference with an f32 cache differs */
    Model ref32;
    opt.kv[0] = opt.kv[1] = LLMC_F32;
    load(&ref32, path, &opt, "lower_paged_kv");
    float *f32kv = interp_run(&ref32, &s, LLMC_T8, &n);
    ck_assert_msg(rel_err(f32kv, want, n) > 1e-4, "k8 logits equal f32 KV's (%g)", rel_err(f32kv, want, n));
    free(f32kv);
    unload(&ref32);
    free(got);
    free(want);
    free(s.tables);
    unload(&ref);
}
END_TEST

/* The quantized KV formats of the cpu target, keys and values in formats of their own (int8 keys
 * and int4 values; fp8 keys with scales per layer and head, as --kv-calib gives them, and f16
 * values): the C kernels (kv_write, paged_attention) against the reference interpreter on the
 * scenario (shuffled block tables, ragged chunked prefills and decodes), both reading and writing
 * the pool through ir/kv_formats.h; a quantized cache is not f32 in disguise. */
static void check_kv_pair(LlmcDType kf, LlmcDType vf, const float *scales, const char *tag)
{
    const char *path = synthetic_model();
    LlmcPassOptions opt = options(4);
    opt.kv[0] = kf;
    opt.kv[1] = vf;
    opt.kv_set = 1;
    opt.kv_scales = scales;
    Model ref;
    load(&ref, path, &opt, "lower_paged_kv");
    ck_assert(ref.g->kv_format[0] == kf && ref.g->kv_format[1] == vf);
    Scenario s;
    make_scenario(&s, ref.g->vocab_size, 4);
    int64_t n;
    float *want = interp_run(&ref, &s, LLMC_F32, &n);
    float *got = harness_logits(path, &opt, &s, tag, n);
    double e = rel_err(got, want, n);
    ck_assert_msg(e < 2e-5, "KV %s,%s: relative error %g against the reference", llmc_dtype_name(kf),
                  llmc_dtype_name(vf), e);
    Model ref32;
    opt.kv[0] = opt.kv[1] = LLMC_F32;
    load(&ref32, path, &opt, "lower_paged_kv");
    float *f32kv = interp_run(&ref32, &s, LLMC_F32, &n);
    ck_assert_msg(rel_err(f32kv, want, n) > 1e-5, "KV %s logits equal f32 KV's (%g)", tag, rel_err(f32kv, want, n));
    free(f32kv);
    unload(&ref32);
    free(got);
    free(want);
    free(s.tables);
    unload(&ref);
}
START_TEST(kernels_kv_int8_int4) { check_kv_pair(LLMC_INT8, LLMC_INT4, NULL, "kv_i8i4"); }
END_TEST
START_TEST(kernels_kv_fp8_f16)
{
    /* scales of the synthetic model's layers (K, V of each; one KV head): a power of two, others; the
     * values' (f16) are not read */
    static const float sc[16] = {0.0078125f, 1.0f, 0.003f, 1.0f, 0.02f, 1.0f, 0.5f, 1.0f};
    check_kv_pair(LLMC_KV_FP8, LLMC_F16, sc, "kv_fp8");
}
END_TEST

/* KIVI (kivi2 keys and values, then kivi4 keys with int8 values) on a model with heads of 32 and
 * blocks of 32: the C kernels (the ring's f16 rows, groups sealed by paged_attention, reads from the
 * blocks below the residual) against the interpreter on make_scenario_kivi's steps; 2-bit KIVI is
 * not f16 in disguise. */
static void check_kivi(LlmcDType kf, LlmcDType vf, const char *tag)
{
    const char *path = synthetic_kivi();
    LlmcPassOptions opt = options(32);
    opt.kv[0] = kf;
    opt.kv[1] = vf;
    opt.kv_set = 1;
    Model ref;
    load(&ref, path, &opt, "lower_paged_kv");
    const LlmcGraph *g = ref.g;
    int nr = (int)kv_ring_blocks((int)kf, (int)vf, g->kv_layers, g->kv_block_size, g->kv_heads, g->kv_head_dim);
    ck_assert_int_gt(nr, 0);
    Scenario s;
    make_scenario_kivi(&s, g->vocab_size, 32, nr, g->max_seq_len);
    int64_t n;
    float *want = interp_run(&ref, &s, LLMC_F32, &n);
    float *got = harness_logits(path, &opt, &s, tag, n);
    double e = rel_err(got, want, n);
    ck_assert_msg(e < 2e-5, "KV %s,%s: relative error %g against the reference", llmc_dtype_name(kf), llmc_dtype_name(vf), e);
    Model r16;
    opt.kv[0] = opt.kv[1] = LLMC_F16;
    load(&r16, path, &opt, "lower_paged_kv");
    Scenario s16 = s;
    s16.maxb = s.maxb; /* the same tables: f16 has no ring, its rows end unused */
    float *f16 = interp_run(&r16, &s16, LLMC_F32, &n);
    ck_assert_msg(rel_err(f16, want, n) > 1e-4, "KV %s logits equal f16 KV's (%g)", tag, rel_err(f16, want, n));
    free(f16);
    unload(&r16);
    free(got);
    free(want);
    free(s.tables);
    unload(&ref);
}
START_TEST(kernels_kv_kivi2) { check_kivi(LLMC_KIVI2, LLMC_KIVI2, "kv_kivi2"); }
END_TEST
START_TEST(kernels_kv_kivi4_int8) { check_kivi(LLMC_KIVI4, LLMC_INT8, "kv_kivi4"); }
END_TEST

/* nvfp4 (E2M1 values, an E4M3 scale a 16 values, an f32 scale a tensor) on the cpu target, every
 * matrix (the embedding and the lm_head too; K 40 and 52: short last groups): the passes give each
 * its scale [N, ceil(K / 16)] and tensor scale [1], the packer quantizes (the pre-pass over a merged
 * matrix's parts together), and the logits match the reference interpreter's, its weights through
 * the reference quantizer after the same fusions. */
START_TEST(kernels_nvfp4)
{
    const char *path = synthetic_model();
    LlmcPassOptions opt = options(4);
    opt.weights = LLMC_NVFP4;
    opt.weights_set = 1;
    static const char *const keep[] = {"lm_head=nvfp4,embedding=nvfp4"};
    opt.keep = keep;
    opt.n_keep = 1;
    Model ref, m;
    load(&ref, path, &opt, "lower_paged_kv");
    load(&m, path, &opt, NULL);
    int quantized = 0;
    for (int i = 0; i < m.g->nt; i++) {
        const LlmcTensor *t = &m.g->t[i];
        if (t->kind != LLMC_T_WEIGHT || t->offset < 0 || t->src.derived || t->shape.rank != 2)
            continue;
        ck_assert_msg(t->dtype == LLMC_NVFP4, "%s is %s", t->name, llmc_dtype_name(t->dtype));
        quantized++;
        const LlmcTensor *sc = &m.g->t[t->layout.side[0]], *ts = &m.g->t[t->layout.side[1]];
        ck_assert(t->layout.group == 16 && sc->dtype == LLMC_E4M3 && ts->dtype == LLMC_F32 && ts->shape.rank == 1);
        ck_assert(sc->shape.dim[1] == (t->shape.dim[1] + 15) / 16);
        ck_assert(sc->offset > t->offset && ts->offset > sc->offset);
    }
    ck_assert_int_ge(quantized, 2 + 3 * 4); /* the embedding, the head, a layer's qkv, wo, w1/w3, w2 */
    unload(&m);
    Scenario s;
    make_scenario(&s, ref.g->vocab_size, 4);
    int64_t n;
    float *want = interp_run(&ref, &s, LLMC_NVFP4, &n);
    float *got = harness_logits(path, &opt, &s, "nvfp4", n);
    double e = rel_err(got, want, n);
    ck_assert_msg(e < 2e-5, "nvfp4 weights: relative error %g against the reference", e);
    float *f32 = interp_run(&ref, &s, LLMC_F32, &n); /* and 4 bits are not f32 in disguise */
    ck_assert_msg(rel_err(f32, want, n) > 1e-3, "nvfp4 logits equal f32's (%g)", rel_err(f32, want, n));
    free(f32);
    free(got);
    free(want);
    free(s.tables);
    unload(&ref);
}
END_TEST

START_TEST(passes_preserve_stories)
{
    if (tu_need_shared("stories260K/stories260K.bin"))
        return;
    check_passes(stories_json());
}
END_TEST

START_TEST(kernels_stories_f32)
{
    if (tu_need_shared("stories260K/stories260K.bin"))
        return;
    check_kernels(stories_json(), LLMC_F32, 2e-5);
}
END_TEST

/* NaN and infinite weights are refused in every storage format, naming the weight and the flat
 * index of its first such element: in a matrix, in a part of a merged one (wk: the index within wk
 * itself) and in a norm's vector (f32 in every format). */
START_TEST(pack_refuses_non_finite)
{
    const char *path = synthetic_wide(), *dir = tu_tmpdir();
    LlmcDiag d;
    cJSON *doc;
    ck_assert_msg(llmc_json_load(path, &doc, &d) == LLMC_OK, "%s", d.msg);
    char bin[1024], bad[1024], json[1024];
    char *wdir = llmc_path_dir(path);
    snprintf(bin, sizeof bin, "%s/wide.bin", wdir);
    free(wdir);
    snprintf(bad, sizeof bad, "%s/nonfinite.bin", dir);
    snprintf(json, sizeof json, "%s/nonfinite.json", dir);
    cJSON *w = cJSON_GetObjectItem(doc, "weights");
    for (cJSON *b = w->child; b; b = b->next)
        cJSON_ReplaceItemInObject(b, "file", cJSON_CreateString("nonfinite.bin"));
    char *text = cJSON_Print(doc);
    ck_assert_msg(llmc_write_file_atomic(json, text, strlen(text), &d) == LLMC_OK, "%s", d.msg);
    free(text);
    static const struct { const char *weight; long at; } where[] = {{"l1.w2", 300}, {"l1.wk", 77}, {"l2.fn", 5}};
    static const LlmcDType fmts[] = {LLMC_F32, LLMC_F16, LLMC_BF16, LLMC_FP8, LLMC_U4};
    static const float vals[] = {NAN, INFINITY, -INFINITY};
    static const char *names[] = {"NaN", "+inf", "-inf"};
    char *orig;
    size_t n;
    ck_assert(llmc_read_file(bin, &orig, &n, &d) == LLMC_OK);
    for (size_t k = 0; k < sizeof where / sizeof where[0]; k++)
        for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
            size_t v = (k + f) % 3;
            long off = (long)cJSON_GetObjectItem(cJSON_GetObjectItem(w, where[k].weight), "offset")->valuedouble;
            char *copy = malloc(n);
            memcpy(copy, orig, n);
            memcpy(copy + off + 4 * where[k].at, &vals[v], 4);
            if (k == 0)   /* a later element too: the first one is named */
                memcpy(copy + off + 4 * (where[k].at + 9), &vals[(v + 1) % 3], 4);
            ck_assert(llmc_write_file_atomic(bad, copy, n, &d) == LLMC_OK);
            free(copy);
            LlmcPassOptions opt = options(4);
            opt.weights = fmts[f];
            opt.weights_set = 1;
            Model m;
            load(&m, json, &opt, NULL);
            char out[1024], want[256];
            snprintf(out, sizeof out, "%s/nonfinite.payload", dir);
            LlmcOutFile o;
            ck_assert(llmc_out_open(&o, out, &d) == LLMC_OK);
            LlmcStatus st = llmc_pack_weights(m.g, &m.ws, &o, 1, &d);
            llmc_out_abort(&o);
            snprintf(want, sizeof want, "%s: element %ld is %s (weights must be finite", where[k].weight, where[k].at,
                     names[v]);
            ck_assert_msg(st == LLMC_ERR && strstr(d.msg, want), "%s in %s: %s", where[k].weight,
                          llmc_dtype_name(fmts[f]), st ? d.msg : "accepted");
            unload(&m);
        }
    free(orig);
    cJSON_Delete(doc);
}
END_TEST

/* ---- the model families (frontend/hf_families.c) ----
 * Each tiny config of tests/data/families/configs as a random f32 checkpoint (llmc synth), imported:
 * every pass keeps the interpreter's results, the C kernels reproduce them. */

static const char *family_model(const char *family)
{
    const char *dir = tu_tmpdir();
    char cfg[1024], ckpt[1024], json[1024];
    snprintf(cfg, sizeof cfg, "%s/tests/data/families/configs/%s.json", LLMC_SOURCE_DIR, family);
    snprintf(ckpt, sizeof ckpt, "%s/%s", dir, family);
    static char path[1024];
    snprintf(json, sizeof json, "%s/%s.model.json", dir, family);
    LlmcSynthOptions so = {.config_path = cfg, .out_dir = ckpt, .seed = 7, .dtype = LLMC_F32, .dtype_set = 1, .quiet = 1};
    LlmcDiag d;
    ck_assert_msg(llmc_synth(&so, &d) == LLMC_OK, "%s", d.msg);
    cJSON *doc;
    ck_assert_msg(llmc_import(ckpt, dir, &doc, &d) == LLMC_OK, "%s", d.msg);
    /* 40 positions (the scenario's), the model's own max_position_embeddings aside */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(doc, "config"), "max_seq_len", cJSON_CreateNumber(48));
    ck_assert_msg(llmc_json_save(json, doc, &d) == LLMC_OK, "%s", d.msg);
    cJSON_Delete(doc);
    snprintf(path, sizeof path, "%s", json);
    return path;
}

/* The kernels of a family whose ops or tables no other family has (CI time: a build is ~2 s). */
static void check_family(const char *family, int kernels)
{
    const char *path = family_model(family);
    check_passes(path);
    if (kernels)
        check_kernels(path, LLMC_F32, 2e-5);
}

#define FAMILY(name, kernels)                                                                                    \
    START_TEST(family_##name) { check_family(#name, kernels); }                                                  \
    END_TEST
FAMILY(qwen2, 0)         /* biases, windows: the odd synthetic model's kernels */
FAMILY(qwen3, 1)         /* head_rmsnorm, YaRN */
FAMILY(llama_linear, 0)  /* the rope tables: rope_tables below */
FAMILY(llama_dynamic, 0)
FAMILY(phi3, 1)          /* slices of fused projections, LongRoPE */
FAMILY(gemma2, 1)        /* scale, geglu, softcaps, 1 + w norms */
FAMILY(gemma3, 0)        /* gemma2's and qwen3's kernels, two rope tables */
FAMILY(mixtral, 0)       /* qwen3_moe's kernel */
FAMILY(qwen3_moe, 1)     /* moe, MoE and dense layers */
/* The experts quantized (in the format's default groups, as the interpreter's quant_round rounds:
 * the values and their scales, an expert's share of them sliced by c_moe.c; nvfp4's tensor scale is
 * the whole tensor's, shared by the experts: c_moe.c passes it whole), every other matrix too
 * (--keep: the interpreter rounds them all). */
static void check_moe_quantized(LlmcDType fmt, const char *keep0, const char *tag)
{
    const char *path = family_model("qwen3_moe");
    LlmcPassOptions opt = options(4);
    opt.weights = fmt;
    opt.weights_set = 1;
    const char *const keep[] = {keep0};
    opt.keep = keep;
    opt.n_keep = 1;
    Model ref; /* after the fusions: a merged Q/K/V (gate/up) shares nvfp4's tensor scale */
    load(&ref, path, &opt, "lower_paged_kv");
    Scenario s;
    make_scenario(&s, ref.g->vocab_size, 4);
    int64_t n;
    float *want = interp_run(&ref, &s, fmt, &n);
    float *got = harness_logits(path, &opt, &s, tag, n);
    double e = rel_err(got, want, n);
    ck_assert_msg(e < 2e-5, "qwen3_moe in %s: relative error %g against the reference", llmc_dtype_name(fmt), e);
    free(got);
    free(want);
    free(s.tables);
    unload(&ref);
}
START_TEST(family_qwen3_moe_w4a16) { check_moe_quantized(LLMC_U4, "lm_head=w4a16,embedding=w4a16", "moe_u4"); }
END_TEST
START_TEST(family_qwen3_moe_nvfp4) { check_moe_quantized(LLMC_NVFP4, "lm_head=nvfp4,embedding=nvfp4", "moe_nvfp4"); }
END_TEST

/* A decode step's expert bytes (bench.c's roofline of MoE models): qwen3_moe's two moe layers (layer 1
 * is dense), 8 experts, top 2, D 64, F 32, f32: gate/up 8 x 64 x 64 and down 8 x 64 x 32 values a
 * layer, out of weight_bytes_per_token; every other weight still counted once. */
START_TEST(moe_expert_bytes)
{
    const char *path = family_model("qwen3_moe");
    LlmcPassOptions opt = options(4);
    Model m;
    load(&m, path, &opt, NULL);
    LlmcExperts ex;
    llmc_expert_bytes(m.g, &ex);
    ck_assert_int_eq(ex.experts, 8);
    ck_assert_int_eq(ex.top_k, 2);
    ck_assert_int_eq(ex.bytes, 2LL * (8 * 64 * 64 + 8 * 64 * 32) * 4);
    int64_t all = 0; /* every weight's bytes, an embedding table's one row (untied: the lm_head apart) */
    for (int t = 0; t < m.g->nt; t++) {
        const LlmcTensor *w = &m.g->t[t];
        if (w->kind != LLMC_T_WEIGHT)
            continue;
        ck_assert_msg(w->dtype == LLMC_F32, "%s is %s", w->name, llmc_dtype_name(w->dtype));
        all += strstr(w->name, "embed") ? w->bytes / w->shape.dim[0] : w->bytes;
    }
    ck_assert_int_eq(llmc_weight_bytes_per_token(m.g) + ex.bytes, all);
    unload(&m);
}
END_TEST

/* The rope tables of the C kernels (c_prelude.h, float32) against the reference frequencies
 * (ir/rope.c, double) for every scaling type, past the lengths where dynamic and LongRoPE change
 * their frequencies. */
#ifndef __clang__ /* vector types by value: the prelude's helpers are always inlined */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#include "../codegen/c_prelude.h"
#ifndef __clang__
#pragma GCC diagnostic pop
#endif
START_TEST(rope_tables)
{
    enum { HD = 16, SEQ = 96 };
    static const char *const types[] = {NULL, "llama3", "linear", "dynamic", "yarn", "longrope"};
    LlmcGraph *g = llmc_graph_new();
    for (int t = 0; t < 6; t++) {
        LlmcNode n;
        memset(&n, 0, sizeof n);
        llmc_attr_set_float(g, &n, "theta", 10000.0);
        double sf[HD / 2], lf[HD / 2];
        float sff[HD / 2], lff[HD / 2];
        for (int i = 0; i < HD / 2; i++) {
            sff[i] = (float)(sf[i] = 1.0 + 0.1 * i);
            lff[i] = (float)(lf[i] = 1.0 + 1.5 * i);
        }
        if (types[t]) {
            llmc_attr_set_str(g, &n, "scaling.type", types[t]);
            llmc_attr_set_float(g, &n, "scaling.factor", 4.0);
            llmc_attr_set_float(g, &n, "scaling.original_max_position_embeddings", 40);
            llmc_attr_set_float(g, &n, "scaling.attention_factor", 1.25);
            llmc_attr_set_floats(g, &n, "scaling.short_factor", sf, HD / 2);
            llmc_attr_set_floats(g, &n, "scaling.long_factor", lf, HD / 2);
        }
        static float cs[SEQ * HD];
        int kind = llmc_rope_kind(&n);
        if (kind <= LLMC_ROPE_LLAMA3)
            rope_table(cs, SEQ, HD, 10000.0f, kind, 4.0f, 1.0f, 4.0f, 40.0f);
        else
            rope_table_scaled(cs, SEQ, HD, 10000.0f, kind, 4.0f, 40.0f, 32.0f, 1.0f, 1,
                              kind == LLMC_ROPE_YARN || kind == LLMC_ROPE_LONGROPE ? 1.25f : 1.0f, sff, lff);
        double worst = 0;
        for (int p = 0; p < SEQ; p++) {
            double inv[HD / 2], ms;
            llmc_rope_freqs(&n, HD, p, inv, &ms);
            for (int i = 0; i < HD / 2; i++) {
                double c = cos(p * inv[i]) * ms, s = sin(p * inv[i]) * ms;
                double e = fmax(fabs(c - cs[(p * HD / 2 + i) * 2]), fabs(s - cs[(p * HD / 2 + i) * 2 + 1]));
                worst = e > worst ? e : worst;
            }
        }
        ck_assert_msg(worst < 2e-4, "rope %s: table differs from the reference by %g", types[t] ? types[t] : "none",
                      worst);
    }
    llmc_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("codegen");
    TCase *tc = tcase_create("numeric");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, passes_preserve_synthetic);
    tcase_add_test(tc, kernels_synthetic_f32);
    tcase_add_test(tc, kernels_synthetic_bf16);
    tcase_add_test(tc, kernels_synthetic_f16);
    tcase_add_test(tc, lane8_u4);
    tcase_add_test(tc, lane8_u4_asym_g32);
    tcase_add_test(tc, lane8_fp8);
    tcase_add_test(tc, lane8_nvfp4);
    tcase_add_test(tc, lane8_u4_g16);
    tcase_add_test(tc, kernels_test_formats);
    tcase_add_test(tc, kernels_kv_int8_int4);
    tcase_add_test(tc, kernels_kv_fp8_f16);
    tcase_add_test(tc, kernels_kv_kivi2);
    tcase_add_test(tc, kernels_kv_kivi4_int8);
    tcase_add_test(tc, kernels_nvfp4);
    tcase_add_test(tc, passes_preserve_stories);
    tcase_add_test(tc, kernels_stories_f32);
    suite_add_tcase(s, tc);
    TCase *fam = tcase_create("families");
    tcase_set_timeout(fam, 600);
    tcase_add_test(fam, family_qwen2);
    tcase_add_test(fam, family_qwen3);
    tcase_add_test(fam, family_llama_linear);
    tcase_add_test(fam, family_llama_dynamic);
    tcase_add_test(fam, family_phi3);
    tcase_add_test(fam, family_gemma2);
    tcase_add_test(fam, family_gemma3);
    tcase_add_test(fam, family_mixtral);
    tcase_add_test(fam, family_qwen3_moe);
    tcase_add_test(fam, family_qwen3_moe_w4a16);
    tcase_add_test(fam, family_qwen3_moe_nvfp4);
    tcase_add_test(fam, rope_tables);
    tcase_add_test(fam, moe_expert_bytes);
    suite_add_tcase(s, fam);
    TCase *errors = tcase_create("errors");
    tcase_set_timeout(errors, 120);
    tcase_add_test(errors, pack_refuses_non_finite);
    suite_add_tcase(s, errors);
    return tu_main(s);
}
