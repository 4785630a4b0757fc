/* passes.h — every pass of the pipeline, one per file, one signature:
 *
 *     LlmcStatus pass_NAME(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
 *
 * The file passes/NAME.c, the function pass_NAME, the --dump-after=NAME key and the test
 * tests/test_passes.c's cases share one name. llmc_pipeline() runs them in order (pipeline.c); a
 * target's own stage follows (llmc_pipeline_stage), run by the driver. */
#ifndef LLMC_PASSES_H
#define LLMC_PASSES_H

#include <stdio.h>

#include "../ir/ir.h"
#include "../ir/target.h"

typedef struct LlmcPassOptions {
    const LlmcTarget *target;
    int32_t max_tokens;           /* tokens per step */
    int32_t max_outputs;          /* logit rows per step */
    int32_t kv_block_size;        /* positions per KV block */
    int32_t max_seq_len;          /* 0: the model's */
    int weights_set;              /* --weights given */
    LlmcDType weights;            /* storage format for matrices */
    int32_t group;                /* quantized formats: elements along K a scale covers (0: the
                                     format's default: fp8 a whole row, u4 128) */
    int asym;                     /* u4: a zero point per group (else symmetric, zero 8) */
    const char *const *keep;      /* per-tensor overrides, n_keep strings "PATTERN=FMT,..." (one a
                                     --keep option; their rules in order): PATTERN a glob over llmc's
                                     tensor names or the checkpoint's, "lm_head" or "embedding"; the
                                     first rule that matches a matrix decides */
    int n_keep;
    int kv_set;                   /* --kv given */
    LlmcDType kv[2];              /* storage formats of the KV cache's keys and values (--kv K,V) */
    const float *kv_scales;       /* --kv-calib: the LAYER_HEAD scales (fp8) of each attention
                                     layer's K then V heads, [layers][2][kv heads]; NULL: 1 */
    int no_fuse;                  /* skip the fusion passes */
    int32_t tp;                   /* --tp: ranks to shard the model over (shard_tp); 0 or 1: none */
} LlmcPassOptions;

typedef LlmcStatus (*LlmcPassFn)(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);

typedef struct LlmcPass {
    const char *name;
    LlmcPassFn fn;
    int is_fusion;                /* skipped with no_fuse */
    int tp_only;                  /* run only with tp > 1 */
} LlmcPass;

LlmcStatus pass_infer_shapes(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_shard_tp(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_act_order(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_fuse_matmuls(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_fuse_swiglu(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_fuse_add_rmsnorm(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_select_rows(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_lower_paged_kv(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_weight_format(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_plan_memory(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
/* The GPU stage's: the same, with an in-place select_rows where its input dies at it (plan_memory.c). */
LlmcStatus pass_plan_memory_gpu(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
/* GPU stage (after the common pipeline; the CPU twin is emitted from the graph before it). */
LlmcStatus pass_fuse_residual_epilogue(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_fuse_norm_prologue(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_fuse_post_norm(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_fuse_swiglu_epilogue(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_fuse_rope_kv(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);
LlmcStatus pass_fuse_rope_epilogue(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d);

/* The pipeline, in order, NULL-terminated; and the GPU stage that follows it on CUDA targets. */
const LlmcPass *llmc_passes(void);
const LlmcPass *llmc_gpu_passes(void);

/* A target's own stage after the common pipeline, as its backend names it (codegen/backend.h:
 * llmc_gpu_passes for CUDA, none for C). */
typedef const LlmcPass *(*LlmcStage)(void);

/* Runs the pipeline. After a pass named dump_after (if not NULL), the IR is written to dump.
 * With verify_each (always on in debug builds) the verifier runs after every pass. */
LlmcStatus llmc_pipeline(LlmcGraph *g, const LlmcPassOptions *opt, const char *dump_after, FILE *dump,
                         int verify_each, LlmcDiag *d);
/* Runs a target's stage (NULL: none) like the pipeline. */
LlmcStatus llmc_pipeline_stage(LlmcStage stage, LlmcGraph *g, const LlmcPassOptions *opt, const char *dump_after,
                               FILE *dump, int verify_each, LlmcDiag *d);
/* The GPU stage (fusions that change no weight, then the arena planned again): the stage above
 * with llmc_gpu_passes. */
LlmcStatus llmc_pipeline_gpu(LlmcGraph *g, const LlmcPassOptions *opt, const char *dump_after, FILE *dump,
                             int verify_each, LlmcDiag *d);

#endif
