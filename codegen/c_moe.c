/* c_moe.c — C emitter for the mixture-of-experts block (moe): routing, then each expert's gate/up
 * and down matmuls over the tokens routed to it, grouped (c_prelude.h moe_*), with the matmul
 * helpers of the weights' format (mm_f32/bf16/f16, mm_q's paths for fp8, u4, nvfp4), so every
 * weight format applies to the experts. Tokens go in chunks whose pairs' rows fit a scratch region
 * past the planned arena (at most ~16 MB); the threads meet at barriers between the stages of a
 * chunk. */
#include <stdio.h>
#include <string.h>

#include "c_common.h"

/* Scratch bytes of a chunk of RC tokens (c_prelude.h moe_scratch). */
static int64_t scratch_bytes(int64_t RC, int64_t K, int64_t E, int64_t D, int64_t F)
{
    int64_t n = RC * K;
    return 4 * (3 * n + 2 * E + 1) + 4 * (n + n * D + n * 2 * F + n * F + n * D);
}

/* The matmul helper call over rows [e ROWS, (e + 1) ROWS) of weight w for n tokens:
 * "mm_bf16(N_TOK, K, ROWS, X, K, w + ..., 0, Y, ROWS, tid, nth)", or for a quantized format its
 * path (mm_q_fused or mm_q_rows, llmc_c_mmq_path) with its side tensors (s0, s1: the kernel's
 * arguments sv[0], sv[1]) sliced alike: an expert's share of a side tensor is its bytes over the
 * experts (one row of groups a weight row), of a per-tensor one (nvfp4's tensor scale) the whole
 * of it. */
static void mm_call(LlmcBuf *b, const LlmcTensor *w, const LlmcGraph *g, int64_t E, const char *wv,
                    const char *const sv[2], int64_t rows, int64_t K, const char *xs, const char *ys)
{
    if (llmc_format_n_sides(w->dtype) == 0) {
        llmc_buf_printf(b, "mm_%s(m.cnt[e], %lld, %lld, %s, %lld, %s + (size_t)e * %lld, 0, %s, %lld, tid, nth);\n",
                        llmc_c_wsuffix(w->dtype), (long long)K, (long long)rows, xs, (long long)K, wv,
                        (long long)(rows * K), ys, (long long)rows);
        return;
    }
    llmc_buf_printf(b, "%s(%s, %s, m.cnt[e], %lld, %lld, %d, %s, %lld, %s + (size_t)e * %lld, ", llmc_c_mmq_path(w),
                    llmc_kernel_format(w->dtype), llmc_kernel_order(w->layout.order), (long long)K, (long long)rows,
                    w->layout.group, xs, (long long)K, wv, (long long)llmc_format_bytes(w->dtype, rows * K));
    for (int i = 0; i < 2; i++) {
        int s = w->layout.side[i];
        if (s < 0)
            llmc_buf_printf(b, "0, ");
        else /* a TENSOR side (nvfp4's tensor scale) is the whole tensor's: every expert's */
            llmc_buf_printf(b, "(const uint8_t *)%s + (size_t)e * %lld, ", sv[i],
                            llmc_format(w->dtype)->side[i].shape == LLMC_SHAPE_TENSOR
                                ? 0LL
                                : (long long)(llmc_tensor_bytes(g, s) / E));
    }
    llmc_buf_printf(b, "0, %s, %lld, tid, nth);\n", ys, (long long)rows);
}

/* The kernel's parameter type of weight w ("const uint16_t *"): its C type, bytes for quantized. */
static const char *wparam(const LlmcTensor *w)
{
    return llmc_format_n_sides(w->dtype) == 0 ? llmc_c_wtype(w->dtype) : "uint8_t";
}

/* Side tensor i of w as a kernel argument, "0" if absent. */
#define SIDE(w, i) ((w)->layout.side[i] >= 0 ? PTR((w)->layout.side[i], "const void") : "0")

