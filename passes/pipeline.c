/* pipeline.c — the lowering, top to bottom. Each stage is one pass file; the verifier checks the IR
 * between stages (always after infer_shapes and at the end; after every pass when verify_each).
 * The common pipeline runs for every target; a target's backend then names its own stage (the GPU
 * stage below for CUDA), which the driver runs through llmc_pipeline_stage. */
#include <string.h>

#include "passes.h"

/* {name, pass, is_fusion (skipped with no_fuse), tp_only (run only with --tp N > 1)} */
static const LlmcPass pipeline[] = {
    {"infer_shapes", pass_infer_shapes, 0, 0},         /* shapes, dtypes, vocabulary; user errors */
    {"shard_tp", pass_shard_tp, 0, 1},                 /* --tp N: one rank's graph (before the merges) */
    {"act_order", pass_act_order, 0, 0},               /* act-order weights: their input gathered */
    {"fuse_matmuls", pass_fuse_matmuls, 1, 0},         /* Q/K/V and gate/up: one matmul each */
    {"fuse_swiglu", pass_fuse_swiglu, 1, 0},           /* mul(silu(g), u) -> swiglu */
    {"fuse_add_rmsnorm", pass_fuse_add_rmsnorm, 1, 0}, /* residual add folded into the next norm */
    {"select_rows", pass_select_rows, 0, 0},           /* logits only for the rows asked for */
    {"lower_paged_kv", pass_lower_paged_kv, 0, 0},     /* attention -> kv_write + paged_attention */
    {"weight_format", pass_weight_format, 0, 0},       /* storage format of every weight */
    {"plan_memory", pass_plan_memory, 0, 0},           /* one arena, reuse by liveness; weight offsets */
    {NULL, NULL, 0, 0},
};

/* CUDA targets continue with these: fusions that change no weight (so the CPU twin, emitted from
 * the graph before them, reads the same packed weights), then the arena planned again. */
static const LlmcPass gpu_pipeline[] = {
    {"fuse_residual_epilogue", pass_fuse_residual_epilogue, 1, 0}, /* residual add in the matmul epilogue */
    {"fuse_norm_prologue", pass_fuse_norm_prologue, 1, 0},         /* RMSNorm in the next matmul's prologue */
    {"fuse_swiglu_epilogue", pass_fuse_swiglu_epilogue, 1, 0},     /* SwiGLU in the gate/up epilogue */
    {"fuse_rope_kv", pass_fuse_rope_kv, 1, 0},                     /* RoPE of q, k and the KV write: one kernel */
    {"fuse_post_norm", pass_fuse_post_norm, 1, 0},                 /* a sublayer's post-norm in the next add_rmsnorm */
    {"plan_memory_gpu", pass_plan_memory_gpu, 0, 0},               /* the arena again (select_rows in place); weights keep offsets */
    {"fuse_rope_epilogue", pass_fuse_rope_epilogue, 1, 0},         /* one token: RoPE + KV write in Q/K/V's */
    {NULL, NULL, 0, 0},
};

const LlmcPass *llmc_passes(void) { return pipeline; }

const LlmcPass *llmc_gpu_passes(void) { return gpu_pipeline; }

static LlmcStatus run_passes(const LlmcPass *list, LlmcGraph *g, const LlmcPassOptions *opt, const char *dump_after,
                             FILE *dump, int verify_each, LlmcDiag *d)
{
#ifdef LLMC_VERIFY_EACH_PASS
    verify_each = 1;
#endif
    for (const LlmcPass *p = list; p->name; p++) {
        if ((p->is_fusion && opt->no_fuse) || (p->tp_only && opt->tp <= 1))
            continue;
        if (p->fn(g, opt, d))
            return LLMC_ERR;
        if (verify_each || p == pipeline || !p[1].name) {
            if (llmc_graph_verify(g, d)) {
                char msg[sizeof d->msg];
                snprintf(msg, sizeof msg, "internal error: IR invalid after pass %s: %s", p->name, d->msg);
                return llmc_fail(d, "%s", msg);
            }
        }
        if (dump_after && strcmp(dump_after, p->name) == 0)
            llmc_graph_dump(g, dump);
    }
    return LLMC_OK;
}

static int known_pass(const char *name)
{
    int known = strcmp(name, "input") == 0;
    for (const LlmcPass *p = pipeline; p->name; p++)
        known |= strcmp(p->name, name) == 0;
    for (const LlmcPass *p = gpu_pipeline; p->name; p++)
        known |= strcmp(p->name, name) == 0;
    return known;
}

LlmcStatus llmc_pipeline(LlmcGraph *g, const LlmcPassOptions *opt, const char *dump_after, FILE *dump,
                         int verify_each, LlmcDiag *d)
{
    if (dump_after) {
        if (!known_pass(dump_after)) {
            char names[1024] = "input";
            for (const LlmcPass *p = pipeline; p->name; p++)
                snprintf(names + strlen(names), sizeof names - strlen(names), ", %s", p->name);
            for (const LlmcPass *p = gpu_pipeline; p->name; p++)
                snprintf(names + strlen(names), sizeof names - strlen(names), ", %s (CUDA targets)", p->name);
            return llmc_fail(d, "--dump-after=%s: no such pass (passes: %s)", dump_after, names);
        }
        for (const LlmcPass *p = pipeline; p->name; p++)
            if (p->tp_only && opt->tp <= 1 && strcmp(p->name, dump_after) == 0)
                return llmc_fail(d, "--dump-after=%s: that pass runs only with --tp N > 1", dump_after);
        if (strcmp(dump_after, "input") == 0)
            llmc_graph_dump(g, dump);
    }
    return run_passes(pipeline, g, opt, dump_after, dump, verify_each, d);
}

LlmcStatus llmc_pipeline_stage(LlmcStage stage, LlmcGraph *g, const LlmcPassOptions *opt, const char *dump_after,
                               FILE *dump, int verify_each, LlmcDiag *d)
{
    return stage ? run_passes(stage(), g, opt, dump_after, dump, verify_each, d) : LLMC_OK;
}

LlmcStatus llmc_pipeline_gpu(LlmcGraph *g, const LlmcPassOptions *opt, const char *dump_after, FILE *dump,
                             int verify_each, LlmcDiag *d)
{
    return llmc_pipeline_stage(llmc_gpu_passes, g, opt, dump_after, dump, verify_each, d);
}
