/* shard_tp — tensor parallelism (--tp N): the graph that each of N ranks runs, Megatron-LM's split.
 *
 * Every rank runs this one graph on its own part of the weights; the parts are views of the
 * checkpoint's tensors (src.shard, llmc_shard_view: rank r reads range r of N equal ranges of a
 * tensor's rows or columns), so the graph does not depend on the rank (a rank running it knows which
 * part it holds: the embedding's lookup needs its first row). In a layer:
 *   - attention: Q, K and V (and their biases) split by output columns in whole heads: rank r holds
 *     query heads [r HQ/N, (r+1) HQ/N) and KV heads [r HK/N, (r+1) HK/N), the ones that serve them
 *     (GQA groups stay whole); with fewer KV heads than ranks (N a multiple of HK), each KV head is
 *     held by the N / HK ranks of its query heads (rank r: KV head r / (N / HK); src.shard_rep);
 *     RoPE, per-head norms and the attention run on the rank's heads (their head counts follow the
 *     columns, and lower_paged_kv then sizes the KV pool by the rank's KV heads); o_proj is split
 *     by its input columns (K) and its partial sums are added up by an all_reduce;
 *   - MLP: gate and up split by output columns, the activation and product on the rank's columns,
 *     down split by K, then an all_reduce;
 *   - lm_head: split by vocabulary rows, the logits' parts put side by side by an all_gather (a
 *     vocabulary N does not divide, or a bias: lm_head replicated);
 *   - the embedding: its table split by vocabulary rows, each rank looking up the tokens of its
 *     rows (zeros for the others), an all_reduce summing the ranks' rows (exact: one is nonzero);
 *     tied to lm_head, both read the one rank part (a vocabulary N does not divide: replicated);
 *   - everything else (the norms, the residual adds) replicated: every rank computes the same
 *     values.
 * The split is found from the data flow, not from tensor names: the matmuls an attention's q, k and
 * v come from (through rope, head_rmsnorm, scale) and those a matmul's input comes from through the
 * MLP's element-wise ops (mul, silu, gelu_tanh, swiglu, geglu) are split by columns; the matmuls
 * reading an attention's output or an MLP product are split by K. Anything else a split value meets
 * is refused, as are the models not sharded yet (mixture-of-experts layers, matrices the checkpoint
 * stores quantized, --kv-calib's scales).
 *
 * It runs right after infer_shapes, before fuse_matmuls: Q, K and V are split one by one, and
 * fuse_matmuls then merges each rank's parts (a merged Q/K/V's rank part would be three row ranges
 * of it, not one view).
 *
 * requires: infer_shapes; opt->tp > 1 (the pipeline runs it only then; else it does nothing)
 * provides: g->tp; sharded weights (src.shard, their shapes the rank's); all_reduce and all_gather
 *           nodes; every value's shape the rank's (the split ones narrower)
 * errors:   N not dividing the query heads, the FFN size; N neither dividing the KV heads nor a
 *           multiple of them; the models above
 */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

typedef struct Ctx {
    LlmcGraph *g;
    int tp;
    uint8_t *split;               /* per tensor: 1 if each rank holds a part of its columns */
    int *col;                     /* per node: column-parallel matmul (1), else 0 */
    int *rep;                     /* per column-parallel matmul: ranks sharing one part (K and V
                                     of fewer KV heads than ranks), else 1 */
    uint8_t *row;                 /* per node: row-parallel matmul (split K, then all_reduce), or an
                                     embedding split by vocabulary (then all_reduce) */
    int lm_head;                  /* the node of the vocabulary-split lm_head, -1: replicated */
    LlmcDiag *d;
} Ctx;

static const char *where(const LlmcNode *n) { return n->where ? n->where : "?"; }

/* Value t is computed per rank on its columns: walks back to the matmuls that make it, whose parts
 * `rep` ranks share (tp / rep parts), through at most TRACE_DEPTH element-wise ops (a hostile
 * model.json's chain must not exhaust the stack). */
