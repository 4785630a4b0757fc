/* lower_paged_kv — attention over a paged KV cache.
 *
 * The KV cache is a pool of fixed-size blocks (kv_block_size positions each) shared by all layers:
 * a block holds, for every layer, the K and V rows of its positions. Each sequence owns a block
 * table; its position p lives in block table[p / bs] at offset p % bs. Every `attention` node
 * becomes
 *     kv_write(k, v, slots)           the step's new K/V rows go to their slots (slot mapping)
 *     paged_attention(q, positions)   each query reads positions 0..p of its sequence through the
 *                                     block table (the step's own rows included)
 * and gets the next layer index of the pool. The pool's storage formats (keys and values each) are
 * --kv's, or the target's default; their layouts are plain (no groups, row-major); a format with a
 * scale per layer and KV head (fp8) gets them here: --kv-calib's (opt->kv_scales), else 1.
 *
 * requires: infer_shapes
 * provides: the step input %slots (i32[T]); KV_WRITE/PAGED_ATTENTION nodes with layer, head_dim,
 *           n_kv_heads (and the attention's scale, window, softcap); g->kv_layers, kv_heads, kv_head_dim, kv_format[2], kv_layout[2], kv_default,
 *           kv_scales, kv_calibrated
 * errors:   a KV format the target does not implement; attention layers with different K/V shapes
 *           (the pool has one layout)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"
#include "../ir/kv_layout.h"

/* The KV formats of keys and values: --kv's if the target implements them, else its default. */
static LlmcStatus choose_kv_format(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    const LlmcTarget *tg = opt->target;
    for (int w = 0; w < 2; w++) {
        LlmcDType fmt = opt->kv_set ? opt->kv[w] : tg->kv_default;
        if ((unsigned)fmt >= LLMC_DTYPE_COUNT || !(tg->kv_formats & (1u << fmt)) ||
            !(llmc_format(fmt)->flags & LLMC_FMT_KV)) {
            char have[160] = "";
            for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
                if (tg->kv_formats & (1u << i))
                    snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", have[0] ? ", " : "",
                             llmc_dtype_name((LlmcDType)i));
            return llmc_fail(d, "--kv %s: target %s stores the KV cache as %s", llmc_dtype_name(fmt), tg->name, have);
        }
        g->kv_format[w] = fmt;
        g->kv_layout[w] = llmc_layout_plain();
    }
    g->kv_default = g->kv_format[0] == tg->kv_default && g->kv_format[1] == tg->kv_default;
    return LLMC_OK;
}

/* The LAYER_HEAD scales (fp8) of the L layers' K and V heads: --kv-calib's, else 1; none when no
 * KV format has them. */
static LlmcStatus kv_scales(LlmcGraph *g, const LlmcPassOptions *opt, int L, LlmcDiag *d)
{
    int need = llmc_kv_has_layer_scale(g->kv_format[0]) || llmc_kv_has_layer_scale(g->kv_format[1]);
    g->kv_scales = NULL;
    g->kv_calibrated = 0;
    if (!need || L == 0)
        return LLMC_OK;
    size_t n = (size_t)L * 2 * (size_t)g->kv_heads;
    g->kv_scales = llmc_galloc(g, n * sizeof *g->kv_scales);
    if (!g->kv_scales)
        return llmc_fail(d, "lower_paged_kv: out of memory");
    for (size_t i = 0; i < n; i++) {
        float s = opt->kv_scales ? opt->kv_scales[i] : 1.0f;
        if (!(s > 0.0f) || !isfinite(s))
            return llmc_fail(d, "lower_paged_kv: KV scale %zu (layer %zu) is %g, not a finite positive number", i,
                             i / (2 * (size_t)g->kv_heads), (double)s);
        g->kv_scales[i] = s;
    }
    g->kv_calibrated = opt->kv_scales != NULL;
    return LLMC_OK;
}

