/* c_matmul.c — C emitter for matmul (y = x w^T + b) and embedding lookups, both over stored weights
 * in any storage format (f32, bf16, f16: converted to f32 in registers; fp8 and u4 with their
 * layout's scales and zero points: mm_q / embed_q, dequantized in registers). */
#include "c_common.h"
#include "c_mmq.h"

#include <assert.h>
#include <stdio.h>

/* Side tensor i of quantized weight w as a kernel argument (c_formats.h q_row: s0, s1), "0" if absent. */
#define SIDE(w, i) ((w)->layout.side[i] >= 0 ? PTR((w)->layout.side[i], "const void") : "0")

/* The prelude's path for a quantized matmul over weight w: mm_q_fused where it takes the matrix
 * (c_mmq.h), else mm_q_rows. */
const char *llmc_c_mmq_path(const LlmcTensor *w)
{
    return mmq_fits((int)w->dtype, (int)w->shape.dim[1], w->layout.group) ? "mm_q_fused" : "mm_q_rows";
}

/* For a quantized weight (a format with side tensors), the format and element order mm_q and
 * embed_q take ("FMT_U4, ORDER_LANE8"); else NULL. */
static const char *q_kind(LlmcEmit *e, const LlmcTensor *w)
{
    if (llmc_format_n_sides(w->dtype) == 0)
        return NULL;
    assert(llmc_format_n_sides(w->dtype) <= 2); /* q_row's s0, s1: a format with more sides adds them there */
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    snprintf(buf, sizeof e->ptr_ring[0], "%s, %s", llmc_kernel_format(w->dtype), llmc_kernel_order(w->layout.order));
    return buf;
}

static LlmcStatus emit_matmul_q(LlmcEmit *e, int node, const char *qk)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[1]];
    int x = n->in[0], y = n->out[0];
    int64_t K = w->shape.dim[1], N = w->shape.dim[0];
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* matmul: f32[%s,%lld] x %s[%lld,%lld]^T (groups of %d)%s -> f32[%s,%lld] */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, "
                    "const uint8_t *w, const void *s0, const void *s1, const float *b, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    %s(%s, %s, %lld, %lld, %d, x, %lld, w, s0, s1, b, y, %lld, tid, nth);\n}\n",
                    "rows", (long long)K, llmc_dtype_name(w->dtype), (long long)N, (long long)K,
                    w->layout.group, n->n_in == 3 ? " + b" : "", "rows", (long long)N,
                    llmc_c_mmq_path(w), qk,
                    "nrows", (long long)K, (long long)N, w->layout.group, (long long)llmc_row_stride(g, x),
                    (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "matmul", k.s);
    llmc_buf_free(&k);
    llmc_c_call(e, node, name, x, 6, PTR(x, "const float"), PTR(n->in[1], "const uint8_t"), SIDE(w, 0), SIDE(w, 1),
                n->n_in == 3 ? PTR(n->in[2], "const float") : "0", PTR(y, "float"));
    return LLMC_OK;
}

LlmcStatus llmc_c_emit_matmul(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[1]];
    const char *qk = q_kind(e, w);
    if (qk)
        return emit_matmul_q(e, node, qk);
    int x = n->in[0], y = n->out[0];
    int64_t K = w->shape.dim[1], N = w->shape.dim[0];
    const char *wt = llmc_c_wtype(w->dtype), *suf = llmc_c_wsuffix(w->dtype);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* matmul: f32[%s,%lld] x %s[%lld,%lld]^T%s -> f32[%s,%lld]; x row stride %lld, y row stride %lld */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, int nrows, const float *x, "
                    "const %s *w, const float *b, float *y)\n{\n"
                    "    (void)ex;\n"
                    "    mm_%s(%s, %lld, %lld, x, %lld, w, b, y, %lld, tid, nth);\n}\n",
                    "rows", (long long)K, llmc_dtype_name(w->dtype), (long long)N, (long long)K,
                    n->n_in == 3 ? " + b" : "", "rows", (long long)N, (long long)llmc_row_stride(g, x),
                    (long long)llmc_row_stride(g, y), wt, suf, "nrows", (long long)K, (long long)N,
                    (long long)llmc_row_stride(g, x), (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "matmul", k.s);
    llmc_buf_free(&k);
    char cw[64];
    snprintf(cw, sizeof cw, "const %s", wt);
    llmc_c_call(e, node, name, x, 4, PTR(x, "const float"), PTR(n->in[1], cw),
                n->n_in == 3 ? PTR(n->in[2], "const float") : "0", PTR(y, "float"));
    return LLMC_OK;
}

