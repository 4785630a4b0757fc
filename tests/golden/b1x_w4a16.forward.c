static void forward(const LlmcExec *ex, const LlmcStep *st, int tid, int nth)
{
    LlmcGpu *gpu = ex->gpu;
    const uint32_t T = (uint32_t)st->n_tokens, O = (uint32_t)st->n_out;
    (void)tid;
    (void)nth;
    (void)O;
    /* the image has wgmma: its variants replace the mma.sync ones */
    const int wg = (llmc_gpu_features(gpu) & LLMC_GPU_FEAT_WGMMA) != 0;
    /* node 0: %x = embedding(@tok_embeddings, %tokens) : [T,2304] */
    llmc_gpu_launch(gpu, 0, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0, 0}}); /* k0_embedding */
    if (st->n_nodes == 1)
        return;
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 2, 480, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k2_gemv_b1 */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 1, 480, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k1_gemv */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 3, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k3_rmsnorm_half */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 4, (T + 15) / 16, 135, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k4_gemm_q */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 5, (T + 31) / 32, 135, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k5_gemm_q */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 6, (T + 63) / 64, 135, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k6_gemm_q */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 7, 1080, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k7_dequant */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 8, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k8_rmsnorm_half */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 9, (T + 63) / 64, 30, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k9_gemm_wide */
    /* node 1: %l0.q.merged = matmul_fused(%x, @layers.0.wq+layers.0.wk+layers.0.wv, @layers.0.attn_norm) : [T,3840] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 10, (T + 63) / 64, 30, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 4718592, 0, 2368512, 2359296, 12582912, 0}}); /* k10_gemm_wg */
    if (st->n_nodes == 2)
        return;
    /* node 5: %l0.q.1 = rope_kv_write(%l0.q, %l0.k, %l0.v, %positions, %slots) : [T,2304] (variant) */
    if (T > 1)
        llmc_gpu_launch(gpu, 11, T, 24, 1, 64, 0, &(const LlmcKernelOffsets){{4718592, 4727808, 4730880, 0, 12582912}}); /* k11_rope_kv_write */
    if (st->n_nodes == 6)
        return;
    /* node 6: %l0.a = paged_attention(%l0.q.1, %positions) : [T,2304] (variant) */
    if (T > 1 && T <= 64)
        llmc_gpu_launch(gpu, 12, T, 6, 16, 128, 0, &(const LlmcKernelOffsets){{12582912, 4718592, 0}}); /* k12_paged_attention_tc */
    /* node 6: %l0.a = paged_attention(%l0.q.1, %positions) : [T,2304] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 13, T, 18, 16, 128, 0, &(const LlmcKernelOffsets){{12582912, 4718592, 0}}); /* k13_paged_attention_dec */
    /* node 6: %l0.a = paged_attention(%l0.q.1, %positions) : [T,2304] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 14, (T + 63) / 64, 18, 1, 128, 69632, &(const LlmcKernelOffsets){{12582912, 4718592, 0}}); /* k14_flash_attention */
    if (st->n_nodes == 7)
        return;
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 16, 144, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k16_gemv_b1 */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 15, 288, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k15_gemv */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 17, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k17_to_half */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 18, (T + 15) / 16, 81, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k18_gemm_q */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 19, (T + 31) / 32, 81, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k19_gemm_q */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 20, (T + 63) / 64, 81, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k20_gemm_q */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 21, 648, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k21_dequant */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 22, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k22_to_half */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 23, (T + 63) / 64, 18, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k23_gemm_wide */
    /* node 7: %l0.x = matmul_fused(%l0.a, @layers.0.wo, %x) : [T,2304] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 24, (T + 63) / 64, 18, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 9437184, 4718592, 6930432, 0}}); /* k24_gemm_wg */
    if (st->n_nodes == 8)
        return;
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 26, 8, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k26_b1_prenorm */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 27, 1088, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k27_gemv_b1 */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 25, 2176, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k25_gemv */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 3, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k3_rmsnorm_half */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 28, (T + 15) / 16, 528, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k28_gemm_q */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 29, (T + 31) / 32, 264, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k29_gemm_q */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 30, (T + 63) / 64, 264, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k30_gemm_q */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 31, 4896, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k31_dequant */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 8, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k8_rmsnorm_half */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 32, (T + 127) / 128, 136, 1, 128, 81920, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k32_gemm_wide */
    /* node 8: %l0.f = matmul_fused(%l0.x, @layers.0.w1+layers.0.w3, @layers.0.ffn_norm) : [T,8704] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 33, (T + 127) / 128, 136, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 14155776, 9437184, 9676800, 9667584}}); /* k33_gemm_wg */
    if (st->n_nodes == 9)
        return;
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 35, 288, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k35_gemv_b1 */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 34, 576, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k34_gemv */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 36, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k36_to_half */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 37, (T + 15) / 16, 306, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k37_gemm_q */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 38, (T + 31) / 32, 264, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k38_gemm_q */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 39, (T + 63) / 64, 264, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k39_gemm_q */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 40, 2448, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k40_dequant */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 41, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k41_to_half */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 42, (T + 63) / 64, 18, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k42_gemm_wide */
    /* node 9: %l0.x.1 = matmul_fused(%l0.f, @layers.0.w2, %l0.x) : [T,2304] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 43, (T + 63) / 64, 18, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 0, 14155776, 30357504, 9437184}}); /* k43_gemm_wg */
    if (st->n_nodes == 10)
        return;
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 2, 480, 1, 1, 128, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k2_gemv_b1 */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T > 1 && T <= 8)
        llmc_gpu_launch(gpu, 1, 480, (T + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k1_gemv */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T > 8 && T <= 64)
        llmc_gpu_launch(gpu, 3, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k3_rmsnorm_half */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T > 8 && T <= 16)
        llmc_gpu_launch(gpu, 4, (T + 15) / 16, 135, 1, 128, 27648, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k4_gemm_q */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T > 16 && T <= 32)
        llmc_gpu_launch(gpu, 5, (T + 31) / 32, 135, 1, 128, 55296, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k5_gemm_q */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T > 32 && T <= 64)
        llmc_gpu_launch(gpu, 6, (T + 63) / 64, 135, 1, 128, 73728, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k6_gemm_q */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 7, 1080, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k7_dequant */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 8, T, 1, 1, 256, 0, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k8_rmsnorm_half */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T > 64 && !wg)
        llmc_gpu_launch(gpu, 9, (T + 63) / 64, 30, 1, 128, 61440, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k9_gemm_wide */
    /* node 10: %l1.q.merged = matmul_fused(%l0.x.1, @layers.1.wq+layers.1.wk+layers.1.wv, @layers.1.attn_norm) : [T,3840] (variant) */
    if (T > 64 && wg)
        llmc_gpu_launch(gpu, 10, (T + 63) / 64, 30, 1, 128, 99328, &(const LlmcKernelOffsets){{T, 4718592, 0, 40707072, 40697856, 12582912, 1}}); /* k10_gemm_wg */
    if (st->n_nodes == 11)
        return;
    /* node 14: %l1.q.1 = rope_kv_write(%l1.q, %l1.k, %l1.v, %positions, %slots) : [T,2304] (variant) */
    if (T > 1)
        llmc_gpu_launch(gpu, 11, T, 24, 1, 64, 0, &(const LlmcKernelOffsets){{4718592, 4727808, 4730880, 1, 12582912}}); /* k11_rope_kv_write */
    if (st->n_nodes == 15)
        return;
    /* node 15: %l1.a = paged_attention(%l1.q.1, %positions) : [T,2304] (variant) */
    if (T > 1 && T <= 64)
        llmc_gpu_launch(gpu, 12, T, 6, 16, 128, 0, &(const LlmcKernelOffsets){{12582912, 4718592, 1}}); /* k12_paged_attention_tc */
    /* node 15: %l1.a = paged_attention(%l1.q.1, %positions) : [T,2304] (variant) */
    if (T == 1)
        llmc_gpu_launch(gpu, 13, T, 18, 16, 128, 0, &(const LlmcKernelOffsets){{12582912, 4718592, 1}}); /* k13_paged_attention_dec */
    /* node 15: %l1.a = paged_attention(%l1.q.1, %positions) : [T,2304] (variant) */
    if (T > 64)
        llmc_gpu_launch(gpu, 14, (T + 63) / 64, 18, 1, 128, 69632, &(const LlmcKernelOffsets){{12582912, 4718592, 1}}); /* k14_flash_attention */
    if (st->n_nodes == 16)
        return;
    /* node 16: %l1.a.rows = select_rows(%l1.a, %out_rows) : [O,2304] */
    llmc_gpu_launch(gpu, 44, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{4718592, 9437184}}); /* k44_select_rows */
    if (st->n_nodes == 17)
        return;
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 46, 144, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k46_gemv_b1 */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 45, 288, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k45_gemv */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O > 8 && O <= 64)
        llmc_gpu_launch(gpu, 17, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k17_to_half */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O > 8 && O <= 16)
        llmc_gpu_launch(gpu, 47, (O + 15) / 16, 81, 1, 128, 27648, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k47_gemm_q */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O > 16 && O <= 32)
        llmc_gpu_launch(gpu, 48, (O + 31) / 32, 81, 1, 128, 55296, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k48_gemm_q */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O > 32 && O <= 64)
        llmc_gpu_launch(gpu, 49, (O + 63) / 64, 81, 1, 128, 73728, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k49_gemm_q */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 21, 648, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k21_dequant */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 22, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k22_to_half */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 50, (O + 63) / 64, 18, 1, 128, 61440, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k50_gemm_wide */
    /* node 17: %l1.o = matmul(%l1.a.rows, @layers.1.wo) : [O,2304] (variant) */
    if (O > 64 && wg)
        llmc_gpu_launch(gpu, 51, (O + 63) / 64, 18, 1, 128, 99328, &(const LlmcKernelOffsets){{O, 4718592, 9437184, 45268992}}); /* k51_gemm_wg */
    if (st->n_nodes == 18)
        return;
    /* node 18: %l0.x.1.rows = select_rows(%l0.x.1, %out_rows) : [O,2304] */
    llmc_gpu_launch(gpu, 44, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{0, 9437184}}); /* k44_select_rows */
    if (st->n_nodes == 19)
        return;
    /* node 19: %l1.x, %l1.h.1 = add_rmsnorm(%l0.x.1.rows, %l1.o, @layers.1.ffn_norm) : [O,2304] */
    llmc_gpu_launch(gpu, 52, O, 1, 1, 512, 0, &(const LlmcKernelOffsets){{9437184, 4718592, 0, 48006144, 14155776}}); /* k52_add_rmsnorm */
    if (st->n_nodes == 20)
        return;
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 54, 1088, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k54_gemv_b1 */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 53, 2176, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k53_gemv */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O > 8 && O <= 64)
        llmc_gpu_launch(gpu, 17, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k17_to_half */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O > 8 && O <= 16)
        llmc_gpu_launch(gpu, 28, (O + 15) / 16, 528, 1, 128, 27648, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k28_gemm_q */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O > 16 && O <= 32)
        llmc_gpu_launch(gpu, 29, (O + 31) / 32, 264, 1, 128, 55296, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k29_gemm_q */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O > 32 && O <= 64)
        llmc_gpu_launch(gpu, 30, (O + 63) / 64, 264, 1, 128, 73728, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k30_gemm_q */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 31, 4896, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k31_dequant */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 22, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k22_to_half */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 32, (O + 127) / 128, 136, 1, 128, 81920, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k32_gemm_wide */
    /* node 20: %l1.f = matmul_fused(%l1.h.1, @layers.1.w1+layers.1.w3) : [O,8704] (variant) */
    if (O > 64 && wg)
        llmc_gpu_launch(gpu, 33, (O + 127) / 128, 136, 1, 128, 99328, &(const LlmcKernelOffsets){{O, 18874368, 14155776, 48015360}}); /* k33_gemm_wg */
    if (st->n_nodes == 21)
        return;
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 35, 288, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k35_gemv_b1 */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 34, 576, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k34_gemv */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O > 8 && O <= 64)
        llmc_gpu_launch(gpu, 36, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k36_to_half */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O > 8 && O <= 16)
        llmc_gpu_launch(gpu, 37, (O + 15) / 16, 306, 1, 128, 27648, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k37_gemm_q */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O > 16 && O <= 32)
        llmc_gpu_launch(gpu, 38, (O + 31) / 32, 264, 1, 128, 55296, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k38_gemm_q */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O > 32 && O <= 64)
        llmc_gpu_launch(gpu, 39, (O + 63) / 64, 264, 1, 128, 73728, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k39_gemm_q */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 40, 2448, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k40_dequant */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 41, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k41_to_half */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 42, (O + 63) / 64, 18, 1, 128, 61440, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k42_gemm_wide */
    /* node 21: %l1.x.1 = matmul_fused(%l1.f, @layers.1.w2, %l1.x) : [O,2304] (variant) */
    if (O > 64 && wg)
        llmc_gpu_launch(gpu, 43, (O + 63) / 64, 18, 1, 128, 99328, &(const LlmcKernelOffsets){{O, 4718592, 18874368, 68696064, 0}}); /* k43_gemm_wg */
    if (st->n_nodes == 22)
        return;
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O == 1)
        llmc_gpu_launch(gpu, 56, 256, 1, 1, 128, 0, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k56_gemv_b1 */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 1 && O <= 8)
        llmc_gpu_launch(gpu, 55, 256, (O + 7) / 8, 1, 128, 0, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k55_gemv */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 8 && O <= 64)
        llmc_gpu_launch(gpu, 57, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k57_rmsnorm_half */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 8 && O <= 16)
        llmc_gpu_launch(gpu, 58, (O + 15) / 16, 18, 1, 128, 15360, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k58_gemm_q */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 16 && O <= 32)
        llmc_gpu_launch(gpu, 59, (O + 31) / 32, 18, 1, 128, 30720, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k59_gemm_q */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 32 && O <= 64)
        llmc_gpu_launch(gpu, 60, (O + 63) / 64, 18, 1, 128, 40960, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k60_gemm_q */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 64)
        llmc_gpu_launch(gpu, 61, O, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k61_rmsnorm_half */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 62, (O + 63) / 64, 4, 4, 128, 61440, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k62_gemm_wide_splitk */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 64 && !wg)
        llmc_gpu_launch(gpu, 63, (O * 512 + 255) / 256, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k63_gemm_reduce */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 64 && wg)
        llmc_gpu_launch(gpu, 64, (O + 63) / 64, 4, 4, 128, 99328, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k64_gemm_wg_splitk */
    /* node 22: %logits = matmul_fused(%l1.x.1, @tok_embeddings, @norm) : [O,512] (variant) */
    if (O > 64 && wg)
        llmc_gpu_launch(gpu, 63, (O * 512 + 255) / 256, 1, 1, 256, 0, &(const LlmcKernelOffsets){{O, 4718592, 0, 79036416}}); /* k63_gemm_reduce */
    if (st->n_nodes == 23)
        return;
    /* the token of every output row: argmax or a draw */
    if (O)
        llmc_gpu_launch(gpu, 65, O, 1, 1, 1024, 0, &(const LlmcKernelOffsets){{0}}); /* k65_sample */
}
