/* fuse_swiglu_epilogue — SwiGLU (and GeGLU) moves into the epilogue of the merged gate/up matmul:
 *     gu = matmul(h, [Wg; Wu]); g = slice(gu, 0, F); u = slice(gu, F, F); f = swiglu(g, u)
 *       ->  f = matmul_fused(h, [Wg; Wu], swiglu=1)      (geglu(g, u): swiglu=2)
 * The kernel computes rows j and F + j together and writes silu(gate) * up (gelu_tanh(gate) * up):
 * the 2F-wide intermediate is never written. No weight layout changes.
 *
 * requires: fuse_matmuls, fuse_swiglu (GPU stage)
 * provides: MATMUL_FUSED with swiglu=1 (SwiGLU) or 2 (GeGLU)
 */
#include <stdlib.h>

#include "passes.h"

LlmcNode *llmc_as_fused_matmul(LlmcGraph *g, LlmcNode *m);

LlmcStatus pass_fuse_swiglu_epilogue(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    uint8_t *keep = malloc((size_t)g->nn + 1);
    if (!keep)
        return llmc_fail(d, "fuse_swiglu_epilogue: out of memory");
    for (int i = 0; i < g->nn; i++)
        keep[i] = 1;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode *s = &g->n[i];
        if (s->op != LLMC_OP_SWIGLU && s->op != LLMC_OP_GEGLU)
            continue;
        const LlmcTensor *gt = &g->t[s->in[0]], *ut = &g->t[s->in[1]];
        if (gt->view_of < 0 || gt->view_of != ut->view_of)
            continue;
        int src = gt->view_of;
        int64_t F = llmc_cols(&gt->shape);
        if (gt->view_col != 0 || ut->view_col != F || llmc_cols(&g->t[src].shape) != 2 * F)
            continue;
        int mi = g->t[src].producer;
        LlmcNode *m = &g->n[mi];
        if ((m->op != LLMC_OP_MATMUL && m->op != LLMC_OP_MATMUL_FUSED) || llmc_attr(m, "residual") ||
            llmc_attr(m, "swiglu"))
            continue;
        /* The gate/up output must feed only the two slices, each only the swiglu. */
        if (llmc_tensor_uses(g, src) != 2 || llmc_tensor_uses(g, s->in[0]) != 1 || llmc_tensor_uses(g, s->in[1]) != 1)
            continue;
        m = llmc_as_fused_matmul(g, m);
        llmc_attr_set_int(g, m, "swiglu", s->op == LLMC_OP_GEGLU ? 2 : 1); /* 2: gelu_tanh of the gate */
        m->out[0] = s->out[0];
        keep[i] = 0;
        keep[g->t[s->in[0]].producer] = 0;
        keep[g->t[s->in[1]].producer] = 0;
    }
    llmc_graph_compact(g, keep);
    free(keep);
    return LLMC_OK;
}