LlmcStatus pass_lower_paged_kv(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    if (choose_kv_format(g, opt, d))
        return LLMC_ERR;
    int n_att = 0;
    for (int i = 0; i < g->nn; i++)
        n_att += g->n[i].op == LLMC_OP_ATTENTION;
    if (!n_att)
        return LLMC_OK;
    LlmcShape ts = llmc_shape1(LLMC_T);
    g->in_slots = llmc_tensor_new(g, "slots", LLMC_T_INPUT, LLMC_I32, &ts);
    LlmcNode *out = malloc(((size_t)g->nn + (size_t)n_att + 1) * sizeof *out);
    if (!out)
        return llmc_fail(d, "lower_paged_kv: out of memory");
    int k = 0, layer = 0;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode n = g->n[i];
        if (n.op != LLMC_OP_ATTENTION) {
            out[k++] = n;
            continue;
        }
        int64_t hd = llmc_attr_int(&n, "head_dim", 0);
        int64_t kvh = llmc_cols(&g->t[n.in[1]].shape) / hd;
        if (layer == 0) {
            g->kv_heads = (int)kvh;
            g->kv_head_dim = (int)hd;
        } else if (kvh != g->kv_heads || hd != g->kv_head_dim) {
            free(out);
            return llmc_fail(d, "%s: attention with %lld KV heads of dim %lld; earlier layers have %d of dim %d "
                             "(the paged KV pool has one layout for all layers)",
                             n.where, (long long)kvh, (long long)hd, g->kv_heads, g->kv_head_dim);
        }
        int wins[3] = {n.in[1], n.in[2], g->in_slots};
        LlmcNode w = llmc_node_make(LLMC_OP_KV_WRITE, 3, wins, 0, NULL);
        w.layer = n.layer;
        w.where = n.where;
        llmc_attr_set_int(g, &w, "layer", layer);
        llmc_attr_set_int(g, &w, "head_dim", hd);
        out[k++] = w;
        int ains[2] = {n.in[0], g->in_positions};
        LlmcNode a = llmc_node_make(LLMC_OP_PAGED_ATTENTION, 2, ains, 1, n.out);
        a.layer = n.layer;
        a.where = n.where;
        llmc_attr_set_int(g, &a, "layer", layer);
        llmc_attr_set_int(g, &a, "head_dim", hd);
        llmc_attr_set_int(g, &a, "n_kv_heads", kvh);
        llmc_attr_set_float(g, &a, "scale", llmc_attr_float(&n, "scale", 1.0 / sqrt((double)hd)));
        llmc_attr_set_int(g, &a, "window", llmc_attr_int(&n, "window", 0));
        if (llmc_attr(&n, "softcap"))
            llmc_attr_set_float(g, &a, "softcap", llmc_attr_float(&n, "softcap", 0.0));
        out[k++] = a;
        layer++;
    }
    free(g->n);
    g->n = out;
    g->nn = k;
    g->cap_n = k;
    g->kv_layers = layer;
    llmc_graph_reindex(g);
    if (kv_has_ring((int)g->kv_format[0], (int)g->kv_format[1])) { /* KIVI: groups of G in the blocks, a ring */
        char fs[64];
        llmc_kv_formats_str(g->kv_format, fs, sizeof fs);
        if (g->kv_block_size % KV_KIVI_G)
            return llmc_fail(d, "--kv %s: KIVI's groups of %d positions need --kv-block a multiple of %d (it is %d)", fs,
                             KV_KIVI_G, KV_KIVI_G, g->kv_block_size);
        if (g->kv_head_dim % KV_KIVI_G)
            return llmc_fail(d, "--kv %s: KIVI's groups of %d channels need a head_dim that is a multiple of %d (it "
                             "is %d)", fs, KV_KIVI_G, KV_KIVI_G, g->kv_head_dim);
        if (kv_ring_blocks((int)g->kv_format[0], (int)g->kv_format[1], layer, g->kv_block_size, g->kv_heads,
                           g->kv_head_dim) < 1)
            return llmc_fail(d, "--kv %s: a block of %d positions cannot hold one position of the f16 residual; give "
                             "a larger --kv-block", fs, g->kv_block_size);
    }
    return kv_scales(g, opt, layer, d);
}
