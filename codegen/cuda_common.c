/* cuda_common.c — operand expressions, kernel registration and host launch code for the CUDA
 * backend's emitters. Every kernel is `extern "C" __global__ void kN_op(LlmcDevArgs a)`; the host
 * forward() launches it by index through llmc_gpu_launch. */
#include "cuda_common.h"

#include <string.h>

const char *llmc_cuda_ptr(LlmcEmit *e, int t, const char *ctype)
{
    const LlmcGraph *g = e->g;
    const LlmcTensor *tt = &g->t[t];
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    size_t n = sizeof e->ptr_ring[0];
    if (t == g->logits)
        snprintf(buf, n, "((%s *)a.logits)", ctype);
    else if (t == g->in_tokens)
        snprintf(buf, n, "a.tokens");
    else if (t == g->in_positions)
        snprintf(buf, n, "a.positions");
    else if (t == g->in_slots)
        snprintf(buf, n, "a.slots");
    else if (t == g->in_out_rows)
        snprintf(buf, n, "a.out_rows");
    else if (tt->kind == LLMC_T_WEIGHT)
        snprintf(buf, n, "((%s *)(a.weights + %lld))", ctype, (long long)tt->offset);
    else
        snprintf(buf, n, "((%s *)(a.arena + %lld))", ctype, (long long)tt->offset);
    return buf;
}

const char *llmc_cuda_rows(const LlmcGraph *g, int t)
{
    return g->t[t].shape.sym[0] == LLMC_DIM_O ? "a.n_out" : "a.n_tokens";
}

const char *llmc_cuda_host_rows(const LlmcGraph *g, int t)
{
    return g->t[t].shape.sym[0] == LLMC_DIM_O ? "O" : "T";
}

const char *llmc_cuda_wname(LlmcDType dt)
{
    return dt == LLMC_BF16 ? "bf16" : dt == LLMC_F16 ? "f16" : "f32";
}

const char *llmc_cuda_kernel(LlmcEmit *e, const char *prefix, const char *text, uint32_t smem)
{
    const char *name = llmc_emit_kernel(e, prefix, text);
    int k = llmc_emit_kernel_index(e, name);
    if (e->kernels[k].smem < smem)
        e->kernels[k].smem = smem;
    return name;
}

void llmc_cuda_launch(LlmcEmit *e, int node, const char *cond, const char *kernel, const char *gx, const char *gy,
                      const char *gz, int threads, uint32_t smem)
{
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    char sb[96];
    llmc_buf_printf(&e->body, "    /* node %d: ", node);
    for (int j = 0; j < n->n_out; j++)
        llmc_buf_printf(&e->body, "%s%%%s", j ? ", " : "", g->t[n->out[j]].name);
    llmc_buf_printf(&e->body, "%s%s(", n->n_out ? " = " : "", llmc_op_info[n->op].name);
    for (int j = 0; j < n->n_in; j++) {
        const LlmcTensor *t = &g->t[n->in[j]];
        llmc_buf_printf(&e->body, "%s%s%s", j ? ", " : "", t->kind == LLMC_T_WEIGHT ? "@" : "%", t->name);
    }
    llmc_buf_printf(&e->body, ")");
    if (n->n_out)
        llmc_buf_printf(&e->body, " : %s", llmc_shape_str(&g->t[n->out[0]].shape, sb, sizeof sb));
    llmc_buf_printf(&e->body, "%s */\n", cond ? " (variant)" : "");
    if (cond)
        llmc_buf_printf(&e->body, "    if (%s)\n    ", cond);
    llmc_buf_printf(&e->body, "    llmc_gpu_launch(gpu, %d, %s, %s, %s, %d, %u); /* %s */\n",
                    llmc_emit_kernel_index(e, kernel), gx, gy, gz, threads, smem, kernel);
}

void llmc_cuda_node_end(LlmcEmit *e, int node)
{
    llmc_buf_printf(&e->body, "    if (st->n_nodes == %d)\n        return;\n", node + 1);
}

int llmc_cuda_split_k(const LlmcTarget *tg, int64_t N, int64_t K)
{
    int64_t blocks = (N + 63) / 64, kt = K / 32;
    int64_t want = (4 * (int64_t)(tg->typical_sms ? tg->typical_sms : 100) + blocks - 1) / blocks;
    int best = 1;
    for (int s = 2; s <= 16 && s <= want; s++)
        if (kt % s == 0 && kt / s >= 2)
            best = s;
    return best;
}
