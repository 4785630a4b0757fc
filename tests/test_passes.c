/* test_passes.c — pass tests as IR in / IR expected, golden emitted source, and model.json errors.
 *
 * A tiny two-layer model (tests/golden/tiny.json, weights generated here) goes through the pipeline;
 * the IR text after each pass must equal tests/golden/passes/NN-PASS.txt, so consecutive files show
 * exactly what each pass did. The C backend's kernels and forward function for it must equal
 * tests/golden/tiny.kernels.c (at --tp 2: tests/golden/tiny_tp2.kernels.c). Regenerate all goldens after an intended change with
 *     build/tests/test_passes --regen        (scripts/regen-golden.sh)
 * and review the diff.
 *
 * The malformed-model cases check that each user error is refused with a message naming the JSON
 * path and what was expected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../codegen/codegen.h"
#include "../codegen/emit.h"
#include "../frontend/frontend.h"
#include "../frontend/model_json.h"
#include "../passes/passes.h"
#include "testutil.h"

static int regen;

#define GOLDEN LLMC_SOURCE_DIR "/tests/golden"

/* Writes tiny.json's weights file (a fixed pattern, never zeros) next to a copy of the model. */
static const char *tiny_model(void)
{
    static char path[1024];
    const char *dir = tu_tmpdir();
    char src[1024], *doc = NULL;
    size_t n;
    LlmcDiag d;
    snprintf(src, sizeof src, "%s/tiny.json", GOLDEN);
    ck_assert_msg(llmc_read_file(src, &doc, &n, &d) == LLMC_OK, "%s", d.msg);
    snprintf(path, sizeof path, "%s/tiny.json", dir);
    ck_assert(llmc_write_file_atomic(path, doc, n, &d) == LLMC_OK);
    free(doc);
    char wpath[1024];
    snprintf(wpath, sizeof wpath, "%s/tiny.bin", dir);
    FILE *f = fopen(wpath, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 65536; i++) {
        float v = (float)((i * 7919) % 2003 - 1001) / 4000.0f + 0.001f;
        fwrite(&v, 4, 1, f);
    }
    fclose(f);
    return path;
}

static LlmcPassOptions tiny_options(void)
{
    LlmcPassOptions o;
    memset(&o, 0, sizeof o);
    o.target = llmc_target_find("cpu");
    o.max_tokens = 16;
    o.max_outputs = 4;
    o.kv_block_size = 8;
    return o;
}

static void compare_golden(const char *name, const char *got)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", GOLDEN, name);
    LlmcDiag d;
    if (regen) {
        ck_assert_msg(llmc_write_file_atomic(path, got, strlen(got), &d) == LLMC_OK, "%s", d.msg);
        return;
    }
    char *want = NULL;
    size_t n;
    ck_assert_msg(llmc_read_file(path, &want, &n, &d) == LLMC_OK, "%s (run test_passes --regen)", d.msg);
    if (strcmp(want, got) != 0) {
        size_t i = 0;
        while (want[i] && want[i] == got[i])
            i++;
        size_t line = 1;
        for (size_t k = 0; k < i; k++)
            line += want[k] == '\n';
        ck_abort_msg("%s differs from the golden file at line %zu:\n  want: %.120s\n  got:  %.120s", name, line,
                     want + i, got + i);
    }
    free(want);
}

