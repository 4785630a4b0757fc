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
    (void)wg;
    /* node 0: %x = embedding(@tok_embeddings, %tokens) : [T,64] */
    llmc_gpu_launch(gpu, 0, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0, 0}}); /* k0_embedding */
    if (st->n_nodes == 1)
        return;
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,128] */
    llmc_gpu_launch(gpu, 1, (T + 7) / 8, 64, 1, 128, 0, &(const LlmcKernelOffsets){{T, 131072, 0, 65792, 65536}}); /* k1_gemv */
    if (st->n_nodes == 2)
        return;
    /* node 5: %l0.q.1 = rope_kv_write(%l0.q, %l0.k, %l0.v, %positions, %slots) : [T,64] */
    llmc_gpu_launch(gpu, 2, T, 12, 1, 4, 0, &(const LlmcKernelOffsets){{131072, 131328, 131456, 0, 393216}}); /* k2_rope_kv_write */
    if (st->n_nodes == 6)
        return;
    /* node 6: %l0.a = paged_attention(%l0.q.1, %positions) : [T,64] */
    llmc_gpu_launch(gpu, 3, T, 4, 16, 128, 0, &(const LlmcKernelOffsets){{393216, 131072, 0}}); /* k3_paged_attention_dec */
    if (st->n_nodes == 7)
        return;
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,64] */
    llmc_gpu_launch(gpu, 4, (T + 7) / 8, 32, 1, 128, 0, &(const LlmcKernelOffsets){{T, 262144, 131072, 82176, 0}}); /* k4_gemv */
    if (st->n_nodes == 8)
        return;
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,172] */
    llmc_gpu_launch(gpu, 5, (T + 7) / 8, 172, 1, 128, 0, &(const LlmcKernelOffsets){{T, 393216, 262144, 90624, 90368}}); /* k5_gemv */
    if (st->n_nodes == 9)
        return;
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,64] */
    llmc_gpu_launch(gpu, 6, (T + 7) / 8, 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 393216, 134656, 262144}}); /* k6_gemv */
    if (st->n_nodes == 10)
        return;
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,128] */
    llmc_gpu_launch(gpu, 1, (T + 7) / 8, 64, 1, 128, 0, &(const LlmcKernelOffsets){{T, 131072, 0, 156928, 156672}}); /* k1_gemv */
    if (st->n_nodes == 11)
        return;
    /* node 14: %l1.q.1 = rope_kv_write(%l1.q, %l1.k, %l1.v, %positions, %slots) : [T,64] */
    llmc_gpu_launch(gpu, 2, T, 12, 1, 4, 0, &(const LlmcKernelOffsets){{131072, 131328, 131456, 1, 393216}}); /* k2_rope_kv_write */
    if (st->n_nodes == 15)
        return;
    /* node 15: %l1.a = paged_attention(%l1.q.1, %positions) : [T,64] */
    llmc_gpu_launch(gpu, 3, T, 4, 16, 128, 0, &(const LlmcKernelOffsets){{393216, 131072, 1}}); /* k3_paged_attention_dec */
    if (st->n_nodes == 16)
        return;
    /* node 16: %l1.x = matmul_fused(%l1.a, @layers.1.wo, %l0.x.1) : [T,64] */
    llmc_gpu_launch(gpu, 4, (T + 7) / 8, 32, 1, 128, 0, &(const LlmcKernelOffsets){{T, 262144, 131072, 173312, 0}}); /* k4_gemv */
    if (st->n_nodes == 17)
        return;
    /* node 17: %l1.f = matmul_fused(%l1.x, @layers.1.w1+layers.1.w3, @layers.1.ffn_norm) : [T,172] */
    llmc_gpu_launch(gpu, 5, (T + 7) / 8, 172, 1, 128, 0, &(const LlmcKernelOffsets){{T, 393216, 262144, 181760, 181504}}); /* k5_gemv */
    if (st->n_nodes == 18)
        return;
    /* node 18: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [T,64] */
    llmc_gpu_launch(gpu, 6, (T + 7) / 8, 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 393216, 225792, 262144}}); /* k6_gemv */
    if (st->n_nodes == 19)
        return;
    /* node 19: %l2.q.merged = matmul_fused(%l1.x.1, @layers.2.wq+layers.2.wk+layers.2.wv, @layers.2.attn_norm) : [T,128] */
    llmc_gpu_launch(gpu, 1, (T + 7) / 8, 64, 1, 128, 0, &(const LlmcKernelOffsets){{T, 131072, 0, 248064, 247808}}); /* k1_gemv */
    if (st->n_nodes == 20)
        return;
    /* node 23: %l2.q.1 = rope_kv_write(%l2.q, %l2.k, %l2.v, %positions, %slots) : [T,64] */
    llmc_gpu_launch(gpu, 2, T, 12, 1, 4, 0, &(const LlmcKernelOffsets){{131072, 131328, 131456, 2, 393216}}); /* k2_rope_kv_write */
    if (st->n_nodes == 24)
        return;
    /* node 24: %l2.a = paged_attention(%l2.q.1, %positions) : [T,64] */
    llmc_gpu_launch(gpu, 3, T, 4, 16, 128, 0, &(const LlmcKernelOffsets){{393216, 131072, 2}}); /* k3_paged_attention_dec */
    if (st->n_nodes == 25)
        return;
    /* node 25: %l2.x = matmul_fused(%l2.a, @layers.2.wo, %l1.x.1) : [T,64] */
    llmc_gpu_launch(gpu, 4, (T + 7) / 8, 32, 1, 128, 0, &(const LlmcKernelOffsets){{T, 262144, 131072, 264448, 0}}); /* k4_gemv */
    if (st->n_nodes == 26)
        return;
    /* node 26: %l2.f = matmul_fused(%l2.x, @layers.2.w1+layers.2.w3, @layers.2.ffn_norm) : [T,172] */
    llmc_gpu_launch(gpu, 5, (T + 7) / 8, 172, 1, 128, 0, &(const LlmcKernelOffsets){{T, 393216, 262144, 272896, 272640}}); /* k5_gemv */
    if (st->n_nodes == 27)
        return;
    /* node 27: %l2.x.1 = matmul_fused(%l2.f, @layers.2.w2, %l2.x) : [T,64] */
    llmc_gpu_launch(gpu, 6, (T + 7) / 8, 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 393216, 316928, 262144}}); /* k6_gemv */
    if (st->n_nodes == 28)
        return;
    /* node 28: %l3.q.merged = matmul_fused(%l2.x.1, @layers.3.wq+layers.3.wk+layers.3.wv, @layers.3.attn_norm) : [T,128] */
    llmc_gpu_launch(gpu, 1, (T + 7) / 8, 64, 1, 128, 0, &(const LlmcKernelOffsets){{T, 131072, 0, 339200, 338944}}); /* k1_gemv */
    if (st->n_nodes == 29)
        return;
    /* node 32: %l3.q.1 = rope_kv_write(%l3.q, %l3.k, %l3.v, %positions, %slots) : [T,64] */
    llmc_gpu_launch(gpu, 2, T, 12, 1, 4, 0, &(const LlmcKernelOffsets){{131072, 131328, 131456, 3, 393216}}); /* k2_rope_kv_write */
    if (st->n_nodes == 33)
        return;
    /* node 33: %l3.a = paged_attention(%l3.q.1, %positions) : [T,64] */
    llmc_gpu_launch(gpu, 3, T, 4, 16, 128, 0, &(const LlmcKernelOffsets){{393216, 131072, 3}}); /* k3_paged_attention_dec */
    if (st->n_nodes == 34)
        return;
    /* node 34: %l3.x = matmul_fused(%l3.a, @layers.3.wo, %l2.x.1) : [T,64] */
    llmc_gpu_launch(gpu, 4, (T + 7) / 8, 32, 1, 128, 0, &(const LlmcKernelOffsets){{T, 262144, 131072, 355584, 0}}); /* k4_gemv */
    if (st->n_nodes == 35)
        return;
    /* node 35: %l3.f = matmul_fused(%l3.x, @layers.3.w1+layers.3.w3, @layers.3.ffn_norm) : [T,172] */
    llmc_gpu_launch(gpu, 5, (T + 7) / 8, 172, 1, 128, 0, &(const LlmcKernelOffsets){{T, 393216, 262144, 364032, 363776}}); /* k5_gemv */
    if (st->n_nodes == 36)
        return;
    /* node 36: %l3.x.1 = matmul_fused(%l3.f, @layers.3.w2, %l3.x) : [T,64] */
    llmc_gpu_launch(gpu, 6, (T + 7) / 8, 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 393216, 408064, 262144}}); /* k6_gemv */
    if (st->n_nodes == 37)
        return;
    /* node 37: %l4.q.merged = matmul_fused(%l3.x.1, @layers.4.wq+layers.4.wk+layers.4.wv, @layers.4.attn_norm) : [T,128] */
    llmc_gpu_launch(gpu, 1, (T + 7) / 8, 64, 1, 128, 0, &(const LlmcKernelOffsets){{T, 131072, 0, 430336, 430080}}); /* k1_gemv */
    if (st->n_nodes == 38)
        return;
    /* node 41: %l4.q.1 = rope_kv_write(%l4.q, %l4.k, %l4.v, %positions, %slots) : [T,64] */
    llmc_gpu_launch(gpu, 2, T, 12, 1, 4, 0, &(const LlmcKernelOffsets){{131072, 131328, 131456, 4, 393216}}); /* k2_rope_kv_write */
    if (st->n_nodes == 42)
        return;
    /* node 42: %l4.a = paged_attention(%l4.q.1, %positions) : [T,64] */
    llmc_gpu_launch(gpu, 3, T, 4, 16, 128, 0, &(const LlmcKernelOffsets){{393216, 131072, 4}}); /* k3_paged_attention_dec */
    if (st->n_nodes == 43)
        return;
    /* node 43: %l4.a.rows = select_rows(%l4.a, %out_rows) : [O,64] (variant) */
    if (!same_rows)
        llmc_gpu_launch(gpu, 7, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{131072}}); /* k7_select_rows_gather */
    /* node 43: %l4.a.rows = select_rows(%l4.a, %out_rows) : [O,64] (variant) */
    if (!same_rows)
        llmc_gpu_launch(gpu, 8, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{131072}}); /* k8_select_rows_back */
    if (st->n_nodes == 44)
        return;
    /* node 44: %l3.x.1.rows = select_rows(%l3.x.1, %out_rows) : [O,64] (variant) */
    if (!same_rows)
        llmc_gpu_launch(gpu, 7, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0}}); /* k7_select_rows_gather */
    /* node 44: %l3.x.1.rows = select_rows(%l3.x.1, %out_rows) : [O,64] (variant) */
    if (!same_rows)
        llmc_gpu_launch(gpu, 8, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0}}); /* k8_select_rows_back */
    if (st->n_nodes == 45)
        return;
    /* node 45: %l4.x = matmul_fused(%l4.a.rows, @layers.4.wo, %l3.x.1.rows) : [O,64] */
    llmc_gpu_launch(gpu, 4, (O + 7) / 8, 32, 1, 128, 0, &(const LlmcKernelOffsets){{O, 262144, 131072, 446720, 0}}); /* k4_gemv */
    if (st->n_nodes == 46)
        return;
    /* node 46: %l4.f = matmul_fused(%l4.x, @layers.4.w1+layers.4.w3, @layers.4.ffn_norm) : [O,172] */
    llmc_gpu_launch(gpu, 5, (O + 7) / 8, 172, 1, 128, 0, &(const LlmcKernelOffsets){{O, 393216, 262144, 455168, 454912}}); /* k5_gemv */
    if (st->n_nodes == 47)
        return;
    /* node 47: %l4.x.1 = matmul_fused(%l4.f, @layers.4.w2, %l4.x) : [O,64] */
    llmc_gpu_launch(gpu, 6, (O + 7) / 8, 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 393216, 499200, 262144}}); /* k6_gemv */
    if (st->n_nodes == 48)
        return;
    /* node 48: %logits = matmul_fused(%l4.x.1, @tok_embeddings, @norm) : [O,512] */
    llmc_gpu_launch(gpu, 9, (O + 7) / 8, 256, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 0, 521216}}); /* k9_gemv */
    if (st->n_nodes == 49)
        return;
    /* the token of every output row: argmax or a draw */
    if (O)
        llmc_gpu_launch(gpu, 10, O, 1, 1, 1024, 0, &(const LlmcKernelOffsets){{0}}); /* k10_sample */
}
