/* c_backend.c — the C backend (target cpu): turns a planned graph into one C file.
 *
 * The file is: the ABI header (llmc_model.h) and the prelude (c_prelude.h) pasted in, so it compiles
 * on its own; the kernels, one static function per distinct (op, shapes, strides, formats), each
 * opening with a comment that says what it computes; init(), which fills the constant tables; the
 * SPMD forward(), one call per IR node in order with a barrier after each; and the model
 * descriptor `llmc_model` the runtime links against. Views (slices) emit nothing: their readers get
 * the source pointer plus a column offset and the source's row stride.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "c_common.h"
#include "../ir/kv_layout.h"

extern const unsigned char llmc_model_header[];

static const LlmcEmitFn c_emitters[LLMC_OP_COUNT] = {
    [LLMC_OP_EMBEDDING] = llmc_c_emit_embedding,
    [LLMC_OP_RMSNORM] = llmc_c_emit_norm,
    [LLMC_OP_ADD_RMSNORM] = llmc_c_emit_norm,
    [LLMC_OP_MATMUL] = llmc_c_emit_matmul,
    [LLMC_OP_ADD] = llmc_c_emit_elementwise,
    [LLMC_OP_MUL] = llmc_c_emit_elementwise,
    [LLMC_OP_SILU] = llmc_c_emit_elementwise,
    [LLMC_OP_SWIGLU] = llmc_c_emit_elementwise,
    [LLMC_OP_ROPE] = llmc_c_emit_rope,
    [LLMC_OP_KV_WRITE] = llmc_c_emit_attention,
    [LLMC_OP_PAGED_ATTENTION] = llmc_c_emit_attention,
    [LLMC_OP_SELECT_ROWS] = llmc_c_emit_rows,
    [LLMC_OP_HEAD_RMSNORM] = llmc_c_emit_norm,
    [LLMC_OP_GELU_TANH] = llmc_c_emit_elementwise,
    [LLMC_OP_GEGLU] = llmc_c_emit_elementwise,
    [LLMC_OP_SCALE] = llmc_c_emit_elementwise,
    [LLMC_OP_SOFTCAP] = llmc_c_emit_elementwise,
    [LLMC_OP_MOE] = llmc_c_emit_moe,
    [LLMC_OP_GATHER_COLS] = llmc_c_emit_gather_cols,
    [LLMC_OP_ALL_REDUCE] = llmc_c_emit_collective,
    [LLMC_OP_ALL_GATHER] = llmc_c_emit_collective,
};

void llmc_emit_desc_fields(LlmcBuf *out, const LlmcGraph *g, const LlmcBuildInfo *info, const char *symbol,
                           const char *target, const LlmcDType kvf[2], int64_t const_bytes, int64_t arena_bytes,
                           int max_threads)
{
    int64_t kv_block_bytes = llmc_graph_kv_block_bytes(g, kvf[0], kvf[1]);
    int K = (int)kvf[0], V = (int)kvf[1], L = g->kv_layers, BS = g->kv_block_size, H = g->kv_heads, HD = g->kv_head_dim;
    if (g->n_eos_more) {
        llmc_buf_printf(out, "static const int32_t %s_eos_more[] = {", symbol);
        for (int i = 0; i < g->n_eos_more; i++)
            llmc_buf_printf(out, "%s%d", i ? ", " : "", g->eos_more[i]);
        llmc_buf_printf(out, "};\n\n");
    }
    llmc_buf_printf(out, "const LlmcModelDesc %s = {\n    .abi_version = LLMC_ABI_VERSION,\n    .name = ", symbol);
    llmc_buf_cstr(out, g->name);
    llmc_buf_printf(out, ",\n    .target = ");
    llmc_buf_cstr(out, target);
    llmc_buf_printf(out, ",\n    .llmc_version = ");
    llmc_buf_cstr(out, LLMC_VERSION);
    llmc_buf_printf(out, ",\n    .build_info = ");
    llmc_buf_cstr(out, info->build_info);
    llmc_buf_printf(out,
                    ",\n    .model_hash = 0x%016llxULL,\n    .vocab_size = %d,\n    .max_seq_len = %d,\n"
                    "    .max_tokens = %d,\n    .max_outputs = %d,\n    .bos_id = %d,\n    .eos_id = %d,\n"
                    "    .kv_block_size = %d,\n    .kv_block_bytes = %lld,\n    .weights_bytes = %lld,\n"
                    "    .const_bytes = %lld,\n    .arena_bytes = %lld,\n    .weight_bytes_per_token = %lld,\n"
                    "    .kv_bytes_per_position = %lld,\n    .max_threads = %d,\n    .init = init,\n"
                    "    .forward = forward,\n    .probes = probes,\n    .n_probes = sizeof probes / sizeof probes[0],\n",
                    (unsigned long long)info->model_hash, g->vocab_size, g->max_seq_len, g->max_tokens, g->max_outputs,
                    g->bos_id, g->eos_id, g->kv_block_size, (long long)kv_block_bytes,
                    (long long)llmc_packed_weights_bytes(g),
                    (long long)const_bytes, (long long)arena_bytes, (long long)llmc_weight_bytes_per_token(g),
                    (long long)(kv_block_bytes / (g->kv_block_size ? g->kv_block_size : 1)), max_threads);
    if (g->tp > 1)
        llmc_buf_printf(out, "    .n_ranks = %d,\n    .rank_weights_stride = %lld,\n", (int)g->tp,
                        (long long)llmc_rank_weights_stride(g));
    if (L > 0 && kv_has_ring(K, V))
        llmc_buf_printf(out,
                        "    .kv_ring_blocks = %lld,\n    .kv_seq_step = %d,\n    .kv_ring_bytes_per_position = %lld,\n"
                        "    .kv_group = %d,\n    .kv_resid = %d,\n",
                        (long long)kv_ring_blocks(K, V, L, BS, H, HD), kv_seq_step(K, V), (long long)L * 2 * H * HD * 2,
                        KV_KIVI_G, KV_KIVI_R);
    LlmcExperts ex;
    llmc_expert_bytes(g, &ex);
    if (ex.bytes > 0)
        llmc_buf_printf(out, "    .expert_bytes = %lld,\n    .n_experts = %d,\n    .experts_per_token = %d,\n",
                        (long long)ex.bytes, ex.experts, ex.top_k);
    if (g->n_eos_more)
        llmc_buf_printf(out, "    .eos_more = %s_eos_more,\n    .n_eos_more = %d,\n", symbol, g->n_eos_more);
    if (g->sampling.set)
        llmc_buf_printf(out, "    .sampling_set = 1,\n    .temperature = (float)%.9g,\n    .top_k = %d,\n    .top_p = (float)%.9g,\n",
                        (double)(float)g->sampling.temperature, (int)g->sampling.top_k,
                        (double)(float)g->sampling.top_p);
}

/* Is weight t an expert matrix (a moe node's gate/up or down: inputs 2 and 3)? */
static int is_expert_weight(const LlmcGraph *g, int t)
{
    for (int i = 0; i < g->nn; i++)
        if (g->n[i].op == LLMC_OP_MOE && (g->n[i].in[2] == t || g->n[i].in[3] == t))
            return 1;
    return 0;
}

