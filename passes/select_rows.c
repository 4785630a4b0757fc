/* select_rows — computes the tail of the graph only for the rows whose logits the step asks for.
 *
 * A prefill step of T tokens usually needs the logits of one row per sequence, so the row-wise tail
 * of the graph (everything after the last op that mixes tokens: for a Llama, the last layer's output
 * projection, FFN, final norm and lm_head) runs on O selected rows instead of T. The tail R is the
 * largest set of row-wise nodes, reading only f32 activations as per-row inputs, whose results are
 * used only inside R or are the graph output. Each activation entering R from outside is gathered
 * with select_rows(x, out_rows) just before R's first node when it exists there (so a residual that
 * R's first matmul adds is there for fuse_residual_epilogue: the last layer's output projection takes
 * the residual add in its epilogue like every other layer's), else just before its first use; R's
 * values become [O, n].
 *
 * requires: infer_shapes
 * provides: the step input %out_rows (i32[O]); SELECT_ROWS nodes; O-row values
 */
#include <stdlib.h>

#include "passes.h"

static int f32_rows_only(const LlmcGraph *g, const LlmcNode *n)
{
    for (int j = 0; j < n->n_in; j++) {
        const LlmcTensor *t = &g->t[n->in[j]];
        if (t->kind != LLMC_T_WEIGHT && t->dtype != LLMC_F32)
            return 0;
    }
    return 1;
}

/* select_rows(t, out_rows): tensor t's O rows, a new tensor (*o) */
static LlmcNode row_gather(LlmcGraph *g, int t, int *o)
{
    char name[300];
    snprintf(name, sizeof name, "%s.rows", g->t[t].name);
    LlmcShape s = llmc_shape2(LLMC_O, llmc_cols(&g->t[t].shape));
    *o = llmc_tensor_new(g, name, LLMC_T_VALUE, LLMC_F32, &s);
    int ins[2] = {t, g->in_out_rows};
    return llmc_node_make(LLMC_OP_SELECT_ROWS, 2, ins, 1, o);
}

/* Appends to out[*k] the gathers of node m's inputs from outside R (in_r) produced before node
 * `before` and not gathered yet (gathered[t]: tensor t's O-row copy), each at node n's place. */
static void gather_inputs(LlmcGraph *g, const LlmcNode *m, int before, const uint8_t *in_r, int *gathered,
                          const LlmcNode *n, LlmcNode *out, int *k)
{
    for (int j = 0; j < m->n_in; j++) {
        int t = m->in[j];
        const LlmcTensor *tt = &g->t[t];
        if (tt->kind == LLMC_T_WEIGHT || (tt->producer >= 0 && in_r[tt->producer]) || gathered[t] >= 0 ||
            tt->producer >= before)
            continue;
        int o;
        LlmcNode sel = row_gather(g, t, &o);
        sel.layer = n->layer;
        sel.where = n->where;
        out[(*k)++] = sel;
        gathered[t] = o;
    }
}

LlmcStatus pass_select_rows(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    int nn = g->nn;
    uint8_t *in_r = calloc((size_t)nn + 1, 1);
    int *gathered = malloc(((size_t)g->nt + 1) * sizeof *gathered); /* tensor -> its O-row copy */
    if (!in_r || !gathered) {
        free(in_r);
        free(gathered);
        return llmc_fail(d, "select_rows: out of memory");
    }
    /* Backwards: a node joins R when it is row-wise and every consumer of its outputs is in R
     * (consumers come later, so they are decided already). Per tensor: read by a decided node
     * (1), read by one outside R (2); linear in the graph's size. */
    uint8_t *reads = calloc((size_t)g->nt + 1, 1);
    if (!reads) {
        free(in_r);
        free(gathered);
        return llmc_fail(d, "select_rows: out of memory");
    }
    for (int i = nn - 1; i >= 0; i--) {
        const LlmcNode *n = &g->n[i];
        if ((llmc_op_info[n->op].flags & OPF_ROWWISE) && f32_rows_only(g, n)) {
            int ok = 1, used = 0;
            for (int j = 0; j < n->n_out; j++) {
                int t = n->out[j];
                used |= t == g->logits || reads[t] != 0;
                ok &= !(reads[t] & 2);
            }
            in_r[i] = ok && used;
        }
        for (int j = 0; j < n->n_in; j++)
            reads[n->in[j]] |= in_r[i] ? 1 : 3;
    }
    free(reads);
    LlmcShape os = llmc_shape1(LLMC_O);
    g->in_out_rows = llmc_tensor_new(g, "out_rows", LLMC_T_INPUT, LLMC_I32, &os);
    for (int t = 0; t < g->nt; t++)
        gathered[t] = -1;

    LlmcNode *out = malloc(((size_t)nn * 2 + 2) * sizeof *out);
    if (!out) {
        free(in_r);
        free(gathered);
        return llmc_fail(d, "select_rows: out of memory");
    }
    int k = 0, first = 0;
    while (first < nn && !in_r[first])
        first++;
    for (int i = 0; i < nn; i++) {
        LlmcNode n = g->n[i];
        if (i == first) /* every outside input of R produced before R */
            for (int r = i; r < nn; r++)
                if (in_r[r])
                    gather_inputs(g, &g->n[r], i, in_r, gathered, &n, out, &k);
        if (in_r[i]) {
            gather_inputs(g, &g->n[i], i, in_r, gathered, &n, out, &k); /* the rest: before first use */
            for (int j = 0; j < n.n_in; j++) {
                int t = n.in[j];
                const LlmcTensor *tt = &g->t[t];
                if (tt->kind != LLMC_T_WEIGHT && !(tt->producer >= 0 && in_r[tt->producer]))
                    n.in[j] = gathered[t];
            }
            for (int j = 0; j < n.n_out; j++)
                g->t[n.out[j]].shape.sym[0] = LLMC_DIM_O;
        }
        out[k++] = n;
    }
    /* An output computed by a node outside R (no row-wise tail): gather the logits themselves. */
    if (g->t[g->logits].shape.sym[0] == LLMC_DIM_T) {
        int o;
        LlmcNode sel = row_gather(g, g->logits, &o);
        sel.where = g->n[nn - 1].where;
        out[k++] = sel;
        g->logits = o;
    }
    free(g->n);
    g->n = out;
    g->nn = k;
    g->cap_n = nn * 2 + 1;
    llmc_graph_reindex(g);
    free(in_r);
    free(gathered);
    return LLMC_OK;
}