LlmcStatus llmc_c_emit_moe(LlmcEmit *e, int node, LlmcDiag *d)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    if (n->n_in > 4) /* the GPU stage's fusions (norm, residual): the cpu target runs the common pipeline */
        return llmc_fail(d, "internal error: %s: moe with the GPU fusions' inputs on the C backend", n->where);
    int x = n->in[0], lg = n->in[1], y = n->out[0];
    const LlmcTensor *gu = &g->t[n->in[2]], *dn = &g->t[n->in[3]];
    int64_t E = llmc_attr_int(n, "experts", 1), K = llmc_attr_int(n, "top_k", 1);
    int64_t D = llmc_cols(&g->t[x].shape), F = dn->shape.dim[1];
    int norm = (int)llmc_attr_int(n, "norm_topk_prob", 0);
    int gelu = strcmp(llmc_attr_str(n, "act", "silu"), "gelu_tanh") == 0;
    int64_t max_rows = g->t[x].shape.sym[0] == LLMC_DIM_O ? g->max_outputs : g->max_tokens;
    int64_t RC = ((int64_t)16 << 20) / scratch_bytes(1, K, E, D, F);
    RC = RC < 1 ? 1 : RC > max_rows ? max_rows : RC;
    int64_t base = (g->arena_bytes + 63) / 64 * 64, need = base + scratch_bytes(RC, K, E, D, F) - g->arena_bytes;
    e->arena_extra = need > e->arena_extra ? need : e->arena_extra;
    LlmcBuf t = {0};
    char xs[96], ys[96];
    llmc_buf_printf(&t,
                    "/* moe: f32[%s,%lld] through %lld experts of %lld (top %lld%s, %s), router logits stride %lld; "
                    "gate/up %s[%lld,%lld], down %s[%lld,%lld]; %lld tokens a chunk, scratch at arena + %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, "
                    "const float *lg, const %s *gu, const void *gus, const void *guz, const %s *dn, "
                    "const void *dns, const void *dnz, float *y, uint8_t *S)\n{\n"
                    "    (void)gus;\n    (void)guz;\n    (void)dns;\n    (void)dnz;\n"
                    "    const int R = %s;\n"
                    "    for (int r0 = 0; r0 < R; r0 += %lld) {\n"
                    "        const int rc = R - r0 < %lld ? R - r0 : %lld;\n"
                    "        MoeScratch m = moe_scratch(S, %lld, %lld, %lld, %lld, %lld);\n",
                    "rows", (long long)D, (long long)E, (long long)F, (long long)K,
                    norm ? ", renormalized" : "", gelu ? "gelu_tanh" : "silu", (long long)llmc_row_stride(g, lg),
                    llmc_dtype_name(gu->dtype), (long long)gu->shape.dim[0], (long long)D, llmc_dtype_name(dn->dtype),
                    (long long)dn->shape.dim[0], (long long)F, (long long)RC, (long long)base, wparam(gu),
                    wparam(dn), "nrows", (long long)RC, (long long)RC, (long long)RC, (long long)RC,
                    (long long)K, (long long)E, (long long)D, (long long)F);
    llmc_buf_printf(&t,
                    "        moe_route(%lld, %lld, %d, rc, lg + (size_t)r0 * %lld, %lld, &m, tid, nth);\n"
                    "        llmc_barrier(ex->pool);\n"
                    "        if (tid == 0)\n            moe_group(%lld, %lld, rc, &m);\n"
                    "        llmc_barrier(ex->pool);\n"
                    "        moe_gather(%lld, rc, %lld, x + (size_t)r0 * %lld, %lld, &m, tid, nth);\n"
                    "        llmc_barrier(ex->pool);\n"
                    "        for (int e = 0; e < %lld; e++)\n            if (m.cnt[e])\n                ",
                    (long long)E, (long long)K, norm, (long long)llmc_row_stride(g, lg),
                    (long long)llmc_row_stride(g, lg), (long long)E, (long long)K, (long long)K, (long long)D,
                    (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, x), (long long)E);
    snprintf(xs, sizeof xs, "m.xg + (size_t)m.off[e] * %lld", (long long)D);
    snprintf(ys, sizeof ys, "m.g + (size_t)m.off[e] * %lld", (long long)(2 * F));
    mm_call(&t, gu, g, E, "gu", (const char *const[2]){"gus", "guz"}, 2 * F, D, xs, ys);
    llmc_buf_printf(&t,
                    "        llmc_barrier(ex->pool);\n"
                    "        moe_act(%d, %lld, rc, %lld, &m, tid, nth);\n"
                    "        llmc_barrier(ex->pool);\n"
                    "        for (int e = 0; e < %lld; e++)\n            if (m.cnt[e])\n                ",
                    gelu, (long long)K, (long long)F, (long long)E);
    snprintf(xs, sizeof xs, "m.h + (size_t)m.off[e] * %lld", (long long)F);
    snprintf(ys, sizeof ys, "m.o + (size_t)m.off[e] * %lld", (long long)D);
    mm_call(&t, dn, g, E, "dn", (const char *const[2]){"dns", "dnz"}, D, F, xs, ys);
    llmc_buf_printf(&t,
                    "        llmc_barrier(ex->pool);\n"
                    "        moe_combine(%lld, rc, %lld, &m, y + (size_t)r0 * %lld, %lld, tid, nth);\n"
                    "        llmc_barrier(ex->pool);\n"
                    "    }\n}\n",
                    (long long)K, (long long)D, (long long)llmc_row_stride(g, y), (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "moe", t.s);
    llmc_buf_free(&t);
    char wt[64], dt[64], sp[96];
    snprintf(wt, sizeof wt, "const %s", wparam(gu));
    snprintf(dt, sizeof dt, "const %s", wparam(dn));
    snprintf(sp, sizeof sp, "(uint8_t *)(A + %lld)", (long long)base);
    llmc_c_call(e, node, name, x, 10, PTR(x, "const float"), PTR(lg, "const float"), PTR(n->in[2], wt), SIDE(gu, 0),
                SIDE(gu, 1), PTR(n->in[3], dt), SIDE(dn, 0), SIDE(dn, 1), PTR(y, "float"), sp);
    return LLMC_OK;
}
