/* fuse_matmuls — matmuls that read the same activation become one matmul over the row-concatenated
 * weight, followed by column slices (views, no copies). On a Llama layer this merges Q/K/V into one
 * projection and gate/up into another: one pass over the activation, one launch, longer rows.
 *
 * requires: infer_shapes
 * provides: merged weights (LlmcWeightSrc.parts) and SLICE views replacing the merged matmuls'
 *           outputs; the merged matmul stands where the first member stood
 * invalidates: nothing (shapes of all surviving values unchanged)
 *
 * A group is the matmuls reading the same input whose weights share the file dtype and column
 * count (and, stored quantized by the checkpoint, its quantization), and which all have a bias or
 * all have none (at most LLMC_MAX_PARTS members).
 */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* Weights the checkpoint stores quantized merge only with ones quantized alike (encoding, group,
 * zero points, the per-tensor scale): the merged weight has one layout. (Act-order ones read their input through their
 * permutation's gather: equal permutations read the same tensor, others never meet here.) */
static int same_prequant(const LlmcGraph *g, const LlmcPrequant *a, const LlmcPrequant *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == LLMC_PQ_NONE)
        return 1;
    if (a->format != b->format || a->group != b->group || a->zeros != b->zeros)
        return 0;
    /* One per-tensor value (NVFP4's tensor scale) for the merged matrix: the parts' must be one tensor
     * (the importer binds equal ones to one). */
    int m = llmc_pq_tensor_member(a->kind);
    if (m < 0)
        return 1;
    const LlmcWeightSrc *x = &g->t[a->member[m]].src, *y = &g->t[b->member[m]].src;
    return strcmp(x->file, y->file) == 0 && x->tensor && y->tensor && strcmp(x->tensor, y->tensor) == 0 &&
           x->offset == y->offset;
}

static int same_group(const LlmcGraph *g, const LlmcNode *a, const LlmcNode *b)
{
    const LlmcTensor *wa = &g->t[a->in[1]], *wb = &g->t[b->in[1]];
    return b->op == LLMC_OP_MATMUL && b->in[0] == a->in[0] && b->n_in == a->n_in &&
           wa->src.file_dtype == wb->src.file_dtype && wa->dtype == wb->dtype &&
           wa->shape.dim[1] == wb->shape.dim[1] && !wa->src.n_parts && !wb->src.n_parts &&
           same_prequant(g, &wa->src.pq, &wb->src.pq);
}

/* The merged weight for weight inputs `idx` (1: matrix, 2: bias) of the members. */
static int concat_weight(LlmcGraph *g, const int *members, int n, int idx)
{
    char name[512] = "";
    int64_t rows = 0;
    for (int m = 0; m < n; m++) {
        const LlmcTensor *w = &g->t[g->n[members[m]].in[idx]];
        size_t k = strlen(name);
        snprintf(name + k, sizeof name - k, "%s%s", m ? "+" : "", w->name);
        rows += w->shape.dim[0];
    }
    const LlmcTensor *w0 = &g->t[g->n[members[0]].in[idx]];
    LlmcShape s = w0->shape;
    s.dim[0] = rows;
    int t = llmc_tensor_new(g, name, LLMC_T_WEIGHT, w0->dtype, &s);
    LlmcTensor *tt = &g->t[t];
    w0 = &g->t[g->n[members[0]].in[idx]];
    tt->src.file_dtype = w0->src.file_dtype;
    tt->src.pq = w0->src.pq; /* the parts' quantization (their members are theirs) */
    for (int i = 0; i < LLMC_PQ_MEMBERS; i++)
        tt->src.pq.member[i] = -1;
    tt->src.n_parts = n;
    tt->src.parts = llmc_galloc(g, sizeof(int) * (size_t)n);
    tt->src.where = w0->src.where;
    for (int m = 0; m < n; m++)
        tt->src.parts[m] = g->n[members[m]].in[idx];
    return t;
}

LlmcStatus pass_fuse_matmuls(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    (void)d;
    int nn = g->nn;
    uint8_t *done = calloc((size_t)nn + 1, 1);
    LlmcNode *out = malloc(((size_t)nn * 2 + 1) * sizeof *out);
    if (!done || !out) {
        free(done);
        free(out);
        return llmc_fail(d, "fuse_matmuls: out of memory");
    }
    /* next[i]: the next matmul after node i reading the same activation (-1: none), so that a
     * group is found by walking its readers, not by scanning every later node (linear work in
     * the layer count). */
    int *next = malloc(((size_t)nn + 1) * sizeof *next), *last = malloc(((size_t)g->nt + 1) * sizeof *last);
    if (!next || !last) {
        free(done);
        free(out);
        free(next);
        free(last);
        return llmc_fail(d, "fuse_matmuls: out of memory");
    }
    for (int t = 0; t < g->nt; t++)
        last[t] = -1;
    for (int i = nn - 1; i >= 0; i--) {
        next[i] = -1;
        if (g->n[i].op == LLMC_OP_MATMUL) {
            next[i] = last[g->n[i].in[0]];
            last[g->n[i].in[0]] = i;
        }
    }
    int k = 0;
    for (int i = 0; i < nn; i++) {
        if (done[i])
            continue;
        LlmcNode *a = &g->n[i];
        int members[LLMC_MAX_PARTS], n = 1;
        members[0] = i;
        if (a->op == LLMC_OP_MATMUL)
            for (int j = next[i]; j >= 0 && n < LLMC_MAX_PARTS; j = next[j])
                if (!done[j] && same_group(g, a, &g->n[j]))
                    members[n++] = j;
        if (n == 1) {
            out[k++] = *a;
            continue;
        }
        int w = concat_weight(g, members, n, 1);
        int b = a->n_in == 3 ? concat_weight(g, members, n, 2) : -1;
        a = &g->n[i]; /* the tensor table may have moved; nodes did not */
        int64_t cols = g->t[w].shape.dim[0];
        LlmcShape ys = g->t[a->out[0]].shape;
        ys.dim[1] = cols;
        char name[300];
        snprintf(name, sizeof name, "%s.merged", g->t[a->out[0]].name);
        int y = llmc_tensor_new(g, name, LLMC_T_VALUE, LLMC_F32, &ys);
        int ins[3] = {a->in[0], w, b};
        LlmcNode mm = llmc_node_make(LLMC_OP_MATMUL, b >= 0 ? 3 : 2, ins, 1, &y);
        mm.layer = a->layer;
        mm.where = a->where;
        out[k++] = mm;
        int64_t start = 0;
        for (int m = 0; m < n; m++) {
            LlmcNode *src = &g->n[members[m]];
            int o = src->out[0];
            LlmcNode sl = llmc_node_make(LLMC_OP_SLICE, 1, &y, 1, &o);
            sl.layer = src->layer;
            sl.where = src->where;
            llmc_attr_set_int(g, &sl, "start", start);
            llmc_attr_set_int(g, &sl, "n", g->t[o].shape.dim[1]);
            g->t[o].view_of = y;
            g->t[o].view_col = start;
            start += g->t[o].shape.dim[1];
            out[k++] = sl;
            done[members[m]] = 1;
        }
    }
    free(g->n);
    g->n = out;
    g->nn = k;
    g->cap_n = nn * 2 + 1;
    free(done);
    free(next);
    free(last);
    llmc_graph_reindex(g);
    return LLMC_OK;
}
