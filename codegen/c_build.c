/* c_build.c — the "c" backend instance (target cpu): the whole model is one C file (c_backend.c
 * emits it: kernels, forward(), the descriptor), compiled by the host compiler at link time. No
 * pass stage of its own, no device image, nothing to see before a stage.
 */
#include <stdlib.h>

#include "backend.h"

typedef struct CBuild {
    char *source;                 /* model.c */
} CBuild;

static LlmcStatus c_emit(LlmcCodegen *cg, const LlmcGraph *g, LlmcDiag *d)
{
    CBuild *b = cg->state;
    return llmc_emit_c(g, cg->targets[0], &cg->info, &b->source, d);
}

static LlmcStatus c_write_host(LlmcCodegen *cg, const LlmcGraph *g, LlmcDiag *d)
{
    (void)g;
    CBuild *b = cg->state;
    return llmc_codegen_write_c(cg, "model", b->source, d);
}

static void c_release(LlmcCodegen *cg)
{
    CBuild *b = cg->state;
    free(b->source);
}

const LlmcBackend llmc_backend_c = {
    .name = "c",
    .max_targets = 1,
    .state_size = sizeof(CBuild),
    .target_passes = NULL,
    .runs_ranks = 1,
    .before_target_stage = NULL,
    .emit = c_emit,
    .build_images = NULL,
    .write_host = c_write_host,
    .release = c_release,
};
