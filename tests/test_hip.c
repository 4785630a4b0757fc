/* test_hip.c — the AMD targets without an AMD GPU: the HIP source the GPU backend emits for them,
 * the code objects clang builds from it, and what llmc reads back from those.
 *
 *   amd_golden        tests/golden/tiny.json through the pipeline for gfx1151: the kernels (the AMD
 *                     path: gemm_mx for wide steps, flash_mx for long ones' attention) against
 *                     tests/golden/tiny_amd.cu (`test_hip --regen` rewrites it); a build for
 *                     gfx1151 and sm_90a together: both paths, forward() choosing by the image.
 *   amd_meta          the metadata reader on a kernel that does spill, on wave32 and wave64 objects,
 *                     and on broken files (never a crash).
 *   device_tanh       llmc's own tanhf (gpu_math.h: AMD objects link no device library) against
 *                     the C library's, in ulps.
 * Whole models' kernels (this golden source, the example model, the presets) are compiled for the
 * three archs by test_hip_presets (labelled slow: clang takes seconds a model), and the runtime path
 * over a fake HIP driver is in test_gpu_runtime.c. clang-19 is required in CI
 * (scripts/setup.sh installs it); elsewhere the clang cases skip when it is missing.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../codegen/amdgpu.h"
#include "../codegen/backend.h"
#include "../codegen/codegen.h"
#include "../frontend/frontend.h"
#include "../frontend/model_json.h"
#include "../passes/passes.h"
#include "testutil.h"

#include "../codegen/gpu_math.h"

static int regen;

/* clang-19 runs? (CI: it must) */
static int have_clang(void)
{
    static int known = -1;
    if (known < 0) {
        char *argv[] = {LLMC_DEFAULT_CLANG, "--version", NULL};
        char dir[] = "/tmp/llmc-test-hip-XXXXXX", log[64];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(log, sizeof log, "%s/log", dir);
        known = llmc_run_tool(argv, log, dir) == 0;
        unlink(log);
        rmdir(dir);
        const char *ci = getenv("CI");
        ck_assert_msg(known || !(ci && strcmp(ci, "true") == 0), "clang-19 missing in CI");
        if (!known)
            fprintf(stderr, "skipping: %s not found\n", LLMC_DEFAULT_CLANG);
    }
    return known;
}

