/* test_reference.c — the compiled executable against the float32 reference of debdocs-32M
 * (../shared/models/debdocs-32M/reference.json, made with HF transformers): the Hugging Face
 * directory is imported and compiled for cpu by the llmc binary; the prompt must encode to the
 * reference ids, the top-10 logits of its last position must agree to 1e-3, and the 40-token greedy
 * continuation must be the reference ids exactly. Also with the weights in bf16: the top-1 token
 * and the first greedy tokens agree.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/base.h"
#include "testutil.h"

static cJSON *reference(void)
{
    char *text;
    size_t n;
    LlmcDiag d;
    ck_assert_msg(llmc_read_file(tu_shared("debdocs-32M/reference.json"), &text, &n, &d) == LLMC_OK, "%s", d.msg);
    cJSON *r = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(r);
    return r;
}

static const char *compile_debdocs(const char *extra)
{
    static char exe[1024];
    char cmd[4096], *log = NULL;
    snprintf(exe, sizeof exe, "%s/debdocs", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "%s compile %s -o %s -q %s 2>&1", tu_llmc(), tu_shared("debdocs-32M"), exe, extra);
    ck_assert_msg(tu_run(cmd, &log) == 0, "compile failed: %s", log);
    free(log);
    return exe;
}

/* Parses "prompt ids: ..." and "ID LOGIT" lines of --top-logits. */
static void top_logits(const char *exe, int32_t *ids, int *n_ids, int32_t *top, double *val, int k)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s \"$(printf 'The Linux kernel is')\" --top-logits %d", exe, k);
    ck_assert_msg(tu_run(cmd, &out) == 0, "run failed: %s", out);
    char *p = strstr(out, "prompt ids:");
    ck_assert_ptr_nonnull(p);
    p += 11;
    *n_ids = 0;
    char *end;
    for (long v = strtol(p, &end, 10); end != p && *n_ids < 64; v = strtol(p, &end, 10)) {
        ids[(*n_ids)++] = (int32_t)v;
        p = end;
        if (*p == '\n')
            break;
    }
    p = strstr(out, "logits at position");
    ck_assert_ptr_nonnull(p);
    p = strchr(p, '\n') + 1;
    for (int i = 0; i < k; i++) {
        ck_assert_int_eq(sscanf(p, "%d %lf", &top[i], &val[i]), 2);
        p = strchr(p, '\n') + 1;
    }
    free(out);
}

static void greedy_ids(const char *exe, int n, int32_t *ids, int *count)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s 'The Linux kernel is' -n %d --output-ids", exe, n);
    ck_assert_msg(tu_run(cmd, &out) == 0, "run failed: %s", out);
    *count = 0;
    char *p = out, *end;
    for (long v = strtol(p, &end, 10); end != p && *count < 256; v = strtol(p, &end, 10)) {
        ids[(*count)++] = (int32_t)v;
        p = end;
    }
    free(out);
}

START_TEST(debdocs_f32_matches_reference)
{
    if (tu_need_shared("debdocs-32M/reference.json"))
        return;
    cJSON *r = reference();
    const char *exe = compile_debdocs("--weights f32");   /* the checkpoint is f16: the default would keep it */
    int32_t ids[64], top[10];
    double val[10];
    int n_ids;
    top_logits(exe, ids, &n_ids, top, val, 10);
    const cJSON *pids = cJSON_GetObjectItem(r, "prompt_ids");
    ck_assert_int_eq(n_ids, cJSON_GetArraySize(pids));
    for (int i = 0; i < n_ids; i++)
        ck_assert_int_eq(ids[i], cJSON_GetArrayItem(pids, i)->valueint);
    const cJSON *ref_top = cJSON_GetObjectItem(r, "prompt_last_logits_top10");
    for (int i = 0; i < 10; i++) {
        const cJSON *e = cJSON_GetArrayItem(ref_top, i);
        int want_id = cJSON_GetArrayItem(e, 0)->valueint;
        double want = cJSON_GetArrayItem(e, 1)->valuedouble;
        ck_assert_msg(top[i] == want_id, "top-%d: id %d, reference %d", i + 1, top[i], want_id);
        ck_assert_msg(fabs(val[i] - want) < 1e-3, "top-%d logit %.6f, reference %.6f", i + 1, val[i], want);
    }
    int32_t gen[256];
    int n;
    const cJSON *g = cJSON_GetObjectItem(r, "greedy_ids");
    int ng = cJSON_GetArraySize(g);
    greedy_ids(exe, ng, gen, &n);
    ck_assert_int_eq(n, n_ids + ng);
    for (int i = 0; i < ng; i++)
        ck_assert_msg(gen[n_ids + i] == cJSON_GetArrayItem(g, i)->valueint, "greedy token %d: %d, reference %d", i,
                      gen[n_ids + i], cJSON_GetArrayItem(g, i)->valueint);
    cJSON_Delete(r);
}
END_TEST

START_TEST(debdocs_bf16_close_to_reference)
{
    if (tu_need_shared("debdocs-32M/reference.json"))
        return;
    cJSON *r = reference();
    const char *exe = compile_debdocs("--weights bf16");
    int32_t ids[64], top[10];
    double val[10];
    int n_ids;
    top_logits(exe, ids, &n_ids, top, val, 10);
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "prompt_last_logits_top10"), 0);
    ck_assert_int_eq(top[0], cJSON_GetArrayItem(e, 0)->valueint);
    ck_assert_msg(fabs(val[0] - cJSON_GetArrayItem(e, 1)->valuedouble) < 0.1, "bf16 top logit %.4f", val[0]);
    int32_t gen[256];
    int n;
    greedy_ids(exe, 8, gen, &n);
    const cJSON *g = cJSON_GetObjectItem(r, "greedy_ids");
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(gen[n_ids + i], cJSON_GetArrayItem(g, i)->valueint);
    cJSON_Delete(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reference");
    TCase *tc = tcase_create("debdocs");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, debdocs_f32_matches_reference);
    tcase_add_test(tc, debdocs_bf16_close_to_reference);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
