/* test_hip_presets.c — the presets' AMD kernels through clang, resources checked (labelled slow: clang
 * takes 5-15 s a model and an arch on 2 busy cores, so each is compiled for one arch, the three
 * archs taking turns; stories260K is e2e_amd's, for gfx1151):
 *
 *   preset_llama31_8b_w4a16   the 8B in w4a16 for gfx942 (wave64, MFMA; u4's decode kernels)
 *   preset_llama32_1b_fp8     the 1B in fp8 for gfx1100 (fp8's)
 *   preset_llama32_1b_nvfp4   the 1B in nvfp4 for gfx1151 (nvfp4's; bf16 for the lm_head)
 *   preset_llama32_1b_kivi    the 1B with KIVI keys (kivi4) and values (kivi2) for gfx942 (wave64)
 *   families_syntax           every family's tiny config: its AMD source through clang's front end
 *   mx_kernels                flash_mx (prefill attention) at heads of 96, 128 and 256, soft-capped, and
 *                             moe_expert_mx (Qwen3-MoE in bf16), for gfx1100 and gfx942
 *
 * For each: every kernel of the source in the code object's metadata, with its wavefront size, no
 * scratch (no spill, no dynamic stack), its LDS within the target's; the code object for the arch
 * asked for (amdhsa.target).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../codegen/amdgpu.h"
#include "../codegen/backend.h"
#include "../codegen/codegen.h"
#include "../codegen/emit.h" /* LlmcBuf */
#include "../frontend/frontend.h"
#include "../frontend/model_json.h"
#include "../passes/passes.h"
#include "testutil.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int have_clang(void)
{
    char *argv[] = {LLMC_DEFAULT_CLANG, "--version", NULL};
    char dir[] = "/tmp/llmc-test-hip-XXXXXX", log[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(log, sizeof log, "%s/log", dir);
    int ok = llmc_run_tool(argv, log, dir) == 0;
    llmc_remove_tree(dir);
    const char *ci = getenv("CI");
    ck_assert_msg(ok || !(ci && strcmp(ci, "true") == 0), "clang-19 missing in CI");
    if (!ok)
        fprintf(stderr, "skipping: %s not found\n", LLMC_DEFAULT_CLANG);
    return ok;
}

typedef struct {
    LlmcDType fmt;   /* weights: 0 for the target's default */
    LlmcDType kv[2]; /* keys', values' formats: 0 for the target's default */
} Weights;

static LlmcGraph *graph_for(cJSON *doc, const char *dir, const LlmcTarget *t, const Weights *w)
{
    LlmcDiag d;
    LlmcGraph *g = llmc_graph_new();
    ck_assert_msg(llmc_model_from_json(doc, "model.json", dir, g, &d) == LLMC_OK, "%s", d.msg);
    LlmcPassOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.target = t;
    opt.max_tokens = 512;
    opt.max_outputs = 512;
    opt.kv_block_size = 16;
    opt.max_seq_len = 4096 < g->max_seq_len ? 4096 : 0;
    if (w && w->fmt) {
        opt.weights = w->fmt;
        opt.weights_set = 1;
    }
    if (w && w->kv[0]) {
        opt.kv[0] = w->kv[0];
        opt.kv[1] = w->kv[1];
        opt.kv_set = 1;
        for (int i = 0; i < 2; i++)
            if (w->kv[i] == LLMC_KIVI2 || w->kv[i] == LLMC_KIVI4)
                opt.kv_block_size = 32; /* KIVI's groups of 32 positions fill a block, as main.c sizes it */
    }
    ck_assert_msg(llmc_pipeline(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(llmc_pipeline_gpu(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "%s", d.msg);
    return g;
}

/* g's AMD source through clang for target `arch`, its resources checked. */
static void compile_check(const LlmcGraph *g, const char *arch, const char *what)
{
    LlmcDiag d;
    const LlmcTarget *t = llmc_target_find(arch);
    ck_assert_ptr_nonnull(t);
    LlmcCudaGen *cg = NULL;
    ck_assert_msg(llmc_gpu_generate(g, &t, 1, &(LlmcGpuGenOpts){LLMC_QMMA_PLAIN, 0, 0, LLMC_WGMMA_CP, 0, 0},
                                    &cg, &d) == LLMC_OK, "%s: %s", what, d.msg);
    char dir[] = "/tmp/llmc-test-hip-XXXXXX", path[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.cu", dir);
    const char *src = llmc_cuda_source(cg);
    ck_assert(llmc_write_file_atomic(path, src, strlen(src), &d) == LLMC_OK);
    ck_assert(llmc_cuda_write_headers(dir, &d) == LLMC_OK);
    double t0 = now_s();
    LlmcCodeObject co;
    ck_assert_msg(llmc_amdgpu_compile(NULL, dir, "model.cu", "out.bin", t, &co, &d) == LLMC_OK, "%s for %s: %s", what,
                  arch, d.msg);
    fprintf(stderr, "test_hip_presets: %-22s %-8s %3d kernels, %.1f s, %zu bytes\n", what, arch,
            llmc_cuda_kernel_count(cg), now_s() - t0, co.size);
    char want[64];
    snprintf(want, sizeof want, "amdgcn-amd-amdhsa--%s", arch);
    ck_assert_str_eq(co.meta.target, want);
    for (int k = 0; k < llmc_cuda_kernel_count(cg); k++) {
        const char *name = llmc_cuda_kernel_name(cg, k);
        const LlmcAmdKernelRes *r = llmc_amdgpu_find(&co.meta, name);
        ck_assert_msg(r, "%s %s: no metadata for %s", what, arch, name);
        ck_assert_msg(r->scratch == 0 && r->vgpr_spills == 0 && r->sgpr_spills == 0 && !r->dynamic_stack,
                      "%s %s: %s uses scratch (%d bytes a lane, spills %d/%d, %d VGPRs)", what, arch, name, r->scratch,
                      r->vgpr_spills, r->sgpr_spills, r->vgprs);
        ck_assert_msg(r->lds + (int64_t)llmc_cuda_kernel_amd_lds(cg, k) <= t->smem_per_block,
                      "%s %s: %s needs %d bytes of LDS and %u dynamic", what, arch, name, r->lds,
                      llmc_cuda_kernel_amd_lds(cg, k));
        ck_assert_int_eq(r->wave, t->wave);
    }
    ck_assert_int_eq(co.meta.n_res, llmc_cuda_kernel_count(cg));
    llmc_code_object_free(&co);
    llmc_remove_tree(dir);
    llmc_cuda_free(cg);
}

static void check_preset(const char *preset, const char *arch, const Weights *w)
{
    if (!have_clang())
        return;
    LlmcDiag d;
    cJSON *cfg = llmc_synth_preset_config(preset), *doc = NULL;
    ck_assert_ptr_nonnull(cfg);
    ck_assert_msg(llmc_hf_config_model(cfg, preset, LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    LlmcGraph *g = graph_for(doc, ".", llmc_target_find(arch), w);
    char what[64];
    snprintf(what, sizeof what, "%s%s%s", preset, w ? " " : "", w ? llmc_dtype_name(w->fmt) : "");
    compile_check(g, arch, what);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}

START_TEST(preset_llama31_8b_w4a16) { check_preset("llama3.1-8b", "gfx942", &(Weights){LLMC_U4, {0, 0}}); }
END_TEST
/* fp8 weights, and the quantized KV caches' writers and readers (keys int8, values int4) */
START_TEST(preset_llama32_1b_fp8) { check_preset("llama3.2-1b", "gfx1100", &(Weights){LLMC_FP8, {LLMC_INT8, LLMC_INT4}}); }
END_TEST
START_TEST(preset_llama32_1b_nvfp4) { check_preset("llama3.2-1b", "gfx1151", &(Weights){LLMC_NVFP4, {LLMC_KV_FP8, LLMC_KV_FP8}}); }
END_TEST
/* KIVI keys and values (the ring, the sealing kernel, the readers) on a wave64 target */
START_TEST(preset_llama32_1b_kivi) { check_preset("llama3.2-1b", "gfx942", &(Weights){LLMC_BF16, {LLMC_KIVI4, LLMC_KIVI2}}); }
END_TEST

/* Every family's tiny config (tests/data/families/configs) through the pipeline for gfx942: its whole
 * AMD source passes clang's front end (-fsyntax-only, half a second each: every kernel text the
 * emitters wrote for the family instantiates; the NVIDIA path shares those texts). */
START_TEST(families_syntax)
{
    if (!have_clang())
        return;
    static const char *const fams[] = {"qwen2",  "qwen3", "llama_linear", "llama_dynamic", "phi3",
                                       "gemma2", "gemma3", "mixtral",     "qwen3_moe"};
    const LlmcTarget *t = llmc_target_find("gfx942");
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
        LlmcDiag d;
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/data/families/configs/%s.json", LLMC_SOURCE_DIR, fams[i]);
        cJSON *cfg = NULL, *doc = NULL;
        ck_assert_msg(llmc_json_load(path, &cfg, &d) == LLMC_OK, "%s", d.msg);
        ck_assert_msg(llmc_hf_config_model(cfg, fams[i], LLMC_BF16, &doc, &d) == LLMC_OK, "%s: %s", fams[i], d.msg);
        LlmcGraph *g = graph_for(doc, ".", t, NULL);
        LlmcCudaGen *cg = NULL;
        ck_assert_msg(llmc_gpu_generate(g, &t, 1, &(LlmcGpuGenOpts){LLMC_QMMA_PLAIN, 0, 0, LLMC_WGMMA_CP, 0, 0},
                                        &cg, &d) == LLMC_OK, "%s: %s", fams[i], d.msg);
        char dir[] = "/tmp/llmc-test-hip-XXXXXX", src[512], log[512];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(src, sizeof src, "%s/model.cu", dir);
        snprintf(log, sizeof log, "%s/log", dir);
        const char *text = llmc_cuda_source(cg);
        ck_assert(llmc_write_file_atomic(src, text, strlen(text), &d) == LLMC_OK);
        ck_assert(llmc_cuda_write_headers(dir, &d) == LLMC_OK);
        char inc[600];
        snprintf(inc, sizeof inc, "-I%s", dir);
        char *argv[] = {LLMC_DEFAULT_CLANG, "-x", "hip", "-std=c++17", "--offload-arch=gfx942", "-nogpulib", "-nogpuinc",
                        "--cuda-device-only", "-fsyntax-only", "-w", inc, src, NULL};
        int rc = llmc_run_tool(argv, log, dir);
        char *out = NULL;
        size_t n = 0;
        if (rc)
            (void)llmc_read_file(log, &out, &n, &d);
        ck_assert_msg(rc == 0, "%s: the AMD source does not compile:\n%.2000s", fams[i], out ? out : "");
        free(out);
        llmc_remove_tree(dir);
        llmc_cuda_free(cg);
        llmc_graph_free(g);
        cJSON_Delete(doc);
        cJSON_Delete(cfg);
    }
}
END_TEST

/* Kernel i of cg whose name contains `part` appended to src under a name of its own (names[*nk],
 * from tag), its dynamic LDS to lds[*nk]; only the first such kernel when first_only. Returns how
 * many were taken. */
static int gather(LlmcBuf *src, const LlmcCudaGen *cg, const char *part, const char *tag, int first_only,
                  char (*names)[64], uint32_t *lds, int *nk, int cap)
{
    int found = 0;
    for (int k = 0; k < llmc_cuda_kernel_count(cg); k++) {
        const char *text = llmc_cuda_kernel_text(cg, k);
        if (!strstr(llmc_cuda_kernel_name(cg, k), part) || (first_only && found))
            continue;
        ck_assert_int_lt(*nk, cap);
        snprintf(names[*nk], 64, "x%d_%s", *nk, tag);
        lds[*nk] = llmc_cuda_kernel_amd_lds(cg, k);
        for (const char *p = text; *p;) {
            const char *at = strstr(p, "@NAME@");
            if (!at) {
                llmc_buf_printf(src, "%s\n", p);
                break;
            }
            llmc_buf_printf(src, "%.*s%s", (int)(at - p), p, names[*nk]);
            p = at + 6;
        }
        (*nk)++;
        found++;
    }
    return found;
}

/* The AMD path's matrix-core kernels where the presets leave them untried: flash_mx (prefill
 * attention) at heads of 96 and 128 (tiles of 64 positions) and 256 (tiles of 16), where register
 * pressure is highest, with Gemma 2's soft-cap and window (its tiny config, the heads changed), GQA 3,
 * 8 and 2; and moe_expert_mx (the experts' matmuls of wide MoE steps, Qwen3-MoE's tiny config in
 * bf16). Gathered into one source, compiled for gfx1100 (WMMA, wave32) and gfx942 (MFMA, wave64):
 * no scratch, LDS (its own and the launch's) within the target's. */
START_TEST(mx_kernels)
{
    if (!have_clang())
        return;
    static const int heads[][3] = {{96, 6, 2}, {128, 8, 1}, {256, 4, 2}}; /* head_dim, query heads, KV heads */
    const char *archs[] = {"gfx1100", "gfx942"};
    LlmcBuf src = {0};
    char names[8][64];
    uint32_t lds[8];
    int nk = 0;
    LlmcDiag d;
    const LlmcTarget *t0 = llmc_target_find("gfx1100");
    for (int i = 0; i < 4; i++) {
        char path[1024], tag[32];
        snprintf(path, sizeof path, "%s/tests/data/families/configs/%s.json", LLMC_SOURCE_DIR, i < 3 ? "gemma2" : "qwen3_moe");
        cJSON *cfg = NULL, *doc = NULL;
        ck_assert_msg(llmc_json_load(path, &cfg, &d) == LLMC_OK, "%s", d.msg);
        if (i < 3) {
            cJSON_ReplaceItemInObject(cfg, "head_dim", cJSON_CreateNumber(heads[i][0]));
            cJSON_ReplaceItemInObject(cfg, "num_attention_heads", cJSON_CreateNumber(heads[i][1]));
            cJSON_ReplaceItemInObject(cfg, "num_key_value_heads", cJSON_CreateNumber(heads[i][2]));
            cJSON_ReplaceItemInObject(cfg, "num_hidden_layers", cJSON_CreateNumber(2));
        }
        ck_assert_msg(llmc_hf_config_model(cfg, i < 3 ? "gemma2" : "qwen3_moe", LLMC_BF16, &doc, &d) == LLMC_OK, "%s",
                      d.msg);
        LlmcGraph *g = graph_for(doc, ".", t0, NULL);
        LlmcCudaGen *cg = NULL;
        ck_assert_msg(llmc_gpu_generate(g, &t0, 1, &(LlmcGpuGenOpts){LLMC_QMMA_PLAIN, 0, 0, LLMC_WGMMA_CP, 0, 0},
                                        &cg, &d) == LLMC_OK, "%s", d.msg);
        if (i == 0) { /* the includes */
            const char *all = llmc_cuda_source(cg), *k = strstr(all, "/* ---- kernels ---- */");
            ck_assert_ptr_nonnull(k);
            llmc_buf_printf(&src, "%.*s\n", (int)(k - all), all);
        }
        if (i < 3) { /* one a graph: the layers' kernels differ in the window alone */
            snprintf(tag, sizeof tag, "flash_mx_head%d", heads[i][0]);
            ck_assert_msg(gather(&src, cg, "flash_attention_mx", tag, 1, names, lds, &nk, 8) == 1,
                          "head_dim %d: no flash_mx kernel", heads[i][0]);
            ck_assert_msg(strstr(src.s, "5.0f);"), "gemma2: flash_mx without its soft-cap");
        } else {
            ck_assert_msg(gather(&src, cg, "moe_gate_up_mx", "moe_gate_up_mx", 0, names, lds, &nk, 8) == 1 &&
                              gather(&src, cg, "moe_down_mx", "moe_down_mx", 0, names, lds, &nk, 8) == 1,
                          "qwen3_moe in bf16: no moe_expert_mx kernels");
        }
        llmc_cuda_free(cg);
        llmc_graph_free(g);
        cJSON_Delete(doc);
        cJSON_Delete(cfg);
    }
    for (int a = 0; a < 2; a++) {
        const LlmcTarget *t = llmc_target_find(archs[a]);
        char dir[] = "/tmp/llmc-test-hip-XXXXXX", path[512];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/model.cu", dir);
        ck_assert(llmc_write_file_atomic(path, src.s, strlen(src.s), &d) == LLMC_OK);
        ck_assert(llmc_cuda_write_headers(dir, &d) == LLMC_OK);
        double t1 = now_s();
        LlmcCodeObject co;
        ck_assert_msg(llmc_amdgpu_compile(NULL, dir, "model.cu", "out.bin", t, &co, &d) == LLMC_OK, "%s: %s", archs[a],
                      d.msg);
        for (int k = 0; k < nk; k++) {
            const LlmcAmdKernelRes *r = llmc_amdgpu_find(&co.meta, names[k]);
            ck_assert_msg(r, "%s: no metadata for %s", archs[a], names[k]);
            fprintf(stderr, "test_hip_presets: %-8s %-22s %3d VGPRs, %3d AGPRs, %5d + %5u bytes of LDS\n", archs[a],
                    names[k], r->vgprs, r->agprs, r->lds, lds[k]);
            ck_assert_msg(r->scratch == 0 && r->vgpr_spills == 0 && r->sgpr_spills == 0 && !r->dynamic_stack,
                          "%s: %s uses scratch (%d bytes a lane, spills %d/%d, %d VGPRs)", archs[a], names[k], r->scratch,
                          r->vgpr_spills, r->sgpr_spills, r->vgprs);
            ck_assert_msg(r->lds + (int64_t)lds[k] <= t->smem_per_block, "%s: %s: LDS %d + %u", archs[a], names[k],
                          r->lds, lds[k]);
            ck_assert_int_eq(r->wave, t->wave);
        }
        fprintf(stderr, "test_hip_presets: %d matrix-core kernels for %s: %.1f s\n", nk, archs[a], now_s() - t1);
        llmc_code_object_free(&co);
        llmc_remove_tree(dir);
    }
    llmc_buf_free(&src);
}
END_TEST

static Suite *presets_suite(void)
{
    Suite *s = suite_create("hip_presets");
    TCase *tc = tcase_create("hip_presets");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, families_syntax);
    tcase_add_test(tc, mx_kernels);
    tcase_add_test(tc, preset_llama31_8b_w4a16);
    tcase_add_test(tc, preset_llama32_1b_fp8);
    tcase_add_test(tc, preset_llama32_1b_nvfp4);
    tcase_add_test(tc, preset_llama32_1b_kivi);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_main(presets_suite()); }
