/* act_order — a matmul whose weight the checkpoint stores with K permuted reads its input gathered
 * the same way: x' = gather_cols(x, perm), y = matmul(x', W).
 *
 * GPTQ's act-order (desc_act) quantizes the inputs of a layer in a permuted order and groups them
 * in that order, so a group's columns are scattered along K (g_idx). The importer keeps the groups
 * contiguous by storing W's columns permuted (column j holds input perm[j]: docs/formats.md); the
 * matmul then needs x[perm[j]] at column j. perm is an i32 weight the weight source computes from
 * the g_idx tensor (src.perm_group). Matmuls reading the same input through the same g_idx tensor
 * (the importer binds equal permutations to one tensor: Q/K/V, gate/up) share one gather, so that
 * fuse_matmuls still merges them; matmuls with different permutations read different inputs and
 * stay apart.
 *
 * requires: infer_shapes
 * provides: gather_cols nodes (each right before the first matmul that reads it) and their i32
 *           weights W.perm
 * invalidates: nothing (the matmuls' shapes are unchanged)
 * errors:   an act-order matrix read other than as a matmul's weight (an embedding table, say)
 */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

typedef struct Gather {
    int x;                        /* the input */
    int gidx;                     /* the g_idx tensor the permutation comes from */
    int32_t group;
    int y;                        /* the gathered input */
} Gather;

static int same_gidx(const LlmcTensor *a, const LlmcTensor *b)
{
    return strcmp(a->src.file, b->src.file) == 0 && a->src.tensor && b->src.tensor &&
           strcmp(a->src.tensor, b->src.tensor) == 0;
}

LlmcStatus pass_act_order(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    int nn = g->nn, n_act = 0;
    for (int i = 0; i < nn; i++) {
        const LlmcNode *n = &g->n[i];
        if (n->op == LLMC_OP_MATMUL && g->t[n->in[1]].src.pq.act_order)
            n_act++;
        /* Its columns are stored permuted: only a matmul's weight reads them through a gather. */
        for (int j = 0; j < n->n_in; j++)
            if (g->t[n->in[j]].kind == LLMC_T_WEIGHT && g->t[n->in[j]].src.pq.act_order &&
                !(n->op == LLMC_OP_MATMUL && j == 1))
                return llmc_fail(d, "%s (%s): input %d, @%s, is an act-order matrix (its columns stored permuted "
                                 "by g_idx): only a matmul's weight may be one", n->where, llmc_op_info[n->op].name, j,
                                 g->t[n->in[j]].name);
    }
    if (!n_act)
        return LLMC_OK;
    LlmcNode *out = malloc(((size_t)nn + (size_t)n_act) * sizeof *out);
    Gather *gs = malloc((size_t)n_act * sizeof *gs);
    if (!out || !gs) {
        free(out);
        free(gs);
        return llmc_fail(d, "act_order: out of memory");
    }
    int k = 0, ng = 0;
    for (int i = 0; i < nn; i++) {
        LlmcNode n = g->n[i];
        const LlmcTensor *w = &g->t[n.in[1]];
        if (n.op != LLMC_OP_MATMUL || !w->src.pq.act_order) {
            out[k++] = n;
            continue;
        }
        int gidx = w->src.pq.member[3], found = -1;
        for (int j = 0; j < ng && found < 0; j++)
            if (gs[j].x == n.in[0] && gs[j].group == w->src.pq.group && same_gidx(&g->t[gs[j].gidx], &g->t[gidx]))
                found = j;
        if (found < 0) {
            char name[512];
            snprintf(name, sizeof name, "%s.perm", w->name);
            LlmcShape ps = llmc_shape1(w->shape.dim[1]);
            int perm = llmc_tensor_new(g, name, LLMC_T_WEIGHT, LLMC_I32, &ps);
            w = &g->t[n.in[1]]; /* the tensor table may have moved */
            LlmcTensor *pt = &g->t[perm];
            pt->src = g->t[gidx].src;
            pt->src.perm_group = w->src.pq.group;
            snprintf(name, sizeof name, "%s.in", w->name);
            LlmcShape xs = g->t[n.in[0]].shape;
            int y = llmc_tensor_new(g, name, LLMC_T_VALUE, LLMC_F32, &xs);
            int ins[2] = {n.in[0], perm};
            LlmcNode gn = llmc_node_make(LLMC_OP_GATHER_COLS, 2, ins, 1, &y);
            gn.layer = n.layer;
            gn.where = n.where;
            out[k++] = gn;
            gs[ng] = (Gather){n.in[0], gidx, w->src.pq.group, y};
            found = ng++;
        }
        n.in[0] = gs[found].y;
        out[k++] = n;
    }
    free(g->n);
    g->n = out;
    g->nn = k;
    g->cap_n = nn + n_act;
    free(gs);
    llmc_graph_reindex(g);
    return LLMC_OK;
}