/* doc through the pipeline and the GPU stage for target t */
static LlmcGraph *graph_for(cJSON *doc, const char *dir, const LlmcTarget *t)
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
    ck_assert_msg(llmc_pipeline(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(llmc_pipeline_gpu(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "%s", d.msg);
    return g;
}

static LlmcGraph *tiny_graph(const LlmcTarget *t, cJSON **doc)
{
    LlmcDiag d;
    ck_assert(llmc_json_load(LLMC_SOURCE_DIR "/tests/golden/tiny.json", doc, &d) == LLMC_OK);
    return graph_for(*doc, LLMC_SOURCE_DIR "/tests/golden", t);
}

/* A build directory with model.cu = src and the kernel headers. */
static void write_build_dir(char *dir, const char *src)
{
    LlmcDiag d;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/model.cu", dir);
    ck_assert(llmc_write_file_atomic(path, src, strlen(src), &d) == LLMC_OK);
    ck_assert_msg(llmc_cuda_write_headers(dir, &d) == LLMC_OK, "%s", d.msg);
}

/* ---- the emitted source ---- */

START_TEST(amd_golden)
{
    LlmcDiag d;
    cJSON *doc;
    const LlmcTarget *gfx1151 = llmc_target_find("gfx1151");
    LlmcGraph *g = tiny_graph(gfx1151, &doc);
    LlmcCudaGen *cg = NULL;
    ck_assert_msg(llmc_gpu_generate(g, &gfx1151, 1, &(LlmcGpuGenOpts){LLMC_QMMA_PLAIN, 0, 0, LLMC_WGMMA_CP, 0, 0},
                                    &cg, &d) == LLMC_OK, "%s", d.msg);
    const char *all = llmc_cuda_source(cg), *src = strstr(all, "/* ---- kernels ---- */");
    ck_assert_ptr_nonnull(src);
    /* the AMD path only: no tensor-core or NVIDIA flash kernel, gemm_mx for the wide steps, flash_mx
       (heads of 8, padded to 16) for long steps instead of the per-token kernel */
    ck_assert_msg(strstr(src, "gemm_mx<") && !strstr(src, "gemm_h<") && !strstr(src, "gemm_q<") &&
                      !strstr(src, "flash_prefill<") && !strstr(src, "gemm_tc<") && strstr(src, "flash_mx<") &&
                      !strstr(src, "paged_attn<"),
                  "tiny for gfx1151: not the AMD path");
    ck_assert(strstr(all, "or HIP for clang (AMD path)"));
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/tiny_amd.cu", LLMC_SOURCE_DIR);
    if (regen) {
        ck_assert(llmc_write_file_atomic(path, src, strlen(src), &d) == LLMC_OK);
    } else {
        char *want;
        size_t n;
        ck_assert_msg(llmc_read_file(path, &want, &n, &d) == LLMC_OK, "%s (run test_hip --regen)", d.msg);
        ck_assert_msg(strcmp(want, src) == 0, "the emitted HIP for tiny.json differs from %s", path);
        free(want);
    }
    /* the host side: images, and no path condition in a one-path build */
    LlmcCudaImage im = {.target = gfx1151, .path = "none.hsaco", .size = 0};
    LlmcBuildInfo info = {"test", 1, 0, NULL, "gfx1151"};
    char *host = NULL;
    ck_assert_msg(llmc_cuda_host_c(g, cg, &im, 1, &info, &host, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(strstr(host, "{LLMC_GPU_VENDOR_AMD, 0, 0, \"gfx1151\", llmc_cubin_gfx1151,") &&
                      strstr(host, "LLMC_GPU_FEAT_AMD_PATH") && !strstr(host, "const int amd ="),
                  "%s", host);
    free(host);
    llmc_cuda_free(cg);

    /* gfx1151 and sm_90a in one build: both paths; the NVIDIA-only kernels trap where there is no
     * PTX, gemm_mx where the path is not the AMD one; forward() picks by the image */
    const LlmcTarget *both[] = {gfx1151, llmc_target_find("sm_90a")};
    ck_assert_msg(llmc_gpu_generate(g, both, 2, &(LlmcGpuGenOpts){LLMC_QMMA_PLAIN, 0, 0, LLMC_WGMMA_CP, 0, 0},
                                    &cg, &d) == LLMC_OK, "%s", d.msg);
    src = llmc_cuda_source(cg);
    ck_assert(strstr(src, "gemm_mx<") && strstr(src, "gemm_h<") && strstr(src, "#if LLMC_PTX\n") &&
              strstr(src, "#if LLMC_AMD_PATH\n") && strstr(src, "and HIP for clang"));
    LlmcCudaImage ims[] = {{.target = both[0], .path = "a.hsaco"}, {.target = both[1], .path = "b.cubin"}};
    ck_assert_msg(llmc_cuda_host_c(g, cg, ims, 2, &info, &host, &d) == LLMC_OK, "%s", d.msg);
    /* long steps: flash_mx on the AMD path; the per-token kernel on the NVIDIA one (heads of 8) */
    ck_assert_msg(strstr(host, "const int amd = (llmc_gpu_features(gpu) & LLMC_GPU_FEAT_AMD_PATH) != 0;") &&
                      strstr(host, "T > 8 && amd") && strstr(host, "&& !amd") && strstr(host, "if (T > 64 && amd)") &&
                      strstr(host, "if (T > 64 && !amd)") && strstr(src, "flash_mx<") && strstr(src, "paged_attn<") &&
                      strstr(host, "{LLMC_GPU_VENDOR_NVIDIA, 90, 1, \"sm_90a\", llmc_cubin_sm_90a,"),
                  "%s", host);
    free(host);
    llmc_cuda_free(cg);
    llmc_graph_free(g);
    cJSON_Delete(doc);
}
END_TEST

/* ---- code objects ---- */

/* A kernel that needs scratch (a local array indexed at run time) next to one that does not; the
 * metadata says which; broken inputs are refused with a message. */
static const char meta_src[] = "#include \"gpu_port.cuh\"\n"
                               "extern \"C\" __global__ void clean(float *y) { y[threadIdx.x] *= 2.0f; }\n"
                               "extern \"C\" __global__ void spill(float *y, int i)\n{\n"
                               "    float t[64];\n    for (int k = 0; k < 64; k++)\n        t[k] = y[k * i];\n"
                               "    y[threadIdx.x] = t[(i + threadIdx.x) & 63];\n}\n";

START_TEST(amd_meta)
{
    if (!have_clang())
        return;
    LlmcDiag d;
    char dir[] = "/tmp/llmc-test-hip-XXXXXX";
    write_build_dir(dir, meta_src);
    const char *archs[] = {"gfx1151", "gfx942"};
    for (int a = 0; a < 2; a++) {
        const LlmcTarget *t = llmc_target_find(archs[a]);
        LlmcCodeObject co;
        ck_assert_msg(llmc_amdgpu_compile(NULL, dir, "model.cu", "m.bin", t, &co, &d) == LLMC_OK, "%s", d.msg);
        ck_assert_int_eq(co.meta.n_res, 2);
        const LlmcAmdKernelRes *c = llmc_amdgpu_find(&co.meta, "clean"), *s = llmc_amdgpu_find(&co.meta, "spill");
        ck_assert(c && s && !llmc_amdgpu_find(&co.meta, "nothing"));
        ck_assert_int_eq(c->scratch, 0);
        ck_assert_msg(s->scratch >= 256, "%s: spill has %d bytes of scratch", archs[a], s->scratch);
        ck_assert_int_eq(c->wave, t->wave);
        ck_assert_int_eq(c->max_threads, 1024);
        /* broken copies: every prefix, and bytes flipped through the note; never a crash */
        uint8_t *b = malloc(co.size);
        for (size_t n = 0; n < co.size; n += 97) {
            LlmcAmdMeta m;
            ck_assert_int_eq(llmc_amdgpu_read_meta(co.data, n, &m, &d), LLMC_ERR);
            llmc_amdgpu_meta_free(&m);
        }
        for (size_t i = 0; i < co.size; i += 13) {
            memcpy(b, co.data, co.size);
            b[i] ^= 0xa5;
            LlmcAmdMeta m;
            (void)llmc_amdgpu_read_meta(b, co.size, &m, &d);
            llmc_amdgpu_meta_free(&m);
        }
        memcpy(b, co.data, co.size);
        b[18] = 62; /* EM_X86_64 */
        LlmcAmdMeta m;
        ck_assert_int_eq(llmc_amdgpu_read_meta(b, co.size, &m, &d), LLMC_ERR);
        ck_assert_msg(strstr(d.msg, "machine 62, not AMDGPU"), "%s", d.msg);
        free(b);
        llmc_code_object_free(&co);
    }
    /* a compile error carries clang's output; a missing clang says what to install */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/model.cu", dir);
    ck_assert(llmc_write_file_atomic(bad, "this is not C++\n", 16, &d) == LLMC_OK);
    LlmcCodeObject co;
    ck_assert_int_eq(llmc_amdgpu_compile(NULL, dir, "model.cu", "m.bin", llmc_target_find("gfx1100"), &co, &d), LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "clang-19 for gfx1100 failed") && strstr(d.msg, "error:"), "%s", d.msg);
    llmc_code_object_free(&co);
    ck_assert_int_eq(llmc_amdgpu_compile("llmc-no-such-clang", dir, "model.cu", "m.bin", llmc_target_find("gfx1100"),
                                         &co, &d),
                     LLMC_ERR);
    ck_assert_msg(strstr(d.msg, "clang-19 and lld-19") && strstr(d.msg, "llmc-no-such-clang"), "%s", d.msg);
    llmc_code_object_free(&co);
    llmc_remove_tree(dir);
}
END_TEST

/* ---- device math ---- */

static int64_t ulps(float a, double ref)
{
    float r = (float)ref;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &r, 4);
    if (ia < 0)
        ia = INT32_MIN - ia;
    if (ib < 0)
        ib = INT32_MIN - ib;
    int64_t e = (int64_t)ia - ib;
    return e < 0 ? -e : e;
}

START_TEST(device_tanh)
{
    int64_t worst = 0;
    for (uint32_t u = 0; u < 0x7f800000u; u += 4093) { /* every exponent, both signs */
        float x;
        memcpy(&x, &u, 4);
        for (int s = 0; s < 2; s++) {
            float v = s ? -x : x;
            int64_t e = ulps(llmc_tanhf(v), tanh((double)v));
            if (e > worst)
                worst = e;
        }
    }
    ck_assert_int_le(worst, 2);
    ck_assert(llmc_tanhf(INFINITY) == 1.0f && llmc_tanhf(-INFINITY) == -1.0f && isnan(llmc_tanhf(NAN)));
    ck_assert(llmc_tanhf(0.0f) == 0.0f && signbit(llmc_tanhf(-0.0f)));
}
END_TEST

static Suite *hip_suite(void)
{
    Suite *s = suite_create("hip");
    TCase *tc = tcase_create("hip");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, amd_golden);
    if (!regen) {
        tcase_add_test(tc, amd_meta);
        tcase_add_test(tc, device_tanh);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    regen = argc > 1 && strcmp(argv[1], "--regen") == 0;
    return tu_main(hip_suite());
}
