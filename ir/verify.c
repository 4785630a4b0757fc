/* verify.c — the IR verifier: structure (arity, valid ids, one producer per value, definitions before
 * uses, views of live values), shapes (every node's recorded output shapes equal what its shape
 * rule gives) and storage (formats of the table, layouts their format allows). Runs after shape
 * inference and, in debug builds, after every pass. */
#include <stdlib.h>

#include "ir.h"
#include "kv_layout.h"

/* Whether format fmt has a side of shape rule `shape`. */
static int has_side_shape(LlmcDType fmt, int shape)
{
    for (int i = 0; i < llmc_format_n_sides(fmt); i++)
        if (llmc_format(fmt)->side[i].shape == shape)
            return 1;
    return 0;
}

/* A layout is consistent with its format: groups only for a format with a per-group side; each side
 * tensor the format's list names (formats.def), in its format and shaped by its rule (GROUP: a column
 * for each group of a row, the last may be short), the optional ones possibly absent, no others; a
 * known element order. `what` names the tensor or the KV cache in the message. */
static LlmcStatus check_layout(const LlmcGraph *g, LlmcDType fmt, const LlmcLayout *l, const LlmcShape *s,
                               const char *what, LlmcDiag *d)
{
    const LlmcFormatTraits *ft = llmc_format(fmt);
    int n_sides = llmc_format_n_sides(fmt);
    if (l->order < 0 || l->order >= LLMC_ORDER_COUNT)
        return llmc_fail(d, "verify: %s has element order %d", what, l->order);
    if (l->order == LLMC_ORDER_LANE8 && (n_sides == 0 || !s || s->rank < 1 || llmc_cols(s) % llmc_order_tile(fmt)))
        return llmc_fail(d, "verify: %s: order lane8 needs a quantized format and whole tiles of %lld a row", what,
                         (long long)llmc_order_tile(fmt));
    if (l->group < 0 || (l->group > 0 && !has_side_shape(fmt, LLMC_SHAPE_GROUP)))
        return llmc_fail(d, "verify: %s: groups of %d in format %s, which has no scales", what, (int)l->group,
                         ft->name);
    for (int i = n_sides; i < LLMC_MAX_SIDES; i++)
        if (l->side[i] >= 0)
            return llmc_fail(d, "verify: %s has a side tensor %d, format %s has %d", what, i, ft->name, n_sides);
    for (int i = 0; i < n_sides; i++) {
        const LlmcSideSpec *sp = &ft->side[i];
        const char *role = llmc_role_name(sp->role);
        if (l->side[i] < 0) {
            if (!(sp->flags & LLMC_SIDE_OPTIONAL))
                return llmc_fail(d, "verify: %s: no %s tensor, which format %s needs", what, role, ft->name);
            continue;
        }
        if (l->side[i] >= g->nt)
            return llmc_fail(d, "verify: %s: its %s tensor %d does not exist", what, role, l->side[i]);
        const LlmcTensor *st = &g->t[l->side[i]];
        if (st->dtype != (LlmcDType)sp->format)
            return llmc_fail(d, "verify: %s: its %s %s is %s, format %s takes %s", what, role, st->name,
                             llmc_dtype_name(st->dtype), ft->name, llmc_dtype_name((LlmcDType)sp->format));
        const LlmcShape *ss = &st->shape;
        int ok = 1;
        switch (sp->shape) {
        case LLMC_SHAPE_GROUP: /* ceil(cols / group) a row: the last group of a row may be short */
            ok = l->group > 0 && (!s || (s->rank >= 1 && s->sym[s->rank - 1] == LLMC_DIM_CONST && ss->rank >= 1 &&
                                         llmc_cols(ss) == (llmc_cols(s) + l->group - 1) / l->group));
            break;
        case LLMC_SHAPE_ROW:
            ok = ss->rank == 2 && llmc_cols(ss) == 1 && (!s || (s->rank == 2 && ss->dim[0] == s->dim[0]));
            break;
        case LLMC_SHAPE_TENSOR:
            ok = ss->rank == 1 && ss->dim[0] == 1 && ss->sym[0] == LLMC_DIM_CONST;
            break;
        default: /* TOKEN_HEAD sides live in the KV pool, never in a tensor */
            ok = 0;
        }
        if (!ok) {
            if (sp->shape == LLMC_SHAPE_GROUP)
                return llmc_fail(d, "verify: %s: its groups of %d do not match its %s %s", what, (int)l->group, role,
                                 st->name);
            return llmc_fail(d, "verify: %s: its %s %s is not shaped as format %s says", what, role, st->name,
                             ft->name);
        }
    }
    return LLMC_OK;
}

