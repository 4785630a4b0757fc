/* test_cuda.c — the CUDA backend without a GPU (CI): for the example models and the synthesized
 * presets (their graphs built from the preset configs alone, no weights needed), the emitted CUDA C
 * compiles through NVRTC (sm_80 and sm_90a, and the small models for the other CUDA targets where
 * they compile something else: arch_in), and the decode kernels (skinny matmul, attention)
 * have no local-memory spills in the ptxas report. The tiny model's CUDA source is a golden file
 * (tests/golden/tiny.cu; regenerate with `test_cuda --regen`, scripts/regen-golden.sh).
 *
 * Labelled slow: the presets' kernels through NVRTC for several architectures (one process, each
 * distinct kernel compiled once an arch: about 6 minutes of CPU in all, bench/NOTES.md's CI section).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../codegen/codegen.h"
#include "../codegen/cuda_common.h"
#include "../codegen/emit.h"
#include "../codegen/nvrtc.h"
#include "../frontend/frontend.h"
#include "../frontend/model_json.h"
#include "../ir/kv_layout.h"
#include "../passes/passes.h"
#include "testutil.h"

static int regen;

static LlmcNvrtc *open_nvrtc(void)
{
    LlmcNvrtc *nv = NULL;
    LlmcDiag d;
    if (llmc_nvrtc_open(&nv, NULL, &d) != LLMC_OK) {
        const char *ci = getenv("CI");
        ck_assert_msg(!(ci && strcmp(ci, "true") == 0), "NVRTC missing in CI: %s", d.msg);
        fprintf(stderr, "skipping: %s\n", d.msg);
        return NULL;
    }
    return nv;
}

/* Every NVRTC run of this process, counted and timed (CI's budget: where test_cuda's time goes). With
 * LLMC_TEST_VERBOSE each run prints a line; the suite's total is printed at its end, and each test's
 * runs after it (compile_stats_test). */
typedef struct {
    int runs;
    double seconds;
} CompileStats;
static CompileStats compile_stats, compile_stats_mark;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static LlmcStatus nvrtc_compile(LlmcNvrtc *nv, const char *source, const char *name, const LlmcNvrtcHeaders *hdr,
                                const LlmcTarget *tg, LlmcCubin *out, LlmcDiag *d)
{
    double t0 = now_s();
    LlmcStatus st = llmc_nvrtc_compile(nv, source, name, hdr, tg, out, d);
    double s = now_s() - t0;
    compile_stats.runs++;
    compile_stats.seconds += s;
    if (getenv("LLMC_TEST_VERBOSE"))
        fprintf(stderr, "nvrtc: %s for %s: %zu bytes of source, %.1f s\n", name, tg->arch, strlen(source), s);
    return st;
}

/* After each test (a checked fixture's teardown): its NVRTC runs and their seconds. */
static void compile_stats_test(void)
{
    fprintf(stderr, "  (%s: %d NVRTC runs, %.1f s)\n", tcase_name(), compile_stats.runs - compile_stats_mark.runs,
            compile_stats.seconds - compile_stats_mark.seconds);
    compile_stats_mark = compile_stats;
}

/* Weight storage of a graph_of: NULL for the target's default, else a --weights name with its options. */
typedef struct {
    LlmcDType fmt;
    int group, asym;
} Weights;

/* Graph of doc (a model.json document) through the pipeline for sm_90a, weights stored as wts says. */
static LlmcGraph *graph_of_w(cJSON *doc, const char *dir, const Weights *wts);
static LlmcGraph *graph_of(cJSON *doc, const char *dir) { return graph_of_w(doc, dir, NULL); }
static LlmcGraph *graph_of_opt(cJSON *doc, const char *dir, const Weights *wts, int no_fuse);
static LlmcGraph *graph_of_w(cJSON *doc, const char *dir, const Weights *wts) { return graph_of_opt(doc, dir, wts, 0); }
static LlmcGraph *graph_of_tp(cJSON *doc, const char *dir, const Weights *wts, int no_fuse, int tp);
static LlmcGraph *graph_of_kv(cJSON *doc, const char *dir, const Weights *wts, int no_fuse, int tp, const LlmcDType *kv);
/* no_fuse: without the fusion passes (llmc compile --no-fuse) */
static LlmcGraph *graph_of_opt(cJSON *doc, const char *dir, const Weights *wts, int no_fuse)
{
    return graph_of_tp(doc, dir, wts, no_fuse, 1);
}
/* tp > 1: rank 0's graph of --tp tp (every rank's is the same) */
static LlmcGraph *graph_of_tp(cJSON *doc, const char *dir, const Weights *wts, int no_fuse, int tp)
{
    return graph_of_kv(doc, dir, wts, no_fuse, tp, NULL);
}
/* kv: the KV cache's formats of keys and values (--kv K,V; KIVI in blocks of 32), NULL: the target's */
static LlmcGraph *graph_of_kv(cJSON *doc, const char *dir, const Weights *wts, int no_fuse, int tp, const LlmcDType *kv)
{
    LlmcDiag d;
    LlmcGraph *g = llmc_graph_new();
    ck_assert_msg(llmc_model_from_json(doc, "model.json", dir, g, &d) == LLMC_OK, "%s", d.msg);
    LlmcPassOptions opt;
    memset(&opt, 0, sizeof opt);
    opt.target = llmc_target_find("sm_90a");
    opt.max_tokens = 512;
    opt.max_outputs = 512;
    opt.kv_block_size = 16;
    opt.no_fuse = no_fuse;
    opt.tp = tp;
    opt.max_seq_len = 4096 < g->max_seq_len ? 4096 : 0;
    if (kv) {
        opt.kv_set = 1;
        opt.kv[0] = kv[0];
        opt.kv[1] = kv[1];
        if (kv_is_kivi(kv[0]) || kv_is_kivi(kv[1]))
            opt.kv_block_size = 32;
    }
    if (wts) {
        opt.weights = wts->fmt;
        opt.weights_set = 1;
        opt.group = wts->group;
        opt.asym = wts->asym;
    }
    ck_assert_msg(llmc_pipeline(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "%s", d.msg);
    /* the GPU stage, as llmc compile runs it for CUDA targets: the fused kernels are what ships */
    ck_assert_msg(llmc_pipeline_gpu(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "%s", d.msg);
    return g;
}

/* Kernels that must not spill: decode GEMV and attention, the prefill tensor-core kernels, sampling,
 * the model families' kernels (the MoE block, the per-head norm, RoPE + KV write, the maps). */
static int is_no_spill_kernel(const char *name)
{
    static const char *const maps[] = {"_head_rmsnorm", "_gelu_tanh", "_scale", "_softcap", "_geglu"};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        const char *at = strstr(name, maps[i]);
        if (at && at[strlen(maps[i])] == 0)
            return 1;
    }
    return strstr(name, "gemv") || strstr(name, "paged_attention") || strstr(name, "attn_combine") ||
           strstr(name, "gemm_wide") || strstr(name, "gemm_wg") || strstr(name, "gemm_wt") || strstr(name, "gemm_ws") || strstr(name, "flash_attention") ||
           strstr(name, "_sample") || strstr(name, "gemm_q") || strstr(name, "gemm_wq") || strstr(name, "_moe_") || strstr(name, "rope_kv_write");
}

/* Which CUDA targets a case compiles for (CI's budget). The headers and the emitted kernels depend
 * on the target in two ways only (arch_branches checks it): __CUDA_ARCH__ >= 900 (programmatic
 * dependent launch) and __CUDA_ARCH_FEAT_SM90_ALL (wgmma, setmaxnreg, TMA: sm_90a's); the weight and
 * KV formats, fp8 among them, are decoded with integer arithmetic (no conversion instruction of
 * sm_89's). So sm_86 and sm_89 compile sm_80's preprocessed source, with no instruction sm_80 lacks
 * (the presets' and quantized cases' 539 kernels, 2026-12-07: ptxas gave sm_86 and sm_89 sm_80's
 * registers for 71% of them, -10 to +16 for the others, no spill anywhere; bench/NOTES.md), and sm_90
 * compiles sm_90a's but for the kernels with the wgmma guard (sm_90: their #else). The sets:
 * ARCHS_EVERY, every kernel for every target (tiny.json's f32 build: the whole source through each
 * target's compiler once); ARCHS_ALL, every target where it compiles something of its own
 * (arch_compiles: sm_80, sm_90a, and sm_90 the guarded kernels); ARCHS_ENDS, sm_80 and sm_90a;
 * ARCHS_80 and ARCHS_90A, the one. */
enum { ARCHS_EVERY, ARCHS_ALL, ARCHS_ENDS, ARCHS_80, ARCHS_90A };
static int arch_in(const char *name, int set)
{
    if (set == ARCHS_EVERY || set == ARCHS_ALL)
        return 1;
    if (!strcmp(name, "sm_80"))
        return set == ARCHS_ENDS || set == ARCHS_80;
    return !strcmp(name, "sm_90a") && (set == ARCHS_ENDS || set == ARCHS_90A);
}
/* Whether a case of `set` compiles the kernel of text `code` for target `name` (above): sm_86 and
 * sm_89 only a kernel whose own text branches on __CUDA_ARCH__ (none yet), sm_90 one with the wgmma
 * guard, unless the set is ARCHS_EVERY. */
static int arch_compiles(const char *name, int set, const char *code)
{
    if (!arch_in(name, set))
        return 0;
    if (set == ARCHS_EVERY || !strcmp(name, "sm_80") || !strcmp(name, "sm_90a"))
        return 1;
    if (!strcmp(name, "sm_90"))
        return strstr(code, "__CUDA_ARCH") != NULL;
    return strstr(code, "__CUDA_ARCH__") != NULL;
}

/* What arch_in rests on: the headers the kernels compile with branch on the target only at
 * __CUDA_ARCH__ >= 900 and __CUDA_ARCH_FEAT_SM90_ALL, and include none of CUDA's own (whose code
 * branches at other archs: cuda_fp8.h converts with sm_89's instructions). Another branch fails
 * here: then the targets it tells apart compile again (arch_compiles). */
START_TEST(arch_branches)
{
    const LlmcNvrtcHeaders hdr = llmc_cuda_header_table();
    for (int i = 0; i < hdr.n; i++) {
        for (const char *p = hdr.texts[i]; (p = strstr(p, "__CUDA_ARCH")) != NULL; p++)
            ck_assert_msg(strncmp(p, "__CUDA_ARCH__ >= 900", 20) == 0 ||
                              strncmp(p, "__CUDA_ARCH_FEAT_SM90_ALL", 25) == 0,
                          "%s branches on the target at \"%.*s\": compile the targets it tells apart (arch_in)",
                          hdr.names[i], (int)strcspn(p, "\n"), p);
        for (const char *p = hdr.texts[i]; (p = strstr(p, "#include <")) != NULL; p++)
            ck_assert_msg(strncmp(p, "#include <stdint.h>", 19) == 0,
                          "%s includes \"%.*s\": if CUDA's, its branches on the target count too (arch_in)",
                          hdr.names[i], (int)strcspn(p, "\n"), p);
    }
}
END_TEST

/* ---- what this process has compiled ----
 * test_cuda runs its tests in one process (tu_main_nofork) so that a kernel one test compiled and
 * checked for an arch is not compiled for it again by the next: an emitted kernel is one
 * self-contained definition after the same headers, so the same text (its leading comment aside,
 * which names the node) gives the same code and the same ptxas report in any source of this
 * process's NVRTC. For each CUDA target, the texts compiled so far and their reports. */
typedef struct {
    char *body;           /* the kernel's text past its leading comment, "@NAME@" for its name */
    LlmcKernelRes res;    /* its ptxas report */
} Compiled;
typedef struct {
    Compiled *k;
    int n, cap;
} CompiledSet;
enum { MAX_CUDA_TARGETS = 16 };
static CompiledSet compiled[MAX_CUDA_TARGETS];

static const LlmcKernelRes *compiled_find(int arch, const char *body)
{
    for (int i = 0; i < compiled[arch].n; i++)
        if (strcmp(compiled[arch].k[i].body, body) == 0)
            return &compiled[arch].k[i].res;
    return NULL;
}

static void compiled_add(int arch, const char *body, const LlmcKernelRes *res)
{
    CompiledSet *c = &compiled[arch];
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->k = realloc(c->k, sizeof *c->k * (size_t)c->cap);
        ck_assert_ptr_nonnull(c->k);
    }
    c->k[c->n].body = strdup(body);
    c->k[c->n++].res = *res;
}

/* Compiles g's CUDA source (tuned for sm_90a, its batched-decode matmul as qmma says) for the CUDA
 * targets of `set`; checks resources. For each target NVRTC compiles the source's headers and the
 * kernels this process has not compiled for it yet (none: no NVRTC run); every kernel of g is
 * checked against its report, from this compile or an earlier one. The whole source (every
 * kernel under its own name, after the same headers) is what llmc compile hands NVRTC: its
 * kernels define nothing but themselves, so it compiles when each of them does. */
static void compile_archs_o(LlmcNvrtc *nv, const LlmcGraph *g, const char *what, int set, const LlmcGpuGenOpts *o);
static void compile_archs_w(LlmcNvrtc *nv, const LlmcGraph *g, const char *what, int set, LlmcQmma qmma, int binv,
                            LlmcWgmma wide)
{
    compile_archs_o(nv, g, what, set, &(LlmcGpuGenOpts){qmma, binv, 0, wide, 0, 0});
}
static void compile_archs_b(LlmcNvrtc *nv, const LlmcGraph *g, const char *what, int set, LlmcQmma qmma, int binv)
{
    compile_archs_w(nv, g, what, set, qmma, binv, LLMC_WGMMA_CP);
}
static void compile_archs_q(LlmcNvrtc *nv, const LlmcGraph *g, const char *what, int set, LlmcQmma qmma)
{
    compile_archs_b(nv, g, what, set, qmma, 0);
}
static void compile_archs(LlmcNvrtc *nv, const LlmcGraph *g, const char *what, int set)
{
    compile_archs_q(nv, g, what, set, LLMC_QMMA_PLAIN);
}
/* o: the build's options (binv: a batch-invariant build, --batch-invariant; wide: the wide steps'
 * matmul, --wgmma; decode_wgmma: --decode-wgmma on) */
static void compile_archs_o(LlmcNvrtc *nv, const LlmcGraph *g, const char *what, int set, const LlmcGpuGenOpts *o)
{
    LlmcDiag d;
    LlmcCudaGen *cg = NULL;
    const LlmcTarget *tune = llmc_target_find("sm_90a");
    ck_assert_msg(llmc_gpu_generate(g, &tune, 1, o, &cg, &d) == LLMC_OK, "%s", d.msg);
    const char *all = llmc_cuda_source(cg), *defs = strstr(all, "/* ---- kernels ---- */");
    ck_assert_ptr_nonnull(defs);
    const int nk = llmc_cuda_kernel_count(cg);
    for (int k = 0; k < nk; k++) { /* one definition each, under a name of its own */
        const char *text = llmc_cuda_kernel_text(cg, k), *at = strstr(text, "@NAME@");
        ck_assert_msg(at && !strstr(at + 1, "@NAME@") && strstr(text, "__global__") &&
                          !strstr(strstr(text, "__global__") + 1, "__global__"),
                      "%s: kernel %d is not one named definition", what, k);
        for (int j = 0; j < k; j++)
            ck_assert_str_ne(llmc_cuda_kernel_name(cg, j), llmc_cuda_kernel_name(cg, k));
    }
    int arch = 0;
    for (const LlmcTarget *const *t = llmc_targets(); *t; t++, arch++) {
        ck_assert_int_lt(arch, MAX_CUDA_TARGETS);
        if ((*t)->backend != LLMC_TGT_CUDA || (*t)->amd_path || !arch_in((*t)->name, set))
            continue;
        LlmcBuf src = {0};
        llmc_buf_printf(&src, "%.*s", (int)(defs - all), all); /* the headers */
        int fresh = 0, here = 0;
        for (int k = 0; k < nk; k++) {
            const char *text = llmc_cuda_kernel_text(cg, k);
            if (!arch_compiles((*t)->name, set, llmc_kernel_code(text)))
                continue;
            here++;
            /* (a kernel of g's twice, a comment apart, is one: llmc_emit_kernel) */
            if (!compiled_find(arch, llmc_kernel_code(text))) {
                llmc_emit_named(&src, text, llmc_cuda_kernel_name(cg, k));
                fresh++;
            }
        }
        LlmcCubin c = {0};
        if (fresh) {
            ck_assert_msg(nvrtc_compile(nv, src.s, what, llmc_cuda_headers(cg), *t, &c, &d) == LLMC_OK,
                          "%s for %s: %s", what, (*t)->arch, d.msg);
            ck_assert_msg(c.size > 1000 && c.data[0] == 0x7f && c.data[1] == 'E', "%s %s: not a cubin", what,
                          (*t)->arch);
        }
        if (getenv("LLMC_TEST_VERBOSE")) /* where test_cuda's time goes (CI's budget; the seconds: nvrtc_compile's line) */
            fprintf(stderr, "%s for %s: %d of its %d kernels (of %d) compiled here, the others earlier\n", what,
                    (*t)->arch, fresh, here, nk);
        for (int k = 0; k < nk; k++) {
            const char *name = llmc_cuda_kernel_name(cg, k), *body = llmc_kernel_code(llmc_cuda_kernel_text(cg, k));
            if (!arch_compiles((*t)->name, set, body))
                continue;
            const LlmcKernelRes *r = compiled_find(arch, body);
            if (!r) {
                r = llmc_cubin_find(&c, name);
                ck_assert_msg(r != NULL, "%s %s: no ptxas report for %s", what, (*t)->arch, name);
                compiled_add(arch, body, r);
            }
            if (is_no_spill_kernel(name))
                ck_assert_msg(r->spill_stores == 0 && r->spill_loads == 0,
                              "%s %s: %s spills (%d bytes stores, %d loads, %d registers)", what, (*t)->arch, name,
                              r->spill_stores, r->spill_loads, r->registers);
            /* ptxas kept every kernel's wgmma as written: no wait injected for their results, none serialized */
            ck_assert_msg(r->wgmma_waits == 0, "%s %s: %s: ptxas injected a wgmma wait or serialized its wgmma", what,
                          (*t)->arch, name);
            if (strstr(name, "gemm_wt")) /* and no stack (setmaxnreg splits its 168 registers a thread) */
                ck_assert_msg(r->stack_frame == 0 && (strcmp((*t)->name, "sm_90a") != 0 || r->registers == 168),
                              "%s %s: %s has %d bytes of stack, %d registers", what, (*t)->arch, name, r->stack_frame,
                              r->registers);
        }
        llmc_cubin_free(&c);
        llmc_buf_free(&src);
    }
    llmc_cuda_free(cg);
}