#define TRACE_DEPTH 64
static LlmcStatus trace(Ctx *c, int t, const LlmcNode *user, int rep, int depth)
{
    LlmcGraph *g = c->g;
    int p = g->t[t].producer;
    if (depth > TRACE_DEPTH)
        return llmc_fail(c->d, "--tp %d: %s (%s) reads %%%s, made by more than %d element-wise ops in a row: "
                         "shard_tp does not split such chains", c->tp, where(user), llmc_op_info[user->op].name,
                         g->t[t].name, TRACE_DEPTH);
    if (c->split[t] && (p < 0 || g->n[p].op != LLMC_OP_MATMUL || c->rep[p] == rep))
        return LLMC_OK;
    if (p < 0)
        return llmc_fail(c->d, "--tp %d: %s (%s) reads %%%s, which shard_tp cannot split", c->tp, where(user),
                         llmc_op_info[user->op].name, g->t[t].name);
    const LlmcNode *n = &g->n[p];
    switch (n->op) {
    case LLMC_OP_MATMUL: {
        const LlmcTensor *w = &g->t[n->in[1]];
        if (c->col[p] && c->rep[p] != rep)
            return llmc_fail(c->d, "--tp %d: %s: %%%s is read as KV heads and as query heads", c->tp, where(n),
                             g->t[t].name);
        if (w->shape.dim[0] % (c->tp / rep))
            return llmc_fail(c->d, "--tp %d: %s: matrix %s has %lld rows, not divisible by %d", c->tp, where(n),
                             w->name, (long long)w->shape.dim[0], c->tp / rep);
        c->split[t] = 1;
        c->col[p] = 1;
        c->rep[p] = rep;
        return LLMC_OK;
    }
    case LLMC_OP_ROPE:
    case LLMC_OP_HEAD_RMSNORM:
    case LLMC_OP_SCALE:
    case LLMC_OP_SILU:
    case LLMC_OP_GELU_TANH:
        c->split[t] = 1;
        return trace(c, n->in[0], n, rep, depth + 1);
    case LLMC_OP_MUL:
    case LLMC_OP_SWIGLU:
    case LLMC_OP_GEGLU:
        c->split[t] = 1;
        return trace(c, n->in[0], n, rep, depth + 1) || trace(c, n->in[1], n, rep, depth + 1) ? LLMC_ERR : LLMC_OK;
    default:
        return llmc_fail(c->d, "--tp %d: %s (%s) reads %%%s, made by %s at %s, which shard_tp cannot split", c->tp,
                         where(user), llmc_op_info[user->op].name, g->t[t].name, llmc_op_info[n->op].name, where(n));
    }
}

/* The matmuls reading value t (an attention's output, an MLP product) are split by K. */
static LlmcStatus row_parallel(Ctx *c, int t, const LlmcNode *from)
{
    LlmcGraph *g = c->g;
    int readers = 0;
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        for (int j = 0; j < n->n_in; j++) {
            if (n->in[j] != t)
                continue;
            if (n->op != LLMC_OP_MATMUL || j != 0)
                return llmc_fail(c->d, "--tp %d: %%%s (%s at %s) is read by %s at %s; shard_tp splits only a "
                                 "matmul there", c->tp, g->t[t].name, llmc_op_info[from->op].name, where(from),
                                 llmc_op_info[n->op].name, where(n));
            if (n->n_in == 3)
                return llmc_fail(c->d, "--tp %d: %s: a matmul split by its input columns with a bias (%s) is not "
                                 "sharded yet", c->tp, where(n), g->t[n->in[2]].name);
            c->row[i] = 1;
            readers++;
        }
    }
    return readers ? LLMC_OK
                   : llmc_fail(c->d, "--tp %d: %%%s (%s at %s) is read by no matmul", c->tp, g->t[t].name,
                               llmc_op_info[from->op].name, where(from));
}

