/* weight_format — chooses the storage format and layout of every weight the graph reads.
 *
 * Matrices (matmul weights, embedding tables) are stored in the format --weights asks for, or the
 * target's default, unless a --keep rule names another for that tensor; with a quantized format
 * the embedding table(s) and the lm_head stay bf16 unless a rule says otherwise; vectors (norm
 * weights, biases) stay f32. A quantized format (one with side tensors in formats.def) gets a grouped
 * layout with the side tensors its list names, NAME.ROLE [N, ceil(K / group)] in the side's format:
 * a scale tensor NAME.scale and, for asymmetric u4 (--asym), a zero-point tensor NAME.zero (f16
 * holding integers 0..15).
 * Those tensors are weights derived from NAME (LlmcWeightSrc.derived_from): the packer computes
 * them with the values, round to nearest, once, at compile time. A quantized matrix the target's
 * skinny kernels read in another element order (LlmcTarget.quant_order: lane8 on CUDA) gets that
 * order where its rows are whole tiles; the packer shuffles its rows.
 *
 * requires: infer_shapes (and the fusions, which create merged weights)
 * provides: LlmcTensor.dtype of every weight = its storage format; LlmcTensor.layout
 * errors:   a format the target does not implement; a --keep rule that is malformed, names an
 *           unknown format or matches nothing; a group that does not fit
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static void format_list(const LlmcTarget *tg, char *have, size_t n)
{
    have[0] = 0;
    for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
        if (tg->weight_formats & (1u << i))
            snprintf(have + strlen(have), n - strlen(have), "%s%s", have[0] ? ", " : "", llmc_dtype_name((LlmcDType)i));
}

static LlmcStatus check_format(const LlmcTarget *tg, LlmcDType fmt, const char *what, LlmcDiag *d)
{
    if ((tg->weight_formats & (1u << fmt)) && (llmc_format(fmt)->flags & LLMC_FMT_WEIGHT))
        return LLMC_OK;
    char have[128];
    format_list(tg, have, sizeof have);
    return llmc_fail(d, "%s %s: target %s stores weights as %s", what, llmc_dtype_name(fmt), tg->name, have);
}

/* A --weights or --keep format name: a table name or alias ("w4a16" for u4). */
static int weight_format_named(const char *s, size_t n, LlmcDType *t)
{
    char name[32];
    if (n == 0 || n >= sizeof name)
        return -1;
    memcpy(name, s, n);
    name[n] = 0;
    for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
        if (llmc_format((LlmcDType)i)->alias && strcmp(name, llmc_format((LlmcDType)i)->alias) == 0) {
            *t = (LlmcDType)i;
            return 0;
        }
    return llmc_dtype_from_name(name, t);
}

/* Whether format t has zero points a layout may leave out (--asym adds them). */
static int optional_zero(LlmcDType t)
{
    int zi = llmc_format_side_index(t, LLMC_ROLE_ZERO);
    return zi >= 0 && (llmc_format(t)->side[zi].flags & LLMC_SIDE_OPTIONAL);
}

typedef struct Rule {
    char pattern[128];
    LlmcDType fmt;
    int used;
} Rule;

static LlmcStatus parse_rules(const char *keep, Rule *r, int *n, int max, LlmcDiag *d)
{
    *n = 0;
    for (const char *p = keep; p && *p;) {
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end || eq == p)
            return llmc_fail(d, "--keep: expected PATTERN=FORMAT, found \"%.*s\"", (int)(end - p), p);
        if (*n == max)
            return llmc_fail(d, "--keep: more than %d rules", max);
        if ((size_t)(eq - p) >= sizeof r[*n].pattern)
            return llmc_fail(d, "--keep: pattern \"%.*s\" is too long", (int)(eq - p), p);
        memcpy(r[*n].pattern, p, (size_t)(eq - p));
        r[*n].pattern[eq - p] = 0;
        if (weight_format_named(eq + 1, (size_t)(end - eq - 1), &r[*n].fmt))
            return llmc_fail(d, "--keep %s: unknown format \"%.*s\"", r[*n].pattern, (int)(end - eq - 1), eq + 1);
        r[*n].used = 0;
        (*n)++;
        p = *end ? end + 1 : end;
    }
    return LLMC_OK;
}