LlmcStatus llmc_c_emit_embedding(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    const LlmcTensor *w = &g->t[n->in[0]];
    int y = n->out[0];
    int64_t D = w->shape.dim[1];
    /* A table sharded by rows (--tp): the rank's rows start at its part's first row (llmc_shard_view:
     * part rank / shard_rep of nr rows); other tokens give zeros. */
    int part = w->src.shard == LLMC_SHARD_ROWS;
    char first[96] = "";
    if (part) {
        int rep = w->src.shard_rep > 1 ? w->src.shard_rep : 1;
        if (rep > 1)
            snprintf(first, sizeof first, "(int64_t)(ex->rank / %d) * %lld, %lld, ", rep, (long long)w->shape.dim[0],
                     (long long)w->shape.dim[0]);
        else
            snprintf(first, sizeof first, "(int64_t)ex->rank * %lld, %lld, ", (long long)w->shape.dim[0],
                     (long long)w->shape.dim[0]);
    }
    const char *qk = q_kind(e, w);
    if (qk) {
        LlmcBuf k = {0};
        llmc_buf_printf(&k,
                        "/* embedding: %s[%lld,%lld] (groups of %d)%s rows gathered by i32[T] -> f32[T,%lld] */\n"
                        "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const uint8_t *table, "
                        "const void *s0, const void *s1, const int32_t *tok, float *y)\n{\n"
                        "%s"
                        "    embed_q%s(%s, st->n_tokens, %lld, %d, %stable, s0, s1, tok, y, %lld, tid, nth);\n}\n",
                        llmc_dtype_name(w->dtype), (long long)w->shape.dim[0], (long long)D, w->layout.group,
                        part ? ", one rank's rows," : "", (long long)D, part ? "" : "    (void)ex;\n",
                        part ? "_part" : "", qk, (long long)D, w->layout.group, first, (long long)llmc_row_stride(g, y));
        const char *name = llmc_emit_kernel(e, "embedding", k.s);
        llmc_buf_free(&k);
        llmc_c_call(e, node, name, -1, 5, PTR(n->in[0], "const uint8_t"), SIDE(w, 0), SIDE(w, 1),
                    PTR(n->in[1], "const int32_t"), PTR(y, "float"));
        return LLMC_OK;
    }
    const char *wt = llmc_c_wtype(w->dtype);
    LlmcBuf k = {0};
    llmc_buf_printf(&k,
                    "/* embedding: %s[%lld,%lld]%s rows gathered by i32[T] -> f32[T,%lld] */\n"
                    "static void @NAME@(const LlmcExec *ex, const LlmcStep *st, int tid, int nth, const %s *table, "
                    "const int32_t *tok, float *y)\n{\n"
                    "%s"
                    "    embed_%s%s(st->n_tokens, %lld, %stable, tok, y, %lld, tid, nth);\n}\n",
                    llmc_dtype_name(w->dtype), (long long)w->shape.dim[0], (long long)D,
                    part ? ", one rank's rows," : "", (long long)D, wt, part ? "" : "    (void)ex;\n",
                    part ? "part_" : "", llmc_c_wsuffix(w->dtype), (long long)D, first,
                    (long long)llmc_row_stride(g, y));
    const char *name = llmc_emit_kernel(e, "embedding", k.s);
    llmc_buf_free(&k);
    char cw[64];
    snprintf(cw, sizeof cw, "const %s", wt);
    llmc_c_call(e, node, name, -1, 3, PTR(n->in[0], cw), PTR(n->in[1], "const int32_t"), PTR(y, "float"));
    return LLMC_OK;
}
