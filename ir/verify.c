/* verify.c — the IR verifier: structure (arity, valid ids, one producer per value, definitions before
 * uses, views of live values) and shapes (every node's recorded output shapes equal what its shape
 * rule gives). Runs after shape inference and, in debug builds, after every pass. */
#include <stdlib.h>

#include "ir.h"

LlmcStatus llmc_graph_verify(const LlmcGraph *g, LlmcDiag *d)
{
    char sa[96], sb[96];
    uint8_t *defined = calloc((size_t)g->nt + 1, 1);
    if (!defined)
        return llmc_fail(d, "verify: out of memory");
    LlmcStatus st = LLMC_OK;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].kind != LLMC_T_VALUE)
            defined[i] = 1;
    for (int i = 0; i < g->nn && !st; i++) {
        const LlmcNode *n = &g->n[i];
        const LlmcOpInfo *info = &llmc_op_info[n->op];
        if ((unsigned)n->op >= LLMC_OP_COUNT) {
            st = llmc_fail(d, "verify: node %d has op %d", i, (int)n->op);
            break;
        }
        if (n->n_in < info->min_in || n->n_in > info->max_in || n->n_out != info->n_out) {
            st = llmc_fail(d, "verify: node %d (%s) has %d inputs and %d outputs", i, info->name, n->n_in,
                           n->n_out);
            break;
        }
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (t < 0 || t >= g->nt) {
                st = llmc_fail(d, "verify: node %d (%s) input %d is tensor %d", i, info->name, j, t);
                break;
            }
            if (!defined[t]) {
                st = llmc_fail(d, "verify: node %d (%s) reads %%%s before it is produced", i, info->name,
                               g->t[t].name);
                break;
            }
        }
        if (st)
            break;
        LlmcShape shapes[LLMC_MAX_OUT];
        LlmcDType dts[LLMC_MAX_OUT];
        if (llmc_infer_node(g, n, shapes, dts, d)) {
            st = LLMC_ERR;
            break;
        }
        for (int j = 0; j < n->n_out; j++) {
            int t = n->out[j];
            if (t < 0 || t >= g->nt || g->t[t].kind != LLMC_T_VALUE || defined[t] || g->t[t].producer != i) {
                st = llmc_fail(d, "verify: node %d (%s) output %d (tensor %d) is not a fresh value it produces",
                               i, info->name, j, t);
                break;
            }
            const LlmcTensor *tt = &g->t[t];
            if (!llmc_shape_eq(&tt->shape, &shapes[j]) || tt->dtype != dts[j]) {
                st = llmc_fail(d, "verify: node %d (%s) output %%%s is %s%s, its rule gives %s%s", i,
                               info->name, tt->name, llmc_dtype_name(tt->dtype),
                               llmc_shape_str(&tt->shape, sa, sizeof sa), llmc_dtype_name(dts[j]),
                               llmc_shape_str(&shapes[j], sb, sizeof sb));
                break;
            }
            if ((info->flags & OPF_VIEW) ? tt->view_of != n->in[0] : tt->view_of >= 0) {
                st = llmc_fail(d, "verify: node %d (%s) output %%%s has a wrong view source", i, info->name,
                               tt->name);
                break;
            }
            defined[t] = 1;
        }
    }
    if (!st && g->logits >= 0 && !defined[g->logits])
        st = llmc_fail(d, "verify: the output %%%s is never produced", g->t[g->logits].name);
    free(defined);
    return st;
}
