static void forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    LlmcGpu *gpu = ex->gpu;
    const uint32_t T = (uint32_t)st->n_tokens, O = (uint32_t)st->n_out;
    (void)tid;
    (void)nth;
    (void)O;
    /* the image has wgmma: its variants replace the mma.sync ones */
    const int wg = (llmc_gpu_features(gpu) & LLMC_GPU_FEAT_WGMMA) != 0;
    /* node 0: %x = embedding(@tok_embeddings, %tokens) : [T,256] */
    llmc_gpu_launch(gpu, 0, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0, 0}}); /* k0_embedding */
    if (st->n_nodes == 1)
        return;
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 2, 64, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k2_gemv_b1 */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 1, 64, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k1_gemv */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 3, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k3_rmsnorm_half */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 4, (T + 15) / 16, 2, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k4_gemm_q */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 5, (T + 31) / 32, 2, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k5_gemm_q */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 6, (T + 63) / 64, 2, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k6_gemm_q */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 7, 16, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k7_dequant */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 8, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k8_rmsnorm_half */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 9, (T + 63) / 64, 4, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k9_gemm_wide */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,512] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 10, (T + 63) / 64, 4, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 524288, 0, 263168, 262144, 1572864, 0}}); /* k10_gemm_wg */
    if (st->n_nodes == 2)
        return;
    /* node 5: %l0.q.1 = rope_kv_write(%l0.q, %l0.k, %l0.v, %positions, %slots) : [T,256] (variant) */
    if (T > 1)
        llmc_gpu_launch(gpu, 11, T, 12, 1, 16, 0, &(const LlmcKernelOffsets){{524288, 525312, 525824, 0, 1572864}}); /* k11_rope_kv_write */
    if (st->n_nodes == 6)
        return;
    /* node 6: %l0.a = paged_attention(%l0.q.1, %positions) : [T,256] (variant) */
    if (T <= 64)
        llmc_gpu_launch(gpu, 12, T, 4, 16, 128, 0, &(const LlmcKernelOffsets){{1572864, 524288, 0}}); /* k12_paged_attention_dec */
    /* node 6: %l0.a = paged_attention(%l0.q.1, %positions) : [T,256] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 13, (T + 63) / 64, 8, 1, 128, 20480, &(const LlmcKernelOffsets){{1572864, 524288, 0}}); /* k13_flash_attention */
    if (st->n_nodes == 7)
        return;
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 15, 16, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k15_gemv_b1 */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 14, 32, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k14_gemv */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 16, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k16_to_half */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 17, (T + 15) / 16, 1, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k17_gemm_q */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 18, (T + 31) / 32, 1, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k18_gemm_q */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 19, (T + 63) / 64, 1, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k19_gemm_q */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 20, 8, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k20_dequant */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 21, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k21_to_half */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 22, (T + 63) / 64, 2, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k22_gemm_wide */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,256] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 23, (T + 63) / 64, 2, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 1048576, 524288, 330752, 0}}); /* k23_gemm_wg */
    if (st->n_nodes == 8)
        return;
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 25, 8, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k25_b1_prenorm */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 26, 64, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k26_gemv_b1 */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 24, 128, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k24_gemv */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 3, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k3_rmsnorm_half */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 27, (T + 15) / 16, 4, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k27_gemm_q */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 28, (T + 31) / 32, 4, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k28_gemm_q */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 29, (T + 63) / 64, 4, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k29_gemm_q */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 30, 32, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k30_dequant */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 8, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k8_rmsnorm_half */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 31, (T + 63) / 64, 8, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k31_gemm_wide */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,512] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 32, (T + 63) / 64, 8, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 0, 1048576, 365568, 364544}}); /* k32_gemm_wg */
    if (st->n_nodes == 9)
        return;
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 34, 32, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k34_gemv_b1 */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 33, 64, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k33_gemv */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 35, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k35_to_half */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 36, (T + 15) / 16, 2, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k36_gemm_q */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 37, (T + 31) / 32, 2, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k37_gemm_q */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 38, (T + 63) / 64, 2, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k38_gemm_q */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 39, 16, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k39_dequant */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 40, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k40_to_half */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 41, (T + 63) / 64, 2, 2, 128, 61440, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k41_gemm_wide_splitk */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 42, (T * 256 + 255) / 256, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k42_gemm_reduce */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,256] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 43, (T + 63) / 64, 2, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 1572864, 0, 500736, 1048576}}); /* k43_gemm_wg */
    if (st->n_nodes == 10)
        return;
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 2, 64, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k2_gemv_b1 */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 1, 64, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k1_gemv */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 3, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k3_rmsnorm_half */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 4, (T + 15) / 16, 2, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k4_gemm_q */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 5, (T + 31) / 32, 2, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k5_gemm_q */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 6, (T + 63) / 64, 2, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k6_gemm_q */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 7, 16, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k7_dequant */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 8, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k8_rmsnorm_half */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 9, (T + 63) / 64, 4, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k9_gemm_wide */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,512] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 10, (T + 63) / 64, 4, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 0, 1572864, 569344, 568320, 1048576, 1}}); /* k10_gemm_wg */
    if (st->n_nodes == 11)
        return;
    /* node 14: %l1.q.1 = rope_kv_write(%l1.q, %l1.k, %l1.v, %positions, %slots) : [T,256] (variant) */
    if (T > 1)
        llmc_gpu_launch(gpu, 11, T, 12, 1, 16, 0, &(const LlmcKernelOffsets){{0, 1024, 1536, 1, 1048576}}); /* k11_rope_kv_write */
    if (st->n_nodes == 15)
        return;
    /* node 15: %l1.a = paged_attention(%l1.q.1, %positions) : [T,256] (variant) */
    if (T <= 64)
        llmc_gpu_launch(gpu, 12, T, 4, 16, 128, 0, &(const LlmcKernelOffsets){{1048576, 0, 1}}); /* k12_paged_attention_dec */
    /* node 15: %l1.a = paged_attention(%l1.q.1, %positions) : [T,256] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 13, (T + 63) / 64, 8, 1, 128, 20480, &(const LlmcKernelOffsets){{1048576, 0, 1}}); /* k13_flash_attention */
    if (st->n_nodes == 16)
        return;
    /* node 16: %l1.a.rows = select_rows(%l1.a, %out_rows) : [O,256] */
    llmc_gpu_launch(gpu, 44, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0, 524288}}); /* k44_select_rows */
    if (st->n_nodes == 17)
        return;
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 46, 16, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k46_gemv_b1 */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 45, 32, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k45_gemv */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O > 8 && O <= 64)
        llmc_gpu_launch(gpu, 16, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k16_to_half */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O > 8 && O <= 16)
        llmc_gpu_launch(gpu, 47, (O + 15) / 16, 1, 1, 128, 27648, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k47_gemm_q */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O > 16 && O <= 32)
        llmc_gpu_launch(gpu, 48, (O + 31) / 32, 1, 1, 128, 55296, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k48_gemm_q */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O > 32 && O <= 64)
        llmc_gpu_launch(gpu, 49, (O + 63) / 64, 1, 1, 128, 73728, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k49_gemm_q */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 20, 8, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k20_dequant */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 21, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k21_to_half */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 50, (O + 63) / 64, 2, 1, 128, 61440, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k50_gemm_wide */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,256] (variant) */
    if (O > 64 && wg)
        llmc_gpu_launch(gpu, 51, (O + 63) / 64, 2, 1, 128, 99328, &(const LlmcKernelOffsets){{O, 0, 524288, 636928}}); /* k51_gemm_wg */
    if (st->n_nodes == 18)
        return;
    /* node 18: %l0.x.1.rows = select_rows(%l0.x.1, %out_rows) : [O,256] */
    llmc_gpu_launch(gpu, 44, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{1572864, 524288}}); /* k44_select_rows */
    if (st->n_nodes == 19)
        return;
    /* node 19: %l1.x, %l1.h.1 = add_rmsnorm(%l0.x.1.rows, %l1.o, @layers.1.ffn_norm) : [O,256] */
    llmc_gpu_launch(gpu, 52, O, 1, 1, 128, 0, &(const LlmcKernelOffsets){{524288, 0, 1048576, 670720, 1572864}}); /* k52_add_rmsnorm */
    if (st->n_nodes == 20)
        return;
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 54, 64, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k54_gemv_b1 */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 53, 128, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k53_gemv */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O > 8 && O <= 64)
        llmc_gpu_launch(gpu, 16, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k16_to_half */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O > 8 && O <= 16)
        llmc_gpu_launch(gpu, 27, (O + 15) / 16, 4, 1, 128, 27648, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k27_gemm_q */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O > 16 && O <= 32)
        llmc_gpu_launch(gpu, 28, (O + 31) / 32, 4, 1, 128, 55296, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k28_gemm_q */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O > 32 && O <= 64)
        llmc_gpu_launch(gpu, 29, (O + 63) / 64, 4, 1, 128, 73728, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k29_gemm_q */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 30, 32, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k30_dequant */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 21, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k21_to_half */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 31, (O + 63) / 64, 8, 1, 128, 61440, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k31_gemm_wide */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,512] (variant) */
    if (O > 64 && wg)
        llmc_gpu_launch(gpu, 32, (O + 63) / 64, 8, 1, 128, 99328, &(const LlmcKernelOffsets){{O, 0, 1572864, 671744}}); /* k32_gemm_wg */
    if (st->n_nodes == 21)
        return;
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 34, 32, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k34_gemv_b1 */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 33, 64, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k33_gemv */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 8 && O <= 64)
        llmc_gpu_launch(gpu, 35, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k35_to_half */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 8 && O <= 16)
        llmc_gpu_launch(gpu, 36, (O + 15) / 16, 2, 1, 128, 27648, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k36_gemm_q */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 16 && O <= 32)
        llmc_gpu_launch(gpu, 37, (O + 31) / 32, 2, 1, 128, 55296, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k37_gemm_q */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 32 && O <= 64)
        llmc_gpu_launch(gpu, 38, (O + 63) / 64, 2, 1, 128, 73728, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k38_gemm_q */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 39, 16, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k39_dequant */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 40, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k40_to_half */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 41, (O + 63) / 64, 2, 2, 128, 61440, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k41_gemm_wide_splitk */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 42, (O * 256 + 255) / 256, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k42_gemm_reduce */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,256] (variant) */
    if (O > 64 && wg)
        llmc_gpu_launch(gpu, 43, (O + 63) / 64, 2, 1, 128, 99328, &(const LlmcKernelOffsets){{O, 1572864, 0, 806912, 1048576}}); /* k43_gemm_wg */
    if (st->n_nodes == 22)
        return;
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 56, 256, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 874496}}); /* k56_gemv_b1 */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 55, 256, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 874496}}); /* k55_gemv */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 8 && O <= 64)
        llmc_gpu_launch(gpu, 57, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 874496}}); /* k57_rmsnorm_half */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 8 && O <= 16)
        llmc_gpu_launch(gpu, 58, (O + 15) / 16, 2, 1, 128, 15360, &(const LlmcKernelOffsets){{O, 1572864, 0, 874496}}); /* k58_gemm_q */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 16 && O <= 32)
        llmc_gpu_launch(gpu, 59, (O + 31) / 32, 2, 1, 128, 30720, &(const LlmcKernelOffsets){{O, 1572864, 0, 874496}}); /* k59_gemm_q */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 32 && O <= 64)
        llmc_gpu_launch(gpu, 60, (O + 63) / 64, 2, 1, 128, 40960, &(const LlmcKernelOffsets){{O, 1572864, 0, 874496}}); /* k60_gemm_q */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 61, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 1572864, 0, 874496}}); /* k61_rmsnorm_half */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 62, (O + 63) / 64, 4, 1, 128, 61440, &(const LlmcKernelOffsets){{O, 1572864, 0, 874496}}); /* k62_gemm_wide */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 64 && wg)
        llmc_gpu_launch(gpu, 63, (O + 63) / 64, 4, 1, 128, 99328, &(const LlmcKernelOffsets){{O, 1572864, 0, 874496}}); /* k63_gemm_wg */
    if (st->n_nodes == 23)
        return;
    /* the token of every output row: argmax or a draw */
    if (O)
        llmc_gpu_launch(gpu, 64, O, 1, 1, 1024, 0, &(const LlmcKernelOffsets){{0}}); /* k64_sample */
}