static LlmcStatus check_storage(const LlmcGraph *g, LlmcDiag *d)
{
    for (int i = 0; i < g->nt; i++) {
        const LlmcTensor *t = &g->t[i];
        if ((unsigned)t->dtype >= LLMC_DTYPE_COUNT)
            return llmc_fail(d, "verify: tensor %s has format %d", t->name, (int)t->dtype);
        /* Weights: a weight format, or an index one (i32: act-order permutations, imported tensors). */
        static const unsigned use[] = {[LLMC_T_INPUT] = LLMC_FMT_INDEX,
                                       [LLMC_T_WEIGHT] = LLMC_FMT_WEIGHT | LLMC_FMT_INDEX,
                                       [LLMC_T_VALUE] = LLMC_FMT_ACT};
        if (!(llmc_format(t->dtype)->flags & use[t->kind]))
            return llmc_fail(d, "verify: %s is stored as %s, which is no format for its kind of tensor", t->name,
                             llmc_dtype_name(t->dtype));
        if (t->kind != LLMC_T_WEIGHT && !llmc_layout_is_plain(&t->layout))
            return llmc_fail(d, "verify: %s is not a weight but has a grouped or shuffled layout", t->name);
        if (check_layout(g, t->dtype, &t->layout, &t->shape, t->name, d))
            return LLMC_ERR;
        /* A rank's part of a weight exists only in a sharded graph; columns only of a matrix. */
        if (t->kind == LLMC_T_WEIGHT && t->src.shard != LLMC_SHARD_NONE &&
            (g->tp < 2 || t->src.shard < 0 || t->src.shard > LLMC_SHARD_COLS ||
             (t->src.shard == LLMC_SHARD_COLS && t->shape.rank != 2) ||
             (t->src.shard_rep > 1 && g->tp % t->src.shard_rep != 0)))
            return llmc_fail(d, "verify: weight %s is sharded by %s in a graph over %d ranks", t->name,
                             llmc_shard_name(t->src.shard), (int)g->tp);
    }
    for (int w = 0; g->kv_layers > 0 && w < 2; w++) {
        LlmcDType kf = g->kv_format[w];
        const LlmcLayout *kl = &g->kv_layout[w];
        if ((unsigned)kf >= LLMC_DTYPE_COUNT || !(llmc_format(kf)->flags & LLMC_FMT_KV))
            return llmc_fail(d, "verify: the KV cache has format %s, not a KV format", llmc_dtype_name(kf));
        for (int i = 0; i < LLMC_MAX_SIDES; i++)
            if (kl->side[i] >= 0)
                return llmc_fail(d, "verify: the KV cache's layout names side tensors (its scales live in the pool)");
        for (int i = 0; i < llmc_format_n_sides(kf); i++) {
            int sh = llmc_format(kf)->side[i].shape;
            if (sh != LLMC_SHAPE_TOKEN_HEAD && sh != LLMC_SHAPE_LAYER_HEAD && sh != LLMC_SHAPE_KV_GROUP)
                return llmc_fail(d, "verify: the KV cache's format %s has a side tensor that is neither one a "
                                 "token-head row nor one a layer and head", llmc_dtype_name(kf));
            if (sh == LLMC_SHAPE_LAYER_HEAD && !g->kv_scales)
                return llmc_fail(d, "verify: the KV cache's format %s needs scales per layer and head; the graph has none",
                                 llmc_dtype_name(kf));
        }
        if (kl->order < 0 || kl->order >= LLMC_ORDER_COUNT)
            return llmc_fail(d, "verify: the KV cache has element order %d", kl->order);
        if (kl->group && !has_side_shape(kf, LLMC_SHAPE_GROUP))
            return llmc_fail(d, "verify: the KV cache has groups in format %s, which has no scales", llmc_dtype_name(kf));
        if (kv_vbytes((int)kf, g->kv_head_dim) < 0)
            return llmc_fail(d, "verify: the KV cache's format %s has no row layout (ir/kv_layout.h)", llmc_dtype_name(kf));
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
        /* Collectives combine the ranks the graph is sharded over: all of them. */
        if ((n->op == LLMC_OP_ALL_REDUCE || n->op == LLMC_OP_ALL_GATHER) &&
            llmc_attr_int(n, "ranks", 0) != (g->tp > 1 ? g->tp : 1)) {
            st = llmc_fail(d, "verify: node %d (%s) combines %lld ranks, the graph is sharded over %d", i, info->name,
                           (long long)llmc_attr_int(n, "ranks", 0), g->tp > 1 ? (int)g->tp : 1);
            break;
        }
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
