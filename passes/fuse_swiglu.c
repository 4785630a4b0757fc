/* fuse_swiglu — mul(silu(g), u) (either operand order) becomes swiglu(g, u) when the silu's result
 * has no other use: one elementwise kernel instead of two, and no intermediate. The same for the
 * GeLU gate (Gemma): mul(gelu_tanh(g), u) becomes geglu(g, u).
 *
 * requires: infer_shapes
 * provides: SWIGLU and GEGLU nodes; the silu / gelu_tanh nodes they absorb are removed
 */
#include <stdlib.h>

#include "passes.h"

LlmcStatus pass_fuse_swiglu(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    uint8_t *keep = malloc((size_t)g->nn + 1);
    if (!keep)
        return llmc_fail(d, "fuse_swiglu: out of memory");
    for (int i = 0; i < g->nn; i++)
        keep[i] = 1;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode *m = &g->n[i];
        if (m->op != LLMC_OP_MUL)
            continue;
        for (int side = 0; side < 2; side++) {
            int s = g->t[m->in[side]].producer;
            if (s < 0 || (g->n[s].op != LLMC_OP_SILU && g->n[s].op != LLMC_OP_GELU_TANH) || !keep[s] ||
                llmc_tensor_uses(g, m->in[side]) != 1)
                continue;
            int gate = g->n[s].in[0], up = m->in[1 - side];
            m->op = g->n[s].op == LLMC_OP_SILU ? LLMC_OP_SWIGLU : LLMC_OP_GEGLU;
            m->in[0] = gate;
            m->in[1] = up;
            keep[s] = 0;
            break;
        }
    }
    llmc_graph_compact(g, keep);
    free(keep);
    return LLMC_OK;
}
