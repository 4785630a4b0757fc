/* plan_memory — one activation arena sized at compile time, buffers reused by liveness; offsets of
 * the packed weights.
 *
 * Every value gets an arena offset and size computed for the largest step (T = max_tokens rows,
 * O = max_outputs). Walking the nodes in order, a node's outputs are placed first-fit among the
 * live buffers, then the buffers whose last reader is this node are released (so an output never
 * shares memory with an input of the same node). A view lives as long as its last reader and keeps
 * its source alive. The graph output is written straight to the step's logits buffer and takes no
 * arena space. Weights are laid out in order of first use, 64-byte aligned.
 *
 * requires: every earlier pass (shapes and dtypes final)
 * provides: LlmcTensor.offset/bytes for values and weights; g->arena_bytes, g->weights_bytes
 * Run again after later passes (the GPU stage, plan_memory_gpu), it plans the arena anew and keeps
 * the weights where they are, so the packed weights serve both stages' code. There a select_rows
 * whose input nothing reads after it writes in place (llmc_rows_in_place): its output takes the
 * input's buffer, so that a step whose O rows are its T rows in order (every decode step) has no
 * copy to make, and forward() launches nothing for it (cuda_rows.c). The CPU stage keeps the copy:
 * a row copy costs a CPU step next to nothing, and its select_rows reads and writes apart.
 */
#include <stdlib.h>

#include "passes.h"

#define ALIGN 64

static int64_t align_up(int64_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

typedef struct Live {
    int64_t off, size;
    int tensor;
} Live;

static int root(const LlmcGraph *g, int t)
{
    while (g->t[t].view_of >= 0)
        t = g->t[t].view_of;
    return t;
}

/* The input whose buffer select_rows node i's output t may take (rows_in_place), else -1: a value in
 * the arena, not a view (its rows are dense, as t's), that no node after i reads (last), whose buffer
 * (sized for max_tokens rows) holds t's rows (max_outputs). */
static int rows_source(const LlmcGraph *g, const LlmcNode *n, int t, const int *last, int i)
{
    if (n->op != LLMC_OP_SELECT_ROWS)
        return -1;
    int x = n->in[0];
    const LlmcTensor *xt = &g->t[x];
    if (xt->kind != LLMC_T_VALUE || xt->view_of >= 0 || xt->offset < 0 || last[x] != i || xt->dtype != g->t[t].dtype ||
        llmc_cols(&xt->shape) != llmc_cols(&g->t[t].shape) || align_up(llmc_tensor_bytes(g, t)) > xt->bytes)
        return -1;
    return x;
}

static LlmcStatus plan(LlmcGraph *g, int rows_in_place, LlmcDiag *d)
{
    int nt = g->nt;
    int *last = malloc(((size_t)nt + 1) * sizeof *last);
    Live *live = malloc(((size_t)nt + 1) * sizeof *live);
    if (!last || !live) {
        free(last);
        free(live);
        return llmc_fail(d, "plan_memory: out of memory");
    }
    for (int t = 0; t < nt; t++) {
        last[t] = g->t[t].producer;
        if (g->t[t].kind == LLMC_T_WEIGHT && g->weights_bytes > 0)
            continue; /* planned again (GPU stage): weights keep their offsets */
        g->t[t].offset = -1;
        g->t[t].bytes = 0;
    }
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_in; j++) {
            int r = root(g, g->n[i].in[j]);
            if (last[r] < i)
                last[r] = i;
        }

    int nlive = 0;
    int64_t arena = 0;
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        for (int j = 0; j < n->n_out; j++) {
            int t = n->out[j];
            LlmcTensor *tt = &g->t[t];
            if (tt->view_of >= 0 || t == g->logits)
                continue;
            int64_t size = align_up(llmc_tensor_bytes(g, t));
            int x = rows_in_place ? rows_source(g, n, t, last, i) : -1;
            if (x >= 0) { /* t takes x's place in the live buffers (x's last reader is this node) */
                for (int m = 0; m < nlive; m++)
                    if (live[m].tensor == x)
                        live[m].tensor = t;
                tt->offset = g->t[x].offset;
                tt->bytes = size;
                continue;
            }
            /* First fit: live is sorted by offset. */
            int64_t off = 0;
            int pos = 0;
            for (; pos < nlive; pos++) {
                if (live[pos].off - off >= size)
                    break;
                off = live[pos].off + live[pos].size;
            }
            for (int k = nlive; k > pos; k--)
                live[k] = live[k - 1];
            live[pos] = (Live){off, size, t};
            nlive++;
            tt->offset = off;
            tt->bytes = size;
            if (off + size > arena)
                arena = off + size;
        }
        int k = 0;
        for (int m = 0; m < nlive; m++)
            if (last[live[m].tensor] > i)
                live[k++] = live[m];
        nlive = k;
    }
    for (int t = 0; t < nt; t++) {
        LlmcTensor *tt = &g->t[t];
        if (tt->view_of >= 0) {
            int r = root(g, t);
            int64_t col = 0;
            for (int v = t; v != r; v = g->t[v].view_of)
                col += g->t[v].view_col;
            tt->offset = g->t[r].offset >= 0 ? g->t[r].offset + llmc_format_bytes(tt->dtype, col) : -1;
        }
    }
    g->arena_bytes = arena;

    if (g->weights_bytes > 0) {
        free(last);
        free(live);
        return LLMC_OK;
    }
    int64_t woff = 0;
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_in; j++) {
            int wt = g->n[i].in[j];
            LlmcTensor *w = &g->t[wt];
            if (w->kind != LLMC_T_WEIGHT || w->offset >= 0)
                continue;
            w->offset = woff;
            w->bytes = llmc_tensor_bytes(g, wt);
            woff = align_up(woff + w->bytes);
            /* A quantized weight's side tensors (scales, zero points) follow it, in its format's order. */
            for (int k = 0; k < LLMC_MAX_SIDES; k++) {
                int s = w->layout.side[k];
                if (s < 0 || g->t[s].offset >= 0)
                    continue;
                g->t[s].offset = woff;
                g->t[s].bytes = llmc_tensor_bytes(g, s);
                woff = align_up(woff + g->t[s].bytes);
            }
        }
    g->weights_bytes = woff;
    free(last);
    free(live);
    return LLMC_OK;
}

LlmcStatus pass_plan_memory(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    return plan(g, 0, d);
}

LlmcStatus pass_plan_memory_gpu(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    return plan(g, 1, d);
}
