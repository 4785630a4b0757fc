/* weight_format — chooses the storage format and layout of every weight the graph reads.
 *
 * Matrices (matmul weights, embedding tables) are stored in the format --weights asks for, else in
 * the checkpoint's own 16-bit format (f16, bf16) where the target stores it, else in the target's
 * default, unless a --keep rule names another for that tensor (by llmc's name or the
 * checkpoint's, LlmcWeightSrc.ckpt); with a quantized format
 * the embedding table(s) and the lm_head stay bf16 unless a rule says otherwise; vectors (norm
 * weights, biases) stay f32. A quantized format (one with side tensors in formats.def) gets a grouped
 * layout with the side tensors its list names, NAME.ROLE [N, ceil(K / group)] in the side's format:
 * a scale tensor NAME.scale and, for asymmetric u4 (--asym), a zero-point tensor NAME.zero (f16
 * holding integers 0..15).
 * Those tensors are weights derived from NAME (LlmcWeightSrc.derived_from): the packer computes
 * them with the values, round to nearest, once, at compile time. A quantized matrix the target's
 * skinny kernels read in another element order (LlmcTarget.quant_order: lane8 on CUDA) gets that
 * order where its rows are whole tiles; the packer shuffles its rows.
 * A matrix the checkpoint stores already quantized (src.pq: AWQ, GPTQ) keeps that quantization: its
 * format, group and zero points, whatever --weights, --group and --asym say (they choose how llmc
 * quantizes the matrices the checkpoint stores in floating point); a --keep rule naming it with
 * another format is an error. The packer reads its values as they are (no requantization).
 *
 * requires: infer_shapes (and the fusions, which create merged weights)
 * provides: LlmcTensor.dtype of every weight = its storage format; LlmcTensor.layout
 * errors:   a format the target does not implement; a --keep rule that is malformed, names an
 *           unknown format, matches nothing or only matrices an earlier rule took; a group that
 *           does not fit; --group or --asym when no matrix is stored in a format they apply to
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
    return llmc_format_from_user_name(name, t);
}

/* Whether format t has zero points a layout may leave out (--asym adds them). */
static int optional_zero(LlmcDType t)
{
    int zi = llmc_format_side_index(t, LLMC_ROLE_ZERO);
    return zi >= 0 && (llmc_format(t)->side[zi].flags & LLMC_SIDE_OPTIONAL);
}

typedef struct Rule {
    char pattern[128];
    char text[160];               /* PATTERN=FORMAT as given, for messages */
    LlmcDType fmt;
    int matched;                  /* it matches a matrix */
    int decided;                  /* it was the first rule to match one */
    int shadow, shadow_w;         /* an earlier rule that took a matrix it matches, and
                                     that matrix; -1: none */
} Rule;

enum { MAX_RULES = 64 };

/* The rules of every --keep option, in order. */
static LlmcStatus parse_rules(const char *const *keep, int n_keep, Rule *r, int *n, LlmcDiag *d)
{
    *n = 0;
    for (int k = 0; k < n_keep; k++)
        for (const char *p = keep[k]; p && *p;) {
            const char *end = strchr(p, ','), *eq = strchr(p, '=');
            if (!end)
                end = p + strlen(p);
            if (!eq || eq > end || eq == p)
                return llmc_fail(d, "--keep: expected PATTERN=FORMAT, found \"%.*s\"", (int)(end - p), p);
            if (*n == MAX_RULES)
                return llmc_fail(d, "--keep: more than %d rules", MAX_RULES);
            Rule *x = &r[*n];
            memset(x, 0, sizeof *x);
            if ((size_t)(eq - p) >= sizeof x->pattern)
                return llmc_fail(d, "--keep: pattern \"%.*s\" is too long", (int)(eq - p), p);
            memcpy(x->pattern, p, (size_t)(eq - p));
            snprintf(x->text, sizeof x->text, "%.*s", (int)(end - p), p);
            if (weight_format_named(eq + 1, (size_t)(end - eq - 1), &x->fmt))
                return llmc_fail(d, "--keep %s: unknown format \"%.*s\"", x->pattern, (int)(end - eq - 1), eq + 1);
            x->shadow = -1;
            (*n)++;
            p = *end ? end + 1 : end;
        }
    return LLMC_OK;
}