/* The models not sharded yet. */
static LlmcStatus refuse(Ctx *c, const LlmcPassOptions *opt)
{
    LlmcGraph *g = c->g;
    for (int i = 0; i < g->nn; i++)
        if (g->n[i].op == LLMC_OP_MOE)
            return llmc_fail(c->d, "--tp %d: mixture-of-experts layers (moe at %s) are not sharded yet (dense "
                             "Llama, Mistral and Qwen2/Qwen3 are)", c->tp, where(&g->n[i]));
    for (int t = 0; t < g->nt; t++) {
        const LlmcTensor *w = &g->t[t];
        if (w->kind == LLMC_T_WEIGHT && (w->src.pq.kind != LLMC_PQ_NONE || w->src.perm_group > 0))
            return llmc_fail(c->d, "--tp %d: %s is stored quantized by the checkpoint (%s): such models are not "
                             "sharded yet", c->tp, w->src.ckpt ? w->src.ckpt : w->name, llmc_pq_name(w->src.pq.kind));
        if (w->kind == LLMC_T_WEIGHT && w->src.n_parts)
            return llmc_fail(c->d, "--tp %d: %s is a concatenation of tensors: not sharded yet", c->tp, w->name);
    }
    if (opt->kv_scales)
        return llmc_fail(c->d, "--tp %d: --kv-calib's scales are not sharded yet", c->tp);
    return LLMC_OK;
}

/* Finds what to split: the attentions' and MLPs' matmuls, lm_head. */
static LlmcStatus plan(Ctx *c)
{
    LlmcGraph *g = c->g;
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        if (n->op != LLMC_OP_ATTENTION)
            continue;
        int64_t hd = llmc_attr_int(n, "head_dim", 1);
        int64_t hq = llmc_cols(&g->t[n->in[0]].shape) / hd, hk = llmc_cols(&g->t[n->in[1]].shape) / hd;
        if (hq % c->tp || (hk % c->tp && c->tp % hk))
            return llmc_fail(c->d, "--tp %d: %s: attention of %lld query heads and %lld KV heads; --tp must divide "
                             "the query heads and divide the KV heads or be a multiple of them (each rank takes "
                             "whole heads)", c->tp, where(n), (long long)hq, (long long)hk);
        /* KV heads fewer than ranks: each KV head's K and V on the tp / hk ranks of its query heads */
        int kv_rep = hk < c->tp ? c->tp / (int)hk : 1;
        for (int j = 0; j < 3; j++)
            if (trace(c, n->in[j], n, j ? kv_rep : 1, 0))
                return LLMC_ERR;
        c->split[n->out[0]] = 1;
        if (row_parallel(c, n->out[0], n))
            return LLMC_ERR;
    }
    /* The MLPs: a matmul reading an element-wise product of matmuls. */
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        int p = g->t[n->in[0]].producer;
        if (n->op != LLMC_OP_MATMUL || c->row[i] || p < 0)
            continue;
        LlmcOp po = g->n[p].op;
        if (po != LLMC_OP_MUL && po != LLMC_OP_SWIGLU && po != LLMC_OP_GEGLU)
            continue;
        int64_t F = llmc_cols(&g->t[n->in[0]].shape);
        if (F % c->tp)
            return llmc_fail(c->d, "--tp %d: %s: the FFN size %lld is not divisible by %d", c->tp, where(n),
                             (long long)F, c->tp);
        if (trace(c, n->in[0], n, 1, 0) || row_parallel(c, n->in[0], &g->n[p]))
            return LLMC_ERR;
    }
    /* The embedding and lm_head: the matmul the logits come from (through scale and softcap), split by
     * vocabulary rows. */
    c->lm_head = -1;
    int t = g->logits;
    while (g->t[t].producer >= 0 &&
           (g->n[g->t[t].producer].op == LLMC_OP_SCALE || g->n[g->t[t].producer].op == LLMC_OP_SOFTCAP))
        t = g->n[g->t[t].producer].in[0];
    for (int i = 0; i < g->nn; i++)
        if (g->n[i].op == LLMC_OP_EMBEDDING && g->t[g->n[i].in[0]].shape.dim[0] % c->tp == 0)
            c->row[i] = 1;
    int p = g->t[t].producer;
    if (p >= 0 && g->n[p].op == LLMC_OP_MATMUL && g->n[p].n_in == 2 && !c->split[g->n[p].in[0]] && !c->col[p] &&
        !c->row[p] && g->t[g->n[p].in[1]].shape.dim[0] % c->tp == 0) {
        c->col[p] = 1;
        c->rep[p] = 1;
        c->lm_head = p;
    }
    return LLMC_OK;
}

