/* c_attention.c — C emitter for the paged KV cache: kv_write (new K/V rows to their slots) and
 * paged_attention (each query over its sequence's positions, read through the block table), in the
 * emission's KV formats (e->kv[2], keys and values: the graph's, llmc_c_kv_format), whose rows
 * c_prelude.h reads and writes through ir/kv_formats.h. fp8's scales per layer and KV head are a
 * table in the constants (llmc_emit_kv_scales). The layer is an argument of the kernel, not a
 * constant in it: the layers of a model share one function (the host compiler builds the attention
 * once, not once a layer). */
#include "c_common.h"

LlmcStatus llmc_c_emit_attention(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int L = g->kv_layers, BS = g->kv_block_size, HKV = g->kv_heads, HD = g->kv_head_dim;
    int layer = (int)llmc_attr_int(n, "layer", 0);
    char layer_arg[16];
    snprintf(layer_arg, sizeof layer_arg, "%d", layer);
    char kf[64], kvs[64], hs[48] = "0";
    snprintf(kf, sizeof kf, "%s, %s", llmc_kernel_format(e->kv[0]), llmc_kernel_format(e->kv[1]));
    llmc_kv_formats_str(e->kv, kvs, sizeof kvs);
    if (llmc_kv_has_layer_scale(e->kv[0]) || llmc_kv_has_layer_scale(e->kv[1]))
        snprintf(hs, sizeof hs, "(const float *)(ex->consts + %lld)", (long long)llmc_emit_kv_scales(e));
    LlmcBuf k = {0};
    const char *name;
    if (n->op == LLMC_OP_KV_WRITE) {
        int kk = n->in[0], v = n->in[1];
        llmc_buf_printf(&k,
                        "/* kv_write: f32[T,%d] K and V rows -> %s pool of %d layers (blocks of %d positions x %d "
                        "heads x %d); strides k %lld, v %lld */\n"
                        "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *k, "
                        "const float *v, const int32_t *slots, int layer)\n{\n"
                        "    kv_write(%s, st->n_tokens, %d, %d, %d, %d, layer, k, %lld, v, %lld, slots, st->positions, "
                        "st->seq_of_token, st->block_tables, st->max_blocks_per_seq, (uint8_t *)ex->kv, %s, tid, nth);\n}\n",
                        HKV * HD, kvs, L, BS, HKV, HD, (long long)llmc_row_stride(g, kk), (long long)llmc_row_stride(g, v),
                        kf, L, BS, HKV, HD, (long long)llmc_row_stride(g, kk), (long long)llmc_row_stride(g, v), hs);
        name = llmc_emit_kernel(e, "kv_write", k.s);
        llmc_c_call(e, node, name, -1, 4, PTR(kk, "const float"), PTR(v, "const float"), PTR(n->in[2], "const int32_t"),
                    layer_arg);
    } else {
        int q = n->in[0], y = n->out[0];
        int64_t HQ = llmc_cols(&g->t[q].shape) / HD;
        double scale = llmc_attr_float(n, "scale", 1.0), softcap = llmc_attr_float(n, "softcap", 0.0);
        int window = (int)llmc_attr_int(n, "window", 0);
        /* Scores on the stack for spans up to 4096 positions (16 KB); longer ones are recomputed
         * (c_prelude.h paged_attention), so no stack buffer grows with the context length. */
        int cap = g->max_seq_len < 4096 ? g->max_seq_len : 4096;
        llmc_buf_printf(&k,
                        "/* paged_attention: %lld query heads over %d %s KV heads of %d, scale %.9g%s; "
                        "strides q %lld, y %lld */\n"
                        "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const float *q, "
                        "const int32_t *pos, float *y, int layer)\n{\n"
                        "    float sc[%d], kb[%d], vb[%d];\n"
                        "    paged_attention%s(%s, st->n_tokens, %d, %d, %lld, %d, %d, layer, sc, %d, kb, vb, %s, %d, q, %lld, "
                        "pos, st->seq_of_token, st->block_tables, st->max_blocks_per_seq, (uint8_t *)ex->kv, %s, y, "
                        "%lld%s%s, tid, nth);\n}\n",
                        (long long)HQ, HKV, kvs, HD, scale, window ? ", sliding window" : "",
                        (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y), cap, HD, HD,
                        softcap > 0 ? "_sc" : "", kf, L, BS, (long long)HQ, HKV, HD, cap, llmc_c_float(e, scale),
                        window, (long long)llmc_row_stride(g, q), hs, (long long)llmc_row_stride(g, y), softcap > 0 ? ", " : "",
                        softcap > 0 ? llmc_c_float(e, softcap) : "");
        name = llmc_emit_kernel(e, "paged_attention", k.s);
        llmc_c_call(e, node, name, -1, 4, PTR(q, "const float"), PTR(n->in[1], "const int32_t"), PTR(y, "float"), layer_arg);
    }
    llmc_buf_free(&k);
    return LLMC_OK;
}