START_TEST(pipeline_golden)
{
    const char *model = tiny_model();
    LlmcDiag d;
    cJSON *doc = NULL;
    ck_assert_msg(llmc_json_load(model, &doc, &d) == LLMC_OK, "%s", d.msg);
    char *dir = llmc_path_dir(model);
    LlmcGraph *g = llmc_graph_new();
    LlmcWeightFiles *wf = llmc_wf_new();
    ck_assert_msg(llmc_model_from_json(doc, "tiny.json", dir, g, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(llmc_model_check_weights(g, wf, &d) == LLMC_OK, "%s", d.msg);
    LlmcPassOptions opt = tiny_options();
    char name[256];
    char *text = llmc_graph_dump_str(g);
    compare_golden("passes/00-input.txt", text);
    free(text);
    int k = 1;
    for (const LlmcPass *p = llmc_passes(); p->name; p++, k++) {
        if (p->tp_only) { /* --tp's passes: shard_tp_golden */
            k--;
            continue;
        }
        ck_assert_msg(p->fn(g, &opt, &d) == LLMC_OK, "%s: %s", p->name, d.msg);
        ck_assert_msg(llmc_graph_verify(g, &d) == LLMC_OK, "after %s: %s", p->name, d.msg);
        text = llmc_graph_dump_str(g);
        snprintf(name, sizeof name, "passes/%02d-%s.txt", k, p->name);
        compare_golden(name, text);
        free(text);
    }
    /* Emitted C: the kernels, init and forward (the pasted headers are tested by compiling). */

    LlmcBuildInfo info = {.build_info = "tiny", .model_hash = 0x1234};
    char *src = NULL;
    ck_assert_msg(llmc_emit_c(g, opt.target, &info, &src, &d) == LLMC_OK, "%s", d.msg);
    const char *k0 = strstr(src, "/* ---- kernels ---- */");
    ck_assert_ptr_nonnull(k0);
    compare_golden("tiny.kernels.c", k0);
    free(src);
    /* The GPU stage (CUDA targets), one golden file per pass after the common ones. */
    for (const LlmcPass *p = llmc_gpu_passes(); p->name; p++, k++) {
        ck_assert_msg(p->fn(g, &opt, &d) == LLMC_OK, "%s: %s", p->name, d.msg);
        ck_assert_msg(llmc_graph_verify(g, &d) == LLMC_OK, "after %s: %s", p->name, d.msg);
        text = llmc_graph_dump_str(g);
        snprintf(name, sizeof name, "passes/%02d-%s.txt", k, p->name);
        compare_golden(name, text);
        free(text);
    }
    llmc_wf_free(wf);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    free(dir);
}
END_TEST

/* The fusions must find their patterns: after the pipeline, a Llama layer is
 * add_rmsnorm, matmul(qkv), rope x2, kv_write, paged_attention, matmul, add_rmsnorm, matmul(gate/up),
 * swiglu, matmul. */
START_TEST(fusions_apply)
{
    const char *model = tiny_model();
    LlmcDiag d;
    cJSON *doc = NULL;
    ck_assert(llmc_json_load(model, &doc, &d) == LLMC_OK);
    char *dir = llmc_path_dir(model);
    LlmcGraph *g = llmc_graph_new();
    LlmcWeightFiles *wf = llmc_wf_new();
    ck_assert(llmc_model_from_json(doc, "tiny.json", dir, g, &d) == LLMC_OK);
    LlmcPassOptions opt = tiny_options();
    ck_assert_msg(llmc_pipeline(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "%s", d.msg);
    int count[LLMC_OP_COUNT] = {0};
    for (int i = 0; i < g->nn; i++)
        count[g->n[i].op]++;
    ck_assert_int_eq(count[LLMC_OP_MUL], 0);
    ck_assert_int_eq(count[LLMC_OP_SILU], 0);
    ck_assert_int_eq(count[LLMC_OP_ADD], 0);
    ck_assert_int_eq(count[LLMC_OP_ATTENTION], 0);
    ck_assert_int_eq(count[LLMC_OP_SWIGLU], 2);
    ck_assert_int_eq(count[LLMC_OP_ADD_RMSNORM], 4);   /* 2 per layer incl. the final norm */
    ck_assert_int_eq(count[LLMC_OP_RMSNORM], 1);       /* the first layer's */
    ck_assert_int_eq(count[LLMC_OP_MATMUL], 2 * 4 + 1); /* per layer qkv, o, gate/up, down; lm_head */
    llmc_wf_free(wf);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    free(dir);
}
END_TEST

/* ---- malformed model.json ---- */

typedef struct BadCase {
    const char *find, *replace; /* a textual edit of tiny.json */
    const char *expect;         /* substring of the error */
} BadCase;

static const BadCase bad_cases[] = {
    {"\"op\": \"silu\"", "\"op\": \"sigmoid\"", "graph.layers.block[12].op: unknown op \"sigmoid\""},
    {"\"@layers.{i}.wq\"", "\"@layers.{i}.wqq\"", "graph.layers.block[1].in[1]: unknown weight \"layers.0.wqq\""},
    {"[\"x\", \"o\"]", "[\"x\", \"oo\"]", "graph.layers.block[8].in[1]: unknown value \"oo\""},
    {"\"max_seq_len\": 64", "\"max_seq_len\": -3", "config.max_seq_len: expected an integer in [1, 16777216], found -3"},
    {"\"max_seq_len\": 64", "\"max_seq_len\": \"64\"", "config.max_seq_len: expected an integer, found a string"},
    {"\"llmc_model\": 1", "\"llmc_model\": 2", "llmc_model: expected an integer in [1, 1], found 2"},
    {"\"dtype\": \"f32\"", "\"dtype\": \"q4\"", "dtype: expected \"f32\", \"f16\" or \"bf16\", found q4"},
    {"\"shape\": [16, 32]", "\"shape\": [16, 33]", "expected [N, 32] to match the input's 32 columns"},
    {"\"eps\": 1e-05", "\"epsilon\": 1e-05", "unknown attribute for rmsnorm (allowed: eps)"},
    {"\"style\": \"interleaved\"", "\"style\": \"sideways\"", "style must be \"interleaved\" or \"half\""},
    {"\"head_dim\": 8, \"theta\"", "\"head_dim\": 7, \"theta\"", "columns divisible by head_dim 7"},
    {"\"out\": \"logits\"", "\"out\": \"logitz\"", "no op binds \"logits\""},
    {"\"offset\": 0,", "\"offset\": 9999999,", "tok_embeddings"},
    {"\"count\": 2", "\"count\": -1", "graph.layers.count: expected an integer in [0, 4096], found -1"},
};

START_TEST(malformed_models)
{
    const char *model = tiny_model();
    char *text = NULL;
    size_t n;
    LlmcDiag d;
    ck_assert(llmc_read_file(model, &text, &n, &d) == LLMC_OK);
    char *dir = llmc_path_dir(model);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const BadCase *c = &bad_cases[i];
        const char *at = strstr(text, c->find);
        ck_assert_msg(at != NULL, "case %zu: \"%s\" not in tiny.json", i, c->find);
        LlmcBuf b = {0};
        llmc_buf_printf(&b, "%.*s%s%s", (int)(at - text), text, c->replace, at + strlen(c->find));
        char path[1024];
        snprintf(path, sizeof path, "%s/bad%zu.json", dir, i);
        ck_assert(llmc_write_file_atomic(path, b.s, b.n, &d) == LLMC_OK);
        llmc_buf_free(&b);
        cJSON *doc = NULL;
        LlmcGraph *g = llmc_graph_new();
        LlmcWeightFiles *wf = llmc_wf_new();
        LlmcPassOptions opt = tiny_options();
        LlmcStatus st = llmc_json_load(path, &doc, &d);
        if (!st)
            st = llmc_model_from_json(doc, "bad.json", dir, g, &d);
        if (!st)
            st = llmc_model_check_weights(g, wf, &d);
        if (!st)
            st = llmc_pipeline(g, &opt, NULL, NULL, 1, &d);
        ck_assert_msg(st == LLMC_ERR, "case %zu (%s -> %s) was accepted", i, c->find, c->replace);
        ck_assert_msg(strstr(d.msg, c->expect) != NULL, "case %zu: message \"%s\" lacks \"%s\"", i, d.msg, c->expect);
        cJSON_Delete(doc);
        llmc_graph_free(g);
        llmc_wf_free(wf);
    }
    free(text);
    free(dir);
}
END_TEST

/* ---- storage: the KV format (--kv) and tensor layouts ---- */

/* tiny.json through the pipeline up to and including pass `last`; *st gets the status. */
static LlmcGraph *tiny_until(const char *last, const LlmcPassOptions *opt, LlmcStatus *st, LlmcDiag *d)
{
    const char *model = tiny_model();
    cJSON *doc = NULL;
    ck_assert_msg(llmc_json_load(model, &doc, d) == LLMC_OK, "%s", d->msg);
    char *dir = llmc_path_dir(model);
    LlmcGraph *g = llmc_graph_new();
    ck_assert_msg(llmc_model_from_json(doc, "tiny.json", dir, g, d) == LLMC_OK, "%s", d->msg);
    *st = LLMC_OK;
    for (const LlmcPass *p = llmc_passes(); p->name && !*st; p++) {
        *st = p->fn(g, opt, d);
        if (!*st)
            ck_assert_msg(llmc_graph_verify(g, d) == LLMC_OK, "after %s: %s", p->name, d->msg);
        if (strcmp(p->name, last) == 0)
            break;
    }
    cJSON_Delete(doc);
    free(dir);
    return g;
}

/* The dump after lower_paged_kv with the KV format of opt: golden 06's text with `header` as its
 * first line (the KV format shows in the header only when it is not the target's default). */
static void check_kv_dump(const LlmcPassOptions *opt, const char *header, LlmcDType want)
{
    LlmcDiag d;
    LlmcStatus st;
    LlmcGraph *g = tiny_until("lower_paged_kv", opt, &st, &d);
    ck_assert_msg(st == LLMC_OK, "%s", d.msg);
    ck_assert(g->kv_format[0] == want && g->kv_format[1] == want);
    ck_assert(llmc_layout_is_plain(&g->kv_layout[0]) && llmc_layout_is_plain(&g->kv_layout[1]));
    char *want_text = NULL, path[1024];
    size_t n;
    int k = 1; /* the golden file of lower_paged_kv: NN-lower_paged_kv.txt, NN its place in the pipeline */
    for (const LlmcPass *p = llmc_passes(); p->name && strcmp(p->name, "lower_paged_kv") != 0; p++)
        k += !p->tp_only;
    snprintf(path, sizeof path, "%s/passes/%02d-lower_paged_kv.txt", GOLDEN, k);
    ck_assert_msg(llmc_read_file(path, &want_text, &n, &d) == LLMC_OK, "%s", d.msg);
    LlmcBuf expect = {0};
    llmc_buf_printf(&expect, "%s%s", header, strchr(want_text, '\n'));
    char *text = llmc_graph_dump_str(g);
    ck_assert_str_eq(text, expect.s);
    /* 2 layers x K,V x 8 positions x 2 heads x 8 dims. */
    ck_assert_int_eq(llmc_graph_kv_block_bytes(g, g->kv_format[0], g->kv_format[1]),
                     2 * 2 * 8 * 2 * 8 * (int64_t)llmc_dtype_size(want));
    free(text);
    free(want_text);
    llmc_buf_free(&expect);
    llmc_graph_free(g);
}

/* --tp 2 (passes/shard_tp.c): the rank's graph after shard_tp (heads, FFN and vocabulary halved, the
 * weights' shards, the collectives) and at the end of the pipeline (the rank's parts merged, its KV
 * heads in the pool). */
START_TEST(shard_tp_golden)
{
    LlmcPassOptions opt = tiny_options();
    opt.tp = 2;
    static const char *const stops[] = {"shard_tp", "plan_memory"};
    for (int i = 0; i < 2; i++) {
        LlmcDiag d;
        LlmcStatus st;
        LlmcGraph *g = tiny_until(stops[i], &opt, &st, &d);
        ck_assert_msg(st == LLMC_OK, "%s", d.msg);
        char name[128], *text = llmc_graph_dump_str(g);
        snprintf(name, sizeof name, "passes/tp2-%s.txt", stops[i]);
        compare_golden(name, text);
        free(text);
        if (i == 1) { /* the C backend's rank: the collectives' kernels, the embedding of its rows */
            LlmcBuildInfo info = {.build_info = "tiny", .model_hash = 0x1234};
            char *src = NULL;
            ck_assert_msg(llmc_emit_c(g, opt.target, &info, &src, &d) == LLMC_OK, "%s", d.msg);
            const char *k0 = strstr(src, "/* ---- kernels ---- */");
            ck_assert_ptr_nonnull(k0);
            ck_assert_ptr_nonnull(strstr(k0, "llmc_all_reduce(ex, "));
            ck_assert_ptr_nonnull(strstr(k0, "llmc_all_gather(ex, "));
            ck_assert_ptr_nonnull(strstr(k0, "embed_part_f32(st->n_tokens, 32, (int64_t)ex->rank * 12, 12, "));
            compare_golden("tiny_tp2.kernels.c", k0);
            free(src);
        }
        llmc_graph_free(g);
    }
}
END_TEST

/* Checks the arena's plan: every value apart from every other value live at the same time (a node's
 * outputs from its inputs too), but for an in-place select_rows' output and its input, which meet at
 * that node only (llmc_rows_in_place). Returns the in-place select_rows. */
static int check_plan(const LlmcGraph *g)
{
    int *first = malloc((size_t)g->nt * sizeof *first), *last = malloc((size_t)g->nt * sizeof *last);
    ck_assert(first && last);
    for (int t = 0; t < g->nt; t++)
        first[t] = last[t] = g->t[t].producer;
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_in; j++) {
            int r = g->n[i].in[j];
            while (g->t[r].view_of >= 0) /* a view keeps its source alive */
                r = g->t[r].view_of;
            last[r] = i > last[r] ? i : last[r];
        }
    int in_place = 0;
    for (int i = 0; i < g->nn; i++) {
        if (!llmc_rows_in_place(g, i))
            continue;
        int x = g->n[i].in[0], y = g->n[i].out[0];
        ck_assert_int_eq(g->t[y].offset, g->t[x].offset);
        ck_assert_int_eq(last[x], i); /* nothing reads the input after it */
        in_place++;
    }
    for (int a = 0; a < g->nt; a++)
        for (int b = a + 1; b < g->nt; b++) {
            const LlmcTensor *ta = &g->t[a], *tb = &g->t[b];
            if (ta->kind != LLMC_T_VALUE || tb->kind != LLMC_T_VALUE || ta->view_of >= 0 || tb->view_of >= 0 ||
                ta->offset < 0 || tb->offset < 0 || first[a] < 0 || first[b] < 0)
                continue;
            int together = first[a] <= last[b] && first[b] <= last[a];
            int shared = ta->offset < tb->offset + tb->bytes && tb->offset < ta->offset + ta->bytes;
            if (!together || !shared)
                continue;
            const LlmcNode *n = &g->n[first[b]]; /* (b, produced later, the output of the meeting node) */
            ck_assert_msg(first[b] == last[a] && n->out[0] == b && n->in[0] == a && llmc_rows_in_place(g, first[b]),
                          "%s [%d, %d] and %s [%d, %d] share bytes", ta->name, first[a], last[a], tb->name, first[b],
                          last[b]);
        }
    free(first);
    free(last);
    return in_place;
}

/* plan_memory_gpu puts a select_rows' rows over its input's when nothing reads the input after it
 * (a Llama's two: the last layer's attention output and the residual, at every rank of --tp 2);
 * the CPU stage's plan keeps them apart, and so does the GPU's where the input's buffer (max_tokens
 * rows) cannot hold max_outputs rows. */
START_TEST(select_rows_in_place)
{
    for (int c = 0; c < 3; c++) {
        LlmcPassOptions opt = tiny_options();
        opt.tp = c == 1 ? 2 : 1;
        opt.max_outputs = c == 2 ? 20 : 4; /* (max_tokens 16) */
        LlmcDiag d;
        LlmcStatus st;
        LlmcGraph *g = tiny_until("plan_memory", &opt, &st, &d);
        ck_assert_msg(st == LLMC_OK, "%s", d.msg);
        ck_assert_int_eq(check_plan(g), 0);
        for (const LlmcPass *p = llmc_gpu_passes(); p->name; p++) {
            ck_assert_msg(p->fn(g, &opt, &d) == LLMC_OK, "%s: %s", p->name, d.msg);
            if (strcmp(p->name, "plan_memory_gpu") == 0)
                ck_assert_int_eq(check_plan(g), c == 2 ? 0 : 2);
        }
        ck_assert_int_eq(check_plan(g), c == 2 ? 0 : 2); /* and after the passes past it */
        llmc_graph_free(g);
    }
}
END_TEST

START_TEST(kv_format_choice)
{
    const char *plain = "graph \"tiny\" max_tokens=16 max_outputs=4 max_seq_len=64 kv_block_size=8";
    LlmcPassOptions opt = tiny_options();
    char header[256];
    snprintf(header, sizeof header, "%s", plain);
    check_kv_dump(&opt, header, LLMC_F32); /* the cpu target's default */
    opt.kv_set = 1;
    opt.kv[0] = opt.kv[1] = LLMC_F32;
    check_kv_dump(&opt, header, LLMC_F32); /* --kv f32 names the default: the same IR */
    opt.kv[0] = opt.kv[1] = LLMC_F16;
    snprintf(header, sizeof header, "%s kv=f16", plain); /* --kv f16 shows in the header and halves the block */
    check_kv_dump(&opt, header, LLMC_F16);

    /* Keys and values in formats of their own: the header names both; sections of the block in
     * ir/kv_layout.h's sizes (per layer: K int8 rows of 8 bytes, then 16 of f16 scale and zero,
     * padded to 16 bytes; V fp8 rows of 8 bytes); fp8 gets its scales per layer and head, 1. */
    LlmcDiag d;
    LlmcStatus st;
    opt.kv[0] = LLMC_INT8;
    opt.kv[1] = LLMC_KV_FP8;
    LlmcGraph *g = tiny_until("lower_paged_kv", &opt, &st, &d);
    ck_assert_msg(st == LLMC_OK, "%s", d.msg);
    char *text = llmc_graph_dump_str(g);
    ck_assert_msg(strstr(text, " kv_block_size=8 kv=int8,fp8\n") != NULL, "%s", text);
    free(text);
    ck_assert_int_eq(llmc_graph_kv_block_bytes(g, g->kv_format[0], g->kv_format[1]),
                     2 * ((8 * 2 * 8 + 8 * 2 * 4) + 8 * 2 * 8));
    ck_assert(g->kv_scales != NULL && !g->kv_calibrated);
    for (int i = 0; i < 2 * 2 * 2; i++)
        ck_assert_float_eq(g->kv_scales[i], 1.0f);
    llmc_graph_free(g);
    /* --kv-calib's scales (opt.kv_scales) reach the graph, and the dump says so */
    float sc[8] = {0.5f, 0.25f, 2, 3, 4, 5, 6, 7};
    opt.kv_scales = sc;
    g = tiny_until("lower_paged_kv", &opt, &st, &d);
    ck_assert_msg(st == LLMC_OK, "%s", d.msg);
    text = llmc_graph_dump_str(g);
    ck_assert_msg(strstr(text, " kv=int8,fp8 kv_scales=calibrated\n") != NULL, "%s", text);
    free(text);
    ck_assert(g->kv_calibrated && g->kv_scales[1] == 0.25f && g->kv_scales[7] == 7.0f);
    llmc_graph_free(g);
    sc[3] = -1; /* and a scale that is not a positive number is refused */
    g = tiny_until("lower_paged_kv", &opt, &st, &d);
    ck_assert(st == LLMC_ERR);
    ck_assert_str_eq(d.msg, "lower_paged_kv: KV scale 3 (layer 0) is -1, not a finite positive number");
    llmc_graph_free(g);
    opt.kv_scales = NULL;

    /* A target that stores a cache format the cpu target does not (the test-only k8): the C backend
     * keeps an f32 cache for such a graph (as the CPU twin of a GPU build would). */
    LlmcTarget two = *llmc_target_find("cpu");
    two.kv_formats |= 1u << LLMC_K8;
    opt.target = &two;
    opt.kv[0] = opt.kv[1] = LLMC_K8;
    g = tiny_until("plan_memory", &opt, &st, &d);
    ck_assert_msg(st == LLMC_OK, "%s", d.msg);
    ck_assert_int_eq(llmc_c_kv_format(g, llmc_target_find("cpu"), 0), LLMC_F32);
    ck_assert_int_eq(llmc_kv_block_bytes(g, llmc_target_find("cpu")), 2048);
    ck_assert_int_eq(llmc_cuda_kv_block_bytes(g), 2 * 2 * (8 * 2 * 8 + 8 * 2 * 4));
    llmc_graph_free(g);
}
END_TEST

START_TEST(kv_format_errors)
{
    static const struct {
        const char *target;
        LlmcDType kv;
        const char *expect;
    } cases[] = {
        {"cpu", LLMC_K8, "--kv k8: target cpu stores the KV cache as f32, f16, fp8, int8, int4, kivi2, kivi4"},
        {"cpu", LLMC_BF16, "--kv bf16: target cpu stores the KV cache as f32, f16, fp8, int8, int4, kivi2, kivi4"},
        {"cpu", LLMC_I32, "--kv i32: target cpu stores the KV cache as f32, f16, fp8, int8, int4, kivi2, kivi4"},
        {"sm_90a", LLMC_F32, "--kv f32: target sm_90a stores the KV cache as f16, fp8, int8, int4, kivi2, kivi4"},
        {"sm_80", LLMC_BF16, "--kv bf16: target sm_80 stores the KV cache as f16, fp8, int8, int4, kivi2, kivi4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        LlmcPassOptions opt = tiny_options();
        opt.target = llmc_target_find(cases[i].target);
        opt.kv_set = 1;
        opt.kv[0] = LLMC_F16; /* (a good format of every target) */
        opt.kv[1] = cases[i].kv;
        LlmcDiag d;
        LlmcStatus st;
        LlmcGraph *g = tiny_until("lower_paged_kv", &opt, &st, &d);
        ck_assert_msg(st == LLMC_ERR, "case %zu accepted", i);
        ck_assert_str_eq(d.msg, cases[i].expect);
        llmc_graph_free(g);
    }
    /* A target's default must be a format it lists (the table of targets is data: check it). */
    for (const LlmcTarget *const *t = llmc_targets(); *t; t++) {
        ck_assert_msg((*t)->kv_formats & (1u << (*t)->kv_default), "%s", (*t)->name);
        ck_assert(llmc_format((*t)->kv_default)->flags & LLMC_FMT_KV);
    }
}
END_TEST

static int tensor_named(const LlmcGraph *g, const char *name)
{
    for (int i = 0; i < g->nt; i++)
        if (strcmp(g->t[i].name, name) == 0)
            return i;
    ck_abort_msg("no tensor %s", name);
    return -1;
}

/* The dump line of weight `name`. */
static char *weight_line(const LlmcGraph *g, const char *name)
{
    char *text = llmc_graph_dump_str(g), key[256];
    snprintf(key, sizeof key, "weight @%s:", name);
    char *at = strstr(text, key);
    ck_assert_ptr_nonnull(at);
    size_t n = strcspn(at, "\n");
    memmove(text, at, n);
    text[n] = 0;
    return text;
}

START_TEST(layouts)
{
    LlmcPassOptions opt = tiny_options();
    LlmcDiag d;
    LlmcStatus st;
    LlmcGraph *g = tiny_until("plan_memory", &opt, &st, &d);
    ck_assert_msg(st == LLMC_OK, "%s", d.msg);
    /* weight_format leaves every layout plain; llmc_tensor_bytes is what plan_memory reserved. */
    for (int i = 0; i < g->nt; i++) {
        const LlmcTensor *t = &g->t[i];
        ck_assert_msg(llmc_layout_is_plain(&t->layout), "%s", t->name);
        if (t->kind == LLMC_T_WEIGHT && t->offset >= 0)
            ck_assert_int_eq(t->bytes, llmc_tensor_bytes(g, i));
        if (t->kind == LLMC_T_VALUE && t->offset >= 0 && t->view_of < 0)
            ck_assert_int_eq(t->bytes, (llmc_tensor_bytes(g, i) + 63) / 64 * 64);
    }
    int wo = tensor_named(g, "layers.0.wo"), norm = tensor_named(g, "norm");
    ck_assert_int_eq(llmc_tensor_bytes(g, wo), 32 * 32 * 4);
    ck_assert_int_eq(llmc_tensor_bytes(g, tensor_named(g, "tokens")), 16 * 4); /* i32[T], T = 16 */
    char *line = weight_line(g, "layers.0.wo");
    char want[256];
    snprintf(want, sizeof want, "weight @layers.0.wo: f32[32,32] at %lld", (long long)g->t[wo].offset);
    ck_assert_str_eq(line, want);
    free(line);

    /* A layout that is not plain shows in the dump; the verifier holds it to its format (f32 has no
     * side tensors, so no groups) and to its kind (only weights have layouts). */
    g->t[wo].layout.group = 8;
    g->t[wo].layout.side[0] = norm;
    line = weight_line(g, "layers.0.wo");
    snprintf(want, sizeof want, "weight @layers.0.wo: f32[32,32] group=8 side0=@norm at %lld",
             (long long)g->t[wo].offset);
    ck_assert_str_eq(line, want);
    free(line);
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    ck_assert_str_eq(d.msg, "verify: layers.0.wo: groups of 8 in format f32, which has no scales");
    g->t[wo].layout.group = 0;
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    ck_assert_str_eq(d.msg, "verify: layers.0.wo has a side tensor 0, format f32 has 0");
    /* u4: the scale is needed, in f16, a column a group; the zero points may be left out. */
    g->t[wo].dtype = LLMC_U4;
    g->t[wo].layout.group = 8;
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    ck_assert_str_eq(d.msg, "verify: layers.0.wo: its scale norm is f32, format u4 takes f16");
    g->t[wo].layout.side[0] = -1;
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    ck_assert_str_eq(d.msg, "verify: layers.0.wo: no scale tensor, which format u4 needs");
    g->t[wo].dtype = LLMC_F32;
    g->t[wo].layout = llmc_layout_plain();
    g->t[wo].layout.order = 3;
    line = weight_line(g, "layers.0.wo");
    snprintf(want, sizeof want, "weight @layers.0.wo: f32[32,32] order=3 at %lld", (long long)g->t[wo].offset);
    ck_assert_str_eq(line, want);
    free(line);
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    ck_assert_str_eq(d.msg, "verify: layers.0.wo has element order 3");
    g->t[wo].layout.order = LLMC_ORDER_LANE8; /* the CUDA skinny kernels' order: quantized formats only */
    line = weight_line(g, "layers.0.wo");
    snprintf(want, sizeof want, "weight @layers.0.wo: f32[32,32] order=lane8 at %lld", (long long)g->t[wo].offset);
    ck_assert_str_eq(line, want);
    free(line);
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    ck_assert_str_eq(d.msg, "verify: layers.0.wo: order lane8 needs a quantized format and whole tiles of 32 a row");
    g->t[wo].layout = llmc_layout_plain();
    int x = g->n[0].out[0];
    g->t[x].layout.order = 0;
    g->t[x].layout.side[1] = norm;
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    ck_assert(strstr(d.msg, "is not a weight but has a grouped or shuffled layout") != NULL);
    g->t[x].layout = llmc_layout_plain();
    ck_assert_msg(llmc_graph_verify(g, &d) == LLMC_OK, "%s", d.msg);
    /* Formats by kind of tensor: the table's flags (i32 is a step-input format, not an activation's). */
    g->t[x].dtype = LLMC_I32;
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    snprintf(want, sizeof want, "verify: %s is stored as i32, which is no format for its kind of tensor", g->t[x].name);
    ck_assert_str_eq(d.msg, want);
    g->t[x].dtype = LLMC_F32;
    /* The KV cache: only KV formats, no scale tensors. */
    g->kv_format[1] = LLMC_BF16;
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    ck_assert_str_eq(d.msg, "verify: the KV cache has format bf16, not a KV format");
    g->kv_format[1] = LLMC_KV_FP8; /* a scale per layer and head: the graph must have them */
    ck_assert(llmc_graph_verify(g, &d) == LLMC_ERR);
    ck_assert_str_eq(d.msg, "verify: the KV cache's format fp8 needs scales per layer and head; the graph has none");
    g->kv_format[1] = LLMC_F32;
    llmc_graph_free(g);
}
END_TEST

/* The format table: names round-trip, sizes, scales, and the reference conversions (round to nearest
 * even). */
START_TEST(format_table)
{
    for (int i = 0; i < LLMC_DTYPE_COUNT; i++) {
        const LlmcFormatTraits *f = llmc_format((LlmcDType)i);
        LlmcDType back;
        /* names round-trip: --kv's lookup for KV formats (fp8 is a weight format's name too) */
        ck_assert_int_eq((f->flags & LLMC_FMT_KV) ? llmc_kv_format_from_name(f->name, &back)
                                                  : llmc_dtype_from_name(f->name, &back), 0);
        ck_assert_int_eq(back, i);
        ck_assert_int_eq(llmc_dtype_size((LlmcDType)i), (size_t)f->block_bytes);
        /* Quantized formats (fp8, u4, nvfp4, the test-only t8 and k8) have side tensors (a scale first) in
         * plain formats; a weight format with sides has a quantizer, a KV format's sides live in
         * its rows; the values alone convert too. */
        int ns = llmc_format_n_sides((LlmcDType)i);
        for (int k = 0; k < ns; k++) {
            ck_assert_int_eq(llmc_format_n_sides((LlmcDType)f->side[k].format), 0);
            ck_assert_int_eq(f->side[k].shape == LLMC_SHAPE_TOKEN_HEAD || f->side[k].shape == LLMC_SHAPE_LAYER_HEAD ||
                                 f->side[k].shape == LLMC_SHAPE_KV_GROUP,
                             (f->flags & LLMC_FMT_KV) != 0);
        }
        ck_assert_int_eq(ns > 0, i == LLMC_FP8 || i == LLMC_U4 || i == LLMC_NVFP4 || i == LLMC_T8 || i == LLMC_K8 ||
                                     i == LLMC_KV_FP8 || i == LLMC_INT8 || i == LLMC_INT4 || i == LLMC_KIVI2 ||
                                     i == LLMC_KIVI4);
        ck_assert(ns == 0 || f->side[0].role == LLMC_ROLE_SCALE);
        ck_assert_int_eq(ns > 0 && (f->flags & LLMC_FMT_WEIGHT), f->quant->quantize != NULL);
        ck_assert_int_eq(f->quant->quantize != NULL, f->quant->dequantize != NULL);
        ck_assert((f->flags & LLMC_FMT_TEST) == 0 || (i == LLMC_T8 || i == LLMC_K8));
        float in[4] = {1.0f, -2.0f, 3.0f, 1024.0f}, out[4];
        if (i == LLMC_FP8 || i == LLMC_E4M3 || i == LLMC_KV_FP8)
            in[3] = 448.0f;   /* its largest value */
        if (i == LLMC_NVFP4)
            in[2] = -0.5f, in[3] = 6.0f;   /* E2M1: +-{0, 0.5, 1, 1.5, 2, 3, 4, 6} */
        if (i == LLMC_U4 || i == LLMC_INT4 || i == LLMC_KIVI4)
            in[1] = 15.0f, in[3] = 0.0f;   /* integers 0..15 */
        if (i == LLMC_KIVI2)
            in[1] = 2.0f, in[3] = 0.0f;    /* integers 0..3 */
        if (i == LLMC_U8 || i == LLMC_INT8)
            in[1] = 255.0f, in[3] = 0.0f;  /* integers 0..255 */
        if (i == LLMC_T8 || i == LLMC_K8)
            in[3] = -127.0f;   /* integers -127..127 */
        uint8_t buf[64];
        f->from_f32(in, buf, 4);
        f->to_f32(buf, out, 4);
        for (int k = 0; k < 4; k++)
            ck_assert_float_eq(out[k], in[k]); /* exact in every format */
    }
    ck_assert_int_eq(llmc_format_bytes(LLMC_BF16, 10), 20);
    ck_assert_str_eq(llmc_format(LLMC_F16)->ctype, "uint16_t");
    float x = 1.0f + 1.0f / 2048.0f, y; /* halfway between two f16 values: to even, 1.0 */
    uint8_t h[4];
    llmc_format_convert(&x, LLMC_F32, h, LLMC_F16, 1);
    llmc_format_convert(h, LLMC_F16, &y, LLMC_F32, 1);
    ck_assert_float_eq(y, 1.0f);
    int32_t iv;
    float big = 3.5f;
    llmc_format_convert(&big, LLMC_F32, &iv, LLMC_I32, 1);
    ck_assert_int_eq(iv, 4);
    LlmcDType t;
    ck_assert_int_eq(llmc_dtype_from_name("q4", &t), -1);
    /* --weights and --keep take the table's names and aliases (llmc_dtype_from_name the names only). */
    ck_assert_int_eq(llmc_dtype_from_name("w4a16", &t), -1);
    ck_assert(llmc_format_from_user_name("w4a16", &t) == 0 && t == LLMC_U4);
    ck_assert(llmc_format_from_user_name("nvfp4", &t) == 0 && t == LLMC_NVFP4);
    ck_assert(llmc_format_from_user_name("u4", &t) == 0 && t == LLMC_U4);
    ck_assert_int_eq(llmc_format_from_user_name("nvfp", &t), -1);
    /* No target lists a test-only format. */
    for (const LlmcTarget *const *tg = llmc_targets(); *tg; tg++)
        for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
            if (llmc_format((LlmcDType)i)->flags & LLMC_FMT_TEST)
                ck_assert(!(((*tg)->weight_formats | (*tg)->kv_formats) & (1u << i)));
}
END_TEST

/* ---- --keep rules: llmc's names and the checkpoint's, accumulated, checked ---- */

/* doc through the pipeline up to weight_format with opt; *st its status. */
static LlmcGraph *formats_of(const cJSON *doc, const LlmcPassOptions *opt, LlmcStatus *st, LlmcDiag *d)
{
    LlmcGraph *g = llmc_graph_new();
    ck_assert_msg(llmc_model_from_json(doc, "model.json", "/nonexistent", g, d) == LLMC_OK, "%s", d->msg);
    *st = LLMC_OK;
    for (const LlmcPass *p = llmc_passes(); p->name && !*st; p++) {
        *st = p->fn(g, opt, d);
        if (strcmp(p->name, "weight_format") == 0)
            break;
    }
    return g;
}

/* The storage format of the matrix holding weight `name` (itself or the merged weight it is a part of). */
static LlmcDType format_of(const LlmcGraph *g, const char *name)
{
    int t = tensor_named(g, name);
    for (int i = 0; i < g->nt; i++)
        for (int k = 0; k < g->t[i].src.n_parts; k++)
            if (g->t[i].src.parts[k] == t)
                return g->t[i].dtype;
    return g->t[t].dtype;
}

typedef struct KeepCase {
    const char *keep[3];
    LlmcDType weights;           /* LLMC_F32: no --weights */
    int asym, group;
    const char *error;           /* NULL: compiles, then the formats below */
    const char *name[4];
    LlmcDType fmt[4];
} KeepCase;

static void check_keep(const cJSON *doc, const KeepCase *c, size_t i)
{
    LlmcPassOptions opt = tiny_options();
    opt.weights = c->weights;
    opt.weights_set = c->weights != LLMC_F32;
    opt.asym = c->asym;
    opt.group = c->group;
    int n = 0;
    while (n < 3 && c->keep[n])
        n++;
    opt.keep = c->keep;
    opt.n_keep = n;
    LlmcDiag d;
    LlmcStatus st;
    LlmcGraph *g = formats_of(doc, &opt, &st, &d);
    if (c->error)
        ck_assert_msg(st == LLMC_ERR && strstr(d.msg, c->error), "case %zu: %s", i, st ? d.msg : "accepted");
    else {
        ck_assert_msg(st == LLMC_OK, "case %zu: %s", i, d.msg);
        for (int k = 0; k < 4 && c->name[k]; k++)
            ck_assert_msg(format_of(g, c->name[k]) == c->fmt[k], "case %zu: %s is %s", i, c->name[k],
                          llmc_dtype_name(format_of(g, c->name[k])));
        if (c->asym)   /* zero points for the u4 matrices (w2 of layer 1 in the case) */
            ck_assert_int_ge(llmc_layout_role(&g->t[tensor_named(g, "layers.1.w2")].layout, LLMC_U4, LLMC_ROLE_ZERO), 0);
    }
    llmc_graph_free(g);
}

START_TEST(keep_rules)
{
    /* A Hugging Face checkpoint's names (stories260K's shapes, tied embedding, bf16: the default
     * format of its matrices): bound by name only. */
    cJSON *cfg = llmc_synth_preset_config("stories260K"), *doc = NULL;
    LlmcDiag d;
    ck_assert_msg(llmc_hf_config_model(cfg, "s", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    cJSON_Delete(cfg);
    static const KeepCase hf[] = {
        /* docs/formats.md's example; rules of two options accumulate */
        {{"model.layers.0.*=bf16", "lm_head=f16"}, LLMC_FP8, 0, 0, NULL,
         {"layers.0.wq", "layers.0.w2", "layers.1.w2", "tok_embeddings"}, {LLMC_BF16, LLMC_BF16, LLMC_FP8, LLMC_F16}},
        /* llmc's names and the checkpoint's side by side; a merged weight through one of its parts */
        {{"layers.1.w2=f16", "model.layers.2.mlp.down_proj.weight=bf16,model.layers.3.self_attn.k_proj.weight=f16"},
         LLMC_F32, 0, 0, NULL, {"layers.1.w2", "layers.2.w2", "layers.3.wq", "layers.0.w2"},
         {LLMC_F16, LLMC_BF16, LLMC_F16, LLMC_BF16}},
        {{"model.layers.*.mlp.down_proj.weight=w4a16"}, LLMC_F32, 0, 32, NULL, {"layers.4.w2", "layers.4.wo"},
         {LLMC_U4, LLMC_BF16}},
        /* --asym where --keep makes u4 matrices; refused where none is */
        {{"model.layers.1.mlp.*=w4a16"}, LLMC_F32, 1, 0, NULL, {"layers.1.w2", "layers.1.w1"}, {LLMC_U4, LLMC_U4}},
        {{NULL}, LLMC_F32, 1, 0, "--asym: zero points are a w4a16 (u4) option, and no matrix is stored as u4 (the matrices: bf16)", {NULL}, {LLMC_F32}},
        {{NULL}, LLMC_FP8, 1, 0, "no matrix is stored as u4 (the matrices: bf16, fp8)", {NULL}, {LLMC_F32}},
        {{NULL}, LLMC_BF16, 0, 64, "--group 64: groups are an option of the quantized formats (fp8, w4a16, nvfp4), "
                                   "and no matrix is stored in one (the matrices: bf16)", {NULL}, {LLMC_F32}},
        /* nvfp4 by --weights or a rule; its groups are 16 values, no other */
        {{"model.layers.*.mlp.down_proj.weight=nvfp4"}, LLMC_FP8, 0, 0, NULL,
         {"layers.4.w2", "layers.4.wo", "tok_embeddings"}, {LLMC_NVFP4, LLMC_FP8, LLMC_BF16}},
        {{NULL}, LLMC_NVFP4, 0, 16, NULL, {"layers.0.w2", "layers.0.wq", "tok_embeddings"},
         {LLMC_NVFP4, LLMC_NVFP4, LLMC_BF16}},
        {{NULL}, LLMC_NVFP4, 0, 32, "--group 32: nvfp4 takes groups of 16 values only", {NULL}, {LLMC_F32}},
        {{NULL}, LLMC_NVFP4, 1, 0, "--asym: zero points are a w4a16 (u4) option, and no matrix is stored as u4 "
                                   "(the matrices: bf16, nvfp4)", {NULL}, {LLMC_F32}},
        /* a rule that matches nothing: the nearest names */
        {{"model.layer.0.*=bf16"}, LLMC_F32, 0, 0,
         "--keep model.layer.0.*=bf16: matches no matrix of the model (a glob over llmc's names or the checkpoint's, "
         "or lm_head, embedding; nearest: model.layers.0.self_attn.q_proj.weight (layers.0.wq), "
         "model.layers.0.self_attn.k_proj.weight (layers.0.wk)", {NULL}, {LLMC_F32}},
        {{"lm_head=f16", "nothing=bf16"}, LLMC_F32, 0, 0, "--keep nothing=bf16: matches no matrix", {NULL}, {LLMC_F32}},
        /* shadowed rules: by an earlier option, by an earlier rule of the same one (a tied table is
         * the lm_head and the embedding) */
        {{"layers.*=bf16", "model.layers.0.mlp.*=f16"}, LLMC_F32, 0, 0,
         "--keep model.layers.0.mlp.*=f16: every matrix it matches is taken by an earlier rule, layers.*=bf16 "
         "(e.g. model.layers.0.mlp.gate_proj.weight (layers.0.w1))", {NULL}, {LLMC_F32}},
        {{"lm_head=f16,embedding=bf16"}, LLMC_F32, 0, 0,
         "--keep embedding=bf16: every matrix it matches is taken by an earlier rule, lm_head=f16", {NULL}, {LLMC_F32}},
        {{"layers.0.wq=bf16", "layers.0.w*=f16"}, LLMC_F32, 0, 0, NULL, {"layers.0.wq", "layers.0.wo"},
         {LLMC_BF16, LLMC_F16}},   /* partly shadowed: fine */
        /* agreeing is shadowed all the same: the second rule decides nothing (the table is tied) */
        {{"lm_head=f16,embedding=f16"}, LLMC_FP8, 0, 0,
         "--keep embedding=f16: every matrix it matches is taken by an earlier rule, lm_head=f16", {NULL}, {LLMC_F32}},
        {{"lm_head=f16"}, LLMC_FP8, 0, 0, NULL, {"tok_embeddings"}, {LLMC_F16}},
    };
    for (size_t i = 0; i < sizeof hf / sizeof hf[0]; i++)
        check_keep(doc, &hf[i], i);
    cJSON_Delete(doc);
    /* A llama2.c checkpoint: the names of its PyTorch model (model.py) beside llmc's. */
    if (tu_need_shared("stories260K/stories260K.bin"))
        return;
    ck_assert_msg(llmc_import_llama2c(tu_shared("stories260K/stories260K.bin"), NULL, "/", &doc, &d) == LLMC_OK, "%s",
                  d.msg);
    static const KeepCase l2c[] = {
        {{"layers.*.feed_forward.w2.weight=bf16", "layers.1.attention.*=f16"}, LLMC_FP8, 0, 0, NULL,
         {"layers.0.w2", "layers.1.wo", "layers.1.w1", "tok_embeddings"}, {LLMC_BF16, LLMC_F16, LLMC_FP8, LLMC_BF16}},
        {{"output.weight=f16"}, LLMC_F32, 0, 0, "nearest: tok_embeddings.weight (tok_embeddings)", {NULL}, {LLMC_F32}},
    };
    for (size_t i = 0; i < sizeof l2c / sizeof l2c[0]; i++)
        check_keep(doc, &l2c[i], 100 + i);
    cJSON_Delete(doc);
}
END_TEST

/* Without --weights the matrices stay in the checkpoint's 16-bit format where the target stores
 * it; f32 checkpoints get the target's default; --weights decides when given. */
START_TEST(default_format_is_the_checkpoints)
{
    static const struct {
        LlmcDType file;
        const char *target;
        int weights_set;
        LlmcDType weights, want;
    } cases[] = {
        {LLMC_BF16, "cpu", 0, LLMC_F32, LLMC_BF16},  {LLMC_F16, "cpu", 0, LLMC_F32, LLMC_F16},
        {LLMC_F32, "cpu", 0, LLMC_F32, LLMC_F32},    {LLMC_F16, "sm_90a", 0, LLMC_F32, LLMC_F16},
        {LLMC_F32, "sm_90a", 0, LLMC_F32, LLMC_BF16}, {LLMC_BF16, "cpu", 1, LLMC_F32, LLMC_F32},
        {LLMC_F16, "cpu", 1, LLMC_BF16, LLMC_BF16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *cfg = llmc_synth_preset_config("stories260K"), *doc = NULL;
        LlmcDiag d;
        ck_assert_msg(llmc_hf_config_model(cfg, "s", cases[i].file, &doc, &d) == LLMC_OK, "%s", d.msg);
        cJSON_Delete(cfg);
        LlmcPassOptions opt = tiny_options();
        opt.target = llmc_target_find(cases[i].target);
        opt.weights_set = cases[i].weights_set;
        opt.weights = cases[i].weights;
        LlmcStatus st;
        LlmcGraph *g = formats_of(doc, &opt, &st, &d);
        ck_assert_msg(st == LLMC_OK, "case %zu: %s", i, d.msg);
        for (int k = 0; k < g->nn; k++)
            if (g->n[k].op == LLMC_OP_MATMUL)
                ck_assert_msg(g->t[g->n[k].in[1]].dtype == cases[i].want, "case %zu: %s is %s", i,
                              g->t[g->n[k].in[1]].name, llmc_dtype_name(g->t[g->n[k].in[1]].dtype));
        ck_assert_int_eq(g->t[tensor_named(g, "norm")].dtype, LLMC_F32);   /* vectors: f32 */
        llmc_graph_free(g);
        cJSON_Delete(doc);
    }
}
END_TEST

/* Two files committed together (an executable and its side file) are renamed under a lock of
 * their directory: while another holder keeps it, the commit waits, so concurrent compiles to one
 * -o cannot leave one's executable beside the other's side file. */
START_TEST(out_commit_takes_turns)
{
    const char *dir = tu_tmpdir();
    char exe[600], side[600];
    snprintf(exe, sizeof exe, "%s/m", dir);
    snprintf(side, sizeof side, "%s/m.weights", dir);
    int lock = open(dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(lock, 0);
    ck_assert_int_eq(flock(lock, LOCK_EX), 0);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(lock);                    /* the lock stays the parent's alone */
        LlmcOutFile a, b;
        LlmcDiag d;
        int ok = llmc_out_open(&a, exe, &d) == LLMC_OK && llmc_out_write(&a, "A", 1, &d) == LLMC_OK &&
                 llmc_out_open(&b, side, &d) == LLMC_OK && llmc_out_write(&b, "A", 1, &d) == LLMC_OK;
        ssize_t w = write(ready[1], "r", 1);
        (void)w;
        LlmcOutFile *files[2] = {&a, &b};
        int exec[2] = {1, 0};
        _exit(ok && llmc_out_commit_all(files, exec, 2, &d) == LLMC_OK ? 0 : 1);
    }
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    usleep(200 * 1000);
    ck_assert_msg(access(exe, F_OK) != 0 && access(side, F_OK) != 0, "committed while the directory was locked");
    close(lock);                        /* unlock: the commit goes on */
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(access(exe, F_OK), 0);
    ck_assert_int_eq(access(side, F_OK), 0);
    close(ready[0]);
    close(ready[1]);
}
END_TEST

int main(int argc, char **argv)
{
    regen = argc > 1 && strcmp(argv[1], "--regen") == 0;
    Suite *s = suite_create("passes");
    TCase *tc = tcase_create("golden");
    tcase_add_test(tc, pipeline_golden);
    tcase_add_test(tc, shard_tp_golden);
    tcase_add_test(tc, select_rows_in_place);
    tcase_add_test(tc, fusions_apply);
    tcase_add_test(tc, malformed_models);
    tcase_add_test(tc, kv_format_choice);
    tcase_add_test(tc, kv_format_errors);
    tcase_add_test(tc, layouts);
    tcase_add_test(tc, format_table);
    tcase_add_test(tc, keep_rules);
    tcase_add_test(tc, default_format_is_the_checkpoints);
    tcase_add_test(tc, out_commit_takes_turns);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
