/* rope.c — the reference RoPE frequencies of a rope node (ir.h llmc_rope_freqs), in double: the
 * interpreter rotates with them, and the kernels' float32 tables (codegen/c_prelude.h rope_table)
 * follow the same formulas, which are transformers' (modeling_rope_utils.py):
 *
 *   none      inv[i] = theta^(-2i/hd)
 *   llama3    long wavelengths divided by factor, short ones kept, a smooth ramp between
 *   linear    inv[i] / factor
 *   dynamic   past original_max_position_embeddings (transformers: max_position_embeddings) the base
 *             grows with the length: theta (factor len / orig - (factor - 1))^(hd / (hd - 2)); here the
 *             length is the position's own (pos + 1), so each position has the frequencies
 *             transformers uses once the sequence reaches it
 *   yarn      interpolated (inv / factor) and extrapolated (inv) frequencies mixed by a linear ramp
 *             over the dimensions between the correction range of beta_fast and beta_slow rotations
 *   longrope  inv[i] / ext[i], ext = long_factor past original_max_position_embeddings (by the
 *             position's own length, as for dynamic), else short_factor
 *
 * YaRN and LongRoPE scale cos and sin by attention_factor (the importer computes transformers'
 * default when the checkpoint gives none). */
#include <math.h>
#include <string.h>

#include "ir.h"

int llmc_rope_kind(const LlmcNode *n)
{
    static const char *const names[] = {"", "llama3", "linear", "dynamic", "yarn", "longrope"};
    const char *t = llmc_attr_str(n, "scaling.type", NULL);
    for (int i = 1; t && i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(t, names[i]) == 0)
            return i;
    return LLMC_ROPE_NONE;
}

void llmc_rope_freqs(const LlmcNode *n, int hd, int64_t pos, double *inv, double *mscale)
{
    int kind = llmc_rope_kind(n);
    double theta = llmc_attr_float(n, "theta", 10000.0), factor = llmc_attr_float(n, "scaling.factor", 1.0);
    double orig = llmc_attr_float(n, "scaling.original_max_position_embeddings", 8192.0);
    *mscale = kind == LLMC_ROPE_YARN || kind == LLMC_ROPE_LONGROPE ? llmc_attr_float(n, "scaling.attention_factor", 1.0)
                                                                    : 1.0;
    if (kind == LLMC_ROPE_DYNAMIC && (double)pos + 1 > orig)
        theta *= pow(factor * ((double)pos + 1) / orig - (factor - 1), (double)hd / (hd - 2));
    int64_t nf = 0;
    const double *ext = NULL;
    if (kind == LLMC_ROPE_LONGROPE)
        ext = llmc_attr_floats(n, (double)pos + 1 > orig ? "scaling.long_factor" : "scaling.short_factor", &nf);
    double lo = 0, hi = 0;
    if (kind == LLMC_ROPE_YARN) {
        double bf = llmc_attr_float(n, "scaling.beta_fast", 32.0), bs = llmc_attr_float(n, "scaling.beta_slow", 1.0);
        lo = hd * log(orig / (bf * 2 * M_PI)) / (2 * log(theta));
        hi = hd * log(orig / (bs * 2 * M_PI)) / (2 * log(theta));
        if (llmc_attr_int(n, "scaling.truncate", 1)) {
            lo = floor(lo);
            hi = ceil(hi);
        }
        lo = lo > 0 ? lo : 0;
        hi = hi < hd - 1 ? hi : hd - 1;
        if (lo == hi)
            hi += 0.001;
    }
    for (int i = 0; i < hd / 2; i++) {
        double f = 1.0 / pow(theta, (double)(2 * i) / hd);
        switch (kind) {
        case LLMC_ROPE_LLAMA3: {
            double lf = llmc_attr_float(n, "scaling.low_freq_factor", 1.0);
            double hf = llmc_attr_float(n, "scaling.high_freq_factor", 4.0);
            double wl = 2 * M_PI / f;
            if (wl > orig / lf)
                f = f / factor;
            else if (!(wl < orig / hf)) {
                double sm = (orig / wl - lf) / (hf - lf);
                f = (1 - sm) * f / factor + sm * f;
            }
            break;
        }
        case LLMC_ROPE_LINEAR:
            f /= factor;
            break;
        case LLMC_ROPE_YARN: {
            double ramp = (i - lo) / (hi - lo);
            ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
            double ef = 1 - ramp; /* the extrapolated share */
            f = f / factor * (1 - ef) + f * ef;
            break;
        }
        case LLMC_ROPE_LONGROPE:
            f /= ext && i < nf ? ext[i] : 1.0;
            break;
        default:
            break;
        }
        inv[i] = f;
    }
}

int llmc_rope_same(const LlmcNode *a, const LlmcNode *b)
{
    if (llmc_attr_int(a, "head_dim", -1) != llmc_attr_int(b, "head_dim", -1) ||
        llmc_attr_float(a, "theta", 10000.0) != llmc_attr_float(b, "theta", 10000.0) ||
        strcmp(llmc_attr_str(a, "style", ""), llmc_attr_str(b, "style", "")) != 0)
        return 0;
    for (int pass = 0; pass < 2; pass++) { /* every scaling attribute of each is the other's */
        const LlmcNode *x = pass ? b : a, *y = pass ? a : b;
        for (int i = 0; i < x->n_attr; i++) {
            const LlmcAttr *p = &x->attr[i], *q = llmc_attr(y, p->key);
            if (strncmp(p->key, "scaling.", 8) != 0)
                continue;
            if (!q || q->kind != p->kind)
                return 0;
            if (p->kind == LLMC_ATTR_STR ? strcmp(p->s, q->s) != 0
                : p->kind == LLMC_ATTR_FLOATS ? p->i != q->i || memcmp(p->v, q->v, sizeof(double) * (size_t)p->i) != 0
                                              : p->f != q->f)
                return 0;
        }
    }
    return 1;
}
