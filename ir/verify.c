/* verify.c — the IR verifier: structure (arity, valid ids, one producer per value, definitions before
 * uses, views of live values), shapes (every node's recorded output shapes equal what its shape
 * rule gives) and storage (formats of the table, layouts their format allows). Runs after shape
 * inference and, in debug builds, after every pass. */
#include <stdlib.h>

#include "ir.h"

/* A layout is consistent with its format: groups only for a format with a scale format, a scale
 * tensor of that format with a column for each group of a row (the last may be short), zero points only with groups, a
 * known element order. `what` names the tensor or the KV cache in the message. */
static LlmcStatus check_layout(const LlmcGraph *g, LlmcDType fmt, const LlmcLayout *l, const LlmcShape *s,
                               const char *what, LlmcDiag *d)
{
    const LlmcFormatTraits *ft = llmc_format(fmt);
    if (l->order < 0 || l->order >= LLMC_ORDER_COUNT)
        return llmc_fail(d, "verify: %s has element order %d", what, l->order);
    if (l->order == LLMC_ORDER_LANE8 &&
        (ft->scale == LLMC_FMT_NONE || !s || s->rank < 1 || llmc_cols(s) % llmc_order_tile(fmt)))
        return llmc_fail(d, "verify: %s: order lane8 needs a quantized format and whole tiles of %lld a row", what,
                         (long long)llmc_order_tile(fmt));
    if (l->group == 0) {
        if (l->scale >= 0 || l->zero >= 0)
            return llmc_fail(d, "verify: %s has scales or zero points but no groups", what);
        return LLMC_OK;
    }
    if (l->group < 0 || ft->scale == LLMC_FMT_NONE)
        return llmc_fail(d, "verify: %s: groups of %d in format %s, which has no scales", what, (int)l->group,
                         ft->name);
    if (l->scale < 0 || l->scale >= g->nt || (l->zero >= g->nt))
        return llmc_fail(d, "verify: %s: grouped layout without a valid scale tensor", what);
    const LlmcTensor *sc = &g->t[l->scale];
    if (sc->dtype != (LlmcDType)ft->scale)
        return llmc_fail(d, "verify: %s: scales %s are %s, format %s takes %s", what, sc->name,
                         llmc_dtype_name(sc->dtype), ft->name, llmc_dtype_name((LlmcDType)ft->scale));
    /* ceil(cols / group) scales a row: the last group of a row may be short. */
    if (s && (s->rank < 1 || s->sym[s->rank - 1] != LLMC_DIM_CONST || sc->shape.rank < 1 ||
              llmc_cols(&sc->shape) != (llmc_cols(s) + l->group - 1) / l->group))
        return llmc_fail(d, "verify: %s: its groups of %d do not match its scales %s", what, (int)l->group,
                         sc->name);
    if (l->zero >= 0 && (g->t[l->zero].shape.rank != sc->shape.rank ||
                         llmc_cols(&g->t[l->zero].shape) != llmc_cols(&sc->shape)))
        return llmc_fail(d, "verify: %s: its zero points %s are not shaped like its scales", what,
                         g->t[l->zero].name);
    return LLMC_OK;
}

static LlmcStatus check_storage(const LlmcGraph *g, LlmcDiag *d)
{
    for (int i = 0; i < g->nt; i++) {
        const LlmcTensor *t = &g->t[i];
        if ((unsigned)t->dtype >= LLMC_DTYPE_COUNT)
            return llmc_fail(d, "verify: tensor %s has format %d", t->name, (int)t->dtype);
        static const unsigned use[] = {[LLMC_T_INPUT] = LLMC_FMT_INDEX, [LLMC_T_WEIGHT] = LLMC_FMT_WEIGHT,
                                       [LLMC_T_VALUE] = LLMC_FMT_ACT};
        if (!(llmc_format(t->dtype)->flags & use[t->kind]))
            return llmc_fail(d, "verify: %s is stored as %s, which is no format for its kind of tensor", t->name,
                             llmc_dtype_name(t->dtype));
        if (t->kind != LLMC_T_WEIGHT && !llmc_layout_is_plain(&t->layout))
            return llmc_fail(d, "verify: %s is not a weight but has a grouped or shuffled layout", t->name);
        if (check_layout(g, t->dtype, &t->layout, &t->shape, t->name, d))
            return LLMC_ERR;
    }
    if (g->kv_layers > 0) {
        if ((unsigned)g->kv_format >= LLMC_DTYPE_COUNT || !(llmc_format(g->kv_format)->flags & LLMC_FMT_KV))
            return llmc_fail(d, "verify: the KV cache has format %s, not a KV format", llmc_dtype_name(g->kv_format));
        if (g->kv_layout.scale >= 0 || g->kv_layout.zero >= 0)
            return llmc_fail(d, "verify: the KV cache's layout names scale tensors (its scales live in the pool)");
        if (g->kv_layout.order < 0 || g->kv_layout.order >= LLMC_ORDER_COUNT)
            return llmc_fail(d, "verify: the KV cache has element order %d", g->kv_layout.order);
        if (g->kv_layout.group && llmc_format(g->kv_format)->scale == LLMC_FMT_NONE)
            return llmc_fail(d, "verify: the KV cache has groups in format %s, which has no scales",
                             llmc_dtype_name(g->kv_format));
    }
    return LLMC_OK;
}

LlmcStatus llmc_graph_verify(const LlmcGraph *g, LlmcDiag *d)
{
    char sa[96], sb[96];
    uint8_t *defined = calloc((size_t)g->nt + 1, 1);
    if (!defined)
        return llmc_fail(d, "verify: out of memory");
    LlmcStatus st = check_storage(g, d);
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
