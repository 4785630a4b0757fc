/* fuse_residual_epilogue — the residual add moves into the matmul that produces its addend:
 *     o = matmul(a, W); s = add(x, o)                 ->  s = matmul_fused(a, W, residual=x)
 *     o = matmul(a, W); s, y = add_rmsnorm(x, o, w)   ->  s = matmul_fused(a, W, residual=x);
 *                                                         y = rmsnorm(s, w)
 * (o used by nothing else). The sum is written once by the matmul's epilogue instead of an extra
 * pass over the row. A mixture-of-experts block's output likewise: its combine kernel adds x
 * (moe gains the residual input).
 *
 * requires: the common pipeline (GPU stage)
 * provides: MATMUL_FUSED and MOE with a residual input; the arena must be planned again
 */
#include <stdlib.h>

#include "passes.h"

/* Turns node m (MATMUL or MATMUL_FUSED) into a matmul_fused and returns it. */
LlmcNode *llmc_as_fused_matmul(LlmcGraph *g, LlmcNode *m)
{
    if (m->op == LLMC_OP_MATMUL) {
        int has_bias = m->n_in == 3;
        m->op = LLMC_OP_MATMUL_FUSED;
        if (has_bias)
            llmc_attr_set_int(g, m, "bias", 2);
    }
    return m;
}

/* Appends input t to fused matmul m under attribute key. */
void llmc_fused_add_input(LlmcGraph *g, LlmcNode *m, const char *key, int t)
{
    m->in[m->n_in] = t;
    llmc_attr_set_int(g, m, key, m->n_in);
    m->n_in++;
}

LlmcStatus pass_fuse_residual_epilogue(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    uint8_t *keep = malloc((size_t)g->nn + 1);
    if (!keep)
        return llmc_fail(d, "fuse_residual_epilogue: out of memory");
    for (int i = 0; i < g->nn; i++)
        keep[i] = 1;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode *a = &g->n[i];
        if ((a->op != LLMC_OP_ADD && a->op != LLMC_OP_ADD_RMSNORM) || a->n_in > 3) /* (4: b is normed first) */
            continue;
        for (int side = 0; side < 2; side++) {
            int o = a->in[side], x = a->in[1 - side];
            int mi = g->t[o].producer;
            if (mi < 0 || !keep[mi] || llmc_tensor_uses(g, o) != 1)
                continue;
            LlmcNode *m = &g->n[mi];
            if ((m->op != LLMC_OP_MATMUL && m->op != LLMC_OP_MATMUL_FUSED && m->op != LLMC_OP_MOE) ||
                llmc_attr(m, "residual") || m->n_in >= LLMC_MAX_IN)
                continue;
            /* x must be available where the matmul runs: produced before it. */
            if (g->t[x].producer >= mi)
                continue;
            int s = a->out[0];
            if (m->op != LLMC_OP_MOE)
                m = llmc_as_fused_matmul(g, m);
            llmc_fused_add_input(g, m, "residual", x);
            m->out[0] = s;
            if (a->op == LLMC_OP_ADD) {
                keep[i] = 0;
            } else { /* the norm stays: y = rmsnorm(s, w) */
                a->op = LLMC_OP_RMSNORM;
                a->in[0] = s;
                a->in[1] = a->in[2];
                a->n_in = 2;
                a->out[0] = a->out[1];
                a->n_out = 1;
            }
            break;
        }
    }
    llmc_graph_compact(g, keep);
    free(keep);
    return LLMC_OK;
}
