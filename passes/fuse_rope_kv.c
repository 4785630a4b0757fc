/* fuse_rope_kv — RoPE of q and k and the KV write become one kernel:
 *     q' = rope(q); k' = rope(k); kv_write(k', v, slots); a = paged_attention(q', pos)
 *       ->  q' = rope_kv_write(q, k, v, pos, slots); a = paged_attention(q', pos)
 * One launch reads the Q/K/V slices once: it rotates q into a buffer and writes the rotated k and
 * v into their slots of the paged cache (k' is never written to the arena). Where q and k are
 * each normed a head at a time first (head_rmsnorm: Qwen3, Gemma 3) and nothing else reads the
 * norms, those join it too: rope_kv_write(q, k, v, pos, slots, q_norm, k_norm), eps.
 *
 * requires: lower_paged_kv (GPU stage)
 * provides: ROPE_KV_WRITE nodes (rope attributes, layer, head_dim; eps with the norms)
 */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

LlmcStatus pass_fuse_rope_kv(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    uint8_t *keep = malloc((size_t)g->nn + 1);
    if (!keep)
        return llmc_fail(d, "fuse_rope_kv: out of memory");
    for (int i = 0; i < g->nn; i++)
        keep[i] = 1;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode *w = &g->n[i];
        if (w->op != LLMC_OP_KV_WRITE)
            continue;
        int rk = g->t[w->in[0]].producer;
        if (rk < 0 || g->n[rk].op != LLMC_OP_ROPE || llmc_tensor_uses(g, w->in[0]) != 1)
            continue;
        /* The attention of the same layer, right after, reading a rope of q. */
        int ai = -1;
        for (int c = i + 1; c < g->nn && ai < 0; c++)
            if (g->n[c].op == LLMC_OP_PAGED_ATTENTION && llmc_attr_int(&g->n[c], "layer", -1) == llmc_attr_int(w, "layer", -2))
                ai = c;
        if (ai < 0)
            continue;
        int rq = g->t[g->n[ai].in[0]].producer;
        if (rq < 0 || g->n[rq].op != LLMC_OP_ROPE || llmc_tensor_uses(g, g->n[ai].in[0]) != 1 ||
            !llmc_rope_same(&g->n[rq], &g->n[rk]) || g->n[rq].in[1] != g->n[rk].in[1])
            continue;
        const LlmcNode *qn = &g->n[rq], *kn = &g->n[rk];
        /* q and k each normed a head at a time, read by their ropes alone, with the same eps */
        int nq = g->t[qn->in[0]].producer, nk = g->t[kn->in[0]].producer;
        int norms = nq >= 0 && nk >= 0 && g->n[nq].op == LLMC_OP_HEAD_RMSNORM && g->n[nk].op == LLMC_OP_HEAD_RMSNORM &&
                    llmc_tensor_uses(g, qn->in[0]) == 1 && llmc_tensor_uses(g, kn->in[0]) == 1 &&
                    llmc_attr_float(&g->n[nq], "eps", 1e-5) == llmc_attr_float(&g->n[nk], "eps", 1e-5) &&
                    llmc_attr_int(&g->n[nq], "head_dim", 0) == llmc_attr_int(qn, "head_dim", -1) &&
                    llmc_attr_int(&g->n[nk], "head_dim", 0) == llmc_attr_int(kn, "head_dim", -1);
        int ins[7] = {qn->in[0], kn->in[0], w->in[1], qn->in[1], w->in[2], -1, -1};
        if (norms) {
            ins[0] = g->n[nq].in[0];
            ins[1] = g->n[nk].in[0];
            ins[5] = g->n[nq].in[1];
            ins[6] = g->n[nk].in[1];
        }
        int out = qn->out[0];
        LlmcNode f = llmc_node_make(LLMC_OP_ROPE_KV_WRITE, norms ? 7 : 5, ins, 1, &out);
        f.layer = w->layer;
        f.where = w->where;
        for (int a = 0; a < qn->n_attr; a++)
            llmc_attr_copy(g, &f, &qn->attr[a]);
        llmc_attr_set_int(g, &f, "layer", llmc_attr_int(w, "layer", 0));
        if (norms) {
            llmc_attr_set_float(g, &f, "eps", llmc_attr_float(&g->n[nq], "eps", 1e-5));
            keep[nq] = 0;
            keep[nk] = 0;
        }
        g->n[i] = f; /* where the kv_write stood: q, k, v are ready there */
        keep[rq] = 0;
        keep[rk] = 0;
    }
    llmc_graph_compact(g, keep);
    free(keep);
    return LLMC_OK;
}
