/* fuse_rope_epilogue — a one-token step's RoPE and KV write in the Q/K/V matmul's epilogue:
 *     qkv = matmul(x, wqkv); q, k, v = slices of qkv; q' = rope_kv_write(q, k, v, pos, slots)
 *       ->  the same nodes, with  matmul ... rope_epilogue=q'  and  rope_kv_write ... min_tokens=2
 * The CUDA one-row kernel of the matmul (gemv_b1, steps of one token) then rotates q into q' and
 * writes the rotated k and v to the paged cache itself, and rope_kv_write runs only for steps of
 * two tokens or more: one launch a layer fewer, and decode attention can start during the Q/K/V
 * matmul. Applies where the one-row kernel exists (16-byte aligned operands, K a whole number of
 * 16-byte vectors: cuda_matmul.c's condition), the matmul has no residual or SwiGLU epilogue, q, k
 * and v are its output's columns in that order with k and v one cache row each, and q' does not
 * overlap the matmul's input (the kernel's blocks still read it while others write q'), and the
 * cache is not quantized (keys and values f16 on CUDA: the epilogue stores value by value, where
 * the quantized formats quantize whole rows or need their scales; those keep the rope_kv_write
 * kernel). Every
 * layer is matched on its own (5a3ce15: a fusion decided in the emitter matched only the first).
 *
 * requires: fuse_rope_kv, plan_memory_gpu (arena offsets: the overlap test), the last GPU pass
 * provides: rope_epilogue (matmul: the output tensor of the rope_kv_write it absorbs for one-token
 *           steps), min_tokens (rope_kv_write: 2)
 * invalidates: nothing (attributes only)
 */
#include "passes.h"

/* Columns between rows of t (that of the tensor it is a view of). */
static int64_t row_stride(const LlmcGraph *g, int t)
{
    while (g->t[t].view_of >= 0)
        t = g->t[t].view_of;
    return llmc_cols(&g->t[t].shape);
}

/* Whether matmul m can take rope_kv_write r into its one-row kernel. */
static int absorbs(const LlmcGraph *g, const LlmcNode *m, const LlmcNode *r)
{
    int fused = m->op == LLMC_OP_MATMUL_FUSED;
    if (llmc_format_n_sides(g->kv_format[0]) || llmc_format_n_sides(g->kv_format[1]))
        return 0; /* a quantized cache (the CUDA targets' plain one is f16) */
    if (fused && (llmc_attr_int(m, "swiglu", 0) || llmc_attr_int(m, "residual", -1) > 0))
        return 0;
    const LlmcTensor *w = &g->t[m->in[1]], *xt = &g->t[m->in[0]];
    int ni = fused ? (int)llmc_attr_int(m, "norm", -1) : -1;
    int64_t K = w->shape.dim[1], ve = 16 / llmc_dtype_size(w->dtype);
    if (row_stride(g, m->in[0]) % 4 || xt->offset % 16 || (ni > 0 && g->t[m->in[ni]].offset % 16) || K % ve ||
        w->offset % 16 || (llmc_format_n_sides(w->dtype) > 0 && w->layout.order != LLMC_ORDER_LANE8))
        return 0; /* no one-row kernel (quantized matrices have one in lane8 order only) */
    int y = m->out[0];
    const LlmcTensor *q = &g->t[r->in[0]], *k = &g->t[r->in[1]], *v = &g->t[r->in[2]], *o = &g->t[r->out[0]];
    int64_t hd = llmc_attr_int(r, "head_dim", 0), nq = llmc_cols(&q->shape), nk = llmc_cols(&k->shape);
    if (k->view_of != y || v->view_of != y || q->view_col != 0 || k->view_col != nq || v->view_col != nq + nk ||
        llmc_cols(&v->shape) != nk || llmc_cols(&g->t[y].shape) != nq + 2 * nk || hd <= 0 || hd % 2 ||
        g->kv_head_dim != hd || nk != (int64_t)g->kv_heads * hd)
        return 0;
    return !(o->offset < xt->offset + xt->bytes && xt->offset < o->offset + o->bytes);
}

LlmcStatus pass_fuse_rope_epilogue(LlmcGraph *g, const LlmcPassOptions *opt, LlmcDiag *d)
{
    (void)opt;
    (void)d;
    for (int i = 0; i < g->nn; i++) {
        LlmcNode *r = &g->n[i];
        if (r->op != LLMC_OP_ROPE_KV_WRITE || g->t[r->in[0]].view_of < 0 || r->n_in > 5)
            continue; /* (q/k norms: the one-row kernel has no whole head to norm) */
        int mi = g->t[g->t[r->in[0]].view_of].producer;
        if (mi < 0 || (g->n[mi].op != LLMC_OP_MATMUL && g->n[mi].op != LLMC_OP_MATMUL_FUSED) ||
            llmc_attr(&g->n[mi], "rope_epilogue") || !absorbs(g, &g->n[mi], r))
            continue;
        llmc_attr_set_str(g, &g->n[mi], "rope_epilogue", g->t[r->out[0]].name);
        llmc_attr_set_int(g, r, "min_tokens", 2);
    }
    return LLMC_OK;
}
