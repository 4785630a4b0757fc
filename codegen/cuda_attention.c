/* cuda_attention.c — CUDA emitter for the paged KV cache: kv_write (f16 rows to their slots) and
 * paged_attention: for decode steps flash-decoding (one block per token and KV head serves all query
 * heads of the group; positions split over blockIdx.z into partials combined by a second kernel);
 * for long steps (prefill) flash attention on tensor cores (64 tokens of one head a block). */
#include "cuda_common.h"

/* Decode steps (up to ATTN_SPLIT_ROWS tokens) split each query's positions into this many parts
 * (flash-decoding: enough blocks to fill the chip at batch 1), combined by a second kernel; longer
 * steps (prefill) have blocks enough and run unsplit. The kernel reads the split from gridDim.z. */
#define ATTN_SPLIT_ROWS 64
int llmc_cuda_attention_parts(const LlmcGraph *g)
{
    (void)g;
    return 16;
}

LlmcStatus llmc_cuda_emit_attention(LlmcEmit *e, int node, LlmcDiag *d)
{
    (void)d;
    llmc_cuda_node_begin(e);
    const LlmcGraph *g = e->g;
    const LlmcNode *n = &g->n[node];
    int L = g->kv_layers, BS = g->kv_block_size, HKV = g->kv_heads, HD = g->kv_head_dim;
    int layer = (int)llmc_attr_int(n, "layer", 0);
    LlmcBuf k = {0};
    if (n->op == LLMC_OP_KV_WRITE) {
        int kk = n->in[0], v = n->in[1];
        char ks[160];
        snprintf(ks, sizeof ks, "%s", llmc_cuda_ptr(e, kk, "const float"));
        llmc_buf_printf(&k,
                        "/* kv_write: f32[T,%d] K and V rows -> one layer of %d of the f16 pool (blocks of %d positions x %d "
                        "heads x %d); strides k %lld, v %lld */\n"
                        "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                        "    kv_write_row<%d, %d, %d, %d, %lld, %lld>(%s, %s, a.slots, (uint16_t *)a.kv, %s);\n}\n",
                        HKV * HD, L, BS, HKV, HD, (long long)llmc_row_stride(g, kk),
                        (long long)llmc_row_stride(g, v), L, BS, HKV, HD, (long long)llmc_row_stride(g, kk),
                        (long long)llmc_row_stride(g, v), ks, llmc_cuda_ptr(e, v, "const float"), llmc_cuda_int(e, layer));
        const char *name = llmc_cuda_kernel(e, "kv_write", k.s, 0);
        llmc_buf_free(&k);
        llmc_cuda_launch(e, node, NULL, name, "T", "1", "1", 128, 0);
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
    int q = n->in[0], y = n->out[0];
    int64_t HQ = llmc_cols(&g->t[q].shape) / HD;
    int window = (int)llmc_attr_int(n, "window", 0);
    int nz = llmc_cuda_attention_parts(g);
    /* Partials for nz > 1: [max_tokens][HQ][nz][HD + 2] floats in scratch A (llmc_cuda_scratch). */
    int64_t part_off = e->scratch_a;
    char qs[160], ys[160];
    snprintf(qs, sizeof qs, "%s", llmc_cuda_ptr(e, q, "const float"));
    snprintf(ys, sizeof ys, "%s", llmc_cuda_ptr(e, y, "float"));
    char lay[48];
    snprintf(lay, sizeof lay, "%s", llmc_cuda_int(e, layer));
    llmc_buf_printf(&k,
                    "/* paged_attention: %lld query heads over %d f16 KV heads of %d, scale %.9g%s (at least 4 blocks an SM: "
                    "ptxas otherwise picks 48 registers and spills on sm_90), "
                    "positions split in gridDim.z parts (%d for decode steps); strides q %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128, 4) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    paged_attn<%d, %d, %lld, %d, %d, %lld, %lld, %d>(a.positions, a.seq_of_token, a.block_tables, "
                    "a.max_blocks_per_seq, a.kv, %s, %s, A(%lld), %s, %s);\n}\n",
                    (long long)HQ, HKV, HD, llmc_attr_float(n, "scale", 1.0), window ? ", sliding window" : "",
                    nz, (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y), L, BS, (long long)HQ, HKV,
                    HD, (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y), window, qs, ys,
                    (long long)part_off, lay, llmc_c_float(e, llmc_attr_float(n, "scale", 1.0)));
    const char *name = llmc_cuda_kernel(e, "paged_attention", k.s, 0);
    llmc_buf_free(&k);
    char gy[32], gz[32], cond[64];
    snprintf(gy, sizeof gy, "%d", HKV);
    snprintf(gz, sizeof gz, "%d", nz);
    snprintf(cond, sizeof cond, "T <= %d", ATTN_SPLIT_ROWS);
    llmc_cuda_launch(e, node, cond, name, "T", gy, gz, 128, 0);
    llmc_buf_printf(&k,
                    "/* attention combine: %d parts of %lld heads x %d */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    attn_combine<%lld, %d, %lld, %d>(A(%lld), %s);\n}\n",
                    nz, (long long)HQ, HD, (long long)HQ, HD, (long long)llmc_row_stride(g, y), nz, (long long)part_off,
                    ys);
    const char *comb = llmc_cuda_kernel(e, "attn_combine", k.s, 0);
    llmc_buf_free(&k);
    char hq[32];
    snprintf(hq, sizeof hq, "%lld", (long long)HQ);
    llmc_cuda_launch(e, node, cond, comb, "T", hq, "1", 128, 0);
    snprintf(cond, sizeof cond, "T > %d", ATTN_SPLIT_ROWS);
    if (HD % 16 != 0 || HD > 128) { /* no tensor-core tile for this head size: the per-token kernel */
        llmc_cuda_launch(e, node, cond, name, "T", gy, "1", 128, 0);
        llmc_cuda_node_end(e, node);
        return LLMC_OK;
    }
    uint32_t smem = (uint32_t)(2 * 2 * 64 * (HD + 8) * 2);
    llmc_buf_printf(&k,
                    "/* flash attention (long steps): 64 tokens x 1 of %lld query heads a block, f16 KV head of %d, "
                    "scale %.9g%s; K/V tiles of 64 positions, %u bytes of shared memory; strides q %lld, y %lld */\n"
                    "extern \"C\" __global__ void __launch_bounds__(128, 2) @NAME@(LlmcDevArgs a, LlmcKernelOffsets o)\n{\n"
                    "    flash_prefill<%d, %d, %lld, %d, %d, %lld, %lld, %d>(a.positions, a.seq_of_token, a.block_tables, "
                    "a.max_blocks_per_seq, a.kv, %s, %s, a.n_tokens, %s, %s);\n}\n",
                    (long long)HQ, HD, llmc_attr_float(n, "scale", 1.0), window ? ", sliding window" : "", smem,
                    (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y), L, BS, (long long)HQ, HKV, HD,
                    (long long)llmc_row_stride(g, q), (long long)llmc_row_stride(g, y), window, qs, ys,
                    lay, llmc_c_float(e, llmc_attr_float(n, "scale", 1.0)));
    const char *fl = llmc_cuda_kernel(e, "flash_attention", k.s, smem);
    llmc_buf_free(&k);
    llmc_cuda_launch(e, node, cond, fl, "(T + 63) / 64", hq, "1", 128, smem);
    llmc_cuda_node_end(e, node);
    return LLMC_OK;
}