/* Does glob p match weight t by llmc's name or its checkpoint's? */
static int glob_names(const char *p, const LlmcTensor *t)
{
    return fnmatch(p, t->name, 0) == 0 || (t->src.ckpt && fnmatch(p, t->src.ckpt, 0) == 0);
}

/* Does rule pattern p name matrix t (the lm_head and/or an embedding table)? By role ("lm_head",
 * "embedding"), else as a glob over the names of t or, for a merged weight, of one of its parts. */
static int rule_matches(const LlmcGraph *g, const char *p, const LlmcTensor *t, int lm_head, int embedding)
{
    if ((lm_head && strcmp(p, "lm_head") == 0) || (embedding && strcmp(p, "embedding") == 0))
        return 1;
    if (glob_names(p, t))
        return 1;
    for (int k = 0; k < t->src.n_parts; k++)
        if (glob_names(p, &g->t[t->src.parts[k]]))
            return 1;
    return 0;
}

/* "CHECKPOINT-NAME (llmc-name)", or llmc's name alone. */
static void show_name(const LlmcTensor *t, char *buf, size_t n)
{
    if (t->src.ckpt && strcmp(t->src.ckpt, t->name) != 0)
        snprintf(buf, n, "%s (%s)", t->src.ckpt, t->name);
    else
        snprintf(buf, n, "%s", t->name);
}

/* How far name agrees with the literal start of pattern p. */
static size_t agree(const char *p, const char *name)
{
    size_t k = 0;
    while (p[k] && name[k] == p[k] && !strchr("*?[\\", p[k]))
        k++;
    return k;
}

/* A few names of matrices (parts of merged ones on their own), those nearest to pattern p first,
 * into buf. */
static void candidates(const LlmcGraph *g, const int *mats, int n_mats, const char *p, char *buf, size_t n)
{
    enum { SHOW = 4 };
    int best[SHOW];
    size_t score[SHOW];
    int nb = 0;
    for (int i = 0; i < n_mats; i++) {
        const LlmcTensor *w = &g->t[mats[i]];
        for (int k = 0; k < (w->src.n_parts ? w->src.n_parts : 1); k++) {
            int t = w->src.n_parts ? w->src.parts[k] : mats[i];
            const LlmcTensor *x = &g->t[t];
            size_t s = agree(p, x->name), c = x->src.ckpt ? agree(p, x->src.ckpt) : 0;
            s = c > s ? c : s;
            int at = nb < SHOW ? nb++ : SHOW;   /* insert in order, ties keep the graph's order */
            while (at > 0 && score[at - 1] < s) {
                if (at < SHOW) {
                    best[at] = best[at - 1];
                    score[at] = score[at - 1];
                }
                at--;
            }
            if (at < SHOW) {
                best[at] = t;
                score[at] = s;
            }
        }
    }
    buf[0] = 0;
    for (int i = 0; i < nb; i++) {
        char one[320];
        show_name(&g->t[best[i]], one, sizeof one);
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? ", " : "", one);
    }
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

/* The layout of matrix w stored in fmt: groups of `group_opt` (0: the format's default), zero points
 * when `asym` and the format has optional ones, the target's element order where it fits. */