/* Every split value meets only ops that keep the split (the same columns on every input), a
 * row-parallel matmul, or lm_head's gather. */
static LlmcStatus check(const Ctx *c)
{
    const LlmcGraph *g = c->g;
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        int any = 0, all = 1;
        for (int j = 0; j < n->n_in; j++) {
            const LlmcTensor *t = &g->t[n->in[j]];
            if (t->kind != LLMC_T_VALUE)
                continue;
            any |= c->split[n->in[j]];
            all &= c->split[n->in[j]];
        }
        int ok;
        switch (n->op) {
        case LLMC_OP_MATMUL:
            ok = c->row[i] ? any : !any;
            break;
        case LLMC_OP_ROPE:
        case LLMC_OP_HEAD_RMSNORM:
        case LLMC_OP_SCALE:
        case LLMC_OP_SILU:
        case LLMC_OP_GELU_TANH:
        case LLMC_OP_MUL:
        case LLMC_OP_SWIGLU:
        case LLMC_OP_GEGLU:
        case LLMC_OP_ATTENTION:
            ok = any ? all && c->split[n->out[0]] : !c->split[n->out[0]];
            break;
        default:
            ok = !any;
        }
        if (!ok)
            return llmc_fail(c->d, "--tp %d: %s (%s) mixes a value split among the ranks with a whole one; shard_tp "
                             "cannot split this model", c->tp, where(n), llmc_op_info[n->op].name);
    }
    return LLMC_OK;
}

/* The cut a node makes of a weight (rows or columns, ranks sharing a part). */
static int cut_key(int shard, int rep) { return shard | rep << 2; }

/* Weight w cut along `shard` (rows or columns) in parts `rep` ranks share: in place when every node
 * reading it cuts it so (cuts[w]: that cut, -1 when its readers differ; readers[w]: how many cut it;
 * done[w]: w once cut in place), else a tensor of its own bound to the same checkpoint tensor. */
static int shard_weight(LlmcGraph *g, int w, int shard, int tp, int rep, const int *cuts, const int *readers,
                        int *done)
{
    if (done[w] >= 0)
        return done[w];
    if (cuts[w] == cut_key(shard, rep) && readers[w] == llmc_tensor_uses(g, w)) {
        done[w] = w;
    } else {
        LlmcTensor copy = g->t[w];
        int t = llmc_tensor_new(g, llmc_gprintf(g, "%s.shard", copy.name), LLMC_T_WEIGHT, copy.dtype, &copy.shape);
        const char *name = g->t[t].name;
        g->t[t] = copy;
        g->t[t].name = name;
        w = t;
    }
    LlmcTensor *tt = &g->t[w];
    tt->shape.dim[shard == LLMC_SHARD_ROWS ? 0 : 1] /= tp / rep;
    tt->src.shard = shard;
    tt->src.shard_rep = rep;
    return w;
}

/* The new node list: the column-parallel matmuls on the rank's rows of their weights (lm_head's
 * output then gathered), the row-parallel ones on the rank's columns and the embedding on the rank's
 * rows of its table, each followed by an all_reduce. */
