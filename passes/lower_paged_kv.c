/* lower_paged_kv — attention over a paged KV cache.
 *
 * The KV cache is a pool of fixed-size blocks (kv_block_size positions each) shared by all layers:
 * a block holds, for every layer, the K and V rows of its positions. Each sequence owns a block
 * table; its position p lives in block table[p / bs] at offset p % bs. Every `attention` node
 * becomes
 *     kv_write(k, v, slots)           the step's new K/V rows go to their slots (slot mapping)
 *     paged_attention(q, positions)   each query reads positions 0..p of its sequence through the
 *                                     block table (the step's own rows included)
 * and gets the next layer index of the pool.
 *
 * requires: infer_shapes
 * provides: the step input %slots (i32[T]); KV_WRITE/PAGED_ATTENTION nodes with layer, head_dim,
 *           n_kv_heads; g->kv_layers, kv_heads, kv_head_dim
 * errors:   attention layers with different K/V shapes (the pool has one layout)
 */
#include <math.h>
#include <stdlib.h>

#include "passes.h"

LlmcStatus pass_lower_paged_kv(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    int n_att = 0;
    for (int i = 0; i < g->nn; i++)
        n_att += g->n[i].op == LLMC_OP_ATTENTION;
    if (!n_att)
        return LLMC_OK;
    LlmcShape ts = llmc_shape1(LLMC_T);
    g->in_slots = llmc_tensor_new(g, "slots", LLMC_T_INPUT, LLMC_I32, &ts);
    LlmcNode *out = malloc(((size_t)g->nn + (size_t)n_att + 1) * sizeof *out);
    if (!out)
        return llmc_fail(d, "lower_paged_kv: out of memory");
    int k = 0, layer = 0;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode n = g->n[i];
        if (n.op != LLMC_OP_ATTENTION) {
            out[k++] = n;
            continue;
        }
        int64_t hd = llmc_attr_int(&n, "head_dim", 0);
        int64_t kvh = llmc_cols(&g->t[n.in[1]].shape) / hd;
        if (layer == 0) {
            g->kv_heads = (int)kvh;
            g->kv_head_dim = (int)hd;
        } else if (kvh != g->kv_heads || hd != g->kv_head_dim) {
            free(out);
            return llmc_fail(d, "%s: attention with %lld KV heads of dim %lld; earlier layers have %d of dim %d "
                             "(the paged KV pool has one layout for all layers)",
                             n.where, (long long)kvh, (long long)hd, g->kv_heads, g->kv_head_dim);
        }
        int wins[3] = {n.in[1], n.in[2], g->in_slots};
        LlmcNode w = llmc_node_make(LLMC_OP_KV_WRITE, 3, wins, 0, NULL);
        w.layer = n.layer;
        w.where = n.where;
        llmc_attr_set_int(g, &w, "layer", layer);
        llmc_attr_set_int(g, &w, "head_dim", hd);
        out[k++] = w;
        int ains[2] = {n.in[0], g->in_positions};
        LlmcNode a = llmc_node_make(LLMC_OP_PAGED_ATTENTION, 2, ains, 1, n.out);
        a.layer = n.layer;
        a.where = n.where;
        llmc_attr_set_int(g, &a, "layer", layer);
        llmc_attr_set_int(g, &a, "head_dim", hd);
        llmc_attr_set_int(g, &a, "n_kv_heads", kvh);
        llmc_attr_set_float(g, &a, "scale", llmc_attr_float(&n, "scale", 1.0 / sqrt((double)hd)));
        llmc_attr_set_int(g, &a, "window", llmc_attr_int(&n, "window", 0));
        out[k++] = a;
        layer++;
    }
    free(g->n);
    g->n = out;
    g->nn = k;
    g->cap_n = k;
    g->kv_layers = layer;
    llmc_graph_reindex(g);
    return LLMC_OK;
}
