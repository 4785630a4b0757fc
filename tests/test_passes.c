/* test_passes.c — pass tests as IR in / IR expected, golden emitted source, and model.json errors.
 *
 * A tiny two-layer model (tests/golden/tiny.json, weights generated here) goes through the pipeline;
 * the IR text after each pass must equal tests/golden/passes/NN-PASS.txt, so consecutive files show
 * exactly what each pass did. The C backend's kernels and forward function for it must equal
 * tests/golden/tiny.kernels.c. Regenerate all goldens after an intended change with
 *     build/tests/test_passes --regen        (scripts/regen-golden.sh)
 * and review the diff.
 *
 * The malformed-model cases check that each user error is refused with a message naming the JSON
 * path and what was expected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    {"\"count\": 2", "\"count\": -1", "graph.layers.count: expected an integer in [0, 100000], found -1"},
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

int main(int argc, char **argv)
{
    regen = argc > 1 && strcmp(argv[1], "--regen") == 0;
    Suite *s = suite_create("passes");
    TCase *tc = tcase_create("golden");
    tcase_add_test(tc, pipeline_golden);
    tcase_add_test(tc, fusions_apply);
    tcase_add_test(tc, malformed_models);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