static LlmcStatus rewrite(Ctx *c)
{
    LlmcGraph *g = c->g;
    int nn = g->nn, nt = g->nt;
    LlmcNode *out = malloc(((size_t)nn * 2 + 1) * sizeof *out);
    int *cuts = malloc(((size_t)nt + 1) * sizeof *cuts), *readers = calloc((size_t)nt + 1, sizeof *readers);
    int *done = malloc(((size_t)nt + 1) * sizeof *done);
    if (!out || !cuts || !readers || !done) {
        free(out);
        free(cuts);
        free(readers);
        free(done);
        return llmc_fail(c->d, "shard_tp: out of memory");
    }
    for (int t = 0; t < nt; t++)
        done[t] = -1;
    for (int i = 0; i < nn; i++) { /* how each weight is cut by its readers */
        const LlmcNode *n = &g->n[i];
        int w[2] = {-1, -1}, key = 0;
        if (c->col[i]) {
            w[0] = n->in[1];
            w[1] = n->n_in == 3 ? n->in[2] : -1;
            key = cut_key(LLMC_SHARD_ROWS, c->rep[i]);
        } else if (c->row[i]) {
            w[0] = n->op == LLMC_OP_EMBEDDING ? n->in[0] : n->in[1];
            key = cut_key(n->op == LLMC_OP_EMBEDDING ? LLMC_SHARD_ROWS : LLMC_SHARD_COLS, 1);
        }
        for (int j = 0; j < 2; j++) {
            if (w[j] < 0)
                continue;
            cuts[w[j]] = readers[w[j]]++ == 0 || cuts[w[j]] == key ? key : -1;
        }
    }
    int k = 0;
    for (int i = 0; i < nn; i++) {
        LlmcNode n = g->n[i];
        if (!c->col[i] && !c->row[i]) {
            out[k++] = n;
            continue;
        }
        if (c->col[i]) {
            n.in[1] = shard_weight(g, n.in[1], LLMC_SHARD_ROWS, c->tp, c->rep[i], cuts, readers, done);
            if (n.n_in == 3)
                n.in[2] = shard_weight(g, n.in[2], LLMC_SHARD_ROWS, c->tp, c->rep[i], cuts, readers, done);
        } else if (n.op == LLMC_OP_EMBEDDING) {
            n.in[0] = shard_weight(g, n.in[0], LLMC_SHARD_ROWS, c->tp, 1, cuts, readers, done);
        } else {
            n.in[1] = shard_weight(g, n.in[1], LLMC_SHARD_COLS, c->tp, 1, cuts, readers, done);
        }
        if (c->row[i] || i == c->lm_head) {
            int y = n.out[0];
            LlmcShape s = g->t[y].shape;
            int part = llmc_tensor_new(g, llmc_gprintf(g, "%s.%s", g->t[y].name, c->row[i] ? "partial" : "part"),
                                       LLMC_T_VALUE, LLMC_F32, &s);
            n.out[0] = part;
            out[k++] = n;
            LlmcNode cn = llmc_node_make(c->row[i] ? LLMC_OP_ALL_REDUCE : LLMC_OP_ALL_GATHER, 1, &part, 1, &y);
            cn.layer = n.layer;
            cn.where = n.where;
            llmc_attr_set_int(g, &cn, "ranks", c->tp);
            out[k++] = cn;
        } else {
            out[k++] = n;
        }
    }
    free(g->n);
    g->n = out;
    g->nn = k;
    g->cap_n = nn * 2 + 1;
    free(cuts);
    free(readers);
    free(done);
    llmc_graph_reindex(g);
    /* Every value's shape again, from the rank's weights. */
    for (int i = 0; i < g->nn; i++) {
        LlmcShape shapes[LLMC_MAX_OUT];
        LlmcDType dts[LLMC_MAX_OUT];
        if (llmc_infer_node(g, &g->n[i], shapes, dts, c->d))
            return LLMC_ERR;
        for (int j = 0; j < g->n[i].n_out; j++)
            g->t[g->n[i].out[j]].shape = shapes[j];
    }
    return LLMC_OK;
}

LlmcStatus pass_shard_tp(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    if (opt->tp <= 1)
        return LLMC_OK;
    Ctx c = {g, opt->tp, calloc((size_t)g->nt + 1, 1), calloc((size_t)g->nn + 1, sizeof(int)),
             calloc((size_t)g->nn + 1, sizeof(int)), calloc((size_t)g->nn + 1, 1), -1, d};
    LlmcStatus st = LLMC_OK;
    if (!c.split || !c.col || !c.rep || !c.row)
        st = llmc_fail(d, "shard_tp: out of memory");
    if (!st)
        st = refuse(&c, opt);
    if (!st)
        st = plan(&c);
    if (!st)
        st = check(&c);
    if (!st) {
        g->tp = opt->tp;
        st = rewrite(&c);
    }
    free(c.split);
    free(c.col);
    free(c.rep);
    free(c.row);
    return st;
}
