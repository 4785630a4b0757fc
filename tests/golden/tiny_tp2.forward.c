static void forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    LlmcGpu *gpu = ex->gpu;
    const uint32_t T = (uint32_t)st->n_tokens, O = (uint32_t)st->n_out, S = (uint32_t)st->n_seqs;
    (void)tid;
    (void)nth;
    (void)O;
    (void)S;
    /* the step's O rows are its T rows in order (every decode step, every CUDA graph's):
     * select_rows in place has nothing to copy (cuda_rows.c) */
    int same_rows = O == T;
    for (uint32_t i = 0; same_rows && i < O; i++)
        same_rows = st->out_rows[i] == (int32_t)i;
    /* the image has wgmma: its variants replace the mma.sync ones */
    const int wg = (llmc_gpu_features(gpu) & LLMC_GPU_FEAT_WGMMA) != 0;
    /* node 0: %x.partial = embedding(@tok_embeddings, %tokens) : [T,32] */
    llmc_gpu_launch(gpu, 0, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0, (int64_t)ex->rank * 12, 0}}); /* k0_embedding */
    if (st->n_nodes == 1)
        return;
    /* node 1: %x = all_reduce(%x.partial) : [T,32] */
    /* f32[T,32] (row stride 32) of 2 ranks gathered by NCCL into [2][part] (scratch), then summed in rank order */
    llmc_gpu_all_gather(gpu, T, 32, 0, 32, 262144);
    llmc_gpu_launch(gpu, 1, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{65536, T}}); /* k1_all_reduce */
    if (st->n_nodes == 2)
        return;
    /* node 2: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,32] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 3, 16, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 65536, 896, 768, 131072, 0}}); /* k3_gemv_b1 */
    /* node 2: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,32] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 2, 16, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 65536, 896, 768, 131072, 0}}); /* k2_gemv */
    /* node 2: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,32] (variant) */
    if (T > 8)
        llmc_gpu_launch(gpu, 4, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 65536, 896, 768, 131072, 0}}); /* k4_rmsnorm_half */
    /* node 2: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,32] (variant) */
    if (T > 8)
        llmc_gpu_launch(gpu, 5, (T + 63) / 64, 1, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 0, 65536, 896, 768, 131072, 0}}); /* k5_gemm_wide */
    if (st->n_nodes == 3)
        return;
    /* node 6: %l0.q.1 = rope_kv_write(%l0.q, %l0.k, %l0.v, %positions, %slots) : [T,16] (variant) */
    if (T > 1)
        llmc_gpu_launch(gpu, 6, T, 3, 1, 4, 0, &(const LlmcKernelOffsets){{0, 64, 96, 0, 131072}}); /* k6_rope_kv_write */
    if (st->n_nodes == 7)
        return;
    /* node 7: %l0.a = paged_attention(%l0.q.1, %positions) : [T,16] (variant) */
    if (T <= 64)
        llmc_gpu_launch(gpu, 7, T, 1, 16, 128, 0, &(const LlmcKernelOffsets){{131072, 0, 0}}); /* k7_paged_attention_dec */
    /* node 7: %l0.a = paged_attention(%l0.q.1, %positions) : [T,16] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 8, T, 1, 1, 128, 0, &(const LlmcKernelOffsets){{131072, 0, 0}}); /* k8_paged_attention */
    if (st->n_nodes == 8)
        return;
    /* node 8: %l0.o.partial = matmul(%l0.a, @layers.0.wo) : [T,32] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 10, 8, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 131072, 0, 2944}}); /* k10_gemv_b1 */
    /* node 8: %l0.o.partial = matmul(%l0.a, @layers.0.wo) : [T,32] (variant) */
    if (T > 1)
        llmc_gpu_launch(gpu, 9, 8, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 131072, 0, 2944}}); /* k9_gemv */
    if (st->n_nodes == 9)
        return;
    /* node 9: %l0.o = all_reduce(%l0.o.partial) : [T,32] */
    /* f32[T,32] (row stride 32) of 2 ranks gathered by NCCL into [2][part] (scratch), then summed in rank order */
    llmc_gpu_all_gather(gpu, T, 32, 131072, 32, 262144);
    llmc_gpu_launch(gpu, 1, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0, T}}); /* k1_all_reduce */
    if (st->n_nodes == 10)
        return;
    /* node 10: %l0.x, %l0.h.1 = add_rmsnorm(%x, %l0.o, @layers.0.ffn_norm) : [T,32] */
    llmc_gpu_launch(gpu, 11, T, 1, 1, 128, 0, &(const LlmcKernelOffsets){{65536, 0, 131072, 3968, 196608}}); /* k11_add_rmsnorm */
    if (st->n_nodes == 11)
        return;
    /* node 11: %l0.f = matmul_fused(%l0.h.1, @layers.0.w1+layers.0.w3) : [T,24] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 13, 24, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 196608, 4096}}); /* k13_gemv_b1 */
    /* node 11: %l0.f = matmul_fused(%l0.h.1, @layers.0.w1+layers.0.w3) : [T,24] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 12, 24, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 196608, 4096}}); /* k12_gemv */
    /* node 11: %l0.f = matmul_fused(%l0.h.1, @layers.0.w1+layers.0.w3) : [T,24] (variant) */
    if (T > 8)
        llmc_gpu_launch(gpu, 14, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 196608, 4096}}); /* k14_to_half */
    /* node 11: %l0.f = matmul_fused(%l0.h.1, @layers.0.w1+layers.0.w3) : [T,24] (variant) */
    if (T > 8)
        llmc_gpu_launch(gpu, 15, (T + 63) / 64, 1, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 0, 196608, 4096}}); /* k15_gemm_wide */
    if (st->n_nodes == 12)
        return;
    /* node 12: %l0.d.partial = matmul(%l0.f, @layers.0.w2) : [T,32] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 17, 4, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 49152, 0, 7168}}); /* k17_gemv_b1 */
    /* node 12: %l0.d.partial = matmul(%l0.f, @layers.0.w2) : [T,32] (variant) */
    if (T > 1)
        llmc_gpu_launch(gpu, 16, 4, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 49152, 0, 7168}}); /* k16_gemv */
    if (st->n_nodes == 13)
        return;
    /* node 13: %l0.d = all_reduce(%l0.d.partial) : [T,32] */
    /* f32[T,32] (row stride 32) of 2 ranks gathered by NCCL into [2][part] (scratch), then summed in rank order */
    llmc_gpu_all_gather(gpu, T, 32, 49152, 32, 262144);
    llmc_gpu_launch(gpu, 1, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{196608, T}}); /* k1_all_reduce */
    if (st->n_nodes == 14)
        return;
    /* node 14: %l0.x.1, %l1.h = add_rmsnorm(%l0.x, %l0.d, @layers.1.attn_norm) : [T,32] */
    llmc_gpu_launch(gpu, 11, T, 1, 1, 128, 0, &(const LlmcKernelOffsets){{131072, 196608, 0, 8704, 65536}}); /* k11_add_rmsnorm */
    if (st->n_nodes == 15)
        return;
    /* node 15: %l1.q.merged = matmul(%l1.h, @layers.1.wq+layers.1.wk+layers.1.wv) : [T,32] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 19, 16, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 131072, 65536, 8832}}); /* k19_gemv_b1 */
    /* node 15: %l1.q.merged = matmul(%l1.h, @layers.1.wq+layers.1.wk+layers.1.wv) : [T,32] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 18, 16, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 131072, 65536, 8832}}); /* k18_gemv */
    /* node 15: %l1.q.merged = matmul(%l1.h, @layers.1.wq+layers.1.wk+layers.1.wv) : [T,32] (variant) */
    if (T > 8)
        llmc_gpu_launch(gpu, 14, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 131072, 65536, 8832}}); /* k14_to_half */
    /* node 15: %l1.q.merged = matmul(%l1.h, @layers.1.wq+layers.1.wk+layers.1.wv) : [T,32] (variant) */
    if (T > 8)
        llmc_gpu_launch(gpu, 5, (T + 63) / 64, 1, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 131072, 65536, 8832}}); /* k5_gemm_wide */
    if (st->n_nodes == 16)
        return;
    /* node 19: %l1.q.1 = rope_kv_write(%l1.q, %l1.k, %l1.v, %positions, %slots) : [T,16] */
    llmc_gpu_launch(gpu, 6, T, 3, 1, 4, 0, &(const LlmcKernelOffsets){{131072, 131136, 131168, 1, 65536}}); /* k6_rope_kv_write */
    if (st->n_nodes == 20)
        return;
    /* node 20: %l1.a = paged_attention(%l1.q.1, %positions) : [T,16] (variant) */
    if (T <= 64)
        llmc_gpu_launch(gpu, 7, T, 1, 16, 128, 0, &(const LlmcKernelOffsets){{65536, 98304, 1}}); /* k7_paged_attention_dec */
    /* node 20: %l1.a = paged_attention(%l1.q.1, %positions) : [T,16] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 8, T, 1, 1, 128, 0, &(const LlmcKernelOffsets){{65536, 98304, 1}}); /* k8_paged_attention */
    if (st->n_nodes == 21)
        return;
    /* node 21: %l1.a.rows = select_rows(%l1.a, %out_rows) : [O,16] (variant) */
    if (!same_rows)
        llmc_gpu_launch(gpu, 20, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{98304}}); /* k20_select_rows_gather */
    /* node 21: %l1.a.rows = select_rows(%l1.a, %out_rows) : [O,16] (variant) */
    if (!same_rows)
        llmc_gpu_launch(gpu, 21, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{98304}}); /* k21_select_rows_back */
    if (st->n_nodes == 22)
        return;
    /* node 22: %l0.x.1.rows = select_rows(%l0.x.1, %out_rows) : [O,32] (variant) */
    if (!same_rows)
        llmc_gpu_launch(gpu, 22, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0}}); /* k22_select_rows_gather */
    /* node 22: %l0.x.1.rows = select_rows(%l0.x.1, %out_rows) : [O,32] (variant) */
    if (!same_rows)
        llmc_gpu_launch(gpu, 23, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0}}); /* k23_select_rows_back */
    if (st->n_nodes == 23)
        return;
    /* node 23: %l1.o.partial = matmul(%l1.a.rows, @layers.1.wo) : [O,32] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 10, 8, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 131072, 98304, 10880}}); /* k10_gemv_b1 */
    /* node 23: %l1.o.partial = matmul(%l1.a.rows, @layers.1.wo) : [O,32] (variant) */
    if (O > 1)
        llmc_gpu_launch(gpu, 9, 8, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 131072, 98304, 10880}}); /* k9_gemv */
    if (st->n_nodes == 24)
        return;
    /* node 24: %l1.o = all_reduce(%l1.o.partial) : [O,32] */
    /* f32[O,32] (row stride 32) of 2 ranks gathered by NCCL into [2][part] (scratch), then summed in rank order */
    llmc_gpu_all_gather(gpu, O, 32, 131072, 32, 262144);
    llmc_gpu_launch(gpu, 1, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{65536, O}}); /* k1_all_reduce */
    if (st->n_nodes == 25)
        return;
    /* node 25: %l1.x, %l1.h.1 = add_rmsnorm(%l0.x.1.rows, %l1.o, @layers.1.ffn_norm) : [O,32] */
    llmc_gpu_launch(gpu, 11, O, 1, 1, 128, 0, &(const LlmcKernelOffsets){{0, 65536, 131072, 11904, 196608}}); /* k11_add_rmsnorm */
    if (st->n_nodes == 26)
        return;
    /* node 26: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,24] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 13, 24, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 196608, 12032}}); /* k13_gemv_b1 */
    /* node 26: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,24] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 12, 24, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 196608, 12032}}); /* k12_gemv */
    /* node 26: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,24] (variant) */
    if (O > 8)
        llmc_gpu_launch(gpu, 14, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 0, 196608, 12032}}); /* k14_to_half */
    /* node 26: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,24] (variant) */
    if (O > 8)
        llmc_gpu_launch(gpu, 15, (O + 63) / 64, 1, 1, 128, 61440, &(const LlmcKernelOffsets){{O, 0, 196608, 12032}}); /* k15_gemm_wide */
    if (st->n_nodes == 27)
        return;
    /* node 27: %l1.d.partial = matmul(%l1.f, @layers.1.w2) : [O,32] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 17, 4, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 49152, 0, 15104}}); /* k17_gemv_b1 */
    /* node 27: %l1.d.partial = matmul(%l1.f, @layers.1.w2) : [O,32] (variant) */
    if (O > 1)
        llmc_gpu_launch(gpu, 16, 4, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 49152, 0, 15104}}); /* k16_gemv */
    if (st->n_nodes == 28)
        return;
    /* node 28: %l1.d = all_reduce(%l1.d.partial) : [O,32] */
    /* f32[O,32] (row stride 32) of 2 ranks gathered by NCCL into [2][part] (scratch), then summed in rank order */
    llmc_gpu_all_gather(gpu, O, 32, 49152, 32, 262144);
    llmc_gpu_launch(gpu, 1, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{196608, O}}); /* k1_all_reduce */
    if (st->n_nodes == 29)
        return;
    /* node 29: %l1.x.1, %h = add_rmsnorm(%l1.x, %l1.d, @norm) : [O,32] */
    llmc_gpu_launch(gpu, 11, O, 1, 1, 128, 0, &(const LlmcKernelOffsets){{131072, 196608, 0, 16640, 65536}}); /* k11_add_rmsnorm */
    if (st->n_nodes == 30)
        return;
    /* node 30: %logits.part = matmul(%h, @output) : [O,12] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 25, 6, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 65536, 16768}}); /* k25_gemv_b1 */
    /* node 30: %logits.part = matmul(%h, @output) : [O,12] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 24, 6, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 65536, 16768}}); /* k24_gemv */
    /* node 30: %logits.part = matmul(%h, @output) : [O,12] (variant) */
    if (O > 8)
        llmc_gpu_launch(gpu, 14, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 0, 65536, 16768}}); /* k14_to_half */
    /* node 30: %logits.part = matmul(%h, @output) : [O,12] (variant) */
    if (O > 8)
        llmc_gpu_launch(gpu, 26, (O + 63) / 64, 1, 1, 128, 61440, &(const LlmcKernelOffsets){{O, 0, 65536, 16768}}); /* k26_gemm_wide */
    if (st->n_nodes == 31)
        return;
    /* node 31: %logits = all_gather(%logits.part) : [O,24] */
    /* f32[O,12] (row stride 12) of 2 ranks gathered by NCCL into [2][part] (scratch), then put in place */
    llmc_gpu_all_gather(gpu, O, 12, 0, 12, 262144);
    llmc_gpu_launch(gpu, 27, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O}}); /* k27_all_gather */
    if (st->n_nodes == 32)
        return;
    /* the token of every output row: argmax or a draw */
    if (O)
        llmc_gpu_launch(gpu, 28, O, 1, 1, 1024, 0, &(const LlmcKernelOffsets){{0}}); /* k28_sample */
}