/* The model.json document of a preset's config (layers > 0: cut to that many layers). */
static cJSON *preset_doc(const char *preset, int layers)
{
    LlmcDiag d;
    cJSON *cfg = llmc_synth_preset_config(preset), *doc = NULL;
    ck_assert_ptr_nonnull(cfg);
    if (layers > 0)
        cJSON_ReplaceItemInObject(cfg, "num_hidden_layers", cJSON_CreateNumber(layers));
    ck_assert_msg(llmc_hf_config_model(cfg, preset, LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    cJSON_Delete(cfg);
    return doc;
}

static void check_preset_q(const char *preset, const Weights *wts, LlmcQmma qmma);
static void check_preset(const char *preset) { check_preset_q(preset, NULL, LLMC_QMMA_PLAIN); }
static void check_preset_w(const char *preset, const Weights *wts) { check_preset_q(preset, wts, LLMC_QMMA_PLAIN); }
/* qmma: the batched-decode matmul (--qmma) */
static void check_preset_q(const char *preset, const Weights *wts, LlmcQmma qmma)
{
    LlmcNvrtc *nv = open_nvrtc();
    if (!nv)
        return;
    cJSON *doc = preset_doc(preset, 0);
    LlmcGraph *g = graph_of_w(doc, ".", wts);
    char what[128];
    snprintf(what, sizeof what, "%s%s%s%s", preset, wts ? " " : "", wts ? llmc_dtype_name(wts->fmt) : "",
             qmma == LLMC_QMMA_WG ? " --qmma wg" : "");
    /* sm_80 and sm_90a: the other targets add no instruction (arch_in) */
    compile_archs_q(nv, g, what, ARCHS_ENDS, qmma);
    if (wts) /* the quantized matrices are in the skinny kernels' lane8 order, read by 16-byte slots */
        for (int i = 0; i < g->nn; i++)
            if (g->n[i].op == LLMC_OP_MATMUL_FUSED && g->n[i].out[0] != g->logits) { /* the lm_head stays bf16 */
                const LlmcTensor *w = &g->t[g->n[i].in[1]];
                ck_assert_msg(w->dtype == wts->fmt && w->layout.order == LLMC_ORDER_LANE8, "%s: %s is %s in order %s",
                              what, w->name, llmc_dtype_name(w->dtype), llmc_order_name(w->layout.order));
            }
    llmc_graph_free(g);
    cJSON_Delete(doc);
    llmc_nvrtc_close(nv);
}

/* --tp N (the CUDA collectives, cuda_collective.c): a preset's rank graph (layers all_reduces
 * after o and down, one after the embedding when its table is split, one all_gather of the
 * logits), its kernels through NVRTC for sm_80 and sm_90a without spills: the 1B at --tp 2, and
 * the builds bench/gpu_round.sh WHAT=tp makes on the lent GPUs, the 8B at --tp 2 and the 70B's
 * shapes at --tp 4. */
static void check_preset_tp(const char *preset, int tp, int layers)
{
    LlmcNvrtc *nv = open_nvrtc();
    if (!nv)
        return;
    cJSON *doc = preset_doc(preset, 0);
    LlmcGraph *g = graph_of_tp(doc, ".", NULL, 0, tp);
    ck_assert_int_eq(g->tp, tp);
    int reduces = 0, gathers = 0;
    for (int i = 0; i < g->nn; i++) {
        reduces += g->n[i].op == LLMC_OP_ALL_REDUCE;
        gathers += g->n[i].op == LLMC_OP_ALL_GATHER;
    }
    ck_assert_int_eq(reduces, 2 * layers + 1); /* o and down of every layer, the embedding */
    ck_assert_int_eq(gathers, 1);              /* the logits */
    char what[64];
    snprintf(what, sizeof what, "%s --tp %d", preset, tp);
    compile_archs(nv, g, what, ARCHS_ENDS);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    llmc_nvrtc_close(nv);
}
START_TEST(preset_llama32_1b_tp2) { check_preset_tp("llama3.2-1b", 2, 16); }
END_TEST
START_TEST(preset_llama31_8b_tp2) { check_preset_tp("llama3.1-8b", 2, 32); }
END_TEST
START_TEST(preset_llama31_70b_tp4) { check_preset_tp("llama3.1-70b", 4, 80); }
END_TEST

START_TEST(preset_stories15M) { check_preset("stories15M"); }
END_TEST
START_TEST(preset_llama32_1b) { check_preset("llama3.2-1b"); }
END_TEST
START_TEST(preset_llama31_8b) { check_preset("llama3.1-8b"); }
END_TEST

/* Quantized weights: the 8B in w4a16 (g128, symmetric), the 1B in w4a16 with zero points in groups
 * of 32 and in fp8: every kernel compiles for sm_80 and sm_90a and the skinny ones do not spill
 * (the tiny model's w4a16 golden too). */
START_TEST(preset_llama31_8b_w4a16) { check_preset_w("llama3.1-8b", &(Weights){LLMC_U4, 0, 0}); }
END_TEST
START_TEST(preset_llama32_1b_w4a16_asym_g32) { check_preset_w("llama3.2-1b", &(Weights){LLMC_U4, 32, 1}); }
END_TEST
START_TEST(preset_llama32_1b_fp8) { check_preset_w("llama3.2-1b", &(Weights){LLMC_FP8, 0, 0}); }
END_TEST
/* --qmma wg (gemm_wq, experimental): the 8B in w4a16 and the 1B in w4a16 with zero points in groups
 * of 32 (the most registers) for sm_80 and sm_90a, no spills. */
START_TEST(preset_llama31_8b_w4a16_wg) { check_preset_q("llama3.1-8b", &(Weights){LLMC_U4, 0, 0}, LLMC_QMMA_WG); }
END_TEST
START_TEST(preset_llama32_1b_w4a16_asym_g32_wg)
{
    check_preset_q("llama3.2-1b", &(Weights){LLMC_U4, 32, 1}, LLMC_QMMA_WG);
}
END_TEST

START_TEST(example_stories260K)
{
    if (tu_need_shared("stories260K/stories260K.bin"))
        return;
    LlmcNvrtc *nv = open_nvrtc();
    if (!nv)
        return;
    cJSON *doc;
    LlmcDiag d;
    ck_assert(llmc_json_load(LLMC_SOURCE_DIR "/examples/stories260K.json", &doc, &d) == LLMC_OK);
    LlmcGraph *g = graph_of(doc, LLMC_SOURCE_DIR "/examples");
    compile_archs(nv, g, "stories260K", ARCHS_ALL); /* most of its kernels: llama_hf_golden's */
    llmc_graph_free(g);
    cJSON_Delete(doc);
    llmc_nvrtc_close(nv);
}
END_TEST

/* The emitted kernels src against the golden file at path (written instead with --regen). */
static void check_golden(const char *src, const char *path, const char *what)
{
    LlmcDiag d;
    if (regen) {
        ck_assert(llmc_write_file_atomic(path, src, strlen(src), &d) == LLMC_OK);
        return;
    }
    char *want;
    size_t n;
    ck_assert_msg(llmc_read_file(path, &want, &n, &d) == LLMC_OK, "%s (run test_cuda --regen)", d.msg);
    ck_assert_msg(strcmp(want, src) == 0, "the emitted CUDA for %s differs from %s", what, path);
    free(want);
}

/* The host C of a build for sm_90a (build_info its --version line) into *host, and its forward()
 * (malloc'd). */
static char *host_forward(const LlmcGraph *g, const LlmcCudaGen *cg, const char *build_info, char **host)
{
    LlmcDiag d;
    LlmcBuildInfo info = {.build_info = build_info, .model_hash = 0x1234, .target_names = "sm_90a"};
    ck_assert_msg(llmc_cuda_host_c(g, cg, NULL, 0, &info, host, &d) == LLMC_OK, "%s", d.msg);
    const char *fwd = strstr(*host, "static void forward(");
    ck_assert_ptr_nonnull(fwd);
    const char *end = strstr(fwd, "\n}\n");
    ck_assert_ptr_nonnull(end);
    return strndup(fwd, (size_t)(end - fwd) + 3);
}

/* The emitted kernels src of build cg of g and its host forward() against tests/golden/NAME.cu and
 * NAME.forward.c (what: the build's --version line, and the messages' name for it). */
static void check_golden_host(const LlmcGraph *g, const LlmcCudaGen *cg, const char *src, const char *name,
                              const char *what)
{
    char path[1024], w[256];
    snprintf(path, sizeof path, "%s/tests/golden/%s.cu", LLMC_SOURCE_DIR, name);
    check_golden(src, path, what);
    char *host = NULL, *body = host_forward(g, cg, what, &host);
    snprintf(path, sizeof path, "%s/tests/golden/%s.forward.c", LLMC_SOURCE_DIR, name);
    snprintf(w, sizeof w, "%s (host forward)", what);
    check_golden(body, path, w);
    free(body);
    free(host);
}

/* tests/golden/tiny.json through the CUDA backend, weights stored as wts says (NULL: the default):
 * the source must equal the golden file `golden` and hold `must` (when not NULL); every kernel
 * compiles (f32: for every target, the whole source, ARCHS_EVERY; w4a16: sm_80 and sm_90a). */
static void check_tiny(const Weights *wts, const char *golden, const char *must, const char *what)
{
    LlmcNvrtc *nv = open_nvrtc();
    cJSON *doc;
    LlmcDiag d;
    ck_assert(llmc_json_load(LLMC_SOURCE_DIR "/tests/golden/tiny.json", &doc, &d) == LLMC_OK);
    LlmcGraph *g = graph_of_w(doc, LLMC_SOURCE_DIR "/tests/golden", wts);
    LlmcCudaGen *cg = NULL;
    ck_assert(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK);
    const char *src = strstr(llmc_cuda_source(cg), "/* ---- kernels ---- */");
    ck_assert_ptr_nonnull(src);
    ck_assert_msg(!must || strstr(src, must), "%s: no %s", what, must);
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/%s", LLMC_SOURCE_DIR, golden);
    check_golden(src, path, what);
    if (nv) /* f32 (its own fallback paths) for every target; w4a16: the ends (sm_80, sm_90a) */
        compile_archs(nv, g, what, wts ? ARCHS_ENDS : ARCHS_EVERY);
    llmc_cuda_free(cg);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    llmc_nvrtc_close(nv);
}

START_TEST(tiny_golden) { check_tiny(NULL, "tiny.cu", NULL, "tiny.json"); }
END_TEST

/* tests/golden/tiny.json at --tp 2: the rank's kernels (the embedding of its vocabulary rows, the
 * all_gather's placing kernel; tests/golden/tiny_tp2.cu) and its host forward() with the NCCL
 * collectives between the launches (tiny_tp2.forward.c); every kernel compiles for every target where
 * it differs (ARCHS_ALL). */
START_TEST(tiny_tp2_golden)
{
    LlmcNvrtc *nv = open_nvrtc();
    cJSON *doc;
    LlmcDiag d;
    ck_assert(llmc_json_load(LLMC_SOURCE_DIR "/tests/golden/tiny.json", &doc, &d) == LLMC_OK);
    LlmcGraph *g = graph_of_tp(doc, LLMC_SOURCE_DIR "/tests/golden", NULL, 0, 2);
    LlmcCudaGen *cg = NULL;
    ck_assert_msg(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK, "%s", d.msg);
    const char *src = strstr(llmc_cuda_source(cg), "/* ---- kernels ---- */");
    ck_assert_ptr_nonnull(src);
    ck_assert_msg(strstr(src, "embed_part<"), "no embedding of the rank's rows");
    ck_assert_msg(strstr(src, "all_gather_place<"), "no all_gather placing kernel");
    ck_assert_msg(strstr(src, "all_reduce_ordered<32, 2, 32, 32>"), "no rank-ordered all_reduce kernel");
    check_golden(src, LLMC_SOURCE_DIR "/tests/golden/tiny_tp2.cu", "tiny.json --tp 2");
    char *host = NULL, *body = host_forward(g, cg, "tiny --tp 2", &host);
    ck_assert_msg(strstr(body, "llmc_gpu_all_gather(gpu, T, 32, "), "no all_reduce (gathered) of T rows");
    ck_assert_msg(strstr(body, "llmc_gpu_all_gather(gpu, O, "), "no all_gather of the logits");
    ck_assert_msg(strstr(body, "(int64_t)ex->rank * "), "the embedding's first row is not the rank's");
    check_golden(body, LLMC_SOURCE_DIR "/tests/golden/tiny_tp2.forward.c", "tiny.json --tp 2 (host forward)");
    ck_assert_msg(strstr(host, ".n_ranks = 2,"), "the descriptor does not say 2 ranks");
    free(body);
    free(host);
    if (nv)
        compile_archs(nv, g, "tiny.json --tp 2", ARCHS_ALL);
    llmc_cuda_free(cg);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    llmc_nvrtc_close(nv);
}
END_TEST

/* One layer of a synth preset's config in bf16, as a graph of tp ranks (the config and document kept
 * for layer_free). */
typedef struct {
    cJSON *cfg, *doc;
    LlmcGraph *g;
} PresetLayer;
static PresetLayer preset_layer(const char *preset, int tp)
{
    LlmcDiag d;
    PresetLayer x = {llmc_synth_preset_config(preset), NULL, NULL};
    ck_assert_ptr_nonnull(x.cfg);
    cJSON_ReplaceItemInObject(x.cfg, "num_hidden_layers", cJSON_CreateNumber(1));
    ck_assert_msg(llmc_hf_config_model(x.cfg, preset, LLMC_BF16, &x.doc, &d) == LLMC_OK, "%s", d.msg);
    x.g = graph_of_tp(x.doc, ".", NULL, 0, tp);
    return x;
}
static void layer_free(PresetLayer *x)
{
    llmc_graph_free(x->g);
    cJSON_Delete(x->doc);
    cJSON_Delete(x->cfg);
}

/* The all_reduce's two ways at the 70B's shapes (one layer): at --tp 4 the host forward() gathers
 * below 36 rows (all_reduce_ordered) and exchanges from 36 on (ncclSend / ncclRecv of a quarter of
 * the values, all_reduce_chunk, the sums gathered into the rows); at --tp 2 it only gathers (the
 * exchange would move as many bytes in two calls). Their NVRTC compiles: preset_llama31_70b_tp4. */
START_TEST(tp_reduce_ways)
{
    for (int tp = 2; tp <= 4; tp += 2) {
        LlmcDiag d;
        PresetLayer x = preset_layer("llama3.1-70b", tp);
        LlmcGraph *g = x.g;
        LlmcCudaGen *cg = NULL;
        ck_assert_msg(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK, "%s", d.msg);
        const char *src = llmc_cuda_source(cg);
        LlmcBuildInfo info = {.build_info = "l70", .model_hash = 0x1234, .target_names = "sm_90a"};
        char *host = NULL;
        ck_assert_msg(llmc_cuda_host_c(g, cg, NULL, 0, &info, &host, &d) == LLMC_OK, "%s", d.msg);
        char want[128];
        snprintf(want, sizeof want, "all_reduce_ordered<8192, %d, 8192, 8192>(", tp);
        ck_assert_msg(strstr(src, want), "--tp %d: no %s", tp, want);
        if (tp == 4) {
            const char *first = strstr(host, "/* node 1: ");
            if (getenv("LLMC_TEST_VERBOSE") && first) /* the embedding's all_reduce */
                fprintf(stderr, "%.*s\n", (int)(strstr(first + 1, "/* node 2: ") - first), first);
            ck_assert_msg(strstr(src, "all_reduce_chunk<8192, 4>("), "no all_reduce_chunk");
            ck_assert_msg(strstr(host, "    if (T < 36)\n        llmc_gpu_all_gather(gpu, T, 8192, "), "no gather below 36 rows");
            ck_assert_msg(strstr(host, "    if (T >= 36)\n        llmc_gpu_all_to_all(gpu, (int64_t)T * 2048, "),
                          "no exchange from 36 rows");
            ck_assert_msg(strstr(host, "    if (T >= 36)\n        llmc_gpu_all_gather(gpu, 1, (int64_t)T * 2048, "),
                          "no gather of the sums");
        } else {
            ck_assert_msg(!strstr(src, "all_reduce_chunk<8192") && !strstr(host, "llmc_gpu_all_to_all(gpu,"),
                          "--tp 2 exchanges");
        }
        free(host);
        llmc_cuda_free(cg);
        layer_free(&x);
    }
}
END_TEST

/* The batch-1 step's tail (the 1B, one layer): the sampler gives a greedy row of a step of up to 66
 * rows (sm_90a's 132 SMs / 2) min(126, 132 / O) blocks (128256 ids: at most 126 blocks of 1024
 * threads), one block a row above (cuda_backend.c sample_split); both select_rows write in place
 * (plan_memory_gpu), so forward() launches their copies only when the step's rows are not 0..T-1:
 * a decode step (every CUDA graph's) runs neither. */
START_TEST(b1_tail)
{
    LlmcDiag d;
    PresetLayer x = preset_layer("llama3.2-1b", 1);
    LlmcGraph *g = x.g;
    int sel = 0;
    for (int i = 0; i < g->nn; i++)
        if (g->n[i].op == LLMC_OP_SELECT_ROWS) {
            ck_assert_msg(llmc_rows_in_place(g, i), "node %d: select_rows not in place", i);
            sel++;
        }
    ck_assert_int_eq(sel, 2); /* the attention's output and the residual */
    LlmcCudaGen *cg = NULL;
    ck_assert_msg(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK, "%s", d.msg);
    LlmcBuildInfo info = {.build_info = "l1b", .model_hash = 0x1234, .target_names = "sm_90a"};
    char *host = NULL;
    ck_assert_msg(llmc_cuda_host_c(g, cg, NULL, 0, &info, &host, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(strstr(host, "    int same_rows = O == T;\n    for (uint32_t i = 0; same_rows && i < O; i++)\n"
                               "        same_rows = st->out_rows[i] == (int32_t)i;\n"),
                  "forward()'s same_rows");
    int copies = 0, launches = 0; /* a gather and a copy back each, every one under !same_rows */
    const char *prev = host;
    for (const char *line = host; *line; prev = line, line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
        size_t n = strcspn(line, "\n");
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)n, line);
        if (strstr(buf, "llmc_gpu_launch(") && strstr(buf, "select_rows")) {
            launches++;
            copies += strncmp(prev, "    if (!same_rows)\n", 20) == 0;
        }
    }
    ck_assert_int_eq(launches, 4);
    ck_assert_int_eq(copies, 4);
    ck_assert_msg(strstr(host, "    if (O)\n        llmc_gpu_launch(gpu, ") &&
                      strstr(host, ", O, (O > 66 ? 1 : 132 / O < 126 ? 132 / O : 126), 1, 1024, 0, "),
                  "the sampler's launch");
    const char *src = llmc_cuda_source(cg);
    ck_assert_msg(strstr(src, "sample_rows<128256, 128256>(a.logits, a.out_ids, a.sample, A("), "the sampler's kernel");
    for (int rows = 1; rows <= 512; rows *= 8) { /* decode steps: no copy, the sampler last */
        char *p = llmc_cuda_row_path(cg, rows, 1, 0, &d);
        ck_assert_msg(p, "%s", d.msg);
        ck_assert_msg(!strstr(p, "select_rows") && strstr(p, "\tafter the graph (") && strstr(p, "_sample)\n"), "%d rows:\n%s",
                      rows, p);
        free(p);
    }
    free(host);
    llmc_cuda_free(cg);
    layer_free(&x);
}
END_TEST

/* Decode attention past 64 tokens (the 1B's shapes, one layer): a decode step of 65 to 256 sequences
 * (S = T runs) stays on paged_attn_tc, unsplit (grid z 1), where flash attention's tiles of 64
 * tokens would serve one sequence after another; a step with a run of more than 4 tokens launches
 * flash attention too, which leaves the short runs (decode tokens) to paged_attn_tc. */
START_TEST(decode_attention_past_64)
{
    LlmcDiag d;
    PresetLayer x = preset_layer("llama3.2-1b", 1);
    LlmcGraph *g = x.g;
    LlmcCudaGen *cg = NULL;
    ck_assert_msg(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK, "%s", d.msg);
    for (int rows = 2; rows <= 256; rows *= 2) {
        char *p = llmc_cuda_row_path(cg, rows, 1, 0, &d);
        ck_assert_msg(p, "%s", d.msg);
        ck_assert_msg(strstr(p, "_paged_attention_tc)") && !strstr(p, "_flash_attention)"), "%d rows:\n%s", rows, p);
        free(p);
    }
    LlmcBuildInfo info = {.build_info = "l1b", .model_hash = 0x1234, .target_names = "sm_90a"};
    char *host = NULL;
    ck_assert_msg(llmc_cuda_host_c(g, cg, NULL, 0, &info, &host, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(strstr(host, "    if (T > 1 && (T <= 64 || S > 1))\n        llmc_gpu_launch(gpu, ") &&
                      strstr(host, ", T, 8, (T > 64 ? 1 : 16), 128, 0, "),
                  "paged_attn_tc's launch");
    ck_assert_msg(strstr(host, "    if (T > 64 && T >= S + 4)\n        llmc_gpu_launch(gpu, "), "flash attention's launch");
    const char *src = llmc_cuda_source(cg);
    ck_assert_msg(strstr(src, ", 528, 64, 4>(a.positions, "), "paged_attn_tc: fill 528, partials for 64 tokens, runs of 4");
    ck_assert_msg(strstr(src, "flash_prefill<FMT_F16, FMT_F16, 1, 16, 32, 8, 64, 2048, 2048, 0, 4>(a.positions, "),
                  "flash attention: runs of 4 left to paged_attn_tc");
    free(host);
    llmc_cuda_free(cg);
    /* --attn-parts 4: both decode kernels split a query's positions in at most 4 parts */
    const LlmcTarget *tg = llmc_target_find("sm_90a");
    const LlmcGpuGenOpts parts4 = {.qmma = LLMC_QMMA_AUTO, .attn_parts = 4};
    ck_assert_msg(llmc_gpu_generate(g, &tg, 1, &parts4, &cg, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(llmc_cuda_host_c(g, cg, NULL, 0, &info, &host, &d) == LLMC_OK, "%s", d.msg);
    ck_assert_msg(strstr(host, ", T, 8, (T > 64 ? 1 : 4), 128, 0, "), "paged_attn_tc's grid in 4 parts");
    ck_assert_msg(strstr(llmc_cuda_source(cg), "positions split in 4 parts"), "paged_attn_dec in 4 parts");
    free(host);
    llmc_cuda_free(cg);
    layer_free(&x);
}
END_TEST

/* w4a16 weights (groups of 32, zero points): the quantized matmuls' kernels (skinny, dequantization
 * for the tensor cores) and their launches in tiny_w4a16.cu. */
START_TEST(tiny_w4a16_golden)
{
    check_tiny(&(Weights){LLMC_U4, 32, 1}, "tiny_w4a16.cu", "dequant_half<FMT_U4 | WITH_ZERO, ", "tiny.json in w4a16");
}
END_TEST

/* A Llama config with the shapes gemm_q takes (hidden 256, ffn 512), in w4a16 (groups of 128): the
 * batched-decode steps (9..64 rows) convert the rows once (pair-32 order) and run gemm_q in its
 * three row variants, no dequantization below 65 rows; tests/golden/qmma_w4a16.cu. Then the plan:
 * what gemm_q takes and what it leaves to the older path (fp8 with groups, rows not in lane8
 * order, K not whole chunks, f32), and its blocks at the 8B's shapes on the sm_90 targets. */
static cJSON *small_llama(int hidden, int ffn)
{
    cJSON *cfg = llmc_synth_preset_config("stories260K");
    ck_assert_ptr_nonnull(cfg);
    cJSON_ReplaceItemInObject(cfg, "hidden_size", cJSON_CreateNumber(hidden));
    cJSON_ReplaceItemInObject(cfg, "intermediate_size", cJSON_CreateNumber(ffn));
    cJSON_ReplaceItemInObject(cfg, "num_hidden_layers", cJSON_CreateNumber(1));
    cJSON_ReplaceItemInObject(cfg, "head_dim", cJSON_CreateNumber(hidden / 8)); /* 8 heads, 4 KV heads */
    return cfg;
}
START_TEST(qmma_golden)
{
    LlmcDiag d;
    cJSON *cfg = small_llama(256, 512), *doc = NULL;
    ck_assert_msg(llmc_hf_config_model(cfg, "small", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    LlmcGraph *g = graph_of_w(doc, ".", &(Weights){LLMC_U4, 0, 0});
    LlmcCudaGen *cg = NULL;
    ck_assert(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK);
    const char *src = strstr(llmc_cuda_source(cg), "/* ---- kernels ---- */");
    ck_assert_ptr_nonnull(src);
    ck_assert_msg(strstr(src, "gemm_q<FMT_U4, 256, "), "no gemm_q for the u4 matrices");
    ck_assert_msg(strstr(src, "rows_to_half<0, 1, 256, 256, 1>"), "no normalized pair-32 conversion");
    for (int mi = 1; mi <= 4; mi *= 2) {
        char want[64];
        snprintf(want, sizeof want, "gemm_q<FMT_U4, 256, 512, 128, %d, ", mi); /* the merged Q/K/V */
        ck_assert_msg(strstr(src, want), "no %d-row gemm_q variant of Q/K/V", 16 * mi);
    }
    check_golden(src, LLMC_SOURCE_DIR "/tests/golden/qmma_w4a16.cu", "a small Llama in w4a16");
    LlmcNvrtc *nv = open_nvrtc();
    if (nv)
        compile_archs(nv, g, "a small Llama in w4a16", ARCHS_ENDS);
    llmc_nvrtc_close(nv);
    llmc_cuda_free(cg);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}
END_TEST

/* --qmma wg: the same small Llama's quantized matrices above 8 rows by gemm_wq in the sm_90a image
 * (the weights the wgmma A operand, decoded in registers; experimental), the rows converted in its
 * order, tests/golden/qmma_wg_w4a16.cu; forward() takes them only where wg (the other paths
 * where !wg); the plain build unchanged (its golden above). Every format gemm_wq takes (u4 with and
 * without zero points, in groups of 32 and 128, fp8, nvfp4: the gated SwiGLU and residual
 * epilogues of each, split and not) compiles without spills for sm_90a, the u4 build for sm_80 too
 * (gemm_wq a trap there, the fallbacks around it). bf16 takes no gemm_wq. */
/* The default, --qmma auto: gemm_wq takes a 4-bit matrix above 32 rows in sm_90a images (gemm_q
 * keeps 9-32 rows there, and 9-64 elsewhere), fp8 and bf16 never; the kernels are --qmma wg's
 * (their NVRTC compiles: qmma_wg_golden), forward()'s conditions differ. */
START_TEST(qmma_auto_rows)
{
    LlmcDiag d;
    cJSON *cfg = small_llama(256, 512), *doc = NULL;
    ck_assert_msg(llmc_hf_config_model(cfg, "small", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    static const Weights ws[] = {{LLMC_U4, 0, 0}, {LLMC_NVFP4, 0, 0}, {LLMC_FP8, 0, 0}, {LLMC_BF16, 0, 0}};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        LlmcGraph *g = graph_of_w(doc, ".", &ws[i]);
        const LlmcTarget *tune = llmc_target_find("sm_90a");
        for (int binv = 0; binv < 2; binv++) {
            LlmcCudaGen *cg = NULL;
            ck_assert(llmc_gpu_generate(g, &tune, 1, &(LlmcGpuGenOpts){LLMC_QMMA_AUTO, binv, 0, LLMC_WGMMA_CP, 0, 0},
                                        &cg, &d) == LLMC_OK);
            const char *src = strstr(llmc_cuda_source(cg), "/* ---- kernels ---- */");
            ck_assert_ptr_nonnull(src);
            LlmcBuildInfo info = {.build_info = "small", .model_hash = 0x1234, .target_names = "sm_90a"};
            char *host = NULL;
            ck_assert_msg(llmc_cuda_host_c(g, cg, NULL, 0, &info, &host, &d) == LLMC_OK, "%s", d.msg);
            int wq = i < 2 && !binv;
            ck_assert_msg(!strstr(src, "gemm_wq<FMT_") == !wq, "%s%s: gemm_wq %s", llmc_dtype_name(ws[i].fmt),
                          binv ? " --batch-invariant" : "", wq ? "missing" : "emitted");
            if (wq) {
                ck_assert_msg(strstr(host, "T > 32 && T <= 64 && wg)") && strstr(host, "T > 64 && wg)") &&
                                  !strstr(host, "T > 8 && T <= 16 && wg)") &&
                                  strstr(host, "T > 8 && T <= 16 && !(wg && T > 32))") &&
                                  strstr(host, "T > 32 && T <= 64 && !(wg && T > 32))"),
                              "%s: forward()'s choice by rows and image", llmc_dtype_name(ws[i].fmt));
                ck_assert_msg(!strstr(src, "gemm_wq<FMT_U4, 256, 512, 128, 16, ") &&
                                  !strstr(src, "gemm_wq<FMT_U4, 256, 512, 128, 32, "),
                              "a 16- or 32-row gemm_wq variant under --qmma auto");
            }
            free(host);
            llmc_cuda_free(cg);
        }
        llmc_graph_free(g);
    }
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}
END_TEST

START_TEST(qmma_wg_golden)
{
    LlmcDiag d;
    cJSON *cfg = small_llama(256, 512), *doc = NULL;
    ck_assert_msg(llmc_hf_config_model(cfg, "small", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    static const Weights ws[] = {{LLMC_U4, 0, 0}, {LLMC_U4, 32, 1}, {LLMC_FP8, 0, 0}, {LLMC_NVFP4, 0, 0}, {LLMC_BF16, 0, 0}};
    static const char *const fmt[] = {"FMT_U4, ", "FMT_U4 | WITH_ZERO, ", "FMT_FP8, ", "FMT_NVFP4, ", NULL};
    static const int sets[] = {ARCHS_ENDS, ARCHS_90A, ARCHS_90A, ARCHS_90A, -1};
    LlmcNvrtc *nv = open_nvrtc();
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        LlmcGraph *g = graph_of_w(doc, ".", &ws[i]);
        LlmcCudaGen *cg = NULL;
        const LlmcTarget *tune = llmc_target_find("sm_90a");
        ck_assert(llmc_gpu_generate(g, &tune, 1, &(LlmcGpuGenOpts){LLMC_QMMA_WG, 0, 0, LLMC_WGMMA_CP, 0, 0},
                                    &cg, &d) == LLMC_OK);
        const char *src = strstr(llmc_cuda_source(cg), "/* ---- kernels ---- */");
        ck_assert_ptr_nonnull(src);
        char want[80], what[96];
        snprintf(what, sizeof what, "a small Llama in %s%s --qmma wg", llmc_dtype_name(ws[i].fmt),
                 ws[i].asym ? " asym g32" : "");
        if (!fmt[i]) {
            ck_assert_msg(!strstr(src, "gemm_wq<"), "%s: a gemm_wq kernel", what);
        } else {
            snprintf(want, sizeof want, "gemm_wq<%s", fmt[i]);
            ck_assert_msg(strstr(src, want), "%s: no gemm_wq", what);
            snprintf(want, sizeof want, "rows_to_half<0, 1, 256, 256, %d>", ws[i].fmt == LLMC_FP8 ? 2 : 3);
            ck_assert_msg(strstr(src, want), "%s: no normalized conversion in gemm_wq's order", what);
        }
        if (i == 0) {
            for (int nt = 16; nt <= 128; nt *= 2) { /* the merged Q/K/V: a variant a token tile */
                snprintf(want, sizeof want, "gemm_wq<FMT_U4, 256, 512, 128, %d, ", nt);
                ck_assert_msg(strstr(src, want), "no %d-row gemm_wq variant of Q/K/V", nt);
            }
            /* forward(): gemm_wq where the image has wgmma, gemm_q and the dequantization elsewhere */
            LlmcBuildInfo info = {.build_info = "small --qmma wg", .model_hash = 0x1234, .target_names = "sm_90a"};
            char *host = NULL;
            ck_assert_msg(llmc_cuda_host_c(g, cg, NULL, 0, &info, &host, &d) == LLMC_OK, "%s", d.msg);
            ck_assert_msg(strstr(host, "T > 8 && T <= 16 && wg)") && strstr(host, "T > 64 && wg)") && strstr(host, "T > 8 && T <= 64 && !wg)") &&
                              strstr(host, "T > 64 && !wg)"),
                          "%s: forward()'s choice by the image", what);
            free(host);
            check_golden(src, LLMC_SOURCE_DIR "/tests/golden/qmma_wg_w4a16.cu", what);
        }
        if (nv && sets[i] >= 0)
            compile_archs_q(nv, g, what, sets[i], LLMC_QMMA_WG);
        llmc_cuda_free(cg);
        llmc_graph_free(g);
    }
    llmc_nvrtc_close(nv);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}
END_TEST

/* nvfp4 on CUDA (a small Llama: seconds, not the 1B's minutes): every matrix but the bf16 lm_head
 * and embedding in lane8 order with its E4M3 scales and tensor scale; one-row, skinny and
 * tensor-core kernels and the dequantization of wide steps for it; no spills on sm_80 and sm_90a. */
START_TEST(nvfp4_small)
{
    LlmcDiag d;
    cJSON *cfg = small_llama(256, 512), *doc = NULL;
    ck_assert_msg(llmc_hf_config_model(cfg, "small", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    LlmcGraph *g = graph_of_w(doc, ".", &(Weights){LLMC_NVFP4, 0, 0});
    int lane8 = 0;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].dtype == LLMC_NVFP4) {
            ck_assert_msg(g->t[i].layout.order == LLMC_ORDER_LANE8 && g->t[i].layout.group == 16, "%s", g->t[i].name);
            lane8++;
        }
    ck_assert_int_ge(lane8, 4); /* qkv, o, gate/up, down */
    LlmcCudaGen *cg = NULL;
    ck_assert(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK);
    const char *src = strstr(llmc_cuda_source(cg), "/* ---- kernels ---- */");
    ck_assert_ptr_nonnull(src);
    static const char *const want[] = {"gemm_q<FMT_NVFP4, 256, ", "gemv_b1<FMT_NVFP4, ", "gemv<FMT_NVFP4, ",
                                       "dequant_half<FMT_NVFP4, "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(src, want[i]), "no %s in the nvfp4 build", want[i]);
    llmc_cuda_free(cg);
    LlmcNvrtc *nv = open_nvrtc();
    if (nv)
        compile_archs(nv, g, "a small Llama in nvfp4", ARCHS_ENDS);
    llmc_nvrtc_close(nv);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}
END_TEST

/* gemm_q's plan for the matrices of graphs in several formats: which it takes, its blocks. */
static const LlmcTensor *weight_named(const LlmcGraph *g, const char *name)
{
    for (int i = 0; i < g->nt; i++)
        if (strcmp(g->t[i].name, name) == 0)
            return &g->t[i];
    ck_abort_msg("no tensor %s", name);
    return NULL;
}
START_TEST(qmma_plan)
{
    LlmcDiag d;
    const LlmcTarget *tg = llmc_target_find("sm_90a");
    struct {
        int hidden, ffn;
        Weights w;
        int ok;
    } cases[] = {
        {256, 512, {LLMC_U4, 0, 0}, 1},  {256, 512, {LLMC_U4, 32, 1}, 1}, {256, 512, {LLMC_FP8, 0, 0}, 1},
        {256, 512, {LLMC_BF16, 0, 0}, 1}, {256, 512, {LLMC_FP8, 128, 0}, 0}, /* fp8 with groups */
        {288, 768, {LLMC_U4, 0, 0}, 0},   /* K 288: not whole lane8 tiles (row-major u4) */
        {384, 768, {LLMC_BF16, 0, 0}, 1}, {320, 768, {LLMC_BF16, 0, 0}, 0}, /* K 320: not whole chunks */
        {256, 512, {LLMC_F32, 0, 0}, 0},
        {256, 512, {LLMC_NVFP4, 0, 0}, 1}, {256, 512, {LLMC_U4, 16, 0}, 1}, /* groups of 16: lane8, a chunk a group */
        {288, 768, {LLMC_NVFP4, 0, 0}, 0}, /* K 288: row-major */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *cfg = small_llama(cases[i].hidden, cases[i].ffn), *doc = NULL;
        ck_assert_msg(llmc_hf_config_model(cfg, "small", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
        LlmcGraph *g = graph_of_w(doc, ".", &cases[i].w);
        const LlmcTensor *w = weight_named(g, "layers.0.wo");
        for (int mi = 1; mi <= 4; mi *= 2) {
            LlmcQmmaPlan p = llmc_cuda_qmma_plan(tg, w, 0, mi, 0);
            ck_assert_msg(p.ok == cases[i].ok, "case %zu (%s, hidden %d, %d rows): ok %d", i,
                          llmc_dtype_name(w->dtype), cases[i].hidden, 16 * mi, p.ok);
            if (p.ok) {
                int64_t units = w->shape.dim[0] / p.tpb * (w->shape.dim[1] / p.kc);
                ck_assert(p.blocks >= 1 && p.blocks <= 132 * p.per_sm && p.blocks <= units);
                ck_assert(p.smem <= (uint32_t)tg->smem_per_block);
                /* --qmma-units: only the block count changes, to units / N blocks up to the resident ones */
                for (int mu = 1; mu <= 16; mu *= 2) {
                    LlmcQmmaPlan u = llmc_cuda_qmma_plan(tg, w, 0, mi, mu);
                    int64_t want = units / mu < 132 * p.per_sm ? (units / mu > 0 ? units / mu : 1) : 132 * p.per_sm;
                    ck_assert_msg(u.blocks == want && u.smem == p.smem && u.tpb == p.tpb && u.per_sm == p.per_sm &&
                                      u.part_floats == p.part_floats,
                                  "case %zu, --qmma-units %d: %d blocks of %lld units, want %lld", i, mu, u.blocks,
                                  (long long)units, (long long)want);
                }
            }
            /* gemm_wq's (--qmma wg): what gemm_q takes but the 16-bit formats; not on sm_80 */
            for (int v = 0; v < LLMC_WQ_VARIANTS && mi == 1; v++) {
                LlmcWqPlan q = llmc_cuda_wq_plan(tg, w, v);
                int want = cases[i].ok && w->dtype != LLMC_BF16;
                ck_assert_msg(q.ok == want, "case %zu (%s): gemm_wq variant %d ok %d", i, llmc_dtype_name(w->dtype), v, q.ok);
                if (q.ok) {
                    ck_assert(q.nt % 8 == 0 && q.nt <= 256 && q.st >= 3 && q.split >= 1 && q.split <= 8);
                    ck_assert(q.smem <= (uint32_t)tg->smem_per_block && q.per_sm * (q.smem + 1024) <= (uint32_t)tg->smem_per_sm);
                    ck_assert(q.word == (w->dtype == LLMC_FP8 ? 2 : 3) && (v < 4 ? q.hi == q.nt : q.hi == 0));
                }
                ck_assert(!llmc_cuda_wq_plan(llmc_target_find("sm_80"), w, v).ok);
            }
        }
        llmc_graph_free(g);
        cJSON_Delete(doc);
        cJSON_Delete(cfg);
    }
}
END_TEST

/* gemm_wq's K splits for the 8B's matrices in u4 g128 on an H100 (132 SMs), as bench/kernel_check.cu's
 * wq timings launch them (time_wq): enough blocks for the plan's blocks an SM at the variant's first
 * row tile, at least 2 chunks a split; none for the widest matrix, none above 128 rows. */
START_TEST(wq_plan_8b)
{
    const LlmcTarget *tg = llmc_target_find("sm_90a");
    static const struct {
        int64_t n, k;
        int split16, split64, split128;
    } m[] = {{6144, 4096, 8, 4, 4}, {4096, 4096, 8, 8, 8}, {28672, 4096, 1, 1, 1}, {4096, 14336, 8, 8, 8}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        LlmcTensor w = {.name = "w", .dtype = LLMC_U4};
        w.shape.rank = 2;
        w.shape.dim[0] = m[i].n;
        w.shape.dim[1] = m[i].k;
        w.layout.group = 128;
        w.layout.order = LLMC_ORDER_LANE8;
        for (int s = 0; s < LLMC_MAX_SIDES; s++)
            w.layout.side[s] = s == 0 ? 1 : -1; /* scales, no zero points */
        LlmcWqPlan p16 = llmc_cuda_wq_plan(tg, &w, 0), p64 = llmc_cuda_wq_plan(tg, &w, 2),
                   p128 = llmc_cuda_wq_plan(tg, &w, 3), pw = llmc_cuda_wq_plan(tg, &w, 4);
        ck_assert(p16.ok && p64.ok && p128.ok && pw.ok);
        ck_assert_msg(p16.split == m[i].split16 && p64.split == m[i].split64 && p128.split == m[i].split128 && pw.split == 1,
                      "%lldx%lld: splits %d %d %d %d", (long long)m[i].n, (long long)m[i].k, p16.split, p64.split,
                      p128.split, pw.split);
        ck_assert(p16.per_sm == 3 && p64.per_sm == 2 && p16.nt == 16 && p64.nt == 64 && pw.nt == 128 && pw.st == 3);
        ck_assert(p16.pd == 2 && p64.pd == 1 && pw.pd == 1);
    }
}
END_TEST

/* The kernel headers a source of hand-written instances includes (as model.cu does, but every one:
 * the .def tables, the AMD port and the device math come through the others). */
static void include_kernel_headers(LlmcBuf *src, const LlmcNvrtcHeaders *hdr)
{
    for (int i = 0; i < hdr->n; i++)
        if (!strstr(hdr->names[i], ".def") && strcmp(hdr->names[i], "gpu_port_amd.cuh") != 0 &&
            strcmp(hdr->names[i], "gpu_math.h") != 0)
            llmc_buf_printf(src, "#include \"%s\"\n", hdr->names[i]);
}

/* The host C's kernels named with `tag` (e.g. "_gemm_wt") carry every bit of `mask` in kernel_flags[]
 * (LLMC_GPU_KERNEL_PDL 1, LLMC_GPU_KERNEL_WGMMA_ONLY 4); with `only`, no other kernel carries any of
 * them. Returns how many kernels the tag names. */
static int check_kernel_flags(const char *host, const char *tag, int mask, int only)
{
    const char *kn = strstr(host, "static const char *const kernels[] = {\n"),
               *kf = strstr(host, "static const uint8_t kernel_flags[] = {\n");
    ck_assert(kn && kf);
    kn = strchr(kn, '\n') + 1;
    kf = strchr(kf, '\n') + 1;
    int n = 0;
    for (; strncmp(kn, "    \"", 5) == 0; kn = strchr(kn, '\n') + 1, kf = strchr(kf, '\n') + 1) {
        const char *eol = strchr(kn, '\n'), *at = strstr(kn, tag);
        int tagged = at && at < eol, f = atoi(kf + 4);
        n += tagged;
        if (tagged)
            ck_assert_msg((f & mask) == mask, "kernel %.*s: flags %d", (int)(eol - kn), kn, f);
        else if (only)
            ck_assert_msg((f & mask) == 0, "kernel %.*s: flags %d", (int)(eol - kn), kn, f);
    }
    return n;
}

/* gemm_wt (codegen/cuda_wgmma_tma.cuh: TMA-fed, warp-specialized wgmma). Its plan
 * (llmc_cuda_wt_tile) for the 8B's and the 1B's matrices at 512 and 4096 rows on an H100 (132 SMs),
 * pinned: bench/kernel_check.cu's wt timings instantiate these tiles (wt_bn, wt_split, wt_st there).
 * The kernel as those timings instantiate it (bf16), and in f16, GeGLU and with K split in both
 * tiles, through NVRTC for sm_90a: no spills, no stack, 168 registers (__launch_bounds__(384, 1);
 * setmaxnreg moves them between the warpgroups at run time), each instance's report printed; and
 * for sm_80, where the bodies are a trap. (Its maps here are kernel parameters, as kernel_check
 * passes them; the compiler's kernels read them from consts: wt_golden.) */
START_TEST(wt_kernels)
{
    const LlmcTarget *tg = llmc_target_find("sm_90a");
    static const struct {
        const char *what;
        int64_t n, k, rows;
        int epi, bn, split, stages;
    } m[] = {
        {"8B qkv", 6144, 4096, 512, 0, 128, 1, 7},      {"8B o", 4096, 4096, 512, 1, 128, 1, 7},
        {"8B gate/up", 28672, 4096, 512, 2, 256, 1, 4}, {"8B down", 4096, 14336, 512, 1, 128, 1, 7},
        {"1B qkv", 3072, 2048, 512, 0, 128, 1, 7},      {"1B o", 2048, 2048, 512, 1, 128, 2, 7},
        {"1B gate/up", 16384, 2048, 512, 2, 256, 1, 4}, {"1B down", 2048, 8192, 512, 1, 128, 2, 7},
        {"8B qkv", 6144, 4096, 4096, 0, 256, 1, 4},     {"8B o", 4096, 4096, 4096, 1, 256, 1, 4},
        {"8B gate/up", 28672, 4096, 4096, 2, 256, 1, 4}, {"8B down", 4096, 14336, 4096, 1, 256, 1, 4},
        {"1B qkv", 3072, 2048, 4096, 0, 256, 1, 4},     {"1B o", 2048, 2048, 4096, 1, 256, 1, 4},
        {"1B gate/up", 16384, 2048, 4096, 2, 256, 1, 4}, {"1B down", 2048, 8192, 4096, 1, 256, 1, 4},
    };
    LlmcBuf src = {0};
    const LlmcNvrtcHeaders hdr = llmc_cuda_header_table(); /* cuda_wgmma_tma.cuh among them */
    include_kernel_headers(&src, &hdr);
    char inst[40][160];
    int ni = 0;
    /* the timed instances (bf16), then f16, GeGLU, and the K split in both tiles and gated */
    for (size_t i = 0; i < sizeof m / sizeof m[0] + 4; i++) {
        int bf = 1, epi, bn, split, st;
        int64_t n, k;
        if (i < sizeof m / sizeof m[0]) {
            LlmcWideTile t = llmc_cuda_wt_tile(tg, m[i].n, m[i].k, m[i].rows);
            ck_assert_msg(t.bm == 128 && t.bn == m[i].bn && t.split == m[i].split && t.stages == m[i].stages,
                          "%s at %lld rows: 128x%d split %d, %d stages", m[i].what, (long long)m[i].rows, t.bn, t.split,
                          t.stages);
            ck_assert_uint_eq(t.smem, (uint32_t)(t.stages * (128 + t.bn) * 128 + 1024 + 256));
            ck_assert_int_le((int64_t)t.smem, tg->smem_per_block);
            n = m[i].n, k = m[i].k, epi = m[i].epi, bn = t.bn, split = t.split, st = t.stages;
        } else {
            static const int extra[4][7] = {{0, 3072, 2048, 0, 128, 1, 7}, /* bf, n, k, epi, bn, split, st */
                                            {0, 16384, 2048, 4, 256, 1, 4},
                                            {1, 28672, 4096, 2, 256, 2, 4},
                                            {0, 4096, 14336, 1, 256, 2, 4}};
            const int *e = extra[i - sizeof m / sizeof m[0]];
            bf = e[0], n = e[1], k = e[2], epi = e[3], bn = e[4], split = e[5], st = e[6];
        }
        char call[160];
        snprintf(call, sizeof call, "gemm_wt<%d, %lld, %lld, %lld, %lld, %d, %d, %d, %d>", bf, (long long)k, (long long)n,
                 (long long)(epi == 2 || epi == 4 ? n / 2 : n), (long long)(epi == 1 ? n : 0), epi, split, bn, st);
        int seen = 0;
        for (int j = 0; j < ni && !seen; j++)
            seen = strcmp(inst[j], call) == 0;
        if (seen)
            continue;
        ck_assert_int_lt(ni, 40);
        snprintf(inst[ni], sizeof inst[ni], "%s", call);
        llmc_buf_printf(&src,
                        "extern \"C\" __global__ void __launch_bounds__(384, 1)\n"
                        "wt%d(const __grid_constant__ LlmcTmap tw, const __grid_constant__ LlmcTmap tx, const float *b, "
                        "float *y, int T, const float *res)\n{\n"
                        "#if defined(__CUDA_ARCH_FEAT_SM90_ALL)\n    %s(&tw, &tx, b, y, T, res);\n#else\n    __trap();\n#endif\n}\n",
                        ni, call);
        ni++;
    }
    LlmcDiag d;
    LlmcNvrtc *nv = open_nvrtc();
    for (int a = 0; nv && a < 2; a++) {
        const LlmcTarget *at = llmc_target_find(a ? "sm_80" : "sm_90a");
        LlmcCubin cb;
        ck_assert_msg(nvrtc_compile(nv, src.s, "gemm_wt", &hdr, at, &cb, &d) == LLMC_OK, "gemm_wt for %s: %s",
                      at->arch, d.msg);
        for (int j = 0; j < ni; j++) {
            char name[16];
            snprintf(name, sizeof name, "wt%d", j);
            const LlmcKernelRes *r = llmc_cubin_find(&cb, name);
            ck_assert_msg(r != NULL, "%s: no ptxas report for %s", at->arch, inst[j]);
            if (a == 0)
                fprintf(stderr, "gemm_wt sm_90a %-52s %3d registers, stack %d, spills %d/%d\n", inst[j], r->registers,
                        r->stack_frame, r->spill_stores, r->spill_loads);
            ck_assert_msg(r->spill_stores == 0 && r->spill_loads == 0 && r->stack_frame == 0,
                          "%s: %s spills (%d bytes stores, %d loads, stack %d, %d registers)", at->arch, inst[j],
                          r->spill_stores, r->spill_loads, r->stack_frame, r->registers);
            ck_assert_msg(a || r->registers == 168, "%s: %d registers, not the 168 setmaxnreg's split assumes", inst[j],
                          r->registers);
        }
        llmc_cubin_free(&cb);
    }
    if (nv)
        llmc_nvrtc_close(nv);
    llmc_buf_free(&src);
}
END_TEST

/* llmc compile --wgmma tma: a small Llama (hidden 256, FFN 1024, bf16) whose every matmul takes
 * gemm_wt in sm_90a images (the down matrix with K split in 2 and gemm_reduce), its kernels equal to
 * tests/golden/wt_small.cu, through NVRTC for sm_80 (a trap) and sm_90a (no spills, no stack, 168
 * registers); the host C's table of TMA maps: a pair a gemm_wt launch (the matrix its node names,
 * at its offset and shape, boxes of 64 x bn/2; scratch A over the build's largest step, boxes of
 * 64 x 128) at the consts offset the launch passes, inside the constant tables; forward() launches
 * gemm_wt only where wg. The default build (--wgmma cp) and an sm_80-only build have no gemm_wt, no
 * maps and no include of its header; with q/k/v biases the Q/K/V matmul keeps gemm_wg (no launch
 * offset left). The default, --wgmma auto, emits what tma does (cp under --batch-invariant). */
START_TEST(wt_golden)
{
    LlmcDiag d;
    cJSON *cfg = small_llama(256, 1024), *doc = NULL;
    ck_assert_msg(llmc_hf_config_model(cfg, "small", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    LlmcGraph *g = graph_of(doc, ".");
    const LlmcTarget *tune = llmc_target_find("sm_90a"), *old = llmc_target_find("sm_80");
    for (int v = 0; v < 3; v++) { /* cp, tma, tma without an sm_90a image */
        LlmcCudaGen *cg = NULL;
        const LlmcGpuGenOpts o = {LLMC_QMMA_PLAIN, 0, 0, v ? LLMC_WGMMA_TMA : LLMC_WGMMA_CP, 0, 0};
        ck_assert(llmc_gpu_generate(g, v == 2 ? &old : &tune, 1, &o, &cg, &d) == LLMC_OK);
        const char *all = llmc_cuda_source(cg), *src = strstr(all, "/* ---- kernels ---- */");
        ck_assert_ptr_nonnull(src);
        char *host = NULL, *body = host_forward(g, cg, "small --wgmma tma", &host);
        if (v != 1) {
            ck_assert_msg(!strstr(src, "gemm_wt") && !strstr(all, "cuda_wgmma_tma.cuh") && !strstr(host, "tmaps[]") &&
                              !strstr(host, ".gpu_tmaps = "),
                          "gemm_wt or its maps in a build %s", v ? "without sm_90a" : "without --wgmma tma");
            ck_assert_msg(v == 2 || strstr(src, "gemm_wg<"), "no gemm_wg in the default build");
            free(body);
            free(host);
            llmc_cuda_free(cg);
            continue;
        }
        ck_assert_msg(strstr(all, "#define LLMC_WT_SPIN_LIMIT (1 << 26)\n#include \"cuda_wgmma_tma.cuh\""),
                      "model.cu does not include gemm_wt's header after its spin limit");
        ck_assert_msg(!strstr(src, "gemm_wg<"), "a gemm_wg kernel left where gemm_wt takes every matrix");
        ck_assert_msg(strstr(src, "gemm_wt<1, 256, 2048, 1024, 0, 2, 1, "), "no gated gemm_wt (gate/up)");
        ck_assert_msg(strstr(src, "gemm_wt<1, 1024, 256, 0, 0, 1, 2, 128, "), "no gemm_wt with K split in 2 (down)");
        ck_assert_msg(strstr(src, "gemm_reduce<256, 256, 256, 2, 1>"), "no reduce of the split down matrix");
        check_golden(src, LLMC_SOURCE_DIR "/tests/golden/wt_small.cu", "a small Llama --wgmma tma");
        /* the table */
        const char *tab = strstr(host, "static const LlmcGpuTmap tmaps[] = {\n"), *cb = strstr(host, ".const_bytes = ");
        ck_assert_ptr_nonnull(tab);
        ck_assert_ptr_nonnull(cb);
        long long const_bytes = atoll(cb + strlen(".const_bytes = ")), scratch = -1, ats[64];
        int n = 0;
        int64_t rows_max = g->max_tokens > g->max_outputs ? g->max_tokens : g->max_outputs;
        for (const char *p = strchr(tab, '\n') + 1; strncmp(p, "    {\"", 6) == 0; p = strchr(p, '\n') + 1, n++) {
            char name[256], space[32], dt[32];
            long long off, rows, cols, rb, at;
            int br, bc;
            ck_assert_int_eq(sscanf(p, "    {\"%255[^\"]\", %31[A-Z_0-9], %31[A-Z_0-9], %lld, %lld, %lld, %lld, %d, %d, %lld},",
                                    name, space, dt, &off, &rows, &cols, &rb, &br, &bc, &at),
                             10);
            ck_assert_int_lt(n, 64);
            ats[n] = at;
            ck_assert_str_eq(dt, "LLMC_TMAP_BF16");
            ck_assert_msg(at % 128 == 0 && at + 128 <= const_bytes, "map %d at %lld of %lld bytes of consts", n, at,
                          const_bytes);
            ck_assert_int_eq(bc, 64);
            ck_assert_int_eq(rb, 2 * cols);
            if (n % 2 == 0) { /* the weights' */
                ck_assert_str_eq(space, "LLMC_TMAP_WEIGHTS");
                int t = 0;
                while (t < g->nt && strcmp(g->t[t].name, name) != 0)
                    t++;
                ck_assert_msg(t < g->nt && g->t[t].kind == LLMC_T_WEIGHT, "map %d: no weight %s", n, name);
                ck_assert_int_eq(off, g->t[t].offset);
                ck_assert_int_eq(rows, g->t[t].shape.dim[0]);
                ck_assert_int_eq(cols, g->t[t].shape.dim[1]);
                ck_assert_msg(br == 64 || br == 128, "map of %s: boxes of %d rows", name, br);
                /* the launch that passes it names its matrix */
                char tail[64];
                snprintf(tail, sizeof tail, ", %lld}}); /* k", at);
                const char *l = strstr(body, tail);
                ck_assert_msg(l && strstr(l, "_gemm_wt"), "no gemm_wt launch passes the map of %s", name);
                while (l > body && l[-1] != '\n')
                    l--;
                const char *c = l - 1;
                while (c > body && c[-1] != '\n')
                    c--;
                const char *wgc = strstr(c, " && wg)\n");
                ck_assert_msg(strncmp(c, "    if (", 8) == 0 && wgc && wgc < l,
                              "gemm_wt launched without the image's wgmma: %.*s", (int)(l - c), c);
                const char *com = c - 1;
                while (com > body && com[-1] != '\n')
                    com--;
                char at_name[300];
                snprintf(at_name, sizeof at_name, "@%s", name);
                ck_assert_msg(strncmp(com, "    /* node ", 12) == 0 && strstr(com, at_name) && strstr(com, at_name) < c,
                              "the launch passing the map of %s is another matrix's: %.*s", name, (int)(l - com), com);
            } else { /* the activations': scratch A, one place for all */
                ck_assert_str_eq(space, "LLMC_TMAP_ARENA");
                ck_assert_msg(scratch < 0 || off == scratch, "activation maps at %lld and %lld", scratch, off);
                scratch = off;
                ck_assert_int_ge(off, g->arena_bytes);
                ck_assert_int_eq(rows, rows_max);
                ck_assert_int_eq(br, 128);
                ck_assert_int_eq(at, ats[n - 1] + 128);
            }
        }
        ck_assert_int_eq(n, 2 * 5); /* Q/K/V, o, gate/up, down and the lm_head: a pair each */
        /* gemm_wt's kernels flagged LLMC_GPU_KERNEL_WGMMA_ONLY (their shared memory asked for only
         * from wgmma images), no other kernel */
        ck_assert_int_eq(check_kernel_flags(host, "_gemm_wt", 4, 1), 5);
        char want[64];
        snprintf(want, sizeof want, "    .gpu_tmaps = tmaps,\n    .n_gpu_tmaps = %d,\n", n);
        ck_assert_msg(strstr(host, want), "the descriptor does not point at the %d maps", n);
        free(body);
        free(host);
        LlmcNvrtc *nv = open_nvrtc();
        if (nv)
            compile_archs_w(nv, g, "a small Llama --wgmma tma", ARCHS_ENDS, LLMC_QMMA_PLAIN, 0, LLMC_WGMMA_TMA);
        llmc_nvrtc_close(nv);
        llmc_cuda_free(cg);
    }
    /* the default, --wgmma auto: the same source and host C as tma; with --batch-invariant (no
     * tensor-core kernel) neither gemm_wt nor its header */
    for (int binv = 0; binv < 2; binv++) {
        LlmcCudaGen *ca = NULL, *ct = NULL;
        const LlmcGpuGenOpts oa = {LLMC_QMMA_PLAIN, binv, 0, LLMC_WGMMA_AUTO, 0, 0};
        const LlmcGpuGenOpts ot = {LLMC_QMMA_PLAIN, binv, 0, binv ? LLMC_WGMMA_CP : LLMC_WGMMA_TMA, 0, 0};
        ck_assert(llmc_gpu_generate(g, &tune, 1, &oa, &ca, &d) == LLMC_OK);
        ck_assert(llmc_gpu_generate(g, &tune, 1, &ot, &ct, &d) == LLMC_OK);
        ck_assert_msg(strcmp(llmc_cuda_source(ca), llmc_cuda_source(ct)) == 0, "--wgmma auto%s is not %s", binv ? " (binv)" : "",
                      binv ? "cp" : "tma");
        ck_assert_msg(binv ? !strstr(llmc_cuda_source(ca), "cuda_wgmma_tma.cuh") : !!strstr(llmc_cuda_source(ca), "gemm_wt<"),
                      "--wgmma auto%s", binv ? " with --batch-invariant includes gemm_wt" : " has no gemm_wt");
        char *ha = NULL, *ht = NULL, *ba = host_forward(g, ca, "small", &ha), *bt = host_forward(g, ct, "small", &ht);
        ck_assert_msg(strcmp(ha, ht) == 0, "--wgmma auto's host C is not tma's");
        free(ba);
        free(bt);
        free(ha);
        free(ht);
        llmc_cuda_free(ca);
        llmc_cuda_free(ct);
    }
    llmc_graph_free(g);
    cJSON_Delete(doc);
    /* q/k/v biases: the merged Q/K/V matmul (bias, norm, the RoPE epilogue's two) has no launch offset
     * left for the maps and keeps gemm_wg; the others take gemm_wt */
    cJSON_DeleteItemFromObject(cfg, "attention_bias");
    cJSON_AddBoolToObject(cfg, "attention_bias", 1);
    ck_assert_msg(llmc_hf_config_model(cfg, "small", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    g = graph_of(doc, ".");
    LlmcCudaGen *cg = NULL;
    ck_assert(llmc_gpu_generate(g, &tune, 1, &(LlmcGpuGenOpts){LLMC_QMMA_PLAIN, 0, 0, LLMC_WGMMA_TMA, 0, 0},
                                &cg, &d) == LLMC_OK);
    const char *src = llmc_cuda_source(cg);
    ck_assert_msg(strstr(src, "gemm_wg<1, 256, 512, 256, 512, "), "the biased Q/K/V matmul is not on gemm_wg");
    ck_assert_msg(!strstr(src, "gemm_wt<1, 256, 512, 512, 0, 0, 1, 128, 7>(tw, tx, (const float *)0, ((float *)(a.arena"),
                  "the biased Q/K/V matmul on gemm_wt"); /* (the lm_head, [512,256] too, writes the logits) */
    ck_assert_msg(strstr(src, "gemm_wt<1, 256, 256, 256, 256, 1, 1, 128, 7>(tw, tx, ((const float *)(a.weights"),
                  "the biased o matmul (the residual epilogue) not on gemm_wt with its bias");
    ck_assert_msg(strstr(src, "gemm_wt<1, 256, 2048, 1024, 0, 2, 1, "), "gate/up not on gemm_wt");
    llmc_cuda_free(cg);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}
END_TEST

/* gemm_ws (codegen/cuda_wgmma_tma.cuh: the batched-decode matmul of bf16/f16 weights fed by the TMA,
 * --decode-wgmma on). Its plan (llmc_cuda_ws_plan) for the 8B's and the 1B's matrices on an H100
 * (132 SMs), pinned: 8 stages of 128 weight rows and the token tile, one block an SM over every unit
 * (a tile's 64 of K) up to the SMs; bench/kernel_check.cu's ws timings instantiate these (ws_st
 * there). The kernel at those shapes (bf16, each token tile) and in f16, GeGLU, with a residual and
 * ragged N, through NVRTC for sm_90a: no spills, no stack, no wgmma wait injected by ptxas (its
 * accumulators are the wgmma's alone: a loop left with wgmma pending, or a copy of their registers
 * where paths meet, made ptxas wait for every group), each instance's report printed; and for sm_80,
 * where the bodies are a trap. Matrices it does not take: quantized, K not a multiple of 64, a
 * target without wgmma. */
START_TEST(ws_kernels)
{
    const LlmcTarget *tg = llmc_target_find("sm_90a");
    static const struct {
        const char *what;
        int64_t n, k;
        int epi;
        int64_t tiles;
    } m[] = {
        {"8B qkv", 6144, 4096, 0, 48}, {"8B o", 4096, 4096, 1, 32}, {"8B gate/up", 28672, 4096, 2, 224}, {"8B down", 4096, 14336, 1, 32},
        {"1B qkv", 3072, 2048, 0, 24}, {"1B o", 2048, 2048, 1, 16}, {"1B gate/up", 16384, 2048, 2, 128}, {"1B down", 2048, 8192, 1, 16},
    };
    LlmcBuf src = {0};
    const LlmcNvrtcHeaders hdr = llmc_cuda_header_table();
    include_kernel_headers(&src, &hdr);
    char inst[48][160];
    int ni = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0] + 4; i++) {
        int bf = 1, epi, nt, st;
        int64_t n, k;
        if (i < sizeof m / sizeof m[0]) {
            LlmcTensor w = {.dtype = LLMC_BF16, .shape = {.rank = 2, .dim = {m[i].n, m[i].k}}};
            for (int v = 0; v < LLMC_WS_VARIANTS; v++) {
                LlmcWsPlan p = llmc_cuda_ws_plan(tg, &w, m[i].epi == 2, v, 0);
                int64_t units = m[i].tiles * (m[i].k / 64);
                ck_assert_msg(p.ok && p.nt == 16 << v && p.st == 8 && p.tiles == m[i].tiles && p.units == units &&
                                  p.blocks == (units < 132 ? units : 132),
                              "%s v%d: ok %d, nt %d, %d stages, %lld tiles, %lld units, %d blocks", m[i].what, v, p.ok, p.nt,
                              p.st, (long long)p.tiles, (long long)p.units, p.blocks);
                ck_assert_uint_eq(p.smem, (uint32_t)(8 * (128 * 128 + p.nt * 128) + 1024 + 16 * 8));
                ck_assert_int_le((int64_t)p.smem, tg->smem_per_block);
                ck_assert_int_eq(p.part_floats, 2 * p.nt * 128);
            }
            n = m[i].n, k = m[i].k, epi = m[i].epi, nt = 16 << (i % 3), st = 8;
        } else {
            static const int extra[4][6] = {{0, 3072, 2048, 0, 32, 8}, /* bf, n, k, epi, nt, st */
                                            {0, 16384, 2048, 4, 64, 8},
                                            {1, 264, 1024, 1, 16, 3},
                                            {1, 200, 1024, 2, 64, 2}};
            const int *e = extra[i - sizeof m / sizeof m[0]];
            bf = e[0], n = e[1], k = e[2], epi = e[3], nt = e[4], st = e[5];
        }
        char call[160];
        snprintf(call, sizeof call, "gemm_ws<%d, %lld, %lld, %lld, %lld, %d, %d, %d, 1>", bf, (long long)k, (long long)n,
                 (long long)(epi == 2 || epi == 4 ? n / 2 : n), (long long)(epi == 1 ? n : 0), epi, nt, st);
        ck_assert_int_lt(ni, 48);
        snprintf(inst[ni], sizeof inst[ni], "%s", call);
        llmc_buf_printf(&src,
                        "extern \"C\" __global__ void __launch_bounds__(160, 1)\n"
                        "ws%d(const LlmcTmap *tw, const float *b, float *y, int T, const float *res, float *part, int *cnt)\n{\n"
                        "#if defined(__CUDA_ARCH_FEAT_SM90_ALL)\n    %s(tw, tw + 1, b, y, T, res, part, cnt);\n#else\n    __trap();\n#endif\n}\n",
                        ni, call);
        ni++;
    }
    /* what it does not take */
    LlmcTensor q = {.dtype = LLMC_U4, .shape = {.rank = 2, .dim = {2048, 2048}}}, odd = {.dtype = LLMC_BF16, .shape = {.rank = 2, .dim = {2048, 2080}}},
               ok = {.dtype = LLMC_F16, .shape = {.rank = 2, .dim = {2048, 2048}}};
    ck_assert(!llmc_cuda_ws_plan(tg, &q, 0, 0, 0).ok);
    ck_assert(!llmc_cuda_ws_plan(tg, &odd, 0, 0, 0).ok);
    ck_assert(llmc_cuda_ws_plan(tg, &ok, 0, 2, 0).ok && !llmc_cuda_ws_plan(tg, &ok, 0, 3, 0).ok);
    ck_assert(!llmc_cuda_ws_plan(llmc_target_find("sm_90"), &ok, 0, 0, 0).ok);
    ck_assert(!llmc_cuda_ws_plan(llmc_target_find("sm_80"), &ok, 0, 0, 0).ok);
    /* --qmma-units: at least that many units a block (the 1B's o: 16 tiles x 32 units) */
    ck_assert_int_eq(llmc_cuda_ws_plan(tg, &ok, 0, 0, 4).blocks, 128);
    ck_assert_int_eq(llmc_cuda_ws_plan(tg, &ok, 0, 0, 8).blocks, 64);
    ck_assert_int_eq(llmc_cuda_ws_plan(tg, &ok, 0, 0, 64).blocks, 8);
    LlmcDiag d;
    LlmcNvrtc *nv = open_nvrtc();
    for (int a = 0; nv && a < 2; a++) {
        const LlmcTarget *at = llmc_target_find(a ? "sm_80" : "sm_90a");
        LlmcCubin cb;
        ck_assert_msg(nvrtc_compile(nv, src.s, "gemm_ws", &hdr, at, &cb, &d) == LLMC_OK, "gemm_ws for %s: %s", at->arch,
                      d.msg);
        for (int j = 0; j < ni; j++) {
            char name[16];
            snprintf(name, sizeof name, "ws%d", j);
            const LlmcKernelRes *r = llmc_cubin_find(&cb, name);
            ck_assert_msg(r != NULL, "%s: no ptxas report for %s", at->arch, inst[j]);
            if (a == 0)
                fprintf(stderr, "gemm_ws sm_90a %-48s %3d registers, stack %d, spills %d/%d, wgmma waits %d\n", inst[j],
                        r->registers, r->stack_frame, r->spill_stores, r->spill_loads, r->wgmma_waits);
            ck_assert_msg(r->spill_stores == 0 && r->spill_loads == 0 && r->stack_frame == 0 && r->wgmma_waits == 0,
                          "%s: %s spills (%d bytes stores, %d loads, stack %d, %d registers) or waits for its wgmma (%d)",
                          at->arch, inst[j], r->spill_stores, r->spill_loads, r->stack_frame, r->registers, r->wgmma_waits);
        }
        llmc_cubin_free(&cb);
    }
    if (nv)
        llmc_nvrtc_close(nv);
    llmc_buf_free(&src);
}
END_TEST

/* llmc compile --decode-wgmma on: a small Llama (hidden 256, FFN 1024, bf16) whose matmuls at 9..64
 * rows take gemm_ws in sm_90a images (three token tiles a matrix, each launch conditioned on the
 * image's wgmma, gemm_q's on its absence), its kernels equal to tests/golden/ws_small.cu, through
 * NVRTC for sm_80 (a trap) and sm_90a (no spills, no wgmma waits); the host C's table of TMA maps: a
 * node's gemm_ws pair (the weights in boxes of 64 x 64 rows, scratch A over the build's largest step
 * in boxes of 64 x 16) and right after it gemm_wt's (boxes of bn/2 and 128), both reached by the one
 * launch offset gemm_ws's kernels pass (gemm_wt's kernels that offset + 256); gemm_ws's kernels
 * flagged for programmatic dependent launch and as wgmma-only. The default (off), an sm_80-only
 * build and a --batch-invariant one have no gemm_ws. */
START_TEST(ws_golden)
{
    LlmcDiag d;
    cJSON *cfg = small_llama(256, 1024), *doc = NULL;
    ck_assert_msg(llmc_hf_config_model(cfg, "small", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    LlmcGraph *g = graph_of(doc, ".");
    const LlmcTarget *tune = llmc_target_find("sm_90a"), *old = llmc_target_find("sm_80");
    for (int v = 0; v < 4; v++) { /* on; off; on without an sm_90a image; on with --batch-invariant */
        LlmcCudaGen *cg = NULL;
        const LlmcGpuGenOpts o = {LLMC_QMMA_AUTO, v == 3, 0, LLMC_WGMMA_AUTO, 0, v != 1};
        ck_assert(llmc_gpu_generate(g, v == 2 ? &old : &tune, 1, &o, &cg, &d) == LLMC_OK);
        const char *all = llmc_cuda_source(cg), *src = strstr(all, "/* ---- kernels ---- */");
        ck_assert_ptr_nonnull(src);
        if (v) {
            ck_assert_msg(!strstr(src, "gemm_ws"), "gemm_ws in a build %s",
                          v == 1 ? "without --decode-wgmma" : v == 2 ? "without sm_90a" : "with --batch-invariant");
            llmc_cuda_free(cg);
            continue;
        }
        char *host = NULL, *body = host_forward(g, cg, "small --decode-wgmma on", &host);
        check_golden(src, LLMC_SOURCE_DIR "/tests/golden/ws_small.cu", "a small Llama --decode-wgmma on");
        ck_assert_msg(strstr(src, "gemm_ws<1, 256, 2048, 1024, 0, 2, 64, 8, 1>"), "no gated gemm_ws (gate/up, 64 rows)");
        ck_assert_msg(strstr(src, "gemm_ws<1, 1024, 256, 256, 256, 1, 16, 8, 1>"), "no gemm_ws with the residual (down, 16 rows)");
        /* every gemm_ws launch under wg, every gemm_q launch under !wg */
        int nws = 0, nq = 0;
        for (const char *l = body; (l = strstr(l, "llmc_gpu_launch(")) != NULL; l++) {
            const char *eol = strchr(l, '\n'), *c = l;
            while (c > body && c[-1] != '\n')
                c--;
            const char *cl = c - 1; /* the condition line before the launch */
            while (cl > body && cl[-1] != '\n')
                cl--;
            int ws = strstr(l, "_gemm_ws */") && strstr(l, "_gemm_ws */") < eol, q = strstr(l, "_gemm_q */") && strstr(l, "_gemm_q */") < eol;
            if (!ws && !q)
                continue;
            char cond[512];
            snprintf(cond, sizeof cond, "%.*s", (int)(c - cl), cl);
            ck_assert_msg(strncmp(cond, "    if (", 8) == 0 && strstr(cond, ws ? " && wg)" : " && !wg)"),
                          "%s launched without %s: %s", ws ? "gemm_ws" : "gemm_q", ws ? "wg" : "!wg", cond);
            nws += ws;
            nq += q;
        }
        ck_assert_int_eq(nws, 3 * 5); /* Q/K/V, o, gate/up, down and the lm_head: three token tiles each */
        ck_assert_int_eq(nq, 3 * 5);
        /* the maps: a gemm_ws pair, then the node's gemm_wt pair 256 bytes on */
        const char *tab = strstr(host, "static const LlmcGpuTmap tmaps[] = {\n");
        ck_assert_ptr_nonnull(tab);
        int n = 0, pairs = 0;
        long long ws_at = -1;
        for (const char *p = strchr(tab, '\n') + 1; strncmp(p, "    {\"", 6) == 0; p = strchr(p, '\n') + 1, n++) {
            char name[256], space[32], dt[32];
            long long off, rows, cols, rb, at;
            int br, bc;
            ck_assert_int_eq(sscanf(p, "    {\"%255[^\"]\", %31[A-Z_0-9], %31[A-Z_0-9], %lld, %lld, %lld, %lld, %d, %d, %lld},",
                                    name, space, dt, &off, &rows, &cols, &rb, &br, &bc, &at),
                             10);
            if (strcmp(space, "LLMC_TMAP_WEIGHTS") == 0 && br == 64 && n + 1 < 64) {
                const char *nx = strchr(p, '\n') + 1; /* its activations' map: boxes of 16 rows */
                int br2;
                ck_assert_int_eq(sscanf(nx, "    {\"%*[^\"]\", LLMC_TMAP_ARENA, %*[A-Z_0-9], %*d, %*d, %*d, %*d, %d,", &br2), 1);
                if (br2 != 16)
                    continue;
                ws_at = at;
                pairs++;
                /* the launches passing it: gemm_ws's three, and gemm_wt's at + 256 (the same offset) */
                char tail[64];
                snprintf(tail, sizeof tail, ", %lld}}); /* k", at);
                int seen = 0;
                for (const char *l = body; (l = strstr(l, tail)) != NULL; l++)
                    seen++;
                ck_assert_msg(seen >= 3, "the maps of %s: %d launches pass them", name, seen);
            }
        }
        ck_assert_int_eq(pairs, 5);
        ck_assert(ws_at >= 0);
        ck_assert_msg(strstr(src, "(a.consts + (int)o.v[") && strstr(src, "] + 256), *tx = tw + 1;"),
                      "no gemm_wt reading the pair after gemm_ws's");
        /* gemm_ws's kernels: PDL and wgmma-only (flags 1 | 4) */
        ck_assert_int_eq(check_kernel_flags(host, "_gemm_ws", 5, 0), 3 * 5);
        free(body);
        free(host);
        LlmcNvrtc *nv = open_nvrtc();
        if (nv)
            compile_archs_o(nv, g, "a small Llama --decode-wgmma on", ARCHS_ENDS, &o);
        llmc_nvrtc_close(nv);
        llmc_cuda_free(cg);
    }
    llmc_graph_free(g);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}
END_TEST

/* A Llama in the Hugging Face layout (the stories260K preset's config, bf16), fused as for a GPU:
 * the emitted CUDA must equal tests/golden/llama_hf.cu. One-token steps do RoPE and the KV write in
 * the Q/K/V matmul's epilogue (rope_kv_write only runs for wider steps), decode attention is one
 * kernel, and the one-row kernels are marked for programmatic dependent launch. */
START_TEST(llama_hf_golden)
{
    LlmcDiag d;
    cJSON *cfg = llmc_synth_preset_config("stories260K"), *doc = NULL;
    ck_assert_ptr_nonnull(cfg);
    ck_assert_msg(llmc_hf_config_model(cfg, "stories260K", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
    LlmcGraph *g = graph_of(doc, ".");
    LlmcCudaGen *cg = NULL;
    ck_assert(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK);
    const char *src = strstr(llmc_cuda_source(cg), "/* ---- kernels ---- */");
    ck_assert_ptr_nonnull(src);
    ck_assert_msg(strstr(src, "RopeOut{a.positions, a.slots"), "no Q/K/V matmul with the RoPE epilogue");
    ck_assert_msg(strstr(src, "paged_attn_dec<"), "no one-kernel decode attention");
    ck_assert_msg(!strstr(src, "attn_combine<"), "a combine kernel next to the one-kernel decode attention");
    check_golden(src, LLMC_SOURCE_DIR "/tests/golden/llama_hf.cu", "the stories260K config");
    /* every layer's rope_kv_write launch is the wide-step variant (the fusion once matched only
     * the first layer's) */
    LlmcCudaImage im = {.target = llmc_target_find("sm_90a"), .path = "none.cubin", .size = 0};
    LlmcBuildInfo info = {.build_info = "test", .target_names = "sm_90a"};
    char *host = NULL;
    ck_assert_msg(llmc_cuda_host_c(g, cg, &im, 1, &info, &host, &d) == LLMC_OK, "%s", d.msg);
    int rope_launches = 0, layers = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cfg, "num_hidden_layers"));
    for (const char *p = host; (p = strstr(p, "_rope_kv_write */")) != NULL; p++) {
        const char *line = p;
        while (line > host && line[-1] != '\n')
            line--;
        const char *prev = line - 1;
        while (prev > host && prev[-1] != '\n')
            prev--;
        ck_assert_msg(strncmp(prev, "    if (T > 1)\n", 15) == 0, "a rope_kv_write launch for one-token steps: %.*s",
                      (int)(p - prev), prev);
        rope_launches++;
    }
    ck_assert_int_eq(rope_launches, layers);
    free(host);
    LlmcNvrtc *nv = open_nvrtc();
    if (nv)
        compile_archs(nv, g, "stories260K (Hugging Face layout)", ARCHS_ENDS); /* example_stories260K: ARCHS_ALL */
    llmc_nvrtc_close(nv);
    llmc_cuda_free(cg);
    llmc_graph_free(g);
    cJSON_Delete(doc);
    cJSON_Delete(cfg);
}
END_TEST

/* ---- the model families (frontend/hf_families.c, tests/data/families/configs) ----
 * Each family's graph from its config alone (no weights), through the pipeline and the GPU stage,
 * the tiny configs the other tests use and some at real shapes (one or two layers of qwen3-8b,
 * gemma-2-9b, qwen3-30b-a3b in bf16, w4a16 and fp8, mixtral-8x7b), and two without the fusion
 * passes (--no-fuse: the ops they absorb, head_rmsnorm, gelu_tanh, on their own): the CUDA backend emits every node
 * (an op without a CUDA emitter fails here), its host C compiles (the scaled RoPE tables of init()).
 * The kernels of the families' own ops (per-head norm, gelu_tanh / scale / softcap, GeGLU, RoPE and
 * the KV write with the q/k norms, soft-capped attention, the MoE block), gathered from every graph
 * into one source (each instantiation once: one NVRTC run an arch keeps CI short), compile with no
 * spills for sm_80 and sm_90a, as the quantized presets do: these kernels have no path of their own
 * for the archs between (__CUDA_ARCH__ >= 900 picks PDL alone) and the same register budget from
 * their launch bounds; about 7 s an arch on 2 busy cores. */
static const Weights fam_w4_g32_asym = {LLMC_U4, 32, 1}, fam_w4 = {LLMC_U4, 0, 0}, fam_fp8 = {LLMC_FP8, 0, 0},
                     fam_nvfp4 = {LLMC_NVFP4, 0, 0};
typedef struct {
    const char *family;                  /* tests/data/families/configs/NAME.json */
    const char *what;
    const char *set;                     /* "key=value ..." replacing config fields (real shapes), or NULL */
    const Weights *w;                    /* NULL: the target's default */
    const char *must;                    /* a kernel of the families' own ops the graph must have, or NULL */
    int no_fuse;                         /* without the fusion passes: the ops the fusions absorb */
} FamilyCase;

static const FamilyCase family_cases[] = {
    {"qwen2", "qwen2", NULL, NULL, NULL, 0},
    {"qwen3", "qwen3", NULL, NULL, "rope_kv_write", 0},
    {"llama_linear", "llama linear rope", NULL, NULL, NULL, 0},
    {"llama_dynamic", "llama dynamic rope", NULL, NULL, NULL, 0},
    {"phi3", "phi3", NULL, NULL, NULL, 0},
    {"gemma2", "gemma2", NULL, NULL, "softcap", 0},
    {"gemma3", "gemma3", NULL, NULL, "scale", 0}, /* (its geglu: the gate/up matmul's epilogue) */
    {"gemma3", "gemma3 unfused", NULL, NULL, "head_rmsnorm", 1},
    {"gemma2", "gemma2 unfused", NULL, NULL, "gelu_tanh", 1},
    {"mixtral", "mixtral", NULL, NULL, "moe_route", 0},
    {"qwen3_moe", "qwen3_moe", NULL, NULL, "moe_gate_up_tc", 0},
    {"qwen3_moe", "qwen3_moe w4a16 g32 asym", NULL, &fam_w4_g32_asym, "moe_gate_up", 0},
    {"qwen3", "qwen3-8b shapes", "hidden_size=4096 intermediate_size=12288 num_attention_heads=32 "
     "num_key_value_heads=8 head_dim=128 num_hidden_layers=1", NULL, "rope_kv_write", 0},
    {"gemma2", "gemma-2-9b shapes", "hidden_size=3584 intermediate_size=14336 num_attention_heads=16 "
     "num_key_value_heads=8 head_dim=256 num_hidden_layers=2 query_pre_attn_scalar=256 sliding_window=4096 "
     "attn_logit_softcapping=50 final_logit_softcapping=30", NULL, "softcap", 0},
    {"qwen3_moe", "qwen3-30b-a3b shapes", "hidden_size=2048 moe_intermediate_size=768 num_experts=128 "
     "num_experts_per_tok=8 num_attention_heads=32 num_key_value_heads=4 head_dim=128 num_hidden_layers=1 "
     "mlp_only_layers=[]", NULL, "moe_down_tc", 0},
    {"qwen3_moe", "qwen3-30b-a3b shapes w4a16", "hidden_size=2048 moe_intermediate_size=768 num_experts=128 "
     "num_experts_per_tok=8 num_attention_heads=32 num_key_value_heads=4 head_dim=128 num_hidden_layers=1 "
     "mlp_only_layers=[]", &fam_w4, "moe_down", 0},
    {"qwen3_moe", "qwen3-30b-a3b shapes fp8", "hidden_size=2048 moe_intermediate_size=768 num_experts=128 "
     "num_experts_per_tok=8 num_attention_heads=32 num_key_value_heads=4 head_dim=128 num_hidden_layers=1 "
     "mlp_only_layers=[]", &fam_fp8, "moe_down", 0},
    {"qwen3_moe", "qwen3-30b-a3b shapes nvfp4", "hidden_size=2048 moe_intermediate_size=768 num_experts=128 "
     "num_experts_per_tok=8 num_attention_heads=32 num_key_value_heads=4 head_dim=128 num_hidden_layers=1 "
     "mlp_only_layers=[]", &fam_nvfp4, "moe_gate_up_b1", 0}, /* one-token steps: moe_up_b1, moe_down_b1 */
    {"mixtral", "mixtral-8x7b shapes", "hidden_size=4096 intermediate_size=14336 num_local_experts=8 "
     "num_experts_per_tok=2 num_attention_heads=32 num_key_value_heads=8 num_hidden_layers=1", NULL, "moe_gate_up", 0},
};

/* The kernel prefix of name "k12_prefix". */
static const char *kernel_prefix(const char *name)
{
    const char *u = strchr(name, '_');
    return u ? u + 1 : name;
}

/* A kernel of the families' own ops (the rest is what the Llama presets compile). */
static int is_family_kernel(const char *prefix, const char *text)
{
    static const char *const own[] = {"head_rmsnorm", "gelu_tanh", "scale", "softcap", "geglu"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcmp(prefix, own[i]) == 0)
            return 1;
    if (strncmp(prefix, "moe_", 4) == 0) /* route, gather, gate_up, down (gemv, _tc), to_half, combine */
        return 1;
    if (strcmp(prefix, "rope_kv_write") == 0)
        return strstr(text, "q and k normed") != NULL;
    if (strstr(text, "GeGLU epilogue")) /* Gemma's gate/up matmuls, every path (EPI 4) */
        return 1;
    return strstr(prefix, "attention") && strstr(text, "soft-capped");
}

/* cfg's fields replaced as `set` says ("key=value ...", values JSON). */
static void config_set(cJSON *cfg, const char *set)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", set);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        ck_assert_ptr_nonnull(eq);
        *eq = 0;
        cJSON *v = cJSON_Parse(eq + 1);
        ck_assert_msg(v != NULL, "bad value for %s", tok);
        if (cJSON_GetObjectItem(cfg, tok))
            cJSON_ReplaceItemInObject(cfg, tok, v);
        else
            cJSON_AddItemToObject(cfg, tok, v);
    }
}

START_TEST(families)
{
    LlmcDiag d;
    LlmcBuf src = {0};
    const LlmcNvrtcHeaders hdr = llmc_cuda_header_table();
    for (int i = 0; i < hdr.n; i++)
        llmc_buf_printf(&src, "#include \"%s\"\n", hdr.names[i]);
    char **texts = NULL, **names = NULL;
    int nk = 0;
    char *tmp = NULL;
    for (size_t c = 0; c < sizeof family_cases / sizeof family_cases[0]; c++) {
        const FamilyCase *fc = &family_cases[c];
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/data/families/configs/%s.json", LLMC_SOURCE_DIR, fc->family);
        cJSON *cfg = NULL, *doc = NULL;
        ck_assert_msg(llmc_json_load(path, &cfg, &d) == LLMC_OK, "%s", d.msg);
        if (fc->set)
            config_set(cfg, fc->set);
        ck_assert_msg(llmc_hf_config_model(cfg, fc->family, LLMC_BF16, &doc, &d) == LLMC_OK, "%s: %s", fc->what, d.msg);
        LlmcGraph *g = graph_of_opt(doc, ".", fc->w, fc->no_fuse);
        /* the GPU stage's MoE fusions (in a layer before the last: the last one's rows are selected) */
        if (!fc->set && (strstr(fc->family, "moe") || !strcmp(fc->family, "mixtral"))) {
            int fused = 0;
            for (int i = 0; i < g->nn; i++)
                fused += g->n[i].op == LLMC_OP_MOE && (fc->no_fuse || (llmc_attr(&g->n[i], "norm") &&
                                                                         llmc_attr(&g->n[i], "residual")));
            ck_assert_msg(fused > 0, "%s: no moe with the layer's norm and residual add fused", fc->what);
        }
        if (!fc->no_fuse && strstr(fc->family, "gemma")) { /* fuse_post_norm: no post-norm kernel of its own left */
            int post = 0, rms = 0;
            for (int i = 0; i < g->nn; i++) {
                post += g->n[i].op == LLMC_OP_ADD_RMSNORM && g->n[i].n_in == 4;
                rms += g->n[i].op == LLMC_OP_RMSNORM;
            }
            ck_assert_msg(post > 0 && rms == 0, "%s: %d add_rmsnorm with the post-norm, %d rmsnorm kernels", fc->what,
                          post, rms);
            int geglu = 0, epi = 0; /* fuse_swiglu_epilogue: GeGLU in the gate/up matmul's epilogue */
            for (int i = 0; i < g->nn; i++) {
                geglu += g->n[i].op == LLMC_OP_GEGLU;
                epi += g->n[i].op == LLMC_OP_MATMUL_FUSED && llmc_attr_int(&g->n[i], "swiglu", 0) == 2;
            }
            ck_assert_msg(geglu == 0 && epi > 0, "%s: %d geglu nodes, %d gate/up matmuls with GeGLU", fc->what, geglu,
                          epi);
        }
        LlmcCudaGen *cg = NULL;
        ck_assert_msg(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK, "%s: %s", fc->what,
                      d.msg);
        int found = fc->must == NULL;
        for (int k = 0; k < llmc_cuda_kernel_count(cg); k++) {
            const char *pre = kernel_prefix(llmc_cuda_kernel_name(cg, k)), *text = llmc_cuda_kernel_text(cg, k);
            if (!is_family_kernel(pre, text))
                continue;
            found |= fc->must && strcmp(pre, fc->must) == 0; /* rope_kv_write: with the q/k norms */
            /* kernels instantiating the same template (differing in their pointers' offsets) once */
            const char *body = strstr(text, "{\n"); /* its first indented line (past gemm_wg's #if) */
            const char *call = body ? strstr(body, "\n    ") : NULL;
            ck_assert_ptr_nonnull(call);
            size_t len = strcspn(call, "(");
            int seen = 0;
            for (int j = 0; j < nk && !seen; j++)
                seen = strncmp(texts[j], call, len) == 0 && texts[j][len] == '(';
            if (seen)
                continue;
            texts = realloc(texts, sizeof *texts * (size_t)(nk + 1));
            names = realloc(names, sizeof *names * (size_t)(nk + 1));
            ck_assert(texts && names);
            texts[nk] = strdup(call);
            char name[128];
            snprintf(name, sizeof name, "f%d_%s", nk, pre);
            names[nk] = strdup(name);
            llmc_emit_named(&src, text, name); /* the definition with its name */
            nk++;
        }
        ck_assert_msg(found, "%s: no %s kernel", fc->what, fc->must);
        /* the host side: init() fills the RoPE tables of every scaling type (c_prelude.h) */
        LlmcCudaImage im = {.target = llmc_target_find("sm_90a"), .path = "none.cubin", .size = 0};
        LlmcBuildInfo info = {.build_info = "test", .target_names = "sm_90a"};
        char *host = NULL;
        ck_assert_msg(llmc_cuda_host_c(g, cg, &im, 1, &info, &host, &d) == LLMC_OK, "%s", d.msg);
        const char *scaled = strstr(fc->family, "llama_") || !strcmp(fc->family, "qwen3") ||
                                     !strcmp(fc->family, "phi3") || !strcmp(fc->family, "gemma3")
                                 ? "rope_table_scaled("
                                 : NULL;
        ck_assert_msg(!scaled || strstr(host, scaled), "%s: no %s in init()", fc->what, scaled);
        if (!fc->set) { /* the tiny configs' host C compiles as llmc compile compiles it (codegen/link.c); the real shapes' differs in numbers only */
            if (!tmp)
                tmp = strdup(tu_tmpdir());
            char hc[1200], cmd[2600];
            snprintf(hc, sizeof hc, "%s/host_%zu.c", tmp, c);
            ck_assert(llmc_write_file_atomic(hc, host, strlen(host), &d) == LLMC_OK);
            snprintf(cmd, sizeof cmd, "cc -std=gnu11 -march=native -w -fsyntax-only %s 2>&1", hc);
            char *out = NULL;
            int rc = tu_run(cmd, &out);
            ck_assert_msg(rc == 0, "%s: the host C does not compile:\n%s", fc->what, out);
            free(out);
        }
        free(host);
        llmc_cuda_free(cg);
        llmc_graph_free(g);
        cJSON_Delete(doc);
        cJSON_Delete(cfg);
    }
    free(tmp);
    ck_assert_msg(nk >= 20, "only %d kernels of the families' own ops", nk);
    LlmcNvrtc *nv = open_nvrtc();
    for (const LlmcTarget *const *t = llmc_targets(); nv && *t; t++) {
        if ((*t)->backend != LLMC_TGT_CUDA || (*t)->amd_path || (strcmp((*t)->name, "sm_80") && strcmp((*t)->name, "sm_90a")))
            continue;
        LlmcCubin cb;
        ck_assert_msg(nvrtc_compile(nv, src.s, "families", &hdr, *t, &cb, &d) == LLMC_OK, "families for %s: %s",
                      (*t)->arch, d.msg);
        for (int k = 0; k < nk; k++) {
            const LlmcKernelRes *r = llmc_cubin_find(&cb, names[k]);
            ck_assert_msg(r != NULL, "families %s: no ptxas report for %s", (*t)->arch, names[k]);
            if (getenv("LLMC_TEST_VERBOSE"))
                fprintf(stderr, "%s %-24s %3d registers, spills %d/%d\n", (*t)->arch, names[k], r->registers,
                        r->spill_stores, r->spill_loads);
            if (is_no_spill_kernel(names[k]))
                ck_assert_msg(r->spill_stores == 0 && r->spill_loads == 0,
                              "families %s: %s spills (%d bytes stores, %d loads, %d registers)", (*t)->arch, names[k],
                              r->spill_stores, r->spill_loads, r->registers);
        }
        llmc_cubin_free(&cb);
    }
    llmc_nvrtc_close(nv);
    for (int k = 0; k < nk; k++) {
        free(texts[k]);
        free(names[k]);
    }
    free(texts);
    free(names);
    llmc_buf_free(&src);
}
END_TEST

/* The quantized KV formats (fp8, int8, int4, kivi2, kivi4, keys and values in formats of their own): the kernels
 * that write and read the cache (rope_kv_write, kv_write, decode attention with its split, the
 * per-token attention, prefill flash attention) of small Llamas with the 8B's heads (32 query heads
 * of 128 over 8 KV heads, 1 layer) and the 1B's (64), gathered into one source, each instantiation
 * once, compile for sm_80 and sm_90a with no spills; the fp8 builds read their scales from the
 * constants, and none keeps the Q/K/V matmul's RoPE epilogue (the rope_kv_write kernel quantizes
 * whole rows); KIVI (blocks of 32) adds the seal kernel and reads long steps with the per-token
 * kernel. Each paged_attn_tc kernel also in the other score layout (S = Q K^T or S^T = K Q^T: its
 * template argument KQ, before FILL, flipped; the same text otherwise). One NVRTC run
 * an arch (about 12 s each on this 2-core machine). */
START_TEST(kv_formats)
{
    static const struct {
        LlmcDType k, v;
        int hd;
    } cases[] = {
        {LLMC_INT8, LLMC_INT8, 128}, {LLMC_INT4, LLMC_INT4, 128}, {LLMC_KV_FP8, LLMC_KV_FP8, 128},
        {LLMC_INT8, LLMC_INT4, 64}, {LLMC_KV_FP8, LLMC_F16, 128},
        {LLMC_INT8, LLMC_F16, 96}, /* a head size for the per-token kernel (not a power of two) */
        /* KIVI (blocks of 32): the seal kernel, decode from the blocks and the ring, the per-token
         * kernel for long steps */
        {LLMC_KIVI2, LLMC_KIVI2, 128}, {LLMC_KIVI4, LLMC_KIVI4, 128}, {LLMC_KIVI2, LLMC_INT8, 64},
        {LLMC_F16, LLMC_KIVI2, 96},
    };
    LlmcDiag d;
    LlmcBuf src = {0};
    const LlmcNvrtcHeaders hdr = llmc_cuda_header_table();
    for (int i = 0; i < hdr.n; i++)
        if (!strstr(hdr.names[i], ".def"))
            llmc_buf_printf(&src, "#include \"%s\"\n", hdr.names[i]);
    char names[96][64];
    int nk = 0, nkq = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cJSON *cfg = small_llama(32 * cases[c].hd, 512), *doc = NULL;
        char set[128];
        snprintf(set, sizeof set, "num_attention_heads=32 num_key_value_heads=8 head_dim=%d", cases[c].hd);
        config_set(cfg, set);
        ck_assert_msg(llmc_hf_config_model(cfg, "small", LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
        char kvs[64];
        snprintf(kvs, sizeof kvs, "%s,%s", llmc_dtype_name(cases[c].k), llmc_dtype_name(cases[c].v));
        LlmcGraph *g = llmc_graph_new();
        ck_assert_msg(llmc_model_from_json(doc, "model.json", ".", g, &d) == LLMC_OK, "%s", d.msg);
        LlmcPassOptions opt;
        memset(&opt, 0, sizeof opt);
        opt.target = llmc_target_find("sm_90a");
        opt.max_tokens = 512;
        opt.max_outputs = 512;
        opt.kv_block_size = kv_has_ring((int)cases[c].k, (int)cases[c].v) ? 32 : 16;
        opt.max_seq_len = 4096 < g->max_seq_len ? 4096 : 0;
        opt.kv_set = 1;
        opt.kv[0] = cases[c].k;
        opt.kv[1] = cases[c].v;
        ck_assert_msg(llmc_pipeline(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "%s: %s", kvs, d.msg);
        ck_assert_msg(llmc_pipeline_gpu(g, &opt, NULL, NULL, 1, &d) == LLMC_OK, "%s: %s", kvs, d.msg);
        LlmcCudaGen *cg = NULL;
        ck_assert_msg(llmc_cuda_generate(g, llmc_target_find("sm_90a"), 1, &cg, &d) == LLMC_OK, "%s: %s", kvs, d.msg);
        const char *all = llmc_cuda_source(cg);
        int fp8 = cases[c].k == LLMC_KV_FP8 || cases[c].v == LLMC_KV_FP8, f16 = cases[c].k == LLMC_F16 && cases[c].v == LLMC_F16;
        char want[64];
        snprintf(want, sizeof want, "<%s, %s, ", llmc_kernel_format(cases[c].k), llmc_kernel_format(cases[c].v));
        ck_assert_msg(strstr(all, want), "%s: no kernel of the formats %s", kvs, want);
        ck_assert_msg(!f16 == !strstr(all, "RopeOut{"), "%s: the RoPE epilogue of the Q/K/V matmul %s", kvs,
                      f16 ? "missing" : "with a quantized cache");
        for (int k = 0; k < llmc_cuda_kernel_count(cg); k++) {
            const char *pre = kernel_prefix(llmc_cuda_kernel_name(cg, k)), *text = llmc_cuda_kernel_text(cg, k);
            if (!strstr(pre, "attention") && !strstr(pre, "kv_write") && !strstr(pre, "attn_combine") &&
                !strstr(pre, "kv_seal"))
                continue;
            if (strstr(pre, "paged_attention") || strstr(pre, "flash_attention")) /* fp8: the scales from the constants */
                ck_assert_msg(!fp8 == !strstr(text, "C("), "%s: %s %s the scales", kvs, pre, fp8 ? "without" : "with");
            ck_assert_int_lt(nk, 95);
            snprintf(names[nk], sizeof names[nk], "kv%d_%s", nk, pre);
            llmc_emit_named(&src, text, names[nk]);
            nk++;
            if (strcmp(pre, "paged_attention_tc") == 0) { /* the other layout: KQ (before FILL, PR and SR, the last) flipped */
                const char *call = strstr(text, "paged_attn_tc<"), *end = call ? strstr(call, ">(a.positions") : NULL;
                ck_assert_msg(end != NULL, "%s: no paged_attn_tc call in\n%s", kvs, text);
                const char *fill = end;
                for (int commas = 0; commas < 3 && fill > call; commas += *fill == ',')
                    fill--; /* to the comma before FILL */
                ck_assert_msg(fill > call + 3 && (fill[-1] == '0' || fill[-1] == '1') && fill[-2] == ' ' && fill[-3] == ',',
                              "%s: no KQ argument before FILL in\n%s", kvs, text);
                char *kq = malloc(strlen(text) + 1);
                ck_assert_ptr_nonnull(kq);
                strcpy(kq, text);
                kq[fill - 1 - text] = fill[-1] == '0' ? '1' : '0';
                snprintf(names[nk], sizeof names[nk], "kv%d_%s_kq", nk, pre);
                llmc_emit_named(&src, kq, names[nk]);
                free(kq);
                nk++;
                nkq++;
            }
        }
        llmc_cuda_free(cg);
        llmc_graph_free(g);
        cJSON_Delete(doc);
        cJSON_Delete(cfg);
    }
    ck_assert_int_ge(nk, 20);
    ck_assert_int_ge(nkq, 8); /* every case with heads of 64 or 128 */
    LlmcNvrtc *nv = open_nvrtc();
    for (const LlmcTarget *const *t = llmc_targets(); nv && *t; t++) {
        /* the ends, as the quantized presets (CI's time): sm_80 (the smallest register budget) and
         * sm_90a (Hopper's paths, __CUDA_ARCH__ >= 900); the archs between compile sm_80's code */
        if ((*t)->backend != LLMC_TGT_CUDA || (*t)->amd_path || (strcmp((*t)->name, "sm_80") && strcmp((*t)->name, "sm_90a")))
            continue;
        LlmcCubin cb;
        ck_assert_msg(nvrtc_compile(nv, src.s, "kv formats", &hdr, *t, &cb, &d) == LLMC_OK, "kv formats for %s: %s",
                      (*t)->arch, d.msg);
        for (int k = 0; k < nk; k++) {
            const LlmcKernelRes *r = llmc_cubin_find(&cb, names[k]);
            ck_assert_msg(r != NULL, "kv formats %s: no ptxas report for %s", (*t)->arch, names[k]);
            if (getenv("LLMC_TEST_VERBOSE"))
                fprintf(stderr, "%s %-34s %3d registers, spills %d/%d\n", (*t)->arch, names[k], r->registers,
                        r->spill_stores, r->spill_loads);
            ck_assert_msg(r->spill_stores == 0 && r->spill_loads == 0,
                          "kv formats %s: %s spills (%d bytes stores, %d loads, %d registers)", (*t)->arch, names[k],
                          r->spill_stores, r->spill_loads, r->registers);
        }
        llmc_cubin_free(&cb);
    }
    llmc_nvrtc_close(nv);
    llmc_buf_free(&src);
}
END_TEST

/* ---- --batch-invariant ----
 * A batch-invariant build gives a row the same arithmetic at every row count: forward()'s launches
 * (llmc_cuda_row_path: each active launch's per-row arithmetic, the kernels' labels) are walked at
 * every row count 1..max_tokens for every kind of image the build has (wgmma or not, the AMD path or
 * not). The default build of the same graph must vary (the walk can fail). */

/* The config of a model to walk: a preset's, debdocs-32M's config.json (NULL when ../shared is
 * missing: the case skips it), or "families/NAME", tests/data/families/configs/NAME.json. */
static cJSON *binv_config(const char *name)
{
    cJSON *cfg = NULL;
    LlmcDiag d;
    if (strncmp(name, "families/", 9) == 0) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/data/families/configs/%s.json", LLMC_SOURCE_DIR, name + 9);
        ck_assert_msg(llmc_json_load(path, &cfg, &d) == LLMC_OK, "%s", d.msg);
        return cfg;
    }
    if (strcmp(name, "debdocs-32M") != 0)
        return llmc_synth_preset_config(name);
    if (tu_need_shared("debdocs-32M/config.json"))
        return NULL;
    ck_assert_msg(llmc_json_load(tu_shared("debdocs-32M/config.json"), &cfg, &d) == LLMC_OK, "%s", d.msg);
    return cfg;
}

/* Whether KIVI takes the config's heads (its groups of 32 channels: a head size of a multiple of 32). */
static int binv_kivi_ok(const cJSON *cfg)
{
    const cJSON *hd = cJSON_GetObjectItem(cfg, "head_dim");
    double h = cJSON_IsNumber(hd) ? hd->valuedouble
                                  : cJSON_GetNumberValue(cJSON_GetObjectItem(cfg, "hidden_size")) /
                                        cJSON_GetNumberValue(cJSON_GetObjectItem(cfg, "num_attention_heads"));
    return (int)h % 32 == 0;
}

/* The first row count (2..max) at which some image kind's per-row arithmetic differs from one row's
 * (0: none), the first differing lines in why. */
static int64_t binv_first_change(const LlmcCudaGen *cg, int64_t max, char *why, size_t n)
{
    for (int kind = 0; kind < 4; kind++) {
        LlmcDiag d;
        char *one = llmc_cuda_row_path(cg, 1, kind & 1, kind >> 1, &d);
        ck_assert_msg(one, "%s", d.msg);
        for (int64_t r = 2; r <= max; r++) {
            char *at = llmc_cuda_row_path(cg, r, kind & 1, kind >> 1, &d);
            ck_assert_msg(at, "%s", d.msg);
            /* line by line, the arithmetic (before the tab) alone */
            const char *a = one, *b = at;
            int same = 1;
            while (*a && *b && same) {
                size_t la = strcspn(a, "\t"), lb = strcspn(b, "\t");
                same = la == lb && strncmp(a, b, la) == 0;
                if (same) {
                    a = strchr(a, '\n') + 1;
                    b = strchr(b, '\n') + 1;
                }
            }
            same = same && !*a && !*b;
            if (!same)
                snprintf(why, n, "%s%s: one row: \"%.*s\"; %lld rows: \"%.*s\"", kind & 1 ? "wg" : "!wg",
                         kind >> 1 ? " amd" : "", (int)strcspn(a, "\n"), a, (long long)r, (int)strcspn(b, "\n"), b);
            free(at);
            if (!same) {
                free(one);
                return r;
            }
        }
        free(one);
    }
    return 0;
}

/* Calls fn(ctx, g, what) for the graph of each model of models (binv_config) in bf16, w4a16 and fp8
 * weights with f16, int8,int4 and kivi2 caches (KIVI where the heads take it) that pick(m, w, k)
 * takes (NULL: every one); what names the build. */
typedef void (*BinvFn)(void *ctx, const LlmcGraph *g, const char *what);
static void binv_each(const char *const *models, size_t n, int (*pick)(size_t m, size_t w, size_t k), BinvFn fn,
                      void *ctx)
{
    static const Weights wts[] = {{LLMC_BF16, 0, 0}, {LLMC_U4, 0, 0}, {LLMC_FP8, 0, 0}};
    static const LlmcDType kvs[][2] = {{LLMC_F16, LLMC_F16}, {LLMC_INT8, LLMC_INT4}, {LLMC_KIVI2, LLMC_KIVI2}};
    for (size_t m = 0; m < n; m++) {
        cJSON *cfg = binv_config(models[m]), *doc = NULL;
        if (!cfg)
            continue;
        LlmcDiag d;
        ck_assert_msg(llmc_hf_config_model(cfg, models[m], LLMC_BF16, &doc, &d) == LLMC_OK, "%s", d.msg);
        for (size_t w = 0; w < sizeof wts / sizeof wts[0]; w++)
            for (size_t k = 0; k < sizeof kvs / sizeof kvs[0]; k++) {
                if ((k == 2 && !binv_kivi_ok(cfg)) || (pick && !pick(m, w, k)))
                    continue;
                LlmcGraph *g = graph_of_kv(doc, ".", &wts[w], 0, 1, kvs[k]);
                char what[160], kvn[64];
                snprintf(what, sizeof what, "%s %s --kv %s", models[m], llmc_dtype_name(wts[w].fmt),
                         llmc_kv_formats_str(kvs[k], kvn, sizeof kvn));
                fn(ctx, g, what);
                llmc_graph_free(g);
            }
        cJSON_Delete(doc);
        cJSON_Delete(cfg);
    }
}

/* The walk of one graph: an sm_90a build and a mixed sm_90a + gfx1151 one, each default (must vary)
 * and batch-invariant (must not). */
static void binv_walk_one(void *ctx, const LlmcGraph *g, const char *what)
{
    (void)ctx;
    const LlmcTarget *nv[] = {llmc_target_find("sm_90a")}, *mixed[] = {llmc_target_find("sm_90a"), llmc_target_find("gfx1151")};
    for (int both = 0; both < 2; both++)
        for (int binv = 0; binv < 2; binv++) {
            LlmcDiag d;
            LlmcCudaGen *cg = NULL;
            const LlmcGpuGenOpts o = {LLMC_QMMA_PLAIN, binv, 0, LLMC_WGMMA_CP, 0, 0};
            ck_assert_msg(llmc_gpu_generate(g, both ? mixed : nv, both ? 2 : 1, &o, &cg, &d) == LLMC_OK, "%s", d.msg);
            char why[1024] = "";
            int64_t r = binv_first_change(cg, g->max_tokens, why, sizeof why);
            if (binv)
                ck_assert_msg(r == 0, "%s%s --batch-invariant: a row's arithmetic changes at %lld rows: %s", what,
                              both ? " (sm_90a,gfx1151)" : "", (long long)r, why);
            else
                ck_assert_msg(r > 0, "%s%s: the default build's row arithmetic never changes (the walk sees nothing)",
                              what, both ? " (sm_90a,gfx1151)" : "");
            llmc_cuda_free(cg);
        }
}

START_TEST(binv_walk)
{
    /* the dense Llamas, and every family's tiny config (Qwen3's per-head norms, Gemma's soft-caps and
     * sliding windows, the MoE blocks of Qwen3-MoE and Mixtral) */
    static const char *const models[] = {"stories260K",         "debdocs-32M",    "llama3.2-1b",
                                         "llama3.1-8b",         "families/qwen2", "families/qwen3",
                                         "families/qwen3_moe",  "families/mixtral", "families/gemma2",
                                         "families/gemma3",     "families/phi3",  "families/llama_dynamic"};
    binv_each(models, sizeof models / sizeof models[0], NULL, binv_walk_one, NULL);
}
END_TEST

/* The walk's reading of forward(): a row count's launches as the emitted conditions select them
 * (the default build of stories260K: gemv_b1 at one row, gemv at 2-8, the tensor cores above, and
 * decode attention up to 64 tokens). */
/* stories260K's Hugging Face config for sm_90a, batch-invariant or not */
typedef struct {
    cJSON *cfg, *doc;
    LlmcGraph *g;
    LlmcCudaGen *cg;
} Gen260K;
static Gen260K gen_260k(int binv)
{
    LlmcDiag d;
    Gen260K x = {llmc_synth_preset_config("stories260K"), NULL, NULL, NULL};
    ck_assert_msg(llmc_hf_config_model(x.cfg, "stories260K", LLMC_BF16, &x.doc, &d) == LLMC_OK, "%s", d.msg);
    x.g = graph_of(x.doc, ".");
    const LlmcTarget *tg = llmc_target_find("sm_90a");
    ck_assert_msg(llmc_gpu_generate(x.g, &tg, 1, &(LlmcGpuGenOpts){LLMC_QMMA_PLAIN, binv, 0, LLMC_WGMMA_CP, 0, 0},
                                    &x.cg, &d) == LLMC_OK, "%s", d.msg);
    return x;
}
static void gen_260k_free(Gen260K *x)
{
    llmc_cuda_free(x->cg);
    llmc_graph_free(x->g);
    cJSON_Delete(x->doc);
    cJSON_Delete(x->cfg);
}

START_TEST(binv_row_path)
{
    LlmcDiag d;
    Gen260K x = gen_260k(0);
    LlmcCudaGen *cg = x.cg;
    char *p1 = llmc_cuda_row_path(cg, 1, 0, 0, &d), *p8 = llmc_cuda_row_path(cg, 8, 0, 0, &d);
    char *p9 = llmc_cuda_row_path(cg, 9, 0, 0, &d), *p65 = llmc_cuda_row_path(cg, 65, 1, 0, &d);
    ck_assert(p1 && p8 && p9 && p65);
    ck_assert_msg(strstr(p1, "_gemv_b1)") && strstr(p1, "rope_kv ") && !strstr(p1, "_gemm"), "%s", p1);
    ck_assert_msg(strstr(p8, "_gemv)") && !strstr(p8, "_gemv_b1)") && !strstr(p8, "_gemm"), "%s", p8);
    ck_assert_msg(strstr(p9, "_gemm") && strstr(p9, "_paged_attention_dec)"), "%s", p9);
    ck_assert_msg(strstr(p65, "_gemm_wg") && !strstr(p65, "_paged_attention_dec)"), "%s", p65);
    /* gemv_b1 and gemv of one matrix: labels apart (an H100 gave other bits for some shapes) */
    const char *b1 = strstr(p1, "b1 gemv "), *gv = strstr(p8, "gemv ");
    ck_assert(b1 && gv);
    ck_assert_int_eq(strncmp(b1 + 3, gv, strcspn(gv, "\t")), 0);
    free(p1);
    free(p8);
    free(p9);
    free(p65);
    gen_260k_free(&x);
}
END_TEST

/* stories260K's Hugging Face config with --batch-invariant: the emitted kernels (tests/golden/
 * binv_stories260k.cu) and the host forward() (binv_stories260k.forward.c): gemv at every row count
 * above one (chunks of rows fastest in its grid), paged_attn_dec for every step, nothing on the
 * tensor cores; the kernels through NVRTC for every CUDA target where they differ (ARCHS_ALL). */
START_TEST(binv_golden)
{
    Gen260K x = gen_260k(1);
    const LlmcGraph *g = x.g;
    const LlmcCudaGen *cg = x.cg;
    const char *src = strstr(llmc_cuda_source(cg), "/* ---- kernels ---- */");
    ck_assert_ptr_nonnull(src);
    ck_assert_msg(strstr(src, "ORDER_ROW_MAJOR, 1>("), "no gemv with the chunks of rows in grid x");
    ck_assert_msg(strstr(src, "paged_attn_dec<"), "no decode attention");
    static const char *const none[] = {"gemm_", "rows_to_half", "flash_", "paged_attn_tc", "paged_attn<"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        ck_assert_msg(!strstr(src, none[i]), "a batch-invariant build emits %s", none[i]);
    check_golden_host(g, cg, src, "binv_stories260k", "stories260K --batch-invariant");
    LlmcNvrtc *nv = open_nvrtc();
    if (nv)
        compile_archs_b(nv, g, "stories260K --batch-invariant", ARCHS_ALL, LLMC_QMMA_PLAIN, 1);
    llmc_nvrtc_close(nv);
    gen_260k_free(&x);
}
END_TEST

/* The kernels a batch-invariant build adds (gemv with the rows' chunks in grid x in every weight
 * format, paged_attn_dec with its partials for every step in every KV format bench/gpu_round.sh
 * WHAT=binv runs) through NVRTC without spills: stories260K and debdocs-32M in bf16, w4a16 and fp8
 * with f16, int8,int4 and kivi2 caches for sm_80 and sm_90a; the 1B in bf16 and the 8B in w4a16 for
 * sm_80 and sm_90a. */
static void binv_compile_one(void *nv, const LlmcGraph *g, const char *what)
{
    char w[200];
    snprintf(w, sizeof w, "%s --batch-invariant", what);
    compile_archs_b(nv, g, w, ARCHS_ENDS, LLMC_QMMA_PLAIN, 1);
}
/* stories260K and debdocs-32M every build; the 1B in bf16 and the 8B in w4a16 (f16 caches) */
static int binv_compile_pick(size_t m, size_t w, size_t k) { return m < 2 || (k == 0 && w == (m == 2 ? 0 : 1)); }
START_TEST(binv_compile)
{
    LlmcNvrtc *nv = open_nvrtc();
    if (!nv)
        return;
    static const char *const models[] = {"stories260K", "debdocs-32M", "llama3.2-1b", "llama3.1-8b"};
    binv_each(models, sizeof models / sizeof models[0], binv_compile_pick, binv_compile_one, nv);
    llmc_nvrtc_close(nv);
}
END_TEST

int main(int argc, char **argv)
{
    regen = argc > 1 && strcmp(argv[1], "--regen") == 0;
    Suite *s = suite_create("cuda");
    /* Seven cases, each tagged with its name: goldens (emitted source against tests/golden, small
     * models), presets (the real shapes in bf16, sm_80 and sm_90a), quantized (the real shapes
     * in w4a16 and fp8, sm_80 and sm_90a), families, kv (the KV formats' kernels), wt (gemm_wt, not
     * emitted yet), binv (--batch-invariant). CI's ctest
     * runs goldens, families, kv and wt as tests of their own
     * (CK_RUN_CASE=NAME) and presets, quantized and binv as one (CK_INCLUDE_TAGS, tests/CMakeLists.txt):
     * one process, so the kernels those three share (the lm_head's, attention, norms: compiled[])
     * go through NVRTC once; the two cores share the rest of the suite with it. */
    TCase *tc = tcase_create("goldens");
    tcase_set_tags(tc, "goldens");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, arch_branches);
    tcase_add_test(tc, tiny_golden);
    tcase_add_test(tc, tiny_tp2_golden);
    tcase_add_test(tc, tp_reduce_ways);
    tcase_add_test(tc, b1_tail);
    tcase_add_test(tc, llama_hf_golden);
    tcase_add_test(tc, tiny_w4a16_golden);
    tcase_add_test(tc, qmma_golden);
    tcase_add_test(tc, qmma_plan);
    tcase_add_test(tc, wq_plan_8b);
    tcase_add_test(tc, qmma_wg_golden);
    tcase_add_test(tc, qmma_auto_rows);
    tcase_add_test(tc, nvfp4_small);
    if (!regen)
        tcase_add_test(tc, example_stories260K);
    tcase_add_checked_fixture(tc, NULL, compile_stats_test);
    suite_add_tcase(s, tc);
    if (!regen) {
        TCase *pre = tcase_create("presets");
        tcase_set_tags(pre, "presets");
        tcase_set_timeout(pre, 1200);
        tcase_add_test(pre, preset_stories15M);
        tcase_add_test(pre, preset_llama32_1b);
        tcase_add_test(pre, preset_llama32_1b_tp2);
        tcase_add_test(pre, preset_llama31_8b_tp2);
        tcase_add_test(pre, preset_llama31_70b_tp4);
        tcase_add_test(pre, preset_llama31_8b);
        tcase_add_checked_fixture(pre, NULL, compile_stats_test);
        suite_add_tcase(s, pre);
        TCase *qu = tcase_create("quantized");
        tcase_set_tags(qu, "quantized");
        tcase_set_timeout(qu, 1200);
        tcase_add_test(qu, preset_llama31_8b_w4a16);
        tcase_add_test(qu, preset_llama32_1b_w4a16_asym_g32);
        tcase_add_test(qu, preset_llama32_1b_fp8);
        tcase_add_test(qu, preset_llama31_8b_w4a16_wg);
        tcase_add_test(qu, preset_llama32_1b_w4a16_asym_g32_wg);
        tcase_add_checked_fixture(qu, NULL, compile_stats_test);
        suite_add_tcase(s, qu);
    }
    TCase *fam = tcase_create("families");
    tcase_set_tags(fam, "families");
    tcase_set_timeout(fam, 600);
    tcase_add_test(fam, families);
    tcase_add_checked_fixture(fam, NULL, compile_stats_test);
    suite_add_tcase(s, fam);
    TCase *kv = tcase_create("kv");
    tcase_set_tags(kv, "kv");
    tcase_set_timeout(kv, 600);
    tcase_add_test(kv, kv_formats);
    tcase_add_checked_fixture(kv, NULL, compile_stats_test);
    suite_add_tcase(s, kv);
    TCase *wt = tcase_create("wt"); /* gemm_wt (not emitted yet): its plan and its instances through NVRTC */
    tcase_set_tags(wt, "wt");
    tcase_set_timeout(wt, 600);
    tcase_add_test(wt, wt_kernels);
    tcase_add_test(wt, wt_golden);
    tcase_add_test(wt, ws_kernels);
    tcase_add_test(wt, ws_golden);
    tcase_add_checked_fixture(wt, NULL, compile_stats_test);
    suite_add_tcase(s, wt);
    TCase *bi = tcase_create("binv"); /* --batch-invariant */
    tcase_set_tags(bi, "binv");
    tcase_set_timeout(bi, 1200);
    tcase_add_test(bi, binv_row_path);
    tcase_add_test(bi, decode_attention_past_64);
    tcase_add_test(bi, binv_golden);
    if (!regen) {
        tcase_add_test(bi, binv_walk);
        tcase_add_test(bi, binv_compile);
    }
    tcase_add_checked_fixture(bi, NULL, compile_stats_test);
    suite_add_tcase(s, bi);
    int rc = tu_main_nofork(s); /* one process: compiled[] spans the tests */
    fprintf(stderr, "test_cuda: %d NVRTC runs, %.1f s\n", compile_stats.runs, compile_stats.seconds);
    return rc;
}