/* Bytes a decode token reads of weight t: all of it, its scales and zero points with it, or one
 * row of an embedding table read only by embedding lookups. */
static int64_t read_bytes(const LlmcGraph *g, int t)
{
    const LlmcTensor *w = &g->t[t];
    int full = 0;
    for (int k = 0; k < g->nn && !full; k++)
        for (int m = 0; m < g->n[k].n_in; m++)
            full |= g->n[k].in[m] == t && g->n[k].op != LLMC_OP_EMBEDDING;
    int64_t bytes = w->bytes;
    for (int k = 0; k < LLMC_MAX_SIDES; k++)
        if (w->layout.side[k] >= 0)
            bytes += g->t[w->layout.side[k]].bytes;
    return full ? bytes : bytes / w->shape.dim[0];
}

int64_t llmc_rank_weights_stride(const LlmcGraph *g)
{
    return (g->weights_bytes + 4095) / 4096 * 4096;
}

int64_t llmc_packed_weights_bytes(const LlmcGraph *g)
{
    return g->tp > 1 ? g->tp * llmc_rank_weights_stride(g) : g->weights_bytes;
}

int64_t llmc_weight_bytes_per_token(const LlmcGraph *g)
{
    LlmcExperts ex;
    llmc_expert_bytes(g, &ex);
    int64_t total = 0;
    uint8_t *counted = calloc((size_t)g->nt + 1, 1);
    if (!counted)
        return 0;
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (g->t[t].kind != LLMC_T_WEIGHT || counted[t] || (ex.bytes > 0 && is_expert_weight(g, t)))
                continue;
            counted[t] = 1;
            total += read_bytes(g, t);
        }
    }
    free(counted);
    return total;
}

void llmc_expert_bytes(const LlmcGraph *g, LlmcExperts *ex)
{
    memset(ex, 0, sizeof *ex);
    for (int i = 0; i < g->nn; i++) {
        const LlmcNode *n = &g->n[i];
        if (n->op != LLMC_OP_MOE)
            continue;
        int e = (int)llmc_attr_int(n, "experts", 1), k = (int)llmc_attr_int(n, "top_k", 1);
        if (ex->experts && (ex->experts != e || ex->top_k != k)) { /* blocks unlike each other: all dense */
            memset(ex, 0, sizeof *ex);
            return;
        }
        ex->experts = e;
        ex->top_k = k;
        for (int j = 2; j <= 3; j++)
            ex->bytes += read_bytes(g, n->in[j]);
    }
}