/* Does rule pattern p name weight t (read as `role`: "lm_head", "embedding" or NULL)? */
static int rule_matches(const LlmcGraph *g, const char *p, const LlmcTensor *t, const char *role)
{
    if (role && strcmp(p, role) == 0)
        return 1;
    if (fnmatch(p, t->name, 0) == 0)
        return 1;
    for (int k = 0; k < t->src.n_parts; k++)
        if (fnmatch(p, g->t[t->src.parts[k]].name, 0) == 0)
            return 1;
    return 0;
}

/* A side tensor of weight w (scales or zero points: W.ROLE), shaped by the side's rule, derived
 * from w by the packer. */
static int derived(LlmcGraph *g, int w, const LlmcSideSpec *sp, int64_t groups, LlmcDiag *d)
{
    char name[512];
    snprintf(name, sizeof name, "%s.%s", g->t[w].name, llmc_role_name(sp->role));
    int64_t rows = g->t[w].shape.dim[0];
    LlmcShape s = sp->shape == LLMC_SHAPE_TENSOR ? llmc_shape1(1)
                  : sp->shape == LLMC_SHAPE_ROW  ? llmc_shape2(rows, 1)
                                                 : llmc_shape2(rows, groups);
    int t = llmc_tensor_new(g, name, LLMC_T_WEIGHT, (LlmcDType)sp->format, &s);
    if (t < 0) {
        llmc_fail(d, "%s: out of memory", name);
        return -1;
    }
    g->t[t].src = (LlmcWeightSrc){0};
    g->t[t].src.derived = 1;
    g->t[t].src.derived_from = w;
    g->t[t].src.where = g->t[w].src.where;
    return t;
}

static LlmcStatus set_layout(LlmcGraph *g, int w, LlmcDType fmt, int embedding, const LlmcPassOptions *opt,
                             LlmcDiag *d)
{
    LlmcTensor *t = &g->t[w];
    t->dtype = fmt;
    t->layout = llmc_layout_plain();
    const LlmcFormatTraits *f = llmc_format(fmt);
    if (llmc_format_n_sides(fmt) == 0)
        return LLMC_OK;
    int64_t K = t->shape.dim[1];
    if (K % f->block_elems)
        return llmc_fail(d, "%s: %s stores %d values together; this matrix has %lld columns", t->name, f->name,
                         f->block_elems, (long long)K);
    /* The group: --group, else the format's default (LLMC_GROUP_ROW: the whole row), at most a row;
     * whole blocks, and the one size a format may insist on. */
    int64_t group = opt->group ? opt->group : f->group_default == LLMC_GROUP_ROW ? K : f->group_default;
    if (group > K)
        group = K;
    if (f->group_only && group != f->group_only)
        return llmc_fail(d, "--group %lld: %s takes groups of %d values only", (long long)group, f->name,
                         f->group_only);
    if (group % f->block_elems)
        return llmc_fail(d, "--group %lld: %s groups hold whole blocks of %d values", (long long)group, f->name,
                         f->block_elems);
    int64_t groups = (K + group - 1) / group;
    t->layout.group = (int32_t)group;
    /* The side tensors (scales, zero points) the format's list names: the optional zero points
     * with --asym. */
    for (int i = 0; i < llmc_format_n_sides(fmt); i++) {
        const LlmcSideSpec *sp = &f->side[i];
        if ((sp->flags & LLMC_SIDE_OPTIONAL) && !(sp->role == LLMC_ROLE_ZERO && opt->asym))
            continue;
        int st = derived(g, w, sp, groups, d);
        if (st < 0)
            return LLMC_ERR;
        g->t[w].layout.side[i] = st;
    }
    /* The target's element order for the matrices of its skinny kernels, where the rows are whole
     * tiles and a tile's groups are whole (an embedding table stays row-major: rows are gathered). */
    int64_t T = llmc_order_tile(fmt);
    if (opt->target->quant_order != LLMC_ORDER_ROW_MAJOR && !embedding && K % T == 0 &&
        (group % T == 0 || (T % group == 0 && group % 32 == 0)))
        g->t[w].layout.order = opt->target->quant_order;
    return LLMC_OK;
}

