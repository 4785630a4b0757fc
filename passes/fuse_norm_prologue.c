/* fuse_norm_prologue — an RMSNorm whose result feeds only matmuls moves into their prologue:
 *     y = rmsnorm(s, w); q = matmul(y, W)   ->   q = matmul_fused(s, W, norm=w)
 * The matmul normalizes each row of s as it reads it (a few KB, from cache), so the normalized rows
 * are never written and one launch disappears. A mixture-of-experts block reading y (beside its
 * router's matmul) takes the norm too: its gather normalizes the rows it copies.
 *
 * requires: fuse_residual_epilogue (GPU stage)
 * provides: MATMUL_FUSED and MOE with a norm input and eps
 */
#include <stdlib.h>

#include "passes.h"

LlmcNode *llmc_as_fused_matmul(LlmcGraph *g, LlmcNode *m);
void llmc_fused_add_input(LlmcGraph *g, LlmcNode *m, const char *key, int t);

LlmcStatus pass_fuse_norm_prologue(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    uint8_t *keep = malloc((size_t)g->nn + 1);
    if (!keep)
        return llmc_fail(d, "fuse_norm_prologue: out of memory");
    for (int i = 0; i < g->nn; i++)
        keep[i] = 1;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode *r = &g->n[i];
        if (r->op != LLMC_OP_RMSNORM || r->out[0] == g->logits)
            continue;
        int y = r->out[0], uses = 0, ok = 1;
        for (int c = i + 1; c < g->nn && ok; c++)
            for (int k = 0; k < g->n[c].n_in; k++)
                if (g->n[c].in[k] == y) {
                    const LlmcNode *m = &g->n[c];
                    ok = k == 0 &&
                         (m->op == LLMC_OP_MATMUL || m->op == LLMC_OP_MATMUL_FUSED || m->op == LLMC_OP_MOE) &&
                         !llmc_attr(m, "norm") && m->n_in < LLMC_MAX_IN;
                    uses++;
                }
        if (!ok || !uses)
            continue;
        for (int c = i + 1; c < g->nn; c++)
            if (g->n[c].in[0] == y) {
                LlmcNode *m = g->n[c].op == LLMC_OP_MOE ? &g->n[c] : llmc_as_fused_matmul(g, &g->n[c]);
                m->in[0] = r->in[0];
                llmc_fused_add_input(g, m, "norm", r->in[1]);
                llmc_attr_set_float(g, m, "eps", llmc_attr_float(r, "eps", 1e-5));
            }
        keep[i] = 0;
    }
    llmc_graph_compact(g, keep);
    free(keep);
    return LLMC_OK;
}
