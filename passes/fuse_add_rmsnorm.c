/* fuse_add_rmsnorm — the residual add folds into the norm that reads its sum:
 *     s = add(a, b); y = rmsnorm(s, w)   ->   s, y = add_rmsnorm(a, b, w)
 * One pass over the row produces both the new residual stream and the normalized input of the next
 * projection. The fused node stands where the add stood; the rmsnorm is removed.
 *
 * requires: infer_shapes
 * provides: ADD_RMSNORM nodes (attribute eps from the norm)
 */
#include <stdlib.h>

#include "passes.h"

LlmcStatus pass_fuse_add_rmsnorm(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    uint8_t *keep = malloc((size_t)g->nn + 1);
    if (!keep)
        return llmc_fail(d, "fuse_add_rmsnorm: out of memory");
    for (int i = 0; i < g->nn; i++)
        keep[i] = 1;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode *r = &g->n[i];
        if (r->op != LLMC_OP_RMSNORM)
            continue;
        int a = g->t[r->in[0]].producer;
        if (a < 0 || g->n[a].op != LLMC_OP_ADD)
            continue;
        LlmcNode *add = &g->n[a];
        add->op = LLMC_OP_ADD_RMSNORM;
        add->in[2] = r->in[1];
        add->n_in = 3;
        add->out[1] = r->out[0];
        add->n_out = 2;
        llmc_attr_set_float(g, add, "eps", llmc_attr_float(r, "eps", 1e-5));
        keep[i] = 0;
    }
    llmc_graph_compact(g, keep);
    free(keep);
    return LLMC_OK;
}
