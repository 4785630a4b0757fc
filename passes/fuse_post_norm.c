/* fuse_post_norm — a norm of a sublayer's output read only by the residual add that the next norm
 * follows (Gemma 2 and 3: the post-attention and post-feedforward norms) joins that add_rmsnorm:
 *     o' = rmsnorm(o, w1); s, y = add_rmsnorm(x, o', w2)  ->  s, y = add_rmsnorm(x, o, w2, w1)
 * One kernel reads o and x and writes s and y: a launch and a pass over the rows fewer.
 *
 * requires: fuse_residual_epilogue (GPU stage: an add_rmsnorm with a pre-norm is no residual
 *           epilogue's to take; that pass leaves those alone)
 * provides: ADD_RMSNORM with a fourth input (o's norm weight) and pre_eps
 */
#include <stdlib.h>

#include "passes.h"

LlmcStatus pass_fuse_post_norm(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    uint8_t *keep = malloc((size_t)g->nn + 1);
    if (!keep)
        return llmc_fail(d, "fuse_post_norm: out of memory");
    for (int i = 0; i < g->nn; i++)
        keep[i] = 1;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode *a = &g->n[i];
        if (a->op != LLMC_OP_ADD_RMSNORM || a->n_in != 3)
            continue;
        for (int side = 1; side >= 0; side--) {
            int o = a->in[side], ri = g->t[o].producer;
            if (ri < 0 || !keep[ri] || g->n[ri].op != LLMC_OP_RMSNORM || llmc_tensor_uses(g, o) != 1)
                continue;
            const LlmcNode *r = &g->n[ri];
            a->in[side] = a->in[1 - side]; /* the sum is symmetric: the normed addend goes second */
            a->in[1] = r->in[0];
            a->in[3] = r->in[1];
            a->n_in = 4;
            llmc_attr_set_float(g, a, "pre_eps", llmc_attr_float(r, "eps", 1e-5));
            keep[ri] = 0;
            break;
        }
    }
    llmc_graph_compact(g, keep);
    free(keep);
    return LLMC_OK;
}
