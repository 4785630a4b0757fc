/* cuda_rope.c — CUDA emitter for rotary embeddings (one block per row; the cos/sin table is built on
 * the host at start, as for the cpu target, and uploaded with the constants). */
#include <assert.h>
#include <string.h>

#include "cuda_common.h"

LlmcStatus llmc_cuda_emit_rope(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int x = n->in[0], y = n->out[0];
    int64_t hd = llmc_attr_int(n, "head_dim", 0), H = llmc_cols(&g->t[x].shape) / hd;
    int inter = strcmp(llmc_attr_str(n, "style", "half"), "interleaved") == 0;
    int64_t table = llmc_emit_rope_table(e, n, hd);
    char xs[160];
    snprintf(xs, sizeof xs, "%s", llmc_cuda_ptr(e, x, "const float"));
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* rope (%s pairs): f32[%s,%lld] = %lld heads of %lld; table at consts + %lld; strides x %lld, "
                    "y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    rope_row<%d, %lld, %lld, %lld, %lld>(%s, a.positions, C(%lld), %s);\n}\n",
                    inter ? "interleaved" : "half", llmc_cuda_host_rows(g, x), (long long)(H * hd), (long long)H,
                    (long long)hd, (long long)table, (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y),
                    inter, (long long)H, (long long)hd, (long long)llmc_row_stride(g, x),
                    (long long)llmc_row_stride(g, y), xs, (long long)table, llmc_cuda_ptr(e, y, "float"));
    const char *name = llmc_cuda_kernel(e, "rope", k.s, 0);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, NULL, name, llmc_cuda_host_rows(g, x), "1", "1", 128, 0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}

/* rope_kv_write: RoPE of q (to the output) and of k, with k and v written to the paged cache in the
 * graph's KV formats (e->kv: keys, values; fp8's scales from the constants). */
LlmcStatus llmc_cuda_emit_rope_kv(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int q = n->in[0], k = n->in[1], v = n->in[2], y = n->out[0];
    int64_t hd = llmc_attr_int(n, "head_dim", 0), HQ = llmc_cols(&g->t[q].shape) / hd;
    int64_t HKV = llmc_cols(&g->t[k].shape) / hd;
    int inter = strcmp(llmc_attr_str(n, "style", "half"), "interleaved") == 0;
    int layer = (int)llmc_attr_int(n, "layer", 0);
    int64_t table = llmc_emit_rope_table(e, n, hd);
    char qs[160], ks[160], vs[160], norms[400] = "", kvs[64];
    snprintf(qs, sizeof qs, "%s", llmc_cuda_ptr(e, q, "const float"));
    snprintf(ks, sizeof ks, "%s", llmc_cuda_ptr(e, k, "const float"));
    snprintf(vs, sizeof vs, "%s", llmc_cuda_ptr(e, v, "const float"));
    if (n->n_in == 7) { /* q and k normed a head at a time first (fuse_rope_kv) */
        char qn[160];
        snprintf(qn, sizeof qn, "%s", llmc_cuda_ptr(e, n->in[5], "const float"));
        snprintf(norms, sizeof norms, ", %s, %s, %s", qn, llmc_cuda_ptr(e, n->in[6], "const float"),
                 llmc_c_float(e, llmc_attr_float(n, "eps", 1e-5)));
    }
    LlmcBuf b = {0};
    llmc_buf_printf(&b,
                    "/* rope_kv_write (%s pairs): q %lld heads, k/v %lld heads of %lld -> q rotated, k rotated and v "
                    "to the %s pool; table at consts + %lld%s */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    rope_kv_row<%s, %d, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %d, %d>(%s, %s, %s, a.positions, "
                    "a.slots, C(%lld), %s, a.kv, %s, %s, KvSeqs{a.seq_of_token, a.block_tables, a.max_blocks_per_seq}%s);"
                    "\n}\n",
                    inter ? "interleaved" : "half", (long long)HQ, (long long)HKV, (long long)hd,
                    llmc_kv_formats_str(e->kv, kvs, sizeof kvs), (long long)table,
                    norms[0] ? "; q and k normed a head at a time first" : "", llmc_cuda_kv_formats(e), inter,
                    (long long)HQ, (long long)HKV, (long long)hd, (long long)llmc_row_stride(g, q),
                    (long long)llmc_row_stride(g, k), (long long)llmc_row_stride(g, v), (long long)llmc_row_stride(g, y),
                    g->kv_layers, g->kv_block_size, qs, ks, vs, (long long)table, llmc_cuda_ptr(e, y, "float"),
                    llmc_cuda_int(e, layer), llmc_cuda_kv_scales(e), norms);
    const char *name = llmc_cuda_kernel(e, "rope_kv_write", b.s, 0);
    llmc_buf_free(&b);
    /* what gemv_b1's RoPE epilogue does for one-token steps too (rope_pair, the f16 cache) */
    if (!norms[0])
        llmc_cuda_kernel_math(e, name, "%s", llmc_cuda_rope_math(e, inter, HQ, HKV, hd, table));
    char gy[32];
    snprintf(gy, sizeof gy, "%lld", (long long)(HQ + HKV));
    /* min_tokens 2: one-token steps do it in the Q/K/V matmul's epilogue (fuse_rope_epilogue), but
     * in a batch-invariant build, which has no one-row matmul kernel (cuda_matmul.c) */
    assert(llmc_attr_int(n, "min_tokens", 1) <= 2); /* the only values fuse_rope_epilogue sets */
    llmc_cuda_launch(e, node, llmc_attr_int(n, "min_tokens", 1) > 1 && !e->binv ? "T > 1" : NULL, name, "T", gy, "1", (int)(hd / 2),
                     0);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