void llmc_emit_probes(const LlmcGraph *g, LlmcBuf *out)
{
    llmc_buf_printf(out, "/* Values readable after a step that ran n_nodes = node + 1 nodes (--compare-cpu). */\n"
                         "static const LlmcProbe probes[] = {\n");
    int n = 0;
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->n[i].n_out; j++) {
            int t = g->n[i].out[j];
            const LlmcTensor *tt = &g->t[t];
            if (tt->view_of >= 0 || t == g->logits || tt->offset < 0)
                continue;
            llmc_buf_printf(out, "    {");
            llmc_buf_cstr(out, tt->name);
            llmc_buf_printf(out, ", %d, %d, %lld, %d, %lld, %lld},\n", i, g->n[i].layer,
                            (long long)tt->offset, tt->shape.sym[0] == LLMC_DIM_O, (long long)llmc_cols(&tt->shape),
                            (long long)llmc_row_stride(g, t));
            n++;
        }
    if (!n)
        llmc_buf_printf(out, "    {\"none\", -1, -1, 0, 0, 0, 0},\n");
    llmc_buf_printf(out, "};\n\n");
}

int64_t llmc_kv_block_bytes(const LlmcGraph *g, const LlmcTarget *tg)
{
    return llmc_graph_kv_block_bytes(g, llmc_c_kv_format(g, tg, 0), llmc_c_kv_format(g, tg, 1));
}

/* Does the model have a weight stored in a format other than f32? The prelude reads those (bf16, f16,
 * the quantized formats: c_formats.h) with x86 intrinsics where the compiler targets them, and the
 * generated C then defines LLMC_INTRINSICS, which includes <immintrin.h> (c_prelude.h); f32 weights
 * need neither, and their models skip the header. */
static int reads_converted_weights(const LlmcGraph *g)
{
    for (int t = 0; t < g->nt; t++)
        if (g->t[t].kind == LLMC_T_WEIGHT && g->t[t].dtype != LLMC_F32)
            return 1;
    return 0;
}

LlmcStatus llmc_emit_c(const LlmcGraph *g, const LlmcTarget *tg, const LlmcBuildInfo *info, char **source,
                       LlmcDiag *d)
{
    LlmcEmit e;
    memset(&e, 0, sizeof e);
    e.g = g;
    e.target = tg;
    e.kv[0] = llmc_c_kv_format(g, tg, 0);
    e.kv[1] = llmc_c_kv_format(g, tg, 1);
    e.kv_scales_at = -1;
    LlmcStatus st = LLMC_OK;
    for (int i = 0; i < g->nn && !st; i++) {
        LlmcOp op = g->n[i].op;
        if (llmc_op_info[op].flags & OPF_VIEW)
            continue;
        if (!c_emitters[op]) {
            st = llmc_fail(d, "internal error: target %s has no emitter for op %s (node %d)", tg->name,
                           llmc_op_info[op].name, i);
            break;
        }
        st = c_emitters[op](&e, i, d);
    }
    LlmcBuf out = {0};
    if (!st) {
        llmc_buf_printf(&out, "/* Generated by llmc %s for target %s from ", LLMC_VERSION, tg->name);
        llmc_buf_comment(&out, g->source ? g->source : "?");
        llmc_buf_printf(&out, ": model ");
        llmc_buf_comment(&out, g->name);
        llmc_buf_printf(&out, ".\n * Every dimension is a constant; do not edit: regenerate with llmc compile. */\n");
        llmc_buf_printf(&out, "\n/* ---- llmc_model.h ---- */\n%s\n/* ---- c_prelude.h ---- */\n",
                        (const char *)llmc_model_header);
        if (reads_converted_weights(g))
            llmc_buf_printf(&out, "#define LLMC_INTRINSICS 1 /* weights stored other than f32: the prelude's x86 paths */\n");
        llmc_emit_c_prelude(&out);
        llmc_buf_printf(&out, "\n");
        llmc_buf_printf(&out, "/* ---- kernels ---- */\n\n%s", e.defs.s ? e.defs.s : "");
        llmc_buf_printf(&out, "static void init(const LlmcExec *ex)\n{\n    (void)ex;\n%s}\n\n", e.init.s ? e.init.s : "");
        llmc_buf_printf(&out,
                        "static void forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)\n{\n"
                        "    const uint8_t *W = ex->weights;\n    uint8_t *A = ex->arena;\n"
                        "    (void)W;\n    (void)A;\n%s}\n\n",
                        e.body.s ? e.body.s : "");
        llmc_emit_probes(g, &out);
        llmc_emit_desc_fields(&out, g, info, info->desc_symbol ? info->desc_symbol : "llmc_model", tg->name,
                              e.kv, e.const_bytes, g->arena_bytes + e.arena_extra, info->max_threads);
        llmc_buf_printf(&out, "};\n");
        *source = out.s;
    } else {
        llmc_buf_free(&out);
    }
    llmc_buf_free(&e.defs);
    llmc_buf_free(&e.body);
    llmc_buf_free(&e.init);
    for (int i = 0; i < e.n_kernels; i++) {
        free(e.kernels[i].text);
        free(e.kernels[i].name);
    }
    free(e.kernels);
    for (int i = 0; i < e.n_rope; i++)
        free(e.rope_keys[i]);
    free(e.rope_keys);
    free(e.rope_tables);
    return st;
}
