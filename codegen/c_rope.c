/* c_rope.c — C emitter for rotary embeddings (and the rope tables both backends share). Each
 * distinct frequency setup (head_dim, theta, scaling) gets one cos/sin table of max_seq_len
 * positions in the constants area, filled at start by init() (c_prelude.h rope_table, and
 * rope_table_scaled for linear, dynamic, YaRN and LongRoPE scaling, whose per-position frequencies
 * and attention factor the table holds); the kernel rotates each head's pairs by its token's
 * position. */
#include <stdlib.h>
#include <string.h>

#include "c_common.h"

/* The text of a list attribute as a C array initializer. */
static void float_list(LlmcEmit *e, LlmcBuf *b, const LlmcNode *n, const char *key)
{
    int64_t cnt;
    const double *v = llmc_attr_floats(n, key, &cnt);
    llmc_buf_printf(b, "{");
    for (int64_t i = 0; i < cnt; i++)
        llmc_buf_printf(b, "%s%s", i ? ", " : "", llmc_c_float(e, v[i]));
    llmc_buf_printf(b, "}");
}

int64_t llmc_emit_rope_table(LlmcEmit *e, const LlmcNode *n, int64_t hd)
{
    const LlmcGraph *g = e->g;
    int kind = llmc_rope_kind(n), llama3 = kind == LLMC_ROPE_LLAMA3;
    /* One table a distinct setup: the key is head_dim and every frequency attribute. */
    LlmcBuf key = {0};
    llmc_buf_printf(&key, "%lld %.17g", (long long)hd, llmc_attr_float(n, "theta", 10000.0));
    for (int i = 0; i < n->n_attr; i++) {
        const LlmcAttr *a = &n->attr[i];
        if (strncmp(a->key, "scaling.", 8) != 0)
            continue;
        llmc_buf_printf(&key, " %s=", a->key);
        if (a->kind == LLMC_ATTR_STR)
            llmc_buf_printf(&key, "%s", a->s);
        else if (a->kind == LLMC_ATTR_FLOATS)
            for (int64_t k = 0; k < a->i; k++)
                llmc_buf_printf(&key, "%.17g,", a->v[k]);
        else
            llmc_buf_printf(&key, "%.17g", a->f);
    }
    for (int i = 0; i < e->n_rope; i++)
        if (strcmp(e->rope_keys[i], key.s) == 0) {
            llmc_buf_free(&key);
            return e->rope_tables[i];
        }
    e->rope_keys = realloc(e->rope_keys, (size_t)(e->n_rope + 1) * sizeof *e->rope_keys);
    e->rope_tables = realloc(e->rope_tables, (size_t)(e->n_rope + 1) * sizeof *e->rope_tables);
    if (!e->rope_keys || !e->rope_tables)
        abort();
    int64_t off = e->const_bytes;
    e->rope_keys[e->n_rope] = key.s;
    e->rope_tables[e->n_rope++] = off;
    e->const_bytes += ((int64_t)g->max_seq_len * hd * 4 + 63) / 64 * 64;
    double theta = llmc_attr_float(n, "theta", 10000.0), factor = llmc_attr_float(n, "scaling.factor", 1.0);
    double orig = llmc_attr_float(n, "scaling.original_max_position_embeddings", 8192.0);
    if (kind == LLMC_ROPE_NONE || llama3) {
        llmc_buf_printf(&e->init, "    /* rope table: head_dim %lld, theta %.9g%s */\n"
                                  "    rope_table((float *)(ex->consts + %lld), %d, %lld, %s, %d, %s, %s, %s, %s);\n",
                        (long long)hd, theta, llama3 ? ", llama3 scaling" : "", (long long)off, g->max_seq_len,
                        (long long)hd, llmc_c_float(e, theta), llama3, llmc_c_float(e, factor),
                        llmc_c_float(e, llmc_attr_float(n, "scaling.low_freq_factor", 1.0)),
                        llmc_c_float(e, llmc_attr_float(n, "scaling.high_freq_factor", 4.0)), llmc_c_float(e, orig));
        return off;
    }
    static const char *const names[] = {"", "", "linear", "dynamic", "yarn", "longrope"};
    llmc_buf_printf(&e->init, "    { /* rope table: head_dim %lld, theta %.9g, %s scaling */\n", (long long)hd, theta,
                    names[kind]);
    if (kind == LLMC_ROPE_LONGROPE) {
        llmc_buf_printf(&e->init, "        static const float sf[] = ");
        float_list(e, &e->init, n, "scaling.short_factor");
        llmc_buf_printf(&e->init, ";\n        static const float lf[] = ");
        float_list(e, &e->init, n, "scaling.long_factor");
        llmc_buf_printf(&e->init, ";\n");
    }
    llmc_buf_printf(&e->init, "        rope_table_scaled((float *)(ex->consts + %lld), %d, %lld, %s, %d, %s, ", (long long)off,
                    g->max_seq_len, (long long)hd, llmc_c_float(e, theta), kind, llmc_c_float(e, factor));
    llmc_buf_printf(&e->init, "%s, %s, ", llmc_c_float(e, orig), llmc_c_float(e, llmc_attr_float(n, "scaling.beta_fast", 32.0)));
    llmc_buf_printf(&e->init, "%s, %d, %s, %s);\n    }\n", llmc_c_float(e, llmc_attr_float(n, "scaling.beta_slow", 1.0)),
                    (int)llmc_attr_int(n, "scaling.truncate", 1),
                    llmc_c_float(e, kind == LLMC_ROPE_YARN || kind == LLMC_ROPE_LONGROPE
                                        ? llmc_attr_float(n, "scaling.attention_factor", 1.0) : 1.0),
                    kind == LLMC_ROPE_LONGROPE ? "sf, lf" : "0, 0");
    return off;
}

LlmcStatus llmc_c_emit_rope(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    int64_t hd = llmc_attr_int(n, "head_dim", 0), H = llmc_cols(&g->t[x].shape) / hd;
    int inter = strcmp(llmc_attr_str(n, "style", "half"), "interleaved") == 0;
    int64_t table = llmc_emit_rope_table(e, n, hd);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* rope (%s pairs): f32[%s,%lld] = %lld heads of %lld; table at consts + %lld; strides x %lld, "
                    "y %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, "
                    "const int32_t *pos, float *y)\n{\n"
                    "    rope_rows(%d, %s, %lld, %lld, x, %lld, pos, (const float *)(ex->consts + %lld), y, %lld, tid, "
                    "nth);\n}\n",
                    inter ? "interleaved" : "half", "rows", (long long)(H * hd), (long long)H,
                    (long long)hd, (long long)table, (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y),
                    inter, "nrows", (long long)H, (long long)hd, (long long)llmc_row_stride(g, x),
                    (long long)table, (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "rope", k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, x, 3, PTR(x, "const float"), PTR(n->in[1], "const int32_t"), PTR(y, "float"));
    return LLMC_OK;
}