static LlmcStatus set_layout(LlmcGraph *g, int w, LlmcDType fmt, int embedding, int64_t group_opt, int asym,
                             const LlmcPassOptions *opt, LlmcDiag *d)
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
    /* The group: --group, else the format's default (LLMC_GROUP_ROW: the whole row), at most a row
     * (a format that insists on one size keeps it: a shorter row is one short group); whole
     * blocks. */
    int64_t group = group_opt ? group_opt : f->group_default == LLMC_GROUP_ROW ? K : f->group_default;
    if (f->group_only && group != f->group_only)
        return llmc_fail(d, "--group %lld: %s takes groups of %d values only", (long long)group, f->name,
                         f->group_only);
    /* A matrix cut by columns among --tp ranks (shard_tp): its groups are the whole matrix's, so
     * each rank's part must hold whole groups (a scale a row: the rank's part of the row). */
    int64_t Kw = t->src.shard == LLMC_SHARD_COLS ? llmc_shard_view(g, t, 0).cols : K;
    if (group > Kw && !f->group_only)
        group = Kw;
    if (K % group != 0 && Kw != K)
        return llmc_fail(d,
                         "--tp %d: %s: a rank holds %lld of its %lld columns, not a whole number of %s groups of "
                         "%lld: choose a --group that divides %lld, another --tp, or a format without groups",
                         (int)g->tp, t->name, (long long)K, (long long)Kw, f->name, (long long)group, (long long)K);
    if (group % f->block_elems)
        return llmc_fail(d, "--group %lld: %s groups hold whole blocks of %d values", (long long)group, f->name,
                         f->block_elems);
    int64_t groups = (K + group - 1) / group;
    t->layout.group = (int32_t)group;
    /* The side tensors (scales, zero points) the format's list names: the optional zero points
     * with --asym. */
    for (int i = 0; i < llmc_format_n_sides(fmt); i++) {
        const LlmcSideSpec *sp = &f->side[i];
        if ((sp->flags & LLMC_SIDE_OPTIONAL) && !(sp->role == LLMC_ROLE_ZERO && asym))
            continue;
        int st = derived(g, w, sp, groups, d);
        if (st < 0)
            return LLMC_ERR;
        g->t[w].layout.side[i] = st;
    }
    /* The target's element order for the matrices of its skinny kernels, where the rows are whole
     * tiles and groups hold whole tiles or tile a tile in whole 4-value runs (a lane's; an embedding
     * table stays row-major: rows are gathered). */
    int64_t T = llmc_order_tile(fmt);
    if (opt->target->quant_order != LLMC_ORDER_ROW_MAJOR && !embedding && K % T == 0 &&
        (group % T == 0 || (T % group == 0 && group % 4 == 0)))
        g->t[w].layout.order = opt->target->quant_order;
    return LLMC_OK;
}

/* A matrix the checkpoint stores quantized keeps that quantization: the target must implement its
 * format, and a --keep rule that names it may only name that format (llmc never requantizes). */