LlmcStatus pass_weight_format(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    const LlmcTarget *tg = opt->target;
    LlmcDType fmt = opt->weights_set ? opt->weights : tg->default_weights;
    if (check_format(tg, fmt, "--weights", d))
        return LLMC_ERR;
    if (opt->group && (opt->group < 2 || opt->group > (1 << 20)))
        return llmc_fail(d, "--group %d: expected 2 .. 1048576", opt->group);
    if (opt->asym && !optional_zero(fmt)) {
        char have[128] = "";
        for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
            if (optional_zero((LlmcDType)i))
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", have[0] ? ", " : "",
                         llmc_format((LlmcDType)i)->alias ? llmc_format((LlmcDType)i)->alias : llmc_dtype_name((LlmcDType)i));
        return llmc_fail(d, "--asym: zero points are an option of %s, the weights are %s", have, llmc_dtype_name(fmt));
    }
    Rule rules[32];
    int n_rules;
    if (parse_rules(opt->keep, rules, &n_rules, 32, d))
        return LLMC_ERR;
    for (int r = 0; r < n_rules; r++)
        if (check_format(tg, rules[r].fmt, "--keep", d))
            return LLMC_ERR;
    int nn = g->nn;
    char *done = calloc((size_t)g->nt + 1, 1), *role = calloc((size_t)g->nt + 1, 1);
    if (!done || !role) {
        free(done);
        free(role);
        return llmc_fail(d, "out of memory");
    }
    for (int k = 0; k < nn; k++) {   /* 1: read by the logits' matmul, 2: an embedding table */
        const LlmcNode *m = &g->n[k];
        if (m->op == LLMC_OP_MATMUL && m->out[0] == g->logits)
            role[m->in[1]] |= 1;
        if (m->op == LLMC_OP_EMBEDDING)
            role[m->in[0]] |= 2;
    }
    int nt0 = g->nt;
    LlmcStatus st = LLMC_OK;
    for (int i = 0; i < nn && !st; i++) {
        const LlmcNode *n = &g->n[i];
        for (int j = 0; j < n->n_in && !st; j++) {
            int w = n->in[j];
            LlmcTensor *t = &g->t[w];
            if (t->kind != LLMC_T_WEIGHT || w >= nt0 || done[w])
                continue;
            done[w] = 1;
            int matrix = (n->op == LLMC_OP_MATMUL && j == 1) || (n->op == LLMC_OP_EMBEDDING && j == 0);
            if (!matrix) {
                t->dtype = LLMC_F32;
                t->layout = llmc_layout_plain();
                continue;
            }
            /* The roles of this table: the logits' matmul (lm_head) and/or an embedding. */
            int lm_head = (role[w] & 1) != 0, embedding = (role[w] & 2) != 0;
            /* Quantized formats leave the embedding and the lm_head in bf16 (as AutoAWQ and
             * AutoGPTQ do: they are where 4 bits cost the most quality); --keep overrides. */
            LlmcDType f = fmt;
            if (llmc_format_n_sides(fmt) > 0 && (lm_head || embedding))
                f = (tg->weight_formats & (1u << LLMC_BF16)) ? LLMC_BF16 : tg->default_weights;
            int chosen = 0;   /* the first rule that matches decides; every one that matches counts as used */
            for (int r = 0; r < n_rules; r++)
                if (rule_matches(g, rules[r].pattern, t, lm_head ? "lm_head" : NULL) ||
                    (embedding && strcmp(rules[r].pattern, "embedding") == 0)) {
                    if (!chosen)
                        f = rules[r].fmt;
                    chosen = 1;
                    rules[r].used = 1;
                }
            st = set_layout(g, w, f, embedding, opt, d);
        }
    }
    free(done);
    free(role);
    for (int r = 0; r < n_rules && !st; r++)
        if (!rules[r].used)
            st = llmc_fail(d, "--keep %s: matches no matrix of the model", rules[r].pattern);
    return st;
}