static LlmcStatus keep_prequant(const LlmcGraph *g, int w, Rule *rules, int n_rules, int lm_head, int embedding,
                                const LlmcTarget *tg, LlmcDiag *d)
{
    const LlmcTensor *t = &g->t[w];
    LlmcDType fmt = t->src.pq.format;
    char one[320];
    show_name(t, one, sizeof one);
    if (!(tg->weight_formats & (1u << fmt)))
        return llmc_fail(d, "%s: the checkpoint stores it quantized (%s, %s), and target %s has no %s weights", one,
                         llmc_pq_name(t->src.pq.kind), llmc_dtype_name(fmt), tg->name, llmc_dtype_name(fmt));
    int chosen = -1;
    for (int r = 0; r < n_rules; r++) {
        if (!rule_matches(g, rules[r].pattern, t, lm_head, embedding))
            continue;
        rules[r].matched = 1;
        if (chosen >= 0) {
            if (rules[r].shadow < 0) {
                rules[r].shadow = chosen;
                rules[r].shadow_w = w;
            }
            continue;
        }
        chosen = r;
        rules[r].decided = 1;
        for (int k = 0; k < t->src.n_parts; k++) /* a merged matrix: the part the rule names */
            if (glob_names(rules[r].pattern, &g->t[t->src.parts[k]])) {
                show_name(&g->t[t->src.parts[k]], one, sizeof one);
                break;
            }
        if (rules[r].fmt != fmt)
            return llmc_fail(d, "--keep %s: %s is stored quantized by the checkpoint (%s: %s, group %d%s); llmc "
                             "imports it as it is and never requantizes it", rules[r].text, one,
                             llmc_pq_name(t->src.pq.kind), llmc_dtype_name(fmt), (int)t->src.pq.group,
                             t->src.pq.zeros ? ", zero points" : "");
    }
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
    Rule rules[MAX_RULES];
    int n_rules;
    if (parse_rules(opt->keep, opt->n_keep, rules, &n_rules, d))
        return LLMC_ERR;
    for (int r = 0; r < n_rules; r++)
        if (check_format(tg, rules[r].fmt, "--keep", d))
            return LLMC_ERR;
    int nn = g->nn;
    char *done = calloc((size_t)g->nt + 1, 1), *role = calloc((size_t)g->nt + 1, 1);
    int *mats = malloc(((size_t)g->nt + 1) * sizeof *mats), n_mats = 0;
    if (!done || !role || !mats) {
        free(done);
        free(role);
        free(mats);
        return llmc_fail(d, "out of memory");
    }
    /* The logits' matmul writes them, or (a graph sharded by shard_tp) the rank's part of them that an
     * all_gather gathers. */
    int logits = g->logits;
    for (int k = 0; k < nn; k++)
        if (g->n[k].op == LLMC_OP_ALL_GATHER && g->n[k].out[0] == g->logits)
            logits = g->n[k].in[0];
    for (int k = 0; k < nn; k++) {   /* 1: read by the logits' matmul, 2: an embedding table */
        const LlmcNode *m = &g->n[k];
        if (m->op == LLMC_OP_MATMUL && m->out[0] == logits)
            role[m->in[1]] |= 1;
        if (m->op == LLMC_OP_EMBEDDING)
            role[m->in[0]] |= 2;
    }
    int nt0 = g->nt;
    unsigned used = 0;   /* the formats of the matrices, a bit each */
    LlmcStatus st = LLMC_OK;
    for (int i = 0; i < nn && !st; i++) {
        const LlmcNode *n = &g->n[i];
        for (int j = 0; j < n->n_in && !st; j++) {
            int w = n->in[j];
            LlmcTensor *t = &g->t[w];
            if (t->kind != LLMC_T_WEIGHT || w >= nt0 || done[w])
                continue;
            done[w] = 1;
            int matrix = (n->op == LLMC_OP_MATMUL && j == 1) || (n->op == LLMC_OP_EMBEDDING && j == 0) ||
                         (n->op == LLMC_OP_MOE && j >= 2); /* the stacked experts */
            if (!matrix) { /* f32; index vectors (act-order permutations) stay i32 */
                t->dtype = t->src.file_dtype == LLMC_I32 ? LLMC_I32 : LLMC_F32;
                t->layout = llmc_layout_plain();
                continue;
            }
            mats[n_mats++] = w;
            /* The roles of this table: the logits' matmul (lm_head) and/or an embedding. */
            int lm_head = (role[w] & 1) != 0, embedding = (role[w] & 2) != 0;
            if (t->src.pq.kind != LLMC_PQ_NONE) {
                st = keep_prequant(g, w, rules, n_rules, lm_head, embedding, tg, d);
                if (!st)
                    st = set_layout(g, w, t->src.pq.format, embedding, t->src.pq.group, t->src.pq.zeros, opt, d);
                continue;
            }
            /* Without --weights a matrix the checkpoint stores in a 16-bit format the target reads
             * stays in it (no rounding, half the bytes of f32). Quantized formats leave the
             * embedding and the lm_head in bf16 (as AutoAWQ and AutoGPTQ do: they are where 4 bits
             * cost the most quality). --keep overrides both. */
            LlmcDType f = fmt, own = t->src.file_dtype;
            if (!opt->weights_set && llmc_format_bytes(own, 1) == 2 && (tg->weight_formats & (1u << own)))
                f = own;
            if (llmc_format_n_sides(fmt) > 0 && (lm_head || embedding))
                f = (tg->weight_formats & (1u << LLMC_BF16)) ? LLMC_BF16 : tg->default_weights;
            int chosen = -1;   /* the first rule that matches decides */
            for (int r = 0; r < n_rules; r++) {
                if (!rule_matches(g, rules[r].pattern, t, lm_head, embedding))
                    continue;
                rules[r].matched = 1;
                if (chosen < 0) {
                    f = rules[r].fmt;
                    chosen = r;
                    rules[r].decided = 1;
                } else if (rules[r].shadow < 0) {
                    rules[r].shadow = chosen;
                    rules[r].shadow_w = w;
                }
            }
            used |= 1u << f;
            st = set_layout(g, w, f, embedding, opt->group, opt->asym, opt, d);
        }
    }
    /* Every rule decides some matrix: one that matches nothing, or only matrices earlier rules took,
     * is a mistake (a misspelt name, rules in the wrong order, a rule for the embedding of a table
     * tied to the lm_head) and says so. */
    for (int r = 0; r < n_rules && !st; r++) {
        char names[1400], one[320];
        if (!rules[r].matched) {
            candidates(g, mats, n_mats, rules[r].pattern, names, sizeof names);
            st = llmc_fail(d, "--keep %s: matches no matrix of the model (a glob over llmc's names or the "
                           "checkpoint's, or lm_head, embedding; nearest: %s)", rules[r].text, names);
        } else if (!rules[r].decided && rules[r].shadow >= 0) {
            const LlmcTensor *w = &g->t[rules[r].shadow_w];   /* a merged one: the part it names */
            for (int k = 0; k < w->src.n_parts; k++)
                if (glob_names(rules[r].pattern, &g->t[w->src.parts[k]])) {
                    w = &g->t[w->src.parts[k]];
                    break;
                }
            show_name(w, one, sizeof one);
            st = llmc_fail(d, "--keep %s: every matrix it matches is taken by an earlier rule, %s (e.g. %s)",
                           rules[r].text, rules[rules[r].shadow].text, one);
        }
    }
    /* --group and --asym are options of formats that some matrix is stored in: quantized ones
     * (with side tensors), ones with optional zero points (formats.def). */
    char have[128] = "", qf[128] = "", zf[128] = "", zn[128] = "";
    int grouped = 0, zeroed = 0;
    for (int i = 0; i < LLMC_DTYPE_COUNT; i++) {
        const LlmcFormatTraits *f = llmc_format((LlmcDType)i);
        const char *uname = f->alias ? f->alias : f->name; /* the name users give it */
        if (used & (1u << i))
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", have[0] ? ", " : "", f->name);
        if (llmc_format_n_sides((LlmcDType)i) == 0 || !(f->flags & LLMC_FMT_WEIGHT) || (f->flags & LLMC_FMT_TEST))
            continue;
        grouped |= (used & (1u << i)) != 0;
        snprintf(qf + strlen(qf), sizeof qf - strlen(qf), "%s%s", qf[0] ? ", " : "", uname);
        if (!optional_zero((LlmcDType)i))
            continue;
        zeroed |= (used & (1u << i)) != 0;
        snprintf(zf + strlen(zf), sizeof zf - strlen(zf), "%s%s%s%s%s", zf[0] ? ", " : "", uname,
                 f->alias ? " (" : "", f->alias ? f->name : "", f->alias ? ")" : "");
        snprintf(zn + strlen(zn), sizeof zn - strlen(zn), "%s%s", zn[0] ? " or " : "", f->name);
    }
    if (!st && opt->asym && !zeroed)
        st = llmc_fail(d, "--asym: zero points are a %s option, and no matrix is stored as %s (the matrices: %s)", zf,
                       zn, have);
    if (!st && opt->group && !grouped)
        st = llmc_fail(d, "--group %d: groups are an option of the quantized formats (%s), and no matrix is "
                       "stored in one (the matrices: %s)", opt->group, qf, have);
    free(done);
    free(role);
    free(mats);
    return st;
}
